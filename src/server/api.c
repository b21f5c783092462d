/* api.c - the HTTP/JSON API, /healthz, /metrics and the dashboard route (docs/SERVER.md). */
#include "server/daemon.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base64.h"
#include "common/log.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "connect/connect.h"
#include "local/token.h"
#include "flyteidl/flyteidl.h"
#include "jobfile/jobfile.h"

#define API_PREFIX "/api/v1/executions"
#define SESSIONS_PREFIX "/api/v1/sessions"
#define POOLS_PATH "/api/v1/pools"
#define LIST_DEFAULT 100
#define LIST_MAX 1000
#define KEY_MAX 256

/* ---- replies ---- */

static void reply_json(struct srv_reply *r, unsigned status, json_t *j)
{
	r->status = status;
	r->body = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(j);
}

void srv_reply_error(struct srv_reply *r, unsigned status, const char *code, const char *fmt, ...)
{
	char msg[SPOK_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	free(r->body);
	/* Messages quote URLs and request fields, and %.Ns may cut a UTF-8 sequence: JSON
	 * strings must be UTF-8, so when it is not, send every non-ASCII byte as '?'. */
	if (!spok_utf8_validn(msg, strlen(msg)))
		for (char *p = msg; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
	/* One line, as every spok error: quoted fields may hold newlines and escapes. */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	reply_json(r, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

/* An error from a lower layer, mapped to an HTTP status. */
static void reply_err(struct srv_reply *r, const struct spok_err *e)
{
	unsigned status = 500;

	/* Local I/O and internal errors name the daemon host's files (the store, the tasks
	 * dir): logged whole, answered without them. */
	if (e->code == SPOK_EIO || e->code == SPOK_EINTERNAL) {
		log_error("serve: %s", e->msg);
		srv_reply_error(r, 500, e->code == SPOK_EIO ? "io" : "internal", "%s",
				e->code == SPOK_EIO ? "storage error on the server; retry, and "
				"tell its operator if it persists (the daemon's log has the details)"
				: "internal error on the server; tell its operator (the daemon's "
				"log has the details)");
		return;
	}
	/* Another process holds the store's lock: the loop does not wait for it (daemon.h). */
	if (e->code == SPOK_EBUSY) {
		log_warn("serve: %s", e->msg);
		srv_reply_error(r, 503, "busy", "the server's store is busy; retry in %d s",
				SRV_STORE_RETRY_S);
		r->retry_after_s = SRV_STORE_RETRY_S;
		return;
	}

	switch (e->code) {
	case SPOK_EINVAL: status = 400; break;
	case SPOK_ENOTFOUND: status = 404; break;
	case SPOK_ECONFLICT: status = 409; break;
	case SPOK_EFORBIDDEN: status = 403; break;
	case SPOK_EUNAVAIL: case SPOK_EQUOTA: status = 503; break;
	case SPOK_ETIMEOUT: status = 504; break;
	case SPOK_EAPI: status = 502; break;
	default: break;
	}
	/* API error codes are snake_case ("not_found"); spok_code_name says "not-found". */
	char code[32];
	size_t i;

	snprintf(code, sizeof(code), "%s", spok_code_name(e->code));
	for (i = 0; code[i]; i++)
		if (code[i] == '-')
			code[i] = '_';
	srv_reply_error(r, status, code, "%s", e->msg);
}

/* ---- execution views ---- */

static json_t *links_of(const struct spok_execution *x)
{
	json_t *out = json_array(), *stored = NULL;

	if (x->links_json)
		stored = json_loads(x->links_json, 0, NULL);
	if (json_is_array(stored))
		json_array_extend(out, stored);
	json_decref(stored);
	if (x->ui_url)
		json_array_append_new(out, json_pack("{s:s,s:s}", "name", "Spark UI", "uri", x->ui_url));
	if (x->history_url)
		json_array_append_new(out, json_pack("{s:s,s:s}", "name", "Spark history",
						     "uri", x->history_url));
	return out;
}

static json_t *api_ms(int64_t v)
{
	return v == 0 ? json_null() : json_integer(v);
}

/* The API's view of a record, camelCase throughout: an allow-list, so a field added to the
 * store later (a pid, a host path) stays off the API until someone decides it belongs here.
 * Left out: pid, pgid, proc_start, supervisor_pid, supervisor_start, log_path, run_dir,
 * event_log_dir, task_source - the daemon host's processes and paths (the CLI's view on
 * the host keeps them). */
static json_t *exec_view(const struct spok_execution *x)
{
	json_t *j = json_object(), *outputs = x->outputs_json ?
		json_loads(x->outputs_json, JSON_DECODE_ANY, NULL) : NULL;
	int64_t end = x->finished_ms ? x->finished_ms : spok_now_ms();

	json_object_set_new(j, "id", spok_json_text(x->id));
	json_object_set_new(j, "taskName", spok_json_text(x->task_name));
	json_object_set_new(j, "project", spok_json_text(x->project));
	json_object_set_new(j, "domain", spok_json_text(x->domain));
	json_object_set_new(j, "backend", spok_json_text(x->backend));
	json_object_set_new(j, "namespace", spok_json_text(x->namespace_));
	json_object_set_new(j, "resourceName", spok_json_text(x->resource_name));
	json_object_set_new(j, "attempt", json_integer(x->attempt));
	json_object_set_new(j, "maxAttempts", json_integer(x->max_attempts));
	json_object_set_new(j, "phase", json_string(spok_phase_name(x->phase)));
	json_object_set_new(j, "phaseVersion", json_integer(x->phase_version));
	json_object_set_new(j, "reason", spok_json_text(x->reason));
	json_object_set_new(j, "errorMessage", spok_json_text(x->error_message));
	json_object_set_new(j, "createdMs", api_ms(x->created_ms));
	json_object_set_new(j, "startedMs", api_ms(x->started_ms));
	json_object_set_new(j, "finishedMs", api_ms(x->finished_ms));
	json_object_set_new(j, "exitCode", x->has_exit_code ? json_integer(x->exit_code) : json_null());
	json_object_set_new(j, "abortRequested", json_boolean(x->abort_requested));
	json_object_set_new(j, "sparkAppId", spok_json_text(x->spark_app_id));
	json_object_set_new(j, "uiUrl", spok_json_text(x->ui_url));
	json_object_set_new(j, "historyUrl", spok_json_text(x->history_url));
	json_object_set_new(j, "outputs", outputs ? outputs : spok_json_text(x->outputs_json));
	json_object_set_new(j, "links", links_of(x));
	json_object_set_new(j, "session", spok_json_text(x->session));
	json_object_set_new(j, "fallback", spok_json_text(x->fallback));
	json_object_set_new(j, "durationMs", x->started_ms ? json_integer(end - x->started_ms) : json_null());
	return j;
}

/* ---- auth ---- */

static const struct srv_token *authenticate(struct srv_daemon *d, struct MHD_Connection *conn,
					    struct srv_reply *r)
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	const struct srv_token *t = srv_auth(&d->cfg, h);

	if (t == NULL) {
		d->m.auth_failures++;
		r->www_authenticate = true;
		srv_reply_error(r, 401, "unauthorized", h ? "the bearer token is not valid; check the "
				"token or ask an admin for one" : "missing 'Authorization: Bearer "
				"<token>' header");
	}
	return t;
}

static bool authorize(const struct srv_token *t, const char *project, struct srv_reply *r)
{
	if (srv_token_allows(t, project))
		return true;
	srv_reply_error(r, 403, "forbidden", "token '%s' may not use project '%.100s'; ask an admin "
			"to add it to the token's projects", t->name, project ? project : "");
	return false;
}

/* ---- submit ---- */

static bool submit_fields(json_t *body, struct srv_submit *s, struct srv_reply *r)
{
	static const char *const keys[] = {"task", "taskYaml", "taskSpecBase64", "cluster",
					   "namespace", "idempotencyKey", NULL};
	const char *k;
	json_t *v;
	int forms = 0;

	json_object_foreach(body, k, v) {
		bool known = false;

		for (size_t i = 0; keys[i] && !known; i++)
			known = strcmp(keys[i], k) == 0;
		if (!known) {
			srv_reply_error(r, 400, "invalid", "request body: unknown field '%.80s'; use "
					"task, taskYaml, taskSpecBase64, cluster, namespace, "
					"idempotencyKey", k);
			return false;
		}
		if (strcmp(k, "task") != 0 && !json_is_string(v)) {
			srv_reply_error(r, 400, "invalid", "request body: %s: expected a string", k);
			return false;
		}
	}
	if ((v = json_object_get(body, "task")) != NULL) {
		forms++;
		if (!json_is_object(v)) {
			srv_reply_error(r, 400, "invalid", "request body: task: expected a job file "
					"as a JSON object (or use taskYaml)");
			return false;
		}
		s->form = "task";
		s->text = json_dumps(v, JSON_COMPACT);
		s->len = strlen(s->text);
		s->ext = "yaml";
	}
	if ((v = json_object_get(body, "taskYaml")) != NULL) {
		forms++;
		if (strlen(json_string_value(v)) != json_string_length(v)) {
			srv_reply_error(r, 400, "invalid", "request body: taskYaml: holds a NUL "
					"character; send the job file text");
			return false;
		}
		s->form = "taskYaml";
		free(s->text);
		s->text = xstrdup(json_string_value(v));
		s->len = strlen(s->text);
		s->ext = "yaml";
	}
	if ((v = json_object_get(body, "taskSpecBase64")) != NULL) {
		unsigned char *raw;

		forms++;
		s->form = "taskSpecBase64";
		free(s->text);
		s->text = NULL;
		/* Standard or URL-safe, padding optional, a dangling last character ignored. */
		if (!spok_base64_decode(json_string_value(v), SPOK_BASE64_URL | SPOK_BASE64_LOOSE_TAIL,
					&raw, &s->len)) {
			srv_reply_error(r, 400, "invalid", "request body: taskSpecBase64: not base64; "
					"encode the TaskSpec/TaskTemplate protobuf bytes");
			return false;
		}
		s->text = (char *)raw;
		s->ext = "pb";
	}
	if (forms != 1) {
		srv_reply_error(r, 400, "invalid", "request body: give exactly one of task, taskYaml, "
				"taskSpecBase64");
		return false;
	}
	s->cluster = json_string_value(json_object_get(body, "cluster"));
	s->ns = json_string_value(json_object_get(body, "namespace"));
	s->key = json_string_value(json_object_get(body, "idempotencyKey"));
	if (s->key && (s->key[0] == '\0' || strlen(s->key) > KEY_MAX)) {
		srv_reply_error(r, 400, "invalid", "request body: idempotencyKey: 1-%d characters",
				KEY_MAX);
		return false;
	}
	return true;
}

void srv_submit_free(struct srv_submit *s)
{
	free(s->text);
	json_decref(s->doc);
	memset(s, 0, sizeof(*s));
}

bool srv_submit_read(const char *body, size_t len, struct srv_submit *s, struct srv_reply *r)
{
	json_error_t je;

	memset(s, 0, sizeof(*s));
	s->doc = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &je);
	if (s->doc == NULL) {
		srv_reply_error(r, 400, "invalid", "request body: invalid JSON at line %d column %d: "
				"%s", je.line, je.column, je.text);
		return false;
	}
	if (!json_is_object(s->doc)) {
		srv_reply_error(r, 400, "invalid", "request body: expected a JSON object "
				"{\"task\": {...}} or {\"taskYaml\": \"...\"}");
		return false;
	}
	return submit_fields(s->doc, s, r);
}

bool srv_submit_parse(const struct srv_submit *s, struct spok_task *t, struct srv_reply *r)
{
	struct spok_err err = {0};
	char name[64];
	int result;

	snprintf(name, sizeof(name), "request body: %s", s->form);
	spok_task_init(t);
	if (strcmp(s->ext, "pb") == 0)
		result = spok_flyte_load_task_buf((const uint8_t *)s->text, s->len, name, NULL, t, &err);
	else
		result = spok_jobfile_parse_task(s->text, s->len, name, t, &err);
	/* The loaders check too; the daemon does not rely on every loader remembering. */
	if (result == SPOK_OK && (result = spok_task_check_limits(t, name, &err)) != SPOK_OK)
		spok_task_free(t);
	if (result != SPOK_OK)
		srv_reply_error(r, 400, "invalid", "%s", err.msg);
	return result == SPOK_OK;
}

/* fallback (may be NULL): why a task that asked to run warm runs as a normal run; session
 * (may be NULL): the warm session it runs on. */
static void reply_created(struct srv_daemon *d, struct srv_reply *r, unsigned status,
			  const char *id, const char *fallback, const char *session)
{
	struct spok_execution x = {0};
	struct spok_err err = {0};

	if (spok_store_get(d->store, id, &x, &err) != SPOK_OK) {
		reply_err(r, &err);
		return;
	}
	json_t *j = json_pack("{s:s,s:s?,s:s?,s:s,s:b}", "id", x.id, "cluster", x.backend,
			      "namespace", x.namespace_, "phase", spok_phase_name(x.phase),
			      "idempotentReplay", status == 200);
	if (fallback)
		json_object_set_new(j, "fallback", spok_json_text(fallback));
	if (session)
		json_object_set_new(j, "session", spok_json_text(session));
	reply_json(r, status, j);
	spok_execution_free(&x);
}

static void key_hash(const struct srv_token *t, const char *key, char hex[65])
{
	struct spok_buf b;
	uint8_t h[32];

	/* Keys are scoped to the token's name: two clients cannot collide or see each other's. */
	spok_buf_init(&b, SPOK_BUF_DEFAULT_MAX);
	spok_buf_appends(&b, t->name);
	spok_buf_append(&b, "\n", 1);
	spok_buf_appends(&b, key);
	srv_sha256(b.data, b.len, h);
	spok_buf_free(&b);
	srv_hex(h, 32, hex);
}

/* A submission answered after the loop turn's group commit (its connection suspended). */
struct submit_wait {
	struct spok_engine_wait w;  /* first: the engine's callback gets it */
	struct srv_daemon *d;
	struct srv_req *rq;         /* NULL once http.c cancelled (client gone, shutdown) */
	struct srv_submitted out;
};

static void submit_answer(struct srv_daemon *d, struct srv_submitted *out, struct srv_reply *r)
{
	reply_created(d, r, out->replayed ? 200 : 201, out->id, out->fallback, out->session);
}

/* The commit holding the row is known: answer (unless the client left), then free. */
static void submit_durable(struct spok_engine_wait *w, int result, const struct spok_err *why)
{
	struct submit_wait *sw = w->data;
	struct srv_reply r = {0};
	struct spok_err err = {0};

	if (srv_submit_settle(sw->d, &sw->out, result, why, &err) != SPOK_OK)
		reply_err(&r, &err);
	else if (sw->rq)
		submit_answer(sw->d, &sw->out, &r);
	if (sw->rq)
		srv_http_resume(sw->rq, &r);
	free(r.body);
	srv_submitted_free(&sw->out);
	free(sw);
}

/* http.c gave up on the answer: the commit still settles the submission (its log line, its
 * task source), so the wait goes on without the request. */
static void submit_cancel(void *work)
{
	struct submit_wait *sw = work;

	sw->rq = NULL;
}

static void do_submit(struct srv_daemon *d, struct srv_req *rq, const struct srv_token *tok,
		      const struct spok_buf *body, struct srv_reply *r)
{
	struct srv_submit s;
	struct srv_submission sub = {0};
	struct srv_submitted out = {0};
	struct submit_wait *sw = xcalloc(1, sizeof(*sw));
	struct spok_task t;
	struct spok_err err = {0};
	char hex[65] = "";

	spok_task_init(&t);
	if (!srv_submit_read(body->data, body->len, &s, r) || !srv_submit_parse(&s, &t, r))
		goto done;
	if (s.key) {
		key_hash(tok, s.key, hex);
		sub.key_hex = hex;
	}
	sub.ns = s.ns;
	sub.cluster = s.cluster;
	sub.data = s.text;
	sub.len = s.len;
	sub.ext = s.ext;
	sub.via = "http";
	/* A cluster's row becomes durable with the loop turn's commit: the answer waits for it
	 * (shared with every other write of the turn) instead of forcing a commit of its own. */
	sw->w.done = submit_durable;
	sw->w.data = sw;
	sw->d = d;
	sw->rq = rq;
	sub.wait = &sw->w;
	if (srv_submit_task(d, tok, &sub, &t, &out, &err) != SPOK_OK) {
		if (out.no_route)
			srv_reply_error(r, 422, "no_route", "%s", err.msg);
		else
			reply_err(r, &err);
	} else if (out.pending) {
		sw->out = out;
		srv_http_suspend(rq, submit_cancel, sw);
		sw = NULL;
		memset(&out, 0, sizeof(out));
	} else {
		submit_answer(d, &out, r);
	}
	srv_submitted_free(&out);
done:
	free(sw);
	spok_task_free(&t);
	srv_submit_free(&s);
}

/* ---- list / get / abort / logs ---- */

static const char *arg(struct MHD_Connection *c, const char *name)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);

	return v && v[0] ? v : NULL;
}

/* Parses limit= (absent: the default); replies 400 otherwise. */
static bool list_limit(const char *lim, size_t *limit, struct srv_reply *r)
{
	char *end;
	unsigned long l;

	*limit = LIST_DEFAULT;
	if (lim == NULL)
		return true;
	l = strtoul(lim, &end, 10);
	if (*end || l == 0 || l > LIST_MAX) {
		srv_reply_error(r, 400, "invalid", "limit: expected 1-%d", LIST_MAX);
		return false;
	}
	*limit = l;
	return true;
}

/* Every filter, the token's project scope included, goes to the store as SQL, and
 * continue is the store's keyset cursor: a page costs the same at any depth, and
 * executions arriving at the front never shift the pages after it. */
static void do_list(struct srv_daemon *d, struct MHD_Connection *c, const struct srv_token *t,
		    struct srv_reply *r)
{
	const char *project = arg(c, "project"), *phase = arg(c, "phase");
	const char *cont = arg(c, "continue");
	struct spok_store_filter f = {.project = project, .backend = arg(c, "cluster")};
	struct spok_execution *v = NULL;
	struct spok_err err = {0};
	enum spok_phase ph = SPOK_PHASE_UNDEFINED;
	size_t n = 0, limit;
	char *next = NULL;
	json_t *items;
	int result;

	if (phase && !spok_phase_parse(phase, &ph)) {
		srv_reply_error(r, 400, "invalid", "phase: unknown phase '%.40s'; use e.g. RUNNING",
				phase);
		return;
	}
	if (!list_limit(arg(c, "limit"), &limit, r))
		return;
	if (project && !authorize(t, project, r))
		return;
	if (phase)
		f.phases = SPOK_STORE_PHASE(ph);
	if (!t->all_projects) {
		/* Never skip the scope: no projects is no rows (the tokens file refuses such a
		 * token; this holds even if one slipped through). */
		if (t->projects.len == 0) {
			reply_json(r, 200, json_pack("{s:[],s:n}", "items", "continue"));
			return;
		}
		f.projects = (const char *const *)t->projects.items;
		f.nprojects = t->projects.len;
	}
	result = spok_store_list_page(d->store, &f, limit, cont, &v, &n, &next, &err);
	if (result == SPOK_EINVAL && cont) {
		srv_reply_error(r, 400, "invalid", "continue: unknown token; start again without it");
		return;
	}
	if (result != SPOK_OK) {
		reply_err(r, &err);
		return;
	}
	items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, exec_view(&v[i]));
	spok_execution_list_free(v, n);
	reply_json(r, 200, json_pack("{s:o,s:o}", "items", items, "continue",
				     next ? json_string(next) : json_null()));
	free(next);
}

/* Reads an execution the token may see; replies otherwise. */
static bool load_exec(struct srv_daemon *d, const struct srv_token *t, const char *id,
		      struct spok_execution *x, struct srv_reply *r)
{
	struct spok_err err = {0};

	if (spok_store_get(d->store, id, x, &err) != SPOK_OK || strcmp(x->id, id) != 0) {
		spok_execution_free(x);
		if (err.code != SPOK_OK && err.code != SPOK_ENOTFOUND)
			reply_err(r, &err);
		else
			srv_reply_error(r, 404, "not_found", "execution '%.40s' does not exist; "
					"list them with GET " API_PREFIX, id);
		return false;
	}
	if (!authorize(t, x->project, r)) {
		spok_execution_free(x);
		return false;
	}
	return true;
}

static void do_get(struct srv_daemon *d, const struct srv_token *t, const char *id,
		   struct srv_reply *r)
{
	struct spok_execution x = {0};

	json_t *j, *progress;

	if (!load_exec(d, t, id, &x, r))
		return;
	j = exec_view(&x);
	progress = srv_progress_of(d, &x); /* running only; asking is what starts the reads */
	if (progress)
		json_object_set_new(j, "progress", progress);
	reply_json(r, 200, j);
	spok_execution_free(&x);
}

static void do_abort(struct srv_daemon *d, const struct srv_token *t, const char *id,
		     struct srv_reply *r)
{
	struct spok_execution x = {0};
	struct spok_err err = {0};
	struct spok_backend_ctx ctx;
	const struct spok_backend_ops *b;
	int result;

	if (!load_exec(d, t, id, &x, r))
		return;
	b = srv_backend(d, &x, &ctx);
	if (spok_phase_terminal(x.phase) && !b->needs_work(&x)) {
		srv_reply_error(r, 409, "conflict", "execution %s already finished (%s)", x.id,
				spok_phase_name(x.phase));
		spok_execution_free(&x);
		return;
	}
	/* On the daemon's loop: the cluster's engine acts at once; a run that no engine here
	 * follows (a local run, a cluster not configured) gets the flag its supervisor acts on. */
	result = b->abort(&ctx, &x, &err);
	if (result != SPOK_OK) {
		reply_err(r, &err);
	} else {
		d->m.aborts++;
		reply_json(r, 202, json_pack("{s:s,s:b}", "id", x.id, "abortRequested", 1));
	}
	spok_execution_free(&x);
}

/* Parses an optional unsigned query parameter in [lo, hi]; replies 400 when bad. */
static bool arg_num(struct MHD_Connection *c, const char *name, unsigned long lo,
		    unsigned long hi, unsigned long *out, struct srv_reply *r)
{
	const char *v = arg(c, name);
	char *end;
	unsigned long n;

	if (v == NULL)
		return true;
	n = strtoul(v, &end, 10);
	if (*end || v[0] == '-' || v[0] == '+' || n < lo || n > hi) {
		srv_reply_error(r, 400, "invalid", "%s: expected a number %lu-%lu", name, lo, hi);
		return false;
	}
	*out = n;
	return true;
}

static void do_logs(struct srv_daemon *d, struct srv_req *rq, struct MHD_Connection *conn,
		    const struct srv_token *t, const char *id, struct srv_reply *r)
{
	struct spok_execution x = {0};
	unsigned long tail = SRV_LOG_TAIL_DEFAULT, limit = SRV_LOG_LIMIT_MAX;

	if (!arg_num(conn, "tailLines", 0, SRV_LOG_TAIL_MAX, &tail, r) ||
	    !arg_num(conn, "limitBytes", 1, SRV_LOG_LIMIT_MAX, &limit, r))
		return;
	if (arg(conn, "follow")) {
		srv_reply_error(r, 400, "invalid", "follow: not supported by the API; use the log "
				"links or kubectl logs -f");
		return;
	}
	if (!load_exec(d, t, id, &x, r))
		return;
	srv_logs_http(d, rq, &x, tail, limit, r);
	spok_execution_free(&x);
}

/* ---- health and metrics ---- */

static const char *health_name(enum srv_health h)
{
	return h == SRV_UP ? "up" : h == SRV_DOWN ? "down" : "unknown";
}

void srv_api_healthz(struct srv_daemon *d, struct srv_reply *r)
{
	struct spok_execution x = {0};
	struct spok_err err = {0};
	json_t *clusters = json_array();
	int sr = spok_store_get(d->store, "sp-healthz-probe", &x, &err);
	bool store_ok = sr == SPOK_OK || sr == SPOK_ENOTFOUND;
	bool all_up = true;

	spok_execution_free(&x);
	/* /healthz needs no token: no kubeconfig paths, plugin commands or database paths in
	 * it (the cluster's message is logged when its health changes). */
	if (!store_ok)
		log_warn("serve: healthz: store: %s", err.msg);
	for (size_t i = 0; i < d->nclusters; i++) {
		const struct srv_cluster *c = &d->clusters[i];

		all_up = all_up && c->health == SRV_UP;
		json_array_append_new(clusters, json_pack(
			"{s:s,s:s,s:s?,s:I}", "name", c->cfg->name, "status", health_name(c->health),
			"message", c->health == SRV_DOWN ? "the API server does not answer; the "
			"daemon's log says why" : NULL, "activeExecutions",
			(json_int_t)(c->engine ? spok_engine_active(c->engine) : 0)));
	}
	if (sr == SPOK_EBUSY)
		r->retry_after_s = SRV_STORE_RETRY_S;
	reply_json(r, store_ok && !d->stopping ? 200 : 503, json_pack(
		"{s:s,s:s,s:o,s:I}", "status", d->stopping ? "draining" : !store_ok ? "failing"
		: all_up ? "ok" : "degraded", "store", store_ok ? "ok" : sr == SPOK_EBUSY ?
		"busy (another process holds its lock); retry shortly" :
		"failing; the daemon's log says why",
		"clusters",
		clusters, "uptimeSeconds", (json_int_t)((spok_now_ms() - d->started_ms) / 1000)));
}

static const char *const route_names[SRV_R_COUNT] = {
	"dashboard", "healthz", "metrics", "submit", "list", "get", "abort", "logs", "pools",
	"sessions", "session_create", "session", "session_stop", "session_url", "other"
};

static void metrics_executions(struct srv_daemon *d, struct spok_buf *b)
{
	uint64_t by[SPOK_STORE_NPHASES] = {0};

	/* One GROUP BY over an index, not a read of every row; a failing store reads 0s. */
	(void)spok_store_count_by_phase(d->store, NULL, by, NULL);
	spok_buf_appends(b, "# HELP spok_executions Executions in the store by phase.\n"
			    "# TYPE spok_executions gauge\n");
	for (int p = SPOK_PHASE_QUEUED; p <= SPOK_PHASE_TIMED_OUT; p++)
		spok_buf_printf(b, "spok_executions{phase=\"%s\"} %llu\n",
				spok_phase_name((enum spok_phase)p), (unsigned long long)by[p]);
}

static void metrics_clusters(struct srv_daemon *d, struct spok_buf *b)
{
	static const char *const head[] = {
		"spok_cluster_up", "gauge", "1 when the cluster's API server answers.",
		"spok_cluster_active_executions", "gauge", "Executions the engine follows.",
		"spok_watch_reconnects_total", "counter", "Watch reconnections.",
		"spok_watch_relists_total", "counter", "Watch relists after 410 Gone.",
		"spok_cluster_creates_total", "counter", "SparkApplication create requests.",
		"spok_cluster_store_commits_total", "counter",
		"Store transactions the engine's row writes took (one per loop turn with writes)."
	};

	for (size_t h = 0; h < 6; h++) {
		spok_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", head[3 * h], head[3 * h + 2],
				head[3 * h], head[3 * h + 1]);
		for (size_t i = 0; i < d->nclusters; i++) {
			struct spok_engine_stats s = {0};
			uint64_t val;

			if (d->clusters[i].engine)
				spok_engine_stats(d->clusters[i].engine, &s);
			val = h == 0 ? d->clusters[i].health == SRV_UP : h == 1 ? s.active
			    : h == 2 ? (s.watch_connects > s.watches ? s.watch_connects - s.watches : 0)
			    : h == 3 ? s.relists : h == 4 ? s.creates : s.store_commits;
			spok_buf_printf(b, "%s{cluster=\"%s\"} %llu\n", head[3 * h],
					d->clusters[i].cfg->name, (unsigned long long)val);
		}
	}
}

static void do_metrics(struct srv_daemon *d, struct srv_reply *r)
{
	struct spok_buf b;

	spok_buf_init(&b, SPOK_BUF_DEFAULT_MAX);
	metrics_executions(d, &b);
	spok_buf_printf(&b, "# HELP spok_submissions_total Executions created through the API.\n"
			"# TYPE spok_submissions_total counter\nspok_submissions_total %llu\n"
			"# HELP spok_submission_replays_total POSTs answered from an idempotency key.\n"
			"# TYPE spok_submission_replays_total counter\n"
			"spok_submission_replays_total %llu\n"
			"# HELP spok_aborts_total Abort requests accepted.\n"
			"# TYPE spok_aborts_total counter\nspok_aborts_total %llu\n"
			"# HELP spok_auth_failures_total Requests refused for a missing or bad token.\n"
			"# TYPE spok_auth_failures_total counter\nspok_auth_failures_total %llu\n",
			(unsigned long long)d->m.submissions,
			(unsigned long long)d->m.submission_replays,
			(unsigned long long)d->m.aborts, (unsigned long long)d->m.auth_failures);
	spok_buf_printf(&b, "# HELP spok_log_fetches_total Cluster driver-log fetches started.\n"
			"# TYPE spok_log_fetches_total counter\nspok_log_fetches_total %llu\n"
			"# HELP spok_log_fetches_cancelled_total Driver-log fetches cancelled (client "
			"left, shutdown).\n# TYPE spok_log_fetches_cancelled_total counter\n"
			"spok_log_fetches_cancelled_total %llu\n"
			"# HELP spok_log_fetches_in_flight Driver-log fetches running now.\n"
			"# TYPE spok_log_fetches_in_flight gauge\nspok_log_fetches_in_flight %llu\n",
			(unsigned long long)d->m.log_fetches,
			(unsigned long long)d->m.log_fetches_cancelled,
			(unsigned long long)d->m.log_fetches_active);
	spok_buf_printf(&b, "# HELP spok_http_connections Open HTTP connections by listener.\n"
			"# TYPE spok_http_connections gauge\n"
			"spok_http_connections{listener=\"api\"} %u\n"
			"# HELP spok_http_deadline_closed_total Connections closed for sending their "
			"headers or body too slowly.\n# TYPE spok_http_deadline_closed_total counter\n"
			"spok_http_deadline_closed_total %llu\n"
			"# HELP spok_http_framing_refused_total Requests refused for ambiguous framing.\n"
			"# TYPE spok_http_framing_refused_total counter\n"
			"spok_http_framing_refused_total %llu\n", srv_http_connections(d),
			(unsigned long long)d->m.conn_deadline_closed,
			(unsigned long long)d->m.framing_refused);
	spok_buf_appends(&b, "# HELP spok_api_requests_total Requests by route.\n"
			    "# TYPE spok_api_requests_total counter\n");
	for (size_t i = 0; i < SRV_R_COUNT; i++)
		spok_buf_printf(&b, "spok_api_requests_total{route=\"%s\"} %llu\n", route_names[i],
				(unsigned long long)d->m.api[i]);
	spok_buf_appends(&b, "# HELP spok_http_requests_total Responses by status code.\n"
			    "# TYPE spok_http_requests_total counter\n");
	for (unsigned c = 100; c < 600; c++)
		if (d->m.http_by_code[c])
			spok_buf_printf(&b, "spok_http_requests_total{code=\"%u\"} %llu\n", c,
					(unsigned long long)d->m.http_by_code[c]);
	metrics_clusters(d, &b);
	spok_buf_append(&b, "", 1);
	r->status = 200;
	r->content_type = "text/plain; version=0.0.4; charset=utf-8";
	r->body = spok_buf_detach(&b);
}

/* ---- warm sessions (src/connect; docs/SERVER.md, "Sessions") ----
 * Nothing here waits: a start spawns the session's supervisor and answers 202 with the
 * STARTING row (the list shows the phase as it changes), a stop records the request its
 * supervisor acts on, and a dead supervisor's row is settled with KILL, not a grace. */

/* The user_id of a session's sc:// URL: the token's name (per-user sessions on the server). */
static const char *session_user(const struct srv_token *t)
{
	return srv_session_user_ok(t->name) ? t->name : "spok";
}

/* A Connect server runs its clients' code (Python UDFs) on this host, as local runs do. */
static bool sessions_enabled(struct srv_daemon *d, struct srv_reply *r)
{
	if (d->cfg.local_runs)
		return true;
	srv_reply_error(r, 403, "forbidden", "sessions run Spark Connect servers, which run their "
			"clients' code, on the daemon's host; its operator enables them with "
			"spok.server.local-runs: true (docs/SERVER.md)");
	return false;
}

static json_t *pool_view(const struct spok_pool *p)
{
	return json_pack("{s:s,s:s,s:I,s:I,s:o,s:o}", "name", p->name, "master",
			 p->master ? p->master : "local[*]", "idleTimeoutMs", (json_int_t)p->idle_ms,
			 "maxLifetimeMs", (json_int_t)p->lifetime_ms, "minExecutors",
			 p->min_executors < 0 ? json_null() : json_integer(p->min_executors),
			 "maxExecutors", p->max_executors < 0 ? json_null() : json_integer(p->max_executors));
}

static void do_pools(struct srv_daemon *d, struct srv_reply *r)
{
	struct spok_pools ps;
	struct spok_err err = {0};
	bool has_default = false;

	if (spok_pools_load(d->platform, &ps, &err) != SPOK_OK) {
		reply_err(r, &err);
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < ps.n; i++) {
		has_default = has_default || strcmp(ps.v[i].name, SPOK_POOL_DEFAULT) == 0;
		json_array_append_new(items, pool_view(&ps.v[i]));
	}
	if (!has_default) /* always there, with the defaults */
		json_array_append_new(items, pool_view(spok_pools_find(&ps, NULL)));
	reply_json(r, 200, json_pack("{s:o}", "items", items));
	spok_pools_free(&ps);
}

static void do_sessions(struct srv_daemon *d, const struct srv_token *t, struct srv_reply *r)
{
	struct spok_session *v = NULL;
	size_t n = 0;
	struct spok_err err = {0};

	if (spok_store_session_list(d->store, &v, &n, &err) != SPOK_OK) {
		reply_err(r, &err);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (!spok_session_phase_terminal(v[i].phase) && srv_session_allowed(t, &v[i]))
			spok_connect_settle_nowait(d->store, &v[i], NULL);
	reply_json(r, 200, srv_sessions_view(t, v, n, session_user(t), spok_now_ms()));
	spok_session_list_free(v, n);
}

static bool load_session(struct srv_daemon *d, const struct srv_token *t, const char *name,
			 struct spok_session *x, struct srv_reply *r)
{
	struct spok_err err = {0};

	if (spok_store_session_get(d->store, name, x, &err) != SPOK_OK) {
		if (err.code == SPOK_ENOTFOUND)
			srv_reply_error(r, 404, "not_found", "session '%.63s' does not exist; list them "
					"with GET " SESSIONS_PREFIX, name);
		else
			reply_err(r, &err);
		return false;
	}
	if (!srv_session_allowed(t, x)) {
		srv_reply_error(r, 403, "forbidden", "token '%s' may not use session '%.63s' (%s%s); ask "
				"an admin to add its project to the token's projects", t->name, name,
				x->project ? "project " : "started from the CLI: ",
				x->project ? x->project : "all-projects tokens only");
		spok_session_free(x);
		return false;
	}
	return true;
}

static void do_session_get(struct srv_daemon *d, const struct srv_token *t, const char *name,
			   struct srv_reply *r)
{
	struct spok_session x;

	if (!load_session(d, t, name, &x, r))
		return;
	spok_connect_settle_nowait(d->store, &x, NULL);
	reply_json(r, 200, srv_session_view(&x, session_user(t), spok_now_ms()));
	spok_session_free(&x);
}

/* The body's optional name, pool and project; replies 400 and returns false when bad. */
static bool session_fields(const struct spok_buf *body, json_t **doc, const char **name,
			   const char **pool, const char **project, struct srv_reply *r)
{
	json_error_t je;
	const char *k;
	json_t *v;

	*name = *pool = *project = NULL;
	*doc = json_loadb(body && body->len ? body->data : "{}", body && body->len ? body->len : 2,
			  JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(*doc)) {
		srv_reply_error(r, 400, "invalid", "request body: expected a JSON object such as "
				"{\"name\": \"s1\", \"pool\": \"default\", \"project\": \"p\"}");
		return false;
	}
	json_object_foreach(*doc, k, v) {
		const char **dst = strcmp(k, "name") == 0 ? name : strcmp(k, "pool") == 0 ? pool
				 : strcmp(k, "project") == 0 ? project : NULL;
		if (!dst) {
			srv_reply_error(r, 400, "invalid", "request body: unknown field '%.80s'; use "
					"name, pool, project", k);
			return false;
		}
		if (!json_is_string(v)) {
			srv_reply_error(r, 400, "invalid", "request body: %s must be a string", k);
			return false;
		}
		*dst = json_string_value(v);
	}
	return true;
}

/* spok.server.sessions-per-project: a project's sessions that run or are on their way (one
 * JVM each on this host), name (which this create may only find running) left out. Replies
 * 429 and returns false at the cap. */
static bool under_cap(struct srv_daemon *d, const char *project, const char *name,
		      struct srv_reply *r)
{
	size_t live = 0;
	struct spok_err err = {0};

	if (srv_sessions_live(d->store, project, name, &live, &err) != SPOK_OK) {
		reply_err(r, &err);
		return false;
	}
	if (live < d->cfg.sessions_per_project)
		return true;
	srv_reply_error(r, 429, "too_many_sessions", "project '%s' has %zu sessions running or "
			"starting, its cap (spok.server.sessions-per-project); stop one (POST "
			SESSIONS_PREFIX "/NAME/stop) or reuse one", project, live);
	return false;
}

static void do_session_create(struct srv_daemon *d, const struct srv_token *t,
			      const struct spok_buf *body, struct srv_reply *r)
{
	json_t *doc = NULL;
	const char *name, *pool_name, *project;
	struct spok_pools ps = {0};
	struct spok_session x;
	struct spok_err err = {0};
	bool started = false;

	if (!session_fields(body, &doc, &name, &pool_name, &project, r))
		goto done;
	if (!project && !t->all_projects && t->projects.len == 1)
		project = t->projects.items[0]; /* the token's one project */
	if (!project || !*project) {
		srv_reply_error(r, 400, "invalid", "request body: project is required (the project "
				"the session belongs to)");
		goto done;
	}
	if (!authorize(t, project, r))
		goto done;
	/* as a task's project (src/jobfile): it is shown in terminals, logs and the dashboard */
	if (!spok_connect_name_ok(project)) {
		srv_reply_error(r, 400, "invalid", "project '%.63s': 1-63 of a-z, 0-9, '-', '_', "
				"starting with a letter or digit", project);
		goto done;
	}
	if (spok_pools_load(d->platform, &ps, &err) != SPOK_OK) {
		reply_err(r, &err);
		goto done;
	}
	/* as `spok session start`: the pool named like the session, else "default" */
	if (!pool_name && name && spok_pools_find(&ps, name) && strcmp(name, SPOK_POOL_DEFAULT) != 0)
		pool_name = name;
	const struct spok_pool *pool = spok_pools_find(&ps, pool_name);
	if (!pool) {
		srv_reply_error(r, 404, "not_found", "pool '%.63s' is not in spok.pools of the daemon's "
				"config; list them with GET " POOLS_PATH, pool_name);
		goto done;
	}
	if (!name)
		name = pool->name;
	if (!spok_connect_name_ok(name)) {
		srv_reply_error(r, 400, "invalid", "name '%.63s': 1-63 of a-z, 0-9, '-', '_', starting "
				"with a letter or digit", name);
		goto done;
	}
	if (!under_cap(d, project, name, r))
		goto done;
	if (spok_connect_begin(d->store, d->data_dir, d->platform->source_path, name, pool, project,
			       &x, &started, &err) != SPOK_OK) {
		reply_err(r, &err);
		goto done;
	}
	if (started)
		log_info("serve: session %s (project %s, pool %s) starting for token %s", name, project,
			 pool->name, t->name);
	reply_json(r, x.phase == SPOK_SESSION_RUNNING ? 200 : 202,
		   srv_session_view(&x, session_user(t), spok_now_ms()));
	spok_session_free(&x);
done:
	spok_pools_free(&ps);
	json_decref(doc);
}

/* A Kubernetes session whose supervisor died (or whose pod ended) left its server pod and
 * Service: a supervisor started for it deletes them (the loop does not wait for the API);
 * *x becomes its STARTING row with the stop requested. */
static int stop_leftovers(struct srv_daemon *d, struct spok_session *x, struct spok_err *err)
{
	struct spok_pools ps;
	int result = spok_pools_load(d->platform, &ps, err);

	if (result == SPOK_OK)
		result = spok_connect_cleanup_begin(d->store, d->data_dir, d->platform->source_path,
						    spok_pools_find(&ps, x->pool), x, err);
	if (result == SPOK_OK)
		log_info("serve: session %s: deleting the server objects its dead supervisor left", x->name);
	spok_pools_free(&ps);
	return result;
}

static void do_session_stop(struct srv_daemon *d, const struct srv_token *t, const char *name,
			    struct srv_reply *r)
{
	struct spok_session x;
	struct spok_err err = {0};

	if (!load_session(d, t, name, &x, r))
		return;
	spok_session_free(&x);
	if (spok_connect_request_stop(d->store, name, &x, &err) != SPOK_OK ||
	    (spok_connect_leftovers(&x) && stop_leftovers(d, &x, &err) != SPOK_OK)) {
		spok_session_free(&x);
		reply_err(r, &err);
		return;
	}
	reply_json(r, spok_session_phase_terminal(x.phase) ? 200 : 202,
		   srv_session_view(&x, session_user(t), spok_now_ms()));
	spok_session_free(&x);
}

/* The one answer that holds a session's token (its server's Spark Connect bearer token):
 * only for a caller whose token may use the session's project (load_session), only while
 * the server runs; list and get show the URL without it. */
static void do_session_url(struct srv_daemon *d, const struct srv_token *t, const char *name,
			   struct srv_reply *r)
{
	struct spok_session x;
	struct spok_err err = {0};
	char *token = NULL;

	if (!load_session(d, t, name, &x, r))
		return;
	spok_connect_settle_nowait(d->store, &x, NULL);
	if (x.phase != SPOK_SESSION_RUNNING) {
		srv_reply_error(r, 409, "conflict", "session '%.63s' is %s, not RUNNING; start it with "
				"POST " SESSIONS_PREFIX " and ask again once it runs", name,
				spok_session_phase_name(x.phase));
	} else if (spok_connect_token(&x, &token, &err) != SPOK_OK) {
		reply_err(r, &err);
	} else {
		char *url = spok_connect_url(&x, session_user(t), token);
		spok_store_session_touch(d->store, x.name, spok_now_ms(), NULL);
		reply_json(r, 200, json_pack("{s:s, s:s}", "name", x.name, "url", url));
		spok_token_free(url);
	}
	spok_token_free(token);
	spok_session_free(&x);
}

/* ---- routing ---- */

static bool method_is(const char *m, const char *want)
{
	return strcmp(m, want) == 0;
}

static void not_allowed(struct srv_reply *r, const char *allow, const char *method)
{
	r->allow = allow;
	srv_reply_error(r, 405, "method_not_allowed", "%.16s is not allowed here; use %s", method,
			allow);
}

/* "ID" or "ID/SUB" after a collection's prefix: ID copied into id (non-empty, shorter than
 * idlen, else false), *sub the text after the slash or NULL. */
static bool split_id(const char *rest, char *id, size_t idlen, const char **sub)
{
	const char *slash = strchr(rest, '/');
	size_t n = slash ? (size_t)(slash - rest) : strlen(rest);

	if (n == 0 || n >= idlen)
		return false;
	memcpy(id, rest, n);
	id[n] = '\0';
	*sub = slash ? slash + 1 : NULL;
	return true;
}

static enum srv_route_id classify(const char *url, char *id, size_t idlen, const char **sub)
{
	*sub = NULL;
	if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
		return SRV_R_DASHBOARD;
	if (strcmp(url, "/healthz") == 0)
		return SRV_R_HEALTHZ;
	if (strcmp(url, "/metrics") == 0)
		return SRV_R_METRICS;
	if (strcmp(url, POOLS_PATH) == 0)
		return SRV_R_POOLS;
	if (strcmp(url, SESSIONS_PREFIX) == 0 || strcmp(url, SESSIONS_PREFIX "/") == 0)
		return SRV_R_SESSIONS; /* or SESSION_CREATE, by method */
	if (strncmp(url, SESSIONS_PREFIX "/", sizeof(SESSIONS_PREFIX)) == 0) {
		if (!split_id(url + sizeof(SESSIONS_PREFIX), id, idlen, sub))
			return SRV_R_OTHER;
		if (!*sub)
			return SRV_R_SESSION;
		return strcmp(*sub, "stop") == 0 ? SRV_R_SESSION_STOP
		       : strcmp(*sub, "url") == 0 ? SRV_R_SESSION_URL : SRV_R_OTHER;
	}
	if (strcmp(url, API_PREFIX) == 0 || strcmp(url, API_PREFIX "/") == 0)
		return SRV_R_LIST; /* or SUBMIT, by method */
	if (strncmp(url, API_PREFIX "/", sizeof(API_PREFIX)) != 0)
		return SRV_R_OTHER;
	if (!split_id(url + sizeof(API_PREFIX), id, idlen, sub))
		return SRV_R_OTHER;
	if (!*sub)
		return SRV_R_GET;
	if (strcmp(*sub, "abort") == 0)
		return SRV_R_ABORT;
	if (strcmp(*sub, "logs") == 0)
		return SRV_R_LOGS;
	return SRV_R_OTHER;
}

static void dispatch(struct srv_daemon *d, struct srv_req *rq, struct MHD_Connection *conn,
		     enum srv_route_id rt, const char *id, const struct spok_buf *body,
		     struct srv_reply *r)
{
	const struct srv_token *t = authenticate(d, conn, r);

	if (t == NULL)
		return;
	if (d->stopping && rt == SRV_R_SUBMIT)
		srv_reply_error(r, 503, "unavailable", "the server is shutting down; retry the "
				"request (with the same idempotencyKey)");
	else if (rt == SRV_R_POOLS)
		do_pools(d, r);
	else if (rt >= SRV_R_SESSIONS && rt <= SRV_R_SESSION_URL && !sessions_enabled(d, r))
		return;
	else if (d->stopping && rt == SRV_R_SESSION_CREATE)
		srv_reply_error(r, 503, "unavailable", "the server is shutting down; retry the request");
	else if (rt == SRV_R_SESSIONS)
		do_sessions(d, t, r);
	else if (rt == SRV_R_SESSION_CREATE)
		do_session_create(d, t, body, r);
	else if (rt == SRV_R_SESSION)
		do_session_get(d, t, id, r);
	else if (rt == SRV_R_SESSION_STOP)
		do_session_stop(d, t, id, r);
	else if (rt == SRV_R_SESSION_URL)
		do_session_url(d, t, id, r);
	else if (rt == SRV_R_SUBMIT)
		do_submit(d, rq, t, body, r);
	else if (rt == SRV_R_LIST)
		do_list(d, conn, t, r);
	else if (rt == SRV_R_GET)
		do_get(d, t, id, r);
	else if (rt == SRV_R_ABORT)
		do_abort(d, t, id, r);
	else
		do_logs(d, rq, conn, t, id, r);
}

void srv_api_handle(struct srv_daemon *d, struct srv_req *rq, struct MHD_Connection *conn,
		    const char *method, const char *url, const struct spok_buf *body,
		    struct srv_reply *r)
{
	char id[64];
	const char *sub;
	enum srv_route_id rt = classify(url, id, sizeof(id), &sub);
	bool get = method_is(method, "GET") || method_is(method, "HEAD");
	bool post = method_is(method, "POST");

	if (rt == SRV_R_LIST && post)
		rt = SRV_R_SUBMIT;
	if (rt == SRV_R_SESSIONS && post)
		rt = SRV_R_SESSION_CREATE;
	d->m.api[rt]++;
	if (rt == SRV_R_OTHER) {
		srv_reply_error(r, 404, "not_found", "no such endpoint: %.200s; see docs/SERVER.md",
				url);
	} else if (rt == SRV_R_SUBMIT || rt == SRV_R_ABORT || rt == SRV_R_SESSION_CREATE ||
		   rt == SRV_R_SESSION_STOP) {
		if (!post)
			not_allowed(r, "POST", method);
		else
			dispatch(d, rq, conn, rt, id, body, r);
	} else if (!get) {
		not_allowed(r, rt == SRV_R_LIST || rt == SRV_R_SESSIONS ? "GET, POST" : "GET", method);
	} else if (rt == SRV_R_HEALTHZ) {
		srv_api_healthz(d, r);
	} else if (rt == SRV_R_METRICS) {
		do_metrics(d, r);
	} else if (rt == SRV_R_DASHBOARD) {
		r->status = 200;
		r->content_type = "text/html; charset=utf-8";
		r->body = xstrdup(srv_dashboard_html);
	} else {
		dispatch(d, rq, conn, rt, id, body, r);
	}
}
