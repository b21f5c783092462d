/* template.c - Flyte's log-template substitution: the variables are applied one after
 * another (common/flytetpl matches the placeholders), skipping those whose value is empty.
 * Dynamic links add `{{ .taskConfig.KEY }}` variables at the end of that list.
 */
#include "phase/internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/flytetpl.h"
#include "common/xalloc.h"

/* A rendered link past this size stops taking substitutions: values come from the
 * SparkApplication and may themselves hold placeholders, so passes could multiply. */
#define RENDER_MAX ((size_t)64 << 10)

char *spok_render_tvars(const char *tmpl, const struct spok_tvar *vars, size_t n)
{
	char *cur = xstrdup(tmpl ? tmpl : "");

	for (size_t i = 0; i < n; i++) {
		char *next;
		if (vars[i].value == NULL || vars[i].value[0] == '\0')
			continue;
		next = spok_flytetpl_replace(cur, vars[i].name, vars[i].task_config, vars[i].value,
					     RENDER_MAX);
		if (next == NULL)
			break; /* keep what we have: a usable link beats an unbounded one */
		free(cur);
		cur = next;
	}
	return cur;
}

char *spok_render_log_template(const char *tmpl, const struct spok_strmap *vars)
{
	struct spok_tvar *tv;
	size_t n = vars ? vars->len : 0;
	char *out;

	tv = xcalloc(n ? n : 1, sizeof(*tv));
	for (size_t i = 0; i < n; i++) {
		tv[i].name = vars->items[i].key;
		tv[i].value = vars->items[i].value;
	}
	out = spok_render_tvars(tmpl, tv, n);
	free(tv);
	return out;
}
