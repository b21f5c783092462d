/* test_local.c - the runner's pure parts: failure reasons from driver logs, the
 * spark-submit argv for a task, durations; and runs on a borrowed loop with a stand-in
 * spark-submit. (End-to-end runs with real Spark: e2e.sh.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "common/utf8.h"
#include "common/xalloc.h"
#include "local/local.h"

static char *reason(const char *log, bool *perm)
{
	return spok_local_reason(log, perm);
}

static void test_reasons(void **state)
{
	(void)state;
	bool perm;
	char *r;

	r = reason("INFO x\nTraceback (most recent call last):\n  File \"f.py\", line 2, in <module>\n"
		   "    raise ValueError(\"boom here\")\nValueError: boom here\n26/01/01 INFO ShutdownHookManager: bye\n", &perm);
	assert_string_equal(r, "ValueError: boom here");
	assert_false(perm);
	free(r);
	r = reason("Exception in thread \"main\" java.lang.IllegalStateException: requested failure\n\tat X.main\n", &perm);
	assert_string_equal(r, "java.lang.IllegalStateException: requested failure");
	free(r);
	r = reason("Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space\n", &perm);
	assert_non_null(strstr(r, "java.lang.OutOfMemoryError"));
	assert_non_null(strstr(r, "spark.driver.memory"));
	free(r);
	r = reason("Invalid maximum heap size: -Xmxlots\nError: Could not create the Java Virtual Machine.\n"
		   "Error: A fatal exception has occurred. Program will exit.\n", &perm);
	assert_non_null(strstr(r, "Invalid maximum heap size: -Xmxlots"));
	assert_true(perm);
	free(r);
	r = reason("Error: Invalid argument to --conf: nodot\n\nUsage: spark-submit ...\n", &perm);
	assert_string_equal(r, "spark-submit rejected the job: Invalid argument to --conf: nodot");
	assert_true(perm);
	free(r);
	assert_null(reason("all fine\n", &perm));
	assert_null(reason("", &perm));
	assert_null(reason(NULL, &perm));
	/* Unterminated traceback and overlong lines are handled. */
	assert_null(reason("Traceback (most recent call last):\n  File x\n", &perm));
	char *big = xmalloc(10000);
	memset(big, 'a', 9999);
	big[9999] = '\0';
	memcpy(big, "Error: ", 7);
	r = reason(big, &perm);
	assert_true(strlen(r) < 500);
	free(r);
	free(big);
	/* The 400-byte cut lands inside "é" (bytes 399-400): it backs up to a character boundary
	 * so the reason stays valid UTF-8 (JSON output drops invalid strings). */
	char line[1024];
	snprintf(line, sizeof(line), "Traceback (most recent call last):\n  File x\nValueError: %0387d\xC3\xA9 tail\n", 0);
	r = reason(line, &perm);
	assert_int_equal(strlen(r), 399);
	assert_true(spok_utf8_validn(r, strlen(r)));
	free(r);
}

static bool has_arg(const struct spok_strv *v, const char *s)
{
	for (size_t i = 0; i < v->len; i++)
		if (strcmp(v->items[i], s) == 0)
			return true;
	return false;
}

static bool any_arg_has(const struct spok_strv *v, const char *s)
{
	for (size_t i = 0; i < v->len; i++)
		if (strstr(v->items[i], s))
			return true;
	return false;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *buf = xmalloc(65536);
	size_t n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

/* The conf reaches spark-submit through a 0600 properties file, never argv (ps shows argv to
 * every user, and sparkConf/hadoopConf may hold S3 keys, passwords, tokens). */
static void test_argv(void **state)
{
	(void)state;
	struct spok_task t;
	struct spok_platform p;
	struct spok_spark_env env = {.spark_submit = xstrdup("/x/spark-submit"), .python = xstrdup("/x/python")};
	struct spok_local_opts o = {.master = "local[2]"};
	char dir[] = "/tmp/spok-test-argv-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct spok_execution x = {.id = (char *)"sp-test", .event_log_dir = (char *)"file:///d/spark-events",
				   .run_dir = dir, .attempt = 1};
	struct spok_strv argv = {0};
	struct spok_err err = {0};
	const char *src = getenv("SPOK_SOURCE_DIR");
	char *props = spok_local_props_path(&x);
	char *decoy = xasprintf("%s/decoy", dir);

	assert_non_null(strstr(props, "/spark-conf-1.properties"));
	/* Whatever sits at the path (here a symlink) is replaced, not followed. */
	assert_int_equal(symlink(decoy, props), 0);
	spok_task_init(&t);
	spok_platform_init(&p);
	t.source_path = xasprintf("%s/examples/java/sparkpi.yaml", src ? src : ".");
	t.name = xstrdup("java-pi");
	t.type = SPOK_APP_JAVA;
	t.main_class = xstrdup("spok.examples.SparkPi");
	t.main_application_file = xstrdup("local://SparkPi.java"); /* any existing file */
	spok_strmap_set(&t.spark_conf, "spark.driver.memory", "512m");
	spok_strmap_set(&t.spark_conf, "spark.kubernetes.namespace", "dropped");
	spok_strmap_set(&t.spark_conf, "spark.master", "k8s://dropped");
	spok_strmap_set(&t.spark_conf, "spark.pyspark.python", "/opt/venv/bin/python3");
	spok_strmap_set(&t.spark_conf, "spark.odd key=a:b", " lead#!\\\n\xE2\x82\xAC\xF0\x9F\x98\x80\xFF end");
	spok_strmap_set(&t.hadoop_conf, "fs.s3a.endpoint", "http://minio:9000");
	spok_strmap_set(&t.hadoop_conf, "fs.s3a.secret.key", "s3cr3t-value");
	assert_int_equal(spok_local_argv(&t, &p, &env, &o, &x, 4041, &argv, &err), 0);
	assert_string_equal(argv.items[0], "/x/spark-submit");
	assert_string_equal(argv.items[1], "--properties-file");
	assert_string_equal(argv.items[2], props);
	assert_string_equal(argv.items[3], "--master");
	assert_string_equal(argv.items[4], "local[2]");
	assert_true(has_arg(&argv, "--class"));
	assert_true(has_arg(&argv, "spok.examples.SparkPi"));
	assert_false(has_arg(&argv, "--conf"));
	assert_false(any_arg_has(&argv, "s3cr3t"));
	assert_false(any_arg_has(&argv, "512m"));
	assert_non_null(strstr(argv.items[argv.len - 1], "examples/java/SparkPi.java"));
	assert_int_equal(access(decoy, F_OK), -1);

	struct stat st;
	assert_int_equal(lstat(props, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	char *text = slurp(props);
	assert_true(has_line(text, "spark.driver.memory=512m"));
	assert_true(has_line(text, "spark.hadoop.fs.s3a.endpoint=http\\://minio\\:9000"));
	assert_true(has_line(text, "spark.hadoop.fs.s3a.secret.key=s3cr3t-value"));
	assert_true(has_line(text, "spark.pyspark.python=/x/python"));
	assert_true(has_line(text, "spark.ui.port=4041"));
	assert_true(has_line(text, "spark.eventLog.enabled=true"));
	assert_true(has_line(text, "spark.eventLog.dir=file\\:///d/spark-events"));
	assert_true(has_line(text, "spark.driver.bindAddress=127.0.0.1"));
	/* Java properties escaping: spaces in keys, a leading space in values, separators,
	 * comment characters, backslash, newline, non-ASCII as UTF-16 \u escapes. */
	assert_true(has_line(text, "spark.odd\\ key\\=a\\:b=\\ lead\\#\\!\\\\\\n\\u20AC\\uD83D\\uDE00\\uFFFD end"));
	assert_null(strstr(text, "dropped"));
	for (const char *c = text; *c; c++)
		assert_true(*c == '\n' || (*c >= 0x20 && *c < 0x7f));
	free(text);
	spok_strv_free(&argv);

	/* A second run of the same attempt replaces the file. */
	assert_int_equal(spok_local_argv(&t, &p, &env, &o, &x, 0, &argv, &err), 0);
	text = slurp(props);
	assert_null(strstr(text, "spark.ui.port"));
	free(text);
	spok_strv_free(&argv);
	assert_int_equal(unlink(props), 0);

	/* pyFiles / files: --py-files and --files before the main file, comma-joined; local://
	 * and relative paths resolved here, other URIs as written. */
	spok_strv_push(&t.py_files, "SparkPi.java");
	spok_strv_push(&t.py_files, "s3a://b/m.zip");
	spok_strv_push(&t.files, "local://build.sh");
	assert_int_equal(spok_local_argv(&t, &p, &env, &o, &x, 0, &argv, &err), 0);
	assert_string_equal(argv.items[argv.len - 5], "--py-files");
	text = xasprintf("%s/examples/java/SparkPi.java,s3a://b/m.zip", src ? src : ".");
	assert_string_equal(argv.items[argv.len - 4], text);
	free(text);
	assert_string_equal(argv.items[argv.len - 3], "--files");
	assert_non_null(strstr(argv.items[argv.len - 2], "/examples/java/build.sh"));
	assert_int_equal(argv.items[argv.len - 2][0], '/');
	spok_strv_free(&argv);
	assert_int_equal(unlink(props), 0);
	spok_strv_push(&t.files, "missing.txt");
	assert_int_equal(spok_local_argv(&t, &p, &env, &o, &x, 0, &argv, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "sparkpi.yaml: files[1] "));
	assert_non_null(strstr(err.msg, "missing.txt: No such file or directory; fix the path"));
	assert_int_equal(access(props, F_OK), -1);
	spok_strv_free(&t.py_files);
	spok_strv_free(&t.files);

	/* A missing main file names the job file and the resolved path. */
	free(t.main_application_file);
	t.main_application_file = xstrdup("nope.jar");
	assert_int_equal(spok_local_argv(&t, &p, &env, &o, &x, 0, &argv, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "sparkpi.yaml"));
	assert_non_null(strstr(err.msg, "nope.jar"));
	assert_int_equal(access(props, F_OK), -1);
	spok_strv_free(&argv);
	spok_task_free(&t);
	spok_platform_free(&p);
	spok_spark_env_free(&env);
	free(props);
	free(decoy);
	assert_int_equal(rmdir(dir), 0);
}

/* A pidfile whose process is gone (start time 0 or a pid out of range) is not a running
 * history server: trusting it would signal whatever group now has that number, and a pid
 * past pid_t's range would truncate to -1 (every process). */
static void write_pidfile(const char *dir, const char *text)
{
	char *path = xasprintf("%s/history.pid", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(path);
}

static void test_stale_pidfile(void **state)
{
	(void)state;
	char dir[] = "/tmp/spok-test-pidfile-XXXXXX";
	struct spok_err err = {0};

	assert_non_null(mkdtemp(dir));
	write_pidfile(dir, "999999999 0 18080\n");
	assert_int_equal(spok_history_running(dir), 0);
	write_pidfile(dir, "4294967297 0 18080\n");
	assert_int_equal(spok_history_running(dir), 0);
	assert_int_equal(spok_history_stop(dir, &err), SPOK_ENOTFOUND);
	write_pidfile(dir, "0 0 18080\n");
	assert_int_equal(spok_history_running(dir), 0);
	char *path = xasprintf("%s/history.pid", dir);
	unlink(path);
	free(path);
	assert_int_equal(rmdir(dir), 0);
}

/* spok history --log-dir: bad dirs are refused before anything starts; one server per data
 * dir, so a running one (this process stands in for it) over another dir is a conflict and
 * over the same dir is kept. (A real server over cluster event logs: tests/node/history.sh.) */
static void test_history_log_dir(void **state)
{
	(void)state;
	char dir[] = "/tmp/spok-test-hist-XXXXXX";
	struct spok_err err = {0};
	char *uri = NULL, *text, *file, *other, *events, *pidpath;
	int port = 0;

	assert_non_null(mkdtemp(dir));
	file = xasprintf("%s/file", dir);
	other = xasprintf("%s/other", dir);
	events = xasprintf("%s/spark-events", dir);
	pidpath = xasprintf("%s/history.pid", dir);
	write_pidfile(dir, "");
	rename(pidpath, file);
	assert_int_equal(mkdir(other, 0700), 0);
	assert_int_equal(spok_history_start(dir, "/nonexistent/ev", 1, &port, &uri, &err), SPOK_ENOTFOUND);
	assert_non_null(strstr(err.msg, "/nonexistent/ev: cannot use as the event-log dir"));
	assert_int_equal(spok_history_start(dir, file, 1, &port, &uri, &err), SPOK_EINVAL);
	assert_int_equal(spok_history_start(dir, "file://host/ev", 1, &port, &uri, &err), SPOK_EINVAL);
	assert_int_equal(spok_history_start(dir, "", 1, &port, &uri, &err), SPOK_EINVAL);
	assert_null(uri);
	/* "running" over other/ (our own pid and start time) */
	text = xasprintf("%d %llu 18099\nfile://%s\n", (int)getpid(),
			 (unsigned long long)spok_pid_start_time(getpid()), other);
	write_pidfile(dir, text);
	free(text);
	assert_int_equal(spok_history_running(dir), 18099);
	assert_int_equal(spok_history_start(dir, NULL, 1, &port, &uri, &err), SPOK_ECONFLICT);
	assert_non_null(strstr(err.msg, "already running on port 18099 over file://"));
	text = xasprintf("file://%s/other/../other/", dir);
	assert_int_equal(spok_history_start(dir, text, 1, &port, &uri, &err), 0);
	free(text);
	assert_int_equal(port, 18099);
	assert_non_null(uri);
	assert_non_null(strstr(uri, "/other"));
	assert_null(strstr(uri, ".."));
	free(uri);
	unlink(pidpath);
	unlink(file);
	rmdir(other);
	rmdir(events);
	assert_int_equal(rmdir(dir), 0);
	free(file);
	free(other);
	free(events);
	free(pidpath);
}

/* A reader settling local rows whose supervisor is gone: a held lock means alive; a free
 * one applies the outcome the supervisor left (only its own), else records ABORTED; leftover
 * properties files go. (With real signals and Spark: signals.sh, diskfull.sh.) */
static void put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void insert_running(struct spok_store *st, const char *dir, const char *id,
			   struct spok_execution *x)
{
	struct spok_err err = {0};
	memset(x, 0, sizeof(*x));
	x->id = xstrdup(id);
	x->backend = xstrdup("local");
	x->max_attempts = 1;
	x->phase = SPOK_PHASE_RUNNING;
	x->created_ms = 1;
	x->supervisor_pid = 4242;
	x->run_dir = xasprintf("%s/runs/%s", dir, id);
	assert_int_equal(mkdir(x->run_dir, 0700), 0);
	assert_int_equal(spok_store_insert(st, x, &err), 0);
}

static void test_settle(void **state)
{
	(void)state;
	char dir[] = "/tmp/spok-test-settle-XXXXXX";
	struct spok_store *st = NULL;
	struct spok_execution x, y;
	struct spok_err err = {0};

	assert_non_null(mkdtemp(dir));
	assert_int_equal(spok_store_open(dir, &st, &err), 0);
	char *runs = xasprintf("%s/runs", dir);
	assert_int_equal(mkdir(runs, 0700), 0);
	insert_running(st, dir, "sp-aaaaaaaaaa", &x);
	char *lock = xasprintf("%s/supervisor.lock", x.run_dir);
	char *outcome = xasprintf("%s/outcome.json", x.run_dir);
	char *props = xasprintf("%s/spark-conf-0.properties", x.run_dir);

	/* A live supervisor holds the lock (another open file: flock conflicts even in-process). */
	int fd = open(lock, O_RDWR | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	assert_true(spok_local_supervisor_alive(&x));
	assert_int_equal(spok_local_settle(st, &x, &err), 0);
	assert_int_equal(x.phase, SPOK_PHASE_RUNNING);
	close(fd);

	/* Gone, with an outcome it could not record. */
	assert_false(spok_local_supervisor_alive(&x));
	put_file(outcome, "{\"state\":\"final\",\"id\":\"sp-aaaaaaaaaa\",\"attempt\":0,\"phase\":\"SUCCEEDED\","
			  "\"finished_ms\":5,\"exit_code\":0}\n\0\0\0");
	put_file(props, "spark.secret=x\n");
	assert_int_equal(spok_local_settle(st, &x, &err), 1);
	assert_int_equal(x.phase, SPOK_PHASE_SUCCEEDED);
	assert_true(x.has_exit_code);
	assert_int_equal(access(outcome, F_OK), -1);
	assert_int_equal(access(props, F_OK), -1);
	assert_int_equal(spok_store_get(st, "sp-aaaaaaaaaa", &y, &err), 0);
	assert_int_equal(y.phase, SPOK_PHASE_SUCCEEDED);
	spok_execution_free(&y);
	assert_int_equal(spok_local_settle(st, &x, &err), 0); /* finished: nothing to do */
	spok_execution_free(&x);

	/* Gone, no outcome of its own (another execution's is ignored): ABORTED. */
	insert_running(st, dir, "sp-bbbbbbbbbb", &x);
	free(outcome);
	outcome = xasprintf("%s/outcome.json", x.run_dir);
	put_file(outcome, "{\"state\":\"final\",\"id\":\"sp-aaaaaaaaaa\",\"attempt\":0,\"phase\":\"SUCCEEDED\"}");
	assert_int_equal(spok_local_settle(st, &x, &err), 1);
	assert_int_equal(x.phase, SPOK_PHASE_ABORTED);
	assert_string_equal(x.reason, "supervisor (pid 4242) died before spark-submit started");
	spok_execution_free(&x);

	spok_store_close(st);
	free(lock);
	free(outcome);
	free(props);
	free(runs);
	char *rm[] = {(char *)"rm", (char *)"-rf", dir, NULL};
	pid_t pid = fork();
	if (pid == 0) {
		execvp("rm", rm);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
}

/* ---- a run on a borrowed loop (no Spark: a stand-in spark-submit under $SPARK_HOME) ---- */

struct borrowed {
	struct spok_execution x[2];
	struct spok_local_run *run[2];
	int done, result[2];
	bool abort_sent;
	uv_timer_t watch;
};

static void on_borrowed_done(void *arg, int result, const struct spok_err *err)
{
	int *slot = arg;
	(void)err;
	*slot = result;
}

static void on_watch(uv_timer_t *t)
{
	struct borrowed *b = t->data;
	/* The long run is RUNNING once its row says so: stop it (the loop is the caller's). */
	if (!b->abort_sent && b->x[1].phase == SPOK_PHASE_RUNNING) {
		spok_local_run_abort(b->run[1], "aborted by the test");
		b->abort_sent = true;
	}
	if (b->result[0] != -1 && b->result[1] != -1)
		uv_close((uv_handle_t *)t, NULL);
}

static void test_borrowed_loop(void **state)
{
	(void)state;
	char dir[] = "/tmp/spok-test-loop-XXXXXX";
	struct spok_store *st = NULL;
	struct spok_err err = {0};
	struct spok_platform p;
	struct spok_task t[2];
	struct borrowed b = {.result = {-1, -1}};
	struct spok_local_opts o = {.quiet = true, .grace_ms = 2000};
	uv_loop_t loop;

	assert_non_null(mkdtemp(dir));
	char *bin = xasprintf("%s/bin", dir), *submit = xasprintf("%s/bin/spark-submit", dir);
	char *main_py = xasprintf("%s/main.py", dir);
	assert_int_equal(mkdir(bin, 0700), 0);
	put_file(submit, "#!/bin/sh\necho started\ncase \"$*\" in *long*) exec sleep 300;; esac\nexit 0\n");
	assert_int_equal(chmod(submit, 0700), 0);
	put_file(main_py, "print('x')\n");
	setenv("SPARK_HOME", dir, 1);
	o.data_dir = dir;
	assert_int_equal(spok_store_open(dir, &st, &err), 0);
	spok_platform_init(&p);
	uv_loop_init(&loop);
	/* Two runs on one loop in one process: nothing process-wide is held per run. */
	for (int i = 0; i < 2; i++) {
		spok_task_init(&t[i]);
		t[i].name = xstrdup(i ? "long" : "ok");
		t[i].type = SPOK_APP_PYTHON;
		t[i].main_application_file = xstrdup(main_py);
		assert_int_equal(spok_local_submit(st, &t[i], &p, &o, &b.x[i], &err), 0);
		assert_int_equal(spok_local_start(&loop, st, &t[i], &p, &o, &b.x[i], on_borrowed_done,
						  &b.result[i], &b.run[i], &err), 0);
	}
	/* Both supervised by this process: a reader sees their locks held. */
	assert_true(spok_local_supervisor_alive(&b.x[0]));
	assert_true(spok_local_supervisor_alive(&b.x[1]));
	uv_timer_init(&loop, &b.watch);
	b.watch.data = &b;
	uv_timer_start(&b.watch, on_watch, 10, 10);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);

	assert_int_equal(b.result[0], 0);
	assert_int_equal(b.x[0].phase, SPOK_PHASE_SUCCEEDED);
	assert_int_equal(b.result[1], 0);
	assert_int_equal(b.x[1].phase, SPOK_PHASE_ABORTED);
	assert_string_equal(b.x[1].reason, "aborted by the test");
	assert_true(b.x[1].pgid > 1);
	assert_int_equal(kill((pid_t)-b.x[1].pgid, 0), -1); /* nothing of the group is left */
	for (int i = 0; i < 2; i++) {
		struct spok_execution y;
		/* Recorded, and the lock released: a reader has nothing to settle. */
		assert_false(spok_local_supervisor_alive(&b.x[i]));
		assert_int_equal(spok_store_get(st, b.x[i].id, &y, &err), 0);
		assert_int_equal(y.phase, b.x[i].phase);
		spok_execution_free(&y);
		spok_execution_free(&b.x[i]);
		spok_task_free(&t[i]);
	}
	spok_platform_free(&p);
	spok_store_close(st);
	unsetenv("SPARK_HOME");
	free(bin);
	free(submit);
	free(main_py);
	char *rm[] = {(char *)"rm", (char *)"-rf", dir, NULL};
	pid_t pid = fork();
	if (pid == 0) {
		execvp("rm", rm);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
}

/* A run whose start fails after its row exists (here spark-submit vanished between submit
 * and start) ends that row with the cause instead of leaving it QUEUED for a reader. */
static void test_start_fails_records(void **state)
{
	(void)state;
	char dir[] = "/tmp/spok-test-startfail-XXXXXX";
	struct spok_store *st = NULL;
	struct spok_err err = {0};
	struct spok_platform p;
	struct spok_task t;
	struct spok_execution x = {0}, y = {0};
	struct spok_local_opts o = {.quiet = true};
	struct spok_local_run *run = NULL;
	const char *old_path = getenv("PATH");
	char *saved_path = old_path ? xstrdup(old_path) : NULL;
	uv_loop_t loop;

	assert_non_null(mkdtemp(dir));
	char *bin = xasprintf("%s/bin", dir), *submit = xasprintf("%s/bin/spark-submit", dir);
	char *main_py = xasprintf("%s/main.py", dir);
	assert_int_equal(mkdir(bin, 0700), 0);
	put_file(submit, "#!/bin/sh\nexit 0\n");
	assert_int_equal(chmod(submit, 0700), 0);
	put_file(main_py, "print('x')\n");
	setenv("SPARK_HOME", dir, 1);
	setenv("SPOK_VENV", dir, 1);
	setenv("PATH", bin, 1);
	o.data_dir = dir;
	assert_int_equal(spok_store_open(dir, &st, &err), 0);
	spok_platform_init(&p);
	spok_task_init(&t);
	t.name = xstrdup("gone");
	t.type = SPOK_APP_PYTHON;
	t.main_application_file = xstrdup(main_py);
	assert_int_equal(spok_local_submit(st, &t, &p, &o, &x, &err), 0);
	assert_int_equal(unlink(submit), 0);
	uv_loop_init(&loop);
	assert_int_equal(spok_local_start(&loop, st, &t, &p, &o, &x, on_borrowed_done, NULL, &run,
					  &err), SPOK_ENOTFOUND);
	assert_null(run);
	assert_int_equal(spok_store_get(st, x.id, &y, &err), 0);
	assert_int_equal(y.phase, SPOK_PHASE_RETRYABLE_FAILURE);
	assert_non_null(strstr(y.reason, "could not start: spark-submit: not found"));
	assert_true(y.finished_ms != 0);
	assert_false(spok_local_supervisor_alive(&y)); /* the lock is released */
	assert_int_equal(uv_loop_close(&loop), 0);
	spok_execution_free(&x);
	spok_execution_free(&y);
	spok_task_free(&t);
	spok_platform_free(&p);
	spok_store_close(st);
	unsetenv("SPARK_HOME");
	unsetenv("SPOK_VENV");
	if (saved_path)
		setenv("PATH", saved_path, 1);
	free(saved_path);
	free(bin);
	free(submit);
	free(main_py);
	char *rm[] = {(char *)"rm", (char *)"-rf", dir, NULL};
	pid_t pid = fork();
	if (pid == 0) {
		execvp("/bin/rm", rm);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
}

/* What cannot run as a Spark Connect client is found up front (spok run --warm); the session
 * id of an execution; Connect's "not supported" errors in a client's log. */
static void test_warm(void **state)
{
	(void)state;
	char dir[] = "/tmp/spok-test-warm-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *ok_py = xasprintf("%s/ok.py", dir), *rdd_py = xasprintf("%s/rdd.py", dir);
	FILE *f = fopen(ok_py, "w");
	assert_non_null(f);
	fputs("from pyspark.sql import SparkSession\nprint(SparkSession.builder.getOrCreate().range(3).count())\n", f);
	fclose(f);
	f = fopen(rdd_py, "w");
	assert_non_null(f);
	fputs("import sys\n\nspark = None\nsc = spark.sparkContext\n", f);
	fclose(f);
	struct spok_spark_env env = {0};
	struct spok_task t;
	char *why;

	spok_task_init(&t);
	t.type = SPOK_APP_PYTHON;
	t.main_application_file = xstrdup(ok_py);
	assert_null(spok_local_warm_unsupported(&t, &env, NULL));
	spok_strmap_set(&t.spark_conf, "spark.driver.memory", "1g"); /* resources: fine */
	assert_null(spok_local_warm_unsupported(&t, &env, NULL));
	spok_strmap_set(&t.spark_conf, "spark.sql.ansi.enabled", "true"); /* not the server's */
	why = spok_local_warm_unsupported(&t, &env, NULL);
	assert_non_null(strstr(why, "spark.sql.ansi.enabled"));
	free(why);
	spok_task_free(&t);

	spok_task_init(&t);
	t.type = SPOK_APP_PYTHON;
	t.main_application_file = xstrdup(rdd_py);
	why = spok_local_warm_unsupported(&t, &env, NULL);
	assert_non_null(why);
	assert_non_null(strstr(why, "rdd.py:4 uses sparkContext"));
	free(why);
	t.type = SPOK_APP_JAVA;
	why = spok_local_warm_unsupported(&t, &env, NULL);
	assert_non_null(strstr(why, "JVM application"));
	free(why);
	t.type = SPOK_APP_PYTHON;
	t.origin = SPOK_ORIGIN_FLYTE; /* flytekit's entrypoint runs: the task module is checked */
	spok_strv_push(&t.args, "pyflyte-execute");
	spok_strv_push(&t.args, "task-module");
	spok_strv_push(&t.args, "ok");
	assert_null(spok_local_warm_unsupported(&t, &env, dir));
	free(t.args.items[2]);
	t.args.items[2] = xstrdup("rdd");
	why = spok_local_warm_unsupported(&t, &env, dir);
	assert_non_null(why);
	assert_non_null(strstr(why, "rdd.py:4 uses sparkContext"));
	free(why);
	assert_null(spok_local_warm_unsupported(&t, &env, "/nonexistent")); /* the run reports it */
	spok_strv_free(&t.args);
	t.origin = SPOK_ORIGIN_SPEC;
	spok_strv_push(&t.py_files, "s3a://bucket/dep.zip"); /* local ones are uploaded */
	why = spok_local_warm_unsupported(&t, &env, NULL);
	assert_non_null(strstr(why, "pyFiles[0] s3a://bucket/dep.zip"));
	free(why);
	spok_task_free(&t);

	char sid[37], sid2[37];
	spok_local_warm_session_id("sp-abcdefghij", 0, sid);
	assert_string_equal(sid, "73706f6b-6162-6364-6566-6768696a0000");
	spok_local_warm_session_id("sp-abcdefghik", 0, sid2);
	assert_string_not_equal(sid, sid2);

	assert_null(spok_local_warm_log_reason(NULL));
	assert_null(spok_local_warm_log_reason("Traceback\nValueError: boom\n"));
	why = spok_local_warm_log_reason("Traceback (most recent call last):\n"
					 "pyspark.errors.exceptions.base.PySparkNotImplementedError: [NOT_IMPLEMENTED] sparkContext() is not implemented.\n");
	assert_non_null(why);
	assert_non_null(strstr(why, "[NOT_IMPLEMENTED] sparkContext() is not implemented."));
	assert_null(strchr(why, '\n'));
	free(why);
	unlink(ok_py);
	unlink(rdd_py);
	rmdir(dir);
	free(ok_py);
	free(rdd_py);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reasons),
		cmocka_unit_test(test_argv),
		cmocka_unit_test(test_stale_pidfile),
		cmocka_unit_test(test_history_log_dir),
		cmocka_unit_test(test_settle),
		cmocka_unit_test(test_borrowed_loop),
		cmocka_unit_test(test_start_fails_records),
		cmocka_unit_test(test_warm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
