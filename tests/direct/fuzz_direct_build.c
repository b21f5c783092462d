/* fuzz_direct_build.c - job-file bytes -> spok_jobfile_parse_task -> spok_sparkapp_build ->
 * spok_direct_build (ConfigMap, driver pod, Service), with the platform config of
 * tests/sparkapp/fuzz_sparkapp_build.c, over that target's corpus. Must never crash or leak,
 * and every object must serialise (valid UTF-8). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "direct/direct.h"
#include "sparkapp/sparkapp.h"
#include "jobfile/jobfile.h"

static const char config_yaml[] =
	"plugins:\n"
	"  spark:\n"
	"    spark-config-default: {spark.a: x}\n"
	"    features:\n"
	"    - {name: f1, spark-config: {spark.f: 'on'}}\n"
	"  k8s:\n"
	"    default-labels: {l: v}\n"
	"    default-env-vars: {E: v}\n"
	"    default-tolerations: [{key: d, operator: Exists}]\n"
	"    interruptible-tolerations: [{key: i, operator: Exists}]\n"
	"    resource-tolerations: {cpu: [{key: c, operator: Exists}]}\n"
	"    default-node-selector: {n: v}\n"
	"    interruptible-node-selector: {spot: 'true'}\n"
	"    interruptible-node-selector-requirement: {key: spot, operator: In, values: ['true']}\n"
	"    non-interruptible-node-selector-requirement: {key: spot, operator: DoesNotExist}\n"
	"    default-affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
	"{nodeSelectorTerms: [{matchExpressions: [{key: z, operator: Exists}]}]}}}\n"
	"    default-pod-security-context: {runAsUser: 1000}\n"
	"    default-security-context: {privileged: false}\n"
	"    default-pod-dns-config: {options: [{name: ndots, value: '1'}]}\n"
	"    scheduler-name: sched\n"
	"spok:\n"
	"  default-image: img\n"
	"  event-log: {dir: /ev, volume: {hostPath: {path: /srv/ev}}}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spok_platform p;
	struct spok_task t;
	struct spok_exec x;
	struct spok_direct d;
	json_t *list;

	if (spok_config_parse(config_yaml, sizeof(config_yaml) - 1, "fuzz-config", &p, NULL) != 0)
		__builtin_trap();
	if (spok_jobfile_parse_task((const char *)data, size, "fuzz", &t, NULL) == 0) {
		memset(&x, 0, sizeof(x));
		x.execution_name = t.name;
		x.node_id = "n0";
		x.namespace_ = "ns";
		x.now_ms = 1;
		x.interruptible = t.interruptible;
		x.input_prefix = "s3://in";
		x.output_prefix = "s3://out";
		x.raw_output_prefix = "s3://raw";
		x.prev_checkpoint = "";
		for (int i = 0; i < 2; i++) {
			if (spok_direct_build_task(&t, &p, &x, NULL, &d, NULL) == 0) {
				char *s;

				list = spok_direct_list(&d);
				s = json_dumps(list, 0);
				if (s == NULL)
					__builtin_trap(); /* every string must be valid UTF-8 */
				free(s);
				json_decref(list);
				spok_direct_free(&d);
			}
			x.interruptible = !x.interruptible;
			x.ship_local_files = !x.ship_local_files; /* the shipped form too */
		}
		spok_task_free(&t);
	}
	spok_platform_free(&p);
	return 0;
}
