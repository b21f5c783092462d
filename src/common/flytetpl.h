/* flytetpl.h - Flyte's template placeholders, matched the way Flyte's regexes match them.
 *
 * Flyte compiles one regex per variable, `(?i){{\s*[\.$]NAME\s*}}` (container arguments
 * and log links alike), and applies each with ReplaceAllLiteralString. Dynamic log links
 * add `(?i){{\s*.taskConfig[\.$]KEY\s*}}`, where `.` is any character but a newline. A
 * hand-written matcher reproduces both patterns exactly, so no regex engine is needed.
 * Case folding is ASCII-only: Go's (?i) would also fold e.g. U+017F to 's'; no real
 * template relies on that. Used by sparkapp (container arguments) and phase (log links).
 */
#ifndef SPOK_COMMON_FLYTETPL_H
#define SPOK_COMMON_FLYTETPL_H

#include <stdbool.h>
#include <stddef.h>

#include "common/strv.h"

/* Length of a placeholder for name starting at s[0], or 0 when none starts there.
 * task_config selects the `{{ .taskConfig.name }}` form. */
size_t spok_flytetpl_match(const char *s, const char *name, bool task_config);

/* One ReplaceAllLiteralString pass: every placeholder for name, left to right, without
 * rescanning, becomes value (literally). Returns a new string (caller frees), or NULL
 * when max > 0 and the result would pass max bytes. */
char *spok_flytetpl_replace(const char *s, const char *name, bool task_config, const char *value,
			    size_t max);

/* Pushes copies of the KEYs of every `(?i){{\s*.taskConfig[\.$]([a-zA-Z_]+)\s*}}` match
 * in tmpl, in order. */
void spok_flytetpl_task_config_keys(const char *tmpl, struct spok_strv *keys);

#endif
