/* client.c - Kubernetes REST calls over libcurl multi driven by libuv.
 *
 * Shape: curl tells us which sockets to poll (sock_cb) and when to call it back
 * (timer_cb); uv_poll/uv_timer call curl_multi_socket_action, and after each of those
 * drain_done() collects finished transfers. Each logical call owns a uv_timer that
 * starts every attempt (after the rate limiter or a backoff), so user callbacks never
 * run inside curl callbacks and curl is never re-entered.
 */
#include "kube/client.h"

#include <curl/curl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "kube/exec.h"
#include "kube/internal.h"
#include "kube/skim.h"

#define KUBE_BODY_MAX ((size_t)256 << 20)
#define TOKEN_REREAD_MS 60000

enum call_state { CALL_WAITING, CALL_RUNNING, CALL_DONE };

/* An exec plugin's credential. Refcounted: an easy handle keeps using the one it was set
 * up with (curl reads the certificate blobs without copying them) while a newer one
 * replaces it in the client. */
struct exec_cred {
	int refs;
	unsigned gen;
	struct kube_exec_cred cred;
	struct curl_blob cert, key;
};

struct kube_call {
	struct kube_client *c;
	struct kube_call *prev, *next;
	uv_timer_t timer;
	enum call_state state;
	bool cancelled, reserved, token_retried, retry_ok, aborted;
	bool admitted;   /* passed the rate limiter; waiting for or holding a slot */
	bool parked;     /* in the client's FIFO of calls waiting for a slot */
	bool counted;    /* holds one of the client's in-flight slots */
	struct kube_call *park_next; /* FIFO of calls waiting for a slot */
	struct exec_cred *cred; /* the exec credential of the running attempt, or NULL */
	unsigned cred_gen;      /* which exec credential the last attempt used */
	bool cred_fresh;        /* retry after a 401: use the client's credential as it is */
	bool auth_ok;           /* a credential is there for the next attempt */
	bool auth_parked;       /* in the client's list of calls waiting for the plugin */
	struct kube_call *auth_next;
	int attempt;
	char *method, *path, *url, *content_type, *body;
	size_t body_len;
	long timeout_ms;
	CURL *easy;
	struct curl_slist *headers;
	struct spok_buf resp;
	long status;     /* known once the first body byte arrives */
	long retry_after; /* seconds, -1 if none */
	char curl_err[CURL_ERROR_SIZE];
	kube__data_cb on_data;
	kube__header_cb on_hdr;
	bool raw;        /* bodies of every status go to on_data; any HTTP answer is code 0 */
	bool outcome_only; /* kube_req.outcome_only */
	unsigned skip;   /* kube_req.skip */
	char *accept;
	kube_done_cb cb;
	void *data;
};

struct ksock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct kube_client *c;
	struct ksock *prev, *next;
};

/* A new easy handle costs an allocation of curl's 16 KiB transfer buffer (and glibc merging
 * its free lists for it) each time: a burst of requests reuses up to this many instead. */
#define EASY_SPARE_MAX 16

struct kube_client {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t curl_timer;
	uv_timer_t reaper;
	int open_handles;
	int watches;
	bool closing;
	struct kube_config cfg;
	struct kube_client_opts opts; /* opts.field_manager points at field_manager below */
	char *field_manager;          /* owned copy: the caller's string is only borrowed */
	char *user_agent;
	struct curl_blob ca, cert, key;
	struct curl_slist *connect_to; /* tls-server-name: "name:port:host:port" */
	struct ksock *socks; /* polled sockets, closed at teardown */
	char *url_base;   /* server, or https://<tls-server-name>:port */
	char *token;      /* current bearer token (secret) */
	uint64_t token_read_ms;
	bool token_loaded;
	struct exec_cred *cred; /* current exec plugin credential, or NULL */
	unsigned cred_gen;      /* bumped on every new exec credential */
	struct kube_exec_job *exec_job; /* the plugin running now, or NULL */
	struct kube_call *auth_head, *auth_tail; /* calls waiting for it, in order */
	int running;      /* calls holding an in-flight slot */
	struct kube_call *park_head, *park_tail;
	double tokens;    /* rate limiter bucket */
	uint64_t bucket_ms;
	struct kube_call *calls;
	struct kube_client_stats stats;
	CURL *spare[EASY_SPARE_MAX]; /* finished easy handles, reset, for the next calls */
	int nspare;
};

static void drain_done(struct kube_client *c);
static void call_start(struct kube_call *call);
static void call_schedule(struct kube_call *call, uint64_t delay_ms);
static void on_call_timer(uv_timer_t *t);
static void sock_release(struct kube_client *c, struct ksock *s);

/* ---- handle bookkeeping and teardown ---- */

static void cred_unref(struct exec_cred *ec)
{
	if (ec == NULL || --ec->refs > 0)
		return;
	kube_exec_cred_free(&ec->cred);
	free(ec);
}

static void client_free(struct kube_client *c)
{
	cred_unref(c->cred);
	kube_config_free(&c->cfg);
	kube_secret_free(c->token);
	free(c->field_manager);
	free(c->user_agent);
	curl_slist_free_all(c->connect_to);
	free(c->url_base);
	free(c);
}

static void handle_closed(uv_handle_t *h)
{
	struct kube_client *c = h->data;

	if (--c->open_handles == 0 && c->closing)
		client_free(c);
}

/* Wipes header strings before freeing them: one of them carries the bearer token. */
static void headers_free(struct curl_slist *h)
{
	for (struct curl_slist *p = h; p != NULL; p = p->next)
		explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(h);
}

static void park_remove(struct kube_client *c, struct kube_call *call)
{
	struct kube_call **p = &c->park_head, *prev = NULL;

	if (!call->parked)
		return;
	call->parked = false;
	for (; *p != NULL; prev = *p, p = &(*p)->park_next) {
		if (*p == call) {
			*p = call->park_next;
			if (c->park_tail == call)
				c->park_tail = prev;
			call->park_next = NULL;
			return;
		}
	}
}

/* A slot is free: the oldest parked call goes next, from the loop (never re-entering curl). */
static void slot_release(struct kube_call *call)
{
	struct kube_client *c = call->c;
	struct kube_call *next = c->park_head;

	if (!call->counted)
		return;
	call->counted = false;
	c->running--;
	if (next == NULL || c->closing)
		return;
	c->park_head = next->park_next;
	if (c->park_head == NULL)
		c->park_tail = NULL;
	next->park_next = NULL;
	next->parked = false;
	uv_timer_start(&next->timer, on_call_timer, 0, 0);
}

/* curl_easy_reset drops every option (the headers with the token among them) and keeps the
 * handle's allocations; connections live in the multi handle either way. */
static void easy_release(struct kube_client *c, CURL *e)
{
	if (c->closing || c->nspare == EASY_SPARE_MAX) {
		curl_easy_cleanup(e);
		return;
	}
	curl_easy_reset(e);
	c->spare[c->nspare++] = e;
}

static void easy_done(struct kube_call *call)
{
	slot_release(call);
	if (call->easy != NULL) {
		curl_multi_remove_handle(call->c->multi, call->easy);
		easy_release(call->c, call->easy);
		call->easy = NULL;
	}
	headers_free(call->headers);
	call->headers = NULL;
	cred_unref(call->cred);
	call->cred = NULL;
}

static void call_closed(uv_handle_t *h)
{
	struct kube_call *call = h->data;
	struct kube_client *c = call->c;

	spok_buf_free(&call->resp);
	free(call->method);
	free(call->path);
	free(call->url);
	free(call->content_type);
	free(call->accept);
	if (call->body != NULL)
		explicit_bzero(call->body, call->body_len);
	free(call->body);
	free(call);
	if (--c->open_handles == 0 && c->closing)
		client_free(c);
}

static void auth_remove(struct kube_client *c, struct kube_call *call)
{
	struct kube_call **p = &c->auth_head, *prev = NULL;

	if (!call->auth_parked)
		return;
	call->auth_parked = false;
	for (; *p != NULL; prev = *p, p = &(*p)->auth_next) {
		if (*p == call) {
			*p = call->auth_next;
			if (c->auth_tail == call)
				c->auth_tail = prev;
			call->auth_next = NULL;
			return;
		}
	}
}

static void call_destroy(struct kube_call *call)
{
	struct kube_client *c = call->c;

	park_remove(c, call);
	auth_remove(c, call);
	easy_done(call);
	call->state = CALL_DONE;
	if (call->prev != NULL)
		call->prev->next = call->next;
	else
		c->calls = call->next;
	if (call->next != NULL)
		call->next->prev = call->prev;
	uv_close((uv_handle_t *)&call->timer, call_closed);
}

static void call_finish(struct kube_call *call, const struct kube_resp *r)
{
	kube_done_cb cb = call->cb;
	void *data = call->data;
	bool fire = !call->cancelled;

	call_destroy(call);
	if (fire && cb != NULL)
		cb(data, r);
}

static void fail_call(struct kube_call *call, int code, const char *what)
{
	char msg[SPOK_ERR_MSG_MAX];
	struct kube_resp r = {code, 0, false, NULL, msg};

	snprintf(msg, sizeof(msg), "%s %s: %s", call->method, call->path, what);
	call_finish(call, &r);
}

static void reaper_cb(uv_timer_t *t)
{
	struct kube_client *c = t->data;

	/* The plugin's process group is killed; its job frees itself on the loop. */
	kube_exec_cancel(c->exec_job);
	c->exec_job = NULL;
	while (c->calls != NULL)
		fail_call(c->calls, SPOK_EUNAVAIL, "client closed");
	while (c->nspare > 0)
		curl_easy_cleanup(c->spare[--c->nspare]);
	curl_multi_cleanup(c->multi);
	c->multi = NULL;
	while (c->socks != NULL)
		sock_release(c, c->socks);
	uv_close((uv_handle_t *)&c->curl_timer, handle_closed);
	uv_close((uv_handle_t *)&c->reaper, handle_closed);
}

void kube_client_close(struct kube_client *c)
{
	if (c == NULL || c->closing)
		return;
	if (c->watches != 0) {
		log_error("kube: kube_client_close with %d watch(es) still open; stop them first",
			  c->watches);
		abort();
	}
	c->closing = true;
	/* Deferred so that closing from inside a callback never re-enters curl. */
	uv_timer_start(&c->reaper, reaper_cb, 0, 0);
}

bool kube__client_closing(const struct kube_client *c)
{
	return c->closing;
}

void kube__watch_ref(struct kube_client *c, int delta)
{
	c->watches += delta;
}

/* ---- curl <-> libuv glue ---- */

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct ksock *s = h->data;
	struct kube_client *c = s->c;
	int flags = 0, running;

	if (status < 0)
		flags |= CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(c->multi, s->fd, flags, &running);
	drain_done(c);
}

static void sock_closed(uv_handle_t *h)
{
	struct ksock *s = h->data;
	struct kube_client *c = s->c;

	free(s);
	if (--c->open_handles == 0 && c->closing)
		client_free(c);
}

static void sock_release(struct kube_client *c, struct ksock *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		c->socks = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	uv_close((uv_handle_t *)&s->poll, sock_closed);
}

static int sock_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *sockp)
{
	struct kube_client *c = userp;
	struct ksock *s = sockp;
	int ev = 0;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		/* curl may close fd right after this returns: stop polling it now. */
		if (s != NULL) {
			sock_release(c, s);
			curl_multi_assign(c->multi, fd, NULL);
		}
		return 0;
	}
	if (s == NULL) {
		s = xcalloc(1, sizeof(*s));
		s->fd = fd;
		s->c = c;
		if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
			free(s);
			return -1;
		}
		s->poll.data = s;
		c->open_handles++;
		s->next = c->socks;
		if (c->socks != NULL)
			c->socks->prev = s;
		c->socks = s;
		curl_multi_assign(c->multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		ev |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		ev |= UV_WRITABLE;
	uv_poll_start(&s->poll, ev, on_poll);
	return 0;
}

static void on_curl_timer(uv_timer_t *t)
{
	struct kube_client *c = t->data;
	int running;

	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	drain_done(c);
}

/* Never calls curl from here (even for 0 ms): the loop does it on its next turn. */
static int timer_cb(CURLM *m, long ms, void *userp)
{
	struct kube_client *c = userp;

	(void)m;
	if (ms < 0)
		uv_timer_stop(&c->curl_timer);
	else
		uv_timer_start(&c->curl_timer, on_curl_timer, (uint64_t)ms, 0);
	return 0;
}

/* ---- client ---- */

static void set_blob(struct curl_blob *b, const struct kube_blob *src)
{
	b->data = src->data;
	b->len = src->len;
	b->flags = CURL_BLOB_NOCOPY;
}

static void blob_copy(struct kube_blob *dst, const struct kube_blob *src)
{
	dst->len = src->len;
	dst->data = NULL;
	if (src->data != NULL) {
		dst->data = xmalloc(src->len + 1);
		memcpy(dst->data, src->data, src->len);
	}
}

static void config_copy(struct kube_config *dst, const struct kube_config *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->source = xstrdup(src->source);
	dst->context = xstrdup(src->context);
	dst->server = xstrdup(src->server);
	dst->namespace = xstrdup(src->namespace != NULL ? src->namespace : "default");
	dst->tls_server_name = xstrdup(src->tls_server_name);
	dst->insecure = src->insecure;
	blob_copy(&dst->ca, &src->ca);
	blob_copy(&dst->client_cert, &src->client_cert);
	blob_copy(&dst->client_key, &src->client_key);
	dst->token = xstrdup(src->token);
	dst->token_file = xstrdup(src->token_file);
	dst->exec = kube_exec_copy(src->exec);
}

static void opts_defaults(struct kube_client_opts *o, const struct kube_client_opts *in)
{
	if (in != NULL)
		*o = *in;
	else
		memset(o, 0, sizeof(*o));
	if (o->qps <= 0)
		o->qps = 50;
	if (o->burst <= 0)
		o->burst = 100;
	if (o->max_retries == 0)
		o->max_retries = 5;
	if (o->max_retries < 0)
		o->max_retries = 0;
	if (o->backoff_ms == 0)
		o->backoff_ms = 500;
	if (o->backoff_max_ms == 0)
		o->backoff_max_ms = 30000;
	if (o->timeout_ms <= 0)
		o->timeout_ms = 60000;
	if (o->field_manager == NULL || o->field_manager[0] == '\0')
		o->field_manager = "spok";
	if (o->max_inflight <= 0)
		o->max_inflight = 64;
}

/* tls-server-name: curl has no SNI override, so address the server by that name and
 * route the connection to the real host with CONNECT_TO. */
static int setup_server_name(struct kube_client *c, struct spok_err *err)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL;
	int result = 0;

	if (curl_url_set(u, CURLUPART_URL, c->cfg.server, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		result = spok_err_set(err, SPOK_EINVAL, "%s: server \"%s\" is not a valid URL; fix "
				      "the cluster's server", c->cfg.source, c->cfg.server);
		goto fail;
	}
	if (c->cfg.tls_server_name == NULL) {
		c->url_base = xstrdup(c->cfg.server);
		goto fail;
	}
	c->url_base = xasprintf("https://%s:%s", c->cfg.tls_server_name, port);
	{
		char *line = xasprintf("%s:%s:%s:%s", c->cfg.tls_server_name, port, host, port);

		c->connect_to = curl_slist_append(NULL, line);
		free(line);
	}
fail:
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return result;
}

int kube_client_new(uv_loop_t *loop, const struct kube_config *cfg,
		    const struct kube_client_opts *opts, struct kube_client **out,
		    struct spok_err *err)
{
	struct kube_client *c;

	*out = NULL;
	if (cfg->server == NULL)
		return spok_err_set(err, SPOK_EINVAL, "kube: no API server configured; load a kubeconfig");
	c = xcalloc(1, sizeof(*c));
	c->loop = loop;
	config_copy(&c->cfg, cfg);
	if (setup_server_name(c, err) != 0) {
		client_free(c);
		return SPOK_EINVAL;
	}
	opts_defaults(&c->opts, opts);
	c->field_manager = xstrdup(c->opts.field_manager);
	c->opts.field_manager = c->field_manager;
	c->tokens = c->opts.burst;
	c->bucket_ms = uv_now(loop);
	c->user_agent = xstrdup("spok/" SPOK_VERSION);
	set_blob(&c->ca, &c->cfg.ca);
	set_blob(&c->cert, &c->cfg.client_cert);
	set_blob(&c->key, &c->cfg.client_key);
	c->multi = curl_multi_init();
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	uv_timer_init(loop, &c->curl_timer);
	uv_timer_init(loop, &c->reaper);
	c->curl_timer.data = c;
	c->reaper.data = c;
	c->open_handles = 2;
	*out = c;
	return 0;
}

void kube_client_stats(const struct kube_client *c, struct kube_client_stats *out)
{
	*out = c->stats;
}

uv_loop_t *kube_client_loop(const struct kube_client *c)
{
	return c->loop;
}

const char *kube_client_namespace(const struct kube_client *c)
{
	return c->cfg.namespace;
}

const char *kube_client_field_manager(const struct kube_client *c)
{
	return c->opts.field_manager;
}

/* ---- rate limiter and token ---- */

/* Token bucket with reservations: the bucket may go negative, and the caller waits
 * until its token would have accrued. Returns the wait in ms. */
static uint64_t limiter_reserve(struct kube_client *c)
{
	uint64_t now = uv_now(c->loop);
	double qps = c->opts.qps;

	c->tokens += (double)(now - c->bucket_ms) * qps / 1000.0;
	if (c->tokens > c->opts.burst)
		c->tokens = c->opts.burst;
	c->bucket_ms = now;
	c->tokens -= 1.0;
	if (c->tokens >= 0)
		return 0;
	return (uint64_t)ceil(-c->tokens * 1000.0 / qps);
}

/* Current bearer token: static, or from tokenFile re-read at most once a minute (or when
 * forced after a 401). A failed re-read keeps the last good token. */
static const char *current_token(struct kube_client *c, bool force)
{
	uint64_t now = uv_now(c->loop);
	struct spok_err e;
	char *tok;

	if (c->cfg.token != NULL)
		return c->cfg.token;
	if (c->cfg.token_file == NULL)
		return NULL;
	if (c->token_loaded && !force && now - c->token_read_ms < TOKEN_REREAD_MS)
		return c->token;
	c->stats.token_reads++;
	if (kube_read_token_file(c->cfg.token_file, &tok, &e) != 0) {
		log_warn("kube: %s", e.msg);
	} else {
		kube_secret_free(c->token);
		c->token = tok;
	}
	c->token_loaded = true;
	c->token_read_ms = now;
	return c->token;
}

/* The exec plugin runs on the loop (exec.h) when a call finds no credential, one about to
 * expire, or (after a 401) the one that was refused. Calls that need a credential meanwhile
 * wait in the client's auth list, so a hung plugin holds back this client's calls only, and
 * each of them fails with the plugin's error; the loop keeps serving everything else. */
static void exec_install(struct kube_client *c, struct kube_exec_cred *nc)
{
	struct exec_cred *ec = xcalloc(1, sizeof(*ec));

	ec->refs = 1;
	ec->gen = ++c->cred_gen;
	ec->cred = *nc;
	memset(nc, 0, sizeof(*nc));
	if (ec->cred.client_cert.data != NULL) {
		set_blob(&ec->cert, &ec->cred.client_cert);
		set_blob(&ec->key, &ec->cred.client_key);
	}
	cred_unref(c->cred);
	c->cred = ec;
}

/* Every waiting call goes on (from the loop) when there is a credential it may use;
 * otherwise it fails with the plugin's error. The list is taken first: callbacks may add
 * calls (they start from the loop, later) or cancel some (those are skipped here). */
static void exec_release_waiting(struct kube_client *c, bool usable, int code, const char *msg)
{
	struct kube_call *call = c->auth_head, *next;

	c->auth_head = c->auth_tail = NULL;
	for (; call != NULL; call = next) {
		next = call->auth_next;
		call->auth_next = NULL;
		call->auth_parked = false;
		if (call->cancelled)
			continue;
		if (usable || (call->cred_fresh && c->cred != NULL)) {
			call->auth_ok = true;
			call_schedule(call, 0);
		} else {
			fail_call(call, code, msg);
		}
	}
}

/* A failed refresh keeps a credential that has not expired yet. */
static void exec_done(void *data, int code, struct kube_exec_cred *nc, const char *msg)
{
	struct kube_client *c = data;
	int64_t now = (int64_t)time(NULL);
	bool usable = code == 0;

	c->exec_job = NULL;
	if (code == 0) {
		exec_install(c, nc);
	} else if (c->cred != NULL && (c->cred->cred.expiry == 0 || now < c->cred->cred.expiry)) {
		log_warn("kube: %s", msg);
		usable = true;
	}
	exec_release_waiting(c, usable, code, msg);
}

static void exec_start(struct kube_client *c)
{
	c->stats.exec_runs++;
	c->exec_job = kube_exec_start(c->loop, &c->cfg, exec_done, c);
}

/* ---- one attempt ---- */

static size_t on_header(char *p, size_t size, size_t n, void *userp)
{
	struct kube_call *call = userp;
	size_t len = size * n;
	static const char name[] = "retry-after:";

	if (call->on_hdr != NULL && !call->cancelled)
		call->on_hdr(call->data, p, len);
	if (len > sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
		char tmp[32];
		size_t vl = len - (sizeof(name) - 1);
		char *end;
		long v;

		if (vl >= sizeof(tmp))
			vl = sizeof(tmp) - 1;
		memcpy(tmp, p + sizeof(name) - 1, vl);
		tmp[vl] = '\0';
		v = strtol(tmp, &end, 10);
		while (*end == ' ' || *end == '\r' || *end == '\n')
			end++;
		if (*end == '\0' && end != tmp && v >= 0)
			call->retry_after = v;
	}
	return len;
}

static size_t on_write(char *p, size_t size, size_t n, void *userp)
{
	struct kube_call *call = userp;
	size_t len = size * n;

	if (call->cancelled)
		return 0;
	if (call->status == 0)
		curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &call->status);
	if (call->on_data != NULL && (call->raw || (call->status >= 200 && call->status < 300))) {
		if (!call->on_data(call->data, p, len)) {
			call->aborted = true;
			return 0;
		}
		return len;
	}
	if (spok_buf_append(&call->resp, p, len) != 0) {
		call->aborted = true;
		return 0;
	}
	return len;
}

static void easy_setup_tls(struct kube_call *call, CURL *e)
{
	struct kube_client *c = call->c;

	if (c->cfg.insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (c->ca.data != NULL) {
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &c->ca);
	}
	if (call->cred != NULL && call->cred->cert.data != NULL) {
		curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &call->cred->cert);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &call->cred->key);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	} else if (c->cert.data != NULL) {
		curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &c->cert);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &c->key);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	}
	/* curl does not copy this list: it lives as long as the client. */
	if (c->connect_to != NULL)
		curl_easy_setopt(e, CURLOPT_CONNECT_TO, c->connect_to);
}

static void easy_setup_headers(struct kube_call *call, CURL *e, const char *token)
{
	struct curl_slist *h = call->headers;
	char *line;

	line = xasprintf("Accept: %s", call->accept != NULL ? call->accept : "application/json");
	h = curl_slist_append(h, line);
	free(line);
	h = curl_slist_append(h, "Expect:");
	if (call->body != NULL) {
		line = xasprintf("Content-Type: %s", call->content_type);
		h = curl_slist_append(h, line);
		free(line);
	}
	if (token != NULL) {
		line = xasprintf("Authorization: Bearer %s", token);
		h = curl_slist_append(h, line);
		explicit_bzero(line, strlen(line));
		free(line);
	}
	call->headers = h;
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
}

static CURL *easy_new(struct kube_call *call, const char *token)
{
	struct kube_client *c = call->c;
	CURL *e = c->nspare > 0 ? c->spare[--c->nspare] : curl_easy_init();

	curl_easy_setopt(e, CURLOPT_URL, call->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, call);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 15L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, call->timeout_ms);
	curl_easy_setopt(e, CURLOPT_USERAGENT, call->c->user_agent);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->curl_err);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, call);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, call->method);
	if (strcmp(call->method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	if (call->body != NULL) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, call->body);
	}
	easy_setup_tls(call, e);
	easy_setup_headers(call, e, token);
	return e;
}

static void on_call_timer(uv_timer_t *t)
{
	struct kube_call *call = t->data;

	if (call->cancelled) {
		call_destroy(call);
		return;
	}
	call_start(call);
}



static void call_schedule(struct kube_call *call, uint64_t delay_ms)
{
	call->state = CALL_WAITING;
	uv_timer_start(&call->timer, on_call_timer, delay_ms, 0);
}

/* True when the call may go on: no plugin, or a credential it may use. Otherwise the call
 * waits in the auth list (starting the plugin unless it runs already) and exec_done
 * schedules it again. */
static bool auth_ready(struct kube_call *call)
{
	struct kube_client *c = call->c;

	if (c->cfg.exec == NULL || call->auth_ok)
		return true;
	if (c->exec_job == NULL) {
		/* After a 401 the credential was just fetched again (by this call or another):
		 * even one that is already inside the expiry slack gets this one attempt. */
		if ((call->cred_fresh && c->cred != NULL) ||
		    (c->cred != NULL && !kube_exec_cred_expired(&c->cred->cred, (int64_t)time(NULL)))) {
			call->auth_ok = true;
			return true;
		}
		exec_start(c);
	}
	call->state = CALL_WAITING;
	call->auth_parked = true;
	if (c->auth_tail != NULL)
		c->auth_tail->auth_next = call;
	else
		c->auth_head = call;
	c->auth_tail = call;
	return false;
}

/* Takes a reference to the exec credential for this attempt (auth_ready passed, so the
 * client has one: a credential is replaced, never dropped). */
static void auth_take(struct kube_call *call)
{
	struct kube_client *c = call->c;

	call->auth_ok = false;
	call->cred_fresh = false;
	if (c->cfg.exec == NULL || c->cred == NULL)
		return;
	call->cred = c->cred;
	call->cred->refs++;
	call->cred_gen = c->cred->gen;
}

static void call_start(struct kube_call *call)
{
	struct kube_client *c = call->c;
	uint64_t wait;

	if (!auth_ready(call))
		return;
	if (!call->admitted) {
		if (!call->reserved) {
			call->reserved = true;
			wait = limiter_reserve(c);
			if (wait > 0) {
				c->stats.throttled++;
				call_schedule(call, wait);
				return;
			}
		}
		call->reserved = false;
		call->admitted = true;
	}
	/* Streams (watches, logs) live long and are few: they never wait for a slot. */
	if (call->on_data == NULL && c->running >= c->opts.max_inflight) {
		c->stats.queued++;
		call->state = CALL_WAITING;
		call->parked = true;
		if (c->park_tail)
			c->park_tail->park_next = call;
		else
			c->park_head = call;
		c->park_tail = call;
		return;
	}
	call->admitted = false;
	if (call->on_data == NULL) {
		call->counted = true;
		c->running++;
	}
	call->status = 0;
	call->retry_after = -1;
	call->aborted = false;
	call->curl_err[0] = '\0';
	spok_buf_reset(&call->resp);
	auth_take(call);
	call->easy = easy_new(call, call->cred != NULL ? call->cred->cred.token
			      : current_token(c, false));
	call->state = CALL_RUNNING;
	c->stats.sent++;
	call->attempt++;
	if (curl_multi_add_handle(c->multi, call->easy) != CURLM_OK)
		fail_call(call, SPOK_EINTERNAL, "curl_multi_add_handle failed");
}

/* ---- completion ---- */

static bool retryable_curl(CURLcode res)
{
	switch (res) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SSL_CONNECT_ERROR:
		return true;
	default:
		return false;
	}
}

static bool retryable_status(long s)
{
	return s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

/* Exponential backoff with +-20% jitter; Retry-After (seconds) wins when given. */
static uint64_t backoff_ms(struct kube_call *call)
{
	const struct kube_client_opts *o = &call->c->opts;
	double base = (double)o->backoff_ms * pow(2.0, call->attempt - 1);
	double jitter = 0.8 + 0.4 * ((double)rand() / (double)RAND_MAX);
	double ms = base * jitter;

	if (call->retry_after >= 0)
		ms = (double)call->retry_after * 1000.0;
	if (ms > (double)o->backoff_max_ms)
		ms = (double)o->backoff_max_ms;
	return (uint64_t)ms;
}

/* Many calls may fail with the same stale credential: only the first of them runs the
 * plugin again; the others wait for it (auth_ready) and retry with what it fetched. */
static void auth_after_401(struct kube_call *call)
{
	struct kube_client *c = call->c;

	if (c->cfg.exec == NULL) {
		current_token(c, true);
		return;
	}
	if (c->exec_job != NULL || c->cred == NULL || c->cred->gen != call->cred_gen)
		return;
	exec_start(c);
}

static bool maybe_retry(struct kube_call *call, CURLcode res)
{
	struct kube_client *c = call->c;
	uint64_t wait;

	if (c->closing || call->on_data != NULL)
		return false;
	if (res == CURLE_OK && call->status == 401 &&
	    (c->cfg.token_file != NULL || c->cfg.exec != NULL) && !call->token_retried) {
		/* The token may have rotated under us: re-read it and try once more. */
		call->token_retried = true;
		call->cred_fresh = true;
		auth_after_401(call);
		easy_done(call);
		call_schedule(call, 0);
		return true;
	}
	if (!call->retry_ok || call->attempt > c->opts.max_retries)
		return false;
	if (res == CURLE_OK ? !retryable_status(call->status) : !retryable_curl(res))
		return false;
	wait = backoff_ms(call);
	c->stats.retries++;
	c->stats.retry_wait_ms += wait;
	easy_done(call);
	call_schedule(call, wait);
	return true;
}

static void finish_transport_error(struct kube_call *call, CURLcode res)
{
	const char *what = call->curl_err[0] != '\0' ? call->curl_err : curl_easy_strerror(res);
	char detail[SPOK_ERR_MSG_MAX];
	int code = SPOK_EUNAVAIL;

	if (call->aborted) {
		code = SPOK_EAPI;
		what = call->on_data != NULL ? "aborted" : "response too large";
	} else if (res == CURLE_OPERATION_TIMEDOUT) {
		code = SPOK_ETIMEOUT;
	}
	snprintf(detail, sizeof(detail), "%s (is the API server at %s reachable? check the "
		 "kubeconfig's server and certificate-authority)", what, call->c->cfg.server);
	fail_call(call, code, call->aborted ? what : detail);
}

static void call_completed(struct kube_call *call, CURLcode res)
{
	struct kube_resp r = {0, 0, false, NULL, ""};
	char msg[SPOK_ERR_MSG_MAX];
	json_error_t jerr;

	if (res == CURLE_OK)
		curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &call->status);
	if (maybe_retry(call, res))
		return;
	if (res != CURLE_OK) {
		finish_transport_error(call, res);
		return;
	}
	r.http_status = call->status;
	if (call->raw) { /* the body went to on_data, whatever the status */
		call_finish(call, &r);
		return;
	}
	r.gone = call->status == 410;
	bool ok = call->status >= 200 && call->status < 300;
	if (call->resp.len > 0 && !(ok && call->outcome_only))
		r.body = ok && call->skip != 0
			 ? kube_skim_load(call->resp.data, call->resp.len, KUBE_SKIM_LIST, call->skip,
					  &jerr)
			 : json_loadb(call->resp.data, call->resp.len, 0, &jerr);
	if (ok) {
		if (call->resp.len > 0 && r.body == NULL && call->on_data == NULL &&
		    !call->outcome_only) {
			snprintf(msg, sizeof(msg), "%s %s: response is not JSON (%s); is the server a "
				 "Kubernetes API server?", call->method, call->path, jerr.text);
			r.code = SPOK_EAPI;
			r.message = msg;
		}
	} else {
		r.code = kube_status_error(call->method, call->path, call->status, r.body,
					   call->resp.data, call->resp.len, msg, sizeof(msg));
		r.message = msg;
	}
	log_debug("kube: %s %s -> %ld", call->method, call->path, call->status);
	call_finish(call, &r);
	json_decref(r.body);
}

static void drain_done(struct kube_client *c)
{
	CURLMsg *m;
	int left;

	while (c->multi != NULL && (m = curl_multi_info_read(c->multi, &left)) != NULL) {
		struct kube_call *call;
		char *priv = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		call = (struct kube_call *)(void *)priv;
		if (call->cancelled)
			call_destroy(call);
		else
			call_completed(call, m->data.result);
	}
}

/* ---- public calls ---- */

static struct kube_call *call_new(struct kube_client *c, const struct kube_req *req,
				  kube_done_cb cb, void *data)
{
	struct kube_call *call = xcalloc(1, sizeof(*call));

	call->c = c;
	call->method = xstrdup(req->method);
	call->path = xstrdup(req->path);
	if (req->query != NULL && req->query[0] != '\0')
		call->url = xasprintf("%s%s?%s", c->url_base, req->path, req->query);
	else
		call->url = xasprintf("%s%s", c->url_base, req->path);
	if (req->body != NULL) {
		call->body = xmalloc(req->body_len + 1);
		memcpy(call->body, req->body, req->body_len);
		call->body[req->body_len] = '\0';
		call->body_len = req->body_len;
		call->content_type = xstrdup(req->content_type != NULL ? req->content_type
					     : "application/json");
	}
	call->retry_ok = !req->no_retry;
	call->outcome_only = req->outcome_only;
	call->skip = req->skip;
	call->accept = req->accept != NULL ? xstrdup(req->accept) : NULL;
	call->timeout_ms = c->opts.timeout_ms;
	spok_buf_init(&call->resp, KUBE_BODY_MAX);
	call->cb = cb;
	call->data = data;
	uv_timer_init(c->loop, &call->timer);
	call->timer.data = call;
	c->open_handles++;
	call->next = c->calls;
	if (c->calls != NULL)
		c->calls->prev = call;
	c->calls = call;
	return call;
}

/* A segment that is "." or ".." once %2E is decoded (a URL cleaner would drop it). */
static bool dot_segment(const char *p, size_t n)
{
	size_t dots = 0;

	for (size_t i = 0; i < n; dots++) {
		if (p[i] == '.')
			i++;
		else if (n - i >= 3 && p[i] == '%' && p[i + 1] == '2' && (p[i + 2] | 0x20) == 'e')
			i += 3;
		else
			return false;
	}
	return dots == 1 || dots == 2;
}

static bool url_char(unsigned char ch, bool query)
{
	/* RFC 3986 unreserved, sub-delims, ':' '@' '%' and '/'; a query may also hold '?'. */
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       strchr("-._~!$&'()*+,;=:@%/", ch) != NULL || (query && ch == '?');
}

/* Every path built from user values goes through kube_path, which escapes; this refuses
 * whatever would still change the request's target: empty and dot segments (cluster-wide
 * paths), and characters that end the path or were left unescaped. */
static int check_target(const struct kube_req *req, bool trailing_slash, struct spok_err *err)
{
	const char *p = req->path, *q = req->query ? req->query : "";

	for (const char *seg = p + 1;;) {
		size_t n = strcspn(seg, "/");

		/* A proxied path ("/.../proxy/jobs/") may end in '/'; an API path never does. */
		if (n == 0 && seg[0] == '\0' && trailing_slash && seg > p + 1)
			break;
		if (n == 0 || dot_segment(seg, n))
			return spok_err_set(err, SPOK_EINVAL, "kube: path '%.200s' has an empty or dot "
					    "segment; a namespace or name is missing or invalid", p);
		if (seg[n] == '\0')
			break;
		seg += n + 1;
	}
	for (; *p; p++)
		if (!url_char((unsigned char)*p, false))
			return spok_err_set(err, SPOK_EINVAL, "kube: path has an unescaped character "
					    "(0x%02x); please report", (unsigned char)*p);
	for (; *q; q++)
		if (!url_char((unsigned char)*q, true))
			return spok_err_set(err, SPOK_EINVAL, "kube: query has an unescaped character "
					    "(0x%02x); please report", (unsigned char)*q);
	return 0;
}

static int check_req(struct kube_client *c, const struct kube_req *req, bool trailing_slash,
		     struct spok_err *err)
{
	if (c->closing)
		return spok_err_set(err, SPOK_EINVAL, "kube: client is closed");
	if (req->method == NULL || req->path == NULL || req->path[0] != '/')
		return spok_err_set(err, SPOK_EINVAL, "kube: request needs a method and a path "
				    "starting with '/'");
	for (const char *a = req->accept; a != NULL && *a; a++)
		if ((unsigned char)*a < 0x20 || *a == 0x7f)
			return spok_err_set(err, SPOK_EINVAL, "kube: Accept header has a control "
					    "character; please report");
	return check_target(req, trailing_slash, err);
}

int kube_request(struct kube_client *c, const struct kube_req *req, kube_done_cb cb, void *data,
		 struct spok_err *err)
{
	int result = check_req(c, req, false, err);

	if (result != 0)
		return result;
	call_schedule(call_new(c, req, cb, data), 0);
	return 0;
}

int kube__stream_raw(struct kube_client *c, const struct kube_req *req, long timeout_ms,
		     kube__data_cb on_data, kube__header_cb on_hdr, kube_done_cb cb, void *data,
		     struct kube_call **out, struct spok_err *err)
{
	struct kube_call *call;
	int result = check_req(c, req, on_hdr != NULL, err);

	if (result != 0)
		return result;
	call = call_new(c, req, cb, data);
	call->retry_ok = false;
	call->on_data = on_data;
	call->on_hdr = on_hdr;
	call->raw = on_hdr != NULL;
	call->timeout_ms = timeout_ms;
	call_schedule(call, 0);
	*out = call;
	return 0;
}

int kube__stream(struct kube_client *c, const struct kube_req *req, long timeout_ms,
		 kube__data_cb on_data, kube_done_cb cb, void *data, struct kube_call **out,
		 struct spok_err *err)
{
	return kube__stream_raw(c, req, timeout_ms, on_data, NULL, cb, data, out, err);
}

void kube__cancel(struct kube_call *call)
{
	if (call == NULL || call->cancelled || call->state == CALL_DONE)
		return;
	call->cancelled = true;
	/* Tear down from the loop, never from inside a curl callback. */
	call_schedule(call, 0);
}
