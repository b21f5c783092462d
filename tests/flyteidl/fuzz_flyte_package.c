/* fuzz_flyte_package.c - arbitrary bytes as a pyflyte package (gzip'd tar). The input is
 * fed both as-is and, when it is not gzip already, gzip-wrapped so the fuzzer also
 * reaches the tar reader directly. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "flyteidl/flyteidl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void load(const uint8_t *d, size_t n)
{
	struct spok_task t;

	if (spok_flyte_load_task_buf(d, n, "fuzz.tgz", NULL, &t, NULL) == SPOK_OK)
		spok_task_free(&t);
	if (spok_flyte_load_task_buf(d, n, "fuzz.tgz", "hello_spark", &t, NULL) == SPOK_OK)
		spok_task_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	z_stream zs;
	uint8_t *out;
	size_t cap = size + size / 100 + 1024;

	if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
		load(data, size);
		return 0;
	}
	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return 0;
	out = malloc(cap);
	zs.next_in = (Bytef *)(uintptr_t)data;
	zs.avail_in = (uInt)size;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	if (out != NULL && deflate(&zs, Z_FINISH) == Z_STREAM_END)
		load(out, zs.total_out);
	deflateEnd(&zs);
	free(out);
	return 0;
}
