/* test_connector_unit.c - spok.server.grpc settings, the phase map, CreateTaskRequest
 * decoding (corpus seeds written by flyteidl's own Python classes) down to the built
 * SparkApplication's Flyte name, labels and environment, and GetTaskLogs: its request and
 * how a log becomes body messages (line and byte caps, UTF-8, terminators). */
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
#include "common/utf8.h"
#include "flyteidl/agent.h"
#include "server/daemon.h"
#include "sparkapp/sparkapp.h"
#include "jobfile/jobfile.h"

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

/* ---- GetTaskLogs ---- */

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

static size_t pack_logs_req(const char *meta, uint64_t lines, const char *token, uint8_t *out)
{
	Flyteidl__Admin__GetTaskLogsRequest q = FLYTEIDL__ADMIN__GET_TASK_LOGS_REQUEST__INIT;

	q.resource_meta.data = (uint8_t *)meta;
	q.resource_meta.len = strlen(meta);
	q.lines = lines;
	q.token = (char *)token;
	return protobuf_c_message_pack(&q.base, out);
}

static void test_logs_request(void **state)
{
	struct conn_logs_req q;
	struct spok_err err = {0};
	uint8_t buf[256];
	size_t n;

	(void)state;
	n = pack_logs_req("sp-0a1b2c3d4e", 0, "", buf);
	assert_int_equal(conn_logs_parse(buf, n, &q, &err), SPOK_OK);
	assert_string_equal(q.id, "sp-0a1b2c3d4e");
	assert_int_equal(q.tail, SRV_LOG_TAIL_DEFAULT);
	n = pack_logs_req("sp-x", 20, "", buf);
	assert_int_equal(conn_logs_parse(buf, n, &q, &err), SPOK_OK);
	assert_int_equal(q.tail, 20);
	n = pack_logs_req("sp-x", (uint64_t)1 << 40, "", buf);
	assert_int_equal(conn_logs_parse(buf, n, &q, &err), SPOK_OK);
	assert_int_equal(q.tail, SRV_LOG_TAIL_MAX);
	n = pack_logs_req("../etc", 0, "", buf);
	assert_int_equal(conn_logs_parse(buf, n, &q, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "resource_meta"));
	n = pack_logs_req("", 0, "", buf);
	assert_int_equal(conn_logs_parse(buf, n, &q, &err), SPOK_EINVAL);
	n = pack_logs_req("sp-x", 0, "next", buf);
	assert_int_equal(conn_logs_parse(buf, n, &q, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "token"));
	assert_int_equal(conn_logs_parse((const uint8_t *)"\xff\xff", 2, &q, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "GetTaskLogsRequest"));
}

/* Every body message of log, checked as a client sees them; the lines of all, joined. */
struct bodies {
	size_t messages, lines;
	struct spok_buf results;     /* each result + "\n" */
	struct spok_buf structured;  /* the structured messages, concatenated */
};

static void bodies_of(const char *log, size_t len, struct bodies *b)
{
	struct conn_reply r = {0};
	size_t off = 0;

	memset(b, 0, sizeof(*b));
	spok_buf_init(&b->results, 0);
	spok_buf_init(&b->structured, 0);
	while (conn_logs_body(log, len, &off, &r)) {
		Flyteidl__Admin__GetTaskLogsResponse *m =
			flyteidl__admin__get_task_logs_response__unpack(NULL, r.len, r.data);
		size_t bytes = 0;

		assert_non_null(m);
		assert_int_equal(r.status, 0);
		assert_int_equal(m->part_case, FLYTEIDL__ADMIN__GET_TASK_LOGS_RESPONSE__PART_BODY);
		assert_int_equal(m->body->n_results, m->body->n_structured_lines);
		assert_true(m->body->n_results >= 1 && m->body->n_results <= CONN_LOGS_MSG_LINES);
		for (size_t i = 0; i < m->body->n_results; i++) {
			const char *res = m->body->results[i];
			const char *msg = m->body->structured_lines[i]->message;

			assert_true(spok_utf8_validn(res, strlen(res)));
			assert_true(spok_utf8_validn(msg, strlen(msg)));
			assert_null(strchr(res, '\n'));
			bytes += strlen(res);
			spok_buf_appends(&b->results, res);
			spok_buf_appends(&b->results, "\n");
			spok_buf_appends(&b->structured, msg);
		}
		/* U+FFFD may triple a byte; never more */
		assert_true(bytes <= 3 * CONN_LOGS_MSG_BYTES);
		b->messages++;
		b->lines += m->body->n_results;
		flyteidl__admin__get_task_logs_response__free_unpacked(m, NULL);
		conn_reply_free(&r);
	}
	assert_int_equal(off, len);
}

static void bodies_free(struct bodies *b)
{
	spok_buf_free(&b->results);
	spok_buf_free(&b->structured);
}

static void test_logs_body(void **state)
{
	struct bodies b;
	struct spok_buf big;
	char *line;

	(void)state;
	bodies_of("", 0, &b);
	assert_int_equal(b.messages, 0);
	bodies_free(&b);
	/* terminators: results without, structured lines with; a last line without one */
	bodies_of("a\r\n\nb\nlast", 10, &b);
	assert_int_equal(b.messages, 1);
	assert_int_equal(b.lines, 4);
	assert_string_equal(b.results.data, "a\n\nb\nlast\n");
	assert_string_equal(b.structured.data, "a\r\n\nb\nlast");
	bodies_free(&b);
	/* invalid UTF-8 and NUL become U+FFFD; valid multi-byte text stays */
	bodies_of("\xff\x00ok \xc3\xa9\xe2\x82\n", 10, &b);
	assert_string_equal(b.results.data, "\xef\xbf\xbd\xef\xbf\xbdok \xc3\xa9\xef\xbf\xbd"
			    "\xef\xbf\xbd\n");
	bodies_free(&b);
	/* 1000 short lines: messages of at most CONN_LOGS_MSG_LINES lines */
	spok_buf_init(&big, 0);
	for (int i = 0; i < 1000; i++)
		spok_buf_printf(&big, "line %d\n", i);
	bodies_of(big.data, big.len, &b);
	assert_int_equal(b.lines, 1000);
	assert_int_equal(b.messages, (1000 + CONN_LOGS_MSG_LINES - 1) / CONN_LOGS_MSG_LINES);
	assert_string_equal(b.results.data, big.data);
	bodies_free(&b);
	spok_buf_free(&big);
	/* one line of 'x' and 199999 'é': cut between characters, never inside one */
	line = malloc(399999);
	assert_non_null(line);
	line[0] = 'x';
	for (size_t i = 1; i < 399999; i += 2)
		memcpy(line + i, "\xc3\xa9", 2);
	bodies_of(line, 399999, &b);
	assert_true(b.messages >= 399999 / CONN_LOGS_MSG_BYTES + 1);
	assert_int_equal(b.structured.len, 399999);
	assert_memory_equal(b.structured.data, line, 399999); /* no U+FFFD: no broken char */
	bodies_free(&b);
	free(line);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_phases),
		cmocka_unit_test(test_request_identity),
		cmocka_unit_test(test_request_refusals),
		cmocka_unit_test(test_logs_request),
		cmocka_unit_test(test_logs_body),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
