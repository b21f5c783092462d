/* test_store_counts.c - the store at scale (issue 15): the phase counters of schema v6 equal
 * a GROUP BY over the rows after random inserts, updates and deletes, after writers killed
 * mid-write and after a migration from v5; retention (spok_store_gc) deletes exactly the
 * finished rows it should, with their run dirs and daemon task files, and nothing else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "store/store.h"

static const char *const backends[] = {"kind", "local", "other"};

struct fx {
	char dir[64];
	char *path;
	struct spok_store *s;
	sqlite3 *raw; /* a second connection, as another process's would be */
	uint64_t rnd;
};

static void rm_tree(const char *path)
{
	const char *argv[] = {"rm", "-rf", path, NULL};
	pid_t p = fork();

	if (p == 0) {
		execvp("rm", (char *const *)argv);
		_exit(127);
	}
	assert_true(p > 0);
	waitpid(p, NULL, 0);
}

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/spok-counts-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->path = xasprintf("%s/spok.db", f->dir);
	assert_int_equal(spok_store_open(f->dir, &f->s, NULL), 0);
	assert_int_equal(sqlite3_open(f->path, &f->raw), SQLITE_OK);
	sqlite3_busy_timeout(f->raw, 10000);
	f->rnd = 0x9e3779b97f4a7c15u;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	sqlite3_close(f->raw);
	spok_store_close(f->s);
	rm_tree(f->dir);
	free(f->path);
	free(f);
	return 0;
}

static unsigned rnd(uint64_t *x, unsigned n)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return (unsigned)(*x % n);
}

static void raw_exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
}

/* The counters against a GROUP BY over the rows, for all backends and each one. */
static void check_counts(struct spok_store *s, sqlite3 *raw)
{
	const char *which[] = {NULL, "kind", "local", "other", "none"};

	for (size_t b = 0; b < sizeof(which) / sizeof(which[0]); b++) {
		uint64_t got[SPOK_STORE_NPHASES], want[SPOK_STORE_NPHASES] = {0};
		sqlite3_stmt *st;

		assert_int_equal(spok_store_count_by_phase(s, which[b], got, NULL), 0);
		assert_int_equal(sqlite3_prepare_v2(raw, "SELECT phase, count(*) FROM executions WHERE"
						    " ?1 IS NULL OR backend = ?1 GROUP BY phase", -1,
						    &st, NULL), SQLITE_OK);
		if (which[b])
			sqlite3_bind_text(st, 1, which[b], -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			enum spok_phase p = SPOK_PHASE_UNDEFINED;

			if (!spok_phase_parse((const char *)sqlite3_column_text(st, 0), &p))
				p = SPOK_PHASE_UNDEFINED;
			want[p] += (uint64_t)sqlite3_column_int64(st, 1);
		}
		sqlite3_finalize(st);
		for (size_t p = 0; p < SPOK_STORE_NPHASES; p++)
			if (got[p] != want[p])
				fail_msg("backend %s, phase %s: counter %llu, rows %llu",
					 which[b] ? which[b] : "(all)", spok_phase_name((enum spok_phase)p),
					 (unsigned long long)got[p], (unsigned long long)want[p]);
	}
}

static void make(struct spok_execution *e, const char *id, const char *backend,
		 enum spok_phase ph, int64_t created)
{
	memset(e, 0, sizeof(*e));
	e->id = xstrdup(id);
	e->task_name = xstrdup("pi");
	e->project = xstrdup("p");
	e->backend = xstrdup(backend);
	e->phase = ph;
	e->max_attempts = 1;
	e->created_ms = created;
}

/* One random write: a store insert or update (phase and backend may both change), a
 * request to abort, or another connection's UPDATE or DELETE. Errors are ignored: the
 * point is that whatever happened, counters and rows agree. */
static void random_op(struct spok_store *s, sqlite3 *raw, uint64_t *x, int i)
{
	char id[32], sql[160];
	struct spok_execution e;
	unsigned op = rnd(x, 10);
	enum spok_phase ph = (enum spok_phase)rnd(x, (unsigned)SPOK_STORE_NPHASES);

	snprintf(id, sizeof(id), "sp-%05u", rnd(x, 400));
	if (op < 4) {
		snprintf(id, sizeof(id), "sp-%05d", i);
		make(&e, id, backends[rnd(x, 3)], ph, i);
		spok_store_insert(s, &e, NULL);
		spok_execution_free(&e);
	} else if (op < 7) {
		if (spok_store_get(s, id, &e, NULL) != 0)
			return;
		e.phase = ph;
		if (rnd(x, 4) == 0) {
			free(e.backend);
			e.backend = xstrdup(backends[rnd(x, 3)]);
		}
		spok_store_update(s, &e, NULL);
		spok_execution_free(&e);
	} else if (op == 7) {
		spok_store_request_abort(s, id, NULL);
	} else if (op == 8) {
		snprintf(sql, sizeof(sql), "UPDATE executions SET phase = '%s' WHERE id = '%s'",
			 spok_phase_name(ph), id);
		sqlite3_exec(raw, sql, NULL, NULL, NULL);
	} else {
		snprintf(sql, sizeof(sql), "DELETE FROM executions WHERE id = '%s'", id);
		sqlite3_exec(raw, sql, NULL, NULL, NULL);
	}
}

static void test_counts_random(void **state)
{
	struct fx *f = *state;

	check_counts(f->s, f->raw);
	for (int i = 0; i < 1500; i++) {
		random_op(f->s, f->raw, &f->rnd, i);
		if (i % 250 == 0)
			check_counts(f->s, f->raw);
	}
	/* a phase name spok does not know counts as UNDEFINED, like the rows do */
	raw_exec(f->raw, "UPDATE executions SET phase = 'FUTURE_PHASE' WHERE rowid IN"
		 " (SELECT rowid FROM executions LIMIT 7)");
	check_counts(f->s, f->raw);
	/* a transaction rolled back leaves the counters as they were */
	raw_exec(f->raw, "BEGIN; DELETE FROM executions; INSERT INTO executions (id, backend, phase)"
		 " VALUES ('sp-rolled', 'kind', 'RUNNING'); ROLLBACK");
	check_counts(f->s, f->raw);
	raw_exec(f->raw, "DELETE FROM executions");
	check_counts(f->s, f->raw);
}

/* Writers killed with SIGKILL in the middle of their writes, one of them inside a big
 * transaction spilled to the write-ahead log: what is committed, counters included, is
 * consistent; what is not is gone, counters included. */
static void test_counts_crash(void **state)
{
	struct fx *f = *state;

	for (int round = 0; round < 4; round++) {
		int pfd[2];
		pid_t p;
		char c;

		assert_int_equal(pipe(pfd), 0);
		p = fork();
		assert_true(p >= 0);
		if (p == 0) {
			struct spok_store *cs = NULL;
			sqlite3 *craw = NULL;
			uint64_t x = 12345u + (uint64_t)round;

			close(pfd[0]);
			if (spok_store_open(f->dir, &cs, NULL) != 0 || sqlite3_open(f->path, &craw) != SQLITE_OK)
				_exit(10);
			sqlite3_busy_timeout(craw, 10000);
			if (round % 2 == 1) {
				/* a small cache makes SQLite write the open transaction's pages */
				sqlite3_exec(craw, "PRAGMA cache_size = 2; BEGIN IMMEDIATE", NULL, NULL, NULL);
				for (int i = 0; i < 300; i++) {
					char sql[200];

					snprintf(sql, sizeof(sql), "INSERT INTO executions (id, backend, phase)"
						 " VALUES ('sp-open-%d-%d', 'kind', 'QUEUED');"
						 " UPDATE executions SET phase = 'RUNNING' WHERE rowid %% 3 = 0",
						 round, i);
					sqlite3_exec(craw, sql, NULL, NULL, NULL);
				}
				if (write(pfd[1], "x", 1) != 1)
					_exit(11);
				pause();
				_exit(12);
			}
			for (int i = 0;; i++) {
				random_op(cs, craw, &x, 100000 * (round + 1) + i);
				if (i == 200 && write(pfd[1], "x", 1) != 1)
					_exit(11);
			}
		}
		close(pfd[1]);
		assert_int_equal(read(pfd[0], &c, 1), 1); /* it is writing now */
		close(pfd[0]);
		kill(p, SIGKILL);
		waitpid(p, NULL, 0);
		check_counts(f->s, f->raw);
	}
}

/* Undoes schemas v11 (the supervisor index) and v8 (sessions; the session and fallback
 * columns). */
#define DROP_V8 "DROP INDEX executions_unfinished_sup; DROP TABLE sessions;"                         \
	"ALTER TABLE executions DROP COLUMN session;"                                             \
	"ALTER TABLE executions DROP COLUMN fallback;"
/* Undoes schemas v8 (after DROP_V8), v7 and v6, to make a version 5 store from a current one. */
#define DROP_V6 DROP_V8                                                                           \
	"DROP TRIGGER executions_count_insert; DROP TRIGGER executions_count_delete;"              \
	"DROP TRIGGER executions_count_update; DROP TABLE phase_counts; DROP INDEX executions_backend;" \
	"ALTER TABLE executions DROP COLUMN submission;"

static void test_migrate_v5(void **state)
{
	struct fx *f = *state;
	uint64_t c[SPOK_STORE_NPHASES];

	for (int i = 0; i < 300; i++)
		random_op(f->s, f->raw, &f->rnd, i);
	spok_store_close(f->s);
	f->s = NULL;
	raw_exec(f->raw, DROP_V6 "PRAGMA user_version = 5");
	/* rows a v5 spok wrote after the counters went: the migration counts them all */
	raw_exec(f->raw, "INSERT INTO executions (id, backend, phase) VALUES ('sp-v5only1', 'kind',"
		 " 'RUNNING'), ('sp-v5only2', 'local', 'SUCCEEDED')");
	assert_int_equal(spok_store_open(f->dir, &f->s, NULL), 0);
	check_counts(f->s, f->raw);
	assert_int_equal(spok_store_count_by_phase(f->s, "kind", c, NULL), 0);
	assert_true(c[SPOK_PHASE_RUNNING] >= 1);
	for (int i = 300; i < 600; i++)
		random_op(f->s, f->raw, &f->rnd, i);
	check_counts(f->s, f->raw);
	/* reopening a current store migrates nothing twice */
	spok_store_close(f->s);
	assert_int_equal(spok_store_open(f->dir, &f->s, NULL), 0);
	check_counts(f->s, f->raw);
}

/* ---- retention ---- */

#define DAY_MS (24LL * 3600 * 1000)
#define NOW_MS (100 * DAY_MS)
#define CUT_MS (NOW_MS - 7 * DAY_MS)
#define OLD_MS (NOW_MS - 30 * DAY_MS)

static void add_row(struct fx *f, const char *id, enum spok_phase ph, int64_t created,
		    int64_t finished, uint32_t attempt, uint32_t max)
{
	struct spok_execution e;

	make(&e, id, "local", ph, created);
	e.finished_ms = finished;
	e.attempt = attempt;
	e.max_attempts = max;
	assert_int_equal(spok_store_insert(f->s, &e, NULL), 0);
	assert_int_equal(spok_store_update(f->s, &e, NULL), 0); /* records an attempt too */
	spok_execution_free(&e);
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static char *run_dir(struct fx *f, const char *id)
{
	char *runs = xasprintf("%s/runs", f->dir), *d = xasprintf("%s/%s", runs, id);

	mkdir(runs, 0700);
	assert_int_equal(mkdir(d, 0700), 0);
	free(runs);
	return d;
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static bool row_exists(struct fx *f, const char *id)
{
	struct spok_execution e;
	int r = spok_store_get(f->s, id, &e, NULL);

	spok_execution_free(&e);
	return r == 0;
}

static int raw_count(struct fx *f, const char *sql)
{
	sqlite3_stmt *st;
	int n;

	assert_int_equal(sqlite3_prepare_v2(f->raw, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void test_gc(void **state)
{
	struct fx *f = *state;
	struct spok_store_gc_result r;
	struct spok_err err = {0};
	char *tasks = xasprintf("%s/server", f->dir);
	char *outside = xasprintf("%s/job.yaml", f->dir);

	/* due: finished before the cut, no engine needs them */
	add_row(f, "sp-oldok", SPOK_PHASE_SUCCEEDED, OLD_MS, OLD_MS + 1000, 0, 1);
	add_row(f, "sp-oldfail", SPOK_PHASE_PERMANENT_FAILURE, OLD_MS, 0, 0, 1); /* no end: created */
	add_row(f, "sp-retrydone", SPOK_PHASE_RETRYABLE_FAILURE, OLD_MS, OLD_MS, 2, 3);
	add_row(f, "sp-retryaborted", SPOK_PHASE_RETRYABLE_FAILURE, OLD_MS, OLD_MS, 0, 3);
	assert_int_equal(spok_store_request_abort(f->s, "sp-retryaborted", NULL), 0);
	add_row(f, "sp-task", SPOK_PHASE_ABORTED, OLD_MS, OLD_MS, 0, 1);
	add_row(f, "sp-usertask", SPOK_PHASE_TIMED_OUT, OLD_MS, OLD_MS, 0, 1);
	add_row(f, "sp-locked", SPOK_PHASE_SUCCEEDED, OLD_MS, OLD_MS, 0, 1);
	/* kept: not finished, an engine still needs it, or ended after the cut */
	add_row(f, "sp-running", SPOK_PHASE_RUNNING, OLD_MS, 0, 0, 1);
	add_row(f, "sp-queued", SPOK_PHASE_QUEUED, OLD_MS, 0, 0, 1);
	add_row(f, "sp-retrying", SPOK_PHASE_RETRYABLE_FAILURE, OLD_MS, OLD_MS, 0, 3);
	add_row(f, "sp-longjob", SPOK_PHASE_SUCCEEDED, OLD_MS, CUT_MS + 1, 0, 1);
	add_row(f, "sp-recent", SPOK_PHASE_SUCCEEDED, NOW_MS, NOW_MS, 0, 1);

	/* on-disk leftovers: a run dir with a nested dir and a symlink to a file outside */
	char *ok_dir = run_dir(f, "sp-oldok"), *run_dir_keep = run_dir(f, "sp-running");
	char *log = xasprintf("%s/driver.log", ok_dir), *sub = xasprintf("%s/sub", ok_dir);
	char *link = xasprintf("%s/link", ok_dir), *deep = xasprintf("%s/sub/x", ok_dir);
	write_file(log, "log\n");
	assert_int_equal(mkdir(sub, 0700), 0);
	write_file(deep, "x\n");
	write_file(outside, "user's job file\n");
	assert_int_equal(symlink(outside, link), 0);
	/* the daemon's task file, and a user's job file outside the tasks dir */
	assert_int_equal(mkdir(tasks, 0700), 0);
	free(tasks);
	tasks = xasprintf("%s/server/tasks", f->dir);
	assert_int_equal(mkdir(tasks, 0700), 0);
	char *task_file = xasprintf("%s/r-abc.yaml", tasks);
	write_file(task_file, "task\n");
	char *sql = xasprintf("UPDATE executions SET task_source = '%s/server/./tasks/r-abc.yaml'"
			      " WHERE id = 'sp-task'; UPDATE executions SET task_source = '%s'"
			      " WHERE id = 'sp-usertask'", f->dir, outside);
	raw_exec(f->raw, sql);
	free(sql);
	/* a live supervisor (this process) holds sp-locked's run */
	char *locked_dir = run_dir(f, "sp-locked");
	char *lock = xasprintf("%s/supervisor.lock", locked_dir);
	int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(lfd >= 0);
	assert_int_equal(flock(lfd, LOCK_EX | LOCK_NB), 0);

	/* batches of 2 until nothing more is due */
	size_t rows = 0, files = 0, skipped = 0, calls = 0;
	do {
		assert_int_equal(spok_store_gc(f->s, CUT_MS, 2, &r, &err), 0);
		assert_true(r.rows <= 2);
		rows += r.rows;
		files += r.files;
		skipped += r.skipped;
		assert_true(++calls < 20);
		check_counts(f->s, f->raw);
	} while (r.more);
	assert_int_equal(rows, 6);
	assert_int_equal(files, 2); /* sp-oldok's run dir, sp-task's task file */
	assert_true(skipped >= 1);
	const char *gone[] = {"sp-oldok", "sp-oldfail", "sp-retrydone", "sp-retryaborted",
			      "sp-task", "sp-usertask"};
	const char *kept[] = {"sp-locked", "sp-running", "sp-queued", "sp-retrying", "sp-longjob",
			      "sp-recent"};
	for (size_t i = 0; i < 6; i++) {
		if (row_exists(f, gone[i]))
			fail_msg("%s: still there", gone[i]);
		if (!row_exists(f, kept[i]))
			fail_msg("%s: deleted", kept[i]);
	}
	assert_int_equal(raw_count(f, "SELECT count(*) FROM attempts WHERE execution_id = 'sp-oldok'"), 0);
	assert_int_equal(raw_count(f, "SELECT count(*) FROM attempts WHERE execution_id = 'sp-running'"), 1);
	assert_false(exists(ok_dir));
	assert_true(exists(outside)); /* the symlink went, not what it named */
	assert_false(exists(task_file));
	assert_true(exists(run_dir_keep));
	assert_true(exists(lock));

	/* the supervisor is gone: the next run takes that row and its dir too */
	close(lfd);
	assert_int_equal(spok_store_gc(f->s, CUT_MS, 100, &r, &err), 0);
	assert_int_equal(r.rows, 1);
	assert_int_equal(r.files, 1);
	assert_false(r.more);
	assert_false(exists(locked_dir));
	assert_false(row_exists(f, "sp-locked"));
	/* nothing left to do */
	assert_int_equal(spok_store_gc(f->s, CUT_MS, 100, &r, &err), 0);
	assert_int_equal(r.rows, 0);
	assert_int_equal(spok_store_gc(f->s, CUT_MS, 0, &r, &err), SPOK_EINVAL);
	check_counts(f->s, f->raw);

	free(lock);
	free(locked_dir);
	free(task_file);
	free(ok_dir);
	free(run_dir_keep);
	free(log);
	free(sub);
	free(link);
	free(deep);
	free(outside);
	free(tasks);
}

/* A store opened read-only refuses to delete. */
static void test_gc_readonly(void **state)
{
	struct fx *f = *state;
	struct spok_store *ro = NULL;
	struct spok_store_gc_result r;
	struct spok_err err = {0};

	add_row(f, "sp-oldok", SPOK_PHASE_SUCCEEDED, OLD_MS, OLD_MS, 0, 1);
	spok_store_close(f->s);
	f->s = NULL;
	assert_int_equal(chmod(f->dir, 0500), 0);
	if (access(f->path, W_OK) == 0 && geteuid() == 0) {
		/* root writes anyway: nothing to check here */
		assert_int_equal(chmod(f->dir, 0700), 0);
		assert_int_equal(spok_store_open(f->dir, &f->s, NULL), 0);
		return;
	}
	assert_int_equal(spok_store_open_reader(f->dir, &ro, &err), 0);
	assert_true(spok_store_readonly(ro));
	assert_int_equal(spok_store_gc(ro, CUT_MS, 10, &r, &err), SPOK_EIO);
	assert_non_null(strstr(err.msg, "write access"));
	spok_store_close(ro);
	assert_int_equal(chmod(f->dir, 0700), 0);
	assert_int_equal(spok_store_open(f->dir, &f->s, NULL), 0);
	assert_true(row_exists(f, "sp-oldok"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_counts_random, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counts_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v5, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc_readonly, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
