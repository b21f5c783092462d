#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Messages quote outside input (paths, spec values, API text); a control byte in it
 * would break the one-line rule or drive the terminal, so each becomes a space. */
static void one_line(char *msg)
{
	for (unsigned char *p = (unsigned char *)msg; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

/* (spok_err_set): the parentheses keep err.h's analyzer-only macro of that name out. */
int (spok_err_set)(struct spok_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return code;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	one_line(e->msg);
	return code;
}

int spok_err_prefix(struct spok_err *e, const char *fmt, ...)
{
	char out[SPOK_ERR_MSG_MAX];
	size_t n, m;
	va_list ap;
	int len;

	if (e == NULL)
		return SPOK_EINTERNAL;
	va_start(ap, fmt);
	len = vsnprintf(out, sizeof(out), fmt, ap);
	va_end(ap);
	n = len < 0 ? 0 : (size_t)len;
	if (n > sizeof(out) - 3)
		n = sizeof(out) - 3;
	memcpy(out + n, ": ", 2);
	n += 2;
	m = strnlen(e->msg, sizeof(e->msg) - 1);
	if (m > sizeof(out) - 1 - n)
		m = sizeof(out) - 1 - n;   /* long messages lose their tail, never the prefix */
	memcpy(out + n, e->msg, m);
	out[n + m] = '\0';
	memcpy(e->msg, out, n + m + 1);
	one_line(e->msg);
	return e->code;
}

void spok_err_clear(struct spok_err *e)
{
	if (e == NULL)
		return;
	e->code = SPOK_OK;
	e->msg[0] = '\0';
}

const char *spok_code_name(int code)
{
	switch (code) {
	case SPOK_OK: return "ok";
	case SPOK_EINVAL: return "invalid";
	case SPOK_EIO: return "io";
	case SPOK_ENOTFOUND: return "not-found";
	case SPOK_ECONFLICT: return "conflict";
	case SPOK_EAPI: return "api";
	case SPOK_EUNAVAIL: return "unavailable";
	case SPOK_ETIMEOUT: return "timeout";
	case SPOK_EFORBIDDEN: return "forbidden";
	case SPOK_EQUOTA: return "quota";
	case SPOK_EBUSY: return "busy";
	default: return "internal";
	}
}

/* Exit codes: 0 ok, 1 job failed (set by callers), 2 bad input/usage, 3 cluster or API,
 * 4 not found, 5 timeout, 6 forbidden, 70 internal (sysexits EX_SOFTWARE), 74 local I/O. */
int spok_code_exit(int code)
{
	switch (code) {
	case SPOK_OK: return 0;
	case SPOK_EINVAL: return 2;
	case SPOK_EAPI:
	case SPOK_EUNAVAIL:
	case SPOK_EBUSY:
	case SPOK_ECONFLICT:
	case SPOK_EQUOTA: return 3;
	case SPOK_ENOTFOUND: return 4;
	case SPOK_ETIMEOUT: return 5;
	case SPOK_EFORBIDDEN: return 6;
	case SPOK_EIO: return 74;
	default: return 70;
	}
}
