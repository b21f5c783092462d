/* progress.c - Spark status REST answers -> struct spok_progress (see progress.h). */
#include "progress/progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/termesc.h"
#include "common/utf8.h"

void spok_progress_init(struct spok_progress *p)
{
	memset(p, 0, sizeof(*p));
	p->job_id = -1;
	p->stage_id = -1;
	p->stage_attempt = -1;
}

/* ---- reading hostile JSON ---- */

/* The answer as a JSON array, or NULL with err set. what names the endpoint. */
static json_t *load_array(const char *body, size_t len, const char *what, struct spok_err *err)
{
	json_error_t jerr;
	json_t *j;

	if (len > SPOK_PROGRESS_BODY_MAX) {
		spok_err_set(err, SPOK_EINVAL, "Spark status API %s: answer over %zu bytes; ignored", what,
			     SPOK_PROGRESS_BODY_MAX);
		return NULL;
	}
	j = json_loadb(body, len, JSON_DECODE_ANY, &jerr);
	if (!json_is_array(j)) {
		spok_err_set(err, SPOK_EINVAL, "Spark status API %s: %s; is this a Spark UI?", what,
			     j ? "not a JSON array" : "not JSON");
		json_decref(j);
		return NULL;
	}
	return j;
}

static int64_t clamp(int64_t v)
{
	return v < 0 ? 0 : v > SPOK_PROGRESS_COUNT_MAX ? SPOK_PROGRESS_COUNT_MAX : v;
}

/* A count field: an integer (or a whole real) clamped; anything else 0. */
static int64_t count_of(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		return clamp((int64_t)json_integer_value(v));
	if (json_is_real(v)) {
		double d = json_real_value(v);
		return d >= 0 && d <= (double)SPOK_PROGRESS_COUNT_MAX ? (int64_t)d : d > 0 ? SPOK_PROGRESS_COUNT_MAX : 0;
	}
	return 0;
}

/* An id field; -1 when absent or not a count. */
static int64_t id_of(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_integer(v) && json_integer_value(v) >= 0 ? clamp((int64_t)json_integer_value(v)) : -1;
}

static int64_t sat_add(int64_t a, int64_t b)
{
	return a > SPOK_PROGRESS_COUNT_MAX - b ? SPOK_PROGRESS_COUNT_MAX : a + b;
}

/* A name cut at a character boundary and made valid UTF-8, into dst (size max+1). */
static void copy_name(char *dst, size_t size, const json_t *v)
{
	const char *s = json_string_value(v);
	char *clean;
	size_t n;

	dst[0] = '\0';
	if (s == NULL)
		return;
	clean = spok_utf8_sanitize(s); /* jansson's strings are valid already; a NUL cuts them */
	n = spok_utf8_prefix(clean, size - 1);
	memcpy(dst, clean, n);
	dst[n] = '\0';
	free(clean);
}

/* ---- the answers ---- */

static bool id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '_' || c == '-';
}

int spok_progress_apps(struct spok_progress *p, const char *body, size_t len, struct spok_err *err)
{
	json_t *a = load_array(body, len, "/applications", err);
	const char *id;
	size_t n;
	int result = 0;

	if (a == NULL)
		return SPOK_EINVAL;
	id = json_string_value(json_object_get(json_array_get(a, 0), "id"));
	n = id ? strlen(id) : 0;
	if (json_array_size(a) == 0)
		result = spok_err_set(err, SPOK_ENOTFOUND, "Spark status API /applications: no application yet");
	else if (n == 0 || n > SPOK_PROGRESS_ID_MAX || strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
							"KLMNOPQRSTUVWXYZ0123456789._-") != n || !id_char(id[0]))
		result = spok_err_set(err, SPOK_EINVAL, "Spark status API /applications: the first entry has "
				      "no usable id ([A-Za-z0-9._-], at most %d bytes)", SPOK_PROGRESS_ID_MAX);
	else
		memcpy(p->app_id, id, n + 1);
	json_decref(a);
	return result;
}

int spok_progress_jobs(struct spok_progress *p, const char *body, size_t len, struct spok_err *err)
{
	json_t *a = load_array(body, len, "jobs", err);
	struct spok_progress q = *p;
	const json_t *active = NULL;
	size_t n;

	if (a == NULL)
		return SPOK_EINVAL;
	n = json_array_size(a);
	q.have_jobs = true;
	q.jobs_total = q.jobs_active = 0;
	q.tasks_done = q.tasks_total = q.tasks_active = q.tasks_failed = 0;
	for (size_t i = 0; i < n && i < SPOK_PROGRESS_ITEMS_MAX; i++) {
		const json_t *j = json_array_get(a, i);
		int64_t total = count_of(j, "numTasks");
		int64_t done = json_object_get(j, "numCompletedIndices") ? count_of(j, "numCompletedIndices")
									  : count_of(j, "numCompletedTasks");
		const char *st = json_string_value(json_object_get(j, "status"));

		if (!json_is_object(j))
			continue;
		done = sat_add(done, count_of(j, "numSkippedTasks"));
		q.jobs_total++;
		q.tasks_total = sat_add(q.tasks_total, total);
		q.tasks_done = sat_add(q.tasks_done, done < total ? done : total);
		q.tasks_active = sat_add(q.tasks_active, count_of(j, "numActiveTasks"));
		q.tasks_failed = sat_add(q.tasks_failed, count_of(j, "numFailedTasks"));
		if (st && strcmp(st, "RUNNING") == 0) {
			q.jobs_active++;
			if (id_of(j, "jobId") >= 0 && (active == NULL || id_of(j, "jobId") > id_of(active, "jobId")))
				active = j;
		}
	}
	q.job_id = active ? id_of(active, "jobId") : -1;
	/* what the job set (sc.setJobDescription) names it best, else Spark's call site */
	copy_name(q.job, sizeof(q.job), json_is_string(json_object_get(active, "description"))
					   ? json_object_get(active, "description")
					   : json_object_get(active, "name"));
	*p = q;
	json_decref(a);
	return 0;
}

int spok_progress_stages(struct spok_progress *p, const char *body, size_t len,
			 struct spok_err *err)
{
	json_t *a = load_array(body, len, "stages", err);
	const json_t *best = NULL;
	size_t n;

	if (a == NULL)
		return SPOK_EINVAL;
	n = json_array_size(a);
	for (size_t i = 0; i < n && i < SPOK_PROGRESS_ITEMS_MAX; i++) {
		const json_t *s = json_array_get(a, i);
		int64_t id = id_of(s, "stageId");

		if (!json_is_object(s) || id < 0)
			continue;
		if (best == NULL || id > id_of(best, "stageId") ||
		    (id == id_of(best, "stageId") && id_of(s, "attemptId") > id_of(best, "attemptId")))
			best = s;
	}
	p->have_stages = true;
	p->stage_id = best ? id_of(best, "stageId") : -1;
	p->stage_attempt = best ? id_of(best, "attemptId") : -1;
	p->stage_total = count_of(best, "numTasks");
	p->stage_done = count_of(best, "numCompleteTasks");
	if (p->stage_done > p->stage_total)
		p->stage_done = p->stage_total;
	copy_name(p->stage, sizeof(p->stage), json_object_get(best, "name"));
	json_decref(a);
	return 0;
}

int spok_progress_executors(struct spok_progress *p, const char *body, size_t len,
			    struct spok_err *err)
{
	json_t *a = load_array(body, len, "executors", err);
	int64_t alive = 0;
	bool driver = false;
	size_t n;

	if (a == NULL)
		return SPOK_EINVAL;
	n = json_array_size(a);
	for (size_t i = 0; i < n && i < SPOK_PROGRESS_ITEMS_MAX; i++) {
		const json_t *e = json_array_get(a, i);
		const char *id = json_string_value(json_object_get(e, "id"));

		if (!json_is_object(e) || !json_is_true(json_object_get(e, "isActive")))
			continue;
		if (id && strcmp(id, "driver") == 0)
			driver = true;
		else
			alive++;
	}
	p->have_executors = true;
	p->executors = alive == 0 && driver ? 1 : alive;
	json_decref(a);
	return 0;
}

bool spok_progress_equal(const struct spok_progress *a, const struct spok_progress *b)
{
	return strcmp(a->app_id, b->app_id) == 0 && a->have_jobs == b->have_jobs &&
	       a->have_stages == b->have_stages && a->have_executors == b->have_executors &&
	       a->jobs_total == b->jobs_total && a->jobs_active == b->jobs_active &&
	       a->job_id == b->job_id && strcmp(a->job, b->job) == 0 && a->stage_id == b->stage_id &&
	       a->stage_attempt == b->stage_attempt && strcmp(a->stage, b->stage) == 0 &&
	       a->stage_done == b->stage_done && a->stage_total == b->stage_total &&
	       a->tasks_done == b->tasks_done && a->tasks_total == b->tasks_total &&
	       a->tasks_active == b->tasks_active && a->tasks_failed == b->tasks_failed &&
	       a->executors == b->executors;
}

/* ---- output ---- */

static json_t *count_or_null(bool have, int64_t v)
{
	return have ? json_integer((json_int_t)v) : json_null();
}

json_t *spok_progress_json(const struct spok_progress *p)
{
	json_t *o = json_object();
	json_t *job = json_null(), *stage = json_null();

	if (p->job_id >= 0)
		job = json_pack("{s:I, s:o}", "id", (json_int_t)p->job_id, "name", spok_json_text(p->job));
	if (p->stage_id >= 0)
		stage = json_pack("{s:I, s:I, s:o, s:I, s:I}", "id", (json_int_t)p->stage_id, "attempt",
				  (json_int_t)(p->stage_attempt < 0 ? 0 : p->stage_attempt), "name",
				  spok_json_text(p->stage), "tasks_done", (json_int_t)p->stage_done,
				  "tasks_total", (json_int_t)p->stage_total);
	json_object_set_new(o, "app_id", p->app_id[0] ? json_string(p->app_id) : json_null());
	json_object_set_new(o, "jobs_total", count_or_null(p->have_jobs, p->jobs_total));
	json_object_set_new(o, "jobs_active", count_or_null(p->have_jobs, p->jobs_active));
	json_object_set_new(o, "job", job);
	json_object_set_new(o, "stage", stage);
	json_object_set_new(o, "tasks_done", count_or_null(p->have_jobs, p->tasks_done));
	json_object_set_new(o, "tasks_total", count_or_null(p->have_jobs, p->tasks_total));
	json_object_set_new(o, "tasks_active", count_or_null(p->have_jobs, p->tasks_active));
	json_object_set_new(o, "tasks_failed", count_or_null(p->have_jobs, p->tasks_failed));
	json_object_set_new(o, "executors", count_or_null(p->have_executors, p->executors));
	return o;
}

static void elapsed_text(int64_t ms, char *buf, size_t len)
{
	int64_t s = ms < 0 ? 0 : ms / 1000;

	if (s < 60)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
	else
		snprintf(buf, len, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
}

/* "[=====>    ]": done/total of width characters. */
static void bar(struct spok_buf *out, int64_t done, int64_t total, unsigned width)
{
	unsigned full = total > 0 ? (unsigned)((double)done / (double)total * width) : 0;

	(void)spok_buf_appends(out, "[");
	for (unsigned i = 0; i < width; i++)
		(void)spok_buf_appends(out, i < full ? "=" : i == full ? ">" : " ");
	(void)spok_buf_appends(out, "] ");
}

static void named(struct spok_buf *out, const char *what, int64_t id, const char *name)
{
	char *safe = spok_term_line(name);

	(void)spok_buf_printf(out, " | %s %lld", what, (long long)id);
	if (safe && safe[0])
		(void)spok_buf_printf(out, ": %s", safe);
	free(safe);
}

void spok_progress_line(const struct spok_progress *p, const char *phase, int64_t elapsed_ms,
			unsigned width, struct spok_buf *out)
{
	char el[32];

	elapsed_text(elapsed_ms, el, sizeof(el));
	(void)spok_buf_printf(out, "%s %s", phase, el);
	if (p == NULL || !p->have_jobs)
		return;
	/* the numbers first: a narrow terminal cuts the line's end, where the names are */
	(void)spok_buf_appends(out, " ");
	if (width > 0)
		bar(out, p->tasks_done, p->tasks_total, width);
	(void)spok_buf_printf(out, "%lld/%lld tasks, %lld failed", (long long)p->tasks_done,
			      (long long)p->tasks_total, (long long)p->tasks_failed);
	if (p->have_executors)
		(void)spok_buf_printf(out, ", %lld executor%s", (long long)p->executors,
				      p->executors == 1 ? "" : "s");
	if (p->job_id >= 0)
		named(out, "job", p->job_id, p->job);
	if (p->stage_id >= 0) {
		named(out, "stage", p->stage_id, p->stage);
		(void)spok_buf_printf(out, " (%lld/%lld)", (long long)p->stage_done, (long long)p->stage_total);
	}
}
