/* test_server_loop_k8s.c - nothing blocks the daemon's loop (issue 10): the real `spok serve`
 * against the real kube-apiserver (ctest fixture `k8s`).
 *
 * Two clusters on the same API server: `good` (the fixture's admin kubeconfig) and `stuck`,
 * whose kubeconfig user is an exec credential plugin that never answers (data/
 * hung-plugin.sh). While that plugin hangs, /healthz, the list, and a submission to `good`
 * (down to its SparkApplication on the API server) are answered; that they were answered
 * before the plugin's timeout is shown by `stuck` still being "unknown" afterwards (its first
 * health probe waits for that same plugin run), not by a clock. Then the requests that
 * waited for the plugin fail cleanly: a driver-log fetch of an execution pinned to `stuck`
 * answers 504 naming the plugin's timeout, and `stuck` turns "down".
 *
 * Then another process takes the store's write lock: writes answer 503 "busy" with
 * Retry-After (no file path in the answer), reads still answer, and once the lock is gone
 * everything works again.
 *
 * Submissions are answered after the loop turn's shared commit (docs/SERVER.md, "Group
 * commit"): a commit that fails (a trap only COMMIT trips) answers every submission it held
 * with an error and creates nothing; a burst of concurrent submissions gets ids that another
 * process finds in the store right after a kill -9. Waits are bounded only to turn a hang
 * into a failure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "server/internal.h"
#include "k8s_env.h"

extern char **environ;

static const struct kube_gvr SPARK = {"sparkoperator.k8s.io", "v1beta2", "sparkapplications"};
static const struct kube_gvr NAMESPACES = {"", "v1", "namespaces"};
#define GUARD_STEPS 1200 /* x 100 ms */
#define ADMIN_TOKEN "admin-secret-token"
#define EXEC_TIMEOUT_S 25 /* the stuck cluster's exec-timeout */

static char dir[256], ns[64], cfg_path[512], mark[300];
static unsigned port;
static pid_t daemon_pid = -1;
static uv_loop_t loop;
static struct kube_client *kc;

/* ---- HTTP ---- */

struct resp {
	long status;
	char *body;
	size_t len;
	char retry_after[32];
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

static size_t on_header(char *p, size_t sz, size_t n, void *data)
{
	struct resp *r = data;
	size_t len = sz * n;

	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0)
		snprintf(r->retry_after, sizeof(r->retry_after), "%.*s", (int)strcspn(p + 12, "\r\n"),
			 p + 12);
	return len;
}

/* r->body is heap (free it). */
static void http(const char *method, const char *path, const char *body, struct resp *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[512];

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	h = curl_slist_append(h, "Authorization: Bearer " ADMIN_TOKEN);
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

static json_t *http_json(const char *method, const char *path, const char *body, long want)
{
	struct resp r;
	json_t *j;

	http(method, path, body, &r);
	if (r.status != want)
		fail_msg("%s %s: HTTP %ld, want %ld: %s", method, path, r.status, want, r.body);
	j = json_loads(r.body ? r.body : "", 0, NULL);
	if (j == NULL)
		fail_msg("%s %s: not JSON: %s", method, path, r.body);
	free(r.body);
	return j;
}

static char *task_body(const char *name, const char *cluster)
{
	json_t *b = json_pack("{s:{s:s,s:s,s:s,s:s},s:s,s:s}", "task", "name", name, "project", "ml",
			      "type", "python", "mainApplicationFile",
			      "local:///opt/spark/examples/src/main/python/pi.py",
			      "namespace", ns, "cluster", cluster);
	char *s = json_dumps(b, JSON_COMPACT);

	json_decref(b);
	return s;
}

/* POSTs a submission; returns its id (heap). */
static char *submit(const char *name, const char *cluster)
{
	char *body = task_body(name, cluster), *id;
	json_t *r = http_json("POST", "/api/v1/executions", body, 201);

	assert_string_equal(json_string_value(json_object_get(r, "cluster")), cluster);
	id = xstrdup(json_string_value(json_object_get(r, "id")));
	json_decref(r);
	free(body);
	return id;
}

/* The status /healthz gives `cluster`. */
static char *cluster_health(const char *cluster)
{
	json_t *h = http_json("GET", "/healthz", NULL, 200), *c;
	char *st = NULL;
	size_t i;

	json_array_foreach(json_object_get(h, "clusters"), i, c)
		if (strcmp(json_string_value(json_object_get(c, "name")), cluster) == 0)
			st = xstrdup(json_string_value(json_object_get(c, "status")));
	json_decref(h);
	assert_non_null(st);
	return st;
}

static void nap(void)
{
	usleep(100 * 1000);
}

/* ---- the API server ---- */

static void make_ns(const char *name)
{
	struct kube_sync s = {0};
	json_t *obj = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
				"metadata", "name", name);

	assert_int_equal(kube_create(kc, &NAMESPACES, NULL, obj, kube_sync_cb, &s, NULL), 0);
	kube_sync_wait(kc, &s, NULL);
	kube_sync_free(&s);
	json_decref(obj);
}

/* True when a SparkApplication of execution `id` exists in namespace n. */
static bool app_exists_in(const char *n, const char *id)
{
	struct kube_sync s = {0};
	char sel[96];
	struct kube_list_opts o = {.label_selector = sel};
	bool found;

	snprintf(sel, sizeof(sel), "spok.dev/execution=%s", id);
	assert_int_equal(kube_list(kc, &SPARK, n, &o, kube_sync_cb, &s, NULL), 0);
	assert_int_equal(kube_sync_wait(kc, &s, NULL), 0);
	found = json_array_size(json_object_get(s.body, "items")) > 0;
	kube_sync_free(&s);
	return found;
}

static bool app_exists(const char *id)
{
	return app_exists_in(ns, id);
}

/* SparkApplications in namespace n. */
static size_t apps_in(const char *n)
{
	struct kube_sync s = {0};
	size_t count;

	assert_int_equal(kube_list(kc, &SPARK, n, NULL, kube_sync_cb, &s, NULL), 0);
	assert_int_equal(kube_sync_wait(kc, &s, NULL), 0);
	count = json_array_size(json_object_get(s.body, "items"));
	kube_sync_free(&s);
	return count;
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
	char ha[65];

	srv_sha256(ADMIN_TOKEN, strlen(ADMIN_TOKEN), h);
	srv_hex(h, 32, ha);
	snprintf(path, sizeof(path), "%s/tokens.yaml", dir);
	text = xasprintf("- {name: admin, token-sha256: %s, admin: true}\n", ha);
	write_file(path, text);
	free(text);
	/* The real API server, with a user whose credential plugin never answers. */
	snprintf(path, sizeof(path), "%s/stuck.kubeconfig", dir);
	text = xasprintf("apiVersion: v1\nkind: Config\ncurrent-context: stuck\n"
			 "clusters: [{name: stuck, cluster: {server: '%s', "
			 "certificate-authority: '%s'}}]\n"
			 "users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1,"
			 " command: '%s/hung-plugin.sh', env: [{name: HUNG_PLUGIN_MARK, value: '%s'}]}}}]\n"
			 "contexts: [{name: stuck, context: {cluster: stuck, user: u}}]\n",
			 getenv("SPOK_TEST_APISERVER"), getenv("SPOK_TEST_CA"), SPOK_SERVER_TEST_DATA,
			 mark);
	write_file(path, text);
	free(text);
	snprintf(cfg_path, sizeof(cfg_path), "%s/config.yaml", dir);
	text = xasprintf("spok:\n  default-image: spark:4.0.5\n  spark-version: 4.0.5\n"
			 "  clusters:\n"
			 "  - {name: good, kubeconfig: '%s', context: admin}\n"
			 "  - {name: stuck, kubeconfig: stuck.kubeconfig, exec-timeout: %d}\n"
			 "  server: {listen: '127.0.0.1:0', tokens-file: tokens.yaml}\n",
			 getenv("KUBECONFIG"), EXEC_TIMEOUT_S);
	write_file(cfg_path, text);
	free(text);
}

static void daemon_start(void)
{
	char spok[512], data[300], logp[300], line[256] = "";
	char *argv[] = {spok, (char *)"serve", (char *)"--config", cfg_path, (char *)"--data-dir",
			data, NULL};
	posix_spawn_file_actions_t fa;
	int pipefd[2];
	FILE *out;

	snprintf(spok, sizeof(spok), "%s/src/cli/spok", getenv("SPOK_BUILD_DIR"));
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(logp, sizeof(logp), "%s/daemon.log", dir);
	assert_int_equal(pipe(pipefd), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, logp, O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_addclose(&fa, pipefd[0]);
	assert_int_equal(posix_spawn(&daemon_pid, spok, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	out = fdopen(pipefd[0], "r");
	if (fgets(line, sizeof(line), out) == NULL ||
	    sscanf(line, "listening on http://127.0.0.1:%u", &port) != 1)
		fail_msg("the daemon did not start (see %s): '%s'", logp, line);
	fclose(out);
}

static void daemon_kill9(void)
{
	int st = 0;

	kill(daemon_pid, SIGKILL);
	assert_int_equal(waitpid(daemon_pid, &st, 0), daemon_pid);
	daemon_pid = -1;
}

static int setup(void **state)
{
	struct kube_config cfg;
	struct spok_err err = {0};

	(void)state;
	spok_test_k8s_env();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(dir, sizeof(dir), "%s/server-loop-test-XXXXXX", getenv("SPOK_BUILD_DIR"));
	assert_non_null(mkdtemp(dir));
	snprintf(ns, sizeof(ns), "loop%x", (unsigned)getpid());
	snprintf(mark, sizeof(mark), "%s/plugin-starts", dir);
	uv_loop_init(&loop);
	if (kube_config_load(&cfg, getenv("KUBECONFIG"), "admin", &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(kube_client_new(&loop, &cfg, NULL, &kc, &err), 0);
	kube_config_free(&cfg);
	make_ns(ns);
	write_config();
	daemon_start();
	return 0;
}

static int teardown(void **state)
{
	int st = 0;

	(void)state;
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		assert_int_equal(waitpid(daemon_pid, &st, 0), daemon_pid);
		/* a clean exit: ASan/LSan found nothing, no plugin left behind to wait for */
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	kube_client_close(kc);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	curl_global_cleanup();
	return 0;
}

/* ---- cases ---- */

/* A raw connection with a logs request written: its answer is read later. */
static int logs_request_open(const char *id)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct timeval tv = {EXEC_TIMEOUT_S * 4, 0};
	char req[512];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int n;

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)); /* a hang fails, not blocks */
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	n = snprintf(req, sizeof(req), "GET /api/v1/executions/%s/logs HTTP/1.1\r\nHost: spok\r\n"
		     "Authorization: Bearer " ADMIN_TOKEN "\r\nConnection: close\r\n\r\n", id);
	assert_int_equal(write(fd, req, (size_t)n), n);
	return fd;
}

static char *read_all(int fd)
{
	size_t len = 0, cap = 4096;
	char *b = xmalloc(cap);
	ssize_t n;

	while ((n = read(fd, b + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 2)
			b = xrealloc(b, cap *= 2);
	}
	b[len] = '\0';
	return b;
}

static void test_hung_plugin_holds_back_only_its_cluster(void **state)
{
	char *stuck_id, *good_id, *st, *answer;
	json_t *j;
	int fd, found = 0;

	(void)state;
	/* The stuck cluster's first probe started the plugin, which hangs. */
	for (int i = 0; i < GUARD_STEPS && access(mark, F_OK) != 0; i++)
		nap();
	assert_int_equal(access(mark, F_OK), 0);
	st = cluster_health("stuck");
	assert_string_equal(st, "unknown");
	free(st);

	/* A submission pinned to stuck is recorded (its create waits for the plugin), and a
	 * driver-log request for it waits too. */
	stuck_id = submit("stuck-one", "stuck");
	fd = logs_request_open(stuck_id);

	/* Meanwhile everything else is answered: health, the list, a submission to good that
	 * gets its SparkApplication on the API server, the execution's status. */
	j = http_json("GET", "/healthz", NULL, 200);
	json_decref(j);
	j = http_json("GET", "/api/v1/executions", NULL, 200);
	assert_true(json_array_size(json_object_get(j, "items")) >= 1);
	json_decref(j);
	good_id = submit("good-one", "good");
	for (int i = 0; i < GUARD_STEPS && !found; i++) {
		found = app_exists(good_id);
		if (!found)
			nap();
	}
	assert_true(found);
	{
		char path[128];

		snprintf(path, sizeof(path), "/api/v1/executions/%s", good_id);
		json_decref(http_json("GET", path, NULL, 200));
	}
	/* ... all before the plugin's timeout: its first probe has not ended yet. */
	st = cluster_health("stuck");
	assert_string_equal(st, "unknown");
	free(st);
	st = cluster_health("good");
	assert_string_equal(st, "up");
	free(st);

	/* The hung plugin is killed at its timeout and what waited for it fails cleanly. */
	answer = read_all(fd);
	close(fd);
	if (strstr(answer, "HTTP/1.1 504") == NULL || strstr(answer, "\"timeout\"") == NULL ||
	    strstr(answer, "did not finish within 25000 ms and was killed") == NULL)
		fail_msg("logs answer: %s", answer);
	assert_null(strstr(answer, ADMIN_TOKEN));
	free(answer);
	for (int i = 0; i < GUARD_STEPS; i++) {
		st = cluster_health("stuck");
		found = strcmp(st, "down") == 0;
		free(st);
		if (found)
			break;
		nap();
	}
	assert_true(found);
	/* The execution pinned to it is still there, waiting (not lost, not created). */
	{
		char path[128];

		snprintf(path, sizeof(path), "/api/v1/executions/%s", stuck_id);
		j = http_json("GET", path, NULL, 200);
		assert_string_equal(json_string_value(json_object_get(j, "phase")), "QUEUED");
		json_decref(j);
	}
	assert_false(app_exists(stuck_id));
	free(stuck_id);
	free(good_id);
}

/* Another process holds the store's write lock: writes answer 503 busy quickly, with
 * Retry-After and no path; reads go on (WAL); the lock gone, writes work again. */
static void test_store_locked(void **state)
{
	char db[400], *body = task_body("locked", "good"), *id;
	sqlite3 *other = NULL;
	struct resp r;
	json_t *j;

	(void)state;
	snprintf(db, sizeof(db), "%s/data/spok.db", dir);
	assert_int_equal(sqlite3_open(db, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

	http("POST", "/api/v1/executions", body, &r);
	if (r.status != 503)
		fail_msg("submit with the store locked: HTTP %ld: %s", r.status, r.body);
	assert_string_equal(r.retry_after, " 1");
	j = json_loads(r.body, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
			    "busy");
	json_decref(j);
	assert_null(strstr(r.body, dir));
	assert_null(strstr(r.body, "spok.db"));
	free(r.body);
	/* reads and health are not held back */
	json_decref(http_json("GET", "/api/v1/executions", NULL, 200));
	json_decref(http_json("GET", "/healthz", NULL, 200));

	assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	id = submit("locked", "good");
	free(id);
	free(body);
}

/* ---- bursts: answers after the loop turn's shared commit ---- */

#define BURST_N 120
#define BURST_CONC 40 /* under spok.server.max-connections-per-ip (64) */

struct burst_req {
	CURL *h;
	struct resp r;
	struct curl_slist *hdrs;
};

/* POSTs bodies[0..n) to the daemon, conc at once (each its own connection); status[i] and
 * answer[i] (heap) are request i's. */
static void burst(char **bodies, size_t n, size_t conc, long *status, char **answer)
{
	CURLM *m = curl_multi_init();
	struct burst_req *rq = xcalloc(n, sizeof(*rq));
	size_t next = 0, done = 0;
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/api/v1/executions", port);
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conc);
	while (done < n) {
		int running = 0, left = 0;
		CURLMsg *msg;

		for (; next < n && next - done < conc; next++) {
			struct burst_req *b = &rq[next];

			b->h = curl_easy_init();
			b->hdrs = curl_slist_append(NULL, "Authorization: Bearer " ADMIN_TOKEN);
			b->hdrs = curl_slist_append(b->hdrs, "Content-Type: application/json");
			b->hdrs = curl_slist_append(b->hdrs, "Expect:");
			curl_easy_setopt(b->h, CURLOPT_URL, url);
			curl_easy_setopt(b->h, CURLOPT_HTTPHEADER, b->hdrs);
			curl_easy_setopt(b->h, CURLOPT_POSTFIELDS, bodies[next]);
			curl_easy_setopt(b->h, CURLOPT_WRITEFUNCTION, on_data);
			curl_easy_setopt(b->h, CURLOPT_WRITEDATA, &b->r);
			curl_easy_setopt(b->h, CURLOPT_PRIVATE, b);
			curl_easy_setopt(b->h, CURLOPT_TIMEOUT, 120L);
			curl_multi_add_handle(m, b->h);
		}
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			struct burst_req *b = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&b);
			if (msg->data.result != CURLE_OK)
				fail_msg("burst request %zu: %s", (size_t)(b - rq),
					 curl_easy_strerror(msg->data.result));
			curl_easy_getinfo(b->h, CURLINFO_RESPONSE_CODE, &b->r.status);
			status[b - rq] = b->r.status;
			answer[b - rq] = b->r.body;
			curl_multi_remove_handle(m, b->h);
			curl_easy_cleanup(b->h);
			curl_slist_free_all(b->hdrs);
			done++;
		}
		if (done < n)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	curl_multi_cleanup(m);
	free(rq);
}

static char *burst_body(const char *name, const char *namespace_, const char *key)
{
	json_t *b = json_pack("{s:{s:s,s:s,s:s,s:s},s:s,s:s}", "task", "name", name, "project", "ml",
			      "type", "python", "mainApplicationFile",
			      "local:///opt/spark/examples/src/main/python/pi.py",
			      "namespace", namespace_, "cluster", "good");
	char *s;

	if (key)
		json_object_set_new(b, "idempotencyKey", json_string(key));
	s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	return s;
}

static sqlite3 *store_open(void)
{
	char db[400];
	sqlite3 *s = NULL;

	snprintf(db, sizeof(db), "%s/data/spok.db", dir);
	assert_int_equal(sqlite3_open(db, &s), SQLITE_OK);
	sqlite3_busy_timeout(s, 10000);
	return s;
}

/* Rows of the store (read by another process, so only what was committed) with this id. */
static int rows_with_id(sqlite3 *s, const char *id)
{
	sqlite3_stmt *st = NULL;
	int n;

	assert_int_equal(sqlite3_prepare_v2(s, "SELECT count(*) FROM executions WHERE id = ?", -1,
					    &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Entries of directory path, but . and .. */
static size_t files_in(const char *path)
{
	DIR *dd = opendir(path);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(dd);
	while ((de = readdir(dd)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(dd);
	return n;
}

/* A burst of concurrent submissions (every fourth pair sharing an idempotency key) is
 * answered after the commits the loop turns share: every answer is a 2xx with an id, a
 * repeated key the same id, and every id answered is durable: kill -9 right after the last
 * answer, and another process finds each row; restarted, the daemon creates each
 * execution's one SparkApplication. */
static void test_burst_durable(void **state)
{
	char *bodies[BURST_N], *answer[BURST_N] = {0}, ids[BURST_N][40], bns[80];
	long status[BURST_N] = {0};
	sqlite3 *s;

	(void)state;
	snprintf(bns, sizeof(bns), "%s-burst", ns);
	make_ns(bns);
	for (size_t i = 0; i < BURST_N; i++) {
		char key[32];

		snprintf(key, sizeof(key), "burst-%zu", i / 2);
		bodies[i] = burst_body("burst", bns, i % 8 < 2 ? key : NULL);
	}
	burst(bodies, BURST_N, BURST_CONC, status, answer);
	for (size_t i = 0; i < BURST_N; i++) {
		json_t *j = json_loads(answer[i] ? answer[i] : "", 0, NULL);
		const char *id = json_string_value(json_object_get(j, "id"));

		if ((status[i] != 201 && status[i] != 200) || id == NULL)
			fail_msg("burst submission %zu: HTTP %ld: %s", i, status[i], answer[i]);
		snprintf(ids[i], sizeof(ids[i]), "%s", id);
		json_decref(j);
	}
	daemon_kill9();
	s = store_open();
	for (size_t i = 0; i < BURST_N; i++) {
		if (i % 8 == 1)
			assert_string_equal(ids[i], ids[i - 1]); /* the same key, the same execution */
		else if (i > 0)
			assert_string_not_equal(ids[i], ids[i - 1]);
		if (rows_with_id(s, ids[i]) != 1)
			fail_msg("submission %zu was answered with %s, which the store does not hold",
				 i, ids[i]);
	}
	sqlite3_close(s);
	daemon_start();
	for (size_t i = 0; i < BURST_N; i++) {
		for (int step = 0; !app_exists_in(bns, ids[i]); step++) {
			if (step > GUARD_STEPS)
				fail_msg("no SparkApplication for %s", ids[i]);
			nap();
		}
		free(bodies[i]);
		free(answer[i]);
	}
}

/* A commit that fails (a deferred foreign key, checked only at COMMIT, put into the store by
 * another process) fails every submission whose row it held: each answer is an error
 * without the store's path, no row and no SparkApplication exist, no task source is left;
 * without the trap, submissions work again. */
static void test_commit_fails(void **state)
{
	char *bodies[8], *answer[8] = {0}, fns[80], tasks[400];
	long status[8] = {0};
	sqlite3 *s = store_open();
	sqlite3_stmt *st = NULL;
	size_t before;
	char *id;

	(void)state;
	snprintf(fns, sizeof(fns), "%s-doomed", ns);
	make_ns(fns);
	snprintf(tasks, sizeof(tasks), "%s/data/server/tasks", dir);
	before = files_in(tasks);
	assert_int_equal(sqlite3_exec(s,
		"CREATE TABLE trap_target(id INTEGER PRIMARY KEY);"
		"CREATE TABLE trap(x INTEGER REFERENCES trap_target(id) DEFERRABLE INITIALLY DEFERRED);"
		"CREATE TRIGGER trap_insert AFTER INSERT ON executions WHEN NEW.task_name = 'doomed' "
		"BEGIN INSERT INTO trap VALUES (1); END;", NULL, NULL, NULL), SQLITE_OK);
	for (size_t i = 0; i < 8; i++)
		bodies[i] = burst_body("doomed", fns, NULL);
	burst(bodies, 8, 8, status, answer);
	for (size_t i = 0; i < 8; i++) {
		if (status[i] < 500)
			fail_msg("doomed submission %zu: HTTP %ld: %s", i, status[i], answer[i]);
		assert_non_null(strstr(answer[i], "\"error\""));
		assert_null(strstr(answer[i], "spok.db"));
		assert_null(strstr(answer[i], "sp-"));
		free(bodies[i]);
		free(answer[i]);
	}
	assert_int_equal(sqlite3_prepare_v2(s, "SELECT count(*) FROM executions WHERE task_name = "
					    "'doomed'", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	assert_int_equal(apps_in(fns), 0);
	assert_int_equal(files_in(tasks), before);
	assert_int_equal(sqlite3_exec(s, "DROP TRIGGER trap_insert; DROP TABLE trap; "
				      "DROP TABLE trap_target;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(s);
	id = submit("after-trap", "good");
	free(id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hung_plugin_holds_back_only_its_cluster),
		cmocka_unit_test(test_store_locked),
		cmocka_unit_test(test_commit_fails),
		cmocka_unit_test(test_burst_durable),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
