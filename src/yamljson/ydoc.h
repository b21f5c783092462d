/* ydoc.h - module yamljson: one YAML document loaded into a small tree that keeps
 * source positions, so job-file and config errors (src/jobfile walks it) and YAML->JSON
 * conversion errors can name line and column.
 *
 * Built from libyaml's event parser (yaml_parser_parse; not its document loader) because
 * we need positions of every node and hard caps on depth and alias expansion, enforced
 * while the events arrive. Aliases are resolved by
 * sharing the anchored node (the tree is a DAG); merge keys (`<<`) are applied and
 * duplicate scalar keys rejected while loading, so readers never see either.
 *
 * Ownership: struct ydoc owns every node (freed by ydoc_free); nodes reached through an
 * alias are shared, so readers must never free or modify nodes.
 */
#ifndef SPOK_YAMLJSON_YDOC_H
#define SPOK_YAMLJSON_YDOC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/strmap.h"

struct spok_err;

#define YDOC_MAX_INPUT ((size_t)4 << 20) /* bytes */
#define YDOC_MAX_DEPTH 64                /* nested collections */
#define YDOC_MAX_EXPAND ((size_t)1 << 20) /* nodes added by aliases and merge keys */

enum ykind { Y_SCALAR, Y_SEQ, Y_MAP };

struct ynode {
	enum ykind kind;
	int line, col;        /* 1-based position of the node's start */
	bool plain;           /* untagged plain scalar: typed by the YAML 1.2 core schema */
	char *text;           /* scalar text (NUL-terminated; may contain NULs, see len) */
	size_t len;
	struct ynode **items; /* SEQ: n items; MAP: n pairs as items[2i] key, items[2i+1] value */
	size_t n;
	size_t weight;        /* nodes in the expanded subtree, including this one */
	int height;           /* nesting of the expanded subtree: 0 for scalars */
};

struct ydoc {
	struct ynode *root;   /* NULL for an empty stream */
	struct ynode **all;   /* every node, for freeing */
	size_t nall, capall;
};

/* Loads the single document in text. Errors: "<path>:<line>:<col>: <problem>; <what to do>". */
int ydoc_load(struct ydoc *d, const char *text, size_t len, const char *path, struct spok_err *err);
void ydoc_free(struct ydoc *d);

/* As ydoc_load, but without the UTF-8/control-character check that runs before libyaml sees
 * the text: for the fuzz target that feeds libyaml's own reader arbitrary bytes. Product
 * code uses ydoc_load. */
int ydoc_load_raw(struct ydoc *d, const char *text, size_t len, const char *path,
		  struct spok_err *err);

/* The core-schema kind of a plain scalar. */
enum yscalar { YS_STRING, YS_NULL, YS_BOOL, YS_INT, YS_FLOAT };
enum yscalar ydoc_classify(const char *s, size_t len);

/* Converts a node to JSON. Scalar keys only; plain scalars typed by the core schema.
 * On error returns NULL with "<path>:<line>:<col>: <problem>" in err. */
json_t *ydoc_to_json(const struct ynode *n, const char *path, struct spok_err *err);

/* Records where each node of n's subtree starts, pos[path] = "line:col", so a check made
 * later on the JSON can still name line and column. Paths are built as the job-file
 * walker names fields: prefix, prefix.key, prefix[i] (prefix may be ""). Pairs whose key
 * is not a scalar are skipped; after YDOC_MAX_POSITIONS entries the rest are left out
 * (aliases can make a small file name very many paths). */
#define YDOC_MAX_POSITIONS 4096
void ydoc_positions(const struct ynode *n, const char *prefix, struct spok_strmap *pos);

#endif
