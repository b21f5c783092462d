/* fuzz_progress.c - bytes -> the Spark status API parsers (progress.h). The first byte picks
 * the answer (applications, jobs, stages, executors; two more bytes feed the same body to
 * every parser in turn), the rest is its body. Whatever the body: no crash; counts within
 * [0, SPOK_PROGRESS_COUNT_MAX], done never above total; names valid UTF-8 within the cap; an
 * app id only of [A-Za-z0-9._-]; a refused answer leaves the progress unchanged; the line is
 * one line a terminal shows as text; the JSON serialises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/termesc.h"
#include "common/utf8.h"
#include "progress/progress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_count(int64_t v)
{
	if (v < 0 || v > SPOK_PROGRESS_COUNT_MAX)
		abort();
}

static void check(const struct spok_progress *p)
{
	size_t n = strlen(p->app_id);

	if (n > SPOK_PROGRESS_ID_MAX || strspn(p->app_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
					       "OPQRSTUVWXYZ0123456789._-") != n)
		abort();
	if (strlen(p->job) > SPOK_PROGRESS_NAME_MAX || !spok_utf8_validn(p->job, strlen(p->job)) ||
	    strlen(p->stage) > SPOK_PROGRESS_NAME_MAX || !spok_utf8_validn(p->stage, strlen(p->stage)))
		abort();
	check_count(p->tasks_done);
	check_count(p->tasks_total);
	check_count(p->tasks_active);
	check_count(p->tasks_failed);
	check_count(p->stage_done);
	check_count(p->stage_total);
	check_count(p->executors);
	if (p->tasks_done > p->tasks_total || p->stage_done > p->stage_total || p->jobs_active > p->jobs_total)
		abort();
	if ((p->job_id < 0 && p->job[0]) || (p->stage_id < 0 && p->stage[0]))
		abort();
}

static void render(const struct spok_progress *p)
{
	struct spok_buf b;
	json_t *j = spok_progress_json(p);
	char *s = json_dumps(j, JSON_COMPACT);

	if (s == NULL)
		abort();
	free(s);
	json_decref(j);
	spok_buf_init(&b, 0);
	spok_progress_line(p, "RUNNING", 61000, 20, &b);
	if (b.data == NULL || strchr(b.data, '\n') || !spok_term_clean(b.data))
		abort();
	spok_buf_free(&b);
}

typedef int (*parse_fn)(struct spok_progress *, const char *, size_t, struct spok_err *);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const parse_fn parsers[4] = {spok_progress_apps, spok_progress_jobs,
					    spok_progress_stages, spok_progress_executors};
	struct spok_progress p, before;

	if (size < 1)
		return 0;
	spok_progress_init(&p);
	for (unsigned i = 0; i < 4; i++) {
		struct spok_err err = {0};
		unsigned which = data[0] % 6 < 4 ? data[0] % 6 : i;

		before = p;
		if (parsers[which](&p, (const char *)data + 1, size - 1, &err) != 0) {
			if (!spok_progress_equal(&p, &before) || err.msg[0] == '\0' || strchr(err.msg, '\n'))
				abort();
		}
		check(&p);
		render(&p);
		if (data[0] % 6 < 4)
			break;
	}
	return 0;
}
