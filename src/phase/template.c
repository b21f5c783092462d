/* template.c - Flyte's log-template substitution and RFC 3339 time helpers.
 *
 * Flyte compiles one regex per variable, `(?i){{\s*[\.$]NAME\s*}}`, and applies them one
 * after another with ReplaceAllLiteralString, skipping variables whose value is empty.
 * Dynamic links add `(?i){{\s*.taskConfig[\.$]KEY\s*}}` variables at the end of that list.
 * A hand-written matcher reproduces both patterns exactly (including the `.` that
 * matches any character but a newline in the taskConfig form), so no regex engine is
 * needed. Case folding is ASCII-only: Go's (?i) would also fold e.g. U+017F to 's'; no
 * real template relies on that.
 */
#include "phase/internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

/* RE2's \s: [\t\n\f\r ] (no \v). */
static bool is_re2_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool ascii_prefix_ci(const char *s, const char *prefix, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\0' || ascii_lower(s[i]) != ascii_lower(prefix[i]))
			return false;
	return true;
}

/* Matches `[.$]name\s*}}` at s; returns the length consumed or 0. */
static size_t match_tail(const char *s, const char *name, size_t name_len)
{
	size_t j = 0;

	if (s[j] != '.' && s[j] != '$')
		return 0;
	j++;
	if (!ascii_prefix_ci(s + j, name, name_len))
		return 0;
	j += name_len;
	while (is_re2_space(s[j]))
		j++;
	if (s[j] != '}' || s[j + 1] != '}')
		return 0;
	return j + 2;
}

/* Bytes Go's `.` takes at s: one rune (a well-formed UTF-8 sequence), else one byte
 * (an invalid byte is one U+FFFD rune). 0 for the end of the string or a newline. */
static size_t any_char_len(const char *s)
{
	unsigned char c = (unsigned char)s[0];
	size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 1;

	if (c == '\0' || c == '\n')
		return 0;
	if (c < 0x80 || c > 0xf4)
		return 1;
	for (size_t i = 1; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			return 1;
	return n;
}

/* Matches `.taskConfig[.$]name\s*}}` at s (s points just after `{{\s*` minus the
 * blanks the any-char may take); returns the length consumed or 0. */
static size_t match_task_config(const char *s, const char *name, size_t name_len)
{
	static const char tc[] = "taskConfig";
	size_t a = any_char_len(s), n;

	if (a == 0 || !ascii_prefix_ci(s + a, tc, sizeof(tc) - 1))
		return 0;
	n = match_tail(s + a + sizeof(tc) - 1, name, name_len);
	return n == 0 ? 0 : a + sizeof(tc) - 1 + n;
}

/* Length of a placeholder for `v` starting at s[0], or 0 when none starts there. */
static size_t match_at(const char *s, const struct spok_tvar *v)
{
	size_t name_len = strlen(v->name);
	size_t ws = 0;
	size_t n;

	if (s[0] != '{' || s[1] != '{')
		return 0;
	while (is_re2_space(s[2 + ws]))
		ws++;
	if (!v->task_config) {
		n = match_tail(s + 2 + ws, v->name, name_len);
		return n == 0 ? 0 : 2 + ws + n;
	}
	/* `\s*.` : the any-char is either the first non-blank or the last blank. */
	n = match_task_config(s + 2 + ws, v->name, name_len);
	if (n != 0)
		return 2 + ws + n;
	if (ws > 0) {
		n = match_task_config(s + 2 + ws - 1, v->name, name_len);
		if (n != 0)
			return 2 + ws - 1 + n;
	}
	return 0;
}

struct sbuf {
	char *p;
	size_t len, cap;
};

static void sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* A rendered link past this size stops taking substitutions: values come from the
 * SparkApplication and may themselves hold placeholders, so passes could multiply. */
#define RENDER_MAX ((size_t)64 << 10)

/* One ReplaceAllLiteralString pass: non-overlapping, left to right, no rescan.
 * Returns NULL if the result would pass RENDER_MAX. */
static char *replace_pass(const char *s, const struct spok_tvar *v)
{
	struct sbuf b = {0};
	size_t vlen = strlen(v->value);
	size_t i = 0, run = 0;

	sbuf_add(&b, "", 0);
	while (s[i] != '\0') {
		size_t n = match_at(s + i, v);
		if (n == 0) {
			i++;
			continue;
		}
		if (b.len + (i - run) + vlen > RENDER_MAX) {
			free(b.p);
			return NULL;
		}
		sbuf_add(&b, s + run, i - run);
		sbuf_add(&b, v->value, vlen);
		i += n;
		run = i;
	}
	sbuf_add(&b, s + run, i - run);
	return b.p;
}

char *spok_render_tvars(const char *tmpl, const struct spok_tvar *vars, size_t n)
{
	char *cur = xstrdup(tmpl ? tmpl : "");

	for (size_t i = 0; i < n; i++) {
		char *next;
		if (vars[i].value == NULL || vars[i].value[0] == '\0')
			continue;
		next = replace_pass(cur, &vars[i]);
		if (next == NULL)
			break; /* keep what we have: a usable link beats an unbounded one */
		free(cur);
		cur = next;
	}
	return cur;
}

char *spok_render_log_template(const char *tmpl, const struct spok_strmap *vars)
{
	struct spok_tvar *tv;
	size_t n = vars ? vars->len : 0;
	char *out;

	tv = xcalloc(n ? n : 1, sizeof(*tv));
	for (size_t i = 0; i < n; i++) {
		tv[i].name = vars->items[i].key;
		tv[i].value = vars->items[i].value;
	}
	out = spok_render_tvars(tmpl, tv, n);
	free(tv);
	return out;
}

/* Dynamic-link keys: every `(?i){{\s*.taskConfig[\.$]([a-zA-Z_]+)\s*}}` match, in order.
 * Keys are pushed into `keys` (copies). */
static bool is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static size_t scan_key_at(const char *s, size_t ws_skip, struct spok_strv *keys)
{
	static const char tc[] = "taskConfig";
	const char *p = s + ws_skip;
	size_t a = any_char_len(p), k = 0, j;

	if (a == 0 || !ascii_prefix_ci(p + a, tc, sizeof(tc) - 1))
		return 0;
	p += a + sizeof(tc) - 1;
	if (p[0] != '.' && p[0] != '$')
		return 0;
	p++;
	while (is_key_char(p[k]))
		k++;
	if (k == 0)
		return 0;
	j = k;
	while (is_re2_space(p[j]))
		j++;
	if (p[j] != '}' || p[j + 1] != '}')
		return 0;
	spok_strv_push_own(keys, xstrndup(p, k));
	return (size_t)(p - s) + j + 2;
}

void spok_task_config_keys(const char *tmpl, struct spok_strv *keys)
{
	size_t i = 0;

	while (tmpl[i] != '\0') {
		size_t ws = 0, n = 0;
		if (tmpl[i] != '{' || tmpl[i + 1] != '{') {
			i++;
			continue;
		}
		while (is_re2_space(tmpl[i + 2 + ws]))
			ws++;
		n = scan_key_at(tmpl + i + 2, ws, keys);
		if (n == 0 && ws > 0)
			n = scan_key_at(tmpl + i + 2, ws - 1, keys);
		i += n ? 2 + n : 1;
	}
}

