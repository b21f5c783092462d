/* package.c - reading tasks from files: single .pb (TaskSpec or TaskTemplate) or a
 * `pyflyte package` archive (tar+gzip of <n>_<name>_1.pb TaskSpecs, _2 workflows, _3
 * launch plans). The tar reader handles the subset Python's tarfile writes: ustar
 * headers with prefix, GNU long names ('L') and pax 'path' records; links and devices
 * are ignored, never followed. */
#include "flyteidl/flyteidl.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "common/utf8.h"
#include "flyteidl/internal.h"

#include "flyteidl/admin/task.pb-c.h"
#include "flyteidl/core/tasks.pb-c.h"

#define TAR_BLOCK 512

struct pkg_entry {
	char *name;
	const uint8_t *data; /* points into the uncompressed archive */
	size_t len;
};

struct pkg {
	struct pkg_entry *items;
	size_t len;
};

static void pkg_free(struct pkg *p)
{
	for (size_t i = 0; i < p->len; i++)
		free(p->items[i].name);
	free(p->items);
	memset(p, 0, sizeof(*p));
}

static bool is_gzip(const uint8_t *buf, size_t len)
{
	return len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b;
}

/* ---- gzip ---- */

static int inflate_all(z_stream *zs, const char *path, struct spok_buf *out, struct spok_err *err)
{
	uint8_t chunk[65536];
	int zr;

	for (;;) {
		zs->next_out = chunk;
		zs->avail_out = sizeof(chunk);
		zr = inflate(zs, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
			return spok_err_set(err, SPOK_EINVAL, "%s: not a valid gzip stream (%s); "
					    "re-create the package with pyflyte package", path,
					    zs->msg != NULL ? zs->msg : "corrupt data");
		if (spok_buf_append(out, chunk, sizeof(chunk) - zs->avail_out) != SPOK_OK)
			return spok_err_set(err, SPOK_EINVAL, "%s: package is larger than %zu MiB "
					    "uncompressed; package fewer entities", path,
					    SPOK_FLYTE_PKG_MAX_BYTES >> 20);
		if (zr == Z_STREAM_END) {
			/* Concatenated gzip members are one stream (gzip(1) semantics). */
			if (zs->avail_in == 0)
				return SPOK_OK;
			inflateReset(zs);
			continue;
		}
		if (zr == Z_BUF_ERROR || (zs->avail_in == 0 && zs->avail_out != 0))
			return spok_err_set(err, SPOK_EINVAL, "%s: gzip stream is truncated; "
					    "re-create the package with pyflyte package", path);
	}
}

static int gunzip(const uint8_t *buf, size_t len, const char *path, struct spok_buf *out,
		  struct spok_err *err)
{
	z_stream zs;
	int result;

	if (len > SPOK_FLYTE_PKG_MAX_BYTES)
		return spok_err_set(err, SPOK_EINVAL, "%s: package is larger than %zu MiB; package "
				    "fewer entities", path, SPOK_FLYTE_PKG_MAX_BYTES >> 20);
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return spok_err_set(err, SPOK_EINTERNAL, "%s: zlib init failed", path);
	zs.next_in = (Bytef *)(uintptr_t)buf;
	zs.avail_in = (uInt)len;
	result = inflate_all(&zs, path, out, err);
	inflateEnd(&zs);
	return result;
}

/* ---- tar ---- */

static bool octal(const uint8_t *f, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	bool any = false;

	while (i < n && f[i] == ' ')
		i++;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++, any = true) {
		if (v > (UINT64_MAX >> 3))
			return false;
		v = (v << 3) | (uint64_t)(f[i] - '0');
	}
	for (; i < n; i++)
		if (f[i] != ' ' && f[i] != '\0')
			return false; /* base-256 sizes are far beyond our caps anyway */
	*out = v;
	return any;
}

static bool checksum_ok(const uint8_t *h)
{
	uint64_t want, sum = 0;

	if (!octal(h + 148, 8, &want))
		return false;
	for (size_t i = 0; i < TAR_BLOCK; i++)
		sum += i >= 148 && i < 156 ? (uint64_t)' ' : h[i];
	return sum == want;
}

static bool all_zero(const uint8_t *h)
{
	for (size_t i = 0; i < TAR_BLOCK; i++)
		if (h[i] != 0)
			return false;
	return true;
}

static char *header_name(const uint8_t *h)
{
	char *name = xstrndup((const char *)h, 100), *full;

	if (memcmp(h + 257, "ustar", 5) != 0 || h[345] == '\0')
		return name;
	full = xasprintf("%.155s/%s", (const char *)h + 345, name);
	free(name);
	return full;
}

/* pax extended header: records "<len> key=value\n"; only `path` matters here. */
static char *pax_path(const uint8_t *d, size_t n)
{
	size_t pos = 0;

	while (pos < n) {
		size_t rec = 0, i = pos;

		for (; i < n && d[i] >= '0' && d[i] <= '9' && rec < n; i++)
			rec = rec * 10 + (size_t)(d[i] - '0');
		if (i >= n || d[i] != ' ' || rec == 0 || rec > n - pos)
			return NULL;
		i++;
		if (pos + rec - i > 5 && memcmp(d + i, "path=", 5) == 0 && d[pos + rec - 1] == '\n')
			return xstrndup((const char *)d + i + 5, pos + rec - 1 - (i + 5));
		pos += rec;
	}
	return NULL;
}

static bool name_safe(const char *name)
{
	const char *p = name;

	if (name[0] == '/' || name[0] == '\0')
		return false;
	while (*p != '\0') {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return false;
		p += n;
		if (*p == '/')
			p++;
	}
	return true;
}

struct tar_state {
	const char *path;
	struct pkg *out;
	char *next_name; /* from a preceding 'L' or 'x' header */
	size_t count;
};

static int tar_entry(struct tar_state *st, const uint8_t *h, const uint8_t *data, size_t size,
		     struct spok_err *err)
{
	char type = (char)h[156];
	char *name;

	if (++st->count > SPOK_FLYTE_PKG_MAX_ENTRIES)
		return spok_err_set(err, SPOK_EINVAL, "%s: package has more than %d entries; "
				    "package fewer entities", st->path, SPOK_FLYTE_PKG_MAX_ENTRIES);
	if (type == 'L' || type == 'x') {
		free(st->next_name);
		st->next_name = type == 'L' ? xstrndup((const char *)data, size) : pax_path(data, size);
		return SPOK_OK;
	}
	if (type == 'g')
		return SPOK_OK;
	name = st->next_name != NULL ? st->next_name : header_name(h);
	st->next_name = NULL;
	if (!name_safe(name)) {
		int rc = spok_err_set(err, SPOK_EINVAL, "%s: entry '%.200s' has an unsafe path "
				      "(absolute or with '..'); re-create the package with pyflyte "
				      "package", st->path, name);

		free(name);
		return rc;
	}
	if (type != '0' && type != '\0' && type != '7') {
		free(name); /* directories, links, devices: nothing to read */
		return SPOK_OK;
	}
	st->out->items = xreallocarray(st->out->items, st->out->len + 1, sizeof(*st->out->items));
	st->out->items[st->out->len++] = (struct pkg_entry){ name, data, size };
	return SPOK_OK;
}

static int tar_parse(const uint8_t *p, size_t len, const char *path, struct pkg *out,
		     struct spok_err *err)
{
	struct tar_state st = { path, out, NULL, 0 };
	size_t pos = 0;
	int result = SPOK_OK;

	while (result == SPOK_OK && len - pos >= TAR_BLOCK && !all_zero(p + pos)) {
		const uint8_t *h = p + pos;
		uint64_t size;

		pos += TAR_BLOCK;
		if (!checksum_ok(h) || !octal(h + 124, 12, &size)) {
			result = spok_err_set(err, SPOK_EINVAL, "%s: corrupt tar header at offset %zu; "
					      "re-create the package with pyflyte package", path,
					      pos - TAR_BLOCK);
			break;
		}
		if (size > len - pos) {
			result = spok_err_set(err, SPOK_EINVAL, "%s: tar entry at offset %zu is "
					      "truncated; re-create the package", path, pos - TAR_BLOCK);
			break;
		}
		result = tar_entry(&st, h, p + pos, (size_t)size, err);
		pos += (size_t)size;
		pos += (TAR_BLOCK - pos % TAR_BLOCK) % TAR_BLOCK;
		if (pos > len)
			pos = len;
	}
	free(st.next_name);
	if (result == SPOK_OK && out->len == 0)
		result = spok_err_set(err, SPOK_EINVAL, "%s: package holds no files; create it with "
				      "pyflyte package", path);
	return result;
}

/* ---- choosing a task ---- */

struct candidate {
	const struct pkg_entry *entry;
	Flyteidl__Admin__TaskSpec *spec;
	const char *name;
	const char *type;
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s != NULL ? s + 1 : p;
}

static bool name_matches(const char *name, const char *want)
{
	size_t a = strlen(name), b = strlen(want);

	return strcmp(name, want) == 0 ||
	       (a > b && name[a - b - 1] == '.' && strcmp(name + a - b, want) == 0);
}

static int load_candidates(const struct pkg *pkg, const char *path, struct candidate **out,
			   size_t *n, struct spok_err *err)
{
	*out = xcalloc(pkg->len + 1, sizeof(**out));
	*n = 0;
	for (size_t i = 0; i < pkg->len; i++) {
		const struct pkg_entry *e = &pkg->items[i];
		char *where;
		Flyteidl__Admin__TaskSpec *spec;

		if (!ends_with(base_name(e->name), "_1.pb"))
			continue;
		where = xasprintf("%s:%s", path, e->name);
		spec = (Flyteidl__Admin__TaskSpec *)spok_pb_unpack(
			&flyteidl__admin__task_spec__descriptor, e->data, e->len, where,
			"flyteidl.admin.TaskSpec", err);
		free(where);
		if (spec == NULL)
			return SPOK_EINVAL;
		(*out)[(*n)++] = (struct candidate){ e, spec, "", "" };
		if (spec->template_ != NULL) {
			(*out)[*n - 1].type = spec->template_->type;
			if (spec->template_->id != NULL)
				(*out)[*n - 1].name = spec->template_->id->name;
		}
	}
	return SPOK_OK;
}

static void list_candidates(const struct candidate *c, size_t n, struct spok_buf *b)
{
	for (size_t i = 0; i < n; i++)
		spok_buf_printf(b, "%s%s [%s]", i > 0 ? ", " : "", c[i].name, c[i].type);
	if (n == 0)
		spok_buf_appends(b, "none");
}

static int pick(const struct candidate *c, size_t n, const char *path, const char *task_name,
		size_t *chosen, struct spok_err *err)
{
	struct spok_buf list;
	size_t hits = 0;
	int result = SPOK_OK;

	for (size_t i = 0; i < n; i++) {
		bool ok = task_name != NULL ? name_matches(c[i].name, task_name)
					    : strcmp(c[i].type, "spark") == 0;
		if (ok) {
			*chosen = i;
			hits++;
		}
	}
	if (hits == 1)
		return SPOK_OK;
	spok_buf_init(&list, 8192);
	list_candidates(c, n, &list);
	if (task_name != NULL && hits == 0)
		result = spok_err_set(err, SPOK_ENOTFOUND, "%s: no task named '%s' in the package "
				      "(tasks: %s); pass one of these names", path, task_name,
				      list.data);
	else if (task_name != NULL)
		result = spok_err_set(err, SPOK_EINVAL, "%s: task name '%s' is ambiguous (tasks: %s); "
				      "pass the full name", path, task_name, list.data);
	else if (hits == 0)
		result = spok_err_set(err, SPOK_ENOTFOUND, "%s: no Spark task in the package "
				      "(tasks: %s); package a task with task_config=Spark(...)",
				      path, list.data);
	else
		result = spok_err_set(err, SPOK_EINVAL, "%s: the package has several Spark tasks "
				      "(%s); choose one by name", path, list.data);
	spok_buf_free(&list);
	return result;
}

static int load_package(const uint8_t *buf, size_t len, const char *path, const char *task_name,
			struct spok_task *out, struct spok_err *err)
{
	struct spok_buf tar;
	struct pkg pkg = { 0 };
	struct candidate *cands = NULL;
	size_t n = 0, chosen = 0;
	int result;

	spok_buf_init(&tar, SPOK_FLYTE_PKG_MAX_BYTES);
	result = gunzip(buf, len, path, &tar, err);
	if (result == SPOK_OK)
		result = tar_parse((const uint8_t *)tar.data, tar.len, path, &pkg, err);
	if (result == SPOK_OK)
		result = load_candidates(&pkg, path, &cands, &n, err);
	if (result == SPOK_OK)
		result = pick(cands, n, path, task_name, &chosen, err);
	if (result == SPOK_OK) {
		char *where = xasprintf("%s:%s", path, cands[chosen].entry->name);

		if (cands[chosen].spec->template_ == NULL)
			result = spok_err_set(err, SPOK_EINVAL, "%s: TaskSpec has no template; "
					      "re-create the package", where);
		else
			result = spok_task_from_template(cands[chosen].spec->template_, where, path,
							 out, err);
		free(where);
	}
	for (size_t i = 0; i < n; i++)
		flyteidl__admin__task_spec__free_unpacked(cands[i].spec, NULL);
	free(cands);
	pkg_free(&pkg);
	spok_buf_free(&tar);
	return result;
}

/* ---- single .pb ---- */

/* A task type is a short identifier ("spark", "python-task"); anything else means the
 * bytes were some other message that happened to parse. */
static bool plausible_type(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (t[i] <= ' ' || t[i] > '~')
			return false;
	return true;
}

static const Flyteidl__Core__TaskTemplate *choose_pb(const Flyteidl__Admin__TaskSpec *spec,
						     const Flyteidl__Core__TaskTemplate *tmpl)
{
	const Flyteidl__Core__TaskTemplate *st = spec != NULL ? spec->template_ : NULL;
	bool spec_ok = st != NULL && plausible_type(st->type);
	bool tmpl_ok = tmpl != NULL && plausible_type(tmpl->type);

	/* The two messages can both parse the same bytes; prefer the reading that yields a
	 * Spark task, and TaskSpec (what pyflyte writes) on a tie. */
	if (spec_ok && tmpl_ok)
		return strcmp(tmpl->type, "spark") == 0 && strcmp(st->type, "spark") != 0 ? tmpl : st;
	return spec_ok ? st : tmpl_ok ? tmpl : NULL;
}

static int check_name(const struct spok_task *t, const char *path, const char *task_name,
		      struct spok_err *err)
{
	if (task_name == NULL || name_matches(t->name != NULL ? t->name : "", task_name))
		return SPOK_OK;
	return spok_err_set(err, SPOK_ENOTFOUND, "%s: holds task '%s', not '%s'; drop the task "
			    "name or pass the right file", path, t->name != NULL ? t->name : "",
			    task_name);
}

static int load_pb(const uint8_t *buf, size_t len, const char *path, const char *task_name,
		   struct spok_task *out, struct spok_err *err)
{
	ProtobufCMessage *spec, *tmpl;
	const Flyteidl__Core__TaskTemplate *tt;
	int result;

	if (len > SPOK_FLYTE_PB_MAX)
		return spok_flyte_parse_task_template(buf, len, path, out, err); /* words the cap */
	spec = spok_pb_unpack(&flyteidl__admin__task_spec__descriptor, buf, len, path, "", NULL);
	tmpl = spok_pb_unpack(&flyteidl__core__task_template__descriptor, buf, len, path, "", NULL);
	tt = choose_pb((Flyteidl__Admin__TaskSpec *)spec, (Flyteidl__Core__TaskTemplate *)tmpl);
	if (tt != NULL)
		result = spok_task_from_template(tt, path, path, out, err);
	else if (spec == NULL && tmpl == NULL)
		result = spok_pb_unpack(&flyteidl__core__task_template__descriptor, buf, len, path,
					"flyteidl.admin.TaskSpec or flyteidl.core.TaskTemplate", err) == NULL
				 ? SPOK_EINVAL : SPOK_EINTERNAL;
	else
		result = spok_err_set(err, SPOK_EINVAL, "%s: not a Flyte task (no task type set); "
				      "pass a task .pb or package written by pyflyte", path);
	if (result == SPOK_OK) {
		result = check_name(out, path, task_name, err);
		if (result != SPOK_OK)
			spok_task_free(out);
	}
	if (spec != NULL)
		protobuf_c_message_free_unpacked(spec, NULL);
	if (tmpl != NULL)
		protobuf_c_message_free_unpacked(tmpl, NULL);
	return result;
}

int spok_flyte_load_task_buf(const uint8_t *buf, size_t len, const char *path,
			     const char *task_name, struct spok_task *out, struct spok_err *err)
{
	spok_task_init(out);
	if (is_gzip(buf, len))
		return load_package(buf, len, path, task_name, out, err);
	return load_pb(buf, len, path, task_name, out, err);
}

int spok_flyte_load_task(const char *path, const char *task_name, struct spok_task *out,
			 struct spok_err *err)
{
	struct spok_buf b;
	int result;

	spok_task_init(out);
	spok_buf_init(&b, SPOK_FLYTE_PKG_MAX_BYTES);
	result = spok_buf_read_file(&b, path, err);
	if (result == SPOK_OK)
		result = spok_flyte_load_task_buf((const uint8_t *)b.data, b.len, path, task_name,
						  out, err);
	spok_buf_free(&b);
	return result;
}

/* ---- sniffing ---- */

static bool name_ends(const char *path, const char *suffix)
{
	size_t n = strlen(path), k = strlen(suffix);

	return n > k && strcasecmp(path + n - k, suffix) == 0;
}

enum spok_task_file spok_task_file_by_name(const char *path)
{
	if (name_ends(path, ".yaml") || name_ends(path, ".yml") || name_ends(path, ".json"))
		return SPOK_TASK_FILE_JOB;
	if (name_ends(path, ".pb"))
		return SPOK_TASK_FILE_PROTO;
	if (name_ends(path, ".tgz") || name_ends(path, ".tar.gz"))
		return SPOK_TASK_FILE_PACKAGE;
	return SPOK_TASK_FILE_UNKNOWN;
}

bool spok_flyte_sniff(const uint8_t *buf, size_t len)
{
	char *s;
	bool binary = false;

	if (len == 0)
		return false;
	if (is_gzip(buf, len))
		return true;
	/* YAML allows no C0 controls but TAB, LF, CR; protobuf tags and lengths almost
	 * always produce one (0x08, 0x12, small lengths) or invalid UTF-8. */
	for (size_t i = 0; i < len && !binary; i++)
		binary = (buf[i] < 0x20 && buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\r') ||
			 buf[i] == 0x7f;
	if (binary)
		return true;
	s = xstrndup((const char *)buf, len);
	binary = !spok_utf8_validn(s, strlen(s));
	free(s);
	return binary;
}
