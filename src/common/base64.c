/* base64.c - see base64.h. */
#include "common/base64.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

static const char b64_tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *spok_base64_encode(const unsigned char *d, size_t n)
{
	char *out = xmalloc((n + 2) / 3 * 4 + 1), *o = out;
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		*o++ = b64_tab[d[i] >> 2];
		*o++ = b64_tab[((d[i] & 3) << 4) | (d[i + 1] >> 4)];
		*o++ = b64_tab[((d[i + 1] & 15) << 2) | (d[i + 2] >> 6)];
		*o++ = b64_tab[d[i + 2] & 63];
	}
	if (i < n) {
		*o++ = b64_tab[d[i] >> 2];
		if (i + 1 < n) {
			*o++ = b64_tab[((d[i] & 3) << 4) | (d[i + 1] >> 4)];
			*o++ = b64_tab[(d[i + 1] & 15) << 2];
		} else {
			*o++ = b64_tab[(d[i] & 3) << 4];
			*o++ = '=';
		}
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int b64_value(int ch, unsigned flags)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || (ch == '-' && (flags & SPOK_BASE64_URL)))
		return 62;
	if (ch == '/' || (ch == '_' && (flags & SPOK_BASE64_URL)))
		return 63;
	return -1;
}

bool spok_base64_decode(const char *s, unsigned flags, unsigned char **out, size_t *len)
{
	size_t n = strlen(s), o = 0, cap = n / 4 * 3 + 3;
	unsigned char *dst = xmalloc(cap + 1);
	unsigned acc = 0, bits = 0;
	bool pad = false;

	for (size_t i = 0; i < n; i++) {
		int ch = (unsigned char)s[i], v;

		if ((ch == '\n' || ch == '\r') && (flags & SPOK_BASE64_LINES))
			continue;
		if (ch == '=') {
			pad = true;
			continue;
		}
		v = b64_value(ch, flags);
		if (v < 0 || pad)
			goto bad;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			dst[o++] = (unsigned char)((acc >> bits) & 0xffu);
		}
	}
	if (bits >= 6 && !(flags & SPOK_BASE64_LOOSE_TAIL))
		goto bad;
	dst[o] = '\0';
	*out = dst;
	*len = o;
	return true;
bad:
	/* Callers decode keys and certificates: leave none of it in freed memory. */
	explicit_bzero(dst, cap + 1);
	free(dst);
	*out = NULL;
	*len = 0;
	return false;
}
