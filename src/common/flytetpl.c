/* flytetpl.c - see flytetpl.h. */
#include "common/flytetpl.h"

#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "common/utf8.h"
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

/* Bytes Go's `.` takes at s: one rune as Go decodes it (an invalid byte is one U+FFFD
 * rune). 0 for the end of the string or a newline. */
static size_t any_char_len(const char *s)
{
	if (s[0] == '\0' || s[0] == '\n')
		return 0;
	return spok_utf8_rune_len(s, strnlen(s, 4));
}

/* Matches `.taskConfig[.$]name\s*}}` at s; returns the length consumed or 0. */
static size_t match_task_config(const char *s, const char *name, size_t name_len)
{
	static const char tc[] = "taskConfig";
	size_t a = any_char_len(s), n;

	if (a == 0 || !ascii_prefix_ci(s + a, tc, sizeof(tc) - 1))
		return 0;
	n = match_tail(s + a + sizeof(tc) - 1, name, name_len);
	return n == 0 ? 0 : a + sizeof(tc) - 1 + n;
}

size_t spok_flytetpl_match(const char *s, const char *name, bool task_config)
{
	size_t name_len = strlen(name), ws = 0, n;

	if (s[0] != '{' || s[1] != '{')
		return 0;
	while (is_re2_space(s[2 + ws]))
		ws++;
	if (!task_config) {
		n = match_tail(s + 2 + ws, name, name_len);
		return n == 0 ? 0 : 2 + ws + n;
	}
	/* `\s*.` : the any-char is either the first non-blank or the last blank. */
	n = match_task_config(s + 2 + ws, name, name_len);
	if (n != 0)
		return 2 + ws + n;
	if (ws > 0) {
		n = match_task_config(s + 2 + ws - 1, name, name_len);
		if (n != 0)
			return 2 + ws - 1 + n;
	}
	return 0;
}

char *spok_flytetpl_replace(const char *s, const char *name, bool task_config, const char *value,
			    size_t max)
{
	struct spok_buf b;
	size_t vlen = strlen(value), i = 0, run = 0;

	spok_buf_init(&b, SIZE_MAX / 2); /* the cap is max, checked below */
	spok_buf_appends(&b, "");
	while (s[i] != '\0') {
		size_t n = spok_flytetpl_match(s + i, name, task_config);
		if (n == 0) {
			i++;
			continue;
		}
		if (max > 0 && b.len + (i - run) + vlen > max) {
			spok_buf_free(&b);
			return NULL;
		}
		spok_buf_append(&b, s + run, i - run);
		spok_buf_append(&b, value, vlen);
		i += n;
		run = i;
	}
	spok_buf_append(&b, s + run, i - run);
	return spok_buf_detach(&b);
}

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

void spok_flytetpl_task_config_keys(const char *tmpl, struct spok_strv *keys)
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
