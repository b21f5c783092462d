/* test_timefmt.c - calendar time and durations (common/timefmt.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/timefmt.h"

static void test_rfc3339(void **state)
{
	int64_t t;
	int32_t ns;
	char buf[32];

	(void)state;
	assert_true(spok_parse_rfc3339("1970-01-01T00:00:00Z", &t));
	assert_int_equal(t, 0);
	assert_true(spok_parse_rfc3339("2024-02-29T12:34:56Z", &t));
	assert_int_equal(t, 1709210096);
	assert_true(spok_parse_rfc3339_ns("2024-02-29T14:34:56.123+02:00", &t, &ns));
	assert_int_equal(t, 1709210096);
	assert_int_equal(ns, 123000000);
	assert_true(spok_parse_rfc3339("0001-01-01T00:00:00Z", &t));
	assert_int_equal(t, INT64_C(-62135596800));
	assert_false(spok_parse_rfc3339("2023-02-29T12:34:56Z", &t)); /* not a leap year */
	assert_false(spok_parse_rfc3339("2024-02-29 12:34:56Z", &t));
	assert_false(spok_parse_rfc3339("2024-02-29T12:34:56", &t));  /* no zone */
	assert_false(spok_parse_rfc3339("2024-02-29T24:00:00Z", &t));
	assert_false(spok_parse_rfc3339("2024-02-29T12:34:56.Z", &t));
	assert_false(spok_parse_rfc3339("", &t));
	spok_format_rfc3339(1709210096, buf, sizeof(buf));
	assert_string_equal(buf, "2024-02-29T12:34:56Z");
	spok_format_rfc3339(-1, buf, sizeof(buf));
	assert_string_equal(buf, "1969-12-31T23:59:59Z");
}

static void test_durations(void **state)
{
	int64_t ns;

	(void)state;
	assert_true(spok_parse_duration_ns("0", &ns));
	assert_int_equal(ns, 0);
	assert_true(spok_parse_duration_ns("1h30m", &ns));
	assert_int_equal(ns, INT64_C(5400000000000));
	assert_true(spok_parse_duration_ns("1.5s", &ns));
	assert_int_equal(ns, INT64_C(1500000000));
	assert_true(spok_parse_duration_ns("250ms", &ns));
	assert_int_equal(ns, INT64_C(250000000));
	assert_true(spok_parse_duration_ns("-2m", &ns));
	assert_int_equal(ns, INT64_C(-120000000000));
	assert_false(spok_parse_duration_ns("", &ns));
	assert_false(spok_parse_duration_ns("10", &ns));          /* unit required */
	assert_false(spok_parse_duration_ns("10 minutes", &ns));
	assert_false(spok_parse_duration_ns("3000000h", &ns));    /* overflows int64 ns */
}

/* spok's own duration inputs (flags, job files, config): whole seconds or unsigned Go. */
static void test_durations_ms(void **state)
{
	(void)state;
	uint64_t ms;
	assert_int_equal(spok_parse_duration_ms("--grace", "10s", &ms, NULL), 0);
	assert_int_equal(ms, 10000);
	assert_int_equal(spok_parse_duration_ms("--grace", "250ms", &ms, NULL), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(spok_parse_duration_ms("--grace", "3", &ms, NULL), 0);
	assert_int_equal(ms, 3000);
	assert_int_equal(spok_parse_duration_ms("--grace", "2m", &ms, NULL), 0);
	assert_int_equal(ms, 120000);
	struct spok_err err = {0};
	assert_int_equal(spok_parse_duration_ms("--grace", "soon", &ms, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "--grace soon"));
	assert_int_equal(spok_parse_duration_ms("--grace", "-1s", &ms, NULL), SPOK_EINVAL);
	assert_int_equal(spok_parse_duration_ms("--grace", "+1s", &ms, NULL), SPOK_EINVAL);
	assert_int_equal(spok_parse_duration_ms("--grace", "", &ms, NULL), SPOK_EINVAL);
	assert_int_equal(spok_parse_duration_ms("--grace", "1.0001s", &ms, NULL), 0);
	assert_int_equal(ms, 1001); /* rounded up: a timeout never ends early */
	assert_int_equal(spok_parse_duration_ms("--grace", "999999999999", &ms, NULL), 0);
	assert_int_equal(ms, UINT64_C(999999999999000));
	assert_int_equal(spok_parse_duration_ms("--grace", "1000000000000", &ms, NULL), SPOK_EINVAL);
	assert_int_equal(spok_parse_duration_ms("--grace", "99999999999999999999h", &ms, NULL), SPOK_EINVAL);
}

/* What `spok session` prints for a pool's durations reads back as the same duration. */
static void test_format_duration(void **state)
{
	(void)state;
	const uint64_t v[] = {8 * 3600000ull, 90 * 60000ull, 30000, 1500, 0};
	const char *want[] = {"8h", "90m", "30s", "1s", "0s"};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *got = spok_format_duration_ms(v[i]);
		uint64_t back = 0;

		assert_string_equal(got, want[i]);
		assert_int_equal(spok_parse_duration_ms("x", got, &back, NULL), 0);
		assert_true(back == v[i] / 1000 * 1000);
		free(got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_durations_ms),
		cmocka_unit_test(test_format_duration),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
