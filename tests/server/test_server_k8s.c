/* test_server_k8s.c - the real `spok serve` binary against the real kube-apiserver (ctest
 * fixture `k8s`), real SQLite, HTTP through libcurl, and the dashboard in headless Chromium.
 *
 * Nothing runs the Spark operator: the test plays it by patching status.applicationState
 * through the /status subresource. Waits are bounded only to turn a hang into a failure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "server/internal.h"
#include "k8s_env.h"

extern char **environ;

static const struct kube_gvr SPARK = {"sparkoperator.k8s.io", "v1beta2", "sparkapplications"};
static const struct kube_gvr NAMESPACES = {"", "v1", "namespaces"};
static const struct kube_gvr PODS = {"", "v1", "pods"};
static const struct kube_gvr SAS = {"", "v1", "serviceaccounts"};
#define GUARD_STEPS 1200 /* x 100 ms */
#define ADMIN_TOKEN "admin-secret-token"
#define ML_TOKEN "ml-secret-token"
#define EMPTY_TOKEN "empty-secret-token"
/* Connection limits of the test config: small, so the slow-client test can fill them. */
#define MAX_CONN 64
#define MAX_PER_IP 32

static char dir[256], ns[64], web_ns[64], cfg_path[512], base[32];
static unsigned port, health_port;
static pid_t daemon_pid = -1;
static uv_loop_t loop;
static struct kube_client *kc;
/* The "hang" cluster's API server: a socket that listens but never accepts, so every
 * request to it stays in flight (a driver-log fetch to cancel). */
static int hang_fd = -1;
static unsigned hang_port;

/* ---- environment, API server ---- */

static json_t *kube_sync_do(int started, struct kube_sync *s)
{
	struct spok_err err = {0};
	json_t *body;

	assert_int_equal(started, 0);
	if (kube_sync_wait(kc, s, &err) != 0) {
		kube_sync_free(s);
		return NULL;
	}
	body = json_incref(s->body);
	kube_sync_free(s);
	return body;
}

static void make_ns(const char *name)
{
	struct kube_sync s = {0};
	json_t *obj = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
				"metadata", "name", name);

	json_decref(kube_sync_do(kube_create(kc, &NAMESPACES, NULL, obj, kube_sync_cb, &s, NULL), &s));
	json_decref(obj);
}

/* SparkApplications of namespace n (List object, new reference). */
static json_t *list_apps(const char *n)
{
	struct kube_sync s = {0};
	struct kube_list_opts o = {.label_selector = "spok.dev/execution"};
	json_t *l = kube_sync_do(kube_list(kc, &SPARK, n, &o, kube_sync_cb, &s, NULL), &s);

	assert_non_null(l);
	return l;
}

static void patch_state(const char *n, const char *name, const char *state, const char *msg)
{
	struct kube_sync s = {0};
	json_t *st = json_pack("{s:{s:s,s:s},s:s,s:{s:s,s:s},s:i}", "applicationState", "state",
			       state, "errorMessage", msg ? msg : "",
			       "sparkApplicationId", "spark-0123", "driverInfo", "podName", "drv-pod",
			       "webUIAddress", "10.1.2.3:4040", "executionAttempts", 1);
	json_t *r = kube_sync_do(kube_patch_status(kc, &SPARK, n, name, st, kube_sync_cb, &s, NULL),
				 &s);

	assert_non_null(r);
	json_decref(r);
	json_decref(st);
}

/* ---- HTTP ---- */

struct resp {
	long status;
	char *body;
	size_t len;
};

static size_t on_data(char *p, size_t sz, size_t n, void *data)
{
	struct resp *r = data;

	r->body = xrealloc(r->body, r->len + sz * n + 1);
	memcpy(r->body + r->len, p, sz * n);
	r->len += sz * n;
	r->body[r->len] = '\0';
	return sz * n;
}

/* Returns the curl code; r->body is heap (free it). */
static CURLcode http(const char *method, const char *path, const char *token, const char *body,
		     size_t body_len, struct resp *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[512], auth[256];
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
	}
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
	}
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc;
}

static json_t *http_json(const char *method, const char *path, const char *token,
			 const char *body, long want)
{
	struct resp r;
	json_t *j;

	assert_int_equal(http(method, path, token, body, body ? strlen(body) : 0, &r), CURLE_OK);
	if (r.status != want)
		fail_msg("%s %s: HTTP %ld, want %ld: %s", method, path, r.status, want, r.body);
	j = json_loads(r.body ? r.body : "", 0, NULL);
	if (j == NULL)
		fail_msg("%s %s: not JSON: %s", method, path, r.body);
	free(r.body);
	return j;
}

static void expect_error(const char *method, const char *path, const char *token,
			 const char *body, size_t len, long want, const char *code, const char *needle)
{
	struct resp r;
	json_t *j;
	const char *msg;

	assert_int_equal(http(method, path, token, body, len, &r), CURLE_OK);
	if (r.status != want)
		fail_msg("%s %s: HTTP %ld, want %ld: %s", method, path, r.status, want, r.body);
	j = json_loads(r.body ? r.body : "", 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "code")), code);
	msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
	assert_non_null(msg);
	if (needle && strstr(msg, needle) == NULL)
		fail_msg("'%s' not in '%s'", needle, msg);
	/* No token ever appears in an answer. */
	assert_null(strstr(r.body, ADMIN_TOKEN));
	assert_null(strstr(r.body, ML_TOKEN));
	json_decref(j);
	free(r.body);
}

/* ---- the daemon ---- */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void write_config(void)
{
	char path[600], *text;
	uint8_t h[32];
	char ha[65], hm[65];

	srv_sha256(ADMIN_TOKEN, strlen(ADMIN_TOKEN), h);
	srv_hex(h, 32, ha);
	srv_sha256(ML_TOKEN, strlen(ML_TOKEN), h);
	srv_hex(h, 32, hm);
	snprintf(path, sizeof(path), "%s/tokens.yaml", dir);
	text = xasprintf("- {name: admin, token-sha256: %s, admin: true}\n"
			 "- {name: ml-team, token-sha256: %s, projects: [ml], namespaces: [%s]}\n",
			 ha, hm, ns);
	write_file(path, text);
	free(text);
	/* A cluster whose API server is a closed loopback port. */
	snprintf(path, sizeof(path), "%s/down.kubeconfig", dir);
	write_file(path, "apiVersion: v1\nkind: Config\ncurrent-context: down\n"
		   "clusters: [{name: down, cluster: {server: 'https://127.0.0.1:1', "
		   "insecure-skip-tls-verify: true}}]\n"
		   "users: [{name: u, user: {token: not-a-real-token}}]\n"
		   "contexts: [{name: down, context: {cluster: down, user: u}}]\n");
	snprintf(path, sizeof(path), "%s/hang.kubeconfig", dir);
	text = xasprintf("apiVersion: v1\nkind: Config\ncurrent-context: hang\n"
			 "clusters: [{name: hang, cluster: {server: 'https://127.0.0.1:%u', "
			 "insecure-skip-tls-verify: true}}]\n"
			 "users: [{name: u, user: {token: not-a-real-token}}]\n"
			 "contexts: [{name: hang, context: {cluster: hang, user: u}}]\n", hang_port);
	write_file(path, text);
	free(text);
	snprintf(cfg_path, sizeof(cfg_path), "%s/config.yaml", dir);
	text = xasprintf("spok:\n  default-image: spark:4.0.5\n  spark-version: 4.0.5\n"
			 "  clusters:\n"
			 "  - {name: good, kubeconfig: '%s', context: admin, labels: {pool: main}, "
			 "qps: 500, burst: 1000}\n"
			 "  - {name: down, kubeconfig: down.kubeconfig, labels: {pool: main}}\n"
			 "  - {name: hang, kubeconfig: hang.kubeconfig}\n"
			 "  routes:\n"
			 "  - {project: '*', domain: '*', cluster-labels: {pool: main}}\n"
			 "  server: {listen: '127.0.0.1:0', tokens-file: tokens.yaml, max-body: 1048576,\n"
			 "    health-listen: '127.0.0.1:0', max-connections: %d, "
			 "max-connections-per-ip: %d,\n"
			 "    header-timeout: 3, body-timeout: 3, idle-timeout: 600}\n",
			 getenv("KUBECONFIG"), MAX_CONN, MAX_PER_IP);
	write_file(cfg_path, text);
	free(text);
}

/* Starts `spok serve` and reads its "listening on" line. listen NULL: from the config. */
static void daemon_start(const char *listen)
{
	char spok[512], data[300], logp[300], line[256] = "", addr[64];
	char *argv[12];
	int pipefd[2], n = 0;
	posix_spawn_file_actions_t fa;
	FILE *out;

	snprintf(spok, sizeof(spok), "%s/src/cli/spok", getenv("SPOK_BUILD_DIR"));
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(logp, sizeof(logp), "%s/daemon.log", dir);
	argv[n++] = spok;
	argv[n++] = (char *)"serve";
	argv[n++] = (char *)"--config";
	argv[n++] = cfg_path;
	argv[n++] = (char *)"--data-dir";
	argv[n++] = data;
	if (listen) {
		snprintf(addr, sizeof(addr), "%s", listen);
		argv[n++] = (char *)"--listen";
		argv[n++] = addr;
	}
	argv[n] = NULL;
	assert_int_equal(pipe(pipefd), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, logp, O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_addclose(&fa, pipefd[0]);
	assert_int_equal(posix_spawn(&daemon_pid, spok, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	out = fdopen(pipefd[0], "r");
	if (fgets(line, sizeof(line), out) == NULL || sscanf(line, "listening on http://127.0.0.1:%u", &port) != 1)
		fail_msg("the daemon did not start (see %s): '%s'", logp, line);
	if (fgets(line, sizeof(line), out) == NULL || sscanf(line, "health on http://127.0.0.1:%u", &health_port) != 1)
		fail_msg("the daemon has no health listener (see %s): '%s'", logp, line);
	fclose(out);
}

static int daemon_wait(void)
{
	int st = 0;

	assert_int_equal(waitpid(daemon_pid, &st, 0), daemon_pid);
	daemon_pid = -1;
	return st;
}

static void daemon_kill9(void)
{
	kill(daemon_pid, SIGKILL);
	daemon_wait();
}

static void hang_listen(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);

	/* CLOEXEC: the daemon must not inherit it. */
	hang_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(hang_fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(hang_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(hang_fd, 64), 0);
	assert_int_equal(getsockname(hang_fd, (struct sockaddr *)&sa, &len), 0);
	hang_port = ntohs(sa.sin_port);
}

static int setup(void **state)
{
	struct kube_config cfg;
	struct spok_err err = {0};

	(void)state;
	spok_test_k8s_env();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(dir, sizeof(dir), "%s/server-test-XXXXXX", getenv("SPOK_BUILD_DIR"));
	assert_non_null(mkdtemp(dir));
	snprintf(base, sizeof(base), "srv%x", (unsigned)getpid());
	snprintf(ns, sizeof(ns), "%s-a", base);
	snprintf(web_ns, sizeof(web_ns), "%s-web", base);
	uv_loop_init(&loop);
	if (kube_config_load(&cfg, getenv("KUBECONFIG"), "admin", &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(kube_client_new(&loop, &cfg, NULL, &kc, &err), 0);
	kube_config_free(&cfg);
	make_ns(ns);
	make_ns(web_ns);
	hang_listen();
	write_config();
	daemon_start(NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		daemon_wait();
	}
	if (hang_fd >= 0)
		close(hang_fd);
	kube_client_close(kc);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	curl_global_cleanup();
	return 0;
}

static void nap(void)
{
	usleep(100 * 1000);
}

/* ---- cases ---- */

static char *task_body(const char *project, const char *name, const char *namespace_,
		       const char *key, const char *cluster)
{
	json_t *b = json_pack("{s:{s:s,s:s,s:s,s:s},s:s}", "task", "name", name, "project", project,
			      "type", "python", "mainApplicationFile",
			      "local:///opt/spark/examples/src/main/python/pi.py",
			      "namespace", namespace_);
	char *s;

	if (key)
		json_object_set_new(b, "idempotencyKey", json_string(key));
	if (cluster)
		json_object_set_new(b, "cluster", json_string(cluster));
	s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	return s;
}

static void test_healthz_shows_down_cluster(void **state)
{
	json_t *h = http_json("GET", "/healthz", NULL, NULL, 200), *c;
	size_t i;
	int seen = 0;

	(void)state;
	assert_string_equal(json_string_value(json_object_get(h, "status")), "degraded");
	json_array_foreach(json_object_get(h, "clusters"), i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *st = json_string_value(json_object_get(c, "status"));

		if (strcmp(name, "good") == 0 && strcmp(st, "up") == 0)
			seen |= 1;
		if (strcmp(name, "down") == 0 && strcmp(st, "down") == 0)
			seen |= 2;
	}
	assert_int_equal(seen, 3);
	json_decref(h);
}

static int raw_connect(const char *from, unsigned to);
static char *raw_read_all(int fd);

static void test_bad_requests(void **state)
{
	char *big, *body = task_body("ml", "t", ns, NULL, NULL);
	int fd;
	const char *p = "/api/v1/executions";

	(void)state;
	expect_error("GET", p, NULL, NULL, 0, 401, "unauthorized", "missing 'Authorization");
	expect_error("GET", p, "wrong-token", NULL, 0, 401, "unauthorized", "not valid");
	expect_error("POST", p, "", body, strlen(body), 401, "unauthorized", NULL);
	free(body);
	body = task_body("web", "t", ns, NULL, NULL);
	expect_error("POST", p, ML_TOKEN, body, strlen(body), 403, "forbidden", "project 'web'");
	expect_error("GET", "/api/v1/executions?project=web", ML_TOKEN, NULL, 0, 403, "forbidden", NULL);
	free(body);
	expect_error("POST", p, ADMIN_TOKEN, "{\"task\": ", 9, 400, "invalid", "invalid JSON");
	expect_error("POST", p, ADMIN_TOKEN, "[1]", 3, 400, "invalid", "expected a JSON object");
	expect_error("POST", p, ADMIN_TOKEN, "{\"tusk\": {}}", 12, 400, "invalid", "unknown field 'tusk'");
	expect_error("POST", p, ADMIN_TOKEN, "{\"task\": {\"name\": \"x\"}}", 23, 400, "invalid", "request body: task");
	expect_error("POST", p, ADMIN_TOKEN, "{\"taskSpecBase64\": \"@@@\"}", 25, 400, "invalid", "not base64");
	expect_error("POST", p, ADMIN_TOKEN, "{\"taskSpecBase64\": \"AAAA\"}", 26, 400, "invalid", NULL);
	/* refused from Content-Length before the body is read: headers only, so the client is
	 * never still sending when the daemon answers and closes */
	fd = raw_connect(NULL, port);
	big = xasprintf("POST %s HTTP/1.1\r\nHost: spok\r\nAuthorization: Bearer " ADMIN_TOKEN
			"\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n", p);
	assert_int_equal(write(fd, big, strlen(big)), (ssize_t)strlen(big));
	free(big);
	big = raw_read_all(fd);
	close(fd);
	if (strncmp(big, "HTTP/1.1 413", 12) != 0 || strstr(big, "limit of 1048576") == NULL)
		fail_msg("oversized body: %s", big);
	free(big);
	expect_error("GET", "/api/v2/nothing", ADMIN_TOKEN, NULL, 0, 404, "not_found", "no such endpoint");
	expect_error("GET", "/api/v1/executions/sp-doesnotexist", ADMIN_TOKEN, NULL, 0, 404, "not_found", NULL);
	expect_error("DELETE", p, ADMIN_TOKEN, NULL, 0, 405, "method_not_allowed", "GET, POST");
	expect_error("GET", "/api/v1/executions/x/abort", ADMIN_TOKEN, NULL, 0, 405, "method_not_allowed", NULL);
	expect_error("POST", "/metrics", NULL, "{}", 2, 405, "method_not_allowed", NULL);
}

/* ---- issue 8: authorization, caps, framing, slow clients ---- */

static unsigned long long metric(const char *name);

static char *body_with(const char *project, const char *name, const char *domain,
		       const char *namespace_)
{
	json_t *task = json_pack("{s:s,s:s,s:s,s:s}", "name", name, "project", project, "type",
				 "python", "mainApplicationFile", "local:///x.py");
	json_t *b;
	char *out;

	if (domain)
		json_object_set_new(task, "domain", json_string(domain));
	b = json_pack("{s:o}", "task", task);
	if (namespace_)
		json_object_set_new(b, "namespace", json_string(namespace_));
	out = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	return out;
}

static void refuse(const char *token, const char *body, long want, const char *code,
		   const char *needle)
{
	expect_error("POST", "/api/v1/executions", token, body, strlen(body), want, code, needle);
}

/* SparkApplications labelled task-name=name in any namespace. */
static size_t apps_named(const char *name)
{
	struct kube_sync s = {0};
	char sel[128];
	struct kube_list_opts o = {.label_selector = sel};
	json_t *l;
	size_t n;

	snprintf(sel, sizeof(sel), "task-name=%s", name);
	l = kube_sync_do(kube_list(kc, &SPARK, NULL, &o, kube_sync_cb, &s, NULL), &s);
	assert_non_null(l);
	n = json_array_size(json_object_get(l, "items"));
	json_decref(l);
	return n;
}

/* A token for project ml may not create in web's namespace nor in kube-system; '..', ''
 * and other non-names are 400 (they gave a 500, or reached cluster-wide paths); a domain
 * that is not a configured one (with '-', or any other) cannot move the template's
 * namespace onto another project's or a system namespace. Nothing refused
 * reaches the API server or the store. */
static void test_namespace_authz(void **state)
{
	static const char *const bad[] = {"..", "", ".", "Upper", "a/b", "-a", "a..b",
		"a234567890123456789012345678901234567890123456789012345678901234"};
	char name[64], *b;
	json_t *l, *it;
	size_t i;

	(void)state;
	snprintf(name, sizeof(name), "refused-%s", base);
	b = body_with("ml", name, NULL, web_ns);
	refuse(ML_TOKEN, b, 403, "forbidden", "may not create in namespace");
	free(b);
	b = body_with("ml", name, NULL, "kube-system");
	refuse(ML_TOKEN, b, 403, "forbidden", "'kube-system'");
	refuse(ADMIN_TOKEN, b, 403, "forbidden", "'kube-system'");
	free(b);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = body_with("ml", name, NULL, bad[i]);
		refuse(ML_TOKEN, b, 400, "invalid", "request body: namespace");
		refuse(ADMIN_TOKEN, b, 400, "invalid", "request body: namespace");
		free(b);
	}
	/* ml + domain "web-x" would give "ml-web-x", project ml-web's namespace for domain x;
	 * project "spark" + domain "operator" the operator's own namespace: a domain that is
	 * not a configured one never makes the template's namespace the token's own */
	b = body_with("ml", name, "web-x", NULL);
	refuse(ML_TOKEN, b, 403, "forbidden", "not one of spok.cluster-resources.domains");
	free(b);
	b = body_with("ml", name, "system", NULL);
	refuse(ML_TOKEN, b, 403, "forbidden", "'ml-system'");
	free(b);
	/* the same through a name the template cannot give: a project the token lacks */
	b = body_with("web", name, NULL, web_ns);
	refuse(ML_TOKEN, b, 403, "forbidden", "project 'web'");
	free(b);
	assert_int_equal(apps_named(name), 0);
	l = http_json("GET", "/api/v1/executions?limit=1000", ADMIN_TOKEN, NULL, 200);
	json_array_foreach(json_object_get(l, "items"), i, it)
		if (strcmp(json_string_value(json_object_get(it, "taskName")), name) == 0)
			fail_msg("a refused submission was recorded: %s",
				 json_string_value(json_object_get(it, "id")));
	json_decref(l);
}

/* A token with no projects once listed every project. The tokens file with such a token
 * is refused: on SIGHUP the daemon keeps the old tokens, and that token gets 401. */
static void test_token_without_projects(void **state)
{
	char path[600], logp[300], *text, *log = NULL;
	uint8_t h[32];
	char ha[65], hm[65], he[65];

	(void)state;
	srv_sha256(ADMIN_TOKEN, strlen(ADMIN_TOKEN), h);
	srv_hex(h, 32, ha);
	srv_sha256(ML_TOKEN, strlen(ML_TOKEN), h);
	srv_hex(h, 32, hm);
	srv_sha256(EMPTY_TOKEN, strlen(EMPTY_TOKEN), h);
	srv_hex(h, 32, he);
	snprintf(path, sizeof(path), "%s/tokens.yaml", dir);
	text = xasprintf("- {name: admin, token-sha256: %s, admin: true}\n"
			 "- {name: ml-team, token-sha256: %s, projects: [ml], namespaces: [%s]}\n"
			 "- {name: nobody, token-sha256: %s, projects: []}\n", ha, hm, ns, he);
	write_file(path, text);
	free(text);
	kill(daemon_pid, SIGHUP);
	snprintf(logp, sizeof(logp), "%s/daemon.log", dir);
	for (int i = 0;; i++) {
		struct spok_buf b;

		spok_buf_init(&b, 0);
		if (spok_buf_read_file(&b, logp, NULL) == 0 && b.data &&
		    strstr(b.data, "tokens[2].projects is empty") != NULL)
			log = b.data;
		spok_buf_free(&b);
		if (log)
			break;
		if (i > GUARD_STEPS)
			fail_msg("SIGHUP with a token without projects: no error in %s", logp);
		nap();
	}
	expect_error("GET", "/api/v1/executions", EMPTY_TOKEN, NULL, 0, 401, "unauthorized", NULL);
	json_decref(http_json("GET", "/api/v1/executions", ML_TOKEN, NULL, 200));
	write_config(); /* the old tokens file again */
}

/* 40,000 labels froze the loop for minutes (a linear map): now a quick 400 naming the cap. */
static void test_many_labels(void **state)
{
	json_t *task = json_pack("{s:s,s:s,s:s,s:s}", "name", "many", "project", "ml", "type",
				 "python", "mainApplicationFile", "local:///x.py");
	json_t *labels = json_object();
	char k[32], *body;

	(void)state;
	for (int i = 0; i < 40000; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		json_object_set_new(labels, k, json_string("v"));
	}
	json_object_set_new(task, "labels", labels);
	task = json_pack("{s:o}", "task", task);
	body = json_dumps(task, JSON_COMPACT);
	json_decref(task);
	refuse(ML_TOKEN, body, 400, "invalid", "labels: 40000 keys is over the cap of 1000");
	free(body);
	json_decref(http_json("GET", "/healthz", NULL, NULL, 200));
}

/* A job file's local path names a file on the daemon's host: `spok serve` never reads or
 * ships it (a token holder must not read the daemon's files): 400 naming the field, and
 * nothing created. `spok run --cluster` is what ships local files. */
static void test_local_path_refused(void **state)
{
	static const char *const paths[] = {"/etc/passwd", "pi.py", "../x.jar"};
	char want[160], *body;
	json_t *b;

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		b = json_pack("{s:{s:s,s:s,s:s,s:s}}", "task", "name", "shiplocal", "project", "ml",
			      "type", "python", "mainApplicationFile", paths[i]);
		body = json_dumps(b, JSON_COMPACT);
		json_decref(b);
		snprintf(want, sizeof(want), "mainApplicationFile %s: a path on the submitting "
			 "machine; this server does not ship local files", paths[i]);
		refuse(ML_TOKEN, body, 400, "invalid", want);
		free(body);
	}
	/* pyFiles / files entries too, with the main file in the image. */
	b = json_pack("{s:{s:s,s:s,s:s,s:s,s:[s,s]}}", "task", "name", "shiplocal", "project", "ml",
		      "type", "python", "mainApplicationFile", "local:///opt/pi.py", "files",
		      "s3a://b/ok.csv", "/etc/shadow");
	body = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	refuse(ML_TOKEN, body, 400, "invalid", "files /etc/shadow: a path on the submitting machine; "
	       "this server does not ship local files");
	free(body);
	assert_int_equal(apps_named("shiplocal"), 0);
}

/* A TCP connection to the API (or the health listener) from local address `from`. */
static int raw_connect(const char *from, unsigned to)
{
	struct sockaddr_in sa = {.sin_family = AF_INET}, me = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (from) {
		assert_int_equal(inet_pton(AF_INET, from, &me.sin_addr), 1);
		assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	}
	sa.sin_port = htons((uint16_t)to);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Everything the server sends until it closes (heap). */
static char *raw_read_all(int fd)
{
	char *out = xmalloc(1), chunk[4096];
	size_t len = 0;
	ssize_t n;

	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		out = xrealloc(out, len + (size_t)n + 1);
		memcpy(out + len, chunk, (size_t)n);
		len += (size_t)n;
	}
	out[len] = '\0';
	return out;
}

static char *answer_of(int fd);

/* Content-Length with chunked, or two Content-Lengths: a proxy and the daemon could read
 * different requests out of one stream. 400, and the connection closed. */
static void test_framing(void **state)
{
	static const char *const heads[] = {
		"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
		"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
		"Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
		"Content-Length: +2\r\n\r\n{}",
	};
	unsigned long long before = metric("spok_http_framing_refused_total");

	(void)state;
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		int fd = raw_connect(NULL, port);
		char *req = xasprintf("POST /api/v1/executions HTTP/1.1\r\nHost: spok\r\n"
				      "Authorization: Bearer " ADMIN_TOKEN "\r\n"
				      "Content-Type: application/json\r\n%s", heads[i]);
		char *ans;

		assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
		ans = answer_of(fd); /* a lenient server keeps the connection: bounded */
		close(fd);
		/* a lenient server answers too (the body it read is not a task): say why */
		if (strncmp(ans, "HTTP/1.1 400", 12) != 0 ||
		    (i < 4 && strstr(ans, "request framing") == NULL))
			fail_msg("framing case %zu: %s", i, ans);
		free(ans);
		free(req);
	}
	assert_true(metric("spok_http_framing_refused_total") >= before + 4);
}

/* Sends one more header byte; false once the server closed the connection. */
static bool slow_alive(int fd)
{
	char c;
	ssize_t n;

	if (send(fd, "x", 1, MSG_NOSIGNAL) != 1)
		return false;
	n = recv(fd, &c, 1, MSG_DONTWAIT);
	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static int slow_open(const char *from)
{
	static const char head[] = "GET /healthz HTTP/1.1\r\nHost: spok\r\nX-Slow: ";
	int fd = raw_connect(from, port);

	assert_int_equal(write(fd, head, sizeof(head) - 1), (ssize_t)(sizeof(head) - 1));
	return fd;
}

/* Waits for an answer or EOF on fd (bounded only to turn a hang into a failure). */
static char *answer_of(int fd)
{
	struct timeval tv = {.tv_sec = 60};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return raw_read_all(fd);
}

/* Slowloris: slow clients filled every connection slot and /healthz stopped answering.
 * Now: one address gets at most max-connections-per-ip; with every slot of the API taken
 * (from several addresses), the health listener still answers; a client trickling header
 * bytes is closed at header-timeout (idle-timeout is 600 s here, so nothing else could
 * close it), and then the API answers again. */
static void test_slow_clients(void **state)
{
	static const char *const froms[] = {"127.0.0.2", "127.0.0.3"};
	int fds[MAX_CONN], extra, alive;
	unsigned long long closed_before = metric("spok_http_deadline_closed_total");
	struct resp r;
	char *ans;
	CURL *c;

	(void)state;
	/* one address at its limit (the total is not): one more from it is closed unanswered */
	for (int i = 0; i < MAX_PER_IP; i++)
		fds[i] = slow_open(froms[0]);
	extra = raw_connect(froms[0], port);
	(void)send(extra, "GET /healthz HTTP/1.0\r\n\r\n", 25, MSG_NOSIGNAL); /* may be reset */
	ans = answer_of(extra);
	close(extra);
	alive = 0;
	for (int i = 0; i < MAX_PER_IP; i++)
		alive += slow_alive(fds[i]);
	if (alive == MAX_PER_IP && ans[0] != '\0')
		fail_msg("a connection over the per-address limit was answered: %.80s", ans);
	free(ans);
	for (int i = MAX_PER_IP; i < MAX_CONN; i++)
		fds[i] = slow_open(froms[1]);
	/* every API slot is taken: the health listener answers all the same */
	c = curl_easy_init();
	{
		char url[128];

		memset(&r, 0, sizeof(r));
		snprintf(url, sizeof(url), "http://127.0.0.1:%u/healthz", health_port);
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
		assert_int_equal(curl_easy_perform(c), CURLE_OK);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
		curl_easy_cleanup(c);
		if (r.status != 200 || strstr(r.body, "\"clusters\"") == NULL)
			fail_msg("health listener: HTTP %ld: %s", r.status, r.body);
		free(r.body);
	}
	/* keep trickling: each connection is closed at its header deadline */
	for (int step = 0;; step++) {
		alive = 0;
		for (int i = 0; i < MAX_CONN; i++) {
			if (fds[i] >= 0 && !slow_alive(fds[i])) {
				close(fds[i]);
				fds[i] = -1;
			}
			alive += fds[i] >= 0;
		}
		if (alive == 0)
			break;
		if (step > GUARD_STEPS / 2)
			fail_msg("%d slow connections were never closed", alive);
		usleep(200 * 1000);
	}
	/* the API answers again, and counted what it closed */
	json_decref(http_json("GET", "/healthz", NULL, NULL, 200));
	assert_true(metric("spok_http_deadline_closed_total") >= closed_before + MAX_CONN);
	(void)r;
}

static json_t *wait_exec(const char *id, const char *phase, bool want_links)
{
	char path[128];

	snprintf(path, sizeof(path), "/api/v1/executions/%s", id);
	for (int i = 0; i < GUARD_STEPS; i++) {
		json_t *x = http_json("GET", path, ADMIN_TOKEN, NULL, 200);

		if (strcmp(json_string_value(json_object_get(x, "phase")), phase) == 0 &&
		    (!want_links || json_array_size(json_object_get(x, "links")) > 0))
			return x;
		json_decref(x);
		nap();
	}
	fail_msg("execution %s never reached %s", id, phase);
	return NULL;
}

static char *app_of(const char *n, const char *id)
{
	for (int i = 0; i < GUARD_STEPS; i++) {
		json_t *l = list_apps(n), *it;
		size_t k;

		json_array_foreach(json_object_get(l, "items"), k, it) {
			json_t *md = json_object_get(it, "metadata");

			if (strcmp(json_string_value(json_object_get(json_object_get(md, "labels"),
								     "spok.dev/execution")), id) == 0) {
				char *name = xstrdup(json_string_value(json_object_get(md, "name")));

				json_decref(l);
				return name;
			}
		}
		json_decref(l);
		nap();
	}
	fail_msg("no SparkApplication for %s in %s", id, n);
	return NULL;
}

static char running_id[32], aborted_id[32];

static void test_submit_status_links_abort(void **state)
{
	char *body = task_body("ml", "pi", ns, NULL, NULL), *app;
	json_t *r, *x, *l;
	struct resp logs;

	(void)state;
	r = http_json("POST", "/api/v1/executions", ML_TOKEN, body, 201);
	free(body);
	/* the healthy cluster of the route, not the down one */
	assert_string_equal(json_string_value(json_object_get(r, "cluster")), "good");
	assert_string_equal(json_string_value(json_object_get(r, "namespace")), ns);
	snprintf(running_id, sizeof(running_id), "%s", json_string_value(json_object_get(r, "id")));
	json_decref(r);
	app = app_of(ns, running_id);
	patch_state(ns, app, "RUNNING", NULL);
	x = wait_exec(running_id, "RUNNING", true);
	assert_string_equal(json_string_value(json_object_get(x, "project")), "ml");
	/* the daemon host's pids and paths are not the API's business (issue 8) */
	{
		static const char *const host[] = {"pid", "pgid", "proc_start", "supervisor_pid",
						   "log_path", "run_dir", "task_source",
						   "event_log_dir", "procStart", "supervisorPid",
						   "logPath", "runDir", "taskSource", "eventLogDir", NULL};
		const char *k;
		json_t *v;

		for (size_t i = 0; host[i]; i++)
			if (json_object_get(x, host[i]) != NULL)
				fail_msg("GET execution shows '%s'", host[i]);
		assert_non_null(json_object_get(x, "namespace"));
		/* one naming style (issue 10): camelCase keys, no snake_case column names */
		json_object_foreach(x, k, v)
			if (strchr(k, '_') != NULL)
				fail_msg("GET execution has a snake_case key '%s'", k);
		assert_non_null(json_object_get(x, "taskName"));
		assert_non_null(json_object_get(x, "createdMs"));
	}
	json_decref(x);
	free(app);

	/* a second one, aborted */
	body = task_body("ml", "to-abort", ns, NULL, NULL);
	r = http_json("POST", "/api/v1/executions", ML_TOKEN, body, 201);
	free(body);
	snprintf(aborted_id, sizeof(aborted_id), "%s", json_string_value(json_object_get(r, "id")));
	json_decref(r);
	free(app_of(ns, aborted_id));
	{
		char path[128];

		snprintf(path, sizeof(path), "/api/v1/executions/%s/abort", aborted_id);
		json_decref(http_json("POST", path, ML_TOKEN, "", 202));
		json_decref(wait_exec(aborted_id, "ABORTED", false));
		expect_error("POST", path, ML_TOKEN, "", 0, 409, "conflict", "already finished");
		/* the driver pod named in the status (driverInfo.podName) does not exist */
		snprintf(path, sizeof(path), "/api/v1/executions/%s/logs", running_id);
		expect_error("GET", path, ML_TOKEN, NULL, 0, 404, "not_found", "drv-pod");
	}
	/* a failure message with markup (shown as the reason on the dashboard) */
	body = task_body("ml", "fails", ns, NULL, NULL);
	r = http_json("POST", "/api/v1/executions", ML_TOKEN, body, 201);
	free(body);
	{
		const char *id = json_string_value(json_object_get(r, "id"));
		char path[128];

		app = app_of(ns, id);
		patch_state(ns, app, "FAILED", "<img src=x onerror=alert(1)>boom");
		free(app);
		snprintf(path, sizeof(path), "/api/v1/executions/%s", id);
		for (int i = 0;; i++) {
			const char *reason;

			x = http_json("GET", path, ML_TOKEN, NULL, 200);
			reason = json_string_value(json_object_get(x, "reason"));
			if (reason && strstr(reason, "onerror")) {
				json_decref(x);
				break;
			}
			json_decref(x);
			if (i > GUARD_STEPS)
				fail_msg("the failure of %s was never recorded", id);
			nap();
		}
	}
	json_decref(r);
	/* the ml token sees only ml executions; listing pages with continue */
	l = http_json("GET", "/api/v1/executions?project=ml&limit=1", ML_TOKEN, NULL, 200);
	assert_int_equal(json_array_size(json_object_get(l, "items")), 1);
	assert_true(json_is_string(json_object_get(l, "continue")));
	json_decref(l);
	(void)logs;
}

static char down_id[32];

static void test_route_to_down_cluster_waits(void **state)
{
	char *body = task_body("ml", "waits", ns, NULL, "down");
	json_t *r, *h;
	const char *id;

	(void)state;
	r = http_json("POST", "/api/v1/executions", ADMIN_TOKEN, body, 201);
	free(body);
	assert_string_equal(json_string_value(json_object_get(r, "cluster")), "down");
	id = json_string_value(json_object_get(r, "id"));
	snprintf(down_id, sizeof(down_id), "%s", id);
	json_decref(wait_exec(id, "QUEUED", false));
	/* the other cluster is not held back: healthz still answers, good still up */
	h = http_json("GET", "/healthz", NULL, NULL, 200);
	json_decref(h);
	json_decref(r);
}

static void test_metrics(void **state)
{
	struct resp r;

	(void)state;
	assert_int_equal(http("GET", "/metrics", NULL, NULL, 0, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "spok_executions{phase=\"RUNNING\"} "));
	assert_non_null(strstr(r.body, "spok_cluster_up{cluster=\"good\"} 1"));
	assert_non_null(strstr(r.body, "spok_cluster_up{cluster=\"down\"} 0"));
	assert_non_null(strstr(r.body, "spok_http_requests_total{code=\"401\"}"));
	assert_non_null(strstr(r.body, "spok_submissions_total "));
	assert_non_null(strstr(r.body, "spok_watch_reconnects_total{cluster=\"good\"}"));
	free(r.body);
}

/* ---- driver logs of cluster executions ---- */

/* The value of an unlabelled metric. */
static unsigned long long metric(const char *name)
{
	struct resp r;
	char needle[128];
	const char *p;
	unsigned long long v;

	assert_int_equal(http("GET", "/metrics", NULL, NULL, 0, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	snprintf(needle, sizeof(needle), "\n%s ", name);
	p = strstr(r.body, needle);
	if (p == NULL)
		fail_msg("metric %s missing", name);
	v = strtoull(p + strlen(needle), NULL, 10);
	free(r.body);
	return v;
}

static void wait_metric(const char *name, unsigned long long want)
{
	for (int i = 0; metric(name) != want; i++) {
		if (i > GUARD_STEPS)
			fail_msg("metric %s never reached %llu", name, want);
		nap();
	}
}

static void create_driver_pod(const char *name)
{
	struct kube_sync s = {0};
	json_t *pod = json_pack("{s:s,s:s,s:{s:s},s:{s:b,s:[{s:s,s:s}]}}", "apiVersion", "v1",
				"kind", "Pod", "metadata", "name", name, "spec",
				"automountServiceAccountToken", 0, "containers", "name",
				"spark-kubernetes-driver", "image", "spark:4.0.5");
	json_t *r = kube_sync_do(kube_create(kc, &PODS, ns, pod, kube_sync_cb, &s, NULL), &s);

	if (r == NULL)
		fail_msg("cannot create pod %s/%s", ns, name);
	json_decref(r);
	json_decref(pod);
}

static void test_logs_cluster(void **state)
{
	char *body = task_body("ml", "logs", ns, NULL, "good"), *app, pod[128], path[160];
	char q[256], *id;
	json_t *r, *sa;
	struct kube_sync s = {0};
	struct resp lr;

	(void)state;
	/* No ServiceAccount controller runs: pod admission needs "default" to exist. */
	sa = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "ServiceAccount",
		       "metadata", "name", "default");
	json_decref(kube_sync_do(kube_create(kc, &SAS, ns, sa, kube_sync_cb, &s, NULL), &s));
	json_decref(sa);
	r = http_json("POST", "/api/v1/executions", ML_TOKEN, body, 201);
	free(body);
	id = xstrdup(json_string_value(json_object_get(r, "id")));
	json_decref(r);
	app = app_of(ns, id);
	/* no status yet: the operator's default pod name */
	snprintf(pod, sizeof(pod), "%s-driver", app);
	snprintf(path, sizeof(path), "/api/v1/executions/%s/logs", id);
	expect_error("GET", path, ML_TOKEN, NULL, 0, 404, "not_found", pod);
	create_driver_pod(pod);
	/* no kubelet: the API server answers a pod on no node with an empty log */
	assert_int_equal(http("GET", path, ML_TOKEN, NULL, 0, &lr), CURLE_OK);
	if (lr.status != 200)
		fail_msg("GET %s: HTTP %ld: %s", path, lr.status, lr.body);
	assert_int_equal(lr.len, 0);
	free(lr.body);
	snprintf(q, sizeof(q), "%s?tailLines=5&limitBytes=100", path);
	assert_int_equal(http("GET", q, ML_TOKEN, NULL, 0, &lr), CURLE_OK);
	assert_int_equal(lr.status, 200);
	free(lr.body);
	/* bad parameters */
	snprintf(q, sizeof(q), "%s?tailLines=abc", path);
	expect_error("GET", q, ML_TOKEN, NULL, 0, 400, "invalid", "tailLines");
	snprintf(q, sizeof(q), "%s?tailLines=100001", path);
	expect_error("GET", q, ML_TOKEN, NULL, 0, 400, "invalid", "tailLines");
	snprintf(q, sizeof(q), "%s?limitBytes=0", path);
	expect_error("GET", q, ML_TOKEN, NULL, 0, 400, "invalid", "limitBytes");
	snprintf(q, sizeof(q), "%s?limitBytes=1048577", path);
	expect_error("GET", q, ML_TOKEN, NULL, 0, 400, "invalid", "limitBytes");
	snprintf(q, sizeof(q), "%s?follow=true", path);
	expect_error("GET", q, ML_TOKEN, NULL, 0, 400, "invalid", "follow");
	/* the pod gone: 404 naming it */
	json_decref(kube_sync_do(kube_delete(kc, &PODS, ns, pod, NULL, NULL, kube_sync_cb, &s,
					     NULL), &s));
	for (int i = 0;; i++) {
		assert_int_equal(http("GET", path, ML_TOKEN, NULL, 0, &lr), CURLE_OK);
		free(lr.body);
		if (lr.status == 404)
			break;
		if (i > GUARD_STEPS)
			fail_msg("pod %s was never deleted", pod);
		nap();
	}
	expect_error("GET", path, ML_TOKEN, NULL, 0, 404, "not_found", pod);
	/* no fetch is left behind */
	assert_int_equal(metric("spok_log_fetches_in_flight"), 0);
	free(app);
	free(id);
}

static void test_logs_down_cluster(void **state)
{
	char path[160];

	(void)state;
	snprintf(path, sizeof(path), "/api/v1/executions/%s/logs", down_id);
	expect_error("GET", path, ADMIN_TOKEN, NULL, 0, 503, "unavailable", "cluster down: SparkApplication");
}

/* A raw HTTP connection with a logs request written, so the test decides when it closes. */
static int logs_request_open(const char *id)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char req[512];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int n;

	assert_true(fd >= 0);
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	n = snprintf(req, sizeof(req), "GET /api/v1/executions/%s/logs HTTP/1.1\r\nHost: spok\r\n"
		     "Authorization: Bearer " ADMIN_TOKEN "\r\n\r\n", id);
	assert_int_equal(write(fd, req, (size_t)n), n);
	return fd;
}

static char hang_id[32];

/* A client that leaves while its log is being fetched: the fetch is cancelled (the daemon
 * runs under ASan: a use-after-free or leak fails it at the latest at SIGTERM). */
static void test_logs_client_leaves(void **state)
{
	char *body = task_body("ml", "hangs", ns, NULL, "hang");
	json_t *r;
	unsigned long long cancelled = metric("spok_log_fetches_cancelled_total");
	unsigned long long started = metric("spok_log_fetches_total");
	int fd;

	(void)state;
	r = http_json("POST", "/api/v1/executions", ADMIN_TOKEN, body, 201);
	free(body);
	snprintf(hang_id, sizeof(hang_id), "%s", json_string_value(json_object_get(r, "id")));
	json_decref(r);
	fd = logs_request_open(hang_id);
	wait_metric("spok_log_fetches_in_flight", 1);
	assert_int_equal(metric("spok_log_fetches_total"), started + 1);
	close(fd);
	wait_metric("spok_log_fetches_in_flight", 0);
	assert_int_equal(metric("spok_log_fetches_cancelled_total"), cancelled + 1);
	/* the daemon goes on serving */
	json_decref(http_json("GET", "/healthz", NULL, NULL, 200));
}

/* ---- dashboard in headless Chromium ---- */

static char *run_chromium(const char *extra, const char *url)
{
	char prof[300], outp[300], budget[] = "--virtual-time-budget=8000";
	char *argv[16];
	int n = 0, st = 0;
	pid_t pid;
	posix_spawn_file_actions_t fa;
	struct stat sb;
	FILE *f;
	char *text;

	snprintf(prof, sizeof(prof), "--user-data-dir=%s/chromium", dir);
	snprintf(outp, sizeof(outp), "%s/chromium.out", dir);
	argv[n++] = (char *)"chromium";
	argv[n++] = (char *)"--headless";
	argv[n++] = (char *)"--no-sandbox";
	argv[n++] = (char *)"--disable-gpu";
	argv[n++] = (char *)"--disable-background-networking";
	argv[n++] = (char *)"--disable-component-update";
	argv[n++] = (char *)"--disable-sync";
	argv[n++] = (char *)"--no-first-run";
	argv[n++] = (char *)"--window-size=1500,700";
	argv[n++] = prof;
	argv[n++] = budget;
	argv[n++] = (char *)extra;
	argv[n++] = (char *)url;
	argv[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, "chromium", &fa, NULL, argv, environ) != 0)
		fail_msg("chromium is not installed; run scripts/setup apt");
	posix_spawn_file_actions_destroy(&fa);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	f = fopen(outp, "r");
	assert_non_null(f);
	assert_int_equal(fstat(fileno(f), &sb), 0);
	text = xcalloc(1, (size_t)sb.st_size + 1);
	if (fread(text, 1, (size_t)sb.st_size, f) != (size_t)sb.st_size)
		fail_msg("short read of %s", outp);
	fclose(f);
	return text;
}

static void test_dashboard_chromium(void **state)
{
	char url[256], shot[512];
	char *dom;

	(void)state;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/?token=%s", port, ADMIN_TOKEN);
	dom = run_chromium("--dump-dom", url);
	/* the rows, their phases and links */
	if (strstr(dom, running_id) == NULL)
		fail_msg("dashboard does not list %s:\n%s", running_id, dom);
	assert_non_null(strstr(dom, aborted_id));
	assert_non_null(strstr(dom, "class=\"phase RUNNING\">RUNNING<"));
	assert_non_null(strstr(dom, "class=\"phase ABORTED\">ABORTED<"));
	assert_non_null(strstr(dom, "class=\"link\""));
	assert_non_null(strstr(dom, "good: up"));
	assert_non_null(strstr(dom, "down: down"));
	/* markup in a failure message is text, never markup */
	assert_non_null(strstr(dom, "&lt;img src=x onerror=alert(1)&gt;boom"));
	assert_null(strstr(dom, "<img src=x"));
	assert_null(strstr(dom, "<img src=\"x\""));
	/* the ?token= bootstrap is not left in the page's address */
	assert_null(strstr(dom, ADMIN_TOKEN));
	free(dom);
	snprintf(shot, sizeof(shot), "--screenshot=%s/server-dashboard.png", getenv("SPOK_BUILD_DIR"));
	free(run_chromium(shot, url));
}

/* ---- kill -9 under 1,000 submissions ---- */

#define N_SUBMIT 1000

struct load {
	char ns[64];
	char ids[N_SUBMIT][32];
	int done;                /* submissions answered (read by the killer thread) */
	int retries;
	pthread_mutex_t mu;
};

static void *submitter(void *arg)
{
	struct load *ld = arg;

	for (int i = 0; i < N_SUBMIT; i++) {
		char key[32], *body;

		snprintf(key, sizeof(key), "key-%d", i);
		body = task_body("spok", "bulk", ld->ns, key, "good");
		for (;;) {
			struct resp r;
			CURLcode rc = http("POST", "/api/v1/executions", ADMIN_TOKEN, body, strlen(body), &r);
			json_t *j = rc == CURLE_OK ? json_loads(r.body ? r.body : "", 0, NULL) : NULL;

			/* retry on connection errors and while the daemon is away or draining */
			if (rc == CURLE_OK && (r.status == 201 || r.status == 200) && j) {
				snprintf(ld->ids[i], sizeof(ld->ids[i]), "%s",
					 json_string_value(json_object_get(j, "id")));
				json_decref(j);
				free(r.body);
				break;
			}
			if (rc == CURLE_OK && r.status != 503)
				fail_msg("submission %d: HTTP %ld: %s", i, r.status, r.body);
			json_decref(j);
			free(r.body);
			pthread_mutex_lock(&ld->mu);
			ld->retries++;
			pthread_mutex_unlock(&ld->mu);
			usleep(20 * 1000);
		}
		free(body);
		pthread_mutex_lock(&ld->mu);
		ld->done = i + 1;
		pthread_mutex_unlock(&ld->mu);
	}
	return NULL;
}

static int load_done(struct load *ld)
{
	int d;

	pthread_mutex_lock(&ld->mu);
	d = ld->done;
	pthread_mutex_unlock(&ld->mu);
	return d;
}

static void test_kill9_under_load(void **state)
{
	struct load *ld = xcalloc(1, sizeof(*ld));
	pthread_t th;
	char listen[64];
	const int kill_at[] = {250, 600, 900};
	json_t *l, *it;
	size_t k;

	(void)state;
	snprintf(ld->ns, sizeof(ld->ns), "%s-load", base);
	make_ns(ld->ns);
	pthread_mutex_init(&ld->mu, NULL);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
	assert_int_equal(pthread_create(&th, NULL, submitter, ld), 0);
	for (size_t s = 0; s < sizeof(kill_at) / sizeof(kill_at[0]); s++) {
		while (load_done(ld) < kill_at[s])
			usleep(2000);
		daemon_kill9();
		daemon_start(listen);
	}
	pthread_join(th, NULL);
	/* every key maps to exactly one execution: a retried key returns the same id */
	for (int i = 0; i < N_SUBMIT; i++) {
		char key[32], *body = NULL;
		json_t *r;

		assert_true(strncmp(ld->ids[i], "sp-", 3) == 0);
		for (int j = 0; j < i; j++)
			if (strcmp(ld->ids[i], ld->ids[j]) == 0)
				fail_msg("keys %d and %d share execution %s", i, j, ld->ids[i]);
		if (i % 97 != 0)
			continue;
		snprintf(key, sizeof(key), "key-%d", i);
		body = task_body("spok", "bulk", ld->ns, key, "good");
		r = http_json("POST", "/api/v1/executions", ADMIN_TOKEN, body, 200);
		assert_string_equal(json_string_value(json_object_get(r, "id")), ld->ids[i]);
		json_decref(r);
		free(body);
	}
	/* the store holds exactly these executions in the namespace ... */
	{
		int count = 0;
		json_t *page;
		char path[256], cont[32] = "";

		do {
			snprintf(path, sizeof(path), "/api/v1/executions?limit=500%s%s",
				 cont[0] ? "&continue=" : "", cont);
			page = http_json("GET", path, ADMIN_TOKEN, NULL, 200);
			json_array_foreach(json_object_get(page, "items"), k, it)
				if (strcmp(json_string_value(json_object_get(it, "namespace")), ld->ns) == 0)
					count++;
			cont[0] = '\0';
			if (json_is_string(json_object_get(page, "continue")))
				snprintf(cont, sizeof(cont), "%s",
					 json_string_value(json_object_get(page, "continue")));
			json_decref(page);
		} while (cont[0]);
		assert_int_equal(count, N_SUBMIT);
	}
	/* ... and the API server exactly one SparkApplication per execution, none lost */
	for (int step = 0;; step++) {
		size_t n;
		int matched = 0;

		l = list_apps(ld->ns);
		n = json_array_size(json_object_get(l, "items"));
		if (n > N_SUBMIT)
			fail_msg("%zu SparkApplications for %d executions", n, N_SUBMIT);
		if (n == N_SUBMIT) {
			json_array_foreach(json_object_get(l, "items"), k, it) {
				const char *id = json_string_value(json_object_get(json_object_get(
					json_object_get(it, "metadata"), "labels"), "spok.dev/execution"));

				for (int i = 0; i < N_SUBMIT; i++)
					if (strcmp(ld->ids[i], id) == 0) {
						matched++;
						break;
					}
			}
			assert_int_equal(matched, N_SUBMIT);
			json_decref(l);
			break;
		}
		json_decref(l);
		if (step > GUARD_STEPS)
			fail_msg("only %zu of %d SparkApplications appeared", n, N_SUBMIT);
		nap();
	}
	print_message("1000 submissions, 3 kill -9 restarts, %d client retries\n", ld->retries);
	pthread_mutex_destroy(&ld->mu);
	free(ld);
}

/* SparkApplications of namespace n labelled with execution id. */
static size_t apps_of_exec(const char *n, const char *id)
{
	json_t *l = list_apps(n), *it;
	size_t k, count = 0;

	json_array_foreach(json_object_get(l, "items"), k, it) {
		const char *v = json_string_value(json_object_get(
			json_object_get(json_object_get(it, "metadata"), "labels"), "spok.dev/execution"));

		count += v != NULL && strcmp(v, id) == 0;
	}
	json_decref(l);
	return count;
}

/* SIGTERM with a log fetch in flight and an abort just accepted: the fetch is cancelled and
 * answered 503, the abort's DELETE is carried out before the engines close (nothing is left
 * for the next process to find), the drain completes and the daemon exits 0 (leak-free:
 * LSan would fail the exit status). */
static void test_sigterm_drains(void **state)
{
	char answer[4096], id[32], path[128];
	char *body = task_body("ml", "abort-at-stop", ns, NULL, NULL);
	size_t got = 0;
	ssize_t n;
	json_t *r;
	int st, fd;

	(void)state;
	r = http_json("POST", "/api/v1/executions", ML_TOKEN, body, 201);
	free(body);
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(r, "id")));
	json_decref(r);
	free(app_of(ns, id));
	fd = logs_request_open(hang_id);
	snprintf(path, sizeof(path), "/api/v1/executions/%s/abort", id);
	json_decref(http_json("POST", path, ML_TOKEN, "", 202));
	wait_metric("spok_log_fetches_in_flight", 1);
	kill(daemon_pid, SIGTERM);
	while (got < sizeof(answer) - 1 &&
	       (n = read(fd, answer + got, sizeof(answer) - 1 - got)) > 0)
		got += (size_t)n;
	answer[got] = '\0';
	close(fd);
	if (strncmp(answer, "HTTP/1.1 503", 12) != 0 || strstr(answer, "shutting down") == NULL)
		fail_msg("in-flight log fetch at SIGTERM: %s", answer);
	st = daemon_wait();
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	if (apps_of_exec(ns, id) != 0)
		fail_msg("the SparkApplication of %s, aborted just before SIGTERM, is still there", id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_healthz_shows_down_cluster),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_namespace_authz),
		cmocka_unit_test(test_token_without_projects),
		cmocka_unit_test(test_many_labels),
		cmocka_unit_test(test_local_path_refused),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_submit_status_links_abort),
		cmocka_unit_test(test_route_to_down_cluster_waits),
		cmocka_unit_test(test_logs_cluster),
		cmocka_unit_test(test_logs_down_cluster),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_slow_clients),
		cmocka_unit_test(test_dashboard_chromium),
		cmocka_unit_test(test_kill9_under_load),
		/* after the kill -9 restarts: the daemon that sees the client leave exits through
		 * SIGTERM, where LSan checks it */
		cmocka_unit_test(test_logs_client_leaves),
		cmocka_unit_test(test_sigterm_drains),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
