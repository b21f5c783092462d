/* buf.h - a growable byte buffer with a hard size cap (curl's dynbuf idea).
 *
 * Every buffer that grows with outside input has a cap set at init, so a hostile
 * peer or file cannot make spok allocate without bound. The buffer owns `data`,
 * which is always NUL-terminated after a successful append.
 */
#ifndef SPOK_COMMON_BUF_H
#define SPOK_COMMON_BUF_H

#include <stddef.h>

struct spok_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max; /* hard limit on len; 0 means SPOK_BUF_DEFAULT_MAX */
};

#define SPOK_BUF_DEFAULT_MAX ((size_t)64 << 20)

void spok_buf_init(struct spok_buf *b, size_t max);
/* Returns 0, or SPOK_EINVAL if the append would pass the cap (buffer unchanged). */
int spok_buf_append(struct spok_buf *b, const void *p, size_t n);
int spok_buf_appends(struct spok_buf *b, const char *s);
int spok_buf_printf(struct spok_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void spok_buf_reset(struct spok_buf *b);  /* len = 0, keeps memory */
/* Hands the data to the caller (who frees it); the buffer is empty afterwards. */
char *spok_buf_detach(struct spok_buf *b);
void spok_buf_free(struct spok_buf *b);

/* Reads a whole file into b (respecting its cap). Errors name the path. */
struct spok_err;
int spok_buf_read_file(struct spok_buf *b, const char *path, struct spok_err *err);

/* Writes all n bytes of p to fd through short writes and EINTR: 0, or -1 with errno set (EIO
 * when write made no progress). Only calls write(2), so a forked child may use it. */
int spok_write_all(int fd, const void *p, size_t n);

#endif
