/* test_termesc.c - terminal escaping (common/termesc.h): control sequences from a job come out
 * as visible text, valid UTF-8 passes unchanged, and a stream split anywhere escapes exactly
 * like the whole text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/termesc.h"

static void expect_line(const char *in, const char *want)
{
	char *got = spok_term_line(in);
	assert_string_equal(got, want);
	free(got);
}

static void test_line(void **state)
{
	(void)state;
	expect_line("plain text: ok (1/2) é € 😀", "plain text: ok (1/2) é € 😀");
	expect_line("\x1b[2J\x1b]0;owned\x07", "\\x1b[2J\\x1b]0;owned\\x07");
	expect_line("a\nb\tc\rd", "a\\nb\\tc\\rd");
	expect_line("del\x7f", "del\\x7f");
	expect_line("c1 \xc2\x9b" "31m", "c1 \\u009b31m");    /* CSI as UTF-8 */
	expect_line("raw \x9b" "31m", "raw \\x9b31m");        /* CSI as a raw byte */
	expect_line("bidi \xe2\x80\xae!", "bidi \\u202e!");
	expect_line("cut \xe2\x82", "cut \\xe2\\x82");        /* truncated character */
	expect_line("", "");
	assert_null(spok_term_line(NULL));
	assert_true(spok_term_clean("ValueError: boom é"));
	assert_false(spok_term_clean("x\x1b[2J"));
	assert_false(spok_term_clean("x\n"));
	assert_false(spok_term_clean("\xc2\x85"));
}

static void test_text_keeps_lines(void **state)
{
	struct spok_buf b;
	(void)state;
	spok_buf_init(&b, 0);
	assert_int_equal(spok_term_escape(&b, "l1\n\tl2\x1b[0m\r\n", strlen("l1\n\tl2\x1b[0m\r\n"), SPOK_TERM_TEXT), 0);
	assert_string_equal(b.data, "l1\n\tl2\\x1b[0m\\r\n");
	spok_buf_free(&b);
}

/* Every split point of a text with multi-byte, invalid and control bytes. */
static void test_stream_splits(void **state)
{
	const char text[] = "a\xe2\x82\xac" "b\xf0\x9f\x98\x80" "c\xc2\x9b" "d\xe2\x82" "e\x1b[1m\xf0\x9f" "\n";
	size_t n = sizeof(text) - 1;
	struct spok_buf whole;
	(void)state;
	spok_buf_init(&whole, 0);
	spok_term_escape(&whole, text, n, SPOK_TERM_TEXT);
	for (size_t i = 0; i <= n; i++) {
		for (size_t j = i; j <= n; j++) {
			struct spok_term_stream st = {.flags = SPOK_TERM_TEXT};
			struct spok_buf b;
			spok_buf_init(&b, 0);
			assert_int_equal(spok_term_stream_feed(&st, text, i, &b), 0);
			assert_int_equal(spok_term_stream_feed(&st, text + i, j - i, &b), 0);
			assert_int_equal(spok_term_stream_feed(&st, text + j, n - j, &b), 0);
			assert_int_equal(spok_term_stream_end(&st, &b), 0);
			assert_string_equal(b.data, whole.data);
			spok_buf_free(&b);
		}
	}
	/* One byte at a time. */
	struct spok_term_stream st = {.flags = SPOK_TERM_TEXT};
	struct spok_buf b;
	spok_buf_init(&b, 0);
	for (size_t i = 0; i < n; i++)
		spok_term_stream_feed(&st, text + i, 1, &b);
	spok_term_stream_end(&st, &b);
	assert_string_equal(b.data, whole.data);
	spok_buf_free(&b);
	spok_buf_free(&whole);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line),
		cmocka_unit_test(test_text_keeps_lines),
		cmocka_unit_test(test_stream_splits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
