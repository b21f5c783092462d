/* test_jarena.c - trees built in a jansson arena scope behave as ordinary json_t: changed,
 * shared with heap trees, freed inside or after the scope, on this or another thread. Under
 * ASan+LSan (the asan build) a block or chunk used after its free, a double free or a leaked
 * tree fails the run; freed blocks are checked to be poisoned. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/jarena.h"

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifdef TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

static unsigned long long blocks(void)
{
	struct spok_jarena_stats s;

	spok_jarena_stats(&s);
	return s.blocks;
}

/* An object with n members, each a string and a small array. */
static json_t *tree(int n)
{
	json_t *o = json_object();
	char k[32];

	for (int i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "key-%d", i);
		json_object_set_new(o, k, json_pack("{s:s,s:[i,s]}", "v", k, "a", i, "x"));
	}
	return o;
}

static void test_outlives_scope(void **state)
{
	unsigned long long b0 = blocks();
	json_t *t, *heap;
	char *text;

	(void)state;
	spok_jarena_begin();
	t = tree(200);
	spok_jarena_end();
	assert_true(blocks() - b0 > 200); /* it came from the arena */
	/* Changed after the scope: new members come from the heap, old ones are freed. */
	json_object_set_new(t, "late", json_string("heap"));
	json_object_del(t, "key-0");
	for (int i = 0; i < 50; i++) { /* grows the hash table: arena buckets freed */
		char k[32];
		snprintf(k, sizeof(k), "more-%d", i);
		json_object_set_new(t, k, json_true());
	}
	/* A part shared into a heap tree outlives the arena tree it came from. */
	heap = json_object();
	json_object_set(heap, "shared", json_object_get(t, "key-7"));
	json_decref(t);
	text = json_dumps(heap, JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(text, "{\"shared\":{\"a\":[7,\"x\"],\"v\":\"key-7\"}}");
	free(text);
	json_decref(heap);
}

static void test_freed_inside_scope(void **state)
{
	json_t *tmp, *kept;

	(void)state;
	spok_jarena_begin();
	tmp = tree(20);
	kept = json_deep_copy(json_object_get(tmp, "key-3"));
	json_decref(tmp); /* temporaries die inside the scope */
	spok_jarena_end();
	assert_string_equal(json_string_value(json_object_get(kept, "v")), "key-3");
	json_decref(kept);
	/* An empty scope, and one whose every block is gone by its end. */
	spok_jarena_begin();
	spok_jarena_end();
	spok_jarena_begin();
	json_decref(tree(5));
	spok_jarena_end();
}

static void test_nested_and_big(void **state)
{
	size_t big = 64 * 1024;
	char *s = malloc(big + 1);
	json_t *outer, *inner, *str;

	(void)state;
	memset(s, 'a', big);
	s[big] = '\0';
	spok_jarena_begin();
	outer = tree(3);
	spok_jarena_begin(); /* joins the outer scope */
	inner = tree(3);
	spok_jarena_end();
	str = json_string(s); /* larger than a chunk's share: from the heap */
	spok_jarena_end();
	assert_int_equal(json_string_length(str), big);
	json_object_set_new(outer, "inner", inner);
	json_object_set_new(outer, "big", str);
	json_decref(outer);
	free(s);
}

struct freer {
	json_t *t;
};

static void *free_it(void *arg)
{
	json_decref(((struct freer *)arg)->t);
	return NULL;
}

static void free_on_thread(json_t *t)
{
	struct freer f = {t};
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, free_it, &f), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
}

static void test_other_thread(void **state)
{
	json_t *a, *b;

	(void)state;
	spok_jarena_begin();
	a = tree(100);
	b = tree(100);
	free_on_thread(a); /* while the scope is still open */
	spok_jarena_end();
	free_on_thread(b); /* the arena's last blocks: freed over there */
	/* Outside any scope another thread's jansson is plain malloc/free. */
	free_on_thread(tree(10));
}

static void test_poisoned_after_free(void **state)
{
#ifdef TEST_ASAN
	json_t *keep, *dead;
	const char *v;

	(void)state;
	spok_jarena_begin();
	keep = json_string("keeps the arena alive");
	dead = json_string("freed");
	v = json_string_value(dead);
	assert_false(__asan_address_is_poisoned(v));
	json_decref(dead);
	assert_true(__asan_address_is_poisoned(v));
	spok_jarena_end();
	json_decref(keep);
#else
	(void)state;
	skip();
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outlives_scope),
		cmocka_unit_test(test_freed_inside_scope),
		cmocka_unit_test(test_nested_and_big),
		cmocka_unit_test(test_other_thread),
		cmocka_unit_test(test_poisoned_after_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
