/* task.c - flyteidl.core.TaskTemplate / flyteidl.admin.TaskSpec -> struct spok_task. */
#include "flyteidl/flyteidl.h"

#include <string.h>

#include "common/xalloc.h"
#include "flyteidl/internal.h"

#include "flyteidl/admin/task.pb-c.h"
#include "flyteidl/core/tasks.pb-c.h"

/* Empty proto3 strings mean "not set": the model uses NULL for that. */
static char *opt_dup(const char *s)
{
	return s != NULL && s[0] != '\0' ? xstrdup(s) : NULL;
}

/* pyflyte package leaves project/domain/version empty (registration fills them); the
 * model's defaults stand in for project and domain. */
static void set_identity(const Flyteidl__Core__Identifier *id, struct spok_task *t)
{
	if (id != NULL) {
		t->name = opt_dup(id->name);
		t->project = opt_dup(id->project);
		t->domain = opt_dup(id->domain);
		t->version = opt_dup(id->version);
	}
	if (t->project == NULL)
		t->project = xstrdup("spok");
	if (t->domain == NULL)
		t->domain = xstrdup("development");
}

static void set_object_meta(const Flyteidl__Core__K8sObjectMetadata *m, struct spok_strmap *labels,
			    struct spok_strmap *annotations)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n_labels; i++)
		spok_strmap_set(labels, m->labels[i]->key, m->labels[i]->value);
	for (size_t i = 0; i < m->n_annotations; i++)
		spok_strmap_set(annotations, m->annotations[i]->key, m->annotations[i]->value);
}

static int set_metadata(const Flyteidl__Core__TaskMetadata *md, const char *path,
			struct spok_task *t, struct spok_err *err)
{
	if (md == NULL)
		return SPOK_OK;
	if (md->retries != NULL)
		t->retries = md->retries->retries;
	if (md->timeout != NULL) {
		const Google__Protobuf__Duration *d = md->timeout;

		if (d->seconds < 0 || d->nanos < 0 || d->nanos > 999999999)
			return spok_err_set(err, SPOK_EINVAL, "%s: metadata.timeout: negative or "
					    "malformed duration; set a positive timeout", path);
		/* Round up so a sub-second timeout is not lost as "no timeout". */
		t->timeout_s = (uint64_t)d->seconds + (d->nanos > 0 ? 1u : 0u);
		if (t->timeout_s > SPOK_TASK_TIMEOUT_MAX_S)
			return spok_err_set(err, SPOK_EINVAL, "%s: metadata.timeout: longer than 100 "
					    "years; set a shorter timeout (or none)", path);
	}
	if (md->interruptible_value_case ==
	    FLYTEIDL__CORE__TASK_METADATA__INTERRUPTIBLE_VALUE_INTERRUPTIBLE)
		t->interruptible = md->interruptible != 0;
	t->pod_template_name = opt_dup(md->pod_template_name);
	set_object_meta(md->metadata, &t->labels, &t->annotations);
	return SPOK_OK;
}

static enum spok_lit_type lit_type(const Flyteidl__Core__LiteralType *lt)
{
	if (lt == NULL || lt->type_case != FLYTEIDL__CORE__LITERAL_TYPE__TYPE_SIMPLE)
		return SPOK_LIT_OTHER;
	if (lt->simple < FLYTEIDL__CORE__SIMPLE_TYPE__NONE ||
	    lt->simple > FLYTEIDL__CORE__SIMPLE_TYPE__STRUCT)
		return SPOK_LIT_OTHER;
	return (enum spok_lit_type)lt->simple;
}

static void set_vars(const Flyteidl__Core__VariableMap *vm, struct spok_vars *out)
{
	for (size_t i = 0; vm != NULL && i < vm->n_variables; i++) {
		const Flyteidl__Core__VariableMap__VariablesEntry *e = vm->variables[i];

		spok_vars_add(out, e->key, lit_type(e->value != NULL ? e->value->type : NULL));
	}
}

/* 1 if s is a non-zero Kubernetes quantity, 0 if zero, -1 if not a quantity
 * (<sign><digits>[.<digits>]<suffix>, suffix Ki..Ei, n u m k M G T P E or e<exponent>). */
static int quantity_nonzero(const char *s)
{
	static const char *const suffixes[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u",
					       "m", "k", "M", "G", "T", "P", "E", NULL};
	bool nonzero = false;
	size_t digits = 0;

	if (*s == '+' || *s == '-')
		s++;
	for (; *s >= '0' && *s <= '9'; s++, digits++)
		nonzero |= *s != '0';
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++, digits++)
			nonzero |= *s != '0';
	if (digits == 0)
		return -1;
	if (*s == 'e' || *s == 'E') {
		const char *e = s + 1 + (s[1] == '+' || s[1] == '-');
		if (*e == '\0')
			return -1;
		for (; *e >= '0' && *e <= '9'; e++)
			;
		return *e == '\0' ? nonzero : -1;
	}
	for (size_t i = 0; suffixes[i] != NULL; i++)
		if (strcmp(s, suffixes[i]) == 0)
			return nonzero;
	return -1;
}

/* Flyte's ToK8sResourceList: flyteidl names -> Kubernetes names; storage and unknown
 * entries and zero quantities are left out; a malformed quantity fails the task. */
static int set_resource_list(Flyteidl__Core__Resources__ResourceEntry **e, size_t n,
			     const char *path, struct spok_strmap *out, struct spok_err *err)
{
	for (size_t i = 0; i < n; i++) {
		const char *name = NULL;
		int q;

		switch (e[i]->name) {
		case FLYTEIDL__CORE__RESOURCES__RESOURCE_NAME__CPU: name = "cpu"; break;
		case FLYTEIDL__CORE__RESOURCES__RESOURCE_NAME__MEMORY: name = "memory"; break;
		case FLYTEIDL__CORE__RESOURCES__RESOURCE_NAME__GPU: name = "nvidia.com/gpu"; break;
		case FLYTEIDL__CORE__RESOURCES__RESOURCE_NAME__EPHEMERAL_STORAGE:
			name = "ephemeral-storage";
			break;
		default: break;
		}
		q = quantity_nonzero(e[i]->value);
		if (q < 0)
			return spok_err_set(err, SPOK_EINVAL, "%s: container.resources: '%.64s' is not "
					    "a valid quantity; write e.g. 500m, 2 or 4Gi", path,
					    e[i]->value);
		if (name != NULL && q > 0)
			spok_strmap_set(out, name, e[i]->value);
	}
	return SPOK_OK;
}

static int set_container(const Flyteidl__Core__Container *c, const char *path,
			 struct spok_task *t, struct spok_err *err)
{
	const Flyteidl__Core__Resources *r = c->resources;

	if (r != NULL &&
	    (set_resource_list(r->requests, r->n_requests, path, &t->resource_requests, err) ||
	     set_resource_list(r->limits, r->n_limits, path, &t->resource_limits, err)))
		return SPOK_EINVAL;
	t->image = opt_dup(c->image);
	for (size_t i = 0; i < c->n_command; i++)
		spok_strv_push(&t->command, c->command[i]);
	for (size_t i = 0; i < c->n_args; i++)
		spok_strv_push(&t->args, c->args[i]);
	for (size_t i = 0; i < c->n_env; i++)
		spok_strmap_set(&t->env, c->env[i]->key, c->env[i]->value);
	return SPOK_OK;
}

/* Copies image/command/args/env of the primary container of a k8s_pod target. */
static int strv_from_json(const json_t *arr, struct spok_strv *out)
{
	size_t i;
	json_t *v;

	if (arr == NULL)
		return SPOK_OK;
	if (!json_is_array(arr))
		return SPOK_EINVAL;
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v))
			return SPOK_EINVAL;
		spok_strv_push(out, json_string_value(v));
	}
	return SPOK_OK;
}

static int primary_from_json(const json_t *c, struct spok_task *t)
{
	json_t *img = json_object_get(c, "image"), *env = json_object_get(c, "env"), *e;
	size_t i;

	if (json_is_string(img))
		t->image = opt_dup(json_string_value(img));
	if (strv_from_json(json_object_get(c, "command"), &t->command) != SPOK_OK ||
	    strv_from_json(json_object_get(c, "args"), &t->args) != SPOK_OK)
		return SPOK_EINVAL;
	json_array_foreach(env, i, e) {
		json_t *n = json_object_get(e, "name"), *v = json_object_get(e, "value");

		/* valueFrom entries stay in the pod spec; only literal values are copied. */
		if (json_is_string(n) && json_is_string(v))
			spok_strmap_set(&t->env, json_string_value(n), json_string_value(v));
	}
	return SPOK_OK;
}

static int set_k8s_pod(const Flyteidl__Core__K8sPod *pod, const char *path, struct spok_task *t,
		       struct spok_err *err)
{
	const char *primary = spok_strmap_get(&t->config, "primary_container_name");
	json_t *spec = NULL, *c;
	size_t i;
	int result;

	if (primary == NULL || primary[0] == '\0')
		return spok_err_set(err, SPOK_EINVAL, "%s: config.primary_container_name: missing for a "
				    "k8s_pod task; name the primary container in the task's config",
				    path);
	t->k8s_pod.present = true;
	t->k8s_pod.primary_container_name = xstrdup(primary);
	set_object_meta(pod->metadata, &t->k8s_pod.labels, &t->k8s_pod.annotations);
	result = spok_struct_to_json(pod->pod_spec, path, "k8s_pod.pod_spec", &spec, err);
	if (result != SPOK_OK)
		return result;
	t->k8s_pod.pod_spec = spec;
	json_array_foreach(json_object_get(spec, "containers"), i, c) {
		json_t *n = json_object_get(c, "name");

		if (json_is_string(n) && strcmp(json_string_value(n), primary) == 0) {
			if (primary_from_json(c, t) != SPOK_OK)
				return spok_err_set(err, SPOK_EINVAL, "%s: k8s_pod.pod_spec.containers"
						    "[%zu]: command/args must be lists of strings; "
						    "fix the pod template", path, i);
			return SPOK_OK;
		}
	}
	return spok_err_set(err, SPOK_EINVAL, "%s: k8s_pod.pod_spec: no container named '%s' "
			    "(config.primary_container_name); add it to the pod template", path,
			    primary);
}

static int set_target(const Flyteidl__Core__TaskTemplate *tt, const char *path,
		      struct spok_task *t, struct spok_err *err)
{
	switch (tt->target_case) {
	case FLYTEIDL__CORE__TASK_TEMPLATE__TARGET_CONTAINER:
		return set_container(tt->container, path, t, err);
	case FLYTEIDL__CORE__TASK_TEMPLATE__TARGET_K8S_POD:
		return set_k8s_pod(tt->k8s_pod, path, t, err);
	default:
		return spok_err_set(err, SPOK_EINVAL, "%s: task has no container or k8s_pod target; "
				    "a Spark task needs a container image", path);
	}
}

static void set_extended(const Flyteidl__Core__ExtendedResources *er, struct spok_task *t)
{
	const Flyteidl__Core__GPUAccelerator *g = er != NULL ? er->gpu_accelerator : NULL;

	if (g == NULL)
		return;
	t->gpu_accelerator = true;
	t->gpu_device = opt_dup(g->device);
	if (g->partition_size_value_case ==
	    FLYTEIDL__CORE__GPUACCELERATOR__PARTITION_SIZE_VALUE_UNPARTITIONED && g->unpartitioned)
		t->gpu_partition = SPOK_GPU_UNPARTITIONED;
	if (g->partition_size_value_case ==
	    FLYTEIDL__CORE__GPUACCELERATOR__PARTITION_SIZE_VALUE_PARTITION_SIZE) {
		t->gpu_partition = SPOK_GPU_PARTITION_SIZE;
		t->gpu_partition_size = xstrdup(g->partition_size ? g->partition_size : "");
	}
}

static int set_custom(const Flyteidl__Core__TaskTemplate *tt, const char *path,
		      struct spok_task *t, struct spok_err *err)
{
	json_t *job = NULL;
	int result = spok_struct_to_json(tt->custom, path, "custom", &job, err);

	if (result == SPOK_OK)
		result = spok_sparkjob_from_json(job, path, t, err);
	json_decref(job);
	return result;
}

int spok_task_from_template(const Flyteidl__Core__TaskTemplate *tt, const char *path,
			    const char *source, struct spok_task *out, struct spok_err *err)
{
	int result;

	spok_task_init(out);
	if (tt->type[0] == '\0')
		return spok_err_set(err, SPOK_EINVAL, "%s: not a Flyte task (TaskTemplate.type is "
				    "empty); pass a task .pb or package written by pyflyte", path);
	if (strcmp(tt->type, "spark") != 0)
		return spok_err_set(err, SPOK_EINVAL, "%s: task type '%.64s' is not a Spark task; "
				    "spok runs tasks declared with task_config=Spark(...)", path,
				    tt->type);
	out->origin = SPOK_ORIGIN_FLYTE;
	out->source_path = xstrdup(source);
	set_identity(tt->id, out);
	for (size_t i = 0; i < tt->n_config; i++)
		spok_strmap_set(&out->config, tt->config[i]->key, tt->config[i]->value);
	/* TaskTemplate.security_context.run_as is not read: Flyte's plugin takes the service
	 * account from the execution's run-as only (then the `spark` default). */
	if (tt->interface != NULL) {
		set_vars(tt->interface->inputs, &out->inputs);
		set_vars(tt->interface->outputs, &out->outputs);
	}
	set_extended(tt->extended_resources, out);
	result = set_metadata(tt->metadata, path, out, err);
	if (result == SPOK_OK)
		result = set_custom(tt, path, out, err);
	if (result == SPOK_OK)
		result = set_target(tt, path, out, err);
	if (result == SPOK_OK)
		result = spok_task_check_limits(out, path, err);
	if (result != SPOK_OK)
		spok_task_free(out);
	return result;
}

int spok_flyte_parse_task_template(const uint8_t *buf, size_t len, const char *path,
				   struct spok_task *out, struct spok_err *err)
{
	ProtobufCMessage *m;
	int result;

	spok_task_init(out);
	m = spok_pb_unpack(&flyteidl__core__task_template__descriptor, buf, len, path,
			   "flyteidl.core.TaskTemplate", err);
	if (m == NULL)
		return SPOK_EINVAL;
	result = spok_task_from_template((const Flyteidl__Core__TaskTemplate *)m, path, path, out,
					 err);
	protobuf_c_message_free_unpacked(m, NULL);
	return result;
}

int spok_flyte_parse_task_spec(const uint8_t *buf, size_t len, const char *path,
			       struct spok_task *out, struct spok_err *err)
{
	Flyteidl__Admin__TaskSpec *spec;
	int result;

	spok_task_init(out);
	spec = (Flyteidl__Admin__TaskSpec *)spok_pb_unpack(&flyteidl__admin__task_spec__descriptor,
							   buf, len, path,
							   "flyteidl.admin.TaskSpec", err);
	if (spec == NULL)
		return SPOK_EINVAL;
	if (spec->template_ == NULL)
		result = spok_err_set(err, SPOK_EINVAL, "%s: TaskSpec has no template; pass a task "
				      ".pb written by pyflyte package", path);
	else
		result = spok_task_from_template(spec->template_, path, path, out, err);
	flyteidl__admin__task_spec__free_unpacked(spec, NULL);
	return result;
}
