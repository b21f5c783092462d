/* warm.c - a local run's driver code as a Spark Connect client (`spok run --warm`): which
 * tasks cannot run so, the client's argv and environment, the interrupt of a session's
 * operations, and Connect's "not supported" errors in a client's log. See local.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

char *spok_local_warm_unsupported(const struct spok_task *t, const struct spok_spark_env *env)
{
	if (t->type == SPOK_APP_JAVA || t->type == SPOK_APP_SCALA)
		return xstrdup("a JVM application (Java/Scala) cannot run as a Spark Connect client");
	if (t->type != SPOK_APP_PYTHON)
		return xstrdup("only Python applications run as Spark Connect clients");
	if (t->origin == SPOK_ORIGIN_FLYTE)
		return xstrdup("flytekit tasks do not run warm yet (flytekit's Spark plugin builds a SparkContext)");
	if (t->py_files.len || t->files.len)
		return xstrdup("pyFiles/files would have to be uploaded to the server (addArtifacts), "
			       "which warm runs do not do yet");
	for (size_t i = 0; i < t->spark_conf.len; i++)
		if (strncmp(t->spark_conf.items[i].key, "spark.sql.", 10) == 0)
			return xasprintf("sparkConf %s: a session conf on a shared server is not applied "
					 "by warm runs yet", t->spark_conf.items[i].key);
	char *main_file = NULL;
	if (spok_local_main_file(t, env, &main_file, NULL) != 0)
		return NULL; /* the normal checks report it */
	char *why = scan_main(main_file);
	free(main_file);
	return why;
}

void spok_local_warm_session_id(const char *exec_id, char out[37])
{
	/* Deterministic, so any process can name a run's session: "spok" then the id's bytes in
	 * hex, padded, in the 8-4-4-4-12 form Spark Connect requires of a session id. */
	char hex[33];
	size_t n = 0;
	const char *p = strncmp(exec_id, "sp-", 3) == 0 ? exec_id + 3 : exec_id;
	n += (size_t)snprintf(hex, sizeof(hex), "73706f6b");
	for (; *p && n + 2 < sizeof(hex); p++)
		n += (size_t)snprintf(hex + n, sizeof(hex) - n, "%02x", (unsigned char)*p);
	while (n < 32)
		hex[n++] = '0';
	hex[32] = '\0';
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

char *spok_local_warm_remote(const struct spok_local_warm *w, const char *exec_id)
{
	char sid[37];

	spok_local_warm_session_id(exec_id, sid);
	return xasprintf("%s;session_id=%s", w->remote, sid);
}

/* Connect's own errors for APIs it lacks (pyspark 3.5: PySparkNotImplementedError
 * [NOT_IMPLEMENTED], [JVM_ATTRIBUTE_NOT_SUPPORTED]); other failures are the job's. */
static const char *const not_supported[] = {
	"[NOT_IMPLEMENTED]", "[JVM_ATTRIBUTE_NOT_SUPPORTED]", "PySparkNotImplementedError", NULL
};

char *spok_local_warm_log_reason(const char *log_text)
{
	if (!log_text)
		return NULL;
	for (size_t i = 0; not_supported[i]; i++) {
		const char *hit = strstr(log_text, not_supported[i]);
		if (!hit)
			continue;
		const char *start = hit;
		while (start > log_text && start[-1] != '\n')
			start--;
		size_t len = strcspn(start, "\r\n");
		if (len > 300)
			len = 300;
		return xasprintf("Spark Connect does not support what the job calls: %.*s", (int)len, start);
	}
	return NULL;
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

int spok_local_warm_argv(const struct spok_task *t, const struct spok_spark_env *env,
			 struct spok_strv *argv, struct spok_err *err)
{
	char *main_file = NULL;
	int result = spok_local_main_file(t, env, &main_file, err);

	if (result != 0)
		return result;
	spok_strv_push(argv, env->python ? env->python : "python3");
	spok_strv_push_own(argv, main_file);
	return 0; /* the task's args follow (spok_local_flyte_prepare) */
}
