/* test_k8s.c - the kube client against a real kube-apiserver + etcd (ctest fixture `k8s`).
 *
 * Reads $SPOK_K8S_ENV (KEY=VALUE lines written by scripts/k8s up). Every object lives in a
 * namespace unique to this run. How the 410 is forced: the API server's watch cache is
 * primed from a list at the current revision, so a watch from resourceVersion=1 is always
 * older than its window and the server answers with an ERROR event carrying code 410
 * ("too old resource version") - the same path as real expiry after compaction.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "kube/stream.h"
#include "kube/watch.h"
#include "k8s_env.h"

static const struct kube_gvr SPARK = {"sparkoperator.k8s.io", "v1beta2", "sparkapplications"};
static const struct kube_gvr NAMESPACES = {"", "v1", "namespaces"};
static char ns[64];
static char tmpdir[128];
static uv_loop_t loop;

static struct kube_client *client_for(const char *context, const struct kube_client_opts *o)
{
	struct kube_config cfg;
	struct kube_client *c;
	struct spok_err err = {0};

	if (kube_config_load(&cfg, getenv("KUBECONFIG"), context, &err) != 0)
		fail_msg("%s", err.msg);
	if (kube_client_new(&loop, &cfg, o, &c, &err) != 0)
		fail_msg("%s", err.msg);
	kube_config_free(&cfg);
	return c;
}

static void client_done(struct kube_client *c)
{
	kube_client_close(c);
	uv_run(&loop, UV_RUN_DEFAULT);
}

static json_t *spark_app(const char *name, const char *label)
{
	return json_pack("{s:s,s:s,s:{s:s,s:{s:s}},s:{s:s,s:s,s:s,s:s,s:s,s:{s:s},s:{s:i,s:s},"
			 "s:{s:i,s:i,s:s}}}",
			 "apiVersion", "sparkoperator.k8s.io/v1beta2", "kind", "SparkApplication",
			 "metadata", "name", name, "labels", "spok.io/test", label,
			 "spec", "type", "Python", "mode", "cluster", "sparkVersion", "4.0.5",
			 "image", "spark:4.0.5", "mainApplicationFile",
			 "local:///opt/spark/examples/src/main/python/pi.py",
			 "restartPolicy", "type", "Never",
			 "driver", "cores", 1, "memory", "512m",
			 "executor", "instances", 1, "cores", 1, "memory", "512m");
}

/* Runs one call to completion; returns its code, keeps the body in *s. */
#define SYNC(s, call) (memset(&(s), 0, sizeof(s)), \
		       assert_int_equal((call), 0), kube_sync_wait(cli, &(s), NULL))

static int setup(void **state)
{
	struct kube_client *cli;
	struct kube_sync s;
	json_t *obj;

	(void)state;
	spok_test_k8s_env();
	uv_loop_init(&loop);
	snprintf(ns, sizeof(ns), "spok-kube-%ld", (long)getpid());
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/spok-kube-k8s-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	cli = client_for("admin", NULL);
	obj = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata",
			"name", ns);
	SYNC(s, kube_create(cli, &NAMESPACES, NULL, obj, kube_sync_cb, &s, NULL));
	if (s.code != 0 && s.code != SPOK_ECONFLICT)
		fail_msg("%s", s.message);
	kube_sync_free(&s);
	json_decref(obj);
	client_done(cli);
	return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int teardown(void **state)
{
	(void)state;
	nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	/* The namespace stays (no namespace controller runs); the fixture is torn down. */
	assert_int_equal(uv_loop_close(&loop), 0);
	return 0;
}

static const char *str_at(const json_t *j, const char *a, const char *b)
{
	return json_string_value(json_object_get(json_object_get(j, a), b));
}

static void test_crud(void **state)
{
	struct kube_client *cli = client_for("admin", NULL);
	json_t *app = spark_app("crud", "crud"), *patch, *status;
	struct kube_sync s;
	char uid[128];

	(void)state;
	SYNC(s, kube_create(cli, &SPARK, ns, app, kube_sync_cb, &s, NULL));
	assert_int_equal(s.code, 0);
	assert_int_equal(s.http_status, 201);
	snprintf(uid, sizeof(uid), "%s", str_at(s.body, "metadata", "uid"));
	kube_sync_free(&s);

	/* Duplicate create: 409 with the API's message. */
	assert_int_equal(SYNC(s, kube_create(cli, &SPARK, ns, app, kube_sync_cb, &s, NULL)),
			 SPOK_ECONFLICT);
	assert_non_null(strstr(s.message, "POST /apis/sparkoperator.k8s.io/v1beta2/namespaces/"));
	assert_non_null(strstr(s.message, "sparkapplications.sparkoperator.k8s.io \"crud\" already "
			       "exists (HTTP 409)"));
	kube_sync_free(&s);

	assert_int_equal(SYNC(s, kube_get(cli, &SPARK, ns, "crud", kube_sync_cb, &s, NULL)), 0);
	assert_string_equal(str_at(s.body, "spec", "type"), "Python");
	kube_sync_free(&s);

	/* Outcome only: a success has no body to read; an error is still explained. */
	assert_int_equal(SYNC(s, kube_create_outcome(cli, &SPARK, ns, app, kube_sync_cb, &s, NULL)),
			 SPOK_ECONFLICT);
	assert_non_null(strstr(s.message, "\"crud\" already exists (HTTP 409)"));
	kube_sync_free(&s);
	patch = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "quiet", "yes");
	assert_int_equal(SYNC(s, kube_patch_merge_outcome(cli, &SPARK, ns, "crud", NULL, patch,
							   kube_sync_cb, &s, NULL)), 0);
	assert_int_equal(s.http_status, 200);
	assert_null(s.body);
	kube_sync_free(&s);
	json_decref(patch);

	/* Server-side apply: changes a field, keeps ownership under "spok". */
	json_object_set_new(json_object_get(app, "spec"), "sparkVersion", json_string("4.0.6"));
	assert_int_equal(SYNC(s, kube_apply(cli, &SPARK, ns, "crud", NULL, app, kube_sync_cb, &s,
					     NULL)), 0);
	assert_string_equal(str_at(s.body, "spec", "sparkVersion"), "4.0.6");
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(
		json_object_get(s.body, "metadata"), "managedFields"), 0), "manager")), "spok");
	kube_sync_free(&s);

	patch = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "extra", "yes");
	assert_int_equal(SYNC(s, kube_patch_merge(cli, &SPARK, ns, "crud", NULL, patch, kube_sync_cb,
						   &s, NULL)), 0);
	assert_string_equal(str_at(json_object_get(s.body, "metadata"), "labels", "extra"), "yes");
	kube_sync_free(&s);
	json_decref(patch);

	/* Play the operator: write status through the subresource. */
	status = json_pack("{s:{s:s},s:s}", "applicationState", "state", "RUNNING",
			   "sparkApplicationId", "spark-123");
	assert_int_equal(SYNC(s, kube_patch_status(cli, &SPARK, ns, "crud", status, kube_sync_cb, &s,
						    NULL)), 0);
	kube_sync_free(&s);
	json_decref(status);
	assert_int_equal(SYNC(s, kube_get(cli, &SPARK, ns, "crud", kube_sync_cb, &s, NULL)), 0);
	assert_string_equal(str_at(json_object_get(s.body, "status"), "applicationState", "state"),
			    "RUNNING");
	kube_sync_free(&s);

	/* A wrong UID precondition is a conflict; the right one deletes. */
	assert_int_equal(SYNC(s, kube_delete(cli, &SPARK, ns, "crud", "Background",
					      "00000000-0000-0000-0000-000000000000", kube_sync_cb,
					      &s, NULL)), SPOK_ECONFLICT);
	if (strstr(s.message, "recondition") == NULL)
		fail_msg("%s", s.message);
	kube_sync_free(&s);
	assert_int_equal(SYNC(s, kube_delete(cli, &SPARK, ns, "crud", "Background", uid,
					      kube_sync_cb, &s, NULL)), 0);
	kube_sync_free(&s);
	assert_int_equal(SYNC(s, kube_get(cli, &SPARK, ns, "crud", kube_sync_cb, &s, NULL)),
			 SPOK_ENOTFOUND);
	assert_non_null(strstr(s.message, "\"crud\" not found (HTTP 404)"));
	kube_sync_free(&s);
	json_decref(app);
	client_done(cli);
}

static void test_list_pages(void **state)
{
	struct kube_client *cli = client_for("admin", NULL);
	struct kube_list_opts lo = {"spok.io/test=page", NULL, 2, NULL, 0};
	struct kube_sync s;
	char name[32];

	(void)state;
	for (int i = 0; i < 5; i++) {
		json_t *app;

		snprintf(name, sizeof(name), "page-%d", i);
		app = spark_app(name, "page");
		assert_int_equal(SYNC(s, kube_create(cli, &SPARK, ns, app, kube_sync_cb, &s, NULL)), 0);
		kube_sync_free(&s);
		json_decref(app);
	}
	assert_int_equal(SYNC(s, kube_list(cli, &SPARK, ns, &lo, kube_sync_cb, &s, NULL)), 0);
	assert_int_equal(json_array_size(json_object_get(s.body, "items")), 5);
	assert_int_equal(json_integer_value(json_object_get(s.body, "pages")), 3);
	assert_non_null(str_at(s.body, "metadata", "resourceVersion"));
	kube_sync_free(&s);
	client_done(cli);
}

/* ---- watch ---- */

struct watch_run {
	struct kube_client *cli;
	struct kube_watch *w;
	int added, modified, deleted, bookmarks, relists, errors;
	bool acted_add, acted_mod, acted_del, stopped;
	struct kube_watch_stats st; /* taken just before the stop */
	uv_timer_t guard;
};

static void ignore_done(void *data, const struct kube_resp *r)
{
	(void)data;
	if (r->code != 0)
		fail_msg("%s", r->message);
}

static void watch_maybe_stop(struct watch_run *wr)
{
	struct kube_watch_stats st;

	kube_watch_stats(wr->w, &st);
	if (wr->deleted > 0 && wr->bookmarks > 0 && st.connects >= 2 && !wr->stopped) {
		wr->st = st;
		wr->stopped = true;
		kube_watch_stop(wr->w);
		uv_close((uv_handle_t *)&wr->guard, NULL);
	}
}

/* Each step is driven by the event of the previous one, so nothing depends on timing. */
static void on_watch_event(void *data, const struct kube_event *ev)
{
	struct watch_run *wr = data;
	const char *name = str_at(ev->object, "metadata", "name");
	json_t *app = spark_app("watched", "watch"), *patch;

	switch (ev->type) {
	case KUBE_EVENT_RELIST:
		wr->relists++;
		if (!wr->acted_add) {
			wr->acted_add = true;
			assert_int_equal(kube_create(wr->cli, &SPARK, ns, app, ignore_done, NULL, NULL), 0);
		}
		break;
	case KUBE_EVENT_ADDED:
		assert_string_equal(name, "watched");
		wr->added++;
		if (!wr->acted_mod) {
			wr->acted_mod = true;
			patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", "a", "b");
			assert_int_equal(kube_patch_merge(wr->cli, &SPARK, ns, "watched", NULL, patch,
							  ignore_done, NULL, NULL), 0);
			json_decref(patch);
		}
		break;
	case KUBE_EVENT_MODIFIED:
		wr->modified++;
		if (!wr->acted_del) {
			wr->acted_del = true;
			assert_int_equal(kube_delete(wr->cli, &SPARK, ns, "watched", NULL, NULL,
						     ignore_done, NULL, NULL), 0);
		}
		break;
	case KUBE_EVENT_DELETED:
		wr->deleted++;
		break;
	case KUBE_EVENT_BOOKMARK:
		assert_non_null(ev->resource_version);
		wr->bookmarks++;
		break;
	case KUBE_EVENT_ERROR:
		wr->errors++;
		break;
	}
	json_decref(app);
	watch_maybe_stop(wr);
}

static void on_guard(uv_timer_t *t)
{
	struct watch_run *wr = t->data;

	fail_msg("watch did not finish: added %d modified %d deleted %d bookmarks %d relists %d "
		 "errors %d", wr->added, wr->modified, wr->deleted, wr->bookmarks, wr->relists,
		 wr->errors);
}

static void start_guard(struct watch_run *wr)
{
	uv_timer_init(&loop, &wr->guard);
	wr->guard.data = wr;
	uv_timer_start(&wr->guard, on_guard, 120000, 0);
}

/* ADDED/MODIFIED/DELETED arrive; with timeoutSeconds=5 the server sends a bookmark shortly
 * before it ends the stream, and the watch reconnects from the last resourceVersion. */
static void test_watch_events(void **state)
{
	struct watch_run wr = {0};
	struct kube_watch_opts wo = {.label_selector = "spok.io/test=watch", .timeout_s = 5};
	struct kube_watch_stats st;
	struct spok_err err;

	(void)state;
	wr.cli = client_for("admin", NULL);
	start_guard(&wr);
	assert_int_equal(kube_watch_start(wr.cli, &SPARK, ns, &wo, on_watch_event, &wr, &wr.w, &err), 0);
	while (!wr.stopped)
		uv_run(&loop, UV_RUN_ONCE);
	st = wr.st;
	assert_true(st.connects >= 2);
	assert_true(st.bookmarks >= 1);
	assert_int_equal(wr.relists, 1);
	assert_int_equal(wr.added, 1);
	assert_true(wr.modified >= 1);
	assert_int_equal(wr.deleted, 1);
	assert_true(wr.bookmarks >= 1);
	assert_int_equal(wr.errors, 0);
	client_done(wr.cli);
}

struct relist_run {
	struct kube_watch *w;
	int relists;
	bool stopped;
	struct kube_watch_stats st;
};

static void on_relist_event(void *data, const struct kube_event *ev)
{
	struct relist_run *rr = data;

	if (ev->type == KUBE_EVENT_RELIST) {
		rr->relists++;
		assert_true(json_is_array(json_object_get(ev->object, "items")));
		assert_non_null(ev->resource_version);
		rr->stopped = true;
		kube_watch_stats(rr->w, &rr->st);
		kube_watch_stop(rr->w);
	}
}

/* paged_relist: the 5 objects of test_list_pages arrive two per event, in page order, then
 * an event without items closes the list and carries its resourceVersion. */
struct paged_run {
	struct kube_watch *w;
	int pages, items, last_index;
	bool ended;
};

static void on_paged_event(void *data, const struct kube_event *ev)
{
	struct paged_run *pr = data;
	size_t n;

	if (ev->type != KUBE_EVENT_RELIST)
		return;
	n = json_array_size(json_object_get(ev->object, "items"));
	if (ev->more) {
		assert_int_equal(ev->page, pr->pages);
		assert_true(n >= 1 && n <= 2);
		pr->pages++;
		pr->items += (int)n;
		return;
	}
	assert_int_equal(n, 0);
	assert_non_null(ev->resource_version);
	pr->last_index = ev->page;
	pr->ended = true;
	kube_watch_stop(pr->w);
}

static void test_watch_paged_relist(void **state)
{
	struct kube_client *cli = client_for("admin", NULL);
	struct kube_watch_opts wo = {.label_selector = "spok.io/test=page", .timeout_s = 30,
				     .list_limit = 2, .paged_relist = true};
	struct paged_run pr = {0};
	struct spok_err err;

	(void)state;
	assert_int_equal(kube_watch_start(cli, &SPARK, ns, &wo, on_paged_event, &pr, &pr.w, &err), 0);
	while (!pr.ended)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(pr.pages, 3);
	assert_int_equal(pr.items, 5);
	assert_int_equal(pr.last_index, 3);
	client_done(cli);
}

static void test_watch_relist_on_410(void **state)
{
	struct kube_client *cli = client_for("admin", NULL);
	struct kube_watch_opts wo = {.resource_version = "1", .timeout_s = 30, .list_limit = 2};
	struct relist_run rr = {0};
	struct kube_watch_stats st;
	struct spok_err err;

	(void)state;
	assert_int_equal(kube_watch_start(cli, &SPARK, ns, &wo, on_relist_event, &rr, &rr.w, &err), 0);
	while (!rr.stopped)
		uv_run(&loop, UV_RUN_ONCE);
	st = rr.st;
	assert_int_equal(st.gone, 1);
	assert_int_equal(st.relists, 1);
	assert_int_equal(rr.relists, 1);
	client_done(cli);
}

/* ---- auth forms ---- */

static int list_code(struct kube_client *cli, char *msg, size_t n)
{
	struct kube_list_opts lo = {NULL, NULL, 1, NULL, 0};
	struct kube_sync s;
	int code = SYNC(s, kube_list(cli, &SPARK, ns, &lo, kube_sync_cb, &s, NULL));

	snprintf(msg, n, "%s", s.message);
	kube_sync_free(&s);
	return code;
}

static void test_auth_forms(void **state)
{
	static const char *const ok[] = {"admin", "admin-token", "admin-insecure"};
	char msg[SPOK_ERR_MSG_MAX];

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct kube_client *cli = client_for(ok[i], NULL);

		if (list_code(cli, msg, sizeof(msg)) != 0)
			fail_msg("context %s: %s", ok[i], msg);
		client_done(cli);
	}
	{
		struct kube_client *cli = client_for("user", NULL);

		assert_int_equal(list_code(cli, msg, sizeof(msg)), SPOK_EFORBIDDEN);
		assert_non_null(strstr(msg, "is forbidden: User \"spok-user\" cannot list resource "
				       "\"sparkapplications\""));
		assert_non_null(strstr(msg, "(HTTP 403)"));
		client_done(cli);
	}
}

/* Without the CA the server certificate must be refused (TLS verified by default). */
static void test_tls_verified(void **state)
{
	struct kube_config cfg = {0};
	struct kube_client *cli;
	struct spok_err err;
	char msg[SPOK_ERR_MSG_MAX];

	(void)state;
	cfg.server = xstrdup(getenv("SPOK_TEST_APISERVER"));
	cfg.token = xstrdup("x");
	assert_int_equal(kube_client_new(&loop, &cfg, NULL, &cli, &err), 0);
	assert_int_equal(list_code(cli, msg, sizeof(msg)), SPOK_EUNAVAIL);
	assert_non_null(strstr(msg, "certificate"));
	assert_null(strstr(msg, "Bearer"));
	client_done(cli);
	kube_config_free(&cfg);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *slurp(const char *path)
{
	char *tok = NULL;

	assert_int_equal(kube_read_token_file(path, &tok, NULL), 0);
	return tok;
}

/* tokenFile: a token that stops working (401) makes the client re-read the file. */
static void test_token_file_reread(void **state)
{
	char *tf = xasprintf("%s/token", tmpdir), *kc = xasprintf("%s/kc.json", tmpdir);
	char *admin = slurp(getenv("SPOK_TEST_ADMIN_TOKEN_FILE"));
	char *text = xasprintf("{\"current-context\":\"t\",\"clusters\":[{\"name\":\"c\",\"cluster\":"
			       "{\"server\":\"%s\",\"certificate-authority\":\"%s\"}}],\"users\":"
			       "[{\"name\":\"u\",\"user\":{\"tokenFile\":\"%s\"}}],\"contexts\":"
			       "[{\"name\":\"t\",\"context\":{\"cluster\":\"c\",\"user\":\"u\"}}]}",
			       getenv("SPOK_TEST_APISERVER"), getenv("SPOK_TEST_CA"), tf);
	struct kube_client_stats st;
	struct kube_config cfg;
	struct kube_client *cli;
	struct spok_err err;
	char msg[SPOK_ERR_MSG_MAX];

	(void)state;
	write_text(kc, text);
	write_text(tf, "not-a-valid-token\n");
	assert_int_equal(kube_config_load(&cfg, kc, NULL, &err), 0);
	assert_int_equal(kube_client_new(&loop, &cfg, NULL, &cli, &err), 0);
	assert_int_equal(list_code(cli, msg, sizeof(msg)), SPOK_EFORBIDDEN);
	assert_non_null(strstr(msg, "Unauthorized (HTTP 401)"));
	kube_client_stats(cli, &st);
	assert_int_equal(st.token_reads, 2); /* first use, then once more after the 401 */

	write_text(tf, admin);                /* rotated mid-test */
	assert_int_equal(list_code(cli, msg, sizeof(msg)), 0);
	kube_client_stats(cli, &st);
	assert_int_equal(st.token_reads, 3);
	client_done(cli);
	kube_config_free(&cfg);
	kube_secret_free(admin);
	free(text);
	free(tf);
	free(kc);
}

/* A kubeconfig whose user is data/exec-plugin.sh printing the token in <tmpdir>/exectoken,
 * valid for `expires_in` seconds. */
static struct kube_client *exec_client(const char *expires_in)
{
	char *kc = xasprintf("%s/kc-exec.json", tmpdir);
	char *text = xasprintf("{\"current-context\":\"t\",\"clusters\":[{\"name\":\"c\",\"cluster\":"
			       "{\"server\":\"%s\",\"certificate-authority\":\"%s\"}}],\"users\":"
			       "[{\"name\":\"u\",\"user\":{\"exec\":{\"apiVersion\":"
			       "\"client.authentication.k8s.io/v1\",\"command\":\"%s/exec-plugin.sh\","
			       "\"args\":[\"token\"],\"provideClusterInfo\":true,\"env\":["
			       "{\"name\":\"PLUGIN_TOKEN_FILE\",\"value\":\"%s/exectoken\"},"
			       "{\"name\":\"PLUGIN_EXPIRES_IN\",\"value\":\"%s\"}]}}}],\"contexts\":"
			       "[{\"name\":\"t\",\"context\":{\"cluster\":\"c\",\"user\":\"u\"}}]}",
			       getenv("SPOK_TEST_APISERVER"), getenv("SPOK_TEST_CA"),
			       SPOK_KUBE_TEST_DATA, tmpdir, expires_in);
	struct kube_config cfg;
	struct kube_client *cli;
	struct spok_err err;

	write_text(kc, text);
	if (kube_config_load(&cfg, kc, NULL, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(kube_client_new(&loop, &cfg, NULL, &cli, &err), 0);
	kube_config_free(&cfg);
	free(text);
	free(kc);
	return cli;
}

static uint64_t exec_runs(struct kube_client *cli)
{
	struct kube_client_stats st;

	kube_client_stats(cli, &st);
	return st.exec_runs;
}

/* exec plugin: its token authenticates, is cached while valid, and a 401 makes the client
 * run the plugin once more (the token rotated under a still-valid expiry). */
static void test_exec_plugin(void **state)
{
	char *tf = xasprintf("%s/exectoken", tmpdir);
	char *admin = slurp(getenv("SPOK_TEST_ADMIN_TOKEN_FILE"));
	char msg[SPOK_ERR_MSG_MAX];
	struct kube_client *cli;

	(void)state;
	write_text(tf, admin);
	cli = exec_client("3600");
	assert_int_equal(list_code(cli, msg, sizeof(msg)), 0);
	assert_int_equal(list_code(cli, msg, sizeof(msg)), 0);
	assert_int_equal(exec_runs(cli), 1);
	client_done(cli);

	write_text(tf, "not-a-valid-token\n");
	cli = exec_client("3600");
	assert_int_equal(list_code(cli, msg, sizeof(msg)), SPOK_EFORBIDDEN);
	assert_non_null(strstr(msg, "Unauthorized (HTTP 401)"));
	assert_int_equal(exec_runs(cli), 2); /* first use, then once more after the 401 */
	write_text(tf, admin);                /* rotated; the cached one still claims validity */
	assert_int_equal(list_code(cli, msg, sizeof(msg)), 0);
	assert_int_equal(exec_runs(cli), 3);
	client_done(cli);
	kube_secret_free(admin);
	free(tf);
}

/* One request (a list may take several pages): GET of the test's namespace. */
static int get_ns_code(struct kube_client *cli)
{
	struct kube_sync s;
	int code = SYNC(s, kube_get(cli, &NAMESPACES, NULL, ns, kube_sync_cb, &s, NULL));

	kube_sync_free(&s);
	return code;
}

/* exec plugin rotation by expiry: a credential inside the refresh slack is fetched again
 * before the next request, so a token that changed is picked up without a 401 first. */
static void test_exec_plugin_expiry(void **state)
{
	char *tf = xasprintf("%s/exectoken", tmpdir);
	char *admin = slurp(getenv("SPOK_TEST_ADMIN_TOKEN_FILE"));
	struct kube_client *cli;

	(void)state;
	write_text(tf, admin);
	cli = exec_client("5"); /* expires 5 s ahead: inside the slack, so already due */
	assert_int_equal(get_ns_code(cli), 0);
	assert_int_equal(exec_runs(cli), 1);
	write_text(tf, "not-a-valid-token\n");
	/* Fetched again because it expired (not because of a 401), then once after the 401. */
	assert_int_equal(get_ns_code(cli), SPOK_EFORBIDDEN);
	assert_int_equal(exec_runs(cli), 3);
	write_text(tf, admin);
	assert_int_equal(get_ns_code(cli), 0);
	assert_int_equal(exec_runs(cli), 4);
	client_done(cli);
	kube_secret_free(admin);
	free(tf);
}

/* In-cluster: a real ServiceAccount token from the TokenRequest API in a fake SA dir. */
static void test_in_cluster(void **state)
{
	static const struct kube_gvr SAS = {"", "v1", "serviceaccounts"};
	struct kube_client *cli = client_for("admin", NULL), *sa;
	struct kube_config cfg;
	struct kube_sync s;
	struct spok_err err;
	json_t *obj;
	char *dir = xasprintf("%s/sa", tmpdir), *p, *port;
	const char *tok;

	(void)state;
	obj = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "ServiceAccount",
			"metadata", "name", "spok-sa");
	assert_int_equal(SYNC(s, kube_create(cli, &SAS, ns, obj, kube_sync_cb, &s, NULL)), 0);
	kube_sync_free(&s);
	json_decref(obj);
	{
		char *path = xasprintf("/api/v1/namespaces/%s/serviceaccounts/spok-sa/token", ns);
		static const char body[] = "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":"
			"\"TokenRequest\",\"spec\":{\"expirationSeconds\":3600}}";
		struct kube_req req = {"POST", path, NULL, NULL, body, sizeof(body) - 1, false, NULL, false, 0};

		assert_int_equal(SYNC(s, kube_request(cli, &req, kube_sync_cb, &s, NULL)), 0);
		free(path);
	}
	tok = str_at(s.body, "status", "token");
	assert_non_null(tok);
	mkdir(dir, 0700);
	p = xasprintf("%s/token", dir);
	write_text(p, tok);
	free(p);
	kube_sync_free(&s);
	p = xasprintf("%s/namespace", dir);
	write_text(p, ns);
	free(p);
	p = xasprintf("%s/ca.crt", dir);
	/* Copy the CA bundle the fixture wrote. */
	{
		FILE *in = fopen(getenv("SPOK_TEST_CA"), "r"), *out = fopen(p, "w");
		char buf[4096];
		size_t n;

		assert_non_null(in);
		assert_non_null(out);
		while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
			fwrite(buf, 1, n, out);
		fclose(in);
		fclose(out);
	}
	free(p);
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	port = xstrdup(getenv("SPOK_TEST_APISERVER_PORT"));
	setenv("KUBERNETES_SERVICE_PORT", port, 1);
	assert_int_equal(kube_config_in_cluster(&cfg, dir, &err), 0);
	assert_string_equal(cfg.namespace, ns);
	assert_int_equal(kube_client_new(&loop, &cfg, NULL, &sa, &err), 0);
	{
		/* Who am I? The API server answers from the token's identity. */
		static const char body[] = "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":"
			"\"SelfSubjectReview\"}";
		struct kube_req req = {"POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", NULL,
				       NULL, body, sizeof(body) - 1, false, NULL, false, 0};
		char *want = xasprintf("system:serviceaccount:%s:spok-sa", ns);

		memset(&s, 0, sizeof(s));
		assert_int_equal(kube_request(sa, &req, kube_sync_cb, &s, NULL), 0);
		if (kube_sync_wait(sa, &s, &err) != 0)
			fail_msg("%s", err.msg);
		assert_string_equal(str_at(json_object_get(s.body, "status"), "userInfo", "username"),
				    want);
		free(want);
		kube_sync_free(&s);
	}
	client_done(sa);
	client_done(cli);
	kube_config_free(&cfg);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	free(port);
	free(dir);
}

/* The token bucket against the real server: burst 2 -> 4 of 6 requests waited. */
static void test_qps_real(void **state)
{
	struct kube_client_opts o = {.qps = 20, .burst = 2};
	struct kube_client *cli = client_for("admin", &o);
	struct kube_req req = {"GET", "/version", NULL, NULL, NULL, 0, false, NULL, false, 0};
	struct kube_sync s[6];
	struct kube_client_stats st;

	(void)state;
	memset(s, 0, sizeof(s));
	for (int i = 0; i < 6; i++)
		assert_int_equal(kube_request(cli, &req, kube_sync_cb, &s[i], NULL), 0);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(kube_sync_wait(cli, &s[i], NULL), 0);
		assert_non_null(json_object_get(s[i].body, "gitVersion"));
		kube_sync_free(&s[i]);
	}
	kube_client_stats(cli, &st);
	assert_int_equal(st.sent, 6);
	assert_int_equal(st.throttled, 4);
	client_done(cli);
}

/* kube_raw_get (`spok ui`'s transport): any answer comes back as it is, head first, then the
 * body; a 404 is not an error; a HEAD answer has a head and no body; a trailing '/' is allowed. */
struct raw_out {
	bool done, head;
	long status;
	char ctype[128];
	struct spok_buf body;
	struct kube_stream_result res;
};

static bool raw_head(void *data, const struct kube_raw_head *h)
{
	struct raw_out *o = data;
	const char *ct = kube_raw_header(h, "content-type");

	assert_false(o->head);
	assert_int_equal(o->body.len, 0);
	o->head = true;
	o->status = h->status;
	snprintf(o->ctype, sizeof(o->ctype), "%s", ct ? ct : "");
	return true;
}

static bool raw_chunk(void *data, const char *p, size_t n)
{
	struct raw_out *o = data;

	assert_true(o->head);
	return spok_buf_append(&o->body, p, n) == 0;
}

static void raw_done(void *data, const struct kube_stream_result *r)
{
	struct raw_out *o = data;

	o->done = true;
	o->res = *r;
}

static void raw_run(struct kube_client *cli, const char *method, const char *path, struct raw_out *o)
{
	struct kube_raw_opts opts = {.method = method, .path = path, .accept = "application/json"};

	memset(o, 0, sizeof(*o));
	spok_buf_init(&o->body, 1 << 20);
	assert_int_equal(kube_raw_get(cli, &opts, raw_head, raw_chunk, raw_done, o, NULL, NULL), 0);
	while (!o->done)
		uv_run(&loop, UV_RUN_ONCE);
}

static void test_raw_get(void **state)
{
	struct kube_client *cli = client_for("admin", NULL);
	struct kube_raw_opts bad = {.method = "POST", .path = "/version"};
	struct raw_out o;

	(void)state;
	raw_run(cli, "GET", "/version", &o);
	assert_int_equal(o.res.code, 0);
	assert_int_equal(o.status, 200);
	assert_int_equal(o.res.http_status, 200);
	assert_string_equal(o.ctype, "application/json");
	assert_non_null(strstr(o.body.data, "gitVersion"));
	spok_buf_free(&o.body);
	raw_run(cli, "GET", "/api/v1/namespaces/default/services/no-such-svc:4040/proxy/", &o);
	assert_int_equal(o.res.code, 0);
	assert_int_equal(o.status, 404);
	assert_non_null(strstr(o.body.data, "\"kind\":\"Status\""));
	spok_buf_free(&o.body);
	raw_run(cli, "HEAD", "/version", &o); /* the API server has no HEAD there: 405, no body */
	assert_int_equal(o.res.code, 0);
	assert_true(o.head);
	assert_int_equal(o.status, 405);
	assert_int_equal(o.body.len, 0);
	spok_buf_free(&o.body);
	assert_int_equal(kube_raw_get(cli, &bad, raw_head, raw_chunk, raw_done, &o, NULL, NULL), SPOK_EINVAL);
	client_done(cli);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crud),
		cmocka_unit_test(test_list_pages),
		cmocka_unit_test(test_watch_events),
		cmocka_unit_test(test_watch_relist_on_410),
		cmocka_unit_test(test_watch_paged_relist),
		cmocka_unit_test(test_auth_forms),
		cmocka_unit_test(test_tls_verified),
		cmocka_unit_test(test_token_file_reread),
		cmocka_unit_test(test_exec_plugin),
		cmocka_unit_test(test_exec_plugin_expiry),
		cmocka_unit_test(test_in_cluster),
		cmocka_unit_test(test_qps_real),
		cmocka_unit_test(test_raw_get),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, setup, teardown);
}
