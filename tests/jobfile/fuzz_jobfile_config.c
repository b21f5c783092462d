/* Fuzz target: platform-config parser. Never crashes or leaks; errors are one line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobfile/jobfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spok_err err = {0};
	struct spok_platform p;

	if (spok_config_parse((const char *)data, size, "fuzz.yaml", &p, &err) != SPOK_OK) {
		if (strchr(err.msg, '\n') != NULL || p.spok.namespace_template != NULL)
			abort();
		return 0;
	}
	spok_platform_free(&p);
	return 0;
}
