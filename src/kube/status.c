/* status.c - turns an API error response into one line and a spok code.
 *
 * The API server answers errors with a metav1.Status object ({"kind":"Status",
 * "message":..., "reason":..., "code":...}); proxies and load balancers in between may
 * answer with HTML or plain text instead, so a non-Status body falls back to its first
 * line. The text comes from the network: control characters are replaced so the
 * message stays one printable line. */
#include "kube/client.h"

#include <stdio.h>
#include <string.h>

#define RAW_SNIPPET_MAX 200

static int code_for(long http, const char *message)
{
	switch (http) {
	case 400:
	case 422:
		return SPOK_EINVAL;
	case 401:
		return SPOK_EFORBIDDEN;
	case 403:
		return strstr(message, "exceeded quota") != NULL ? SPOK_EQUOTA : SPOK_EFORBIDDEN;
	case 404:
		return SPOK_ENOTFOUND;
	case 409:
		return SPOK_ECONFLICT;
	case 429:
	case 503:
	case 504:
		return SPOK_EUNAVAIL;
	default:
		return SPOK_EAPI;
	}
}

/* Copies at most max bytes of the first line of p, replacing control bytes. */
static void one_line(char *dst, size_t size, const char *p, size_t n, size_t max)
{
	size_t o = 0;

	if (n > max)
		n = max;
	for (size_t i = 0; i < n && o + 1 < size; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch == '\n' || ch == '\r') {
			if (o > 0)
				break;
			continue;
		}
		dst[o++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	dst[o] = '\0';
}

static const char *status_message(const json_t *body)
{
	const char *kind = json_string_value(json_object_get(body, "kind"));
	const char *msg = json_string_value(json_object_get(body, "message"));

	if (kind == NULL || strcmp(kind, "Status") != 0 || msg == NULL || msg[0] == '\0')
		return NULL;
	return msg;
}

int kube_status_error(const char *verb, const char *path, long http_status, const json_t *body,
		      const char *raw, size_t raw_len, char *msg, size_t msg_size)
{
	char text[SPOK_ERR_MSG_MAX];
	const char *m = status_message(body);

	if (m != NULL)
		one_line(text, sizeof(text), m, strlen(m), sizeof(text));
	else if (raw != NULL && raw_len > 0)
		one_line(text, sizeof(text), raw, raw_len, RAW_SNIPPET_MAX);
	else
		text[0] = '\0';
	if (text[0] == '\0')
		snprintf(text, sizeof(text), "no error message from the server");
	snprintf(msg, msg_size, "%s %s: %s (HTTP %ld)", verb, path, text, http_status);
	return code_for(http_status, text);
}
