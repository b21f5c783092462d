#include "jobfile/walk.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/xalloc.h"

#define SHOW_MAX 80

/* Copies s for a one-line message: control characters become '?', long text is cut. */
static void show(char *out, size_t outsz, const char *s, size_t len)
{
	size_t n = len < SHOW_MAX ? len : SHOW_MAX, j = 0;

	for (size_t i = 0; i < n && j + 1 < outsz; i++)
		out[j++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	out[j] = '\0';
	if (len > n && j + 4 < outsz)
		memcpy(out + j, "...", 4);
}

int walk_fail(struct walk *w, const struct ynode *at, const char *field, const char *fmt, ...)
{
	char msg[SPOK_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (at == NULL)
		return spok_err_set(w->err, SPOK_EINVAL, "%s: %s: %s", w->path, field, msg);
	return spok_err_set(w->err, SPOK_EINVAL, "%s:%d:%d: %s: %s", w->path, at->line, at->col,
			    field, msg);
}

void walk_child(char out[WALK_PATH_MAX], const char *field, const struct ynode *key)
{
	char k[SHOW_MAX + 8];

	if (key->kind == Y_SCALAR)
		show(k, sizeof(k), key->text, key->len);
	else
		memcpy(k, "<key>", 6);
	if (field == NULL || field[0] == '\0')
		snprintf(out, WALK_PATH_MAX, "%s", k);
	else
		snprintf(out, WALK_PATH_MAX, "%s.%s", field, k);
}

void walk_index(char out[WALK_PATH_MAX], const char *field, size_t i)
{
	snprintf(out, WALK_PATH_MAX, "%s[%zu]", field, i);
}

bool walk_is_null(const struct ynode *n)
{
	return n->kind == Y_SCALAR && n->plain && ydoc_classify(n->text, n->len) == YS_NULL;
}

static const char *kind_name(const struct ynode *n)
{
	if (n->kind == Y_MAP)
		return "a mapping";
	if (n->kind == Y_SEQ)
		return "a list";
	return "a scalar";
}

int walk_mapping(struct walk *w, const struct ynode *n, const char *field)
{
	if (n->kind != Y_MAP)
		return walk_fail(w, n, field, "expected a mapping, got %s; write key: value pairs",
				 kind_name(n));
	return SPOK_OK;
}

/* Case-insensitive edit distance, for typo suggestions. */
static size_t distance(const char *a, size_t la, const char *b)
{
	size_t lb = strlen(b), row[64], prev, tmp;

	if (la >= 63 || lb >= 63)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = strncasecmp(&a[i - 1], &b[j - 1], 1) == 0 ? 0 : 1;
			size_t best = prev + cost;

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

static const char *nearest(const char *k, size_t len, const char *const *keys)
{
	const char *best = NULL;
	size_t bestd = 99;

	for (size_t i = 0; keys[i] != NULL; i++) {
		size_t d = distance(k, len, keys[i]);
		size_t limit = strlen(keys[i]) >= 10 ? 3 : 2;

		if (d <= limit && d < bestd) {
			best = keys[i];
			bestd = d;
		}
	}
	return best;
}

static bool in_list(const struct ynode *key, const char *const *list)
{
	for (size_t i = 0; list != NULL && list[i] != NULL; i++)
		if (strlen(list[i]) == key->len && memcmp(list[i], key->text, key->len) == 0)
			return true;
	return false;
}

int walk_key(struct walk *w, const struct ynode *key, const char *field,
	     const char *const *keys, const char *const *ignored, int *idx)
{
	char path[WALK_PATH_MAX];
	const char *near;

	if (key->kind != Y_SCALAR)
		return walk_fail(w, key, field[0] ? field : "(top level)",
				 "keys must be scalars, got %s; use a plain key", kind_name(key));
	for (int i = 0; keys[i] != NULL; i++) {
		if (strlen(keys[i]) == key->len && memcmp(keys[i], key->text, key->len) == 0) {
			*idx = i;
			return SPOK_OK;
		}
	}
	if (in_list(key, ignored)) {
		*idx = -1;
		return SPOK_OK;
	}
	walk_child(path, field, key);
	near = nearest(key->text, key->len, keys);
	if (near != NULL)
		return walk_fail(w, key, path, "unknown key; did you mean '%s'?", near);
	return walk_fail(w, key, path, "unknown key; see %s for the valid keys", w->doc_ref);
}

int walk_text(struct walk *w, const struct ynode *n, const char *field, char **out)
{
	if (n->kind != Y_SCALAR)
		return walk_fail(w, n, field, "expected a scalar value, got %s; quote the value",
				 kind_name(n));
	if (strlen(n->text) != n->len)
		return walk_fail(w, n, field, "value contains a NUL character; remove it");
	*out = xstrdup(n->text);
	return SPOK_OK;
}

int walk_string(struct walk *w, const struct ynode *n, const char *field, char **out)
{
	char *s = NULL;

	if (walk_is_null(n)) {
		free(*out);
		*out = NULL;
		return SPOK_OK;
	}
	if (n->kind != Y_SCALAR)
		return walk_fail(w, n, field, "expected a string, got %s; write a single value",
				 kind_name(n));
	if (walk_text(w, n, field, &s) != SPOK_OK)
		return SPOK_EINVAL;
	free(*out);
	*out = s;
	return SPOK_OK;
}

int walk_bool(struct walk *w, const struct ynode *n, const char *field, bool *out)
{
	char shown[SHOW_MAX + 8];

	if (n->kind == Y_SCALAR && n->plain && ydoc_classify(n->text, n->len) == YS_BOOL) {
		*out = n->text[0] == 't' || n->text[0] == 'T';
		return SPOK_OK;
	}
	if (n->kind != Y_SCALAR)
		return walk_fail(w, n, field, "expected true or false, got %s; write true or false",
				 kind_name(n));
	show(shown, sizeof(shown), n->text, n->len);
	return walk_fail(w, n, field, "expected true or false, got '%s'; write true or false (unquoted)",
			 shown);
}

static bool parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 19)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

int walk_uint(struct walk *w, const struct ynode *n, const char *field, uint64_t max, uint64_t *out)
{
	char shown[SHOW_MAX + 8];
	const char *s = n->text;
	size_t len = n->len;
	uint64_t v;

	if (n->kind != Y_SCALAR)
		return walk_fail(w, n, field, "expected a whole number, got %s; write a number from 0 to %llu",
				 kind_name(n), (unsigned long long)max);
	if (len > 0 && s[0] == '+') {
		s++;
		len--;
	}
	show(shown, sizeof(shown), n->text, n->len);
	if (!parse_u64(s, len, &v) || v > max)
		return walk_fail(w, n, field, "'%s' is not a whole number from 0 to %llu; write one",
				 shown, (unsigned long long)max);
	*out = v;
	return SPOK_OK;
}

int walk_int(struct walk *w, const struct ynode *n, const char *field, long min, long max, long *out)
{
	char shown[SHOW_MAX + 8];
	bool neg = n->kind == Y_SCALAR && n->len > 0 && n->text[0] == '-';
	uint64_t v = 0;
	long x;

	if (n->kind != Y_SCALAR)
		return walk_fail(w, n, field, "expected a whole number, got %s; write a number from %ld to %ld",
				 kind_name(n), min, max);
	show(shown, sizeof(shown), n->text, n->len);
	if (!parse_u64(n->text + neg, n->len - neg, &v) || v > (uint64_t)max + (neg ? 1u : 0u))
		return walk_fail(w, n, field, "'%s' is not a whole number from %ld to %ld; write one",
				 shown, min, max);
	x = neg ? -(long)v : (long)v;
	if (x < min || x > max)
		return walk_fail(w, n, field, "'%s' is not a whole number from %ld to %ld; write one",
				 shown, min, max);
	*out = x;
	return SPOK_OK;
}

static int map_pairs(struct walk *w, const struct ynode *n, const char *field, struct spok_strmap *out)
{
	char path[WALK_PATH_MAX];

	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->items[2 * i], *v = n->items[2 * i + 1];
		char *ks = NULL, *vs = NULL;

		if (k->kind != Y_SCALAR)
			return walk_fail(w, k, field, "keys must be scalars, got %s; use a plain key",
					 kind_name(k));
		walk_child(path, field, k);
		if (walk_text(w, k, path, &ks) != SPOK_OK)
			return SPOK_EINVAL;
		if (walk_text(w, v, path, &vs) != SPOK_OK) {
			free(ks);
			return SPOK_EINVAL;
		}
		spok_strmap_set(out, ks, vs);
		free(ks);
		free(vs);
	}
	return SPOK_OK;
}

int walk_strmap(struct walk *w, const struct ynode *n, const char *field, bool helm_list,
		struct spok_strmap *out)
{
	struct spok_strmap m = {0};
	char path[WALK_PATH_MAX];
	int result = SPOK_OK;

	if (walk_is_null(n)) {
		spok_strmap_free(out);
		return SPOK_OK;
	}
	if (n->kind == Y_MAP) {
		result = map_pairs(w, n, field, &m);
	} else if (n->kind == Y_SEQ && helm_list) {
		for (size_t i = 0; i < n->n && result == SPOK_OK; i++) {
			walk_index(path, field, i);
			if (n->items[i]->kind != Y_MAP)
				result = walk_fail(w, n->items[i], path,
						   "expected a single-entry mapping (- key: value), got %s; fix the list item",
						   kind_name(n->items[i]));
			else
				result = map_pairs(w, n->items[i], field, &m);
		}
	} else {
		result = walk_fail(w, n, field, "expected a mapping of key: value, got %s; write key: value pairs",
				   kind_name(n));
	}
	if (result != SPOK_OK) {
		spok_strmap_free(&m);
		return result;
	}
	spok_strmap_free(out);
	*out = m;
	return SPOK_OK;
}

int walk_strv(struct walk *w, const struct ynode *n, const char *field, struct spok_strv *out)
{
	struct spok_strv v = {0};
	char path[WALK_PATH_MAX];

	if (walk_is_null(n)) {
		spok_strv_free(out);
		return SPOK_OK;
	}
	if (n->kind != Y_SEQ)
		return walk_fail(w, n, field, "expected a list, got %s; write [a, b] or one '- item' per line",
				 kind_name(n));
	for (size_t i = 0; i < n->n; i++) {
		char *s = NULL;

		walk_index(path, field, i);
		if (walk_text(w, n->items[i], path, &s) != SPOK_OK) {
			spok_strv_free(&v);
			return SPOK_EINVAL;
		}
		spok_strv_push_own(&v, s);
	}
	spok_strv_free(out);
	*out = v;
	return SPOK_OK;
}

int walk_json(struct walk *w, const struct ynode *n, const char *field, int kind, json_t **out)
{
	struct spok_err sub;
	json_t *j;

	if (walk_is_null(n)) {
		json_decref(*out);
		*out = NULL;
		return SPOK_OK;
	}
	if (kind >= 0 && n->kind != (enum ykind)kind)
		return walk_fail(w, n, field, "expected %s, got %s; fix the value",
				 kind == Y_MAP ? "a mapping" : "a list", kind_name(n));
	j = ydoc_to_json(n, w->path, &sub);
	if (j == NULL)
		return spok_err_set(w->err, SPOK_EINVAL, "%s (in %s)", sub.msg, field);
	json_decref(*out);
	*out = j;
	return SPOK_OK;
}

int walk_read_file(struct spok_buf *b, const char *path, struct spok_err *err)
{
	int result;

	spok_buf_init(b, YDOC_MAX_INPUT);
	result = spok_buf_read_file(b, path, err);
	if (result == SPOK_EINVAL)
		spok_err_set(err, result, "%s: file is larger than %zu MiB; split or shrink it",
			     path, YDOC_MAX_INPUT >> 20);
	return result;
}
