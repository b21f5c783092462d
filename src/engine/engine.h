/* engine.h - runs SparkApplications on a cluster and follows them to the end, durably.
 *
 * One struct spok_engine per (cluster, process), on the loop of its kube_client. It keeps
 * ONE shared watch per namespace on sparkapplications carrying the label
 * SPOK_LABEL_EXECUTION (= execution id), and for direct submission one on pods with that
 * label, and dispatches events to executions by name; there
 * is no per-job polling of SparkApplications. A periodic local tick checks abort requests in
 * the store, task timeouts, the stuck-in-SUBMITTED deadline and backoff deadlines. Its one
 * API call: while an object is SUBMITTED (the operator waits for its driver pod and reports
 * nothing about it) the driver pod is read every driver_check_ms, so a pod that cannot pull
 * its image ends the attempt (PERMANENT_FAILURE) and an unschedulable one shows the
 * scheduler's reason (docs/ARCHITECTURE.md, "Cluster runs").
 *
 * Durability (see docs/ARCHITECTURE.md, "Cluster runs"):
 *  - write-ahead: an attempt's row (phase QUEUED, resource_name = the deterministic
 *    generated name of [execution id, "n0", attempt], started_ms = 0) is committed before
 *    the create request; started_ms != 0 means "the object was confirmed to exist";
 *  - create answering 409 means "already there": GET it and adopt it if it carries our
 *    execution label;
 *  - re-adoption (spok_engine_adopt*) lists the namespace's objects through the watch (or
 *    GETs by name once the namespace is already watched): present -> continue from its
 *    status; absent and never confirmed -> create; absent after confirmation ->
 *    RETRYABLE_FAILURE ResourceDeletedExternally;
 *  - a terminal phase is written before the teardown DELETE; a restart deletes leftovers
 *    of terminal executions found in the list (same keep rules);
 *  - who follows an execution is recorded in its row as the supervisor's pid AND start time
 *    (common/pid.h): a zombie of a killed supervisor, or an unrelated process that got its
 *    pid, is no supervisor. Taking a row over is a compare-and-set on that pair
 *    (spok_store_claim), so two engines never both follow one execution. An engine that ran
 *    spok_engine_adopt_all keeps taking over: rows a live process follows are re-checked
 *    every tick, and every rescan_ms the unfinished rows are listed again.
 *
 * Shipped files (ship_local_files, `spok run --cluster` only): an attempt of a task with local
 * paths first creates its ConfigMap <resource_name>-files (same write-ahead name rules; 409
 * carrying our execution label = adopt), then the SparkApplication, whose owner reference
 * the ConfigMap then gets. Every teardown that deletes the SparkApplication deletes the
 * ConfigMap first (a DELETE of the collection selected by name AND our execution label, so
 * nothing spok did not create is touched); kept objects keep theirs. Without the option a
 * task with a local path is refused (SPOK_EINVAL): the daemon never reads its host's files.
 *
 * The rules live in the pure reconciler (reconcile.h, spok_rc_step); this module is its
 * driver on the loop. A store write that fails stops the engine from following that
 * execution (SPOK_ENGINE_FAILED); a failed write-ahead never leads to a create.
 *
 * Direct submission (opts.direct; docs/ARCHITECTURE.md "Direct submission"): an attempt is
 * the conf ConfigMap <name>-conf, then the driver pod <name>-driver (the followed object:
 * its row's started_ms is set once the pod is confirmed), then the headless Service created
 * with the pod as its owner, the ConfigMaps getting the same owner reference by a merge
 * patch; 409 on any of them = adopt if it carries our execution label. Status comes from
 * the driver pod (spok_status_from_driver_pod) and executor log links from the executor pods
 * the same watch sees. Teardown deletes ConfigMaps, Service, then the pod (Spark's executors
 * are owned by it).
 *
 * Test-only fault injection, compiled in only with the CMake option SPOK_TEST_HOOKS (test
 * builds): SPOK_CRASH_AT=<point> makes the process _exit(137) at that point: before-create (row committed, request not sent), after-create (201 received, not
 * recorded), running (RUNNING recorded), teardown (terminal phase recorded, DELETE not sent);
 * direct only: after-conf (the conf ConfigMap's 201 received), after-service (the Service's
 * 201 received).
 *
 * Ownership: the engine borrows client, store and platform (they must outlive it) and
 * copies everything else it keeps. Tasks come from load_task (the engine owns the filled
 * task). struct spok_execution passed to callbacks is borrowed for the callback.
 * spok_engine_close stops everything; memory is released once pending requests have
 * completed, so run the loop until it returns after closing the client.
 */
#ifndef SPOK_ENGINE_ENGINE_H
#define SPOK_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "kube/client.h"
#include "model/model.h"
#include "sparkapp/sparkapp.h"
#include "store/store.h"

#define SPOK_LABEL_EXECUTION "spok.dev/execution"
#define SPOK_ENGINE_SUBMITTED_TIMEOUT_MS (10ULL * 60 * 1000)
#define SPOK_ENGINE_RESCAN_MS 30000
#define SPOK_ENGINE_DRIVER_CHECK_MS 5000

struct spok_engine;

enum spok_engine_event {
	SPOK_ENGINE_CHANGED,  /* phase, reason or links changed (already stored) */
	SPOK_ENGINE_TRACKED,  /* the first watch event for the current attempt arrived */
	SPOK_ENGINE_DONE,     /* terminal and torn down: the engine no longer tracks it */
	/* A write to the store failed: the engine stops following the execution (DONE
	 * follows) rather than act beyond what is recorded. x->error_message (in memory only,
	 * not recorded) is a one-line message saying so (logged as an error instead when
	 * on_event is NULL); the row is taken over again by re-adoption ('spok reconcile',
	 * the daemon's rescan) once the store is writable. */
	SPOK_ENGINE_FAILED
};

typedef void (*spok_engine_cb)(void *data, enum spok_engine_event ev,
			       const struct spok_execution *x);
/* Fills *out (initialised by the engine with spok_task_init) with the task of x, e.g.
 * from x->task_source. Needed for new attempts and re-adoption. */
typedef int (*spok_engine_load_cb)(void *data, const struct spok_execution *x,
				   struct spok_task *out, struct spok_err *err);

struct spok_engine_opts {
	const char *cluster;                  /* backend name stored in the store; required */
	struct kube_client *client;           /* borrowed */
	struct spok_store *store;             /* borrowed */
	const struct spok_platform *platform; /* borrowed */
	spok_engine_load_cb load_task;        /* may be NULL: then adoption cannot recreate */
	void *load_data;
	spok_engine_cb on_event;              /* may be NULL; must not call spok_engine_close */
	void *event_data;
	bool keep_on_success;     /* keep the SparkApplication after SUCCEEDED */
	bool delete_failed;       /* delete failed attempts' objects (default: keep them) */
	uint64_t submitted_timeout_ms; /* stuck in ""/SUBMITTED; 0: 10 min */
	uint64_t tick_ms;              /* local checks; 0: 1000 */
	uint64_t backoff_ms;           /* first create retry wait (quota, unavailable); 0: 1000 */
	uint64_t backoff_max_ms;       /* cap; 0: 60000 */
	/* While a SparkApplication is SUBMITTED: how often its driver pod is read (one GET) for
	 * what the operator does not report (ErrImagePull, Unschedulable); 0:
	 * SPOK_ENGINE_DRIVER_CHECK_MS. */
	uint64_t driver_check_ms;
	long watch_timeout_s;          /* server-side watch timeout; <= 0: watch.h default */
	/* After spok_engine_adopt_all: how often the unfinished rows are listed again to take
	 * over those whose supervisor died; 0: SPOK_ENGINE_RESCAN_MS. */
	uint64_t rescan_ms;
	/* Fills spec.sparkVersion when the core leaves it "" (Flyte never sets it; CRDs that
	 * insist on a non-empty value, like deploy/crd, refuse ""). NULL: send as built. */
	const char *spark_version;
	/* Ship local files in a ConfigMap (the CLI, whose user owns them). false: refuse tasks
	 * with local paths (the daemon: a client's path names the daemon host's files). */
	bool ship_local_files;
	/* New submissions are direct (submission: direct): spok creates the conf ConfigMap, the
	 * driver pod and its Service itself and follows the pod (one watch per namespace on
	 * pods labelled SPOK_LABEL_EXECUTION). An adopted execution keeps the submission its
	 * row records. */
	bool direct;
	/* An execution submitted here keeps only what its status events need of the task (as an
	 * adopted one does) and its task is loaded again (load_task) for each new attempt: the
	 * daemon, whose stored task files do not change. false: the submitted task is kept. */
	bool reload_tasks;
};

struct spok_engine_stats {
	uint64_t watches;        /* watches started (one per namespace) */
	uint64_t watch_connects; /* summed over watches */
	uint64_t relists;
	uint64_t events;
	uint64_t creates;        /* create requests sent */
	uint64_t adopted_409;    /* creates answered 409 and adopted */
	uint64_t deletes;        /* delete requests sent */
	uint64_t quota_waits;    /* creates refused for quota */
	uint64_t store_writes;
	uint64_t store_commits;  /* transactions those writes (and submits' rows) took */
	uint64_t ticks;          /* engine ticks run */
	uint64_t tick_steps;     /* executions those ticks stepped (only due ones: timer heap) */
	uint64_t tick_ns;        /* time spent in ticks (rescans and abort checks included) */
	size_t active;           /* executions tracked now */
	size_t loose;            /* requests in flight that are not an attempt's own (old
	                          * attempts' deletes, the ConfigMaps' owner references) */
	size_t inflight;         /* followed executions with a request of theirs in flight (a
	                          * direct attempt's Service after its pod), or a write waiting
	                          * for its group commit */
};

int spok_engine_new(const struct spok_engine_opts *o, struct spok_engine **out,
		    struct spok_err *err);
/* Stops watches and the tick; pending calls finish (their results are dropped).
 * Never call it from inside on_event (or load_task): it frees the executions and watches
 * at once, and the engine code that invoked the callback goes on using them when the
 * callback returns (use after free). To stop when an event says so, note it in the
 * callback and close from outside the engine, e.g. from a uv_idle/uv_timer callback or
 * after spok_engine_idle() turns true in the caller's own loop step. */
void spok_engine_close(struct spok_engine *e);

/* Records a new execution of t in namespace ns (write-ahead) and starts attempt 0.
 * The row is written into the loop turn's group commit (see spok_engine_sync): it is
 * durable once that commits, at the latest before the loop next polls, and nothing is
 * created before; a commit that fails stops the execution (SPOK_ENGINE_FAILED, nothing
 * created). An error of the write itself is returned here, as are bad tasks. On success the engine takes t over (the caller's struct is left initialised and empty;
 * spok_task_free on it is still fine); on failure the caller keeps it. task_source is
 * stored for re-adoption (may be NULL). id_out (>= SPOK_EXEC_ID_LEN + 1 bytes) receives
 * the id. Bad tasks fail here (SPOK_EINVAL) and record nothing. */
int spok_engine_submit(struct spok_engine *e, struct spok_task *t, const char *ns,
		       const char *task_source, char *id_out, size_t id_len,
		       struct spok_err *err);
/* As spok_engine_submit, recording idempotency key key (may be NULL) in the write-ahead row:
 * a key already recorded fails with SPOK_ECONFLICT and creates nothing. */
int spok_engine_submit_keyed(struct spok_engine *e, struct spok_task *t, const char *ns,
			     const char *task_source, const char *key, char *id_out,
			     size_t id_len, struct spok_err *err);
/* As spok_engine_submit_keyed, also recording fallback (may be NULL) in the row's `fallback`:
 * why a task that asked to run warm runs here instead (the daemon's submit). */
int spok_engine_submit_noted(struct spok_engine *e, struct spok_task *t, const char *ns,
			     const char *task_source, const char *key, const char *fallback,
			     char *id_out, size_t id_len, struct spok_err *err);
/* Group commit: every row the engine writes during one loop turn (new executions, phases,
 * attempts) goes into one SQLite transaction, committed right after the I/O the turn
 * handled and before the loop polls again; what follows a write (a create, a teardown, the
 * SPOK_ENGINE_CHANGED event) waits for that commit. spok_engine_sync commits now, for a
 * caller that must not answer before its submit is durable (the daemon's API): 0 when the
 * last submit's row is durable, or the error that lost its batch (then every execution of
 * that batch has failed as above). */
int spok_engine_sync(struct spok_engine *e, struct spok_err *err);
/* Waiting for that commit instead of forcing it (the daemon's API answers a submit after the
 * loop turn's shared commit, not one COMMIT per request). struct spok_engine_wait is the
 * caller's (zeroed, done set; it must stay put until done fires or it is cancelled); the
 * fields after data are the engine's. */
struct spok_engine_wait;
typedef void (*spok_engine_wait_cb)(struct spok_engine_wait *w, int result,
				    const struct spok_err *err);
struct spok_engine_wait {
	spok_engine_wait_cb done;
	void *data;
	struct spok_engine *e;            /* while waiting, else NULL */
	uint64_t gen;
	struct spok_engine_wait *next, **pprev;
};
/* done fires exactly once, from the loop (never from inside this call), when every row
 * written to the store so far (the last submit's above all) is durable: result 0, err NULL;
 * or when their batch was lost: the error (the executions of that batch have failed and
 * nothing of theirs was created, as for spok_engine_sync). The commit is the one the loop
 * turn makes anyway (this arms it); spok_engine_sync and spok_engine_close tell the waiters
 * too. A closed engine: SPOK_EUNAVAIL, w not waiting. */
int spok_engine_wait_durable(struct spok_engine *e, struct spok_engine_wait *w,
			     struct spok_err *err);
/* w no longer waits: its done does not fire. Fine on a w that is not waiting. */
void spok_engine_wait_cancel(struct spok_engine_wait *w);
/* w waits (done has not fired and it was not cancelled). */
bool spok_engine_wait_pending(const struct spok_engine_wait *w);
/* Takes over one recorded execution of this cluster (non-terminal, or a retryable failure
 * with attempts left; anything else: SPOK_EINVAL), whoever its recorded supervisor is.
 * SPOK_ECONFLICT when another process claimed it between the read and the claim. */
int spok_engine_adopt(struct spok_engine *e, const char *id, struct spok_err *err);
/* Takes over every such execution of this cluster whose supervising process is gone
 * (exited, a zombie, or its pid reused: see common/pid.h) or is this one, and watches the
 * namespaces of finished ones whose objects should be gone so that leftovers are deleted.
 * *n (may be NULL) receives how many were adopted. From then on the engine keeps taking
 * over executions whose supervisor dies (engine tick, rescan_ms). */
int spok_engine_adopt_all(struct spok_engine *e, size_t *n, struct spok_err *err);
/* Same as spok_store_request_abort plus acting on it at once when tracked here, or when
 * no live process follows the execution (then this engine takes it over to abort it). */
int spok_engine_abort(struct spok_engine *e, const char *id, struct spok_err *err);

size_t spok_engine_active(const struct spok_engine *e);
/* New submissions are direct (opts.direct). */
bool spok_engine_direct(const struct spok_engine *e);
/* Nothing tracked, no cleanup DELETE in flight and every watched namespace listed once
 * (so leftovers of cut-short teardowns have been found): the caller may close. */
bool spok_engine_idle(const struct spok_engine *e);
/* The engine owes the cluster nothing: no delete in flight and no followed execution is
 * being aborted or torn down. A daemon that stops waits for this (bounded) so an abort or a
 * teardown it accepted is carried out, not left to the next process to find. */
bool spok_engine_settled(const struct spok_engine *e);
void spok_engine_stats(const struct spok_engine *e, struct spok_engine_stats *out);

/* Reads the files spok_ship_list names for t (relative paths against the directory of
 * t->source_path) into out, at most SPOK_SHIP_MAX_BYTES in all. SPOK_EINVAL with one line
 * naming the file when one cannot be read, is not a regular file, or the cap is passed
 * (nothing is kept then). Free with spok_ship_free. */
int spok_ship_read(const struct spok_task *t, struct spok_ship *out, struct spok_err *err);

/* Readies flytekit task t for a run on a cluster (spok.flyte-data, docs/CONFIG.md): values
 * become its inputs (inputs.pb at submit); its module (flytekit's task-module) is copied at
 * submit from python_path, or from the current folder when python_path is NULL and it is
 * there (else *note, heap, says the image must have it). A flytekit task without flyte-data,
 * or values / python_path for another task: SPOK_EINVAL, one line. */
int spok_engine_flyte_task(const struct spok_platform *p, struct spok_task *t,
			   const struct spok_strmap *values, const char *python_path, char **note,
			   struct spok_err *err);

/* True when x (a store row) still needs an engine: non-terminal, or RETRYABLE_FAILURE with
 * attempts left and no abort requested. */
bool spok_engine_needs_work(const struct spok_execution *x);

#endif
