/* flytedata.h - flytekit tasks run by spok on a cluster: their inputs.pb and outputs on the
 * platform's flyte-data storage (spok.flyte-data in docs/CONFIG.md), one folder per
 * execution:
 *     <dir>/<execution id>/inputs.pb            written at submit from the run's --input values
 *     <dir>/<execution id>/outputs/<attempt>/   flytekit's outputs.pb or error.pb
 *     <dir>/<execution id>/raw/                 raw output data, checkpoints
 *     <dir>/<execution id>/code/                the task's module, on the pods' PYTHONPATH
 * <dir> is the volume's mount path in the pods; spok reads and writes the same folders at
 * local-dir. The paths follow from the execution id alone, so a re-adopting process finds
 * them. Module-internal to src/engine. */
#ifndef SPOK_ENGINE_FLYTEDATA_H
#define SPOK_ENGINE_FLYTEDATA_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "flyteidl/flyteidl.h"
#include "model/model.h"

/* Prefixes of one attempt as the pods see them (heap; free with spok_fd_paths_free). */
struct spok_fd_paths {
	char *input, *output, *raw, *prev_checkpoint;
};

/* p has flyte-data and t is a flytekit task whose execution spok owns (not one flytepropeller
 * sent through the connector: that one's paths are already rendered). */
bool spok_fd_applies(const struct spok_platform *p, const struct spok_task *t);
void spok_fd_paths(const struct spok_platform *p, const char *id, uint32_t attempt,
		   struct spok_fd_paths *out);
void spok_fd_paths_free(struct spok_fd_paths *f);

/* Creates the execution's folder, writes inputs.pb from t->input_values, typed by the task's
 * interface (SPOK_EINVAL naming the input; SPOK_EIO naming the path), and copies the task's
 * module (spok_fd_copy_code). inputs.pb is written to a temporary name and renamed: a reader
 * never sees half of it. */
int spok_fd_prepare(const struct spok_platform *p, const struct spok_task *t, const char *id,
		    struct spok_err *err);
/* Removes the execution's folder (a submit that failed before its row). Best effort. */
void spok_fd_discard(const struct spok_platform *p, const char *id);
/* Creates outputs/<attempt> (and raw/) writable by the pods' user (SPOK_EIO naming it). */
int spok_fd_attempt(const struct spok_platform *p, const char *id, uint32_t attempt,
		    struct spok_err *err);
/* What attempt `attempt` left (error.pb, outputs.pb or nothing); see spok_flyte_read_outcome. */
void spok_fd_outcome(const struct spok_platform *p, const char *id, uint32_t attempt,
		     struct spok_flyte_outcome *o);

/* The task's module: the word after "task-module" in its args (flytekit's default resolver),
 * or NULL. Borrowed from t. */
const char *spok_fd_task_module(const struct spok_task *t);
/* dir holds module's top-level package (dir/a/) or file (dir/a.py). */
bool spok_fd_module_here(const char *dir, const char *module);
/* Copies the task's top-level module from t->python_path (nothing when NULL) to <id>/code:
 * a module file, or a package's .py files (no symlinks, hidden entries or __pycache__), at
 * most 1000 files and 16 MiB. One-line errors naming the path. */
int spok_fd_copy_code(const struct spok_platform *p, const struct spok_task *t, const char *id,
		      struct spok_err *err);

#endif
