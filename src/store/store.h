/* store.h - the durable record of executions (local runs now, cluster runs later).
 *
 * One SQLite database per data dir (<data dir>/spok.db) in WAL mode with a busy timeout,
 * so a foreground `spok run`, a detached supervisor and `spok list/status/abort` in other
 * processes can use it at the same time. The schema is versioned with PRAGMA user_version
 * and upgraded by forward-only migrations on open; a database from a newer spok is refused.
 * Every write is one transaction on prepared statements, so a crash leaves either the old
 * or the new row, never half of one.
 *
 * Tables: `executions` (one row per execution: the current attempt's state) and
 * `attempts` (one row per (execution, attempt), written by spok_store_update, so retries
 * stay visible), and `phase_counts` (executions per (backend, phase), kept by triggers in
 * the same transaction as the row's write, so it never disagrees with `executions`).
 *
 * Execution ids are "sp-" + 10 lowercase RFC 4648 base32 characters from /dev/urandom
 * (50 bits): short enough to type, unique without coordination between processes.
 *
 * Ownership: struct spok_store is opaque; spok_store_close frees it. struct spok_execution
 * (model/execution.h) owns all its strings; spok_execution_free releases them. Arrays from spok_store_list, spok_store_list_page and spok_store_list_unfinished
 * are freed with spok_execution_list_free; a page's *next_cursor is heap (caller frees).
 * Inputs (filters, cursors) are only read, never kept.
 *
 * Scale: spok_store_list reads every row and is for small stores and tests. Readers that
 * must stay cheap at 100k+ executions use the indexed calls: spok_store_list_page (keyset
 * pages, newest first), spok_store_count_by_phase (maintained counters), spok_store_list_unfinished
 * (what an engine adopts), spok_store_namespaces and spok_store_find_key.
 */
#ifndef SPOK_STORE_STORE_H
#define SPOK_STORE_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/pid.h"
#include "common/strv.h"
#include "common/timefmt.h"
#include "model/execution.h"
#include "model/model.h"
#include "model/session.h"

#define SPOK_STORE_SCHEMA_VERSION 11
#define SPOK_EXEC_ID_LEN 13 /* "sp-" + 10 */

struct spok_store;


/* Resolves the data dir: flag, else $SPOK_DATA_DIR, else $XDG_DATA_HOME/spok, else
 * ~/.local/share/spok; creates it (and parents) with mode 0700. *out is heap (caller frees). */
int spok_data_dir(const char *flag, char **out, struct spok_err *err);

/* Opens (creating and migrating) <data_dir>/spok.db. Errors name the path. */
int spok_store_open(const char *data_dir, struct spok_store **out, struct spok_err *err);
/* For commands that mostly read (list, status, logs, abort): opens like spok_store_open
 * when this user may write the data dir and its database, else read-only (SQLite mode=ro,
 * or immutable when there is no write-ahead log, since the side files cannot be created),
 * so a data dir shared read-only still answers. Writes to a read-only store fail with an
 * error that says so. A read-only store is never migrated: an older schema is an error that
 * says to run spok once as the owner. */
int spok_store_open_reader(const char *data_dir, struct spok_store **out, struct spok_err *err);
/* True when spok_store_open_reader opened it read-only: callers skip optional writes. */
bool spok_store_readonly(const struct spok_store *s);
/* How long one statement waits for another process's lock (default 10 s) before failing
 * with SPOK_EBUSY. The daemon sets it short: it runs the store on its event loop, so every
 * wait there holds back all its requests. */
void spok_store_set_busy_timeout(struct spok_store *s, int ms);
/* Opens a database file directly (tests, tools). */
int spok_store_open_file(const char *db_path, struct spok_store **out, struct spok_err *err);
void spok_store_close(struct spok_store *s);

/* Fills buf (at least SPOK_EXEC_ID_LEN + 1 bytes) with a fresh id. */
int spok_store_new_id(char *buf, size_t len, struct spok_err *err);

/* Inserts e (e->id must be set); SPOK_ECONFLICT if the id exists. */
int spok_store_insert(struct spok_store *s, const struct spok_execution *e, struct spok_err *err);
/* Replaces every column of e's row except abort_requested and created_ms, and upserts
 * its current attempt into `attempts`, in one transaction. SPOK_ENOTFOUND if missing. */
int spok_store_update(struct spok_store *s, const struct spok_execution *e, struct spok_err *err);
/* ---- group commit (the engine: one transaction per loop turn for all its writes) ----
 * spok_store_batch_insert and spok_store_batch_update write like spok_store_insert and
 * spok_store_update, with the same errors for the write itself, but inside one transaction
 * (BEGIN IMMEDIATE on the first, each write under a savepoint, so a failed one undoes only
 * itself) that stays open until spok_store_batch_commit. Nothing they write is durable, and
 * nothing may act on it (no create sent, no phase reported as recorded), before its batch's
 * outcome is known to be 0. Any other use of the store meanwhile (a read, another write)
 * commits the batch first, so no one else ever sees or joins writes that are not durable.
 * Each batch has a generation (spok_store_batch_gen right after a batched write): several
 * engines may share the store (the daemon's clusters), so each asks for the outcome of the
 * generations its own writes went into, whoever committed them. */
int spok_store_batch_insert(struct spok_store *s, const struct spok_execution *e,
			    struct spok_err *err);
int spok_store_batch_update(struct spok_store *s, const struct spok_execution *e,
			    struct spok_err *err);
/* Opens the batch now (done by the first batched write otherwise). */
int spok_store_batch_begin(struct spok_store *s, struct spok_err *err);
/* True while a batch is open (not committed yet). */
bool spok_store_batch_open(const struct spok_store *s);
/* The generation of the open batch, or of the last one (0: none yet): right after a
 * successful batched write, the batch that write went into. */
uint64_t spok_store_batch_gen(const struct spok_store *s);
#define SPOK_STORE_OUTCOMES 32 /* failed batches whose error stays known */
/* Commits batch gen if it is still the open one; then its outcome: 0 when its writes are
 * durable, else the error of the COMMIT that failed (or of the failure that rolled it back):
 * none of its writes is in the store. A generation too old to be known (older than the last
 * of the SPOK_STORE_OUTCOMES failed batches before the last SPOK_STORE_OUTCOMES ones)
 * answers SPOK_EIO: its writes are not assumed durable. gen 0: 0. */
int spok_store_batch_outcome(struct spok_store *s, uint64_t gen, struct spok_err *err);
/* Commits the open batch (if any) and returns its outcome as spok_store_batch_outcome. */
int spok_store_batch_commit(struct spok_store *s, struct spok_err *err);
/* cb(data, err) runs right before every batch's COMMIT, whoever makes it (an engine's flush,
 * spok_engine_sync, a read that settles the batch): for what the batch's rows name outside
 * the store and that must be durable first (the daemon's task sources, written unsynced by
 * its submissions and synced together here). A non-zero return (err set) loses the batch
 * instead: rolled back, its outcome that error. NULL clears it. */
typedef int (*spok_store_precommit_cb)(void *data, struct spok_err *err);
void spok_store_set_precommit(struct spok_store *s, spok_store_precommit_cb cb, void *data);
/* Makes `to` the supervisor of execution id if the row still names `from` (pid and start
 * time, as the caller read them): one compare-and-set, so of two processes that both found
 * the old supervisor gone only one takes the execution over. SPOK_ECONFLICT when the row
 * names another supervisor by now, SPOK_ENOTFOUND if missing. */
int spok_store_claim(struct spok_store *s, const char *id, struct spok_proc_id from,
		     struct spok_proc_id to, struct spok_err *err);
/* Sets abort_requested = 1. SPOK_ENOTFOUND if missing. */
int spok_store_request_abort(struct spok_store *s, const char *id, struct spok_err *err);
/* Reads one execution by id, or by a unique prefix of an id (SPOK_EINVAL if ambiguous). */
int spok_store_get(struct spok_store *s, const char *id, struct spok_execution *out,
		   struct spok_err *err);
/* All executions, newest first. *out is NULL when there are none. */
int spok_store_list(struct spok_store *s, struct spok_execution **out, size_t *n,
		    struct spok_err *err);
/* Phase sets for filters: bit (1u << phase). */
#define SPOK_STORE_PHASE(p) (1u << (unsigned)(p))
#define SPOK_STORE_NPHASES ((size_t)SPOK_PHASE_TIMED_OUT + 1)
/* Phases that are not terminal (spok_phase_terminal is false). */
#define SPOK_STORE_PHASES_ACTIVE                                                                \
	(SPOK_STORE_PHASE(SPOK_PHASE_UNDEFINED) | SPOK_STORE_PHASE(SPOK_PHASE_QUEUED) |         \
	 SPOK_STORE_PHASE(SPOK_PHASE_WAITING_FOR_RESOURCES) |                                    \
	 SPOK_STORE_PHASE(SPOK_PHASE_INITIALIZING) | SPOK_STORE_PHASE(SPOK_PHASE_RUNNING))

/* What a page holds; every set field must match (AND). A zeroed filter matches all rows. */
struct spok_store_filter {
	const char *project;          /* exact project, or NULL */
	const char *const *projects;  /* the project is one of these (a token's scope; rows */
	size_t nprojects;             /* without a project never match); used only when
	                               * projects != NULL, and then 0 matches nothing */
	const char *backend;          /* exact backend ("local" or a cluster), or NULL */
	uint32_t phases;              /* SPOK_STORE_PHASE bits; 0 = any phase */
};

/* Longest cursor spok_store_list_page makes (bytes, without the NUL). */
#define SPOK_STORE_CURSOR_MAX 64

/* One page of executions matching f (NULL = all), newest first (created_ms DESC, then id),
 * at most limit (>= 1) rows, starting after after_cursor (NULL or "" = from the newest).
 * Keyset paging through an index: page 500 costs what page 1 costs, and rows created
 * meanwhile never shift a page. *next_cursor is a short opaque string (fits in
 * SPOK_STORE_CURSOR_MAX) for the next page, or NULL when this page is the last; it encodes
 * a position, not a filter, so pass the same filter with it. A cursor that is not one this
 * store made (edited, truncated, cut from another string) is SPOK_EINVAL naming "cursor".
 * *out is NULL when the page is empty. */
int spok_store_list_page(struct spok_store *s, const struct spok_store_filter *f, size_t limit,
			 const char *after_cursor, struct spok_execution **out, size_t *n,
			 char **next_cursor, struct spok_err *err);
/* SQLite's plan (EXPLAIN QUERY PLAN, one line per step) for the statement
 * spok_store_list_page runs with f and limit, from the newest or (after) through a cursor
 * seek, and *steps, the virtual machine steps that statement takes to the end (SQLite's work
 * count, which grows with the rows it reads): tests and bench/store check that a page costs
 * about its size, not the store's. *plan is heap. */
int spok_store_page_plan(struct spok_store *s, const struct spok_store_filter *f, size_t limit,
			 bool after, char **plan, uint64_t *steps, struct spok_err *err);
/* counts[phase] = executions in that phase (backend NULL = all backends), read from the
 * counters that triggers keep per (backend, phase) (schema v6): the cost does not grow with
 * the number of executions. Rows with an unknown phase name count as UNDEFINED. */
int spok_store_count_by_phase(struct spok_store *s, const char *backend,
			      uint64_t counts[SPOK_STORE_NPHASES], struct spok_err *err);
/* Executions of backend that still need an engine (spok_engine_needs_work): not terminal,
 * or RETRYABLE_FAILURE with attempts left and no abort requested. Oldest first. */
int spok_store_list_unfinished(struct spok_store *s, const char *backend,
			       struct spok_execution **out, size_t *n, struct spok_err *err);
/* The same rows, less those whose recorded supervisor is `self` (pid and start time): what
 * another process follows or followed. Costs the rows it returns (an index on supervisor),
 * not the rows `self` follows. No order. */
int spok_store_list_unfinished_others(struct spok_store *s, const char *backend,
				      struct spok_proc_id self, struct spok_execution **out,
				      size_t *n, struct spok_err *err);
/* Ids of this backend's executions whose abort was requested and that are not terminal yet,
 * appended to ids (a partial index holds exactly those rows: one cheap query per engine tick
 * whatever the number of executions). */
int spok_store_abort_requests(struct spok_store *s, const char *backend, struct spok_strv *ids,
			      struct spok_err *err);

/* Distinct namespaces of backend's executions that have a resource_name, whose phase is
 * in phases (0 = any) and whose submission is direct (direct true) or not (false), pushed
 * onto out (sorted). */
int spok_store_namespaces(struct spok_store *s, const char *backend, uint32_t phases, bool direct,
			  struct spok_strv *out, struct spok_err *err);
/* The id of the execution recorded with idempotency key key (*id heap, caller frees), or
 * *id NULL when there is none. One seek in the key's UNIQUE index; inserting a second row
 * with a key already used fails with SPOK_ECONFLICT. Unlike other reads it does not commit
 * the open group-commit batch first, so it also finds a key written there, not durable yet:
 * read the row (spok_store_get, which commits the batch) before acting on it. */
int spok_store_find_key(struct spok_store *s, const char *key, char **id, struct spok_err *err);

/* ---- retention (spok gc, the daemon's spok.store.retention) ---- */

/* Rows one spok_store_gc call deletes at most by default: one short write transaction, so
 * readers in other processes (and the daemon's loop) wait at most for one batch. */
#define SPOK_STORE_GC_BATCH 500

struct spok_store_gc_result {
	size_t rows;    /* executions deleted (their attempts and counts go with them) */
	size_t files;   /* run dirs and task files removed */
	size_t skipped; /* due rows kept: a live supervisor holds the run, or a file could not
	                 * be removed (they are tried again by the next call) */
	bool more;      /* the batch was full: call again for the rest */
};

/* Deletes at most batch (>= 1) finished executions that ended before before_ms (finished_ms,
 * or created_ms for a row that never recorded an end): terminal rows that no engine needs
 * (spok_engine_needs_work is false). Never a non-terminal row, nor a retryable failure with
 * attempts left. Before a row goes, removes what the store's data dir holds for it alone:
 * <data dir>/runs/<id> (a local run's logs; kept, with its row, while a supervisor holds its
 * lock) and a daemon task file in <data dir>/server/tasks. Files go first, then the rows in
 * one transaction: a crash in between leaves rows that the next call deletes, never files
 * that no row names. Nothing outside the data dir and no cluster object is touched.
 * Fills *out (zeroed first). SPOK_EIO for a read-only store. */
int spok_store_gc(struct spok_store *s, int64_t before_ms, size_t batch,
		  struct spok_store_gc_result *out, struct spok_err *err);

/* Attempts of one execution, oldest first. */
int spok_store_attempts(struct spok_store *s, const char *id, struct spok_attempt **out,
			size_t *n, struct spok_err *err);

/* ---- warm Spark Connect sessions (model/session.h; src/connect, `spok session`) ----
 * One row per session name. Whoever starts a server first wins the row with
 * spok_store_session_begin (a compare-and-set on its generation); the supervisor's writes
 * (spok_store_session_update) only land while the row still has that generation, so a
 * supervisor that lost the name to a newer start cannot overwrite it. */

/* SPOK_ENOTFOUND when there is no such session. */
int spok_store_session_get(struct spok_store *s, const char *name, struct spok_session *out,
			   struct spok_err *err);
/* Every session, by name. *out is NULL when there are none. */
int spok_store_session_list(struct spok_store *s, struct spok_session **out, size_t *n,
			    struct spok_err *err);
/* Starts a new server generation of session name: if the row's generation is still
 * expect_gen (-1: there must be no row yet), writes phase STARTING, pool, user_id, log_path,
 * supervisor sup, generation + 1, starts + 1, project (NULL keeps the row's), and clears the
 * server's pid, ports, reason, times (created_ms is kept, or set now) and stop request.
 * SPOK_ECONFLICT when another process changed the row first. *gen_out gets the new
 * generation. */
int spok_store_session_begin(struct spok_store *s, const char *name, const char *pool,
			     const char *project, const char *user_id, const char *log_path,
			     int64_t expect_gen, struct spok_proc_id sup, int64_t *gen_out,
			     struct spok_err *err);
/* Writes phase, reason, ports, host, pid/proc_start, supervisor, started_ms, finished_ms
 * and backend (unless NULL) of x's row if its generation is still x->generation; SPOK_ECONFLICT otherwise. */
int spok_store_session_update(struct spok_store *s, const struct spok_session *x,
			      struct spok_err *err);
/* Records sup as the supervisor of generation gen of session name (its starter forked it);
 * nothing when the row has another generation by now. */
int spok_store_session_supervisor(struct spok_store *s, const char *name, int64_t gen,
				  struct spok_proc_id sup, struct spok_err *err);
/* Sets stop_requested. SPOK_ENOTFOUND if missing. */
int spok_store_session_request_stop(struct spok_store *s, const char *name, struct spok_err *err);
/* last_used_ms = now_ms (a warm run, `spok session url`). */
int spok_store_session_touch(struct spok_store *s, const char *name, int64_t now_ms,
			     struct spok_err *err);
/* How many executions use session name now: local rows naming it that are not finished
 * and whose supervisor still runs (spok_proc_alive). Reads the unfinished-rows index. */
int spok_store_session_clients(struct spok_store *s, const char *name, size_t *n,
			       struct spok_err *err);

/* The idle reaper's stop, atomic with a run's claim: in one transaction, when x's row is
 * still generation x->generation, RUNNING, not asked to stop, unused since last_seen
 * (last_used_ms <= last_seen; INT64_MAX: any use) and without clients, writes phase
 * STOPPING with reason and sets *stopped; else leaves the row alone (*stopped false). */
int spok_store_session_stop_idle(struct spok_store *s, const struct spok_session *x,
				 int64_t last_seen, const char *reason, bool *stopped,
				 struct spok_err *err);

/* struct spok_execution, struct spok_attempt and their *_free live in model/execution.h;
 * the CLI and the HTTP API each build their own JSON view of them. */

/* spok_now_ms (the wall clock) lives in common/timefmt.h. */

#endif
