/* bench_direct.c - direct submission vs the real Kubeflow spark-operator, on one API server
 * in one run (issue 12): submissions per second until every driver pod exists, the CPU per
 * job of spok itself, of the operator (its spark-submit JVMs included) and of the API
 * server + etcd, and the time from submit to driver pod Running for one job in each mode.
 *
 * Two subcommands (run.sh drives them):
 *
 *   run      per mode (direct, then operator) one engine, as a daemon holds it: a fresh
 *            SQLite store, a fresh kube client, spok_engine_submit per job (the path of
 *            `spok serve` and `spok run --cluster`); direct mode with opts.direct (spok
 *            creates the conf ConfigMap, the driver pod and its Service), operator mode
 *            creating SparkApplications that the operator turns into spark-submit runs.
 *            Per mode: a first job (cold, untimed in the table), one job alone (the
 *            time-to-driver-running figure), then N jobs submitted at once. A job's pod
 *            "exists" when the observer (below) first sees it; rate = N / (first submit ->
 *            last driver pod seen). CPU: this process's getrusage (spok's engine, plus the
 *            bench's small bookkeeping), the operator's from a cpuacct cgroup
 *            (--operator-cgroup: every process it starts, spark-submit's JVMs and what
 *            they start, reaped by it or not) or else from /proc/<pid>/stat
 *            utime+stime+cutime+cstime (--operator-pid: children it reaped; with both,
 *            the two whole-run readings are printed side by side), and --server-pid
 *            processes' utime+stime.
 *   observe  a separate process (so that its CPU is not spok's) watching driver pods in all
 *            namespaces (spark-role=driver and the spok.dev/execution label, which the
 *            operator copies from the SparkApplication) and printing one line per event:
 *            "P <execution id> <pod phase> <uv_hrtime ns>", and "R" after its first list.
 *            Both processes read the same monotonic clock.
 *
 * KWOK plays the kubelet: a bound pod is marked Running 0.5 s later (no container starts) and
 * a driver Succeeded 3 s after that, so "Running" here is scheduling + KWOK's stage, not a
 * JVM start. Not a test: nothing asserts a timing; exit 0 when every job ended SUCCEEDED.
 */
#include <dirent.h>
#include <ftw.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "common/xalloc.h"
#include "engine/engine.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "kube/watch.h"
#include "model/model.h"
#include "store/store.h"

static const struct kube_gvr PODS = {"", "v1", "pods"};
static const struct kube_gvr NAMESPACES = {"", "v1", "namespaces"};
static const struct kube_gvr SERVICEACCOUNTS = {"", "v1", "serviceaccounts"};
#define SPARK_VERSION "4.0.5"
#define MAX_JOBS 10000
#define MAX_SERVER_PIDS 4
#define DRIVER_SELECTOR "spark-role=driver," SPOK_LABEL_EXECUTION

struct opts {
	const char *kubeconfig;
	const char *context;
	const char *op_ns;      /* the namespace the operator watches */
	const char *direct_ns;  /* made by the bench for direct mode, deleted at the end;
	                         * default spok-direct-bench-<pid> (a deleted namespace lingers
	                         * while Terminating) */
	size_t n_direct, n_operator;
	double qps;
	int burst;
	const char *op_cgroup;  /* cpuacct cgroup dir holding the operator, or NULL */
	long op_pid;            /* the operator's pid, or 0: its CPU when there is no cgroup,
	                         * and with one, the /proc reading printed beside it */
	long server_pids[MAX_SERVER_PIDS];
	int nserver_pids;
	bool skip_operator;
};

/* Times are uv_hrtime() ns, 0 = not yet. */
struct job {
	char id[SPOK_EXEC_ID_LEN + 1];
	uint64_t t0, t_pod, t_running, t_done;
};

/* CPU readings in ms at one moment; < 0: not measured. */
struct cpu {
	double spok, op, srv;
};

/* What one batch of one mode measured. */
struct batch_result {
	size_t n;
	double rate;           /* jobs/s: first submit -> last driver pod seen */
	double span_s;
	double pod_p50, pod_p99; /* ms: submit -> driver pod seen */
	double run_p50;        /* ms: submit -> driver pod Running (KWOK) */
	struct cpu to_pods;    /* per job, first submit -> last pod seen */
	struct cpu whole;      /* per job, first submit -> every job done (and the operator's
	                        * children gone) */
	double req_per_job;    /* API requests spok's client sent / N, whole window */
	double writes_per_job; /* store writes (insert + updates) / N, whole window */
	double events_per_job; /* watch events the engine handled / N, whole window */
};

struct bench {
	uv_loop_t loop;
	const struct opts *o;
	struct kube_config cfg;
	/* the observer */
	uv_process_t obs;
	uv_pipe_t obs_out;
	struct kube_lines lines;
	bool obs_started, obs_ready, obs_exited;
	/* the engine of the mode under way and its current batch */
	struct spok_engine *e;
	struct job *jobs;
	size_t n, npods, nrunning, ndone, failed;
	struct job **index;
	size_t index_cap;
	char first_error[SPOK_ERR_MSG_MAX];
};

/* ---- small helpers ---- */

static double ms_between(uint64_t a, uint64_t b)
{
	return b > a ? (double)(b - a) / 1e6 : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double percentile(double *v, size_t n, double p)
{
	size_t rank;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	rank = (size_t)ceil(p * (double)n);
	return v[(rank == 0 ? 1 : rank) - 1];
}

static double self_cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* utime+stime (and with children, cutime+cstime) of pid in ms; -1 if unreadable. */
static double proc_cpu_ms(long pid, bool children)
{
	char path[64], line[1024], *p;
	unsigned long long ut = 0, st = 0;
	long long cut = 0, cst = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	/* after "(comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt
	 * cmajflt utime stime cutime cstime */
	if (p == NULL || (p = strrchr(line, ')')) == NULL ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld", &ut,
		   &st, &cut, &cst) != 4)
		return -1;
	if (!children)
		cut = cst = 0;
	return (double)(ut + st + (unsigned long long)(cut + cst)) * 1e3 /
	       (double)sysconf(_SC_CLK_TCK);
}

/* The operator's CPU in ms (cgroup, else its process and reaped children); -1: unknown. */
static double op_cpu_ms(const struct opts *o)
{
	if (o->op_cgroup != NULL) {
		char path[4096];
		unsigned long long v = 0;
		FILE *f;
		int got;

		/* cgroup v1 cpuacct: ns; v2: cpu.stat's usage_usec (there without the cpu
		 * controller enabled) */
		snprintf(path, sizeof(path), "%s/cpuacct.usage", o->op_cgroup);
		if ((f = fopen(path, "r")) != NULL) {
			got = fscanf(f, "%llu", &v);
			fclose(f);
			return got == 1 ? (double)v / 1e6 : -1;
		}
		snprintf(path, sizeof(path), "%s/cpu.stat", o->op_cgroup);
		if ((f = fopen(path, "r")) == NULL)
			return -1;
		got = fscanf(f, "usage_usec %llu", &v);
		fclose(f);
		return got == 1 ? (double)v / 1e3 : -1;
	}
	return o->op_pid > 0 ? proc_cpu_ms(o->op_pid, true) : -1;
}

static double srv_cpu_ms(const struct opts *o)
{
	double total = 0;

	if (o->nserver_pids == 0)
		return -1;
	for (int i = 0; i < o->nserver_pids; i++) {
		double v = proc_cpu_ms(o->server_pids[i], false);

		if (v < 0)
			return -1;
		total += v;
	}
	return total;
}

static struct cpu cpu_now(const struct opts *o)
{
	struct cpu c = {self_cpu_ms(), op_cpu_ms(o), srv_cpu_ms(o)};

	return c;
}

static double per_job(double before, double after, size_t n)
{
	return before < 0 || after < 0 ? -1 : (after - before) / (double)n;
}

static struct cpu cpu_per_job(struct cpu a, struct cpu b, size_t n)
{
	struct cpu c = {per_job(a.spok, b.spok, n), per_job(a.op, b.op, n),
			per_job(a.srv, b.srv, n)};

	return c;
}

/* Processes of the operator besides itself (spark-submit and what it starts): the lines of
 * the cgroup's procs file minus one, else the children in /proc/<pid>/task/ STAR /children.
 * -1: unknown. A JVM still exiting has not been charged fully, so the whole-life reading
 * waits for 0. */
static long op_children(const struct opts *o)
{
	char path[4096];
	long count = 0;
	int ch;
	FILE *f;

	if (o->op_cgroup != NULL) {
		snprintf(path, sizeof(path), "%s/cgroup.procs", o->op_cgroup);
		if ((f = fopen(path, "r")) == NULL)
			return -1;
		while ((ch = fgetc(f)) != EOF)
			count += ch == '\n';
		fclose(f);
		return count > 0 ? count - 1 : 0;
	}
	if (o->op_pid > 0) {
		DIR *d;
		struct dirent *de;

		snprintf(path, sizeof(path), "/proc/%ld/task", o->op_pid);
		if ((d = opendir(path)) == NULL)
			return -1;
		while ((de = readdir(d)) != NULL) {
			char cpath[4400];
			long pid;

			if (de->d_name[0] == '.')
				continue;
			snprintf(cpath, sizeof(cpath), "%s/%s/children", path, de->d_name);
			if ((f = fopen(cpath, "r")) == NULL)
				continue;
			while (fscanf(f, "%ld", &pid) == 1)
				count++;
			fclose(f);
		}
		closedir(d);
		return count;
	}
	return -1;
}

static bool parse_size(const char *s, size_t lo, size_t hi, size_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s == '\0' || *s == '-')
		return false;
	v = strtoull(s, &end, 10);
	if (*end != '\0' || v < lo || v > hi)
		return false;
	*out = (size_t)v;
	return true;
}

static void fail_note(struct bench *b, const char *what, const char *detail)
{
	b->failed++;
	if (b->first_error[0] == '\0')
		snprintf(b->first_error, sizeof(b->first_error), "%s: %s", what, detail);
}

/* ---- waits on the loop, bounded so that a hang becomes an error ---- */

static void guard_tick(uv_timer_t *t)
{
	(void)t; /* wakes uv_run(UV_RUN_ONCE) so that conditions and the deadline are checked */
}

typedef bool (*bench_cond)(const struct bench *b);

static bool run_until(struct bench *b, bench_cond cond, double limit_s, const char *what,
		      struct spok_err *err)
{
	uint64_t end = uv_hrtime() + (uint64_t)(limit_s * 1e9);
	uv_timer_t guard;
	bool ok = true;

	uv_timer_init(&b->loop, &guard);
	uv_timer_start(&guard, guard_tick, 100, 100);
	while (!cond(b)) {
		if (b->failed > 0 || b->obs_exited || uv_hrtime() > end) {
			ok = false;
			if (b->failed > 0)
				spok_err_set(err, SPOK_EAPI, "%s: %zu job(s) failed, first: %s", what,
					     b->failed, b->first_error);
			else if (b->obs_exited)
				spok_err_set(err, SPOK_EIO, "%s: the observer process ended (see its "
					     "output above)", what);
			else
				spok_err_set(err, SPOK_ETIMEOUT, "%s: not done after %.0f s (%zu of "
					     "%zu driver pods seen, %zu done); see the API server's and "
					     "the operator's logs", what, limit_s, b->npods, b->n,
					     b->ndone);
			break;
		}
		uv_run(&b->loop, UV_RUN_ONCE);
	}
	uv_timer_stop(&guard);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(&b->loop, UV_RUN_NOWAIT);
	return ok;
}

static void sleep_loop(struct bench *b, double s)
{
	uint64_t end = uv_hrtime() + (uint64_t)(s * 1e9);
	uv_timer_t guard;

	uv_timer_init(&b->loop, &guard);
	uv_timer_start(&guard, guard_tick, 100, 100);
	while (uv_hrtime() < end)
		uv_run(&b->loop, UV_RUN_ONCE);
	uv_timer_stop(&guard);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(&b->loop, UV_RUN_NOWAIT);
}

/* ---- the id index: observer lines and engine events name executions by id ---- */

static size_t id_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static void index_put(struct bench *b, struct job *j)
{
	size_t i = id_hash(j->id) & (b->index_cap - 1);

	while (b->index[i] != NULL)
		i = (i + 1) & (b->index_cap - 1);
	b->index[i] = j;
}

static struct job *index_get(const struct bench *b, const char *id)
{
	if (b->index == NULL || id == NULL)
		return NULL;
	for (size_t i = id_hash(id) & (b->index_cap - 1); b->index[i] != NULL;
	     i = (i + 1) & (b->index_cap - 1))
		if (strcmp(b->index[i]->id, id) == 0)
			return b->index[i];
	return NULL;
}

/* ---- the observer (child process) ---- */

static void observe_pod(const json_t *pod)
{
	const char *id = json_string_value(
		json_object_get(json_object_get(json_object_get(pod, "metadata"), "labels"),
				SPOK_LABEL_EXECUTION));
	const char *phase = json_string_value(
		json_object_get(json_object_get(pod, "status"), "phase"));

	if (id == NULL)
		return;
	printf("P %s %s %llu\n", id, phase && *phase ? phase : "-",
	       (unsigned long long)uv_hrtime());
}

static void observe_event(void *data, const struct kube_event *ev)
{
	bool *ready = data;
	size_t i;
	json_t *item;

	switch (ev->type) {
	case KUBE_EVENT_ADDED:
	case KUBE_EVENT_MODIFIED:
		observe_pod(ev->object);
		break;
	case KUBE_EVENT_RELIST:
		json_array_foreach(json_object_get(ev->object, "items"), i, item)
			observe_pod(item);
		if (!*ready)
			printf("R\n");
		*ready = true;
		break;
	default:
		return;
	}
	fflush(stdout);
}

static int observe_main(const struct opts *o)
{
	struct spok_err err = {0};
	struct kube_client_opts co = {0};
	struct kube_watch_opts wo = {0};
	struct kube_client *c = NULL;
	struct kube_watch *w = NULL;
	struct kube_config cfg;
	uv_loop_t loop;
	bool ready = false;

	prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the bench */
	if (kube_config_load(&cfg, o->kubeconfig, o->context, &err) != 0) {
		fprintf(stderr, "bench_direct observe: %s\n", err.msg);
		return 1;
	}
	uv_loop_init(&loop);
	co.qps = 1000;
	co.burst = 1000;
	wo.label_selector = DRIVER_SELECTOR;
	if (kube_client_new(&loop, &cfg, &co, &c, &err) != 0 ||
	    kube_watch_start(c, &PODS, NULL, &wo, observe_event, &ready, &w, &err) != 0) {
		fprintf(stderr, "bench_direct observe: %s\n", err.msg);
		return 1;
	}
	uv_run(&loop, UV_RUN_DEFAULT); /* until the bench ends it with SIGTERM */
	return 0;
}

/* ---- the observer's side in the bench ---- */

static int obs_line(void *data, const char *line, size_t len)
{
	struct bench *b = data;
	char buf[256], id[64], phase[32];
	unsigned long long t;
	struct job *j;

	if (len >= sizeof(buf))
		return 0;
	memcpy(buf, line, len);
	buf[len] = '\0';
	if (strcmp(buf, "R") == 0) {
		b->obs_ready = true;
		return 0;
	}
	if (sscanf(buf, "P %63s %31s %llu", id, phase, &t) != 3 || (j = index_get(b, id)) == NULL)
		return 0;
	if (j->t_pod == 0) {
		j->t_pod = t;
		b->npods++;
	}
	if (j->t_running == 0 && strcmp(phase, "Running") == 0) {
		j->t_running = t;
		b->nrunning++;
	}
	return 0;
}

static void obs_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char space[65536];

	(void)h;
	(void)suggested;
	*buf = uv_buf_init(space, sizeof(space));
}

static void obs_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct bench *b = s->data;

	if (n > 0)
		kube_lines_feed(&b->lines, buf->base, (size_t)n, obs_line, b);
	else if (n < 0)
		uv_read_stop(s);
}

static void obs_exit(uv_process_t *p, int64_t status, int sig)
{
	struct bench *b = p->data;

	(void)status;
	(void)sig;
	b->obs_exited = true;
}

static bool obs_is_ready(const struct bench *b)
{
	return b->obs_ready;
}

static int obs_start(struct bench *b, struct spok_err *err)
{
	char self[4096];
	const char *args[8];
	int na = 0, r;
	uv_process_options_t po = {0};
	uv_stdio_container_t stdio[3];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (len <= 0)
		return spok_err_set(err, SPOK_EIO, "readlink /proc/self/exe failed");
	self[len] = '\0';
	args[na++] = self;
	args[na++] = "observe";
	args[na++] = "--kubeconfig";
	args[na++] = b->o->kubeconfig;
	if (b->o->context) {
		args[na++] = "--context";
		args[na++] = b->o->context;
	}
	args[na] = NULL;
	uv_pipe_init(&b->loop, &b->obs_out, 0);
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *)&b->obs_out;
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = 2;
	po.file = self;
	po.args = (char **)args;
	po.exit_cb = obs_exit;
	po.stdio = stdio;
	po.stdio_count = 3;
	b->obs.data = b;
	b->obs_out.data = b;
	kube_lines_init(&b->lines, 4096);
	if ((r = uv_spawn(&b->loop, &b->obs, &po)) != 0) {
		uv_close((uv_handle_t *)&b->obs_out, NULL);
		kube_lines_free(&b->lines);
		return spok_err_set(err, SPOK_EIO, "starting the observer: %s", uv_strerror(r));
	}
	b->obs_started = true;
	uv_read_start((uv_stream_t *)&b->obs_out, obs_alloc, obs_read);
	return run_until(b, obs_is_ready, 120, "observer's first list", err) ? 0 : err->code;
}

static bool obs_gone(const struct bench *b)
{
	return b->obs_exited;
}

static void obs_stop(struct bench *b)
{
	struct spok_err err = {0};

	if (!b->obs_started) /* never kill(0, ...): that would be our own process group */
		return;
	if (!b->obs_exited) {
		uv_process_kill(&b->obs, SIGTERM);
		run_until(b, obs_gone, 10, "observer exit", &err);
	}
	uv_close((uv_handle_t *)&b->obs_out, NULL);
	uv_close((uv_handle_t *)&b->obs, NULL);
	uv_run(&b->loop, UV_RUN_NOWAIT);
	kube_lines_free(&b->lines);
}

/* ---- the engine of one mode ---- */

static void on_event(void *data, enum spok_engine_event ev, const struct spok_execution *x)
{
	struct bench *b = data;
	struct job *j = index_get(b, x->id);

	if (j == NULL)
		return;
	if (ev == SPOK_ENGINE_FAILED) {
		fail_note(b, "store write failed", x->error_message ? x->error_message : "?");
	} else if (ev == SPOK_ENGINE_DONE && j->t_done == 0) {
		j->t_done = uv_hrtime();
		b->ndone++;
		if (x->phase != SPOK_PHASE_SUCCEEDED)
			fail_note(b, spok_phase_name(x->phase), x->reason ? x->reason : "(no reason)");
	}
}

static void make_task(struct spok_task *t)
{
	spok_task_init(t);
	t->name = xstrdup("pi");
	t->project = xstrdup("spok");
	t->domain = xstrdup("development");
	t->type = SPOK_APP_PYTHON;
	t->main_application_file = xstrdup("local:///opt/spark/examples/src/main/python/pi.py");
	t->image = xstrdup("spark:" SPARK_VERSION);
	/* Small requests so that a few hundred drivers fit the KWOK node (64 CPUs) at once;
	 * the same conf goes to both modes. */
	spok_strmap_set(&t->spark_conf, "spark.driver.memory", "512m");
	spok_strmap_set(&t->spark_conf, "spark.kubernetes.driver.request.cores", "100m");
	spok_strmap_set(&t->spark_conf, "spark.executor.instances", "1");
}

static bool all_pods(const struct bench *b)
{
	return b->npods == b->n;
}

static bool all_done(const struct bench *b)
{
	return b->ndone == b->n;
}

/* N jobs submitted at once in ns; fills r. */
static int run_batch(struct bench *b, struct kube_client *c, const char *ns, size_t n,
		     struct batch_result *r, struct spok_err *err)
{
	struct kube_client_stats s0, s1;
	struct spok_engine_stats e0, e1;
	struct cpu c0, c_pods, c_done;
	double *lat, limit = 300 + 30 * (double)n;
	uint64_t t_start, t_pods = 0;
	int result = 0;

	memset(r, 0, sizeof(*r));
	b->jobs = xcalloc(n, sizeof(*b->jobs));
	for (b->index_cap = 16; b->index_cap < 2 * n; b->index_cap *= 2)
		;
	b->index = xcalloc(b->index_cap, sizeof(*b->index));
	b->n = n;
	b->npods = b->nrunning = b->ndone = b->failed = 0;
	b->first_error[0] = '\0';
	kube_client_stats(c, &s0);
	spok_engine_stats(b->e, &e0);
	c0 = cpu_now(b->o);
	t_start = uv_hrtime();
	for (size_t i = 0; i < n; i++) {
		struct job *j = &b->jobs[i];
		struct spok_task t;

		make_task(&t);
		j->t0 = uv_hrtime();
		result = spok_engine_submit(b->e, &t, ns, "bench", j->id, sizeof(j->id), err);
		spok_task_free(&t);
		if (result != 0)
			goto out;
		index_put(b, j);
	}
	if (!run_until(b, all_pods, limit, "driver pods", err))
		goto fail;
	c_pods = cpu_now(b->o);
	if (!run_until(b, all_done, limit, "jobs done", err))
		goto fail;
	/* The operator's JVMs are charged once they have exited. */
	for (int k = 0; k < 600 && op_children(b->o) > 0; k++)
		sleep_loop(b, 0.1);
	c_done = cpu_now(b->o);
	kube_client_stats(c, &s1);
	spok_engine_stats(b->e, &e1);
	lat = xcalloc(n, sizeof(*lat));
	for (size_t i = 0; i < n; i++) {
		if (b->jobs[i].t_pod > t_pods)
			t_pods = b->jobs[i].t_pod;
		lat[i] = ms_between(b->jobs[i].t0, b->jobs[i].t_pod);
	}
	r->n = n;
	r->span_s = ms_between(t_start, t_pods) / 1e3;
	r->rate = r->span_s > 0 ? (double)n / r->span_s : 0;
	r->pod_p50 = percentile(lat, n, 0.5);
	r->pod_p99 = percentile(lat, n, 0.99);
	for (size_t i = 0; i < n; i++)
		lat[i] = ms_between(b->jobs[i].t0, b->jobs[i].t_running);
	r->run_p50 = percentile(lat, n, 0.5);
	free(lat);
	r->to_pods = cpu_per_job(c0, c_pods, n);
	r->whole = cpu_per_job(c0, c_done, n);
	r->req_per_job = (double)(s1.sent - s0.sent) / (double)n;
	/* store_writes counts updates; each submit also inserted its row */
	r->writes_per_job = (double)(e1.store_writes - e0.store_writes + n) / (double)n;
	r->events_per_job = (double)(e1.events - e0.events) / (double)n;
	goto out;
fail:
	result = err->code ? err->code : SPOK_EIO;
out:
	free(b->jobs);
	free(b->index);
	b->jobs = NULL;
	b->index = NULL;
	b->n = 0;
	return result;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void fmt_ms(char *out, size_t len, double v)
{
	if (v < 0)
		snprintf(out, len, "-");
	else
		snprintf(out, len, "%.2f", v);
}

static void print_row(const char *mode, const char *what, const struct batch_result *r)
{
	char sp[16], sw[16], op[16], sv[16];

	fmt_ms(sp, sizeof(sp), r->to_pods.spok);
	fmt_ms(sw, sizeof(sw), r->whole.spok);
	fmt_ms(op, sizeof(op), r->whole.op);
	fmt_ms(sv, sizeof(sv), r->whole.srv);
	printf("%-8s %-6s %5zu %9.2f %8.2f %10.0f %10.0f %10.0f %10s %10s %12s %10s %7.2f %7.2f "
	       "%7.2f\n", mode, what, r->n, r->rate, r->span_s, r->pod_p50, r->pod_p99, r->run_p50,
	       sp, sw, op, sv, r->req_per_job, r->writes_per_job, r->events_per_job);
	fflush(stdout);
}

/* One mode: an engine of its own (fresh store and client), a cold first job, one job alone,
 * then the batch. */
static int run_mode(struct bench *b, bool direct, const char *ns, size_t n,
		    struct batch_result *one, struct batch_result *batch, struct spok_err *err)
{
	const char *mode = direct ? "direct" : "operator";
	struct spok_engine_opts eo = {0};
	struct kube_client_opts co = {0};
	struct kube_client *c = NULL;
	struct spok_store *st = NULL;
	struct spok_platform plat;
	struct batch_result cold;
	char dir[] = "/tmp/spok-bench-direct-XXXXXX";
	bool have_dir = false;
	int result;

	spok_platform_init(&plat);
	if (mkdtemp(dir) == NULL) {
		result = spok_err_set(err, SPOK_EIO, "%s: cannot create a temporary directory; "
				      "check that /tmp is writable", dir);
		goto out;
	}
	have_dir = true;
	co.qps = b->o->qps;
	co.burst = b->o->burst;
	if ((result = kube_client_new(&b->loop, &b->cfg, &co, &c, err)) != 0 ||
	    (result = spok_store_open(dir, &st, err)) != 0)
		goto out;
	eo.cluster = "bench";
	eo.client = c;
	eo.store = st;
	eo.platform = &plat;
	eo.on_event = on_event;
	eo.event_data = b;
	eo.spark_version = SPARK_VERSION;
	eo.direct = direct;
	if ((result = spok_engine_new(&eo, &b->e, err)) != 0)
		goto out;
	if ((result = run_batch(b, c, ns, 1, &cold, err)) != 0)
		goto out;
	print_row(mode, "cold", &cold);
	if ((result = run_batch(b, c, ns, 1, one, err)) != 0)
		goto out;
	print_row(mode, "one", one);
	if ((result = run_batch(b, c, ns, n, batch, err)) != 0)
		goto out;
	print_row(mode, "batch", batch);
out:
	spok_engine_close(b->e);
	b->e = NULL;
	kube_client_close(c);
	uv_run(&b->loop, UV_RUN_NOWAIT);
	spok_store_close(st);
	if (have_dir)
		nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	spok_platform_free(&plat);
	return result;
}

/* ---- the direct namespace ---- */

static int sync_call(struct kube_client *c, int started, struct kube_sync *s, struct spok_err *err)
{
	int result = started != 0 ? started : kube_sync_wait(c, s, err);

	kube_sync_free(s);
	return result;
}

/* Creates ns (409: already there is fine) with ServiceAccount "spark", the driver's default. */
static int ns_setup(struct kube_client *c, const char *ns, struct spok_err *err)
{
	struct kube_sync s = {0};
	json_t *nso = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
				"metadata", "name", ns);
	json_t *sa = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "ServiceAccount",
			       "metadata", "name", "spark");
	int result = sync_call(c, kube_create(c, &NAMESPACES, NULL, nso, kube_sync_cb, &s, err),
			       &s, err);

	if (result == SPOK_ECONFLICT)
		result = 0;
	if (result == 0) {
		memset(&s, 0, sizeof(s));
		result = sync_call(c, kube_create(c, &SERVICEACCOUNTS, ns, sa, kube_sync_cb, &s,
						  err), &s, err);
		if (result == SPOK_ECONFLICT)
			result = 0;
	}
	json_decref(nso);
	json_decref(sa);
	return result;
}

static void ns_delete(struct bench *b, const char *ns)
{
	struct kube_client_opts co = {0};
	struct kube_client *c = NULL;
	struct kube_sync s = {0};
	struct spok_err err = {0};

	if (kube_client_new(&b->loop, &b->cfg, &co, &c, &err) == 0 &&
	    sync_call(c, kube_delete(c, &NAMESPACES, NULL, ns, NULL, NULL, kube_sync_cb, &s, &err),
		      &s, &err) != 0)
		fprintf(stderr, "bench_direct: deleting namespace %s: %s\n", ns, err.msg);
	kube_client_close(c);
	uv_run(&b->loop, UV_RUN_NOWAIT);
}

static int direct_ns_setup(struct bench *b, struct spok_err *err)
{
	struct kube_client_opts co = {0};
	struct kube_client *c = NULL;
	int result = kube_client_new(&b->loop, &b->cfg, &co, &c, err);

	if (result == 0)
		result = ns_setup(c, b->o->direct_ns, err);
	kube_client_close(c);
	uv_run(&b->loop, UV_RUN_NOWAIT);
	return result;
}

/* ---- the report ---- */

static void print_header(const struct bench *b)
{
	double load[3] = {0};

	if (getloadavg(load, 3) != 3)
		load[0] = load[1] = load[2] = -1;
	printf("bench_direct: %ld cores, load average %.2f %.2f %.2f; API server %s; client QPS %.0f "
	       "burst %d\n", sysconf(_SC_NPROCESSORS_ONLN), load[0], load[1], load[2],
	       b->cfg.server, b->o->qps, b->o->burst);
	printf("operator CPU from %s\n",
	       b->o->op_cgroup ? "its cpuacct cgroup (every process it started)"
	       : b->o->op_pid > 0 ? "/proc/<pid>/stat utime+stime+cutime+cstime (children it reaped)"
				  : "nowhere (no --operator-cgroup or --operator-pid)");
	printf("rows: cold = the mode's first job; one = one job alone; batch = N submitted at "
	       "once.\njobs/s = N / (first submit -> last driver pod seen); pod/running = submit -> "
	       "driver pod seen / Running (KWOK marks a bound pod Running after 0.5 s: no "
	       "container starts);\nCPU columns are ms per job: spok to pods = this process until "
	       "the last pod was seen, then from submit until every job was done and torn down "
	       "(spok, the operator with its children, API server + etcd);\nreq/job, wr/job, "
	       "ev/job = spok's API requests, store writes and watch events handled per job, "
	       "whole window\n\n");
	printf("%-8s %-6s %5s %9s %8s %10s %10s %10s %10s %10s %12s %10s %7s %7s %7s\n", "mode",
	       "row", "N", "jobs/s", "span s", "pod p50", "pod p99", "run p50", "spok>pods",
	       "spok all", "operator all", "srv all", "req/job", "wr/job", "ev/job");
	fflush(stdout);
}

static void print_summary(const struct bench *b, const struct batch_result *dir_one,
			  const struct batch_result *dir, const struct batch_result *op_one,
			  const struct batch_result *op)
{
	double load[3] = {0};
	char opcpu[32], dspok[16], dspok_all[16];

	if (getloadavg(load, 3) != 3)
		load[0] = load[1] = load[2] = -1;
	fmt_ms(opcpu, sizeof(opcpu), op ? op->whole.op : -1);
	fmt_ms(dspok, sizeof(dspok), dir->to_pods.spok);
	fmt_ms(dspok_all, sizeof(dspok_all), dir->whole.spok);
	if (op == NULL) {
		printf("summary: direct/operator rate ratio=n/a (operator skipped) direct %.2f jobs/s "
		       "spok cpu/job %s ms (whole life %s ms) N=%zu; direct time-to-driver-running "
		       "%.3f s (KWOK); load average %.2f %.2f %.2f\n",
		       dir->rate, dspok, dspok_all, dir->n, dir_one->run_p50 / 1e3, load[0], load[1],
		       load[2]);
		return;
	}
	printf("summary: direct/operator rate ratio=%.1fx direct %.2f jobs/s operator %.3f jobs/s "
	       "spok cpu/job %s ms (direct, to driver pods; whole life %s ms) operator cpu/job %s ms "
	       "(spark-submit JVMs included) time-to-driver-running direct %.2f s operator %.2f s "
	       "(KWOK Running); N direct=%zu operator=%zu; load average %.2f %.2f %.2f\n",
	       op->rate > 0 ? dir->rate / op->rate : 0, dir->rate, op->rate, dspok, dspok_all, opcpu,
	       dir_one->run_p50 / 1e3, op_one->run_p50 / 1e3, dir->n, op->n, load[0], load[1],
	       load[2]);
	(void)b;
}

static int run_main(const struct opts *o)
{
	struct batch_result dir_one, dir, op_one, op;
	double cg0 = -1, proc0 = -1;
	struct spok_err err = {0};
	struct bench b;
	bool have_ns = false;
	int result;

	memset(&b, 0, sizeof(b));
	b.o = o;
	if (kube_config_load(&b.cfg, o->kubeconfig, o->context, &err) != 0) {
		fprintf(stderr, "bench_direct: %s\n", err.msg);
		return 1;
	}
	uv_loop_init(&b.loop);
	print_header(&b);
	if ((result = direct_ns_setup(&b, &err)) != 0)
		goto out;
	have_ns = true;
	if ((result = obs_start(&b, &err)) != 0)
		goto out;
	if (o->op_cgroup != NULL && o->op_pid > 0) {
		cg0 = op_cpu_ms(o);
		proc0 = proc_cpu_ms(o->op_pid, true);
	}
	if ((result = run_mode(&b, true, o->direct_ns, o->n_direct, &dir_one, &dir, &err)) != 0)
		goto out;
	if (!o->skip_operator &&
	    (result = run_mode(&b, false, o->op_ns, o->n_operator, &op_one, &op, &err)) != 0)
		goto out;
	if (cg0 >= 0 && proc0 >= 0)
		printf("\noperator CPU over both modes: %.0f ms in its cgroup; %.0f ms by "
		       "/proc/%ld/stat utime+stime+cutime+cstime (what a reading without the cgroup "
		       "would have seen)\n", op_cpu_ms(o) - cg0,
		       proc_cpu_ms(o->op_pid, true) - proc0, o->op_pid);
	printf("\n");
	print_summary(&b, &dir_one, &dir, o->skip_operator ? NULL : &op_one,
		      o->skip_operator ? NULL : &op);
out:
	obs_stop(&b);
	if (have_ns)
		ns_delete(&b, o->direct_ns);
	uv_run(&b.loop, UV_RUN_DEFAULT);
	uv_loop_close(&b.loop);
	kube_config_free(&b.cfg);
	if (result != 0) {
		fprintf(stderr, "bench_direct: %s\n", err.msg);
		return 1;
	}
	return 0;
}

/* ---- arguments ---- */

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_direct run --kubeconfig FILE [--context NAME] [--direct-n N] "
		   "[--operator-n N]\n"
		   "         [--operator-namespace NS] [--direct-namespace NS] [--qps Q] [--burst B]\n"
		   "         [--operator-cgroup DIR] [--operator-pid PID] [--server-pid PID]... "
		   "[--skip-operator]\n"
		   "       bench_direct observe --kubeconfig FILE [--context NAME]\n"
		   "  defaults: --direct-n 200, --operator-n 20 (at most %d), operator namespace "
		   "spark-jobs, direct namespace spok-direct-bench-<pid>,\n  client QPS/burst 1000/1000; "
		   "--server-pid (kube-apiserver, etcd) at most %d times\n", MAX_JOBS,
		MAX_SERVER_PIDS);
}

static int bad_value(const char *flag, const char *value)
{
	fprintf(stderr, "bench_direct: %s '%s': not a whole number in range; see --help\n", flag,
		value);
	return 2;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
		{"kubeconfig", required_argument, NULL, 'k'},
		{"context", required_argument, NULL, 'c'},
		{"direct-n", required_argument, NULL, 'd'},
		{"operator-n", required_argument, NULL, 'o'},
		{"operator-namespace", required_argument, NULL, 'O'},
		{"direct-namespace", required_argument, NULL, 'D'},
		{"qps", required_argument, NULL, 'q'},
		{"burst", required_argument, NULL, 'b'},
		{"operator-cgroup", required_argument, NULL, 'g'},
		{"operator-pid", required_argument, NULL, 'P'},
		{"server-pid", required_argument, NULL, 'p'},
		{"skip-operator", no_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	size_t v;
	int ch;

	o->n_direct = 200;
	o->n_operator = 20;
	o->op_ns = "spark-jobs";
	o->direct_ns = NULL;
	o->qps = 1000;
	o->burst = 1000;
	while ((ch = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (ch) {
		case 'k': o->kubeconfig = optarg; break;
		case 'c': o->context = optarg; break;
		case 'O': o->op_ns = optarg; break;
		case 'D': o->direct_ns = optarg; break;
		case 'g': o->op_cgroup = optarg; break;
		case 's': o->skip_operator = true; break;
		case 'd':
			if (!parse_size(optarg, 1, MAX_JOBS, &o->n_direct))
				return bad_value("--direct-n", optarg);
			break;
		case 'o':
			if (!parse_size(optarg, 1, MAX_JOBS, &o->n_operator))
				return bad_value("--operator-n", optarg);
			break;
		case 'q':
			if (!parse_size(optarg, 1, 1000000, &v))
				return bad_value("--qps", optarg);
			o->qps = (double)v;
			break;
		case 'b':
			if (!parse_size(optarg, 1, 1000000, &v))
				return bad_value("--burst", optarg);
			o->burst = (int)v;
			break;
		case 'P':
			if (!parse_size(optarg, 1, 1u << 22, &v))
				return bad_value("--operator-pid", optarg);
			o->op_pid = (long)v;
			break;
		case 'p':
			if (o->nserver_pids == MAX_SERVER_PIDS || !parse_size(optarg, 1, 1u << 22, &v))
				return bad_value("--server-pid", optarg);
			o->server_pids[o->nserver_pids++] = (long)v;
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "bench_direct: unexpected argument '%s'; see --help\n", argv[optind]);
		return 2;
	}
	if (o->kubeconfig == NULL) {
		fprintf(stderr, "bench_direct: --kubeconfig is required; e.g. DIR/kubeconfig from "
				"scripts/k8s up --with-operator DIR\n");
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static char ns[64];
	struct opts o = {0};
	int result;

	if (argc < 2 || (strcmp(argv[1], "run") != 0 && strcmp(argv[1], "observe") != 0)) {
		if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		usage(stderr);
		return 2;
	}
	if ((result = parse_args(argc - 1, argv + 1, &o)) != 0)
		return result;
	if (o.direct_ns == NULL) {
		snprintf(ns, sizeof(ns), "spok-direct-bench-%ld", (long)getpid());
		o.direct_ns = ns;
	}
	return strcmp(argv[1], "observe") == 0 ? observe_main(&o) : run_main(&o);
}
