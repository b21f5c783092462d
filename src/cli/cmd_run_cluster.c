/* cmd_run_cluster.c - `spok run JOB --cluster NAME`: hands the task to the engine and follows
 * it, printing progress on stderr and, once it runs, the driver's log on stdout.
 *
 * A cluster name is a kubeconfig context ("in-cluster" uses the pod's service account); it is
 * what the store records as the execution's backend, so later commands find the cluster
 * again. See docs/ARCHITECTURE.md, "Cluster runs".
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/session.h"
#include "common/termesc.h"
#include "common/xalloc.h"
#include "engine/engine.h"
#include "store/store.h"

/* A foreground cluster run stopped by SIGHUP/SIGINT/SIGTERM/SIGQUIT stops following; the
 * SparkApplication (direct: the driver pod) keeps running on the cluster (as after SIGKILL):
 * 'spok reconcile' follows it, 'spok abort' stops it. Signals ignored by whoever started spok stay ignored (nohup). */
struct follow_stop {
	uv_signal_t h[4];
	bool on[4];
	int sig;
};

static void on_follow_signal(uv_signal_t *h, int signum)
{
	struct follow_stop *s = h->data;
	if (!s->sig)
		s->sig = signum;
}

static void mark_closed(uv_handle_t *h)
{
	*(bool *)h->data = true;
}

/* For a handle in the caller's stack frame: the loop must be done with it before the frame
 * goes, or the closing list keeps a pointer into reused stack (libuv then aborts in
 * uv__finish_close at the session's last uv_run). */
static void close_in_frame(uv_loop_t *loop, uv_handle_t *h)
{
	bool closed = false;

	h->data = &closed;
	uv_close(h, mark_closed);
	while (!closed)
		uv_run(loop, UV_RUN_NOWAIT);
}

static void follow_signals(struct spok_cli_session *c, struct follow_stop *s, bool start)
{
	static const int sigs[4] = {SIGHUP, SIGINT, SIGTERM, SIGQUIT};
	for (size_t i = 0; i < 4; i++) {
		struct sigaction old;
		if (start && sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN) {
			uv_signal_init(&c->loop, &s->h[i]);
			s->h[i].data = s;
			s->on[i] = uv_signal_start(&s->h[i], on_follow_signal, sigs[i]) == 0;
			if (!s->on[i]) /* initialised all the same: the loop holds it until closed */
				close_in_frame(&c->loop, (uv_handle_t *)&s->h[i]);
		} else if (!start && s->on[i]) {
			close_in_frame(&c->loop, (uv_handle_t *)&s->h[i]);
			s->on[i] = false;
		}
	}
}

/* ---- the driver log of a foreground run (through the backend's logs op) ---- */

/* How long (ms) the driver log may still stream after the execution ended before it is cut. */
#define LOG_TAIL_GRACE_MS 10000

struct live_log {
	struct spok_term_stream tty;
	bool to_tty;                 /* escape control sequences: stdout is a terminal */
	struct spok_backend_log *l;  /* the fetch in flight, NULL once done */
	bool started, done;
	unsigned seq;                /* the progress's app_seq this stream follows */
	struct spok_cli_watch *live; /* the live line on the terminal, erased before output */
	int code;
	char msg[SPOK_ERR_MSG_MAX];
	uv_timer_t grace;
};

static void log_flush_end(struct live_log *l)
{
	struct spok_buf b;

	if (!l->to_tty)
		return;
	spok_buf_init(&b, SPOK_BUF_DEFAULT_MAX);
	spok_term_stream_end(&l->tty, &b);
	fwrite(b.data ? b.data : "", 1, b.len, stdout);
	fflush(stdout);
	spok_buf_free(&b);
}

/* A pod's log is the job's own output: unchanged into a file or pipe, control sequences
 * escaped on a terminal (as a local run's log). */
static bool log_chunk(void *data, const char *p, size_t n)
{
	struct live_log *l = data;
	struct spok_buf b;

	spok_cli_watch_clear(l->live);
	if (!l->to_tty) {
		fwrite(p, 1, n, stdout);
	} else {
		spok_buf_init(&b, SPOK_BUF_DEFAULT_MAX);
		spok_term_stream_feed(&l->tty, p, n, &b);
		fwrite(b.data ? b.data : "", 1, b.len, stdout);
		spok_buf_free(&b);
	}
	fflush(stdout);
	return true;
}

static void log_done(void *data, const struct spok_backend_log_result *r)
{
	struct live_log *l = data;

	log_flush_end(l);
	l->l = NULL;
	l->done = true;
	l->code = r->code;
	snprintf(l->msg, sizeof(l->msg), "%s", r->message);
}

static void log_stop(struct live_log *l)
{
	if (l->done)
		return;
	spok_backend_log_cancel(l->l);
	l->l = NULL;
	log_flush_end(l);
	l->done = true;
}

static void log_report(const struct live_log *l)
{
	if (l->done && l->code != 0 && l->msg[0])
		fprintf(stderr, "spok: driver log: %s\n", l->msg);
}

static void log_grace_expired(uv_timer_t *t)
{
	log_stop(t->data);
}

static void start_driver_log(struct spok_cli_session *c, const struct spok_cli_progress *p,
			     struct live_log *l)
{
	struct spok_execution x = {.id = (char *)"-", .backend = c->backend, .namespace_ = p->ns,
				   .resource_name = p->app};
	struct spok_backend_log_opts o = {.follow = true, .tail_lines = -1, .chunk = log_chunk,
					  .done = log_done, .data = l};
	struct spok_err e = {0};

	l->started = true;
	l->done = false;
	l->code = 0;
	l->msg[0] = '\0';
	l->seq = p->app_seq;
	l->tty = (struct spok_term_stream){.flags = SPOK_TERM_TEXT};
	if (c->ops->logs(&c->ctx, &x, &o, &l->l, &e) != 0) {
		l->done = true;
		fprintf(stderr, "spok: cannot follow the driver log of %s/%s: %s\n", p->ns, p->app, e.msg);
	}
}

/* Runs the engine to the end of the execution. Once it is RUNNING, the driver pod's log
 * (Spark's log and the job's output, as the kubelet keeps them) goes to stdout, as a local
 * run shows its output; the stream ends with the driver container. */
static void run_following_log(struct spok_cli_session *c, struct spok_cli_progress *p,
			      const struct follow_stop *s)
{
	struct live_log l = {.tty = {.flags = SPOK_TERM_TEXT}, .to_tty = isatty(STDOUT_FILENO),
			     .live = p->live};

	while (!s->sig && !spok_engine_idle(c->e)) {
		uv_run(&c->loop, UV_RUN_ONCE);
		if (p->app_seq == 0 || (l.started && l.seq == p->app_seq))
			continue;
		if (l.started) { /* a retry is running: its driver is a new pod */
			log_stop(&l);
			log_report(&l);
		}
		start_driver_log(c, p, &l);
	}
	if (s->sig)
		log_stop(&l); /* stopped following: the log stops with it */
	if (!l.started || l.done)
		goto out;
	uv_timer_init(&c->loop, &l.grace);
	l.grace.data = &l;
	uv_timer_start(&l.grace, log_grace_expired, LOG_TAIL_GRACE_MS, 0);
	while (!l.done && !s->sig)
		uv_run(&c->loop, UV_RUN_ONCE);
	log_stop(&l);
	close_in_frame(&c->loop, (uv_handle_t *)&l.grace);
out:
	log_report(&l);
}

/* Back once the create is confirmed; `spok reconcile` follows it from here. */
static int detach(struct spok_cli_session *c, const struct spok_cli_progress *p, const char *id,
		  int *status, struct spok_err *err)
{
	struct spok_execution x = {0};
	int result;

	for (;;) {
		spok_execution_free(&x);
		if ((result = spok_store_get(c->st, id, &x, err)) != 0)
			goto done;
		if (p->failed) {
			result = spok_err_set(err, SPOK_EIO, "%s", p->failed);
			goto done;
		}
		if (x.started_ms != 0 || spok_phase_terminal(x.phase) ||
		    x.phase == SPOK_PHASE_WAITING_FOR_RESOURCES)
			break;
		uv_run(&c->loop, UV_RUN_ONCE);
	}
	/* ... and its follow-ups are done (the shipped ConfigMap's owner reference; direct: the
	 * Service and the owner references). */
	for (struct spok_engine_stats es;;) {
		spok_engine_stats(c->e, &es);
		if (es.loose == 0 && es.inflight == 0)
			break;
		uv_run(&c->loop, UV_RUN_ONCE);
	}
	printf("%s\n", id);
	*status = spok_phase_terminal(x.phase) ? spok_cli_phase_exit(x.phase) : 0;
done:
	spok_execution_free(&x);
	return result;
}

static int follow(struct spok_cli_session *c, struct spok_cli_progress *p, const char *cluster,
		  const char *id, int *status, struct spok_err *err)
{
	struct follow_stop stop = {0};
	struct spok_execution x = {0};
	int result;

	/* On a terminal: one live line with the run's Spark progress through the API server */
	if (!p->quiet && spok_cli_watch_mode_for(STDERR_FILENO, false) == SPOK_WATCH_LIVE) {
		p->live = spok_cli_watch_new(&c->loop, stderr, SPOK_WATCH_LIVE);
		spok_cli_watch_cluster(p->live, c->client);
		if (spok_store_get(c->st, id, &x, NULL) == 0)
			spok_cli_watch_row(p->live, &x);
		spok_execution_free(&x);
		memset(&x, 0, sizeof(x));
	}
	follow_signals(c, &stop, true);
	run_following_log(c, p, &stop);
	follow_signals(c, &stop, false);
	if (p->live) {
		struct spok_cli_watch *live = p->live;

		p->live = NULL;
		if (spok_store_get(c->st, id, &x, NULL) == 0) {
			spok_cli_watch_end(live, &x);
			spok_execution_free(&x);
			memset(&x, 0, sizeof(x));
		} else {
			spok_cli_watch_end(live, NULL);
		}
	}
	if (stop.sig) {
		fprintf(stderr, "spok: SIG%s: stopped following execution %s; its %s keeps running on "
			"cluster %s ('spok reconcile' follows it, 'spok abort %s' stops it)\n",
			sigabbrev_np(stop.sig), id,
			spok_engine_direct(c->e) ? "driver pod (direct submission)" : "SparkApplication",
			cluster, id);
		*status = 128 + stop.sig;
		return 0;
	}
	if (p->failed)
		return spok_err_set(err, SPOK_EIO, "%s", p->failed);
	if ((result = spok_store_get(c->st, id, &x, err)) != 0)
		return result;
	char *reason = spok_term_line(x.reason);
	fprintf(stderr, "spok: execution %s %s%s%s (attempt %u of %u)\n", x.id, spok_phase_name(x.phase),
		reason ? ": " : "", reason ? reason : "", x.attempt + 1, x.max_attempts);
	free(reason);
	if (x.outputs_json) { /* a flytekit task's outputs, as a local run prints them */
		char *out = spok_term_line(x.outputs_json);

		printf("%s\n", out);
		free(out);
		fflush(stdout);
	}
	*status = spok_cli_phase_exit(x.phase);
	spok_execution_free(&x);
	return 0;
}

/* A flytekit task's inputs and module (spok.flyte-data); other tasks take neither. */
static int flyte_task(struct spok_cli_session *c, const struct spok_cli_cluster_flags *f,
		      struct spok_task *t, struct spok_err *err)
{
	struct spok_strmap values = {0};
	char *note = NULL;
	int result = spok_cli_parse_inputs(&f->inputs, &values, err);

	if (result == 0)
		result = spok_engine_flyte_task(&c->plat, t, &values, f->python_path, &note, err);
	if (note != NULL && !f->quiet)
		fprintf(stderr, "spok: %s\n", note);
	free(note);
	spok_strmap_free(&values);
	return result;
}

static int run_cluster(struct spok_cli *cli, const struct spok_cli_cluster_flags *f, const char *job,
		       int *status, struct spok_err *err)
{
	struct spok_cli_progress p = {.quiet = f->quiet};
	struct spok_task task;
	const char *cluster = spok_cli_cluster_of(cli, f);
	char id[SPOK_EXEC_ID_LEN + 1];
	char *ns = NULL, *abs = NULL;
	struct spok_cli_session c;
	int result;

	spok_task_init(&task);
	result = spok_cli_session_open(&c, cli, NULL, cluster, false, err);
	if (result == 0)
		result = spok_cli_load_task(job, f->task_name, &task, err);
	if (result == 0)
		result = flyte_task(&c, f, &task, err);
	if (result == 0)
		result = spok_cli_engine_start(&c, f, cluster, &p, err);
	if (result != 0)
		goto done;
	ns = cli->namespace_ ? xstrdup(cli->namespace_)
			     : spok_namespace_for(&c.plat, task.project, task.domain);
	abs = realpath(job, NULL);
	result = c.ops->submit(&c.ctx, &task, ns, abs ? abs : job, NULL, id, sizeof(id), err);
	if (result != 0)
		goto done;
	fprintf(stderr, "spok: execution %s: %s in %s/%s\n", id,
		spok_engine_direct(c.e) ? "driver pod (direct submission)" : "SparkApplication",
		cluster, ns);
	if (f->detach)
		result = detach(&c, &p, id, status, err);
	else
		result = follow(&c, &p, cluster, id, status, err);
done:
	spok_cli_session_close(&c);
	spok_task_free(&task);
	spok_cli_progress_free(&p);
	free(ns);
	free(abs);
	return result;
}

static const char run_synopsis[] =
	"spok run JOB --cluster CONTEXT [-n NAMESPACE] [--task NAME] [--input name=value]... "
	"[--python-path DIR] [--keep] [-d] [--submitted-timeout 10m] [--submit operator|direct]";

int cmd_run_cluster(struct spok_cli *cli, int argc, char **argv)
{
	struct spok_cli_cluster_flags f = {0};
	struct spok_flag flags[12];
	struct spok_strv pos = {0};
	struct spok_err err = {0};
	int status = 0;
	int result;

	spok_cli_cluster_flag_table(&f, flags, true);
	result = spok_cli_parse(cli, argc, argv, flags, &pos, &err);
	if (result == 0 && cli->help) {
		spok_cli_usage(run_synopsis, flags);
		spok_strv_free(&pos);
		spok_strv_free(&f.inputs);
		return 0;
	}
	if (result == 0 && pos.len != 1)
		result = spok_err_set(&err, SPOK_EINVAL, "expected exactly one JOB file; usage: %s", run_synopsis);
	if (result == 0 && spok_cli_cluster_of(cli, &f) == NULL)
		result = spok_err_set(&err, SPOK_EINVAL, "--cluster: give a kubeconfig context or 'in-cluster'");
	if (result == 0)
		result = run_cluster(cli, &f, pos.items[0], &status, &err);
	spok_strv_free(&pos);
	spok_strv_free(&f.inputs);
	return result == 0 ? status : spok_cli_fail(&err);
}

bool spok_cli_wants_cluster(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--cluster") == 0 || strncmp(argv[i], "--cluster=", 10) == 0 ||
		    strcmp(argv[i], "--context") == 0 || strncmp(argv[i], "--context=", 10) == 0)
			return true;
	}
	return false;
}
