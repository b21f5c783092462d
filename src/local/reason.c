/* reason.c - one-line failure reasons from a driver log. See spok_local_reason in local.h.
 *
 * The log is spark-submit's stdout+stderr: log4j lines, Python tracebacks, JVM errors.
 * Rules in order of how specific (and how actionable) they are; the last match of a kind
 * wins because earlier ones may have been caught and retried by the job. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "common/xalloc.h"
#include "local/local.h"

#define REASON_MAX 400

struct line {
	const char *p;
	size_t n;
};

/* Iterates lines: returns false at the end. */
static bool next_line(const char **cur, struct line *l)
{
	const char *s = *cur;
	if (!*s)
		return false;
	const char *nl = strchr(s, '\n');
	l->p = s;
	l->n = nl ? (size_t)(nl - s) : strlen(s);
	if (l->n && s[l->n - 1] == '\r')
		l->n--;
	*cur = nl ? nl + 1 : s + strlen(s);
	return true;
}

static bool starts(const struct line *l, const char *prefix)
{
	size_t n = strlen(prefix);
	return l->n >= n && memcmp(l->p, prefix, n) == 0;
}

static const char *find_in(const struct line *l, const char *needle)
{
	size_t n = strlen(needle);
	for (size_t i = 0; i + n <= l->n; i++)
		if (memcmp(l->p + i, needle, n) == 0)
			return l->p + i;
	return NULL;
}

/* Cut at a character boundary: half a UTF-8 character would make the reason invalid text,
 * which JSON (status output, the server's API) cannot carry. p[n] exists when n > max. */
static char *clip(const char *p, size_t n)
{
	if (n > REASON_MAX)
		n = spok_utf8_prefix(p, REASON_MAX);
	return xstrndup(p, n);
}

/* A Python traceback ends at its first non-indented line: "ValueError: boom". */
static bool is_exception_line(const struct line *l)
{
	return l->n > 0 && l->p[0] != ' ' && l->p[0] != '\t' && !starts(l, "Traceback") &&
	       !starts(l, "During handling") && !starts(l, "The above exception");
}

char *spok_local_reason(const char *log_text, bool *permanent)
{
	const char *cur = log_text;
	struct line l, prev = {"", 0};
	struct line py = {NULL, 0}, jmain = {NULL, 0}, submit = {NULL, 0}, jvm = {NULL, 0};
	bool oom = false, in_tb = false;

	*permanent = false;
	if (!log_text)
		return NULL;
	while (next_line(&cur, &l)) {
		if (find_in(&l, "java.lang.OutOfMemoryError"))
			oom = true;
		if (starts(&l, "Traceback (most recent call last):")) {
			in_tb = true;
		} else if (in_tb && is_exception_line(&l)) {
			py = l;
			in_tb = false;
		}
		const char *m = find_in(&l, "Exception in thread \"main\" ");
		if (m) {
			jmain.p = m + strlen("Exception in thread \"main\" ");
			jmain.n = l.n - (size_t)(jmain.p - l.p);
		}
		if (starts(&l, "Error: Could not create the Java Virtual Machine"))
			jvm = prev;
		else if (starts(&l, "Error: ") && !starts(&l, "Error: A fatal exception"))
			submit = l;
		prev = l;
	}
	if (oom)
		return xstrdup("driver ran out of memory (java.lang.OutOfMemoryError); raise spark.driver.memory");
	if (py.p)
		return clip(py.p, py.n);
	if (jmain.p)
		return clip(jmain.p, jmain.n);
	if (jvm.p && jvm.n) {
		*permanent = true;
		char *what = clip(jvm.p, jvm.n);
		char *r = xasprintf("the JVM did not start: %s; check spark.driver.memory and spark.driver.extraJavaOptions", what);
		free(what);
		return r;
	}
	if (submit.p) {
		*permanent = true;
		char *what = clip(submit.p + strlen("Error: "), submit.n - strlen("Error: "));
		char *r = xasprintf("spark-submit rejected the job: %s", what);
		free(what);
		return r;
	}
	return NULL;
}
