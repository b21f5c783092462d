/* connector.c - the gRPC transport: the C core's server and completion queue on a thread of
 * ours, each completed event handed to the daemon's loop, replies posted from the loop.
 *
 * A call lives until every batch it started has completed (pending). Unary calls start one
 * batch (the whole answer). GetTaskLogs streams: a RECV_CLOSE_ON_SERVER batch of its own
 * completes when the call ends for any reason (status sent, client cancelled, deadline,
 * shutdown) and then stops the log fetch; messages go out one batch at a time, the next
 * only after the previous completed, so a slow client holds at most one message here. */
#include "connector/connector.h"
#include "connector/internal.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "server/daemon.h"

/* Calls accepted at once per method (the core queues more until these are answered). */
#define SLOTS_PER_METHOD 4
#define MAX_CONCURRENT_STREAMS 100
#define CONN_MEMORY_QUOTA ((size_t)256 << 20) /* bytes the gRPC core may hold for clients */
#define CONN_IDLE_MS (5 * 60 * 1000)          /* a connection without calls is closed */
#define CONN_HANDSHAKE_MS (10 * 1000)         /* TLS/HTTP2 set-up must finish by then */
#define AUTH_MAX 4096

enum call_state { CALL_WAITING, CALL_REPLYING, CALL_STREAMING };

struct call;

/* What a completed batch was: the call's main batch or its close watch (streams). */
struct tag {
	struct call *k;
};

struct call {
	struct spok_connector *c;
	enum call_state st;
	struct tag main, close;
	unsigned pending;           /* started and not completed: request, batches */
	struct conn_stream *stream; /* CALL_STREAMING: the log (logs.c), until the status */
	bool sending;               /* a message or the status is in flight */
	bool ended;                 /* the status went out, or the call is over */
	bool meta_sent;
	int method;                 /* enum conn_method, or -1: unregistered (generic) */
	grpc_call *call;
	gpr_timespec deadline;
	grpc_metadata_array md;
	grpc_call_details details; /* generic calls only */
	grpc_byte_buffer *payload;
	grpc_byte_buffer *send;
	grpc_slice status_details;
	bool have_details;
	int cancelled;
	/* CreateTask waiting for the commit holding its row (one more in pending), on the
	 * connector's list of such calls. */
	struct conn_create *create;
	struct call *dnext, **dprev;
};

struct event {
	void *tag;
	bool ok;
};

struct spok_connector {
	struct conn_service svc;
	struct conn_config cfg;
	grpc_server *server;
	grpc_completion_queue *cq;
	void *methods[CONN_NMETHODS];
	pthread_t thread;
	bool thread_started;
	uv_async_t async;
	pthread_mutex_t mu;
	struct event *q;            /* events from the completion-queue thread */
	size_t qlen, qcap;
	int shutdown_tag;           /* its address is the server-shutdown tag */
	size_t live;                /* calls allocated */
	struct call *deferred;      /* CreateTask calls waiting for their commit */
};

/* ---- completion-queue thread ---- */

static void *cq_thread(void *arg)
{
	struct spok_connector *c = arg;

	for (;;) {
		grpc_event ev = grpc_completion_queue_next(c->cq,
							   gpr_inf_future(GPR_CLOCK_REALTIME), NULL);

		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type != GRPC_OP_COMPLETE)
			continue;
		if (ev.tag == &c->shutdown_tag) {
			/* Every call is cancelled and the server stopped: no new events but the
			 * ones already due, which the queue still delivers before shutting down. */
			grpc_completion_queue_shutdown(c->cq);
			continue;
		}
		pthread_mutex_lock(&c->mu);
		if (c->qlen == c->qcap) {
			c->qcap = c->qcap ? 2 * c->qcap : 64;
			c->q = xreallocarray(c->q, c->qcap, sizeof(*c->q));
		}
		c->q[c->qlen++] = (struct event){ev.tag, ev.success != 0};
		pthread_mutex_unlock(&c->mu);
		uv_async_send(&c->async);
	}
	return NULL;
}

/* ---- calls ---- */

static void call_free(struct call *k)
{
	conn_logs_free(k->stream);
	if (k->call)
		grpc_call_unref(k->call);
	grpc_metadata_array_destroy(&k->md);
	if (k->method < 0)
		grpc_call_details_destroy(&k->details);
	if (k->payload)
		grpc_byte_buffer_destroy(k->payload);
	if (k->send)
		grpc_byte_buffer_destroy(k->send);
	if (k->have_details)
		grpc_slice_unref(k->status_details);
	k->c->live--;
	free(k);
}

static void request(struct spok_connector *c, int method)
{
	struct call *k = xcalloc(1, sizeof(*k));
	grpc_call_error e;

	k->c = c;
	k->method = method;
	k->main.k = k;
	k->close.k = k;
	grpc_metadata_array_init(&k->md);
	c->live++;
	k->pending = 1;
	if (method < 0) {
		grpc_call_details_init(&k->details);
		e = grpc_server_request_call(c->server, &k->call, &k->details, &k->md, c->cq, c->cq,
					     &k->main);
	} else {
		e = grpc_server_request_registered_call(c->server, c->methods[method], &k->call,
							&k->deadline, &k->md, &k->payload, c->cq,
							c->cq, &k->main);
	}
	if (e != GRPC_CALL_OK) {
		log_error("grpc: cannot accept calls (%d)", (int)e);
		call_free(k);
	}
}

static char *auth_of(const grpc_metadata_array *md)
{
	for (size_t i = 0; i < md->count; i++) {
		const grpc_metadata *m = &md->metadata[i];
		size_t n = GRPC_SLICE_LENGTH(m->value);

		/* Too long is present but wrong (UNAUTHENTICATED), never "no token", which
		 * unauthenticated-as would answer with another token's rights. */
		if (grpc_slice_str_cmp(m->key, "authorization") == 0)
			return n <= AUTH_MAX ? xstrndup((const char *)GRPC_SLICE_START_PTR(m->value), n)
					     : xstrdup("");
	}
	return NULL;
}

static uint8_t *read_payload(grpc_byte_buffer *bb, size_t *len)
{
	grpc_byte_buffer_reader rd;
	grpc_slice all;
	uint8_t *out;

	*len = 0;
	if (bb == NULL || !grpc_byte_buffer_reader_init(&rd, bb))
		return xmalloc(1);
	all = grpc_byte_buffer_reader_readall(&rd);
	grpc_byte_buffer_reader_destroy(&rd);
	*len = GRPC_SLICE_LENGTH(all);
	out = xmalloc(*len + 1);
	if (*len)
		memcpy(out, GRPC_SLICE_START_PTR(all), *len);
	grpc_slice_unref(all);
	return out;
}

static void reply(struct call *k, struct conn_reply *r)
{
	grpc_op ops[4];
	size_t n = 0;
	grpc_call_error e;

	memset(ops, 0, sizeof(ops));
	ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
	if (r->status == CONN_OK) {
		grpc_slice s = grpc_slice_from_copied_buffer((const char *)r->data, r->len);

		k->send = grpc_raw_byte_buffer_create(&s, 1);
		grpc_slice_unref(s);
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = k->send;
	}
	k->status_details = grpc_slice_from_copied_string(r->details ? r->details : "");
	k->have_details = true;
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = (grpc_status_code)r->status;
	ops[n++].data.send_status_from_server.status_details = &k->status_details;
	ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[n++].data.recv_close_on_server.cancelled = &k->cancelled;
	k->st = CALL_REPLYING;
	e = grpc_call_start_batch(k->call, ops, n, &k->main, NULL);
	if (e != GRPC_CALL_OK)
		log_error("grpc: cannot answer a call (%d)", (int)e);
	else
		k->pending++;
}

/* ---- streams (GetTaskLogs) ---- */

static void set_status(struct call *k, grpc_op *op, const struct conn_reply *r)
{
	k->status_details = grpc_slice_from_copied_string(r->details ? r->details : "");
	k->have_details = true;
	op->op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	op->data.send_status_from_server.status = (grpc_status_code)r->status;
	op->data.send_status_from_server.status_details = &k->status_details;
}

/* Sends the stream's next message, or its status once none is left. */
static void stream_send(struct call *k)
{
	struct conn_reply r = {0};
	grpc_op ops[2];
	size_t n = 0;

	memset(ops, 0, sizeof(ops));
	if (!k->meta_sent) {
		ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
		k->meta_sent = true;
	}
	if (k->send) {
		grpc_byte_buffer_destroy(k->send);
		k->send = NULL;
	}
	if (conn_logs_next(k->stream, &r)) {
		grpc_slice s = grpc_slice_from_copied_buffer((const char *)r.data, r.len);

		k->send = grpc_raw_byte_buffer_create(&s, 1);
		grpc_slice_unref(s);
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = k->send;
	} else {
		set_status(k, &ops[n++], &r);
		k->ended = true;
		conn_logs_free(k->stream); /* the log is not needed any more */
		k->stream = NULL;
	}
	conn_reply_free(&r);
	if (grpc_call_start_batch(k->call, ops, n, &k->main, NULL) != GRPC_CALL_OK) {
		log_error("grpc: cannot send on a GetTaskLogs stream");
		k->ended = true;
		grpc_call_cancel(k->call, NULL);
		return;
	}
	k->sending = true;
	k->pending++;
}

/* The fetch has the log (or its error): from the loop, outside any event of this call. */
static void stream_ready(void *arg)
{
	struct call *k = arg;

	if (!k->sending && !k->ended)
		stream_send(k);
}

static void stream_start(struct call *k, const char *auth, const uint8_t *req, size_t len)
{
	struct conn_reply r = {0};
	grpc_op op;

	if (!conn_logs_start(&k->c->svc, auth, req, len, stream_ready, k, &k->stream, &r)) {
		reply(k, &r);
		conn_reply_free(&r);
		return;
	}
	k->st = CALL_STREAMING;
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	op.data.recv_close_on_server.cancelled = &k->cancelled;
	if (grpc_call_start_batch(k->call, &op, 1, &k->close, NULL) != GRPC_CALL_OK) {
		log_error("grpc: cannot watch a GetTaskLogs stream");
		k->ended = true;
		conn_logs_free(k->stream);
		k->stream = NULL;
		grpc_call_cancel(k->call, NULL);
		return;
	}
	k->pending++;
	if (conn_logs_ready(k->stream))
		stream_send(k);
}

/* A batch of a stream completed: the close watch (the call is over), or a send. */
static void stream_event(struct call *k, const struct tag *t, bool ok)
{
	if (t == &k->close) {
		/* Status sent, or the client cancelled, its deadline passed, or we stop. */
		k->ended = true;
		conn_logs_free(k->stream);
		k->stream = NULL;
		return;
	}
	k->sending = false;
	if (!ok || k->c->svc.stopping) {
		k->ended = true;
		grpc_call_cancel(k->call, NULL);
	} else if (!k->ended && k->stream && conn_logs_ready(k->stream)) {
		stream_send(k);
	}
}

static void deferred_unlink(struct call *k)
{
	*k->dprev = k->dnext;
	if (k->dnext)
		k->dnext->dprev = k->dprev;
	k->dnext = NULL;
	k->dprev = NULL;
	k->create = NULL;
	k->pending--;
}

/* A deferred CreateTask's answer (from the loop, after its commit). */
static void create_done(void *data, struct conn_reply *r)
{
	struct call *k = data;

	deferred_unlink(k);
	reply(k, r);
	if (k->pending == 0) /* the reply could not start */
		call_free(k);
}

/* CreateTask: answered now, or after the loop turn's group commit (the call is kept by one
 * more pending count until then). */
static bool create_start(struct call *k, const char *auth, const uint8_t *req, size_t len,
			 struct conn_reply *r)
{
	struct spok_connector *c = k->c;

	k->create = conn_create_start(&c->svc, auth, req, len, create_done, k, r);
	if (k->create == NULL)
		return false;
	k->pending++;
	k->dnext = c->deferred;
	if (k->dnext)
		k->dnext->dprev = &k->dnext;
	k->dprev = &c->deferred;
	c->deferred = k;
	return true;
}

static void handle(struct call *k)
{
	struct spok_connector *c = k->c;
	struct conn_reply r = {0};

	if (k->method < 0) {
		char *m = grpc_slice_to_c_string(k->details.method);

		r.status = CONN_UNIMPLEMENTED;
		r.details = xasprintf("%.200s is not implemented by spok (see docs/FLYTE.md)", m);
		gpr_free(m);
	} else {
		char *auth = auth_of(&k->md);
		size_t len;
		uint8_t *req = read_payload(k->payload, &len);

		bool later = false;

		if (k->method == CONN_LOGS)
			stream_start(k, auth, req, len);
		else if (k->method == CONN_CREATE)
			later = create_start(k, auth, req, len, &r);
		else
			conn_handle(&c->svc, (enum conn_method)k->method, auth, req, len, &r);
		free(req);
		free(auth);
		if (k->method == CONN_LOGS || later)
			return;
	}
	reply(k, &r);
	conn_reply_free(&r);
}

static void on_event(struct spok_connector *c, const struct event *ev)
{
	const struct tag *t = ev->tag;
	struct call *k = t->k;

	k->pending--;
	if (k->st == CALL_STREAMING) {
		stream_event(k, t, ev->ok);
	} else if (k->st == CALL_WAITING && ev->ok && !c->svc.stopping) {
		/* Accept the next call of this method before answering this one. */
		request(c, k->method);
		handle(k);
	}
	/* A reply went out (or failed), the stream is over, or the server is going away. */
	if (k->pending == 0)
		call_free(k);
}

static void drain(struct spok_connector *c)
{
	for (;;) {
		struct event ev;

		pthread_mutex_lock(&c->mu);
		if (c->qlen == 0) {
			pthread_mutex_unlock(&c->mu);
			return;
		}
		ev = c->q[0];
		memmove(c->q, c->q + 1, (c->qlen - 1) * sizeof(*c->q));
		c->qlen--;
		pthread_mutex_unlock(&c->mu);
		on_event(c, &ev);
	}
}

static void on_async(uv_async_t *a)
{
	drain(a->data);
}

/* ---- lifecycle ---- */

static grpc_server_credentials *credentials(const struct conn_config *cfg)
{
	grpc_ssl_pem_key_cert_pair pair;

	if (cfg->tls_cert == NULL)
		return grpc_insecure_server_credentials_create();
	pair.private_key = cfg->tls_key;
	pair.cert_chain = cfg->tls_cert;
	return grpc_ssl_server_credentials_create_ex(
		NULL, &pair, 1, GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE, NULL);
}

static int listen_on(struct spok_connector *c, int *port, struct spok_err *err)
{
	grpc_arg args[6];
	grpc_channel_args ca = {6, args};
	grpc_server_credentials *creds;
	/* Memory for connections and requests read before spok sees them (the core reads a
	 * payload before our authentication runs): bounded, as the HTTP side bounds its
	 * connections. */
	grpc_resource_quota *quota = grpc_resource_quota_create("spok-connector");

	grpc_resource_quota_resize(quota, CONN_MEMORY_QUOTA);
	memset(args, 0, sizeof(args));
	args[0].type = GRPC_ARG_INTEGER;
	args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
	args[0].value.integer = (int)c->cfg.max_message;
	args[1].type = GRPC_ARG_INTEGER;
	args[1].key = (char *)GRPC_ARG_MAX_CONCURRENT_STREAMS;
	args[1].value.integer = MAX_CONCURRENT_STREAMS;
	args[2].type = GRPC_ARG_INTEGER;
	args[2].key = (char *)GRPC_ARG_MAX_METADATA_SIZE;
	args[2].value.integer = 16 * 1024;
	args[3].type = GRPC_ARG_INTEGER;
	args[3].key = (char *)GRPC_ARG_MAX_CONNECTION_IDLE_MS;
	args[3].value.integer = CONN_IDLE_MS;
	args[4].type = GRPC_ARG_INTEGER;
	args[4].key = (char *)GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS;
	args[4].value.integer = CONN_HANDSHAKE_MS;
	args[5].type = GRPC_ARG_POINTER;
	args[5].key = (char *)GRPC_ARG_RESOURCE_QUOTA;
	args[5].value.pointer.p = quota;
	args[5].value.pointer.vtable = grpc_resource_quota_arg_vtable();
	c->server = grpc_server_create(&ca, NULL);
	grpc_resource_quota_unref(quota); /* the server holds its own reference */
	c->cq = grpc_completion_queue_create_for_next(NULL);
	grpc_server_register_completion_queue(c->server, c->cq, NULL);
	for (int m = 0; m < CONN_NMETHODS; m++)
		c->methods[m] = grpc_server_register_method(
			c->server, conn_method_paths[m], NULL,
			GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
	creds = credentials(&c->cfg);
	*port = grpc_server_add_http2_port(c->server, c->cfg.listen, creds);
	grpc_server_credentials_release(creds);
	if (*port <= 0)
		return spok_err_set(err, SPOK_EIO, "grpc: cannot listen on '%.100s' (address in use, "
				    "not HOST:PORT, or a bad TLS certificate/key); check --grpc and "
				    "spok.server.grpc", c->cfg.listen);
	grpc_server_start(c->server);
	return SPOK_OK;
}

int spok_connector_check(const struct spok_conn_opts *o, struct spok_err *err)
{
	struct conn_config cfg;
	int result = conn_config_build(o->platform, o->config_dir, o->listen, &cfg, err);

	if (result == SPOK_OK)
		conn_config_free(&cfg);
	return result;
}

static void on_closed(uv_handle_t *h)
{
	free(h->data);
}

static void destroy(struct spok_connector *c)
{
	if (c->server) {
		grpc_server_shutdown_and_notify(c->server, c->cq, &c->shutdown_tag);
		grpc_server_cancel_all_calls(c->server);
	}
	if (c->thread_started) {
		pthread_join(c->thread, NULL);
	} else if (c->cq) {
		grpc_completion_queue_shutdown(c->cq);
		while (grpc_completion_queue_next(c->cq, gpr_inf_future(GPR_CLOCK_REALTIME),
						  NULL).type != GRPC_QUEUE_SHUTDOWN)
			;
	}
	drain(c); /* frees every call: svc.stopping is set */
	if (c->server)
		grpc_server_destroy(c->server);
	if (c->cq)
		grpc_completion_queue_destroy(c->cq);
	if (c->live)
		log_error("grpc: %zu calls were not released", c->live);
	grpc_shutdown_blocking();
	free(c->q);
	pthread_mutex_destroy(&c->mu);
	conn_config_free(&c->cfg);
	uv_close((uv_handle_t *)&c->async, on_closed);
}

int spok_connector_start(struct srv_daemon *d, const struct spok_conn_opts *o,
			 struct spok_connector **out, struct spok_err *err)
{
	struct spok_connector *c = xcalloc(1, sizeof(*c));
	int port = 0, result;

	*out = NULL;
	if ((result = conn_config_build(o->platform, o->config_dir, o->listen, &c->cfg, err)) != 0) {
		free(c);
		return result;
	}
	if (c->cfg.unauthenticated_as && !conn_token_named(&d->cfg, c->cfg.unauthenticated_as)) {
		result = spok_err_set(err, SPOK_EINVAL, "spok.server.grpc.unauthenticated-as: no "
				      "token named '%.64s' in the tokens file", c->cfg.unauthenticated_as);
		conn_config_free(&c->cfg);
		free(c);
		return result;
	}
	c->svc.d = d;
	c->svc.cfg = &c->cfg;
	pthread_mutex_init(&c->mu, NULL);
	uv_async_init(&d->loop, &c->async, on_async);
	c->async.data = c;
	grpc_init();
	if ((result = listen_on(c, &port, err)) != SPOK_OK) {
		c->svc.stopping = true;
		destroy(c);
		return result;
	}
	for (int m = 0; m < CONN_NMETHODS; m++)
		for (int i = 0; i < SLOTS_PER_METHOD; i++)
			request(c, m);
	request(c, -1);
	if (pthread_create(&c->thread, NULL, cq_thread, c) != 0) {
		c->svc.stopping = true;
		destroy(c);
		return spok_err_set(err, SPOK_EIO, "grpc: cannot start the completion-queue thread");
	}
	c->thread_started = true;
	log_warn("serve: gRPC connector on %s, port %d (%s)", c->cfg.listen, port,
		 c->cfg.tls_cert ? "TLS" : "insecure, as configured");
	if (o->on_listening)
		o->on_listening(o->listening_data, c->cfg.listen, (unsigned)port);
	*out = c;
	return SPOK_OK;
}

void spok_connector_stop(struct spok_connector *c)
{
	struct call *k, *next;

	if (c == NULL)
		return;
	c->svc.stopping = true;
	/* The daemon commits before it stops the connector, so these have answered; any left
	 * go unanswered (the server cancels every call) and settle on their own. */
	k = c->deferred;
	c->deferred = NULL;
	for (; k != NULL; k = next) {
		next = k->dnext;
		conn_create_cancel(k->create);
		k->create = NULL;
		k->dnext = NULL;
		k->dprev = NULL;
		if (--k->pending == 0)
			call_free(k);
	}
	destroy(c);
}
