/* warm.c - a local run's driver code as a Spark Connect client (`spok run --warm`): which
 * tasks cannot run so, the client's argv and environment, the interrupt of a session's
 * operations, and Connect's "not supported" errors in a client's log. See local.h. */
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

#include "common/xalloc.h"
#include "local/internal.h"

#define SCAN_MAX ((size_t)1 << 20) /* bytes of a main file read for the up-front check */

/* Python APIs a Spark Connect session does not have (Spark 3.5): the RDD and SparkContext
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

char *spok_local_warm_unsupported(const struct spok_task *t, const struct spok_spark_env *env,
				  const char *python_path)
{
	if (t->type == SPOK_APP_JAVA || t->type == SPOK_APP_SCALA)
		return xstrdup("a JVM application (Java/Scala) cannot run as a Spark Connect client");
	if (t->type != SPOK_APP_PYTHON)
		return xstrdup("only Python applications run as Spark Connect clients");
	if (t->py_files.len || t->files.len)
		return xstrdup("pyFiles/files would have to be uploaded to the server (addArtifacts), "
			       "which warm runs do not do yet");
	if (t->hadoop_conf.len)
		return xasprintf("hadoopConf %s: a warm run uses the shared server's Hadoop settings, "
				 "not the job's", t->hadoop_conf.items[0].key);
	for (size_t i = 0; i < t->spark_conf.len; i++)
		if (!sizing_conf(t->spark_conf.items[i].key))
			return xasprintf("sparkConf %s: a warm run uses the shared server's settings, "
					 "not the job's", t->spark_conf.items[i].key);
	char *main_file = NULL;
	if (t->origin == SPOK_ORIGIN_FLYTE) /* flytekit's entrypoint runs the task's module */
		main_file = flyte_module_file(t, python_path);
	else if (spok_local_main_file(t, env, &main_file, NULL) != 0)
		return NULL; /* the normal checks report it */
	if (!main_file)
		return NULL;
	char *why = scan_main(main_file);
	free(main_file);
	return why;
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

/* Connect's own errors for APIs it lacks (pyspark 3.5: PySparkNotImplementedError
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
				   const char *log_path)
{
	struct spok_strv argv = {0}, envv = {0};
	int fd = log_path ? open(log_path, O_WRONLY | O_APPEND | O_CLOEXEC) : -1;

	spok_local_warm_interrupt_argv(env, &argv);
	for (char **e = environ; e && *e; e++)
		/* not the settled run's marker: a later settle must not take the glue for the run */
		if (strncmp(*e, "SPARK_REMOTE=", 13) != 0 && strncmp(*e, "SPOK_EXECUTION_ID=", 18) != 0 &&
		    strncmp(*e, "SPARK_CONNECT_MODE_ENABLED=", 27) != 0)
			spok_strv_push(&envv, *e);
	spok_strv_pushf(&envv, "SPARK_REMOTE=%s", remote);
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

/* The glue that must be Python, for flytekit tasks: flytekit's Spark plugin builds the task's
 * session in PysparkFunctionTask.pre_execute (flytekitplugins/spark/task.py), and for a
 * fast-registered task ships the code with session.sparkContext.addPyFile, which a Connect
 * session does not have. This pre_execute builds the session from SPARK_REMOTE (a Connect
 * one) and touches no SparkContext; then flytekit's own entrypoint runs as it would under
 * spark-submit (inputs.pb in, outputs.pb or error.pb out). The user's code reads
 * current_context().spark_session as before. Installed files stay as they are.
 * Spark 3.5's Connect DataFrame.count() returns a numpy.int64 where the classic one (and its
 * own annotation) gives an int; flytekit's type engine refuses numpy values for a declared
 * int/float output, so `return df.count()` would fail warm only: count() gives an int here. */
static const char flyte_glue[] =
	"import runpy, sys\n"
	"from flytekitplugins.spark import task as spark_task\n"
	"from pyspark.sql.connect.dataframe import DataFrame\n"
	"def pre_execute(self, user_params):\n"
	"    from pyspark.sql import SparkSession\n"
	"    self.sess = SparkSession.builder.getOrCreate()\n"
	"    return user_params.builder().add_attr('SPARK_SESSION', self.sess).build()\n"
	"spark_task.PysparkFunctionTask.pre_execute = pre_execute\n"
	"connect_count = DataFrame.count\n"
	"DataFrame.count = lambda self: int(connect_count(self))\n"
	"sys.argv = sys.argv[1:]\n"
	"runpy.run_path(sys.argv[0], run_name='__main__')\n";

int spok_local_warm_argv(const struct spok_task *t, const struct spok_spark_env *env,
			 struct spok_strv *argv, struct spok_err *err)
{
	char *main_file = NULL;
	int result = spok_local_main_file(t, env, &main_file, err);

	if (result != 0)
		return result;
	spok_strv_push(argv, env->python ? env->python : "python3");
	if (t->origin == SPOK_ORIGIN_FLYTE) {
		spok_strv_push(argv, "-c");
		spok_strv_push(argv, flyte_glue);
	}
	spok_strv_push_own(argv, main_file);
	return 0; /* the task's args follow (spok_local_flyte_prepare) */
}
