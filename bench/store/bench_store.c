/* bench_store.c - the execution store at scale: inserts (one transaction per row, as the
 * engine writes, and 1000-row transactions), then each reader the daemon, engine and CLI
 * use, old way (full spok_store_list + work in memory) against the indexed call, in one
 * run, printed as a table with ratios. --scale SMALL:BIG times the readers the daemon uses
 * at a small and a large store in one run (the ratio is what grows with the row count) and
 * measures database growth per execution; --loop runs one reader on a kept database for a
 * profiler. See bench/README.md. */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "store/store.h"

#define PAGE 100

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const struct spok_err *err)
{
	fprintf(stderr, "bench_store: %s: %s\n", what, err ? err->msg : "failed");
	exit(1);
}

/* Row i of a realistic mix: 3 backends, 10 projects, ~1% unfinished, timestamps shared by
 * 3 rows at a time (a burst of submissions within one millisecond). */
static void make_row(struct spok_execution *e, size_t i)
{
	static const enum spok_phase done[] = {SPOK_PHASE_SUCCEEDED, SPOK_PHASE_SUCCEEDED,
		SPOK_PHASE_SUCCEEDED, SPOK_PHASE_PERMANENT_FAILURE, SPOK_PHASE_ABORTED,
		SPOK_PHASE_TIMED_OUT, SPOK_PHASE_RETRYABLE_FAILURE};
	char id[SPOK_EXEC_ID_LEN + 1];

	memset(e, 0, sizeof(*e));
	snprintf(id, sizeof(id), "sp-%010zu", i);
	e->id = xstrdup(id);
	e->task_name = xasprintf("etl.daily_job_%zu", i % 50);
	e->project = xasprintf("project-%zu", i % 10);
	e->domain = xstrdup("production");
	e->backend = xstrdup(i % 10 < 7 ? "kind" : i % 10 < 9 ? "local" : "other");
	e->namespace_ = xasprintf("project-%zu-production", i % 10);
	e->resource_name = xasprintf("%s-0", id);
	e->max_attempts = 3;
	e->attempt = i % 7 == 6 ? 2 : 0;
	e->phase = i % 97 == 0 ? SPOK_PHASE_RUNNING : i % 89 == 0 ? SPOK_PHASE_QUEUED
		 : done[i % 7];
	e->reason = xstrdup("SparkApplication COMPLETED: driver pod succeeded");
	e->created_ms = 1700000000000 + (int64_t)(i / 3);
	e->started_ms = e->created_ms + 1500;
	e->finished_ms = e->created_ms + 120000;
	e->log_path = xasprintf("/var/lib/spok/runs/%s/driver-0.log", id);
	e->run_dir = xasprintf("/var/lib/spok/runs/%s", id);
	e->task_source = xasprintf("/var/lib/spok/tasks/r-%s.yaml", id + 3);
	e->links_json = xasprintf("[{\"name\":\"Spark UI\",\"uri\":\"https://spark.example/%s\"}]", id);
}

static double insert_per_row(struct spok_store *s, size_t from, size_t to)
{
	double t0 = now_s();
	struct spok_err err = {0};

	for (size_t i = from; i < to; i++) {
		struct spok_execution e;

		make_row(&e, i);
		if (spok_store_insert(s, &e, &err) != 0)
			die("insert", &err);
		spok_execution_free(&e);
	}
	return now_s() - t0;
}

/* The same rows through a second connection in 1000-row transactions (what a batching
 * writer could do; spok's writers commit each row). */
static double insert_batched(const char *path, size_t from, size_t to)
{
	static const char *cols = "id, task_name, project, domain, backend, namespace, resource_name,"
		" attempt, max_attempts, phase, reason, created_ms, started_ms, finished_ms, log_path,"
		" run_dir, task_source, links_json";
	sqlite3 *db;
	sqlite3_stmt *st;
	char *sql = xasprintf("INSERT INTO executions (%s) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", cols);
	sqlite3_stmt *at;
	double t0 = now_s();

	if (sqlite3_open(path, &db) != SQLITE_OK || sqlite3_exec(db, "PRAGMA synchronous=NORMAL", 0, 0, 0) ||
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO attempts (execution_id, attempt, phase, reason,"
			       " started_ms, finished_ms, log_path) VALUES (?,?,?,?,?,?,?)", -1, &at,
			       NULL) != SQLITE_OK)
		die("batched insert", NULL);
	for (size_t i = from; i < to; i++) {
		struct spok_execution e;
		int k = 1;

		if ((i - from) % 1000 == 0)
			sqlite3_exec(db, i == from ? "BEGIN" : "COMMIT; BEGIN", 0, 0, 0);
		make_row(&e, i);
		const char *txt[] = {e.id, e.task_name, e.project, e.domain, e.backend, e.namespace_,
				     e.resource_name};
		for (size_t j = 0; j < 7; j++)
			sqlite3_bind_text(st, k++, txt[j], -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, k++, e.attempt);
		sqlite3_bind_int64(st, k++, e.max_attempts);
		sqlite3_bind_text(st, k++, spok_phase_name(e.phase), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, k++, e.reason, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, k++, e.created_ms);
		sqlite3_bind_int64(st, k++, e.started_ms);
		sqlite3_bind_int64(st, k++, e.finished_ms);
		const char *txt2[] = {e.log_path, e.run_dir, e.task_source, e.links_json};
		for (size_t j = 0; j < 4; j++)
			sqlite3_bind_text(st, k++, txt2[j], -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) != SQLITE_DONE)
			die("batched insert", NULL);
		sqlite3_reset(st);
		sqlite3_bind_text(at, 1, e.id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(at, 2, e.attempt);
		sqlite3_bind_text(at, 3, spok_phase_name(e.phase), -1, SQLITE_STATIC);
		sqlite3_bind_text(at, 4, e.reason, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(at, 5, e.started_ms);
		sqlite3_bind_int64(at, 6, e.finished_ms);
		sqlite3_bind_text(at, 7, e.log_path, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(at) != SQLITE_DONE)
			die("batched insert (attempt)", NULL);
		sqlite3_reset(at);
		spok_execution_free(&e);
	}
	sqlite3_exec(db, "COMMIT; PRAGMA wal_checkpoint(TRUNCATE)", 0, 0, 0);
	sqlite3_finalize(st);
	sqlite3_finalize(at);
	sqlite3_close(db);
	free(sql);
	return now_s() - t0;
}

/* ---- the readers, old and new ---- */

struct ctx {
	struct spok_store *s;
	char *cursor_499; /* where page 500 starts */
	void *raw;        /* scale mode: struct rawq, a second connection */
	size_t sink;      /* results, so no work is optimised away */
};

static bool needs_work(const struct spok_execution *x)
{
	if (!spok_phase_terminal(x->phase))
		return true;
	return x->phase == SPOK_PHASE_RETRYABLE_FAILURE && x->attempt + 1 < x->max_attempts &&
	       !x->abort_requested;
}

static void full_list(struct ctx *c, struct spok_execution **v, size_t *n)
{
	struct spok_err err = {0};

	if (spok_store_list(c->s, v, n, &err) != 0)
		die("list", &err);
}

static void old_page(struct ctx *c, size_t skip)
{
	struct spok_execution *v;
	size_t n;

	full_list(c, &v, &n);
	c->sink += n > skip ? (n - skip < PAGE ? n - skip : PAGE) : 0;
	spok_execution_list_free(v, n);
}

static void old_first(struct ctx *c) { old_page(c, 0); }
static void old_p500(struct ctx *c) { old_page(c, 499 * PAGE); }

static void old_count(struct ctx *c)
{
	struct spok_execution *v;
	size_t n, by[SPOK_STORE_NPHASES] = {0};

	full_list(c, &v, &n);
	for (size_t i = 0; i < n; i++)
		by[v[i].phase]++;
	c->sink += by[SPOK_PHASE_RUNNING];
	spok_execution_list_free(v, n);
}

static void old_unfinished(struct ctx *c)
{
	struct spok_execution *v;
	size_t n;

	full_list(c, &v, &n);
	for (size_t i = 0; i < n; i++)
		c->sink += v[i].backend && strcmp(v[i].backend, "kind") == 0 && needs_work(&v[i]);
	spok_execution_list_free(v, n);
}

static void new_page(struct ctx *c, const char *cursor)
{
	struct spok_execution *v;
	size_t n;
	char *next = NULL;
	struct spok_err err = {0};

	if (spok_store_list_page(c->s, NULL, PAGE, cursor, &v, &n, &next, &err) != 0)
		die("page", &err);
	c->sink += n;
	spok_execution_list_free(v, n);
	free(next);
}

static void new_first(struct ctx *c) { new_page(c, NULL); }
static void new_p500(struct ctx *c) { new_page(c, c->cursor_499); }

static void new_count(struct ctx *c)
{
	uint64_t by[SPOK_STORE_NPHASES];
	struct spok_err err = {0};

	if (spok_store_count_by_phase(c->s, NULL, by, &err) != 0)
		die("count", &err);
	c->sink += by[SPOK_PHASE_RUNNING];
}

static void new_unfinished(struct ctx *c)
{
	struct spok_execution *v;
	size_t n;
	struct spok_err err = {0};

	if (spok_store_list_unfinished(c->s, "kind", &v, &n, &err) != 0)
		die("unfinished", &err);
	c->sink += n;
	spok_execution_list_free(v, n);
}

/* The cursor after page 499 (pages are not timed here). */
static char *cursor_after(struct spok_store *s, size_t pages)
{
	char *cur = NULL;
	struct spok_err err = {0};

	for (size_t p = 0; p < pages; p++) {
		struct spok_execution *v;
		size_t n;
		char *next = NULL;

		if (spok_store_list_page(s, NULL, PAGE, cur, &v, &n, &next, &err) != 0)
			die("page walk", &err);
		spok_execution_list_free(v, n);
		free(cur);
		cur = next;
		if (!cur)
			break;
	}
	return cur;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Median of reps runs, in ms. */
static double time_ms(void (*fn)(struct ctx *), struct ctx *c, int reps)
{
	double t[32];

	for (int i = 0; i < reps; i++) {
		double t0 = now_s();
		fn(c);
		t[i] = (now_s() - t0) * 1000;
	}
	qsort(t, (size_t)reps, sizeof(t[0]), cmp_d);
	return t[reps / 2];
}

static long long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

/* ---- scale: the same readers at a small and a large store, in one run ---- */

static const char *const scope3[] = {"project-1", "project-4", "project-7"};

/* The pre-v6 readers, as raw SQL on a second connection: what count-by-phase and a
 * cluster's first page cost before the counters and the (backend, created_ms) index. */
struct rawq {
	sqlite3 *db;
	size_t sink;
};

static void raw_run(struct rawq *r, const char *sql)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		die(sqlite3_errmsg(r->db), NULL);
	while (sqlite3_step(st) == SQLITE_ROW)
		r->sink += (size_t)sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
}

#define ALL_COLS "id, task_name, project, domain, backend, namespace, resource_name, attempt," \
	" max_attempts, phase, phase_version, reason, error_message, created_ms, started_ms,"    \
	" finished_ms, exit_code, pid, pgid, proc_start, supervisor_pid, supervisor_start,"      \
	" abort_requested, spark_app_id, ui_url, history_url, event_log_dir, log_path, run_dir,"  \
	" task_source, links_json, outputs_json, idempotency_key"

static void old_count_sql(struct ctx *c)
{
	raw_run((struct rawq *)c->raw, "SELECT phase, count(*) FROM executions GROUP BY phase");
}

/* A cluster's first page as v5 read it: only the (backend, phase) index, then a sort. */
static void old_backend_sql(struct ctx *c)
{
	raw_run((struct rawq *)c->raw, "SELECT " ALL_COLS " FROM executions INDEXED BY"
		" executions_backend_phase WHERE backend = 'kind' ORDER BY created_ms DESC, id"
		" LIMIT 101");
}

static void page_with(struct ctx *c, const struct spok_store_filter *f)
{
	struct spok_execution *v;
	size_t n;
	char *next = NULL;
	struct spok_err err = {0};

	if (spok_store_list_page(c->s, f, PAGE, NULL, &v, &n, &next, &err) != 0)
		die("page", &err);
	c->sink += n;
	spok_execution_list_free(v, n);
	free(next);
}

static void new_scope(struct ctx *c)
{
	struct spok_store_filter f = {.projects = scope3, .nprojects = 3};
	page_with(c, &f);
}

static void new_active(struct ctx *c)
{
	struct spok_store_filter f = {.phases = SPOK_STORE_PHASES_ACTIVE};
	page_with(c, &f);
}

static void new_backend(struct ctx *c)
{
	struct spok_store_filter f = {.backend = "kind"};
	page_with(c, &f);
}

static const struct reader {
	const char *name;
	void (*fn)(struct ctx *);
} readers[] = {
	{"count-by-phase (v6 counters)", new_count},
	{"count-by-phase (v5 GROUP BY)", old_count_sql},
	{"first page, all", new_first},
	{"first page, 3-project scope", new_scope},
	{"first page, active phases", new_active},
	{"first page, cluster kind", new_backend},
	{"  same, v5 (backend, phase) index", old_backend_sql},
	{"unfinished scan (kind)", new_unfinished},
};
#define NREADERS (sizeof(readers) / sizeof(readers[0]))

/* Executions written as the engine writes them: insert (QUEUED), update (RUNNING), update
 * (the final phase; each update also upserts the attempt row). */
static double insert_lifecycle(struct spok_store *s, size_t from, size_t to)
{
	double t0 = now_s();
	struct spok_err err = {0};

	for (size_t i = from; i < to; i++) {
		struct spok_execution e;
		enum spok_phase final;

		make_row(&e, i);
		final = e.phase;
		e.phase = SPOK_PHASE_QUEUED;
		if (spok_store_insert(s, &e, &err) != 0)
			die("insert", &err);
		e.phase = SPOK_PHASE_RUNNING;
		if (spok_store_update(s, &e, &err) != 0)
			die("update", &err);
		e.phase = final;
		if (spok_store_update(s, &e, &err) != 0)
			die("update", &err);
		spok_execution_free(&e);
	}
	return now_s() - t0;
}

/* The database's size once the write-ahead log is merged into it. */
static long long db_bytes(struct rawq *r, const char *path)
{
	sqlite3_exec(r->db, "PRAGMA wal_checkpoint(TRUNCATE)", 0, 0, 0);
	return file_size(path);
}

static int run_scale(size_t small, size_t big, int reps, const char *keep)
{
	char dir[] = "/tmp/spok-bench-store-XXXXXX";
	struct spok_err err = {0};
	struct ctx c = {0};
	struct rawq raw = {0};
	double at[2][NREADERS];

	if (!mkdtemp(dir))
		die(dir, NULL);
	char *path = xasprintf("%s/spok.db", dir);
	if (spok_store_open(dir, &c.s, &err) != 0 || sqlite3_open(path, &raw.db) != SQLITE_OK)
		die("open", &err);
	c.raw = &raw;
	long long empty = db_bytes(&raw, path);
	double t_life = insert_lifecycle(c.s, 0, small);
	long long at_small = db_bytes(&raw, path);
	printf("store scale bench: %zu -> %zu executions (x%.0f), schema v%d, SQLite %s, page %d, "
	       "medians of %d\n\n", small, big, (double)big / (double)small,
	       SPOK_STORE_SCHEMA_VERSION, sqlite3_libversion(), PAGE, reps);
	for (size_t i = 0; i < NREADERS; i++)
		at[0][i] = time_ms(readers[i].fn, &c, reps);
	double t_bulk = insert_batched(path, small, big);
	long long at_big = db_bytes(&raw, path);
	for (size_t i = 0; i < NREADERS; i++)
		at[1][i] = time_ms(readers[i].fn, &c, reps);

	printf("%-34s %12s %12s %9s\n", "reader (median ms)", "at small", "at big", "big/small");
	for (size_t i = 0; i < NREADERS; i++)
		printf("%-34s %12.3f %12.3f %8.1fx\n", readers[i].name, at[0][i], at[1][i],
		       at[0][i] > 0 ? at[1][i] / at[0][i] : 0.0);
	double growth_life = (double)(at_small - empty) / (double)small;
	double growth_bulk = (double)(at_big - at_small) / (double)(big - small);
	printf("\ngrowth: %.0f bytes/execution written as the engine does (insert + 2 updates + "
	       "attempt, %.0f executions/s); %.0f bytes/execution in bulk (%.0f/s); %.1f MiB at %zu\n",
	       growth_life, (double)small / t_life, growth_bulk, (double)(big - small) / t_bulk,
	       (double)at_big / 1048576.0, big);
	printf("summary: at %zu vs %zu executions: count-by-phase x%.2f (v5 GROUP BY x%.1f), first "
	       "page x%.2f, scoped first page x%.2f, cluster first page x%.2f (v5 x%.1f); %.0f "
	       "bytes/execution\n", big, small, at[1][0] / at[0][0], at[1][1] / at[0][1],
	       at[1][2] / at[0][2], at[1][3] / at[0][3], at[1][5] / at[0][5], at[1][6] / at[0][6],
	       growth_life);
	printf("(checksum %zu)\n", c.sink + raw.sink);
	sqlite3_close(raw.db);
	spok_store_close(c.s);
	if (keep) {
		if (rename(path, keep) != 0)
			die(keep, NULL);
		printf("kept %s\n", keep);
	}
	char *wal = xasprintf("%s-wal", path), *shm = xasprintf("%s-shm", path);
	unlink(path);
	unlink(wal);
	unlink(shm);
	rmdir(dir);
	free(wal);
	free(shm);
	free(path);
	return 0;
}

/* One reader n times on a kept database (--keep), for a profiler. */
static int run_loop(const char *db, const char *name, long n)
{
	struct spok_err err = {0};
	struct ctx c = {0};
	struct rawq raw = {0};

	if (spok_store_open_file(db, &c.s, &err) != 0 || sqlite3_open(db, &raw.db) != SQLITE_OK)
		die("open", &err);
	c.raw = &raw;
	for (size_t i = 0; i < NREADERS; i++) {
		if (strcmp(readers[i].name, name) != 0)
			continue;
		for (long k = 0; k < n; k++)
			readers[i].fn(&c);
		printf("%s x%ld (checksum %zu)\n", name, n, c.sink + raw.sink);
		sqlite3_close(raw.db);
		spok_store_close(c.s);
		return 0;
	}
	fprintf(stderr, "bench_store: --loop: no reader '%s'\n", name);
	return 2;
}

int main(int argc, char **argv)
{
	size_t n = 100000;
	int reps = 3;
	char dir[] = "/tmp/spok-bench-store-XXXXXX";
	struct spok_err err = {0};
	struct ctx c = {0};

	size_t small = 0, big = 0;
	const char *keep = NULL, *db = NULL, *loop = NULL;
	long loops = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			n = (size_t)strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
			reps = (int)strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--scale") == 0 && i + 1 < argc &&
			 sscanf(argv[++i], "%zu:%zu", &small, &big) == 2)
			;
		else if (strcmp(argv[i], "--keep") == 0 && i + 1 < argc)
			keep = argv[++i];
		else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
			db = argv[++i];
		else if (strcmp(argv[i], "--loop") == 0 && i + 2 < argc) {
			loop = argv[++i];
			loops = strtol(argv[++i], NULL, 10);
		} else {
			fprintf(stderr, "usage: bench_store [-n ROWS] [--reps R]\n"
				"       bench_store --scale SMALL:BIG [--reps R] [--keep DB]\n"
				"       bench_store --db DB --loop READER N\n");
			return 2;
		}
	}
	if (db && loop && loops > 0)
		return run_loop(db, loop, loops);
	if (small || big) {
		if (small < 100 || big <= small || reps < 1 || reps > 31) {
			fprintf(stderr, "bench_store: --scale needs 100 <= SMALL < BIG and --reps 1-31\n");
			return 2;
		}
		return run_scale(small, big, reps, keep);
	}
	if (n < 2 || reps < 1 || reps > 31) {
		fprintf(stderr, "bench_store: -n must be >= 2 and --reps 1-31\n");
		return 2;
	}
	if (!mkdtemp(dir))
		die(dir, NULL);
	char *path = xasprintf("%s/spok.db", dir), *wal = xasprintf("%s-wal", path),
	     *shm = xasprintf("%s-shm", path);
	if (spok_store_open(dir, &c.s, &err) != 0)
		die("open", &err);

	/* half the rows one transaction each, half in 1000-row transactions */
	size_t half = n / 2;
	double t_row = insert_per_row(c.s, 0, half);
	double t_batch = insert_batched(path, half, n);
	printf("store bench: %zu executions, schema v%d, SQLite %s, page size %d\n\n", n,
	       SPOK_STORE_SCHEMA_VERSION, sqlite3_libversion(), PAGE);
	printf("insert, 1 txn per row (spok_store_insert): %8.0f rows/s (%zu rows)\n",
	       (double)half / t_row, half);
	printf("insert, 1000 rows per txn (raw SQLite):    %8.0f rows/s (%zu rows)\n",
	       (double)(n - half) / t_batch, n - half);
	printf("database: %.1f MiB (+ WAL %.1f MiB)\n\n", (double)file_size(path) / 1048576.0,
	       (double)file_size(wal) / 1048576.0);

	c.cursor_499 = cursor_after(c.s, 499);
	struct {
		const char *name;
		void (*old_fn)(struct ctx *);
		void (*new_fn)(struct ctx *);
	} rows[] = {
		{"first page", old_first, new_first},
		{c.cursor_499 ? "page 500" : "page 500 (past the end)", old_p500, new_p500},
		{"count-by-phase", old_count, new_count},
		{"unfinished scan (kind)", old_unfinished, new_unfinished},
	};
	printf("%-26s %14s %14s %10s\n", "reader (median ms)", "full list", "indexed", "ratio");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		double o = time_ms(rows[i].old_fn, &c, reps), w = time_ms(rows[i].new_fn, &c, reps);

		printf("%-26s %14.3f %14.3f %9.0fx\n", rows[i].name, o, w, w > 0 ? o / w : 0.0);
	}
	printf("\n(checksum %zu)\n", c.sink);
	free(c.cursor_499);
	spok_store_close(c.s);
	unlink(path);
	unlink(wal);
	unlink(shm);
	rmdir(dir);
	free(path);
	free(wal);
	free(shm);
	return 0;
}
