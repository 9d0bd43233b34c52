#include "CMariaDBReference.h"

#if __has_include(<mariadb/mysql.h>)
#include <mariadb/mysql.h>
#include <stddef.h>

// Every function we declare has the installed headers' type: a difference fails the build of the tests.
#include "../../Sources/CMariaDB/include/CMariaDBFunctions.h"
#define CRYPTOPIPE_SAME_TYPE(result, name, parameters, arguments)                                                          \
    _Static_assert(__builtin_types_compatible_p(__typeof__(&name), result(*) parameters), #name " differs from mysql.h");
CRYPTOPIPE_MARIADB_FUNCTIONS(CRYPTOPIPE_SAME_TYPE)
_Static_assert(__builtin_types_compatible_p(__typeof__(&mysql_free_result), void (*)(MYSQL_RES *)), "mysql_free_result");
_Static_assert(__builtin_types_compatible_p(__typeof__(&mysql_close), void (*)(MYSQL *)), "mysql_close");

#define SIZE(type) {"sizeof(" #type ")", (long)sizeof(type)}
#define OFFSET(type, field) {"offsetof(" #type ", " #field ")", (long)offsetof(type, field)}
#define CONSTANT(name) {#name, (long)(name)}

static const cryptopipe_reference_fact facts[] = {
    SIZE(my_bool),
    SIZE(MYSQL_BIND),
    OFFSET(MYSQL_BIND, length),
    OFFSET(MYSQL_BIND, is_null),
    OFFSET(MYSQL_BIND, buffer),
    OFFSET(MYSQL_BIND, error),
    OFFSET(MYSQL_BIND, buffer_length),
    OFFSET(MYSQL_BIND, offset),
    OFFSET(MYSQL_BIND, length_value),
    OFFSET(MYSQL_BIND, flags),
    OFFSET(MYSQL_BIND, pack_length),
    OFFSET(MYSQL_BIND, buffer_type),
    OFFSET(MYSQL_BIND, error_value),
    OFFSET(MYSQL_BIND, is_unsigned),
    OFFSET(MYSQL_BIND, long_data_used),
    OFFSET(MYSQL_BIND, is_null_value),
    OFFSET(MYSQL_BIND, extension),
    SIZE(MYSQL_FIELD),
    OFFSET(MYSQL_FIELD, length),
    OFFSET(MYSQL_FIELD, max_length),
    OFFSET(MYSQL_FIELD, flags),
    OFFSET(MYSQL_FIELD, decimals),
    OFFSET(MYSQL_FIELD, charsetnr),
    OFFSET(MYSQL_FIELD, type),
    OFFSET(MYSQL_FIELD, extension),
    CONSTANT(MYSQL_OPT_CONNECT_TIMEOUT),
    CONSTANT(MYSQL_SET_CHARSET_NAME),
    CONSTANT(MYSQL_OPT_READ_TIMEOUT),
    CONSTANT(MYSQL_OPT_WRITE_TIMEOUT),
    CONSTANT(MYSQL_OPT_RECONNECT),
    CONSTANT(MYSQL_OPT_SSL_VERIFY_SERVER_CERT),
    CONSTANT(MYSQL_OPT_SSL_CA),
    CONSTANT(MYSQL_OPT_SSL_ENFORCE),
    CONSTANT(MYSQL_TYPE_NULL),
    CONSTANT(MYSQL_TYPE_LONGLONG),
    CONSTANT(MYSQL_TYPE_NEWDECIMAL),
    CONSTANT(MYSQL_TYPE_STRING),
    CONSTANT(STMT_ATTR_UPDATE_MAX_LENGTH),
    CONSTANT(MYSQL_NO_DATA),
    CONSTANT(MYSQL_DATA_TRUNCATED),
};

const cryptopipe_reference_fact *cryptopipe_reference_facts(int *count) {
    *count = (int)(sizeof facts / sizeof facts[0]);
    return facts;
}
#else
const cryptopipe_reference_fact *cryptopipe_reference_facts(int *count) {
    *count = 0;
    return 0;
}
#endif
