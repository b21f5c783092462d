/* test_transport.c - retry/backoff/rate-limit logic of the client against a loopback
 * HTTP socket that plays canned responses (429 then 200 and so on).
 *
 * This is a transport test, not a fake Kubernetes: the API server cannot be made to send
 * 429 or 503 on demand, so the only thing checked here is how the client reacts to those
 * HTTP answers. Everything Kubernetes-specific is tested against the real kube-apiserver
 * (test_kube_k8s.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <uv.h>

#include "common/xalloc.h"
#include "kube/client.h"
#include "kube/watch.h"

struct server {
	uv_loop_t *loop;
	uv_tcp_t tcp;
	int port;
	const char *const *replies; /* one per request, then the last one repeats */
	int nreplies;
	int requests;
};

struct conn {
	uv_tcp_t tcp;
	struct server *s;
	char buf[8192];
	size_t len;
	uv_write_t wr;
	char *reply;
};

static void conn_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	free(c->reply);
	free(c);
}

static void on_written(uv_write_t *w, int status)
{
	struct conn *c = w->data;

	(void)status;
	uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct conn *c = h->data;

	(void)hint;
	*b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - c->len - 1));
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	struct conn *c = st->data;
	struct server *s = c->s;
	const char *r;
	uv_buf_t out;

	(void)b;
	if (n < 0) {
		uv_close((uv_handle_t *)&c->tcp, conn_closed);
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	if (strstr(c->buf, "\r\n\r\n") == NULL)
		return;
	uv_read_stop(st);
	r = s->replies[s->requests < s->nreplies ? s->requests : s->nreplies - 1];
	s->requests++;
	/* Replies are "<status line and headers>|<body>". */
	{
		const char *bar = strchr(r, '|');
		size_t hl = (size_t)(bar - r);

		c->reply = xasprintf("%.*sContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
				     (int)hl, r, strlen(bar + 1), bar + 1);
	}
	out = uv_buf_init(c->reply, (unsigned)strlen(c->reply));
	c->wr.data = c;
	uv_write(&c->wr, st, &out, 1, on_written);
}

static void on_conn(uv_stream_t *srv, int status)
{
	struct server *s = srv->data;
	struct conn *c = xcalloc(1, sizeof(*c));

	assert_int_equal(status, 0);
	c->s = s;
	uv_tcp_init(s->loop, &c->tcp);
	c->tcp.data = c;
	assert_int_equal(uv_accept(srv, (uv_stream_t *)&c->tcp), 0);
	uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
}

static void server_start(struct server *s, uv_loop_t *loop, const char *const *replies, int n)
{
	struct sockaddr_in addr;
	struct sockaddr_storage got;
	int len = sizeof(got);

	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->replies = replies;
	s->nreplies = n;
	uv_ip4_addr("127.0.0.1", 0, &addr);
	uv_tcp_init(loop, &s->tcp);
	s->tcp.data = s;
	assert_int_equal(uv_tcp_bind(&s->tcp, (const struct sockaddr *)&addr, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&s->tcp, 16, on_conn), 0);
	uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&got, &len);
	s->port = ntohs(((struct sockaddr_in *)&got)->sin_port);
}

struct fixture {
	uv_loop_t loop;
	struct server srv;
	struct kube_client *c;
	struct kube_config cfg;
};

static void fx_start(struct fixture *f, const char *const *replies, int n,
		     const struct kube_client_opts *opts)
{
	struct spok_err err;

	uv_loop_init(&f->loop);
	server_start(&f->srv, &f->loop, replies, n);
	memset(&f->cfg, 0, sizeof(f->cfg));
	f->cfg.server = xasprintf("http://127.0.0.1:%d", f->srv.port);
	f->cfg.source = xstrdup("test");
	assert_int_equal(kube_client_new(&f->loop, &f->cfg, opts, &f->c, &err), 0);
}

static void fx_stop(struct fixture *f)
{
	kube_client_close(f->c);
	uv_close((uv_handle_t *)&f->srv.tcp, NULL);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	kube_config_free(&f->cfg);
}

static const char ok_reply[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n|{\"kind\":\"Pod\"}";

static void get_sync(struct fixture *f, struct kube_sync *s)
{
	struct kube_req req = {"GET", "/api/v1/namespaces/x/pods/p", NULL, NULL, NULL, 0, false, NULL, false, 0};
	struct spok_err err;

	memset(s, 0, sizeof(*s));
	assert_int_equal(kube_request(f->c, &req, kube_sync_cb, s, &err), 0);
	kube_sync_wait(f->c, s, &err);
}

/* 429 with Retry-After: the wait is exactly what the server asked for. */
static void test_retry_after_429(void **state)
{
	static const char *const replies[] = {
		"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Type: application/json\r\n|"
		"{\"kind\":\"Status\",\"message\":\"slow down\",\"code\":429}",
		ok_reply,
	};
	struct kube_client_opts o = {.backoff_ms = 5};
	struct fixture f;
	struct kube_sync s;
	struct kube_client_stats st;

	(void)state;
	fx_start(&f, replies, 2, &o);
	get_sync(&f, &s);
	assert_int_equal(s.code, 0);
	assert_int_equal(s.http_status, 200);
	assert_string_equal(json_string_value(json_object_get(s.body, "kind")), "Pod");
	kube_client_stats(f.c, &st);
	assert_int_equal(f.srv.requests, 2);
	assert_int_equal(st.retries, 1);
	assert_int_equal(st.retry_wait_ms, 1000);
	kube_sync_free(&s);
	fx_stop(&f);
}

/* 503 without Retry-After: exponential backoff, capped; retries exhausted -> error. */
static void test_retry_exhausted_503(void **state)
{
	static const char *const replies[] = {
		"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 100\r\n|"
		"{\"kind\":\"Status\",\"message\":\"etcd leader changed\",\"code\":503}",
	};
	struct kube_client_opts o = {.backoff_ms = 1, .backoff_max_ms = 3, .max_retries = 2};
	struct fixture f;
	struct kube_sync s;
	struct kube_client_stats st;

	(void)state;
	fx_start(&f, replies, 1, &o);
	get_sync(&f, &s);
	assert_int_equal(s.code, SPOK_EUNAVAIL);
	assert_string_equal(s.message, "GET /api/v1/namespaces/x/pods/p: etcd leader changed (HTTP 503)");
	kube_client_stats(f.c, &st);
	assert_int_equal(f.srv.requests, 3);
	assert_int_equal(st.retries, 2);
	assert_int_equal(st.retry_wait_ms, 6); /* Retry-After: 100 s capped at 3 ms, twice */
	kube_sync_free(&s);
	fx_stop(&f);
}

/* 404 is final: no retry. no_retry requests are not retried either. */
static void test_no_retry(void **state)
{
	static const char *const replies[] = {
		"HTTP/1.1 404 Not Found\r\n|{\"kind\":\"Status\",\"message\":\"pods \\\"p\\\" not found\",\"code\":404}",
	};
	struct fixture f;
	struct kube_sync s;
	struct kube_client_stats st;

	(void)state;
	fx_start(&f, replies, 1, NULL);
	get_sync(&f, &s);
	assert_int_equal(s.code, SPOK_ENOTFOUND);
	kube_client_stats(f.c, &st);
	assert_int_equal(st.retries, 0);
	assert_int_equal(f.srv.requests, 1);
	kube_sync_free(&s);
	fx_stop(&f);
}

/* The token bucket: with burst 3, the 4th..10th request wait for a token. Counted, not timed. */
static void test_qps_limit(void **state)
{
	static const char *const replies[] = {ok_reply};
	struct kube_client_opts o = {.qps = 200, .burst = 3};
	struct kube_req req = {"GET", "/api/v1/pods", NULL, NULL, NULL, 0, false, NULL, false, 0};
	struct kube_sync s[10];
	struct kube_client_stats st;
	struct spok_err err;
	struct fixture f;

	(void)state;
	fx_start(&f, replies, 1, &o);
	memset(s, 0, sizeof(s));
	for (int i = 0; i < 10; i++)
		assert_int_equal(kube_request(f.c, &req, kube_sync_cb, &s[i], &err), 0);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(kube_sync_wait(f.c, &s[i], &err), 0);
		kube_sync_free(&s[i]);
	}
	kube_client_stats(f.c, &st);
	assert_int_equal(st.sent, 10);
	assert_int_equal(st.throttled, 7);
	fx_stop(&f);
}

/* The in-flight cap: with max_inflight 2, 8 of 10 requests queued at once wait for a slot,
 * and every one still completes. Counted, not timed. */
static void test_inflight_cap(void **state)
{
	static const char *const replies[] = {ok_reply};
	struct kube_client_opts o = {.qps = 1000, .burst = 1000, .max_inflight = 2};
	struct kube_req req = {"GET", "/api/v1/pods", NULL, NULL, NULL, 0, false, NULL, false, 0};
	struct kube_sync s[10];
	struct kube_client_stats st;
	struct spok_err err;
	struct fixture f;

	(void)state;
	fx_start(&f, replies, 1, &o);
	memset(s, 0, sizeof(s));
	for (int i = 0; i < 10; i++)
		assert_int_equal(kube_request(f.c, &req, kube_sync_cb, &s[i], &err), 0);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(kube_sync_wait(f.c, &s[i], &err), 0);
		kube_sync_free(&s[i]);
	}
	kube_client_stats(f.c, &st);
	assert_int_equal(st.sent, 10);
	assert_int_equal(st.queued, 8);
	assert_int_equal(st.throttled, 0);
	fx_stop(&f);
}

/* Closing with calls in flight completes them with "client closed", once. */
static void test_close_pending(void **state)
{
	static const char *const replies[] = {ok_reply};
	struct kube_req req = {"GET", "/api/v1/pods", NULL, NULL, NULL, 0, false, NULL, false, 0};
	struct kube_sync s = {0};
	struct spok_err err;
	struct fixture f;

	(void)state;
	fx_start(&f, replies, 1, NULL);
	assert_int_equal(kube_request(f.c, &req, kube_sync_cb, &s, &err), 0);
	kube_client_close(f.c);
	assert_int_equal(kube_request(f.c, &req, kube_sync_cb, &s, &err), SPOK_EINVAL);
	uv_close((uv_handle_t *)&f.srv.tcp, NULL);
	assert_int_equal(uv_run(&f.loop, UV_RUN_DEFAULT), 0);
	assert_true(s.done);
	assert_int_equal(s.code, SPOK_EUNAVAIL);
	assert_string_equal(s.message, "GET /api/v1/pods: client closed");
	kube_sync_free(&s);
	assert_int_equal(uv_loop_close(&f.loop), 0);
	kube_config_free(&f.cfg);
}

/* Nothing listens: a connection error, retried, then reported with the server named. */
static void test_connection_refused(void **state)
{
	struct kube_client_opts o = {.backoff_ms = 1, .max_retries = 1};
	struct kube_config cfg = {0};
	struct kube_client *c;
	struct kube_sync s = {0};
	struct spok_err err;
	uv_loop_t loop;
	struct kube_req req = {"GET", "/api", NULL, NULL, NULL, 0, false, NULL, false, 0};

	(void)state;
	uv_loop_init(&loop);
	cfg.server = xstrdup("http://127.0.0.1:1");
	assert_int_equal(kube_client_new(&loop, &cfg, &o, &c, &err), 0);
	assert_int_equal(kube_request(c, &req, kube_sync_cb, &s, &err), 0);
	assert_int_equal(kube_sync_wait(c, &s, &err), SPOK_EUNAVAIL);
	assert_non_null(strstr(s.message, "GET /api: "));
	assert_non_null(strstr(s.message, "is the API server at http://127.0.0.1:1 reachable?"));
	kube_sync_free(&s);
	kube_client_close(c);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	kube_config_free(&cfg);
}

/* Issue 8: a namespace ".." reached cluster-wide paths. Whatever builds a path, a dot or
 * empty segment, or an unescaped character, is refused before anything is sent (nothing
 * listens at the server address: a request that went out would fail differently). */
static void test_refused_targets(void **state)
{
	static const struct kube_gvr spark = {"sparkoperator.k8s.io", "v1beta2", "sparkapplications"};
	const char *bad_paths[] = {
		"/api/v1/namespaces/../pods", "/api/v1/namespaces/%2e%2E/pods", "/api/v1/./pods",
		"/api/v1/namespaces//pods", "/api/v1/pods/", "/api/v1/pods/a b", "/api/v1/pods?x",
		"/api/v1/pods#x", "/api/v1/namespaces/..",
	};
	struct kube_config cfg = {0};
	struct kube_client *c;
	struct spok_err err;
	uv_loop_t loop;
	json_t *obj = json_object();

	(void)state;
	uv_loop_init(&loop);
	cfg.server = xstrdup("http://127.0.0.1:1");
	assert_int_equal(kube_client_new(&loop, &cfg, NULL, &c, &err), 0);
	for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
		struct kube_req req = {"GET", bad_paths[i], NULL, NULL, NULL, 0, false, NULL, false, 0};

		if (kube_request(c, &req, kube_sync_cb, NULL, &err) != SPOK_EINVAL)
			fail_msg("%s was not refused", bad_paths[i]);
	}
	{
		struct kube_req req = {"GET", "/api/v1/pods", "a=b c", NULL, NULL, 0, false, NULL, false, 0};

		assert_int_equal(kube_request(c, &req, kube_sync_cb, NULL, &err), SPOK_EINVAL);
	}
	assert_int_equal(kube_create(c, &spark, "..", obj, kube_sync_cb, NULL, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "dot segment"));
	assert_int_equal(kube_get(c, &spark, "ns", "..", kube_sync_cb, NULL, &err), SPOK_EINVAL);
	assert_int_equal(kube_list(c, &spark, ".", NULL, kube_sync_cb, NULL, &err), SPOK_EINVAL);
	json_decref(obj);
	kube_client_close(c);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	kube_config_free(&cfg);
}

/* Everything passed to kube_client_new is copied (client.h): the field manager too, so a
 * caller may build it on the heap and free it right away. ASan reports the old borrow. */
static void test_field_manager_copied(void **state)
{
	struct kube_config cfg = {0};
	struct kube_client *c;
	struct spok_err err;
	uv_loop_t loop;
	char *fm = xstrdup("spok-test-manager");
	struct kube_client_opts o = {.field_manager = fm};

	(void)state;
	uv_loop_init(&loop);
	cfg.server = xstrdup("http://127.0.0.1:1");
	assert_int_equal(kube_client_new(&loop, &cfg, &o, &c, &err), 0);
	memset(fm, 'x', strlen(fm));
	free(fm);
	assert_string_equal(kube_client_field_manager(c), "spok-test-manager");
	kube_client_close(c);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	o.field_manager = NULL;
	assert_int_equal(kube_client_new(&loop, &cfg, &o, &c, &err), 0);
	assert_string_equal(kube_client_field_manager(c), "spok");
	kube_client_close(c);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	kube_config_free(&cfg);
}

static void never_cb(void *data, const struct kube_event *ev)
{
	(void)data;
	(void)ev;
	fail_msg("a refused watch must never call back");
}

/* watch.h: starting a watch on a closed client fails at once. It used to be accepted, then
 * its first list failed to start ("client is closed") and the watch went quiet for good,
 * outliving the client it points to. */
static void test_watch_on_closed_client(void **state)
{
	struct kube_config cfg = {0};
	struct kube_client *c;
	struct kube_watch *w = NULL;
	struct spok_err err = {0};
	struct kube_gvr gvr = {"sparkoperator.k8s.io", "v1beta2", "sparkapplications"};
	uv_loop_t loop;

	(void)state;
	uv_loop_init(&loop);
	cfg.server = xstrdup("http://127.0.0.1:1");
	assert_int_equal(kube_client_new(&loop, &cfg, NULL, &c, &err), 0);
	kube_client_close(c);
	assert_int_equal(kube_watch_start(c, &gvr, "ns", NULL, never_cb, NULL, &w, &err), SPOK_EINVAL);
	assert_null(w);
	assert_non_null(strstr(err.msg, "closed"));
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	kube_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retry_after_429),
		cmocka_unit_test(test_retry_exhausted_503),
		cmocka_unit_test(test_no_retry),
		cmocka_unit_test(test_qps_limit),
		cmocka_unit_test(test_inflight_cap),
		cmocka_unit_test(test_close_pending),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test(test_refused_targets),
		cmocka_unit_test(test_field_manager_copied),
		cmocka_unit_test(test_watch_on_closed_client),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
