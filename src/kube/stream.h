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

/* "/api/v1/namespaces/<ns>/pods/<pod>/log" (escaped). Caller frees. */
char *kube_pod_log_path(const char *ns, const char *pod);

#endif
