/* bench_submit.c - N SparkApplications through spok's engine vs raw creates of the same
 * objects on the same API server, in one process on one libuv loop.
 *
 * Phase "raw": N objects built with spok_sparkapp_build (same task, platform, execution
 * label and sparkVersion as the engine sends; built before the clock starts), then N
 * kube_create calls queued at once; latency = create call -> response.
 * Phase "spok": N spok_engine_submit calls queued at once into a fresh namespace with a
 * fresh SQLite store; latency = submit call -> SPOK_ENGINE_TRACKED (the engine's shared
 * watch saw the object), plus submit -> create confirmed (row started) for comparison.
 * Both phases use a fresh kube_client with the same options (QPS/burst 1000/1000 unless
 * told otherwise) whose connection is warmed by creating the phase's namespace, so TLS
 * set-up is not timed, and make one untimed create first (spok's also opens the
 * namespace's shared watch, a once-per-namespace cost). An untimed warm-up of both phases
 * runs before round 1. Rounds alternate the order (raw first, spok first, ...) and the
 * report shows per-round rows plus medians, so drift in the shared machine hits both.
 * Between phases the objects are removed with one deletecollection and the namespace is
 * deleted (the loopback fixture runs no namespace controller, so namespaces stay
 * Terminating but empty).
 *
 * Not a test: nothing here asserts a timing. Exit status is 0 only when every object was
 * created and tracked and the table was printed.
 *
 * Usage: bench_submit --kubeconfig FILE [--context NAME] [-n N] [--namespace PREFIX]
 *                     [--rounds R] [--qps Q] [--burst B] [--server-pid PID]...
 * --server-pid (kube-apiserver, etcd on this machine) adds their CPU time per job, which is
 * where spok's shared watch costs show up (every create is also sent as an ADDED event).
 */
#include <getopt.h>
#include <math.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include <ftw.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "engine/engine.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "model/model.h"
#include "sparkapp/sparkapp.h"
#include "store/store.h"

static const struct kube_gvr SPARK = {"sparkoperator.k8s.io", "v1beta2", "sparkapplications"};
static const struct kube_gvr NAMESPACES = {"", "v1", "namespaces"};
#define SPARK_VERSION "4.0.5"
#define MAX_ROUNDS 99
#define MAX_JOBS 100000
#define MAX_SERVER_PIDS 4

struct opts {
	const char *kubeconfig;
	const char *context;
	const char *ns_prefix;
	size_t n;
	int rounds;
	double qps;
	int burst;
	long server_pids[MAX_SERVER_PIDS]; /* API server / etcd on this machine, for their CPU */
	int nserver_pids;
};

/* One object/execution of a phase; times are uv_hrtime() ns, 0 = not yet. */
struct job {
	struct phase *ph;
	char id[SPOK_EXEC_ID_LEN + 1];
	uint64_t t0, t_created, t_tracked;
};

/* What one phase of one round measured. */
struct result {
	double rate;         /* jobs/s until the last one was done (raw: answered; spok: tracked) */
	double p50, p99;     /* ms: raw create -> response; spok submit -> TRACKED */
	double c50, c99;     /* ms: call -> create confirmed (raw: same as p50/p99) */
	double crate;        /* jobs/s until the last create was confirmed (spok: and its row
	                      * committed; raw: same as rate) */
	double req_per_job;  /* HTTP requests sent in the timed window / N (the namespace watch
	                      * is opened by the untimed primer, before it) */
	double writes_per_job; /* SQLite writes / N (insert + updates); raw: 0 */
	double rss_kib;      /* resident set growth over the phase */
	double cpu_ms;       /* this process's user+sys CPU per job over the timed window */
	double server_cpu_ms; /* the --server-pid processes' CPU per job; < 0: not measured */
};

struct phase {
	uv_loop_t *loop;
	struct job *jobs;
	size_t n;
	size_t answered;     /* raw: responses; spok: creates confirmed */
	size_t tracked;      /* spok only */
	size_t failed;
	bool spok;
	char first_error[SPOK_ERR_MSG_MAX];
	struct job **index;  /* spok: open-addressing table by execution id */
	size_t index_cap;
	struct job primer;   /* untimed first job of the phase (see prime_*) */
	struct spok_engine *e; /* spok: for the primer's wait */
};

/* Counts a failure and keeps the first one's message ("<what>: <detail>"). */
static void fail_note(struct phase *ph, const char *what, const char *detail)
{
	ph->failed++;
	if (ph->first_error[0] == '\0')
		snprintf(ph->first_error, sizeof(ph->first_error), "%s: %s", what, detail);
}

/* ---- small helpers ---- */

static double ms_between(uint64_t a, uint64_t b)
{
	return (double)(b - a) / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of v (sorted in place). */
static double percentile(double *v, size_t n, double p)
{
	size_t rank;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	rank = (size_t)ceil(p * (double)n);
	if (rank == 0)
		rank = 1;
	return v[rank - 1];
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	if (n == 0)
		return 0;
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* CPU time (user + sys) this process has used, in ms. */
static double cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* CPU time (utime + stime) of the --server-pid processes in ms; -1 if any is unreadable. */
static double server_cpu_ms(const struct opts *o)
{
	double total = 0;

	if (o->nserver_pids == 0)
		return -1;
	for (int i = 0; i < o->nserver_pids; i++) {
		char path[64], line[1024], *p;
		unsigned long long ut = 0, st = 0;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%ld/stat", o->server_pids[i]);
		if ((f = fopen(path, "r")) == NULL)
			return -1;
		p = fgets(line, sizeof(line), f);
		fclose(f);
		/* fields after "(comm)": state ppid pgrp session tty tpgid flags minflt cminflt
		 * majflt cmajflt utime stime */
		if (p == NULL || (p = strrchr(line, ')')) == NULL ||
		    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			   &st) != 2)
			return -1;
		total += (double)(ut + st) * 1e3 / (double)sysconf(_SC_CLK_TCK);
	}
	return total;
}

/* Per-job delta of server CPU, or -1 when not measured. */
static double server_delta(const struct opts *o, double before)
{
	double after = server_cpu_ms(o);

	return before < 0 || after < 0 ? -1 : (after - before) / (double)o->n;
}

/* Resident set size now, in KiB (statm's second field is in pages). */
static double rss_kib(void)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f == NULL)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (double)resident * (double)sysconf(_SC_PAGESIZE) / 1024.0;
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

/* ---- bounded waits on the loop ---- */

static void guard_tick(uv_timer_t *t)
{
	(void)t; /* only wakes uv_run(UV_RUN_ONCE) so that the deadline is checked */
}

typedef bool (*phase_cond)(const struct phase *ph);

/* Every job answered (and, for spok, tracked), or something failed. */
static bool phase_done(const struct phase *ph)
{
	return ph->failed > 0 || (ph->answered == ph->n && (!ph->spok || ph->tracked == ph->n));
}

/* A generous bound that only turns a hang into an error. */
static double deadline_for(size_t n)
{
	return 120.0 + (double)n * 0.2;
}

static int sync_wait(struct kube_client *c, int started, struct kube_sync *s,
		     struct spok_err *err)
{
	if (started != 0)
		return started;
	return kube_sync_wait(c, s, err);
}

/* ---- clients and namespaces ---- */

static int client_new(uv_loop_t *loop, const struct kube_config *cfg, const struct opts *o,
		      struct kube_client **out, struct spok_err *err)
{
	struct kube_client_opts co = {0};

	co.qps = o->qps;
	co.burst = o->burst;
	return kube_client_new(loop, cfg, &co, out, err);
}

static int ns_create(struct kube_client *c, const char *ns, struct spok_err *err)
{
	struct kube_sync s = {0};
	json_t *obj = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
				"metadata", "name", ns);
	int result = sync_wait(c, kube_create(c, &NAMESPACES, NULL, obj, kube_sync_cb, &s, err),
			       &s, err);

	json_decref(obj);
	kube_sync_free(&s);
	return result;
}

/* Removes the phase's objects (one deletecollection: no controller would do it here),
 * then the namespace. */
static int ns_cleanup(struct kube_client *c, const char *ns, struct spok_err *err)
{
	struct kube_req req = {0};
	struct kube_sync s = {0};
	char *path = kube_path(&SPARK, ns, NULL, NULL);
	int result;

	req.method = "DELETE";
	req.path = path;
	result = sync_wait(c, kube_request(c, &req, kube_sync_cb, &s, err), &s, err);
	free(path);
	kube_sync_free(&s);
	if (result != 0)
		return result;
	memset(&s, 0, sizeof(s));
	result = sync_wait(c, kube_delete(c, &NAMESPACES, NULL, ns, NULL, NULL, kube_sync_cb, &s, err),
			   &s, err);
	kube_sync_free(&s);
	return result;
}

/* Cleans up ns (if not NULL) with c, then closes c and runs the loop until its memory is
 * released (nothing else is open on the loop then). A cleanup failure becomes the result
 * only when the phase itself went well. */
static void finish_client(uv_loop_t *loop, struct kube_client *c, const char *ns, int *result,
			  struct spok_err *err)
{
	struct spok_err cerr = {0};

	if (c == NULL)
		return;
	if (ns != NULL && ns_cleanup(c, ns, &cerr) != 0) {
		if (*result == 0) {
			*result = cerr.code;
			if (err)
				*err = cerr;
		} else {
			fprintf(stderr, "bench_submit: cleanup of %s: %s\n", ns, cerr.msg);
		}
	}
	kube_client_close(c);
	uv_run(loop, UV_RUN_DEFAULT);
}

/* ---- the task both phases send ---- */

static void make_task(struct spok_task *t)
{
	spok_task_init(t);
	t->name = xstrdup("pi");
	t->project = xstrdup("spok");
	t->domain = xstrdup("development");
	t->type = SPOK_APP_PYTHON;
	t->main_application_file = xstrdup("local:///opt/spark/examples/src/main/python/pi.py");
	t->image = xstrdup("spark:" SPARK_VERSION);
	spok_strmap_set(&t->spark_conf, "spark.executor.instances", "2");
	spok_strmap_set(&t->spark_conf, "spark.driver.memory", "1g");
}

/* The object the engine would create for execution `id`: same label and sparkVersion. */
static int build_raw(const struct spok_task *t, const struct spok_platform *p, const char *ns,
		     const char *id, json_t **out, struct spok_err *err)
{
	struct spok_strmap labels = {0};
	struct spok_exec x = {0};
	int result;

	spok_strmap_set(&labels, SPOK_LABEL_EXECUTION, id);
	x.execution_name = id;
	x.node_id = "n0";
	x.namespace_ = ns;
	x.now_ms = spok_now_ms();
	x.labels = &labels;
	result = spok_sparkapp_build(t, p, &x, out, err);
	spok_strmap_free(&labels);
	if (result == 0)
		json_object_set_new(json_object_get(*out, "spec"), "sparkVersion",
				    json_string(SPARK_VERSION));
	return result;
}

/* ---- phase "raw" ---- */

static void raw_done(void *data, const struct kube_resp *resp)
{
	struct job *j = data;

	j->t_created = uv_hrtime();
	j->ph->answered++;
	if (resp->code != 0)
		fail_note(j->ph, "raw create", resp->message);
}

static void summarize(struct phase *ph, bool use_tracked, struct result *r)
{
	double *lat = xcalloc(ph->n, sizeof(*lat));
	double *cre = xcalloc(ph->n, sizeof(*cre));
	uint64_t start = ph->jobs[0].t0, end = 0, cend = 0;

	for (size_t i = 0; i < ph->n; i++) {
		const struct job *j = &ph->jobs[i];
		uint64_t t = use_tracked ? j->t_tracked : j->t_created;

		if (t > end)
			end = t;
		if (j->t_created > cend)
			cend = j->t_created;
		lat[i] = ms_between(j->t0, t);
		cre[i] = ms_between(j->t0, j->t_created);
	}
	r->rate = (double)ph->n / (ms_between(start, end) / 1000.0);
	r->crate = (double)ph->n / (ms_between(start, cend) / 1000.0);
	r->p50 = percentile(lat, ph->n, 0.50);
	r->p99 = percentile(lat, ph->n, 0.99);
	r->c50 = percentile(cre, ph->n, 0.50);
	r->c99 = percentile(cre, ph->n, 0.99);
	free(lat);
	free(cre);
}


/* Runs the loop until cond holds; bounded so a hang becomes an error. */
static int phase_wait(struct phase *ph, phase_cond cond, const char *name, struct spok_err *err)
{
	double limit = deadline_for(ph->n);
	uint64_t end = uv_hrtime() + (uint64_t)(limit * 1e9);
	uv_timer_t guard;
	int result = 0;

	uv_timer_init(ph->loop, &guard);
	uv_timer_start(&guard, guard_tick, 200, 200);
	while (!cond(ph)) {
		if (uv_hrtime() > end) {
			result = spok_err_set(err, SPOK_ETIMEOUT,
					      "%s phase: after %.0f s only %zu of %zu answered, %zu "
					      "tracked; see the API server's log", name, limit,
					      ph->answered, ph->n, ph->tracked);
			break;
		}
		uv_run(ph->loop, UV_RUN_ONCE);
	}
	uv_timer_stop(&guard);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(ph->loop, UV_RUN_NOWAIT); /* runs the close callback while guard is alive */
	if (result == 0 && ph->failed > 0)
		result = spok_err_set(err, SPOK_EAPI, "%s phase: %zu job(s) failed, first: %s",
				      name, ph->failed, ph->first_error);
	return result;
}

static void phase_init(struct phase *ph, uv_loop_t *loop, size_t n, bool spok)
{
	memset(ph, 0, sizeof(*ph));
	ph->loop = loop;
	ph->n = n;
	ph->spok = spok;
	ph->jobs = xcalloc(n, sizeof(*ph->jobs));
	for (size_t i = 0; i < n; i++)
		ph->jobs[i].ph = ph;
	ph->primer.ph = ph;
	if (spok) {
		for (ph->index_cap = 16; ph->index_cap < 2 * n; ph->index_cap *= 2)
			;
		ph->index = xcalloc(ph->index_cap, sizeof(*ph->index));
	}
}

static void phase_free(struct phase *ph)
{
	free(ph->jobs);
	free(ph->index);
}

/* ---- the id index (spok events name executions by id) ---- */

static size_t id_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static void index_put(struct phase *ph, struct job *j)
{
	size_t i = id_hash(j->id) & (ph->index_cap - 1);

	while (ph->index[i] != NULL)
		i = (i + 1) & (ph->index_cap - 1);
	ph->index[i] = j;
}

static struct job *index_get(const struct phase *ph, const char *id)
{
	size_t i;

	if (id == NULL)
		return NULL;
	for (i = id_hash(id) & (ph->index_cap - 1); ph->index[i] != NULL;
	     i = (i + 1) & (ph->index_cap - 1))
		if (strcmp(ph->index[i]->id, id) == 0)
			return ph->index[i];
	return NULL;
}

/* ---- phase "raw" ---- */

/* One untimed create in the fresh namespace, so both phases start the clock with the
 * namespace touched once (spok's primer also sets up its watch). */
static int prime_raw(struct kube_client *c, const struct spok_task *t,
		     const struct spok_platform *plat, const char *ns, struct spok_err *err)
{
	char id[SPOK_EXEC_ID_LEN + 1];
	struct kube_sync s = {0};
	json_t *app = NULL;
	int result;

	if ((result = spok_store_new_id(id, sizeof(id), err)) != 0 ||
	    (result = build_raw(t, plat, ns, id, &app, err)) != 0)
		return result;
	result = sync_wait(c, kube_create(c, &SPARK, ns, app, kube_sync_cb, &s, err), &s, err);
	json_decref(app);
	kube_sync_free(&s);
	return result;
}

static int raw_phase(uv_loop_t *loop, const struct kube_config *cfg, const struct opts *o,
		     const struct spok_platform *plat, const char *ns, struct result *r,
		     struct spok_err *err)
{
	struct kube_client_stats s0, s1;
	struct kube_client *c = NULL;
	struct spok_task task;
	struct phase ph;
	json_t **apps = xcalloc(o->n, sizeof(*apps));
	bool have_ns = false;
	double rss0, cpu0, scpu0;
	int result;

	phase_init(&ph, loop, o->n, false);
	make_task(&task);
	if ((result = client_new(loop, cfg, o, &c, err)) != 0)
		goto fail;
	if ((result = ns_create(c, ns, err)) != 0)
		goto fail;
	have_ns = true;
	if ((result = prime_raw(c, &task, plat, ns, err)) != 0)
		goto fail;
	for (size_t i = 0; i < o->n; i++) {
		if ((result = spok_store_new_id(ph.jobs[i].id, sizeof(ph.jobs[i].id), err)) != 0 ||
		    (result = build_raw(&task, plat, ns, ph.jobs[i].id, &apps[i], err)) != 0)
			goto fail;
	}
	kube_client_stats(c, &s0);
	rss0 = rss_kib();
	cpu0 = cpu_ms();
	scpu0 = server_cpu_ms(o);
	for (size_t i = 0; i < o->n; i++) {
		ph.jobs[i].t0 = uv_hrtime();
		if ((result = kube_create(c, &SPARK, ns, apps[i], raw_done, &ph.jobs[i], err)) != 0)
			goto fail;
	}
	if ((result = phase_wait(&ph, phase_done, "raw", err)) != 0)
		goto fail;
	r->cpu_ms = (cpu_ms() - cpu0) / (double)o->n;
	r->server_cpu_ms = server_delta(o, scpu0);
	kube_client_stats(c, &s1);
	r->rss_kib = rss_kib() - rss0;
	summarize(&ph, false, r);
	r->req_per_job = (double)(s1.sent - s0.sent) / (double)o->n;
	r->writes_per_job = 0;
fail:
	for (size_t i = 0; i < o->n; i++)
		json_decref(apps[i]);
	free(apps);
	spok_task_free(&task);
	finish_client(loop, c, have_ns ? ns : NULL, &result, err);
	phase_free(&ph);
	return result;
}

/* ---- phase "spok" ---- */

static void on_event(void *data, enum spok_engine_event ev, const struct spok_execution *x)
{
	struct phase *ph = data;
	struct job *j = index_get(ph, x->id);

	if (j == NULL) /* the CHANGED emitted inside spok_engine_submit, before we know the id */
		return;
	switch (ev) {
	case SPOK_ENGINE_TRACKED:
		if (j->t_tracked == 0) {
			j->t_tracked = uv_hrtime();
			ph->tracked += j != &ph->primer;
		}
		return;
	case SPOK_ENGINE_CHANGED:
		if (x->started_ms != 0 && j->t_created == 0) {
			j->t_created = uv_hrtime();
			ph->answered += j != &ph->primer;
		}
		return;
	case SPOK_ENGINE_DONE: /* nothing finishes on its own here: only failures end */
		fail_note(ph, "spok execution ended", x->reason ? x->reason : "(no reason)");
		return;
	case SPOK_ENGINE_FAILED: /* a store write failed (DONE follows) */
		fail_note(ph, "spok store write failed",
			  x->error_message ? x->error_message : "(no message)");
		return;
	}
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int engine_open(const struct kube_client *c, struct spok_store *st,
		       const struct spok_platform *plat, struct phase *ph, struct spok_engine **e,
		       struct spok_err *err)
{
	struct spok_engine_opts eo = {0};

	eo.cluster = "bench";
	eo.client = (struct kube_client *)c;
	eo.store = st;
	eo.platform = plat;
	eo.on_event = on_event;
	eo.event_data = ph;
	eo.spark_version = SPARK_VERSION;
	return spok_engine_new(&eo, e, err);
}

/* The primer's create is confirmed and the namespace's watch has delivered its first list. */
static bool primer_ready(const struct phase *ph)
{
	struct spok_engine_stats es;

	spok_engine_stats(ph->e, &es);
	return ph->failed > 0 || (ph->primer.t_created != 0 && es.relists > 0);
}

/* One untimed submit that makes the engine start the namespace's shared watch. A long-lived
 * engine (spok serve) has it open already; timing it would charge a per-namespace cost to
 * the first jobs. It also avoids counting on TRACKED for creates answered after the watch's
 * first list already held them: the engine drops that list entry while the create is in
 * flight and the watch resumes after it, so TRACKED would wait for the object's next
 * change (the operator's, which nothing plays here). */
static int prime_spok(struct phase *ph, struct spok_task *t, const char *ns,
		      struct spok_err *err)
{
	int result;

	if ((result = spok_engine_submit(ph->e, t, ns, "bench", ph->primer.id,
					 sizeof(ph->primer.id), err)) != 0)
		return result;
	index_put(ph, &ph->primer);
	return phase_wait(ph, primer_ready, "spok primer", err);
}

static int spok_phase(uv_loop_t *loop, const struct kube_config *cfg, const struct opts *o,
		      const struct spok_platform *plat, const char *ns, struct result *r,
		      struct spok_err *err)
{
	struct spok_task *tasks = xcalloc(o->n + 1, sizeof(*tasks)); /* [n]: the primer */
	struct kube_client_stats s0, s1;
	struct spok_engine_stats es0, es1;
	struct kube_client *c = NULL;
	struct spok_engine *e = NULL;
	struct spok_store *st = NULL;
	char dir[] = "/tmp/spok-bench-XXXXXX";
	bool have_dir = false, have_ns = false;
	struct phase ph;
	double rss0, cpu0, scpu0;
	int result;

	phase_init(&ph, loop, o->n, true);
	for (size_t i = 0; i <= o->n; i++)
		make_task(&tasks[i]);
	if (mkdtemp(dir) == NULL) {
		result = spok_err_set(err, SPOK_EIO, "%s: cannot create a temporary directory; "
				      "check that /tmp is writable", dir);
		goto fail;
	}
	have_dir = true;
	if ((result = client_new(loop, cfg, o, &c, err)) != 0)
		goto fail;
	if ((result = ns_create(c, ns, err)) != 0)
		goto fail;
	have_ns = true;
	if ((result = spok_store_open(dir, &st, err)) != 0 ||
	    (result = engine_open(c, st, plat, &ph, &e, err)) != 0)
		goto fail;
	ph.e = e;
	if ((result = prime_spok(&ph, &tasks[o->n], ns, err)) != 0)
		goto fail;
	kube_client_stats(c, &s0);
	spok_engine_stats(e, &es0);
	rss0 = rss_kib();
	cpu0 = cpu_ms();
	scpu0 = server_cpu_ms(o);
	for (size_t i = 0; i < o->n; i++) {
		struct job *j = &ph.jobs[i];

		j->t0 = uv_hrtime();
		if ((result = spok_engine_submit(e, &tasks[i], ns, "bench", j->id, sizeof(j->id),
						 err)) != 0)
			goto fail;
		index_put(&ph, j);
	}
	if ((result = phase_wait(&ph, phase_done, "spok", err)) != 0)
		goto fail;
	r->cpu_ms = (cpu_ms() - cpu0) / (double)o->n;
	r->server_cpu_ms = server_delta(o, scpu0);
	kube_client_stats(c, &s1);
	spok_engine_stats(e, &es1);
	r->rss_kib = rss_kib() - rss0;
	summarize(&ph, true, r);
	r->req_per_job = (double)(s1.sent - s0.sent) / (double)o->n;
	/* store_writes counts updates; each submit also inserted its row */
	r->writes_per_job = (double)(es1.store_writes - es0.store_writes + o->n) / (double)o->n;
fail:
	spok_engine_close(e); /* the watch stops before the objects are deleted */
	finish_client(loop, c, have_ns ? ns : NULL, &result, err);
	spok_store_close(st);
	if (have_dir)
		nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	for (size_t i = 0; i <= o->n; i++)
		spok_task_free(&tasks[i]);
	free(tasks);
	phase_free(&ph);
	return result;
}

/* ---- rounds and the report ---- */

static void print_header(void)
{
	printf("%5s  %-5s  %9s  %9s  %8s  %8s  %11s  %11s  %7s  %10s  %8s  %10s  %11s\n", "round",
	       "phase",
	       "jobs/s", "created/s", "p50 ms", "p99 ms", "created p50", "created p99", "req/job",
	       "writes/job", "RSS +KiB", "CPU ms/job", "srv CPU/job");
}

static void print_row(const char *round, const char *phase, const struct result *r)
{
	char srv[32] = "-";

	if (r->server_cpu_ms >= 0)
		snprintf(srv, sizeof(srv), "%.3f", r->server_cpu_ms);
	printf("%5s  %-5s  %9.1f  %9.1f  %8.2f  %8.2f  %11.2f  %11.2f  %7.2f  %10.2f  %8.0f  %10.3f  "
	       "%11s\n",
	       round, phase, r->rate, r->crate, r->p50, r->p99, r->c50, r->c99, r->req_per_job,
	       r->writes_per_job, r->rss_kib, r->cpu_ms, srv);
}

/* Field-wise median over rounds. */
static void median_of(const struct result *v, int n, struct result *out)
{
	double tmp[MAX_ROUNDS];
	size_t fields[] = {
		offsetof(struct result, rate),   offsetof(struct result, p50),
		offsetof(struct result, p99),    offsetof(struct result, c50),
		offsetof(struct result, crate),
		offsetof(struct result, c99),    offsetof(struct result, req_per_job),
		offsetof(struct result, writes_per_job), offsetof(struct result, rss_kib),
		offsetof(struct result, cpu_ms), offsetof(struct result, server_cpu_ms)};

	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		for (int i = 0; i < n; i++)
			memcpy(&tmp[i], (const char *)&v[i] + fields[f], sizeof(double));
		tmp[0] = median(tmp, (size_t)n);
		memcpy((char *)out + fields[f], &tmp[0], sizeof(double));
	}
}

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

static void print_summary(const struct opts *o, const struct result *raw,
			  const struct result *spok)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	printf("\nlatency: raw = create call -> response; spok = submit -> first watch event "
	       "(TRACKED);\n         created = call -> create confirmed (spok: row marked "
	       "started and committed). All N are queued at once.\n"
	       "jobs/s: N / time to the last job's latency end; created/s: N / time to the last "
	       "created.\n         CPU ms/job = this process's user+sys "
	       "time over the timed window / N;\n         srv CPU/job = the same for the --server-pid "
	       "processes (kube-apiserver + etcd in run.sh).\n");
	printf("peak RSS of the whole process (ru_maxrss): %ld KiB\n", ru.ru_maxrss);
	printf("summary: N=%zu x %d rounds, spok/raw rate %.2f (%.0f vs %.0f jobs/s; created: "
	       "%.2f, %.0f jobs/s), p50 x%.2f "
	       "(%.1f vs %.1f ms), p99 x%.2f (%.1f vs %.1f ms), API requests/job %.2f vs %.2f, "
	       "store writes/job %.2f, RSS +%.0f vs +%.0f KiB, bench CPU/job x%.2f "
	       "(%.2f vs %.2f ms)\n",
	       o->n, o->rounds, ratio(spok->rate, raw->rate), spok->rate, raw->rate,
	       ratio(spok->crate, raw->rate), spok->crate,
	       ratio(spok->p50, raw->p50), spok->p50, raw->p50, ratio(spok->p99, raw->p99),
	       spok->p99, raw->p99, spok->req_per_job, raw->req_per_job, spok->writes_per_job,
	       spok->rss_kib, raw->rss_kib, ratio(spok->cpu_ms, raw->cpu_ms), spok->cpu_ms,
	       raw->cpu_ms);
	if (spok->server_cpu_ms >= 0 && raw->server_cpu_ms >= 0)
		printf("server CPU/job (--server-pid): spok/raw x%.2f (%.2f vs %.2f ms)\n",
		       ratio(spok->server_cpu_ms, raw->server_cpu_ms), spok->server_cpu_ms,
		       raw->server_cpu_ms);
}

typedef int (*phase_fn)(uv_loop_t *loop, const struct kube_config *cfg, const struct opts *o,
			const struct spok_platform *plat, const char *ns, struct result *r,
			struct spok_err *err);

/* One phase of round `round` in its own namespace "<prefix>-<pid>-<round>-<name>". */
static int run_one(uv_loop_t *loop, const struct kube_config *cfg, const struct opts *o,
		   const struct spok_platform *plat, int round, const char *name, phase_fn fn,
		   struct result *r, struct spok_err *err)
{
	char ns[64], label[16];
	int result;

	snprintf(ns, sizeof(ns), "%s-%ld-%d-%s", o->ns_prefix, (long)getpid(), round + 1, name);
	if ((result = fn(loop, cfg, o, plat, ns, r, err)) != 0)
		return result;
	snprintf(label, sizeof(label), "%d", round + 1);
	print_row(label, name, r);
	fflush(stdout);
	return 0;
}

/* One small untimed run of each phase: the API server's first requests for a CRD pay for
 * its storage and handler set-up (about 2 s on the loopback fixture), which must not land
 * in round 1. */
static int warm_up(uv_loop_t *loop, const struct kube_config *cfg, const struct opts *o,
		   const struct spok_platform *plat, struct spok_err *err)
{
	struct opts w = *o;
	struct result r;
	char ns[64];
	int result;

	w.n = o->n < 10 ? o->n : 10;
	snprintf(ns, sizeof(ns), "%s-%ld-warm-raw", o->ns_prefix, (long)getpid());
	if ((result = raw_phase(loop, cfg, &w, plat, ns, &r, err)) != 0)
		return result;
	snprintf(ns, sizeof(ns), "%s-%ld-warm-spok", o->ns_prefix, (long)getpid());
	return spok_phase(loop, cfg, &w, plat, ns, &r, err);
}

static int run_rounds(uv_loop_t *loop, const struct kube_config *cfg, const struct opts *o,
		      struct spok_err *err)
{
	struct result raw[MAX_ROUNDS] = {0}, spok[MAX_ROUNDS] = {0}, mraw = {0}, mspok = {0};
	struct spok_platform plat;
	int result = 0;

	spok_platform_init(&plat);
	printf("bench_submit: N=%zu per phase, %d round(s), order alternates (raw first in odd "
	       "rounds); both phases: fresh client, QPS %.0f, burst %d\nserver: %s (%s); after "
	       "an untimed warm-up of each phase\n\n",
	       o->n, o->rounds, o->qps, o->burst, cfg->server, cfg->source);
	if ((result = warm_up(loop, cfg, o, &plat, err)) != 0)
		goto out;
	print_header();
	for (int i = 0; i < o->rounds && result == 0; i++) {
		bool raw_first = i % 2 == 0;

		result = run_one(loop, cfg, o, &plat, i, raw_first ? "raw" : "spok",
				 raw_first ? raw_phase : spok_phase, raw_first ? &raw[i] : &spok[i],
				 err);
		if (result == 0)
			result = run_one(loop, cfg, o, &plat, i, raw_first ? "spok" : "raw",
					 raw_first ? spok_phase : raw_phase,
					 raw_first ? &spok[i] : &raw[i], err);
	}
	if (result == 0) {
		median_of(raw, o->rounds, &mraw);
		median_of(spok, o->rounds, &mspok);
		printf("\n");
		print_row("med", "raw", &mraw);
		print_row("med", "spok", &mspok);
		print_summary(o, &mraw, &mspok);
	}
out:
	spok_platform_free(&plat);
	return result;
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_submit --kubeconfig FILE [--context NAME] [-n N] "
		   "[--namespace PREFIX] [--rounds R] [--qps Q] [--burst B] [--server-pid PID]...\n"
		   "  N jobs per phase (default 100, at most %d), R rounds (default 3, at most %d),\n"
		   "  PREFIX of the per-phase namespaces (default spok-bench), client QPS/burst for "
		   "both phases (default 1000/1000),\n  PID of a local API server / etcd whose CPU time per job "
		   "is reported (at most %d)\n", MAX_JOBS, MAX_ROUNDS, MAX_SERVER_PIDS);
}

static bool valid_prefix(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32 || s[0] == '-')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

static int bad_number(const char *flag, const char *value)
{
	fprintf(stderr, "bench_submit: %s '%s': not a whole number in range; see --help\n", flag,
		value);
	return 2;
}

/* Returns 0, or 2 after printing one line naming the bad flag. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
		{"kubeconfig", required_argument, NULL, 'k'}, {"context", required_argument, NULL, 'c'},
		{"namespace", required_argument, NULL, 's'},  {"rounds", required_argument, NULL, 'r'},
		{"qps", required_argument, NULL, 'q'},        {"burst", required_argument, NULL, 'b'},
		{"server-pid", required_argument, NULL, 'p'}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	size_t v;
	int ch;

	o->n = 100;
	o->rounds = 3;
	o->qps = 1000;
	o->burst = 1000;
	o->ns_prefix = "spok-bench";
	while ((ch = getopt_long(argc, argv, "n:h", longs, NULL)) != -1) {
		switch (ch) {
		case 'k': o->kubeconfig = optarg; break;
		case 'c': o->context = optarg; break;
		case 's': o->ns_prefix = optarg; break;
		case 'n':
			if (!parse_size(optarg, 1, MAX_JOBS, &o->n))
				return bad_number("-n", optarg);
			break;
		case 'r':
			if (!parse_size(optarg, 1, MAX_ROUNDS, &v))
				return bad_number("--rounds", optarg);
			o->rounds = (int)v;
			break;
		case 'q':
			if (!parse_size(optarg, 1, 1000000, &v))
				return bad_number("--qps", optarg);
			o->qps = (double)v;
			break;
		case 'b':
			if (!parse_size(optarg, 1, 1000000, &v))
				return bad_number("--burst", optarg);
			o->burst = (int)v;
			break;
		case 'p':
			if (o->nserver_pids == MAX_SERVER_PIDS ||
			    !parse_size(optarg, 1, 1u << 22, &v))
				return bad_number("--server-pid", optarg);
			o->server_pids[o->nserver_pids++] = (long)v;
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "bench_submit: unexpected argument '%s'; see --help\n", argv[optind]);
		return 2;
	}
	if (o->kubeconfig == NULL) {
		fprintf(stderr, "bench_submit: --kubeconfig is required; e.g. DIR/kubeconfig from "
				"scripts/k8s up DIR\n");
		return 2;
	}
	if (!valid_prefix(o->ns_prefix)) {
		fprintf(stderr, "bench_submit: --namespace '%s': want 1-32 characters of a-z, 0-9 "
				"and '-', not starting with '-'\n", o->ns_prefix);
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct spok_err err = {0};
	struct kube_config cfg;
	struct opts o = {0};
	uv_loop_t loop;
	int result;

	if ((result = parse_args(argc, argv, &o)) != 0)
		return result;
	if (kube_config_load(&cfg, o.kubeconfig, o.context, &err) != 0) {
		fprintf(stderr, "bench_submit: %s\n", err.msg);
		return 1;
	}
	uv_loop_init(&loop);
	result = run_rounds(&loop, &cfg, &o, &err);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	kube_config_free(&cfg);
	if (result != 0) {
		fprintf(stderr, "bench_submit: %s\n", err.msg);
		return 1;
	}
	return 0;
}
