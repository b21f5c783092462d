/* stream.h - a streaming GET (pod logs with follow=true, watch URLs, ...) over the client.
 *
 * The body of a 2xx answer is handed to on_chunk as it arrives, in arbitrary pieces; the
 * transfer ends when the server closes it, when `cap` bytes have been delivered (then the
 * rest is dropped and the done callback reports SPOK_OK with truncated = true), when
 * on_chunk returns false, or on kube_stream_cancel. Not retried: a follower that wants to
 * survive a reconnect starts a new stream (e.g. with sinceTime).
 *
 * Callback rules are those of client.h: a call that returns non-zero fires nothing; one
 * that returns 0 fires on_done exactly once from the loop, unless kube_stream_cancel is
 * called first (then nothing fires afterwards). Errors (4xx/5xx) come to on_done with the
 * client's one-line message ("GET <path>: <Status.message> (HTTP 400)").
 *
 * Ownership: struct kube_stream is owned by the module and released right after on_done
 * returns, or by kube_stream_cancel. Call kube_stream_cancel only from outside the stream's
 * own callbacks (to stop from inside on_chunk, return false); after on_done the handle is
 * gone. Path and query are copied.
 */
#ifndef SPOK_KUBE_STREAM_H
#define SPOK_KUBE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kube/client.h"

struct kube_stream;

/* Returns false to stop the transfer (done then reports SPOK_OK, stopped = true). */
typedef bool (*kube_chunk_cb)(void *data, const char *p, size_t n);

struct kube_stream_result {
	int code;             /* 0 or a SPOK_E* code */
	long http_status;
	bool truncated;       /* the cap was reached */
	bool stopped;         /* on_chunk returned false */
	uint64_t bytes;       /* bytes delivered to on_chunk */
	const char *message;  /* "" or the one-line error (borrowed for the callback) */
};

typedef void (*kube_stream_done_cb)(void *data, const struct kube_stream_result *res);

struct kube_stream_opts {
	const char *path;    /* escaped path, e.g. kube_pod_log_path() */
	const char *query;   /* "a=b&c=d" or NULL */
	uint64_t cap;        /* bytes; 0: 64 MiB */
	long timeout_ms;     /* whole stream; 0: none */
};

int kube_stream_get(struct kube_client *c, const struct kube_stream_opts *o, kube_chunk_cb on_chunk,
		    kube_stream_done_cb on_done, void *data, struct kube_stream **out,
		    struct spok_err *err);
/* Stops a running stream; no callback fires afterwards. NULL is fine. */
void kube_stream_cancel(struct kube_stream *s);

/* ---- raw answers (proxies) ----
 *
 * kube_raw_get sends a GET or HEAD and hands over the answer of ANY status as it is: first
 * on_head with the status and header fields of the final response (interim 1xx answers are
 * skipped), then the body to on_chunk, then on_done. on_done's code is 0 for every HTTP
 * answer (res->http_status says which); transport failures and timeouts keep their codes.
 * on_head fires exactly once before on_done whenever an HTTP answer arrived, even one
 * without a body; returning false from it stops the transfer (stopped = true). Header
 * fields are capped at KUBE_RAW_HEADERS_MAX fields and KUBE_RAW_HEADER_BYTES bytes in all;
 * more are dropped, and so is a field whose value holds a control character. Same
 * ownership and cancel rules as kube_stream_get (the handle is a struct kube_stream).
 */
#define KUBE_RAW_HEADERS_MAX 64
#define KUBE_RAW_HEADER_BYTES ((size_t)32 << 10)

struct kube_raw_head {
	long status;
	size_t n;
	const char *const *names;  /* as the server spelled them; borrowed for the callback */
	const char *const *values; /* trimmed */
};

typedef bool (*kube_head_cb)(void *data, const struct kube_raw_head *h);

struct kube_raw_opts {
	const char *method;  /* "GET" or "HEAD" */
	const char *path;    /* escaped; may end in '/' */
	const char *query;   /* escaped, or NULL */
	const char *accept;  /* Accept header (no control characters); NULL: any type */
	uint64_t cap;        /* body bytes; 0: 64 MiB */
	long timeout_ms;     /* whole transfer; 0: 60 s */
};

int kube_raw_get(struct kube_client *c, const struct kube_raw_opts *o, kube_head_cb on_head,
		 kube_chunk_cb on_chunk, kube_stream_done_cb on_done, void *data,
		 struct kube_stream **out, struct spok_err *err);

/* A header field of h by name (ASCII case-insensitive), or NULL. */
const char *kube_raw_header(const struct kube_raw_head *h, const char *name);

/* ---- the API server's service proxy ----
 *
 * "/api/v1/namespaces/<ns>/services/<svc>:<port>/proxy": requests below it reach the
 * Service's endpoints through the API server (RBAC: get on services/proxy). ns and svc must
 * be DNS-1123 labels (they come from the store and the API: hostile) and port 1..65535;
 * NULL otherwise. Caller frees. */
char *kube_service_proxy_prefix(const char *ns, const char *svc, long port);
/* The same for a pod: "/api/v1/namespaces/<ns>/pods/<pod>:<port>/proxy" (RBAC: get on
 * pods/proxy); pod must be a DNS-1123 label too. */
char *kube_pod_proxy_prefix(const char *ns, const char *pod, long port);
/* True when s is a DNS-1123 label: 1-63 of [a-z0-9-], alphanumeric at both ends. */
bool kube_dns_label(const char *s);

/* Maps a request path of a local proxy (decoded, as an HTTP server hands it over) onto the
 * service: *upstream = prefix + the path, each segment percent-escaped. A path that already
 * starts with the prefix (the API server rewrites links in proxied HTML to carry it) gives
 * *redirect = the path without it instead, so browsers stay on short paths. Refuses (SPOK_EINVAL)
 * paths that do not start with '/', dot segments, backslashes, control characters and paths
 * over KUBE_PROXY_PATH_MAX bytes: nothing may climb out of the prefix. Caller frees both. */
#define KUBE_PROXY_PATH_MAX 4096
int kube_service_proxy_map(const char *prefix, const char *path, char **upstream, char **redirect,
			   struct spok_err *err);

/* A Location header of a proxied answer made local: a URL (absolute, or a path) whose path
 * starts with prefix loses the scheme, host and prefix ("/jobs/"); anything else is returned
 * unchanged. NULL when loc holds a control character or is over KUBE_PROXY_PATH_MAX bytes.
 * Caller frees. */
char *kube_service_proxy_location(const char *prefix, const char *loc);

/* "/api/v1/namespaces/<ns>/pods/<pod>/log" (escaped). Caller frees. */
char *kube_pod_log_path(const char *ns, const char *pod);

#endif
