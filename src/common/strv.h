/* strv.h - a growable vector of owned strings. A zeroed struct is empty.
 * v[len] is always NULL once anything was pushed, so `items` can serve as an argv. */
#ifndef SPOK_COMMON_STRV_H
#define SPOK_COMMON_STRV_H

#include <stddef.h>

struct spok_strv {
	char **items;
	size_t len;
	size_t cap;
};

void spok_strv_push(struct spok_strv *v, const char *s);      /* copies s */
void spok_strv_push_own(struct spok_strv *v, char *s);        /* takes s */
void spok_strv_pushf(struct spok_strv *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void spok_strv_copy(struct spok_strv *dst, const struct spok_strv *src);
void spok_strv_free(struct spok_strv *v);

#endif
