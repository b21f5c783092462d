/* daemon.h - internal to src/server: the running daemon's state, shared by server.c
 * (lifecycle, clusters, idempotency), http.c (libmicrohttpd on the loop) and api.c.
 *
 * Ownership: struct srv_daemon owns everything it points to; it lives from spok_server_run's
 * start to its end. struct srv_reply owns body (heap) until http.c hands it to MHD. A struct
 * srv_req belongs to http.c (freed when MHD completes the request); work started with
 * srv_http_suspend owns itself and may use its srv_req only until it resumes or is cancelled.
 */
#ifndef SPOK_SERVER_DAEMON_H
#define SPOK_SERVER_DAEMON_H

#include <microhttpd.h>
#include <uv.h>

#include "backend/backend.h"
#include "common/buf.h"
#include "engine/engine.h"
#include "kube/client.h"
#include "server/internal.h"
#include "store/store.h"

#define SRV_PROBE_MS 2000
#define SRV_DRAIN_MAX_MS 10000
#define SRV_FIRST_PROBE_MAX_MS 5000
/* The store runs on the loop: a statement waits at most this long for another process's
 * lock, then the request answers 503 with Retry-After (SRV_STORE_RETRY_S). */
#define SRV_STORE_BUSY_MS 250
#define SRV_STORE_RETRY_S 1
/* Retention (spok.server.retention) on the loop: one batch of at most SRV_GC_BATCH rows per
 * turn, the next batch SRV_GC_NEXT_MS later while more are due (requests run in between),
 * then a new pass every SRV_GC_PERIOD_MS. The first pass starts SRV_GC_FIRST_MS after start. */
#define SRV_GC_BATCH 100
#define SRV_GC_NEXT_MS 20
#define SRV_GC_PERIOD_MS (10 * 60 * 1000)
#define SRV_GC_FIRST_MS 1000

enum srv_health { SRV_UNKNOWN = 0, SRV_UP, SRV_DOWN };

struct srv_daemon;

struct srv_cluster {
	struct srv_daemon *d;
	const struct srv_cluster_cfg *cfg;   /* borrowed from d->cfg */
	struct kube_client *client;
	struct spok_engine *engine;
	enum srv_health health;
	char health_msg[256];
	bool probing;
	bool timer_open;
	uv_timer_t probe;
	uint64_t probes, probe_failures;
};

enum srv_route_id {
	SRV_R_DASHBOARD, SRV_R_HEALTHZ, SRV_R_METRICS, SRV_R_SUBMIT, SRV_R_LIST, SRV_R_GET,
	SRV_R_ABORT, SRV_R_LOGS, SRV_R_POOLS, SRV_R_SESSIONS, SRV_R_SESSION_CREATE, SRV_R_SESSION,
	SRV_R_SESSION_STOP, SRV_R_SESSION_URL, SRV_R_OTHER, SRV_R_COUNT
};

struct srv_metrics {
	uint64_t http_by_code[600];
	uint64_t conn_deadline_closed; /* connections closed: headers/body not in time */
	uint64_t framing_refused;    /* ambiguous Content-Length / Transfer-Encoding */
	uint64_t log_fetches;        /* cluster driver-log fetches started */
	uint64_t log_fetches_cancelled; /* ... stopped because the client left or shutdown */
	uint64_t log_fetches_active; /* ... in flight now (their connections are suspended) */
	uint64_t api[SRV_R_COUNT];
	uint64_t submissions;        /* new executions created through the API */
	uint64_t submission_replays; /* POSTs answered from an idempotency key */
	uint64_t aborts;
	uint64_t auth_failures;
};

/* One libmicrohttpd daemon on the loop: the API listener or the health listener. */
struct srv_listener {
	struct srv_daemon *d;
	struct MHD_Daemon *mhd;
	uv_poll_t poll;             /* on MHD's epoll fd */
	uv_timer_t timer;           /* MHD_get_timeout */
	bool health;                /* serves only /healthz */
	uint16_t port;
	unsigned header_timeout_s;
};

/* http.c: one open connection, for the header/body deadlines (MHD's own timeout is an idle
 * timeout, which a client trickling a byte at a time never reaches). */
struct srv_conn;

struct srv_daemon {
	uv_loop_t loop;
	struct srv_config cfg;
	const struct spok_platform *platform;
	char *data_dir;
	char *tasks_dir;            /* <data dir>/server/tasks: request task sources */
	struct spok_store *store;
	struct srv_cluster *clusters;
	size_t nclusters;
	struct spok_backend_local_host *local; /* spok.server.local-runs, else NULL */
	struct srv_listener api, health;
	struct srv_conn *conns;     /* http.c: every open connection of both listeners */
	uv_timer_t sweep;           /* http.c: closes connections past their deadline */
	bool sweep_open;
	uv_timer_t drain;
	uv_timer_t gc;              /* retention batches, when spok.server.retention is set */
	bool gc_open;
	uint64_t gc_pass_rows;      /* rows this retention pass deleted so far */
	uv_signal_t sig[3];         /* SIGTERM, SIGINT, SIGHUP */
	bool stopping;
	int64_t drain_deadline_ms;
	int64_t started_ms;
	struct srv_metrics m;
	struct srv_req *suspended;  /* http.c: requests waiting for async work (linked list) */
	struct spok_strv unsynced;  /* task sources written but not synced yet (server.c) */
	struct srv_progress *progress; /* progress.c: readers of running executions' Spark UIs */
	void *ext;                  /* the extra front end (spok_server_opts.ext_start), or NULL */
	void (*ext_stop)(void *ext);
};

struct srv_reply {
	unsigned status;            /* 0 after srv_http_suspend: no answer yet */
	char *body;                 /* heap; NULL: empty */
	size_t len;                 /* body length; 0: strlen(body) (bodies may hold NULs) */
	const char *content_type;   /* NULL: application/json */
	bool www_authenticate;
	const char *allow;          /* Allow header for 405, or NULL */
	bool close;                 /* Connection: close (the rest of the stream is not trusted) */
	unsigned retry_after_s;     /* Retry-After header when > 0 */
};

/* progress.c: the `progress` of a running execution for GET /executions/{id}: NULL when x
 * has finished (no key), JSON null while nothing was read (the first ask starts a reader),
 * else spok_progress_json of the last read. Never waits. New reference. */
#define SRV_PROGRESS_MAX 64          /* executions read at once */
#define SRV_PROGRESS_KEEP_MS 15000   /* a reader stops this long after the last ask */
#define SRV_PROGRESS_POLL_MS 1000    /* its reads of the UI */
json_t *srv_progress_of(struct srv_daemon *d, const struct spok_execution *x);
/* Stops every reader (drain, shutdown); before the clusters' clients close. */
void srv_progress_stop(struct srv_daemon *d);
/* One HTTP request (http.c). Opaque outside http.c; lives until MHD completes the request. */
struct srv_req;

/* api.c: answers one request. body is the whole (capped) request body. A handler that can
 * only answer later calls srv_http_suspend and leaves out->status 0. */
void srv_api_handle(struct srv_daemon *d, struct srv_req *rq, struct MHD_Connection *conn,
		    const char *method, const char *url, const struct spok_buf *body,
		    struct srv_reply *out);
/* api.c: a submission body (POST /api/v1/executions). The strings point into doc. */
struct srv_submit {
	json_t *doc;                /* the parsed body */
	const char *form;           /* which field held the task: task, taskYaml, taskSpecBase64 */
	char *text;                 /* the task source bytes (heap; stored as the task file) */
	size_t len;
	const char *ext;            /* "yaml" or "pb" */
	const char *cluster, *ns, *key; /* optional fields, or NULL */
};
/* Parses the JSON and its fields; false: r holds a 400. s is filled either way: always
 * srv_submit_free it. */
bool srv_submit_read(const char *body, size_t len, struct srv_submit *s, struct srv_reply *r);
/* Parses the task s holds into t (caller frees t either way); false: r holds a 400. */
bool srv_submit_parse(const struct srv_submit *s, struct spok_task *t, struct srv_reply *r);
void srv_submit_free(struct srv_submit *s);

/* api.c: GET /healthz (also served by the health listener). */
void srv_api_healthz(struct srv_daemon *d, struct srv_reply *r);
/* api.c: a JSON error reply {"error": {"code", "message"}}. */
void srv_reply_error(struct srv_reply *r, unsigned status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* http.c: asynchronous answers (MHD suspend/resume).
 *
 * srv_http_suspend (only from inside srv_api_handle) suspends rq's connection: MHD stops
 * reading it and the loop keeps running. The work (e.g. a kube stream) later calls
 * srv_http_resume exactly once with the answer, which takes r->body; after that the work
 * must forget rq. If the client disconnects first, or the daemon shuts down, http.c calls
 * cancel(work) instead (never both): cancel must stop the work at once so that no callback
 * of it fires afterwards, release it, and never call srv_http_resume. cancel runs from the
 * loop, never from inside the work's own callbacks. */
typedef void (*srv_cancel_cb)(void *work);
void srv_http_suspend(struct srv_req *rq, srv_cancel_cb cancel, void *work);
void srv_http_resume(struct srv_req *rq, struct srv_reply *r);
/* Cancels every suspended request, answering 503 (shutdown); idempotent. */
void srv_http_cancel_all(struct srv_daemon *d);

/* Starts the API listener and, when configured, the health listener. */
int srv_http_start(struct srv_daemon *d, struct spok_err *err);
/* Stops accepting connections; in-flight requests continue. */
void srv_http_quiesce(struct srv_daemon *d);
unsigned srv_http_connections(struct srv_daemon *d);
void srv_http_stop(struct srv_daemon *d);

/* server.c: the execution created for an idempotency key (64 hex digits of
 * sha256(token name, key)): *id is heap (caller frees), or NULL when the key is new. */
int srv_idem_find(struct srv_daemon *d, const char *hex, char **id, struct spok_err *err);
/* server.c: a cluster by name; every cluster's health for routing. */
struct srv_cluster *srv_cluster_by_name(struct srv_daemon *d, const char *name);
/* server.c: the ops of x's backend and their context on the daemon's loop (shared: no op
 * waits), with the cluster's client and engine when x runs on a configured cluster. */
const struct spok_backend_ops *srv_backend(struct srv_daemon *d, const struct spok_execution *x,
					   struct spok_backend_ctx *ctx);
void srv_cluster_states(struct srv_daemon *d, struct srv_cluster_state *out);
/* Writes the request's task source durably under tasks_dir; *path is heap. batched: the row
 * naming it goes into the store's open group commit, before whose COMMIT it is synced (with
 * the turn's other task sources); else it is synced now. */
int srv_write_task_source(struct srv_daemon *d, const char *stem, const char *ext,
			  const void *data, size_t len, bool batched, char **path,
			  struct spok_err *err);
/* Removes a task source whose row was not written (its submission failed before the row). */
void srv_drop_task_source(struct srv_daemon *d, const char *path);
/* Loads the task of a recorded execution from its task_source (job file or protobuf). */
int srv_load_task(void *data, const struct spok_execution *x, struct spok_task *out,
		  struct spok_err *err);

/* submit.c: the one submission path of every front end (HTTP API, gRPC connector), given
 * a task the front end parsed already; the engine takes t over on success. In order: with
 * key_hex (64 hex digits), an execution recorded under that key is answered instead
 * (out->replayed; nothing created); the token's rights on the task's project
 * (SPOK_EFORBIDDEN); the namespace (the request's or spok.namespace-template's, a DNS-1123
 * label the token may use: SPOK_EINVAL / SPOK_EFORBIDDEN); the cluster (the named one, or
 * routing: out->no_route when no rule or healthy cluster takes it); the task source
 * (data, len) written durably as <tasks_dir>/{k-<key>|r-<random>}.<ext>; the engine.
 * out->id is heap (caller frees) on success. */
struct srv_submission {
	const char *key_hex;        /* or NULL */
	const char *ns;             /* or NULL: spok.namespace-template */
	const char *cluster;        /* or NULL: routing rules */
	const void *data;           /* the task source as received */
	size_t len;
	const char *ext;            /* task source file extension; srv_load_task reads it back */
	const char *via;            /* front end name for the log line */
	/* The front end can answer later (the HTTP API, the connector's CreateTask), or NULL:
	 * see out->pending. Zeroed, with done and data set by the front end. */
	struct spok_engine_wait *wait;
};
struct srv_submitted {
	char *id;
	bool replayed;
	/* With s->wait: SPOK_OK came back before the new row is durable (never for a replay,
	 * which reads its row, committing it). Nothing may be answered with the id until
	 * s->wait->done fires; then srv_submit_settle says what to answer. */
	bool pending;
	char *path;                 /* pending new execution: its task source, removed if lost */
	char *note;                 /* pending new execution: the log line once durable */
	bool no_route;              /* the error is "no cluster can take it" (HTTP 422) */
	/* The task asked to run warm (its sparkConf spok.warm, or a rule of spok.warm-rules) and
	 * runs as a normal run: why (heap), else NULL. */
	char *fallback;
	char *session;              /* it runs warm on this session (heap), else NULL */
};
int srv_submit_task(struct srv_daemon *d, const struct srv_token *tok,
		    const struct srv_submission *s, struct spok_task *t, struct srv_submitted *out,
		    struct spok_err *err);
/* A pending submission's commit is known (its wait's done: result, why): SPOK_OK, counted
 * and logged, when the row is durable; else the error to answer (one line, err) and its task
 * source is removed (nothing was created). Frees out's pending fields, not id. */
int srv_submit_settle(struct srv_daemon *d, struct srv_submitted *out, int result,
		      const struct spok_err *why, struct spok_err *err);
/* Frees what srv_submit_task put in out. */
void srv_submitted_free(struct srv_submitted *out);

/* submit.c: task sources written by the connector are its CreateTaskRequest bytes
 * (<key>.ctr): they carry Flyte's task-execution identity, which restarts need again. */
#define SRV_CONNECTOR_EXT "ctr"
int srv_load_connector_task(const char *data, size_t len, const char *path,
			    struct spok_task *out, struct spok_err *err);

/* logs.c: the driver log of an execution, the one way every front end gets it (HTTP GET
 * .../logs, the connector's GetTaskLogs), through the execution's backend (src/backend) on
 * the loop: a local run's log file (its tail), or a cluster execution's driver pod log
 * (tailLines and limitBytes passed to the API server), each a cancellable fetch. */
#define SRV_LOG_LIMIT_MAX ((size_t)1 << 20)  /* bytes of log per answer: default and maximum */
#define SRV_LOG_TAIL_DEFAULT 1000ul          /* lines */
#define SRV_LOG_TAIL_MAX 100000ul
struct srv_log_result {
	int code;                   /* 0, SPOK_ENOTFOUND (no such pod/SparkApplication),
				     * SPOK_EUNAVAIL (cluster down), SPOK_ETIMEOUT, or another
				     * code: the API server refused (http_status) */
	long http_status;           /* the API server's answer, 0 if none */
	const char *message;        /* the error's one line naming the object (borrowed) */
	struct spok_buf *log;       /* code 0: the log, maybe empty; the callback may take its
				     * data (spok_buf_detach) */
};
typedef void (*srv_log_cb)(void *data, const struct srv_log_result *res);
struct srv_log_opts {
	unsigned long tail_lines;   /* the last N lines (as the API server's tailLines) */
	size_t limit_bytes;         /* 1 .. SRV_LOG_LIMIT_MAX */
	srv_log_cb done;
	void *data;
};
struct srv_log_fetch;
/* Starts getting x's driver log (x is borrowed). SPOK_OK: *out is the fetch; o->done fires
 * exactly once, from the loop (never from inside this call), unless srv_log_cancel comes
 * first; the fetch frees itself after done returns. Errors (nothing started):
 * SPOK_ENOTFOUND (no SparkApplication yet, no log), SPOK_EUNAVAIL (shutting down), others
 * (the request could not start), each with a one-line err. */
int srv_log_get(struct srv_daemon *d, const struct spok_execution *x,
		const struct srv_log_opts *o, struct srv_log_fetch **out, struct spok_err *err);
/* Stops a fetch: no callback fires afterwards; frees it. From outside its callbacks. */
void srv_log_cancel(struct srv_log_fetch *f);
/* GET .../logs: answers r at once or suspends rq until the fetch answers (http.c cancels it
 * when the client leaves or the daemon stops). */
void srv_logs_http(struct srv_daemon *d, struct srv_req *rq, const struct spok_execution *x,
		   unsigned long tail_lines, size_t limit_bytes, struct srv_reply *r);

#endif
