/* internal.h - shared between the files of src/local; not a public API. */
#ifndef SPOK_LOCAL_INTERNAL_H
#define SPOK_LOCAL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/pid.h" /* spok_pid_ok: a stored pid/pgid is checked before any signal */
#include "local/local.h"

enum stop_kind { STOP_NONE = 0, STOP_ABORT, STOP_TIMEOUT, STOP_SERVER_GONE };

struct attempt_result {
	int64_t exit_status;
	int term_signal;
	enum stop_kind stop;
	const char *stop_why; /* static string, or NULL */
};

/* Main file resolved to a local path (or a URI Spark fetches itself). *out is heap. */
int spok_local_main_file(const struct spok_task *t, const struct spok_spark_env *env,
			 char **out, struct spok_err *err);
/* Appends --py-files / --files with the task's pyFiles / files resolved as the main file
 * is (comma-joined), nothing for an empty list. SPOK_EINVAL naming the entry when a local
 * one is not a regular file. */
int spok_local_deps(const struct spok_task *t, struct spok_strv *argv, struct spok_err *err);
/* The child's environment: ours plus Spark/Python/flytekit variables and the task env. */
void spok_local_env(const struct spok_task *t, const struct spok_spark_env *env,
		    const struct spok_local_opts *o, const struct spok_execution *x,
		    struct spok_strv *envv);
/* One attempt on a borrowed loop (spawn.c). */
struct spok_local_attempt;
/* The attempt's end: its handles are closed and what was left of its process group is gone;
 * result is nonzero (err says why) when spawning or the RUNNING write failed. */
typedef void (*spok_local_attempt_cb)(void *arg, int result, const struct spok_err *err);
/* Spawns argv in its own session, streams output to x->log_path (and the terminal), records
 * RUNNING/pid/UI in the store, acts on abort requests and the timeout; fills *ar. An error
 * return (the log cannot be created) starts nothing and never calls cb; otherwise cb is
 * called exactly once from the loop, and *out is valid until then. Everything passed in is
 * borrowed until cb. */
int spok_local_attempt_start(uv_loop_t *loop, struct spok_store *st, const struct spok_task *t,
			     const struct spok_local_opts *o, struct spok_execution *x,
			     const struct spok_strv *argv, const struct spok_strv *envv,
			     struct attempt_result *ar, spok_local_attempt_cb cb, void *arg,
			     struct spok_local_attempt **out, struct spok_err *err);
/* TERM the group, KILL after the grace (why: static string, the recorded reason). */
void spok_local_attempt_stop(struct spok_local_attempt *a, const char *why);
/* A warm attempt: when w->server (its session's Spark Connect server process) ends, or the
 * session's row is no longer RUNNING in generation w->generation (a Kubernetes server pod
 * ended, the session was stopped or restarted), the attempt is stopped (TERM, KILL after
 * the grace) as STOP_SERVER_GONE: RETRYABLE, the platform's fault, not the job's. w is
 * borrowed until the attempt ends. */
void spok_local_attempt_watch_server(struct spok_local_attempt *a, const struct spok_local_warm *w);
/* KILL the group now (asked again while waiting for the grace). */
void spok_local_attempt_kill(struct spok_local_attempt *a);
/* The test of spok_local_attempt_watch_server: w's server process ended, or w's session's
 * row is no longer RUNNING in w->generation. Also a failed warm attempt's look again. */
bool spok_local_server_gone(struct spok_store *st, const struct spok_local_warm *w);
/* flytekit tasks: writes inputs.pb and appends the rendered container args to argv.
 * Other tasks: appends the task's args. */
int spok_local_flyte_prepare(const struct spok_task *t, const struct spok_local_opts *o,
			     const struct spok_execution *x, struct spok_strv *argv,
			     struct spok_err *err);
/* flytekit tasks after exit 0: outputs.pb -> x->outputs_json, or error.pb -> failure. */
void spok_local_flyte_outputs(const struct spok_task *t, struct spok_execution *x);

/* The job file's directory (".": none). Heap. */
char *spok_local_task_dir(const struct spok_task *t);
/* A job's file as a path on this machine: local:// and file:// name files here, a plain path
 * is relative to the job file. NULL when f has another scheme (s3a://, https://). Heap. */
char *spok_local_path_of(const struct spok_task *t, const char *f);

/* ---- warm.c ---- */
/* python MAIN; python -c <glue> MAIN when the job has files to upload (the glue uploads
 * them, then runs MAIN as `python MAIN` would); for flytekit tasks always python -c <glue>
 * MAIN (flytekit's entrypoint with a Spark plugin that builds a Connect session and uploads
 * the task's module). The task's args are appended by spok_local_flyte_prepare. *artifacts:
 * the glue's SPOK_WARM_ARTIFACTS (spok_local_warm_artifacts), or NULL: none. Caller frees. */
int spok_local_warm_argv(const struct spok_task *t, const struct spok_spark_env *env,
			 const char *python_path, struct spok_strv *argv, char **artifacts,
			 struct spok_err *err);
/* w->remote + ";session_id=<id of that attempt of exec_id>" (heap). */
char *spok_local_warm_remote(const struct spok_local_warm *w, const char *exec_id,
			     unsigned attempt);
/* python -c <glue>: interrupts every operation of the session in $SPARK_REMOTE. */
void spok_local_warm_interrupt_argv(const struct spok_spark_env *env, struct spok_strv *argv);
/* The same glue run to its end from this process (a reader settling a dead run; blocks at
 * most SPOK_LOCAL_GLUE_MS, then KILLs it): SPARK_REMOTE=remote,
 * SPARK_CONNECT_AUTHENTICATE_TOKEN=token (NULL: none), output appended to log_path (may be
 * NULL). 0 when it exited 0. */
int spok_local_warm_interrupt_sync(const struct spok_spark_env *env, const char *remote,
				   const char *token, const char *log_path);

/* Appends s as one key (key) or value in java.util.Properties syntax (local.c); nonzero when
 * b's cap is reached. */
struct spok_buf;
int spok_local_props_escape(struct spok_buf *b, const char *s, bool key);

/* TERM the group, wait up to grace_ms for it to go, then KILL (proc.c). */
void spok_local_stop_group(int64_t pgid, uint64_t grace_ms);

/* ---- settle.c ---- */
/* Takes (creating it) the exclusive flock on <run_dir>/supervisor.lock; *fd holds it until
 * closed; a second supervisor gets SPOK_ECONFLICT. The fd is close-on-exec: spark-submit does
 * not inherit it. */
int spok_local_lock_open(const char *run_dir, const char *id, int *fd, struct spok_err *err);
/* The lock spok_local_submit left for execution id: the caller now owns its fd; -1 if none.
 * Only bridges spok_local_submit and spok_local_start (one held at a time per process). */
int spok_local_lock_adopt(const char *id);
/* spok_local_submit's lock (see above): take / drop it. */
int spok_local_lock_take(const char *run_dir, const char *id, struct spok_err *err);
void spok_local_lock_release(void);
/* <run dir>/outcome.json (heap). */
char *spok_local_outcome_path(const struct spok_execution *x);
/* At the start of an attempt: allocates SPOK_LOCAL_OUTCOME_RESERVE bytes for the outcome. */
void spok_local_outcome_reserve(const struct spok_execution *x);
int spok_local_outcome_write(const struct spok_execution *x);
void spok_local_outcome_clear(const struct spok_execution *x);
/* A supervisor's write of an attempt's end: outcome file first (synced), then the store,
 * retried with backoff for SPOK_LOCAL_COMMIT_RETRY_MS; the error names the outcome file. */
int spok_local_commit(struct spok_store *st, struct spok_execution *x, struct spok_err *err);
/* spok_local_settle with the reason's start (`why`) and the TERM -> KILL grace given. */
int spok_local_settle_as(struct spok_store *st, struct spok_execution *x, const char *why,
			 uint64_t grace_ms, struct spok_err *err);

/* ---- stop signals (spawn.c) ---- */
/* SIGHUP/SIGINT/SIGTERM/SIGQUIT only note the signal (and uv_async_send wake) while the
 * blocking supervisor runs; SIGPIPE is ignored. install/restore bracket spok_local_supervise;
 * restore forgets wake before the caller closes it. */
void spok_local_signals_install(uv_async_t *wake);
void spok_local_signals_restore(void);
/* How many stop signals came since install. */
int spok_local_stop_count(void);
/* The reason recorded for a run stopped by sig (static string). */
const char *spok_local_signal_reason(int sig);

#endif
