/* yamljson.h - YAML <-> JSON (jansson) conversion.
 *
 * Ownership: spok_yaml_to_json returns a new reference the caller json_decref()s;
 * spok_json_to_yaml returns a heap string the caller free()s. Neither keeps pointers
 * to its input.
 */
#ifndef SPOK_YAMLJSON_YAMLJSON_H
#define SPOK_YAMLJSON_YAMLJSON_H

#include <jansson.h>
#include <stddef.h>

#include "common/err.h"

/* Parses one YAML (or JSON) document into a new json_t (caller decrefs). Plain scalars that are
 * YAML 1.2 core-schema ints/floats/bools/null become JSON numbers/true/false/null; quoted scalars
 * stay strings. Plain values no JSON number can hold (.inf, .nan, 1e999) stay strings; integers
 * beyond 64 bits become reals. Anchors/aliases resolved; merge keys (<<) applied; duplicate keys
 * are errors. An empty stream gives JSON null. Errors: "<path>:<line>:<col>: <problem>; <what to
 * do>". Caps: input <= 4 MiB, nesting depth <= 64, alias/merge expansion <= 1Mi nodes.
 * path may be NULL ("<input>"). Returns NULL on error. */
json_t *spok_yaml_to_json(const char *text, size_t len, const char *path, struct spok_err *err);

/* As spok_yaml_to_json, and records where each node starts (pos[field path] = "line:col",
 * paths prefix, prefix.key, prefix[i]; see ydoc_positions) so checks made on the JSON can
 * name line and column. pos is added to, not cleared; the caller frees it. */
struct spok_strmap;
json_t *spok_yaml_to_json_at(const char *text, size_t len, const char *path, const char *prefix,
			     struct spok_strmap *pos, struct spok_err *err);

/* Emits j as block-style YAML (caller frees). Deterministic; keeps object key order; quotes any
 * string that would otherwise read back as a non-string ("true", "1", "null", "", "~", leading/
 * trailing space, ": ", "#", etc.) so spok_yaml_to_json(spok_json_to_yaml(j)) equals j.
 * Reals are written in the shortest form that reads back to the same double, always with a '.'
 * or exponent. Never returns NULL (a NULL j is written as "null"). */
char *spok_json_to_yaml(const json_t *j);

#endif
