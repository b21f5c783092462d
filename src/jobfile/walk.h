/* walk.h - internal to src/jobfile: typed readers over a struct ydoc tree, shared by the job-file
 * and platform-config parsers. Every reader reports errors as one line:
 *   <file>:<line>:<col>: <field path>: <problem>; <what to do>
 * Outputs are replaced only on success; strings/maps written into them are owned by the
 * caller's struct (freed by its model *_free function).
 */
#ifndef SPOK_JOBFILE_WALK_H
#define SPOK_JOBFILE_WALK_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "common/strmap.h"
#include "common/strv.h"
#include "yamljson/ydoc.h"

#define WALK_PATH_MAX 512

struct walk {
	const char *path;       /* file name for messages */
	struct spok_err *err;
	const char *doc_ref;    /* "docs/JOBFILE.md" or "docs/CONFIG.md", named when no key is close */
};

int walk_fail(struct walk *w, const struct ynode *at, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* field + "." + key (key shown safely: control characters replaced, long keys cut). */
void walk_child(char out[WALK_PATH_MAX], const char *field, const struct ynode *key);
void walk_index(char out[WALK_PATH_MAX], const char *field, size_t i);

bool walk_is_null(const struct ynode *n);
int walk_mapping(struct walk *w, const struct ynode *n, const char *field); /* null is not ok */

/* Looks the key up in keys[] (NULL-terminated). Returns its index, or -1 if it is in
 * ignored[] (may be NULL); otherwise fails naming the key and the nearest valid one. */
int walk_key(struct walk *w, const struct ynode *key, const char *field,
	     const char *const *keys, const char *const *ignored, int *idx);

/* A scalar as its literal text (new heap string); collections and NUL bytes are errors. */
int walk_text(struct walk *w, const struct ynode *n, const char *field, char **out);
int walk_string(struct walk *w, const struct ynode *n, const char *field, char **out); /* replaces *out; null -> NULL */
int walk_bool(struct walk *w, const struct ynode *n, const char *field, bool *out);
int walk_uint(struct walk *w, const struct ynode *n, const char *field, uint64_t max, uint64_t *out);
int walk_int(struct walk *w, const struct ynode *n, const char *field, long min, long max, long *out);
/* Mapping of scalar -> scalar (values as literal text). helm_list also accepts a list of
 * single-entry mappings ([{k: v}, {k2: v2}]), as Flyte's Helm charts write them. */
int walk_strmap(struct walk *w, const struct ynode *n, const char *field, bool helm_list,
		struct spok_strmap *out);
int walk_strv(struct walk *w, const struct ynode *n, const char *field, struct spok_strv *out);
/* Any value as JSON; kind is Y_MAP or Y_SEQ to require one, or -1 for any. null -> NULL. */
int walk_json(struct walk *w, const struct ynode *n, const char *field, int kind, json_t **out);

/* Reads a whole input file (capped at YDOC_MAX_INPUT) into b, which it initialises;
 * the caller frees b either way. */
struct spok_buf;
int walk_read_file(struct spok_buf *b, const char *path, struct spok_err *err);

#endif
