/* logs.c - the driver log of an execution, fetched the one way every front end gets it:
 * GET /api/v1/executions/{id}/logs (HTTP, below) and the connector's GetTaskLogs.
 *
 * The execution's backend (src/backend) does the fetching on the daemon's loop: a local
 * run's log file (its tail), or a cluster execution's driver pod log (the SparkApplication
 * for status.driverInfo.podName, then pods/<pod>/log with tailLines/limitBytes), both
 * cancellable. This file collects the answer and keeps the daemon's counters. A fetch is
 * owned by itself from start to end: it frees itself right after its done callback returns,
 * or inside srv_log_cancel.
 */
#include "server/daemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"

#define FETCH_TIMEOUT_MS 30000 /* each cluster GET; a suspended connection has no timeout */

struct srv_log_fetch {
	struct srv_daemon *d;
	bool cluster;               /* counted in the cluster fetch metrics */
	srv_log_cb done;
	void *data;
	char *id;
	struct spok_backend_log *l; /* the backend's fetch; NULL once done */
	struct spok_buf buf;        /* the log */
};

static void fetch_free(struct srv_log_fetch *f)
{
	if (f->cluster)
		f->d->m.log_fetches_active--;
	spok_buf_free(&f->buf);
	free(f->id);
	free(f);
}

void srv_log_cancel(struct srv_log_fetch *f)
{
	if (f == NULL)
		return;
	if (f->cluster)
		f->d->m.log_fetches_cancelled++;
	log_info("serve: driver log of %s: cancelled", f->id);
	spok_backend_log_cancel(f->l);
	fetch_free(f);
}

static bool on_chunk(void *data, const char *p, size_t n)
{
	struct srv_log_fetch *f = data;

	/* The fetch's cap keeps this within the buffer's; stop rather than lose the tail. */
	return spok_buf_append(&f->buf, p, n) == 0;
}

static void on_done(void *data, const struct spok_backend_log_result *br)
{
	struct srv_log_fetch *f = data;
	struct srv_log_result res = {br->code, br->http_status, br->message, &f->buf};

	f->l = NULL;
	/* An empty log is an answer too: the API server gives it for a pod on no node. */
	f->done(f->data, &res);
	fetch_free(f);
}

int srv_log_get(struct srv_daemon *d, const struct spok_execution *x,
		const struct srv_log_opts *o, struct srv_log_fetch **out, struct spok_err *err)
{
	struct spok_backend_ctx ctx;
	const struct spok_backend_ops *b = srv_backend(d, x, &ctx);
	struct spok_backend_log_opts bo = {0};
	struct srv_log_fetch *f;
	struct spok_err e = {0};

	*out = NULL;
	if (d->stopping)
		return spok_err_set(err, SPOK_EUNAVAIL, "the server is shutting down; retry the "
				    "request");
	if (b->cluster && ctx.client == NULL)
		return spok_err_set(err, SPOK_ENOTFOUND, "execution %s has no driver log yet", x->id);
	f = xcalloc(1, sizeof(*f));
	f->d = d;
	f->cluster = b->cluster;
	f->done = o->done;
	f->data = o->data;
	f->id = xstrdup(x->id);
	spok_buf_init(&f->buf, o->limit_bytes);
	bo.tail_lines = (long)o->tail_lines;
	bo.limit_bytes = o->limit_bytes;
	bo.timeout_ms = FETCH_TIMEOUT_MS;
	bo.chunk = on_chunk;
	bo.done = on_done;
	bo.data = f;
	if (f->cluster)
		d->m.log_fetches_active++;
	/* No gate on the health probe's last answer: it may be seconds old either way, and a
	 * cluster that refuses connections fails the (unretried) stream at once. */
	if (b->logs(&ctx, x, &bo, &f->l, &e) != 0) {
		fetch_free(f);
		if (e.code == SPOK_ENOTFOUND || !b->cluster)
			return spok_err_set(err, e.code, "%s", e.msg);
		return spok_err_set(err, SPOK_EAPI, "cluster %s: %s", x->backend, e.msg);
	}
	if (f->cluster)
		d->m.log_fetches++;
	*out = f;
	return SPOK_OK;
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
	struct spok_err err = {0};

	if (srv_log_get(d, x, &o, &f, &err) != SPOK_OK)
		http_fail(r, err.code, err.msg);
	else
		srv_http_suspend(rq, http_cancel, f);
}
