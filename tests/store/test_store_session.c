/* test_store_session.c - the sessions table (warm Spark Connect sessions): who starts a
 * session (compare-and-set on its generation), supervisor writes that only land for their
 * generation, stop requests, use times, the clients count of a session, and the v6 -> v7
 * migration that adds it all to an existing store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "store/store.h"

struct fx {
	char dir[64];
	struct spok_store *s;
};

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/spok-sess-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(spok_store_open(f->dir, &f->s, NULL), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	const char *files[] = {"spok.db", "spok.db-wal", "spok.db-shm"};

	spok_store_close(f->s);
	for (size_t i = 0; i < 3; i++) {
		char *p = xasprintf("%s/%s", f->dir, files[i]);
		unlink(p);
		free(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void test_begin_cas(void **state)
{
	struct fx *f = *state;
	struct spok_proc_id self = spok_proc_self();
	struct spok_session x;
	struct spok_err err = {0};
	int64_t gen = 0, gen2 = 0;

	assert_int_equal(spok_store_session_get(f->s, "p1", &x, &err), SPOK_ENOTFOUND);
	assert_int_equal(spok_store_session_begin(f->s, "p1", "default", NULL, "me", "/l", -1, self, &gen, &err), 0);
	assert_int_equal(gen, 1);
	/* a second "first start" loses: the row exists */
	assert_int_equal(spok_store_session_begin(f->s, "p1", "default", NULL, "me", "/l", -1, self, &gen2, &err),
			 SPOK_ECONFLICT);
	assert_int_equal(spok_store_session_get(f->s, "p1", &x, &err), 0);
	assert_int_equal(x.phase, SPOK_SESSION_STARTING);
	assert_string_equal(x.pool, "default");
	assert_int_equal(x.supervisor_pid, self.pid);
	assert_int_equal(x.starts, 1);

	/* the supervisor's writes land for its generation ... */
	x.phase = SPOK_SESSION_RUNNING;
	x.port = 15002;
	x.ui_port = 4040;
	assert_int_equal(spok_store_session_update(f->s, &x, &err), 0);
	/* ... a restart takes the row over (only from the generation it read) ... */
	assert_int_equal(spok_store_session_begin(f->s, "p1", "other", NULL, "me", "/l", 0, self, &gen2, &err),
			 SPOK_ECONFLICT);
	assert_int_equal(spok_store_session_begin(f->s, "p1", "other", NULL, "me", "/l", 1, self, &gen2, &err), 0);
	assert_int_equal(gen2, 2);
	/* ... and then the old supervisor's writes do not */
	x.phase = SPOK_SESSION_FAILED;
	assert_int_equal(spok_store_session_update(f->s, &x, &err), SPOK_ECONFLICT);
	spok_session_free(&x);
	assert_int_equal(spok_store_session_get(f->s, "p1", &x, &err), 0);
	assert_int_equal(x.phase, SPOK_SESSION_STARTING);
	assert_int_equal(x.port, 0);
	assert_int_equal(x.starts, 2);
	assert_string_equal(x.pool, "other");
	assert_null(x.project);
	spok_session_free(&x);

	/* a session's project (spok serve's authorization) stays when a CLI restart names none */
	assert_int_equal(spok_store_session_begin(f->s, "p2", "default", "team-a", "me", "/l", -1, self, &gen, &err), 0);
	assert_int_equal(spok_store_session_begin(f->s, "p2", "default", NULL, "me", "/l", gen, self, &gen2, &err), 0);
	assert_int_equal(spok_store_session_get(f->s, "p2", &x, &err), 0);
	assert_string_equal(x.project, "team-a");
	spok_session_free(&x);
}

static void test_stop_touch_list(void **state)
{
	struct fx *f = *state;
	struct spok_session x, *v = NULL;
	size_t n = 0;
	int64_t gen = 0;

	assert_int_equal(spok_store_session_request_stop(f->s, "nope", NULL), SPOK_ENOTFOUND);
	assert_int_equal(spok_store_session_begin(f->s, "b", "default", NULL, "me", "/l", -1, spok_proc_self(), &gen, NULL), 0);
	assert_int_equal(spok_store_session_begin(f->s, "a", "default", NULL, "me", "/l", -1, spok_proc_self(), &gen, NULL), 0);
	assert_int_equal(spok_store_session_request_stop(f->s, "a", NULL), 0);
	assert_int_equal(spok_store_session_touch(f->s, "a", 5000000000000, NULL), 0);
	assert_int_equal(spok_store_session_touch(f->s, "a", 4000000000000, NULL), 0); /* never back */
	assert_int_equal(spok_store_session_get(f->s, "a", &x, NULL), 0);
	assert_true(x.stop_requested);
	assert_int_equal(x.last_used_ms, 5000000000000);
	spok_session_free(&x);
	assert_int_equal(spok_store_session_list(f->s, &v, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "a");
	assert_string_equal(v[1].name, "b");
	spok_session_list_free(v, n);
}

static void insert_exec(struct spok_store *s, const char *id, const char *session,
			enum spok_phase ph, struct spok_proc_id sup)
{
	struct spok_execution e = {0};

	e.id = xstrdup(id);
	e.backend = xstrdup("local");
	e.session = session ? xstrdup(session) : NULL;
	e.phase = ph;
	e.max_attempts = 1;
	e.supervisor_pid = sup.pid;
	e.supervisor_start = sup.start;
	assert_int_equal(spok_store_insert(s, &e, NULL), 0);
	spok_execution_free(&e);
}

static void test_clients(void **state)
{
	struct fx *f = *state;
	struct spok_proc_id self = spok_proc_self(), dead = {self.pid, self.start + 1};
	struct spok_execution e;
	size_t n = 9;

	assert_int_equal(spok_store_session_clients(f->s, "p", &n, NULL), 0);
	assert_int_equal(n, 0);
	insert_exec(f->s, "sp-aaaaaaaaa1", "p", SPOK_PHASE_RUNNING, self);
	insert_exec(f->s, "sp-aaaaaaaaa2", "p", SPOK_PHASE_QUEUED, self);
	insert_exec(f->s, "sp-aaaaaaaaa3", "p", SPOK_PHASE_SUCCEEDED, self); /* finished */
	insert_exec(f->s, "sp-aaaaaaaaa4", "p", SPOK_PHASE_RUNNING, dead);   /* supervisor gone */
	insert_exec(f->s, "sp-aaaaaaaaa5", "q", SPOK_PHASE_RUNNING, self);   /* another session */
	insert_exec(f->s, "sp-aaaaaaaaa6", NULL, SPOK_PHASE_RUNNING, self);  /* not warm */
	assert_int_equal(spok_store_session_clients(f->s, "p", &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_int_equal(spok_store_get(f->s, "sp-aaaaaaaaa1", &e, NULL), 0);
	assert_string_equal(e.session, "p");
	assert_null(e.fallback);
	spok_execution_free(&e);
}

/* The idle reaper's stop is atomic with a run's claim: a client, a newer use, a stop
 * request or another generation keeps the row as it is. */
static void test_stop_idle(void **state)
{
	struct fx *f = *state;
	struct spok_session x;
	bool stopped = true;
	int64_t gen = 0;

	assert_int_equal(spok_store_session_begin(f->s, "p", "default", NULL, "me", "/l", -1, spok_proc_self(), &gen, NULL), 0);
	assert_int_equal(spok_store_session_get(f->s, "p", &x, NULL), 0);
	/* STARTING: not the reaper's */
	assert_int_equal(spok_store_session_stop_idle(f->s, &x, INT64_MAX, "idle", &stopped, NULL), 0);
	assert_false(stopped);
	x.phase = SPOK_SESSION_RUNNING;
	assert_int_equal(spok_store_session_update(f->s, &x, NULL), 0);
	assert_int_equal(spok_store_session_touch(f->s, "p", 5000, NULL), 0);
	/* used after what the reaper saw */
	assert_int_equal(spok_store_session_stop_idle(f->s, &x, 4999, "idle", &stopped, NULL), 0);
	assert_false(stopped);
	/* a run claimed it */
	insert_exec(f->s, "sp-ccccccccc1", "p", SPOK_PHASE_QUEUED, spok_proc_self());
	assert_int_equal(spok_store_session_stop_idle(f->s, &x, 5000, "idle", &stopped, NULL), 0);
	assert_false(stopped);
	struct spok_execution e;
	assert_int_equal(spok_store_get(f->s, "sp-ccccccccc1", &e, NULL), 0);
	e.phase = SPOK_PHASE_SUCCEEDED;
	assert_int_equal(spok_store_update(f->s, &e, NULL), 0);
	spok_execution_free(&e);
	/* another generation's reaper */
	x.generation++;
	assert_int_equal(spok_store_session_stop_idle(f->s, &x, 5000, "idle", &stopped, NULL), 0);
	assert_false(stopped);
	x.generation--;
	assert_int_equal(spok_store_session_stop_idle(f->s, &x, 5000, "idle for 1s", &stopped, NULL), 0);
	assert_true(stopped);
	spok_session_free(&x);
	assert_int_equal(spok_store_session_get(f->s, "p", &x, NULL), 0);
	assert_int_equal(x.phase, SPOK_SESSION_STOPPING);
	assert_string_equal(x.reason, "idle for 1s");
	spok_session_free(&x);
}

static void test_migrate_v7(void **state)
{
	struct fx *f = *state;
	struct spok_execution e;
	struct spok_session x;
	sqlite3 *db = NULL;
	int64_t gen = 0;

	insert_exec(f->s, "sp-bbbbbbbbb1", "p", SPOK_PHASE_SUCCEEDED, spok_proc_self());
	spok_store_close(f->s);
	f->s = NULL;
	char *path = xasprintf("%s/spok.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP INDEX executions_unfinished_sup;"
				      "DROP TABLE sessions; ALTER TABLE executions DROP COLUMN session;"
				      "ALTER TABLE executions DROP COLUMN fallback; PRAGMA user_version = 7",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	free(path);
	assert_int_equal(spok_store_open(f->dir, &f->s, NULL), 0);
	assert_int_equal(spok_store_get(f->s, "sp-bbbbbbbbb1", &e, NULL), 0);
	assert_null(e.session); /* rows of older stores ran no session */
	spok_execution_free(&e);
	assert_int_equal(spok_store_session_begin(f->s, "p", "default", NULL, "me", "/l", -1, spok_proc_self(), &gen, NULL), 0);
	assert_int_equal(spok_store_session_get(f->s, "p", &x, NULL), 0);
	spok_session_free(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_begin_cas, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_touch_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clients, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v7, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
