/* submit.c - the one submission path of every front end that hands the daemon a parsed task
 * (the HTTP API's POST /api/v1/executions, the gRPC connector's CreateTask): idempotency
 * lookup, per-project authorization, the namespace policy, routing, the durable task
 * source, the engine. A rule added here holds for every front end. */
#include "server/daemon.h"
#include "server/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "connect/connect.h"
#include "flyteidl/agent.h"
#include "kube/stream.h"
#include "local/local.h"

/* Flyte's domains are a fixed list per deployment (spok.cluster-resources.domains, default
 * development, staging, production). */
static bool domain_known(const struct spok_platform *p, const char *domain)
{
	static const char *const dflt[] = {"development", "staging", "production"};
	const struct spok_strv *v = &p->spok.cluster_resources.domains;

	if (domain == NULL)
		return false;
	for (size_t i = 0; i < v->len; i++)
		if (strcmp(v->items[i], domain) == 0)
			return true;
	for (size_t i = 0; v->len == 0 && i < sizeof(dflt) / sizeof(dflt[0]); i++)
		if (strcmp(dflt[i], domain) == 0)
			return true;
	return false;
}

/* Why the namespace the template gives a task is not the token's own by right, or NULL.
 * The project is the token's; the domain is whatever the task says. "{{project}}-{{domain}}"
 * with project "spark" and domain "operator" names the operator's namespace, and domain
 * "b-prod" names project "a-b"'s "prod": so a template that uses the domain makes its
 * namespace the token's own only for a configured domain, and one without '-'. */
static const char *own_refused(const struct spok_platform *p, const struct spok_task *t)
{
	const char *tpl = p->spok.namespace_template;

	if (tpl != NULL && strstr(tpl, "{{domain}}") == NULL)
		return NULL;
	if (t->domain == NULL || !domain_known(p, t->domain))
		return "its domain is not one of spok.cluster-resources.domains";
	if (strchr(t->domain, '-'))
		return "a '-' in the domain makes it ambiguous";
	return NULL;
}

/* The namespace of a submission: the one spok.namespace-template gives the task's
 * project/domain, or one the request names that the token may use. *ns is heap. */
static int pick_namespace(struct srv_daemon *d, const struct srv_token *tok, const char *given,
			  const struct spok_task *t, char **ns, struct spok_err *err)
{
	const char *proj = t->project ? t->project : "", *dom = t->domain ? t->domain : "";
	char *own = spok_namespace_for(d->platform, t->project, t->domain);
	const char *want = given ? given : own, *why = own_refused(d->platform, t);
	bool own_trusted = kube_dns_label(own) && why == NULL;
	int result = SPOK_OK;

	if (given && !kube_dns_label(given))
		result = spok_err_set(err, SPOK_EINVAL, "request body: namespace: '%.80s' is not a "
				      "namespace name (a DNS-1123 label: 1-63 of [a-z0-9-], starting "
				      "and ending with a letter or digit)", given);
	else if (!given && !kube_dns_label(own))
		result = spok_err_set(err, SPOK_EINVAL, "namespace: '%.80s', from "
				      "spok.namespace-template for project '%.40s' domain '%.40s', is "
				      "not a DNS-1123 label; fix the task's project/domain", own, proj,
				      dom);
	else if (!srv_token_allows_namespace(tok, want, own_trusted ? own : NULL))
		result = spok_err_set(err, SPOK_EFORBIDDEN, "token '%s' may not create in namespace "
				      "'%.80s' (project '%.40s' domain '%.40s' maps to '%.80s'%s%s); ask "
				      "an admin to add it to the token's namespaces", tok->name, want,
				      proj, dom, own, why ? ", but " : "", why ? why : "");
	*ns = result == SPOK_OK ? xstrdup(want) : NULL;
	free(own);
	return result;
}

/* The named cluster, or the one the routing rules pick among the healthy ones. */
static int pick_cluster(struct srv_daemon *d, const char *name, const struct spok_task *t,
			size_t *k, bool *no_route, struct spok_err *err)
{
	struct srv_cluster_state *st;
	int result;

	if (name) {
		long i = srv_cluster_index(&d->cfg, name);

		if (i < 0)
			return spok_err_set(err, SPOK_EINVAL, "request body: cluster: no cluster named "
					    "'%.80s'; see GET /healthz for the configured clusters",
					    name);
		*k = (size_t)i;
		return SPOK_OK;
	}
	st = xcalloc(d->nclusters, sizeof(*st));
	srv_cluster_states(d, st);
	result = srv_route_pick(&d->cfg, t->project, t->domain, st, k, err);
	free(st);
	*no_route = result != SPOK_OK;
	return result;
}

static int replay(struct srv_daemon *d, const struct srv_token *tok, const struct spok_task *t,
		  char *prev, struct srv_submitted *out, struct spok_err *err)
{
	struct spok_execution x = {0};
	/* The key may have been found in the open group-commit batch (a submission with the
	 * same key earlier in this loop turn): this read commits it, so the replay answers
	 * with a durable row, or with the error if that commit failed (the row is gone). */
	int result = spok_store_get(d->store, prev, &x, err);

	if (result == SPOK_ENOTFOUND)
		result = spok_err_set(err, SPOK_EUNAVAIL, "the execution idempotency key names was "
				      "not recorded (its store commit failed); retry with the same key");

	/* The key names an execution: the caller must still be allowed to see it, and it must
	 * be one of the request's project (a key another caller used first for another project
	 * is not this request's execution). */
	if (result == SPOK_OK && !srv_token_allows(tok, x.project))
		result = spok_err_set(err, SPOK_EFORBIDDEN, "token '%s' may not use project "
				      "'%.100s'", tok->name, x.project ? x.project : "");
	else if (result == SPOK_OK && (x.project == NULL || t->project == NULL ||
				       strcmp(x.project, t->project) != 0))
		result = spok_err_set(err, SPOK_ECONFLICT, "the idempotency key was used for "
				      "execution %s of project '%.100s', not '%.100s'; use another key",
				      x.id, x.project ? x.project : "", t->project ? t->project : "");
	spok_execution_free(&x);
	if (result != SPOK_OK) {
		free(prev);
		return result;
	}
	d->m.submission_replays++;
	out->id = prev;
	out->replayed = true;
	return SPOK_OK;
}

/* Hands t to the backend of the cluster named `cluster` (its engine on the daemon's loop,
 * or the local host): warm (may be NULL) runs it warm, fallback is recorded in its row. */
static int submit_to(struct srv_daemon *d, const char *cluster, struct spok_task *t,
		     const char *ns, const char *path, const char *key,
		     const struct spok_backend_warm *warm, const char *fallback,
		     struct spok_engine_wait *wait, char *id, size_t id_len, struct spok_err *err)
{
	struct spok_execution row = {.backend = (char *)cluster};
	struct spok_backend_ctx ctx;
	const struct spok_backend_ops *b = srv_backend(d, &row, &ctx);

	ctx.warm = warm;
	ctx.fallback = fallback;
	ctx.wait = wait;
	return b->submit(&ctx, t, ns, path, key, id, id_len, err);
}

/* How the daemon runs a task that asks to run warm (docs/SERVER.md, "Warm runs"). */
struct warm_plan {
	char *pool;      /* runs warm on this pool's session (named as the pool), or NULL */
	char *project;   /* the project a start of that session records (NULL: the CLI's) */
	char *fallback;  /* asked to run warm, runs as a normal run instead: why; or NULL */
};

static void warm_plan_free(struct warm_plan *wp)
{
	free(wp->pool);
	free(wp->project);
	free(wp->fallback);
}

/* The pool the task asks for, as `spok run` reads it: its sparkConf switch sw (spok.warm
 * names the pool: name), else the first rule of spok.warm-rules that matches it, unless its
 * sparkConf says spok.cold (*pool heap, NULL: run it normally; *asked says which, for the
 * fallback). */
static int warm_asked(const struct spok_platform *p, const struct spok_pools *ps,
		      const struct spok_task *t, enum spok_warm_switch sw, const char *name,
		      char **pool, char *asked, size_t asked_len, struct spok_err *err)
{
	struct spok_warm_rules rs = {0};
	size_t i = 0;
	int result;

	*pool = NULL;
	if (sw == SPOK_WARM_OFF)
		return SPOK_OK;
	if (sw == SPOK_WARM_ON) {
		snprintf(asked, asked_len, "sparkConf spok.warm (pool %.63s)", name);
		*pool = xstrdup(name);
		return SPOK_OK;
	}
	if (!p->spok.warm_rules)
		return SPOK_OK;
	result = spok_warm_rules_load(p, ps, &rs, err);
	const struct spok_warm_rule *r = result == SPOK_OK ? spok_warm_rules_match(&rs, t, &i) : NULL;
	if (r) {
		snprintf(asked, asked_len, "spok.warm-rules[%zu] (pool %.63s)", i, r->pool);
		*pool = xstrdup(r->pool);
	}
	spok_warm_rules_free(&rs);
	return result;
}

/* Why t cannot run as a Spark Connect client (heap), or NULL: spok run's up-front checks
 * (spok_local_warm_unsupported; the files it would upload). */
static char *warm_unsupported(const struct spok_task *t)
{
	struct spok_err e = {0};
	char *why = NULL;

	if (spok_local_warm_check(t, NULL, &why, &e) != SPOK_OK)
		return xstrdup(e.msg);
	return why;
}

/* Who may run on session name (pool's): the sessions API's rule (srv_session_allowed) for a
 * session that runs or is on its way, or left server objects, or is the CLI's; an ended
 * session of a project leaves its name to any project, as spok_connect_begin does. On success
 * wp->project is the project a start records; *starts says this run would start a server. */
static int warm_session(struct srv_daemon *d, const struct srv_token *tok, const char *name,
			const char *project, struct warm_plan *wp, bool *starts,
			struct spok_err *err)
{
	struct spok_session x;
	int result = spok_store_session_get(d->store, name, &x, err);

	*starts = true;
	if (result == SPOK_ENOTFOUND) {
		wp->project = xstrdup(project);
		return SPOK_OK;
	}
	if (result != SPOK_OK)
		return result;
	spok_connect_settle_nowait(d->store, &x, NULL);
	bool released = x.project && spok_session_phase_terminal(x.phase) && !spok_connect_leftovers(&x);

	if (!released && !srv_session_allowed(tok, &x))
		/* not naming the other project: the caller may not know it exists */
		result = spok_err_set(err, SPOK_EFORBIDDEN, "token '%s' may not use warm session '%.63s' "
				      "(pool %.63s): it belongs to %s; ask an admin to add its project to "
				      "the token's projects, or run the task cold (sparkConf spok.cold: "
				      "\"true\")", tok->name, name, x.pool ? x.pool : name,
				      x.project ? "another project" : "the CLI (all-projects tokens only)");
	wp->project = xstrdup(released ? project : x.project);
	*starts = spok_session_phase_terminal(x.phase);
	spok_session_free(&x);
	return result;
}

/* Why a task that asks for pool pl (may be NULL: not declared) runs as a normal run (heap), or
 * NULL when it runs warm (wp->project set). Errors: an unknown pool, a session tok may not
 * use. */
static int warm_why_not(struct srv_daemon *d, const struct srv_token *tok,
			const struct srv_submission *s, const struct spok_task *t,
			const struct spok_pool *pl, const char *asked, struct warm_plan *wp,
			char **why, struct spok_err *err)
{
	bool starts = false;
	size_t live = 0;
	int result;

	*why = NULL;
	if (s->cluster && spok_backend_for(s->cluster)->cluster) {
		*why = xasprintf("the request names cluster %.63s, and warm runs run on the daemon's "
				 "host; it runs there as a transient run", s->cluster);
		return SPOK_OK;
	}
	if (!d->cfg.local_runs) {
		*why = xstrdup("spok serve runs warm jobs only with spok.server.local-runs: true "
			       "(docs/SERVER.md); it runs as a transient run");
		return SPOK_OK;
	}
	if (!pl)
		return spok_err_set(err, SPOK_EINVAL, "%s: no such pool in spok.pools of the daemon's "
				    "config; use one of GET /api/v1/pools", asked);
	if ((*why = warm_unsupported(t)) != NULL)
		return SPOK_OK;
	result = warm_session(d, tok, pl->name, t->project ? t->project : "spok", wp, &starts, err);
	/* a start is one more JVM of the project's on this host: the sessions API's cap */
	if (result == SPOK_OK && starts && wp->project)
		result = srv_sessions_live(d->store, wp->project, pl->name, &live, err);
	if (result == SPOK_OK && live >= d->cfg.sessions_per_project && starts && wp->project)
		*why = xasprintf("project %.63s already runs %zu warm sessions, its cap "
				 "(spok.server.sessions-per-project)", wp->project, live);
	return result;
}

/* Decides how a task that asks to run warm runs (wp): warm on its pool's session as a local
 * run this daemon hosts, when local runs are on, the request names no cluster but `local`,
 * the job can run as a Connect client and its token may use the session; else as a normal
 * run with the reason in wp->fallback. Errors: a bad switch or an unknown pool (400), a
 * session the token may not use (403). */
static int warm_plan(struct srv_daemon *d, const struct srv_token *tok,
		     const struct srv_submission *s, const struct spok_task *t,
		     struct warm_plan *wp, struct spok_err *err)
{
	struct spok_pools ps;
	const struct spok_pool *pl = NULL;
	enum spok_warm_switch sw;
	const char *name = NULL;
	char asked[128] = "";
	char *pool = NULL, *why = NULL;
	int result = spok_warm_by_task(t, &sw, &name, err);

	memset(wp, 0, sizeof(*wp));
	/* most tasks ask for nothing: no pools read for them (every submission comes here) */
	if (result != SPOK_OK || sw == SPOK_WARM_OFF ||
	    (sw == SPOK_WARM_UNSET && !d->platform->spok.warm_rules))
		return result;
	if ((result = spok_pools_load(d->platform, &ps, err)) != SPOK_OK)
		return result;
	result = warm_asked(d->platform, &ps, t, sw, name, &pool, asked, sizeof(asked), err);
	if (result == SPOK_OK && pool != NULL) {
		pl = spok_pools_find(&ps, pool);
		result = warm_why_not(d, tok, s, t, pl, asked, wp, &why, err);
	}
	if (result == SPOK_OK && why)
		wp->fallback = xasprintf("%s: %s", asked, why);
	else if (result == SPOK_OK && pl)
		wp->pool = xstrdup(pl->name);
	free(why);
	free(pool);
	spok_pools_free(&ps);
	return result;
}

/* The target of a submission: the warm plan's local host, the local host a request names,
 * or the cluster routing picks. */
static int pick_target(struct srv_daemon *d, const struct srv_submission *s,
		       const struct spok_task *t, bool warm, const char **target,
		       struct srv_submitted *out, struct spok_err *err)
{
	size_t k = 0;
	int result;

	/* A request naming the local backend runs on this host (when spok.server.local-runs
	 * allows it: the backend's submit refuses otherwise). */
	if (warm || (s->cluster != NULL && !spok_backend_for(s->cluster)->cluster)) {
		*target = s->cluster ? s->cluster : "local";
		return SPOK_OK;
	}
	result = pick_cluster(d, s->cluster, t, &k, &out->no_route, err);
	*target = result == SPOK_OK ? d->cfg.clusters[k].name : NULL;
	return result;
}

/* A new execution's row is durable: counted and logged. */
static void submitted(struct srv_daemon *d, struct srv_submitted *out)
{
	d->m.submissions++;
	log_info("serve: %s", out->note);
	if (out->fallback)
		log_warn("serve: %s: not warm: %s", out->id, out->fallback);
	free(out->note);
	out->note = NULL;
}

/* A batch whose outcome the store no longer knows (more failed batches since than it keeps)
 * may have committed: the row says. */
static bool row_recorded(struct srv_daemon *d, const char *id)
{
	struct spok_execution x = {0};
	struct spok_err err = {0};
	bool found = id != NULL && spok_store_get(d->store, id, &x, &err) == SPOK_OK;

	spok_execution_free(&x);
	return found;
}

int srv_submit_settle(struct srv_daemon *d, struct srv_submitted *out, int result,
		      const struct spok_err *why, struct spok_err *err)
{
	const char *msg = why ? why->msg : "";

	out->pending = false;
	if (result != SPOK_OK && row_recorded(d, out->id))
		result = SPOK_OK;
	/* A lost commit is the daemon's storage failing (its message names the store's file),
	 * never the client's fault: 500 (logged whole), or 503 while another process holds the
	 * store's lock. */
	if (result != SPOK_OK && result != SPOK_EBUSY)
		result = SPOK_EIO;
	if (result == SPOK_OK) {
		if (out->note)
			submitted(d, out);
	} else {
		if (out->path)
			unlink(out->path);
		spok_err_set(err, result, "cannot record the new execution in the store (%s); "
			     "nothing was created", msg);
	}
	free(out->path);
	free(out->note);
	out->path = out->note = NULL;
	return result;
}

void srv_submitted_free(struct srv_submitted *out)
{
	free(out->id);
	free(out->fallback);
	free(out->session);
	free(out->path);
	free(out->note);
	memset(out, 0, sizeof(*out));
}

int srv_submit_task(struct srv_daemon *d, const struct srv_token *tok,
		    const struct srv_submission *s, struct spok_task *t, struct srv_submitted *out,
		    struct spok_err *err)
{
	char stem[80], id[SPOK_EXEC_ID_LEN + 1];
	char *path = NULL, *ns = NULL, *prev = NULL;
	struct warm_plan wp = {0};
	struct spok_backend_warm bw = {0};
	const char *target = NULL;
	int result;

	memset(out, 0, sizeof(*out));
	if (d->stopping)
		return spok_err_set(err, SPOK_EUNAVAIL, "the server is shutting down; retry");
	if (s->key_hex) {
		if ((result = srv_idem_find(d, s->key_hex, &prev, err)) != SPOK_OK)
			return result;
		if (prev != NULL)
			return replay(d, tok, t, prev, out, err);
	}
	if (!srv_token_allows(tok, t->project))
		return spok_err_set(err, SPOK_EFORBIDDEN, "token '%s' may not use project '%.100s'; "
				    "ask an admin to add it to the token's projects", tok->name,
				    t->project ? t->project : "");
	if ((result = warm_plan(d, tok, s, t, &wp, err)) != SPOK_OK)
		goto done;
	if (wp.pool) {
		bw = (struct spok_backend_warm){.pool = wp.pool, .session = wp.pool,
						.project = wp.project,
						.user = srv_session_user_ok(tok->name) ? tok->name : "spok"};
	}
	if ((result = pick_namespace(d, tok, s->ns, t, &ns, err)) != SPOK_OK ||
	    (result = pick_target(d, s, t, wp.pool != NULL, &target, out, err)) != SPOK_OK)
		goto done;
	{
		char rnd[SPOK_EXEC_ID_LEN + 1];

		if ((result = spok_store_new_id(rnd, sizeof(rnd), err)) != SPOK_OK)
			goto done;
		snprintf(stem, sizeof(stem), "r-%s", rnd + 3);
	}
	/* A cluster's row waited for by the front end joins the loop turn's group commit: its
	 * task source is synced with the turn's others, right before that commit. */
	result = srv_write_task_source(d, stem, s->ext, s->data, s->len,
				       s->wait != NULL && spok_backend_for(target)->cluster, &path,
				       err);
	if (result != SPOK_OK)
		goto done;
	/* The key goes into the write-ahead row itself (UNIQUE): same key, same execution. */
	result = submit_to(d, target, t, ns, path, s->key_hex, wp.pool ? &bw : NULL, wp.fallback,
			   s->wait, id, sizeof(id), err);
	if (result != SPOK_OK) {
		srv_drop_task_source(d, path);
		goto done;
	}
	if (wp.pool)
		out->note = xasprintf("%s submitted %s to %s/%s (%s), warm on session %s", tok->name,
				      id, target, ns, s->via, wp.pool);
	else
		out->note = xasprintf("%s submitted %s to %s/%s (%s)", tok->name, id, target, ns,
				      s->via);
	out->id = xstrdup(id);
	out->fallback = wp.fallback;
	out->session = wp.pool ? xstrdup(wp.pool) : NULL;
	wp.fallback = NULL;
	if (spok_engine_wait_pending(s->wait)) { /* logged once durable (srv_submit_settle) */
		out->pending = true;
		out->path = path;
		path = NULL;
	} else {
		submitted(d, out);
	}
done:
	warm_plan_free(&wp);
	free(path);
	free(ns);
	return result;
}

bool spok_server_is_connector_source(const char *path)
{
	size_t n = path ? strlen(path) : 0, e = sizeof(SRV_CONNECTOR_EXT);

	return n > e && path[n - e] == '.' && strcmp(path + n - e + 1, SRV_CONNECTOR_EXT) == 0;
}

int srv_load_connector_task(const char *data, size_t len, const char *path,
			    struct spok_task *out, struct spok_err *err)
{
	struct spok_flyte_create c;
	int result = spok_flyte_parse_create_task((const uint8_t *)(data ? data : ""), len, path,
						  &c, err);

	if (result != SPOK_OK)
		return result;
	spok_task_free(out);
	*out = c.task;
	spok_task_init(&c.task);
	spok_flyte_create_free(&c);
	return SPOK_OK;
}
