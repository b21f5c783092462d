/* engine.c - cluster executions: create, follow through one watch per namespace, retry,
 * time out, abort, tear down, re-adopt after a crash. See engine.h for the rules. */
#include "engine/engine.h"
#include "engine/flytedata.h"
#include "engine/reconcile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/log.h"
#include "common/pid.h"
#include "common/timefmt.h"
#include "common/xalloc.h"
#include "direct/direct.h"
#include "kube/watch.h"
#include "phase/phase.h"
#include "sparkapp/sparkapp.h"

static const struct kube_gvr SPARKAPPS = SPOK_SPARKAPP_GVR;
static const struct kube_gvr CONFIGMAPS = {"", "v1", "configmaps"};
static const struct kube_gvr PODS = {"", "v1", "pods"};
static const struct kube_gvr SERVICES = {"", "v1", "services"};

/* A namespace's watches, each started once an execution of its kind needs it: on
 * SparkApplications (operator submission) and on pods (direct submission: drivers and
 * executors). */
struct eng_ns {
	struct spok_engine *e;
	char *name;
	struct kube_watch *w;  /* sparkapplications, or NULL (its lists come page by page) */
	bool listed;           /* its first list arrived (all its pages) */
	struct kube_watch *pw; /* pods, or NULL */
	bool plisted;
	uint64_t list_gen, plist_gen; /* the generation of the list being delivered (on_relist) */
	struct eng_ns *next;
};

struct eng_exec {
	struct spok_engine *e;
	struct eng_ns *ns;
	struct spok_execution x;
	/* The task (engine.h, spok_engine_load_cb). Status events and ticks read only its shared
	 * view (tv; NULL: the task could not be loaded again). The whole task is kept for an
	 * execution submitted here (unless the engine's reload_tasks); else it is loaded again
	 * from its source for the one build or ship read that needs it (task_get). */
	struct eng_task *tv;
	struct spok_task *task; /* heap, or NULL */
	bool keep_task;
	char *load_error; /* why the task could not be loaded again (heap), or NULL */
	/* The reconciler's view (stage, deadlines on the loop's clock, backoff, ConfigMap
	 * flags); the row-derived fields are refreshed from x before every step. */
	struct spok_rc_state rc;
	char *waiting;  /* rc.waiting's own copy (heap), or NULL when there is none */
	/* The current attempt's SparkApplication, built once per attempt and dropped once the
	 * attempt's objects are created (drop_built); NULL then. */
	json_t *app;
	bool inflight;  /* a request of ours is pending: its callback owns the next step */
	bool orphan;    /* the engine closed while inflight: free in the callback */
	bool tracked;   /* a watch event for the current attempt was seen */
	/* The newest copy of our object seen by the watch while a request was in flight. The
	 * watch resumes after a list, so an object listed before its create was answered
	 * sends no event of its own: this copy is handled once the answer is in. */
	json_t *seen;
	/* Shipped files (ship_local_files): read once per engine (at submit, or lazily after
	 * re-adoption). */
	struct spok_ship ship;
	bool ship_read;
	/* The driver pod of the current attempt: status.driverInfo.podName as last seen (heap),
	 * NULL until the operator names it (then "<resource_name>-driver"). */
	char *driver_pod;
	bool pod_inflight; /* a read of it is pending (not a request of the attempt's own) */
	bool pod_warned;   /* a failed read was logged for this attempt */
	bool own_inflight; /* the ConfigMaps' owner patches are pending (SPOK_RC_OWN) */
	/* The followed object's uid once seen (direct: the driver pod's): the owner of the
	 * attempt's ConfigMaps (direct: and of its Service). */
	char *owner_uid;
	/* Direct submission (x.submission): the attempt's conf ConfigMap, driver pod and
	 * Service, built once per attempt from app; the newest copy of the pod; its executors
	 * as {pod: state}. */
	bool direct;
	struct spok_direct d;
	json_t *pod;
	json_t *executors;
	enum spok_rc_object req; /* the object the attempt's pending request is about */
	/* Links: the engine's list (iteration), its id table (lookups by id: watch events carry
	 * the execution label) and its timer heap (due = spok_rc_due; heap_at SIZE_MAX: not in
	 * it). linked: in the list and the table. */
	struct eng_exec *next, *prev, *hnext;
	bool linked;
	uint64_t due;
	size_t heap_at;
	uint64_t listed_gen; /* the namespace list that last held our object (on_relist) */
	/* Group commit: the row was written in the loop turn's batch and nothing follows until
	 * it is committed (flush): the step's remaining actions, or a submit's start, wait in
	 * resume. The reconciler sees it as a request in flight; watch events wait in seen. */
	bool committing;
	bool deleted_seen; /* a watch DELETED event came meanwhile (stepped after the commit) */
	bool unlisted_seen, unlisted_first; /* a list without our object came meanwhile */
	struct eng_resume *resume;
	struct eng_exec *cnext; /* the engine's commit queue */
};

/* What waits for an execution's write to be committed. */
struct eng_resume {
	uint64_t gen;      /* the store batch the write went into (its outcome is this one's) */
	bool start;        /* a submit: emit, then the attempt's START */
	const char *crash; /* the crash point right after the write, or NULL */
	size_t n; /* the step's actions after the write (not a whole spok_rc_actions: its */
	struct spok_rc_action a[SPOK_RC_MAX_ACTIONS]; /* buffers would make this 3 KB) */
	char *strs[2 * SPOK_RC_MAX_ACTIONS]; /* the records' reasons and errors, copied */
};

/* What a followed execution needs of its task between builds, shared by every execution
 * whose view is the same (the same task file run again and again): the status mapping's log
 * links read name, version, project, domain and config; spok_fd_applies reads origin and
 * flyte_execution_name; the reconciler the timeout. One copy per distinct view instead of a
 * whole struct spok_task (~1 KB and its strings) per execution. */
struct eng_task {
	size_t refs;
	char *key;             /* every field of the view, for the engine's table */
	struct spok_task view; /* only the fields above are set */
	bool has_local;        /* a local path to ship (task_has_local of the whole task) */
	struct eng_task *next; /* the engine's table chain */
};

/* An unfinished execution that another live process follows (adopt_all found it so). */
struct held {
	char *id;
	struct spok_proc_id sup;
};

struct spok_engine {
	struct spok_engine_opts o;
	struct spok_rc_config rc; /* the reconciler's rules, from o */
	char *cluster;
	char *spark_version;
	uv_loop_t *loop;
	uv_timer_t tick;
	struct eng_ns *nss;
	struct eng_exec *execs;
	struct eng_exec **byid; /* chained hash table of the linked executions by id */
	size_t byid_cap;        /* a power of two, or 0 */
	struct eng_task **views; /* chained hash table of the shared task views by key */
	size_t views_cap, nviews;
	struct eng_exec **heap; /* min-heap by due: what a tick visits */
	size_t nheap, capheap;
	uint64_t list_gen;
	struct spok_engine_stats stats;
	struct spok_proc_id self; /* recorded as the supervisor of what we follow */
	/* After adopt_all: rows other live processes follow are re-checked every tick and
	 * taken over once their supervisor is gone; a rescan every rescan_ms finds rows written
	 * since (e.g. by a `spok run --cluster` that was killed later). The rescan reads only
	 * rows another process supervises (spok_store_list_unfinished_others) and the rows in
	 * lost: ours in the store, unfinished, but no longer followed (done() before the row
	 * said finished, e.g. store_failed). */
	bool adopting;
	struct held *held;
	size_t nheld, capheld;
	struct spok_strv lost;
	uint64_t next_rescan_ms; /* loop time */
	/* Group commit: every row write of a loop turn goes into one transaction, committed
	 * before the loop polls (prepare) and after the I/O it handled (check); the executions
	 * whose writes wait for it, in order. */
	uv_prepare_t flush_prep;
	uv_check_t flush_check;
	bool flush_armed;
	struct eng_exec *cq, **cq_tail;
	uint64_t submit_gen; /* the batch of the last submit's row (spok_engine_sync) */
	struct spok_engine_wait *waits; /* spok_engine_wait_durable: told after the commit */
	int pending;    /* inflight calls + the timer and flush handles */
	int loose;      /* not an attempt's own: loose deletes, owner patches */
	bool closed;
};

/* ---- fault injection: test builds only (CMake option SPOK_TEST_HOOKS) ---- */

#ifdef SPOK_TEST_HOOKS
static void crash_point(const char *name)
{
	const char *at = getenv("SPOK_CRASH_AT");

	if (at != NULL && strcmp(at, name) == 0) {
		fprintf(stderr, "spok: SPOK_CRASH_AT=%s: exiting (test fault injection)\n", name);
		_exit(137);
	}
}
#else
static void crash_point(const char *name)
{
	(void)name;
}
#endif

/* ---- small helpers ---- */

/* v may be *dst itself (a record of the row's own reason). */
static void set_str(char **dst, const char *v)
{
	char *copy = (v && v[0]) ? xstrdup(v) : NULL;

	free(*dst);
	*dst = copy;
}

static bool str_eq(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static void held_clear(struct spok_engine *e)
{
	for (size_t i = 0; i < e->nheld; i++)
		free(e->held[i].id);
	e->nheld = 0;
}

static void maybe_free_engine(struct spok_engine *e)
{
	if (e->closed && e->pending == 0) {
		held_clear(e);
		free(e->held);
		spok_strv_free(&e->lost);
		free(e->byid);
		free(e->views);
		free(e->heap);
		free(e->cluster);
		free(e->spark_version);
		free(e);
	}
}

static void set_seen(struct eng_exec *ex, const json_t *app)
{
	json_decref(ex->seen);
	ex->seen = app ? json_incref((json_t *)app) : NULL;
}

/* The reason a task could not be loaded again, as clients may see it (the reason reaches the
 * API): the stored file named by its base name, not by its path on this host. */
static char *load_error_of(const struct spok_execution *x, const char *msg)
{
	const char *src = x->task_source, *base;
	size_t n = src ? strlen(src) : 0;

	if (msg[0] == '\0')
		msg = "no task loader";
	if (n == 0)
		return xstrdup(msg);
	base = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
	if (strncmp(msg, src, n) == 0)
		return xasprintf("%s%s", base, msg + n);
	return xasprintf("%s: %s", base, msg);
}

/* ---- tasks: shared views, the whole task only while needed ---- */

static size_t id_hash(const char *s);
static bool task_has_local(const struct spok_task *t);

/* Appends v to the key with its length (and whether it is NULL), so that two different
 * views never share a key. */
static void key_add(char **k, size_t *len, const char *v)
{
	size_t n = v ? strlen(v) : 0;
	char head[32];
	int h = snprintf(head, sizeof(head), "%zu%c", n, v ? ':' : '!');

	*k = xrealloc(*k, *len + (size_t)h + n + 1);
	memcpy(*k + *len, head, (size_t)h);
	if (n)
		memcpy(*k + *len + (size_t)h, v, n);
	*len += (size_t)h + n;
	(*k)[*len] = '\0';
}

static char *view_key(const struct spok_task *t, bool has_local)
{
	char *k = NULL, num[64];
	size_t len = 0;

	snprintf(num, sizeof(num), "%d/%llu/%d", (int)t->origin, (unsigned long long)t->timeout_s,
		 has_local);
	key_add(&k, &len, num);
	key_add(&k, &len, t->name);
	key_add(&k, &len, t->version);
	key_add(&k, &len, t->project);
	key_add(&k, &len, t->domain);
	key_add(&k, &len, t->flyte_execution_name);
	for (size_t i = 0; i < t->config.len; i++) {
		key_add(&k, &len, t->config.items[i].key);
		key_add(&k, &len, t->config.items[i].value);
	}
	return k;
}

static struct eng_task **view_slot(struct spok_engine *e, const char *key)
{
	return &e->views[id_hash(key) & (e->views_cap - 1)];
}

static void views_grow(struct spok_engine *e)
{
	struct eng_task **old = e->views;
	size_t n = e->views_cap;

	e->views_cap = n ? n * 2 : 16;
	e->views = xcalloc(e->views_cap, sizeof(*e->views));
	for (size_t i = 0; i < n; i++)
		for (struct eng_task *v = old[i], *nx; v; v = nx) {
			struct eng_task **slot = view_slot(e, v->key);

			nx = v->next;
			v->next = *slot;
			*slot = v;
		}
	free(old);
}

/* t's shared view, one more reference to it (view_put). */
static struct eng_task *view_get(struct spok_engine *e, const struct spok_task *t)
{
	bool local = task_has_local(t);
	char *key = view_key(t, local);
	struct eng_task *v, **slot;

	for (v = e->views_cap ? *view_slot(e, key) : NULL; v; v = v->next)
		if (strcmp(v->key, key) == 0) {
			free(key);
			v->refs++;
			return v;
		}
	if (e->nviews + 1 > e->views_cap)
		views_grow(e);
	v = xcalloc(1, sizeof(*v));
	v->refs = 1;
	v->key = key;
	v->has_local = local;
	spok_task_init(&v->view);
	v->view.origin = t->origin;
	v->view.name = xstrdup(t->name);
	v->view.version = xstrdup(t->version);
	v->view.project = xstrdup(t->project);
	v->view.domain = xstrdup(t->domain);
	v->view.flyte_execution_name = xstrdup(t->flyte_execution_name);
	v->view.timeout_s = t->timeout_s;
	spok_strmap_copy(&v->view.config, &t->config);
	slot = view_slot(e, key);
	v->next = *slot;
	*slot = v;
	e->nviews++;
	return v;
}

static void view_put(struct spok_engine *e, struct eng_task *v)
{
	if (v == NULL || --v->refs > 0)
		return;
	for (struct eng_task **p = view_slot(e, v->key); *p; p = &(*p)->next)
		if (*p == v) {
			*p = v->next;
			break;
		}
	e->nviews--;
	spok_task_free(&v->view);
	free(v->key);
	free(v);
}

/* The whole task no longer needed: freed unless kept. */
static void task_done(struct eng_exec *ex)
{
	if (ex->task != NULL && !ex->keep_task) {
		spok_task_free(ex->task);
		free(ex->task);
		ex->task = NULL;
	}
}

/* ex's task becomes t (taken over: *t is left empty): its view, and t itself when keep. */
static void task_set(struct eng_exec *ex, struct spok_task *t, bool keep)
{
	struct eng_task *v = view_get(ex->e, t);

	view_put(ex->e, ex->tv);
	ex->tv = v;
	ex->keep_task = false;
	task_done(ex);
	ex->task = xmalloc(sizeof(*ex->task));
	*ex->task = *t;
	spok_task_init(t);
	ex->keep_task = keep;
	task_done(ex);
}

static void task_unset(struct eng_exec *ex)
{
	view_put(ex->e, ex->tv);
	ex->tv = NULL;
	ex->keep_task = false;
	task_done(ex);
}

/* The whole task for one build or ship read (task_done after it): the kept one, else loaded
 * again from its source (its view follows what was loaded). A task that could not be loaded
 * at adoption is not asked for again. */
static int task_get(struct eng_exec *ex, const struct spok_task **out, struct spok_err *err)
{
	struct spok_err lerr = {0};
	struct spok_task t;

	if (ex->task != NULL) {
		*out = ex->task;
		return 0;
	}
	if (ex->tv != NULL && ex->e->o.load_task != NULL) {
		spok_task_init(&t);
		if (ex->e->o.load_task(ex->e->o.load_data, &ex->x, &t, &lerr) == 0) {
			task_set(ex, &t, true); /* kept until task_done */
			ex->keep_task = false;
			*out = ex->task;
			return 0;
		}
		spok_task_free(&t);
		log_warn("engine: %s: cannot reload the task: %s", ex->x.id, lerr.msg);
		free(ex->load_error);
		ex->load_error = load_error_of(&ex->x, lerr.msg);
	}
	return spok_err_set(err, SPOK_EINVAL, "execution %s: the task could not be loaded again "
			    "(%s); run the job again", ex->x.id,
			    ex->load_error ? ex->load_error : "no task source");
}

static void exec_free(struct eng_exec *ex)
{
	set_seen(ex, NULL);
	json_decref(ex->app);
	spok_execution_free(&ex->x);
	task_unset(ex);
	free(ex->load_error);
	free(ex->waiting);
	free(ex->driver_pod);
	spok_ship_free(&ex->ship);
	spok_direct_free(&ex->d);
	free(ex->owner_uid);
	json_decref(ex->pod);
	json_decref(ex->executors);
	free(ex);
}

static void emit(struct eng_exec *ex, enum spok_engine_event ev)
{
	if (ex->e->o.on_event)
		ex->e->o.on_event(ex->e->o.event_data, ev, &ex->x);
}

static const char *app_label(const json_t *app, const char *key)
{
	json_t *md = json_object_get(app, "metadata");

	return json_string_value(json_object_get(json_object_get(md, "labels"), key));
}

static const char *app_name(const json_t *app)
{
	return json_string_value(json_object_get(json_object_get(app, "metadata"), "name"));
}

/* Where the driver writes its event log (spark.eventLog.dir when enabled: from the platform's
 * spok.event-log or its spark-config-default), recorded for `spok status`; else NULL. */
static const char *app_event_log_dir(const json_t *app)
{
	const json_t *conf = json_object_get(json_object_get(app, "spec"), "sparkConf");
	const char *on = json_string_value(json_object_get(conf, "spark.eventLog.enabled"));

	if (on == NULL || strcasecmp(on, "true") != 0) /* Scala's toBoolean ignores case */
		return NULL;
	return json_string_value(json_object_get(conf, "spark.eventLog.dir"));
}

/* The task has a path on the submitting machine (pi.py, /home/x/job.jar) as its main file,
 * among its pyFiles or among its files. */
static bool task_has_local(const struct spok_task *t)
{
	const char *field;

	return spok_ship_first_local(t, &field) != NULL;
}

/* This execution's attempts come with a shipped-files ConfigMap. A task that cannot be
 * loaded again may have one: its teardown looks for it too. */
static bool ships(const struct eng_exec *ex)
{
	return ex->e->o.ship_local_files && (ex->tv == NULL || ex->tv->has_local);
}

/* Without shipping, a local path names a file on this host: refused, never read. */
static int refuse_local(const struct spok_engine *e, const struct spok_task *t,
			struct spok_err *err)
{
	const char *field, *path = spok_ship_first_local(t, &field);

	if (e->o.ship_local_files || path == NULL)
		return SPOK_OK;
	return spok_err_set(err, SPOK_EINVAL,
			    "%s %s: a path on the submitting machine; this server "
			    "does not ship local files: name a file in the image (local:///...) or a "
			    "URI (s3a://, https://), or run the job with 'spok run --cluster'",
			    field, path);
}

/* ---- the executions' list, id table and timer heap ---- */

static size_t id_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static struct eng_exec **byid_slot(struct spok_engine *e, const char *id)
{
	return &e->byid[id_hash(id) & (e->byid_cap - 1)];
}

static void byid_grow(struct spok_engine *e)
{
	struct eng_exec **old = e->byid;
	size_t n = e->byid_cap;

	e->byid_cap = n ? n * 2 : 64;
	e->byid = xcalloc(e->byid_cap, sizeof(*e->byid));
	for (size_t i = 0; i < n; i++)
		for (struct eng_exec *ex = old[i], *nx; ex; ex = nx) {
			struct eng_exec **slot = byid_slot(e, ex->x.id);

			nx = ex->hnext;
			ex->hnext = *slot;
			*slot = ex;
		}
	free(old);
}

static struct eng_exec *find_id(struct spok_engine *e, const char *id)
{
	if (e->byid_cap == 0 || id == NULL)
		return NULL;
	for (struct eng_exec *ex = *byid_slot(e, id); ex; ex = ex->hnext)
		if (strcmp(ex->x.id, id) == 0)
			return ex;
	return NULL;
}

static bool heap_less(const struct spok_engine *e, size_t a, size_t b)
{
	return e->heap[a]->due < e->heap[b]->due;
}

static void heap_swap(struct spok_engine *e, size_t a, size_t b)
{
	struct eng_exec *t = e->heap[a];

	e->heap[a] = e->heap[b];
	e->heap[b] = t;
	e->heap[a]->heap_at = a;
	e->heap[b]->heap_at = b;
}

static void heap_fix(struct spok_engine *e, size_t i)
{
	while (i > 0 && heap_less(e, i, (i - 1) / 2)) {
		heap_swap(e, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t l = 2 * i + 1, m = i;

		if (l < e->nheap && heap_less(e, l, m))
			m = l;
		if (l + 1 < e->nheap && heap_less(e, l + 1, m))
			m = l + 1;
		if (m == i)
			return;
		heap_swap(e, i, m);
		i = m;
	}
}

static void heap_remove(struct spok_engine *e, struct eng_exec *ex)
{
	size_t i = ex->heap_at;

	if (i == SIZE_MAX)
		return;
	ex->heap_at = SIZE_MAX;
	if (i != --e->nheap) {
		e->heap[i] = e->heap[e->nheap];
		e->heap[i]->heap_at = i;
		heap_fix(e, i);
	}
}

/* Puts ex in the heap at `due`, moves it, or takes it out (SPOK_RC_NEVER). */
static void heap_set(struct spok_engine *e, struct eng_exec *ex, uint64_t due)
{
	ex->due = due;
	if (due == SPOK_RC_NEVER || !ex->linked) {
		heap_remove(e, ex);
		return;
	}
	if (ex->heap_at == SIZE_MAX) {
		if (e->nheap == e->capheap) {
			e->capheap = e->capheap ? e->capheap * 2 : 64;
			e->heap = xreallocarray(e->heap, e->capheap, sizeof(*e->heap));
		}
		ex->heap_at = e->nheap;
		e->heap[e->nheap++] = ex;
	}
	heap_fix(e, ex->heap_at);
}

static void link_exec(struct spok_engine *e, struct eng_exec *ex)
{
	struct eng_exec **slot;

	if (e->stats.active + 1 > e->byid_cap)
		byid_grow(e);
	slot = byid_slot(e, ex->x.id);
	ex->hnext = *slot;
	*slot = ex;
	ex->prev = NULL;
	ex->next = e->execs;
	if (e->execs)
		e->execs->prev = ex;
	e->execs = ex;
	ex->linked = true;
	e->stats.active++;
}

static void unlink_exec(struct eng_exec *ex)
{
	struct spok_engine *e = ex->e;

	if (!ex->linked)
		return;
	for (struct eng_exec **p = byid_slot(e, ex->x.id); *p; p = &(*p)->hnext)
		if (*p == ex) {
			*p = ex->hnext;
			break;
		}
	if (ex->prev)
		ex->prev->next = ex->next;
	else
		e->execs = ex->next;
	if (ex->next)
		ex->next->prev = ex->prev;
	ex->next = ex->prev = ex->hnext = NULL;
	ex->linked = false;
	heap_remove(e, ex);
	e->stats.active--;
}

/* The execution leaves the engine. */
static void done(struct eng_exec *ex)
{
	ex->rc.stage = SPOK_RC_STAGE_DONE;
	emit(ex, SPOK_ENGINE_DONE);
	if (ex->e->adopting && !ex->e->closed && ex->linked && spok_engine_needs_work(&ex->x))
		spok_strv_push(&ex->e->lost, ex->x.id); /* the next rescan reads its row again */
	unlink_exec(ex);
	if (!ex->inflight)
		exec_free(ex);
	else
		ex->orphan = true;
}

static void on_flush_prep(uv_prepare_t *h);
static void on_flush_check(uv_check_t *h);

/* The batch is committed this loop turn: right before the loop polls (writes made by
 * timers, or outside the loop) and right after the I/O it handled. */
static void arm_flush(struct spok_engine *e)
{
	if (e->flush_armed || e->closed)
		return;
	uv_prepare_start(&e->flush_prep, on_flush_prep);
	uv_check_start(&e->flush_check, on_flush_check);
	e->flush_armed = true;
}

/* Writes the row into the loop turn's batch (group commit): the caller parks what follows
 * until the batch is committed, and tells the callback only then. A failure here is the
 * write's own (the row is unchanged) and known at once, as without a batch. */
static int save(struct eng_exec *ex, struct spok_err *err)
{
	ex->e->stats.store_writes++;
	arm_flush(ex->e); /* even a failed write may have opened the batch */
	return spok_store_batch_update(ex->e->o.store, &ex->x, err);
}

/* A request of the attempt's own, or a write waiting for its commit: either way the next
 * step is the answer's (the reconciler sees both as in flight). */
static bool busy(const struct eng_exec *ex)
{
	return ex->inflight || ex->committing;
}

static void resume_free(struct eng_resume *r)
{
	for (size_t i = 0; i < sizeof(r->strs) / sizeof(r->strs[0]); i++)
		free(r->strs[i]);
	free(r);
}

static const char *keep_str(struct eng_resume *r, size_t slot, const char *v)
{
	r->strs[slot] = v ? xstrdup(v) : NULL;
	return r->strs[slot];
}

/* r waits for out's actions from `from` on (after those it holds). */
static void park_actions(struct eng_resume *r, const struct spok_rc_actions *out, size_t from)
{
	for (size_t i = from; out != NULL && i < out->n; i++) {
		struct spok_rc_action *a = &r->a[r->n];

		*a = out->a[i];
		if (a->kind == SPOK_RC_RECORD) {
			a->reason = keep_str(r, 2 * r->n, a->reason);
			a->error_message = keep_str(r, 2 * r->n + 1, a->error_message);
		}
		r->n++;
	}
}

/* A second write of ex's row before the first's commit. It is part of the same group
 * commit: the row is written whole, so the outcome of the batch it went into (the same
 * batch, or a later one if another engine committed meanwhile) is both writes' outcome,
 * and its actions run after the first's once that commit is known. A submit's START, or
 * more actions than one step has, cannot be carried: refused loudly as before. */
static void park_again(struct eng_exec *ex, const char *crash, const struct spok_rc_actions *out,
		       size_t from)
{
	struct eng_resume *r = ex->resume;
	size_t more = out != NULL && out->n > from ? out->n - from : 0;

	if (r->start || out == NULL || r->n + more > sizeof(r->a) / sizeof(r->a[0])) {
		log_error("engine: %s: a second write while one waits for its commit; please report",
			  ex->x.id);
		return;
	}
	r->gen = spok_store_batch_gen(ex->e->o.store);
	if (r->crash == NULL)
		r->crash = crash;
	park_actions(r, out, from);
}

/* ex's row was written into the batch: the step's actions from `from` on (out NULL: a
 * submit's START), and crash point `crash`, wait for the commit (flush). Records among them
 * keep their own copies of their strings (the step's event and buffers are gone by then). */
static void park(struct eng_exec *ex, const char *crash, const struct spok_rc_actions *out,
		 size_t from)
{
	struct spok_engine *e = ex->e;
	struct eng_resume *r = ex->resume;

	if (r != NULL) { /* not expected: the reconciler acts on nothing while ex is busy */
		park_again(ex, crash, out, from);
		return;
	}
	r = xcalloc(1, sizeof(*r));
	r->gen = spok_store_batch_gen(e->o.store);
	r->crash = crash;
	r->start = out == NULL;
	park_actions(r, out, from);
	ex->resume = r;
	ex->committing = true;
	ex->cnext = NULL;
	*e->cq_tail = ex;
	e->cq_tail = &ex->cnext;
	arm_flush(e);
}

/* The FAILED event (or the log line) of an execution whose write was lost: the engine stops
 * following it; what happens to it is the store's rows' to say. */
static void unrecorded(struct eng_exec *ex, const struct spok_err *err)
{
	char *msg = xasprintf("execution %s: cannot record it in the store (%s); stopped "
			      "following it: 'spok reconcile' continues once the store is writable",
			      ex->x.id, err->msg);

	if (ex->e->o.on_event == NULL) /* else the event is how it surfaces: one line, once */
		log_error("engine: %s", msg);
	free(ex->x.error_message);
	ex->x.error_message = msg;
	emit(ex, SPOK_ENGINE_FAILED);
}

/* A write to the store failed: the row no longer says what the engine would do next, so the
 * engine stops following the execution instead of acting on the cluster beyond what is
 * durable (above all: no create whose write-ahead row is missing). The row still names this
 * process as its supervisor: after it exits (the CLI), or at the next rescan (the daemon),
 * re-adoption continues from what the store holds. */
static void store_failed(struct eng_exec *ex, const struct spok_err *err)
{
	unrecorded(ex, err);
	done(ex);
}

/* ---- the reconciler's steps ---- */

/* What an action did: go on with the next one, stop (it stepped the reconciler again with
 * the outcome, or the rest waits for a commit: park), or the execution left the engine (ex
 * may be freed). */
enum act { ACT_NEXT, ACT_STOP, ACT_GONE };

static enum act perform(struct eng_exec *ex, const struct spok_rc_actions *out);
static bool handle_obj(struct eng_exec *ex, const json_t *obj);
static void flush(struct spok_engine *e);

/* The row-derived part of the reconciler's state, from x. While actions of a step wait for
 * a commit (park) the reconciler is ahead of the row (e.g. a NEW_ATTEMPT not performed
 * yet): its phase, attempt, object name and confirmation stay as it decided them, and
 * the row catches up when those actions run. */
static void rc_refresh(struct eng_exec *ex)
{
	struct spok_rc_state *r = &ex->rc;
	const struct spok_execution *x = &ex->x;

	if (ex->resume == NULL || ex->resume->n == 0) {
		r->phase = x->phase;
		r->phase_version = x->phase_version;
		r->name = x->resource_name;
		r->attempt = x->attempt;
		r->confirmed = x->started_ms != 0;
	}
	r->reason = x->reason; /* the step's own strings are gone: the row's, valid meanwhile */
	r->id = x->id;
	r->ns = x->namespace_;
	r->max_attempts = x->max_attempts;
	r->abort_requested = x->abort_requested;
	r->inflight = busy(ex);
	r->timeout_ms = ex->tv ? ex->tv->view.timeout_s * 1000 : 0;
	r->ships = ships(ex);
	r->direct = ex->direct;
	r->pod_inflight = ex->pod_inflight;
	r->own_inflight = ex->own_inflight;
}

/* ex's place in the timer heap, from its state now. */
static void schedule(struct eng_exec *ex)
{
	rc_refresh(ex);
	heap_set(ex->e, ex, spok_rc_due(&ex->e->rc, &ex->rc));
}

/* A step that set a new waiting message left it in its actions (out.waiting, gone after
 * the step): the execution keeps its own copy, and none while there is no message. */
static void keep_waiting(struct eng_exec *ex)
{
	const char *w = ex->rc.waiting;

	if (w == ex->waiting)
		return;
	if (w == NULL || w[0] == '\0') {
		set_str(&ex->waiting, NULL);
		ex->rc.waiting = NULL;
		return;
	}
	set_str(&ex->waiting, w);
	ex->rc.waiting = ex->waiting;
}

/* One reconciler step on the loop's clock, its actions carried out. False: ex left the
 * engine (it may be freed). */
static bool step(struct eng_exec *ex, const struct spok_rc_event *ev)
{
	struct spok_rc_state next;
	struct spok_rc_actions out;

	rc_refresh(ex);
	spok_rc_step(&ex->e->rc, &ex->rc, ev, uv_now(ex->e->loop), &next, &out);
	ex->rc = next;
	keep_waiting(ex);
	ex->x.abort_requested = next.abort_requested;
	if (perform(ex, &out) == ACT_GONE)
		return false;
	schedule(ex);
	return true;
}

static bool step_kind(struct eng_exec *ex, enum spok_rc_event_kind kind)
{
	struct spok_rc_event ev = {.kind = kind};

	return step(ex, &ev);
}

/* An action failed locally or a request answered: the reconciler decides what follows. */
static enum act answer(struct eng_exec *ex, enum spok_rc_object obj, enum spok_rc_answer a,
		       const char *message)
{
	struct spok_rc_event ev = {.kind = SPOK_RC_EV_CREATE, .object = obj, .answer = a,
				   .message = message};

	return step(ex, &ev) ? ACT_STOP : ACT_GONE;
}

static enum act bad_task(struct eng_exec *ex, const char *message)
{
	struct spok_rc_event ev = {.kind = SPOK_RC_EV_BAD_TASK, .message = message};

	return step(ex, &ev) ? ACT_STOP : ACT_GONE;
}

static enum act delete_answer(struct eng_exec *ex, enum spok_rc_object obj, bool ok)
{
	struct spok_rc_event ev = {.kind = SPOK_RC_EV_DELETE, .object = obj, .ok = ok};

	return step(ex, &ev) ? ACT_STOP : ACT_GONE;
}

/* A create's answer (not 201) as the reconciler's rules name it. */
static enum spok_rc_answer answer_of(struct eng_exec *ex, const struct kube_resp *resp)
{
	switch (resp->code) {
	case 0:
		return SPOK_RC_CREATED;
	case SPOK_ECONFLICT:
		return SPOK_RC_CONFLICT;
	case SPOK_EQUOTA:
		ex->e->stats.quota_waits++;
		return SPOK_RC_QUOTA;
	case SPOK_EINVAL:
		return SPOK_RC_INVALID;
	case SPOK_EFORBIDDEN:
		return SPOK_RC_REFUSED;
	default:
		return resp->http_status == 413 ? SPOK_RC_REFUSED : SPOK_RC_UNAVAILABLE;
	}
}

/* ---- requests ---- */

/* Every request callback starts here: false means "engine gone, stop". */
static bool call_back(struct eng_exec *ex)
{
	struct spok_engine *e = ex->e;

	/* A write of ex still waits for its commit: it and what followed it go first (ex still
	 * counts as in flight meanwhile, so a failed commit leaves it to this callback). */
	if (ex->committing && !e->closed)
		flush(e);
	ex->inflight = false;
	e->pending--;
	if (ex->orphan || e->closed) {
		if (ex->orphan || ex->rc.stage == SPOK_RC_STAGE_DONE)
			exec_free(ex);
		maybe_free_engine(e);
		return false;
	}
	schedule(ex); /* no longer waiting for an answer: ticks may act again */
	return true;
}

static void sent(struct eng_exec *ex)
{
	ex->inflight = true;
	ex->e->pending++;
}

/* Our object as a GET answered it. A copy the watch delivered while the GET was in flight
 * wins over the answer: the GET's snapshot may predate it, and dropping that copy lost a
 * change for good (a terminal state among them) because the watch never sends it again;
 * the watch is ordered, so whatever follows its copy still arrives. */
static void handle_fetched(struct eng_exec *ex, const json_t *body)
{
	json_t *seen = ex->seen;

	ex->seen = NULL;
	handle_obj(ex, seen ? seen : body);
	json_decref(seen);
}

/* Fire-and-forget DELETE of an object we no longer follow (old attempt, leftover). */
struct loose_delete {
	struct spok_engine *e;
};

static void loose_deleted(void *data, const struct kube_resp *resp)
{
	struct loose_delete *d = data;
	struct spok_engine *e = d->e;

	if (resp->code != 0 && resp->code != SPOK_ENOTFOUND)
		log_warn("engine: %s", resp->message);
	free(d);
	e->pending--;
	e->loose--;
	maybe_free_engine(e);
}

static void delete_loose_of(struct spok_engine *e, const struct kube_gvr *gvr, const char *ns,
			    const char *name)
{
	struct loose_delete *d = xmalloc(sizeof(*d));
	struct spok_err err = {0};

	d->e = e;
	e->stats.deletes++;
	if (kube_delete(e->o.client, gvr, ns, name, "Background", NULL, loose_deleted, d,
			&err) != 0) {
		log_warn("engine: delete %s/%s: %s", ns, name, err.msg);
		free(d);
		return;
	}
	e->pending++;
	e->loose++;
}

static void delete_loose(struct spok_engine *e, const char *ns, const char *name)
{
	delete_loose_of(e, &SPARKAPPS, ns, name);
}

/* The names of a direct attempt's objects, from its SparkApplication name. Heap. */
static char *pod_name_of(const char *app)
{
	return xasprintf("%s-driver", app);
}

/* A DELETE of gvr's collection in ns selected by the object's name AND the execution label:
 * only an object spok made for this execution goes (never one of that name someone else
 * made), and "none" is a success (idempotent). propagation: NULL or "Background". */
static int delete_guarded(struct spok_engine *e, const struct kube_gvr *gvr, const char *ns,
			  const char *name, const char *id, const char *propagation,
			  kube_done_cb cb, void *data, struct spok_err *err)
{
	char *path = kube_path(gvr, ns, NULL, NULL);
	char *lv = kube_escape(id), *fv = kube_escape(name);
	char *query = xasprintf("labelSelector=%s%%3D%s&fieldSelector=metadata.name%%3D%s%s%s",
				SPOK_LABEL_EXECUTION, lv, fv,
				propagation ? "&propagationPolicy=" : "",
				propagation ? propagation : "");
	/* The answer lists what was deleted; only whether it worked is read. */
	struct kube_req req = {.method = "DELETE", .path = path, .query = query,
			       .outcome_only = true};
	int result;

	e->stats.deletes++;
	result = kube_request(e->o.client, &req, cb, data, err);
	free(query);
	free(fv);
	free(lv);
	free(path);
	return result;
}

/* cm: the shipped files' ConfigMap (spok_ship_configmap_name) or direct's conf. */
static int delete_cm(struct spok_engine *e, const char *ns, const char *cm, const char *id,
		     kube_done_cb cb, void *data, struct spok_err *err)
{
	return delete_guarded(e, &CONFIGMAPS, ns, cm, id, NULL, cb, data, err);
}

/* Fire-and-forget delete_guarded. */
static void delete_guarded_loose(struct spok_engine *e, const struct kube_gvr *gvr,
				 const char *ns, const char *name, const char *id,
				 const char *propagation)
{
	struct loose_delete *d = xmalloc(sizeof(*d));
	struct spok_err err = {0};

	d->e = e;
	if (delete_guarded(e, gvr, ns, name, id, propagation, loose_deleted, d, &err) != 0) {
		log_warn("engine: delete %s/%s: %s", ns, name, err.msg);
		free(d);
		return;
	}
	e->pending++;
	e->loose++;
}

static void delete_cm_loose(struct spok_engine *e, const char *ns, const char *cm,
			    const char *id)
{
	delete_guarded_loose(e, &CONFIGMAPS, ns, cm, id, NULL);
}

/* The shipped files' ConfigMap of app, if any, and (direct) its conf ConfigMap. */
static void delete_cms_loose(struct spok_engine *e, const char *ns, const char *app,
			     const char *id, bool files, bool direct)
{
	char *cm;

	if (files) {
		cm = spok_ship_configmap_name(app);
		delete_cm_loose(e, ns, cm, id);
		free(cm);
	}
	if (direct) {
		cm = spok_direct_configmap_name(app);
		delete_cm_loose(e, ns, cm, id);
		free(cm);
	}
}

/* Everything of attempt app (direct: ConfigMaps, Service, driver pod), fire and forget. */
static void delete_all_loose(struct spok_engine *e, const char *ns, const char *app,
			     const char *id, bool files, bool direct)
{
	char *svc, *pod;

	delete_cms_loose(e, ns, app, id, files, direct);
	if (!direct) {
		delete_loose(e, ns, app);
		return;
	}
	/* By name AND label: a Service or pod of that name spok did not make stays. */
	svc = spok_direct_service_name(app);
	pod = pod_name_of(app);
	delete_guarded_loose(e, &SERVICES, ns, svc, id, NULL);
	delete_guarded_loose(e, &PODS, ns, pod, id, "Background");
	free(pod);
	free(svc);
}

/* The failed attempt's objects (delete_failed, the SUBMITTED deadline). */
static void delete_old(struct eng_exec *ex)
{
	delete_all_loose(ex->e, ex->x.namespace_, ex->x.resource_name, ex->x.id, ships(ex),
			 ex->direct);
}

/* A teardown DELETE answered; ex->req names the object. */
static void on_deleted(void *data, const struct kube_resp *resp)
{
	struct eng_exec *ex = data;
	bool ok = resp->code == 0 || resp->code == SPOK_ENOTFOUND;

	if (!call_back(ex))
		return;
	if (!ok)
		log_warn("engine: %s: %s; retrying", ex->x.id, resp->message);
	(void)delete_answer(ex, ex->req, ok);
}

/* Teardown DELETE of one object (the reconciler orders them). */
static enum act send_delete(struct eng_exec *ex, enum spok_rc_object obj)
{
	const char *ns = ex->x.namespace_, *app = ex->x.resource_name;
	struct kube_client *kc = ex->e->o.client;
	struct spok_err err = {0};
	char *name = NULL;
	int result;

	ex->req = obj;
	switch (obj) {
	case SPOK_RC_CM:
	case SPOK_RC_CONF:
		name = obj == SPOK_RC_CM ? spok_ship_configmap_name(app)
					 : spok_direct_configmap_name(app);
		result = delete_cm(ex->e, ns, name, ex->x.id, on_deleted, ex, &err);
		break;
	case SPOK_RC_SVC:
		name = spok_direct_service_name(app);
		result = delete_guarded(ex->e, &SERVICES, ns, name, ex->x.id, NULL, on_deleted, ex,
					&err);
		break;
	case SPOK_RC_APP:
	default:
		if (ex->direct) {
			name = pod_name_of(app);
			result = delete_guarded(ex->e, &PODS, ns, name, ex->x.id, "Background",
						on_deleted, ex, &err);
		} else {
			ex->e->stats.deletes++;
			result = kube_delete(kc, &SPARKAPPS, ns, app, "Background", NULL, on_deleted,
					     ex, &err);
		}
		break;
	}
	free(name);
	if (result != 0) {
		log_warn("engine: %s: %s; retrying", ex->x.id, err.msg);
		return delete_answer(ex, obj, false);
	}
	sent(ex);
	return ACT_NEXT;
}

static bool ours(const struct eng_exec *ex, const json_t *obj)
{
	return str_eq(app_label(obj, SPOK_LABEL_EXECUTION), ex->x.id);
}

static void replay_pod(struct eng_exec *ex);

/* The followed object's uid: the owner of the attempt's ConfigMaps (direct: and Service). */
static void note_owner_uid(struct eng_exec *ex, const json_t *obj)
{
	const char *uid = json_string_value(json_object_get(json_object_get(obj, "metadata"), "uid"));

	if (uid != NULL && uid[0] != '\0')
		set_str(&ex->owner_uid, uid);
}

/* After a 409: the object of that name is adopted only if it carries this execution's
 * label (the SparkApplication, or direct's driver pod). */
static void on_got_existing(void *data, const struct kube_resp *resp)
{
	struct eng_exec *ex = data;
	char *what;

	if (!call_back(ex))
		return;
	if (resp->code == SPOK_ENOTFOUND) {
		(void)answer(ex, SPOK_RC_APP, SPOK_RC_GONE, NULL);
		return;
	}
	if (resp->code != 0) {
		(void)answer(ex, SPOK_RC_APP, SPOK_RC_UNAVAILABLE, resp->message);
		return;
	}
	if (!ours(ex, resp->body)) {
		what = ex->direct ? xasprintf("Pod %s/%s", ex->x.namespace_, ex->driver_pod) : NULL;
		(void)answer(ex, SPOK_RC_APP, SPOK_RC_CONFLICT_NOT_OURS, what);
		free(what);
		return;
	}
	ex->e->stats.adopted_409++;
	note_owner_uid(ex, resp->body);
	if (answer(ex, SPOK_RC_APP, SPOK_RC_CONFLICT_OURS, NULL) != ACT_GONE)
		handle_fetched(ex, resp->body);
}

/* The name of object obj of the current attempt (not the followed one). Heap. */
static char *aux_name(const struct eng_exec *ex, enum spok_rc_object obj)
{
	const char *app = ex->x.resource_name;

	if (obj == SPOK_RC_CM)
		return spok_ship_configmap_name(app);
	if (obj == SPOK_RC_CONF)
		return spok_direct_configmap_name(app);
	return spok_direct_service_name(app);
}

/* The GET after a 409 of a ConfigMap or Service (ex->req). */
static void on_aux_existing(void *data, const struct kube_resp *resp)
{
	struct eng_exec *ex = data;
	enum spok_rc_object obj;
	enum spok_rc_answer a;
	char *name, *what = NULL;

	if (!call_back(ex))
		return;
	if (resp->code == SPOK_ENOTFOUND)
		a = SPOK_RC_GONE;
	else if (resp->code != 0)
		a = SPOK_RC_UNAVAILABLE;
	else
		a = ours(ex, resp->body) ? SPOK_RC_CONFLICT_OURS : SPOK_RC_CONFLICT_NOT_OURS;
	if (a == SPOK_RC_CONFLICT_NOT_OURS && ex->req != SPOK_RC_CM) {
		name = aux_name(ex, ex->req);
		what = xasprintf("%s %s/%s", ex->req == SPOK_RC_SVC ? "Service" : "ConfigMap",
				 ex->x.namespace_, name);
		free(name);
	}
	obj = ex->req;
	if (answer(ex, obj, a, resp->code != 0 ? resp->message : what) != ACT_GONE &&
	    obj == SPOK_RC_SVC)
		replay_pod(ex);
	free(what);
}

static const struct kube_gvr *aux_gvr(enum spok_rc_object obj)
{
	return obj == SPOK_RC_SVC ? &SERVICES : &CONFIGMAPS;
}

/* GET the object that answered 409, to see whose it is. */
static enum act send_get_owner(struct eng_exec *ex, enum spok_rc_object obj)
{
	struct spok_err err = {0};
	int result;

	ex->req = obj;
	if (obj != SPOK_RC_APP) {
		char *name = aux_name(ex, obj);

		result = kube_get(ex->e->o.client, aux_gvr(obj), ex->x.namespace_, name,
				  on_aux_existing, ex, &err);
		free(name);
	} else if (ex->direct) {
		result = kube_get(ex->e->o.client, &PODS, ex->x.namespace_, ex->driver_pod,
				  on_got_existing, ex, &err);
	} else {
		result = kube_get(ex->e->o.client, &SPARKAPPS, ex->x.namespace_, ex->x.resource_name,
				  on_got_existing, ex, &err);
	}
	if (result != 0)
		return answer(ex, obj, SPOK_RC_UNAVAILABLE, err.msg);
	sent(ex);
	return ACT_NEXT;
}

/* The attempt's objects are all created: their bodies (tens of KB of JSON per execution)
 * are not kept while it runs. Should one be needed again (a create after a re-adoption),
 * build_app makes it anew, as it does for an adopted execution. */
static void drop_built(struct eng_exec *ex)
{
	json_decref(ex->app);
	ex->app = NULL;
	spok_direct_free(&ex->d);
}

static void on_created(void *data, const struct kube_resp *resp)
{
	struct eng_exec *ex = data;
	json_t *seen;

	if (!call_back(ex))
		return;
	if (resp->code != 0) {
		(void)answer(ex, SPOK_RC_APP, answer_of(ex, resp), resp->message);
		return;
	}
	crash_point("after-create");
	note_owner_uid(ex, resp->body);
	if (!ex->direct) /* direct: the Service is still to come from ex->d */
		drop_built(ex);
	seen = ex->seen;
	ex->seen = NULL;
	if (answer(ex, SPOK_RC_APP, SPOK_RC_CREATED, NULL) != ACT_GONE && seen)
		handle_obj(ex, seen);
	json_decref(seen);
}

/* A ConfigMap's (ex->req) create answered. */
static void on_cm_created(void *data, const struct kube_resp *resp)
{
	struct eng_exec *ex = data;

	if (!call_back(ex))
		return;
	if (resp->code == 0 && ex->req == SPOK_RC_CONF)
		crash_point("after-conf");
	(void)answer(ex, ex->req, answer_of(ex, resp), resp->message);
}

/* Direct, after an answer about the Service: the newest copy of the pod (seen meanwhile,
 * else the last one) is handled again, since what the reconciler makes of a pending pod
 * (ErrImagePull, Unschedulable) waits for no request of the attempt in flight. */
static void replay_pod(struct eng_exec *ex)
{
	json_t *pod = ex->seen ? ex->seen : json_incref(ex->pod);

	ex->seen = NULL;
	if (pod != NULL && busy(ex))
		set_seen(ex, pod);
	else if (pod != NULL)
		handle_obj(ex, pod);
	json_decref(pod);
}

/* Direct: the Service's create answered. */
static void on_svc_created(void *data, const struct kube_resp *resp)
{
	struct eng_exec *ex = data;

	if (!call_back(ex))
		return;
	if (resp->code == 0) {
		crash_point("after-service");
		drop_built(ex);
	}
	if (answer(ex, SPOK_RC_SVC, answer_of(ex, resp), resp->message) != ACT_GONE)
		replay_pod(ex);
}

static void fill_spark_version(const struct spok_engine *e, json_t *app)
{
	json_t *spec = json_object_get(app, "spec");
	const char *v = json_string_value(json_object_get(spec, "sparkVersion"));

	if (e->o.spark_version && e->o.spark_version[0] && (v == NULL || v[0] == '\0'))
		json_object_set_new(spec, "sparkVersion", json_string(e->o.spark_version));
}

/* Builds attempt `attempt` of execution id's object for t (pure core). */
static int build_for(const struct spok_engine *e, const struct spok_task *t, const char *id,
		     const char *ns, uint32_t attempt, json_t **app, struct spok_err *err)
{
	struct spok_strmap labels = {0};
	struct spok_exec xe = {0};
	struct spok_fd_paths fd = {0};
	int result;

	if ((result = refuse_local(e, t, err)) != SPOK_OK)
		return result;
	if (spok_fd_applies(e->o.platform, t)) {
		/* This attempt's output folder exists before its pods do. */
		if ((result = spok_fd_attempt(e->o.platform, id, attempt, err)) != SPOK_OK)
			return result;
		spok_fd_paths(e->o.platform, id, attempt, &fd);
		xe.input_prefix = fd.input;
		xe.output_prefix = fd.output;
		xe.raw_output_prefix = fd.raw;
		xe.prev_checkpoint = fd.prev_checkpoint;
		xe.flyte_data = true;
	}
	spok_strmap_set(&labels, SPOK_LABEL_EXECUTION, id);
	xe.execution_name = id;
	xe.node_id = "n0";
	xe.attempt = attempt;
	xe.namespace_ = ns;
	xe.now_ms = spok_now_ms();
	xe.labels = &labels;
	xe.ship_local_files = e->o.ship_local_files;
	result = spok_sparkapp_build(t, e->o.platform, &xe, app, err);
	spok_strmap_free(&labels);
	spok_fd_paths_free(&fd);
	if (result == 0)
		fill_spark_version(e, *app);
	return result;
}

/* Direct: what spark-submit would create from app (pure core). */
static int build_direct(const struct spok_engine *e, const json_t *app, struct spok_direct *d,
			struct spok_err *err)
{
	struct spok_direct_opts o = {.spark_version = e->o.spark_version && e->o.spark_version[0]
							      ? e->o.spark_version : NULL};

	return spok_direct_build(app, &o, d, err);
}

/* The current attempt's objects (ex->app; direct: ex->d too), built when a create needs
 * them and not held already (once per attempt, again only after drop_built). */
static int build_app(struct eng_exec *ex, struct spok_err *err)
{
	int result;

	if (ex->app != NULL && (!ex->direct || ex->d.pod != NULL))
		return 0;
	if (ex->app == NULL) {
		const struct spok_task *t;

		if ((result = task_get(ex, &t, err)) != 0)
			return result;
		result = build_for(ex->e, t, ex->x.id, ex->x.namespace_, ex->x.attempt, &ex->app,
				   err);
		task_done(ex);
		if (result != 0)
			return result;
	}
	return ex->direct ? build_direct(ex->e, ex->app, &ex->d, err) : 0;
}

static enum act send_cm_create(struct eng_exec *ex)
{
	struct spok_err err = {0};
	json_t *cm;
	int result;

	if (!ex->ship_read) { /* after re-adoption: read the files again */
		const struct spok_task *t;

		if (task_get(ex, &t, &err) != 0)
			return bad_task(ex, err.msg);
		result = spok_ship_read(t, &ex->ship, &err);
		task_done(ex);
		if (result != 0)
			return bad_task(ex, err.msg);
		ex->ship_read = true;
	}
	set_seen(ex, NULL);
	ex->e->stats.creates++;
	cm = spok_ship_configmap(ex->app, &ex->ship);
	result = kube_create_outcome(ex->e->o.client, &CONFIGMAPS, ex->x.namespace_, cm,
				     on_cm_created, ex, &err);
	json_decref(cm);
	if (result != 0)
		return answer(ex, SPOK_RC_CM, SPOK_RC_UNAVAILABLE, err.msg);
	sent(ex);
	return ACT_NEXT;
}

/* Direct: the Service as built from the task, else (a re-adopted attempt whose task cannot
 * be loaded again) from the live pod: the pod runs, it needs its Service, not the task.
 * New reference; NULL with err set when neither works. */
static json_t *svc_body(struct eng_exec *ex, struct spok_err *err)
{
	char *name;
	json_t *svc;

	if (build_app(ex, err) == 0)
		return json_deep_copy(ex->d.service);
	name = spok_direct_service_name(ex->x.resource_name);
	svc = ex->pod ? spok_direct_service_of_pod(ex->pod, name) : NULL;
	free(name);
	if (svc != NULL)
		log_info("engine: %s: the Service is made from the driver pod (%s)", ex->x.id,
			 err->msg);
	return svc;
}

/* Direct: the Service, created with the driver pod as its owner (the ConfigMaps get the same
 * owner reference by SPOK_RC_OWN). Sent again after a re-adoption: 409 ours is fine. A task
 * that cannot be loaded again gives the Service made from the live pod (svc_body); with
 * neither it is asked again on the tick, the running pod still followed. */
static enum act send_svc_create(struct eng_exec *ex)
{
	struct spok_err err = {0};
	json_t *svc, *refs;
	int result;

	if (ex->owner_uid == NULL) /* not seen yet: the tick asks again */
		return answer(ex, SPOK_RC_SVC, SPOK_RC_UNAVAILABLE, "the driver pod's uid is not known yet");
	refs = spok_direct_owner_refs(ex->driver_pod, ex->owner_uid);
	if ((svc = svc_body(ex, &err)) == NULL) { /* neither the task nor a pod seen yet */
		json_decref(refs);
		return answer(ex, SPOK_RC_SVC, SPOK_RC_UNAVAILABLE, err.msg);
	}
	json_object_set(json_object_get(svc, "metadata"), "ownerReferences", refs);
	json_decref(refs);
	/* ex->seen is kept: a copy of the pod the watch sent during the GET this Service
	 * follows is handled after it (handle_fetched), later ones by replay_pod. */
	ex->e->stats.creates++;
	result = kube_create_outcome(ex->e->o.client, &SERVICES, ex->x.namespace_, svc,
				     on_svc_created, ex, &err);
	json_decref(svc);
	if (result != 0)
		return answer(ex, SPOK_RC_SVC, SPOK_RC_UNAVAILABLE, err.msg);
	sent(ex);
	return ACT_NEXT;
}

static enum act send_create(struct eng_exec *ex, enum spok_rc_object obj)
{
	struct spok_err err = {0};
	const json_t *body;
	const struct kube_gvr *gvr = &SPARKAPPS;
	kube_done_cb cb = on_created;

	ex->req = obj;
	if (obj == SPOK_RC_SVC)
		return send_svc_create(ex);
	if (build_app(ex, &err) != 0)
		return bad_task(ex, err.msg);
	body = ex->app; /* built just now after a re-adoption */
	if (obj == SPOK_RC_CM)
		return send_cm_create(ex);
	if (obj == SPOK_RC_CONF) {
		body = ex->d.configmap;
		gvr = &CONFIGMAPS;
		cb = on_cm_created;
	} else if (ex->direct) {
		body = ex->d.pod;
		gvr = &PODS;
	}
	set_seen(ex, NULL); /* only copies seen while this create is in flight count */
	ex->e->stats.creates++;
	/* The object's echo is read only for the driver's (or application's) uid, which only
	 * owner references use (direct, or shipped files): otherwise it is not even parsed
	 * (the whole object, ~40 % of the JSON a submit made spok parse in bench/submit). */
	if ((obj == SPOK_RC_CONF || (!ex->direct && !ships(ex))
		     ? kube_create_outcome(ex->e->o.client, gvr, ex->x.namespace_, body, cb, ex, &err)
		     : kube_create(ex->e->o.client, gvr, ex->x.namespace_, body, cb, ex, &err)) != 0)
		return answer(ex, obj, SPOK_RC_UNAVAILABLE, err.msg);
	sent(ex);
	return ACT_NEXT;
}

static void adopt_answer(struct eng_exec *ex, const struct kube_resp *resp)
{
	if (resp->code == 0)
		handle_fetched(ex, resp->body);
	else
		(void)step_kind(ex, resp->code == SPOK_ENOTFOUND ? SPOK_RC_EV_ABSENT
								: SPOK_RC_EV_GET_FAILED);
}

#ifdef SPOK_TEST_HOOKS
/* SPOK_HOLD_GET_MS: an adopting GET's answer is handed on that much later, so a test can
 * change the object in between and the watch's copy arrives before the older answer. */
struct held_get {
	uv_timer_t timer;
	struct eng_exec *ex;
	int code;
	json_t *body;
	char *message;
};

static void held_closed(uv_handle_t *h)
{
	struct held_get *g = h->data;

	json_decref(g->body);
	free(g->message);
	free(g);
}

static void held_due(uv_timer_t *t)
{
	struct held_get *g = t->data;
	struct kube_resp r = {.code = g->code, .body = g->body, .message = g->message};

	if (call_back(g->ex))
		adopt_answer(g->ex, &r);
	uv_close((uv_handle_t *)t, held_closed);
}

static bool hold_get(struct eng_exec *ex, const struct kube_resp *resp)
{
	const char *v = getenv("SPOK_HOLD_GET_MS");
	long ms = v ? strtol(v, NULL, 10) : 0;
	struct held_get *g;

	if (ms <= 0)
		return false;
	g = xcalloc(1, sizeof(*g));
	g->ex = ex;
	g->code = resp->code;
	g->body = resp->body ? json_incref(resp->body) : NULL;
	g->message = xstrdup(resp->message ? resp->message : "");
	uv_timer_init(ex->e->loop, &g->timer);
	g->timer.data = g;
	uv_timer_start(&g->timer, held_due, (uint64_t)ms, 0);
	return true;
}
#else
static bool hold_get(struct eng_exec *ex, const struct kube_resp *resp)
{
	(void)ex;
	(void)resp;
	return false;
}
#endif

static void on_adopt_get(void *data, const struct kube_resp *resp)
{
	struct eng_exec *ex = data;

	if (hold_get(ex, resp) || !call_back(ex))
		return;
	adopt_answer(ex, resp);
}

static enum act adopt_get(struct eng_exec *ex)
{
	struct spok_err err = {0};
	int result;

	set_seen(ex, NULL); /* only copies seen while this GET is in flight count */
	if (ex->direct)
		result = kube_get(ex->e->o.client, &PODS, ex->x.namespace_, ex->driver_pod,
				  on_adopt_get, ex, &err);
	else
		result = kube_get(ex->e->o.client, &SPARKAPPS, ex->x.namespace_,
				  ex->x.resource_name, on_adopt_get, ex, &err);
	if (result != 0)
		return step_kind(ex, SPOK_RC_EV_GET_FAILED) ? ACT_STOP : ACT_GONE;
	sent(ex);
	return ACT_NEXT;
}

/* ---- attempts ---- */

/* Direct: the followed pod's name, from the attempt's resource name. */
static void set_direct_names(struct eng_exec *ex)
{
	free(ex->driver_pod);
	ex->driver_pod = ex->x.resource_name ? pod_name_of(ex->x.resource_name) : NULL;
}

static void reset_attempt(struct spok_execution *x, uint32_t attempt)
{
	x->attempt = attempt;
	x->phase = SPOK_PHASE_QUEUED;
	x->phase_version = 0;
	set_str(&x->reason, spok_execution_direct(x) ? "creating the driver pod"
						     : "creating SparkApplication");
	set_str(&x->error_message, NULL);
	set_str(&x->spark_app_id, NULL);
	set_str(&x->ui_url, NULL);
	set_str(&x->history_url, NULL);
	set_str(&x->links_json, NULL);
	x->started_ms = 0;
	x->finished_ms = 0;
}

/* The next attempt: its object is built, then its row is written ahead of the create. A
 * write-ahead that fails stops here: no object is ever created whose row is not durable. */
static enum act new_attempt(struct eng_exec *ex, const struct spok_rc_actions *out, size_t i)
{
	struct spok_err err = {0};

	reset_attempt(&ex->x, ex->rc.attempt);
	set_seen(ex, NULL);
	ex->tracked = false;
	set_str(&ex->driver_pod, NULL);
	ex->pod_inflight = false; /* a read still pending for the old attempt is dropped */
	ex->pod_warned = false;
	ex->own_inflight = false; /* patches still pending for the old attempt are dropped */
	json_decref(ex->app);
	ex->app = NULL;
	spok_direct_free(&ex->d);
	set_str(&ex->owner_uid, NULL);
	json_decref(ex->pod);
	ex->pod = NULL;
	json_decref(ex->executors);
	ex->executors = NULL;
	if (build_app(ex, &err) != 0)
		return bad_task(ex, err.msg);
	set_str(&ex->x.resource_name, app_name(ex->app));
	if (ex->direct)
		set_direct_names(ex);
	if (save(ex, &err) != 0) {
		store_failed(ex, &err);
		return ACT_GONE;
	}
	park(ex, "before-create", out, i + 1); /* the create waits for the commit */
	return ACT_STOP;
}

/* ---- the driver pod (read while the object is SUBMITTED) ---- */

/* A read of the driver pod outlives nothing: it names its execution and attempt, and its
 * answer is dropped when either is gone. It is not the attempt's request (ex->inflight):
 * watch events go on being handled while it is pending. */
struct pod_read {
	struct spok_engine *e;
	char *id;
	uint32_t attempt;
};

static enum spok_rc_pod pod_answer(const struct kube_resp *resp, char **msg)
{
	*msg = NULL;
	if (resp->code == SPOK_ENOTFOUND)
		return SPOK_RC_POD_ABSENT;
	if (resp->code != 0)
		return SPOK_RC_POD_UNKNOWN;
	switch (spok_driver_pod_verdict(resp->body, msg)) {
	case SPOK_POD_WAITING:
		return SPOK_RC_POD_WAITING;
	case SPOK_POD_BROKEN:
		return SPOK_RC_POD_BROKEN;
	case SPOK_POD_FINE:
		break;
	}
	return SPOK_RC_POD_FINE;
}

static void on_driver_pod(void *data, const struct kube_resp *resp)
{
	struct pod_read *d = data;
	struct spok_engine *e = d->e;
	struct eng_exec *ex = e->closed ? NULL : find_id(e, d->id);
	struct spok_rc_event ev = {.kind = SPOK_RC_EV_DRIVER_POD};
	char *msg = NULL;

	e->pending--;
	if (ex != NULL && ex->x.attempt == d->attempt && ex->pod_inflight) {
		ex->pod_inflight = false;
		ev.pod = pod_answer(resp, &msg);
		ev.message = msg;
		if (ev.pod == SPOK_RC_POD_UNKNOWN && !ex->pod_warned) {
			ex->pod_warned = true; /* once per attempt: the read repeats every few seconds */
			log_warn("engine: %s: reading the driver pod: %s", ex->x.id, resp->message);
		}
		(void)step(ex, &ev);
	}
	free(msg);
	free(d->id);
	free(d);
	maybe_free_engine(e);
}

static void get_driver(struct eng_exec *ex)
{
	struct pod_read *d = xmalloc(sizeof(*d));
	struct spok_err err = {0};
	char *pod = ex->driver_pod ? xstrdup(ex->driver_pod)
				   : xasprintf("%s-driver", ex->x.resource_name);

	d->e = ex->e;
	d->id = xstrdup(ex->x.id);
	d->attempt = ex->x.attempt;
	if (kube_get(ex->e->o.client, &PODS, ex->x.namespace_, pod, on_driver_pod, d, &err) != 0) {
		log_warn("engine: %s: reading the driver pod: %s", ex->x.id, err.msg);
		free(d->id);
		free(d);
	} else {
		ex->e->pending++;
		ex->pod_inflight = true;
	}
	free(pod);
}

/* ---- the ConfigMaps' owner references (SPOK_RC_OWN) ---- */

/* One round of owner patches: like a read of the driver pod it names its execution and
 * attempt, and its answer is dropped when either is gone. Counted as loose requests, so
 * `spok run -d` waits for them. */
struct own_round {
	struct spok_engine *e;
	char *id;
	uint32_t attempt;
	int left;    /* patches pending */
	bool failed; /* one of them failed (a ConfigMap that is gone needs no owner) */
};

static void on_owned(void *data, const struct kube_resp *resp)
{
	struct own_round *d = data;
	struct spok_engine *e = d->e;
	struct eng_exec *ex;

	e->pending--;
	e->loose--;
	ex = e->closed ? NULL : find_id(e, d->id);
	if (ex != NULL && (ex->x.attempt != d->attempt || !ex->own_inflight))
		ex = NULL; /* the attempt ended (its kept objects' last round): nobody asks again */
	if (resp->code != 0 && resp->code != SPOK_ENOTFOUND) {
		d->failed = true;
		log_warn("engine: %s: the ConfigMap's owner reference (%s): %s", d->id,
			 ex != NULL  ? "asked again"
			 : e->closed ? "not asked again: the engine stopped"
				     : "not asked again: the attempt ended",
			 resp->message);
	}
	if (--d->left > 0)
		return;
	if (ex != NULL) {
		struct spok_rc_event ev = {.kind = SPOK_RC_EV_OWNED, .ok = !d->failed};

		ex->own_inflight = false;
		(void)step(ex, &ev);
	}
	free(d->id);
	free(d);
	maybe_free_engine(e);
}

/* The owner's reference for the attempt's ConfigMaps: the driver pod, else the
 * SparkApplication. New reference. */
static json_t *owner_refs(const struct eng_exec *ex)
{
	if (ex->direct)
		return spok_direct_owner_refs(ex->driver_pod, ex->owner_uid);
	return json_pack("[{s:s,s:s,s:s,s:s}]", "apiVersion", SPOK_SPARKAPP_API_VERSION, "kind",
			 "SparkApplication", "name", ex->x.resource_name, "uid", ex->owner_uid);
}

/* A merge patch of metadata.ownerReferences (it works on an immutable ConfigMap: metadata
 * only) on the conf ConfigMap (direct) and the files one (when the attempt ships files).
 * The owner's uid not known yet: nothing is sent, the tick asks again. */
static void send_own(struct eng_exec *ex)
{
	struct own_round *d;
	struct spok_err err = {0};
	char *cms[2];
	size_t n = 0;
	json_t *patch, *refs;

	if (ex->owner_uid == NULL)
		return;
	if (ex->direct)
		cms[n++] = spok_direct_configmap_name(ex->x.resource_name);
	if (ships(ex))
		cms[n++] = spok_ship_configmap_name(ex->x.resource_name);
	refs = owner_refs(ex);
	patch = json_pack("{s:{s:O}}", "metadata", "ownerReferences", refs);
	d = xcalloc(1, sizeof(*d));
	d->e = ex->e;
	d->id = xstrdup(ex->x.id);
	d->attempt = ex->x.attempt;
	for (size_t i = 0; i < n; i++) {
		if (kube_patch_merge_outcome(ex->e->o.client, &CONFIGMAPS, ex->x.namespace_,
					     cms[i], NULL, patch, on_owned, d, &err) == 0) {
			d->left++;
			ex->e->pending++;
			ex->e->loose++;
		} else {
			log_warn("engine: %s: %s", ex->x.id, err.msg);
			d->failed = true;
		}
		free(cms[i]);
	}
	json_decref(patch);
	json_decref(refs);
	if (d->left == 0) { /* nothing sent: the tick asks again */
		free(d->id);
		free(d);
		return;
	}
	ex->own_inflight = true;
}

/* A record action: the row takes the reconciler's values and is written. */
static enum act record(struct eng_exec *ex, const struct spok_rc_actions *out, size_t i)
{
	const struct spok_rc_action *a = &out->a[i];
	struct spok_execution *x = &ex->x;
	enum spok_phase was = x->phase;
	struct spok_err err = {0};

	x->phase = a->phase;
	x->phase_version = a->phase_version;
	set_str(&x->reason, a->reason);
	if (a->set_error)
		set_str(&x->error_message, a->error_message);
	if (a->stamp_started)
		x->started_ms = spok_now_ms();
	if (a->stamp_finished)
		x->finished_ms = spok_now_ms();
	if (save(ex, &err) != 0) {
		store_failed(ex, &err);
		return ACT_GONE;
	}
	/* Nothing follows (no teardown, no event) before the commit. */
	park(ex, a->terminal                                                ? "teardown"
		 : x->phase == SPOK_PHASE_RUNNING && was != SPOK_PHASE_RUNNING ? "running"
									       : NULL,
	     out, i + 1);
	return ACT_STOP;
}

static enum act perform(struct eng_exec *ex, const struct spok_rc_actions *out)
{
	for (size_t i = 0; i < out->n; i++) {
		const struct spok_rc_action *a = &out->a[i];
		enum act r = ACT_NEXT;

		switch (a->kind) {
		case SPOK_RC_RECORD:
			r = record(ex, out, i);
			break;
		case SPOK_RC_CREATE:
			r = send_create(ex, a->object);
			break;
		case SPOK_RC_GET_OWNER:
			r = send_get_owner(ex, a->object);
			break;
		case SPOK_RC_GET:
			r = adopt_get(ex);
			break;
		case SPOK_RC_DELETE:
			r = send_delete(ex, a->object);
			break;
		case SPOK_RC_DELETE_OLD:
			delete_old(ex);
			break;
		case SPOK_RC_DELETE_CM:
			delete_cms_loose(ex->e, ex->x.namespace_, ex->x.resource_name, ex->x.id,
					 ships(ex), ex->direct);
			break;
		case SPOK_RC_NEW_ATTEMPT:
			r = new_attempt(ex, out, i);
			break;
		case SPOK_RC_DONE:
			done(ex);
			return ACT_GONE;
		case SPOK_RC_GET_DRIVER:
			get_driver(ex);
			break;
		case SPOK_RC_OWN:
			send_own(ex);
			break;
		}
		if (r != ACT_NEXT)
			return r;
	}
	return ACT_NEXT;
}

/* ---- watches ---- */

/* The execution following object obj of namespace ns: a SparkApplication (direct false)
 * or a driver pod (direct true). Found by its execution label (both watches select objects
 * that carry one), then checked by namespace, kind and name. */
static struct eng_exec *find_exec(struct spok_engine *e, const struct eng_ns *ns,
				  const json_t *obj, bool direct)
{
	const char *name = app_name(obj);
	struct eng_exec *ex = find_id(e, app_label(obj, SPOK_LABEL_EXECUTION));

	if (ex != NULL && ex->ns == ns && name && ex->direct == direct &&
	    str_eq(direct ? ex->driver_pod : ex->x.resource_name, name))
		return ex;
	return NULL;
}

/* An object in the list that no tracked execution follows: a teardown cut short by a
 * crash leaves one behind; delete it under the same keep rules. A direct one is a driver
 * pod; the SparkApplication name is its spark-app-name label. */
static void cleanup_leftover(struct spok_engine *e, struct eng_ns *ns, const json_t *obj,
			     bool direct)
{
	const char *id = app_label(obj, SPOK_LABEL_EXECUTION);
	const char *name = direct ? app_label(obj, "spark-app-name") : app_name(obj);
	struct spok_execution x = {0};

	if (id == NULL || name == NULL || spok_store_get(e->o.store, id, &x, NULL) != 0)
		return;
	if (str_eq(x.backend, e->cluster) && str_eq(x.resource_name, name) &&
	    spok_execution_direct(&x) == direct && spok_phase_terminal(x.phase) &&
	    !spok_engine_needs_work(&x) && !spok_rc_keeps(&e->rc, x.phase))
		delete_all_loose(e, ns->name, name, id, e->o.ship_local_files, direct);
	spok_execution_free(&x);
}

static bool is_executor(const json_t *pod)
{
	return str_eq(app_label(pod, "spark-role"), "executor");
}

/* An executor pod of a direct attempt we follow: its state for the executor log links. The
 * driver pod's status is mapped again when the set changed. */
static void note_executor(struct spok_engine *e, const json_t *pod, bool replay)
{
	const char *id = app_label(pod, SPOK_LABEL_EXECUTION), *name = app_name(pod);
	const char *state = spok_executor_pod_state(pod);
	struct eng_exec *ex;

	if (id == NULL || name == NULL)
		return;
	if ((ex = find_id(e, id)) != NULL && !ex->direct)
		ex = NULL;
	if (ex == NULL || ex->pod == NULL ||
	    !str_eq(app_label(pod, "spark-app-selector"), app_label(ex->pod, "spark-app-selector")))
		return;
	if (ex->executors == NULL)
		ex->executors = json_object();
	if (str_eq(json_string_value(json_object_get(ex->executors, name)), state))
		return;
	json_object_set_new(ex->executors, name, json_string(state));
	if (replay && !busy(ex) && ex->rc.stage == SPOK_RC_STAGE_TRACKING) {
		json_t *p = json_incref(ex->pod);

		handle_obj(ex, p);
		json_decref(p);
	}
}

/* A namespace's list, or one page of it (the SparkApplications' watch delivers its list as
 * the pages arrive, so memory holds one page, not every object: ~40 KB of JSON tree each).
 * Executions seen are marked with the list's generation; after the last page, the unmarked
 * ones were not listed. The pods' list comes whole: a driver's executors may be on any page. */
static void on_relist(struct spok_engine *e, struct eng_ns *ns, const struct kube_event *le,
		      bool direct)
{
	const json_t *items = json_object_get(le->object, "items");
	uint64_t *ns_gen = direct ? &ns->plist_gen : &ns->list_gen;
	struct eng_exec *ex, *next;
	size_t i;
	json_t *app;
	bool first = direct ? !ns->plisted : !ns->listed;

	if (le->page == 0) /* a list starts (or starts over): earlier pages do not count */
		*ns_gen = ++e->list_gen;
	if (direct) /* the executors first: the drivers' links then name them */
		json_array_foreach(items, i, app)
			if (is_executor(app))
				note_executor(e, app, false);
	json_array_foreach(items, i, app) {
		if (direct && is_executor(app))
			continue;
		ex = find_exec(e, ns, app, direct);
		if (ex != NULL)
			ex->listed_gen = *ns_gen;
		if (ex != NULL && !busy(ex))
			(void)handle_obj(ex, app);
		else if (ex != NULL)
			set_seen(ex, app);
		else if (ex == NULL && first)
			cleanup_leftover(e, ns, app, direct);
	}
	if (le->more)
		return;
	e->stats.relists++;
	if (direct)
		ns->plisted = true;
	else
		ns->listed = true;
	for (ex = e->execs; ex; ex = next) {
		struct spok_rc_event ev = {.kind = SPOK_RC_EV_NOT_LISTED, .first_list = first};

		next = ex->next;
		if (ex->ns != ns || ex->inflight || ex->direct != direct ||
		    ex->listed_gen == *ns_gen)
			continue;
		if (ex->committing) { /* stepped once its write is committed */
			ex->unlisted_seen = true;
			ex->unlisted_first = first;
			continue;
		}
		(void)step(ex, &ev);
	}
}

static void on_any_watch(struct eng_ns *ns, const struct kube_event *ev, bool direct)
{
	struct spok_engine *e = ns->e;
	struct eng_exec *ex;

	switch (ev->type) {
	case KUBE_EVENT_ADDED:
	case KUBE_EVENT_MODIFIED:
		e->stats.events++;
		if (direct && is_executor(ev->object)) {
			note_executor(e, ev->object, true);
			return;
		}
		ex = find_exec(e, ns, ev->object, direct);
		if (ex == NULL)
			return;
		if (!busy(ex)) {
			(void)handle_obj(ex, ev->object);
			return;
		}
		set_seen(ex, ev->object); /* the create answer (or the commit) is still to come */
		if (!ex->tracked) {
			ex->tracked = true;
			emit(ex, SPOK_ENGINE_TRACKED);
		}
		return;
	case KUBE_EVENT_DELETED:
		e->stats.events++;
		if (direct && is_executor(ev->object))
			return; /* Spark removes its executors; their last state stays */
		ex = find_exec(e, ns, ev->object, direct);
		if (ex != NULL && ours(ex, ev->object) && ex->committing)
			ex->deleted_seen = true; /* after the commit and what it stashed */
		else if (ex != NULL && ours(ex, ev->object))
			(void)step_kind(ex, SPOK_RC_EV_DELETED);
		return;
	case KUBE_EVENT_RELIST:
		on_relist(e, ns, ev, direct);
		return;
	case KUBE_EVENT_ERROR:
		log_info("engine: watch %s: %s", ns->name, ev->message);
		return;
	case KUBE_EVENT_BOOKMARK:
		return;
	}
}

static void on_watch(void *data, const struct kube_event *ev)
{
	on_any_watch(data, ev, false);
}

static void on_pod_watch(void *data, const struct kube_event *ev)
{
	on_any_watch(data, ev, true);
}

/* The namespace's watch for executions of this kind, started once. */
static struct eng_ns *ensure_ns(struct spok_engine *e, const char *name, bool direct,
				struct spok_err *err)
{
	struct kube_watch_opts wo = {0};
	struct eng_ns *ns;
	bool fresh = false;

	for (ns = e->nss; ns; ns = ns->next)
		if (strcmp(ns->name, name) == 0)
			break;
	if (ns == NULL) {
		ns = xcalloc(1, sizeof(*ns));
		ns->e = e;
		ns->name = xstrdup(name);
		fresh = true;
	}
	if (direct ? ns->pw != NULL : ns->w != NULL)
		return ns;
	wo.label_selector = SPOK_LABEL_EXECUTION;
	wo.paged_relist = !direct;
	/* The status mapping reads a SparkApplication's metadata and status, and a driver pod's
	 * spec too (its containers); managedFields no one. */
	wo.skip = KUBE_SKIP_MANAGED_FIELDS | (direct ? 0u : KUBE_SKIP_SPEC);
	wo.timeout_s = e->o.watch_timeout_s;
	if (kube_watch_start(e->o.client, direct ? &PODS : &SPARKAPPS, name, &wo,
			     direct ? on_pod_watch : on_watch, ns, direct ? &ns->pw : &ns->w,
			     err) != 0) {
		if (fresh) {
			free(ns->name);
			free(ns);
		}
		return NULL;
	}
	e->stats.watches++;
	if (fresh) {
		ns->next = e->nss;
		e->nss = ns;
	}
	return ns;
}

/* ---- status ---- */

static char *links_json(const struct spok_status *s)
{
	json_t *a = json_array();
	char *out;

	for (size_t i = 0; i < s->nlinks; i++)
		json_array_append_new(a, json_pack("{s:s,s:s}", "name", s->links[i].name ? s->links[i].name : "",
						   "uri", s->links[i].uri ? s->links[i].uri : ""));
	out = s->nlinks ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	return out;
}

/* Copies ids and links into the row; true if anything changed. */
static bool apply_info(struct eng_exec *ex, const struct spok_status *s)
{
	char *links = links_json(s);
	const char *history = NULL;
	bool changed = false;

	for (size_t i = 0; i < s->nlinks; i++)
		if (s->links[i].kind == SPOK_LINK_HISTORY_UI)
			history = s->links[i].uri;
	if (!str_eq(links, ex->x.links_json)) {
		set_str(&ex->x.links_json, links);
		changed = true;
	}
	if (!str_eq(s->spark_app_id, ex->x.spark_app_id)) {
		set_str(&ex->x.spark_app_id, s->spark_app_id);
		changed = true;
	}
	if (!str_eq(s->ui_address, ex->x.ui_url)) {
		set_str(&ex->x.ui_url, s->ui_address);
		changed = true;
	}
	if (!str_eq(history, ex->x.history_url)) {
		set_str(&ex->x.history_url, history);
		changed = true;
	}
	free(links);
	return changed;
}

/* A flytekit task's Spark application completed: what flytekit left decides how the attempt
 * ended (it writes error.pb and exits 0 when the task raised). o outlives the step. */
static void flyte_outcome(struct eng_exec *ex, const struct spok_flyte_outcome *o,
			  struct spok_rc_status *st)
{
	switch (o->kind) {
	case SPOK_FLYTE_OUTPUTS:
		set_str(&ex->x.outputs_json, o->outputs_json);
		return;
	case SPOK_FLYTE_FAILED:
		st->phase = o->recoverable ? SPOK_PHASE_RETRYABLE_FAILURE
					   : SPOK_PHASE_PERMANENT_FAILURE;
		/* The whole message is kept with the row (the record writes all of it); the
		 * reason is flytekit's "<code>: <last line>", as for a local run. */
		set_str(&ex->x.error_message, o->error_message);
		break;
	default:
		st->phase = SPOK_PHASE_RETRYABLE_FAILURE;
		break;
	}
	st->error_message = NULL; /* else the reconciler takes it for the reason */
	st->reason = o->reason;
}

/* Direct: what the pending driver pod says of itself (the operator's mode reads it on a
 * timer: spok_driver_pod_verdict, the same rules). */
static void pod_verdict(struct eng_exec *ex, const json_t *pod)
{
	struct spok_rc_event ev = {.kind = SPOK_RC_EV_DRIVER_POD, .pod = SPOK_RC_POD_FINE};
	char *msg = NULL;

	switch (spok_driver_pod_verdict(pod, &msg)) {
	case SPOK_POD_WAITING:
		ev.pod = SPOK_RC_POD_WAITING;
		break;
	case SPOK_POD_BROKEN:
		ev.pod = SPOK_RC_POD_BROKEN;
		break;
	case SPOK_POD_FINE:
		break;
	}
	ev.message = msg;
	(void)step(ex, &ev);
	free(msg);
}

static bool being_deleted(const json_t *obj)
{
	const json_t *ts = json_object_get(json_object_get(obj, "metadata"), "deletionTimestamp");

	return json_is_string(ts) && json_string_value(ts)[0] != '\0';
}

/* Keeps app to be handled once ex's write is committed (app may be ex->seen itself). */
static bool handle_later(struct eng_exec *ex, const json_t *app)
{
	if (app != ex->seen)
		set_seen(ex, app);
	return true;
}

/* Our object as seen (watch, list, GET): confirmed, mapped, and its status stepped. It is
 * the SparkApplication, or direct's driver pod (kept in ex->pod for the executor links).
 * False: ex left the engine (it may be freed). */
static bool handle_obj(struct eng_exec *ex, const json_t *app)
{
	struct spok_status prev = {0}, s = {0};
	struct spok_err err = {0};
	struct spok_rc_event ev = {.kind = SPOK_RC_EV_STATUS};
	struct spok_flyte_outcome fo = {0};
	const struct spok_task *t = ex->tv ? &ex->tv->view : NULL;
	uint32_t attempt;
	bool alive;
	int result;

	if (ex->rc.stage == SPOK_RC_STAGE_DELETING || ex->rc.stage == SPOK_RC_STAGE_DONE ||
	    !ours(ex, app))
		return true;
	if (ex->committing) /* after the write that waits for its commit */
		return handle_later(ex, app);
	note_owner_uid(ex, app);
	if (ex->direct) {
		json_t *keep = json_incref((json_t *)app); /* app may be ex->pod itself */

		json_decref(ex->pod);
		ex->pod = keep;
	}
	if (ex->rc.stage != SPOK_RC_STAGE_TRACKING && !step_kind(ex, SPOK_RC_EV_SEEN))
		return false;
	if (ex->committing) /* SEEN recorded the confirmation: the status after its commit */
		return handle_later(ex, app);
	prev.phase = ex->x.phase;
	prev.phase_version = ex->x.phase_version;
	prev.reason = ex->x.reason ? ex->x.reason : (char *)"";
	if (ex->direct)
		result = spok_status_from_driver_pod(app, ex->executors, t, ex->e->o.platform, &prev,
						     &s, &err);
	else
		result = spok_status_from_sparkapp(app, t, ex->e->o.platform, &prev, &s, &err);
	if (result != 0) {
		log_warn("engine: %s: %s", ex->x.id, err.msg);
		return true;
	}
	if (ex->direct && being_deleted(app) && !spok_phase_terminal(s.phase)) {
		/* spok deletes its pod only once finished (returned above): someone else did */
		spok_status_free(&s);
		return step_kind(ex, SPOK_RC_EV_DELETED);
	}
	if (!ex->tracked) {
		ex->tracked = true;
		emit(ex, SPOK_ENGINE_TRACKED);
	}
	ev.status.phase = s.phase;
	ev.status.phase_version = s.phase_version;
	ev.status.reason = s.reason;
	ev.status.error_message = s.error_message;
	ev.status.app_state = s.app_state;
	ev.status.info_changed = apply_info(ex, &s);
	if (s.driver_pod && s.driver_pod[0])
		set_str(&ex->driver_pod, s.driver_pod);
	if (s.phase == SPOK_PHASE_SUCCEEDED && t != NULL && spok_fd_applies(ex->e->o.platform, t)) {
		spok_fd_outcome(ex->e->o.platform, ex->x.id, ex->x.attempt, &fo);
		flyte_outcome(ex, &fo, &ev.status);
	}
	attempt = ex->x.attempt;
	alive = step(ex, &ev);
	if (alive && ex->direct && str_eq(s.app_state, "SUBMITTED") && ex->x.attempt == attempt) {
		if (ex->committing) /* the verdict once the status's record is committed */
			handle_later(ex, app);
		else
			pod_verdict(ex, app);
	}
	spok_flyte_outcome_free(&fo); /* after the step: ev.status points into it */
	spok_status_free(&s);
	return alive;
}

/* ---- group commit ---- */

/* What the watch brought while ex's write waited for its commit, in the watch's order: its
 * newest copy of our object, then a list without it, then its deletion. Each waits again if
 * handling the one before wrote again. False: ex left the engine. */
static bool replay_stashed(struct eng_exec *ex)
{
	if (ex->seen != NULL && !busy(ex)) {
		json_t *seen = ex->seen;
		bool alive;

		ex->seen = NULL;
		alive = handle_obj(ex, seen);
		json_decref(seen);
		if (!alive)
			return false;
	}
	if (ex->unlisted_seen && !busy(ex)) {
		struct spok_rc_event ev = {.kind = SPOK_RC_EV_NOT_LISTED,
					   .first_list = ex->unlisted_first};

		ex->unlisted_seen = false;
		if (!step(ex, &ev))
			return false;
	}
	if (ex->deleted_seen && !ex->committing) {
		ex->deleted_seen = false;
		return step_kind(ex, SPOK_RC_EV_DELETED);
	}
	return true;
}

/* ex's write was committed (result 0), or not: then it is not in the store and the engine
 * stops following ex as after any failed write (for a submit: nothing was created). */
static void resume(struct eng_exec *ex, int result, const struct spok_err *err)
{
	struct eng_resume *r = ex->resume;
	struct spok_rc_actions out;
	enum act a;

	ex->resume = NULL;
	ex->committing = false;
	if (result != 0) {
		if (r->start && ex->tv != NULL && spok_fd_applies(ex->e->o.platform, &ex->tv->view))
			spok_fd_discard(ex->e->o.platform, ex->x.id);
		resume_free(r);
		store_failed(ex, err);
		return;
	}
	emit(ex, SPOK_ENGINE_CHANGED);
	if (r->crash != NULL)
		crash_point(r->crash);
	if (r->start) {
		resume_free(r);
		if (!step_kind(ex, SPOK_RC_EV_START))
			return;
	} else {
		out.n = r->n;
		memcpy(out.a, r->a, r->n * sizeof(out.a[0]));
		a = perform(ex, &out);
		resume_free(r);
		if (a == ACT_GONE)
			return;
		schedule(ex);
	}
	(void)replay_stashed(ex);
}

/* Tells every waiter (spok_engine_wait_durable) the outcome of its batch, committed by now:
 * after the executions that waited for the same commit went on (a lost submit has failed
 * by then). The list is taken first: a callback may cancel a waiter still to be told, or
 * add one (told at the next commit). */
static void tell_waits(struct spok_engine *e)
{
	struct spok_engine_wait *l = e->waits, *w;

	e->waits = NULL;
	if (l != NULL)
		l->pprev = &l;
	while ((w = l) != NULL) {
		struct spok_err err = {0};
		int result = spok_store_batch_outcome(e->o.store, w->gen, &err);

		l = w->next;
		if (l != NULL)
			l->pprev = &l;
		w->next = NULL;
		w->pprev = NULL;
		w->e = NULL;
		w->done(w, result, result != 0 ? &err : NULL);
	}
}

/* Commits the batch and lets what waited for it go on, in the order of the writes, each
 * with the outcome of the batch its own write went into (another engine on the same store,
 * or an early commit, may have committed or lost it); what they write meanwhile is the
 * next batch, committed before returning. */
static void flush_batches(struct spok_engine *e)
{
	while (e->cq != NULL || spok_store_batch_open(e->o.store)) {
		struct spok_err cerr = {0};
		struct eng_exec *q = e->cq, *ex;
		bool open = spok_store_batch_open(e->o.store); /* else a read committed it */

		if (spok_store_batch_commit(e->o.store, &cerr) != 0)
			log_error("engine: %s", cerr.msg);
		e->cq = NULL;
		e->cq_tail = &e->cq;
		e->stats.store_commits += open;
		while ((ex = q) != NULL) {
			struct spok_err xerr = {0};
			int result = spok_store_batch_outcome(e->o.store, ex->resume->gen, &xerr);

			q = ex->cnext;
			ex->cnext = NULL;
			resume(ex, result, &xerr);
		}
	}
	if (e->flush_armed) {
		uv_prepare_stop(&e->flush_prep);
		uv_check_stop(&e->flush_check);
		e->flush_armed = false;
	}
	tell_waits(e);
}

static void flush(struct spok_engine *e)
{
	flush_batches(e);
}

static void on_flush_prep(uv_prepare_t *h)
{
	flush(h->data);
}

static void on_flush_check(uv_check_t *h)
{
	flush(h->data);
}

int spok_engine_wait_durable(struct spok_engine *e, struct spok_engine_wait *w,
			     struct spok_err *err)
{
	if (e->closed)
		return spok_err_set(err, SPOK_EUNAVAIL, "engine: closed; retry");
	/* The open batch (the last submit's row is in it), or the last one: its outcome is
	 * known at the next flush, which this arms (the loop turn's own commit). */
	w->gen = spok_store_batch_gen(e->o.store);
	w->e = e;
	w->next = e->waits;
	if (w->next != NULL)
		w->next->pprev = &w->next;
	w->pprev = &e->waits;
	e->waits = w;
	arm_flush(e);
	return 0;
}

void spok_engine_wait_cancel(struct spok_engine_wait *w)
{
	if (w == NULL || w->e == NULL)
		return;
	*w->pprev = w->next;
	if (w->next != NULL)
		w->next->pprev = w->pprev;
	w->next = NULL;
	w->pprev = NULL;
	w->e = NULL;
}

bool spok_engine_wait_pending(const struct spok_engine_wait *w)
{
	return w != NULL && w->e != NULL;
}

int spok_engine_sync(struct spok_engine *e, struct spok_err *err)
{
	if (e->closed)
		return 0;
	flush_batches(e);
	return spok_store_batch_outcome(e->o.store, e->submit_gen, err);
}

/* ---- tick: local checks only ---- */

/* One indexed query per tick marks the executions whose abort another process requested
 * (`spok abort`, the daemon): per-execution reads would cost O(active) every second. */
static void note_abort_requests(struct spok_engine *e)
{
	struct spok_strv ids = {0};
	struct spok_err err = {0};

	if (e->execs == NULL)
		return;
	if (spok_store_abort_requests(e->o.store, e->cluster, &ids, &err) != 0) {
		log_warn("engine: %s", err.msg);
		return;
	}
	for (size_t i = 0; i < ids.len; i++) {
		struct eng_exec *ex = find_id(e, ids.items[i]);

		if (ex != NULL) {
			ex->x.abort_requested = true;
			schedule(ex); /* due now */
		}
	}
	spok_strv_free(&ids);
}

static void recheck_held(struct spok_engine *e);
static void rescan(struct spok_engine *e);

/* Steps only the executions whose deadline has come (the heap's top): a tick costs what is
 * due, not what is tracked. Each is visited at most once per tick (a step may put it back). */
static void on_tick(uv_timer_t *t)
{
	struct spok_engine *e = t->data;
	uint64_t t0 = uv_hrtime(), now;
	size_t budget;

	if (e->adopting && uv_now(e->loop) >= e->next_rescan_ms)
		rescan(e);
	else if (e->nheld > 0)
		recheck_held(e);
	note_abort_requests(e);
	now = uv_now(e->loop);
	for (budget = e->nheap; budget > 0 && e->nheap > 0 && e->heap[0]->due <= now; budget--) {
		struct eng_exec *ex = e->heap[0];

		heap_remove(e, ex);
		e->stats.tick_steps++;
		(void)step_kind(ex, SPOK_RC_EV_TICK);
	}
	e->stats.ticks++;
	e->stats.tick_ns += uv_hrtime() - t0;
}

/* ---- public ---- */

bool spok_engine_needs_work(const struct spok_execution *x)
{
	if (!spok_phase_terminal(x->phase))
		return true;
	return x->phase == SPOK_PHASE_RETRYABLE_FAILURE && x->attempt + 1 < x->max_attempts &&
	       !x->abort_requested;
}

int spok_engine_new(const struct spok_engine_opts *o, struct spok_engine **out,
		    struct spok_err *err)
{
	struct spok_engine *e;

	if (o == NULL || o->client == NULL || o->store == NULL || o->platform == NULL ||
	    o->cluster == NULL || o->cluster[0] == '\0')
		return spok_err_set(err, SPOK_EINTERNAL, "engine: missing option; please report");
	e = xcalloc(1, sizeof(*e));
	e->o = *o;
	e->cluster = xstrdup(o->cluster);
	e->o.cluster = e->cluster;
	e->spark_version = xstrdup(o->spark_version);
	e->o.spark_version = e->spark_version;
	if (e->o.submitted_timeout_ms == 0)
		e->o.submitted_timeout_ms = SPOK_ENGINE_SUBMITTED_TIMEOUT_MS;
	if (e->o.tick_ms == 0)
		e->o.tick_ms = 1000;
	if (e->o.backoff_ms == 0)
		e->o.backoff_ms = 1000;
	if (e->o.backoff_max_ms == 0)
		e->o.backoff_max_ms = 60000;
	if (e->o.rescan_ms == 0)
		e->o.rescan_ms = SPOK_ENGINE_RESCAN_MS;
	if (e->o.driver_check_ms == 0)
		e->o.driver_check_ms = SPOK_ENGINE_DRIVER_CHECK_MS;
	e->rc = (struct spok_rc_config){.keep_on_success = e->o.keep_on_success,
					.delete_failed = e->o.delete_failed,
					.submitted_timeout_ms = e->o.submitted_timeout_ms,
					.backoff_ms = e->o.backoff_ms,
					.backoff_max_ms = e->o.backoff_max_ms,
					.driver_check_ms = e->o.driver_check_ms};
	e->self = spok_proc_self();
	e->loop = kube_client_loop(o->client);
	uv_timer_init(e->loop, &e->tick);
	e->tick.data = e;
	uv_timer_start(&e->tick, on_tick, e->o.tick_ms, e->o.tick_ms);
	uv_prepare_init(e->loop, &e->flush_prep);
	uv_check_init(e->loop, &e->flush_check);
	e->flush_prep.data = e;
	e->flush_check.data = e;
	e->cq_tail = &e->cq;
	e->pending = 3; /* the timer and the two flush handles */
	*out = e;
	return 0;
}

static void tick_closed(uv_handle_t *h)
{
	struct spok_engine *e = h->data;

	e->pending--;
	maybe_free_engine(e);
}

/* At close: the batch is committed (what it holds was meant to last, and a re-adoption
 * continues from it), and nothing waits for it any more. */
static void close_batch(struct spok_engine *e)
{
	struct spok_err err = {0};
	struct eng_exec *ex;

	if (spok_store_batch_commit(e->o.store, &err) != 0)
		log_error("engine: %s", err.msg);
	while ((ex = e->cq) != NULL) {
		struct spok_err xerr = {0};

		e->cq = ex->cnext;
		ex->cnext = NULL;
		/* What waited for the commit is not done (the next engine adopts the rows as
		 * committed); a write that was lost fails its execution as during the run, so
		 * the caller hears of it: a submit then has no row, an update's row still shows
		 * the state before it, which re-adoption continues from. */
		if (spok_store_batch_outcome(e->o.store, ex->resume->gen, &xerr) != 0) {
			if (ex->resume->start && ex->tv != NULL &&
			    spok_fd_applies(e->o.platform, &ex->tv->view))
				spok_fd_discard(e->o.platform, ex->x.id); /* as resume() does */
			unrecorded(ex, &xerr);
		}
		resume_free(ex->resume);
		ex->resume = NULL;
		ex->committing = false;
	}
	e->cq_tail = &e->cq;
	if (e->flush_armed) {
		uv_prepare_stop(&e->flush_prep);
		uv_check_stop(&e->flush_check);
		e->flush_armed = false;
	}
	tell_waits(e); /* the batch is committed (or lost): their answer is known */
	uv_close((uv_handle_t *)&e->flush_prep, tick_closed);
	uv_close((uv_handle_t *)&e->flush_check, tick_closed);
}

void spok_engine_close(struct spok_engine *e)
{
	struct eng_ns *ns, *nn;
	struct eng_exec *ex, *next;

	if (e == NULL || e->closed)
		return;
	close_batch(e);
	e->closed = true;
	for (ns = e->nss; ns; ns = nn) {
		nn = ns->next;
		kube_watch_stop(ns->w);
		kube_watch_stop(ns->pw);
		free(ns->name);
		free(ns);
	}
	e->nss = NULL;
	for (ex = e->execs; ex; ex = next) {
		next = ex->next;
		if (ex->inflight)
			ex->orphan = true;
		else
			exec_free(ex);
	}
	e->execs = NULL;
	e->nheap = 0; /* its executions are freed or orphaned: no tick runs again */
	uv_timer_stop(&e->tick);
	uv_close((uv_handle_t *)&e->tick, tick_closed);
}

static struct eng_exec *exec_new(struct spok_engine *e)
{
	struct eng_exec *ex = xcalloc(1, sizeof(*ex));

	ex->e = e;
	ex->heap_at = SIZE_MAX;
	ex->due = SPOK_RC_NEVER;
	return ex;
}

int spok_engine_submit(struct spok_engine *e, struct spok_task *t, const char *ns,
		       const char *task_source, char *id_out, size_t id_len,
		       struct spok_err *err)
{
	return spok_engine_submit_keyed(e, t, ns, task_source, NULL, id_out, id_len, err);
}

/* Everything a submit needs before its row: flytekit's folder, the object, the shipped files,
 * the namespace's watch. On failure nothing is left behind (flytekit's folder is removed). */
static int submit_prepare(struct spok_engine *e, const struct spok_task *t, const char *id,
			  const char *ns, json_t **app, struct spok_direct *d, struct spok_ship *ship,
			  struct eng_ns **wns, struct spok_err *err)
{
	bool fd = spok_fd_applies(e->o.platform, t);
	int result = SPOK_OK;

	/* Valid inputs, and inputs.pb in place before the row that lets anyone create the pods
	 * that read it. */
	if (fd)
		result = spok_fd_prepare(e->o.platform, t, id, err);
	/* Attempt 0's object, built once: its name goes into the write-ahead row and the same
	 * object is sent by the create. */
	if (result == SPOK_OK)
		result = build_for(e, t, id, ns, 0, app, err);
	/* Direct: what spark-submit would refuse is refused here, before any row. */
	if (result == SPOK_OK && e->o.direct)
		result = build_direct(e, *app, d, err);
	/* The files are read before anything is recorded or created: a bad one fails here. */
	if (result == SPOK_OK && e->o.ship_local_files && task_has_local(t))
		result = spok_ship_read(t, ship, err);
	if (result == SPOK_OK && (*wns = ensure_ns(e, ns, e->o.direct, err)) == NULL)
		result = SPOK_EAPI;
	if (result != SPOK_OK) {
		spok_direct_free(d);
		spok_ship_free(ship);
		json_decref(*app);
		*app = NULL;
		if (fd)
			spok_fd_discard(e->o.platform, id);
	}
	return result;
}

int spok_engine_submit_keyed(struct spok_engine *e, struct spok_task *t, const char *ns,
			     const char *task_source, const char *key, char *id_out,
			     size_t id_len, struct spok_err *err)
{
	return spok_engine_submit_noted(e, t, ns, task_source, key, NULL, id_out, id_len, err);
}

int spok_engine_submit_noted(struct spok_engine *e, struct spok_task *t, const char *ns,
			     const char *task_source, const char *key, const char *fallback,
			     char *id_out, size_t id_len, struct spok_err *err)
{
	struct eng_exec *ex;
	struct eng_ns *wns = NULL;
	struct spok_ship ship = {0};
	struct spok_direct d = {0};
	json_t *app = NULL;
	char id[SPOK_EXEC_ID_LEN + 1];
	int result;

	if (e->closed || ns == NULL || ns[0] == '\0' || id_out == NULL || id_len <= SPOK_EXEC_ID_LEN)
		return spok_err_set(err, SPOK_EINTERNAL, "engine: bad submit arguments; please report");
	if ((result = spok_store_new_id(id, sizeof(id), err)) != 0)
		return result;
	if ((result = submit_prepare(e, t, id, ns, &app, &d, &ship, &wns, err)) != 0)
		return result;
	ex = exec_new(e);
	ex->ship = ship;
	ex->ship_read = true;
	ex->app = app;
	ex->d = d;
	ex->direct = e->o.direct;
	ex->x.submission = e->o.direct ? xstrdup(SPOK_SUBMISSION_DIRECT) : NULL;
	ex->x.id = xstrdup(id);
	ex->x.task_name = xstrdup(t->name);
	ex->x.project = xstrdup(t->project);
	ex->x.domain = xstrdup(t->domain);
	ex->x.backend = xstrdup(e->cluster);
	ex->x.namespace_ = xstrdup(ns);
	ex->x.task_source = xstrdup(task_source);
	ex->x.idempotency_key = xstrdup(key);
	ex->x.fallback = xstrdup(fallback);
	ex->x.max_attempts = t->retries + 1;
	ex->x.created_ms = spok_now_ms();
	ex->x.supervisor_pid = e->self.pid;
	ex->x.supervisor_start = e->self.start;
	reset_attempt(&ex->x, 0);
	set_str(&ex->x.resource_name, app_name(app));
	if (ex->direct)
		set_direct_names(ex);
	set_str(&ex->x.event_log_dir, app_event_log_dir(app));
	/* Write-ahead: without this row nothing is created (the create waits for its commit). */
	arm_flush(e); /* even a failed write may have opened the batch */
	if ((result = spok_store_batch_insert(e->o.store, &ex->x, err)) != 0) {
		char msg[SPOK_ERR_MSG_MAX];

		snprintf(msg, sizeof(msg), "%s", err ? err->msg : "");
		exec_free(ex);
		if (spok_fd_applies(e->o.platform, t))
			spok_fd_discard(e->o.platform, id);
		return spok_err_set(err, result, "cannot record the new execution in the store "
				    "(%s); nothing was created", msg);
	}
	/* The engine takes the task over; the caller's struct is left empty. */
	task_set(ex, t, !e->o.reload_tasks);
	ex->ns = wns;
	link_exec(e, ex);
	snprintf(id_out, id_len, "%s", id);
	park(ex, "before-create", NULL, 0); /* emit, then START, once committed */
	e->submit_gen = ex->resume ? ex->resume->gen : 0;
	schedule(ex);
	return 0;
}

static struct spok_proc_id supervisor_of(const struct spok_execution *x)
{
	return (struct spok_proc_id){.pid = x->supervisor_pid, .start = x->supervisor_start};
}

/* No other live process follows x: its recorded supervisor is this process, has exited
 * (a zombie counts as exited), or its pid now belongs to another process (start time). */
static bool orphaned(const struct spok_engine *e, const struct spok_execution *x)
{
	struct spok_proc_id sup = supervisor_of(x);

	if (sup.pid == e->self.pid && (sup.start == 0 || sup.start == e->self.start))
		return true;
	return !spok_proc_alive(sup);
}

/* The confirmation time of an adopted attempt on the loop's clock: its age from the stored
 * wall-clock started_ms, taken once here (timeouts then run on the loop's clock). */
static void adopt_clock(struct eng_exec *ex)
{
	int64_t age = ex->x.started_ms != 0 ? spok_now_ms() - ex->x.started_ms : 0;

	ex->rc.confirmed_at_ms = (int64_t)uv_now(ex->e->loop) - (age > 0 ? age : 0);
}

/* Takes over the row in ex->x (read from the store just before): claims it in the store
 * (compare-and-set on the supervisor read, so two engines never both take it), then follows
 * it. Frees ex on failure. */
static int adopt_exec(struct spok_engine *e, struct eng_exec *ex, struct spok_err *err)
{
	struct spok_rc_event ev = {.kind = SPOK_RC_EV_ADOPT};
	struct spok_err lerr = {0};
	struct spok_task t;
	int result;

	if (find_id(e, ex->x.id) != NULL) {
		exec_free(ex);
		return 0;
	}
	if (!str_eq(ex->x.backend, e->cluster) || !spok_engine_needs_work(&ex->x)) {
		result = spok_err_set(err, SPOK_EINVAL, "execution %s: %s on %s needs no cluster "
				      "engine here", ex->x.id, spok_phase_name(ex->x.phase),
				      ex->x.backend ? ex->x.backend : "local");
		goto fail;
	}
	spok_task_init(&t);
	if (e->o.load_task && e->o.load_task(e->o.load_data, &ex->x, &t, &lerr) == 0)
		task_set(ex, &t, false); /* loaded again when an attempt is built */
	else {
		spok_task_free(&t);
		log_warn("engine: %s: cannot reload the task: %s", ex->x.id, lerr.msg);
		ex->load_error = load_error_of(&ex->x, lerr.msg);
	}
	ex->direct = spok_execution_direct(&ex->x);
	if (ex->direct)
		set_direct_names(ex);
	if ((ex->ns = ensure_ns(e, ex->x.namespace_, ex->direct, err)) == NULL) {
		result = SPOK_EAPI;
		goto fail;
	}
	if ((result = spok_store_claim(e->o.store, ex->x.id, supervisor_of(&ex->x), e->self, err)) != 0)
		goto fail;
	ex->x.supervisor_pid = e->self.pid;
	ex->x.supervisor_start = e->self.start;
	link_exec(e, ex);
	adopt_clock(ex);
	ev.first_list = ex->direct ? ex->ns->plisted : ex->ns->listed;
	(void)step(ex, &ev);
	return 0;
fail:
	exec_free(ex);
	return result;
}

int spok_engine_adopt(struct spok_engine *e, const char *id, struct spok_err *err)
{
	struct eng_exec *ex = exec_new(e);
	int result = spok_store_get(e->o.store, id, &ex->x, err);

	if (result != 0) {
		exec_free(ex);
		return result;
	}
	return adopt_exec(e, ex, err);
}

static void hold(struct spok_engine *e, const char *id, struct spok_proc_id sup)
{
	if (e->nheld == e->capheld) {
		e->capheld = e->capheld ? e->capheld * 2 : 16;
		e->held = xreallocarray(e->held, e->capheld, sizeof(*e->held));
	}
	e->held[e->nheld++] = (struct held){.id = xstrdup(id), .sup = sup};
}

/* One unfinished row (taken over: *x is left empty): adopted when no other live process
 * follows it, remembered in e->held when one does. *adopted is incremented on adoption.
 * A row another engine claimed first is left to it. */
static int consider(struct spok_engine *e, struct spok_execution *x, size_t *adopted,
		    struct spok_err *err)
{
	struct eng_exec *ex;
	int result;

	if (find_id(e, x->id) != NULL || !str_eq(x->backend, e->cluster) ||
	    !spok_engine_needs_work(x)) {
		spok_execution_free(x);
		return 0;
	}
	if (!orphaned(e, x)) {
		hold(e, x->id, supervisor_of(x));
		spok_execution_free(x);
		return 0;
	}
	ex = exec_new(e);
	ex->x = *x;
	memset(x, 0, sizeof(*x));
	result = adopt_exec(e, ex, err);
	if (result == SPOK_ECONFLICT)
		return 0;
	if (result == 0 && adopted)
		(*adopted)++;
	return result;
}

/* Re-reads one row and considers it again: a held row whose supervisor was seen gone, or
 * (lost) one of ours no longer followed. Non-zero when the row could not be read or taken
 * over (a row since removed is not). */
static int reconsider(struct spok_engine *e, const char *id, bool lost)
{
	struct spok_execution x = {0};
	struct spok_err err = {0};
	size_t n = 0;
	int result = spok_store_get(e->o.store, id, &x, &err);

	if (result != 0 || strcmp(x.id, id) != 0) {
		spok_execution_free(&x);
		return result == SPOK_ENOTFOUND ? 0 : result;
	}
	if ((result = consider(e, &x, &n, &err)) != 0)
		log_warn("engine: %s: taking over: %s", id, err.msg);
	else if (n)
		log_info("engine: %s: %s; following it", id,
			 lost ? "unfinished in the store" : "its supervisor is gone");
	return result;
}

/* Every tick: the supervisors of held rows, each checked once per tick. */
static void recheck_held(struct spok_engine *e)
{
	struct held *old = e->held;
	size_t n = e->nheld;
	struct spok_proc_id last = {0};
	bool last_alive = false;

	e->held = NULL;
	e->nheld = e->capheld = 0;
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || old[i].sup.pid != last.pid || old[i].sup.start != last.start) {
			last = old[i].sup;
			last_alive = spok_proc_alive(last);
		}
		if (last_alive)
			hold(e, old[i].id, old[i].sup);
		else
			(void)reconsider(e, old[i].id, false);
		free(old[i].id);
	}
	free(old);
}

/* This cluster's unfinished rows, through an index: all of them (adopt_all), else (a
 * rescan) those another process supervises, the rows we follow left unread. A row that
 * cannot be taken over does not keep the others from it: the first error is returned. */
static int scan(struct spok_engine *e, bool all, size_t *adopted, struct spok_err *err)
{
	struct spok_execution *v = NULL;
	size_t nv = 0;
	int result = all ? spok_store_list_unfinished(e->o.store, e->cluster, &v, &nv, err)
			 : spok_store_list_unfinished_others(e->o.store, e->cluster, e->self, &v,
							     &nv, err);

	held_clear(e);
	for (size_t i = 0; i < nv; i++) {
		struct spok_err one = {0};
		int r = consider(e, &v[i], adopted, &one);

		if (r != 0 && result == 0) {
			result = r;
			if (err)
				*err = one;
		}
	}
	spok_execution_list_free(v, nv);
	e->next_rescan_ms = uv_now(e->loop) + e->o.rescan_ms;
	return result;
}

static void rescan(struct spok_engine *e)
{
	struct spok_err err = {0};
	struct spok_strv lost = e->lost;
	size_t n = 0;

	/* Ours but not followed: read again (a row since finished is left alone). */
	memset(&e->lost, 0, sizeof(e->lost));
	for (size_t i = 0; i < lost.len; i++)
		if (reconsider(e, lost.items[i], true) != 0)
			spok_strv_push(&e->lost, lost.items[i]); /* the next rescan tries again */
	spok_strv_free(&lost);
	if (scan(e, false, &n, &err) != 0)
		log_warn("engine: %s: looking for executions to take over: %s", e->cluster, err.msg);
	else if (n)
		log_info("engine: %s: took over %zu execution(s) whose supervisor is gone", e->cluster, n);
}

/* Namespaces whose finished executions' teardown may have been cut short: listing them
 * lets the first list delete what is left (cleanup_leftover). One DISTINCT query over the
 * index, not a read of every finished execution. */
static int watch_teardown_namespaces(struct spok_engine *e, struct spok_err *err)
{
	struct spok_strv nss = {0};
	uint32_t phases = 0;
	int result = 0;

	for (size_t p = 0; p < SPOK_STORE_NPHASES; p++)
		if (spok_phase_terminal((enum spok_phase)p) && !spok_rc_keeps(&e->rc, (enum spok_phase)p))
			phases |= SPOK_STORE_PHASE(p);
	/* Each kind on its own watch: a cluster of direct runs alone may have no
	 * SparkApplication kind to list. */
	for (int k = 0; result == 0 && k < 2; k++) {
		bool direct = k == 1;

		result = spok_store_namespaces(e->o.store, e->cluster, phases, direct, &nss, err);
		for (size_t i = 0; result == 0 && i < nss.len; i++)
			(void)ensure_ns(e, nss.items[i], direct, NULL);
		spok_strv_free(&nss);
	}
	return result;
}

int spok_engine_adopt_all(struct spok_engine *e, size_t *n, struct spok_err *err)
{
	size_t count = 0;
	int result = watch_teardown_namespaces(e, err);

	e->adopting = true;
	if (result == 0)
		result = scan(e, true, &count, err);
	if (n)
		*n = count;
	return result;
}

int spok_engine_abort(struct spok_engine *e, const char *id, struct spok_err *err)
{
	struct eng_exec *ex;
	struct spok_execution x = {0};
	struct spok_err lerr = {0};
	int result = spok_store_request_abort(e->o.store, id, err);

	if (result != 0)
		return result;
	ex = find_id(e, id);
	if (ex != NULL) {
		(void)step_kind(ex, SPOK_RC_EV_ABORT);
		return 0;
	}
	/* Not followed here: a live supervisor acts on the flag; if there is none, nobody
	 * would, so this engine takes it over (and aborts it at once). */
	if (spok_store_get(e->o.store, id, &x, &lerr) == 0 && orphaned(e, &x) &&
	    consider(e, &x, NULL, &lerr) != 0)
		log_warn("engine: %s: abort: %s", id, lerr.msg);
	spok_execution_free(&x);
	return 0;
}

bool spok_engine_direct(const struct spok_engine *e)
{
	return e->o.direct;
}

size_t spok_engine_active(const struct spok_engine *e)
{
	return e->stats.active;
}

bool spok_engine_idle(const struct spok_engine *e)
{
	if (e->stats.active > 0 || e->loose > 0)
		return false;
	for (const struct eng_ns *ns = e->nss; ns; ns = ns->next)
		if ((ns->w && !ns->listed) || (ns->pw && !ns->plisted))
			return false;
	return true;
}

bool spok_engine_settled(const struct spok_engine *e)
{
	if (e->loose > 0)
		return false;
	for (const struct eng_exec *ex = e->execs; ex; ex = ex->next)
		if (ex->x.abort_requested || ex->rc.stage == SPOK_RC_STAGE_DELETING)
			return false;
	return true;
}

void spok_engine_stats(const struct spok_engine *e, struct spok_engine_stats *out)
{
	*out = e->stats;
	out->loose = (size_t)e->loose;
	out->inflight = 0;
	for (const struct eng_exec *ex = e->execs; ex; ex = ex->next)
		out->inflight += busy(ex); /* a write waiting for its commit counts: its step is not done */
	for (const struct eng_ns *ns = e->nss; ns; ns = ns->next) {
		const struct kube_watch *ws[2] = {ns->w, ns->pw};

		for (size_t i = 0; i < 2; i++) {
			struct kube_watch_stats st;

			if (ws[i] == NULL)
				continue;
			kube_watch_stats(ws[i], &st);
			out->watch_connects += st.connects;
		}
	}
}
