/* Tests of common/flytetpl: Flyte's placeholder patterns, matched without a regex engine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/flytetpl.h"

static void test_match(void **state)
{
	(void)state;
	assert_int_equal(spok_flytetpl_match("{{.Input}}", "Input", false), 10);
	assert_int_equal(spok_flytetpl_match("{{ $input \t}}x", "Input", false), 13);
	assert_int_equal(spok_flytetpl_match("{{ Input }}", "Input", false), 0);   /* [.$] needed */
	assert_int_equal(spok_flytetpl_match("{ {.Input}}", "Input", false), 0);
	assert_int_equal(spok_flytetpl_match("{{.Input}", "Input", false), 0);
	assert_int_equal(spok_flytetpl_match("{{ .taskConfig.port }}", "port", true), 22);
	assert_int_equal(spok_flytetpl_match("{{ XtaskConfig$port}}", "port", true), 21); /* '.' is any char */
	assert_int_equal(spok_flytetpl_match("{{ taskConfig.port}}", "port", true), 20);  /* the blank is it */
	assert_int_equal(spok_flytetpl_match("{{\ntaskConfig.port}}", "port", true), 0);  /* not a newline */
	assert_int_equal(spok_flytetpl_match("{{.port}}", "port", true), 0);
}

static void test_replace(void **state)
{
	char *r;

	(void)state;
	r = spok_flytetpl_replace("a {{.x}} b {{ .X }} {{.y}}", "x", false, "{{.x}}", 0);
	assert_string_equal(r, "a {{.x}} b {{.x}} {{.y}}"); /* literal value, no rescan */
	free(r);
	r = spok_flytetpl_replace("no placeholders", "x", false, "v", 0);
	assert_string_equal(r, "no placeholders");
	free(r);
	assert_null(spok_flytetpl_replace("{{.x}}{{.x}}", "x", false, "12345678", 10));
}

static void test_task_config_keys(void **state)
{
	struct spok_strv keys = {0};

	(void)state;
	spok_flytetpl_task_config_keys("{{ .taskConfig.a }}/{{.taskconfig$Bc}}/{{ .taskConfig.1 }}", &keys);
	assert_int_equal(keys.len, 2);
	assert_string_equal(keys.items[0], "a");
	assert_string_equal(keys.items[1], "Bc");
	spok_strv_free(&keys);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_task_config_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
