/* fuzz_literal_map.c - arbitrary bytes -> LiteralMap -> JSON, and ErrorDocument. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "flyteidl/flyteidl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = NULL;
	char *code, *msg;
	bool rec;

	if (spok_flyte_decode_literal_map(data, size, "fuzz.pb", &j, NULL) == SPOK_OK) {
		char *s = json_dumps(j, JSON_COMPACT); /* must be valid JSON text */

		free(s);
		json_decref(j);
	}
	if (spok_flyte_decode_error(data, size, "fuzz.pb", &code, &msg, &rec, NULL) == SPOK_OK) {
		free(code);
		free(msg);
	}
	return 0;
}
