/* submit.c - one submission path for every front end that hands the daemon a parsed task
 * (the gRPC connector today; the HTTP API's do_submit can move onto it): idempotency
 * lookup, per-project authorization, routing, the durable task source, the engine. */
#include "server/daemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "flyteidl/agent.h"

static int pick(struct srv_daemon *d, const struct spok_task *t, size_t *k,
		struct spok_err *err)
{
	struct srv_cluster_state *st = xcalloc(d->nclusters, sizeof(*st));
	int result;

	srv_cluster_states(d, st);
	result = srv_route_pick(&d->cfg, t->project, t->domain, st, k, err);
	free(st);
	return result;
}

static int replay(struct srv_daemon *d, const struct srv_token *tok, char *prev, char **id,
		  struct spok_err *err)
{
	struct spok_execution x = {0};
	int result = spok_store_get(d->store, prev, &x, err);

	/* The key names an execution: the caller must still be allowed to see it. */
	if (result == SPOK_OK && !srv_token_allows(tok, x.project))
		result = spok_err_set(err, SPOK_EFORBIDDEN, "token '%s' may not use project "
				      "'%.100s'", tok->name, x.project ? x.project : "");
	spok_execution_free(&x);
	if (result != SPOK_OK) {
		free(prev);
		return result;
	}
	d->m.submission_replays++;
	*id = prev;
	return SPOK_OK;
}

int srv_submit_task(struct srv_daemon *d, const struct srv_token *tok,
		    const struct srv_submission *s, struct spok_task *t, char **id, bool *replayed,
		    struct spok_err *err)
{
	char stem[80], out[SPOK_EXEC_ID_LEN + 1];
	char *path = NULL, *ns = NULL, *prev = NULL;
	size_t k = 0;
	int result;

	*id = NULL;
	*replayed = false;
	if (d->stopping)
		return spok_err_set(err, SPOK_EUNAVAIL, "the server is shutting down; retry");
	if (s->key_hex) {
		if ((result = srv_idem_find(d, s->key_hex, &prev, err)) != SPOK_OK)
			return result;
		if (prev != NULL) {
			*replayed = true;
			return replay(d, tok, prev, id, err);
		}
	}
	if (!srv_token_allows(tok, t->project))
		return spok_err_set(err, SPOK_EFORBIDDEN, "token '%s' may not use project '%.100s'; "
				    "ask an admin to add it to the token's projects", tok->name,
				    t->project ? t->project : "");
	if ((result = pick(d, t, &k, err)) != SPOK_OK)
		return result;
	ns = s->ns ? xstrdup(s->ns) : spok_namespace_for(d->platform, t->project, t->domain);
	if (s->key_hex) {
		snprintf(stem, sizeof(stem), "k-%s", s->key_hex);
	} else {
		char rnd[SPOK_EXEC_ID_LEN + 1];

		if ((result = spok_store_new_id(rnd, sizeof(rnd), err)) != SPOK_OK)
			goto done;
		snprintf(stem, sizeof(stem), "r-%s", rnd + 3);
	}
	result = srv_write_task_source(d, stem, s->ext, s->data, s->len, &path, err);
	if (result != SPOK_OK)
		goto done;
	result = spok_engine_submit(d->clusters[k].engine, t, ns, path, out, sizeof(out), err);
	if (result != SPOK_OK) {
		unlink(path);
		goto done;
	}
	d->m.submissions++;
	log_info("serve: %s submitted %s to %s/%s (%s)", tok->name, out, d->cfg.clusters[k].name,
		 ns, s->via);
	*id = xstrdup(out);
done:
	free(path);
	free(ns);
	return result;
}

bool srv_is_connector_source(const char *path)
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
