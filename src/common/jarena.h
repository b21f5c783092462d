/* jarena.h - an arena under jansson for building one JSON tree with few heap allocations.
 *
 * jansson allocates every node, string, hash table and key/value pair on its own (a
 * SparkApplication is ~600 mallocs). Between spok_jarena_begin and spok_jarena_end, the jansson
 * allocations made on the calling thread are carved out of a few 32 KiB chunks instead.
 *
 * Ownership does not change: a tree built in a scope is an ordinary json_t. The caller owns it
 * as jansson says, may change it, share parts of it with other trees and json_decref it at any
 * time, on any thread, before or after spok_jarena_end. The arena counts its live blocks and
 * frees its chunks once the scope has ended and the last block in it has been freed, so no
 * tree can outlive the memory it lives in. A block freed early is not reused: build trees
 * whose temporaries are small beside the result.
 *
 * Process-wide effect: the first spok_jarena_begin installs jansson's allocation functions
 * (json_set_alloc_funcs) for good. Outside a scope they are malloc and free, and a block that
 * is not in a live arena goes to free(), so trees built before, outside or after any scope are
 * unaffected. Nothing else in the process may call json_set_alloc_funcs. Inside a scope, the
 * string json_dumps returns comes from the arena: the scope must not json_dumps (free() would
 * be handed an arena block); spok's builders do not.
 *
 * Scopes nest (an inner begin joins the outer scope) and belong to one thread: begin and end
 * on the same thread. Under AddressSanitizer each block is poisoned when freed, fenced by
 * poisoned headers, and a double free aborts.
 */
#ifndef SPOK_COMMON_JARENA_H
#define SPOK_COMMON_JARENA_H

void spok_jarena_begin(void);
void spok_jarena_end(void);

/* This thread's counts since it started (for bench_render): blocks handed out from an arena,
 * chunks allocated for arenas. */
struct spok_jarena_stats {
	unsigned long long blocks;
	unsigned long long chunks;
};
void spok_jarena_stats(struct spok_jarena_stats *out);

#endif
