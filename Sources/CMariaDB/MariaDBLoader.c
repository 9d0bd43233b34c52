#include "CMariaDB.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

struct cryptopipe_mariadb_functions cryptopipe_mariadb;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded = 0;
static char failure_text[768];

// Where Connector/C 3 is found: the soname on Linux; Homebrew's prefixes on macOS, whose loader does not search them.
static const char *const candidates[] = {
#if defined(__APPLE__)
    "libmariadb.3.dylib",
    "/opt/homebrew/lib/mariadb/libmariadb.3.dylib",
    "/opt/homebrew/lib/libmariadb.3.dylib",
    "/opt/homebrew/opt/mariadb-connector-c/lib/mariadb/libmariadb.3.dylib",
    "/usr/local/lib/mariadb/libmariadb.3.dylib",
    "/usr/local/lib/libmariadb.3.dylib",
#else
    "libmariadb.so.3",
#endif
};

#if defined(__APPLE__)
#define CRYPTOPIPE_INSTALL_HINT "brew install mariadb-connector-c"
#define CRYPTOPIPE_LIBRARY_NAME "libmariadb.3.dylib"
#else
#define CRYPTOPIPE_INSTALL_HINT "apt-get install libmariadb3, or dnf install mariadb-connector-c"
#define CRYPTOPIPE_LIBRARY_NAME "libmariadb.so.3"
#endif

static void load(void) {
    void *library = NULL;
    const char *reason = "not found";
    for (size_t index = 0; index < sizeof candidates / sizeof candidates[0] && library == NULL; index++) {
        library = dlopen(candidates[index], RTLD_NOW | RTLD_LOCAL);
        if (library == NULL && index == 0) {
            const char *error = dlerror();
            if (error != NULL) reason = error;
        }
    }
    if (library == NULL) {
        snprintf(failure_text, sizeof failure_text,
                 "MySQL and MariaDB support needs MariaDB's client library " CRYPTOPIPE_LIBRARY_NAME
                 ", which could not be loaded (%s): install it (" CRYPTOPIPE_INSTALL_HINT
                 "); a SQLite warehouse needs nothing",
                 reason);
        return;
    }
#define CRYPTOPIPE_RESOLVE(result, name, parameters, arguments)                                                            \
    *(void **)(&cryptopipe_mariadb.name) = dlsym(library, #name);                                                      \
    if (cryptopipe_mariadb.name == NULL) {                                                                              \
        snprintf(failure_text, sizeof failure_text,                                                                    \
                 "MariaDB's client library " CRYPTOPIPE_LIBRARY_NAME " has no " #name                                  \
                 "; install Connector/C 3 (" CRYPTOPIPE_INSTALL_HINT ")");                                             \
        return;                                                                                                        \
    }
    CRYPTOPIPE_MARIADB_FUNCTIONS(CRYPTOPIPE_RESOLVE)
    CRYPTOPIPE_RESOLVE(void, mysql_free_result, , )
    CRYPTOPIPE_RESOLVE(void, mysql_close, , )
#undef CRYPTOPIPE_RESOLVE
    // No version check beyond the soname: before Connector/C 3.2, mysql_get_client_version() reported the server
    // suite's number (100520 for 3.1), and libmariadb.so.3 already pins Connector/C 3's ABI.
    // mysql_library_init: once, before any thread uses the library.
    if (cryptopipe_mariadb.mysql_server_init(0, NULL, NULL) != 0) {
        snprintf(failure_text, sizeof failure_text, "MariaDB's client library could not be initialised");
        return;
    }
    loaded = 1;
}

int cryptopipe_mariadb_load(const char **failure) {
    pthread_once(&once, load);
    if (!loaded && failure != NULL) *failure = failure_text;
    return loaded;
}
