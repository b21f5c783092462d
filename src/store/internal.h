/* internal.h - shared between the files of src/store (store.c, session.c); not a public API. */
#ifndef SPOK_STORE_INTERNAL_H
#define SPOK_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>

#include "store/store.h"

/* The statements of the engine's hot path (a submit's insert, every status update, the
 * tick's abort requests), prepared once per store and reused: preparing them again per write cost about as much
 * CPU as the write itself (SQLite's parser, measured in bench/submit). */
enum spok_store_stmt {
	SPOK_STORE_ST_BEGIN,
	SPOK_STORE_ST_COMMIT,
	SPOK_STORE_ST_INSERT,
	SPOK_STORE_ST_UPDATE,
	SPOK_STORE_ST_UPDATE_PLAIN, /* the row update when no keyed column changed */
	SPOK_STORE_ST_KEYS,         /* a row's keyed columns, read before an update */
	SPOK_STORE_ST_ATTEMPT,
	SPOK_STORE_ST_ABORTS, /* read by the engine's every tick */
	SPOK_STORE_ST_OTHERS, /* the engine's rescan (spok_store_list_unfinished_others) */
	SPOK_STORE_ST_SAVEPOINT, /* a write inside a group commit (spok_store_batch_*) */
	SPOK_STORE_ST_RELEASE,
	SPOK_STORE_ST_ROLLBACK_TO,
	SPOK_STORE_ST_FIND_KEY, /* every keyed submission's lookup (spok_store_find_key) */
	SPOK_STORE_NSTMT
};

/* True for a column of executions that an index, a partial index's WHERE or a trigger
 * reads, or that the row update never writes: the update names such a column only when its
 * value changed (exposed for test_store, which checks it against the schema). */
bool spok__store_col_keyed(const char *name);

struct spok_store {
	sqlite3 *db;
	sqlite3_stmt *stmt[SPOK_STORE_NSTMT]; /* prepared on first use; finalized by close */
	int busy_ms;   /* how long a statement waits for another process's lock */
	char *path;
	bool readonly; /* opened by spok_store_open_reader without write access */
	/* Group commit (spok_store_batch_begin): a transaction is open across writes; the
	 * write in progress belongs to it (batching). Each batch has a generation, and the
	 * outcome of every closed one is known, because several engines (the daemon's clusters)
	 * share one store and each asks for the batches its own writes went into
	 * (spok_store_batch_outcome) — a commit one engine triggered, or an early one (another
	 * use of the store settled it), must fail exactly the writes it lost. A batch that
	 * committed leaves nothing behind; the last SPOK_STORE_OUTCOMES that failed are kept with
	 * their error, and generations below fail_known_from (up to the last failure dropped from
	 * those) are no longer known. */
	bool batch;
	bool batching;
	uint64_t batch_gen; /* the open batch's, or the last one's; 0: none yet */
	uint64_t fail_known_from;
	unsigned nfailed; /* failures recorded, the next slot of failed[] */
	struct spok_store_outcome {
		uint64_t gen; /* 0: unused */
		int result;
		struct spok_err err;
	} failed[SPOK_STORE_OUTCOMES];
	spok_store_precommit_cb precommit; /* spok_store_set_precommit */
	void *precommit_data;
};

/* The error for a failed SQLite call on s (busy -> SPOK_EBUSY, read-only store says so). */
int spok_store_db_fail(struct spok_store *s, struct spok_err *err, const char *what);
int spok_store_exec_sql(struct spok_store *s, const char *sql, const char *what, struct spok_err *err);
/* Commits an open group commit before any other use of the store (a read, a write that is
 * not the batch's), keeping its outcome for spok_store_batch_commit: nothing else ever
 * sees, or joins, writes that are not durable yet. */
void spok_store_settle(struct spok_store *s);
/* Starts a write: BEGIN IMMEDIATE (a kept statement: every write pays it); inside a group
 * commit's write, a SAVEPOINT instead, so a failed write undoes only itself. */
int spok_store_begin_write(struct spok_store *s, const char *what, struct spok_err *err);
/* Ends a BEGIN IMMEDIATE write: COMMIT after success, ROLLBACK after any failure (inside a
 * group commit: RELEASE, or ROLLBACK TO the savepoint). */
int spok_store_end_write(struct spok_store *s, int result, struct spok_err *err);
int spok_store_prepare(struct spok_store *s, const char *sql, sqlite3_stmt **st, struct spok_err *err);
/* *st = the kept statement `which` (sql, prepared on the first call). The store owns it: the
 * caller hands it back with spok_store_release (never sqlite3_finalize). A store is used
 * from one thread at a time, so one statement per kind is enough. */
int spok_store_kept(struct spok_store *s, enum spok_store_stmt which, const char *sql,
		    sqlite3_stmt **st, struct spok_err *err);
/* Resets a kept statement and clears its bindings (no bound string outlives the call). */
void spok_store_release(sqlite3_stmt *st);
/* Steps a write statement to SQLITE_DONE (a constraint is SPOK_ECONFLICT). */
int spok_store_step_done(struct spok_store *s, sqlite3_stmt *st, const char *what, struct spok_err *err);

#endif
