/* bench_scale.c - one spok engine following N live SparkApplications: memory, CPU per status
 * event, tick cost, API calls at steady state, and the latency from a /status patch to the
 * phase committed in the store. Three subcommands, each its own process (run.sh drives them),
 * so the engine's RSS and CPU are its own:
 *
 *   populate  makes N objects exist in NAMESPACE: raw creates of the SparkApplications the
 *             engine would build (HTTP/2, up to 256 queued on the kube client), then their
 *             store rows as a submit leaves them after the create (QUEUED, "SparkApplication
 *             created", started_ms set, attempt row) in ONE transaction; appends "id name"
 *             lines to DIR/objects. Grows an existing set (10k, then 50k, ...).
 *   engine    a fresh engine (real store in DIR/data, real kube client) adopts every row
 *             (spok_engine_adopt_all: the path after a daemon restart) and follows them:
 *             reports adoption time, VmRSS/VmHWM and malloc'd heap, tick cost and API
 *             requests over a steady window, then runs `patch` children (separate
 *             processes: their CPU is not the engine's) and reports the engine's CPU per
 *             status event and the latency from each patch (handed to the patcher's client
 *             at its open-loop time) to the engine's CHANGED callback for the new phase
 *             (called after the store write committed).
 *   patch     COUNT merge patches of /status at RATE per second, open loop (each at
 *             start + k/RATE whatever the answers do), alternating objects between
 *             applicationState RUNNING and "" (QUEUED), so every patch is a phase change;
 *             writes one record per patch to OUT.
 *
 * Not a test: nothing asserts a timing. Usage: bench/scale/run.sh (see bench/README.md).
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>
#include <uv.h>

#include "common/log.h"
#include "common/pid.h"
#include "common/xalloc.h"
#include "engine/engine.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "model/model.h"
#include "sparkapp/sparkapp.h"
#include "store/store.h"

static const struct kube_gvr SPARK = SPOK_SPARKAPP_GVR;
static const struct kube_gvr NAMESPACES = {"", "v1", "namespaces"};
#define SPARK_VERSION "4.0.5"
#define CLUSTER "bench"
#define MAX_OBJECTS 1000000
#define MAX_RATES 8
#define MAX_SERVER_PIDS 4
#define CREATE_WINDOW 256

struct opts {
	const char *cmd, *kubeconfig, *context, *dir, *ns, *out, *perf_out;
	size_t n, count;
	double rate;
	double steady_s;
	size_t cpu_events;
	double cpu_rate;
	double rates[MAX_RATES];
	size_t nrates;
	double rate_s;
	long server_pids[MAX_SERVER_PIDS];
	int nserver_pids;
	int inflight; /* the kube clients' max_inflight (patcher: patches on the wire); 0: default */
	double rescan_ms; /* the engine's rescan_ms (0: its default, 30 s) */
};

/* One patch as the patcher saw it (times: CLOCK_MONOTONIC ns, the same clock in every
 * process on this machine, uv_hrtime). */
struct patch_rec {
	uint32_t obj;
	uint32_t phase; /* the phase the engine should record */
	uint64_t t_sched, t_sent, t_done;
	int32_t code;
	uint32_t pad;
};

static void die(const char *what, const struct spok_err *err)
{
	fprintf(stderr, "bench_scale: %s%s%s\n", what, err ? ": " : "", err ? err->msg : "");
	exit(1);
}

static double now_s(void)
{
	return (double)uv_hrtime() / 1e9;
}

static double cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* CPU (utime + stime) of the --server-pid processes in ms; -1 if unreadable. */
/* CPU time (user + system) of process pid in ms, -1 when it cannot be read. */
static double pid_cpu_ms(long pid)
{
	char path[64], line[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	if (p == NULL || (p = strrchr(line, ')')) == NULL ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) * 1e3 / (double)sysconf(_SC_CLK_TCK);
}

static double server_cpu_ms(const struct opts *o)
{
	double total = 0;

	if (o->nserver_pids == 0)
		return -1;
	for (int i = 0; i < o->nserver_pids; i++) {
		double ms = pid_cpu_ms(o->server_pids[i]);

		if (ms < 0)
			return -1;
		total += ms;
	}
	return total;
}

/* VmRSS / VmHWM of this process in KiB. */
static void mem_kib(long *rss, long *hwm)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	*rss = *hwm = 0;
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "VmRSS:", 6) == 0)
			*rss = strtol(line + 6, NULL, 10);
		else if (strncmp(line, "VmHWM:", 6) == 0)
			*hwm = strtol(line + 6, NULL, 10);
	}
	fclose(f);
}

/* Bytes malloc has handed out and not taken back (main arena + mmapped blocks). */
static double heap_kib(void)
{
	struct mallinfo2 mi = mallinfo2();

	return (double)(mi.uordblks + mi.hblkhd) / 1024.0;
}

/* Bytes malloc keeps free (in its arena, so still resident once touched). */
static double heap_free_kib(void)
{
	struct mallinfo2 mi = mallinfo2();

	return (double)mi.fordblks / 1024.0;
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
	return v[rank ? rank - 1 : 0];
}

static char *path_in(const struct opts *o, const char *name)
{
	return xasprintf("%s/%s", o->dir, name);
}

/* ---- the objects file: "id name" per line ---- */

struct objects {
	char (*id)[SPOK_EXEC_ID_LEN + 1];
	char **name;
	size_t n, cap;
	uint32_t *table; /* open addressing by id: index + 1, 0 empty */
	size_t table_cap;
};

static size_t id_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static void objects_add(struct objects *ob, const char *id, const char *name)
{
	if (ob->n == ob->cap) {
		ob->cap = ob->cap ? ob->cap * 2 : 1024;
		ob->id = xreallocarray(ob->id, ob->cap, sizeof(*ob->id));
		ob->name = xreallocarray(ob->name, ob->cap, sizeof(*ob->name));
	}
	snprintf(ob->id[ob->n], sizeof(ob->id[0]), "%s", id);
	ob->name[ob->n++] = xstrdup(name);
}

static void objects_index(struct objects *ob)
{
	for (ob->table_cap = 16; ob->table_cap < 2 * ob->n; ob->table_cap *= 2)
		;
	ob->table = xcalloc(ob->table_cap, sizeof(*ob->table));
	for (size_t i = 0; i < ob->n; i++) {
		size_t k = id_hash(ob->id[i]) & (ob->table_cap - 1);

		while (ob->table[k])
			k = (k + 1) & (ob->table_cap - 1);
		ob->table[k] = (uint32_t)i + 1;
	}
}

static long objects_find(const struct objects *ob, const char *id)
{
	if (id == NULL || ob->table == NULL)
		return -1;
	for (size_t k = id_hash(id) & (ob->table_cap - 1); ob->table[k];
	     k = (k + 1) & (ob->table_cap - 1))
		if (strcmp(ob->id[ob->table[k] - 1], id) == 0)
			return (long)ob->table[k] - 1;
	return -1;
}

static void objects_load(const struct opts *o, struct objects *ob, size_t max)
{
	char *path = path_in(o, "objects"), line[512], id[64], name[400];
	FILE *f = fopen(path, "r");

	memset(ob, 0, sizeof(*ob));
	if (f != NULL) {
		while (ob->n < max && fgets(line, sizeof(line), f))
			if (sscanf(line, "%63s %399s", id, name) == 2)
				objects_add(ob, id, name);
		fclose(f);
	}
	free(path);
}

static void objects_free(struct objects *ob)
{
	for (size_t i = 0; i < ob->n; i++)
		free(ob->name[i]);
	free(ob->name);
	free(ob->id);
	free(ob->table);
}

/* ---- the task the objects run (the engine's load_task gives the same one) ---- */

static void fill_task(struct spok_task *t)
{
	t->name = xstrdup("pi");
	t->project = xstrdup("spok");
	t->domain = xstrdup("development");
	t->type = SPOK_APP_PYTHON;
	t->main_application_file = xstrdup("local:///opt/spark/examples/src/main/python/pi.py");
	t->image = xstrdup("spark:" SPARK_VERSION);
	spok_strmap_set(&t->spark_conf, "spark.executor.instances", "2");
	spok_strmap_set(&t->spark_conf, "spark.driver.memory", "1g");
}

/* ---- bounded waits on the loop ---- */

static void guard_tick(uv_timer_t *t)
{
	(void)t;
}

typedef bool (*cond_fn)(void *data);

/* Runs the loop until cond holds or `limit` seconds pass; false on timeout. */
static bool run_until(uv_loop_t *loop, cond_fn cond, void *data, double limit)
{
	double end = now_s() + limit;
	uv_timer_t guard;
	bool ok = true;

	uv_timer_init(loop, &guard);
	uv_timer_start(&guard, guard_tick, 100, 100);
	while (!cond(data)) {
		if (now_s() > end) {
			ok = false;
			break;
		}
		uv_run(loop, UV_RUN_ONCE);
	}
	uv_timer_stop(&guard);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	return ok;
}

static bool never(void *data)
{
	(void)data;
	return false;
}

static struct kube_client *client_open(uv_loop_t *loop, const struct opts *o,
				       struct kube_config *cfg)
{
	struct kube_client_opts co = {.qps = 100000, .burst = 100000, .max_inflight = o->inflight};
	struct kube_client *c = NULL;
	struct spok_err err = {0};

	if (kube_config_load(cfg, o->kubeconfig, o->context, &err) != 0 ||
	    kube_client_new(loop, cfg, &co, &c, &err) != 0)
		die("kube client", &err);
	return c;
}

static void client_close(uv_loop_t *loop, struct kube_client *c, struct kube_config *cfg)
{
	kube_client_close(c);
	uv_run(loop, UV_RUN_DEFAULT);
	kube_config_free(cfg);
}

/* ---- populate ---- */

struct creator {
	uv_loop_t *loop;
	struct kube_client *c;
	const struct opts *o;
	struct spok_task task;
	struct spok_platform plat;
	struct objects *ob;
	size_t next, end, inflight, done, failed;
	char first_error[SPOK_ERR_MSG_MAX];
};

static void create_more(struct creator *cr);

static void created(void *data, const struct kube_resp *resp)
{
	struct creator *cr = data;

	cr->inflight--;
	cr->done++;
	if (resp->code != 0 && resp->code != SPOK_ECONFLICT && cr->failed++ == 0)
		snprintf(cr->first_error, sizeof(cr->first_error), "%s", resp->message);
	create_more(cr);
}

/* Builds and sends creates until CREATE_WINDOW are queued on the client. */
static void create_more(struct creator *cr)
{
	while (cr->next < cr->end && cr->inflight < CREATE_WINDOW) {
		struct spok_strmap labels = {0};
		struct spok_exec x = {0};
		struct spok_err err = {0};
		char id[SPOK_EXEC_ID_LEN + 1];
		json_t *app = NULL;

		if (spok_store_new_id(id, sizeof(id), &err) != 0)
			die("id", &err);
		spok_strmap_set(&labels, SPOK_LABEL_EXECUTION, id);
		x.execution_name = id;
		x.node_id = "n0";
		x.namespace_ = cr->o->ns;
		x.now_ms = spok_now_ms();
		x.labels = &labels;
		if (spok_sparkapp_build(&cr->task, &cr->plat, &x, &app, &err) != 0)
			die("build", &err);
		spok_strmap_free(&labels);
		json_object_set_new(json_object_get(app, "spec"), "sparkVersion",
				    json_string(SPARK_VERSION));
		objects_add(cr->ob, id,
			    json_string_value(json_object_get(json_object_get(app, "metadata"), "name")));
		if (kube_create(cr->c, &SPARK, cr->o->ns, app, created, cr, &err) != 0)
			die("create", &err);
		json_decref(app);
		cr->next++;
		cr->inflight++;
	}
}

static bool creator_done(void *data)
{
	const struct creator *cr = data;

	return cr->next == cr->end && cr->inflight == 0;
}

static void ns_ensure(uv_loop_t *loop, struct kube_client *c, const char *ns)
{
	struct kube_sync s = {0};
	struct spok_err err = {0};
	json_t *obj = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
				"metadata", "name", ns);
	int r = kube_create(c, &NAMESPACES, NULL, obj, kube_sync_cb, &s, &err);

	(void)loop;
	if (r == 0)
		r = kube_sync_wait(c, &s, &err);
	json_decref(obj);
	kube_sync_free(&s);
	if (r != 0 && r != SPOK_ECONFLICT)
		die("namespace", &err);
}

/* The rows of objects [from, to) as a submit leaves them once the create is confirmed,
 * one transaction. The supervisor is this process, gone by the time the engine adopts. */
static void insert_rows(const struct opts *o, const struct objects *ob, size_t from, size_t to)
{
	char *path = xasprintf("%s/data/spok.db", o->dir);
	struct spok_proc_id self = spok_proc_self();
	int64_t now = spok_now_ms();
	sqlite3_stmt *st, *at;
	sqlite3 *db;

	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA busy_timeout=10000; BEGIN IMMEDIATE", 0, 0, 0) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO executions (id, task_name, project, domain, backend,"
			       " namespace, resource_name, attempt, max_attempts, phase, reason,"
			       " created_ms, started_ms, supervisor_pid, supervisor_start, task_source)"
			       " VALUES (?,'pi','spok','development','" CLUSTER "',?,?,0,1,'QUEUED',"
			       "'SparkApplication created',?,?,?,?,'bench')", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO attempts (execution_id, attempt, phase, reason,"
			       " started_ms) VALUES (?,0,'QUEUED','SparkApplication created',?)", -1,
			       &at, NULL) != SQLITE_OK)
		die(sqlite3_errmsg(db), NULL);
	for (size_t i = from; i < to; i++) {
		sqlite3_bind_text(st, 1, ob->id[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, o->ns, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, ob->name[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, now - 1000);
		sqlite3_bind_int64(st, 5, now);
		sqlite3_bind_int64(st, 6, self.pid);
		sqlite3_bind_int64(st, 7, (sqlite3_int64)self.start);
		sqlite3_bind_text(at, 1, ob->id[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(at, 2, now);
		if (sqlite3_step(st) != SQLITE_DONE || sqlite3_step(at) != SQLITE_DONE)
			die(sqlite3_errmsg(db), NULL);
		sqlite3_reset(st);
		sqlite3_reset(at);
	}
	if (sqlite3_exec(db, "COMMIT", 0, 0, 0) != SQLITE_OK)
		die(sqlite3_errmsg(db), NULL);
	sqlite3_finalize(st);
	sqlite3_finalize(at);
	sqlite3_close(db);
	free(path);
}

static int cmd_populate(const struct opts *o)
{
	struct creator cr = {0};
	struct kube_config cfg;
	struct objects ob;
	struct spok_store *store;
	struct spok_err err = {0};
	char *data = path_in(o, "data"), *objpath = path_in(o, "objects");
	size_t have;
	double t0, t1, t2;
	uv_loop_t loop;
	FILE *f;

	objects_load(o, &ob, SIZE_MAX);
	have = ob.n;
	if (have >= o->n) {
		printf("populate: %zu objects already there\n", have);
		goto out;
	}
	mkdir(o->dir, 0700);
	mkdir(data, 0700);
	if (spok_store_open(data, &store, &err) != 0) /* creates the schema */
		die("store", &err);
	spok_store_close(store);
	uv_loop_init(&loop);
	cr.loop = &loop;
	cr.c = client_open(&loop, o, &cfg);
	cr.o = o;
	cr.ob = &ob;
	spok_task_init(&cr.task);
	fill_task(&cr.task);
	spok_platform_init(&cr.plat);
	ns_ensure(&loop, cr.c, o->ns);
	cr.next = have;
	cr.end = o->n;
	t0 = now_s();
	create_more(&cr);
	if (!run_until(&loop, creator_done, &cr, 600 + (double)(o->n - have) * 0.1))
		die("creates did not finish in time; see the API server's log", NULL);
	t1 = now_s();
	if (cr.failed)
		fprintf(stderr, "bench_scale: %zu creates failed, first: %s\n", cr.failed, cr.first_error);
	insert_rows(o, &ob, have, o->n);
	t2 = now_s();
	if ((f = fopen(objpath, "a")) == NULL)
		die(objpath, NULL);
	for (size_t i = have; i < o->n; i++)
		fprintf(f, "%s %s\n", ob.id[i], ob.name[i]);
	fclose(f);
	printf("populate: %zu objects created in %.1f s (%.0f/s, %zu failed), their rows in one "
	       "transaction in %.2f s; %zu in all\n", o->n - have, t1 - t0,
	       (double)(o->n - have) / (t1 - t0), cr.failed, t2 - t1, o->n);
	spok_task_free(&cr.task);
	spok_platform_free(&cr.plat);
	client_close(&loop, cr.c, &cfg);
	uv_loop_close(&loop);
out:
	objects_free(&ob);
	free(data);
	free(objpath);
	return 0;
}

/* ---- patch ---- */

struct patcher {
	const struct opts *o;
	struct kube_client *c;
	struct objects ob;
	unsigned char *state; /* per object: 0 = "" (QUEUED), 1 = RUNNING */
	size_t cursor;        /* next object to patch */
	struct patch_rec *recs;
	size_t sent, done, errors;
	uint64_t t0, interval_ns;
	uv_timer_t timer;
};

static void patched(void *data, const struct kube_resp *resp)
{
	struct patch_rec *r = data;

	r->t_done = uv_hrtime();
	r->code = resp->code;
}

static void pace(uv_timer_t *t)
{
	struct patcher *p = t->data;
	uint64_t now = uv_hrtime();

	while (p->sent < p->o->count && p->t0 + p->sent * p->interval_ns <= now) {
		struct patch_rec *r = &p->recs[p->sent];
		size_t i = p->cursor;
		struct spok_err err = {0};
		json_t *st;

		p->cursor = (p->cursor + 1) % p->ob.n;
		p->state[i] ^= 1;
		st = json_pack("{s:{s:s}}", "applicationState", "state", p->state[i] ? "RUNNING" : "");
		r->obj = (uint32_t)i;
		r->phase = p->state[i] ? SPOK_PHASE_RUNNING : SPOK_PHASE_QUEUED;
		r->t_sched = p->t0 + p->sent * p->interval_ns;
		r->t_sent = uv_hrtime();
		if (kube_patch_status(p->c, &SPARK, p->o->ns, p->ob.name[i], st, patched, r, &err) != 0)
			die("patch", &err);
		json_decref(st);
		p->sent++;
	}
	if (p->sent == p->o->count)
		uv_timer_stop(t);
}

static bool patcher_done(void *data)
{
	const struct patcher *p = data;
	size_t n = 0;

	if (p->sent < p->o->count)
		return false;
	for (size_t i = 0; i < p->sent; i++)
		n += p->recs[i].t_done != 0;
	return n == p->sent;
}

static void load_state(struct patcher *p, const struct opts *o)
{
	char *path = path_in(o, "state");
	FILE *f = fopen(path, "rb");

	p->state = xcalloc(p->ob.n + 1, 1);
	if (f != NULL) {
		unsigned long long cur = 0;

		if (fscanf(f, "%llu\n", &cur) == 1)
			p->cursor = (size_t)(cur % p->ob.n);
		/* A shorter (older) set: the objects it lacks are still at "". */
		(void)!fread(p->state, 1, p->ob.n, f);
		fclose(f);
	}
	free(path);
}

static void save_state(const struct patcher *p, const struct opts *o)
{
	char *path = path_in(o, "state");
	FILE *f = fopen(path, "wb");

	if (f == NULL)
		die(path, NULL);
	fprintf(f, "%zu\n", p->cursor);
	fwrite(p->state, 1, p->ob.n, f);
	fclose(f);
	free(path);
}

static int cmd_patch(const struct opts *o)
{
	struct patcher p = {.o = o};
	struct kube_config cfg;
	double cpu0, t0, rtt_p50, rtt_p99, *rtt;
	uv_loop_t loop;
	FILE *f;

	objects_load(o, &p.ob, o->n);
	if (p.ob.n == 0 || o->count == 0 || o->rate <= 0 || o->out == NULL)
		die("patch: needs objects (populate first), --count, --rate and --out", NULL);
	load_state(&p, o);
	p.recs = xcalloc(o->count, sizeof(*p.recs));
	uv_loop_init(&loop);
	p.c = client_open(&loop, o, &cfg);
	ns_ensure(&loop, p.c, o->ns); /* warms the connection (409: it exists) */
	cpu0 = cpu_ms();
	t0 = now_s();
	p.t0 = uv_hrtime();
	p.interval_ns = (uint64_t)(1e9 / o->rate);
	uv_timer_init(&loop, &p.timer);
	p.timer.data = &p;
	uv_timer_start(&p.timer, pace, 0, 1);
	if (!run_until(&loop, patcher_done, &p, 120 + (double)o->count / o->rate * 3))
		die("patches did not finish in time", NULL);
	uv_close((uv_handle_t *)&p.timer, NULL);
	rtt = xcalloc(o->count, sizeof(*rtt));
	for (size_t i = 0; i < o->count; i++) {
		rtt[i] = (double)(p.recs[i].t_done - p.recs[i].t_sent) / 1e6;
		p.errors += p.recs[i].code != 0;
	}
	rtt_p50 = percentile(rtt, o->count, 0.5);
	rtt_p99 = percentile(rtt, o->count, 0.99);
	if ((f = fopen(o->out, "wb")) == NULL || fwrite(p.recs, sizeof(*p.recs), o->count, f) != o->count)
		die(o->out, NULL);
	fclose(f);
	save_state(&p, o);
	printf("patch: %zu at %.0f/s asked, %.0f/s achieved (last answer at %.2f s), %zu errors, "
	       "answer p50 %.1f ms p99 %.1f ms, patcher CPU %.2f ms/patch\n", o->count, o->rate,
	       (double)o->count / (now_s() - t0), now_s() - t0, p.errors, rtt_p50, rtt_p99,
	       (cpu_ms() - cpu0) / (double)o->count);
	free(rtt);
	free(p.recs);
	free(p.state);
	client_close(&loop, p.c, &cfg);
	uv_loop_close(&loop);
	objects_free(&p.ob);
	return p.errors ? 1 : 0;
}

/* ---- engine ---- */

struct commit {
	uint32_t obj, phase;
	uint64_t t;
	int32_t next; /* the object's next commit, -1: none */
	bool used;
};

struct eng {
	uv_loop_t loop;
	struct objects ob;
	struct spok_engine *e;
	size_t tracked, failed, changed;
	bool recording;
	struct commit *commits;
	size_t ncommits, capcommits;
	int32_t *first, *last; /* per object: its first / last commit, -1: none */
	bool child_exited;
	int64_t child_status;
};

static void on_event(void *data, enum spok_engine_event ev, const struct spok_execution *x)
{
	struct eng *g = data;
	long i;

	switch (ev) {
	case SPOK_ENGINE_TRACKED:
		g->tracked++;
		return;
	case SPOK_ENGINE_CHANGED:
		g->changed++;
		if (!g->recording || (i = objects_find(&g->ob, x->id)) < 0)
			return;
		if (g->ncommits == g->capcommits) {
			g->capcommits = g->capcommits ? g->capcommits * 2 : 4096;
			g->commits = xreallocarray(g->commits, g->capcommits, sizeof(*g->commits));
		}
		g->commits[g->ncommits] = (struct commit){(uint32_t)i, (uint32_t)x->phase,
							  uv_hrtime(), -1, false};
		if (g->last[i] >= 0)
			g->commits[g->last[i]].next = (int32_t)g->ncommits;
		else
			g->first[i] = (int32_t)g->ncommits;
		g->last[i] = (int32_t)g->ncommits++;
		return;
	case SPOK_ENGINE_DONE:
	case SPOK_ENGINE_FAILED:
		g->failed++;
		return;
	}
}

static int load_task(void *data, const struct spok_execution *x, struct spok_task *out,
		     struct spok_err *err)
{
	(void)data;
	(void)x;
	(void)err;
	fill_task(out);
	return 0;
}

static bool all_tracked(void *data)
{
	const struct eng *g = data;

	return g->tracked >= g->ob.n || g->failed > 0;
}

static void child_exit(uv_process_t *p, int64_t status, int sig)
{
	struct eng *g = p->data;

	g->child_exited = true;
	g->child_status = sig ? 128 + sig : status;
	uv_close((uv_handle_t *)p, NULL);
}

static bool child_gone(void *data)
{
	return ((const struct eng *)data)->child_exited;
}

struct phase_result {
	size_t patches, matched, errors;
	double sent_rate; /* handed to the patcher's client (open loop: the asked rate) */
	double achieved;  /* answered by the API server: count / (last answer - first send) */
	double p50, p99, p50_done, p99_done, cpu_per_event, events;
	/* CPU per patch of each --server-pid (run.sh: the API server, then etcd), -1: unknown */
	double server_ms[MAX_SERVER_PIDS];
};

/* --perf: `perf record -g` of this process while the status events run (perf must be on the
 * PATH; the profile is only as good as the kernel lets it be). */
struct perf_run {
	uv_process_t proc;
	bool running;
};

static void perf_exit(uv_process_t *p, int64_t status, int sig)
{
	struct perf_run *pr = p->data;

	(void)status;
	(void)sig;
	pr->running = false;
	uv_close((uv_handle_t *)p, NULL);
}

static bool perf_gone(void *data)
{
	return !((const struct perf_run *)data)->running;
}

static void perf_start(uv_loop_t *loop, const char *out, struct perf_run *pr)
{
	char pid[32];
	const char *args[] = {"perf", "record", "-F", "999", "-g", "-p", pid, "-o", out, NULL};
	uv_process_options_t po = {0};
	uv_stdio_container_t stdio[3];
	int r;

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	for (int i = 0; i < 3; i++) {
		stdio[i].flags = i == 0 ? UV_IGNORE : UV_INHERIT_FD;
		stdio[i].data.fd = i;
	}
	po.file = "perf";
	po.args = (char **)args;
	po.exit_cb = perf_exit;
	po.stdio = stdio;
	po.stdio_count = 3;
	pr->proc.data = pr;
	if ((r = uv_spawn(loop, &pr->proc, &po)) != 0) {
		fprintf(stderr, "bench_scale: perf: %s; no profile\n", uv_strerror(r));
		return;
	}
	pr->running = true;
	run_until(loop, never, NULL, 1.0); /* perf attaches */
}

static void perf_stop(uv_loop_t *loop, struct perf_run *pr)
{
	if (!pr->running)
		return;
	uv_process_kill(&pr->proc, SIGINT);
	run_until(loop, perf_gone, pr, 60);
}

/* Runs a patcher child (this binary, `patch`), then matches its records with the commits. */
static void run_patches(struct eng *g, const struct opts *o, size_t count, double rate,
			struct phase_result *res)
{
	char *out = path_in(o, "patches.bin"), nbuf[32], cbuf[32], rbuf[32], ibuf[32], self[4096];
	const char *args[24];
	double srv0[MAX_SERVER_PIDS], srv[MAX_SERVER_PIDS];
	int na = 0;
	uv_process_options_t po = {0};
	uv_stdio_container_t stdio[3];
	uv_process_t proc;
	struct spok_engine_stats s0, s1;
	struct patch_rec *recs;
	double cpu0, *lat, *lat_done;
	uint64_t t_first = 0, t_last = 0, t_answered = 0;
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	FILE *f;
	int r;

	if (len <= 0)
		die("readlink /proc/self/exe", NULL);
	self[len] = '\0';
	snprintf(nbuf, sizeof(nbuf), "%zu", g->ob.n);
	snprintf(cbuf, sizeof(cbuf), "%zu", count);
	snprintf(rbuf, sizeof(rbuf), "%g", rate);
	args[na++] = self;
	args[na++] = "patch";
	args[na++] = "--kubeconfig";
	args[na++] = o->kubeconfig;
	if (o->context) {
		args[na++] = "--context";
		args[na++] = o->context;
	}
	args[na++] = "--dir";
	args[na++] = o->dir;
	args[na++] = "--namespace";
	args[na++] = o->ns;
	args[na++] = "-n";
	args[na++] = nbuf;
	args[na++] = "--count";
	args[na++] = cbuf;
	args[na++] = "--rate";
	args[na++] = rbuf;
	args[na++] = "--out";
	args[na++] = out;
	if (o->inflight > 0) {
		snprintf(ibuf, sizeof(ibuf), "%d", o->inflight);
		args[na++] = "--inflight";
		args[na++] = ibuf;
	}
	args[na] = NULL;
	for (int i = 0; i < 3; i++) {
		stdio[i].flags = UV_INHERIT_FD;
		stdio[i].data.fd = i;
	}
	po.file = self;
	po.args = (char **)args;
	po.exit_cb = child_exit;
	po.stdio = stdio;
	po.stdio_count = 3;
	memset(g->first, 0xff, g->ob.n * sizeof(*g->first));
	memset(g->last, 0xff, g->ob.n * sizeof(*g->last));
	g->ncommits = 0;
	g->recording = true;
	g->child_exited = false;
	fflush(stdout);
	spok_engine_stats(g->e, &s0);
	cpu0 = cpu_ms();
	for (int i = 0; i < o->nserver_pids; i++)
		srv0[i] = pid_cpu_ms(o->server_pids[i]);
	proc.data = g;
	if ((r = uv_spawn(&g->loop, &proc, &po)) != 0)
		die(uv_strerror(r), NULL);
	if (!run_until(&g->loop, child_gone, g, 900) || g->child_status != 0)
		die("the patcher failed (see its output above)", NULL);
	for (int i = 0; i < o->nserver_pids; i++) {
		double ms = pid_cpu_ms(o->server_pids[i]);

		srv[i] = ms >= 0 && srv0[i] >= 0 ? (ms - srv0[i]) / (double)count : -1;
	}
	if ((f = fopen(out, "rb")) == NULL)
		die(out, NULL);
	recs = xcalloc(count, sizeof(*recs));
	if (fread(recs, sizeof(*recs), count, f) != count)
		die("short patch records", NULL);
	fclose(f);
	/* Every commit the patches asked for, or 10 s after the last answer. */
	memset(res, 0, sizeof(*res));
	for (int i = 0; i < o->nserver_pids; i++)
		res->server_ms[i] = srv[i];
	lat = xcalloc(count, sizeof(*lat));
	lat_done = xcalloc(count, sizeof(*lat_done));
	for (double end = now_s() + 10; ; ) {
		res->matched = 0;
		for (size_t k = 0; k < count; k++) {
			const struct patch_rec *p = &recs[k];

			for (int32_t c = g->first[p->obj]; c >= 0; c = g->commits[c].next) {
				struct commit *cm = &g->commits[c];

				if (cm->used || cm->phase != p->phase || cm->t < p->t_sent)
					continue;
				cm->used = true;
				lat[res->matched] = (double)(int64_t)(cm->t - p->t_sent) / 1e6;
				lat_done[res->matched++] = (double)((int64_t)cm->t - (int64_t)p->t_done) / 1e6;
				break;
			}
		}
		if (res->matched == count || now_s() > end)
			break;
		for (size_t c = 0; c < g->ncommits; c++)
			g->commits[c].used = false;
		run_until(&g->loop, never, NULL, 0.5);
	}
	spok_engine_stats(g->e, &s1);
	res->events = (double)(s1.events - s0.events);
	res->cpu_per_event = (cpu_ms() - cpu0) / (res->events > 0 ? res->events : 1);
	g->recording = false;
	for (size_t k = 0; k < count; k++) {
		res->errors += recs[k].code != 0;
		if (k == 0 || recs[k].t_sent < t_first)
			t_first = recs[k].t_sent;
		if (recs[k].t_sent > t_last)
			t_last = recs[k].t_sent;
		if (recs[k].t_done > t_answered)
			t_answered = recs[k].t_done;
	}
	res->patches = count;
	res->sent_rate = count > 1 && t_last > t_first ? (double)(count - 1) / ((double)(t_last - t_first) / 1e9) : 0;
	res->achieved = t_answered > t_first ? (double)count / ((double)(t_answered - t_first) / 1e9) : 0;
	res->p50 = percentile(lat, res->matched, 0.5);
	res->p99 = percentile(lat, res->matched, 0.99);
	res->p50_done = percentile(lat_done, res->matched, 0.5);
	res->p99_done = percentile(lat_done, res->matched, 0.99);
	free(lat);
	free(lat_done);
	free(recs);
	free(out);
}

/* The servers' CPU per patch summed (-1: not known). */
static double server_sum(const struct opts *o, const struct phase_result *r)
{
	double t = 0;

	for (int i = 0; i < o->nserver_pids; i++) {
		if (r->server_ms[i] < 0)
			return -1;
		t += r->server_ms[i];
	}
	return o->nserver_pids ? t : -1;
}

static int cmd_engine(const struct opts *o)
{
	struct eng g = {0};
	struct kube_config cfg;
	struct kube_client *c;
	struct spok_store *store;
	struct spok_platform plat;
	struct spok_engine_opts eo = {0};
	struct spok_engine_stats s0, s1;
	struct kube_client_stats k0, k1;
	struct spok_err err = {0};
	struct phase_result cpu_res = {0}, lat_res[MAX_RATES];
	char *data = path_in(o, "data");
	long rss0, hwm0, rss1, hwm1, rss2, hwm2;
	double heap0, heap1, t0, t1, t2, cpu0, cpu_adopt, scpu0, scpu_steady = -1, cpu_steady;
	size_t adopted = 0;

	objects_load(o, &g.ob, o->n ? o->n : SIZE_MAX);
	if (g.ob.n == 0)
		die("engine: no objects; run populate first", NULL);
	objects_index(&g.ob);
	g.first = xcalloc(g.ob.n, sizeof(*g.first));
	g.last = xcalloc(g.ob.n, sizeof(*g.last));
	uv_loop_init(&g.loop);
	spok_platform_init(&plat);
	if (spok_store_open(data, &store, &err) != 0)
		die("store", &err);
	c = client_open(&g.loop, o, &cfg);
	mem_kib(&rss0, &hwm0);
	heap0 = heap_kib();
	eo.cluster = CLUSTER;
	eo.client = c;
	eo.store = store;
	eo.platform = &plat;
	eo.load_task = load_task;
	eo.on_event = on_event;
	eo.event_data = &g;
	eo.spark_version = SPARK_VERSION;
	/* The objects stay without a status (no operator here): without this the engine would
	 * fail them after 10 min as stuck in SUBMITTED, mid-bench. */
	eo.submitted_timeout_ms = 7ULL * 24 * 3600 * 1000;
	eo.rescan_ms = (uint64_t)o->rescan_ms;
	if (spok_engine_new(&eo, &g.e, &err) != 0)
		die("engine", &err);
	t0 = now_s();
	cpu0 = cpu_ms();
	if (spok_engine_adopt_all(g.e, &adopted, &err) != 0)
		die("adopt_all", &err);
	t1 = now_s();
	if (!run_until(&g.loop, all_tracked, &g, 600 + (double)g.ob.n * 0.01) || g.failed)
		die("not every adopted execution was seen by the watch in time", NULL);
	t2 = now_s();
	cpu_adopt = cpu_ms() - cpu0;
	mem_kib(&rss1, &hwm1);
	heap1 = heap_kib();
	printf("engine: N=%zu adopted %zu: adopt_all %.1f s (claims + rows), watch list handled "
	       "%.1f s later; engine CPU %.1f s (%.2f ms/execution)\n", g.ob.n, adopted, t1 - t0,
	       t2 - t1, cpu_adopt / 1e3, cpu_adopt / (double)g.ob.n);
	printf("  memory after adoption: VmRSS %.1f MiB (+%.1f), VmHWM %.1f MiB, malloc'd heap in "
	       "use +%.1f MiB = %.0f bytes/execution, free in malloc's arena %.1f MiB\n",
	       (double)rss1 / 1024, (double)(rss1 - rss0) / 1024, (double)hwm1 / 1024,
	       (heap1 - heap0) / 1024, (heap1 - heap0) * 1024 / (double)g.ob.n,
	       heap_free_kib() / 1024);
	/* Steady state: nothing changes on the cluster. */
	spok_engine_stats(g.e, &s0);
	kube_client_stats(c, &k0);
	cpu0 = cpu_ms();
	scpu0 = server_cpu_ms(o);
	run_until(&g.loop, never, NULL, o->steady_s);
	spok_engine_stats(g.e, &s1);
	kube_client_stats(c, &k1);
	cpu_steady = cpu_ms() - cpu0;
	if (scpu0 >= 0)
		scpu_steady = server_cpu_ms(o) - scpu0;
	printf("  steady %.0f s: %llu API requests (%.4f per execution), %llu ticks, %.1f us per "
	       "tick, %.2f executions stepped per tick, engine CPU %.1f ms/s%s",
	       o->steady_s, (unsigned long long)(k1.sent - k0.sent),
	       (double)(k1.sent - k0.sent) / (double)g.ob.n,
	       (unsigned long long)(s1.ticks - s0.ticks),
	       s1.ticks > s0.ticks ? (double)(s1.tick_ns - s0.tick_ns) / 1e3 / (double)(s1.ticks - s0.ticks) : 0,
	       s1.ticks > s0.ticks ? (double)(s1.tick_steps - s0.tick_steps) / (double)(s1.ticks - s0.ticks) : 0,
	       cpu_steady / o->steady_s, scpu_steady >= 0 ? "" : "\n");
	if (scpu_steady >= 0)
		printf(", API server + etcd CPU %.1f ms/s\n", scpu_steady / o->steady_s);
	if (o->cpu_events > 0) {
		struct perf_run pr = {0};

		if (o->perf_out)
			perf_start(&g.loop, o->perf_out, &pr);
		run_patches(&g, o, o->cpu_events, o->cpu_rate, &cpu_res);
		perf_stop(&g.loop, &pr);
		printf("  status events: %zu patches answered at %.0f/s: engine CPU %.3f ms per event (%.0f "
		       "events), %zu/%zu committed, p50 %.1f ms p99 %.1f ms\n", cpu_res.patches,
		       cpu_res.achieved, cpu_res.cpu_per_event, cpu_res.events, cpu_res.matched,
		       cpu_res.patches, cpu_res.p50, cpu_res.p99);
	}
	for (size_t i = 0; i < o->nrates; i++) {
		size_t count = (size_t)(o->rates[i] * o->rate_s);

		run_patches(&g, o, count, o->rates[i], &lat_res[i]);
		printf("  latency at %.0f/s asked (%.0f/s sent, %.0f/s answered): patch sent -> phase committed p50 "
		       "%.1f ms p99 %.1f ms (from the patch's answer: p50 %.1f p99 %.1f), %zu/%zu "
		       "committed, %zu patch errors, engine CPU %.3f ms/event\n", o->rates[i],
		       lat_res[i].sent_rate, lat_res[i].achieved, lat_res[i].p50, lat_res[i].p99, lat_res[i].p50_done,
		       lat_res[i].p99_done, lat_res[i].matched, lat_res[i].patches, lat_res[i].errors,
		       lat_res[i].cpu_per_event);
		for (int k = 0; k < o->nserver_pids; k++)
			printf("%s%.2f", k ? " + " : "    server CPU per patch (each --server-pid, ms): ",
			       lat_res[i].server_ms[k]);
		if (o->nserver_pids > 0)
			printf("\n");
	}
	mem_kib(&rss2, &hwm2);
	/* One line run.sh collects for its summary. */
	printf("result: n=%zu rss_mib=%.1f hwm_mib=%.1f heap_b=%.0f adopt_s=%.1f tick_us=%.1f "
	       "api_per_exec=%.4f cpu_event_ms=%.3f rss_end_mib=%.1f", g.ob.n, (double)rss1 / 1024,
	       (double)hwm2 / 1024, (heap1 - heap0) * 1024 / (double)g.ob.n, t2 - t0,
	       s1.ticks > s0.ticks ? (double)(s1.tick_ns - s0.tick_ns) / 1e3 / (double)(s1.ticks - s0.ticks) : 0,
	       (double)(k1.sent - k0.sent) / (double)g.ob.n, cpu_res.cpu_per_event,
	       (double)rss2 / 1024);
	for (size_t i = 0; i < o->nrates; i++)
		printf(" lat%.0f=%.0f/%.1f/%.1f/%.1f/%.1f/%.2f", o->rates[i], lat_res[i].achieved,
		       lat_res[i].p50, lat_res[i].p99, lat_res[i].p50_done, lat_res[i].p99_done,
		       server_sum(o, &lat_res[i]));
	printf("\n");
	fflush(stdout);
	spok_engine_close(g.e);
	client_close(&g.loop, c, &cfg);
	uv_loop_close(&g.loop);
	spok_store_close(store);
	spok_platform_free(&plat);
	objects_free(&g.ob);
	free(g.commits);
	free(g.first);
	free(g.last);
	free(data);
	return 0;
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_scale populate|engine|patch --kubeconfig FILE [--context NAME] --dir DIR\n"
		"                   --namespace NS [-n N] [options]\n"
		"  populate -n N                    make N objects and rows exist (grows DIR's set)\n"
		"  engine [-n N] [--steady S] [--cpu-events C] [--cpu-rate R] [--rates R1,R2,..]\n"
		"         [--rate-seconds S] [--server-pid PID]... [--perf FILE] [--inflight K]\n"
		"                                   adopt the first N (default all) and measure\n"
		"  patch -n N --count C --rate R --out FILE [--inflight K]   (run by engine)\n"
		"  --inflight K: requests on the wire per client (kube_client_opts.max_inflight;\n"
		"                default 64), a bench condition for the patcher's load\n"
		"  --rescan-ms MS: the engine's adopt rescan period (default 30 s): 1000 makes every\n"
		"                tick of the steady window include one\n");
}

static bool parse_num(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end != '\0' || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static int bad(const char *flag, const char *v)
{
	fprintf(stderr, "bench_scale: %s '%s': not a number in range; see --help\n", flag, v);
	return 2;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
		{"kubeconfig", required_argument, NULL, 'k'}, {"context", required_argument, NULL, 'c'},
		{"dir", required_argument, NULL, 'd'},        {"namespace", required_argument, NULL, 's'},
		{"count", required_argument, NULL, 'C'},      {"rate", required_argument, NULL, 'R'},
		{"out", required_argument, NULL, 'o'},        {"steady", required_argument, NULL, 'S'},
		{"cpu-events", required_argument, NULL, 'E'}, {"cpu-rate", required_argument, NULL, 'Q'},
		{"rates", required_argument, NULL, 'L'},      {"rate-seconds", required_argument, NULL, 'T'},
		{"server-pid", required_argument, NULL, 'p'}, {"perf", required_argument, NULL, 'P'},
		{"inflight", required_argument, NULL, 'I'},   {"rescan-ms", required_argument, NULL, 'M'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	double v;
	int ch;

	if (argc < 2 || argv[1][0] == '-') {
		usage(argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
		return argc >= 2 && strcmp(argv[1], "--help") == 0 ? -1 : 2;
	}
	o->cmd = argv[1];
	o->steady_s = 10;
	o->cpu_events = 2000;
	o->cpu_rate = 200;
	o->rate_s = 5;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "n:h", longs, NULL)) != -1) {
		switch (ch) {
		case 'k': o->kubeconfig = optarg; break;
		case 'c': o->context = optarg; break;
		case 'd': o->dir = optarg; break;
		case 's': o->ns = optarg; break;
		case 'o': o->out = optarg; break;
		case 'P': o->perf_out = optarg; break;
		case 'n':
			if (!parse_num(optarg, 1, MAX_OBJECTS, &v))
				return bad("-n", optarg);
			o->n = (size_t)v;
			break;
		case 'C':
			if (!parse_num(optarg, 1, 10000000, &v))
				return bad("--count", optarg);
			o->count = (size_t)v;
			break;
		case 'R':
			if (!parse_num(optarg, 0.1, 1e6, &o->rate))
				return bad("--rate", optarg);
			break;
		case 'S':
			if (!parse_num(optarg, 1, 3600, &o->steady_s))
				return bad("--steady", optarg);
			break;
		case 'E':
			if (!parse_num(optarg, 0, 1e6, &v))
				return bad("--cpu-events", optarg);
			o->cpu_events = (size_t)v;
			break;
		case 'Q':
			if (!parse_num(optarg, 0.1, 1e6, &o->cpu_rate))
				return bad("--cpu-rate", optarg);
			break;
		case 'T':
			if (!parse_num(optarg, 0.1, 3600, &o->rate_s))
				return bad("--rate-seconds", optarg);
			break;
		case 'L': {
			char *copy = xstrdup(optarg), *save = NULL;

			o->nrates = 0;
			for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				if (o->nrates == MAX_RATES || !parse_num(t, 0.1, 1e6, &o->rates[o->nrates])) {
					free(copy);
					return bad("--rates", optarg);
				}
				o->nrates++;
			}
			free(copy);
			break;
		}
		case 'p':
			if (o->nserver_pids == MAX_SERVER_PIDS || !parse_num(optarg, 1, 1 << 22, &v))
				return bad("--server-pid", optarg);
			o->server_pids[o->nserver_pids++] = (long)v;
			break;
		case 'I':
			if (!parse_num(optarg, 1, 100000, &v))
				return bad("--inflight", optarg);
			o->inflight = (int)v;
			break;
		case 'M':
			if (!parse_num(optarg, 1, 3600e3, &o->rescan_ms))
				return bad("--rescan-ms", optarg);
			break;
		case 'h': usage(stdout); return -1;
		default: usage(stderr); return 2;
		}
	}
	if (o->kubeconfig == NULL || o->dir == NULL || o->ns == NULL) {
		fprintf(stderr, "bench_scale: --kubeconfig, --dir and --namespace are required; see --help\n");
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	int r = parse_args(argc, argv, &o);

	if (r != 0)
		return r < 0 ? 0 : r;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(o.cmd, "populate") == 0) {
		if (o.n == 0)
			return bad("-n", "(missing)");
		return cmd_populate(&o);
	}
	if (strcmp(o.cmd, "engine") == 0)
		return cmd_engine(&o);
	if (strcmp(o.cmd, "patch") == 0)
		return cmd_patch(&o);
	fprintf(stderr, "bench_scale: unknown command '%s'; want populate, engine or patch\n", o.cmd);
	return 2;
}
