/* test_store.c - the SQLite execution store: round trips, migrations, prefix lookup,
 * concurrent writers on separate connections, and crash safety of writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ctype.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "store/internal.h"
#include "store/store.h"

static char *make_tmpdir(void)
{
	char tmpl[] = "/tmp/spok-store-XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	return xstrdup(d);
}

static void rm_rf(const char *dir)
{
	char *db = xasprintf("%s/spok.db", dir), *wal = xasprintf("%s/spok.db-wal", dir),
	     *shm = xasprintf("%s/spok.db-shm", dir);
	unlink(db);
	unlink(wal);
	unlink(shm);
	rmdir(dir);
	free(db);
	free(wal);
	free(shm);
}

static void fill(struct spok_execution *e, const char *id)
{
	memset(e, 0, sizeof(*e));
	e->id = xstrdup(id);
	e->task_name = xstrdup("pi");
	e->project = xstrdup("spok");
	e->domain = xstrdup("development");
	e->backend = xstrdup("local");
	e->max_attempts = 2;
	e->phase = SPOK_PHASE_QUEUED;
	e->created_ms = spok_now_ms();
	e->log_path = xstrdup("/tmp/x.log");
}

/* Whether word occurs in text with no identifier character on either side. */
static bool has_word(const char *text, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = strstr(text, word); p != NULL; p = strstr(p + 1, word)) {
		bool before = p > text && (p[-1] == '_' || isalnum((unsigned char)p[-1]));
		bool after = p[n] == '_' || isalnum((unsigned char)p[n]);

		if (!before && !after)
			return true;
	}
	return false;
}

/* The row update leaves out the keyed columns when they are unchanged: every column an index
 * or a trigger of executions reads must be one of them, and updates of either kind land. */
static void test_update_keyed(void **state)
{
	(void)state;
	char *dir = make_tmpdir(), *path = xasprintf("%s/spok.db", dir);
	struct spok_store *s = NULL;
	struct spok_err err = {0};
	struct spok_execution e, got;
	uint64_t counts[SPOK_STORE_NPHASES];
	sqlite3 *db = NULL;
	sqlite3_stmt *cols = NULL, *sqls = NULL;

	assert_int_equal(spok_store_open(dir, &s, &err), 0);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info('executions')",
					    -1, &cols, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE tbl_name = "
					    "'executions' AND type IN ('index', 'trigger') AND sql "
					    "IS NOT NULL", -1, &sqls, NULL), SQLITE_OK);
	while (sqlite3_step(cols) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(cols, 0);

		while (sqlite3_step(sqls) == SQLITE_ROW)
			if (has_word((const char *)sqlite3_column_text(sqls, 0), name) &&
			    !spok__store_col_keyed(name))
				fail_msg("column %s is read by %s", name, sqlite3_column_text(sqls, 0));
		sqlite3_reset(sqls);
	}
	sqlite3_finalize(cols);
	sqlite3_finalize(sqls);
	sqlite3_close(db);

	fill(&e, "sp-keyedaaaa");
	assert_int_equal(spok_store_insert(s, &e, &err), 0);
	e.started_ms = 42; /* plain columns only */
	e.error_message = xstrdup("created");
	assert_int_equal(spok_store_update(s, &e, &err), 0);
	e.phase = SPOK_PHASE_RUNNING; /* a keyed one too */
	e.supervisor_pid = 7;
	e.started_ms = 43;
	assert_int_equal(spok_store_update(s, &e, &err), 0);
	assert_int_equal(spok_store_get(s, e.id, &got, &err), 0);
	assert_int_equal(got.phase, SPOK_PHASE_RUNNING);
	assert_int_equal(got.supervisor_pid, 7);
	assert_int_equal(got.started_ms, 43);
	assert_string_equal(got.error_message, "created");
	spok_execution_free(&got);
	assert_int_equal(spok_store_count_by_phase(s, "local", counts, &err), 0);
	assert_int_equal(counts[SPOK_PHASE_RUNNING], 1);
	assert_int_equal(counts[SPOK_PHASE_QUEUED], 0);
	e.attempt = 1; /* keyed, and the attempt row follows */
	free(e.project);
	e.project = NULL;
	assert_int_equal(spok_store_update(s, &e, &err), 0);
	assert_int_equal(spok_store_get(s, e.id, &got, &err), 0);
	assert_int_equal(got.attempt, 1);
	assert_null(got.project);
	spok_execution_free(&got);
	free(e.id);
	e.id = xstrdup("sp-keyedzzzz"); /* no such row: either statement says so */
	assert_int_equal(spok_store_update(s, &e, &err), SPOK_ENOTFOUND);
	spok_execution_free(&e);
	spok_store_close(s);
	rm_rf(dir);
	free(dir);
	free(path);
}

static void test_roundtrip(void **state)
{
	(void)state;
	char *dir = make_tmpdir();
	struct spok_store *s = NULL;
	struct spok_err err = {0};
	struct spok_execution e, got;

	assert_int_equal(spok_store_open(dir, &s, &err), 0);
	fill(&e, "sp-aaaaaaaaaa");
	assert_int_equal(spok_store_insert(s, &e, &err), 0);
	assert_int_equal(spok_store_insert(s, &e, &err), SPOK_ECONFLICT);

	e.phase = SPOK_PHASE_SUCCEEDED;
	e.has_exit_code = true;
	e.exit_code = 0;
	e.ui_url = xstrdup("http://127.0.0.1:4040");
	e.outputs_json = xstrdup("{\"o0\": 3.14}");
	e.proc_start = 123456789012ULL;
	assert_int_equal(spok_store_request_abort(s, e.id, &err), 0);
	assert_int_equal(spok_store_update(s, &e, &err), 0); /* must not clear the abort flag */

	assert_int_equal(spok_store_get(s, "sp-aaa", &got, &err), 0); /* unique prefix */
	assert_string_equal(got.id, "sp-aaaaaaaaaa");
	assert_int_equal(got.phase, SPOK_PHASE_SUCCEEDED);
	assert_true(got.has_exit_code);
	assert_true(got.abort_requested);
	assert_int_equal(got.proc_start, 123456789012ULL);
	assert_string_equal(got.ui_url, "http://127.0.0.1:4040");
	assert_null(got.reason);
	assert_non_null(strstr(got.outputs_json, "o0"));
	assert_int_equal(got.finished_ms, 0);
	spok_execution_free(&got);

	struct spok_attempt *a = NULL;
	size_t na = 0;
	assert_int_equal(spok_store_attempts(s, e.id, &a, &na, &err), 0);
	assert_int_equal(na, 1);
	assert_int_equal(a[0].phase, SPOK_PHASE_SUCCEEDED);
	spok_attempts_free(a, na);

	assert_int_equal(spok_store_get(s, "sp-zzz", &got, &err), SPOK_ENOTFOUND);
	assert_non_null(strstr(err.msg, "sp-zzz"));
	spok_execution_free(&e);
	fill(&e, "sp-aaaaaaaaab");
	assert_int_equal(spok_store_insert(s, &e, &err), 0);
	assert_int_equal(spok_store_get(s, "sp-aaa", &got, &err), SPOK_EINVAL);
	assert_int_equal(spok_store_get(s, "sp-aaaaaaaaab", &got, &err), 0);
	spok_execution_free(&got);

	struct spok_execution *list = NULL;
	size_t n = 0;
	assert_int_equal(spok_store_list(s, &list, &n, &err), 0);
	assert_int_equal(n, 2);
	spok_execution_list_free(list, n);
	spok_execution_free(&e);

	spok_store_close(s);
	rm_rf(dir);
	free(dir);
}

static void test_ids(void **state)
{
	(void)state;
	char a[SPOK_EXEC_ID_LEN + 1], b[SPOK_EXEC_ID_LEN + 1];
	assert_int_equal(spok_store_new_id(a, sizeof(a), NULL), 0);
	assert_int_equal(spok_store_new_id(b, sizeof(b), NULL), 0);
	assert_int_equal(strlen(a), SPOK_EXEC_ID_LEN);
	assert_memory_equal(a, "sp-", 3);
	assert_string_not_equal(a, b);
}

/* Undoes schemas v11 (the supervisor index) and v8 (sessions; the session and fallback
 * columns). */
#define DROP_V8 "DROP INDEX executions_unfinished_sup; DROP TABLE sessions;"                         \
	"ALTER TABLE executions DROP COLUMN session;"                                             \
	"ALTER TABLE executions DROP COLUMN fallback;"
/* Undoes schemas v8 (DROP_V8), v7 (submission) and v6 (the phase counters), to make an older store from a current one. */
#define DROP_V6 DROP_V8                                                                           \
	"DROP TRIGGER executions_count_insert; DROP TRIGGER executions_count_delete;"              \
	"DROP TRIGGER executions_count_update; DROP TABLE phase_counts; DROP INDEX executions_backend;" \
	"ALTER TABLE executions DROP COLUMN submission;"

#define KEY_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define KEY_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* Idempotency keys are a UNIQUE column (issue 10): same key, same execution. */
static void test_idempotency_key(void **state)
{
	(void)state;
	char *dir = make_tmpdir();
	struct spok_store *s = NULL;
	struct spok_err err = {0};
	struct spok_execution e;
	char *id = NULL;

	assert_int_equal(spok_store_open(dir, &s, &err), 0);
	fill(&e, "sp-keyedkeyed");
	e.idempotency_key = xstrdup(KEY_A);
	assert_int_equal(spok_store_insert(s, &e, &err), 0);
	e.phase = SPOK_PHASE_RUNNING; /* an update keeps the key */
	free(e.idempotency_key);
	e.idempotency_key = NULL;
	assert_int_equal(spok_store_update(s, &e, &err), 0);
	spok_execution_free(&e);
	assert_int_equal(spok_store_find_key(s, KEY_A, &id, &err), 0);
	assert_string_equal(id, "sp-keyedkeyed");
	free(id);
	assert_int_equal(spok_store_find_key(s, KEY_B, &id, &err), 0);
	assert_null(id);
	fill(&e, "sp-keyedagain");
	e.idempotency_key = xstrdup(KEY_A);
	assert_int_equal(spok_store_insert(s, &e, &err), SPOK_ECONFLICT);
	spok_execution_free(&e);
	fill(&e, "sp-nokeynokey"); /* rows without a key do not collide */
	assert_int_equal(spok_store_insert(s, &e, &err), 0);
	spok_execution_free(&e);
	fill(&e, "sp-nokeynoke2");
	assert_int_equal(spok_store_insert(s, &e, &err), 0);
	spok_execution_free(&e);
	spok_store_close(s);
	rm_rf(dir);
	free(dir);
}

/* Schema 4 -> 5: a keyed row's key came from its task file name k-<hex>.<ext>; the
 * migration moves it into the column, and the first of two rows with one name keeps it. */
static void test_migrate_keys(void **state)
{
	(void)state;
	char *dir = make_tmpdir();
	char *path = xasprintf("%s/spok.db", dir);
	struct spok_store *s = NULL;
	struct spok_err err = {0};
	struct spok_execution e;
	char *id = NULL;
	sqlite3 *db;

	assert_int_equal(spok_store_open(dir, &s, &err), 0);
	fill(&e, "sp-oldkeyed01");
	e.task_source = xstrdup("/d/server/tasks/k-" KEY_A ".yaml");
	assert_int_equal(spok_store_insert(s, &e, &err), 0);
	spok_execution_free(&e);
	fill(&e, "sp-oldkeyed02");
	e.task_source = xstrdup("/d/server/tasks/k-" KEY_A ".yaml");
	assert_int_equal(spok_store_insert(s, &e, &err), 0);
	spok_execution_free(&e);
	fill(&e, "sp-oldkeyed03");
	e.task_source = xstrdup("/d/k-dir/server/tasks/k-" KEY_B ".ctr");
	assert_int_equal(spok_store_insert(s, &e, &err), 0);
	spok_execution_free(&e);
	fill(&e, "sp-oldrandom1");
	e.task_source = xstrdup("/d/server/tasks/r-abcdefghij.yaml");
	assert_int_equal(spok_store_insert(s, &e, &err), 0);
	spok_execution_free(&e);
	spok_store_close(s);
	/* Make it a version 4 store: no key column, no key index (and nothing of v6). */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, DROP_V6 "DROP INDEX executions_idempotency;"
				      "ALTER TABLE executions DROP COLUMN idempotency_key;"
				      "CREATE INDEX executions_source ON executions(task_source);"
				      "PRAGMA user_version = 4", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(spok_store_open(dir, &s, &err), 0);
	assert_int_equal(spok_store_find_key(s, KEY_A, &id, &err), 0);
	assert_string_equal(id, "sp-oldkeyed01");
	free(id);
	assert_int_equal(spok_store_find_key(s, KEY_B, &id, &err), 0);
	assert_string_equal(id, "sp-oldkeyed03");
	free(id);
	assert_int_equal(spok_store_get(s, "sp-oldrandom1", &e, &err), 0);
	assert_null(e.idempotency_key);
	spok_execution_free(&e);
	spok_store_close(s);
	rm_rf(dir);
	free(dir);
	free(path);
}

static void test_migrations(void **state)
{
	(void)state;
	char *dir = make_tmpdir();
	char *path = xasprintf("%s/spok.db", dir);
	struct spok_store *s = NULL;
	struct spok_err err = {0};
	sqlite3 *db;

	/* Fresh -> current version. */
	assert_int_equal(spok_store_open(dir, &s, &err), 0);
	spok_store_close(s);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_stmt *st;
	sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), SPOK_STORE_SCHEMA_VERSION);
	sqlite3_finalize(st);
	/* Reopen is a no-op; a newer schema is refused with the path in the message. */
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(spok_store_open(dir, &s, &err), SPOK_EINVAL);
	assert_null(s);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, "newer"));

	/* A non-database file gives an error naming it, not a crash. */
	char *bad = make_tmpdir();
	char *badpath = xasprintf("%s/spok.db", bad);
	FILE *f = fopen(badpath, "w");
	fputs("this is not sqlite, just text that is long enough to be a header......\n", f);
	fclose(f);
	assert_int_not_equal(spok_store_open(bad, &s, &err), 0);
	assert_non_null(strstr(err.msg, badpath));
	unlink(badpath);
	rm_rf(bad);
	free(badpath);
	free(bad);

	rm_rf(dir);
	free(path);
	free(dir);
}

static void test_data_dir(void **state)
{
	(void)state;
	char *dir = make_tmpdir();
	char *want = xasprintf("%s/a/b", dir);
	char *got = NULL;
	struct spok_err err = {0};

	assert_int_equal(spok_data_dir(want, &got, &err), 0);
	assert_string_equal(got, want);
	struct stat st;
	assert_int_equal(stat(got, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	free(got);
	setenv("SPOK_DATA_DIR", want, 1);
	assert_int_equal(spok_data_dir(NULL, &got, &err), 0);
	assert_string_equal(got, want);
	free(got);
	unsetenv("SPOK_DATA_DIR");
	/* A file where the dir should be: clear error naming it. */
	char *file = xasprintf("%s/file", dir);
	fclose(fopen(file, "w"));
	assert_int_not_equal(spok_data_dir(file, &got, &err), 0);
	assert_non_null(strstr(err.msg, file));
	unlink(file);
	rmdir(want);
	char *ab = xasprintf("%s/a", dir);
	rmdir(ab);
	rmdir(dir);
	free(ab);
	free(file);
	free(want);
	free(dir);
}

#define PER_WRITER 100

/* Child: its own connection, PER_WRITER inserts + updates. Exit 0 if all succeeded. */
static void writer(const char *dir, char tag)
{
	struct spok_store *s = NULL;
	if (spok_store_open(dir, &s, NULL) != 0)
		_exit(10);
	for (int i = 0; i < PER_WRITER; i++) {
		char id[32];
		struct spok_execution e;
		snprintf(id, sizeof(id), "sp-%c%09d", tag, i);
		fill(&e, id);
		if (spok_store_insert(s, &e, NULL) != 0)
			_exit(11);
		e.phase = SPOK_PHASE_RUNNING;
		if (spok_store_update(s, &e, NULL) != 0)
			_exit(12);
		spok_execution_free(&e);
	}
	spok_store_close(s);
	_exit(0);
}

static void test_two_connections(void **state)
{
	(void)state;
	char *dir = make_tmpdir();
	struct spok_store *s = NULL;
	assert_int_equal(spok_store_open(dir, &s, NULL), 0);
	spok_store_close(s);

	pid_t p1 = fork();
	if (p1 == 0)
		writer(dir, 'a');
	pid_t p2 = fork();
	if (p2 == 0)
		writer(dir, 'b');
	int st1, st2;
	waitpid(p1, &st1, 0);
	waitpid(p2, &st2, 0);
	assert_true(WIFEXITED(st1) && WEXITSTATUS(st1) == 0);
	assert_true(WIFEXITED(st2) && WEXITSTATUS(st2) == 0);

	struct spok_execution *list = NULL;
	size_t n = 0;
	assert_int_equal(spok_store_open(dir, &s, NULL), 0);
	assert_int_equal(spok_store_list(s, &list, &n, NULL), 0);
	assert_int_equal(n, 2 * PER_WRITER);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(list[i].phase, SPOK_PHASE_RUNNING);
	spok_execution_list_free(list, n);
	spok_store_close(s);
	rm_rf(dir);
	free(dir);
}

/* Another connection holds the write lock: with a short busy timeout, a write fails fast
 * with SPOK_EBUSY (what the daemon answers 503 for) and works again once the lock is gone. */
static void test_busy(void **state)
{
	(void)state;
	char *dir = make_tmpdir(), *db = xasprintf("%s/spok.db", dir);
	struct spok_store *s = NULL;
	struct spok_execution e;
	struct spok_err err = {0};
	sqlite3 *other = NULL;

	assert_int_equal(spok_store_open(dir, &s, NULL), 0);
	spok_store_set_busy_timeout(s, 50);
	assert_int_equal(sqlite3_open(db, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	fill(&e, "sp-busy000001");
	assert_int_equal(spok_store_insert(s, &e, &err), SPOK_EBUSY);
	assert_string_equal(spok_code_name(err.code), "busy");
	assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	assert_int_equal(spok_store_insert(s, &e, &err), 0);
	spok_execution_free(&e);
	spok_store_close(s);
	rm_rf(dir);
	free(db);
	free(dir);
}

static int count_rows(sqlite3 *db, const char *where)
{
	char *sql = xasprintf("SELECT count(*) FROM executions WHERE %s", where);
	sqlite3_stmt *st = NULL;
	int n = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	free(sql);
	return n;
}

static void batch_insert(struct spok_store *s, const char *id, int want)
{
	struct spok_execution e;

	fill(&e, id);
	assert_int_equal(spok_store_batch_insert(s, &e, NULL), want);
	spok_execution_free(&e);
}

/* Group commit: batched writes are invisible to other connections until the batch commits;
 * a failed write undoes only itself; any other use of the store commits the batch first; a
 * COMMIT that fails (here a deferred foreign key, checked only then) loses every write of
 * its batch and says so once. */
static void test_batch(void **state)
{
	(void)state;
	char *dir = make_tmpdir(), *db = xasprintf("%s/spok.db", dir);
	struct spok_store *s = NULL;
	struct spok_execution e, got;
	struct spok_err err = {0};
	sqlite3 *other = NULL;

	assert_int_equal(spok_store_open(dir, &s, NULL), 0);
	assert_int_equal(sqlite3_open(db, &other), SQLITE_OK);
	assert_false(spok_store_batch_open(s));
	assert_int_equal(spok_store_batch_commit(s, &err), 0); /* nothing to commit */

	batch_insert(s, "sp-batch00001", 0);
	batch_insert(s, "sp-batch00002", 0);
	assert_true(spok_store_batch_open(s));
	assert_int_equal(count_rows(other, "id LIKE 'sp-batch%'"), 0);
	batch_insert(s, "sp-batch00001", SPOK_ECONFLICT); /* only this write is undone */
	fill(&e, "sp-missing001");
	assert_int_equal(spok_store_batch_update(s, &e, &err), SPOK_ENOTFOUND);
	spok_execution_free(&e);
	fill(&e, "sp-batch00002");
	e.phase = SPOK_PHASE_RUNNING;
	assert_int_equal(spok_store_batch_update(s, &e, NULL), 0);
	spok_execution_free(&e);
	assert_int_equal(spok_store_batch_commit(s, &err), 0);
	assert_false(spok_store_batch_open(s));
	assert_int_equal(count_rows(other, "id LIKE 'sp-batch%'"), 2);
	assert_int_equal(count_rows(other, "id = 'sp-batch00002' AND phase = 'RUNNING'"), 1);

	/* A read settles the batch: what it sees is durable. */
	batch_insert(s, "sp-batch00003", 0);
	assert_int_equal(spok_store_get(s, "sp-batch00003", &got, NULL), 0);
	spok_execution_free(&got);
	assert_int_equal(count_rows(other, "id = 'sp-batch00003'"), 1);
	assert_true(spok_store_batch_open(s) == false);
	assert_int_equal(spok_store_batch_commit(s, &err), 0);

	/* A COMMIT that fails: rows whose id ends in 'X' add a row whose foreign key is only
	 * checked at COMMIT. */
	assert_int_equal(sqlite3_exec(other,
				      "CREATE TABLE t_parent (id TEXT PRIMARY KEY);"
				      "CREATE TABLE t_child (p TEXT REFERENCES t_parent (id)"
				      " DEFERRABLE INITIALLY DEFERRED);"
				      "CREATE TRIGGER t_bad AFTER INSERT ON executions"
				      " WHEN NEW.id LIKE '%X' BEGIN INSERT INTO t_child VALUES ('none'); END;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	spok_store_close(s); /* a fresh connection sees the new schema */
	assert_int_equal(spok_store_open(dir, &s, NULL), 0);
	batch_insert(s, "sp-batch0004", 0);
	batch_insert(s, "sp-batch000X", 0); /* the statement itself is fine */
	assert_int_equal(spok_store_batch_commit(s, &err), SPOK_EIO);
	assert_non_null(strstr(err.msg, "committing"));
	assert_int_equal(count_rows(other, "id IN ('sp-batch0004', 'sp-batch000X')"), 0);
	assert_int_equal(spok_store_batch_commit(s, &err), 0); /* reported once */
	/* The early commit of a settle that failed is the outcome of that batch's generation,
	 * for every writer that asks (the daemon's engines share one store), as often as they
	 * ask; a later batch that committed is not failed by it. */
	batch_insert(s, "sp-batch001X", 0);
	uint64_t lost = spok_store_batch_gen(s);
	assert_int_equal(spok_store_get(s, "sp-batch00001", &got, NULL), 0);
	spok_execution_free(&got);
	assert_false(spok_store_batch_open(s));
	assert_int_equal(count_rows(other, "id = 'sp-batch001X'"), 0);
	batch_insert(s, "sp-batch0005", 0);
	uint64_t kept = spok_store_batch_gen(s);
	assert_true(kept > lost);
	assert_int_equal(spok_store_batch_outcome(s, kept, &err), 0);
	assert_int_equal(count_rows(other, "id = 'sp-batch0005'"), 1);
	memset(&err, 0, sizeof(err));
	assert_int_equal(spok_store_batch_outcome(s, lost, &err), SPOK_EIO);
	assert_non_null(strstr(err.msg, "committing"));
	assert_int_equal(spok_store_batch_outcome(s, lost, NULL), SPOK_EIO);
	assert_int_equal(spok_store_batch_outcome(s, kept, NULL), 0);
	/* One engine's commit answers another's writes of the same batch. */
	batch_insert(s, "sp-batch0006", 0);
	uint64_t shared = spok_store_batch_gen(s);
	batch_insert(s, "sp-batch007X", 0);
	assert_int_equal(spok_store_batch_gen(s), shared);
	assert_int_equal(spok_store_batch_commit(s, &err), SPOK_EIO);
	assert_int_equal(spok_store_batch_outcome(s, shared, NULL), SPOK_EIO);
	assert_int_equal(count_rows(other, "id = 'sp-batch0006'"), 0);
	/* A batch that committed stays known however many batches follow (an engine that
	 * adopts hundreds of executions writes each in a batch of its own before it asks). */
	for (int i = 0; i < 3 * SPOK_STORE_OUTCOMES; i++) {
		char id[32];

		snprintf(id, sizeof(id), "sp-batch1%03d", i);
		batch_insert(s, id, 0);
		assert_int_equal(spok_store_batch_commit(s, NULL), 0);
	}
	assert_int_equal(spok_store_batch_outcome(s, kept, NULL), 0);
	assert_int_equal(spok_store_batch_outcome(s, lost, NULL), SPOK_EIO);
	/* Once SPOK_STORE_OUTCOMES later batches failed, an older generation is not taken for
	 * durable: neither a failed one nor one that committed. */
	for (int i = 0; i < SPOK_STORE_OUTCOMES; i++) {
		char id[32];

		snprintf(id, sizeof(id), "sp-batch2%03dX", i);
		batch_insert(s, id, 0);
		assert_int_equal(spok_store_batch_commit(s, NULL), SPOK_EIO);
	}
	memset(&err, 0, sizeof(err));
	assert_int_equal(spok_store_batch_outcome(s, kept, &err), SPOK_EIO);
	assert_non_null(strstr(err.msg, "no longer known"));
	memset(&err, 0, sizeof(err));
	assert_int_equal(spok_store_batch_outcome(s, lost, &err), SPOK_EIO);
	assert_non_null(strstr(err.msg, "no longer known"));
	assert_int_equal(spok_store_batch_outcome(s, spok_store_batch_gen(s), &err), SPOK_EIO);
	assert_non_null(strstr(err.msg, "committing"));
	assert_int_equal(spok_store_batch_outcome(s, spok_store_batch_gen(s) + 1, NULL), SPOK_EIO);
	assert_int_equal(spok_store_batch_outcome(s, 0, NULL), 0);

	sqlite3_close(other);
	spok_store_close(s);
	rm_rf(dir);
	free(db);
	free(dir);
}

/* A writer SIGKILLed mid-stream must leave a consistent database: integrity_check ok and
 * every row complete (an execution row always has its attempt row). */
static void test_crash_safety(void **state)
{
	(void)state;
	char *dir = make_tmpdir();
	struct spok_store *s = NULL;
	assert_int_equal(spok_store_open(dir, &s, NULL), 0);
	spok_store_close(s);

	for (int round = 0; round < 3; round++) {
		int pfd[2];
		assert_int_equal(pipe(pfd), 0);
		pid_t p = fork();
		if (p == 0) {
			close(pfd[0]);
			struct spok_store *cs = NULL;
			if (spok_store_open(dir, &cs, NULL) != 0)
				_exit(10);
			for (int i = 0;; i++) {
				char id[32];
				struct spok_execution e;
				snprintf(id, sizeof(id), "sp-%d-%07d", round, i);
				fill(&e, id);
				spok_store_insert(cs, &e, NULL);
				spok_store_update(cs, &e, NULL);
				spok_execution_free(&e);
				if (i == 20 && write(pfd[1], "x", 1) != 1)
					_exit(11);
			}
		}
		close(pfd[1]);
		char c;
		assert_int_equal(read(pfd[0], &c, 1), 1); /* it is writing now */
		close(pfd[0]);
		kill(p, SIGKILL);
		waitpid(p, NULL, 0);
	}

	char *path = xasprintf("%s/spok.db", dir);
	sqlite3 *db;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	sqlite3_prepare_v2(db,
			   "SELECT count(*) FROM executions e WHERE NOT EXISTS"
			   " (SELECT 1 FROM attempts a WHERE a.execution_id = e.id)"
			   " AND e.phase != 'QUEUED'",
			   -1, &st, NULL);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	/* And spok can still open and list it. */
	struct spok_execution *list = NULL;
	size_t n = 0;
	assert_int_equal(spok_store_open(dir, &s, NULL), 0);
	assert_int_equal(spok_store_list(s, &list, &n, NULL), 0);
	assert_true(n >= 60);
	spok_execution_list_free(list, n);
	spok_store_close(s);
	free(path);
	rm_rf(dir);
	free(dir);
}

/* Taking an execution over is a compare-and-set on the recorded supervisor (pid, start):
 * of two processes that read the same dead supervisor, only the first wins. */
static void test_claim(void **state)
{
	(void)state;
	char *dir = make_tmpdir();
	struct spok_store *s = NULL;
	struct spok_err err = {0};
	struct spok_execution e, got;
	struct spok_proc_id dead = {4242, 777}, a = {100, 5}, b = {200, 6};

	assert_int_equal(spok_store_open(dir, &s, &err), 0);
	fill(&e, "sp-claimclaim");
	e.supervisor_pid = dead.pid;
	e.supervisor_start = dead.start;
	assert_int_equal(spok_store_insert(s, &e, &err), 0);
	assert_int_equal(spok_store_claim(s, e.id, dead, a, &err), 0);
	assert_int_equal(spok_store_claim(s, e.id, dead, b, &err), SPOK_ECONFLICT);
	assert_non_null(strstr(err.msg, "sp-claimclaim"));
	assert_int_equal(spok_store_get(s, e.id, &got, &err), 0);
	assert_int_equal(got.supervisor_pid, 100);
	assert_int_equal(got.supervisor_start, 5);
	spok_execution_free(&got);
	/* the start time is part of the identity: same pid, other start is another process */
	assert_int_equal(spok_store_claim(s, e.id, (struct spok_proc_id){100, 6}, b, &err), SPOK_ECONFLICT);
	assert_int_equal(spok_store_claim(s, "sp-nonenonene", a, b, &err), SPOK_ENOTFOUND);
	/* update keeps writing the whole row, the start time included */
	e.supervisor_pid = 300;
	e.supervisor_start = UINT64_C(123456789012);
	assert_int_equal(spok_store_update(s, &e, &err), 0);
	assert_int_equal(spok_store_get(s, e.id, &got, &err), 0);
	assert_int_equal(got.supervisor_start, UINT64_C(123456789012));
	spok_execution_free(&got);
	spok_execution_free(&e);
	spok_store_close(s);
	rm_rf(dir);
	free(dir);
}

/* spok_store_open_reader in a dir the process cannot write (a read-only bind mount and
 * file modes both give EACCES/EROFS from access()): read-only, no migration, writes refused
 * with a message that says so. Run as "nobody" when root, since root ignores modes. */
static int reader_child(const char *dir)
{
	struct spok_store *s = NULL;
	struct spok_err err = {0};
	struct spok_execution *v = NULL;
	size_t n = 0;

	if (spok_store_open_reader(dir, &s, &err) != 0)
		return 10;
	if (!spok_store_readonly(s) || spok_store_list(s, &v, &n, &err) != 0 || n != 1)
		return 11;
	spok_execution_list_free(v, n);
	if (spok_store_request_abort(s, "sp-rorororoor", &err) != SPOK_EIO ||
	    strstr(err.msg, "may only read") == NULL)
		return 12;
	spok_store_close(s);
	return 0;
}

static int old_schema_child(const char *dir)
{
	struct spok_store *s = NULL;
	struct spok_err err = {0};

	if (spok_store_open_reader(dir, &s, &err) != SPOK_EINVAL)
		return 21;
	return strstr(err.msg, "needs an upgrade") && strstr(err.msg, dir) ? 20 : 22;
}

static void run_as_reader(const char *dir, int want)
{
	pid_t p = fork();
	int st;

	assert_true(p >= 0);
	if (p == 0) {
		if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
			_exit(2);
		_exit(want == 0 ? reader_child(dir) : old_schema_child(dir));
	}
	assert_int_equal(waitpid(p, &st, 0), p);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), want);
}

static void test_open_reader(void **state)
{
	(void)state;
	char *dir = make_tmpdir();
	char *path = xasprintf("%s/spok.db", dir);
	struct spok_store *s = NULL;
	struct spok_err err = {0};
	struct spok_execution e;
	sqlite3 *db;

	/* writable: an ordinary store */
	assert_int_equal(spok_store_open_reader(dir, &s, &err), 0);
	assert_false(spok_store_readonly(s));
	fill(&e, "sp-rorororoor");
	assert_int_equal(spok_store_insert(s, &e, &err), 0);
	spok_execution_free(&e);
	spok_store_close(s);
	assert_int_equal(chmod(dir, 0555), 0);
	assert_int_equal(chmod(path, 0444), 0);
	run_as_reader(dir, 0);
	/* an older schema cannot be migrated without write access: the open says so */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 3", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(chmod(path, 0444), 0);
	run_as_reader(dir, 20);
	assert_int_equal(chmod(dir, 0700), 0);
	assert_int_equal(chmod(path, 0600), 0);
	rm_rf(dir);
	free(path);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_update_keyed),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_migrations),
		cmocka_unit_test(test_idempotency_key),
		cmocka_unit_test(test_migrate_keys),
		cmocka_unit_test(test_data_dir),
		cmocka_unit_test(test_two_connections),
		cmocka_unit_test(test_busy),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_crash_safety),
		cmocka_unit_test(test_claim),
		cmocka_unit_test(test_open_reader),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
