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
	int result = spok_store_get(d->store, prev, &x, err);

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

/* Hands t to the backend of the cluster named `cluster` (its engine on the daemon's loop). */
static int submit_to(struct srv_daemon *d, const char *cluster, struct spok_task *t,
		     const char *ns, const char *path, const char *key, char *id, size_t id_len,
		     struct spok_err *err)
{
	struct spok_execution row = {.backend = (char *)cluster};
	struct spok_backend_ctx ctx;
	const struct spok_backend_ops *b = srv_backend(d, &row, &ctx);

	return b->submit(&ctx, t, ns, path, key, id, id_len, err);
}

/* The task's own warm/cold switch, read as `spok run` reads it (a bad value: 400 with the
 * same words). The daemon runs no warm jobs (a Connect client of a session on its host is
 * `spok run`'s): a task that asks for one runs as a transient run, and says so. */
static int warm_switch(const struct spok_task *t, struct srv_submitted *out, struct spok_err *err)
{
	enum spok_warm_switch sw;
	const char *pool = NULL;
	int result = spok_warm_by_task(t, &sw, &pool, err);

	if (result == SPOK_OK && sw == SPOK_WARM_ON)
		out->fallback = xasprintf("sparkConf spok.warm (pool %s): spok serve runs no warm jobs "
					  "(spok run does); it runs as a transient run", pool);
	return result;
}

int srv_submit_task(struct srv_daemon *d, const struct srv_token *tok,
		    const struct srv_submission *s, struct spok_task *t, struct srv_submitted *out,
		    struct spok_err *err)
{
	char stem[80], id[SPOK_EXEC_ID_LEN + 1];
	char *path = NULL, *ns = NULL, *prev = NULL;
	/* A request naming the local backend runs on this host (when spok.server.local-runs
	 * allows it: the backend's submit refuses otherwise). */
	bool local = s->cluster != NULL && !spok_backend_for(s->cluster)->cluster;
	const char *target;
	size_t k = 0;
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
	if ((result = warm_switch(t, out, err)) != SPOK_OK)
		return result;
	if ((result = pick_namespace(d, tok, s->ns, t, &ns, err)) != SPOK_OK ||
	    (!local && (result = pick_cluster(d, s->cluster, t, &k, &out->no_route, err)) != SPOK_OK))
		goto done;
	target = local ? s->cluster : d->cfg.clusters[k].name;
	{
		char rnd[SPOK_EXEC_ID_LEN + 1];

		if ((result = spok_store_new_id(rnd, sizeof(rnd), err)) != SPOK_OK)
			goto done;
		snprintf(stem, sizeof(stem), "r-%s", rnd + 3);
	}
	result = srv_write_task_source(d, stem, s->ext, s->data, s->len, &path, err);
	if (result != SPOK_OK)
		goto done;
	/* The key goes into the write-ahead row itself (UNIQUE): same key, same execution. */
	result = submit_to(d, target, t, ns, path, s->key_hex, id, sizeof(id), err);
	if (result != SPOK_OK) {
		unlink(path);
		goto done;
	}
	d->m.submissions++;
	log_info("serve: %s submitted %s to %s/%s (%s)", tok->name, id, target, ns, s->via);
	if (out->fallback)
		log_warn("serve: %s: %s", id, out->fallback);
	out->id = xstrdup(id);
done:
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
