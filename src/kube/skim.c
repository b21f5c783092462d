/* skim.c - see skim.h. The scan understands just enough JSON to walk
 * {"object":{"metadata":{...}}} (an event) or {"items":[{"metadata":{...}}, ...]} (a List);
 * on anything it does not follow it cuts nothing, and the whole text is parsed as before. */
#include "kube/skim.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

struct cuts {
	struct {
		size_t from, to;
	} *at;
	size_t n, cap;
};

static size_t skip_ws(const char *p, size_t n, size_t i)
{
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
		i++;
	return i;
}

/* p[i] is '"': the index after the closing quote, or 0 if the string does not end. */
static size_t skip_string(const char *p, size_t n, size_t i)
{
	for (i++; i < n; i++) {
		if (p[i] == '\\')
			i++;
		else if (p[i] == '"')
			return i + 1;
	}
	return 0;
}

/* The index after the value at p[i], or 0 if there is none. Nesting is counted, not checked
 * (the parser checks whatever is not cut). */
static size_t skip_value(const char *p, size_t n, size_t i)
{
	size_t depth = 0, start = i;

	if (i >= n)
		return 0;
	if (p[i] == '"')
		return skip_string(p, n, i);
	if (p[i] != '{' && p[i] != '[') {
		while (i < n && strchr(",}] \t\r\n", p[i]) == NULL)
			i++;
		return i > start ? i : 0;
	}
	for (; i < n; i++) {
		if (p[i] == '"') {
			if ((i = skip_string(p, n, i)) == 0)
				return 0;
			i--;
		} else if (p[i] == '{' || p[i] == '[') {
			depth++;
		} else if ((p[i] == '}' || p[i] == ']') && --depth == 0) {
			return i + 1;
		}
	}
	return 0;
}

/* Cuts [from, to), which ends after every earlier cut: earlier cuts inside it merge. */
static void cut_add(struct cuts *c, size_t from, size_t to)
{
	while (c->n > 0 && c->at[c->n - 1].from >= from)
		c->n--;
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 16;
		c->at = xreallocarray(c->at, c->cap, sizeof(*c->at));
	}
	c->at[c->n].from = from;
	c->at[c->n].to = to;
	c->n++;
}

static bool key_is(const char *p, size_t key_start, size_t key_end, const char *name)
{
	size_t len = key_end - key_start - 2;

	return len == strlen(name) && memcmp(p + key_start + 1, name, len) == 0;
}

/* level LIST: a List, 0: an event, 1: the object (an event's, or an item of a List), 2: the
 * object's metadata. */
#define LIST (-1)

static size_t walk_items(const char *p, size_t n, size_t i, unsigned skip, struct cuts *c);

static bool descend(const char *p, size_t ks, size_t ke, int level)
{
	return (level == 0 && key_is(p, ks, ke, "object")) ||
	       (level == 1 && key_is(p, ks, ke, "metadata"));
}

static bool dropped(const char *p, size_t ks, size_t ke, int level, unsigned skip)
{
	return (level == 1 && (skip & KUBE_SKIP_SPEC) && key_is(p, ks, ke, "spec")) ||
	       (level == 2 && (skip & KUBE_SKIP_MANAGED_FIELDS) &&
		key_is(p, ks, ke, "managedFields"));
}

/* p[i] is '{': walks its members, cutting the dropped ones with one separating comma.
 * Returns the index after the closing brace, or 0 where the scan gives up. */
static size_t walk_object(const char *p, size_t n, size_t i, int level, unsigned skip,
			  struct cuts *c)
{
	size_t comma = 0; /* the comma before the next member that stays, if any */

	i = skip_ws(p, n, i + 1);
	if (i < n && p[i] == '}')
		return i + 1;
	for (;;) {
		size_t ks = i, ke, ve;

		if (i >= n || p[i] != '"' || (ke = skip_string(p, n, i)) == 0)
			return 0;
		i = skip_ws(p, n, ke);
		if (i >= n || p[i] != ':')
			return 0;
		i = skip_ws(p, n, i + 1);
		if (i < n && p[i] == '{' && descend(p, ks, ke, level))
			ve = walk_object(p, n, i, level + 1, skip, c);
		else if (i < n && p[i] == '[' && level == LIST && key_is(p, ks, ke, "items"))
			ve = walk_items(p, n, i, skip, c);
		else
			ve = skip_value(p, n, i);
		if (ve == 0 || (i = skip_ws(p, n, ve)) >= n || (p[i] != ',' && p[i] != '}'))
			return 0;
		if (!dropped(p, ks, ke, level, skip))
			comma = p[i] == ',' ? i : 0;
		else if (p[i] == ',')
			cut_add(c, ks, i + 1);
		else
			cut_add(c, comma != 0 ? comma : ks, ve);
		if (p[i] == '}')
			return i + 1;
		i = skip_ws(p, n, i + 1);
	}
}

struct feed {
	const char *p;
	size_t n, at, cut;
	const struct cuts *c;
};

/* json_load_callback's reader: the line without the cuts. */
static size_t feed_read(void *buffer, size_t buflen, void *data)
{
	struct feed *f = data;
	size_t got = 0;

	while (got < buflen && f->at < f->n) {
		size_t end = f->cut < f->c->n ? f->c->at[f->cut].from : f->n, take;

		if (f->at >= end) {
			f->at = f->c->at[f->cut++].to;
			continue;
		}
		take = end - f->at < buflen - got ? end - f->at : buflen - got;
		memcpy((char *)buffer + got, f->p + f->at, take);
		got += take;
		f->at += take;
	}
	return got;
}

/* p[i] is '[': walks a List's items, each object as an event's object. Returns the index
 * after the closing bracket, or 0 where the scan gives up. */
static size_t walk_items(const char *p, size_t n, size_t i, unsigned skip, struct cuts *c)
{
	i = skip_ws(p, n, i + 1);
	if (i < n && p[i] == ']')
		return i + 1;
	for (;;) {
		size_t ve = i < n && p[i] == '{' ? walk_object(p, n, i, 1, skip, c)
						 : skip_value(p, n, i);

		if (ve == 0 || (i = skip_ws(p, n, ve)) >= n || (p[i] != ',' && p[i] != ']'))
			return 0;
		if (p[i] == ']')
			return i + 1;
		i = skip_ws(p, n, i + 1);
	}
}

json_t *kube_skim_load(const char *p, size_t n, enum kube_skim_shape shape, unsigned skip,
		       json_error_t *jerr)
{
	struct cuts c = {0};
	struct feed f = {p, n, 0, 0, &c};
	size_t i = skip_ws(p, n, 0), end = 0;
	json_t *doc = NULL;

	if (skip != 0 && i < n && p[i] == '{')
		end = walk_object(p, n, i, shape == KUBE_SKIM_LIST ? LIST : 0, skip, &c);
	if (end != 0 && c.n > 0)
		doc = json_load_callback(feed_read, &f, 0, jerr);
	free(c.at);
	/* Invalid outside the cuts: parsed whole again so that the error's column is the text's. */
	return doc != NULL ? doc : json_loadb(p, n, 0, jerr);
}
