/* The CLI's view of an execution (src/cli/view.c): every stored field, snake_case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli.h"
#include "common/xalloc.h"

/* Text from outside (driver logs, error.pb) need not be UTF-8: jansson refuses such strings,
 * and the key must not vanish from `spok status -o json` because of it. */
static void test_invalid_utf8(void **state)
{
	struct spok_execution e = {0};
	json_t *j;

	(void)state;
	e.id = xstrdup("sp-utf8utf8ut");
	e.task_name = xstrdup("pi");
	e.reason = xstrdup("ValueError: caf\xC3"); /* cut inside a character */
	e.error_message = xstrdup("\xFF\xFE" "boom");
	e.links_json = xstrdup("not json \xE2\x82");
	j = cli_execution_json(&e);
	assert_string_equal(json_string_value(json_object_get(j, "reason")), "ValueError: caf\xEF\xBF\xBD");
	assert_string_equal(json_string_value(json_object_get(j, "error_message")), "\xEF\xBF\xBD\xEF\xBF\xBD" "boom");
	assert_non_null(json_string_value(json_object_get(j, "links")));
	assert_string_equal(json_string_value(json_object_get(j, "task_name")), "pi");
	json_decref(j);
	spok_execution_free(&e);
}

static void test_fields(void **state)
{
	struct spok_execution e = {0};
	json_t *j;

	(void)state;
	e.id = xstrdup("sp-aaaaaaaaaa");
	e.outputs_json = xstrdup("{\"o0\": 3.14}");
	e.pid = 42;
	e.run_dir = xstrdup("/data/runs/sp-aaaaaaaaaa");
	e.started_ms = 5;
	j = cli_execution_json(&e);
	assert_true(json_is_real(json_object_get(json_object_get(j, "outputs"), "o0")));
	assert_true(json_is_null(json_object_get(j, "finished_ms")));
	assert_int_equal(json_integer_value(json_object_get(j, "started_ms")), 5);
	assert_int_equal(json_integer_value(json_object_get(j, "pid")), 42); /* the host's view */
	assert_string_equal(json_string_value(json_object_get(j, "run_dir")), e.run_dir);
	assert_true(json_is_null(json_object_get(j, "exit_code")));
	json_decref(j);
	spok_execution_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
