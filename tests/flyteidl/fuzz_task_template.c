/* fuzz_task_template.c - arbitrary bytes -> spok_flyte_parse_task_template. Besides no crash
 * and no leak, it checks properties of what is accepted:
 *  - the task is within the caps (spok_task_check_limits);
 *  - round trip: the TaskTemplate serialized again (protobuf-c pack of the unpacked message)
 *    parses to the same task;
 *  - the same bytes wrapped in a TaskSpec (what pyflyte writes) parse to the same task, and
 *    are refused when the bare template is. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "flyteidl/core/tasks.pb-c.h"
#include "flyteidl/flyteidl.h"
#include "fuzz_task_same.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_repack(const uint8_t *data, size_t size, const struct spok_task *t)
{
	Flyteidl__Core__TaskTemplate *m;
	struct spok_task again;
	uint8_t *buf;
	size_t n;

	m = flyteidl__core__task_template__unpack(NULL, size, data);
	if (m == NULL)
		abort();
	n = flyteidl__core__task_template__get_packed_size(m);
	buf = malloc(n + 1);
	flyteidl__core__task_template__pack(m, buf);
	if (spok_flyte_parse_task_template(buf, n, "fuzz.pb", &again, NULL) != SPOK_OK ||
	    !fuzz_same_task(t, &again))
		abort();
	spok_task_free(&again);
	free(buf);
	flyteidl__core__task_template__free_unpacked(m, NULL);
}

/* TaskSpec { TaskTemplate template = 1; }: tag 0x0a, varint length, the bytes. */
static void check_in_spec(const uint8_t *data, size_t size, const struct spok_task *t, int result)
{
	uint8_t *spec = malloc(size + 11);
	size_t n = 0, len = size;
	struct spok_task s;
	int r;

	spec[n++] = 0x0a;
	do {
		spec[n++] = (uint8_t)((len & 0x7f) | (len > 0x7f ? 0x80 : 0));
		len >>= 7;
	} while (len > 0);
	memcpy(spec + n, data, size);
	r = spok_flyte_parse_task_spec(spec, n + size, "fuzz.pb", &s, NULL);
	if ((r == SPOK_OK) != (result == SPOK_OK) || (r == SPOK_OK && !fuzz_same_task(t, &s)))
		abort();
	if (r == SPOK_OK)
		spok_task_free(&s);
	free(spec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spok_task t;
	int result = spok_flyte_parse_task_template(data, size, "fuzz.pb", &t, NULL);

	if (result == SPOK_OK) {
		if (spok_task_check_limits(&t, "fuzz", NULL) != 0)
			abort();
		check_repack(data, size, &t);
	}
	if (size < SPOK_FLYTE_PB_MAX - 16)
		check_in_spec(data, size, &t, result);
	if (result == SPOK_OK)
		spok_task_free(&t);
	spok_flyte_sniff(data, size);
	return 0;
}
