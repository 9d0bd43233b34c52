#ifndef CRYPTOPIPE_CMARIADB_FUNCTIONS_H
#define CRYPTOPIPE_CMARIADB_FUNCTIONS_H
// Only the list, no types: Tests/CMariaDBReference expands it against MariaDB's own headers to check every signature.
// Every function the warehouse calls: return type, name, parameters, arguments.
#define CRYPTOPIPE_MARIADB_FUNCTIONS(X)                                                                                    \
    X(int, mysql_server_init, (int argc, char **argv, char **groups), (argc, argv, groups))                            \
    X(MYSQL *, mysql_init, (MYSQL * mysql), (mysql))                                                                   \
    X(int, mysql_options, (MYSQL * mysql, enum mysql_option option, const void *arg), (mysql, option, arg))            \
    X(MYSQL *, mysql_real_connect,                                                                                     \
      (MYSQL * mysql, const char *host, const char *user, const char *password, const char *database,                 \
       unsigned int port, const char *socket, unsigned long flags),                                                   \
      (mysql, host, user, password, database, port, socket, flags))                                                   \
    X(const char *, mysql_get_ssl_cipher, (MYSQL * mysql), (mysql))                                                    \
    X(unsigned int, mysql_errno, (MYSQL * mysql), (mysql))                                                             \
    X(const char *, mysql_error, (MYSQL * mysql), (mysql))                                                             \
    X(const char *, mysql_sqlstate, (MYSQL * mysql), (mysql))                                                          \
    X(char *, mysql_get_server_info, (MYSQL * mysql), (mysql))                                                         \
    X(int, mysql_real_query, (MYSQL * mysql, const char *query, unsigned long length), (mysql, query, length))         \
    X(MYSQL_RES *, mysql_store_result, (MYSQL * mysql), (mysql))                                                       \
    X(int, mysql_next_result, (MYSQL * mysql), (mysql))                                                                \
    X(unsigned int, mysql_num_fields, (MYSQL_RES * result), (result))                                                  \
    X(MYSQL_FIELD *, mysql_fetch_fields, (MYSQL_RES * result), (result))                                               \
    X(MYSQL_STMT *, mysql_stmt_init, (MYSQL * mysql), (mysql))                                                         \
    X(int, mysql_stmt_prepare, (MYSQL_STMT * stmt, const char *query, unsigned long length), (stmt, query, length))    \
    X(my_bool, mysql_stmt_attr_set, (MYSQL_STMT * stmt, enum enum_stmt_attr_type type, const void *value),             \
      (stmt, type, value))                                                                                             \
    X(unsigned long, mysql_stmt_param_count, (MYSQL_STMT * stmt), (stmt))                                              \
    X(my_bool, mysql_stmt_bind_param, (MYSQL_STMT * stmt, MYSQL_BIND * bind), (stmt, bind))                            \
    X(my_bool, mysql_stmt_bind_result, (MYSQL_STMT * stmt, MYSQL_BIND * bind), (stmt, bind))                           \
    X(int, mysql_stmt_execute, (MYSQL_STMT * stmt), (stmt))                                                            \
    X(MYSQL_RES *, mysql_stmt_result_metadata, (MYSQL_STMT * stmt), (stmt))                                            \
    X(int, mysql_stmt_store_result, (MYSQL_STMT * stmt), (stmt))                                                       \
    X(int, mysql_stmt_fetch, (MYSQL_STMT * stmt), (stmt))                                                              \
    X(int, mysql_stmt_fetch_column, (MYSQL_STMT * stmt, MYSQL_BIND * bind, unsigned int column, unsigned long offset), \
      (stmt, bind, column, offset))                                                                                    \
    X(unsigned long long, mysql_stmt_num_rows, (MYSQL_STMT * stmt), (stmt))                                            \
    X(unsigned long long, mysql_stmt_affected_rows, (MYSQL_STMT * stmt), (stmt))                                       \
    X(unsigned long long, mysql_stmt_insert_id, (MYSQL_STMT * stmt), (stmt))                                           \
    X(my_bool, mysql_stmt_free_result, (MYSQL_STMT * stmt), (stmt))                                                    \
    X(unsigned int, mysql_stmt_errno, (MYSQL_STMT * stmt), (stmt))                                                     \
    X(const char *, mysql_stmt_error, (MYSQL_STMT * stmt), (stmt))                                                     \
    X(const char *, mysql_stmt_sqlstate, (MYSQL_STMT * stmt), (stmt))                                                  \
    X(my_bool, mysql_stmt_close, (MYSQL_STMT * stmt), (stmt))

#endif
