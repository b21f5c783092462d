/* backend_local.c - executions on this machine (src/local): runs hosted on the caller's loop (the
 * daemon with spok.server.local-runs), abort, settle-on-read, and the per-attempt log files,
 * read or followed on the caller's loop. See docs/LOCAL.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/internal.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "connect/connect.h"
#include "local/local.h"
#include "local/token.h"

#define FOLLOW_STEP_MS 200

/* ---- runs hosted on the caller's loop ---- */

/* A hosted warm run's session: what its ensure needs, and the client's settings it fills. */
struct hosted_warm {
	struct spok_local_warm w;  /* o.warm; its strings are the ones below */
	struct spok_pools pools;
	const struct spok_pool *pool;
	char *session, *project, *user;
	char *remote, *token, *ui; /* the client's (token, and a Kubernetes remote: secrets) */
	int64_t began;             /* the generation this ensure round started, or 0 */
};

struct hosted {
	struct hosted *next;
	struct spok_backend_local_host *h;
	struct spok_task task;
	struct spok_execution x;
	struct spok_local_opts o;
	struct spok_local_run *run;
	struct hosted_warm *warm;  /* a warm run, or NULL */
	char *fallback;            /* o.fallback */
};

struct spok_backend_local_host {
	uv_loop_t *loop;
	struct spok_store *st;
	const struct spok_platform *p;
	char *data_dir;
	struct hosted *runs;
	size_t active;
};

struct spok_backend_local_host *spok_backend_local_host_new(uv_loop_t *loop,
							    struct spok_store *st,
							    const struct spok_platform *p,
							    const char *data_dir)
{
	struct spok_backend_local_host *h = xcalloc(1, sizeof(*h));

	h->loop = loop;
	h->st = st;
	h->p = p;
	h->data_dir = xstrdup(data_dir);
	return h;
}

size_t spok_backend_local_host_active(const struct spok_backend_local_host *h)
{
	return h ? h->active : 0;
}

void spok_backend_local_host_stop(struct spok_backend_local_host *h, const char *why)
{
	for (struct hosted *e = h ? h->runs : NULL; e; e = e->next)
		spok_local_run_abort(e->run, why);
}

void spok_backend_local_host_free(struct spok_backend_local_host *h)
{
	if (h == NULL)
		return;
	free(h->data_dir);
	free(h);
}

static void warm_free(struct hosted_warm *hw)
{
	if (hw == NULL)
		return;
	spok_pools_free(&hw->pools);
	free(hw->session);
	free(hw->project);
	free(hw->user);
	spok_token_free(hw->remote);
	spok_token_free(hw->token);
	free(hw->ui);
	free(hw);
}

static void hosted_free(struct hosted *e)
{
	spok_task_free(&e->task);
	spok_execution_free(&e->x);
	warm_free(e->warm);
	free(e->fallback);
	free(e);
}

/* The hosted run's ensure before each warm attempt (spok_local_warm.ensure): one step that
 * never waits (the loop is the daemon's); the runner asks again while it is pending. */
static int hosted_ensure(void *arg, struct spok_store *st, struct spok_err *err)
{
	struct hosted *e = arg;
	struct hosted_warm *hw = e->warm;
	struct spok_session s;
	bool started = false;
	int result = spok_connect_ensure_step(st, e->h->data_dir, e->h->p->source_path, hw->session,
					      hw->pool, hw->project, &hw->began, &s, &started, err);

	if (started)
		log_info("serve: session %s (pool %s) starting for warm execution %s", hw->session,
			 hw->pool->name, e->x.id);
	if (result == 0 && (result = spok_connect_warm_client(&s, hw->user, &hw->w, &hw->remote, &hw->token,
							      &hw->ui, err)) == SPOK_ECONFLICT)
		result = SPOK_LOCAL_ENSURE_PENDING; /* restarted meanwhile: its new server's turn */
	spok_session_free(&s); /* (empty unless it ran) */
	if (result == SPOK_CONNECT_PENDING)
		result = SPOK_LOCAL_ENSURE_PENDING;
	if (result == SPOK_LOCAL_ENSURE_PENDING)
		return result;
	hw->began = 0; /* the next attempt's round starts afresh */
	if (result != 0)
		log_warn("serve: warm execution %s: session %s: %s", e->x.id, hw->session, err->msg);
	return result;
}

/* e's warm session (w's strings copied): its pool from the host's config. */
static int hosted_warm_new(struct hosted *e, const struct spok_backend_warm *w, struct spok_err *err)
{
	struct hosted_warm *hw = xcalloc(1, sizeof(*hw));
	int result = spok_pools_load(e->h->p, &hw->pools, err);

	if (result == 0 && !(hw->pool = spok_pools_find(&hw->pools, w->pool)))
		result = spok_err_set(err, SPOK_EINVAL, "pool %.63s: not in spok.pools of the config; declare it (docs/CONFIG.md)",
				      w->pool ? w->pool : SPOK_POOL_DEFAULT);
	if (result != 0) {
		warm_free(hw);
		return result;
	}
	hw->session = xstrdup(w->session);
	hw->project = xstrdup(w->project);
	hw->user = xstrdup(w->user ? w->user : "spok");
	hw->w.session = hw->session;
	hw->w.ensure = hosted_ensure;
	hw->w.ensure_arg = e;
	hw->w.ensure_wait_ms = SPOK_CONNECT_START_MS + SPOK_CONNECT_GRACE_MS;
	hw->w.fallback_on_start = true;
	e->warm = hw;
	e->o.warm = &hw->w;
	return 0;
}

static void on_hosted_done(void *arg, int result, const struct spok_err *err)
{
	struct hosted *e = arg;
	struct spok_backend_local_host *h = e->h;

	for (struct hosted **p = &h->runs; *p; p = &(*p)->next)
		if (*p == e) {
			*p = e->next;
			break;
		}
	h->active--;
	/* the session's idle time counts from the end of its last run (as spok run's) */
	if (e->x.session)
		spok_store_session_touch(h->st, e->x.session, spok_now_ms(), NULL);
	/* The end is recorded (or left in outcome.json for the next reader): nothing to keep. */
	if (result != 0)
		fprintf(stderr, "spok: local execution %s: %s\n", e->x.id, err->msg);
	hosted_free(e);
}

static struct hosted *hosted_find(struct spok_backend_local_host *h, const char *id)
{
	for (struct hosted *e = h ? h->runs : NULL; e; e = e->next)
		if (strcmp(e->x.id, id) == 0)
			return e;
	return NULL;
}

/* Records the row (QUEUED, this process holding its supervisor lock) and starts the run on
 * the host's loop; the task moves into the host. */
static int local_submit(struct spok_backend_ctx *c, struct spok_task *t, const char *ns,
			const char *task_source, const char *key, char *id_out, size_t id_len,
			struct spok_err *err)
{
	struct spok_backend_local_host *h = c->local;
	struct hosted *e;
	int result;

	(void)ns;
	if (h == NULL)
		return spok_err_set(err, SPOK_EINVAL, "local runs are off here: this front end does "
				    "not run jobs on its own host (the daemon: set "
				    "spok.server.local-runs: true, see docs/SERVER.md); name a cluster");
	e = xcalloc(1, sizeof(*e));
	e->h = h;
	e->o.data_dir = h->data_dir;
	e->o.quiet = true;
	e->o.idempotency_key = key;
	e->fallback = xstrdup(c->fallback);
	e->o.fallback = e->fallback;
	spok_task_init(&e->task);
	result = c->warm ? hosted_warm_new(e, c->warm, err) : 0;
	if (result == 0)
		result = spok_local_submit(h->st, t, h->p, &e->o, &e->x, err);
	e->o.idempotency_key = NULL; /* borrowed for the insert only */
	if (result != 0) {
		spok_task_free(&e->task);
		warm_free(e->warm);
		free(e->fallback);
		free(e);
		return result;
	}
	if (task_source && !e->x.task_source) {
		e->x.task_source = xstrdup(task_source);
		spok_store_update(h->st, &e->x, NULL);
	}
	e->task = *t;
	spok_task_init(t);
	result = spok_local_start(h->loop, h->st, &e->task, h->p, &e->o, &e->x, on_hosted_done, e,
				  &e->run, err);
	if (result != 0) {
		/* spok_local_start ended the row with the cause (RETRYABLE_FAILURE). */
		hosted_free(e);
		return result;
	}
	snprintf(id_out, id_len, "%s", e->x.id);
	e->next = h->runs;
	h->runs = e;
	h->active++;
	return 0;
}

static bool local_needs_work(const struct spok_execution *x)
{
	return !spok_phase_terminal(x->phase);
}

static bool local_supervised(const struct spok_execution *x)
{
	return spok_local_supervisor_alive(x);
}

static int local_settle(struct spok_backend_ctx *c, struct spok_execution *x, struct spok_err *err)
{
	if (spok_phase_terminal(x->phase))
		return 0;
	return spok_local_settle(c->store, x, err);
}

/* On a shared loop only the flag is set and a run hosted here is told: the run's supervisor
 * acts on it (TERM, then KILL); signalling another process's runs or waiting out the grace
 * is not the daemon's part. */
static int local_abort(struct spok_backend_ctx *c, const struct spok_execution *x,
		       struct spok_err *err)
{
	if (c->shared_loop) {
		struct hosted *e = hosted_find(c->local, x->id);
		int result = spok_store_request_abort(c->store, x->id, err);

		/* A run this loop hosts stops at once (else its supervisor sees the flag). */
		if (result == 0 && e)
			spok_local_run_abort(e->run, "aborted by spok abort");
		return result;
	}
	return spok_local_abort(c->store, x->id, c->grace_ms ? c->grace_ms : SPOK_LOCAL_GRACE_MS, err);
}

static int local_live(struct spok_backend_ctx *c, const struct spok_execution *x, json_t **out,
		      struct spok_err *err)
{
	(void)c;
	(void)x;
	(void)err;
	*out = NULL; /* the row is the live state: its supervisor writes it as things happen */
	return 0;
}

static json_t *local_links(const struct spok_execution *x)
{
	/* The Spark UI and history links are the row's own fields; a warm run also records the
	 * page of its Connect session on the session server's UI. */
	json_t *a = x->links_json ? json_loads(x->links_json, 0, NULL) : NULL;

	if (a && !json_is_array(a)) {
		json_decref(a);
		a = NULL;
	}
	return a;
}

/* ---- logs ---- */

struct local_log {
	struct spok_backend_log base;
	struct spok_backend_log_opts o;
	struct spok_store *st; /* follow: the row is read again each step */
	uv_timer_t timer;
	char *id, *path;
	off_t off;
	uint64_t bytes;
	bool stopped;          /* the chunk callback said stop */
};

static void llog_free(uv_handle_t *h)
{
	struct local_log *l = h->data;

	free(l->id);
	free(l->path);
	free(l);
}

static void llog_cancel(struct spok_backend_log *b)
{
	struct local_log *l = (struct local_log *)b;

	uv_timer_stop(&l->timer);
	uv_close((uv_handle_t *)&l->timer, llog_free);
}

static void llog_finish(struct local_log *l, int code, const char *msg)
{
	struct spok_backend_log_result r = {code, 0, l->bytes, msg, NULL};

	uv_timer_stop(&l->timer);
	l->o.done(l->o.data, &r);
	uv_close((uv_handle_t *)&l->timer, llog_free);
}

static void deliver(struct local_log *l, const char *p, size_t n)
{
	if (l->stopped || n == 0)
		return;
	l->bytes += n;
	if (!l->o.chunk(l->o.data, p, n))
		l->stopped = true;
}

/* A log only when it is a regular file: a loop must never block on a FIFO or a device
 * that someone put at that path. -1 with errno set otherwise. */
static int open_log(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);

	if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

/* Copies the new bytes of l->path from l->off. */
static void copy_new(struct local_log *l)
{
	char buf[65536];
	int fd = open_log(l->path);
	ssize_t n;

	if (fd < 0)
		return;
	while (!l->stopped && (n = pread(fd, buf, sizeof(buf), l->off)) > 0) {
		deliver(l, buf, (size_t)n);
		l->off += n;
	}
	close(fd);
}

/* The whole file, or its tail: at most limit_bytes, then the last tail_lines lines. */
static void copy_tail(struct local_log *l)
{
	struct stat st;
	struct spok_buf b;
	char chunk[8192];
	size_t skip;
	ssize_t n;
	int fd;

	if (l->o.limit_bytes == 0 && l->o.tail_lines < 0) {
		copy_new(l);
		return;
	}
	if ((fd = open_log(l->path)) < 0)
		return;
	if (l->o.limit_bytes && fstat(fd, &st) == 0 && st.st_size > (off_t)l->o.limit_bytes)
		l->off = st.st_size - (off_t)l->o.limit_bytes;
	spok_buf_init(&b, l->o.limit_bytes ? l->o.limit_bytes : SPOK_BUF_DEFAULT_MAX);
	while ((n = pread(fd, chunk, sizeof(chunk), l->off)) > 0 &&
	       spok_buf_append(&b, chunk, (size_t)n) == 0)
		l->off += n;
	close(fd);
	skip = l->o.tail_lines < 0 ? 0 : spok_backend_tail_lines(b.data, b.len, (unsigned long)l->o.tail_lines);
	if (b.len > skip)
		deliver(l, b.data + skip, b.len - skip);
	spok_buf_free(&b);
}

static void on_read_once(uv_timer_t *t)
{
	struct local_log *l = t->data;

	copy_tail(l);
	llog_finish(l, 0, "");
}

/* One follow step: new bytes; the row again (a reader settles a run whose supervisor died,
 * so this ends instead of waiting forever); a retry switches to the new attempt's file. */
static void on_follow_step(uv_timer_t *t)
{
	struct local_log *l = t->data;
	struct spok_execution now = {0};
	struct spok_err err = {0};
	bool done;

	copy_new(l);
	if (l->stopped) {
		llog_finish(l, 0, "");
		return;
	}
	if (spok_store_get(l->st, l->id, &now, &err) != 0) {
		llog_finish(l, err.code, err.msg);
		return;
	}
	done = spok_phase_terminal(now.phase);
	if (!done) {
		spok_local_settle(l->st, &now, NULL);
		done = spok_phase_terminal(now.phase);
	}
	if (now.log_path && strcmp(now.log_path, l->path) != 0) {
		copy_new(l);
		free(l->path);
		l->path = xstrdup(now.log_path);
		l->off = 0;
		done = false;
	}
	spok_execution_free(&now);
	if (done) {
		copy_new(l);
		llog_finish(l, 0, "");
	}
}

static int local_logs(struct spok_backend_ctx *c, const struct spok_execution *x,
		      const struct spok_backend_log_opts *o, struct spok_backend_log **out,
		      struct spok_err *err)
{
	struct local_log *l;

	if (out)
		*out = NULL;
	if (o->executor)
		return spok_err_set(err, SPOK_EINVAL, "--executor: execution %s ran locally, where the "
				    "executors share the driver's log", x->id);
	if (!x->log_path)
		return spok_err_set(err, SPOK_ENOTFOUND, "execution %s: no log yet (phase %s); retry shortly",
				    x->id, spok_phase_name(x->phase));
	if (!o->follow && access(x->log_path, R_OK) != 0)
		return spok_err_set(err, SPOK_ENOTFOUND, "%s: %s; the log may have been removed",
				    x->log_path, strerror(errno));
	l = xcalloc(1, sizeof(*l));
	l->base.cancel = llog_cancel;
	l->o = *o;
	l->st = c->store;
	l->id = xstrdup(x->id);
	l->path = xstrdup(x->log_path);
	uv_timer_init(c->loop, &l->timer);
	l->timer.data = l;
	if (o->follow)
		uv_timer_start(&l->timer, on_follow_step, 0, FOLLOW_STEP_MS);
	else
		uv_timer_start(&l->timer, on_read_once, 0, 0);
	if (out)
		*out = &l->base;
	return 0;
}

const struct spok_backend_ops spok_backend_local = {
	.kind = "local",
	.cluster = false,
	.submit = local_submit,
	.needs_work = local_needs_work,
	.supervised = local_supervised,
	.settle = local_settle,
	.abort = local_abort,
	.live = local_live,
	.logs = local_logs,
	.links = local_links,
};
