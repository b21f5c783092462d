#include "k8s_env.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

void spok_test_k8s_env(void)
{
	const char *path = getenv("SPOK_K8S_ENV");
	char line[4096];
	FILE *f;

	if (path == NULL)
		fail_msg("SPOK_K8S_ENV is not set; run through ctest with the k8s fixture");
	f = fopen(path, "r");
	if (f == NULL)
		fail_msg("%s: cannot open", path);
	while (fgets(line, sizeof(line), f) != NULL) {
		char *eq = strchr(line, '=');

		line[strcspn(line, "\n")] = '\0';
		if (eq == NULL)
			continue;
		*eq = '\0';
		setenv(line, eq + 1, 1);
	}
	fclose(f);
}
