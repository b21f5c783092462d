/* test_progress.c - the Spark status API parsers and the line (src/progress/progress.h), on
 * answers shaped as Spark 3.5's UI serves them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "progress/progress.h"

#define S(x) (x), strlen(x)

static const char APPS[] =
	"[ {\n  \"id\" : \"local-1733300000000\",\n  \"name\" : \"stages\",\n  \"attempts\" : [ {\n"
	"    \"startTime\" : \"2026-12-04T16:00:00.000GMT\",\n    \"completed\" : false,\n"
	"    \"appSparkVersion\" : \"3.5.7\"\n  } ]\n} ]";

/* job 0 finished (4 tasks), job 1 running with a skipped stage (8 tasks, 3 skipped, 2 done,
 * one failed attempt, a retried index counted once). */
static const char JOBS[] =
	"[ {\n  \"jobId\" : 1,\n  \"name\" : \"collect at stages.py:20\",\n  \"stageIds\" : [ 1, 2 ],\n"
	"  \"status\" : \"RUNNING\",\n  \"numTasks\" : 8,\n  \"numActiveTasks\" : 2,\n"
	"  \"numCompletedTasks\" : 3,\n  \"numSkippedTasks\" : 3,\n  \"numFailedTasks\" : 1,\n"
	"  \"numKilledTasks\" : 0,\n  \"numCompletedIndices\" : 2,\n  \"numActiveStages\" : 1,\n"
	"  \"numCompletedStages\" : 0,\n  \"numSkippedStages\" : 1,\n  \"numFailedStages\" : 0,\n"
	"  \"killedTasksSummary\" : { }\n}, {\n  \"jobId\" : 0,\n  \"name\" : \"count at stages.py:12\",\n"
	"  \"status\" : \"SUCCEEDED\",\n  \"numTasks\" : 4,\n  \"numActiveTasks\" : 0,\n"
	"  \"numCompletedTasks\" : 4,\n  \"numSkippedTasks\" : 0,\n  \"numFailedTasks\" : 0,\n"
	"  \"numCompletedIndices\" : 4\n} ]";

static const char STAGES[] =
	"[ {\n  \"status\" : \"ACTIVE\",\n  \"stageId\" : 2,\n  \"attemptId\" : 0,\n  \"numTasks\" : 5,\n"
	"  \"numActiveTasks\" : 2,\n  \"numCompleteTasks\" : 2,\n  \"numFailedTasks\" : 1,\n"
	"  \"name\" : \"collect at stages.py:20\",\n  \"details\" : \"org.apache.spark...\"\n} ]";

static const char EXECUTORS[] =
	"[ {\n  \"id\" : \"driver\",\n  \"hostPort\" : \"127.0.0.1:40000\",\n  \"isActive\" : true,\n"
	"  \"totalCores\" : 2\n} ]";

static void test_local_app(void **state)
{
	struct spok_progress p;
	struct spok_err err = {0};

	(void)state;
	spok_progress_init(&p);
	assert_int_equal(spok_progress_apps(&p, S(APPS), &err), 0);
	assert_string_equal(p.app_id, "local-1733300000000");
	assert_int_equal(spok_progress_jobs(&p, S(JOBS), &err), 0);
	assert_int_equal(p.jobs_total, 2);
	assert_int_equal(p.jobs_active, 1);
	assert_int_equal(p.job_id, 1);
	assert_string_equal(p.job, "collect at stages.py:20");
	assert_int_equal(p.tasks_total, 12);
	assert_int_equal(p.tasks_done, 4 + 2 + 3);
	assert_int_equal(p.tasks_failed, 1);
	assert_int_equal(p.tasks_active, 2);
	assert_int_equal(spok_progress_stages(&p, S(STAGES), &err), 0);
	assert_int_equal(p.stage_id, 2);
	assert_int_equal(p.stage_done, 2);
	assert_int_equal(p.stage_total, 5);
	assert_int_equal(spok_progress_executors(&p, S(EXECUTORS), &err), 0);
	assert_int_equal(p.executors, 1); /* local mode: the driver runs the tasks */
}

static void test_cluster_executors(void **state)
{
	struct spok_progress p;
	static const char ex[] = "[{\"id\":\"driver\",\"isActive\":true},{\"id\":\"1\",\"isActive\":true},"
				 "{\"id\":\"2\",\"isActive\":false},{\"id\":\"3\",\"isActive\":true},7,null]";

	(void)state;
	spok_progress_init(&p);
	assert_int_equal(spok_progress_executors(&p, S(ex), NULL), 0);
	assert_int_equal(p.executors, 2);
}

static void test_line(void **state)
{
	struct spok_progress p;
	struct spok_buf b;

	(void)state;
	spok_progress_init(&p);
	spok_buf_init(&b, 0);
	spok_progress_line(NULL, "QUEUED", 500, 10, &b);
	assert_string_equal(b.data, "QUEUED 0s");
	spok_buf_reset(&b);
	assert_int_equal(spok_progress_jobs(&p, S(JOBS), NULL), 0);
	assert_int_equal(spok_progress_stages(&p, S(STAGES), NULL), 0);
	assert_int_equal(spok_progress_executors(&p, S(EXECUTORS), NULL), 0);
	spok_progress_line(&p, "RUNNING", 62000, 10, &b);
	assert_string_equal(b.data, "RUNNING 1m02s [=======>  ] 9/12 tasks, 1 failed, 1 executor | job 1: "
				    "collect at stages.py:20 | stage 2: collect at stages.py:20 (2/5)");
	spok_buf_free(&b);
}

/* Names are the job's: escapes are made visible, never passed to the terminal. */
static void test_hostile_names(void **state)
{
	struct spok_progress p;
	struct spok_buf b;
	static const char jobs[] = "[{\"jobId\":3,\"status\":\"RUNNING\",\"name\":\"\\u001b]0;pwned\\u0007"
				   "\\u001b[2J\\n\\u009b1m\",\"numTasks\":-5,\"numCompletedIndices\":9e99}]";

	(void)state;
	spok_progress_init(&p);
	assert_int_equal(spok_progress_jobs(&p, S(jobs), NULL), 0);
	assert_int_equal(p.tasks_total, 0);
	assert_int_equal(p.tasks_done, 0);
	spok_buf_init(&b, 0);
	spok_progress_line(&p, "RUNNING", 0, 0, &b);
	assert_null(strchr(b.data, 0x1b));
	assert_null(strchr(b.data, '\n'));
	assert_null(strstr(b.data, "\xc2\x9b"));
	assert_non_null(strstr(b.data, "job 3: \\x1b]0;pwned"));
	spok_buf_free(&b);
}

static void test_description(void **state)
{
	struct spok_progress p;
	static const char jobs[] = "[{\"jobId\":0,\"status\":\"RUNNING\",\"name\":\"count at a.py:3\","
				   "\"description\":\"nightly totals\"},{\"status\":\"RUNNING\",\"name\":\"x\"}]";

	(void)state;
	spok_progress_init(&p);
	assert_int_equal(spok_progress_jobs(&p, S(jobs), NULL), 0);
	assert_int_equal(p.job_id, 0); /* a running job without an id is not the active one */
	assert_string_equal(p.job, "nightly totals");
	assert_int_equal(p.jobs_active, 2);
}

static void test_caps(void **state)
{
	struct spok_progress p;
	struct spok_err err = {0};
	char *big = malloc(SPOK_PROGRESS_BODY_MAX + 2);
	char *name = malloc(2000);
	char *jobs;

	(void)state;
	spok_progress_init(&p);
	memset(big, ' ', SPOK_PROGRESS_BODY_MAX + 1);
	big[0] = '[';
	big[SPOK_PROGRESS_BODY_MAX] = ']';
	assert_int_equal(spok_progress_jobs(&p, big, SPOK_PROGRESS_BODY_MAX + 1, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "over"));
	assert_false(p.have_jobs);
	/* a long name of 2-byte characters is cut at a character boundary */
	for (size_t i = 0; i < 1998; i += 2)
		memcpy(name + i, "\xc3\xa9", 2);
	name[1998] = '\0';
	assert_true(asprintf(&jobs, "[{\"jobId\":1,\"status\":\"RUNNING\",\"name\":\"%s\",\"numTasks\":%lld,"
				    "\"numCompletedTasks\":3},{\"jobId\":2,\"numTasks\":%lld}]", name,
			     SPOK_PROGRESS_COUNT_MAX, SPOK_PROGRESS_COUNT_MAX) > 0);
	assert_int_equal(spok_progress_jobs(&p, S(jobs), &err), 0);
	assert_true(strlen(p.job) <= SPOK_PROGRESS_NAME_MAX);
	assert_int_equal(strlen(p.job) % 2, 0);
	assert_int_equal(p.tasks_total, SPOK_PROGRESS_COUNT_MAX); /* saturated */
	assert_int_equal(p.tasks_done, 3);
	free(jobs);
	free(name);
	free(big);
}

static void test_refusals(void **state)
{
	struct spok_progress p, before;
	struct spok_err err = {0};

	(void)state;
	spok_progress_init(&p);
	assert_int_equal(spok_progress_apps(&p, S(APPS), NULL), 0);
	before = p;
	assert_int_equal(spok_progress_apps(&p, S("[]"), &err), SPOK_ENOTFOUND);
	assert_int_equal(spok_progress_apps(&p, S("[{\"id\":\"../x\"}]"), &err), SPOK_EINVAL);
	assert_int_equal(spok_progress_apps(&p, S("<html>"), &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "not JSON"));
	assert_int_equal(spok_progress_jobs(&p, S("{\"jobs\":[]}"), &err), SPOK_EINVAL);
	assert_int_equal(spok_progress_stages(&p, S("7"), &err), SPOK_EINVAL);
	assert_true(spok_progress_equal(&p, &before));
	/* no active stage: id -1, no name */
	assert_int_equal(spok_progress_stages(&p, S("[]"), NULL), 0);
	assert_int_equal(p.stage_id, -1);
	assert_string_equal(p.stage, "");
}

static void test_json(void **state)
{
	struct spok_progress p;
	json_t *j;

	(void)state;
	spok_progress_init(&p);
	j = spok_progress_json(&p);
	assert_true(json_is_null(json_object_get(j, "tasks_done")));
	assert_true(json_is_null(json_object_get(j, "job")));
	json_decref(j);
	assert_int_equal(spok_progress_apps(&p, S(APPS), NULL), 0);
	assert_int_equal(spok_progress_jobs(&p, S(JOBS), NULL), 0);
	assert_int_equal(spok_progress_stages(&p, S(STAGES), NULL), 0);
	j = spok_progress_json(&p);
	assert_string_equal(json_string_value(json_object_get(j, "app_id")), "local-1733300000000");
	assert_int_equal(json_integer_value(json_object_get(j, "tasks_done")), 9);
	assert_int_equal(json_integer_value(json_object_get(j, "tasks_total")), 12);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "stage"), "tasks_total")), 5);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "job"), "name")),
			    "collect at stages.py:20");
	assert_true(json_is_null(json_object_get(j, "executors")));
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_local_app),    cmocka_unit_test(test_cluster_executors),
		cmocka_unit_test(test_line),         cmocka_unit_test(test_hostile_names),
		cmocka_unit_test(test_caps),         cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_json),         cmocka_unit_test(test_description),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
