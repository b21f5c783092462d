/* local.c - spark-submit argv, submission checks and the attempt loop. See local.h. */
#include "local/local.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libgen.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/sys.h"
#include "common/termesc.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "local/internal.h"
#include "sparkapp/sparkapp.h"
#include "flyteidl/flyteidl.h"

extern char **environ;

#ifndef SPOK_DEFAULT_VENV
#define SPOK_DEFAULT_VENV ""
#endif

#define LOG_TAIL_MAX ((size_t)4 << 20)

/* ---- finding Spark ---- */

static bool is_exec(const char *p)
{
	return p && access(p, X_OK) == 0;
}

static char *on_path(const char *name)
{
	const char *path = getenv("PATH");
	if (!path)
		return NULL;
	while (*path) {
		const char *colon = strchr(path, ':');
		size_t n = colon ? (size_t)(colon - path) : strlen(path);
		char *cand = xasprintf("%.*s/%s", (int)n, path, name);
		if (n && is_exec(cand))
			return cand;
		free(cand);
		path += n + (colon ? 1 : 0);
	}
	return NULL;
}

int spok_spark_env_find(struct spok_spark_env *out, struct spok_err *err)
{
	const char *home = getenv("SPARK_HOME");
	const char *venv = getenv("SPOK_VENV");

	memset(out, 0, sizeof(*out));
	if (!venv || !*venv)
		venv = SPOK_DEFAULT_VENV;
	if (*venv) {
		char *py = xasprintf("%s/bin/python", venv);
		if (is_exec(py)) {
			out->venv = xstrdup(venv);
			out->python = py;
		} else {
			free(py);
		}
	}
	if (home && *home) {
		out->spark_home = xstrdup(home);
		out->spark_submit = xasprintf("%s/bin/spark-submit", home);
		out->spark_class = xasprintf("%s/bin/spark-class", home);
	} else if (out->venv) {
		char *pat = xasprintf("%s/lib/python3*/site-packages/pyspark", out->venv);
		glob_t g;
		memset(&g, 0, sizeof(g));
		if (glob(pat, GLOB_ONLYDIR, NULL, &g) == 0 && g.gl_pathc > 0)
			out->spark_home = xstrdup(g.gl_pathv[0]);
		globfree(&g);
		free(pat);
		out->spark_submit = xasprintf("%s/bin/spark-submit", out->venv);
		out->spark_class = xasprintf("%s/bin/spark-class", out->venv);
	}
	if (!is_exec(out->spark_submit)) {
		free(out->spark_submit);
		free(out->spark_class);
		out->spark_submit = on_path("spark-submit");
		out->spark_class = on_path("spark-class");
	}
	if (!out->python) {
		const char *pp = getenv("PYSPARK_PYTHON");
		out->python = pp && *pp ? xstrdup(pp) : NULL;
	}
	if (!out->spark_submit) {
		spok_spark_env_free(out);
		return spok_err_set(err, SPOK_ENOTFOUND,
				    "spark-submit: not found in $SPARK_HOME/bin, the venv (%s) or PATH; run scripts/setup python or set SPARK_HOME",
				    *venv ? venv : "unset");
	}
	return 0;
}

void spok_spark_env_free(struct spok_spark_env *e)
{
	free(e->spark_submit);
	free(e->spark_class);
	free(e->python);
	free(e->venv);
	free(e->spark_home);
	memset(e, 0, sizeof(*e));
}

/* ---- main file ---- */

char *spok_local_task_dir(const struct spok_task *t)
{
	if (!t->source_path)
		return xstrdup(".");
	char *copy = xstrdup(t->source_path);
	char *d = xstrdup(dirname(copy));
	free(copy);
	return d;
}

static bool has_scheme(const char *s)
{
	const char *c = strstr(s, "://");
	if (!c || c == s)
		return false;
	for (const char *p = s; p < c; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '+' || *p == '-' || *p == '.'))
			return false;
	return true;
}

/* A job's file as a path on this machine: local:// and file:// name files here, a plain path
 * is relative to the job file. NULL when f has another scheme: spark-submit reads it itself.
 * Heap. */
char *spok_local_path_of(const struct spok_task *t, const char *f)
{
	if (strncmp(f, "local://", 8) == 0)
		f += 8;
	else if (strncmp(f, "file://", 7) == 0)
		f += 7;
	else if (has_scheme(f))
		return NULL;
	if (f[0] == '/')
		return xstrdup(f);
	char *d = spok_local_task_dir(t);
	char *path = xasprintf("%s/%s", d, f);
	free(d);
	return path;
}

/* local:// and file:// name files here; other schemes (s3a://, https://) pass through to
 * Spark. Relative paths are relative to the job file. flytekit's in-image entrypoint maps to
 * the venv's. */
int spok_local_main_file(const struct spok_task *t, const struct spok_spark_env *env,
			 char **out, struct spok_err *err)
{
	const char *f = t->main_application_file;
	const char *src = t->source_path ? t->source_path : "task";

	*out = NULL;
	if (!f || !*f)
		return spok_err_set(err, SPOK_EINVAL, "%s: mainApplicationFile: not set; name the .py or .jar to run", src);
	char *path = spok_local_path_of(t, f);
	if (!path) {
		*out = xstrdup(f);
		return 0;
	}
	struct stat st;
	if (stat(path, &st) != 0) {
		size_t n = strlen(path);
		const char *ep = "/bin/entrypoint.py";
		if (env && env->venv && n >= strlen(ep) && strcmp(path + n - strlen(ep), ep) == 0) {
			char *mapped = xasprintf("%s/bin/entrypoint.py", env->venv);
			if (stat(mapped, &st) == 0) {
				free(path);
				*out = mapped;
				return 0;
			}
			free(mapped);
		}
		int r = spok_err_set(err, SPOK_EINVAL, "%s: mainApplicationFile %s: no such file (%s); fix the path (relative paths are relative to the job file)",
				     src, path, strerror(errno));
		free(path);
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		int r = spok_err_set(err, SPOK_EINVAL, "%s: mainApplicationFile %s: not a regular file; name the .py or .jar to run", src, path);
		free(path);
		return r;
	}
	*out = path;
	return 0;
}

/* One pyFiles / files entry as spark-submit takes it here: local:// and file:// name files
 * on this machine, other schemes pass through, a plain path is relative to the job file and
 * must be a regular file. */
static int dep_path(const struct spok_task *t, const char *field, size_t i, const char *f,
		    char **out, struct spok_err *err)
{
	const char *src = t->source_path ? t->source_path : "task";
	struct stat st;
	char *path;
	int serr;

	*out = NULL;
	if (!(path = spok_local_path_of(t, f))) {
		*out = xstrdup(f);
		return 0;
	}
	serr = stat(path, &st) != 0 ? errno : 0;
	if (serr != 0 || !S_ISREG(st.st_mode)) {
		const char *why = serr != 0 ? strerror(serr) : "not a regular file";
		int r = spok_err_set(err, SPOK_EINVAL, "%s: %s[%zu] %s: %s; fix the path (relative paths "
				     "are relative to the job file)", src, field, i, path, why);
		free(path);
		return r;
	}
	*out = path;
	return 0;
}

/* "--py-files"/"--files" FLAG and the comma-joined list, when the task has entries. */
static int push_deps(const struct spok_task *t, const char *field, const char *flag,
		     const struct spok_strv *v, struct spok_strv *argv, struct spok_err *err)
{
	char *joined = NULL;

	for (size_t i = 0; i < v->len; i++) {
		char *p = NULL, *next;
		int result = dep_path(t, field, i, v->items[i], &p, err);

		if (result != 0) {
			free(joined);
			return result;
		}
		next = joined ? xasprintf("%s,%s", joined, p) : p;
		if (joined) {
			free(joined);
			free(p);
		}
		joined = next;
	}
	if (joined) {
		spok_strv_push(argv, flag);
		spok_strv_push_own(argv, joined);
	}
	return 0;
}

int spok_local_deps(const struct spok_task *t, struct spok_strv *argv, struct spok_err *err)
{
	int result = push_deps(t, "pyFiles", "--py-files", &t->py_files, argv, err);

	return result ? result : push_deps(t, "files", "--files", &t->files, argv, err);
}

/* ---- conf and argv ---- */

static bool k8s_only(const char *key)
{
	return strncmp(key, "spark.kubernetes.", 17) == 0 || strcmp(key, "spark.master") == 0 ||
	       strcmp(key, "spark.submit.deployMode") == 0;
}

static void effective_conf(const struct spok_task *t, const struct spok_platform *p,
			   const struct spok_spark_env *env, const struct spok_execution *x,
			   struct spok_strmap *out)
{
	struct spok_strmap all = {0};
	struct spok_exec ex = {.execution_name = x->id, .attempt = x->attempt, .now_ms = x->started_ms};
	spok_sparkapp_conf(t, p, &ex, x->id, &all);
	for (size_t i = 0; i < all.len; i++) {
		const char *k = all.items[i].key, *v = all.items[i].value;
		if (k8s_only(k))
			continue;
		/* An in-image interpreter path (executorPath, e.g. /opt/venv/bin/python3) does not
		 * exist here: the local venv's Python takes its place. */
		if ((strcmp(k, "spark.pyspark.python") == 0 || strcmp(k, "spark.pyspark.driver.python") == 0) &&
		    v[0] == '/' && access(v, X_OK) != 0) {
			if (env->python)
				spok_strmap_set(out, k, env->python);
			continue;
		}
		spok_strmap_set(out, k, v);
	}
	for (size_t i = 0; i < t->hadoop_conf.len; i++) {
		char *k = xasprintf("spark.hadoop.%s", t->hadoop_conf.items[i].key);
		spok_strmap_set(out, k, t->hadoop_conf.items[i].value);
		free(k);
	}
	spok_strmap_free(&all);
}

/* One key or value in java.util.Properties syntax (what spark-submit's --properties-file
 * reads): backslash escapes for '\', line breaks, tabs, '=', ':', '#', '!', and spaces that
 * load() would otherwise eat (all of them in a key, leading ones in a value); everything
 * outside printable ASCII as \uXXXX (UTF-16, so surrogate pairs above U+FFFF), invalid
 * UTF-8 as U+FFFD. The file is then plain ASCII whatever charset reads it. */
int spok_local_props_escape(struct spok_buf *b, const char *s, bool key)
{
	size_t n = strlen(s);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0;) {
		unsigned char c = (unsigned char)s[i];
		uint32_t cp;
		size_t k = 1;
		if (c == '\\' || c == '=' || c == ':' || c == '#' || c == '!' ||
		    (c == ' ' && (key || i == 0))) {
			char esc[2] = {'\\', (char)c};
			rc = spok_buf_append(b, esc, 2);
		} else if (c == '\n' || c == '\r' || c == '\t' || c == '\f') {
			rc = spok_buf_appends(b, c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : "\\f");
		} else if (c >= 0x20 && c < 0x7f) {
			rc = spok_buf_append(b, &s[i], 1);
		} else {
			k = spok_utf8_decode(s + i, n - i, &cp);
			if (k == 0) {
				k = 1;
				cp = 0xFFFD;
			}
			if (cp > 0xFFFF) {
				cp -= 0x10000;
				rc = spok_buf_printf(b, "\\u%04X\\u%04X", 0xD800u + (cp >> 10), 0xDC00u + (cp & 0x3FFu));
			} else {
				rc = spok_buf_printf(b, "\\u%04X", cp);
			}
		}
		i += k;
	}
	return rc;
}

char *spok_local_props_path(const struct spok_execution *x)
{
	return xasprintf("%s/spark-conf-%u.properties", x->run_dir ? x->run_dir : ".", x->attempt);
}

/* Writes the conf where only this user can read it: sparkConf/hadoopConf may hold secrets
 * (S3 keys, passwords, tokens) that --conf arguments would show to every user in ps. A file
 * left by an earlier try of this attempt is replaced, never followed (O_EXCL). */
int spok_local_props_write(const char *path, const struct spok_strmap *conf, struct spok_err *err)
{
	struct spok_buf b;
	int result = 0;

	spok_buf_init(&b, 0);
	int rc = spok_buf_appends(&b, "# spark-submit --properties-file, written by spok; removed after the attempt\n");
	for (size_t i = 0; i < conf->len && rc == 0; i++) {
		rc = spok_local_props_escape(&b, conf->items[i].key, true);
		rc = rc ? rc : spok_buf_appends(&b, "=");
		rc = rc ? rc : spok_local_props_escape(&b, conf->items[i].value, false);
		rc = rc ? rc : spok_buf_appends(&b, "\n");
	}
	if (rc != 0) {
		result = spok_err_set(err, SPOK_EINVAL, "sparkConf: more than %zu bytes in all; shorten the conf", (size_t)SPOK_BUF_DEFAULT_MAX);
		goto done;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		result = spok_err_set(err, SPOK_EIO, "%s: cannot replace: %s; check the run dir", path, strerror(errno));
		goto done;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		result = spok_err_set(err, SPOK_EIO, "%s: cannot create: %s; check the run dir", path, strerror(errno));
		goto done;
	}
	if (spok_write_all(fd, b.data, b.len) != 0)
		result = spok_err_set(err, SPOK_EIO, "%s: cannot write: %s; check the run dir", path, strerror(errno));
	if (close(fd) != 0 && result == 0)
		result = spok_err_set(err, SPOK_EIO, "%s: cannot write: %s; check the run dir", path, strerror(errno));
	if (result != 0)
		unlink(path);
done:
	/* Best effort: the final buffer held the secrets too (growth may have freed copies). */
	if (b.data)
		explicit_bzero(b.data, b.len);
	spok_buf_free(&b);
	return result;
}

int spok_local_argv(const struct spok_task *t, const struct spok_platform *p,
		    const struct spok_spark_env *env, const struct spok_local_opts *o,
		    const struct spok_execution *x, int ui_port, struct spok_strv *argv,
		    struct spok_err *err)
{
	struct spok_strmap conf = {0};
	struct spok_strv deps = {0};
	char *main_file = NULL, *props = NULL;
	int result = spok_local_main_file(t, env, &main_file, err);

	if (result == 0)
		result = spok_local_deps(t, &deps, err);
	if (result != 0) {
		free(main_file);
		spok_strv_free(&deps);
		return result;
	}
	effective_conf(t, p, env, x, &conf);
	/* spok's own keys win: the runner depends on them (history, UI link, loopback). */
	spok_strmap_set(&conf, "spark.eventLog.enabled", "true");
	if (x->event_log_dir)
		spok_strmap_set(&conf, "spark.eventLog.dir", x->event_log_dir);
	char port[16];
	snprintf(port, sizeof(port), "%d", ui_port);
	if (ui_port > 0)
		spok_strmap_set(&conf, "spark.ui.port", port);
	spok_strmap_set(&conf, "spark.driver.bindAddress", "127.0.0.1");
	spok_strmap_set(&conf, "spark.driver.host", "127.0.0.1");
	/* No --conf at all: every value goes through the 0600 file, none through argv. */
	props = spok_local_props_path(x);
	result = spok_local_props_write(props, &conf, err);
	if (result != 0)
		goto done;

	spok_strv_push(argv, env->spark_submit);
	spok_strv_push(argv, "--properties-file");
	spok_strv_push(argv, props);
	spok_strv_push(argv, "--master");
	spok_strv_push(argv, o->master && *o->master ? o->master : "local[*]");
	spok_strv_push(argv, "--name");
	spok_strv_push(argv, t->name && *t->name ? t->name : x->id);
	if (t->type != SPOK_APP_PYTHON && t->main_class && *t->main_class) {
		spok_strv_push(argv, "--class");
		spok_strv_push(argv, t->main_class);
	}
	for (size_t i = 0; i < deps.len; i++)
		spok_strv_push(argv, deps.items[i]);
	spok_strv_push_own(argv, main_file);
	main_file = NULL;
done:
	free(main_file);
	free(props);
	spok_strv_free(&deps);
	/* The values may be secrets: wipe them before the memory goes back to the allocator. */
	for (size_t i = 0; i < conf.len; i++)
		explicit_bzero(conf.items[i].value, strlen(conf.items[i].value));
	spok_strmap_free(&conf);
	return result;
}

/* ---- environment ---- */

static void env_set(struct spok_strv *envv, const char *key, const char *value)
{
	size_t n = strlen(key);
	for (size_t i = 0; i < envv->len; i++)
		if (strncmp(envv->items[i], key, n) == 0 && envv->items[i][n] == '=') {
			free(envv->items[i]);
			envv->items[i] = xasprintf("%s=%s", key, value);
			return;
		}
	spok_strv_pushf(envv, "%s=%s", key, value);
}

static void env_unset(struct spok_strv *envv, const char *key)
{
	size_t n = strlen(key), j = 0;
	for (size_t i = 0; i < envv->len; i++) {
		if (strncmp(envv->items[i], key, n) == 0 && envv->items[i][n] == '=')
			free(envv->items[i]);
		else
			envv->items[j++] = envv->items[i];
	}
	envv->len = j;
	if (envv->items)
		envv->items[j] = NULL;
}

/* A warm attempt's client (and its interrupt glue): SPARK_REMOTE with the attempt's own
 * session id, and the session's token by environment (none: whatever the caller's
 * environment or the task's env said would make pyspark insist on TLS). */
static void warm_client_env(const struct spok_local_warm *w, const char *exec_id,
			    unsigned attempt, struct spok_strv *envv)
{
	char *remote = spok_local_warm_remote(w, exec_id, attempt);
	env_set(envv, "SPARK_REMOTE", remote);
	free(remote);
	if (w->token)
		env_set(envv, "SPARK_CONNECT_AUTHENTICATE_TOKEN", w->token);
	else
		env_unset(envv, "SPARK_CONNECT_AUTHENTICATE_TOKEN");
}

void spok_local_env(const struct spok_task *t, const struct spok_spark_env *env,
		    const struct spok_local_opts *o, const struct spok_execution *x,
		    struct spok_strv *envv)
{
	for (char **e = environ; e && *e; e++)
		spok_strv_push(envv, *e);
	if (env->python) {
		env_set(envv, "PYSPARK_PYTHON", env->python);
		env_set(envv, "PYSPARK_DRIVER_PYTHON", env->python);
	}
	if (env->spark_home)
		env_set(envv, "SPARK_HOME", env->spark_home);
	/* Keep the driver and its UI on loopback, whatever the hostname resolves to. */
	env_set(envv, "SPARK_LOCAL_IP", "127.0.0.1");
	if (t->origin == SPOK_ORIGIN_FLYTE) {
		char cwd[4096];
		const char *dir = o->python_path;
		if (!dir)
			dir = getcwd(cwd, sizeof(cwd)) ? cwd : ".";
		const char *old = getenv("PYTHONPATH");
		char *pp = old && *old ? xasprintf("%s:%s", dir, old) : xstrdup(dir);
		env_set(envv, "PYTHONPATH", pp);
		free(pp);
		env_set(envv, "FLYTE_INTERNAL_EXECUTION_ID", x->id);
		env_set(envv, "FLYTE_INTERNAL_EXECUTION_PROJECT", t->project ? t->project : "spok");
		env_set(envv, "FLYTE_INTERNAL_EXECUTION_DOMAIN", t->domain ? t->domain : "development");
		if (t->name)
			env_set(envv, "FLYTE_INTERNAL_TASK_NAME", t->name);
		if (t->version)
			env_set(envv, "FLYTE_INTERNAL_TASK_VERSION", t->version);
	}
	for (size_t i = 0; i < t->env.len; i++)
		env_set(envv, t->env.items[i].key, t->env.items[i].value);
	/* After the task's env: a reader settling a dead run finds its processes by this. */
	env_set(envv, "SPOK_EXECUTION_ID", x->id);
}

/* ---- submission ---- */

static int make_dirs(const char *data_dir, const char *id, char **run_dir, char **events,
		     struct spok_err *err)
{
	char *runs = xasprintf("%s/runs", data_dir);
	*events = xasprintf("%s/spark-events", data_dir);
	*run_dir = xasprintf("%s/%s", runs, id);
	const char *dirs[] = {runs, *events, *run_dir};
	int result = 0;
	for (size_t i = 0; i < 3 && result == 0; i++)
		if (mkdir(dirs[i], 0700) != 0 && errno != EEXIST)
			result = spok_err_set(err, SPOK_EIO, "%s: cannot create directory: %s; check the data dir", dirs[i], strerror(errno));
	free(runs);
	return result;
}

int spok_local_submit(struct spok_store *st, const struct spok_task *t,
		      const struct spok_platform *p, const struct spok_local_opts *o,
		      struct spok_execution *out, struct spok_err *err)
{
	struct spok_spark_env env;
	char id[SPOK_EXEC_ID_LEN + 1];
	char *main_file = NULL, *run_dir = NULL, *events = NULL;
	int result;

	(void)p;
	memset(out, 0, sizeof(*out));
	if (t->type == SPOK_APP_R)
		return spok_err_set(err, SPOK_EINVAL, "%s: applicationType R: not supported by the local runner; use PYTHON, JAVA or SCALA",
				    t->source_path ? t->source_path : "task");
	result = spok_spark_env_find(&env, err);
	if (result != 0)
		return result;
	result = spok_local_main_file(t, &env, &main_file, err);
	if (result == 0) { /* a missing pyFiles/files entry fails before anything is recorded */
		struct spok_strv deps = {0};

		result = spok_local_deps(t, &deps, err);
		spok_strv_free(&deps);
	}
	if (result == 0)
		result = spok_flyte_check_inputs(t, o->inputs, err);
	if (result == 0)
		result = spok_store_new_id(id, sizeof(id), err);
	if (result == 0)
		result = make_dirs(o->data_dir, id, &run_dir, &events, err);
	if (result != 0)
		goto done;
	out->id = xstrdup(id);
	out->task_name = xstrdup(t->name);
	out->project = xstrdup(t->project ? t->project : "spok");
	out->domain = xstrdup(t->domain ? t->domain : "development");
	out->backend = xstrdup("local");
	out->idempotency_key = o->idempotency_key ? xstrdup(o->idempotency_key) : NULL;
	out->session = o->warm ? xstrdup(o->warm->session) : NULL;
	out->fallback = o->fallback ? xstrdup(o->fallback) : NULL;
	out->max_attempts = t->retries + 1;
	out->phase = SPOK_PHASE_QUEUED;
	out->created_ms = spok_now_ms();
	out->event_log_dir = xasprintf("file://%s", events);
	out->run_dir = run_dir;
	run_dir = NULL;
	out->task_source = t->source_path ? realpath(t->source_path, NULL) : NULL;
	struct spok_proc_id self = spok_proc_self();

	out->supervisor_pid = self.pid;
	out->supervisor_start = self.start;
	/* Held from before the row exists: a reader never sees it without a live holder. */
	result = spok_local_lock_take(out->run_dir, out->id, err);
	if (result == 0)
		result = spok_store_insert(st, out, err);
	if (result != 0) {
		spok_local_lock_release();
		spok_execution_free(out);
	}
done:
	free(main_file);
	free(run_dir);
	free(events);
	spok_spark_env_free(&env);
	return result;
}

/* ---- attempts ---- */

static void set_str(char **dst, char *v)
{
	free(*dst);
	*dst = v;
}

static char *read_log_tail(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	off_t size = lseek(fd, 0, SEEK_END);
	if (size < 0) {
		close(fd);
		return NULL;
	}
	off_t from = size > (off_t)LOG_TAIL_MAX ? size - (off_t)LOG_TAIL_MAX : 0;
	size_t n = (size_t)(size - from);
	char *buf = xmalloc(n + 1);
	ssize_t got = pread(fd, buf, n, from);
	close(fd);
	buf[got > 0 ? got : 0] = '\0';
	/* NULs from a binary-ish log would cut the scan short: make them spaces. */
	for (ssize_t i = 0; i < got; i++)
		if (!buf[i])
			buf[i] = ' ';
	return buf;
}

static void finish_failure(struct spok_execution *x, const struct attempt_result *ar)
{
	bool permanent = false;
	char *log = read_log_tail(x->log_path);
	char *reason = spok_local_reason(log, &permanent);
	free(log);
	if (!reason) {
		/* a warm attempt ran the job as a Spark Connect client, not spark-submit */
		const char *what = x->session ? "the Spark Connect client" : "spark-submit";
		if (ar->term_signal)
			reason = xasprintf("%s was killed by signal %d; see %s", what, ar->term_signal, x->log_path);
		else
			reason = xasprintf("%s exited with status %d; see %s", what, (int)ar->exit_status, x->log_path);
	}
	x->phase = permanent ? SPOK_PHASE_PERMANENT_FAILURE : SPOK_PHASE_RETRYABLE_FAILURE;
	set_str(&x->reason, reason);
}

static void classify(struct spok_store *st, const struct spok_task *t, struct spok_execution *x,
		     const struct attempt_result *ar)
{
	struct spok_execution now;

	x->has_exit_code = true;
	x->exit_code = ar->term_signal ? 128 + ar->term_signal : (int)ar->exit_status;
	/* An abort from another process may have killed the group before our poll saw it. */
	bool aborted = ar->stop == STOP_ABORT;
	if (!aborted && ar->stop != STOP_TIMEOUT && ar->stop != STOP_SERVER_GONE &&
	    spok_store_get(st, x->id, &now, NULL) == 0) {
		aborted = now.abort_requested && x->exit_code != 0;
		spok_execution_free(&now);
	}
	if (aborted) {
		x->phase = SPOK_PHASE_ABORTED;
		set_str(&x->reason, xstrdup(ar->stop_why ? ar->stop_why : "aborted by spok abort"));
	} else if (ar->stop == STOP_SERVER_GONE) {
		/* the job is not at fault: a retry runs it on a restarted server */
		x->phase = SPOK_PHASE_RETRYABLE_FAILURE;
		set_str(&x->reason, xasprintf("the Spark Connect server of session %s ended during the attempt; "
					      "see 'spok session list'", x->session ? x->session : "?"));
	} else if (ar->stop == STOP_TIMEOUT) {
		x->phase = SPOK_PHASE_TIMED_OUT;
		set_str(&x->reason, xasprintf("task timeout of %llus exceeded", (unsigned long long)t->timeout_s));
	} else if (x->exit_code == 0) {
		x->phase = SPOK_PHASE_SUCCEEDED;
		set_str(&x->reason, NULL);
		spok_local_flyte_outputs(t, x);
	} else {
		finish_failure(x, ar);
	}
}

static void set_history(struct spok_execution *x, const char *data_dir)
{
	if (!x->spark_app_id)
		return;
	int port = spok_history_running(data_dir);
	set_str(&x->history_url, spok_history_url(port ? port : SPOK_HISTORY_PORT, x->spark_app_id));
}

/* Spark has read the conf once spark-submit is done: do not leave secrets at rest. */
static void unlink_props(const struct spok_execution *x)
{
	char *path = spok_local_props_path(x);
	unlink(path);
	free(path);
}

/* ---- a run on a borrowed loop ---- */

struct spok_local_run {
	uv_loop_t *loop;
	struct spok_store *st;
	const struct spok_task *t;
	const struct spok_platform *p;
	const struct spok_local_opts *o;
	struct spok_execution *x;
	struct spok_spark_env env;
	int lock_fd;
	uv_timer_t kick;                /* the next step: an attempt, or the end */
	struct spok_local_attempt *a;   /* the attempt running now, or NULL */
	struct attempt_result ar;
	struct spok_strv argv, envv;
	const char *stop_why;           /* spok_local_run_abort's reason (static), or NULL */
	unsigned stops;                 /* spok_local_run_abort calls */
	bool warm_off;                  /* a warm run fell back: attempts run under spark-submit */
	bool warm_ran;                  /* a warm attempt has begun */
	bool ensuring;                  /* waiting for the session (ensure answered pending) */
	uint64_t ensure_since;          /* uv_now when it first answered pending */
	unsigned gone_checks;           /* looks at a failed warm attempt's server so far */
	uv_process_t glue;              /* a failed warm attempt's interrupt of its session */
	uv_timer_t glue_timer;
	int glue_open;                  /* glue handles not closed yet */
	bool glue_running;              /* the glue process has not exited yet */
	int glue_fd;                    /* the attempt's log, appended to by the glue */
	bool ending;
	int result;
	struct spok_err err;
	spok_local_done_cb cb;
	void *cb_arg;
};

static void say(const struct spok_local_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct spok_local_opts *o, const char *fmt, ...)
{
	va_list ap;
	if (!o->msg)
		return;
	va_start(ap, fmt);
	vfprintf(o->msg, fmt, ap);
	va_end(ap);
	fflush(o->msg);
}

static bool abort_pending(struct spok_store *st, const struct spok_execution *x)
{
	struct spok_execution now;
	bool req = false;
	if (spok_store_get(st, x->id, &now, NULL) == 0) {
		req = now.abort_requested;
		spok_execution_free(&now);
	}
	return req;
}

static void on_run_closed(uv_handle_t *h)
{
	struct spok_local_run *r = h->data;
	spok_local_done_cb cb = r->cb;
	void *arg = r->cb_arg;
	int result = r->result;
	struct spok_err e = r->err;

	/* Recorded (or left in outcome.json): from here a reader may settle the row. */
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	spok_spark_env_free(&r->env);
	free(r);
	cb(arg, result, &e);
}

static void run_end(struct spok_local_run *r, int result)
{
	r->ending = true;
	r->result = result;
	uv_timer_stop(&r->kick);
	uv_close((uv_handle_t *)&r->kick, on_run_closed);
}

static void on_kick(uv_timer_t *t);

static bool warm_attempt(const struct spok_local_run *r)
{
	return r->o->warm && !r->warm_off;
}

/* The attempt's own page on its session server's UI (the Connect tab lists a session's
 * statements and their jobs): a JSON array for links_json, or NULL without a UI. */
static char *warm_links(const struct spok_local_warm *w, const char *exec_id, unsigned attempt)
{
	char sid[37];

	if (!w->ui_url)
		return NULL;
	spok_local_warm_session_id(exec_id, attempt, sid);
	char *uri = xasprintf("%s/connect/session/?id=%s", w->ui_url, sid);
	json_t *a = json_pack("[{s:s,s:s,s:s}]", "name", "Spark UI: this run's Connect session", "uri", uri,
			      "kind", "driver_ui");
	char *text = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	free(uri);
	return text;
}

/* A warm attempt that failed with Connect's "not supported" error: the next attempt is a
 * normal local run (not counted against retries), and the row says why. */
static void maybe_fall_back(struct spok_local_run *r)
{
	struct spok_execution *x = r->x;

	if (!warm_attempt(r) || (x->phase != SPOK_PHASE_RETRYABLE_FAILURE &&
				 x->phase != SPOK_PHASE_PERMANENT_FAILURE))
		return;
	char *log = read_log_tail(x->log_path);
	char *why = spok_local_warm_log_reason(log);
	free(log);
	if (!why && r->t->origin == SPOK_ORIGIN_FLYTE) /* flytekit caught it: its error document */
		why = spok_local_warm_flyte_reason(x->error_message);
	if (!why)
		return;
	r->warm_off = true;
	set_str(&x->error_message, NULL); /* the warm attempt's; the reason and fallback say why */
	x->phase = SPOK_PHASE_RETRYABLE_FAILURE;
	x->max_attempts++;
	set_str(&x->reason, xasprintf("%s; running it as a normal local run", why));
	set_str(&x->fallback, why);
	set_str(&x->session, NULL);
	set_str(&x->links_json, NULL);
	int fd = open(x->log_path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd >= 0) {
		char *line = xasprintf("spok: %s\n", x->reason);
		spok_write_all(fd, line, strlen(line));
		free(line);
		close(fd);
	}
}

static void attempt_next(struct spok_local_run *r);

/* The attempt's end once its process (and a warm attempt's interrupt) are done. */
static void attempt_finish(struct spok_local_run *r)
{
	struct spok_execution *x = r->x;

	x->finished_ms = spok_now_ms();
	classify(r->st, r->t, x, &r->ar);
	maybe_fall_back(r);
	set_history(x, r->o->data_dir);
	attempt_next(r);
}

/* The attempt's end is in x: record it, then retry or end the run. */
static void attempt_next(struct spok_local_run *r)
{
	struct spok_execution *x = r->x;
	int result = spok_local_commit(r->st, x, &r->err);
	if (result != 0 || x->phase != SPOK_PHASE_RETRYABLE_FAILURE || x->attempt + 1 >= x->max_attempts) {
		run_end(r, result);
		return;
	}
	char *why = spok_term_line(x->reason ? x->reason : "unknown reason");
	say(r->o, "spok: attempt %u of %u failed: %s; %s\n", x->attempt + 1, x->max_attempts, why,
	    r->warm_off && x->fallback && x->attempt + 2 == x->max_attempts ? "falling back" : "retrying");
	free(why);
	x->attempt++;
	x->phase = SPOK_PHASE_QUEUED;
	uv_timer_start(&r->kick, on_kick, 0, 0);
}

static void on_glue_closed(uv_handle_t *h)
{
	struct spok_local_run *r = h->data;

	if (--r->glue_open == 0) {
		close(r->glue_fd);
		attempt_finish(r);
	}
}

static void on_glue_exit(uv_process_t *p, int64_t status, int term_signal)
{
	struct spok_local_run *r = p->data;

	(void)status;
	(void)term_signal;
	r->glue_running = false;
	if (r->stop_why) {
		char line[128];
		int n = snprintf(line, sizeof(line), "spok: interrupt step ended: %s\n", r->stop_why);
		spok_write_all(r->glue_fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
	uv_timer_stop(&r->glue_timer);
	uv_close((uv_handle_t *)&r->glue, on_glue_closed);
	uv_close((uv_handle_t *)&r->glue_timer, on_glue_closed);
}

static void on_glue_timeout(uv_timer_t *t)
{
	struct spok_local_run *r = t->data;

	uv_process_kill(&r->glue, SIGKILL);
}

/* A warm attempt that did not succeed may have left operations running on the server (the
 * client was killed, or died): interrupt every operation of its session, and only those,
 * before the end is recorded. 0 when the glue runs (attempt_finish follows). */
static int glue_start(struct spok_local_run *r)
{
	struct spok_strv argv = {0}, envv = {0};
	uv_process_options_t po;
	uv_stdio_container_t stdio[3];

	r->glue_fd = open(r->x->log_path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (r->glue_fd < 0)
		return -1;
	spok_local_warm_interrupt_argv(&r->env, &argv);
	spok_local_env(r->t, &r->env, r->o, r->x, &envv);
	warm_client_env(r->o->warm, r->x->id, r->x->attempt, &envv);
	memset(&po, 0, sizeof(po));
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_INHERIT_FD;
	stdio[1].data.fd = r->glue_fd;
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = r->glue_fd;
	po.file = argv.items[0];
	po.args = argv.items;
	po.env = envv.items;
	po.stdio = stdio;
	po.stdio_count = 3;
	po.exit_cb = on_glue_exit;
	po.flags = UV_PROCESS_DETACHED;
	r->glue.data = r;
	int rc = uv_spawn(r->loop, &r->glue, &po);
	spok_strv_free(&argv);
	spok_strv_free(&envv);
	r->glue_open = 2;
	uv_timer_init(r->loop, &r->glue_timer);
	r->glue_timer.data = r;
	if (rc != 0) {
		uv_close((uv_handle_t *)&r->glue, on_glue_closed);
		uv_close((uv_handle_t *)&r->glue_timer, on_glue_closed);
		return 0;
	}
	r->glue_running = true;
	say(r->o, "spok: interrupting this run's operations on the Spark Connect server\n");
	uv_timer_start(&r->glue_timer, on_glue_timeout, SPOK_LOCAL_GLUE_MS, 0);
	return 0;
}

/* After the attempt's process: a warm attempt that did not succeed interrupts its session's
 * operations, then its end is classified. */
static void attempt_after(struct spok_local_run *r)
{
	/* (not when its server is gone: nothing to interrupt, and the glue would wait for it) */
	if (warm_attempt(r) && (r->ar.exit_status != 0 || r->ar.term_signal != 0) &&
	    r->ar.stop != STOP_SERVER_GONE && glue_start(r) == 0)
		return;
	attempt_finish(r);
}

/* A warm client that failed because its server is going away may exit before the attempt's
 * poll saw the server's end (the connection drops first): look again a few times, on the
 * loop, before the failure counts as the job's own. A server found gone makes the attempt
 * RETRYABLE (STOP_SERVER_GONE), as the poll would have. */
static void on_gone_check(uv_timer_t *t)
{
	struct spok_local_run *r = t->data;

	if (spok_local_server_gone(r->st, r->o->warm)) {
		r->ar.stop = STOP_SERVER_GONE;
		r->ar.stop_why = "the session's Spark Connect server ended";
		say(r->o, "spok: the session's Spark Connect server ended during the attempt\n");
	} else if (!r->stop_why && ++r->gone_checks < SPOK_LOCAL_GONE_STEPS) {
		uv_timer_start(&r->kick, on_gone_check, SPOK_LOCAL_GONE_STEP_MS, 0);
		return;
	}
	attempt_after(r);
}

static void on_attempt_done(void *arg, int result, const struct spok_err *err)
{
	struct spok_local_run *r = arg;

	r->a = NULL;
	unlink_props(r->x);
	spok_strv_free(&r->argv);
	spok_strv_free(&r->envv);
	if (result != 0) {
		r->err = *err;
		run_end(r, result);
		return;
	}
	if (warm_attempt(r) && (r->ar.exit_status != 0 || r->ar.term_signal != 0) &&
	    r->ar.stop == STOP_NONE && !r->stop_why) {
		r->gone_checks = 0;
		on_gone_check(&r->kick);
		return;
	}
	attempt_after(r);
}

/* A warm attempt whose session keeps a resident client (its socket exists): the attempt's
 * process is `spok _warm-client SOCK -- ARGV`, which has the resident client fork the job's
 * client (imports done) and execs ARGV itself when it cannot (resident.c). */
static void via_resident(const struct spok_local_run *r, struct spok_strv *argv)
{
	char exe[4096];
	struct stat st;
	char *sock = r->o->data_dir ? spok_local_resident_sock(r->o->data_dir, r->o->warm->session) : NULL;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n > 0)
		exe[n] = '\0';
	/* a binary replaced or removed while this process runs: its old path is gone (the
	 * kernel says "PATH (deleted)"), so the job's client starts python itself */
	if (sock && n > 0 && access(exe, X_OK) == 0 && stat(sock, &st) == 0 && S_ISSOCK(st.st_mode)) {
		struct spok_strv wrapped = {0};
		spok_strv_push(&wrapped, exe);
		spok_strv_push(&wrapped, "_warm-client");
		spok_strv_push(&wrapped, sock);
		spok_strv_push(&wrapped, "--");
		for (size_t i = 0; i < argv->len; i++)
			spok_strv_push(&wrapped, argv->items[i]);
		spok_strv_free(argv);
		*argv = wrapped;
	}
	free(sock);
}

/* Starts one attempt; nonzero when it could not start (r->err says why). */
static int attempt_begin(struct spok_local_run *r)
{
	struct spok_execution *x = r->x;
	/* Spark moves to the next port if another process takes this one meanwhile; the runner
	 * reads the port Spark reports. */
	int ui_port = spok_free_loopback_port();
	int result;

	x->started_ms = spok_now_ms();
	x->finished_ms = 0;
	x->has_exit_code = false;
	set_str(&x->reason, NULL);
	set_str(&x->error_message, NULL); /* a failed attempt's; a retry that succeeds has none */
	set_str(&x->ui_url, NULL);
	set_str(&x->spark_app_id, NULL);
	set_str(&x->history_url, NULL);
	set_str(&x->log_path, xasprintf("%s/attempt-%u.log", x->run_dir, x->attempt));
	char *artifacts = NULL;
	if (warm_attempt(r)) {
		r->warm_ran = true;
		result = spok_local_warm_argv(r->t, &r->env, r->o->python_path, &r->argv, &artifacts, &r->err);
	} else {
		result = spok_local_argv(r->t, r->p, &r->env, r->o, x, ui_port, &r->argv, &r->err);
	}
	if (result == 0)
		result = spok_local_flyte_prepare(r->t, r->o, x, &r->argv, &r->err);
	if (result == 0) {
		spok_local_env(r->t, &r->env, r->o, x, &r->envv);
		if (warm_attempt(r)) {
			via_resident(r, &r->argv);
			warm_client_env(r->o->warm, x->id, x->attempt, &r->envv);
			/* the client's output as it comes, not when its buffer fills */
			env_set(&r->envv, "PYTHONUNBUFFERED", "1");
			/* (empty: nothing, whatever the caller's environment says) */
			env_set(&r->envv, "SPOK_WARM_ARTIFACTS", artifacts ? artifacts : "");
			set_str(&x->ui_url, r->o->warm->ui_url ? xstrdup(r->o->warm->ui_url) : NULL);
			set_str(&x->links_json, warm_links(r->o->warm, x->id, x->attempt));
		}
		spok_local_outcome_reserve(x);
		result = spok_local_attempt_start(r->loop, r->st, r->t, r->o, x, &r->argv, &r->envv,
						  &r->ar, on_attempt_done, r, &r->a, &r->err);
		if (result == 0 && warm_attempt(r))
			spok_local_attempt_watch_server(r->a, r->o->warm);
	}
	free(artifacts);
	if (result != 0) {
		unlink_props(x);
		spok_strv_free(&r->argv);
		spok_strv_free(&r->envv);
	}
	return result;
}

/* The session is on its way: on_kick asks again shortly (it also acts on an abort
 * meanwhile); the row says what it waits for. false once it waited long enough. */
static bool ensure_wait(struct spok_local_run *r)
{
	const struct spok_local_warm *w = r->o->warm;
	uint64_t now = uv_now(r->loop), wait = w->ensure_wait_ms ? w->ensure_wait_ms : SPOK_LOCAL_ENSURE_WAIT_MS;

	if (!r->ensuring) {
		r->ensuring = true;
		r->ensure_since = now;
		set_str(&r->x->reason, xasprintf("waiting for warm session %s to start", w->session));
		(void)spok_store_update(r->st, r->x, NULL); /* shown only; the next write has it */
		say(r->o, "spok: waiting for warm session %s to start\n", w->session);
	}
	if (now - r->ensure_since >= wait)
		return false;
	uv_timer_start(&r->kick, on_kick, SPOK_LOCAL_ENSURE_POLL_MS, 0);
	return true;
}

/* The session could not start for the run's first warm attempt: the job runs as a normal
 * local run (spark-submit) instead, and the row says why (as spok run --warm's own fallback
 * when its session cannot start). */
static void warm_start_fallback(struct spok_local_run *r, const char *why)
{
	struct spok_execution *x = r->x;
	char *line;

	r->warm_off = true;
	set_str(&x->fallback, xasprintf("warm session %s could not start (%s)", r->o->warm->session, why));
	set_str(&x->session, NULL);
	set_str(&x->links_json, NULL);
	set_str(&x->reason, NULL);
	line = spok_term_line(x->fallback);
	say(r->o, "spok: not warm: %s; running it as a normal local run\n", line);
	free(line);
	(void)spok_store_update(r->st, x, NULL); /* the attempt's RUNNING write has it too */
}

/* Before a warm attempt: its session's server runs (a retry after the server died restarts
 * it). true: go on with the attempt (warm, or cold after warm_start_fallback). false: the
 * run goes on later (the ensure is pending: on_kick again), or the attempt failed RETRYABLE
 * without starting the client. */
static bool warm_ensure(struct spok_local_run *r)
{
	struct spok_execution *x = r->x;
	const struct spok_local_warm *w = r->o->warm;
	struct spok_err e = {0};
	int rc = w->ensure(w->ensure_arg, r->st, &e);

	if (rc == 0) {
		r->ensuring = false;
		return true;
	}
	if (rc == SPOK_LOCAL_ENSURE_PENDING && ensure_wait(r))
		return false;
	if (rc == SPOK_LOCAL_ENSURE_PENDING)
		spok_err_set(&e, SPOK_ETIMEOUT, "its server did not start within %llus; see 'spok session list'",
			     (unsigned long long)((uv_now(r->loop) - r->ensure_since) / 1000));
	r->ensuring = false;
	if (w->fallback_on_start && !r->warm_ran) {
		warm_start_fallback(r, e.msg);
		return true;
	}
	x->started_ms = spok_now_ms();
	x->finished_ms = x->started_ms;
	x->has_exit_code = false;
	x->phase = SPOK_PHASE_RETRYABLE_FAILURE;
	set_str(&x->reason, xasprintf("session %s: %s", r->o->warm->session, e.msg));
	set_str(&x->log_path, xasprintf("%s/attempt-%u.log", x->run_dir, x->attempt));
	int fd = open(x->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		char *line = xasprintf("spok: %s\n", x->reason);
		spok_write_all(fd, line, strlen(line));
		free(line);
		close(fd);
	}
	attempt_next(r);
	return false;
}

/* The next attempt, unless the run was asked to stop before it started (also while it waits
 * for its warm session). */
static void on_kick(uv_timer_t *t)
{
	struct spok_local_run *r = t->data;
	struct spok_execution *x = r->x;

	if (r->stop_why || abort_pending(r->st, x)) {
		x->phase = SPOK_PHASE_ABORTED;
		x->finished_ms = spok_now_ms();
		set_str(&x->reason, r->stop_why ? xasprintf("%s before the attempt started", r->stop_why)
					       : xstrdup("aborted by spok abort before the attempt started"));
		run_end(r, spok_local_commit(r->st, x, &r->err));
		return;
	}
	if (warm_attempt(r) && r->o->warm->ensure && !warm_ensure(r))
		return;
	int result = attempt_begin(r);
	if (result != 0)
		run_end(r, result);
}

/* A run that cannot start ends its row here, with the cause: left QUEUED it waited for a
 * reader to settle it as "supervisor died" (and the daemon's reads never do). A row another
 * process supervises (ECONFLICT) is that process's. */
static void start_failed(struct spok_store *st, struct spok_execution *x, int code,
			 const struct spok_err *err)
{
	if (code == SPOK_ECONFLICT || spok_phase_terminal(x->phase))
		return;
	x->phase = SPOK_PHASE_RETRYABLE_FAILURE;
	x->finished_ms = spok_now_ms();
	set_str(&x->reason, xasprintf("could not start: %s", err->msg));
	/* The caller reports the cause; a row this write misses is settled by its next reader. */
	(void)spok_store_update(st, x, NULL);
}

int spok_local_start(uv_loop_t *loop, struct spok_store *st, const struct spok_task *t,
		     const struct spok_platform *p, const struct spok_local_opts *o,
		     struct spok_execution *x, spok_local_done_cb cb, void *arg,
		     struct spok_local_run **out, struct spok_err *err)
{
	struct spok_local_run *r = xcalloc(1, sizeof(*r));
	struct spok_err lerr = {0};
	int result;

	if (err == NULL)
		err = &lerr; /* the row records the cause */
	*out = NULL;
	r->lock_fd = spok_local_lock_adopt(x->id);
	if (r->lock_fd < 0)
		result = spok_local_lock_open(x->run_dir, x->id, &r->lock_fd, err);
	else
		result = 0;
	if (result == 0 && (result = spok_spark_env_find(&r->env, err)) != 0)
		close(r->lock_fd); /* spok_spark_env_find left nothing to free */
	if (result != 0) {
		free(r);
		start_failed(st, x, result, err);
		return result;
	}
	struct spok_proc_id self = spok_proc_self();

	x->supervisor_pid = self.pid;
	x->supervisor_start = self.start;
	r->loop = loop;
	r->st = st;
	r->t = t;
	r->p = p;
	r->o = o;
	r->x = x;
	r->cb = cb;
	r->cb_arg = arg;
	uv_timer_init(loop, &r->kick);
	r->kick.data = r;
	uv_timer_start(&r->kick, on_kick, 0, 0);
	*out = r;
	return 0;
}

void spok_local_run_abort(struct spok_local_run *r, const char *why)
{
	if (r->ending)
		return;
	r->stops++;
	if (!r->stop_why)
		r->stop_why = why;
	if (r->a && r->stops == 1)
		spok_local_attempt_stop(r->a, why);
	else if (r->a)
		spok_local_attempt_kill(r->a);
	else if (r->glue_running) /* the interrupt step is not waited for once asked to stop */
		uv_process_kill(&r->glue, SIGKILL);
}

/* ---- the blocking supervisor (spok run): its own loop and the stop signals ---- */

struct supervise {
	struct spok_local_run *run;
	uv_async_t wake;
	int handled;    /* stop signals acted on */
	const struct spok_local_opts *o;
	const struct spok_execution *x;
	bool done;
	int result;
	struct spok_err err;
};

static void on_signal_wake(uv_async_t *a)
{
	struct supervise *s = a->data;
	int sig = spok_local_stop_signal(), count = spok_local_stop_count();

	if (!sig || !s->run || s->done || count <= s->handled)
		return;
	/* The first signal stops the run (TERM, KILL after the grace); another one KILLs now. */
	spok_local_run_abort(s->run, spok_local_signal_reason(sig));
	s->handled = s->handled ? count : 1;
}

static void on_supervised(void *arg, int result, const struct spok_err *err)
{
	struct supervise *s = arg;

	s->done = true;
	s->run = NULL;
	s->result = result;
	if (s->o->watch)
		s->o->watch(s->o->watch_arg, NULL, s->x);
	if (result != 0)
		s->err = *err;
	spok_local_signals_restore();
	uv_close((uv_handle_t *)&s->wake, NULL);
}

int spok_local_supervise(struct spok_store *st, const struct spok_task *t,
			 const struct spok_platform *p, const struct spok_local_opts *o,
			 struct spok_execution *x, struct spok_err *err)
{
	struct supervise s = {0};
	uv_loop_t loop;

	uv_loop_init(&loop);
	uv_async_init(&loop, &s.wake, on_signal_wake);
	s.wake.data = &s;
	s.o = o;
	s.x = x;
	spok_local_signals_install(&s.wake);
	int result = spok_local_start(&loop, st, t, p, o, x, on_supervised, &s, &s.run, err);
	if (result != 0) {
		spok_local_signals_restore();
		uv_close((uv_handle_t *)&s.wake, NULL);
	} else {
		if (spok_local_stop_signal())
			uv_async_send(&s.wake); /* a signal that came before the loop ran */
		if (o->watch)
			o->watch(o->watch_arg, &loop, x);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	if (result == 0 && s.result != 0) {
		result = s.result;
		if (err)
			*err = s.err;
	}
	return result;
}
