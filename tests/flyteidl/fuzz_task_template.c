/* fuzz_task_template.c - arbitrary bytes -> spok_flyte_parse_task_template. */
#include <stddef.h>
#include <stdint.h>

#include "flyteidl/flyteidl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spok_task t;

	if (spok_flyte_parse_task_template(data, size, "fuzz.pb", &t, NULL) == SPOK_OK)
		spok_task_free(&t);
	spok_flyte_sniff(data, size);
	return 0;
}
