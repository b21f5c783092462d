/* http.c - libmicrohttpd in external-epoll mode on the libuv loop.
 *
 * MHD exposes one epoll fd; a uv_poll on it calls MHD_run when connections have events,
 * and a uv_timer follows MHD_get_timeout so idle connections time out. Most handlers are
 * synchronous (store reads, engine calls that only queue work) and answer within the
 * MHD_run that completes their upload. The few that wait on the network (cluster driver
 * logs) suspend their connection (MHD_suspend_connection) and resume it from the loop;
 * MHD must then run again, which the timer does at once.
 *
 * A suspended connection is invisible to MHD: it neither times out nor notices the client
 * leaving. So each one gets its own uv_poll on the socket for UV_DISCONNECT (the peer's
 * FIN or RST): the work is cancelled and the connection resumed only to be closed.
 *
 * Slow clients (docs/SERVER.md, "Limits"): MHD caps connections in total and per client
 * address, and closes connections idle for idle-timeout. A client trickling a byte at a
 * time is never idle, so every connection also has a deadline: its request line and headers
 * within header-timeout of opening (or of the previous answer on a kept-alive connection),
 * its body within body-timeout of the headers. A sweep shuts such a socket down (MHD then
 * sees EOF and closes it). The optional health listener is a second MHD daemon with its
 * own small connection budget serving only /healthz, so probes answer while the API's
 * slots are full.
 */
#include "server/daemon.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"

enum req_state { REQ_ACTIVE = 0, REQ_SUSPENDED, REQ_ANSWERED, REQ_GONE };

struct srv_conn {
	struct srv_listener *l;
	MHD_socket fd;
	int64_t deadline_ms;        /* 0: none (the request is read: answering or suspended) */
	struct srv_conn *next, **pprev;
};

#define SWEEP_MS 500

struct srv_req {
	struct srv_daemon *d;
	struct srv_listener *l;
	struct MHD_Connection *conn;
	struct spok_buf body;
	bool too_large;
	enum req_state state;
	/* While suspended: the work to cancel, the disconnect watch, the suspended list. */
	srv_cancel_cb cancel;
	void *work;
	uv_poll_t *watch;           /* heap; freed by its close callback; NULL: none */
	struct srv_req *next, **pprev;
	struct srv_reply reply;     /* the answer delivered by srv_http_resume */
};

static void mhd_kick(struct srv_listener *l);

static void on_timer(uv_timer_t *t)
{
	struct srv_listener *l = t->data;

	if (l->mhd) {
		MHD_run(l->mhd);
		mhd_kick(l);
	}
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct srv_listener *l = p->data;

	(void)status;
	(void)events;
	if (l->mhd) {
		MHD_run(l->mhd);
		mhd_kick(l);
	}
}

/* Re-arms the timer from MHD's next deadline (0 when it has buffered work). */
static void mhd_kick(struct srv_listener *l)
{
	MHD_UNSIGNED_LONG_LONG ms = 0;

	if (MHD_get_timeout(l->mhd, &ms) == MHD_YES)
		uv_timer_start(&l->timer, on_timer, ms > 60000 ? 60000 : (uint64_t)ms, 0);
	else
		uv_timer_start(&l->timer, on_timer, 1000, 0);
}

/* ---- connection deadlines ---- */

static struct srv_conn *conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static void conn_deadline(struct MHD_Connection *conn, unsigned seconds)
{
	struct srv_conn *sc = conn_of(conn);

	if (sc)
		sc->deadline_ms = seconds ? spok_now_ms() + (int64_t)seconds * 1000 : 0;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct srv_listener *l = cls;
	struct srv_daemon *d = l->d;
	struct srv_conn *sc = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		sc = xcalloc(1, sizeof(*sc));
		sc->l = l;
		sc->fd = ci ? ci->connect_fd : MHD_INVALID_SOCKET;
		sc->deadline_ms = spok_now_ms() + (int64_t)l->header_timeout_s * 1000;
		sc->next = d->conns;
		if (sc->next)
			sc->next->pprev = &sc->next;
		sc->pprev = &d->conns;
		d->conns = sc;
		*socket_context = sc;
	} else if (sc != NULL) {
		*sc->pprev = sc->next;
		if (sc->next)
			sc->next->pprev = sc->pprev;
		free(sc);
		*socket_context = NULL;
	}
}

static void on_sweep(uv_timer_t *t)
{
	struct srv_daemon *d = t->data;
	int64_t now = spok_now_ms();

	for (struct srv_conn *sc = d->conns; sc; sc = sc->next) {
		if (sc->deadline_ms == 0 || now < sc->deadline_ms || sc->fd == MHD_INVALID_SOCKET)
			continue;
		/* Not close(): the socket stays MHD's; it reads EOF and closes it itself. */
		shutdown(sc->fd, SHUT_RDWR);
		sc->deadline_ms = 0;
		d->m.conn_deadline_closed++;
		uv_timer_start(&sc->l->timer, on_timer, 0, 0);
	}
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, struct srv_daemon *d,
				  struct srv_reply *r)
{
	struct MHD_Response *resp;
	size_t len = r->body ? (r->len ? r->len : strlen(r->body)) : 0;
	enum MHD_Result ok;

	resp = MHD_create_response_from_buffer(len, r->body ? r->body : (char *)"",
					       r->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	r->body = NULL;
	MHD_add_response_header(resp, "Content-Type",
				r->content_type ? r->content_type : "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (r->www_authenticate)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"spok\"");
	if (r->allow)
		MHD_add_response_header(resp, "Allow", r->allow);
	if (r->retry_after_s > 0) {
		char ra[16];

		snprintf(ra, sizeof(ra), "%u", r->retry_after_s);
		MHD_add_response_header(resp, "Retry-After", ra);
	}
	if (d->stopping || r->close)
		MHD_add_response_header(resp, "Connection", "close");
	if (r->status < 600)
		d->m.http_by_code[r->status]++;
	ok = MHD_queue_response(conn, r->status, resp);
	MHD_destroy_response(resp);
	return ok;
}

/* ---- suspended requests ---- */

static void watch_closed(uv_handle_t *h)
{
	free(h);
}

/* Forgets the suspended state: no watch, off the list, no work. */
static void req_detach(struct srv_req *rq)
{
	if (rq->watch) {
		uv_close((uv_handle_t *)rq->watch, watch_closed);
		rq->watch = NULL;
	}
	*rq->pprev = rq->next;
	if (rq->next)
		rq->next->pprev = rq->pprev;
	rq->next = NULL;
	rq->pprev = NULL;
	rq->cancel = NULL;
	rq->work = NULL;
}

/* Leaves the suspended state; MHD resumes the connection and the timer runs MHD on the
 * next loop turn (MHD_resume_connection only marks it). */
static void req_wake(struct srv_req *rq, enum req_state to)
{
	req_detach(rq);
	rq->state = to;
	MHD_resume_connection(rq->conn);
	uv_timer_start(&rq->l->timer, on_timer, 0, 0);
}

/* Stops the work first: once cancel returns nothing of it can touch rq. */
static void req_cancel(struct srv_req *rq, enum req_state to)
{
	rq->cancel(rq->work);
	req_wake(rq, to);
}

/* The client closed (or reset) its socket while its answer was being fetched. */
static void on_client_gone(uv_poll_t *p, int status, int events)
{
	struct srv_req *rq = p->data;

	(void)status;
	(void)events;
	if (rq->state != REQ_SUSPENDED)
		return;
	log_info("http: client left while its answer was pending");
	req_cancel(rq, REQ_GONE);
}

static void watch_start(struct srv_req *rq)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	uv_poll_t *w;

	if (ci == NULL)
		return;
	w = xcalloc(1, sizeof(*w));
	/* Fails only if the loop already watches this fd; then the work's own timeout bounds
	 * the wait instead. */
	if (uv_poll_init_socket(&rq->d->loop, w, ci->connect_fd) != 0) {
		free(w);
		return;
	}
	w->data = rq;
	uv_poll_start(w, UV_DISCONNECT, on_client_gone);
	rq->watch = w;
}

void srv_http_suspend(struct srv_req *rq, srv_cancel_cb cancel, void *work)
{
	struct srv_daemon *d = rq->d;

	rq->state = REQ_SUSPENDED;
	rq->cancel = cancel;
	rq->work = work;
	rq->next = d->suspended;
	if (rq->next)
		rq->next->pprev = &rq->next;
	rq->pprev = &d->suspended;
	d->suspended = rq;
	MHD_suspend_connection(rq->conn);
	watch_start(rq);
}

void srv_http_resume(struct srv_req *rq, struct srv_reply *r)
{
	rq->reply = *r;
	r->body = NULL;
	req_wake(rq, REQ_ANSWERED);
}

void srv_http_cancel_all(struct srv_daemon *d)
{
	while (d->suspended) {
		struct srv_req *rq = d->suspended;

		srv_reply_error(&rq->reply, 503, "unavailable", "the server is shutting down; "
				"retry the request");
		req_cancel(rq, REQ_ANSWERED);
	}
}

/* ---- requests ---- */

/* Called again by MHD after a resume: deliver the answer, or drop a client that left. */
static enum MHD_Result on_resumed(struct srv_req *rq)
{
	if (rq->state == REQ_GONE)
		return MHD_NO;
	if (rq->state != REQ_ANSWERED) /* a spurious call while still suspended */
		return MHD_YES;
	rq->state = REQ_ACTIVE;
	return send_reply(rq->conn, rq->d, &rq->reply);
}

struct framing {
	unsigned content_length, transfer_encoding;
	bool bad_length, bad_encoding;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
				     const char *value)
{
	struct framing *f = cls;

	(void)kind;
	if (strcasecmp(key, "Content-Length") == 0) {
		f->content_length++;
		f->bad_length = f->bad_length || value == NULL || value[0] == '\0' ||
				strspn(value, "0123456789") != strlen(value);
	} else if (strcasecmp(key, "Transfer-Encoding") == 0) {
		f->transfer_encoding++;
		f->bad_encoding = f->bad_encoding || value == NULL || strcasecmp(value, "chunked") != 0;
	}
	return MHD_YES;
}

/* Request smuggling needs two parties reading one stream's framing differently: refuse
 * every framing a proxy in front could read otherwise than libmicrohttpd (which takes the
 * first Content-Length and lets chunked win). RFC 9112 6.3 calls these errors. */
static bool framing_ok(struct srv_daemon *d, struct MHD_Connection *conn, struct srv_reply *r)
{
	struct framing f = {0};
	const char *why = NULL;

	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_framing, &f);
	if (f.content_length && f.transfer_encoding)
		why = "both Content-Length and Transfer-Encoding; send one";
	else if (f.content_length > 1)
		why = "more than one Content-Length; send one";
	else if (f.bad_length)
		why = "Content-Length is not a decimal number";
	else if (f.transfer_encoding > 1 || f.bad_encoding)
		why = "Transfer-Encoding other than one 'chunked'; send chunked or a Content-Length";
	if (why == NULL)
		return true;
	d->m.framing_refused++;
	r->close = true;
	srv_reply_error(r, 400, "invalid", "request framing: %s", why);
	return false;
}

/* The health listener: GET/HEAD /healthz, nothing else, no body read. */
static enum MHD_Result on_health(struct srv_listener *l, struct MHD_Connection *conn,
				 const char *url, const char *method, size_t *upload_size)
{
	struct srv_reply r = {0};

	if (*upload_size) {
		*upload_size = 0;
		r.close = true;
		srv_reply_error(&r, 413, "too_large", "the health listener reads no bodies");
	} else if (strcmp(url, "/healthz") != 0) {
		srv_reply_error(&r, 404, "not_found", "the health listener serves only /healthz");
	} else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		r.allow = "GET";
		srv_reply_error(&r, 405, "method_not_allowed", "use GET");
	} else {
		srv_api_healthz(l->d, &r);
	}
	return send_reply(conn, l->d, &r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct srv_listener *l = cls;
	struct srv_daemon *d = l->d;
	struct srv_req *rq = *con_cls;
	struct srv_reply r = {0};

	(void)version;
	if (rq == NULL) {
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     "Content-Length");

		rq = xcalloc(1, sizeof(*rq));
		rq->d = d;
		rq->l = l;
		rq->conn = conn;
		spok_buf_init(&rq->body, d->cfg.max_body);
		*con_cls = rq;
		/* The headers are in; the body has body-timeout. */
		conn_deadline(conn, d->cfg.body_timeout_s);
		if (!framing_ok(d, conn, &r))
			return send_reply(conn, d, &r);
		if (l->health)
			return MHD_YES;
		/* Refuse a declared oversized body before reading it (and before 100-continue). */
		if (cl && strtoull(cl, NULL, 10) > d->cfg.max_body) {
			srv_reply_error(&r, 413, "too_large",
					"request body: %s bytes is over the limit of %zu; send a smaller "
					"body or raise spok.server.max-body", cl, d->cfg.max_body);
			r.close = true;
			return send_reply(conn, d, &r);
		}
		return MHD_YES;
	}
	if (rq->state != REQ_ACTIVE)
		return on_resumed(rq);
	if (l->health) {
		conn_deadline(conn, 0);
		return on_health(l, conn, url, method, upload_size);
	}
	if (*upload_size) {
		if (!rq->too_large && spok_buf_append(&rq->body, upload, *upload_size) != 0)
			rq->too_large = true;
		*upload_size = 0;
		return MHD_YES;
	}
	conn_deadline(conn, 0); /* read in full: no deadline while it is answered */
	if (rq->too_large)
		srv_reply_error(&r, 413, "too_large",
				"request body: over the limit of %zu bytes; send a smaller body or "
				"raise spok.server.max-body", d->cfg.max_body);
	else
		srv_api_handle(d, rq, conn, method, url, &rq->body, &r);
	if (rq->state == REQ_SUSPENDED)
		return MHD_YES;
	return send_reply(conn, d, &r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct srv_listener *l = cls;
	struct srv_req *rq = *con_cls;

	(void)toe;
	/* A kept-alive connection: the next request's headers get header-timeout. */
	conn_deadline(conn, l->header_timeout_s);
	if (rq) {
		/* MHD never completes a suspended connection (all are resumed before it stops),
		 * but be sure no work can call back into a freed request. */
		if (rq->state == REQ_SUSPENDED) {
			srv_cancel_cb cancel = rq->cancel;
			void *work = rq->work;

			req_detach(rq);
			cancel(work);
		}
		free(rq->reply.body);
		spok_buf_free(&rq->body);
		free(rq);
		*con_cls = NULL;
	}
}

__attribute__((format(printf, 2, 0)))
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_info("http: %s", line);
}

static int listener_start(struct srv_daemon *d, struct srv_listener *l, const char *host,
			  uint16_t port, bool health, struct spok_err *err)
{
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *info;
	unsigned limit = health ? SRV_HEALTH_MAX_CONNECTIONS : d->cfg.max_connections;
	unsigned per_ip = health ? SRV_HEALTH_MAX_PER_IP : d->cfg.max_per_ip;
	unsigned idle = health ? SRV_HEALTH_TIMEOUT_S : d->cfg.idle_timeout_s;
	int fd;

	l->d = d;
	l->health = health;
	l->header_timeout_s = health ? SRV_HEALTH_TIMEOUT_S : d->cfg.header_timeout_s;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	inet_pton(AF_INET, host, &sa.sin_addr);
	l->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME,
				  0, NULL, NULL,
				  on_request, l,
				  /* first, so that MHD's messages about later options reach it */
				  MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, d,
				  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				  MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, l,
				  MHD_OPTION_NOTIFY_CONNECTION, on_connection, l,
				  MHD_OPTION_CONNECTION_TIMEOUT, idle,
				  MHD_OPTION_CONNECTION_LIMIT, limit,
				  MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
				  MHD_OPTION_END);
	if (l->mhd == NULL)
		return spok_err_set(err, SPOK_EIO,
				    "listen %s:%u: cannot start the HTTP server (address in use or not "
				    "local?); choose another %s", host, (unsigned)port,
				    health ? "--health-listen" : "--listen");
	info = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_BIND_PORT);
	l->port = info ? info->port : port;
	info = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	fd = info ? info->epoll_fd : -1;
	uv_timer_init(&d->loop, &l->timer);
	l->timer.data = l;
	uv_poll_init(&d->loop, &l->poll, fd);
	l->poll.data = l;
	uv_poll_start(&l->poll, UV_READABLE, on_poll);
	mhd_kick(l);
	return SPOK_OK;
}

int srv_http_start(struct srv_daemon *d, struct spok_err *err)
{
	int result;

	uv_timer_init(&d->loop, &d->sweep);
	d->sweep.data = d;
	d->sweep_open = true;
	uv_timer_start(&d->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
	result = listener_start(d, &d->api, d->cfg.listen_host, d->cfg.listen_port, false, err);
	if (result == SPOK_OK && d->cfg.health_host)
		result = listener_start(d, &d->health, d->cfg.health_host, d->cfg.health_port, true,
					err);
	return result;
}

void srv_http_quiesce(struct srv_daemon *d)
{
	MHD_socket s;

	/* Only the API: the health listener keeps answering (503 "draining"). */
	if (d->api.mhd == NULL)
		return;
	s = MHD_quiesce_daemon(d->api.mhd);
	if (s != MHD_INVALID_SOCKET)
		close(s);
}

unsigned srv_http_connections(struct srv_daemon *d)
{
	const union MHD_DaemonInfo *info;

	if (d->api.mhd == NULL)
		return 0;
	info = MHD_get_daemon_info(d->api.mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	return info ? info->num_connections : 0;
}

static void listener_stop(struct srv_listener *l)
{
	if (l->mhd == NULL)
		return;
	uv_timer_stop(&l->timer);
	uv_close((uv_handle_t *)&l->timer, NULL);
	uv_poll_stop(&l->poll);
	uv_close((uv_handle_t *)&l->poll, NULL);
	MHD_stop_daemon(l->mhd);
	l->mhd = NULL;
}

void srv_http_stop(struct srv_daemon *d)
{
	/* MHD_stop_daemon with suspended connections is an API violation (leaks sockets):
	 * resume them and let MHD hand out their answers first. */
	if (d->api.mhd && d->suspended) {
		srv_http_cancel_all(d);
		MHD_run(d->api.mhd);
	}
	listener_stop(&d->api);
	listener_stop(&d->health);
	if (d->sweep_open) {
		uv_timer_stop(&d->sweep);
		uv_close((uv_handle_t *)&d->sweep, NULL);
		d->sweep_open = false;
	}
}
