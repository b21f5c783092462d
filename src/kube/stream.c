/* stream.c - streaming GET on top of the client's private streaming call (internal.h). */
#include "kube/stream.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "kube/internal.h"

#define STREAM_DEFAULT_CAP ((uint64_t)64 << 20)

struct kube_stream {
	struct kube_call *call;
	kube_chunk_cb on_chunk;
	kube_stream_done_cb on_done;
	void *data;
	uint64_t cap, bytes;
	bool truncated, stopped;
};

static bool stream_data(void *data, const char *p, size_t n)
{
	struct kube_stream *s = data;
	uint64_t room = s->cap - s->bytes;
	size_t take = (uint64_t)n > room ? (size_t)room : n;

	if (take > 0) {
		s->bytes += take;
		if (!s->on_chunk(s->data, p, take)) {
			s->stopped = true;
			return false;
		}
	}
	if (take < n || s->bytes >= s->cap) {
		s->truncated = true;
		return false;
	}
	return true;
}

static void stream_done(void *data, const struct kube_resp *resp)
{
	struct kube_stream *s = data;
	struct kube_stream_result r = {resp->code, resp->http_status, s->truncated, s->stopped,
				       s->bytes, resp->message ? resp->message : ""};

	/* Our own stop (cap or on_chunk) shows up as the client's "aborted": not an error. */
	if (s->truncated || s->stopped) {
		r.code = 0;
		r.message = "";
	}
	s->on_done(s->data, &r);
	free(s);
}

int kube_stream_get(struct kube_client *c, const struct kube_stream_opts *o, kube_chunk_cb on_chunk,
		    kube_stream_done_cb on_done, void *data, struct kube_stream **out,
		    struct spok_err *err)
{
	struct kube_stream *s;
	struct kube_req req = {0};
	int result;

	if (c == NULL || o == NULL || o->path == NULL || on_chunk == NULL || on_done == NULL)
		return spok_err_set(err, SPOK_EINTERNAL, "kube_stream_get: missing argument; please report");
	s = xcalloc(1, sizeof(*s));
	s->on_chunk = on_chunk;
	s->on_done = on_done;
	s->data = data;
	s->cap = o->cap ? o->cap : STREAM_DEFAULT_CAP;
	req.method = "GET";
	req.path = o->path;
	req.query = o->query;
	req.no_retry = true;
	result = kube__stream(c, &req, o->timeout_ms, stream_data, stream_done, s, &s->call, err);
	if (result != 0) {
		free(s);
		return result;
	}
	if (out)
		*out = s;
	return 0;
}

void kube_stream_cancel(struct kube_stream *s)
{
	if (s == NULL)
		return;
	kube__cancel(s->call);
	free(s);
}

char *kube_pod_log_path(const char *ns, const char *pod)
{
	static const struct kube_gvr pods = {"", "v1", "pods"};

	return kube_path(&pods, ns, pod, "log");
}
