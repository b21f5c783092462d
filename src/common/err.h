/* err.h - the one error convention of spok.
 *
 * Every fallible function returns int: 0 on success or a negative SPOK_E* code,
 * and, when given a non-NULL `struct spok_err *`, fills it with one line that
 * names the file or field at fault and says what to do (control bytes in the formatted
 * text become spaces, so quoted input cannot split it). Callers own the struct
 * (usually on the stack); nothing in it is heap-allocated.
 *
 * Out-of-memory is not an error path: xalloc.h aborts instead.
 * Secrets must never be formatted into an error message.
 */
#ifndef SPOK_COMMON_ERR_H
#define SPOK_COMMON_ERR_H

#include <stddef.h>

enum spok_code {
	SPOK_OK = 0,
	SPOK_EINVAL = -1,    /* bad input: spec, config, protobuf, flag */
	SPOK_EIO = -2,       /* local I/O failed (file, process, database) */
	SPOK_ENOTFOUND = -3, /* the named thing does not exist */
	SPOK_ECONFLICT = -4, /* it exists already / changed underneath */
	SPOK_EAPI = -5,      /* a remote API answered with an error */
	SPOK_EUNAVAIL = -6,  /* a remote API could not be reached */
	SPOK_ETIMEOUT = -7,  /* a deadline passed */
	SPOK_EFORBIDDEN = -8,/* authentication or authorization refused */
	SPOK_EQUOTA = -9,    /* a quota is full: wait and retry */
	SPOK_EINTERNAL = -10,/* a bug in spok: please report */
	SPOK_EBUSY = -11     /* a local resource (the store) is locked by another process: retry */
};

#define SPOK_ERR_MSG_MAX 1024

struct spok_err {
	int code;
	char msg[SPOK_ERR_MSG_MAX];
};

/* Sets e (if non-NULL) and returns code, so callers can `return spok_err_set(...)`. */
int spok_err_set(struct spok_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#ifdef __clang_analyzer__
/* clang-tidy's analyzer sees one file at a time and would assume spok_err_set may return 0,
 * then walk error paths as if they succeeded. Tell it the result is the code. */
#define spok_err_set(e, code, ...) (spok_err_set((e), (code), __VA_ARGS__), (code))
#endif

/* Prefixes an existing message with "prefix: " (for adding a file name). Returns e->code. */
int spok_err_prefix(struct spok_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void spok_err_clear(struct spok_err *e);

/* Short stable name of a code, e.g. "invalid" for SPOK_EINVAL. */
const char *spok_code_name(int code);

/* Process exit status for a code; see docs/CLI.md for the table. */
int spok_code_exit(int code);

#endif
