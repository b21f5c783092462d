/* conf.c - the effective sparkConf (Flyte getSparkConfig) in a deterministic order. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/utf8.h"
#include "common/xalloc.h"
#include "sparkapp/internal.h"
#include "sparkapp/sparkapp.h"

/* Go regexp '.' (without the s flag): one UTF-8 rune, anything but '\n'. Returns its length
 * at k[p], or 0 if there is none. */
static size_t re_dot(const char *k, size_t n, size_t p)
{
	if (p >= n || k[p] == '\n')
		return 0;
	return spok_utf8_rune_len(k + p, n - p);
}

/* Matches "(.+).enabled$" on k[q..n): the name is every rune but the last before "enabled". */
static bool tail_match(const char *k, size_t n, size_t q, size_t *off, size_t *len)
{
	size_t e, p = q, last = q, runes = 0;

	if (n < q + 9 || memcmp(k + n - 7, "enabled", 7) != 0)
		return false;
	e = n - 7;
	while (p < e) {
		size_t r = re_dot(k, e, p);
		if (r == 0)
			return false;
		last = p;
		p += r;
		runes++;
	}
	if (runes < 2)
		return false;
	*off = q;
	*len = last - q;
	return true;
}

/* Flyte's feature-flag regex ^spark.((flyteorg)|(flyte)).(.+).enabled$ with its dots left
 * unescaped, evaluated leftmost-first like Go: the flyteorg branch is tried before flyte.
 * On a match, [*off, *off + *len) is the last capture group (the feature name). */
static bool feature_flag(const char *k, size_t *off, size_t *len)
{
	static const char *const alts[] = {"flyteorg", "flyte"};
	size_t n = strlen(k), p, r;

	if (n < 5 || memcmp(k, "spark", 5) != 0 || (r = re_dot(k, n, 5)) == 0)
		return false;
	p = 5 + r;
	for (size_t a = 0; a < 2; a++) {
		size_t alen = strlen(alts[a]), q;
		if (n - p < alen || memcmp(k + p, alts[a], alen) != 0)
			continue;
		q = p + alen;
		if ((r = re_dot(k, n, q)) == 0)
			continue;
		if (tail_match(k, n, q + r, off, len))
			return true;
	}
	return false;
}

/* Go unicode.IsSpace for the rune at s (len r). */
static bool go_space(const unsigned char *s, size_t r)
{
	if (r == 1)
		return s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r');
	if (r == 2)
		return s[0] == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0);
	if (r == 3 && s[0] == 0xE1)
		return s[1] == 0x9A && s[2] == 0x80;
	if (r == 3 && s[0] == 0xE2 && s[1] == 0x80)
		return s[2] <= 0x8A || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF;
	if (r == 3 && s[0] == 0xE2 && s[1] == 0x81)
		return s[2] == 0x9F;
	if (r == 3 && s[0] == 0xE3)
		return s[1] == 0x80 && s[2] == 0x80;
	return false;
}

/* strings.ToLower(strings.TrimSpace(v)) == "true" */
static bool flag_true(const char *v)
{
	const unsigned char *u = (const unsigned char *)v;
	size_t n = strlen(v), i = 0, end;

	while (i < n) {
		size_t r = spok_utf8_rune_len((const char *)u + i, n - i);
		if (!go_space(u + i, r))
			break;
		i += r;
	}
	/* Trailing space: walk forward and remember where the last non-space rune ends. */
	end = i;
	for (size_t j = i; j < n;) {
		size_t r = spok_utf8_rune_len((const char *)u + j, n - j);
		j += r;
		if (!go_space(u + j - r, r))
			end = j;
	}
	return end - i == 4 && strncasecmp(v + i, "true", 4) == 0;
}

static const struct spok_feature *find_feature(const struct spok_platform *p, const char *name,
					       size_t len)
{
	for (size_t i = 0; i < p->spark.nfeatures; i++) {
		const char *fn = p->spark.features[i].name ? p->spark.features[i].name : "";
		if (strlen(fn) == len && memcmp(fn, name, len) == 0)
			return &p->spark.features[i];
	}
	return NULL;
}

static bool empty(const struct spok_strmap *m, const char *key)
{
	const char *v = spok_strmap_get(m, key);
	return v == NULL || v[0] == '\0';
}

/* limit.cores <- request.cores, else <role>.cores, when limit.cores is empty. */
static void derive_limit(struct spok_strmap *m, const char *limit, const char *request,
			 const char *cores)
{
	if (!empty(m, limit))
		return;
	if (!empty(m, request))
		spok_strmap_set(m, limit, spok_strmap_get(m, request));
	else if (!empty(m, cores))
		spok_strmap_set(m, limit, spok_strmap_get(m, cores));
}

bool spok_sparkapp_spok_key(const char *key)
{
	return strcmp(key, "spok.warm") == 0 || strcmp(key, "spok.cold") == 0;
}

/* User keys in bytewise order; expanding feature flags are deferred so that feature keys
 * override plain user keys whatever their names (Flyte leaves this to Go map order). */
static void add_user_conf(const struct spok_task *t, const struct spok_platform *p,
			  struct spok_strmap *dst)
{
	struct spok__kvs user = {0}; /* sorted view: no copies of the strings */
	const struct spok_feature **defer = xcalloc(t->spark_conf.len + 1, sizeof(*defer));
	size_t ndefer = 0;

	spok__kvs_add_map(&user, &t->spark_conf);
	spok__kvs_sort(&user);
	for (size_t i = 0; i < user.len; i++) {
		const char *k = user.v[i].key, *v = user.v[i].value;
		const struct spok_feature *f = NULL;
		size_t off, len;
		if (spok_sparkapp_spok_key(k))
			continue;
		if (feature_flag(k, &off, &len) && flag_true(v))
			f = find_feature(p, k + off, len);
		if (f != NULL)
			defer[ndefer++] = f;
		else
			spok_strmap_set(dst, k, v);
	}
	for (size_t i = 0; i < ndefer; i++)
		spok_strmap_merge(dst, &defer[i]->spark_config);
	free(defer);
	spok__kvs_free(&user);
}

void spok_sparkapp_conf(const struct spok_task *t, const struct spok_platform *p,
			const struct spok_exec *x, const char *generated_name,
			struct spok_strmap *dst)
{
	char now[32];

	spok_strmap_merge(dst, &p->spark.spark_config_default);
	if (t->executor_path && t->executor_path[0]) {
		spok_strmap_set(dst, "spark.pyspark.python", t->executor_path);
		spok_strmap_set(dst, "spark.pyspark.driver.python", t->executor_path);
	}
	add_user_conf(t, p, dst);
	derive_limit(dst, "spark.kubernetes.driver.limit.cores",
		     "spark.kubernetes.driver.request.cores", "spark.driver.cores");
	derive_limit(dst, "spark.kubernetes.executor.limit.cores",
		     "spark.kubernetes.executor.request.cores", "spark.executor.cores");
	spok_strmap_set(dst, "spark.kubernetes.executor.podNamePrefix",
			generated_name ? generated_name : "");
	snprintf(now, sizeof(now), "%" PRId64, x ? x->now_ms : (int64_t)0);
	spok_strmap_set(dst, "spark.kubernetes.driverEnv.FLYTE_START_TIME", now);
}
