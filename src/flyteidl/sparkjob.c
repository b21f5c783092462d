/* sparkjob.c - TaskTemplate.custom (proto-JSON of flyteidl.plugins.SparkJob) -> task.
 *
 * flytekit writes custom with MessageToDict: camelCase keys, defaults omitted, enums as
 * names. Flyte decodes it with jsonpb and AllowUnknownFields, which also accepts the
 * snake_case proto names and integer enums; we accept the same and ignore unknown keys
 * (databricksConf, databricksToken, ...).
 */
#include "flyteidl/internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/xalloc.h"

/* Looks a proto field up by its JSON name or its proto name; JSON null counts as absent. */
static json_t *field(const json_t *obj, const char *camel, const char *snake)
{
	json_t *v = json_object_get(obj, camel);

	if (v == NULL)
		v = json_object_get(obj, snake);
	return json_is_null(v) ? NULL : v;
}

static int get_string(const json_t *obj, const char *camel, const char *snake, const char *path,
		      const char *where, char **out, struct spok_err *err)
{
	json_t *v = field(obj, camel, snake);

	if (v == NULL)
		return SPOK_OK;
	if (!json_is_string(v))
		return spok_err_set(err, SPOK_EINVAL, "%s: %s.%s: expected a string, got a %s; "
				    "fix the task's Spark config", path, where, camel,
				    spok_json_type_name(v));
	free(*out);
	*out = json_string_value(v)[0] != '\0' ? xstrdup(json_string_value(v)) : NULL;
	return SPOK_OK;
}

static int get_string_map(const json_t *obj, const char *camel, const char *snake,
			  const char *path, const char *where, struct spok_strmap *out,
			  struct spok_err *err)
{
	json_t *m = field(obj, camel, snake), *v;
	const char *k;

	if (m == NULL)
		return SPOK_OK;
	if (!json_is_object(m))
		return spok_err_set(err, SPOK_EINVAL, "%s: %s.%s: expected a map of strings, got a %s; "
				    "fix the task's Spark config", path, where, camel,
				    spok_json_type_name(m));
	json_object_foreach(m, k, v) {
		if (!json_is_string(v))
			return spok_err_set(err, SPOK_EINVAL,
					    "%s: %s.%s[\"%s\"]: expected a string value, got a %s; "
					    "quote the value in the task's config", path, where, camel,
					    k, spok_json_type_name(v));
		spok_strmap_set(out, k, json_string_value(v));
	}
	return SPOK_OK;
}

static int get_app_type(const json_t *job, const char *path, enum spok_app_type *out,
			struct spok_err *err)
{
	json_t *v = field(job, "applicationType", "application_type");
	double d;

	if (v == NULL)
		return SPOK_OK;
	if (json_is_string(v) && spok_app_type_parse(json_string_value(v), out))
		return SPOK_OK;
	if (json_is_number(v)) {
		d = json_number_value(v);
		if (d == trunc(d) && d >= SPOK_APP_PYTHON && d <= SPOK_APP_R) {
			*out = (enum spok_app_type)(int)d;
			return SPOK_OK;
		}
	}
	return spok_err_set(err, SPOK_EINVAL, "%s: custom.applicationType: unknown application type; "
			    "use PYTHON, JAVA, SCALA or R", path);
}

int spok_pod_from_json(const json_t *pod, const char *path, const char *where,
		       struct spok_pod *out, struct spok_err *err)
{
	char at[128];
	json_t *meta, *spec;
	int result;

	if (!json_is_object(pod))
		return spok_err_set(err, SPOK_EINVAL, "%s: %s: expected an object (K8sPod), got a %s; "
				    "fix the pod template", path, where, spok_json_type_name(pod));
	out->present = true;
	snprintf(at, sizeof(at), "%s.metadata", where);
	meta = field(pod, "metadata", "metadata");
	if (meta != NULL && !json_is_object(meta))
		return spok_err_set(err, SPOK_EINVAL, "%s: %s: expected an object, got a %s; "
				    "fix the pod template", path, at, spok_json_type_name(meta));
	if (meta != NULL) {
		result = get_string_map(meta, "labels", "labels", path, at, &out->labels, err);
		if (result == SPOK_OK)
			result = get_string_map(meta, "annotations", "annotations", path, at,
						&out->annotations, err);
		if (result != SPOK_OK)
			return result;
	}
	spec = field(pod, "podSpec", "pod_spec");
	if (spec != NULL && !json_is_object(spec))
		return spok_err_set(err, SPOK_EINVAL, "%s: %s.podSpec: expected an object (PodSpec), "
				    "got a %s; fix the pod template", path, where,
				    spok_json_type_name(spec));
	if (spec != NULL)
		out->pod_spec = json_incref(spec);
	return get_string(pod, "primaryContainerName", "primary_container_name", path, where,
			  &out->primary_container_name, err);
}

static int get_pod(const json_t *job, const char *camel, const char *snake, const char *path,
		   struct spok_pod *out, struct spok_err *err)
{
	char where[64];
	json_t *v = field(job, camel, snake);

	if (v == NULL)
		return SPOK_OK;
	snprintf(where, sizeof(where), "custom.%s", camel);
	return spok_pod_from_json(v, path, where, out, err);
}

int spok_sparkjob_from_json(const json_t *job, const char *path, struct spok_task *t,
			    struct spok_err *err)
{
	int result;

	if (!json_is_object(job) || json_object_size(job) == 0)
		return spok_err_set(err, SPOK_EINVAL, "%s: custom: no SparkJob in the task (custom is "
				    "empty): either mainApplicationFile or mainClass must be set; "
				    "serialize the task with flytekitplugins-spark", path);
	result = get_app_type(job, path, &t->type, err);
	if (result == SPOK_OK)
		result = get_string(job, "mainApplicationFile", "main_application_file", path,
				    "custom", &t->main_application_file, err);
	if (result == SPOK_OK)
		result = get_string(job, "mainClass", "main_class", path, "custom", &t->main_class,
				    err);
	if (result == SPOK_OK)
		result = get_string_map(job, "sparkConf", "spark_conf", path, "custom",
					&t->spark_conf, err);
	if (result == SPOK_OK)
		result = get_string_map(job, "hadoopConf", "hadoop_conf", path, "custom",
					&t->hadoop_conf, err);
	if (result == SPOK_OK)
		result = get_string(job, "executorPath", "executor_path", path, "custom",
				    &t->executor_path, err);
	if (result == SPOK_OK)
		result = get_pod(job, "driverPod", "driver_pod", path, &t->driver_pod, err);
	if (result == SPOK_OK)
		result = get_pod(job, "executorPod", "executor_pod", path, &t->executor_pod, err);
	if (result != SPOK_OK)
		return result;
	if (t->main_application_file == NULL && t->main_class == NULL)
		return spok_err_set(err, SPOK_EINVAL, "%s: custom: either mainApplicationFile or "
				    "mainClass must be set; set applications_path or main_class "
				    "in the task's Spark config", path);
	return SPOK_OK;
}
