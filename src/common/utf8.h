/* utf8.h - UTF-8 boundaries and validity (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF), the same rules jansson applies: json_string() returns NULL for anything else.
 *
 * Text from outside (driver logs, error.pb messages, API responses) is not trusted to be
 * UTF-8; clip it with spok_utf8_prefix and make it valid with spok_utf8_sanitize before it
 * becomes a JSON string. Nothing here allocates except spok_utf8_sanitize (caller frees).
 */
#ifndef SPOK_COMMON_UTF8_H
#define SPOK_COMMON_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Length (1-4) of the valid sequence at s[0..n), with its code point in *cp; 0 when the
 * bytes there are not valid UTF-8 (callers skip one byte and go on). n == 0 gives 0. */
size_t spok_utf8_decode(const char *s, size_t n, uint32_t *cp);

/* Length of the sequence at s[0..n) counted as Go's utf8.DecodeRune does: a valid
 * sequence's length, 1 for a byte that does not start one (Go decodes it as U+FFFD and
 * moves on one byte). 0 only when n == 0. */
size_t spok_utf8_rune_len(const char *s, size_t n);

/* n less an incomplete last sequence: a buffer cut at its end (a file's head read into a
 * fixed buffer) may split a character, which does not make the text invalid. */
size_t spok_utf8_complete(const char *s, size_t n);

/* The longest prefix of the NUL-terminated s that is at most max bytes and does not end
 * inside a multi-byte character: cutting there never makes valid text invalid. */
size_t spok_utf8_prefix(const char *s, size_t max);

/* Whether s[0..n) is entirely valid UTF-8 (embedded NULs count as valid). */
bool spok_utf8_validn(const char *s, size_t n);

/* A heap copy of s with every byte that does not start a valid sequence replaced by U+FFFD.
 * NULL in, NULL out. Valid input comes back unchanged. */
char *spok_utf8_sanitize(const char *s);

/* A JSON string of s (new reference): as-is when valid, else spok_utf8_sanitize'd, so text
 * from outside never makes a field disappear. NULL in, JSON null out. */
json_t *spok_json_text(const char *s);

#endif
