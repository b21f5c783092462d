/* internal.h - what the files of src/direct share; not part of the module API.
 *
 * Ownership: json_t* parameters are borrowed unless the name says "steal"; functions that
 * return json_t* return a new reference; strings returned are heap strings the caller frees.
 */
#ifndef SPOK_DIRECT_INTERNAL_H
#define SPOK_DIRECT_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>

#include "common/err.h"
#include "common/strmap.h"

enum spok__dx_kind { SPOK__DX_JAVA, SPOK__DX_PYTHON, SPOK__DX_R };

/* One build: the SparkApplication's parts (borrowed), the names derived from it and the
 * Spark conf the driver will read. */
struct spok__dx {
	const json_t *app, *spec, *drv, *exe;
	const char *name, *ns;
	enum spok__dx_kind kind;
	const char *main_class;      /* --class */
	const char *resource;        /* the primary resource as the driver gets it */
	const char *user, *version;
	char *app_id, *svc, *cm, *pod_name;
	long long driver_port, bm_port, ui_port;
	json_t *exec_template;       /* the executors' pod template (owned), or NULL */
	struct spok_strmap conf;     /* the final conf, in the order it was written */
};

/* spark.properties content (conf.c): the operator's translation of the spec, then what
 * spark-submit adds. Fills d->conf, the ports and d->resource. */
int spok__dx_conf(struct spok__dx *d, struct spok_err *err);
/* Java's Properties.store text of conf: one comment line, then key=value sorted bytewise. */
char *spok__dx_properties(const struct spok_strmap *conf, const char *cm_name);
/* JavaUtils.byteStringAs(s, MiB): "1000M", "1g", "512" (MiB), "2048k"; false when Spark
 * would refuse it (fraction, unknown unit, over 2^31 MiB). */
bool spok__dx_mib(const char *s, long long *mib);
/* Entries of conf whose key starts with prefix, prefix removed, sorted bytewise. */
void spok__dx_prefixed(const struct spok_strmap *conf, const char *prefix,
		       struct spok_strmap *out);
/* Spark's Utils.substituteAppNExecIds: {{APP_ID}} -> app_id, {{EXECUTOR_ID}} -> "". */
char *spok__dx_subst(const char *v, const char *app_id);

/* The driver pod (pod.c). */
int spok__dx_pod(struct spok__dx *d, json_t **out, struct spok_err *err);
/* The executors' pod template: spec.executor.template plus the webhook's executor fields
 * (pod.c); NULL-free: always an object. */
json_t *spok__dx_exec_template(const struct spok__dx *d);

/* Small JSON helpers (pod.c). */
json_t *spok__dx_obj(json_t *parent, const char *key);   /* parent[key], created as {} */
json_t *spok__dx_arr(json_t *parent, const char *key);   /* parent[key], created as [] */
json_t *spok__dx_map_json(const struct spok_strmap *m);  /* {k: v} in m's order */

#endif
