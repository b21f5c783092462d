/* backend_kube.c - executions on a Kubernetes cluster (src/engine over src/kube): abort,
 * one live read of the SparkApplication, driver and executor logs. The row's backend column
 * is the cluster's name. See docs/ARCHITECTURE.md, "Cluster runs".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend/internal.h"
#include "common/buf.h"
#include "common/pid.h"
#include "common/timefmt.h"
#include "common/xalloc.h"
#include "engine/engine.h"
#include "kube/client.h"
#include "kube/stream.h"
#include "phase/phase.h"
#include "sparkapp/sparkapp.h"

#define ABORT_WAIT_MS 60000
#define APP_MAX ((uint64_t)1 << 20) /* a SparkApplication is far smaller */

static const struct kube_gvr SPARKAPPS = SPOK_SPARKAPP_GVR;
static const struct kube_gvr PODS = {"", "v1", "pods"};

static struct spok_proc_id supervisor_of(const struct spok_execution *x)
{
	return (struct spok_proc_id){x->supervisor_pid, x->supervisor_start};
}

/* Unknown (no pid recorded) counts as followed: only a recorded, dead supervisor is not. */
static bool kube_supervised(const struct spok_execution *x)
{
	return !spok_pid_ok(x->supervisor_pid) || spok_proc_alive(supervisor_of(x));
}

static int kube_settle(struct spok_backend_ctx *c, struct spok_execution *x, struct spok_err *err)
{
	(void)c;
	(void)x;
	(void)err;
	return 0; /* an engine (a supervisor, `spok reconcile`, the daemon) records cluster runs */
}

static int kube_submit(struct spok_backend_ctx *c, struct spok_task *t, const char *ns,
		       const char *task_source, const char *key, char *id_out, size_t id_len,
		       struct spok_err *err)
{
	if (c->engine == NULL)
		return spok_err_set(err, SPOK_EINVAL, "no engine follows this cluster here: submit "
				    "through 'spok run --cluster' or 'spok serve'");
	int result = spok_engine_submit_noted(c->engine, t, ns, task_source, key, c->fallback, id_out,
					      id_len, err);
	char msg[SPOK_ERR_MSG_MAX];

	/* The caller answers with the id: the row must be durable by then. A caller that can
	 * wait hears of it after the loop turn's commit, shared with the turn's other writes. */
	if (result == 0 && c->wait != NULL) {
		if (spok_engine_wait_durable(c->engine, c->wait, err) == 0)
			return 0;
		/* not expected: the engine is open (it just took the row); commit it now */
	}
	if (result != 0 || (result = spok_engine_sync(c->engine, err)) == 0)
		return result;
	snprintf(msg, sizeof(msg), "%s", err ? err->msg : "");
	return spok_err_set(err, result, "cannot record the new execution in the store (%s); "
			    "nothing was created", msg);
}

/* ---- abort ---- */

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* The live supervisor notices the flag on its next tick: wait until it recorded the end. */
static int wait_for_supervisor(struct spok_backend_ctx *c, const char *id, struct spok_err *err)
{
	struct spok_execution now = {0};
	int result = 0;

	for (int64_t dl = spok_now_ms() + ABORT_WAIT_MS; spok_now_ms() < dl; sleep_ms(200)) {
		spok_execution_free(&now);
		if ((result = spok_store_get(c->store, id, &now, err)) != 0)
			break;
		if (!spok_engine_needs_work(&now))
			break;
	}
	spok_execution_free(&now);
	return result;
}

static void note_failure(void *data, enum spok_engine_event ev, const struct spok_execution *x)
{
	char **failed = data;

	if (ev == SPOK_ENGINE_FAILED && *failed == NULL)
		*failed = xstrdup(x->error_message ? x->error_message : "a store write failed");
}

/* No process follows x: an engine of our own adopts it, aborts it and runs to idle. */
static int abort_adopting(struct spok_backend_ctx *c, const struct spok_execution *x,
			  struct spok_err *err)
{
	struct spok_engine_opts o = {0};
	struct spok_engine *e = NULL;
	char *failed = NULL;
	int result;

	o.cluster = x->backend;
	o.on_event = note_failure;
	o.event_data = &failed;
	o.client = c->client;
	o.store = c->store;
	o.platform = c->platform;
	o.load_task = c->load_task;
	o.load_data = c->load_data;
	o.keep_on_success = c->platform->spok.keep_on_success;
	o.submitted_timeout_ms = c->platform->spok.submitted_timeout_ms;
	o.spark_version = c->platform->spok.spark_version;
	o.ship_local_files = c->ship_local_files;
	result = spok_engine_new(&o, &e, err);
	if (result == 0)
		result = spok_engine_adopt(e, x->id, err);
	if (result == 0)
		while (!spok_engine_idle(e))
			uv_run(c->loop, UV_RUN_ONCE);
	if (result == 0 && failed)
		result = spok_err_set(err, SPOK_EIO, "%s", failed);
	spok_engine_close(e);
	free(failed);
	return result;
}

static int kube_abort(struct spok_backend_ctx *c, const struct spok_execution *x,
		      struct spok_err *err)
{
	struct spok_proc_id sup = supervisor_of(x);
	int result;

	if (c->engine != NULL)
		return spok_engine_abort(c->engine, x->id, err);
	result = spok_store_request_abort(c->store, x->id, err);
	if (result != 0 || c->shared_loop)
		return result;
	if (sup.pid != getpid() && spok_proc_alive(sup))
		return wait_for_supervisor(c, x->id, err);
	return abort_adopting(c, x, err);
}

/* ---- live status ---- */

static json_t *live_links(const struct spok_status *s)
{
	json_t *a = json_array();

	for (size_t i = 0; i < s->nlinks; i++)
		json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "name", s->links[i].name ? s->links[i].name : "",
						   "uri", s->links[i].uri ? s->links[i].uri : "",
						   "kind", spok_link_kind_name(s->links[i].kind)));
	return a;
}

static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

/* Maps the object (a direct execution's: its driver pod) as the engine would (same task,
 * platform and previous phase), so the live phase is what the next reconcile records. An object labelled for another execution
 * is not this one's (the engine ignores it too). */
static int live_map(struct spok_backend_ctx *c, const struct spok_execution *x, const json_t *app,
		    json_t **out, struct spok_err *err)
{
	const char *label = json_string_value(json_object_get(
		json_object_get(json_object_get(app, "metadata"), "labels"), SPOK_LABEL_EXECUTION));
	struct spok_status prev = {0}, s = {0};
	struct spok_task task;
	bool have_task;
	int result;

	if (label == NULL || strcmp(label, x->id) != 0) {
		*out = json_pack("{s:b}", "found", 0);
		return 0;
	}
	spok_task_init(&task);
	/* Only task-dependent links need the task; a moved job file costs just those. */
	have_task = x->task_source && c->load_task && c->load_task(c->load_data, x, &task, NULL) == 0;
	prev.phase = x->phase;
	prev.phase_version = x->phase_version;
	prev.reason = x->reason ? x->reason : (char *)"";
	if (spok_execution_direct(x)) /* the driver pod; the executors only the engine sees */
		result = spok_status_from_driver_pod(app, NULL, have_task ? &task : NULL, c->platform,
						     &prev, &s, err);
	else
		result = spok_status_from_sparkapp(app, have_task ? &task : NULL, c->platform, &prev,
						   &s, err);
	if (result == 0) {
		const char *reason = s.error_message ? s.error_message : s.reason;

		*out = json_pack("{s:b,s:s,s:b,s:s?,s:s?,s:s?,s:s?,s:o}", "found", 1,
				 "phase", spok_phase_name(s.phase), "recorded", s.phase == x->phase,
				 "reason", nonempty(reason), "app_state", nonempty(s.app_state),
				 "spark_app_id", s.spark_app_id, "ui_url", s.ui_address,
				 "links", live_links(&s));
	}
	spok_status_free(&s);
	spok_task_free(&task);
	return result;
}

static int kube_live(struct spok_backend_ctx *c, const struct spok_execution *x, json_t **out,
		     struct spok_err *err)
{
	struct kube_sync s = {0};
	int result;

	*out = NULL;
	if (x->namespace_ == NULL || x->resource_name == NULL)
		return 0; /* nothing to read yet */
	if (c->client == NULL)
		return spok_err_set(err, SPOK_EUNAVAIL, "execution %s: cluster %s is not configured "
				    "here", x->id, x->backend ? x->backend : "-");
	if (spok_execution_direct(x)) {
		char *pod = xasprintf("%s-driver", x->resource_name);

		result = kube_get(c->client, &PODS, x->namespace_, pod, kube_sync_cb, &s, err);
		free(pod);
	} else {
		result = kube_get(c->client, &SPARKAPPS, x->namespace_, x->resource_name,
				  kube_sync_cb, &s, err);
	}
	if (result == 0)
		result = kube_sync_wait(c->client, &s, err);
	if (result == SPOK_ENOTFOUND && s.done && s.http_status == 404) {
		result = 0;
		*out = json_pack("{s:b}", "found", 0);
	} else if (result == 0) {
		result = live_map(c, x, s.body, out, err);
	}
	kube_sync_free(&s);
	return result;
}

/* ---- logs: the SparkApplication (for the driver pod's name), then pods/<pod>/log ---- */

struct kube_log {
	struct spok_backend_log base;
	struct kube_client *client;
	struct spok_backend_log_opts o;
	char *cluster, *ns, *app, *pod;
	bool app_missing;           /* the SparkApplication is gone: pod name is the default */
	struct kube_stream *stream; /* the GET in flight; NULL between steps */
	struct spok_buf buf;        /* the SparkApplication JSON */
	uint64_t bytes;
};

static void klog_free(struct kube_log *l)
{
	spok_buf_free(&l->buf);
	free(l->cluster);
	free(l->ns);
	free(l->app);
	free(l->pod);
	free(l);
}

static void klog_cancel(struct spok_backend_log *b)
{
	struct kube_log *l = (struct kube_log *)b;

	kube_stream_cancel(l->stream);
	klog_free(l);
}

static void klog_finish(struct kube_log *l, int code, long http, const char *msg)
{
	struct spok_backend_log_result r = {code, http, l->bytes, msg, l->pod};

	l->o.done(l->o.data, &r);
	klog_free(l);
}

/* A failed GET: a missing pod is named with what it means; a down cluster, a timeout or the
 * API server's refusal carry the cluster's name and its one line. */
static void klog_fail(struct kube_log *l, const struct kube_stream_result *kr)
{
	const char *what = l->pod ? (l->o.executor ? "executor pod" : "driver pod") : "SparkApplication";
	const char *name = l->pod ? l->pod : l->app;
	int code = kr->code ? kr->code : SPOK_EAPI;
	char *msg;

	if (kr->code == SPOK_ENOTFOUND && l->o.executor)
		msg = xasprintf("executor pod %s/%s does not exist: Spark creates executors while the "
				"job runs and removes them when it ends (%s)", l->ns, name, kr->message);
	else if (kr->code == SPOK_ENOTFOUND)
		msg = xasprintf("%s %s/%s does not exist%s; the driver has not started or was "
				"deleted (see the execution's phase)", what, l->ns, name,
				l->app_missing ? " (nor does its SparkApplication)" : "");
	else if (kr->code == SPOK_EUNAVAIL)
		msg = xasprintf("cluster %s: %s %s/%s: %s; retry when the cluster is reachable",
				l->cluster, what, l->ns, name, kr->message);
	else if (kr->code == SPOK_ETIMEOUT)
		msg = xasprintf("cluster %s: %s %s/%s: %s; retry", l->cluster, what, l->ns, name,
				kr->message);
	else
		msg = xasprintf("cluster %s: %s", l->cluster, kr->message);
	klog_finish(l, code, kr->http_status, msg);
	free(msg);
}

static bool on_log_chunk(void *data, const char *p, size_t n)
{
	struct kube_log *l = data;

	l->bytes += n;
	return l->o.chunk(l->o.data, p, n);
}

static void log_done(void *data, const struct kube_stream_result *kr)
{
	struct kube_log *l = data;

	l->stream = NULL;
	if (kr->code != 0)
		klog_fail(l, kr);
	else /* an empty log is an answer too: the API server gives it for a pod on no node */
		klog_finish(l, 0, kr->http_status, "");
}

static int log_start(struct kube_log *l, struct spok_err *err)
{
	struct kube_stream_opts o = {0};
	struct spok_buf q;
	char *path = kube_pod_log_path(l->ns, l->pod);
	int result;

	spok_buf_init(&q, 0);
	spok_buf_printf(&q, "%scontainer=%s", l->o.follow ? "follow=true&" : "",
			l->o.executor ? SPOK_BACKEND_EXECUTOR_CONTAINER : SPOK_BACKEND_DRIVER_CONTAINER);
	if (l->o.tail_lines >= 0)
		spok_buf_printf(&q, "&tailLines=%ld", l->o.tail_lines);
	if (l->o.limit_bytes)
		spok_buf_printf(&q, "&limitBytes=%zu", l->o.limit_bytes);
	o.path = path;
	o.query = q.data;
	o.cap = l->o.limit_bytes;
	o.timeout_ms = l->o.follow ? 0 : l->o.timeout_ms;
	result = kube_stream_get(l->client, &o, on_log_chunk, log_done, l, &l->stream, err);
	free(path);
	spok_buf_free(&q);
	return result;
}

static bool on_app_chunk(void *data, const char *p, size_t n)
{
	struct kube_log *l = data;

	/* The stream's cap keeps this within the buffer's; stop rather than lose the tail. */
	return spok_buf_append(&l->buf, p, n) == 0;
}

static void app_done(void *data, const struct kube_stream_result *res)
{
	struct kube_log *l = data;
	struct spok_err err = {0};
	struct kube_stream_result fail = {0};
	json_t *app;

	l->stream = NULL;
	if (res->code != 0 && res->code != SPOK_ENOTFOUND) {
		klog_fail(l, res);
		return;
	}
	/* A deleted SparkApplication may leave its pod behind for a moment: try the default. */
	l->app_missing = res->code == SPOK_ENOTFOUND;
	app = res->code == 0 ? json_loadb(l->buf.data ? l->buf.data : "", l->buf.len, 0, NULL) : NULL;
	l->pod = spok_backend_driver_pod(app, l->app);
	json_decref(app);
	if (log_start(l, &err) != 0) {
		fail.code = err.code;
		fail.message = err.msg;
		klog_fail(l, &fail);
	}
}

static int app_start(struct kube_log *l, struct spok_err *err)
{
	struct kube_stream_opts o = {0};
	char *path = kube_path(&SPARKAPPS, l->ns, l->app, NULL);
	int result;

	spok_buf_init(&l->buf, APP_MAX);
	o.path = path;
	o.cap = APP_MAX;
	o.timeout_ms = l->o.timeout_ms;
	result = kube_stream_get(l->client, &o, on_app_chunk, app_done, l, &l->stream, err);
	free(path);
	return result;
}

static int kube_logs(struct spok_backend_ctx *c, const struct spok_execution *x,
		     const struct spok_backend_log_opts *o, struct spok_backend_log **out,
		     struct spok_err *err)
{
	struct kube_log *l;
	int result;

	if (out)
		*out = NULL;
	if (x->resource_name == NULL || x->namespace_ == NULL)
		return spok_err_set(err, SPOK_ENOTFOUND, "execution %s has no %s yet (phase %s)%s; "
				    "retry shortly", x->id,
				    spok_execution_direct(x) ? "driver pod" : "SparkApplication",
				    spok_phase_name(x->phase),
				    spok_execution_direct(x) ? "" : ", so no driver pod");
	if (c->client == NULL)
		return spok_err_set(err, SPOK_EUNAVAIL, "execution %s: cluster %s is not configured "
				    "here", x->id, x->backend ? x->backend : "-");
	l = xcalloc(1, sizeof(*l));
	l->base.cancel = klog_cancel;
	l->client = c->client;
	l->o = *o;
	l->cluster = xstrdup(x->backend ? x->backend : "-");
	l->ns = xstrdup(x->namespace_);
	l->app = xstrdup(x->resource_name);
	if (o->executor) { /* spok sets spark.kubernetes.executor.podNamePrefix to the app's name */
		l->pod = xasprintf("%s-exec-%u", x->resource_name, o->executor);
		result = log_start(l, err);
	} else if (spok_execution_direct(x)) { /* no SparkApplication: spok named the pod */
		l->pod = xasprintf("%s-driver", x->resource_name);
		result = log_start(l, err);
	} else {
		result = app_start(l, err);
	}
	if (result != 0) {
		klog_free(l);
		return result;
	}
	if (out)
		*out = &l->base;
	return 0;
}

static json_t *kube_links(const struct spok_execution *x)
{
	return x->links_json ? json_loads(x->links_json, 0, NULL) : NULL;
}

const struct spok_backend_ops spok_backend_kube = {
	.kind = "kubernetes",
	.cluster = true,
	.submit = kube_submit,
	.needs_work = spok_engine_needs_work,
	.supervised = kube_supervised,
	.settle = kube_settle,
	.abort = kube_abort,
	.live = kube_live,
	.logs = kube_logs,
	.links = kube_links,
};
