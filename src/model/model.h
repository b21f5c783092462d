/* model.h - the task model: what a Spark job is, independent of where it came from.
 *
 * One struct spok_task is filled either from a spok job file (YAML, src/jobfile) or from a
 * Flyte TaskTemplate (protobuf, src/flyteidl); everything downstream (SparkApplication
 * builder, local runner, engine) reads only this. The platform configuration
 * (struct spok_platform) has the shape of Flyte's `plugins.spark` + `plugins.k8s`
 * config sections. struct spok_exec carries what differs per attempt.
 *
 * Ownership: every pointer inside these structs is owned by the struct and released
 * by its *_free function (which leaves the struct zeroed and reusable). NULL means
 * "not set" for strings and json_t; an empty spok_strmap/spok_strv means "none".
 * json_t members hold one reference.
 */
#ifndef SPOK_MODEL_MODEL_H
#define SPOK_MODEL_MODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "common/strmap.h"
#include "common/strv.h"

/* Values match flyteidl.plugins.SparkApplication.Type. */
enum spok_app_type {
	SPOK_APP_PYTHON = 0,
	SPOK_APP_JAVA = 1,
	SPOK_APP_SCALA = 2,
	SPOK_APP_R = 3
};

/* "PYTHON" / "Python" / "python" ... -> type. Returns false if unknown. */
bool spok_app_type_parse(const char *s, enum spok_app_type *out);
const char *spok_app_type_name(enum spok_app_type t);  /* "PYTHON" ... */
const char *spok_app_type_crd(enum spok_app_type t);   /* "Python" ... (SparkApplication spec.type) */

/* Task execution phases (flyteidl TaskExecution.Phase plus the plugin-level split of
 * failures into retryable and permanent). Shared by local runs and cluster runs. */
enum spok_phase {
	SPOK_PHASE_UNDEFINED = 0,
	SPOK_PHASE_QUEUED,
	SPOK_PHASE_WAITING_FOR_RESOURCES,
	SPOK_PHASE_INITIALIZING,
	SPOK_PHASE_RUNNING,
	SPOK_PHASE_SUCCEEDED,
	SPOK_PHASE_RETRYABLE_FAILURE,
	SPOK_PHASE_PERMANENT_FAILURE,
	SPOK_PHASE_ABORTED,
	SPOK_PHASE_TIMED_OUT
};

const char *spok_phase_name(enum spok_phase p);   /* "QUEUED", "RUNNING", ... */
bool spok_phase_parse(const char *s, enum spok_phase *out);
bool spok_phase_terminal(enum spok_phase p);

/* A role pod template: flyteidl.core.K8sPod (driverPod / executorPod / k8s_pod target). */
struct spok_pod {
	bool present;
	struct spok_strmap labels;
	struct spok_strmap annotations;
	json_t *pod_spec;               /* a k8s PodSpec object, or NULL */
	char *primary_container_name;   /* or NULL */
};

/* Where a task came from; used only to word errors and for flytekit-specific paths. */
enum spok_task_origin {
	SPOK_ORIGIN_SPEC = 0,   /* spok job file (YAML) */
	SPOK_ORIGIN_FLYTE = 1   /* flyteidl TaskTemplate / admin.TaskSpec */
};

/* flyteidl.core.SimpleType values, plus the few complex kinds spok can carry. */
enum spok_lit_type {
	SPOK_LIT_NONE = 0,
	SPOK_LIT_INTEGER = 1,
	SPOK_LIT_FLOAT = 2,
	SPOK_LIT_STRING = 3,
	SPOK_LIT_BOOLEAN = 4,
	SPOK_LIT_DATETIME = 5,
	SPOK_LIT_DURATION = 6,
	SPOK_LIT_BINARY = 7,
	SPOK_LIT_ERROR = 8,
	SPOK_LIT_STRUCT = 9,
	SPOK_LIT_OTHER = 100 /* collections, maps, blobs, datasets: not settable from the CLI */
};

struct spok_var {
	char *name;
	enum spok_lit_type type;
};

struct spok_vars {
	struct spok_var *items;
	size_t len;
};

/* Upper bound of spok_task.timeout_s that every loader enforces (100 years): runners
 * compute timeout_s * 1000 in 64 bits, which must not wrap. */
#define SPOK_TASK_TIMEOUT_MAX_S ((uint64_t)100 * 365 * 24 * 3600)

struct spok_task {
	enum spok_task_origin origin;
	char *source_path;          /* file the task was read from (for error messages) */

	/* identity */
	char *name;                 /* task name (Flyte: Identifier.name) */
	char *project;              /* default "spok" */
	char *domain;               /* default "development" */
	char *version;

	/* the Spark job (flyteidl.plugins.SparkJob) */
	enum spok_app_type type;
	char *main_application_file;
	char *main_class;
	struct spok_strmap spark_conf;
	struct spok_strmap hadoop_conf;
	char *executor_path;
	struct spok_pod driver_pod;
	struct spok_pod executor_pod;
	/* Job files only (flyteidl's SparkJob has neither): SparkApplication spec.deps.pyFiles /
	 * spec.deps.files, spark-submit's --py-files / --files. Paths on this machine (no URI
	 * scheme) are shipped by `spok run --cluster` like main_application_file. */
	struct spok_strv py_files;
	struct spok_strv files;

	/* the container (flyteidl.core.Container) */
	char *image;
	struct spok_strv command;
	struct spok_strv args;      /* program arguments (SparkApplication spec.arguments) */
	struct spok_strmap env;
	/* Container.resources in Kubernetes names (cpu, memory, nvidia.com/gpu,
	 * ephemeral-storage) -> quantity, zero quantities left out as Flyte's ToK8sResourceList
	 * does. Spark sizes pods from sparkConf; only the names matter (resource tolerations). */
	struct spok_strmap resource_requests;
	struct spok_strmap resource_limits;
	/* ExtendedResources.gpu_accelerator: node selector requirement and toleration for the
	 * GPU device / partition when a container asks for GPUs (Flyte ApplyGPUNodeSelectors). */
	bool gpu_accelerator;           /* the message is present */
	char *gpu_device;               /* or NULL */
	enum spok_gpu_partition {
		SPOK_GPU_PARTITION_UNSET = 0,
		SPOK_GPU_UNPARTITIONED,     /* unpartitioned: true */
		SPOK_GPU_PARTITION_SIZE     /* partition_size: gpu_partition_size */
	} gpu_partition;
	char *gpu_partition_size;
	struct spok_pod k8s_pod;    /* present when the TaskTemplate target is k8s_pod */

	/* task metadata */
	char *service_account;      /* job file serviceAccount; Flyte tasks leave it NULL (Flyte's
	                             * plugin never reads TaskTemplate.security_context.run_as) */
	uint32_t retries;           /* RetryStrategy.retries: attempts = retries + 1 */
	uint64_t timeout_s;         /* 0 = none; at most SPOK_TASK_TIMEOUT_MAX_S */
	bool interruptible;
	char *pod_template_name;
	struct spok_strmap labels;      /* TaskMetadata.metadata.labels */
	struct spok_strmap annotations; /* TaskMetadata.metadata.annotations */
	struct spok_strmap config;      /* TaskTemplate.config (e.g. link_type) */

	/* typed interface (flytekit tasks) */
	struct spok_vars inputs;
	struct spok_vars outputs;
	/* This run's input values (`spok run --input name=value`), encoded by the interface
	 * above into inputs.pb; not part of the task as stored. */
	struct spok_strmap input_values;
	/* Where this run's task module is (`spok run --python-path`, a directory here); a run
	 * on a cluster with flyte-data copies the module from it. NULL: the image has it. */
	char *python_path;

	/* Flyte task-execution identity, when flytepropeller sent the task through the
	 * connector (src/connector): the object's name, the execution-id/node-id labels and the
	 * FLYTE_* variables come from it instead of from spok's execution id. NULL: none. */
	char *flyte_execution_name;
	char *flyte_node_id;
	uint32_t flyte_attempt;
	/* The task's registered project/domain when the connector's execution runs it in
	 * another (a reference task): FLYTE_INTERNAL_TASK_*. NULL: project/domain above. */
	char *flyte_task_project;
	char *flyte_task_domain;
};

void spok_task_init(struct spok_task *t);
void spok_task_free(struct spok_task *t);

/* Caps on what one task may carry, checked by every loader (job file, protobuf, API):
 * generous for real jobs, and they bound what one request costs the daemon. */
#define SPOK_TASK_MAP_MAX 1000      /* keys per map: labels, sparkConf, env, ... */
#define SPOK_TASK_LIST_MAX 10000    /* items per list: args, command, inputs, outputs */
#define SPOK_TASK_DEPS_MAX 100      /* items of pyFiles and of files (spark-submit joins each
                                     * list into one comma-separated argument) */
/* Names the first field over its cap (job file names: "labels", "driverPod.labels", ...),
 * prefixed with where ("<file>: "); SPOK_EINVAL. */
int spok_task_check_limits(const struct spok_task *t, const char *where, struct spok_err *err);
void spok_pod_free(struct spok_pod *p);
void spok_vars_free(struct spok_vars *v);
void spok_vars_add(struct spok_vars *v, const char *name, enum spok_lit_type type);

/* Per-attempt facts. Strings are borrowed: the caller keeps them alive while in use. */
struct spok_exec {
	const char *execution_name;  /* workflow execution name (Flyte) or spok execution id */
	const char *node_id;         /* default "n0" */
	uint32_t attempt;            /* 0-based retry attempt */
	const char *namespace_;      /* Kubernetes namespace */
	int64_t now_ms;              /* wall clock at build time, ms since epoch */
	const char *service_account; /* execution-level run_as override, or NULL */
	bool interruptible;          /* node-level interruptible */
	const struct spok_strmap *labels;      /* extra execution labels, or NULL */
	const struct spok_strmap *annotations; /* extra execution annotations, or NULL */
	/* Flyte I/O paths substituted into {{.Input}} etc.; NULL leaves placeholders as-is. */
	const char *input_prefix;         /* node data dir; inputs = <input_prefix>/inputs.pb */
	const char *output_prefix;
	const char *raw_output_prefix;
	const char *prev_checkpoint;
	/* The platform's flyte-data volume is mounted in driver and executors (the I/O prefixes
	 * above point into it). */
	bool flyte_data;
	/* Local paths are shipped (spok run --cluster, spok render): rewritten to local:// paths
	 * under a mounted ConfigMap (sparkapp.h, spok_ship_*). false: kept as written. */
	bool ship_local_files;
};

/* x with t's Flyte task-execution identity applied, when t carries one (the strings stay
 * borrowed from t). */
void spok_exec_apply_task(const struct spok_task *t, struct spok_exec *x);

/* ---- platform configuration (Flyte plugins.spark / plugins.k8s shape) ---- */

struct spok_log_template {
	char *name;                  /* dynamic-log-links key, or NULL for static templates */
	char *display_name;
	struct spok_strv template_uris;
	int message_format;          /* flyteidl TaskLog.MessageFormat: 0 UNKNOWN, 1 CSV, 2 JSON */
	bool show_while_pending;
	bool hide_once_finished;
};

struct spok_log_config {
	bool kubernetes_enabled;
	char *kubernetes_url;
	char *kubernetes_template_uri;
	bool cloudwatch_enabled;
	char *cloudwatch_region;
	char *cloudwatch_log_group;
	char *cloudwatch_template_uri;
	bool stackdriver_enabled;
	char *gcp_project;
	char *stackdriver_logresourcename;
	char *stackdriver_template_uri;
	struct spok_log_template *templates;
	size_t ntemplates;
	struct spok_log_template *dynamic_links;
	size_t ndynamic_links;
};

struct spok_feature {
	char *name;
	struct spok_strmap spark_config;
};

struct spok_spark_config {
	struct spok_strmap spark_config_default;
	char *history_server_url;
	struct spok_feature *features;
	size_t nfeatures;
	struct spok_log_config logs_mixed;
	struct spok_log_config logs_user;
	struct spok_log_config logs_system;
	struct spok_log_config logs_all_user;
};

struct spok_k8s_config {
	struct spok_strmap default_annotations;
	struct spok_strmap default_labels;
	struct spok_strmap default_env_vars;
	struct spok_strmap default_node_selector;
	struct spok_strmap interruptible_node_selector;
	json_t *default_tolerations;        /* array of Toleration, or NULL */
	json_t *interruptible_tolerations;  /* array of Toleration, or NULL */
	json_t *resource_tolerations;       /* object: resource name -> array of Toleration */
	json_t *default_affinity;           /* Affinity object, or NULL */
	json_t *interruptible_node_selector_requirement;     /* NodeSelectorRequirement */
	json_t *non_interruptible_node_selector_requirement; /* NodeSelectorRequirement */
	json_t *default_pod_security_context;
	json_t *default_security_context;
	json_t *default_pod_dns_config;
	char *scheduler_name;
	char *image_pull_policy;
	/* GPU accelerators (defaults as Flyte's: k8s.amazonaws.com/accelerator,
	 * k8s.amazonaws.com/gpu-partition-size, nvidia.com/gpu) */
	char *gpu_device_node_label;
	char *gpu_partition_size_node_label;
	char *gpu_resource_name;
	json_t *gpu_unpartitioned_node_selector_requirement; /* NodeSelectorRequirement, or NULL */
	json_t *gpu_unpartitioned_toleration;                /* Toleration, or NULL */
	/* resource names whose request earns an Exists/NoSchedule toleration */
	struct spok_strv add_tolerations_for_extended_resources;
	bool enable_host_networking_pod;
	bool inject_finalizer;
	bool delete_resource_on_finalize;
};

/* Values for one project's cluster-resource templates (spok.cluster-resources.project-values). */
struct spok_project_values {
	char *project;
	struct spok_strmap values;
};

/* `spok cluster sync` settings (spok.cluster-resources; see docs/PROVISIONING.md). */
struct spok_cluster_resources {
	char *templates_dir;          /* template directory (relative paths are resolved against
	                               * the config file's directory); NULL: unset */
	struct spok_strv projects;    /* projects to provision */
	struct spok_strv domains;     /* empty: development, staging, production */
	struct spok_strmap values;    /* {{ name }} values for every project */
	struct spok_project_values *project_values; /* per project (override `values`) */
	size_t nproject_values;
};

void spok_cluster_resources_free(struct spok_cluster_resources *c);

/* spok's own settings (section `spok:` of the config file). */
struct spok_settings {
	char *default_image;        /* image when a task names none */
	char *namespace_template;   /* default "{{project}}-{{domain}}" */
	char *default_service_account; /* fallback when the task names none; default "spark" */
	int name_max_len;           /* generated name limit; default 50 (Flyte IDMaxLength) */
	/* `spok serve` sections, kept as JSON and validated by src/server (docs/SERVER.md):
	 * clusters (array), routes (array), server (object); NULL when absent. */
	json_t *clusters;
	json_t *routes;
	json_t *server;
	/* pools: warm Spark Connect pools (array), kept as JSON and validated by src/connect
	 * (docs/CONFIG.md, spok.pools); NULL when absent. Positions as for the three above. */
	json_t *pools;
	/* warm-rules: which jobs `spok run` runs warm (array; src/connect, docs/CONFIG.md);
	 * NULL when absent. Positions as above. */
	json_t *warm_rules;
	/* Where each node of those three starts in the config file: field path as src/server
	 * names it ("spok.clusters[0].server") -> "line:col". Empty for built-in defaults. */
	struct spok_strmap positions;
	struct spok_cluster_resources cluster_resources; /* `spok cluster sync` */
	/* cluster runs (src/engine) */
	bool keep_on_success;          /* keep-on-success: leave the SparkApplication after success */
	uint64_t submitted_timeout_ms; /* submitted-timeout: stuck in SUBMITTED; 0 = 10 min */
	char *spark_version;           /* spark-version: fills an empty spec.sparkVersion, or NULL */
	/* event-log: where cluster runs' drivers write Spark event logs for a history server
	 * (docs/CONFIG.md). Unset (all NULL): the SparkApplication carries none of it. */
	char *event_log_dir;      /* spark.eventLog.dir: file:///<path> or a URI (s3a://...) */
	char *event_log_mount;    /* the <path> of a file:/// dir, where the volume is mounted */
	json_t *event_log_volume; /* a Kubernetes volume source ({hostPath: ...}), or NULL */
	/* flyte-data: where flytekit tasks run by spok on a cluster read inputs.pb and write
	 * their outputs (docs/CONFIG.md). Unset (all NULL): their {{.Input}} etc. stay as
	 * written, as for any other backend's data plane. */
	char *flyte_data_dir;       /* the volume's mount path in driver and executor pods */
	json_t *flyte_data_volume;  /* a Kubernetes volume source */
	char *flyte_data_local_dir; /* where spok reads and writes the same storage */
};

struct spok_platform {
	char *source_path;          /* config file, or NULL for built-in defaults */
	struct spok_spark_config spark;
	struct spok_k8s_config k8s;
	struct spok_settings spok;
	/* One line per load-time warning (unknown key, key lower-cased the way Flyte's loader
	 * does), "<file>:<line>:<col>: <field path>: <what happened>; <what to do>". The
	 * loader also prints each once to stderr. */
	struct spok_strv warnings;
};

/* Built-in defaults, equal to Flyte's: logs.mixed kubernetes-enabled with the
 * localhost:30082 dashboard template; default-annotations safe-to-evict "false". */
void spok_platform_init(struct spok_platform *p);
void spok_platform_free(struct spok_platform *p);
void spok_log_config_free(struct spok_log_config *c);

/* The namespace for a project/domain from spok.namespace-template ({{project}}, {{domain}}
 * substituted; default "{{project}}-{{domain}}"). Caller frees. */
char *spok_namespace_for(const struct spok_platform *p, const char *project, const char *domain);

#endif
