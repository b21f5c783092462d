/* fuzz_reason.c - driver logs are outside input: the reason scanner must take any bytes.
 * Besides no crash and no leak, it checks properties of the reason:
 *  - it is one line of at most 400 bytes of the log plus spok's own words, and valid UTF-8
 *    whenever the log is (JSON output and the server's API carry it);
 *  - "permanent" comes only with a reason;
 *  - line endings do not matter: the log with every "\n" written as "\r\n" gives the same
 *    reason (checked for logs without a '\r' of their own). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "common/xalloc.h"
#include "local/local.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REASON_BYTES_MAX (400 + 128) /* the clipped log text and spok's longest wording */

static void check_reason(const char *text, const char *r, bool perm)
{
	if (r == NULL) {
		if (perm)
			abort();
		return;
	}
	if (strchr(r, '\n') != NULL || strlen(r) > REASON_BYTES_MAX)
		abort();
	if (spok_utf8_validn(text, strlen(text)) && !spok_utf8_validn(r, strlen(r)))
		abort();
}

static char *crlf(const char *text)
{
	size_t n = strlen(text), k = 0;
	char *out = xmalloc(2 * n + 1);

	for (size_t i = 0; i < n; i++) {
		if (text[i] == '\n')
			out[k++] = '\r';
		out[k++] = text[i];
	}
	out[k] = '\0';
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xmalloc(size + 1);
	char *r;
	bool perm;

	memcpy(text, data, size);
	text[size] = '\0';
	r = spok_local_reason(text, &perm);
	check_reason(text, r, perm);
	if (strchr(text, '\r') == NULL) {
		char *dos = crlf(text), *r2;
		bool perm2;

		r2 = spok_local_reason(dos, &perm2);
		if ((r == NULL) != (r2 == NULL) || (r != NULL && strcmp(r, r2) != 0) || perm != perm2)
			abort();
		free(r2);
		free(dos);
	}
	free(r);
	free(text);
	return 0;
}
