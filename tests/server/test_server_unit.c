/* test_server_unit.c - config sections, tokens, auth, routing and SHA-256 of src/server. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube/stream.h"
#include "server/daemon.h"
#include "server/server.h"
#include "server/internal.h"
#include "model/session.h"
#include "jobfile/jobfile.h"

/* sha256("secret-a") etc. are computed by the test itself through srv_sha256, and checked
 * against the FIPS 180-4 example vectors first. */
static void test_sha256_vectors(void **state)
{
	uint8_t h[32];
	char hex[65];

	(void)state;
	srv_sha256("abc", 3, h);
	srv_hex(h, 32, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	srv_sha256("", 0, h);
	srv_hex(h, 32, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	srv_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, h);
	srv_hex(h, 32, hex);
	assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static char *hash_of(const char *tok)
{
	uint8_t h[32];
	char *hex = malloc(65);

	srv_sha256(tok, strlen(tok), h);
	srv_hex(h, 32, hex);
	return hex;
}

static int parse_cfg(const char *yaml, const char *tokens, struct srv_config *out,
		     struct spok_err *err)
{
	char tpath[] = "/tmp/spok-srv-tokens-XXXXXX";
	int fd = mkstemp(tpath);
	struct spok_platform p;
	char *full;
	int result;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, tokens, strlen(tokens)), (ssize_t)strlen(tokens));
	close(fd);
	full = malloc(strlen(yaml) + 256);
	snprintf(full, strlen(yaml) + 256, "spok:\n  server:\n    tokens-file: %s\n%s", tpath, yaml);
	result = spok_config_parse(full, strlen(full), "cfg.yaml", &p, err);
	free(full);
	if (result == 0) {
		result = srv_config_build(&p, NULL, NULL, NULL, NULL, NULL, out, err);
		spok_platform_free(&p);
	}
	unlink(tpath);
	return result;
}

static const char *two_clusters =
	"  clusters:\n"
	"  - {name: east, kubeconfig: /k/east, labels: {region: east, tier: prod}, qps: 20}\n"
	"  - {name: west, kubeconfig: /k/west, labels: {region: west, tier: prod}, exec-timeout: 2.5}\n"
	"  - {name: dev, in-cluster: true, labels: {tier: dev}}\n"
	"  routes:\n"
	"  - {project: ml, domain: '*', cluster: dev}\n"
	"  - {project: '*', domain: production, cluster-labels: {tier: prod}}\n"
	"  - {project: '*', domain: '*', cluster-labels: {region: east}}\n";

static void test_config_and_routing(void **state)
{
	struct srv_config c;
	struct spok_err err = {0};
	struct srv_cluster_state st[3] = {{true, 5}, {true, 2}, {true, 0}};
	size_t idx = 99;
	char *h = hash_of("tok-a");
	char tokens[512];

	(void)state;
	snprintf(tokens, sizeof(tokens), "- {name: a, token-sha256: %s, projects: [ml]}\n", h);
	assert_int_equal(parse_cfg(two_clusters, tokens, &c, &err), 0);
	assert_int_equal(c.nclusters, 3);
	assert_string_equal(c.listen_host, "127.0.0.1");
	assert_int_equal(c.listen_port, 8080);
	assert_int_equal(c.max_body, SRV_DEFAULT_MAX_BODY);
	assert_true(c.clusters[2].in_cluster);
	assert_int_equal(c.clusters[0].exec_timeout_ms, 0);
	assert_int_equal(c.clusters[1].exec_timeout_ms, 2500);
	/* first match wins: ml -> dev whatever the load */
	assert_int_equal(srv_route_pick(&c, "ml", "production", st, &idx, &err), 0);
	assert_int_equal(idx, 2);
	/* prod route: the healthy prod cluster with fewest active executions */
	assert_int_equal(srv_route_pick(&c, "x", "production", st, &idx, &err), 0);
	assert_int_equal(idx, 1);
	st[1].healthy = false;
	assert_int_equal(srv_route_pick(&c, "x", "production", st, &idx, &err), 0);
	assert_int_equal(idx, 0);
	/* nothing healthy: still routed (it waits there) */
	st[0].healthy = false;
	assert_int_equal(srv_route_pick(&c, "x", "production", st, &idx, &err), 0);
	assert_int_equal(idx, 1);
	assert_int_equal(srv_route_pick(&c, "x", "development", st, &idx, &err), 0);
	assert_int_equal(idx, 0);
	srv_config_free(&c);
	free(h);
}

static void test_no_route(void **state)
{
	struct srv_config c;
	struct spok_err err = {0};
	struct srv_cluster_state st[1] = {{true, 0}};
	size_t idx;
	char *h = hash_of("x");
	char tokens[256];

	(void)state;
	snprintf(tokens, sizeof(tokens), "- {name: a, token-sha256: %s, admin: true}\n", h);
	assert_int_equal(parse_cfg("  routes:\n  - {project: ml}\n", tokens, &c, &err), 0);
	assert_int_equal(c.nclusters, 1);
	assert_string_equal(c.clusters[0].name, "default");
	assert_int_equal(srv_route_pick(&c, "other", "d", st, &idx, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "no route matches project 'other'"));
	srv_config_free(&c);
	free(h);
}

static void expect_bad(const char *yaml, const char *tokens, const char *needle)
{
	struct srv_config c;
	struct spok_err err = {0};

	assert_int_equal(parse_cfg(yaml, tokens, &c, &err), SPOK_EINVAL);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("'%s' not in '%s'", needle, err.msg);
}

static void test_bad_config(void **state)
{
	const char *tok = "- {name: a, token-sha256: 'a00000000000000000000000000000000000000000000000000000000000000f', admin: true}\n";

	(void)state;
	expect_bad("  clusters:\n  - {kubeconfig: /x}\n", tok, "spok.clusters[0].name: missing");
	expect_bad("  clusters:\n  - {name: a}\n  - {name: a}\n", tok, "duplicate cluster name");
	expect_bad("  clusters:\n  - {name: A B}\n", tok, "name must be");
	expect_bad("  clusters:\n  - {name: a, kubeconfg: /x}\n", tok, "spok.clusters[0].kubeconfg: unknown key");
	expect_bad("  clusters:\n  - {name: a, in-cluster: true, context: c}\n", tok, "in-cluster");
	expect_bad("  clusters:\n  - {name: a, qps: -1}\n", tok, "spok.clusters[0].qps");
	expect_bad("  clusters:\n  - {name: a, exec-timeout: 0}\n", tok,
		   "spok.clusters[0].exec-timeout: expected a number in 1..300");
	expect_bad("  clusters:\n  - {name: a, exec-timeout: 301}\n", tok, "exec-timeout");
	expect_bad("  clusters:\n  - {name: a, exec-timeout: 30s}\n", tok, "exec-timeout");
	expect_bad("  routes:\n  - {cluster: nope}\n", tok, "spok.routes[0]: cluster is not one of");
	expect_bad("  routes:\n  - {cluster: default, cluster-labels: {a: b}}\n", tok, "either cluster");
	expect_bad("  routes: {a: b}\n", tok, "expected a list");
	expect_bad("", "- {name: a, token-sha256: xyz}\n", "64 hex digits");
	expect_bad("", "- {name: a}\n", "[0].token-sha256: missing");
	expect_bad("", "{a: b}\n", "expected a list");
	expect_bad("", "- {name: a, token-sha256: 'a00000000000000000000000000000000000000000000000000000000000000f', projects: x}\n", "projects must be a list");
	expect_bad("", "- {name: a, token-sha256: 'a00000000000000000000000000000000000000000000000000000000000000f', admin: true}\n"
		       "- {name: a, token-sha256: 'a00000000000000000000000000000000000000000000000000000000000000f', admin: true}\n",
		   "duplicate token name");
	expect_bad("    max-connections: 10\n    max-connections-per-ip: 20\n",
		   tok, "max-connections-per-ip: is over max-connections");
	expect_bad("    header-timeout: 0\n", tok, "spok.server.header-timeout");
	expect_bad("    header-timeout: 1.5\n", tok, "header-timeout: expected a whole number");
	expect_bad("    health-listen: nowhere\n", tok, "spok.server.health-listen");
}

/* The daemon's checks name file:line:col as the config reader does (issue 10): the place of
 * the value, or of the mapping a missing key belongs in. The test prepends 3 lines. */
static void test_config_positions(void **state)
{
	const char *tok = "- {name: a, token-sha256: 'a00000000000000000000000000000000000000000000000000000000000000f', admin: true}\n";

	(void)state;
	expect_bad("  clusters:\n  - {kubeconfig: /x}\n", tok, "cfg.yaml:5:5: spok.clusters[0].name: missing");
	expect_bad("  clusters:\n  - name: a\n    qps: -1\n", tok, "cfg.yaml:6:10: spok.clusters[0].qps: expected");
	expect_bad("    header-timeout: 0\n", tok, "cfg.yaml:4:21: spok.server.header-timeout");
	expect_bad("    health-listen: nowhere\n", tok, "cfg.yaml:4:20: spok.server.health-listen");
	expect_bad("", "- {name: a, token-sha256: 'a00000000000000000000000000000000000000000000000000000000000000f', admin: true}\n"
		       "- {name: b, token-sha256: xyz}\n", ":2:3: tokens[1]: token-sha256 must be");
}

/* Issue 8: a token with no projects listed every project's executions. An empty list is
 * no rights, so the file is refused with the token named; admin and ['*'] are explicit. */
static void test_token_without_projects(void **state)
{
	const char *h = "'a00000000000000000000000000000000000000000000000000000000000000f'";
	char tokens[512];

	(void)state;
	snprintf(tokens, sizeof(tokens), "- {name: a, token-sha256: %s, admin: true}\n"
		 "- {name: b, token-sha256: %s}\n", h, h);
	expect_bad("", tokens, "tokens[1].projects is empty: a token with no projects has no rights");
	snprintf(tokens, sizeof(tokens), "- {name: b, token-sha256: %s, projects: []}\n", h);
	expect_bad("", tokens, "tokens[0].projects is empty");
	snprintf(tokens, sizeof(tokens), "- {name: b, token-sha256: %s, projects: [ml], "
		 "namespaces: ['..']}\n", h);
	expect_bad("", tokens, "tokens[0].namespaces: entries must be namespace names");
}

static void test_namespaces(void **state)
{
	struct srv_config c;
	struct spok_err err = {0};
	char *ha = hash_of("token-a"), *hb = hash_of("token-b");
	char tokens[512];

	(void)state;
	assert_true(kube_dns_label("a"));
	assert_true(kube_dns_label("ml-development"));
	assert_true(kube_dns_label("0a-9"));
	assert_false(kube_dns_label(""));
	assert_false(kube_dns_label(NULL));
	assert_false(kube_dns_label(".."));
	assert_false(kube_dns_label("-a"));
	assert_false(kube_dns_label("a-"));
	assert_false(kube_dns_label("A"));
	assert_false(kube_dns_label("a.b"));
	assert_false(kube_dns_label("a/b"));
	assert_false(kube_dns_label("a234567890123456789012345678901234567890123456789012345678901234"));
	snprintf(tokens, sizeof(tokens),
		 "- {name: alice, token-sha256: %s, projects: [ml], namespaces: [shared, kube-system]}\n"
		 "- {name: root, token-sha256: %s, admin: true}\n", ha, hb);
	assert_int_equal(parse_cfg("", tokens, &c, &err), 0);
	/* alice: her project's own namespace, her listed ones, nothing else */
	assert_true(srv_token_allows_namespace(&c.tokens[0], "ml-development", "ml-development"));
	assert_true(srv_token_allows_namespace(&c.tokens[0], "shared", "ml-development"));
	assert_true(srv_token_allows_namespace(&c.tokens[0], "kube-system", "ml-development"));
	assert_false(srv_token_allows_namespace(&c.tokens[0], "web-development", "ml-development"));
	assert_false(srv_token_allows_namespace(&c.tokens[0], "ml-development", NULL));
	/* admin: anything but kube-* unless listed */
	assert_true(srv_token_allows_namespace(&c.tokens[1], "web-development", "ml-development"));
	assert_false(srv_token_allows_namespace(&c.tokens[1], "kube-system", "kube-system"));
	assert_false(srv_token_allows_namespace(&c.tokens[1], "kube-public", NULL));
	srv_config_free(&c);
	free(ha);
	free(hb);
}

static void test_limits_config(void **state)
{
	struct srv_config c;
	struct spok_err err = {0};
	char *h = hash_of("x");
	char tokens[256];

	(void)state;
	snprintf(tokens, sizeof(tokens), "- {name: a, token-sha256: %s, admin: true}\n", h);
	assert_int_equal(parse_cfg("", tokens, &c, &err), 0);
	assert_int_equal(c.max_connections, SRV_DEFAULT_MAX_CONNECTIONS);
	assert_int_equal(c.max_per_ip, SRV_DEFAULT_MAX_PER_IP);
	assert_int_equal(c.header_timeout_s, SRV_DEFAULT_HEADER_TIMEOUT_S);
	assert_null(c.health_host);
	srv_config_free(&c);
	assert_int_equal(parse_cfg("    health-listen: 'localhost:0'\n    max-connections: 64\n"
				   "    max-connections-per-ip: 8\n    header-timeout: 2\n"
				   "    body-timeout: 3\n    idle-timeout: 4\n", tokens, &c, &err), 0);
	assert_string_equal(c.health_host, "127.0.0.1");
	assert_int_equal(c.max_connections, 64);
	assert_int_equal(c.max_per_ip, 8);
	assert_int_equal(c.header_timeout_s, 2);
	assert_int_equal(c.body_timeout_s, 3);
	assert_int_equal(c.idle_timeout_s, 4);
	srv_config_free(&c);
	free(h);
}

static void test_missing_tokens_file(void **state)
{
	struct spok_platform p;
	struct srv_config c;
	struct spok_err err = {0};
	const char *y = "spok:\n  server: {listen: '127.0.0.1:0'}\n";

	(void)state;
	assert_int_equal(spok_config_parse(y, strlen(y), "cfg.yaml", &p, &err), 0);
	assert_int_equal(srv_config_build(&p, NULL, NULL, NULL, NULL, NULL, &c, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "spok.server.tokens-file: missing"));
	spok_platform_free(&p);
}

static void test_listen(void **state)
{
	char *h = NULL;
	uint16_t port;
	struct spok_err err = {0};

	(void)state;
	assert_int_equal(srv_parse_listen("localhost:9090", &h, &port, &err), 0);
	assert_string_equal(h, "127.0.0.1");
	assert_int_equal(port, 9090);
	free(h);
	assert_int_equal(srv_parse_listen("127.0.0.1:99999", &h, &port, &err), SPOK_EINVAL);
	assert_int_equal(srv_parse_listen("nohost", &h, &port, &err), SPOK_EINVAL);
	assert_int_equal(srv_parse_listen("example.com:80", &h, &port, &err), SPOK_EINVAL);
}

static void test_auth(void **state)
{
	struct srv_config c;
	struct spok_err err = {0};
	char *ha = hash_of("token-a"), *hb = hash_of("token-b");
	char tokens[512];
	const struct srv_token *t;

	(void)state;
	snprintf(tokens, sizeof(tokens),
		 "- {name: alice, token-sha256: %s, projects: [ml, web]}\n"
		 "- {name: root, token-sha256: %s, admin: true}\n", ha, hb);
	assert_int_equal(parse_cfg("", tokens, &c, &err), 0);
	assert_null(srv_auth(&c, NULL));
	assert_null(srv_auth(&c, "Bearer "));
	assert_null(srv_auth(&c, "Basic dG9rZW4tYQ=="));
	assert_null(srv_auth(&c, "Bearer token-c"));
	assert_null(srv_auth(&c, "Bearer token-a "));
	t = srv_auth(&c, "Bearer token-a");
	assert_non_null(t);
	assert_string_equal(t->name, "alice");
	assert_true(srv_token_allows(t, "ml"));
	assert_false(srv_token_allows(t, "other"));
	assert_false(srv_token_allows(t, NULL));
	t = srv_auth(&c, "bearer token-b");
	assert_non_null(t);
	assert_true(srv_token_allows(t, "anything"));
	srv_config_free(&c);
	free(ha);
	free(hb);
}

/* Warm sessions through the API: a token sees, uses and stops only its projects' sessions;
 * one started from the CLI (no project) only all-projects tokens; the view names no pids or
 * host paths, gives the idle time of a RUNNING session and its URL with the token's name. */
static void test_sessions_authz(void **state)
{
	struct srv_config c = {0};
	struct spok_err err = {0};
	char *ha = hash_of("token-a"), *hb = hash_of("token-b"), *hc = hash_of("token-c");
	char tokens[768];
	struct spok_session v[3];

	(void)state;
	snprintf(tokens, sizeof(tokens),
		 "- {name: alice, token-sha256: %s, projects: [ml]}\n"
		 "- {name: bob, token-sha256: %s, projects: [web]}\n"
		 "- {name: root, token-sha256: %s, admin: true}\n", ha, hb, hc);
	assert_int_equal(parse_cfg("", tokens, &c, &err), 0);
	memset(v, 0, sizeof(v));
	v[0] = (struct spok_session){.name = strdup("a1"), .pool = strdup("default"), .project = strdup("ml"),
				     .phase = SPOK_SESSION_RUNNING, .port = 15002, .ui_port = 4040,
				     .pid = 4242, .started_ms = 1000, .last_used_ms = 5000,
				     .log_path = strdup("/secret/server.log")};
	v[1] = (struct spok_session){.name = strdup("w1"), .pool = strdup("default"), .project = strdup("web"),
				     .phase = SPOK_SESSION_STARTING};
	v[2] = (struct spok_session){.name = strdup("cli"), .pool = strdup("default"), .phase = SPOK_SESSION_STOPPED};
	assert_non_null(c.tokens);
	assert_int_equal(c.ntokens, 3);
	const struct srv_token *alice = c.tokens, *bob = c.tokens + 1, *root = c.tokens + 2;

	assert_true(srv_session_allowed(alice, &v[0]));
	assert_false(srv_session_allowed(alice, &v[1]));
	assert_false(srv_session_allowed(alice, &v[2]));
	assert_false(srv_session_allowed(bob, &v[0]));
	assert_true(srv_session_allowed(bob, &v[1]));
	assert_true(srv_session_allowed(root, &v[0]));
	assert_true(srv_session_allowed(root, &v[2]));

	json_t *j = srv_sessions_view(alice, v, 3, "alice", 9000);
	json_t *items = json_object_get(j, "items");
	assert_int_equal(json_array_size(items), 1);
	json_t *a = json_array_get(items, 0);
	assert_string_equal(json_string_value(json_object_get(a, "name")), "a1");
	assert_int_equal(json_integer_value(json_object_get(a, "idleMs")), 4000);
	/* without the session's Connect token (GET .../NAME/url is the one answer with it) */
	assert_string_equal(json_string_value(json_object_get(a, "url")), "sc://localhost:15002/;user_id=alice");
	assert_null(strstr(json_string_value(json_object_get(a, "url")), "token"));
	assert_string_equal(json_string_value(json_object_get(a, "uiUrl")), "http://127.0.0.1:4040");
	char *text = json_dumps(j, 0);
	assert_null(strstr(text, "secret"));
	assert_null(strstr(text, "4242"));
	free(text);
	json_decref(j);

	j = srv_sessions_view(root, v, 3, "root", 9000);
	items = json_object_get(j, "items");
	assert_int_equal(json_array_size(items), 3);
	/* not running: no idle time, no URL */
	assert_true(json_is_null(json_object_get(json_array_get(items, 1), "idleMs")));
	assert_true(json_is_null(json_object_get(json_array_get(items, 1), "url")));
	json_decref(j);

	assert_true(srv_session_user_ok("alice"));
	assert_false(srv_session_user_ok("a;b"));
	assert_false(srv_session_user_ok(""));
	for (int i = 0; i < 3; i++)
		spok_session_free(&v[i]);
	srv_config_free(&c);
	free(ha);
	free(hb);
	free(hc);
}

/* Messages quote the URL and request fields, which may hold invalid or cut UTF-8: the
 * reply must still be a JSON error object, never an empty body. */
static void test_reply_error_bad_utf8(void **state)
{
	const char *bad[] = {"/\xc3", "\xff\xfe", "caf\xc3\xa9"};

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct srv_reply r = {0};
		json_t *j;

		srv_reply_error(&r, 404, "not_found", "no such endpoint: %.4s; see docs", bad[i]);
		assert_int_equal(r.status, 404);
		assert_non_null(r.body);
		j = json_loads(r.body, 0, NULL);
		assert_non_null(j);
		assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"),
								      "code")), "not_found");
		json_decref(j);
		free(r.body);
	}
}

/* A task a CLI cluster run recorded, read back by the daemon after its rescan took the run
 * over: an extensionless protobuf and a .json job file load as the CLI loads them (the
 * daemon read everything but .pb and .ctr as YAML). */
static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void test_load_cli_task(void **state)
{
	const char *src = getenv("SPOK_SOURCE_DIR");
	char dir[] = "/tmp/spok-srvload-XXXXXX", in[1024], path[1100];
	struct spok_execution x = {0};
	struct spok_task t;
	struct spok_err err = {0};
	static const char job[] = "{\"name\": \"j\", \"mainApplicationFile\": \"local:///x.py\"}";
	char buf[65536];
	size_t n;
	FILE *f;

	(void)state;
	assert_non_null(src);
	assert_non_null(mkdtemp(dir));
	snprintf(in, sizeof(in), "%s/tests/flyteidl/corpus/fuzz_task_spec/hello_spark_1.pb", src);
	f = fopen(in, "rb");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/task", dir);
	write_file(path, buf, n);
	x.id = (char *)"sp-load";
	x.task_source = path;
	spok_task_init(&t);
	if (spok_server_load_task(&x, &t, &err) != 0)
		fail_msg("extensionless protobuf: %s", err.msg);
	assert_non_null(t.main_application_file);
	spok_task_free(&t);
	unlink(path);
	snprintf(path, sizeof(path), "%s/job.json", dir);
	write_file(path, job, sizeof(job) - 1);
	if (spok_server_load_task(&x, &t, &err) != 0)
		fail_msg("json job file: %s", err.msg);
	assert_string_equal(t.name, "j");
	spok_task_free(&t);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_config_and_routing),
		cmocka_unit_test(test_no_route),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_token_without_projects),
		cmocka_unit_test(test_config_positions),
		cmocka_unit_test(test_namespaces),
		cmocka_unit_test(test_sessions_authz),
		cmocka_unit_test(test_limits_config),
		cmocka_unit_test(test_missing_tokens_file),
		cmocka_unit_test(test_listen),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_reply_error_bad_utf8),
		cmocka_unit_test(test_load_cli_task),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
