/* pools.c - spok.pools in the platform config: warm Spark Connect pools. See connect.h. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/timefmt.h"
#include "common/xalloc.h"
#include "connect/connect.h"

#define DOC "see docs/CONFIG.md (spok.pools)"
#define RULES_DOC "see docs/CONFIG.md (spok.warm-rules)"

static const char *const pool_keys[] = {
	"name", "spark-conf", "master", "idle-timeout", "max-lifetime", "min-executors",
	"max-executors", "kubernetes", NULL
};

struct pctx {
	const struct spok_platform *p;
	struct spok_err *err;
};

/* "file:line:col" of the nearest recorded node at or above field. */
static void where(const struct pctx *c, const char *field, char *buf, size_t len)
{
	const char *file = c->p->source_path ? c->p->source_path : "<built-in config>";
	char f[256];

	snprintf(f, sizeof(f), "%s", field);
	for (;;) {
		const char *lc = spok_strmap_get(&c->p->spok.positions, f);
		char *dot = strrchr(f, '.'), *br = strrchr(f, '[');

		if (lc) {
			snprintf(buf, len, "%s:%s", file, lc);
			return;
		}
		if (!dot && !br)
			break;
		*(dot > br ? dot : br) = '\0';
	}
	snprintf(buf, len, "%s", file);
}

static int bad(const struct pctx *c, const char *field, const char *what)
{
	char w[300];

	where(c, field, w, sizeof(w));
	return spok_err_set(c->err, SPOK_EINVAL, "%s: %s: %s; %s", w, field, what,
			    strncmp(field, "spok.warm-rules", 15) == 0 ? RULES_DOC : DOC);
}

/* A printable, bounded copy of text from the file for a message. */
static void safe(const char *s, char *out, size_t len)
{
	size_t n = 0;

	for (; s[n] && n < len - 1; n++)
		out[n] = (unsigned char)s[n] < 0x20 || s[n] == 0x7f ? '?' : s[n];
	out[n] = '\0';
}

bool spok_connect_name_ok(const char *s)
{
	size_t n = strlen(s);

	/* A session's name becomes a directory name and part of Spark's app name. */
	if (n == 0 || n > 63 || !((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

static int duration(const struct pctx *c, const json_t *v, const char *field, uint64_t *out)
{
	struct spok_err e = {0};

	if (!json_is_string(v))
		return bad(c, field, "expected a duration such as 30s, 15m or 8h");
	if (spok_parse_duration_ms(field, json_string_value(v), out, &e) != 0 || *out == 0)
		return bad(c, field, "expected a positive duration such as 30s, 15m or 8h");
	return 0;
}

static int count(const struct pctx *c, const json_t *v, const char *field, long *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 10000)
		return bad(c, field, "expected an integer from 0 to 10000");
	*out = (long)json_integer_value(v);
	return 0;
}

static int read_conf(const struct pctx *c, const json_t *v, const char *field, struct spok_pool *pl)
{
	const char *k;
	json_t *val;
	char path[300], sk[61];

	if (!json_is_object(v))
		return bad(c, field, "expected a mapping of Spark conf keys to values");
	json_object_foreach((json_t *)v, k, val) {
		safe(k, sk, sizeof(sk));
		snprintf(path, sizeof(path), "%s.%s", field, sk);
		if (!json_is_string(val) || strlen(json_string_value(val)) != json_string_length(val))
			return bad(c, path, "expected a string (quote values YAML reads as numbers or booleans)");
		if (strcmp(k, "spark.master") == 0 || strncmp(k, "spark.connect.grpc.binding", 26) == 0 ||
		    strcmp(k, "spark.ui.port") == 0 || strncmp(k, "spark.driver.bindAddress", 24) == 0 ||
		    strcmp(k, "spark.driver.host") == 0)
			return bad(c, path, "spok sets this key itself (master: use the pool's master field)");
		/* Spark prefers this conf to the server's environment: it would replace every
		 * session's own token with one token in the config file */
		if (strncmp(k, "spark.connect.authenticate", 26) == 0)
			return bad(c, path, "spok gives every session a token of its own; remove this key");
		spok_strmap_set(&pl->conf, k, json_string_value(val));
	}
	return 0;
}

/* A DNS label (RFC 1123) of at most max bytes: a namespace, a ServiceAccount, a session. */
static bool dns_label(const char *s, size_t max)
{
	size_t n = strlen(s);

	return n > 0 && n <= max && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n &&
	       s[0] != '-' && s[n - 1] != '-';
}

const char *spok_connect_kube_name_problem(const char *name)
{
	if (!dns_label(name, SPOK_CONNECT_KUBE_NAME_MAX))
		return "a Kubernetes pool's session needs a name of at most 40 lowercase letters, digits or '-', starting and ending with a letter or digit (it names the server's Pod and Service)";
	return NULL;
}

static int kube_string(const struct pctx *c, const json_t *v, const char *path, size_t max,
		       bool label, char **out)
{
	const char *s = json_string_value(v);

	if (!s || strlen(s) != json_string_length(v) || !*s || strlen(s) > max ||
	    (label && !dns_label(s, max)))
		return bad(c, path, label ? "expected a DNS label: lowercase letters, digits or '-', starting and ending with a letter or digit"
					  : "expected a non-empty string");
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return bad(c, path, "expected no spaces or control characters");
	free(*out);
	*out = xstrdup(s);
	return 0;
}

/* kubernetes: {namespace, context?, image?, service-account?} */
static int read_kube(const struct pctx *c, const json_t *v, const char *field, struct spok_pool *pl)
{
	const char *k;
	json_t *val;
	char path[300], sk[61];
	int r = 0;

	if (!json_is_object(v))
		return bad(c, field, "expected a mapping with namespace (and context, image, service-account)");
	json_object_foreach((json_t *)v, k, val) {
		safe(k, sk, sizeof(sk));
		snprintf(path, sizeof(path), "%s.%s", field, sk);
		if (strcmp(k, "namespace") == 0)
			r = kube_string(c, val, path, 63, true, &pl->kube.namespace_);
		else if (strcmp(k, "context") == 0)
			r = kube_string(c, val, path, 253, false, &pl->kube.context);
		else if (strcmp(k, "image") == 0)
			r = kube_string(c, val, path, 1024, false, &pl->kube.image);
		else if (strcmp(k, "service-account") == 0)
			r = kube_string(c, val, path, 63, true, &pl->kube.service_account);
		else
			r = bad(c, path, "unknown key (namespace, context, image, service-account)");
		if (r != 0)
			return r;
	}
	snprintf(path, sizeof(path), "%s.namespace", field);
	if (!pl->kube.namespace_)
		return bad(c, path, "missing (the namespace the pool's servers run in)");
	if (!pl->kube.image && c->p->spok.default_image)
		pl->kube.image = xstrdup(c->p->spok.default_image);
	snprintf(path, sizeof(path), "%s.image", field);
	if (!pl->kube.image)
		return bad(c, path, "missing, and spok.default-image is not set (an image with Spark 4, whose jars hold the Spark Connect server: deploy/spark-image)");
	return 0;
}

static int read_field(const struct pctx *c, const char *key, const json_t *v, const char *path,
		      struct spok_pool *pl)
{
	if (strcmp(key, "kubernetes") == 0)
		return read_kube(c, v, path, pl);
	if (strcmp(key, "name") == 0) {
		if (!json_is_string(v) || !spok_connect_name_ok(json_string_value(v)))
			return bad(c, path, "expected a name of 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit");
		pl->name = xstrdup(json_string_value(v));
		return 0;
	}
	if (strcmp(key, "spark-conf") == 0)
		return read_conf(c, v, path, pl);
	if (strcmp(key, "master") == 0) {
		const char *m = json_is_string(v) ? json_string_value(v) : "";
		size_t digits = strlen(m) > 7 ? strspn(m + 6, "0123456789") : 0;
		/* local[N] with N >= 1 (local[0] would run no task), or local[*] */
		bool n_ok = digits && digits == strlen(m) - 7 && digits <= 4 && strtoul(m + 6, NULL, 10) >= 1;
		if (strncmp(m, "local[", 6) != 0 || m[strlen(m) - 1] != ']' ||
		    (strcmp(m + 6, "*]") != 0 && !n_ok))
			return bad(c, path, "expected local[N] with N >= 1, or local[*] (a local pool's server runs in local mode)");
		pl->master = xstrdup(m);
		return 0;
	}
	if (strcmp(key, "idle-timeout") == 0)
		return duration(c, v, path, &pl->idle_ms);
	if (strcmp(key, "max-lifetime") == 0)
		return duration(c, v, path, &pl->lifetime_ms);
	if (strcmp(key, "min-executors") == 0)
		return count(c, v, path, &pl->min_executors);
	return count(c, v, path, &pl->max_executors);
}

static void pool_defaults(struct spok_pool *pl)
{
	memset(pl, 0, sizeof(*pl));
	pl->idle_ms = SPOK_POOL_IDLE_MS;
	pl->lifetime_ms = SPOK_POOL_LIFETIME_MS;
	pl->min_executors = -1;
	pl->max_executors = -1;
}

static void pool_free(struct spok_pool *pl)
{
	free(pl->name);
	free(pl->master);
	free(pl->kube.namespace_);
	free(pl->kube.context);
	free(pl->kube.image);
	free(pl->kube.service_account);
	spok_strmap_free(&pl->conf);
}

static int read_pool(const struct pctx *c, const json_t *v, size_t i, struct spok_pool *pl)
{
	char field[64], path[160], sk[61];
	const char *k;
	json_t *val;

	snprintf(field, sizeof(field), "spok.pools[%zu]", i);
	if (!json_is_object(v))
		return bad(c, field, "expected a mapping with name and the pool's settings");
	json_object_foreach((json_t *)v, k, val) {
		bool known = false;

		for (size_t j = 0; pool_keys[j] && !known; j++)
			known = strcmp(pool_keys[j], k) == 0;
		safe(k, sk, sizeof(sk));
		snprintf(path, sizeof(path), "%s.%s", field, sk);
		if (!known)
			return bad(c, path, "unknown key (name, spark-conf, master, idle-timeout, max-lifetime, min-executors, max-executors, kubernetes)");
		int r = read_field(c, k, val, path, pl);
		if (r != 0)
			return r;
	}
	snprintf(path, sizeof(path), "%s.name", field);
	if (!pl->name)
		return bad(c, path, "missing");
	if (pl->master && pl->kube.namespace_) {
		snprintf(path, sizeof(path), "%s.master", field);
		return bad(c, path, "a Kubernetes pool's server runs against the cluster; remove master");
	}
	if (pl->min_executors >= 0 && pl->max_executors >= 0 && pl->min_executors > pl->max_executors) {
		snprintf(path, sizeof(path), "%s.min-executors", field);
		return bad(c, path, "greater than max-executors");
	}
	return 0;
}

int spok_pools_load(const struct spok_platform *p, struct spok_pools *out, struct spok_err *err)
{
	const json_t *arr = p->spok.pools;
	struct pctx c = {p, err};

	memset(out, 0, sizeof(*out));
	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return bad(&c, "spok.pools", "expected a list of pools");
	out->v = xcalloc(json_array_size(arr) + 1, sizeof(*out->v));
	for (size_t i = 0; i < json_array_size(arr); i++) {
		struct spok_pool *pl = &out->v[out->n];

		pool_defaults(pl);
		out->n++;
		int r = read_pool(&c, json_array_get(arr, i), i, pl);
		for (size_t j = 0; r == 0 && j + 1 < out->n; j++)
			if (strcmp(out->v[j].name, pl->name) == 0) {
				char path[64];

				snprintf(path, sizeof(path), "spok.pools[%zu].name", i);
				r = bad(&c, path, "a pool of that name is declared above");
			}
		if (r != 0) {
			spok_pools_free(out);
			return r;
		}
	}
	return 0;
}

const struct spok_pool *spok_pools_find(const struct spok_pools *ps, const char *name)
{
	static struct spok_pool builtin;

	if (!name)
		name = SPOK_POOL_DEFAULT;
	for (size_t i = 0; i < ps->n; i++)
		if (strcmp(ps->v[i].name, name) == 0)
			return &ps->v[i];
	if (strcmp(name, SPOK_POOL_DEFAULT) != 0)
		return NULL;
	/* Immutable after the first call: its only string is a literal. */
	if (!builtin.name) {
		pool_defaults(&builtin);
		builtin.name = (char *)SPOK_POOL_DEFAULT;
	}
	return &builtin;
}

void spok_pools_free(struct spok_pools *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		pool_free(&ps->v[i]);
	free(ps->v);
	memset(ps, 0, sizeof(*ps));
}

/* ---- spok.warm-rules ---- */

static int read_rule(const struct pctx *c, const json_t *v, size_t i, const struct spok_pools *pools,
		     struct spok_warm_rule *r)
{
	char field[64], path[200], sk[61];
	const char *k;
	json_t *val;

	snprintf(field, sizeof(field), "spok.warm-rules[%zu]", i);
	if (!json_is_object(v))
		return bad(c, field, "expected a mapping with name and/or labels, and pool");
	json_object_foreach((json_t *)v, k, val) {
		safe(k, sk, sizeof(sk));
		snprintf(path, sizeof(path), "%s.%s", field, sk);
		if (strcmp(k, "name") == 0) {
			if (!json_is_string(val) || json_string_length(val) == 0 ||
			    strlen(json_string_value(val)) != json_string_length(val))
				return bad(c, path, "expected the task name or a glob such as 'etl-*'");
			r->name = xstrdup(json_string_value(val));
		} else if (strcmp(k, "pool") == 0) {
			if (!json_is_string(val) || !spok_pools_find(pools, json_string_value(val)))
				return bad(c, path, "expected the name of a pool declared in spok.pools (or 'default')");
			r->pool = xstrdup(json_string_value(val));
		} else if (strcmp(k, "labels") == 0) {
			const char *lk;
			json_t *lv;
			if (!json_is_object(val) || json_object_size(val) == 0)
				return bad(c, path, "expected a mapping of label keys to values, every one of which the task must carry");
			json_object_foreach(val, lk, lv) {
				char lpath[300], slk[61];
				safe(lk, slk, sizeof(slk));
				snprintf(lpath, sizeof(lpath), "%s.%s", path, slk);
				if (!json_is_string(lv) || strlen(json_string_value(lv)) != json_string_length(lv))
					return bad(c, lpath, "expected a string (quote values YAML reads as numbers or booleans)");
				spok_strmap_set(&r->labels, lk, json_string_value(lv));
			}
		} else {
			return bad(c, path, "unknown key (name, labels, pool)");
		}
	}
	if (!r->name && r->labels.len == 0)
		return bad(c, field, "a rule needs name or labels (a rule for every job: use spok run --warm)");
	if (!r->pool)
		r->pool = xstrdup(SPOK_POOL_DEFAULT);
	return 0;
}

int spok_warm_rules_load(const struct spok_platform *p, const struct spok_pools *pools,
			 struct spok_warm_rules *out, struct spok_err *err)
{
	const json_t *arr = p->spok.warm_rules;
	struct pctx c = {p, err};

	memset(out, 0, sizeof(*out));
	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return bad(&c, "spok.warm-rules", "expected a list of rules");
	out->v = xcalloc(json_array_size(arr) + 1, sizeof(*out->v));
	for (size_t i = 0; i < json_array_size(arr); i++) {
		int r = read_rule(&c, json_array_get(arr, i), i, pools, &out->v[out->n++]);
		if (r != 0) {
			spok_warm_rules_free(out);
			return r;
		}
	}
	return 0;
}

const struct spok_warm_rule *spok_warm_rules_match(const struct spok_warm_rules *rs,
						   const struct spok_task *t, size_t *index)
{
	for (size_t i = 0; i < rs->n; i++) {
		const struct spok_warm_rule *r = &rs->v[i];
		bool ok = !r->name || (t->name && fnmatch(r->name, t->name, 0) == 0);

		for (size_t j = 0; ok && j < r->labels.len; j++) {
			const char *have = spok_strmap_get(&t->labels, r->labels.items[j].key);
			ok = have && strcmp(have, r->labels.items[j].value) == 0;
		}
		if (ok) {
			if (index)
				*index = i;
			return r;
		}
	}
	return NULL;
}

void spok_warm_rules_free(struct spok_warm_rules *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		free(rs->v[i].name);
		free(rs->v[i].pool);
		spok_strmap_free(&rs->v[i].labels);
	}
	free(rs->v);
	memset(rs, 0, sizeof(*rs));
}

int spok_warm_by_task(const struct spok_task *t, enum spok_warm_switch *out, const char **pool,
		      struct spok_err *err)
{
	const char *w = spok_strmap_get(&t->spark_conf, "spok.warm");
	const char *c = spok_strmap_get(&t->spark_conf, "spok.cold");
	const char *src = t->source_path ? t->source_path : "task";

	*out = SPOK_WARM_UNSET;
	*pool = NULL;
	if (c && strcmp(c, "true") != 0 && strcmp(c, "false") != 0)
		return spok_err_set(err, SPOK_EINVAL, "%s: sparkConf spok.cold: expected \"true\" or \"false\"", src);
	if (w && !*w)
		return spok_err_set(err, SPOK_EINVAL, "%s: sparkConf spok.warm: expected the name of a pool of spok.pools (or \"default\")", src);
	if (w && c && strcmp(c, "true") == 0)
		return spok_err_set(err, SPOK_EINVAL, "%s: sparkConf spok.warm and spok.cold: choose one", src);
	if (w && strcmp(w, "true") != 0 && !spok_connect_name_ok(w))
		return spok_err_set(err, SPOK_EINVAL, "%s: sparkConf spok.warm: '%.63s' is not a pool name (1-63 of a-z, 0-9, '-', '_')", src, w);
	if (c && strcmp(c, "true") == 0) {
		*out = SPOK_WARM_OFF;
	} else if (w) {
		*out = SPOK_WARM_ON;
		*pool = strcmp(w, "true") == 0 ? SPOK_POOL_DEFAULT : w;
	}
	return 0;
}
