#include "yamljson/ydoc.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/utf8.h"
#include "common/xalloc.h"

#define TAG_STR "tag:yaml.org,2002:str"

struct frame {
	struct ynode *node;
	char *anchor;       /* registered when the collection ends, so `&a [*a]` is rejected */
	size_t cap;
};

struct anchor {
	char *name;
	struct ynode *node;
};

struct loader {
	struct ydoc *d;
	const char *path;
	struct spok_err *err;
	struct frame stack[YDOC_MAX_DEPTH];
	int depth;
	struct anchor *anchors;
	size_t nanchors;
	json_t *anchor_index;   /* anchor name -> index into anchors (latest definition wins) */
	const char *src;        /* the input text, to place libyaml's byte-offset errors */
	size_t srclen;
	size_t expanded;        /* nodes added by aliases and merges, capped by YDOC_MAX_EXPAND */
	int ndocs;
};

static int lfail(struct loader *l, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int lfail(struct loader *l, int line, int col, const char *fmt, ...)
{
	char msg[SPOK_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return spok_err_set(l->err, SPOK_EINVAL, "%s:%d:%d: %s", l->path, line, col, msg);
}

/* libyaml's 0-based mark as a 1-based line or column. */
static int mark_int(size_t v)
{
	return v >= (size_t)INT_MAX ? INT_MAX : (int)v + 1;
}

static struct ynode *new_node(struct loader *l, enum ykind kind, const yaml_mark_t *m)
{
	struct ynode *n = xcalloc(1, sizeof(*n));
	struct ydoc *d = l->d;

	n->kind = kind;
	n->line = mark_int(m->line);
	n->col = mark_int(m->column);
	n->weight = 1;
	if (d->nall == d->capall) {
		d->capall = d->capall ? d->capall * 2 : 64;
		d->all = xreallocarray(d->all, d->capall, sizeof(*d->all));
	}
	d->all[d->nall++] = n;
	return n;
}

static char *dup_text(const yaml_char_t *s, size_t len)
{
	char *copy = xmalloc(len + 1);

	if (len > 0)
		memcpy(copy, s, len);
	copy[len] = '\0';
	return copy;
}

static void add_item(struct ynode *parent, size_t *cap, struct ynode *child)
{
	if (parent->n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		parent->items = xreallocarray(parent->items, *cap, sizeof(*parent->items));
	}
	parent->items[parent->n++] = child;
}

static void register_anchor(struct loader *l, char *name, size_t len, struct ynode *n)
{
	l->anchors = xreallocarray(l->anchors, l->nanchors + 1, sizeof(*l->anchors));
	l->anchors[l->nanchors].name = name;
	l->anchors[l->nanchors].node = n;
	json_object_setn_new_nocheck(l->anchor_index, name, len, json_integer((json_int_t)l->nanchors));
	l->nanchors++;
}

/* Hangs a finished node under the open collection (or makes it the root). */
static int attach(struct loader *l, struct ynode *n)
{
	if (l->depth == 0) {
		l->d->root = n;
		return SPOK_OK;
	}
	add_item(l->stack[l->depth - 1].node, &l->stack[l->depth - 1].cap, n);
	return SPOK_OK;
}

static bool is_merge_key(const struct ynode *k)
{
	return k->kind == Y_SCALAR && k->plain && k->len == 2 && memcmp(k->text, "<<", 2) == 0;
}

static int charge(struct loader *l, const struct ynode *at, size_t n)
{
	l->expanded += n;
	if (l->expanded > YDOC_MAX_EXPAND)
		return lfail(l, at->line, at->col,
			     "aliases and merge keys expand the document past %zu nodes; use fewer aliases",
			     YDOC_MAX_EXPAND);
	return SPOK_OK;
}

/* Copies the pairs of one merged mapping that are not already present. */
static int merge_from(struct loader *l, const struct ynode *src, json_t *seen,
		      struct ynode ***out, size_t *nout, size_t *cap)
{
	for (size_t i = 0; i < src->n; i++) {
		struct ynode *k = src->items[2 * i], *v = src->items[2 * i + 1];

		if (k->kind == Y_SCALAR) {
			if (json_object_getn(seen, k->text, k->len) != NULL)
				continue;
			json_object_setn_new_nocheck(seen, k->text, k->len, json_true());
		}
		if (charge(l, k, k->weight + v->weight) != SPOK_OK)
			return SPOK_EINVAL;
		if (*nout + 2 > *cap) {
			*cap = *cap ? *cap * 2 : 16;
			*out = xreallocarray(*out, *cap, sizeof(**out));
		}
		(*out)[(*nout)++] = k;
		(*out)[(*nout)++] = v;
	}
	return SPOK_OK;
}

static int apply_merges(struct loader *l, struct ynode *map, json_t *seen)
{
	struct ynode **out = NULL;
	size_t nout = 0, cap = 0;
	int result = SPOK_OK;

	for (size_t i = 0; i < map->n && result == SPOK_OK; i++) {
		struct ynode *k = map->items[2 * i], *v = map->items[2 * i + 1];

		if (!is_merge_key(k)) {
			struct ynode *pair[2] = {k, v};
			if (nout + 2 > cap) {
				cap = cap ? cap * 2 : 16;
				out = xreallocarray(out, cap, sizeof(*out));
			}
			memcpy(&out[nout], pair, sizeof(pair));
			nout += 2;
		} else if (v->kind == Y_MAP) {
			result = merge_from(l, v, seen, &out, &nout, &cap);
		} else if (v->kind == Y_SEQ) {
			for (size_t j = 0; j < v->n && result == SPOK_OK; j++) {
				if (v->items[j]->kind != Y_MAP)
					result = lfail(l, v->items[j]->line, v->items[j]->col,
						       "merge key '<<' takes a mapping or a list of mappings; fix the merged value");
				else
					result = merge_from(l, v->items[j], seen, &out, &nout, &cap);
			}
		} else {
			result = lfail(l, v->line, v->col,
				       "merge key '<<' takes a mapping or a list of mappings; fix the merged value");
		}
	}
	if (result != SPOK_OK) {
		free(out);
		return result;
	}
	free(map->items);
	map->items = out;
	map->n = nout / 2;
	return SPOK_OK;
}

/* Rejects duplicate scalar keys, then applies `<<` merges (explicit keys win, earlier
 * merged mappings win over later ones, as the YAML merge-key spec says). */
static int finish_map(struct loader *l, struct ynode *map)
{
	json_t *seen = json_object();
	bool merges = false;
	int result = SPOK_OK;

	map->n /= 2;
	for (size_t i = 0; i < map->n && result == SPOK_OK; i++) {
		struct ynode *k = map->items[2 * i];

		if (is_merge_key(k)) {
			merges = true;
		} else if (k->kind == Y_SCALAR) {
			if (json_object_getn(seen, k->text, k->len) != NULL)
				result = lfail(l, k->line, k->col, "duplicate key '%.*s'; remove one of them",
					       (int)(k->len > 200 ? 200 : k->len), k->text);
			else
				json_object_setn_new_nocheck(seen, k->text, k->len, json_true());
		}
	}
	if (result == SPOK_OK && merges)
		result = apply_merges(l, map, seen);
	json_decref(seen);
	return result;
}

static void measure(struct ynode *n)
{
	size_t count = n->kind == Y_MAP ? 2 * n->n : n->n;

	n->weight = 1;
	n->height = 0;
	for (size_t i = 0; i < count; i++) {
		n->weight += n->items[i]->weight;
		if (n->items[i]->height > n->height)
			n->height = n->items[i]->height;
	}
	n->height++;
}

static bool forces_string(const yaml_char_t *tag)
{
	/* `!` and `!!str` force a string; other tags are ignored. */
	return tag != NULL && (strcmp((const char *)tag, "!") == 0 ||
			       strcmp((const char *)tag, TAG_STR) == 0);
}

static int on_scalar(struct loader *l, const yaml_event_t *ev)
{
	struct ynode *n = new_node(l, Y_SCALAR, &ev->start_mark);

	n->text = dup_text(ev->data.scalar.value, ev->data.scalar.length);
	n->len = ev->data.scalar.length;
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		   !forces_string(ev->data.scalar.tag);
	n->height = 0;
	if (ev->data.scalar.anchor != NULL) {
		size_t al = strlen((const char *)ev->data.scalar.anchor);

		register_anchor(l, dup_text(ev->data.scalar.anchor, al), al, n);
	}
	return attach(l, n);
}

static int on_alias(struct loader *l, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	size_t len = name ? strlen(name) : 0;
	int cut = (int)(len > 100 ? 100 : len);
	json_t *idx = name ? json_object_getn(l->anchor_index, name, len) : NULL;
	struct ynode *target;

	if (idx == NULL || (size_t)json_integer_value(idx) >= l->nanchors)
		return lfail(l, mark_int(ev->start_mark.line), mark_int(ev->start_mark.column),
			     "unknown alias '*%.*s'; define the anchor '&%.*s' before using it",
			     cut, name ? name : "", cut, name ? name : "");
	target = l->anchors[json_integer_value(idx)].node;
	if (charge(l, target, target->weight) != SPOK_OK)
		return SPOK_EINVAL;
	return attach(l, target);
}

static int on_start(struct loader *l, const yaml_event_t *ev, enum ykind kind)
{
	const yaml_char_t *anchor = kind == Y_MAP ? ev->data.mapping_start.anchor
						  : ev->data.sequence_start.anchor;
	struct ynode *n = new_node(l, kind, &ev->start_mark);
	struct frame *f;

	if (l->depth >= YDOC_MAX_DEPTH)
		return lfail(l, n->line, n->col,
			     "nesting is deeper than %d levels; flatten the document", YDOC_MAX_DEPTH);
	f = &l->stack[l->depth++];
	f->node = n;
	f->cap = 0;
	f->anchor = anchor ? dup_text(anchor, strlen((const char *)anchor)) : NULL;
	return SPOK_OK;
}

static int on_end(struct loader *l)
{
	struct frame *f = &l->stack[l->depth - 1];
	struct ynode *n = f->node;
	int result = SPOK_OK;

	if (n->kind == Y_MAP)
		result = finish_map(l, n);
	if (result != SPOK_OK)
		return result;
	measure(n);
	if (n->height > YDOC_MAX_DEPTH)
		return lfail(l, n->line, n->col,
			     "nesting (with aliases expanded) is deeper than %d levels; flatten the document",
			     YDOC_MAX_DEPTH);
	l->depth--;
	if (f->anchor != NULL) {
		register_anchor(l, f->anchor, strlen(f->anchor), n);
		f->anchor = NULL;
	}
	return attach(l, n);
}

static int on_event(struct loader *l, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++l->ndocs > 1)
			return lfail(l, mark_int(ev->start_mark.line), mark_int(ev->start_mark.column),
				     "more than one YAML document; keep one document per file");
		return SPOK_OK;
	case YAML_SCALAR_EVENT:
		return on_scalar(l, ev);
	case YAML_ALIAS_EVENT:
		return on_alias(l, ev);
	case YAML_MAPPING_START_EVENT:
		return on_start(l, ev, Y_MAP);
	case YAML_SEQUENCE_START_EVENT:
		return on_start(l, ev, Y_SEQ);
	case YAML_MAPPING_END_EVENT:
	case YAML_SEQUENCE_END_EVENT:
		return l->depth > 0 ? on_end(l) : SPOK_OK;
	default:
		return SPOK_OK;
	}
}

/* Line and column of a byte offset, for libyaml's reader errors (which carry only that). */
static void offset_position(const struct loader *l, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && i < l->srclen; i++) {
		if (l->src[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)l->src[i] & 0xC0) != 0x80 && *col < INT_MAX) {
			(*col)++;
		}
	}
}

/* One line from libyaml's error: where, what, and which construct it was reading. */
static int syntax_error(struct loader *l, const yaml_parser_t *p)
{
	const char *problem = p->problem ? p->problem : "invalid YAML";
	int line, col;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return spok_err_set(l->err, SPOK_EINTERNAL, "%s: out of memory while parsing YAML",
				    l->path);
	case YAML_READER_ERROR:
		offset_position(l, p->problem_offset, &line, &col);
		return lfail(l, line, col, "%s; save the file as UTF-8 text", problem);
	default:
		break;
	}
	line = mark_int(p->problem_mark.line);
	col = mark_int(p->problem_mark.column);
	if (p->context == NULL)
		return lfail(l, line, col, "%s; fix the YAML syntax", problem);
	if (p->context_mark.index == p->problem_mark.index)
		return lfail(l, line, col, "%s %s; fix the YAML syntax", problem, p->context);
	return lfail(l, line, col, "%s %s that starts at %d:%d; fix the YAML syntax", problem,
		     p->context, mark_int(p->context_mark.line), mark_int(p->context_mark.column));
}

/* Runs libyaml's event parser over the text, building the tree as events arrive, so
 * the caps stop a hostile document before the parser has read all of it. */
static int run_parser(struct loader *l, const char *text, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int result = SPOK_OK;
	bool done = false;

	if (!yaml_parser_initialize(&p))
		return spok_err_set(l->err, SPOK_EINTERNAL, "%s: cannot create a YAML parser", l->path);
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
	while (result == SPOK_OK && !done) {
		if (!yaml_parser_parse(&p, &ev)) {
			result = syntax_error(l, &p);
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		result = on_event(l, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return result;
}

/* YAML's c-printable set. */
static bool printable(uint32_t cp)
{
	return cp == 0x09 || cp == 0x0A || cp == 0x0D || (cp >= 0x20 && cp <= 0x7E) || cp == 0x85 ||
	       (cp >= 0xA0 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) || cp >= 0x10000;
}

/* YAML streams are Unicode text. Checking before libyaml sees the bytes gives an error
 * with line and column (libyaml's reader names only a byte offset), and keeps NULs, other
 * control characters and UTF-16 (which libyaml would otherwise decode) out. */
static int check_text(struct loader *l, const char *text, size_t len)
{
	const unsigned char *u = (const unsigned char *)text;
	int line = 1, col = 1;

	for (size_t i = 0; i < len;) {
		uint32_t cp = 0;
		size_t n = spok_utf8_decode(text + i, len - i, &cp);

		if (n == 0 || !printable(cp))
			return lfail(l, line, col,
				     "invalid UTF-8 or control character (byte 0x%02X); save the file as UTF-8 text",
				     u[i]);
		if (cp == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
		i += n;
	}
	return SPOK_OK;
}

static int load(struct ydoc *d, const char *text, size_t len, const char *path, bool check,
		struct spok_err *err)
{
	struct loader l;
	int result;

	memset(d, 0, sizeof(*d));
	memset(&l, 0, sizeof(l));
	l.d = d;
	l.path = path ? path : "<input>";
	l.err = err;
	l.src = text;
	l.srclen = len;
	if (len > YDOC_MAX_INPUT)
		return spok_err_set(err, SPOK_EINVAL, "%s: input is %zu bytes, more than the %zu-byte limit; split or shrink the file",
				    l.path, len, YDOC_MAX_INPUT);
	result = check ? check_text(&l, text, len) : SPOK_OK;
	if (result != SPOK_OK)
		return result;
	l.anchor_index = json_object();
	result = run_parser(&l, len ? text : "", len);
	for (int i = 0; i < l.depth; i++)
		free(l.stack[i].anchor);
	for (size_t i = 0; i < l.nanchors; i++)
		free(l.anchors[i].name);
	free(l.anchors);
	json_decref(l.anchor_index);
	if (result != SPOK_OK)
		ydoc_free(d);
	return result;
}

int ydoc_load(struct ydoc *d, const char *text, size_t len, const char *path, struct spok_err *err)
{
	return load(d, text, len, path, true, err);
}

int ydoc_load_raw(struct ydoc *d, const char *text, size_t len, const char *path,
		  struct spok_err *err)
{
	return load(d, text, len, path, false, err);
}

void ydoc_free(struct ydoc *d)
{
	for (size_t i = 0; i < d->nall; i++) {
		free(d->all[i]->text);
		free(d->all[i]->items);
		free(d->all[i]);
	}
	free(d->all);
	memset(d, 0, sizeof(*d));
}

/* ---- YAML 1.2 core schema ---- */

static bool any_of(const char *s, size_t len, const char *const *words)
{
	for (size_t i = 0; words[i] != NULL; i++)
		if (strlen(words[i]) == len && memcmp(s, words[i], len) == 0)
			return true;
	return false;
}

static size_t span(const char *s, size_t len, const char *set)
{
	size_t i = 0;

	while (i < len && s[i] != '\0' && strchr(set, s[i]) != NULL)
		i++;
	return i;
}

#define DIGITS "0123456789"

static bool is_int(const char *s, size_t len)
{
	size_t i = 0;

	if (len > 2 && s[0] == '0' && s[1] == 'o')
		return span(s + 2, len - 2, "01234567") == len - 2;
	if (len > 2 && s[0] == '0' && s[1] == 'x')
		return span(s + 2, len - 2, DIGITS "abcdefABCDEF") == len - 2;
	if (len > 0 && (s[0] == '-' || s[0] == '+'))
		i++;
	return i < len && span(s + i, len - i, DIGITS) == len - i;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool is_float_number(const char *s, size_t len)
{
	size_t i = 0, d;

	if (i < len && (s[i] == '-' || s[i] == '+'))
		i++;
	if (i < len && s[i] == '.') {
		d = span(s + i + 1, len - i - 1, DIGITS);
		if (d == 0)
			return false;
		i += 1 + d;
	} else {
		d = span(s + i, len - i, DIGITS);
		if (d == 0)
			return false;
		i += d;
		if (i < len && s[i] == '.')
			i += 1 + span(s + i + 1, len - i - 1, DIGITS);
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '-' || s[i] == '+'))
			i++;
		d = span(s + i, len - i, DIGITS);
		if (d == 0)
			return false;
		i += d;
	}
	return i == len;
}

static bool is_float(const char *s, size_t len)
{
	static const char *const special[] = {
		".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
		".nan", ".NaN", ".NAN", NULL};

	return any_of(s, len, special) || is_float_number(s, len);
}

enum yscalar ydoc_classify(const char *s, size_t len)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
	static const char *const bools[] = {"true", "True", "TRUE", "false", "False", "FALSE", NULL};

	if (any_of(s, len, nulls))
		return YS_NULL;
	if (any_of(s, len, bools))
		return YS_BOOL;
	if (is_int(s, len))
		return YS_INT;
	if (is_float(s, len))
		return YS_FLOAT;
	return YS_STRING;
}

/* ---- conversion to JSON ---- */

static json_t *json_text(const struct ynode *n)
{
	return json_stringn(n->text, n->len);  /* NULL if not UTF-8 */
}

/* Integers beyond 64 bits become reals; values no JSON number can hold (.inf, .nan,
 * 1e999) stay strings, so the document still converts. */
static json_t *json_int(const struct ynode *n)
{
	const char *s = n->text;
	char *end;
	int base = 10;
	unsigned long long u;
	long long v;

	if (s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
		base = s[1] == 'o' ? 8 : 16;
		errno = 0;
		u = strtoull(s + 2, &end, base);
		if (errno != 0 || u > (unsigned long long)LLONG_MAX)
			return json_text(n);
		return json_integer((json_int_t)u);
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == ERANGE) {
		double x = strtod(s, &end);
		return isfinite(x) ? json_real(x) : json_text(n);
	}
	return json_integer(v);
}

static json_t *json_float(const struct ynode *n)
{
	char *end;
	double x;

	if (!is_float_number(n->text, n->len))
		return json_text(n);
	x = strtod(n->text, &end);
	return isfinite(x) ? json_real(x) : json_text(n);
}

static json_t *scalar_to_json(const struct ynode *n)
{
	if (!n->plain)
		return json_text(n);
	switch (ydoc_classify(n->text, n->len)) {
	case YS_NULL:
		return json_null();
	case YS_BOOL:
		return json_boolean(n->text[0] == 't' || n->text[0] == 'T');
	case YS_INT:
		return json_int(n);
	case YS_FLOAT:
		return json_float(n);
	default:
		return json_text(n);
	}
}

static json_t *convert(const struct ynode *n, const char *path, struct spok_err *err);

static json_t *map_to_json(const struct ynode *n, const char *path, struct spok_err *err)
{
	json_t *obj = json_object();

	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->items[2 * i];
		json_t *v;

		if (k->kind != Y_SCALAR) {
			spok_err_set(err, SPOK_EINVAL, "%s:%d:%d: mapping keys must be scalars; use a plain or quoted string key",
				     path, k->line, k->col);
			goto fail;
		}
		if (memchr(k->text, '\0', k->len) != NULL) {
			/* jansson looks keys up as C strings, so such a key could never be found */
			spok_err_set(err, SPOK_EINVAL, "%s:%d:%d: key contains a NUL character; remove it",
				     path, k->line, k->col);
			goto fail;
		}
		v = convert(n->items[2 * i + 1], path, err);
		if (v == NULL)
			goto fail;
		if (json_object_setn_new(obj, k->text, k->len, v) != 0) {
			spok_err_set(err, SPOK_EINVAL, "%s:%d:%d: key is not valid UTF-8; save the file as UTF-8",
				     path, k->line, k->col);
			goto fail;
		}
	}
	return obj;
fail:
	json_decref(obj);
	return NULL;
}

static json_t *convert(const struct ynode *n, const char *path, struct spok_err *err)
{
	json_t *j;

	if (n->kind == Y_MAP)
		return map_to_json(n, path, err);
	if (n->kind == Y_SEQ) {
		j = json_array();
		for (size_t i = 0; i < n->n; i++) {
			json_t *v = convert(n->items[i], path, err);
			if (v == NULL) {
				json_decref(j);
				return NULL;
			}
			json_array_append_new(j, v);
		}
		return j;
	}
	j = scalar_to_json(n);
	if (j == NULL)
		spok_err_set(err, SPOK_EINVAL, "%s:%d:%d: string is not valid UTF-8; save the file as UTF-8",
			     path, n->line, n->col);
	return j;
}

json_t *ydoc_to_json(const struct ynode *n, const char *path, struct spok_err *err)
{
	return convert(n, path ? path : "<input>", err);
}

static void record(const struct ynode *n, struct spok_buf *path, struct spok_strmap *pos)
{
	size_t at = path->len;
	char lc[32];

	if (pos->len >= YDOC_MAX_POSITIONS)
		return;
	snprintf(lc, sizeof(lc), "%d:%d", n->line, n->col);
	spok_strmap_set(pos, path->data, lc);
	for (size_t i = 0; n->kind != Y_SCALAR && i < n->n; i++) {
		const struct ynode *key = n->kind == Y_MAP ? n->items[2 * i] : NULL;
		const struct ynode *v = n->kind == Y_MAP ? n->items[2 * i + 1] : n->items[i];
		int r;

		if (key && (key->kind != Y_SCALAR || memchr(key->text, '\0', key->len)))
			continue;
		if (key)
			r = spok_buf_printf(path, "%s%s", at ? "." : "", key->text);
		else
			r = spok_buf_printf(path, "[%zu]", i);
		if (r == SPOK_OK)
			record(v, path, pos);
		path->len = at;
		path->data[at] = '\0';
	}
}

void ydoc_positions(const struct ynode *n, const char *prefix, struct spok_strmap *pos)
{
	struct spok_buf path;

	spok_buf_init(&path, 4096); /* deeper paths are not recorded */
	if (n != NULL && spok_buf_appends(&path, prefix ? prefix : "") == SPOK_OK)
		record(n, &path, pos);
	spok_buf_free(&path);
}
