/* Tests of spok_config_parse / spok_config_load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobfile/jobfile.h"

static const char full_config[] =
	"plugins:\n"
	"  logs: {cloudwatch-enabled: true}   # another plugin's section: ignored\n"
	"  spark:\n"
	"    spark-config-default:\n"
	"      - spark.hadoop.mapreduce.fileoutputcommitter.algorithm.version: \"2\"\n"
	"      - spark.kubernetes.allocation.batch.size: 50\n"
	"      - spark.blacklist.enabled: true\n"
	"    spark-history-server-url: http://history:18080\n"
	"    enable-pod-template: true\n"
	"    features:\n"
	"      - name: feature1\n"
	"        spark-config:\n"
	"          - spark.hadoop.feature1: \"true\"\n"
	"          - spark.sql.feature1: \"true\"\n"
	"      - name: feature2\n"
	"        spark-config: {spark.hadoop.feature2: \"true\"}\n"
	"    logs:\n"
	"      mixed:\n"
	"        cloudwatch-enabled: true\n"
	"        cloudwatch-region: us-east-1\n"
	"        cloudwatch-log-group: /k8s\n"
	"        templates:\n"
	"          - displayName: Custom\n"
	"            templateUris: [\"https://a/{{ .podName }}\", \"https://b\"]\n"
	"            messageFormat: csv\n"
	"            showWhilePending: true\n"
	"          - displayName: One\n"
	"            templateUri: https://one\n"
	"            messageFormat: 2\n"
	"            hideOnceFinished: true\n"
	"        dynamic-log-links:\n"
	"          - dash:\n"
	"              displayName: Dashboard\n"
	"              templateUris: [\"https://dash/{{ .taskConfig.id }}\"]\n"
	"      user:\n"
	"        kubernetes-enabled: true\n"
	"        kubernetes-url: http://k8s\n"
	"        dynamic-log-links: {a: {displayName: A, templateUris: [u]}}\n"
	"      system: {stackdriver-enabled: true, gcp-project: p, stackdriver-logresourcename: r,\n"
	"               stackdriver-template-uri: s}\n"
	"      all-user: {kubernetes-template-uri: t}\n"
	"  k8s:\n"
	"    default-annotations: {x: y}\n"
	"    default-labels: [{team: data}]\n"
	"    default-env-vars: {A: 1}\n"
	"    default-node-selector: {pool: default}\n"
	"    interruptible-node-selector: {spot: \"true\"}\n"
	"    default-tolerations: [{key: k, operator: Exists, effect: NoSchedule}]\n"
	"    interruptible-tolerations: [{key: spot, operator: Exists}]\n"
	"    resource-tolerations: {nvidia.com/gpu: [{key: gpu, operator: Exists}]}\n"
	"    default-affinity: {nodeAffinity: {}}\n"
	"    interruptible-node-selector-requirement: {key: spot, operator: In, values: [\"true\"]}\n"
	"    non-interruptible-node-selector-requirement: {key: spot, operator: DoesNotExist}\n"
	"    default-pod-security-context: {runAsUser: 1000}\n"
	"    default-security-context: {allowPrivilegeEscalation: false}\n"
	"    default-pod-dns-config: {nameservers: [1.1.1.1]}\n"
	"    scheduler-name: volcano\n"
	"    image-pull-policy: IfNotPresent\n"
	"    enable-host-networking-pod: true\n"
	"    inject-finalizer: true\n"
	"    delete-resource-on-finalize: true\n"
	"    default-cpus: 1000m\n"
	"    co-pilot: {name: x}\n"
	"spok:\n"
	"  default-image: apache/spark:4.0.5\n"
	"  namespace-template: \"{{project}}\"\n"
	"  default-service-account: runner\n"
	"  name-max-len: 63\n";

static void test_full(void **state)
{
	struct spok_err err = {0};
	struct spok_platform p;
	const struct spok_log_config *m;

	(void)state;
	if (spok_config_parse(full_config, strlen(full_config), "flyte.yaml", &p, &err) != SPOK_OK)
		fail_msg("%s", err.msg);
	assert_string_equal(p.source_path, "flyte.yaml");
	assert_int_equal(p.spark.spark_config_default.len, 3);
	assert_string_equal(p.spark.spark_config_default.items[1].key, "spark.kubernetes.allocation.batch.size");
	assert_string_equal(p.spark.spark_config_default.items[1].value, "50");
	assert_string_equal(spok_strmap_get(&p.spark.spark_config_default, "spark.blacklist.enabled"), "true");
	assert_string_equal(p.spark.history_server_url, "http://history:18080");
	assert_int_equal(p.spark.nfeatures, 2);
	assert_string_equal(p.spark.features[0].name, "feature1");
	assert_int_equal(p.spark.features[0].spark_config.len, 2);
	assert_string_equal(spok_strmap_get(&p.spark.features[1].spark_config, "spark.hadoop.feature2"), "true");

	/* logs.mixed given: decoded over the default, which keeps its kubernetes link (Flyte) */
	m = &p.spark.logs_mixed;
	assert_true(m->kubernetes_enabled);
	assert_non_null(strstr(m->kubernetes_template_uri, "localhost:30082"));
	assert_true(m->cloudwatch_enabled);
	assert_string_equal(m->cloudwatch_region, "us-east-1");
	assert_string_equal(m->cloudwatch_log_group, "/k8s");
	assert_int_equal(m->ntemplates, 2);
	assert_string_equal(m->templates[0].display_name, "Custom");
	assert_int_equal(m->templates[0].template_uris.len, 2);
	assert_string_equal(m->templates[0].template_uris.items[0], "https://a/{{ .podName }}");
	assert_int_equal(m->templates[0].message_format, 1);
	assert_true(m->templates[0].show_while_pending);
	assert_false(m->templates[0].hide_once_finished);
	assert_int_equal(m->templates[1].template_uris.len, 1);
	assert_string_equal(m->templates[1].template_uris.items[0], "https://one");
	assert_int_equal(m->templates[1].message_format, 2);
	assert_true(m->templates[1].hide_once_finished);
	assert_int_equal(m->ndynamic_links, 1);
	assert_string_equal(m->dynamic_links[0].name, "dash");
	assert_string_equal(m->dynamic_links[0].display_name, "Dashboard");
	assert_true(p.spark.logs_user.kubernetes_enabled);
	assert_string_equal(p.spark.logs_user.kubernetes_url, "http://k8s");
	assert_string_equal(p.spark.logs_user.dynamic_links[0].name, "a");
	assert_true(p.spark.logs_system.stackdriver_enabled);
	assert_string_equal(p.spark.logs_system.gcp_project, "p");
	assert_string_equal(p.spark.logs_system.stackdriver_logresourcename, "r");
	assert_string_equal(p.spark.logs_system.stackdriver_template_uri, "s");
	assert_string_equal(p.spark.logs_all_user.kubernetes_template_uri, "t");

	/* default-annotations given with entries: replaces the safe-to-evict default (Flyte) */
	assert_int_equal(p.k8s.default_annotations.len, 1);
	assert_string_equal(spok_strmap_get(&p.k8s.default_annotations, "x"), "y");
	assert_string_equal(spok_strmap_get(&p.k8s.default_labels, "team"), "data");
	assert_string_equal(spok_strmap_get(&p.k8s.default_env_vars, "a"), "1");
	assert_string_equal(spok_strmap_get(&p.k8s.default_node_selector, "pool"), "default");
	assert_string_equal(spok_strmap_get(&p.k8s.interruptible_node_selector, "spot"), "true");
	assert_int_equal(json_array_size(p.k8s.default_tolerations), 1);
	assert_int_equal(json_array_size(p.k8s.interruptible_tolerations), 1);
	assert_int_equal(json_array_size(json_object_get(p.k8s.resource_tolerations, "nvidia.com/gpu")), 1);
	assert_true(json_is_object(p.k8s.default_affinity));
	assert_string_equal(json_string_value(json_object_get(p.k8s.interruptible_node_selector_requirement, "operator")), "In");
	assert_string_equal(json_string_value(json_object_get(p.k8s.non_interruptible_node_selector_requirement, "operator")), "DoesNotExist");
	assert_int_equal(json_integer_value(json_object_get(p.k8s.default_pod_security_context, "runAsUser")), 1000);
	assert_true(json_is_false(json_object_get(p.k8s.default_security_context, "allowPrivilegeEscalation")));
	assert_string_equal(json_string_value(json_array_get(json_object_get(p.k8s.default_pod_dns_config, "nameservers"), 0)), "1.1.1.1");
	assert_string_equal(p.k8s.scheduler_name, "volcano");
	assert_string_equal(p.k8s.image_pull_policy, "IfNotPresent");
	assert_true(p.k8s.enable_host_networking_pod);
	assert_true(p.k8s.inject_finalizer);
	assert_true(p.k8s.delete_resource_on_finalize);

	assert_string_equal(p.spok.default_image, "apache/spark:4.0.5");
	assert_string_equal(p.spok.namespace_template, "{{project}}");
	assert_string_equal(p.spok.default_service_account, "runner");
	assert_int_equal(p.spok.name_max_len, 63);
	spok_platform_free(&p);
}

static void test_defaults(void **state)
{
	static const char *const docs[] = {"", "# nothing\n", "plugins: {}\n", "plugins:\n  spark: {}\n  k8s: {}\nspok: {}\n"};
	struct spok_err err = {0};
	struct spok_platform p;

	(void)state;
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		if (spok_config_parse(docs[i], strlen(docs[i]), "c.yaml", &p, &err) != SPOK_OK)
			fail_msg("%s", err.msg);
		assert_true(p.spark.logs_mixed.kubernetes_enabled);
		assert_non_null(strstr(p.spark.logs_mixed.kubernetes_template_uri, "localhost:30082"));
		assert_string_equal(spok_strmap_get(&p.k8s.default_annotations,
						    "cluster-autoscaler.kubernetes.io/safe-to-evict"), "false");
		assert_string_equal(p.spok.namespace_template, "{{project}}-{{domain}}");
		assert_string_equal(p.spok.default_service_account, "spark");
		assert_int_equal(p.spok.name_max_len, 50);
		assert_null(p.spok.default_image);
		spok_platform_free(&p);
	}
	/* a section that only sets other keys keeps the defaults it does not mention */
	{
		const char *y = "plugins:\n  spark:\n    logs:\n      user: {kubernetes-enabled: true}\n";
		assert_int_equal(spok_config_parse(y, strlen(y), "c.yaml", &p, &err), SPOK_OK);
		assert_true(p.spark.logs_mixed.kubernetes_enabled);
		assert_true(p.spark.logs_user.kubernetes_enabled);
		spok_platform_free(&p);
	}
}

static void expect_error(const char *yaml, const char *msg);

/* Parses yaml, which must load, and checks its warnings (NULL-terminated, in order). */
static void expect_warnings(const char *yaml, const char *const *want)
{
	struct spok_err err = {0};
	struct spok_platform p;
	size_t n = 0;

	if (spok_config_parse(yaml, strlen(yaml), "flyte.yaml", &p, &err) != SPOK_OK)
		fail_msg("for:\n%s\n error: %s", yaml, err.msg);
	for (; want[n] != NULL; n++) {
		if (n >= p.warnings.len)
			fail_msg("for:\n%s\n missing warning: %s", yaml, want[n]);
		if (strcmp(p.warnings.items[n], want[n]) != 0)
			fail_msg("for:\n%s\n got: %s\nwant: %s", yaml, p.warnings.items[n], want[n]);
	}
	assert_int_equal(p.warnings.len, n);
	spok_platform_free(&p);
}

/* Flyte's loader is not strict: unknown keys are ignored, with a warning naming the key. */
static void test_unknown_keys(void **state)
{
	(void)state;
	expect_warnings("plugin: {}\n", (const char *const[]){
		"flyte.yaml:1:1: plugin: unknown key; did you mean 'plugins'? (ignored, as Flyte ignores it)",
		NULL});
	/* other sections of a Flyte config pass silently */
	expect_warnings("tasks: {}\npropeller: {workers: 4}\nstorage: {type: s3}\n",
			(const char *const[]){NULL});
	expect_warnings("plugins:\n  spark:\n    spark-config-defaults: {}\n", (const char *const[]){
		"flyte.yaml:3:5: plugins.spark.spark-config-defaults: unknown key; did you mean "
		"'spark-config-default'? (ignored, as Flyte ignores it)", NULL});
	expect_warnings("plugins:\n  k8s:\n    made-up-key: 1\n    default-annotation: {}\n",
			(const char *const[]){
		"flyte.yaml:3:5: plugins.k8s.made-up-key: unknown key; see docs/CONFIG.md for the "
		"valid keys (ignored, as Flyte ignores it)",
		"flyte.yaml:4:5: plugins.k8s.default-annotation: unknown key; did you mean "
		"'default-annotations'? (ignored, as Flyte ignores it)", NULL});
	expect_warnings("plugins:\n  spark:\n    features:\n      - name: f\n"
			"        rollout-percentage: 10\n        spark-config: {a.b: c}\n",
			(const char *const[]){
		"flyte.yaml:5:9: plugins.spark.features[0].rollout-percentage: unknown key; see "
		"docs/CONFIG.md for the valid keys (ignored, as Flyte ignores it)", NULL});
	/* spok's own section stays strict */
	expect_error("spok:\n  default-imag: x\n",
		     "flyte.yaml:2:3: spok.default-imag: unknown key; did you mean 'default-image'?");
	/* wrong types stay errors */
	expect_error("plugins:\n  k8s:\n    default-annotations: [a]\n",
		     "flyte.yaml:3:27: plugins.k8s.default-annotations[0]: expected a single-entry "
		     "mapping (- key: value), got a scalar; fix the list item");
}

/* Flyte's loader (viper) lower-cases undotted keys of a mapping; list form keeps case. */
static void test_key_case(void **state)
{
	static const char *const yaml =
		"plugins:\n"
		"  k8s:\n"
		"    default-env-vars: {AWS_REGION: x, Spark.Dotted: y, lower: z}\n"
		"    default-labels: [{Team: data}]\n"
		"    resource-tolerations: {GPU: [{key: g}]}\n"
		"  spark:\n"
		"    spark-config-default: {spark.Executor.Memory: 1g}\n";
	struct spok_err err = {0};
	struct spok_platform p;

	(void)state;
	expect_warnings(yaml, (const char *const[]){
		"flyte.yaml:3:24: plugins.k8s.default-env-vars.AWS_REGION: Flyte's config loader "
		"lower-cases this key to 'aws_region', and so does spok; write the map as a list "
		"(- KEY: value) to keep its case",
		"flyte.yaml:3:39: plugins.k8s.default-env-vars.Spark.Dotted: Flyte's config loader "
		"adds a lower-cased copy 'spark.dotted' of this key; spok does not "
		"(docs/DIFFERENCES.md); write the map as a list (- KEY: value) to get the same "
		"result from both",
		"flyte.yaml:5:28: plugins.k8s.resource-tolerations.GPU: Flyte's config loader "
		"lower-cases this key to 'gpu', and so does spok; write the map as a list "
		"(- KEY: value) to keep its case",
		"flyte.yaml:7:28: plugins.spark.spark-config-default.spark.Executor.Memory: Flyte's "
		"config loader adds a lower-cased copy 'spark.executor.memory' of this key; spok does "
		"not (docs/DIFFERENCES.md); write the map as a list (- KEY: value) to get the same "
		"result from both", NULL});
	assert_int_equal(spok_config_parse(yaml, strlen(yaml), "flyte.yaml", &p, &err), SPOK_OK);
	assert_string_equal(spok_strmap_get(&p.k8s.default_env_vars, "aws_region"), "x");
	assert_null(spok_strmap_get(&p.k8s.default_env_vars, "AWS_REGION"));
	assert_string_equal(spok_strmap_get(&p.k8s.default_env_vars, "Spark.Dotted"), "y");
	assert_string_equal(spok_strmap_get(&p.k8s.default_env_vars, "lower"), "z");
	assert_string_equal(spok_strmap_get(&p.k8s.default_labels, "Team"), "data");
	assert_non_null(json_object_get(p.k8s.resource_tolerations, "gpu"));
	assert_string_equal(spok_strmap_get(&p.spark.spark_config_default, "spark.Executor.Memory"), "1g");
	spok_platform_free(&p);
}

/* Flyte decodes the file over a copy of its defaults: a map with entries replaces the
 * default, an empty map or null leaves default-annotations' safe-to-evict in place. */
static void test_default_annotations(void **state)
{
	static const char *const docs[] = {
		"plugins:\n  k8s:\n    default-annotations: {}\n",
		"plugins:\n  k8s:\n    default-annotations:\n",
		"plugins:\n  k8s:\n    default-annotations: {x: y}\n",
	};
	struct spok_err err = {0};
	struct spok_platform p;

	(void)state;
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		if (spok_config_parse(docs[i], strlen(docs[i]), "c.yaml", &p, &err) != SPOK_OK)
			fail_msg("%s", err.msg);
		assert_int_equal(p.k8s.default_annotations.len, 1);
		if (i < 2)
			assert_string_equal(spok_strmap_get(&p.k8s.default_annotations,
							    "cluster-autoscaler.kubernetes.io/safe-to-evict"),
					    "false");
		else
			assert_string_equal(spok_strmap_get(&p.k8s.default_annotations, "x"), "y");
		spok_platform_free(&p);
	}
}

/* GPU accelerator settings: Flyte's defaults, overridable; null keeps a default. */
static void test_gpu_settings(void **state)
{
	static const char *const yaml =
		"plugins:\n  k8s:\n    gpu-device-node-label: acc\n    gpu-resource-name:\n"
		"    gpu-unpartitioned-toleration: {key: p, operator: Exists}\n"
		"    add-tolerations-for-extended-resources: [nvidia.com/gpu, example.com/fpga]\n";
	struct spok_err err = {0};
	struct spok_platform p;

	(void)state;
	if (spok_config_parse(yaml, strlen(yaml), "c.yaml", &p, &err) != SPOK_OK)
		fail_msg("%s", err.msg);
	assert_string_equal(p.k8s.gpu_device_node_label, "acc");
	assert_string_equal(p.k8s.gpu_partition_size_node_label, "k8s.amazonaws.com/gpu-partition-size");
	assert_string_equal(p.k8s.gpu_resource_name, "nvidia.com/gpu");
	assert_null(p.k8s.gpu_unpartitioned_node_selector_requirement);
	assert_string_equal(json_string_value(json_object_get(p.k8s.gpu_unpartitioned_toleration, "key")), "p");
	assert_int_equal(p.k8s.add_tolerations_for_extended_resources.len, 2);
	assert_string_equal(p.k8s.add_tolerations_for_extended_resources.items[1], "example.com/fpga");
	spok_platform_free(&p);
}

static void expect_error(const char *yaml, const char *msg)
{
	struct spok_err err = {0};
	struct spok_platform p;

	assert_int_equal(spok_config_parse(yaml, strlen(yaml), "flyte.yaml", &p, &err), SPOK_EINVAL);
	if (strcmp(err.msg, msg) != 0)
		fail_msg("for:\n%s\n got: %s\nwant: %s", yaml, err.msg, msg);
	assert_null(p.source_path);
	assert_null(p.spok.namespace_template);
	assert_null(p.spark.logs_mixed.kubernetes_template_uri);
	assert_int_equal(p.k8s.default_annotations.len, 0);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("plugins:\n  spark:\n    logs:\n      mixed: {kubernetes-enabled: 1}\n",
		     "flyte.yaml:4:35: plugins.spark.logs.mixed.kubernetes-enabled: expected true or false, got '1'; write true or false (unquoted)");
	expect_error("plugins:\n  spark:\n    logs:\n      mixed:\n        templates: [{messageFormat: xml}]\n",
		     "flyte.yaml:5:37: plugins.spark.logs.mixed.templates[0].messageFormat: unknown message format 'xml'; use 0|1|2 or unknown|csv|json");
	expect_error("plugins:\n  spark:\n    logs:\n      mixed:\n        templates: {a: b}\n",
		     "flyte.yaml:5:20: plugins.spark.logs.mixed.templates: expected a list of templates; write '- displayName: ...' items");
	expect_error("plugins:\n  spark:\n    spark-config-default: [a, b]\n",
		     "flyte.yaml:3:28: plugins.spark.spark-config-default[0]: expected a single-entry mapping (- key: value), got a scalar; fix the list item");
	expect_error("plugins:\n  spark:\n    spark-config-default: {a: [1]}\n",
		     "flyte.yaml:3:31: plugins.spark.spark-config-default.a: expected a scalar value, got a list; quote the value");
	expect_error("plugins:\n  spark:\n    features: [{spark-config: {a: b}}]\n",
		     "flyte.yaml:3:16: plugins.spark.features[0]: feature has no name; add 'name: <feature>'");
	expect_error("plugins:\n  k8s:\n    default-tolerations: {key: k}\n",
		     "flyte.yaml:3:26: plugins.k8s.default-tolerations: expected a list, got a mapping; fix the value");
	expect_error("plugins:\n  k8s:\n    resource-tolerations: {gpu: {key: k}}\n",
		     "flyte.yaml:3:33: plugins.k8s.resource-tolerations.gpu: expected a list of tolerations; write '- key: ...' items");
	expect_error("spok:\n  name-max-len: 7\n",
		     "flyte.yaml:2:17: spok.name-max-len: '7' is not a whole number from 8 to 253; write one");
	expect_error("spok:\n  name-max-len: 300\n",
		     "flyte.yaml:2:17: spok.name-max-len: '300' is not a whole number from 8 to 253; write one");
	expect_error("spok:\n  event-log: {volume: {hostPath: {path: /x}}}\n",
		     "flyte.yaml:2:14: spok.event-log: no dir; add 'dir: /spark-events' (a path in the driver pod, with a volume) or 'dir: s3a://bucket/spark-events'");
	expect_error("spok:\n  event-log: {dir: /ev}\n",
		     "flyte.yaml:2:14: spok.event-log: dir /ev is a path in the driver pod and needs a volume (without one the event logs end with the pod); add 'volume: {persistentVolumeClaim: {claimName: spark-events}}' or a hostPath");
	expect_error("spok:\n  event-log: {dir: s3a://b/ev, volume: {hostPath: {path: /x}}}\n",
		     "flyte.yaml:2:14: spok.event-log: dir s3a://b/ev is a URI and takes no volume; remove 'volume' or make dir a path in the driver pod");
	expect_error("spok:\n  event-log: {dir: spark-events, volume: {emptyDir: {}}}\n",
		     "flyte.yaml:2:14: spok.event-log: dir 'spark-events' is neither an absolute path (/spark-events, file:///spark-events) nor a URI such as s3a://bucket/spark-events; fix it");
	expect_error("spok:\n  event-log: {dir: /, volume: {emptyDir: {}}}\n",
		     "flyte.yaml:2:14: spok.event-log: dir '/' is neither an absolute path (/spark-events, file:///spark-events) nor a URI such as s3a://bucket/spark-events; fix it");
	expect_error("spok:\n  event-log: {dir: /a/../b, volume: {emptyDir: {}}}\n",
		     "flyte.yaml:2:14: spok.event-log: dir '/a/../b' is neither an absolute path (/spark-events, file:///spark-events) nor a URI such as s3a://bucket/spark-events; fix it");
	expect_error("spok:\n  event-log: {dir: /ev, volume: {}}\n",
		     "flyte.yaml:2:33: spok.event-log.volume: empty volume; give a volume source such as 'hostPath: {path: /srv/spark-events}' or 'persistentVolumeClaim: {claimName: spark-events}'");
	expect_error("spok:\n  event-log: {dir: /ev, volume: {name: v, emptyDir: {}}}\n",
		     "flyte.yaml:2:33: spok.event-log.volume: a volume source has no 'name' (spok names the volume spok-event-log); remove it");
	expect_error("spok:\n  event-log: {dir: /ev, volume: [a]}\n",
		     "flyte.yaml:2:33: spok.event-log.volume: expected a mapping, got a list; fix the value");
	expect_error("spok:\n  event-log: {dri: /ev}\n",
		     "flyte.yaml:2:15: spok.event-log.dri: unknown key; did you mean 'dir'?");
	expect_error("- plugins\n",
		     "flyte.yaml:1:1: (top level): expected a mapping, got a list; a config file has 'plugins:' and 'spok:' sections");
	expect_error("plugins: [spark]\n",
		     "flyte.yaml:1:10: plugins: expected a mapping, got a list; write key: value pairs");
	expect_error("plugins:\n  spark: {\n", "flyte.yaml:3:1: did not find expected node content while parsing a flow node; fix the YAML syntax");
}

/* spok.event-log: a path dir becomes file:///path with its mount; a URI takes no volume. */
static void test_event_log(void **state)
{
	static const char *const ok_docs[][3] = {
		{"spok:\n  event-log:\n    dir: /var/spark-events/\n    volume: {hostPath: {path: /srv/ev}}\n",
		 "file:///var/spark-events", "/var/spark-events"},
		{"spok:\n  event-log:\n    dir: file:///ev\n    volume:\n      persistentVolumeClaim: {claimName: ev}\n",
		 "file:///ev", "/ev"},
		{"spok:\n  event-log:\n    dir: file:/ev\n    volume: {emptyDir: {}}\n", "file:///ev", "/ev"},
		{"spok:\n  event-log: {dir: s3a://b/ev}\n", "s3a://b/ev", NULL},
		{"spok:\n  event-log:\n", NULL, NULL},
	};
	struct spok_err err = {0};
	struct spok_platform p;

	(void)state;
	for (size_t i = 0; i < sizeof(ok_docs) / sizeof(ok_docs[0]); i++) {
		if (spok_config_parse(ok_docs[i][0], strlen(ok_docs[i][0]), "c.yaml", &p, &err) != SPOK_OK)
			fail_msg("%s", err.msg);
		if (ok_docs[i][1])
			assert_string_equal(p.spok.event_log_dir, ok_docs[i][1]);
		else
			assert_null(p.spok.event_log_dir);
		if (ok_docs[i][2]) {
			assert_string_equal(p.spok.event_log_mount, ok_docs[i][2]);
			assert_int_equal(json_object_size(p.spok.event_log_volume), 1);
		} else {
			assert_null(p.spok.event_log_mount);
			assert_null(p.spok.event_log_volume);
		}
		spok_platform_free(&p);
	}
	spok_platform_init(&p); /* unset by default: nothing is added to a SparkApplication */
	assert_null(p.spok.event_log_dir);
	spok_platform_free(&p);
}

/* spok.flyte-data: a mount path in the pods, a volume, and where this machine sees it (a
 * hostPath's path unless local-dir says otherwise); one line naming the field otherwise. */
static void test_flyte_data(void **state)
{
	static const char *const ok_docs[][3] = {
		{"spok:\n  flyte-data:\n    dir: /var/spok/flyte\n    volume: {hostPath: {path: /srv/f}}\n",
		 "/var/spok/flyte", "/srv/f"},
		{"spok:\n  flyte-data:\n    dir: /d\n    volume: {nfs: {server: n, path: /x}}\n    local-dir: /mnt/x\n",
		 "/d", "/mnt/x"},
		{"spok:\n  flyte-data:\n    dir: /d\n    volume: {hostPath: {path: /srv/f}}\n    local-dir: /mnt/f\n",
		 "/d", "/mnt/f"},
	};
	static const char *const bad[][2] = {
		{"spok:\n  flyte-data: {volume: {hostPath: {path: /x}}}\n",
		 "flyte.yaml:2:15: spok.flyte-data: dir: expected the absolute path where the volume is mounted in the pods, such as 'dir: /var/spok/flyte'"},
		{"spok:\n  flyte-data: {dir: /a/../b, volume: {hostPath: {path: /x}}}\n",
		 "flyte.yaml:2:15: spok.flyte-data: dir: expected the absolute path where the volume is mounted in the pods, such as 'dir: /var/spok/flyte'"},
		{"spok:\n  flyte-data: {dir: /d}\n",
		 "flyte.yaml:2:15: spok.flyte-data: no volume; add one that both the pods and this machine reach, such as 'volume: {hostPath: {path: /srv/spok-flyte, type: Directory}}' or an NFS volume"},
		{"spok:\n  flyte-data: {dir: /d, volume: {nfs: {server: n, path: /x}}}\n",
		 "flyte.yaml:2:15: spok.flyte-data: local-dir: expected the absolute path where this machine sees the volume (a hostPath volume's path is the default)"},
		{"spok:\n  flyte-data: {dir: /d, volume: {hostPath: {path: x/}}}\n",
		 "flyte.yaml:2:15: spok.flyte-data: local-dir: expected the absolute path where this machine sees the volume (a hostPath volume's path is the default)"},
		{"spok:\n  flyte-data: {dir: /d, volume: {name: v, hostPath: {path: /x}}}\n",
		 "flyte.yaml:2:33: spok.flyte-data.volume: a volume source has no 'name' (spok names the volume spok-flyte-data); remove it"},
		{"spok:\n  flyte-data: {dir: /d, volume: {}}\n",
		 "flyte.yaml:2:33: spok.flyte-data.volume: empty volume; give a volume source such as 'hostPath: {path: /srv/spok-flyte, type: Directory}'"},
		{"spok:\n  flyte-data: {dir: /d, volume: {hostPath: {path: /x}}, locl-dir: /y}\n",
		 "flyte.yaml:2:57: spok.flyte-data.locl-dir: unknown key; did you mean 'local-dir'?"},
	};
	struct spok_err err = {0};
	struct spok_platform p;

	(void)state;
	for (size_t i = 0; i < sizeof(ok_docs) / sizeof(ok_docs[0]); i++) {
		if (spok_config_parse(ok_docs[i][0], strlen(ok_docs[i][0]), "c.yaml", &p, &err) != SPOK_OK)
			fail_msg("%s", err.msg);
		assert_string_equal(p.spok.flyte_data_dir, ok_docs[i][1]);
		assert_string_equal(p.spok.flyte_data_local_dir, ok_docs[i][2]);
		assert_int_equal(json_object_size(p.spok.flyte_data_volume), 1);
		spok_platform_free(&p);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error(bad[i][0], bad[i][1]);
}

static void test_load(void **state)
{
	struct spok_err err = {0};
	struct spok_platform p;
	char path[4096];
	const char *src = getenv("SPOK_SOURCE_DIR");

	(void)state;
	assert_non_null(src);
	snprintf(path, sizeof(path), "%s/tests/jobfile/data/flyte-config.yaml", src);
	if (spok_config_load(path, &p, &err) != SPOK_OK)
		fail_msg("%s", err.msg);
	assert_string_equal(p.source_path, path);
	assert_true(p.spark.spark_config_default.len > 3);
	spok_platform_free(&p);
	assert_int_equal(spok_config_load("/nonexistent/c.yaml", &p, &err), SPOK_ENOTFOUND);
	assert_null(p.spok.namespace_template);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_key_case),
		cmocka_unit_test(test_default_annotations),
		cmocka_unit_test(test_gpu_settings),
		cmocka_unit_test(test_event_log),
		cmocka_unit_test(test_flyte_data),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
