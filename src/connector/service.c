/* service.c - the connector's methods, answered on the daemon's loop: CreateTask, GetTask,
 * DeleteTask (AsyncAgentService), ListAgents, GetAgent (AgentMetadataService) and
 * grpc.health.v1.Health/Check. Submission goes through the daemon's own path
 * (srv_submit_task: idempotency, per-project rights, routing, engine). */
#include "connector/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "connector/health.pb-c.h"
#include "flyteidl/admin/agent.pb-c.h"
#include "flyteidl/agent.h"
#include "flyteidl/internal.h"
#include "server/daemon.h"

/* Resource.state and Agent.supported_task_types are deprecated in flyteidl but still what
 * older flytepropellers read; protoc-c marks them (and their INIT macros) deprecated. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define AGENT_NAME "spok"
#define TASK_CATEGORY "spark"
#define MESSAGE_MAX 4096

const char *const conn_method_paths[CONN_NMETHODS] = {
	"/flyteidl.service.AsyncAgentService/CreateTask",
	"/flyteidl.service.AsyncAgentService/GetTask",
	"/flyteidl.service.AsyncAgentService/DeleteTask",
	"/flyteidl.service.AgentMetadataService/ListAgents",
	"/flyteidl.service.AgentMetadataService/GetAgent",
	"/grpc.health.v1.Health/Check",
	"/flyteidl.service.AsyncAgentService/GetTaskLogs",
};

void conn_reply_free(struct conn_reply *r)
{
	free(r->details);
	free(r->data);
	memset(r, 0, sizeof(*r));
}

static void fail(struct conn_reply *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct conn_reply *r, int status, const char *fmt, ...)
{
	va_list ap;

	conn_reply_free(r);
	r->status = status;
	va_start(ap, fmt);
	r->details = xvasprintf(fmt, ap);
	va_end(ap);
}

void conn_fail(struct conn_reply *r, int status, const char *fmt, ...)
{
	va_list ap;
	char *details;

	va_start(ap, fmt);
	details = xvasprintf(fmt, ap);
	va_end(ap);
	fail(r, status, "%s", details);
	free(details);
}

static int status_of(int code)
{
	switch (code) {
	case SPOK_EINVAL: return CONN_INVALID_ARGUMENT;
	case SPOK_ENOTFOUND: return CONN_NOT_FOUND;
	case SPOK_ECONFLICT: return CONN_FAILED_PRECONDITION;
	case SPOK_EFORBIDDEN: return CONN_PERMISSION_DENIED;
	case SPOK_EUNAVAIL: case SPOK_EQUOTA: case SPOK_EAPI: case SPOK_EBUSY:
		return CONN_UNAVAILABLE;
	case SPOK_ETIMEOUT: return CONN_DEADLINE_EXCEEDED;
	default: return CONN_INTERNAL;
	}
}

static void fail_err(struct conn_reply *r, const struct spok_err *e)
{
	/* As the HTTP API: local I/O and internal errors name the daemon host's files. */
	if (e->code == SPOK_EIO || e->code == SPOK_EINTERNAL) {
		log_error("connector: %s", e->msg);
		fail(r, status_of(e->code), "%s", e->code == SPOK_EIO ? "storage error on the "
		     "server; retry, and tell its operator if it persists" : "internal error on "
		     "the server; tell its operator");
		return;
	}
	/* The store's lock is held by another process (its message names the file). */
	if (e->code == SPOK_EBUSY) {
		log_warn("connector: %s", e->msg);
		fail(r, CONN_UNAVAILABLE, "the server's store is busy; retry shortly");
		return;
	}
	fail(r, status_of(e->code), "%s", e->msg);
}

static void pack(const ProtobufCMessage *m, struct conn_reply *r)
{
	conn_reply_free(r);
	r->len = protobuf_c_message_get_packed_size(m);
	r->data = xmalloc(r->len ? r->len : 1);
	protobuf_c_message_pack(m, r->data);
	r->status = CONN_OK;
}

/* ---- auth ---- */

const struct srv_token *conn_token_named(const struct srv_config *c, const char *name)
{
	for (size_t i = 0; i < c->ntokens; i++)
		if (strcmp(c->tokens[i].name, name) == 0)
			return &c->tokens[i];
	return NULL;
}

const struct srv_token *conn_authenticate(struct conn_service *s, const char *auth,
					  struct conn_reply *r)
{
	const struct srv_token *t;

	if (auth == NULL && s->cfg->unauthenticated_as) {
		if ((t = conn_token_named(&s->d->cfg, s->cfg->unauthenticated_as)) == NULL)
			fail(r, CONN_UNAUTHENTICATED, "spok.server.grpc.unauthenticated-as names "
			     "token '%.64s', which the tokens file no longer has", s->cfg->unauthenticated_as);
		return t;
	}
	t = srv_auth(&s->d->cfg, auth);
	if (t == NULL) {
		s->d->m.auth_failures++;
		fail(r, CONN_UNAUTHENTICATED, auth ? "the bearer token is not valid; check the "
		     "token or ask an admin for one" : "missing 'authorization: Bearer <token>' "
		     "metadata");
	}
	return t;
}

static bool authorize(const struct srv_token *t, const char *project, struct conn_reply *r)
{
	if (srv_token_allows(t, project))
		return true;
	fail(r, CONN_PERMISSION_DENIED, "token '%s' may not use project '%.100s'; ask an admin "
	     "to add it to the token's projects", t->name, project ? project : "");
	return false;
}

/* ---- CreateTask ---- */

static void idem_key(const char *identity, char hex[65])
{
	char *k = xasprintf("\ngrpc\n%s", identity);
	uint8_t h[32];

	/* HTTP keys hash "<token name>\n<key>"; a leading newline keeps the two apart. */
	srv_sha256(k, strlen(k), h);
	srv_hex(h, 32, hex);
	free(k);
}

static void reply_meta(const char *id, struct conn_reply *r)
{
	Flyteidl__Admin__CreateTaskResponse resp = FLYTEIDL__ADMIN__CREATE_TASK_RESPONSE__INIT;

	resp.resource_meta.data = (uint8_t *)id;
	resp.resource_meta.len = strlen(id);
	pack(&resp.base, r);
}

/* A CreateTask whose answer waits for the commit holding its row. */
struct conn_create {
	struct spok_engine_wait w;  /* w.data: this */
	struct srv_daemon *d;       /* not the service: a cancelled create may outlive it */
	struct srv_submitted out;
	conn_done_cb done;          /* NULL once cancelled */
	void *data;
};

/* The commit is known: answer (unless cancelled), then free. */
static void create_durable(struct spok_engine_wait *w, int result, const struct spok_err *why)
{
	struct conn_create *cc = w->data;
	struct conn_reply r = {0};
	struct spok_err err = {0};

	if (srv_submit_settle(cc->d, &cc->out, result, why, &err) != SPOK_OK)
		fail_err(&r, &err);
	else
		reply_meta(cc->out.id, &r);
	if (cc->done)
		cc->done(cc->data, &r);
	conn_reply_free(&r);
	srv_submitted_free(&cc->out);
	free(cc);
}

void conn_create_cancel(struct conn_create *cc)
{
	if (cc)
		cc->done = NULL;
}

/* cc NULL: answers r before returning (srv_submit_task commits for it). Else the answer may
 * wait for the loop turn's commit: true when it does (cc then owns the submission). */
static bool do_create(struct conn_service *s, const struct srv_token *tok, const uint8_t *req,
		      size_t len, struct conn_create *cc, struct conn_reply *r)
{
	struct spok_flyte_create c;
	struct spok_err err = {0};
	struct srv_submission sub = {0};
	struct srv_submitted out = {0};
	bool pending = false;
	char hex[65];

	if (spok_flyte_parse_create_task(req, len, "request", &c, &err) != SPOK_OK) {
		fail(r, CONN_INVALID_ARGUMENT, "%s", err.msg);
		return false;
	}
	if (!authorize(tok, c.exec_project, r))
		goto done;
	idem_key(c.identity, hex);
	sub.key_hex = hex;
	sub.ns = c.namespace_;
	sub.data = req;
	sub.len = len;
	sub.ext = SRV_CONNECTOR_EXT;
	sub.via = "grpc";
	if (cc) {
		cc->w.done = create_durable;
		cc->w.data = cc;
		sub.wait = &cc->w;
	}
	if (srv_submit_task(s->d, tok, &sub, &c.task, &out, &err) != SPOK_OK) {
		fail_err(r, &err);
	} else if (cc && out.pending) { /* pending only with sub.wait, i.e. cc */
		cc->out = out;
		memset(&out, 0, sizeof(out));
		pending = true;
	} else {
		reply_meta(out.id, r);
	}
	srv_submitted_free(&out);
done:
	spok_flyte_create_free(&c);
	return pending;
}

struct conn_create *conn_create_start(struct conn_service *s, const char *auth,
				      const uint8_t *req, size_t len, conn_done_cb done,
				      void *data, struct conn_reply *r)
{
	struct conn_create *cc;
	const struct srv_token *tok;

	memset(r, 0, sizeof(*r));
	if ((tok = conn_authenticate(s, auth, r)) == NULL)
		return NULL;
	if (s->stopping || s->d->stopping) {
		fail(r, CONN_UNAVAILABLE, "the server is shutting down; retry");
		return NULL;
	}
	cc = xcalloc(1, sizeof(*cc));
	cc->d = s->d;
	cc->done = done;
	cc->data = data;
	if (do_create(s, tok, req, len, cc, r))
		return cc;
	free(cc);
	return NULL;
}

/* ---- GetTask / DeleteTask ---- */

bool conn_meta_ok(const uint8_t *meta, size_t len)
{
	if (len == 0 || len > CONN_RESOURCE_META_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = meta[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return true;
}

/* Reads the execution named by resource_meta that the token may see; replies otherwise. */
bool conn_load_exec(struct conn_service *s, const struct srv_token *tok, const uint8_t *meta,
		    size_t len, struct spok_execution *x, struct conn_reply *r)
{
	struct spok_err err = {0};
	char id[CONN_RESOURCE_META_MAX + 1];

	if (!conn_meta_ok(meta, len)) {
		fail(r, CONN_INVALID_ARGUMENT, "resource_meta: not a spok execution id; pass the "
		     "resource_meta CreateTask returned");
		return false;
	}
	memcpy(id, meta, len);
	id[len] = '\0';
	if (spok_store_get(s->d->store, id, x, &err) != SPOK_OK || strcmp(x->id, id) != 0) {
		spok_execution_free(x);
		if (err.code != 0 && err.code != SPOK_ENOTFOUND)
			fail_err(r, &err);
		else
			fail(r, CONN_NOT_FOUND, "execution '%s' does not exist", id);
		return false;
	}
	if (!authorize(tok, x->project, r)) {
		spok_execution_free(x);
		return false;
	}
	return true;
}

int conn_flyte_phase(enum spok_phase p)
{
	switch (p) {
	case SPOK_PHASE_QUEUED: return FLYTEIDL__CORE__TASK_EXECUTION__PHASE__QUEUED;
	case SPOK_PHASE_WAITING_FOR_RESOURCES:
		return FLYTEIDL__CORE__TASK_EXECUTION__PHASE__WAITING_FOR_RESOURCES;
	case SPOK_PHASE_INITIALIZING: return FLYTEIDL__CORE__TASK_EXECUTION__PHASE__INITIALIZING;
	case SPOK_PHASE_RUNNING: return FLYTEIDL__CORE__TASK_EXECUTION__PHASE__RUNNING;
	case SPOK_PHASE_SUCCEEDED: return FLYTEIDL__CORE__TASK_EXECUTION__PHASE__SUCCEEDED;
	/* Flyte's Spark plugin fails retryably (USER kind); a task timeout is Flyte's retryable
	 * TimeoutExpired. flytepropeller's async path decides retries from the phase alone. */
	case SPOK_PHASE_RETRYABLE_FAILURE: case SPOK_PHASE_TIMED_OUT:
		return FLYTEIDL__CORE__TASK_EXECUTION__PHASE__RETRYABLE_FAILED;
	case SPOK_PHASE_PERMANENT_FAILURE: return FLYTEIDL__CORE__TASK_EXECUTION__PHASE__FAILED;
	case SPOK_PHASE_ABORTED: return FLYTEIDL__CORE__TASK_EXECUTION__PHASE__ABORTED;
	default: return FLYTEIDL__CORE__TASK_EXECUTION__PHASE__UNDEFINED;
	}
}

static Flyteidl__Admin__State legacy_state(enum spok_phase p)
{
	switch (p) {
	case SPOK_PHASE_RUNNING: return FLYTEIDL__ADMIN__STATE__RUNNING;
	case SPOK_PHASE_SUCCEEDED: return FLYTEIDL__ADMIN__STATE__SUCCEEDED;
	case SPOK_PHASE_RETRYABLE_FAILURE: case SPOK_PHASE_TIMED_OUT:
		return FLYTEIDL__ADMIN__STATE__RETRYABLE_FAILURE;
	case SPOK_PHASE_PERMANENT_FAILURE: case SPOK_PHASE_ABORTED:
		return FLYTEIDL__ADMIN__STATE__PERMANENT_FAILURE;
	default: return FLYTEIDL__ADMIN__STATE__PENDING;
	}
}

/* The links the engine recorded (log templates, then the Spark UI or history link). */
struct links {
	json_t *arr;
	Flyteidl__Core__TaskLog *logs;
	Flyteidl__Core__TaskLog **ptrs;
	size_t n;
};

static void links_load(const struct spok_execution *x, struct links *l)
{
	json_t *v;
	size_t i;

	memset(l, 0, sizeof(*l));
	l->arr = x->links_json ? json_loads(x->links_json, 0, NULL) : NULL;
	if (!json_is_array(l->arr))
		return;
	l->logs = xcalloc(json_array_size(l->arr) + 1, sizeof(*l->logs));
	l->ptrs = xcalloc(json_array_size(l->arr) + 1, sizeof(*l->ptrs));
	json_array_foreach(l->arr, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *uri = json_string_value(json_object_get(v, "uri"));
		Flyteidl__Core__TaskLog init = FLYTEIDL__CORE__TASK_LOG__INIT;

		if (name == NULL || uri == NULL)
			continue;
		l->logs[l->n] = init;
		l->logs[l->n].name = (char *)name;
		l->logs[l->n].uri = (char *)uri;
		/* Flyte emits every Spark log and UI link in JSON message format. */
		l->logs[l->n].message_format = FLYTEIDL__CORE__TASK_LOG__MESSAGE_FORMAT__JSON;
		l->ptrs[l->n] = &l->logs[l->n];
		l->n++;
	}
}

static void links_free(struct links *l)
{
	free(l->logs);
	free(l->ptrs);
	json_decref(l->arr);
}

static char *message_of(const struct spok_execution *x)
{
	const char *reason = x->reason ? x->reason : "";

	if (x->error_message && x->error_message[0] && strstr(reason, x->error_message) == NULL)
		return xasprintf("%.*s%s%.*s", MESSAGE_MAX / 2, reason, reason[0] ? ": " : "",
				 MESSAGE_MAX / 2, x->error_message);
	return xasprintf("%.*s", MESSAGE_MAX, reason);
}

static void reply_resource(const struct spok_execution *x, struct conn_reply *r)
{
	Flyteidl__Admin__GetTaskResponse resp = FLYTEIDL__ADMIN__GET_TASK_RESPONSE__INIT;
	Flyteidl__Admin__Resource res = FLYTEIDL__ADMIN__RESOURCE__INIT;
	Flyteidl__Admin__AgentError ae = FLYTEIDL__ADMIN__AGENT_ERROR__INIT;
	Google__Protobuf__Struct info = GOOGLE__PROTOBUF__STRUCT__INIT;
	Google__Protobuf__Struct__FieldsEntry fe = GOOGLE__PROTOBUF__STRUCT__FIELDS_ENTRY__INIT;
	Google__Protobuf__Struct__FieldsEntry *fep = &fe;
	Google__Protobuf__Value uv = GOOGLE__PROTOBUF__VALUE__INIT;
	struct links l;
	int phase = conn_flyte_phase(x->phase);
	char *msg = message_of(x);

	links_load(x, &l);
	res.phase = (Flyteidl__Core__TaskExecution__Phase)phase;
	res.state = legacy_state(x->phase); /* older flytepropellers read only this */
	res.message = msg;
	res.n_log_links = l.n;
	res.log_links = l.ptrs;
	/* Like Flyte's plugin: the UI link again as custom info, for UI plugins. */
	uv.kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE;
	if (x->phase == SPOK_PHASE_RUNNING && x->ui_url) {
		fe.key = (char *)"sparkDriverUI";
		uv.string_value = x->ui_url;
	} else if (spok_phase_terminal(x->phase) && x->history_url) {
		fe.key = (char *)"sparkHistoryUI";
		uv.string_value = x->history_url;
	}
	if (fe.key != protobuf_c_empty_string) {
		fe.value = &uv;
		info.n_fields = 1;
		info.fields = &fep;
	}
	res.custom_info = &info;
	if (phase == FLYTEIDL__CORE__TASK_EXECUTION__PHASE__RETRYABLE_FAILED ||
	    phase == FLYTEIDL__CORE__TASK_EXECUTION__PHASE__FAILED) {
		ae.code = (char *)spok_phase_name(x->phase);
		ae.kind = phase == FLYTEIDL__CORE__TASK_EXECUTION__PHASE__FAILED
			? FLYTEIDL__ADMIN__AGENT_ERROR__KIND__NON_RECOVERABLE
			: FLYTEIDL__ADMIN__AGENT_ERROR__KIND__RECOVERABLE;
		res.agent_error = &ae;
	}
	resp.resource = &res;
	pack(&resp.base, r);
	links_free(&l);
	free(msg);
}

static ProtobufCMessage *unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *req,
				size_t len, const char *what, struct conn_reply *r)
{
	struct spok_err err = {0};
	ProtobufCMessage *m = spok_pb_unpack(desc, req, len, "request", what, &err);

	if (m == NULL)
		fail(r, CONN_INVALID_ARGUMENT, "%s", err.msg);
	return m;
}

static void do_get(struct conn_service *s, const struct srv_token *tok, const uint8_t *req,
		   size_t len, struct conn_reply *r)
{
	Flyteidl__Admin__GetTaskRequest *g = (Flyteidl__Admin__GetTaskRequest *)unpack(
		&flyteidl__admin__get_task_request__descriptor, req, len, "GetTaskRequest", r);
	struct spok_execution x = {0};

	if (g == NULL)
		return;
	if (conn_load_exec(s, tok, g->resource_meta.data, g->resource_meta.len, &x, r)) {
		reply_resource(&x, r);
		spok_execution_free(&x);
	}
	protobuf_c_message_free_unpacked(&g->base, NULL);
}

static void do_delete(struct conn_service *s, const struct srv_token *tok, const uint8_t *req,
		      size_t len, struct conn_reply *r)
{
	Flyteidl__Admin__DeleteTaskRequest *dr = (Flyteidl__Admin__DeleteTaskRequest *)unpack(
		&flyteidl__admin__delete_task_request__descriptor, req, len, "DeleteTaskRequest", r);
	Flyteidl__Admin__DeleteTaskResponse resp = FLYTEIDL__ADMIN__DELETE_TASK_RESPONSE__INIT;
	struct spok_execution x = {0};
	struct spok_err err = {0};
	struct srv_cluster *c;
	int result = SPOK_OK;

	if (dr == NULL)
		return;
	if (!conn_load_exec(s, tok, dr->resource_meta.data, dr->resource_meta.len, &x, r))
		goto done;
	/* Deleting a finished execution is a no-op: flytepropeller aborts and finalizes
	 * terminal tasks too, and retries calls that timed out. */
	if (!spok_phase_terminal(x.phase) || spok_engine_needs_work(&x)) {
		c = srv_cluster_by_name(s->d, x.backend);
		result = c ? spok_engine_abort(c->engine, x.id, &err)
			   : spok_store_request_abort(s->d->store, x.id, &err);
		if (result == SPOK_OK)
			s->d->m.aborts++;
	}
	if (result != SPOK_OK)
		fail_err(r, &err);
	else
		pack(&resp.base, r);
	spok_execution_free(&x);
done:
	protobuf_c_message_free_unpacked(&dr->base, NULL);
}

/* ---- AgentMetadataService ---- */

static void with_agent(void (*fn)(Flyteidl__Admin__Agent *a, struct conn_reply *r),
		       struct conn_reply *r)
{
	Flyteidl__Admin__Agent a = FLYTEIDL__ADMIN__AGENT__INIT;
	Flyteidl__Admin__TaskCategory cat = FLYTEIDL__ADMIN__TASK_CATEGORY__INIT;
	Flyteidl__Admin__TaskCategory *cats = &cat;
	char *types[] = {(char *)TASK_CATEGORY};

	a.name = (char *)AGENT_NAME;
	a.is_sync = 0;
	cat.name = (char *)TASK_CATEGORY;
	cat.version = 0;
	a.n_supported_task_categories = 1;
	a.supported_task_categories = &cats;
	a.n_supported_task_types = 1; /* what flytepropellers before task categories read */
	a.supported_task_types = types;
	fn(&a, r);
}

static void list_agents(Flyteidl__Admin__Agent *a, struct conn_reply *r)
{
	Flyteidl__Admin__ListAgentsResponse resp = FLYTEIDL__ADMIN__LIST_AGENTS_RESPONSE__INIT;

	resp.n_agents = 1;
	resp.agents = &a;
	pack(&resp.base, r);
}

static void get_agent(Flyteidl__Admin__Agent *a, struct conn_reply *r)
{
	Flyteidl__Admin__GetAgentResponse resp = FLYTEIDL__ADMIN__GET_AGENT_RESPONSE__INIT;

	resp.agent = a;
	pack(&resp.base, r);
}

static void do_get_agent(const uint8_t *req, size_t len, struct conn_reply *r)
{
	Flyteidl__Admin__GetAgentRequest *g = (Flyteidl__Admin__GetAgentRequest *)unpack(
		&flyteidl__admin__get_agent_request__descriptor, req, len, "GetAgentRequest", r);

	if (g == NULL)
		return;
	if (strcmp(g->name, AGENT_NAME) == 0)
		with_agent(get_agent, r);
	else
		fail(r, CONN_NOT_FOUND, "no agent named '%.64s'; this server is '" AGENT_NAME "'",
		     g->name);
	protobuf_c_message_free_unpacked(&g->base, NULL);
}

/* ---- health ---- */

static void do_health(struct conn_service *s, const uint8_t *req, size_t len,
		      struct conn_reply *r)
{
	Grpc__Health__V1__HealthCheckRequest *h = (Grpc__Health__V1__HealthCheckRequest *)unpack(
		&grpc__health__v1__health_check_request__descriptor, req, len, "HealthCheckRequest",
		r);
	Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
	bool known = false;

	if (h == NULL)
		return;
	known = h->service[0] == '\0' || strcmp(h->service, "grpc.health.v1.Health") == 0 ||
		strcmp(h->service, "flyteidl.service.AsyncAgentService") == 0 ||
		strcmp(h->service, "flyteidl.service.AgentMetadataService") == 0;
	if (!known) {
		fail(r, CONN_NOT_FOUND, "unknown service '%.100s'", h->service);
	} else {
		resp.status = s->stopping || s->d->stopping
			? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
			: GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
		pack(&resp.base, r);
	}
	protobuf_c_message_free_unpacked(&h->base, NULL);
}

void conn_handle(struct conn_service *s, enum conn_method m, const char *auth,
		 const uint8_t *req, size_t len, struct conn_reply *r)
{
	const struct srv_token *tok;

	memset(r, 0, sizeof(*r));
	/* The probe and the agent's name carry no data: no token needed (the Kubernetes gRPC
	 * probe sends none; flytepropeller's discovery neither). */
	if (m == CONN_HEALTH) {
		do_health(s, req, len, r);
		return;
	}
	if (m == CONN_LIST_AGENTS) {
		with_agent(list_agents, r);
		return;
	}
	if (m == CONN_GET_AGENT) {
		do_get_agent(req, len, r);
		return;
	}
	if ((tok = conn_authenticate(s, auth, r)) == NULL)
		return;
	if (m == CONN_CREATE && (s->stopping || s->d->stopping))
		fail(r, CONN_UNAVAILABLE, "the server is shutting down; retry");
	else if (m == CONN_CREATE)
		(void)do_create(s, tok, req, len, NULL, r);
	else if (m == CONN_GET)
		do_get(s, tok, req, len, r);
	else if (m == CONN_DELETE)
		do_delete(s, tok, req, len, r);
	else /* GetTaskLogs streams (logs.c): never answered here */
		fail(r, CONN_INTERNAL, "method %d is not unary", (int)m);
}
