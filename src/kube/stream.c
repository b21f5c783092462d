/* stream.c - streaming GET on top of the client's private streaming call (internal.h). */
#include "kube/stream.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
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
	/* kube_raw_get only */
	kube_head_cb on_head;
	bool head_sent;
	long status;
	size_t nh, hbytes;
	char *names[KUBE_RAW_HEADERS_MAX], *values[KUBE_RAW_HEADERS_MAX];
};

static void headers_clear(struct kube_stream *s)
{
	for (size_t i = 0; i < s->nh; i++) {
		free(s->names[i]);
		free(s->values[i]);
	}
	s->nh = 0;
	s->hbytes = 0;
}

static void stream_free(struct kube_stream *s)
{
	headers_clear(s);
	free(s);
}

/* The final answer's head, once: before its first body byte, or at the end. */
static bool head_deliver(struct kube_stream *s)
{
	struct kube_raw_head h = {s->status, s->nh, (const char *const *)s->names,
				  (const char *const *)s->values};

	if (s->on_head == NULL || s->head_sent || s->status == 0)
		return true;
	s->head_sent = true;
	if (!s->on_head(s->data, &h)) {
		s->stopped = true;
		return false;
	}
	return true;
}

static bool token_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* "HTTP/2 302": a new response starts (interim 1xx ones are replaced by the final one). */
static void header_status(struct kube_stream *s, const char *p, size_t n)
{
	const char *sp = memchr(p, ' ', n);
	long v = 0;

	headers_clear(s);
	s->status = 0;
	if (sp == NULL || (size_t)(p + n - sp) < 4)
		return;
	for (int i = 1; i <= 3; i++) {
		if (sp[i] < '0' || sp[i] > '9')
			return;
		v = v * 10 + (sp[i] - '0');
	}
	s->status = v;
}

static void stream_header(void *data, const char *p, size_t n)
{
	struct kube_stream *s = data;
	const char *colon, *v, *end = p + n;
	size_t nl;

	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		header_status(s, p, n);
		return;
	}
	while (end > p && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	colon = memchr(p, ':', (size_t)(end - p));
	if (colon == NULL || colon == p || s->nh >= KUBE_RAW_HEADERS_MAX ||
	    s->hbytes + n > KUBE_RAW_HEADER_BYTES)
		return;
	for (const char *q = p; q < colon; q++)
		if (!token_char((unsigned char)*q))
			return; /* also folded continuation lines, which start with a blank */
	for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	for (const char *q = v; q < end; q++)
		if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f)
			return;
	nl = (size_t)(colon - p);
	s->names[s->nh] = xstrndup(p, nl);
	s->values[s->nh] = xstrndup(v, (size_t)(end - v));
	s->nh++;
	s->hbytes += n;
}

static bool stream_data(void *data, const char *p, size_t n)
{
	struct kube_stream *s = data;
	uint64_t room = s->cap - s->bytes;
	size_t take = (uint64_t)n > room ? (size_t)room : n;

	if (!head_deliver(s))
		return false;
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
	if (resp->code == 0 && !s->stopped)
		head_deliver(s); /* an answer without a body */
	r.stopped = s->stopped;
	if (s->on_head != NULL && r.http_status == 0)
		r.http_status = s->status;
	s->on_done(s->data, &r);
	stream_free(s);
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
	stream_free(s);
}

int kube_raw_get(struct kube_client *c, const struct kube_raw_opts *o, kube_head_cb on_head,
		 kube_chunk_cb on_chunk, kube_stream_done_cb on_done, void *data,
		 struct kube_stream **out, struct spok_err *err)
{
	struct kube_stream *s;
	struct kube_req req = {0};
	int result;

	if (c == NULL || o == NULL || o->path == NULL || o->method == NULL || on_head == NULL ||
	    on_chunk == NULL || on_done == NULL)
		return spok_err_set(err, SPOK_EINTERNAL, "kube_raw_get: missing argument; please report");
	if (strcmp(o->method, "GET") != 0 && strcmp(o->method, "HEAD") != 0)
		return spok_err_set(err, SPOK_EINVAL, "kube_raw_get: only GET and HEAD; please report");
	s = xcalloc(1, sizeof(*s));
	s->on_head = on_head;
	s->on_chunk = on_chunk;
	s->on_done = on_done;
	s->data = data;
	s->cap = o->cap ? o->cap : STREAM_DEFAULT_CAP;
	req.method = o->method;
	req.path = o->path;
	req.query = o->query;
	req.accept = o->accept ? o->accept : "*/*";
	req.no_retry = true;
	result = kube__stream_raw(c, &req, o->timeout_ms > 0 ? o->timeout_ms : 60000, stream_data,
				  stream_header, stream_done, s, &s->call, err);
	if (result != 0) {
		free(s);
		return result;
	}
	if (out)
		*out = s;
	return 0;
}

const char *kube_raw_header(const struct kube_raw_head *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcasecmp(h->names[i], name) == 0)
			return h->values[i];
	return NULL;
}

/* ---- service proxy paths ---- */

bool kube_dns_label(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

char *kube_service_proxy_prefix(const char *ns, const char *svc, long port)
{
	if (!kube_dns_label(ns) || !kube_dns_label(svc) || port < 1 || port > 65535)
		return NULL;
	return xasprintf("/api/v1/namespaces/%s/services/%s:%ld/proxy", ns, svc, port);
}

char *kube_pod_proxy_prefix(const char *ns, const char *pod, long port)
{
	if (!kube_dns_label(ns) || !kube_dns_label(pod) || port < 1 || port > 65535)
		return NULL;
	return xasprintf("/api/v1/namespaces/%s/pods/%s:%ld/proxy", ns, pod, port);
}

/* What may stay unescaped in a path segment: RFC 3986 unreserved and sub-delims, ':' '@'. */
static bool seg_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch != '\0' && strchr("-._~!$&'()*+,;=:@", ch) != NULL);
}

/* The part of path below prefix ("", "/...", and for a URL "?..." or "#..."), or NULL when
 * path is not below it. A decoded path (url false) holds '?' and '#' as plain bytes. */
static const char *below(const char *prefix, const char *path, bool url)
{
	size_t n = strlen(prefix);

	if (strncmp(path, prefix, n) != 0)
		return NULL;
	if (path[n] == '\0' || path[n] == '/' || (url && (path[n] == '?' || path[n] == '#')))
		return path + n;
	return NULL;
}

int kube_service_proxy_map(const char *prefix, const char *path, char **upstream, char **redirect,
			   struct spok_err *err)
{
	static const char hex[] = "0123456789ABCDEF";
	struct spok_buf b;
	const char *rest;
	size_t n = path ? strlen(path) : 0;

	*upstream = NULL;
	*redirect = NULL;
	if (n == 0 || path[0] != '/' || n > KUBE_PROXY_PATH_MAX)
		return spok_err_set(err, SPOK_EINVAL, "path must start with '/' and be at most %d bytes",
				    KUBE_PROXY_PATH_MAX);
	for (const char *seg = path + 1;;) {
		size_t sl = strcspn(seg, "/");

		if ((sl == 1 && seg[0] == '.') || (sl == 2 && seg[0] == '.' && seg[1] == '.'))
			return spok_err_set(err, SPOK_EINVAL, "path has a '.' or '..' segment");
		if (seg[sl] == '\0')
			break;
		seg += sl + 1;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f || path[i] == '\\')
			return spok_err_set(err, SPOK_EINVAL, "path has a control character or a backslash");
	if ((rest = below(prefix, path, false)) != NULL) {
		*redirect = xstrdup(rest[0] == '\0' ? "/" : rest);
		return 0;
	}
	spok_buf_init(&b, KUBE_PROXY_PATH_MAX * 3 + strlen(prefix) + 1);
	spok_buf_appends(&b, prefix);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)path[i];
		char esc[3] = {'%', hex[ch >> 4], hex[ch & 15]};

		if (ch == '/' || seg_char(ch))
			spok_buf_append(&b, &path[i], 1);
		else
			spok_buf_append(&b, esc, 3);
	}
	*upstream = spok_buf_detach(&b);
	return 0;
}

char *kube_service_proxy_location(const char *prefix, const char *loc)
{
	const char *p = loc, *rest;
	size_t n = loc ? strlen(loc) : 0;

	if (loc == NULL || n > KUBE_PROXY_PATH_MAX)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)loc[i] < 0x20 || loc[i] == 0x7f)
			return NULL;
	if (strncasecmp(p, "http://", 7) == 0 || strncasecmp(p, "https://", 8) == 0) {
		p = strstr(p, "//") + 2;
		p += strcspn(p, "/?#");
	}
	if ((rest = below(prefix, p, true)) == NULL)
		return xstrdup(loc);
	if (rest[0] == '/')
		return xstrdup(rest);
	return xasprintf("/%s", rest);
}

char *kube_pod_log_path(const char *ns, const char *pod)
{
	static const struct kube_gvr pods = {"", "v1", "pods"};

	return kube_path(&pods, ns, pod, "log");
}
