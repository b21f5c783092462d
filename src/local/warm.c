/* warm.c - a local run's driver code as a Spark Connect client (`spok run --warm`): which
 * tasks cannot run so, the client's argv and environment, the interrupt of a session's
 * operations, and Connect's "not supported" errors in a client's log. See local.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "local/internal.h"
#include "sparkapp/sparkapp.h"

#define SCAN_MAX ((size_t)1 << 20) /* bytes of a main file read for the up-front check */

/* Python APIs a Spark Connect session does not have (Spark 3.5 and 4.0): the RDD and SparkContext
 * world and the JVM handles. A hit in a comment only costs a normal local run. */
static const char *const classic_only[] = {
	"sparkContext", "SparkContext", ".rdd", "parallelize(", "SQLContext", "HiveContext",
	"._jvm", "._jsc", "._jsparkSession", "._jdf", "SparkConf(", NULL
};

static char *scan_main(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	char *text = xmalloc(SCAN_MAX + 1);
	size_t n = 0;
	ssize_t r;
	while (n < SCAN_MAX && (r = read(fd, text + n, SCAN_MAX - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	text[n] = '\0';
	char *why = NULL;
	for (size_t i = 0; classic_only[i] && !why; i++) {
		const char *hit = strstr(text, classic_only[i]);
		if (!hit)
			continue;
		unsigned line = 1;
		for (const char *p = text; p < hit; p++)
			line += *p == '\n';
		const char *base = strrchr(path, '/');
		why = xasprintf("%s:%u uses %s (RDD/SparkContext/JVM API), which Spark Connect does not "
				"support", base ? base + 1 : path, line, classic_only[i]);
	}
	free(text);
	return why;
}

/* sparkConf a warm run may leave out: the size of a cluster the run does not start (the
 * server is sized by its pool). Anything else (spark.sql.*, spark.hadoop.*, packages, jars,
 * credentials, ...) changes what the job computes or reads, so the job runs cold. */
static bool sizing_conf(const char *key)
{
	static const char *const exact[] = {
		"spark.driver.memory", "spark.driver.cores", "spark.driver.memoryOverhead",
		"spark.executor.memory", "spark.executor.cores", "spark.executor.instances",
		"spark.executor.memoryOverhead", "spark.app.name", NULL
	};
	for (size_t i = 0; exact[i]; i++)
		if (strcmp(key, exact[i]) == 0)
			return true;
	return strncmp(key, "spark.dynamicAllocation.", 24) == 0;
}

/* The file of a flytekit task's module ("task-module a.b" in its args: DIR/a/b.py or
 * DIR/a/b/__init__.py under the run's --python-path), or NULL when it cannot be found (the
 * run itself then reports it). The user's code lives there, not in flytekit's entrypoint. */
static char *flyte_module_file(const struct spok_task *t, const char *python_path)
{
	const char *mod = NULL;
	char cwd[4096];

	for (size_t i = 0; i + 1 < t->args.len; i++)
		if (strcmp(t->args.items[i], "task-module") == 0)
			mod = t->args.items[i + 1];
	if (!mod || !*mod || mod[0] == '.' ||
	    strspn(mod, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.") != strlen(mod))
		return NULL;
	if (!python_path)
		python_path = getcwd(cwd, sizeof(cwd)) ? cwd : ".";
	char *rel = xstrdup(mod);
	for (char *p = rel; *p; p++)
		if (*p == '.')
			*p = '/';
	const char *const tails[] = {".py", "/__init__.py"};
	char *found = NULL;
	for (size_t i = 0; i < 2 && !found; i++) {
		char *path = xasprintf("%s/%s%s", python_path, rel, tails[i]);
		struct stat st;
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			found = path;
		else
			free(path);
	}
	free(rel);
	return found;
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);
	return n > m && strcmp(s + n - m, tail) == 0;
}

/* pyFiles/files a warm run cannot upload (spok_local_warm_artifacts uploads the others):
 * files on another file system, and Python files Spark Connect does not take. Heap or NULL. */
static char *deps_unsupported(const struct spok_task *t)
{
	for (int k = 0; k < 2; k++) {
		const struct spok_strv *v = k == 0 ? &t->py_files : &t->files;
		const char *field = k == 0 ? "pyFiles" : "files";
		for (size_t i = 0; i < v->len; i++) {
			char *path = spok_local_path_of(t, v->items[i]);
			if (!path)
				return xasprintf("%s[%zu] %.200s: a warm run uploads files of this machine "
						 "only (addArtifacts), not from another file system", field, i, v->items[i]);
			bool py = ends_with(path, ".py") || ends_with(path, ".zip") || ends_with(path, ".egg");
			free(path);
			if (k == 0 && !py)
				return xasprintf("pyFiles[%zu] %.200s: Spark Connect takes .py, .zip and .egg "
						 "files as Python dependencies", i, v->items[i]);
		}
	}
	return NULL;
}

char *spok_local_warm_unsupported(const struct spok_task *t, const struct spok_spark_env *env,
				  const char *python_path)
{
	if (t->type == SPOK_APP_JAVA || t->type == SPOK_APP_SCALA)
		return xstrdup("a JVM application (Java/Scala) cannot run as a Spark Connect client");
	if (t->type != SPOK_APP_PYTHON)
		return xstrdup("only Python applications run as Spark Connect clients");
	char *why = deps_unsupported(t);
	if (why)
		return why;
	if (t->hadoop_conf.len)
		return xasprintf("hadoopConf %s: a warm run uses the shared server's Hadoop settings, "
				 "not the job's", t->hadoop_conf.items[0].key);
	for (size_t i = 0; i < t->spark_conf.len; i++)
		if (!sizing_conf(t->spark_conf.items[i].key) && !spok_sparkapp_spok_key(t->spark_conf.items[i].key))
			return xasprintf("sparkConf %s: a warm run uses the shared server's settings, "
					 "not the job's", t->spark_conf.items[i].key);
	char *main_file = NULL;
	if (t->origin == SPOK_ORIGIN_FLYTE) /* flytekit's entrypoint runs the task's module */
		main_file = flyte_module_file(t, python_path);
	else if (spok_local_main_file(t, env, &main_file, NULL) != 0)
		return NULL; /* the normal checks report it */
	if (!main_file)
		return NULL;
	why = scan_main(main_file);
	free(main_file);
	return why;
}

/* ---- the job's files, uploaded to its Connect session (addArtifacts) ---- */

#define ARTIFACTS_MAX 64                          /* files a warm run uploads, at most */
#define ARTIFACT_BYTES_MAX ((uint64_t)128 << 20)  /* and their total size */
#define PKG_DEPTH_MAX 32                          /* directory levels of a zipped package */

struct artifacts {
	const char *src;       /* the task's file, for errors */
	const char *field;     /* the field of the entry at hand ("pyFiles[0]") */
	char *root;            /* realpath of the directory every file must be under */
	struct spok_buf spec;  /* "KIND\tPATH\n" lines: the glue's SPOK_WARM_ARTIFACTS */
	struct spok_strv names;/* base names so far: one server directory takes them all */
	size_t count;
	uint64_t bytes;
};

static int too_much(const struct artifacts *a, struct spok_err *err)
{
	if (a->count > ARTIFACTS_MAX)
		return spok_err_set(err, SPOK_EINVAL, "%s: %s: more than %d files to upload to a warm "
				    "session; zip them into one .zip (pyFiles), or run with --cold",
				    a->src, a->field, ARTIFACTS_MAX);
	if (a->bytes > ARTIFACT_BYTES_MAX)
		return spok_err_set(err, SPOK_EINVAL, "%s: %s: the files to upload to a warm session "
				    "pass %llu MiB; run with --cold", a->src, a->field,
				    (unsigned long long)(ARTIFACT_BYTES_MAX >> 20));
	return 0;
}

/* The entry's real path when it lies under a->root (symbolic links resolved), else an error
 * naming the field: a warm run uploads the job's own files, nothing else of this machine. */
static int inside(struct artifacts *a, const char *path, char **real, struct spok_err *err)
{
	char *r = realpath(path, NULL);
	size_t n = strlen(a->root);

	*real = NULL;
	if (!r)
		return spok_err_set(err, SPOK_EINVAL, "%s: %s %s: %s; fix the path (relative paths are "
				    "relative to the job file)", a->src, a->field, path, strerror(errno));
	if (strcmp(a->root, "/") != 0 && (strncmp(r, a->root, n) != 0 || (r[n] != '/' && r[n] != '\0'))) {
		int rc = spok_err_set(err, SPOK_EINVAL, "%s: %s %s: outside the job's directory %s; a "
				      "warm run uploads only files under it (move it there, or run with --cold)",
				      a->src, a->field, path, a->root);
		free(r);
		return rc;
	}
	if (strpbrk(r, "\t\n\r")) {
		free(r);
		return spok_err_set(err, SPOK_EINVAL, "%s: %s: a path with a tab or line break cannot "
				    "be uploaded; rename it", a->src, a->field);
	}
	*real = r;
	return 0;
}

/* One upload of `kind` (pyfile, file, pkg) under base name `name`. */
static int add_entry(struct artifacts *a, const char *kind, const char *real, const char *name,
		     struct spok_err *err)
{
	for (size_t i = 0; i < a->names.len; i++)
		if (strcmp(a->names.items[i], name) == 0)
			return spok_err_set(err, SPOK_EINVAL, "%s: %s: a second file named %s; the files "
					    "of a warm run share one directory on the server, rename one",
					    a->src, a->field, name);
	spok_strv_push(&a->names, name);
	spok_buf_printf(&a->spec, "%s\t%s\n", kind, real);
	return too_much(a, err);
}

/* A package directory's files, counted and sized as the glue zips them: regular files, not
 * symbolic links, nothing under __pycache__. */
static int walk_pkg(struct artifacts *a, const char *dir, unsigned depth, struct spok_err *err)
{
	if (depth > PKG_DEPTH_MAX)
		return spok_err_set(err, SPOK_EINVAL, "%s: %s: more than %d directory levels under %s",
				    a->src, a->field, PKG_DEPTH_MAX, a->root);
	DIR *d = opendir(dir);
	if (!d)
		return spok_err_set(err, SPOK_EINVAL, "%s: %s %s: %s", a->src, a->field, dir, strerror(errno));
	int result = 0;
	struct dirent *e;
	while (result == 0 && (e = readdir(d)) != NULL) {
		struct stat st;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    strcmp(e->d_name, "__pycache__") == 0)
			continue;
		char *p = xasprintf("%s/%s", dir, e->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			result = walk_pkg(a, p, depth + 1, err);
		} else if (lstat(p, &st) == 0 && S_ISREG(st.st_mode)) {
			a->count++;
			a->bytes += (uint64_t)st.st_size;
			result = too_much(a, err);
		}
		free(p);
	}
	closedir(d);
	return result;
}

static int add_file(struct artifacts *a, const char *kind, const char *path, struct spok_err *err)
{
	char *real = NULL;
	struct stat st;
	int result = inside(a, path, &real, err);

	if (result != 0)
		return result;
	if (stat(real, &st) != 0 || !S_ISREG(st.st_mode)) {
		result = spok_err_set(err, SPOK_EINVAL, "%s: %s %s: not a regular file; name a file",
				      a->src, a->field, path);
	} else {
		a->count++;
		a->bytes += (uint64_t)st.st_size;
		result = add_entry(a, kind, real, strrchr(real, '/') + 1, err);
	}
	free(real);
	return result;
}

/* A flytekit task's module "a.b" (under python_path): the top package a, zipped by the glue,
 * or the top module a.py; Python UDFs defined in it are pickled by reference to it. */
static int add_task_module(struct artifacts *a, const struct spok_task *t, struct spok_err *err)
{
	char *file = flyte_module_file(t, a->root);
	if (!file)
		return 0; /* the run itself reports it */
	const char *rel = file + strlen(a->root) + 1;
	const char *slash = strchr(rel, '/');
	char *real = NULL, *pkg = NULL;
	int result;

	a->field = "task-module";
	if (!slash) {
		result = add_file(a, "pyfile", file, err);
		free(file);
		return result;
	}
	pkg = xasprintf("%s/%.*s", a->root, (int)(slash - rel), rel);
	result = inside(a, pkg, &real, err);
	if (result == 0)
		result = walk_pkg(a, real, 0, err);
	if (result == 0) {
		char *name = xasprintf("%s.zip", strrchr(real, '/') + 1);
		result = add_entry(a, "pkg", real, name, err);
		free(name);
	}
	free(real);
	free(pkg);
	free(file);
	return result;
}

int spok_local_warm_artifacts(const struct spok_task *t, const char *python_path, char **spec,
			      struct spok_err *err)
{
	struct artifacts a = {.src = t->source_path ? t->source_path : "task"};
	char cwd[4096];
	int result = 0;

	*spec = NULL;
	if (t->origin == SPOK_ORIGIN_FLYTE) {
		if (!python_path)
			python_path = getcwd(cwd, sizeof(cwd)) ? cwd : ".";
		a.root = realpath(python_path, NULL);
	} else {
		char *d = spok_local_task_dir(t);
		a.root = realpath(d, NULL);
		free(d);
	}
	if (!a.root)
		return spok_err_set(err, SPOK_EINVAL, "%s: the job's directory: %s", a.src, strerror(errno));
	spok_buf_init(&a.spec, 0);
	if (t->origin == SPOK_ORIGIN_FLYTE)
		result = add_task_module(&a, t, err);
	for (int k = 0; k < 2 && result == 0; k++) {
		const struct spok_strv *v = k == 0 ? &t->py_files : &t->files;
		for (size_t i = 0; i < v->len && result == 0; i++) {
			char field[32];
			char *path = spok_local_path_of(t, v->items[i]);
			snprintf(field, sizeof(field), "%s[%zu]", k == 0 ? "pyFiles" : "files", i);
			a.field = field;
			if (path) /* other schemes: spok_local_warm_unsupported */
				result = add_file(&a, k == 0 ? "pyfile" : "file", path, err);
			free(path);
		}
	}
	if (result == 0 && a.spec.len)
		*spec = spok_buf_detach(&a.spec);
	spok_buf_free(&a.spec);
	spok_strv_free(&a.names);
	free(a.root);
	return result;
}

int spok_local_warm_check(const struct spok_task *t, const char *python_path, char **why,
			  struct spok_err *err)
{
	struct spok_spark_env env;
	char *spec = NULL;
	int result = spok_spark_env_find(&env, err);

	*why = NULL;
	if (result != 0)
		return result;
	*why = spok_local_warm_unsupported(t, &env, python_path);
	spok_spark_env_free(&env);
	if (!*why)
		result = spok_local_warm_artifacts(t, python_path, &spec, err);
	free(spec);
	return result;
}

void spok_local_warm_session_id(const char *exec_id, unsigned attempt, char out[37])
{
	/* Deterministic, so any process can name an attempt's session: "spok", the id's bytes
	 * in hex (padded), then the attempt in the last 4 digits, in the 8-4-4-4-12 form Spark
	 * Connect requires of a session id. A retry gets a fresh session: nothing the failed
	 * attempt left on the server (temp views, conf) leaks into it. */
	char hex[33];
	size_t n = 0;
	const char *p = strncmp(exec_id, "sp-", 3) == 0 ? exec_id + 3 : exec_id;
	n += (size_t)snprintf(hex, sizeof(hex), "73706f6b");
	for (; *p && n + 2 <= 28; p++)
		n += (size_t)snprintf(hex + n, sizeof(hex) - n, "%02x", (unsigned char)*p);
	while (n < 28)
		hex[n++] = '0';
	snprintf(hex + 28, 5, "%04x", attempt & 0xffffu);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

char *spok_local_warm_remote(const struct spok_local_warm *w, const char *exec_id,
			     unsigned attempt)
{
	char sid[37];

	spok_local_warm_session_id(exec_id, attempt, sid);
	return xasprintf("%s;session_id=%s", w->remote, sid);
}

/* Connect's own errors for APIs it lacks (pyspark 3.5 and 4.0: PySparkNotImplementedError
 * [NOT_IMPLEMENTED], [JVM_ATTRIBUTE_NOT_SUPPORTED]); other failures are the job's. */
static const char *const not_supported[] = {
	"[NOT_IMPLEMENTED]", "[JVM_ATTRIBUTE_NOT_SUPPORTED]", "PySparkNotImplementedError", NULL
};

/* The fallback reason when the exception line (line, len; not NUL-terminated) is one of
 * Connect's "not supported" errors, else NULL. Caller frees. */
static char *not_supported_reason(const char *line, size_t len)
{
	char *text = xstrndup(line, len);
	bool hit = false;
	for (size_t i = 0; not_supported[i] && !hit; i++)
		hit = strstr(text, not_supported[i]) != NULL;
	free(text);
	if (!hit)
		return NULL;
	if (len > 300)
		len = 300;
	return xasprintf("Spark Connect does not support what the job calls: %.*s", (int)len, line);
}

/* The exception line of the log's last Python traceback (the first unindented line after
 * its header; chained exceptions end with the final one), or NULL. Not NUL-terminated:
 * *len is its length. */
static const char *last_exception(const char *log_text, size_t *len)
{
	static const char head[] = "Traceback (most recent call last):";
	const char *last = NULL;

	for (const char *p = log_text; (p = strstr(p, head)) != NULL; p += sizeof(head) - 1)
		last = p;
	if (!last)
		return NULL;
	for (const char *line = strchr(last, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
		const char *s = line + 1;
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') {
			*len = strcspn(s, "\r\n");
			return s;
		}
	}
	return NULL;
}

char *spok_local_warm_log_reason(const char *log_text)
{
	size_t len = 0;
	const char *line = log_text ? last_exception(log_text, &len) : NULL;

	/* Only when the job FAILED on it: a job that caught a "not supported" error and then
	 * failed for its own reason fails with that reason (a cold re-run would repeat its side
	 * effects). */
	if (!line)
		return NULL;
	return not_supported_reason(line, len);
}

char *spok_local_warm_flyte_reason(const char *error_message)
{
	/* flytekit's error document ends with the exception the task failed with ("Message:"
	 * then that exception's line); the traceback before it may name caught ones. */
	const char *end = error_message ? error_message + strlen(error_message) : NULL;

	if (!end)
		return NULL;
	while (end > error_message && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		end--;
	const char *line = end;
	while (line > error_message && line[-1] != '\n')
		line--;
	line += strspn(line, " \t");
	if (line >= end)
		return NULL;
	size_t len = (size_t)(end - line);
	return not_supported_reason(line, len);
}

/* The glue that must be Python: a second client on the same session id interrupts every
 * operation of that session (and nothing of other sessions). */
static const char interrupt_glue[] =
	"import os\n"
	"from pyspark.sql import SparkSession\n"
	"s = SparkSession.builder.remote(os.environ['SPARK_REMOTE']).getOrCreate()\n"
	"ids = s.interruptAll()\n"
	"print('spok: interrupted %d operation(s) of this run on the Spark Connect server' % len(ids))\n";

void spok_local_warm_interrupt_argv(const struct spok_spark_env *env, struct spok_strv *argv)
{
	spok_strv_push(argv, env->python ? env->python : "python3");
	spok_strv_push(argv, "-c");
	spok_strv_push(argv, interrupt_glue);
}

char *spok_local_user(void)
{
	struct passwd *pw = getpwuid(geteuid());

	if (pw && pw->pw_name && *pw->pw_name &&
	    strspn(pw->pw_name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == strlen(pw->pw_name))
		return xstrdup(pw->pw_name);
	return xasprintf("uid%u", (unsigned)geteuid());
}

extern char **environ;

static void nap_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int spok_local_warm_interrupt_sync(const struct spok_spark_env *env, const char *remote,
				   const char *token, const char *log_path)
{
	struct spok_strv argv = {0}, envv = {0};
	int fd = log_path ? open(log_path, O_WRONLY | O_APPEND | O_CLOEXEC) : -1;

	spok_local_warm_interrupt_argv(env, &argv);
	for (char **e = environ; e && *e; e++)
		/* not the settled run's marker: a later settle must not take the glue for the run */
		if (strncmp(*e, "SPARK_REMOTE=", 13) != 0 && strncmp(*e, "SPOK_EXECUTION_ID=", 18) != 0 &&
		    strncmp(*e, "SPARK_CONNECT_MODE_ENABLED=", 27) != 0 &&
		    strncmp(*e, "SPARK_CONNECT_AUTHENTICATE_TOKEN=", 33) != 0)
			spok_strv_push(&envv, *e);
	spok_strv_pushf(&envv, "SPARK_REMOTE=%s", remote);
	if (token)
		spok_strv_pushf(&envv, "SPARK_CONNECT_AUTHENTICATE_TOKEN=%s", token);
	if (env->spark_home)
		spok_strv_pushf(&envv, "SPARK_HOME=%s", env->spark_home);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		setsid(); /* its own group: the bounded wait below can end all of it */
		dup2(null, 0);
		dup2(fd >= 0 ? fd : null, 1);
		dup2(fd >= 0 ? fd : null, 2);
		execve(argv.items[0], argv.items, envv.items);
		_exit(127);
	}
	spok_strv_free(&argv);
	spok_strv_free(&envv);
	if (fd >= 0)
		close(fd);
	if (pid < 0)
		return -1;
	int status = 0;
	pid_t got = 0;
	for (unsigned w = 0; (got = waitpid(pid, &status, WNOHANG)) == 0 && w < SPOK_LOCAL_GLUE_MS; w += 100)
		nap_ms(100);
	if (got == 0) { /* a server that stopped answering: the client retries for minutes */
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return -1;
	}
	return got == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* The glue that uploads the job's files (SPOK_WARM_ARTIFACTS, "KIND\tPATH" lines of
 * spok_local_warm_artifacts) to the session before the job's code runs: pyfile and file with
 * SparkSession.addArtifacts(pyfile=True / file=True), a pkg directory zipped first (its
 * regular files, no symbolic links, nothing under __pycache__) and sent as a pyfile. The
 * server keeps them per Connect session (its own directory, and Python workers of its own
 * whose path has them), so another session never sees them. The client imports them as a
 * classic driver does: a .zip pyfile from where it is (addArtifacts puts it on sys.path), .py
 * pyfiles from a directory of their own on sys.path (spark-submit's --py-files copies them
 * into one); a zipped pkg is on the client's path already (--python-path). */
#define UPLOAD_GLUE \
	"import os, sys, runpy\n" \
	"_spok_spec = os.environ.pop('SPOK_WARM_ARTIFACTS', '')\n" \
	"def _spok_upload(session):\n" \
	"    global _spok_spec\n" \
	"    spec, _spok_spec = [l.split('\\t', 1) for l in _spok_spec.splitlines() if '\\t' in l], ''\n" \
	"    if not spec:\n" \
	"        return\n" \
	"    import atexit, shutil, tempfile, zipfile\n" \
	"    tmp = tempfile.mkdtemp(prefix='spok-artifacts-')\n" \
	"    atexit.register(shutil.rmtree, tmp, True)\n" \
	"    py_dir = os.path.join(tmp, 'py')\n" \
	"    os.mkdir(py_dir)\n" \
	"    pyfiles, files, zipped = [], [], []\n" \
	"    for kind, path in spec:\n" \
	"        if kind == 'pkg':\n" \
	"            z = os.path.join(tmp, os.path.basename(path) + '.zip')\n" \
	"            with zipfile.ZipFile(z, 'w', zipfile.ZIP_DEFLATED) as zf:\n" \
	"                for d, dirs, names in os.walk(path):\n" \
	"                    dirs[:] = sorted(x for x in dirs if x != '__pycache__' and not os.path.islink(os.path.join(d, x)))\n" \
	"                    for n in sorted(names):\n" \
	"                        f = os.path.join(d, n)\n" \
	"                        if os.path.isfile(f) and not os.path.islink(f):\n" \
	"                            zf.write(f, os.path.relpath(f, os.path.dirname(path)))\n" \
	"            pyfiles.append(z)\n" \
	"            zipped.append(z)\n" \
	"        elif kind == 'pyfile':\n" \
	"            pyfiles.append(path)\n" \
	"            if path.endswith('.py'):\n" \
	"                os.symlink(path, os.path.join(py_dir, os.path.basename(path)))\n" \
	"        else:\n" \
	"            files.append(path)\n" \
	"    if pyfiles:\n" \
	"        session.addArtifacts(*pyfiles, pyfile=True)\n" \
	"    if files:\n" \
	"        session.addArtifacts(*files, file=True)\n" \
	"    sys.path[:] = [p for p in sys.path if p not in zipped]\n" \
	"    if os.listdir(py_dir):\n" \
	"        sys.path.insert(1, py_dir)\n" \
	"    print('spok: uploaded %d file(s) to the Spark Connect session' % len(spec), file=sys.stderr)\n"

/* A plain job with files: upload, then MAIN as `python MAIN ARGS` runs it (its directory
 * first on sys.path, sys.argv without the glue). */
static const char plain_glue[] =
	UPLOAD_GLUE
	"from pyspark.sql import SparkSession\n"
	"_spok_upload(SparkSession.builder.getOrCreate())\n"
	"sys.argv = sys.argv[1:]\n"
	"if sys.path and sys.path[0] == '':  # not under PYTHONSAFEPATH, as for python MAIN\n"
	"    sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))\n"
	"runpy.run_path(sys.argv[0], run_name='__main__')\n";

/* The glue that must be Python, for flytekit tasks: flytekit's Spark plugin builds the task's
 * session in PysparkFunctionTask.pre_execute (flytekitplugins/spark/task.py), and for a
 * fast-registered task ships the code with session.sparkContext.addPyFile, which a Connect
 * session does not have. This pre_execute builds the session from SPARK_REMOTE (a Connect
 * one) and touches no SparkContext, and uploads the task's module (UPLOAD_GLUE) so Python
 * UDFs defined in it (pickled by reference to the module) run on the server; then flytekit's
 * own entrypoint runs as it would under spark-submit (inputs.pb in, outputs.pb or error.pb
 * out). The user's code reads current_context().spark_session as before. Installed files stay
 * as they are.
 * Spark 3.5's Connect DataFrame.count() returned a numpy.int64 where the classic one (and its
 * own annotation) gives an int; flytekit's type engine refuses numpy values for a declared
 * int/float output, so `return df.count()` would fail warm only: count() gives an int here
 * (4.0's already does; the wrapper keeps a client of either version right).
 * flytekit's Spark plugin registers its parquet encoder/decoder for the classic DataFrame type;
 * a DataFrame returned as such works (the declared type picks the encoder, which only calls
 * df.write), but one wrapped in a StructuredDataset is looked up by its own (Connect) type:
 * the same handlers are registered for it, so the server writes the parquet (locally, the
 * run's raw output directory, which client and server share). */
static const char flyte_glue[] =
	UPLOAD_GLUE
	"from flytekitplugins.spark import task as spark_task\n"
	"from pyspark.sql.connect.dataframe import DataFrame\n"
	"def pre_execute(self, user_params):\n"
	"    from pyspark.sql import SparkSession\n"
	"    self.sess = SparkSession.builder.getOrCreate()\n"
	"    _spok_upload(self.sess)\n"
	"    return user_params.builder().add_attr('SPARK_SESSION', self.sess).build()\n"
	"spark_task.PysparkFunctionTask.pre_execute = pre_execute\n"
	"connect_count = DataFrame.count\n"
	"from flytekit.types.structured.structured_dataset import StructuredDatasetTransformerEngine as SDTE\n"
	"from flytekitplugins.spark import sd_transformers as sdt\n"
	"class ConnectToParquet(sdt.SparkToParquetEncodingHandler):\n"
	"    def __init__(self):\n"
	"        sdt.StructuredDatasetEncoder.__init__(self, DataFrame, None, sdt.PARQUET)\n"
	"class ParquetToConnect(sdt.ParquetToSparkDecodingHandler):\n"
	"    def __init__(self):\n"
	"        sdt.StructuredDatasetDecoder.__init__(self, DataFrame, None, sdt.PARQUET)\n"
	"SDTE.register(ConnectToParquet())\n"
	"SDTE.register(ParquetToConnect())\n"
	"DataFrame.count = lambda self: int(connect_count(self))\n"
	"sys.argv = sys.argv[1:]\n"
	"runpy.run_path(sys.argv[0], run_name='__main__')\n";

int spok_local_warm_argv(const struct spok_task *t, const struct spok_spark_env *env,
			 const char *python_path, struct spok_strv *argv, char **artifacts,
			 struct spok_err *err)
{
	char *main_file = NULL;
	int result = spok_local_main_file(t, env, &main_file, err);

	*artifacts = NULL;
	if (result == 0)
		result = spok_local_warm_artifacts(t, python_path, artifacts, err);
	if (result != 0) {
		free(main_file);
		return result;
	}
	spok_strv_push(argv, env->python ? env->python : "python3");
	if (t->origin == SPOK_ORIGIN_FLYTE || *artifacts) {
		spok_strv_push(argv, "-c");
		spok_strv_push(argv, t->origin == SPOK_ORIGIN_FLYTE ? flyte_glue : plain_glue);
	}
	spok_strv_push_own(argv, main_file);
	return 0; /* the task's args follow (spok_local_flyte_prepare) */
}
