/* logs.c - AsyncAgentService/GetTaskLogs: the execution's driver log, got the way the HTTP
 * API gets it (srv_log_get: a local run's file, or the driver pod's log from its cluster),
 * streamed back as one header message and bounded body messages (internal.h). */
#include "connector/internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "flyteidl/admin/agent.pb-c.h"
#include "flyteidl/internal.h"
#include "server/daemon.h"

/* GetTaskLogsRequest.task_type and GetTaskLogsResponseBody.results are deprecated in
 * flyteidl, but results is what clients before structured_lines read. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */

struct conn_stream {
	struct conn_service *s;
	struct srv_log_fetch *fetch; /* in flight, or NULL */
	void (*ready)(void *arg);
	void *arg;
	bool have;                   /* the log, or its error, is here */
	bool header_sent;
	int status;                  /* the final status */
	char *details;
	char *log;                   /* the log (heap), len bytes */
	size_t len, off;
};

/* ---- the request ---- */

int conn_logs_parse(const uint8_t *req, size_t len, struct conn_logs_req *out,
		    struct spok_err *err)
{
	Flyteidl__Admin__GetTaskLogsRequest *g;
	int result = SPOK_OK;

	memset(out, 0, sizeof(*out));
	g = (Flyteidl__Admin__GetTaskLogsRequest *)spok_pb_unpack(
		&flyteidl__admin__get_task_logs_request__descriptor, req, len, "request",
		"GetTaskLogsRequest", err);
	if (g == NULL)
		return SPOK_EINVAL;
	if (!conn_meta_ok(g->resource_meta.data, g->resource_meta.len))
		result = spok_err_set(err, SPOK_EINVAL, "resource_meta: not a spok execution id; "
				      "pass the resource_meta CreateTask returned");
	else if (g->token[0] != '\0')
		/* Every answer is one page (its header's token is empty): no token is valid. */
		result = spok_err_set(err, SPOK_EINVAL, "token: spok answers the whole log in one "
				      "stream and never gives a page token; send an empty token");
	if (result == SPOK_OK) {
		memcpy(out->id, g->resource_meta.data, g->resource_meta.len);
		out->tail = g->lines == 0 ? SRV_LOG_TAIL_DEFAULT
			: g->lines > SRV_LOG_TAIL_MAX ? SRV_LOG_TAIL_MAX : (unsigned long)g->lines;
	}
	protobuf_c_message_free_unpacked(&g->base, NULL);
	return result;
}

/* ---- body messages ---- */

/* A heap copy of p[0, n) that is valid UTF-8 without NUL: anything else becomes U+FFFD. */
static char *clean(const char *p, size_t n)
{
	struct spok_buf b;
	size_t i = 0, run = 0;

	spok_buf_init(&b, 0);
	while (i < n) {
		uint32_t cp = 0;
		size_t k = spok_utf8_decode(p + i, n - i, &cp);

		if (k == 0 || cp == 0) {
			spok_buf_append(&b, p + run, i - run);
			spok_buf_append(&b, REPLACEMENT, 3);
			run = ++i;
		} else {
			i += k;
		}
	}
	spok_buf_append(&b, p + run, n - run);
	return spok_buf_detach(&b);
}

/* Where to cut a line longer than room: not inside a character when one ends near. */
static size_t cut(const char *p, size_t room)
{
	size_t k = room;

	while (k > 0 && room - k < 3 && ((unsigned char)p[k] & 0xc0) == 0x80)
		k--;
	return k > 0 ? k : room;
}

struct body {
	char *results[CONN_LOGS_MSG_LINES];
	Flyteidl__Admin__LogLine lines[CONN_LOGS_MSG_LINES];
	Flyteidl__Admin__LogLine *ptrs[CONN_LOGS_MSG_LINES];
	size_t n;
};

/* Adds the line (or the piece of one) at p: results without its terminator, the structured
 * line with it ("\n" or "\r\n", as LogLine.message wants). */
static void add_line(struct body *b, const char *p, size_t n, size_t term)
{
	Flyteidl__Admin__LogLine init = FLYTEIDL__ADMIN__LOG_LINE__INIT;
	size_t bare = n;

	if (term && bare > 0 && p[bare - 1] == '\r')
		bare--;
	b->results[b->n] = clean(p, bare);
	b->lines[b->n] = init;
	b->lines[b->n].message = clean(p, n + term);
	b->ptrs[b->n] = &b->lines[b->n];
	b->n++;
}

static void pack_body(struct body *b, struct conn_reply *r)
{
	Flyteidl__Admin__GetTaskLogsResponse resp = FLYTEIDL__ADMIN__GET_TASK_LOGS_RESPONSE__INIT;
	Flyteidl__Admin__GetTaskLogsResponseBody body =
		FLYTEIDL__ADMIN__GET_TASK_LOGS_RESPONSE_BODY__INIT;

	body.n_results = b->n;
	body.results = b->results;
	body.n_structured_lines = b->n;
	body.structured_lines = b->ptrs;
	resp.part_case = FLYTEIDL__ADMIN__GET_TASK_LOGS_RESPONSE__PART_BODY;
	resp.body = &body;
	conn_reply_free(r);
	r->len = protobuf_c_message_get_packed_size(&resp.base);
	r->data = xmalloc(r->len ? r->len : 1);
	protobuf_c_message_pack(&resp.base, r->data);
	r->status = 0;
	for (size_t i = 0; i < b->n; i++) {
		free(b->results[i]);
		free(b->lines[i].message);
	}
}

bool conn_logs_body(const char *log, size_t len, size_t *off, struct conn_reply *r)
{
	struct body *b;
	size_t o = *off, bytes = 0;

	if (o >= len)
		return false;
	b = xcalloc(1, sizeof(*b));
	while (o < len && b->n < CONN_LOGS_MSG_LINES && bytes < CONN_LOGS_MSG_BYTES) {
		const char *p = log + o, *nl = memchr(p, '\n', len - o);
		size_t n = nl ? (size_t)(nl - p) : len - o, room = CONN_LOGS_MSG_BYTES - bytes;

		if (n > room && b->n > 0)
			break; /* it starts the next message */
		if (n > room) {
			n = cut(p, room);
			add_line(b, p, n, 0);
			o += n;
		} else {
			add_line(b, p, n, nl ? 1 : 0);
			o += n + (nl ? 1 : 0);
		}
		bytes += n;
	}
	pack_body(b, r);
	free(b);
	*off = o;
	return true;
}

/* ---- the stream ---- */

static int status_of_fetch(const struct srv_log_result *res)
{
	if (res->code == SPOK_ENOTFOUND)
		return CONN_NOT_FOUND;
	if (res->code == SPOK_ETIMEOUT)
		return CONN_DEADLINE_EXCEEDED;
	/* The API server refused the request as it stands (e.g. the driver container is still
	 * waiting to start): the caller may retry once the pod is running. */
	if (res->http_status == 400)
		return CONN_FAILED_PRECONDITION;
	return CONN_UNAVAILABLE;
}

static void on_log(void *data, const struct srv_log_result *res)
{
	struct conn_stream *st = data;

	st->fetch = NULL;
	st->have = true;
	if (res->code != 0) {
		st->status = status_of_fetch(res);
		st->details = xstrdup(res->message);
	} else {
		st->len = res->log->len;
		st->log = spok_buf_detach(res->log);
	}
	st->ready(st->arg);
}

static void start_fetch(struct conn_stream *st, const struct spok_execution *x,
			unsigned long tail, struct conn_reply *r)
{
	struct srv_log_opts o = {tail, SRV_LOG_LIMIT_MAX, on_log, st};
	struct spok_err err = {0};

	if (srv_log_get(st->s->d, x, &o, &st->fetch, &err) != SPOK_OK)
		conn_fail(r, err.code == SPOK_ENOTFOUND ? CONN_NOT_FOUND : CONN_UNAVAILABLE, "%s",
			  err.msg);
}

bool conn_logs_start(struct conn_service *s, const char *auth, const uint8_t *req,
		     size_t len, void (*ready)(void *arg), void *arg, struct conn_stream **out,
		     struct conn_reply *r)
{
	const struct srv_token *tok;
	struct conn_logs_req q;
	struct spok_execution x = {0};
	struct spok_err err = {0};
	struct conn_stream *st;

	memset(r, 0, sizeof(*r));
	*out = NULL;
	if ((tok = conn_authenticate(s, auth, r)) == NULL)
		return false;
	if (conn_logs_parse(req, len, &q, &err) != SPOK_OK) {
		conn_fail(r, CONN_INVALID_ARGUMENT, "%s", err.msg);
		return false;
	}
	if (!conn_load_exec(s, tok, (const uint8_t *)q.id, strlen(q.id), &x, r))
		return false;
	if (s->stopping) {
		conn_fail(r, CONN_UNAVAILABLE, "the server is shutting down; retry");
	} else if (s->log_streams >= CONN_LOGS_MAX_STREAMS) {
		conn_fail(r, CONN_RESOURCE_EXHAUSTED, "%d GetTaskLogs streams are running, the "
			  "most spok serves at once; retry when one has finished",
			  CONN_LOGS_MAX_STREAMS);
	} else {
		st = xcalloc(1, sizeof(*st));
		st->s = s;
		st->ready = ready;
		st->arg = arg;
		s->log_streams++;
		start_fetch(st, &x, q.tail, r);
		if (r->status != CONN_OK) {
			conn_logs_free(st);
		} else {
			*out = st;
		}
	}
	spok_execution_free(&x);
	return *out != NULL;
}

bool conn_logs_ready(const struct conn_stream *st)
{
	return st->have;
}

bool conn_logs_next(struct conn_stream *st, struct conn_reply *r)
{
	Flyteidl__Admin__GetTaskLogsResponse resp = FLYTEIDL__ADMIN__GET_TASK_LOGS_RESPONSE__INIT;
	Flyteidl__Admin__GetTaskLogsResponseHeader h =
		FLYTEIDL__ADMIN__GET_TASK_LOGS_RESPONSE_HEADER__INIT;

	conn_reply_free(r);
	if (st->status != CONN_OK) {
		r->status = st->status;
		r->details = xstrdup(st->details ? st->details : "");
		return false;
	}
	if (!st->header_sent) {
		st->header_sent = true;
		resp.part_case = FLYTEIDL__ADMIN__GET_TASK_LOGS_RESPONSE__PART_HEADER;
		resp.header = &h; /* token empty: the whole log is this one stream */
		r->len = protobuf_c_message_get_packed_size(&resp.base);
		r->data = xmalloc(r->len ? r->len : 1);
		protobuf_c_message_pack(&resp.base, r->data);
		return true;
	}
	if (conn_logs_body(st->log, st->len, &st->off, r))
		return true;
	r->status = CONN_OK;
	return false;
}

void conn_logs_free(struct conn_stream *st)
{
	if (st == NULL)
		return;
	srv_log_cancel(st->fetch);
	st->s->log_streams--;
	free(st->details);
	free(st->log);
	free(st);
}
