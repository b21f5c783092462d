/* test_local.c - the runner's pure parts: failure reasons from driver logs, the
 * spark-submit argv for a task, durations. (End-to-end runs with real Spark: e2e.sh.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/utf8.h"
#include "common/xalloc.h"
#include "local/local.h"

static char *reason(const char *log, bool *perm)
{
	return spok_local_reason(log, perm);
}

static void test_reasons(void **state)
{
	(void)state;
	bool perm;
	char *r;

	r = reason("INFO x\nTraceback (most recent call last):\n  File \"f.py\", line 2, in <module>\n"
		   "    raise ValueError(\"boom here\")\nValueError: boom here\n26/01/01 INFO ShutdownHookManager: bye\n", &perm);
	assert_string_equal(r, "ValueError: boom here");
	assert_false(perm);
	free(r);
	r = reason("Exception in thread \"main\" java.lang.IllegalStateException: requested failure\n\tat X.main\n", &perm);
	assert_string_equal(r, "java.lang.IllegalStateException: requested failure");
	free(r);
	r = reason("Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space\n", &perm);
	assert_non_null(strstr(r, "java.lang.OutOfMemoryError"));
	assert_non_null(strstr(r, "spark.driver.memory"));
	free(r);
	r = reason("Invalid maximum heap size: -Xmxlots\nError: Could not create the Java Virtual Machine.\n"
		   "Error: A fatal exception has occurred. Program will exit.\n", &perm);
	assert_non_null(strstr(r, "Invalid maximum heap size: -Xmxlots"));
	assert_true(perm);
	free(r);
	r = reason("Error: Invalid argument to --conf: nodot\n\nUsage: spark-submit ...\n", &perm);
	assert_string_equal(r, "spark-submit rejected the job: Invalid argument to --conf: nodot");
	assert_true(perm);
	free(r);
	assert_null(reason("all fine\n", &perm));
	assert_null(reason("", &perm));
	assert_null(reason(NULL, &perm));
	/* Unterminated traceback and overlong lines are handled. */
	assert_null(reason("Traceback (most recent call last):\n  File x\n", &perm));
	char *big = xmalloc(10000);
	memset(big, 'a', 9999);
	big[9999] = '\0';
	memcpy(big, "Error: ", 7);
	r = reason(big, &perm);
	assert_true(strlen(r) < 500);
	free(r);
	free(big);
	/* The 400-byte cut lands inside "é" (bytes 399-400): it backs up to a character boundary
	 * so the reason stays valid UTF-8 (JSON output drops invalid strings). */
	char line[1024];
	snprintf(line, sizeof(line), "Traceback (most recent call last):\n  File x\nValueError: %0387d\xC3\xA9 tail\n", 0);
	r = reason(line, &perm);
	assert_int_equal(strlen(r), 399);
	assert_true(spok_utf8_validn(r, strlen(r)));
	free(r);
}

static void test_durations(void **state)
{
	(void)state;
	uint64_t ms;
	assert_int_equal(spok_parse_duration_ms("--grace", "10s", &ms, NULL), 0);
	assert_int_equal(ms, 10000);
	assert_int_equal(spok_parse_duration_ms("--grace", "250ms", &ms, NULL), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(spok_parse_duration_ms("--grace", "3", &ms, NULL), 0);
	assert_int_equal(ms, 3000);
	assert_int_equal(spok_parse_duration_ms("--grace", "2m", &ms, NULL), 0);
	assert_int_equal(ms, 120000);
	struct spok_err err = {0};
	assert_int_equal(spok_parse_duration_ms("--grace", "soon", &ms, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "--grace soon"));
	assert_int_equal(spok_parse_duration_ms("--grace", "-1s", &ms, NULL), SPOK_EINVAL);
	assert_int_equal(spok_parse_duration_ms("--grace", "99999999999999999999h", &ms, NULL), SPOK_EINVAL);
}

static bool has_arg(const struct spok_strv *v, const char *s)
{
	for (size_t i = 0; i < v->len; i++)
		if (strcmp(v->items[i], s) == 0)
			return true;
	return false;
}

static void test_argv(void **state)
{
	(void)state;
	struct spok_task t;
	struct spok_platform p;
	struct spok_spark_env env = {.spark_submit = xstrdup("/x/spark-submit"), .python = xstrdup("/x/python")};
	struct spok_local_opts o = {.master = "local[2]"};
	struct spok_execution x = {.id = (char *)"sp-test", .event_log_dir = (char *)"file:///d/spark-events"};
	struct spok_strv argv = {0};
	struct spok_err err = {0};
	const char *src = getenv("SPOK_SOURCE_DIR");

	spok_task_init(&t);
	spok_platform_init(&p);
	t.source_path = xasprintf("%s/examples/java/sparkpi.yaml", src ? src : ".");
	t.name = xstrdup("java-pi");
	t.type = SPOK_APP_JAVA;
	t.main_class = xstrdup("spok.examples.SparkPi");
	t.main_application_file = xstrdup("local://SparkPi.java"); /* any existing file */
	spok_strmap_set(&t.spark_conf, "spark.driver.memory", "512m");
	spok_strmap_set(&t.spark_conf, "spark.kubernetes.namespace", "dropped");
	spok_strmap_set(&t.spark_conf, "spark.master", "k8s://dropped");
	spok_strmap_set(&t.spark_conf, "spark.pyspark.python", "/opt/venv/bin/python3");
	spok_strmap_set(&t.hadoop_conf, "fs.s3a.endpoint", "http://minio:9000");
	assert_int_equal(spok_local_argv(&t, &p, &env, &o, &x, 4041, &argv, &err), 0);
	assert_string_equal(argv.items[0], "/x/spark-submit");
	assert_string_equal(argv.items[1], "--master");
	assert_string_equal(argv.items[2], "local[2]");
	assert_true(has_arg(&argv, "--class"));
	assert_true(has_arg(&argv, "spok.examples.SparkPi"));
	assert_true(has_arg(&argv, "spark.driver.memory=512m"));
	assert_true(has_arg(&argv, "spark.hadoop.fs.s3a.endpoint=http://minio:9000"));
	assert_true(has_arg(&argv, "spark.pyspark.python=/x/python"));
	assert_true(has_arg(&argv, "spark.ui.port=4041"));
	assert_true(has_arg(&argv, "spark.eventLog.enabled=true"));
	assert_true(has_arg(&argv, "spark.eventLog.dir=file:///d/spark-events"));
	assert_false(has_arg(&argv, "spark.kubernetes.namespace=dropped"));
	assert_false(has_arg(&argv, "spark.master=k8s://dropped"));
	assert_non_null(strstr(argv.items[argv.len - 1], "examples/java/SparkPi.java"));
	spok_strv_free(&argv);

	/* A missing main file names the job file and the resolved path. */
	free(t.main_application_file);
	t.main_application_file = xstrdup("nope.jar");
	assert_int_equal(spok_local_argv(&t, &p, &env, &o, &x, 0, &argv, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "sparkpi.yaml"));
	assert_non_null(strstr(err.msg, "nope.jar"));
	spok_strv_free(&argv);
	spok_task_free(&t);
	spok_platform_free(&p);
	spok_spark_env_free(&env);
}

/* A pidfile whose process is gone (start time 0 or a pid out of range) is not a running
 * history server: trusting it would signal whatever group now has that number, and a pid
 * past pid_t's range would truncate to -1 (every process). */
static void write_pidfile(const char *dir, const char *text)
{
	char *path = xasprintf("%s/history.pid", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(path);
}

static void test_stale_pidfile(void **state)
{
	(void)state;
	char dir[] = "/tmp/spok-test-pidfile-XXXXXX";
	struct spok_err err = {0};

	assert_non_null(mkdtemp(dir));
	write_pidfile(dir, "999999999 0 18080\n");
	assert_int_equal(spok_history_running(dir), 0);
	write_pidfile(dir, "4294967297 0 18080\n");
	assert_int_equal(spok_history_running(dir), 0);
	assert_int_equal(spok_history_stop(dir, &err), SPOK_ENOTFOUND);
	write_pidfile(dir, "0 0 18080\n");
	assert_int_equal(spok_history_running(dir), 0);
	char *path = xasprintf("%s/history.pid", dir);
	unlink(path);
	free(path);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reasons),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_argv),
		cmocka_unit_test(test_stale_pidfile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
