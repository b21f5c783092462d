/* client.h - an asynchronous Kubernetes REST client on a libuv loop (libcurl multi).
 *
 * One struct kube_client per API server, bound to one uv_loop_t and used only from the
 * loop's thread. Requests go through a client-side token bucket (QPS/burst), are retried
 * with exponential backoff and jitter on 429, 5xx and connection errors (Retry-After in
 * seconds is honoured), and re-read a tokenFile once a minute and on a 401. An exec
 * credential plugin (exec.h) runs, as a child process watched by the loop, when the client
 * first needs a credential, when the cached one is within KUBE_EXEC_EXPIRY_SLACK_S of its
 * expirationTimestamp, and once after a 401. While it runs, this client's calls wait for it
 * (in order); the loop and other clients are not held back. A call whose plugin fails (exit
 * status, bad output, its timeout) completes with the plugin's error.
 *
 * Callback rules (libuv style):
 *  - A call that returns non-zero never fires its callback; one that returns 0 fires it
 *    exactly once, always from the loop (never from inside the call itself).
 *  - Everything passed to a call is copied; the caller may free it once the call returns.
 *  - struct kube_resp and everything it points to are borrowed for the duration of the
 *    callback: json_incref the body to keep it.
 *  - kube_client_close may be called at any time, including from a callback. Pending calls
 *    then complete with SPOK_EUNAVAIL ("client closed"); the memory is released once the
 *    loop has run the close callbacks (run the loop until it returns). Watches (watch.h)
 *    must be stopped before the client is closed.
 *
 * Errors in kube_resp.message read "<VERB> <path>: <Status.message> (HTTP <code>)" and
 * never contain a token or key. Codes: 404 SPOK_ENOTFOUND; 409 SPOK_ECONFLICT; 401/403
 * SPOK_EFORBIDDEN (403 "exceeded quota" SPOK_EQUOTA); 400/422 SPOK_EINVAL; 410 SPOK_EAPI
 * with gone=true; 429/503/504 and connection failures SPOK_EUNAVAIL; a transfer timeout
 * SPOK_ETIMEOUT; other statuses SPOK_EAPI.
 */
#ifndef SPOK_KUBE_CLIENT_H
#define SPOK_KUBE_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/err.h"
#include "kube/kubeconfig.h"

struct kube_client;

struct kube_client_opts {
	double qps;            /* requests per second; <= 0: 50 */
	int burst;             /* bucket size; <= 0: 100 */
	int max_retries;       /* retries after the first attempt; < 0: none; 0: 5 */
	uint64_t backoff_ms;   /* first backoff; 0: 500 ms (doubles, +-20% jitter) */
	uint64_t backoff_max_ms; /* cap of one wait, also for Retry-After; 0: 30 s */
	long timeout_ms;       /* whole-request timeout (not for watches); 0: 60 s */
	int max_inflight;      /* requests on the wire at once (watches and streams not
	                          counted); more wait in FIFO order; <= 0: 64. curl opens a
	                          new TLS connection for every request past an HTTP/2
	                          connection's ~100 streams, so a burst must queue here. */
	const char *field_manager; /* server-side apply field manager; NULL: "spok" */
};

struct kube_resp {
	int code;            /* 0 or a SPOK_E* code */
	long http_status;    /* 0 when no HTTP response arrived */
	bool gone;           /* HTTP 410: resourceVersion or continue token too old */
	json_t *body;        /* parsed response body (borrowed; NULL if none or not JSON) */
	const char *message; /* "" on success, else the one-line error */
};

typedef void (*kube_done_cb)(void *data, const struct kube_resp *resp);

struct kube_req {
	const char *method;       /* "GET", "POST", "PUT", "PATCH", "DELETE" */
	const char *path;         /* "/api/v1/namespaces/x/pods", already escaped */
	const char *query;        /* "a=b&c=d" (escaped, no '?') or NULL */
	const char *content_type; /* NULL: application/json when there is a body */
	const char *body;         /* NULL: none */
	size_t body_len;
	bool no_retry;            /* do not retry this one */
	const char *accept;       /* Accept header; NULL: application/json */
	/* The caller reads only the outcome: a 2xx answer's body is not parsed (resp->body is
	 * NULL then; error answers are parsed for their message as always). Spares parsing echoed
	 * objects nobody reads, e.g. a collection DELETE's list of what it deleted. */
	bool outcome_only;
	/* KUBE_SKIP_* (kube/skim.h): a 2xx List answer's items are parsed without these fields
	 * (kube_list's pages). 0: whole. */
	unsigned skip;
};

/* Group/version/resource of a collection; group "" (or NULL) is the core /api group. */
struct kube_gvr {
	const char *group;
	const char *version;
	const char *resource;
};

/* Counters for tests and metrics. */
struct kube_client_stats {
	uint64_t sent;       /* HTTP requests sent, including retries */
	uint64_t throttled;  /* requests that waited for the rate limiter */
	uint64_t retries;    /* retries made */
	uint64_t token_reads; /* token file reads */
	uint64_t retry_wait_ms; /* sum of the waits chosen before retries */
	uint64_t queued;     /* requests that waited for an in-flight slot */
	uint64_t exec_runs;  /* exec credential plugin runs */
};

/* Creates a client for cfg (copied). Does no I/O. */
int kube_client_new(uv_loop_t *loop, const struct kube_config *cfg,
		    const struct kube_client_opts *opts, struct kube_client **out,
		    struct spok_err *err);
/* See the callback rules above. NULL is fine. */
void kube_client_close(struct kube_client *c);
void kube_client_stats(const struct kube_client *c, struct kube_client_stats *out);
uv_loop_t *kube_client_loop(const struct kube_client *c);
/* The namespace of the loaded context (borrowed). */
const char *kube_client_namespace(const struct kube_client *c);
/* The server-side apply field manager (borrowed). */
const char *kube_client_field_manager(const struct kube_client *c);

int kube_request(struct kube_client *c, const struct kube_req *req, kube_done_cb cb, void *data,
		 struct spok_err *err);

/* "/apis/<group>/<version>[/namespaces/<ns>]/<resource>[/<name>[/<sub>]]", segments
 * percent-escaped. ns/name/sub may be NULL. Caller frees. */
char *kube_path(const struct kube_gvr *gvr, const char *ns, const char *name, const char *sub);
/* Percent-escapes s for a query value. Caller frees. */
char *kube_escape(const char *s);

/* Typed helpers; `obj`/`patch` are borrowed (serialised during the call). */
int kube_create(struct kube_client *c, const struct kube_gvr *gvr, const char *ns,
		const json_t *obj, kube_done_cb cb, void *data, struct spok_err *err);
int kube_get(struct kube_client *c, const struct kube_gvr *gvr, const char *ns, const char *name,
	     kube_done_cb cb, void *data, struct spok_err *err);
/* Server-side apply (fieldManager, force=true); sub NULL or "status". Creates if absent. */
int kube_apply(struct kube_client *c, const struct kube_gvr *gvr, const char *ns, const char *name,
	       const char *sub, const json_t *obj, kube_done_cb cb, void *data, struct spok_err *err);
/* JSON merge patch (RFC 7386); sub NULL or "status". */
int kube_patch_merge(struct kube_client *c, const struct kube_gvr *gvr, const char *ns,
		     const char *name, const char *sub, const json_t *patch, kube_done_cb cb,
		     void *data, struct spok_err *err);
/* kube_create / kube_patch_merge for callers that read only the outcome (kube_req's
 * outcome_only): on success resp->body is NULL. */
int kube_create_outcome(struct kube_client *c, const struct kube_gvr *gvr, const char *ns,
			const json_t *obj, kube_done_cb cb, void *data, struct spok_err *err);
int kube_patch_merge_outcome(struct kube_client *c, const struct kube_gvr *gvr, const char *ns,
			     const char *name, const char *sub, const json_t *patch,
			     kube_done_cb cb, void *data, struct spok_err *err);
/* Merge patch on /status: what the operator does, for tests that play the operator. */
int kube_patch_status(struct kube_client *c, const struct kube_gvr *gvr, const char *ns,
		      const char *name, const json_t *status, kube_done_cb cb, void *data,
		      struct spok_err *err);
/* propagation: NULL (server default), "Background", "Foreground" or "Orphan";
 * uid: NULL or a precondition. */
int kube_delete(struct kube_client *c, const struct kube_gvr *gvr, const char *ns,
		const char *name, const char *propagation, const char *uid, kube_done_cb cb,
		void *data, struct spok_err *err);

struct kube_list_opts {
	const char *label_selector; /* NULL: all */
	const char *field_selector; /* NULL: all */
	long limit;                 /* page size; <= 0: 500 */
	/* NULL: the pages are gathered into the one List the callback gets. Set: each page's
	 * body (its own items only, borrowed) goes here as it arrives, with its index (0 for
	 * the first page of a list that started or started over), and the callback's List has
	 * no items. Memory then holds one page, not every object of a big collection. */
	void (*page_cb)(void *data, const json_t *page, int index);
	unsigned skip;              /* KUBE_SKIP_* (kube/skim.h): items without these fields */
};
/* Lists every page (limit/continue) and delivers one List object:
 * {"kind":"List","metadata":{"resourceVersion":<first page's RV>},"items":[...],
 *  "pages":<number of pages>}. A continue token that expires (410) restarts the list
 * from the top, at most 3 times. */
int kube_list(struct kube_client *c, const struct kube_gvr *gvr, const char *ns,
	      const struct kube_list_opts *opts, kube_done_cb cb, void *data, struct spok_err *err);

/* Synchronous use (the CLI, tests): pass kube_sync_cb and a zeroed struct kube_sync as
 * cb/data, then kube_sync_wait runs the loop until that call completes. */
struct kube_sync {
	bool done;
	int code;
	long http_status;
	bool gone;
	json_t *body;               /* owned: kube_sync_free */
	char message[SPOK_ERR_MSG_MAX];
};
void kube_sync_cb(void *data, const struct kube_resp *resp);
/* Returns s->code and copies the message into err. */
int kube_sync_wait(struct kube_client *c, struct kube_sync *s, struct spok_err *err);
void kube_sync_free(struct kube_sync *s);

/* Error mapping, exposed for tests and the fuzzer: fills resp-like fields from an HTTP
 * status and body. `msg` receives "<verb> <path>: <message> (HTTP <status>)". */
int kube_status_error(const char *verb, const char *path, long http_status, const json_t *body,
		      const char *raw, size_t raw_len, char *msg, size_t msg_size);

#endif
