/* test_sparkapp.c - unit tests of the pure helpers and of builder paths a job file cannot
 * express (k8s_pod targets, missing main file). Expected values were computed independently
 * (FNV-1a by hand / Python's base64 with the alphabet swapped), not read back from the code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "sparkapp/sparkapp.h"

static void expect_name(const char *const *parts, size_t n, int max, const char *want)
{
	char *got = spok_generated_name(parts, n, max);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_generated_name(void **state)
{
	const char *short_parts[] = {"abc123", "n0", "0"};
	const char *long_parts[] = {"a-very-long-execution-name-that-overflows-the-limit", "n0", "0"};
	const char *a[] = {"a"};
	const char *empty_first[] = {"", "n0", "1"};
	const char *x40[] = {"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "n0", "0"};
	(void)state;
	expect_name(short_parts, 3, 50, "abc123-n0-0");
	/* 56 chars > 50: FNV-1a-32 = 0xfa718625 -> base32 "6jyymji" */
	expect_name(long_parts, 3, 50, "f6jyymji");
	expect_name(a, 1, 1, "a");
	/* FNV-1a-32 of 40 x's + "-n0-0" (45 chars) computed with Python: "fpsjdsiy" */
	expect_name(x40, 3, 44, "fpsjdsiy");
	expect_name(x40, 3, 45, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx-n0-0");
	/* no separator while the joined string is still empty */
	expect_name(empty_first, 3, 50, "n0-1");
	assert_null(spok_generated_name(long_parts, 3, 7));
}

static void expect_dns(const char *in, const char *want)
{
	char *got = spok_dns1123_subdomain(in);
	assert_string_equal(got, want);
	free(got);
}

static void test_dns(void **state)
{
	char long_in[301];
	char *got;
	(void)state;
	expect_dns("abc-n0-0", "abc-n0-0");
	expect_dns("a.b-c", "a.b-c");
	expect_dns("MyExecution-n0-0", "my-execution-n0-0");
	expect_dns("aBC_d", "a-bcd");
	expect_dns("-x_y.", "xy");
	expect_dns("x..y", "x..y"); /* converted but still invalid: Flyte does not fix empty labels */
	memset(long_in, 'a', 300);
	long_in[300] = '\0';
	long_in[0] = 'A';
	got = spok_dns1123_subdomain(long_in);
	assert_int_equal(strlen(got), 232 + 1 + 8);
	assert_int_equal(got[232], '-');
	assert_int_equal(got[233], 'f');
	free(got);
}

static void expect_label(const char *in, const char *want)
{
	char *got = spok_label_value(in);
	assert_string_equal(got, want);
	free(got);
}

static void test_label_value(void **state)
{
	char long_in[80];
	(void)state;
	expect_label("n0", "n0");
	expect_label("My_Task.Name", "my-task-name");
	expect_label("__x__", "x");
	expect_label("a-__b", "a--b");
	expect_label("caf\xc3\xa9 x", "caf-x");
	memset(long_in, 'b', 79);
	long_in[79] = '\0';
	long_in[62] = '_';
	expect_label(long_in, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
}

static void expect_render(const char *in, const struct spok_exec *x, const char *gen,
			  const char *want)
{
	char *got = spok_render_arg(in, x, gen);
	assert_string_equal(got, want);
	free(got);
}

static void test_render(void **state)
{
	struct spok_exec x = {0}, none = {0};
	(void)state;
	x.namespace_ = "ns";
	x.input_prefix = "s3://b/m/p-d-e/n0/data/";
	x.output_prefix = "s3://b/m/p-d-e/n0/data/0";
	x.raw_output_prefix = "s3://b/raw/ab/e-n0-0";
	x.prev_checkpoint = "";
	expect_render("{{.Input}}", &x, "e-n0-0", "s3://b/m/p-d-e/n0/data/inputs.pb");
	expect_render("{{ $input }}", &x, NULL, "s3://b/m/p-d-e/n0/data/inputs.pb");
	expect_render("{{.InputPrefix}}", &x, NULL, "s3://b/m/p-d-e/n0/data/");
	expect_render("--o={{.outputprefix}}/x", &x, NULL, "--o=s3://b/m/p-d-e/n0/data/0/x");
	expect_render("{{.RawOutputDataPrefix}}", &x, NULL, "s3://b/raw/ab/e-n0-0");
	expect_render("{{.CheckpointOutputPrefix}}", &x, NULL,
		      "s3://b/raw/ab/e-n0-0/_flytecheckpoints");
	expect_render("{{.PrevCheckpointPrefix}}", &x, NULL, "\"\"");
	expect_render("{{\t.Namespace\n}}-{{.Namespace}}", &x, NULL, "ns-ns");
	expect_render("{{.PerRetryUniqueKey}}", &x, "9e-n0-0", "ae_n0_0");
	expect_render("{{.PerRetryUniqueKey}}", &x, "abc-n0-0", "abc_n0_0");
	/* not placeholders: '.' or '$' required, no unknown names, whole braces */
	expect_render("{{Input}} {{.Inputs.x}} {{.TaskTemplatePath}} {.Input}", &x, NULL,
		      "{{Input}} {{.Inputs.x}} {{.TaskTemplatePath}} {.Input}");
	/* values that are not known stay as they are */
	expect_render("{{.Input}} {{.OutputPrefix}} {{.PerRetryUniqueKey}}", &none, NULL,
		      "{{.Input}} {{.OutputPrefix}} {{.PerRetryUniqueKey}}");
	x.prev_checkpoint = "s3://prev";
	expect_render("{{.prevcheckpointprefix}}", &x, NULL, "s3://prev");
}

/* A task with the required fields, built directly (no job file). */
static void base_task(struct spok_task *t)
{
	spok_task_init(t);
	t->name = xstrdup("t");
	t->project = xstrdup("p");
	t->domain = xstrdup("d");
	t->image = xstrdup("img");
	t->main_application_file = xstrdup("local:///app.py");
}

static void base_exec(struct spok_exec *x)
{
	memset(x, 0, sizeof(*x));
	x->execution_name = "e";
	x->node_id = "n0";
	x->namespace_ = "ns";
	x->now_ms = 1000;
}

static int build(struct spok_task *t, struct spok_platform *p, struct spok_exec *x,
		 json_t **app, struct spok_err *err)
{
	return spok_sparkapp_build(t, p, x, app, err);
}

static void test_missing_main(void **state)
{
	struct spok_task t;
	struct spok_platform p;
	struct spok_exec x;
	struct spok_err err = {0};
	json_t *app = (json_t *)1;
	(void)state;
	base_task(&t);
	free(t.main_application_file);
	t.main_application_file = NULL;
	spok_platform_init(&p);
	base_exec(&x);
	assert_int_equal(build(&t, &p, &x, &app, &err), SPOK_EINVAL);
	assert_null(app);
	assert_non_null(strstr(err.msg, "either mainApplicationFile or mainClass must be set"));
	x.namespace_ = NULL;
	t.main_class = xstrdup("Main");
	assert_int_equal(build(&t, &p, &x, &app, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "namespace"));
	spok_task_free(&t);
	spok_platform_free(&p);
}

static void test_k8s_pod_target(void **state)
{
	struct spok_task t;
	struct spok_platform p;
	struct spok_exec x;
	struct spok_err err = {0};
	json_t *app = NULL, *env;
	(void)state;
	base_task(&t);
	t.k8s_pod.present = true;
	t.k8s_pod.pod_spec = json_pack(
		"{s:[{s:s, s:s, s:[s], s:{s:{s:s}}}, {s:s, s:s}], s:s}", "containers", "name",
		"main", "image", "podimg", "args", "{{.Namespace}}", "resources", "limits",
		"nvidia.com/gpu", "1", "name", "side", "image", "sideimg", "priorityClassName",
		"high");
	spok_strmap_set(&t.k8s_pod.labels, "from-pod", "yes");
	spok_platform_init(&p);
	p.k8s.resource_tolerations = json_pack("{s:[{s:s}]}", "nvidia.com/gpu", "key", "gpu");
	base_exec(&x);
	/* no primary container name: Flyte's config-missing error */
	assert_int_equal(build(&t, &p, &x, &app, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "config missing [primary_container_name] key"));
	spok_strmap_set(&t.config, "primary_container_name", "nope");
	assert_int_equal(build(&t, &p, &x, &app, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "primary container [nope] not defined"));
	spok_strmap_set(&t.config, "primary_container_name", "main");
	assert_int_equal(build(&t, &p, &x, &app, &err), SPOK_OK);
	assert_string_equal(json_string_value(json_object_get(json_object_get(app, "spec"), "image")),
			    "podimg");
	assert_string_equal(json_string_value(json_array_get(json_object_get(
				    json_object_get(app, "spec"), "arguments"), 0)), "ns");
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(
				    json_object_get(app, "spec"), "driver"), "labels"), "from-pod")),
			    "yes");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
				    json_object_get(app, "spec"), "executor"), "priorityClassName")),
			    "high");
	assert_int_equal(json_array_size(json_object_get(json_object_get(
				 json_object_get(app, "spec"), "executor"), "tolerations")), 1);
	env = json_object_get(json_object_get(json_object_get(app, "spec"), "driver"), "env");
	assert_int_equal(json_array_size(env), 9);
	json_decref(app);
	/* a bad target pod spec */
	json_decref(t.k8s_pod.pod_spec);
	t.k8s_pod.pod_spec = json_pack("{s:s}", "containers", "x");
	assert_int_equal(build(&t, &p, &x, &app, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "Unable to unmarshal task k8s pod"));
	spok_task_free(&t);
	spok_platform_free(&p);
}

static void test_conf_order(void **state)
{
	struct spok_task t;
	struct spok_platform p;
	struct spok_exec x;
	struct spok_strmap m = {0};
	(void)state;
	base_task(&t);
	spok_platform_init(&p);
	base_exec(&x);
	spok_strmap_set(&p.spark.spark_config_default, "spark.a", "default");
	spok_strmap_set(&t.spark_conf, "spark.z", "z");
	spok_strmap_set(&t.spark_conf, "spark.b", "b");
	/* spok's own switches (spok run's warm/cold) never reach Spark */
	spok_strmap_set(&t.spark_conf, "spok.warm", "default");
	spok_strmap_set(&t.spark_conf, "spok.cold", "false");
	t.executor_path = xstrdup("/py");
	spok_sparkapp_conf(&t, &p, &x, "gen", &m);
	assert_int_equal(m.len, 7);
	assert_null(spok_strmap_get(&m, "spok.warm"));
	assert_null(spok_strmap_get(&m, "spok.cold"));
	assert_string_equal(m.items[0].key, "spark.a");
	assert_string_equal(m.items[1].key, "spark.pyspark.python");
	assert_string_equal(m.items[2].key, "spark.pyspark.driver.python");
	assert_string_equal(m.items[3].key, "spark.b");
	assert_string_equal(m.items[4].key, "spark.z");
	assert_string_equal(m.items[5].value, "gen");
	assert_string_equal(m.items[6].value, "1000");
	spok_strmap_free(&m);
	spok_task_free(&t);
	spok_platform_free(&p);
}

static json_t *role(json_t *app, const char *name)
{
	return json_object_get(json_object_get(app, "spec"), name);
}

/* The resource names of all containers form one set (each name's tolerations once), the
 * task container's own resources included; a GPU accelerator adds Flyte's device
 * requirement and toleration; add-tolerations-for-extended-resources adds one per
 * requested resource unless an equal toleration is there. Expected lists as flyteplugins
 * v1.16.8 builds them (tests/conformance), in spok's sorted resource order. */
static void test_tolerations_and_gpu(void **state)
{
	struct spok_task t;
	struct spok_platform p;
	struct spok_exec x;
	struct spok_err err = {0};
	json_t *app = NULL, *want;
	(void)state;
	base_task(&t);
	spok_strmap_set(&t.resource_requests, "nvidia.com/gpu", "1");
	spok_strmap_set(&t.resource_limits, "nvidia.com/gpu", "1");
	spok_strmap_set(&t.resource_limits, "ephemeral-storage", "1Gi");
	t.gpu_accelerator = true;
	t.gpu_device = xstrdup("nvidia-tesla-t4");
	t.gpu_partition = SPOK_GPU_PARTITION_SIZE;
	t.gpu_partition_size = xstrdup("1g.5gb");
	spok_platform_init(&p);
	p.k8s.resource_tolerations = json_pack("{s:[{s:s}], s:[{s:s}], s:[{s:s}]}",
					       "nvidia.com/gpu", "key", "gpu", "cpu", "key", "cpu",
					       "ephemeral-storage", "key", "disk");
	p.k8s.default_tolerations = json_pack("[{s:s, s:s, s:s}]", "key", "nvidia.com/gpu",
					      "operator", "Exists", "effect", "NoSchedule");
	spok_strv_push(&p.k8s.add_tolerations_for_extended_resources, "nvidia.com/gpu");
	spok_strv_push(&p.k8s.add_tolerations_for_extended_resources, "ephemeral-storage");
	spok_strv_push(&p.k8s.add_tolerations_for_extended_resources, "example.com/fpga");
	base_exec(&x);
	assert_int_equal(build(&t, &p, &x, &app, &err), SPOK_OK);
	want = json_pack("[{s:s}, {s:s}, {s:s}, {s:s, s:s, s:s}, "
			 "{s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}, {s:s, s:s, s:s}]",
			 "key", "cpu", "key", "disk", "key", "gpu",
			 "key", "nvidia.com/gpu", "operator", "Exists", "effect", "NoSchedule",
			 "key", "k8s.amazonaws.com/accelerator", "operator", "Equal", "value",
			 "nvidia-tesla-t4", "effect", "NoSchedule",
			 "key", "k8s.amazonaws.com/gpu-partition-size", "operator", "Equal", "value",
			 "1g.5gb", "effect", "NoSchedule",
			 "key", "ephemeral-storage", "operator", "Exists", "effect", "NoSchedule");
	if (!json_equal(json_object_get(role(app, "executor"), "tolerations"), want))
		fail_msg("tolerations: %s", json_dumps(json_object_get(role(app, "executor"),
								      "tolerations"), 0));
	json_decref(want);
	want = json_pack("{s:{s:{s:[{s:[{s:s, s:s, s:[s]}, {s:s, s:s, s:[s]}]}]}}}",
			 "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
			 "nodeSelectorTerms", "matchExpressions",
			 "key", "k8s.amazonaws.com/accelerator", "operator", "In", "values",
			 "nvidia-tesla-t4", "key", "k8s.amazonaws.com/gpu-partition-size",
			 "operator", "In", "values", "1g.5gb");
	assert_true(json_equal(json_object_get(role(app, "driver"), "affinity"), want));
	json_decref(want);
	json_decref(app);
	/* no container asks for a GPU: the accelerator adds nothing */
	spok_strmap_free(&t.resource_requests);
	spok_strmap_free(&t.resource_limits);
	assert_int_equal(build(&t, &p, &x, &app, &err), SPOK_OK);
	assert_int_equal(json_object_size(json_object_get(role(app, "driver"), "affinity")), 0);
	assert_int_equal(json_array_size(json_object_get(role(app, "driver"), "tolerations")), 2);
	json_decref(app);
	spok_task_free(&t);
	spok_platform_free(&p);
}

static void test_path_is_local(void **state)
{
	(void)state;
	assert_true(spok_path_is_local("pi.py"));
	assert_true(spok_path_is_local("../jobs/pi.py"));
	assert_true(spok_path_is_local("/home/me/pi.py"));
	assert_true(spok_path_is_local("1x:/y"));      /* a scheme starts with a letter */
	assert_true(spok_path_is_local("my_dir:x.py")); /* '_' is not a scheme character */
	assert_false(spok_path_is_local("local:///opt/pi.py"));
	assert_false(spok_path_is_local("s3a://bucket/pi.py"));
	assert_false(spok_path_is_local("https://example.com/pi.py"));
	assert_false(spok_path_is_local("file:/tmp/pi.py"));
	assert_false(spok_path_is_local(""));
	assert_false(spok_path_is_local(NULL));
}

static unsigned char *dup_bytes(const unsigned char *p, size_t n)
{
	unsigned char *d = xmalloc(n);
	memcpy(d, p, n);
	return d;
}

static void test_ship(void **state)
{
	struct spok_task t;
	struct spok_ship s;
	struct spok_err err = {0};
	static unsigned char hello[] = "hello\n", ab[] = "ab";
	json_t *app, *cm, *want;
	const char *f;
	char *p;
	(void)state;

	spok_task_init(&t);
	t.source_path = xstrdup("/w/job.yaml");
	t.main_application_file = xstrdup("sub/pi.py");
	assert_int_equal(spok_ship_list(&t, &s, &err), SPOK_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.files[0].key, "pi.py");
	assert_string_equal(s.files[0].field, "mainApplicationFile");
	spok_ship_free(&s);
	free(t.main_application_file);
	t.main_application_file = xstrdup("sub/");
	assert_int_equal(spok_ship_list(&t, &s, &err), SPOK_EINVAL);
	assert_string_equal(err.msg, "mainApplicationFile sub/: the file name cannot be "
			    "shipped (a ConfigMap key: 1-253 letters, digits, '-', '_', '.'); rename the file");
	assert_int_equal(s.n, 0);
	free(t.main_application_file);
	t.main_application_file = xstrdup("local:///opt/pi.py");
	assert_int_equal(spok_ship_list(&t, &s, &err), SPOK_OK);
	assert_int_equal(s.n, 0);
	assert_null(spok_ship_first_local(&t, &f));

	/* pyFiles and files: local entries in order after the main file, URIs left out */
	spok_strv_push(&t.py_files, "s3a://b/m.egg");
	spok_strv_push(&t.py_files, "lib/helper.py");
	spok_strv_push(&t.files, "https://x/a.csv");
	spok_strv_push(&t.files, "/abs/data.txt");
	assert_string_equal(spok_ship_first_local(&t, &f), "lib/helper.py");
	assert_string_equal(f, "pyFiles");
	assert_int_equal(spok_ship_list(&t, &s, &err), SPOK_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.files[0].field, "pyFiles");
	assert_string_equal(s.files[0].key, "helper.py");
	assert_string_equal(s.files[1].field, "files");
	assert_string_equal(s.files[1].path, "/abs/data.txt");
	assert_string_equal(s.files[1].key, "data.txt");
	spok_ship_free(&s);
	free(t.main_application_file);
	t.main_application_file = xstrdup("data.txt");
	assert_string_equal(spok_ship_first_local(&t, &f), "data.txt");
	assert_string_equal(f, "mainApplicationFile");
	assert_int_equal(spok_ship_list(&t, &s, &err), SPOK_EINVAL);
	assert_string_equal(err.msg, "files /abs/data.txt: another shipped file (data.txt) has the "
			    "same base name; rename one of them");
	spok_task_free(&t);

	p = spok_ship_uri("../a/b/pi.py");
	assert_string_equal(p, "local:///opt/spok/files/pi.py");
	free(p);
	p = spok_ship_configmap_name("sp-x-n0-0");
	assert_string_equal(p, "sp-x-n0-0-files");
	free(p);

	/* base64 by Python: b"hello\n" -> aGVsbG8K, b"ab" -> YWI=, b"" -> "" */
	s.n = 3;
	s.files = xcalloc(3, sizeof(*s.files));
	s.files[0] = (struct spok_ship_file){.key = xstrdup("a.py"), .data = dup_bytes(hello, 6), .len = 6};
	s.files[1] = (struct spok_ship_file){.key = xstrdup("b.txt"), .data = dup_bytes(ab, 2), .len = 2};
	s.files[2] = (struct spok_ship_file){.key = xstrdup("empty")};
	app = json_pack("{s:{s:s,s:s,s:{s:s}}}", "metadata", "name", "sp-x-n0-0", "namespace", "ns1",
			"labels", "spok.dev/execution", "sp-x");
	cm = spok_ship_configmap(app, &s);
	want = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:b,s:{s:s,s:s,s:s}}", "apiVersion", "v1",
			 "kind", "ConfigMap", "metadata", "name", "sp-x-n0-0-files", "namespace", "ns1",
			 "labels", "spok.dev/execution", "sp-x", "immutable", 1, "binaryData",
			 "a.py", "aGVsbG8K", "b.txt", "YWI=", "empty", "");
	if (!json_equal(cm, want))
		fail_msg("configmap: %s", json_dumps(cm, JSON_COMPACT));
	json_decref(want);
	json_decref(cm);
	json_decref(app);
	spok_ship_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generated_name), cmocka_unit_test(test_dns),
		cmocka_unit_test(test_label_value),    cmocka_unit_test(test_render),
		cmocka_unit_test(test_missing_main),   cmocka_unit_test(test_k8s_pod_target),
		cmocka_unit_test(test_conf_order),
		cmocka_unit_test(test_tolerations_and_gpu),
		cmocka_unit_test(test_path_is_local),  cmocka_unit_test(test_ship),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
