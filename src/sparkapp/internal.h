/* internal.h - helpers shared by the files of src/sparkapp; not part of the module API.
 *
 * Ownership: functions returning json_t* return a new reference; json_t* parameters are
 * borrowed unless the name says "steal". Returned strings are heap strings the caller frees.
 */
#ifndef SPOK_SPARKAPP_INTERNAL_H
#define SPOK_SPARKAPP_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "common/strmap.h"
#include "model/model.h"

/* A JSON string for s; invalid UTF-8 becomes U+FFFD as Go's encoding/json does. */
json_t *spok__jstr(const char *s);
/* obj[key] = val (stolen), with the same UTF-8 repair applied to key. */
void spok__jset(json_t *obj, const char *key, json_t *val);
/* A JSON object holding m's entries sorted bytewise by key (Go map encoding order). */
json_t *spok__jmap_sorted(const struct spok_strmap *m);

/* Several maps layered into one sorted JSON object without copying a string: add entries
 * in precedence order (a later key wins, as spok_strmap_set would), then take the object.
 * Entries are borrowed until spok__kvs_json; a zeroed struct is empty; up to
 * SPOK__KVS_INLINE entries need no heap. */
#define SPOK__KVS_INLINE 32
struct spok__kvref {
	const char *key;
	const char *value;
	size_t seq;
};
struct spok__kvs {
	struct spok__kvref *v; /* inline_ or the heap */
	size_t len, cap;
	struct spok__kvref inline_[SPOK__KVS_INLINE];
};
void spok__kvs_add(struct spok__kvs *s, const char *key, const char *value);
void spok__kvs_add_map(struct spok__kvs *s, const struct spok_strmap *m);
/* Sorts s bytewise by key and keeps the winner of each key (read s->v[0 .. s->len)). */
void spok__kvs_sort(struct spok__kvs *s);
void spok__kvs_free(struct spok__kvs *s);
/* The object (new reference), keys sorted bytewise, one per key; frees s. */
json_t *spok__kvs_json(struct spok__kvs *s);
/* {"name": name, "value": value}, "value" left out when empty (Go omitempty). */
json_t *spok__env_var(const char *name, const char *value);

/* One role's pod, after Flyte's ToK8sPodSpec and the role overlay. */
struct spok__role {
	json_t *pod;       /* PodSpec object (owned) */
	json_t *primary;   /* primary container inside pod (borrowed from pod) */
};

struct spok__ctx {
	const struct spok_task *t;
	const struct spok_platform *p;
	const struct spok_exec *x;
	const char *gen;   /* generated name */
	const char *app_name; /* metadata.name (the DNS-1123 form of gen) */
	const char *node_label; /* label values of the node id and task name (NULL: none) */
	const char *task_label;
	bool ship;         /* local files are shipped: rewrite paths, mount the ConfigMap */
};

/* Builds the driver (is_driver, never interruptible) or executor pod. */
int spok__role_build(const struct spok__ctx *c, bool is_driver, struct spok__role *out,
		     struct spok_err *err);
void spok__role_free(struct spok__role *r);

/* Appends the shipped-files ConfigMap of app_name to volumes and its mount to mounts (ship.c). */
void spok__ship_volume(const char *app_name, json_t *volumes, json_t *mounts);
/* The role's pod template (template.c): the volumes spok mounts into Spark's container
 * (shipped files; the platform's event-log volume on the driver; its flyte-data volume on
 * both when c->x->flyte_data), or NULL when none. */
json_t *spok__pod_template(const struct spok__ctx *c, bool is_driver);
/* PYTHONPATH for t's shipped pyFiles: the mount, then each shipped .zip/.egg; NULL when no
 * pyFiles entry is shipped. Caller frees. */
char *spok__ship_pythonpath(const struct spok_task *t);

#endif
