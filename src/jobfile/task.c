/* task.c - job file -> struct spok_task (format: docs/JOBFILE.md). */
#include "jobfile/jobfile.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/timefmt.h"
#include "common/buf.h"
#include "common/xalloc.h"
#include "jobfile/walk.h"

#define NAME_MAX_LEN 63
#define RETRIES_MAX 100
#define DURATION_MAX_S SPOK_TASK_TIMEOUT_MAX_S

enum task_key {
	K_NAME, K_PROJECT, K_DOMAIN, K_VERSION, K_TYPE, K_MAIN_FILE, K_MAIN_CLASS, K_ARGS,
	K_SPARK_CONF, K_HADOOP_CONF, K_EXECUTOR_PATH, K_IMAGE, K_COMMAND, K_ENV, K_SERVICE_ACCOUNT,
	K_DRIVER_POD, K_EXECUTOR_POD, K_RETRIES, K_TIMEOUT, K_INTERRUPTIBLE, K_POD_TEMPLATE_NAME,
	K_LABELS, K_ANNOTATIONS, K_CONFIG, K_INPUTS, K_OUTPUTS, K_PY_FILES, K_FILES
};

static const char *const task_keys[] = {
	"name", "project", "domain", "version", "type", "mainApplicationFile", "mainClass", "args",
	"sparkConf", "hadoopConf", "executorPath", "image", "command", "env", "serviceAccount",
	"driverPod", "executorPod", "retries", "timeout", "interruptible", "podTemplateName",
	"labels", "annotations", "config", "inputs", "outputs", "pyFiles", "files", NULL
};

static const char *const pod_keys[] = {
	"labels", "annotations", "primaryContainerName", "podSpec", NULL
};

static const struct {
	const char *name;
	enum spok_lit_type type;
} lit_types[] = {
	{"integer", SPOK_LIT_INTEGER}, {"float", SPOK_LIT_FLOAT}, {"string", SPOK_LIT_STRING},
	{"boolean", SPOK_LIT_BOOLEAN}, {"datetime", SPOK_LIT_DATETIME}, {"duration", SPOK_LIT_DURATION},
};

static bool name_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > NAME_MAX_LEN)
		return false;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* name, project and domain end up in Kubernetes names and labels. */
static int read_name(struct walk *w, const struct ynode *v, const char *field, char **out)
{
	if (walk_string(w, v, field, out) != SPOK_OK)
		return SPOK_EINVAL;
	if (*out == NULL || !name_ok(*out))
		return walk_fail(w, v, field,
				 "'%.80s' is not a valid name; use 1-%d lowercase letters, digits, '-' or '_', starting with a letter or digit",
				 *out ? *out : "", NAME_MAX_LEN);
	return SPOK_OK;
}

static int read_type(struct walk *w, const struct ynode *v, const char *field, enum spok_app_type *out)
{
	char *s = NULL;
	int result;

	if (walk_string(w, v, field, &s) != SPOK_OK)
		return SPOK_EINVAL;
	if (s != NULL && spok_app_type_parse(s, out))
		result = SPOK_OK;
	else
		result = walk_fail(w, v, field, "unknown application type '%.80s'; use PYTHON, JAVA, SCALA or R",
				   s ? s : "");
	free(s);
	return result;
}

/* A duration in whole seconds, rounded up, within the model's bound. */
static bool duration_s(const char *s, uint64_t *secs)
{
	uint64_t ms;

	if (spok_parse_duration_ms("timeout", s, &ms, NULL) != SPOK_OK)
		return false;
	*secs = ms / 1000 + (ms % 1000 != 0);
	return *secs <= DURATION_MAX_S;
}

static int read_timeout(struct walk *w, const struct ynode *v, const char *field, uint64_t *out)
{
	char *s = NULL;
	int result = SPOK_OK;

	if (walk_string(w, v, field, &s) != SPOK_OK)
		return SPOK_EINVAL;
	if (s == NULL)
		*out = 0;
	else if (!duration_s(s, out))
		result = walk_fail(w, v, field,
				   "'%.80s' is not a duration; write whole seconds (90) or a duration like 90s, 30m, 2h, 1h30m (0 = none)",
				   s);
	free(s);
	return result;
}

static int read_vars(struct walk *w, const struct ynode *v, const char *field, struct spok_vars *out)
{
	char path[WALK_PATH_MAX];

	spok_vars_free(out);
	if (walk_is_null(v))
		return SPOK_OK;
	if (walk_mapping(w, v, field) != SPOK_OK)
		return SPOK_EINVAL;
	for (size_t i = 0; i < v->n; i++) {
		const struct ynode *k = v->items[2 * i], *t = v->items[2 * i + 1];
		char *name = NULL, *type = NULL;
		size_t j, ntypes = sizeof(lit_types) / sizeof(lit_types[0]);

		walk_child(path, field, k);
		if (walk_text(w, k, path, &name) != SPOK_OK || walk_string(w, t, path, &type) != SPOK_OK) {
			free(name);
			return SPOK_EINVAL;
		}
		for (j = 0; type != NULL && j < ntypes; j++)
			if (strcasecmp(type, lit_types[j].name) == 0)
				break;
		if (type == NULL || j == ntypes) {
			free(name);
			free(type);
			return walk_fail(w, t, path,
					 "unknown type; use integer, float, string, boolean, datetime or duration");
		}
		spok_vars_add(out, name, lit_types[j].type);
		free(name);
		free(type);
	}
	return SPOK_OK;
}

static int read_pod(struct walk *w, const struct ynode *v, const char *field, struct spok_pod *pod)
{
	char path[WALK_PATH_MAX];
	int idx, result = SPOK_OK;

	spok_pod_free(pod);
	if (walk_is_null(v))
		return SPOK_OK;
	if (walk_mapping(w, v, field) != SPOK_OK)
		return SPOK_EINVAL;
	pod->present = true;
	for (size_t i = 0; i < v->n && result == SPOK_OK; i++) {
		const struct ynode *k = v->items[2 * i], *val = v->items[2 * i + 1];

		if (walk_key(w, k, field, pod_keys, NULL, &idx) != SPOK_OK)
			return SPOK_EINVAL;
		walk_child(path, field, k);
		switch (idx) {
		case 0: result = walk_strmap(w, val, path, false, &pod->labels); break;
		case 1: result = walk_strmap(w, val, path, false, &pod->annotations); break;
		case 2: result = walk_string(w, val, path, &pod->primary_container_name); break;
		default: result = walk_json(w, val, path, Y_MAP, &pod->pod_spec); break;
		}
	}
	return result;
}

/* pyFiles / files: paths or URIs that spark-submit joins with ',' into one argument. */
static int read_deps(struct walk *w, const struct ynode *v, const char *field,
		     struct spok_strv *out)
{
	char path[WALK_PATH_MAX];

	if (walk_strv(w, v, field, out) != SPOK_OK)
		return SPOK_EINVAL;
	if (out->len > SPOK_TASK_DEPS_MAX)
		return walk_fail(w, v, field,
				 "%zu entries is over the cap of %d; bundle them (a .zip for Python "
				 "modules) or put them in the image", out->len, SPOK_TASK_DEPS_MAX);
	for (size_t i = 0; i < out->len; i++) {
		const char *s = out->items[i];

		walk_index(path, field, i);
		if (s[0] == '\0')
			return walk_fail(w, v->items[i], path, "empty; name a file or a URI");
		if (strchr(s, ',') != NULL)
			return walk_fail(w, v->items[i], path,
					 "the path contains ',', which spark-submit reads as a "
					 "separator; rename the file");
	}
	return SPOK_OK;
}

static int read_field(struct walk *w, struct spok_task *t, int idx, const struct ynode *v,
		      const char *path)
{
	uint64_t u;

	switch ((enum task_key)idx) {
	case K_NAME: return read_name(w, v, path, &t->name);
	case K_PROJECT: return read_name(w, v, path, &t->project);
	case K_DOMAIN: return read_name(w, v, path, &t->domain);
	case K_VERSION: return walk_string(w, v, path, &t->version);
	case K_TYPE: return read_type(w, v, path, &t->type);
	case K_MAIN_FILE: return walk_string(w, v, path, &t->main_application_file);
	case K_MAIN_CLASS: return walk_string(w, v, path, &t->main_class);
	case K_ARGS: return walk_strv(w, v, path, &t->args);
	case K_SPARK_CONF: return walk_strmap(w, v, path, false, &t->spark_conf);
	case K_HADOOP_CONF: return walk_strmap(w, v, path, false, &t->hadoop_conf);
	case K_EXECUTOR_PATH: return walk_string(w, v, path, &t->executor_path);
	case K_IMAGE: return walk_string(w, v, path, &t->image);
	case K_COMMAND: return walk_strv(w, v, path, &t->command);
	case K_ENV: return walk_strmap(w, v, path, false, &t->env);
	case K_SERVICE_ACCOUNT: return walk_string(w, v, path, &t->service_account);
	case K_DRIVER_POD: return read_pod(w, v, path, &t->driver_pod);
	case K_EXECUTOR_POD: return read_pod(w, v, path, &t->executor_pod);
	case K_RETRIES:
		if (walk_uint(w, v, path, RETRIES_MAX, &u) != SPOK_OK)
			return SPOK_EINVAL;
		t->retries = (uint32_t)u;
		return SPOK_OK;
	case K_TIMEOUT: return read_timeout(w, v, path, &t->timeout_s);
	case K_INTERRUPTIBLE: return walk_bool(w, v, path, &t->interruptible);
	case K_POD_TEMPLATE_NAME: return walk_string(w, v, path, &t->pod_template_name);
	case K_LABELS: return walk_strmap(w, v, path, false, &t->labels);
	case K_ANNOTATIONS: return walk_strmap(w, v, path, false, &t->annotations);
	case K_CONFIG: return walk_strmap(w, v, path, false, &t->config);
	case K_INPUTS: return read_vars(w, v, path, &t->inputs);
	case K_OUTPUTS: return read_vars(w, v, path, &t->outputs);
	case K_PY_FILES: return read_deps(w, v, path, &t->py_files);
	case K_FILES: return read_deps(w, v, path, &t->files);
	}
	return SPOK_EINTERNAL;
}

static bool empty(const char *s)
{
	return s == NULL || s[0] == '\0';
}

static int read_task(struct walk *w, const struct ynode *root, struct spok_task *t)
{
	char path[WALK_PATH_MAX];
	int idx;

	if (root == NULL || walk_is_null(root))
		return spok_err_set(w->err, SPOK_EINVAL, "%s: the job file is empty; write a mapping with at least name and mainApplicationFile (see docs/JOBFILE.md)",
				    w->path);
	if (root->kind != Y_MAP)
		return walk_fail(w, root, "(top level)",
				 "expected a mapping, got %s; a job file is key: value pairs such as 'name: pi'",
				 root->kind == Y_SEQ ? "a list" : "a scalar");
	for (size_t i = 0; i < root->n; i++) {
		const struct ynode *k = root->items[2 * i];

		if (walk_key(w, k, "", task_keys, NULL, &idx) != SPOK_OK)
			return SPOK_EINVAL;
		walk_child(path, "", k);
		if (read_field(w, t, idx, root->items[2 * i + 1], path) != SPOK_OK)
			return SPOK_EINVAL;
	}
	if (t->name == NULL)
		return walk_fail(w, NULL, "name", "missing; add a task name such as 'name: pi'");
	if (empty(t->main_application_file) && empty(t->main_class))
		return walk_fail(w, NULL, "mainApplicationFile",
				 "either mainApplicationFile or mainClass must be set; add the script or jar to run (or mainClass for a JVM job)");
	if (t->project == NULL)
		t->project = xstrdup("spok");
	if (t->domain == NULL)
		t->domain = xstrdup("development");
	return SPOK_OK;
}

int spok_jobfile_parse_task(const char *text, size_t len, const char *path, struct spok_task *out,
			 struct spok_err *err)
{
	struct walk w = {path ? path : "<input>", err, "docs/JOBFILE.md"};
	struct ydoc d;
	int result;

	spok_task_init(out);
	result = ydoc_load(&d, text, len, w.path, err);
	if (result != SPOK_OK)
		return result;
	out->origin = SPOK_ORIGIN_SPEC;
	result = read_task(&w, d.root, out);
	ydoc_free(&d);
	if (result == SPOK_OK)
		result = spok_task_check_limits(out, w.path, err);
	if (result != SPOK_OK) {
		spok_task_free(out);
		return result;
	}
	out->source_path = xstrdup(w.path);
	return SPOK_OK;
}

int spok_jobfile_load_task(const char *path, struct spok_task *out, struct spok_err *err)
{
	struct spok_buf b;
	int result;

	spok_task_init(out);
	result = walk_read_file(&b, path, err);
	if (result == SPOK_OK)
		result = spok_jobfile_parse_task(b.data, b.len, path, out, err);
	spok_buf_free(&b);
	return result;
}
