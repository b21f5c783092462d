/* test_sync_k8s.c - `spok cluster sync` against the real kube-apiserver (ctest fixture k8s).
 *
 * Projects are unique per run (pid), so namespaces never collide with other tests. RBAC is
 * checked by the API server's own authorizer through SubjectAccessReview.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "kube/kubeconfig.h"
#include "provision/internal.h"
#include "yamljson/yamljson.h"
#include "k8s_env.h"

static uv_loop_t loop;
static struct kube_client *cli;
static char dir[64];
static char p1[32], p2[32], p3[32];

static const char *const T_SA = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: spark\n";
static const char *const T_ROLE =
	"apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: spark-role\n"
	"rules:\n- apiGroups: ['']\n  resources: [pods, services, configmaps, persistentvolumeclaims]\n"
	"  verbs: [get, list, watch, create, update, patch, delete, deletecollection]\n";
static const char *const T_BINDING =
	"apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n"
	"  name: spark-role-binding\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, "
	"name: spark-role}\nsubjects:\n- {kind: ServiceAccount, name: spark, namespace: '{{ namespace }}'}\n";
static const char *const T_QUOTA =
	"apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: spark-quota}\nspec:\n  hard:\n"
	"    requests.cpu: '{{ cpu }}'\n    count/sparkapplications.sparkoperator.k8s.io: '{{ apps }}'\n";
static const char *const T_EXTRA =
	"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\ndata: {project: '{{ project }}'}\n"
	"---\n"
	"apiVersion: sparkoperator.k8s.io/v1beta2\nkind: SparkApplication\nmetadata: {name: canary}\n"
	"spec:\n  type: Python\n  mode: cluster\n  sparkVersion: 4.0.5\n  image: spark:4.0.5\n"
	"  mainApplicationFile: local:///opt/spark/examples/src/main/python/pi.py\n"
	"  restartPolicy: {type: Never}\n  driver: {cores: 1, memory: 512m}\n"
	"  executor: {instances: 1, cores: 1, memory: 512m}\n";

static void write_file(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(path);
}

static void remove_file(const char *name)
{
	char *path = xasprintf("%s/%s", dir, name);

	unlink(path);
	free(path);
}

static int setup(void **state)
{
	struct kube_config cfg;
	struct spok_err err = {0};

	(void)state;
	spok_test_k8s_env();
	uv_loop_init(&loop);
	if (kube_config_load(&cfg, getenv("KUBECONFIG"), "admin", &err) != 0)
		fail_msg("%s", err.msg);
	if (kube_client_new(&loop, &cfg, NULL, &cli, &err) != 0)
		fail_msg("%s", err.msg);
	kube_config_free(&cfg);
	snprintf(p1, sizeof(p1), "pa%ld", (long)getpid());
	snprintf(p2, sizeof(p2), "pb%ld", (long)getpid());
	snprintf(p3, sizeof(p3), "pc%ld", (long)getpid());
	snprintf(dir, sizeof(dir), "/tmp/spok-prov-k8s-XXXXXX");
	assert_non_null(mkdtemp(dir));
	write_file("10-sa.yaml", T_SA);
	write_file("20-role.yaml", T_ROLE);
	write_file("21-binding.yaml", T_BINDING);
	write_file("30-quota.yaml", T_QUOTA);
	write_file("40-extra.yaml", T_EXTRA);
	return 0;
}

static int teardown(void **state)
{
	static const char *const names[] = {"10-sa.yaml", "20-role.yaml", "21-binding.yaml",
					    "30-quota.yaml", "40-extra.yaml", "50-bad.yaml"};

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		remove_file(names[i]);
	rmdir(dir);
	kube_client_close(cli);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return 0;
}

/* Options for projects p1, p2 x domains dev, prod with the quota values. */
struct opts {
	struct spok_platform plat;
	struct prov_opts o;
};

static void opts_init(struct opts *x, const char *a, const char *b)
{
	struct spok_cluster_resources *cr = &x->plat.spok.cluster_resources;

	spok_platform_init(&x->plat);
	cr->templates_dir = xstrdup(dir);
	spok_strv_push(&cr->projects, a);
	if (b != NULL)
		spok_strv_push(&cr->projects, b);
	spok_strv_push(&cr->domains, "dev");
	spok_strv_push(&cr->domains, "prod");
	spok_strmap_set(&cr->values, "cpu", "4");
	spok_strmap_set(&cr->values, "apps", "10");
	x->o = (struct prov_opts){.platform = &x->plat, .cr = cr, .prune = true};
}

static int sync_run(struct opts *x, json_t **report, struct spok_err *err)
{
	return prov_sync(cli, &x->o, report, err);
}

/* Number of report entries with this action (NULL: all). */
static size_t count(const json_t *report, const char *action)
{
	const json_t *nss = json_object_get(report, "namespaces");
	size_t n = 0;

	for (size_t i = 0; i < json_array_size(nss); i++) {
		const json_t *objs = json_object_get(json_array_get(nss, i), "objects");

		for (size_t j = 0; j < json_array_size(objs); j++)
			n += action == NULL || strcmp(json_string_value(json_object_get(
				json_array_get(objs, j), "action")), action) == 0;
	}
	return n;
}

static bool has_line(const json_t *report, const char *ns, const char *ref, const char *action)
{
	const json_t *nss = json_object_get(report, "namespaces");

	for (size_t i = 0; i < json_array_size(nss); i++) {
		const json_t *e = json_array_get(nss, i);
		const json_t *objs = json_object_get(e, "objects");

		if (strcmp(json_string_value(json_object_get(e, "namespace")), ns) != 0)
			continue;
		for (size_t j = 0; j < json_array_size(objs); j++) {
			const json_t *o = json_array_get(objs, j);

			if (strcmp(json_string_value(json_object_get(o, "ref")), ref) == 0 &&
			    strcmp(json_string_value(json_object_get(o, "action")), action) == 0)
				return true;
		}
	}
	return false;
}

static int request(const char *method, const char *path, const json_t *body, json_t **out)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct kube_req req = {.method = method, .path = path, .body = text,
			       .body_len = text ? strlen(text) : 0};
	struct kube_sync s = {0};
	int result = kube_request(cli, &req, kube_sync_cb, &s, NULL);

	assert_int_equal(result, 0);
	result = kube_sync_wait(cli, &s, NULL);
	if (out != NULL)
		*out = json_incref(s.body);
	kube_sync_free(&s);
	free(text);
	return result;
}

/* GET and return metadata.resourceVersion (caller frees), or NULL on 404. */
static char *rv_of(const char *path)
{
	json_t *o = NULL;
	char *rv = NULL;

	if (request("GET", path, NULL, &o) == 0)
		rv = xstrdup(json_string_value(json_object_get(json_object_get(o, "metadata"),
							       "resourceVersion")));
	json_decref(o);
	return rv;
}

static bool can_as(const char *sa_ns, const char *sa, const char *ns, const char *verb,
		   const char *group, const char *resource)
{
	char *user = xasprintf("system:serviceaccount:%s:%s", sa_ns, sa);
	char *grp = xasprintf("system:serviceaccounts:%s", sa_ns);
	json_t *review = json_pack(
		"{s:s,s:s,s:{s:s,s:[s,s],s:{s:s,s:s,s:s,s:s}}}", "apiVersion",
		"authorization.k8s.io/v1", "kind", "SubjectAccessReview", "spec", "user", user,
		"groups", "system:serviceaccounts", grp, "resourceAttributes", "namespace", ns, "verb",
		verb, "group", group, "resource", resource);
	json_t *out = NULL;
	bool allowed;

	assert_int_equal(request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
				 review, &out), 0);
	allowed = json_is_true(json_object_get(json_object_get(out, "status"), "allowed"));
	json_decref(out);
	json_decref(review);
	free(user);
	free(grp);
	return allowed;
}

static bool can(const char *sa_ns, const char *ns, const char *verb, const char *resource)
{
	return can_as(sa_ns, "spark", ns, verb, "", resource);
}

static const char *const paths[] = {
	"/api/v1/namespaces/%s",
	"/api/v1/namespaces/%s/serviceaccounts/spark",
	"/apis/rbac.authorization.k8s.io/v1/namespaces/%s/roles/spark-role",
	"/apis/rbac.authorization.k8s.io/v1/namespaces/%s/rolebindings/spark-role-binding",
	"/api/v1/namespaces/%s/resourcequotas/spark-quota",
	"/api/v1/namespaces/%s/configmaps/extra",
	"/apis/sparkoperator.k8s.io/v1beta2/namespaces/%s/sparkapplications/canary",
};
#define NPATHS (sizeof(paths) / sizeof(paths[0]))

static void rvs(const char *ns, char *out[NPATHS])
{
	for (size_t i = 0; i < NPATHS; i++) {
		const char *at = strstr(paths[i], "%s");
		char *p = xasprintf("%.*s%s%s", (int)(at - paths[i]), paths[i], ns, at + 2);

		out[i] = rv_of(p);
		free(p);
	}
}

static void rvs_free(char *v[NPATHS])
{
	for (size_t i = 0; i < NPATHS; i++)
		free(v[i]);
}

/* Sync two projects x two domains; RBAC checked by the API server; then idempotence. */
static void test_sync_rbac_idempotent(void **state)
{
	struct opts x;
	struct spok_err err = {0};
	json_t *report = NULL;
	char ns1[64], ns2[64];
	char *before[NPATHS], *after[NPATHS];
	json_t *quota = NULL;
	char *qp;

	(void)state;
	opts_init(&x, p1, p2);
	if (sync_run(&x, &report, &err) != 0)
		fail_msg("%s", err.msg);
	snprintf(ns1, sizeof(ns1), "%s-dev", p1);
	snprintf(ns2, sizeof(ns2), "%s-dev", p2);
	assert_int_equal(json_array_size(json_object_get(report, "namespaces")), 4);
	assert_int_equal(count(report, NULL), 4 * 7);
	assert_int_equal(count(report, "serverside-applied"), 4 * 7);
	assert_true(has_line(report, ns1, "role.rbac.authorization.k8s.io/spark-role",
			     "serverside-applied"));
	assert_true(has_line(report, ns1, "sparkapplication.sparkoperator.k8s.io/canary",
			     "serverside-applied"));
	json_decref(report);

	/* RBAC as the API server's authorizer sees it */
	assert_true(can(ns1, ns1, "create", "pods"));
	assert_true(can(ns1, ns1, "delete", "pods"));
	assert_true(can(ns1, ns1, "list", "services"));
	assert_true(can(ns1, ns1, "create", "configmaps"));
	assert_true(can(ns1, ns1, "create", "persistentvolumeclaims"));
	assert_false(can(ns1, ns2, "create", "pods"));
	assert_false(can(ns1, ns2, "list", "services"));
	assert_false(can(ns1, ns1, "create", "secrets"));
	assert_false(can(ns1, ns1, "create", "sparkapplications"));
	/* what a driver does under direct submission too: its own pod, executor pods, their
	 * conf ConfigMap, on-demand PVCs, each created, watched and deleted (also in bulk) */
	{
		static const char *const res[] = {"pods", "services", "configmaps",
						  "persistentvolumeclaims"};
		static const char *const verbs[] = {"create", "get", "list", "watch", "delete",
						    "deletecollection"};

		for (size_t r = 0; r < sizeof(res) / sizeof(res[0]); r++)
			for (size_t v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++)
				if (!can(ns1, ns1, verbs[v], res[r]))
					fail_msg("spark may not %s %s in %s", verbs[v], res[r], ns1);
	}
	/* the quota exists with the rendered values */
	qp = xasprintf("/api/v1/namespaces/%s/resourcequotas/spark-quota", ns2);
	assert_int_equal(request("GET", qp, NULL, &quota), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(
		quota, "spec"), "hard"), "requests.cpu")), "4");
	json_decref(quota);
	free(qp);

	/* idempotence: a second run changes nothing */
	rvs(ns1, before);
	for (size_t i = 0; i < NPATHS; i++)
		assert_non_null(before[i]);
	if (sync_run(&x, &report, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(count(report, "unchanged"), 4 * 7);
	assert_true(has_line(report, ns1, "serviceaccount/spark", "unchanged"));
	json_decref(report);
	rvs(ns1, after);
	for (size_t i = 0; i < NPATHS; i++)
		assert_string_equal(before[i], after[i]);
	rvs_free(before);
	rvs_free(after);
	spok_platform_free(&x.plat);
}

/* A changed value is applied; removing a template prunes its objects (a CRD kind too);
 * objects without the managed-by label are never touched. */
static void test_change_and_prune(void **state)
{
	struct opts x;
	struct spok_err err = {0};
	json_t *report = NULL, *cm;
	char ns[64];
	char *cmp, *before[NPATHS], *after[NPATHS];

	(void)state;
	opts_init(&x, p3, NULL);
	if (sync_run(&x, &report, &err) != 0)
		fail_msg("%s", err.msg);
	json_decref(report);
	snprintf(ns, sizeof(ns), "%s-dev", p3);
	cm = json_pack("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
		       "metadata", "name", "keep-me", "data", "a", "b");
	cmp = xasprintf("/api/v1/namespaces/%s/configmaps", ns);
	assert_int_equal(request("POST", cmp, cm, NULL), 0);
	json_decref(cm);
	free(cmp);

	/* a changed value: only the quota changes */
	spok_strmap_set(&x.plat.spok.cluster_resources.values, "cpu", "6");
	rvs(ns, before);
	if (sync_run(&x, &report, &err) != 0)
		fail_msg("%s", err.msg);
	assert_true(has_line(report, ns, "resourcequota/spark-quota", "serverside-applied"));
	assert_int_equal(count(report, "serverside-applied"), 2); /* quota in -dev and -prod */
	json_decref(report);
	rvs(ns, after);
	assert_string_not_equal(before[4], after[4]);
	assert_string_equal(before[1], after[1]);
	rvs_free(before);
	rvs_free(after);

	/* remove a template: its objects go, the rest stay */
	remove_file("40-extra.yaml");
	rvs(ns, before);
	if (sync_run(&x, &report, &err) != 0)
		fail_msg("%s", err.msg);
	assert_true(has_line(report, ns, "configmap/extra", "pruned"));
	assert_true(has_line(report, ns, "sparkapplication.sparkoperator.k8s.io/canary", "pruned"));
	assert_int_equal(count(report, "pruned"), 4);
	assert_int_equal(count(report, "unchanged"), 2 * 5);
	json_decref(report);
	rvs(ns, after);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(before[i], after[i]);
	assert_null(after[5]);
	assert_null(after[6]);
	cmp = xasprintf("/api/v1/namespaces/%s/configmaps/keep-me", ns);
	assert_int_equal(request("GET", cmp, NULL, NULL), 0);
	free(cmp);
	rvs_free(before);
	rvs_free(after);
	write_file("40-extra.yaml", T_EXTRA);
	spok_platform_free(&x.plat);
}

/* want with @F = the bad template's path, @D = the template dir, @P = this pid. */
static char *expand(const char *want)
{
	struct spok_buf b;
	char pid[32];

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	spok_buf_init(&b, 0);
	for (const char *p = want; *p; p++) {
		if (p[0] == '@' && (p[1] == 'F' || p[1] == 'D' || p[1] == 'P')) {
			spok_buf_appends(&b, p[1] == 'P' ? pid : dir);
			if (p[1] == 'F')
				spok_buf_appends(&b, "/50-bad.yaml");
			p++;
		} else {
			spok_buf_append(&b, p, 1);
		}
	}
	return spok_buf_detach(&b);
}

/* Bad templates: one line naming the file, nothing written for any namespace. */
static void bad(const char *text, const char *want_pattern)
{
	struct opts x;
	struct spok_err err = {0};
	json_t *report = NULL;
	char ns[64], *want, *nsp;
	int result;

	snprintf(ns, sizeof(ns), "bad%ld", (long)getpid());
	opts_init(&x, ns, NULL);
	write_file("50-bad.yaml", text);
	result = sync_run(&x, &report, &err);
	remove_file("50-bad.yaml"); /* before any assertion, so later tests do not see it */
	assert_int_equal(result, SPOK_EINVAL);
	want = expand(want_pattern);
	assert_string_equal(err.msg, want);
	assert_int_equal(count(report, NULL), 0);
	json_decref(report);
	nsp = xasprintf("/api/v1/namespaces/%s-dev", ns);
	assert_int_equal(request("GET", nsp, NULL, NULL), SPOK_ENOTFOUND);
	free(nsp);
	free(want);
	spok_platform_free(&x.plat);
}

static void test_bad_templates(void **state)
{
	(void)state;
	bad("apiVersion: v1\nmetadata: {name: x}\n",
	    "@F: kind is missing or not a string; every template needs apiVersion, kind and "
	    "metadata.name");
	bad("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: '{{ owner }}'}\n",
	    "@F:3: undefined template variable 'owner'; define it under "
	    "spok.cluster-resources.values (or project-values)");
	bad("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: default}\n",
	    "@F: metadata.namespace 'default' is not the target namespace 'bad@P-dev'; "
	    "remove it or write {{ namespace }}");
	bad("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n",
	    "@F:4:1: did not find expected ',' or '}' while parsing a flow mapping that starts "
	    "at 3:11; fix the YAML syntax");
	bad("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: x}\n",
	    "@F: apiVersion 'example.com/v1' is not served by the API server; install its CRD "
	    "first or fix apiVersion");
	bad("apiVersion: v1\nkind: Widget\nmetadata: {name: x}\n",
	    "@F: kind 'Widget' is not served under apiVersion 'v1'; check the spelling (kinds are "
	    "case-sensitive)");
	bad("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: x}\n",
	    "@F: ClusterRole is cluster-scoped; cluster sync manages namespaced objects (and the "
	    "Namespace) only");
	bad("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: spark}\n",
	    "@F: ServiceAccount 'spark' is also defined in @D/10-sa.yaml; "
	    "object names must be unique per kind");
}

/* Dry run: the server evaluates everything, nothing is stored. */
static void test_dry_run(void **state)
{
	struct opts x;
	struct spok_err err = {0};
	json_t *report = NULL;
	char p[64], *nsp;

	(void)state;
	snprintf(p, sizeof(p), "dry%ld", (long)getpid());
	opts_init(&x, p, NULL);
	x.o.dry_run = true;
	if (sync_run(&x, &report, &err) != 0)
		fail_msg("%s", err.msg);
	assert_true(json_is_true(json_object_get(report, "dryRun")));
	assert_int_equal(count(report, "serverside-applied"), 2 * 7);
	json_decref(report);
	nsp = xasprintf("/api/v1/namespaces/%s-dev", p);
	assert_int_equal(request("GET", nsp, NULL, NULL), SPOK_ENOTFOUND);
	free(nsp);
	/* on existing namespaces a dry run reports unchanged objects as unchanged */
	spok_platform_free(&x.plat);
	opts_init(&x, p1, NULL);
	x.o.dry_run = true;
	if (sync_run(&x, &report, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(count(report, "unchanged"), 2 * 7);
	json_decref(report);
	spok_platform_free(&x.plat);
}

/* deploy/spok: every manifest passes the API server's validation and admission (server-side
 * apply with dryRun=All); the Namespace, ServiceAccount and RBAC are applied for real so the
 * dry runs have a namespace and the RBAC can be checked with SubjectAccessReview. */
static void apply_manifest(json_t *obj, const char *where, struct prov_kinds *kinds, bool dry)
{
	const struct prov_kind *k = NULL;
	struct spok_err err = {0};
	struct kube_gvr gvr;
	char *path, *text, *query;
	struct kube_req req = {.method = "PATCH", .content_type = "application/apply-patch+yaml"};
	struct kube_sync ks = {0};
	const char *ns = json_string_value(json_object_get(json_object_get(obj, "metadata"),
							   "namespace"));

	if (prov_kind_resolve(cli, kinds, json_string_value(json_object_get(obj, "apiVersion")),
			      json_string_value(json_object_get(obj, "kind")), where, &k, &err) != 0)
		fail_msg("%s", err.msg);
	if (k->namespaced && ns == NULL)
		fail_msg("%s: namespaced object without metadata.namespace", where);
	gvr = (struct kube_gvr){k->group, k->version, k->resource};
	path = kube_path(&gvr, k->namespaced ? ns : NULL,
			 json_string_value(json_object_get(json_object_get(obj, "metadata"), "name")),
			 NULL);
	text = json_dumps(obj, JSON_COMPACT);
	query = xasprintf("fieldManager=spok-test&force=true%s", dry ? "&dryRun=All" : "");
	req.path = path;
	req.query = query;
	req.body = text;
	req.body_len = strlen(text);
	assert_int_equal(kube_request(cli, &req, kube_sync_cb, &ks, NULL), 0);
	if (kube_sync_wait(cli, &ks, &err) != 0)
		fail_msg("%s: %s", where, err.msg);
	kube_sync_free(&ks);
	free(query);
	free(text);
	free(path);
}

static void test_deploy_manifests(void **state)
{
	static const char *const for_real[] = {"Namespace", "ServiceAccount", "ClusterRole",
					       "ClusterRoleBinding"};
	const char *src = getenv("SPOK_SOURCE_DIR");
	struct prov_templates t = {0};
	struct prov_kinds kinds = {0};
	struct spok_err err = {0};
	char *dirp;
	size_t n = 0;

	(void)state;
	assert_non_null(src);
	dirp = xasprintf("%s/deploy/spok", src);
	if (prov_templates_load(&t, dirp, &err) != 0)
		fail_msg("%s", err.msg);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < t.len; i++) {
			json_t *obj = spok_yaml_to_json(t.docs[i].text, strlen(t.docs[i].text),
							t.docs[i].path, &err);
			const char *kind;
			bool real = false;

			if (obj == NULL)
				fail_msg("%s", err.msg);
			if (json_is_null(obj)) {
				json_decref(obj);
				continue;
			}
			kind = json_string_value(json_object_get(obj, "kind"));
			assert_non_null(kind);
			for (size_t j = 0; j < sizeof(for_real) / sizeof(for_real[0]); j++)
				real = real || strcmp(kind, for_real[j]) == 0;
			/* pass 0: what must exist; pass 1: everything else as a dry run */
			if (pass == 0 && real)
				apply_manifest(obj, t.docs[i].path, &kinds, false);
			else if (pass == 1 && !real)
				apply_manifest(obj, t.docs[i].path, &kinds, true);
			n += pass == 1;
			json_decref(obj);
		}
	}
	assert_int_equal(n, 9); /* ... 60-service, 61-connector-service */
	/* spok's service account can do what serve and cluster sync need, in any namespace */
	assert_true(can_as("spok-system", "spok", "any-ns", "create", "sparkoperator.k8s.io",
			   "sparkapplications"));
	assert_true(can_as("spok-system", "spok", "any-ns", "watch", "sparkoperator.k8s.io",
			   "sparkapplications"));
	assert_true(can_as("spok-system", "spok", "any-ns", "patch", "rbac.authorization.k8s.io",
			   "roles"));
	assert_true(can_as("spok-system", "spok", "", "patch", "", "namespaces"));
	assert_true(can_as("spok-system", "spok", "any-ns", "patch", "", "resourcequotas"));
	assert_true(can_as("spok-system", "spok", "any-ns", "get", "", "pods"));
	/* direct submission: spok's own objects in any job namespace */
	{
		static const char *const res[] = {"pods", "services", "configmaps"};
		static const char *const verbs[] = {"create", "get", "list", "watch", "patch",
						    "delete", "deletecollection"};

		for (size_t r = 0; r < sizeof(res) / sizeof(res[0]); r++)
			for (size_t v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++)
				if (!can_as("spok-system", "spok", "any-ns", verbs[v], "", res[r]))
					fail_msg("spok may not %s %s", verbs[v], res[r]);
	}
	assert_false(can_as("spok-system", "spok", "any-ns", "get", "", "secrets"));
	assert_false(can_as("spok-system", "spok", "any-ns", "create", "rbac.authorization.k8s.io",
			    "clusterroles"));
	prov_kinds_free(&kinds);
	prov_templates_free(&t);
	free(dirp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sync_rbac_idempotent),
		cmocka_unit_test(test_change_and_prune),
		cmocka_unit_test(test_bad_templates),
		cmocka_unit_test(test_dry_run),
		cmocka_unit_test(test_deploy_manifests),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
