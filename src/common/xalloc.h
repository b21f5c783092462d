/* xalloc.h - allocation that never returns NULL.
 *
 * Out of memory is not recoverable for spok: these print one line and abort, so
 * every other error path is about real failures. Memory from these is freed with free().
 */
#ifndef SPOK_COMMON_XALLOC_H
#define SPOK_COMMON_XALLOC_H

#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
/* xreallocarray: overflow-checked p = realloc(p, count * size). */
void *xreallocarray(void *p, size_t count, size_t size);
char *xstrdup(const char *s);          /* NULL in, NULL out */
char *xstrndup(const char *s, size_t n);
/* printf into a fresh heap string; caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#endif
