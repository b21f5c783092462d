/* test_warm.c - what decides how a warm run (spok run --warm) behaves, without a server:
 * the fallback only on the exception the client (or a flytekit task) failed with, a session per attempt, and no
 * job setting silently replaced by the shared server's, and the files a warm run uploads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "local/local.h"

#define NOT_IMPL "pyspark.errors.exceptions.base.PySparkNotImplementedError: [NOT_IMPLEMENTED] sparkContext() is not implemented.\n"

/* A job that caught Connect's "not supported" error and then failed for its own reason fails
 * with that reason: re-running it cold would repeat its side effects. */
static void test_fallback_only_on_final_error(void **state)
{
	(void)state;
	const char *caught = "Traceback (most recent call last):\n  File \"j.py\", line 3, in <module>\n"
			     NOT_IMPL "\nwrote 10 rows to the sink\n"
			     "Traceback (most recent call last):\n  File \"j.py\", line 9, in <module>\n"
			     "    raise ValueError('boom')\nValueError: boom\n";
	assert_null(spok_local_warm_log_reason(caught));
	assert_null(spok_local_warm_log_reason("spok: " NOT_IMPL)); /* printed, not failed on */

	const char *failed = "Traceback (most recent call last):\n  File \"j.py\", line 3, in <module>\n"
			     "    sc = spark.sparkContext\n" NOT_IMPL;
	char *why = spok_local_warm_log_reason(failed);
	assert_non_null(why);
	assert_non_null(strstr(why, "[NOT_IMPLEMENTED] sparkContext()"));
	free(why);
	/* chained: the final exception is Connect's */
	const char *chained = "Traceback (most recent call last):\nValueError: x\n\nDuring handling of "
			      "the above exception, another exception occurred:\n\n"
			      "Traceback (most recent call last):\n  File \"j.py\", line 5\n" NOT_IMPL;
	why = spok_local_warm_log_reason(chained);
	assert_non_null(why);
	free(why);

	/* flytekit's error document: the final exception is its last line ("Message:" part) */
	const char *fk_failed = "Trace:\n\n    Traceback (most recent call last):\n      File \"t.py\"\n"
				"    " NOT_IMPL "\nMessage:\n\n    PySparkNotImplementedError: [NOT_IMPLEMENTED] "
				"sparkContext() is not implemented.\n";
	why = spok_local_warm_flyte_reason(fk_failed);
	assert_non_null(why);
	assert_string_equal(why, "Spark Connect does not support what the job calls: "
			    "PySparkNotImplementedError: [NOT_IMPLEMENTED] sparkContext() is not implemented.");
	free(why);
	const char *fk_caught = "Trace:\n\n    Traceback (most recent call last):\n    " NOT_IMPL
				"\nMessage:\n\n    ValueError: boom\n";
	assert_null(spok_local_warm_flyte_reason(fk_caught));
	assert_null(spok_local_warm_flyte_reason(NULL));
	assert_null(spok_local_warm_flyte_reason("\n  \n"));
}

/* A retry is a new Connect session: the failed attempt's temp views and conf stay behind. */
static void test_session_per_attempt(void **state)
{
	(void)state;
	char a0[37], a1[37], other[37];

	spok_local_warm_session_id("sp-abcdefghij", 0, a0);
	spok_local_warm_session_id("sp-abcdefghij", 1, a1);
	spok_local_warm_session_id("sp-abcdefghik", 1, other);
	assert_string_equal(a0, "73706f6b-6162-6364-6566-6768696a0000");
	assert_string_equal(a1, "73706f6b-6162-6364-6566-6768696a0001");
	assert_string_not_equal(a1, other);
}

/* Settings the shared server would silently replace make the job run cold, up front. */
static void test_job_settings_not_dropped(void **state)
{
	(void)state;
	char path[] = "/tmp/spok-test-warm-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_true(write(fd, "print(1)\n", 9) == 9);
	close(fd);
	struct spok_spark_env env = {0};
	struct spok_task t;
	/* spark.archives (a job's only way to name archives) and the other deps keys: a warm run
	 * does not upload or unpack them, so the job runs cold, never without them */
	const char *const cold[] = { "spark.hadoop.fs.s3a.access.key", "spark.jars.packages",
				     "spark.sql.shuffle.partitions", "spark.executorEnv.X",
				     "spark.archives", "spark.submit.pyFiles", "spark.files", "spark.jars", NULL };

	for (size_t i = 0; cold[i]; i++) {
		spok_task_init(&t);
		t.type = SPOK_APP_PYTHON;
		t.main_application_file = xstrdup(path);
		spok_strmap_set(&t.spark_conf, "spark.executor.memory", "1g");
		spok_strmap_set(&t.spark_conf, cold[i], "v");
		char *why = spok_local_warm_unsupported(&t, &env, NULL);
		assert_non_null(why);
		assert_non_null(strstr(why, cold[i]));
		free(why);
		spok_task_free(&t);
	}
	spok_task_init(&t);
	t.type = SPOK_APP_PYTHON;
	t.main_application_file = xstrdup(path);
	spok_strmap_set(&t.spark_conf, "spark.dynamicAllocation.maxExecutors", "3");
	assert_null(spok_local_warm_unsupported(&t, &env, NULL)); /* sizing only: fine */
	spok_strmap_set(&t.hadoop_conf, "fs.s3a.endpoint", "http://x");
	char *why = spok_local_warm_unsupported(&t, &env, NULL);
	assert_non_null(why);
	assert_non_null(strstr(why, "hadoopConf fs.s3a.endpoint"));
	free(why);
	spok_task_free(&t);
	unlink(path);
}

static void touch(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs("x = 1\n", f);
	fclose(f);
	free(p);
}

/* The job's pyFiles/files go to its session (spec lines for the glue); files outside the job's
 * directory, two of one name, or on another file system are not uploaded. */
static void test_artifacts(void **state)
{
	(void)state;
	char dir[] = "/tmp/spok-test-art-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *sub = xasprintf("%s/sub", dir), *real = realpath(dir, NULL);
	assert_int_equal(mkdir(sub, 0700), 0);
	touch(dir, "mod.py");
	touch(dir, "w.txt");
	touch(sub, "mod.py");
	touch("/tmp", "spok-test-art-outside.py");
	struct spok_spark_env env = {0};
	struct spok_err err = {0};
	struct spok_task t;
	char *spec = NULL;

	spok_task_init(&t);
	t.type = SPOK_APP_PYTHON;
	t.source_path = xasprintf("%s/job.yaml", dir);
	t.main_application_file = xstrdup("mod.py");
	assert_int_equal(spok_local_warm_artifacts(&t, NULL, &spec, &err), 0);
	assert_null(spec); /* nothing to upload: the client runs MAIN as before */
	spok_strv_push(&t.py_files, "mod.py");
	spok_strv_push(&t.files, "w.txt");
	spok_strmap_set(&t.spark_conf, "spok.warm", "default");
	assert_null(spok_local_warm_unsupported(&t, &env, NULL)); /* uploaded; spok.warm is spok's */
	assert_int_equal(spok_local_warm_artifacts(&t, NULL, &spec, &err), 0);
	char *want = xasprintf("pyfile\t%s/mod.py\nfile\t%s/w.txt\n", real, real);
	assert_string_equal(spec, want);
	free(want);
	free(spec);

	spok_strv_push(&t.py_files, "sub/mod.py");
	assert_int_not_equal(spok_local_warm_artifacts(&t, NULL, &spec, &err), 0);
	assert_non_null(strstr(err.msg, "pyFiles[1]: a second file named mod.py"));
	spok_strv_free(&t.py_files);
	spok_strv_push(&t.py_files, "../spok-test-art-outside.py");
	assert_int_not_equal(spok_local_warm_artifacts(&t, NULL, &spec, &err), 0);
	assert_non_null(strstr(err.msg, "job.yaml: pyFiles[0] "));
	assert_non_null(strstr(err.msg, "outside the job's directory"));
	assert_null(strchr(err.msg, '\n'));
	spok_strv_free(&t.py_files);
	spok_strv_push(&t.py_files, "s3a://bucket/dep.py");
	char *why = spok_local_warm_unsupported(&t, &env, NULL);
	assert_non_null(why);
	assert_non_null(strstr(why, "pyFiles[0] s3a://bucket/dep.py"));
	free(why);
	spok_strv_free(&t.py_files);
	spok_strv_push(&t.py_files, "dep.whl");
	why = spok_local_warm_unsupported(&t, &env, NULL);
	assert_non_null(why);
	assert_non_null(strstr(why, ".py, .zip and .egg"));
	free(why);
	spok_task_free(&t);
	unlink("/tmp/spok-test-art-outside.py");
	char *p = xasprintf("%s/mod.py", sub);
	unlink(p);
	free(p);
	rmdir(sub);
	p = xasprintf("%s/mod.py", dir);
	unlink(p);
	free(p);
	p = xasprintf("%s/w.txt", dir);
	unlink(p);
	free(p);
	rmdir(dir);
	free(sub);
	free(real);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fallback_only_on_final_error),
		cmocka_unit_test(test_session_per_attempt),
		cmocka_unit_test(test_job_settings_not_dropped),
		cmocka_unit_test(test_artifacts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
