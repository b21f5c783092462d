/* fuzz_task_spec.c - arbitrary bytes -> TaskSpec parse and the .pb auto-detecting loader. */
#include <stddef.h>
#include <stdint.h>

#include "flyteidl/flyteidl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spok_task t;

	if (spok_flyte_parse_task_spec(data, size, "fuzz.pb", &t, NULL) == SPOK_OK)
		spok_task_free(&t);
	if (size > 0 && data[0] != 0x1f &&
	    spok_flyte_load_task_buf(data, size, "fuzz.pb", NULL, &t, NULL) == SPOK_OK)
		spok_task_free(&t);
	return 0;
}
