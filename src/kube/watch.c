/* watch.c - list + watch + relist-on-410, with line framing and event decoding. */
#include "kube/watch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "kube/internal.h"

#define BACKOFF_FIRST_MS 800.0
#define BACKOFF_MAX_MS 30000.0

/* ---- line framing ---- */

void kube_lines_init(struct kube_lines *l, size_t max_line)
{
	spok_buf_init(&l->buf, max_line != 0 ? max_line : KUBE_WATCH_LINE_MAX);
}

void kube_lines_free(struct kube_lines *l)
{
	spok_buf_free(&l->buf);
}

static int emit_line(const char *p, size_t n, kube_line_cb cb, void *data)
{
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (n == 0)
		return 0;
	return cb(data, p, n);
}

int kube_lines_feed(struct kube_lines *l, const char *p, size_t n, kube_line_cb cb, void *data)
{
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl != NULL ? (size_t)(nl - p) : n;
		int result;

		if (spok_buf_append(&l->buf, p, take) != 0)
			return SPOK_EINVAL;
		if (nl == NULL)
			return 0;
		result = emit_line(l->buf.data != NULL ? l->buf.data : "", l->buf.len, cb, data);
		spok_buf_reset(&l->buf);
		if (result != 0)
			return result;
		p += take + 1;
		n -= take + 1;
	}
	return 0;
}

/* ---- event decoding ---- */

static bool event_type(const char *s, enum kube_event_type *out)
{
	static const struct {
		const char *name;
		enum kube_event_type type;
	} names[] = {
		{"ADDED", KUBE_EVENT_ADDED},       {"MODIFIED", KUBE_EVENT_MODIFIED},
		{"DELETED", KUBE_EVENT_DELETED},   {"BOOKMARK", KUBE_EVENT_BOOKMARK},
		{"ERROR", KUBE_EVENT_ERROR},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i].name) == 0) {
			*out = names[i].type;
			return true;
		}
	}
	return false;
}

int kube_event_decode(const char *line, size_t len, struct kube_event *ev, json_t **object_out,
		      struct spok_err *err)
{
	return kube_event_decode_skip(line, len, 0, ev, object_out, err);
}

int kube_event_decode_skip(const char *line, size_t len, unsigned skip, struct kube_event *ev,
			   json_t **object_out, struct spok_err *err)
{
	json_error_t jerr;
	json_t *doc = kube_skim_load(line, len, KUBE_SKIM_EVENT, skip, &jerr), *obj;
	const char *type = json_string_value(json_object_get(doc, "type"));

	memset(ev, 0, sizeof(*ev));
	ev->message = "";
	*object_out = NULL;
	if (doc == NULL)
		return spok_err_set(err, SPOK_EAPI, "watch event: invalid JSON at column %d: %s",
				    jerr.column, jerr.text);
	obj = json_object_get(doc, "object");
	if (type == NULL || !event_type(type, &ev->type) || !json_is_object(obj)) {
		json_decref(doc);
		return spok_err_set(err, SPOK_EAPI, "watch event: needs a known \"type\" and an "
				    "\"object\"; is this a Kubernetes watch stream?");
	}
	json_incref(obj);
	json_decref(doc);
	ev->object = obj;
	*object_out = obj;
	if (ev->type == KUBE_EVENT_ERROR) {
		const char *m = json_string_value(json_object_get(obj, "message"));
		json_t *code = json_object_get(obj, "code");

		ev->status_code = json_is_integer(code) ? (long)json_integer_value(code) : 0;
		ev->message = m != NULL ? m : "watch error without a message";
	} else {
		ev->resource_version = json_string_value(
			json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
	}
	return 0;
}

/* ---- the watch ---- */

enum abort_reason { ABORT_NONE, ABORT_RELIST, ABORT_ERROR };
enum next_step { NEXT_CONNECT, NEXT_RELIST };

struct kube_watch {
	struct kube_client *c;
	char *group, *version, *resource, *ns, *selector;
	struct kube_watch_opts opts;
	char *rv;
	struct kube_lines lines;
	struct kube_call *call;
	uv_timer_t timer;
	enum next_step next;
	enum abort_reason abort;
	bool stopped, list_pending, timer_closed;
	int failures;
	kube_watch_cb cb;
	void *data;
	struct kube_watch_stats stats;
};

static void w_connect(struct kube_watch *w);
static void w_relist(struct kube_watch *w);

static void w_free(struct kube_watch *w)
{
	free(w->group);
	free(w->version);
	free(w->resource);
	free(w->ns);
	free(w->selector);
	free(w->rv);
	kube_lines_free(&w->lines);
	free(w);
}

static void w_maybe_free(struct kube_watch *w)
{
	if (w->stopped && w->timer_closed && !w->list_pending)
		w_free(w);
}

static void w_timer_closed(uv_handle_t *h)
{
	struct kube_watch *w = h->data;

	w->timer_closed = true;
	w_maybe_free(w);
}

static void w_emit_error(struct kube_watch *w, json_t *obj, long code, const char *msg)
{
	struct kube_event ev = {KUBE_EVENT_ERROR, obj, NULL, code, msg, 0, false};

	if (!w->stopped)
		w->cb(w->data, &ev);
}

static void w_on_timer(uv_timer_t *t)
{
	struct kube_watch *w = t->data;

	if (w->next == NEXT_RELIST)
		w_relist(w);
	else
		w_connect(w);
}

/* client-go's reflector backoff: 0.8 s doubling to 30 s, with jitter. */
static void w_backoff(struct kube_watch *w, enum next_step next)
{
	double ms = BACKOFF_FIRST_MS * pow(2.0, w->failures);

	if (ms > BACKOFF_MAX_MS)
		ms = BACKOFF_MAX_MS;
	ms *= 1.0 + 0.5 * ((double)rand() / (double)RAND_MAX);
	w->failures++;
	w->next = next;
	uv_timer_start(&w->timer, w_on_timer, (uint64_t)ms, 0);
}

static void w_set_rv(struct kube_watch *w, const char *rv)
{
	if (rv == NULL || rv[0] == '\0')
		return;
	free(w->rv);
	w->rv = xstrdup(rv);
}

/* The list or watch request was refused before it went out (today only by a closing
 * client, which kube_client_close forbids while watches are open). Without a request in
 * flight nothing would ever call the watch again: say why, tell the consumer, and retry
 * with backoff unless the client is going away. */
static void w_start_failed(struct kube_watch *w, enum next_step next, const struct spok_err *e)
{
	bool closing = kube__client_closing(w->c);

	log_warn("kube: watch %s: cannot start the %s: %s; %s", w->resource,
		 next == NEXT_RELIST ? "list" : "watch", e->msg,
		 closing ? "stop the watch before closing the client" : "retrying");
	w_emit_error(w, NULL, 0, e->msg);
	if (!w->stopped && !closing)
		w_backoff(w, next);
}

/* paged_relist: one page of the list, as it arrives. */
static void w_list_page(void *data, const json_t *page, int index)
{
	struct kube_watch *w = data;
	struct kube_event ev = {KUBE_EVENT_RELIST, (json_t *)page, NULL, 0, "", index, true};

	if (!w->stopped)
		w->cb(w->data, &ev);
}

static void w_list_done(void *data, const struct kube_resp *r)
{
	struct kube_watch *w = data;
	struct kube_event ev = {KUBE_EVENT_RELIST, r->body, NULL, 0, "", 0, false};

	w->list_pending = false;
	if (w->stopped) {
		w_maybe_free(w);
		return;
	}
	if (r->code != 0) {
		w_emit_error(w, NULL, r->http_status, r->message);
		if (!w->stopped)
			w_backoff(w, NEXT_RELIST);
		return;
	}
	w_set_rv(w, json_string_value(json_object_get(json_object_get(r->body, "metadata"),
						      "resourceVersion")));
	ev.resource_version = w->rv;
	if (w->opts.paged_relist) /* the end of the pages: after the last index */
		ev.page = (int)json_integer_value(json_object_get(r->body, "pages"));
	w->cb(w->data, &ev);
	if (!w->stopped) {
		w->failures = 0;
		w_connect(w);
	}
}

static void w_relist(struct kube_watch *w)
{
	struct kube_gvr gvr = {w->group, w->version, w->resource};
	struct kube_list_opts lo = {w->selector, NULL, w->opts.list_limit,
				    w->opts.paged_relist ? w_list_page : NULL, w->opts.skip};
	struct spok_err e;

	w->stats.relists++;
	if (kube_list(w->c, &gvr, w->ns, &lo, w_list_done, w, &e) != 0) {
		w_start_failed(w, NEXT_RELIST, &e);
		return;
	}
	w->list_pending = true;
}

static int w_on_line(void *data, const char *line, size_t len)
{
	struct kube_watch *w = data;
	struct kube_event ev;
	struct spok_err e;
	json_t *obj;

	if (kube_event_decode_skip(line, len, w->opts.skip, &ev, &obj, &e) != 0) {
		w_emit_error(w, NULL, 0, e.msg);
		w->abort = ABORT_ERROR;
		return 1;
	}
	if (ev.type == KUBE_EVENT_ERROR) {
		if (ev.status_code == 410) {
			w->stats.gone++;
			w->abort = ABORT_RELIST;
		} else {
			w_emit_error(w, obj, ev.status_code, ev.message);
			w->abort = ABORT_ERROR;
		}
		json_decref(obj);
		return 1;
	}
	w_set_rv(w, ev.resource_version);
	if (ev.type == KUBE_EVENT_BOOKMARK)
		w->stats.bookmarks++;
	else
		w->stats.events++;
	if (!w->stopped)
		w->cb(w->data, &ev);
	json_decref(obj);
	return w->stopped ? 1 : 0;
}

static bool w_on_data(void *data, const char *p, size_t n)
{
	struct kube_watch *w = data;
	int result;

	if (w->stopped)
		return false;
	result = kube_lines_feed(&w->lines, p, n, w_on_line, w);
	if (result == SPOK_EINVAL) {
		/* One event bigger than the cap: our view is incomplete, so start over. */
		log_warn("kube: watch %s: an event passed %zu bytes; relisting", w->resource,
			 w->lines.buf.max);
		w->abort = ABORT_RELIST;
	}
	return result == 0;
}

static void w_stream_done(void *data, const struct kube_resp *r)
{
	struct kube_watch *w = data;
	enum abort_reason why = w->abort;

	w->call = NULL;
	w->abort = ABORT_NONE;
	spok_buf_reset(&w->lines.buf);
	if (why == ABORT_RELIST || (r->code != 0 && r->gone)) {
		if (r->gone)
			w->stats.gone++;
		w_relist(w);
	} else if (why == ABORT_ERROR) {
		w_backoff(w, NEXT_CONNECT);
	} else if (r->code == 0) {
		/* The server ended the stream (timeoutSeconds): carry on from the last RV. */
		w->failures = 0;
		w_connect(w);
	} else {
		w_emit_error(w, r->body, r->http_status, r->message);
		if (!w->stopped)
			w_backoff(w, NEXT_CONNECT);
	}
}

static char *w_query(struct kube_watch *w, long timeout_s)
{
	char *rv = kube_escape(w->rv != NULL ? w->rv : "");
	char *sel = w->selector != NULL ? kube_escape(w->selector) : NULL;
	char *q = xasprintf("watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%ld"
			    "%s%s", rv, timeout_s, sel != NULL ? "&labelSelector=" : "",
			    sel != NULL ? sel : "");

	free(rv);
	free(sel);
	return q;
}

static void w_connect(struct kube_watch *w)
{
	struct kube_gvr gvr = {w->group, w->version, w->resource};
	long timeout_s = w->opts.timeout_s > 0 ? w->opts.timeout_s : 300 + rand() % 301;
	char *path = kube_path(&gvr, w->ns, NULL, NULL);
	char *q = w_query(w, timeout_s);
	struct kube_req req = {"GET", path, q, NULL, NULL, 0, true, NULL, false, 0};
	struct spok_err e;

	w->stats.connects++;
	/* The client-side timeout is only a backstop for a silently dead connection. */
	int result = kube__stream(w->c, &req, (timeout_s + 30) * 1000, w_on_data, w_stream_done,
				  w, &w->call, &e);
	free(q);
	free(path);
	if (result != 0)
		w_start_failed(w, NEXT_CONNECT, &e);
}

int kube_watch_start(struct kube_client *c, const struct kube_gvr *gvr, const char *ns,
		     const struct kube_watch_opts *opts, kube_watch_cb cb, void *data,
		     struct kube_watch **out, struct spok_err *err)
{
	struct kube_watch *w;

	*out = NULL;
	if (gvr == NULL || gvr->version == NULL || gvr->resource == NULL || cb == NULL)
		return spok_err_set(err, SPOK_EINVAL, "kube: watch needs a resource and a callback");
	if (kube__client_closing(c))
		return spok_err_set(err, SPOK_EINVAL, "kube: watch %s: the client is closed; start "
				    "watches before kube_client_close", gvr->resource);
	w = xcalloc(1, sizeof(*w));
	w->c = c;
	w->group = xstrdup(gvr->group != NULL ? gvr->group : "");
	w->version = xstrdup(gvr->version);
	w->resource = xstrdup(gvr->resource);
	w->ns = (ns != NULL && ns[0] != '\0') ? xstrdup(ns) : NULL;
	if (opts != NULL)
		w->opts = *opts;
	w->opts.label_selector = NULL;
	w->opts.resource_version = NULL;
	if (opts != NULL && opts->label_selector != NULL && opts->label_selector[0] != '\0')
		w->selector = xstrdup(opts->label_selector);
	kube_lines_init(&w->lines, w->opts.max_line);
	w->cb = cb;
	w->data = data;
	uv_timer_init(kube_client_loop(c), &w->timer);
	w->timer.data = w;
	kube__watch_ref(c, 1);
	*out = w;
	if (opts != NULL && opts->resource_version != NULL && opts->resource_version[0] != '\0') {
		w_set_rv(w, opts->resource_version);
		w->next = NEXT_CONNECT;
	} else {
		w->next = NEXT_RELIST;
	}
	/* Start from the loop so the callback never runs inside this call. */
	uv_timer_start(&w->timer, w_on_timer, 0, 0);
	return 0;
}

void kube_watch_stop(struct kube_watch *w)
{
	if (w == NULL || w->stopped)
		return;
	w->stopped = true;
	kube__watch_ref(w->c, -1);
	kube__cancel(w->call);
	w->call = NULL;
	uv_close((uv_handle_t *)&w->timer, w_timer_closed);
}

const char *kube_watch_resource_version(const struct kube_watch *w)
{
	return w->rv;
}

void kube_watch_stats(const struct kube_watch *w, struct kube_watch_stats *out)
{
	*out = w->stats;
}
