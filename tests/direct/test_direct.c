/* test_direct.c - the parts of the direct builder a golden case shows poorly: Service names at
 * the 63-byte edge, Spark's byte strings, Java properties escaping, app ids, owner refs, and
 * one-line errors for SparkApplications the builder cannot turn into a driver. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "direct/direct.h"
#include "direct/internal.h"

static void service_names(void **state)
{
	char name[80], *s;

	(void)state;
	s = spok_direct_service_name("abc-n0-0");
	assert_string_equal(s, "abc-n0-0-driver-svc");
	free(s);
	s = spok_direct_service_name("a.b_C");  /* DNS-1035: '.' and '_' become '-' */
	assert_string_equal(s, "a-b-c-driver-svc");
	free(s);
	s = spok_direct_service_name("9lives"); /* a letter first */
	assert_string_equal(s, "spark-9lives-driver-svc");
	free(s);
	memset(name, 'x', 52);
	name[52] = '\0'; /* 52 + 11 = 63: kept */
	s = spok_direct_service_name(name);
	assert_int_equal(strlen(s), 63);
	assert_memory_equal(s, name, 52);
	free(s);
	name[52] = 'y';
	name[53] = '\0'; /* 64: cut to 43, hash, suffix */
	s = spok_direct_service_name(name);
	assert_int_equal(strlen(s), 63);
	assert_memory_equal(s, name, 43);
	assert_string_equal(s + 52, "-driver-svc");
	free(s);
}

static void mib(void **state)
{
	long long n;

	(void)state;
	assert_true(spok__dx_mib("1000M", &n) && n == 1000);
	assert_true(spok__dx_mib("1g", &n) && n == 1024);
	assert_true(spok__dx_mib("2GB", &n) && n == 2048);
	assert_true(spok__dx_mib(" 512 ", &n) && n == 512); /* MiB without a unit */
	assert_true(spok__dx_mib("1000k", &n) && n == 0);   /* whole MiB, floored */
	assert_true(spok__dx_mib("3t", &n) && n == 3145728);
	assert_false(spok__dx_mib("1.5g", &n));
	assert_false(spok__dx_mib("1x", &n));
	assert_false(spok__dx_mib("", &n));
	assert_false(spok__dx_mib("-1g", &n));
	assert_false(spok__dx_mib("99999999999999999999", &n));
	assert_false(spok__dx_mib("4096p", &n));
}

static void properties(void **state)
{
	struct spok_strmap m = {0};
	char *s;

	(void)state;
	spok_strmap_set(&m, "b", " lead=x:y#z!w\\");
	spok_strmap_set(&m, "a key", "tab\there\nnl\001é");
	s = spok__dx_properties(&m, "cm");
	assert_string_equal(s, "#Java properties built from Kubernetes config map with name: cm\n"
			       "a\\ key=tab\\there\\nnl\\u0001é\n"
			       "b=\\ lead\\=x\\:y\\#z\\!w\\\\\n");
	free(s);
	spok_strmap_free(&m);
}

static void app_ids_and_refs(void **state)
{
	char *a = spok_direct_app_id("ns", "app"), *b = spok_direct_app_id("ns", "app");
	char *c = spok_direct_app_id("ns2", "app");
	json_t *refs = spok_direct_owner_refs("app-driver", "uid-1");

	(void)state;
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_int_equal(strlen(a), 38);
	assert_memory_equal(a, "spark-", 6);
	assert_string_equal(json_string_value(json_object_get(json_array_get(refs, 0), "uid")),
			    "uid-1");
	assert_true(json_is_true(json_object_get(json_array_get(refs, 0), "controller")));
	json_decref(refs);
	free(a);
	free(b);
	free(c);
}

static void build_err(const char *js, const char *want)
{
	json_error_t jerr;
	json_t *app = json_loads(js, 0, &jerr);
	struct spok_direct d;
	struct spok_err err = {0};

	assert_non_null(app);
	assert_int_equal(spok_direct_build(app, NULL, &d, &err), SPOK_EINVAL);
	assert_null(d.pod);
	assert_string_equal(err.msg, want);
	json_decref(app);
}

static void bad_apps(void **state)
{
	(void)state;
	build_err("{}", "kind (missing): not a SparkApplication");
	build_err("{\"kind\":\"SparkApplication\",\"metadata\":{\"name\":\"a\"}}",
		  "metadata.namespace: missing");
	build_err("{\"kind\":\"SparkApplication\",\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"},"
		  "\"spec\":{\"type\":\"Go\"}}", "spec.type Go: not Python, Java, Scala or R");
	build_err("{\"kind\":\"SparkApplication\",\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"},"
		  "\"spec\":{\"type\":\"Python\",\"mainApplicationFile\":\"local:///m.py\"}}",
		  "spec.image: missing; Spark needs the driver container image");
	build_err("{\"kind\":\"SparkApplication\",\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"},"
		  "\"spec\":{\"type\":\"Python\",\"image\":\"i\",\"mainApplicationFile\":\"local:///m.py\","
		  "\"sparkConf\":{\"spark.driver.host\":\"h\"}}}",
		  "sparkConf spark.driver.host: not supported on Kubernetes (the driver's Service "
		  "names the host)");
	build_err("{\"kind\":\"SparkApplication\",\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"},"
		  "\"spec\":{\"type\":\"Python\",\"image\":\"i\",\"mainApplicationFile\":\"local:///m.py\","
		  "\"sparkConf\":{\"spark.ui.port\":\"0\"}}}",
		  "sparkConf spark.ui.port 0: not a port (1-65535) a Service can expose");
	build_err("{\"kind\":\"SparkApplication\",\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"},"
		  "\"spec\":{\"type\":\"Python\",\"image\":\"i\",\"mainApplicationFile\":\"local:///m.py\","
		  "\"deps\":{\"pyFiles\":[\"s3a://b/x.zip\",\"file:///tmp/y.zip\"]}}}",
		  "spark.submit.pyFiles file:///tmp/y.zip: direct submission does not upload local "
		  "files; name a local:// path in the image or a remote URI (spok run --cluster ships "
		  "local files as local://)");
	build_err("{\"kind\":\"SparkApplication\",\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"},"
		  "\"spec\":{\"type\":\"Python\",\"image\":\"i\",\"mainApplicationFile\":\"local:///m.py\","
		  "\"sparkConf\":{\"spark.driver.resource.gpu.amount\":\"1\"}}}",
		  "sparkConf spark.driver.resource.gpu.vendor: missing; Kubernetes needs a vendor for "
		  "resource gpu (e.g. nvidia.com)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(service_names), cmocka_unit_test(mib), cmocka_unit_test(properties),
		cmocka_unit_test(app_ids_and_refs), cmocka_unit_test(bad_apps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
