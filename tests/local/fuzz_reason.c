/* fuzz_reason.c - driver logs are outside input: the reason scanner must take any bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "local/local.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	bool perm;
	free(spok_local_reason(text, &perm));
	free(text);
	return 0;
}
