/* fuzz_exec_cred - bytes -> ExecCredential parse (the stdout of an exec plugin), for both
 * API versions; a parsed credential is also checked for expiry. */
#include <stdint.h>
#include <stdlib.h>

#include "common/err.h"
#include "kube/exec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const versions[] = {KUBE_EXEC_V1, KUBE_EXEC_V1BETA1};
	struct kube_exec_cred c;
	struct spok_err err;

	for (size_t i = 0; i < 2; i++) {
		if (kube_exec_parse((const char *)data, size, versions[i], "fuzz", &c, &err) == 0) {
			(void)kube_exec_cred_expired(&c, 1700000000);
			kube_exec_cred_free(&c);
		}
	}
	return 0;
}
