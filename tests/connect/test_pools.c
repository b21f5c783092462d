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

/* spok.pools[].kubernetes: namespace (required), context, image (else spok.default-image),
 * service-account; errors name file:line:col and the field. */
static void test_kubernetes(void **state)
{
	(void)state;
	struct spok_pools ps;
	struct spok_err err = {0};
	const char *yaml =
		"spok:\n"
		"  default-image: spok.local/spark:4.0.5\n"
		"  pools:\n"
		"    - name: kp\n"
		"      kubernetes: {namespace: team-a, context: admin}\n"
		"    - name: kq\n"
		"      kubernetes:\n"
		"        namespace: team-b\n"
		"        image: registry.example.com/spark:4.0.5\n"
		"        service-account: connect\n"
		"    - name: local\n";

	assert_int_equal(load(yaml, &ps, &err), 0);
	const struct spok_pool *p = spok_pools_find(&ps, "kp");
	assert_string_equal(p->kube.namespace_, "team-a");
	assert_string_equal(p->kube.context, "admin");
	assert_string_equal(p->kube.image, "spok.local/spark:4.0.5");
	assert_null(p->kube.service_account);
	p = spok_pools_find(&ps, "kq");
	assert_string_equal(p->kube.image, "registry.example.com/spark:4.0.5");
	assert_string_equal(p->kube.service_account, "connect");
	assert_null(p->kube.context);
	assert_null(spok_pools_find(&ps, "local")->kube.namespace_);
	spok_pools_free(&ps);

	expect_error("spok:\n  default-image: x\n  pools:\n    - name: a\n      kubernetes: {context: admin}\n",
		     "cfg.yaml:5:19: spok.pools[0].kubernetes.namespace", "missing");
	expect_error("spok:\n  pools:\n    - name: a\n      kubernetes: {namespace: ns}\n",
		     "spok.pools[0].kubernetes.image", "spok.default-image is not set");
	expect_error("spok:\n  default-image: x\n  pools:\n    - name: a\n      kubernetes:\n        namespace: Team_A\n",
		     "cfg.yaml:6:20: spok.pools[0].kubernetes.namespace", "DNS label");
	expect_error("spok:\n  default-image: x\n  pools:\n    - name: a\n      kubernetes: {namespace: ns, cluster: c}\n",
		     "spok.pools[0].kubernetes.cluster", "unknown key");
	expect_error("spok:\n  default-image: x\n  pools:\n    - name: a\n      master: local[2]\n      kubernetes: {namespace: ns}\n",
		     "spok.pools[0].master", "remove master");
	expect_error("spok:\n  default-image: x\n  pools:\n    - name: a\n      kubernetes: ns\n",
		     "spok.pools[0].kubernetes", "expected a mapping");

	assert_null(spok_connect_kube_name_problem("kp-1"));
	assert_non_null(spok_connect_kube_name_problem("kp_1"));
	assert_non_null(spok_connect_kube_name_problem("kp-"));
	assert_non_null(spok_connect_kube_name_problem("a23456789012345678901234567890123456789012"));
}

/* spok.warm-rules: the first rule a task matches (name glob, every label) names its pool;
 * errors name file:line:col and the field. */
static int load_rules(const char *yaml, struct spok_warm_rules *out, struct spok_err *err)
{
	struct spok_platform p;
	struct spok_pools ps = {0};
	int r = spok_config_parse(yaml, strlen(yaml), "cfg.yaml", &p, err);

	if (r == 0)
		r = spok_pools_load(&p, &ps, err);
	if (r == 0)
		r = spok_warm_rules_load(&p, &ps, out, err);
	spok_pools_free(&ps);
	spok_platform_free(&p);
	return r;
}

static void test_warm_rules(void **state)
{
	(void)state;
	struct spok_warm_rules rs;
	struct spok_err err = {0};
	struct spok_task t;
	size_t at = 99;
	const char *yaml =
		"spok:\n"
		"  pools:\n"
		"    - name: small\n"
		"  warm-rules:\n"
		"    - name: 'etl-*'\n"
		"      labels: {tier: short}\n"
		"      pool: small\n"
		"    - labels: {warm: 'yes'}\n";

	assert_int_equal(load_rules(yaml, &rs, &err), 0);
	assert_int_equal(rs.n, 2);
	spok_task_init(&t);
	t.name = strdup("etl-daily");
	assert_null(spok_warm_rules_match(&rs, &t, &at)); /* the label is missing */
	spok_strmap_set(&t.labels, "tier", "short");
	const struct spok_warm_rule *r = spok_warm_rules_match(&rs, &t, &at);
	assert_non_null(r);
	assert_int_equal(at, 0);
	assert_string_equal(r->pool, "small");
	free(t.name);
	t.name = strdup("report");
	assert_null(spok_warm_rules_match(&rs, &t, NULL));
	spok_strmap_set(&t.labels, "warm", "yes");
	r = spok_warm_rules_match(&rs, &t, &at);
	assert_non_null(r);
	assert_int_equal(at, 1);
	assert_string_equal(r->pool, "default");
	spok_task_free(&t);
	spok_warm_rules_free(&rs);

	/* errors: one line with file:line:col and the field */
	assert_int_equal(load_rules("spok:\n  warm-rules:\n    - name: x\n      pool: nosuch\n", &rs, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "cfg.yaml:4:13: spok.warm-rules[0].pool"));
	assert_int_equal(load_rules("spok:\n  warm-rules:\n    - pool: default\n", &rs, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "cfg.yaml:3:7: spok.warm-rules[0]: a rule needs name or labels"));
	assert_int_equal(load_rules("spok:\n  warm-rules:\n    - name: x\n      duration: 1m\n", &rs, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "spok.warm-rules[0].duration: unknown key"));
	assert_non_null(strstr(err.msg, "spok.warm-rules"));
	assert_int_equal(load_rules("spok:\n  warm-rules:\n    - labels: {n: 3}\n", &rs, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "spok.warm-rules[0].labels.n: expected a string"));
	assert_int_equal(load_rules("spok:\n  warm-rules: {a: b}\n", &rs, &err), SPOK_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_kubernetes),
		cmocka_unit_test(test_warm_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
