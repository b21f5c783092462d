/* internal.h - shared between the files of src/store (store.c, session.c); not a public API. */
#ifndef SPOK_STORE_INTERNAL_H
#define SPOK_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>

#include "store/store.h"

struct spok_store {
	sqlite3 *db;
	int busy_ms;   /* how long a statement waits for another process's lock */
	char *path;
	bool readonly; /* opened by spok_store_open_reader without write access */
};

/* The error for a failed SQLite call on s (busy -> SPOK_EBUSY, read-only store says so). */
int spok_store_db_fail(struct spok_store *s, struct spok_err *err, const char *what);
int spok_store_exec_sql(struct spok_store *s, const char *sql, const char *what, struct spok_err *err);
/* Ends a BEGIN IMMEDIATE write: COMMIT after success, ROLLBACK after any failure. */
int spok_store_end_write(struct spok_store *s, int result, struct spok_err *err);
int spok_store_prepare(struct spok_store *s, const char *sql, sqlite3_stmt **st, struct spok_err *err);
/* Steps a write statement to SQLITE_DONE (a constraint is SPOK_ECONFLICT). */
int spok_store_step_done(struct spok_store *s, sqlite3_stmt *st, const char *what, struct spok_err *err);

#endif
