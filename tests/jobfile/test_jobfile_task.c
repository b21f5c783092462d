/* Tests of spok_jobfile_parse_task / spok_jobfile_load_task. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/xalloc.h"
#include "jobfile/jobfile.h"

static const char full_job[] =
	"name: pi\n"
	"project: demo\n"
	"domain: production\n"
	"version: \"1\"\n"
	"type: scala\n"
	"mainApplicationFile: local:///opt/spark/examples/jars/spark-examples.jar\n"
	"mainClass: org.apache.spark.examples.SparkPi\n"
	"args: [\"1000\", 42, true, 1.5]\n"
	"sparkConf:\n"
	"  spark.executor.instances: 2\n"
	"  spark.executor.memory: 1g\n"
	"  spark.memory.fraction: 0.5\n"
	"  spark.dynamicAllocation.enabled: true\n"
	"  spark.empty:\n"
	"hadoopConf: {fs.s3a.fast.upload: \"true\"}\n"
	"executorPath: /usr/bin/python3\n"
	"image: apache/spark:4.0.5\n"
	"command: [/opt/entrypoint.sh, driver]\n"
	"env: {FOO: bar, N: 1}\n"
	"serviceAccount: spark-sa\n"
	"driverPod:\n"
	"  labels: {team: data}\n"
	"  annotations: {a: b}\n"
	"  primaryContainerName: spark-kubernetes-driver\n"
	"  podSpec:\n"
	"    containers:\n"
	"      - name: spark-kubernetes-driver\n"
	"        resources: {limits: {cpu: 1}}\n"
	"executorPod: {labels: {role: exec}}\n"
	"retries: 2\n"
	"timeout: 1h30m\n"
	"interruptible: true\n"
	"podTemplateName: tmpl\n"
	"labels: {l: v}\n"
	"annotations: {an: v}\n"
	"config: {link_type: dashboard}\n"
	"inputs: {n: integer, x: Float}\n"
	"outputs: {pi: float, at: datetime, d: duration, s: string, b: boolean}\n"
	"pyFiles: [lib/helper.py, local:///opt/deps/util.zip, s3a://b/m.egg]\n"
	"files:\n  - data.txt\n  - https://example.com/lookup.csv\n";

static void test_full(void **state)
{
	struct spok_err err = {0};
	struct spok_task t;
	json_t *c0;

	(void)state;
	if (spok_jobfile_parse_task(full_job, strlen(full_job), "job.yaml", &t, &err) != SPOK_OK)
		fail_msg("%s", err.msg);
	assert_int_equal(t.origin, SPOK_ORIGIN_SPEC);
	assert_string_equal(t.source_path, "job.yaml");
	assert_string_equal(t.name, "pi");
	assert_string_equal(t.project, "demo");
	assert_string_equal(t.domain, "production");
	assert_string_equal(t.version, "1");
	assert_int_equal(t.type, SPOK_APP_SCALA);
	assert_string_equal(t.main_application_file, "local:///opt/spark/examples/jars/spark-examples.jar");
	assert_string_equal(t.main_class, "org.apache.spark.examples.SparkPi");
	assert_int_equal(t.args.len, 4);
	assert_string_equal(t.args.items[0], "1000");
	assert_string_equal(t.args.items[1], "42");
	assert_string_equal(t.args.items[2], "true");
	assert_string_equal(t.args.items[3], "1.5");
	assert_int_equal(t.spark_conf.len, 5);
	assert_string_equal(t.spark_conf.items[0].key, "spark.executor.instances");
	assert_string_equal(t.spark_conf.items[0].value, "2");
	assert_string_equal(spok_strmap_get(&t.spark_conf, "spark.executor.memory"), "1g");
	assert_string_equal(spok_strmap_get(&t.spark_conf, "spark.memory.fraction"), "0.5");
	assert_string_equal(spok_strmap_get(&t.spark_conf, "spark.dynamicAllocation.enabled"), "true");
	assert_string_equal(spok_strmap_get(&t.spark_conf, "spark.empty"), "");
	assert_string_equal(spok_strmap_get(&t.hadoop_conf, "fs.s3a.fast.upload"), "true");
	assert_string_equal(t.executor_path, "/usr/bin/python3");
	assert_string_equal(t.image, "apache/spark:4.0.5");
	assert_int_equal(t.command.len, 2);
	assert_string_equal(t.command.items[1], "driver");
	assert_string_equal(spok_strmap_get(&t.env, "N"), "1");
	assert_string_equal(t.service_account, "spark-sa");
	assert_true(t.driver_pod.present);
	assert_string_equal(spok_strmap_get(&t.driver_pod.labels, "team"), "data");
	assert_string_equal(spok_strmap_get(&t.driver_pod.annotations, "a"), "b");
	assert_string_equal(t.driver_pod.primary_container_name, "spark-kubernetes-driver");
	c0 = json_array_get(json_object_get(t.driver_pod.pod_spec, "containers"), 0);
	assert_string_equal(json_string_value(json_object_get(c0, "name")), "spark-kubernetes-driver");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(c0, "resources"), "limits"), "cpu")), 1);
	assert_true(t.executor_pod.present);
	assert_null(t.executor_pod.pod_spec);
	assert_false(t.k8s_pod.present);
	assert_int_equal(t.retries, 2);
	assert_int_equal(t.timeout_s, 5400);
	assert_true(t.interruptible);
	assert_string_equal(t.pod_template_name, "tmpl");
	assert_string_equal(spok_strmap_get(&t.labels, "l"), "v");
	assert_string_equal(spok_strmap_get(&t.annotations, "an"), "v");
	assert_string_equal(spok_strmap_get(&t.config, "link_type"), "dashboard");
	assert_int_equal(t.inputs.len, 2);
	assert_string_equal(t.inputs.items[0].name, "n");
	assert_int_equal(t.inputs.items[0].type, SPOK_LIT_INTEGER);
	assert_int_equal(t.inputs.items[1].type, SPOK_LIT_FLOAT);
	assert_int_equal(t.outputs.len, 5);
	assert_int_equal(t.outputs.items[1].type, SPOK_LIT_DATETIME);
	assert_int_equal(t.outputs.items[2].type, SPOK_LIT_DURATION);
	assert_int_equal(t.outputs.items[3].type, SPOK_LIT_STRING);
	assert_int_equal(t.outputs.items[4].type, SPOK_LIT_BOOLEAN);
	assert_int_equal(t.py_files.len, 3);
	assert_string_equal(t.py_files.items[0], "lib/helper.py");
	assert_string_equal(t.py_files.items[1], "local:///opt/deps/util.zip");
	assert_string_equal(t.py_files.items[2], "s3a://b/m.egg");
	assert_int_equal(t.files.len, 2);
	assert_string_equal(t.files.items[0], "data.txt");
	assert_string_equal(t.files.items[1], "https://example.com/lookup.csv");
	spok_task_free(&t);
}

static void test_defaults(void **state)
{
	const char *y = "name: pi\nmainApplicationFile: pi.py\n";
	struct spok_err err = {0};
	struct spok_task t;

	(void)state;
	assert_int_equal(spok_jobfile_parse_task(y, strlen(y), NULL, &t, &err), SPOK_OK);
	assert_string_equal(t.source_path, "<input>");
	assert_string_equal(t.project, "spok");
	assert_string_equal(t.domain, "development");
	assert_null(t.version);
	assert_int_equal(t.type, SPOK_APP_PYTHON);
	assert_string_equal(t.main_application_file, "pi.py");
	assert_null(t.main_class);
	assert_null(t.image);
	assert_int_equal(t.args.len, 0);
	assert_int_equal(t.spark_conf.len, 0);
	assert_int_equal(t.retries, 0);
	assert_int_equal(t.timeout_s, 0);
	assert_false(t.interruptible);
	assert_false(t.driver_pod.present);
	spok_task_free(&t);
}

static void expect_timeout(const char *value, uint64_t want)
{
	char y[256];
	struct spok_err err = {0};
	struct spok_task t;

	snprintf(y, sizeof(y), "name: x\nmainClass: M\ntimeout: %s\n", value);
	if (spok_jobfile_parse_task(y, strlen(y), "j.yaml", &t, &err) != SPOK_OK)
		fail_msg("timeout %s: %s", value, err.msg);
	assert_int_equal(t.timeout_s, want);
	spok_task_free(&t);
}

static void test_conversions(void **state)
{
	(void)state;
	expect_timeout("0", 0);
	expect_timeout("90", 90);
	expect_timeout("\"90\"", 90);
	expect_timeout("90s", 90);
	expect_timeout("30m", 1800);
	expect_timeout("2h", 7200);
	expect_timeout("1h30m", 5400);
	expect_timeout("1h0m5s", 3605);
	expect_timeout("~", 0);
}

static void expect_error(const char *yaml, const char *msg)
{
	struct spok_err err = {0};
	struct spok_task t;

	assert_int_equal(spok_jobfile_parse_task(yaml, strlen(yaml), "job.yaml", &t, &err), SPOK_EINVAL);
	if (strcmp(err.msg, msg) != 0)
		fail_msg("for:\n%s\n got: %s\nwant: %s", yaml, err.msg, msg);
	/* nothing half-filled */
	assert_null(t.name);
	assert_null(t.source_path);
	assert_int_equal(t.spark_conf.len, 0);
	assert_int_equal(t.args.len, 0);
	assert_null(t.driver_pod.pod_spec);
}

#define HEAD "name: pi\nmainApplicationFile: pi.py\n"

static void test_errors(void **state)
{
	(void)state;
	expect_error(HEAD "sparkconf: {}\n",
		     "job.yaml:3:1: sparkconf: unknown key; did you mean 'sparkConf'?");
	expect_error(HEAD "mainAplicationFile: x\n",
		     "job.yaml:3:1: mainAplicationFile: unknown key; did you mean 'mainApplicationFile'?");
	expect_error(HEAD "driverPod: {lables: {}}\n",
		     "job.yaml:3:13: driverPod.lables: unknown key; did you mean 'labels'?");
	expect_error(HEAD "colour: red\n",
		     "job.yaml:3:1: colour: unknown key; see docs/JOBFILE.md for the valid keys");
	expect_error(HEAD "sparkConf:\n  spark.executor.instances:\n    x: 1\n",
		     "job.yaml:5:5: sparkConf.spark.executor.instances: expected a scalar value, got a mapping; quote the value");
	expect_error(HEAD "sparkConf: [a]\n",
		     "job.yaml:3:12: sparkConf: expected a mapping of key: value, got a list; write key: value pairs");
	expect_error(HEAD "args: 1000\n",
		     "job.yaml:3:7: args: expected a list, got a scalar; write [a, b] or one '- item' per line");
	expect_error(HEAD "args: [[1]]\n",
		     "job.yaml:3:8: args[0]: expected a scalar value, got a list; quote the value");
	expect_error(HEAD "image: [a]\n",
		     "job.yaml:3:8: image: expected a string, got a list; write a single value");
	expect_error(HEAD "interruptible: yes\n",
		     "job.yaml:3:16: interruptible: expected true or false, got 'yes'; write true or false (unquoted)");
	expect_error(HEAD "driverPod: {podSpec: [1]}\n",
		     "job.yaml:3:22: driverPod.podSpec: expected a mapping, got a list; fix the value");
	expect_error("name: pi\n",
		     "job.yaml: mainApplicationFile: either mainApplicationFile or mainClass must be set; add the script or jar to run (or mainClass for a JVM job)");
	expect_error("name: pi\nmainApplicationFile: ''\n",
		     "job.yaml: mainApplicationFile: either mainApplicationFile or mainClass must be set; add the script or jar to run (or mainClass for a JVM job)");
	expect_error("mainClass: M\n", "job.yaml: name: missing; add a task name such as 'name: pi'");
	expect_error(HEAD "retries: -1\n",
		     "job.yaml:3:10: retries: '-1' is not a whole number from 0 to 100; write one");
	expect_error(HEAD "retries: 101\n",
		     "job.yaml:3:10: retries: '101' is not a whole number from 0 to 100; write one");
	expect_error(HEAD "retries: two\n",
		     "job.yaml:3:10: retries: 'two' is not a whole number from 0 to 100; write one");
	expect_error(HEAD "timeout: 10 minutes\n",
		     "job.yaml:3:10: timeout: '10 minutes' is not a duration; write whole seconds (90) or a duration like 90s, 30m, 2h, 1h30m (0 = none)");
	expect_error(HEAD "timeout: -5\n",
		     "job.yaml:3:10: timeout: '-5' is not a duration; write whole seconds (90) or a duration like 90s, 30m, 2h, 1h30m (0 = none)");
	expect_error(HEAD "timeout: 1h30\n",
		     "job.yaml:3:10: timeout: '1h30' is not a duration; write whole seconds (90) or a duration like 90s, 30m, 2h, 1h30m (0 = none)");
	expect_error("name: Pi\nmainClass: M\n",
		     "job.yaml:1:7: name: 'Pi' is not a valid name; use 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit");
	expect_error("name: my.task\nmainClass: M\n",
		     "job.yaml:1:7: name: 'my.task' is not a valid name; use 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit");
	expect_error("name: pi\nproject: -x\nmainClass: M\n",
		     "job.yaml:2:10: project: '-x' is not a valid name; use 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit");
	expect_error(HEAD "type: GO\n",
		     "job.yaml:3:7: type: unknown application type 'GO'; use PYTHON, JAVA, SCALA or R");
	expect_error(HEAD "inputs: {n: int}\n",
		     "job.yaml:3:13: inputs.n: unknown type; use integer, float, string, boolean, datetime or duration");
	expect_error("- name: pi\n",
		     "job.yaml:1:1: (top level): expected a mapping, got a list; a job file is key: value pairs such as 'name: pi'");
	expect_error("just text\n",
		     "job.yaml:1:1: (top level): expected a mapping, got a scalar; a job file is key: value pairs such as 'name: pi'");
	expect_error("",
		     "job.yaml: the job file is empty; write a mapping with at least name and mainApplicationFile (see docs/JOBFILE.md)");
	expect_error("name: pi\nmainClass: [\n",
		     "job.yaml:3:1: did not find expected node content while parsing a flow node; fix the YAML syntax");
	expect_error("name: pi\n  bad: indent\n",
		     "job.yaml:2:6: mapping values are not allowed in this context; fix the YAML syntax");
	expect_error(HEAD "[a]: 1\n", "job.yaml:3:1: (top level): keys must be scalars, got a list; use a plain key");
	expect_error(HEAD "env: {\"A\\0B\": x}\n", "job.yaml:3:7: env.A?B: value contains a NUL character; remove it");
	expect_error(HEAD "pyFiles: helper.py\n",
		     "job.yaml:3:10: pyFiles: expected a list, got a scalar; write [a, b] or one '- item' per line");
	expect_error(HEAD "pyFiles: [a.py, '']\n",
		     "job.yaml:3:17: pyFiles[1]: empty; name a file or a URI");
	expect_error(HEAD "files:\n  - a.txt\n  - 'b,c.txt'\n",
		     "job.yaml:5:5: files[1]: the path contains ',', which spark-submit reads as a separator; rename the file");
	expect_error(HEAD "files: [{a: b}]\n",
		     "job.yaml:3:9: files[0]: expected a scalar value, got a mapping; quote the value");
}

static void test_deps_cap(void **state)
{
	struct spok_err err = {0};
	struct spok_task t;
	char *yaml = xasprintf(HEAD "pyFiles: [");

	(void)state;
	for (int i = 0; i < SPOK_TASK_DEPS_MAX; i++) {
		char *next = xasprintf("%s%sm%d.py", yaml, i ? ", " : "", i);
		free(yaml);
		yaml = next;
	}
	{
		char *at_cap = xasprintf("%s]\n", yaml);
		if (spok_jobfile_parse_task(at_cap, strlen(at_cap), "job.yaml", &t, &err) != SPOK_OK)
			fail_msg("%s", err.msg);
		assert_int_equal(t.py_files.len, SPOK_TASK_DEPS_MAX);
		spok_task_free(&t);
		free(at_cap);
	}
	{
		char *over = xasprintf("%s, one-more.py]\n", yaml);
		assert_int_equal(spok_jobfile_parse_task(over, strlen(over), "job.yaml", &t, &err), SPOK_EINVAL);
		assert_string_equal(err.msg, "job.yaml:3:10: pyFiles: 101 entries is over the cap of 100; bundle them (a .zip for Python modules) or put them in the image");
		free(over);
	}
	free(yaml);
}

static void test_caps(void **state)
{
	struct spok_err err = {0};
	struct spok_task t;
	size_t n = ((size_t)4 << 20) + 10;
	char *big = xmalloc(n), *deep;
	size_t off;

	(void)state;
	memset(big, ' ', n);
	memcpy(big, HEAD, strlen(HEAD));
	assert_int_equal(spok_jobfile_parse_task(big, n, "big.yaml", &t, &err), SPOK_EINVAL);
	assert_string_equal(err.msg, "big.yaml: input is 4194314 bytes, more than the 4194304-byte limit; split or shrink the file");
	free(big);

	deep = xmalloc(512);
	off = (size_t)snprintf(deep, 512, HEAD "driverPod: {podSpec: ");
	for (int i = 0; i < 70; i++)
		deep[off++] = '[';
	deep[off] = '\0';
	assert_int_equal(spok_jobfile_parse_task(deep, strlen(deep), "deep.yaml", &t, &err), SPOK_EINVAL);
	assert_string_equal(err.msg, "deep.yaml:3:84: nesting is deeper than 64 levels; flatten the document");
	free(deep);
}

static void test_load(void **state)
{
	struct spok_err err = {0};
	struct spok_task t;
	char path[4096];
	const char *src = getenv("SPOK_SOURCE_DIR");

	(void)state;
	assert_non_null(src);
	snprintf(path, sizeof(path), "%s/tests/jobfile/data/pi.yaml", src);
	if (spok_jobfile_load_task(path, &t, &err) != SPOK_OK)
		fail_msg("%s", err.msg);
	assert_string_equal(t.name, "pi");
	assert_string_equal(t.source_path, path);
	spok_task_free(&t);

	assert_int_equal(spok_jobfile_load_task("/nonexistent/job.yaml", &t, &err), SPOK_ENOTFOUND);
	assert_string_equal(err.msg, "/nonexistent/job.yaml: cannot open: No such file or directory");
	assert_null(t.name);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_conversions),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_caps), cmocka_unit_test(test_deps_cap),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
