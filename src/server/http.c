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
 */
#include "server/daemon.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"

enum req_state { REQ_ACTIVE = 0, REQ_SUSPENDED, REQ_ANSWERED, REQ_GONE };

struct srv_req {
	struct srv_daemon *d;
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

static void mhd_kick(struct srv_daemon *d);

static void on_timer(uv_timer_t *t)
{
	struct srv_daemon *d = t->data;

	if (d->mhd) {
		MHD_run(d->mhd);
		mhd_kick(d);
	}
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct srv_daemon *d = p->data;

	(void)status;
	(void)events;
	if (d->mhd) {
		MHD_run(d->mhd);
		mhd_kick(d);
	}
}

/* Re-arms the timer from MHD's next deadline (0 when it has buffered work). */
static void mhd_kick(struct srv_daemon *d)
{
	MHD_UNSIGNED_LONG_LONG ms = 0;

	if (MHD_get_timeout(d->mhd, &ms) == MHD_YES)
		uv_timer_start(&d->mhd_timer, on_timer, ms > 60000 ? 60000 : (uint64_t)ms, 0);
	else
		uv_timer_start(&d->mhd_timer, on_timer, 1000, 0);
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
	if (d->stopping)
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
	uv_timer_start(&rq->d->mhd_timer, on_timer, 0, 0);
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
	log_info("http: client left while its answer was being fetched; cancelled");
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

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct srv_daemon *d = cls;
	struct srv_req *rq = *con_cls;
	struct srv_reply r = {0};

	(void)version;
	if (rq == NULL) {
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     "Content-Length");

		rq = xcalloc(1, sizeof(*rq));
		rq->d = d;
		rq->conn = conn;
		spok_buf_init(&rq->body, d->cfg.max_body);
		*con_cls = rq;
		/* Refuse a declared oversized body before reading it (and before 100-continue). */
		if (cl && strtoull(cl, NULL, 10) > d->cfg.max_body) {
			srv_reply_error(&r, 413, "too_large",
					"request body: %s bytes is over the limit of %zu; send a smaller "
					"body or raise spok.server.max-body", cl, d->cfg.max_body);
			return send_reply(conn, d, &r);
		}
		return MHD_YES;
	}
	if (rq->state != REQ_ACTIVE)
		return on_resumed(rq);
	if (*upload_size) {
		if (!rq->too_large && spok_buf_append(&rq->body, upload, *upload_size) != 0)
			rq->too_large = true;
		*upload_size = 0;
		return MHD_YES;
	}
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
	struct srv_req *rq = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
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

int srv_http_start(struct srv_daemon *d, struct spok_err *err)
{
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *info;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(d->cfg.listen_port);
	inet_pton(AF_INET, d->cfg.listen_host, &sa.sin_addr);
	d->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME,
				  0, NULL, NULL,
				  on_request, d,
				  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				  MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, d,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)512,
				  MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, d,
				  MHD_OPTION_END);
	if (d->mhd == NULL)
		return spok_err_set(err, SPOK_EIO,
				    "listen %s:%u: cannot start the HTTP server (address in use or not "
				    "local?); choose another --listen", d->cfg.listen_host,
				    (unsigned)d->cfg.listen_port);
	info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_BIND_PORT);
	d->port = info ? info->port : d->cfg.listen_port;
	info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	fd = info ? info->epoll_fd : -1;
	uv_timer_init(&d->loop, &d->mhd_timer);
	d->mhd_timer.data = d;
	uv_poll_init(&d->loop, &d->mhd_poll, fd);
	d->mhd_poll.data = d;
	uv_poll_start(&d->mhd_poll, UV_READABLE, on_poll);
	mhd_kick(d);
	return SPOK_OK;
}

void srv_http_quiesce(struct srv_daemon *d)
{
	MHD_socket s;

	if (d->mhd == NULL)
		return;
	s = MHD_quiesce_daemon(d->mhd);
	if (s != MHD_INVALID_SOCKET)
		close(s);
}

unsigned srv_http_connections(struct srv_daemon *d)
{
	const union MHD_DaemonInfo *info;

	if (d->mhd == NULL)
		return 0;
	info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	return info ? info->num_connections : 0;
}

void srv_http_stop(struct srv_daemon *d)
{
	if (d->mhd == NULL)
		return;
	/* MHD_stop_daemon with suspended connections is an API violation (leaks sockets):
	 * resume them and let MHD hand out their answers first. */
	if (d->suspended) {
		srv_http_cancel_all(d);
		MHD_run(d->mhd);
	}
	uv_timer_stop(&d->mhd_timer);
	uv_close((uv_handle_t *)&d->mhd_timer, NULL);
	uv_poll_stop(&d->mhd_poll);
	uv_close((uv_handle_t *)&d->mhd_poll, NULL);
	MHD_stop_daemon(d->mhd);
	d->mhd = NULL;
}
