/* backend.c - the registry: an execution's backend column -> its ops. The only place that
 * knows what the name "local" means. */
#include <stdlib.h>
#include <string.h>

#include "backend/internal.h"
#include "common/xalloc.h"
#include "direct/direct.h"
#include "kube/stream.h"

const struct spok_backend_ops *spok_backend_for(const char *backend)
{
	if (backend == NULL || strcmp(backend, "local") == 0)
		return &spok_backend_local;
	return &spok_backend_kube;
}

void spok_backend_log_cancel(struct spok_backend_log *l)
{
	if (l != NULL)
		l->cancel(l);
}

char *spok_backend_driver_pod(const json_t *app, const char *resource_name)
{
	const char *pod = json_string_value(json_object_get(json_object_get(
		json_object_get(app, "status"), "driverInfo"), "podName"));

	return pod && pod[0] ? xstrdup(pod) : xasprintf("%s-driver", resource_name);
}

static long ui_port_conf(const json_t *app)
{
	const char *v = json_string_value(json_object_get(
		json_object_get(json_object_get(app, "spec"), "sparkConf"), "spark.ui.port"));
	char *end;
	long p = v ? strtol(v, &end, 10) : 0;

	return v && *end == '\0' && p > 0 && p < 65536 ? p : 4040;
}

int spok_backend_ui_of(const json_t *app, const char *resource_name, struct spok_backend_ui *out,
		       struct spok_err *err)
{
	const json_t *di = json_object_get(json_object_get(app, "status"), "driverInfo");
	const char *name = json_string_value(json_object_get(di, "webUIServiceName"));
	json_int_t port = json_integer_value(json_object_get(di, "webUIPort"));

	memset(out, 0, sizeof(*out));
	out->service_named = name != NULL;
	out->service = name ? xstrdup(name) : xasprintf("%s-ui-svc", resource_name);
	out->service_port = port > 0 && port < 65536 ? (long)port : 0;
	out->pod = spok_backend_driver_pod(app, resource_name);
	out->pod_port = ui_port_conf(app);
	if (!kube_dns_label(out->service) || !kube_dns_label(out->pod)) {
		bool svc = !kube_dns_label(out->service);

		spok_backend_ui_free(out);
		return spok_err_set(err, SPOK_EAPI, "SparkApplication %s: status.driverInfo.%s is not a DNS "
				    "label", resource_name, svc ? "webUIServiceName" : "podName");
	}
	return 0;
}

/* The driver container's port named spark-ui (Spark's name), else 4040. */
static long pod_ui_port(const json_t *pod)
{
	const json_t *c, *p;
	size_t i, j;

	json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, c)
		json_array_foreach(json_object_get(c, "ports"), j, p) {
			const char *name = json_string_value(json_object_get(p, "name"));
			json_int_t port = json_integer_value(json_object_get(p, "containerPort"));

			if (name && strcmp(name, "spark-ui") == 0 && port > 0 && port < 65536)
				return (long)port;
		}
	return 4040;
}

int spok_backend_ui_of_pod(const json_t *pod, const char *resource_name,
			   struct spok_backend_ui *out, struct spok_err *err)
{
	memset(out, 0, sizeof(*out));
	out->service = spok_direct_service_name(resource_name);
	out->service_named = true;
	out->service_port = pod_ui_port(pod);
	out->pod = xasprintf("%s-driver", resource_name);
	out->pod_port = out->service_port;
	if (!kube_dns_label(out->service) || !kube_dns_label(out->pod)) {
		spok_backend_ui_free(out);
		return spok_err_set(err, SPOK_EAPI, "driver pod of %s: its name is not a DNS label",
				    resource_name);
	}
	return 0;
}

void spok_backend_ui_free(struct spok_backend_ui *u)
{
	free(u->service);
	free(u->pod);
	memset(u, 0, sizeof(*u));
}

char *spok_backend_ui_prefix(const struct spok_backend_ui *u, const char *ns)
{
	if (u->service_named && u->service_port > 0)
		return kube_service_proxy_prefix(ns, u->service, u->service_port);
	return kube_pod_proxy_prefix(ns, u->pod, u->pod_port);
}

size_t spok_backend_tail_lines(const char *data, size_t len, unsigned long lines)
{
	size_t i = len, seen = 0;

	if (lines == 0)
		return len;
	if (i > 0 && data[i - 1] == '\n')
		i--; /* the final newline ends the last line; it does not start one */
	while (i > 0) {
		if (data[i - 1] == '\n' && ++seen == lines)
			break;
		i--;
	}
	return i;
}
