/* cmd_cluster.c - cluster executions from the command line: `spok run JOB --cluster NAME`,
 * `spok reconcile [--cluster NAME]`, and the cluster side of `spok abort` / `spok logs` /
 * `spok status` (one live read of the SparkApplication, never written to the store).
 *
 * A cluster name is a kubeconfig context ("in-cluster" uses the pod's service account); it is
 * what the store records as the execution's backend, so later commands find the cluster
 * again. See docs/ARCHITECTURE.md, "Cluster runs".
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

#ifdef SPOK_HAVE_ENGINE
#include "common/termesc.h"
#include "common/xalloc.h"
#include "engine/engine.h"
#include "kube/kubeconfig.h"
#include "kube/stream.h"
#include "phase/phase.h"
#include "server/server.h"
#include "local/local.h"
#include "store/store.h"

#define ABORT_WAIT_MS 60000

static const struct kube_gvr SPARKAPPS = {"sparkoperator.k8s.io", "v1beta2", "sparkapplications"};

/* Everything one cluster command needs, torn down by cl_close. */
struct cl {
	uv_loop_t loop;
	bool loop_ok;
	struct kube_client *client;
	struct spok_store *st;
	struct spok_platform plat;
	struct spok_engine *e;
	char *data_dir;
	bool quiet;
};

static int cl_client(struct cl *c, const struct spok_cli *cli, const char *cluster,
		     const struct kube_client_opts *opts, struct spok_err *err)
{
	struct kube_config cfg = {0};
	int result;

	if (strcmp(cluster, "in-cluster") == 0)
		result = kube_config_in_cluster(&cfg, NULL, err);
	else
		result = kube_config_load(&cfg, cli->kubeconfig, cluster, err);
	if (result == 0)
		result = kube_client_new(&c->loop, &cfg, opts, &c->client, err);
	kube_config_free(&cfg);
	return result;
}

static int cl_open(struct cl *c, const struct spok_cli *cli, const char *cluster,
		   struct spok_err *err)
{
	int result;

	memset(c, 0, sizeof(*c));
	spok_platform_init(&c->plat);
	uv_loop_init(&c->loop);
	c->loop_ok = true;
	spok_platform_free(&c->plat);
	result = spok_cli_load_platform(cli, &c->plat, err);
	if (result == 0)
		result = spok_data_dir(cli->data_dir, &c->data_dir, err);
	if (result == 0) /* `spok logs` of a read-only data dir; writers fail at the first write */
		result = spok_store_open_reader(c->data_dir, &c->st, err);
	if (result == 0)
		result = cl_client(c, cli, cluster, NULL, err);
	return result;
}

static void cl_close(struct cl *c)
{
	spok_engine_close(c->e);
	kube_client_close(c->client);
	if (c->loop_ok) {
		uv_run(&c->loop, UV_RUN_DEFAULT);
		uv_loop_close(&c->loop);
	}
	spok_store_close(c->st);
	spok_platform_free(&c->plat);
	free(c->data_dir);
}

static int load_task(void *data, const struct spok_execution *x, struct spok_task *out,
		     struct spok_err *err)
{
	if (x->task_source == NULL)
		return spok_err_set(err, SPOK_ENOTFOUND, "execution %s: no task source recorded", x->id);
	/* Recorded by `spok serve` (its tasks dir): the daemon's own loader, which knows the
	 * connector's .ctr requests and parses a client's bytes in a child first. */
	if (spok_server_is_connector_source(x->task_source))
		return spok_server_load_task(x, out, err);
	(void)data;
	spok_task_free(out);
	return spok_cli_load_task(x->task_source, NULL, out, err);
}

static void stamp(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, len, "%H:%M:%S", &tm);
}

/* Progress on stderr: phase changes with a time stamp, links as they appear. `running` and
 * the names are noted for run_following_log (the driver log on stdout). */
struct progress {
	bool quiet;
	char last[256];
	char *links;
	bool running;
	char *ns;
	char *app;
	char *failed; /* SPOK_ENGINE_FAILED's message: a store write failed */
};

static void on_event(void *data, enum spok_engine_event ev, const struct spok_execution *x)
{
	struct progress *p = data;
	char now[16], line[256];

	if (ev == SPOK_ENGINE_FAILED && p->failed == NULL)
		p->failed = xstrdup(x->error_message ? x->error_message : "a store write failed");

	if (ev == SPOK_ENGINE_CHANGED && x->phase == SPOK_PHASE_RUNNING && !p->running &&
	    x->namespace_ && x->resource_name) {
		p->running = true;
		p->ns = xstrdup(x->namespace_);
		p->app = xstrdup(x->resource_name);
	}
	if (p->quiet || ev != SPOK_ENGINE_CHANGED)
		return;
	snprintf(line, sizeof(line), "%s %u %s", spok_phase_name(x->phase), x->attempt,
		 x->reason ? x->reason : "");
	if (strcmp(line, p->last) != 0) {
		/* The reason comes from the driver's output: escaped for the terminal. */
		char *reason = spok_term_line(x->reason);
		snprintf(p->last, sizeof(p->last), "%s", line);
		stamp(now, sizeof(now));
		fprintf(stderr, "%s %s %-20s attempt %u/%u %s%s\n", now, x->id,
			spok_phase_name(x->phase), x->attempt + 1, x->max_attempts,
			x->resource_name ? x->resource_name : "", x->reason ? "" : "");
		if (reason)
			fprintf(stderr, "         %s\n", reason);
		free(reason);
	}
	if (x->links_json && (p->links == NULL || strcmp(p->links, x->links_json) != 0)) {
		json_t *a = json_loads(x->links_json, 0, NULL);
		size_t i;
		json_t *l;

		json_array_foreach(a, i, l) {
			char *name = spok_term_line(json_string_value(json_object_get(l, "name")));
			char *uri = spok_term_line(json_string_value(json_object_get(l, "uri")));
			fprintf(stderr, "         %s: %s\n", name ? name : "", uri ? uri : "");
			free(name);
			free(uri);
		}
		json_decref(a);
		free(p->links);
		p->links = xstrdup(x->links_json);
	}
}

struct cluster_flags {
	const char *cluster;
	const char *task_name;
	const char *submitted_timeout;
	bool keep;
	bool detach;
	bool quiet;
};

static int engine_start(struct cl *c, const struct cluster_flags *f, const char *cluster,
			struct progress *p, struct spok_err *err)
{
	struct spok_engine_opts o = {0};
	uint64_t ms = 0;

	if (f->submitted_timeout && spok_parse_duration_ms("--submitted-timeout", f->submitted_timeout, &ms, err) != 0)
		return err->code;
	o.cluster = cluster;
	o.client = c->client;
	o.store = c->st;
	o.platform = &c->plat;
	o.load_task = load_task;
	o.on_event = on_event;
	o.event_data = p;
	o.keep_on_success = f->keep || c->plat.spok.keep_on_success;
	o.submitted_timeout_ms = ms ? ms : c->plat.spok.submitted_timeout_ms;
	o.spark_version = c->plat.spok.spark_version;
	o.ship_local_files = true; /* the user's own files, read by the user's own spok */
	return spok_engine_new(&o, &c->e, err);
}

static void run_until_idle(struct cl *c)
{
	while (!spok_engine_idle(c->e))
		uv_run(&c->loop, UV_RUN_ONCE);
}

/* A foreground cluster run stopped by SIGHUP/SIGINT/SIGTERM/SIGQUIT stops following; the
 * SparkApplication keeps running on the cluster (as after SIGKILL): 'spok reconcile' follows
 * it, 'spok abort' stops it. Signals ignored by whoever started spok stay ignored (nohup). */
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

static void follow_signals(struct cl *c, struct follow_stop *s, bool start)
{
	static const int sigs[4] = {SIGHUP, SIGINT, SIGTERM, SIGQUIT};
	for (size_t i = 0; i < 4; i++) {
		struct sigaction old;
		if (start && sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN) {
			uv_signal_init(&c->loop, &s->h[i]);
			s->h[i].data = s;
			s->on[i] = uv_signal_start(&s->h[i], on_follow_signal, sigs[i]) == 0;
		} else if (!start && s->on[i]) {
			uv_close((uv_handle_t *)&s->h[i], NULL);
			s->on[i] = false;
		}
	}
}

static void run_following_log(struct cl *c, struct progress *p, const struct follow_stop *s);

static const char *cluster_of(const struct spok_cli *cli, const struct cluster_flags *f)
{
	return f->cluster ? f->cluster : cli->context;
}

static int run_cluster(struct spok_cli *cli, const struct cluster_flags *f, const char *job,
		       int *status, struct spok_err *err)
{
	struct progress p = {.quiet = f->quiet};
	struct spok_task task;
	struct spok_execution x = {0};
	const char *cluster = cluster_of(cli, f);
	char id[SPOK_EXEC_ID_LEN + 1];
	char *ns = NULL, *abs = NULL;
	struct cl c;
	int result;

	spok_task_init(&task);
	result = cl_open(&c, cli, cluster, err);
	if (result == 0)
		result = spok_cli_load_task(job, f->task_name, &task, err);
	if (result == 0)
		result = engine_start(&c, f, cluster, &p, err);
	if (result != 0)
		goto done;
	ns = cli->namespace_ ? xstrdup(cli->namespace_)
			     : spok_namespace_for(&c.plat, task.project, task.domain);
	abs = realpath(job, NULL);
	result = spok_engine_submit(c.e, &task, ns, abs ? abs : job, id, sizeof(id), err);
	if (result != 0)
		goto done;
	fprintf(stderr, "spok: execution %s: SparkApplication in %s/%s\n", id, cluster, ns);
	if (f->detach) {
		/* Back once the create is confirmed; `spok reconcile` follows it from here. */
		for (;;) {
			spok_execution_free(&x);
			if ((result = spok_store_get(c.st, id, &x, err)) != 0)
				goto done;
			if (p.failed) {
				result = spok_err_set(err, SPOK_EIO, "%s", p.failed);
				goto done;
			}
			if (x.started_ms != 0 || spok_phase_terminal(x.phase) ||
			    x.phase == SPOK_PHASE_WAITING_FOR_RESOURCES)
				break;
			uv_run(&c.loop, UV_RUN_ONCE);
		}
		/* ... and its follow-ups are sent (the shipped ConfigMap's owner reference). */
		for (struct spok_engine_stats es;;) {
			spok_engine_stats(c.e, &es);
			if (es.loose == 0)
				break;
			uv_run(&c.loop, UV_RUN_ONCE);
		}
		printf("%s\n", id);
		*status = spok_phase_terminal(x.phase) ? spok_cli_phase_exit(x.phase) : 0;
		goto done;
	}
	struct follow_stop stop = {0};
	follow_signals(&c, &stop, true);
	run_following_log(&c, &p, &stop);
	follow_signals(&c, &stop, false);
	if (stop.sig) {
		fprintf(stderr, "spok: SIG%s: stopped following execution %s; its SparkApplication keeps running on "
			"cluster %s ('spok reconcile' follows it, 'spok abort %s' stops it)\n",
			sigabbrev_np(stop.sig), id, cluster, id);
		*status = 128 + stop.sig;
		goto done;
	}
	if (p.failed) {
		result = spok_err_set(err, SPOK_EIO, "%s", p.failed);
		goto done;
	}
	if ((result = spok_store_get(c.st, id, &x, err)) != 0)
		goto done;
	char *reason = spok_term_line(x.reason);
	fprintf(stderr, "spok: execution %s %s%s%s (attempt %u of %u)\n", x.id, spok_phase_name(x.phase),
		reason ? ": " : "", reason ? reason : "", x.attempt + 1, x.max_attempts);
	free(reason);
	*status = spok_cli_phase_exit(x.phase);
done:
	spok_execution_free(&x);
	cl_close(&c);
	spok_task_free(&task);
	free(p.links);
	free(p.ns);
	free(p.app);
	free(p.failed);
	free(ns);
	free(abs);
	return result;
}

static void cluster_flag_table(struct cluster_flags *f, struct spok_flag *t, bool run)
{
	size_t i = 0;

	t[i++] = (struct spok_flag){"cluster", 0, &f->cluster, NULL, NULL,
				    "kubeconfig context to run on ('in-cluster': service account)"};
	t[i++] = (struct spok_flag){"keep", 0, NULL, &f->keep, NULL,
				    "keep the SparkApplication after success (spok.keep-on-success)"};
	t[i++] = (struct spok_flag){"submitted-timeout", 0, &f->submitted_timeout, NULL, NULL,
				    "fail an attempt stuck in SUBMITTED this long (default 10m)"};
	t[i++] = (struct spok_flag){"quiet", 'q', NULL, &f->quiet, NULL, "no progress lines"};
	if (run) {
		t[i++] = (struct spok_flag){"task", 0, &f->task_name, NULL, NULL, "task inside a pyflyte package"};
		t[i++] = (struct spok_flag){"detach", 'd', NULL, &f->detach, NULL,
					    "return once the SparkApplication exists; 'spok reconcile' follows it"};
	}
	t[i] = (struct spok_flag){0};
}

static const char run_synopsis[] =
	"spok run JOB --cluster CONTEXT [-n NAMESPACE] [--keep] [-d] [--submitted-timeout 10m]";

int cmd_run_cluster(struct spok_cli *cli, int argc, char **argv)
{
	struct cluster_flags f = {0};
	struct spok_flag flags[8];
	struct spok_strv pos = {0};
	struct spok_err err = {0};
	int status = 0;
	int result;

	cluster_flag_table(&f, flags, true);
	result = spok_cli_parse(cli, argc, argv, flags, &pos, &err);
	if (result == 0 && cli->help) {
		spok_cli_usage(run_synopsis, flags);
		spok_strv_free(&pos);
		return 0;
	}
	if (result == 0 && pos.len != 1)
		result = spok_err_set(&err, SPOK_EINVAL, "expected exactly one JOB file; usage: %s", run_synopsis);
	if (result == 0 && cluster_of(cli, &f) == NULL)
		result = spok_err_set(&err, SPOK_EINVAL, "--cluster: give a kubeconfig context or 'in-cluster'");
	if (result == 0)
		result = run_cluster(cli, &f, pos.items[0], &status, &err);
	spok_strv_free(&pos);
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

/* ---- reconcile ---- */

static int reconcile_one(struct spok_cli *cli, const struct cluster_flags *f, const char *cluster,
			 const char *only_id, size_t *n, struct spok_err *err)
{
	struct progress p = {.quiet = f->quiet};
	struct cl c;
	int result = cl_open(&c, cli, cluster, err);

	if (result == 0)
		result = engine_start(&c, f, cluster, &p, err);
	if (result == 0)
		result = only_id ? spok_engine_adopt(c.e, only_id, err) : spok_engine_adopt_all(c.e, n, err);
	if (result == 0)
		run_until_idle(&c);
	if (result == 0 && p.failed)
		result = spok_err_set(err, SPOK_EIO, "%s", p.failed);
	cl_close(&c);
	free(p.links);
	free(p.failed);
	return result;
}

int cmd_reconcile(struct spok_cli *cli, int argc, char **argv)
{
	struct cluster_flags f = {0};
	struct spok_flag flags[8];
	struct spok_strv pos = {0}, clusters = {0};
	struct spok_err err = {0};
	struct spok_store *st = NULL;
	struct spok_execution *v = NULL;
	char *data_dir = NULL;
	size_t nv = 0, total = 0;
	int result;

	cluster_flag_table(&f, flags, false);
	result = spok_cli_parse(cli, argc, argv, flags, &pos, &err);
	if (result == 0 && cli->help) {
		spok_cli_usage("spok reconcile [--cluster CONTEXT]", flags);
		goto out;
	}
	if (result == 0 && cluster_of(cli, &f)) {
		spok_strv_push(&clusters, cluster_of(cli, &f));
	} else if (result == 0) { /* every cluster that has unfinished executions */
		result = spok_data_dir(cli->data_dir, &data_dir, &err);
		if (result == 0)
			result = spok_store_open(data_dir, &st, &err);
		if (result == 0)
			result = spok_store_list_unfinished(st, NULL, &v, &nv, &err);
		for (size_t i = 0; result == 0 && i < nv; i++) {
			bool seen = false;

			if (!v[i].backend || strcmp(v[i].backend, "local") == 0 || !spok_engine_needs_work(&v[i]))
				continue;
			for (size_t j = 0; j < clusters.len; j++)
				seen = seen || strcmp(clusters.items[j], v[i].backend) == 0;
			if (!seen)
				spok_strv_push(&clusters, v[i].backend);
		}
		spok_store_close(st);
	}
	for (size_t i = 0; result == 0 && i < clusters.len; i++) {
		size_t n = 0;

		result = reconcile_one(cli, &f, clusters.items[i], NULL, &n, &err);
		total += n;
	}
	if (result == 0)
		printf("reconciled %zu execution(s) on %zu cluster(s)\n", total, clusters.len);
out:
	spok_execution_list_free(v, nv);
	free(data_dir);
	spok_strv_free(&clusters);
	spok_strv_free(&pos);
	if (result == 0)
		return 0;
	return spok_cli_fail(&err);
}

/* ---- abort and logs of one cluster execution (called from cmd_exec.c) ---- */

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

int spok_cluster_abort(struct spok_cli *cli, struct spok_store *st, const struct spok_execution *x,
		       struct spok_err *err)
{
	struct cluster_flags f = {.quiet = true};
	struct spok_execution now = {0};
	struct spok_proc_id sup = {.pid = x->supervisor_pid, .start = x->supervisor_start};
	int result = spok_store_request_abort(st, x->id, err);

	if (result != 0)
		return result;
	if (sup.pid != getpid() && spok_proc_alive(sup)) {
		/* The live supervisor notices the flag on its next tick. */
		for (int64_t dl = spok_now_ms() + ABORT_WAIT_MS; spok_now_ms() < dl; sleep_ms(200)) {
			spok_execution_free(&now);
			if ((result = spok_store_get(st, x->id, &now, err)) != 0)
				return result;
			if (!spok_engine_needs_work(&now))
				break;
		}
		spok_execution_free(&now);
		return 0;
	}
	return reconcile_one(cli, &f, x->backend, x->id, NULL, err);
}

struct log_out {
	struct spok_term_stream *tty; /* NULL: bytes unchanged */
	bool done;
	struct kube_stream_result res;
	char msg[SPOK_ERR_MSG_MAX];
};

/* A pod's log is the job's own output: unchanged into a file or pipe, control sequences
 * escaped on a terminal (as a local run's log, cmd_exec.c). */
static bool log_chunk(void *data, const char *p, size_t n)
{
	struct log_out *o = data;
	struct spok_buf b;

	if (o->tty == NULL) {
		fwrite(p, 1, n, stdout);
	} else {
		spok_buf_init(&b, SPOK_BUF_DEFAULT_MAX);
		spok_term_stream_feed(o->tty, p, n, &b);
		fwrite(b.data ? b.data : "", 1, b.len, stdout);
		spok_buf_free(&b);
	}
	fflush(stdout);
	return true;
}

static void log_end(struct log_out *o)
{
	struct spok_buf b;

	if (o->tty == NULL)
		return;
	spok_buf_init(&b, SPOK_BUF_DEFAULT_MAX);
	spok_term_stream_end(o->tty, &b);
	fwrite(b.data ? b.data : "", 1, b.len, stdout);
	fflush(stdout);
	spok_buf_free(&b);
}

static void log_done(void *data, const struct kube_stream_result *r)
{
	struct log_out *o = data;

	log_end(o);
	o->done = true;
	o->res = *r;
	snprintf(o->msg, sizeof(o->msg), "%s", r->message);
}

/* The driver pod: status.driverInfo.podName, else the operator's default "<app>-driver". */
static char *driver_pod(struct cl *c, const struct spok_execution *x)
{
	struct kube_sync s = {0};
	const char *pod = NULL;
	char *out;

	if (kube_get(c->client, &SPARKAPPS, x->namespace_, x->resource_name, kube_sync_cb, &s, NULL) == 0 &&
	    kube_sync_wait(c->client, &s, NULL) == 0)
		pod = json_string_value(json_object_get(json_object_get(json_object_get(s.body, "status"),
									"driverInfo"), "podName"));
	out = pod ? xstrdup(pod) : xasprintf("%s-driver", x->resource_name);
	kube_sync_free(&s);
	return out;
}

int spok_cluster_logs(struct spok_cli *cli, const struct spok_execution *x, bool follow,
		      unsigned executor, bool raw, struct spok_err *err)
{
	struct spok_term_stream tty = {.flags = SPOK_TERM_TEXT};
	struct kube_stream_opts o = {0};
	struct log_out lo = {.tty = !raw && isatty(STDOUT_FILENO) ? &tty : NULL};
	struct cl c;
	char *pod = NULL, *path = NULL;
	const char *container = executor ? "spark-kubernetes-executor" : "spark-kubernetes-driver";
	char query[96];
	int result;

	if (x->resource_name == NULL || x->namespace_ == NULL)
		return spok_err_set(err, SPOK_ENOTFOUND, "execution %s: no SparkApplication yet (phase %s); retry shortly",
				    x->id, spok_phase_name(x->phase));
	result = cl_open(&c, cli, x->backend, err);
	if (result == 0) {
		/* spok sets spark.kubernetes.executor.podNamePrefix to the application's name. */
		pod = executor ? xasprintf("%s-exec-%u", x->resource_name, executor) : driver_pod(&c, x);
		path = kube_pod_log_path(x->namespace_, pod);
		snprintf(query, sizeof(query), "%scontainer=%s", follow ? "follow=true&" : "", container);
		o.path = path;
		o.query = query;
		result = kube_stream_get(c.client, &o, log_chunk, log_done, &lo, NULL, err);
	}
	if (result == 0) {
		while (!lo.done)
			uv_run(&c.loop, UV_RUN_ONCE);
		if (lo.res.code == SPOK_ENOTFOUND && executor)
			result = spok_err_set(err, SPOK_ENOTFOUND, "executor pod %s/%s does not exist: Spark "
					      "creates executors while the job runs and removes them when it ends (%s)",
					      x->namespace_, pod, lo.msg);
		else if (lo.res.code == SPOK_ENOTFOUND)
			result = spok_err_set(err, SPOK_ENOTFOUND, "driver pod %s/%s does not exist (yet): %s",
					      x->namespace_, pod, lo.msg);
		else if (lo.res.code != 0)
			result = spok_err_set(err, lo.res.code, "driver pod %s/%s: no logs: %s",
					      x->namespace_, pod, lo.msg);
		else if (lo.res.bytes == 0) /* the API server's answer for a pod on no node */
			result = spok_err_set(err, SPOK_ENOTFOUND, "pod %s/%s has no logs yet "
					      "(not running on a node, or no kubelet); retry later",
					      x->namespace_, pod);
	}
	cl_close(&c);
	free(pod);
	free(path);
	return result;
}

/* How long (ms) the driver log may still stream after the execution ended before it is cut. */
#define LOG_TAIL_GRACE_MS 10000

struct live_log {
	struct log_out out;
	struct kube_stream *s;
	uv_timer_t grace;
};

static void log_grace_expired(uv_timer_t *t)
{
	struct live_log *l = t->data;

	if (!l->out.done) {
		kube_stream_cancel(l->s);
		log_end(&l->out);
		l->out.done = true;
	}
}

static void start_driver_log(struct cl *c, const struct progress *p, struct live_log *l)
{
	struct spok_execution x = {.namespace_ = p->ns, .resource_name = p->app};
	struct kube_stream_opts o = {.query = "follow=true&container=spark-kubernetes-driver"};
	struct spok_err e = {0};
	char *pod = driver_pod(c, &x);
	char *path = kube_pod_log_path(p->ns, pod);

	o.path = path;
	if (kube_stream_get(c->client, &o, log_chunk, log_done, &l->out, &l->s, &e) != 0) {
		l->out.done = true;
		fprintf(stderr, "spok: cannot follow the driver log of %s/%s: %s\n", p->ns, pod, e.msg);
	}
	free(pod);
	free(path);
}

/* Runs the engine to the end of the execution. Once it is RUNNING, the driver pod's log
 * (Spark's log and the job's output, as the kubelet keeps them) goes to stdout, as a local
 * run shows its output; the stream ends with the driver container. */
static void run_following_log(struct cl *c, struct progress *p, const struct follow_stop *s)
{
	struct spok_term_stream tty = {.flags = SPOK_TERM_TEXT};
	struct live_log l = {.out.tty = isatty(STDOUT_FILENO) ? &tty : NULL};

	while (!s->sig && !spok_engine_idle(c->e)) {
		uv_run(&c->loop, UV_RUN_ONCE);
		if (p->running && l.s == NULL && !l.out.done)
			start_driver_log(c, p, &l);
	}
	if (l.s != NULL && !l.out.done && s->sig) {
		kube_stream_cancel(l.s); /* stopped following: the log stops with it */
		log_end(&l.out);
		l.out.done = true;
	}
	if (l.s == NULL || l.out.done)
		goto out;
	uv_timer_init(&c->loop, &l.grace);
	l.grace.data = &l;
	uv_timer_start(&l.grace, log_grace_expired, LOG_TAIL_GRACE_MS, 0);
	while (!l.out.done && !s->sig)
		uv_run(&c->loop, UV_RUN_ONCE);
	if (!l.out.done) {
		kube_stream_cancel(l.s);
		log_end(&l.out);
		l.out.done = true;
	}
	uv_close((uv_handle_t *)&l.grace, NULL);
	uv_run(&c->loop, UV_RUN_NOWAIT);
out:
	if (l.out.done && l.out.res.code != 0 && l.out.msg[0])
		fprintf(stderr, "spok: driver log: %s\n", l.out.msg);
}

/* ---- live status of one cluster execution (called from cmd_exec.c) ---- */

#define LIVE_TIMEOUT_MS 10000

static json_t *live_links(const struct spok_status *s)
{
	json_t *a = json_array();

	for (size_t i = 0; i < s->nlinks; i++)
		json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "name", s->links[i].name ? s->links[i].name : "",
						   "uri", s->links[i].uri ? s->links[i].uri : "",
						   "kind", spok_link_kind_name(s->links[i].kind)));
	return a;
}

static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

/* Maps the object as the engine would (same task, platform and previous phase), so the
 * live phase is what the next reconcile records. An object labelled for another execution
 * is not this one's (the engine ignores it too). */
static int live_map(struct cl *c, const struct spok_execution *x, const json_t *app, json_t **out,
		    struct spok_err *err)
{
	const char *label = json_string_value(json_object_get(
		json_object_get(json_object_get(app, "metadata"), "labels"), SPOK_LABEL_EXECUTION));
	struct spok_status prev = {0}, s = {0};
	struct spok_task task;
	bool have_task;
	int result;

	if (label == NULL || strcmp(label, x->id) != 0) {
		*out = json_pack("{s:b}", "found", 0);
		return 0;
	}
	spok_task_init(&task);
	/* Only task-dependent links need the task; a moved job file costs just those. */
	have_task = x->task_source && load_task(NULL, x, &task, NULL) == 0;
	prev.phase = x->phase;
	prev.phase_version = x->phase_version;
	prev.reason = x->reason ? x->reason : (char *)"";
	result = spok_status_from_sparkapp(app, have_task ? &task : NULL, &c->plat, &prev, &s, err);
	if (result == 0) {
		const char *reason = s.error_message ? s.error_message : s.reason;

		*out = json_pack("{s:b,s:s,s:b,s:s?,s:s?,s:s?,s:s?,s:o}", "found", 1,
				 "phase", spok_phase_name(s.phase), "recorded", s.phase == x->phase,
				 "reason", nonempty(reason), "app_state", nonempty(s.app_state),
				 "spark_app_id", s.spark_app_id, "ui_url", s.ui_address,
				 "links", live_links(&s));
	}
	spok_status_free(&s);
	spok_task_free(&task);
	return result;
}

int spok_cluster_live(struct spok_cli *cli, const struct spok_execution *x, json_t **out,
		      struct spok_err *err)
{
	/* One short try: `spok status` must answer even when the cluster does not. */
	struct kube_client_opts ko = {.max_retries = 1, .backoff_ms = 200, .timeout_ms = LIVE_TIMEOUT_MS};
	struct kube_sync s = {0};
	struct cl c;
	int result;

	*out = NULL;
	if (x->backend == NULL || x->namespace_ == NULL || x->resource_name == NULL)
		return spok_err_set(err, SPOK_ENOTFOUND, "execution %s: no SparkApplication recorded yet",
				    x->id);
	memset(&c, 0, sizeof(c));
	spok_platform_init(&c.plat);
	uv_loop_init(&c.loop);
	c.loop_ok = true;
	spok_platform_free(&c.plat);
	result = spok_cli_load_platform(cli, &c.plat, err);
	if (result == 0)
		result = cl_client(&c, cli, x->backend, &ko, err);
	if (result == 0)
		result = kube_get(c.client, &SPARKAPPS, x->namespace_, x->resource_name, kube_sync_cb, &s, err);
	if (result == 0)
		result = kube_sync_wait(c.client, &s, err);
	if (result == SPOK_ENOTFOUND && s.done && s.http_status == 404) {
		result = 0;
		*out = json_pack("{s:b}", "found", 0);
	} else if (result == 0) {
		result = live_map(&c, x, s.body, out, err);
	}
	kube_sync_free(&s);
	cl_close(&c);
	return result;
}

#else /* built without src/engine */

static int no_engine(struct spok_err *err)
{
	return spok_err_set(err, SPOK_EINVAL, "this spok was built without cluster support "
			    "(src/engine); rebuild with the engine module");
}

bool spok_cli_wants_cluster(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return false;
}

int cmd_run_cluster(struct spok_cli *cli, int argc, char **argv)
{
	struct spok_err err = {0};

	(void)cli;
	(void)argc;
	(void)argv;
	return spok_cli_fail((no_engine(&err), &err));
}

int cmd_reconcile(struct spok_cli *cli, int argc, char **argv)
{
	return cmd_run_cluster(cli, argc, argv);
}

int spok_cluster_abort(struct spok_cli *cli, struct spok_store *st, const struct spok_execution *x,
		       struct spok_err *err)
{
	(void)cli;
	(void)st;
	(void)x;
	return no_engine(err);
}

int spok_cluster_logs(struct spok_cli *cli, const struct spok_execution *x, bool follow,
		      unsigned executor, bool raw, struct spok_err *err)
{
	(void)cli;
	(void)x;
	(void)follow;
	(void)executor;
	(void)raw;
	return no_engine(err);
}

int spok_cluster_live(struct spok_cli *cli, const struct spok_execution *x, json_t **out,
		      struct spok_err *err)
{
	(void)cli;
	(void)x;
	*out = NULL;
	return no_engine(err);
}
#endif
