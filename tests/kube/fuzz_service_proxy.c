/* fuzz_service_proxy - `spok ui`'s local request path and the upstream Location header
 * (both hostile) against the service proxy prefix: a mapped path always stays below the
 * prefix with no dot segment and only URL-safe bytes; a Location never keeps a control byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char PRE[] = "/api/v1/namespaces/ns/services/app-ui-svc:4040/proxy";

static void check_upstream(const char *up)
{
	const char *rest = up + sizeof(PRE) - 1;

	if (strncmp(up, PRE, sizeof(PRE) - 1) != 0 || rest[0] != '/')
		__builtin_trap();
	for (const char *p = rest; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '?' || *p == '#' ||
		    *p == '\\')
			__builtin_trap();
	if (strstr(rest, "/../") || strstr(rest, "/./") ||
	    (strlen(rest) >= 3 && strcmp(rest + strlen(rest) - 3, "/..") == 0) ||
	    (strlen(rest) >= 2 && strcmp(rest + strlen(rest) - 2, "/.") == 0))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *up = NULL, *redir = NULL, *loc;

	memcpy(s, data, size);
	s[size] = '\0';
	if (kube_service_proxy_map(PRE, s, &up, &redir, NULL) == 0) {
		if ((up == NULL) == (redir == NULL))
			__builtin_trap();
		if (up)
			check_upstream(up);
		if (redir && redir[0] != '/')
			__builtin_trap();
	}
	loc = kube_service_proxy_location(PRE, s);
	for (const char *p = loc; p && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			__builtin_trap();
	free(loc);
	free(up);
	free(redir);
	free(s);
	return 0;
}
