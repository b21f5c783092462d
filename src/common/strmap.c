#include "common/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

static struct spok_kv *find(const struct spok_strmap *m, const char *key)
{
	for (size_t i = 0; i < m->len; i++)
		if (strcmp(m->items[i].key, key) == 0)
			return &m->items[i];
	return NULL;
}

void spok_strmap_set(struct spok_strmap *m, const char *key, const char *value)
{
	struct spok_kv *kv = find(m, key);

	if (kv != NULL) {
		char *v = xstrdup(value ? value : "");
		free(kv->value);
		kv->value = v;
		return;
	}
	if (m->len == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 8;
		m->items = xreallocarray(m->items, m->cap, sizeof(*m->items));
	}
	m->items[m->len].key = xstrdup(key);
	m->items[m->len].value = xstrdup(value ? value : "");
	m->len++;
}

const char *spok_strmap_get(const struct spok_strmap *m, const char *key)
{
	const struct spok_kv *kv = find(m, key);

	return kv ? kv->value : NULL;
}

bool spok_strmap_has(const struct spok_strmap *m, const char *key)
{
	return find(m, key) != NULL;
}

bool spok_strmap_del(struct spok_strmap *m, const char *key)
{
	struct spok_kv *kv = find(m, key);
	size_t i;

	if (kv == NULL)
		return false;
	i = (size_t)(kv - m->items);
	free(kv->key);
	free(kv->value);
	memmove(&m->items[i], &m->items[i + 1], (m->len - i - 1) * sizeof(*kv));
	m->len--;
	return true;
}

void spok_strmap_merge(struct spok_strmap *dst, const struct spok_strmap *src)
{
	for (size_t i = 0; i < src->len; i++)
		spok_strmap_set(dst, src->items[i].key, src->items[i].value);
}

void spok_strmap_copy(struct spok_strmap *dst, const struct spok_strmap *src)
{
	spok_strmap_free(dst);
	spok_strmap_merge(dst, src);
}

static int cmp_kv(const void *a, const void *b)
{
	const struct spok_kv *x = a, *y = b;

	return strcmp(x->key, y->key);
}

void spok_strmap_sort(struct spok_strmap *m)
{
	if (m->len > 1)
		qsort(m->items, m->len, sizeof(*m->items), cmp_kv);
}

void spok_strmap_free(struct spok_strmap *m)
{
	for (size_t i = 0; i < m->len; i++) {
		free(m->items[i].key);
		free(m->items[i].value);
	}
	free(m->items);
	m->items = NULL;
	m->len = m->cap = 0;
}
