#ifndef CRYPTOPIPE_CMARIADB_H
#define CRYPTOPIPE_CMARIADB_H
// The part of MariaDB Connector/C 3.x's client API (libmariadb.so.3) the MySQL warehouse uses, declared here and
// loaded at run time: building CryptoPipe needs neither MariaDB's headers nor its library, and only a process that
// opens a MySQL warehouse needs the library. The layouts and constants below are Connector/C 3's ABI; a test compares
// them with the installed headers (Tests/WarehouseMySQLTests/MariaDBDeclarationTests.swift). MySQL's own
// libmysqlclient is not loaded: its MYSQL_BIND, MYSQL_FIELD and option numbers differ from these.
#include <stddef.h>

typedef struct st_mysql MYSQL;
typedef struct st_mysql_stmt MYSQL_STMT;
typedef struct st_mysql_res MYSQL_RES;
typedef char my_bool;

enum mysql_option {
    MYSQL_OPT_CONNECT_TIMEOUT = 0,
    MYSQL_SET_CHARSET_NAME = 7,
    MYSQL_OPT_READ_TIMEOUT = 11,
    MYSQL_OPT_WRITE_TIMEOUT = 12,
    MYSQL_OPT_RECONNECT = 20,
    MYSQL_OPT_SSL_VERIFY_SERVER_CERT = 21,
    MYSQL_OPT_SSL_CA = 27,
    MYSQL_OPT_SSL_ENFORCE = 38,
};

enum enum_field_types {
    MYSQL_TYPE_NULL = 6,
    MYSQL_TYPE_LONGLONG = 8,
    MYSQL_TYPE_NEWDECIMAL = 246,
    MYSQL_TYPE_STRING = 254,
};

enum enum_stmt_attr_type {
    STMT_ATTR_UPDATE_MAX_LENGTH = 0,
};

enum {
    MYSQL_NO_DATA = 100,
    MYSQL_DATA_TRUNCATED = 101,
};

typedef struct st_mysql_field {
    char *name;
    char *org_name;
    char *table;
    char *org_table;
    char *db;
    char *catalog;
    char *def;
    unsigned long length;
    unsigned long max_length;
    unsigned int name_length;
    unsigned int org_name_length;
    unsigned int table_length;
    unsigned int org_table_length;
    unsigned int db_length;
    unsigned int catalog_length;
    unsigned int def_length;
    unsigned int flags;
    unsigned int decimals;
    unsigned int charsetnr;
    enum enum_field_types type;
    void *extension;
} MYSQL_FIELD;

typedef struct st_mysql_bind {
    unsigned long *length;
    my_bool *is_null;
    void *buffer;
    my_bool *error;
    unsigned char *row_ptr;
    void *store_param_func;
    void *fetch_result;
    void *skip_result;
    unsigned long buffer_length;
    unsigned long offset;
    unsigned long length_value;
    unsigned int flags;
    unsigned int pack_length;
    enum enum_field_types buffer_type;
    my_bool error_value;
    my_bool is_unsigned;
    my_bool long_data_used;
    my_bool is_null_value;
    void *extension;
} MYSQL_BIND;

#include "CMariaDBFunctions.h"

struct cryptopipe_mariadb_functions {
#define CRYPTOPIPE_POINTER(result, name, parameters, arguments) result(*name) parameters;
    CRYPTOPIPE_MARIADB_FUNCTIONS(CRYPTOPIPE_POINTER)
#undef CRYPTOPIPE_POINTER
    void (*mysql_free_result)(MYSQL_RES *result);
    void (*mysql_close)(MYSQL *mysql);
};

/// Filled by cryptopipe_mariadb_load; calling any function below before it returned 1 is undefined.
extern struct cryptopipe_mariadb_functions cryptopipe_mariadb;

/// Loads the client library once per process (thread-safe). Returns 1 when every function was found; otherwise 0,
/// with `*failure` pointing at a static, one-line explanation.
int cryptopipe_mariadb_load(const char **failure);

// Calls keep the C API's names, so the Swift code reads as it would against the library's own headers.
#define CRYPTOPIPE_FORWARD(result, name, parameters, arguments)                                                            \
    static inline result name parameters { return cryptopipe_mariadb.name arguments; }
CRYPTOPIPE_MARIADB_FUNCTIONS(CRYPTOPIPE_FORWARD)
#undef CRYPTOPIPE_FORWARD
static inline void mysql_free_result(MYSQL_RES *result) { cryptopipe_mariadb.mysql_free_result(result); }
static inline void mysql_close(MYSQL *mysql) { cryptopipe_mariadb.mysql_close(mysql); }

#endif
