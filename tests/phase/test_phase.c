/* test_phase.c - unit tests of module phase: template rendering, time, the state table,
 * the phase-version rule, deletion, and Flyte's TestGetEventInfo link lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/xalloc.h"
#include "phase/phase.h"

static const char CW_USER[] =
	"https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#logStream:group=/kubernetes/flyte;prefix=var.log.containers.{{ .podName }};streamFilter=typeLogStreamPrefix";
static const char CW_SYSTEM[] =
	"https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#logStream:group=/kubernetes/flyte;prefix=system_log.var.log.containers.{{ .podName }};streamFilter=typeLogStreamPrefix";

/* The config of Flyte's TestGetEventInfo. */
static void flyte_test_platform(struct spok_platform *p, const char *history)
{
	spok_platform_init(p);
	free(p->spark.logs_mixed.kubernetes_template_uri);
	p->spark.logs_mixed.kubernetes_template_uri = NULL;
	p->spark.logs_mixed.kubernetes_url = xstrdup("k8s.com");
	p->spark.logs_mixed.kubernetes_enabled = history == NULL;
	p->spark.logs_user.kubernetes_enabled = true;
	p->spark.logs_user.kubernetes_url = xstrdup("k8s.com");
	p->spark.logs_user.cloudwatch_enabled = true;
	p->spark.logs_user.cloudwatch_template_uri = xstrdup(CW_USER);
	p->spark.logs_system.cloudwatch_enabled = true;
	p->spark.logs_system.cloudwatch_template_uri = xstrdup(CW_SYSTEM);
	p->spark.logs_all_user.cloudwatch_enabled = true;
	p->spark.logs_all_user.cloudwatch_template_uri = xstrdup(CW_USER);
	p->spark.history_server_url = xstrdup(history);
}

/* Flyte's dummySparkApplication(state). */
static json_t *dummy_app(const char *state)
{
	json_t *app = json_pack(
		"{s:{s:s, s:s}, s:{s:s, s:{s:s}, s:{s:s, s:s}, s:i, s:{s:s, s:s}}}",
		"metadata", "name", "spark-app-name", "namespace", "spark-namespace",
		"status", "sparkApplicationId", "app-id", "applicationState", "state", state,
		"driverInfo", "podName", "spark-pod", "webUIIngressAddress", "https://spark-ui.flyte",
		"executionAttempts", 1,
		"executorState", "exec-pod-1", "PENDING", "exec-pod-2", "RUNNING");
	assert_non_null(app);
	return app;
}

static void map_ok(json_t *app, const struct spok_platform *p, const struct spok_task *t,
		   const struct spok_status *prev, struct spok_status *st)
{
	struct spok_err err = {0};
	int rc = spok_status_from_sparkapp(app, t, p, prev, st, &err);
	if (rc != 0)
		fail_msg("unexpected error: %s", err.msg);
}

static void test_render_basic(void **state)
{
	struct spok_strmap vars = {0};
	char *s;

	(void)state;
	spok_strmap_set(&vars, "podName", "pod-1");
	spok_strmap_set(&vars, "namespace", "ns");
	spok_strmap_set(&vars, "hostname", "");
	s = spok_render_log_template(
		"a/{{ .podName }}/{{.namespace}}/{{$podName}}/{{ .PODNAME }}/{{\t$NameSpace  }}/"
		"{{ .podNameX }}/{{ .hostname }}/{{ podName }}/{{{ .podName }}}", &vars);
	assert_string_equal(s, "a/pod-1/ns/pod-1/pod-1/ns/{{ .podNameX }}/{{ .hostname }}/"
			       "{{ podName }}/{pod-1}");
	free(s);
	s = spok_render_log_template("{{ .podName", &vars);
	assert_string_equal(s, "{{ .podName");
	free(s);
	s = spok_render_log_template("", NULL);
	assert_string_equal(s, "");
	free(s);
	spok_strmap_free(&vars);
}

/* Values are inserted literally and later variables see earlier output (Go's pass order). */
static void test_render_order(void **state)
{
	struct spok_strmap vars = {0};
	char *s;

	(void)state;
	spok_strmap_set(&vars, "a", "{{ .b }}");
	spok_strmap_set(&vars, "b", "$1");
	s = spok_render_log_template("{{.a}}|{{.b}}", &vars);
	assert_string_equal(s, "$1|$1");
	free(s);
	spok_strmap_free(&vars);
}

/* Values holding placeholders cannot multiply a link without bound. */
static void test_render_cap(void **state)
{
	struct spok_strmap vars = {0};
	char *big = xmalloc(20001), *s;

	(void)state;
	for (size_t i = 0; i < 20000; i += 10)
		memcpy(big + i, "{{.b}}{{.b", 10);
	big[20000] = '\0';
	spok_strmap_set(&vars, "a", big);
	spok_strmap_set(&vars, "b", big);
	s = spok_render_log_template("{{.a}}", &vars);
	assert_int_equal(strlen(s), 20000); /* a applied, b's pass skipped */
	free(s);
	free(big);
	spok_strmap_free(&vars);
}

static void test_time(void **state)
{
	int64_t t = -1;
	char buf[40];

	(void)state;
	assert_true(spok_parse_rfc3339("1970-01-01T00:00:00Z", &t));
	assert_int_equal(t, 0);
	assert_true(spok_parse_rfc3339("2024-02-29T12:34:56Z", &t));
	assert_int_equal(t, 1709210096);
	assert_true(spok_parse_rfc3339("2024-02-29T14:34:56.123+02:00", &t));
	assert_int_equal(t, 1709210096);
	assert_false(spok_parse_rfc3339("2023-02-29T12:34:56Z", &t));
	assert_false(spok_parse_rfc3339("2024-02-29 12:34:56Z", &t));
	assert_false(spok_parse_rfc3339("2024-02-29T12:34:56", &t));
	assert_false(spok_parse_rfc3339("2024-02-29T12:34:56Zx", &t));
	assert_false(spok_parse_rfc3339("2024-02-29T12:34:56.Z", &t));
	spok_format_rfc3339(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	spok_format_rfc3339(1709210096, buf, sizeof(buf));
	assert_string_equal(buf, "2024-02-29T12:34:56Z");
	spok_format_rfc3339(-1, buf, sizeof(buf));
	assert_string_equal(buf, "1969-12-31T23:59:59Z");
}

static void check_uris(const struct spok_status *st, const char *const *want, size_t n)
{
	assert_int_equal(st->nlinks, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(st->links[i].uri, want[i]);
}

/* Flyte's TestGetEventInfo, link for link. */
static void test_flyte_event_info(void **state)
{
	static const char *const running[] = {
		"k8s.com/#!/log/spark-namespace/spark-pod/pod?namespace=spark-namespace",
		"k8s.com/#!/log/spark-namespace/spark-pod/pod?namespace=spark-namespace",
		"https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#logStream:group=/kubernetes/flyte;prefix=var.log.containers.spark-pod;streamFilter=typeLogStreamPrefix",
		"https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#logStream:group=/kubernetes/flyte;prefix=system_log.var.log.containers.spark-app-name;streamFilter=typeLogStreamPrefix",
		"https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#logStream:group=/kubernetes/flyte;prefix=var.log.containers.spark-app-name;streamFilter=typeLogStreamPrefix",
		"https://spark-ui.flyte",
	};
	static const char *const failed[] = {
		"k8s.com/#!/log/spark-namespace/spark-pod/pod?namespace=spark-namespace",
		"https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#logStream:group=/kubernetes/flyte;prefix=var.log.containers.spark-pod;streamFilter=typeLogStreamPrefix",
		"https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#logStream:group=/kubernetes/flyte;prefix=system_log.var.log.containers.spark-app-name;streamFilter=typeLogStreamPrefix",
		"https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#logStream:group=/kubernetes/flyte;prefix=var.log.containers.spark-app-name;streamFilter=typeLogStreamPrefix",
		"spark-history.flyte/history/app-id",
	};
	struct spok_platform p;
	struct spok_status st;
	json_t *app;

	(void)state;
	flyte_test_platform(&p, NULL);
	/* logs.user has kubernetes enabled, which would add spok's executor links for
	 * Flyte's executorState; drop it for a like-for-like comparison. */
	app = dummy_app("RUNNING");
	json_object_del(json_object_get(app, "status"), "executorState");
	map_ok(app, &p, NULL, NULL, &st);
	check_uris(&st, running, 6);
	assert_string_equal(st.links[0].name, "Kubernetes Logs(Driver Logs)");
	assert_string_equal(st.links[1].name, "Kubernetes Logs(User Logs)");
	assert_string_equal(st.links[2].name, "Cloudwatch Logs(User Logs)");
	assert_string_equal(st.links[3].name, "Cloudwatch Logs(System Logs)");
	assert_string_equal(st.links[4].name, "Cloudwatch Logs(Spark-Submit/All User Logs)");
	assert_string_equal(st.links[5].name, "Spark Driver UI");
	assert_int_equal(st.links[5].kind, SPOK_LINK_DRIVER_UI);
	assert_string_equal(st.ui_address, "https://spark-ui.flyte");
	assert_int_equal(st.phase, SPOK_PHASE_RUNNING);
	spok_status_free(&st);
	json_decref(app);

	app = dummy_app("SUBMITTED");
	json_object_del(json_object_get(app, "status"), "executorState");
	map_ok(app, &p, NULL, NULL, &st);
	check_uris(&st, running, 5);
	assert_true(st.links[4].show_while_pending);
	assert_false(st.links[3].show_while_pending);
	assert_int_equal(st.phase, SPOK_PHASE_INITIALIZING);
	spok_status_free(&st);
	json_decref(app);
	spok_platform_free(&p);

	flyte_test_platform(&p, "spark-history.flyte");
	app = dummy_app("FAILED");
	json_object_del(json_object_get(app, "status"), "executorState");
	map_ok(app, &p, NULL, NULL, &st);
	check_uris(&st, failed, 5);
	assert_string_equal(st.links[4].name, "Spark History UI");
	assert_int_equal(st.links[4].kind, SPOK_LINK_HISTORY_UI);
	assert_int_equal(st.links[4].message_format, 2);
	spok_status_free(&st);
	json_decref(app);
	spok_platform_free(&p);
}

static void test_states(void **state)
{
	static const struct {
		const char *state;
		enum spok_phase phase;
		const char *reason;
		const char *msg;
	} cases[] = {
		{"", SPOK_PHASE_QUEUED, "job queued", NULL},
		{"SUBMITTED", SPOK_PHASE_INITIALIZING, "job submitted", NULL},
		{"PENDING_SUBMISSION", SPOK_PHASE_INITIALIZING, "job submitted", NULL},
		{"RUNNING", SPOK_PHASE_RUNNING, "", NULL},
		{"COMPLETED", SPOK_PHASE_SUCCEEDED, "", NULL},
		{"FAILED", SPOK_PHASE_RETRYABLE_FAILURE, "", "Spark Job Failed with Error: boom"},
		{"SUBMISSION_FAILED", SPOK_PHASE_RETRYABLE_FAILURE, "",
		 "Spark Job  Submission Failed with Error: boom"},
		{"PENDING_RERUN", SPOK_PHASE_RUNNING, "", NULL},
		{"INVALIDATING", SPOK_PHASE_RUNNING, "", NULL},
		{"SUCCEEDING", SPOK_PHASE_RUNNING, "", NULL},
		{"FAILING", SPOK_PHASE_RUNNING, "", NULL},
		{"UNKNOWN", SPOK_PHASE_RUNNING, "", NULL},
		{"SUSPENDED", SPOK_PHASE_RUNNING, "", NULL},
	};
	struct spok_platform p;

	(void)state;
	spok_platform_init(&p);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct spok_status st;
		json_t *app = dummy_app(cases[i].state);
		json_object_set_new(json_object_get(json_object_get(app, "status"), "applicationState"),
				    "errorMessage", json_string("boom"));
		map_ok(app, &p, NULL, NULL, &st);
		assert_int_equal(st.phase, cases[i].phase);
		assert_string_equal(st.reason, cases[i].reason);
		assert_string_equal(st.app_state, cases[i].state);
		assert_int_equal(st.phase_version, 0);
		if (cases[i].msg) {
			assert_string_equal(st.error_message, cases[i].msg);
			assert_string_equal(st.error_code, "DownstreamSystemError");
			assert_int_equal(st.error_kind, SPOK_ERRKIND_USER);
		} else {
			assert_null(st.error_message);
			assert_null(st.error_code);
		}
		spok_status_free(&st);
		json_decref(app);
	}
	spok_platform_free(&p);
}

static void test_phase_version(void **state)
{
	struct spok_platform p;
	struct spok_status prev = {0}, st;
	json_t *app = dummy_app("SUBMITTED");

	(void)state;
	spok_platform_init(&p);
	prev.phase = SPOK_PHASE_INITIALIZING;
	prev.phase_version = 0;
	prev.reason = xstrdup("task submitted to K8s");
	map_ok(app, &p, NULL, &prev, &st);
	assert_int_equal(st.phase_version, 1);
	spok_status_free(&st);

	/* Same reason: no new event, no bump. */
	free(prev.reason);
	prev.reason = xstrdup("job submitted");
	prev.phase_version = 3;
	map_ok(app, &p, NULL, &prev, &st);
	assert_int_equal(st.phase_version, 0);
	spok_status_free(&st);

	/* RUNNING never bumps. */
	json_decref(app);
	app = dummy_app("RUNNING");
	prev.phase = SPOK_PHASE_RUNNING;
	free(prev.reason);
	prev.reason = NULL;
	map_ok(app, &p, NULL, &prev, &st);
	assert_int_equal(st.phase_version, 0);
	spok_status_free(&st);
	spok_status_free(&prev);
	json_decref(app);
	spok_platform_free(&p);
}

static void test_deletion(void **state)
{
	struct spok_platform p;
	struct spok_status st;
	json_t *app = dummy_app("RUNNING");

	(void)state;
	spok_platform_init(&p);
	json_object_set_new(json_object_get(app, "metadata"), "deletionTimestamp",
			    json_string("2024-01-01T00:00:00Z"));
	map_ok(app, &p, NULL, NULL, &st);
	assert_int_equal(st.phase, SPOK_PHASE_RETRYABLE_FAILURE);
	assert_string_equal(st.error_code, "UnexpectedObjectDeletion");
	assert_int_equal(st.error_kind, SPOK_ERRKIND_SYSTEM);
	assert_string_equal(st.error_message,
			    "object [spark-namespace/spark-app-name] terminated in the background, manually");
	spok_status_free(&st);
	json_decref(app);

	/* Terminal states keep their own outcome. */
	app = dummy_app("COMPLETED");
	json_object_set_new(json_object_get(app, "metadata"), "deletionTimestamp",
			    json_string("2024-01-01T00:00:00Z"));
	map_ok(app, &p, NULL, NULL, &st);
	assert_int_equal(st.phase, SPOK_PHASE_SUCCEEDED);
	spok_status_free(&st);
	json_decref(app);
	spok_platform_free(&p);
}

static struct spok_log_template *add_dynamic(struct spok_log_config *lc, const char *name,
					     const char *display, const char *uri)
{
	struct spok_log_template *d;

	lc->dynamic_links = xreallocarray(lc->dynamic_links, lc->ndynamic_links + 1,
					  sizeof(*lc->dynamic_links));
	d = &lc->dynamic_links[lc->ndynamic_links++];
	memset(d, 0, sizeof(*d));
	d->name = xstrdup(name);
	d->display_name = xstrdup(display);
	spok_strv_push(&d->template_uris, uri);
	return d;
}

/* Flyte's dynamic log link rendering: only link types listed in config link_type. */
static void test_dynamic_links(void **state)
{
	struct spok_platform p;
	struct spok_task t;
	struct spok_status st;
	json_t *app = dummy_app("RUNNING");

	(void)state;
	spok_platform_init(&p);
	spok_task_init(&t);
	t.name = xstrdup("my.task");
	add_dynamic(&p.spark.logs_mixed, "vscode", "VS Code",
		    "https://vscode.example/{{ .podName }}:{{ .taskConfig.port }}/{{ .taskID }}");
	add_dynamic(&p.spark.logs_mixed, "grafana", "Grafana", "https://g/{{ .namespace }}")
		->show_while_pending = true;
	spok_strmap_set(&t.config, "link_type", "vscode,grafana,nope");
	spok_strmap_set(&t.config, "port", "8080");
	map_ok(app, &p, &t, NULL, &st);
	assert_int_equal(st.nlinks, 4); /* mixed k8s, vscode, grafana, driver UI */
	assert_string_equal(st.links[1].name, "VS Code(Driver Logs)");
	assert_string_equal(st.links[1].uri, "https://vscode.example/spark-pod:8080/my.task");
	assert_string_equal(st.links[2].uri, "https://g/spark-namespace");
	assert_true(st.links[2].show_while_pending);
	assert_int_equal(st.links[2].message_format, 2);
	spok_status_free(&st);

	/* Without link_type, or without a task, no dynamic links. */
	spok_strmap_del(&t.config, "link_type");
	map_ok(app, &p, &t, NULL, &st);
	assert_int_equal(st.nlinks, 2);
	spok_status_free(&st);
	map_ok(app, &p, NULL, NULL, &st);
	assert_int_equal(st.nlinks, 2);
	spok_status_free(&st);
	spok_task_free(&t);
	json_decref(app);
	spok_platform_free(&p);
}

/* The `{{ .taskConfig.KEY }}` form: any one character before taskConfig, `.` or `$`
 * before the key, empty values left alone. */
static void test_task_config_vars(void **state)
{
	struct spok_log_config lc = {0};
	struct spok_task t;
	struct spok_strmap vars = {0};
	struct spok_link *links = NULL;
	size_t n = 0;

	(void)state;
	spok_task_init(&t);
	spok_strmap_set(&t.config, "link_type", "x");
	spok_strmap_set(&t.config, "port", "8080");
	spok_strmap_set(&t.config, "empty", "");
	spok_strmap_set(&vars, "podName", "p");
	add_dynamic(&lc, "x", "X", "a={{ .taskConfig.port }}|b={{$taskConfig$port}}|"
		    "c={{ \xc3\xa9TASKCONFIG.port }}|d={{taskConfig.port}}|e={{ .taskConfig.PORT }}|"
		    "f={{ .taskConfig.empty }}|g={{ .podName }}|h={{ .logName }}|i={{\t\ntaskConfig.port}}|"
		    "j={{\ttaskConfig.port}}");
	spok_log_links(&lc, &vars, "(L)", &t, &links, &n);
	assert_int_equal(n, 1);
	/* e: key "PORT" is not in the config, but the case-insensitive pattern added for
	 * "port" matches it (as in Go). i: the any-char may not be a newline. */
	assert_string_equal(links[0].uri, "a=8080|b=8080|c=8080|d={{taskConfig.port}}|"
			    "e=8080|f={{ .taskConfig.empty }}|g=p|h=(L)|"
			    "i={{\t\ntaskConfig.port}}|j=8080");
	assert_string_equal(links[0].name, "X(L)");
	spok_links_free(links, n);
	spok_strmap_free(&vars);
	spok_task_free(&t);
	spok_log_config_free(&lc);
}

static void test_executor_links(void **state)
{
	struct spok_platform p;
	struct spok_status st;
	json_t *app = dummy_app("RUNNING");
	struct spok_log_template *tpl;

	(void)state;
	spok_platform_init(&p);
	/* Nothing enabled in logs.user: no executor links (Flyte's list). */
	map_ok(app, &p, NULL, NULL, &st);
	assert_int_equal(st.nlinks, 2);
	assert_non_null(st.executors);
	assert_int_equal(json_object_size(st.executors), 2);
	spok_status_free(&st);

	p.spark.logs_user.templates = xcalloc(1, sizeof(*tpl));
	p.spark.logs_user.ntemplates = 1;
	tpl = &p.spark.logs_user.templates[0];
	tpl->display_name = xstrdup("Loki");
	spok_strv_push(&tpl->template_uris, "https://loki/{{ .namespace }}/{{ .podName }}");
	p.spark.logs_user.cloudwatch_enabled = true; /* not used for executors */
	map_ok(app, &p, NULL, NULL, &st);
	/* mixed k8s, user loki + cloudwatch, exec-pod-1, exec-pod-2, driver UI */
	assert_int_equal(st.nlinks, 6);
	assert_string_equal(st.links[1].name, "Cloudwatch Logs(User Logs)");
	assert_string_equal(st.links[2].name, "Loki(User Logs)");
	assert_string_equal(st.links[3].name, "Loki(Executor Logs exec-pod-1)");
	assert_string_equal(st.links[3].uri, "https://loki/spark-namespace/exec-pod-1");
	assert_string_equal(st.links[4].name, "Loki(Executor Logs exec-pod-2)");
	assert_int_equal(st.links[5].kind, SPOK_LINK_DRIVER_UI);
	spok_status_free(&st);
	json_decref(app);
	spok_platform_free(&p);
}

static void expect_error(const char *json, const char *want)
{
	struct spok_platform p;
	struct spok_status st;
	struct spok_err err = {0};
	json_error_t jerr;
	json_t *app = json_loads(json, JSON_DECODE_ANY, &jerr);

	assert_non_null(app);
	spok_platform_init(&p);
	assert_int_equal(spok_status_from_sparkapp(app, NULL, &p, NULL, &st, &err), SPOK_EINVAL);
	if (strncmp(err.msg, want, strlen(want)) != 0)
		fail_msg("got \"%s\", want prefix \"%s\"", err.msg, want);
	assert_null(strchr(err.msg, '\n'));
	assert_null(st.reason);
	spok_platform_free(&p);
	json_decref(app);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("[]", "SparkApplication: expected a JSON object, got array");
	expect_error("{}", "metadata: missing");
	expect_error("{\"metadata\":{}}", "metadata.name: missing");
	expect_error("{\"metadata\":{\"name\":3}}", "metadata.name: expected a string, got number");
	expect_error("{\"metadata\":{\"name\":\"a\",\"creationTimestamp\":\"yesterday\"}}",
		     "metadata.creationTimestamp: not an RFC 3339 time");
	expect_error("{\"metadata\":{\"name\":\"a\"},\"status\":[]}",
		     "status: expected an object, got array");
	expect_error("{\"metadata\":{\"name\":\"a\"},\"status\":{\"applicationState\":{\"state\":1}}}",
		     "status.applicationState.state: expected a string, got number");
	expect_error("{\"metadata\":{\"name\":\"a\"},\"status\":{\"executorState\":{\"e\\n1\":2}}}",
		     "status.executorState.e?1: expected a string, got number");
	expect_error("{\"metadata\":{\"name\":\"a\"},\"status\":{\"driverInfo\":{\"podName\":true}}}",
		     "status.driverInfo.podName: expected a string, got boolean");
}

/* Nulls are absent; no status at all is a new app. Timestamps and RFC3339 vars. */
static void test_times_and_vars(void **state)
{
	struct spok_platform p;
	struct spok_status st;
	struct spok_err err = {0};
	json_t *app = json_pack("{s:{s:s, s:s, s:s, s:n}, s:n}", "metadata", "name", "app",
				"namespace", "ns", "creationTimestamp", "2024-01-02T03:04:05Z",
				"deletionTimestamp", "status");

	(void)state;
	spok_platform_init(&p);
	p.spark.logs_all_user.kubernetes_enabled = true;
	p.spark.logs_all_user.kubernetes_template_uri =
		xstrdup("x/{{.podUnixStartTime}}/{{.podUnixFinishTime}}/{{ .podRFC3339StartTime }}/"
			"{{ .podRFC3339FinishTime }}/{{ .taskID }}/{{ .generatedName }}/{{ .logName }}");
	assert_int_equal(spok_status_from_sparkapp(app, NULL, &p, NULL, &st, &err), 0);
	assert_int_equal(st.phase, SPOK_PHASE_QUEUED);
	assert_int_equal(st.start_unix, 1704164645);
	assert_int_equal(st.nlinks, 1);
	assert_string_equal(st.links[0].uri,
			    "x/1704164645/0/2024-01-02T03:04:05Z/1970-01-01T00:00:00Z/{{ .taskID }}/app/"
			    "(Spark-Submit/All User Logs)");
	spok_status_free(&st);
	json_decref(app);
	spok_platform_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_basic),
		cmocka_unit_test(test_render_order),
		cmocka_unit_test(test_render_cap),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_flyte_event_info),
		cmocka_unit_test(test_states),
		cmocka_unit_test(test_phase_version),
		cmocka_unit_test(test_deletion),
		cmocka_unit_test(test_dynamic_links),
		cmocka_unit_test(test_task_config_vars),
		cmocka_unit_test(test_executor_links),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_times_and_vars),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
