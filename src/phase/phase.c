/* phase.c - SparkApplication -> spok_status (Flyte's GetTaskPhase + getEventInfoForSpark,
 * plus the plugin manager's phase-version and deletionTimestamp rules). */
#include "phase/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

#define FMT_JSON 2
#define HINT SPOK_PHASE_HINT_SPARKAPP

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	case JSON_NULL:
	default:
		return "null";
	}
}

/* Absent or null -> *out = NULL. A value of another type is an error naming path.key, ended
 * by hint h (which kind of object was expected). */
static int get_obj(const char *h, const json_t *parent, const char *path, const char *key,
		   json_t **out, struct spok_err *err)
{
	json_t *v = parent ? json_object_get(parent, key) : NULL;

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return spok_err_set(err, SPOK_EINVAL, "%s%s: expected an object, got %s; %s",
				    path, key, type_name(v), h);
	*out = v;
	return 0;
}

static int get_str(const char *h, const json_t *parent, const char *path, const char *key,
		   const char **out, struct spok_err *err)
{
	json_t *v = parent ? json_object_get(parent, key) : NULL;

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return spok_err_set(err, SPOK_EINVAL, "%s%s: expected a string, got %s; %s",
				    path, key, type_name(v), h);
	*out = json_string_value(v);
	return 0;
}

static int get_time(const char *h, const json_t *parent, const char *path, const char *key,
		    const char **s, int64_t *out, struct spok_err *err)
{
	int result = get_str(h, parent, path, key, s, err);

	*out = 0;
	if (result != 0 || *s == NULL || (*s)[0] == '\0')
		return result;
	if (!spok_parse_rfc3339(*s, out))
		return spok_err_set(err, SPOK_EINVAL,
				    "%s%s: not an RFC 3339 time (like 2024-01-02T03:04:05Z); %s",
				    path, key, h);
	return 0;
}

/* A pod name made safe for a one-line error: at most 63 printable ASCII characters. */
static void safe_name(const char *s, char *buf, size_t len)
{
	size_t i = 0;

	for (; s[i] != '\0' && i + 1 < len && i < 63; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[i] = '\0';
}

int spok_phase_read_metadata(const json_t *app, const char *h, struct app_view *v,
			     struct spok_err *err)
{
	json_t *md = NULL, *labels = NULL;
	int result;

	if ((result = get_obj(h, app, "", "metadata", &md, err)) != 0)
		return result;
	if (md == NULL)
		return spok_err_set(err, SPOK_EINVAL, "metadata: missing; %s", h);
	if ((result = get_str(h, md, "metadata.", "name", &v->name, err)) != 0 ||
	    (result = get_str(h, md, "metadata.", "namespace", &v->ns, err)) != 0 ||
	    (result = get_time(h, md, "metadata.", "creationTimestamp", &v->created,
			       &v->start_unix, err)) != 0 ||
	    (result = get_str(h, md, "metadata.", "deletionTimestamp", &v->deleted, err)) != 0 ||
	    (result = get_obj(h, md, "metadata.", "labels", &labels, err)) != 0 ||
	    (result = get_str(h, labels, "metadata.labels.", "node-id", &v->node_id, err)) != 0 ||
	    (result = get_str(h, labels, "metadata.labels.", "execution-id", &v->execution_id,
			      err)) != 0 ||
	    (result = get_str(h, labels, "metadata.labels.", "project", &v->project, err)) != 0 ||
	    (result = get_str(h, labels, "metadata.labels.", "domain", &v->domain, err)) != 0)
		return result;
	if (v->name == NULL || v->name[0] == '\0')
		return spok_err_set(err, SPOK_EINVAL, "metadata.name: missing; %s", h);
	return 0;
}

static int read_executors(json_t *ex, struct spok_err *err)
{
	const char *pod;
	json_t *state;

	json_object_foreach(ex, pod, state) {
		if (!json_is_string(state)) {
			char safe[64];
			safe_name(pod, safe, sizeof(safe));
			return spok_err_set(err, SPOK_EINVAL,
					    "status.executorState.%s: expected a string, got %s; " HINT,
					    safe, type_name(state));
		}
	}
	return 0;
}

static int read_status(const json_t *app, struct app_view *v, struct spok_err *err)
{
	const char *h = HINT;
	json_t *st = NULL, *as = NULL, *di = NULL;
	int result;

	if ((result = get_obj(h, app, "", "status", &st, err)) != 0 ||
	    (result = get_obj(h, st, "status.", "applicationState", &as, err)) != 0 ||
	    (result = get_str(h, as, "status.applicationState.", "state", &v->state, err)) != 0 ||
	    (result = get_str(h, as, "status.applicationState.", "errorMessage", &v->error_message,
			      err)) != 0 ||
	    (result = get_str(h, st, "status.", "sparkApplicationId", &v->app_id, err)) != 0 ||
	    (result = get_time(h, st, "status.", "terminationTime", &v->terminated,
			       &v->finish_unix, err)) != 0 ||
	    (result = get_obj(h, st, "status.", "driverInfo", &di, err)) != 0 ||
	    (result = get_str(h, di, "status.driverInfo.", "podName", &v->driver_pod, err)) != 0 ||
	    (result = get_str(h, di, "status.driverInfo.", "webUIIngressAddress", &v->ingress,
			      err)) != 0 ||
	    (result = get_obj(h, st, "status.", "executorState", &v->executors, err)) != 0)
		return result;
	if (v->executors != NULL && (result = read_executors(v->executors, err)) != 0)
		return result;
	if (v->state == NULL)
		v->state = "";
	return 0;
}

static bool nonempty(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/* The §3.2 table. */
static void map_state(const struct app_view *v, struct spok_status *out)
{
	const char *st = v->state;
	const char *msg = v->error_message ? v->error_message : "";

	out->reason = xstrdup("");
	if (st[0] == '\0') {
		out->phase = SPOK_PHASE_QUEUED;
		free(out->reason);
		out->reason = xstrdup("job queued");
	} else if (strcmp(st, "SUBMITTED") == 0 || strcmp(st, "PENDING_SUBMISSION") == 0) {
		out->phase = SPOK_PHASE_INITIALIZING;
		free(out->reason);
		out->reason = xstrdup("job submitted");
	} else if (strcmp(st, "SUBMISSION_FAILED") == 0 || strcmp(st, "FAILED") == 0) {
		bool sub = st[0] == 'S';
		out->phase = SPOK_PHASE_RETRYABLE_FAILURE;
		out->error_code = xstrdup("DownstreamSystemError");
		out->error_kind = SPOK_ERRKIND_USER;
		/* Flyte's wording, including the double space of the submission case. */
		out->error_message = xasprintf(sub ? "Spark Job  Submission Failed with Error: %s"
						   : "Spark Job Failed with Error: %s", msg);
	} else if (strcmp(st, "COMPLETED") == 0) {
		out->phase = SPOK_PHASE_SUCCEEDED;
	} else {
		/* RUNNING, PENDING_RERUN, INVALIDATING, SUCCEEDING, FAILING, UNKNOWN and
		 * anything a newer operator invents: still in flight. */
		out->phase = SPOK_PHASE_RUNNING;
	}
}

/* MaybeUpdatePhaseVersion: a non-running phase that repeats with a new reason must be
 * a new event, so its version moves past the stored one. */
static void bump_version(const struct spok_status *prev, struct spok_status *out)
{
	const char *prev_reason;

	if (prev == NULL || out->phase == SPOK_PHASE_RUNNING || out->phase != prev->phase)
		return;
	prev_reason = prev->reason ? prev->reason : "";
	if (out->phase_version <= prev->phase_version && strcmp(out->reason, prev_reason) != 0)
		out->phase_version = prev->phase_version + 1;
}

static void deletion_rule(const struct app_view *v, struct spok_status *out)
{
	if (!nonempty(v->deleted) || spok_phase_terminal(out->phase))
		return;
	out->phase = SPOK_PHASE_RETRYABLE_FAILURE;
	out->phase_version = 0;
	free(out->reason);
	out->reason = xstrdup("");
	free(out->error_code);
	free(out->error_message);
	out->error_code = xstrdup("UnexpectedObjectDeletion");
	out->error_kind = SPOK_ERRKIND_SYSTEM;
	out->error_message = xasprintf("object [%s/%s] terminated in the background, manually",
				       v->ns ? v->ns : "", v->name);
}

static void pod_links(const struct app_view *v, const struct spok_log_config *lc,
		      const char *pod, const char *log_name, const struct spok_task *vars_task,
		      const struct spok_task *dyn_task, struct spok_status *out)
{
	struct spok_strmap vars = {0};
	struct spok_log_pod lp = {
		.pod_name = pod,
		.namespace_ = v->ns,
		.start_unix = v->start_unix,
		.finish_unix = out->finish_unix,
		.generated_name = v->name,
		.node_id = v->node_id,
		.execution_name = v->execution_id,
		.execution_project = v->project,
		.execution_domain = v->domain,
		.task = vars_task,
	};

	spok_log_vars(&lp, &vars);
	spok_log_links(lc, &vars, log_name, dyn_task, &out->links, &out->nlinks);
	spok_strmap_free(&vars);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* spok extension (see phase.h): executor links from logs.user's kubernetes + templates. */
static void executor_links(const struct app_view *v, const struct spok_platform *p,
			   const struct spok_task *t, struct spok_status *out)
{
	struct spok_log_config lc = p->spark.logs_user; /* shallow view, never freed */
	const char **pods;
	const char *pod;
	json_t *state;
	size_t n = 0;

	if (v->executors == NULL || json_object_size(v->executors) == 0 ||
	    (!lc.kubernetes_enabled && lc.ntemplates == 0))
		return;
	lc.cloudwatch_enabled = false;
	lc.stackdriver_enabled = false;
	lc.ndynamic_links = 0;
	pods = xcalloc(json_object_size(v->executors), sizeof(*pods));
	json_object_foreach(v->executors, pod, state)
		pods[n++] = pod;
	qsort(pods, n, sizeof(*pods), cmp_str);
	for (size_t i = 0; i < n; i++) {
		char *log_name = xasprintf("(Executor Logs %s)", pods[i]);
		pod_links(v, &lc, pods[i], log_name, t, NULL, out);
		free(log_name);
	}
	free(pods);
}

static void push_ui(struct spok_status *out, const char *name, char *uri, enum spok_link_kind k)
{
	struct spok_link *l;

	out->links = xreallocarray(out->links, out->nlinks + 1, sizeof(*out->links));
	l = &out->links[out->nlinks++];
	memset(l, 0, sizeof(*l));
	l->name = xstrdup(name);
	l->uri = uri;
	l->message_format = FMT_JSON;
	l->kind = k;
}

/* getEventInfoForSpark's order: mixed, user, system, all-user, [executors], UI. */
static void build_links(const struct app_view *v, const struct spok_task *t,
			const struct spok_platform *p, struct spok_status *out)
{
	const struct spok_spark_config *sc = &p->spark;
	const char *st = v->state;
	size_t first_all_user;

	if (nonempty(v->driver_pod))
		pod_links(v, &sc->logs_mixed, v->driver_pod, "(Driver Logs)", t, t, out);
	pod_links(v, &sc->logs_user, v->driver_pod, "(User Logs)", t, NULL, out);
	pod_links(v, &sc->logs_system, v->name, "(System Logs)", t, NULL, out);
	first_all_user = out->nlinks;
	pod_links(v, &sc->logs_all_user, v->name, "(Spark-Submit/All User Logs)", t, NULL, out);
	for (size_t i = first_all_user; i < out->nlinks; i++)
		out->links[i].show_while_pending = true;
	executor_links(v, p, t, out);

	if (strcmp(st, "COMPLETED") == 0 || strcmp(st, "FAILED") == 0) {
		if (nonempty(v->app_id) && nonempty(sc->history_server_url))
			push_ui(out, "Spark History UI",
				xasprintf("%s/history/%s", sc->history_server_url, v->app_id),
				SPOK_LINK_HISTORY_UI);
	} else if (strcmp(st, "RUNNING") == 0 && out->ui_address != NULL) {
		push_ui(out, "Spark Driver UI", xstrdup(out->ui_address), SPOK_LINK_DRIVER_UI);
	}
}

/* Older operators wrote the ingress address without a scheme. */
static char *ui_address(const char *ingress)
{
	if (!nonempty(ingress))
		return NULL;
	if (strncmp(ingress, "http://", 7) == 0 || strncmp(ingress, "https://", 8) == 0)
		return xstrdup(ingress);
	return xasprintf("https://%s", ingress);
}

int spok_status_from_sparkapp(const json_t *app, const struct spok_task *t,
			      const struct spok_platform *p, const struct spok_status *prev,
			      struct spok_status *out, struct spok_err *err)
{
	struct app_view v;
	int result;

	memset(out, 0, sizeof(*out));
	memset(&v, 0, sizeof(v));
	if (p == NULL)
		return spok_err_set(err, SPOK_EINTERNAL,
				    "spok_status_from_sparkapp: no platform config given; please report this bug");
	if (app == NULL || !json_is_object(app))
		return spok_err_set(err, SPOK_EINVAL,
				    "SparkApplication: expected a JSON object, got %s; " HINT,
				    app ? type_name(app) : "nothing");
	if ((result = spok_phase_read_metadata(app, HINT, &v, err)) != 0 ||
	    (result = read_status(app, &v, err)) != 0)
		return result;

	spok_status_of_view(&v, t, p, prev, out);
	return 0;
}

void spok_status_of_view(const struct app_view *v, const struct spok_task *t,
			 const struct spok_platform *p, const struct spok_status *prev,
			 struct spok_status *out)
{
	out->app_state = xstrdup(v->state);
	out->spark_app_id = nonempty(v->app_id) ? xstrdup(v->app_id) : NULL;
	out->driver_pod = nonempty(v->driver_pod) ? xstrdup(v->driver_pod) : NULL;
	out->ui_address = ui_address(v->ingress);
	out->start_unix = v->start_unix;
	if (strcmp(v->state, "COMPLETED") == 0 || strcmp(v->state, "FAILED") == 0)
		out->finish_unix = v->finish_unix;
	out->executors = v->executors ? json_deep_copy(v->executors) : NULL;

	map_state(v, out);
	bump_version(prev, out);
	deletion_rule(v, out);
	build_links(v, t, p, out);
}

void spok_status_free(struct spok_status *s)
{
	free(s->reason);
	free(s->error_code);
	free(s->error_message);
	free(s->app_state);
	free(s->spark_app_id);
	free(s->driver_pod);
	free(s->ui_address);
	spok_links_free(s->links, s->nlinks);
	json_decref(s->executors);
	memset(s, 0, sizeof(*s));
}

static json_t *str_or_null(const char *s)
{
	json_t *j;

	if (s == NULL)
		return json_null();
	/* Config or task strings that are not UTF-8 must not make the whole object NULL. */
	j = json_string(s);
	return j ? j : json_string("(not UTF-8)");
}

json_t *spok_status_to_json(const struct spok_status *s)
{
	json_t *links = json_array();
	static const char *const kinds[] = {"UNKNOWN", "USER", "SYSTEM"};

	for (size_t i = 0; i < s->nlinks; i++) {
		const struct spok_link *l = &s->links[i];
		json_array_append_new(links, json_pack("{s:o, s:o, s:s, s:i, s:b, s:b}",
			"name", str_or_null(l->name), "uri", str_or_null(l->uri),
			"kind", spok_link_kind_name(l->kind), "message_format", l->message_format,
			"show_while_pending", l->show_while_pending,
			"hide_once_finished", l->hide_once_finished));
	}
	return json_pack("{s:s, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:o, s:O}",
		"phase", spok_phase_name(s->phase),
		"phase_version", (json_int_t)s->phase_version,
		"reason", str_or_null(s->reason),
		"error_code", str_or_null(s->error_code),
		"error_kind", s->error_code ? json_string(kinds[s->error_kind % 3]) : json_null(),
		"error_message", str_or_null(s->error_message),
		"app_state", str_or_null(s->app_state),
		"spark_app_id", str_or_null(s->spark_app_id),
		"driver_pod", str_or_null(s->driver_pod),
		"ui_address", str_or_null(s->ui_address),
		"start_unix", (json_int_t)s->start_unix,
		"finish_unix", (json_int_t)s->finish_unix,
		"links", links,
		"executors", s->executors ? s->executors : json_null());
}
