/* kinds.c - apiVersion + kind -> REST resource: a built-in table of the core kinds templates
 * usually hold, API discovery (GET /api/v1, /apis/<group>/<version>) for everything else,
 * CRDs included. */
#include "provision/internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

static const struct {
	const char *api_version, *kind, *resource;
	bool namespaced;
} builtin[] = {
	{"v1", "Namespace", "namespaces", false},
	{"v1", "ServiceAccount", "serviceaccounts", true},
	{"v1", "ResourceQuota", "resourcequotas", true},
	{"v1", "LimitRange", "limitranges", true},
	{"v1", "ConfigMap", "configmaps", true},
	{"v1", "Secret", "secrets", true},
	{"v1", "PodTemplate", "podtemplates", true},
	{"rbac.authorization.k8s.io/v1", "Role", "roles", true},
	{"rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", true},
	{"networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", true},
};

static struct prov_kind *add(struct prov_kinds *k, const char *api_version, const char *kind,
			     const char *resource, bool namespaced)
{
	const char *slash = strchr(api_version, '/');
	struct prov_kind *e;

	e = xcalloc(1, sizeof(*e));
	k->items = xreallocarray(k->items, k->len + 1, sizeof(*k->items));
	k->items[k->len++] = e;
	e->api_version = xstrdup(api_version);
	e->kind = xstrdup(kind);
	e->group = slash ? xstrndup(api_version, (size_t)(slash - api_version)) : xstrdup("");
	e->version = xstrdup(slash ? slash + 1 : api_version);
	e->resource = xstrdup(resource);
	e->namespaced = namespaced;
	return e;
}

static const struct prov_kind *cached(const struct prov_kinds *k, const char *api_version,
				      const char *kind)
{
	for (size_t i = 0; i < k->len; i++)
		if (strcmp(k->items[i]->api_version, api_version) == 0 &&
		    strcmp(k->items[i]->kind, kind) == 0)
			return k->items[i];
	return NULL;
}

/* apiVersion goes into a URL path: allow what Kubernetes allows (DNS names, one '/'). */
static bool api_version_ok(const char *v)
{
	const char *slash = strchr(v, '/');

	if (v[0] == '\0' || v[0] == '/' || (slash && (slash[1] == '\0' || strchr(slash + 1, '/'))))
		return false;
	for (const char *p = v; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' ||
		      *p == '-' || *p == '/'))
			return false;
	return true;
}

static int discover(struct kube_client *c, struct prov_kinds *k, const char *api_version,
		    const char *kind, const char *where, const struct prov_kind **out,
		    struct spok_err *err)
{
	char *path = strchr(api_version, '/') ? xasprintf("/apis/%s", api_version)
					      : xasprintf("/api/%s", api_version);
	struct kube_req req = {.method = "GET", .path = path};
	struct kube_sync s = {0};
	json_t *res;
	size_t i;
	bool found;
	int result;

	result = kube_request(c, &req, kube_sync_cb, &s, err);
	if (result == 0)
		result = kube_sync_wait(c, &s, err);
	free(path);
	if (result == SPOK_ENOTFOUND) {
		kube_sync_free(&s);
		return spok_err_set(err, SPOK_EINVAL, "%s: apiVersion '%s' is not served by the API "
				    "server; install its CRD first or fix apiVersion", where, api_version);
	}
	if (result != 0) {
		kube_sync_free(&s);
		return result;
	}
	res = json_object_get(s.body, "resources");
	for (i = 0; i < json_array_size(res); i++) {
		json_t *r = json_array_get(res, i);
		const char *name = json_string_value(json_object_get(r, "name"));
		const char *rk = json_string_value(json_object_get(r, "kind"));

		if (name && rk && strcmp(rk, kind) == 0 && strchr(name, '/') == NULL) {
			*out = add(k, api_version, kind, name,
				   json_is_true(json_object_get(r, "namespaced")));
			break;
		}
	}
	found = i < json_array_size(res);
	kube_sync_free(&s); /* res points into the body: not used past here */
	if (!found)
		return spok_err_set(err, SPOK_EINVAL, "%s: kind '%.100s' is not served under apiVersion "
				    "'%s'; check the spelling (kinds are case-sensitive)", where,
				    kind, api_version);
	return SPOK_OK;
}

int prov_kind_resolve(struct kube_client *c, struct prov_kinds *k, const char *api_version,
		      const char *kind, const char *where, const struct prov_kind **out,
		      struct spok_err *err)
{
	*out = cached(k, api_version, kind);
	if (*out != NULL)
		return SPOK_OK;
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (strcmp(builtin[i].api_version, api_version) == 0 &&
		    strcmp(builtin[i].kind, kind) == 0) {
			*out = add(k, api_version, kind, builtin[i].resource, builtin[i].namespaced);
			return SPOK_OK;
		}
	if (!api_version_ok(api_version))
		return spok_err_set(err, SPOK_EINVAL, "%s: apiVersion '%.100s' is malformed; write "
				    "v1 or <group>/<version>", where, api_version);
	if (c == NULL)
		return spok_err_set(err, SPOK_EINVAL, "%s: kind %s/%s needs API discovery", where,
				    api_version, kind);
	return discover(c, k, api_version, kind, where, out, err);
}

void prov_kinds_free(struct prov_kinds *k)
{
	for (size_t i = 0; i < k->len; i++) {
		free(k->items[i]->api_version);
		free(k->items[i]->kind);
		free(k->items[i]->group);
		free(k->items[i]->version);
		free(k->items[i]->resource);
		free(k->items[i]);
	}
	free(k->items);
	k->items = NULL;
	k->len = 0;
}
