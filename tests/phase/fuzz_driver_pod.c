/* fuzz_driver_pod.c - bytes -> JSON -> spok_driver_pod_verdict. Whatever the pod says, the
 * verdict's line is absent for FINE and otherwise one line under 1 KiB, valid UTF-8, that a
 * terminal shows as text (spok_term_clean), starting as phase.h promises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/termesc.h"
#include "common/utf8.h"
#include "phase/phase.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *pod = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);
	enum spok_pod_verdict v;
	char *msg = NULL;

	if (pod == NULL)
		return 0;
	v = spok_driver_pod_verdict(pod, &msg);
	if ((v == SPOK_POD_FINE) != (msg == NULL))
		abort();
	if (msg != NULL) {
		size_t n = strlen(msg);
		if (n >= 1024 || strchr(msg, '\n') || !spok_utf8_validn(msg, n) || !spok_term_clean(msg))
			abort();
		if (v == SPOK_POD_WAITING && strncmp(msg, "waiting: ", 9) != 0)
			abort();
		if (v == SPOK_POD_BROKEN && strncmp(msg, "driver pod ", 11) != 0)
			abort();
	}
	free(msg);
	json_decref(pod);
	return 0;
}
