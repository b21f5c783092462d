/* direct.c - spok_direct_build: checks the SparkApplication, derives the names, then the conf
 * (conf.c), the driver pod (pod.c), the ConfigMap and the Service. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "direct/direct.h"
#include "direct/internal.h"
#include "sparkapp/sparkapp.h"

static uint64_t fnv1a64(const char *s, uint64_t h)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

char *spok_direct_app_id(const char *namespace_, const char *name)
{
	char *key = xasprintf("%s/%s", namespace_ ? namespace_ : "", name ? name : "");
	uint64_t a = fnv1a64(key, 0xcbf29ce484222325ULL);
	uint64_t b = fnv1a64(key, a ^ 0x9e3779b97f4a7c15ULL); /* a second, chained pass */
	char *id = xasprintf("spark-%016llx%016llx", (unsigned long long)a, (unsigned long long)b);

	free(key);
	return id;
}

char *spok_direct_configmap_name(const char *app_name)
{
	return xasprintf("%s-conf", app_name);
}

/* A Service name is a DNS-1035 label: Spark's prefix rule (lower case, [^a-z0-9-] -> '-',
 * runs squeezed), a letter first, at most 63 bytes with the "-driver-svc" suffix. */
char *spok_direct_service_name(const char *app_name)
{
	size_t len = strlen(app_name), n = 0;
	char *s = xmalloc(len + 8), *out;

	if (!isalpha((unsigned char)app_name[0])) {
		memcpy(s, "spark-", 6);
		n = 6;
	}
	for (const char *p = app_name; *p; p++) {
		char c = (char)tolower((unsigned char)*p);

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			c = '-';
		if (c == '-' && n > 0 && s[n - 1] == '-')
			continue;
		s[n++] = c;
	}
	while (n > 0 && s[n - 1] == '-')
		n--;
	s[n] = '\0';
	if (n + 11 <= 63) {
		out = xasprintf("%s-driver-svc", s);
	} else {
		size_t cut = 43;
		while (cut > 0 && s[cut - 1] == '-')
			cut--;
		out = xasprintf("%.*s-%08llx-driver-svc", (int)cut, s,
				(unsigned long long)(fnv1a64(app_name, 0xcbf29ce484222325ULL) &
						     0xffffffffULL));
	}
	free(s);
	return out;
}

json_t *spok_direct_owner_refs(const char *pod_name, const char *pod_uid)
{
	return json_pack("[{s:s, s:s, s:s, s:s, s:b}]", "apiVersion", "v1", "kind", "Pod", "name",
			 pod_name, "uid", pod_uid, "controller", 1);
}

void spok_direct_free(struct spok_direct *d)
{
	json_decref(d->configmap);
	json_decref(d->pod);
	json_decref(d->service);
	memset(d, 0, sizeof(*d));
}

json_t *spok_direct_list(const struct spok_direct *d)
{
	return json_pack("{s:s, s:s, s:[OOO]}", "apiVersion", "v1", "kind", "List", "items",
			 d->configmap, d->pod, d->service);
}

/* The application's kind: main class and resource as spark-submit hands them to the driver. */
static int app_kind(struct spok__dx *d, struct spok_err *err)
{
	const char *type = json_string_value(json_object_get(d->spec, "type"));
	const char *file = json_string_value(json_object_get(d->spec, "mainApplicationFile"));
	const char *cls = json_string_value(json_object_get(d->spec, "mainClass"));

	if (type && strcmp(type, "Python") == 0) {
		d->kind = SPOK__DX_PYTHON;
		d->main_class = "org.apache.spark.deploy.PythonRunner";
	} else if (type && strcmp(type, "R") == 0) {
		d->kind = SPOK__DX_R;
		d->main_class = "org.apache.spark.deploy.RRunner";
	} else if (type && (strcmp(type, "Java") == 0 || strcmp(type, "Scala") == 0)) {
		d->kind = SPOK__DX_JAVA;
		d->main_class = cls;
		if (cls == NULL || cls[0] == '\0')
			return spok_err_set(err, SPOK_EINVAL, "spec.mainClass: missing; a %s "
					    "application needs its main class", type);
	} else {
		return spok_err_set(err, SPOK_EINVAL, "spec.type %s: not Python, Java, Scala or R",
				    type ? type : "(missing)");
	}
	if (file && file[0])
		d->resource = file;
	else if (d->kind == SPOK__DX_JAVA)
		d->resource = "spark-internal"; /* SparkLauncher.NO_RESOURCE: classes in the image */
	else
		return spok_err_set(err, SPOK_EINVAL, "spec.mainApplicationFile: missing; a %s "
				    "application needs its main file", type);
	return SPOK_OK;
}

static int check_app(struct spok__dx *d, struct spok_err *err)
{
	const json_t *md = json_object_get(d->app, "metadata");
	const char *kind = json_string_value(json_object_get(d->app, "kind"));
	const char *batch;

	if (kind == NULL || strcmp(kind, "SparkApplication") != 0)
		return spok_err_set(err, SPOK_EINVAL, "kind %s: not a SparkApplication",
				    kind ? kind : "(missing)");
	d->name = json_string_value(json_object_get(md, "name"));
	d->ns = json_string_value(json_object_get(md, "namespace"));
	if (d->name == NULL || d->name[0] == '\0' || strlen(d->name) > 240)
		return spok_err_set(err, SPOK_EINVAL, "metadata.name: missing or over 240 bytes");
	if (d->ns == NULL || d->ns[0] == '\0')
		return spok_err_set(err, SPOK_EINVAL, "metadata.namespace: missing");
	d->spec = json_object_get(d->app, "spec");
	d->drv = json_object_get(d->spec, "driver");
	d->exe = json_object_get(d->spec, "executor");
	if (!json_is_object(d->spec))
		return spok_err_set(err, SPOK_EINVAL, "spec: missing");
	batch = json_string_value(json_object_get(d->spec, "batchScheduler"));
	if (batch && batch[0])
		return spok_err_set(err, SPOK_EINVAL, "spec.batchScheduler %s: direct submission "
				    "does not create the scheduler's pod groups; submit through the "
				    "operator", batch);
	return app_kind(d, err);
}

/* Labels of the ConfigMap and Service: the SparkApplication's (spok.dev/execution among them,
 * so cleanup by label finds them) and spark-app-selector. */
static json_t *object_labels(const struct spok__dx *d)
{
	json_t *l = json_object(), *src = json_object_get(json_object_get(d->app, "metadata"), "labels");
	const char *k;
	json_t *v;

	json_object_foreach(src, k, v)
		if (json_is_string(v))
			json_object_set(l, k, v);
	json_object_set_new(l, "spark-app-selector", json_string(d->app_id));
	return l;
}

static json_t *configmap(const struct spok__dx *d)
{
	char *props = spok__dx_properties(&d->conf, d->cm);
	char *tpl = json_dumps(d->exec_template, JSON_COMPACT);
	json_t *cm = json_pack("{s:s, s:s, s:{s:s, s:s, s:o}, s:b, s:{s:s, s:s}}", "apiVersion", "v1",
			       "kind", "ConfigMap", "metadata", "name", d->cm, "namespace", d->ns,
			       "labels", object_labels(d), "immutable", 1, "data",
			       SPOK_DIRECT_CONF_FILE, props, SPOK_DIRECT_TEMPLATE_KEY,
			       tpl ? tpl : "{}");

	free(props);
	free(tpl);
	return cm;
}

static void svc_port(json_t *ports, const char *name, long long n)
{
	json_array_append_new(ports, json_pack("{s:s, s:I, s:I}", "name", name, "port",
					       (json_int_t)n, "targetPort", (json_int_t)n));
}

/* DriverServiceFeatureStep: headless, selecting the driver pod's labels. */
static json_t *service(const struct spok__dx *d, const json_t *pod)
{
	const char *fams = spok_strmap_get(&d->conf, "spark.kubernetes.driver.service.ipFamilies");
	struct spok_strmap l = {0}, a = {0};
	json_t *svc, *md, *labels, *spec, *ports, *families = json_array();
	char *copy = xstrdup(fams ? fams : "IPv4"), *save = NULL;

	for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save))
		json_array_append_new(families, json_string(p));
	free(copy);
	labels = object_labels(d);
	spok__dx_prefixed(&d->conf, "spark.kubernetes.driver.service.label.", &l);
	for (size_t i = 0; i < l.len; i++)
		json_object_set_new(labels, l.items[i].key, json_string(l.items[i].value));
	md = json_pack("{s:s, s:s, s:o}", "name", d->svc, "namespace", d->ns, "labels", labels);
	spok__dx_prefixed(&d->conf, "spark.kubernetes.driver.service.annotation.", &a);
	if (a.len > 0) {
		json_t *ann = spok__dx_obj(md, "annotations");
		for (size_t i = 0; i < a.len; i++) {
			char *v = spok__dx_subst(a.items[i].value, d->app_id);
			json_object_set_new(ann, a.items[i].key, json_string(v));
			free(v);
		}
	}
	spec = json_pack("{s:s, s:s, s:o, s:O}", "clusterIP", "None", "ipFamilyPolicy",
			 spok_strmap_get(&d->conf, "spark.kubernetes.driver.service.ipFamilyPolicy")
				 ? spok_strmap_get(&d->conf, "spark.kubernetes.driver.service.ipFamilyPolicy")
				 : "SingleStack",
			 "ipFamilies", families, "selector",
			 json_object_get(json_object_get(pod, "metadata"), "labels"));
	ports = spok__dx_arr(spec, "ports");
	svc_port(ports, "driver-rpc-port", d->driver_port);
	svc_port(ports, "blockmanager", d->bm_port);
	svc_port(ports, "spark-ui", d->ui_port);
	svc = json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "v1", "kind", "Service", "metadata",
			md, "spec", spec);
	spok_strmap_free(&l);
	spok_strmap_free(&a);
	return svc;
}

json_t *spok_direct_service_of_pod(const json_t *pod, const char *svc_name)
{
	const json_t *md = json_object_get(pod, "metadata"), *ctrs, *c, *p;
	const json_t *labels = json_object_get(md, "labels");
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	json_t *ports = json_array(), *spec;
	size_t i, j;

	if (ns == NULL || !json_is_object(labels) || json_object_size(labels) == 0 ||
	    svc_name == NULL) {
		json_decref(ports);
		return NULL;
	}
	ctrs = json_object_get(json_object_get(pod, "spec"), "containers");
	json_array_foreach(ctrs, i, c) {
		if (!json_is_string(json_object_get(c, "name")) ||
		    strcmp(json_string_value(json_object_get(c, "name")), "spark-kubernetes-driver") != 0)
			continue;
		json_array_foreach(json_object_get(c, "ports"), j, p)
			if (json_is_string(json_object_get(p, "name")) &&
			    json_is_integer(json_object_get(p, "containerPort")))
				svc_port(ports, json_string_value(json_object_get(p, "name")),
					 json_integer_value(json_object_get(p, "containerPort")));
	}
	spec = json_pack("{s:s, s:s, s:[s], s:O, s:o}", "clusterIP", "None", "ipFamilyPolicy",
			 "SingleStack", "ipFamilies", "IPv4", "selector", labels, "ports", ports);
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:O}, s:o}", "apiVersion", "v1", "kind",
			 "Service", "metadata", "name", svc_name, "namespace", ns, "labels", labels,
			 "spec", spec);
}

static void dx_free(struct spok__dx *d)
{
	free(d->app_id);
	free(d->svc);
	free(d->cm);
	free(d->pod_name);
	json_decref(d->exec_template);
	spok_strmap_free(&d->conf);
}

int spok_direct_build(const json_t *app, const struct spok_direct_opts *o,
		      struct spok_direct *out, struct spok_err *err)
{
	struct spok__dx d = {0};
	json_t *pod = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	d.app = app;
	if ((rc = check_app(&d, err)))
		return rc;
	d.app_id = o && o->app_id ? xstrdup(o->app_id) : spok_direct_app_id(d.ns, d.name);
	d.user = o && o->spark_user ? o->spark_user : "spark";
	d.version = o && o->spark_version ? o->spark_version : SPOK_DIRECT_SPARK_VERSION;
	d.svc = spok_direct_service_name(d.name);
	d.cm = spok_direct_configmap_name(d.name);
	d.pod_name = xasprintf("%s-driver", d.name);
	if ((rc = spok__dx_conf(&d, err)) == SPOK_OK) {
		d.exec_template = spok__dx_exec_template(&d);
		rc = spok__dx_pod(&d, &pod, err);
	}
	if (rc == SPOK_OK) {
		out->configmap = configmap(&d);
		out->pod = pod;
		out->service = service(&d, pod);
	}
	dx_free(&d);
	return rc;
}

int spok_direct_build_task(const struct spok_task *t, const struct spok_platform *p,
			   const struct spok_exec *x, const struct spok_direct_opts *o,
			   struct spok_direct *out, struct spok_err *err)
{
	json_t *app = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = spok_sparkapp_build(t, p, x, &app, err);
	if (rc == SPOK_OK)
		rc = spok_direct_build(app, o, out, err);
	json_decref(app);
	return rc;
}
