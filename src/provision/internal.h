/* internal.h - private to src/provision. */
#ifndef SPOK_PROVISION_INTERNAL_H
#define SPOK_PROVISION_INTERNAL_H

#include "provision/provision.h"

/* A resolved kind. Entries are allocated one by one, so pointers to them stay valid while
 * the cache grows; prov_kinds_free releases them all. */
struct prov_kind {
	char *api_version;
	char *kind;
	char *group;     /* "" for the core group */
	char *version;
	char *resource;
	bool namespaced;
};

struct prov_kinds {
	struct prov_kind **items;
	size_t len;
};

/* Built-in table first, then API discovery through c (NULL: table only). `where` names the
 * template in errors. *out is borrowed from k. */
int prov_kind_resolve(struct kube_client *c, struct prov_kinds *k, const char *api_version,
		      const char *kind, const char *where, const struct prov_kind **out,
		      struct spok_err *err);
void prov_kinds_free(struct prov_kinds *k);

#endif
