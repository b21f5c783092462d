/* local.h - run a task on this machine with real Apache Spark (spark-submit in local mode).
 *
 * The runner turns a struct spok_task into a `spark-submit --master local[N]` argv (never a
 * shell), spawns it under libuv in its own session/process group, pipes its output to a
 * per-attempt log file (and the terminal), and records everything in the store: phase,
 * reason, exit code, pid/pgid + process start time, Spark UI URL, Spark app id, event log
 * and history-server link. Retries run as new attempts; the task timeout aborts the run as
 * TIMED_OUT; SIGHUP/SIGINT/SIGTERM/SIGQUIT to spok or `spok abort` from another process abort
 * it (TERM to the group, KILL after a grace period; a second signal KILLs at once) as ABORTED
 * with a reason naming the signal. SIGPIPE is ignored while a run is supervised: a closed
 * stdout/stderr (`spok run job.yaml | head -1`) only stops the echo, the run goes on.
 *
 * When spok dies: the submitting process holds an exclusive flock on
 * <run dir>/supervisor.lock from before the row exists until the end is recorded; the kernel
 * drops it however the process dies (SIGKILL included), so a free lock means "no supervisor"
 * with no doubt about reused pids. Readers (`spok list/status/logs -f/abort`) call
 * spok_local_settle on unfinished local rows. An attempt's end is written to
 * <run dir>/outcome.json (space reserved when the attempt starts, synced) before the store; a
 * store write that still fails after SPOK_LOCAL_COMMIT_RETRY_MS leaves that file for the
 * next reader to record.
 *
 * Where things come from:
 * - spark-submit: $SPARK_HOME/bin/spark-submit, else <venv>/bin/spark-submit (pyspark's own),
 *   else spark-submit on PATH. <venv> is $SPOK_VENV, else the build's ${SPOK_CACHE_DIR}/venv.
 * - SPARK_HOME for the children: $SPARK_HOME, else <venv>/lib/python3.N/site-packages/pyspark
 *   (set explicitly so pyspark's scripts need not find it with whatever python3 is on PATH).
 * - Python for PySpark: <venv>/bin/python, else $PYSPARK_PYTHON, else python3.
 * - master: opts->master, else "local[*]" (all cores of this machine).
 * - conf: the platform's spark-config-default, then the task's sparkConf, then hadoopConf as
 *   spark.hadoop.*, minus keys that only mean something on Kubernetes (spark.kubernetes.*,
 *   spark.master, spark.submit.deployMode), plus spok's local keys: event log into
 *   <data dir>/spark-events, spark.ui.port = a free loopback port, driver bound to 127.0.0.1.
 *   All of it reaches spark-submit through a 0600 properties file in the run dir, not argv.
 * - main file: relative paths resolve against the job file's directory; "local://" is
 *   stripped; flytekit's in-image entrypoint (any ".../bin/entrypoint.py" that does not exist
 *   here, e.g. local:///opt/venv/bin/entrypoint.py) maps to <venv>/bin/entrypoint.py.
 *
 * flytekit tasks (origin SPOK_ORIGIN_FLYTE): inputs from opts->inputs are encoded into
 * <run dir>/inputs.pb, container args get {{.Input}} -> that file, {{.OutputPrefix}} ->
 * <run dir>/outputs/<attempt>, {{.RawOutputDataPrefix}} -> <run dir>/raw, checkpoints under
 * <run dir>/raw/_flytecheckpoints; afterwards outputs.pb is decoded into the store (JSON) or
 * error.pb turns the attempt into a failure with its message.
 *
 * Ownership: every pointer in the opts is borrowed for the duration of the call. Results go
 * to the store; struct spok_execution out-params follow store.h (caller frees).
 */
#ifndef SPOK_LOCAL_LOCAL_H
#define SPOK_LOCAL_LOCAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "common/err.h"
#include "common/pid.h"
#include "common/strmap.h"
#include "common/strv.h"
#include "model/model.h"
#include "store/store.h"

#define SPOK_LOCAL_GRACE_MS 10000
#define SPOK_LOCAL_SETTLE_GRACE_MS 3000     /* a reader ending a dead run's group: TERM -> KILL */
#define SPOK_LOCAL_COMMIT_RETRY_MS 15000    /* a supervisor retries its final store write */
#define SPOK_LOCAL_OUTCOME_RESERVE ((size_t)64 << 10) /* bytes reserved for outcome.json */
#define SPOK_HISTORY_PORT 18080
#define SPOK_LOCAL_GLUE_MS 15000         /* a warm run's interrupt of its session, at most
                                          * (an abort ends it at once) */

/* A warm run (`spok run --warm`): the job's Python driver code runs as a Spark Connect client
 * of a warm server (src/connect) instead of under spark-submit. SPARK_REMOTE is remote plus
 * ";session_id=<spok_local_warm_session_id of the attempt>", so each attempt is its own
 * server-side session (temp views, conf, operations) and an abort interrupts only its own
 * operations. A warm attempt that fails with Connect's "not supported" error
 * (spok_local_warm_log_reason) is followed by a normal local attempt (spark-submit) that does
 * not count against retries; the row's `fallback` says why. */
struct spok_local_warm {
	const char *session;  /* the session's name (recorded in the row's `session`) */
	const char *remote;   /* "sc://localhost:PORT/;user_id=USER" (spok_connect_client) */
	const char *token;    /* the client's SPARK_CONNECT_AUTHENTICATE_TOKEN, or NULL (a secret:
	                       * the environment only, never argv, logs or the store) */
	const char *ui_url;   /* the server's Spark UI (the run's UI link) */
	/* The session's server (pid + start time; pid 0: unknown). A warm attempt whose server
	 * ends fails at once, RETRYABLE, instead of waiting out the client's reconnects (pyspark
	 * retries an unreachable server for minutes). */
	struct spok_proc_id server;
	/* The session row's generation the server belongs to (0: unknown): a row that is no
	 * longer RUNNING in it fails the attempt the same way (a Kubernetes server has no pid). */
	int64_t generation;
	/* Called before every warm attempt (NULL: none): makes the session's server run,
	 * restarting one that died, and updates remote, token, ui_url, server and generation of
	 * this struct (the caller owns it and its strings). 0: it runs. SPOK_LOCAL_ENSURE_PENDING:
	 * it is on its way; the runner asks again every SPOK_LOCAL_ENSURE_POLL_MS on its loop
	 * (an abort still stops the run meanwhile), for at most ensure_wait_ms. An error (err
	 * says why): the attempt fails RETRYABLE with err's reason. The CLI's may block (its own
	 * loop) and never answers pending; a daemon's must not block (its loop is shared). */
	int (*ensure)(void *arg, struct spok_store *st, struct spok_err *err);
	void *ensure_arg;
	uint64_t ensure_wait_ms; /* pending at most this long; 0: SPOK_LOCAL_ENSURE_WAIT_MS */
	/* When the ensure before the first warm attempt fails (the session could not start),
	 * run the job as a normal local run instead (recorded in the row's fallback), as `spok
	 * run --warm` does when its session cannot start before the submit. The daemon sets it:
	 * its run is submitted before the session runs. */
	bool fallback_on_start;
};

#define SPOK_LOCAL_ENSURE_PENDING 1      /* ensure: the session is on its way; ask again */
#define SPOK_LOCAL_ENSURE_POLL_MS 500
#define SPOK_LOCAL_ENSURE_WAIT_MS ((uint64_t)200 * 1000)
/* A warm attempt that exits non-zero while its server is going away (the client saw the
 * connection drop before the server's end was visible): its server is looked at again every
 * SPOK_LOCAL_GONE_STEP_MS, SPOK_LOCAL_GONE_STEPS times, before the failure counts as the
 * job's own. */
#define SPOK_LOCAL_GONE_STEP_MS 250
#define SPOK_LOCAL_GONE_STEPS 6

struct spok_local_opts {
	const char *data_dir;        /* resolved data dir (spok_data_dir) */
	const char *master;          /* NULL: "local[*]" */
	const char *python_path;     /* extra PYTHONPATH entry (flytekit: the task's code); NULL: cwd */
	const struct spok_strmap *inputs; /* typed task inputs name -> text (flytekit tasks) */
	bool quiet;                  /* do not echo Spark's log (stderr); the job's stdout still shows */
	uint64_t grace_ms;           /* TERM -> KILL; 0: SPOK_LOCAL_GRACE_MS */
	const char *idempotency_key; /* spok_local_submit: the row's key (unique), or NULL */
	const struct spok_local_warm *warm; /* run as a Spark Connect client, or NULL */
	const char *fallback;        /* spok_local_submit: asked warm but run normally: why */
	FILE *msg;                   /* progress lines ("Spark UI: ..."), or NULL for none (and then
	                              * nothing of the job is echoed either: detached runs) */
	/* A watcher of the run (`spok run`'s live progress), or NULL. spok_local_supervise calls
	 * watch(watch_arg, loop, x) on the run's loop once the run started and watch(watch_arg,
	 * NULL, x) when it ended, before the loop winds down (the watcher closes its handles then);
	 * x is the live row (phase, ui_url change in place). before_output(watch_arg) is called
	 * before anything is written to the terminal (job output, progress lines), so a live line
	 * there can be cleared first. */
	void (*watch)(void *arg, uv_loop_t *loop, const struct spok_execution *x);
	void (*before_output)(void *arg);
	void *watch_arg;
};

/* Where Spark and Python live. Strings are heap (spok_spark_env_free). */
struct spok_spark_env {
	char *spark_submit;
	char *spark_class;
	char *python;   /* may be NULL: let Spark pick */
	char *spark_home; /* $SPARK_HOME, or the venv's pyspark package dir; may be NULL */
	char *venv;     /* may be NULL */
};
int spok_spark_env_find(struct spok_spark_env *out, struct spok_err *err);
void spok_spark_env_free(struct spok_spark_env *e);

/* Checks the task can run here (type, main file exists, inputs known and typed) and
 * inserts a QUEUED execution; *out gets the row (caller frees with spok_execution_free).
 * Nothing is recorded when the check fails: bad input -> SPOK_EINVAL / SPOK_ENOTFOUND. */
int spok_local_submit(struct spok_store *st, const struct spok_task *t,
		      const struct spok_platform *p, const struct spok_local_opts *o,
		      struct spok_execution *out, struct spok_err *err);

/* ---- a run on a borrowed loop (a daemon hosts many) ----
 * spok_local_start runs the attempts of a submitted execution on the caller's loop and
 * returns at once; cb fires exactly once from the loop when the run reached a terminal phase
 * (result 0: look at x->phase) or spok itself failed (I/O, store: err says why). It owns
 * nothing process-wide (no signal handlers): only its execution's supervisor lock (adopted
 * from spok_local_submit when this process submitted it, else taken; SPOK_ECONFLICT when
 * another process supervises x), held until its end is recorded, so a reader settles the row
 * however this process dies. t, p, o, x and st are borrowed until cb; *x is updated in place
 * and in the store; *out is valid until cb. An error return starts nothing (no cb). */
struct spok_local_run;
typedef void (*spok_local_done_cb)(void *arg, int result, const struct spok_err *err);
int spok_local_start(uv_loop_t *loop, struct spok_store *st, const struct spok_task *t,
		     const struct spok_platform *p, const struct spok_local_opts *o,
		     struct spok_execution *x, spok_local_done_cb cb, void *arg,
		     struct spok_local_run **out, struct spok_err *err);
/* Stops the run as ABORTED with reason why (static string): TERM to its process group, KILL
 * after the grace; a second call KILLs at once. Before an attempt started, none starts. */
void spok_local_run_abort(struct spok_local_run *r, const char *why);

/* The blocking form for `spok run`: its own loop plus the stop signals (see the top of this
 * file) around spok_local_start. Returns 0 when the run reached any terminal phase (look at
 * x->phase), an error only when spok itself failed (I/O, store). */
int spok_local_supervise(struct spok_store *st, const struct spok_task *t,
			 const struct spok_platform *p, const struct spok_local_opts *o,
			 struct spok_execution *x, struct spok_err *err);

/* The spark-submit argv for one attempt (exposed for tests). run_dir/ui_port as for the run.
 * The conf goes into spok_local_props_path(x) (mode 0600, Java properties syntax) passed as
 * --properties-file, never as --conf arguments: values may be secrets and argv is visible to
 * every user in ps. The runner removes the file when the attempt ends. */
int spok_local_argv(const struct spok_task *t, const struct spok_platform *p,
		    const struct spok_spark_env *env, const struct spok_local_opts *o,
		    const struct spok_execution *x, int ui_port, struct spok_strv *argv,
		    struct spok_err *err);

/* Writes conf to path as a properties file spark-submit reads (--properties-file): a fresh
 * file of mode 0600 (an old one is replaced, never followed), Java properties escaping. */
int spok_local_props_write(const char *path, const struct spok_strmap *conf, struct spok_err *err);

/* "<x->run_dir>/spark-conf-<attempt>.properties" (heap). */
char *spok_local_props_path(const struct spok_execution *x);

/* Abort from any process: sets abort_requested, then TERM the recorded process group if it
 * is still the same process (start time matches), KILL after grace_ms. If no supervisor is
 * alive any more, records ABORTED itself. */
int spok_local_abort(struct spok_store *st, const char *id, uint64_t grace_ms,
		     struct spok_err *err);

/* For a reader holding an unfinished local row: when its supervisor is gone (lock free, or
 * for rows of an older spok no process with its pid), records how the run ended: the outcome
 * the supervisor left in outcome.json when it could not write the store, else ABORTED with
 * "supervisor (pid N) died; ..." after ending what is left of the run's Spark process groups
 * (the recorded group when pid + start time still match, and any group of a process whose
 * environment carries SPOK_EXECUTION_ID=<id>; TERM, KILL after SPOK_LOCAL_SETTLE_GRACE_MS).
 * Removes leftover spark-conf-*.properties files. *x is replaced by the settled row (also when
 * the store write fails, so it can be shown). Returns 1 when it settled, 0 when there was
 * nothing to do (finished, not local, supervisor alive or undecidable), or an error. */
int spok_local_settle(struct spok_store *st, struct spok_execution *x, struct spok_err *err);
/* Whether a supervisor still holds x (see above); undecidable counts as alive. */
bool spok_local_supervisor_alive(const struct spok_execution *x);
/* The signal that stopped the last spok_local_supervise of this process, or 0. */
int spok_local_stop_signal(void);

/* Why task t cannot run as a Spark Connect client, found without running it (heap), or NULL
 * when it may: JVM applications, pyFiles/files, hadoopConf, sparkConf other than cluster
 * sizing (the shared server's settings would silently apply instead), and a main file (for a
 * flytekit task: its task module, found under python_path, NULL: the current directory) that
 * names RDD/SparkContext/JVM APIs (file:line). env finds the main file. */
char *spok_local_warm_unsupported(const struct spok_task *t, const struct spok_spark_env *env,
				  const char *python_path);
/* The files a warm run uploads to its Connect session before the job's code runs
 * (SparkSession.addArtifacts; see warm.c's glue): pyFiles (.py, .zip, .egg) and files of a
 * job file, which must lie under the job file's directory, and a flytekit task's module (its
 * top package, zipped, or its .py) under python_path (NULL: the current directory). *spec:
 * "KIND\tPATH\n" lines for the glue (KIND pyfile, file or pkg; real paths), NULL when there is
 * nothing to upload; caller frees. Nonzero with a one-line error naming the task file's field
 * for a file outside that directory, missing or not regular, two files of one base name, more
 * than 64 files or 128 MiB in all. Entries on other file systems are left to
 * spok_local_warm_unsupported. */
int spok_local_warm_artifacts(const struct spok_task *t, const char *python_path, char **spec,
			      struct spok_err *err);
/* The up-front check of a warm run (spok run --warm, the daemon's warm runs): *why (heap) is
 * spok_local_warm_unsupported's reason, or NULL when t may run warm; an error when Spark is
 * not found or a file it would upload is refused (spok_local_warm_artifacts). */
int spok_local_warm_check(const struct spok_task *t, const char *python_path, char **why,
			  struct spok_err *err);
/* The Spark Connect session id of attempt `attempt` of execution exec_id (a UUID-shaped
 * string, 36 chars + NUL), the same in every process; each attempt has its own. */
void spok_local_warm_session_id(const char *exec_id, unsigned attempt, char out[37]);
/* The user this process runs as: the user_id of the Spark Connect sessions it opens (its
 * login name when that is a plain name, else "uid<N>"). Heap. */
char *spok_local_user(void);

/* The process groups (never this process's own) with a process whose environment holds
 * exactly the entry marker ("NAME=value"), at most max of them into out: what a supervisor
 * that died before it recorded a pid left running. Reads /proc. */
size_t spok_local_marked_groups(const char *marker, int64_t *out, size_t max);
/* Connect's "not supported" error as the exception the client FAILED with (the last Python
 * traceback's exception line), as a one-line reason (heap), or NULL: an error the job caught
 * before failing for another reason is not a reason to run it again cold. */
char *spok_local_warm_log_reason(const char *log_text);
/* The same for a flytekit task whose error document (error_message, its message) ends with
 * Connect's "not supported" error: the exception the task failed with. */
char *spok_local_warm_flyte_reason(const char *error_message);

/* Reason for a failed attempt from its driver log (OutOfMemoryError, Python traceback,
 * 'Exception in thread "main"', spark-submit "Error:" lines). Heap string or NULL.
 * *permanent is set when retrying cannot help (bad arguments / conf). */
char *spok_local_reason(const char *log_text, bool *permanent);


/* History server (pyspark's spark-class ... HistoryServer), one per data dir, over log_dir:
 * NULL means <data dir>/spark-events (local runs' event logs); else an existing directory
 * (a path, or file:///path; made absolute) or a URI Spark reads itself (hdfs://...), such as
 * the host side of cluster runs' event-log volume (docs/CONFIG.md, spok.event-log).
 * start is idempotent for the same dir (the running one is kept and its port returned); one
 * running over another dir is SPOK_ECONFLICT. Its pid is recorded in <data dir>/history.pid
 * as "<pid> <start time> <port>", the dir's URI on the next line. *uri_out (if not NULL)
 * gets the URI served (heap) on success. */
int spok_history_start(const char *data_dir, const char *log_dir, int port, int *port_out,
		       char **uri_out, struct spok_err *err);
int spok_history_stop(const char *data_dir, struct spok_err *err);
/* Port of the running history server, or 0 when none runs. */
int spok_history_running(const char *data_dir);
/* "http://127.0.0.1:<port>/history/<app id>" (heap). */
char *spok_history_url(int port, const char *app_id);

/* ---- resident.c: a warm pool's resident Python client ---- */
/* A local session's supervisor keeps one resident client (a Python process that imported the
 * pyspark Connect client stack once and forks a fresh child per warm attempt) listening on
 * <session dir>/resident.sock; a warm attempt whose session has that socket runs as
 * `spok _warm-client SOCK -- ARGV` (spok_local_resident_client), which hands ARGV to it and
 * execs ARGV itself when it cannot. See resident.c for the protocol. */
char *spok_local_resident_sock(const char *data_dir, const char *session); /* heap */
/* `spok _warm-client SOCK -- PYTHON ARGS...` (argv[0] is "_warm-client"): the attempt's process.
 * Returns the exit status (or re-raises the child's signal); does not return when it execs. */
int spok_local_resident_client(int argc, char **argv);
/* The supervisor's side. Everything is owned by the struct (spok_local_resident_end frees). */
struct spok_local_resident {
	char *sock, *log;          /* <session dir>/resident.sock, resident.log */
	struct spok_strv argv, envv;
	int64_t pid;               /* the running one (its own session and group), 0: none */
	uint64_t started_ms, due_ms, backoff_ms; /* CLOCK_MONOTONIC ms: its start, the next one */
	bool enabled;
};
/* Prepares (starts nothing): python as the runs call it (NULL: "python3"), marker an
 * environment entry a settling reader finds it by (server.c's SPOK_SESSION_SERVER=...), or
 * NULL. Its environment is this process's without PYTHONPATH, a run's or a token. */
void spok_local_resident_init(struct spok_local_resident *z, const char *session_dir,
			      const char *python, const char *marker);
/* Reaps it when it ended; starts it when none runs and its (backoff) time has come. Call
 * every supervisor tick; never blocks. */
void spok_local_resident_tick(struct spok_local_resident *z);
/* Waits (at most 5 s) until it has no children (runs whose attempts stop them, their server
 * being gone), then KILLs and reaps it (children left die with it); remove_sock: unlink the socket too (not when
 * a newer generation of the session may own it by now). Frees z. */
void spok_local_resident_end(struct spok_local_resident *z, bool remove_sock);

#endif
