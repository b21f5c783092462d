/* names.c - generated names, DNS-1123 conversion, label sanitising, and the small JSON helpers
 * that repair UTF-8 the way Go's encoding/json does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "sparkapp/internal.h"
#include "sparkapp/sparkapp.h"

/* Copy of s with every invalid UTF-8 byte replaced by U+FFFD, or NULL if s is valid. */
static char *utf8_repair(const char *s)
{
	return spok_utf8_validn(s, strlen(s)) ? NULL : spok_utf8_sanitize(s);
}

json_t *spok__jstr(const char *s)
{
	return spok_json_text(s ? s : "");
}

void spok__jset(json_t *obj, const char *key, json_t *val)
{
	char *fixed = utf8_repair(key);

	json_object_set_new(obj, fixed ? fixed : key, val);
	free(fixed);
}

json_t *spok__jmap_sorted(const struct spok_strmap *m)
{
	struct spok__kvs s = {0};

	spok__kvs_add_map(&s, m);
	return spok__kvs_json(&s);
}

void spok__kvs_add(struct spok__kvs *s, const char *key, const char *value)
{
	if (s->v == NULL) {
		s->v = s->inline_;
		s->cap = SPOK__KVS_INLINE;
	}
	if (s->len == s->cap) {
		struct spok__kvref *v = xcalloc(s->cap * 2, sizeof(*v));

		memcpy(v, s->v, s->len * sizeof(*v));
		if (s->v != s->inline_)
			free(s->v);
		s->v = v;
		s->cap *= 2;
	}
	s->v[s->len] = (struct spok__kvref){key, value, s->len};
	s->len++;
}

void spok__kvs_add_map(struct spok__kvs *s, const struct spok_strmap *m)
{
	for (size_t i = 0; i < m->len; i++)
		spok__kvs_add(s, m->items[i].key, m->items[i].value);
}

/* By key, then by the order added: the last of equal keys is the one that wins. */
static int cmp_kvref(const void *a, const void *b)
{
	const struct spok__kvref *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c != 0 ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

void spok__kvs_sort(struct spok__kvs *s)
{
	size_t n = 0;

	if (s->len > 1)
		qsort(s->v, s->len, sizeof(*s->v), cmp_kvref);
	for (size_t i = 0; i < s->len; i++)
		if (i + 1 == s->len || strcmp(s->v[i].key, s->v[i + 1].key) != 0)
			s->v[n++] = s->v[i];
	s->len = n;
}

void spok__kvs_free(struct spok__kvs *s)
{
	if (s->v != s->inline_)
		free(s->v);
	memset(s, 0, sizeof(*s));
}

json_t *spok__kvs_json(struct spok__kvs *s)
{
	json_t *o = json_object();

	spok__kvs_sort(s);
	for (size_t i = 0; i < s->len; i++)
		spok__jset(o, s->v[i].key, spok__jstr(s->v[i].value));
	spok__kvs_free(s);
	return o;
}

json_t *spok__env_var(const char *name, const char *value)
{
	json_t *e = json_object();

	spok__jset(e, "name", spok__jstr(name));
	if (value != NULL && value[0] != '\0')
		spok__jset(e, "value", spok__jstr(value));
	return e;
}

/* ---- FixedLengthUniqueID ---- */

static uint32_t fnv1a32(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

/* "f" + the 4 hash bytes (big-endian, as Go's hash.Sum) in Flyte's base32 alphabet. */
static char *hashed_id(const char *s, size_t n)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz123456";
	uint64_t bits = (uint64_t)fnv1a32(s, n) << 3; /* 32 bits padded to 35 = 7 groups of 5 */
	char *out = xmalloc(9);

	out[0] = 'f';
	for (int i = 0; i < 7; i++)
		out[1 + i] = alphabet[(bits >> (30 - 5 * i)) & 31];
	out[8] = '\0';
	return out;
}

static char *fixed_length_id(const char *id, int max_len)
{
	size_t n = strlen(id);

	if (max_len >= 0 && n <= (size_t)max_len)
		return xstrdup(id);
	if (max_len < 8)
		return NULL;
	return hashed_id(id, n);
}

char *spok_generated_name(const char *const *parts, size_t nparts, int max_len)
{
	struct spok_buf b;
	char *joined, *out;

	spok_buf_init(&b, 0);
	spok_buf_appends(&b, "");
	for (size_t i = 0; i < nparts; i++) {
		if (i > 0 && b.len > 0)
			spok_buf_appends(&b, "-");
		spok_buf_appends(&b, parts[i] ? parts[i] : "");
	}
	joined = spok_buf_detach(&b);
	out = fixed_length_id(joined, max_len);
	free(joined);
	return out;
}

/* ---- DNS-1123 ---- */

#define DNS1123_SUBDOMAIN_MAX 253
#define DNS1123_LABEL_MAX 63
#define MAX_UNIQUE_ID_LEN 20

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_dns1123_subdomain(const char *s)
{
	size_t n = strlen(s), start = 0;

	if (n == 0 || n > DNS1123_SUBDOMAIN_MAX)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.') {
			if (!lower_alnum(s[i]) && s[i] != '-')
				return false;
			continue;
		}
		/* a label [start, i): non-empty, alphanumeric at both ends */
		if (i == start || !lower_alnum(s[start]) || !lower_alnum(s[i - 1]))
			return false;
		start = i + 1;
	}
	return true;
}

static char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

char *spok_dns1123_subdomain(const char *name)
{
	size_t n = strlen(name), len = 0, from = 0, to;
	char *s, *out, *id;

	if (is_dns1123_subdomain(name))
		return xstrdup(name);
	/* camelCase -> kebab-case: "([a-z0-9])([A-Z])" -> "$1-$2", non-overlapping left to right */
	s = xmalloc(2 * n + 1);
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (lower_alnum(c) && i + 1 < n && name[i + 1] >= 'A' && name[i + 1] <= 'Z') {
			s[len++] = c;
			s[len++] = '-';
			s[len++] = name[++i];
			continue;
		}
		s[len++] = c;
	}
	/* lower-case, then drop everything outside [-.a-z0-9] */
	to = 0;
	for (size_t i = 0; i < len; i++) {
		char c = ascii_lower(s[i]);
		if (lower_alnum(c) || c == '-' || c == '.')
			s[to++] = c;
	}
	len = to;
	while (from < len && (s[from] == '.' || s[from] == '-'))
		from++;
	while (len > from && (s[len - 1] == '.' || s[len - 1] == '-'))
		len--;
	out = xstrndup(s + from, len - from);
	free(s);
	if (strlen(out) > DNS1123_SUBDOMAIN_MAX) {
		id = fixed_length_id(out, MAX_UNIQUE_ID_LEN);
		s = xasprintf("%.*s-%s", DNS1123_SUBDOMAIN_MAX - MAX_UNIQUE_ID_LEN - 1, out, id);
		free(id);
		free(out);
		out = s;
	}
	return out;
}

char *spok_label_value(const char *name)
{
	size_t n = strlen(name), len = 0, from = 0;
	char *s = xmalloc(n + 1), *out;

	bool in_run = false;

	for (size_t i = 0; i < n; i++) {
		char c = ascii_lower(name[i]);
		if (lower_alnum(c) || c == '-') {
			s[len++] = c;
			in_run = false;
		} else if (!in_run) {
			/* "[^-a-z0-9]+" -> "-": a run of invalid characters becomes one '-' */
			s[len++] = '-';
			in_run = true;
		}
	}
	if (len > DNS1123_LABEL_MAX)
		len = DNS1123_LABEL_MAX;
	while (from < len && s[from] == '-')
		from++;
	while (len > from && s[len - 1] == '-')
		len--;
	out = xstrndup(s + from, len - from);
	free(s);
	return out;
}
