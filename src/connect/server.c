/* server.c - a local session's Spark Connect server: start (fork a supervisor), the
 * supervisor's loop, stop, settle. See connect.h. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <uv.h>

#include "common/buf.h"
#include "common/pid.h"
#include "common/sys.h"
#include "common/timefmt.h"
#include "common/xalloc.h"
#include "connect/connect.h"
#include "local/local.h"
#include "local/token.h"

#define TICK_MS 500
#define STEP_MS 200
#define SETTLE_GRACE_MS 3000
#define UI_TIMEOUT_MS 1000          /* one request to the server's own UI (loopback) */
#define UI_MAX ((size_t)1 << 20)    /* bytes of an answer read */
#define ACTIVITY_MIN_MS 500         /* how often the idle check looks for activity: */
#define ACTIVITY_MAX_MS 10000       /* a quarter of idle-timeout, within these bounds */

extern char **environ;

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void set_str(char **dst, char *v)
{
	free(*dst);
	*dst = v;
}

char *spok_connect_user(void)
{
	return spok_local_user(); /* a settling reader names a run's session the same way */
}

static bool is_kube(const struct spok_session *x);

/* An IPv6 pod address goes in brackets in a URL. */
static bool v6(const struct spok_session *s)
{
	return s->host && strchr(s->host, ':');
}

char *spok_connect_url(const struct spok_session *s, const char *user, const char *token)
{
	const char *host = s->host ? s->host : "127.0.0.1";
	const char *lb = v6(s) ? "[" : "", *rb = v6(s) ? "]" : "";

	if (is_kube(s)) /* no TLS on the pod network: the bearer goes as plain gRPC metadata */
		return token ? xasprintf("sc://%s%s%s:%d/;user_id=%s;authorization=Bearer%%20%s", lb, host, rb, s->port, user, token)
			     : xasprintf("sc://%s%s%s:%d/;user_id=%s", lb, host, rb, s->port, user);
	/* "localhost", not 127.0.0.1: pyspark sends a token without TLS to that name only */
	return token ? xasprintf("sc://localhost:%d/;token=%s;user_id=%s", s->port, token, user)
		     : xasprintf("sc://localhost:%d/;user_id=%s", s->port, user);
}

void spok_connect_client(const struct spok_session *s, const char *user, const char *token,
			 char **remote, char **env_token)
{
	bool kube = is_kube(s);

	*remote = spok_connect_url(s, user, kube ? token : NULL);
	*env_token = !kube && token ? xstrdup(token) : NULL;
}

int spok_connect_token(const struct spok_session *s, char **out, struct spok_err *err)
{
	int result = spok_token_read(s, out, err);

	if (result == SPOK_ENOTFOUND && s->phase == SPOK_SESSION_RUNNING)
		/* a server this spok did not start with a token (an older spok's, still running) */
		return spok_err_set(err, SPOK_ENOTFOUND, "session %s: its server has no token (started by an older spok); restart it: 'spok session stop %s', then start it",
				    s->name, s->name);
	return result;
}

char *spok_connect_ui_url(const struct spok_session *s)
{
	return s->ui_port > 0 ? xasprintf("http://%s%s%s:%d", v6(s) ? "[" : "", s->host ? s->host : "127.0.0.1",
					  v6(s) ? "]" : "", s->ui_port) : NULL;
}

int spok_connect_warm_client(const struct spok_session *s, const char *user, struct spok_local_warm *w,
			     char **remote, char **env_token, char **ui, struct spok_err *err)
{
	char *token = NULL;
	int result = spok_connect_token(s, &token, err);

	if (result != 0)
		return result;
	spok_token_free(*remote);
	spok_token_free(*env_token);
	free(*ui);
	spok_connect_client(s, user, token, remote, env_token);
	spok_token_free(token);
	*ui = spok_connect_ui_url(s);
	w->remote = *remote;
	w->token = *env_token;
	w->ui_url = *ui;
	w->server = (struct spok_proc_id){s->pid, s->proc_start};
	w->generation = s->generation;
	return 0;
}

static bool is_kube(const struct spok_session *x)
{
	return x->backend && strcmp(x->backend, "kubernetes") == 0;
}

int spok_connect_server_check(const struct spok_spark_env *env, struct spok_err *err)
{
	if (!env->spark_home) /* spark-submit from PATH: its Spark answers for itself */
		return 0;
	char *pat = xasprintf("%s/jars/spark-connect_*.jar", env->spark_home);
	glob_t g;
	memset(&g, 0, sizeof(g));
	int found = glob(pat, GLOB_NOSORT, NULL, &g) == 0 && g.gl_pathc > 0;
	globfree(&g);
	int result = found ? 0 : spok_err_set(err, SPOK_ENOTFOUND,
		"%s: no Spark Connect server (spark-connect_2.13 jar); warm sessions need Spark 4: run scripts/setup python or set SPARK_HOME",
		pat);
	free(pat);
	return result;
}

static void fail_start(struct spok_store *st, const char *name, int64_t gen, const char *why);

/* ---- processes ---- */

/* TERM the group, KILL after grace_ms; waits (bounded) until it is empty. */
static void stop_group(int64_t pgid, uint64_t grace_ms)
{
	if (!spok_pid_ok(pgid))
		return;
	kill((pid_t)-pgid, SIGTERM);
	for (uint64_t w = 0; w < grace_ms && spok_pgrp_running(pgid); w += STEP_MS)
		sleep_ms(STEP_MS);
	kill((pid_t)-pgid, SIGKILL);
	for (unsigned w = 0; w < 5000 && spok_pgrp_running(pgid); w += STEP_MS)
		sleep_ms(STEP_MS);
}

static bool server_alive(const struct spok_session *x)
{
	return x->proc_start != 0 && spok_proc_alive((struct spok_proc_id){x->pid, x->proc_start});
}

static bool supervisor_alive(const struct spok_session *x);

bool spok_connect_server_up(const struct spok_session *x)
{
	return is_kube(x) ? supervisor_alive(x) : server_alive(x);
}

bool spok_connect_project_clash(const struct spok_session *x, const char *project)
{
	if (!x->project && !project)
		return false;
	return !x->project || !project || strcmp(x->project, project) != 0;
}

static bool supervisor_alive(const struct spok_session *x)
{
	return spok_proc_alive((struct spok_proc_id){x->supervisor_pid, x->supervisor_start});
}

/* Whether something accepts connections on 127.0.0.1:port (loopback: no wait). */
static bool port_answers(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bool ok;

	if (fd < 0)
		return false;
	ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	/* closed with a reset: no TIME_WAIT socket that client_connected would take for a client */
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
	return ok;
}

/* ---- settle ---- */

/* The environment entry that marks generation gen of session name's server and all it
 * starts (heap): a supervisor that died between spawning the server and recording its pid
 * left a server nobody else knows of. */
static char *server_marker(const char *name, int64_t gen)
{
	return xasprintf("SPOK_SESSION_SERVER=%s/%lld", name, (long long)gen);
}

/* Ends the groups still marked as x's server (see server_marker); whether there were any. */
static bool end_marked(const struct spok_session *x, bool wait)
{
	int64_t g[16];
	char *marker = server_marker(x->name, x->generation);
	size_t n = spok_local_marked_groups(marker, g, sizeof(g) / sizeof(g[0]));

	free(marker);
	for (size_t i = 0; i < n; i++) {
		if (wait)
			stop_group(g[i], SETTLE_GRACE_MS);
		else
			kill((pid_t)-g[i], SIGKILL);
	}
	return n > 0;
}

/* The server's properties file (the pool's conf, which may hold secrets), which a supervisor
 * that died before its server read it leaves. */
static void remove_props(const struct spok_session *x)
{
	char name[64];
	char *p;

	snprintf(name, sizeof(name), "spark-conf-%lld.properties", (long long)x->generation);
	if ((p = spok_session_file(x, name)) != NULL)
		unlink(p);
	free(p);
}

/* wait: TERM, KILL after the grace, and wait for the group to go; else KILL and return. */
static int settle(struct spok_store *st, struct spok_session *x, bool wait, struct spok_err *err)
{
	if (spok_session_phase_terminal(x->phase) || supervisor_alive(x))
		return 0;
	bool had_server = server_alive(x);
	if (had_server && wait)
		stop_group(x->pid, SETTLE_GRACE_MS);
	else if (had_server && spok_pid_ok(x->pid))
		kill((pid_t)-x->pid, SIGKILL);
	if (!is_kube(x))
		had_server = end_marked(x, wait) || had_server;
	x->phase = SPOK_SESSION_FAILED;
	x->finished_ms = spok_now_ms();
	if (is_kube(x))
		/* its pod is not deleted: the next start adopts it (spok session stop deletes it) */
		set_str(&x->reason, xasprintf("supervisor (pid %lld) died; its server pod is left for the next start to adopt ('spok session stop %s' deletes it)",
					      (long long)x->supervisor_pid, x->name));
	else
		set_str(&x->reason, xasprintf("supervisor (pid %lld) died; %s", (long long)x->supervisor_pid,
					      had_server ? "spok ended its Spark Connect server"
							 : "its Spark Connect server had already ended"));
	int result = spok_store_session_update(st, x, err);
	if (result == 0 && !is_kube(x)) { /* its server is gone (a pod, adopted later, keeps its) */
		spok_token_remove(x);
		remove_props(x);
	}
	if (result == SPOK_ECONFLICT) {
		/* someone else settled or restarted it meanwhile: show what is recorded now */
		struct spok_session now;
		if (spok_store_session_get(st, x->name, &now, NULL) == 0) {
			spok_session_free(x);
			*x = now;
		}
		return 1;
	}
	return result == 0 ? 1 : result;
}

int spok_connect_settle(struct spok_store *st, struct spok_session *x, struct spok_err *err)
{
	return settle(st, x, true, err);
}

int spok_connect_settle_nowait(struct spok_store *st, struct spok_session *x, struct spok_err *err)
{
	return settle(st, x, false, err);
}

/* ---- the supervisor ---- */

struct sup {
	uv_loop_t loop;
	uv_process_t proc;
	uv_timer_t tick;
	uv_signal_t sig[3];
	struct spok_store *st;
	struct spok_session x;
	const struct spok_pool *pool;
	char *props;
	bool exited, stopping, failed_start;
	char *stop_why;           /* the reason recorded at the end of a stop */
	uint64_t kill_at;         /* uv_now when a stopping server gets KILL */
	uint64_t start_deadline;
	int64_t exit_status;
	int term_signal;
	int open;                 /* handles to close */
	char *app_id;             /* the server's Spark application (its UI's REST API) */
	int64_t tasks_seen;       /* its task count at the last look (-1: not looked yet) */
	uint64_t look_at;         /* uv_now of the next look for interactive activity */
	char token[SPOK_TOKEN_LEN + 1]; /* the server's (wiped at the end) */
	int v6_hold;              /* [::1]:port, bound and never listening (-1: none) */
	bool token_written;       /* its file is this generation's */
	char *dir;                /* the session's directory */
	bool replaced;            /* a newer generation owns the name (and its files) */
	struct spok_local_resident resident; /* the warm runs' resident Python client */
};

static void on_closed(uv_handle_t *h)
{
	struct sup *s = h->data;
	s->open--;
}

static void close_all(struct sup *s)
{
	uv_handle_t *hs[] = {(uv_handle_t *)&s->tick, (uv_handle_t *)&s->sig[0],
			     (uv_handle_t *)&s->sig[1], (uv_handle_t *)&s->sig[2]};
	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++)
		if (!uv_is_closing(hs[i]))
			uv_close(hs[i], on_closed);
}

static void begin_stop(struct sup *s, char *why, bool failed)
{
	if (s->stopping || s->exited) {
		free(why);
		return;
	}
	s->stopping = true;
	s->failed_start = failed;
	s->stop_why = why;
	s->x.phase = SPOK_SESSION_STOPPING;
	set_str(&s->x.reason, xstrdup(why));
	spok_store_session_update(s->st, &s->x, NULL);
	if (spok_pid_ok(s->x.pid))
		kill((pid_t)-s->x.pid, SIGTERM);
	s->kill_at = uv_now(&s->loop) + SPOK_CONNECT_GRACE_MS;
}

static void record_end(struct sup *s)
{
	struct spok_session *x = &s->x;

	/* before the end is recorded: the next start (after it) writes its own */
	spok_token_remove(x);
	x->finished_ms = spok_now_ms();
	if (s->stopping && !s->failed_start) {
		x->phase = SPOK_SESSION_STOPPED;
		set_str(&x->reason, xstrdup(s->stop_why));
	} else if (s->stopping) {
		x->phase = SPOK_SESSION_FAILED;
		set_str(&x->reason, xasprintf("%s; see %s", s->stop_why, x->log_path));
	} else {
		x->phase = SPOK_SESSION_FAILED;
		set_str(&x->reason, s->term_signal
			? xasprintf("Spark Connect server was killed by signal %d; see %s", s->term_signal, x->log_path)
			: xasprintf("Spark Connect server exited with status %d; see %s", (int)s->exit_status, x->log_path));
	}
	/* A newer start owns the row when this fails with a conflict: nothing to record. */
	for (int i = 0; i < 30; i++) {
		int r = spok_store_session_update(s->st, x, NULL);
		if (r == 0 || r == SPOK_ECONFLICT)
			break;
		sleep_ms(500);
	}
}

static void on_proc_closed(uv_handle_t *h)
{
	struct sup *s = h->data;

	s->open--;
	spok_local_resident_end(&s->resident, !s->replaced);
	record_end(s);
	close_all(s);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int term_signal)
{
	struct sup *s = p->data;

	s->exited = true;
	s->exit_status = status;
	s->term_signal = term_signal;
	/* nothing of the server may outlive it (its Python workers, a straggler) */
	if (spok_pid_ok(s->x.pid))
		kill((pid_t)-s->x.pid, SIGKILL);
	uv_close((uv_handle_t *)p, on_proc_closed);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct sup *s = h->data;

	begin_stop(s, xasprintf("its supervisor received %s", strsignal(signum)), false);
}

/* ---- activity a warm run does not record: interactive clients ---- */

json_t *spok_connect_ui_get(const char *host, int port, const char *path)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct timeval tv = {.tv_sec = UI_TIMEOUT_MS / 1000, .tv_usec = (UI_TIMEOUT_MS % 1000) * 1000};
	json_t *j = NULL;

	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		return NULL;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	char *req = xasprintf("GET %s HTTP/1.0\r\nHost: %s\r\nAccept: application/json\r\n\r\n", path, host);
	char *buf = xmalloc(UI_MAX + 1);
	size_t n = 0;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && spok_write_all(fd, req, strlen(req)) == 0) {
		/* one deadline for the whole answer: a peer that drips a byte a second (a hostile
		 * pod) must not hold the supervisor's loop */
		int64_t until = spok_now_ms() + UI_TIMEOUT_MS;
		ssize_t r;
		while (n < UI_MAX && spok_now_ms() < until && (r = recv(fd, buf + n, UI_MAX - n, 0)) > 0)
			n += (size_t)r;
		if (n < UI_MAX && spok_now_ms() >= until)
			n = 0; /* cut short: no answer */
	}
	buf[n] = '\0';
	char *body = strstr(buf, "\r\n\r\n");
	if (n < UI_MAX && strncmp(buf, "HTTP/1.", 7) == 0 && strncmp(buf + 8, " 200", 4) == 0 && body)
		j = json_loads(body + 4, 0, NULL);
	free(buf);
	free(req);
	close(fd);
	return j;
}

/* A task count of a UI answer, within [0, 2^40] (at most 2^20 executors fit in an answer). */
static int64_t clamp_count(json_int_t v)
{
	return v < 0 ? 0 : v > ((json_int_t)1 << 40) ? (int64_t)1 << 40 : (int64_t)v;
}

bool spok_connect_ui_tasks(const char *host, int port, char **app_id, int64_t *total,
			   int64_t *active)
{
	if (!*app_id) {
		json_t *apps = spok_connect_ui_get(host, port, "/api/v1/applications");
		const char *id = json_string_value(json_object_get(json_array_get(apps, 0), "id"));
		/* an app id is Spark's (local-<digits>, spark-<hex>): checked before it goes into a path */
		if (id && strlen(id) < 100 && strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789-_") == strlen(id))
			*app_id = xstrdup(id);
		json_decref(apps);
		if (!*app_id)
			return false;
	}
	char *path = xasprintf("/api/v1/applications/%s/executors", *app_id);
	json_t *ex = spok_connect_ui_get(host, port, path);
	free(path);
	size_t i;
	json_t *e;
	*total = *active = 0;
	json_array_foreach(ex, i, e) {
		/* the answer is the server's (on a Kubernetes pool, a pod's): no overflow from it */
		*total += clamp_count(json_integer_value(json_object_get(e, "totalTasks")));
		*active += clamp_count(json_integer_value(json_object_get(e, "activeTasks")));
	}
	bool ok = json_is_array(ex);
	json_decref(ex);
	return ok;
}

/* A local server's tasks (its executors are the driver's), from its UI on loopback. */
static bool ui_tasks(struct sup *s, int64_t *total, int64_t *active)
{
	return spok_connect_ui_tasks("127.0.0.1", s->x.ui_port, &s->app_id, total, active);
}

/* Whether a kernel socket table address ("0100007F" for tcp, 32 hex digits for tcp6) is
 * loopback: 127/8, ::1 or ::ffff:127/8 (the byte order of /proc/net/tcp is the host's). */
static bool loopback_hex(const char *a)
{
	size_t n = strlen(a);

	if (n == 8)
		return strncasecmp(a + 6, "7F", 2) == 0;
	return n == 32 && (strcmp(a, "00000000000000000000000001000000") == 0 ||
			   (strncasecmp(a, "0000000000000000FFFF0000", 24) == 0 &&
			    strncasecmp(a + 30, "7F", 2) == 0));
}

/* A /proc/net/tcp (tcp6) line split on spaces into fld: sl, local, remote, st, tx:rx,
 * tr:when, retrnsmt, uid, timeout, inode (addresses "HEX:PORT", the host's byte order).
 * Returns how many it found (at most TCP_FIELDS). */
#define TCP_FIELDS 10
static size_t tcp_fields(char *line, char *fld[TCP_FIELDS])
{
	char *save = NULL;
	size_t k = 0;

	for (char *t = strtok_r(line, " \n", &save); t && k < TCP_FIELDS; t = strtok_r(NULL, " \n", &save))
		fld[k++] = t;
	return k;
}

/* Whether a client uses or lately used the server's gRPC port: an interactive `pyspark
 * --remote` or notebook keeps its channel open between statements (gRPC closes an unused
 * one after its idle timeout, 30 min by default), and a brief client that connected and
 * left between two looks leaves its end of the connection in TIME_WAIT for a minute (the
 * kernel's TCP_TIMEWAIT_LEN), which a look sees. From /proc/net/tcp and tcp6: a socket
 * other than the listener whose local port is the server's (its side of a client's
 * connection), or whose remote end is the server's port on loopback (a local client's
 * side). The supervisor's own probes of the port close with a reset and leave no trace. */
static bool client_connected(int port)
{
	static const char *const files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
	bool found = false;

	for (size_t f = 0; f < 2 && !found; f++) {
		FILE *in = fopen(files[f], "re");
		char line[512];
		if (!in)
			continue;
		while (!found && fgets(line, sizeof(line), in)) {
			char *fld[TCP_FIELDS], *lp, *rp;
			if (tcp_fields(line, fld) < 4 || !(lp = strchr(fld[1], ':')) || !(rp = strchr(fld[2], ':')) ||
			    strcmp(fld[3], "0A") == 0 /* LISTEN */)
				continue;
			*lp = *rp = '\0';
			unsigned long lport = strtoul(lp + 1, NULL, 16), rport = strtoul(rp + 1, NULL, 16);
			found = lport == (unsigned long)port ||
				(rport == (unsigned long)port && loopback_hex(fld[2]));
		}
		fclose(in);
	}
	return found;
}

/* The inode of the socket that listens on 127.0.0.1:port, or 0: in /proc/net/tcp, or in
 * tcp6 as ::ffff:127.0.0.1 (a JVM binds IPv4 addresses on an IPv6 socket). */
static unsigned long listener_inode(int port)
{
	static const char *const files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
	unsigned long inode = 0;

	for (size_t f = 0; f < 2 && !inode; f++) {
		FILE *in = fopen(files[f], "re");
		char line[512];
		while (in && !inode && fgets(line, sizeof(line), in)) {
			char *fld[TCP_FIELDS], *colon, *end = NULL;
			if (tcp_fields(line, fld) < TCP_FIELDS || strcmp(fld[3], "0A") != 0 ||
			    !(colon = strchr(fld[1], ':')))
				continue;
			const char *local = fld[1];
			unsigned long ino = strtoul(fld[9], &end, 10);
			if (end == fld[9])
				continue;
			*colon = '\0';
			if ((strcasecmp(local, "0100007F") == 0 ||
			     strcasecmp(local, "0000000000000000FFFF00000100007F") == 0) &&
			    strtoul(colon + 1, NULL, 16) == (unsigned long)port)
				inode = ino;
		}
		if (in)
			fclose(in);
	}
	return inode;
}

/* Whether process pid holds socket *(unsigned long *)inode among its open files. */
static bool holds_socket(int64_t pid, void *inode)
{
	char dir[64], want[64];
	snprintf(dir, sizeof(dir), "/proc/%lld/fd", (long long)pid);
	snprintf(want, sizeof(want), "socket:[%lu]", *(unsigned long *)inode);
	DIR *d = opendir(dir);
	struct dirent *e;
	bool found = false;

	while (d && !found && (e = readdir(d)) != NULL) {
		char target[64];
		ssize_t n = readlinkat(dirfd(d), e->d_name, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			found = strcmp(target, want) == 0;
		}
	}
	if (d)
		closedir(d);
	return found;
}

/* Whether the process listening on the gRPC port is the server (a process of its group),
 * not another local user's that took the port before Spark bound it: clients send that
 * listener the session's token. */
static bool port_is_servers(const struct sup *s)
{
	unsigned long inode = listener_inode(s->x.port);

	return inode && spok_pid_ok(s->x.pid) && spok_pgrp_any(s->x.pid, holds_socket, &inode);
}

/* Activity the store does not see: a connected client, or tasks that ran on the server
 * since the last look (interactive statements; warm runs are counted as clients anyway). */
static bool interactive_activity(struct sup *s)
{
	int64_t total = 0, active = 0;
	bool busy = client_connected(s->x.port);

	if (s->x.ui_port > 0 && ui_tasks(s, &total, &active)) {
		busy = busy || active > 0 || (s->tasks_seen >= 0 && total != s->tasks_seen);
		s->tasks_seen = total;
	}
	return busy;
}

char *spok_connect_why_idle(const struct spok_pool *pool, int64_t now_ms, int64_t last_used_ms,
			    int64_t started_ms)
{
	char *d = NULL, *why = NULL;

	if (now_ms - last_used_ms >= (int64_t)pool->idle_ms) {
		d = spok_format_duration_ms(pool->idle_ms);
		why = xasprintf("idle for %s (pool %s's idle-timeout)", d, pool->name);
	} else if (now_ms - started_ms >= (int64_t)pool->lifetime_ms) {
		d = spok_format_duration_ms(pool->lifetime_ms);
		why = xasprintf("reached pool %s's max-lifetime of %s", pool->name, d);
	}
	free(d);
	return why;
}

static void check_use(struct sup *s, const struct spok_session *now)
{
	size_t clients = 0;
	int64_t t = spok_now_ms();

	if (spok_store_session_clients(s->st, s->x.name, &clients, NULL) != 0 || clients > 0)
		return;
	int64_t last = now->last_used_ms > s->x.started_ms ? now->last_used_ms : s->x.started_ms;
	uint64_t tick = uv_now(&s->loop);
	if (tick >= s->look_at) {
		uint64_t every = s->pool->idle_ms / 4;
		every = every < ACTIVITY_MIN_MS ? ACTIVITY_MIN_MS : every > ACTIVITY_MAX_MS ? ACTIVITY_MAX_MS : every;
		s->look_at = tick + every;
		if (interactive_activity(s)) {
			spok_store_session_touch(s->st, s->x.name, t, NULL);
			last = t;
		}
	}
	char *why = spok_connect_why_idle(s->pool, t, last, s->x.started_ms);
	bool stopped = false;
	/* the stop and a starting run's claim are one transaction apart: a run that claimed the
	 * session meanwhile keeps it (check_use runs again on the next tick) */
	if (why && spok_store_session_stop_idle(s->st, &s->x, now->last_used_ms > last ? now->last_used_ms : last,
						why, &stopped, NULL) == 0 && stopped)
		begin_stop(s, why, false);
	else
		free(why);
}

static void on_tick(uv_timer_t *t)
{
	struct sup *s = t->data;
	struct spok_session now;

	if (s->exited)
		return;
	if (s->stopping) {
		if (uv_now(&s->loop) >= s->kill_at && spok_pid_ok(s->x.pid))
			kill((pid_t)-s->x.pid, SIGKILL);
		return;
	}
	spok_local_resident_tick(&s->resident);
	if (spok_store_session_get(s->st, s->x.name, &now, NULL) != 0)
		return;
	if (now.generation != s->x.generation) {
		/* a newer start owns the name (this one was settled as dead): end quietly */
		s->replaced = true;
		begin_stop(s, xstrdup("replaced by a newer start"), false);
	} else if (now.stop_requested) {
		begin_stop(s, xstrdup("stopped by spok session stop"), false);
	} else if (spok_session_phase_terminal(now.phase)) {
		/* settled as dead (this supervisor looked gone) or never ours to run: nobody
		 * would stop this server otherwise */
		begin_stop(s, xasprintf("the session ended meanwhile (%s)", spok_session_phase_name(now.phase)), false);
	} else if (s->x.phase == SPOK_SESSION_STARTING && port_answers(s->x.port) && port_is_servers(s)) {
		s->x.phase = SPOK_SESSION_RUNNING;
		s->x.started_ms = spok_now_ms();
		unlink(s->props); /* Spark has read it */
		spok_store_session_update(s->st, &s->x, NULL);
		spok_store_session_touch(s->st, s->x.name, s->x.started_ms, NULL);
		interactive_activity(s); /* the task count to compare with from now on */
	} else if (s->x.phase == SPOK_SESSION_STARTING && uv_now(&s->loop) >= s->start_deadline) {
		char *d = spok_format_duration_ms(SPOK_CONNECT_START_MS);
		begin_stop(s, xasprintf("the Spark Connect server did not answer within %s", d), true);
		free(d);
	} else if (s->x.phase == SPOK_SESSION_RUNNING) {
		check_use(s, &now);
	}
	spok_session_free(&now);
}

/* The server's conf, through a 0600 properties file as local runs pass theirs: the pool's
 * conf may hold secrets and argv is visible to every user. */
static int write_props(struct sup *s, struct spok_err *err)
{
	struct spok_strmap conf = {0};
	char port[16];

	for (size_t i = 0; i < s->pool->conf.len; i++)
		spok_strmap_set(&conf, s->pool->conf.items[i].key, s->pool->conf.items[i].value);
	snprintf(port, sizeof(port), "%d", s->x.port);
	spok_strmap_set(&conf, "spark.connect.grpc.binding.port", port);
	if (s->x.ui_port > 0) {
		snprintf(port, sizeof(port), "%d", s->x.ui_port);
		spok_strmap_set(&conf, "spark.ui.port", port);
	}
	spok_strmap_set(&conf, "spark.driver.bindAddress", "127.0.0.1");
	/* the gRPC port on loopback only (Spark's default is every interface) */
	spok_strmap_set(&conf, "spark.connect.grpc.binding.address", "127.0.0.1");
	/* the jar is served to the local executor from the driver's file server: loopback */
	spok_strmap_set(&conf, "spark.driver.host", "127.0.0.1");
	/* The token guards gRPC only: the driver's RPC, block and file servers and the UI's
	 * kill links answer any local user. A local master generates a secret of its own for
	 * the first; nobody needs the UI to kill another session's jobs (spok abort interrupts
	 * a run's own operations). */
	const char *m = s->pool->master ? s->pool->master : "local[*]";
	if (strcmp(m, "local") == 0 || strncmp(m, "local[", 6) == 0)
		spok_strmap_set(&conf, "spark.authenticate", "true");
	spok_strmap_set(&conf, "spark.ui.killEnabled", "false");
	int result = spok_local_props_write(s->props, &conf, err);
	for (size_t i = 0; i < conf.len; i++)
		explicit_bzero(conf.items[i].value, strlen(conf.items[i].value));
	spok_strmap_free(&conf);
	return result;
}

static int spawn_server(struct sup *s, int log_fd, struct spok_err *err)
{
	struct spok_spark_env env;
	struct spok_strv argv = {0}, envv = {0};
	int result = spok_spark_env_find(&env, err);

	if (result != 0)
		return result;
	result = spok_connect_server_check(&env, err);
	if (result == 0)
		result = write_props(s, err);
	if (result != 0)
		goto done;
	spok_strv_push(&argv, env.spark_submit);
	spok_strv_push(&argv, "--properties-file");
	spok_strv_push(&argv, s->props);
	spok_strv_push(&argv, "--master");
	spok_strv_push(&argv, s->pool->master ? s->pool->master : "local[*]");
	spok_strv_pushf(&argv, "--name=spok-session-%s", s->x.name);
	spok_strv_push(&argv, "--class");
	spok_strv_push(&argv, SPOK_CONNECT_SERVER_CLASS);
	for (char **e = environ; e && *e; e++)
		if (strncmp(*e, "SPARK_HOME=", 11) != 0 && strncmp(*e, "PYSPARK_PYTHON=", 15) != 0 &&
		    strncmp(*e, "SPARK_LOCAL_IP=", 15) != 0 && strncmp(*e, "SPOK_SESSION=", 13) != 0 &&
		    /* a session started from inside a run is not that run's: settling the run
		     * ends the groups whose environment names it */
		    strncmp(*e, "SPOK_EXECUTION_ID=", 18) != 0 && strncmp(*e, "SPARK_REMOTE=", 13) != 0 &&
		    /* with either exported, spark-submit would start a Connect client, not the server */
		    strncmp(*e, "SPARK_CONNECT_MODE_ENABLED=", 27) != 0 &&
		    strncmp(*e, "SPOK_SESSION_SERVER=", 20) != 0 &&
		    strncmp(*e, "SPARK_CONNECT_AUTHENTICATE_TOKEN=", 33) != 0)
			spok_strv_push(&envv, *e);
	/* the token by environment: argv is visible to every user (ps), the environment only to
	 * this user (and Spark reads the env only when its conf has none: pools.c refuses it) */
	spok_strv_pushf(&envv, "SPARK_CONNECT_AUTHENTICATE_TOKEN=%s", s->token);
	if (env.spark_home)
		spok_strv_pushf(&envv, "SPARK_HOME=%s", env.spark_home);
	if (env.python) /* the server's Python workers (UDFs) */
		spok_strv_pushf(&envv, "PYSPARK_PYTHON=%s", env.python);
	spok_strv_push(&envv, "SPARK_LOCAL_IP=127.0.0.1");
	spok_strv_pushf(&envv, "SPOK_SESSION=%s", s->x.name);
	spok_strv_push_own(&envv, server_marker(s->x.name, s->x.generation));

	uv_process_options_t po;
	uv_stdio_container_t stdio[3];
	memset(&po, 0, sizeof(po));
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_INHERIT_FD;
	stdio[1].data.fd = log_fd;
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = log_fd;
	po.file = argv.items[0];
	po.args = argv.items;
	po.env = envv.items;
	po.stdio = stdio;
	po.stdio_count = 3;
	po.exit_cb = on_exit_cb;
	po.flags = UV_PROCESS_DETACHED; /* setsid: the server leads its own process group */
	s->proc.data = s;
	int rc = uv_spawn(&s->loop, &s->proc, &po);
	s->open++;
	if (rc != 0) {
		uv_close((uv_handle_t *)&s->proc, on_closed);
		result = spok_err_set(err, SPOK_EIO, "%s: cannot start: %s; run scripts/setup python or set SPARK_HOME",
				      argv.items[0], uv_strerror(rc));
		goto done;
	}
	s->x.pid = s->proc.pid;
	s->x.proc_start = spok_pid_start_time(s->x.pid);
	/* started with the server: its imports are done long before the server answers */
	char *marker = server_marker(s->x.name, s->x.generation);
	spok_local_resident_init(&s->resident, s->dir, env.python, marker);
	free(marker);
	spok_local_resident_tick(&s->resident);
done:
	spok_strv_free(&argv);
	for (size_t i = 0; i < envv.len; i++) /* the token's copy */
		if (strncmp(envv.items[i], "SPARK_CONNECT_AUTHENTICATE_TOKEN=", 33) == 0)
			explicit_bzero(envv.items[i], strlen(envv.items[i]));
	spok_strv_free(&envv);
	spok_spark_env_free(&env);
	return result;
}

int spok_connect_claim(const char *data_dir, const char *name, int64_t gen, struct spok_store **st,
		       struct spok_session *x, struct spok_err *err)
{
	int result = spok_store_open(data_dir, st, err);

	if (result == 0)
		result = spok_store_session_get(*st, name, x, err);
	if (result != 0)
		return result;
	if (x->generation != gen)
		return spok_err_set(err, SPOK_ECONFLICT, "session %s: started again by another spok", name);
	if (x->phase != SPOK_SESSION_STARTING) /* settled as failed before this supervisor ran */
		return spok_err_set(err, SPOK_ECONFLICT, "session %s: generation %lld already ended (%s)",
				    name, (long long)gen, spok_session_phase_name(x->phase));
	struct spok_proc_id self = spok_proc_self();
	x->supervisor_pid = self.pid;
	x->supervisor_start = self.start;
	return 0;
}

/* A free port for the server's gRPC on 127.0.0.1, whose [::1] twin this process holds
 * (*hold: bound, not listening; -1 without IPv6): clients dial "localhost", which may
 * resolve to ::1 first, and another local user listening there would get the token. A
 * bound but closed [::1]:port refuses at once and the client goes on to 127.0.0.1. */
static int grpc_port(int *hold)
{
	*hold = -1;
	for (int tries = 0; tries < 16; tries++) {
		int port = spok_free_loopback_port();
		int fd = port > 0 ? socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
		int one = 1;
		struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
					 .sin6_addr = IN6ADDR_LOOPBACK_INIT};
		if (fd < 0)
			return port; /* no IPv6 here: nobody can listen on ::1 either */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
			*hold = fd;
			return port;
		}
		int e = errno;
		close(fd);
		if (e != EADDRINUSE)
			return port; /* no ::1 (EADDRNOTAVAIL): the same */
	}
	return 0;
}

static int sup_prepare(struct sup *s, const char *data_dir, const char *name, int64_t gen,
		       struct spok_err *err)
{
	int result = spok_connect_claim(data_dir, name, gen, &s->st, &s->x, err);

	if (result != 0)
		return result;
	/* Another process may take a port before Spark binds it: the server then fails to
	 * start and the next use starts another (and port_is_servers keeps clients off it). */
	s->x.port = grpc_port(&s->v6_hold);
	s->x.ui_port = spok_free_loopback_port();
	if (s->x.port == s->x.ui_port)
		s->x.ui_port = 0; /* Spark picks the next free one after its default */
	s->dir = spok_session_dir(data_dir, name);
	/* per generation: settling a dead one never removes a newer one's before Spark reads it */
	s->props = xasprintf("%s/spark-conf-%lld.properties", s->dir, (long long)gen);
	/* this server's own token, on disk before the row says it runs */
	result = spok_token_new(s->token, err);
	if (result == 0)
		result = spok_token_write(&s->x, s->token, err);
	if (result != 0)
		return result;
	s->token_written = true;
	/* the supervisor's identity is the row's from here: a reader sees a live one */
	return spok_store_session_update(s->st, &s->x, err);
}

int spok_connect_supervise(const char *data_dir, const char *name, int64_t gen,
			   const struct spok_pool *pool, struct spok_err *err)
{
	struct sup s;
	int result;

	if (pool->kube.namespace_)
		return spok_connect_kube_supervise(data_dir, name, gen, pool, err);
	memset(&s, 0, sizeof(s));
	s.pool = pool;
	s.tasks_seen = -1;
	s.v6_hold = -1;
	uv_loop_init(&s.loop);
	result = sup_prepare(&s, data_dir, name, gen, err);
	int log_fd = -1;
	if (result == 0) {
		log_fd = open(s.x.log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (log_fd < 0)
			result = spok_err_set(err, SPOK_EIO, "%s: cannot create the server log: %s",
					      s.x.log_path, strerror(errno));
	}
	if (result == 0)
		result = spawn_server(&s, log_fd, err);
	if (log_fd >= 0)
		close(log_fd);
	if (result != 0) {
		if (s.st && s.x.name) {
			s.x.phase = SPOK_SESSION_FAILED;
			s.x.finished_ms = spok_now_ms();
			set_str(&s.x.reason, xstrdup(err->msg));
			spok_store_session_update(s.st, &s.x, NULL);
		}
		uv_run(&s.loop, UV_RUN_DEFAULT);
		goto done;
	}
	spok_store_session_update(s.st, &s.x, NULL);
	uv_timer_init(&s.loop, &s.tick);
	s.tick.data = &s;
	s.open++;
	int sigs[3] = {SIGTERM, SIGINT, SIGHUP};
	for (int i = 0; i < 3; i++) {
		uv_signal_init(&s.loop, &s.sig[i]);
		s.sig[i].data = &s;
		s.open++;
		uv_signal_start(&s.sig[i], on_signal, sigs[i]);
	}
	s.start_deadline = uv_now(&s.loop) + SPOK_CONNECT_START_MS;
	uv_timer_start(&s.tick, on_tick, TICK_MS, TICK_MS);
	uv_run(&s.loop, UV_RUN_DEFAULT);
done:
	if (s.props)
		unlink(s.props);
	if (result != 0 && s.token_written)
		spok_token_remove(&s.x);
	explicit_bzero(s.token, sizeof(s.token));
	if (s.v6_hold >= 0)
		close(s.v6_hold);
	spok_local_resident_end(&s.resident, !s.replaced);
	uv_loop_close(&s.loop);
	free(s.props);
	free(s.dir);
	free(s.stop_why);
	free(s.app_id);
	spok_session_free(&s.x);
	spok_store_close(s.st);
	return result;
}

void spok_connect_supervise_failed(const char *data_dir, const char *name, int64_t gen,
				   const char *why)
{
	struct spok_store *st = NULL;

	if (spok_store_open(data_dir, &st, NULL) != 0)
		return;
	char *reason = xasprintf("its supervisor could not start: %s", why);
	fail_start(st, name, gen, reason);
	free(reason);
	spok_store_close(st);
}

/* ---- start, stop ---- */

/* What start_one's children tell it through a pipe (one write each, atomic): the middle
 * process the supervisor's identity, the supervisor the errno of an exec that failed. */
struct sup_note {
	int64_t pid;
	uint64_t start;
	int32_t exec_errno;
	int32_t pad;
};

/* The supervisor is a fresh spok process (`spok session _supervise`), exec'd with argv in a
 * session of its own without a terminal: a forked copy of this process would inherit the
 * caller's open SQLite connection, whose locks (per process in POSIX) it does not hold, and
 * SQLite would then let another process delete the write-ahead log under it. Only
 * async-signal-safe calls before the exec (the daemon has threads). */
static void exec_child(char *const *argv, int note_fd)
{
	spok_detach_stdio();
	execv(argv[0], argv);
	struct sup_note n = {.exec_errno = errno};
	(void)!write(note_fd, &n, sizeof(n));
	_exit(127);
}

static void child_argv(struct spok_strv *argv, const char *exe, const char *data_dir,
		       const char *name, int64_t gen, const struct spok_pool *pool,
		       const char *config_path)
{
	spok_strv_push(argv, exe);
	spok_strv_push(argv, "session");
	spok_strv_push(argv, "_supervise");
	spok_strv_push(argv, name);
	spok_strv_pushf(argv, "--generation=%lld", (long long)gen);
	spok_strv_pushf(argv, "--pool=%s", pool->name);
	spok_strv_pushf(argv, "--data-dir=%s", data_dir);
	if (config_path)
		spok_strv_pushf(argv, "--config=%s", config_path);
}

/* A session directory holds the token and the server's conf: a folder (not a link) of this
 * user that no one else may write into or read (one made by someone else, or left open,
 * could have its files swapped before Spark reads them). */
static int private_dir(const char *path, struct spok_err *err)
{
	struct stat st;

	if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return spok_err_set(err, SPOK_EIO, "%s: not a directory; remove it", path);
	if (st.st_uid != geteuid())
		return spok_err_set(err, SPOK_EIO, "%s: owned by uid %u, not this user; remove it or use "
				    "another data dir (--data-dir)", path, (unsigned)st.st_uid);
	if ((st.st_mode & 077) != 0 && chmod(path, 0700) != 0)
		return spok_err_set(err, SPOK_EIO, "%s: cannot make it private (mode 700): %s", path, strerror(errno));
	return 0;
}

static int make_dir(const char *data_dir, const char *name, char **log_path, struct spok_err *err)
{
	char *top = xasprintf("%s/sessions", data_dir);
	char *dir = xasprintf("%s/%s", top, name);
	int result = 0;

	*log_path = NULL;
	if ((mkdir(top, 0700) != 0 && errno != EEXIST) || (mkdir(dir, 0700) != 0 && errno != EEXIST))
		result = spok_err_set(err, SPOK_EIO, "%s: cannot create directory: %s; check the data dir", dir, strerror(errno));
	else if ((result = private_dir(top, err)) == 0 && (result = private_dir(dir, err)) == 0)
		*log_path = xasprintf("%s/server.log", dir);
	free(top);
	free(dir);
	return result;
}

/* The row of generation gen could not get its supervisor: FAILED with why, so that no reader
 * waits for a STARTING row whose supervisor never ran. */
static void fail_start(struct spok_store *st, const char *name, int64_t gen, const char *why)
{
	struct spok_session x;

	if (spok_store_session_get(st, name, &x, NULL) != 0)
		return;
	if (x.generation == gen && !spok_session_phase_terminal(x.phase)) {
		x.phase = SPOK_SESSION_FAILED;
		x.finished_ms = spok_now_ms();
		set_str(&x.reason, xstrdup(why));
		spok_store_session_update(st, &x, NULL);
	}
	spok_session_free(&x);
}

/* Reads the children's notes until every write end is closed (the supervisor's closes on
 * its exec): *sup the supervisor's identity (pid 0: none), *exec_errno a failed exec's. */
static void read_notes(int fd, struct spok_proc_id *sup, int *exec_errno)
{
	struct sup_note n;
	ssize_t r;

	*sup = (struct spok_proc_id){0, 0};
	*exec_errno = 0;
	while ((r = read(fd, &n, sizeof(n))) == (ssize_t)sizeof(n) || (r < 0 && errno == EINTR)) {
		if (r < 0)
			continue;
		if (n.exec_errno)
			*exec_errno = n.exec_errno;
		else
			*sup = (struct spok_proc_id){n.pid, n.start};
	}
}

/* Forks the supervisor of generation gen twice (it is nobody's child but init's, so a
 * long-lived starter, the daemon, has no zombie to reap when it ends; the middle one is
 * reaped here at once) and records the supervisor's own pid and start time in the row
 * before anyone can read it as the starter's: whatever becomes of the supervisor (its exec
 * fails, it cannot load the config, it is killed before it records itself), a reader then
 * sees it gone and settles the row instead of waiting while the starter lives. */
static int fork_supervisor(struct spok_store *st, const char *exe, const char *data_dir,
			   const char *name, const struct spok_pool *pool, const char *config_path,
			   int64_t gen, struct spok_err *err)
{
	struct spok_strv argv = {0};
	int fds[2];

	child_argv(&argv, exe, data_dir, name, gen, pool, config_path);
	if (pipe2(fds, O_CLOEXEC) != 0) {
		int e = errno;
		spok_strv_free(&argv);
		fail_start(st, name, gen, "cannot fork its supervisor (no pipe)");
		return spok_err_set(err, SPOK_EUNAVAIL, "session %s: cannot fork its supervisor: %s; retry", name, strerror(e));
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		pid_t sup = fork();
		if (sup == 0)
			exec_child(argv.items, fds[1]);
		/* the supervisor is this process's child until it exits: a zombie keeps its start time */
		struct sup_note n = {.pid = sup, .start = sup > 0 ? spok_pid_start_time(sup) : 0};
		if (sup > 0)
			(void)!write(fds[1], &n, sizeof(n));
		_exit(sup < 0 ? 1 : 0);
	}
	int fork_errno = pid < 0 ? errno : EAGAIN; /* EAGAIN: the middle one could not fork */
	close(fds[1]);
	spok_strv_free(&argv);
	int status = 0;
	if (pid > 0 && (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0))
		pid = -1;
	struct spok_proc_id sup = {0, 0};
	int exec_errno = 0;
	if (pid > 0)
		read_notes(fds[0], &sup, &exec_errno);
	close(fds[0]);
	if (pid < 0 || sup.pid <= 0) {
		fail_start(st, name, gen, "cannot fork its supervisor");
		return spok_err_set(err, SPOK_EUNAVAIL, "session %s: cannot fork its supervisor: %s; retry", name,
				    strerror(fork_errno));
	}
	if (exec_errno) {
		char *why = xasprintf("cannot run its supervisor %s: %s", exe, strerror(exec_errno));
		fail_start(st, name, gen, why);
		/* not a storage error: the binary this process runs was replaced or removed (an
		 * upgrade), which its operator fixes (the API answers 503 with this line) */
		int result = spok_err_set(err, SPOK_EUNAVAIL, "session %s: %s; reinstall spok or restart the process that started it (spok serve)", name, why);
		free(why);
		return result;
	}
	/* Not recorded (the store is busy past its timeout): the starter stays the supervisor of
	 * record until the supervisor records itself, as before this write existed. */
	(void)spok_store_session_supervisor(st, name, gen, sup, NULL);
	return 0;
}

/* Begins generation expect+1 and forks its supervisor. SPOK_ECONFLICT: someone else did. */
static int start_one(struct spok_store *st, const char *data_dir, const char *name,
		     const struct spok_pool *pool, const char *project, const char *config_path,
		     int64_t expect, bool stop_first, int64_t *gen, struct spok_err *err)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return spok_err_set(err, SPOK_EUNAVAIL, "session %s: cannot find the spok binary (/proc/self/exe): %s",
				    name, strerror(errno));
	exe[n] = '\0';
	const char *why = pool->kube.namespace_ ? spok_connect_kube_name_problem(name) : NULL;
	if (why)
		return spok_err_set(err, SPOK_EINVAL, "session %s (pool %s): %s", name, pool->name, why);
	char *log_path = NULL, *user = spok_connect_user();
	int result = make_dir(data_dir, name, &log_path, err);

	if (result == 0)
		result = spok_store_session_begin(st, name, pool->name, project, user, log_path, expect,
						  spok_proc_self(), gen, err);
	free(user);
	free(log_path);
	/* before the fork: the supervisor reads the request when it claims the row */
	if (result == 0 && stop_first)
		result = spok_store_session_request_stop(st, name, err);
	if (result != 0)
		return result;
	return fork_supervisor(st, exe, data_dir, name, pool, config_path, *gen, err);
}

int spok_connect_pool_clash(const struct spok_session *x, const struct spok_pool *pool,
			    struct spok_err *err)
{
	if (strcmp(x->pool, pool->name) == 0)
		return 0;
	return spok_err_set(err, SPOK_ECONFLICT, "session %s runs in pool %s, not %s; stop it first "
			    "('spok session stop %s')", x->name, x->pool, pool->name, x->name);
}

int spok_connect_ensure(struct spok_store *st, const char *data_dir, const char *config_path,
			const char *name, const struct spok_pool *pool, struct spok_session *out,
			bool *started, struct spok_err *err)
{
	int64_t mine = -1; /* the generation this call started */
	uint64_t waited = 0;

	memset(out, 0, sizeof(*out));
	if (started)
		*started = false;
	for (;;) {
		struct spok_session x;
		int result = spok_store_session_get(st, name, &x, err);

		if (result == SPOK_ENOTFOUND) {
			result = start_one(st, data_dir, name, pool, NULL, config_path, -1, false, &mine, err);
			if (result == 0 && started)
				*started = true;
			if (result != 0 && result != SPOK_ECONFLICT)
				return result;
			continue;
		}
		if (result != 0)
			return result;
		spok_connect_settle(st, &x, NULL);
		/* a server that just died, before its supervisor recorded it: wait for that */
		if (x.phase == SPOK_SESSION_RUNNING && spok_connect_server_up(&x)) {
			if ((result = spok_connect_pool_clash(&x, pool, err)) != 0) {
				spok_session_free(&x);
				return result;
			}
			*out = x;
			return 0;
		}
		if (x.generation == mine && spok_session_phase_terminal(x.phase)) {
			result = spok_err_set(err, SPOK_EIO, "session %s: the Spark Connect server did not start: %s",
					      name, x.reason ? x.reason : "unknown reason");
			spok_session_free(&x);
			return result;
		}
		if (spok_session_phase_terminal(x.phase)) {
			result = start_one(st, data_dir, name, pool, NULL, config_path, x.generation, false, &mine, err);
			spok_session_free(&x);
			if (result == 0 && started)
				*started = true;
			if (result != 0 && result != SPOK_ECONFLICT)
				return result;
			continue;
		}
		spok_session_free(&x);
		/* STARTING, STOPPING, or RUNNING without its server: someone is at it; wait (bounded) */
		if (waited >= SPOK_CONNECT_START_MS + SPOK_CONNECT_GRACE_MS)
			return spok_err_set(err, SPOK_EBUSY, "session %s: still starting or stopping after %llus; see 'spok session list'",
					    name, (unsigned long long)(waited / 1000));
		sleep_ms(STEP_MS);
		waited += STEP_MS;
	}
}

int spok_connect_stop(struct spok_store *st, const char *name, struct spok_session *out,
		      struct spok_err *err)
{
	struct spok_session x;
	int result = spok_store_session_get(st, name, &x, err);

	if (result != 0)
		return result;
	if (!spok_session_phase_terminal(x.phase) && spok_connect_settle(st, &x, NULL) == 0) {
		result = spok_store_session_request_stop(st, name, err);
		/* a Kubernetes server: its pod's grace and the kubelet's reaction besides */
		uint64_t limit = SPOK_CONNECT_GRACE_MS + (is_kube(&x) ? 70000 : 10000);
		for (uint64_t w = 0; result == 0 && w < limit; w += STEP_MS) {
			spok_session_free(&x);
			result = spok_store_session_get(st, name, &x, err);
			if (result != 0 || spok_session_phase_terminal(x.phase) || spok_connect_settle(st, &x, NULL) == 1)
				break;
			sleep_ms(STEP_MS);
		}
		if (result == 0 && !spok_session_phase_terminal(x.phase))
			result = spok_err_set(err, SPOK_EBUSY, "session %s: its supervisor (pid %lld) did not stop it in time; see 'spok session list'",
					      name, (long long)x.supervisor_pid);
	}
	if (result == 0 && out)
		*out = x;
	else
		spok_session_free(&x);
	return result;
}

/* ---- without waiting (spok serve's loop) ---- */

int spok_connect_begin(struct spok_store *st, const char *data_dir, const char *config_path,
		       const char *name, const struct spok_pool *pool, const char *project,
		       struct spok_session *out, bool *started, struct spok_err *err)
{
	int64_t gen = 0;

	memset(out, 0, sizeof(*out));
	*started = false;
	for (int round = 0; round < 3; round++) { /* a lost race is retried, a few times */
		struct spok_session x;
		int result = spok_store_session_get(st, name, &x, err);

		if (result == SPOK_ENOTFOUND) {
			result = start_one(st, data_dir, name, pool, project, config_path, -1, false, &gen, err);
		} else if (result == 0) {
			spok_connect_settle_nowait(st, &x, NULL);
			/* an ended session of a project leaves its name to any project (its server
			 * is gone; a Kubernetes one that FAILED may have left its pod: stop it first);
			 * the CLI's sessions (no project) stay the CLI's */
			bool released = x.project && project && spok_session_phase_terminal(x.phase) &&
					!spok_connect_leftovers(&x);
			if (!released && spok_connect_project_clash(&x, project)) {
				/* not naming the other project: the caller may not know it exists */
				result = spok_err_set(err, SPOK_ECONFLICT, "session %s belongs to %s; choose another name",
						      name, x.project ? "another project" : "no project (started from the CLI)");
				spok_session_free(&x);
				return result;
			}
			if (!spok_session_phase_terminal(x.phase)) {
				if ((result = spok_connect_pool_clash(&x, pool, err)) != 0) {
					spok_session_free(&x);
					return result;
				}
				*out = x; /* running, or on its way (STARTING, STOPPING): the caller shows it */
				return 0;
			}
			result = start_one(st, data_dir, name, pool, project, config_path, x.generation, false, &gen, err);
			spok_session_free(&x);
		}
		if (result == 0) {
			*started = true;
			return spok_store_session_get(st, name, out, err);
		}
		if (result != SPOK_ECONFLICT)
			return result;
	}
	return spok_err_set(err, SPOK_ECONFLICT, "session %s: other starts and stops keep changing it; retry", name);
}

int spok_connect_request_stop(struct spok_store *st, const char *name, struct spok_session *out,
			      struct spok_err *err)
{
	int result = spok_store_session_get(st, name, out, err);

	if (result != 0)
		return result;
	spok_connect_settle_nowait(st, out, NULL);
	if (spok_session_phase_terminal(out->phase))
		return 0;
	result = spok_store_session_request_stop(st, name, err);
	if (result == 0)
		out->stop_requested = true;
	return result;
}

bool spok_connect_leftovers(const struct spok_session *x)
{
	return is_kube(x) && x->phase == SPOK_SESSION_FAILED;
}

int spok_connect_cleanup_begin(struct spok_store *st, const char *data_dir, const char *config_path,
			       const struct spok_pool *pool, struct spok_session *x,
			       struct spok_err *err)
{
	int64_t gen = 0;

	if (!spok_connect_leftovers(x))
		return 0;
	if (!pool || !pool->kube.namespace_)
		return spok_err_set(err, SPOK_ECONFLICT, "session %s: its pool %s is no Kubernetes pool in the config now; delete its pods (label spok.dev/session=%s) by hand",
				    x->name, x->pool, x->name);
	char *name = xstrdup(x->name);
	int result = start_one(st, data_dir, name, pool, NULL, config_path, x->generation, true, &gen, err);
	if (result == 0) {
		spok_session_free(x);
		result = spok_store_session_get(st, name, x, err);
	}
	free(name);
	return result;
}
