/* server.c - the daemon's lifecycle: store, clusters (client + engine + health probe),
 * idempotency lookups, signals and graceful shutdown. */
#include "server/server.h"
#include "server/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/sys.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "connect/connect.h"
#include "flyteidl/flyteidl.h"
#include "kube/exec.h"
#include "jobfile/jobfile.h"

#define TASK_FILE_MAX ((size_t)16 << 20)
#define SRV_TASK_PARSE_S 30 /* seconds a stored task may take to parse in the check */
#define PARSE_REFUSED 3     /* the check child's status for "parsed, and refused" */

/* ---- task sources ---- */

/* Written without its fsync: the path joins d->unsynced, synced by sync_task_sources
 * before the commit of the row that names it. */
static int write_unsynced(struct srv_daemon *d, const char *path, const void *data, size_t len,
			  struct spok_err *err)
{
	int result = spok_write_file_renamed(path, data, len, 0600, "the data dir", err);

	if (result == SPOK_OK)
		spok_strv_push(&d->unsynced, path);
	return result;
}

void srv_drop_task_source(struct srv_daemon *d, const char *path)
{
	(void)unlink(path);
	/* it was the last one written: nothing commits between its write and its row */
	if (d->unsynced.len > 0 && strcmp(d->unsynced.items[d->unsynced.len - 1], path) == 0) {
		free(d->unsynced.items[--d->unsynced.len]);
		d->unsynced.items[d->unsynced.len] = NULL;
	}
}

/* The store's precommit: the task sources written since the last commit are synced before
 * it, together (one fsync each, back to back, instead of one per request between others'
 * work). A file removed since (its submission failed) is skipped; one that cannot be synced
 * loses the batch, so no row names a task source that might not last. */
static int sync_task_sources(void *data, struct spok_err *err)
{
	struct srv_daemon *d = data;
	int result = SPOK_OK;

	for (size_t i = 0; i < d->unsynced.len; i++) {
		int fd = open(d->unsynced.items[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

		if (fd < 0 && errno == ENOENT)
			continue;
		if ((fd < 0 || fsync(fd) != 0) && result == SPOK_OK)
			result = spok_err_set(err, SPOK_EIO, "%s: cannot sync: %s; check the data dir",
					      d->unsynced.items[i], strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	/* their names too: a renamed file's entry lasts once its directory is synced */
	if (d->unsynced.len > 0 && result == SPOK_OK && spok_fsync_dir(d->tasks_dir) != 0)
		result = spok_err_set(err, SPOK_EIO, "%s: cannot sync: %s; check the data dir",
				      d->tasks_dir, strerror(errno));
	spok_strv_free(&d->unsynced);
	return result;
}

int srv_write_task_source(struct srv_daemon *d, const char *stem, const char *ext,
			  const void *data, size_t len, bool batched, char **path,
			  struct spok_err *err)
{
	char *final = xasprintf("%s/%s.%s", d->tasks_dir, stem, ext);
	/* Written and synced before the execution row names it: a restart can always reload
	 * the task of a recorded execution. A row of the group commit: synced right before
	 * that commit (sync_task_sources). */
	int result = batched ? write_unsynced(d, final, data, len, err)
			     : spok_write_file_atomic(final, data, len, 0600, "the data dir", err);

	if (result != SPOK_OK) {
		free(final);
		return result;
	}
	*path = final;
	return SPOK_OK;
}

/* The stored file's name says what the client sent (<stem>.pb or <stem>.yaml, chosen by
 * the submit form; <stem>.ctr from the Flyte connector); the bytes are not sniffed. A task
 * a CLI cluster run recorded (its job file, package or protobuf, followed here after the
 * rescan took the run over) is read the way the CLI reads it: by extension, and sniffed
 * only under another name. A package's task is its only Spark task (the CLI's --task is
 * not recorded). */
static int parse_stored(const char *path, const struct spok_buf *b, struct spok_task *out,
			struct spok_err *err)
{
	const uint8_t *data = (const uint8_t *)(b->data ? b->data : "");
	bool flyte;

	if (spok_server_is_connector_source(path))
		return srv_load_connector_task(b->data, b->len, path, out, err);
	switch (spok_task_file_by_name(path)) {
	case SPOK_TASK_FILE_JOB: flyte = false; break;
	case SPOK_TASK_FILE_UNKNOWN: flyte = spok_flyte_sniff(data, b->len); break;
	default: flyte = true; break;
	}
	if (flyte)
		return spok_flyte_load_task_buf(data, b->len, path, NULL, out, err);
	return spok_jobfile_parse_task(b->data ? b->data : "", b->len, path, out, err);
}

/* A stored task is a client's text. It is parsed first in a child process, so a parser bug
 * it triggers (a crash, or a hang cut by SRV_TASK_PARSE_S) costs only its own execution -
 * the engine then fails it when it would have to create it again - and never the daemon,
 * which reloads every unfinished task on each start. The daemon parses only what the child
 * survived; the parse is deterministic. */
static int check_isolated(const char *path, const struct spok_buf *b, struct spok_err *err)
{
	pid_t pid = fork();
	int st = 0;

	if (pid < 0)
		return spok_err_set(err, SPOK_EIO, "%s: cannot fork to check the stored task: %s",
				    path, strerror(errno));
	if (pid == 0) {
		struct spok_task t;
		sigset_t alrm;

		/* The deadline must work even if spok serve was started with SIGALRM ignored or
		 * blocked (both are inherited). */
		signal(SIGALRM, SIG_DFL);
		sigemptyset(&alrm);
		sigaddset(&alrm, SIGALRM);
		sigprocmask(SIG_UNBLOCK, &alrm, NULL);
		alarm(SRV_TASK_PARSE_S);
		spok_task_init(&t);
		/* Not 1: a sanitizer that catches a bug exits with 1. */
		_exit(parse_stored(path, b, &t, NULL) == SPOK_OK ? 0 : PARSE_REFUSED);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return spok_err_set(err, SPOK_EIO, "%s: cannot check the stored task: %s",
					    path, strerror(errno));
	if (WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == PARSE_REFUSED))
		return SPOK_OK; /* parsed, or refused with an error the parent reports itself */
	if (WIFSIGNALED(st))
		return spok_err_set(err, SPOK_EINVAL, "%s: the stored task %s the task parser "
				    "(signal %d); it is not loaded again", path,
				    WTERMSIG(st) == SIGALRM ? "hung" : "crashed", WTERMSIG(st));
	return spok_err_set(err, SPOK_EINVAL, "%s: the stored task crashed the task parser "
			    "(exit status %d); it is not loaded again", path, WEXITSTATUS(st));
}

int srv_load_task(void *data, const struct spok_execution *x, struct spok_task *out,
		  struct spok_err *err)
{
	struct spok_buf b;
	int result;

	(void)data;
	if (x->task_source == NULL)
		return spok_err_set(err, SPOK_EINVAL, "execution %s: no task source recorded", x->id);
	spok_buf_init(&b, TASK_FILE_MAX);
	result = spok_buf_read_file(&b, x->task_source, err);
	if (result == SPOK_OK)
		result = check_isolated(x->task_source, &b, err);
	if (result == SPOK_OK) {
		spok_task_free(out);
		result = parse_stored(x->task_source, &b, out, err);
	}
	spok_buf_free(&b);
	return result;
}

/* ---- idempotency ---- */

/* The execution created for idempotency key <hex>: the key is a column of the execution's
 * row with a UNIQUE index, written in the same write-ahead insert as the row, so a crash
 * between creating the execution and answering the client cannot lose the mapping, and
 * nothing is kept in memory. One index seek per keyed POST. */
int srv_idem_find(struct srv_daemon *d, const char *hex, char **id, struct spok_err *err)
{
	return spok_store_find_key(d->store, hex, id, err);
}

/* ---- clusters ---- */

struct srv_cluster *srv_cluster_by_name(struct srv_daemon *d, const char *name)
{
	long i = srv_cluster_index(&d->cfg, name);

	return i < 0 ? NULL : &d->clusters[i];
}

const struct spok_backend_ops *srv_backend(struct srv_daemon *d, const struct spok_execution *x,
					   struct spok_backend_ctx *ctx)
{
	const struct spok_backend_ops *b = spok_backend_for(x->backend);
	struct srv_cluster *c = b->cluster ? srv_cluster_by_name(d, x->backend) : NULL;

	memset(ctx, 0, sizeof(*ctx));
	ctx->loop = &d->loop;
	ctx->store = d->store;
	ctx->platform = d->platform;
	ctx->client = c ? c->client : NULL;
	ctx->engine = c ? c->engine : NULL;
	ctx->local = d->local;
	ctx->shared_loop = true;
	return b;
}

void srv_cluster_states(struct srv_daemon *d, struct srv_cluster_state *out)
{
	for (size_t i = 0; i < d->nclusters; i++) {
		out[i].healthy = d->clusters[i].health == SRV_UP;
		out[i].active = d->clusters[i].engine ? spok_engine_active(d->clusters[i].engine) : 0;
	}
}

static int load_kubeconfig(const struct srv_cluster_cfg *k, struct kube_config *cfg,
			   struct spok_err *err)
{
	int result;

	if (k->in_cluster)
		result = kube_config_in_cluster(cfg, NULL, err);
	else
		result = kube_config_load(cfg, k->kubeconfig, k->context, err);
	if (result != SPOK_OK)
		spok_err_prefix(err, "cluster %s", k->name);
	return result;
}

static void probe_start(uv_timer_t *t);

static void probe_done(void *data, const struct kube_resp *resp)
{
	struct srv_cluster *c = data;
	enum srv_health was = c->health;

	c->probing = false;
	c->probes++;
	if (resp->code == 0) {
		c->health = SRV_UP;
		c->health_msg[0] = '\0';
	} else {
		c->health = SRV_DOWN;
		c->probe_failures++;
		snprintf(c->health_msg, sizeof(c->health_msg), "%.255s", resp->message);
	}
	if (was != c->health)
		log_warn("serve: cluster %s is %s%s%s", c->cfg->name,
			 c->health == SRV_UP ? "up" : "down", c->health == SRV_UP ? "" : ": ",
			 c->health_msg);
}

static void probe_start(uv_timer_t *t)
{
	struct srv_cluster *c = t->data;
	struct kube_req req = {.method = "GET", .path = "/version", .no_retry = true};
	struct spok_err err = {0};

	if (c->probing || c->d->stopping)
		return;
	if (kube_request(c->client, &req, probe_done, c, &err) == 0)
		c->probing = true;
	else
		snprintf(c->health_msg, sizeof(c->health_msg), "%.255s", err.msg); /* cut to fit */
}

static int cluster_open(struct srv_daemon *d, size_t i, struct spok_err *err)
{
	struct srv_cluster *c = &d->clusters[i];
	struct kube_client_opts ko = {0};
	struct spok_engine_opts eo = {0};
	struct kube_config kc;
	size_t adopted = 0;
	struct spok_err aerr = {0};
	int result;

	c->d = d;
	c->cfg = &d->cfg.clusters[i];
	if ((result = load_kubeconfig(c->cfg, &kc, err)) != SPOK_OK)
		return result;
	if (kc.exec != NULL && c->cfg->exec_timeout_ms > 0)
		kc.exec->timeout_ms = c->cfg->exec_timeout_ms;
	ko.qps = c->cfg->qps;
	ko.burst = c->cfg->burst;
	result = kube_client_new(&d->loop, &kc, &ko, &c->client, err);
	kube_config_free(&kc);
	if (result != SPOK_OK)
		return spok_err_prefix(err, "cluster %s", c->cfg->name);
	eo.cluster = c->cfg->name;
	eo.direct = c->cfg->direct;
	eo.client = c->client;
	eo.store = d->store;
	eo.platform = d->platform;
	eo.load_task = srv_load_task;
	eo.reload_tasks = true; /* its task files are its own and kept (srv_write_task_source) */
	eo.load_data = d;
	if (spok_engine_new(&eo, &c->engine, err) != SPOK_OK)
		return spok_err_prefix(err, "cluster %s", c->cfg->name);
	/* Crash-safe restart: take over what a previous daemon left running. A cluster that
	 * is down only delays its own executions: the engine retries in the background. */
	if (spok_engine_adopt_all(c->engine, &adopted, &aerr) != SPOK_OK)
		log_warn("serve: cluster %s: adopting executions: %s", c->cfg->name, aerr.msg);
	else if (adopted)
		log_info("serve: cluster %s: adopted %zu executions", c->cfg->name, adopted);
	uv_timer_init(&d->loop, &c->probe);
	c->probe.data = c;
	c->timer_open = true;
	uv_timer_start(&c->probe, probe_start, 0, SRV_PROBE_MS);
	return SPOK_OK;
}

static void clusters_close(struct srv_daemon *d)
{
	for (size_t i = 0; i < d->nclusters; i++) {
		struct srv_cluster *c = &d->clusters[i];

		if (c->timer_open) {
			uv_timer_stop(&c->probe);
			uv_close((uv_handle_t *)&c->probe, NULL);
			c->timer_open = false;
		}
		if (c->engine)
			spok_engine_close(c->engine);
		c->engine = NULL;
		kube_client_close(c->client);
		c->client = NULL;
	}
}

/* ---- shutdown ---- */

/* Submissions waiting for the loop turn's commit get their real answer before http.c gives
 * up on suspended requests (a 503 for a submission that is then created would invite a
 * duplicate from a client without an idempotency key): the engines commit now, which tells
 * their waiters. */
static void commit_waiting(struct srv_daemon *d)
{
	for (size_t i = 0; i < d->nclusters; i++) {
		struct spok_err err = {0};

		/* a lost batch is told to its executions and waiters, not here */
		if (d->clusters[i].engine)
			(void)spok_engine_sync(d->clusters[i].engine, &err);
	}
}

static void ext_stop(struct srv_daemon *d)
{
	if (d->ext_stop && d->ext)
		d->ext_stop(d->ext);
	d->ext = NULL;
}

static void gc_stop(struct srv_daemon *d)
{
	if (!d->gc_open)
		return;
	uv_timer_stop(&d->gc);
	uv_close((uv_handle_t *)&d->gc, NULL);
	d->gc_open = false;
}

static void finish_stop(struct srv_daemon *d)
{
	commit_waiting(d);
	ext_stop(d);
	gc_stop(d);
	uv_timer_stop(&d->drain);
	uv_close((uv_handle_t *)&d->drain, NULL);
	srv_http_stop(d);
	srv_progress_stop(d);
	clusters_close(d);
	for (size_t i = 0; i < 3; i++)
		uv_close((uv_handle_t *)&d->sig[i], NULL);
	log_info("serve: stopped accepting; engines closed");
}

static bool engines_settled(const struct srv_daemon *d)
{
	for (size_t i = 0; i < d->nclusters; i++)
		if (d->clusters[i].engine && !spok_engine_settled(d->clusters[i].engine))
			return false;
	return true;
}

static void on_drain(uv_timer_t *t)
{
	struct srv_daemon *d = t->data;

	/* Local runs end in bounded time (TERM, KILL after the grace): their ends are recorded
	 * before the store closes, so no row is left RUNNING. */
	if (spok_backend_local_host_active(d->local) > 0)
		return;
	/* Aborts (DeleteTask, DELETE /executions) and teardowns already accepted are carried
	 * out before the engines close, within the same bound as the connections. */
	if ((srv_http_connections(d) == 0 && engines_settled(d)) ||
	    spok_now_ms() >= d->drain_deadline_ms)
		finish_stop(d);
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct srv_daemon *d = s->data;
	struct spok_err err = {0};

	if (signum == SIGHUP) {
		if (srv_tokens_load(&d->cfg, &err) != SPOK_OK)
			log_error("serve: SIGHUP: keeping the old tokens: %s", err.msg);
		else
			log_warn("serve: SIGHUP: reloaded %zu tokens", d->cfg.ntokens);
		return;
	}
	if (d->stopping) {
		/* Asked again while draining: local runs are KILLed now, not after the grace. */
		spok_backend_local_host_stop(d->local, "aborted: the spok daemon was stopped");
		return;
	}
	log_warn("serve: %s: draining", signum == SIGTERM ? "SIGTERM" : "SIGINT");
	d->stopping = true;
	srv_http_quiesce(d);
	commit_waiting(d); /* before the connector stops: its waiting CreateTasks answer */
	ext_stop(d);
	/* Fetches in flight (driver logs) answer 503 now rather than hold the drain. */
	srv_http_cancel_all(d);
	spok_backend_local_host_stop(d->local, signum == SIGTERM
						  ? "aborted: the spok daemon received SIGTERM"
						  : "aborted: the spok daemon received SIGINT");
	d->drain_deadline_ms = spok_now_ms() + SRV_DRAIN_MAX_MS;
	uv_timer_start(&d->drain, on_drain, 0, 50);
}

/* ---- run ---- */

static int mkdirs(const char *dir, struct spok_err *err)
{
	char *p = xstrdup(dir);
	int result = SPOK_OK;

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			result = SPOK_EIO;
		*s = '/';
	}
	if (result == SPOK_OK && mkdir(p, 0700) != 0 && errno != EEXIST)
		result = SPOK_EIO;
	if (result != SPOK_OK)
		spok_err_set(err, SPOK_EIO, "%s: cannot create: %s; check the data dir", dir,
			     strerror(errno));
	free(p);
	return result;
}

static void on_probe_deadline(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

/* Routing prefers healthy clusters, so learn each cluster's health before serving (bounded:
 * an unreachable address that swallows packets must not hold the daemon back). */
static void wait_first_probes(struct srv_daemon *d)
{
	bool expired = false;

	/* The drain timer is idle until shutdown: borrow it as the deadline. */
	d->drain.data = &expired;
	uv_timer_start(&d->drain, on_probe_deadline, SRV_FIRST_PROBE_MAX_MS, 0);
	for (;;) {
		bool known = true;

		for (size_t i = 0; i < d->nclusters; i++)
			known = known && d->clusters[i].health != SRV_UNKNOWN;
		if (known || expired)
			break;
		uv_run(&d->loop, UV_RUN_ONCE);
	}
	uv_timer_stop(&d->drain);
	d->drain.data = d;
}

/* One retention batch (spok_store_gc): a short write transaction with the loop's short
 * busy timeout, so requests wait at most for one batch; a busy store waits for the next
 * pass. Files of rows a hosted local run still holds stay (its supervisor lock). */
static void on_gc(uv_timer_t *t)
{
	struct srv_daemon *d = t->data;
	struct spok_store_gc_result r = {0};
	struct spok_err err = {0};
	int64_t before_ms = spok_now_ms() - (int64_t)d->cfg.retention_ms;

	if (d->stopping)
		return;
	if (spok_store_gc(d->store, before_ms, SRV_GC_BATCH, &r, &err) != SPOK_OK) {
		if (err.code != SPOK_EBUSY)
			log_error("serve: retention: %s", err.msg);
		r.more = false;
	}
	d->gc_pass_rows += r.rows;
	if (!r.more && d->gc_pass_rows > 0) {
		log_info("serve: retention: deleted %llu finished executions older than %llu s",
			 (unsigned long long)d->gc_pass_rows,
			 (unsigned long long)(d->cfg.retention_ms / 1000));
		d->gc_pass_rows = 0;
	}
	uv_timer_start(&d->gc, on_gc, r.more ? SRV_GC_NEXT_MS : SRV_GC_PERIOD_MS, 0);
}

/* Local runs an earlier daemon hosted and did not see to their end (it was killed): recorded
 * as ended before serving, whatever is left of their processes stopped. Before the loop
 * serves anyone, so the (bounded) waits of a settle hold nobody back. */
static void settle_local(struct srv_daemon *d)
{
	struct spok_backend_ctx ctx = {.store = d->store, .platform = d->platform};
	struct spok_execution *v = NULL;
	struct spok_err err = {0};
	size_t n = 0;

	if (spok_store_list_unfinished(d->store, "local", &v, &n, &err) != SPOK_OK) {
		log_error("serve: local runs: %s", err.msg);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (spok_backend_local.settle(&ctx, &v[i], &err) < 0)
			log_error("serve: local run %s: %s", v[i].id, err.msg);
	spok_execution_list_free(v, n);
}

static int daemon_open(struct srv_daemon *d, const struct spok_server_opts *o,
		       struct spok_err *err)
{
	int result;

	if ((result = spok_data_dir(o->data_dir, &d->data_dir, err)) != SPOK_OK)
		return result;
	/* The pools (GET /api/v1/pools, sessions) are read from this config on each request: a
	 * bad spok.pools stops the start with its file:line:col, not every request with a 400
	 * that names the daemon's config file to API clients. */
	struct spok_pools pools;
	struct spok_warm_rules rules = {0};
	if ((result = spok_pools_load(d->platform, &pools, err)) != SPOK_OK)
		return result;
	/* the same for spok.warm-rules, which every submission reads (docs/SERVER.md) */
	result = spok_warm_rules_load(d->platform, &pools, &rules, err);
	spok_warm_rules_free(&rules);
	spok_pools_free(&pools);
	if (result != SPOK_OK)
		return result;
	d->tasks_dir = xasprintf("%s/server/tasks", d->data_dir);
	if ((result = mkdirs(d->tasks_dir, err)) != SPOK_OK ||
	    (result = spok_store_open(d->data_dir, &d->store, err)) != SPOK_OK)
		return result;
	spok_store_set_precommit(d->store, sync_task_sources, d);
	d->clusters = xcalloc(d->cfg.nclusters, sizeof(*d->clusters));
	d->nclusters = d->cfg.nclusters;
	for (size_t i = 0; i < d->nclusters; i++)
		if ((result = cluster_open(d, i, err)) != SPOK_OK)
			return result;
	uv_timer_init(&d->loop, &d->drain);
	d->drain.data = d;
	wait_first_probes(d);
	/* From here on requests use the store on the loop: never wait long for a lock. */
	spok_store_set_busy_timeout(d->store, SRV_STORE_BUSY_MS);
	if (d->cfg.local_runs) {
		settle_local(d);
		d->local = spok_backend_local_host_new(&d->loop, d->store, d->platform, d->data_dir);
	}
	if (d->cfg.retention_ms > 0) {
		uv_timer_init(&d->loop, &d->gc);
		d->gc.data = d;
		d->gc_open = true;
		uv_timer_start(&d->gc, on_gc, SRV_GC_FIRST_MS, 0);
	}
	if ((result = srv_http_start(d, err)) != SPOK_OK)
		return result;
	d->ext_stop = o->ext_stop;
	if (o->ext_start && (result = o->ext_start(o->ext_data, d, &d->ext, err)) != SPOK_OK)
		return result;
	for (size_t i = 0; i < 3; i++) {
		static const int sigs[3] = {SIGTERM, SIGINT, SIGHUP};

		uv_signal_init(&d->loop, &d->sig[i]);
		d->sig[i].data = d;
		uv_signal_start(&d->sig[i], on_signal, sigs[i]);
	}
	return SPOK_OK;
}

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void daemon_free(struct srv_daemon *d)
{
	/* A failed start leaves handles open: close what is left and let callbacks run. */
	commit_waiting(d);
	ext_stop(d);
	gc_stop(d);
	srv_http_stop(d);
	srv_progress_stop(d);
	clusters_close(d);
	/* kube_client_close frees from a 0 ms timer: let it fire before the walk closes it. */
	uv_run(&d->loop, UV_RUN_NOWAIT);
	uv_walk(&d->loop, close_walk, NULL);
	uv_run(&d->loop, UV_RUN_DEFAULT);
	uv_loop_close(&d->loop);
	spok_backend_local_host_free(d->local);
	spok_store_close(d->store); /* commits a batch still open: its task sources first */
	spok_strv_free(&d->unsynced);
	free(d->clusters);
	free(d->tasks_dir);
	free(d->data_dir);
	srv_config_free(&d->cfg);
}

static int build_config(const struct spok_server_opts *o, struct srv_config *cfg,
			struct spok_err *err)
{
	return srv_config_build(o->platform, o->config_dir, o->listen, o->health_listen,
				o->kubeconfig, o->context, cfg, err);
}

int spok_server_check(const struct spok_server_opts *o, struct spok_err *err)
{
	struct srv_config cfg;
	int result = build_config(o, &cfg, err);

	if (result != SPOK_OK)
		return result; /* srv_config_build left cfg empty */
	for (size_t i = 0; result == SPOK_OK && i < cfg.nclusters; i++) {
		struct kube_config kc;

		result = load_kubeconfig(&cfg.clusters[i], &kc, err);
		if (result == SPOK_OK)
			kube_config_free(&kc);
	}
	/* Freed on every path: a bad kubeconfig used to leak the whole config (LSan). */
	srv_config_free(&cfg);
	return result;
}

int spok_server_load_task(const struct spok_execution *x, struct spok_task *out,
			  struct spok_err *err)
{
	return srv_load_task(NULL, x, out, err);
}

int spok_server_run(const struct spok_server_opts *o, struct spok_err *err)
{
	struct srv_daemon *d = xcalloc(1, sizeof(*d));
	int result;

	signal(SIGPIPE, SIG_IGN);
	uv_loop_init(&d->loop);
	d->platform = o->platform;
	d->started_ms = spok_now_ms();
	result = build_config(o, &d->cfg, err);
	if (result == SPOK_OK)
		result = daemon_open(d, o, err);
	if (result == SPOK_OK) {
		log_warn("serve: listening on http://%s:%u with %zu cluster(s)", d->cfg.listen_host,
			 (unsigned)d->api.port, d->nclusters);
		if (o->on_listening)
			o->on_listening(o->listening_data, d->cfg.listen_host, d->api.port);
		if (d->health.mhd && o->on_health_listening)
			o->on_health_listening(o->listening_data, d->cfg.health_host,
						 d->health.port);
		uv_run(&d->loop, UV_RUN_DEFAULT);
	}
	daemon_free(d);
	free(d);
	return result;
}
