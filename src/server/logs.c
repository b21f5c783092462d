/* logs.c - the driver log of an execution, fetched the one way every front end gets it:
 * GET /api/v1/executions/{id}/logs (HTTP, below) and the connector's GetTaskLogs.
 *
 * A local run's log file is read at once (its tail). A cluster execution's log takes two
 * streaming GETs on the loop, both cancellable (kube_request is not): the SparkApplication,
 * for status.driverInfo.podName (default "<app>-driver", the operator's naming), then
 * pods/<pod>/log?container=spark-kubernetes-driver with tailLines/limitBytes. A fetch is
 * owned by itself from start to end: it frees itself right after its done callback returns,
 * or inside srv_log_cancel.
 */
#include "server/daemon.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "kube/stream.h"

#define APP_MAX ((uint64_t)1 << 20)   /* a SparkApplication is far smaller */
#define FETCH_TIMEOUT_MS 30000        /* each GET; a suspended connection has no timeout */
#define DRIVER_CONTAINER "spark-kubernetes-driver"

static const struct kube_gvr SPARKAPPS = {"sparkoperator.k8s.io", "v1beta2", "sparkapplications"};

struct srv_log_fetch {
	struct srv_daemon *d;
	struct srv_cluster *c;
	srv_log_cb done;
	void *data;
	char *id, *ns, *app, *pod;
	unsigned long tail;
	size_t limit;
	bool app_missing;           /* the SparkApplication is gone: pod name is the default */
	struct kube_stream *stream; /* the GET in flight; NULL between steps */
	struct spok_buf buf;        /* the SparkApplication JSON, then the log */
};

/* ---- local runs ---- */

/* The tail of a local run's log file: at most limit bytes, then the last tail lines. */
static void read_file(FILE *f, unsigned long tail, size_t limit, struct spok_buf *out)
{
	struct spok_buf b;
	size_t n, skip;

	/* Only the tail: a log can be far larger than one answer should be. */
	if (fseeko(f, 0, SEEK_END) == 0 && ftello(f) > (off_t)limit)
		fseeko(f, -(off_t)limit, SEEK_END);
	else
		fseeko(f, 0, SEEK_SET);
	spok_buf_init(&b, limit);
	for (char chunk[8192];;) {
		if ((n = fread(chunk, 1, sizeof(chunk), f)) == 0 || spok_buf_append(&b, chunk, n) != 0)
			break;
	}
	skip = srv_tail_lines(b.data, b.len, tail);
	spok_buf_init(out, limit);
	if (b.len > skip)
		spok_buf_append(out, b.data + skip, b.len - skip);
	spok_buf_free(&b);
}

/* ---- cluster executions ---- */

static void fetch_free(struct srv_log_fetch *f)
{
	f->d->m.log_fetches_active--;
	spok_buf_free(&f->buf);
	free(f->id);
	free(f->ns);
	free(f->app);
	free(f->pod);
	free(f);
}

void srv_log_cancel(struct srv_log_fetch *f)
{
	if (f == NULL)
		return;
	f->d->m.log_fetches_cancelled++;
	log_info("serve: driver log of %s: cancelled", f->id);
	kube_stream_cancel(f->stream);
	fetch_free(f);
}

static void fetch_finish(struct srv_log_fetch *f, const struct srv_log_result *res)
{
	f->done(f->data, res);
	fetch_free(f);
}

/* A failed GET: a missing object is named; a down cluster, a timeout or the API server's
 * refusal carry the cluster's name and its one line. */
static void fetch_fail(struct srv_log_fetch *f, const struct kube_stream_result *kr)
{
	struct srv_log_result res = {kr->code ? kr->code : SPOK_EAPI, kr->http_status, NULL, NULL};
	const char *what = f->pod ? "driver pod" : "SparkApplication";
	const char *name = f->pod ? f->pod : f->app;
	char *msg;

	if (kr->code == SPOK_ENOTFOUND)
		msg = xasprintf("%s %s/%s does not exist%s; the driver has not started or was "
				"deleted (see the execution's phase)", what, f->ns, name,
				f->app_missing ? " (nor does its SparkApplication)" : "");
	else if (kr->code == SPOK_EUNAVAIL)
		msg = xasprintf("cluster %s: %s %s/%s: %s; retry when GET /healthz shows it up",
				f->c->cfg->name, what, f->ns, name, kr->message);
	else if (kr->code == SPOK_ETIMEOUT)
		msg = xasprintf("cluster %s: %s %s/%s: %s; retry", f->c->cfg->name, what, f->ns,
				name, kr->message);
	else
		msg = xasprintf("cluster %s: %s", f->c->cfg->name, kr->message);
	res.message = msg;
	fetch_finish(f, &res);
	free(msg);
}

static bool on_chunk(void *data, const char *p, size_t n)
{
	struct srv_log_fetch *f = data;

	/* The stream's cap keeps this within the buffer's; stop rather than lose the tail. */
	return spok_buf_append(&f->buf, p, n) == 0;
}

static void log_done(void *data, const struct kube_stream_result *kr)
{
	struct srv_log_fetch *f = data;
	struct srv_log_result res = {0, kr->http_status, "", &f->buf};

	f->stream = NULL;
	if (kr->code != 0) {
		fetch_fail(f, kr);
		return;
	}
	/* An empty log is an answer too: the API server gives it for a pod on no node. */
	fetch_finish(f, &res);
}

static int log_start(struct srv_log_fetch *f, struct spok_err *err)
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
	struct srv_log_fetch *f = data;
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

static int app_start(struct srv_log_fetch *f, struct spok_err *err)
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

static int fetch_start(struct srv_daemon *d, struct srv_cluster *c,
		       const struct spok_execution *x, const struct srv_log_opts *o,
		       struct srv_log_fetch **out, struct spok_err *err)
{
	struct srv_log_fetch *f;
	struct spok_err e = {0};

	if (d->stopping)
		return spok_err_set(err, SPOK_EUNAVAIL, "the server is shutting down; retry the "
				    "request");
	/* No gate on the health probe's last answer: it may be seconds old either way, and a
	 * cluster that refuses connections fails the (unretried) stream at once. */
	if (x->resource_name == NULL || x->namespace_ == NULL)
		return spok_err_set(err, SPOK_ENOTFOUND, "execution %s has no SparkApplication yet "
				    "(phase %s), so no driver pod; retry shortly", x->id,
				    spok_phase_name(x->phase));
	f = xcalloc(1, sizeof(*f));
	f->d = d;
	f->c = c;
	f->done = o->done;
	f->data = o->data;
	f->id = xstrdup(x->id);
	f->ns = xstrdup(x->namespace_);
	f->app = xstrdup(x->resource_name);
	f->tail = o->tail_lines;
	f->limit = o->limit_bytes;
	d->m.log_fetches_active++;
	if (app_start(f, &e) != 0) {
		fetch_free(f);
		return spok_err_set(err, SPOK_EAPI, "cluster %s: %s", c->cfg->name, e.msg);
	}
	d->m.log_fetches++;
	*out = f;
	return SPOK_OK;
}

/* A local run's log, only when it is a regular file: the loop must never block on a FIFO
 * or a device that someone put at that path. */
static FILE *open_log(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	FILE *f;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (f = fdopen(fd, "rb")) == NULL) {
		close(fd);
		return NULL;
	}
	return f;
}

int srv_log_get(struct srv_daemon *d, const struct spok_execution *x,
		const struct srv_log_opts *o, struct srv_log_fetch **out, struct spok_buf *now,
		struct spok_err *err)
{
	struct srv_cluster *c;
	FILE *f;

	*out = NULL;
	if (x->log_path && (f = open_log(x->log_path)) != NULL) {
		read_file(f, o->tail_lines, o->limit_bytes, now);
		fclose(f);
		return SPOK_OK;
	}
	if ((c = srv_cluster_by_name(d, x->backend)) != NULL)
		return fetch_start(d, c, x, o, out, err);
	return spok_err_set(err, SPOK_ENOTFOUND, "execution %s has no driver log yet", x->id);
}

/* ---- HTTP: GET /api/v1/executions/{id}/logs ---- */

static void http_fail(struct srv_reply *r, int code, const char *msg)
{
	if (code == SPOK_ENOTFOUND)
		srv_reply_error(r, 404, "not_found", "%s", msg);
	else if (code == SPOK_EUNAVAIL)
		srv_reply_error(r, 503, "unavailable", "%s", msg);
	else if (code == SPOK_ETIMEOUT)
		srv_reply_error(r, 504, "timeout", "%s", msg);
	else
		srv_reply_error(r, 502, "bad_gateway", "%s", msg);
}

static void http_text(struct srv_reply *r, struct spok_buf *log)
{
	r->status = 200;
	r->content_type = "text/plain; charset=utf-8";
	r->len = log->len;
	r->body = spok_buf_detach(log);
}

static void http_done(void *data, const struct srv_log_result *res)
{
	struct srv_reply r = {0};

	if (res->code != 0)
		http_fail(&r, res->code, res->message);
	else
		http_text(&r, res->log);
	srv_http_resume(data, &r);
}

/* Called by http.c (client gone, shutdown): never from inside the fetch's callbacks. */
static void http_cancel(void *work)
{
	srv_log_cancel(work);
}

void srv_logs_http(struct srv_daemon *d, struct srv_req *rq, const struct spok_execution *x,
		   unsigned long tail_lines, size_t limit_bytes, struct srv_reply *r)
{
	struct srv_log_opts o = {tail_lines, limit_bytes, http_done, rq};
	struct srv_log_fetch *f;
	struct spok_buf now = {0};
	struct spok_err err = {0};

	if (srv_log_get(d, x, &o, &f, &now, &err) != SPOK_OK)
		http_fail(r, err.code, err.msg);
	else if (f == NULL)
		http_text(r, &now);
	else
		srv_http_suspend(rq, http_cancel, f);
	spok_buf_free(&now);
}
