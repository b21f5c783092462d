/* sparkapp.h - the pure core that turns one task attempt into a SparkApplication.
 *
 * Reproduces Flyte's Spark plugin (flyteplugins/go/tasks/plugins/k8s/spark) plus the parts of
 * flytepropeller it relies on (generated names, object metadata, pod defaults, container-arg
 * templating). Where Flyte is nondeterministic (Go map order) spok picks a documented order;
 * every deliberate difference is listed in docs/DIFFERENCES.md.
 *
 * Pure: no I/O, no clock (time comes in x->now_ms), no randomness. Nothing here keeps a
 * pointer to its arguments after returning.
 *
 * Ownership: spok_sparkapp_build hands back a new json_t (caller json_decref()s); the string
 * functions return heap strings the caller free()s; spok_sparkapp_conf fills a caller-owned
 * map the caller releases with spok_strmap_free.
 */
#ifndef SPOK_SPARKAPP_SPARKAPP_H
#define SPOK_SPARKAPP_SPARKAPP_H

#include <jansson.h>
#include <stddef.h>

#include "common/err.h"
#include "common/strmap.h"
#include "model/model.h"

/* The one spelling of the SparkApplication resource: its API group, version and plural.
 * SPOK_SPARKAPP_GVR initialises a struct kube_gvr (src/kube) without this module needing
 * kube: `static const struct kube_gvr SPARKAPPS = SPOK_SPARKAPP_GVR;`. */
#define SPOK_SPARKAPP_GROUP "sparkoperator.k8s.io"
#define SPOK_SPARKAPP_VERSION "v1beta2"
#define SPOK_SPARKAPP_PLURAL "sparkapplications"
#define SPOK_SPARKAPP_API_VERSION SPOK_SPARKAPP_GROUP "/" SPOK_SPARKAPP_VERSION
#define SPOK_SPARKAPP_GVR {SPOK_SPARKAPP_GROUP, SPOK_SPARKAPP_VERSION, SPOK_SPARKAPP_PLURAL}

/* Builds the SparkApplication (apiVersion sparkoperator.k8s.io/v1beta2) for one attempt.
 * x->execution_name and x->namespace_ are required; x->node_id defaults to "n0".
 * On success *out is a new json_t (caller decrefs) whose keys come in a fixed order (maps are
 * sorted bytewise, like Go's encoding/json). On error *out is NULL and err holds one line
 * naming the field, in Flyte's wording where Flyte has one, e.g.
 * "either mainApplicationFile or mainClass must be set",
 * "invalid TaskSpecification, container [X] not defined",
 * "Unable to unmarshal driver pod spec". */
int spok_sparkapp_build(const struct spok_task *t, const struct spok_platform *p,
			const struct spok_exec *x, json_t **out, struct spok_err *err);

/* Flyte's FixedLengthUniqueIDForParts: joins parts with '-' (no separator while the result is
 * still empty) and, if longer than max_len, returns "f" + base32(FNV-1a-32(joined)) with the
 * alphabet abcdefghijklmnopqrstuvwxyz123456 and no padding (8 characters). Returns NULL when
 * a hash is needed but max_len < 8 (Flyte errors there too). Caller frees. */
char *spok_generated_name(const char *const *parts, size_t nparts, int max_len);

/* spok's own switches in a task's sparkConf (spok.warm, spok.cold: docs/CLI.md, "Warm
 * runs"): read by `spok run`, never sent to Spark (docs/DIFFERENCES.md). */
bool spok_sparkapp_spok_key(const char *key);

/* The effective sparkConf map alone (Flyte getSparkConfig), in spok's documented order:
 * spark-config-default -> executorPath -> user keys sorted bytewise except spok's own
 * (spok_sparkapp_spok_key) (feature flags that
 * expand are held back) -> enabled features in flag-key order -> limit.cores derivation ->
 * podNamePrefix = generated_name and driverEnv.FLYTE_START_TIME = x->now_ms.
 * dst should be empty; entries are appended in the order above (later writes replace in
 * place). generated_name NULL is treated as "". Caller frees dst with spok_strmap_free. */
void spok_sparkapp_conf(const struct spok_task *t, const struct spok_platform *p,
			const struct spok_exec *x, const char *generated_name,
			struct spok_strmap *dst);

/* Renders Flyte container-arg templates ({{.Input}}, {{.OutputPrefix}}, {{.InputPrefix}},
 * {{.RawOutputDataPrefix}}, {{.PrevCheckpointPrefix}}, {{.CheckpointOutputPrefix}},
 * {{.PerRetryUniqueKey}}, {{.Namespace}}; case-insensitive, '.' or '$' prefix, optional
 * inner whitespace), substituted in Flyte's order. Placeholders whose value is NULL in x
 * (or generated_name NULL for PerRetryUniqueKey) stay as they are; an empty prev_checkpoint
 * renders as the two characters "" like Flyte's first attempt. Caller frees. */
char *spok_render_arg(const char *arg, const struct spok_exec *x, const char *generated_name);

/* Flyte's ConvertToDNS1123SubdomainCompatibleString: returns a copy of name if it already is a
 * DNS-1123 subdomain, else the converted name (camelCase -> kebab, lower-case, invalid chars
 * dropped, '.'/'-' trimmed, shortened with a hash suffix past 253). Caller frees. */
char *spok_dns1123_subdomain(const char *name);

/* flytepropeller's SanitizeLabelValue (node-id / task-name labels): lower-case, runs outside
 * [-a-z0-9] become '-', cut to 63 bytes, '-' trimmed. Caller frees. */
char *spok_label_value(const char *name);

/* The driver's volume for the platform's event-log dir (spok.event-log in docs/CONFIG.md):
 * when configured, sparkConf gets spark.eventLog.enabled=true and spark.eventLog.dir, and a
 * dir that is a path gets this volume mounted there in the driver's pod template. */
#define SPOK_EVENT_LOG_VOLUME "spok-event-log"
/* The driver's and executors' volume for the platform's flyte-data storage (spok.flyte-data),
 * mounted at its dir when spok_exec.flyte_data is set. */
#define SPOK_FLYTE_DATA_VOLUME "spok-flyte-data"

/* ---- shipping local files (`spok run --cluster`; docs/ARCHITECTURE.md "Shipping local
 * files") ----
 * A task's local paths (no URI scheme: mainApplicationFile, pyFiles, files) are sent as ONE immutable ConfigMap per attempt,
 * named <SparkApplication name>-files and labelled like the SparkApplication, mounted
 * read-only at SPOK_SHIP_MOUNT in the driver and executor pods through their pod templates;
 * the paths become local://SPOK_SHIP_MOUNT/<base name>. The builder does this when
 * x->ship_local_files is set; the caller reads the files and creates the ConfigMap. */
#define SPOK_SHIP_MOUNT "/opt/spok/files"
#define SPOK_SHIP_VOLUME "spok-files"
#define SPOK_SHIP_SUFFIX "-files"
/* Cap on the shipped bytes of one attempt: the API server refuses a ConfigMap whose data
 * exceed 1 MiB; 24 KiB are left for keys, metadata and slack. */
#define SPOK_SHIP_MAX_BYTES (1000u * 1024u)

struct spok_ship_file {
	char *field;          /* job-file key, e.g. "mainApplicationFile" */
	char *path;           /* as written in the task */
	char *key;            /* ConfigMap key = base name */
	unsigned char *data;  /* the content once read (the caller fills it), or NULL */
	size_t len;
};

struct spok_ship {
	struct spok_ship_file *files;
	size_t n;
};

/* True when path has no URI scheme (pi.py, /abs/pi.py, ../x.jar): a file on the submitting
 * machine. local://, file:, s3a://, https:// ... are not local. NULL/"" are not. */
bool spok_path_is_local(const char *path);
/* The task's local paths (mainApplicationFile, then pyFiles, then files, in the order
 * written) with their keys; out->n == 0 when there are none. SPOK_EINVAL naming the file when a base name is not a valid ConfigMap key
 * or two files share one. Free with spok_ship_free. */
int spok_ship_list(const struct spok_task *t, struct spok_ship *out, struct spok_err *err);
void spok_ship_free(struct spok_ship *s);
/* The task's first local path (same order as spok_ship_list) and, in *field, its job-file
 * key; NULL when it has none. Borrowed from t. */
const char *spok_ship_first_local(const struct spok_task *t, const char **field);
/* "<app_name>-files". Caller frees. */
char *spok_ship_configmap_name(const char *app_name);
/* "local://SPOK_SHIP_MOUNT/<base name of path>". Caller frees. */
char *spok_ship_uri(const char *path);
/* The ConfigMap for app (a built SparkApplication: name, namespace and labels are taken
 * from it) holding s's files (data may be NULL for empty) as binaryData. New reference. */
json_t *spok_ship_configmap(const json_t *app, const struct spok_ship *s);

#endif
