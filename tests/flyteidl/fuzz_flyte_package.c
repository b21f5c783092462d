/* fuzz_flyte_package.c - arbitrary bytes as a pyflyte package (gzip'd tar). The input is
 * fed both as-is and, when it is not gzip already, gzip-wrapped so the fuzzer also
 * reaches the tar reader directly. Besides no crash and no leak, it checks properties of
 * what is accepted:
 *  - the task is within the caps (spok_task_check_limits);
 *  - asking for the loaded task by its name, or by the last dotted part of it
 *    ("pi.hello_spark" -> "hello_spark"), loads the same task unless the name is ambiguous
 *    in the package (then it is refused, never another task). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "flyteidl/flyteidl.h"
#include "fuzz_task_same.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_by_name(const uint8_t *d, size_t n, const struct spok_task *t, const char *name)
{
	struct spok_task again;

	struct spok_err err;

	if (spok_flyte_load_task_buf(d, n, "fuzz.tgz", name, &again, &err) != SPOK_OK) {
		if (strstr(err.msg, "is ambiguous") == NULL)
			abort();
		return;
	}
	if (!fuzz_same_task(t, &again))
		abort();
	spok_task_free(&again);
}

static void check(const uint8_t *d, size_t n, const char *name)
{
	struct spok_task t;
	const char *dot;

	if (spok_flyte_load_task_buf(d, n, "fuzz.tgz", name, &t, NULL) != SPOK_OK)
		return;
	if (spok_task_check_limits(&t, "fuzz", NULL) != 0)
		abort();
	if (t.name != NULL && t.name[0] != '\0') {
		check_by_name(d, n, &t, t.name);
		dot = strrchr(t.name, '.');
		if (dot != NULL && dot[1] != '\0')
			check_by_name(d, n, &t, dot + 1);
	}
	spok_task_free(&t);
}

static void load(const uint8_t *d, size_t n)
{
	check(d, n, NULL);
	check(d, n, "hello_spark");
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
