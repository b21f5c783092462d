/* internal.h - private to src/kube: streaming calls used by watch.c. */
#ifndef SPOK_KUBE_INTERNAL_H
#define SPOK_KUBE_INTERNAL_H

#include "kube/client.h"

struct kube_call;

/* Receives the body of a 2xx response as it arrives (not NUL-terminated). Returning
 * false aborts the transfer; the done callback then reports SPOK_EAPI "aborted". */
typedef bool (*kube__data_cb)(void *data, const char *p, size_t n);

/* Like kube_request, but never retried, not bound by the request timeout (timeout_ms
 * applies instead) and streaming its 2xx body to on_data. *out lets the caller cancel. */
int kube__stream(struct kube_client *c, const struct kube_req *req, long timeout_ms,
		 kube__data_cb on_data, kube_done_cb cb, void *data, struct kube_call **out,
		 struct spok_err *err);

/* One response header line as curl hands it over ("HTTP/2 200\r\n", "Name: value\r\n",
 * "\r\n"), of every response including interim ones (not NUL-terminated). */
typedef void (*kube__header_cb)(void *data, const char *p, size_t n);

/* kube__stream for a body of ANY status (raw = true): on_data gets it too, and the done
 * callback reports code 0 with http_status for every HTTP answer (transport failures keep
 * their codes). on_header (may be NULL) sees the header lines. */
int kube__stream_raw(struct kube_client *c, const struct kube_req *req, long timeout_ms,
		     kube__data_cb on_data, kube__header_cb on_header, kube_done_cb cb, void *data,
		     struct kube_call **out, struct spok_err *err);

/* Cancels a call: neither of its callbacks fires afterwards. Safe from inside them. */
void kube__cancel(struct kube_call *call);

/* kube_client_close was called: no new request will start. */
bool kube__client_closing(const struct kube_client *c);

/* Registers/unregisters a live watch so kube_client_close can check none are left. */
void kube__watch_ref(struct kube_client *c, int delta);

/* Overwrites every string value in doc that nothing but doc keeps alive (refcount 1 all the
 * way down), before the caller drops doc: a parsed kubeconfig holds tokens, keys and
 * passwords. Values shared with another document are left to its last holder. */
void kube__json_wipe(json_t *doc);

#endif
