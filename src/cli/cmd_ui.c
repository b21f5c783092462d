/* cmd_ui.c - `spok ui ID`: the live Spark UI of a running cluster execution, without an
 * ingress, through the API server's service proxy.
 *
 * A local HTTP listener (libmicrohttpd in external-epoll mode on the libuv loop, as
 * src/server) takes GET/HEAD requests and forwards each to
 * /api/v1/namespaces/<ns>/services/<app>-ui-svc:<port>/proxy/<path> with the user's own
 * kubeconfig credentials (src/kube: kube_raw_get), streaming the answer back. The API server
 * rewrites links in proxied HTML and Location headers to carry that prefix; a request for
 * such a path is redirected to the path without it, so the browser stays on "/jobs/"
 * (Spark's own scripts take the word after "/proxy/" in the page's address for a YARN
 * application id), and Location headers lose the prefix here.
 *
 * Safety: the listener carries the user's cluster credentials. It binds 127.0.0.1 unless
 * --address names another local address, answers only Host headers that name the bound
 * address or loopback (DNS rebinding), forwards only GET and HEAD without a body, and only
 * below that one Service's proxy path (dot segments refused). Caps: UI_MAX_CONNECTIONS
 * connections, UI_REQ_TIMEOUT_MS per upstream transfer, UI_RESP_MAX bytes per answer,
 * UI_PENDING_MAX bytes buffered for a client that reads slower than the API server sends.
 *
 * An operator started with --enable-ui-service=false makes no Service: then the driver pod's
 * own proxy (/api/v1/namespaces/<ns>/pods/<driver>:<spark.ui.port>/proxy) is used instead.
 *
 * It ends on SIGINT/SIGTERM/SIGHUP (exit 0), and by itself once the SparkApplication has
 * finished or is gone (checked every UI_WATCH_MS).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/cli.h"

#include <microhttpd.h>

#include "backend/backend.h"
#include "common/buf.h"
#include "common/termesc.h"
#include "common/xalloc.h"
#include "engine/engine.h"
#include "kube/kubeconfig.h"
#include "kube/stream.h"
#include "local/local.h"
#include "phase/phase.h"
#include "sparkapp/sparkapp.h"
#include "store/store.h"

#define UI_MAX_CONNECTIONS 32u
#define UI_IDLE_TIMEOUT_S 60u
#define UI_REQ_TIMEOUT_MS 120000L
#define UI_RESP_MAX ((uint64_t)256 << 20)
#define UI_PENDING_MAX ((size_t)16 << 20)
#define UI_WATCH_MS 5000
#define UI_CHECK_TIMEOUT_MS 20000L
#define UI_QUERY_MAX 8192
#define UI_ACCEPT_MAX 512

static const struct kube_gvr SPARKAPPS = SPOK_SPARKAPP_GVR;
static const struct kube_gvr SERVICES = {"", "v1", "services"};
static const struct kube_gvr PODS = {"", "v1", "pods"};

struct ui_req;

struct ui {
	uv_loop_t loop;
	bool loop_ok;
	struct kube_client *client;
	struct MHD_Daemon *mhd;
	uv_poll_t poll;
	uv_timer_t timer, watch;
	uv_signal_t sig[3];
	bool sig_on[3], mhd_handles;
	int stop_sig;
	bool finished, watching;
	char end_why[160];
	const char *id, *ns, *app;
	/* Direct submission: the followed object is the driver pod (obj), not the
	 * SparkApplication (app); kind names it in messages. */
	bool direct;
	char *obj;
	const char *kind;
	const char *what, *where; /* "Spark UI Service"/"driver pod" and its name, for errors */
	char *prefix;
	char bind[INET6_ADDRSTRLEN];
	bool any_host;      /* bound to a wildcard: every IP literal is an acceptable Host */
	uint16_t port;
	struct ui_req *reqs;
	bool warned_watch;
};

enum rq_state { RQ_NEW, RQ_WAITING, RQ_HEAD, RQ_STREAMING };

struct ui_req {
	struct ui *u;
	struct MHD_Connection *conn;
	enum rq_state state;
	struct kube_stream *s;      /* NULL once done or cancelled */
	bool suspended, done, failed;
	unsigned status;
	struct MHD_Response *resp;  /* built at the head, queued on MHD's next call */
	struct spok_buf pending;    /* body bytes not yet taken by MHD */
	size_t off;
	struct ui_req *next, **pprev;
};

/* ---- libmicrohttpd on the loop (as src/server/http.c) ---- */

static void mhd_kick(struct ui *u);

static void on_mhd_timer(uv_timer_t *t)
{
	struct ui *u = t->data;

	if (u->mhd) {
		MHD_run(u->mhd);
		mhd_kick(u);
	}
}

static void on_mhd_poll(uv_poll_t *p, int status, int events)
{
	(void)status;
	(void)events;
	on_mhd_timer(&((struct ui *)p->data)->timer);
}

static void mhd_kick(struct ui *u)
{
	MHD_UNSIGNED_LONG_LONG ms = 0;

	if (MHD_get_timeout(u->mhd, &ms) == MHD_YES)
		uv_timer_start(&u->timer, on_mhd_timer, ms > 1000 ? 1000 : (uint64_t)ms, 0);
	else
		uv_timer_start(&u->timer, on_mhd_timer, 1000, 0);
}

static void rq_resume(struct ui_req *rq)
{
	if (!rq->suspended)
		return;
	rq->suspended = false;
	MHD_resume_connection(rq->conn);
	uv_timer_start(&rq->u->timer, on_mhd_timer, 0, 0);
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, const char *text,
				  const char *location, const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
								  MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ok;

	MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Cache-Control", location ? "private, max-age=300" : "no-store");
	if (location)
		MHD_add_response_header(r, "Location", location);
	if (allow)
		MHD_add_response_header(r, "Allow", allow);
	ok = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ok;
}

/* ---- one proxied request ---- */

/* MHD pulls the body: what has arrived, the end, or (nothing yet) a suspend until more. */
static ssize_t rq_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct ui_req *rq = cls;
	size_t left = rq->pending.len - rq->off;

	(void)pos;
	if (left > 0) {
		size_t n = left < max ? left : max;

		memcpy(buf, rq->pending.data + rq->off, n);
		rq->off += n;
		if (rq->off == rq->pending.len) {
			spok_buf_reset(&rq->pending);
			rq->off = 0;
		}
		return (ssize_t)n;
	}
	if (rq->done)
		return rq->failed ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
	rq->suspended = true;
	MHD_suspend_connection(rq->conn);
	return 0;
}

/* Response fields passed on; everything else (cookies, hop-by-hop, framing) stays behind. */
static const char *const PASS_HEADERS[] = {
	"Content-Type", "Content-Disposition", "Content-Encoding", "Cache-Control", "Expires",
	"Last-Modified", "ETag", "Vary", "X-Frame-Options", "X-Content-Type-Options",
	"X-XSS-Protection", "Content-Security-Policy", NULL,
};

static bool rq_head(void *data, const struct kube_raw_head *h)
{
	struct ui_req *rq = data;
	struct MHD_Response *r;
	const char *loc;

	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, rq_read, rq, NULL);
	for (size_t i = 0; i < h->n; i++)
		for (size_t k = 0; PASS_HEADERS[k]; k++)
			if (strcasecmp(h->names[i], PASS_HEADERS[k]) == 0)
				MHD_add_response_header(r, PASS_HEADERS[k], h->values[i]);
	if ((loc = kube_raw_header(h, "Location")) != NULL) {
		char *local = kube_service_proxy_location(rq->u->prefix, loc);

		if (local)
			MHD_add_response_header(r, "Location", local);
		free(local);
	}
	rq->resp = r;
	rq->status = h->status >= 100 && h->status <= 599 ? (unsigned)h->status : 502;
	rq->state = RQ_HEAD;
	rq_resume(rq);
	return true;
}

static bool rq_chunk(void *data, const char *p, size_t n)
{
	struct ui_req *rq = data;

	if (rq->off > 0) { /* what MHD took already goes: the cap counts unsent bytes only */
		memmove(rq->pending.data, rq->pending.data + rq->off, rq->pending.len - rq->off);
		rq->pending.len -= rq->off;
		rq->off = 0;
	}
	if (rq->pending.len + n > UI_PENDING_MAX ||
	    spok_buf_append(&rq->pending, p, n) != 0) {
		/* The browser reads far slower than the API server sends: give up on this one. */
		rq->failed = true;
		return false;
	}
	if (rq->state == RQ_STREAMING)
		rq_resume(rq);
	return true;
}

static void rq_done(void *data, const struct kube_stream_result *res)
{
	struct ui_req *rq = data;

	rq->s = NULL;
	rq->done = true;
	if (res->code != 0 || res->truncated)
		rq->failed = true;
	if (rq->state == RQ_WAITING) { /* no HTTP answer at all */
		char *text = xasprintf("spok ui: the API server did not answer: %s\n",
				       res->message[0] ? res->message : "no response");
		rq->resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
		MHD_add_response_header(rq->resp, "Content-Type", "text/plain; charset=utf-8");
		rq->status = res->code == SPOK_ETIMEOUT ? 504 : 502;
		rq->failed = false;
		rq->state = RQ_HEAD;
	}
	rq_resume(rq);
}

static void rq_cancel(struct ui_req *rq)
{
	kube_stream_cancel(rq->s);
	rq->s = NULL;
	rq->done = true;
	rq->failed = true;
}

/* ---- request checks ---- */

/* Host must name this listener (loopback, or the address given): a page of another site
 * that resolves its own name to 127.0.0.1 (DNS rebinding) is refused. */
static bool host_ok(const struct ui *u, const char *host)
{
	char h[INET6_ADDRSTRLEN + 2];
	unsigned char bin[sizeof(struct in6_addr)];
	size_t n;

	if (host == NULL)
		return false;
	if (host[0] == '[') {
		n = strcspn(host + 1, "]");
		if (host[1 + n] != ']' || n >= sizeof(h))
			return false;
		memcpy(h, host + 1, n);
	} else {
		n = strcspn(host, ":");
		if (n >= sizeof(h))
			return false;
		memcpy(h, host, n);
	}
	h[n] = '\0';
	if (strcasecmp(h, "localhost") == 0 || strcmp(h, "::1") == 0 || strcmp(h, u->bind) == 0 ||
	    (inet_pton(AF_INET, h, bin) == 1 && bin[0] == 127))
		return true;
	return u->any_host && (inet_pton(AF_INET, h, bin) == 1 || inet_pton(AF_INET6, h, bin) == 1);
}

struct qbuild {
	struct spok_buf b;
	bool over;
};

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *value)
{
	struct qbuild *q = cls;
	char *k = kube_escape(key), *v = value ? kube_escape(value) : NULL;

	(void)kind;
	if ((q->b.len && spok_buf_appends(&q->b, "&") != 0) || spok_buf_appends(&q->b, k) != 0 ||
	    (v && spok_buf_printf(&q->b, "=%s", v) != 0))
		q->over = true;
	free(k);
	free(v);
	return q->over ? MHD_NO : MHD_YES;
}

static bool accept_ok(const char *a)
{
	if (a == NULL || strlen(a) > UI_ACCEPT_MAX)
		return false;
	for (; *a; a++)
		if ((unsigned char)*a < 0x20 || (unsigned char)*a >= 0x7f)
			return false;
	return true;
}

/* The query of the local request, escaped again (libmicrohttpd hands it over decoded). */
static char *local_query(struct MHD_Connection *conn, bool *over)
{
	struct qbuild q = {.over = false};

	spok_buf_init(&q.b, UI_QUERY_MAX);
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_arg, &q);
	*over = q.over;
	return spok_buf_detach(&q.b);
}

static enum MHD_Result rq_start(struct ui *u, struct ui_req *rq, const char *url, const char *method)
{
	struct MHD_Connection *conn = rq->conn;
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
	const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding");
	const char *accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept");
	struct kube_raw_opts o = {0};
	struct spok_err err = {0};
	char *upstream = NULL, *redirect = NULL, *query, *msg;
	enum MHD_Result ok;
	bool over = false;

	if (!host_ok(u, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host")))
		return reply_text(conn, 403, "spok ui: the Host header must name this listener "
				  "(127.0.0.1, localhost or the --address given)\n", NULL, NULL);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply_text(conn, 405, "spok ui: only GET and HEAD reach the Spark UI\n", NULL,
				  "GET, HEAD");
	if (te || (cl && strcmp(cl, "0") != 0))
		return reply_text(conn, 413, "spok ui: requests with a body are not forwarded\n", NULL,
				  NULL);
	query = local_query(conn, &over);
	if (over) {
		free(query);
		return reply_text(conn, 414, "spok ui: query too long\n", NULL, NULL);
	}
	if (kube_service_proxy_map(u->prefix, url, &upstream, &redirect, &err) != 0) {
		msg = xasprintf("spok ui: %s\n", err.msg);
		ok = reply_text(conn, 400, msg, NULL, NULL);
		free(msg);
		free(query);
		return ok;
	}
	if (redirect) { /* a link the API server rewrote: back onto the short path */
		char *loc = query[0] ? xasprintf("%s?%s", redirect, query) : xstrdup(redirect);

		ok = reply_text(conn, 302, "", loc, NULL);
		free(loc);
		free(redirect);
		free(query);
		return ok;
	}
	o.method = method;
	o.path = upstream;
	o.query = query[0] ? query : NULL;
	o.accept = accept_ok(accept) ? accept : NULL;
	o.cap = UI_RESP_MAX;
	o.timeout_ms = UI_REQ_TIMEOUT_MS;
	if (kube_raw_get(u->client, &o, rq_head, rq_chunk, rq_done, rq, &rq->s, &err) != 0) {
		msg = xasprintf("spok ui: %s\n", err.msg);
		ok = reply_text(conn, 502, msg, NULL, NULL);
		free(msg);
	} else {
		rq->state = RQ_WAITING;
		rq->suspended = true;
		MHD_suspend_connection(conn);
		ok = MHD_YES;
	}
	free(upstream);
	free(query);
	return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct ui *u = cls;
	struct ui_req *rq = *con_cls;
	enum MHD_Result ok;

	(void)version;
	(void)upload;
	if (rq == NULL) {
		rq = xcalloc(1, sizeof(*rq));
		rq->u = u;
		rq->conn = conn;
		spok_buf_init(&rq->pending, UI_PENDING_MAX);
		rq->next = u->reqs;
		if (rq->next)
			rq->next->pprev = &rq->next;
		rq->pprev = &u->reqs;
		u->reqs = rq;
		*con_cls = rq;
		return MHD_YES;
	}
	if (*upload_size) { /* a body: refused below once it is read (or the connection drops) */
		*upload_size = 0;
		return MHD_YES;
	}
	switch (rq->state) {
	case RQ_NEW:
		return rq_start(u, rq, url, method);
	case RQ_HEAD:
		rq->state = RQ_STREAMING;
		ok = MHD_queue_response(conn, rq->status, rq->resp);
		MHD_destroy_response(rq->resp);
		rq->resp = NULL;
		return ok;
	default:
		return MHD_YES; /* a spurious call while waiting */
	}
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct ui_req *rq = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (rq == NULL)
		return;
	rq_cancel(rq);
	if (rq->resp)
		MHD_destroy_response(rq->resp);
	spok_buf_free(&rq->pending);
	*rq->pprev = rq->next;
	if (rq->next)
		rq->next->pprev = rq->pprev;
	free(rq);
	*con_cls = NULL;
}

__attribute__((format(printf, 2, 0)))
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	(void)fmt;
	(void)ap; /* connection-level noise (a client that left); nothing the user must act on */
}

/* ---- the listener ---- */

static int parse_address(struct ui *u, const char *addr, struct sockaddr_storage *ss,
			 socklen_t *len, bool *loopback, struct spok_err *err)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (strcmp(addr, "localhost") == 0)
		addr = "127.0.0.1";
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		*len = sizeof(*s4);
		*loopback = ((const unsigned char *)&s4->sin_addr)[0] == 127;
		u->any_host = s4->sin_addr.s_addr == htonl(INADDR_ANY);
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		*len = sizeof(*s6);
		*loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
		u->any_host = IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
	} else {
		return spok_err_set(err, SPOK_EINVAL, "--address: '%.64s' is not an IP address of this "
				    "machine (e.g. 127.0.0.1, ::1)", addr);
	}
	snprintf(u->bind, sizeof(u->bind), "%s", addr);
	return 0;
}

static int listen_start(struct ui *u, const char *addr, uint16_t port, struct spok_err *err)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	bool loopback = false;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	int result = parse_address(u, addr, &ss, &len, &loopback, err);

	if (result != 0)
		return result;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	((struct sockaddr_in *)&ss)->sin_port = htons(port); /* same offset in sockaddr_in6 */
	u->mhd = MHD_start_daemon(flags, port, NULL, NULL, on_request, u,
				  MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, u,
				  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, u,
				  MHD_OPTION_CONNECTION_TIMEOUT, UI_IDLE_TIMEOUT_S,
				  MHD_OPTION_CONNECTION_LIMIT, UI_MAX_CONNECTIONS,
				  MHD_OPTION_END);
	if (u->mhd == NULL)
		return spok_err_set(err, SPOK_EIO, "--address %s --port %u: cannot listen there (port in "
				    "use, or not an address of this machine); choose another", addr,
				    (unsigned)port);
	if (!loopback)
		fprintf(stderr, "spok: warning: listening on %s, beyond loopback: whoever reaches it "
			"sees this Spark UI through your cluster credentials\n", addr);
	info = MHD_get_daemon_info(u->mhd, MHD_DAEMON_INFO_BIND_PORT);
	u->port = info ? info->port : port;
	info = MHD_get_daemon_info(u->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	uv_timer_init(&u->loop, &u->timer);
	u->timer.data = u;
	uv_poll_init(&u->loop, &u->poll, info ? info->epoll_fd : -1);
	u->poll.data = u;
	uv_poll_start(&u->poll, UV_READABLE, on_mhd_poll);
	u->mhd_handles = true;
	mhd_kick(u);
	return 0;
}

/* Every request still waiting is ended (its stream cancelled, the connection resumed), so
 * MHD may stop: stopping with suspended connections leaks them. */
static void listen_stop(struct ui *u)
{
	if (u->mhd == NULL)
		return;
	for (struct ui_req *rq = u->reqs; rq; rq = rq->next) {
		rq_cancel(rq);
		rq_resume(rq);
	}
	MHD_run(u->mhd);
	MHD_stop_daemon(u->mhd);
	u->mhd = NULL;
	if (u->mhd_handles) {
		uv_close((uv_handle_t *)&u->timer, NULL);
		uv_poll_stop(&u->poll);
		uv_close((uv_handle_t *)&u->poll, NULL);
		u->mhd_handles = false;
	}
}

/* ---- the SparkApplication: its UI Service, and the end of the run ---- */

/* The operator's state of the SparkApplication, or (direct) what the driver pod's phase
 * stands for (phase.h: Pending -> PENDING, Running -> RUNNING, Succeeded -> COMPLETED, ...). */
static const char *obj_state(const struct ui *u, const json_t *obj)
{
	const char *s;

	if (u->direct)
		return spok_executor_pod_state(obj);
	s = json_string_value(json_object_get(
		json_object_get(json_object_get(obj, "status"), "applicationState"), "state"));
	return s ? s : "";
}

static bool state_over(const char *s)
{
	static const char *const over[] = {"COMPLETED", "FAILED", "SUBMISSION_FAILED", "SUCCEEDING",
					   "FAILING", "PENDING_RERUN", NULL};

	for (size_t i = 0; over[i]; i++)
		if (strcmp(s, over[i]) == 0)
			return true;
	return false;
}

static bool app_is_ours(const json_t *app, const char *id)
{
	const char *label = json_string_value(json_object_get(
		json_object_get(json_object_get(app, "metadata"), "labels"), SPOK_LABEL_EXECUTION));

	return label && strcmp(label, id) == 0;
}

static void on_watch_get(void *data, const struct kube_resp *r)
{
	struct ui *u = data;
	const char *st;

	u->watching = false;
	if (u->stop_sig || u->finished)
		return; /* shutting down: the client was closed under this read */
	if (r->code == SPOK_ENOTFOUND || (r->code == 0 && !app_is_ours(r->body, u->id))) {
		snprintf(u->end_why, sizeof(u->end_why), "its %s %s/%s is gone", u->kind, u->ns, u->obj);
		u->finished = true;
	} else if (r->code == 0 && state_over(st = obj_state(u, r->body))) {
		snprintf(u->end_why, sizeof(u->end_why), "its %s is %s", u->kind, st);
		u->finished = true;
	} else if (r->code != 0 && !u->warned_watch) {
		u->warned_watch = true; /* the UI may still answer: keep serving */
		fprintf(stderr, "spok: cannot read the %s (still serving): %s\n", u->kind, r->message);
	}
}

static void on_watch_timer(uv_timer_t *t)
{
	struct ui *u = t->data;

	if (u->watching || u->finished)
		return;
	if (kube_get(u->client, u->direct ? &PODS : &SPARKAPPS, u->ns, u->obj, on_watch_get, u,
		     NULL) == 0)
		u->watching = true;
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct ui *u = h->data;

	if (!u->stop_sig)
		u->stop_sig = signum;
}

static void signals(struct ui *u, bool start)
{
	static const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};

	for (size_t i = 0; i < 3; i++) {
		struct sigaction old;

		/* a signal ignored by whoever started spok (nohup) stays ignored */
		if (start && sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN) {
			uv_signal_init(&u->loop, &u->sig[i]);
			u->sig[i].data = u;
			u->sig_on[i] = true;
			uv_signal_start(&u->sig[i], on_signal, sigs[i]);
		} else if (!start && u->sig_on[i]) {
			uv_close((uv_handle_t *)&u->sig[i], NULL);
			u->sig_on[i] = false;
		}
	}
}

/* ---- checks before listening: one clear line for each way the UI cannot be reached ---- */

static int get_sync(struct ui *u, const struct kube_gvr *gvr, const char *name, struct kube_sync *s,
		    struct spok_err *err)
{
	int result = kube_get(u->client, gvr, u->ns, name, kube_sync_cb, s, err);

	return result == 0 ? kube_sync_wait(u->client, s, err) : result;
}

/* Where the UI is reached: the operator's UI Service, or (an operator started with
 * --enable-ui-service=false makes none) the driver pod itself. Owned strings. */
struct target {
	bool pod;
	char *name;      /* Service or pod name */
	long port;
	char *pod_name;  /* the driver pod, for the fallback */
	long pod_port;   /* spark.ui.port, else 4040 */
};

static void target_free(struct target *t)
{
	free(t->name);
	free(t->pod_name);
}

/* Direct submission: the driver pod must be this execution's and running; the UI is its
 * headless Service's spark-ui port (spok named both), else the pod's. */
static int find_direct_target(struct ui *u, const struct spok_execution *x, struct target *t,
			      struct spok_err *err)
{
	struct kube_sync s = {0};
	struct spok_backend_ui ui;
	const char *st;
	int result = get_sync(u, &PODS, u->obj, &s, err);

	if (result == SPOK_ENOTFOUND)
		result = spok_err_set(err, SPOK_ENOTFOUND, "execution %s: its driver pod %s/%s is not on "
				      "cluster %s (finished and deleted?); 'spok status %s'", x->id, u->ns,
				      u->obj, x->backend, x->id);
	if (result != 0)
		goto out;
	if (!app_is_ours(s.body, x->id)) {
		result = spok_err_set(err, SPOK_ENOTFOUND, "execution %s: driver pod %s/%s belongs to "
				      "another execution now; this one has finished", x->id, u->ns, u->obj);
		goto out;
	}
	st = obj_state(u, s.body);
	if (state_over(st)) {
		result = spok_err_set(err, SPOK_ENOTFOUND, "execution %s: the driver pod is %s: its Spark "
				      "UI stopped with the driver ('spok history' shows finished runs)",
				      x->id, st);
		goto out;
	}
	if (strcmp(st, "RUNNING") != 0) {
		result = spok_err_set(err, SPOK_ENOTFOUND, "execution %s: the Spark UI is not up yet: the "
				      "driver pod is %s (the UI comes with the driver); retry shortly",
				      x->id, st);
		goto out;
	}
	result = spok_backend_ui_of_pod(s.body, u->app, &ui, err); /* the one rule (backend.h) */
	if (result != 0)
		goto out;
	t->name = ui.service; /* taken over */
	t->port = ui.service_port;
	t->pod = false;
	t->pod_name = ui.pod;
	t->pod_port = ui.pod_port;
out:
	kube_sync_free(&s);
	return result;
}

/* Reads the SparkApplication: it must be this execution's and RUNNING (the UI comes with the
 * driver). Its status names the UI Service and port when the operator made one. */
static int find_target(struct ui *u, const struct spok_execution *x, struct target *t,
		       struct spok_err *err)
{
	struct kube_sync s = {0};
	struct spok_backend_ui ui;
	const char *st;
	int result;

	if (u->direct)
		return find_direct_target(u, x, t, err);
	result = get_sync(u, &SPARKAPPS, u->app, &s, err);
	if (result == SPOK_ENOTFOUND)
		result = spok_err_set(err, SPOK_ENOTFOUND, "execution %s: its SparkApplication %s/%s is not "
				      "on cluster %s (finished and deleted?); 'spok status %s'", x->id,
				      u->ns, u->app, x->backend, x->id);
	if (result != 0)
		goto out;
	if (!app_is_ours(s.body, x->id)) {
		result = spok_err_set(err, SPOK_ENOTFOUND, "execution %s: SparkApplication %s/%s belongs to "
				      "another execution now; this one has finished", x->id, u->ns, u->app);
		goto out;
	}
	st = obj_state(u, s.body);
	if (state_over(st)) {
		result = spok_err_set(err, SPOK_ENOTFOUND, "execution %s: SparkApplication is %s: its Spark UI "
				      "stopped with the driver ('spok history' shows finished runs)", x->id, st);
		goto out;
	}
	if (strcmp(st, "RUNNING") != 0) {
		result = spok_err_set(err, SPOK_ENOTFOUND, "execution %s: the Spark UI is not up yet: the "
				      "SparkApplication is %s (the UI comes with the driver, at RUNNING); "
				      "retry shortly", x->id, st[0] ? st : "not yet submitted");
		goto out;
	}
	result = spok_backend_ui_of(s.body, u->app, &ui, err); /* the one rule (backend.h) */
	if (result != 0)
		goto out;
	t->name = ui.service; /* taken over */
	t->port = ui.service_port;
	t->pod = !ui.service_named; /* decided by check_target: the Service may still exist */
	t->pod_name = ui.pod;
	t->pod_port = ui.pod_port;
out:
	kube_sync_free(&s);
	return result;
}

/* The Service named in the status must exist; with none named, an existing <app>-ui-svc is
 * used, else the driver pod (said on stderr). Then the proxy prefix. */
static int check_target(struct ui *u, struct target *t, bool via_pod, struct spok_err *err)
{
	struct kube_sync s = {0};
	bool named = !t->pod;
	int result = via_pod ? 0 : get_sync(u, &SERVICES, t->name, &s, err);

	if (via_pod) {
		t->pod = true;
		fprintf(stderr, "spok: through the driver pod %s/%s (--pod)\n", u->ns, t->pod_name);
	} else if (result == SPOK_ENOTFOUND && named)
		result = spok_err_set(err, SPOK_ENOTFOUND, "the Spark UI Service %s/%s does not exist: the "
				      "Spark operator creates it unless started with "
				      "--enable-ui-service=false", u->ns, t->name);
	else if (result == SPOK_ENOTFOUND) {
		result = 0;
		fprintf(stderr, "spok: no Spark UI Service (the operator runs with --enable-ui-service=false): "
			"through the driver pod %s/%s\n", u->ns, t->pod_name);
	} else if (result == 0 && !via_pod) {
		t->pod = false;
		if (t->port <= 0) /* no port in the status: the Service's first one */
			t->port = (long)json_integer_value(json_object_get(json_array_get(
				json_object_get(json_object_get(s.body, "spec"), "ports"), 0), "port"));
	}
	kube_sync_free(&s);
	if (result != 0)
		return result;
	u->what = t->pod ? "driver pod" : "Spark UI Service";
	u->where = t->pod ? t->pod_name : t->name;
	u->prefix = t->pod ? kube_pod_proxy_prefix(u->ns, t->pod_name, t->pod_port)
			   : kube_service_proxy_prefix(u->ns, t->name, t->port);
	if (u->prefix == NULL)
		return spok_err_set(err, SPOK_EAPI, "Service %s/%s: no valid UI port (got %ld)", u->ns, t->name,
				    t->port);
	return 0;
}

struct probe {
	bool done;
	long status;
	bool status_json;
	struct spok_buf body;
	struct kube_stream_result res;
	char msg[SPOK_ERR_MSG_MAX];
};

static bool probe_head(void *data, const struct kube_raw_head *h)
{
	struct probe *p = data;
	const char *ct = kube_raw_header(h, "Content-Type");

	p->status = h->status;
	p->status_json = ct && strncasecmp(ct, "application/json", 16) == 0;
	return h->status >= 400; /* Spark answered (a page or a redirect): enough */
}

static bool probe_chunk(void *data, const char *b, size_t n)
{
	struct probe *p = data;

	return spok_buf_append(&p->body, b, n) == 0;
}

static void probe_done(void *data, const struct kube_stream_result *r)
{
	struct probe *p = data;

	p->done = true;
	p->res = *r;
	snprintf(p->msg, sizeof(p->msg), "%s", r->message);
}

/* One GET of the UI's root through the proxy: an error of the API server itself (a Status
 * object: no endpoints, forbidden, ...) is reported here, before anything listens. */
static int probe_ui(struct ui *u, struct spok_err *err)
{
	struct probe p = {0};
	struct kube_raw_opts o = {.method = "GET", .accept = "text/html", .cap = 64 * 1024,
				  .timeout_ms = UI_CHECK_TIMEOUT_MS};
	char *path = xasprintf("%s/", u->prefix);
	const char *why = NULL;
	json_t *st = NULL;
	int result;

	spok_buf_init(&p.body, 64 * 1024);
	o.path = path;
	result = kube_raw_get(u->client, &o, probe_head, probe_chunk, probe_done, &p, NULL, err);
	while (result == 0 && !p.done)
		uv_run(&u->loop, UV_RUN_ONCE);
	if (result != 0)
		goto out;
	if (p.res.code != 0) {
		result = spok_err_set(err, p.res.code, "the Spark UI through the API server: %s", p.msg);
		goto out;
	}
	if (p.status < 400)
		goto out;
	if (p.status_json && p.body.len)
		st = json_loadb(p.body.data, p.body.len, 0, NULL);
	if (json_is_object(st) && json_is_string(json_object_get(st, "message")) &&
	    strcmp(json_string_value(json_object_get(st, "kind")) ? json_string_value(json_object_get(st, "kind")) : "", "Status") == 0)
		why = json_string_value(json_object_get(st, "message"));
	if (why == NULL)
		goto out; /* Spark's own error page: still the UI */
	char *safe = spok_term_line(why);
	if (p.status == 403 || p.status == 401)
		result = spok_err_set(err, SPOK_EFORBIDDEN, "the %s %s/%s: your credentials may not use its "
				      "proxy subresource (HTTP %ld: %.300s)", u->what, u->ns, u->where, p.status, safe);
	else if (p.status == 503 || p.status == 404)
		result = spok_err_set(err, SPOK_EUNAVAIL, "the %s %s/%s does not answer yet (is the driver "
				      "running? 'spok status %s'): HTTP %ld: %.300s", u->what, u->ns, u->where,
				      u->id, p.status, safe);
	else
		result = spok_err_set(err, SPOK_EAPI, "the %s %s/%s through the API server: HTTP %ld: "
				      "%.300s", u->what, u->ns, u->where, p.status, safe);
	free(safe);
out:
	json_decref(st);
	spok_buf_free(&p.body);
	free(path);
	return result;
}

/* ---- the command ---- */

static int local_ui(const struct spok_execution *x, struct spok_err *err)
{
	char *url;

	if (spok_phase_terminal(x->phase))
		return spok_err_set(err, SPOK_ENOTFOUND, "execution %s ran locally and has finished (%s): its "
				    "Spark UI stopped with it ('spok history' shows finished runs)", x->id,
				    spok_phase_name(x->phase));
	if (!spok_local_supervisor_alive(x))
		return spok_err_set(err, SPOK_ENOTFOUND, "execution %s ran locally and the spok process "
				    "supervising it is gone, its Spark UI with it ('spok status %s' records "
				    "the end)", x->id, x->id);
	if (x->ui_url == NULL)
		return spok_err_set(err, SPOK_ENOTFOUND, "execution %s runs locally but its Spark UI is not "
				    "up yet (phase %s); retry shortly", x->id, spok_phase_name(x->phase));
	url = spok_term_line(x->ui_url);
	printf("Spark UI of %s: %s\n", x->id, url);
	fprintf(stderr, "spok: execution %s runs locally: its UI listens there already, no proxy needed\n",
		x->id);
	free(url);
	return 0;
}

static int cluster_client(struct ui *u, const struct spok_cli *cli, const char *cluster,
			  struct spok_err *err)
{
	struct kube_config cfg = {0};
	struct kube_client_opts ko = {.max_retries = 2, .backoff_ms = 200, .timeout_ms = UI_CHECK_TIMEOUT_MS};
	int result;

	if (strcmp(cluster, "in-cluster") == 0)
		result = kube_config_in_cluster(&cfg, NULL, err);
	else
		result = kube_config_load(&cfg, cli->kubeconfig, cluster, err);
	if (result == 0)
		result = kube_client_new(&u->loop, &cfg, &ko, &u->client, err);
	kube_config_free(&cfg);
	return result;
}

static int serve(struct ui *u, const char *addr, uint16_t port, struct spok_err *err)
{
	int result = listen_start(u, addr, port, err);
	bool v6 = strchr(u->bind, ':') != NULL;

	if (result != 0)
		return result;
	printf("Spark UI of %s: http://%s%s%s:%u/\n", u->id, v6 ? "[" : "", u->bind, v6 ? "]" : "",
	       (unsigned)u->port);
	fflush(stdout);
	signals(u, true);
	uv_timer_init(&u->loop, &u->watch);
	u->watch.data = u;
	uv_timer_start(&u->watch, on_watch_timer, UI_WATCH_MS, UI_WATCH_MS);
	while (!u->stop_sig && !u->finished)
		uv_run(&u->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&u->watch, NULL);
	signals(u, false);
	listen_stop(u);
	if (u->finished)
		fprintf(stderr, "spok: execution %s has finished (%s): its Spark UI is gone; stopped\n",
			u->id, u->end_why);
	else
		fprintf(stderr, "spok: SIG%s: stopped serving the Spark UI of %s\n", sigabbrev_np(u->stop_sig),
			u->id);
	return 0;
}

static int ui_cluster(struct spok_cli *cli, const struct spok_execution *x, const char *addr,
		      uint16_t port, bool via_pod, struct spok_err *err)
{
	struct ui u;
	struct target t = {0};
	int result;

	memset(&u, 0, sizeof(u));
	u.id = x->id;
	u.ns = x->namespace_;
	u.app = x->resource_name;
	u.direct = spok_execution_direct(x);
	u.kind = u.direct ? "driver pod" : "SparkApplication";
	if (spok_phase_terminal(x->phase))
		return spok_err_set(err, SPOK_ENOTFOUND, "execution %s has finished (%s): its Spark UI stopped "
				    "with the driver ('spok history' shows finished runs)", x->id,
				    spok_phase_name(x->phase));
	if (u.ns == NULL || u.app == NULL)
		return spok_err_set(err, SPOK_ENOTFOUND, "execution %s: no %s yet (phase %s): the "
				    "Spark UI comes with the driver; retry shortly", x->id, u.kind,
				    spok_phase_name(x->phase));
	if (!kube_dns_label(u.ns) || !kube_dns_label(u.app))
		return spok_err_set(err, SPOK_EINVAL, "execution %s: the recorded namespace or "
				    "SparkApplication name is not a DNS label; the store was altered", x->id);
	u.obj = u.direct ? xasprintf("%s-driver", u.app) : xstrdup(u.app);
	uv_loop_init(&u.loop);
	u.loop_ok = true;
	result = cluster_client(&u, cli, x->backend, err);
	if (result == 0)
		result = find_target(&u, x, &t, err);
	if (result == 0)
		result = check_target(&u, &t, via_pod, err);
	if (result == 0)
		result = probe_ui(&u, err);
	if (result == 0)
		result = serve(&u, addr, port, err);
	listen_stop(&u);
	kube_client_close(u.client);
	uv_run(&u.loop, UV_RUN_DEFAULT);
	uv_loop_close(&u.loop);
	free(u.prefix);
	free(u.obj);
	target_free(&t);
	return result;
}

static const char ui_synopsis[] = "spok ui ID [--port N] [--address 127.0.0.1] [--pod]";

int cmd_ui(struct spok_cli *cli, int argc, char **argv)
{
	const char *port_s = NULL, *addr = "127.0.0.1";
	bool via_pod = false;
	struct spok_flag flags[] = {
		{"port", 'p', &port_s, NULL, NULL, "local port (default 0: a free one)"},
		{"address", 0, &addr, NULL, NULL,
		 "local address to listen on (default 127.0.0.1; another one exposes the UI "
		 "with your cluster credentials)"},
		{"pod", 0, NULL, &via_pod, NULL,
		 "through the driver pod's proxy (pods/proxy), not the operator's UI Service"},
		{0},
	};
	struct spok_strv pos = {0};
	struct spok_store *st = NULL;
	struct spok_execution x = {0};
	struct spok_err err = {0};
	char *data_dir = NULL;
	long long port = 0;
	int result = spok_cli_parse(cli, argc, argv, flags, &pos, &err);

	if (result == 0 && cli->help) {
		spok_cli_usage(ui_synopsis, flags);
		spok_strv_free(&pos);
		return 0;
	}
	if (result == 0 && pos.len != 1)
		result = spok_err_set(&err, SPOK_EINVAL, "expected exactly one execution ID; usage: %s",
				      ui_synopsis);
	if (result == 0 && port_s)
		result = spok_cli_int("port", port_s, 0, 65535, &port, &err);
	if (result == 0)
		result = spok_data_dir(cli->data_dir, &data_dir, &err);
	if (result == 0)
		result = spok_store_open_reader(data_dir, &st, &err);
	if (result == 0)
		result = spok_store_get(st, pos.items[0], &x, &err);
	spok_store_close(st);
	if (result == 0 && !spok_backend_for(x.backend)->cluster)
		result = local_ui(&x, &err);
	else if (result == 0)
		result = ui_cluster(cli, &x, addr, (uint16_t)port, via_pod, &err);
	spok_execution_free(&x);
	free(data_dir);
	spok_strv_free(&pos);
	return result == 0 ? 0 : spok_cli_fail(&err);
}

