/* watch.c - a running execution's phase and Spark progress on a terminal, as lines, or as
 * JSON lines (see watch.h). */
#include "cli/watch.h"
#include "backend/backend.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/termesc.h"
#include "common/timefmt.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "kube/client.h"
#include "progress/progress.h"
#include "progress/reader.h"
#include "sparkapp/sparkapp.h"

#define BAR_WIDTH 20

struct spok_cli_watch {
	uv_loop_t *loop;
	FILE *out;
	enum spok_cli_watch_mode mode;
	uv_timer_t tick;
	struct spok_progress_reader *reader;
	char *url;                  /* what the reader reads: a UI URL, or a proxy prefix */
	bool proxy;                 /* a cluster's proxy: rows' ui_url are not ours to follow */
	bool no_reader;             /* phase lines only: never read the UI */
	struct spok_progress prog;  /* the last good read */
	bool have_prog;
	struct spok_progress sent;  /* JSON: the progress last written */
	bool sent_prog;
	char *id;
	enum spok_phase phase;
	bool have_phase;
	char *reason;
	int64_t start_ms;
	int64_t end_ms;             /* finished_ms, once known */
	char *line;                 /* LIVE: the text on the terminal now */
	bool line_shown;
	bool dirty;                 /* JSON: something changed since the last object */
	/* a cluster run: its SparkApplication says where the UI is (spok_cli_watch_cluster) */
	struct kube_client *cluster;
	char *ns, *app;
	bool app_busy;              /* a GET of it is out: the watcher's memory waits for it */
	bool closed;                /* the timer closed: freed when no GET is out */
	bool have_prefix;
	bool direct;                /* the row's submission: its UI is found from the driver pod */
	unsigned ticks;
};

enum spok_cli_watch_mode spok_cli_watch_mode_for(int fd, bool json)
{
	const char *term = getenv("TERM");

	if (json)
		return SPOK_WATCH_JSON;
	return isatty(fd) && !(term && strcmp(term, "dumb") == 0) ? SPOK_WATCH_LIVE : SPOK_WATCH_PLAIN;
}

static int64_t elapsed(const struct spok_cli_watch *w)
{
	int64_t now = w->end_ms ? w->end_ms : spok_now_ms();

	return w->start_ms && now > w->start_ms ? now - w->start_ms : 0;
}

/* ---- the three forms ---- */

static unsigned term_cols(FILE *out)
{
	struct winsize ws;

	return ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10 ? ws.ws_col : 80;
}

static void live_draw(struct spok_cli_watch *w, bool final)
{
	struct spok_buf b;
	size_t cut;

	spok_buf_init(&b, 0);
	spok_progress_line(w->have_prog ? &w->prog : NULL, spok_phase_name(w->phase), elapsed(w),
			   BAR_WIDTH, &b);
	/* bytes >= columns for this text (escaped, so no control characters): never wraps */
	cut = spok_utf8_prefix(b.data ? b.data : "", term_cols(w->out) - 1);
	if (b.data)
		b.data[cut] = '\0';
	if (!final && w->line_shown && w->line && b.data && strcmp(w->line, b.data) == 0) {
		spok_buf_free(&b);
		return;
	}
	fprintf(w->out, "\r\033[K%s%s", b.data ? b.data : "", final ? "\n" : "");
	fflush(w->out);
	free(w->line);
	w->line = spok_buf_detach(&b);
	w->line_shown = !final;
}

static void plain_line(struct spok_cli_watch *w)
{
	char ts[64];
	char *reason = spok_term_line(w->reason);

	spok_format_rfc3339(spok_now_ms() / 1000, ts, sizeof(ts));
	fprintf(w->out, "%s execution %s %s", ts, w->id, spok_phase_name(w->phase));
	if (reason && reason[0])
		fprintf(w->out, ": %s", reason);
	if (w->have_prog && w->prog.have_jobs)
		fprintf(w->out, " (%lld/%lld tasks, %lld failed, %lld executor%s)",
			(long long)w->prog.tasks_done, (long long)w->prog.tasks_total,
			(long long)w->prog.tasks_failed, (long long)w->prog.executors,
			w->prog.executors == 1 ? "" : "s");
	fputc('\n', w->out);
	fflush(w->out);
	free(reason);
}

static void json_emit(struct spok_cli_watch *w)
{
	char ts[64];
	json_t *o;
	char *s;

	spok_format_rfc3339(spok_now_ms() / 1000, ts, sizeof(ts));
	o = json_pack("{s:s, s:s, s:s, s:o, s:I, s:o}", "id", w->id, "time", ts, "phase",
		      spok_phase_name(w->phase), "reason", spok_json_text(w->reason), "elapsed_ms",
		      (json_int_t)elapsed(w), "progress",
		      w->have_prog ? spok_progress_json(&w->prog) : json_null());
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (s) {
		fprintf(w->out, "%s\n", s);
		fflush(w->out);
	}
	free(s);
	json_decref(o);
	w->sent = w->prog;
	w->sent_prog = w->have_prog;
	w->dirty = false;
}

/* ---- the reader ---- */

static void on_progress(void *data, const struct spok_progress *p, int code, const char *msg)
{
	struct spok_cli_watch *w = data;

	(void)msg; /* a UI that does not answer (yet, or any more): keep what was read */
	if (code != 0)
		return;
	w->prog = *p;
	w->have_prog = true;
	if (w->mode == SPOK_WATCH_JSON && (!w->sent_prog || !spok_progress_equal(&w->sent, p)))
		w->dirty = true;
}

static void reader_stop(struct spok_cli_watch *w)
{
	spok_progress_reader_free(w->reader);
	w->reader = NULL;
	free(w->url);
	w->url = NULL;
}

static void reader_follow(struct spok_cli_watch *w, const char *url)
{
	if (url == NULL) {
		reader_stop(w);
		return;
	}
	if (w->url && strcmp(w->url, url) == 0)
		return;
	reader_stop(w);
	if (spok_progress_reader_url(w->loop, url, SPOK_CLI_WATCH_POLL_MS, on_progress, w, &w->reader,
				     NULL) == 0)
		w->url = xstrdup(url);
}

void spok_cli_watch_proxy(struct spok_cli_watch *w, struct kube_client *client, const char *prefix)
{
	w->proxy = true;
	if (prefix == NULL) {
		reader_stop(w);
		return;
	}
	if (w->url && strcmp(w->url, prefix) == 0)
		return;
	reader_stop(w);
	if (spok_progress_reader_proxy(client, prefix, SPOK_CLI_WATCH_POLL_MS, on_progress, w,
				       &w->reader, NULL) == 0)
		w->url = xstrdup(prefix);
}

/* ---- a cluster run's UI: where its SparkApplication says (backend.h, the rule of spok ui) ---- */

static void watch_free(struct spok_cli_watch *w)
{
	free(w->line);
	free(w->id);
	free(w->reason);
	free(w->ns);
	free(w->app);
	free(w);
}

static void on_app(void *data, const struct kube_resp *r)
{
	struct spok_cli_watch *w = data;
	struct spok_backend_ui ui;
	char *prefix = NULL;

	w->app_busy = false;
	if (w->closed) {
		watch_free(w);
		return;
	}
	if (r->code == 0 && w->app &&
	    (w->direct ? spok_backend_ui_of_pod(r->body, w->app, &ui, NULL)
		       : spok_backend_ui_of(r->body, w->app, &ui, NULL)) == 0) {
		prefix = spok_backend_ui_prefix(&ui, w->ns);
		spok_backend_ui_free(&ui);
	}
	w->have_prefix = prefix != NULL;
	spok_cli_watch_proxy(w, w->cluster, prefix);
	free(prefix);
}

/* Looks for the UI every 5 s until found, then every 30 s (a retry's driver is a new pod). */
static void cluster_ui(struct spok_cli_watch *w)
{
	static const struct kube_gvr sparkapps = SPOK_SPARKAPP_GVR;
	static const struct kube_gvr pods = {"", "v1", "pods"};
	unsigned every = (w->have_prefix ? 30000u : 5000u) / SPOK_CLI_WATCH_TICK_MS;

	if (w->cluster == NULL || w->app_busy)
		return;
	if (w->phase != SPOK_PHASE_RUNNING || w->ns == NULL || w->app == NULL) {
		w->have_prefix = false;
		spok_cli_watch_proxy(w, w->cluster, NULL);
		return;
	}
	if (w->ticks++ % every != 0)
		return;
	if (w->direct) { /* the driver pod names the UI port (spok_backend_ui_of_pod) */
		char *pod = xasprintf("%s-driver", w->app);

		if (kube_get(w->cluster, &pods, w->ns, pod, on_app, w, NULL) == 0)
			w->app_busy = true;
		free(pod);
	} else if (kube_get(w->cluster, &sparkapps, w->ns, w->app, on_app, w, NULL) == 0) {
		w->app_busy = true;
	}
}

void spok_cli_watch_cluster(struct spok_cli_watch *w, struct kube_client *client)
{
	w->cluster = client;
	spok_cli_watch_proxy(w, client, NULL); /* rows' ui_url are the cluster's, not ours */
}

/* ---- rows and ticks ---- */

static void on_tick(uv_timer_t *t)
{
	struct spok_cli_watch *w = t->data;

	if (!w->have_phase)
		return;
	cluster_ui(w);
	if (w->mode == SPOK_WATCH_LIVE)
		live_draw(w, false);
	else if (w->mode == SPOK_WATCH_JSON && w->dirty)
		json_emit(w);
}

struct spok_cli_watch *spok_cli_watch_new(uv_loop_t *loop, FILE *out, enum spok_cli_watch_mode m)
{
	struct spok_cli_watch *w = xcalloc(1, sizeof(*w));

	w->loop = loop;
	w->out = out;
	w->mode = m;
	spok_progress_init(&w->prog);
	uv_timer_init(loop, &w->tick);
	w->tick.data = w;
	uv_timer_start(&w->tick, on_tick, SPOK_CLI_WATCH_TICK_MS, SPOK_CLI_WATCH_TICK_MS);
	return w;
}

static void set_str(char **dst, const char *s)
{
	if ((*dst == NULL && s == NULL) || (*dst && s && strcmp(*dst, s) == 0))
		return;
	free(*dst);
	*dst = s ? xstrdup(s) : NULL;
}

void spok_cli_watch_row(struct spok_cli_watch *w, const struct spok_execution *x)
{
	bool changed = !w->have_phase || w->phase != x->phase;

	set_str(&w->id, x->id);
	set_str(&w->reason, x->reason);
	set_str(&w->ns, x->namespace_);
	set_str(&w->app, x->resource_name);
	w->direct = spok_execution_direct(x);
	w->phase = x->phase;
	w->have_phase = true;
	w->start_ms = x->started_ms ? x->started_ms : x->created_ms;
	w->end_ms = spok_phase_terminal(x->phase) ? x->finished_ms : 0;
	/* A local run's UI is on this machine: its URL is in the row. A warm run's UI is its
	 * session server's, whose totals are every run's, not this one's: phase and time only. */
	if (!w->proxy && !w->no_reader)
		reader_follow(w, spok_phase_terminal(x->phase) || x->session ? NULL : x->ui_url);
	if (!changed)
		return;
	if (w->mode == SPOK_WATCH_PLAIN)
		plain_line(w);
	else if (w->mode == SPOK_WATCH_JSON)
		w->dirty = true;
}

void spok_cli_watch_no_progress(struct spok_cli_watch *w)
{
	w->no_reader = true;
	reader_stop(w);
}

void spok_cli_watch_clear(struct spok_cli_watch *w)
{
	if (w == NULL || !w->line_shown)
		return;
	fputs("\r\033[K", w->out);
	fflush(w->out);
	w->line_shown = false;
}

static void on_closed(uv_handle_t *h)
{
	struct spok_cli_watch *w = h->data;

	w->closed = true;
	if (!w->app_busy) /* else its answer frees (a closed client answers at once) */
		watch_free(w);
}

void spok_cli_watch_end(struct spok_cli_watch *w, const struct spok_execution *x)
{
	if (w == NULL)
		return;
	reader_stop(w);
	uv_timer_stop(&w->tick);
	w->proxy = true; /* no new reader, whatever x says */
	if (x)
		spok_cli_watch_row(w, x);
	if (w->mode == SPOK_WATCH_LIVE && w->have_phase)
		live_draw(w, true);
	else if (w->mode == SPOK_WATCH_JSON && w->dirty)
		json_emit(w);
	uv_close((uv_handle_t *)&w->tick, on_closed);
}
