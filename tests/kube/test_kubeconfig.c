/* test_kubeconfig.c - kubeconfig parsing, merging, auth forms, in-cluster, errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/xalloc.h"
#include "kube/internal.h"
#include "kube/kubeconfig.h"

static char tmpdir[256];

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

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/spok-kubecfg-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
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

/* base64 of "CA-PEM", "CERT-PEM", "KEY-PEM" */
#define CA_B64 "Q0EtUEVN"
#define CERT_B64 "Q0VSVC1QRU0="
#define KEY_B64 "S0VZLVBFTQ=="

static const char yaml_inline[] =
	"apiVersion: v1\n"
	"kind: Config\n"
	"current-context: admin\n"
	"clusters:\n"
	"- name: local\n"
	"  cluster:\n"
	"    server: https://127.0.0.1:6443/\n"
	"    certificate-authority-data: " CA_B64 "\n"
	"    tls-server-name: kubernetes\n"
	"users:\n"
	"- name: admin\n"
	"  user:\n"
	"    client-certificate-data: " CERT_B64 "\n"
	"    client-key-data: " KEY_B64 "\n"
	"- name: tok\n"
	"  user:\n"
	"    token: s3cret\n"
	"contexts:\n"
	"- name: admin\n"
	"  context: {cluster: local, user: admin, namespace: team-a}\n"
	"- name: tok\n"
	"  context: {cluster: local, user: tok}\n";

static void assert_blob(const struct kube_blob *b, const char *want)
{
	assert_non_null(b->data);
	assert_int_equal(b->len, strlen(want));
	assert_memory_equal(b->data, want, b->len);
}

static void test_inline_cert(void **state)
{
	struct kube_config cfg;
	struct spok_err err = {0};

	(void)state;
	assert_int_equal(kube_config_parse(&cfg, yaml_inline, sizeof(yaml_inline) - 1, "kc.yaml",
					   NULL, &err), 0);
	assert_string_equal(cfg.server, "https://127.0.0.1:6443");
	assert_string_equal(cfg.context, "admin");
	assert_string_equal(cfg.namespace, "team-a");
	assert_string_equal(cfg.tls_server_name, "kubernetes");
	assert_false(cfg.insecure);
	assert_blob(&cfg.ca, "CA-PEM");
	assert_blob(&cfg.client_cert, "CERT-PEM");
	assert_blob(&cfg.client_key, "KEY-PEM");
	assert_null(cfg.token);
	assert_null(cfg.token_file);
	kube_config_free(&cfg);
	assert_null(cfg.server);
}

static void test_explicit_context_token(void **state)
{
	struct kube_config cfg;
	struct spok_err err = {0};

	(void)state;
	assert_int_equal(kube_config_parse(&cfg, yaml_inline, sizeof(yaml_inline) - 1, "kc.yaml",
					   "tok", &err), 0);
	assert_string_equal(cfg.token, "s3cret");
	assert_string_equal(cfg.namespace, "default");
	assert_null(cfg.client_cert.data);
	kube_config_free(&cfg);
}

static void test_json_form_and_insecure(void **state)
{
	static const char json[] =
		"{\"current-context\":\"x\",\"clusters\":[{\"name\":\"c\",\"cluster\":{\"server\":"
		"\"https://h:1\",\"insecure-skip-tls-verify\":true}}],\"users\":[{\"name\":\"u\","
		"\"user\":{\"tokenFile\":\"/run/tok\"}}],\"contexts\":[{\"name\":\"x\",\"context\":"
		"{\"cluster\":\"c\",\"user\":\"u\"}}]}";
	struct kube_config cfg;
	struct spok_err err = {0};

	(void)state;
	assert_int_equal(kube_config_parse(&cfg, json, sizeof(json) - 1, "kc.json", NULL, &err), 0);
	assert_true(cfg.insecure);
	assert_null(cfg.ca.data);
	assert_string_equal(cfg.token_file, "/run/tok");
	kube_config_free(&cfg);
}

/* Relative paths resolve against the kubeconfig's own directory. */
static void test_file_paths(void **state)
{
	struct kube_config cfg;
	struct spok_err err = {0};
	char *kc = tpath("paths.yaml"), *tf = tpath("tok");

	(void)state;
	write_file("ca.pem", "FILE-CA");
	write_file("c.pem", "FILE-CERT");
	write_file("k.pem", "FILE-KEY");
	write_file("paths.yaml",
		   "current-context: a\n"
		   "clusters: [{name: c, cluster: {server: 'https://h:1', certificate-authority: ca.pem}}]\n"
		   "users: [{name: u, user: {client-certificate: c.pem, client-key: k.pem, tokenFile: tok}}]\n"
		   "contexts: [{name: a, context: {cluster: c, user: u}}]\n");
	assert_int_equal(kube_config_load(&cfg, kc, NULL, &err), 0);
	assert_blob(&cfg.ca, "FILE-CA");
	assert_blob(&cfg.client_cert, "FILE-CERT");
	assert_blob(&cfg.client_key, "FILE-KEY");
	assert_string_equal(cfg.token_file, tf);
	kube_config_free(&cfg);
	free(kc);
	free(tf);
}

/* $KUBECONFIG: the first file to define a name wins; current-context from the first
 * file that sets it; missing files are skipped. */
static void test_merge(void **state)
{
	struct kube_config cfg;
	struct spok_err err = {0};
	char *a = tpath("a.yaml"), *b = tpath("b.yaml"), *missing = tpath("nope.yaml");
	char *list = xasprintf("%s:%s:%s", missing, a, b);

	(void)state;
	write_file("a.yaml",
		   "clusters: [{name: c, cluster: {server: 'https://first:1'}}]\n"
		   "users: [{name: u, user: {token: from-a}}]\n");
	write_file("b.yaml",
		   "current-context: ctx\n"
		   "clusters: [{name: c, cluster: {server: 'https://second:1'}},\n"
		   "           {name: d, cluster: {server: 'https://d:1'}}]\n"
		   "users: [{name: u, user: {token: from-b}}]\n"
		   "contexts: [{name: ctx, context: {cluster: c, user: u, namespace: ns-b}},\n"
		   "           {name: other, context: {cluster: d}}]\n");
	setenv("KUBECONFIG", list, 1);
	assert_int_equal(kube_config_load(&cfg, NULL, NULL, &err), 0);
	assert_string_equal(cfg.server, "https://first:1");
	assert_string_equal(cfg.token, "from-a");
	assert_string_equal(cfg.namespace, "ns-b");
	kube_config_free(&cfg);
	assert_int_equal(kube_config_load(&cfg, NULL, "other", &err), 0);
	assert_string_equal(cfg.server, "https://d:1");
	assert_null(cfg.token);
	kube_config_free(&cfg);
	setenv("KUBECONFIG", missing, 1);
	assert_int_equal(kube_config_load(&cfg, NULL, NULL, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "none of the files"));
	unsetenv("KUBECONFIG");
	free(a);
	free(b);
	free(missing);
	free(list);
}

/* The parsed kubeconfig holds tokens, keys and passwords: its strings are wiped before the
 * memory is freed, except those another document still holds (merged $KUBECONFIG lists
 * share items: test_merge checks those survive). */
static void test_json_wipe(void **state)
{
	json_t *doc = json_loads("{\"users\": [{\"name\": \"u\", \"user\": {\"token\": \"tok-secret\","
				 " \"client-key-data\": \"a2V5\", \"password\": \"pw\","
				 " \"auth-provider\": {\"config\": {\"id-token\": \"idt\"}}}}]}", 0, NULL);
	json_t *user, *shared;
	const char *tok, *idt;

	(void)state;
	assert_non_null(doc);
	user = json_object_get(json_array_get(json_object_get(doc, "users"), 0), "user");
	tok = json_string_value(json_object_get(user, "token"));
	idt = json_string_value(json_object_get(json_object_get(json_object_get(user, "auth-provider"), "config"), "id-token"));
	shared = json_object_get(user, "password");
	json_incref(shared);
	kube__json_wipe(doc);
	assert_memory_equal(tok, "\0\0\0\0\0\0\0\0\0\0", 10);
	assert_memory_equal(idt, "\0\0\0", 3);
	assert_string_equal(json_string_value(shared), "pw"); /* still held elsewhere */
	json_decref(doc);
	json_decref(shared);
}

struct bad_case {
	const char *text;
	const char *context;
	const char *msg;
};

static void test_errors(void **state)
{
	static const struct bad_case cases[] = {
		{"current-context: nope\ncontexts: []\n", NULL,
		 "kc.yaml: contexts: no entry named \"nope\"; add it or pick another context"},
		{"clusters: []\n", NULL,
		 "kc.yaml: current-context: not set; set it with `kubectl config use-context` or pass a context"},
		{"current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\n"
		 "clusters: [{name: c, cluster: {insecure-skip-tls-verify: true}}]\n", NULL,
		 "kc.yaml: clusters[c].cluster.server: missing; set the API server URL (https://host:port)"},
		{"current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\n"
		 "clusters: [{name: c, cluster: {server: 'ftp://x'}}]\n", NULL,
		 "kc.yaml: clusters[c].cluster.server: \"ftp://x\" is not an http(s) URL; use https://host:port"},
		{"current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
		 "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
		 "users: [{name: u, user: {client-key-data: '!!!'}}]\n", NULL,
		 "kc.yaml: users[u].user.client-key-data: not valid base64; re-encode the PEM with `base64 -w0`"},
		{"current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
		 "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
		 "users: [{name: u, user: {client-certificate-data: " CERT_B64 "}}]\n", NULL,
		 "kc.yaml: users[u].user: client-certificate and client-key must be set together; add the missing one"},
		{"current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
		 "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
		 "users: [{name: u, user: {exec: {command: aws}}}]\n", NULL,
		 "kc.yaml: users[u].user.exec.apiVersion: \"\" is not supported; use client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1"},
		{"current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
		 "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
		 "users: [{name: u, user: {token: [1]}}]\n", NULL,
		 "kc.yaml: users[u].user.token: must be a string; fix the kubeconfig"},
		/* A CR/LF in a token would inject request headers; the value is never echoed. */
		{"current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
		 "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
		 "users: [{name: u, user: {token: \"s3cret\\r\\nX-Evil: 1\"}}]\n", NULL,
		 "kc.yaml: users[u].user.token: contains control characters; write the token on one line"},
		{"current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
		 "clusters: [{name: c, cluster: {server: 'https://x', insecure-skip-tls-verify: maybe}}]\n",
		 NULL,
		 "kc.yaml: clusters[c].cluster.insecure-skip-tls-verify: must be true or false; fix the kubeconfig"},
		{"current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
		 "clusters: [{name: c, cluster: {server: 'https://x'}}]\n", NULL,
		 "kc.yaml: users: no entry named \"u\"; add it or pick another context"},
		{"current-context: a\ncontexts: [{name: a, context: 5}]\n", NULL,
		 "kc.yaml: contexts[a].context: missing or not a mapping; fix the kubeconfig"},
		{"- just\n- a list\n", NULL,
		 "kc.yaml: not a kubeconfig (expected a mapping at the top); fix the file"},
		{"{\"a\": }", NULL, NULL},
		{"   \n", NULL, "kc.yaml: the file is empty; point KUBECONFIG at a kubeconfig"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kube_config cfg;
		struct spok_err err = {0};
		int rc = kube_config_parse(&cfg, cases[i].text, strlen(cases[i].text), "kc.yaml",
					   cases[i].context, &err);

		if (rc == 0 || (cases[i].msg != NULL && strcmp(err.msg, cases[i].msg) != 0))
			fail_msg("case %zu: rc %d, got \"%s\"", i, rc, err.msg);
		if (cases[i].msg == NULL)
			assert_non_null(strstr(err.msg, "kc.yaml:1:"));
		assert_null(cfg.server);
	}
}

static void test_missing_file_field(void **state)
{
	struct kube_config cfg;
	struct spok_err err = {0};
	static const char text[] =
		"current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\n"
		"clusters: [{name: c, cluster: {server: 'https://x', certificate-authority: /nonexistent/ca.pem}}]\n";

	(void)state;
	assert_int_equal(kube_config_parse(&cfg, text, sizeof(text) - 1, "kc.yaml", NULL, &err),
			 SPOK_ENOTFOUND);
	assert_string_equal(err.msg, "kc.yaml: clusters[c].cluster.certificate-authority: "
			    "/nonexistent/ca.pem: cannot open: No such file or directory");
}

static void test_token_file(void **state)
{
	char *p = tpath("t1"), *tok = NULL;
	struct spok_err err = {0};

	(void)state;
	write_file("t1", "abc.def\n\n");
	assert_int_equal(kube_read_token_file(p, &tok, &err), 0);
	assert_string_equal(tok, "abc.def");
	kube_secret_free(tok);
	write_file("t1", " \n");
	assert_int_equal(kube_read_token_file(p, &tok, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "not a bearer token"));
	assert_null(tok);
	write_file("t1", "abc\rX-Evil: 1\n");
	assert_int_equal(kube_read_token_file(p, &tok, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "not a bearer token"));
	assert_null(strstr(err.msg, "abc"));
	assert_null(tok);
	free(p);
}

static void test_in_cluster(void **state)
{
	struct kube_config cfg;
	struct spok_err err = {0};
	char *tf = tpath("sa/token");
	char *dir = tpath("sa");

	(void)state;
	mkdir(dir, 0700);
	write_file("sa/token", "sa-token\n");
	write_file("sa/ca.crt", "SA-CA");
	write_file("sa/namespace", "jobs\n");
	unsetenv("KUBERNETES_SERVICE_HOST");
	assert_int_equal(kube_config_in_cluster(&cfg, dir, &err), SPOK_EINVAL);
	assert_string_equal(err.msg, "in-cluster: KUBERNETES_SERVICE_HOST/PORT are not set; run "
			    "inside a pod or pass a kubeconfig");
	setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(kube_config_in_cluster(&cfg, dir, &err), 0);
	assert_string_equal(cfg.server, "https://10.0.0.1:443");
	assert_string_equal(cfg.namespace, "jobs");
	assert_string_equal(cfg.token_file, tf);
	assert_null(cfg.token);
	assert_blob(&cfg.ca, "SA-CA");
	kube_config_free(&cfg);
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	assert_int_equal(kube_config_in_cluster(&cfg, dir, &err), 0);
	assert_string_equal(cfg.server, "https://[fd00::1]:443");
	kube_config_free(&cfg);
	unlink(tf);
	assert_int_equal(kube_config_in_cluster(&cfg, dir, &err), SPOK_ENOTFOUND);
	assert_non_null(strstr(err.msg, "in-cluster: "));
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	free(tf);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inline_cert),
		cmocka_unit_test(test_explicit_context_token),
		cmocka_unit_test(test_json_form_and_insecure),
		cmocka_unit_test(test_file_paths),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_json_wipe),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_missing_file_field),
		cmocka_unit_test(test_token_file),
		cmocka_unit_test(test_in_cluster),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
