/* podstatus.c - direct submission: a Spark driver pod (and its executors) -> spok_status, by
 * the SparkApplication rules of phase.c (see phase.h, spok_status_from_driver_pod). The pod
 * is read the way the Spark operator reads it to set the application's state, so both modes
 * give the same phases and reasons. */
#include "phase/internal.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

#define DRIVER_CONTAINER "spark-kubernetes-driver" /* Spark's name, as backend.h says */
#define REASON_MAX_BYTES 64
#define MESSAGE_MAX_BYTES 300

static const char *str_at(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "";
}

/* The status of Spark's container, by its name only (as the operator's
 * GetDriverContainerTerminatedState: another container's end says nothing of the driver). */
static const json_t *driver_status(const json_t *status)
{
	const json_t *all = json_object_get(status, "containerStatuses"), *cs;
	size_t i;

	json_array_foreach(all, i, cs)
		if (strcmp(str_at(cs, "name"), DRIVER_CONTAINER) == 0)
			return cs;
	return NULL;
}

static const json_t *terminated_of(const json_t *cs)
{
	return json_object_get(json_object_get(cs, "state"), "terminated");
}

/* The operator's state for the pod (v2 GetDriverState: driver pod phase -> application
 * state; a driver container that ended decides even while sidecars keep the pod Running,
 * and a Failed pod whose driver container exited 0 is COMPLETED). */
static const char *state_of(const char *phase, const json_t *term)
{
	bool exited_0 = term != NULL && json_integer_value(json_object_get(term, "exitCode")) == 0;

	if (strcmp(phase, "Pending") == 0)
		return "SUBMITTED";
	if (strcmp(phase, "Succeeded") == 0)
		return "COMPLETED";
	if (strcmp(phase, "Failed") == 0)
		return exited_0 ? "COMPLETED" : "FAILED";
	if (strcmp(phase, "Running") == 0) {
		if (term == NULL)
			return "RUNNING";
		return exited_0 ? "COMPLETED" : "FAILED";
	}
	if (strcmp(phase, "Unknown") == 0)
		return "UNKNOWN";
	return "";
}

/* The operator's errorMessage ("driver container failed with ExitCode: 1, Reason: Error"),
 * followed by the pod's own reason when it has one (Evicted, DeadlineExceeded). Heap. */
static char *failure_of(const json_t *status, const json_t *term)
{
	char *pr = spok_pod_line(str_at(status, "reason"), REASON_MAX_BYTES);
	char *pm = spok_pod_line(str_at(status, "message"), MESSAGE_MAX_BYTES);
	char *pod = pr[0] ? xasprintf("pod %s%s%s", pr, pm[0] ? ": " : "", pm) : xstrdup("");
	char *out;

	if (term != NULL && json_integer_value(json_object_get(term, "exitCode")) != 0) {
		char *cr = spok_pod_line(str_at(term, "reason"), REASON_MAX_BYTES);

		out = xasprintf("driver container failed with ExitCode: %lld, Reason: %s%s%s",
				(long long)json_integer_value(json_object_get(term, "exitCode")), cr,
				pod[0] ? "; " : "", pod);
		free(cr);
	} else {
		out = xasprintf("driver pod failed%s%s", pod[0] ? ": " : "", pod);
	}
	free(pod);
	free(pm);
	free(pr);
	return out;
}

int spok_status_from_driver_pod(const json_t *pod, const json_t *executors,
				const struct spok_task *t, const struct spok_platform *p,
				const struct spok_status *prev, struct spok_status *out,
				struct spok_err *err)
{
	const json_t *status = json_object_get(pod, "status");
	const json_t *labels = json_object_get(json_object_get(pod, "metadata"), "labels");
	const json_t *term = terminated_of(driver_status(status));
	const char *app = json_string_value(json_object_get(labels, "spark-app-name"));
	char *failure = NULL;
	struct app_view v;
	int result;

	memset(out, 0, sizeof(*out));
	memset(&v, 0, sizeof(v));
	if (p == NULL)
		return spok_err_set(err, SPOK_EINTERNAL, "spok_status_from_driver_pod: no platform "
				    "config given; please report this bug");
	if (!json_is_object(pod))
		return spok_err_set(err, SPOK_EINVAL, "driver pod: expected a JSON object");
	if ((result = spok_phase_read_metadata(pod, SPOK_PHASE_HINT_POD, &v, err)) != 0)
		return result;
	/* A deletionTimestamp is no status of the pod's: the engine knows whether it asked for
	 * the deletion (teardown) or someone else did (ResourceDeletedExternally). */
	v.deleted = NULL;
	v.driver_pod = v.name;
	if (app != NULL && app[0] != '\0') /* the SparkApplication's name: links as in operator mode */
		v.name = app;
	v.state = state_of(str_at(status, "phase"), term);
	v.app_id = json_string_value(json_object_get(labels, "spark-app-selector"));
	v.executors = json_is_object(executors) ? (json_t *)executors : NULL;
	if (term != NULL)
		(void)spok_parse_rfc3339(str_at(term, "finishedAt"), &v.finish_unix);
	if (strcmp(v.state, "FAILED") == 0)
		v.error_message = failure = failure_of(status, term);
	spok_status_of_view(&v, t, p, prev, out);
	free(failure);
	return 0;
}

const char *spok_executor_pod_state(const json_t *pod)
{
	const json_t *status = json_object_get(pod, "status");
	const char *phase = str_at(status, "phase");
	const char *state = state_of(phase, NULL);

	return strcmp(phase, "Pending") == 0 ? "PENDING" : state[0] ? state : "UNKNOWN";
}
