/* Tests of common/base64: the encoder, and the decoder under each strictness flag. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/base64.h"

static void check_ok(const char *in, unsigned flags, const char *want)
{
	unsigned char *out = NULL;
	size_t len = 0;

	assert_true(spok_base64_decode(in, flags, &out, &len));
	assert_int_equal(len, strlen(want));
	assert_memory_equal(out, want, len);
	assert_int_equal(out[len], '\0');
	free(out);
}

static void check_bad(const char *in, unsigned flags)
{
	unsigned char *out = (unsigned char *)"x";
	size_t len = 1;

	assert_false(spok_base64_decode(in, flags, &out, &len));
	assert_null(out);
	assert_int_equal(len, 0);
}

static void test_encode(void **state)
{
	static const char *const cases[][2] = {
		{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="},
		{"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *e = spok_base64_encode((const unsigned char *)cases[i][0], strlen(cases[i][0]));
		assert_string_equal(e, cases[i][1]);
		check_ok(e, 0, cases[i][0]);
		free(e);
	}
}

static void test_strict(void **state)
{
	(void)state;
	check_ok("Zm9vYg", 0, "foob");       /* padding optional */
	check_ok("Zm9vYg==", 0, "foob");
	check_bad("Zm9v\nYmFy", 0);          /* line breaks only with SPOK_BASE64_LINES */
	check_bad("Zm9vY", 0);               /* a dangling sextet */
	check_bad("Zm=9v", 0);               /* data after padding */
	check_bad("_-8", 0);                 /* URL-safe only with SPOK_BASE64_URL */
	check_bad("Zm9v YmFy", SPOK_BASE64_LINES | SPOK_BASE64_URL | SPOK_BASE64_LOOSE_TAIL);
}

static void test_lines(void **state)
{
	(void)state;
	check_ok("Zm9v\r\nYmFy\n", SPOK_BASE64_LINES, "foobar");
	check_ok("Zm8=\n", SPOK_BASE64_LINES, "fo");
	check_bad("Zm8=\nZg", SPOK_BASE64_LINES);
}

static void test_url_loose(void **state)
{
	(void)state;
	check_ok("_-8", SPOK_BASE64_URL, "\xff\xef");
	check_ok("/+8", SPOK_BASE64_URL, "\xff\xef"); /* standard still accepted */
	check_ok("Zm9vY", SPOK_BASE64_LOOSE_TAIL, "foo");
	check_ok("A===", SPOK_BASE64_LOOSE_TAIL, "");
	check_bad("@@@", SPOK_BASE64_URL | SPOK_BASE64_LOOSE_TAIL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_strict),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_url_loose),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
