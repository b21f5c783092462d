/* test_exec.c - exec credential plugins: kubeconfig parsing, ExecCredential parsing, running
 * the plugin (data/exec-plugin.sh, a real child process) and the client's cache of its
 * credential. The client cases need no API server: the plugin runs before any connection,
 * and a refused connection is enough to count plugin runs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/xalloc.h"
#include "kube/client.h"
#include "kube/exec.h"
#include "kube/kubeconfig.h"

static char tmpdir[256];
static const char *plugin = SPOK_KUBE_TEST_DATA "/exec-plugin.sh";

static void write_file(const char *name, const char *text)
{
	char *p = xasprintf("%s/%s", tmpdir, name);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(p);
}

static char *tpath(const char *name)
{
	return xasprintf("%s/%s", tmpdir, name);
}

static char *slurp(const char *name)
{
	char *p = tpath(name), *text = xmalloc(65536);
	FILE *f = fopen(p, "r");
	size_t n;

	assert_non_null(f);
	n = fread(text, 1, 65535, f);
	text[n] = '\0';
	fclose(f);
	free(p);
	return text;
}

static int count_lines(const char *name)
{
	char *p = tpath(name), line[64];
	FILE *f = fopen(p, "r");
	int n = 0;

	free(p);
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		n++;
	fclose(f);
	return n;
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/spok-kubeexec-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	write_file("token", "tok-123\n");
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
	return nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* A kubeconfig (JSON) whose user runs `command mode` with PLUGIN_* env; `extra_env` is
 * inserted into the env list as-is (",{...}" items) and `extra_exec` into exec. */
static char *kc_text(const char *command, const char *mode, const char *extra_env,
		     const char *extra_exec)
{
	return xasprintf(
		"{\"current-context\":\"t\",\"clusters\":[{\"name\":\"c\",\"cluster\":"
		"{\"server\":\"http://127.0.0.1:1\",\"certificate-authority-data\":\"Q0EtUEVN\"}}],"
		"\"contexts\":[{\"name\":\"t\",\"context\":{\"cluster\":\"c\",\"user\":\"u\"}}],"
		"\"users\":[{\"name\":\"u\",\"user\":{\"exec\":{\"apiVersion\":"
		"\"client.authentication.k8s.io/v1\",\"command\":\"%s\",\"args\":[\"%s\"],"
		"\"interactiveMode\":\"IfAvailable\",\"env\":[{\"name\":\"PLUGIN_TOKEN_FILE\","
		"\"value\":\"%s/token\"},{\"name\":\"PLUGIN_COUNT\",\"value\":\"%s/count\"}%s]%s}}}]}",
		command, mode, tmpdir, tmpdir, extra_env != NULL ? extra_env : "",
		extra_exec != NULL ? extra_exec : "");
}

static void load_kc(struct kube_config *cfg, const char *command, const char *mode,
		    const char *extra_env, const char *extra_exec)
{
	char *text = kc_text(command, mode, extra_env, extra_exec);
	struct spok_err err = {0};

	if (kube_config_parse(cfg, text, strlen(text), "kc.json", NULL, &err) != 0)
		fail_msg("%s", err.msg);
	free(text);
}

/* ---- kubeconfig ---- */

static void test_config_fields(void **state)
{
	static const char text[] =
		"current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}},"
		" {name: b, context: {cluster: c, user: v}}]\n"
		"clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
		"users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1,"
		" command: ./bin/get-token, args: [eks, get-token], env: [{name: A, value: b}],"
		" installHint: 'install get-token', provideClusterInfo: true}}},"
		" {name: v, user: {exec: {apiVersion: client.authentication.k8s.io/v1,"
		" command: aws, interactiveMode: Never}}}]\n";
	struct kube_config cfg;
	struct spok_err err = {0};

	(void)state;
	assert_int_equal(kube_config_parse(&cfg, text, strlen(text), "/etc/kube/kc.yaml", NULL,
					   &err), 0);
	assert_non_null(cfg.exec);
	assert_string_equal(cfg.exec->command, "/etc/kube/./bin/get-token");
	assert_string_equal(cfg.exec->api_version, KUBE_EXEC_V1BETA1);
	assert_int_equal(cfg.exec->args.len, 2);
	assert_string_equal(cfg.exec->args.items[1], "get-token");
	assert_int_equal(cfg.exec->env.len, 1);
	assert_string_equal(cfg.exec->env.items[0], "A=b");
	assert_string_equal(cfg.exec->install_hint, "install get-token");
	assert_true(cfg.exec->provide_cluster_info);
	assert_string_equal(cfg.exec->where, "/etc/kube/kc.yaml: users[u].user.exec");
	assert_null(cfg.token);
	kube_config_free(&cfg);

	/* A bare name is a PATH lookup at run time, not a file next to the kubeconfig. */
	assert_int_equal(kube_config_parse(&cfg, text, strlen(text), "/etc/kube/kc.yaml", "b", &err), 0);
	assert_string_equal(cfg.exec->command, "aws");
	assert_string_equal(cfg.exec->api_version, KUBE_EXEC_V1);
	assert_false(cfg.exec->provide_cluster_info);
	kube_config_free(&cfg);
}

struct bad_case {
	const char *user;
	const char *msg;
};

static void test_config_errors(void **state)
{
	static const struct bad_case cases[] = {
		{"{exec: {apiVersion: client.authentication.k8s.io/v1}}",
		 "kc.yaml: users[u].user.exec.command: missing; name the plugin (e.g. aws)"},
		{"{exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: aws}}",
		 "kc.yaml: users[u].user.exec.apiVersion: \"client.authentication.k8s.io/v1alpha1\" is not "
		 "supported; use client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1"},
		{"{exec: {apiVersion: client.authentication.k8s.io/v1, command: aws, interactiveMode: Sometimes}}",
		 "kc.yaml: users[u].user.exec.interactiveMode: \"Sometimes\" is not one of Never, "
		 "IfAvailable, Always; fix the kubeconfig"},
		{"{exec: {apiVersion: client.authentication.k8s.io/v1, command: aws, env: {A: b}}}",
		 "kc.yaml: users[u].user.exec.env: must be a list of {name, value}; fix the kubeconfig"},
		{"{exec: {apiVersion: client.authentication.k8s.io/v1, command: aws, env: [{name: 'A=B', value: x}]}}",
		 "kc.yaml: users[u].user.exec.env[0]: needs a string name (without '=') and a string "
		 "value; fix the kubeconfig"},
		{"{exec: {apiVersion: client.authentication.k8s.io/v1, command: aws, args: [1]}}",
		 "kc.yaml: users[u].user.exec.args[0]: must be a string; fix the kubeconfig"},
		{"{exec: {apiVersion: client.authentication.k8s.io/v1, command: aws}, token: s3cret}",
		 "kc.yaml: users[u].user: exec together with a token or client certificate is ambiguous; "
		 "keep only one"},
		{"{exec: [aws]}", "kc.yaml: users[u].user.exec: must be a mapping; fix the kubeconfig"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = xasprintf("current-context: a\ncontexts: [{name: a, context: {cluster: c, "
				       "user: u}}]\nclusters: [{name: c, cluster: {server: 'https://x'}}]\n"
				       "users: [{name: u, user: %s}]\n", cases[i].user);
		struct kube_config cfg;
		struct spok_err err = {0};

		assert_int_equal(kube_config_parse(&cfg, text, strlen(text), "kc.yaml", NULL, &err),
				 SPOK_EINVAL);
		assert_string_equal(err.msg, cases[i].msg);
		assert_null(cfg.exec);
		free(text);
	}
}

/* ---- ExecCredential ---- */

static void test_parse_ok(void **state)
{
	static const char tok[] = "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
		"\"ExecCredential\",\"status\":{\"token\":\"abc\",\"expirationTimestamp\":"
		"\"2030-01-02T03:04:05Z\"}}";
	static const char cert[] = "{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":"
		"\"ExecCredential\",\"spec\":{},\"status\":{\"clientCertificateData\":\"CERT\","
		"\"clientKeyData\":\"KEY\"}}";
	struct kube_exec_cred c;
	struct spok_err err = {0};

	(void)state;
	assert_int_equal(kube_exec_parse(tok, strlen(tok), KUBE_EXEC_V1, "w", &c, &err), 0);
	assert_string_equal(c.token, "abc");
	assert_int_equal(c.expiry, 1893553445);
	assert_false(kube_exec_cred_expired(&c, 1893553445 - KUBE_EXEC_EXPIRY_SLACK_S - 1));
	assert_true(kube_exec_cred_expired(&c, 1893553445 - KUBE_EXEC_EXPIRY_SLACK_S));
	kube_exec_cred_free(&c);
	assert_null(c.token);
	assert_true(kube_exec_cred_expired(&c, 0)); /* empty: must be fetched */

	assert_int_equal(kube_exec_parse(cert, strlen(cert), KUBE_EXEC_V1BETA1, "w", &c, &err), 0);
	assert_null(c.token);
	assert_int_equal(c.client_cert.len, 4);
	assert_memory_equal(c.client_key.data, "KEY", 3);
	assert_int_equal(c.expiry, 0);
	assert_false(kube_exec_cred_expired(&c, 4000000000));
	kube_exec_cred_free(&c);
}

static void test_parse_errors(void **state)
{
	static const struct bad_case cases[] = {
		{"not json s3cret", "w: the plugin's output is not JSON (line 1, column 3); check the plugin"},
		{"[1]", "w: the plugin's output is not a JSON object; check the plugin"},
		{"{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\","
		 "\"status\":{\"token\":\"s3cret\"}}",
		 "w: the plugin returned apiVersion \"client.authentication.k8s.io/v1beta1\", the "
		 "kubeconfig asks for \"client.authentication.k8s.io/v1\"; set exec.apiVersion to what "
		 "the plugin speaks"},
		{"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"Pod\"}",
		 "w: the plugin returned kind \"Pod\", not ExecCredential; check the plugin"},
		{"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\"}",
		 "w: the plugin returned no status; check the plugin (is it logged in?)"},
		{"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
		 "\"status\":{}}",
		 "w: the plugin returned neither a token nor a client certificate; check the plugin"},
		{"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
		 "\"status\":{\"clientKeyData\":\"s3cret\"}}",
		 "w: the plugin returned only one of clientCertificateData and clientKeyData; check the plugin"},
		{"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
		 "\"status\":{\"token\":\"s3cret\\r\\nX: y\"}}",
		 "w: the plugin's token contains control characters; check the plugin"},
		{"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
		 "\"status\":{\"token\":5}}",
		 "w: the plugin's status.token is not a string; check the plugin"},
		{"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
		 "\"status\":{\"token\":\"s3cret\",\"expirationTimestamp\":\"tomorrow\"}}",
		 "w: the plugin's status.expirationTimestamp \"tomorrow\" is not RFC 3339; check the plugin"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kube_exec_cred c;
		struct spok_err err = {0};

		assert_int_equal(kube_exec_parse(cases[i].user, strlen(cases[i].user), KUBE_EXEC_V1, "w",
						 &c, &err), SPOK_EINVAL);
		assert_string_equal(err.msg, cases[i].msg);
		assert_null(strstr(err.msg, "s3cret"));
		assert_null(c.token);
		assert_null(c.client_key.data);
	}
}

/* ---- running the plugin ---- */

static void test_run_token_and_info(void **state)
{
	struct kube_config cfg;
	struct kube_exec_cred c;
	struct spok_err err = {0};
	char *info_env = xasprintf(",{\"name\":\"PLUGIN_INFO_OUT\",\"value\":\"%s/info\"},"
				   "{\"name\":\"PLUGIN_EXPIRES_IN\",\"value\":\"3600\"}", tmpdir);
	char *info;
	json_t *j;

	(void)state;
	load_kc(&cfg, plugin, "token", info_env, ",\"provideClusterInfo\":true");
	assert_int_equal(kube_exec_run(&cfg, &c, &err), 0);
	assert_string_equal(c.token, "tok-123");
	assert_true(c.expiry > 0);
	assert_false(kube_exec_cred_expired(&c, c.expiry - 3000));
	kube_exec_cred_free(&c);

	info = slurp("info");
	j = json_loads(info, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "apiVersion")), KUBE_EXEC_V1);
	assert_string_equal(json_string_value(json_object_get(j, "kind")), "ExecCredential");
	assert_true(json_is_false(json_object_get(json_object_get(j, "spec"), "interactive")));
	{
		json_t *cl = json_object_get(json_object_get(j, "spec"), "cluster");

		assert_string_equal(json_string_value(json_object_get(cl, "server")), "http://127.0.0.1:1");
		assert_string_equal(json_string_value(json_object_get(cl, "certificate-authority-data")),
				    "Q0EtUEVN");
	}
	json_decref(j);
	free(info);
	free(info_env);
	kube_config_free(&cfg);
}

/* Without provideClusterInfo the plugin learns nothing about the cluster; args arrive as
 * separate argv entries, untouched by any shell. */
static void test_run_argv_no_cluster(void **state)
{
	struct kube_config cfg;
	struct kube_exec_cred c;
	struct spok_err err = {0};
	char *info_env = xasprintf(",{\"name\":\"PLUGIN_INFO_OUT\",\"value\":\"%s/argv\"}", tmpdir);
	char *text;

	(void)state;
	load_kc(&cfg, plugin, "argv", info_env, NULL);
	spok_strv_push(&cfg.exec->args, "a b");
	spok_strv_push(&cfg.exec->args, "$(echo no)");
	spok_strv_push(&cfg.exec->args, "*");
	assert_int_equal(kube_exec_run(&cfg, &c, &err), 0);
	assert_string_equal(c.token, "t");
	kube_exec_cred_free(&c);
	text = slurp("argv");
	assert_string_equal(text, "a b\n$(echo no)\n*\n");
	free(text);
	free(info_env);
	kube_config_free(&cfg);
}

static void test_run_cert(void **state)
{
	struct kube_config cfg;
	struct kube_exec_cred c;
	struct spok_err err = {0};

	(void)state;
	load_kc(&cfg, plugin, "cert", NULL, NULL);
	assert_int_equal(kube_exec_run(&cfg, &c, &err), 0);
	assert_null(c.token);
	assert_non_null(c.client_cert.data);
	assert_non_null(strstr((const char *)c.client_cert.data, "-----BEGIN CERTIFICATE-----\nMIIB\n"));
	assert_non_null(strstr((const char *)c.client_key.data, "-----BEGIN PRIVATE KEY-----"));
	kube_exec_cred_free(&c);
	kube_config_free(&cfg);
}

struct run_case {
	const char *command; /* NULL: the test plugin */
	const char *mode;
	const char *extra_env;
	const char *extra_exec;
	int code;
	const char *msg_part;
};

static void test_run_errors(void **state)
{
	static const struct run_case cases[] = {
		{"spok-no-such-plugin", "token", NULL, ",\"installHint\":\"install it with apt\"",
		 SPOK_ENOTFOUND, "kc.json: users[u].user.exec: plugin \"spok-no-such-plugin\" not "
		 "found; install it with apt"},
		{"/nonexistent/plugin", "token", NULL, NULL, SPOK_ENOTFOUND,
		 "not found; install it or fix exec.command (and PATH)"},
		{NULL, "fail", NULL, NULL, SPOK_EIO, "exec-plugin.sh\" exited with status 3; see its "
		 "messages above"},
		{NULL, "badjson", NULL, NULL, SPOK_EINVAL, "kc.json: users[u].user.exec: the plugin's "
		 "output is not JSON (line 1, column 3); check the plugin"},
		{NULL, "token", ",{\"name\":\"PLUGIN_API\",\"value\":\"client.authentication.k8s.io/v1beta1\"}",
		 NULL, SPOK_EINVAL, "the plugin returned apiVersion \"client.authentication.k8s.io/v1beta1\""},
		{NULL, "big", NULL, NULL, SPOK_EINVAL, "exec-plugin.sh\" wrote more than 1000 bytes; "
		 "check the plugin"},
		{NULL, "slow", NULL, NULL, SPOK_ETIMEOUT, "exec-plugin.sh\" did not finish within 300 ms "
		 "and was killed"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kube_config cfg;
		struct kube_exec_cred c;
		struct spok_err err = {0};

		load_kc(&cfg, cases[i].command != NULL ? cases[i].command : plugin, cases[i].mode,
			cases[i].extra_env, cases[i].extra_exec);
		cfg.exec->max_output = 1000;
		cfg.exec->timeout_ms = 300;
		assert_int_equal(kube_exec_run(&cfg, &c, &err), cases[i].code);
		if (strstr(err.msg, cases[i].msg_part) == NULL)
			fail_msg("case %zu: %s", i, err.msg);
		assert_null(strstr(err.msg, "s3cret"));
		assert_null(strstr(err.msg, "tok-123"));
		assert_null(c.token);
		kube_config_free(&cfg);
	}
}

/* ---- the client's cache ---- */

/* One request against a port that refuses connections: the plugin runs (or not) first. */
static int one_request(struct kube_client *c, char *msg, size_t n)
{
	struct kube_req req = {"GET", "/api", NULL, NULL, NULL, 0, true, NULL, false, 0};
	struct kube_sync s = {0};
	int code;

	assert_int_equal(kube_request(c, &req, kube_sync_cb, &s, NULL), 0);
	code = kube_sync_wait(c, &s, NULL);
	snprintf(msg, n, "%s", s.message);
	kube_sync_free(&s);
	return code;
}

static uint64_t runs_after_two(const char *expires_in, const char *mode, char *msg, size_t n,
			       int *code)
{
	struct kube_client_opts o = {.max_retries = -1};
	char *env = xasprintf(",{\"name\":\"PLUGIN_EXPIRES_IN\",\"value\":\"%s\"}", expires_in);
	struct kube_client_stats st;
	struct kube_config cfg;
	struct kube_client *c;
	uv_loop_t loop;

	uv_loop_init(&loop);
	load_kc(&cfg, plugin, mode, env, NULL);
	assert_int_equal(kube_client_new(&loop, &cfg, &o, &c, NULL), 0);
	kube_config_free(&cfg);
	one_request(c, msg, n);
	*code = one_request(c, msg, n);
	kube_client_stats(c, &st);
	kube_client_close(c);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	free(env);
	return st.exec_runs;
}

static void test_client_cache(void **state)
{
	char msg[SPOK_ERR_MSG_MAX], *count = tpath("count");
	int code;

	(void)state;
	remove(count);
	free(count);
	/* Valid for an hour: fetched once. */
	assert_int_equal(runs_after_two("3600", "token", msg, sizeof(msg), &code), 1);
	assert_int_equal(code, SPOK_EUNAVAIL); /* it got as far as connecting */
	assert_int_equal(count_lines("count"), 1);
	/* Inside the refresh slack: fetched before every request. */
	assert_int_equal(runs_after_two("2", "token", msg, sizeof(msg), &code), 2);
	/* Client certificates are cached the same way. */
	assert_int_equal(runs_after_two("3600", "cert", msg, sizeof(msg), &code), 1);
	/* A failing plugin fails the request with its error, and is tried again next time. */
	assert_int_equal(runs_after_two("3600", "fail", msg, sizeof(msg), &code), 2);
	assert_int_equal(code, SPOK_EIO);
	assert_non_null(strstr(msg, "GET /api: kc.json: users[u].user.exec: plugin \""));
	assert_non_null(strstr(msg, "exited with status 3"));
}

/* The plugin's whole process group goes at the timeout, including a child of it that still
 * holds its stdout. */
static void test_run_timeout_kills_group(void **state)
{
	char *env = xasprintf(",{\"name\":\"PLUGIN_INFO_OUT\",\"value\":\"%s/bgpid\"}", tmpdir);
	struct kube_config cfg;
	struct kube_exec_cred c;
	struct spok_err err = {0};
	char *text;
	pid_t bg;
	int gone = 0;

	(void)state;
	load_kc(&cfg, plugin, "group", env, NULL);
	cfg.exec->timeout_ms = 500;
	assert_int_equal(kube_exec_run(&cfg, &c, &err), SPOK_ETIMEOUT);
	assert_non_null(strstr(err.msg, "did not finish within 500 ms and was killed"));
	text = slurp("bgpid");
	bg = (pid_t)strtol(text, NULL, 10);
	assert_true(bg > 1);
	/* SIGKILL was sent before the run answered; the reaper (init) may need a moment. */
	for (int i = 0; i < 1000 && !gone; i++) {
		gone = kill(bg, 0) != 0;
		if (!gone)
			usleep(10000);
	}
	assert_true(gone);
	free(text);
	free(env);
	kube_config_free(&cfg);
}

/* ---- the client while its plugin hangs ---- */

struct tick {
	int fired;
	uv_timer_t t;
};

static void on_tick(uv_timer_t *t)
{
	struct tick *k = t->data;

	k->fired++;
}

struct done {
	int n;
	int codes[4];
	char msgs[4][SPOK_ERR_MSG_MAX];
	int ticks_then[4]; /* timer ticks seen when each answered */
	struct tick *tick;
};

static void on_done(void *data, const struct kube_resp *r)
{
	struct done *d = data;

	d->codes[d->n] = r->code;
	snprintf(d->msgs[d->n], sizeof(d->msgs[0]), "%s", r->message);
	d->ticks_then[d->n] = d->tick->fired;
	d->n++;
}

/* Three calls wait for one run of a plugin that hangs; the loop keeps running (a timer
 * fires while they wait) and each fails with the plugin's timeout. */
static void test_client_hung_plugin(void **state)
{
	struct kube_client_opts o = {.max_retries = -1};
	struct kube_req req = {"GET", "/api", NULL, NULL, NULL, 0, true, NULL, false, 0};
	struct kube_client_stats st;
	struct kube_config cfg;
	struct kube_client *c;
	struct tick tick = {0};
	struct done d = {0};
	uv_loop_t loop;

	(void)state;
	d.tick = &tick;
	uv_loop_init(&loop);
	load_kc(&cfg, plugin, "slow", NULL, NULL);
	cfg.exec->timeout_ms = 1500;
	assert_int_equal(kube_client_new(&loop, &cfg, &o, &c, NULL), 0);
	kube_config_free(&cfg);
	uv_timer_init(&loop, &tick.t);
	tick.t.data = &tick;
	uv_timer_start(&tick.t, on_tick, 1, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(kube_request(c, &req, on_done, &d, NULL), 0);
	while (d.n < 3)
		uv_run(&loop, UV_RUN_ONCE);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(d.codes[i], SPOK_ETIMEOUT);
		assert_non_null(strstr(d.msgs[i], "GET /api: kc.json: users[u].user.exec: plugin \""));
		assert_non_null(strstr(d.msgs[i], "did not finish within 1500 ms"));
		assert_int_equal(d.ticks_then[i], 1); /* the loop ran while they waited */
	}
	kube_client_stats(c, &st);
	assert_int_equal(st.exec_runs, 1);
	assert_int_equal(st.sent, 0);
	uv_close((uv_handle_t *)&tick.t, NULL);
	kube_client_close(c);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* Closing the client while its plugin runs: the waiting call fails "client closed", the
 * plugin is killed and the loop ends (nothing left running). */
static void test_client_close_during_plugin(void **state)
{
	struct kube_req req = {"GET", "/api", NULL, NULL, NULL, 0, true, NULL, false, 0};
	struct kube_config cfg;
	struct kube_client *c;
	struct tick tick = {0};
	struct done d = {0};
	uv_loop_t loop;

	(void)state;
	d.tick = &tick;
	uv_loop_init(&loop);
	load_kc(&cfg, plugin, "slow", NULL, NULL);
	assert_int_equal(kube_client_new(&loop, &cfg, NULL, &c, NULL), 0);
	kube_config_free(&cfg);
	assert_int_equal(kube_request(c, &req, on_done, &d, NULL), 0);
	uv_run(&loop, UV_RUN_NOWAIT); /* the plugin starts */
	kube_client_close(c);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.codes[0], SPOK_EUNAVAIL);
	assert_non_null(strstr(d.msgs[0], "client closed"));
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_fields),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_run_token_and_info),
		cmocka_unit_test(test_run_argv_no_cluster),
		cmocka_unit_test(test_run_cert),
		cmocka_unit_test(test_run_errors),
		cmocka_unit_test(test_client_cache),
		cmocka_unit_test(test_run_timeout_kills_group),
		cmocka_unit_test(test_client_hung_plugin),
		cmocka_unit_test(test_client_close_during_plugin),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
