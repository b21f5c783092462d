/* pod.c - one role's pod spec, as Flyte derives it: ToK8sPodSpec (BuildRawPod, container
 * decoration, UpdatePod) and then the Spark plugin's driverPod/executorPod overlay
 * (MergeOverlayPodSpecOntoBase). Pod specs are handled as jansson objects in Kubernetes'
 * JSON shape; only the fields the SparkApplication needs are interpreted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "sparkapp/internal.h"
#include "sparkapp/sparkapp.h"

/* ---- shape checks (what Go's json.Unmarshal into v1.PodSpec would reject, for the fields
 * spok reads) ---- */

static bool opt_is(const json_t *o, const char *key, json_type type)
{
	const json_t *v = json_object_get(o, key);
	return v == NULL || json_is_null(v) || json_typeof(v) == type ||
	       (type == JSON_TRUE && json_is_boolean(v));
}

static bool strings_array(const json_t *o, const char *key)
{
	const json_t *a = json_object_get(o, key), *v;
	size_t i;

	if (a == NULL || json_is_null(a))
		return true;
	if (!json_is_array(a))
		return false;
	json_array_foreach(a, i, v)
		if (!json_is_string(v))
			return false;
	return true;
}

static const char *check_container(const json_t *c)
{
	const json_t *env, *e, *res;
	size_t i;

	if (!json_is_object(c))
		return "every container must be an object";
	if (!opt_is(c, "name", JSON_STRING) || !opt_is(c, "image", JSON_STRING))
		return "container name and image must be strings";
	if (!strings_array(c, "args") || !strings_array(c, "command"))
		return "container args and command must be arrays of strings";
	if (!opt_is(c, "env", JSON_ARRAY))
		return "container env must be an array";
	env = json_object_get(c, "env");
	json_array_foreach(env, i, e)
		if (!json_is_object(e) || !opt_is(e, "name", JSON_STRING) ||
		    !opt_is(e, "value", JSON_STRING))
			return "container env entries must be objects with string name and value";
	if (!opt_is(c, "securityContext", JSON_OBJECT) || !opt_is(c, "resources", JSON_OBJECT))
		return "container securityContext and resources must be objects";
	res = json_object_get(c, "resources");
	if (json_is_object(res) &&
	    (!opt_is(res, "limits", JSON_OBJECT) || !opt_is(res, "requests", JSON_OBJECT)))
		return "container resources limits and requests must be objects";
	return NULL;
}

static const char *check_containers(const json_t *pod, const char *key)
{
	const json_t *a = json_object_get(pod, key), *c;
	const char *why;
	size_t i;

	if (a == NULL || json_is_null(a))
		return NULL;
	if (!json_is_array(a))
		return "containers must be an array";
	json_array_foreach(a, i, c)
		if ((why = check_container(c)) != NULL)
			return why;
	return NULL;
}

/* NULL if pod has the PodSpec shape spok relies on, else why not. */
static const char *check_pod(const json_t *pod)
{
	static const char *const objects[] = {"affinity", "securityContext", "dnsConfig"};
	static const char *const strings[] = {"schedulerName", "priorityClassName",
					      "serviceAccountName"};
	const json_t *ns, *v, *tol;
	const char *why, *k;
	size_t i;

	if (!json_is_object(pod))
		return "a pod spec must be an object";
	if ((why = check_containers(pod, "containers")) != NULL ||
	    (why = check_containers(pod, "initContainers")) != NULL)
		return why;
	for (i = 0; i < 3; i++)
		if (!opt_is(pod, objects[i], JSON_OBJECT))
			return "affinity, securityContext and dnsConfig must be objects";
	for (i = 0; i < 3; i++)
		if (!opt_is(pod, strings[i], JSON_STRING))
			return "schedulerName, priorityClassName and serviceAccountName must be strings";
	if (!opt_is(pod, "hostNetwork", JSON_TRUE))
		return "hostNetwork must be a boolean";
	if (!opt_is(pod, "tolerations", JSON_ARRAY))
		return "tolerations must be an array";
	tol = json_object_get(pod, "tolerations");
	json_array_foreach(tol, i, v)
		if (!json_is_object(v))
			return "tolerations entries must be objects";
	if (!opt_is(pod, "nodeSelector", JSON_OBJECT))
		return "nodeSelector must be an object";
	ns = json_object_get(pod, "nodeSelector");
	json_object_foreach((json_t *)ns, k, v)
		if (!json_is_string(v))
			return "nodeSelector values must be strings";
	return NULL;
}

/* ---- mergo.Merge(dst, src, WithOverride, WithAppendSlice), on JSON ---- */

/* mergo skips "empty" source values; objects stand for pointers/structs and never are. */
static bool merge_empty(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_NULL:
	case JSON_FALSE:
		return true;
	case JSON_STRING:
		return json_string_length(v) == 0;
	case JSON_INTEGER:
		return json_integer_value(v) == 0;
	case JSON_REAL:
		return json_real_value(v) == 0.0;
	case JSON_ARRAY:
		return json_array_size(v) == 0;
	default:
		return false;
	}
}

static void merge_value(json_t *dst, const char *key, const json_t *sv);

static void merge_object(json_t *dst, const json_t *src)
{
	const char *k;
	json_t *sv;

	json_object_foreach((json_t *)src, k, sv)
		merge_value(dst, k, sv);
}

static void merge_value(json_t *dst, const char *key, const json_t *sv)
{
	json_t *dv = json_object_get(dst, key);

	if (merge_empty(sv))
		return;
	if (dv == NULL || json_is_null(dv))
		json_object_set_new(dst, key, json_deep_copy(sv));
	else if (json_is_object(dv) && json_is_object(sv))
		merge_object(dv, sv);
	else if (json_is_array(dv) && json_is_array(sv))
		for (size_t i = 0; i < json_array_size(sv); i++)
			json_array_append_new(dv, json_deep_copy(json_array_get(sv, i)));
	else
		json_object_set_new(dst, key, json_deep_copy(sv));
}

static json_t *find_container(const json_t *list, const char *name)
{
	const json_t *c;
	size_t i;

	json_array_foreach(list, i, c) {
		const char *n = json_string_value(json_object_get(c, "name"));
		if (strcmp(n ? n : "", name) == 0)
			return (json_t *)c;
	}
	return NULL;
}

/* Containers merge only into same-named base containers; overlay-only ones are dropped. */
static void merge_containers(json_t *base, const json_t *overlay, const char *key)
{
	json_t *bl = json_object_get(base, key), *c;
	const json_t *ol = json_object_get(overlay, key);
	size_t i;

	if (!json_is_array(bl) || !json_is_array(ol))
		return;
	json_array_foreach(bl, i, c) {
		const char *n = json_string_value(json_object_get(c, "name"));
		const json_t *oc = find_container(ol, n ? n : "");
		if (oc != NULL)
			merge_object(c, oc);
	}
}

static void merge_pod_overlay(json_t *base, const json_t *overlay)
{
	const json_t *ons = json_object_get(overlay, "nodeSelector"), *v;
	const char *k;

	json_object_foreach((json_t *)overlay, k, v) {
		if (strcmp(k, "containers") == 0 || strcmp(k, "initContainers") == 0 ||
		    strcmp(k, "nodeSelector") == 0)
			continue;
		merge_value(base, k, v);
	}
	merge_containers(base, overlay, "containers");
	merge_containers(base, overlay, "initContainers");
	/* A Go map: every overlay key overrides, empty values included. */
	if (json_is_object(ons)) {
		json_t *bns = json_object_get(base, "nodeSelector");
		if (!json_is_object(bns)) {
			bns = json_object();
			json_object_set_new(base, "nodeSelector", bns);
		}
		json_object_update(bns, (json_t *)ons);
	}
}

/* ---- BuildRawPod ---- */

/* with_args false leaves args out: the SparkApplication takes them from the executor's
 * container only (spec.arguments), so the driver's would be built for nothing. */
static json_t *raw_container(const struct spok__ctx *c, const char *image, bool with_args)
{
	const struct spok_task *t = c->t;
	json_t *ct = json_object(), *args = with_args ? json_array() : NULL, *env = json_array();

	for (size_t i = 0; with_args && i < t->args.len; i++)
		json_array_append_new(args, spok__jstr(t->args.items[i]));
	for (size_t i = 0; i < t->env.len; i++)
		json_array_append_new(env, spok__env_var(t->env.items[i].key, t->env.items[i].value));
	spok__jset(ct, "name", spok__jstr(c->gen));
	spok__jset(ct, "image", spok__jstr(image));
	if (args != NULL)
		spok__jset(ct, "args", args);
	spok__jset(ct, "env", env);
	if (t->resource_requests.len > 0 || t->resource_limits.len > 0) {
		json_t *res = json_object();
		spok__jset(res, "limits", spok__jmap_sorted(&t->resource_limits));
		spok__jset(res, "requests", spok__jmap_sorted(&t->resource_requests));
		spok__jset(ct, "resources", res);
	}
	return ct;
}

static int raw_pod(const struct spok__ctx *c, bool with_args, json_t **pod, const char **primary,
		   struct spok_err *err)
{
	const struct spok_task *t = c->t;
	const char *why, *image;

	if (!t->k8s_pod.present) {
		image = t->image && t->image[0] ? t->image : c->p->spok.default_image;
		if (image == NULL || image[0] == '\0')
			return spok_err_set(err, SPOK_EINVAL,
					    "image: the task names no image; set image in the job file "
					    "or spok.default-image in the config");
		*pod = json_object();
		spok__jset(*pod, "containers", json_array());
		json_array_append_new(json_object_get(*pod, "containers"), raw_container(c, image, with_args));
		*primary = c->gen;
		return SPOK_OK;
	}
	if (t->k8s_pod.pod_spec == NULL)
		return spok_err_set(err, SPOK_EINVAL,
				    "k8sPod: Pod tasks with task type version > 1 should specify "
				    "their target as a K8sPod with a defined pod spec; add podSpec");
	if ((why = check_pod(t->k8s_pod.pod_spec)) != NULL)
		return spok_err_set(err, SPOK_EINVAL,
				    "k8sPod.podSpec: Unable to unmarshal task k8s pod (%s); give a "
				    "Kubernetes PodSpec", why);
	*primary = t->k8s_pod.primary_container_name;
	if (*primary == NULL)
		*primary = spok_strmap_get(&t->config, "primary_container_name");
	if (*primary == NULL)
		return spok_err_set(err, SPOK_EINVAL,
				    "k8sPod: invalid TaskSpecification, config missing "
				    "[primary_container_name] key; set primaryContainerName");
	*pod = json_deep_copy(t->k8s_pod.pod_spec);
	return SPOK_OK;
}

/* ---- container decoration (AddFlyteCustomizationsToContainer, DecorateEnvVars) ---- */

static void append_env(json_t *env, const char *name, const char *value)
{
	json_array_append_new(env, spok__env_var(name, value));
}

/* FLYTE_* vars that spok knows, then plugins.k8s.default-env-vars (sorted: Go map order). */
static void decorate_env(const struct spok__ctx *c, json_t *container)
{
	const struct spok_task *t = c->t;
	json_t *env = json_object_get(container, "env");
	struct spok__kvs defaults = {0};
	char attempt[16];

	if (!json_is_array(env)) {
		env = json_array();
		json_object_set_new(container, "env", env);
	}
	snprintf(attempt, sizeof(attempt), "%u", c->x->attempt);
	append_env(env, "FLYTE_INTERNAL_EXECUTION_ID", c->x->execution_name);
	append_env(env, "FLYTE_INTERNAL_EXECUTION_PROJECT", t->project);
	append_env(env, "FLYTE_INTERNAL_EXECUTION_DOMAIN", t->domain);
	append_env(env, "FLYTE_ATTEMPT_NUMBER", attempt);
	append_env(env, "FLYTE_INTERNAL_TASK_PROJECT",
		   t->flyte_task_project ? t->flyte_task_project : t->project);
	append_env(env, "FLYTE_INTERNAL_TASK_DOMAIN",
		   t->flyte_task_domain ? t->flyte_task_domain : t->domain);
	append_env(env, "FLYTE_INTERNAL_TASK_NAME", t->name);
	append_env(env, "FLYTE_INTERNAL_TASK_VERSION", t->version);
	spok__kvs_add_map(&defaults, &c->p->k8s.default_env_vars);
	spok__kvs_sort(&defaults);
	for (size_t i = 0; i < defaults.len; i++)
		append_env(env, defaults.v[i].key, defaults.v[i].value);
	spok__kvs_free(&defaults);
}

static void render_args(const struct spok__ctx *c, json_t *container)
{
	json_t *args = json_object_get(container, "args"), *a;
	size_t i;

	json_array_foreach(args, i, a) {
		char *r;

		if (json_string_value(a) != NULL && strstr(json_string_value(a), "{{") == NULL)
			continue; /* nothing to render */
		r = spok_render_arg(json_string_value(a), c->x, c->gen);
		json_array_set_new(args, i, spok__jstr(r));
		free(r);
	}
}

/* ---- UpdatePod ---- */

static void append_copies(json_t *dst, const json_t *src)
{
	const json_t *v;
	size_t i;

	json_array_foreach(src, i, v)
		json_array_append_new(dst, json_deep_copy(v));
}

static const char *gpu_name(const struct spok_k8s_config *k)
{
	return k->gpu_resource_name && k->gpu_resource_name[0] ? k->gpu_resource_name
								: "nvidia.com/gpu";
}

static void add_resource_names(const struct spok_k8s_config *k, struct spok_strmap *names,
			       const json_t *list)
{
	const char *n;
	const json_t *v;

	/* SanitizeGPUResourceRequirements renames "gpu" to gpu-resource-name. */
	json_object_foreach((json_t *)list, n, v)
		spok_strmap_set(names, strcmp(n, "gpu") == 0 ? gpu_name(k) : n, "");
}

/* GetPodTolerations: the resource names of every container's limits and requests form one
 * set; each name's resource-tolerations are added once, names in bytewise order (Flyte: Go
 * set order). Every container has cpu and memory by then: Flyte's resource defaulting sets
 * both on each container. Then interruptible and default tolerations, then the pod's own. */
static json_t *pod_tolerations(const struct spok__ctx *c, const json_t *pod, bool interruptible)
{
	const struct spok_k8s_config *k = &c->p->k8s;
	struct spok_strmap names = {0};
	json_t *out = json_array(), *ct;
	size_t i;

	/* The names only select resource-tolerations: none configured, none to collect. */
	json_array_foreach(json_object_size(k->resource_tolerations) > 0
				   ? json_object_get(pod, "containers") : NULL, i, ct) {
		const json_t *res = json_object_get(ct, "resources");
		spok_strmap_set(&names, "cpu", "");
		spok_strmap_set(&names, "memory", "");
		add_resource_names(k, &names, json_object_get(res, "limits"));
		add_resource_names(k, &names, json_object_get(res, "requests"));
	}
	spok_strmap_sort(&names);
	for (i = 0; i < names.len; i++) {
		const json_t *tol = json_object_get(k->resource_tolerations, names.items[i].key);
		if (json_is_array(tol))
			append_copies(out, tol);
	}
	spok_strmap_free(&names);
	if (interruptible && json_is_array(k->interruptible_tolerations))
		append_copies(out, k->interruptible_tolerations);
	if (json_is_array(k->default_tolerations))
		append_copies(out, k->default_tolerations);
	append_copies(out, json_object_get(pod, "tolerations"));
	return out;
}

static void union_into(json_t *dst, const struct spok_strmap *m)
{
	for (size_t i = 0; i < m->len; i++)
		spok__jset(dst, m->items[i].key, spok__jstr(m->items[i].value));
}

static json_t *pod_node_selector(const struct spok__ctx *c, const json_t *pod, bool interruptible)
{
	json_t *ns = json_object();
	const json_t *own = json_object_get(pod, "nodeSelector");

	union_into(ns, &c->p->k8s.default_node_selector);
	if (json_is_object(own))
		json_object_update(ns, (json_t *)own);
	if (interruptible)
		union_into(ns, &c->p->k8s.interruptible_node_selector);
	return ns;
}

static bool absent(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return v == NULL || json_is_null(v);
}

static void default_object(json_t *o, const char *key, const json_t *def)
{
	if (absent(o, key) && def != NULL)
		json_object_set_new(o, key, json_deep_copy(def));
}

/* AddRequiredNodeSelectorRequirements: AND the requirement into every required term, or
 * start a term when there is none. */
static void add_requirement(json_t *affinity, const json_t *req)
{
	json_t *na, *rd, *terms, *term;
	size_t i;

	if (absent(affinity, "nodeAffinity"))
		json_object_set_new(affinity, "nodeAffinity", json_object());
	na = json_object_get(affinity, "nodeAffinity");
	if (absent(na, "requiredDuringSchedulingIgnoredDuringExecution"))
		json_object_set_new(na, "requiredDuringSchedulingIgnoredDuringExecution",
				    json_object());
	rd = json_object_get(na, "requiredDuringSchedulingIgnoredDuringExecution");
	terms = json_object_get(rd, "nodeSelectorTerms");
	if (!json_is_array(terms) || json_array_size(terms) == 0) {
		term = json_object();
		json_object_set_new(term, "matchExpressions", json_array());
		json_array_append_new(json_object_get(term, "matchExpressions"), json_deep_copy(req));
		json_object_set_new(rd, "nodeSelectorTerms", json_array());
		json_array_append_new(json_object_get(rd, "nodeSelectorTerms"), term);
		return;
	}
	json_array_foreach(terms, i, term) {
		json_t *me = json_object_get(term, "matchExpressions");
		if (!json_is_array(me)) {
			me = json_array();
			json_object_set_new(term, "matchExpressions", me);
		}
		json_array_append_new(me, json_deep_copy(req));
	}
}

static bool nested_objects_ok(const json_t *affinity)
{
	const json_t *na = json_object_get(affinity, "nodeAffinity"), *rd, *terms, *t;
	size_t i;

	if (absent(affinity, "nodeAffinity"))
		return true;
	if (!json_is_object(na))
		return false;
	rd = json_object_get(na, "requiredDuringSchedulingIgnoredDuringExecution");
	if (absent(na, "requiredDuringSchedulingIgnoredDuringExecution"))
		return true;
	if (!json_is_object(rd))
		return false;
	terms = json_object_get(rd, "nodeSelectorTerms");
	if (absent(rd, "nodeSelectorTerms"))
		return true;
	if (!json_is_array(terms))
		return false;
	json_array_foreach(terms, i, t)
		if (!json_is_object(t) || !opt_is(t, "matchExpressions", JSON_ARRAY))
			return false;
	return true;
}

static void apply_gpu(const struct spok__ctx *c, json_t *pod, json_t *affinity);
static void extended_tolerations(const struct spok__ctx *c, json_t *pod);

static int update_pod(const struct spok__ctx *c, json_t *pod, json_t *primary,
		      bool interruptible, struct spok_err *err)
{
	const struct spok_k8s_config *k = &c->p->k8s;
	const json_t *req = interruptible ? k->interruptible_node_selector_requirement
					  : k->non_interruptible_node_selector_requirement;
	const char *sched = json_string_value(json_object_get(pod, "schedulerName"));
	json_t *affinity;

	json_object_set_new(pod, "tolerations", pod_tolerations(c, pod, interruptible));
	if (sched == NULL || sched[0] == '\0')
		json_object_set_new(pod, "schedulerName", spok__jstr(k->scheduler_name));
	json_object_set_new(pod, "nodeSelector", pod_node_selector(c, pod, interruptible));
	default_object(pod, "affinity", k->default_affinity);
	default_object(pod, "securityContext", k->default_pod_security_context);
	if (k->enable_host_networking_pod)
		json_object_set_new(pod, "hostNetwork", json_true());
	default_object(pod, "dnsConfig", k->default_pod_dns_config);
	if (absent(pod, "affinity"))
		json_object_set_new(pod, "affinity", json_object());
	affinity = json_object_get(pod, "affinity");
	if (req != NULL) {
		if (!json_is_object(affinity) || !nested_objects_ok(affinity))
			return spok_err_set(err, SPOK_EINVAL,
					    "affinity: nodeAffinity.requiredDuringSchedulingIgnored"
					    "DuringExecution has the wrong shape; give a Kubernetes "
					    "Affinity object");
		add_requirement(affinity, req);
	}
	default_object(primary, "securityContext", k->default_security_context);
	if (c->t->gpu_accelerator) {
		if (!json_is_object(affinity) || !nested_objects_ok(affinity))
			return spok_err_set(err, SPOK_EINVAL,
					    "affinity: nodeAffinity.requiredDuringSchedulingIgnored"
					    "DuringExecution has the wrong shape; give a Kubernetes "
					    "Affinity object");
		apply_gpu(c, pod, affinity);
	}
	extended_tolerations(c, pod);
	return SPOK_OK;
}

/* ---- GPU accelerators (ApplyGPUNodeSelectors) ---- */

/* Flyte's resource defaulting puts the GPU into a container's limits whenever the container
 * names it in its requests or limits; the selectors apply when any container does. */
static bool wants_gpu(const struct spok_k8s_config *k, const json_t *pod)
{
	const json_t *ct, *res;
	size_t i;

	json_array_foreach(json_object_get(pod, "containers"), i, ct) {
		res = json_object_get(ct, "resources");
		for (int l = 0; l < 2; l++) {
			const json_t *list = json_object_get(res, l ? "limits" : "requests");
			if (json_object_get(list, gpu_name(k)) != NULL ||
			    (strcmp(gpu_name(k), "nvidia.com/gpu") == 0 &&
			     json_object_get(list, "gpu") != NULL))
				return true;
		}
	}
	return false;
}

static json_t *requirement(const char *key, const char *op, const char *value)
{
	json_t *r = json_object();

	spok__jset(r, "key", spok__jstr(key));
	spok__jset(r, "operator", spok__jstr(op));
	if (value != NULL) {
		spok__jset(r, "values", json_array());
		json_array_append_new(json_object_get(r, "values"), spok__jstr(value));
	}
	return r;
}

static json_t *equal_toleration(const char *key, const char *value)
{
	json_t *t = json_object();

	spok__jset(t, "key", spok__jstr(key));
	spok__jset(t, "operator", spok__jstr("Equal"));
	spok__jset(t, "value", spok__jstr(value));
	spok__jset(t, "effect", spok__jstr("NoSchedule"));
	return t;
}

/* Device and partition node-selector requirements and tolerations for the task's
 * gpu_accelerator. affinity is the pod's affinity object (update_pod made one). */
static void apply_gpu(const struct spok__ctx *c, json_t *pod, json_t *affinity)
{
	const struct spok_k8s_config *k = &c->p->k8s;
	const struct spok_task *t = c->t;
	const char *dev_label = k->gpu_device_node_label ? k->gpu_device_node_label : "";
	const char *part_label = k->gpu_partition_size_node_label ? k->gpu_partition_size_node_label : "";
	json_t *tols = json_object_get(pod, "tolerations"), *req = NULL;

	if (!t->gpu_accelerator || !wants_gpu(k, pod))
		return;
	if (t->gpu_device != NULL && t->gpu_device[0] != '\0') {
		req = requirement(dev_label, "In", t->gpu_device);
		add_requirement(affinity, req);
		json_decref(req);
		json_array_append_new(tols, equal_toleration(dev_label, t->gpu_device));
	}
	if (t->gpu_partition == SPOK_GPU_UNPARTITIONED) {
		req = k->gpu_unpartitioned_node_selector_requirement
			      ? json_incref(k->gpu_unpartitioned_node_selector_requirement)
			      : requirement(part_label, "DoesNotExist", NULL);
		add_requirement(affinity, req);
		json_decref(req);
		if (k->gpu_unpartitioned_toleration != NULL)
			json_array_append_new(tols, json_deep_copy(k->gpu_unpartitioned_toleration));
	} else if (t->gpu_partition == SPOK_GPU_PARTITION_SIZE) {
		req = requirement(part_label, "In", t->gpu_partition_size);
		add_requirement(affinity, req);
		json_decref(req);
		json_array_append_new(tols, equal_toleration(part_label, t->gpu_partition_size));
	}
}

/* ---- add-tolerations-for-extended-resources (AddTolerationsForExtendedResources) ---- */

/* Whether the container's requests hold name once Flyte's resource defaulting has run: cpu
 * and memory always; the GPU and ephemeral-storage also when only limited. */
static bool requests_resource(const struct spok_k8s_config *k, const json_t *ct, const char *name)
{
	const json_t *res = json_object_get(ct, "resources");
	const json_t *req = json_object_get(res, "requests"), *lim = json_object_get(res, "limits");
	bool gpu = strcmp(name, gpu_name(k)) == 0;

	if (strcmp(name, "cpu") == 0 || strcmp(name, "memory") == 0 || json_object_get(req, name))
		return true;
	if (gpu && (json_object_get(req, "gpu") || json_object_get(lim, "gpu")))
		return true;
	return (gpu || strcmp(name, "ephemeral-storage") == 0) && json_object_get(lim, name);
}

static bool same_str(const json_t *a, const json_t *b, const char *key)
{
	const char *x = json_string_value(json_object_get(a, key));
	const char *y = json_string_value(json_object_get(b, key));

	return strcmp(x ? x : "", y ? y : "") == 0;
}

/* An Exists/NoSchedule toleration per listed resource some (init) container requests, in
 * sorted order, unless one with the same key, operator, value and effect is there. */
static void extended_tolerations(const struct spok__ctx *c, json_t *pod)
{
	const struct spok_k8s_config *k = &c->p->k8s;
	const struct spok_strv *want = &k->add_tolerations_for_extended_resources;
	struct spok_strmap names = {0};
	json_t *tols = json_object_get(pod, "tolerations"), *ct;
	size_t i;

	for (int init = 0; init < 2; init++)
		json_array_foreach(json_object_get(pod, init ? "initContainers" : "containers"), i, ct)
			for (size_t r = 0; r < want->len; r++)
				if (requests_resource(k, ct, want->items[r]))
					spok_strmap_set(&names, want->items[r], "");
	spok_strmap_sort(&names);
	for (i = 0; i < names.len; i++) {
		json_t *t = json_object(), *have;
		bool found = false;
		size_t j;

		spok__jset(t, "key", spok__jstr(names.items[i].key));
		spok__jset(t, "operator", spok__jstr("Exists"));
		spok__jset(t, "effect", spok__jstr("NoSchedule"));
		json_array_foreach(tols, j, have)
			found = found || (same_str(t, have, "key") && same_str(t, have, "operator") &&
					  same_str(t, have, "value") && same_str(t, have, "effect"));
		if (found)
			json_decref(t);
		else
			json_array_append_new(tols, t);
	}
	spok_strmap_free(&names);
}

/* ---- the role ---- */

static int overlay(const struct spok__ctx *c, const struct spok_pod *role, const char *rname,
		   json_t *pod, struct spok_err *err)
{
	const char *why;

	if (role->pod_spec == NULL)
		return SPOK_OK;
	if ((why = check_pod(role->pod_spec)) != NULL)
		return spok_err_set(err, SPOK_EINVAL,
				    "%sPod.podSpec: Unable to unmarshal %s pod spec (%s); give a "
				    "Kubernetes PodSpec", rname, rname, why);
	(void)c;
	merge_pod_overlay(pod, role->pod_spec);
	return SPOK_OK;
}

int spok__role_build(const struct spok__ctx *c, bool is_driver, struct spok__role *out,
		     struct spok_err *err)
{
	const struct spok_pod *role = is_driver ? &c->t->driver_pod : &c->t->executor_pod;
	const char *rname = is_driver ? "driver" : "executor";
	bool interruptible = !is_driver && c->x->interruptible;
	const char *primary_name = NULL;
	json_t *pod = NULL, *primary, *ct;
	int result;
	size_t i;

	memset(out, 0, sizeof(*out));
	/* Only the executor's args reach the SparkApplication (spec.arguments). */
	if ((result = raw_pod(c, !is_driver, &pod, &primary_name, err)) != SPOK_OK)
		return result;
	json_array_foreach(json_object_get(pod, "containers"), i, ct) {
		if (!is_driver)
			render_args(c, ct);
		decorate_env(c, ct);
	}
	primary = find_container(json_object_get(pod, "containers"), primary_name);
	if (primary == NULL) {
		result = spok_err_set(err, SPOK_EINVAL,
				      "k8sPod: invalid TaskSpecification, primary container [%s] not "
				      "defined; name one of the pod's containers", primary_name);
		goto fail;
	}
	if ((result = update_pod(c, pod, primary, interruptible, err)) != SPOK_OK)
		goto fail;
	if ((result = overlay(c, role, rname, pod, err)) != SPOK_OK)
		goto fail;
	if (role->primary_container_name && role->primary_container_name[0])
		primary_name = role->primary_container_name;
	primary = find_container(json_object_get(pod, "containers"), primary_name);
	if (primary == NULL) {
		result = spok_err_set(err, SPOK_EINVAL,
				      "%sPod.primaryContainerName: invalid TaskSpecification, "
				      "container [%s] not defined; name a container of the task's pod",
				      rname, primary_name);
		goto fail;
	}
	out->pod = pod;
	out->primary = primary;
	return SPOK_OK;
fail:
	json_decref(pod);
	return result;
}

void spok__role_free(struct spok__role *r)
{
	json_decref(r->pod);
	memset(r, 0, sizeof(*r));
}
