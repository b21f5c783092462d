/* test_template.c - template rendering, document splitting, checks (no API server). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "provision/provision.h"
#include "jobfile/jobfile.h"

static struct spok_strmap vars(void)
{
	struct spok_strmap m = {0};

	spok_strmap_set(&m, "namespace", "flytesnacks-development");
	spok_strmap_set(&m, "project", "flytesnacks");
	spok_strmap_set(&m, "domain", "development");
	spok_strmap_set(&m, "cpu", "8");
	spok_strmap_set(&m, "a.b-c_d", "x");
	return m;
}

static char *render_ok(const char *in)
{
	struct spok_strmap m = vars();
	struct spok_err err = {0};
	char *out = NULL;

	if (prov_render(in, strlen(in), "t.yaml", &m, &out, &err) != 0)
		fail_msg("%s", err.msg);
	spok_strmap_free(&m);
	return out;
}

static void render_err(const char *in, const char *want)
{
	struct spok_strmap m = vars();
	struct spok_err err = {0};
	char *out = (char *)1;

	assert_int_equal(prov_render(in, strlen(in), "dir/t.yaml", &m, &out, &err), SPOK_EINVAL);
	assert_null(out);
	assert_string_equal(err.msg, want);
	spok_strmap_free(&m);
}

static void test_render_forms(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"name: {{ namespace }}", "name: flytesnacks-development"},
		{"{{namespace}}", "flytesnacks-development"},
		{"{{\tproject  }}-{{domain}}", "flytesnacks-development"},
		{"cpu: \"{{ cpu }}\"", "cpu: \"8\""},
		{"{{ a.b-c_d }}", "x"},
		{"no placeholders", "no placeholders"},
		{"", ""},
		/* not placeholders: left as they are (Go templates in a ConfigMap, say) */
		{"{{ .Values.x }}", "{{ .Values.x }}"},
		{"{{ 1abc }}", "{{ 1abc }}"},
		{"{{ cpu", "{{ cpu"},
		{"{{ cpu }", "{{ cpu }"},
		{"{{{{ cpu }}}}", "{{8}}"},
		{"{{", "{{"},
		{"}}", "}}"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = render_ok(cases[i].in);

		assert_string_equal(out, cases[i].out);
		free(out);
	}
}

static void test_render_errors(void **state)
{
	char longname[300];

	(void)state;
	render_err("a: 1\nb: {{ nope }}\n",
		   "dir/t.yaml:2: undefined template variable 'nope'; define it under "
		   "spok.cluster-resources.values (or project-values)");
	memset(longname, 'a', sizeof(longname));
	memcpy(longname, "{{ ", 3);
	memcpy(longname + 200, " }}", 4);
	render_err(longname, "dir/t.yaml:1: template variable name longer than 128 characters; "
		   "use a shorter name");
}

static void test_split(void **state)
{
	const char *text = "# head\n---\na: 1\n---\n\n---   \nb: 2\n--- c: 3\n";
	struct prov_templates t = {0};
	struct spok_err err = {0};

	(void)state;
	assert_int_equal(prov_templates_add(&t, "d/x.yaml", text, strlen(text), &err), 0);
	assert_int_equal(t.len, 5);
	assert_string_equal(t.docs[0].file, "x.yaml");
	assert_string_equal(t.docs[0].text, "# head\n");
	assert_string_equal(t.docs[1].text, "\n\na: 1\n");   /* line numbers kept */
	assert_int_equal(t.docs[1].index, 2);
	assert_string_equal(t.docs[3].text, "\n\n\n\n\n   \nb: 2\n");
	assert_string_equal(t.docs[4].text, "\n\n\n\n\n\n\n c: 3\n");
	prov_templates_free(&t);
	/* "----" and "---x" are content, not markers */
	text = "a: |\n  ----\n  ---x\n";
	assert_int_equal(prov_templates_add(&t, "x.yaml", text, strlen(text), &err), 0);
	assert_int_equal(t.len, 1);
	prov_templates_free(&t);
}

static int build(const char *text, json_t **out, struct spok_err *err)
{
	struct prov_templates t = {0};
	struct spok_strmap m = vars();
	int result = prov_templates_add(&t, "tmpl/x.yaml", text, strlen(text), err);

	*out = NULL;
	if (result == 0)
		result = prov_build(&t.docs[t.len - 1], &m, "flytesnacks-development", out, err);
	spok_strmap_free(&m);
	prov_templates_free(&t);
	return result;
}

static void test_build(void **state)
{
	struct spok_err err = {0};
	json_t *o;

	(void)state;
	assert_int_equal(build("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: spark\n"
			       "  labels: {a: b}\n", &o, &err), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "metadata"),
								"namespace")), "flytesnacks-development");
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(o,
		"metadata"), "labels"), PROV_LABEL_MANAGED)), PROV_LABEL_VALUE);
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(o,
		"metadata"), "labels"), "a")), "b");
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(o,
		"metadata"), "annotations"), PROV_ANN_TEMPLATE)), "x.yaml");
	json_decref(o);
	assert_int_equal(build("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: '{{ namespace }}'\n",
			       &o, &err), 0);
	assert_null(json_object_get(json_object_get(o, "metadata"), "namespace"));
	json_decref(o);
	assert_int_equal(build("# nothing here\n", &o, &err), 0);
	assert_null(o);
}

static void build_err(const char *text, const char *want)
{
	struct spok_err err = {0};
	json_t *o = NULL;

	assert_int_equal(build(text, &o, &err), SPOK_EINVAL);
	assert_null(o);
	assert_string_equal(err.msg, want);
}

static void test_build_errors(void **state)
{
	(void)state;
	build_err("kind: Role\nmetadata: {name: x}\n",
		  "tmpl/x.yaml: apiVersion is missing or not a string; every template needs "
		  "apiVersion, kind and metadata.name");
	build_err("apiVersion: v1\nmetadata: {name: x}\n",
		  "tmpl/x.yaml: kind is missing or not a string; every template needs apiVersion, "
		  "kind and metadata.name");
	build_err("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
		  "tmpl/x.yaml: metadata.name is missing or not a string; every template needs "
		  "apiVersion, kind and metadata.name");
	build_err("apiVersion: v1\nkind: ConfigMap\n",
		  "tmpl/x.yaml: metadata is missing or not a mapping; every template needs "
		  "apiVersion, kind and metadata.name");
	build_err("- a\n", "tmpl/x.yaml: expected a Kubernetes object (a mapping); one object per "
		  "YAML document");
	build_err("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: other}\n",
		  "tmpl/x.yaml: metadata.namespace 'other' is not the target namespace "
		  "'flytesnacks-development'; remove it or write {{ namespace }}");
	build_err("apiVersion: v1\nkind: Namespace\nmetadata: {name: other}\n",
		  "tmpl/x.yaml: Namespace 'other' is not the target namespace "
		  "'flytesnacks-development'; name it {{ namespace }}");
	build_err("a: 1\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, labels: [a]}\n",
		  "tmpl/x.yaml (document 2): metadata.labels must be a mapping of strings; "
		  "write labels: {key: value}");
	/* YAML errors keep the file's line numbers across documents */
	build_err("a: 1\n---\nb: [\n", "tmpl/x.yaml:4:1: did not find expected node content while parsing a flow node; fix the YAML syntax");
}

static void test_vars(void **state)
{
	struct spok_cluster_resources cr = {0};
	struct spok_project_values pv = {0};
	struct spok_strmap out = {0};

	(void)state;
	spok_strmap_set(&cr.values, "cpu", "4");
	spok_strmap_set(&cr.values, "project", "ignored");
	pv.project = xstrdup("p1");
	spok_strmap_set(&pv.values, "cpu", "16");
	cr.project_values = xmalloc(sizeof(pv));
	cr.project_values[0] = pv;
	cr.nproject_values = 1;
	prov_vars(&cr, "p1-dev", "p1", "dev", &out);
	assert_string_equal(spok_strmap_get(&out, "cpu"), "16");
	assert_string_equal(spok_strmap_get(&out, "project"), "p1");
	assert_string_equal(spok_strmap_get(&out, "namespace"), "p1-dev");
	spok_strmap_free(&out);
	prov_vars(&cr, "p2-dev", "p2", "dev", &out);
	assert_string_equal(spok_strmap_get(&out, "cpu"), "4");
	spok_strmap_free(&out);
	spok_cluster_resources_free(&cr);
}

static void test_ref(void **state)
{
	char *r;

	(void)state;
	r = prov_ref("rbac.authorization.k8s.io/v1", "Role", "spark-role");
	assert_string_equal(r, "role.rbac.authorization.k8s.io/spark-role");
	free(r);
	r = prov_ref("v1", "ServiceAccount", "spark");
	assert_string_equal(r, "serviceaccount/spark");
	free(r);
}

static void test_load_dir(void **state)
{
	char dir[] = "/tmp/spok-prov-XXXXXX";
	struct prov_templates t = {0};
	struct spok_err err = {0};
	char path[128];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(prov_templates_load(&t, dir, &err), SPOK_EINVAL);
	snprintf(path, sizeof(path), "%s/b.yaml", dir);
	f = fopen(path, "w");
	fputs("a: 1\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/a.yml", dir);
	f = fopen(path, "w");
	fputs("a: 1\n---\nb: 2\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/.hidden.yaml", dir);
	f = fopen(path, "w");
	fclose(f);
	snprintf(path, sizeof(path), "%s/README.md", dir);
	f = fopen(path, "w");
	fclose(f);
	assert_int_equal(prov_templates_load(&t, dir, &err), 0);
	assert_int_equal(t.len, 3);
	assert_string_equal(t.docs[0].file, "a.yml");
	assert_string_equal(t.docs[2].file, "b.yaml");
	prov_templates_free(&t);
	for (const char *n = "a.yml"; n; n = strcmp(n, "a.yml") == 0 ? "b.yaml" :
	     strcmp(n, "b.yaml") == 0 ? ".hidden.yaml" : strcmp(n, ".hidden.yaml") == 0 ? "README.md" : NULL) {
		snprintf(path, sizeof(path), "%s/%s", dir, n);
		unlink(path);
	}
	rmdir(dir);
	assert_int_equal(prov_templates_load(&t, "/nonexistent-spok", &err), SPOK_EIO);
	assert_string_equal(err.msg, "/nonexistent-spok: cannot open the templates directory; check "
			    "spok.cluster-resources.templates-dir or --templates");
}

/* The shipped templates render for a typical namespace with the documented values. */
static void test_shipped_templates(void **state)
{
	const char *src = getenv("SPOK_SOURCE_DIR");
	struct spok_cluster_resources cr = {0};
	struct prov_templates t = {0};
	struct spok_strmap m = {0};
	struct spok_err err = {0};
	char *dir;

	(void)state;
	assert_non_null(src);
	dir = xasprintf("%s/deploy/cluster-resources", src);
	assert_int_equal(prov_templates_load(&t, dir, &err), 0);
	spok_strmap_set(&cr.values, "spark-quota-cpu", "16");
	spok_strmap_set(&cr.values, "spark-quota-memory", "64Gi");
	spok_strmap_set(&cr.values, "spark-quota-apps", "20");
	spok_strmap_set(&cr.values, "spark-quota-pods", "200");
	prov_vars(&cr, "flytesnacks-development", "flytesnacks", "development", &m);
	for (size_t i = 0; i < t.len; i++) {
		json_t *o = NULL;

		if (prov_build(&t.docs[i], &m, "flytesnacks-development", &o, &err) != 0)
			fail_msg("%s", err.msg);
		json_decref(o);
	}
	spok_strmap_free(&m);
	spok_cluster_resources_free(&cr);
	prov_templates_free(&t);
	free(dir);
}

/* spok.cluster-resources in the config file */
static void test_config(void **state)
{
	const char *text = "spok:\n  cluster-resources:\n    templates-dir: tmpl\n"
			   "    projects: [a, b]\n    values: {cpu: 4}\n"
			   "    project-values:\n      b: {cpu: '8'}\n";
	struct spok_platform p;
	struct spok_err err = {0};
	const struct spok_cluster_resources *cr = &p.spok.cluster_resources;

	(void)state;
	if (spok_config_parse(text, strlen(text), "/etc/spok/config.yaml", &p, &err) != 0)
		fail_msg("%s", err.msg);
	assert_string_equal(cr->templates_dir, "/etc/spok/tmpl");
	assert_int_equal(cr->projects.len, 2);
	assert_int_equal(cr->domains.len, 0);
	assert_string_equal(spok_strmap_get(&cr->values, "cpu"), "4");
	assert_int_equal(cr->nproject_values, 1);
	assert_string_equal(cr->project_values[0].project, "b");
	assert_string_equal(spok_strmap_get(&cr->project_values[0].values, "cpu"), "8");
	spok_platform_free(&p);
	text = "spok:\n  cluster-resources:\n    template-dir: x\n";
	assert_int_equal(spok_config_parse(text, strlen(text), "c.yaml", &p, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "templates-dir"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_forms),
		cmocka_unit_test(test_render_errors),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_build_errors),
		cmocka_unit_test(test_vars),
		cmocka_unit_test(test_ref),
		cmocka_unit_test(test_load_dir),
		cmocka_unit_test(test_shipped_templates),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
