/* test_utf8.c - UTF-8 boundaries and sanitizing (common/utf8.h): clipped text stays valid and
 * every sanitized string is one jansson accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"

static void test_decode(void **state)
{
	uint32_t cp = 0;

	(void)state;
	assert_int_equal(spok_utf8_decode("A", 1, &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(spok_utf8_decode("\xC3\xA9", 2, &cp), 2); /* é */
	assert_int_equal(cp, 0xE9);
	assert_int_equal(spok_utf8_decode("\xE2\x82\xAC", 3, &cp), 3); /* € */
	assert_int_equal(cp, 0x20AC);
	assert_int_equal(spok_utf8_decode("\xF0\x9F\x98\x80", 4, &cp), 4); /* 😀 */
	assert_int_equal(cp, 0x1F600);
	assert_int_equal(spok_utf8_decode("\xC3\xA9", 1, &cp), 0);          /* truncated */
	assert_int_equal(spok_utf8_decode("\xC0\x80", 2, &cp), 0);          /* overlong NUL */
	assert_int_equal(spok_utf8_decode("\xE0\x80\xAF", 3, &cp), 0);      /* overlong '/' */
	assert_int_equal(spok_utf8_decode("\xED\xA0\x80", 3, &cp), 0);      /* surrogate */
	assert_int_equal(spok_utf8_decode("\xF4\x90\x80\x80", 4, &cp), 0);  /* > U+10FFFF */
	assert_int_equal(spok_utf8_decode("\x80", 1, &cp), 0);
	assert_int_equal(spok_utf8_decode("\xFF", 1, &cp), 0);
	assert_int_equal(spok_utf8_decode("", 0, &cp), 0);
}

static void test_prefix(void **state)
{
	(void)state;
	assert_int_equal(spok_utf8_prefix("abc", 10), 3);
	assert_int_equal(spok_utf8_prefix("abc", 3), 3);
	assert_int_equal(spok_utf8_prefix("abc", 2), 2);
	assert_int_equal(spok_utf8_prefix("abc", 0), 0);
	/* "aé": cutting at 2 would split é (bytes 1-2). */
	assert_int_equal(spok_utf8_prefix("a\xC3\xA9", 2), 1);
	assert_int_equal(spok_utf8_prefix("a\xC3\xA9", 3), 3);
	/* "a😀b": every cut inside the emoji backs up to before it. */
	const char *e = "a\xF0\x9F\x98\x80" "b";
	for (size_t max = 1; max < 5; max++)
		assert_int_equal(spok_utf8_prefix(e, max), 1);
	assert_int_equal(spok_utf8_prefix(e, 5), 5);
	/* Stray continuation bytes are invalid anyway: cut where asked. */
	assert_int_equal(spok_utf8_prefix("\x80\x80\x80\x80\x80\x80", 5), 5);
	/* Cutting a valid string anywhere keeps it valid for jansson. */
	const char *s = "r\xC3\xA9sum\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xE4\xB8\xAD\xE6\x96\x87";
	for (size_t max = 0; max <= strlen(s); max++) {
		size_t n = spok_utf8_prefix(s, max);
		assert_true(n <= max);
		assert_true(spok_utf8_validn(s, n));
		json_t *j = json_stringn(s, n);
		assert_non_null(j);
		json_decref(j);
	}
}

static void check_sanitize(const char *in, const char *want)
{
	char *got = spok_utf8_sanitize(in);
	assert_string_equal(got, want);
	json_t *j = json_string(got);
	assert_non_null(j);
	json_decref(j);
	free(got);
}

static void test_sanitize(void **state)
{
	(void)state;
	assert_null(spok_utf8_sanitize(NULL));
	check_sanitize("", "");
	check_sanitize("plain", "plain");
	check_sanitize("caf\xC3\xA9", "caf\xC3\xA9");
	check_sanitize("cut \xE2\x82", "cut \xEF\xBF\xBD\xEF\xBF\xBD");
	check_sanitize("\xFF" "x\xC0\x80", "\xEF\xBF\xBD" "x\xEF\xBF\xBD\xEF\xBF\xBD");
	check_sanitize("\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
	assert_false(spok_utf8_validn("\xE2\x82", 2));
	assert_true(spok_utf8_validn("a\0b", 3));
}

/* Go's utf8.DecodeRune: a byte that starts no valid sequence is one rune of its own. */
static void test_rune_len(void **state)
{
	(void)state;
	assert_int_equal(spok_utf8_rune_len("", 0), 0);
	assert_int_equal(spok_utf8_rune_len("A", 1), 1);
	assert_int_equal(spok_utf8_rune_len("\xE2\x82\xAC", 3), 3);
	assert_int_equal(spok_utf8_rune_len("\xE2\x82", 2), 1);     /* truncated */
	assert_int_equal(spok_utf8_rune_len("\xE0\x80\xAF", 3), 1); /* overlong */
	assert_int_equal(spok_utf8_rune_len("\xED\xA0\x80", 3), 1); /* surrogate */
	assert_int_equal(spok_utf8_rune_len("\xF4\x90\x80\x80", 4), 1);
	assert_int_equal(spok_utf8_rune_len("\x80", 1), 1);
}

static void test_complete(void **state)
{
	(void)state;
	assert_int_equal(spok_utf8_complete("", 0), 0);
	assert_int_equal(spok_utf8_complete("ab", 2), 2);
	assert_int_equal(spok_utf8_complete("a\xE2\x82\xAC", 4), 4);
	assert_int_equal(spok_utf8_complete("a\xE2\x82", 3), 1);         /* cut inside '€' */
	assert_int_equal(spok_utf8_complete("a\xF0\x9F\x98", 4), 1);     /* cut inside an emoji */
	assert_int_equal(spok_utf8_complete("a\xC3", 2), 1);
	assert_int_equal(spok_utf8_complete("\x80\x80\x80\x80\x80", 5), 5); /* stray: not a cut */
}

/* One JSON string helper for the CLI view, the API view and the builder: bad bytes become
 * U+FFFD instead of the value disappearing; NULL becomes JSON null. */
static void test_json_text(void **state)
{
	json_t *j;

	(void)state;
	j = spok_json_text(NULL);
	assert_true(json_is_null(j));
	json_decref(j);
	j = spok_json_text("ok \xc3\xa9");
	assert_string_equal(json_string_value(j), "ok \xc3\xa9");
	json_decref(j);
	j = spok_json_text("a\xff" "b");
	assert_string_equal(json_string_value(j), "a\xef\xbf\xbd" "b");
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_rune_len),
		cmocka_unit_test(test_complete),
		cmocka_unit_test(test_json_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
