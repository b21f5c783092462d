/* spawn.c - one attempt on a borrowed libuv loop: spark-submit in its own session, output to
 * the log (and the terminal), abort / timeout handling. The attempt owns its handles only; it
 * reports its end through a callback once they are all closed.
 *
 * Signals (the blocking spok_local_supervise only): SIGHUP (terminal closed), SIGINT (^C),
 * SIGTERM, SIGQUIT and the other catchable signals that would end spok (stop_signals) only
 * record which came and wake the supervisor's loop (uv_async_send is async-signal-safe),
 * which then aborts the run. SIGPIPE is ignored: writes to a closed stdout/stderr fail with
 * EPIPE and the echo to that stream stops; the run goes on. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "common/buf.h"
#include "common/termesc.h"
#include "common/xalloc.h"
#include "local/internal.h"

#define POLL_MS 500
#define DRAIN_MS 2000
#define LINE_MAX_LEN 4096
#define REAP_TRIES 100 /* x 50 ms */

struct stream {
	uv_pipe_t pipe;
	int echo_fd;          /* 1 or 2, or -1 (none, or EPIPE: the reader went away) */
	bool echo_tty;        /* echo_fd is a terminal: escape control sequences */
	struct spok_term_stream esc;
	char line[LINE_MAX_LEN];
	size_t len;
	bool open;
	struct run *run;
};

struct run {
	uv_loop_t *loop; /* borrowed */
	uv_process_t proc;
	struct stream out, err;
	uv_timer_t poll, grace, timeout, drain, reap;
	int log_fd;
	int nopen;       /* handles not closed yet */
	int reap_tries;
	bool exited, spawned, closing;
	int result;      /* spawn / store failure, reported with the end */
	struct spok_err error;
	spok_local_attempt_cb cb;
	void *cb_arg;
	struct attempt_result *ar;
	struct spok_store *st;
	struct spok_execution *x;
	const struct spok_local_opts *o;
	bool term_sent;
	bool dirty; /* x changed (UI, app id): write it on the next poll */
	const struct spok_local_warm *warm; /* a warm attempt's session and server (borrowed), or NULL */
};

/* What runs in the attempt's group, for the messages of a stop: a warm attempt runs the
 * job's Python driver as a Spark Connect client, not spark-submit. */
static const char *what_runs(const struct run *r)
{
	return r->warm ? "the Spark Connect client" : "spark-submit";
}

static void msg(const struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void msg(const struct run *r, const char *fmt, ...)
{
	va_list ap;
	if (!r->o->msg)
		return;
	if (r->o->before_output)
		r->o->before_output(r->o->watch_arg);
	va_start(ap, fmt);
	vfprintf(r->o->msg, fmt, ap);
	va_end(ap);
	fflush(r->o->msg);
}

/* 0, or the errno of a failed write. */
static int write_all(int fd, const char *p, size_t n)
{
	return spok_write_all(fd, p, n) == 0 ? 0 : errno;
}

/* ---- stop signals ---- */

/* Every signal whose default action ends the process and that a program can catch, except
 * the crash signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS, SIGTRAP: after those
 * nothing can be trusted, and the next reader settles the run as after SIGKILL) and
 * SIGPIPE/SIGXFSZ, which are ignored so that writes fail with EPIPE/EFBIG instead. */
static const int stop_signals[] = {SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM,
				   SIGVTALRM, SIGPROF, SIGXCPU, SIGIO, SIGPWR};
#define NSTOP (sizeof(stop_signals) / sizeof(stop_signals[0]))
static volatile sig_atomic_t stop_sig;   /* the first stop signal, or 0 */
static volatile sig_atomic_t stop_count; /* how many came */
static uv_async_t *volatile wake_async;  /* the supervisor's loop, or NULL */
static struct sigaction saved[NSTOP], saved_pipe, saved_xfsz;
static bool caught[NSTOP]; /* the handler is ours for stop_signals[i] */
static bool installed;

static void on_stop_signal(int sig)
{
	int saved_errno = errno;
	if (!stop_sig)
		stop_sig = sig;
	if (stop_count < 1000)
		stop_count++;
	uv_async_t *a = wake_async;
	if (a)
		uv_async_send(a);
	errno = saved_errno;
}

void spok_local_signals_install(uv_async_t *wake)
{
	struct sigaction sa;

	if (installed)
		return;
	wake_async = wake;
	stop_sig = 0;
	stop_count = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NSTOP; i++)
		sigaddset(&sa.sa_mask, stop_signals[i]);
	/* A signal ignored by whoever started spok stays ignored: `nohup spok run` must survive
	 * its terminal, and a shell starts background jobs with SIGINT/SIGQUIT ignored. */
	for (size_t i = 0; i < NSTOP; i++) {
		caught[i] = sigaction(stop_signals[i], NULL, &saved[i]) == 0 && saved[i].sa_handler != SIG_IGN &&
			    sigaction(stop_signals[i], &sa, NULL) == 0;
	}
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, &saved_pipe);
	sigaction(SIGXFSZ, &sa, &saved_xfsz); /* RLIMIT_FSIZE on the log: EFBIG, not death */
	installed = true;
}

/* The stop signal, if any, stays readable (spok_local_stop_signal) for the caller's exit. */
void spok_local_signals_restore(void)
{
	wake_async = NULL; /* before the handle goes: the handler must not touch it */
	if (!installed)
		return;
	for (size_t i = 0; i < NSTOP; i++)
		if (caught[i])
			sigaction(stop_signals[i], &saved[i], NULL);
	sigaction(SIGPIPE, &saved_pipe, NULL);
	sigaction(SIGXFSZ, &saved_xfsz, NULL);
	installed = false;
}

int spok_local_stop_signal(void)
{
	return stop_sig;
}

int spok_local_stop_count(void)
{
	return stop_count;
}

const char *spok_local_signal_reason(int sig)
{
	switch (sig) {
	case SIGHUP: return "aborted: spok received SIGHUP (its terminal was closed)";
	case SIGINT: return "aborted by the user (SIGINT, interrupt)";
	case SIGTERM: return "aborted: spok received SIGTERM";
	case SIGQUIT: return "aborted: spok received SIGQUIT";
	case SIGUSR1: return "aborted: spok received SIGUSR1";
	case SIGUSR2: return "aborted: spok received SIGUSR2";
	case SIGALRM: return "aborted: spok received SIGALRM";
	case SIGVTALRM: return "aborted: spok received SIGVTALRM";
	case SIGPROF: return "aborted: spok received SIGPROF";
	case SIGXCPU: return "aborted: spok received SIGXCPU (CPU time limit)";
	case SIGIO: return "aborted: spok received SIGIO";
	case SIGPWR: return "aborted: spok received SIGPWR";
	default: return "aborted: spok received a signal";
	}
}

/* ---- stopping ---- */

static void kill_group(struct run *r, int sig)
{
	if (spok_pid_ok(r->x->pgid))
		kill((pid_t)-r->x->pgid, sig);
}

static void on_grace(uv_timer_t *t)
{
	struct run *r = t->data;
	if (!r->exited) {
		msg(r, "spok: %s did not stop within the grace period; killing it\n", what_runs(r));
		kill_group(r, SIGKILL);
	}
}

static void begin_stop(struct run *r, enum stop_kind kind, const char *why)
{
	if (r->ar->stop != STOP_NONE || r->exited)
		return;
	r->ar->stop = kind;
	r->ar->stop_why = why;
	msg(r, "spok: %s; stopping %s (TERM, KILL after %llums)\n", why, what_runs(r),
	    (unsigned long long)(r->o->grace_ms ? r->o->grace_ms : SPOK_LOCAL_GRACE_MS));
	kill_group(r, SIGTERM);
	uv_timer_start(&r->grace, on_grace, r->o->grace_ms ? r->o->grace_ms : SPOK_LOCAL_GRACE_MS, 0);
}

static void on_timeout(uv_timer_t *t)
{
	begin_stop(t->data, STOP_TIMEOUT, "task timeout exceeded");
}

/* The server's process ended, or the session's row says its server is not the one the
 * attempt began on: stopping, ended, or replaced by a newer start. A Kubernetes server has no
 * process here to watch; its supervisor records the pod's end in the row. */
bool spok_local_server_gone(struct spok_store *st, const struct spok_local_warm *w)
{
	struct spok_session s;
	bool gone = false;

	if (spok_pid_ok(w->server.pid) && !spok_proc_alive(w->server))
		return true;
	if (!w->session || w->generation <= 0 || spok_store_session_get(st, w->session, &s, NULL) != 0)
		return false;
	gone = s.generation != w->generation || s.phase != SPOK_SESSION_RUNNING;
	spok_session_free(&s);
	return gone;
}

static void on_poll(uv_timer_t *t)
{
	struct run *r = t->data;
	struct spok_execution now;

	if (r->dirty) {
		r->dirty = false;
		if (spok_store_update(r->st, r->x, NULL) != 0)
			r->dirty = true;
	}
	if (spok_store_get(r->st, r->x->id, &now, NULL) == 0) {
		bool req = now.abort_requested;
		spok_execution_free(&now);
		if (req)
			begin_stop(r, STOP_ABORT, "aborted by spok abort");
	}
	if (r->warm && spok_local_server_gone(r->st, r->warm))
		begin_stop(r, STOP_SERVER_GONE, "the session's Spark Connect server ended");
}

/* ---- output ---- */

static int parse_port(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	return end != s && v > 0 && v < 65536 ? (int)v : 0;
}

/* The application id in the path of Spark's "Logging events to PATH" line (heap), or NULL:
 * a single file is <id>[.codec][.inprogress]; a rolling log (Spark 4.0's default) is
 * eventlog_v2_<id>/events_<n>_<id>[.codec][.inprogress], whose directory names the id. */
static char *event_log_app_id(const char *path)
{
	static const char *const tails[] = {".inprogress", ".zstd", ".lz4", ".lzf", ".snappy", NULL};
	static const char dir_prefix[] = "eventlog_v2_";
	size_t len = strcspn(path, " \t\r\n");
	const char *end = path + len, *base = end;

	while (base > path && base[-1] != '/')
		base--;
	if (base - path > 1) { /* the parent directory's name */
		const char *dir = base - 1;
		while (dir > path && dir[-1] != '/')
			dir--;
		size_t dn = (size_t)(base - 1 - dir);
		if (dn > sizeof(dir_prefix) - 1 && strncmp(dir, dir_prefix, sizeof(dir_prefix) - 1) == 0) {
			base = dir + sizeof(dir_prefix) - 1;
			end = dir + dn;
		}
	}
	for (size_t i = 0; tails[i]; i++) { /* .inprogress comes after the codec */
		size_t t = strlen(tails[i]);
		if ((size_t)(end - base) > t && strncmp(end - t, tails[i], t) == 0)
			end -= t;
	}
	size_t n = (size_t)(end - base);
	/* Spark's ids are local-<ms> / app-...: anything else is not one (the line is the job's
	 * output, and the id ends up in URLs and on the operator's terminal). */
	if (n == 0 || n >= 200 || strspn(base, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") < n)
		return NULL;
	return xstrndup(base, n);
}

static void scan_line(struct run *r, const char *line)
{
	const char *m;
	if ((m = strstr(line, "Successfully started service 'SparkUI' on port "))) {
		int port = parse_port(m + strlen("Successfully started service 'SparkUI' on port "));
		if (port > 0) {
			free(r->x->ui_url);
			r->x->ui_url = xasprintf("http://127.0.0.1:%d", port);
			r->dirty = true;
			msg(r, "spok: Spark UI: %s\n", r->x->ui_url);
		}
	} else if ((m = strstr(line, "Logging events to "))) {
		char *app = event_log_app_id(m + strlen("Logging events to "));
		if (app) {
			free(r->x->spark_app_id);
			r->x->spark_app_id = app;
			r->dirty = true;
		}
	}
}

static void feed(struct stream *s, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			s->line[s->len] = '\0';
			scan_line(s->run, s->line);
			s->len = 0;
		} else if (s->len + 1 < sizeof(s->line)) {
			s->line[s->len++] = p[i];
		}
	}
}

/* The job's output to the operator: unchanged into a file or pipe, control sequences
 * escaped on a terminal. A reader that went away (EPIPE) ends only the echo. */
static void echo(struct stream *s, const char *p, size_t n)
{
	int rc;
	if (s->run->o->before_output)
		s->run->o->before_output(s->run->o->watch_arg);
	if (s->echo_tty) {
		struct spok_buf b;
		spok_buf_init(&b, 0);
		spok_term_stream_feed(&s->esc, p, n, &b);
		rc = b.len ? write_all(s->echo_fd, b.data, b.len) : 0;
		spok_buf_free(&b);
	} else {
		rc = write_all(s->echo_fd, p, n);
	}
	if (rc == EPIPE)
		s->echo_fd = -1;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	buf->base = xmalloc(suggested);
	buf->len = suggested;
}

static void maybe_done(struct run *r);

static bool handle_gone(struct run *r);

static void on_closed_stream(uv_handle_t *h)
{
	struct stream *s = h->data;
	struct run *r = s->run;
	s->open = false;
	if (!handle_gone(r))
		maybe_done(r);
}

static void on_read(uv_stream_t *h, ssize_t n, const uv_buf_t *buf)
{
	struct stream *s = h->data;
	if (n > 0) {
		write_all(s->run->log_fd, buf->base, (size_t)n);
		if (s->echo_fd >= 0)
			echo(s, buf->base, (size_t)n);
		feed(s, buf->base, (size_t)n);
	} else if (n < 0) {
		if (s->echo_fd >= 0 && s->echo_tty) {
			struct spok_buf b;
			spok_buf_init(&b, 0);
			spok_term_stream_end(&s->esc, &b);
			if (b.len)
				write_all(s->echo_fd, b.data, b.len);
			spok_buf_free(&b);
		}
		if (s->len) {
			s->line[s->len] = '\0';
			scan_line(s->run, s->line);
			s->len = 0;
		}
		if (!uv_is_closing((uv_handle_t *)h))
			uv_close((uv_handle_t *)h, on_closed_stream);
	}
	free(buf->base);
}

/* ---- exit and teardown ---- */

/* One handle less; true when it was the last and r is gone (its callback has run). */
static bool handle_gone(struct run *r)
{
	if (--r->nopen > 0)
		return false;
	/* Every handle is gone: nothing of the attempt touches the loop any more. */
	close(r->log_fd);
	spok_local_attempt_cb cb = r->cb;
	void *arg = r->cb_arg;
	int result = r->result;
	struct spok_err e = r->error;
	free(r);
	cb(arg, result, &e);
	return true;
}

static void on_handle_closed(uv_handle_t *h)
{
	handle_gone(h->data);
}

static void close_one(struct run *r, uv_handle_t *h)
{
	if (!uv_is_closing(h)) {
		h->data = r;
		uv_close(h, on_handle_closed);
	}
}

static void close_all(struct run *r)
{
	r->closing = true;
	close_one(r, (uv_handle_t *)&r->poll);
	close_one(r, (uv_handle_t *)&r->grace);
	close_one(r, (uv_handle_t *)&r->timeout);
	close_one(r, (uv_handle_t *)&r->drain);
	close_one(r, (uv_handle_t *)&r->reap);
	close_one(r, (uv_handle_t *)&r->proc);
}

/* After the attempt: KILL whatever is left of the group and wait (bounded, on the loop) until
 * it is gone, so the phase is recorded only once nothing of the job runs any more. Zombies
 * do not run: waiting for PID 1 to reap spark-class's orphaned bash cost up to 1.5 s a run. */
static void on_reap(uv_timer_t *t)
{
	struct run *r = t->data;
	int64_t pgid = r->x->pgid;

	if (!r->spawned || r->reap_tries >= REAP_TRIES || !spok_pid_ok(pgid) ||
	    (kill((pid_t)-pgid, SIGKILL) != 0 && errno == ESRCH) || !spok_pgrp_running(pgid)) {
		close_all(r);
		return;
	}
	r->reap_tries++;
	uv_timer_start(&r->reap, on_reap, 50, 0);
}

/* Once the process has exited and both pipes are done: reap the group, then close. */
static void maybe_done(struct run *r)
{
	if (!r->exited || r->out.open || r->err.open || r->closing)
		return;
	r->closing = true;
	uv_timer_stop(&r->poll);
	uv_timer_stop(&r->grace);
	uv_timer_stop(&r->timeout);
	uv_timer_stop(&r->drain);
	uv_timer_start(&r->reap, on_reap, 0, 0);
}

static void on_drain(uv_timer_t *t)
{
	struct run *r = t->data;
	/* Something else in the group still holds the pipes: stop reading. */
	if (r->out.open && !uv_is_closing((uv_handle_t *)&r->out.pipe))
		uv_close((uv_handle_t *)&r->out.pipe, on_closed_stream);
	if (r->err.open && !uv_is_closing((uv_handle_t *)&r->err.pipe))
		uv_close((uv_handle_t *)&r->err.pipe, on_closed_stream);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int term_signal)
{
	struct run *r = p->data;
	r->exited = true;
	r->ar->exit_status = status;
	r->ar->term_signal = term_signal;
	uv_timer_stop(&r->grace);
	uv_timer_stop(&r->timeout);
	/* After an abort nothing of the job may survive: kill what is left of its group. */
	if (r->ar->stop != STOP_NONE)
		kill_group(r, SIGKILL);
	uv_timer_start(&r->drain, on_drain, DRAIN_MS, 0);
	maybe_done(r);
}

static void init_stream(struct run *r, struct stream *s, int echo_fd)
{
	uv_pipe_init(r->loop, &s->pipe, 0);
	r->nopen++;
	s->pipe.data = s;
	s->echo_fd = echo_fd;
	s->echo_tty = echo_fd >= 0 && isatty(echo_fd);
	s->esc.flags = SPOK_TERM_TEXT;
	s->run = r;
	s->open = true;
}

static void init_timer(struct run *r, uv_timer_t *t)
{
	uv_timer_init(r->loop, t);
	t->data = r;
	r->nopen++;
}

static int open_log(const char *path, struct spok_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return spok_err_set(err, SPOK_EIO, "%s: cannot create the log: %s; check the data dir", path, strerror(errno));
	return fd;
}

static int spawn(struct run *r, const struct spok_strv *argv, const struct spok_strv *envv,
		 struct spok_err *err)
{
	uv_stdio_container_t stdio[3];
	uv_process_options_t po;

	memset(&po, 0, sizeof(po));
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *)&r->out.pipe;
	stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[2].data.stream = (uv_stream_t *)&r->err.pipe;
	po.file = argv->items[0];
	po.args = argv->items;
	po.env = envv->items;
	po.stdio = stdio;
	po.stdio_count = 3;
	po.exit_cb = on_exit_cb;
	/* DETACHED = setsid(): spark-submit and everything it starts share one new process
	 * group that abort can signal as a whole, and a terminal ^C reaches only spok. */
	po.flags = UV_PROCESS_DETACHED;
	r->proc.data = r;
	int rc = uv_spawn(r->loop, &r->proc, &po);
	r->nopen++; /* initialised even when the spawn fails: closed either way */
	if (rc != 0)
		return spok_err_set(err, SPOK_EIO, "%s: cannot start: %s; run scripts/setup python or set SPARK_HOME",
				    argv->items[0], uv_strerror(rc));
	return 0;
}

static void start_watchers(struct run *r, const struct spok_task *t)
{
	uv_timer_start(&r->poll, on_poll, POLL_MS, POLL_MS);
	if (t->timeout_s > 0)
		uv_timer_start(&r->timeout, on_timeout, t->timeout_s * 1000, 0);
	uv_read_start((uv_stream_t *)&r->out.pipe, on_alloc, on_read);
	uv_read_start((uv_stream_t *)&r->err.pipe, on_alloc, on_read);
}

int spok_local_attempt_start(uv_loop_t *loop, struct spok_store *st, const struct spok_task *t,
			     const struct spok_local_opts *o, struct spok_execution *x,
			     const struct spok_strv *argv, const struct spok_strv *envv,
			     struct attempt_result *ar, spok_local_attempt_cb cb, void *arg,
			     struct spok_local_attempt **out, struct spok_err *err)
{
	struct run *r = xcalloc(1, sizeof(*r));

	*out = NULL;
	memset(ar, 0, sizeof(*ar));
	r->loop = loop;
	r->ar = ar;
	r->st = st;
	r->x = x;
	r->o = o;
	r->cb = cb;
	r->cb_arg = arg;
	r->log_fd = open_log(x->log_path, err);
	if (r->log_fd < 0) {
		free(r);
		return SPOK_EIO;
	}
	init_stream(r, &r->out, o->msg ? STDOUT_FILENO : -1); /* the job's own output */
	init_stream(r, &r->err, o->quiet || !o->msg ? -1 : STDERR_FILENO); /* Spark's log */
	init_timer(r, &r->poll);
	init_timer(r, &r->grace);
	init_timer(r, &r->timeout);
	init_timer(r, &r->drain);
	init_timer(r, &r->reap);
	*out = (struct spok_local_attempt *)r;
	r->result = spawn(r, argv, envv, &r->error);
	if (r->result != 0) {
		/* Nothing runs: close the pipes, then everything else; cb reports the error. */
		r->exited = true;
		r->closing = true;
		uv_close((uv_handle_t *)&r->out.pipe, on_closed_stream);
		uv_close((uv_handle_t *)&r->err.pipe, on_closed_stream);
		close_all(r);
		return 0;
	}
	r->spawned = true;
	x->pid = r->proc.pid;
	x->pgid = r->proc.pid;
	x->proc_start = spok_pid_start_time(x->pid);
	x->phase = SPOK_PHASE_RUNNING;
	r->result = spok_store_update(st, x, &r->error);
	if (r->result != 0)
		kill_group(r, SIGKILL);
	start_watchers(r, t);
	return 0;
}

void spok_local_attempt_stop(struct spok_local_attempt *a, const char *why)
{
	begin_stop((struct run *)a, STOP_ABORT, why);
}

void spok_local_attempt_watch_server(struct spok_local_attempt *a, const struct spok_local_warm *w)
{
	struct run *r = (struct run *)a;

	r->warm = w;
}

void spok_local_attempt_kill(struct spok_local_attempt *a)
{
	struct run *r = (struct run *)a;

	if (r->exited)
		return;
	if (r->ar->stop == STOP_NONE) {
		r->ar->stop = STOP_ABORT;
		r->ar->stop_why = "aborted";
	}
	msg(r, "spok: second signal; killing spark-submit now\n");
	kill_group(r, SIGKILL);
}
