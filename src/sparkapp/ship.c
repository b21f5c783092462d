/* ship.c - the pure half of shipping a job's local files to the cluster: which paths are
 * local, what their ConfigMap keys are, the ConfigMap object, and the pod-template volume
 * the SparkApplication mounts it with. Reading the files is the engine's job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/xalloc.h"
#include "sparkapp/internal.h"
#include "sparkapp/sparkapp.h"

bool spok_path_is_local(const char *path)
{
	const char *p = path;

	if (path == NULL || path[0] == '\0')
		return false;
	/* RFC 3986 scheme, as java.net.URI (Spark's resolveURI) reads it: ALPHA *(ALPHA /
	 * DIGIT / "+" / "-" / ".") ":". Anything else is a path on this machine. */
	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		return true;
	for (p++; *p && *p != ':'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.'))
			return true;
	return *p != ':';
}

/* A ConfigMap key: [-._a-zA-Z0-9]+, at most 253 bytes, not "." or "..". */
static bool valid_key(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > 253 || strcmp(k, ".") == 0 || strcmp(k, "..") == 0)
		return false;
	for (const char *p = k; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return false;
	return true;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static void add_file(struct spok_ship *s, const char *field, const char *path)
{
	struct spok_ship_file *f;

	s->files = xreallocarray(s->files, s->n + 1, sizeof(*s->files));
	f = &s->files[s->n++];
	memset(f, 0, sizeof(*f));
	f->field = xstrdup(field);
	f->path = xstrdup(path);
	f->key = xstrdup(base_name(path));
}

static void add_local(struct spok_ship *s, const char *field, const struct spok_strv *v)
{
	for (size_t i = 0; i < v->len; i++)
		if (spok_path_is_local(v->items[i]))
			add_file(s, field, v->items[i]);
}

const char *spok_ship_first_local(const struct spok_task *t, const char **field)
{
	const struct {
		const char *field;
		const struct spok_strv *v;
	} lists[] = {{"pyFiles", &t->py_files}, {"files", &t->files}};

	*field = "mainApplicationFile";
	if (spok_path_is_local(t->main_application_file))
		return t->main_application_file;
	for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++)
		for (size_t i = 0; i < lists[l].v->len; i++)
			if (spok_path_is_local(lists[l].v->items[i])) {
				*field = lists[l].field;
				return lists[l].v->items[i];
			}
	return NULL;
}

int spok_ship_list(const struct spok_task *t, struct spok_ship *out, struct spok_err *err)
{
	memset(out, 0, sizeof(*out));
	if (spok_path_is_local(t->main_application_file))
		add_file(out, "mainApplicationFile", t->main_application_file);
	add_local(out, "pyFiles", &t->py_files);
	add_local(out, "files", &t->files);
	for (size_t i = 0; i < out->n; i++) {
		const struct spok_ship_file *f = &out->files[i];

		if (!valid_key(f->key)) {
			spok_err_set(err, SPOK_EINVAL,
				     "%s %s: the file name cannot be shipped (a ConfigMap key: 1-253 "
				     "letters, digits, '-', '_', '.'); rename the file", f->field, f->path);
			spok_ship_free(out);
			return SPOK_EINVAL;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(out->files[j].key, f->key) == 0) {
				spok_err_set(err, SPOK_EINVAL,
					     "%s %s: another shipped file (%s) has the same base name; "
					     "rename one of them", f->field, f->path, out->files[j].path);
				spok_ship_free(out);
				return SPOK_EINVAL;
			}
	}
	return SPOK_OK;
}

void spok_ship_free(struct spok_ship *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->files[i].field);
		free(s->files[i].path);
		free(s->files[i].key);
		free(s->files[i].data);
	}
	free(s->files);
	memset(s, 0, sizeof(*s));
}

char *spok_ship_configmap_name(const char *app_name)
{
	return xasprintf("%s%s", app_name ? app_name : "", SPOK_SHIP_SUFFIX);
}

char *spok_ship_uri(const char *path)
{
	return xasprintf("local://%s/%s", SPOK_SHIP_MOUNT, base_name(path));
}

json_t *spok_ship_configmap(const json_t *app, const struct spok_ship *s)
{
	const json_t *md = json_object_get(app, "metadata");
	char *name = spok_ship_configmap_name(json_string_value(json_object_get(md, "name")));
	json_t *cm = json_object(), *meta = json_object(), *bin = json_object();
	const json_t *labels = json_object_get(md, "labels");

	spok__jset(meta, "name", spok__jstr(name));
	spok__jset(meta, "namespace",
		   spok__jstr(json_string_value(json_object_get(md, "namespace"))));
	if (json_is_object(labels))
		spok__jset(meta, "labels", json_deep_copy(labels));
	for (size_t i = 0; i < s->n; i++) {
		char *b = spok_base64_encode(s->files[i].data ? s->files[i].data : (const unsigned char *)"",
				 s->files[i].len);
		json_object_set_new(bin, s->files[i].key, json_string(b));
		free(b);
	}
	spok__jset(cm, "apiVersion", spok__jstr("v1"));
	spok__jset(cm, "kind", spok__jstr("ConfigMap"));
	spok__jset(cm, "metadata", meta);
	/* The kubelet does not watch an immutable ConfigMap; its content never changes. */
	spok__jset(cm, "immutable", json_true());
	spok__jset(cm, "binaryData", bin);
	free(name);
	return cm;
}

/* Shipped pyFiles: Spark leaves local:// files where they are (it serves only other files to
 * the executors), so a module shipped with pyFiles would be importable on the driver only.
 * Python in both pods finds the mount's .py files and each shipped .zip/.egg through
 * PYTHONPATH, which Spark's Python runner and workers extend. NULL when none is shipped. */
char *spok__ship_pythonpath(const struct spok_task *t)
{
	char *out = NULL;

	for (size_t i = 0; i < t->py_files.len; i++) {
		const char *f = t->py_files.items[i], *b = base_name(f);
		size_t n = strlen(b);
		bool pkg = n > 4 && (strcmp(b + n - 4, ".zip") == 0 || strcmp(b + n - 4, ".egg") == 0);
		char *next;

		if (!spok_path_is_local(f))
			continue;
		if (out == NULL)
			out = xstrdup(SPOK_SHIP_MOUNT);
		if (!pkg)
			continue;
		next = xasprintf("%s:%s/%s", out, SPOK_SHIP_MOUNT, b);
		free(out);
		out = next;
	}
	return out;
}

/* The ConfigMap as a read-only volume (and its mount) of Spark's container in both roles. */
void spok__ship_volume(const char *app_name, json_t *volumes, json_t *mounts)
{
	char *cm = spok_ship_configmap_name(app_name);
	json_t *vol = json_object(), *src = json_object(), *mnt = json_object();

	spok__jset(src, "name", spok__jstr(cm));
	spok__jset(vol, "name", spok__jstr(SPOK_SHIP_VOLUME));
	spok__jset(vol, "configMap", src);
	spok__jset(mnt, "name", spok__jstr(SPOK_SHIP_VOLUME));
	spok__jset(mnt, "readOnly", json_true());
	spok__jset(mnt, "mountPath", spok__jstr(SPOK_SHIP_MOUNT));
	json_array_append_new(volumes, vol);
	json_array_append_new(mounts, mnt);
	free(cm);
}
