/* exec.c - exec credential plugins: run one, parse its ExecCredential. */
#include "kube/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/timefmt.h"
#include "common/xalloc.h"
#include "kube/internal.h"

extern char **environ;

/* ---- ownership ---- */

static void strv_wipe_free(struct spok_strv *v)
{
	for (size_t i = 0; i < v->len; i++)
		explicit_bzero(v->items[i], strlen(v->items[i]));
	spok_strv_free(v);
}

void kube_exec_free(struct kube_exec *x)
{
	if (x == NULL)
		return;
	free(x->where);
	free(x->api_version);
	free(x->command);
	spok_strv_free(&x->args);
	strv_wipe_free(&x->env);
	free(x->install_hint);
	free(x);
}

struct kube_exec *kube_exec_copy(const struct kube_exec *src)
{
	struct kube_exec *x;

	if (src == NULL)
		return NULL;
	x = xcalloc(1, sizeof(*x));
	x->where = xstrdup(src->where);
	x->api_version = xstrdup(src->api_version);
	x->command = xstrdup(src->command);
	spok_strv_copy(&x->args, &src->args);
	spok_strv_copy(&x->env, &src->env);
	x->install_hint = xstrdup(src->install_hint);
	x->provide_cluster_info = src->provide_cluster_info;
	x->timeout_ms = src->timeout_ms;
	x->max_output = src->max_output;
	return x;
}

static void blob_wipe(struct kube_blob *b)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->len);
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

void kube_exec_cred_free(struct kube_exec_cred *cred)
{
	if (cred == NULL)
		return;
	kube_secret_free(cred->token);
	blob_wipe(&cred->client_cert);
	blob_wipe(&cred->client_key);
	memset(cred, 0, sizeof(*cred));
}

bool kube_exec_cred_expired(const struct kube_exec_cred *cred, int64_t now)
{
	if (cred->token == NULL && cred->client_cert.data == NULL)
		return true;
	return cred->expiry != 0 && now >= cred->expiry - KUBE_EXEC_EXPIRY_SLACK_S;
}

/* ---- parsing the ExecCredential ---- */

static bool has_ctl(const char *p)
{
	for (; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return true;
	return false;
}

static void blob_from_str(struct kube_blob *b, const char *s)
{
	b->len = strlen(s);
	b->data = (unsigned char *)xstrdup(s);
}

/* Optional string member of status; error if present with another type. */
static int status_str(const json_t *st, const char *key, const char *where, const char **out,
		      struct spok_err *err)
{
	const json_t *v = json_object_get(st, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return spok_err_set(err, SPOK_EINVAL, "%s: the plugin's status.%s is not a string; "
				    "check the plugin", where, key);
	*out = json_string_value(v);
	if ((*out)[0] == '\0')
		*out = NULL;
	return 0;
}

static int check_header(const json_t *doc, const char *api_version, const char *where,
			struct spok_err *err)
{
	const char *av = json_string_value(json_object_get(doc, "apiVersion"));
	const char *kind = json_string_value(json_object_get(doc, "kind"));

	if (av == NULL || strcmp(av, api_version) != 0)
		return spok_err_set(err, SPOK_EINVAL, "%s: the plugin returned apiVersion \"%.80s\", "
				    "the kubeconfig asks for \"%s\"; set exec.apiVersion to what the "
				    "plugin speaks", where, av != NULL ? av : "", api_version);
	if (kind == NULL || strcmp(kind, "ExecCredential") != 0)
		return spok_err_set(err, SPOK_EINVAL, "%s: the plugin returned kind \"%.80s\", not "
				    "ExecCredential; check the plugin", where, kind != NULL ? kind : "");
	if (!json_is_object(json_object_get(doc, "status")))
		return spok_err_set(err, SPOK_EINVAL, "%s: the plugin returned no status; check the "
				    "plugin (is it logged in?)", where);
	return 0;
}

static int parse_status(const json_t *st, const char *where, struct kube_exec_cred *out,
			struct spok_err *err)
{
	const char *tok, *cert, *key, *exp;
	int result;

	result = status_str(st, "token", where, &tok, err);
	if (result == 0)
		result = status_str(st, "clientCertificateData", where, &cert, err);
	if (result == 0)
		result = status_str(st, "clientKeyData", where, &key, err);
	if (result == 0)
		result = status_str(st, "expirationTimestamp", where, &exp, err);
	if (result != 0)
		return result;
	if ((cert == NULL) != (key == NULL))
		return spok_err_set(err, SPOK_EINVAL, "%s: the plugin returned only one of "
				    "clientCertificateData and clientKeyData; check the plugin", where);
	if (tok == NULL && cert == NULL)
		return spok_err_set(err, SPOK_EINVAL, "%s: the plugin returned neither a token nor a "
				    "client certificate; check the plugin", where);
	if (tok != NULL && has_ctl(tok))
		return spok_err_set(err, SPOK_EINVAL, "%s: the plugin's token contains control "
				    "characters; check the plugin", where);
	if (exp != NULL && !spok_parse_rfc3339(exp, &out->expiry))
		return spok_err_set(err, SPOK_EINVAL, "%s: the plugin's status.expirationTimestamp "
				    "\"%.64s\" is not RFC 3339; check the plugin", where, exp);
	if (tok != NULL)
		out->token = xstrdup(tok);
	if (cert != NULL) {
		blob_from_str(&out->client_cert, cert);
		blob_from_str(&out->client_key, key);
	}
	return 0;
}

int kube_exec_parse(const char *text, size_t len, const char *api_version, const char *where,
		    struct kube_exec_cred *out, struct spok_err *err)
{
	json_error_t jerr;
	json_t *doc;
	int result;

	memset(out, 0, sizeof(*out));
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	/* jerr.text quotes the input, which may be a token: report the position only. */
	if (doc == NULL)
		return spok_err_set(err, SPOK_EINVAL, "%s: the plugin's output is not JSON (line %d, "
				    "column %d); check the plugin", where, jerr.line, jerr.column);
	if (!json_is_object(doc))
		result = spok_err_set(err, SPOK_EINVAL, "%s: the plugin's output is not a JSON object; "
				      "check the plugin", where);
	else
		result = check_header(doc, api_version, where, err);
	if (result == 0)
		result = parse_status(json_object_get(doc, "status"), where, out, err);
	kube__json_wipe(doc);
	json_decref(doc);
	if (result != 0)
		kube_exec_cred_free(out);
	return result;
}

/* ---- KUBERNETES_EXEC_INFO ---- */

static char *b64_encode(const unsigned char *p, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = xmalloc((n + 2) / 3 * 4 + 1), *o = out;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		*o++ = tab[(v >> 18) & 63];
		*o++ = tab[(v >> 12) & 63];
		*o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		*o++ = i + 2 < n ? tab[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static json_t *cluster_info(const struct kube_config *cfg)
{
	json_t *cl = json_object();

	json_object_set_new(cl, "server", json_string(cfg->server != NULL ? cfg->server : ""));
	if (cfg->ca.data != NULL) {
		char *b = b64_encode(cfg->ca.data, cfg->ca.len);

		json_object_set_new(cl, "certificate-authority-data", json_string(b));
		free(b);
	}
	if (cfg->insecure)
		json_object_set_new(cl, "insecure-skip-tls-verify", json_true());
	if (cfg->tls_server_name != NULL)
		json_object_set_new(cl, "tls-server-name", json_string(cfg->tls_server_name));
	return cl;
}

/* We never give the plugin a terminal (stdin is /dev/null), so interactive is false. */
static char *exec_info(const struct kube_config *cfg)
{
	json_t *spec = json_pack("{s:b}", "interactive", 0);
	json_t *doc;
	char *s;

	if (cfg->exec->provide_cluster_info)
		json_object_set_new(spec, "cluster", cluster_info(cfg));
	doc = json_pack("{s:s,s:s,s:o}", "apiVersion", cfg->exec->api_version,
			"kind", "ExecCredential", "spec", spec);
	s = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (s == NULL)
		abort(); /* only on OOM */
	return s;
}

static bool env_overridden(const char *entry, const struct spok_strv *env)
{
	const char *eq = strchr(entry, '=');
	size_t n = eq != NULL ? (size_t)(eq - entry) : strlen(entry);

	if (n == 20 && strncmp(entry, "KUBERNETES_EXEC_INFO", n) == 0)
		return true;
	for (size_t i = 0; i < env->len; i++)
		if (strncmp(env->items[i], entry, n) == 0 && env->items[i][n] == '=')
			return true;
	return false;
}

/* Our environment, then exec.env (which wins), then KUBERNETES_EXEC_INFO. */
static void build_env(const struct kube_config *cfg, struct spok_strv *out)
{
	char *info = exec_info(cfg);

	for (char **e = environ; e != NULL && *e != NULL; e++)
		if (!env_overridden(*e, &cfg->exec->env))
			spok_strv_push(out, *e);
	for (size_t i = 0; i < cfg->exec->env.len; i++)
		spok_strv_push(out, cfg->exec->env.items[i]);
	spok_strv_pushf(out, "KUBERNETES_EXEC_INFO=%s", info);
	free(info);
}

/* ---- running the plugin ---- */

/* Stdout of the plugin: grows by copying, and wipes what it leaves behind. */
struct out_buf {
	char *p;
	size_t len, cap, max;
};

static bool out_append(struct out_buf *b, const char *p, size_t n)
{
	if (n > b->max - b->len)
		return false;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap == 0 ? 4096 : b->cap;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		np = xmalloc(cap);
		if (b->len > 0)
			memcpy(np, b->p, b->len);
		if (b->p != NULL)
			explicit_bzero(b->p, b->cap);
		free(b->p);
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return true;
}

static void out_free(struct out_buf *b)
{
	if (b->p != NULL)
		explicit_bzero(b->p, b->cap);
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum run_end { RUN_EOF, RUN_TIMEOUT, RUN_TOO_BIG, RUN_IOERR };

/* Reads stdout until EOF, the deadline or the cap. */
static enum run_end read_chunks(int fd, struct out_buf *b, int64_t deadline, char *chunk,
				size_t size)
{
	for (;;) {
		struct pollfd pfd = {fd, POLLIN, 0};
		int64_t left = deadline - mono_ms();
		ssize_t n;
		int r;

		if (left <= 0)
			return RUN_TIMEOUT;
		r = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
		if (r < 0 && errno != EINTR)
			return RUN_IOERR;
		if (r <= 0)
			continue;
		n = read(fd, chunk, size);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return RUN_IOERR;
		if (n == 0)
			return RUN_EOF;
		if (!out_append(b, chunk, (size_t)n))
			return RUN_TOO_BIG;
	}
}

/* The chunk buffer held part of a token: wipe it on every way out. */
static enum run_end read_output(int fd, struct out_buf *b, int64_t deadline)
{
	char chunk[4096];
	enum run_end end = read_chunks(fd, b, deadline, chunk, sizeof(chunk));

	explicit_bzero(chunk, sizeof(chunk));
	return end;
}

/* Waits for the child until the deadline; kills it past that. Returns the wait status,
 * or -1 if it had to be killed. */
static int reap(pid_t pid, int64_t deadline)
{
	int status = 0;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -2;
		if (mono_ms() >= deadline)
			break;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return -1;
}

static int spawn_error(const struct kube_exec *x, int e, struct spok_err *err)
{
	if (e == ENOENT)
		return spok_err_set(err, SPOK_ENOTFOUND, "%s: plugin \"%s\" not found; %s", x->where,
				    x->command, x->install_hint != NULL ? x->install_hint
				    : "install it or fix exec.command (and PATH)");
	return spok_err_set(err, SPOK_EIO, "%s: cannot run plugin \"%s\": %s; check exec.command",
			    x->where, x->command, strerror(e));
}

static int start_child(const struct kube_exec *x, char **envp, int out_fd, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, def;
	struct spok_strv argv = {0};
	int rc;

	spok_strv_push(&argv, x->command);
	for (size_t i = 0; i < x->args.len; i++)
		spok_strv_push(&argv, x->args.items[i]);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	/* The daemon ignores SIGPIPE and libuv may block signals: the plugin gets defaults. */
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawnp(pid, x->command, &fa, &attr, argv.items, envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	spok_strv_free(&argv);
	return rc;
}

static int finish_error(const struct kube_exec *x, enum run_end end, int status, long timeout_ms,
			size_t max, struct spok_err *err)
{
	if (end == RUN_TOO_BIG)
		return spok_err_set(err, SPOK_EINVAL, "%s: plugin \"%s\" wrote more than %zu bytes; "
				    "check the plugin", x->where, x->command, max);
	if (end == RUN_TIMEOUT || status == -1)
		return spok_err_set(err, SPOK_ETIMEOUT, "%s: plugin \"%s\" did not finish within %ld ms "
				    "and was killed; check that it can run without a terminal",
				    x->where, x->command, timeout_ms);
	if (end == RUN_IOERR || status == -2)
		return spok_err_set(err, SPOK_EIO, "%s: reading plugin \"%s\" failed; try again",
				    x->where, x->command);
	if (WIFSIGNALED(status))
		return spok_err_set(err, SPOK_EIO, "%s: plugin \"%s\" was killed by signal %d; see "
				    "its messages above", x->where, x->command, WTERMSIG(status));
	return spok_err_set(err, SPOK_EIO, "%s: plugin \"%s\" exited with status %d; see its "
			    "messages above", x->where, x->command, WEXITSTATUS(status));
}

int kube_exec_run(const struct kube_config *cfg, struct kube_exec_cred *out, struct spok_err *err)
{
	const struct kube_exec *x = cfg->exec;
	long timeout_ms = x->timeout_ms > 0 ? x->timeout_ms : KUBE_EXEC_TIMEOUT_MS;
	struct out_buf b = {NULL, 0, 0, x->max_output > 0 ? x->max_output : KUBE_EXEC_MAX_OUTPUT};
	struct spok_strv env = {0};
	enum run_end end;
	int fds[2], rc, status, result;
	int64_t deadline;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	if (pipe2(fds, O_CLOEXEC) != 0)
		return spok_err_set(err, SPOK_EIO, "%s: cannot create a pipe: %s", x->where,
				    strerror(errno));
	build_env(cfg, &env);
	rc = start_child(x, env.items, fds[1], &pid);
	strv_wipe_free(&env);
	close(fds[1]);
	if (rc != 0) {
		close(fds[0]);
		return spawn_error(x, rc, err);
	}
	deadline = mono_ms() + timeout_ms;
	end = read_output(fds[0], &b, deadline);
	close(fds[0]);
	status = reap(pid, end == RUN_EOF ? deadline : 0);
	if (end == RUN_EOF && status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		result = kube_exec_parse(b.p != NULL ? b.p : "", b.len, x->api_version, x->where, out,
					 err);
	else
		result = finish_error(x, end, status, timeout_ms, b.max, err);
	out_free(&b);
	return result;
}
