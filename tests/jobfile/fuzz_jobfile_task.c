/* Fuzz target: job-file parser. Never crashes or leaks; errors are one line and leave
 * the task empty. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobfile/jobfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spok_err err = {0};
	struct spok_task t;

	if (spok_jobfile_parse_task((const char *)data, size, "fuzz.yaml", &t, &err) != SPOK_OK) {
		if (strchr(err.msg, '\n') != NULL || t.name != NULL || t.spark_conf.len != 0)
			abort();
		return 0;
	}
	if (t.name == NULL || (t.main_application_file == NULL && t.main_class == NULL))
		abort();
	spok_task_free(&t);
	return 0;
}
