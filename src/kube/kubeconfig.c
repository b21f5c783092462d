/* kubeconfig.c - kubeconfig loading, merging and resolution; in-cluster config. */
#include "kube/kubeconfig.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base64.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/xalloc.h"
#include "kube/exec.h"
#include "kube/internal.h"
#include "yamljson/yamljson.h"

void kube_secret_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

void kube__json_wipe(json_t *doc)
{
	const char *key;
	json_t *v;
	size_t i;

	/* Another holder (merge_list shares items between documents) still needs the value. */
	if (doc == NULL || doc->refcount != 1)
		return;
	switch (json_typeof(doc)) {
	case JSON_STRING:
		/* Every string, not a list of keys: users[].user carries token, client-key-data and
		 * password, but also auth-provider config and exec env with secrets of their own. */
		explicit_bzero((char *)json_string_value(doc), json_string_length(doc));
		break;
	case JSON_OBJECT:
		json_object_foreach(doc, key, v)
			kube__json_wipe(v);
		break;
	case JSON_ARRAY:
		json_array_foreach(doc, i, v)
			kube__json_wipe(v);
		break;
	default:
		break;
	}
}

/* Wipes, then drops the caller's reference. */
static void secret_decref(json_t *doc)
{
	kube__json_wipe(doc);
	json_decref(doc);
}

static void blob_free(struct kube_blob *b)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->len);
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

void kube_config_free(struct kube_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->source);
	free(cfg->context);
	free(cfg->server);
	free(cfg->namespace);
	free(cfg->tls_server_name);
	blob_free(&cfg->ca);
	blob_free(&cfg->client_cert);
	blob_free(&cfg->client_key);
	kube_secret_free(cfg->token);
	free(cfg->token_file);
	kube_exec_free(cfg->exec);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- small helpers ---- */

/* A bearer token goes into an HTTP header: a control byte (CR/LF above all) would end it
 * early and inject headers of its own. */
static bool has_ctl(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] == 0x7f)
			return true;
	return false;
}

static int read_blob_file(const char *path, size_t max, struct kube_blob *out, struct spok_err *err)
{
	struct spok_buf b;
	int result;

	spok_buf_init(&b, max);
	result = spok_buf_read_file(&b, path, err);
	if (result != 0) {
		if (b.data != NULL)
			explicit_bzero(b.data, b.cap);
		spok_buf_free(&b);
		return result;
	}
	out->len = b.len;
	out->data = (unsigned char *)spok_buf_detach(&b);
	return 0;
}

/* Text -> JSON: JSON documents are parsed directly (JSON is YAML), anything else goes
 * through the spec module's YAML loader when it is built in. */
static json_t *text_to_json(const char *text, size_t len, const char *path, struct spok_err *err)
{
	size_t i = 0;
	json_error_t jerr;
	json_t *doc;

	while (i < len && isspace((unsigned char)text[i]))
		i++;
	if (i == len) {
		spok_err_set(err, SPOK_EINVAL, "%s: the file is empty; point KUBECONFIG at a kubeconfig", path);
		return NULL;
	}
	if (text[i] == '{') {
		doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
		if (doc == NULL)
			spok_err_set(err, SPOK_EINVAL, "%s:%d:%d: invalid JSON: %s; fix the kubeconfig",
				     path, jerr.line, jerr.column, jerr.text);
		return doc;
	}
	return spok_yaml_to_json(text, len, path, err);
}

/* ---- path rebasing (per file, before merging) ---- */

static void rebase_field(json_t *obj, const char *key, const char *dir)
{
	json_t *v = json_object_get(obj, key);
	const char *s;

	if (!json_is_string(v))
		return;
	s = json_string_value(v);
	if (s[0] == '\0' || s[0] == '/')
		return;
	/* Build the new value before replacing: s is borrowed from the old one. */
	json_object_set_new(obj, key, json_sprintf("%s/%s", dir, s));
}

static void rebase_list(json_t *doc, const char *list, const char *inner, const char *const *keys,
			const char *dir)
{
	json_t *arr = json_object_get(doc, list), *item;
	size_t i;

	if (!json_is_array(arr))
		return;
	json_array_foreach(arr, i, item) {
		json_t *o = json_object_get(item, inner);

		if (!json_is_object(o))
			continue;
		for (size_t k = 0; keys[k] != NULL; k++)
			rebase_field(o, keys[k], dir);
	}
}

/* exec.command: only a relative path with a '/' is a file reference; a bare name is a
 * PATH lookup at run time (kubectl's rule). */
static void rebase_exec_commands(json_t *doc, const char *dir)
{
	json_t *arr = json_object_get(doc, "users"), *item;
	size_t i;

	if (!json_is_array(arr))
		return;
	json_array_foreach(arr, i, item) {
		json_t *x = json_object_get(json_object_get(item, "user"), "exec");
		const char *cmd = json_string_value(json_object_get(x, "command"));

		if (cmd != NULL && cmd[0] != '/' && strchr(cmd, '/') != NULL)
			rebase_field(x, "command", dir);
	}
}

/* kubectl resolves relative file references against the directory of the file that
 * holds them; do that before merging so each file keeps its own base. */
static void rebase_paths(json_t *doc, const char *path)
{
	static const char *const cluster_keys[] = {"certificate-authority", NULL};
	static const char *const user_keys[] = {"client-certificate", "client-key", "tokenFile", NULL};
	const char *slash = strrchr(path, '/');
	char *dir = slash == NULL ? xstrdup(".") : xstrndup(path, (size_t)(slash - path));

	if (dir[0] == '\0') {
		free(dir);
		dir = xstrdup("");
	}
	rebase_list(doc, "clusters", "cluster", cluster_keys, dir);
	rebase_list(doc, "users", "user", user_keys, dir);
	rebase_exec_commands(doc, dir);
	free(dir);
}

/* ---- merging ---- */

static json_t *find_named(const json_t *arr, const char *name)
{
	size_t i;
	json_t *item;

	if (!json_is_array(arr))
		return NULL;
	json_array_foreach(arr, i, item) {
		const char *n = json_string_value(json_object_get(item, "name"));

		if (n != NULL && strcmp(n, name) == 0)
			return item;
	}
	return NULL;
}

static void merge_list(json_t *dst, const json_t *src, const char *key)
{
	json_t *darr = json_object_get(dst, key), *item;
	const json_t *sarr = json_object_get(src, key);
	size_t i;

	if (!json_is_array(sarr))
		return;
	if (!json_is_array(darr)) {
		darr = json_array();
		json_object_set_new(dst, key, darr);
	}
	json_array_foreach(sarr, i, item) {
		const char *n = json_string_value(json_object_get(item, "name"));

		if (n == NULL || find_named(darr, n) == NULL)
			json_array_append(darr, item);
	}
}

/* First definition wins, as kubectl does for $KUBECONFIG lists. */
static void merge_doc(json_t *dst, const json_t *src)
{
	const char *cur = json_string_value(json_object_get(dst, "current-context"));
	const char *scur = json_string_value(json_object_get(src, "current-context"));

	if ((cur == NULL || cur[0] == '\0') && scur != NULL && scur[0] != '\0')
		json_object_set_new(dst, "current-context", json_string(scur));
	merge_list(dst, src, "clusters");
	merge_list(dst, src, "users");
	merge_list(dst, src, "contexts");
}

/* ---- resolution ---- */

struct ctx {
	const char *src;
	struct spok_err *err;
};

/* Optional string field: NULL if absent or null; error if another type. */
static int opt_str(struct ctx *x, const json_t *o, const char *where, const char *key,
		   const char **out)
{
	const json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return spok_err_set(x->err, SPOK_EINVAL, "%s: %s.%s: must be a string; fix the kubeconfig",
				    x->src, where, key);
	*out = json_string_value(v);
	if ((*out)[0] == '\0')
		*out = NULL;
	return 0;
}

static int opt_bool(struct ctx *x, const json_t *o, const char *where, const char *key, bool *out)
{
	const json_t *v = json_object_get(o, key);
	const char *s = json_string_value(v);

	*out = false;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return 0;
	}
	if (s != NULL && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)) {
		*out = s[0] == 't';
		return 0;
	}
	return spok_err_set(x->err, SPOK_EINVAL, "%s: %s.%s: must be true or false; fix the kubeconfig",
			    x->src, where, key);
}

/* Looks up list[name].inner, e.g. clusters[prod].cluster. */
static int lookup(struct ctx *x, const json_t *doc, const char *list, const char *inner,
		  const char *name, const json_t **out)
{
	const json_t *item = find_named(json_object_get(doc, list), name);

	if (item == NULL)
		return spok_err_set(x->err, SPOK_EINVAL, "%s: %s: no entry named \"%s\"; add it or pick "
				    "another context", x->src, list, name);
	*out = json_object_get(item, inner);
	if (!json_is_object(*out))
		return spok_err_set(x->err, SPOK_EINVAL, "%s: %s[%s].%s: missing or not a mapping; "
				    "fix the kubeconfig", x->src, list, name, inner);
	return 0;
}

/* A PEM either inline (<key>-data, base64) or as a file path (<key>). */
static int pem_field(struct ctx *x, const json_t *o, const char *where, const char *key,
		     struct kube_blob *out)
{
	char dkey[64];
	const char *data, *file;
	int result;

	snprintf(dkey, sizeof(dkey), "%s-data", key);
	result = opt_str(x, o, where, dkey, &data);
	if (result == 0)
		result = opt_str(x, o, where, key, &file);
	if (result != 0)
		return result;
	if (data != NULL) {
		if (!spok_base64_decode(data, SPOK_BASE64_LINES, &out->data, &out->len))
			return spok_err_set(x->err, SPOK_EINVAL, "%s: %s.%s: not valid base64; re-encode "
					    "the PEM with `base64 -w0`", x->src, where, dkey);
		return 0;
	}
	if (file != NULL) {
		result = read_blob_file(file, KUBE_CONFIG_MAX_FILE, out, x->err);
		if (result != 0)
			return spok_err_prefix(x->err, "%s: %s.%s", x->src, where, key);
	}
	return 0;
}

static int resolve_cluster(struct ctx *x, const json_t *cl, const char *name, struct kube_config *cfg)
{
	char where[300];
	const char *server, *tsn;
	size_t n;
	int result;

	snprintf(where, sizeof(where), "clusters[%s].cluster", name);
	result = opt_str(x, cl, where, "server", &server);
	if (result == 0 && server == NULL)
		result = spok_err_set(x->err, SPOK_EINVAL, "%s: %s.server: missing; set the API server "
				      "URL (https://host:port)", x->src, where);
	if (result == 0 && strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0)
		result = spok_err_set(x->err, SPOK_EINVAL, "%s: %s.server: \"%s\" is not an http(s) "
				      "URL; use https://host:port", x->src, where, server);
	if (result == 0)
		result = opt_str(x, cl, where, "tls-server-name", &tsn);
	if (result == 0)
		result = opt_bool(x, cl, where, "insecure-skip-tls-verify", &cfg->insecure);
	if (result == 0)
		result = pem_field(x, cl, where, "certificate-authority", &cfg->ca);
	if (result != 0)
		return result;
	if (json_object_get(cl, "proxy-url") != NULL)
		return spok_err_set(x->err, SPOK_EINVAL, "%s: %s.proxy-url: proxies are not supported; "
				    "remove it and use HTTPS_PROXY", x->src, where);
	n = strlen(server);
	while (n > 0 && server[n - 1] == '/')
		n--;
	if (n <= strlen(strncmp(server, "https://", 8) == 0 ? "https://" : "http://"))
		return spok_err_set(x->err, SPOK_EINVAL, "%s: %s.server: \"%s\" names no host; use "
				    "https://host:port", x->src, where, server);
	cfg->server = xstrndup(server, n);
	cfg->tls_server_name = xstrdup(tsn);
	return 0;
}

static int exec_args(struct ctx *x, const json_t *ex, const char *where, struct kube_exec *out)
{
	const json_t *arr = json_object_get(ex, "args"), *v;
	size_t i;

	if (arr == NULL || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return spok_err_set(x->err, SPOK_EINVAL, "%s: %s.args: must be a list of strings; fix "
				    "the kubeconfig", x->src, where);
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v))
			return spok_err_set(x->err, SPOK_EINVAL, "%s: %s.args[%zu]: must be a string; fix "
					    "the kubeconfig", x->src, where, i);
		spok_strv_push(&out->args, json_string_value(v));
	}
	return 0;
}

static int exec_env(struct ctx *x, const json_t *ex, const char *where, struct kube_exec *out)
{
	const json_t *arr = json_object_get(ex, "env"), *v;
	size_t i;

	if (arr == NULL || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return spok_err_set(x->err, SPOK_EINVAL, "%s: %s.env: must be a list of {name, value}; "
				    "fix the kubeconfig", x->src, where);
	json_array_foreach(arr, i, v) {
		const char *n = json_string_value(json_object_get(v, "name"));
		const char *val = json_string_value(json_object_get(v, "value"));

		if (n == NULL || n[0] == '\0' || strchr(n, '=') != NULL || val == NULL)
			return spok_err_set(x->err, SPOK_EINVAL, "%s: %s.env[%zu]: needs a string name "
					    "(without '=') and a string value; fix the kubeconfig",
					    x->src, where, i);
		spok_strv_pushf(&out->env, "%s=%s", n, val);
	}
	return 0;
}

static int exec_mode(struct ctx *x, const json_t *ex, const char *where, struct kube_exec *out)
{
	const char *av, *mode;
	int result = opt_str(x, ex, where, "apiVersion", &av);

	if (result == 0)
		result = opt_str(x, ex, where, "interactiveMode", &mode);
	if (result != 0)
		return result;
	if (av == NULL || (strcmp(av, KUBE_EXEC_V1) != 0 && strcmp(av, KUBE_EXEC_V1BETA1) != 0))
		return spok_err_set(x->err, SPOK_EINVAL, "%s: %s.apiVersion: \"%.80s\" is not supported; "
				    "use " KUBE_EXEC_V1 " or " KUBE_EXEC_V1BETA1, x->src, where,
				    av != NULL ? av : "");
	/* spok never gives the plugin a terminal: IfAvailable and Always run as Never does. */
	if (mode != NULL && strcmp(mode, "Never") != 0 && strcmp(mode, "IfAvailable") != 0 &&
	    strcmp(mode, "Always") != 0)
		return spok_err_set(x->err, SPOK_EINVAL, "%s: %s.interactiveMode: \"%.40s\" is not one "
				    "of Never, IfAvailable, Always; fix the kubeconfig", x->src, where,
				    mode);
	out->api_version = xstrdup(av);
	return 0;
}

static int resolve_exec(struct ctx *x, const json_t *u, const char *user_where,
			struct kube_config *cfg)
{
	const json_t *ex = json_object_get(u, "exec");
	struct kube_exec *out = xcalloc(1, sizeof(*out));
	const char *cmd = NULL, *hint = NULL;
	char where[340];
	int result = 0;

	snprintf(where, sizeof(where), "%s.exec", user_where);
	if (!json_is_object(ex))
		result = spok_err_set(x->err, SPOK_EINVAL, "%s: %s: must be a mapping; fix the "
				      "kubeconfig", x->src, where);
	if (result == 0 && (json_object_get(u, "token") != NULL ||
			    json_object_get(u, "tokenFile") != NULL ||
			    json_object_get(u, "client-certificate") != NULL ||
			    json_object_get(u, "client-certificate-data") != NULL))
		result = spok_err_set(x->err, SPOK_EINVAL, "%s: %s: exec together with a token or client "
				      "certificate is ambiguous; keep only one", x->src, user_where);
	if (result == 0)
		result = opt_str(x, ex, where, "command", &cmd);
	if (result == 0 && cmd == NULL)
		result = spok_err_set(x->err, SPOK_EINVAL, "%s: %s.command: missing; name the plugin "
				      "(e.g. aws)", x->src, where);
	if (result == 0)
		result = exec_mode(x, ex, where, out);
	if (result == 0)
		result = opt_str(x, ex, where, "installHint", &hint);
	if (result == 0)
		result = opt_bool(x, ex, where, "provideClusterInfo", &out->provide_cluster_info);
	if (result == 0)
		result = exec_args(x, ex, where, out);
	if (result == 0)
		result = exec_env(x, ex, where, out);
	if (result != 0) {
		kube_exec_free(out);
		return result;
	}
	out->where = xasprintf("%s: %s", x->src, where);
	out->command = xstrdup(cmd);
	out->install_hint = xstrdup(hint);
	cfg->exec = out;
	return 0;
}

static int resolve_user(struct ctx *x, const json_t *u, const char *name, struct kube_config *cfg)
{
	char where[300];
	const char *token, *token_file;
	int result;

	snprintf(where, sizeof(where), "users[%s].user", name);
	if (json_object_get(u, "exec") != NULL)
		return resolve_exec(x, u, where, cfg);
	if (json_object_get(u, "auth-provider") != NULL)
		return spok_err_set(x->err, SPOK_EINVAL, "%s: %s.auth-provider: legacy auth providers are "
				    "not supported; use a token or client certificate", x->src, where);
	if (json_object_get(u, "username") != NULL || json_object_get(u, "password") != NULL)
		return spok_err_set(x->err, SPOK_EINVAL, "%s: %s: basic auth (username/password) is not "
				    "supported; use a token or client certificate", x->src, where);
	result = pem_field(x, u, where, "client-certificate", &cfg->client_cert);
	if (result == 0)
		result = pem_field(x, u, where, "client-key", &cfg->client_key);
	if (result == 0 && (cfg->client_cert.data == NULL) != (cfg->client_key.data == NULL))
		result = spok_err_set(x->err, SPOK_EINVAL, "%s: %s: client-certificate and client-key "
				      "must be set together; add the missing one", x->src, where);
	if (result == 0)
		result = opt_str(x, u, where, "token", &token);
	if (result == 0)
		result = opt_str(x, u, where, "tokenFile", &token_file);
	if (result != 0)
		return result;
	if (token != NULL && has_ctl((const unsigned char *)token, strlen(token)))
		return spok_err_set(x->err, SPOK_EINVAL, "%s: %s.token: contains control characters; "
				    "write the token on one line", x->src, where);
	if (token != NULL)
		cfg->token = xstrdup(token);
	else if (token_file != NULL)
		cfg->token_file = xstrdup(token_file);
	return 0;
}

static int pick_context(struct ctx *x, const json_t *doc, const char *context, const char **out)
{
	const char *cur = NULL;
	int result;

	if (context != NULL && context[0] != '\0') {
		*out = context;
		return 0;
	}
	if (!json_is_object(doc))
		return spok_err_set(x->err, SPOK_EINVAL, "%s: not a kubeconfig (expected a mapping at "
				    "the top); fix the file", x->src);
	result = opt_str(x, doc, "kubeconfig", "current-context", &cur);
	if (result != 0)
		return result;
	if (cur == NULL)
		return spok_err_set(x->err, SPOK_EINVAL, "%s: current-context: not set; set it with "
				    "`kubectl config use-context` or pass a context", x->src);
	*out = cur;
	return 0;
}

int kube_config_from_json(struct kube_config *cfg, const json_t *doc, const char *source,
			  const char *context, struct spok_err *err)
{
	struct ctx x = {source, err};
	const json_t *c = NULL, *cl = NULL, *u = NULL;
	const char *name = NULL, *cluster = NULL, *user = NULL, *ns = NULL;
	char where[300];
	int result;

	memset(cfg, 0, sizeof(*cfg));
	result = pick_context(&x, doc, context, &name);
	if (result == 0)
		result = lookup(&x, doc, "contexts", "context", name, &c);
	snprintf(where, sizeof(where), "contexts[%s].context", name != NULL ? name : "");
	if (result == 0)
		result = opt_str(&x, c, where, "cluster", &cluster);
	if (result == 0)
		result = opt_str(&x, c, where, "user", &user);
	if (result == 0)
		result = opt_str(&x, c, where, "namespace", &ns);
	if (result == 0 && cluster == NULL)
		result = spok_err_set(err, SPOK_EINVAL, "%s: %s.cluster: missing; name a cluster",
				      source, where);
	if (result == 0)
		result = lookup(&x, doc, "clusters", "cluster", cluster, &cl);
	if (result == 0)
		result = resolve_cluster(&x, cl, cluster, cfg);
	if (result == 0 && user != NULL)
		result = lookup(&x, doc, "users", "user", user, &u);
	if (result == 0 && user != NULL)
		result = resolve_user(&x, u, user, cfg);
	if (result != 0) {
		kube_config_free(cfg);
		return result;
	}
	cfg->source = xstrdup(source);
	cfg->context = xstrdup(name);
	cfg->namespace = xstrdup(ns != NULL ? ns : "default");
	return 0;
}

/* Reads and converts one file, with relative paths rebased onto its directory. */
static json_t *load_file(const char *path, struct spok_err *err)
{
	struct spok_buf b;
	json_t *doc = NULL;

	spok_buf_init(&b, KUBE_CONFIG_MAX_FILE);
	if (spok_buf_read_file(&b, path, err) == 0)
		doc = text_to_json(b.data != NULL ? b.data : "", b.len, path, err);
	if (b.data != NULL)
		explicit_bzero(b.data, b.len);
	spok_buf_free(&b);
	if (doc != NULL && !json_is_object(doc)) {
		spok_err_set(err, SPOK_EINVAL, "%s: not a kubeconfig (expected a mapping at the top); "
			     "fix the file", path);
		secret_decref(doc);
		return NULL;
	}
	if (doc != NULL)
		rebase_paths(doc, path);
	return doc;
}

int kube_config_parse(struct kube_config *cfg, const char *text, size_t len, const char *path,
		      const char *context, struct spok_err *err)
{
	json_t *doc;
	int result;

	memset(cfg, 0, sizeof(*cfg));
	if (len > KUBE_CONFIG_MAX_FILE)
		return spok_err_set(err, SPOK_EINVAL, "%s: larger than %zu bytes; is this a kubeconfig?",
				    path, KUBE_CONFIG_MAX_FILE);
	doc = text_to_json(text, len, path, err);
	if (doc == NULL)
		return SPOK_EINVAL;
	if (!json_is_object(doc)) {
		secret_decref(doc);
		return spok_err_set(err, SPOK_EINVAL, "%s: not a kubeconfig (expected a mapping at the "
				    "top); fix the file", path);
	}
	rebase_paths(doc, path);
	result = kube_config_from_json(cfg, doc, path, context, err);
	secret_decref(doc);
	return result;
}

/* Merges the ':'-separated list; missing files are skipped as kubectl does, but at least
 * one must exist. */
static int load_list(const char *list, json_t **out, struct spok_err *err)
{
	json_t *merged = json_object();
	char *copy = xstrdup(list), *p = copy;
	int loaded = 0, result = 0;

	while (p != NULL && result == 0) {
		char *sep = strchr(p, ':');
		json_t *doc;

		if (sep != NULL)
			*sep = '\0';
		if (p[0] != '\0' && access(p, F_OK) == 0) {
			doc = load_file(p, err);
			if (doc == NULL)
				result = SPOK_EINVAL;
			else {
				merge_doc(merged, doc);
				secret_decref(doc);
				loaded++;
			}
		}
		p = sep != NULL ? sep + 1 : NULL;
	}
	free(copy);
	if (result == 0 && loaded == 0)
		result = spok_err_set(err, SPOK_EINVAL, "KUBECONFIG: none of the files in \"%s\" exist; "
				      "fix KUBECONFIG or pass --kubeconfig", list);
	if (result != 0) {
		secret_decref(merged);
		return result;
	}
	*out = merged;
	return 0;
}

int kube_config_load(struct kube_config *cfg, const char *path, const char *context,
		     struct spok_err *err)
{
	const char *env = getenv("KUBECONFIG");
	const char *home = getenv("HOME");
	char *def = NULL;
	json_t *doc = NULL;
	const char *source;
	int result;

	memset(cfg, 0, sizeof(*cfg));
	if (path != NULL) {
		source = path;
		doc = load_file(path, err);
		result = doc != NULL ? 0 : (err != NULL ? err->code : SPOK_EINVAL);
	} else if (env != NULL && env[0] != '\0') {
		source = env;
		result = load_list(env, &doc, err);
	} else {
		def = xasprintf("%s/.kube/config", home != NULL ? home : "");
		source = def;
		doc = load_file(def, err);
		result = doc != NULL ? 0 : (err != NULL ? err->code : SPOK_EINVAL);
	}
	if (result == 0)
		result = kube_config_from_json(cfg, doc, source, context, err);
	secret_decref(doc);
	free(def);
	return result;
}

/* ---- tokens and in-cluster ---- */

int kube_read_token_file(const char *path, char **out, struct spok_err *err)
{
	struct kube_blob b = {0};
	char *tok;
	size_t n;
	int result;

	*out = NULL;
	result = read_blob_file(path, KUBE_TOKEN_MAX, &b, err);
	if (result != 0)
		return result;
	n = b.len;
	while (n > 0 && isspace(b.data[n - 1]))
		n--;
	if (n == 0 || has_ctl(b.data, n)) {
		blob_free(&b);
		return spok_err_set(err, SPOK_EINVAL, "%s: not a bearer token (empty or multi-line); "
				    "write the token on one line", path);
	}
	tok = xstrndup((const char *)b.data, n);
	blob_free(&b);
	*out = tok;
	return 0;
}

static int in_cluster_server(struct kube_config *cfg, struct spok_err *err)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");

	if (host == NULL || host[0] == '\0' || port == NULL || port[0] == '\0')
		return spok_err_set(err, SPOK_EINVAL, "in-cluster: KUBERNETES_SERVICE_HOST/PORT are not "
				    "set; run inside a pod or pass a kubeconfig");
	if (strspn(port, "0123456789") != strlen(port))
		return spok_err_set(err, SPOK_EINVAL, "in-cluster: KUBERNETES_SERVICE_PORT \"%s\" is "
				    "not a port number", port);
	/* IPv6 literals need brackets in a URL. */
	if (strchr(host, ':') != NULL)
		cfg->server = xasprintf("https://[%s]:%s", host, port);
	else
		cfg->server = xasprintf("https://%s:%s", host, port);
	return 0;
}

int kube_config_in_cluster(struct kube_config *cfg, const char *sa_dir, struct spok_err *err)
{
	char *path = NULL, *tok = NULL;
	struct kube_blob ns = {0};
	int result;

	memset(cfg, 0, sizeof(*cfg));
	if (sa_dir == NULL)
		sa_dir = KUBE_SA_DIR;
	result = in_cluster_server(cfg, err);
	if (result != 0) {
		kube_config_free(cfg);
		return result;
	}
	path = xasprintf("%s/token", sa_dir);
	result = kube_read_token_file(path, &tok, err);
	kube_secret_free(tok);
	if (result == 0) {
		cfg->token_file = path;
		path = xasprintf("%s/ca.crt", sa_dir);
		result = read_blob_file(path, KUBE_CONFIG_MAX_FILE, &cfg->ca, err);
	}
	free(path);
	path = NULL;
	if (result != 0) {
		kube_config_free(cfg);
		return spok_err_prefix(err, "in-cluster");
	}
	path = xasprintf("%s/namespace", sa_dir);
	if (read_blob_file(path, 4096, &ns, NULL) == 0 && ns.len > 0) {
		size_t n = ns.len;

		while (n > 0 && isspace(ns.data[n - 1]))
			n--;
		cfg->namespace = xstrndup((const char *)ns.data, n);
	}
	blob_free(&ns);
	free(path);
	if (cfg->namespace == NULL || cfg->namespace[0] == '\0') {
		free(cfg->namespace);
		cfg->namespace = xstrdup("default");
	}
	cfg->source = xstrdup("in-cluster");
	return 0;
}
