/* test_flyteidl_package.c - decodes what REAL flytekit wrote (ctest fixture
 * flyteidl_package: `pyflyte package` over examples/flytekit, gen_literals.py).
 * argv[1] = the fixture's output directory. */
#include "testutil.h"

#include "flyteidl/flyteidl.h"

static const char *fixture_dir;

static void test_package(void **state)
{
	struct spok_task t;
	struct spok_err err = { 0 };
	char *path = xasprintf("%s/flyte-package.tgz", fixture_dir);
	static const char *want_args[] = {
		"pyflyte-execute", "--inputs", "{{.input}}", "--output-prefix", "{{.outputPrefix}}",
		"--raw-output-data-prefix", "{{.rawOutputDataPrefix}}", "--checkpoint-path",
		"{{.checkpointOutputPrefix}}", "--prev-checkpoint", "{{.prevCheckpointPrefix}}",
		"--resolver", "flytekit.core.python_auto_container.default_task_resolver", "--",
		"task-module", "pi", "task-name", "hello_spark",
	};

	(void)state;
	if (spok_flyte_load_task(path, NULL, &t, &err) != SPOK_OK)
		fail_msg("%s", err.msg);
	assert_int_equal(t.origin, SPOK_ORIGIN_FLYTE);
	assert_string_equal(t.source_path, path);
	assert_string_equal(t.name, "pi.hello_spark");
	assert_int_equal(t.type, SPOK_APP_PYTHON);
	assert_string_equal(t.main_application_file, "local:///opt/venv/bin/entrypoint.py");
	assert_null(t.main_class);
	assert_string_equal(t.executor_path, "/opt/venv/bin/python3");
	assert_int_equal(t.spark_conf.len, 5);
	assert_string_equal(spok_strmap_get(&t.spark_conf, "spark.driver.memory"), "1000M");
	assert_string_equal(spok_strmap_get(&t.spark_conf, "spark.executor.memory"), "1000M");
	assert_string_equal(spok_strmap_get(&t.spark_conf, "spark.executor.cores"), "1");
	assert_string_equal(spok_strmap_get(&t.spark_conf, "spark.executor.instances"), "2");
	assert_string_equal(spok_strmap_get(&t.spark_conf, "spark.driver.cores"), "1");
	assert_int_equal(t.hadoop_conf.len, 0);
	assert_false(t.driver_pod.present);
	assert_false(t.executor_pod.present);
	assert_string_equal(t.image, "spok-spark:local");
	assert_int_equal(t.command.len, 0);
	assert_int_equal(t.args.len, sizeof(want_args) / sizeof(want_args[0]));
	for (size_t i = 0; i < t.args.len; i++)
		assert_string_equal(t.args.items[i], want_args[i]);
	assert_int_equal(t.inputs.len, 1);
	assert_string_equal(t.inputs.items[0].name, "partitions");
	assert_int_equal(t.inputs.items[0].type, SPOK_LIT_INTEGER);
	assert_int_equal(t.outputs.len, 1);
	assert_string_equal(t.outputs.items[0].name, "o0");
	assert_int_equal(t.outputs.items[0].type, SPOK_LIT_FLOAT);
	assert_int_equal(t.retries, 0);
	assert_int_equal(t.timeout_s, 0);
	assert_false(t.interruptible);
	assert_null(t.service_account);
	assert_false(t.k8s_pod.present);
	spok_task_free(&t);

	/* By name and by suffix; a workflow name is not a task. */
	assert_int_equal(spok_flyte_load_task(path, "hello_spark", &t, &err), 0);
	spok_task_free(&t);
	assert_int_equal(spok_flyte_load_task(path, "pi.hello_spark", &t, &err), 0);
	spok_task_free(&t);
	assert_int_equal(spok_flyte_load_task(path, "my_spark", &t, &err), SPOK_ENOTFOUND);
	assert_non_null(strstr(err.msg, "no task named 'my_spark' in the package (tasks: "
				       "pi.hello_spark [spark])"));
	free(path);
}

static void test_outputs(void **state)
{
	struct spok_buf b;
	struct spok_err err = { 0 };
	json_t *j;
	char *s;

	(void)state;
	read_whole(fixture_dir, "outputs.pb", &b);
	assert_int_equal(spok_flyte_decode_literal_map((const uint8_t *)b.data, b.len, "outputs.pb",
						       &j, &err), 0);
	s = json_dumps(j, JSON_COMPACT);
	assert_string_equal(s, "{\"o0\":3.1415899999999999}");
	free(s);
	json_decref(j);
	spok_buf_free(&b);

	read_whole(fixture_dir, "outputs_rich.pb", &b);
	assert_int_equal(spok_flyte_decode_literal_map((const uint8_t *)b.data, b.len, "o.pb", &j,
						       &err), 0);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	assert_string_equal(s, "{\"b\":true,\"d\":\"5400s\",\"dt\":\"2020-09-11T10:00:00.500Z\","
			    "\"i\":42,\"m\":{\"a\":1.5},\"s\":\"h\\u00E9llo\",\"xs\":[1,2,3]}");
	free(s);
	json_decref(j);
	spok_buf_free(&b);
}

static void test_error_doc(void **state)
{
	struct spok_buf b;
	struct spok_err err = { 0 };
	char *code, *msg;
	bool rec = false;

	(void)state;
	read_whole(fixture_dir, "error.pb", &b);
	assert_int_equal(spok_flyte_decode_error((const uint8_t *)b.data, b.len, "error.pb", &code,
						 &msg, &rec, &err), 0);
	assert_string_equal(code, "USER:ValueError");
	assert_string_equal(msg, "Traceback: partitions must be positive");
	assert_true(rec);
	free(code);
	free(msg);
	spok_buf_free(&b);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_package),
		cmocka_unit_test(test_outputs),
		cmocka_unit_test(test_error_doc),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s <fixture dir>\n", argv[0]);
		return 2;
	}
	fixture_dir = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
