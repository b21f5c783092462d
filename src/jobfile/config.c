/* config.c - platform config file -> struct spok_platform (format: docs/CONFIG.md). */
#include "jobfile/jobfile.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "common/xalloc.h"
#include "jobfile/walk.h"
#include "model/execution.h"

/* The walk of one config file plus where its warnings go. Every struct walk in this file
 * is the first member of one of these (spok_config_parse makes it), so readers reach the
 * warning list from the struct walk * they are given. */
struct cwalk {
	struct walk w;
	struct spok_strv *warnings;
};

static const char *const top_keys[] = {"plugins", "spok", NULL};
/* Other sections of a Flyte (propeller/admin) config: skipped without a word. */
static const char *const top_ignored[] = {
	"admin", "auth", "catalog-cache", "cloudEvents", "cluster_resources", "database",
	"domains", "event", "externalEvents", "flyteadmin", "logger", "namespace_mapping",
	"notifications", "otel", "propeller", "qualityOfService", "queues", "registration",
	"remoteData", "resourcemanager", "scheduler", "secrets", "server", "storage",
	"task_resources", "task_type_whitelist", "tasks", "webhook", NULL
};
static const char *const spok_keys[] = {
	"default-image", "namespace-template", "default-service-account", "name-max-len",
	"clusters", "routes", "server", "cluster-resources", "keep-on-success", "submitted-timeout",
	"spark-version", "event-log", "flyte-data", "pools", "warm-rules", NULL
};
static const char *const event_log_keys[] = {"dir", "volume", NULL};
static const char *const flyte_data_keys[] = {"dir", "volume", "local-dir", NULL};
static const char *const cluster_resources_keys[] = {
	"templates-dir", "projects", "domains", "values", "project-values", NULL
};
static const char *const spark_keys[] = {
	"spark-config-default", "spark-history-server-url", "features", "logs", NULL
};
/* Real Flyte keys that spok does not use (see docs/CONFIG.md). */
static const char *const spark_ignored[] = {
	"enable-pod-template", "pod-template-detection-timeout", NULL
};
static const char *const logs_keys[] = {"mixed", "user", "system", "all-user", NULL};
static const char *const log_keys[] = {
	"kubernetes-enabled", "kubernetes-url", "kubernetes-template-uri", "cloudwatch-enabled",
	"cloudwatch-region", "cloudwatch-log-group", "cloudwatch-template-uri", "stackdriver-enabled",
	"gcp-project", "stackdriver-logresourcename", "stackdriver-template-uri", "templates",
	"dynamic-log-links", NULL
};
static const char *const template_keys[] = {
	"name", "displayName", "templateUris", "templateUri", "messageFormat", "showWhilePending",
	"hideOnceFinished", NULL
};
static const char *const template_ignored[] = {"dynamicTemplateUris", "scheme", NULL};
static const char *const feature_keys[] = {"name", "spark-config", NULL};
static const char *const k8s_keys[] = {
	"default-annotations", "default-labels", "default-env-vars", "default-node-selector",
	"interruptible-node-selector", "default-tolerations", "interruptible-tolerations",
	"resource-tolerations", "default-affinity", "interruptible-node-selector-requirement",
	"non-interruptible-node-selector-requirement", "default-pod-security-context",
	"default-security-context", "default-pod-dns-config", "scheduler-name", "image-pull-policy",
	"enable-host-networking-pod", "inject-finalizer", "delete-resource-on-finalize",
	"gpu-device-node-label", "gpu-partition-size-node-label", "gpu-resource-name",
	"gpu-unpartitioned-node-selector-requirement", "gpu-unpartitioned-toleration",
	"add-tolerations-for-extended-resources", NULL
};
static const char *const k8s_ignored[] = {
	"default-env-vars-from-env", "default-env-from-configmaps", "default-env-from-secrets",
	"default-cpus", "default-memory", "co-pilot", "create-container-error-grace-period",
	"create-container-config-error-grace-period", "image-pull-backoff-grace-period",
	"pod-pending-timeout", "default-pod-template-name", "default-pod-template-resync",
	"send-object-events", "update-base-backoff-duration", "update-backoff-retries",
	"enable-distributed-error-aggregation", NULL
};

static bool listed(const struct ynode *key, const char *const *list)
{
	for (size_t i = 0; list != NULL && list[i] != NULL; i++)
		if (strlen(list[i]) == key->len && memcmp(list[i], key->text, key->len) == 0)
			return true;
	return false;
}

/* Flyte's config loader is not strict: a key it does not know is ignored. spok ignores it
 * too, with a warning worded like walk_key's error (key, line, nearest valid key).
 * Returns true if the key is to be skipped. The `spok:` section is spok's own, read by no
 * Flyte component: a typo there stays an error (walk_key), so it cannot go unnoticed. */
static bool unknown_key(struct walk *w, const struct ynode *k, const char *field,
			const char *const *keys, const char *const *ignored)
{
	struct spok_err sub = {0};
	struct walk tmp = *w;
	int idx;

	if (strncmp(field, "spok", 4) == 0 && (field[4] == '\0' || field[4] == '.'))
		return false;
	if (k->kind != Y_SCALAR || listed(k, keys) || listed(k, ignored))
		return false;
	tmp.err = &sub;
	(void)walk_key(&tmp, k, field, keys, ignored, &idx);
	spok_strv_pushf(((struct cwalk *)w)->warnings, "%s (ignored, as Flyte ignores it)",
			sub.msg);
	return true;
}

/* Calls fn for each pair of the mapping v after checking its key against keys/ignored;
 * unknown keys are warned about and skipped. */
typedef int (*field_fn)(struct walk *w, void *out, int idx, const struct ynode *v, const char *path);

static int each_field(struct walk *w, const struct ynode *v, const char *field,
		      const char *const *keys, const char *const *ignored, void *out, field_fn fn)
{
	char path[WALK_PATH_MAX];
	int idx;

	if (walk_is_null(v))
		return SPOK_OK;
	if (walk_mapping(w, v, field) != SPOK_OK)
		return SPOK_EINVAL;
	for (size_t i = 0; i < v->n; i++) {
		const struct ynode *k = v->items[2 * i];

		if (unknown_key(w, k, field, keys, ignored))
			continue;
		if (walk_key(w, k, field, keys, ignored, &idx) != SPOK_OK)
			return SPOK_EINVAL;
		if (idx < 0)
			continue;
		walk_child(path, field, k);
		if (fn(w, out, idx, v->items[2 * i + 1], path) != SPOK_OK)
			return SPOK_EINVAL;
	}
	return SPOK_OK;
}

/* ---- Flyte map options ---- */

static bool has_upper(const char *k)
{
	for (; *k; k++)
		if (*k >= 'A' && *k <= 'Z')
			return true;
	return false;
}

static char *ascii_lower(const char *k)
{
	char *l = xstrdup(k);

	for (char *p = l; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return l;
}

/* Flyte's loader (viper) lower-cases the keys of a mapping; list form ([{KEY: v}]) keeps
 * them. spok does the same for keys without a dot, and says so: a key silently changing
 * case (AWS_REGION -> aws_region) would surprise. A key with a dot Flyte keeps as written
 * and adds a lower-cased copy as well; spok keeps only the key as written (a stray
 * lower-cased node selector or label could do harm) and warns. Returns the key to use. */
static char *flyte_key(struct walk *w, const struct ynode *k, const char *field)
{
	char path[WALK_PATH_MAX], *lower;

	if (k->kind != Y_SCALAR || strlen(k->text) != k->len || !has_upper(k->text))
		return xstrdup(k->kind == Y_SCALAR ? k->text : "");
	lower = ascii_lower(k->text);
	walk_child(path, field, k);
	if (strchr(k->text, '.') != NULL) {
		spok_strv_pushf(((struct cwalk *)w)->warnings,
				"%s:%d:%d: %s: Flyte's config loader adds a lower-cased copy '%.80s' of "
				"this key; spok does not (docs/DIFFERENCES.md); write the map as a list "
				"(- KEY: value) to get the same result from both",
				w->path, k->line, k->col, path, lower);
		free(lower);
		return xstrdup(k->text);
	}
	spok_strv_pushf(((struct cwalk *)w)->warnings,
			"%s:%d:%d: %s: Flyte's config loader lower-cases this key to '%.80s', and so "
			"does spok; write the map as a list (- KEY: value) to keep its case",
			w->path, k->line, k->col, path, lower);
	return lower;
}

/* A Flyte map[string]string option (mapping, or Helm's list of single-entry mappings).
 * Flyte decodes the file over a copy of its defaults: a map with entries replaces the
 * default, an empty one or null leaves it (default-annotations keeps safe-to-evict). */
static int read_flyte_map(struct walk *w, const struct ynode *v, const char *path,
			  struct spok_strmap *out)
{
	struct spok_strmap m = {0};

	if (walk_strmap(w, v, path, true, &m) != SPOK_OK)
		return SPOK_EINVAL;
	if (v->kind == Y_MAP) {
		struct spok_strmap keyed = {0};

		for (size_t i = 0; i < v->n; i++) {
			const struct ynode *k = v->items[2 * i];
			char *key = flyte_key(w, k, path);
			spok_strmap_set(&keyed, key, spok_strmap_get(&m, k->text));
			free(key);
		}
		spok_strmap_free(&m);
		m = keyed;
	}
	if (m.len > 0) {
		spok_strmap_free(out);
		*out = m;
	}
	return SPOK_OK;
}

/* ---- log templates ---- */

static int read_format(struct walk *w, const struct ynode *v, const char *path, int *out)
{
	static const char *const names[] = {"unknown", "csv", "json"};
	char *s = NULL;
	int result = SPOK_EINVAL;

	if (walk_string(w, v, path, &s) != SPOK_OK)
		return SPOK_EINVAL;
	for (int i = 0; s != NULL && i < 3; i++) {
		if (strcasecmp(s, names[i]) == 0 || (s[0] == (char)('0' + i) && s[1] == '\0')) {
			*out = i;
			result = SPOK_OK;
		}
	}
	if (result != SPOK_OK)
		result = walk_fail(w, v, path, "unknown message format '%.80s'; use 0|1|2 or unknown|csv|json",
				   s ? s : "");
	free(s);
	return result;
}

static int template_field(struct walk *w, void *out, int idx, const struct ynode *v, const char *path)
{
	struct spok_log_template *t = out;

	switch (idx) {
	case 0: return walk_string(w, v, path, &t->name);
	case 1: return walk_string(w, v, path, &t->display_name);
	case 2: return walk_strv(w, v, path, &t->template_uris);
	case 3: {
		char *s = NULL;
		if (walk_string(w, v, path, &s) != SPOK_OK)
			return SPOK_EINVAL;
		spok_strv_free(&t->template_uris);
		if (s != NULL)
			spok_strv_push_own(&t->template_uris, s);
		return SPOK_OK;
	}
	case 4: return read_format(w, v, path, &t->message_format);
	case 5: return walk_bool(w, v, path, &t->show_while_pending);
	default: return walk_bool(w, v, path, &t->hide_once_finished);
	}
}

static struct spok_log_template *add_template(struct spok_log_template **arr, size_t *n)
{
	*arr = xreallocarray(*arr, *n + 1, sizeof(**arr));
	memset(&(*arr)[*n], 0, sizeof(**arr));
	return &(*arr)[(*n)++];
}

static int read_templates(struct walk *w, const struct ynode *v, const char *field,
			  struct spok_log_config *c)
{
	char path[WALK_PATH_MAX];

	if (walk_is_null(v))
		return SPOK_OK;
	if (v->kind != Y_SEQ)
		return walk_fail(w, v, field, "expected a list of templates; write '- displayName: ...' items");
	for (size_t i = 0; i < v->n; i++) {
		struct spok_log_template *t = add_template(&c->templates, &c->ntemplates);

		walk_index(path, field, i);
		if (each_field(w, v->items[i], path, template_keys, template_ignored, t, template_field) != SPOK_OK)
			return SPOK_EINVAL;
	}
	return SPOK_OK;
}

/* lower: the names came in mapping form, which Flyte's loader lower-cases (flyte_key). */
static int read_dynamic_pairs(struct walk *w, const struct ynode *m, const char *field,
			      bool lower, struct spok_log_config *c)
{
	char path[WALK_PATH_MAX];

	for (size_t i = 0; i < m->n; i++) {
		const struct ynode *k = m->items[2 * i];
		struct spok_log_template *t;
		char *name = NULL;

		walk_child(path, field, k);
		if (walk_text(w, k, path, &name) != SPOK_OK)
			return SPOK_EINVAL;
		if (lower) {
			free(name);
			name = flyte_key(w, k, field);
		}
		t = add_template(&c->dynamic_links, &c->ndynamic_links);
		if (each_field(w, m->items[2 * i + 1], path, template_keys, template_ignored, t,
			       template_field) != SPOK_OK) {
			free(name);
			return SPOK_EINVAL;
		}
		free(t->name);  /* the mapping key is the link's name (what link_type selects) */
		t->name = name;
	}
	return SPOK_OK;
}

/* dynamic-log-links: {name: template} or Helm's [{name: template}, ...]. */
static int read_dynamic(struct walk *w, const struct ynode *v, const char *field,
			struct spok_log_config *c)
{
	char path[WALK_PATH_MAX];

	if (walk_is_null(v))
		return SPOK_OK;
	if (v->kind == Y_MAP)
		return read_dynamic_pairs(w, v, field, true, c);
	if (v->kind != Y_SEQ)
		return walk_fail(w, v, field, "expected a mapping of name: template; write 'name: {displayName: ..., templateUris: [...]}'");
	for (size_t i = 0; i < v->n; i++) {
		walk_index(path, field, i);
		if (walk_mapping(w, v->items[i], path) != SPOK_OK ||
		    read_dynamic_pairs(w, v->items[i], field, false, c) != SPOK_OK)
			return SPOK_EINVAL;
	}
	return SPOK_OK;
}

static int log_field(struct walk *w, void *out, int idx, const struct ynode *v, const char *path)
{
	struct spok_log_config *c = out;

	switch (idx) {
	case 0: return walk_bool(w, v, path, &c->kubernetes_enabled);
	case 1: return walk_string(w, v, path, &c->kubernetes_url);
	case 2: return walk_string(w, v, path, &c->kubernetes_template_uri);
	case 3: return walk_bool(w, v, path, &c->cloudwatch_enabled);
	case 4: return walk_string(w, v, path, &c->cloudwatch_region);
	case 5: return walk_string(w, v, path, &c->cloudwatch_log_group);
	case 6: return walk_string(w, v, path, &c->cloudwatch_template_uri);
	case 7: return walk_bool(w, v, path, &c->stackdriver_enabled);
	case 8: return walk_string(w, v, path, &c->gcp_project);
	case 9: return walk_string(w, v, path, &c->stackdriver_logresourcename);
	case 10: return walk_string(w, v, path, &c->stackdriver_template_uri);
	case 11: return read_templates(w, v, path, c);
	default: return read_dynamic(w, v, path, c);
	}
}

static int logs_field(struct walk *w, void *out, int idx, const struct ynode *v, const char *path)
{
	struct spok_spark_config *s = out;
	struct spok_log_config *c = idx == 0 ? &s->logs_mixed : idx == 1 ? &s->logs_user :
				    idx == 2 ? &s->logs_system : &s->logs_all_user;

	/* Flyte decodes a section over its defaults: keys not given keep their default. */
	return each_field(w, v, path, log_keys, NULL, c, log_field);
}

/* ---- plugins.spark ---- */

static int feature_field(struct walk *w, void *out, int idx, const struct ynode *v, const char *path)
{
	struct spok_feature *f = out;

	if (idx == 0)
		return walk_string(w, v, path, &f->name);
	return walk_strmap(w, v, path, true, &f->spark_config);
}

static void features_free(struct spok_spark_config *s)
{
	for (size_t i = 0; i < s->nfeatures; i++) {
		free(s->features[i].name);
		spok_strmap_free(&s->features[i].spark_config);
	}
	free(s->features);
	s->features = NULL;
	s->nfeatures = 0;
}

static int read_features(struct walk *w, const struct ynode *v, const char *field,
			 struct spok_spark_config *s)
{
	char path[WALK_PATH_MAX];

	features_free(s);
	if (walk_is_null(v))
		return SPOK_OK;
	if (v->kind != Y_SEQ)
		return walk_fail(w, v, field, "expected a list of features; write '- name: ...' items with spark-config");
	for (size_t i = 0; i < v->n; i++) {
		struct spok_feature *f;

		s->features = xreallocarray(s->features, s->nfeatures + 1, sizeof(*s->features));
		f = &s->features[s->nfeatures++];
		memset(f, 0, sizeof(*f));
		walk_index(path, field, i);
		if (each_field(w, v->items[i], path, feature_keys, NULL, f, feature_field) != SPOK_OK)
			return SPOK_EINVAL;
		if (f->name == NULL || f->name[0] == '\0')
			return walk_fail(w, v->items[i], path, "feature has no name; add 'name: <feature>'");
	}
	return SPOK_OK;
}

static int spark_field(struct walk *w, void *out, int idx, const struct ynode *v, const char *path)
{
	struct spok_spark_config *s = out;

	switch (idx) {
	case 0: return read_flyte_map(w, v, path, &s->spark_config_default);
	case 1: return walk_string(w, v, path, &s->history_server_url);
	case 2: return read_features(w, v, path, s);
	default: return each_field(w, v, path, logs_keys, NULL, s, logs_field);
	}
}

/* ---- plugins.k8s ---- */

static int read_resource_tolerations(struct walk *w, const struct ynode *v, const char *path,
				     json_t **out)
{
	char child[WALK_PATH_MAX];

	if (!walk_is_null(v) && v->kind == Y_MAP) {
		for (size_t i = 0; i < v->n; i++) {
			const struct ynode *val = v->items[2 * i + 1];

			walk_child(child, path, v->items[2 * i]);
			if (val->kind != Y_SEQ && !walk_is_null(val))
				return walk_fail(w, val, child, "expected a list of tolerations; write '- key: ...' items");
		}
	}
	if (walk_json(w, v, path, Y_MAP, out) != SPOK_OK)
		return SPOK_EINVAL;
	if (*out != NULL && v->kind == Y_MAP) {
		json_t *keyed = json_object();

		for (size_t i = 0; i < v->n; i++) {
			const struct ynode *k = v->items[2 * i];
			char *key = flyte_key(w, k, path);
			json_object_set(keyed, key, json_object_get(*out, k->text));
			free(key);
		}
		json_decref(*out);
		*out = keyed;
	}
	return SPOK_OK;
}

/* A string option with a default: null keeps the default, as in Flyte's loader. */
static int flyte_string(struct walk *w, const struct ynode *v, const char *path, char **out)
{
	char *s = NULL;

	if (walk_string(w, v, path, &s) != SPOK_OK)
		return SPOK_EINVAL;
	if (s != NULL) {
		free(*out);
		*out = s;
	}
	return SPOK_OK;
}

static int k8s_field(struct walk *w, void *out, int idx, const struct ynode *v, const char *path)
{
	struct spok_k8s_config *k = out;

	switch (idx) {
	case 0: return read_flyte_map(w, v, path, &k->default_annotations);
	case 1: return read_flyte_map(w, v, path, &k->default_labels);
	case 2: return read_flyte_map(w, v, path, &k->default_env_vars);
	case 3: return read_flyte_map(w, v, path, &k->default_node_selector);
	case 4: return read_flyte_map(w, v, path, &k->interruptible_node_selector);
	case 5: return walk_json(w, v, path, Y_SEQ, &k->default_tolerations);
	case 6: return walk_json(w, v, path, Y_SEQ, &k->interruptible_tolerations);
	case 7: return read_resource_tolerations(w, v, path, &k->resource_tolerations);
	case 8: return walk_json(w, v, path, Y_MAP, &k->default_affinity);
	case 9: return walk_json(w, v, path, Y_MAP, &k->interruptible_node_selector_requirement);
	case 10: return walk_json(w, v, path, Y_MAP, &k->non_interruptible_node_selector_requirement);
	case 11: return walk_json(w, v, path, Y_MAP, &k->default_pod_security_context);
	case 12: return walk_json(w, v, path, Y_MAP, &k->default_security_context);
	case 13: return walk_json(w, v, path, Y_MAP, &k->default_pod_dns_config);
	case 14: return walk_string(w, v, path, &k->scheduler_name);
	case 15: return walk_string(w, v, path, &k->image_pull_policy);
	case 16: return walk_bool(w, v, path, &k->enable_host_networking_pod);
	case 17: return walk_bool(w, v, path, &k->inject_finalizer);
	case 18: return walk_bool(w, v, path, &k->delete_resource_on_finalize);
	case 19: return flyte_string(w, v, path, &k->gpu_device_node_label);
	case 20: return flyte_string(w, v, path, &k->gpu_partition_size_node_label);
	case 21: return flyte_string(w, v, path, &k->gpu_resource_name);
	case 22: return walk_json(w, v, path, Y_MAP, &k->gpu_unpartitioned_node_selector_requirement);
	case 23: return walk_json(w, v, path, Y_MAP, &k->gpu_unpartitioned_toleration);
	default: return walk_strv(w, v, path, &k->add_tolerations_for_extended_resources);
	}
}

/* ---- top level ---- */

static int read_plugins(struct walk *w, const struct ynode *v, const char *field, struct spok_platform *p)
{
	char path[WALK_PATH_MAX];

	if (walk_is_null(v))
		return SPOK_OK;
	if (walk_mapping(w, v, field) != SPOK_OK)
		return SPOK_EINVAL;
	for (size_t i = 0; i < v->n; i++) {
		const struct ynode *k = v->items[2 * i], *val = v->items[2 * i + 1];
		int result = SPOK_OK;

		if (k->kind != Y_SCALAR)
			return walk_fail(w, k, field, "keys must be scalars; use a plain key");
		walk_child(path, field, k);
		/* Other plugins' sections (plugins.logs, plugins.ray ...) belong to Flyte: skip them. */
		if (strcmp(k->text, "spark") == 0)
			result = each_field(w, val, path, spark_keys, spark_ignored, &p->spark, spark_field);
		else if (strcmp(k->text, "k8s") == 0)
			result = each_field(w, val, path, k8s_keys, k8s_ignored, &p->k8s, k8s_field);
		if (result != SPOK_OK)
			return result;
	}
	return SPOK_OK;
}

/* ---- spok.cluster-resources (docs/PROVISIONING.md) ---- */

/* A relative templates-dir is relative to the config file, so a config works from any cwd. */
static void resolve_templates_dir(struct walk *w, char **dir)
{
	const char *slash = strrchr(w->path, '/');
	char *abs;

	if (*dir == NULL || (*dir)[0] == '/' || slash == NULL)
		return;
	abs = xasprintf("%.*s/%s", (int)(slash - w->path), w->path, *dir);
	free(*dir);
	*dir = abs;
}

static int read_project_values(struct walk *w, const struct ynode *v, const char *field,
			       struct spok_cluster_resources *c)
{
	char path[WALK_PATH_MAX];

	if (walk_is_null(v))
		return SPOK_OK;
	if (walk_mapping(w, v, field) != SPOK_OK)
		return SPOK_EINVAL;
	for (size_t i = 0; i < v->n; i++) {
		struct spok_project_values pv = {0};

		walk_child(path, field, v->items[2 * i]);
		if (walk_text(w, v->items[2 * i], path, &pv.project) != SPOK_OK)
			return SPOK_EINVAL;
		if (walk_strmap(w, v->items[2 * i + 1], path, false, &pv.values) != SPOK_OK) {
			free(pv.project);
			return SPOK_EINVAL;
		}
		c->project_values = xreallocarray(c->project_values, c->nproject_values + 1,
						  sizeof(*c->project_values));
		c->project_values[c->nproject_values++] = pv;
	}
	return SPOK_OK;
}

static int cluster_resources_field(struct walk *w, void *out, int idx, const struct ynode *v,
				   const char *path)
{
	struct spok_cluster_resources *c = out;

	switch (idx) {
	case 0:
		if (walk_string(w, v, path, &c->templates_dir) != SPOK_OK)
			return SPOK_EINVAL;
		resolve_templates_dir(w, &c->templates_dir);
		return SPOK_OK;
	case 1: return walk_strv(w, v, path, &c->projects);
	case 2: return walk_strv(w, v, path, &c->domains);
	case 3: return walk_strmap(w, v, path, true, &c->values);
	default: /* project-values: appears once (duplicate keys are YAML errors) */
		return read_project_values(w, v, path, c);
	}
}

/* spok.submitted-timeout: a duration like "10m" (engine: stuck-in-SUBMITTED deadline). */
static int submitted_timeout(struct walk *w, const struct ynode *v, const char *path,
			     struct spok_settings *s)
{
	char *text = NULL;
	uint64_t ms = 0;
	int result = walk_string(w, v, path, &text);

	if (result == SPOK_OK &&
	    (text == NULL || spok_parse_duration_ms(path, text, &ms, NULL) != SPOK_OK || ms == 0 ||
	     ms > SPOK_TASK_TIMEOUT_MAX_S * 1000))
		result = walk_fail(w, v, path, "expected a positive duration such as 10m or 90s");
	if (result == SPOK_OK)
		s->submitted_timeout_ms = (ms + 999) / 1000 * 1000; /* whole seconds, rounded up */
	free(text);
	return result;
}

/* ---- spok.event-log: cluster runs' event logs (docs/CONFIG.md) ---- */

static int event_log_field(struct walk *w, void *out, int idx, const struct ynode *v,
			   const char *path)
{
	struct spok_settings *s = out;

	if (idx == 0)
		return walk_string(w, v, path, &s->event_log_dir);
	if (walk_json(w, v, path, Y_MAP, &s->event_log_volume) != SPOK_OK)
		return SPOK_EINVAL;
	if (s->event_log_volume != NULL && json_object_size(s->event_log_volume) == 0)
		return walk_fail(w, v, path, "empty volume; give a volume source such as "
				 "'hostPath: {path: /srv/spark-events}' or "
				 "'persistentVolumeClaim: {claimName: spark-events}'");
	if (json_object_get(s->event_log_volume, "name") != NULL)
		return walk_fail(w, v, path, "a volume source has no 'name' (spok names the volume "
				 "spok-event-log); remove it");
	return SPOK_OK;
}

/* An RFC 3986 scheme ("s3a:", "file:") at the start of text. */
static bool has_scheme(const char *text)
{
	const char *p = text;

	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		return false;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
	       *p == '+' || *p == '-' || *p == '.')
		p++;
	return *p == ':';
}

/* The mount path of a dir given as /path, file:/path or file:///path; NULL for another URI
 * (s3a://, hdfs://, ...) or a path that cannot be one (relative, file://host/...). */
static char *event_log_path(const char *dir, bool *is_uri)
{
	const char *p = dir;
	size_t n;

	*is_uri = false;
	if (strncmp(p, "file:///", 8) == 0)
		p += 7;
	else if (strncmp(p, "file:/", 6) == 0 && p[6] != '/')
		p += 5;
	else if (has_scheme(p) && strncmp(p, "file:", 5) != 0) {
		*is_uri = true;
		return NULL;
	}
	if (p[0] != '/' || strstr(p, "/../") != NULL || strstr(p, "/./") != NULL)
		return NULL;
	n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		n--;
	if (n == 1 || (n >= 3 && strncmp(p + n - 3, "/..", 3) == 0) ||
	    (n >= 2 && strncmp(p + n - 2, "/.", 2) == 0))
		return NULL;
	return xstrndup(p, n);
}

/* Reads the section, then checks dir and volume together: a path in the driver pod needs a
 * volume (else the logs end with the pod); a URI names its own store and takes none. */
static int read_event_log(struct walk *w, const struct ynode *v, const char *path,
			  struct spok_settings *s)
{
	bool is_uri;

	if (walk_is_null(v))
		return SPOK_OK;
	if (each_field(w, v, path, event_log_keys, NULL, s, event_log_field) != SPOK_OK)
		return SPOK_EINVAL;
	if (s->event_log_dir == NULL || s->event_log_dir[0] == '\0')
		return walk_fail(w, v, path, "no dir; add 'dir: /spark-events' (a path in the driver "
				 "pod, with a volume) or 'dir: s3a://bucket/spark-events'");
	s->event_log_mount = event_log_path(s->event_log_dir, &is_uri);
	if (is_uri && s->event_log_volume != NULL)
		return walk_fail(w, v, path, "dir %s is a URI and takes no volume; remove 'volume' "
				 "or make dir a path in the driver pod", s->event_log_dir);
	if (is_uri)
		return SPOK_OK;
	if (s->event_log_mount == NULL)
		return walk_fail(w, v, path, "dir '%s' is neither an absolute path (/spark-events, "
				 "file:///spark-events) nor a URI such as s3a://bucket/spark-events; "
				 "fix it", s->event_log_dir);
	if (s->event_log_volume == NULL)
		return walk_fail(w, v, path, "dir %s is a path in the driver pod and needs a volume "
				 "(without one the event logs end with the pod); add 'volume: "
				 "{persistentVolumeClaim: {claimName: spark-events}}' or a hostPath",
				 s->event_log_mount);
	free(s->event_log_dir);
	s->event_log_dir = xasprintf("file://%s", s->event_log_mount);
	return SPOK_OK;
}

/* ---- spok.flyte-data: flytekit tasks' inputs and outputs on a cluster (docs/CONFIG.md) ---- */

/* An absolute path without "." or ".." components or a trailing "/" (kept as is). */
static bool clean_abs_path(const char *p)
{
	size_t n = strlen(p);

	if (p[0] != '/' || n < 2 || p[n - 1] == '/' || strstr(p, "//") != NULL)
		return false;
	for (const char *c = p; c; c = strchr(c + 1, '/'))
		if (strncmp(c, "/./", 3) == 0 || strcmp(c, "/.") == 0 || strncmp(c, "/../", 4) == 0 ||
		    strcmp(c, "/..") == 0)
			return false;
	return true;
}

static int flyte_data_field(struct walk *w, void *out, int idx, const struct ynode *v,
			    const char *path)
{
	struct spok_settings *s = out;

	if (idx == 0)
		return walk_string(w, v, path, &s->flyte_data_dir);
	if (idx == 2)
		return walk_string(w, v, path, &s->flyte_data_local_dir);
	if (walk_json(w, v, path, Y_MAP, &s->flyte_data_volume) != SPOK_OK)
		return SPOK_EINVAL;
	if (s->flyte_data_volume != NULL && json_object_size(s->flyte_data_volume) == 0)
		return walk_fail(w, v, path, "empty volume; give a volume source such as "
				 "'hostPath: {path: /srv/spok-flyte, type: Directory}'");
	if (json_object_get(s->flyte_data_volume, "name") != NULL)
		return walk_fail(w, v, path, "a volume source has no 'name' (spok names the volume "
				 "spok-flyte-data); remove it");
	return SPOK_OK;
}

/* dir (in the pods) and local-dir (here) name one storage: a volume mounted at dir, seen by
 * spok at local-dir; a hostPath volume's path is its local-dir unless one is given. */
static int read_flyte_data(struct walk *w, const struct ynode *v, const char *path,
			   struct spok_settings *s)
{
	const char *host;

	if (walk_is_null(v))
		return SPOK_OK;
	if (each_field(w, v, path, flyte_data_keys, NULL, s, flyte_data_field) != SPOK_OK)
		return SPOK_EINVAL;
	if (s->flyte_data_dir == NULL || !clean_abs_path(s->flyte_data_dir))
		return walk_fail(w, v, path, "dir: expected the absolute path where the volume is "
				 "mounted in the pods, such as 'dir: /var/spok/flyte'");
	if (s->flyte_data_volume == NULL)
		return walk_fail(w, v, path, "no volume; add one that both the pods and this machine "
				 "reach, such as 'volume: {hostPath: {path: /srv/spok-flyte, type: "
				 "Directory}}' or an NFS volume");
	host = json_string_value(json_object_get(json_object_get(s->flyte_data_volume, "hostPath"),
						 "path"));
	if (s->flyte_data_local_dir == NULL && host != NULL)
		s->flyte_data_local_dir = xstrdup(host);
	if (s->flyte_data_local_dir == NULL || !clean_abs_path(s->flyte_data_local_dir))
		return walk_fail(w, v, path, "local-dir: expected the absolute path where this machine "
				 "sees the volume (a hostPath volume's path is the default)");
	return SPOK_OK;
}

/* A `spok serve` section, kept as JSON with the position of each node, so src/server's
 * checks name file:line:col as this reader does. */
static int serve_section(struct walk *w, const struct ynode *v, const char *path, int kind,
			 json_t **out, struct spok_strmap *positions)
{
	int result = walk_json(w, v, path, kind, out);

	if (result == SPOK_OK)
		ydoc_positions(v, path, positions);
	return result;
}

/* spok.clusters[i].submission: checked here (not only by src/server) because `spok run
 * --cluster NAME` reads it too. */
static int check_submissions(struct walk *w, const struct ynode *v, const char *path)
{
	char item[WALK_PATH_MAX], field[WALK_PATH_MAX];

	for (size_t i = 0; v->kind == Y_SEQ && i < v->n; i++) {
		const struct ynode *c = v->items[i];

		for (size_t k = 0; c->kind == Y_MAP && k < c->n; k++) {
			const struct ynode *key = c->items[2 * k], *val = c->items[2 * k + 1];

			if (key->kind != Y_SCALAR || strcmp(key->text, "submission") != 0 ||
			    walk_is_null(val))
				continue;
			walk_index(item, path, i);
			walk_child(field, item, key);
			if (val->kind != Y_SCALAR || (strcmp(val->text, SPOK_SUBMISSION_OPERATOR) != 0 &&
						      strcmp(val->text, SPOK_SUBMISSION_DIRECT) != 0))
				return walk_fail(w, val, field, "expected operator or direct");
		}
	}
	return SPOK_OK;
}

static int spok_field(struct walk *w, void *out, int idx, const struct ynode *v, const char *path)
{
	struct spok_settings *s = out;
	long n;

	switch (idx) {
	case 0: return walk_string(w, v, path, &s->default_image);
	case 1: return walk_string(w, v, path, &s->namespace_template);
	case 2: return walk_string(w, v, path, &s->default_service_account);
	/* `spok serve` sections: shape checked here, fields checked by src/server. */
	case 4:
		if (check_submissions(w, v, path) != SPOK_OK)
			return SPOK_EINVAL;
		return serve_section(w, v, path, Y_SEQ, &s->clusters, &s->positions);
	case 5: return serve_section(w, v, path, Y_SEQ, &s->routes, &s->positions);
	case 6: return serve_section(w, v, path, Y_MAP, &s->server, &s->positions);
	case 7:
		return each_field(w, v, path, cluster_resources_keys, NULL, &s->cluster_resources,
				  cluster_resources_field);
	case 8: return walk_bool(w, v, path, &s->keep_on_success);
	case 9: return submitted_timeout(w, v, path, s);
	case 10: return walk_string(w, v, path, &s->spark_version);
	case 11: return read_event_log(w, v, path, s);
	case 12: return read_flyte_data(w, v, path, s);
	/* warm pools: shape checked here, fields checked by src/connect */
	case 13: return serve_section(w, v, path, Y_SEQ, &s->pools, &s->positions);
	/* which jobs `spok run` runs warm: shape checked here, fields checked by src/connect */
	case 14: return serve_section(w, v, path, Y_SEQ, &s->warm_rules, &s->positions);
	default:
		if (walk_int(w, v, path, 8, 253, &n) != SPOK_OK)
			return SPOK_EINVAL;
		s->name_max_len = (int)n;
		return SPOK_OK;
	}
}

static int top_field(struct walk *w, void *out, int idx, const struct ynode *v, const char *path)
{
	struct spok_platform *p = out;

	if (idx == 0)
		return read_plugins(w, v, path, p);
	return each_field(w, v, path, spok_keys, NULL, &p->spok, spok_field);
}

bool spok_config_direct(const struct spok_platform *p, const char *cluster)
{
	size_t i;
	json_t *c;

	json_array_foreach(p->spok.clusters, i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *ctx = json_string_value(json_object_get(c, "context"));
		const char *sub = json_string_value(json_object_get(c, "submission"));

		if (cluster == NULL || !((name && strcmp(name, cluster) == 0) ||
					 (ctx && strcmp(ctx, cluster) == 0)))
			continue;
		return sub != NULL && strcmp(sub, SPOK_SUBMISSION_DIRECT) == 0;
	}
	return false;
}

int spok_config_parse(const char *text, size_t len, const char *path, struct spok_platform *out,
		      struct spok_err *err)
{
	struct cwalk cw = {{path ? path : "<input>", err, "docs/CONFIG.md"}, NULL};
	struct walk *w = &cw.w;
	struct ydoc d;
	int result;

	spok_platform_init(out);
	cw.warnings = &out->warnings;
	result = ydoc_load(&d, text, len, w->path, err);
	if (result != SPOK_OK) {
		spok_platform_free(out);
		return result;
	}
	if (d.root != NULL && !walk_is_null(d.root) && d.root->kind != Y_MAP)
		result = walk_fail(w, d.root, "(top level)",
				   "expected a mapping, got %s; a config file has 'plugins:' and 'spok:' sections",
				   d.root->kind == Y_SEQ ? "a list" : "a scalar");
	else if (d.root != NULL)
		result = each_field(w, d.root, "", top_keys, top_ignored, out, top_field);
	ydoc_free(&d);
	if (result != SPOK_OK) {
		spok_platform_free(out);
		return result;
	}
	out->source_path = xstrdup(w->path);
	for (size_t i = 0; i < out->warnings.len; i++)
		log_warn("%s", out->warnings.items[i]);
	return SPOK_OK;
}

int spok_config_load(const char *path, struct spok_platform *out, struct spok_err *err)
{
	struct spok_buf b;
	int result;

	memset(out, 0, sizeof(*out));
	result = walk_read_file(&b, path, err);
	if (result == SPOK_OK)
		result = spok_config_parse(b.data, b.len, path, out, err);
	spok_buf_free(&b);
	return result;
}
