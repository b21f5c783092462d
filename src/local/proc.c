/* proc.c - process facts (start time), abort from another process, the history server. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <uv.h>

#include "common/pid.h"
#include "common/sys.h"
#include "common/timefmt.h"
#include "common/buf.h"
#include "common/xalloc.h"
#include "local/internal.h"
#include "sparkapp/sparkapp.h"

#define WAIT_STEP_MS 100
#define HISTORY_START_MS 60000
#define SUPERVISOR_WAIT_MS 15000

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void spok_local_stop_group(int64_t pgid, uint64_t grace_ms)
{
	if (!spok_pid_ok(pgid))
		return;
	kill((pid_t)-pgid, SIGTERM);
	for (uint64_t waited = 0; waited < grace_ms && spok_pgrp_running(pgid); waited += WAIT_STEP_MS)
		sleep_ms(WAIT_STEP_MS);
	if (spok_pgrp_running(pgid))
		kill((pid_t)-pgid, SIGKILL);
}

int spok_local_abort(struct spok_store *st, const char *id, uint64_t grace_ms, struct spok_err *err)
{
	struct spok_execution x;
	int result = spok_store_get(st, id, &x, err);

	if (result != 0)
		return result;
	if (spok_phase_terminal(x.phase))
		goto done;
	result = spok_store_request_abort(st, x.id, err);
	if (result != 0)
		goto done;
	if (!grace_ms)
		grace_ms = SPOK_LOCAL_GRACE_MS;
	/* Signal only if the recorded pid is still the process we started (pid reuse). */
	if (spok_pid_ok(x.pid) && x.proc_start != 0 && spok_pid_start_time(x.pid) == x.proc_start)
		spok_local_stop_group(x.pgid, grace_ms);
	/* The supervisor records ABORTED; give it time, and do it ourselves if it is gone. */
	for (unsigned waited = 0; waited < SUPERVISOR_WAIT_MS && spok_local_supervisor_alive(&x);
	     waited += WAIT_STEP_MS) {
		struct spok_execution now;
		if (spok_store_get(st, x.id, &now, NULL) == 0) {
			bool done = spok_phase_terminal(now.phase);
			spok_execution_free(&now);
			if (done)
				goto done;
		}
		sleep_ms(WAIT_STEP_MS);
	}
	struct spok_execution now;
	result = spok_store_get(st, x.id, &now, err);
	if (result != 0)
		goto done;
	/* Settled only when the supervisor is gone (its lock is free); a live one records the
	 * end itself once the group it watches has exited. */
	if (!spok_phase_terminal(now.phase)) {
		result = spok_local_settle_as(st, &now, "aborted by spok abort (no supervisor was running)",
					      grace_ms, err);
		result = result > 0 ? 0 : result;
	}
	spok_execution_free(&now);
done:
	spok_execution_free(&x);
	return result;
}

/* ---- history server ---- */

char *spok_history_url(int port, const char *app_id)
{
	return xasprintf("http://127.0.0.1:%d/history/%s", port, app_id);
}

struct pidfile {
	long long pid;
	unsigned long long start;
	int port;
};

/* "PID START PORT". strto* rather than scanf, which does not report an out-of-range number. */
static bool parse_pidfile(const char *s, struct pidfile *pf)
{
	char *end;
	long port;

	errno = 0;
	pf->pid = strtoll(s, &end, 10);
	if (end == s)
		return false;
	s = end;
	pf->start = strtoull(s, &end, 10);
	if (end == s)
		return false;
	s = end;
	port = strtol(s, &end, 10);
	if (end == s || errno != 0 || port < INT_MIN || port > INT_MAX)
		return false;
	pf->port = (int)port;
	return true;
}

/* The first line "PID START PORT"; the second, when given, the log dir's URI (heap). */
static bool read_pidfile_uri(const char *data_dir, struct pidfile *pf, char **uri)
{
	char *path = xasprintf("%s/history.pid", data_dir);
	FILE *f = fopen(path, "r");
	char line[128];
	free(path);
	if (!f)
		return false;
	bool ok = fgets(line, sizeof(line), f) != NULL && parse_pidfile(line, pf);
	if (ok && uri != NULL) {
		char *u = NULL;
		size_t cap = 0;
		ssize_t n = getline(&u, &cap, f);

		while (n > 0 && (u[n - 1] == '\n' || u[n - 1] == '\r'))
			u[--n] = '\0';
		if (n > 0)
			*uri = u;
		else
			free(u);
	}
	fclose(f);
	/* start 0 means the server had already exited when the file was written (or the file
	 * is damaged): /proc of a missing pid also gives 0, so such a file would always match. */
	ok = ok && spok_pid_ok(pf->pid) && pf->start != 0 && pf->start == spok_pid_start_time(pf->pid);
	if (!ok && uri != NULL) {
		free(*uri);
		*uri = NULL;
	}
	return ok;
}

static bool read_pidfile(const char *data_dir, struct pidfile *pf)
{
	return read_pidfile_uri(data_dir, pf, NULL);
}

int spok_history_running(const char *data_dir)
{
	struct pidfile pf;
	return read_pidfile(data_dir, &pf) ? pf.port : 0;
}

static bool port_open(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd < 0)
		return false;
	bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

static int write_text(const char *path, const char *text, struct spok_err *err)
{
	return spok_write_file_atomic(path, text, strlen(text), 0644, "the data dir", err);
}

static int spawn_history(const struct spok_spark_env *env, const char *props, const char *log,
			 int64_t *pid, struct spok_err *err)
{
	uv_loop_t loop;
	uv_process_t proc;
	uv_process_options_t po;
	uv_stdio_container_t stdio[3];
	struct spok_strv envv = {0};
	extern char **environ;
	char *args[] = {env->spark_class, (char *)"org.apache.spark.deploy.history.HistoryServer",
			(char *)"--properties-file", (char *)props, NULL};
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return spok_err_set(err, SPOK_EIO, "%s: cannot open: %s", log, strerror(errno));
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "SPARK_LOCAL_IP=", 15) != 0 && strncmp(*e, "SPARK_HOME=", 11) != 0 &&
		    strncmp(*e, "PYSPARK_PYTHON=", 15) != 0)
			spok_strv_push(&envv, *e);
	spok_strv_push(&envv, "SPARK_LOCAL_IP=127.0.0.1");
	if (env->spark_home)
		spok_strv_pushf(&envv, "SPARK_HOME=%s", env->spark_home);
	if (env->python)
		spok_strv_pushf(&envv, "PYSPARK_PYTHON=%s", env->python);
	memset(&po, 0, sizeof(po));
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_INHERIT_FD;
	stdio[1].data.fd = fd;
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = fd;
	po.file = args[0];
	po.args = args;
	po.env = envv.items;
	po.stdio = stdio;
	po.stdio_count = 3;
	po.flags = UV_PROCESS_DETACHED;
	uv_loop_init(&loop);
	int rc = uv_spawn(&loop, &proc, &po);
	*pid = rc == 0 ? proc.pid : 0;
	uv_close((uv_handle_t *)&proc, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	close(fd);
	spok_strv_free(&envv);
	if (rc != 0)
		return spok_err_set(err, SPOK_EIO, "%s: cannot start the history server: %s; run scripts/setup python",
				    args[0], uv_strerror(rc));
	return 0;
}

/* An existing directory this user can list, as a file:// URI (heap), or an error. */
static int dir_uri(const char *path, char **uri, struct spok_err *err)
{
	struct stat st;
	char *real = realpath(path, NULL);

	if (real == NULL)
		return spok_err_set(err, SPOK_ENOTFOUND, "%s: cannot use as the event-log dir: %s; "
				    "give an existing directory", path, strerror(errno));
	if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
		free(real);
		return spok_err_set(err, SPOK_EINVAL, "%s: not a directory; give the event-log "
				    "directory", path);
	}
	if (access(real, R_OK | X_OK) != 0) {
		int e = errno;

		free(real);
		return spok_err_set(err, SPOK_EIO, "%s: cannot list it: %s; run as a user who may "
				    "read the event logs (cluster drivers write them as uid 185)",
				    path, strerror(e));
	}
	*uri = xasprintf("file://%s", real);
	free(real);
	return 0;
}

/* The URI the server reads: the data dir's spark-events (made if missing), a local
 * directory (/path, file:///path), or another URI passed through for Spark (hdfs://...). */
static int history_dir(const char *data_dir, const char *log_dir, char **uri,
		       struct spok_err *err)
{
	if (log_dir == NULL) {
		char *events = xasprintf("%s/spark-events", data_dir);
		int result = 0;

		if (mkdir(events, 0700) != 0 && errno != EEXIST)
			result = spok_err_set(err, SPOK_EIO, "%s: cannot create: %s", events, strerror(errno));
		else
			*uri = xasprintf("file://%s", events);
		free(events);
		return result;
	}
	if (log_dir[0] == '\0')
		return spok_err_set(err, SPOK_EINVAL, "--log-dir: empty; give a directory or a URI");
	if (strncmp(log_dir, "file:///", 8) == 0)
		return dir_uri(log_dir + 7, uri, err);
	if (strncmp(log_dir, "file:/", 6) == 0 && log_dir[6] != '/')
		return dir_uri(log_dir + 5, uri, err);
	if (strncmp(log_dir, "file:", 5) == 0)
		return spok_err_set(err, SPOK_EINVAL, "--log-dir %s: a file URI names a local path "
				    "(file:///path); fix it", log_dir);
	if (!spok_path_is_local(log_dir)) {
		*uri = xstrdup(log_dir);
		return 0;
	}
	return dir_uri(log_dir, uri, err);
}

/* java.util.Properties text for the server; values escaped (a path may hold ':' or '='). */
static char *history_props(const char *uri, int port)
{
	struct spok_buf b;
	char *text;

	spok_buf_init(&b, 0);
	(void)spok_buf_appends(&b, "spark.history.fs.logDirectory=");
	(void)spok_local_props_escape(&b, uri, false);
	(void)spok_buf_printf(&b, "\nspark.history.ui.port=%d\nspark.history.fs.update.interval=2s\n", port);
	text = xstrndup(b.data ? b.data : "", b.len);
	spok_buf_free(&b);
	return text;
}

int spok_history_start(const char *data_dir, const char *log_dir, int port, int *port_out,
		       char **uri_out, struct spok_err *err)
{
	struct spok_spark_env env;
	struct pidfile pf;
	int64_t pid = 0;
	char *uri = NULL, *running = NULL;
	int result = history_dir(data_dir, log_dir, &uri, err);

	if (result != 0)
		return result;
	if (read_pidfile_uri(data_dir, &pf, &running)) {
		char *served = running ? running : xasprintf("file://%s/spark-events", data_dir);

		if (strcmp(served, uri) != 0)
			result = spok_err_set(err, SPOK_ECONFLICT, "history server: already running on "
					      "port %d over %s; stop it first ('spok history stop')",
					      pf.port, served);
		*port_out = pf.port;
		free(served);
		if (result == 0 && uri_out)
			*uri_out = uri;
		else
			free(uri);
		return result;
	}
	if (port <= 0)
		port = SPOK_HISTORY_PORT;
	if (port_open(port)) {
		free(uri);
		return spok_err_set(err, SPOK_ECONFLICT, "history server: port %d is already in use; pass --port", port);
	}
	result = spok_spark_env_find(&env, err);
	if (result != 0) {
		free(uri);
		return result;
	}
	char *props = xasprintf("%s/history.properties", data_dir);
	char *log = xasprintf("%s/history.log", data_dir);
	char *pidpath = xasprintf("%s/history.pid", data_dir);
	char *text = history_props(uri, port);
	result = write_text(props, text, err);
	free(text);
	if (result == 0)
		result = spawn_history(&env, props, log, &pid, err);
	if (result != 0)
		goto done;
	/* The URI goes on a line of its own: a path may hold spaces. */
	text = xasprintf("%lld %llu %d\n%s\n", (long long)pid,
			 (unsigned long long)spok_pid_start_time(pid), port, uri);
	result = write_text(pidpath, text, err);
	free(text);
	for (unsigned waited = 0; result == 0 && !port_open(port); waited += WAIT_STEP_MS) {
		if (waited >= HISTORY_START_MS || spok_pid_start_time(pid) == 0) {
			result = spok_err_set(err, SPOK_EIO, "history server did not start listening on port %d; see %s", port, log);
			break;
		}
		sleep_ms(WAIT_STEP_MS);
	}
	*port_out = port;
done:
	if (result == 0 && uri_out)
		*uri_out = uri;
	else
		free(uri);
	free(props);
	free(log);
	free(pidpath);
	spok_spark_env_free(&env);
	return result;
}

int spok_history_stop(const char *data_dir, struct spok_err *err)
{
	struct pidfile pf;
	char *pidpath = xasprintf("%s/history.pid", data_dir);
	int result = 0;

	if (read_pidfile(data_dir, &pf))
		spok_local_stop_group(pf.pid, SPOK_LOCAL_GRACE_MS);
	else
		result = spok_err_set(err, SPOK_ENOTFOUND, "history server: not running (no live pid in %s)", pidpath);
	unlink(pidpath);
	free(pidpath);
	return result;
}
