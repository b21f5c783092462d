/* fuzz_create_task.c - arbitrary bytes -> spok_flyte_parse_create_task (the connector's
 * CreateTaskRequest), then the SparkApplication built from it with Flyte's identity. */
#include <stddef.h>
#include <stdint.h>

#include "flyteidl/agent.h"
#include "sparkapp/sparkapp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spok_flyte_create c;
	struct spok_platform p;
	struct spok_exec x = {0};
	json_t *app = NULL;

	if (spok_flyte_parse_create_task(data, size, "fuzz.pb", &c, NULL) != SPOK_OK)
		return 0;
	spok_platform_init(&p);
	x.execution_name = "sp-fuzz";
	x.namespace_ = c.namespace_ ? c.namespace_ : "ns";
	x.now_ms = 1;
	if (spok_sparkapp_build(&c.task, &p, &x, &app, NULL) == SPOK_OK)
		json_decref(app);
	spok_platform_free(&p);
	spok_flyte_create_free(&c);
	return 0;
}
