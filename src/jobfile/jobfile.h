/* jobfile.h - spok job files (YAML) -> struct spok_task, and the platform config file
 * (Flyte's plugins.spark / plugins.k8s shape plus `spok:`) -> struct spok_platform.
 * Formats: docs/JOBFILE.md and docs/CONFIG.md.
 *
 * Ownership: `out` is caller-owned storage. On success it holds a fully filled struct the
 * caller releases with spok_task_free / spok_platform_free. On error it is left freed and
 * empty (spok_task_init / zeroed platform state after spok_platform_free), never half
 * filled, and err holds one line:
 *   <path>:<line>:<col>: <field path>: <problem>; <what to do>
 * Inputs are capped at 4 MiB and 64 levels of nesting. path may be NULL ("<input>").
 */
#ifndef SPOK_JOBFILE_JOBFILE_H
#define SPOK_JOBFILE_JOBFILE_H

#include <stddef.h>

#include "common/err.h"
#include "model/model.h"

/* Parses a job file's text. out is overwritten (not freed first): pass an empty or
 * uninitialised struct. Sets origin SPOK_ORIGIN_SPEC and source_path. */
int spok_jobfile_parse_task(const char *text, size_t len, const char *path, struct spok_task *out,
			 struct spok_err *err);
int spok_jobfile_load_task(const char *path, struct spok_task *out, struct spok_err *err);

/* Parses a platform config. out is overwritten (not freed first); the result starts from
 * spok_platform_init() defaults and the file's values override them as Flyte's loader does:
 * a map with entries replaces the default map, {} or null keeps it; a log section is decoded
 * over its default key by key. Unknown keys and keys lower-cased like Flyte's loader does
 * (docs/CONFIG.md) are not errors: each adds a line to out->warnings, which are also printed
 * to stderr (log_warn) once each on success. */
int spok_config_parse(const char *text, size_t len, const char *path, struct spok_platform *out,
		      struct spok_err *err);
int spok_config_load(const char *path, struct spok_platform *out, struct spok_err *err);

/* True when the entry of p's spok.clusters named `cluster` (by name, else by context) says
 * `submission: direct`; false for operator, no such entry, or no entry at all (checked when
 * the file was read). */
bool spok_config_direct(const struct spok_platform *p, const char *cluster);

#endif
