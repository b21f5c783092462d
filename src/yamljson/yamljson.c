#include "yamljson/yamljson.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/utf8.h"
#include "yamljson/ydoc.h"

json_t *spok_yaml_to_json(const char *text, size_t len, const char *path, struct spok_err *err)
{
	return spok_yaml_to_json_at(text, len, path, NULL, NULL, err);
}

json_t *spok_yaml_to_json_at(const char *text, size_t len, const char *path, const char *prefix,
			     struct spok_strmap *pos, struct spok_err *err)
{
	struct ydoc d;
	json_t *j;

	if (ydoc_load(&d, text, len, path, err) != SPOK_OK)
		return NULL;
	j = d.root ? ydoc_to_json(d.root, path, err) : json_null();
	if (j != NULL && pos != NULL)
		ydoc_positions(d.root, prefix, pos);
	ydoc_free(&d);
	return j;
}

/* ---- emitter ---- */

#define LONG_KEY 120 /* quoted, such a key stays under YAML's 1024-character implicit-key limit */

static bool plain_char(const char *s, size_t i, size_t len)
{
	char c = s[i];

	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	if (c == ':')  /* ": " and a trailing ':' end a key */
		return i + 1 < len && s[i + 1] != ' ';
	return c != '\0' && strchr("._/-+@=% ", c) != NULL;
}

/* Conservative: true only for strings that certainly read back as the same string
 * when written without quotes, in key or value position of block YAML. */
static bool plain_safe(const char *s, size_t len)
{
	if (len == 0 || s[0] == ' ' || s[len - 1] == ' ')
		return false;
	if (strchr("-:@%", s[0]) != NULL)
		return false;
	if (len >= 3 && (memcmp(s, "---", 3) == 0 || memcmp(s, "...", 3) == 0))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!plain_char(s, i, len))
			return false;
	return ydoc_classify(s, len) == YS_STRING;
}

/* Code points YAML does not allow raw (or that some readers treat as line breaks). */
static bool needs_escape(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0xA0) || cp == 0x2028 ||
	       cp == 0x2029 || cp == 0xFEFF || cp == 0xFFFE || cp == 0xFFFF;
}

static void emit_quoted(struct spok_buf *b, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;

	spok_buf_append(b, "\"", 1);
	for (size_t i = 0; i < len;) {
		uint32_t cp = u[i];
		/* An invalid byte (jansson's strings never hold one) is taken as itself. */
		size_t n = spok_utf8_rune_len(s + i, len - i);

		if (n > 1)
			spok_utf8_decode(s + i, n, &cp);

		if (cp == '"' || cp == '\\')
			spok_buf_printf(b, "\\%c", (char)cp);
		else if (cp == '\n')
			spok_buf_appends(b, "\\n");
		else if (cp == '\t')
			spok_buf_appends(b, "\\t");
		else if (needs_escape(cp))
			spok_buf_printf(b, cp < 0x100 ? "\\x%02X" : "\\u%04X", (unsigned)cp);
		else
			spok_buf_append(b, s + i, n);
		i += n;
	}
	spok_buf_append(b, "\"", 1);
}

static void emit_string(struct spok_buf *b, const char *s, size_t len)
{
	if (plain_safe(s, len))
		spok_buf_append(b, s, len);
	else
		emit_quoted(b, s, len);
}

/* Shortest text that reads back as the same double, and never as an integer. */
static void emit_real(struct spok_buf *b, double x)
{
	char text[64];

	for (int prec = 1; prec <= 17; prec++) {
		snprintf(text, sizeof(text), "%.*g", prec, x);
		if (strtod(text, NULL) == x)
			break;
	}
	spok_buf_appends(b, text);
	if (strpbrk(text, ".eE") == NULL)
		spok_buf_appends(b, ".0");
}

static bool is_empty_or_scalar(const json_t *j)
{
	if (json_is_object(j))
		return json_object_size(j) == 0;
	if (json_is_array(j))
		return json_array_size(j) == 0;
	return true;
}

static void emit_scalar(struct spok_buf *b, const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		spok_buf_appends(b, "{}");
		break;
	case JSON_ARRAY:
		spok_buf_appends(b, "[]");
		break;
	case JSON_STRING:
		emit_string(b, json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		spok_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		break;
	case JSON_REAL:
		emit_real(b, json_real_value(j));
		break;
	case JSON_TRUE:
		spok_buf_appends(b, "true");
		break;
	case JSON_FALSE:
		spok_buf_appends(b, "false");
		break;
	default:
		spok_buf_appends(b, "null");
		break;
	}
}

static void pad(struct spok_buf *b, int indent)
{
	for (int i = 0; i < indent; i++)
		spok_buf_append(b, " ", 1);
}

static void emit_block(struct spok_buf *b, const json_t *j, int indent, bool inline_first);

/* Multi-line text (a properties file, a script) reads better as a literal block. Only text
 * that certainly reads back the same: no code point that needs an escape (tabs and CRs
 * included), a first line that does not start with a space or a break (the reader takes
 * the block's indentation from it), at most one final break (clip / strip chomping). */
static bool literal_safe(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;

	if (len == 0 || memchr(s, '\n', len) == NULL || s[0] == ' ' || s[0] == '\n')
		return false;
	if (len >= 2 && s[len - 1] == '\n' && s[len - 2] == '\n')
		return false;
	for (size_t i = 0; i < len;) {
		uint32_t cp = u[i];
		size_t n = spok_utf8_rune_len(s + i, len - i);

		if (n > 1 && spok_utf8_decode(s + i, n, &cp) == 0)
			return false;
		if (cp != '\n' && needs_escape(cp))
			return false;
		i += n;
	}
	return true;
}

static void emit_literal(struct spok_buf *b, const char *s, size_t len, int indent)
{
	bool ends_in_break = s[len - 1] == '\n';
	size_t end = ends_in_break ? len - 1 : len;

	spok_buf_appends(b, ends_in_break ? " |\n" : " |-\n");
	for (size_t i = 0; i <= end;) {
		const char *nl = memchr(s + i, '\n', end - i);
		size_t n = nl ? (size_t)(nl - (s + i)) : end - i;

		if (n > 0)
			pad(b, indent + 2);
		spok_buf_append(b, s + i, n);
		spok_buf_append(b, "\n", 1);
		i += n + 1;
	}
}

/* A value after "key:" or "-": scalars on the same line, collections below. */
static void emit_value(struct spok_buf *b, const json_t *v, int indent, bool after_dash)
{
	if (json_is_string(v) && literal_safe(json_string_value(v), json_string_length(v))) {
		emit_literal(b, json_string_value(v), json_string_length(v), indent);
	} else if (is_empty_or_scalar(v)) {
		spok_buf_append(b, " ", 1);
		emit_scalar(b, v);
		spok_buf_append(b, "\n", 1);
	} else if (after_dash) {
		spok_buf_append(b, " ", 1);
		emit_block(b, v, indent + 2, true);
	} else {
		spok_buf_append(b, "\n", 1);
		emit_block(b, v, indent + 2, false);
	}
}

/* Writes a non-empty collection. inline_first: the first line continues the current
 * line (after "- "), so it gets no indentation. */
static void emit_block(struct spok_buf *b, const json_t *j, int indent, bool inline_first)
{
	bool first = true;

	if (json_is_object(j)) {
		const char *key;
		size_t klen;
		json_t *v;

		json_object_keylen_foreach((json_t *)j, key, klen, v) {
			if (!(first && inline_first))
				pad(b, indent);
			first = false;
			if (klen > LONG_KEY) {
				/* YAML caps implicit keys at 1024 characters: use an explicit "? key". */
				spok_buf_appends(b, "? ");
				emit_quoted(b, key, klen);
				spok_buf_append(b, "\n", 1);
				pad(b, indent);
			} else {
				emit_string(b, key, klen);
			}
			spok_buf_append(b, ":", 1);
			emit_value(b, v, indent, false);
		}
		return;
	}
	for (size_t i = 0; i < json_array_size(j); i++) {
		if (!(first && inline_first))
			pad(b, indent);
		first = false;
		spok_buf_append(b, "-", 1);
		emit_value(b, json_array_get(j, i), indent, true);
	}
}

char *spok_json_to_yaml(const json_t *j)
{
	struct spok_buf b;

	spok_buf_init(&b, SIZE_MAX / 4);  /* our own data, not outside input */
	if (j == NULL || is_empty_or_scalar(j)) {
		emit_scalar(&b, j ? j : json_null());
		spok_buf_append(&b, "\n", 1);
	} else {
		emit_block(&b, j, 0, false);
	}
	return spok_buf_detach(&b);
}
