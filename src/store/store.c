/* store.c - SQLite-backed execution records. See store.h. */
#include "store/store.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "store/internal.h"

#define BUSY_TIMEOUT_MS 10000

/* ---- column table: one place that maps struct fields to SQL columns ---- */

enum col_kind { C_STR, C_U32, C_I64, C_U64, C_BOOL, C_PHASE, C_EXIT };

struct col {
	const char *name;
	enum col_kind kind;
	size_t off;
};

#define COL(n, k, f) {n, k, offsetof(struct spok_execution, f)}
static const struct col cols[] = {
	COL("id", C_STR, id),
	COL("task_name", C_STR, task_name),
	COL("project", C_STR, project),
	COL("domain", C_STR, domain),
	COL("backend", C_STR, backend),
	COL("namespace", C_STR, namespace_),
	COL("resource_name", C_STR, resource_name),
	COL("attempt", C_U32, attempt),
	COL("max_attempts", C_U32, max_attempts),
	COL("phase", C_PHASE, phase),
	COL("phase_version", C_U32, phase_version),
	COL("reason", C_STR, reason),
	COL("error_message", C_STR, error_message),
	COL("created_ms", C_I64, created_ms),
	COL("started_ms", C_I64, started_ms),
	COL("finished_ms", C_I64, finished_ms),
	COL("exit_code", C_EXIT, exit_code),
	COL("pid", C_I64, pid),
	COL("pgid", C_I64, pgid),
	COL("proc_start", C_U64, proc_start),
	COL("supervisor_pid", C_I64, supervisor_pid),
	COL("supervisor_start", C_U64, supervisor_start),
	COL("abort_requested", C_BOOL, abort_requested),
	COL("spark_app_id", C_STR, spark_app_id),
	COL("ui_url", C_STR, ui_url),
	COL("history_url", C_STR, history_url),
	COL("event_log_dir", C_STR, event_log_dir),
	COL("log_path", C_STR, log_path),
	COL("run_dir", C_STR, run_dir),
	COL("task_source", C_STR, task_source),
	COL("links_json", C_STR, links_json),
	COL("outputs_json", C_STR, outputs_json),
	COL("idempotency_key", C_STR, idempotency_key),
	COL("submission", C_STR, submission),
	COL("session", C_STR, session),
	COL("fallback", C_STR, fallback),
};
#define NCOLS (sizeof(cols) / sizeof(cols[0]))

/* The rows an engine must pick up (spok_engine_needs_work, in SQL). A partial index on
 * exactly this expression holds only those rows, so the unfinished scan costs what it
 * returns; the query must repeat the expression verbatim for SQLite to use it (SQLite
 * 3.40 cannot match "attempt + 1 < max_attempts" to the index, hence this form). */
#define UNFINISHED_SQL                                                                            \
	"(phase IN ('UNDEFINED', 'QUEUED', 'WAITING_FOR_RESOURCES', 'INITIALIZING', 'RUNNING')"  \
	" OR (phase = 'RETRYABLE_FAILURE' AND attempt < max_attempts - 1 AND abort_requested = 0))"

/* Abort requested on a row that is not terminal yet (the partial index repeats it verbatim). */
#define ABORT_PENDING_SQL                                                                         \
	"(abort_requested = 1 AND phase IN ('UNDEFINED', 'QUEUED', 'WAITING_FOR_RESOURCES',"     \
	" 'INITIALIZING', 'RUNNING'))"

/* The file name of task_source (what follows its last '/'), in SQL. */
#define BASENAME_SQL "replace(task_source, rtrim(task_source, replace(task_source, '/', '')), '')"
#define HEX8_GLOB "[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]"
#define HEX64_GLOB HEX8_GLOB HEX8_GLOB HEX8_GLOB HEX8_GLOB HEX8_GLOB HEX8_GLOB HEX8_GLOB HEX8_GLOB

/* Trigger steps that keep phase_counts. No INSERT OR IGNORE/UPSERT: an outer statement's
 * conflict clause (INSERT OR REPLACE) would override the trigger's and reset a count. */
#define COUNT_ADD_SQL(r)                                                                          \
	"INSERT INTO phase_counts SELECT " r ".backend, " r ".phase, 0 WHERE NOT EXISTS"          \
	" (SELECT 1 FROM phase_counts WHERE backend = " r ".backend AND phase = " r ".phase);"     \
	" UPDATE phase_counts SET n = n + 1 WHERE backend = " r ".backend AND phase = " r ".phase;"
#define COUNT_SUB_SQL(r)                                                                          \
	"UPDATE phase_counts SET n = n - 1 WHERE backend = " r ".backend AND phase = " r ".phase;"

/* Forward-only migrations; index i upgrades user_version i -> i+1. */
static const char *const migrations[] = {
	"CREATE TABLE executions ("
	" id TEXT PRIMARY KEY NOT NULL, task_name TEXT, project TEXT, domain TEXT,"
	" backend TEXT NOT NULL DEFAULT 'local', namespace TEXT, resource_name TEXT,"
	" attempt INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL DEFAULT 1,"
	" phase TEXT NOT NULL DEFAULT 'UNDEFINED', phase_version INTEGER NOT NULL DEFAULT 0,"
	" reason TEXT, error_message TEXT,"
	" created_ms INTEGER NOT NULL DEFAULT 0, started_ms INTEGER NOT NULL DEFAULT 0,"
	" finished_ms INTEGER NOT NULL DEFAULT 0, exit_code INTEGER,"
	" pid INTEGER NOT NULL DEFAULT 0, pgid INTEGER NOT NULL DEFAULT 0,"
	" proc_start INTEGER NOT NULL DEFAULT 0, supervisor_pid INTEGER NOT NULL DEFAULT 0,"
	" abort_requested INTEGER NOT NULL DEFAULT 0,"
	" spark_app_id TEXT, ui_url TEXT, history_url TEXT, event_log_dir TEXT,"
	" log_path TEXT, run_dir TEXT, task_source TEXT, links_json TEXT, outputs_json TEXT);"
	"CREATE INDEX executions_created ON executions(created_ms);"
	"CREATE TABLE attempts ("
	" execution_id TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,"
	" attempt INTEGER NOT NULL, phase TEXT NOT NULL, reason TEXT,"
	" started_ms INTEGER NOT NULL DEFAULT 0, finished_ms INTEGER NOT NULL DEFAULT 0,"
	" exit_code INTEGER, log_path TEXT, PRIMARY KEY (execution_id, attempt));",
	/* v2: indexes for the readers that must not scan every row: keyset pages newest first
	 * (all, one project, one phase), counts and unfinished scans per backend, and the
	 * daemon's idempotency keys (a prefix of task_source). */
	"DROP INDEX IF EXISTS executions_created;"
	"CREATE INDEX executions_page ON executions(created_ms DESC, id);"
	"CREATE INDEX executions_project ON executions(project, created_ms DESC, id);"
	"CREATE INDEX executions_phase ON executions(phase, created_ms DESC, id);"
	"CREATE INDEX executions_backend_phase ON executions(backend, phase);"
	"CREATE INDEX executions_source ON executions(task_source);"
	"CREATE INDEX executions_unfinished ON executions(backend, created_ms, id) WHERE " UNFINISHED_SQL ";",
	/* v3: abort requests still to act on, read by every engine tick: rows leave the index
	 * once they are terminal, so the tick costs what is pending, not what ever ran. */
	"CREATE INDEX executions_abort ON executions(backend, id) WHERE " ABORT_PENDING_SQL ";",
	/* v4: the supervisor's start time next to its pid, so a reused pid or a zombie is not
	 * taken for the process that follows the execution. Old rows keep 0 ("not known"). */
	"ALTER TABLE executions ADD COLUMN supervisor_start INTEGER NOT NULL DEFAULT 0;",
	/* v5: the daemon's idempotency key is a column with a UNIQUE index instead of a task
	 * file name found by prefix search (k-<64 hex>.<ext> under the tasks dir). Existing
	 * keyed rows get their key from that name; should two rows carry one key, the first
	 * row keeps it (UPDATE OR IGNORE in rowid order), as the oldest won before. */
	"ALTER TABLE executions ADD COLUMN idempotency_key TEXT;"
	"CREATE UNIQUE INDEX executions_idempotency ON executions(idempotency_key);"
	"UPDATE OR IGNORE executions SET idempotency_key = substr(" BASENAME_SQL ", 3, 64)"
	" WHERE " BASENAME_SQL " GLOB 'k-" HEX64_GLOB ".*';"
	"DROP INDEX IF EXISTS executions_source;",
	/* v6: executions per (backend, phase), kept by triggers in the transaction of every
	 * write that adds, removes or moves a row, so counts by phase read a few rows however
	 * many executions there are, and a crash keeps rows and counts consistent (both or
	 * neither). The migration counts the existing rows once. And pages of one backend
	 * (the API's cluster filter) newest first from an index instead of a sort. */
	"CREATE TABLE phase_counts (backend TEXT NOT NULL, phase TEXT NOT NULL,"
	" n INTEGER NOT NULL, PRIMARY KEY (backend, phase)) WITHOUT ROWID;"
	"INSERT INTO phase_counts SELECT backend, phase, count(*) FROM executions"
	" GROUP BY backend, phase;"
	"CREATE INDEX executions_backend ON executions(backend, created_ms DESC, id);"
	"CREATE TRIGGER executions_count_insert AFTER INSERT ON executions BEGIN "
	COUNT_ADD_SQL("NEW") " END;"
	"CREATE TRIGGER executions_count_delete AFTER DELETE ON executions BEGIN "
	COUNT_SUB_SQL("OLD") " END;"
	"CREATE TRIGGER executions_count_update AFTER UPDATE OF backend, phase ON executions"
	" WHEN OLD.backend IS NOT NEW.backend OR OLD.phase IS NOT NEW.phase BEGIN "
	COUNT_SUB_SQL("OLD") " " COUNT_ADD_SQL("NEW") " END;",
	/* v7: how a cluster run's attempts are submitted ("direct": spok creates the driver
	 * pod; NULL, as every older row: the Spark operator), written with the row. */
	"ALTER TABLE executions ADD COLUMN submission TEXT;",
	/* v8: warm Spark Connect sessions (src/connect): one row per named session, its server
	 * process and supervisor recorded as (pid, start time); and on executions, the session
	 * a warm run used and why a run asked warm fell back to a normal local run. */
	"ALTER TABLE executions ADD COLUMN session TEXT;"
	"ALTER TABLE executions ADD COLUMN fallback TEXT;"
	"CREATE TABLE sessions (name TEXT PRIMARY KEY NOT NULL, pool TEXT NOT NULL,"
	" backend TEXT NOT NULL DEFAULT 'local', phase TEXT NOT NULL, reason TEXT, user_id TEXT,"
	" port INTEGER NOT NULL DEFAULT 0, ui_port INTEGER NOT NULL DEFAULT 0,"
	" pid INTEGER NOT NULL DEFAULT 0, proc_start INTEGER NOT NULL DEFAULT 0,"
	" supervisor_pid INTEGER NOT NULL DEFAULT 0, supervisor_start INTEGER NOT NULL DEFAULT 0,"
	" created_ms INTEGER NOT NULL DEFAULT 0, started_ms INTEGER NOT NULL DEFAULT 0,"
	" last_used_ms INTEGER NOT NULL DEFAULT 0, finished_ms INTEGER NOT NULL DEFAULT 0,"
	" stop_requested INTEGER NOT NULL DEFAULT 0, generation INTEGER NOT NULL DEFAULT 0,"
	" starts INTEGER NOT NULL DEFAULT 0, log_path TEXT);",
	/* v9: the project a session belongs to (`spok serve`'s API authorizes by it; NULL: one
	 * started from the CLI, only all-projects tokens see it). */
	"ALTER TABLE sessions ADD COLUMN project TEXT;",
	/* v10: where a session's server listens when it is not this machine's loopback (a
	 * Kubernetes pool's server pod: its IP; NULL: 127.0.0.1). */
	"ALTER TABLE sessions ADD COLUMN host TEXT;",
	/* v11: the unfinished rows by supervisor, so an engine's periodic rescan reads the rows
	 * another process follows (or followed before it died), not every row it follows itself. */
	"CREATE INDEX executions_unfinished_sup ON executions(backend, supervisor_pid,"
	" supervisor_start) WHERE " UNFINISHED_SQL ";",
};
#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))
_Static_assert(NMIGRATIONS == SPOK_STORE_SCHEMA_VERSION, "one migration per schema version");

/* ---- data dir ---- */

static int mkdirs(char *path, struct spok_err *err)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int r = mkdir(path, 0700);
		*p = '/';
		if (r != 0 && errno != EEXIST)
			return spok_err_set(err, SPOK_EIO, "%s: cannot create directory: %s; check permissions or pass --data-dir",
					    path, strerror(errno));
	}
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return spok_err_set(err, SPOK_EIO, "%s: cannot create directory: %s; check permissions or pass --data-dir",
				    path, strerror(errno));
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return spok_err_set(err, SPOK_EIO, "%s: not a directory; pass another --data-dir", path);
	return 0;
}

int spok_data_dir(const char *flag, char **out, struct spok_err *err)
{
	const char *env = getenv("SPOK_DATA_DIR");
	const char *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");
	char *path;

	*out = NULL;
	if (flag && *flag)
		path = xstrdup(flag);
	else if (env && *env)
		path = xstrdup(env);
	else if (xdg && *xdg == '/')
		path = xasprintf("%s/spok", xdg);
	else if (home && *home)
		path = xasprintf("%s/.local/share/spok", home);
	else
		return spok_err_set(err, SPOK_EINVAL, "data dir: HOME is not set; pass --data-dir or set SPOK_DATA_DIR");
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	int result = mkdirs(path, err);
	if (result != 0) {
		free(path);
		return result;
	}
	*out = path;
	return 0;
}

/* ---- open / migrate ---- */

int spok_store_db_fail(struct spok_store *s, struct spok_err *err, const char *what)
{
	int code = sqlite3_errcode(s->db);
	int c = (code == SQLITE_BUSY || code == SQLITE_LOCKED) ? SPOK_EBUSY : SPOK_EIO;

	if (s->readonly && code == SQLITE_READONLY)
		return spok_err_set(err, SPOK_EIO, "%s: %s failed: this user may only read the data dir; "
				    "run it as the owner of the data dir or pass another --data-dir",
				    s->path, what);
	return spok_err_set(err, c, "%s: %s failed: %s; check the file or pass another --data-dir",
			    s->path, what, sqlite3_errmsg(s->db));
}

int spok_store_kept(struct spok_store *s, enum spok_store_stmt which, const char *sql,
		    sqlite3_stmt **st, struct spok_err *err)
{
	if (s->stmt[which] == NULL &&
	    sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[which], NULL) !=
		    SQLITE_OK)
		return spok_store_db_fail(s, err, "preparing a statement");
	*st = s->stmt[which];
	return 0;
}

void spok_store_release(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

int spok_store_exec_sql(struct spok_store *s, const char *sql, const char *what, struct spok_err *err)
{
	spok_store_settle(s);
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return spok_store_db_fail(s, err, what);
	return 0;
}

/* Runs a kept statement without bindings or rows (BEGIN, COMMIT). */
static int step_kept(struct spok_store *s, enum spok_store_stmt which, const char *sql,
		     const char *what, struct spok_err *err)
{
	sqlite3_stmt *st = NULL;
	int result = spok_store_kept(s, which, sql, &st, err);

	if (result != 0)
		return result;
	/* The error is read before the reset, which would leave its own code behind. */
	result = sqlite3_step(st) == SQLITE_DONE ? 0 : spok_store_db_fail(s, err, what);
	spok_store_release(st);
	return result;
}

/* ---- group commit ---- */

/* Records the outcome of the open batch's generation: only a failure needs a slot (a
 * generation without one committed); the failure it replaces is then no longer known. */
static void batch_record(struct spok_store *s, int result, const struct spok_err *err)
{
	struct spok_store_outcome *o = &s->failed[s->nfailed % SPOK_STORE_OUTCOMES];

	if (result == 0)
		return;
	if (o->gen != 0)
		s->fail_known_from = o->gen + 1;
	s->nfailed++;
	o->gen = s->batch_gen;
	o->result = result;
	memset(&o->err, 0, sizeof(o->err));
	if (err != NULL)
		o->err = *err;
}

/* The open batch is lost (a failed write rolled the whole transaction back, or a savepoint
 * could not be undone): its writes fail, and what is left of it is rolled back. */
static void batch_lose(struct spok_store *s, int result, const struct spok_err *err)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	batch_record(s, result, err);
	s->batch = false;
}

/* Commits the open batch now; its outcome is kept for spok_store_batch_outcome. */
static void batch_close(struct spok_store *s)
{
	struct spok_err err = {0};
	int result = s->precommit ? s->precommit(s->precommit_data, &err) : 0;

	if (result == 0)
		result = step_kept(s, SPOK_STORE_ST_COMMIT, "COMMIT", "committing", &err);

	if (result != 0)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	batch_record(s, result, &err);
	s->batch = false;
}

void spok_store_settle(struct spok_store *s)
{
	if (s->batch && !s->batching)
		batch_close(s);
}

int spok_store_batch_begin(struct spok_store *s, struct spok_err *err)
{
	int result;

	/* A write outside the batch whose failure rolled everything back ended it unseen. */
	if (s->batch && sqlite3_get_autocommit(s->db)) {
		struct spok_err lost = {0};

		spok_err_set(&lost, SPOK_EIO, "committing: the store's transaction was rolled back "
			     "by a failed write; see the errors logged before");
		batch_lose(s, SPOK_EIO, &lost);
	}
	if (s->batch)
		return 0;
	result = step_kept(s, SPOK_STORE_ST_BEGIN, "BEGIN IMMEDIATE", "starting a write", err);
	if (result == 0) {
		s->batch = true;
		s->batch_gen++;
	}
	return result;
}

bool spok_store_batch_open(const struct spok_store *s)
{
	return s->batch;
}

uint64_t spok_store_batch_gen(const struct spok_store *s)
{
	return s->batch_gen;
}

int spok_store_batch_outcome(struct spok_store *s, uint64_t gen, struct spok_err *err)
{
	if (gen == 0)
		return 0;
	if (s->batch && s->batch_gen == gen)
		batch_close(s);
	if (gen < s->fail_known_from || gen > s->batch_gen) /* not known to be durable */
		return spok_err_set(err, SPOK_EIO, "committing: the outcome of write batch %llu is no "
				    "longer known; the next rescan reads the store again",
				    (unsigned long long)gen);
	for (size_t i = 0; i < SPOK_STORE_OUTCOMES; i++) {
		const struct spok_store_outcome *o = &s->failed[i];

		if (o->gen != gen)
			continue;
		if (err != NULL)
			*err = o->err;
		return o->result;
	}
	return 0;
}

void spok_store_set_precommit(struct spok_store *s, spok_store_precommit_cb cb, void *data)
{
	s->precommit = cb;
	s->precommit_data = data;
}

int spok_store_batch_commit(struct spok_store *s, struct spok_err *err)
{
	return s->batch ? spok_store_batch_outcome(s, s->batch_gen, err) : 0;
}

/* A write of the batch: in its transaction (opened if need be), under a savepoint. */
static int batch_write(struct spok_store *s, const struct spok_execution *e,
		       int (*write)(struct spok_store *, const struct spok_execution *,
				    struct spok_err *),
		       struct spok_err *err)
{
	int result = spok_store_batch_begin(s, err);

	if (result != 0)
		return result;
	s->batching = true;
	result = write(s, e, err);
	s->batching = false;
	/* Some errors (I/O, a full disk) roll the whole transaction back: the batch's earlier
	 * writes are gone too, so its outcome must fail them. */
	if (result != 0 && s->batch && sqlite3_get_autocommit(s->db))
		batch_lose(s, result, err);
	return result;
}

int spok_store_batch_insert(struct spok_store *s, const struct spok_execution *e,
			    struct spok_err *err)
{
	return batch_write(s, e, spok_store_insert, err);
}

int spok_store_batch_update(struct spok_store *s, const struct spok_execution *e,
			    struct spok_err *err)
{
	return batch_write(s, e, spok_store_update, err);
}

int spok_store_begin_write(struct spok_store *s, const char *what, struct spok_err *err)
{
	if (s->batching)
		return step_kept(s, SPOK_STORE_ST_SAVEPOINT, "SAVEPOINT spok_w", what, err);
	spok_store_settle(s);
	return step_kept(s, SPOK_STORE_ST_BEGIN, "BEGIN IMMEDIATE", what, err);
}

/* Ends a BEGIN IMMEDIATE write: COMMIT after success, ROLLBACK after any failure (the
 * COMMIT's own included), so no failed write leaves a transaction open. Inside a batch:
 * RELEASE, or ROLLBACK TO and RELEASE (the batch's other writes stay). */
int spok_store_end_write(struct spok_store *s, int result, struct spok_err *err)
{
	if (s->batching) {
		if (result == 0)
			return step_kept(s, SPOK_STORE_ST_RELEASE, "RELEASE spok_w", "committing", err);
		if (!sqlite3_get_autocommit(s->db)) {
			struct spok_err undo = {0};

			/* a savepoint that cannot be undone would commit half a write with the
			 * batch: the batch is lost instead */
			if (step_kept(s, SPOK_STORE_ST_ROLLBACK_TO, "ROLLBACK TO spok_w", "rolling back",
				      &undo) != 0 ||
			    step_kept(s, SPOK_STORE_ST_RELEASE, "RELEASE spok_w", "rolling back",
				      &undo) != 0)
				batch_lose(s, result, err);
		}
		return result;
	}
	if (result == 0)
		result = step_kept(s, SPOK_STORE_ST_COMMIT, "COMMIT", "committing", err);
	if (result != 0)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return result;
}

static int user_version(struct spok_store *s, int *out, struct spok_err *err)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return spok_store_db_fail(s, err, "reading schema version");
	int r = sqlite3_step(st);
	*out = r == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return r == SQLITE_ROW ? 0 : spok_store_db_fail(s, err, "reading schema version");
}

/* Applies pending migrations in one IMMEDIATE transaction, so two processes opening a
 * fresh database at once cannot both migrate. */
static int migrate(struct spok_store *s, struct spok_err *err)
{
	int v = 0;
	int result = spok_store_exec_sql(s, "BEGIN IMMEDIATE", "starting migration", err);
	if (result != 0)
		return result;
	result = user_version(s, &v, err);
	if (result != 0)
		goto fail;
	if (v > SPOK_STORE_SCHEMA_VERSION) {
		result = spok_err_set(err, SPOK_EINVAL, "%s: schema version %d is newer than this spok (%d); upgrade spok or use another --data-dir",
				      s->path, v, SPOK_STORE_SCHEMA_VERSION);
		goto fail;
	}
	for (; v < SPOK_STORE_SCHEMA_VERSION; v++) {
		result = spok_store_exec_sql(s, migrations[v], "migrating schema", err);
		if (result != 0)
			goto fail;
		char pragma[64];
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
		result = spok_store_exec_sql(s, pragma, "migrating schema", err);
		if (result != 0)
			goto fail;
	}
	return spok_store_exec_sql(s, "COMMIT", "committing migration", err);
fail:
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return result;
}

int spok_store_open_file(const char *db_path, struct spok_store **out, struct spok_err *err)
{
	struct spok_store *s = xcalloc(1, sizeof(*s));
	int result;

	*out = NULL;
	s->path = xstrdup(db_path);
	s->busy_ms = BUSY_TIMEOUT_MS;
	if (sqlite3_open_v2(db_path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		result = spok_store_db_fail(s, err, "opening the database");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, s->busy_ms);
	sqlite3_extended_result_codes(s->db, 0);
	result = spok_store_exec_sql(s, "PRAGMA journal_mode=WAL", "enabling WAL", err);
	if (result == 0)
		result = spok_store_exec_sql(s, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON", "configuring", err);
	if (result == 0)
		result = migrate(s, err);
	if (result != 0)
		goto fail;
	*out = s;
	return 0;
fail:
	spok_store_close(s);
	return result;
}

int spok_store_open(const char *data_dir, struct spok_store **out, struct spok_err *err)
{
	char *path = xasprintf("%s/spok.db", data_dir);
	int result = spok_store_open_file(path, out, err);
	free(path);
	return result;
}

/* ---- read-only open ---- */

/* "file:" URI of a path: every byte but [A-Za-z0-9/._~-] percent-encoded, so '?', '#' and
 * '%' in a directory name stay part of the path. */
static char *file_uri(const char *path, const char *query)
{
	static const char hex[] = "0123456789ABCDEF";
	struct spok_buf b;

	spok_buf_init(&b, 0);
	spok_buf_appends(&b, "file:");
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("/._~-", *p))
			spok_buf_printf(&b, "%c", *p);
		else
			spok_buf_printf(&b, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
	}
	spok_buf_printf(&b, "?%s", query);
	return spok_buf_detach(&b);
}

/* The schema must be this spok's: a read-only store cannot migrate. */
static int check_version(struct spok_store *s, const char *dir, struct spok_err *err)
{
	int v = 0;
	int result = user_version(s, &v, err);

	if (result != 0)
		return result;
	if (v > SPOK_STORE_SCHEMA_VERSION)
		return spok_err_set(err, SPOK_EINVAL, "%s: schema version %d is newer than this spok (%d); "
				    "upgrade spok or use another --data-dir", s->path, v, SPOK_STORE_SCHEMA_VERSION);
	if (v < SPOK_STORE_SCHEMA_VERSION)
		return spok_err_set(err, SPOK_EINVAL, "%s: schema version %d needs an upgrade to %d, which "
				    "needs write access to %s; run any spok command there once as its owner",
				    s->path, v, SPOK_STORE_SCHEMA_VERSION, dir);
	return 0;
}

static int open_ro(struct spok_store *s, const char *query)
{
	char *uri = file_uri(s->path, query);
	int r;

	sqlite3_close(s->db);
	s->db = NULL;
	r = sqlite3_open_v2(uri, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
	free(uri);
	if (r == SQLITE_OK) {
		sqlite3_busy_timeout(s->db, s->busy_ms);
		sqlite3_extended_result_codes(s->db, 0);
	}
	return r;
}

/* Read-only: "mode=ro" reads the write-ahead log too, but SQLite needs to create the -shm
 * (and -wal) files for it when they are not there. In a directory this user cannot write,
 * with no -wal file, everything is in the main file (the last writer checkpointed it when
 * it closed): "immutable=1" reads it without any side file. A -wal file that cannot be read
 * this way holds rows the main file lacks, so that is an error, never a stale answer. */
static int open_readonly(struct spok_store *s, const char *dir, struct spok_err *err)
{
	char *wal = xasprintf("%s-wal", s->path);
	bool has_wal = access(wal, F_OK) == 0;
	int v = 0, result;

	s->readonly = true;
	if (open_ro(s, "mode=ro") == SQLITE_OK && user_version(s, &v, NULL) == 0) {
		result = check_version(s, dir, err);
	} else if (has_wal) {
		result = spok_err_set(err, SPOK_EIO, "%s: cannot read its write-ahead log %s without write "
				      "access to %s; run the command as the owner of the data dir (any spok "
				      "command there merges the log into the database)", s->path, wal, dir);
	} else if (access(s->path, R_OK) != 0) {
		result = spok_err_set(err, errno == ENOENT ? SPOK_ENOTFOUND : SPOK_EIO,
				      "%s: %s; nothing has run with this data dir yet, or pass another --data-dir",
				      s->path, strerror(errno));
	} else if (open_ro(s, "immutable=1") != SQLITE_OK) {
		result = spok_store_db_fail(s, err, "opening the database read-only");
	} else {
		result = check_version(s, dir, err);
	}
	free(wal);
	return result;
}

/* Whether this process may create and write files in dir and write path (when it exists). */
static bool writable(const char *dir, const char *path)
{
	return access(dir, W_OK) == 0 && (access(path, W_OK) == 0 || errno == ENOENT);
}

int spok_store_open_reader(const char *data_dir, struct spok_store **out, struct spok_err *err)
{
	char *path = xasprintf("%s/spok.db", data_dir);
	struct spok_store *s;
	int result;

	*out = NULL;
	if (writable(data_dir, path)) {
		result = spok_store_open_file(path, out, err);
		free(path);
		return result;
	}
	s = xcalloc(1, sizeof(*s));
	s->path = path;
	s->busy_ms = BUSY_TIMEOUT_MS;
	result = open_readonly(s, data_dir, err);
	if (result != 0) {
		spok_store_close(s);
		return result;
	}
	*out = s;
	return 0;
}

bool spok_store_readonly(const struct spok_store *s)
{
	return s->readonly;
}

void spok_store_set_busy_timeout(struct spok_store *s, int ms)
{
	s->busy_ms = ms;
	sqlite3_busy_timeout(s->db, ms);
}

void spok_store_close(struct spok_store *s)
{
	if (!s)
		return;
	spok_store_settle(s); /* what a batch wrote was meant to last */
	for (size_t i = 0; i < SPOK_STORE_NSTMT; i++)
		sqlite3_finalize(s->stmt[i]);
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

/* ---- ids ---- */

int spok_store_new_id(char *buf, size_t len, struct spok_err *err)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	unsigned char rnd[10];

	if (len < SPOK_EXEC_ID_LEN + 1)
		return spok_err_set(err, SPOK_EINTERNAL, "execution id: buffer too small");
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return spok_err_set(err, SPOK_EIO, "/dev/urandom: %s; cannot make an execution id", strerror(errno));
	ssize_t n = read(fd, rnd, sizeof(rnd));
	close(fd);
	if (n != (ssize_t)sizeof(rnd))
		return spok_err_set(err, SPOK_EIO, "/dev/urandom: short read; cannot make an execution id");
	memcpy(buf, "sp-", 3);
	for (size_t i = 0; i < 10; i++)
		buf[3 + i] = alphabet[rnd[i] & 31];
	buf[SPOK_EXEC_ID_LEN] = '\0';
	return 0;
}

/* ---- binding and reading rows ---- */

static void bind_col(sqlite3_stmt *st, int idx, const struct col *c, const struct spok_execution *e)
{
	const char *base = (const char *)e;
	const void *f = base + c->off;

	switch (c->kind) {
	case C_STR: {
		const char *v = *(char *const *)f;
		if (v)
			sqlite3_bind_text(st, idx, v, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(st, idx);
		break;
	}
	case C_U32: sqlite3_bind_int64(st, idx, *(const uint32_t *)f); break;
	case C_I64: sqlite3_bind_int64(st, idx, *(const int64_t *)f); break;
	case C_U64: sqlite3_bind_int64(st, idx, (sqlite3_int64)*(const uint64_t *)f); break;
	case C_BOOL: sqlite3_bind_int(st, idx, *(const bool *)f ? 1 : 0); break;
	case C_PHASE: sqlite3_bind_text(st, idx, spok_phase_name(*(const enum spok_phase *)f), -1, SQLITE_STATIC); break;
	case C_EXIT:
		if (e->has_exit_code)
			sqlite3_bind_int(st, idx, e->exit_code);
		else
			sqlite3_bind_null(st, idx);
		break;
	}
}

static char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? xstrdup((const char *)t) : NULL;
}

static void read_col(sqlite3_stmt *st, int i, const struct col *c, struct spok_execution *e)
{
	char *base = (char *)e;
	void *f = base + c->off;

	switch (c->kind) {
	case C_STR: *(char **)f = col_text(st, i); break;
	case C_U32: *(uint32_t *)f = (uint32_t)sqlite3_column_int64(st, i); break;
	case C_I64: *(int64_t *)f = sqlite3_column_int64(st, i); break;
	case C_U64: *(uint64_t *)f = (uint64_t)sqlite3_column_int64(st, i); break;
	case C_BOOL: *(bool *)f = sqlite3_column_int(st, i) != 0; break;
	case C_PHASE: {
		const unsigned char *t = sqlite3_column_text(st, i);
		enum spok_phase p = SPOK_PHASE_UNDEFINED;
		if (t)
			spok_phase_parse((const char *)t, &p);
		*(enum spok_phase *)f = p;
		break;
	}
	case C_EXIT:
		e->has_exit_code = sqlite3_column_type(st, i) != SQLITE_NULL;
		e->exit_code = e->has_exit_code ? sqlite3_column_int(st, i) : 0;
		break;
	}
}

static void read_row(sqlite3_stmt *st, struct spok_execution *e)
{
	memset(e, 0, sizeof(*e));
	for (size_t i = 0; i < NCOLS; i++)
		read_col(st, (int)i, &cols[i], e);
}

static char *select_sql(const char *tail)
{
	struct spok_buf b;
	spok_buf_init(&b, 0);
	spok_buf_appends(&b, "SELECT ");
	for (size_t i = 0; i < NCOLS; i++)
		spok_buf_printf(&b, "%s%s", i ? ", " : "", cols[i].name);
	spok_buf_printf(&b, " FROM executions %s", tail);
	return spok_buf_detach(&b);
}

int spok_store_prepare(struct spok_store *s, const char *sql, sqlite3_stmt **st, struct spok_err *err)
{
	spok_store_settle(s);
	if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
		return spok_store_db_fail(s, err, "preparing a statement");
	return 0;
}

/* Runs one write statement inside BEGIN IMMEDIATE ... COMMIT. */
int spok_store_step_done(struct spok_store *s, sqlite3_stmt *st, const char *what, struct spok_err *err)
{
	int r = sqlite3_step(st);
	if (r == SQLITE_DONE)
		return 0;
	if (r == SQLITE_CONSTRAINT)
		return spok_err_set(err, SPOK_ECONFLICT, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
	return spok_store_db_fail(s, err, what);
}

int spok_store_insert(struct spok_store *s, const struct spok_execution *e, struct spok_err *err)
{
	struct spok_buf b;
	sqlite3_stmt *st = NULL;
	int result;

	if (!e->id)
		return spok_err_set(err, SPOK_EINTERNAL, "store insert: execution has no id");
	spok_buf_init(&b, 0);
	if (s->stmt[SPOK_STORE_ST_INSERT] == NULL) { /* the SQL is only needed to prepare it */
		spok_buf_appends(&b, "INSERT INTO executions (");
		for (size_t i = 0; i < NCOLS; i++)
			spok_buf_printf(&b, "%s%s", i ? ", " : "", cols[i].name);
		spok_buf_appends(&b, ") VALUES (");
		for (size_t i = 0; i < NCOLS; i++)
			spok_buf_printf(&b, "%s?", i ? ", " : "");
		spok_buf_appends(&b, ")");
	}
	result = spok_store_kept(s, SPOK_STORE_ST_INSERT, b.data, &st, err);
	spok_buf_free(&b);
	if (result != 0)
		return result;
	for (size_t i = 0; i < NCOLS; i++)
		bind_col(st, (int)i + 1, &cols[i], e);
	result = spok_store_begin_write(s, "starting a write", err);
	if (result == 0)
		result = spok_store_step_done(s, st, "inserting an execution", err);
	spok_store_release(st); /* before the COMMIT: a statement still stepping would block it */
	result = spok_store_end_write(s, result, err);
	return result;
}

static bool update_skips(const struct col *c)
{
	return strcmp(c->name, "id") == 0 || strcmp(c->name, "abort_requested") == 0 ||
	       strcmp(c->name, "created_ms") == 0 || strcmp(c->name, "idempotency_key") == 0 ||
	       strcmp(c->name, "submission") == 0;
}

/* The columns the indexes (and the partial indexes' WHERE: UNFINISHED_SQL, ABORT_PENDING_SQL)
 * and the phase-count trigger read, besides the ones update_skips never writes. An UPDATE
 * that names one rewrites the entries of every index holding it even when the value stays,
 * and most updates (a create confirmed, a message, links) change none of them. */
static bool update_keyed(const struct col *c)
{
	static const char *const keyed[] = {"project",	   "backend",	     "attempt",
					    "max_attempts", "phase",	     "supervisor_pid",
					    "supervisor_start"};

	for (size_t i = 0; i < sizeof(keyed) / sizeof(keyed[0]); i++)
		if (strcmp(c->name, keyed[i]) == 0)
			return true;
	return false;
}

bool spok__store_col_keyed(const char *name)
{
	for (size_t i = 0; i < NCOLS; i++)
		if (strcmp(cols[i].name, name) == 0)
			return update_skips(&cols[i]) || update_keyed(&cols[i]);
	return false;
}

/* Whether column i of st holds e's value of c (NULL as NULL). */
static bool col_same(sqlite3_stmt *st, int i, const struct col *c, const struct spok_execution *e)
{
	const void *f = (const char *)e + c->off;
	bool null = sqlite3_column_type(st, i) == SQLITE_NULL; /* before any conversion */
	const char *want, *have;

	switch (c->kind) {
	case C_STR: want = *(char *const *)f; break;
	case C_PHASE: want = spok_phase_name(*(const enum spok_phase *)f); break;
	case C_U32: return !null && sqlite3_column_int64(st, i) == *(const uint32_t *)f;
	case C_I64: return !null && sqlite3_column_int64(st, i) == *(const int64_t *)f;
	case C_U64:
		return !null && sqlite3_column_int64(st, i) == (sqlite3_int64)*(const uint64_t *)f;
	default: return false; /* no keyed column is of another kind */
	}
	have = (const char *)sqlite3_column_text(st, i);
	return want == NULL ? null : !null && have != NULL && strcmp(want, have) == 0;
}

/* *same: the row exists and its keyed columns hold e's values. */
static int keys_same(struct spok_store *s, const struct spok_execution *e, bool *same,
		     struct spok_err *err)
{
	struct spok_buf b;
	sqlite3_stmt *st = NULL;
	int n = 0, r, result;

	spok_buf_init(&b, 0);
	if (s->stmt[SPOK_STORE_ST_KEYS] == NULL) {
		spok_buf_appends(&b, "SELECT ");
		for (size_t i = 0; i < NCOLS; i++)
			if (update_keyed(&cols[i]))
				spok_buf_printf(&b, "%s%s", n++ ? ", " : "", cols[i].name);
		spok_buf_appends(&b, " FROM executions WHERE id = ?");
	}
	result = spok_store_kept(s, SPOK_STORE_ST_KEYS, b.data, &st, err);
	spok_buf_free(&b);
	if (result != 0)
		return result;
	sqlite3_bind_text(st, 1, e->id, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	*same = r == SQLITE_ROW;
	n = 0;
	for (size_t i = 0; i < NCOLS && *same; i++)
		if (update_keyed(&cols[i]))
			*same = col_same(st, n++, &cols[i], e);
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		result = spok_store_db_fail(s, err, "reading an execution");
	spok_store_release(st);
	return result;
}

/* The row's UPDATE, naming the keyed columns too (full) or not. */
static char *update_sql(bool full)
{
	struct spok_buf b;
	int idx = 1;

	spok_buf_init(&b, 0);
	spok_buf_appends(&b, "UPDATE executions SET ");
	for (size_t i = 0; i < NCOLS; i++)
		if (!update_skips(&cols[i]) && (full || !update_keyed(&cols[i])))
			spok_buf_printf(&b, "%s%s = ?", idx++ > 1 ? ", " : "", cols[i].name);
	spok_buf_appends(&b, " WHERE id = ?");
	return spok_buf_detach(&b);
}

static int update_row(struct spok_store *s, const struct spok_execution *e, struct spok_err *err)
{
	enum spok_store_stmt which;
	sqlite3_stmt *st = NULL;
	char *sql = NULL;
	int idx = 1, result;
	bool same = false;

	if ((result = keys_same(s, e, &same, err)) != 0)
		return result;
	which = same ? SPOK_STORE_ST_UPDATE_PLAIN : SPOK_STORE_ST_UPDATE;
	if (s->stmt[which] == NULL) /* the SQL is only needed to prepare it */
		sql = update_sql(!same);
	result = spok_store_kept(s, which, sql, &st, err);
	free(sql);
	if (result != 0)
		return result;
	for (size_t i = 0; i < NCOLS; i++)
		if (!update_skips(&cols[i]) && (!same || !update_keyed(&cols[i])))
			bind_col(st, idx++, &cols[i], e);
	sqlite3_bind_text(st, idx, e->id, -1, SQLITE_STATIC);
	result = spok_store_step_done(s, st, "updating an execution", err);
	if (result == 0 && sqlite3_changes(s->db) == 0)
		result = spok_err_set(err, SPOK_ENOTFOUND, "execution %s: not found; run 'spok list'", e->id);
	spok_store_release(st);
	return result;
}

static int upsert_attempt(struct spok_store *s, const struct spok_execution *e, struct spok_err *err)
{
	sqlite3_stmt *st = NULL;
	int result = spok_store_kept(s, SPOK_STORE_ST_ATTEMPT,
			     "INSERT INTO attempts (execution_id, attempt, phase, reason, started_ms,"
			     " finished_ms, exit_code, log_path) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
			     " ON CONFLICT (execution_id, attempt) DO UPDATE SET phase = excluded.phase,"
			     " reason = excluded.reason, started_ms = excluded.started_ms,"
			     " finished_ms = excluded.finished_ms, exit_code = excluded.exit_code,"
			     " log_path = excluded.log_path",
			     &st, err);
	if (result != 0)
		return result;
	sqlite3_bind_text(st, 1, e->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, e->attempt);
	sqlite3_bind_text(st, 3, spok_phase_name(e->phase), -1, SQLITE_STATIC);
	if (e->reason)
		sqlite3_bind_text(st, 4, e->reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, e->started_ms);
	sqlite3_bind_int64(st, 6, e->finished_ms);
	if (e->has_exit_code)
		sqlite3_bind_int(st, 7, e->exit_code);
	if (e->log_path)
		sqlite3_bind_text(st, 8, e->log_path, -1, SQLITE_STATIC);
	result = spok_store_step_done(s, st, "recording an attempt", err);
	spok_store_release(st);
	return result;
}

int spok_store_update(struct spok_store *s, const struct spok_execution *e, struct spok_err *err)
{
	int result = spok_store_begin_write(s, "starting a write", err);
	if (result != 0)
		return result;
	result = update_row(s, e, err);
	if (result == 0)
		result = upsert_attempt(s, e, err);
	result = spok_store_end_write(s, result, err);
	return result;
}

int spok_store_request_abort(struct spok_store *s, const char *id, struct spok_err *err)
{
	sqlite3_stmt *st = NULL;
	int result = spok_store_prepare(s, "UPDATE executions SET abort_requested = 1 WHERE id = ?", &st, err);
	if (result != 0)
		return result;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	result = spok_store_begin_write(s, "starting a write", err);
	if (result == 0)
		result = spok_store_step_done(s, st, "requesting abort", err);
	if (result == 0 && sqlite3_changes(s->db) == 0)
		result = spok_err_set(err, SPOK_ENOTFOUND, "execution %s: not found; run 'spok list'", id);
	result = spok_store_end_write(s, result, err);
	sqlite3_finalize(st);
	return result;
}

int spok_store_claim(struct spok_store *s, const char *id, struct spok_proc_id from,
		     struct spok_proc_id to, struct spok_err *err)
{
	sqlite3_stmt *st = NULL;
	int result = spok_store_prepare(s, "UPDATE executions SET supervisor_pid = ?1, supervisor_start = ?2"
			     " WHERE id = ?3 AND supervisor_pid = ?4 AND supervisor_start = ?5", &st, err);

	if (result != 0)
		return result;
	sqlite3_bind_int64(st, 1, to.pid);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)to.start);
	sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, from.pid);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)from.start);
	result = spok_store_begin_write(s, "starting a write", err);
	if (result == 0)
		result = spok_store_step_done(s, st, "claiming an execution", err);
	if (result == 0 && sqlite3_changes(s->db) == 0) {
		sqlite3_stmt *q = NULL;

		/* Nothing changed: either the row is gone or another process claimed it. */
		result = spok_store_prepare(s, "SELECT 1 FROM executions WHERE id = ?", &q, err);
		if (result == 0) {
			sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
			result = sqlite3_step(q) == SQLITE_ROW
					 ? spok_err_set(err, SPOK_ECONFLICT, "execution %s: another spok process "
							"took it over first", id)
					 : spok_err_set(err, SPOK_ENOTFOUND, "execution %s: not found; run 'spok list'", id);
		}
		sqlite3_finalize(q);
	}
	result = spok_store_end_write(s, result, err);
	sqlite3_finalize(st);
	return result;
}

/* Exact id first; otherwise a unique prefix (LIKE with escaped wildcards). */
int spok_store_get(struct spok_store *s, const char *id, struct spok_execution *out,
		   struct spok_err *err)
{
	char *sql = select_sql("WHERE id = ?1 OR substr(id, 1, length(?1)) = ?1 ORDER BY id = ?1 DESC LIMIT 2");
	sqlite3_stmt *st = NULL;
	int result = spok_store_prepare(s, sql, &st, err);

	free(sql);
	memset(out, 0, sizeof(*out));
	if (result != 0)
		return result;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		read_row(st, out);
		bool exact = strcmp(out->id, id) == 0;
		if (!exact && *id && sqlite3_step(st) == SQLITE_ROW) {
			spok_execution_free(out);
			result = spok_err_set(err, SPOK_EINVAL, "execution %s: prefix matches several executions; give more of the id", id);
		} else if (!*id) {
			spok_execution_free(out);
			result = spok_err_set(err, SPOK_EINVAL, "execution id: empty; run 'spok list' for ids");
		}
	} else if (r == SQLITE_DONE) {
		result = spok_err_set(err, SPOK_ENOTFOUND, "execution %s: not found; run 'spok list' (database %s)", id, s->path);
	} else {
		result = spok_store_db_fail(s, err, "reading an execution");
	}
	sqlite3_finalize(st);
	return result;
}

static int collect(struct spok_store *s, sqlite3_stmt *st, struct spok_execution **out,
		   size_t *n, const char *what, struct spok_err *err);

int spok_store_list(struct spok_store *s, struct spok_execution **out, size_t *n,
		    struct spok_err *err)
{
	char *sql = select_sql("ORDER BY created_ms DESC, id");
	sqlite3_stmt *st = NULL;
	int result = spok_store_prepare(s, sql, &st, err);

	free(sql);
	*out = NULL;
	*n = 0;
	if (result == 0)
		result = collect(s, st, out, n, "listing executions", err);
	sqlite3_finalize(st);
	return result;
}

int spok_store_attempts(struct spok_store *s, const char *id, struct spok_attempt **out,
			size_t *n, struct spok_err *err)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int result = spok_store_prepare(s,
			     "SELECT attempt, phase, reason, started_ms, finished_ms, exit_code, log_path"
			     " FROM attempts WHERE execution_id = ? ORDER BY attempt",
			     &st, err);
	*out = NULL;
	*n = 0;
	if (result != 0)
		return result;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	int r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 4;
			*out = xreallocarray(*out, cap, sizeof(**out));
		}
		struct spok_attempt *a = &(*out)[(*n)++];
		memset(a, 0, sizeof(*a));
		a->attempt = (uint32_t)sqlite3_column_int64(st, 0);
		const unsigned char *ph = sqlite3_column_text(st, 1);
		if (ph)
			spok_phase_parse((const char *)ph, &a->phase);
		a->reason = col_text(st, 2);
		a->started_ms = sqlite3_column_int64(st, 3);
		a->finished_ms = sqlite3_column_int64(st, 4);
		a->has_exit_code = sqlite3_column_type(st, 5) != SQLITE_NULL;
		a->exit_code = sqlite3_column_int(st, 5);
		a->log_path = col_text(st, 6);
	}
	if (r != SQLITE_DONE) {
		result = spok_store_db_fail(s, err, "listing attempts");
		spok_attempts_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	sqlite3_finalize(st);
	return result;
}

/* ---- indexed readers: filters, keyset pages, counts ---- */

/* A statement built from pieces, with its arguments bound in order after prepare. */
struct qarg {
	const char *text; /* NULL: num */
	int64_t num;
};

struct query {
	struct spok_buf sql;
	struct qarg *args;
	size_t n, cap;
};

static void q_init(struct query *q, char *head)
{
	memset(q, 0, sizeof(*q));
	spok_buf_init(&q->sql, 0);
	spok_buf_appends(&q->sql, head);
	free(head);
}

static void q_arg(struct query *q, const char *text, int64_t num)
{
	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 8;
		q->args = xreallocarray(q->args, q->cap, sizeof(*q->args));
	}
	q->args[q->n++] = (struct qarg){text, num};
	spok_buf_appends(&q->sql, "?");
}

static void q_free(struct query *q)
{
	spok_buf_free(&q->sql);
	free(q->args);
}

/* Phase names are constants of [A-Z_], so they go into the SQL as literals, where the
 * planner can see them. No valid bit left means nothing matches. */
static void q_phases(struct query *q, uint32_t phases)
{
	bool first = true;

	spok_buf_appends(&q->sql, " AND phase IN (");
	for (size_t p = 0; p < SPOK_STORE_NPHASES; p++)
		if (phases & SPOK_STORE_PHASE(p)) {
			spok_buf_printf(&q->sql, "%s'%s'", first ? "" : ", ",
					spok_phase_name((enum spok_phase)p));
			first = false;
		}
	spok_buf_appends(&q->sql, first ? "NULL)" : ")");
}

/* Appends " AND ..." terms; the statement already has a WHERE. */
static void q_filter(struct query *q, const struct spok_store_filter *f)
{
	if (f == NULL)
		return;
	if (f->project) {
		spok_buf_appends(&q->sql, " AND project = ");
		q_arg(q, f->project, 0);
	}
	if (f->projects) {
		spok_buf_appends(&q->sql, " AND project IN (");
		for (size_t i = 0; i < f->nprojects; i++) {
			if (i)
				spok_buf_appends(&q->sql, ", ");
			q_arg(q, f->projects[i], 0);
		}
		spok_buf_appends(&q->sql, f->nprojects ? ")" : "NULL)");
	}
	if (f->backend) {
		spok_buf_appends(&q->sql, " AND backend = ");
		q_arg(q, f->backend, 0);
	}
	if (f->phases)
		q_phases(q, f->phases);
}

static int q_prepare(struct spok_store *s, struct query *q, sqlite3_stmt **st,
		     struct spok_err *err)
{
	int result = spok_store_prepare(s, q->sql.data, st, err);

	for (size_t i = 0; result == 0 && i < q->n; i++) {
		if (q->args[i].text)
			sqlite3_bind_text(*st, (int)i + 1, q->args[i].text, -1, SQLITE_STATIC);
		else
			sqlite3_bind_int64(*st, (int)i + 1, q->args[i].num);
	}
	return result;
}

/* Steps st to the end, appending every row to *out. */
static int collect(struct spok_store *s, sqlite3_stmt *st, struct spok_execution **out,
		   size_t *n, const char *what, struct spok_err *err)
{
	size_t cap = 0;
	int r;

	*out = NULL;
	*n = 0;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*out = xreallocarray(*out, cap, sizeof(**out));
		}
		read_row(st, &(*out)[(*n)++]);
	}
	if (r == SQLITE_DONE)
		return 0;
	spok_execution_list_free(*out, *n);
	*out = NULL;
	*n = 0;
	return spok_store_db_fail(s, err, what);
}

static int query_rows(struct spok_store *s, struct query *q, struct spok_execution **out,
		      size_t *n, const char *what, struct spok_err *err)
{
	sqlite3_stmt *st = NULL;
	int result = q_prepare(s, q, &st, err);

	*out = NULL;
	*n = 0;
	if (result == 0)
		result = collect(s, st, out, n, what, err);
	sqlite3_finalize(st);
	return result;
}

/* Cursor: "<created_ms as hex>.<id>.<4 hex check>". The check (FNV-1a folded to 16 bits)
 * catches edited or truncated cursors, so they fail loudly instead of silently paging
 * from somewhere else. It is not a secret: a cursor only names a position, and every
 * page applies the caller's filter again. */
static unsigned cursor_check(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return (h ^ (h >> 16)) & 0xffffu;
}

static char *cursor_make(int64_t created_ms, const char *id)
{
	char *body = xasprintf("%llx.%s", (unsigned long long)created_ms, id);
	char *c = xasprintf("%s.%04x", body, cursor_check(body, strlen(body)));

	free(body);
	return c;
}

#define CURSOR_PARSE_MAX 512

static int cursor_bad(struct spok_err *err)
{
	return spok_err_set(err, SPOK_EINVAL, "cursor: not a position from this list (edited or "
			    "truncated); start again without it");
}

static int cursor_parse(const char *c, int64_t *ms, char **id, struct spok_err *err)
{
	size_t len = strnlen(c, CURSOR_PARSE_MAX + 1);
	const char *dot1 = strchr(c, '.'), *dot2 = strrchr(c, '.');
	unsigned long long v = 0;
	char *end;

	*id = NULL;
	if (len > CURSOR_PARSE_MAX || dot1 == NULL || dot1 == c || dot2 == dot1 ||
	    dot2 == dot1 + 1 || strlen(dot2 + 1) != 4)
		return cursor_bad(err);
	for (const char *p = c; p < dot1; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return cursor_bad(err);
	for (const char *p = dot1 + 1; p < dot2; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return cursor_bad(err);
	if (dot1 - c > 16 || strtoul(dot2 + 1, &end, 16) != cursor_check(c, (size_t)(dot2 - c)) ||
	    *end != '\0' || !isxdigit((unsigned char)dot2[1]))
		return cursor_bad(err);
	for (const char *p = c; p < dot1; p++)
		v = v * 16 + (unsigned long long)(*p <= '9' ? *p - '0' : *p - 'a' + 10);
	*ms = (int64_t)v;
	*id = xstrndup(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	return 0;
}

/* One page's statement: each filter has an index ordered by created_ms (all rows, project,
 * phase, backend). A set of projects (a token's scope) or of phases ("active") is an IN list
 * on such an index's first column: SQLite walks each value's range newest first and stops it
 * once the page's sorter holds `limit` newer rows, so a page costs about (values x page)
 * rows, not the rows of the set (test_page_steps counts it). */
static void q_page(struct query *q, const struct spok_store_filter *f, size_t limit, int64_t ms,
		   const char *after_id)
{
	q_init(q, select_sql("WHERE 1"));
	q_filter(q, f);
	if (after_id) {
		/* "created_ms <= ?" lets the index seek to the cursor instead of walking the
		 * rows of every earlier page. */
		spok_buf_appends(&q->sql, " AND created_ms <= ");
		q_arg(q, NULL, ms);
		spok_buf_appends(&q->sql, " AND (created_ms < ");
		q_arg(q, NULL, ms);
		spok_buf_appends(&q->sql, " OR id > ");
		q_arg(q, after_id, 0);
		spok_buf_appends(&q->sql, ")");
	}
	/* One row more than asked tells whether another page follows. */
	spok_buf_appends(&q->sql, " ORDER BY created_ms DESC, id LIMIT ");
	q_arg(q, NULL, (int64_t)limit + 1);
}

int spok_store_list_page(struct spok_store *s, const struct spok_store_filter *f, size_t limit,
			 const char *after_cursor, struct spok_execution **out, size_t *n,
			 char **next_cursor, struct spok_err *err)
{
	struct query q;
	int64_t ms = 0;
	char *after_id = NULL;
	int result;

	*out = NULL;
	*n = 0;
	if (next_cursor)
		*next_cursor = NULL;
	if (limit == 0 || limit >= (size_t)INT64_MAX)
		return spok_err_set(err, SPOK_EINVAL, "limit: %zu is out of range; ask for 1 or more rows", limit);
	if (after_cursor && *after_cursor &&
	    (result = cursor_parse(after_cursor, &ms, &after_id, err)) != 0)
		return result;
	q_page(&q, f, limit, ms, after_id);
	result = query_rows(s, &q, out, n, "listing executions", err);
	if (result == 0 && *n > limit) {
		spok_execution_free(&(*out)[limit]);
		*n = limit;
		if (next_cursor)
			*next_cursor = cursor_make((*out)[limit - 1].created_ms, (*out)[limit - 1].id);
	}
	q_free(&q);
	free(after_id);
	return result;
}

/* Runs q to the end; *steps = the virtual machine steps it took (SQLite's own work count). */
static int page_steps(struct spok_store *s, struct query *q, uint64_t *steps, struct spok_err *err)
{
	sqlite3_stmt *st = NULL;
	int r, result = q_prepare(s, q, &st, err);

	while (result == 0 && (r = sqlite3_step(st)) != SQLITE_DONE)
		if (r != SQLITE_ROW)
			result = spok_store_db_fail(s, err, "running a page");
	if (result == 0)
		*steps = (uint64_t)sqlite3_stmt_status(st, SQLITE_STMTSTATUS_VM_STEP, 0);
	sqlite3_finalize(st);
	return result;
}

int spok_store_page_plan(struct spok_store *s, const struct spok_store_filter *f, size_t limit,
			 bool after, char **plan, uint64_t *steps, struct spok_err *err)
{
	sqlite3_stmt *st = NULL;
	struct query q;
	struct spok_buf b;
	int r, result;

	*plan = NULL;
	/* a cursor at the far future: the same rows as the first page, through the seek */
	q_page(&q, f, limit, INT64_MAX, after ? "sp-" : NULL);
	result = page_steps(s, &q, steps, err);
	spok_buf_init(&b, 0);
	spok_buf_printf(&b, "EXPLAIN QUERY PLAN %s", q.sql.data);
	spok_buf_free(&q.sql);
	q.sql = b;
	if (result == 0)
		result = q_prepare(s, &q, &st, err);
	spok_buf_init(&b, 0);
	while (result == 0 && (r = sqlite3_step(st)) != SQLITE_DONE) {
		if (r != SQLITE_ROW)
			result = spok_store_db_fail(s, err, "explaining a page");
		else
			spok_buf_printf(&b, "%s\n", (const char *)sqlite3_column_text(st, 3));
	}
	sqlite3_finalize(st);
	q_free(&q);
	if (result == 0)
		*plan = b.data ? spok_buf_detach(&b) : xstrdup("");
	else
		spok_buf_free(&b);
	return result;
}

int spok_store_count_by_phase(struct spok_store *s, const char *backend,
			      uint64_t counts[SPOK_STORE_NPHASES], struct spok_err *err)
{
	sqlite3_stmt *st = NULL;
	int r, result = spok_store_prepare(s, backend ? "SELECT phase, n FROM phase_counts WHERE backend = ?"
					   : "SELECT phase, n FROM phase_counts",
				&st, err);

	memset(counts, 0, SPOK_STORE_NPHASES * sizeof(counts[0]));
	if (result != 0)
		return result;
	if (backend)
		sqlite3_bind_text(st, 1, backend, -1, SQLITE_STATIC);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		enum spok_phase p = SPOK_PHASE_UNDEFINED;

		if (t == NULL || !spok_phase_parse((const char *)t, &p) || (size_t)p >= SPOK_STORE_NPHASES)
			p = SPOK_PHASE_UNDEFINED;
		sqlite3_int64 c = sqlite3_column_int64(st, 1);
		counts[p] += c > 0 ? (uint64_t)c : 0;
	}
	if (r != SQLITE_DONE) {
		memset(counts, 0, SPOK_STORE_NPHASES * sizeof(counts[0]));
		result = spok_store_db_fail(s, err, "counting executions");
	}
	sqlite3_finalize(st);
	return result;
}

int spok_store_list_unfinished(struct spok_store *s, const char *backend,
			       struct spok_execution **out, size_t *n, struct spok_err *err)
{
	struct spok_store_filter f = {.backend = backend};
	struct query q;
	int result;

	/* Named, because without ANALYZE statistics the planner prefers the (backend, phase)
	 * index and then reads every retryable failure of the backend. */
	q_init(&q, select_sql("INDEXED BY executions_unfinished WHERE " UNFINISHED_SQL));
	q_filter(&q, &f);
	spok_buf_appends(&q.sql, " ORDER BY created_ms, id");
	result = query_rows(s, &q, out, n, "listing unfinished executions", err);
	q_free(&q);
	return result;
}

/* Four range searches of the (backend, supervisor) index around `self` (?2, ?3): the rows
 * `self` follows are never read. Scalar ranges, not the row value (pid, start) < (?2, ?3):
 * SQLite seeks on its first column only and would step through every row of pid ?2. */
static char *others_sql(void)
{
	static const char *const ranges[] = {
		"supervisor_pid < ?2", "supervisor_pid > ?2",
		"supervisor_pid = ?2 AND supervisor_start < ?3",
		"supervisor_pid = ?2 AND supervisor_start > ?3"};
	struct spok_buf b;

	spok_buf_init(&b, 0);
	for (size_t i = 0; i < 4; i++) {
		char *tail = xasprintf("INDEXED BY executions_unfinished_sup WHERE " UNFINISHED_SQL
				       " AND backend = ?1 AND %s", ranges[i]);
		char *one = select_sql(tail);

		spok_buf_printf(&b, "%s%s", i ? " UNION ALL " : "", one);
		free(one);
		free(tail);
	}
	return spok_buf_detach(&b);
}

/* A kept statement: the engine runs it every rescan. */
int spok_store_list_unfinished_others(struct spok_store *s, const char *backend,
				      struct spok_proc_id self, struct spok_execution **out,
				      size_t *n, struct spok_err *err)
{
	sqlite3_stmt *st = NULL;
	char *sql = NULL;
	int result;

	*out = NULL;
	*n = 0;
	spok_store_settle(s);
	if (s->stmt[SPOK_STORE_ST_OTHERS] == NULL)
		sql = others_sql();
	result = spok_store_kept(s, SPOK_STORE_ST_OTHERS, sql, &st, err);
	free(sql);
	if (result != 0)
		return result;
	sqlite3_bind_text(st, 1, backend, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, self.pid);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)self.start);
	result = collect(s, st, out, n, "listing unfinished executions of other processes", err);
	spok_store_release(st); /* also ends the read */
	return result;
}

int spok_store_abort_requests(struct spok_store *s, const char *backend, struct spok_strv *ids,
			      struct spok_err *err)
{
	sqlite3_stmt *st = NULL;
	int r, result;

	result = spok_store_kept(s, SPOK_STORE_ST_ABORTS,
				 "SELECT id FROM executions INDEXED BY executions_abort WHERE backend = ?1"
				 " AND " ABORT_PENDING_SQL " ORDER BY id", &st, err);
	if (result != 0)
		return result;
	sqlite3_bind_text(st, 1, backend, -1, SQLITE_TRANSIENT);
	while (result == 0 && (r = sqlite3_step(st)) != SQLITE_DONE) {
		if (r != SQLITE_ROW)
			result = spok_store_db_fail(s, err, "listing abort requests");
		else
			spok_strv_push(ids, (const char *)sqlite3_column_text(st, 0));
	}
	spok_store_release(st); /* also ends the read */
	return result;
}

int spok_store_namespaces(struct spok_store *s, const char *backend, uint32_t phases, bool direct,
			  struct spok_strv *out, struct spok_err *err)
{
	struct spok_store_filter f = {.backend = backend, .phases = phases};
	sqlite3_stmt *st = NULL;
	struct query q;
	int r, result;

	q_init(&q, xstrdup(direct ? "SELECT DISTINCT namespace FROM executions WHERE namespace IS"
				    " NOT NULL AND resource_name IS NOT NULL AND submission IS 'direct'"
				  : "SELECT DISTINCT namespace FROM executions WHERE namespace IS"
				    " NOT NULL AND resource_name IS NOT NULL AND submission IS NOT"
				    " 'direct'"));
	q_filter(&q, &f);
	spok_buf_appends(&q.sql, " ORDER BY namespace");
	result = q_prepare(s, &q, &st, err);
	while (result == 0 && (r = sqlite3_step(st)) != SQLITE_DONE) {
		if (r != SQLITE_ROW)
			result = spok_store_db_fail(s, err, "listing namespaces");
		else
			spok_strv_push(out, (const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	q_free(&q);
	return result;
}

int spok_store_find_key(struct spok_store *s, const char *key, char **id, struct spok_err *err)
{
	sqlite3_stmt *st = NULL;
	int r, result;

	*id = NULL;
	/* Not committing the open batch first (unlike other reads): a burst of keyed submits
	 * then shares one commit. A key found may be in that batch: the caller reads its row
	 * (spok_store_get commits the batch) before it answers with it. */
	result = spok_store_kept(s, SPOK_STORE_ST_FIND_KEY,
				 "SELECT id FROM executions WHERE idempotency_key = ?1", &st, err);
	if (result == 0) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		r = sqlite3_step(st);
		if (r == SQLITE_ROW)
			*id = xstrdup((const char *)sqlite3_column_text(st, 0));
		else if (r != SQLITE_DONE)
			result = spok_store_db_fail(s, err, "looking up an idempotency key");
		spok_store_release(st);
	}
	return result;
}


/* ---- retention ---- */

/* Appends the terms of a row spok_store_gc may delete: terminal, not a retryable failure
 * with attempts left (spok_engine_needs_work, negated), ended before before_ms. The
 * created_ms term lets an index on created_ms narrow the scan (a row ends after it starts). */
static void q_gc_due(struct query *q, int64_t before_ms)
{
	uint32_t done = 0;

	for (size_t p = 0; p < SPOK_STORE_NPHASES; p++)
		if (spok_phase_terminal((enum spok_phase)p))
			done |= SPOK_STORE_PHASE(p);
	q_phases(q, done);
	spok_buf_appends(&q->sql, " AND created_ms < ");
	q_arg(q, NULL, before_ms);
	spok_buf_appends(&q->sql, " AND max(finished_ms, created_ms) < ");
	q_arg(q, NULL, before_ms);
	spok_buf_appends(&q->sql, " AND NOT (phase = 'RETRYABLE_FAILURE' AND attempt < max_attempts - 1"
			    " AND abort_requested = 0)");
}

struct gc_row {
	char *id;
	char *task_source;
	bool keep; /* skipped this time: its files could not all go */
};

static void gc_rows_free(struct gc_row *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].id);
		free(v[i].task_source);
	}
	free(v);
}

static int gc_candidates(struct spok_store *s, int64_t before_ms, size_t batch,
			 struct gc_row **out, size_t *n, struct spok_err *err)
{
	sqlite3_stmt *st = NULL;
	struct query q;
	int r, result;

	*out = NULL;
	*n = 0;
	q_init(&q, xstrdup("SELECT id, task_source FROM executions WHERE 1"));
	q_gc_due(&q, before_ms);
	/* No ORDER BY: any due rows will do, and the scan stops after batch of them. */
	spok_buf_appends(&q.sql, " LIMIT ");
	q_arg(&q, NULL, (int64_t)batch);
	result = q_prepare(s, &q, &st, err);
	if (result == 0)
		*out = xcalloc(batch, sizeof(**out));
	while (result == 0 && (r = sqlite3_step(st)) != SQLITE_DONE) {
		if (r != SQLITE_ROW || *n == batch) {
			result = spok_store_db_fail(s, err, "finding finished executions");
			break;
		}
		(*out)[*n].id = col_text(st, 0);
		(*out)[(*n)++].task_source = col_text(st, 1);
	}
	sqlite3_finalize(st);
	q_free(&q);
	if (result != 0) {
		gc_rows_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return result;
}

/* An id that is one path component of [A-Za-z0-9_-] (spok's ids are "sp-" + base32). */
static bool gc_id_ok(const char *id)
{
	if (id == NULL || *id == '\0')
		return false;
	for (const char *p = id; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return false;
	return true;
}

/* Whether a live process holds the run's supervisor lock (src/local takes an exclusive
 * flock on <run dir>/supervisor.lock until the end is recorded). */
static bool gc_run_held(const char *run)
{
	char *lock = xasprintf("%s/supervisor.lock", run);
	int fd = open(lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	bool held = false;

	if (fd >= 0) {
		held = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
		close(fd);
	}
	free(lock);
	return held;
}

/* Removes name (relative to parent) and everything under it without following a symlink:
 * 0, or an errno. Run dirs are flat; the depth bound only stops a pathological tree. */
static int rm_tree_at(int parent, const char *name, int depth)
{
	struct dirent *de;
	DIR *d;
	int fd, result = 0;

	if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return errno;
	if (depth > 16)
		return ELOOP;
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno;
	d = fdopendir(fd);
	if (d == NULL) {
		result = errno;
		close(fd);
		return result;
	}
	while (result == 0 && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			result = rm_tree_at(dirfd(d), de->d_name, depth + 1);
	closedir(d);
	if (result == 0 && unlinkat(parent, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
		result = errno;
	return result;
}

/* What the data dir holds for one row: its run dir and, when task_source is the daemon's
 * copy (a file directly in <data dir>/server/tasks, compared by real path), that file.
 * False when the row must stay: a live supervisor, or a file that would not go. */
static bool gc_files(const char *dir, const char *tasks_real, struct gc_row *row, size_t *files)
{
	char *run = xasprintf("%s/runs/%s", dir, row->id);
	const char *base = row->task_source ? strrchr(row->task_source, '/') : NULL;
	struct stat st;
	bool ok = !gc_run_held(run);

	if (ok && lstat(run, &st) == 0) {
		ok = rm_tree_at(AT_FDCWD, run, 0) == 0;
		*files += ok;
	}
	if (ok && tasks_real && base && base > row->task_source && base[1]) {
		char *parent = xstrndup(row->task_source, (size_t)(base - row->task_source));
		char *real = realpath(parent, NULL);

		if (real && strcmp(real, tasks_real) == 0) {
			char *f = xasprintf("%s/%s", tasks_real, base + 1);

			if (unlink(f) == 0)
				(*files)++;
			else
				ok = errno == ENOENT;
			free(f);
		}
		free(real);
		free(parent);
	}
	free(run);
	return ok;
}

/* Deletes the rows not kept, each only if still due, in one write transaction. */
static int gc_delete(struct spok_store *s, int64_t before_ms, const struct gc_row *v, size_t n,
		     size_t *rows, struct spok_err *err)
{
	sqlite3_stmt *st = NULL;
	struct query q;
	int result;

	q_init(&q, xstrdup("DELETE FROM executions WHERE id = "));
	q_arg(&q, "", 0);
	q_gc_due(&q, before_ms);
	result = q_prepare(s, &q, &st, err);
	if (result == 0)
		result = spok_store_begin_write(s, "starting a write", err);
	for (size_t i = 0; result == 0 && i < n; i++) {
		if (v[i].keep)
			continue;
		sqlite3_bind_text(st, 1, v[i].id, -1, SQLITE_STATIC);
		result = spok_store_step_done(s, st, "deleting finished executions", err);
		*rows += result == 0 ? (size_t)sqlite3_changes(s->db) : 0;
		sqlite3_reset(st);
	}
	if (st != NULL)
		result = spok_store_end_write(s, result, err);
	if (result != 0)
		*rows = 0;
	sqlite3_finalize(st);
	q_free(&q);
	return result;
}

int spok_store_gc(struct spok_store *s, int64_t before_ms, size_t batch,
		  struct spok_store_gc_result *out, struct spok_err *err)
{
	const char *slash = strrchr(s->path, '/');
	struct gc_row *v = NULL;
	size_t n = 0;
	int result;

	memset(out, 0, sizeof(*out));
	if (batch == 0 || batch > INT32_MAX)
		return spok_err_set(err, SPOK_EINVAL, "gc batch: %zu is out of range; use 1 or more", batch);
	if (s->readonly)
		return spok_err_set(err, SPOK_EIO, "%s: deleting finished executions needs write access; "
				    "run it as the owner of the data dir", s->path);
	result = gc_candidates(s, before_ms, batch, &v, &n, err);
	if (result != 0 || n == 0) {
		gc_rows_free(v, n);
		return result;
	}
	char *dir = slash == NULL ? xstrdup(".") : slash == s->path ? xstrdup("/")
		  : xstrndup(s->path, (size_t)(slash - s->path));
	char *tasks = xasprintf("%s/server/tasks", dir);
	char *tasks_real = realpath(tasks, NULL);

	for (size_t i = 0; i < n; i++) {
		v[i].keep = !gc_id_ok(v[i].id) || !gc_files(dir, tasks_real, &v[i], &out->files);
		out->skipped += v[i].keep;
	}
	result = gc_delete(s, before_ms, v, n, &out->rows, err);
	/* A full batch that deleted something may have more behind it; one that deleted
	 * nothing would only find the same kept rows again. */
	out->more = result == 0 && n == batch && out->rows > 0;
	free(tasks_real);
	free(tasks);
	free(dir);
	gc_rows_free(v, n);
	return result;
}
