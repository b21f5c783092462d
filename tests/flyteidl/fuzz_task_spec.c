/* fuzz_task_spec.c - arbitrary bytes -> TaskSpec parse and the .pb auto-detecting loader.
 * Besides no crash and no leak, it checks properties of an accepted TaskSpec:
 *  - the task is within the caps (spok_task_check_limits);
 *  - round trip: its template serialized alone (protobuf-c pack) parses as a TaskTemplate
 *    to the same task, and so does the whole TaskSpec packed again. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "flyteidl/admin/task.pb-c.h"
#include "flyteidl/core/tasks.pb-c.h"
#include "flyteidl/flyteidl.h"
#include "fuzz_task_same.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_round_trip(const uint8_t *data, size_t size, const struct spok_task *t)
{
	Flyteidl__Admin__TaskSpec *spec;
	struct spok_task again;
	uint8_t *buf;
	size_t n;

	spec = flyteidl__admin__task_spec__unpack(NULL, size, data);
	if (spec == NULL || spec->template_ == NULL)
		abort();
	n = flyteidl__core__task_template__get_packed_size(spec->template_);
	buf = malloc(n + 1);
	flyteidl__core__task_template__pack(spec->template_, buf);
	if (spok_flyte_parse_task_template(buf, n, "fuzz.pb", &again, NULL) != SPOK_OK ||
	    !fuzz_same_task(t, &again))
		abort();
	spok_task_free(&again);
	free(buf);
	n = flyteidl__admin__task_spec__get_packed_size(spec);
	buf = malloc(n + 1);
	flyteidl__admin__task_spec__pack(spec, buf);
	if (spok_flyte_parse_task_spec(buf, n, "fuzz.pb", &again, NULL) != SPOK_OK ||
	    !fuzz_same_task(t, &again))
		abort();
	spok_task_free(&again);
	free(buf);
	flyteidl__admin__task_spec__free_unpacked(spec, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spok_task t;

	if (spok_flyte_parse_task_spec(data, size, "fuzz.pb", &t, NULL) == SPOK_OK) {
		if (spok_task_check_limits(&t, "fuzz", NULL) != 0)
			abort();
		check_round_trip(data, size, &t);
		spok_task_free(&t);
	}
	if (size > 0 && data[0] != 0x1f &&
	    spok_flyte_load_task_buf(data, size, "fuzz.pb", NULL, &t, NULL) == SPOK_OK)
		spok_task_free(&t);
	return 0;
}
