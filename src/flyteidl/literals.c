/* literals.c - LiteralMap in (inputs.pb from --input flags) and out (outputs.pb -> JSON),
 * and ErrorDocument (error.pb). */
#include "flyteidl/flyteidl.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/timefmt.h"
#include "common/xalloc.h"
#include "common/utf8.h"
#include "flyteidl/internal.h"

#include "flyteidl/core/errors.pb-c.h"
#include "flyteidl/core/literals.pb-c.h"

#define NS_PER_S INT64_C(1000000000)

/* RFC 3339 (2020-09-11T10:00:00.5+02:00); as a convenience for --input, also a bare date
 * (midnight UTC) or a space in place of the 'T'. */
static bool parse_datetime(const char *s, int64_t *secs, int32_t *nanos)
{
	char buf[64];
	size_t n = strlen(s);

	*nanos = 0;
	if (n == 10) {
		snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
		s = buf;
	} else if (n > 10 && n < sizeof(buf) && s[10] == ' ') {
		memcpy(buf, s, n + 1);
		buf[10] = 'T';
		s = buf;
	}
	return spok_parse_rfc3339_ns(s, secs, nanos);
}

/* ---- encoding inputs ---- */

/* Everything one literal needs, allocated together so one free releases it. */
struct lit_slot {
	Flyteidl__Core__LiteralMap__LiteralsEntry entry;
	Flyteidl__Core__Literal lit;
	Flyteidl__Core__Scalar scalar;
	Flyteidl__Core__Primitive prim;
	Google__Protobuf__Timestamp ts;
	Google__Protobuf__Duration dur;
};

static const char *lit_type_name(enum spok_lit_type t)
{
	static const char *names[] = { "none", "integer", "float", "string", "boolean",
				       "datetime", "duration", "binary", "error", "struct" };

	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "complex";
}

static bool parse_bool(const char *s, protobuf_c_boolean *out)
{
	if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0)
		*out = 1;
	else if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0)
		*out = 0;
	else
		return false;
	return true;
}

static bool parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return false;
	*out = v;
	return true;
}

static bool parse_float(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return errno == 0 && end != s && *end == '\0' && isfinite(*out);
}

static const char *value_hint(enum spok_lit_type t)
{
	switch (t) {
	case SPOK_LIT_INTEGER: return "a whole number such as 42";
	case SPOK_LIT_FLOAT: return "a number such as 3.14";
	case SPOK_LIT_BOOLEAN: return "true, false, 1 or 0";
	case SPOK_LIT_DATETIME: return "an RFC 3339 time such as 2020-09-11T00:00:00Z";
	case SPOK_LIT_DURATION: return "a duration such as 90s or 1h30m";
	case SPOK_LIT_STRING: return "UTF-8 text";
	default: return "a valid value";
	}
}

static bool fill_primitive(struct lit_slot *s, enum spok_lit_type t, const char *v)
{
	Flyteidl__Core__Primitive *p = &s->prim;
	int64_t ns;

	switch (t) {
	case SPOK_LIT_INTEGER:
		p->value_case = FLYTEIDL__CORE__PRIMITIVE__VALUE_INTEGER;
		return parse_int(v, &p->integer);
	case SPOK_LIT_FLOAT:
		p->value_case = FLYTEIDL__CORE__PRIMITIVE__VALUE_FLOAT_VALUE;
		return parse_float(v, &p->float_value);
	case SPOK_LIT_STRING:
		p->value_case = FLYTEIDL__CORE__PRIMITIVE__VALUE_STRING_VALUE;
		p->string_value = (char *)v; /* borrowed: only read by pack */
		return spok_utf8_validn(v, strlen(v));  /* proto3 strings must be UTF-8 */
	case SPOK_LIT_BOOLEAN:
		p->value_case = FLYTEIDL__CORE__PRIMITIVE__VALUE_BOOLEAN;
		return parse_bool(v, &p->boolean);
	case SPOK_LIT_DATETIME:
		p->value_case = FLYTEIDL__CORE__PRIMITIVE__VALUE_DATETIME;
		p->datetime = &s->ts;
		return parse_datetime(v, &s->ts.seconds, &s->ts.nanos);
	case SPOK_LIT_DURATION:
		p->value_case = FLYTEIDL__CORE__PRIMITIVE__VALUE_DURATION;
		p->duration = &s->dur;
		if (!spok_parse_duration_ns(v, &ns))
			return false;
		s->dur.seconds = ns / NS_PER_S;
		s->dur.nanos = (int32_t)(ns % NS_PER_S);
		return true;
	default:
		return false;
	}
}

static void slot_init(struct lit_slot *s, const char *name)
{
	static const Flyteidl__Core__LiteralMap__LiteralsEntry e0 =
		FLYTEIDL__CORE__LITERAL_MAP__LITERALS_ENTRY__INIT;
	static const Flyteidl__Core__Literal l0 = FLYTEIDL__CORE__LITERAL__INIT;
	static const Flyteidl__Core__Scalar s0 = FLYTEIDL__CORE__SCALAR__INIT;
	static const Flyteidl__Core__Primitive p0 = FLYTEIDL__CORE__PRIMITIVE__INIT;
	static const Google__Protobuf__Timestamp t0 = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	static const Google__Protobuf__Duration d0 = GOOGLE__PROTOBUF__DURATION__INIT;

	s->entry = e0;
	s->lit = l0;
	s->scalar = s0;
	s->prim = p0;
	s->ts = t0;
	s->dur = d0;
	s->entry.key = (char *)name;
	s->entry.value = &s->lit;
	s->lit.value_case = FLYTEIDL__CORE__LITERAL__VALUE_SCALAR;
	s->lit.scalar = &s->scalar;
	s->scalar.value_case = FLYTEIDL__CORE__SCALAR__VALUE_PRIMITIVE;
	s->scalar.primitive = &s->prim;
}

static int check_names(const struct spok_vars *iface, const struct spok_strmap *values,
		       struct spok_err *err)
{
	for (size_t i = 0; i < values->len; i++) {
		struct spok_buf names;
		size_t j;
		int rc;

		for (j = 0; j < iface->len; j++)
			if (strcmp(iface->items[j].name, values->items[i].key) == 0)
				break;
		if (j < iface->len)
			continue;
		spok_buf_init(&names, 4096);
		for (j = 0; j < iface->len; j++)
			spok_buf_printf(&names, "%s%s", j > 0 ? ", " : "", iface->items[j].name);
		rc = spok_err_set(err, SPOK_EINVAL, "--input %s: the task has no such input; its "
				  "inputs are: %s", values->items[i].key,
				  names.len > 0 ? names.data : "(none)");
		spok_buf_free(&names);
		return rc;
	}
	return SPOK_OK;
}

static int fill_slot(struct lit_slot *s, const struct spok_var *var,
		     const struct spok_strmap *values, struct spok_err *err)
{
	const char *v = spok_strmap_get(values, var->name);

	slot_init(s, var->name);
	if (var->type < SPOK_LIT_INTEGER || var->type > SPOK_LIT_DURATION)
		return spok_err_set(err, SPOK_EINVAL, "--input %s: inputs of type %s cannot be set "
				    "from the command line; give the task a simple-typed input",
				    var->name, lit_type_name(var->type));
	if (v == NULL)
		return spok_err_set(err, SPOK_EINVAL, "--input %s: required input is missing; pass "
				    "--input %s=<%s>", var->name, var->name,
				    lit_type_name(var->type));
	if (!fill_primitive(s, var->type, v))
		return spok_err_set(err, SPOK_EINVAL, "--input %s: '%s' is not a valid %s; use %s",
				    var->name, v, lit_type_name(var->type), value_hint(var->type));
	return SPOK_OK;
}

int spok_flyte_encode_inputs(const struct spok_vars *iface, const struct spok_strmap *values,
			     uint8_t **out, size_t *out_len, struct spok_err *err)
{
	Flyteidl__Core__LiteralMap map = FLYTEIDL__CORE__LITERAL_MAP__INIT;
	struct lit_slot *slots = xcalloc(iface->len + 1, sizeof(*slots));
	Flyteidl__Core__LiteralMap__LiteralsEntry **entries =
		xcalloc(iface->len + 1, sizeof(*entries));
	int result = check_names(iface, values, err);

	*out = NULL;
	*out_len = 0;
	for (size_t i = 0; result == SPOK_OK && i < iface->len; i++) {
		result = fill_slot(&slots[i], &iface->items[i], values, err);
		entries[i] = &slots[i].entry;
	}
	if (result == SPOK_OK) {
		map.n_literals = iface->len;
		map.literals = entries;
		*out_len = flyteidl__core__literal_map__get_packed_size(&map);
		*out = xmalloc(*out_len + 1);
		flyteidl__core__literal_map__pack(&map, *out);
	}
	free(entries);
	free(slots);
	return result;
}

/* ---- decoding outputs ---- */

static json_t *b64(const uint8_t *p, size_t n)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *s = xmalloc((n + 2) / 3 * 4 + 1), *o = s;
	json_t *j;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		*o++ = tbl[(v >> 18) & 63];
		*o++ = tbl[(v >> 12) & 63];
		*o++ = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
		*o++ = i + 2 < n ? tbl[v & 63] : '=';
	}
	*o = '\0';
	j = json_string(s);
	free(s);
	return j;
}

static json_t *frac_string(int32_t nanos, const char *prefix, const char *suffix)
{
	char frac[16] = "";

	/* proto-JSON style: 0, 3, 6 or 9 fractional digits. */
	if (nanos % 1000000 == 0 && nanos != 0)
		snprintf(frac, sizeof(frac), ".%03d", nanos / 1000000);
	else if (nanos % 1000 == 0 && nanos != 0)
		snprintf(frac, sizeof(frac), ".%06d", nanos / 1000);
	else if (nanos != 0)
		snprintf(frac, sizeof(frac), ".%09d", nanos);
	return json_pack("s++", prefix, frac, suffix);
}

static json_t *timestamp_json(const Google__Protobuf__Timestamp *ts)
{
	char base[64];
	int64_t y, days, rem;
	unsigned m, d;

	if (ts == NULL)
		return json_null();
	/* 0001-01-01 .. 9999-12-31, the range RFC 3339 can write. */
	if (ts->seconds < INT64_C(-62135596800) || ts->seconds > INT64_C(253402300799) ||
	    ts->nanos < 0 || ts->nanos > 999999999)
		return NULL;
	days = ts->seconds / 86400;
	rem = ts->seconds % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	spok_civil_from_days(days, &y, &m, &d);
	snprintf(base, sizeof(base), "%04" PRId64 "-%02u-%02uT%02d:%02d:%02d", y, m, d,
		 (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
	return frac_string(ts->nanos, base, "Z");
}

static json_t *duration_json(const Google__Protobuf__Duration *du)
{
	char base[48];
	int32_t nanos;

	if (du == NULL)
		return json_null();
	if (du->nanos < -999999999 || du->nanos > 999999999 ||
	    (du->seconds > 0 && du->nanos < 0) || (du->seconds < 0 && du->nanos > 0))
		return NULL;
	nanos = du->nanos < 0 ? -du->nanos : du->nanos;
	snprintf(base, sizeof(base), "%s%" PRIu64, du->seconds < 0 || du->nanos < 0 ? "-" : "",
		 du->seconds < 0 ? (uint64_t)0 - (uint64_t)du->seconds : (uint64_t)du->seconds);
	return frac_string(nanos, base, "s");
}

static json_t *float_json(double d)
{
	if (isnan(d))
		return json_string("NaN");
	if (isinf(d))
		return json_string(d > 0 ? "Infinity" : "-Infinity");
	return json_real(d);
}

static json_t *primitive_json(const Flyteidl__Core__Primitive *p)
{
	switch (p->value_case) {
	case FLYTEIDL__CORE__PRIMITIVE__VALUE_INTEGER: return json_integer(p->integer);
	case FLYTEIDL__CORE__PRIMITIVE__VALUE_FLOAT_VALUE: return float_json(p->float_value);
	case FLYTEIDL__CORE__PRIMITIVE__VALUE_STRING_VALUE: return json_string(p->string_value);
	case FLYTEIDL__CORE__PRIMITIVE__VALUE_BOOLEAN: return json_boolean(p->boolean);
	case FLYTEIDL__CORE__PRIMITIVE__VALUE_DATETIME: return timestamp_json(p->datetime);
	case FLYTEIDL__CORE__PRIMITIVE__VALUE_DURATION: return duration_json(p->duration);
	default: return json_null();
	}
}

static json_t *uri_json(const char *uri)
{
	return json_pack("{s:s}", "uri", uri);
}

static json_t *literal_json(const Flyteidl__Core__Literal *l, const char *path, const char *name,
			    struct spok_err *err);

static json_t *scalar_json(const Flyteidl__Core__Scalar *s, const char *path, const char *name,
			   struct spok_err *err)
{
	json_t *j = NULL;

	switch (s->value_case) {
	case FLYTEIDL__CORE__SCALAR__VALUE_PRIMITIVE:
		j = primitive_json(s->primitive);
		break;
	case FLYTEIDL__CORE__SCALAR__VALUE_BLOB: return uri_json(s->blob->uri);
	case FLYTEIDL__CORE__SCALAR__VALUE_SCHEMA: return uri_json(s->schema->uri);
	case FLYTEIDL__CORE__SCALAR__VALUE_STRUCTURED_DATASET:
		return uri_json(s->structured_dataset->uri);
	case FLYTEIDL__CORE__SCALAR__VALUE_BINARY:
		return json_pack("{s:o,s:s}", "binary",
				 b64(s->binary->value.data, s->binary->value.len), "tag",
				 s->binary->tag);
	case FLYTEIDL__CORE__SCALAR__VALUE_ERROR:
		return json_pack("{s:{s:s,s:s}}", "error", "failedNodeId",
				 s->error->failed_node_id, "message", s->error->message);
	case FLYTEIDL__CORE__SCALAR__VALUE_GENERIC:
		if (spok_struct_to_json(s->generic, path, name, &j, err) != SPOK_OK)
			return NULL;
		return j;
	case FLYTEIDL__CORE__SCALAR__VALUE_UNION:
		if (s->union_->value == NULL)
			return json_null();
		return literal_json(s->union_->value, path, name, err);
	default:
		return json_null();
	}
	if (j == NULL)
		spok_err_set(err, SPOK_EINVAL, "%s: output '%s': primitive out of range; "
			     "the task wrote a malformed value", path, name);
	return j;
}

static json_t *literal_json(const Flyteidl__Core__Literal *l, const char *path, const char *name,
			    struct spok_err *err)
{
	json_t *j, *item;

	switch (l->value_case) {
	case FLYTEIDL__CORE__LITERAL__VALUE_SCALAR:
		return scalar_json(l->scalar, path, name, err);
	case FLYTEIDL__CORE__LITERAL__VALUE_COLLECTION:
		j = json_array();
		for (size_t i = 0; i < l->collection->n_literals; i++) {
			item = literal_json(l->collection->literals[i], path, name, err);
			if (item == NULL) {
				json_decref(j);
				return NULL;
			}
			json_array_append_new(j, item);
		}
		return j;
	case FLYTEIDL__CORE__LITERAL__VALUE_MAP:
		j = json_object();
		for (size_t i = 0; i < l->map->n_literals; i++) {
			const Flyteidl__Core__LiteralMap__LiteralsEntry *e = l->map->literals[i];

			item = e->value != NULL ? literal_json(e->value, path, name, err) : json_null();
			if (item == NULL) {
				json_decref(j);
				return NULL;
			}
			json_object_set_new(j, e->key, item);
		}
		return j;
	case FLYTEIDL__CORE__LITERAL__VALUE_OFFLOADED_METADATA:
		return json_pack("{s:s,s:b}", "uri", l->offloaded_metadata->uri, "offloaded", 1);
	default:
		return json_null();
	}
}

int spok_flyte_decode_literal_map(const uint8_t *buf, size_t len, const char *path,
				  json_t **out, struct spok_err *err)
{
	Flyteidl__Core__LiteralMap *map;
	json_t *obj;

	*out = NULL;
	map = (Flyteidl__Core__LiteralMap *)spok_pb_unpack(&flyteidl__core__literal_map__descriptor,
							   buf, len, path,
							   "flyteidl.core.LiteralMap", err);
	if (map == NULL)
		return SPOK_EINVAL;
	obj = json_object();
	for (size_t i = 0; i < map->n_literals; i++) {
		const Flyteidl__Core__LiteralMap__LiteralsEntry *e = map->literals[i];
		json_t *v = e->value != NULL ? literal_json(e->value, path, e->key, err) : json_null();

		if (v == NULL) {
			json_decref(obj);
			flyteidl__core__literal_map__free_unpacked(map, NULL);
			return SPOK_EINVAL;
		}
		json_object_set_new(obj, e->key, v);
	}
	flyteidl__core__literal_map__free_unpacked(map, NULL);
	*out = obj;
	return SPOK_OK;
}

int spok_flyte_decode_error(const uint8_t *buf, size_t len, const char *path, char **code,
			    char **message, bool *recoverable, struct spok_err *err)
{
	Flyteidl__Core__ErrorDocument *doc;
	int result = SPOK_OK;

	*code = NULL;
	*message = NULL;
	*recoverable = false;
	doc = (Flyteidl__Core__ErrorDocument *)spok_pb_unpack(
		&flyteidl__core__error_document__descriptor, buf, len, path,
		"flyteidl.core.ErrorDocument", err);
	if (doc == NULL)
		return SPOK_EINVAL;
	if (doc->error == NULL) {
		result = spok_err_set(err, SPOK_EINVAL, "%s: ErrorDocument has no error; expected "
				      "an error.pb written by flytekit", path);
	} else {
		*code = xstrdup(doc->error->code);
		*message = xstrdup(doc->error->message);
		*recoverable = doc->error->kind == FLYTEIDL__CORE__CONTAINER_ERROR__KIND__RECOVERABLE;
	}
	flyteidl__core__error_document__free_unpacked(doc, NULL);
	return result;
}

int spok_flyte_check_inputs(const struct spok_task *t, const struct spok_strmap *values,
			    struct spok_err *err)
{
	struct spok_strmap none = {0};
	uint8_t *buf = NULL;
	size_t n = 0;
	int result;

	if (t->origin != SPOK_ORIGIN_FLYTE) {
		if (values != NULL && values->len > 0)
			return spok_err_set(err, SPOK_EINVAL, "--input %s: only flytekit tasks take "
					    "typed inputs; put program arguments in the job file's "
					    "arguments", values->items[0].key);
		return SPOK_OK;
	}
	result = spok_flyte_encode_inputs(&t->inputs, values ? values : &none, &buf, &n, err);
	free(buf);
	return result;
}
