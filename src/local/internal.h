/* internal.h - shared between the files of src/local; not a public API. */
#ifndef SPOK_LOCAL_INTERNAL_H
#define SPOK_LOCAL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "common/pid.h" /* spok_pid_ok: a stored pid/pgid is checked before any signal */
#include "local/local.h"

enum stop_kind { STOP_NONE = 0, STOP_ABORT, STOP_TIMEOUT };

struct attempt_result {
	int64_t exit_status;
	int term_signal;
	enum stop_kind stop;
	const char *stop_why; /* static string, or NULL */
};

/* Main file resolved to a local path (or a URI Spark fetches itself). *out is heap. */
int spok_local_main_file(const struct spok_task *t, const struct spok_spark_env *env,
			 char **out, struct spok_err *err);
/* The child's environment: ours plus Spark/Python/flytekit variables and the task env. */
void spok_local_env(const struct spok_task *t, const struct spok_spark_env *env,
		    const struct spok_local_opts *o, const struct spok_execution *x,
		    struct spok_strv *envv);
/* Spawns argv in its own session, streams output to x->log_path (and the terminal),
 * records RUNNING/pid/UI in the store, handles abort/timeout/signals; fills *ar. */
int spok_local_spawn_and_wait(struct spok_store *st, const struct spok_task *t,
			      const struct spok_local_opts *o, struct spok_execution *x,
			      const struct spok_strv *argv, const struct spok_strv *envv,
			      struct attempt_result *ar, struct spok_err *err);
/* flytekit tasks: writes inputs.pb and appends the rendered container args to argv.
 * Other tasks: appends the task's args. */
int spok_local_flyte_prepare(const struct spok_task *t, const struct spok_local_opts *o,
			     const struct spok_execution *x, struct spok_strv *argv,
			     struct spok_err *err);
/* flytekit tasks after exit 0: outputs.pb -> x->outputs_json, or error.pb -> failure. */
void spok_local_flyte_outputs(const struct spok_task *t, struct spok_execution *x);

#endif
