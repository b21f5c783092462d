/* ops.c - typed helpers over kube_request: paths, CRUD, apply, paginated list, sync. */
#include "kube/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xalloc.h"

#define LIST_RESTARTS_MAX 3

char *kube_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = xmalloc(n * 3 + 1), *o = out;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			*o++ = (char)ch;
		} else {
			*o++ = '%';
			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		}
	}
	*o = '\0';
	return out;
}

static void add_seg(struct spok_buf *b, const char *s)
{
	/* "." and ".." would be dot segments that curl (and URL cleaners on the way) remove,
	 * turning a namespaced path into a cluster-wide one: escape them, so kube_request
	 * refuses the path instead of sending it. */
	char *e = strcmp(s, ".") == 0 ? xstrdup("%2E") : strcmp(s, "..") == 0 ? xstrdup("%2E%2E")
									     : kube_escape(s);

	spok_buf_appends(b, "/");
	spok_buf_appends(b, e);
	free(e);
}

char *kube_path(const struct kube_gvr *gvr, const char *ns, const char *name, const char *sub)
{
	struct spok_buf b;

	spok_buf_init(&b, 0);
	if (gvr->group == NULL || gvr->group[0] == '\0') {
		spok_buf_appends(&b, "/api");
	} else {
		spok_buf_appends(&b, "/apis");
		add_seg(&b, gvr->group);
	}
	add_seg(&b, gvr->version);
	if (ns != NULL && ns[0] != '\0') {
		add_seg(&b, "namespaces");
		add_seg(&b, ns);
	}
	add_seg(&b, gvr->resource);
	if (name != NULL)
		add_seg(&b, name);
	if (name != NULL && sub != NULL)
		add_seg(&b, sub);
	return spok_buf_detach(&b);
}

static int check_gvr(const struct kube_gvr *gvr, const char *name, bool need_name,
		     struct spok_err *err)
{
	if (gvr == NULL || gvr->version == NULL || gvr->resource == NULL)
		return spok_err_set(err, SPOK_EINVAL, "kube: resource needs a version and a name");
	if (need_name && (name == NULL || name[0] == '\0'))
		return spok_err_set(err, SPOK_EINVAL, "kube: %s: object name is empty", gvr->resource);
	return 0;
}

/* Serialises body (borrowed) and sends one request. */
static int send_json(struct kube_client *c, const char *method, char *path, const char *query,
		     const char *ctype, const json_t *body, bool outcome_only, kube_done_cb cb,
		     void *data, struct spok_err *err)
{
	struct kube_req req = {method, path, query, ctype, NULL, 0, false, NULL, outcome_only, 0};
	char *text = NULL;
	int result;

	if (body != NULL) {
		text = json_dumps(body, JSON_COMPACT);
		if (text == NULL) {
			result = spok_err_set(err, SPOK_EINVAL, "kube: %s %s: body cannot be serialised",
					      method, path);
			free(path);
			return result;
		}
		req.body = text;
		req.body_len = strlen(text);
	}
	result = kube_request(c, &req, cb, data, err);
	free(text);
	free(path);
	return result;
}

static int create(struct kube_client *c, const struct kube_gvr *gvr, const char *ns,
		  const json_t *obj, bool outcome_only, kube_done_cb cb, void *data,
		  struct spok_err *err)
{
	int result = check_gvr(gvr, NULL, false, err);

	if (result != 0)
		return result;
	return send_json(c, "POST", kube_path(gvr, ns, NULL, NULL), NULL, NULL, obj, outcome_only,
			 cb, data, err);
}

int kube_create(struct kube_client *c, const struct kube_gvr *gvr, const char *ns,
		const json_t *obj, kube_done_cb cb, void *data, struct spok_err *err)
{
	return create(c, gvr, ns, obj, false, cb, data, err);
}

int kube_create_outcome(struct kube_client *c, const struct kube_gvr *gvr, const char *ns,
			const json_t *obj, kube_done_cb cb, void *data, struct spok_err *err)
{
	return create(c, gvr, ns, obj, true, cb, data, err);
}

int kube_get(struct kube_client *c, const struct kube_gvr *gvr, const char *ns, const char *name,
	     kube_done_cb cb, void *data, struct spok_err *err)
{
	int result = check_gvr(gvr, name, true, err);

	if (result != 0)
		return result;
	return send_json(c, "GET", kube_path(gvr, ns, name, NULL), NULL, NULL, NULL, false, cb, data,
			 err);
}

int kube_apply(struct kube_client *c, const struct kube_gvr *gvr, const char *ns, const char *name,
	       const char *sub, const json_t *obj, kube_done_cb cb, void *data, struct spok_err *err)
{
	char *fm, *query;
	int result = check_gvr(gvr, name, true, err);

	if (result != 0)
		return result;
	fm = kube_escape(kube_client_field_manager(c));
	query = xasprintf("fieldManager=%s&force=true", fm);
	/* JSON is YAML, so the apply body needs no YAML emitter. */
	result = send_json(c, "PATCH", kube_path(gvr, ns, name, sub), query,
			   "application/apply-patch+yaml", obj, false, cb, data, err);
	free(query);
	free(fm);
	return result;
}

static int patch_merge(struct kube_client *c, const struct kube_gvr *gvr, const char *ns,
		       const char *name, const char *sub, const json_t *patch, bool outcome_only,
		       kube_done_cb cb, void *data, struct spok_err *err)
{
	int result = check_gvr(gvr, name, true, err);

	if (result != 0)
		return result;
	return send_json(c, "PATCH", kube_path(gvr, ns, name, sub), NULL,
			 "application/merge-patch+json", patch, outcome_only, cb, data, err);
}

int kube_patch_merge(struct kube_client *c, const struct kube_gvr *gvr, const char *ns,
		     const char *name, const char *sub, const json_t *patch, kube_done_cb cb,
		     void *data, struct spok_err *err)
{
	return patch_merge(c, gvr, ns, name, sub, patch, false, cb, data, err);
}

int kube_patch_merge_outcome(struct kube_client *c, const struct kube_gvr *gvr, const char *ns,
			     const char *name, const char *sub, const json_t *patch,
			     kube_done_cb cb, void *data, struct spok_err *err)
{
	return patch_merge(c, gvr, ns, name, sub, patch, true, cb, data, err);
}

int kube_patch_status(struct kube_client *c, const struct kube_gvr *gvr, const char *ns,
		      const char *name, const json_t *status, kube_done_cb cb, void *data,
		      struct spok_err *err)
{
	json_t *patch = json_pack("{s:O}", "status", status);
	int result;

	if (patch == NULL)
		return spok_err_set(err, SPOK_EINVAL, "kube: status patch is not valid JSON");
	result = kube_patch_merge(c, gvr, ns, name, "status", patch, cb, data, err);
	json_decref(patch);
	return result;
}

int kube_delete(struct kube_client *c, const struct kube_gvr *gvr, const char *ns,
		const char *name, const char *propagation, const char *uid, kube_done_cb cb,
		void *data, struct spok_err *err)
{
	json_t *opts = NULL;
	int result = check_gvr(gvr, name, true, err);

	if (result != 0)
		return result;
	if (propagation != NULL || uid != NULL) {
		opts = json_pack("{s:s,s:s}", "kind", "DeleteOptions", "apiVersion", "v1");
		if (propagation != NULL)
			json_object_set_new(opts, "propagationPolicy", json_string(propagation));
		if (uid != NULL)
			json_object_set_new(opts, "preconditions", json_pack("{s:s}", "uid", uid));
	}
	result = send_json(c, "DELETE", kube_path(gvr, ns, name, NULL), NULL, NULL, opts, false, cb,
			   data, err);
	json_decref(opts);
	return result;
}

/* ---- paginated list ---- */

struct list_op {
	struct kube_client *c;
	char *path;
	char *base_query;
	json_t *items;
	char *rv;
	char *cont;
	int pages, restarts;
	unsigned skip;
	void (*page_cb)(void *data, const json_t *page, int index);
	kube_done_cb cb;
	void *data;
};

static void list_op_free(struct list_op *op)
{
	free(op->path);
	free(op->base_query);
	json_decref(op->items);
	free(op->rv);
	free(op->cont);
	free(op);
}

static void list_page_done(void *data, const struct kube_resp *r);

static int list_next(struct list_op *op, struct spok_err *err)
{
	struct kube_req req = {"GET", op->path, NULL, NULL, NULL, 0, false, NULL, false, 0};
	char *q, *cont = NULL;
	int result;

	if (op->cont != NULL) {
		cont = kube_escape(op->cont);
		q = xasprintf("%s&continue=%s", op->base_query, cont);
	} else {
		q = xstrdup(op->base_query);
	}
	req.query = q;
	req.skip = op->skip;
	result = kube_request(op->c, &req, list_page_done, op, err);
	free(q);
	free(cont);
	return result;
}

static void list_deliver(struct list_op *op, const struct kube_resp *err_resp)
{
	struct kube_resp r = {0, 200, false, NULL, ""};

	if (err_resp != NULL) {
		op->cb(op->data, err_resp);
	} else {
		r.body = json_pack("{s:s,s:s,s:{s:s?},s:O,s:i}", "apiVersion", "v1", "kind", "List",
				   "metadata", "resourceVersion", op->rv, "items", op->items,
				   "pages", op->pages);
		op->cb(op->data, &r);
		json_decref(r.body);
	}
	list_op_free(op);
}

/* A continue token expired: start over, since pages of different snapshots don't mix. */
static bool list_restart(struct list_op *op)
{
	if (op->cont == NULL || op->restarts >= LIST_RESTARTS_MAX)
		return false;
	op->restarts++;
	json_array_clear(op->items);
	free(op->cont);
	free(op->rv);
	op->cont = NULL;
	op->rv = NULL;
	op->pages = 0;
	return list_next(op, NULL) == 0;
}

static void list_page_done(void *data, const struct kube_resp *r)
{
	struct list_op *op = data;
	const char *cont, *rv;
	struct kube_resp fail = {SPOK_EAPI, r->http_status, false, NULL, ""};
	struct spok_err e;

	if (r->code != 0 && r->gone && list_restart(op))
		return;
	if (r->code != 0) {
		list_deliver(op, r);
		return;
	}
	if (!json_is_array(json_object_get(r->body, "items"))) {
		snprintf(e.msg, sizeof(e.msg), "GET %s: list response has no items array", op->path);
		fail.message = e.msg;
		list_deliver(op, &fail);
		return;
	}
	if (op->page_cb != NULL)
		op->page_cb(op->data, r->body, op->pages);
	else
		json_array_extend(op->items, json_object_get(r->body, "items"));
	op->pages++;
	rv = json_string_value(json_object_get(json_object_get(r->body, "metadata"), "resourceVersion"));
	cont = json_string_value(json_object_get(json_object_get(r->body, "metadata"), "continue"));
	if (op->rv == NULL)
		op->rv = xstrdup(rv);
	free(op->cont);
	op->cont = (cont != NULL && cont[0] != '\0') ? xstrdup(cont) : NULL;
	if (op->cont == NULL) {
		list_deliver(op, NULL);
		return;
	}
	if (list_next(op, &e) != 0) {
		fail.code = e.code;
		fail.message = e.msg;
		list_deliver(op, &fail);
	}
}

static char *list_query(const struct kube_list_opts *o)
{
	struct spok_buf b;
	char *e;

	spok_buf_init(&b, 0);
	spok_buf_printf(&b, "limit=%ld", (o != NULL && o->limit > 0) ? o->limit : 500L);
	if (o != NULL && o->label_selector != NULL && o->label_selector[0] != '\0') {
		e = kube_escape(o->label_selector);
		spok_buf_printf(&b, "&labelSelector=%s", e);
		free(e);
	}
	if (o != NULL && o->field_selector != NULL && o->field_selector[0] != '\0') {
		e = kube_escape(o->field_selector);
		spok_buf_printf(&b, "&fieldSelector=%s", e);
		free(e);
	}
	return spok_buf_detach(&b);
}

int kube_list(struct kube_client *c, const struct kube_gvr *gvr, const char *ns,
	      const struct kube_list_opts *opts, kube_done_cb cb, void *data, struct spok_err *err)
{
	struct list_op *op;
	int result = check_gvr(gvr, NULL, false, err);

	if (result != 0)
		return result;
	op = xcalloc(1, sizeof(*op));
	op->c = c;
	op->path = kube_path(gvr, ns, NULL, NULL);
	op->base_query = list_query(opts);
	op->items = json_array();
	op->page_cb = opts != NULL ? opts->page_cb : NULL;
	op->skip = opts != NULL ? opts->skip : 0;
	op->cb = cb;
	op->data = data;
	result = list_next(op, err);
	if (result != 0)
		list_op_free(op);
	return result;
}

/* ---- synchronous use ---- */

void kube_sync_cb(void *data, const struct kube_resp *resp)
{
	struct kube_sync *s = data;

	s->done = true;
	s->code = resp->code;
	s->http_status = resp->http_status;
	s->gone = resp->gone;
	json_decref(s->body);
	s->body = json_incref(resp->body);
	snprintf(s->message, sizeof(s->message), "%s", resp->message != NULL ? resp->message : "");
}

int kube_sync_wait(struct kube_client *c, struct kube_sync *s, struct spok_err *err)
{
	uv_loop_t *loop = kube_client_loop(c);

	while (!s->done) {
		if (uv_run(loop, UV_RUN_ONCE) == 0 && !s->done)
			return spok_err_set(err, SPOK_EINTERNAL, "kube: loop ran dry before the request "
					    "completed");
	}
	if (s->code != 0)
		spok_err_set(err, s->code, "%s", s->message);
	return s->code;
}

void kube_sync_free(struct kube_sync *s)
{
	json_decref(s->body);
	memset(s, 0, sizeof(*s));
}
