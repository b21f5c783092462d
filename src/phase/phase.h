/* phase.h - SparkApplication status -> task phase, reason, error, log and UI links.
 *
 * Pure core: no I/O, no clock. Mirrors Flyte's Spark plugin (GetTaskPhase and
 * getEventInfoForSpark) plus the two generic rules the plugin manager applies around
 * it (phase-version bump, deletionTimestamp while non-terminal). See
 * shared/spec/flyte-spark-plugin.md §3 and §4.5.
 *
 * Ownership: struct spok_status owns every string, link and json_t inside it;
 * spok_status_free() releases them and leaves the struct zeroed (reusable).
 * Inputs (app JSON, task, platform, prev) are only read, never kept.
 * Strings returned by spok_render_log_template() are heap-allocated: the caller frees.
 *
 * spok extension beyond Flyte: per-executor log links. For each pod named in
 * status.executorState (sorted by pod name), every *enabled* kubernetes entry and
 * every static `templates` entry of logs.user yields one link named
 * "<display>(Executor Logs <pod>)" with podName = the executor pod. They come after
 * the all-user links and before the UI link; with nothing enabled in logs.user none
 * are emitted, so a Flyte-equivalent config gives Flyte's exact link list.
 */
#ifndef SPOK_PHASE_PHASE_H
#define SPOK_PHASE_PHASE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/strmap.h"
#include "common/timefmt.h"
#include "model/model.h"

struct spok_link {
	char *name;          /* e.g. "Kubernetes Logs(Driver Logs)", "Spark Driver UI", "Spark History UI" */
	char *uri;
	int message_format;  /* 0 UNKNOWN, 1 CSV, 2 JSON */
	bool show_while_pending;
	bool hide_once_finished;
	enum spok_link_kind { SPOK_LINK_LOG, SPOK_LINK_DRIVER_UI, SPOK_LINK_HISTORY_UI } kind;
};

/* flyteidl core.ExecutionError.ErrorKind: which retry budget a failure consumes. */
enum spok_error_kind {
	SPOK_ERRKIND_UNKNOWN = 0,
	SPOK_ERRKIND_USER = 1,   /* Spark FAILED / SUBMISSION_FAILED: task retries */
	SPOK_ERRKIND_SYSTEM = 2  /* UnexpectedObjectDeletion: system retries */
};

struct spok_status {
	enum spok_phase phase;        /* from model.h */
	uint32_t phase_version;
	char *reason;                 /* Flyte's plugin reason: "job queued", "job submitted", or ""
	                               * (RUNNING, SUCCEEDED and failures carry none). Never NULL
	                               * after a successful spok_status_from_sparkapp. */
	char *error_code;             /* "DownstreamSystemError", "UnexpectedObjectDeletion", or NULL */
	char *error_message;          /* Flyte's wording, e.g. "Spark Job  Submission Failed with
	                               * Error: <msg>" (two spaces), or NULL */
	enum spok_error_kind error_kind; /* set with error_code (added field, not in the brief) */
	char *app_state;              /* raw status.applicationState.state ("" if none) */
	char *spark_app_id;           /* status.sparkApplicationId or NULL */
	char *driver_pod;             /* status.driverInfo.podName or NULL */
	char *ui_address;             /* driver UI (ingress) with scheme, or NULL */
	int64_t start_unix;           /* metadata.creationTimestamp (0 if absent) */
	int64_t finish_unix;          /* status.terminationTime when COMPLETED/FAILED, else 0 */
	struct spok_link *links;
	size_t nlinks;
	json_t *executors;            /* status.executorState copied {pod: state}, or NULL */
};

void spok_status_free(struct spok_status *s);

/* Maps a SparkApplication object (as returned by the API server) to a status.
 * `prev` (may be NULL) is the previously stored status, for Flyte's phase-version rule:
 * if the new phase is not RUNNING, equals prev->phase, and its reason differs from
 * prev->reason, the version becomes prev->phase_version + 1 (else 0).
 * `t` may be NULL: task-dependent template variables (taskID, ...) and dynamic links
 * (t->config["link_type"]) are then skipped. `p` must not be NULL.
 * A non-terminal app whose metadata.deletionTimestamp is set becomes RETRYABLE_FAILURE
 * UnexpectedObjectDeletion (SYSTEM) "object [<ns>/<name>] terminated in the background,
 * manually", version 0; unlike Flyte (which drops TaskInfo there), links are still given.
 * Validates the shape: a non-object, missing metadata, non-string state etc. give
 * SPOK_EINVAL naming the JSON path, e.g. "status.applicationState.state: expected a
 * string, got number; ...". On error `out` is left zeroed. JSON null counts as absent. */
int spok_status_from_sparkapp(const json_t *app, const struct spok_task *t,
			      const struct spok_platform *p, const struct spok_status *prev,
			      struct spok_status *out, struct spok_err *err);

/* The status as a JSON object (for golden tests, the store and `spok status --json`):
 * {phase, phase_version, reason, error_code, error_kind, error_message, app_state,
 *  spark_app_id, driver_pod, ui_address, start_unix, finish_unix,
 *  links: [{name, uri, kind: "log"|"driver_ui"|"history_ui", message_format,
 *           show_while_pending, hide_once_finished}], executors}
 * NULL strings become JSON null. Returns a new reference. */
json_t *spok_status_to_json(const struct spok_status *s);

const char *spok_link_kind_name(enum spok_link_kind k); /* "log", "driver_ui", "history_ui" */

/* Renders one log template URI with Flyte's rules: each variable of `vars`, in map
 * order, replaces every `{{ .name }}` / `{{ $name }}` (ASCII case-insensitive name,
 * optional blanks inside the braces) in one left-to-right pass; a variable whose
 * value is empty is NOT substituted (the placeholder stays). vars may be NULL.
 * Safety cap (spok only): a pass that would make the result longer than 64 KiB is
 * skipped along with all later variables.
 * Returns a new string; caller frees. */
char *spok_render_log_template(const char *tmpl, const struct spok_strmap *vars);

/* Inputs for the standard template variables of one pod. NULL/"" values are left out
 * of the map (so their placeholders stay, as in Flyte). */
struct spok_log_pod {
	const char *pod_name;
	const char *namespace_;
	int64_t start_unix;           /* podUnixStartTime / podRFC3339StartTime */
	int64_t finish_unix;          /* podUnixFinishTime / podRFC3339FinishTime (0 -> epoch) */
	const char *generated_name;   /* the SparkApplication name */
	const char *node_id;          /* label node-id */
	const char *execution_name;   /* label execution-id */
	const char *execution_project;/* label project */
	const char *execution_domain; /* label domain */
	const struct spok_task *task; /* taskID/taskVersion/taskProject/taskDomain, or NULL */
};

/* Appends the variables to `vars` in Flyte's substitution order:
 * podName, namespace, nodeID, generatedName, taskID, taskVersion, taskProject,
 * taskDomain, executionName, executionProject, executionDomain, podRFC3339StartTime,
 * podRFC3339FinishTime, podUnixStartTime, podUnixFinishTime.
 * Never set (Spark gives no such facts): podUID, containerName, containerID, hostname,
 * nodeName, taskRetryAttempt. logName is added by spok_log_links itself. */
void spok_log_vars(const struct spok_log_pod *pod, struct spok_strmap *vars);

/* Log links for a (namespace, pod) pair using one LogConfig, in Flyte's order
 * (kubernetes, cloudwatch, stackdriver, static templates, then dynamic links whose name
 * is listed in t->config["link_type"], comma-separated, when t is not NULL); appends to
 * *out / *nout (a NULL *out with *nout == 0 is an empty list). `vars` (without logName)
 * usually comes from spok_log_vars(). Link name = display name immediately followed by
 * log_name. Exposed for the local runner and the executor links. */
void spok_log_links(const struct spok_log_config *lc, const struct spok_strmap *vars,
		    const char *log_name, const struct spok_task *t,
		    struct spok_link **out, size_t *nout);

/* Frees an array of links built by spok_log_links. */
void spok_links_free(struct spok_link *links, size_t n);

/* Why a Spark driver pod has not started (spok extension: the operator keeps an app in
 * SUBMITTED while its driver pod cannot start, kubeflow/spark-operator#2667, so the engine
 * reads the pod itself). */
enum spok_pod_verdict {
	SPOK_POD_FINE,    /* nothing spok can name: starting, running, ended, being deleted */
	SPOK_POD_WAITING, /* PodScheduled=False, reason Unschedulable: no node fits it (yet) */
	SPOK_POD_BROKEN   /* a container waits for a reason no wait cures: ErrImagePull,
	                   * ImagePullBackOff, ErrImageNeverPull, InvalidImageName,
	                   * CreateContainerConfigError (init containers included) */
};

/* Reads a core/v1 Pod as the API server returns it (only a Pending one is judged; BROKEN
 * wins over WAITING). *msg is NULL for FINE, else a heap line (caller frees):
 *   BROKEN:  driver pod <name> cannot pull image "<image>": <reason>: <kubelet's message>
 *            (InvalidImageName: has an invalid image name "<image>"; otherwise:
 *            cannot start container <c>)
 *   WAITING: waiting: <scheduler's message>, e.g. "waiting: 0/1 nodes are available: 1
 *            Insufficient memory. ..."
 * Everything taken from the pod is hostile: it is made one line (breaks become blanks),
 * escaped for a terminal (common/termesc.h), valid UTF-8, and each piece is capped, so the
 * line stays under 1 KiB. Shapes that are not a Pod give FINE. */
enum spok_pod_verdict spok_driver_pod_verdict(const json_t *pod, char **msg);

/* Direct submission (no SparkApplication): the driver pod as the API server returns it, read
 * the way the Spark operator reads it to set the application's state, then mapped by
 * spok_status_from_sparkapp's rules, so both modes give the same phases, reasons and links:
 *   Pending -> SUBMITTED (INITIALIZING "job submitted"; why it does not start is
 *   spok_driver_pod_verdict's), Running -> RUNNING, Succeeded -> COMPLETED (SUCCEEDED),
 *   Failed -> FAILED (RETRYABLE_FAILURE "Spark Job Failed with Error: driver container failed
 *   with ExitCode: 137, Reason: OOMKilled", the pod's own reason appended, e.g. "; pod
 *   Evicted: The node was low on resource: memory."), Unknown -> UNKNOWN (RUNNING); a driver
 *   container that ended while sidecars run decides by its exit code; deletionTimestamp as
 *   for a SparkApplication. app_state is that operator state; spark_app_id the pod's
 *   spark-app-selector; driver_pod its name; no ui_address (no ingress); generatedName is the
 *   pod's spark-app-name label (the SparkApplication name spok built it from).
 * executors (may be NULL): {pod name: state} as status.executorState (spok_executor_pod_state)
 * for the executor log links. Pod text is made one safe line. Errors as
 * spok_status_from_sparkapp's (metadata shapes); out is zeroed then. */
int spok_status_from_driver_pod(const json_t *pod, const json_t *executors,
				const struct spok_task *t, const struct spok_platform *p,
				const struct spok_status *prev, struct spok_status *out,
				struct spok_err *err);
/* An executor pod's state as the operator's executorState names it: PENDING, RUNNING,
 * COMPLETED, FAILED or UNKNOWN. */
const char *spok_executor_pod_state(const json_t *pod);

/* Timestamps (spok_parse_rfc3339, spok_format_rfc3339) live in common/timefmt.h. */

#endif
