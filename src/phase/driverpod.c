/* driverpod.c - why a Spark driver pod has not started, as one safe line (see phase.h,
 * spok_driver_pod_verdict). */
#include "phase/internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/termesc.h"
#include "common/utf8.h"
#include "common/xalloc.h"

/* Caps of the pieces taken from the pod: a name is at most 253 bytes in Kubernetes, an image
 * reference has no small limit, and the kubelet's and scheduler's messages are free text. */
#define NAME_MAX_BYTES 128
#define IMAGE_MAX_BYTES 200
#define REASON_MAX_BYTES 64
#define MESSAGE_MAX_BYTES 300

/* Waiting reasons the kubelet gives for a container that will not start as specified. The
 * kubelet retries them, but nothing short of a changed pod (a new attempt) helps. */
static const char *const PULL_REASONS[] = {"ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull"};

/* Text from the pod (hostile: the kubelet quotes registry answers, the user names the image)
 * as one bounded line: line breaks and tabs become blanks, other controls and bidirectional
 * overrides are escaped (common/termesc.h), invalid UTF-8 is replaced, and the result is cut
 * at max bytes on a character boundary. Never NULL. */
char *spok_pod_line(const char *s, size_t max)
{
	char *flat, *line, *valid;
	size_t cut;

	flat = xstrdup(s ? s : "");
	for (char *p = flat; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	valid = spok_utf8_sanitize(flat);
	line = spok_term_line(valid);
	free(valid);
	free(flat);
	cut = spok_utf8_prefix(line, max);
	line[cut] = '\0';
	return line;
}

static const char *str_at(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "";
}

static bool is_pull_reason(const char *reason)
{
	for (size_t i = 0; i < sizeof(PULL_REASONS) / sizeof(PULL_REASONS[0]); i++)
		if (strcmp(reason, PULL_REASONS[i]) == 0)
			return true;
	return false;
}

/* The image a container status names, else the one its spec names. */
static const char *image_of(const json_t *pod, const json_t *cs)
{
	const char *name = str_at(cs, "name");
	const json_t *c;
	size_t i;

	if (str_at(cs, "image")[0])
		return str_at(cs, "image");
	json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, c)
		if (strcmp(str_at(c, "name"), name) == 0)
			return str_at(c, "image");
	return "";
}

/* "driver pod P cannot pull image "I": ErrImagePull: <kubelet's message>" and the like. */
static char *broken_line(const char *pod, const json_t *podj, const json_t *cs,
			 const char *reason, const char *message)
{
	char *p = spok_pod_line(pod, NAME_MAX_BYTES), *r = spok_pod_line(reason, REASON_MAX_BYTES);
	char *m = spok_pod_line(message, MESSAGE_MAX_BYTES);
	char *what, *out;

	if (is_pull_reason(reason) || strcmp(reason, "InvalidImageName") == 0) {
		char *img = spok_pod_line(image_of(podj, cs), IMAGE_MAX_BYTES);

		what = xasprintf(strcmp(reason, "InvalidImageName") == 0 ? "has an invalid image name \"%s\""
									  : "cannot pull image \"%s\"", img);
		free(img);
	} else {
		char *c = spok_pod_line(str_at(cs, "name"), NAME_MAX_BYTES);

		what = xasprintf("cannot start container %s", c);
		free(c);
	}
	out = xasprintf("driver pod %s %s: %s%s%s", p, what, r, m[0] ? ": " : "", m);
	free(what);
	free(m);
	free(r);
	free(p);
	return out;
}

/* A container (init containers first: they run first) waiting for a reason that no wait
 * will cure. */
static const json_t *broken_container(const json_t *status, const char **reason,
				      const char **message)
{
	static const char *const lists[] = {"initContainerStatuses", "containerStatuses"};

	for (size_t l = 0; l < 2; l++) {
		const json_t *cs;
		size_t i;

		json_array_foreach(json_object_get(status, lists[l]), i, cs) {
			const json_t *w = json_object_get(json_object_get(cs, "state"), "waiting");
			const char *r = str_at(w, "reason");

			if (is_pull_reason(r) || strcmp(r, "InvalidImageName") == 0 ||
			    strcmp(r, "CreateContainerConfigError") == 0) {
				*reason = r;
				*message = str_at(w, "message");
				return cs;
			}
		}
	}
	return NULL;
}

/* The scheduler's PodScheduled=False condition with reason Unschedulable, or NULL. */
static const json_t *unschedulable(const json_t *status)
{
	const json_t *c;
	size_t i;

	json_array_foreach(json_object_get(status, "conditions"), i, c)
		if (strcmp(str_at(c, "type"), "PodScheduled") == 0 &&
		    strcmp(str_at(c, "status"), "False") == 0 &&
		    strcmp(str_at(c, "reason"), "Unschedulable") == 0)
			return c;
	return NULL;
}

enum spok_pod_verdict spok_driver_pod_verdict(const json_t *pod, char **msg)
{
	const json_t *md = json_object_get(pod, "metadata");
	const json_t *status = json_object_get(pod, "status");
	const char *phase = str_at(status, "phase");
	const char *reason = NULL, *message = NULL;
	const json_t *cs, *cond;

	*msg = NULL;
	/* Only a pod that has not started says why; one that runs or ended, or is going away,
	 * is the operator's to report. */
	if (!json_is_object(pod) || (phase[0] && strcmp(phase, "Pending") != 0) ||
	    str_at(md, "deletionTimestamp")[0])
		return SPOK_POD_FINE;
	if ((cs = broken_container(status, &reason, &message)) != NULL) {
		*msg = broken_line(str_at(md, "name"), pod, cs, reason, message);
		return SPOK_POD_BROKEN;
	}
	if ((cond = unschedulable(status)) != NULL) {
		char *m = spok_pod_line(str_at(cond, "message"), MESSAGE_MAX_BYTES);

		*msg = xasprintf("waiting: %s", m[0] ? m : "no node can take the driver pod");
		free(m);
		return SPOK_POD_WAITING;
	}
	return SPOK_POD_FINE;
}
