/* template.c - cluster-resource templates: load, split into documents, render, check. */
#include "provision/provision.h"

#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "yamljson/yamljson.h"

#define VAR_NAME_MAX 128

static int line_of(const char *text, const char *at)
{
	int line = 1;

	for (const char *p = text; p < at; p++)
		line += *p == '\n';
	return line;
}

static bool name_start(char c)
{
	return isalpha((unsigned char)c) || c == '_';
}

static bool name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-';
}

/* If p (at "{{") starts a placeholder, returns its length and the name span. */
static size_t placeholder(const char *p, const char *end, const char **name, size_t *name_len)
{
	const char *q = p + 2;

	while (q < end && (*q == ' ' || *q == '\t'))
		q++;
	if (q >= end || !name_start(*q))
		return 0;
	*name = q;
	while (q < end && name_char(*q))
		q++;
	*name_len = (size_t)(q - *name);
	while (q < end && (*q == ' ' || *q == '\t'))
		q++;
	if (end - q < 2 || q[0] != '}' || q[1] != '}')
		return 0;
	return (size_t)(q + 2 - p);
}

int prov_render(const char *text, size_t len, const char *path, const struct spok_strmap *vars,
		char **out, struct spok_err *err)
{
	const char *p = text, *end = text + len;
	struct spok_buf b;

	spok_buf_init(&b, PROV_MAX_RENDERED);
	*out = NULL;
	while (p < end) {
		const char *open = memmem(p, (size_t)(end - p), "{{", 2);
		const char *name = NULL, *value;
		size_t n = 0, name_len = 0;
		char key[VAR_NAME_MAX + 1];

		if (open == NULL)
			open = end;
		if (spok_buf_append(&b, p, (size_t)(open - p)) != 0)
			goto too_big;
		if (open == end)
			break;
		n = placeholder(open, end, &name, &name_len);
		if (n == 0) {
			if (spok_buf_append(&b, "{{", 2) != 0)
				goto too_big;
			p = open + 2;
			continue;
		}
		if (name_len > VAR_NAME_MAX) {
			spok_buf_free(&b);
			return spok_err_set(err, SPOK_EINVAL,
					    "%s:%d: template variable name longer than %d characters; "
					    "use a shorter name", path, line_of(text, open), VAR_NAME_MAX);
		}
		memcpy(key, name, name_len);
		key[name_len] = '\0';
		value = vars ? spok_strmap_get(vars, key) : NULL;
		if (value == NULL) {
			spok_buf_free(&b);
			return spok_err_set(err, SPOK_EINVAL,
					    "%s:%d: undefined template variable '%s'; define it under "
					    "spok.cluster-resources.values (or project-values)",
					    path, line_of(text, open), key);
		}
		if (spok_buf_appends(&b, value) != 0)
			goto too_big;
		p = open + n;
	}
	if (memchr(b.data ? b.data : "", '\0', b.len) != NULL) {
		spok_buf_free(&b);
		return spok_err_set(err, SPOK_EINVAL, "%s: contains a NUL byte; templates are text",
				    path);
	}
	*out = b.data ? spok_buf_detach(&b) : xstrdup("");
	spok_buf_free(&b);
	return SPOK_OK;
too_big:
	spok_buf_free(&b);
	return spok_err_set(err, SPOK_EINVAL, "%s: rendered template is larger than %zu bytes; "
			    "split it or shorten the values", path, PROV_MAX_RENDERED);
}

/* ---- documents ---- */

static bool is_doc_marker(const char *p, const char *end)
{
	return end - p >= 3 && memcmp(p, "---", 3) == 0 &&
	       (end - p == 3 || p[3] == '\n' || p[3] == '\r' || p[3] == ' ' || p[3] == '\t');
}

static int add_doc(struct prov_templates *t, const char *path, int index, int first_line,
		   const char *p, size_t n, struct spok_err *err)
{
	const char *slash = strrchr(path, '/');
	struct prov_doc *d;
	char *text;

	if (t->len >= PROV_MAX_DOCS)
		return spok_err_set(err, SPOK_EINVAL, "%s: more than %d template documents; "
				    "use fewer templates", path, PROV_MAX_DOCS);
	text = xmalloc((size_t)first_line - 1 + n + 1);
	memset(text, '\n', (size_t)first_line - 1);
	memcpy(text + first_line - 1, p, n);
	text[(size_t)first_line - 1 + n] = '\0';
	t->docs = xreallocarray(t->docs, t->len + 1, sizeof(*t->docs));
	d = &t->docs[t->len++];
	d->path = xstrdup(path);
	d->file = xstrdup(slash ? slash + 1 : path);
	d->index = index;
	d->text = text;
	return SPOK_OK;
}

int prov_templates_add(struct prov_templates *t, const char *path, const char *text, size_t len,
		       struct spok_err *err)
{
	const char *end = text + len, *p = text, *start = text;
	int line = 1, start_line = 1, index = 1;

	if (memchr(text, '\0', len) != NULL)
		return spok_err_set(err, SPOK_EINVAL, "%s: contains a NUL byte; templates are text",
				    path);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;

		if (is_doc_marker(p, eol)) {
			if (p > start &&
			    add_doc(t, path, index++, start_line, start, (size_t)(p - start), err) != 0)
				return SPOK_EINVAL;
			/* Whatever follows the marker on its line belongs to the next document. */
			start = p + 3;
			start_line = line;
		}
		p = nl ? nl + 1 : end;
		line++;
	}
	if (end > start)
		return add_doc(t, path, index, start_line, start, (size_t)(end - start), err);
	return SPOK_OK;
}

static bool template_name(const char *n)
{
	size_t l = strlen(n);

	if (n[0] == '.')
		return false;
	return (l > 5 && strcmp(n + l - 5, ".yaml") == 0) || (l > 4 && strcmp(n + l - 4, ".yml") == 0) ||
	       (l > 5 && strcmp(n + l - 5, ".json") == 0);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_file(struct prov_templates *t, const char *path, struct spok_err *err)
{
	struct spok_buf b;
	int result;

	spok_buf_init(&b, PROV_MAX_TEMPLATE);
	result = spok_buf_read_file(&b, path, err);
	if (result == 0)
		result = prov_templates_add(t, path, b.data ? b.data : "", b.len, err);
	spok_buf_free(&b);
	return result;
}

int prov_templates_load(struct prov_templates *t, const char *dir, struct spok_err *err)
{
	struct spok_strv names = {0};
	struct dirent *e;
	DIR *d = opendir(dir);
	int result = SPOK_OK;

	if (d == NULL)
		return spok_err_set(err, SPOK_EIO, "%s: cannot open the templates directory; "
				    "check spok.cluster-resources.templates-dir or --templates", dir);
	while ((e = readdir(d)) != NULL)
		if (template_name(e->d_name))
			spok_strv_push(&names, e->d_name);
	closedir(d);
	if (names.len == 0) {
		spok_strv_free(&names);
		return spok_err_set(err, SPOK_EINVAL, "%s: no templates (*.yaml, *.yml, *.json); "
				    "add some or point --templates elsewhere", dir);
	}
	qsort(names.items, names.len, sizeof(char *), cmp_str);
	for (size_t i = 0; i < names.len && result == 0; i++) {
		char *path = xasprintf("%s/%s", dir, names.items[i]);

		result = load_file(t, path, err);
		free(path);
	}
	spok_strv_free(&names);
	return result;
}

void prov_templates_free(struct prov_templates *t)
{
	for (size_t i = 0; i < t->len; i++) {
		free(t->docs[i].path);
		free(t->docs[i].file);
		free(t->docs[i].text);
	}
	free(t->docs);
	t->docs = NULL;
	t->len = 0;
}

/* ---- variables and checks ---- */

void prov_vars(const struct spok_cluster_resources *cr, const char *ns, const char *project,
	       const char *domain, struct spok_strmap *out)
{
	if (cr != NULL) {
		spok_strmap_merge(out, &cr->values);
		for (size_t i = 0; i < cr->nproject_values; i++)
			if (strcmp(cr->project_values[i].project, project) == 0)
				spok_strmap_merge(out, &cr->project_values[i].values);
	}
	spok_strmap_set(out, "namespace", ns);
	spok_strmap_set(out, "project", project);
	spok_strmap_set(out, "domain", domain);
}

/* "file.yaml" or "file.yaml (document 2)" for messages. */
static void doc_name(const struct prov_doc *d, char *buf, size_t size)
{
	if (d->index > 1)
		snprintf(buf, size, "%s (document %d)", d->path, d->index);
	else
		snprintf(buf, size, "%s", d->path);
}

static const char *str_field(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int need_string(const json_t *o, const char *key, const char *field, const char *where,
		       struct spok_err *err)
{
	const char *s = str_field(o, key);

	if (s == NULL || s[0] == '\0')
		return spok_err_set(err, SPOK_EINVAL, "%s: %s is missing or not a string; every "
				    "template needs apiVersion, kind and metadata.name", where, field);
	return SPOK_OK;
}

static int check_object(json_t *obj, const char *ns, const char *where, struct spok_err *err)
{
	json_t *meta = json_object_get(obj, "metadata");
	const char *kind, *ons;

	if (!json_is_object(obj))
		return spok_err_set(err, SPOK_EINVAL, "%s: expected a Kubernetes object (a mapping); "
				    "one object per YAML document", where);
	if (need_string(obj, "apiVersion", "apiVersion", where, err) != 0 ||
	    need_string(obj, "kind", "kind", where, err) != 0)
		return SPOK_EINVAL;
	if (!json_is_object(meta))
		return spok_err_set(err, SPOK_EINVAL, "%s: metadata is missing or not a mapping; every "
				    "template needs apiVersion, kind and metadata.name", where);
	if (need_string(meta, "name", "metadata.name", where, err) != 0)
		return SPOK_EINVAL;
	for (int i = 0; i < 2; i++) {
		const char *key = i ? "annotations" : "labels";
		json_t *m = json_object_get(meta, key);
		const char *k;
		json_t *v;
		bool ok = m == NULL || json_is_object(m);

		json_object_foreach(ok ? m : NULL, k, v)
			ok = ok && json_is_string(v);
		if (!ok)
			return spok_err_set(err, SPOK_EINVAL, "%s: metadata.%s must be a mapping of "
					    "strings; write %s: {key: value}", where, key, key);
	}
	kind = str_field(obj, "kind");
	if (strcmp(kind, "Namespace") == 0 && strcmp(str_field(obj, "apiVersion"), "v1") == 0) {
		if (strcmp(str_field(meta, "name"), ns) != 0)
			return spok_err_set(err, SPOK_EINVAL, "%s: Namespace '%.100s' is not the target "
					    "namespace '%s'; name it {{ namespace }}", where,
					    str_field(meta, "name"), ns);
		return SPOK_OK;
	}
	ons = str_field(meta, "namespace");
	if (json_object_get(meta, "namespace") != NULL && (ons == NULL || strcmp(ons, ns) != 0))
		return spok_err_set(err, SPOK_EINVAL, "%s: metadata.namespace '%.100s' is not the target "
				    "namespace '%s'; remove it or write {{ namespace }}", where,
				    ons ? ons : "(not a string)", ns);
	json_object_set_new(meta, "namespace", json_string(ns));
	return SPOK_OK;
}

static void mark(json_t *meta, const char *key, const char *k, const char *v)
{
	json_t *m = json_object_get(meta, key);

	if (!json_is_object(m)) {
		m = json_object();
		json_object_set_new(meta, key, m);
	}
	json_object_set_new(m, k, json_string(v));
}

int prov_build(const struct prov_doc *doc, const struct spok_strmap *vars, const char *ns,
	       json_t **out, struct spok_err *err)
{
	char where[1200];
	char *text = NULL;
	json_t *obj;
	json_t *meta;

	*out = NULL;
	doc_name(doc, where, sizeof(where));
	if (prov_render(doc->text, strlen(doc->text), doc->path, vars, &text, err) != 0)
		return SPOK_EINVAL;
	obj = spok_yaml_to_json(text, strlen(text), doc->path, err);
	free(text);
	if (obj == NULL)
		return SPOK_EINVAL;
	if (json_is_null(obj)) {
		json_decref(obj);
		return SPOK_OK;
	}
	if (check_object(obj, ns, where, err) != 0) {
		json_decref(obj);
		return SPOK_EINVAL;
	}
	meta = json_object_get(obj, "metadata");
	mark(meta, "labels", PROV_LABEL_MANAGED, PROV_LABEL_VALUE);
	mark(meta, "annotations", PROV_ANN_TEMPLATE, doc->file);
	*out = obj;
	return SPOK_OK;
}

char *prov_ref(const char *api_version, const char *kind, const char *name)
{
	const char *slash = strchr(api_version, '/');
	char *lower = xstrdup(kind), *ref;

	for (char *p = lower; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (slash != NULL)
		ref = xasprintf("%s.%.*s/%s", lower, (int)(slash - api_version), api_version, name);
	else
		ref = xasprintf("%s/%s", lower, name);
	free(lower);
	return ref;
}
