/* settle.c - who supervises a local run, what it leaves when it cannot write the store, and
 * how a reader settles a run whose supervisor is gone. See local.h ("When spok dies"). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/utf8.h"
#include "common/pid.h"
#include "common/xalloc.h"
#include "local/internal.h"
#include "local/token.h"

#define ENVIRON_MAX ((size_t)1 << 20) /* read at most this much of /proc/N/environ */
#define MAX_GROUPS 64                 /* process groups one settle ends */
#define GONE_WAIT_MS 5000             /* after KILL: wait (bounded) until the group is empty */

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the supervisor lock ---- */

/* spok_local_submit's lock until spok_local_start (or the blocking supervisor) adopts it. */
static struct {
	int fd;
	char id[SPOK_EXEC_ID_LEN + 1];
} held = {-1, ""};

static char *lock_path(const char *run_dir)
{
	return xasprintf("%s/supervisor.lock", run_dir);
}

int spok_local_lock_take(const char *run_dir, const char *id, struct spok_err *err)
{
	int fd;

	if (held.fd >= 0 && strcmp(held.id, id) == 0)
		return 0;
	spok_local_lock_release();
	int result = spok_local_lock_open(run_dir, id, &fd, err);
	if (result == 0) {
		held.fd = fd;
		snprintf(held.id, sizeof(held.id), "%s", id);
	}
	return result;
}

int spok_local_lock_adopt(const char *id)
{
	int fd = -1;

	if (held.fd >= 0 && strcmp(held.id, id) == 0) {
		fd = held.fd;
		held.fd = -1;
		held.id[0] = '\0';
	}
	return fd;
}

int spok_local_lock_open(const char *run_dir, const char *id, int *fdp, struct spok_err *err)
{
	*fdp = -1;
	char *path = lock_path(run_dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	int result = 0;
	if (fd < 0) {
		result = spok_err_set(err, SPOK_EIO, "%s: cannot create: %s; check the data dir", path, strerror(errno));
	} else if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		result = errno == EWOULDBLOCK
				 ? spok_err_set(err, SPOK_ECONFLICT, "execution %s: another spok process supervises it", id)
				 : spok_err_set(err, SPOK_EIO, "%s: cannot lock: %s", path, strerror(errno));
		close(fd);
	} else {
		*fdp = fd;
	}
	free(path);
	return result;
}

void spok_local_lock_release(void)
{
	if (held.fd >= 0)
		close(held.fd);
	held.fd = -1;
	held.id[0] = '\0';
}

enum liveness { SUP_ALIVE, SUP_DEAD, SUP_UNKNOWN };

/* Without a lock file: the recorded supervisor, by pid and (when recorded) start time. */
static enum liveness recorded_liveness(const struct spok_execution *x)
{
	struct spok_proc_id p = {x->supervisor_pid, x->supervisor_start};

	return spok_proc_alive(p) && p.pid != (int64_t)getpid() ? SUP_ALIVE : SUP_DEAD;
}

/* DEAD comes with *fd holding the lock: no other reader settles the row meanwhile. A row
 * without a lock file (recorded by an older spok) falls back to the pid alone. */
static enum liveness supervisor_liveness(const struct spok_execution *x, int *fd)
{
	*fd = -1;
	if (!x->run_dir)
		return recorded_liveness(x);
	char *path = lock_path(x->run_dir);
	int f = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(path);
	if (f < 0 && errno == ENOENT)
		return recorded_liveness(x);
	if (f < 0)
		return SUP_UNKNOWN;
	if (flock(f, LOCK_EX | LOCK_NB) != 0) {
		enum liveness l = errno == EWOULDBLOCK ? SUP_ALIVE : SUP_UNKNOWN;
		close(f);
		return l;
	}
	*fd = f;
	return SUP_DEAD;
}

bool spok_local_supervisor_alive(const struct spok_execution *x)
{
	int fd;
	enum liveness l = supervisor_liveness(x, &fd);
	if (fd >= 0)
		close(fd);
	return l != SUP_DEAD;
}

/* ---- the outcome file ---- */

char *spok_local_outcome_path(const struct spok_execution *x)
{
	return xasprintf("%s/outcome.json", x->run_dir ? x->run_dir : ".");
}

/* Allocates the file's blocks while there is room, so the final write fits even when the
 * disk has filled up meanwhile. Best effort: without the reservation the write may still
 * succeed. The content until then is a marker no reader applies. */
void spok_local_outcome_reserve(const struct spok_execution *x)
{
	static const char marker[] = "{\"state\":\"reserved\"}\n";
	char *path = spok_local_outcome_path(x);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		if (posix_fallocate(fd, 0, SPOK_LOCAL_OUTCOME_RESERVE) == 0 &&
		    pwrite(fd, marker, sizeof(marker) - 1, 0) == (ssize_t)(sizeof(marker) - 1))
			fdatasync(fd);
		close(fd);
	}
	free(path);
}

static json_t *outcome_json(const struct spok_execution *x, bool small)
{
	json_t *j = json_pack("{s:s,s:s,s:I,s:s,s:I}", "state", "final", "id", x->id, "attempt",
			      (json_int_t)x->attempt, "phase", spok_phase_name(x->phase), "finished_ms",
			      (json_int_t)x->finished_ms);
	const struct { const char *k; const char *v; } s[] = {
		{"reason", x->reason}, {"spark_app_id", x->spark_app_id}, {"history_url", x->history_url},
		{"error_message", small ? NULL : x->error_message},
		{"outputs_json", small ? NULL : x->outputs_json},
	};
	for (size_t i = 0; j && i < sizeof(s) / sizeof(s[0]); i++) {
		if (!s[i].v)
			continue;
		/* Bounded, and valid for jansson (job text need not be UTF-8). */
		char *cut = xstrndup(s[i].v, spok_utf8_prefix(s[i].v, small ? 1024 : SPOK_LOCAL_OUTCOME_RESERVE));
		char *ok = spok_utf8_sanitize(cut);
		json_object_set_new(j, s[i].k, json_string(ok));
		free(ok);
		free(cut);
	}
	if (j && x->has_exit_code)
		json_object_set_new(j, "exit_code", json_integer(x->exit_code));
	return j;
}

/* Writes x's end into the reserved file (in place: no new blocks) and syncs it. 0 on
 * success. The text is one JSON object; what follows it in the file is ignored. */
int spok_local_outcome_write(const struct spok_execution *x)
{
	char *text = NULL;
	for (int small = 0; small < 2 && !text; small++) {
		json_t *j = outcome_json(x, small);
		text = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		if (text && strlen(text) + 1 >= SPOK_LOCAL_OUTCOME_RESERVE) {
			free(text);
			text = NULL;
		}
	}
	if (!text)
		return -1;
	char *path = spok_local_outcome_path(x);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	size_t n = strlen(text);
	text[n] = '\n'; /* json_dumps' NUL becomes the line end */
	int rc = fd >= 0 && pwrite(fd, text, n + 1, 0) == (ssize_t)(n + 1) && fdatasync(fd) == 0 ? 0 : -1;
	if (fd >= 0)
		close(fd);
	free(path);
	free(text);
	return rc;
}

void spok_local_outcome_clear(const struct spok_execution *x)
{
	char *path = spok_local_outcome_path(x);
	unlink(path);
	free(path);
}

static void set_owned(char **dst, const char *v)
{
	free(*dst);
	*dst = v ? xstrdup(v) : NULL;
}

/* Applies a final outcome of this execution's current (or a later) attempt to *x. */
static bool outcome_apply(struct spok_execution *x)
{
	char *path = spok_local_outcome_path(x);
	json_error_t e;
	json_t *j = json_load_file(path, JSON_DISABLE_EOF_CHECK, &e);
	enum spok_phase ph;
	bool ok = false;

	free(path);
	const char *state = json_string_value(json_object_get(j, "state"));
	const char *id = json_string_value(json_object_get(j, "id"));
	json_int_t attempt = json_integer_value(json_object_get(j, "attempt"));
	if (state && strcmp(state, "final") == 0 && id && strcmp(id, x->id) == 0 &&
	    attempt >= (json_int_t)x->attempt && attempt < (json_int_t)x->max_attempts &&
	    spok_phase_parse(json_string_value(json_object_get(j, "phase")), &ph) && spok_phase_terminal(ph)) {
		x->attempt = (uint32_t)attempt;
		x->phase = ph;
		x->finished_ms = json_integer_value(json_object_get(j, "finished_ms"));
		set_owned(&x->reason, json_string_value(json_object_get(j, "reason")));
		set_owned(&x->error_message, json_string_value(json_object_get(j, "error_message")));
		set_owned(&x->outputs_json, json_string_value(json_object_get(j, "outputs_json")));
		const char *app = json_string_value(json_object_get(j, "spark_app_id"));
		if (app) {
			set_owned(&x->spark_app_id, app);
			set_owned(&x->history_url, json_string_value(json_object_get(j, "history_url")));
		}
		json_t *code = json_object_get(j, "exit_code");
		x->has_exit_code = json_is_integer(code);
		x->exit_code = (int)json_integer_value(code);
		ok = true;
	}
	json_decref(j);
	return ok;
}

/* ---- the final write of a supervisor ---- */

int spok_local_commit(struct spok_store *st, struct spok_execution *x, struct spok_err *err)
{
	struct spok_err e = {0};
	bool kept = spok_local_outcome_write(x) == 0;
	int64_t until = mono_ms() + SPOK_LOCAL_COMMIT_RETRY_MS;
	unsigned delay = 250;
	int rc;

	/* A full disk or a locked database often clears within seconds: retry, bounded. */
	while ((rc = spok_store_update(st, x, &e)) != 0 && mono_ms() + delay <= until) {
		sleep_ms(delay);
		delay = delay < 4000 ? delay * 2 : delay;
	}
	if (rc == 0) {
		spok_local_outcome_clear(x);
		return 0;
	}
	char *path = spok_local_outcome_path(x);
	if (kept)
		rc = spok_err_set(err, SPOK_EIO, "execution %s ended %s, but the store cannot record it (%s); the outcome is kept in %s and the next 'spok list' or 'spok status %s' records it",
				  x->id, spok_phase_name(x->phase), e.msg, path, x->id);
	else
		rc = spok_err_set(err, SPOK_EIO, "execution %s ended %s, but neither the store (%s) nor %s could record it; free space in the data dir",
				  x->id, spok_phase_name(x->phase), e.msg, path);
	free(path);
	return rc;
}

/* ---- ending what a dead supervisor left behind ---- */

/* Process group of /proc/<pid>, or 0. */
static int64_t proc_pgrp(const char *pid)
{
	char path[300], buf[1024]; /* d_name: up to 255 bytes */
	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* comm may hold anything: skip to its end */
	if (!p)
		return 0;
	/* After "(comm)": state ppid pgrp. strtoll, not scanf, reports an out-of-range number. */
	char *s = p + 1, *end;
	while (*s == ' ')
		s++;
	if (*s == '\0')
		return 0;
	s++; /* state, one character */
	(void)strtoll(s, &end, 10); /* ppid */
	if (end == s)
		return 0;
	s = end;
	errno = 0;
	long long pgrp = strtoll(s, &end, 10);
	if (end == s || errno != 0)
		return 0;
	return pgrp;
}

/* Whether /proc/<pid>/environ holds exactly the entry `marker` (spok puts
 * SPOK_EXECUTION_ID=<id> into the environment of spark-submit; its children inherit it). */
static bool has_env(const char *pid, const char *marker)
{
	char path[300];
	snprintf(path, sizeof(path), "/proc/%s/environ", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	size_t cap = 65536, len = 0, mlen = strlen(marker);
	char *buf = xmalloc(cap + 1);
	ssize_t n;
	while ((n = read(fd, buf + len, cap - len)) > 0) {
		len += (size_t)n;
		if (len == cap && cap < ENVIRON_MAX) {
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		} else if (len == cap) {
			break;
		}
	}
	close(fd);
	bool found = false;
	for (size_t i = 0; i < len && !found; i += strnlen(buf + i, len - i) + 1)
		found = len - i >= mlen && memcmp(buf + i, marker, mlen) == 0 &&
			(i + mlen == len || buf[i + mlen] == '\0');
	free(buf);
	return found;
}

/* The process groups that still run this execution's Spark: the recorded group when its
 * leader is still the process spok started (pid + start time), and the group of any process
 * that carries the execution's SPOK_EXECUTION_ID (the leader may have exited, or the
 * supervisor died before it recorded the pid). Never our own group. */
static size_t leftover_groups(const struct spok_execution *x, int64_t *out, size_t max)
{
	size_t n = 0;
	int64_t self = getpgrp();
	if (spok_pid_ok(x->pid) && spok_pid_ok(x->pgid) && x->proc_start != 0 &&
	    spok_pid_start_time(x->pid) == x->proc_start && x->pgid != self)
		out[n++] = x->pgid;
	char *marker = xasprintf("SPOK_EXECUTION_ID=%s", x->id);
	int64_t more[MAX_GROUPS];
	size_t m = spok_local_marked_groups(marker, more, MAX_GROUPS);
	free(marker);
	for (size_t i = 0; i < m && n < max; i++)
		if (n == 0 || more[i] != out[0])
			out[n++] = more[i];
	return n;
}

size_t spok_local_marked_groups(const char *marker, int64_t *out, size_t max)
{
	size_t n = 0;
	int64_t self = getpgrp();
	DIR *d = opendir("/proc");
	if (!d)
		return n;
	struct dirent *de;
	while ((de = readdir(d)) != NULL && n < max) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9' || strspn(de->d_name, "0123456789") != strlen(de->d_name))
			continue;
		if (!has_env(de->d_name, marker))
			continue;
		int64_t g = proc_pgrp(de->d_name);
		bool seen = !spok_pid_ok(g) || g == self;
		for (size_t i = 0; i < n && !seen; i++)
			seen = out[i] == g;
		if (!seen)
			out[n++] = g;
	}
	closedir(d);
	return n;
}

/* TERM, KILL after the grace period, then wait (bounded) until the groups are empty. */
static size_t end_groups(const struct spok_execution *x, uint64_t grace_ms)
{
	int64_t g[MAX_GROUPS];
	size_t n = leftover_groups(x, g, MAX_GROUPS);
	for (size_t i = 0; i < n; i++)
		spok_local_stop_group(g[i], grace_ms);
	for (size_t i = 0; i < n; i++)
		for (unsigned w = 0; w < GONE_WAIT_MS && spok_pgrp_running(g[i]); w += 50) {
			kill((pid_t)-g[i], SIGKILL);
			sleep_ms(50);
		}
	return n;
}

/* Spark has no use for the conf any more; it may hold secrets. */
static void remove_props(const struct spok_execution *x)
{
	if (!x->run_dir)
		return;
	char *pat = xasprintf("%s/spark-conf-*.properties", x->run_dir);
	glob_t g;
	memset(&g, 0, sizeof(g));
	if (glob(pat, GLOB_NOSORT, NULL, &g) == 0)
		for (size_t i = 0; i < g.gl_pathc; i++)
			unlink(g.gl_pathv[i]);
	globfree(&g);
	free(pat);
}

/* A warm run's client is gone, but its operations may still run on the session's server
 * (Spark keeps a detached operation for minutes): interrupt that attempt's Connect
 * session, nothing else on the server. Only while the session's server is the one that
 * answered (RUNNING, its pid + start time alive). Returns whether the glue succeeded. */
static bool interrupt_warm(struct spok_store *st, const struct spok_execution *x)
{
	struct spok_session s;
	struct spok_spark_env env;
	bool ok = false;

	if (!x->session || spok_store_session_get(st, x->session, &s, NULL) != 0)
		return false;
	if (s.phase == SPOK_SESSION_RUNNING && s.port > 0 &&
	    spok_proc_alive((struct spok_proc_id){s.pid, s.proc_start}) &&
	    spok_spark_env_find(&env, NULL) == 0) {
		char sid[37];
		char *user = spok_local_user();
		spok_local_warm_session_id(x->id, x->attempt, sid);
		char *token = NULL;
		/* the token of this server (a local one: by environment, to "localhost") */
		(void)spok_token_read(&s, &token, NULL);
		char *remote = xasprintf("sc://localhost:%d/;user_id=%s;session_id=%s", s.port, user, sid);
		ok = spok_local_warm_interrupt_sync(&env, remote, token, x->log_path) == 0;
		free(remote);
		spok_token_free(token);
		free(user);
		spok_spark_env_free(&env);
	}
	spok_session_free(&s);
	return ok;
}

static void swap_exec(struct spok_execution *a, struct spok_execution *b)
{
	struct spok_execution t = *a;
	*a = *b;
	*b = t;
}

int spok_local_settle_as(struct spok_store *st, struct spok_execution *x, const char *why,
			 uint64_t grace_ms, struct spok_err *err)
{
	struct spok_execution now = {0};
	int fd, result;

	if (spok_phase_terminal(x->phase) || (x->backend && strcmp(x->backend, "local") != 0))
		return 0;
	/* A reader without write access (another user, a read-only data dir) neither records
	 * nor signals: the row is shown as stored, with the "supervisor is gone" warning. */
	if (spok_store_readonly(st))
		return 0;
	if (supervisor_liveness(x, &fd) != SUP_DEAD)
		return 0;
	/* Under the lock: the supervisor may have recorded the end just before it died, or
	 * another reader settled the row before we got the lock. */
	result = spok_store_get(st, x->id, &now, err);
	if (result != 0 || spok_phase_terminal(now.phase))
		goto done;
	size_t ended = end_groups(&now, grace_ms);
	remove_props(&now);
	if (!outcome_apply(&now)) {
		bool interrupted = interrupt_warm(st, &now);
		now.phase = SPOK_PHASE_ABORTED;
		now.finished_ms = spok_now_ms();
		now.has_exit_code = false;
		free(now.reason);
		if (ended)
			now.reason = xasprintf("%s; spok ended its %s%s", why,
					       now.session ? "Spark Connect client" : "spark process group",
					       interrupted ? " and interrupted its operations on the session's server" : "");
		else if (spok_pid_ok(now.pgid))
			now.reason = xasprintf("%s; its spark process group had already ended%s", why,
					       interrupted ? " (spok interrupted its operations on the session's server)" : "");
		else
			now.reason = xasprintf("%s before spark-submit started", why);
	}
	result = spok_store_update(st, &now, err);
	if (result == 0) {
		spok_local_outcome_clear(&now);
		result = 1;
	}
done:
	if (result >= 0 || now.id)
		swap_exec(x, &now); /* shown as settled even when the write failed */
	spok_execution_free(&now);
	if (fd >= 0)
		close(fd);
	return result;
}

int spok_local_settle(struct spok_store *st, struct spok_execution *x, struct spok_err *err)
{
	char why[96];
	snprintf(why, sizeof(why), "supervisor (pid %lld) died", (long long)x->supervisor_pid);
	return spok_local_settle_as(st, x, why, SPOK_LOCAL_SETTLE_GRACE_MS, err);
}
