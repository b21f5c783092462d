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

/* What the status mapping reads from a SparkApplication (or, for direct submission, what a
 * driver pod stands for); all strings borrowed from the JSON. */
struct app_view {
	const char *name;
	const char *ns;
	const char *created;
	const char *deleted;
	const char *node_id, *execution_id, *project, *domain; /* labels */
	const char *state;         /* the operator's applicationState.state, never NULL */
	const char *error_message;
	const char *app_id;
	const char *terminated;
	const char *driver_pod;
	const char *ingress;
	json_t *executors;
	int64_t start_unix;
	int64_t finish_unix;
};

/* What ends an error about the shape of the object read, by kind. */
#define SPOK_PHASE_HINT_SPARKAPP \
	"the object is not a sparkoperator.k8s.io/v1beta2 SparkApplication as the API server returns it"
#define SPOK_PHASE_HINT_POD \
	"the object is not a v1 Pod as the API server returns it (direct submission's driver pod)"

/* metadata: name, namespace, creation and deletion times, Flyte's labels; checked shapes
 * (an error ends with hint). */
int spok_phase_read_metadata(const json_t *obj, const char *hint, struct app_view *v,
			     struct spok_err *err);
/* The rules of spok_status_from_sparkapp over a view; out starts zeroed. */
void spok_status_of_view(const struct app_view *v, const struct spok_task *t,
			 const struct spok_platform *p, const struct spok_status *prev,
			 struct spok_status *out);
/* Pod text (hostile) as one bounded, terminal-safe, valid UTF-8 line; heap, never NULL. */
char *spok_pod_line(const char *s, size_t max);

/* Applies vars in order (empty values skipped); returns a new string. */
char *spok_render_tvars(const char *tmpl, const struct spok_tvar *vars, size_t n);

#endif
