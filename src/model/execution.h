/* execution.h - one execution of a task and its attempts, as spok records them: the type the
 * store keeps, the engine and local runner update, and the CLI and HTTP API show (each
 * through a view of its own: the CLI's `-o json|yaml` in src/cli/view.c, the API's in
 * src/server/api.c, which leaves out the daemon host's processes and paths).
 *
 * Ownership: every string is owned by the struct (NULL = unset); spok_execution_free
 * releases them and zeroes the struct; arrays of them are freed with
 * spok_execution_list_free, arrays of attempts with spok_attempts_free.
 */
#ifndef SPOK_MODEL_EXECUTION_H
#define SPOK_MODEL_EXECUTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

struct spok_execution {
	char *id;
	char *task_name;
	char *project;
	char *domain;
	char *backend;         /* "local" or a cluster name */
	char *namespace_;      /* cluster runs: Kubernetes namespace */
	char *resource_name;   /* cluster runs: SparkApplication name */
	uint32_t attempt;      /* 0-based current attempt */
	uint32_t max_attempts; /* retries + 1 */
	enum spok_phase phase;
	uint32_t phase_version;
	char *reason;          /* one line: why this phase */
	char *error_message;   /* longer failure text (traceback line, error.pb message) */
	int64_t created_ms;    /* ms since epoch; 0 = unset */
	int64_t started_ms;
	int64_t finished_ms;
	bool has_exit_code;
	int exit_code;         /* >= 0 exit status; 128+N killed by signal N */
	int64_t pid;           /* local runs: the spark-submit process (its own group) */
	int64_t pgid;
	uint64_t proc_start;   /* /proc/<pid>/stat starttime, to detect pid reuse */
	int64_t supervisor_pid;/* the spok process watching the run ... */
	uint64_t supervisor_start; /* ... and its start time (spok_proc_id.start; 0 = unknown) */
	bool abort_requested;  /* set only by spok_store_request_abort */
	char *spark_app_id;    /* e.g. "local-1700000000000" */
	char *ui_url;          /* live Spark UI */
	char *history_url;     /* Spark history server page of the finished app */
	char *event_log_dir;   /* spark.eventLog.dir (a file:// URI for local runs) */
	char *log_path;        /* current attempt's driver log */
	char *run_dir;         /* per-execution working files */
	char *task_source;     /* job file / package the task came from */
	char *links_json;      /* JSON array of {name, uri}, or NULL */
	char *outputs_json;    /* JSON object of outputs (flytekit tasks), or NULL */
	char *idempotency_key; /* the daemon's key digest (64 hex) of a keyed submission, or
				* NULL; unique among executions (same key, same execution) */
	/* Cluster runs: how the attempts are submitted, fixed when the row is written:
	 * SPOK_SUBMISSION_DIRECT ("direct": spok creates the driver pod itself), or NULL /
	 * "operator" (a SparkApplication for the Spark operator). */
	char *submission;
	char *session;         /* warm runs (`spok run --warm`): the Spark Connect session (a row
				* of the store's sessions table) the job ran on, else NULL */
	char *fallback;        /* a run asked warm that ran as a normal local run instead: why
				* (Connect cannot run it), else NULL */
};

/* One attempt's summary (read-only view for `spok status`). */
struct spok_attempt {
	uint32_t attempt;
	enum spok_phase phase;
	char *reason;
	int64_t started_ms;
	int64_t finished_ms;
	bool has_exit_code;
	int exit_code;
	char *log_path;
};

#define SPOK_SUBMISSION_OPERATOR "operator"
#define SPOK_SUBMISSION_DIRECT "direct"

/* x's attempts are created by spok itself (submission "direct"), not by the operator. */
bool spok_execution_direct(const struct spok_execution *x);

void spok_execution_free(struct spok_execution *e);
void spok_execution_list_free(struct spok_execution *v, size_t n);
void spok_attempts_free(struct spok_attempt *v, size_t n);

#endif
