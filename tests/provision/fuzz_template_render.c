/* fuzz_template_render - template splitting, {{ var }} rendering and object checks on
 * arbitrary bytes: must never crash, leak or accept a non-object. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "provision/provision.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prov_templates t = {0};
	struct spok_strmap vars = {0};
	struct spok_err err = {0};

	if (size > PROV_MAX_TEMPLATE)
		return 0;
	spok_strmap_set(&vars, "namespace", "p-d");
	spok_strmap_set(&vars, "project", "p");
	spok_strmap_set(&vars, "domain", "d");
	spok_strmap_set(&vars, "cpu", "{{ cpu }}"); /* values are not re-expanded */
	spok_strmap_set(&vars, "big", "0123456789abcdef0123456789abcdef");
	if (prov_templates_add(&t, "fuzz.yaml", (const char *)data, size, &err) == 0) {
		for (size_t i = 0; i < t.len; i++) {
			json_t *o = NULL;

			if (prov_build(&t.docs[i], &vars, "p-d", &o, &err) == 0 && o != NULL &&
			    !json_is_object(o))
				abort();
			json_decref(o);
		}
	}
	prov_templates_free(&t);
	spok_strmap_free(&vars);
	return 0;
}
