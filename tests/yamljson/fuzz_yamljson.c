/* Fuzz target: YAML -> JSON must never crash, and any JSON it yields must survive
 * JSON -> YAML -> JSON unchanged. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yamljson/yamljson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spok_err err = {0};
	json_t *j = spok_yaml_to_json((const char *)data, size, "fuzz.yaml", &err), *back;
	char *yaml;

	if (j == NULL) {
		if (strchr(err.msg, '\n') != NULL)
			abort();  /* errors are one line */
		return 0;
	}
	yaml = spok_json_to_yaml(j);
	back = spok_yaml_to_json(yaml, strlen(yaml), "emitted.yaml", &err);
	if (back == NULL || !json_equal(j, back)) {
		fprintf(stderr, "round trip failed: %s\n--- emitted ---\n%s\n", back ? "differs" : err.msg, yaml);
		abort();
	}
	json_decref(back);
	json_decref(j);
	free(yaml);
	return 0;
}
