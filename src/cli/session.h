/* session.h - what a CLI command needs to act on executions through their backend
 * (src/backend): a loop of its own, the store, the platform config and, for a cluster, a
 * kube client (and an engine for `run --cluster` / `reconcile`). Internal to src/cli.
 *
 * Ownership: a session owns everything it opened; spok_cli_session_close releases it and
 * runs the loop until pending callbacks (closing handles) are done. A store passed in is
 * borrowed.
 */
#ifndef SPOK_CLI_SESSION_H
#define SPOK_CLI_SESSION_H

#include <uv.h>

#include "backend/backend.h"
#include "cli/cli.h"
#include "cli/watch.h"

struct spok_cli_session {
	uv_loop_t loop;
	bool loop_ok;
	struct kube_client *client;
	struct spok_store *st;
	bool own_store;
	struct spok_platform plat;
	struct spok_engine *e;
	char *data_dir;
	char *backend; /* the backend column this session acts on */
	const struct spok_backend_ops *ops;
	struct spok_backend_ctx ctx;
};

/* Opens a session for executions of `backend` (a row's backend column, or the cluster of
 * `run --cluster`). st: the command's store (borrowed), or NULL to open the data dir's
 * store read-only (writers fail at the first write). short_try: one quick try per request,
 * for a live read that must answer even when the cluster does not. */
int spok_cli_session_open(struct spok_cli_session *s, const struct spok_cli *cli,
			  struct spok_store *st, const char *backend, bool short_try,
			  struct spok_err *err);
void spok_cli_session_close(struct spok_cli_session *s);

/* The task of a recorded execution: the daemon's loader for sources `spok serve` recorded
 * (the connector's requests), else the job file. An spok_engine_load_cb. */
int spok_cli_load_recorded(void *data, const struct spok_execution *x, struct spok_task *out,
			   struct spok_err *err);

#endif

/* ---- `run --cluster` and `reconcile` (cmd_run_cluster.c, cmd_reconcile.c) ---- */

struct spok_cli_cluster_flags {
	const char *cluster;
	const char *task_name;
	const char *submitted_timeout;
	const char *python_path;
	const char *submit;      /* --submit operator|direct; NULL: the cluster's config */
	struct spok_strv inputs; /* --input name=value (owned: spok_strv_free) */
	bool keep;
	bool detach;
	bool quiet;
};

/* Fills t (at least 11 entries) with the flags of `run --cluster` (run) or `reconcile`. */
void spok_cli_cluster_flag_table(struct spok_cli_cluster_flags *f, struct spok_flag *t, bool run);
/* `--input name=value` items into out (name -> value); SPOK_EINVAL naming a bad one. */
int spok_cli_parse_inputs(const struct spok_strv *in, struct spok_strmap *out,
			  struct spok_err *err);
/* --cluster, else the global --context; NULL when neither was given. */
const char *spok_cli_cluster_of(const struct spok_cli *cli, const struct spok_cli_cluster_flags *f);

/* Progress on stderr: phase changes with a time stamp, links as they appear. `running` and
 * the names are noted for the driver log of a foreground run. Free with progress_free. */
struct spok_cli_progress {
	bool quiet;
	char last[256];
	char *links;
	char *ns;
	char *app;       /* the SparkApplication of the attempt that last reached RUNNING */
	unsigned app_seq; /* counts those attempts (0: none ran yet); a retry's driver log is a new stream */
	char *failed; /* SPOK_ENGINE_FAILED's message: a store write failed */
	struct spok_cli_watch *live; /* a foreground run's live line on a terminal (watch.h), or NULL:
	                              * erased before each line here, fed each changed row */
};
void spok_cli_progress_free(struct spok_cli_progress *p);

/* Starts s->e on the session's cluster with the flags' options; progress goes to p. */
int spok_cli_engine_start(struct spok_cli_session *s, const struct spok_cli_cluster_flags *f,
			  const char *cluster, struct spok_cli_progress *p, struct spok_err *err);
/* `spok reconcile` of one cluster: adopts only_id, or every execution that needs work
 * (*n: how many), and runs until idle. */
int spok_cli_reconcile_cluster(struct spok_cli *cli, const struct spok_cli_cluster_flags *f,
			       const char *cluster, const char *only_id, size_t *n,
			       struct spok_err *err);
