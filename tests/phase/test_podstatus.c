/* test_podstatus.c - direct submission's status mapper (spok_status_from_driver_pod) and the
 * verdict on a pending driver pod, as a table over pod JSON fixtures (tests/phase/pods/, in
 * the shapes the API server and the kubelet write). No API server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/xalloc.h"
#include "phase/phase.h"

static const char *dir;

struct pod_case {
	const char *file;
	enum spok_phase phase;
	const char *app_state;  /* the operator's state the pod stands for */
	const char *reason;     /* exact */
	const char *error;      /* exact error_message; NULL: none */
	enum spok_pod_verdict verdict;
	const char *verdict_msg; /* substring; NULL: no message */
	int64_t finish_unix;
};

static json_t *load(const char *file)
{
	char *path = xasprintf("%s/%s", dir, file);
	json_error_t jerr;
	json_t *j = json_load_file(path, 0, &jerr);

	if (j == NULL)
		fail_msg("%s: %s", path, jerr.text);
	free(path);
	return j;
}

static void check(const struct pod_case *c)
{
	struct spok_platform p;
	struct spok_status st;
	struct spok_err err = {0};
	json_t *pod = load(c->file);
	char *msg = NULL;
	enum spok_pod_verdict v;

	spok_platform_init(&p);
	if (spok_status_from_driver_pod(pod, NULL, NULL, &p, NULL, &st, &err) != 0)
		fail_msg("%s: %s", c->file, err.msg);
	if (st.phase != c->phase || strcmp(st.app_state, c->app_state) != 0 ||
	    strcmp(st.reason, c->reason) != 0 ||
	    (c->error == NULL) != (st.error_message == NULL) ||
	    (c->error && strcmp(c->error, st.error_message) != 0) || st.finish_unix != c->finish_unix)
		fail_msg("%s: got %s '%s' reason '%s' error '%s' finish %lld", c->file,
			 spok_phase_name(st.phase), st.app_state, st.reason,
			 st.error_message ? st.error_message : "(none)", (long long)st.finish_unix);
	assert_string_equal(st.spark_app_id, "spark-0123456789abcdef0123456789abcdef");
	assert_string_equal(st.driver_pod, "x1-n0-0-driver");
	assert_null(st.ui_address);
	v = spok_driver_pod_verdict(pod, &msg);
	if (v != c->verdict || (c->verdict_msg == NULL) != (msg == NULL) ||
	    (c->verdict_msg && strstr(msg, c->verdict_msg) == NULL))
		fail_msg("%s: verdict %d '%s'", c->file, (int)v, msg ? msg : "(none)");
	free(msg);
	spok_status_free(&st);
	spok_platform_free(&p);
	json_decref(pod);
}

#define FAILED_WITH "Spark Job Failed with Error: "
#define T1 1767225660 /* 2026-01-01T00:01:00Z */

static void test_podstatus_table(void **state)
{
	static const struct pod_case cases[] = {
		{"01-created.json", SPOK_PHASE_QUEUED, "", "job queued", NULL, SPOK_POD_FINE, NULL, 0},
		{"02-pending-unscheduled.json", SPOK_PHASE_INITIALIZING, "SUBMITTED", "job submitted",
		 NULL, SPOK_POD_WAITING, "waiting: 0/1 nodes are available: 1 Insufficient memory.", 0},
		{"03-container-creating.json", SPOK_PHASE_INITIALIZING, "SUBMITTED", "job submitted",
		 NULL, SPOK_POD_FINE, NULL, 0},
		{"04-err-image-pull.json", SPOK_PHASE_INITIALIZING, "SUBMITTED", "job submitted", NULL,
		 SPOK_POD_BROKEN,
		 "driver pod x1-n0-0-driver cannot pull image \"img:1\": ErrImagePull: pull access denied",
		 0},
		{"05-image-pull-backoff.json", SPOK_PHASE_INITIALIZING, "SUBMITTED", "job submitted",
		 NULL, SPOK_POD_BROKEN, "cannot pull image \"img:1\": ImagePullBackOff", 0},
		{"06-config-error.json", SPOK_PHASE_INITIALIZING, "SUBMITTED", "job submitted", NULL,
		 SPOK_POD_BROKEN,
		 "cannot start container spark-kubernetes-driver: CreateContainerConfigError: secret", 0},
		{"07-running.json", SPOK_PHASE_RUNNING, "RUNNING", "", NULL, SPOK_POD_FINE, NULL, 0},
		{"08-succeeded.json", SPOK_PHASE_SUCCEEDED, "COMPLETED", "", NULL, SPOK_POD_FINE, NULL, T1},
		{"09-failed-exit-1.json", SPOK_PHASE_RETRYABLE_FAILURE, "FAILED", "",
		 FAILED_WITH "driver container failed with ExitCode: 1, Reason: Error", SPOK_POD_FINE,
		 NULL, T1},
		{"10-oom-killed.json", SPOK_PHASE_RETRYABLE_FAILURE, "FAILED", "",
		 FAILED_WITH "driver container failed with ExitCode: 137, Reason: OOMKilled",
		 SPOK_POD_FINE, NULL, T1},
		{"11-evicted.json", SPOK_PHASE_RETRYABLE_FAILURE, "FAILED", "",
		 FAILED_WITH "driver container failed with ExitCode: 137, Reason: Error; pod Evicted: "
		 "The node was low on resource: memory.", SPOK_POD_FINE, NULL, T1},
		{"12-evicted-no-status.json", SPOK_PHASE_RETRYABLE_FAILURE, "FAILED", "",
		 FAILED_WITH "driver pod failed: pod Evicted: The node was low on resource: "
		 "ephemeral-storage.", SPOK_POD_FINE, NULL, 0},
		/* a deletionTimestamp is the engine's to judge (it knows whether it asked) */
		{"13-deleting.json", SPOK_PHASE_RUNNING, "RUNNING", "", NULL, SPOK_POD_FINE, NULL, 0},
		{"14-sidecar-driver-done.json", SPOK_PHASE_SUCCEEDED, "COMPLETED", "", NULL,
		 SPOK_POD_FINE, NULL, T1},
		{"15-unknown.json", SPOK_PHASE_RUNNING, "UNKNOWN", "", NULL, SPOK_POD_FINE, NULL, 0},
		/* the operator's GetDriverState: a Failed pod whose driver exited 0 completed (a
		 * sidecar's failure is not the driver's) */
		{"17-failed-driver-exit-0.json", SPOK_PHASE_SUCCEEDED, "COMPLETED", "", NULL,
		 SPOK_POD_FINE, NULL, T1},
		/* only the container named spark-kubernetes-driver is the driver */
		{"18-running-no-driver-status.json", SPOK_PHASE_RUNNING, "RUNNING", "", NULL,
		 SPOK_POD_FINE, NULL, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check(&cases[i]);
}

/* Text the kubelet or the node wrote is one terminal-safe line in the error. */
static void test_podstatus_hostile(void **state)
{
	struct spok_platform p;
	struct spok_status st;
	struct spok_err err = {0};
	json_t *pod = load("16-hostile-message.json");

	(void)state;
	spok_platform_init(&p);
	assert_int_equal(spok_status_from_driver_pod(pod, NULL, NULL, &p, NULL, &st, &err), 0);
	assert_int_equal(st.phase, SPOK_PHASE_RETRYABLE_FAILURE);
	assert_null(strchr(st.error_message, '\n'));
	assert_null(strchr(st.error_message, '\033'));
	assert_null(strstr(st.error_message, "\u202e"));
	assert_non_null(strstr(st.error_message, "ExitCode: 2"));
	spok_status_free(&st);
	spok_platform_free(&p);
	json_decref(pod);
}

/* Executors seen by the watch give the executor log links operator mode gives, and the
 * history link uses the pod's app id. */
static void test_podstatus_links(void **state)
{
	struct spok_platform p;
	struct spok_status st;
	struct spok_err err = {0};
	json_t *pod = load("09-failed-exit-1.json");
	json_t *ex = json_pack("{s:s,s:s}", "x1-n0-0-exec-2", "FAILED", "x1-n0-0-exec-1", "RUNNING");
	struct spok_log_template *tpl;

	(void)state;
	spok_platform_init(&p);
	p.spark.history_server_url = xstrdup("http://history:18080");
	p.spark.logs_user.templates = xcalloc(1, sizeof(*tpl));
	p.spark.logs_user.ntemplates = 1;
	tpl = &p.spark.logs_user.templates[0];
	tpl->display_name = xstrdup("Loki");
	spok_strv_push(&tpl->template_uris, "https://loki/{{ .namespace }}/{{ .podName }}");
	assert_int_equal(spok_status_from_driver_pod(pod, ex, NULL, &p, NULL, &st, &err), 0);
	/* the default mixed driver link, the user's, one per executor (sorted), history */
	assert_int_equal(st.nlinks, 5);
	assert_string_equal(st.links[0].name, "Kubernetes Logs(Driver Logs)");
	assert_non_null(strstr(st.links[0].uri, "/log/ns/x1-n0-0-driver/pod"));
	assert_string_equal(st.links[1].name, "Loki(User Logs)");
	assert_string_equal(st.links[1].uri, "https://loki/ns/x1-n0-0-driver");
	assert_string_equal(st.links[2].name, "Loki(Executor Logs x1-n0-0-exec-1)");
	assert_string_equal(st.links[3].uri, "https://loki/ns/x1-n0-0-exec-2");
	assert_int_equal(st.links[4].kind, SPOK_LINK_HISTORY_UI);
	assert_string_equal(st.links[4].uri,
			    "http://history:18080/history/spark-0123456789abcdef0123456789abcdef");
	spok_status_free(&st);
	spok_platform_free(&p);
	json_decref(ex);
	json_decref(pod);
}

static void test_podstatus_executor_states(void **state)
{
	static const char *const phases[][2] = {{"Pending", "PENDING"}, {"Running", "RUNNING"},
						{"Succeeded", "COMPLETED"}, {"Failed", "FAILED"},
						{"Unknown", "UNKNOWN"}, {"", "UNKNOWN"}};

	(void)state;
	for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++) {
		json_t *pod = json_pack("{s:{s:s}}", "status", "phase", phases[i][0]);

		assert_string_equal(spok_executor_pod_state(pod), phases[i][1]);
		json_decref(pod);
	}
	assert_string_equal(spok_executor_pod_state(NULL), "UNKNOWN");
}

static void test_podstatus_errors(void **state)
{
	struct spok_platform p;
	struct spok_status st;
	struct spok_err err = {0};
	json_t *bad = json_pack("{s:{s:i}}", "metadata", "name", 3);

	(void)state;
	spok_platform_init(&p);
	assert_int_equal(spok_status_from_driver_pod(bad, NULL, NULL, &p, NULL, &st, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "metadata.name"));
	/* the hint names what was read: a pod, not a SparkApplication */
	assert_non_null(strstr(err.msg, "; the object is not a v1 Pod as the API server returns it"));
	assert_null(strstr(err.msg, "SparkApplication"));
	assert_int_equal(spok_status_from_driver_pod(NULL, NULL, NULL, &p, NULL, &st, &err), SPOK_EINVAL);
	assert_null(st.reason);
	spok_platform_free(&p);
	json_decref(bad);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_podstatus_table),
		cmocka_unit_test(test_podstatus_hostile),
		cmocka_unit_test(test_podstatus_links),
		cmocka_unit_test(test_podstatus_executor_states),
		cmocka_unit_test(test_podstatus_errors),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: test_podstatus PODS-DIR\n");
		return 2;
	}
	dir = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
