/* test_pools.c - spok.pools in the platform config: defaults, every field, and one-line
 * errors naming file:line:col and the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connect/connect.h"
#include "jobfile/jobfile.h"

static int load(const char *yaml, struct spok_pools *out, struct spok_err *err)
{
	struct spok_platform p;
	int r = spok_config_parse(yaml, strlen(yaml), "cfg.yaml", &p, err);

	if (r == 0)
		r = spok_pools_load(&p, out, err);
	spok_platform_free(&p);
	return r;
}

static void test_defaults(void **state)
{
	(void)state;
	struct spok_pools ps;
	struct spok_err err = {0};

	assert_int_equal(load("spok:\n  default-image: x\n", &ps, &err), 0);
	assert_int_equal(ps.n, 0);
	const struct spok_pool *d = spok_pools_find(&ps, NULL);
	assert_non_null(d);
	assert_string_equal(d->name, "default");
	assert_int_equal(d->idle_ms, SPOK_POOL_IDLE_MS);
	assert_int_equal(d->lifetime_ms, SPOK_POOL_LIFETIME_MS);
	assert_null(d->master);
	assert_null(spok_pools_find(&ps, "other"));
	spok_pools_free(&ps);
}

static void test_fields(void **state)
{
	(void)state;
	struct spok_pools ps;
	struct spok_err err = {0};
	const char *yaml =
		"spok:\n"
		"  pools:\n"
		"    - name: small\n"
		"      master: local[2]\n"
		"      idle-timeout: 90s\n"
		"      max-lifetime: 2h\n"
		"      min-executors: 0\n"
		"      max-executors: 4\n"
		"      spark-conf:\n"
		"        spark.driver.memory: 2g\n"
		"    - name: default\n"
		"      idle-timeout: 1m\n";

	assert_int_equal(load(yaml, &ps, &err), 0);
	assert_int_equal(ps.n, 2);
	const struct spok_pool *s = spok_pools_find(&ps, "small");
	assert_non_null(s);
	assert_string_equal(s->master, "local[2]");
	assert_int_equal(s->idle_ms, 90000);
	assert_int_equal(s->lifetime_ms, 7200000);
	assert_int_equal(s->min_executors, 0);
	assert_int_equal(s->max_executors, 4);
	assert_string_equal(spok_strmap_get(&s->conf, "spark.driver.memory"), "2g");
	/* a declared "default" replaces the built-in one */
	assert_int_equal(spok_pools_find(&ps, NULL)->idle_ms, 60000);
	spok_pools_free(&ps);
}

static void expect_error(const char *yaml, const char *where, const char *what)
{
	struct spok_pools ps;
	struct spok_err err = {0};

	assert_int_equal(load(yaml, &ps, &err), SPOK_EINVAL);
	if (!strstr(err.msg, where) || !strstr(err.msg, what))
		fail_msg("error '%s' lacks '%s' or '%s'", err.msg, where, what);
	assert_null(strchr(err.msg, '\n'));
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("spok:\n  pools:\n    - name: a\n      idle: 3s\n",
		     "cfg.yaml:4:13: spok.pools[0].idle", "unknown key");
	expect_error("spok:\n  pools:\n    - name: a\n      idle-timeout: soon\n",
		     "cfg.yaml:4:21: spok.pools[0].idle-timeout", "duration");
	expect_error("spok:\n  pools:\n    - master: local[1]\n",
		     "cfg.yaml:3:7: spok.pools[0].name", "missing");
	expect_error("spok:\n  pools:\n    - name: Big Pool\n",
		     "spok.pools[0].name", "lowercase");
	expect_error("spok:\n  pools:\n    - name: a\n    - name: a\n",
		     "cfg.yaml:4:13: spok.pools[1].name", "declared above");
	expect_error("spok:\n  pools:\n    - name: a\n      master: yarn\n",
		     "spok.pools[0].master", "local[N]");
	/* local[0] runs no task: refused with the place (a regression: it was accepted) */
	expect_error("spok:\n  pools:\n    - name: a\n      master: local[0]\n",
		     "cfg.yaml:4:15: spok.pools[0].master", "N >= 1");
	expect_error("spok:\n  pools:\n    - name: a\n      master: local[]\n",
		     "spok.pools[0].master", "local[N]");
	expect_error("spok:\n  pools:\n    - name: a\n      spark-conf:\n        spark.ui.port: \"4040\"\n",
		     "spok.pools[0].spark-conf.spark.ui.port", "spok sets this key");
	expect_error("spok:\n  pools:\n    - name: a\n      min-executors: 3\n      max-executors: 1\n",
		     "spok.pools[0].min-executors", "greater than max-executors");
	expect_error("spok:\n  pools: {name: a}\n", "cfg.yaml", "spok.pools");
	struct spok_pools ps;
	struct spok_err err = {0};
	assert_int_equal(load("spok:\n  pools:\n    - name: a\n      master: local[*]\n", &ps, &err), 0);
	spok_pools_free(&ps);
	assert_int_equal(load("spok:\n  pools:\n    - name: a\n      master: local[12]\n", &ps, &err), 0);
	spok_pools_free(&ps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
