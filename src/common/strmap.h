/* strmap.h - an ordered string -> string map.
 *
 * Insertion order is kept (golden outputs and Spark's --conf order depend on it);
 * setting an existing key replaces its value in place. Keys and values are copied
 * in; the map owns them. Entries live in `items` in order (read them directly); past a
 * few entries an open-addressing index of positions makes set/get/has O(1), so a map fed
 * tens of thousands of hostile keys costs linear time, not quadratic. Deleting keeps the
 * order and costs the length of the tail after the deleted entry. A zeroed struct is an
 * empty map. A map may be moved by value (`*dst = src`): the index holds positions, not
 * pointers. Never edit items/len directly (the index would go stale); use the functions.
 */
#ifndef SPOK_COMMON_STRMAP_H
#define SPOK_COMMON_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct spok_kv {
	char *key;
	char *value;
	uint32_t hash;     /* of key; internal */
};

struct spok_strmap {
	struct spok_kv *items;
	size_t len;
	size_t cap;
	uint32_t *index;   /* internal: 0 empty, else position + 1; NULL while small */
	size_t index_cap;  /* a power of two, or 0 */
};

void spok_strmap_set(struct spok_strmap *m, const char *key, const char *value);
/* Borrowed pointer into the map, or NULL. */
const char *spok_strmap_get(const struct spok_strmap *m, const char *key);
bool spok_strmap_has(const struct spok_strmap *m, const char *key);
/* Removes key; returns true if it was there. Keeps the order of the rest. */
bool spok_strmap_del(struct spok_strmap *m, const char *key);
/* dst gets every entry of src, in src's order (later wins). */
void spok_strmap_merge(struct spok_strmap *dst, const struct spok_strmap *src);
void spok_strmap_copy(struct spok_strmap *dst, const struct spok_strmap *src);
/* Sorts entries by key (bytewise), for deterministic output. */
void spok_strmap_sort(struct spok_strmap *m);
void spok_strmap_free(struct spok_strmap *m);

#endif
