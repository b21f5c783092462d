/* utf8.c - see utf8.h. */
#include "common/utf8.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

static bool is_cont(unsigned char c)
{
	return (c & 0xC0) == 0x80;
}

size_t spok_utf8_decode(const char *s, size_t n, uint32_t *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len;
	uint32_t v, min;

	if (n == 0)
		return 0;
	if (u[0] < 0x80) {
		*cp = u[0];
		return 1;
	}
	if (u[0] >= 0xC2 && u[0] <= 0xDF) {
		len = 2, v = u[0] & 0x1Fu, min = 0x80;
	} else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
		len = 3, v = u[0] & 0x0Fu, min = 0x800;
	} else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
		len = 4, v = u[0] & 0x07u, min = 0x10000;
	} else {
		return 0; /* continuation byte, overlong lead C0/C1, or F5-FF */
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if (!is_cont(u[i]))
			return 0;
		v = (v << 6) | (u[i] & 0x3Fu);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return len;
}

size_t spok_utf8_rune_len(const char *s, size_t n)
{
	uint32_t cp;
	size_t k;

	if (n == 0)
		return 0;
	k = spok_utf8_decode(s, n, &cp);
	return k ? k : 1;
}

size_t spok_utf8_complete(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = n, want;

	while (i > 0 && n - i < 4 && is_cont(u[i - 1]))
		i--;
	if (i == 0)
		return n;
	want = (u[i - 1] & 0xE0) == 0xC0 ? 2 : (u[i - 1] & 0xF0) == 0xE0 ? 3 :
	       (u[i - 1] & 0xF8) == 0xF0 ? 4 : 1;
	return n - (i - 1) < want ? i - 1 : n;
}

size_t spok_utf8_prefix(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);
	if (n <= max)
		return n;
	/* s[max] is the first byte left out: when it continues a character, step back to that
	 * character's lead byte (a character has at most 3 continuation bytes). */
	n = max;
	for (size_t back = 0; back < 3 && n > 0 && is_cont((unsigned char)s[n]); back++)
		n--;
	if (is_cont((unsigned char)s[n]))
		return max; /* a run of stray continuation bytes: invalid anyway, cut anywhere */
	return n;
}

bool spok_utf8_validn(const char *s, size_t n)
{
	uint32_t cp;
	for (size_t i = 0; i < n;) {
		size_t k = spok_utf8_decode(s + i, n - i, &cp);
		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

char *spok_utf8_sanitize(const char *s)
{
	static const char repl[] = "\xEF\xBF\xBD";
	uint32_t cp;
	size_t n, out = 0;

	if (!s)
		return NULL;
	n = strlen(s);
	/* Worst case every byte becomes 3: n <= SIZE_MAX / 3 holds for any string in memory. */
	char *r = xmalloc(n * 3 + 1);
	for (size_t i = 0; i < n;) {
		size_t k = spok_utf8_decode(s + i, n - i, &cp);
		if (k == 0) {
			memcpy(r + out, repl, 3);
			out += 3;
			i++;
		} else {
			memcpy(r + out, s + i, k);
			out += k;
			i += k;
		}
	}
	r[out] = '\0';
	return r;
}

json_t *spok_json_text(const char *s)
{
	char *clean;
	json_t *j;

	if (s == NULL)
		return json_null();
	if ((j = json_string(s)) != NULL)
		return j;
	clean = spok_utf8_sanitize(s);
	j = json_string(clean);
	free(clean);
	return j ? j : json_null();
}
