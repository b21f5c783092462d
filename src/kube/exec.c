/* exec.c - exec credential plugins: run one on a libuv loop, parse its ExecCredential. */
#include "kube/exec.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

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

enum run_end { RUN_NONE, RUN_EOF, RUN_TOO_BIG, RUN_IOERR, RUN_SPAWN };

/* One run of a plugin on a loop. It ends when both the process has exited and its stdout is
 * closed (or when it could not start); the timer kills the process group past the timeout. */
struct kube_exec_job {
	uv_process_t proc;
	uv_pipe_t out;
	uv_timer_t timer;
	int open;                /* handles not closed yet; the job is freed at 0 */
	bool spawned, exited, out_open, timed_out, cancelled, finished;
	enum run_end end;
	int spawn_err;           /* errno of a failed start */
	int64_t exit_status;
	int term_signal;
	struct out_buf b;
	char chunk[4096];        /* the read buffer: holds part of a token, wiped after each read */
	struct kube_exec *x;     /* a copy: the caller's config may go away */
	long timeout_ms;
	kube_exec_done_cb cb;
	void *data;
};

static void job_closed(uv_handle_t *h)
{
	struct kube_exec_job *j = h->data;

	if (--j->open > 0)
		return;
	out_free(&j->b);
	explicit_bzero(j->chunk, sizeof(j->chunk));
	kube_exec_free(j->x);
	free(j);
}

/* The plugin runs in its own session: its pid is its process group, and everything it
 * started goes with it. Only while the group can still have members (the plugin has not
 * been reaped, or something still holds its stdout). */
static void job_kill(struct kube_exec_job *j)
{
	if (j->spawned && (!j->exited || j->out_open))
		kill(-j->proc.pid, SIGKILL);
}

static void job_close_out(struct kube_exec_job *j)
{
	if (!j->out_open)
		return;
	j->out_open = false;
	uv_read_stop((uv_stream_t *)&j->out);
	uv_close((uv_handle_t *)&j->out, job_closed);
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

static int finish_error(const struct kube_exec_job *j, struct spok_err *err)
{
	const struct kube_exec *x = j->x;

	if (j->end == RUN_SPAWN)
		return spawn_error(x, j->spawn_err, err);
	if (j->end == RUN_TOO_BIG)
		return spok_err_set(err, SPOK_EINVAL, "%s: plugin \"%s\" wrote more than %zu bytes; "
				    "check the plugin", x->where, x->command, j->b.max);
	if (j->timed_out)
		return spok_err_set(err, SPOK_ETIMEOUT, "%s: plugin \"%s\" did not finish within %ld ms "
				    "and was killed; check that it can run without a terminal",
				    x->where, x->command, j->timeout_ms);
	if (j->end == RUN_IOERR)
		return spok_err_set(err, SPOK_EIO, "%s: reading plugin \"%s\" failed; try again",
				    x->where, x->command);
	if (j->term_signal != 0)
		return spok_err_set(err, SPOK_EIO, "%s: plugin \"%s\" was killed by signal %d; see "
				    "its messages above", x->where, x->command, j->term_signal);
	return spok_err_set(err, SPOK_EIO, "%s: plugin \"%s\" exited with status %lld; see its "
			    "messages above", x->where, x->command, (long long)j->exit_status);
}

static void job_report(struct kube_exec_job *j)
{
	struct kube_exec_cred cred;
	struct spok_err err = {0};
	int code;

	memset(&cred, 0, sizeof(cred));
	if (j->end == RUN_EOF && !j->timed_out && j->term_signal == 0 && j->exit_status == 0)
		code = kube_exec_parse(j->b.p != NULL ? j->b.p : "", j->b.len, j->x->api_version,
				       j->x->where, &cred, &err);
	else
		code = finish_error(j, &err);
	out_free(&j->b);
	j->cb(j->data, code, code == 0 ? &cred : NULL, code == 0 ? "" : err.msg);
	kube_exec_cred_free(&cred);
}

/* Called after every event: once the process is gone and its stdout closed, the job
 * answers (unless cancelled) and closes its remaining handles. */
static void job_maybe_finish(struct kube_exec_job *j)
{
	if (j->finished || (j->spawned && !j->exited) || j->out_open)
		return;
	j->finished = true;
	uv_close((uv_handle_t *)&j->timer, job_closed);
	uv_close((uv_handle_t *)&j->proc, job_closed);
	if (!j->cancelled)
		job_report(j);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
	struct kube_exec_job *j = p->data;

	j->exited = true;
	j->exit_status = status;
	j->term_signal = sig;
	job_maybe_finish(j);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct kube_exec_job *j = h->data;

	(void)hint;
	*buf = uv_buf_init(j->chunk, sizeof(j->chunk));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct kube_exec_job *j = s->data;

	if (n > 0) {
		bool fits = out_append(&j->b, buf->base, (size_t)n);

		explicit_bzero(buf->base, (size_t)n);
		if (fits)
			return;
		j->end = RUN_TOO_BIG;
		job_kill(j);
	} else if (n == UV_EOF) {
		if (j->end == RUN_NONE)
			j->end = RUN_EOF;
	} else if (n < 0) {
		j->end = RUN_IOERR;
		job_kill(j);
	} else {
		return; /* 0: nothing this time */
	}
	job_close_out(j);
	job_maybe_finish(j);
}

static void on_timer(uv_timer_t *t)
{
	struct kube_exec_job *j = t->data;

	if (j->end != RUN_SPAWN)
		j->timed_out = true;
	job_kill(j);
	job_close_out(j);
	job_maybe_finish(j);
}

static void job_spawn(struct kube_exec_job *j, uv_loop_t *loop, const struct kube_config *cfg)
{
	struct spok_strv argv = {0}, env = {0};
	uv_stdio_container_t stdio[3];
	uv_process_options_t po;
	int rc;

	spok_strv_push(&argv, j->x->command);
	for (size_t i = 0; i < j->x->args.len; i++)
		spok_strv_push(&argv, j->x->args.items[i]);
	build_env(cfg, &env);
	memset(&po, 0, sizeof(po));
	memset(stdio, 0, sizeof(stdio));
	stdio[0].flags = UV_IGNORE; /* /dev/null: the plugin never gets a terminal */
	stdio[1].flags = (uv_stdio_flags)(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
	stdio[1].data.stream = (uv_stream_t *)&j->out;
	stdio[2].flags = UV_INHERIT_FD; /* its prompts and errors, as kubectl shows them */
	stdio[2].data.fd = 2;
	po.file = j->x->command;
	po.args = argv.items;
	po.env = env.items;
	po.stdio = stdio;
	po.stdio_count = 3;
	po.exit_cb = on_exit_cb;
	/* A new session: the plugin's pid is its process group, which the timeout kills whole.
	 * libuv resets signal dispositions and the mask in the child (the daemon ignores
	 * SIGPIPE). */
	po.flags = UV_PROCESS_DETACHED;
	rc = uv_spawn(loop, &j->proc, &po);
	strv_wipe_free(&env);
	spok_strv_free(&argv);
	if (rc != 0) {
		j->end = RUN_SPAWN;
		j->spawn_err = -rc;
		uv_close((uv_handle_t *)&j->out, job_closed);
		j->out_open = false;
		uv_timer_start(&j->timer, on_timer, 0, 0); /* answer from the loop, not from here */
		return;
	}
	j->spawned = true;
	uv_read_start((uv_stream_t *)&j->out, on_alloc, on_read);
	uv_timer_start(&j->timer, on_timer, (uint64_t)j->timeout_ms, 0);
}

struct kube_exec_job *kube_exec_start(uv_loop_t *loop, const struct kube_config *cfg,
				      kube_exec_done_cb cb, void *data)
{
	struct kube_exec_job *j = xcalloc(1, sizeof(*j));

	j->x = kube_exec_copy(cfg->exec);
	j->timeout_ms = j->x->timeout_ms > 0 ? j->x->timeout_ms : KUBE_EXEC_TIMEOUT_MS;
	j->b.max = j->x->max_output > 0 ? j->x->max_output : KUBE_EXEC_MAX_OUTPUT;
	j->cb = cb;
	j->data = data;
	uv_pipe_init(loop, &j->out, 0);
	uv_timer_init(loop, &j->timer);
	j->proc.data = j->out.data = j->timer.data = j;
	j->open = 3;
	j->out_open = true;
	job_spawn(j, loop, cfg);
	return j;
}

void kube_exec_cancel(struct kube_exec_job *j)
{
	if (j == NULL || j->cancelled || j->finished)
		return;
	j->cancelled = true;
	job_kill(j);
	job_close_out(j);
	job_maybe_finish(j);
}

/* ---- synchronous use ---- */

struct sync_run {
	struct kube_exec_cred *out;
	struct spok_err *err;
	int code;
};

static void sync_done(void *data, int code, struct kube_exec_cred *cred, const char *msg)
{
	struct sync_run *s = data;

	s->code = code;
	if (code == 0) {
		*s->out = *cred;
		memset(cred, 0, sizeof(*cred));
	} else {
		spok_err_set(s->err, code, "%s", msg);
	}
}

int kube_exec_run(const struct kube_config *cfg, struct kube_exec_cred *out, struct spok_err *err)
{
	struct sync_run s = {out, err, SPOK_EINTERNAL};
	uv_loop_t loop;

	memset(out, 0, sizeof(*out));
	uv_loop_init(&loop);
	kube_exec_start(&loop, cfg, sync_done, &s);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return s.code;
}
