/* fuzz_literal_map.c - arbitrary bytes -> LiteralMap -> JSON, and ErrorDocument. Besides no
 * crash and no leak, it checks properties:
 *  - a decoded map is a JSON object that survives JSON text (dump, load, equal);
 *  - round trip: its integer, boolean and string members, given back to the inputs encoder
 *    (`spok run --input name=value`) typed as what they decoded to, encode to a LiteralMap
 *    that decodes to the same members;
 *  - a decoded error document has a code and a message. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strmap.h"
#include "flyteidl/flyteidl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT); /* must be valid JSON text */
	json_t *back = s != NULL ? json_loads(s, 0, NULL) : NULL;

	if (!json_is_object(j) || back == NULL || !json_equal(j, back))
		abort();
	json_decref(back);
	free(s);
}

/* The members the encoder can take, as --input values, and what they must decode to. */
static void settable(const json_t *j, struct spok_vars *iface, struct spok_strmap *values,
		     json_t *want)
{
	const char *name;
	json_t *v;
	char num[32];

	json_object_foreach((json_t *)j, name, v) {
		if (strlen(name) == 0 || iface->len >= 64)
			continue;
		if (json_is_integer(v)) {
			snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
			spok_vars_add(iface, name, SPOK_LIT_INTEGER);
			spok_strmap_set(values, name, num);
		} else if (json_is_boolean(v)) {
			spok_vars_add(iface, name, SPOK_LIT_BOOLEAN);
			spok_strmap_set(values, name, json_is_true(v) ? "true" : "false");
		} else if (json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v)) {
			spok_vars_add(iface, name, SPOK_LIT_STRING);
			spok_strmap_set(values, name, json_string_value(v));
		} else {
			continue;
		}
		json_object_set(want, name, v);
	}
}

static void check_round_trip(const json_t *j)
{
	struct spok_vars iface = {0};
	struct spok_strmap values = {0};
	json_t *want = json_object(), *got = NULL;
	uint8_t *pb = NULL;
	size_t n = 0;

	settable(j, &iface, &values, want);
	if (spok_flyte_encode_inputs(&iface, &values, &pb, &n, NULL) != SPOK_OK ||
	    spok_flyte_decode_literal_map(pb, n, "again.pb", &got, NULL) != SPOK_OK ||
	    !json_equal(want, got))
		abort();
	json_decref(got);
	free(pb);
	json_decref(want);
	spok_strmap_free(&values);
	spok_vars_free(&iface);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = NULL;
	char *code, *msg;
	bool rec;

	if (spok_flyte_decode_literal_map(data, size, "fuzz.pb", &j, NULL) == SPOK_OK) {
		check_text(j);
		check_round_trip(j);
		json_decref(j);
	}
	if (spok_flyte_decode_error(data, size, "fuzz.pb", &code, &msg, &rec, NULL) == SPOK_OK) {
		if (code == NULL || msg == NULL)
			abort();
		free(code);
		free(msg);
	}
	return 0;
}
