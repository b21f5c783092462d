/* test_strmap.c - the ordered map: order kept through set/replace/delete/sort at 100k keys,
 * which the old linear map took minutes for (issue 8). No timing assertion: a quadratic
 * map would simply not finish within the test's ctest timeout. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strmap.h"

#define N 100000

static void key_of(char *buf, size_t n, size_t i)
{
	snprintf(buf, n, "label.example.com/key-%zu", i);
}

static void test_small(void **state)
{
	struct spok_strmap m = {0}, c = {0};

	(void)state;
	assert_null(spok_strmap_get(&m, "a"));
	assert_false(spok_strmap_del(&m, "a"));
	spok_strmap_set(&m, "b", "1");
	spok_strmap_set(&m, "a", "2");
	spok_strmap_set(&m, "b", "3"); /* replaced in place */
	spok_strmap_set(&m, "c", NULL);
	assert_int_equal(m.len, 3);
	assert_string_equal(m.items[0].key, "b");
	assert_string_equal(m.items[0].value, "3");
	assert_string_equal(m.items[1].key, "a");
	assert_string_equal(spok_strmap_get(&m, "c"), "");
	assert_true(spok_strmap_del(&m, "b"));
	assert_string_equal(m.items[0].key, "a");
	assert_false(spok_strmap_has(&m, "b"));
	spok_strmap_copy(&c, &m);
	spok_strmap_sort(&c);
	assert_string_equal(c.items[0].key, "a");
	assert_string_equal(c.items[1].key, "c");
	spok_strmap_free(&c);
	spok_strmap_free(&m);
	assert_int_equal(m.len, 0);
	spok_strmap_set(&m, "x", "y"); /* reusable after free */
	assert_string_equal(spok_strmap_get(&m, "x"), "y");
	spok_strmap_free(&m);
}

static void test_100k(void **state)
{
	struct spok_strmap m = {0}, moved;
	char k[64], v[64];
	size_t i, left;

	(void)state;
	for (i = 0; i < N; i++) {
		key_of(k, sizeof(k), i);
		snprintf(v, sizeof(v), "%zu", i);
		spok_strmap_set(&m, k, v);
	}
	assert_int_equal(m.len, N);
	/* replacing keeps the position */
	for (i = 0; i < N; i += 7) {
		key_of(k, sizeof(k), i);
		snprintf(v, sizeof(v), "r%zu", i);
		spok_strmap_set(&m, k, v);
	}
	assert_int_equal(m.len, N);
	/* a map moves by value (the index holds positions) */
	moved = m;
	memset(&m, 0, sizeof(m));
	for (i = 0; i < N; i++) {
		key_of(k, sizeof(k), i);
		snprintf(v, sizeof(v), i % 7 ? "%zu" : "r%zu", i);
		assert_string_equal(moved.items[i].key, k);
		assert_string_equal(spok_strmap_get(&moved, k), v);
	}
	assert_null(spok_strmap_get(&moved, "label.example.com/key-100000"));
	/* delete from the back (each O(1)), then a handful from the front and middle */
	for (i = N; i-- > N / 2;) {
		key_of(k, sizeof(k), i);
		assert_true(spok_strmap_del(&moved, k));
	}
	for (i = 0; i < 100; i++) {
		key_of(k, sizeof(k), i * 3);
		assert_true(spok_strmap_del(&moved, k));
		assert_false(spok_strmap_del(&moved, k));
	}
	assert_int_equal(moved.len, N / 2 - 100);
	/* what is left is in insertion order, each key still found where it is */
	left = 0;
	for (i = 0; i < N / 2; i++) {
		if (i < 300 && i % 3 == 0)
			continue;
		key_of(k, sizeof(k), i);
		assert_string_equal(moved.items[left].key, k);
		assert_ptr_equal(spok_strmap_get(&moved, k), moved.items[left].value);
		left++;
	}
	assert_int_equal(left, moved.len);
	for (i = N / 2; i < N; i++) {
		key_of(k, sizeof(k), i);
		assert_false(spok_strmap_has(&moved, k));
	}
	/* sorting rebuilds the index */
	spok_strmap_sort(&moved);
	for (i = 1; i < moved.len; i++)
		assert_true(strcmp(moved.items[i - 1].key, moved.items[i].key) < 0);
	for (i = 0; i < moved.len; i += 97)
		assert_ptr_equal(spok_strmap_get(&moved, moved.items[i].key), moved.items[i].value);
	/* re-adding a deleted key appends it */
	key_of(k, sizeof(k), 0);
	spok_strmap_set(&moved, k, "again");
	assert_string_equal(moved.items[moved.len - 1].key, k);
	spok_strmap_free(&moved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small),
		cmocka_unit_test(test_100k),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
