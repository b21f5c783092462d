/* backend.c - the registry: an execution's backend column -> its ops. The only place that
 * knows what the name "local" means. */
#include <string.h>

#include "backend/internal.h"
#include "common/xalloc.h"

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
