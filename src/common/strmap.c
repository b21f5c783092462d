#include "common/strmap.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/xalloc.h"

/* Up to this many entries a map is searched linearly (hash first) and has no index. */
#define SMALL 8

/* ---- SipHash-1-3 with a per-process random key ----
 * Keys come from hostile requests: an unkeyed hash would let one request pick keys that
 * all land in one probe chain and bring the quadratic cost back. */

static uint64_t sip_k0, sip_k1;
static pthread_once_t sip_once = PTHREAD_ONCE_INIT;

static void sip_seed(void)
{
	uint64_t k[2];

	if (getrandom(k, sizeof(k), GRND_NONBLOCK) != (ssize_t)sizeof(k)) {
		struct timespec ts;

		/* No entropy yet (early boot): still differs per process and per start. */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		k[0] = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15u ^ (uint64_t)getpid();
		k[1] = (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&ts;
	}
	sip_k0 = k[0];
	sip_k1 = k[1];
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sip_round(uint64_t v[4])
{
	v[0] += v[1]; v[1] = ROTL(v[1], 13); v[1] ^= v[0]; v[0] = ROTL(v[0], 32);
	v[2] += v[3]; v[3] = ROTL(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = ROTL(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = ROTL(v[1], 17); v[1] ^= v[2]; v[2] = ROTL(v[2], 32);
}

static uint64_t sip_block(const unsigned char *p, size_t n)
{
	uint64_t m = 0;

	for (size_t i = 0; i < n; i++)
		m |= (uint64_t)p[i] << (8 * i);
	return m;
}

static uint32_t hash_key(const char *key)
{
	const unsigned char *p = (const unsigned char *)key;
	size_t len = strlen(key), i;
	uint64_t v[4], m;

	pthread_once(&sip_once, sip_seed);
	v[0] = sip_k0 ^ 0x736f6d6570736575u;
	v[1] = sip_k1 ^ 0x646f72616e646f6du;
	v[2] = sip_k0 ^ 0x6c7967656e657261u;
	v[3] = sip_k1 ^ 0x7465646279746573u;
	for (i = 0; i + 8 <= len; i += 8) {
		m = sip_block(p + i, 8);
		v[3] ^= m;
		sip_round(v);
		v[0] ^= m;
	}
	m = sip_block(p + i, len - i) | (uint64_t)len << 56;
	v[3] ^= m;
	sip_round(v);
	v[0] ^= m;
	v[2] ^= 0xff;
	sip_round(v);
	sip_round(v);
	sip_round(v);
	m = v[0] ^ v[1] ^ v[2] ^ v[3];
	return (uint32_t)(m ^ (m >> 32));
}

/* ---- index: linear probing over positions + 1 ---- */

static void index_put(struct spok_strmap *m, size_t pos)
{
	size_t mask = m->index_cap - 1, s = m->items[pos].hash & mask;

	while (m->index[s] != 0)
		s = (s + 1) & mask;
	m->index[s] = (uint32_t)(pos + 1);
}

static void index_build(struct spok_strmap *m, size_t want)
{
	size_t cap = 32;

	while (cap < 2 * want)
		cap *= 2;
	free(m->index);
	m->index = xcalloc(cap, sizeof(*m->index));
	m->index_cap = cap;
	for (size_t i = 0; i < m->len; i++)
		index_put(m, i);
}

/* The slot holding key, or the empty slot ending its probe chain. */
static size_t index_slot(const struct spok_strmap *m, const char *key, uint32_t h)
{
	size_t mask = m->index_cap - 1, s = h & mask;

	for (; m->index[s] != 0; s = (s + 1) & mask) {
		const struct spok_kv *kv = &m->items[m->index[s] - 1];

		if (kv->hash == h && strcmp(kv->key, key) == 0)
			break;
	}
	return s;
}

/* Position of key, or -1. */
static long find(const struct spok_strmap *m, const char *key, uint32_t h)
{
	if (m->index == NULL) {
		for (size_t i = 0; i < m->len; i++)
			if (m->items[i].hash == h && strcmp(m->items[i].key, key) == 0)
				return (long)i;
		return -1;
	}
	size_t s = index_slot(m, key, h);

	return m->index[s] ? (long)m->index[s] - 1 : -1;
}

/* Empties slot s, moving later members of its cluster back (no tombstones). */
static void index_remove(struct spok_strmap *m, size_t s)
{
	size_t mask = m->index_cap - 1, i = s, j = s;

	for (;;) {
		size_t k;

		j = (j + 1) & mask;
		if (m->index[j] == 0)
			break;
		k = m->items[m->index[j] - 1].hash & mask;
		/* The entry at j may move to i only if its home k is not cyclically in (i, j]. */
		if (i <= j ? (k <= i || k > j) : (k <= i && k > j)) {
			m->index[i] = m->index[j];
			i = j;
		}
	}
	m->index[i] = 0;
}

/* ---- map ---- */

void spok_strmap_set(struct spok_strmap *m, const char *key, const char *value)
{
	uint32_t h = hash_key(key);
	long at = find(m, key, h);

	if (at >= 0) {
		char *v = xstrdup(value ? value : "");
		/* find() gives at >= 0 only for an existing item, so items is set; the analyzer
		 * does not follow find() into the index. */
		free(m->items[at].value); // NOLINT(clang-analyzer-core.NullDereference)
		m->items[at].value = v;
		return;
	}
	if (m->len >= UINT32_MAX - 1)
		abort(); /* positions are 32-bit; no map comes near this */
	if (m->len == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 8;
		m->items = xreallocarray(m->items, m->cap, sizeof(*m->items));
	}
	m->items[m->len].key = xstrdup(key);
	m->items[m->len].value = xstrdup(value ? value : "");
	m->items[m->len].hash = h;
	m->len++;
	if (m->index == NULL ? m->len > SMALL : 2 * m->len > m->index_cap)
		index_build(m, m->len);
	else if (m->index != NULL)
		index_put(m, m->len - 1);
}

const char *spok_strmap_get(const struct spok_strmap *m, const char *key)
{
	long at = find(m, key, hash_key(key));

	return at >= 0 ? m->items[at].value : NULL;
}

bool spok_strmap_has(const struct spok_strmap *m, const char *key)
{
	return find(m, key, hash_key(key)) >= 0;
}

bool spok_strmap_del(struct spok_strmap *m, const char *key)
{
	uint32_t h = hash_key(key);
	long at = find(m, key, h);
	size_t i;

	if (at < 0)
		return false;
	i = (size_t)at;
	if (m->index != NULL)
		index_remove(m, index_slot(m, key, h));
	free(m->items[i].key);
	free(m->items[i].value);
	memmove(&m->items[i], &m->items[i + 1], (m->len - i - 1) * sizeof(*m->items));
	m->len--;
	if (m->index == NULL)
		return true;
	/* Entries after i moved down one: renumber their slots (old position + 1 is q + 2). */
	for (size_t q = i; q < m->len; q++) {
		size_t mask = m->index_cap - 1, s = m->items[q].hash & mask;

		while (m->index[s] != (uint32_t)(q + 2))
			s = (s + 1) & mask;
		m->index[s] = (uint32_t)(q + 1);
	}
	return true;
}

void spok_strmap_merge(struct spok_strmap *dst, const struct spok_strmap *src)
{
	for (size_t i = 0; i < src->len; i++)
		spok_strmap_set(dst, src->items[i].key, src->items[i].value);
}

void spok_strmap_copy(struct spok_strmap *dst, const struct spok_strmap *src)
{
	if (dst == src) /* freeing dst first would free what is to be copied */
		return;
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
	if (m->index != NULL)
		index_build(m, m->len);
}

void spok_strmap_free(struct spok_strmap *m)
{
	for (size_t i = 0; i < m->len; i++) {
		free(m->items[i].key);
		free(m->items[i].value);
	}
	free(m->items);
	free(m->index);
	m->items = NULL;
	m->index = NULL;
	m->len = m->cap = m->index_cap = 0;
}
