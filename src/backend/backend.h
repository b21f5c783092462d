/* backend.h - the one interface between the front ends (src/cli, src/server) and the places
 * an execution runs. Every execution row names its backend ("local", or the name of a
 * Kubernetes cluster); spok_backend_for maps that name to an ops table, and a front end only
 * ever calls through the table: it never tests the name itself. A new backend is one file
 * set here plus one line in spok_backend_for.
 *
 * The ops act on a caller-provided context (struct spok_backend_ctx): a borrowed libuv loop,
 * the store, the platform config and, for a cluster, the kube client and (when one follows
 * that cluster) the engine. Asynchronous ops (logs) deliver through callbacks on that loop.
 * Ops marked "runs the loop" drive ctx->loop until they are done; a daemon sets
 * ctx->shared_loop, and then every op returns without waiting (see each op).
 *
 * Ownership: the ctx and everything it points to are borrowed for the call (for logs: until
 * the done callback or spok_backend_log_cancel). json_t results are new references the
 * caller decrefs; heap strings are the caller's to free.
 */
#ifndef SPOK_BACKEND_BACKEND_H
#define SPOK_BACKEND_BACKEND_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/err.h"
#include "engine/engine.h"
#include "model/model.h"
#include "store/store.h"

struct kube_client;
struct spok_engine;
struct spok_backend_local_host;

/* Loads the task of a recorded execution (as spok_engine_load_cb). */
typedef int (*spok_backend_load_cb)(void *data, const struct spok_execution *x,
				    struct spok_task *out, struct spok_err *err);

struct spok_backend_ctx {
	uv_loop_t *loop;                      /* borrowed; required for logs and cluster ops */
	struct spok_store *store;             /* borrowed */
	const struct spok_platform *platform; /* borrowed */
	struct kube_client *client;           /* the execution's cluster; NULL for local */
	struct spok_engine *engine;           /* an engine following that cluster, or NULL */
	spok_backend_load_cb load_task;       /* for live status links and adoption; may be NULL */
	void *load_data;
	/* The loop serves others (the daemon): ops never wait, never signal processes of other
	 * users, and leave acting on an abort to whoever supervises the run. */
	bool shared_loop;
	uint64_t grace_ms;                    /* local abort: TERM -> KILL; 0: the default */
	/* Local runs hosted on ctx->loop (a daemon with spok.server.local-runs), or NULL: the
	 * local backend's submit refuses. */
	struct spok_backend_local_host *local;
	bool ship_local_files;                /* an engine started here may ship the user's files */
	/* submit only: run the task warm (local backend, hosted: see struct spok_backend_warm),
	 * or NULL. */
	const struct spok_backend_warm *warm;
	/* submit only: the task asked to run warm and runs as a normal run instead: why (the
	 * row's `fallback`), or NULL. */
	const char *fallback;
	/* submit only: the caller can answer later (the daemon's HTTP API), or NULL. A cluster's
	 * submit then returns before its row is durable, with *wait waiting for the loop turn's
	 * group commit (spok_engine_wait_durable: wait->done fires once; until then nothing
	 * may be answered with the id). A submit that returns with *wait not waiting
	 * (spok_engine_wait_pending false: a local run, or any error) is settled on return. */
	struct spok_engine_wait *wait;
};

/* A warm run hosted on ctx->loop (the daemon, spok.server.local-runs): the job's Python
 * driver runs as a Spark Connect client of session `session` of pool `pool` (spok.pools of
 * ctx->platform; a local or a Kubernetes pool) instead of under spark-submit, with src/local's
 * phases, log, timeout, abort and retries. Before each attempt the run makes the session run
 * without waiting on the loop (spok_connect_ensure_step, asked again on a timer while it
 * starts); a session that cannot start for the first attempt makes it a normal local run
 * (the row's `fallback` says why). Every string is copied. */
struct spok_backend_warm {
	const char *pool;
	const char *session;
	const char *project;   /* a session this run starts belongs to it (NULL: none, the CLI's) */
	const char *user;      /* the user_id of the run's Connect client */
};

/* ---- logs ---- */

struct spok_backend_log;

/* A chunk of log bytes; false stops the transfer. */
typedef bool (*spok_backend_chunk_cb)(void *data, const char *p, size_t n);

struct spok_backend_log_result {
	int code;              /* 0 or SPOK_E*: message is one line naming what is missing */
	long http_status;      /* cluster logs: the API server's answer, else 0 */
	uint64_t bytes;        /* bytes delivered to the chunk callback */
	const char *message;   /* "" or the error line; borrowed for the callback */
	const char *pod;       /* cluster logs: the pod read (or tried), else NULL; borrowed */
};
typedef void (*spok_backend_log_done_cb)(void *data, const struct spok_backend_log_result *r);

struct spok_backend_log_opts {
	bool follow;               /* until the execution (or the container) ends */
	unsigned executor;         /* 0: the driver; N: executor N (cluster runs only) */
	long tail_lines;           /* < 0: all; 0: none (as the API server's tailLines) */
	size_t limit_bytes;        /* 0: no cap */
	long timeout_ms;           /* each cluster GET; 0: none */
	spok_backend_chunk_cb chunk;
	spok_backend_log_done_cb done;
	void *data;
};

/* Stops a fetch from outside its callbacks; nothing fires afterwards. NULL is fine. A fetch
 * frees itself right after its done callback returns. */
void spok_backend_log_cancel(struct spok_backend_log *l);

/* ---- the ops table ---- */

struct spok_backend_ops {
	const char *kind;      /* "local" or "kubernetes" */
	bool cluster;          /* the row's backend names a Kubernetes cluster */
	/* Records a new execution of t in namespace ns and starts it; id_out (at least
	 * SPOK_EXEC_ID_LEN + 1 bytes) gets its id; task_source (may be NULL) is stored for
	 * re-adoption; key (may be NULL) is the row's idempotency key, unique in the store (a
	 * used key: SPOK_ECONFLICT, nothing created). On success the backend has taken t over (the caller's struct is left
	 * initialised and empty); bad tasks fail here (SPOK_EINVAL) and record nothing.
	 * Cluster: through ctx->engine (required). Local: on ctx->loop through ctx->local (NULL:
	 * SPOK_EINVAL, this front end does not host local runs; `spok run` calls src/local's
	 * blocking supervisor itself); ns is not used. */
	int (*submit)(struct spok_backend_ctx *c, struct spok_task *t, const char *ns,
		      const char *task_source, const char *key, char *id_out, size_t id_len,
		      struct spok_err *err);
	/* Still needs a supervisor: for a cluster, a retryable failure with attempts left too. */
	bool (*needs_work)(const struct spok_execution *x);
	/* Whether a live process follows x now (its recorded supervisor runs). */
	bool (*supervised)(const struct spok_execution *x);
	/* A reader's fix-up of an unfinished row whose supervisor died (local: records how the
	 * run ended; *x is replaced). 1 when it changed x, 0 nothing to do, else an error. */
	int (*settle)(struct spok_backend_ctx *c, struct spok_execution *x, struct spok_err *err);
	/* Requests the stop of x and acts on it: with ctx->engine or ctx->shared_loop at once
	 * (the engine or the run's supervisor finishes it); otherwise runs the loop until the
	 * run is stopped (local: TERM, KILL after grace_ms; cluster: the object is deleted). */
	int (*abort)(struct spok_backend_ctx *c, const struct spok_execution *x, struct spok_err *err);
	/* One live read, never written to the store: *out NULL when there is nothing beyond
	 * the row (local runs; a cluster run with no SparkApplication recorded yet), else {"found", "phase", "recorded", "reason", "app_state",
	 * "spark_app_id", "ui_url", "links"} ("found" false: the cluster has no such object;
	 * absent values null). Runs the loop. */
	int (*live)(struct spok_backend_ctx *c, const struct spok_execution *x, json_t **out,
		    struct spok_err *err);
	/* Starts a log fetch; on success *out (may be NULL when not wanted) is the handle and
	 * done fires exactly once from the loop, unless cancelled first. */
	int (*logs)(struct spok_backend_ctx *c, const struct spok_execution *x,
		    const struct spok_backend_log_opts *o, struct spok_backend_log **out,
		    struct spok_err *err);
	/* The links recorded for x: a JSON array of {name, uri, kind} (new reference), or NULL. */
	json_t *(*links)(const struct spok_execution *x);
};

extern const struct spok_backend_ops spok_backend_local;
extern const struct spok_backend_ops spok_backend_kube;

/* The ops of an execution's backend column: NULL and "local" are this machine, any other
 * name is a Kubernetes cluster. Never NULL. */
const struct spok_backend_ops *spok_backend_for(const char *backend);

/* ---- local runs hosted on a borrowed loop (the daemon) ----
 * The host keeps each run it started (the task, the row, src/local's run) until the run's end
 * is recorded. loop, st and p are borrowed for the host's life; data_dir is copied. */
struct spok_backend_local_host *spok_backend_local_host_new(uv_loop_t *loop,
							    struct spok_store *st,
							    const struct spok_platform *p,
							    const char *data_dir);
/* Runs not ended yet. */
size_t spok_backend_local_host_active(const struct spok_backend_local_host *h);
/* Stops every run as ABORTED with reason why (static string; TERM, KILL after the grace);
 * a second call KILLs at once. Their ends are recorded as they come (watch _active). */
void spok_backend_local_host_stop(struct spok_backend_local_host *h, const char *why);
/* Only when no run is active. NULL is fine. */
void spok_backend_local_host_free(struct spok_backend_local_host *h);

/* ---- Kubernetes pieces both front ends need ---- */

/* The driver pod of a SparkApplication (the one rule): status.driverInfo.podName, else the
 * operator's default "<resource_name>-driver". app may be NULL (object not found). Heap. */
char *spok_backend_driver_pod(const json_t *app, const char *resource_name);

/* Where a running SparkApplication's Spark UI is reached through the API server (the one
 * rule `spok ui` and progress readers follow): the operator's UI Service named in
 * status.driverInfo (webUIServiceName, webUIPort), or else the driver pod's own proxy at
 * spark.ui.port (sparkConf; default 4040). Owned strings (spok_backend_ui_free). */
struct spok_backend_ui {
	char *service;       /* webUIServiceName, else the operator's default "<app>-ui-svc" */
	bool service_named;  /* the status named it (else it may not exist) */
	long service_port;   /* webUIPort; 0 when the status gives none */
	char *pod;           /* spok_backend_driver_pod */
	long pod_port;
};
/* Reads app (a SparkApplication). Names that are not DNS labels: SPOK_EAPI naming the field. */
int spok_backend_ui_of(const json_t *app, const char *resource_name, struct spok_backend_ui *out,
		       struct spok_err *err);
/* Direct submission: reads the driver pod spok created for resource_name. The UI is its
 * headless Service (spok_direct_service_name; service_named) at the pod's spark-ui container
 * port (else 4040), or the pod itself at that port. */
int spok_backend_ui_of_pod(const json_t *pod, const char *resource_name,
			   struct spok_backend_ui *out, struct spok_err *err);
void spok_backend_ui_free(struct spok_backend_ui *u);
/* The proxy prefix without a round trip (kube_service_proxy_prefix / kube_pod_proxy_prefix):
 * the named Service with its port, else the driver pod. NULL when none is valid. Heap. */
char *spok_backend_ui_prefix(const struct spok_backend_ui *u, const char *ns);

/* Where the last `lines` lines of data[0..len) start (a final newline ends the last line,
 * it does not start one); 0 lines start at len. Like the API server's tailLines, for files. */
size_t spok_backend_tail_lines(const char *data, size_t len, unsigned long lines);

#define SPOK_BACKEND_DRIVER_CONTAINER "spark-kubernetes-driver"
#define SPOK_BACKEND_EXECUTOR_CONTAINER "spark-kubernetes-executor"

#endif
