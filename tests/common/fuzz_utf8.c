/* fuzz_utf8.c - any bytes: sanitizing gives text jansson accepts, and clipping valid text at
 * any length keeps it valid. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	char *clean = spok_utf8_sanitize(s);
	size_t n = strlen(clean);
	if (!spok_utf8_validn(clean, n))
		abort();
	json_t *j = json_string(clean);
	if (!j)
		abort();
	json_decref(j);
	for (size_t max = 0; max <= n && max < 64; max++) {
		size_t k = spok_utf8_prefix(clean, max);
		if (k > max || !spok_utf8_validn(clean, k))
			abort();
	}
	if (spok_utf8_validn(s, strlen(s)) && strcmp(s, clean) != 0)
		abort();
	free(clean);
	free(s);
	return 0;
}
