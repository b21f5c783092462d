/* internal.h - helpers shared by the files of module phase (not a public API). */
#ifndef SPOK_PHASE_INTERNAL_H
#define SPOK_PHASE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "common/strv.h"
#include "phase/phase.h"

/* One template variable. task_config selects the `{{ .taskConfig.name }}` form that
 * dynamic log links add. Strings are borrowed. */
struct spok_tvar {
	const char *name;
	const char *value;
	bool task_config;
};

/* Applies vars in order (empty values skipped); returns a new string. */
char *spok_render_tvars(const char *tmpl, const struct spok_tvar *vars, size_t n);

#endif
