/*
 * res_internal.h: what the files of the results module share and nobody
 * else sees — the database struct and the SQLite error/transaction helpers
 * (names res__*, as libuv marks cross-file internals).
 */
#ifndef RES_INTERNAL_H
#define RES_INTERNAL_H

#include "results/results.h"

struct res_db {
    sqlite3 *db;
    char path[1024];
    int busy_ms;
    int readonly;   /* opened with RES_OPEN_READONLY */
    int nocheck;    /* RES_OPEN_NOCHECK */
};

/*
 * Turn an SQLite result code into an ib_error naming the database and what
 * was being done; SQLITE_BUSY/LOCKED become IB_ELOCKED with "database 'x'
 * is locked by another writer".
 */
int res__sqlerr(ib_err *e, res_db *db, int rc, const char *what);

/* Run SQL without results (may hold several statements). */
int res__exec(ib_err *e, res_db *db, const char *sql);

/* Prepare one statement; *st is NULL on failure. */
int res__prepare(ib_err *e, res_db *db, const char *sql, sqlite3_stmt **st);

/* BEGIN IMMEDIATE (takes the write lock now, waiting up to busy_ms). */
int res__begin(ib_err *e, res_db *db);
int res__commit(ib_err *e, res_db *db);
/* Roll back if a transaction is open; never fails loudly. */
void res__rollback(res_db *db);

/* Bind helpers: text NULL binds SQL NULL; doubles that are not finite
 * bind NULL. */
void res__bind_text(sqlite3_stmt *st, int i, const char *s);
void res__bind_double(sqlite3_stmt *st, int i, double v);

/* The rows of st (rank, thread, chunk, chan, phase, start, end; bound and
 * ready to step) as tasks, at most max (*truncated set when more), into
 * *out (ib_free) and *n; st is finalized. what names the rows in errors
 * ("tasks"). */
int res__read_tasks(ib_err *e, res_db *db, sqlite3_stmt *st, size_t max, res_task **out,
                    size_t *n, int *truncated, const char *what);

#endif
