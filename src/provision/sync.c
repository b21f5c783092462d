/* sync.c - `spok cluster sync`: plan every namespace (render + check + resolve kinds, no
 * writes), then per namespace apply the Namespace, apply each object, prune the rest. */
#include "provision/internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/xalloc.h"

static const char *const default_domains[] = {"development", "staging", "production"};

struct plan_obj {
	json_t *obj;
	const struct prov_kind *k;  /* borrowed from the kinds cache */
	const struct prov_doc *doc; /* borrowed from the templates */
};

struct plan_ns {
	char *ns;
	const char *project, *domain; /* borrowed from the options */
	json_t *ns_obj;               /* the Namespace (templated or built here) */
	struct plan_obj *objs;
	size_t n;
};

struct sync {
	struct kube_client *c;
	const struct prov_opts *o;
	struct prov_templates t;
	struct prov_kinds kinds;
	struct plan_ns *plan;
	size_t nplan;
	json_t *report;
};

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static const char *meta_str(const json_t *obj, const char *key)
{
	return jstr(json_object_get(obj, "metadata"), key);
}

/* ---- planning ---- */

/* Project and domain end up in a namespace name: DNS-1123 label characters only. */
static bool dns_label(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return false;
	return true;
}

static int plan_add_obj(struct sync *s, struct plan_ns *pn, json_t *obj, const struct prov_doc *d,
			struct spok_err *err)
{
	const struct prov_kind *k;
	const char *av = jstr(obj, "apiVersion"), *kind = jstr(obj, "kind");
	const char *name = meta_str(obj, "name");

	if (prov_kind_resolve(s->c, &s->kinds, av, kind, d->path, &k, err) != 0)
		return SPOK_EINVAL;
	if (!k->namespaced && strcmp(kind, "Namespace") == 0 && k->group[0] == '\0') {
		if (pn->ns_obj != NULL)
			return spok_err_set(err, SPOK_EINVAL, "%s: a second Namespace template; keep one",
					    d->path);
		pn->ns_obj = json_incref(obj);
		return SPOK_OK;
	}
	if (!k->namespaced)
		return spok_err_set(err, SPOK_EINVAL, "%s: %s is cluster-scoped; cluster sync manages "
				    "namespaced objects (and the Namespace) only", d->path, kind);
	for (size_t i = 0; i < pn->n; i++)
		if (pn->objs[i].k == k && strcmp(meta_str(pn->objs[i].obj, "name"), name) == 0)
			return spok_err_set(err, SPOK_EINVAL, "%s: %s '%s' is also defined in %s; "
					    "object names must be unique per kind", d->path, kind, name,
					    pn->objs[i].doc->path);
	pn->objs = xreallocarray(pn->objs, pn->n + 1, sizeof(*pn->objs));
	pn->objs[pn->n++] = (struct plan_obj){json_incref(obj), k, d};
	return SPOK_OK;
}

static int plan_ns(struct sync *s, const char *project, const char *domain, struct spok_err *err)
{
	struct spok_strmap vars = {0};
	struct plan_ns *pn;
	int result = SPOK_OK;

	if (!dns_label(project) || !dns_label(domain))
		return spok_err_set(err, SPOK_EINVAL, "project '%.64s' / domain '%.64s': use lower-case "
				    "letters, digits and '-' (they form a namespace name)", project, domain);
	s->plan = xreallocarray(s->plan, s->nplan + 1, sizeof(*s->plan));
	pn = &s->plan[s->nplan++];
	memset(pn, 0, sizeof(*pn));
	pn->ns = spok_namespace_for(s->o->platform, project, domain);
	pn->project = project;
	pn->domain = domain;
	if (!dns_label(pn->ns))
		return spok_err_set(err, SPOK_EINVAL, "spok.namespace-template gives '%.80s' for %s/%s, "
				    "not a valid namespace name; fix the template", pn->ns, project, domain);
	prov_vars(s->o->cr, pn->ns, project, domain, &vars);
	for (size_t i = 0; i < s->t.len && result == 0; i++) {
		json_t *obj = NULL;

		result = prov_build(&s->t.docs[i], &vars, pn->ns, &obj, err);
		if (result == 0 && obj != NULL)
			result = plan_add_obj(s, pn, obj, &s->t.docs[i], err);
		json_decref(obj);
	}
	spok_strmap_free(&vars);
	return result;
}

static int plan_all(struct sync *s, struct spok_err *err)
{
	const struct spok_cluster_resources *cr = s->o->cr;
	size_t nd = cr->domains.len ? cr->domains.len : 3;

	if (cr->templates_dir == NULL)
		return spok_err_set(err, SPOK_EINVAL, "no templates directory; set "
				    "spok.cluster-resources.templates-dir or pass --templates DIR");
	if (cr->projects.len == 0)
		return spok_err_set(err, SPOK_EINVAL, "no projects; set spok.cluster-resources.projects "
				    "or pass --project P");
	if (prov_templates_load(&s->t, cr->templates_dir, err) != 0)
		return SPOK_EINVAL;
	for (size_t p = 0; p < cr->projects.len; p++)
		for (size_t d = 0; d < nd; d++)
			if (plan_ns(s, cr->projects.items[p],
				    cr->domains.len ? cr->domains.items[d] : default_domains[d], err) != 0)
				return SPOK_EINVAL;
	return SPOK_OK;
}

/* ---- API calls ---- */

static int call(struct sync *s, const char *method, const char *path, const char *query,
		const json_t *body, struct kube_sync *ks, struct spok_err *err)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct kube_req req = {
		.method = method, .path = path, .query = query,
		.content_type = body ? "application/apply-patch+yaml" : NULL,
		.body = text, .body_len = text ? strlen(text) : 0,
	};
	int result;

	memset(ks, 0, sizeof(*ks));
	result = kube_request(s->c, &req, kube_sync_cb, ks, err);
	free(text);
	if (result == 0)
		result = kube_sync_wait(s->c, ks, err);
	return result;
}

static char *obj_path(const struct prov_kind *k, const char *ns, const char *name)
{
	struct kube_gvr gvr = {k->group, k->version, k->resource};

	return kube_path(&gvr, k->namespaced ? ns : NULL, name, NULL);
}

/* GETs the object; *before is NULL when it does not exist. */
static int get_before(struct sync *s, const char *path, json_t **before, struct spok_err *err)
{
	struct kube_sync ks;
	int result = call(s, "GET", path, NULL, NULL, &ks, err);

	*before = NULL;
	if (result == SPOK_ENOTFOUND) {
		spok_err_clear(err);
		result = 0;
	} else if (result == 0) {
		*before = json_incref(ks.body);
	}
	kube_sync_free(&ks);
	return result;
}

/* Object content without the fields every write changes: for comparing dry-run results. */
static json_t *stripped(const json_t *obj)
{
	json_t *c = json_deep_copy(obj);
	json_t *meta = json_object_get(c, "metadata");

	json_object_del(meta, "resourceVersion");
	json_object_del(meta, "managedFields");
	json_object_del(meta, "generation");
	return c;
}

static bool changed(const struct sync *s, const json_t *before, const json_t *after)
{
	json_t *a, *b;
	bool diff;

	if (before == NULL)
		return true;
	if (!s->o->dry_run) {
		const char *rb = meta_str(before, "resourceVersion");
		const char *ra = meta_str(after, "resourceVersion");

		return rb == NULL || ra == NULL || strcmp(rb, ra) != 0;
	}
	a = stripped(before);
	b = stripped(after);
	diff = !json_equal(a, b);
	json_decref(a);
	json_decref(b);
	return diff;
}

static void report_obj(json_t *objs, const json_t *obj, const char *template_file,
		       const char *action)
{
	const char *av = jstr(obj, "apiVersion"), *kind = jstr(obj, "kind");
	const char *name = meta_str(obj, "name"), *ns = meta_str(obj, "namespace");
	char *ref = prov_ref(av, kind, name);
	json_t *e = json_pack("{s:s,s:s,s:s,s:s}", "ref", ref, "apiVersion", av, "kind", kind,
			      "name", name);

	if (ns != NULL)
		json_object_set_new(e, "namespace", json_string(ns));
	if (template_file != NULL)
		json_object_set_new(e, "template", json_string(template_file));
	json_object_set_new(e, "action", json_string(action));
	json_array_append_new(objs, e);
	free(ref);
}

/* Server-side apply of obj at path; reports serverside-applied or unchanged. skip_call: the
 * namespace does not exist in a dry run, so the server cannot evaluate the object. */
static int apply_one(struct sync *s, const struct prov_kind *k, const char *ns, json_t *obj,
		     const char *template_file, json_t *objs, bool skip_call, struct spok_err *err)
{
	char *path = obj_path(k, ns, meta_str(obj, "name"));
	char *fm = kube_escape(kube_client_field_manager(s->c));
	char *query = xasprintf("fieldManager=%s&force=true%s", fm, s->o->dry_run ? "&dryRun=All" : "");
	json_t *before = NULL;
	struct kube_sync ks = {0};
	int result = 0;

	if (!skip_call)
		result = get_before(s, path, &before, err);
	if (result == 0 && !skip_call)
		result = call(s, "PATCH", path, query, obj, &ks, err);
	if (result == 0)
		report_obj(objs, obj, template_file,
			   skip_call || changed(s, before, ks.body) ? "serverside-applied" : "unchanged");
	else
		spok_err_prefix(err, "%s", template_file ? template_file : "namespace");
	json_decref(before);
	kube_sync_free(&ks);
	free(query);
	free(fm);
	free(path);
	return result;
}

/* ---- managed kinds (kept on the Namespace) ---- */

static void kinds_add(struct spok_strv *v, const char *api_version, const char *kind)
{
	char *e = xasprintf("%s/%s", api_version, kind);

	for (size_t i = 0; i < v->len; i++)
		if (strcmp(v->items[i], e) == 0) {
			free(e);
			return;
		}
	spok_strv_push_own(v, e);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Previously recorded kinds (from the live Namespace) plus the current ones, sorted. */
static void managed_kinds(const struct plan_ns *pn, const json_t *live_ns, struct spok_strv *out)
{
	const char *old = jstr(json_object_get(json_object_get(live_ns, "metadata"), "annotations"),
			       PROV_ANN_KINDS);

	while (old != NULL && *old) {
		const char *comma = strchr(old, ',');
		size_t n = comma ? (size_t)(comma - old) : strlen(old);
		char *item = xstrndup(old, n);
		char *slash = strrchr(item, '/');

		if (slash != NULL && slash != item && slash[1] != '\0') {
			*slash = '\0';
			kinds_add(out, item, slash + 1);
		}
		free(item);
		old = comma ? comma + 1 : NULL;
	}
	for (size_t i = 0; i < pn->n; i++)
		kinds_add(out, pn->objs[i].k->api_version, pn->objs[i].k->kind);
	if (out->len > 1)
		qsort(out->items, out->len, sizeof(char *), cmp_str);
}

static json_t *namespace_obj(const struct plan_ns *pn, const struct spok_strv *kinds)
{
	json_t *o = pn->ns_obj ? json_deep_copy(pn->ns_obj)
			       : json_pack("{s:s,s:s,s:{s:s,s:{s:s}}}", "apiVersion", "v1", "kind",
					   "Namespace", "metadata", "name", pn->ns, "labels",
					   PROV_LABEL_MANAGED, PROV_LABEL_VALUE);
	json_t *meta = json_object_get(o, "metadata");
	json_t *ann = json_object_get(meta, "annotations");
	struct spok_buf b;

	spok_buf_init(&b, 0);
	for (size_t i = 0; i < kinds->len; i++)
		spok_buf_printf(&b, "%s%s", i ? "," : "", kinds->items[i]);
	if (!json_is_object(ann)) {
		ann = json_object();
		json_object_set_new(meta, "annotations", ann);
	}
	json_object_set_new(ann, PROV_ANN_KINDS, json_string(b.data ? b.data : ""));
	spok_buf_free(&b);
	return o;
}

/* ---- pruning ---- */

static bool wanted(const struct plan_ns *pn, const struct prov_kind *k, const char *name)
{
	for (size_t i = 0; i < pn->n; i++)
		if (pn->objs[i].k == k && strcmp(meta_str(pn->objs[i].obj, "name"), name) == 0)
			return true;
	return false;
}

static int prune_item(struct sync *s, const struct prov_kind *k, const struct plan_ns *pn,
		      json_t *item, json_t *objs, struct spok_err *err)
{
	const char *name = meta_str(item, "name");
	const char *tmpl = jstr(json_object_get(json_object_get(item, "metadata"), "annotations"),
				PROV_ANN_TEMPLATE);
	struct kube_gvr gvr = {k->group, k->version, k->resource};
	struct kube_sync ks = {0};
	int result = 0;

	if (name == NULL || wanted(pn, k, name))
		return SPOK_OK;
	/* List items carry no apiVersion/kind: report with the resolved ones. */
	json_object_set_new(item, "apiVersion", json_string(k->api_version));
	json_object_set_new(item, "kind", json_string(k->kind));
	if (!s->o->dry_run) {
		result = kube_delete(s->c, &gvr, pn->ns, name, "Background", NULL, kube_sync_cb, &ks,
				     err);
		if (result == 0)
			result = kube_sync_wait(s->c, &ks, err);
		if (result == SPOK_ENOTFOUND) { /* deleted meanwhile: the goal is reached */
			spok_err_clear(err);
			result = 0;
		}
		kube_sync_free(&ks);
	}
	if (result == 0)
		report_obj(objs, item, tmpl, "pruned");
	return result;
}

static int prune_kind(struct sync *s, const struct plan_ns *pn, const char *entry, json_t *objs,
		      struct spok_err *err)
{
	char *av = xstrdup(entry), *kind = strrchr(av, '/');
	const struct prov_kind *k = NULL;
	struct kube_list_opts lo = {.label_selector = PROV_LABEL_MANAGED "=" PROV_LABEL_VALUE};
	struct kube_sync ks = {0};
	struct kube_gvr gvr;
	struct spok_err kerr = {0};
	json_t *items;
	int result = 0;

	*kind++ = '\0';
	/* A kind that is no longer served (CRD removed) has no objects left to prune. */
	if (prov_kind_resolve(s->c, &s->kinds, av, kind, "namespace annotation", &k, &kerr) != 0) {
		log_info("cluster sync: %s: not pruning %s: %s", pn->ns, entry, kerr.msg);
		free(av);
		return kerr.code == SPOK_EINVAL ? 0 : spok_err_set(err, kerr.code, "%s", kerr.msg);
	}
	free(av);
	if (!k->namespaced)
		return SPOK_OK;
	gvr = (struct kube_gvr){k->group, k->version, k->resource};
	result = kube_list(s->c, &gvr, pn->ns, &lo, kube_sync_cb, &ks, err);
	if (result == 0)
		result = kube_sync_wait(s->c, &ks, err);
	items = json_object_get(ks.body, "items");
	for (size_t i = 0; result == 0 && i < json_array_size(items); i++)
		result = prune_item(s, k, pn, json_array_get(items, i), objs, err);
	kube_sync_free(&ks);
	return result;
}

/* ---- one namespace ---- */

static int sync_ns(struct sync *s, const struct plan_ns *pn, json_t *objs, struct spok_err *err)
{
	const struct prov_kind *nsk = NULL;
	struct spok_strv kinds = {0};
	json_t *live = NULL, *nsobj;
	char *path;
	int result;

	prov_kind_resolve(NULL, &s->kinds, "v1", "Namespace", "", &nsk, NULL);
	path = obj_path(nsk, NULL, pn->ns);
	result = get_before(s, path, &live, err);
	free(path);
	if (result != 0)
		return result;
	managed_kinds(pn, live, &kinds);
	nsobj = namespace_obj(pn, &kinds);
	result = apply_one(s, nsk, NULL, nsobj, pn->ns_obj ? jstr(json_object_get(
				   json_object_get(pn->ns_obj, "metadata"), "annotations"),
				   PROV_ANN_TEMPLATE) : NULL, objs, false, err);
	json_decref(nsobj);
	for (size_t i = 0; result == 0 && i < pn->n; i++)
		result = apply_one(s, pn->objs[i].k, pn->ns, pn->objs[i].obj, pn->objs[i].doc->file,
				   objs, s->o->dry_run && live == NULL, err);
	for (size_t i = 0; result == 0 && s->o->prune && live != NULL && i < kinds.len; i++)
		result = prune_kind(s, pn, kinds.items[i], objs, err);
	spok_strv_free(&kinds);
	json_decref(live);
	return result;
}

static void summarise(json_t *report)
{
	json_int_t applied = 0, unchanged = 0, pruned = 0;
	json_t *nss = json_object_get(report, "namespaces");

	for (size_t i = 0; i < json_array_size(nss); i++) {
		json_t *objs = json_object_get(json_array_get(nss, i), "objects");

		for (size_t j = 0; j < json_array_size(objs); j++) {
			const char *a = jstr(json_array_get(objs, j), "action");

			applied += strcmp(a, "serverside-applied") == 0;
			unchanged += strcmp(a, "unchanged") == 0;
			pruned += strcmp(a, "pruned") == 0;
		}
	}
	json_object_set_new(report, "summary", json_pack("{s:I,s:I,s:I}", "applied", applied,
							 "unchanged", unchanged, "pruned", pruned));
}

static void sync_free(struct sync *s)
{
	for (size_t i = 0; i < s->nplan; i++) {
		free(s->plan[i].ns);
		json_decref(s->plan[i].ns_obj);
		for (size_t j = 0; j < s->plan[i].n; j++)
			json_decref(s->plan[i].objs[j].obj);
		free(s->plan[i].objs);
	}
	free(s->plan);
	prov_kinds_free(&s->kinds);
	prov_templates_free(&s->t);
}

int prov_sync(struct kube_client *c, const struct prov_opts *o, json_t **report,
	      struct spok_err *err)
{
	struct sync s = {.c = c, .o = o};
	json_t *nss = json_array();
	int result;

	*report = json_pack("{s:b,s:o}", "dryRun", o->dry_run, "namespaces", nss);
	result = plan_all(&s, err);
	for (size_t i = 0; result == 0 && i < s.nplan; i++) {
		json_t *objs = json_array();

		json_array_append_new(nss, json_pack("{s:s,s:s,s:s,s:o}", "namespace", s.plan[i].ns,
						     "project", s.plan[i].project, "domain",
						     s.plan[i].domain, "objects", objs));
		result = sync_ns(&s, &s.plan[i], objs, err);
	}
	summarise(*report);
	sync_free(&s);
	return result;
}
