/* conf.c - spark.properties: the operator's translation of a SparkApplication into
 * spark-submit options (spark-operator v2 submission.go), then the system properties Spark's
 * cluster-mode submission adds (BasicDriverFeatureStep, DriverServiceFeatureStep,
 * DriverCommandFeatureStep, PodTemplateConfigMapStep). Later writes win, as later --conf
 * options do. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "direct/direct.h"
#include "direct/internal.h"
#include "sparkapp/sparkapp.h"

static void set_int(struct spok_strmap *conf, const char *key, const json_t *v)
{
	char n[32];

	if (!json_is_integer(v))
		return;
	snprintf(n, sizeof(n), "%lld", (long long)json_integer_value(v));
	spok_strmap_set(conf, key, n);
}

static void set_str(struct spok_strmap *conf, const char *key, const json_t *v)
{
	if (json_is_string(v))
		spok_strmap_set(conf, key, json_string_value(v));
}

/* obj's string values as prefix+key (labels, annotations, node selectors). */
static void set_prefixed(struct spok_strmap *conf, const char *prefix, const json_t *obj)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v) {
		char *key;

		if (!json_is_string(v))
			continue;
		key = xasprintf("%s%s", prefix, k);
		spok_strmap_set(conf, key, json_string_value(v));
		free(key);
	}
}

/* driverConfOption / executorConfOption: a role's SparkPodSpec fields that are conf. */
static void role_conf(struct spok__dx *d, const json_t *role, bool driver)
{
	const char *r = driver ? "driver" : "executor";
	/* field -> pre + role + post */
	struct { const char *field, *pre, *post; bool integer; } map[] = {
		{"cores", "spark.", ".cores", true},
		{"coreRequest", "spark.kubernetes.", ".request.cores", false},
		{"coreLimit", "spark.kubernetes.", ".limit.cores", false},
		{"memory", "spark.", ".memory", false},
		{"memoryOverhead", "spark.", ".memoryOverhead", false},
		{"serviceAccount", "spark.kubernetes.authenticate.", ".serviceAccountName", false},
		{"javaOptions", "spark.", ".extraJavaOptions", false},
		{"image", "spark.kubernetes.", ".container.image", false},
	};
	char *prefix;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		const json_t *v = json_object_get(role, map[i].field);
		char *key = xasprintf("%s%s%s", map[i].pre, r, map[i].post);

		if (map[i].integer)
			set_int(&d->conf, key, v);
		else
			set_str(&d->conf, key, v);
		free(key);
	}
	if (!driver) {
		set_int(&d->conf, "spark.executor.instances", json_object_get(role, "instances"));
		if (json_is_boolean(json_object_get(role, "deleteOnTermination")))
			spok_strmap_set(&d->conf, "spark.kubernetes.executor.deleteOnTermination",
					json_is_true(json_object_get(role, "deleteOnTermination"))
						? "true" : "false");
	}
	prefix = xasprintf("spark.kubernetes.%s.label.", r);
	set_prefixed(&d->conf, prefix, json_object_get(json_object_get(d->app, "metadata"), "labels"));
	set_prefixed(&d->conf, prefix, json_object_get(role, "labels"));
	free(prefix);
	prefix = xasprintf("spark.kubernetes.%s.annotation.", r);
	set_prefixed(&d->conf, prefix, json_object_get(role, "annotations"));
	free(prefix);
}

/* dependenciesOption: --jars/--files/--py-files replace the conf keys (SparkSubmitArguments
 * prefers the option to the property). */
static void deps_conf(struct spok__dx *d)
{
	const json_t *deps = json_object_get(d->spec, "deps");
	const char *keys[][2] = {{"jars", "spark.jars"}, {"files", "spark.files"},
				 {"pyFiles", "spark.submit.pyFiles"}, {"archives", "spark.archives"}};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const json_t *a = json_object_get(deps, keys[i][0]), *v;
		struct spok_buf b;
		size_t j;

		if (json_array_size(a) == 0)
			continue;
		spok_buf_init(&b, 0);
		json_array_foreach((json_t *)a, j, v) {
			if (!json_is_string(v))
				continue;
			if (b.len > 0)
				spok_buf_appends(&b, ",");
			spok_buf_appends(&b, json_string_value(v));
		}
		if (b.len > 0)
			spok_strmap_set(&d->conf, keys[i][1], b.data);
		spok_buf_free(&b);
	}
}

/* Spark's KubernetesUtils.isLocalAndResolvable: a file: URI or a path without a scheme. */
static bool is_local(const char *uri)
{
	return spok_path_is_local(uri) || strncasecmp(uri, "file:", 5) == 0;
}

/* spark-submit uploads local files to spark.kubernetes.file.upload.path; spok has no upload
 * step, so such a file is refused here (spok run --cluster ships them as local:// first). */
static int no_local(const char *field, const char *list, struct spok_err *err)
{
	char *copy = xstrdup(list), *save = NULL;
	int rc = SPOK_OK;

	for (char *p = strtok_r(copy, ",", &save); p && rc == SPOK_OK; p = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*p))
			p++;
		if (*p && is_local(p))
			rc = spok_err_set(err, SPOK_EINVAL,
					  "%s %s: direct submission does not upload local files; name "
					  "a local:// path in the image or a remote URI (spok run "
					  "--cluster ships local files as local://)", field, p);
	}
	free(copy);
	return rc;
}

static int port_conf(const struct spok_strmap *conf, const char *key, long long def,
		     long long *out, struct spok_err *err)
{
	const char *v = spok_strmap_get(conf, key);
	char *end;

	*out = def;
	if (v == NULL)
		return SPOK_OK;
	errno = 0;
	*out = strtoll(v, &end, 10);
	if (errno || end == v || *end || *out < 1 || *out > 65535)
		return spok_err_set(err, SPOK_EINVAL,
				    "sparkConf %s %s: not a port (1-65535) a Service can expose", key, v);
	return SPOK_OK;
}

/* The ports DriverServiceFeatureStep resolves and writes back. */
static int ports(struct spok__dx *d, struct spok_err *err)
{
	const char *bm = spok_strmap_has(&d->conf, "spark.driver.blockManager.port")
				 ? "spark.driver.blockManager.port" : "spark.blockManager.port";
	int rc;

	if ((rc = port_conf(&d->conf, "spark.driver.port", 7078, &d->driver_port, err)) ||
	    (rc = port_conf(&d->conf, bm, 7079, &d->bm_port, err)) ||
	    (rc = port_conf(&d->conf, "spark.ui.port", 4040, &d->ui_port, err)))
		return rc;
	return SPOK_OK;
}

/* The conf keys Spark refuses in Kubernetes cluster mode (DriverServiceFeatureStep). */
static int refused_keys(const struct spok_strmap *conf, struct spok_err *err)
{
	if (spok_strmap_has(conf, "spark.driver.bindAddress"))
		return spok_err_set(err, SPOK_EINVAL, "sparkConf spark.driver.bindAddress: not "
				    "supported on Kubernetes (the driver binds to its pod's IP)");
	if (spok_strmap_has(conf, "spark.driver.host"))
		return spok_err_set(err, SPOK_EINVAL, "sparkConf spark.driver.host: not supported "
				    "on Kubernetes (the driver's Service names the host)");
	return SPOK_OK;
}

/* spark-submit adds a Java primary resource to spark.jars (SparkSubmit, isUserJar). */
static void add_primary_jar(struct spok__dx *d)
{
	const char *jars = spok_strmap_get(&d->conf, "spark.jars");
	char *v;

	if (d->kind != SPOK__DX_JAVA || strcmp(d->resource, "spark-internal") == 0)
		return;
	v = jars && jars[0] ? xasprintf("%s,%s", jars, d->resource) : xstrdup(d->resource);
	spok_strmap_set(&d->conf, "spark.jars", v);
	free(v);
}

static int check_local(const struct spok__dx *d, struct spok_err *err)
{
	const char *keys[] = {"spark.jars", "spark.files", "spark.submit.pyFiles", "spark.archives"};
	int rc;

	if (strcmp(d->resource, "spark-internal") != 0 && is_local(d->resource))
		return no_local("spec.mainApplicationFile", d->resource, err);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = spok_strmap_get(&d->conf, keys[i]);

		if (v && (rc = no_local(keys[i], v, err)))
			return rc;
	}
	return SPOK_OK;
}

/* What the operator passes as --conf, in its order (later wins). */
static void operator_conf(struct spok__dx *d)
{
	const char *k;
	json_t *v;

	set_str(&d->conf, "spark.kubernetes.container.image", json_object_get(d->spec, "image"));
	set_str(&d->conf, "spark.kubernetes.memoryOverheadFactor",
		json_object_get(d->spec, "memoryOverheadFactor"));
	json_object_foreach(json_object_get(d->spec, "sparkConf"), k, v)
		set_str(&d->conf, k, v);
	json_object_foreach(json_object_get(d->spec, "hadoopConf"), k, v) {
		char *key = xasprintf("spark.hadoop.%s", k);
		set_str(&d->conf, key, v);
		free(key);
	}
	role_conf(d, d->drv, true);
	role_conf(d, d->exe, false);
	set_prefixed(&d->conf, "spark.kubernetes.node.selector.",
		     json_object_get(d->spec, "nodeSelector"));
}

int spok__dx_conf(struct spok__dx *d, struct spok_err *err)
{
	static const char *const types[] = {"java", "python", "r"};
	const char *factor;
	char *host;
	int rc;

	operator_conf(d);
	/* spark-submit's own options win over --conf. */
	spok_strmap_set(&d->conf, "spark.master", SPOK_DIRECT_MASTER);
	spok_strmap_set(&d->conf, "spark.submit.deployMode", "cluster");
	spok_strmap_set(&d->conf, "spark.app.name", d->name);
	deps_conf(d);
	add_primary_jar(d);
	if ((rc = check_local(d, err)) || (rc = refused_keys(&d->conf, err)) ||
	    (rc = ports(d, err)))
		return rc;
	/* The system properties of the driver spec: they override the user's conf. */
	spok_strmap_set(&d->conf, "spark.kubernetes.namespace", d->ns);
	spok_strmap_set(&d->conf, "spark.kubernetes.driver.pod.name", d->pod_name);
	spok_strmap_set(&d->conf, "spark.app.id", d->app_id);
	spok_strmap_set(&d->conf, "spark.kubernetes.submitInDriver", "true");
	factor = spok_strmap_get(&d->conf, "spark.kubernetes.memoryOverheadFactor");
	spok_strmap_set(&d->conf, "spark.kubernetes.memoryOverheadFactor",
			factor ? factor : d->kind == SPOK__DX_JAVA ? "0.1" : "0.4");
	host = xasprintf("%s.%s.svc", d->svc, d->ns);
	spok_strmap_set(&d->conf, "spark.driver.host", host);
	free(host);
	host = xasprintf("%lld", d->driver_port);
	spok_strmap_set(&d->conf, "spark.driver.port", host);
	free(host);
	host = xasprintf("%lld", d->bm_port);
	spok_strmap_set(&d->conf, "spark.driver.blockManager.port", host);
	free(host);
	spok_strmap_set(&d->conf, "spark.kubernetes.resource.type", types[d->kind]);
	spok_strmap_set(&d->conf, "spark.kubernetes.executor.podTemplateFile",
			SPOK_DIRECT_TEMPLATE_DIR "/" SPOK_DIRECT_TEMPLATE_FILE);
	return SPOK_OK;
}

/* Properties.saveConvert as store(Writer) calls it: \ = : # ! and leading/key spaces
 * escaped, \t \n \r \f spelled; other control bytes as \uXXXX (load reads them back the same),
 * everything else (UTF-8 included) as is. */
static void prop_escape(struct spok_buf *b, const char *s, bool key)
{
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		switch (c) {
		case ' ':
			spok_buf_appends(b, (key || p == s) ? "\\ " : " ");
			break;
		case '\t': spok_buf_appends(b, "\\t"); break;
		case '\n': spok_buf_appends(b, "\\n"); break;
		case '\r': spok_buf_appends(b, "\\r"); break;
		case '\f': spok_buf_appends(b, "\\f"); break;
		case '\\': case '=': case ':': case '#': case '!':
			spok_buf_printf(b, "\\%c", c);
			break;
		default:
			if (c < 0x20 || c == 0x7f)
				spok_buf_printf(b, "\\u%04X", c);
			else
				spok_buf_append(b, p, 1);
		}
	}
}

static int by_key(const void *a, const void *b)
{
	return strcmp((*(const struct spok_kv *const *)a)->key,
		      (*(const struct spok_kv *const *)b)->key);
}

char *spok__dx_properties(const struct spok_strmap *conf, const char *cm_name)
{
	const struct spok_kv **kv = xcalloc(conf->len ? conf->len : 1, sizeof(*kv));
	struct spok_buf b;

	spok_buf_init(&b, 0);
	spok_buf_appends(&b, "#Java properties built from Kubernetes config map with name: ");
	spok_buf_appends(&b, cm_name);
	spok_buf_appends(&b, "\n");
	for (size_t i = 0; i < conf->len; i++)
		kv[i] = &conf->items[i];
	if (conf->len > 1)
		qsort(kv, conf->len, sizeof(*kv), by_key);
	for (size_t i = 0; i < conf->len; i++) {
		prop_escape(&b, kv[i]->key, true);
		spok_buf_appends(&b, "=");
		prop_escape(&b, kv[i]->value, false);
		spok_buf_appends(&b, "\n");
	}
	free(kv);
	return spok_buf_detach(&b);
}

bool spok__dx_mib(const char *s, long long *mib)
{
	static const struct { const char *suffix; int shift; } units[] = {
		{"b", 0}, {"k", 10}, {"kb", 10}, {"m", 20}, {"mb", 20}, {"g", 30},
		{"gb", 30}, {"t", 40}, {"tb", 40}, {"p", 50}, {"pb", 50}};
	const char *p = s;
	unsigned long long n = 0;
	int shift = 20;
	size_t len;

	while (isspace((unsigned char)*p))
		p++;
	if (!isdigit((unsigned char)*p))
		return false;
	for (; isdigit((unsigned char)*p); p++) {
		n = n * 10 + (unsigned)(*p - '0');
		if (n > (1ULL << 52))
			return false;
	}
	len = strlen(p);
	while (len > 0 && isspace((unsigned char)p[len - 1]))
		len--;
	if (len > 0) {
		bool known = false;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && !known; i++)
			if (strlen(units[i].suffix) == len && strncasecmp(p, units[i].suffix, len) == 0) {
				shift = units[i].shift;
				known = true;
			}
		if (!known)
			return false;
	}
	/* ByteUnit.convertFrom: to bytes, then whole MiB (floor). */
	if (shift >= 20) {
		if (n > (1ULL << 31) >> (shift - 20))
			return false;
		*mib = (long long)(n << (shift - 20));
	} else {
		*mib = (long long)(n >> (20 - shift));
	}
	return *mib <= (1LL << 31);
}

void spok__dx_prefixed(const struct spok_strmap *conf, const char *prefix,
		       struct spok_strmap *out)
{
	size_t n = strlen(prefix);

	for (size_t i = 0; i < conf->len; i++)
		if (strncmp(conf->items[i].key, prefix, n) == 0 && conf->items[i].key[n])
			spok_strmap_set(out, conf->items[i].key + n, conf->items[i].value);
	spok_strmap_sort(out);
}

char *spok__dx_subst(const char *v, const char *app_id)
{
	struct spok_buf b;

	spok_buf_init(&b, 0);
	spok_buf_appends(&b, "");
	while (*v) {
		if (strncmp(v, "{{APP_ID}}", 10) == 0) {
			spok_buf_appends(&b, app_id);
			v += 10;
		} else if (strncmp(v, "{{EXECUTOR_ID}}", 15) == 0) {
			v += 15;
		} else {
			spok_buf_append(&b, v++, 1);
		}
	}
	return spok_buf_detach(&b);
}
