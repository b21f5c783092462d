/* termesc.h - text from jobs and users made harmless before it reaches a terminal.
 *
 * Failure reasons come from a job's own output, names and labels from job files, log lines
 * from the job: any of them may hold escape sequences that clear the operator's screen, move
 * the cursor, retitle the window, or (on some terminals) answer back with input. Human output
 * passes such text through here; JSON and YAML output escape by their own rules.
 *
 * Escaped, as visible text: C0 controls (U+0000-U+001F; newline and tab only when the caller
 * does not keep them), DEL (U+007F), C1 controls (U+0080-U+009F), the line/paragraph
 * separators U+2028/U+2029 and the bidirectional overrides U+202A-U+202E, U+2066-U+2069.
 * Forms: "\n", "\t", "\r"; other C0 and DEL as "\x1b"; C1 and the others as "\u009b"; a byte
 * that does not start valid UTF-8 as "\x9b" (a terminal in an 8-bit mode would read a raw
 * 0x9B as CSI). Backslashes are left as they are: the point is safety, not reversibility.
 * Everything else (printable ASCII, valid UTF-8) is copied unchanged.
 *
 * Ownership: spok_term_line returns a heap string (caller frees); the others append to a
 * caller-owned spok_buf. Nothing is kept between calls except in a spok_term_stream.
 */
#ifndef SPOK_COMMON_TERMESC_H
#define SPOK_COMMON_TERMESC_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

#define SPOK_TERM_KEEP_NL 1u  /* copy '\n' as a line break */
#define SPOK_TERM_KEEP_TAB 2u /* copy '\t' as a tab */
#define SPOK_TERM_TEXT (SPOK_TERM_KEEP_NL | SPOK_TERM_KEEP_TAB) /* multi-line text (logs) */

/* Appends s[0..n) escaped to b. Returns 0, or SPOK_EINVAL when b's cap is reached. */
int spok_term_escape(struct spok_buf *b, const char *s, size_t n, unsigned flags);

/* A heap copy of s for one field of one line of human output: everything above is escaped,
 * newline and tab included. NULL in, NULL out. */
char *spok_term_line(const char *s);

/* Whether s (NUL-terminated) would come back from spok_term_line unchanged. */
bool spok_term_clean(const char *s);

/* Text that arrives in chunks (a log read in pieces, a child's output pipe): a UTF-8
 * character split between two chunks is held back and escaped whole. Zero-initialize. */
struct spok_term_stream {
	unsigned flags;
	unsigned char pend[4];
	size_t npend;
};
int spok_term_stream_feed(struct spok_term_stream *st, const char *p, size_t n, struct spok_buf *b);
/* End of the text: a held-back incomplete character is escaped byte by byte. */
int spok_term_stream_end(struct spok_term_stream *st, struct spok_buf *b);

#endif
