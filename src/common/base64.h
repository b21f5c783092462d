/* base64.h - RFC 4648 base64, one decoder whose strictness each caller states with flags.
 *
 * Ownership: spok_base64_encode returns a heap string and spok_base64_decode a heap buffer
 * in *out; the caller frees either. On failure *out is NULL and nothing is left allocated;
 * the partly decoded bytes are wiped first, since callers decode keys and certificates.
 */
#ifndef SPOK_COMMON_BASE64_H
#define SPOK_COMMON_BASE64_H

#include <stdbool.h>
#include <stddef.h>

enum {
	/* Also accept the URL-safe alphabet ('-' for '+', '_' for '/'), mixed or not. */
	SPOK_BASE64_URL = 1u << 0,
	/* Skip CR and LF anywhere (PEM-style wrapped lines). */
	SPOK_BASE64_LINES = 1u << 1,
	/* Ignore a dangling last character (6 bits that make no byte) instead of failing. */
	SPOK_BASE64_LOOSE_TAIL = 1u << 2,
};

/* Standard alphabet with padding. d may be NULL when n is 0. */
char *spok_base64_encode(const unsigned char *d, size_t n);

/* Decodes the NUL-terminated s. Padding is optional; after a '=' only more '=' may follow.
 * Any character outside the alphabet (and the flags' extras) fails. Returns false on
 * failure. *out is NUL-terminated past *len for callers that treat it as text. */
bool spok_base64_decode(const char *s, unsigned flags, unsigned char **out, size_t *len);

#endif
