/* sessions.c - the API's view of warm Spark Connect sessions (src/connect) and who may see
 * them: a session belongs to the project it was created for through the API, and a token
 * sees, stops and uses only its projects' sessions, as with executions (docs/SERVER.md). */
#include <string.h>

#include "common/utf8.h"
#include "common/xalloc.h"
#include "connect/connect.h"
#include "model/session.h"
#include "server/internal.h"
#include "store/store.h"

bool srv_session_allowed(const struct srv_token *t, const struct spok_session *s)
{
	/* A session started from the CLI has no project: only an all-projects token sees it. */
	return srv_token_allows(t, s->project);
}

static json_t *ms_or_null(int64_t v)
{
	return v == 0 ? json_null() : json_integer(v);
}

/* An allow-list, as the executions' view: no pids, log paths or host directories. */
json_t *srv_session_view(const struct spok_session *s, const char *user, int64_t now_ms)
{
	json_t *j = json_object();
	bool running = s->phase == SPOK_SESSION_RUNNING;
	int64_t last = s->last_used_ms > s->started_ms ? s->last_used_ms : s->started_ms;

	json_object_set_new(j, "name", spok_json_text(s->name));
	json_object_set_new(j, "pool", spok_json_text(s->pool));
	json_object_set_new(j, "project", spok_json_text(s->project));
	json_object_set_new(j, "phase", json_string(spok_session_phase_name(s->phase)));
	json_object_set_new(j, "reason", spok_json_text(s->reason));
	json_object_set_new(j, "stopRequested", json_boolean(s->stop_requested));
	json_object_set_new(j, "createdMs", ms_or_null(s->created_ms));
	json_object_set_new(j, "startedMs", ms_or_null(s->started_ms));
	json_object_set_new(j, "lastUsedMs", ms_or_null(running ? last : s->last_used_ms));
	json_object_set_new(j, "finishedMs", ms_or_null(s->finished_ms));
	json_object_set_new(j, "idleMs", running && last > 0 && now_ms >= last ? json_integer(now_ms - last) : json_null());
	json_object_set_new(j, "starts", json_integer(s->starts));
	if (running && s->port > 0) {
		/* without the token: GET .../NAME/url is the one answer with it */
		char *url = spok_connect_url(s, user, NULL);
		json_object_set_new(j, "url", spok_json_text(url));
		free(url);
	} else {
		json_object_set_new(j, "url", json_null());
	}
	if (running && s->ui_port > 0) {
		char *ui = xasprintf("http://127.0.0.1:%d", s->ui_port);
		json_object_set_new(j, "uiUrl", json_string(ui));
		free(ui);
	} else {
		json_object_set_new(j, "uiUrl", json_null());
	}
	return j;
}

json_t *srv_sessions_view(const struct srv_token *t, const struct spok_session *v, size_t n,
			  const char *user, int64_t now_ms)
{
	json_t *items = json_array();

	for (size_t i = 0; i < n; i++)
		if (srv_session_allowed(t, &v[i]))
			json_array_append_new(items, srv_session_view(&v[i], user, now_ms));
	return json_pack("{s:o}", "items", items);
}

bool srv_session_user_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n > 0 && n <= 63 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

int srv_sessions_live(struct spok_store *st, const char *project, const char *name, size_t *n,
		      struct spok_err *err)
{
	struct spok_session *v = NULL;
	size_t count = 0;
	int result = spok_store_session_list(st, &v, &count, err);

	*n = 0;
	if (result != SPOK_OK)
		return result;
	for (size_t i = 0; i < count; i++) {
		if (!v[i].project || strcmp(v[i].project, project) != 0 || strcmp(v[i].name, name) == 0 ||
		    spok_session_phase_terminal(v[i].phase))
			continue;
		spok_connect_settle_nowait(st, &v[i], NULL); /* a dead supervisor's row */
		*n += !spok_session_phase_terminal(v[i].phase);
	}
	spok_session_list_free(v, count);
	return SPOK_OK;
}
