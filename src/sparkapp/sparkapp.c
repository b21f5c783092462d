/* sparkapp.c - assembles the SparkApplication (Flyte createSparkApplication plus the metadata
 * flytepropeller stamps on every k8s plugin object). Keys are emitted in the Go types'
 * declaration order; maps sorted bytewise like Go's encoding/json. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jarena.h"
#include "common/xalloc.h"
#include "sparkapp/internal.h"
#include "sparkapp/sparkapp.h"

#define SPOK_DEFAULT_NAME_MAX_LEN 50
#define SUBMISSION_FAILURE_RETRIES 14

/* Go strconv.ParseInt(s, 10, 32): optional sign, decimal digits only, 32-bit range. */
static bool parse_int32(const char *s, int32_t *out)
{
	int64_t v = 0;
	bool neg = false;
	size_t i = 0;

	if (s == NULL || s[0] == '\0')
		return false;
	if (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-';
		i = 1;
	}
	if (s[i] == '\0')
		return false;
	for (; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
		if (v > (int64_t)INT32_MAX + 1)
			return false;
	}
	if (neg)
		v = -v;
	if (v > INT32_MAX || v < INT32_MIN)
		return false;
	*out = (int32_t)v;
	return true;
}

/* Task-execution labels (what propeller's TaskExecutionMetadata.GetLabels returns):
 * execution labels, then the ones flytepropeller sets on the workflow and node (they win).
 * The task's own labels (TaskMetadata.metadata) are not among them: propeller adds those to
 * the SparkApplication's metadata only (addObjectMetadata). */
static void exec_labels(const struct spok__ctx *c, struct spok__kvs *m)
{
	const struct spok_task *t = c->t;

	if (c->x->labels)
		spok__kvs_add_map(m, c->x->labels);
	spok__kvs_add(m, "execution-id", c->x->execution_name);
	spok__kvs_add(m, "project", t->project ? t->project : "");
	spok__kvs_add(m, "domain", t->domain ? t->domain : "");
	spok__kvs_add(m, "node-id", c->node_label);
	if (c->task_label != NULL)
		spok__kvs_add(m, "task-name", c->task_label);
	spok__kvs_add(m, "interruptible", c->x->interruptible ? "true" : "false");
}

static void exec_annotations(const struct spok__ctx *c, struct spok__kvs *m)
{
	if (c->x->annotations)
		spok__kvs_add_map(m, c->x->annotations);
}

static const char *service_account(const struct spok__ctx *c)
{
	if (c->x->service_account && c->x->service_account[0])
		return c->x->service_account;
	if (c->t->service_account && c->t->service_account[0]) /* job files only */
		return c->t->service_account;
	if (c->p->spok.default_service_account && c->p->spok.default_service_account[0])
		return c->p->spok.default_service_account;
	return "spark";
}

/* dst[key] = v, shared rather than copied: v belongs to a role pod (struct spok__role), whose
 * tree is built afresh for this render, is not changed after the role is built and is freed
 * once the SparkApplication is assembled, so the SparkApplication ends up its only owner. */
static void set_moved(json_t *dst, const char *key, const json_t *v)
{
	if (v != NULL && !json_is_null(v))
		spok__jset(dst, key, json_incref((json_t *)v));
}

static void set_int_conf(json_t *o, const char *key, const struct spok_strmap *conf,
			 const char *conf_key)
{
	int32_t n;

	if (parse_int32(spok_strmap_get(conf, conf_key), &n) && n != 0)
		spok__jset(o, key, json_integer(n));
}

static json_t *sorted_object(const json_t *obj)
{
	struct spok_strmap m = {0};
	const char *k;
	json_t *v, *out;

	json_object_foreach((json_t *)obj, k, v)
		spok_strmap_set(&m, k, json_string_value(v) ? json_string_value(v) : "");
	out = spok__jmap_sorted(&m);
	spok_strmap_free(&m);
	return out;
}

/* Role labels and annotations: defaults, k8s_pod target metadata, task execution, role pod. */
static void role_meta(const struct spok__ctx *c, const struct spok_pod *role, json_t *o)
{
	const struct spok_platform *p = c->p;
	const struct spok_task *t = c->t;
	struct spok__kvs labels = {0}, ann = {0};

	spok__kvs_add_map(&labels, &p->k8s.default_labels);
	spok__kvs_add_map(&ann, &p->k8s.default_annotations);
	if (t->k8s_pod.present) {
		spok__kvs_add_map(&labels, &t->k8s_pod.labels);
		spok__kvs_add_map(&ann, &t->k8s_pod.annotations);
	}
	exec_labels(c, &labels);
	exec_annotations(c, &ann);
	spok__kvs_add_map(&labels, &role->labels);
	spok__kvs_add_map(&ann, &role->annotations);
	spok__jset(o, "labels", spok__kvs_json(&labels));
	if (ann.len > 0)
		spok__jset(o, "annotations", spok__kvs_json(&ann));
}

static json_t *role_env(const struct spok__ctx *c, const json_t *primary)
{
	json_t *env = json_array();
	const json_t *e;
	char max_attempts[16];
	size_t i;

	json_array_foreach(json_object_get(primary, "env"), i, e) /* moved: see set_moved */
		json_array_append(env, (json_t *)e);
	snprintf(max_attempts, sizeof(max_attempts), "%u", c->t->retries + 1u);
	json_array_append_new(env, spok__env_var("FLYTE_MAX_ATTEMPTS", max_attempts));
	return env;
}

/* SparkPodSpec (+ DriverSpec/ExecutorSpec extras) from the role's final pod. */
static json_t *role_json(const struct spok__ctx *c, const struct spok__role *r, bool is_driver,
			 const struct spok_strmap *conf)
{
	const struct spok_pod *role = is_driver ? &c->t->driver_pod : &c->t->executor_pod;
	const char *prefix = is_driver ? "spark.driver." : "spark.executor.";
	const json_t *pod = r->pod, *tol = json_object_get(pod, "tolerations");
	const json_t *ns = json_object_get(pod, "nodeSelector");
	const char *image = json_string_value(json_object_get(r->primary, "image"));
	const char *sched = json_string_value(json_object_get(pod, "schedulerName"));
	const char *prio = json_string_value(json_object_get(pod, "priorityClassName"));
	const char *mem;
	json_t *o = json_object(), *tpl = spok__pod_template(c, is_driver);
	char key[32];

	if (tpl) /* SparkPodSpec declares template first */
		spok__jset(o, "template", tpl);
	snprintf(key, sizeof(key), "%scores", prefix);
	set_int_conf(o, "cores", conf, key);
	snprintf(key, sizeof(key), "%smemory", prefix);
	mem = spok_strmap_get(conf, key);
	if (mem && mem[0])
		spok__jset(o, "memory", spok__jstr(mem));
	spok__jset(o, "image", spok__jstr(image));
	spok__jset(o, "env", role_env(c, r->primary));
	role_meta(c, role, o);
	set_moved(o, "affinity", json_object_get(pod, "affinity"));
	if (json_array_size(tol) > 0)
		set_moved(o, "tolerations", tol);
	set_moved(o, "podSecurityContext", json_object_get(pod, "securityContext"));
	set_moved(o, "securityContext", json_object_get(r->primary, "securityContext"));
	spok__jset(o, "schedulerName", spok__jstr(sched));
	spok__jset(o, "hostNetwork", json_boolean(json_is_true(json_object_get(pod, "hostNetwork"))));
	if (json_object_size(ns) > 0)
		spok__jset(o, "nodeSelector", sorted_object(ns));
	set_moved(o, "dnsConfig", json_object_get(pod, "dnsConfig"));
	spok__jset(o, "serviceAccount", spok__jstr(service_account(c)));
	if (!is_driver)
		set_int_conf(o, "instances", conf, "spark.executor.instances");
	if (prio && prio[0])
		spok__jset(o, "priorityClassName", spok__jstr(prio));
	return o;
}

static json_t *metadata_json(const struct spok__ctx *c)
{
	struct spok__kvs labels = {0}, ann = {0};
	json_t *md = json_object();

	/* addObjectMetadata: defaults, the task's metadata, then the task execution's. */
	spok__kvs_add_map(&labels, &c->p->k8s.default_labels);
	spok__kvs_add_map(&labels, &c->t->labels);
	exec_labels(c, &labels);
	spok__kvs_add_map(&ann, &c->p->k8s.default_annotations);
	spok__kvs_add_map(&ann, &c->t->annotations);
	exec_annotations(c, &ann);
	spok__jset(md, "name", spok__jstr(c->app_name));
	spok__jset(md, "namespace", spok__jstr(c->x->namespace_));
	spok__jset(md, "labels", spok__kvs_json(&labels));
	if (ann.len > 0)
		spok__jset(md, "annotations", spok__kvs_json(&ann));
	return md;
}

/* One spec.deps list: local paths rewritten when shipped, everything else verbatim. */
static void deps_list(const struct spok__ctx *c, json_t *deps, const char *key,
		      const struct spok_strv *v)
{
	json_t *a;

	if (v->len == 0) /* omitempty */
		return;
	a = json_array();
	for (size_t i = 0; i < v->len; i++) {
		if (c->ship && spok_path_is_local(v->items[i])) {
			char *uri = spok_ship_uri(v->items[i]);
			json_array_append_new(a, spok__jstr(uri));
			free(uri);
		} else {
			json_array_append_new(a, spok__jstr(v->items[i]));
		}
	}
	spok__jset(deps, key, a);
}

/* The operator's Dependencies in its declaration order (jars, files, pyFiles, ...). Go's
 * encoder never omits a struct: "deps": {} when the task has none (every Flyte task). */
static json_t *deps_json(const struct spok__ctx *c)
{
	json_t *deps = json_object();

	deps_list(c, deps, "files", &c->t->files);
	deps_list(c, deps, "pyFiles", &c->t->py_files);
	return deps;
}

static json_t *spec_json(const struct spok__ctx *c, const struct spok__role *drv,
			 const struct spok__role *exe, const struct spok_strmap *conf)
{
	const struct spok_task *t = c->t;
	const json_t *args = json_object_get(exe->primary, "args");
	const char *batch = spok_strmap_get(conf, "spark.batchScheduler");
	json_t *spec = json_object(), *rp = json_object();

	spok__jset(spec, "type", spok__jstr(spok_app_type_crd(t->type)));
	spok__jset(spec, "sparkVersion", spok__jstr(""));
	spok__jset(spec, "mode", spok__jstr("cluster"));
	spok__jset(spec, "image",
		   spok__jstr(json_string_value(json_object_get(exe->primary, "image"))));
	if (t->main_class && t->main_class[0])
		spok__jset(spec, "mainClass", spok__jstr(t->main_class));
	if (c->ship && spok_path_is_local(t->main_application_file)) {
		char *uri = spok_ship_uri(t->main_application_file);
		spok__jset(spec, "mainApplicationFile", spok__jstr(uri));
		free(uri);
	} else if (t->main_application_file && t->main_application_file[0])
		spok__jset(spec, "mainApplicationFile", spok__jstr(t->main_application_file));
	else
		spok__jset(spec, "mainApplicationFile", json_null());
	if (json_array_size(args) > 0)
		set_moved(spec, "arguments", args);
	spok__jset(spec, "sparkConf", spok__jmap_sorted(conf));
	if (t->hadoop_conf.len > 0)
		spok__jset(spec, "hadoopConf", spok__jmap_sorted(&t->hadoop_conf));
	spok__jset(spec, "driver", role_json(c, drv, true, conf));
	spok__jset(spec, "executor", role_json(c, exe, false, conf));
	spok__jset(spec, "deps", deps_json(c));
	spok__jset(rp, "type", spok__jstr("OnFailure"));
	spok__jset(rp, "onSubmissionFailureRetries", json_integer(SUBMISSION_FAILURE_RETRIES));
	spok__jset(spec, "restartPolicy", rp);
	if (batch != NULL)
		spok__jset(spec, "batchScheduler", spok__jstr(batch));
	return spec;
}

/* The platform's event-log dir (spok.event-log) wins over the job's keys: the history link
 * the platform hands out must find the log. Cluster runs only: local runs set their own. */
static void event_log_conf(const struct spok_platform *p, struct spok_strmap *conf)
{
	if (p->spok.event_log_dir == NULL)
		return;
	spok_strmap_set(conf, "spark.eventLog.enabled", "true");
	spok_strmap_set(conf, "spark.eventLog.dir", p->spok.event_log_dir);
}

static int check_inputs(const struct spok_task *t, const struct spok_platform *p,
			const struct spok_exec *x, struct spok_err *err)
{
	int max = p->spok.name_max_len > 0 ? p->spok.name_max_len : SPOK_DEFAULT_NAME_MAX_LEN;

	if (x->execution_name == NULL || x->execution_name[0] == '\0')
		return spok_err_set(err, SPOK_EINVAL,
				    "execution: the execution name is empty; give one");
	if (x->namespace_ == NULL || x->namespace_[0] == '\0')
		return spok_err_set(err, SPOK_EINVAL,
				    "namespace: the namespace is empty; give one");
	if ((t->main_application_file == NULL || t->main_application_file[0] == '\0') &&
	    (t->main_class == NULL || t->main_class[0] == '\0'))
		return spok_err_set(err, SPOK_EINVAL,
				    "mainApplicationFile: either mainApplicationFile or mainClass "
				    "must be set; add one to the job file");
	if (max < 8)
		return spok_err_set(err, SPOK_EINVAL,
				    "spok.name-max-len: %d is too small; use at least 8", max);
	return SPOK_OK;
}

static int build(const struct spok_task *t, const struct spok_platform *p,
		 const struct spok_exec *x, json_t **out, struct spok_err *err)
{
	struct spok__role drv = {0}, exe = {0};
	struct spok_strmap conf = {0};
	struct spok__ctx c = {t, p, x, NULL, NULL, NULL, NULL, false};
	struct spok_ship ship = {0};
	struct spok_exec xf;
	char attempt[16];
	const char *parts[3];
	json_t *app;
	int result;

	*out = NULL;
	xf = *x; /* a task from flytepropeller is named as Flyte named it */
	spok_exec_apply_task(t, &xf);
	c.x = x = &xf;
	if ((result = check_inputs(t, p, x, err)) != SPOK_OK)
		return result;
	if (x->ship_local_files && (result = spok_ship_list(t, &ship, err)) != SPOK_OK)
		return result;
	c.ship = ship.n > 0;
	spok_ship_free(&ship);
	snprintf(attempt, sizeof(attempt), "%u", x->attempt);
	parts[0] = x->execution_name;
	parts[1] = x->node_id ? x->node_id : "n0";
	parts[2] = attempt;
	c.gen = spok_generated_name(parts, 3,
				    p->spok.name_max_len > 0 ? p->spok.name_max_len
							     : SPOK_DEFAULT_NAME_MAX_LEN);
	c.app_name = spok_dns1123_subdomain(c.gen);
	/* The label values every role's labels repeat, worked out once. */
	c.node_label = spok_label_value(x->node_id ? x->node_id : "n0");
	c.task_label = t->name != NULL ? spok_label_value(t->name) : NULL;
	if ((result = spok__role_build(&c, true, &drv, err)) != SPOK_OK)
		goto fail;
	if ((result = spok__role_build(&c, false, &exe, err)) != SPOK_OK)
		goto fail;
	spok_sparkapp_conf(t, p, x, c.gen, &conf);
	event_log_conf(p, &conf);
	app = json_object();
	spok__jset(app, "apiVersion", spok__jstr(SPOK_SPARKAPP_API_VERSION));
	spok__jset(app, "kind", spok__jstr("SparkApplication"));
	spok__jset(app, "metadata", metadata_json(&c));
	spok__jset(app, "spec", spec_json(&c, &drv, &exe, &conf));
	*out = app;
fail:
	spok_strmap_free(&conf);
	spok__role_free(&drv);
	spok__role_free(&exe);
	free((char *)c.gen);
	free((char *)c.app_name);
	free((char *)c.node_label);
	free((char *)c.task_label);
	return result;
}

int spok_sparkapp_build(const struct spok_task *t, const struct spok_platform *p,
			const struct spok_exec *x, json_t **out, struct spok_err *err)
{
	int result;

	if (out == NULL || t == NULL || p == NULL || x == NULL)
		return spok_err_set(err, SPOK_EINTERNAL, "sparkapp: missing argument; please report");
	/* The tree's ~600 nodes, strings and pairs come out of a few arena chunks; it stays an
	 * ordinary json_t for the caller (common/jarena.h). */
	spok_jarena_begin();
	result = build(t, p, x, out, err);
	spok_jarena_end();
	return result;
}
