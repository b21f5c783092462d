/* pbutil.c - defensive protobuf unpacking and google.protobuf.Struct -> JSON. */
#include "common/utf8.h"
#include "flyteidl/internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "flyteidl/flyteidl.h"

enum wire_result { WIRE_OK, WIRE_BAD, WIRE_DEEP };

static bool read_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
	uint64_t r = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		uint8_t b;

		if (*pos >= len)
			return false;
		b = p[(*pos)++];
		r |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*v = r;
			return true;
		}
	}
	return false;
}

static enum wire_result skip_length(const ProtobufCMessageDescriptor *desc, uint64_t num,
				    const uint8_t *p, size_t len, size_t *pos, unsigned depth);

/* Walks the wire format of one message, descending into known message fields, so that
 * truncation and hostile nesting are caught before protobuf-c (which recurses without a
 * limit) allocates anything. */
static enum wire_result walk(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t len,
			     unsigned depth)
{
	size_t pos = 0;

	if (depth > SPOK_FLYTE_MAX_DEPTH)
		return WIRE_DEEP;
	while (pos < len) {
		uint64_t key, v;
		enum wire_result r;

		if (!read_varint(p, len, &pos, &key) || (key >> 3) == 0 || (key >> 3) > 0x1fffffff)
			return WIRE_BAD;
		switch (key & 7) {
		case 0:
			if (!read_varint(p, len, &pos, &v))
				return WIRE_BAD;
			break;
		case 1:
			if (len - pos < 8)
				return WIRE_BAD;
			pos += 8;
			break;
		case 5:
			if (len - pos < 4)
				return WIRE_BAD;
			pos += 4;
			break;
		case 2:
			r = skip_length(desc, key >> 3, p, len, &pos, depth);
			if (r != WIRE_OK)
				return r;
			break;
		default: /* groups (3, 4) are proto2-only and unused by flyteidl */
			return WIRE_BAD;
		}
	}
	return WIRE_OK;
}

static enum wire_result skip_length(const ProtobufCMessageDescriptor *desc, uint64_t num,
				    const uint8_t *p, size_t len, size_t *pos, unsigned depth)
{
	const ProtobufCFieldDescriptor *f = NULL;
	uint64_t n;
	enum wire_result r = WIRE_OK;

	if (!read_varint(p, len, pos, &n) || n > len - *pos)
		return WIRE_BAD;
	if (desc != NULL)
		f = protobuf_c_message_descriptor_get_field(desc, (unsigned)num);
	if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE)
		r = walk(f->descriptor, p + *pos, (size_t)n, depth + 1);
	*pos += (size_t)n;
	return r;
}

/* Strict UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
static bool field_strings_ok(const ProtobufCFieldDescriptor *f, const char *base, unsigned depth);

/* Walks an unpacked message through its descriptor and checks every string field. */
static bool strings_ok(const ProtobufCMessage *m, unsigned depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;

	if (depth > SPOK_FLYTE_MAX_DEPTH)
		return false;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];

		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0) {
			uint32_t which;

			memcpy(&which, base + f->quantifier_offset, sizeof(which));
			if (which != f->id)
				continue;
		}
		if (!field_strings_ok(f, base, depth))
			return false;
	}
	return true;
}

static bool one_ok(const ProtobufCFieldDescriptor *f, const void *slot, unsigned depth)
{
	const void *p;

	memcpy(&p, slot, sizeof(p));
	if (p == NULL)
		return true;
	if (f->type == PROTOBUF_C_TYPE_STRING)
		return spok_utf8_validn(p, strlen(p));
	return strings_ok(p, depth + 1);
}

static bool field_strings_ok(const ProtobufCFieldDescriptor *f, const char *base, unsigned depth)
{
	size_t n;

	if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
		return true;
	if (f->label != PROTOBUF_C_LABEL_REPEATED)
		return one_ok(f, base + f->offset, depth);
	memcpy(&n, base + f->quantifier_offset, sizeof(n));
	for (size_t i = 0; i < n; i++) {
		const char *arr;

		memcpy(&arr, base + f->offset, sizeof(arr));
		if (!one_ok(f, arr + i * sizeof(void *), depth))
			return false;
	}
	return true;
}

bool spok_pb_wire_ok(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len)
{
	return len <= SPOK_FLYTE_PB_MAX && walk(desc, buf, len, 0) == WIRE_OK;
}

ProtobufCMessage *spok_pb_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *buf,
				 size_t len, const char *path, const char *what,
				 struct spok_err *err)
{
	ProtobufCMessage *m;
	enum wire_result r;

	if (len > SPOK_FLYTE_PB_MAX) {
		spok_err_set(err, SPOK_EINVAL,
			     "%s: %zu bytes is over the 16 MiB limit for a %s; pass a smaller file",
			     path, len, what);
		return NULL;
	}
	r = walk(desc, buf, len, 0);
	if (r == WIRE_DEEP) {
		spok_err_set(err, SPOK_EINVAL,
			     "%s: not a valid %s (messages nested deeper than %d levels); "
			     "pass a file written by flytekit/pyflyte", path, what, SPOK_FLYTE_MAX_DEPTH);
		return NULL;
	}
	m = r == WIRE_OK ? protobuf_c_message_unpack(desc, NULL, len, buf) : NULL;
	if (m == NULL) {
		spok_err_set(err, SPOK_EINVAL,
			     "%s: not a valid %s (truncated, corrupt, or another message type); "
			     "pass a file written by flytekit/pyflyte", path, what);
		return NULL;
	}
	if (!strings_ok(m, 0)) {
		/* proto3 requires UTF-8 strings (Go's decoder rejects others), and JSON needs it. */
		protobuf_c_message_free_unpacked(m, NULL);
		spok_err_set(err, SPOK_EINVAL, "%s: not a valid %s (a string field is not valid "
			     "UTF-8); pass a file written by flytekit/pyflyte", path, what);
		return NULL;
	}
	return m;
}

const char *spok_json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "list";
	case JSON_STRING: return "string";
	case JSON_INTEGER:
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	default: return "null";
	}
}

static int struct_json(const Google__Protobuf__Struct *st, const char *path, const char *field,
		       unsigned depth, json_t **out, struct spok_err *err);

static int number_json(double d, const char *path, const char *field, json_t **out,
		       struct spok_err *err)
{
	/* Struct has only doubles; k8s fields like runAsUser must come out as integers. */
	if (!isfinite(d))
		return spok_err_set(err, SPOK_EINVAL,
				    "%s: %s: number %g cannot be represented in JSON; use a finite number",
				    path, field, d);
	if (d == trunc(d) && fabs(d) < 9007199254740992.0)
		*out = json_integer((json_int_t)d);
	else
		*out = json_real(d);
	return SPOK_OK;
}

static int value_json(const Google__Protobuf__Value *v, const char *path, const char *field,
		      unsigned depth, json_t **out, struct spok_err *err)
{
	*out = NULL;
	switch (v->kind_case) {
	case GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE:
		return number_json(v->number_value, path, field, out, err);
	case GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE:
		*out = json_string(v->string_value);
		if (*out == NULL)
			return spok_err_set(err, SPOK_EINVAL,
					    "%s: %s: string is not valid UTF-8; fix the task definition",
					    path, field);
		return SPOK_OK;
	case GOOGLE__PROTOBUF__VALUE__KIND_BOOL_VALUE:
		*out = json_boolean(v->bool_value);
		return SPOK_OK;
	case GOOGLE__PROTOBUF__VALUE__KIND_STRUCT_VALUE:
		return struct_json(v->struct_value, path, field, depth + 1, out, err);
	case GOOGLE__PROTOBUF__VALUE__KIND_LIST_VALUE:
		*out = json_array();
		for (size_t i = 0; v->list_value != NULL && i < v->list_value->n_values; i++) {
			json_t *item;
			int rc = value_json(v->list_value->values[i], path, field, depth + 1, &item,
					    err);

			if (rc != SPOK_OK) {
				json_decref(*out);
				*out = NULL;
				return rc;
			}
			json_array_append_new(*out, item);
		}
		return SPOK_OK;
	default: /* null_value, or no kind at all */
		*out = json_null();
		return SPOK_OK;
	}
}

static int struct_json(const Google__Protobuf__Struct *st, const char *path, const char *field,
		       unsigned depth, json_t **out, struct spok_err *err)
{
	json_t *obj;

	*out = NULL;
	if (depth > SPOK_FLYTE_MAX_DEPTH)
		return spok_err_set(err, SPOK_EINVAL, "%s: %s: nested deeper than %d levels; "
				    "flatten the structure", path, field, SPOK_FLYTE_MAX_DEPTH);
	obj = json_object();
	for (size_t i = 0; st != NULL && i < st->n_fields; i++) {
		const Google__Protobuf__Struct__FieldsEntry *e = st->fields[i];
		json_t *v = NULL;
		int rc = SPOK_OK;

		if (e->value != NULL)
			rc = value_json(e->value, path, field, depth, &v, err);
		else
			v = json_null();
		if (rc != SPOK_OK) {
			json_decref(obj);
			return rc;
		}
		if (json_object_set_new(obj, e->key, v) != 0) {
			json_decref(obj);
			return spok_err_set(err, SPOK_EINVAL,
					    "%s: %s: a key is not valid UTF-8; fix the task definition",
					    path, field);
		}
	}
	*out = obj;
	return SPOK_OK;
}

int spok_struct_to_json(const Google__Protobuf__Struct *st, const char *path, const char *field,
			json_t **out, struct spok_err *err)
{
	return struct_json(st, path, field, 0, out, err);
}
