/* reader.c - rounds of GETs against a Spark UI's status API on the loop (see reader.h). */
#include "progress/reader.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "kube/client.h"
#include "kube/stream.h"

enum part { PART_APPS, PART_JOBS, PART_STAGES, PART_EXECUTORS, PART_N };

struct fetch {
	struct spok_progress_reader *r;
	enum part part;
	struct kube_stream *s;  /* in flight, or NULL */
	struct spok_buf body;
	int code;
	char msg[SPOK_ERR_MSG_MAX];
};

struct spok_progress_reader {
	uv_timer_t timer;
	struct kube_client *client;
	bool own_client;
	char *prefix;
	spok_progress_cb cb;
	void *data;
	struct spok_progress last;   /* the last good round */
	struct fetch f[PART_N];
	unsigned pending;            /* fetches of this round still in flight */
};

static const char *part_path(enum part p)
{
	static const char *const paths[PART_N] = {"", "/jobs", "/stages", "/executors"};
	return paths[p];
}

/* The round's answers, parsed onto the last good progress; an error keeps it. */
static void round_end(struct spok_progress_reader *r)
{
	struct spok_progress p = r->last;
	struct spok_err err = {0};
	int code = 0;

	for (int i = PART_JOBS; i < PART_N && code == 0; i++) {
		struct fetch *f = &r->f[i];

		if (f->code != 0) {
			code = spok_err_set(&err, f->code, "%s", f->msg);
			break;
		}
		code = i == PART_JOBS ? spok_progress_jobs(&p, f->body.data, f->body.len, &err)
		       : i == PART_STAGES ? spok_progress_stages(&p, f->body.data, f->body.len, &err)
					  : spok_progress_executors(&p, f->body.data, f->body.len, &err);
	}
	if (code == SPOK_ENOTFOUND)
		r->last.app_id[0] = '\0'; /* another application now: learn its id again */
	if (code == 0)
		r->last = p;
	r->cb(r->data, &r->last, code, code ? err.msg : "");
}

static int fetch_start(struct spok_progress_reader *r, enum part part, struct spok_err *err);

static void apps_end(struct spok_progress_reader *r)
{
	struct fetch *f = &r->f[PART_APPS];
	struct spok_err err = {0};
	int code = f->code;

	if (code != 0)
		spok_err_set(&err, code, "%s", f->msg);
	else
		code = spok_progress_apps(&r->last, f->body.data, f->body.len, &err);
	for (int i = PART_JOBS; i < PART_N && code == 0; i++) {
		code = fetch_start(r, (enum part)i, &err);
		if (code == 0)
			r->pending++;
	}
	if (code != 0 && r->pending == 0)
		r->cb(r->data, &r->last, code, err.msg);
	else if (code != 0) /* some started: their end reports the round */
		snprintf(r->f[PART_EXECUTORS].msg, sizeof(r->f[PART_EXECUTORS].msg), "%s", err.msg);
}

static bool on_chunk(void *data, const char *p, size_t n)
{
	struct fetch *f = data;

	return spok_buf_append(&f->body, p, n) == 0;
}

static void on_done(void *data, const struct kube_stream_result *res)
{
	struct fetch *f = data;
	struct spok_progress_reader *r = f->r;

	f->s = NULL; /* released by the stream module after this returns */
	f->code = res->code;
	snprintf(f->msg, sizeof(f->msg), "%s", res->message);
	if (res->code == 0 && (res->truncated || res->stopped)) {
		f->code = SPOK_EINVAL;
		snprintf(f->msg, sizeof(f->msg), "Spark status API: an answer over %zu bytes; ignored",
			 SPOK_PROGRESS_BODY_MAX);
	}
	r->pending--;
	if (r->pending > 0)
		return;
	if (f->part == PART_APPS)
		apps_end(r);
	else
		round_end(r);
}

static int fetch_start(struct spok_progress_reader *r, enum part part, struct spok_err *err)
{
	struct fetch *f = &r->f[part];
	char *path = part == PART_APPS ? xasprintf("%s/api/v1/applications", r->prefix)
				       : xasprintf("%s/api/v1/applications/%s%s", r->prefix,
						   r->last.app_id, part_path(part));
	struct kube_stream_opts o = {.path = path, .query = part == PART_STAGES ? "status=active" : NULL,
				     .cap = SPOK_PROGRESS_BODY_MAX,
				     .timeout_ms = SPOK_PROGRESS_READ_TIMEOUT_MS};
	int result;

	spok_buf_reset(&f->body);
	f->code = 0;
	f->msg[0] = '\0';
	result = kube_stream_get(r->client, &o, on_chunk, on_done, f, &f->s, err);
	free(path);
	return result;
}

static void on_tick(uv_timer_t *t)
{
	struct spok_progress_reader *r = t->data;
	struct spok_err err = {0};
	enum part first = r->last.app_id[0] ? PART_JOBS : PART_APPS;
	enum part end = first == PART_APPS ? PART_JOBS : PART_N;
	int code = 0;

	if (r->pending > 0)
		return; /* the last round is still out: rounds never overlap */
	for (enum part i = first; i < end && code == 0; i++) {
		code = fetch_start(r, i, &err);
		if (code == 0)
			r->pending++;
	}
	if (code != 0 && r->pending == 0)
		r->cb(r->data, &r->last, code, err.msg);
}

static struct spok_progress_reader *reader_new(struct kube_client *client, const char *prefix,
					       uint64_t interval_ms, spok_progress_cb cb, void *data)
{
	struct spok_progress_reader *r = xcalloc(1, sizeof(*r));

	r->client = client;
	r->prefix = xstrdup(prefix);
	r->cb = cb;
	r->data = data;
	spok_progress_init(&r->last);
	for (int i = 0; i < PART_N; i++) {
		r->f[i].r = r;
		r->f[i].part = (enum part)i;
		spok_buf_init(&r->f[i].body, SPOK_PROGRESS_BODY_MAX);
	}
	if (interval_ms < SPOK_PROGRESS_MIN_INTERVAL_MS)
		interval_ms = SPOK_PROGRESS_MIN_INTERVAL_MS;
	uv_timer_init(kube_client_loop(client), &r->timer);
	r->timer.data = r;
	uv_timer_start(&r->timer, on_tick, 0, interval_ms);
	return r;
}

int spok_progress_reader_proxy(struct kube_client *client, const char *prefix,
			       uint64_t interval_ms, spok_progress_cb cb, void *data,
			       struct spok_progress_reader **out, struct spok_err *err)
{
	if (client == NULL || prefix == NULL)
		return spok_err_set(err, SPOK_EINVAL, "progress: no client or prefix");
	*out = reader_new(client, prefix, interval_ms, cb, data);
	return 0;
}

int spok_progress_reader_url(uv_loop_t *loop, const char *url, uint64_t interval_ms,
			     spok_progress_cb cb, void *data, struct spok_progress_reader **out,
			     struct spok_err *err)
{
	/* No credentials: a local UI on loopback. One quick try per read: the next round asks
	 * again anyway, and a UI that went away must not hold a retry loop. */
	struct kube_config cfg = {.source = (char *)"the Spark UI", .server = (char *)url};
	struct kube_client_opts ko = {.max_retries = -1, .timeout_ms = SPOK_PROGRESS_READ_TIMEOUT_MS};
	struct kube_client *c = NULL;
	int result;

	if (url == NULL || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
		return spok_err_set(err, SPOK_EINVAL, "progress: the Spark UI URL is not http(s)");
	result = kube_client_new(loop, &cfg, &ko, &c, err);
	if (result != 0)
		return result;
	*out = reader_new(c, "", interval_ms, cb, data);
	(*out)->own_client = true;
	return 0;
}

static void on_closed(uv_handle_t *h)
{
	struct spok_progress_reader *r = h->data;

	for (int i = 0; i < PART_N; i++)
		spok_buf_free(&r->f[i].body);
	free(r->prefix);
	free(r);
}

void spok_progress_reader_free(struct spok_progress_reader *r)
{
	if (r == NULL)
		return;
	for (int i = 0; i < PART_N; i++) {
		kube_stream_cancel(r->f[i].s);
		r->f[i].s = NULL;
	}
	r->pending = 0;
	uv_timer_stop(&r->timer);
	if (r->own_client)
		kube_client_close(r->client);
	uv_close((uv_handle_t *)&r->timer, on_closed);
}
