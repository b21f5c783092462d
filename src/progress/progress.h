/* progress.h - a running Spark application's progress from its status REST API, purely.
 *
 * Spark's UI serves the facts its console progress bar shows as JSON: /api/v1/applications,
 * /applications/<id>/jobs, /applications/<id>/stages?status=active and
 * /applications/<id>/executors. The functions here turn those answers (bytes, as they came
 * over HTTP) into one small struct spok_progress; src/progress/reader.h fetches them on a loop.
 * No I/O, no clock.
 *
 * The answers are untrusted: a job names its own jobs and stages (sc.setJobDescription), and
 * for the daemon the driver is the user's process. So: an answer over SPOK_PROGRESS_BODY_MAX
 * bytes or that is not the expected JSON shape is refused with one line (SPOK_EINVAL) and
 * leaves the struct unchanged; at most SPOK_PROGRESS_ITEMS_MAX array entries are looked at;
 * counts are clamped to [0, SPOK_PROGRESS_COUNT_MAX] and sums saturate there; names are cut
 * to SPOK_PROGRESS_NAME_MAX bytes at a character boundary and made valid UTF-8 (they are
 * kept raw otherwise: JSON output escapes them by its rules, and spok_progress_line escapes
 * them for a terminal).
 *
 * What the numbers mean (the same formula on the same answers gives the same numbers):
 * - tasks_total: sum over the application's jobs of numTasks (skipped stages' tasks included,
 *   as Spark counts them); tasks_done: sum of min(numCompletedIndices (else numCompletedTasks)
 *   + numSkippedTasks, numTasks), so a retried task counts once and done <= total;
 *   tasks_failed: sum of numFailedTasks (failed task attempts; a retry that then succeeded
 *   still counts); tasks_active: sum of numActiveTasks.
 * - the active job: the RUNNING job with the highest jobId, named by its description (what
 *   sc.setJobDescription set) or else its name (Spark's call site); the active stage: the entry of
 *   stages?status=active with the highest stageId (then attemptId), its tasks done
 *   (numCompleteTasks, at most numTasks) and total.
 * - executors: active entries of /executors other than "driver"; when there are none but the
 *   driver is active (local mode: the driver runs the tasks), 1.
 *
 * Ownership: struct spok_progress is plain data (fixed arrays), copied by assignment.
 */
#ifndef SPOK_PROGRESS_PROGRESS_H
#define SPOK_PROGRESS_PROGRESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define SPOK_PROGRESS_BODY_MAX ((size_t)8 << 20) /* bytes of one answer */
#define SPOK_PROGRESS_ITEMS_MAX 20000            /* array entries looked at per answer */
#define SPOK_PROGRESS_COUNT_MAX 1000000000000LL  /* any count, and any sum */
#define SPOK_PROGRESS_NAME_MAX 160               /* bytes of a job or stage name */
#define SPOK_PROGRESS_ID_MAX 127                 /* bytes of an application id */

struct spok_progress {
	char app_id[SPOK_PROGRESS_ID_MAX + 1]; /* "" until known; only [A-Za-z0-9._-] */
	bool have_jobs;        /* a jobs answer was read */
	bool have_stages;      /* a stages answer was read */
	bool have_executors;   /* an executors answer was read */
	int64_t jobs_total;    /* jobs the answer listed */
	int64_t jobs_active;   /* of them RUNNING */
	int64_t job_id;        /* the active job, or -1 */
	char job[SPOK_PROGRESS_NAME_MAX + 1];
	int64_t stage_id;      /* the active stage, or -1 */
	int64_t stage_attempt;
	char stage[SPOK_PROGRESS_NAME_MAX + 1];
	int64_t stage_done, stage_total;
	int64_t tasks_done, tasks_total, tasks_active, tasks_failed;
	int64_t executors;
};

/* An empty progress: nothing known, ids -1. */
void spok_progress_init(struct spok_progress *p);

/* /api/v1/applications: the first application's id into p->app_id (a live UI serves one).
 * An empty list is SPOK_ENOTFOUND (the UI is up before the application registers). */
int spok_progress_apps(struct spok_progress *p, const char *body, size_t len, struct spok_err *err);
/* /applications/<id>/jobs: the task sums, job counts and the active job. */
int spok_progress_jobs(struct spok_progress *p, const char *body, size_t len, struct spok_err *err);
/* /applications/<id>/stages?status=active: the active stage (none: id -1, name ""). */
int spok_progress_stages(struct spok_progress *p, const char *body, size_t len,
			 struct spok_err *err);
/* /applications/<id>/executors: executors alive. */
int spok_progress_executors(struct spok_progress *p, const char *body, size_t len,
			    struct spok_err *err);

/* Whether the parts a person sees differ (what a watcher prints "per change"). */
bool spok_progress_equal(const struct spok_progress *a, const struct spok_progress *b);

/* {"app_id", "jobs_total", "jobs_active", "job": {"id", "name"} | null,
 *  "stage": {"id", "attempt", "name", "tasks_done", "tasks_total"} | null, "tasks_done",
 *  "tasks_total", "tasks_active", "tasks_failed", "executors"}; parts never read are null.
 * New reference. */
json_t *spok_progress_json(const struct spok_progress *p);

/* One line for a terminal (no newline, no escape sequences of its own; names escaped with
 * spok_term_line rules): "RUNNING 1m02s [=====>    ] 12/40 tasks, 1 failed, 2 executors |
 * job 3: count at x.py:12 | stage 5: map at x.py:10 (3/8)", numbers first. phase is spok's phase name; p may be NULL (nothing
 * read yet); width is the bar's width in characters (0: no bar). Appends to out (capped). */
void spok_progress_line(const struct spok_progress *p, const char *phase, int64_t elapsed_ms,
			unsigned width, struct spok_buf *out);

#endif
