/* test_pure.c - API error mapping and watch stream decoding (no I/O). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "kube/client.h"
#include "kube/stream.h"
#include "kube/watch.h"

struct status_case {
	long http;
	const char *body;
	int code;
	const char *msg;
};

/* Bodies as the API server sends them (trimmed of details the mapping ignores). */
static const struct status_case status_cases[] = {
	{404, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
	      "\"message\":\"sparkapplications.sparkoperator.k8s.io \\\"pi\\\" not found\","
	      "\"reason\":\"NotFound\",\"details\":{\"name\":\"pi\",\"group\":\"sparkoperator.k8s.io\","
	      "\"kind\":\"sparkapplications\"},\"code\":404}",
	 SPOK_ENOTFOUND,
	 "GET /x: sparkapplications.sparkoperator.k8s.io \"pi\" not found (HTTP 404)"},
	{409, "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"sparkapplications.sparkoperator."
	      "k8s.io \\\"pi\\\" already exists\",\"reason\":\"AlreadyExists\",\"code\":409}",
	 SPOK_ECONFLICT,
	 "GET /x: sparkapplications.sparkoperator.k8s.io \"pi\" already exists (HTTP 409)"},
	{403, "{\"kind\":\"Status\",\"message\":\"sparkapplications.sparkoperator.k8s.io is forbidden: "
	      "User \\\"bob\\\" cannot list resource \\\"sparkapplications\\\"\",\"reason\":\"Forbidden\","
	      "\"code\":403}",
	 SPOK_EFORBIDDEN,
	 "GET /x: sparkapplications.sparkoperator.k8s.io is forbidden: User \"bob\" cannot list "
	 "resource \"sparkapplications\" (HTTP 403)"},
	{403, "{\"kind\":\"Status\",\"message\":\"pods \\\"p\\\" is forbidden: exceeded quota: q, "
	      "requested: cpu=2, used: cpu=4, limited: cpu=4\",\"reason\":\"Forbidden\",\"code\":403}",
	 SPOK_EQUOTA,
	 "GET /x: pods \"p\" is forbidden: exceeded quota: q, requested: cpu=2, used: cpu=4, "
	 "limited: cpu=4 (HTTP 403)"},
	{401, "{\"kind\":\"Status\",\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401}",
	 SPOK_EFORBIDDEN, "GET /x: Unauthorized (HTTP 401)"},
	{422, "{\"kind\":\"Status\",\"message\":\"SparkApplication.sparkoperator.k8s.io \\\"pi\\\" is "
	      "invalid: spec.type: Unsupported value: \\\"Go\\\"\",\"reason\":\"Invalid\",\"code\":422}",
	 SPOK_EINVAL,
	 "GET /x: SparkApplication.sparkoperator.k8s.io \"pi\" is invalid: spec.type: Unsupported "
	 "value: \"Go\" (HTTP 422)"},
	{410, "{\"kind\":\"Status\",\"message\":\"The provided continue parameter is too old to display "
	      "a consistent list result.\",\"reason\":\"Expired\",\"code\":410}",
	 SPOK_EAPI,
	 "GET /x: The provided continue parameter is too old to display a consistent list result. "
	 "(HTTP 410)"},
	{429, "{\"kind\":\"Status\",\"message\":\"Too many requests, please try again later.\","
	      "\"reason\":\"TooManyRequests\",\"code\":429}",
	 SPOK_EUNAVAIL, "GET /x: Too many requests, please try again later. (HTTP 429)"},
	{500, "{\"kind\":\"Status\",\"message\":\"Internal error occurred: boom\",\"code\":500}",
	 SPOK_EAPI, "GET /x: Internal error occurred: boom (HTTP 500)"},
	{502, "<html>\r\n<h1>Bad Gateway</h1>\n</html>", SPOK_EAPI, "GET /x: <html> (HTTP 502)"},
	{503, "", SPOK_EUNAVAIL, "GET /x: no error message from the server (HTTP 503)"},
	{400, "{\"kind\":\"Status\",\"message\":\"a\\u0001b\\nsecond line\",\"code\":400}", SPOK_EINVAL,
	 "GET /x: a?b (HTTP 400)"},
};

static void test_status_mapping(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(status_cases) / sizeof(status_cases[0]); i++) {
		const struct status_case *c = &status_cases[i];
		json_t *body = json_loads(c->body, 0, NULL);
		char msg[SPOK_ERR_MSG_MAX];
		int code = kube_status_error("GET", "/x", c->http, body, c->body, strlen(c->body), msg,
					     sizeof(msg));

		if (code != c->code || strcmp(msg, c->msg) != 0)
			fail_msg("case %zu: code %d, \"%s\"", i, code, msg);
		json_decref(body);
	}
}

struct collected {
	char lines[8][64];
	int n;
};

static int collect(void *data, const char *line, size_t len)
{
	struct collected *c = data;

	assert_true(len < 64);
	assert_true(c->n < 8);
	memcpy(c->lines[c->n], line, len);
	c->lines[c->n][len] = '\0';
	c->n++;
	return 0;
}

/* Every split point of the stream yields the same lines. */
static void test_lines_any_split(void **state)
{
	static const char stream[] = "{\"a\":1}\n\r\n{\"b\":2}\r\n\n{\"c\":3}\npartial";

	(void)state;
	for (size_t cut = 0; cut <= sizeof(stream) - 1; cut++) {
		struct kube_lines l;
		struct collected c = {0};

		kube_lines_init(&l, 64);
		assert_int_equal(kube_lines_feed(&l, stream, cut, collect, &c), 0);
		assert_int_equal(kube_lines_feed(&l, stream + cut, sizeof(stream) - 1 - cut, collect,
						 &c), 0);
		assert_int_equal(c.n, 3);
		assert_string_equal(c.lines[0], "{\"a\":1}");
		assert_string_equal(c.lines[1], "{\"b\":2}");
		assert_string_equal(c.lines[2], "{\"c\":3}");
		assert_int_equal(l.buf.len, 7);
		kube_lines_free(&l);
	}
}

static void test_lines_cap(void **state)
{
	struct kube_lines l;
	struct collected c = {0};

	(void)state;
	kube_lines_init(&l, 8);
	assert_int_equal(kube_lines_feed(&l, "12345678\n", 9, collect, &c), 0);
	assert_int_equal(kube_lines_feed(&l, "12345", 5, collect, &c), 0);
	assert_int_equal(kube_lines_feed(&l, "6789\n", 5, collect, &c), SPOK_EINVAL);
	assert_int_equal(c.n, 1);
	kube_lines_free(&l);
}

static void decode_ok(const char *line, enum kube_event_type type, const char *rv)
{
	struct kube_event ev;
	struct spok_err err = {0};
	json_t *obj;

	assert_int_equal(kube_event_decode(line, strlen(line), &ev, &obj, &err), 0);
	assert_int_equal(ev.type, type);
	assert_ptr_equal(ev.object, obj);
	if (rv != NULL)
		assert_string_equal(ev.resource_version, rv);
	else
		assert_null(ev.resource_version);
	json_decref(obj);
}

static void test_event_decode(void **state)
{
	struct kube_event ev;
	struct spok_err err = {0};
	json_t *obj;
	static const char gone[] =
		"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
		"\"status\":\"Failure\",\"message\":\"too old resource version: 1 (2063)\","
		"\"reason\":\"Expired\",\"code\":410}}";

	(void)state;
	decode_ok("{\"type\":\"ADDED\",\"object\":{\"kind\":\"SparkApplication\",\"metadata\":"
		  "{\"name\":\"pi\",\"resourceVersion\":\"101\"}}}", KUBE_EVENT_ADDED, "101");
	decode_ok("{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"resourceVersion\":\"102\"}}}",
		  KUBE_EVENT_MODIFIED, "102");
	decode_ok("{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"resourceVersion\":\"103\"}}}",
		  KUBE_EVENT_DELETED, "103");
	decode_ok("{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"SparkApplication\",\"apiVersion\":"
		  "\"sparkoperator.k8s.io/v1beta2\",\"metadata\":{\"resourceVersion\":\"2100\","
		  "\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}}}}",
		  KUBE_EVENT_BOOKMARK, "2100");
	decode_ok("{\"type\":\"ADDED\",\"object\":{}}", KUBE_EVENT_ADDED, NULL);
	assert_int_equal(kube_event_decode(gone, sizeof(gone) - 1, &ev, &obj, &err), 0);
	assert_int_equal(ev.type, KUBE_EVENT_ERROR);
	assert_int_equal(ev.status_code, 410);
	assert_string_equal(ev.message, "too old resource version: 1 (2063)");
	json_decref(obj);

	assert_int_equal(kube_event_decode("{\"type\":\"ADDED\"", 15, &ev, &obj, &err), SPOK_EAPI);
	assert_non_null(strstr(err.msg, "watch event: invalid JSON"));
	assert_null(obj);
	assert_int_equal(kube_event_decode("{\"type\":\"UPSERT\",\"object\":{}}", 29, &ev, &obj, &err),
			 SPOK_EAPI);
	assert_string_equal(err.msg, "watch event: needs a known \"type\" and an \"object\"; is this "
			    "a Kubernetes watch stream?");
	assert_int_equal(kube_event_decode("{\"type\":\"ADDED\",\"object\":[]}", 28, &ev, &obj, &err),
			 SPOK_EAPI);
}

/* Decodes line with skip and checks the object against want (JSON text). */
static void skip_ok(const char *line, unsigned skip, const char *want)
{
	struct kube_event ev;
	struct spok_err err = {0};
	json_t *obj, *expect = json_loads(want, 0, NULL);

	assert_non_null(expect);
	assert_int_equal(kube_event_decode_skip(line, strlen(line), skip, &ev, &obj, &err), 0);
	if (!json_equal(obj, expect)) {
		char *got = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);

		fail_msg("decoded %s, want %s", got, want);
	}
	json_decref(expect);
	json_decref(obj);
}

static void test_event_decode_skip(void **state)
{
	const unsigned both = KUBE_SKIP_MANAGED_FIELDS | KUBE_SKIP_SPEC;
	struct kube_event ev;
	struct spok_err err = {0}, err2 = {0};
	json_t *obj;
	static const char app[] =
		"{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"SparkApplication\",\"metadata\":"
		"{\"name\":\"pi\",\"managedFields\":[{\"manager\":\"spok\",\"fieldsV1\":{\"f:spec\":"
		"{\"f:type\":{},\"f:x\\\"}\":{}}}}],\"resourceVersion\":\"7\"},\"spec\":{\"type\":"
		"\"Python\",\"arguments\":[\"a}\",\"{\"]},\"status\":{\"applicationState\":{\"state\":"
		"\"RUNNING\"}}}}";
	static const char invalid_inside[] =
		"{\"type\":\"ADDED\",\"object\":{\"spec\":{\"a\":tru},\"metadata\":{\"name\":\"x\"}}}";

	(void)state;
	skip_ok(app, 0, "{\"kind\":\"SparkApplication\",\"metadata\":{\"name\":\"pi\","
		"\"managedFields\":[{\"manager\":\"spok\",\"fieldsV1\":{\"f:spec\":{\"f:type\":{},"
		"\"f:x\\\"}\":{}}}}],\"resourceVersion\":\"7\"},\"spec\":{\"type\":\"Python\","
		"\"arguments\":[\"a}\",\"{\"]},\"status\":{\"applicationState\":{\"state\":"
		"\"RUNNING\"}}}");
	skip_ok(app, KUBE_SKIP_MANAGED_FIELDS,
		"{\"kind\":\"SparkApplication\",\"metadata\":{\"name\":\"pi\",\"resourceVersion\":"
		"\"7\"},\"spec\":{\"type\":\"Python\",\"arguments\":[\"a}\",\"{\"]},\"status\":"
		"{\"applicationState\":{\"state\":\"RUNNING\"}}}");
	skip_ok(app, both, "{\"kind\":\"SparkApplication\",\"metadata\":{\"name\":\"pi\","
		"\"resourceVersion\":\"7\"},\"status\":{\"applicationState\":{\"state\":\"RUNNING\"}}}");
	assert_int_equal(kube_event_decode_skip(app, sizeof(app) - 1, both, &ev, &obj, &err), 0);
	assert_int_equal(ev.type, KUBE_EVENT_MODIFIED);
	assert_string_equal(ev.resource_version, "7");
	json_decref(obj);
	/* First, last, only and repeated members, with whitespace around them. */
	skip_ok("{\"type\":\"ADDED\",\"object\":{\"spec\":1,\"a\":2}}", both, "{\"a\":2}");
	skip_ok("{\"type\":\"ADDED\",\"object\":{\"a\":1,\"spec\":2}}", both, "{\"a\":1}");
	skip_ok("{\"type\":\"ADDED\",\"object\":{\"spec\":{}}}", both, "{}");
	skip_ok("{\"type\":\"ADDED\",\"object\":{\"spec\":1,\"spec\":[2]}}", both, "{}");
	skip_ok("{\"type\":\"ADDED\",\"object\":{\"a\":1,\"spec\":2,\"spec\":3}}", both, "{\"a\":1}");
	skip_ok("{\"type\":\"ADDED\",\"object\":{\"a\":1,\"spec\":2,\"b\":\"spec\",\"spec\":3}}",
		both, "{\"a\":1,\"b\":\"spec\"}");
	skip_ok(" { \"type\" : \"ADDED\" , \"object\" : { \"metadata\" : { \"managedFields\" : "
		"[ ] , \"uid\" : \"u\" } , \"spec\" : null } } ", both, "{\"metadata\":{\"uid\":\"u\"}}");
	/* Only the object's own spec and its metadata's managedFields go. */
	skip_ok("{\"type\":\"ADDED\",\"object\":{\"status\":{\"spec\":1,\"managedFields\":2},"
		"\"managedFields\":3}}", both,
		"{\"status\":{\"spec\":1,\"managedFields\":2},\"managedFields\":3}");
	skip_ok("{\"spec\":1,\"type\":\"ADDED\",\"object\":{\"spec\":1}}", KUBE_SKIP_MANAGED_FIELDS,
		"{\"spec\":1}");
	/* A key written with escapes is not recognised: kept. */
	skip_ok("{\"type\":\"ADDED\",\"object\":{\"sp\\u0065c\":1}}", both, "{\"spec\":1}");
	/* What is cut is not checked; what stays is, with the column of the line as sent. */
	skip_ok(invalid_inside, both, "{\"metadata\":{\"name\":\"x\"}}");
	assert_int_equal(kube_event_decode_skip(invalid_inside, sizeof(invalid_inside) - 1, 0, &ev,
						&obj, &err), SPOK_EAPI);
	assert_int_equal(kube_event_decode_skip("{\"type\":\"ADDED\",\"object\":{\"spec\":1,\"a\":x}}",
						42, both, &ev, &obj, &err2), SPOK_EAPI);
	assert_int_equal(kube_event_decode("{\"type\":\"ADDED\",\"object\":{\"spec\":1,\"a\":x}}", 42,
					   &ev, &obj, &err), SPOK_EAPI);
	assert_string_equal(err.msg, err2.msg);
	assert_null(obj);
	/* Lines the scan does not follow are parsed whole. */
	assert_int_equal(kube_event_decode_skip("{\"type\":\"ADDED\",\"object\":{\"spec\":1", 34, both,
						&ev, &obj, &err), SPOK_EAPI);
	assert_int_equal(kube_event_decode_skip("[1]", 3, both, &ev, &obj, &err), SPOK_EAPI);
}

static void list_ok(const char *text, unsigned skip, const char *want)
{
	json_error_t jerr;
	json_t *doc = kube_skim_load(text, strlen(text), KUBE_SKIM_LIST, skip, &jerr);
	json_t *expect = json_loads(want, 0, NULL);

	assert_non_null(expect);
	assert_non_null(doc);
	if (!json_equal(doc, expect)) {
		char *got = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);

		fail_msg("loaded %s, want %s", got, want);
	}
	json_decref(expect);
	json_decref(doc);
}

/* A List page as the engine's relist reads it: every item without spec and managedFields. */
static void test_list_skim(void **state)
{
	const unsigned both = KUBE_SKIP_MANAGED_FIELDS | KUBE_SKIP_SPEC;
	static const char page[] =
		"{\"apiVersion\":\"sparkoperator.k8s.io/v1beta2\",\"items\":[{\"metadata\":{\"name\":"
		"\"a\",\"managedFields\":[{\"manager\":\"spok\"}],\"resourceVersion\":\"5\"},"
		"\"spec\":{\"type\":\"Python\",\"x\":\"]}\"},\"status\":{\"s\":1}}, {\"spec\":1,"
		"\"metadata\":{\"name\":\"b\"}} ],\"kind\":\"SparkApplicationList\",\"metadata\":"
		"{\"continue\":\"c\",\"managedFields\":1,\"spec\":2}}";
	static const char *const bad[] = {"{\"items\":[{\"spec\":1,\"a\":x}]}",
					  "{\"items\":[{\"spec\":1}]} x", "{\"items\":[{\"spec\":1}"};
	json_error_t jerr;

	(void)state;
	list_ok(page, 0, page);
	list_ok(page, both,
		"{\"apiVersion\":\"sparkoperator.k8s.io/v1beta2\",\"items\":[{\"metadata\":"
		"{\"name\":\"a\",\"resourceVersion\":\"5\"},\"status\":{\"s\":1}},{\"metadata\":"
		"{\"name\":\"b\"}}],\"kind\":\"SparkApplicationList\",\"metadata\":{\"continue\":"
		"\"c\",\"managedFields\":1,\"spec\":2}}");
	list_ok(page, KUBE_SKIP_MANAGED_FIELDS,
		"{\"apiVersion\":\"sparkoperator.k8s.io/v1beta2\",\"items\":[{\"metadata\":"
		"{\"name\":\"a\",\"resourceVersion\":\"5\"},\"spec\":{\"type\":\"Python\",\"x\":"
		"\"]}\"},\"status\":{\"s\":1}},{\"spec\":1,\"metadata\":{\"name\":\"b\"}}],\"kind\":"
		"\"SparkApplicationList\",\"metadata\":{\"continue\":\"c\",\"managedFields\":1,"
		"\"spec\":2}}");
	/* Empty lists, items that are not objects, only the top level's items. */
	list_ok("{\"items\":[]}", both, "{\"items\":[]}");
	list_ok(" { \"items\" : [ ] } ", both, "{\"items\":[]}");
	list_ok("{\"items\":[1,\"spec\",[{\"spec\":1}],null,{\"spec\":1}]}", both,
		"{\"items\":[1,\"spec\",[{\"spec\":1}],null,{}]}");
	list_ok("{\"metadata\":{\"items\":[{\"spec\":1}]},\"items\":[{\"a\":{\"items\":"
		"[{\"spec\":1}]},\"spec\":2}]}", both,
		"{\"metadata\":{\"items\":[{\"spec\":1}]},\"items\":[{\"a\":{\"items\":"
		"[{\"spec\":1}]}}]}");
	list_ok("{\"items\":{\"spec\":1}}", both, "{\"items\":{\"spec\":1}}");
	/* What is cut is not checked; what stays is, with the text's own column. */
	list_ok("{\"items\":[{\"spec\":{\"a\":tru},\"b\":1}]}", both, "{\"items\":[{\"b\":1}]}");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_error_t want;

		assert_null(json_loadb(bad[i], strlen(bad[i]), 0, &want));
		assert_null(kube_skim_load(bad[i], strlen(bad[i]), KUBE_SKIM_LIST, both, &jerr));
		assert_int_equal(jerr.column, want.column);
		assert_string_equal(jerr.text, want.text);
	}
}

static void test_paths(void **state)
{
	struct kube_gvr spark = {"sparkoperator.k8s.io", "v1beta2", "sparkapplications"};
	struct kube_gvr pods = {"", "v1", "pods"};
	char *p;

	(void)state;
	p = kube_path(&spark, "ns-1", "pi", "status");
	assert_string_equal(p, "/apis/sparkoperator.k8s.io/v1beta2/namespaces/ns-1/sparkapplications/pi/status");
	free(p);
	p = kube_path(&pods, NULL, NULL, NULL);
	assert_string_equal(p, "/api/v1/pods");
	free(p);
	p = kube_path(&pods, "a b", "x/y", NULL);
	assert_string_equal(p, "/api/v1/namespaces/a%20b/pods/x%2Fy");
	free(p);
	p = kube_escape("app=spark,role in (a,b)");
	assert_string_equal(p, "app%3Dspark%2Crole%20in%20%28a%2Cb%29");
	free(p);
	/* dot segments would be removed on the way and make the path cluster-wide: they are
	 * escaped here, and kube_request refuses them (test_transport) */
	p = kube_path(&spark, "..", "x", NULL);
	assert_string_equal(p, "/apis/sparkoperator.k8s.io/v1beta2/namespaces/%2E%2E/sparkapplications/x");
	free(p);
	p = kube_path(&pods, ".", "..", "log");
	assert_string_equal(p, "/api/v1/namespaces/%2E/pods/%2E%2E/log");
	free(p);
	p = kube_path(&pods, "...", "a..b", NULL);
	assert_string_equal(p, "/api/v1/namespaces/.../pods/a..b");
	free(p);
}

/* `spok ui`: the service proxy prefix from hostile names, local paths mapped below it
 * (nothing climbs out), rewritten links redirected back, Location headers made local. */
static void test_service_proxy(void **state)
{
	const char *pre = "/api/v1/namespaces/spark-jobs/services/pi-ui-svc:4040/proxy";
	char *p, *up, *redir, *big;
	struct spok_err err = {0};

	(void)state;
	assert_true(kube_dns_label("pi-1-ui-svc"));
	assert_false(kube_dns_label(""));
	assert_false(kube_dns_label("-a"));
	assert_false(kube_dns_label("a-"));
	assert_false(kube_dns_label("A"));
	assert_false(kube_dns_label("a.b"));
	assert_false(kube_dns_label(".."));
	assert_false(kube_dns_label("a/b"));
	assert_false(kube_dns_label(NULL));
	big = calloc(1, 65);
	memset(big, 'a', 64);
	assert_false(kube_dns_label(big));
	big[63] = '\0';
	assert_true(kube_dns_label(big));
	free(big);
	p = kube_service_proxy_prefix("spark-jobs", "pi-ui-svc", 4040);
	assert_string_equal(p, pre);
	free(p);
	assert_null(kube_service_proxy_prefix("spark-jobs", "x:1/proxy/../../secrets", 4040));
	assert_null(kube_service_proxy_prefix("..", "svc", 4040));
	assert_null(kube_service_proxy_prefix("ns", "svc", 0));
	assert_null(kube_service_proxy_prefix("ns", "svc", 65536));

	assert_int_equal(kube_service_proxy_map(pre, "/", &up, &redir, &err), 0);
	assert_string_equal(up, "/api/v1/namespaces/spark-jobs/services/pi-ui-svc:4040/proxy/");
	assert_null(redir);
	free(up);
	assert_int_equal(kube_service_proxy_map(pre, "/jobs/job/", &up, &redir, &err), 0);
	assert_string_equal(up, "/api/v1/namespaces/spark-jobs/services/pi-ui-svc:4040/proxy/jobs/job/");
	free(up);
	/* decoded bytes are escaped again: '?', '#', '%', blanks, non-ASCII stay inside the path */
	assert_int_equal(kube_service_proxy_map(pre, "/a b/%2E%2E/x?y#z/\xc3\xa9", &up, &redir, &err), 0);
	assert_string_equal(up, "/api/v1/namespaces/spark-jobs/services/pi-ui-svc:4040/proxy/a%20b/%252E%252E/x%3Fy%23z/%C3%A9");
	free(up);
	/* a link the API server rewrote: redirected to the short path */
	assert_int_equal(kube_service_proxy_map(pre, "/api/v1/namespaces/spark-jobs/services/pi-ui-svc:4040/proxy/static/x.css", &up, &redir, &err), 0);
	assert_null(up);
	assert_string_equal(redir, "/static/x.css");
	free(redir);
	assert_int_equal(kube_service_proxy_map(pre, pre, &up, &redir, &err), 0);
	assert_string_equal(redir, "/");
	free(redir);
	/* only that exact prefix: a longer service name is an ordinary path */
	assert_int_equal(kube_service_proxy_map(pre, "/api/v1/namespaces/spark-jobs/services/pi-ui-svc:40400/proxy/x", &up, &redir, &err), 0);
	assert_null(redir);
	assert_non_null(strstr(up, "/proxy/api/v1/namespaces/"));
	free(up);
	/* nothing climbs out of the prefix */
	assert_int_equal(kube_service_proxy_map(pre, "/../../../secrets", &up, &redir, &err), SPOK_EINVAL);
	assert_null(up);
	assert_int_equal(kube_service_proxy_map(pre, "/jobs/..", &up, &redir, &err), SPOK_EINVAL);
	assert_int_equal(kube_service_proxy_map(pre, "/./jobs", &up, &redir, &err), SPOK_EINVAL);
	assert_int_equal(kube_service_proxy_map(pre, "/a\\..\\b", &up, &redir, &err), SPOK_EINVAL);
	assert_int_equal(kube_service_proxy_map(pre, "/a\nb", &up, &redir, &err), SPOK_EINVAL);
	assert_int_equal(kube_service_proxy_map(pre, "jobs", &up, &redir, &err), SPOK_EINVAL);
	assert_int_equal(kube_service_proxy_map(pre, "", &up, &redir, &err), SPOK_EINVAL);
	big = calloc(1, KUBE_PROXY_PATH_MAX + 2);
	memset(big, 'a', KUBE_PROXY_PATH_MAX + 1);
	big[0] = '/';
	assert_int_equal(kube_service_proxy_map(pre, big, &up, &redir, &err), SPOK_EINVAL);
	free(big);

	p = kube_service_proxy_location(pre, "http://127.0.0.1:6443/api/v1/namespaces/spark-jobs/services/pi-ui-svc:4040/proxy/jobs/");
	assert_string_equal(p, "/jobs/");
	free(p);
	p = kube_service_proxy_location(pre, "/api/v1/namespaces/spark-jobs/services/pi-ui-svc:4040/proxy?x=1");
	assert_string_equal(p, "/?x=1");
	free(p);
	p = kube_service_proxy_location(pre, "/jobs/");
	assert_string_equal(p, "/jobs/");
	free(p);
	p = kube_service_proxy_location(pre, "https://example.com/x");
	assert_string_equal(p, "https://example.com/x");
	free(p);
	assert_null(kube_service_proxy_location(pre, "/jobs/\r\nSet-Cookie: a=b"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_mapping),
		cmocka_unit_test(test_lines_any_split),
		cmocka_unit_test(test_lines_cap),
		cmocka_unit_test(test_event_decode),
		cmocka_unit_test(test_event_decode_skip),
		cmocka_unit_test(test_list_skim),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_service_proxy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
