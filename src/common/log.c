#include "common/log.h"

#include "common/termesc.h"
#include "common/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int level = -1;

static enum spok_log_level level_from_env(void)
{
	const char *s = getenv("SPOK_LOG");

	if (s == NULL)
		return SPOK_LOG_WARN;
	if (strcmp(s, "error") == 0)
		return SPOK_LOG_ERROR;
	if (strcmp(s, "info") == 0)
		return SPOK_LOG_INFO;
	if (strcmp(s, "debug") == 0)
		return SPOK_LOG_DEBUG;
	return SPOK_LOG_WARN;
}

void spok_log_set_level(enum spok_log_level l)
{
	level = (int)l;
}

enum spok_log_level spok_log_get_level(void)
{
	if (level < 0)
		level = (int)level_from_env();
	return (enum spok_log_level)level;
}

void spok_log(enum spok_log_level l, const char *fmt, ...)
{
	static const char *names[] = {"error", "warn", "info", "debug"};
	va_list ap;

	if (l > spok_log_get_level())
		return;
	va_start(ap, fmt);
	char *line = xvasprintf(fmt, ap);
	va_end(ap);
	/* Log lines carry values from requests, job files and job output: one line each, with
	 * no control sequence reaching the operator's terminal (or forging a log line). */
	char *safe = spok_term_line(line);
	fprintf(stderr, "spok: %s: %s\n", names[l], safe);
	free(safe);
	free(line);
}
