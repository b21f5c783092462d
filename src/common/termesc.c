/* termesc.c - see termesc.h. */
#include "common/termesc.h"

#include <stdint.h>
#include <string.h>

#include "common/err.h"
#include "common/utf8.h"
#include "common/xalloc.h"

static bool escaped_cp(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
	       (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

/* Bytes s[0..n) start a character that more bytes could still complete: a valid lead byte
 * followed only by continuation bytes, fewer than the lead announces. */
static bool incomplete(const unsigned char *s, size_t n)
{
	size_t want = s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
		    : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;
	if (want == 0 || n >= want)
		return false;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return false;
	return true;
}

/* Escapes the character at s[0..n); returns the bytes it used, or 0 when !final and s holds
 * only the start of a character (the caller keeps those bytes for the next chunk). */
static size_t one(const unsigned char *s, size_t n, bool final, unsigned flags,
		  struct spok_buf *b, int *rc)
{
	uint32_t cp;
	unsigned char c = s[0];

	if (c >= 0x20 && c < 0x7F) {
		*rc = spok_buf_append(b, s, 1);
		return 1;
	}
	if ((c == '\n' && (flags & SPOK_TERM_KEEP_NL)) || (c == '\t' && (flags & SPOK_TERM_KEEP_TAB))) {
		*rc = spok_buf_append(b, s, 1);
		return 1;
	}
	if (c < 0x80) {
		*rc = c == '\n' ? spok_buf_appends(b, "\\n") : c == '\t' ? spok_buf_appends(b, "\\t")
		    : c == '\r' ? spok_buf_appends(b, "\\r") : spok_buf_printf(b, "\\x%02x", c);
		return 1;
	}
	size_t k = spok_utf8_decode((const char *)s, n, &cp);
	if (k == 0) {
		if (!final && incomplete(s, n))
			return 0;
		*rc = spok_buf_printf(b, "\\x%02x", c);
		return 1;
	}
	*rc = escaped_cp(cp) ? spok_buf_printf(b, "\\u%04x", (unsigned)cp) : spok_buf_append(b, s, k);
	return k;
}

/* Escapes s[0..n) into b; returns how many bytes were used (all of them when final). */
static size_t span(const unsigned char *s, size_t n, bool final, unsigned flags,
		   struct spok_buf *b, int *rc)
{
	size_t i = 0;

	*rc = 0;
	while (i < n && *rc == 0) {
		size_t k = one(s + i, n - i, final, flags, b, rc);
		if (k == 0)
			break;
		i += k;
	}
	return i;
}

int spok_term_escape(struct spok_buf *b, const char *s, size_t n, unsigned flags)
{
	int rc;
	span((const unsigned char *)s, n, true, flags, b, &rc);
	return rc;
}

char *spok_term_line(const char *s)
{
	struct spok_buf b;

	if (s == NULL)
		return NULL;
	spok_buf_init(&b, 0);
	/* The default cap (64 MiB) is far above any field: an error only truncates. */
	spok_term_escape(&b, s, strlen(s), 0);
	return b.data ? spok_buf_detach(&b) : xstrdup("");
}

bool spok_term_clean(const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		uint32_t cp;
		if (c >= 0x20 && c < 0x7F) {
			i++;
			continue;
		}
		size_t k = c >= 0x80 ? spok_utf8_decode(s + i, n - i, &cp) : 0;
		if (k == 0 || escaped_cp(cp))
			return false;
		i += k;
	}
	return true;
}

int spok_term_stream_feed(struct spok_term_stream *st, const char *p, size_t n, struct spok_buf *b)
{
	int rc = 0;

	if (st->npend > 0) {
		/* Finish the held-back character with the first bytes of this chunk. */
		unsigned char tmp[8];
		size_t add = n < 4 ? n : 4;
		memcpy(tmp, st->pend, st->npend);
		memcpy(tmp + st->npend, p, add);
		size_t used = span(tmp, st->npend + add, false, st->flags, b, &rc);
		if (used < st->npend) { /* still incomplete: n was tiny */
			memmove(st->pend, tmp + used, st->npend + add - used);
			st->npend = st->npend + add - used;
			return rc;
		}
		p += used - st->npend;
		n -= used - st->npend;
		st->npend = 0;
	}
	size_t used = span((const unsigned char *)p, n, false, st->flags, b, &rc);
	if (rc == 0 && used < n) {
		memcpy(st->pend, p + used, n - used); /* < 4 bytes: one() stops only on a prefix */
		st->npend = n - used;
	}
	return rc;
}

int spok_term_stream_end(struct spok_term_stream *st, struct spok_buf *b)
{
	int rc = 0;
	span(st->pend, st->npend, true, st->flags, b, &rc);
	st->npend = 0;
	return rc;
}
