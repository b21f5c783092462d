/* config.c - `spok:` clusters/routes/server sections, the tokens file, routing. */
#include "server/internal.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/timefmt.h"
#include "common/xalloc.h"
#include "kube/stream.h"
#include "model/execution.h"
#include "yamljson/yamljson.h"

#define DOC "see docs/SERVER.md"

struct jctx {
	const char *file;   /* config file name for messages */
	struct spok_err *err;
	const struct spok_strmap *pos; /* field path -> "line:col", or NULL */
};

/* "file:line:col" of the nearest recorded node at or above field (a missing key is named
 * at its mapping), or just "file" when the text's positions are unknown. As the job-file
 * and config reader names places. */
static const char *where(const struct jctx *c, const char *field, char *buf, size_t len)
{
	char f[256];

	snprintf(f, sizeof(f), "%s", field);
	while (c->pos != NULL) {
		const char *lc = spok_strmap_get(c->pos, f);
		char *dot = strrchr(f, '.'), *br = strrchr(f, '[');

		if (lc != NULL) {
			snprintf(buf, len, "%s:%s", c->file, lc);
			return buf;
		}
		if (dot == NULL && br == NULL)
			break;
		*(dot > br ? dot : br) = '\0';
	}
	snprintf(buf, len, "%s", c->file);
	return buf;
}

static int bad(struct jctx *c, const char *field, const char *what)
{
	char w[300];

	return spok_err_set(c->err, SPOK_EINVAL, "%s: %s: %s; %s", where(c, field, w, sizeof(w)),
			    field, what, DOC);
}

/* Checks obj's keys against keys[]; names the first unknown one. */
static int check_keys(struct jctx *c, const json_t *obj, const char *field,
		      const char *const *keys)
{
	const char *k;
	json_t *v;
	char path[256];

	if (!json_is_object(obj))
		return bad(c, field, "expected a mapping");
	json_object_foreach((json_t *)obj, k, v) {
		bool ok = false;

		(void)v;
		for (size_t i = 0; keys[i] && !ok; i++)
			ok = strcmp(keys[i], k) == 0;
		if (!ok) {
			char safe[61];
			size_t n = 0;

			/* Keys come from the file: keep the message one printable line. */
			for (; k[n] && n < sizeof(safe) - 1; n++)
				safe[n] = (unsigned char)k[n] < 0x20 || k[n] == 0x7f ? '?' : k[n];
			safe[n] = '\0';
			snprintf(path, sizeof(path), "%s.%s", field, safe);
			return bad(c, path, "unknown key");
		}
	}
	return SPOK_OK;
}

static int get_str(struct jctx *c, const json_t *obj, const char *field, const char *key,
		   bool required, char **out)
{
	json_t *v = json_object_get(obj, key);
	char path[256];

	snprintf(path, sizeof(path), "%s.%s", field, key);
	if (v == NULL || json_is_null(v)) {
		if (required)
			return bad(c, path, "missing");
		return SPOK_OK;
	}
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return bad(c, path, "expected a non-empty string (quote values YAML reads as numbers)");
	free(*out);
	*out = xstrdup(json_string_value(v));
	return SPOK_OK;
}

static int get_bool(struct jctx *c, const json_t *obj, const char *field, const char *key,
		    bool *out)
{
	json_t *v = json_object_get(obj, key);
	char path[256];

	if (v == NULL || json_is_null(v))
		return SPOK_OK;
	snprintf(path, sizeof(path), "%s.%s", field, key);
	if (!json_is_boolean(v))
		return bad(c, path, "expected true or false");
	*out = json_is_true(v);
	return SPOK_OK;
}

static int get_num(struct jctx *c, const json_t *obj, const char *field, const char *key,
		   double lo, double hi, double *out)
{
	char w[300]; /* where(): file:line:col */
	json_t *v = json_object_get(obj, key);
	char path[256];

	if (v == NULL || json_is_null(v))
		return SPOK_OK;
	snprintf(path, sizeof(path), "%s.%s", field, key);
	if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi)
		return spok_err_set(c->err, SPOK_EINVAL, "%s: %s: expected a number in %g..%g; %s",
				    where(c, path, w, sizeof(w)), path, lo, hi, DOC);
	*out = json_number_value(v);
	return SPOK_OK;
}

static int get_labels(struct jctx *c, const json_t *obj, const char *field, const char *key,
		      struct spok_strmap *out)
{
	json_t *v = json_object_get(obj, key), *x;
	const char *k;
	char path[256];

	if (v == NULL || json_is_null(v))
		return SPOK_OK;
	snprintf(path, sizeof(path), "%s.%s", field, key);
	if (!json_is_object(v))
		return bad(c, path, "expected a mapping of label: value");
	json_object_foreach(v, k, x) {
		char buf[64];
		const char *s = buf;

		if (json_is_string(x))
			s = json_string_value(x);
		else if (json_is_integer(x))
			snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(x));
		else if (json_is_boolean(x))
			s = json_is_true(x) ? "true" : "false";
		else
			return bad(c, path, "label values must be scalars");
		spok_strmap_set(out, k, s);
	}
	return SPOK_OK;
}

static void cluster_free(struct srv_cluster_cfg *k)
{
	free(k->name);
	free(k->kubeconfig);
	free(k->context);
	spok_strmap_free(&k->labels);
	memset(k, 0, sizeof(*k));
}

static void route_free(struct srv_route *r)
{
	free(r->project);
	free(r->domain);
	free(r->cluster);
	spok_strmap_free(&r->labels);
	memset(r, 0, sizeof(*r));
}

static void tokens_free(struct srv_token *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(t[i].name);
		spok_strv_free(&t[i].projects);
		spok_strv_free(&t[i].namespaces);
	}
	free(t);
}

void srv_config_free(struct srv_config *c)
{
	for (size_t i = 0; i < c->nclusters; i++)
		cluster_free(&c->clusters[i]);
	free(c->clusters);
	for (size_t i = 0; i < c->nroutes; i++)
		route_free(&c->routes[i]);
	free(c->routes);
	free(c->listen_host);
	free(c->health_host);
	free(c->tokens_file);
	tokens_free(c->tokens, c->ntokens);
	memset(c, 0, sizeof(*c));
}

static char *resolve(const char *base_dir, const char *p)
{
	if (p == NULL || p[0] == '/' || base_dir == NULL || base_dir[0] == '\0')
		return p ? xstrdup(p) : NULL;
	return xasprintf("%s/%s", base_dir, p);
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		      ch == '_' || ch == '.'))
			return false;
	}
	return true;
}

static int read_cluster(struct jctx *c, const json_t *j, const char *field, const char *base,
			struct srv_cluster_cfg *k)
{
	static const char *const keys[] = {"name", "kubeconfig", "context", "in-cluster",
					   "labels", "qps", "burst", "exec-timeout", "submission",
					   NULL};
	double qps = 0, burst = 0, exec_timeout = 0;
	char *kc = NULL, *sub = NULL;
	int result;

	if ((result = check_keys(c, j, field, keys)) != SPOK_OK ||
	    (result = get_str(c, j, field, "name", true, &k->name)) != SPOK_OK ||
	    (result = get_str(c, j, field, "kubeconfig", false, &kc)) != SPOK_OK ||
	    (result = get_str(c, j, field, "context", false, &k->context)) != SPOK_OK ||
	    (result = get_bool(c, j, field, "in-cluster", &k->in_cluster)) != SPOK_OK ||
	    (result = get_labels(c, j, field, "labels", &k->labels)) != SPOK_OK ||
	    (result = get_num(c, j, field, "qps", 0, 100000, &qps)) != SPOK_OK ||
	    (result = get_num(c, j, field, "burst", 0, 100000, &burst)) != SPOK_OK ||
	    (result = get_num(c, j, field, "exec-timeout", 1, SRV_EXEC_TIMEOUT_MAX_S,
			      &exec_timeout)) != SPOK_OK ||
	    (result = get_str(c, j, field, "submission", false, &sub)) != SPOK_OK) {
		free(kc);
		free(sub);
		return result;
	}
	/* The config reader checked the value already (jobfile/config.c); JSON given here
	 * directly is checked again. */
	k->direct = sub != NULL && strcmp(sub, SPOK_SUBMISSION_DIRECT) == 0;
	if (sub != NULL && !k->direct && strcmp(sub, SPOK_SUBMISSION_OPERATOR) != 0) {
		free(sub);
		free(kc);
		return bad(c, field, "submission: expected operator or direct");
	}
	free(sub);
	k->kubeconfig = resolve(base, kc);
	free(kc);
	k->qps = qps;
	k->burst = (int)burst;
	k->exec_timeout_ms = (long)(exec_timeout * 1000.0);
	if (!valid_name(k->name))
		return bad(c, field, "name must be 1-63 of [a-z0-9._-]");
	if (k->in_cluster && (k->kubeconfig || k->context))
		return bad(c, field, "in-cluster: true excludes kubeconfig/context; drop one");
	return SPOK_OK;
}

static int read_clusters(struct jctx *c, const json_t *arr, const char *base,
			 struct srv_config *out)
{
	char field[64];
	size_t i;
	json_t *j;

	out->clusters = xcalloc(json_array_size(arr) + 1, sizeof(*out->clusters));
	json_array_foreach(arr, i, j) {
		int result;

		snprintf(field, sizeof(field), "spok.clusters[%zu]", i);
		out->nclusters = i + 1;
		result = read_cluster(c, j, field, base, &out->clusters[i]);
		if (result != SPOK_OK)
			return result;
		if (srv_cluster_index(out, out->clusters[i].name) != (long)i)
			return bad(c, field, "duplicate cluster name; names must be unique");
	}
	return SPOK_OK;
}

static int read_route(struct jctx *c, const json_t *j, const char *field,
		      const struct srv_config *cfg, struct srv_route *r)
{
	static const char *const keys[] = {"project", "domain", "cluster", "cluster-labels", NULL};
	int result;

	if ((result = check_keys(c, j, field, keys)) != SPOK_OK ||
	    (result = get_str(c, j, field, "project", false, &r->project)) != SPOK_OK ||
	    (result = get_str(c, j, field, "domain", false, &r->domain)) != SPOK_OK ||
	    (result = get_str(c, j, field, "cluster", false, &r->cluster)) != SPOK_OK ||
	    (result = get_labels(c, j, field, "cluster-labels", &r->labels)) != SPOK_OK)
		return result;
	if (r->project == NULL)
		r->project = xstrdup("*");
	if (r->domain == NULL)
		r->domain = xstrdup("*");
	if (r->cluster && r->labels.len)
		return bad(c, field, "give either cluster or cluster-labels, not both");
	if (r->cluster && srv_cluster_index(cfg, r->cluster) < 0)
		return bad(c, field, "cluster is not one of spok.clusters[].name");
	return SPOK_OK;
}

static int read_routes(struct jctx *c, const json_t *arr, struct srv_config *out)
{
	char field[64];
	size_t i;
	json_t *j;

	out->routes = xcalloc(json_array_size(arr) + 1, sizeof(*out->routes));
	json_array_foreach(arr, i, j) {
		int result;

		snprintf(field, sizeof(field), "spok.routes[%zu]", i);
		out->nroutes = i + 1;
		result = read_route(c, j, field, out, &out->routes[i]);
		if (result != SPOK_OK)
			return result;
	}
	return SPOK_OK;
}

int srv_parse_listen(const char *s, char **host, uint16_t *port, struct spok_err *err)
{
	const char *colon = s ? strrchr(s, ':') : NULL;
	char *h, *end;
	struct in_addr a;
	long p;

	if (colon == NULL || colon == s || colon[1] == '\0')
		return spok_err_set(err, SPOK_EINVAL,
				    "listen address '%.80s': expected HOST:PORT, e.g. 127.0.0.1:8080",
				    s ? s : "");
	h = xstrndup(s, (size_t)(colon - s));
	if (strcmp(h, "localhost") == 0) {
		free(h);
		h = xstrdup("127.0.0.1");
	}
	p = strtol(colon + 1, &end, 10);
	if (*end != '\0' || p < 0 || p > 65535 || inet_pton(AF_INET, h, &a) != 1) {
		free(h);
		return spok_err_set(err, SPOK_EINVAL,
				    "listen address '%.80s': expected an IPv4 address and a port 0-65535",
				    s);
	}
	*host = h;
	*port = (uint16_t)p;
	return SPOK_OK;
}

static int get_uint(struct jctx *c, const json_t *j, const char *key, unsigned lo, unsigned hi,
		    unsigned *out)
{
	double v = *out;
	int result = get_num(c, j, "spok.server", key, lo, hi, &v);
	char path[128];

	snprintf(path, sizeof(path), "spok.server.%s", key);
	if (result == SPOK_OK && v != (double)(unsigned)v)
		return bad(c, path, "expected a whole number");
	*out = (unsigned)v;
	return result;
}

/* Connection limits and timeouts (docs/SERVER.md, "Limits"). */
static int read_limits(struct jctx *c, const json_t *j, struct srv_config *out)
{
	int result;

	out->max_connections = SRV_DEFAULT_MAX_CONNECTIONS;
	out->max_per_ip = SRV_DEFAULT_MAX_PER_IP;
	out->idle_timeout_s = SRV_DEFAULT_IDLE_TIMEOUT_S;
	out->header_timeout_s = SRV_DEFAULT_HEADER_TIMEOUT_S;
	out->body_timeout_s = SRV_DEFAULT_BODY_TIMEOUT_S;
	out->sessions_per_project = SRV_DEFAULT_SESSIONS_PER_PROJECT;
	if (j == NULL)
		return SPOK_OK;
	if ((result = get_uint(c, j, "max-connections", 1, 100000, &out->max_connections)) != SPOK_OK ||
	    (result = get_uint(c, j, "max-connections-per-ip", 1, 100000, &out->max_per_ip)) != SPOK_OK ||
	    (result = get_uint(c, j, "idle-timeout", 1, 3600, &out->idle_timeout_s)) != SPOK_OK ||
	    (result = get_uint(c, j, "header-timeout", 1, 3600, &out->header_timeout_s)) != SPOK_OK ||
	    (result = get_uint(c, j, "body-timeout", 1, 3600, &out->body_timeout_s)) != SPOK_OK ||
	    (result = get_uint(c, j, "sessions-per-project", 1, 1000, &out->sessions_per_project)) != SPOK_OK)
		return result;
	if (out->max_per_ip > out->max_connections)
		return bad(c, "spok.server.max-connections-per-ip", "is over max-connections; "
			   "lower it");
	return SPOK_OK;
}

/* spok.server.retention: how long finished executions stay in the store (a duration such as
 * 720h, or whole seconds); unset keeps them forever. */
static int read_retention(struct jctx *c, const json_t *j, struct srv_config *out)
{
	const json_t *v = json_object_get(j, "retention");
	char text[32];
	uint64_t ms = 0;

	if (v == NULL || json_is_null(v))
		return SPOK_OK;
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(v));
	else if (json_is_string(v) && json_string_length(v) < sizeof(text))
		snprintf(text, sizeof(text), "%s", json_string_value(v));
	else
		text[0] = '\0';
	if (text[0] == '\0' || spok_parse_duration_ms("retention", text, &ms, NULL) != SPOK_OK ||
	    ms < SRV_RETENTION_MIN_MS || ms > SRV_RETENTION_MAX_MS)
		return bad(c, "spok.server.retention", "expected a duration of 1m to 87600h such as "
			   "720h (finished executions older than that are deleted)");
	out->retention_ms = ms;
	return SPOK_OK;
}

static int read_server(struct jctx *c, const json_t *j, const char *base, const char *listen,
		       const char *health_listen, struct srv_config *out)
{
	char w[300]; /* where(): file:line:col */
	/* "grpc" belongs to src/connector (spok serve --grpc), which validates it. */
	static const char *const keys[] = {"grpc", "listen", "tokens-file", "max-body", "health-listen",
					   "max-connections", "max-connections-per-ip",
					   "idle-timeout", "header-timeout", "body-timeout",
					   "local-runs", "retention", "sessions-per-project", NULL};
	char *l = NULL, *tf = NULL, *hl = NULL;
	double mb = (double)SRV_DEFAULT_MAX_BODY;
	int result = SPOK_OK;

	if (j && ((result = check_keys(c, j, "spok.server", keys)) != SPOK_OK ||
		  (result = get_str(c, j, "spok.server", "listen", false, &l)) != SPOK_OK ||
		  (result = get_str(c, j, "spok.server", "health-listen", false, &hl)) != SPOK_OK ||
		  (result = get_str(c, j, "spok.server", "tokens-file", false, &tf)) != SPOK_OK ||
		  (result = get_bool(c, j, "spok.server", "local-runs", &out->local_runs)) != SPOK_OK ||
		  (result = get_num(c, j, "spok.server", "max-body", 1024,
				    (double)SRV_MAX_BODY_LIMIT, &mb)) != SPOK_OK))
		goto done;
	if ((result = read_limits(c, j, out)) != SPOK_OK ||
	    (j && (result = read_retention(c, j, out)) != SPOK_OK))
		goto done;
	out->max_body = (size_t)mb;
	out->tokens_file = resolve(base, tf);
	result = srv_parse_listen(listen ? listen : l ? l : SRV_DEFAULT_LISTEN, &out->listen_host,
				  &out->listen_port, c->err);
	if (result != SPOK_OK) {
		spok_err_prefix(c->err, "%s: %s", listen ? c->file : where(c, "spok.server.listen", w, sizeof(w)),
				listen ? "--listen" : "spok.server.listen");
		goto done;
	}
	if (health_listen || hl) {
		result = srv_parse_listen(health_listen ? health_listen : hl, &out->health_host,
					  &out->health_port, c->err);
		if (result != SPOK_OK)
			spok_err_prefix(c->err, "%s: %s",
					health_listen ? c->file : where(c, "spok.server.health-listen", w, sizeof(w)),
					health_listen ? "--health-listen" : "spok.server.health-listen");
	}
done:
	free(l);
	free(tf);
	free(hl);
	return result;
}

int srv_config_build(const struct spok_platform *p, const char *base_dir, const char *listen,
		     const char *health_listen, const char *kubeconfig, const char *context,
		     struct srv_config *out, struct spok_err *err)
{
	struct jctx c = {p->source_path ? p->source_path : "<built-in config>", err, &p->spok.positions};
	int result;

	memset(out, 0, sizeof(*out));
	if (p->spok.clusters && json_array_size(p->spok.clusters) > 0) {
		result = read_clusters(&c, p->spok.clusters, base_dir, out);
	} else {
		out->clusters = xcalloc(1, sizeof(*out->clusters));
		out->nclusters = 1;
		out->clusters[0].name = xstrdup("default");
		out->clusters[0].kubeconfig = kubeconfig ? xstrdup(kubeconfig) : NULL;
		out->clusters[0].context = context ? xstrdup(context) : NULL;
		result = SPOK_OK;
	}
	if (result == SPOK_OK && p->spok.routes)
		result = read_routes(&c, p->spok.routes, out);
	if (result == SPOK_OK)
		result = read_server(&c, p->spok.server, base_dir, listen, health_listen, out);
	if (result == SPOK_OK && out->tokens_file == NULL)
		result = spok_err_set(err, SPOK_EINVAL,
				      "%s: spok.server.tokens-file: missing; the API needs bearer tokens "
				      "(docs/SERVER.md, \"Tokens\")", c.file);
	if (result == SPOK_OK)
		result = srv_tokens_load(out, err);
	if (result != SPOK_OK)
		srv_config_free(out);
	return result;
}

/* ---- tokens ---- */

/* A list of non-empty strings (projects, namespaces); "*" sets *star when star is given. */
static int read_names(struct jctx *c, const json_t *j, const char *field, const char *key,
		      bool *star, struct spok_strv *out)
{
	char w[300]; /* where(): file:line:col */
	json_t *arr = json_object_get(j, key), *p;
	char path[64];
	size_t i;

	snprintf(path, sizeof(path), "%s.%s", field, key);
	if (arr == NULL || json_is_null(arr))
		return SPOK_OK;
	if (!json_is_array(arr))
		return bad(c, path, star ? "projects must be a list of project names or ['*']"
				       : "namespaces must be a list of namespace names");
	if (json_array_size(arr) > SRV_TOKEN_LIST_MAX)
		return spok_err_set(c->err, SPOK_EINVAL, "%s: %s: over %d entries; use admin: true or "
				    "fewer entries", where(c, path, w, sizeof(w)), path, SRV_TOKEN_LIST_MAX);
	json_array_foreach(arr, i, p) {
		const char *v = json_string_value(p);

		if (!json_is_string(p) || json_string_length(p) == 0 || strlen(v) != json_string_length(p))
			return bad(c, path, "entries must be non-empty strings");
		if (star && strcmp(v, "*") == 0)
			*star = true;
		else if (!star && !kube_dns_label(v))
			return bad(c, path, "entries must be namespace names (DNS-1123 labels: 1-63 of "
				   "[a-z0-9-], starting and ending with a letter or digit)");
		else
			spok_strv_push(out, v);
	}
	return SPOK_OK;
}

static int read_token(struct jctx *c, const json_t *j, const char *field, struct srv_token *t)
{
	char w[300]; /* where(): file:line:col */
	static const char *const keys[] = {"name", "token-sha256", "projects", "namespaces",
					   "admin", NULL};
	char *hex = NULL;
	int result;

	if ((result = check_keys(c, j, field, keys)) != SPOK_OK ||
	    (result = get_str(c, j, field, "name", true, &t->name)) != SPOK_OK ||
	    (result = get_str(c, j, field, "token-sha256", true, &hex)) != SPOK_OK ||
	    (result = get_bool(c, j, field, "admin", &t->admin)) != SPOK_OK)
		goto done;
	if (!srv_unhex32(hex, t->hash)) {
		result = bad(c, field, "token-sha256 must be 64 hex digits "
				       "(printf %s TOKEN | sha256sum)");
		goto done;
	}
	if ((result = read_names(c, j, field, "projects", &t->all_projects, &t->projects)) != SPOK_OK ||
	    (result = read_names(c, j, field, "namespaces", NULL, &t->namespaces)) != SPOK_OK)
		goto done;
	if (t->admin)
		t->all_projects = true;
	/* An empty list once meant "no filter" somewhere downstream: refuse it outright. */
	if (!t->all_projects && t->projects.len == 0)
		result = spok_err_set(c->err, SPOK_EINVAL, "%s: %s.projects is empty: a token with no "
				      "projects has no rights; list its projects (['*'] for all) or "
				      "remove it; %s", where(c, field, w, sizeof(w)), field, DOC);
done:
	free(hex);
	return result;
}

int srv_tokens_parse(struct srv_config *cfg, const char *text, size_t len, const char *path,
		     struct spok_err *err)
{
	struct spok_strmap pos = {0};
	struct jctx c = {path ? path : "<tokens>", err, &pos};
	struct srv_token *t = NULL;
	json_t *doc, *j;
	size_t i, n = 0;
	int result = SPOK_OK;

	doc = spok_yaml_to_json_at(text, len, c.file, "tokens", &pos, err);
	if (doc == NULL) {
		spok_strmap_free(&pos);
		return SPOK_EINVAL;
	}
	if (!json_is_array(doc)) {
		json_decref(doc);
		result = bad(&c, "(top level)", "expected a list of {name, token-sha256, projects, admin}");
		spok_strmap_free(&pos);
		return result;
	}
	t = xcalloc(json_array_size(doc) + 1, sizeof(*t));
	json_array_foreach(doc, i, j) {
		char field[40];

		snprintf(field, sizeof(field), "tokens[%zu]", i);
		n = i + 1;
		if ((result = read_token(&c, j, field, &t[i])) != SPOK_OK)
			break;
		for (size_t k = 0; k < i && result == SPOK_OK; k++)
			if (strcmp(t[k].name, t[i].name) == 0)
				result = bad(&c, field, "duplicate token name; names must be unique");
		if (result != SPOK_OK)
			break;
	}
	json_decref(doc);
	spok_strmap_free(&pos);
	if (result != SPOK_OK) {
		tokens_free(t, n);
		return result;
	}
	tokens_free(cfg->tokens, cfg->ntokens);
	cfg->tokens = t;
	cfg->ntokens = n;
	return SPOK_OK;
}

int srv_tokens_load(struct srv_config *c, struct spok_err *err)
{
	struct spok_buf b;
	int result;

	spok_buf_init(&b, SRV_TOKENS_MAX_FILE);
	result = spok_buf_read_file(&b, c->tokens_file, err);
	if (result == SPOK_OK)
		result = srv_tokens_parse(c, b.data ? b.data : "", b.len, c->tokens_file, err);
	spok_buf_free(&b);
	return result;
}

const struct srv_token *srv_auth(const struct srv_config *c, const char *authorization)
{
	const struct srv_token *found = NULL;
	uint8_t h[32];
	const char *tok;

	if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0)
		return NULL;
	tok = authorization + 7;
	while (*tok == ' ')
		tok++;
	if (*tok == '\0')
		return NULL;
	srv_sha256(tok, strlen(tok), h);
	for (size_t i = 0; i < c->ntokens; i++)
		if (srv_ct_equal(h, c->tokens[i].hash, 32) && found == NULL)
			found = &c->tokens[i];
	return found;
}

bool srv_token_allows(const struct srv_token *t, const char *project)
{
	if (t->all_projects)
		return true;
	for (size_t i = 0; i < t->projects.len; i++)
		if (project && strcmp(t->projects.items[i], project) == 0)
			return true;
	return false;
}

bool srv_token_allows_namespace(const struct srv_token *t, const char *ns, const char *own)
{
	for (size_t i = 0; i < t->namespaces.len; i++)
		if (strcmp(t->namespaces.items[i], ns) == 0)
			return true;
	/* kube-system, kube-public, kube-node-lease and any future kube-*: explicit only. */
	if (strncmp(ns, "kube-", 5) == 0)
		return false;
	return t->admin || (own && strcmp(ns, own) == 0);
}

/* ---- routing ---- */

long srv_cluster_index(const struct srv_config *c, const char *name)
{
	for (size_t i = 0; i < c->nclusters; i++)
		if (c->clusters[i].name && name && strcmp(c->clusters[i].name, name) == 0)
			return (long)i;
	return -1;
}

static bool glob_eq(const char *pat, const char *s)
{
	return strcmp(pat, "*") == 0 || (s && strcmp(pat, s) == 0);
}

static bool route_has(const struct srv_config *c, const struct srv_route *r, size_t k)
{
	if (r->cluster)
		return strcmp(r->cluster, c->clusters[k].name) == 0;
	for (size_t i = 0; i < r->labels.len; i++) {
		const char *v = spok_strmap_get(&c->clusters[k].labels, r->labels.items[i].key);

		if (v == NULL || strcmp(v, r->labels.items[i].value) != 0)
			return false;
	}
	return true;
}

int srv_route_pick(const struct srv_config *c, const char *project, const char *domain,
		   const struct srv_cluster_state *st, size_t *idx, struct spok_err *err)
{
	static const struct srv_route any = {(char *)"*", (char *)"*", NULL, {0}};
	const struct srv_route *r = c->nroutes ? NULL : &any;
	long best = -1;

	for (size_t i = 0; i < c->nroutes && r == NULL; i++)
		if (glob_eq(c->routes[i].project, project) && glob_eq(c->routes[i].domain, domain))
			r = &c->routes[i];
	if (r == NULL)
		return spok_err_set(err, SPOK_EINVAL,
				    "no route matches project '%.80s' domain '%.80s'; add a spok.routes "
				    "entry or name a cluster", project ? project : "", domain ? domain : "");
	for (size_t k = 0; k < c->nclusters; k++) {
		if (!route_has(c, r, k))
			continue;
		if (best < 0 || (st[k].healthy && !st[best].healthy) ||
		    (st[k].healthy == st[best].healthy && st[k].active < st[best].active))
			best = (long)k;
	}
	if (best < 0)
		return spok_err_set(err, SPOK_EINVAL,
				    "the route for project '%.80s' domain '%.80s' matches no cluster; "
				    "check its cluster-labels", project ? project : "", domain ? domain : "");
	*idx = (size_t)best;
	return SPOK_OK;
}
