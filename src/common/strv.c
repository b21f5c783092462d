#include "common/strv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/xalloc.h"

void spok_strv_push_own(struct spok_strv *v, char *s)
{
	if (v->len + 1 >= v->cap) {
		v->cap = v->cap ? v->cap * 2 : 8;
		v->items = xreallocarray(v->items, v->cap, sizeof(*v->items));
	}
	v->items[v->len++] = s;
	v->items[v->len] = NULL;
}

void spok_strv_push(struct spok_strv *v, const char *s)
{
	spok_strv_push_own(v, xstrdup(s ? s : ""));
}

void spok_strv_pushf(struct spok_strv *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	spok_strv_push_own(v, xvasprintf(fmt, ap));
	va_end(ap);
}

void spok_strv_copy(struct spok_strv *dst, const struct spok_strv *src)
{
	spok_strv_free(dst);
	for (size_t i = 0; i < src->len; i++)
		spok_strv_push(dst, src->items[i]);
}

void spok_strv_free(struct spok_strv *v)
{
	for (size_t i = 0; i < v->len; i++)
		free(v->items[i]);
	free(v->items);
	v->items = NULL;
	v->len = v->cap = 0;
}
