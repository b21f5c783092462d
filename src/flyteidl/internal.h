/* internal.h - helpers shared by the flyteidl module's files (not a public API). */
#ifndef SPOK_FLYTEIDL_INTERNAL_H
#define SPOK_FLYTEIDL_INTERNAL_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "model/model.h"

#include "google/protobuf/struct.pb-c.h"

/* Deepest message nesting accepted; protobuf-c recurses once per level with no limit. */
#define SPOK_FLYTE_MAX_DEPTH 64

/* Checks size cap, wire structure and nesting depth, then unpacks `desc` from buf.
 * Returns the message (free with protobuf_c_message_free_unpacked) or NULL with err set:
 * "<path>: not a valid <what> protobuf (<why>); <hint>". */
ProtobufCMessage *spok_pb_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *buf,
				 size_t len, const char *path, const char *what,
				 struct spok_err *err);

/* Structural check only (no allocation): true if buf parses as `desc` on the wire. */
bool spok_pb_wire_ok(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len);

/* google.protobuf.Struct / Value -> JSON (integral numbers become JSON integers).
 * `field` names the place in errors. NULL st gives an empty object. */
int spok_struct_to_json(const Google__Protobuf__Struct *st, const char *path, const char *field,
			json_t **out, struct spok_err *err);

/* Name of a JSON type for messages ("string", "number", "object", ...). */
const char *spok_json_type_name(const json_t *v);

/* Fills task fields from a SparkJob in proto-JSON form (TaskTemplate.custom). */
int spok_sparkjob_from_json(const json_t *custom, const char *path, struct spok_task *t,
			    struct spok_err *err);

/* Fills a spok_pod from a K8sPod in proto-JSON form; `field` names it in errors. */
int spok_pod_from_json(const json_t *pod, const char *path, const char *field,
		       struct spok_pod *out, struct spok_err *err);

/* Parses a TaskTemplate already unpacked; errors name `path`; source_path set to `source`. */
struct Flyteidl__Core__TaskTemplate;
int spok_task_from_template(const struct Flyteidl__Core__TaskTemplate *tt, const char *path,
			    const char *source, struct spok_task *out, struct spok_err *err);

#endif
