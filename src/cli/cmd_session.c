/* cmd_session.c - `spok session start|list|stop|url`: warm Spark Connect sessions on this
 * machine (src/connect). */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "common/termesc.h"
#include "common/timefmt.h"
#include "common/xalloc.h"
#include "connect/connect.h"
#include "local/token.h"
#include "store/store.h"

static const char session_synopsis[] =
	"spok session start [NAME] [--pool P] | list [-o json|yaml] | stop NAME | url NAME [--pool P]";

struct sctx {
	struct spok_platform plat;
	struct spok_pools pools;
	struct spok_store *st;
	char *data_dir;
};

static int open_ctx(struct spok_cli *cli, struct sctx *c, struct spok_err *err)
{
	spok_platform_init(&c->plat);
	int result = 0;

	spok_platform_free(&c->plat);
	result = spok_cli_load_platform(cli, &c->plat, err);
	if (result == 0)
		result = spok_pools_load(&c->plat, &c->pools, err);
	if (result == 0)
		result = spok_data_dir(cli->data_dir, &c->data_dir, err);
	if (result == 0)
		result = spok_store_open(c->data_dir, &c->st, err);
	return result;
}

static void close_ctx(struct sctx *c)
{
	spok_store_close(c->st);
	free(c->data_dir);
	spok_pools_free(&c->pools);
	spok_platform_free(&c->plat);
}

static int find_pool(const struct sctx *c, const char *name, const struct spok_pool **out,
		     struct spok_err *err)
{
	*out = spok_pools_find(&c->pools, name);
	if (!*out)
		return spok_err_set(err, SPOK_ENOTFOUND, "--pool %.63s: no such pool in spok.pools of %s; declare it (docs/CONFIG.md) or use 'default'",
				    name, c->plat.source_path ? c->plat.source_path : "the config");
	return 0;
}

static int check_name(const char *name, struct spok_err *err)
{
	if (!spok_connect_name_ok(name))
		return spok_err_set(err, SPOK_EINVAL, "session name '%.63s': use 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit", name);
	return 0;
}

/* start and url: the session runs afterwards (a dead or stopped one is started again). */
static int ensure(struct spok_cli *cli, struct sctx *c, const char *name, const char *pool_name,
		  bool url_only, struct spok_err *err)
{
	const struct spok_pool *pool = NULL;
	struct spok_session x = {0}, old = {0};
	bool started = false;
	int result = check_name(name, err);

	/* url of an existing session keeps its pool; a new one gets --pool, else its name if
	 * that is a pool, else "default" */
	if (result == 0 && !pool_name && spok_store_session_get(c->st, name, &old, NULL) == 0)
		pool_name = old.pool;
	if (result == 0 && !pool_name && spok_pools_find(&c->pools, name))
		pool_name = name;
	if (result == 0)
		result = find_pool(c, pool_name, &pool, err);
	if (result == 0)
		result = spok_connect_ensure(c->st, c->data_dir, cli->config_path, name, pool, &x, &started, err);
	spok_session_free(&old);
	if (result != 0)
		return result;
	char *token = NULL;
	result = spok_connect_token(&x, &token, err);
	if (result != 0) {
		spok_session_free(&x);
		return result;
	}
	char *user = spok_connect_user();
	char *url = spok_connect_url(&x, user, token);
	char *ui = spok_connect_ui_url(&x);
	spok_store_session_touch(c->st, name, spok_now_ms(), NULL);
	if (!url_only || started)
		fprintf(stderr, "spok: session %s %s in pool %s (Spark UI %s); %s\n",
			name, started ? "started" : "running", x.pool, ui ? ui : "unknown",
			SPOK_CONNECT_AUTH_NOTE_FOR(pool));
	if (x.backend && strcmp(x.backend, "kubernetes") == 0 && pool->kube.namespace_) {
		char *svc = spok_connect_kube_service_name(c->data_dir, name);
		fprintf(stderr, "spok: session %s: this URL works where the pod network is reachable; elsewhere run 'kubectl port-forward -n %s svc/%s 15002' and use sc://localhost:15002/;token=<its token>;user_id=%s\n",
			name, pool->kube.namespace_, svc, user);
		free(svc);
	}
	/* the one place the token is shown: stdout, for the caller to hand to its client */
	printf("%s\n", url);
	fflush(stdout);
	free(ui);
	spok_token_free(url);
	spok_token_free(token);
	free(user);
	spok_session_free(&x);
	return 0;
}

static json_t *session_json(const struct spok_session *x, const char *user)
{
	json_t *o = json_object();
	/* without its token (`spok session url` prints the whole one) */
	char *url = x->port ? spok_connect_url(x, x->user_id ? x->user_id : user, NULL) : NULL;
	char *ui = spok_connect_ui_url(x);

	json_object_set_new(o, "name", json_string(x->name));
	json_object_set_new(o, "pool", json_string(x->pool));
	json_object_set_new(o, "project", x->project ? json_string(x->project) : json_null());
	json_object_set_new(o, "backend", json_string(x->backend ? x->backend : "local"));
	json_object_set_new(o, "host", json_string(x->host ? x->host : "127.0.0.1"));
	json_object_set_new(o, "phase", json_string(spok_session_phase_name(x->phase)));
	json_object_set_new(o, "reason", x->reason ? json_string(x->reason) : json_null());
	json_object_set_new(o, "user_id", x->user_id ? json_string(x->user_id) : json_null());
	json_object_set_new(o, "url", url && x->phase == SPOK_SESSION_RUNNING ? json_string(url) : json_null());
	json_object_set_new(o, "ui_url", ui ? json_string(ui) : json_null());
	json_object_set_new(o, "port", json_integer(x->port));
	json_object_set_new(o, "ui_port", json_integer(x->ui_port));
	json_object_set_new(o, "pid", json_integer(x->pid));
	json_object_set_new(o, "supervisor_pid", json_integer(x->supervisor_pid));
	json_object_set_new(o, "created_ms", json_integer(x->created_ms));
	json_object_set_new(o, "started_ms", json_integer(x->started_ms));
	json_object_set_new(o, "last_used_ms", json_integer(x->last_used_ms));
	json_object_set_new(o, "finished_ms", json_integer(x->finished_ms));
	json_object_set_new(o, "starts", json_integer(x->starts));
	json_object_set_new(o, "log_path", x->log_path ? json_string(x->log_path) : json_null());
	free(url);
	free(ui);
	return o;
}

static void age(int64_t now, int64_t then, char *buf, size_t len)
{
	int64_t s = then > 0 && now > then ? (now - then) / 1000 : 0;

	if (then <= 0)
		snprintf(buf, len, "-");
	else if (s < 120)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s < 7200)
		snprintf(buf, len, "%lldm", (long long)(s / 60));
	else
		snprintf(buf, len, "%lldh", (long long)(s / 3600));
}

static int list(struct sctx *c, const char *output, struct spok_err *err)
{
	struct spok_session *v = NULL;
	size_t n = 0;
	int result = spok_store_session_list(c->st, &v, &n, err);
	int64_t now = spok_now_ms();
	char *user = spok_connect_user();
	json_t *a = output ? json_array() : NULL;

	if (result == 0 && !output)
		printf("%-16s %-12s %-9s %-12s %-6s %-6s %-6s %-32s %s\n", "NAME", "POOL", "PHASE", "PROJECT", "PORT", "IDLE", "AGE", "URL", "REASON");
	for (size_t i = 0; result == 0 && i < n; i++) {
		struct spok_session *x = &v[i];
		char idle[16], up[16];

		spok_connect_settle(c->st, x, NULL); /* a dead supervisor's row is settled first */
		if (a) {
			json_array_append_new(a, session_json(x, user));
			continue;
		}
		bool running = x->phase == SPOK_SESSION_RUNNING;
		char *url = running ? spok_connect_url(x, x->user_id ? x->user_id : user, NULL) : xstrdup("-");
		char *reason = spok_term_line(x->reason ? x->reason : "");
		/* a project the API recorded: "-" for a session started here (the CLI's) */
		char *project = spok_term_line(x->project ? x->project : "-");
		age(now, running ? (x->last_used_ms > x->started_ms ? x->last_used_ms : x->started_ms) : 0, idle, sizeof(idle));
		age(now, x->started_ms, up, sizeof(up));
		printf("%-16s %-12s %-9s %-12s %-6d %-6s %-6s %-32s %s\n", x->name, x->pool,
		       spok_session_phase_name(x->phase), project, x->port, idle, running ? up : "-", url,
		       reason);
		free(project);
		free(url);
		free(reason);
	}
	if (result == 0 && a)
		result = spok_cli_print(a, output, err);
	json_decref(a);
	free(user);
	spok_session_list_free(v, n);
	return result;
}

/* A Kubernetes session's server pod outlives a supervisor that died (for the next start to
 * adopt): stop deletes what is left of it once the row is terminal. */
static int stop_leftovers(struct sctx *c, const struct spok_session *x, struct spok_err *err)
{
	const struct spok_pool *pool = spok_pools_find(&c->pools, x->pool);
	size_t n = 0;

	if (!x->backend || strcmp(x->backend, "kubernetes") != 0 || !spok_session_phase_terminal(x->phase))
		return 0;
	if (!pool || !pool->kube.namespace_)
		return spok_err_set(err, SPOK_ENOTFOUND, "session %s: its pool %s is no Kubernetes pool in this config; delete its pods (label spok.dev/session=%s) by hand",
				    x->name, x->pool, x->name);
	int result = spok_connect_kube_delete(c->data_dir, pool, x->name, &n, err);
	if (result == 0 && n > 0)
		fprintf(stderr, "spok: session %s: deleted %zu server object%s left in namespace %s\n",
			x->name, n, n == 1 ? "" : "s", pool->kube.namespace_);
	return result;
}

static int stop(struct sctx *c, const char *name, struct spok_err *err)
{
	struct spok_session x;
	int result = check_name(name, err);

	if (result == 0)
		result = spok_connect_stop(c->st, name, &x, err);
	if (result != 0)
		return result;
	char *reason = spok_term_line(x.reason ? x.reason : "");
	fprintf(stderr, "spok: session %s %s%s%s\n", name, spok_session_phase_name(x.phase),
		*reason ? ": " : "", reason);
	free(reason);
	result = stop_leftovers(c, &x, err);
	spok_session_free(&x);
	return result;
}

/* `spok session _supervise NAME --generation G --pool P`: the supervisor that
 * spok_connect_ensure starts (not for people: it takes over a row another spok began). */
static int supervise(struct spok_cli *cli, const struct spok_strv *pos, const char *pool_name,
		     const char *gen_text, struct spok_err *err)
{
	struct sctx c = {0};
	const struct spok_pool *pool = NULL;
	long long gen = 0;
	int result = 0;

	if (pos->len != 2 || !pool_name || !gen_text)
		return spok_err_set(err, SPOK_EINVAL, "session _supervise: internal use only");
	spok_platform_init(&c.plat);
	spok_platform_free(&c.plat);
	result = spok_cli_int("--generation", gen_text, 1, INT64_MAX, &gen, err);
	if (result == 0)
		result = spok_data_dir(cli->data_dir, &c.data_dir, err);
	if (result != 0) {
		close_ctx(&c);
		return result;
	}
	result = spok_cli_load_platform(cli, &c.plat, err);
	if (result == 0)
		result = spok_pools_load(&c.plat, &c.pools, err);
	if (result == 0)
		result = find_pool(&c, pool_name, &pool, err);
	if (result == 0) {
		signal(SIGPIPE, SIG_IGN);
		result = spok_connect_supervise(c.data_dir, pos->items[1], gen, pool, err);
	} else {
		/* the config changed since the start (the pool is gone, the file does not parse):
		 * the row says so instead of naming only a dead supervisor */
		spok_connect_supervise_failed(c.data_dir, pos->items[1], gen, err->msg);
	}
	close_ctx(&c);
	return result;
}

static int dispatch(struct spok_cli *cli, const char *verb, const struct spok_strv *pos,
		    const char *pool, struct spok_err *err)
{
	struct sctx c = {0};
	bool needs_name = strcmp(verb, "stop") == 0 || strcmp(verb, "url") == 0;
	size_t max = strcmp(verb, "list") == 0 ? 1 : 2;
	int result = 0;

	if (strcmp(verb, "start") != 0 && strcmp(verb, "list") != 0 && !needs_name)
		return spok_err_set(err, SPOK_EINVAL, "session %.40s: unknown; usage: %s", verb, session_synopsis);
	if (pos->len > max || (needs_name && pos->len < 2))
		return spok_err_set(err, SPOK_EINVAL, "usage: %s", session_synopsis);
	result = open_ctx(cli, &c, err);
	if (result == 0 && strcmp(verb, "list") == 0)
		result = list(&c, cli->output, err);
	else if (result == 0 && strcmp(verb, "stop") == 0)
		result = stop(&c, pos->items[1], err);
	else if (result == 0) {
		const char *name = pos->len > 1 ? pos->items[1] : pool ? pool : SPOK_POOL_DEFAULT;
		result = ensure(cli, &c, name, pool, strcmp(verb, "url") == 0, err);
	}
	close_ctx(&c);
	return result;
}

int cmd_session(struct spok_cli *cli, int argc, char **argv)
{
	const char *pool = NULL, *gen = NULL;
	struct spok_flag flags[] = {
		{"pool", 0, &pool, NULL, NULL, "the pool (spok.pools) a new session runs in (default: 'default')"},
		{"generation", 0, &gen, NULL, NULL, "(internal: _supervise)"},
		{0},
	};
	struct spok_strv pos = {0};
	struct spok_err err = {0};

	signal(SIGPIPE, SIG_IGN);
	int result = spok_cli_parse(cli, argc, argv, flags, &pos, &err);
	if (result == 0 && (cli->help || pos.len == 0)) {
		spok_cli_usage(session_synopsis, flags);
		spok_strv_free(&pos);
		return cli->help ? 0 : SPOK_EXIT_USAGE;
	}
	if (result == 0 && cli->output && strcmp(cli->output, "json") != 0 && strcmp(cli->output, "yaml") != 0)
		result = spok_err_set(&err, SPOK_EINVAL, "-o %.20s: use json or yaml", cli->output);
	if (result == 0 && strcmp(pos.items[0], "_supervise") == 0)
		result = supervise(cli, &pos, pool, gen, &err);
	else if (result == 0)
		result = dispatch(cli, pos.items[0], &pos, pool, &err);
	spok_strv_free(&pos);
	return result == 0 ? 0 : spok_cli_fail(&err);
}
