/* test_backend.c - the backend interface: which ops a row's backend column selects, the one
 * driver-pod rule, tails of logs, and the local backend's logs (read, tail, follow across an
 * attempt's new file, cancel) and abort on a shared loop. Cluster ops that talk to an API
 * server are covered by the k8s-label tests through the CLI and the daemon. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/backend.h"
#include "common/buf.h"
#include "common/timefmt.h"
#include "common/xalloc.h"

struct fx {
	char dir[64];
	struct spok_store *st;
	uv_loop_t loop;
	struct spok_backend_ctx ctx;
};

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	struct spok_err err = {0};

	snprintf(f->dir, sizeof(f->dir), "/tmp/spok-backend-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(spok_store_open(f->dir, &f->st, &err), 0);
	uv_loop_init(&f->loop);
	f->ctx.loop = &f->loop;
	f->ctx.store = f->st;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char *const cmd[] = {(char *)"rm", (char *)"-rf", f->dir, NULL};
	int status;
	pid_t pid;

	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	spok_store_close(f->st);
	if ((pid = fork()) == 0) {
		execvp(cmd[0], cmd);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	free(f);
	return 0;
}

static char *write_file(const struct fx *f, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", f->dir, name);
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	return path;
}

/* A local row in phase ph whose log is log_path. */
static void insert(struct fx *f, const char *id, enum spok_phase ph, const char *log_path)
{
	struct spok_execution x = {0};
	struct spok_err err = {0};

	x.id = xstrdup(id);
	x.task_name = xstrdup("pi");
	x.backend = xstrdup("local");
	x.max_attempts = 2;
	x.phase = ph;
	x.created_ms = spok_now_ms();
	x.log_path = log_path ? xstrdup(log_path) : NULL;
	assert_int_equal(spok_store_insert(f->st, &x, &err), 0);
	spok_execution_free(&x);
}

struct got {
	struct spok_buf text;
	int done;
	int code;
	uint64_t bytes;
	bool stop_after_first;
};

static bool on_chunk(void *data, const char *p, size_t n)
{
	struct got *g = data;

	spok_buf_append(&g->text, p, n);
	return !g->stop_after_first;
}

static void on_done(void *data, const struct spok_backend_log_result *r)
{
	struct got *g = data;

	g->done++;
	g->code = r->code;
	g->bytes = r->bytes;
}

static struct spok_backend_log_opts opts(struct got *g, bool follow, long tail)
{
	spok_buf_init(&g->text, 0);
	return (struct spok_backend_log_opts){.follow = follow, .tail_lines = tail,
					      .chunk = on_chunk, .done = on_done, .data = g};
}

static void run_until_done(struct fx *f, const struct got *g)
{
	while (!g->done)
		uv_run(&f->loop, UV_RUN_ONCE);
}

static void test_registry(void **state)
{
	(void)state;
	assert_ptr_equal(spok_backend_for(NULL), &spok_backend_local);
	assert_ptr_equal(spok_backend_for("local"), &spok_backend_local);
	assert_ptr_equal(spok_backend_for("kind-admin"), &spok_backend_kube);
	assert_ptr_equal(spok_backend_for("in-cluster"), &spok_backend_kube);
	assert_false(spok_backend_for("local")->cluster);
	assert_true(spok_backend_for("prod")->cluster);
	assert_string_equal(spok_backend_for("prod")->kind, "kubernetes");
}

static void test_driver_pod(void **state)
{
	json_t *named = json_pack("{s:{s:{s:s}}}", "status", "driverInfo", "podName", "drv-1");
	json_t *empty = json_pack("{s:{s:{s:s}}}", "status", "driverInfo", "podName", "");
	json_t *none = json_pack("{s:{}}", "status");
	char *p;

	(void)state;
	assert_string_equal((p = spok_backend_driver_pod(named, "app")), "drv-1");
	free(p);
	assert_string_equal((p = spok_backend_driver_pod(empty, "app")), "app-driver");
	free(p);
	assert_string_equal((p = spok_backend_driver_pod(none, "app")), "app-driver");
	free(p);
	assert_string_equal((p = spok_backend_driver_pod(NULL, "app")), "app-driver");
	free(p);
	json_decref(named);
	json_decref(empty);
	json_decref(none);
}

static void test_tail_lines(void **state)
{
	const char *t = "a\nb\nc\n";

	(void)state;
	assert_int_equal(spok_backend_tail_lines(t, 6, 1), 4);
	assert_int_equal(spok_backend_tail_lines(t, 6, 2), 2);
	assert_int_equal(spok_backend_tail_lines(t, 6, 3), 0);
	assert_int_equal(spok_backend_tail_lines(t, 6, 9), 0);
	assert_int_equal(spok_backend_tail_lines(t, 6, 0), 6);
	assert_int_equal(spok_backend_tail_lines("a\nb", 3, 1), 2);
	assert_int_equal(spok_backend_tail_lines("", 0, 5), 0);
	assert_int_equal(spok_backend_tail_lines("\n\n", 2, 1), 1);
	assert_int_equal(spok_backend_tail_lines(NULL, 0, 3), 0);
}

static void test_local_read_and_tail(void **state)
{
	struct fx *f = *state;
	char *log = write_file(f, "attempt-0.log", "one\ntwo\nthree\n");
	struct spok_execution x = {0};
	struct spok_err err = {0};
	struct got g = {0};
	struct spok_backend_log_opts o = opts(&g, false, -1);
	const struct spok_backend_ops *b;

	insert(f, "aaaaaaaaaaaa1", SPOK_PHASE_SUCCEEDED, log);
	assert_int_equal(spok_store_get(f->st, "aaaaaaaaaaaa1", &x, &err), 0);
	b = spok_backend_for(x.backend);
	assert_int_equal(b->logs(&f->ctx, &x, &o, NULL, &err), 0);
	assert_int_equal(g.done, 0); /* never from inside the call */
	run_until_done(f, &g);
	assert_int_equal(g.code, 0);
	assert_int_equal(g.text.len, 14);
	assert_memory_equal(g.text.data, "one\ntwo\nthree\n", 14);
	spok_buf_free(&g.text);

	memset(&g, 0, sizeof(g));
	o = opts(&g, false, 2);
	o.limit_bytes = 1 << 20;
	assert_int_equal(b->logs(&f->ctx, &x, &o, NULL, &err), 0);
	run_until_done(f, &g);
	assert_int_equal(g.text.len, 10);
	assert_memory_equal(g.text.data, "two\nthree\n", 10);
	assert_int_equal(g.bytes, 10);
	spok_buf_free(&g.text);

	/* local runs have no executor pods; a run without a log yet says so */
	o.executor = 1;
	assert_int_equal(b->logs(&f->ctx, &x, &o, NULL, &err), SPOK_EINVAL);
	o.executor = 0;
	free(x.log_path);
	x.log_path = NULL;
	assert_int_equal(b->logs(&f->ctx, &x, &o, NULL, &err), SPOK_ENOTFOUND);
	x.log_path = xasprintf("%s/gone.log", f->dir);
	assert_int_equal(b->logs(&f->ctx, &x, &o, NULL, &err), SPOK_ENOTFOUND);
	assert_non_null(strstr(err.msg, "may have been removed"));
	spok_execution_free(&x);
	free(log);
}

/* Following a finished run whose row names a newer attempt's file: the old file's bytes,
 * then the new one's, then done. */
static void test_local_follow_switches_file(void **state)
{
	struct fx *f = *state;
	char *log0 = write_file(f, "attempt-0.log", "first\n");
	char *log1 = write_file(f, "attempt-1.log", "second\n");
	struct spok_execution x = {0};
	struct spok_err err = {0};
	struct got g = {0};
	struct spok_backend_log_opts o = opts(&g, true, -1);

	insert(f, "bbbbbbbbbbbb1", SPOK_PHASE_PERMANENT_FAILURE, log1);
	assert_int_equal(spok_store_get(f->st, "bbbbbbbbbbbb1", &x, &err), 0);
	free(x.log_path);
	x.log_path = xstrdup(log0); /* as a reader that started during attempt 0 saw it */
	assert_int_equal(spok_backend_local.logs(&f->ctx, &x, &o, NULL, &err), 0);
	run_until_done(f, &g);
	assert_int_equal(g.done, 1);
	assert_int_equal(g.code, 0);
	assert_int_equal(g.text.len, 13);
	assert_memory_equal(g.text.data, "first\nsecond\n", 13);
	spok_buf_free(&g.text);
	spok_execution_free(&x);
	free(log0);
	free(log1);
}

/* A reader that goes away (the chunk callback says stop) ends the follow; cancel fires
 * nothing afterwards. */
static void test_local_stop_and_cancel(void **state)
{
	struct fx *f = *state;
	char *log = write_file(f, "attempt-0.log", "x\n");
	struct spok_execution x = {0};
	struct spok_err err = {0};
	struct spok_backend_log *h = NULL;
	struct got g = {.stop_after_first = true};
	struct spok_backend_log_opts o;

	insert(f, "cccccccccccc1", SPOK_PHASE_RUNNING, log);
	assert_int_equal(spok_store_get(f->st, "cccccccccccc1", &x, &err), 0);
	o = opts(&g, true, -1);
	g.stop_after_first = true;
	assert_int_equal(spok_backend_local.logs(&f->ctx, &x, &o, &h, &err), 0);
	assert_non_null(h);
	run_until_done(f, &g);
	assert_int_equal(g.code, 0);
	spok_buf_free(&g.text);

	memset(&g, 0, sizeof(g));
	o = opts(&g, true, -1);
	assert_int_equal(spok_backend_local.logs(&f->ctx, &x, &o, &h, &err), 0);
	spok_backend_log_cancel(h);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(g.done, 0);
	spok_buf_free(&g.text);
	spok_execution_free(&x);
	free(log);
}

/* On a shared loop (the daemon) an abort only sets the flag: the run's supervisor acts. */
static void test_local_abort_shared_loop(void **state)
{
	struct fx *f = *state;
	struct spok_execution x = {0};
	struct spok_err err = {0};

	insert(f, "dddddddddddd1", SPOK_PHASE_RUNNING, NULL);
	assert_int_equal(spok_store_get(f->st, "dddddddddddd1", &x, &err), 0);
	f->ctx.shared_loop = true;
	assert_int_equal(spok_backend_local.abort(&f->ctx, &x, &err), 0);
	spok_execution_free(&x);
	assert_int_equal(spok_store_get(f->st, "dddddddddddd1", &x, &err), 0);
	assert_true(x.abort_requested);
	assert_int_equal(x.phase, SPOK_PHASE_RUNNING);
	assert_true(spok_backend_local.needs_work(&x));
	spok_execution_free(&x);
}

/* Ops that need no cluster answer: nothing to read before the SparkApplication exists. */
static void test_kube_before_create(void **state)
{
	struct fx *f = *state;
	struct spok_execution x = {.id = (char *)"eeeeeeeeeeee1", .backend = (char *)"prod",
				   .phase = SPOK_PHASE_QUEUED};
	struct spok_err err = {0};
	struct got g = {0};
	struct spok_backend_log_opts o = opts(&g, false, -1);
	json_t *live = (json_t *)&x;

	assert_int_equal(spok_backend_kube.live(&f->ctx, &x, &live, &err), 0);
	assert_null(live);
	assert_int_equal(spok_backend_kube.logs(&f->ctx, &x, &o, NULL, &err), SPOK_ENOTFOUND);
	assert_non_null(strstr(err.msg, "no SparkApplication yet"));
	assert_null(spok_backend_kube.links(&x));
	x.links_json = (char *)"[{\"name\":\"Spark UI\",\"uri\":\"http://u\",\"kind\":\"ui\"}]";
	json_t *l = spok_backend_kube.links(&x);
	assert_int_equal(json_array_size(l), 1);
	json_decref(l);
	assert_int_equal(g.done, 0);
	spok_buf_free(&g.text);
}

/* submit needs an engine following the cluster; local runs are not started through here. */
static void test_submit_refusals(void **state)
{
	struct fx *f = *state;
	struct spok_task t;
	struct spok_err err = {0};
	char id[SPOK_EXEC_ID_LEN + 1];

	spok_task_init(&t);
	assert_int_equal(spok_backend_kube.submit(&f->ctx, &t, "ns", NULL, NULL, id, sizeof(id), &err),
			 SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "no engine"));
	assert_int_equal(spok_backend_local.submit(&f->ctx, &t, "ns", NULL, NULL, id, sizeof(id), &err),
			 SPOK_EINVAL);
	spok_task_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_driver_pod),
		cmocka_unit_test(test_tail_lines),
		cmocka_unit_test_setup_teardown(test_local_read_and_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_local_follow_switches_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_local_stop_and_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_local_abort_shared_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kube_before_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_submit_refusals, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
