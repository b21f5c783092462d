/* testutil.h - helpers shared by the flyteidl tests: files, tgz building, Struct building. */
#ifndef SPOK_TESTS_FLYTEIDL_TESTUTIL_H
#define SPOK_TESTS_FLYTEIDL_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/xalloc.h"

/* Reads <dir>/<name> whole; the buffer owns the data. */
static inline void read_whole(const char *dir, const char *name, struct spok_buf *b)
{
	char *path = xasprintf("%s/%s", dir, name);
	struct spok_err err = { 0 };

	spok_buf_init(b, (size_t)128 << 20);
	if (spok_buf_read_file(b, path, &err) != SPOK_OK)
		fail_msg("%s", err.msg);
	free(path);
}

static inline const char *data_dir(void)
{
	static char dir[4096];
	const char *src = getenv("SPOK_SOURCE_DIR");

	snprintf(dir, sizeof(dir), "%s/tests/flyteidl/data", src != NULL ? src : ".");
	return dir;
}

/* Appends a ustar entry (header + padded data) to a tar in b. */
static inline void tar_add(struct spok_buf *b, const char *name, char type, const void *data,
			   size_t len)
{
	unsigned char h[512];
	unsigned sum = 0;
	static const unsigned char zero[512];

	memset(h, 0, sizeof(h));
	snprintf((char *)h, 100, "%s", name);
	snprintf((char *)h + 100, 8, "%07o", 0644);
	snprintf((char *)h + 124, 12, "%011lo", (unsigned long)len);
	snprintf((char *)h + 136, 12, "%011o", 0);
	h[156] = (unsigned char)type;
	memcpy(h + 257, "ustar\00000", 8);
	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < sizeof(h); i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	assert_int_equal(spok_buf_append(b, h, sizeof(h)), 0);
	assert_int_equal(spok_buf_append(b, data, len), 0);
	assert_int_equal(spok_buf_append(b, zero, (512 - len % 512) % 512), 0);
}

static inline void tar_end(struct spok_buf *b)
{
	static const unsigned char zero[1024];

	assert_int_equal(spok_buf_append(b, zero, sizeof(zero)), 0);
}

/* gzip-compresses in into a fresh heap buffer (caller frees). */
static inline uint8_t *gzip_bytes(const void *in, size_t len, size_t *out_len)
{
	z_stream zs;
	size_t cap = len + len / 100 + 1024;
	uint8_t *out = xmalloc(cap);

	memset(&zs, 0, sizeof(zs));
	assert_int_equal(deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
			 Z_OK);
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	*out_len = zs.total_out;
	deflateEnd(&zs);
	return out;
}

#endif
