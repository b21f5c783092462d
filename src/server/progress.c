/* progress.c - the `progress` object of GET /api/v1/executions/{id} for running executions.
 *
 * Nothing is read until someone asks: the first GET of a running execution starts a reader
 * of its Spark UI (src/progress/reader.h: a local run's URL; a cluster run's UI Service or
 * driver pod through the API server with the cluster's client) and answers what is known
 * (null at first); later GETs answer the last read at once. A reader nobody asked about for
 * SRV_PROGRESS_KEEP_MS stops. At most SRV_PROGRESS_MAX readers run; more executions answer
 * null. Nothing here waits: every read is a callback on the daemon's loop.
 */
#include <stdlib.h>
#include <string.h>

#include "common/timefmt.h"
#include "common/xalloc.h"
#include "progress/reader.h"
#include "server/daemon.h"
#include "sparkapp/sparkapp.h"

struct srv_progress_entry {
	struct srv_progress_entry *next;
	struct srv_daemon *d;
	char *id;
	char *ns, *app;               /* a cluster run's SparkApplication */
	struct kube_client *client;   /* its cluster's (borrowed), or NULL: a local run */
	char *url;                    /* what the reader reads (local: the UI URL) */
	struct spok_progress_reader *reader;
	bool app_busy;                /* a GET of the SparkApplication is out */
	bool direct;                  /* direct submission: the driver pod is read instead */
	bool dead;                    /* dropped: freed when that GET returns */
	struct spok_progress last;
	bool have;
	int64_t asked_ms;
};

struct srv_progress {
	struct srv_progress_entry *head;
	size_t n;
	uv_timer_t timer;             /* sweeps unasked entries; runs while there are any */
	bool timer_open;
};

static void entry_free(struct srv_progress_entry *e)
{
	spok_progress_reader_free(e->reader);
	free(e->id);
	free(e->ns);
	free(e->app);
	free(e->url);
	free(e);
}

/* Off the list; its memory goes now, or when its SparkApplication read returns. */
static void entry_drop(struct srv_progress *p, struct srv_progress_entry **link)
{
	struct srv_progress_entry *e = *link;

	*link = e->next;
	p->n--;
	spok_progress_reader_free(e->reader);
	e->reader = NULL;
	e->dead = true;
	if (!e->app_busy)
		entry_free(e);
}

static void on_sweep(uv_timer_t *t)
{
	struct srv_progress *p = t->data;
	int64_t now = spok_now_ms();

	for (struct srv_progress_entry **link = &p->head; *link;) {
		if (now - (*link)->asked_ms >= SRV_PROGRESS_KEEP_MS)
			entry_drop(p, link);
		else
			link = &(*link)->next;
	}
	if (p->head == NULL)
		uv_timer_stop(&p->timer);
}

static void on_progress(void *data, const struct spok_progress *pr, int code, const char *msg)
{
	struct srv_progress_entry *e = data;

	(void)msg; /* not up yet, or gone: keep what was read */
	if (code != 0)
		return;
	e->last = *pr;
	e->have = true;
}

static void on_app(void *data, const struct kube_resp *r)
{
	struct srv_progress_entry *e = data;
	struct spok_backend_ui ui;
	char *prefix = NULL;

	e->app_busy = false;
	if (e->dead) {
		entry_free(e);
		return;
	}
	if (r->code == 0 && (e->direct ? spok_backend_ui_of_pod(r->body, e->app, &ui, NULL)
				       : spok_backend_ui_of(r->body, e->app, &ui, NULL)) == 0) {
		prefix = spok_backend_ui_prefix(&ui, e->ns);
		spok_backend_ui_free(&ui);
	}
	if (prefix && (e->url == NULL || strcmp(prefix, e->url) != 0)) {
		spok_progress_reader_free(e->reader);
		e->reader = NULL;
		if (spok_progress_reader_proxy(e->client, prefix, SRV_PROGRESS_POLL_MS, on_progress, e,
					       &e->reader, NULL) == 0) {
			free(e->url);
			e->url = xstrdup(prefix);
		}
	}
	free(prefix);
}

/* Starts (or moves) the entry's reader to where x's UI is now. */
static void entry_follow(struct srv_progress_entry *e, const struct spok_execution *x)
{
	static const struct kube_gvr sparkapps = SPOK_SPARKAPP_GVR;
	static const struct kube_gvr pods = {"", "v1", "pods"};

	if (e->client == NULL) {
		/* a warm run's UI is its session server's, shared with other runs: no totals */
		if (x->ui_url == NULL || x->session != NULL || (e->url && strcmp(e->url, x->ui_url) == 0))
			return;
		spok_progress_reader_free(e->reader);
		e->reader = NULL;
		free(e->url);
		e->url = NULL;
		if (spok_progress_reader_url(&e->d->loop, x->ui_url, SRV_PROGRESS_POLL_MS, on_progress, e,
					     &e->reader, NULL) == 0)
			e->url = xstrdup(x->ui_url);
		return;
	}
	if (e->reader != NULL || e->app_busy || x->phase != SPOK_PHASE_RUNNING)
		return;
	if (e->direct) { /* the driver pod names the UI port (spok_backend_ui_of_pod) */
		char *pod = xasprintf("%s-driver", e->app);

		e->app_busy = kube_get(e->client, &pods, e->ns, pod, on_app, e, NULL) == 0;
		free(pod);
	} else if (kube_get(e->client, &sparkapps, e->ns, e->app, on_app, e, NULL) == 0) {
		e->app_busy = true;
	}
}

static struct srv_progress_entry *entry_new(struct srv_daemon *d, const struct spok_execution *x)
{
	struct srv_progress *p = d->progress;
	struct spok_backend_ctx ctx;
	const struct spok_backend_ops *b = srv_backend(d, x, &ctx);
	struct srv_progress_entry *e;

	if (p->n >= SRV_PROGRESS_MAX || (b->cluster && (ctx.client == NULL || !x->namespace_ ||
							 !x->resource_name)))
		return NULL;
	e = xcalloc(1, sizeof(*e));
	e->d = d;
	e->id = xstrdup(x->id);
	e->client = b->cluster ? ctx.client : NULL;
	e->ns = x->namespace_ ? xstrdup(x->namespace_) : NULL;
	e->app = x->resource_name ? xstrdup(x->resource_name) : NULL;
	e->direct = spok_execution_direct(x);
	spok_progress_init(&e->last);
	e->next = p->head;
	p->head = e;
	p->n++;
	if (!p->timer_open) {
		uv_timer_init(&d->loop, &p->timer);
		p->timer.data = p;
		p->timer_open = true;
	}
	if (!uv_is_active((uv_handle_t *)&p->timer))
		uv_timer_start(&p->timer, on_sweep, SRV_PROGRESS_KEEP_MS / 3, SRV_PROGRESS_KEEP_MS / 3);
	return e;
}

json_t *srv_progress_of(struct srv_daemon *d, const struct spok_execution *x)
{
	struct srv_progress_entry *e;

	if (spok_phase_terminal(x->phase) || d->stopping)
		return NULL;
	if (d->progress == NULL)
		d->progress = xcalloc(1, sizeof(*d->progress));
	for (e = d->progress->head; e && strcmp(e->id, x->id) != 0; e = e->next)
		;
	if (e == NULL && (e = entry_new(d, x)) == NULL)
		return json_null();
	e->asked_ms = spok_now_ms();
	entry_follow(e, x);
	return e->have ? spok_progress_json(&e->last) : json_null();
}

static void timer_closed(uv_handle_t *h)
{
	free(h->data);
}

void srv_progress_stop(struct srv_daemon *d)
{
	struct srv_progress *p = d->progress;

	if (p == NULL)
		return;
	while (p->head)
		entry_drop(p, &p->head);
	d->progress = NULL;
	if (p->timer_open)
		uv_close((uv_handle_t *)&p->timer, timer_closed);
	else
		free(p);
}
