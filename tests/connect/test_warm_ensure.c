/* test_warm_ensure.c - a warm run on a borrowed loop (as the daemon hosts it) while its
 * session is on its way: the runner asks its ensure again on a timer instead of waiting (the
 * loop serves others meanwhile), an abort still stops it, a session that cannot start fails
 * the attempt or, for the daemon, makes it a normal local run; and a warm client that fails
 * because its server just died is the server's failure (RETRYABLE), not the job's.
 *
 * The attempts are real processes: the venv's Python running a small script as the "client"
 * (no Spark Connect server is needed for what is tested here), and spark-submit for the
 * normal run. The ensure is the test's own: the runner's interface to whoever owns sessions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "common/xalloc.h"
#include "local/local.h"
#include "store/store.h"

struct fx {
	char dir[64];
	char *main_py;
	struct spok_store *st;
	struct spok_task t;
	struct spok_platform p;
	struct spok_local_opts o;
	struct spok_local_warm w;
	struct spok_execution x;
	uv_loop_t loop;
	uv_timer_t tick, stop;
	unsigned ticks;             /* the loop's own timer, while the run waits */
	unsigned asks;              /* ensure calls */
	unsigned pending;           /* answer pending this many times, then... */
	int answer;                 /* ...this (0: ready) */
	struct spok_local_run *run;
	bool done;
	int result;
};

static int ensure(void *arg, struct spok_store *st, struct spok_err *err)
{
	struct fx *f = arg;

	(void)st;
	f->asks++;
	if (f->asks <= f->pending)
		return SPOK_LOCAL_ENSURE_PENDING;
	if (f->answer != 0)
		return spok_err_set(err, f->answer, "boom");
	f->w.remote = "sc://localhost:1/;user_id=u";
	return 0;
}

static void on_tick(uv_timer_t *t)
{
	((struct fx *)t->data)->ticks++;
}

static void on_done(void *arg, int result, const struct spok_err *err)
{
	struct fx *f = arg;

	(void)err;
	f->done = true;
	f->result = result;
	uv_timer_stop(&f->tick);
	uv_close((uv_handle_t *)&f->tick, NULL);
	uv_timer_stop(&f->stop);
	uv_close((uv_handle_t *)&f->stop, NULL);
}

static void write_main(struct fx *f, const char *code)
{
	FILE *fp = fopen(f->main_py, "w");

	assert_non_null(fp);
	fputs(code, fp);
	fclose(fp);
}

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	struct spok_spark_env env;

	if (spok_spark_env_find(&env, NULL) != 0 || !env.python) {
		free(f);
		return -1; /* the venv is needed (scripts/setup python) */
	}
	spok_spark_env_free(&env);
	snprintf(f->dir, sizeof(f->dir), "/tmp/spok-test-ensure-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->main_py = xasprintf("%s/main.py", f->dir);
	assert_int_equal(spok_store_open(f->dir, &f->st, NULL), 0);
	spok_task_init(&f->t);
	spok_platform_init(&f->p);
	f->t.type = SPOK_APP_PYTHON;
	f->t.name = xstrdup("ensure-test");
	f->t.main_application_file = xstrdup(f->main_py);
	f->w.session = "s";
	f->w.ensure = ensure;
	f->w.ensure_arg = f;
	f->o.data_dir = f->dir;
	f->o.quiet = true;
	f->o.grace_ms = 1000;
	f->o.warm = &f->w;
	uv_loop_init(&f->loop);
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	uv_loop_close(&f->loop);
	spok_execution_free(&f->x);
	spok_task_free(&f->t);
	spok_platform_free(&f->p);
	spok_store_close(f->st);
	assert_int_equal(nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS), 0);
	free(f->main_py);
	free(f);
	return 0;
}

static void on_stop(uv_timer_t *t)
{
	struct fx *f = t->data;

	if (!f->done)
		spok_local_run_abort(f->run, "aborted by the test");
}

/* Submits and runs f's task on f's loop until its end; stop_ms > 0 aborts it then. */
static void run(struct fx *f, uint64_t stop_ms)
{
	assert_int_equal(spok_local_submit(f->st, &f->t, &f->p, &f->o, &f->x, NULL), 0);
	uv_timer_init(&f->loop, &f->tick);
	f->tick.data = f;
	uv_timer_start(&f->tick, on_tick, 100, 100);
	uv_timer_init(&f->loop, &f->stop);
	f->stop.data = f;
	if (stop_ms)
		uv_timer_start(&f->stop, on_stop, stop_ms, 0);
	assert_int_equal(spok_local_start(&f->loop, f->st, &f->t, &f->p, &f->o, &f->x, on_done, f,
					  &f->run, NULL), 0);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->done);
	assert_int_equal(f->result, 0);
}

/* Pending three times, then ready: the attempt runs warm, and the loop ran other timers while
 * the run waited (nothing slept on it). */
static void test_pending_then_ready(void **state)
{
	struct fx *f = *state;

	write_main(f, "import os\nprint('remote', os.environ['SPARK_REMOTE'])\n");
	f->pending = 3;
	run(f, 0);
	assert_int_equal(f->x.phase, SPOK_PHASE_SUCCEEDED);
	assert_int_equal(f->asks, 4);
	assert_true(f->ticks > 0);
	assert_string_equal(f->x.session, "s");
	assert_null(f->x.fallback);
}

/* An abort while the session starts stops the run before any attempt. */
static void test_abort_while_pending(void **state)
{
	struct fx *f = *state;

	write_main(f, "print('never')\n");
	f->pending = 1000;
	run(f, 1200);
	assert_int_equal(f->x.phase, SPOK_PHASE_ABORTED);
	assert_non_null(strstr(f->x.reason, "aborted by the test before the attempt started"));
	assert_true(f->asks >= 2);
}

/* A session that cannot start fails the attempt RETRYABLE with why (spok run's ensure). */
static void test_cannot_start(void **state)
{
	struct fx *f = *state;

	write_main(f, "print('never')\n");
	f->pending = 1;
	f->answer = SPOK_EIO;
	run(f, 0);
	assert_int_equal(f->x.phase, SPOK_PHASE_RETRYABLE_FAILURE);
	assert_string_equal(f->x.reason, "session s: boom");
}

/* The daemon's: a session that cannot start for the first attempt makes it a normal local
 * run (spark-submit), and the row says why. */
static void test_cannot_start_falls_back(void **state)
{
	struct fx *f = *state;

	write_main(f, "print('cold run')\n");
	f->w.fallback_on_start = true;
	f->pending = 1;
	f->answer = SPOK_EIO;
	run(f, 0);
	assert_int_equal(f->x.phase, SPOK_PHASE_SUCCEEDED);
	assert_null(f->x.session);
	assert_string_equal(f->x.fallback, "warm session s could not start (boom)");
}

/* The client fails because its server just died (it kills the "server" itself, then exits
 * 3): RETRYABLE as the server's end, whether or not the attempt's poll saw it first. */
static void test_server_gone_race(void **state)
{
	struct fx *f = *state;
	pid_t victim = fork();

	assert_true(victim >= 0);
	if (victim == 0) {
		pause();
		_exit(0);
	}
	char pid[24];
	snprintf(pid, sizeof(pid), "%d", (int)victim);
	spok_strmap_set(&f->t.env, "VICTIM", pid);
	write_main(f, "import os, signal, sys\nos.kill(int(os.environ['VICTIM']), signal.SIGKILL)\n"
		      "sys.exit(3)\n");
	f->w.server = (struct spok_proc_id){victim, spok_pid_start_time(victim)};
	run(f, 0);
	kill(victim, SIGKILL);
	waitpid(victim, NULL, 0);
	assert_int_equal(f->x.phase, SPOK_PHASE_RETRYABLE_FAILURE);
	assert_non_null(strstr(f->x.reason, "Spark Connect server of session s ended"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pending_then_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_while_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cannot_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cannot_start_falls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_gone_race, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
