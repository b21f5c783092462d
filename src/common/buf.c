#include "common/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/xalloc.h"

void spok_buf_init(struct spok_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max ? max : SPOK_BUF_DEFAULT_MAX;
}

static size_t limit(const struct spok_buf *b)
{
	return b->max ? b->max : SPOK_BUF_DEFAULT_MAX;
}

int spok_buf_append(struct spok_buf *b, const void *p, size_t n)
{
	if (n > limit(b) || b->len > limit(b) - n)
		return SPOK_EINVAL;
	if (b->data == NULL || b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return SPOK_OK;
}

int spok_buf_appends(struct spok_buf *b, const char *s)
{
	return spok_buf_append(b, s, strlen(s));
}

int spok_buf_printf(struct spok_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int result;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	result = spok_buf_appends(b, s);
	free(s);
	return result;
}

void spok_buf_reset(struct spok_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *spok_buf_detach(struct spok_buf *b)
{
	char *p = b->data ? b->data : xstrdup("");

	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void spok_buf_free(struct spok_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int spok_buf_read_file(struct spok_buf *b, const char *path, struct spok_err *err)
{
	char chunk[16384];
	FILE *f = fopen(path, "rb");
	int result = SPOK_OK;
	size_t n;

	if (f == NULL)
		return spok_err_set(err, errno == ENOENT ? SPOK_ENOTFOUND : SPOK_EIO,
				    "%s: cannot open: %s", path, strerror(errno));
	errno = 0;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (spok_buf_append(b, chunk, n) != SPOK_OK) {
			result = spok_err_set(err, SPOK_EINVAL,
					      "%s: file is larger than the %zu-byte limit",
					      path, limit(b));
			break;
		}
	}
	if (result == SPOK_OK && ferror(f)) {
		int e = errno;

		/* fopen succeeds on a directory; only the read says EISDIR: that is bad input. */
		if (e == EISDIR)
			result = spok_err_set(err, SPOK_EINVAL, "%s: is a directory; pass a file", path);
		else
			result = spok_err_set(err, SPOK_EIO, "%s: read failed: %s; check the file",
					      path, e != 0 ? strerror(e) : "I/O error");
	}
	fclose(f);
	if (result == SPOK_OK && b->data == NULL)
		spok_buf_append(b, "", 0);
	return result;
}

int spok_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}
