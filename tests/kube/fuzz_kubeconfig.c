/* fuzz_kubeconfig - bytes -> kubeconfig parse + resolve (current-context, then "tok"). */
#include <stdint.h>
#include <stdlib.h>

#include "common/err.h"
#include "kube/kubeconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kube_config cfg;
	struct spok_err err;

	if (kube_config_parse(&cfg, (const char *)data, size, "fuzz.yaml", NULL, &err) == 0)
		kube_config_free(&cfg);
	if (kube_config_parse(&cfg, (const char *)data, size, "fuzz.yaml", "tok", &err) == 0)
		kube_config_free(&cfg);
	return 0;
}
