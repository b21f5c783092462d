/* jarena.c - chunks of CHUNK bytes from aligned_alloc, aligned to CHUNK, so a block's chunk is
 * its address with the low bits cleared. A process-wide bitmap of live chunks (it holds no
 * pointers: a leaked tree's chunks stay visible to LeakSanitizer) tells jansson's free whether
 * a block is an arena's. */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jarena.h"

#if defined(__SANITIZE_ADDRESS__)
#define JARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define JARENA_ASAN 1
#endif
#endif
#ifdef JARENA_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define CHUNK_SHIFT 15
#define CHUNK ((size_t)1 << CHUNK_SHIFT)
#define ALIGN 16
#define BIG (CHUNK / 4) /* larger blocks go to malloc */
#define ROUND(n) (((n) + (ALIGN - 1)) & ~(size_t)(ALIGN - 1))
/* Biases the shared count while a scope is open, so frees on other threads cannot reach 0. */
#define OPEN_BIAS ((size_t)1 << 62)

struct chunk {
	struct arena *owner;
	struct chunk *next;
};

struct arena {
	atomic_size_t refs; /* live blocks (+ OPEN_BIAS - own while open) */
	size_t own;         /* blocks allocated minus freed by the scope's thread while open */
	unsigned char *cur; /* chunk being carved */
	size_t used;        /* bytes of cur in use */
	struct chunk *chunks;
};

/* An arena's first chunk starts with this. */
struct first {
	struct chunk c;
	struct arena a;
};

#ifdef JARENA_ASAN
/* Under ASan every block has a poisoned header: its size and whether it is live. */
#define HDR ALIGN
#define LIVE 0x6a6172656e61u
#define DEAD 0x646561646164u
struct blkhdr {
	size_t n;
	size_t state;
};
#else
#define HDR 0
#endif

static _Thread_local struct arena *cur_arena;
static _Thread_local unsigned depth;
static _Thread_local struct spok_jarena_stats stats;

static pthread_once_t installed = PTHREAD_ONCE_INIT;

static void die(const char *what)
{
	fprintf(stderr, "spok: jarena: %s\n", what);
	abort();
}

/* Which CHUNK-sized windows of the address space hold a live chunk: one bit per window, in
 * leaves of LEAF_BITS windows (2 GiB of address space each) made on first use and kept for
 * good. Lock-free: jansson's free asks it for every block of the process. A live block's bit
 * was set before the block was handed out and stays set until the block's arena is freed; a
 * window holding a live malloc block has no live chunk, so its bit is clear. */
#define LEAF_SHIFT 16
#define LEAF_BITS ((size_t)1 << LEAF_SHIFT)
static _Atomic(atomic_uint_least64_t *) leaves[(size_t)1 << (47 - CHUNK_SHIFT - LEAF_SHIFT)];
static atomic_size_t live_chunks;

static atomic_uint_least64_t *leaf_of(uintptr_t window, bool make)
{
	size_t top = (size_t)(window >> LEAF_SHIFT);
	atomic_uint_least64_t *leaf, *expected = NULL;

	if (top >= sizeof(leaves) / sizeof(leaves[0]))
		die("address outside the 47-bit user space");
	leaf = atomic_load_explicit(&leaves[top], memory_order_acquire);
	if (leaf != NULL || !make)
		return leaf;
	leaf = calloc(LEAF_BITS / 64, sizeof(*leaf));
	if (leaf == NULL)
		die("out of memory");
	if (!atomic_compare_exchange_strong(&leaves[top], &expected, leaf)) {
		free(leaf);
		leaf = expected;
	}
	return leaf;
}

static void window_mark(uintptr_t base, bool live)
{
	uintptr_t w = base >> CHUNK_SHIFT;
	atomic_uint_least64_t *leaf = leaf_of(w, true);
	uint_least64_t bit = (uint_least64_t)1 << (w & 63);
	size_t word = (size_t)(w & (LEAF_BITS - 1)) / 64;

	if (live) {
		atomic_fetch_or(&leaf[word], bit);
		atomic_fetch_add_explicit(&live_chunks, 1, memory_order_relaxed);
	} else {
		atomic_fetch_and(&leaf[word], ~bit);
		atomic_fetch_sub_explicit(&live_chunks, 1, memory_order_relaxed);
	}
}

static bool window_live(uintptr_t base)
{
	uintptr_t w = base >> CHUNK_SHIFT;
	atomic_uint_least64_t *leaf;

	if (atomic_load_explicit(&live_chunks, memory_order_relaxed) == 0)
		return false;
	leaf = leaf_of(w, false);
	return leaf != NULL &&
	       ((atomic_load(&leaf[(size_t)(w & (LEAF_BITS - 1)) / 64]) >> (w & 63)) & 1) != 0;
}

static struct chunk *chunk_new(struct arena *a)
{
	struct chunk *c = aligned_alloc(CHUNK, CHUNK);

	if (c == NULL)
		die("out of memory");
	c->owner = a;
	c->next = NULL;
#ifdef JARENA_ASAN
	ASAN_POISON_MEMORY_REGION((unsigned char *)c + ROUND(sizeof(*c)),
				  CHUNK - ROUND(sizeof(*c)));
#endif
	window_mark((uintptr_t)c, true);
	stats.chunks++;
	return c;
}

static void arena_add_chunk(struct arena *a, struct chunk *c)
{
	c->owner = a;
	c->next = a->chunks;
	a->chunks = c;
	a->cur = (unsigned char *)c;
	a->used = ROUND(sizeof(*c));
}

static void arena_release(struct arena *a)
{
	struct chunk *c = a->chunks, *next;

	/* The arena lives in its first chunk, the list's last. */
	for (; c != NULL; c = next) {
		next = c->next;
		window_mark((uintptr_t)c, false);
#ifdef JARENA_ASAN
		ASAN_UNPOISON_MEMORY_REGION(c, CHUNK);
#endif
		free(c);
	}
}

/* The block at p + HDR is live (ASan: its header says so, its n bytes are usable). */
static void block_born(unsigned char *p, size_t n)
{
#ifdef JARENA_ASAN
	struct blkhdr *h = (struct blkhdr *)(void *)p;

	ASAN_UNPOISON_MEMORY_REGION(h, HDR);
	h->n = n;
	h->state = LIVE;
	ASAN_POISON_MEMORY_REGION(h, HDR);
	ASAN_UNPOISON_MEMORY_REGION(p + HDR, n);
#else
	(void)p;
	(void)n;
#endif
}

static void *arena_alloc(struct arena *a, size_t n)
{
	size_t need = ROUND(n) + HDR;
	unsigned char *p;

	if (a->used + need > CHUNK)
		arena_add_chunk(a, chunk_new(a));
	p = a->cur + a->used;
	a->used += need;
	block_born(p, n);
	a->own++;
	stats.blocks++;
	return p + HDR;
}

/* The block is dead: poison it (ASan), after checking it was live. */
static void block_free(void *p)
{
#ifdef JARENA_ASAN
	struct blkhdr *h = (struct blkhdr *)(void *)((unsigned char *)p - HDR);

	ASAN_UNPOISON_MEMORY_REGION(h, HDR);
	if (h->state != LIVE)
		die("double free of an arena block");
	h->state = DEAD;
	ASAN_POISON_MEMORY_REGION(h, HDR + h->n);
#else
	(void)p;
#endif
}

static void *jmalloc(size_t n)
{
	struct arena *a = cur_arena;

	if (a == NULL || n > BIG)
		return malloc(n);
	return arena_alloc(a, n);
}

static void jfree(void *p)
{
	uintptr_t base = (uintptr_t)p & ~(uintptr_t)(CHUNK - 1);
	struct arena *a;

	if (p == NULL)
		return;
	if (!window_live(base)) {
		free(p);
		return;
	}
	/* p is live, so its chunk and arena are. */
	a = ((struct chunk *)base)->owner;
	block_free(p);
	if (a == cur_arena) { /* the open scope's own */
		a->own--;
		return;
	}
	if (atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) == 1)
		arena_release(a);
}

static void install(void)
{
	json_set_alloc_funcs(jmalloc, jfree);
}

void spok_jarena_begin(void)
{
	struct first *f;
	struct arena *a;

	pthread_once(&installed, install);
	if (depth++ > 0)
		return;
	f = (struct first *)chunk_new(NULL);
	a = &f->a;
#ifdef JARENA_ASAN
	ASAN_UNPOISON_MEMORY_REGION(a, sizeof(*a));
#endif
	atomic_init(&a->refs, OPEN_BIAS);
	a->own = 0;
	a->chunks = NULL;
	arena_add_chunk(a, &f->c);
	a->used = ROUND(sizeof(*f));
	cur_arena = a;
}

void spok_jarena_end(void)
{
	struct arena *a = cur_arena;
	size_t delta;

	if (depth == 0)
		die("spok_jarena_end without spok_jarena_begin");
	if (--depth > 0)
		return;
	cur_arena = NULL;
	/* refs becomes the live count: OPEN_BIAS goes, the scope thread's own count comes in. */
	delta = a->own - OPEN_BIAS;
	if (atomic_fetch_add_explicit(&a->refs, delta, memory_order_acq_rel) + delta == 0)
		arena_release(a);
}

void spok_jarena_stats(struct spok_jarena_stats *out)
{
	*out = stats;
}
