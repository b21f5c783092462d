/* Fuzz target: arbitrary bytes straight into libyaml through spok's reader (ydoc_load_raw
 * skips the UTF-8/control-character check that normally runs first, so libyaml's own
 * reader, scanner and parser see everything). The fuzz build compiles libyaml from its
 * Debian source with the sanitizers and coverage (cmake/Yaml.cmake). Never crash; errors
 * are one line; a loaded tree converts to JSON or fails with one line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "yamljson/ydoc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one_line(const struct spok_err *err)
{
	if (err->msg[0] == '\0' || strchr(err->msg, '\n') != NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spok_err err = {0};
	struct ydoc d;
	json_t *j;

	if (ydoc_load_raw(&d, (const char *)data, size, "fuzz.yaml", &err) != SPOK_OK) {
		one_line(&err);
		return 0;
	}
	if (d.root != NULL) {
		j = ydoc_to_json(d.root, "fuzz.yaml", &err);
		if (j == NULL)
			one_line(&err);
		json_decref(j);
	}
	ydoc_free(&d);
	return 0;
}
