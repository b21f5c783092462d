/* test_engine_k8s.c - the engine against a real kube-apiserver + etcd (ctest fixture `k8s`).
 *
 * Nothing runs the Spark operator here: the tests play it by writing
 * status.applicationState through the /status subresource, exactly what the operator does.
 * They also play the resource-quota controller (status.hard/used of a ResourceQuota), since
 * the fixture runs no controllers. Waits are bounded only to turn a hang into a failure;
 * nothing asserts on time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/pid.h"
#include "common/xalloc.h"
#include "engine/engine.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "k8s_env.h"

static const struct kube_gvr SPARK = {"sparkoperator.k8s.io", "v1beta2", "sparkapplications"};
static const struct kube_gvr NAMESPACES = {"", "v1", "namespaces"};
static const struct kube_gvr QUOTAS = {"", "v1", "resourcequotas"};
static const struct kube_gvr PODS = {"", "v1", "pods"};
static const struct kube_gvr SAS = {"", "v1", "serviceaccounts"};
#define WAIT_GUARD_MS 120000

static char ns[64];
static uv_loop_t loop;
static struct kube_client *cli;
static struct spok_platform plat;

/* ---- environment ---- */

static struct kube_client *client_new(uv_loop_t *l)
{
	struct kube_config cfg;
	struct kube_client *c;
	struct spok_err err = {0};

	if (kube_config_load(&cfg, getenv("KUBECONFIG"), "admin", &err) != 0)
		fail_msg("%s", err.msg);
	if (kube_client_new(l, &cfg, NULL, &c, &err) != 0)
		fail_msg("%s", err.msg);
	kube_config_free(&cfg);
	return c;
}

static int sync_call(struct kube_sync *s, int started)
{
	assert_int_equal(started, 0);
	return kube_sync_wait(cli, s, NULL);
}

/* ---- tasks: "test:<retries>:<timeout_s>" as the task source, so a restart can reload ---- */

static void make_task(struct spok_task *t, uint32_t retries, uint64_t timeout_s)
{
	spok_task_init(t);
	t->name = xstrdup("pi");
	t->project = xstrdup("spok");
	t->domain = xstrdup("development");
	t->type = SPOK_APP_PYTHON;
	t->main_application_file = xstrdup("local:///opt/spark/examples/src/main/python/pi.py");
	t->image = xstrdup("spark:4.0.5");
	t->retries = retries;
	t->timeout_s = timeout_s;
}

static int load_task(void *data, const struct spok_execution *x, struct spok_task *out,
		     struct spok_err *err)
{
	unsigned retries = 0;
	unsigned long long timeout = 0;

	(void)data;
	if (x->task_source == NULL ||
	    sscanf(x->task_source, "test:%u:%llu", &retries, &timeout) != 2)
		return spok_err_set(err, SPOK_EINVAL, "bad test task source");
	spok_task_free(out);
	make_task(out, retries, timeout);
	return 0;
}

/* ---- a harness: store + engine on the shared loop ---- */

struct h {
	char dir[128];
	struct spok_store *st;
	struct spok_engine *e;
	int tracked;
	int done;
	int failed;
};

static void on_event(void *data, enum spok_engine_event ev, const struct spok_execution *x)
{
	struct h *h = data;

	(void)x;
	if (ev == SPOK_ENGINE_TRACKED)
		h->tracked++;
	else if (ev == SPOK_ENGINE_DONE)
		h->done++;
	else if (ev == SPOK_ENGINE_FAILED)
		h->failed++;
}

static void engine_open(struct h *h, const struct spok_engine_opts *extra)
{
	struct spok_engine_opts o = {0};
	struct spok_err err = {0};

	if (extra)
		o = *extra;
	o.cluster = "test-cluster";
	o.client = cli;
	o.store = h->st;
	o.platform = &plat;
	o.load_task = load_task;
	o.spark_version = "4.0.5";
	o.on_event = on_event;
	o.event_data = h;
	if (o.tick_ms == 0)
		o.tick_ms = 50;
	if (o.backoff_ms == 0)
		o.backoff_ms = 100;
	if (o.backoff_max_ms == 0)
		o.backoff_max_ms = 400;
	if (spok_engine_new(&o, &h->e, &err) != 0)
		fail_msg("%s", err.msg);
}

static void h_open(struct h *h, const struct spok_engine_opts *extra)
{
	struct spok_err err = {0};

	memset(h, 0, sizeof(*h));
	snprintf(h->dir, sizeof(h->dir), "/tmp/spok-engine-XXXXXX");
	assert_non_null(mkdtemp(h->dir));
	if (spok_store_open(h->dir, &h->st, &err) != 0)
		fail_msg("%s", err.msg);
	engine_open(h, extra);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void h_close(struct h *h)
{
	spok_engine_close(h->e);
	h->e = NULL;
	uv_run(&loop, UV_RUN_NOWAIT);
	spok_store_close(h->st);
	nftw(h->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void run_once(void)
{
	uv_run(&loop, UV_RUN_ONCE);
}

#define WAIT_FOR(cond, what)                                                              \
	do {                                                                              \
		int64_t dl_ = spok_now_ms() + WAIT_GUARD_MS;                              \
		while (!(cond)) {                                                         \
			if (spok_now_ms() > dl_)                                          \
				fail_msg("gave up waiting for %s", what);                 \
			run_once();                                                       \
		}                                                                         \
	} while (0)

static struct spok_execution row_of(struct h *h, const char *id)
{
	struct spok_execution x = {0};
	struct spok_err err = {0};

	if (spok_store_get(h->st, id, &x, &err) != 0)
		fail_msg("%s", err.msg);
	return x;
}

static bool row_is(struct h *h, const char *id, enum spok_phase ph)
{
	struct spok_execution x = row_of(h, id);
	bool yes = x.phase == ph;

	spok_execution_free(&x);
	return yes;
}

static bool row_started(struct h *h, const char *id)
{
	struct spok_execution x = row_of(h, id);
	bool yes = x.started_ms != 0;

	spok_execution_free(&x);
	return yes;
}

static char *name_of(struct h *h, const char *id)
{
	struct spok_execution x = row_of(h, id);
	char *n = xstrdup(x.resource_name);

	spok_execution_free(&x);
	return n;
}

static void submit(struct h *h, uint32_t retries, uint64_t timeout_s, char *id)
{
	struct spok_task t;
	struct spok_err err = {0};
	char src[64];

	make_task(&t, retries, timeout_s);
	snprintf(src, sizeof(src), "test:%u:%llu", retries, (unsigned long long)timeout_s);
	if (spok_engine_submit(h->e, &t, ns, src, id, SPOK_EXEC_ID_LEN + 1, &err) != 0)
		fail_msg("%s", err.msg);
	spok_task_free(&t);
}

/* ---- playing the operator ---- */

static void set_state(const char *name, const char *state)
{
	struct kube_sync s = {0};
	char pod[128];
	json_t *st;

	snprintf(pod, sizeof(pod), "%s-driver", name);
	st = json_pack("{s:{s:s,s:s},s:s,s:{s:s}}", "applicationState", "state", state,
		       "errorMessage", strcmp(state, "FAILED") == 0 ? "driver exited 1" : "",
		       "sparkApplicationId", "spark-0123", "driverInfo", "podName", pod);
	if (sync_call(&s, kube_patch_status(cli, &SPARK, ns, name, st, kube_sync_cb, &s, NULL)) != 0)
		fail_msg("patch status %s: %s", name, s.message);
	kube_sync_free(&s);
	json_decref(st);
}

static int get_code(const char *name)
{
	struct kube_sync s = {0};
	int code = sync_call(&s, kube_get(cli, &SPARK, ns, name, kube_sync_cb, &s, NULL));

	kube_sync_free(&s);
	return code;
}

static size_t count_for(const char *id)
{
	struct kube_sync s = {0};
	struct kube_list_opts lo = {0};
	char sel[128];
	size_t n;

	snprintf(sel, sizeof(sel), "%s=%s", SPOK_LABEL_EXECUTION, id);
	lo.label_selector = sel;
	if (sync_call(&s, kube_list(cli, &SPARK, ns, &lo, kube_sync_cb, &s, NULL)) != 0)
		fail_msg("list: %s", s.message);
	n = json_array_size(json_object_get(s.body, "items"));
	kube_sync_free(&s);
	return n;
}

/* ---- tests ---- */

static void test_success_and_teardown(void **state)
{
	struct h h;
	char id[32];
	char *name;

	(void)state;
	h_open(&h, NULL);
	submit(&h, 0, 0, id);
	WAIT_FOR(row_started(&h, id), "the create");
	name = name_of(&h, id);
	assert_non_null(strstr(name, id));
	WAIT_FOR(h.tracked == 1, "the first watch event");
	set_state(name, "SUBMITTED");
	set_state(name, "RUNNING");
	WAIT_FOR(row_is(&h, id, SPOK_PHASE_RUNNING), "RUNNING");
	set_state(name, "COMPLETED");
	WAIT_FOR(spok_engine_active(h.e) == 0, "the end");
	assert_true(row_is(&h, id, SPOK_PHASE_SUCCEEDED));
	assert_int_equal(get_code(name), SPOK_ENOTFOUND);
	free(name);
	h_close(&h);
}

static void test_keep_on_success(void **state)
{
	struct spok_engine_opts o = {.keep_on_success = true};
	struct h h;
	char id[32];
	char *name;

	(void)state;
	h_open(&h, &o);
	submit(&h, 0, 0, id);
	WAIT_FOR(row_started(&h, id), "the create");
	name = name_of(&h, id);
	set_state(name, "COMPLETED");
	WAIT_FOR(spok_engine_active(h.e) == 0, "the end");
	assert_true(row_is(&h, id, SPOK_PHASE_SUCCEEDED));
	assert_int_equal(get_code(name), 0);
	free(name);
	h_close(&h);
}

static void test_retry_new_attempt(void **state)
{
	struct spok_attempt *a = NULL;
	size_t na = 0;
	struct h h;
	char id[32];
	char *n0, *n1;

	(void)state;
	h_open(&h, NULL);
	submit(&h, 1, 0, id);
	WAIT_FOR(row_started(&h, id), "the create");
	n0 = name_of(&h, id);
	set_state(n0, "RUNNING");
	set_state(n0, "FAILED");
	WAIT_FOR(h.tracked == 2, "attempt 2's first event");
	n1 = name_of(&h, id);
	assert_string_not_equal(n0, n1);
	assert_int_equal(get_code(n0), 0); /* the failed attempt is kept for debugging */
	set_state(n1, "COMPLETED");
	WAIT_FOR(spok_engine_active(h.e) == 0, "the end");
	assert_true(row_is(&h, id, SPOK_PHASE_SUCCEEDED));
	assert_int_equal(spok_store_attempts(h.st, id, &a, &na, NULL), 0);
	assert_int_equal(na, 2);
	assert_int_equal(a[0].phase, SPOK_PHASE_RETRYABLE_FAILURE);
	assert_int_equal(a[1].phase, SPOK_PHASE_SUCCEEDED);
	spok_attempts_free(a, na);
	assert_int_equal(count_for(id), 1); /* n0 left, n1 torn down */
	free(n0);
	free(n1);
	h_close(&h);
}

static void test_submission_failed(void **state)
{
	struct spok_execution x;
	struct h h;
	char id[32];
	char *name;

	(void)state;
	h_open(&h, NULL);
	submit(&h, 0, 0, id);
	WAIT_FOR(row_started(&h, id), "the create");
	name = name_of(&h, id);
	set_state(name, "SUBMISSION_FAILED");
	WAIT_FOR(spok_engine_active(h.e) == 0, "the end");
	x = row_of(&h, id);
	assert_int_equal(x.phase, SPOK_PHASE_RETRYABLE_FAILURE);
	assert_non_null(x.reason);
	spok_execution_free(&x);
	free(name);
	h_close(&h);
}

/* A trigger that makes the COMMIT of a batch holding a row with timeout 7 fail: the row
 * adds a row whose deferred foreign key SQLite checks only at COMMIT. */
static void fail_commit_of_timeout_7(const char *dir)
{
	char *db = xasprintf("%s/spok.db", dir);
	sqlite3 *c = NULL;

	assert_int_equal(sqlite3_open(db, &c), SQLITE_OK);
	assert_int_equal(sqlite3_exec(c,
				      "CREATE TABLE t_parent (id TEXT PRIMARY KEY);"
				      "CREATE TABLE t_child (p TEXT REFERENCES t_parent (id)"
				      " DEFERRABLE INITIALLY DEFERRED);"
				      "CREATE TRIGGER t_bad AFTER INSERT ON executions"
				      " WHEN NEW.task_source = 'test:0:7'"
				      " BEGIN INSERT INTO t_child VALUES ('none'); END;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(c);
	free(db);
}

/* Group commit: a batch whose COMMIT fails fails exactly its executions (both submits of
 * one loop turn), before anything is created; the next batch is written and created. */
static void test_commit_fails(void **state)
{
	struct spok_execution x;
	struct h h;
	char bad[32], other[32], good[32];

	(void)state;
	h_open(&h, NULL);
	fail_commit_of_timeout_7(h.dir);
	submit(&h, 0, 7, bad);   /* its write itself works: submit says 0 */
	submit(&h, 0, 0, other); /* the same batch */
	WAIT_FOR(h.failed == 2, "both executions to fail");
	assert_int_equal(spok_engine_active(h.e), 0);
	assert_int_equal(spok_store_get(h.st, bad, &x, NULL), SPOK_ENOTFOUND);
	assert_int_equal(spok_store_get(h.st, other, &x, NULL), SPOK_ENOTFOUND);
	assert_int_equal(count_for(bad), 0);
	assert_int_equal(count_for(other), 0);
	submit(&h, 0, 0, good);
	WAIT_FOR(row_started(&h, good), "the next batch's create");
	assert_int_equal(count_for(good), 1);
	assert_int_equal(h.failed, 2);
	h_close(&h);
}

/* A COMMIT that fails at close (nothing ran the loop since the submit): the submit fails as
 * it would have during the run (a FAILED event, no row, nothing created) instead of being
 * dropped without a word. */
static void test_commit_fails_at_close(void **state)
{
	struct spok_execution x;
	struct h h;
	char bad[32];

	(void)state;
	h_open(&h, NULL);
	fail_commit_of_timeout_7(h.dir);
	submit(&h, 0, 7, bad); /* written into the batch, committed only by the close */
	spok_engine_close(h.e);
	h.e = NULL; /* freed once the loop runs (count_for) */
	assert_int_equal(h.failed, 1);
	assert_int_equal(spok_store_get(h.st, bad, &x, NULL), SPOK_ENOTFOUND);
	assert_int_equal(count_for(bad), 0);
	h_close(&h);
}

static void test_timeout_deletes(void **state)
{
	struct spok_execution x;
	struct h h;
	char id[32];
	char *name;

	(void)state;
	h_open(&h, NULL);
	submit(&h, 0, 1, id);
	WAIT_FOR(row_started(&h, id), "the create");
	name = name_of(&h, id);
	set_state(name, "RUNNING");
	WAIT_FOR(spok_engine_active(h.e) == 0, "the timeout");
	x = row_of(&h, id);
	assert_int_equal(x.phase, SPOK_PHASE_TIMED_OUT);
	assert_non_null(strstr(x.reason, "timed out"));
	spok_execution_free(&x);
	assert_int_equal(get_code(name), SPOK_ENOTFOUND);
	free(name);
	h_close(&h);
}

static void test_abort_from_other_process(void **state)
{
	struct h h;
	char id[32];
	char *name;
	pid_t pid;
	int wst;

	(void)state;
	h_open(&h, NULL);
	submit(&h, 2, 0, id);
	WAIT_FOR(row_started(&h, id), "the create");
	name = name_of(&h, id);
	set_state(name, "RUNNING");
	WAIT_FOR(row_is(&h, id, SPOK_PHASE_RUNNING), "RUNNING");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) { /* what `spok abort ID` does: one flag in the shared store */
		struct spok_store *st = NULL;
		int r = spok_store_open(h.dir, &st, NULL);

		if (r == 0)
			r = spok_store_request_abort(st, id, NULL);
		spok_store_close(st);
		_exit(r == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &wst, 0), pid);
	assert_int_equal(WEXITSTATUS(wst), 0);
	WAIT_FOR(spok_engine_active(h.e) == 0, "the abort");
	assert_true(row_is(&h, id, SPOK_PHASE_ABORTED));
	assert_int_equal(get_code(name), SPOK_ENOTFOUND);
	free(name);
	h_close(&h);
}

static void test_stuck_submitted(void **state)
{
	struct spok_engine_opts o = {.submitted_timeout_ms = 300};
	struct spok_execution x;
	struct h h;
	char id[32];
	char *name;

	(void)state;
	h_open(&h, &o);
	submit(&h, 0, 0, id);
	WAIT_FOR(row_started(&h, id), "the create");
	name = name_of(&h, id);
	set_state(name, "SUBMITTED");
	WAIT_FOR(spok_engine_active(h.e) == 0, "the deadline");
	x = row_of(&h, id);
	assert_int_equal(x.phase, SPOK_PHASE_RETRYABLE_FAILURE);
	assert_non_null(strstr(x.reason, "stuck in SUBMITTED for 0m0s: the operator did not start the driver"));
	spok_execution_free(&x);
	WAIT_FOR(get_code(name) == SPOK_ENOTFOUND, "the delete");
	free(name);
	h_close(&h);
}

/* ---- playing the kubelet and the scheduler: a driver pod's status ---- */

static void make_driver_pod(const char *name)
{
	struct kube_sync s = {0};
	json_t *sa = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "ServiceAccount",
			       "metadata", "name", "default");
	json_t *pod = json_pack("{s:s,s:s,s:{s:s},s:{s:[{s:s,s:s}]}}", "apiVersion", "v1", "kind",
				"Pod", "metadata", "name", name, "spec", "containers", "name",
				"spark-kubernetes-driver", "image", "spok.local/nope:1");

	/* No ServiceAccount controller runs here: the pod's admission needs "default". */
	(void)sync_call(&s, kube_create(cli, &SAS, ns, sa, kube_sync_cb, &s, NULL));
	kube_sync_free(&s);
	if (sync_call(&s, kube_create(cli, &PODS, ns, pod, kube_sync_cb, &s, NULL)) != 0)
		fail_msg("create pod %s: %s", name, s.message);
	kube_sync_free(&s);
	json_decref(pod);
	json_decref(sa);
}

static void set_pod_status(const char *name, json_t *status)
{
	struct kube_sync s = {0};

	if (sync_call(&s, kube_patch_status(cli, &PODS, ns, name, status, kube_sync_cb, &s, NULL)) != 0)
		fail_msg("patch pod status %s: %s", name, s.message);
	kube_sync_free(&s);
	json_decref(status);
}

static bool reason_has(struct h *h, const char *id, const char *part)
{
	struct spok_execution x = row_of(h, id);
	bool yes = x.reason && strstr(x.reason, part);

	spok_execution_free(&x);
	return yes;
}

/* The operator keeps an app SUBMITTED while its driver pod cannot start: the engine reads
 * the pod. Unschedulable -> the scheduler's reason while it waits; ErrImagePull ->
 * PERMANENT_FAILURE naming the image, and the live object is deleted. */
static void test_driver_pod_read(void **state)
{
	struct spok_engine_opts o = {.driver_check_ms = 50};
	struct spok_execution x;
	struct h h;
	char id[32], pod[128];
	char *name;

	(void)state;
	h_open(&h, &o);
	submit(&h, 1, 0, id);
	WAIT_FOR(row_started(&h, id), "the create");
	name = name_of(&h, id);
	set_state(name, "SUBMITTED");
	snprintf(pod, sizeof(pod), "%s-driver", name);
	make_driver_pod(pod);
	set_pod_status(pod, json_pack("{s:s,s:[{s:s,s:s,s:s,s:s}]}", "phase", "Pending",
				      "conditions", "type", "PodScheduled", "status", "False",
				      "reason", "Unschedulable", "message",
				      "0/1 nodes are available: 1 Insufficient memory."));
	WAIT_FOR(reason_has(&h, id, "waiting: 0/1 nodes are available: 1 Insufficient memory."),
		 "the scheduler's reason");
	assert_true(row_is(&h, id, SPOK_PHASE_INITIALIZING));
	set_pod_status(pod, json_pack(
		"{s:s,s:[{s:s,s:s}],s:[{s:s,s:s,s:s,s:b,s:i,s:{s:{s:s,s:s}}}]}", "phase", "Pending",
		"conditions", "type", "PodScheduled", "status", "True", "containerStatuses", "name",
		"spark-kubernetes-driver", "image", "spok.local/nope:1", "imageID", "", "ready", 0,
		"restartCount", 0, "state", "waiting", "reason", "ErrImagePull", "message",
		"failed to pull and unpack image \"spok.local/nope:1\": not found"));
	WAIT_FOR(spok_engine_active(h.e) == 0, "the end");
	x = row_of(&h, id);
	assert_int_equal(x.phase, SPOK_PHASE_PERMANENT_FAILURE); /* retries left: not retried */
	assert_int_equal(x.attempt, 0);
	assert_non_null(strstr(x.reason, "cannot pull image \"spok.local/nope:1\": ErrImagePull"));
	assert_non_null(x.error_message);
	spok_execution_free(&x);
	assert_int_equal(get_code(name), SPOK_ENOTFOUND);
	free(name);
	h_close(&h);
}

static void test_deleted_externally(void **state)
{
	struct spok_execution x;
	struct kube_sync s = {0};
	struct h h;
	char id[32];
	char *name;

	(void)state;
	h_open(&h, NULL);
	submit(&h, 0, 0, id);
	WAIT_FOR(row_started(&h, id), "the create");
	name = name_of(&h, id);
	set_state(name, "RUNNING");
	WAIT_FOR(row_is(&h, id, SPOK_PHASE_RUNNING), "RUNNING");
	assert_int_equal(sync_call(&s, kube_delete(cli, &SPARK, ns, name, NULL, NULL, kube_sync_cb, &s, NULL)), 0);
	kube_sync_free(&s);
	WAIT_FOR(spok_engine_active(h.e) == 0, "the end");
	x = row_of(&h, id);
	assert_int_equal(x.phase, SPOK_PHASE_RETRYABLE_FAILURE);
	assert_non_null(strstr(x.reason, "ResourceDeletedExternally"));
	spok_execution_free(&x);
	free(name);
	h_close(&h);
}

static void test_name_taken(void **state)
{
	struct spok_execution x;
	struct kube_sync s = {0};
	struct h h;
	char id[32];
	json_t *app;
	char *name;

	(void)state;
	/* Create the object the engine will want before it does, without our label: the
	 * engine's create gets 409 and must refuse to adopt. The name is computed by
	 * submitting once with a keep-running engine, then reusing its attempt-1 name. */
	h_open(&h, NULL);
	submit(&h, 1, 0, id);
	WAIT_FOR(row_started(&h, id), "the create");
	name = name_of(&h, id);
	name[strlen(name) - 1] = '1'; /* <id>-n0-1: the next attempt's name */
	app = json_pack("{s:s,s:s,s:{s:s},s:{s:s,s:s,s:s,s:{},s:{}}}", "apiVersion",
			"sparkoperator.k8s.io/v1beta2", "kind", "SparkApplication", "metadata",
			"name", name, "spec", "type", "Python", "sparkVersion", "4.0.5",
			"mainApplicationFile", "local:///x.py", "driver", "executor");
	assert_int_equal(sync_call(&s, kube_create(cli, &SPARK, ns, app, kube_sync_cb, &s, NULL)), 0);
	kube_sync_free(&s);
	json_decref(app);
	name[strlen(name) - 1] = '0';
	set_state(name, "FAILED");
	WAIT_FOR(spok_engine_active(h.e) == 0, "the end");
	x = row_of(&h, id);
	assert_int_equal(x.phase, SPOK_PHASE_PERMANENT_FAILURE);
	assert_non_null(strstr(x.reason, "name taken by an object spok did not create"));
	spok_execution_free(&x);
	free(name);
	h_close(&h);
}

static void quota_status(const char *used)
{
	struct kube_sync s = {0};
	json_t *st = json_pack("{s:{s:s},s:{s:s}}", "hard", "count/sparkapplications.sparkoperator.k8s.io",
			       "1", "used", "count/sparkapplications.sparkoperator.k8s.io", used);

	if (sync_call(&s, kube_patch_status(cli, &QUOTAS, ns, "spok-q", st, kube_sync_cb, &s, NULL)) != 0)
		fail_msg("quota status: %s", s.message);
	kube_sync_free(&s);
	json_decref(st);
}

static void test_quota_waits(void **state)
{
	struct kube_sync s = {0};
	struct h h;
	char a[32], b[32];
	char *na, *nb;
	json_t *q;

	(void)state;
	q = json_pack("{s:s,s:s,s:{s:s},s:{s:{s:s}}}", "apiVersion", "v1", "kind", "ResourceQuota",
		      "metadata", "name", "spok-q", "spec", "hard",
		      "count/sparkapplications.sparkoperator.k8s.io", "1");
	assert_int_equal(sync_call(&s, kube_create(cli, &QUOTAS, ns, q, kube_sync_cb, &s, NULL)), 0);
	kube_sync_free(&s);
	json_decref(q);
	/* No quota controller runs: play it (an unprocessed quota refuses everything). */
	quota_status("0");
	h_open(&h, NULL);
	submit(&h, 0, 0, a);
	WAIT_FOR(row_started(&h, a), "the first create");
	submit(&h, 0, 0, b);
	WAIT_FOR(row_is(&h, b, SPOK_PHASE_WAITING_FOR_RESOURCES), "WAITING_FOR_RESOURCES");
	na = name_of(&h, a);
	set_state(na, "COMPLETED");
	WAIT_FOR(row_is(&h, a, SPOK_PHASE_SUCCEEDED) && get_code(na) == SPOK_ENOTFOUND, "teardown of the first");
	quota_status("0"); /* what the controller does after the delete */
	WAIT_FOR(row_started(&h, b), "the second create");
	nb = name_of(&h, b);
	set_state(nb, "COMPLETED");
	WAIT_FOR(spok_engine_active(h.e) == 0, "the end");
	assert_true(row_is(&h, b, SPOK_PHASE_SUCCEEDED));
	assert_int_equal(sync_call(&s, kube_delete(cli, &QUOTAS, ns, "spok-q", NULL, NULL, kube_sync_cb, &s, NULL)), 0);
	kube_sync_free(&s);
	free(na);
	free(nb);
	h_close(&h);
}

#define MANY 100

static void test_many_share_one_watch(void **state)
{
	struct spok_engine_stats es;
	struct kube_client_stats cs0, cs1;
	struct h h;
	static char ids[MANY][32];
	char *name;

	(void)state;
	h_open(&h, NULL);
	kube_client_stats(cli, &cs0);
	for (int i = 0; i < MANY; i++)
		submit(&h, 0, 0, ids[i]);
	WAIT_FOR(h.tracked == MANY, "every first event");
	kube_client_stats(cli, &cs1);
	spok_engine_stats(h.e, &es);
	assert_int_equal(es.watches, 1);
	assert_int_equal(es.creates, MANY);
	/* one create each, plus one list and one watch connect for all of them */
	assert_true(cs1.sent - cs0.sent <= MANY + 4);
	for (int i = 0; i < MANY; i++) {
		name = name_of(&h, ids[i]);
		set_state(name, "COMPLETED");
		free(name);
	}
	WAIT_FOR(spok_engine_active(h.e) == 0, "every end");
	spok_engine_stats(h.e, &es);
	assert_int_equal(es.watches, 1);
	assert_int_equal(es.deletes, MANY);
	for (int i = 0; i < MANY; i++)
		assert_true(row_is(&h, ids[i], SPOK_PHASE_SUCCEEDED));
	h_close(&h);
}

/* ---- crash / restart matrix ---- */

/* The child: a fresh loop, client, store and engine; submits and runs until SPOK_CRASH_AT
 * kills it. Never returns. */
static void crash_child(const char *dir, const char *point)
{
	uv_loop_t l;
	struct kube_client *c;
	struct spok_store *st = NULL;
	struct spok_engine *e = NULL;
	struct spok_engine_opts o = {0};
	struct spok_task t;
	char id[32];

	setenv("SPOK_CRASH_AT", point, 1);
	uv_loop_init(&l);
	c = client_new(&l);
	if (spok_store_open(dir, &st, NULL) != 0)
		_exit(2);
	o.cluster = "test-cluster";
	o.client = c;
	o.store = st;
	o.platform = &plat;
	o.load_task = load_task;
	o.spark_version = "4.0.5";
	o.tick_ms = 50;
	if (spok_engine_new(&o, &e, NULL) != 0)
		_exit(3);
	make_task(&t, 0, 0);
	if (spok_engine_submit(e, &t, ns, "test:0:0", id, sizeof(id), NULL) != 0)
		_exit(4);
	for (;;)
		uv_run(&l, UV_RUN_ONCE);
}

static struct spok_execution only_row(struct h *h)
{
	struct spok_execution *v = NULL, x = {0};
	size_t n = 0;

	assert_int_equal(spok_store_list(h->st, &v, &n, NULL), 0);
	if (n == 1) {
		x = v[0];
		memset(&v[0], 0, sizeof(v[0]));
	}
	spok_execution_list_free(v, n);
	return x;
}

static void crash_case(const char *point)
{
	struct spok_execution x = {0};
	struct h h;
	char id[32];
	pid_t pid;
	int wst;
	size_t adopted = 0;

#ifndef SPOK_TEST_HOOKS
	skip(); /* crash points exist in test builds only (CMake option SPOK_TEST_HOOKS) */
#endif
	h_open(&h, NULL);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		crash_child(h.dir, point);
	if (strcmp(point, "running") == 0 || strcmp(point, "teardown") == 0) {
		/* Play the operator for the child's object once it is there. */
		for (int64_t dl = spok_now_ms() + WAIT_GUARD_MS;;) {
			x = only_row(&h);
			if (x.id && x.started_ms != 0)
				break;
			spok_execution_free(&x);
			if (spok_now_ms() > dl)
				fail_msg("%s: the child never created its object", point);
			usleep(20000);
		}
		set_state(x.resource_name, "RUNNING");
		if (strcmp(point, "teardown") == 0)
			set_state(x.resource_name, "COMPLETED");
		spok_execution_free(&x);
	}
	assert_int_equal(waitpid(pid, &wst, 0), pid);
	assert_true(WIFEXITED(wst));
	assert_int_equal(WEXITSTATUS(wst), 137);
	x = only_row(&h);
	assert_non_null(x.id);
	snprintf(id, sizeof(id), "%s", x.id);
	spok_execution_free(&x);

	/* Restart: a new engine adopts whatever the dead one left. */
	assert_int_equal(spok_engine_adopt_all(h.e, &adopted, NULL), 0);
	assert_int_equal(adopted, strcmp(point, "teardown") == 0 ? 0 : 1);
	if (strcmp(point, "teardown") != 0) {
		WAIT_FOR(row_started(&h, id), "the object after the restart");
		x = row_of(&h, id);
		assert_int_equal(x.attempt, 0);
		assert_int_equal(count_for(id), 1); /* exactly one object: no duplicate */
		set_state(x.resource_name, "COMPLETED");
		spok_execution_free(&x);
	}
	WAIT_FOR(spok_engine_idle(h.e), "the end after the restart");
	assert_true(row_is(&h, id, SPOK_PHASE_SUCCEEDED));
	assert_int_equal(count_for(id), 0); /* torn down, also after a cut-short teardown */
	h_close(&h);
}

static void test_crash_before_create(void **state)
{
	(void)state;
	crash_case("before-create");
}

static void test_crash_after_create(void **state)
{
	(void)state;
	crash_case("after-create");
}

static void test_crash_running(void **state)
{
	(void)state;
	crash_case("running");
}

static void test_crash_teardown(void **state)
{
	(void)state;
	crash_case("teardown");
}

/* ---- supervisors that die: kill -9 leaving a zombie, pid reuse, re-check later ---- */

static void count_tracked(void *data, enum spok_engine_event ev, const struct spok_execution *x)
{
	(void)x;
	if (ev == SPOK_ENGINE_TRACKED)
		(*(int *)data)++;
}

/* A child process that supervises n executions: its own loop, client, store and engine.
 * Once every object exists (first watch event each), it writes the ids to fd and goes on
 * following them until it is killed. Never returns. */
static void supervisor_child(const char *dir, int n, int fd)
{
	uv_loop_t l;
	struct kube_client *c;
	struct spok_store *st = NULL;
	struct spok_engine *e = NULL;
	struct spok_engine_opts o = {0};
	char ids[8][32];
	int tracked = 0;

	uv_loop_init(&l);
	c = client_new(&l);
	if (spok_store_open(dir, &st, NULL) != 0)
		_exit(2);
	o.cluster = "test-cluster";
	o.client = c;
	o.store = st;
	o.platform = &plat;
	o.load_task = load_task;
	o.spark_version = "4.0.5";
	o.tick_ms = 50;
	o.on_event = count_tracked;
	o.event_data = &tracked;
	if (spok_engine_new(&o, &e, NULL) != 0)
		_exit(3);
	for (int i = 0; i < n && i < 8; i++) {
		struct spok_task t;

		make_task(&t, 0, 0);
		if (spok_engine_submit(e, &t, ns, "test:0:0", ids[i], sizeof(ids[i]), NULL) != 0)
			_exit(4);
		spok_task_free(&t);
	}
	while (tracked < n)
		uv_run(&l, UV_RUN_ONCE);
	for (int i = 0; i < n; i++)
		if (write(fd, ids[i], sizeof(ids[i])) != (ssize_t)sizeof(ids[i]))
			_exit(5);
	close(fd);
	for (;;)
		uv_run(&l, UV_RUN_ONCE);
}

/* Starts a supervisor of n executions and reads their ids once all objects exist. */
static pid_t start_supervisor(struct h *h, int n, char ids[][32])
{
	int fds[2];
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		supervisor_child(h->dir, n, fds[1]);
	}
	close(fds[1]);
	for (int i = 0; i < n; i++)
		if (read(fds[0], ids[i], 32) != 32)
			fail_msg("the supervisor child died before creating its objects");
	close(fds[0]);
	return pid;
}

/* An unrelated live process (its pid is what a reused pid looks like). */
static pid_t spawn_sleep(void)
{
	char *argv[] = {(char *)"sleep", (char *)"600", NULL};
	extern char **environ;
	pid_t pid;

	assert_int_equal(posix_spawnp(&pid, "sleep", NULL, NULL, argv, environ), 0);
	return pid;
}

static void set_supervisor(struct h *h, const char *id, struct spok_proc_id sup)
{
	struct spok_execution x = row_of(h, id);
	struct spok_err err = {0};

	x.supervisor_pid = sup.pid;
	x.supervisor_start = sup.start;
	if (spok_store_update(h->st, &x, &err) != 0)
		fail_msg("%s", err.msg);
	spok_execution_free(&x);
}

static bool supervised_here(struct h *h, const char *id)
{
	struct spok_execution x = row_of(h, id);
	struct spok_proc_id me = spok_proc_self();
	bool yes = x.supervisor_pid == me.pid && x.supervisor_start == me.start;

	spok_execution_free(&x);
	return yes;
}

/* Plays the operator to the end for an adopted execution: RUNNING, then COMPLETED. */
static void complete(struct h *h, const char *id)
{
	char *name = name_of(h, id);

	set_state(name, "RUNNING");
	WAIT_FOR(row_is(h, id, SPOK_PHASE_RUNNING), "RUNNING after the takeover");
	set_state(name, "COMPLETED");
	WAIT_FOR(row_is(h, id, SPOK_PHASE_SUCCEEDED), "SUCCEEDED after the takeover");
	free(name);
}

static void expect_aborted(struct h *h, const char *id)
{
	char *name = name_of(h, id);

	WAIT_FOR(row_is(h, id, SPOK_PHASE_ABORTED), "ABORTED");
	WAIT_FOR(get_code(name) == SPOK_ENOTFOUND, "the aborted object's deletion");
	free(name);
}

/* kill -9 of the supervisor, not reaped: a zombie with the same pid and start time, which
 * kill(pid, 0) still reports. The next engine adopts and follows every execution, and an
 * abort of one of them deletes its object. */
static void test_supervisor_zombie(void **state)
{
	struct h h;
	char ids[3][32];
	size_t adopted = 0;
	pid_t child;
	int wst;

	(void)state;
	h_open(&h, NULL);
	child = start_supervisor(&h, 3, ids);
	assert_int_equal(kill(child, SIGKILL), 0);
	/* not waited for: wait until the kernel has made it a zombie */
	WAIT_FOR(kill(child, 0) == 0 && spok_pid_start_time(child) != 0 &&
		 !spok_proc_alive((struct spok_proc_id){child, 0}), "the zombie");
	assert_int_equal(spok_engine_adopt_all(h.e, &adopted, NULL), 0);
	assert_int_equal(adopted, 3);
	complete(&h, ids[0]);
	complete(&h, ids[1]);
	assert_int_equal(spok_engine_abort(h.e, ids[2], NULL), 0);
	expect_aborted(&h, ids[2]);
	WAIT_FOR(spok_engine_idle(h.e), "the end");
	for (int i = 0; i < 3; i++) {
		assert_true(supervised_here(&h, ids[i]));
		assert_int_equal(count_for(ids[i]), 0);
	}
	assert_int_equal(waitpid(child, &wst, 0), child);
	h_close(&h);
}

/* The recorded supervisor pid now belongs to an unrelated live process (another start
 * time). An abort of an execution nobody follows takes it over and really aborts it (it
 * used to answer and do nothing); adopt_all follows the rest. */
static void test_supervisor_pid_reused(void **state)
{
	struct h h;
	char ids[2][32];
	size_t adopted = 0;
	pid_t child, other;
	int wst;
	struct spok_proc_id reused;

	(void)state;
	h_open(&h, NULL);
	child = start_supervisor(&h, 2, ids);
	assert_int_equal(kill(child, SIGKILL), 0);
	assert_int_equal(waitpid(child, &wst, 0), child);
	other = spawn_sleep();
	/* the row names the dead supervisor's start time with the live process's pid */
	{
		struct spok_execution x = row_of(&h, ids[0]);

		reused.pid = other;
		reused.start = x.supervisor_start;
		spok_execution_free(&x);
	}
	assert_true(reused.start != 0);
	WAIT_FOR(spok_pid_start_time(other) != 0, "the unrelated process");
	assert_true(spok_pid_start_time(other) != reused.start);
	set_supervisor(&h, ids[0], reused);
	set_supervisor(&h, ids[1], reused);
	assert_int_equal(spok_engine_abort(h.e, ids[0], NULL), 0);
	expect_aborted(&h, ids[0]);
	assert_int_equal(spok_engine_adopt_all(h.e, &adopted, NULL), 0);
	assert_int_equal(adopted, 1);
	complete(&h, ids[1]);
	WAIT_FOR(spok_engine_idle(h.e), "the end");
	assert_int_equal(count_for(ids[1]), 0);
	kill(other, SIGKILL);
	waitpid(other, &wst, 0);
	h_close(&h);
}

static uint64_t relists(struct h *h)
{
	struct spok_engine_stats st;

	spok_engine_stats(h->e, &st);
	return st.relists;
}

/* Adopted executions whose objects change while the adopting GETs' answers are on their way
 * (held back by the test hook SPOK_HOLD_GET_MS): the watch's newer copy used to be dropped
 * for the GET's older snapshot, and the run then waited for a change that never came again
 * (seen under load as a hang of test_supervisor_pid_reused). */
static void test_adopt_races_status(void **state)
{
	enum { N = 8 };
	struct h h;
	char ids[N][32];
	struct kube_sync s[N];
	size_t adopted = 0;
	pid_t child;
	int wst;
	int64_t until;

	(void)state;
#ifndef SPOK_TEST_HOOKS
	skip();
#endif
	h_open(&h, NULL);
	child = start_supervisor(&h, N, ids);
	assert_int_equal(kill(child, SIGKILL), 0);
	assert_int_equal(waitpid(child, &wst, 0), child);
	/* the namespace listed first: later adoptions then GET their objects */
	assert_int_equal(spok_engine_adopt(h.e, ids[0], NULL), 0);
	WAIT_FOR(relists(&h) > 0, "the namespace's list");
	setenv("SPOK_HOLD_GET_MS", "1500", 1);
	assert_int_equal(spok_engine_adopt_all(h.e, &adopted, NULL), 0);
	assert_int_equal(adopted, N - 1);
	until = spok_now_ms() + 500; /* the GETs answered (and held), the watch started */
	WAIT_FOR(spok_now_ms() >= until, "the GETs' answers");
	unsetenv("SPOK_HOLD_GET_MS");
	memset(s, 0, sizeof(s));
	for (int i = 0; i < N; i++) {
		char *name = name_of(&h, ids[i]);
		json_t *st = json_pack("{s:{s:s},s:s}", "applicationState", "state", "COMPLETED",
				       "sparkApplicationId", "spark-0123");

		assert_int_equal(kube_patch_status(cli, &SPARK, ns, name, st, kube_sync_cb, &s[i],
						   NULL), 0);
		json_decref(st);
		free(name);
	}
	for (int i = 0; i < N; i++) {
		if (kube_sync_wait(cli, &s[i], NULL) != 0)
			fail_msg("patch status: %s", s[i].message);
		kube_sync_free(&s[i]);
	}
	for (int i = 0; i < N; i++)
		WAIT_FOR(row_is(&h, ids[i], SPOK_PHASE_SUCCEEDED), "SUCCEEDED after the adoption");
	WAIT_FOR(spok_engine_idle(h.e), "the end");
	h_close(&h);
}

/* A row whose supervisor is alive is left to it; when that supervisor dies later (here
 * killed and left a zombie), the engine that skipped the row takes it over on its own. */
static void test_supervisor_dies_later(void **state)
{
	struct h h;
	char ids[1][32];
	size_t adopted = 0;
	pid_t child, live;
	int wst;

	(void)state;
	h_open(&h, NULL);
	child = start_supervisor(&h, 1, ids);
	assert_int_equal(kill(child, SIGKILL), 0);
	assert_int_equal(waitpid(child, &wst, 0), child);
	live = spawn_sleep();
	WAIT_FOR(spok_pid_start_time(live) != 0, "the live supervisor");
	set_supervisor(&h, ids[0], (struct spok_proc_id){live, spok_pid_start_time(live)});
	assert_int_equal(spok_engine_adopt_all(h.e, &adopted, NULL), 0);
	assert_int_equal(adopted, 0); /* followed by a live process: not ours */
	assert_false(supervised_here(&h, ids[0]));
	assert_int_equal(kill(live, SIGKILL), 0); /* not reaped: a zombie */
	WAIT_FOR(supervised_here(&h, ids[0]), "the takeover after the supervisor died");
	complete(&h, ids[0]);
	WAIT_FOR(spok_engine_idle(h.e), "the end");
	assert_int_equal(count_for(ids[0]), 0);
	assert_int_equal(waitpid(live, &wst, 0), live);
	h_close(&h);
}

/* A row written after adopt_all by another process (a `spok run --cluster` started later)
 * that then dies: the periodic rescan, which reads only rows other processes supervise,
 * finds it and takes it over; the engine's own executions stay its own. */
static void test_rescan_finds_new_rows(void **state)
{
	struct spok_engine_opts o = {.rescan_ms = 200};
	struct h h;
	char ids[1][32];
	size_t adopted = 0;
	pid_t child;
	int wst;

	(void)state;
	h_open(&h, &o);
	assert_int_equal(spok_engine_adopt_all(h.e, &adopted, NULL), 0);
	assert_int_equal(adopted, 0);
	child = start_supervisor(&h, 1, ids);
	assert_false(supervised_here(&h, ids[0]));
	assert_int_equal(kill(child, SIGKILL), 0);
	assert_int_equal(waitpid(child, &wst, 0), child);
	WAIT_FOR(supervised_here(&h, ids[0]), "the rescan's takeover of the new row");
	complete(&h, ids[0]);
	WAIT_FOR(row_is(&h, ids[0], SPOK_PHASE_SUCCEEDED), "SUCCEEDED after the takeover");
	WAIT_FOR(spok_engine_idle(h.e), "the end");
	assert_int_equal(count_for(ids[0]), 0);
	h_close(&h);
}

static void sql(struct h *h, const char *stmt)
{
	char *db = xasprintf("%s/spok.db", h->dir);
	sqlite3 *c = NULL;

	assert_int_equal(sqlite3_open(db, &c), SQLITE_OK);
	if (sqlite3_exec(c, stmt, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", stmt, sqlite3_errmsg(c));
	sqlite3_close(c);
	free(db);
}

/* The rescan's lost path: an adopting engine (the daemon) stops following an execution of
 * its own whose write failed (store_failed), and its SparkApplication vanishes while nobody
 * follows it. Once the store takes writes again, the rescan reads the row again (ours,
 * unfinished: "lost"), adopts it, finds the object gone and ends the attempt as deleted
 * externally. Writes fail while t_arm says so (the deferred foreign key of
 * test_commit_fails, checked at COMMIT). */
static void test_rescan_lost_vanished(void **state)
{
	struct spok_engine_opts o = {.rescan_ms = 200};
	struct spok_execution x;
	struct kube_sync s = {0};
	struct h h;
	size_t adopted = 0;
	char id[32];
	char *name;

	(void)state;
	h_open(&h, &o);
	assert_int_equal(spok_engine_adopt_all(h.e, &adopted, NULL), 0);
	sql(&h, "CREATE TABLE t_parent (id TEXT PRIMARY KEY);"
		"CREATE TABLE t_child (p TEXT REFERENCES t_parent (id) DEFERRABLE INITIALLY DEFERRED);"
		"CREATE TABLE t_arm (on_ INTEGER); INSERT INTO t_arm VALUES (0);"
		"CREATE TRIGGER t_bad AFTER UPDATE ON executions WHEN (SELECT on_ FROM t_arm) = 1"
		" BEGIN INSERT INTO t_child VALUES ('none'); END;");
	submit(&h, 0, 0, id);
	WAIT_FOR(row_started(&h, id), "the create");
	name = name_of(&h, id);
	sql(&h, "UPDATE t_arm SET on_ = 1");
	set_state(name, "RUNNING");
	WAIT_FOR(h.failed >= 1, "the failed write to stop the following");
	WAIT_FOR(spok_engine_active(h.e) == 0, "the execution to leave the engine");
	assert_int_equal(sync_call(&s, kube_delete(cli, &SPARK, ns, name, NULL, NULL, kube_sync_cb,
						    &s, NULL)), 0);
	kube_sync_free(&s);
	x = row_of(&h, id);
	assert_false(spok_phase_terminal(x.phase)); /* the row still says it runs */
	spok_execution_free(&x);
	sql(&h, "UPDATE t_arm SET on_ = 0");
	WAIT_FOR(row_is(&h, id, SPOK_PHASE_RETRYABLE_FAILURE), "the rescan to settle the lost row");
	x = row_of(&h, id);
	assert_non_null(strstr(x.reason, "ResourceDeletedExternally"));
	spok_execution_free(&x);
	WAIT_FOR(spok_engine_idle(h.e), "the end");
	free(name);
	h_close(&h);
}

/* ---- setup ---- */

static int setup(void **state)
{
	struct kube_sync s = {0};
	json_t *obj;

	(void)state;
	spok_test_k8s_env();
	uv_loop_init(&loop);
	spok_platform_init(&plat);
	snprintf(ns, sizeof(ns), "spok-engine-%ld", (long)getpid());
	cli = client_new(&loop);
	obj = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata",
			"name", ns);
	sync_call(&s, kube_create(cli, &NAMESPACES, NULL, obj, kube_sync_cb, &s, NULL));
	if (s.code != 0 && s.code != SPOK_ECONFLICT)
		fail_msg("%s", s.message);
	kube_sync_free(&s);
	json_decref(obj);
	return 0;
}

static int teardown(void **state)
{
	struct kube_sync s = {0};

	(void)state;
	sync_call(&s, kube_delete(cli, &NAMESPACES, NULL, ns, NULL, NULL, kube_sync_cb, &s, NULL));
	kube_sync_free(&s);
	kube_client_close(cli);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	spok_platform_free(&plat);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_success_and_teardown),
		cmocka_unit_test(test_keep_on_success),
		cmocka_unit_test(test_retry_new_attempt),
		cmocka_unit_test(test_submission_failed),
		cmocka_unit_test(test_commit_fails),
		cmocka_unit_test(test_commit_fails_at_close),
		cmocka_unit_test(test_timeout_deletes),
		cmocka_unit_test(test_abort_from_other_process),
		cmocka_unit_test(test_stuck_submitted),
		cmocka_unit_test(test_driver_pod_read),
		cmocka_unit_test(test_deleted_externally),
		cmocka_unit_test(test_name_taken),
		cmocka_unit_test(test_quota_waits),
		cmocka_unit_test(test_many_share_one_watch),
		cmocka_unit_test(test_crash_before_create),
		cmocka_unit_test(test_crash_after_create),
		cmocka_unit_test(test_crash_running),
		cmocka_unit_test(test_crash_teardown),
		cmocka_unit_test(test_supervisor_zombie),
		cmocka_unit_test(test_supervisor_pid_reused),
		cmocka_unit_test(test_supervisor_dies_later),
		cmocka_unit_test(test_rescan_finds_new_rows),
		cmocka_unit_test(test_rescan_lost_vanished),
		cmocka_unit_test(test_adopt_races_status),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
