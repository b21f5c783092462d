/* test_store_page.c - the indexed readers: keyset pages (equal timestamps, filters, rows
 * arriving meanwhile, tampered cursors), counts by phase, unfinished scans, namespaces,
 * task-source prefixes, and the v1 -> v2 migration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "store/store.h"

struct fx {
	char dir[64];
	char *path;
	struct spok_store *s;
};

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	struct spok_err err = {0};

	snprintf(f->dir, sizeof(f->dir), "/tmp/spok-page-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->path = xasprintf("%s/spok.db", f->dir);
	assert_int_equal(spok_store_open(f->dir, &f->s, &err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	const char *sfx[] = {"", "-wal", "-shm"};

	spok_store_close(f->s);
	for (size_t i = 0; i < 3; i++) {
		char *p = xasprintf("%s%s", f->path, sfx[i]);
		unlink(p);
		free(p);
	}
	rmdir(f->dir);
	free(f->path);
	free(f);
	return 0;
}

/* Inserts one row; ids are given so the expected order is known. */
static void add(struct spok_store *s, const char *id, int64_t created, const char *project,
		const char *backend, enum spok_phase ph)
{
	struct spok_execution e = {0};

	e.id = xstrdup(id);
	e.project = project ? xstrdup(project) : NULL;
	e.backend = xstrdup(backend);
	e.phase = ph;
	e.max_attempts = 1;
	e.created_ms = created;
	assert_int_equal(spok_store_insert(s, &e, NULL), 0);
	spok_execution_free(&e);
}

/* Walks every page of f with the given size; returns the ids joined by spaces. */
static char *walk(struct spok_store *s, const struct spok_store_filter *f, size_t limit,
		  size_t *pages)
{
	struct spok_strv ids = {0};
	char *cur = NULL;
	struct spok_err err = {0};

	*pages = 0;
	do {
		struct spok_execution *v = NULL;
		size_t n = 0;
		char *next = NULL;

		assert_int_equal(spok_store_list_page(s, f, limit, cur, &v, &n, &next, &err), 0);
		assert_true(n <= limit);
		assert_true(next == NULL || n == limit);
		(*pages)++;
		for (size_t i = 0; i < n; i++)
			spok_strv_push(&ids, v[i].id);
		spok_execution_list_free(v, n);
		free(cur);
		cur = next;
		if (next)
			assert_true(strlen(next) < 32); /* clients keep it in small buffers */
	} while (cur);
	struct spok_buf b;
	spok_buf_init(&b, 0);
	for (size_t i = 0; i < ids.len; i++)
		spok_buf_printf(&b, "%s%s", i ? " " : "", ids.items[i]);
	spok_strv_free(&ids);
	return b.data ? spok_buf_detach(&b) : xstrdup("");
}

static char *all_ids(struct spok_store *s)
{
	struct spok_execution *v = NULL;
	size_t n = 0;
	struct spok_buf b;

	assert_int_equal(spok_store_list(s, &v, &n, NULL), 0);
	spok_buf_init(&b, 0);
	for (size_t i = 0; i < n; i++)
		spok_buf_printf(&b, "%s%s", i ? " " : "", v[i].id);
	spok_execution_list_free(v, n);
	return b.data ? spok_buf_detach(&b) : xstrdup("");
}

/* 23 rows over 3 timestamps: pages of every size cut through runs of equal created_ms
 * and still give exactly the full list's order, no row twice or missing. */
static void test_pages_equal_times(void **state)
{
	struct fx *f = *state;
	char id[32];

	for (int i = 0; i < 23; i++) {
		snprintf(id, sizeof(id), "sp-%02d%s", (i * 7) % 23, "x");
		add(f->s, id, 1000 + (i % 3), "p", "local", SPOK_PHASE_QUEUED);
	}
	char *want = all_ids(f->s);
	for (size_t limit = 1; limit <= 25; limit++) {
		size_t pages;
		char *got = walk(f->s, NULL, limit, &pages);

		assert_string_equal(got, want);
		/* the last full page already knows nothing follows */
		assert_int_equal(pages, (23 + limit - 1) / limit);
		free(got);
	}
	free(want);
}

static void test_empty_and_limits(void **state)
{
	struct fx *f = *state;
	struct spok_execution *v = (void *)1;
	size_t n = 9, pages;
	char *next = (void *)1;
	struct spok_err err = {0};

	assert_int_equal(spok_store_list_page(f->s, NULL, 10, NULL, &v, &n, &next, &err), 0);
	assert_null(v);
	assert_int_equal(n, 0);
	assert_null(next);
	assert_int_equal(spok_store_list_page(f->s, NULL, 0, NULL, &v, &n, &next, &err), SPOK_EINVAL);
	assert_non_null(strstr(err.msg, "limit"));
	char *got = walk(f->s, NULL, 3, &pages);
	assert_string_equal(got, "");
	free(got);
	/* NULL next_cursor is allowed: a caller that wants one page only. */
	add(f->s, "sp-a", 1, "p", "local", SPOK_PHASE_QUEUED);
	add(f->s, "sp-b", 2, "p", "local", SPOK_PHASE_QUEUED);
	assert_int_equal(spok_store_list_page(f->s, NULL, 1, "", &v, &n, NULL, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id, "sp-b");
	spok_execution_list_free(v, n);
}

static void test_filters(void **state)
{
	struct fx *f = *state;
	const char *ml_only[] = {"ml"}, *both[] = {"ml", "etl"};
	size_t pages;

	add(f->s, "sp-1", 1, "ml", "kind", SPOK_PHASE_RUNNING);
	add(f->s, "sp-2", 2, "etl", "kind", SPOK_PHASE_SUCCEEDED);
	add(f->s, "sp-3", 3, "ml", "local", SPOK_PHASE_PERMANENT_FAILURE);
	add(f->s, "sp-4", 4, NULL, "kind", SPOK_PHASE_QUEUED);
	add(f->s, "sp-5", 5, "ml", "kind", SPOK_PHASE_SUCCEEDED);
	add(f->s, "sp-6", 6, "web", "other", SPOK_PHASE_RUNNING);
	struct {
		struct spok_store_filter f;
		const char *want;
	} cases[] = {
		{{.project = "ml"}, "sp-5 sp-3 sp-1"},
		{{.backend = "kind"}, "sp-5 sp-4 sp-2 sp-1"},
		{{.phases = SPOK_STORE_PHASE(SPOK_PHASE_SUCCEEDED)}, "sp-5 sp-2"},
		{{.phases = SPOK_STORE_PHASES_ACTIVE}, "sp-6 sp-4 sp-1"},
		{{.project = "ml", .backend = "kind", .phases = SPOK_STORE_PHASE(SPOK_PHASE_SUCCEEDED)}, "sp-5"},
		{{.projects = ml_only, .nprojects = 1}, "sp-5 sp-3 sp-1"},
		{{.projects = both, .nprojects = 2}, "sp-5 sp-3 sp-2 sp-1"},
		{{.projects = both, .nprojects = 0}, ""}, /* a token with no projects sees nothing */
		{{.projects = both, .nprojects = 2, .project = "web"}, ""},
		{{.phases = SPOK_STORE_PHASE(20)}, ""}, /* no valid phase bit */
		{{.backend = "nope"}, ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (size_t limit = 1; limit <= 3; limit++) {
			char *got = walk(f->s, &cases[i].f, limit, &pages);

			if (strcmp(got, cases[i].want) != 0)
				fail_msg("case %zu limit %zu: got '%s', want '%s'", i, limit, got,
					 cases[i].want);
			free(got);
		}
}

/* rows [from, to) of a mix: 10 projects, 2 backends, ~4% unfinished, 3 rows per ms. */
static void add_many(struct fx *f, int from, int to)
{
	sqlite3 *db;
	char *sql = xasprintf(
		"INSERT INTO executions (id, project, backend, phase, created_ms, task_name)"
		" WITH RECURSIVE n(i) AS (SELECT %d UNION ALL SELECT i + 1 FROM n WHERE i < %d)"
		" SELECT printf('sp-%%07d', i), 'p' || (i %% 10), CASE i %% 2 WHEN 0 THEN 'kind'"
		" ELSE 'local' END, CASE WHEN i %% 50 = 0 THEN 'RUNNING' WHEN i %% 51 = 0 THEN 'QUEUED'"
		" ELSE 'SUCCEEDED' END, i / 3, 'pi' FROM n", from, to - 1);

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s", sqlite3_errmsg(db));
	sqlite3_close(db);
	free(sql);
}

/* A page, the first or one through a cursor, costs about its size, not the store's (issue
 * 15: O(page) at 1M rows): SQLite's own work count (VM steps) for every filter the API,
 * the dashboard and `spok list` use stays put when the store grows tenfold; each walks an
 * index (no full scan). A filter read through an unordered index would grow ~10x. */
static void test_page_steps(void **state)
{
	struct fx *f = *state;
	const char *scope[] = {"p1", "p4", "p7"};
	struct spok_store_filter cases[] = {
		{0},
		{.project = "p1"},
		{.backend = "kind"},
		{.phases = SPOK_STORE_PHASE(SPOK_PHASE_RUNNING)},
		{.phases = SPOK_STORE_PHASES_ACTIVE},
		{.projects = scope, .nprojects = 3},
		{.projects = scope, .nprojects = 3, .phases = SPOK_STORE_PHASES_ACTIVE},
		/* a combination walks one field's index and filters by the others, so it is a
		 * page's cost while the combination is common (p2 rows are all kind here); a rare
		 * combination reads the first field's rows until it fills the page */
		{.project = "p2", .backend = "kind", .phases = SPOK_STORE_PHASES_ACTIVE},
	};
	size_t ncases = sizeof(cases) / sizeof(cases[0]);
	uint64_t small[2][8];

	add_many(f, 0, 3000);
	for (int size = 0; size < 2; size++) {
		if (size == 1)
			add_many(f, 3000, 30000);
		for (size_t i = 0; i < ncases; i++)
			for (int after = 0; after < 2; after++) {
				char *plan = NULL;
				uint64_t steps = 0;
				struct spok_err err = {0};

				assert_int_equal(spok_store_page_plan(f->s, &cases[i], 10, after, &plan,
								      &steps, &err), 0);
				if (strstr(plan, "INDEX") == NULL || strstr(plan, "SCAN executions\n") != NULL)
					fail_msg("case %zu (after %d): no index:\n%s", i, after, plan);
				free(plan);
				if (size == 0)
					small[after][i] = steps;
				else if (steps > 2 * small[after][i] + 2000)
					fail_msg("case %zu (after %d): %llu VM steps at 30000 rows, %llu at "
						 "3000: the page reads rows beyond its size", i, after,
						 (unsigned long long)steps,
						 (unsigned long long)small[after][i]);
			}
	}
}

/* Pages filtered by a set (projects, phases) and another field give exactly the rows and
 * order of the filter applied to the full list, at every page size, through runs of equal
 * times. */
static void test_split_pages(void **state)
{
	struct fx *f = *state;
	const char *projects[] = {"ml", "etl", "web", "ops"};
	const char *scope[] = {"ml", "web", "ops"};
	const char *backends[] = {"kind", "local"};
	enum spok_phase phases[] = {SPOK_PHASE_QUEUED, SPOK_PHASE_RUNNING, SPOK_PHASE_SUCCEEDED,
				    SPOK_PHASE_ABORTED};
	struct spok_store_filter cases[] = {
		{.projects = scope, .nprojects = 3},
		{.phases = SPOK_STORE_PHASES_ACTIVE},
		{.projects = scope, .nprojects = 3, .phases = SPOK_STORE_PHASES_ACTIVE},
		{.phases = SPOK_STORE_PHASES_ACTIVE, .backend = "kind"},
		{.projects = scope + 1, .nprojects = 2, .backend = "local"},
	};
	char id[32];

	for (unsigned i = 0; i < 60; i++) {
		snprintf(id, sizeof(id), "sp-%02u", (i * 37) % 60);
		add(f->s, id, 1000 + (i % 7), projects[(i * 3) % 4], backends[i % 2], phases[(i * 5) % 4]);
	}
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct spok_store_filter *q = &cases[c];
		struct spok_execution *v = NULL;
		size_t n = 0;
		struct spok_buf want;

		assert_int_equal(spok_store_list(f->s, &v, &n, NULL), 0);
		spok_buf_init(&want, 0);
		for (size_t i = 0; i < n; i++) {
			bool in = true;

			if (q->projects) {
				in = false;
				for (size_t k = 0; k < q->nprojects; k++)
					in = in || strcmp(v[i].project, q->projects[k]) == 0;
			}
			in = in && (!q->backend || strcmp(v[i].backend, q->backend) == 0);
			in = in && (!q->phases || (q->phases & SPOK_STORE_PHASE(v[i].phase)));
			if (in)
				spok_buf_printf(&want, "%s%s", want.len ? " " : "", v[i].id);
		}
		spok_execution_list_free(v, n);
		assert_true(want.len > 0);
		for (size_t limit = 1; limit <= 8; limit++) {
			size_t pages;
			char *got = walk(f->s, q, limit, &pages);

			if (strcmp(got, want.data) != 0)
				fail_msg("case %zu limit %zu: got '%s', want '%s'", c, limit, got, want.data);
			free(got);
		}
		spok_buf_free(&want);
	}
}

/* Rows created while a client pages never shift the pages it has not read yet. */
static void test_new_rows_do_not_shift(void **state)
{
	struct fx *f = *state;
	struct spok_execution *v = NULL;
	size_t n = 0;
	char *next = NULL, *next2 = NULL;

	for (int i = 0; i < 6; i++) {
		char id[16];
		snprintf(id, sizeof(id), "sp-%d", i);
		add(f->s, id, 100 + i, "p", "local", SPOK_PHASE_QUEUED);
	}
	assert_int_equal(spok_store_list_page(f->s, NULL, 2, NULL, &v, &n, &next, NULL), 0);
	assert_string_equal(v[1].id, "sp-4");
	spok_execution_list_free(v, n);
	add(f->s, "sp-new", 200, "p", "local", SPOK_PHASE_QUEUED);
	add(f->s, "sp-0a", 100, "p", "local", SPOK_PHASE_QUEUED); /* behind the cursor: seen */
	assert_int_equal(spok_store_list_page(f->s, NULL, 3, next, &v, &n, &next2, NULL), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].id, "sp-3");
	assert_string_equal(v[1].id, "sp-2");
	assert_string_equal(v[2].id, "sp-1");
	spok_execution_list_free(v, n);
	free(next);
	next = next2;
	assert_int_equal(spok_store_list_page(f->s, NULL, 3, next, &v, &n, &next2, NULL), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].id, "sp-0");
	assert_string_equal(v[1].id, "sp-0a");
	assert_null(next2);
	spok_execution_list_free(v, n);
	free(next);
}

static void test_cursor_tampering(void **state)
{
	struct fx *f = *state;
	struct spok_execution *v = NULL;
	size_t n = 0;
	char *next = NULL, *nn = NULL;
	struct spok_err err = {0};

	for (int i = 0; i < 3; i++) {
		char id[16];
		snprintf(id, sizeof(id), "sp-%d", i);
		add(f->s, id, 1700000000000 + i, "p", "local", SPOK_PHASE_QUEUED);
	}
	assert_int_equal(spok_store_list_page(f->s, NULL, 1, NULL, &v, &n, &next, NULL), 0);
	spok_execution_list_free(v, n);
	assert_non_null(next);
	size_t len = strlen(next);
	char *bad[16];
	size_t nb = 0;
	/* every single-character edit, plus truncations and foreign strings */
	for (size_t i = 0; i < len && nb < 8; i += (len + 7) / 8) {
		bad[nb] = xstrdup(next);
		bad[nb][i] = bad[nb][i] == 'z' ? 'y' : 'z';
		nb++;
	}
	bad[nb++] = xstrndup(next, len - 1);
	bad[nb++] = xstrndup(next, len / 2);
	bad[nb++] = xstrdup("sp-1");
	bad[nb++] = xstrdup("...");
	bad[nb++] = xasprintf("%s%s", next, next);
	bad[nb++] = xstrdup("18bcfe56800..0000");
	bad[nb] = xmalloc(2000);
	memset(bad[nb], 'a', 1999);
	bad[nb++][1999] = '\0';
	for (size_t i = 0; i < nb; i++) {
		memset(&err, 0, sizeof(err));
		v = (void *)1;
		if (spok_store_list_page(f->s, NULL, 1, bad[i], &v, &n, &nn, &err) != SPOK_EINVAL)
			fail_msg("tampered cursor '%.80s' was accepted", bad[i]);
		assert_null(v);
		assert_null(nn);
		assert_true(strncmp(err.msg, "cursor: ", 8) == 0);
		assert_null(strchr(err.msg, '\n'));
		free(bad[i]);
	}
	/* the untouched cursor still works */
	assert_int_equal(spok_store_list_page(f->s, NULL, 5, next, &v, &n, &nn, &err), 0);
	assert_int_equal(n, 2);
	spok_execution_list_free(v, n);
	free(next);
}

static void test_counts(void **state)
{
	struct fx *f = *state;
	uint64_t c[SPOK_STORE_NPHASES];

	assert_int_equal(spok_store_count_by_phase(f->s, NULL, c, NULL), 0);
	for (size_t i = 0; i < SPOK_STORE_NPHASES; i++)
		assert_int_equal(c[i], 0);
	add(f->s, "sp-1", 1, "p", "kind", SPOK_PHASE_RUNNING);
	add(f->s, "sp-2", 1, "p", "kind", SPOK_PHASE_RUNNING);
	add(f->s, "sp-3", 1, "p", "local", SPOK_PHASE_RUNNING);
	add(f->s, "sp-4", 1, "p", "kind", SPOK_PHASE_SUCCEEDED);
	assert_int_equal(spok_store_count_by_phase(f->s, NULL, c, NULL), 0);
	assert_int_equal(c[SPOK_PHASE_RUNNING], 3);
	assert_int_equal(c[SPOK_PHASE_SUCCEEDED], 1);
	assert_int_equal(c[SPOK_PHASE_QUEUED], 0);
	assert_int_equal(spok_store_count_by_phase(f->s, "kind", c, NULL), 0);
	assert_int_equal(c[SPOK_PHASE_RUNNING], 2);
	assert_int_equal(spok_store_count_by_phase(f->s, "none", c, NULL), 0);
	assert_int_equal(c[SPOK_PHASE_RUNNING], 0);
}

static void add_retry(struct spok_store *s, const char *id, uint32_t attempt, uint32_t max,
		      bool abort)
{
	struct spok_execution e = {0};

	add(s, id, 5, "p", "kind", SPOK_PHASE_QUEUED);
	assert_int_equal(spok_store_get(s, id, &e, NULL), 0);
	e.phase = SPOK_PHASE_RETRYABLE_FAILURE;
	e.attempt = attempt;
	e.max_attempts = max;
	assert_int_equal(spok_store_update(s, &e, NULL), 0);
	if (abort)
		assert_int_equal(spok_store_request_abort(s, id, NULL), 0);
	spok_execution_free(&e);
}

static void test_unfinished(void **state)
{
	struct fx *f = *state;
	struct spok_execution *v = NULL;
	size_t n = 0;

	add(f->s, "sp-run", 3, "p", "kind", SPOK_PHASE_RUNNING);
	add(f->s, "sp-q", 1, "p", "kind", SPOK_PHASE_QUEUED);
	add(f->s, "sp-undef", 2, "p", "kind", SPOK_PHASE_UNDEFINED);
	add(f->s, "sp-wait", 4, "p", "kind", SPOK_PHASE_WAITING_FOR_RESOURCES);
	add(f->s, "sp-init", 4, "p", "kind", SPOK_PHASE_INITIALIZING);
	add(f->s, "sp-tmo", 4, "p", "kind", SPOK_PHASE_TIMED_OUT);
	add(f->s, "sp-abt", 4, "p", "kind", SPOK_PHASE_ABORTED);
	add(f->s, "sp-done", 1, "p", "kind", SPOK_PHASE_SUCCEEDED);
	add(f->s, "sp-perm", 1, "p", "kind", SPOK_PHASE_PERMANENT_FAILURE);
	add(f->s, "sp-other", 1, "p", "local", SPOK_PHASE_RUNNING);
	add_retry(f->s, "sp-retry", 0, 3, false);
	add_retry(f->s, "sp-spent", 2, 3, false);
	add_retry(f->s, "sp-aborted", 0, 3, true);
	assert_int_equal(spok_store_list_unfinished(f->s, "kind", &v, &n, NULL), 0);
	assert_int_equal(n, 6);
	assert_string_equal(v[0].id, "sp-q"); /* oldest first */
	assert_string_equal(v[1].id, "sp-undef");
	assert_string_equal(v[2].id, "sp-run");
	assert_string_equal(v[3].id, "sp-init");
	assert_string_equal(v[4].id, "sp-wait");
	assert_string_equal(v[5].id, "sp-retry");
	/* the same rule as the engine's needs_work: every row returned is non-terminal or a
	 * retryable failure with attempts left */
	for (size_t i = 0; i < n; i++)
		assert_true(!spok_phase_terminal(v[i].phase) ||
			    (v[i].phase == SPOK_PHASE_RETRYABLE_FAILURE && v[i].attempt + 1 < v[i].max_attempts));
	spok_execution_list_free(v, n);
	assert_int_equal(spok_store_list_unfinished(f->s, NULL, &v, &n, NULL), 0);
	assert_int_equal(n, 7);
	spok_execution_list_free(v, n);
	assert_int_equal(spok_store_list_unfinished(f->s, "none", &v, &n, NULL), 0);
	assert_null(v);
	assert_int_equal(n, 0);
}

/* Abort requests still to act on: requested, this backend, not terminal yet. */
static int cmp_exec_id(const void *a, const void *b)
{
	return strcmp(((const struct spok_execution *)a)->id, ((const struct spok_execution *)b)->id);
}

/* A rescan's read: the unfinished rows of a backend whose supervisor (pid and start time)
 * is not the caller, whatever side of it in the index they sort on. */
static void test_unfinished_others(void **state)
{
	struct fx *f = *state;
	struct spok_proc_id none = {0}, self = {.pid = 100, .start = 7};
	struct spok_proc_id sups[] = {{50, 1}, {100, 7}, {100, 0}, {100, 9}, {200, 3}, {100, 7}};
	const char *ids[] = {"sp-low", "sp-mine", "sp-zero", "sp-later", "sp-high", "sp-mine2"};
	struct spok_execution *v = NULL;
	size_t n = 0;
	char *got = NULL;

	for (size_t i = 0; i < 6; i++) {
		add(f->s, ids[i], (int64_t)i, "p", "kind", SPOK_PHASE_RUNNING);
		assert_int_equal(spok_store_claim(f->s, ids[i], none, sups[i], NULL), 0);
	}
	add(f->s, "sp-done", 9, "p", "kind", SPOK_PHASE_SUCCEEDED);
	assert_int_equal(spok_store_claim(f->s, "sp-done", none, sups[0], NULL), 0);
	add(f->s, "sp-elsewhere", 9, "p", "local", SPOK_PHASE_RUNNING);
	assert_int_equal(spok_store_list_unfinished_others(f->s, "kind", self, &v, &n, NULL), 0);
	assert_int_equal(n, 4);
	qsort(v, n, sizeof(*v), cmp_exec_id);
	for (size_t i = 0; i < n; i++) {
		char *next = xasprintf("%s%s%s", got ? got : "", got ? " " : "", v[i].id);

		free(got);
		got = next;
	}
	assert_string_equal(got, "sp-high sp-later sp-low sp-zero");
	free(got);
	spok_execution_list_free(v, n);
}

static void test_abort_requests(void **state)
{
	struct fx *f = *state;
	struct spok_strv ids = {0};

	add(f->s, "sp-a1", 1, "p", "kind", SPOK_PHASE_RUNNING);
	add(f->s, "sp-a2", 1, "p", "kind", SPOK_PHASE_QUEUED);
	add(f->s, "sp-a3", 1, "p", "kind", SPOK_PHASE_ABORTED);
	add(f->s, "sp-a4", 1, "p", "other", SPOK_PHASE_RUNNING);
	add(f->s, "sp-a5", 1, "p", "kind", SPOK_PHASE_RUNNING);
	assert_int_equal(spok_store_abort_requests(f->s, "kind", &ids, NULL), 0);
	assert_int_equal(ids.len, 0);
	for (const char *const *id = (const char *const[]){"sp-a1", "sp-a2", "sp-a3", "sp-a4", NULL};
	     *id; id++)
		assert_int_equal(spok_store_request_abort(f->s, *id, NULL), 0);
	assert_int_equal(spok_store_abort_requests(f->s, "kind", &ids, NULL), 0);
	assert_int_equal(ids.len, 2);
	assert_string_equal(ids.items[0], "sp-a1");
	assert_string_equal(ids.items[1], "sp-a2");
	spok_strv_free(&ids);
}

static void add_ns(struct spok_store *s, const char *id, const char *backend, const char *ns,
		   const char *res, enum spok_phase ph, const char *source)
{
	struct spok_execution e = {0};

	e.id = xstrdup(id);
	e.backend = xstrdup(backend);
	e.namespace_ = ns ? xstrdup(ns) : NULL;
	e.resource_name = res ? xstrdup(res) : NULL;
	e.task_source = source ? xstrdup(source) : NULL;
	e.phase = ph;
	e.max_attempts = 1;
	e.created_ms = 10;
	assert_int_equal(spok_store_insert(s, &e, NULL), 0);
	spok_execution_free(&e);
}

static void test_namespaces_and_sources(void **state)
{
	struct fx *f = *state;
	struct spok_strv ns = {0};
	uint32_t done = SPOK_STORE_PHASE(SPOK_PHASE_SUCCEEDED);

	add_ns(f->s, "sp-1", "kind", "b", "app1", SPOK_PHASE_SUCCEEDED, "/t/k-aa.json");
	add_ns(f->s, "sp-2", "kind", "a", "app2", SPOK_PHASE_SUCCEEDED, "/t/k-bb.yaml");
	add_ns(f->s, "sp-3", "kind", "b", "app3", SPOK_PHASE_SUCCEEDED, "/t/r-cc.json");
	add_ns(f->s, "sp-4", "kind", "c", NULL, SPOK_PHASE_SUCCEEDED, "/t/k");
	add_ns(f->s, "sp-5", "kind", "d", "app5", SPOK_PHASE_RUNNING, "/t/k-\xff.json");
	add_ns(f->s, "sp-6", "other", "e", "app6", SPOK_PHASE_SUCCEEDED, "/tt/k-dd.json");
	assert_int_equal(spok_store_namespaces(f->s, "kind", done, false, &ns, NULL), 0);
	assert_int_equal(ns.len, 2);
	assert_string_equal(ns.items[0], "a");
	assert_string_equal(ns.items[1], "b");
	spok_strv_free(&ns);
	assert_int_equal(spok_store_namespaces(f->s, "kind", 0, false, &ns, NULL), 0);
	assert_int_equal(ns.len, 3);
	spok_strv_free(&ns);
	/* direct submissions' namespaces apart (they are watched on pods) */
	assert_int_equal(spok_store_namespaces(f->s, "kind", done, true, &ns, NULL), 0);
	assert_int_equal(ns.len, 0);
	spok_strv_free(&ns);
	{
		struct spok_execution e = {0};

		e.id = xstrdup("sp-7");
		e.backend = xstrdup("kind");
		e.namespace_ = xstrdup("f");
		e.resource_name = xstrdup("app7");
		e.submission = xstrdup("direct");
		e.phase = SPOK_PHASE_SUCCEEDED;
		e.max_attempts = 1;
		assert_int_equal(spok_store_insert(f->s, &e, NULL), 0);
		spok_execution_free(&e);
		assert_int_equal(spok_store_get(f->s, "sp-7", &e, NULL), 0);
		assert_string_equal(e.submission, "direct");
		spok_execution_free(&e);
	}
	assert_int_equal(spok_store_namespaces(f->s, "kind", done, true, &ns, NULL), 0);
	assert_int_equal(ns.len, 1);
	assert_string_equal(ns.items[0], "f");
	spok_strv_free(&ns);
	assert_int_equal(spok_store_namespaces(f->s, "kind", done, false, &ns, NULL), 0);
	assert_int_equal(ns.len, 2);
	spok_strv_free(&ns);

}

/* The query plans use the v2 indexes (a plan, not a timing). */
static void assert_plan(const char *path, const char *sql, const char *index)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	struct spok_buf b;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	char *q = xasprintf("EXPLAIN QUERY PLAN %s", sql);
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	spok_buf_init(&b, 0);
	while (sqlite3_step(st) == SQLITE_ROW)
		spok_buf_printf(&b, "%s\n", (const char *)sqlite3_column_text(st, 3));
	if (b.data == NULL || strstr(b.data, index) == NULL)
		fail_msg("%s: plan does not use %s:\n%s", sql, index, b.data ? b.data : "");
	spok_buf_free(&b);
	sqlite3_finalize(st);
	free(q);
	sqlite3_close(db);
}

static const char v1_schema[] =
	"CREATE TABLE executions ("
	" id TEXT PRIMARY KEY NOT NULL, task_name TEXT, project TEXT, domain TEXT,"
	" backend TEXT NOT NULL DEFAULT 'local', namespace TEXT, resource_name TEXT,"
	" attempt INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL DEFAULT 1,"
	" phase TEXT NOT NULL DEFAULT 'UNDEFINED', phase_version INTEGER NOT NULL DEFAULT 0,"
	" reason TEXT, error_message TEXT,"
	" created_ms INTEGER NOT NULL DEFAULT 0, started_ms INTEGER NOT NULL DEFAULT 0,"
	" finished_ms INTEGER NOT NULL DEFAULT 0, exit_code INTEGER,"
	" pid INTEGER NOT NULL DEFAULT 0, pgid INTEGER NOT NULL DEFAULT 0,"
	" proc_start INTEGER NOT NULL DEFAULT 0, supervisor_pid INTEGER NOT NULL DEFAULT 0,"
	" abort_requested INTEGER NOT NULL DEFAULT 0,"
	" spark_app_id TEXT, ui_url TEXT, history_url TEXT, event_log_dir TEXT,"
	" log_path TEXT, run_dir TEXT, task_source TEXT, links_json TEXT, outputs_json TEXT);"
	"CREATE INDEX executions_created ON executions(created_ms);"
	"CREATE TABLE attempts ("
	" execution_id TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,"
	" attempt INTEGER NOT NULL, phase TEXT NOT NULL, reason TEXT,"
	" started_ms INTEGER NOT NULL DEFAULT 0, finished_ms INTEGER NOT NULL DEFAULT 0,"
	" exit_code INTEGER, log_path TEXT, PRIMARY KEY (execution_id, attempt));"
	"INSERT INTO executions (id, project, backend, phase, created_ms, task_name)"
	" VALUES ('sp-old1', 'ml', 'kind', 'RUNNING', 5, 'pi'),"
	" ('sp-old2', 'ml', 'kind', 'SUCCEEDED', 6, 'pi');"
	"INSERT INTO attempts (execution_id, attempt, phase) VALUES ('sp-old1', 0, 'RUNNING');"
	"PRAGMA user_version = 1;";

static int user_version(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int v;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void test_migrate_from_v1(void **state)
{
	struct fx *f = *state;
	struct spok_execution *v = NULL, x = {0};
	struct spok_attempt *a = NULL;
	size_t n = 0, na = 0;
	uint64_t c[SPOK_STORE_NPHASES];
	sqlite3 *db;
	struct spok_err err = {0};

	/* replace the fixture's fresh v2 database with a v1 one holding rows */
	spok_store_close(f->s);
	f->s = NULL;
	unlink(f->path);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, v1_schema, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(user_version(f->path), 1);

	assert_int_equal(spok_store_open(f->dir, &f->s, &err), 0);
	assert_int_equal(user_version(f->path), SPOK_STORE_SCHEMA_VERSION);
	assert_int_equal(spok_store_get(f->s, "sp-old1", &x, NULL), 0);
	assert_string_equal(x.task_name, "pi");
	assert_int_equal(x.supervisor_start, 0); /* v4: not known for rows written before */
	spok_execution_free(&x);
	assert_int_equal(spok_store_attempts(f->s, "sp-old1", &a, &na, NULL), 0);
	assert_int_equal(na, 1);
	spok_attempts_free(a, na);
	assert_int_equal(spok_store_list_unfinished(f->s, "kind", &v, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id, "sp-old1");
	spok_execution_list_free(v, n);
	assert_int_equal(spok_store_count_by_phase(f->s, "kind", c, NULL), 0);
	assert_int_equal(c[SPOK_PHASE_SUCCEEDED], 1);
	/* new rows land in the migrated table and page with the old ones */
	add(f->s, "sp-new", 7, "ml", "kind", SPOK_PHASE_QUEUED);
	size_t pages;
	char *got = walk(f->s, NULL, 1, &pages);
	assert_string_equal(got, "sp-new sp-old2 sp-old1");
	free(got);
	/* reopening a current database changes nothing */
	spok_store_close(f->s);
	assert_int_equal(spok_store_open(f->dir, &f->s, &err), 0);
	assert_int_equal(user_version(f->path), SPOK_STORE_SCHEMA_VERSION);

	assert_plan(f->path, "SELECT id FROM executions WHERE created_ms <= 5 AND (created_ms < 5"
		    " OR id > 'x') ORDER BY created_ms DESC, id LIMIT 10", "executions_page");
	assert_plan(f->path, "SELECT id FROM executions WHERE project = 'ml' ORDER BY created_ms"
		    " DESC, id LIMIT 10", "executions_project");
	assert_plan(f->path, "SELECT phase, count(*) FROM executions WHERE backend = 'kind' GROUP BY"
		    " phase", "executions_backend_phase");
	/* spok_store_list_unfinished names the partial index; this fails to prepare if the
	 * expression stops matching it */
	assert_plan(f->path, "SELECT id FROM executions INDEXED BY executions_unfinished WHERE"
		    " (phase IN ('UNDEFINED', 'QUEUED',"
		    " 'WAITING_FOR_RESOURCES', 'INITIALIZING', 'RUNNING') OR (phase = 'RETRYABLE_FAILURE'"
		    " AND attempt < max_attempts - 1 AND abort_requested = 0)) AND backend = 'kind'"
		    " ORDER BY created_ms, id", "executions_unfinished");
	/* spok_store_list_unfinished_others: range searches of the supervisor index */
	assert_plan(f->path, "SELECT id FROM executions INDEXED BY executions_unfinished_sup WHERE"
		    " (phase IN ('UNDEFINED', 'QUEUED',"
		    " 'WAITING_FOR_RESOURCES', 'INITIALIZING', 'RUNNING') OR (phase = 'RETRYABLE_FAILURE'"
		    " AND attempt < max_attempts - 1 AND abort_requested = 0)) AND backend = 'kind'"
		    " AND supervisor_pid = 1 AND supervisor_start < 2",
		    "executions_unfinished_sup (backend=? AND supervisor_pid=? AND supervisor_start<?)");
	assert_plan(f->path, "SELECT id FROM executions WHERE idempotency_key = 'k'",
		    "executions_idempotency");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pages_equal_times, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_and_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_page_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_rows_do_not_shift, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cursor_tampering, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unfinished, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unfinished_others, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_namespaces_and_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_from_v1, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
