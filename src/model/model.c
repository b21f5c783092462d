#include "model/model.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xalloc.h"

static const struct {
	enum spok_app_type type;
	const char *name;
	const char *crd;
} app_types[] = {
	{SPOK_APP_PYTHON, "PYTHON", "Python"},
	{SPOK_APP_JAVA, "JAVA", "Java"},
	{SPOK_APP_SCALA, "SCALA", "Scala"},
	{SPOK_APP_R, "R", "R"},
};

bool spok_app_type_parse(const char *s, enum spok_app_type *out)
{
	for (size_t i = 0; i < sizeof(app_types) / sizeof(app_types[0]); i++) {
		if (strcasecmp(s, app_types[i].name) == 0) {
			*out = app_types[i].type;
			return true;
		}
	}
	return false;
}

const char *spok_app_type_name(enum spok_app_type t)
{
	for (size_t i = 0; i < sizeof(app_types) / sizeof(app_types[0]); i++)
		if (app_types[i].type == t)
			return app_types[i].name;
	return "PYTHON";
}

/* Flyte maps anything unknown to Python; so do we. */
const char *spok_app_type_crd(enum spok_app_type t)
{
	for (size_t i = 0; i < sizeof(app_types) / sizeof(app_types[0]); i++)
		if (app_types[i].type == t)
			return app_types[i].crd;
	return "Python";
}

void spok_pod_free(struct spok_pod *p)
{
	spok_strmap_free(&p->labels);
	spok_strmap_free(&p->annotations);
	json_decref(p->pod_spec);
	free(p->primary_container_name);
	memset(p, 0, sizeof(*p));
}

void spok_vars_add(struct spok_vars *v, const char *name, enum spok_lit_type type)
{
	v->items = xreallocarray(v->items, v->len + 1, sizeof(*v->items));
	v->items[v->len].name = xstrdup(name);
	v->items[v->len].type = type;
	v->len++;
}

void spok_vars_free(struct spok_vars *v)
{
	for (size_t i = 0; i < v->len; i++)
		free(v->items[i].name);
	free(v->items);
	v->items = NULL;
	v->len = 0;
}

void spok_task_init(struct spok_task *t)
{
	memset(t, 0, sizeof(*t));
	t->type = SPOK_APP_PYTHON;
}

static int over(const char *where, const char *field, size_t n, size_t cap, const char *what,
		struct spok_err *err)
{
	return spok_err_set(err, SPOK_EINVAL, "%s: %s: %zu %s is over the cap of %zu; use fewer",
			    where ? where : "<task>", field, n, what, cap);
}

int spok_task_check_limits(const struct spok_task *t, const char *where, struct spok_err *err)
{
	const struct {
		const char *field;
		const struct spok_strmap *m;
	} maps[] = {
		{"labels", &t->labels}, {"annotations", &t->annotations},
		{"sparkConf", &t->spark_conf}, {"hadoopConf", &t->hadoop_conf}, {"env", &t->env},
		{"config", &t->config},
		{"driverPod.labels", &t->driver_pod.labels},
		{"driverPod.annotations", &t->driver_pod.annotations},
		{"executorPod.labels", &t->executor_pod.labels},
		{"executorPod.annotations", &t->executor_pod.annotations},
		{"k8sPod.labels", &t->k8s_pod.labels},
		{"k8sPod.annotations", &t->k8s_pod.annotations},
	};
	const struct {
		const char *field;
		size_t n, cap;
	} lists[] = {
		{"args", t->args.len, SPOK_TASK_LIST_MAX},
		{"command", t->command.len, SPOK_TASK_LIST_MAX},
		{"inputs", t->inputs.len, SPOK_TASK_LIST_MAX},
		{"outputs", t->outputs.len, SPOK_TASK_LIST_MAX},
		{"pyFiles", t->py_files.len, SPOK_TASK_DEPS_MAX},
		{"files", t->files.len, SPOK_TASK_DEPS_MAX},
	};

	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		if (maps[i].m->len > SPOK_TASK_MAP_MAX)
			return over(where, maps[i].field, maps[i].m->len, SPOK_TASK_MAP_MAX, "keys", err);
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		if (lists[i].n > lists[i].cap)
			return over(where, lists[i].field, lists[i].n, lists[i].cap, "items", err);
	return SPOK_OK;
}

void spok_task_free(struct spok_task *t)
{
	free(t->source_path);
	free(t->name);
	free(t->project);
	free(t->domain);
	free(t->version);
	free(t->main_application_file);
	free(t->main_class);
	spok_strmap_free(&t->spark_conf);
	spok_strmap_free(&t->hadoop_conf);
	free(t->executor_path);
	spok_pod_free(&t->driver_pod);
	spok_pod_free(&t->executor_pod);
	free(t->image);
	spok_strv_free(&t->command);
	spok_strv_free(&t->args);
	spok_strv_free(&t->py_files);
	spok_strv_free(&t->files);
	spok_strmap_free(&t->env);
	spok_strmap_free(&t->resource_requests);
	spok_strmap_free(&t->resource_limits);
	free(t->gpu_device);
	free(t->gpu_partition_size);
	spok_pod_free(&t->k8s_pod);
	free(t->service_account);
	free(t->pod_template_name);
	spok_strmap_free(&t->labels);
	spok_strmap_free(&t->annotations);
	spok_strmap_free(&t->config);
	spok_vars_free(&t->inputs);
	spok_vars_free(&t->outputs);
	spok_strmap_free(&t->input_values);
	free(t->python_path);
	free(t->flyte_execution_name);
	free(t->flyte_node_id);
	free(t->flyte_task_project);
	free(t->flyte_task_domain);
	spok_task_init(t);
}

void spok_exec_apply_task(const struct spok_task *t, struct spok_exec *x)
{
	if (t->flyte_execution_name == NULL || t->flyte_execution_name[0] == '\0')
		return;
	/* Flyte retries by sending a new request per attempt: spok runs one attempt of it. */
	x->execution_name = t->flyte_execution_name;
	x->node_id = t->flyte_node_id;
	x->attempt += t->flyte_attempt;
}

static void log_template_free(struct spok_log_template *lt)
{
	free(lt->name);
	free(lt->display_name);
	spok_strv_free(&lt->template_uris);
}

void spok_log_config_free(struct spok_log_config *c)
{
	free(c->kubernetes_url);
	free(c->kubernetes_template_uri);
	free(c->cloudwatch_region);
	free(c->cloudwatch_log_group);
	free(c->cloudwatch_template_uri);
	free(c->gcp_project);
	free(c->stackdriver_logresourcename);
	free(c->stackdriver_template_uri);
	for (size_t i = 0; i < c->ntemplates; i++)
		log_template_free(&c->templates[i]);
	free(c->templates);
	for (size_t i = 0; i < c->ndynamic_links; i++)
		log_template_free(&c->dynamic_links[i]);
	free(c->dynamic_links);
	memset(c, 0, sizeof(*c));
}

void spok_platform_init(struct spok_platform *p)
{
	memset(p, 0, sizeof(*p));
	p->spark.logs_mixed.kubernetes_enabled = true;
	p->spark.logs_mixed.kubernetes_template_uri = xstrdup(
		"http://localhost:30082/#!/log/{{ .namespace }}/{{ .podName }}/pod?namespace={{ .namespace }}");
	spok_strmap_set(&p->k8s.default_annotations,
			"cluster-autoscaler.kubernetes.io/safe-to-evict", "false");
	p->k8s.gpu_device_node_label = xstrdup("k8s.amazonaws.com/accelerator");
	p->k8s.gpu_partition_size_node_label = xstrdup("k8s.amazonaws.com/gpu-partition-size");
	p->k8s.gpu_resource_name = xstrdup("nvidia.com/gpu");
	p->spok.namespace_template = xstrdup("{{project}}-{{domain}}");
	p->spok.default_service_account = xstrdup("spark");
	p->spok.name_max_len = 50;
}

static void k8s_config_free(struct spok_k8s_config *k)
{
	spok_strmap_free(&k->default_annotations);
	spok_strmap_free(&k->default_labels);
	spok_strmap_free(&k->default_env_vars);
	spok_strmap_free(&k->default_node_selector);
	spok_strmap_free(&k->interruptible_node_selector);
	json_decref(k->default_tolerations);
	json_decref(k->interruptible_tolerations);
	json_decref(k->resource_tolerations);
	json_decref(k->default_affinity);
	json_decref(k->interruptible_node_selector_requirement);
	json_decref(k->non_interruptible_node_selector_requirement);
	json_decref(k->default_pod_security_context);
	json_decref(k->default_security_context);
	json_decref(k->default_pod_dns_config);
	free(k->scheduler_name);
	free(k->image_pull_policy);
	free(k->gpu_device_node_label);
	free(k->gpu_partition_size_node_label);
	free(k->gpu_resource_name);
	json_decref(k->gpu_unpartitioned_node_selector_requirement);
	json_decref(k->gpu_unpartitioned_toleration);
	spok_strv_free(&k->add_tolerations_for_extended_resources);
}

void spok_platform_free(struct spok_platform *p)
{
	free(p->source_path);
	spok_strmap_free(&p->spark.spark_config_default);
	free(p->spark.history_server_url);
	for (size_t i = 0; i < p->spark.nfeatures; i++) {
		free(p->spark.features[i].name);
		spok_strmap_free(&p->spark.features[i].spark_config);
	}
	free(p->spark.features);
	spok_log_config_free(&p->spark.logs_mixed);
	spok_log_config_free(&p->spark.logs_user);
	spok_log_config_free(&p->spark.logs_system);
	spok_log_config_free(&p->spark.logs_all_user);
	k8s_config_free(&p->k8s);
	free(p->spok.default_image);
	free(p->spok.namespace_template);
	free(p->spok.default_service_account);
	free(p->spok.spark_version);
	free(p->spok.event_log_dir);
	free(p->spok.event_log_mount);
	json_decref(p->spok.event_log_volume);
	free(p->spok.flyte_data_dir);
	json_decref(p->spok.flyte_data_volume);
	free(p->spok.flyte_data_local_dir);
	json_decref(p->spok.clusters);
	json_decref(p->spok.pools);
	json_decref(p->spok.warm_rules);
	json_decref(p->spok.routes);
	json_decref(p->spok.server);
	spok_strmap_free(&p->spok.positions);
	spok_cluster_resources_free(&p->spok.cluster_resources);
	spok_strv_free(&p->warnings);
	memset(p, 0, sizeof(*p));
}

void spok_cluster_resources_free(struct spok_cluster_resources *c)
{
	free(c->templates_dir);
	spok_strv_free(&c->projects);
	spok_strv_free(&c->domains);
	spok_strmap_free(&c->values);
	for (size_t i = 0; i < c->nproject_values; i++) {
		free(c->project_values[i].project);
		spok_strmap_free(&c->project_values[i].values);
	}
	free(c->project_values);
	memset(c, 0, sizeof(*c));
}

static const char *const phase_names[] = {
	"UNDEFINED", "QUEUED", "WAITING_FOR_RESOURCES", "INITIALIZING", "RUNNING",
	"SUCCEEDED", "RETRYABLE_FAILURE", "PERMANENT_FAILURE", "ABORTED", "TIMED_OUT",
};

const char *spok_phase_name(enum spok_phase p)
{
	if ((size_t)p >= sizeof(phase_names) / sizeof(phase_names[0]))
		return "UNDEFINED";
	return phase_names[p];
}

bool spok_phase_parse(const char *s, enum spok_phase *out)
{
	for (size_t i = 0; i < sizeof(phase_names) / sizeof(phase_names[0]); i++) {
		if (strcasecmp(s, phase_names[i]) == 0) {
			*out = (enum spok_phase)i;
			return true;
		}
	}
	return false;
}

bool spok_phase_terminal(enum spok_phase p)
{
	return p == SPOK_PHASE_SUCCEEDED || p == SPOK_PHASE_RETRYABLE_FAILURE ||
	       p == SPOK_PHASE_PERMANENT_FAILURE || p == SPOK_PHASE_ABORTED ||
	       p == SPOK_PHASE_TIMED_OUT;
}

static void append(char **out, size_t *len, const char *s, size_t n)
{
	*out = xrealloc(*out, *len + n + 1);
	memcpy(*out + *len, s, n);
	*len += n;
	(*out)[*len] = '\0';
}

char *spok_namespace_for(const struct spok_platform *p, const char *project, const char *domain)
{
	const char *t = p->spok.namespace_template ? p->spok.namespace_template : "{{project}}-{{domain}}";
	char *out = xstrdup("");
	size_t len = 0;

	while (*t) {
		if (strncmp(t, "{{project}}", 11) == 0) {
			append(&out, &len, project ? project : "", project ? strlen(project) : 0);
			t += 11;
		} else if (strncmp(t, "{{domain}}", 10) == 0) {
			append(&out, &len, domain ? domain : "", domain ? strlen(domain) : 0);
			t += 10;
		} else {
			append(&out, &len, t, 1);
			t++;
		}
	}
	return out;
}
