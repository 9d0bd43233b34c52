#ifndef CRYPTOPIPE_CMARIADB_SHIM_H
#define CRYPTOPIPE_CMARIADB_SHIM_H
// The MariaDB Connector/C client API (libmariadb-dev; also speaks to MySQL 8 servers).
#include <mysql.h>
#include <errmsg.h>
#endif
