/* flyteidl.h - Flyte protobufs in and out: task definitions, packages, literals, errors.
 *
 * Reads flyteidl.core.TaskTemplate / flyteidl.admin.TaskSpec (what `pyflyte package`
 * writes) into a struct spok_task, reads whole `pyflyte package` archives (.tgz), and
 * encodes/decodes the LiteralMap payloads (inputs.pb / outputs.pb) and ErrorDocuments
 * (error.pb) that flytekit's pyflyte-execute reads and writes.
 *
 * All input is treated as hostile: sizes are capped (a .pb at most 16 MiB, a package
 * at most 256 entries and 64 MiB uncompressed), message nesting is limited before
 * protobuf-c sees it, and every failure is one line in `err` naming the file or field.
 *
 * Ownership: `out` tasks are caller-owned; on success they are filled (call
 * spok_task_free), on failure they are left freed/zeroed. Buffers are borrowed for the
 * duration of the call. Returned heap memory (*out bytes, *code, *message) is freed
 * with free(); returned json_t holds one reference (json_decref).
 */
#ifndef SPOK_FLYTEIDL_FLYTEIDL_H
#define SPOK_FLYTEIDL_FLYTEIDL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/strmap.h"
#include "model/model.h"

#define SPOK_FLYTE_PB_MAX ((size_t)16 << 20)        /* one .pb file */
#define SPOK_FLYTE_PKG_MAX_ENTRIES 256              /* tar entries in a package */
#define SPOK_FLYTE_PKG_MAX_BYTES ((size_t)64 << 20) /* uncompressed package size */

/* Decodes a flyteidl.core.TaskTemplate into a task (origin SPOK_ORIGIN_FLYTE). `path`
 * names the source in errors and becomes out->source_path. */
int spok_flyte_parse_task_template(const uint8_t *buf, size_t len, const char *path,
				   struct spok_task *out, struct spok_err *err);

/* Decodes a flyteidl.admin.TaskSpec (what `pyflyte package` writes as <n>_<name>_1.pb). */
int spok_flyte_parse_task_spec(const uint8_t *buf, size_t len, const char *path,
			       struct spok_task *out, struct spok_err *err);

/* Loads a task from a file: a .pb holding a TaskSpec or a TaskTemplate, or a pyflyte
 * package (.tgz: tar+gzip of <n>_<name>_{1,2,3}.pb). In a package the task whose
 * Identifier.name equals task_name or ends with "." + task_name is chosen; with
 * task_name NULL the only task of type "spark" (an error lists candidates otherwise). */
int spok_flyte_load_task(const char *path, const char *task_name, struct spok_task *out,
			 struct spok_err *err);

/* The same on bytes already in memory (gzip magic => package, else .pb); `path` is only
 * used in messages and as source_path. Used by the fuzz targets and by callers that
 * already read the file. */
int spok_flyte_load_task_buf(const uint8_t *buf, size_t len, const char *path,
			     const char *task_name, struct spok_task *out, struct spok_err *err);

/* What a task file's name says it holds: the one rule for the CLI and the daemon. .yaml,
 * .yml, .json: a spok job file; .pb: a Flyte TaskSpec/TaskTemplate; .tgz, .tar.gz: a
 * pyflyte package (case-insensitive). Any other name says nothing: the content decides
 * (spok_flyte_sniff), so one odd byte in a .yaml is a YAML error, never a protobuf one. */
enum spok_task_file {
	SPOK_TASK_FILE_UNKNOWN,
	SPOK_TASK_FILE_JOB,
	SPOK_TASK_FILE_PROTO,
	SPOK_TASK_FILE_PACKAGE
};
enum spok_task_file spok_task_file_by_name(const char *path);

/* True if the bytes look like a protobuf or a gzip'd package rather than YAML text
 * (gzip magic, or C0 control bytes / invalid UTF-8, which YAML never contains). */
bool spok_flyte_sniff(const uint8_t *buf, size_t len);

/* Encodes a flyteidl.core.LiteralMap for `--input name=value` pairs typed by iface (the
 * task's inputs). Values: integer (int64), float, string, boolean (true/false/1/0),
 * datetime (RFC 3339, or a bare YYYY-MM-DD as midnight UTC), duration (Go style: 90s,
 * 1h30m, 250ms). Missing input, unknown name, bad value -> SPOK_EINVAL naming the input.
 * On success *out (caller frees) holds *out_len bytes. */
int spok_flyte_encode_inputs(const struct spok_vars *iface, const struct spok_strmap *values,
			     uint8_t **out, size_t *out_len, struct spok_err *err);
/* `--input` values for t (values may be NULL: none): only a flytekit task takes them, and they
 * must encode (spok_flyte_encode_inputs's checks). SPOK_EINVAL with one line otherwise. */
int spok_flyte_check_inputs(const struct spok_task *t, const struct spok_strmap *values,
			    struct spok_err *err);

/* Decodes a LiteralMap (outputs.pb) into a JSON object {name: value}: primitives as JSON
 * scalars (datetime/duration as RFC 3339 / "1.5s" strings), blobs, schemas and
 * structured datasets as {"uri": ...}, none as null, generic Structs as objects, binary
 * as {"binary": base64, "tag": tag}, collections/maps recursively. Caller decrefs *out. */
int spok_flyte_decode_literal_map(const uint8_t *buf, size_t len, const char *path,
				  json_t **out, struct spok_err *err);

/* Decodes an ErrorDocument (error.pb): *code and *message (caller frees both) and
 * *recoverable (ContainerError.kind == RECOVERABLE). */
int spok_flyte_decode_error(const uint8_t *buf, size_t len, const char *path, char **code,
			    char **message, bool *recoverable, struct spok_err *err);

/* What a flytekit task left in its output prefix dir (a path here). */
enum spok_flyte_outcome_kind {
	SPOK_FLYTE_OUTPUTS,   /* outputs.pb: outputs_json */
	SPOK_FLYTE_FAILED,    /* error.pb: reason "<code>: <last line>", error_message, recoverable */
	SPOK_FLYTE_NOTHING,   /* neither file: reason names dir and `see` */
	SPOK_FLYTE_UNREADABLE /* a file that cannot be read or decoded: reason */
};

struct spok_flyte_outcome {
	enum spok_flyte_outcome_kind kind;
	char *outputs_json;  /* compact JSON of the LiteralMap (spok_flyte_decode_literal_map) */
	char *reason;        /* one line for the execution's reason */
	char *error_message; /* the whole error message (error.pb) */
	bool recoverable;
};

/* Reads dir/error.pb (it wins) or dir/outputs.pb into *o (always set; free with
 * spok_flyte_outcome_free). see: where to look when neither exists (a log path, a command). */
void spok_flyte_read_outcome(const char *dir, const char *see, struct spok_flyte_outcome *o);
void spok_flyte_outcome_free(struct spok_flyte_outcome *o);

#endif
