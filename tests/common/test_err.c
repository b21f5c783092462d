/* test_err.c - error messages stay one line (common/err.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/buf.h"
#include "common/err.h"

/* Messages quote outside input (file names, spec values, API text): a newline or another
 * control byte in it must not split the one-line error the CLI prints. */
static void test_one_line(void **state)
{
	struct spok_err err = {0};

	(void)state;
	assert_int_equal(spok_err_set(&err, SPOK_EINVAL, "t.yaml: timeout: '%s' is not a duration",
				      "1\n2\r3\t4\0335"),
			 SPOK_EINVAL);
	assert_string_equal(err.msg, "t.yaml: timeout: '1 2 3 4 5' is not a duration");
	assert_int_equal(spok_err_prefix(&err, "load %s", "a\nb"), SPOK_EINVAL);
	assert_string_equal(err.msg, "load a b: t.yaml: timeout: '1 2 3 4 5' is not a duration");
	/* UTF-8 passes through untouched. */
	spok_err_set(&err, SPOK_EINVAL, "%s", "caf\xc3\xa9");
	assert_string_equal(err.msg, "caf\xc3\xa9");
}

/* A directory opens fine and fails on read: that is bad input (exit 2), said plainly. */
static void test_read_directory(void **state)
{
	struct spok_err err = {0};
	struct spok_buf b;

	(void)state;
	spok_buf_init(&b, 1024);
	assert_int_equal(spok_buf_read_file(&b, "/tmp", &err), SPOK_EINVAL);
	assert_string_equal(err.msg, "/tmp: is a directory; pass a file");
	spok_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_line),
		cmocka_unit_test(test_read_directory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
