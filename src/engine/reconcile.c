/* reconcile.c - the engine's rules, pure: see reconcile.h and docs/ARCHITECTURE.md,
 * "Cluster runs". */
#include "engine/reconcile.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sparkapp/sparkapp.h" /* SPOK_SHIP_SUFFIX only */

/* One step's working set. */
struct step {
	const struct spok_rc_config *c;
	const struct spok_rc_state *s;
	struct spok_rc_state *n;
	struct spok_rc_actions *out;
	uint64_t now;
	/* The failed attempt's objects are to go: DELETE_OLD follows the next RECORD. */
	bool delete_old;
};

static struct spok_rc_action *push(struct step *st, enum spok_rc_act_kind kind)
{
	struct spok_rc_action *a;

	/* The longest path (failed attempt: OWN or RECORD DELETE_OLD, NEW_ATTEMPT, CREATE)
	 * fits. */
	if (st->out->n == SPOK_RC_MAX_ACTIONS)
		st->out->n--;
	a = &st->out->a[st->out->n++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	return a;
}

static const char *fmt(struct step *st, const char *f, ...) __attribute__((format(printf, 2, 3)));

static const char *fmt(struct step *st, const char *f, ...)
{
	char *b = st->out->buf[st->out->nbuf % 2];
	va_list ap;

	st->out->nbuf++;
	va_start(ap, f);
	vsnprintf(b, sizeof(st->out->buf[0]), f, ap);
	va_end(ap);
	return b;
}

static bool str_eq(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

static bool waiting(const struct spok_rc_state *n)
{
	return n->waiting != NULL && n->waiting[0] != '\0';
}

static struct spok_rc_action *record(struct step *st, enum spok_phase ph, const char *reason)
{
	struct spok_rc_action *a = push(st, SPOK_RC_RECORD);

	a->phase = ph;
	a->phase_version = st->n->phase_version;
	a->reason = reason;
	st->n->phase = ph;
	st->n->reason = reason;
	/* After the record: the engine commits it before it acts on what follows, so a crash
	 * cannot delete the attempt's objects and lose why it failed. */
	if (st->delete_old) {
		push(st, SPOK_RC_DELETE_OLD);
		st->delete_old = false;
	}
	return a;
}

static uint64_t next_backoff(struct step *st)
{
	uint64_t b = st->n->backoff_ms ? st->n->backoff_ms * 2 : st->c->backoff_ms;

	if (b > st->c->backoff_max_ms)
		b = st->c->backoff_max_ms;
	st->n->backoff_ms = b;
	return b;
}

static void retry_later(struct step *st)
{
	st->n->next_try_ms = st->now + next_backoff(st);
}

/* What the attempt's followed object is called in reasons. */
static const char *object_word(const struct spok_rc_state *n)
{
	return n->direct ? "driver pod" : "SparkApplication";
}

/* The ConfigMaps go first (the files one when the attempt ships files, then direct's conf):
 * the pods mount them. */
static void create(struct step *st)
{
	struct spok_rc_action *a = push(st, SPOK_RC_CREATE);
	const struct spok_rc_state *n = st->n;

	if (n->ships && !n->cm_ok)
		a->object = SPOK_RC_CM;
	else if (n->direct && !n->conf_ok)
		a->object = SPOK_RC_CONF;
	else
		a->object = SPOK_RC_APP;
	st->n->stage = SPOK_RC_STAGE_CREATING;
}

/* Direct: the driver's Service, once its owner (the pod) exists. */
static void create_svc(struct step *st)
{
	push(st, SPOK_RC_CREATE)->object = SPOK_RC_SVC;
	st->n->next_try_ms = 0;
}

/* Teardown: the ConfigMaps (and direct's Service) first, then the SparkApplication or
 * driver pod (a crash in between leaves that object, whose leftover cleanup takes all). */
static void delete_next(struct step *st)
{
	struct spok_rc_action *a = push(st, SPOK_RC_DELETE);
	const struct spok_rc_state *n = st->n;

	if (n->ships && !n->cm_gone)
		a->object = SPOK_RC_CM;
	else if (n->direct && !n->conf_gone)
		a->object = SPOK_RC_CONF;
	else if (n->direct && !n->svc_gone)
		a->object = SPOK_RC_SVC;
	else
		a->object = SPOK_RC_APP;
}

static void done(struct step *st)
{
	st->n->stage = SPOK_RC_STAGE_DONE;
	push(st, SPOK_RC_DONE);
}

/* The attempt's ConfigMaps need their owner's reference: direct's always (conf, and files
 * when shipped; after a re-adoption too), the files ConfigMap of a SparkApplication when
 * this session created it. */
static bool needs_own(const struct spok_rc_state *n)
{
	return n->direct || (n->ships && n->cm_ok);
}

/* One round of owner patches; should it fail, the next one waits own_backoff_ms, doubling
 * up to the cap (a patch refused for good is not sent at every tick). */
static void own(struct step *st)
{
	struct spok_rc_state *n = st->n;
	uint64_t wait = n->own_backoff_ms ? n->own_backoff_ms : st->c->backoff_ms;

	push(st, SPOK_RC_OWN);
	n->own_inflight = true;
	n->next_own_ms = st->now + wait;
	n->own_backoff_ms = wait * 2 < st->c->backoff_max_ms ? wait * 2 : st->c->backoff_max_ms;
}

static bool owes_own(const struct spok_rc_state *n)
{
	return needs_own(n) && !n->own_ok && !n->own_inflight;
}

/* The attempt ends with its objects kept (failed attempts by default, --keep) while its last
 * round failed: no tick comes back for it, so one more goes now (its answer is not waited
 * for), else a kept driver pod or SparkApplication deleted by hand leaves its ConfigMaps. */
static void own_kept(struct step *st)
{
	const struct spok_rc_state *n = st->n;

	if (st->delete_old) /* not kept after all */
		return;
	for (size_t i = 0; i < st->out->n; i++)
		if (st->out->a[i].kind == SPOK_RC_DELETE_OLD)
			return;
	if (n->confirmed && owes_own(n) && n->next_own_ms != 0)
		own(st);
}

/* The object of the current attempt is confirmed to exist. A direct attempt's Service
 * follows (again after a re-adoption: 409 ours is fine), and the ConfigMaps' owner
 * references. */
static void confirm(struct step *st)
{
	struct spok_rc_action *a;

	st->n->stage = SPOK_RC_STAGE_TRACKING;
	st->n->backoff_ms = 0;
	if (!st->n->confirmed) {
		st->n->confirmed = true;
		st->n->confirmed_at_ms = (int64_t)st->now;
		a = record(st, st->n->phase == SPOK_PHASE_WAITING_FOR_RESOURCES ? SPOK_PHASE_QUEUED
										: st->n->phase,
			   st->n->direct ? "driver pod created" : "SparkApplication created");
		a->stamp_started = true;
	}
	if (st->n->direct && !st->n->svc_ok)
		create_svc(st);
	if (owes_own(st->n))
		own(st);
}

/* Terminal phase: recorded first, then teardown (DELETE) or leave. */
static void finish(struct step *st, enum spok_phase ph, const char *reason,
		   const char *error_message, bool del)
{
	struct spok_rc_action *a = record(st, ph, reason);

	a->error_message = error_message;
	a->set_error = error_message != NULL;
	a->stamp_finished = true;
	a->terminal = true;
	/* A ConfigMap whose SparkApplication (driver pod) was never created (refused, name
	 * taken) has nothing to keep it for. A direct attempt re-adopted before its pod was
	 * confirmed does not know which ConfigMaps exist (cm_ok, conf_ok are not stored): the
	 * label-guarded DELETE is sent anyway (none found is a success). */
	if (!del && !st->n->confirmed && (st->n->cm_ok || st->n->conf_ok || st->n->direct))
		push(st, SPOK_RC_DELETE_CM);
	if (!del) {
		own_kept(st);
		done(st);
		return;
	}
	st->n->stage = SPOK_RC_STAGE_DELETING;
	st->n->backoff_ms = 0;
	if (!st->s->inflight)
		delete_next(st);
}

static void new_attempt(struct step *st)
{
	struct spok_rc_state *n = st->n;

	push(st, SPOK_RC_NEW_ATTEMPT);
	n->attempt++;
	n->phase = SPOK_PHASE_QUEUED;
	n->phase_version = 0;
	n->reason = n->direct ? "creating the driver pod" : "creating SparkApplication";
	n->name = NULL; /* the driver names the new attempt's object */
	n->confirmed = false;
	n->confirmed_at_ms = 0;
	n->app_state[0] = '\0';
	n->cm_ok = false;
	n->cm_gone = false;
	n->conf_ok = false;
	n->conf_gone = false;
	n->svc_ok = false;
	n->svc_gone = false;
	n->own_ok = false;
	n->own_inflight = false;
	n->next_own_ms = 0;
	n->own_backoff_ms = 0;
	n->backoff_ms = 0;
	n->next_try_ms = 0;
	n->pod_inflight = false;
	n->next_pod_ms = 0;
	n->waiting = "";
	create(st);
}

/* A failed attempt: the next one if any is left (and no abort), else RETRYABLE_FAILURE. */
static void fail_attempt(struct step *st, const char *reason, const char *error_message,
			 bool delete_old)
{
	struct spok_rc_action *a;

	st->delete_old = delete_old && st->n->name;
	own_kept(st); /* kept: before NEW_ATTEMPT, under this attempt's names and owner */
	if (st->n->attempt + 1 >= st->n->max_attempts || st->n->abort_requested) {
		finish(st, SPOK_PHASE_RETRYABLE_FAILURE, reason, error_message, false);
		return;
	}
	/* Recorded as this attempt's end; a crash right here re-adopts it as "needs the next
	 * attempt" (spok_engine_needs_work). */
	a = record(st, SPOK_PHASE_RETRYABLE_FAILURE, reason);
	a->error_message = error_message;
	a->set_error = true;
	a->stamp_finished = true;
	new_attempt(st);
}

/* A direct attempt's ConfigMaps and Service go with it (its driver pod owned them, but a
 * crash may have come before the owner references). */
static void deleted_externally(struct step *st)
{
	fail_attempt(st, fmt(st, "ResourceDeletedExternally: %s %s/%s%s was deleted by someone "
			     "else", object_word(st->n), or_empty(st->n->ns), or_empty(st->n->name),
			     st->n->direct ? "-driver" : ""),
		     NULL, st->n->direct);
}

/* The create is to be sent again later; the row says why only when that changed. */
static void create_retry(struct step *st, enum spok_phase ph, const char *reason)
{
	st->n->stage = SPOK_RC_STAGE_WAIT;
	retry_later(st);
	if (st->n->phase != ph || !str_eq(st->n->reason, reason))
		record(st, ph, reason);
}

static const char *name_taken(struct step *st, const struct spok_rc_event *ev)
{
	bool cm = ev->object == SPOK_RC_CM;

	if (ev->message != NULL)
		return fmt(st, "%s: name taken by an object spok did not create; delete it or run "
			   "the job again", ev->message);
	return fmt(st, "%s %s/%s%s: name taken by an object spok did not create; delete it or "
		   "run the job again", cm ? "ConfigMap" : "SparkApplication", or_empty(st->n->ns),
		   or_empty(st->n->name), cm ? SPOK_SHIP_SUFFIX : "");
}

/* Direct: the Service's answer. The driver pod runs already, so a Service that cannot be
 * had ends the attempt with the pod deleted; one that may come later is asked for again on
 * the tick. An answer after the attempt ended changes nothing. */
static void on_svc(struct step *st, const struct spok_rc_event *ev)
{
	struct spok_rc_state *n = st->n;

	if (n->stage != SPOK_RC_STAGE_TRACKING)
		return;
	switch (ev->answer) {
	case SPOK_RC_CREATED:
	case SPOK_RC_CONFLICT_OURS:
		n->svc_ok = true;
		return;
	case SPOK_RC_CONFLICT:
		push(st, SPOK_RC_GET_OWNER)->object = SPOK_RC_SVC;
		return;
	case SPOK_RC_GONE:
		create_svc(st);
		return;
	case SPOK_RC_CONFLICT_NOT_OURS:
		n->svc_gone = true; /* someone else's: the teardown must not touch it */
		finish(st, SPOK_PHASE_PERMANENT_FAILURE, name_taken(st, ev), NULL, true);
		return;
	case SPOK_RC_INVALID:
		finish(st, SPOK_PHASE_PERMANENT_FAILURE,
		       fmt(st, "BadTaskFormat: %s", or_empty(ev->message)), NULL, true);
		return;
	case SPOK_RC_REFUSED:
		finish(st, SPOK_PHASE_PERMANENT_FAILURE, ev->message, NULL, true);
		return;
	case SPOK_RC_QUOTA:
	case SPOK_RC_UNAVAILABLE:
		n->next_try_ms = st->now + next_backoff(st);
		return;
	}
}

static void on_create(struct step *st, const struct spok_rc_event *ev)
{
	if (ev->object == SPOK_RC_SVC) {
		on_svc(st, ev);
		return;
	}
	switch (ev->answer) {
	case SPOK_RC_CREATED:
	case SPOK_RC_CONFLICT_OURS:
		if (ev->object == SPOK_RC_APP) {
			confirm(st);
			return;
		}
		if (ev->object == SPOK_RC_CM)
			st->n->cm_ok = true;
		else
			st->n->conf_ok = true;
		create(st);
		return;
	case SPOK_RC_CONFLICT:
		push(st, SPOK_RC_GET_OWNER)->object = ev->object;
		return;
	case SPOK_RC_CONFLICT_NOT_OURS:
		finish(st, SPOK_PHASE_PERMANENT_FAILURE, name_taken(st, ev), NULL, false);
		return;
	case SPOK_RC_GONE: /* deleted between the 409 and the GET: create again */
		create(st);
		return;
	case SPOK_RC_QUOTA:
		create_retry(st, SPOK_PHASE_WAITING_FOR_RESOURCES, ev->message);
		return;
	case SPOK_RC_INVALID:
		finish(st, SPOK_PHASE_PERMANENT_FAILURE,
		       fmt(st, "BadTaskFormat: %s", or_empty(ev->message)), NULL, false);
		return;
	case SPOK_RC_REFUSED:
		finish(st, SPOK_PHASE_PERMANENT_FAILURE, ev->message, NULL, false);
		return;
	case SPOK_RC_UNAVAILABLE: /* after the client's own retries: keep trying */
		create_retry(st, st->n->phase, ev->message);
		return;
	}
}

/* The object is SUBMITTED: the operator ran spark-submit and waits for the driver pod. */
static bool submitted(const struct spok_rc_state *n)
{
	return strcmp(n->app_state, "SUBMITTED") == 0;
}

/* A record of our own reason, with Flyte's phase-version rule: the same phase with a new
 * reason is a new event (version + 1); a new phase starts at 0. */
static void record_versioned(struct step *st, enum spok_phase ph, const char *reason)
{
	struct spok_rc_state *n = st->n;

	if (ph != n->phase)
		n->phase_version = 0;
	else if (!str_eq(n->reason, reason))
		n->phase_version++;
	record(st, ph, reason);
}

static void on_status(struct step *st, const struct spok_rc_status *s)
{
	const char *reason = s->error_message ? s->error_message : s->reason;
	struct spok_rc_state *n = st->n;
	struct spok_rc_action *a;

	snprintf(n->app_state, sizeof(n->app_state), "%s", or_empty(s->app_state));
	if (!submitted(n))
		n->waiting = ""; /* the driver pod got past that */
	switch (s->phase) {
	case SPOK_PHASE_SUCCEEDED:
		finish(st, SPOK_PHASE_SUCCEEDED, reason, NULL,
		       !spok_rc_keeps(st->c, SPOK_PHASE_SUCCEEDED));
		return;
	case SPOK_PHASE_RETRYABLE_FAILURE:
		fail_attempt(st, reason, s->error_message,
			     !spok_rc_keeps(st->c, SPOK_PHASE_RETRYABLE_FAILURE));
		return;
	case SPOK_PHASE_PERMANENT_FAILURE:
		finish(st, SPOK_PHASE_PERMANENT_FAILURE, reason, s->error_message,
		       !spok_rc_keeps(st->c, SPOK_PHASE_PERMANENT_FAILURE));
		return;
	default:
		break;
	}
	/* The driver pod's reason says more than "job submitted" while it lasts. */
	if (waiting(n)) {
		if (s->info_changed || s->phase != n->phase || !str_eq(n->reason, n->waiting))
			record_versioned(st, s->phase, fmt(st, "%s", n->waiting));
		return;
	}
	/* "job queued" must not hide our own "SparkApplication created" note */
	if (s->phase == SPOK_PHASE_QUEUED && n->phase == SPOK_PHASE_QUEUED && !s->info_changed &&
	    str_eq(s->reason, "job queued"))
		return;
	if (s->info_changed || s->phase != n->phase || !str_eq(reason, n->reason) ||
	    s->phase_version != n->phase_version) {
		n->phase_version = s->phase_version;
		a = record(st, s->phase, reason);
		a->phase_version = s->phase_version;
	}
}

static void fmt_duration(uint64_t ms, char *buf, size_t len)
{
	uint64_t s = ms / 1000;

	if (s >= 3600)
		snprintf(buf, len, "%lluh%llum%llus", (unsigned long long)(s / 3600),
			 (unsigned long long)(s % 3600 / 60), (unsigned long long)(s % 60));
	else
		snprintf(buf, len, "%llum%llus", (unsigned long long)(s / 60),
			 (unsigned long long)(s % 60));
}

/* While the object is SUBMITTED the operator says nothing of the driver pod (it stays
 * SUBMITTED through ErrImagePull and Unschedulable): the pod is read every
 * driver_check_ms, one read at a time. */
static void read_driver(struct step *st)
{
	struct spok_rc_state *n = st->n;

	/* Direct: every change of the pod comes through the watch (the driver steps it). */
	if (st->c->driver_check_ms == 0 || n->direct || !submitted(n) || n->pod_inflight ||
	    st->now < n->next_pod_ms)
		return;
	push(st, SPOK_RC_GET_DRIVER);
	n->pod_inflight = true;
	n->next_pod_ms = st->now + st->c->driver_check_ms;
}

/* Timeouts count from the confirmation of the attempt's object. */
static void check_tracking(struct step *st)
{
	const struct spok_rc_state *n = st->n;
	int64_t since = (int64_t)st->now - n->confirmed_at_ms;
	uint64_t age = since > 0 ? (uint64_t)since : 0;
	char d[32];

	if (!n->confirmed)
		return;
	if (n->timeout_ms > 0 && age > n->timeout_ms) {
		fmt_duration(n->timeout_ms, d, sizeof(d));
		finish(st, SPOK_PHASE_TIMED_OUT,
		       fmt(st, "task timed out after %s (task timeout)%s%s", d,
			   waiting(n) ? "; the driver pod was still " : "", or_empty(n->waiting)),
		       NULL, true);
		return;
	}
	if ((n->app_state[0] == '\0' || strcmp(n->app_state, "SUBMITTED") == 0) &&
	    (n->phase == SPOK_PHASE_QUEUED || n->phase == SPOK_PHASE_INITIALIZING) &&
	    age > st->c->submitted_timeout_ms) {
		fmt_duration(st->c->submitted_timeout_ms, d, sizeof(d));
		if (n->direct)
			fail_attempt(st, fmt(st, "stuck in Pending for %s: the driver pod %s%s", d,
					     waiting(n) ? "was still " : "",
					     waiting(n) ? n->waiting
							   : "did not start; check the nodes and quotas"),
				     NULL, true);
		else if (waiting(n))
			fail_attempt(st, fmt(st, "stuck in SUBMITTED for %s: the driver pod was still %s",
					     d, n->waiting), NULL, true);
		else
			fail_attempt(st, fmt(st, "stuck in %s for %s: the operator did not start the "
					     "driver; check the operator and quotas",
					     n->app_state[0] ? n->app_state : "SUBMITTED", d),
				     NULL, true);
		return;
	}
	if (owes_own(n) && n->next_own_ms != 0 && st->now >= n->next_own_ms)
		own(st); /* the last round failed */
	if (n->direct && !n->svc_ok && n->next_try_ms != 0 && st->now >= n->next_try_ms) {
		create_svc(st); /* an earlier try was refused for now */
		return;
	}
	read_driver(st);
}

static void on_tick(struct step *st)
{
	struct spok_rc_state *n = st->n;

	if (st->s->inflight)
		return;
	if (n->stage != SPOK_RC_STAGE_DELETING && n->stage != SPOK_RC_STAGE_DONE && n->abort_requested) {
		finish(st, SPOK_PHASE_ABORTED, "aborted by the user", NULL, true);
		return;
	}
	switch (n->stage) {
	case SPOK_RC_STAGE_WAIT:
		if (st->now >= n->next_try_ms)
			create(st);
		return;
	case SPOK_RC_STAGE_ADOPT:
		if (n->next_try_ms != 0 && st->now >= n->next_try_ms)
			push(st, SPOK_RC_GET);
		return;
	case SPOK_RC_STAGE_DELETING:
		if (st->now >= n->next_try_ms)
			delete_next(st);
		return;
	case SPOK_RC_STAGE_TRACKING:
		check_tracking(st);
		return;
	case SPOK_RC_STAGE_CREATING:
	case SPOK_RC_STAGE_DONE:
		return;
	}
}

/* A namespace list without our object. The first list was asked for before this session's
 * creates: it says nothing about them. A list can be older than our own create: absence is
 * confirmed by a GET before anything is concluded, or the create is sent (409 covers a
 * stale list). */
static void on_not_listed(struct step *st, bool first)
{
	enum spok_rc_stage stg = st->n->stage;

	if (st->s->inflight || (first && stg == SPOK_RC_STAGE_TRACKING))
		return;
	if (stg == SPOK_RC_STAGE_ADOPT && !st->n->confirmed)
		create(st);
	else if (stg == SPOK_RC_STAGE_ADOPT || stg == SPOK_RC_STAGE_TRACKING)
		push(st, SPOK_RC_GET);
}

static void on_adopt(struct step *st, bool listed)
{
	if (st->n->abort_requested) {
		finish(st, SPOK_PHASE_ABORTED, "aborted by the user", NULL, true);
		return;
	}
	if (spok_phase_terminal(st->n->phase)) { /* a retryable failure with attempts left */
		/* Its objects, unless kept: the crash may have come between the commit of its
		 * record and their deletion (a DELETE of what is gone already is fine). */
		if (st->n->name && !spok_rc_keeps(st->c, SPOK_PHASE_RETRYABLE_FAILURE))
			push(st, SPOK_RC_DELETE_OLD);
		new_attempt(st);
		return;
	}
	st->n->stage = SPOK_RC_STAGE_ADOPT;
	record(st, st->n->phase, st->n->reason); /* the new supervisor, told to the callback */
	if (listed)
		push(st, SPOK_RC_GET);
}

/* What the driver pod says while the object is SUBMITTED. An answer that comes after the
 * object moved on (or while a request of the attempt is in flight) is stale: the next read
 * asks again. */
static void on_driver_pod(struct step *st, const struct spok_rc_event *ev)
{
	struct spok_rc_state *n = st->n;
	const char *why;
	bool shown;

	n->pod_inflight = false;
	if (st->s->inflight || n->stage != SPOK_RC_STAGE_TRACKING || !submitted(n))
		return;
	switch (ev->pod) {
	case SPOK_RC_POD_ABSENT:  /* not created yet: keep waiting (deadlines still apply) */
	case SPOK_RC_POD_UNKNOWN: /* cannot tell: the same */
		return;
	case SPOK_RC_POD_FINE: /* scheduled after all: back to what the object says */
		shown = waiting(n) && str_eq(n->reason, n->waiting);
		n->waiting = "";
		if (shown)
			record_versioned(st, n->phase, "job submitted");
		return;
	case SPOK_RC_POD_WAITING:
		snprintf(st->out->waiting, sizeof(st->out->waiting), "%s", or_empty(ev->message));
		n->waiting = st->out->waiting;
		if (!str_eq(n->reason, n->waiting))
			record_versioned(st, n->phase, fmt(st, "%s", n->waiting));
		return;
	case SPOK_RC_POD_BROKEN: /* no wait cures it, nor another attempt of the same task */
		why = fmt(st, "%s", or_empty(ev->message));
		finish(st, SPOK_PHASE_PERMANENT_FAILURE, why, why, true);
		return;
	}
}

static void on_delete(struct step *st, const struct spok_rc_event *ev)
{
	if (!ev->ok) {
		retry_later(st);
		return;
	}
	switch (ev->object) {
	case SPOK_RC_CM:
		st->n->cm_gone = true;
		break;
	case SPOK_RC_CONF:
		st->n->conf_gone = true;
		break;
	case SPOK_RC_SVC:
		st->n->svc_gone = true;
		break;
	case SPOK_RC_APP:
		done(st);
		return;
	}
	delete_next(st);
}

static bool finished(const struct spok_rc_state *s)
{
	return s->stage == SPOK_RC_STAGE_DELETING || s->stage == SPOK_RC_STAGE_DONE;
}

void spok_rc_step(const struct spok_rc_config *c, const struct spok_rc_state *s,
		  const struct spok_rc_event *ev, uint64_t now, struct spok_rc_state *next,
		  struct spok_rc_actions *out)
{
	struct step st = {.c = c, .s = s, .n = next, .out = out, .now = now};

	*next = *s;
	out->n = 0;
	out->nbuf = 0;
	switch (ev->kind) {
	case SPOK_RC_EV_START:
		create(&st);
		return;
	case SPOK_RC_EV_BAD_TASK:
		/* After the confirmation (direct: the Service of a re-adopted attempt) the pod
		 * runs: what exists goes, nothing would follow it. */
		finish(&st, SPOK_PHASE_PERMANENT_FAILURE, ev->message, NULL,
		       s->confirmed && !finished(s));
		return;
	case SPOK_RC_EV_CREATE:
		on_create(&st, ev);
		return;
	case SPOK_RC_EV_SEEN:
		if (!finished(s) && s->stage != SPOK_RC_STAGE_TRACKING)
			confirm(&st);
		return;
	case SPOK_RC_EV_STATUS:
		if (!finished(s))
			on_status(&st, &ev->status);
		return;
	case SPOK_RC_EV_NOT_LISTED:
		on_not_listed(&st, ev->first_list);
		return;
	case SPOK_RC_EV_ABSENT:
		if (s->confirmed)
			deleted_externally(&st);
		else
			create(&st);
		return;
	case SPOK_RC_EV_GET_FAILED:
		retry_later(&st);
		return;
	case SPOK_RC_EV_DELETED:
		if (!s->inflight && s->stage == SPOK_RC_STAGE_TRACKING)
			deleted_externally(&st);
		return;
	case SPOK_RC_EV_DELETE:
		on_delete(&st, ev);
		return;
	case SPOK_RC_EV_ABORT:
		next->abort_requested = true;
		on_tick(&st);
		return;
	case SPOK_RC_EV_TICK:
		on_tick(&st);
		return;
	case SPOK_RC_EV_ADOPT:
		on_adopt(&st, ev->first_list);
		return;
	case SPOK_RC_EV_DRIVER_POD:
		on_driver_pod(&st, ev);
		return;
	case SPOK_RC_EV_OWNED: /* a failed round: the tick at next_own_ms sends the next */
		next->own_inflight = false;
		if (ev->ok) {
			next->own_ok = true;
			next->own_backoff_ms = 0;
		}
		return;
	}
}

/* confirmed_at + ms + 1 (the checks want age > ms), clamped to the clock's start. */
static uint64_t after(const struct spok_rc_state *s, uint64_t ms)
{
	int64_t t = s->confirmed_at_ms + (int64_t)ms + 1;

	return t > 0 ? (uint64_t)t : 0;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Mirrors on_tick and check_tracking: the earliest time one of their branches acts. */
uint64_t spok_rc_due(const struct spok_rc_config *c, const struct spok_rc_state *s)
{
	uint64_t due = SPOK_RC_NEVER;

	if (s->inflight || s->stage == SPOK_RC_STAGE_DONE)
		return SPOK_RC_NEVER;
	if (s->abort_requested && s->stage != SPOK_RC_STAGE_DELETING)
		return 0;
	switch (s->stage) {
	case SPOK_RC_STAGE_WAIT:
	case SPOK_RC_STAGE_DELETING:
		return s->next_try_ms;
	case SPOK_RC_STAGE_ADOPT:
		return s->next_try_ms != 0 ? s->next_try_ms : SPOK_RC_NEVER;
	case SPOK_RC_STAGE_TRACKING:
		break;
	default:
		return SPOK_RC_NEVER;
	}
	if (!s->confirmed)
		return SPOK_RC_NEVER;
	if (s->timeout_ms > 0)
		due = after(s, s->timeout_ms);
	if ((s->app_state[0] == '\0' || submitted(s)) &&
	    (s->phase == SPOK_PHASE_QUEUED || s->phase == SPOK_PHASE_INITIALIZING))
		due = min_u64(due, after(s, c->submitted_timeout_ms));
	if (s->direct && !s->svc_ok && s->next_try_ms != 0)
		due = min_u64(due, s->next_try_ms);
	if (owes_own(s) && s->next_own_ms != 0)
		due = min_u64(due, s->next_own_ms);
	if (c->driver_check_ms != 0 && !s->direct && submitted(s) && !s->pod_inflight)
		due = min_u64(due, s->next_pod_ms);
	return due;
}

bool spok_rc_keeps(const struct spok_rc_config *c, enum spok_phase ph)
{
	if (ph == SPOK_PHASE_SUCCEEDED)
		return c->keep_on_success;
	if (ph == SPOK_PHASE_ABORTED || ph == SPOK_PHASE_TIMED_OUT)
		return false;
	return !c->delete_failed;
}

const char *spok_rc_stage_name(enum spok_rc_stage st)
{
	static const char *const names[] = {"WAIT", "ADOPT", "CREATING", "TRACKING", "DELETING",
					    "DONE"};

	return (size_t)st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

const char *spok_rc_act_name(enum spok_rc_act_kind k)
{
	static const char *const names[] = {"RECORD", "CREATE", "GET_OWNER", "GET", "DELETE",
					    "DELETE_OLD", "DELETE_CM", "NEW_ATTEMPT", "DONE",
					    "GET_DRIVER", "OWN"};

	return (size_t)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}
