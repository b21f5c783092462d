/* provision.h - per-namespace cluster resources: `spok cluster sync` (docs/PROVISIONING.md).
 *
 * For each project x domain, the namespace spok_namespace_for() names gets the objects rendered
 * from a directory of templates (Flyte cluster-resource style, `{{ var }}` placeholders):
 * applied by server-side apply, labelled spok.dev/managed-by=cluster-sync, and objects of that
 * label that no template produces any more are deleted (pruned). Every template is rendered and
 * checked for every namespace before the first write.
 *
 * Ownership: struct prov_templates owns its docs (prov_templates_free). prov_render's *out and
 * every json_t returned through an out-parameter belong to the caller (free / json_decref).
 * Inputs are borrowed and never kept.
 */
#ifndef SPOK_PROVISION_PROVISION_H
#define SPOK_PROVISION_PROVISION_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "common/strmap.h"
#include "kube/client.h"
#include "model/model.h"

#define PROV_LABEL_MANAGED "spok.dev/managed-by"
#define PROV_LABEL_VALUE "cluster-sync"
#define PROV_ANN_TEMPLATE "spok.dev/template"
/* On the Namespace: every apiVersion/Kind ever applied there, so pruning still finds the
 * objects of a kind whose last template was removed (including CRD kinds). */
#define PROV_ANN_KINDS "spok.dev/managed-kinds"

#define PROV_MAX_TEMPLATE ((size_t)1 << 20)   /* bytes per template file */
#define PROV_MAX_RENDERED ((size_t)4 << 20)   /* bytes of one rendered document */
#define PROV_MAX_DOCS 1000                    /* documents in a template directory */

/* ---- templates (pure: no I/O except prov_templates_load) ---- */

/* One YAML document of a template file. `text` keeps the file's line numbers: it starts with
 * as many newlines as lines precede the document, so parse errors point into the file. */
struct prov_doc {
	char *path;   /* file path as loaded, for messages */
	char *file;   /* base name, for the spok.dev/template annotation */
	int index;    /* 1-based document number within the file */
	char *text;
};

struct prov_templates {
	struct prov_doc *docs;
	size_t len;
};

/* Replaces `{{ name }}` (spaces optional; name [A-Za-z_][A-Za-z0-9_.-]*) with vars[name].
 * Any other `{{` is copied as is. An undefined name fails with
 * "<path>:<line>: undefined template variable 'x'; ...". Output capped at PROV_MAX_RENDERED. */
int prov_render(const char *text, size_t len, const char *path, const struct spok_strmap *vars,
		char **out, struct spok_err *err);

/* Splits text into documents at lines that start with `---` and adds them to t. */
int prov_templates_add(struct prov_templates *t, const char *path, const char *text, size_t len,
		       struct spok_err *err);
/* Loads every *.yaml, *.yml and *.json file of dir (not hidden ones), in name order. */
int prov_templates_load(struct prov_templates *t, const char *dir, struct spok_err *err);
void prov_templates_free(struct prov_templates *t);

/* Renders doc for namespace ns and checks it: a mapping with apiVersion, kind and
 * metadata.name; metadata.namespace absent or equal to ns (it is set to ns); a Namespace must
 * be named ns. Adds the managed-by label and template annotation. *out is NULL for an empty
 * document (only comments). */
int prov_build(const struct prov_doc *doc, const struct spok_strmap *vars, const char *ns,
	       json_t **out, struct spok_err *err);

/* The variables for one namespace: values, then project-values[project], then namespace,
 * project and domain (these three always win). */
void prov_vars(const struct spok_cluster_resources *cr, const char *ns, const char *project,
	       const char *domain, struct spok_strmap *out);

/* ---- sync (talks to the API server) ---- */

struct prov_opts {
	const struct spok_platform *platform;       /* namespace-template */
	const struct spok_cluster_resources *cr;    /* templates dir, projects, domains, values */
	bool dry_run;                               /* server-side dryRun=All, nothing pruned */
	bool prune;
};

/* Runs the sync with c (synchronously: runs c's loop). *report (always set, caller decrefs)
 * is {"dryRun":b,"namespaces":[{"namespace","project","domain","objects":[{"ref",
 * "apiVersion","kind","name","namespace","template","action"}]}],"summary":{...}} with
 * action "serverside-applied" | "unchanged" | "pruned"; on an error it holds what was done
 * before it. Template errors are found before any write. */
int prov_sync(struct kube_client *c, const struct prov_opts *o, json_t **report,
	      struct spok_err *err);

/* "role.rbac.authorization.k8s.io/spark-role": kubectl's way of naming an object. Caller frees. */
char *prov_ref(const char *api_version, const char *kind, const char *name);

#endif
