#ifndef CRYPTOPIPE_CMARIADB_REFERENCE_H
#define CRYPTOPIPE_CMARIADB_REFERENCE_H
// Layouts and constants as MariaDB's installed headers give them, for comparison with Sources/CMariaDB's own
// declarations. Built only with the tests; without the headers it reports nothing.

typedef struct {
    const char *name;
    long value;
} cryptopipe_reference_fact;

/// The facts, and their count in `*count`; 0 facts when <mariadb/mysql.h> is not installed.
const cryptopipe_reference_fact *cryptopipe_reference_facts(int *count);

#endif
