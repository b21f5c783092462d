/* test_reconcile.c - every rule of "Cluster runs" (docs/ARCHITECTURE.md) against the pure
 * reconciler (src/engine/reconcile.h): tables of (state, event, now) -> (actions, next state).
 * No API server, no store, no clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/reconcile.h"
#include "phase/phase.h"

#define SEC 1000ULL
#define MIN (60 * SEC)

static const struct spok_rc_config CFG = {
	.submitted_timeout_ms = 10 * MIN, .backoff_ms = SEC, .backoff_max_ms = 60 * SEC,
	.driver_check_ms = 5 * SEC};
static const struct spok_rc_config CFG_KEEP = {.keep_on_success = true,
	.submitted_timeout_ms = 10 * MIN, .backoff_ms = SEC, .backoff_max_ms = 60 * SEC,
	.driver_check_ms = 5 * SEC};
static const struct spok_rc_config CFG_NO_POD_READS = {
	.submitted_timeout_ms = 10 * MIN, .backoff_ms = SEC, .backoff_max_ms = 60 * SEC};
static const struct spok_rc_config CFG_DELETE_FAILED = {.delete_failed = true,
	.submitted_timeout_ms = 10 * MIN, .backoff_ms = SEC, .backoff_max_ms = 60 * SEC,
	.driver_check_ms = 5 * SEC};

/* Base states: attempt 0 of 2, object x1-n0-0 in namespace ns. */
#define ROW_IDS .id = "x1", .ns = "ns", .name = "x1-n0-0", .max_attempts = 2
#define CREATING {ROW_IDS, .stage = SPOK_RC_STAGE_CREATING, .phase = SPOK_PHASE_QUEUED, \
		  .reason = "creating SparkApplication"}
/* TRACKING's st fills a char array, which a parenthesized string may not initialize. */
#define TRACKING(ph, st) {ROW_IDS, .stage = SPOK_RC_STAGE_TRACKING, .phase = (ph), \
			  .reason = "", .confirmed = true, .confirmed_at_ms = 1000, .app_state = st} /* NOLINT(bugprone-macro-parentheses): a char array */
#define LAST .attempt = 1 /* with max_attempts 2: the last attempt */

struct row {
	const char *name;
	const struct spok_rc_config *cfg; /* NULL: CFG */
	struct spok_rc_state s;
	struct spok_rc_event ev;
	uint64_t now;
	const char *acts;             /* the actions, e.g. "RECORD:SUCCEEDED DELETE" */
	enum spok_rc_stage stage;     /* next stage */
	const char *reason;           /* substring of next->reason; NULL: not checked */
	uint64_t next_try;            /* next->next_try_ms; 0: not checked */
	uint32_t attempt;             /* next->attempt */
};

static void render(const struct spok_rc_actions *a, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < a->n && off < len; i++) {
		const struct spok_rc_action *x = &a->a[i];
		const char *extra = "";

		if (x->kind == SPOK_RC_RECORD)
			extra = spok_phase_name(x->phase);
		else if ((x->kind == SPOK_RC_CREATE || x->kind == SPOK_RC_DELETE ||
			  x->kind == SPOK_RC_GET_OWNER) && x->object != SPOK_RC_APP)
			extra = x->object == SPOK_RC_CM ? "CM" : x->object == SPOK_RC_CONF ? "CONF" : "SVC";
		off += (size_t)snprintf(buf + off, len - off, "%s%s%s%s", i ? " " : "",
					spok_rc_act_name(x->kind), extra[0] ? ":" : "", extra);
	}
}

static void run_rows(const struct row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		struct spok_rc_state next;
		struct spok_rc_actions out;
		char got[256];

		spok_rc_step(r->cfg ? r->cfg : &CFG, &r->s, &r->ev, r->now, &next, &out);
		render(&out, got, sizeof(got));
		if (strcmp(got, r->acts) != 0 || next.stage != r->stage ||
		    (r->reason && strstr(next.reason ? next.reason : "", r->reason) == NULL) ||
		    (r->next_try && next.next_try_ms != r->next_try) || next.attempt != r->attempt)
			fail_msg("%s: got actions [%s] stage %s reason '%s' next_try %llu attempt %u; "
				 "want [%s] stage %s reason '%s' next_try %llu attempt %u", r->name, got,
				 spok_rc_stage_name(next.stage), next.reason ? next.reason : "",
				 (unsigned long long)next.next_try_ms, next.attempt, r->acts,
				 spok_rc_stage_name(r->stage), r->reason ? r->reason : "(any)",
				 (unsigned long long)r->next_try, r->attempt);
	}
}

#define RUN(rows) run_rows((rows), sizeof(rows) / sizeof((rows)[0]))
#define ANSWER(obj, ans, msg) {.kind = SPOK_RC_EV_CREATE, .object = (obj), .answer = (ans), \
			       .message = (msg)}
#define STATUS(ph, st, why) {.kind = SPOK_RC_EV_STATUS, .status = {.phase = (ph), \
			     .reason = (why), .app_state = (st)}}

static void test_reconcile_create_answers(void **state)
{
	static const struct row rows[] = {
		{"201", NULL, CREATING, ANSWER(SPOK_RC_APP, SPOK_RC_CREATED, NULL), 5000,
		 "RECORD:QUEUED", SPOK_RC_STAGE_TRACKING, "SparkApplication created", 0, 0},
		{"201 after a quota wait", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_CREATING, .phase = SPOK_PHASE_WAITING_FOR_RESOURCES},
		 ANSWER(SPOK_RC_APP, SPOK_RC_CREATED, NULL), 5000,
		 "RECORD:QUEUED", SPOK_RC_STAGE_TRACKING, "SparkApplication created", 0, 0},
		{"409: whose is it", NULL, CREATING, ANSWER(SPOK_RC_APP, SPOK_RC_CONFLICT, NULL), 5000,
		 "GET_OWNER", SPOK_RC_STAGE_CREATING, "creating", 0, 0},
		{"409 ours: adopted", NULL, CREATING,
		 ANSWER(SPOK_RC_APP, SPOK_RC_CONFLICT_OURS, NULL), 5000,
		 "RECORD:QUEUED", SPOK_RC_STAGE_TRACKING, "SparkApplication created", 0, 0},
		{"409 not ours", NULL, CREATING,
		 ANSWER(SPOK_RC_APP, SPOK_RC_CONFLICT_NOT_OURS, NULL), 5000,
		 "RECORD:PERMANENT_FAILURE DONE", SPOK_RC_STAGE_DONE,
		 "SparkApplication ns/x1-n0-0: name taken by an object spok did not create", 0, 0},
		{"409, then gone before the GET: create again", NULL, CREATING,
		 ANSWER(SPOK_RC_APP, SPOK_RC_GONE, NULL), 5000, "CREATE", SPOK_RC_STAGE_CREATING, NULL, 0, 0},
		{"403 exceeded quota: wait", NULL, CREATING,
		 ANSWER(SPOK_RC_APP, SPOK_RC_QUOTA, "exceeded quota: q"), 5000,
		 "RECORD:WAITING_FOR_RESOURCES", SPOK_RC_STAGE_WAIT, "exceeded quota: q", 6000, 0},
		{"403 quota again: not recorded twice, wait doubles", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_CREATING, .phase = SPOK_PHASE_WAITING_FOR_RESOURCES,
		  .reason = "exceeded quota: q", .backoff_ms = SEC},
		 ANSWER(SPOK_RC_APP, SPOK_RC_QUOTA, "exceeded quota: q"), 5000,
		 "", SPOK_RC_STAGE_WAIT, NULL, 7000, 0},
		{"422: BadTaskFormat", NULL, CREATING,
		 ANSWER(SPOK_RC_APP, SPOK_RC_INVALID, "spec.driver: Invalid value"), 5000,
		 "RECORD:PERMANENT_FAILURE DONE", SPOK_RC_STAGE_DONE,
		 "BadTaskFormat: spec.driver: Invalid value", 0, 0},
		{"403 forbidden / 413: refused", NULL, CREATING,
		 ANSWER(SPOK_RC_APP, SPOK_RC_REFUSED, "forbidden: user u"), 5000,
		 "RECORD:PERMANENT_FAILURE DONE", SPOK_RC_STAGE_DONE, "forbidden: user u", 0, 0},
		{"5xx: keep trying", NULL, CREATING,
		 ANSWER(SPOK_RC_APP, SPOK_RC_UNAVAILABLE, "503 Service Unavailable"), 5000,
		 "RECORD:QUEUED", SPOK_RC_STAGE_WAIT, "503 Service Unavailable", 6000, 0},
		{"transport error, same reason: only the wait", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_CREATING, .phase = SPOK_PHASE_QUEUED,
		  .reason = "connection refused", .backoff_ms = 4 * SEC},
		 ANSWER(SPOK_RC_APP, SPOK_RC_UNAVAILABLE, "connection refused"), 5000,
		 "", SPOK_RC_STAGE_WAIT, NULL, 13000, 0},
		{"ConfigMap 201: then the SparkApplication", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_CREATING, .ships = true},
		 ANSWER(SPOK_RC_CM, SPOK_RC_CREATED, NULL), 5000, "CREATE", SPOK_RC_STAGE_CREATING, NULL, 0, 0},
		{"ConfigMap 409 ours: then the SparkApplication", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_CREATING, .ships = true},
		 ANSWER(SPOK_RC_CM, SPOK_RC_CONFLICT_OURS, NULL), 5000, "CREATE", SPOK_RC_STAGE_CREATING,
		 NULL, 0, 0},
		{"ConfigMap 409: whose is it", NULL, {ROW_IDS, .stage = SPOK_RC_STAGE_CREATING, .ships = true},
		 ANSWER(SPOK_RC_CM, SPOK_RC_CONFLICT, NULL), 5000, "GET_OWNER:CM", SPOK_RC_STAGE_CREATING,
		 NULL, 0, 0},
		{"ConfigMap 409 not ours", NULL, {ROW_IDS, .stage = SPOK_RC_STAGE_CREATING, .ships = true},
		 ANSWER(SPOK_RC_CM, SPOK_RC_CONFLICT_NOT_OURS, NULL), 5000,
		 "RECORD:PERMANENT_FAILURE DONE", SPOK_RC_STAGE_DONE,
		 "ConfigMap ns/x1-n0-0-files: name taken", 0, 0},
		{"422 after the ConfigMap: the ConfigMap goes", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_CREATING, .ships = true, .cm_ok = true},
		 ANSWER(SPOK_RC_APP, SPOK_RC_INVALID, "bad"), 5000,
		 "RECORD:PERMANENT_FAILURE DELETE_CM DONE", SPOK_RC_STAGE_DONE, "BadTaskFormat: bad", 0, 0},
	};

	(void)state;
	RUN(rows);
}

static void test_reconcile_start(void **state)
{
	static const struct row rows[] = {
		{"start: create", NULL, {ROW_IDS, .stage = SPOK_RC_STAGE_WAIT}, {.kind = SPOK_RC_EV_START},
		 0, "CREATE", SPOK_RC_STAGE_CREATING, NULL, 0, 0},
		{"start with shipped files: the ConfigMap first", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_WAIT, .ships = true}, {.kind = SPOK_RC_EV_START},
		 0, "CREATE:CM", SPOK_RC_STAGE_CREATING, NULL, 0, 0},
		{"the object cannot be built", NULL, CREATING,
		 {.kind = SPOK_RC_EV_BAD_TASK, .message = "spec: missing image"}, 0,
		 "RECORD:PERMANENT_FAILURE DONE", SPOK_RC_STAGE_DONE, "spec: missing image", 0, 0},
	};

	(void)state;
	RUN(rows);
}

static void test_reconcile_statuses(void **state)
{
	static const struct row rows[] = {
		{"seen while creating: confirmed", NULL, CREATING, {.kind = SPOK_RC_EV_SEEN}, 5000,
		 "RECORD:QUEUED", SPOK_RC_STAGE_TRACKING, "SparkApplication created", 0, 0},
		{"seen when tracked: nothing", NULL, TRACKING(SPOK_PHASE_RUNNING, "RUNNING"),
		 {.kind = SPOK_RC_EV_SEEN}, 5000, "", SPOK_RC_STAGE_TRACKING, NULL, 0, 0},
		{"job submitted", NULL, TRACKING(SPOK_PHASE_QUEUED, ""),
		 STATUS(SPOK_PHASE_QUEUED, "SUBMITTED", "job submitted"), 5000,
		 "RECORD:QUEUED", SPOK_RC_STAGE_TRACKING, "job submitted", 0, 0},
		{"job queued does not hide 'SparkApplication created'", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_TRACKING, .phase = SPOK_PHASE_QUEUED, .confirmed = true,
		  .reason = "SparkApplication created"},
		 STATUS(SPOK_PHASE_QUEUED, "", "job queued"), 5000, "", SPOK_RC_STAGE_TRACKING,
		 "SparkApplication created", 0, 0},
		{"RUNNING", NULL, TRACKING(SPOK_PHASE_QUEUED, "SUBMITTED"),
		 STATUS(SPOK_PHASE_RUNNING, "RUNNING", ""), 5000, "RECORD:RUNNING", SPOK_RC_STAGE_TRACKING,
		 NULL, 0, 0},
		{"RUNNING again: nothing to record", NULL, TRACKING(SPOK_PHASE_RUNNING, "RUNNING"),
		 STATUS(SPOK_PHASE_RUNNING, "RUNNING", ""), 5000, "", SPOK_RC_STAGE_TRACKING, NULL, 0, 0},
		{"links changed: recorded", NULL, TRACKING(SPOK_PHASE_RUNNING, "RUNNING"),
		 {.kind = SPOK_RC_EV_STATUS, .status = {.phase = SPOK_PHASE_RUNNING, .reason = "",
		  .app_state = "RUNNING", .info_changed = true}},
		 5000, "RECORD:RUNNING", SPOK_RC_STAGE_TRACKING, NULL, 0, 0},
		{"SUCCEEDED: deleted", NULL, TRACKING(SPOK_PHASE_RUNNING, "RUNNING"),
		 STATUS(SPOK_PHASE_SUCCEEDED, "COMPLETED", ""), 5000, "RECORD:SUCCEEDED DELETE",
		 SPOK_RC_STAGE_DELETING, NULL, 0, 0},
		{"SUCCEEDED, keep-on-success: kept", &CFG_KEEP, TRACKING(SPOK_PHASE_RUNNING, "RUNNING"),
		 STATUS(SPOK_PHASE_SUCCEEDED, "COMPLETED", ""), 5000, "RECORD:SUCCEEDED DONE",
		 SPOK_RC_STAGE_DONE, NULL, 0, 0},
		{"SUCCEEDED with shipped files: the ConfigMap is deleted first", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_TRACKING, .phase = SPOK_PHASE_RUNNING, .confirmed = true,
		  .ships = true, .cm_ok = true},
		 STATUS(SPOK_PHASE_SUCCEEDED, "COMPLETED", ""), 5000, "RECORD:SUCCEEDED DELETE:CM",
		 SPOK_RC_STAGE_DELETING, NULL, 0, 0},
		{"FAILED with attempts left: next attempt, failed object kept", NULL,
		 TRACKING(SPOK_PHASE_RUNNING, "RUNNING"),
		 {.kind = SPOK_RC_EV_STATUS, .status = {.phase = SPOK_PHASE_RETRYABLE_FAILURE,
		  .reason = "", .error_message = "boom", .app_state = "FAILED"}},
		 5000, "RECORD:RETRYABLE_FAILURE NEW_ATTEMPT CREATE", SPOK_RC_STAGE_CREATING,
		 "creating SparkApplication", 0, 1},
		{"FAILED, delete_failed: the failed attempt's object goes", &CFG_DELETE_FAILED,
		 TRACKING(SPOK_PHASE_RUNNING, "RUNNING"),
		 STATUS(SPOK_PHASE_RETRYABLE_FAILURE, "FAILED", "boom"), 5000,
		 "RECORD:RETRYABLE_FAILURE DELETE_OLD NEW_ATTEMPT CREATE", SPOK_RC_STAGE_CREATING, NULL, 0, 1},
		{"FAILED, retries exhausted", NULL,
		 {ROW_IDS, LAST, .stage = SPOK_RC_STAGE_TRACKING, .phase = SPOK_PHASE_RUNNING,
		  .confirmed = true},
		 STATUS(SPOK_PHASE_RETRYABLE_FAILURE, "FAILED", "boom"), 5000,
		 "RECORD:RETRYABLE_FAILURE DONE", SPOK_RC_STAGE_DONE, "boom", 0, 1},
		{"FAILED with abort requested: no new attempt", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_TRACKING, .phase = SPOK_PHASE_RUNNING, .confirmed = true,
		  .abort_requested = true, .inflight = true},
		 STATUS(SPOK_PHASE_RETRYABLE_FAILURE, "FAILED", "boom"), 5000,
		 "RECORD:RETRYABLE_FAILURE DONE", SPOK_RC_STAGE_DONE, "boom", 0, 0},
		{"PERMANENT_FAILURE: kept", NULL, TRACKING(SPOK_PHASE_RUNNING, "RUNNING"),
		 STATUS(SPOK_PHASE_PERMANENT_FAILURE, "FAILED", "bad"), 5000,
		 "RECORD:PERMANENT_FAILURE DONE", SPOK_RC_STAGE_DONE, "bad", 0, 0},
		{"PERMANENT_FAILURE, delete_failed: deleted", &CFG_DELETE_FAILED,
		 TRACKING(SPOK_PHASE_RUNNING, "RUNNING"),
		 STATUS(SPOK_PHASE_PERMANENT_FAILURE, "FAILED", "bad"), 5000,
		 "RECORD:PERMANENT_FAILURE DELETE", SPOK_RC_STAGE_DELETING, "bad", 0, 0},
		{"status while deleting: ignored", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_DELETING, .phase = SPOK_PHASE_ABORTED, .confirmed = true},
		 STATUS(SPOK_PHASE_RUNNING, "RUNNING", ""), 5000, "", SPOK_RC_STAGE_DELETING, NULL, 0, 0},
	};

	(void)state;
	RUN(rows);
}

static void test_reconcile_timers(void **state)
{
	static const struct row rows[] = {
		{"task timeout", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_TRACKING, .phase = SPOK_PHASE_RUNNING, .confirmed = true,
		  .confirmed_at_ms = 1000, .timeout_ms = 5 * SEC, .app_state = "RUNNING"},
		 {.kind = SPOK_RC_EV_TICK}, 6001, "RECORD:TIMED_OUT DELETE", SPOK_RC_STAGE_DELETING,
		 "task timed out after 0m5s (task timeout)", 0, 0},
		{"task timeout of a run confirmed before the loop's clock began (adopted)", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_TRACKING, .phase = SPOK_PHASE_RUNNING,
		  .confirmed = true, .confirmed_at_ms = -(int64_t)(10 * MIN), .timeout_ms = 5 * SEC,
		  .app_state = "RUNNING"},
		 {.kind = SPOK_RC_EV_TICK}, 100, "RECORD:TIMED_OUT DELETE", SPOK_RC_STAGE_DELETING,
		 "task timed out", 0, 0},
		{"task timeout not reached", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_TRACKING, .phase = SPOK_PHASE_RUNNING, .confirmed = true,
		  .confirmed_at_ms = 1000, .timeout_ms = 5 * SEC, .app_state = "RUNNING"},
		 {.kind = SPOK_RC_EV_TICK}, 6000, "", SPOK_RC_STAGE_TRACKING, NULL, 0, 0},
		{"SUBMITTED deadline: the attempt fails, its object goes", NULL,
		 TRACKING(SPOK_PHASE_QUEUED, "SUBMITTED"), {.kind = SPOK_RC_EV_TICK},
		 1000 + 10 * MIN + 1, "RECORD:RETRYABLE_FAILURE DELETE_OLD NEW_ATTEMPT CREATE",
		 SPOK_RC_STAGE_CREATING, NULL, 0, 1},
		{"SUBMITTED deadline on the last attempt", NULL,
		 {ROW_IDS, LAST, .stage = SPOK_RC_STAGE_TRACKING, .phase = SPOK_PHASE_QUEUED,
		  .confirmed = true, .confirmed_at_ms = 1000},
		 {.kind = SPOK_RC_EV_TICK}, 1000 + 10 * MIN + 1,
		 "RECORD:RETRYABLE_FAILURE DELETE_OLD DONE", SPOK_RC_STAGE_DONE,
		 "stuck in SUBMITTED for 10m0s: the operator did not start the driver", 0, 1},
		{"SUBMITTED deadline not reached (the driver pod is read)", NULL,
		 TRACKING(SPOK_PHASE_QUEUED, "SUBMITTED"), {.kind = SPOK_RC_EV_TICK}, 1000 + 10 * MIN,
		 "GET_DRIVER", SPOK_RC_STAGE_TRACKING, NULL, 0, 0},
		{"running past the SUBMITTED deadline: fine", NULL,
		 TRACKING(SPOK_PHASE_RUNNING, "RUNNING"), {.kind = SPOK_RC_EV_TICK}, 2 * 10 * MIN,
		 "", SPOK_RC_STAGE_TRACKING, NULL, 0, 0},
		{"backoff: before the deadline nothing", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_WAIT, .next_try_ms = 9000}, {.kind = SPOK_RC_EV_TICK},
		 8999, "", SPOK_RC_STAGE_WAIT, NULL, 0, 0},
		{"backoff: at the deadline the create again", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_WAIT, .next_try_ms = 9000}, {.kind = SPOK_RC_EV_TICK},
		 9000, "CREATE", SPOK_RC_STAGE_CREATING, NULL, 0, 0},
		{"teardown retried at its deadline", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_DELETING, .next_try_ms = 9000}, {.kind = SPOK_RC_EV_TICK},
		 9000, "DELETE", SPOK_RC_STAGE_DELETING, NULL, 0, 0},
		{"adopted: the GET retried at its deadline", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_ADOPT, .next_try_ms = 9000}, {.kind = SPOK_RC_EV_TICK},
		 9000, "GET", SPOK_RC_STAGE_ADOPT, NULL, 0, 0},
		{"a request in flight: the tick waits", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_WAIT, .inflight = true}, {.kind = SPOK_RC_EV_TICK},
		 9000, "", SPOK_RC_STAGE_WAIT, NULL, 0, 0},
	};

	(void)state;
	RUN(rows);
}

static void test_reconcile_abort_and_deletes(void **state)
{
	static const struct row rows[] = {
		{"abort while running", NULL, TRACKING(SPOK_PHASE_RUNNING, "RUNNING"),
		 {.kind = SPOK_RC_EV_ABORT}, 5000, "RECORD:ABORTED DELETE", SPOK_RC_STAGE_DELETING,
		 "aborted by the user", 0, 0},
		{"abort while waiting for quota", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_WAIT, .phase = SPOK_PHASE_WAITING_FOR_RESOURCES},
		 {.kind = SPOK_RC_EV_ABORT}, 5000, "RECORD:ABORTED DELETE", SPOK_RC_STAGE_DELETING, NULL, 0, 0},
		{"abort noticed by the tick", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_TRACKING, .phase = SPOK_PHASE_RUNNING, .confirmed = true,
		  .abort_requested = true}, {.kind = SPOK_RC_EV_TICK}, 5000, "RECORD:ABORTED DELETE",
		 SPOK_RC_STAGE_DELETING, NULL, 0, 0},
		{"abort with a request in flight: acted on after its answer", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_CREATING, .inflight = true}, {.kind = SPOK_RC_EV_ABORT},
		 5000, "", SPOK_RC_STAGE_CREATING, NULL, 0, 0},
		{"abort while deleting: nothing more", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_DELETING, .phase = SPOK_PHASE_SUCCEEDED, .next_try_ms = 9000},
		 {.kind = SPOK_RC_EV_ABORT}, 5000, "", SPOK_RC_STAGE_DELETING, NULL, 0, 0},
		{"deleted externally: next attempt", NULL, TRACKING(SPOK_PHASE_RUNNING, "RUNNING"),
		 {.kind = SPOK_RC_EV_DELETED}, 5000, "RECORD:RETRYABLE_FAILURE NEW_ATTEMPT CREATE",
		 SPOK_RC_STAGE_CREATING, NULL, 0, 1},
		{"deleted externally on the last attempt", NULL,
		 {ROW_IDS, LAST, .stage = SPOK_RC_STAGE_TRACKING, .phase = SPOK_PHASE_RUNNING,
		  .confirmed = true},
		 {.kind = SPOK_RC_EV_DELETED}, 5000, "RECORD:RETRYABLE_FAILURE DONE", SPOK_RC_STAGE_DONE,
		 "ResourceDeletedExternally: SparkApplication ns/x1-n0-0 was deleted by someone else",
		 0, 1},
		{"DELETED while creating: not ours to judge", NULL, CREATING,
		 {.kind = SPOK_RC_EV_DELETED}, 5000, "", SPOK_RC_STAGE_CREATING, NULL, 0, 0},
		{"absent after confirmation (GET 404): deleted externally", NULL,
		 {ROW_IDS, LAST, .stage = SPOK_RC_STAGE_ADOPT, .phase = SPOK_PHASE_RUNNING, .confirmed = true},
		 {.kind = SPOK_RC_EV_ABSENT}, 5000, "RECORD:RETRYABLE_FAILURE DONE", SPOK_RC_STAGE_DONE,
		 "ResourceDeletedExternally", 0, 1},
		{"absent, never confirmed: create", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_ADOPT, .phase = SPOK_PHASE_QUEUED},
		 {.kind = SPOK_RC_EV_ABSENT}, 5000, "CREATE", SPOK_RC_STAGE_CREATING, NULL, 0, 0},
		{"the GET failed: retried later", NULL, {ROW_IDS, .stage = SPOK_RC_STAGE_ADOPT},
		 {.kind = SPOK_RC_EV_GET_FAILED}, 5000, "", SPOK_RC_STAGE_ADOPT, NULL, 6000, 0},
		{"first list without a tracked object: says nothing", NULL,
		 TRACKING(SPOK_PHASE_RUNNING, "RUNNING"), {.kind = SPOK_RC_EV_NOT_LISTED,
		 .first_list = true}, 5000, "", SPOK_RC_STAGE_TRACKING, NULL, 0, 0},
		{"a later list without it: GET to confirm", NULL,
		 TRACKING(SPOK_PHASE_RUNNING, "RUNNING"), {.kind = SPOK_RC_EV_NOT_LISTED}, 5000,
		 "GET", SPOK_RC_STAGE_TRACKING, NULL, 0, 0},
		{"adopted, never confirmed, not listed: create", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_ADOPT, .phase = SPOK_PHASE_QUEUED},
		 {.kind = SPOK_RC_EV_NOT_LISTED, .first_list = true}, 5000, "CREATE", SPOK_RC_STAGE_CREATING,
		 NULL, 0, 0},
		{"adopted, confirmed, not listed: GET", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_ADOPT, .phase = SPOK_PHASE_RUNNING, .confirmed = true},
		 {.kind = SPOK_RC_EV_NOT_LISTED, .first_list = true}, 5000, "GET", SPOK_RC_STAGE_ADOPT,
		 NULL, 0, 0},
		{"teardown DELETE done", NULL, {ROW_IDS, .stage = SPOK_RC_STAGE_DELETING},
		 {.kind = SPOK_RC_EV_DELETE, .object = SPOK_RC_APP, .ok = true}, 5000, "DONE",
		 SPOK_RC_STAGE_DONE, NULL, 0, 0},
		{"ConfigMap deleted: then the SparkApplication", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_DELETING, .ships = true},
		 {.kind = SPOK_RC_EV_DELETE, .object = SPOK_RC_CM, .ok = true}, 5000, "DELETE",
		 SPOK_RC_STAGE_DELETING, NULL, 0, 0},
		{"teardown DELETE failed: retried with backoff", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_DELETING},
		 {.kind = SPOK_RC_EV_DELETE, .object = SPOK_RC_APP}, 5000, "", SPOK_RC_STAGE_DELETING, NULL,
		 6000, 0},
	};

	(void)state;
	RUN(rows);
}

static void test_reconcile_adopt(void **state)
{
	static const struct row rows[] = {
		{"adopted in a listed namespace: GET", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_WAIT, .phase = SPOK_PHASE_RUNNING, .reason = "r",
		  .confirmed = true},
		 {.kind = SPOK_RC_EV_ADOPT, .first_list = true}, 5000, "RECORD:RUNNING GET",
		 SPOK_RC_STAGE_ADOPT, "r", 0, 0},
		{"adopted before the namespace's first list", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_WAIT, .phase = SPOK_PHASE_QUEUED},
		 {.kind = SPOK_RC_EV_ADOPT}, 5000, "RECORD:QUEUED", SPOK_RC_STAGE_ADOPT, NULL, 0, 0},
		{"adopted with an abort requested", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_WAIT, .phase = SPOK_PHASE_RUNNING, .abort_requested = true},
		 {.kind = SPOK_RC_EV_ADOPT, .first_list = true}, 5000, "RECORD:ABORTED DELETE",
		 SPOK_RC_STAGE_DELETING, NULL, 0, 0},
		{"adopted between two attempts: the next one", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_WAIT, .phase = SPOK_PHASE_RETRYABLE_FAILURE},
		 {.kind = SPOK_RC_EV_ADOPT}, 5000, "NEW_ATTEMPT CREATE", SPOK_RC_STAGE_CREATING,
		 "creating SparkApplication", 0, 1},
		/* The failed attempt's record was committed, the crash came before its DELETE. */
		{"adopted between two attempts, failed ones deleted: the old objects go first",
		 &CFG_DELETE_FAILED,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_WAIT, .phase = SPOK_PHASE_RETRYABLE_FAILURE},
		 {.kind = SPOK_RC_EV_ADOPT}, 5000, "DELETE_OLD NEW_ATTEMPT CREATE",
		 SPOK_RC_STAGE_CREATING, "creating SparkApplication", 0, 1},
	};

	(void)state;
	RUN(rows);
}

/* Capped exponential backoff over successive refusals; a confirmed object resets it. */
static void test_reconcile_backoff(void **state)
{
	static const uint64_t want[] = {1, 2, 4, 8, 16, 32, 60, 60};
	struct spok_rc_state s = CREATING, next;
	struct spok_rc_event quota = ANSWER(SPOK_RC_APP, SPOK_RC_QUOTA, "exceeded quota");
	struct spok_rc_event created = ANSWER(SPOK_RC_APP, SPOK_RC_CREATED, NULL);
	struct spok_rc_event tick = {.kind = SPOK_RC_EV_TICK};
	struct spok_rc_actions out;
	uint64_t now = 100000;

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		spok_rc_step(&CFG, &s, &quota, now, &next, &out);
		assert_int_equal(next.stage, SPOK_RC_STAGE_WAIT);
		assert_int_equal(next.next_try_ms - now, want[i] * SEC);
		s = next;
		now = s.next_try_ms;
		spok_rc_step(&CFG, &s, &tick, now, &next, &out);
		assert_int_equal(out.n, 1);
		assert_int_equal(out.a[0].kind, SPOK_RC_CREATE);
		s = next;
	}
	spok_rc_step(&CFG, &s, &created, now, &next, &out);
	assert_int_equal(next.backoff_ms, 0);
	assert_int_equal(next.stage, SPOK_RC_STAGE_TRACKING);
	assert_true(out.a[0].stamp_started);
	assert_int_equal(next.confirmed_at_ms, now);
}

/* A terminal record is marked terminal (the driver's teardown point) and carries the error. */
static void test_reconcile_record_fields(void **state)
{
	struct spok_rc_state s = TRACKING(SPOK_PHASE_RUNNING, "RUNNING"), next;
	struct spok_rc_event ev = {.kind = SPOK_RC_EV_STATUS,
		.status = {.phase = SPOK_PHASE_PERMANENT_FAILURE, .reason = "",
			   .error_message = "Spark Job  Submission Failed", .app_state = "FAILED"}};
	struct spok_rc_actions out;

	(void)state;
	spok_rc_step(&CFG, &s, &ev, 5000, &next, &out);
	assert_int_equal(out.n, 2);
	assert_true(out.a[0].terminal);
	assert_true(out.a[0].stamp_finished);
	assert_true(out.a[0].set_error);
	assert_string_equal(out.a[0].error_message, "Spark Job  Submission Failed");
	assert_string_equal(next.app_state, "FAILED");
}

/* Every SparkApplication state the operator writes, mapped by the same pure mapper the
 * engine uses (spok_status_from_sparkapp), then stepped from a confirmed attempt 0 of 2. */
static void test_reconcile_sparkapp_states(void **state)
{
	static const struct {
		const char *state;
		bool deleting; /* metadata.deletionTimestamp set */
		const char *acts;
		const char *reason; /* substring of the recorded reason, NULL: not checked */
	} rows[] = {
		{"", false, "", "SparkApplication created"}, /* "job queued" hides nothing */
		{"SUBMITTED", false, "RECORD:INITIALIZING", "job submitted"},
		{"PENDING_SUBMISSION", false, "RECORD:INITIALIZING", "job submitted"},
		{"RUNNING", false, "RECORD:RUNNING", NULL},
		{"PENDING_RERUN", false, "RECORD:RUNNING", NULL},
		{"INVALIDATING", false, "RECORD:RUNNING", NULL},
		{"SUCCEEDING", false, "RECORD:RUNNING", NULL},
		{"FAILING", false, "RECORD:RUNNING", NULL},
		{"UNKNOWN", false, "RECORD:RUNNING", NULL},
		{"COMPLETED", false, "RECORD:SUCCEEDED DELETE", NULL},
		{"FAILED", false, "RECORD:RETRYABLE_FAILURE NEW_ATTEMPT CREATE", NULL},
		{"SUBMISSION_FAILED", false, "RECORD:RETRYABLE_FAILURE NEW_ATTEMPT CREATE", NULL},
		{"RUNNING", true, "RECORD:RETRYABLE_FAILURE NEW_ATTEMPT CREATE", NULL},
	};
	static const char *const failed_reason[] = {
		[10] = "Spark Job Failed with Error: boom",
		[11] = "Spark Job  Submission Failed with Error: boom",
		[12] = "terminated in the background",
	};
	struct spok_platform plat;

	(void)state;
	spok_platform_init(&plat);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct spok_rc_state s = {ROW_IDS, .stage = SPOK_RC_STAGE_TRACKING,
			.phase = SPOK_PHASE_QUEUED, .reason = "SparkApplication created",
			.confirmed = true}, next;
		struct spok_status prev = {.phase = SPOK_PHASE_QUEUED,
					   .reason = (char *)"SparkApplication created"};
		struct spok_status st = {0};
		struct spok_rc_event ev = {.kind = SPOK_RC_EV_STATUS};
		struct spok_rc_actions out;
		struct spok_err err = {0};
		char got[256];
		json_t *app = json_pack("{s:{s:s,s:s,s:{s:s}},s:{s:{s:s,s:s}}}", "metadata", "name",
					"x1-n0-0", "namespace", "ns", "labels", "spok.dev/execution",
					"x1", "status", "applicationState", "state", rows[i].state,
					"errorMessage", "boom");

		if (rows[i].deleting)
			json_object_set_new(json_object_get(app, "metadata"), "deletionTimestamp",
					    json_string("2024-01-01T00:00:00Z"));
		assert_int_equal(spok_status_from_sparkapp(app, NULL, &plat, &prev, &st, &err), 0);
		ev.status.phase = st.phase;
		ev.status.phase_version = st.phase_version;
		ev.status.reason = st.reason;
		ev.status.error_message = st.error_message;
		ev.status.app_state = st.app_state;
		spok_rc_step(&CFG, &s, &ev, 5000, &next, &out);
		render(&out, got, sizeof(got));
		if (strcmp(got, rows[i].acts) != 0)
			fail_msg("state '%s'%s: got [%s], want [%s]", rows[i].state,
				 rows[i].deleting ? " (deleting)" : "", got, rows[i].acts);
		if (rows[i].reason && strstr(next.reason ? next.reason : "", rows[i].reason) == NULL)
			fail_msg("state '%s': reason '%s', want '%s'", rows[i].state,
				 next.reason ? next.reason : "", rows[i].reason);
		if (i < sizeof(failed_reason) / sizeof(failed_reason[0]) && failed_reason[i] &&
		    (out.a[0].reason == NULL || strstr(out.a[0].reason, failed_reason[i]) == NULL))
			fail_msg("state '%s': recorded '%s', want '%s'", rows[i].state,
				 out.a[0].reason ? out.a[0].reason : "", failed_reason[i]);
		spok_status_free(&st);
		json_decref(app);
	}
	spok_platform_free(&plat);
}

/* ---- the driver pod, read while the object is SUBMITTED ---- */

#define UNSCHED "waiting: 0/1 nodes are available: 1 Insufficient memory."
#define PULL "driver pod x1-n0-0-driver cannot pull image \"spok.local/nope:1\": ErrImagePull: not found"
/* SUBMITTED, and the driver pod was last seen unschedulable (its reason recorded). */
#define WAITING_ROW {ROW_IDS, .stage = SPOK_RC_STAGE_TRACKING, .phase = SPOK_PHASE_INITIALIZING, \
		     .reason = UNSCHED, .confirmed = true, .confirmed_at_ms = 1000, \
		     .app_state = "SUBMITTED", .waiting = UNSCHED}
#define POD(v, msg) {.kind = SPOK_RC_EV_DRIVER_POD, .pod = (v), .message = (msg)}

static void test_reconcile_driver_pod(void **state)
{
	static const struct row rows[] = {
		{"SUBMITTED: the tick reads the driver pod", NULL,
		 TRACKING(SPOK_PHASE_INITIALIZING, "SUBMITTED"), {.kind = SPOK_RC_EV_TICK}, 5000,
		 "GET_DRIVER", SPOK_RC_STAGE_TRACKING, NULL, 0, 0},
		{"a read pending: no second one", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_TRACKING, .phase = SPOK_PHASE_INITIALIZING,
		  .confirmed = true, .app_state = "SUBMITTED", .pod_inflight = true},
		 {.kind = SPOK_RC_EV_TICK}, 5000, "", SPOK_RC_STAGE_TRACKING, NULL, 0, 0},
		{"read a moment ago: not yet again", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_TRACKING, .phase = SPOK_PHASE_INITIALIZING,
		  .confirmed = true, .app_state = "SUBMITTED", .next_pod_ms = 9000},
		 {.kind = SPOK_RC_EV_TICK}, 8999, "", SPOK_RC_STAGE_TRACKING, NULL, 0, 0},
		{"not submitted yet (no spark-submit, no pod): no read", NULL,
		 TRACKING(SPOK_PHASE_QUEUED, ""), {.kind = SPOK_RC_EV_TICK}, 5000, "",
		 SPOK_RC_STAGE_TRACKING, NULL, 0, 0},
		{"RUNNING: the driver pod is the operator's to report", NULL,
		 TRACKING(SPOK_PHASE_RUNNING, "RUNNING"), {.kind = SPOK_RC_EV_TICK}, 5000, "",
		 SPOK_RC_STAGE_TRACKING, NULL, 0, 0},
		{"reads off (driver_check_ms 0)", &CFG_NO_POD_READS,
		 TRACKING(SPOK_PHASE_INITIALIZING, "SUBMITTED"), {.kind = SPOK_RC_EV_TICK}, 5000, "",
		 SPOK_RC_STAGE_TRACKING, NULL, 0, 0},
		{"ErrImagePull: permanent at once (retries left), the object deleted", NULL,
		 TRACKING(SPOK_PHASE_INITIALIZING, "SUBMITTED"), POD(SPOK_RC_POD_BROKEN, PULL), 5000,
		 "RECORD:PERMANENT_FAILURE DELETE", SPOK_RC_STAGE_DELETING,
		 "cannot pull image \"spok.local/nope:1\": ErrImagePull", 0, 0},
		{"ErrImagePull, even when failures are kept: the object is live, deleted", &CFG_KEEP,
		 TRACKING(SPOK_PHASE_INITIALIZING, "SUBMITTED"), POD(SPOK_RC_POD_BROKEN, PULL), 5000,
		 "RECORD:PERMANENT_FAILURE DELETE", SPOK_RC_STAGE_DELETING, "ErrImagePull", 0, 0},
		{"ErrImagePull with shipped files: the ConfigMap goes first", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_TRACKING, .phase = SPOK_PHASE_INITIALIZING,
		  .confirmed = true, .app_state = "SUBMITTED", .ships = true, .cm_ok = true},
		 POD(SPOK_RC_POD_BROKEN, PULL), 5000, "RECORD:PERMANENT_FAILURE DELETE:CM",
		 SPOK_RC_STAGE_DELETING, "ErrImagePull", 0, 0},
		{"Unschedulable: the scheduler's reason recorded", NULL,
		 TRACKING(SPOK_PHASE_INITIALIZING, "SUBMITTED"), POD(SPOK_RC_POD_WAITING, UNSCHED), 5000,
		 "RECORD:INITIALIZING", SPOK_RC_STAGE_TRACKING, UNSCHED, 0, 0},
		{"Unschedulable again, same reason: nothing to record", NULL, WAITING_ROW,
		 POD(SPOK_RC_POD_WAITING, UNSCHED), 5000, "", SPOK_RC_STAGE_TRACKING, UNSCHED, 0, 0},
		{"Unschedulable, a new reason: recorded", NULL, WAITING_ROW,
		 POD(SPOK_RC_POD_WAITING, "waiting: 0/1 nodes are available: 1 Insufficient cpu."), 5000,
		 "RECORD:INITIALIZING", SPOK_RC_STAGE_TRACKING, "Insufficient cpu", 0, 0},
		{"status 'job submitted' keeps the waiting reason", NULL, WAITING_ROW,
		 STATUS(SPOK_PHASE_INITIALIZING, "SUBMITTED", "job submitted"), 5000, "",
		 SPOK_RC_STAGE_TRACKING, UNSCHED, 0, 0},
		{"RUNNING after all: the waiting reason goes", NULL, WAITING_ROW,
		 STATUS(SPOK_PHASE_RUNNING, "RUNNING", ""), 5000, "RECORD:RUNNING",
		 SPOK_RC_STAGE_TRACKING, "", 0, 0},
		{"pod not found while SUBMITTED: keep waiting", NULL,
		 TRACKING(SPOK_PHASE_INITIALIZING, "SUBMITTED"), POD(SPOK_RC_POD_ABSENT, NULL), 5000,
		 "", SPOK_RC_STAGE_TRACKING, NULL, 0, 0},
		{"pod not found, reason kept", NULL, WAITING_ROW, POD(SPOK_RC_POD_ABSENT, NULL), 5000,
		 "", SPOK_RC_STAGE_TRACKING, UNSCHED, 0, 0},
		{"the read failed: keep waiting", NULL, TRACKING(SPOK_PHASE_INITIALIZING, "SUBMITTED"),
		 POD(SPOK_RC_POD_UNKNOWN, NULL), 5000, "", SPOK_RC_STAGE_TRACKING, NULL, 0, 0},
		{"scheduled after all: back to 'job submitted'", NULL, WAITING_ROW,
		 POD(SPOK_RC_POD_FINE, NULL), 5000, "RECORD:INITIALIZING", SPOK_RC_STAGE_TRACKING,
		 "job submitted", 0, 0},
		{"a fine pod: nothing", NULL, TRACKING(SPOK_PHASE_INITIALIZING, "SUBMITTED"),
		 POD(SPOK_RC_POD_FINE, NULL), 5000, "", SPOK_RC_STAGE_TRACKING, NULL, 0, 0},
		{"stale answer (the object runs now): dropped", NULL,
		 TRACKING(SPOK_PHASE_RUNNING, "RUNNING"), POD(SPOK_RC_POD_BROKEN, PULL), 5000, "",
		 SPOK_RC_STAGE_TRACKING, NULL, 0, 0},
		{"answer while deleting: dropped", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_DELETING, .phase = SPOK_PHASE_ABORTED, .confirmed = true,
		  .app_state = "SUBMITTED"},
		 POD(SPOK_RC_POD_BROKEN, PULL), 5000, "", SPOK_RC_STAGE_DELETING, NULL, 0, 0},
		{"answer while a request of the attempt is in flight: dropped", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_TRACKING, .phase = SPOK_PHASE_INITIALIZING,
		  .confirmed = true, .app_state = "SUBMITTED", .inflight = true},
		 POD(SPOK_RC_POD_BROKEN, PULL), 5000, "", SPOK_RC_STAGE_TRACKING, NULL, 0, 0},
		{"task timeout while unschedulable: TIMED_OUT naming the reason", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_TRACKING, .phase = SPOK_PHASE_INITIALIZING,
		  .reason = UNSCHED, .confirmed = true, .confirmed_at_ms = 1000, .timeout_ms = 5 * SEC,
		  .app_state = "SUBMITTED", .waiting = UNSCHED},
		 {.kind = SPOK_RC_EV_TICK}, 6001, "RECORD:TIMED_OUT DELETE", SPOK_RC_STAGE_DELETING,
		 "task timed out after 0m5s (task timeout); the driver pod was still " UNSCHED, 0, 0},
		{"SUBMITTED deadline while unschedulable: the reason instead of 'check the operator'",
		 NULL,
		 {ROW_IDS, LAST, .stage = SPOK_RC_STAGE_TRACKING, .phase = SPOK_PHASE_INITIALIZING,
		  .reason = UNSCHED, .confirmed = true, .confirmed_at_ms = 1000,
		  .app_state = "SUBMITTED", .waiting = UNSCHED},
		 {.kind = SPOK_RC_EV_TICK}, 1000 + 10 * MIN + 1,
		 "RECORD:RETRYABLE_FAILURE DELETE_OLD DONE", SPOK_RC_STAGE_DONE,
		 "stuck in SUBMITTED for 10m0s: the driver pod was still " UNSCHED, 0, 1},
	};

	(void)state;
	RUN(rows);
}

/* The fields a row does not show: read deadline, phase versions, the waiting reason across
 * a new attempt, and the error of a permanent failure. */
static void test_reconcile_driver_pod_fields(void **state)
{
	struct spok_rc_state s = TRACKING(SPOK_PHASE_INITIALIZING, "SUBMITTED"), next;
	struct spok_rc_event tick = {.kind = SPOK_RC_EV_TICK};
	struct spok_rc_event waiting = POD(SPOK_RC_POD_WAITING, UNSCHED);
	struct spok_rc_event broken = POD(SPOK_RC_POD_BROKEN, PULL);
	struct spok_rc_event status = STATUS(SPOK_PHASE_INITIALIZING, "SUBMITTED", "job submitted");
	struct spok_rc_actions out;

	(void)state;
	s.phase_version = 3;
	spok_rc_step(&CFG, &s, &tick, 7000, &next, &out);
	assert_true(next.pod_inflight);
	assert_int_equal(next.next_pod_ms, 7000 + 5 * SEC);
	s = next;
	s.pod_inflight = false; /* the driver: the read answered */
	spok_rc_step(&CFG, &s, &waiting, 7100, &next, &out);
	assert_false(next.pod_inflight);
	assert_string_equal(next.waiting, UNSCHED);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.a[0].phase_version, 4); /* same phase, new reason: a new event */
	assert_string_equal(out.a[0].reason, UNSCHED);
	s = next;
	s.reason = UNSCHED; /* as recorded */
	status.status.phase_version = 5;   /* the mapper bumped it against "job submitted" */
	spok_rc_step(&CFG, &s, &status, 7200, &next, &out);
	assert_int_equal(out.n, 0);        /* nothing new: no version churn */
	assert_int_equal(next.phase_version, 4);
	/* The SUBMITTED deadline with attempts left: the next attempt starts without it. */
	spok_rc_step(&CFG, &s, &tick, 1000 + 10 * MIN + 1, &next, &out);
	assert_int_equal(next.attempt, 1);
	assert_string_equal(next.waiting, "");
	assert_int_equal(next.next_pod_ms, 0);
	/* A permanent failure carries the line as its error too. */
	s = (struct spok_rc_state)TRACKING(SPOK_PHASE_INITIALIZING, "SUBMITTED");
	spok_rc_step(&CFG, &s, &broken, 7000, &next, &out);
	assert_true(out.a[0].terminal);
	assert_true(out.a[0].set_error);
	assert_string_equal(out.a[0].error_message, PULL);
	assert_string_equal(out.a[0].reason, PULL);
}

/* Pods as the API server returns them, judged by the same pure function the engine uses
 * (spok_driver_pod_verdict), then stepped from a SUBMITTED attempt 0 of 2. */
static void test_reconcile_driver_pod_objects(void **state)
{
	static const struct {
		const char *name;
		const char *json;
		const char *acts;
		const char *reason; /* the recorded reason, exactly; NULL: none recorded */
	} rows[] = {
		{"ErrImagePull",
		 "{\"metadata\":{\"name\":\"x1-n0-0-driver\"},\"status\":{\"phase\":\"Pending\","
		 "\"containerStatuses\":[{\"name\":\"spark-kubernetes-driver\",\"image\":\"spok.local/nope:1\","
		 "\"state\":{\"waiting\":{\"reason\":\"ErrImagePull\",\"message\":\"failed to pull and "
		 "unpack image \\\"spok.local/nope:1\\\": not found\"}}}]}}",
		 "RECORD:PERMANENT_FAILURE DELETE",
		 "driver pod x1-n0-0-driver cannot pull image \"spok.local/nope:1\": ErrImagePull: "
		 "failed to pull and unpack image \"spok.local/nope:1\": not found"},
		{"ImagePullBackOff, image from the spec",
		 "{\"metadata\":{\"name\":\"d\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i:2\"}]},"
		 "\"status\":{\"phase\":\"Pending\",\"containerStatuses\":[{\"name\":\"c\","
		 "\"state\":{\"waiting\":{\"reason\":\"ImagePullBackOff\"}}}]}}",
		 "RECORD:PERMANENT_FAILURE DELETE",
		 "driver pod d cannot pull image \"i:2\": ImagePullBackOff"},
		{"ErrImageNeverPull (pull policy Never)",
		 "{\"metadata\":{\"name\":\"d\"},\"status\":{\"phase\":\"Pending\",\"containerStatuses\":["
		 "{\"name\":\"c\",\"image\":\"i:3\",\"state\":{\"waiting\":{\"reason\":\"ErrImageNeverPull\","
		 "\"message\":\"Container image \\\"i:3\\\" is not present with pull policy of Never\"}}}]}}",
		 "RECORD:PERMANENT_FAILURE DELETE",
		 "driver pod d cannot pull image \"i:3\": ErrImageNeverPull: Container image \"i:3\" is "
		 "not present with pull policy of Never"},
		{"InvalidImageName",
		 "{\"metadata\":{\"name\":\"d\"},\"status\":{\"phase\":\"Pending\",\"containerStatuses\":["
		 "{\"name\":\"c\",\"image\":\"Bad Name\",\"state\":{\"waiting\":{\"reason\":\"InvalidImageName\","
		 "\"message\":\"couldn't parse image name\"}}}]}}",
		 "RECORD:PERMANENT_FAILURE DELETE",
		 "driver pod d has an invalid image name \"Bad Name\": InvalidImageName: couldn't parse "
		 "image name"},
		{"CreateContainerConfigError in an init container",
		 "{\"metadata\":{\"name\":\"d\"},\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":["
		 "{\"name\":\"init\",\"state\":{\"waiting\":{\"reason\":\"CreateContainerConfigError\","
		 "\"message\":\"secret \\\"s\\\" not found\"}}}]}}",
		 "RECORD:PERMANENT_FAILURE DELETE",
		 "driver pod d cannot start container init: CreateContainerConfigError: secret \"s\" not found"},
		{"Unschedulable",
		 "{\"metadata\":{\"name\":\"d\"},\"status\":{\"phase\":\"Pending\",\"conditions\":["
		 "{\"type\":\"PodScheduled\",\"status\":\"False\",\"reason\":\"Unschedulable\","
		 "\"message\":\"0/1 nodes are available: 1 Insufficient memory.\"}]}}",
		 "RECORD:INITIALIZING", UNSCHED},
		{"ContainerCreating: fine", "{\"metadata\":{\"name\":\"d\"},\"status\":{\"phase\":\"Pending\","
		 "\"containerStatuses\":[{\"name\":\"c\",\"state\":{\"waiting\":{\"reason\":\"ContainerCreating\"}}}]}}",
		 "", NULL},
		{"Running: fine", "{\"metadata\":{\"name\":\"d\"},\"status\":{\"phase\":\"Running\"}}", "", NULL},
		{"a Failed pod with a pull error left: the operator's to report",
		 "{\"metadata\":{\"name\":\"d\"},\"status\":{\"phase\":\"Failed\",\"containerStatuses\":["
		 "{\"name\":\"c\",\"image\":\"i\",\"state\":{\"waiting\":{\"reason\":\"ErrImagePull\"}}}]}}",
		 "", NULL},
		{"being deleted: fine",
		 "{\"metadata\":{\"name\":\"d\",\"deletionTimestamp\":\"2026-01-01T00:00:00Z\"},\"status\":{"
		 "\"phase\":\"Pending\",\"containerStatuses\":[{\"name\":\"c\",\"state\":{\"waiting\":"
		 "{\"reason\":\"ErrImagePull\"}}}]}}", "", NULL},
		{"not a pod: fine", "[1,2]", "", NULL},
		{"hostile text: one line, escaped",
		 "{\"metadata\":{\"name\":\"d\\u001b[2J\"},\"status\":{\"phase\":\"Pending\",\"containerStatuses\":["
		 "{\"name\":\"c\",\"image\":\"i\\u202e\",\"state\":{\"waiting\":{\"reason\":\"ErrImagePull\","
		 "\"message\":\"line1\\nline2\\r\\u009b31m\"}}}]}}",
		 "RECORD:PERMANENT_FAILURE DELETE",
		 "driver pod d\\x1b[2J cannot pull image \"i\\u202e\": ErrImagePull: line1 line2 \\u009b31m"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct spok_rc_state s = TRACKING(SPOK_PHASE_INITIALIZING, "SUBMITTED"), next;
		struct spok_rc_event ev = {.kind = SPOK_RC_EV_DRIVER_POD};
		struct spok_rc_actions out;
		json_error_t jerr;
		json_t *pod = json_loads(rows[i].json, 0, &jerr);
		char *msg = NULL;
		char got[256];

		if (pod == NULL)
			fail_msg("%s: bad JSON in the test: %s", rows[i].name, jerr.text);
		switch (spok_driver_pod_verdict(pod, &msg)) {
		case SPOK_POD_FINE:
			ev.pod = SPOK_RC_POD_FINE;
			assert_null(msg);
			break;
		case SPOK_POD_WAITING:
			ev.pod = SPOK_RC_POD_WAITING;
			break;
		case SPOK_POD_BROKEN:
			ev.pod = SPOK_RC_POD_BROKEN;
			break;
		}
		ev.message = msg;
		spok_rc_step(&CFG, &s, &ev, 5000, &next, &out);
		render(&out, got, sizeof(got));
		if (strcmp(got, rows[i].acts) != 0)
			fail_msg("%s: got [%s], want [%s]", rows[i].name, got, rows[i].acts);
		if (rows[i].reason && (out.n == 0 || strcmp(out.a[0].reason, rows[i].reason) != 0))
			fail_msg("%s: recorded '%s', want '%s'", rows[i].name,
				 out.n ? out.a[0].reason : "(nothing)", rows[i].reason);
		free(msg);
		json_decref(pod);
	}
}

/* A pod's message of any length and content gives one bounded line. */
static void test_reconcile_driver_pod_caps(void **state)
{
	char big[8192];
	json_t *pod;
	char *msg = NULL;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[100] = '\n';
	pod = json_pack("{s:{s:s},s:{s:s,s:[{s:s,s:s,s:{s:{s:s,s:s}}}]}}", "metadata", "name", big,
			"status", "phase", "Pending", "containerStatuses", "name", big, "image", big,
			"state", "waiting", "reason", "ErrImagePull", "message", big);
	assert_int_equal(spok_driver_pod_verdict(pod, &msg), SPOK_POD_BROKEN);
	assert_true(strlen(msg) < 1024);
	assert_null(strchr(msg, '\n'));
	assert_non_null(strstr(msg, "ErrImagePull"));
	free(msg);
	json_decref(pod);
	pod = json_pack("{s:{s:s},s:{s:s,s:[{s:s,s:s,s:s,s:s}]}}", "metadata", "name", "d", "status",
			"phase", "Pending", "conditions", "type", "PodScheduled", "status", "False",
			"reason", "Unschedulable", "message", big);
	assert_int_equal(spok_driver_pod_verdict(pod, &msg), SPOK_POD_WAITING);
	assert_true(strlen(msg) < SPOK_RC_WAITING_MAX);
	free(msg);
	json_decref(pod);
}

/* Which finished objects stay (also the rule for leftovers found after a crash). */
static void test_reconcile_keep_rules(void **state)
{
	static const struct {
		const struct spok_rc_config *cfg;
		enum spok_phase phase;
		bool keep;
	} rows[] = {
		{&CFG, SPOK_PHASE_SUCCEEDED, false},
		{&CFG_KEEP, SPOK_PHASE_SUCCEEDED, true},
		{&CFG, SPOK_PHASE_RETRYABLE_FAILURE, true},
		{&CFG, SPOK_PHASE_PERMANENT_FAILURE, true},
		{&CFG_DELETE_FAILED, SPOK_PHASE_RETRYABLE_FAILURE, false},
		{&CFG_DELETE_FAILED, SPOK_PHASE_PERMANENT_FAILURE, false},
		{&CFG_KEEP, SPOK_PHASE_ABORTED, false},
		{&CFG_KEEP, SPOK_PHASE_TIMED_OUT, false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (spok_rc_keeps(rows[i].cfg, rows[i].phase) != rows[i].keep)
			fail_msg("row %zu: %s keep %d", i, spok_phase_name(rows[i].phase), rows[i].keep);
}

/* Direct submission: conf ConfigMap, driver pod, Service; the pod is the followed object. */
#define D_CREATING {ROW_IDS, .direct = true, .stage = SPOK_RC_STAGE_CREATING, \
		    .phase = SPOK_PHASE_QUEUED, .reason = "creating the driver pod"}
#define D_TRACKING(ph, st) {ROW_IDS, .direct = true, .conf_ok = true, .svc_ok = true, \
			    .stage = SPOK_RC_STAGE_TRACKING, .phase = (ph), .reason = "", \
			    .confirmed = true, .confirmed_at_ms = 1000, .app_state = st} /* NOLINT(bugprone-macro-parentheses): a char array */

static void test_reconcile_direct_create(void **state)
{
	static const struct row rows[] = {
		{"direct start: the conf ConfigMap first", NULL,
		 {ROW_IDS, .direct = true, .stage = SPOK_RC_STAGE_WAIT}, {.kind = SPOK_RC_EV_START}, 0,
		 "CREATE:CONF", SPOK_RC_STAGE_CREATING, NULL, 0, 0},
		{"direct start with shipped files: files, then conf", NULL,
		 {ROW_IDS, .direct = true, .ships = true, .stage = SPOK_RC_STAGE_WAIT},
		 {.kind = SPOK_RC_EV_START}, 0, "CREATE:CM", SPOK_RC_STAGE_CREATING, NULL, 0, 0},
		{"files ConfigMap 201: then conf", NULL,
		 {ROW_IDS, .direct = true, .ships = true, .stage = SPOK_RC_STAGE_CREATING},
		 ANSWER(SPOK_RC_CM, SPOK_RC_CREATED, NULL), 5000, "CREATE:CONF", SPOK_RC_STAGE_CREATING,
		 NULL, 0, 0},
		{"conf 201: then the driver pod", NULL, D_CREATING,
		 ANSWER(SPOK_RC_CONF, SPOK_RC_CREATED, NULL), 5000, "CREATE", SPOK_RC_STAGE_CREATING,
		 NULL, 0, 0},
		{"conf 409: whose is it", NULL, D_CREATING, ANSWER(SPOK_RC_CONF, SPOK_RC_CONFLICT, NULL),
		 5000, "GET_OWNER:CONF", SPOK_RC_STAGE_CREATING, NULL, 0, 0},
		{"conf 409 ours (a crash after it): adopted, then the pod", NULL, D_CREATING,
		 ANSWER(SPOK_RC_CONF, SPOK_RC_CONFLICT_OURS, NULL), 5000, "CREATE",
		 SPOK_RC_STAGE_CREATING, NULL, 0, 0},
		{"conf 409 not ours: refused, only the label-guarded ConfigMap DELETE (matches none "
		 "of someone else's)", NULL, D_CREATING,
		 ANSWER(SPOK_RC_CONF, SPOK_RC_CONFLICT_NOT_OURS, "ConfigMap ns/x1-n0-0-conf"), 5000,
		 "RECORD:PERMANENT_FAILURE DELETE_CM DONE", SPOK_RC_STAGE_DONE,
		 "ConfigMap ns/x1-n0-0-conf: name taken by an object spok did not create", 0, 0},
		{"pod 201: confirmed, then the Service and the ConfigMaps' owner", NULL,
		 {ROW_IDS, .direct = true, .conf_ok = true, .stage = SPOK_RC_STAGE_CREATING,
		  .phase = SPOK_PHASE_QUEUED},
		 ANSWER(SPOK_RC_APP, SPOK_RC_CREATED, NULL), 5000, "RECORD:QUEUED CREATE:SVC OWN",
		 SPOK_RC_STAGE_TRACKING, "driver pod created", 0, 0},
		{"pod 409 ours (a crash after it): adopted, then the Service and the owner", NULL,
		 {ROW_IDS, .direct = true, .conf_ok = true, .stage = SPOK_RC_STAGE_CREATING,
		  .phase = SPOK_PHASE_QUEUED},
		 ANSWER(SPOK_RC_APP, SPOK_RC_CONFLICT_OURS, NULL), 5000, "RECORD:QUEUED CREATE:SVC OWN",
		 SPOK_RC_STAGE_TRACKING, "driver pod created", 0, 0},
		{"pod 409 not ours: refused, the conf ConfigMap goes", NULL,
		 {ROW_IDS, .direct = true, .conf_ok = true, .stage = SPOK_RC_STAGE_CREATING,
		  .phase = SPOK_PHASE_QUEUED},
		 ANSWER(SPOK_RC_APP, SPOK_RC_CONFLICT_NOT_OURS, "Pod ns/x1-n0-0-driver"), 5000,
		 "RECORD:PERMANENT_FAILURE DELETE_CM DONE", SPOK_RC_STAGE_DONE,
		 "Pod ns/x1-n0-0-driver: name taken", 0, 0},
		{"pod 422: BadTaskFormat, the conf ConfigMap goes", NULL,
		 {ROW_IDS, .direct = true, .conf_ok = true, .stage = SPOK_RC_STAGE_CREATING},
		 ANSWER(SPOK_RC_APP, SPOK_RC_INVALID, "spec.containers: bad"), 5000,
		 "RECORD:PERMANENT_FAILURE DELETE_CM DONE", SPOK_RC_STAGE_DONE, "BadTaskFormat", 0, 0},
		{"Service 201: nothing more", NULL,
		 {ROW_IDS, .direct = true, .conf_ok = true, .stage = SPOK_RC_STAGE_TRACKING,
		  .confirmed = true, .inflight = false},
		 ANSWER(SPOK_RC_SVC, SPOK_RC_CREATED, NULL), 5000, "", SPOK_RC_STAGE_TRACKING, NULL, 0, 0},
		{"Service 409: whose is it", NULL,
		 {ROW_IDS, .direct = true, .conf_ok = true, .stage = SPOK_RC_STAGE_TRACKING,
		  .confirmed = true},
		 ANSWER(SPOK_RC_SVC, SPOK_RC_CONFLICT, NULL), 5000, "GET_OWNER:SVC",
		 SPOK_RC_STAGE_TRACKING, NULL, 0, 0},
		{"Service 409 not ours: the attempt ends, its pod is deleted", NULL,
		 {ROW_IDS, .direct = true, .conf_ok = true, .stage = SPOK_RC_STAGE_TRACKING,
		  .confirmed = true, .phase = SPOK_PHASE_QUEUED},
		 ANSWER(SPOK_RC_SVC, SPOK_RC_CONFLICT_NOT_OURS, "Service ns/x1-n0-0-driver-svc"), 5000,
		 "RECORD:PERMANENT_FAILURE DELETE:CONF", SPOK_RC_STAGE_DELETING,
		 "Service ns/x1-n0-0-driver-svc: name taken", 0, 0},
		{"Service unavailable: asked again on the tick", NULL,
		 {ROW_IDS, .direct = true, .conf_ok = true, .stage = SPOK_RC_STAGE_TRACKING,
		  .confirmed = true},
		 ANSWER(SPOK_RC_SVC, SPOK_RC_UNAVAILABLE, "503"), 5000, "", SPOK_RC_STAGE_TRACKING, NULL,
		 6000, 0},
		{"Service retry due", NULL,
		 {ROW_IDS, .direct = true, .conf_ok = true, .stage = SPOK_RC_STAGE_TRACKING,
		  .confirmed = true, .confirmed_at_ms = 1000, .next_try_ms = 6000,
		  .app_state = "SUBMITTED"},
		 {.kind = SPOK_RC_EV_TICK}, 6000, "CREATE:SVC", SPOK_RC_STAGE_TRACKING, NULL, 0, 0},
		{"Service answer after the attempt ended: nothing", NULL,
		 {ROW_IDS, .direct = true, .stage = SPOK_RC_STAGE_DELETING, .confirmed = true},
		 ANSWER(SPOK_RC_SVC, SPOK_RC_CREATED, NULL), 5000, "", SPOK_RC_STAGE_DELETING, NULL, 0, 0},
		{"re-adopted pod seen: the Service and the owner patches again (idempotent)", NULL,
		 {ROW_IDS, .direct = true, .stage = SPOK_RC_STAGE_ADOPT, .phase = SPOK_PHASE_RUNNING,
		  .confirmed = true},
		 {.kind = SPOK_RC_EV_SEEN}, 5000, "CREATE:SVC OWN", SPOK_RC_STAGE_TRACKING, NULL, 0, 0},
		{"re-adopted, pod never confirmed and absent: the conf ConfigMap again", NULL,
		 {ROW_IDS, .direct = true, .stage = SPOK_RC_STAGE_ADOPT, .phase = SPOK_PHASE_QUEUED},
		 {.kind = SPOK_RC_EV_NOT_LISTED, .first_list = true}, 5000, "CREATE:CONF",
		 SPOK_RC_STAGE_CREATING, NULL, 0, 0},
	};

	(void)state;
	RUN(rows);
}

static void test_reconcile_direct_teardown(void **state)
{
	static const struct row rows[] = {
		{"SUCCEEDED: conf ConfigMap first", NULL, D_TRACKING(SPOK_PHASE_RUNNING, "RUNNING"),
		 STATUS(SPOK_PHASE_SUCCEEDED, "COMPLETED", ""), 5000, "RECORD:SUCCEEDED DELETE:CONF",
		 SPOK_RC_STAGE_DELETING, NULL, 0, 0},
		{"SUCCEEDED with shipped files: files ConfigMap first", NULL,
		 {ROW_IDS, .direct = true, .ships = true, .cm_ok = true, .conf_ok = true, .svc_ok = true,
		  .stage = SPOK_RC_STAGE_TRACKING, .phase = SPOK_PHASE_RUNNING, .confirmed = true},
		 STATUS(SPOK_PHASE_SUCCEEDED, "COMPLETED", ""), 5000, "RECORD:SUCCEEDED DELETE:CM",
		 SPOK_RC_STAGE_DELETING, NULL, 0, 0},
		{"conf deleted: then the Service", NULL,
		 {ROW_IDS, .direct = true, .stage = SPOK_RC_STAGE_DELETING},
		 {.kind = SPOK_RC_EV_DELETE, .object = SPOK_RC_CONF, .ok = true}, 5000, "DELETE:SVC",
		 SPOK_RC_STAGE_DELETING, NULL, 0, 0},
		{"Service deleted: then the driver pod", NULL,
		 {ROW_IDS, .direct = true, .conf_gone = true, .stage = SPOK_RC_STAGE_DELETING},
		 {.kind = SPOK_RC_EV_DELETE, .object = SPOK_RC_SVC, .ok = true}, 5000, "DELETE",
		 SPOK_RC_STAGE_DELETING, NULL, 0, 0},
		{"driver pod deleted: done", NULL,
		 {ROW_IDS, .direct = true, .conf_gone = true, .svc_gone = true,
		  .stage = SPOK_RC_STAGE_DELETING},
		 {.kind = SPOK_RC_EV_DELETE, .object = SPOK_RC_APP, .ok = true}, 5000, "DONE",
		 SPOK_RC_STAGE_DONE, NULL, 0, 0},
		{"a failed delete: retried later", NULL,
		 {ROW_IDS, .direct = true, .stage = SPOK_RC_STAGE_DELETING},
		 {.kind = SPOK_RC_EV_DELETE, .object = SPOK_RC_CONF, .ok = false}, 5000, "",
		 SPOK_RC_STAGE_DELETING, NULL, 6000, 0},
		{"abort", NULL, D_TRACKING(SPOK_PHASE_RUNNING, "RUNNING"), {.kind = SPOK_RC_EV_ABORT},
		 5000, "RECORD:ABORTED DELETE:CONF", SPOK_RC_STAGE_DELETING, "aborted by the user", 0, 0},
		{"task timeout", NULL,
		 {ROW_IDS, .direct = true, .conf_ok = true, .svc_ok = true,
		  .stage = SPOK_RC_STAGE_TRACKING, .phase = SPOK_PHASE_RUNNING, .confirmed = true,
		  .confirmed_at_ms = 1000, .timeout_ms = 5 * SEC, .app_state = "RUNNING"},
		 {.kind = SPOK_RC_EV_TICK}, 6001, "RECORD:TIMED_OUT DELETE:CONF", SPOK_RC_STAGE_DELETING,
		 "task timed out after 0m5s", 0, 0},
		{"driver pod failed, attempts left: attempt 2 under its own names, the pod kept", NULL,
		 D_TRACKING(SPOK_PHASE_RUNNING, "RUNNING"),
		 {.kind = SPOK_RC_EV_STATUS, .status = {.phase = SPOK_PHASE_RETRYABLE_FAILURE,
		  .reason = "", .error_message = "Spark Job Failed with Error: driver container "
		  "failed with ExitCode: 1, Reason: Error", .app_state = "FAILED"}},
		 5000, "RECORD:RETRYABLE_FAILURE NEW_ATTEMPT CREATE:CONF", SPOK_RC_STAGE_CREATING,
		 "creating the driver pod", 0, 1},
		{"driver pod deleted by someone else: next attempt, its objects go", NULL,
		 D_TRACKING(SPOK_PHASE_RUNNING, "RUNNING"), {.kind = SPOK_RC_EV_DELETED}, 5000,
		 "RECORD:RETRYABLE_FAILURE DELETE_OLD NEW_ATTEMPT CREATE:CONF", SPOK_RC_STAGE_CREATING,
		 NULL, 0, 1},
		{"driver pod deleted by someone else, last attempt", NULL,
		 {ROW_IDS, LAST, .direct = true, .conf_ok = true, .svc_ok = true,
		  .stage = SPOK_RC_STAGE_TRACKING, .phase = SPOK_PHASE_RUNNING, .confirmed = true},
		 {.kind = SPOK_RC_EV_DELETED}, 5000, "RECORD:RETRYABLE_FAILURE DELETE_OLD DONE",
		 SPOK_RC_STAGE_DONE,
		 "ResourceDeletedExternally: driver pod ns/x1-n0-0-driver was deleted by someone else",
		 0, 1},
		{"Pending past the deadline: the attempt fails, its objects go", NULL,
		 D_TRACKING(SPOK_PHASE_INITIALIZING, "SUBMITTED"), {.kind = SPOK_RC_EV_TICK},
		 1000 + 10 * MIN + 1, "RECORD:RETRYABLE_FAILURE DELETE_OLD NEW_ATTEMPT CREATE:CONF",
		 SPOK_RC_STAGE_CREATING, NULL, 0, 1},
		{"Pending past the deadline, last attempt: the reason", NULL,
		 {ROW_IDS, LAST, .direct = true, .conf_ok = true, .svc_ok = true,
		  .stage = SPOK_RC_STAGE_TRACKING, .phase = SPOK_PHASE_INITIALIZING, .confirmed = true,
		  .confirmed_at_ms = 1000, .app_state = "SUBMITTED"},
		 {.kind = SPOK_RC_EV_TICK}, 1000 + 10 * MIN + 1,
		 "RECORD:RETRYABLE_FAILURE DELETE_OLD DONE", SPOK_RC_STAGE_DONE,
		 "stuck in Pending for 10m0s: the driver pod did not start", 0, 1},
		{"Pending, deadline not reached: no pod read (the watch brings it)", NULL,
		 D_TRACKING(SPOK_PHASE_INITIALIZING, "SUBMITTED"), {.kind = SPOK_RC_EV_TICK},
		 1000 + 10 * MIN, "", SPOK_RC_STAGE_TRACKING, NULL, 0, 0},
		{"image pull error: PERMANENT_FAILURE, objects deleted", NULL,
		 D_TRACKING(SPOK_PHASE_INITIALIZING, "SUBMITTED"),
		 {.kind = SPOK_RC_EV_DRIVER_POD, .pod = SPOK_RC_POD_BROKEN,
		  .message = "driver pod x1-n0-0-driver cannot pull image \"i:1\": ErrImagePull: no"},
		 5000, "RECORD:PERMANENT_FAILURE DELETE:CONF", SPOK_RC_STAGE_DELETING,
		 "cannot pull image", 0, 0},
	};

	(void)state;
	RUN(rows);
}

/* Review findings of direct mode: spok deletes only what it made, a re-adopted attempt that
 * must fail deletes what exists, and nothing is left unowned. */
static void test_reconcile_direct_only_ours(void **state)
{
	static const struct row rows[] = {
		{"Service 409 not ours: PERMANENT_FAILURE, the teardown skips that Service", NULL,
		 {ROW_IDS, .direct = true, .conf_ok = true, .svc_gone = true,
		  .stage = SPOK_RC_STAGE_DELETING},
		 {.kind = SPOK_RC_EV_DELETE, .object = SPOK_RC_CONF, .ok = true}, 5000, "DELETE",
		 SPOK_RC_STAGE_DELETING, NULL, 0, 0},
		{"re-adopted before its pod, the conf create refused: guarded ConfigMap DELETE "
		 "although cm_ok/conf_ok were not restored", NULL,
		 {ROW_IDS, .direct = true, .stage = SPOK_RC_STAGE_CREATING, .phase = SPOK_PHASE_QUEUED},
		 ANSWER(SPOK_RC_CONF, SPOK_RC_REFUSED, "forbidden: user u"), 5000,
		 "RECORD:PERMANENT_FAILURE DELETE_CM DONE", SPOK_RC_STAGE_DONE, "forbidden", 0, 0},
		{"re-adopted before its pod, the task not loadable: guarded ConfigMap DELETE", NULL,
		 {ROW_IDS, .direct = true, .stage = SPOK_RC_STAGE_ADOPT, .phase = SPOK_PHASE_QUEUED},
		 {.kind = SPOK_RC_EV_BAD_TASK, .message = "the task could not be loaded again"}, 5000,
		 "RECORD:PERMANENT_FAILURE DELETE_CM DONE", SPOK_RC_STAGE_DONE, "loaded again", 0, 0},
		{"operator mode, no ConfigMap made: no DELETE_CM (unchanged)", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_CREATING, .phase = SPOK_PHASE_QUEUED},
		 {.kind = SPOK_RC_EV_BAD_TASK, .message = "bad"}, 5000,
		 "RECORD:PERMANENT_FAILURE DONE", SPOK_RC_STAGE_DONE, "bad", 0, 0},
		{"the pod runs but its Service cannot be built: what exists is deleted", NULL,
		 {ROW_IDS, .direct = true, .stage = SPOK_RC_STAGE_TRACKING, .phase = SPOK_PHASE_RUNNING,
		  .confirmed = true, .confirmed_at_ms = 1000, .app_state = "RUNNING"},
		 {.kind = SPOK_RC_EV_BAD_TASK, .message = "the task could not be loaded again"}, 5000,
		 "RECORD:PERMANENT_FAILURE DELETE:CONF", SPOK_RC_STAGE_DELETING, "loaded again", 0, 0},
	};
	struct spok_rc_state s = D_TRACKING(SPOK_PHASE_RUNNING, "RUNNING"), next;
	struct spok_rc_event ev = ANSWER(SPOK_RC_SVC, SPOK_RC_CONFLICT_NOT_OURS,
					 "Service ns/x1-n0-0-driver-svc");
	struct spok_rc_actions out;

	(void)state;
	RUN(rows);
	/* the not-ours Service is marked gone before the teardown starts */
	s.svc_ok = false;
	spok_rc_step(&CFG, &s, &ev, 5000, &next, &out);
	assert_int_equal(next.stage, SPOK_RC_STAGE_DELETING);
	assert_true(next.svc_gone);
	assert_non_null(strstr(next.reason, "Service ns/x1-n0-0-driver-svc: name taken"));
	for (size_t i = 0; i < out.n; i++)
		assert_false(out.a[i].kind == SPOK_RC_DELETE && out.a[i].object == SPOK_RC_SVC);
}

static const char *text(const char *s)
{
	return s ? s : "";
}

/* The fields a TICK may change. */
static bool tick_changed(const struct spok_rc_state *a, const struct spok_rc_state *b)
{
	return a->stage != b->stage || a->phase != b->phase || a->attempt != b->attempt ||
	       a->next_try_ms != b->next_try_ms || a->next_pod_ms != b->next_pod_ms ||
	       a->pod_inflight != b->pod_inflight || a->abort_requested != b->abort_requested ||
	       a->backoff_ms != b->backoff_ms || a->confirmed != b->confirmed ||
	       a->svc_ok != b->svc_ok || a->own_ok != b->own_ok ||
	       a->own_inflight != b->own_inflight || a->next_own_ms != b->next_own_ms ||
	       a->own_backoff_ms != b->own_backoff_ms ||
	       strcmp(a->app_state, b->app_state) != 0 || strcmp(text(a->waiting), text(b->waiting)) != 0;
}

/* spok_rc_due is what lets the driver visit only due executions: over a grid of states and
 * clocks, a TICK before the due time must do nothing, and one at it must act (else the
 * execution would sit in the timer heap for nothing). */
static void test_reconcile_due(void **state)
{
	static const enum spok_rc_stage stages[] = {
		SPOK_RC_STAGE_WAIT, SPOK_RC_STAGE_ADOPT, SPOK_RC_STAGE_CREATING,
		SPOK_RC_STAGE_TRACKING, SPOK_RC_STAGE_DELETING, SPOK_RC_STAGE_DONE};
	static const enum spok_phase phases[] = {SPOK_PHASE_QUEUED, SPOK_PHASE_INITIALIZING,
						 SPOK_PHASE_RUNNING};
	static const char *const app_states[] = {"", "SUBMITTED", "RUNNING"};
	static const struct spok_rc_config *const cfgs[] = {&CFG, &CFG_NO_POD_READS};
	static const uint64_t nows[] = {0, 999, 1000, 5999, 6000, 6001, 6002, 7000, 8999, 9000,
					9001, 1000 + 10 * MIN, 1000 + 10 * MIN + 1, 20 * MIN};
	struct spok_rc_event tick = {.kind = SPOK_RC_EV_TICK};
	size_t checked = 0, acted = 0;

	(void)state;
	for (unsigned bits = 0; bits < 1024; bits++)
	for (size_t st = 0; st < sizeof(stages) / sizeof(stages[0]); st++)
	for (size_t ph = 0; ph < sizeof(phases) / sizeof(phases[0]); ph++)
	for (size_t as = 0; as < sizeof(app_states) / sizeof(app_states[0]); as++)
	for (size_t c = 0; c < sizeof(cfgs) / sizeof(cfgs[0]); c++) {
		struct spok_rc_state s = {ROW_IDS, .stage = stages[st], .phase = phases[ph],
					  .reason = "", .confirmed_at_ms = 1000};
		uint64_t due;

		s.confirmed = bits & 1;
		s.timeout_ms = bits & 2 ? 5 * SEC : 0;
		s.abort_requested = bits & 4;
		s.inflight = bits & 8;
		s.pod_inflight = bits & 16;
		s.next_try_ms = bits & 32 ? 9000 : 0;
		s.next_pod_ms = bits & 32 ? 7000 : 0;
		s.direct = bits & 64;
		s.svc_ok = bits & 128;
		s.own_ok = bits & 256;
		s.own_inflight = bits & 512;
		s.next_own_ms = bits & 32 ? 8000 : 0;
		snprintf(s.app_state, sizeof(s.app_state), "%s", app_states[as]);
		due = spok_rc_due(cfgs[c], &s);
		for (size_t k = 0; k < sizeof(nows) / sizeof(nows[0]); k++) {
			struct spok_rc_state next;
			struct spok_rc_actions out;
			bool did;

			spok_rc_step(cfgs[c], &s, &tick, nows[k], &next, &out);
			did = out.n > 0 || tick_changed(&s, &next);
			if (nows[k] < due && did)
				fail_msg("stage %s phase %s app '%s' bits %u: a tick at %llu acts before "
					 "the due time %llu", spok_rc_stage_name(s.stage),
					 spok_phase_name(s.phase), s.app_state, bits,
					 (unsigned long long)nows[k], (unsigned long long)due);
			checked++;
		}
		if (due != SPOK_RC_NEVER) {
			struct spok_rc_state next;
			struct spok_rc_actions out;

			spok_rc_step(cfgs[c], &s, &tick, due, &next, &out);
			if (out.n == 0 && !tick_changed(&s, &next))
				fail_msg("stage %s phase %s app '%s' bits %u: due at %llu but a tick "
					 "then does nothing", spok_rc_stage_name(s.stage),
					 spok_phase_name(s.phase), s.app_state, bits,
					 (unsigned long long)due);
			acted++;
		}
	}
	assert_true(checked > 10000 && acted > 100);
}

/* The ConfigMaps' owner references (SPOK_RC_OWN): sent with the confirmation, asked again
 * on the tick after a failed round (the wait doubling), never again once done; none for a
 * SparkApplication whose files ConfigMap this session did not create. */
/* Direct, running, its last owner round failed: the next one due at 8000. */
#define OWED(ph, st) {ROW_IDS, .direct = true, .conf_ok = true, .svc_ok = true, \
		      .stage = SPOK_RC_STAGE_TRACKING, .phase = (ph), .reason = "", \
		      .confirmed = true, .confirmed_at_ms = 1000, .next_own_ms = 8000, \
		      .own_backoff_ms = 4 * SEC, .app_state = st} /* NOLINT(bugprone-macro-parentheses): a char array */

static void test_reconcile_own(void **state)
{
	static const struct row rows[] = {
		{"SparkApplication 201 after its files ConfigMap: the owner patch", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_CREATING, .phase = SPOK_PHASE_QUEUED, .ships = true,
		  .cm_ok = true},
		 ANSWER(SPOK_RC_APP, SPOK_RC_CREATED, NULL), 5000, "RECORD:QUEUED OWN",
		 SPOK_RC_STAGE_TRACKING, "SparkApplication created", 0, 0},
		{"SparkApplication 201, no files: no patch", NULL, CREATING,
		 ANSWER(SPOK_RC_APP, SPOK_RC_CREATED, NULL), 5000, "RECORD:QUEUED",
		 SPOK_RC_STAGE_TRACKING, NULL, 0, 0},
		{"a re-adopted SparkApplication (its ConfigMap not made here): no patch", NULL,
		 {ROW_IDS, .stage = SPOK_RC_STAGE_ADOPT, .phase = SPOK_PHASE_RUNNING, .ships = true,
		  .confirmed = true},
		 {.kind = SPOK_RC_EV_SEEN}, 5000, "", SPOK_RC_STAGE_TRACKING, NULL, 0, 0},
		{"a round in flight: the pod's confirmation sends no second one", NULL,
		 {ROW_IDS, .direct = true, .svc_ok = true, .own_inflight = true,
		  .stage = SPOK_RC_STAGE_ADOPT, .phase = SPOK_PHASE_RUNNING, .confirmed = true},
		 {.kind = SPOK_RC_EV_SEEN}, 5000, "", SPOK_RC_STAGE_TRACKING, NULL, 0, 0},
		/* The attempt ends before the tick's next round: with its objects kept, no tick
		 * comes back for it, so the last round goes with the end. */
		{"a failed round, then a kept failure: one more round with the end", NULL,
		 OWED(SPOK_PHASE_RUNNING, "RUNNING"),
		 STATUS(SPOK_PHASE_PERMANENT_FAILURE, "FAILED", "x"), 7000,
		 "RECORD:PERMANENT_FAILURE OWN DONE", SPOK_RC_STAGE_DONE, NULL, 0, 0},
		{"a failed round, then a kept success (--keep): one more round", &CFG_KEEP,
		 OWED(SPOK_PHASE_RUNNING, "RUNNING"),
		 STATUS(SPOK_PHASE_SUCCEEDED, "COMPLETED", "done"), 7000,
		 "RECORD:SUCCEEDED OWN DONE", SPOK_RC_STAGE_DONE, NULL, 0, 0},
		{"a failed round, then a kept retryable failure: the round before the next attempt",
		 NULL, OWED(SPOK_PHASE_RUNNING, "RUNNING"),
		 STATUS(SPOK_PHASE_RETRYABLE_FAILURE, "FAILED", "x"), 7000,
		 "OWN RECORD:RETRYABLE_FAILURE NEW_ATTEMPT CREATE:CONF", SPOK_RC_STAGE_CREATING, NULL,
		 0, 1},
		{"a failed round, the last attempt fails, kept: one round only", NULL,
		 {ROW_IDS, .direct = true, .conf_ok = true, .svc_ok = true, .attempt = 1,
		  .stage = SPOK_RC_STAGE_TRACKING, .phase = SPOK_PHASE_RUNNING, .reason = "",
		  .confirmed = true, .confirmed_at_ms = 1000, .app_state = "RUNNING",
		  .next_own_ms = 8000, .own_backoff_ms = 4 * SEC},
		 STATUS(SPOK_PHASE_RETRYABLE_FAILURE, "FAILED", "x"), 7000,
		 "OWN RECORD:RETRYABLE_FAILURE DONE", SPOK_RC_STAGE_DONE, NULL, 0, 1},
		{"a failed round, then a deleted failure (delete_failed): no round", &CFG_DELETE_FAILED,
		 OWED(SPOK_PHASE_RUNNING, "RUNNING"),
		 STATUS(SPOK_PHASE_PERMANENT_FAILURE, "FAILED", "x"), 7000,
		 "RECORD:PERMANENT_FAILURE DELETE:CONF", SPOK_RC_STAGE_DELETING, NULL, 0, 0},
		{"a failed round, then the pod deleted by someone else: no round", NULL,
		 OWED(SPOK_PHASE_RUNNING, "RUNNING"), {.kind = SPOK_RC_EV_DELETED}, 7000,
		 "RECORD:RETRYABLE_FAILURE DELETE_OLD NEW_ATTEMPT CREATE:CONF", SPOK_RC_STAGE_CREATING,
		 NULL, 0, 1},
		{"a round in flight at a kept end: no second one", NULL,
		 {ROW_IDS, .direct = true, .conf_ok = true, .svc_ok = true,
		  .stage = SPOK_RC_STAGE_TRACKING, .phase = SPOK_PHASE_RUNNING, .reason = "",
		  .confirmed = true, .confirmed_at_ms = 1000, .app_state = "RUNNING",
		  .next_own_ms = 8000, .own_inflight = true},
		 STATUS(SPOK_PHASE_PERMANENT_FAILURE, "FAILED", "x"), 7000,
		 "RECORD:PERMANENT_FAILURE DONE", SPOK_RC_STAGE_DONE, NULL, 0, 0},
		{"done already at a kept end: no round", NULL,
		 {ROW_IDS, .direct = true, .conf_ok = true, .svc_ok = true,
		  .stage = SPOK_RC_STAGE_TRACKING, .phase = SPOK_PHASE_RUNNING, .reason = "",
		  .confirmed = true, .confirmed_at_ms = 1000, .app_state = "RUNNING",
		  .next_own_ms = 8000, .own_ok = true},
		 STATUS(SPOK_PHASE_PERMANENT_FAILURE, "FAILED", "x"), 7000,
		 "RECORD:PERMANENT_FAILURE DONE", SPOK_RC_STAGE_DONE, NULL, 0, 0},
	};
	const struct spok_rc_state tracking = D_TRACKING(SPOK_PHASE_RUNNING, "RUNNING");
	struct spok_rc_event owned = {.kind = SPOK_RC_EV_OWNED};
	struct spok_rc_event tick = {.kind = SPOK_RC_EV_TICK};
	struct spok_rc_state s = tracking, next;
	struct spok_rc_actions out;

	(void)state;
	RUN(rows);
	/* confirmed at 5000: OWN, the next round (should this one fail) not before 6000 */
	s.stage = SPOK_RC_STAGE_ADOPT;
	spok_rc_step(&CFG, &s, &(struct spok_rc_event){.kind = SPOK_RC_EV_SEEN}, 5000, &next, &out);
	assert_int_equal(out.n, 1); /* no CREATE:SVC: svc_ok */
	assert_int_equal(out.a[0].kind, SPOK_RC_OWN);
	s = tracking;
	s.svc_ok = false;
	s.stage = SPOK_RC_STAGE_ADOPT;
	spok_rc_step(&CFG, &s, &(struct spok_rc_event){.kind = SPOK_RC_EV_SEEN}, 5000, &next, &out);
	assert_true(next.own_inflight && !next.own_ok);
	assert_int_equal(next.next_own_ms, 6000);
	assert_int_equal(next.own_backoff_ms, 2 * SEC);
	/* the round failed (a 5xx, a 403): nothing at once, nor on a tick before 6000 */
	s = next;
	s.svc_ok = true;
	owned.ok = false;
	spok_rc_step(&CFG, &s, &owned, 5500, &next, &out);
	assert_int_equal(out.n, 0);
	assert_false(next.own_inflight || next.own_ok);
	s = next;
	assert_int_equal(spok_rc_due(&CFG, &s), 6000);
	spok_rc_step(&CFG, &s, &tick, 5999, &next, &out);
	assert_int_equal(out.n, 0);
	spok_rc_step(&CFG, &s, &tick, 6000, &next, &out);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.a[0].kind, SPOK_RC_OWN);
	assert_int_equal(next.next_own_ms, 8000); /* the wait doubles */
	assert_int_equal(next.own_backoff_ms, 4 * SEC);
	/* in flight: no tick sends another; then it worked: never again */
	s = next;
	assert_int_equal(spok_rc_due(&CFG, &s), SPOK_RC_NEVER);
	spok_rc_step(&CFG, &s, &tick, 9000, &next, &out);
	assert_int_equal(out.n, 0);
	owned.ok = true;
	spok_rc_step(&CFG, &s, &owned, 9000, &next, &out);
	assert_int_equal(out.n, 0);
	assert_true(next.own_ok && !next.own_inflight);
	assert_int_equal(next.own_backoff_ms, 0);
	s = next;
	assert_int_equal(spok_rc_due(&CFG, &s), SPOK_RC_NEVER);
	spok_rc_step(&CFG, &s, &tick, 60 * SEC, &next, &out);
	assert_int_equal(out.n, 0);
	/* the wait stops doubling at backoff_max_ms */
	s = tracking;
	s.own_backoff_ms = 40 * SEC;
	s.next_own_ms = 6000;
	spok_rc_step(&CFG, &s, &tick, 6000, &next, &out);
	assert_int_equal(out.n, 1);
	assert_int_equal(next.own_backoff_ms, 60 * SEC);
	/* a failed attempt's next one starts over: its own owner, its own patches */
	s = tracking;
	s.own_ok = true;
	s.own_backoff_ms = 8 * SEC;
	spok_rc_step(&CFG_DELETE_FAILED, &s,
		     &(struct spok_rc_event)STATUS(SPOK_PHASE_RETRYABLE_FAILURE, "FAILED", "x"), 7000,
		     &next, &out);
	assert_int_equal(next.attempt, 1);
	assert_false(next.own_ok || next.own_inflight);
	assert_int_equal(next.next_own_ms, 0);
	assert_int_equal(next.own_backoff_ms, 0);
	/* an answer after the attempt ended changes nothing else */
	s = tracking;
	s.stage = SPOK_RC_STAGE_DELETING;
	s.own_inflight = true;
	spok_rc_step(&CFG, &s, &owned, 7000, &next, &out);
	assert_int_equal(out.n, 0);
	assert_int_equal(next.stage, SPOK_RC_STAGE_DELETING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reconcile_create_answers),
		cmocka_unit_test(test_reconcile_start),
		cmocka_unit_test(test_reconcile_statuses),
		cmocka_unit_test(test_reconcile_timers),
		cmocka_unit_test(test_reconcile_due),
		cmocka_unit_test(test_reconcile_abort_and_deletes),
		cmocka_unit_test(test_reconcile_adopt),
		cmocka_unit_test(test_reconcile_backoff),
		cmocka_unit_test(test_reconcile_record_fields),
		cmocka_unit_test(test_reconcile_keep_rules),
		cmocka_unit_test(test_reconcile_sparkapp_states),
		cmocka_unit_test(test_reconcile_driver_pod),
		cmocka_unit_test(test_reconcile_driver_pod_fields),
		cmocka_unit_test(test_reconcile_driver_pod_objects),
		cmocka_unit_test(test_reconcile_driver_pod_caps),
		cmocka_unit_test(test_reconcile_direct_create),
		cmocka_unit_test(test_reconcile_direct_teardown),
		cmocka_unit_test(test_reconcile_direct_only_ours),
		cmocka_unit_test(test_reconcile_own),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
