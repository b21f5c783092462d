/* cmd_run.c - `spok run JOB`: run a task locally with real Spark (the default backend). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/session.h"
#include "cli/watch.h"
#include "common/sys.h"
#include "common/termesc.h"
#include "common/timefmt.h"
#include "common/xalloc.h"
#include "connect/connect.h"
#include "local/local.h"
#include "local/token.h"
#include "store/store.h"

static const char run_synopsis[] =
	"spok run JOB [--task NAME] [--input name=value]... [--master local[N]] [--warm [--pool P] | --cold] [-d] [-q]";

struct run_opts {
	const char *task_name;
	const char *master;
	const char *python_path;
	const char *grace;
	const char *pool;
	const char *pool_from; /* where pool came from, for errors: NULL "--pool" */
	struct spok_strv inputs;
	bool detach;
	bool quiet;
	bool warm;
	bool cold;
};

static void run_flags(struct run_opts *o, struct spok_flag *f)
{
	f[0] = (struct spok_flag){"task", 0, &o->task_name, NULL, NULL, "task inside a pyflyte package"};
	f[1] = (struct spok_flag){"input", 'i', NULL, NULL, &o->inputs,
				  "typed task input name=value (flytekit tasks; repeatable)"};
	f[2] = (struct spok_flag){"master", 0, &o->master, NULL, NULL,
				  "Spark master for the local run (default local[*])"};
	f[3] = (struct spok_flag){"detach", 'd', NULL, &o->detach, NULL,
				  "print the execution id and run in the background"};
	f[4] = (struct spok_flag){"quiet", 'q', NULL, &o->quiet, NULL, "do not echo Spark's log (the job's stdout still shows)"};
	f[5] = (struct spok_flag){"python-path", 0, &o->python_path, NULL, NULL,
				  "directory with the task's Python code (default: current directory)"};
	f[6] = (struct spok_flag){"grace", 0, &o->grace, NULL, NULL,
				  "on abort, wait this long after TERM before KILL (default 10s)"};
	f[7] = (struct spok_flag){"warm", 0, NULL, &o->warm, NULL,
				  "run the Python driver as a Spark Connect client of a warm session (docs/CLI.md)"};
	f[8] = (struct spok_flag){"pool", 0, &o->pool, NULL, NULL,
				  "with --warm: the pool (spok.pools) whose session runs it (default 'default')"};
	f[9] = (struct spok_flag){"cold", 0, NULL, &o->cold, NULL,
				  "run normally even when a rule of spok.warm-rules would run it warm"};
	f[10] = (struct spok_flag){0};
}

/* The reason comes from the job's output and is escaped for the terminal; outputs stay JSON
 * (jansson escapes control characters; C1 and DEL are escaped here too). */
static void report(const struct spok_execution *x, const char *data_dir)
{
	char *reason = spok_term_line(x->reason);
	fprintf(stderr, "spok: execution %s %s", x->id, spok_phase_name(x->phase));
	if (reason)
		fprintf(stderr, ": %s", reason);
	free(reason);
	fprintf(stderr, " (attempt %u of %u)\n", x->attempt + 1, x->max_attempts);
	if (x->history_url)
		fprintf(stderr, "spok: Spark history: %s%s\n", x->history_url,
			spok_history_running(data_dir) ? "" : " (start the server with 'spok history')");
	if (x->outputs_json) {
		char *out = spok_term_line(x->outputs_json);
		printf("%s\n", out);
		free(out);
	}
	fflush(stdout);
}

/* `spok run`'s live progress on stderr (watch.h): the run's loop calls in once it started
 * (loop set) and once it ended (loop NULL); a timer feeds the live row in meanwhile. */
struct run_watch {
	struct spok_cli_watch *w;
	const struct spok_execution *x;
	uv_timer_t feed;
};

static void on_feed(uv_timer_t *t)
{
	struct run_watch *rw = t->data;

	spok_cli_watch_row(rw->w, rw->x);
}

static void run_watch(void *arg, uv_loop_t *loop, const struct spok_execution *x)
{
	struct run_watch *rw = arg;

	if (loop) {
		rw->x = x;
		enum spok_cli_watch_mode m = spok_cli_watch_mode_for(2, false);

		rw->w = spok_cli_watch_new(loop, stderr, m);
		if (m != SPOK_WATCH_LIVE) /* only a terminal shows the numbers as they change */
			spok_cli_watch_no_progress(rw->w);
		spok_cli_watch_row(rw->w, x);
		uv_timer_init(loop, &rw->feed);
		rw->feed.data = rw;
		uv_timer_start(&rw->feed, on_feed, SPOK_CLI_WATCH_TICK_MS, SPOK_CLI_WATCH_TICK_MS);
	} else if (rw->w) {
		uv_close((uv_handle_t *)&rw->feed, NULL);
		spok_cli_watch_end(rw->w, x);
		rw->w = NULL;
	}
}

static void run_before_output(void *arg)
{
	struct run_watch *rw = arg;

	spok_cli_watch_clear(rw->w);
}

/* Detached: the child becomes the supervisor in its own session; the parent prints the id.
 * The store is reopened on each side (an SQLite connection must not cross fork). */
static int detach(const char *data_dir, const struct spok_task *t, const struct spok_platform *p,
		  struct spok_local_opts *lo, struct spok_execution *x, struct spok_err *err)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return spok_err_set(err, SPOK_EIO, "cannot fork the supervisor; retry without --detach");
	if (pid > 0) {
		printf("%s\n", x->id);
		return 0;
	}
	spok_detach_stdio();
	struct spok_store *st = NULL;
	lo->quiet = true;
	lo->msg = NULL;
	int r = spok_store_open(data_dir, &st, NULL);
	if (r == 0)
		r = spok_local_supervise(st, t, p, lo, x, NULL);
	spok_store_close(st);
	exit(r == 0 ? 0 : 70);
}

/* What --warm needs besides the local run: the pool, the session's URL and UI, or why the
 * job runs as a normal local run instead. */
struct warm_ctx {
	struct spok_pools pools;
	const struct spok_pool *pool;
	struct spok_local_warm w;
	char *fallback, *remote, *ui;
	char *token;              /* the client's SPARK_CONNECT_AUTHENTICATE_TOKEN (a secret) */
	const char *data_dir, *config_path; /* borrowed: for the ensure before each attempt */
};

static void warm_free(struct warm_ctx *c)
{
	spok_pools_free(&c->pools);
	free(c->fallback);
	spok_token_free(c->remote); /* a Kubernetes session's holds its token */
	free(c->ui);
	spok_token_free(c->token);
}

/* Before the submit: the pool, and whether the task can run on Connect at all. */
static int warm_check(const struct run_opts *o, const struct spok_platform *p,
		      const struct spok_task *t, struct warm_ctx *c, struct spok_local_opts *lo,
		      struct spok_err *err)
{
	int result = spok_pools_load(p, &c->pools, err);

	if (result == 0 && !(c->pool = spok_pools_find(&c->pools, o->pool)))
		result = spok_err_set(err, SPOK_ENOTFOUND, "%s %.63s: no such pool in spok.pools of %s; declare it (docs/CONFIG.md) or use 'default'",
				      o->pool_from ? o->pool_from : "--pool", o->pool,
				      p->source_path ? p->source_path : "the config");
	/* a bad file it would upload is refused before the run */
	if (result == 0)
		result = spok_local_warm_check(t, o->python_path, &c->fallback, err);
	if (result != 0)
		return result;
	if (c->fallback) {
		char *why = spok_term_line(c->fallback);
		fprintf(stderr, "spok: not warm: %s; running it as a normal local run\n", why);
		free(why);
		lo->fallback = c->fallback;
	} else {
		c->w.session = c->pool->name;
		lo->warm = &c->w;
	}
	return 0;
}

/* The pool's session runs (started, or restarted after its server died): c->w names it.
 * Also the runner's ensure before every warm attempt (spok_local_warm.ensure). */
static int warm_ensure(void *arg, struct spok_store *st, struct spok_err *err)
{
	struct warm_ctx *c = arg;
	struct spok_session s;
	bool started = false;
	int result = spok_connect_ensure(st, c->data_dir, c->config_path, c->pool->name, c->pool, &s,
					 &started, err);
	char *user = spok_connect_user();

	if (result == 0)
		result = spok_connect_warm_client(&s, user, &c->w, &c->remote, &c->token, &c->ui, err);
	/* the same warning as spok session start: this run started a server others can use */
	if (result == 0 && started)
		fprintf(stderr, "spok: session %s started in pool %s (Spark UI %s); %s\n",
			c->pool->name, s.pool ? s.pool : c->pool->name, c->ui ? c->ui : "unknown",
			SPOK_CONNECT_AUTH_NOTE_FOR(c->pool));
	free(user);
	spok_session_free(&s);
	return result;
}

/* The task's own switch, in its sparkConf (spok_warm_by_task): --warm and --cold win over it. */
static int warm_by_task(struct run_opts *o, const struct spok_task *t, struct spok_err *err)
{
	enum spok_warm_switch sw;
	const char *pool = NULL;
	int result = spok_warm_by_task(t, &sw, &pool, err);

	if (result != 0 || o->warm || o->cold)
		return result;
	if (sw == SPOK_WARM_OFF) {
		o->cold = true;
		fprintf(stderr, "spok: cold by the task's sparkConf spok.cold; --warm runs it warm\n");
	} else if (sw == SPOK_WARM_ON) {
		o->warm = true;
		o->pool = pool;
		o->pool_from = "sparkConf spok.warm";
		fprintf(stderr, "spok: warm by the task's sparkConf spok.warm (pool %s); --cold runs it normally\n", o->pool);
	}
	return 0;
}

/* spok.warm-rules: a job a rule matches runs warm on the rule's pool as if --warm --pool P
 * were given (rs keeps the pool's name). */
static int warm_by_rule(struct run_opts *o, const struct spok_platform *p,
			const struct spok_task *t, struct spok_warm_rules *rs, struct spok_err *err)
{
	struct spok_pools ps;
	size_t i = 0;
	int result;

	if (o->warm || o->cold || !p->spok.warm_rules)
		return 0;
	if ((result = spok_pools_load(p, &ps, err)) != 0)
		return result;
	result = spok_warm_rules_load(p, &ps, rs, err);
	spok_pools_free(&ps);
	const struct spok_warm_rule *r = result == 0 ? spok_warm_rules_match(rs, t, &i) : NULL;
	if (r) {
		o->warm = true;
		o->pool = r->pool;
		fprintf(stderr, "spok: warm by spok.warm-rules[%zu] (pool %s); --cold runs it normally\n", i, r->pool);
	}
	return result;
}

/* After the submit (the row counts as the session's client from now on, so it is not
 * reaped idle): the session runs, started if need be; if it cannot, a normal local run. */
static int warm_session(struct spok_store *st, const char *data_dir, const char *config_path,
			struct warm_ctx *c,
			struct spok_local_opts *lo, struct spok_execution *x, struct spok_err *err)
{
	struct spok_err e = {0};

	if (!lo->warm || !c->pool)
		return 0;
	c->data_dir = data_dir;
	c->config_path = config_path;
	if (warm_ensure(c, st, &e) == 0) {
		c->w.ensure = warm_ensure;
		c->w.ensure_arg = c;
		return 0;
	}
	c->fallback = xasprintf("warm session %s could not start (%s)", c->pool->name, e.msg);
	char *why = spok_term_line(c->fallback);
	fprintf(stderr, "spok: not warm: %s; running it as a normal local run\n", why);
	free(why);
	lo->warm = NULL;
	lo->fallback = c->fallback;
	free(x->session);
	x->session = NULL;
	x->fallback = xstrdup(c->fallback);
	return spok_store_update(st, x, err);
}

static int run(struct spok_cli *cli, struct run_opts *o, const char *job, int *status,
	       struct spok_err *err)
{
	struct spok_task task;
	struct spok_platform plat;
	struct spok_strmap inputs = {0};
	struct spok_store *st = NULL;
	struct spok_execution x = {0};
	struct warm_ctx wc = {0};
	struct spok_warm_rules rules = {0};
	char *data_dir = NULL;
	uint64_t grace_ms = 0;
	int result;

	spok_task_init(&task);
	spok_platform_init(&plat);
	result = spok_cli_parse_inputs(&o->inputs, &inputs, err);
	if (result == 0 && o->grace)
		result = spok_parse_duration_ms("--grace", o->grace, &grace_ms, err);
	if (result == 0) {
		spok_platform_free(&plat);
		result = spok_cli_load_platform(cli, &plat, err);
	}
	if (result == 0)
		result = spok_cli_load_task(job, o->task_name, &task, err);
	if (result == 0)
		result = spok_data_dir(cli->data_dir, &data_dir, err);
	if (result == 0)
		result = spok_store_open(data_dir, &st, err);
	if (result != 0)
		goto done;
	struct spok_local_opts lo = {
		.data_dir = data_dir, .master = o->master, .python_path = o->python_path,
		.inputs = &inputs, .quiet = o->quiet, .grace_ms = grace_ms, .msg = stderr,
	};
	if (o->pool && !o->warm)
		result = spok_err_set(err, SPOK_EINVAL, "--pool: only with --warm (the pool whose session runs the job)");
	if (result == 0 && o->warm && o->cold)
		result = spok_err_set(err, SPOK_EINVAL, "--cold and --warm: choose one");
	if (result == 0)
		result = warm_by_task(o, &task, err);
	if (result == 0)
		result = warm_by_rule(o, &plat, &task, &rules, err);
	if (result == 0 && o->warm)
		result = warm_check(o, &plat, &task, &wc, &lo, err);
	if (result == 0)
		result = spok_local_submit(st, &task, &plat, &lo, &x, err);
	if (result == 0)
		result = warm_session(st, data_dir, cli->config_path, &wc, &lo, &x, err);
	if (result != 0)
		goto done;
	if (o->detach) {
		spok_store_close(st);
		st = NULL;
		result = detach(data_dir, &task, &plat, &lo, &x, err);
		goto done;
	}
	char *what = spok_term_line(task.name ? task.name : job);
	if (lo.warm)
		fprintf(stderr, "spok: execution %s: running %s warm on session %s, a Spark Connect client (log %s/attempt-0.log)\n",
			x.id, what, lo.warm->session, x.run_dir);
	else
		fprintf(stderr, "spok: execution %s: running %s locally (log %s/attempt-0.log)\n", x.id, what, x.run_dir);
	free(what);
	struct run_watch rw = {0};
	lo.watch = run_watch;
	lo.before_output = run_before_output;
	lo.watch_arg = &rw;
	result = spok_local_supervise(st, &task, &plat, &lo, &x, err);
	if (lo.warm) /* the session's idle time counts from the end of its last run */
		spok_store_session_touch(st, lo.warm->session, spok_now_ms(), NULL);
	if (result == 0) {
		report(&x, data_dir);
		*status = spok_cli_phase_exit(x.phase);
	}
done:
	spok_execution_free(&x);
	spok_store_close(st);
	warm_free(&wc);
	spok_warm_rules_free(&rules);
	free(data_dir);
	spok_strmap_free(&inputs);
	spok_task_free(&task);
	spok_platform_free(&plat);
	return result;
}

int cmd_run(struct spok_cli *cli, int argc, char **argv)
{
	struct run_opts o = {0};
	struct spok_flag flags[11];
	struct spok_strv pos = {0};
	struct spok_err err = {0};
	int status = 0;

	/* A closed stdout/stderr (`spok run job.yaml | head -1`, a closed terminal) must not kill
	 * the supervisor: writes fail with EPIPE instead, and the run goes on to its recorded end.
	 * (Spark does not inherit this: libuv resets signal dispositions in the child.) */
	signal(SIGPIPE, SIG_IGN);
	if (spok_cli_wants_cluster(argc, argv)) /* --cluster / --context: src/engine */
		return cmd_run_cluster(cli, argc, argv);
	run_flags(&o, flags);
	int result = spok_cli_parse(cli, argc, argv, flags, &pos, &err);
	if (result == 0 && cli->help) {
		spok_cli_usage(run_synopsis, flags);
		spok_strv_free(&o.inputs);
		spok_strv_free(&pos);
		return 0;
	}
	if (result == 0 && pos.len != 1)
		result = spok_err_set(&err, SPOK_EINVAL, "expected exactly one JOB file; usage: %s", run_synopsis);
	if (result == 0)
		result = run(cli, &o, pos.items[0], &status, &err);
	spok_strv_free(&o.inputs);
	spok_strv_free(&pos);
	if (result != 0)
		return spok_cli_fail(&err);
	/* Stopped by a signal: the run is recorded ABORTED; now end the way the signal would have,
	 * so a shell sees "killed by SIGINT" and stops its script too. Signals whose default
	 * dumps core (SIGQUIT, SIGXCPU) exit 128+N instead. */
	int sig = spok_local_stop_signal();
	if (sig && sig != SIGQUIT && sig != SIGXCPU) {
		fflush(NULL);
		signal(sig, SIG_DFL);
		raise(sig);
	}
	return sig ? 128 + sig : status;
}
