/* reconcile.h - the cluster engine's rules as one pure function.
 *
 * spok_rc_step(config, state, event, now) -> (next state, actions). No I/O, no clock, no
 * globals: everything it decides on is in its arguments, so every rule of "Cluster runs"
 * (docs/ARCHITECTURE.md) is tested by a table (tests/engine/test_reconcile.c). The driver
 * (engine.c) turns kube answers, watch events, abort requests and its tick into events,
 * calls spok_rc_step, and carries the actions out on the libuv loop in the order listed.
 *
 * Times: `now` and every *_ms deadline in the state are the loop's monotonic clock
 * (uv_now); wall-clock stamps for the store are taken by the driver when it records
 * (stamp_started / stamp_finished).
 *
 * Ownership: the state's strings (reason, id, namespace, name) are borrowed from the driver's
 * row. A record action's reason and error_message point into the event or into the actions'
 * own buffer: valid while both live; the driver copies them into its row.
 */
#ifndef SPOK_ENGINE_RECONCILE_H
#define SPOK_ENGINE_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

/* Where an execution is in its attempt. */
enum spok_rc_stage {
	SPOK_RC_STAGE_WAIT,     /* create to be (re)sent at next_try_ms */
	SPOK_RC_STAGE_ADOPT,    /* re-adopted: waiting for the namespace list or a GET */
	SPOK_RC_STAGE_CREATING, /* create (or the GET after a 409) in flight */
	SPOK_RC_STAGE_TRACKING, /* the object exists; following the watch */
	SPOK_RC_STAGE_DELETING, /* terminal phase recorded; teardown DELETE to be sent / in flight */
	SPOK_RC_STAGE_DONE /* left the engine */
};

struct spok_rc_config {
	bool keep_on_success;          /* keep the SparkApplication after SUCCEEDED */
	bool delete_failed;            /* delete failed attempts' objects (default: keep) */
	uint64_t submitted_timeout_ms; /* stuck in ""/SUBMITTED this long: the attempt fails */
	uint64_t backoff_ms;           /* first retry wait */
	uint64_t backoff_max_ms;       /* cap of the doubling */
	/* While the object is SUBMITTED: how often its driver pod is read (GET_DRIVER); 0: never.
	 * The operator leaves an app SUBMITTED while its driver pod cannot start. */
	uint64_t driver_check_ms;
};

/* "waiting: <the scheduler's message>" fits (phase.h: spok_driver_pod_verdict caps it). */
#define SPOK_RC_WAITING_MAX 384

struct spok_rc_state {
	enum spok_rc_stage stage;
	enum spok_phase phase;      /* as recorded */
	uint32_t phase_version;
	const char *reason;         /* as recorded; NULL = none */
	const char *id, *ns, *name; /* execution id, namespace, this attempt's object name */
	uint32_t attempt, max_attempts;
	bool abort_requested;
	bool inflight;        /* a request of ours is pending: its answer decides the next step */
	bool confirmed;       /* this attempt's object was seen to exist (started_ms != 0) */
	/* Loop time of that; for an adopted row derived once from its stored age, so it may be
	 * negative (confirmed before the loop's clock began, e.g. before a reboot). */
	int64_t confirmed_at_ms;
	uint64_t timeout_ms;  /* the task's timeout; 0: none */
	char app_state[40];   /* the object's raw status.applicationState.state */
	bool ships;           /* attempts come with a shipped-files ConfigMap */
	bool cm_ok;           /* this attempt's ConfigMap exists (created or adopted) */
	bool cm_gone;         /* its teardown DELETE succeeded */
	/* Direct submission: the attempt's objects are the conf ConfigMap (CONF), the driver pod
	 * (APP: the object followed) and its headless Service (SVC), created in that order,
	 * the Service once the pod is confirmed (its owner). Teardown deletes them in the same
	 * order, the pod last. */
	bool direct;
	bool conf_ok, conf_gone;
	bool svc_ok, svc_gone;
	/* The attempt's ConfigMaps carry their owner reference (direct: the driver pod's, on
	 * the conf and files ConfigMaps; else the SparkApplication's, on the files ConfigMap this
	 * session created), merge-patched once the owner is confirmed and asked again until that
	 * worked, so none stays unowned while the run lives. Not stored: a re-adopted direct
	 * attempt patches again (idempotent). */
	bool own_ok;
	bool own_inflight;       /* the patches are pending (not a request of the attempt's own) */
	uint64_t next_own_ms;    /* TRACKING: when to patch again if this round fails; 0: not set */
	uint64_t own_backoff_ms; /* the next round's wait; 0: config.backoff_ms */
	uint64_t backoff_ms;  /* the last wait; 0: the next one is config.backoff_ms */
	uint64_t next_try_ms; /* WAIT / ADOPT / DELETING: when to try again; 0: not set */
	bool pod_inflight;    /* a read of the driver pod is pending */
	uint64_t next_pod_ms; /* TRACKING in SUBMITTED: when to read the driver pod next */
	/* The driver pod's last "waiting: ..." (Unschedulable), shown as the reason while the
	 * app stays SUBMITTED; NULL or "" when none. Borrowed like the strings above: a step
	 * that sets a new one points it into its actions' waiting buffer, and the driver keeps
	 * a copy (a pointer here instead of a buffer: ~380 bytes less per execution). */
	const char *waiting;
};

/* Which object a request or an answer is about: the SparkApplication (direct: the driver
 * pod), the shipped-files ConfigMap, and (direct only) the conf ConfigMap and the Service. */
enum spok_rc_object { SPOK_RC_APP, SPOK_RC_CM, SPOK_RC_CONF, SPOK_RC_SVC };

/* A create's answer, mapped from the API's (engine.c: answer_of); CONFLICT_* and GONE are
 * the GET that follows a 409. */
enum spok_rc_answer {
	SPOK_RC_CREATED,           /* 201 */
	SPOK_RC_CONFLICT,          /* 409: whose object is it? */
	SPOK_RC_CONFLICT_OURS,     /* ... it carries our execution label */
	SPOK_RC_CONFLICT_NOT_OURS, /* ... it does not */
	SPOK_RC_GONE,              /* ... it was deleted in between */
	SPOK_RC_QUOTA,             /* 403 exceeded quota */
	SPOK_RC_INVALID,           /* 400 / 422 */
	SPOK_RC_REFUSED,           /* other 401 / 403, 413 */
	SPOK_RC_UNAVAILABLE        /* 5xx after the client's retries, transport error */
};

enum spok_rc_event_kind {
	SPOK_RC_EV_START,      /* the attempt's row is recorded: create its object */
	SPOK_RC_EV_BAD_TASK,   /* the attempt's object cannot be built: message */
	SPOK_RC_EV_CREATE,     /* a create answered (or could not be sent): object, answer, message */
	SPOK_RC_EV_SEEN,       /* our object of this attempt exists (watch, list, GET) */
	SPOK_RC_EV_STATUS,     /* its mapped status (after SEEN): status */
	SPOK_RC_EV_NOT_LISTED, /* a namespace list without our object: first_list */
	SPOK_RC_EV_ABSENT,     /* a GET of our object: 404 */
	SPOK_RC_EV_GET_FAILED, /* that GET failed otherwise */
	SPOK_RC_EV_DELETED,    /* a watch DELETED event for our object */
	SPOK_RC_EV_DELETE,     /* a teardown DELETE answered: object, ok */
	SPOK_RC_EV_TICK,       /* the timer: deadlines, backoff, abort */
	SPOK_RC_EV_ABORT,      /* abort requested */
	SPOK_RC_EV_ADOPT,      /* a recorded execution was taken over: first_list (its namespace
	                        * was listed already) */
	SPOK_RC_EV_DRIVER_POD, /* a read of this attempt's driver pod answered: pod, message */
	SPOK_RC_EV_OWNED       /* the owner patches answered: ok (each done, or its ConfigMap
	                        * gone) */
};

/* What a read of the driver pod found (the driver maps spok_driver_pod_verdict, phase.h). */
enum spok_rc_pod {
	SPOK_RC_POD_ABSENT,  /* 404: not created yet (or already gone) */
	SPOK_RC_POD_UNKNOWN, /* the read failed */
	SPOK_RC_POD_FINE,    /* nothing wrong spok can name */
	SPOK_RC_POD_WAITING, /* unschedulable: message "waiting: <scheduler's message>" */
	SPOK_RC_POD_BROKEN   /* cannot start as specified (image, config): message */
};

/* A status of our object as spok_status_from_sparkapp maps it. */
struct spok_rc_status {
	enum spok_phase phase;
	uint32_t phase_version;
	const char *reason;        /* Flyte's reason ("job queued", ...) */
	const char *error_message; /* or NULL */
	const char *app_state;     /* raw state, "" if none */
	bool info_changed;         /* ids or links differ from the row */
};

struct spok_rc_event {
	enum spok_rc_event_kind kind;
	enum spok_rc_object object;
	enum spok_rc_answer answer;
	/* The API's or the builder's message; for CONFLICT_NOT_OURS of a direct attempt's object
	 * the driver names it ("Service ns/name"). */
	const char *message;
	bool ok;                   /* DELETE: done (or already gone); OWNED: all patched */
	bool first_list;           /* NOT_LISTED: the namespace's first list; ADOPT: listed */
	struct spok_rc_status status;
	enum spok_rc_pod pod;      /* DRIVER_POD */
};

enum spok_rc_act_kind {
	SPOK_RC_RECORD,      /* write the row (fields below) and tell the callback */
	SPOK_RC_CREATE,      /* send the create of `object` */
	SPOK_RC_GET_OWNER,   /* GET `object` that answered 409, to see whose it is */
	SPOK_RC_GET,         /* GET our SparkApplication: is it there? */
	SPOK_RC_DELETE,      /* teardown DELETE of `object` (answer: SPOK_RC_EV_DELETE) */
	SPOK_RC_DELETE_OLD,  /* fire-and-forget DELETE of this attempt's objects (and ConfigMaps,
	                      * Service), after the RECORD of the attempt's end (durable first) */
	SPOK_RC_DELETE_CM,   /* fire-and-forget DELETE of the ConfigMaps (files; direct: conf) of
	                      * an attempt whose SparkApplication / driver pod never existed */
	SPOK_RC_NEW_ATTEMPT, /* reset the row to next->attempt, build its object, write-ahead */
	SPOK_RC_DONE,        /* the execution leaves the engine */
	SPOK_RC_GET_DRIVER,  /* read this attempt's driver pod (answer: SPOK_RC_EV_DRIVER_POD);
	                      * it is no request of the attempt's own: others may be in flight */
	SPOK_RC_OWN          /* merge-patch the owner reference onto the attempt's ConfigMaps
	                      * (answer: SPOK_RC_EV_OWNED); no request of the attempt's own
	                      * either. The driver answers nothing when the owner's uid is not
	                      * known yet: the tick at next_own_ms asks again */
};

struct spok_rc_action {
	enum spok_rc_act_kind kind;
	enum spok_rc_object object;  /* CREATE, GET_OWNER, DELETE */
	/* RECORD: the row's phase, version and reason become these; error_message too when
	 * set_error (NULL clears it). */
	enum spok_phase phase;
	uint32_t phase_version;
	const char *reason;
	const char *error_message;
	bool set_error;
	bool stamp_started;  /* started_ms = wall clock now */
	bool stamp_finished; /* finished_ms = wall clock now */
	bool terminal;       /* the execution's final phase (teardown comes next) */
	bool info;           /* the status event's ids and links are part of this record */
};

#define SPOK_RC_MAX_ACTIONS 6

struct spok_rc_actions {
	size_t n;
	struct spok_rc_action a[SPOK_RC_MAX_ACTIONS];
	char buf[2][1280]; /* formatted reasons */
	size_t nbuf;
	char waiting[SPOK_RC_WAITING_MAX]; /* a new state's waiting message */
};

/* One step. *next starts as a copy of *s; the caller applies it (stage, deadlines, flags)
 * and performs out->a[0..n) in order. An action the driver cannot carry out is a new event
 * (e.g. a create that could not be sent: SPOK_RC_EV_CREATE with SPOK_RC_UNAVAILABLE). */
void spok_rc_step(const struct spok_rc_config *c, const struct spok_rc_state *s,
		  const struct spok_rc_event *ev, uint64_t now, struct spok_rc_state *next,
		  struct spok_rc_actions *out);

/* When a TICK could next do anything for s (loop time, like the state's deadlines): a TICK
 * stepped before it changes nothing and asks for nothing, so the driver visits only
 * executions that are due (a timer heap) instead of every execution every tick.
 * SPOK_RC_NEVER: no tick ever acts (a request in flight, whose answer steps it; a running
 * object without a task timeout; a finished execution). Recompute it after every step. */
#define SPOK_RC_NEVER UINT64_MAX
uint64_t spok_rc_due(const struct spok_rc_config *c, const struct spok_rc_state *s);

/* Keep rules: true when a finished execution's object stays on the cluster (SUCCEEDED with
 * keep_on_success; failures unless delete_failed; ABORTED and TIMED_OUT never). The
 * teardown of a leftover found after a crash uses the same rules. */
bool spok_rc_keeps(const struct spok_rc_config *c, enum spok_phase ph);

const char *spok_rc_stage_name(enum spok_rc_stage st);
const char *spok_rc_act_name(enum spok_rc_act_kind k);

#endif
