/* logs.c - GET /api/v1/executions/{id}/logs for cluster executions: the driver pod's log,
 * fetched on the loop while the HTTP connection is suspended (http.c).
 *
 * Two streaming GETs, both cancellable (kube_request is not): the SparkApplication, for
 * status.driverInfo.podName (default "<app>-driver", the operator's naming), then
 * pods/<pod>/log?container=spark-kubernetes-driver with tailLines/limitBytes. A fetch is
 * owned by itself from start to end: it frees itself after handing its answer to
 * srv_http_resume, or inside fetch_cancel (client gone, shutdown).
 */
#include "server/daemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "kube/stream.h"

#define APP_MAX ((uint64_t)1 << 20)   /* a SparkApplication is far smaller */
#define FETCH_TIMEOUT_MS 30000        /* each GET; a suspended connection has no timeout */
#define DRIVER_CONTAINER "spark-kubernetes-driver"

static const struct kube_gvr SPARKAPPS = {"sparkoperator.k8s.io", "v1beta2", "sparkapplications"};

struct fetch {
	struct srv_daemon *d;
	struct srv_req *rq;
	struct srv_cluster *c;
	char *id, *ns, *app, *pod;
	unsigned long tail;
	size_t limit;
	bool app_missing;           /* the SparkApplication is gone: pod name is the default */
	struct kube_stream *stream; /* the GET in flight; NULL between steps */
	struct spok_buf buf;        /* the SparkApplication JSON, then the log */
};

static void fetch_free(struct fetch *f)
{
	f->d->m.log_fetches_active--;
	spok_buf_free(&f->buf);
	free(f->id);
	free(f->ns);
	free(f->app);
	free(f->pod);
	free(f);
}

/* Called by http.c (client gone, shutdown): never from inside our stream callbacks. */
static void fetch_cancel(void *work)
{
	struct fetch *f = work;

	f->d->m.log_fetches_cancelled++;
	log_info("serve: driver log of %s: cancelled", f->id);
	kube_stream_cancel(f->stream);
	fetch_free(f);
}

static void fetch_finish(struct fetch *f, struct srv_reply *r)
{
	srv_http_resume(f->rq, r);
	fetch_free(f);
}

/* A failed GET: 404 names the pod; a down cluster 503; a timeout 504; else 502 with the
 * API server's one line. */
static void fetch_fail(struct fetch *f, const struct kube_stream_result *res)
{
	struct srv_reply r = {0};
	const char *what = f->pod ? "driver pod" : "SparkApplication";
	const char *name = f->pod ? f->pod : f->app;

	if (res->code == SPOK_ENOTFOUND)
		srv_reply_error(&r, 404, "not_found", "%s %s/%s does not exist%s; the driver has "
				"not started or was deleted (see the execution's phase)", what,
				f->ns, name, f->app_missing ? " (nor does its SparkApplication)" : "");
	else if (res->code == SPOK_EUNAVAIL)
		srv_reply_error(&r, 503, "unavailable", "cluster %s: %s %s/%s: %s; retry when GET "
				"/healthz shows it up", f->c->cfg->name, what, f->ns, name,
				res->message);
	else if (res->code == SPOK_ETIMEOUT)
		srv_reply_error(&r, 504, "timeout", "cluster %s: %s %s/%s: %s; retry", f->c->cfg->name,
				what, f->ns, name, res->message);
	else
		srv_reply_error(&r, 502, "bad_gateway", "cluster %s: %s", f->c->cfg->name,
				res->message);
	fetch_finish(f, &r);
}

static bool on_chunk(void *data, const char *p, size_t n)
{
	struct fetch *f = data;

	/* The stream's cap keeps this within the buffer's; stop rather than lose the tail. */
	return spok_buf_append(&f->buf, p, n) == 0;
}

static void log_done(void *data, const struct kube_stream_result *res)
{
	struct fetch *f = data;
	struct srv_reply r = {0};

	f->stream = NULL;
	if (res->code != 0) {
		fetch_fail(f, res);
		return;
	}
	/* An empty log is an answer too: the API server gives it for a pod on no node. */
	r.status = 200;
	r.content_type = "text/plain; charset=utf-8";
	r.len = f->buf.len;
	r.body = xmalloc(f->buf.len + 1);
	if (f->buf.len)
		memcpy(r.body, f->buf.data, f->buf.len);
	r.body[f->buf.len] = '\0';
	fetch_finish(f, &r);
}

static int log_start(struct fetch *f, struct spok_err *err)
{
	struct kube_stream_opts o = {0};
	char *path = kube_pod_log_path(f->ns, f->pod);
	char *query = xasprintf("container=" DRIVER_CONTAINER "&tailLines=%lu&limitBytes=%zu",
				f->tail, f->limit);
	int result;

	spok_buf_free(&f->buf);
	spok_buf_init(&f->buf, f->limit);
	o.path = path;
	o.query = query;
	o.cap = f->limit;
	o.timeout_ms = FETCH_TIMEOUT_MS;
	result = kube_stream_get(f->c->client, &o, on_chunk, log_done, f, &f->stream, err);
	free(path);
	free(query);
	return result;
}

/* status.driverInfo.podName of the SparkApplication JSON, or NULL. */
static char *pod_of(const struct spok_buf *b)
{
	json_t *app = json_loadb(b->data ? b->data : "", b->len, 0, NULL);
	const char *pod = json_string_value(json_object_get(json_object_get(
		json_object_get(app, "status"), "driverInfo"), "podName"));
	char *out = pod && pod[0] ? xstrdup(pod) : NULL;

	json_decref(app);
	return out;
}

static void app_done(void *data, const struct kube_stream_result *res)
{
	struct fetch *f = data;
	struct spok_err err = {0};
	struct kube_stream_result fail = {0};

	f->stream = NULL;
	if (res->code != 0 && res->code != SPOK_ENOTFOUND) {
		fetch_fail(f, res);
		return;
	}
	/* A deleted SparkApplication may leave its pod behind for a moment: try the default. */
	f->app_missing = res->code == SPOK_ENOTFOUND;
	if (res->code == 0)
		f->pod = pod_of(&f->buf);
	if (f->pod == NULL)
		f->pod = xasprintf("%s-driver", f->app);
	if (log_start(f, &err) != 0) {
		fail.code = err.code;
		fail.message = err.msg;
		fetch_fail(f, &fail);
	}
}

static int app_start(struct fetch *f, struct spok_err *err)
{
	struct kube_stream_opts o = {0};
	char *path = kube_path(&SPARKAPPS, f->ns, f->app, NULL);
	int result;

	spok_buf_init(&f->buf, APP_MAX);
	o.path = path;
	o.cap = APP_MAX;
	o.timeout_ms = FETCH_TIMEOUT_MS;
	result = kube_stream_get(f->c->client, &o, on_chunk, app_done, f, &f->stream, err);
	free(path);
	return result;
}

void srv_logs_cluster(struct srv_daemon *d, struct srv_req *rq, struct srv_cluster *c,
		      const struct spok_execution *x, unsigned long tail_lines, size_t limit_bytes,
		      struct srv_reply *r)
{
	struct spok_err err = {0};
	struct fetch *f;

	if (d->stopping) {
		srv_reply_error(r, 503, "unavailable", "the server is shutting down; retry the "
				"request");
		return;
	}
	/* No gate on the health probe's last answer: it may be seconds old either way, and a
	 * cluster that refuses connections fails the (unretried) stream at once with 503. */
	if (x->resource_name == NULL || x->namespace_ == NULL) {
		srv_reply_error(r, 404, "not_found", "execution %s has no SparkApplication yet "
				"(phase %s), so no driver pod; retry shortly", x->id,
				spok_phase_name(x->phase));
		return;
	}
	f = xcalloc(1, sizeof(*f));
	f->d = d;
	f->rq = rq;
	f->c = c;
	f->id = xstrdup(x->id);
	f->ns = xstrdup(x->namespace_);
	f->app = xstrdup(x->resource_name);
	f->tail = tail_lines;
	f->limit = limit_bytes;
	d->m.log_fetches_active++;
	if (app_start(f, &err) != 0) {
		fetch_free(f);
		srv_reply_error(r, 502, "bad_gateway", "cluster %s: %s", c->cfg->name, err.msg);
		return;
	}
	d->m.log_fetches++;
	srv_http_suspend(rq, fetch_cancel, f);
}
