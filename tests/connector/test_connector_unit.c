/* test_connector_unit.c - spok.server.grpc settings, the phase map, and CreateTaskRequest
 * decoding (corpus seeds written by flyteidl's own Python classes) down to the built
 * SparkApplication's Flyte name, labels and environment. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "connector/connector.h"
#include "connector/internal.h"
#include "flyteidl/admin/agent.pb-c.h"
#include "flyteidl/agent.h"
#include "sparkapp/sparkapp.h"
#include "spec/spec.h"

static int build(const char *server_yaml, const char *listen, struct conn_config *out,
		 struct spok_err *err)
{
	struct spok_platform p;
	char *text = NULL;
	int result;

	if (asprintf(&text, "spok:\n  server:\n%s", server_yaml) < 0)
		fail();
	result = spok_config_parse(text, strlen(text), "cfg.yaml", &p, err);
	free(text);
	assert_int_equal(result, SPOK_OK);
	result = conn_config_build(&p, NULL, listen, out, err);
	spok_platform_free(&p);
	return result;
}

static void test_config(void **state)
{
	struct conn_config c;
	struct spok_err err = {0};

	(void)state;
	assert_int_equal(build("    grpc: {insecure: true}\n", NULL, &c, &err), SPOK_OK);
	assert_string_equal(c.listen, SPOK_CONN_DEFAULT_LISTEN);
	assert_int_equal(c.max_message, SPOK_CONN_DEFAULT_MAX_MESSAGE);
	conn_config_free(&c);
	assert_int_equal(build("    grpc: {insecure: true, listen: '1.2.3.4:9', max-message: 2048,"
			       " unauthenticated-as: prop}\n", "127.0.0.1:0", &c, &err), SPOK_OK);
	assert_string_equal(c.listen, "127.0.0.1:0"); /* --grpc wins */
	assert_int_equal(c.max_message, 2048);
	assert_string_equal(c.unauthenticated_as, "prop");
	conn_config_free(&c);

	assert_int_equal(build("    listen: '127.0.0.1:0'\n", "127.0.0.1:0", &c, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "spok.server.grpc.insecure is not set"));
	assert_int_equal(build("    grpc: {insecure: yes-please}\n", NULL, &c, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "insecure must be true or false"));
	assert_int_equal(build("    grpc: {insecure: true, max-message: 99999999}\n", NULL, &c,
			       &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "max-message"));
	assert_int_equal(build("    grpc: {tls-cert: a.pem}\n", NULL, &c, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "tls-key is missing"));
	assert_int_equal(build("    grpc: {tls-cert: /nonexistent.pem, tls-key: /nonexistent.key}\n",
			       NULL, &c, &err), SPOK_ENOTFOUND);
	assert_non_null(strstr(err.msg, "spok.server.grpc.tls-cert"));
	assert_int_equal(build("    grpc: {insecure: true, tls: 1}\n", NULL, &c, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "spok.server.grpc.tls is not a known key"));
}

static void test_phases(void **state)
{
	(void)state;
	assert_int_equal(conn_flyte_phase(SPOK_PHASE_QUEUED), 1);
	assert_int_equal(conn_flyte_phase(SPOK_PHASE_RUNNING), 2);
	assert_int_equal(conn_flyte_phase(SPOK_PHASE_SUCCEEDED), 3);
	assert_int_equal(conn_flyte_phase(SPOK_PHASE_ABORTED), 4);
	assert_int_equal(conn_flyte_phase(SPOK_PHASE_PERMANENT_FAILURE), 5);
	assert_int_equal(conn_flyte_phase(SPOK_PHASE_INITIALIZING), 6);
	assert_int_equal(conn_flyte_phase(SPOK_PHASE_WAITING_FOR_RESOURCES), 7);
	assert_int_equal(conn_flyte_phase(SPOK_PHASE_RETRYABLE_FAILURE), 8);
	assert_int_equal(conn_flyte_phase(SPOK_PHASE_TIMED_OUT), 8);
}

static void load_seed(const char *name, struct spok_buf *b)
{
	char path[1024];
	struct spok_err err = {0};

	snprintf(path, sizeof(path), "%s/tests/connector/corpus/fuzz_create_task/%s",
		 getenv("SPOK_SOURCE_DIR"), name);
	spok_buf_init(b, (size_t)1 << 20);
	if (spok_buf_read_file(b, path, &err) != SPOK_OK)
		fail_msg("%s", err.msg);
}

static int parse_seed(const char *name, struct spok_flyte_create *c, struct spok_err *err)
{
	struct spok_buf b;
	int result;

	load_seed(name, &b);
	result = spok_flyte_parse_create_task((const uint8_t *)b.data, b.len, "req", c, err);
	spok_buf_free(&b);
	return result;
}

static json_t *build_app(const struct spok_flyte_create *c)
{
	struct spok_platform p;
	struct spok_exec x = {0};
	struct spok_err err = {0};
	json_t *app = NULL;

	spok_platform_init(&p);
	x.execution_name = "sp-engine-id"; /* what the engine passes: the request's wins */
	x.namespace_ = c->namespace_ ? c->namespace_ : "ns";
	x.now_ms = 1;
	if (spok_sparkapp_build(&c->task, &p, &x, &app, &err) != SPOK_OK)
		fail_msg("%s", err.msg);
	spok_platform_free(&p);
	return app;
}

static bool env_has(const json_t *app, const char *role, const char *k, const char *v)
{
	const json_t *env = json_object_get(json_object_get(json_object_get(app, "spec"), role),
					    "env"), *e;
	size_t i;

	json_array_foreach(env, i, e)
		if (strcmp(json_string_value(json_object_get(e, "name")), k) == 0)
			return strcmp(json_string_value(json_object_get(e, "value")), v) == 0;
	return false;
}

static void test_request_identity(void **state)
{
	struct spok_flyte_create c;
	struct spok_err err = {0};
	json_t *app, *md;

	(void)state;
	assert_int_equal(parse_seed("full.pb", &c, &err), SPOK_OK);
	assert_string_equal(c.namespace_, "flytesnacks-development");
	assert_string_equal(c.identity, "flytesnacks\ndevelopment\nfexec\nn0\n0");
	assert_int_equal(c.task.retries, 0);
	assert_string_equal(c.task.project, "flytesnacks"); /* unregistered template */
	app = build_app(&c);
	md = json_object_get(app, "metadata");
	assert_string_equal(json_string_value(json_object_get(md, "name")), "fexec-n0-0");
	assert_string_equal(json_string_value(json_object_get(json_object_get(md, "labels"),
							       "execution-id")), "fexec");
	assert_string_equal(json_string_value(json_object_get(json_object_get(md, "labels"), "a")),
			    "b");
	assert_string_equal(json_string_value(json_object_get(json_object_get(md, "annotations"),
							       "c")), "d");
	assert_true(env_has(app, "driver", "FLYTE_INTERNAL_EXECUTION_ID", "fexec"));
	assert_true(env_has(app, "executor", "E", "1"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(
		app, "spec"), "driver"), "serviceAccount")), "sa");
	json_decref(app);
	spok_flyte_create_free(&c);

	/* Long names take Flyte's hashed form; the attempt is the request's. */
	assert_int_equal(parse_seed("long_names.pb", &c, &err), SPOK_OK);
	app = build_app(&c);
	md = json_object_get(app, "metadata");
	assert_true(strlen(json_string_value(json_object_get(md, "name"))) <= 50);
	assert_int_equal(json_string_value(json_object_get(md, "name"))[0], 'f');
	assert_true(env_has(app, "driver", "FLYTE_ATTEMPT_NUMBER", "7"));
	json_decref(app);
	spok_flyte_create_free(&c);
}

static void test_request_refusals(void **state)
{
	struct spok_flyte_create c;
	struct spok_err err = {0};

	(void)state;
	assert_int_equal(parse_seed("bad_name.pb", &c, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "execution_id.name must be 1-63 characters"));
	assert_int_equal(parse_seed("no_metadata.pb", &c, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "task_execution_metadata is missing"));
	assert_int_equal(parse_seed("empty.pb", &c, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "template is missing"));
	assert_int_equal(spok_flyte_parse_create_task((const uint8_t *)"\xff\xff", 2, "req", &c,
						      &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "CreateTaskRequest"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_phases),
		cmocka_unit_test(test_request_identity),
		cmocka_unit_test(test_request_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
