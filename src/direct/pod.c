/* pod.c - the driver pod as spark-submit builds it (Spark 4.0 KubernetesDriverBuilder: the
 * pod template, then BasicDriverFeatureStep, DriverKubernetesCredentialsFeatureStep,
 * DriverCommandFeatureStep, PodTemplateConfigMapStep, LocalDirsFeatureStep, and the conf
 * volume KubernetesClientApplication adds), then what the operator's mutating webhook patches
 * into a pod it sees (the role's env list, affinity, tolerations, ...). The executors get the
 * webhook's part through their pod template, since the driver creates them. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xalloc.h"
#include "direct/direct.h"
#include "direct/internal.h"

json_t *spok__dx_obj(json_t *parent, const char *key)
{
	json_t *o = json_object_get(parent, key);

	if (!json_is_object(o)) {
		o = json_object();
		json_object_set_new(parent, key, o);
	}
	return o;
}

json_t *spok__dx_arr(json_t *parent, const char *key)
{
	json_t *a = json_object_get(parent, key);

	if (!json_is_array(a)) {
		a = json_array();
		json_object_set_new(parent, key, a);
	}
	return a;
}

json_t *spok__dx_map_json(const struct spok_strmap *m)
{
	json_t *o = json_object();

	for (size_t i = 0; i < m->len; i++)
		json_object_set_new(o, m->items[i].key, json_string(m->items[i].value));
	return o;
}

static json_t *env_var(const char *name, const char *value)
{
	return json_pack("{s:s, s:s}", "name", name, "value", value);
}

static void append_copies(json_t *dst, const json_t *src)
{
	size_t i;
	json_t *v;

	json_array_foreach((json_t *)src, i, v)
		json_array_append_new(dst, json_deep_copy(v));
}

/* A pod template split as Spark's selectSparkContainer does: the container named by
 * spark.kubernetes.<role>.podTemplateContainerName, else the first; the pod keeps the rest. */
static void split_template(const json_t *tpl, const char *want, const char *def_name,
			   json_t **pod, json_t **ctr)
{
	json_t *spec, *ctrs;
	size_t pick = 0;

	*pod = json_is_object(tpl) ? json_deep_copy(tpl) : json_object();
	spec = spok__dx_obj(*pod, "spec");
	ctrs = spok__dx_arr(spec, "containers");
	for (size_t i = 0; want && i < json_array_size(ctrs); i++)
		if (json_is_string(json_object_get(json_array_get(ctrs, i), "name")) &&
		    strcmp(json_string_value(json_object_get(json_array_get(ctrs, i), "name")), want) == 0)
			pick = i;
	*ctr = json_is_object(json_array_get(ctrs, pick)) ? json_deep_copy(json_array_get(ctrs, pick))
							   : json_object();
	if (json_array_size(ctrs) > pick)
		json_array_remove(ctrs, pick);
	if (!json_is_string(json_object_get(*ctr, "name")))
		json_object_set_new(*ctr, "name", json_string(def_name));
}

/* The webhook's patches for one role (spark-operator v2 sparkpod_defaulter.go), in its order:
 * volumes (spec.volumes the role mounts), env and envFrom appended, affinity, tolerations
 * appended, security contexts, scheduler name, host network, node selector, DNS config,
 * priority class, grace period. */
static void webhook(const json_t *spec, const json_t *role, json_t *podspec, json_t *ctr)
{
	const json_t *mounts = json_object_get(role, "volumeMounts"), *m, *v, *aff;
	const char *s, *k;
	size_t i, j;

	json_array_foreach((json_t *)mounts, i, m) {
		json_array_foreach(json_object_get(spec, "volumes"), j, v)
			if (json_equal(json_object_get(v, "name"), json_object_get(m, "name")))
				json_array_append_new(spok__dx_arr(podspec, "volumes"), json_deep_copy(v));
		json_array_append_new(spok__dx_arr(ctr, "volumeMounts"), json_deep_copy(m));
	}
	if (json_array_size(json_object_get(role, "env")) > 0)
		append_copies(spok__dx_arr(ctr, "env"), json_object_get(role, "env"));
	if (json_array_size(json_object_get(role, "envFrom")) > 0)
		append_copies(spok__dx_arr(ctr, "envFrom"), json_object_get(role, "envFrom"));
	aff = json_object_get(role, "affinity");
	if (json_object_size(aff) > 0) /* Flyte sends {} for none */
		json_object_set_new(podspec, "affinity", json_deep_copy(aff));
	if (json_array_size(json_object_get(role, "tolerations")) > 0)
		append_copies(spok__dx_arr(podspec, "tolerations"), json_object_get(role, "tolerations"));
	if (json_is_object(json_object_get(role, "podSecurityContext")))
		json_object_set_new(podspec, "securityContext",
				    json_deep_copy(json_object_get(role, "podSecurityContext")));
	if (json_is_object(json_object_get(role, "securityContext")))
		json_object_set_new(ctr, "securityContext",
				    json_deep_copy(json_object_get(role, "securityContext")));
	s = json_string_value(json_object_get(role, "schedulerName"));
	if (s && s[0])
		json_object_set_new(podspec, "schedulerName", json_string(s));
	if (json_is_true(json_object_get(role, "hostNetwork"))) {
		json_object_set_new(podspec, "hostNetwork", json_true());
		json_object_set_new(podspec, "dnsPolicy", json_string("ClusterFirstWithHostNet"));
	}
	json_object_foreach(json_object_get(role, "nodeSelector"), k, v)
		if (json_is_string(v))
			json_object_set_new(spok__dx_obj(podspec, "nodeSelector"), k, json_deep_copy(v));
	if (json_is_object(json_object_get(role, "dnsConfig")))
		json_object_set_new(podspec, "dnsConfig",
				    json_deep_copy(json_object_get(role, "dnsConfig")));
	s = json_string_value(json_object_get(role, "priorityClassName"));
	if (s && s[0])
		json_object_set_new(podspec, "priorityClassName", json_string(s));
	if (json_is_integer(json_object_get(role, "terminationGracePeriodSeconds")))
		json_object_set(podspec, "terminationGracePeriodSeconds",
				json_object_get(role, "terminationGracePeriodSeconds"));
}

json_t *spok__dx_exec_template(const struct spok__dx *d)
{
	json_t *pod, *ctr, *spec, *out;

	split_template(json_object_get(d->exe, "template"),
		       spok_strmap_get(&d->conf, "spark.kubernetes.executor.podTemplateContainerName"),
		       "spark-kubernetes-executor", &pod, &ctr);
	spec = spok__dx_obj(pod, "spec");
	webhook(d->spec, d->exe, spec, ctr);
	json_array_insert_new(spok__dx_arr(spec, "containers"), 0, ctr); /* Spark takes the first */
	out = json_pack("{s:s, s:s}", "apiVersion", "v1", "kind", "Pod");
	json_object_update(out, pod);
	json_decref(pod);
	return out;
}

static const char *conf_get(const struct spok__dx *d, const char *key, const char *def)
{
	const char *v = spok_strmap_get(&d->conf, key);
	return v ? v : def;
}

/* KubernetesConf.getAppNameLabel: lower case, [^a-z0-9-] -> '-', runs of '-' squeezed, cut
 * at 63; trailing '-' also trimmed here so the value is always a valid label. */
static char *app_name_label(const char *name)
{
	char *out = xmalloc(strlen(name) + 1);
	size_t n = 0;

	while (isspace((unsigned char)*name))
		name++;
	for (const char *p = name; *p && n < 63; p++) {
		char c = (char)tolower((unsigned char)*p);

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			c = '-';
		if (c == '-' && n > 0 && out[n - 1] == '-')
			continue;
		out[n++] = c;
	}
	while (n > 0 && out[n - 1] == '-')
		n--;
	out[n] = '\0';
	return out;
}

/* KubernetesDriverConf.labels: the custom driver labels (values substituted), then Spark's
 * own, which no custom label may name. */
static int driver_labels(const struct spok__dx *d, struct spok_strmap *out, struct spok_err *err)
{
	static const char *const reserved[] = {"spark-version", "spark-app-selector",
					       "spark-app-name", "spark-role"};
	struct spok_strmap custom = {0};
	char *name;

	spok__dx_prefixed(&d->conf, "spark.kubernetes.driver.label.", &custom);
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (spok_strmap_has(&custom, reserved[i])) {
			spok_strmap_free(&custom);
			return spok_err_set(err, SPOK_EINVAL, "driver label %s: reserved for Spark's "
					    "bookkeeping; remove it from the task's labels", reserved[i]);
		}
	for (size_t i = 0; i < custom.len; i++) {
		char *v = spok__dx_subst(custom.items[i].value, d->app_id);
		spok_strmap_set(out, custom.items[i].key, v);
		free(v);
	}
	spok_strmap_free(&custom);
	spok_strmap_set(out, "spark-version", d->version);
	spok_strmap_set(out, "spark-app-selector", d->app_id);
	name = app_name_label(d->name);
	spok_strmap_set(out, "spark-app-name", name);
	free(name);
	spok_strmap_set(out, "spark-role", "driver");
	return SPOK_OK;
}

static int parse_factor(const char *key, const char *v, double *out, struct spok_err *err)
{
	char *end;

	errno = 0;
	*out = strtod(v, &end);
	while (isspace((unsigned char)*end))
		end++;
	if (errno || end == v || *end || !isfinite(*out) || *out <= 0)
		return spok_err_set(err, SPOK_EINVAL, "sparkConf %s %s: not a number greater than 0",
				    key, v);
	return SPOK_OK;
}

static int mib_conf(const char *key, const char *v, long long *out, struct spok_err *err)
{
	if (!spok__dx_mib(v, out))
		return spok_err_set(err, SPOK_EINVAL, "sparkConf %s %s: not a size Spark accepts (a "
				    "whole number with an optional unit: k, m, g, t)", key, v);
	return SPOK_OK;
}

/* Memory as BasicDriverFeatureStep computes it: spark.driver.memory plus
 * spark.driver.memoryOverhead, else max(factor * memory, spark.driver.minMemoryOverhead)
 * MiB (Spark 4.0's key, 384m by default; Spark 3.5 had 384 fixed); the factor is
 * spark.driver.memoryOverheadFactor, else the propagated default (0.1, non-JVM 0.4). */
static int driver_memory(const struct spok__dx *d, char **out, struct spok_err *err)
{
	const char *mem_s = conf_get(d, "spark.driver.memory", "1g");
	const char *ovh_s = spok_strmap_get(&d->conf, "spark.driver.memoryOverhead");
	const char *fkey = spok_strmap_has(&d->conf, "spark.driver.memoryOverheadFactor")
				   ? "spark.driver.memoryOverheadFactor"
				   : "spark.kubernetes.memoryOverheadFactor";
	long long mem, ovh, min;
	double factor, f;
	int rc;

	if ((rc = mib_conf("spark.driver.memory", mem_s, &mem, err)))
		return rc;
	if ((rc = mib_conf("spark.driver.minMemoryOverhead",
			   conf_get(d, "spark.driver.minMemoryOverhead", "384m"), &min, err)))
		return rc;
	if (ovh_s) {
		if ((rc = mib_conf("spark.driver.memoryOverhead", ovh_s, &ovh, err)))
			return rc;
	} else {
		if ((rc = parse_factor(fkey, conf_get(d, fkey, "0.1"), &factor, err)))
			return rc;
		f = factor * (double)mem; /* Scala's Double.toInt saturates */
		ovh = f >= 2147483647.0 ? 2147483647LL : (long long)f;
		if (ovh < min)
			ovh = min;
	}
	*out = xasprintf("%lldMi", mem + ovh);
	return SPOK_OK;
}

/* KubernetesUtils.buildResourcesQuantities: spark.driver.resource.<name>.amount with its
 * .vendor -> limits["<vendor>/<name>"]. */
static int resource_limits(const struct spok__dx *d, json_t *limits, struct spok_err *err)
{
	struct spok_strmap res = {0};
	int rc = SPOK_OK;

	spok__dx_prefixed(&d->conf, "spark.driver.resource.", &res);
	for (size_t i = 0; i < res.len && rc == SPOK_OK; i++) {
		const char *k = res.items[i].key, *dot = strrchr(k, '.');
		char *name, *vkey, *limit;
		const char *vendor;

		if (dot == NULL || strcmp(dot, ".amount") != 0)
			continue;
		name = xstrndup(k, (size_t)(dot - k));
		vkey = xasprintf("%s.vendor", name);
		vendor = spok_strmap_get(&res, vkey);
		if (vendor == NULL || vendor[0] == '\0') {
			rc = spok_err_set(err, SPOK_EINVAL, "sparkConf spark.driver.resource.%s.vendor: "
					  "missing; Kubernetes needs a vendor for resource %s (e.g. "
					  "nvidia.com)", name, name);
		} else {
			limit = xasprintf("%s/%s", vendor, name);
			json_object_set_new(limits, limit, json_string(res.items[i].value));
			free(limit);
		}
		free(name);
		free(vkey);
	}
	spok_strmap_free(&res);
	return rc;
}

static int cpu_request(const struct spok__dx *d, char **out, struct spok_err *err)
{
	const char *req = spok_strmap_get(&d->conf, "spark.kubernetes.driver.request.cores");
	const char *cores = conf_get(d, "spark.driver.cores", "1");
	char *end;
	long long n;

	if (req) {
		*out = xstrdup(req);
		return SPOK_OK;
	}
	errno = 0;
	n = strtoll(cores, &end, 10);
	if (errno || end == cores || *end || n < 0 || n > 1000000)
		return spok_err_set(err, SPOK_EINVAL, "sparkConf spark.driver.cores %s: not a whole "
				    "number of cores", cores);
	*out = xasprintf("%lld", n);
	return SPOK_OK;
}

static int resources(const struct spok__dx *d, json_t *ctr, struct spok_err *err)
{
	json_t *res = spok__dx_obj(ctr, "resources");
	json_t *req = spok__dx_obj(res, "requests"), *lim = spok__dx_obj(res, "limits");
	const char *climit = spok_strmap_get(&d->conf, "spark.kubernetes.driver.limit.cores");
	char *cpu = NULL, *mem = NULL;
	int rc;

	if ((rc = cpu_request(d, &cpu, err)) || (rc = driver_memory(d, &mem, err)))
		goto out;
	json_object_set_new(req, "cpu", json_string(cpu));
	if (climit)
		json_object_set_new(lim, "cpu", json_string(climit));
	json_object_set_new(req, "memory", json_string(mem));
	json_object_set_new(lim, "memory", json_string(mem));
	rc = resource_limits(d, lim, err);
out:
	free(cpu);
	free(mem);
	return rc;
}

static void port(json_t *ports, const char *name, long long n)
{
	json_array_append_new(ports, json_pack("{s:s, s:I, s:s}", "name", name, "containerPort",
					       (json_int_t)n, "protocol", "TCP"));
}

static void env_map(json_t *env, const struct spok_strmap *m)
{
	for (size_t i = 0; i < m->len; i++)
		json_array_append_new(env, env_var(m->items[i].key, m->items[i].value));
}

/* BasicDriverFeatureStep's container part. */
static int basic_container(const struct spok__dx *d, json_t *ctr, struct spok_err *err)
{
	const char *image = conf_get(d, "spark.kubernetes.driver.container.image",
				     spok_strmap_get(&d->conf, "spark.kubernetes.container.image"));
	struct spok_strmap denv = {0};
	json_t *ports, *env;

	if (image == NULL || image[0] == '\0')
		return spok_err_set(err, SPOK_EINVAL, "spec.image: missing; Spark needs the driver "
				    "container image");
	json_object_set_new(ctr, "image", json_string(image));
	json_object_set_new(ctr, "imagePullPolicy", json_string(conf_get(
		d, "spark.kubernetes.container.image.pullPolicy", "IfNotPresent")));
	ports = spok__dx_arr(ctr, "ports");
	port(ports, "driver-rpc-port", d->driver_port);
	port(ports, "blockmanager", d->bm_port);
	port(ports, "spark-ui", d->ui_port);
	env = spok__dx_arr(ctr, "env");
	json_array_append_new(env, env_var("SPARK_USER", d->user));
	json_array_append_new(env, env_var("SPARK_APPLICATION_ID", d->app_id));
	spok__dx_prefixed(&d->conf, "spark.kubernetes.driverEnv.", &denv);
	env_map(env, &denv);
	spok_strmap_free(&denv);
	json_array_append_new(env, json_pack("{s:s, s:{s:{s:s, s:s}}}", "name",
					     "SPARK_DRIVER_BIND_ADDRESS", "valueFrom", "fieldRef",
					     "apiVersion", "v1", "fieldPath", "status.podIP"));
	return resources(d, ctr, err);
}

/* BasicDriverFeatureStep's pod part and DriverKubernetesCredentialsFeatureStep. */
static int basic_pod(const struct spok__dx *d, json_t *pod, json_t *spec, struct spok_err *err)
{
	json_t *md = spok__dx_obj(pod, "metadata"), *labels, *ann, *ns;
	struct spok_strmap l = {0}, a = {0}, sel = {0};
	const char *secrets = spok_strmap_get(&d->conf, "spark.kubernetes.container.image.pullSecrets");
	const char *sched, *sa;
	int rc;

	json_object_set_new(md, "name", json_string(d->pod_name));
	json_object_set_new(md, "namespace", json_string(d->ns));
	if ((rc = driver_labels(d, &l, err))) {
		spok_strmap_free(&l);
		return rc;
	}
	labels = spok__dx_obj(md, "labels");
	for (size_t i = 0; i < l.len; i++)
		json_object_set_new(labels, l.items[i].key, json_string(l.items[i].value));
	spok__dx_prefixed(&d->conf, "spark.kubernetes.driver.annotation.", &a);
	if (a.len > 0) {
		ann = spok__dx_obj(md, "annotations");
		for (size_t i = 0; i < a.len; i++) {
			char *v = spok__dx_subst(a.items[i].value, d->app_id);
			json_object_set_new(ann, a.items[i].key, json_string(v));
			free(v);
		}
	}
	json_object_set_new(spec, "restartPolicy", json_string("Never"));
	spok__dx_prefixed(&d->conf, "spark.kubernetes.node.selector.", &sel);
	spok__dx_prefixed(&d->conf, "spark.kubernetes.driver.node.selector.", &sel);
	if (sel.len > 0) {
		ns = spok__dx_obj(spec, "nodeSelector");
		for (size_t i = 0; i < sel.len; i++)
			json_object_set_new(ns, sel.items[i].key, json_string(sel.items[i].value));
	}
	if (secrets && secrets[0]) {
		char *copy = xstrdup(secrets), *save = NULL;
		for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
			while (isspace((unsigned char)*p))
				p++;
			for (size_t n = strlen(p); n > 0 && isspace((unsigned char)p[n - 1]); n--)
				p[n - 1] = '\0';
			json_array_append_new(spok__dx_arr(spec, "imagePullSecrets"),
					      json_pack("{s:s}", "name", p));
		}
		free(copy);
	}
	sched = conf_get(d, "spark.kubernetes.driver.scheduler.name",
			 spok_strmap_get(&d->conf, "spark.kubernetes.scheduler.name"));
	if (sched && sched[0])
		json_object_set_new(spec, "schedulerName", json_string(sched));
	sa = spok_strmap_get(&d->conf, "spark.kubernetes.authenticate.driver.serviceAccountName");
	if (sa && sa[0]) {
		json_object_set_new(spec, "serviceAccount", json_string(sa));
		json_object_set_new(spec, "serviceAccountName", json_string(sa));
	}
	spok_strmap_free(&l);
	spok_strmap_free(&a);
	spok_strmap_free(&sel);
	return SPOK_OK;
}

/* MountSecretsFeatureStep (spark.kubernetes.driver.secrets.<name>=<path>) and
 * EnvSecretsFeatureStep (spark.kubernetes.driver.secretKeyRef.<ENV>=<name>:<key>). */
static int secrets(const struct spok__dx *d, json_t *spec, json_t *ctr, struct spok_err *err)
{
	struct spok_strmap m = {0}, e = {0};
	int rc = SPOK_OK;

	spok__dx_prefixed(&d->conf, "spark.kubernetes.driver.secrets.", &m);
	for (size_t i = 0; i < m.len; i++) {
		char *vol = xasprintf("%s-volume", m.items[i].key);
		json_array_append_new(spok__dx_arr(spec, "volumes"),
				      json_pack("{s:s, s:{s:s}}", "name", vol, "secret", "secretName",
						m.items[i].key));
		json_array_append_new(spok__dx_arr(ctr, "volumeMounts"),
				      json_pack("{s:s, s:s}", "name", vol, "mountPath", m.items[i].value));
		free(vol);
	}
	spok__dx_prefixed(&d->conf, "spark.kubernetes.driver.secretKeyRef.", &e);
	for (size_t i = 0; i < e.len && rc == SPOK_OK; i++) {
		const char *ref = e.items[i].value, *colon = strchr(ref, ':');
		char *name;

		if (colon == NULL || strchr(colon + 1, ':') != NULL) {
			rc = spok_err_set(err, SPOK_EINVAL, "sparkConf spark.kubernetes.driver.secretKeyRef.%s:"
					  " want <secret name>:<key>", e.items[i].key);
			break;
		}
		name = xstrndup(ref, (size_t)(colon - ref));
		json_array_append_new(spok__dx_arr(ctr, "env"),
				      json_pack("{s:s, s:{s:{s:s, s:s}}}", "name", e.items[i].key,
						"valueFrom", "secretKeyRef", "key", colon + 1, "name", name));
		free(name);
	}
	spok_strmap_free(&m);
	spok_strmap_free(&e);
	return rc;
}

/* One volume's source from its options (KubernetesVolumeUtils), or NULL with err set. */
static json_t *volume_source(const char *type, const struct spok_strmap *o, const char *name,
			     struct spok_err *err)
{
	const char *path = spok_strmap_get(o, "options.path");
	const char *claim = spok_strmap_get(o, "options.claimName");
	const char *server = spok_strmap_get(o, "options.server");
	json_t *src = json_object();

	if (strcmp(type, "hostPath") == 0 && path) {
		json_object_set_new(src, "path", json_string(path));
		if (spok_strmap_get(o, "options.type"))
			json_object_set_new(src, "type", json_string(spok_strmap_get(o, "options.type")));
	} else if (strcmp(type, "persistentVolumeClaim") == 0 && claim &&
		   strcasecmp(claim, "OnDemand") != 0) {
		json_object_set_new(src, "claimName", json_string(claim));
		if (strcmp(spok_strmap_get(o, "mount.readOnly") ? spok_strmap_get(o, "mount.readOnly")
								: "false", "true") == 0)
			json_object_set_new(src, "readOnly", json_true());
	} else if (strcmp(type, "emptyDir") == 0) {
		if (spok_strmap_get(o, "options.medium"))
			json_object_set_new(src, "medium", json_string(spok_strmap_get(o, "options.medium")));
		if (spok_strmap_get(o, "options.sizeLimit"))
			json_object_set_new(src, "sizeLimit",
					    json_string(spok_strmap_get(o, "options.sizeLimit")));
	} else if (strcmp(type, "nfs") == 0 && path && server) {
		json_object_set_new(src, "path", json_string(path));
		json_object_set_new(src, "server", json_string(server));
	} else {
		json_decref(src);
		spok_err_set(err, SPOK_EINVAL, "sparkConf spark.kubernetes.driver.volumes.%s.%s: direct "
			     "submission mounts hostPath (options.path), persistentVolumeClaim "
			     "(options.claimName, not OnDemand), emptyDir and nfs (options.path, "
			     "options.server)", type, name);
		return NULL;
	}
	return src;
}

/* KubernetesVolumeUtils.verifySize (Spark 4.0): a sizeLimit of digits alone is bytes, and
 * under 1 KiB (or not a number at all) is refused as a missing unit. */
static int check_size(const char *type, const char *name, const struct spok_strmap *o,
		      struct spok_err *err)
{
	const char *v = spok_strmap_get(o, "options.sizeLimit");
	long long n = 0;
	bool ok = true;

	if (v == NULL)
		return SPOK_OK;
	for (const char *p = v; *p; p++)
		if (!isdigit((unsigned char)*p))
			return SPOK_OK; /* a quantity with a unit: the API server checks it */
	if (*v == '\0' || strlen(v) > 18)
		ok = false;
	else
		n = strtoll(v, NULL, 10);
	if (!ok || n < 1024)
		return spok_err_set(err, SPOK_EINVAL, "sparkConf spark.kubernetes.driver.volumes.%s.%s."
				    "options.sizeLimit '%s': smaller than 1KiB (Spark reads digits alone "
				    "as bytes); add a unit such as Mi or Gi", type, name, v);
	return SPOK_OK;
}

/* MountVolumesFeatureStep: spark.kubernetes.driver.volumes.<type>.<name>.mount.path and the
 * volume's other keys (Spark 4.0 adds mount.subPathExpr, exclusive with mount.subPath, and
 * checks sizeLimit); the volume is named <name>. */
static int conf_volumes(const struct spok__dx *d, json_t *spec, json_t *ctr, struct spok_err *err)
{
	struct spok_strmap all = {0};
	int rc = SPOK_OK;

	spok__dx_prefixed(&d->conf, "spark.kubernetes.driver.volumes.", &all);
	for (size_t i = 0; i < all.len && rc == SPOK_OK; i++) {
		const char *k = all.items[i].key, *dot = strchr(k, '.'), *dot2;
		struct spok_strmap o = {0};
		char *type, *name, *pfx;
		const char *ro;
		json_t *src, *mount;

		if (dot == NULL || (dot2 = strchr(dot + 1, '.')) == NULL || strcmp(dot2, ".mount.path") != 0)
			continue;
		type = xstrndup(k, (size_t)(dot - k));
		name = xstrndup(dot + 1, (size_t)(dot2 - dot - 1));
		pfx = xasprintf("%s.%s.", type, name);
		spok__dx_prefixed(&all, pfx, &o);
		src = NULL;
		if (spok_strmap_get(&o, "mount.subPath") && spok_strmap_get(&o, "mount.subPathExpr"))
			rc = spok_err_set(err, SPOK_EINVAL, "sparkConf spark.kubernetes.driver.volumes.%s.%s: "
					  "mount.subPath and mount.subPathExpr exclude each other; keep one",
					  type, name);
		if (rc == SPOK_OK)
			rc = check_size(type, name, &o, err);
		if (rc == SPOK_OK && (src = volume_source(type, &o, name, err)) == NULL)
			rc = SPOK_EINVAL;
		if (src != NULL) {
			json_array_append_new(spok__dx_arr(spec, "volumes"),
					      json_pack("{s:s, s:o}", "name", name, type, src));
			mount = json_pack("{s:s, s:s}", "name", name, "mountPath", all.items[i].value);
			ro = spok_strmap_get(&o, "mount.readOnly");
			if (ro && strcmp(ro, "true") == 0)
				json_object_set_new(mount, "readOnly", json_true());
			if (spok_strmap_get(&o, "mount.subPath"))
				json_object_set_new(mount, "subPath",
						    json_string(spok_strmap_get(&o, "mount.subPath")));
			if (spok_strmap_get(&o, "mount.subPathExpr"))
				json_object_set_new(mount, "subPathExpr",
						    json_string(spok_strmap_get(&o, "mount.subPathExpr")));
			json_array_append_new(spok__dx_arr(ctr, "volumeMounts"), mount);
		}
		spok_strmap_free(&o);
		free(type);
		free(name);
		free(pfx);
	}
	spok_strmap_free(&all);
	return rc;
}

/* DriverCommandFeatureStep: the entrypoint's arguments, and the PySpark interpreter env. */
static void command(const struct spok__dx *d, json_t *ctr)
{
	json_t *args = spok__dx_arr(ctr, "args"), *a, *env = spok__dx_arr(ctr, "env");
	const char *py = spok_strmap_get(&d->conf, "spark.pyspark.python");
	const char *dpy = conf_get(d, "spark.pyspark.driver.python", py);
	size_t i;

	json_array_append_new(args, json_string("driver"));
	json_array_append_new(args, json_string("--properties-file"));
	json_array_append_new(args, json_string(SPOK_DIRECT_CONF_DIR "/" SPOK_DIRECT_CONF_FILE));
	json_array_append_new(args, json_string("--class"));
	json_array_append_new(args, json_string(d->main_class));
	json_array_append_new(args, json_string(d->resource));
	json_array_foreach(json_object_get(d->spec, "arguments"), i, a)
		if (json_is_string(a))
			json_array_append(args, a);
	if (d->kind != SPOK__DX_PYTHON)
		return;
	if (py)
		json_array_append_new(env, env_var("PYSPARK_PYTHON", py));
	if (dpy)
		json_array_append_new(env, env_var("PYSPARK_DRIVER_PYTHON", dpy));
}

/* LocalDirsFeatureStep: an emptyDir per spark.local.dir entry unless the template mounts a
 * spark-local-dir-* volume; Spark's default dir name carries a random UUID, spok's the app id. */
static void local_dirs(const struct spok__dx *d, json_t *spec, json_t *ctr)
{
	const json_t *m;
	const char *dirs = spok_strmap_get(&d->conf, "spark.local.dir");
	bool tmpfs = strcmp(conf_get(d, "spark.kubernetes.local.dirs.tmpfs", "false"), "true") == 0;
	char *list = NULL, *copy, *save = NULL, *env;
	size_t i, n = 0;

	json_array_foreach(json_object_get(ctr, "volumeMounts"), i, m) { /* ctr is ours */
		const char *name = json_string_value(json_object_get(m, "name"));
		const char *path = json_string_value(json_object_get(m, "mountPath"));

		if (name && path && strncmp(name, "spark-local-dir-", 16) == 0) {
			char *l = list ? xasprintf("%s,%s", list, path) : xstrdup(path);
			free(list);
			list = l;
		}
	}
	if (list == NULL) {
		copy = dirs && dirs[0] ? xstrdup(dirs) : xasprintf("/var/data/%s", d->app_id);
		for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
			char *vol = xasprintf("spark-local-dir-%zu", ++n);
			json_t *ed = json_object();

			if (tmpfs)
				json_object_set_new(ed, "medium", json_string("Memory"));
			json_array_append_new(spok__dx_arr(spec, "volumes"),
					      json_pack("{s:s, s:o}", "name", vol, "emptyDir", ed));
			json_array_append_new(spok__dx_arr(ctr, "volumeMounts"),
					      json_pack("{s:s, s:s}", "name", vol, "mountPath", p));
			env = list ? xasprintf("%s,%s", list, p) : xstrdup(p);
			free(list);
			list = env;
			free(vol);
		}
		free(copy);
	}
	json_array_append_new(spok__dx_arr(ctr, "env"), env_var("SPARK_LOCAL_DIRS", list ? list : ""));
	free(list);
}

/* A configMap volume of d->cm exposing one key as path, mounted at dir. */
static void cm_volume(const struct spok__dx *d, json_t *spec, json_t *ctr, const char *vol,
		      const char *key, const char *path, const char *dir)
{
	json_array_append_new(spok__dx_arr(spec, "volumes"),
			      json_pack("{s:s, s:{s:s, s:[{s:s, s:s}]}}", "name", vol, "configMap",
					"name", d->cm, "items", "key", key, "path", path));
	json_array_append_new(spok__dx_arr(ctr, "volumeMounts"),
			      json_pack("{s:s, s:s}", "name", vol, "mountPath", dir));
}

int spok__dx_pod(struct spok__dx *d, json_t **out, struct spok_err *err)
{
	json_t *tpl, *ctr, *pod, *spec;
	int rc;

	split_template(json_object_get(d->drv, "template"),
		       spok_strmap_get(&d->conf, "spark.kubernetes.driver.podTemplateContainerName"),
		       "spark-kubernetes-driver", &tpl, &ctr);
	pod = json_pack("{s:s, s:s}", "apiVersion", "v1", "kind", "Pod");
	json_object_set(pod, "metadata", spok__dx_obj(tpl, "metadata"));
	spec = json_incref(spok__dx_obj(tpl, "spec"));
	json_object_set_new(pod, "spec", spec);
	json_decref(tpl);
	if ((rc = basic_container(d, ctr, err)) || (rc = basic_pod(d, pod, spec, err))) {
		json_decref(ctr);
		json_decref(pod);
		return rc;
	}
	if ((rc = secrets(d, spec, ctr, err)) || (rc = conf_volumes(d, spec, ctr, err))) {
		json_decref(ctr);
		json_decref(pod);
		return rc;
	}
	command(d, ctr);
	cm_volume(d, spec, ctr, SPOK_DIRECT_TEMPLATE_VOLUME, SPOK_DIRECT_TEMPLATE_KEY,
		  SPOK_DIRECT_TEMPLATE_FILE, SPOK_DIRECT_TEMPLATE_DIR);
	local_dirs(d, spec, ctr);
	json_array_append_new(spok__dx_arr(ctr, "env"),
			      env_var("SPARK_CONF_DIR", SPOK_DIRECT_CONF_DIR));
	cm_volume(d, spec, ctr, SPOK_DIRECT_CONF_VOLUME, SPOK_DIRECT_CONF_FILE,
		  SPOK_DIRECT_CONF_FILE, SPOK_DIRECT_CONF_DIR);
	webhook(d->spec, d->drv, spec, ctr);
	json_array_append_new(spok__dx_arr(spec, "containers"), ctr);
	*out = pod;
	return SPOK_OK;
}
