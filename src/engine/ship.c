/* ship.c - reads the local files a cluster run ships (the I/O half of sparkapp's
 * spok_ship_*): relative paths resolve against the job file's directory, as local runs do. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "engine/engine.h"

static char *resolve(const struct spok_task *t, const char *path)
{
	char *copy, *out;

	if (path[0] == '/' || t->source_path == NULL)
		return xstrdup(path);
	copy = xstrdup(t->source_path);
	out = xasprintf("%s/%s", dirname(copy), path);
	free(copy);
	return out;
}

/* Reads at most `room` bytes of f (plus one to see that there is more). */
static int read_one(const char *src, struct spok_ship_file *f, const char *full, size_t room,
		    struct spok_err *err)
{
	struct stat st;
	size_t cap = room + 1, len = 0;
	int fd = open(full, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	if (fd < 0)
		return spok_err_set(err, SPOK_EINVAL, "%s: %s %s: cannot read it (%s); fix the path "
				    "(relative paths are relative to the job file)", src, f->field,
				    full, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return spok_err_set(err, SPOK_EINVAL, "%s: %s %s: not a regular file; name the file "
				    "to ship", src, f->field, full);
	}
	if ((uint64_t)st.st_size < cap)
		cap = (size_t)st.st_size + 1;
	f->data = xmalloc(cap);
	for (;;) {
		ssize_t r = read(fd, f->data + len, cap - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			return spok_err_set(err, SPOK_EIO, "%s: %s %s: cannot read it (%s)", src,
					    f->field, full, strerror(e));
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > room)
			break;
		if (len == cap) { /* it grew since fstat */
			cap = cap * 2 > room + 1 ? room + 1 : cap * 2;
			f->data = xrealloc(f->data, cap);
		}
	}
	close(fd);
	f->len = len;
	if (len > room)
		return spok_err_set(err, SPOK_EINVAL, "%s: %s %s: the shipped files come to more than "
				    "%u KiB (the cap of one ConfigMap); put it in the image (local://) "
				    "or a store (s3a://, https://)", src, f->field, full,
				    SPOK_SHIP_MAX_BYTES / 1024);
	return SPOK_OK;
}

int spok_ship_read(const struct spok_task *t, struct spok_ship *out, struct spok_err *err)
{
	const char *src = t->source_path ? t->source_path : "task";
	size_t total = 0;
	int result = spok_ship_list(t, out, err);

	for (size_t i = 0; result == SPOK_OK && i < out->n; i++) {
		char *full = resolve(t, out->files[i].path);

		result = read_one(src, &out->files[i], full, SPOK_SHIP_MAX_BYTES - total, err);
		total += out->files[i].len;
		free(full);
	}
	if (result != SPOK_OK)
		spok_ship_free(out);
	return result;
}
