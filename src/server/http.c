/* http.c - libmicrohttpd in external-epoll mode on the libuv loop.
 *
 * MHD exposes one epoll fd; a uv_poll on it calls MHD_run when connections have events,
 * and a uv_timer follows MHD_get_timeout so idle connections time out. Every handler is
 * synchronous (store reads, engine calls that only queue work), so requests are answered
 * within the MHD_run that completes their upload and no suspend/resume is needed.
 */
#include "server/daemon.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"

struct srv_req {
	struct spok_buf body;
	bool too_large;
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
	size_t len = r->body ? strlen(r->body) : 0;
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
		srv_api_handle(d, conn, method, url, &rq->body, &r);
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
	d->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_ITC, 0, NULL, NULL,
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
	uv_timer_stop(&d->mhd_timer);
	uv_close((uv_handle_t *)&d->mhd_timer, NULL);
	uv_poll_stop(&d->mhd_poll);
	uv_close((uv_handle_t *)&d->mhd_poll, NULL);
	MHD_stop_daemon(d->mhd);
	d->mhd = NULL;
}
