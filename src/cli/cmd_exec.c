/* cmd_exec.c - looking at and stopping recorded executions: `spok list`, `spok status ID`,
 * `spok logs ID [-f]`, `spok abort ID`. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "backend/backend.h"
#include "cli/cli.h"
#include "cli/session.h"
#include "cli/watch.h"
#include "common/pid.h"
#include "common/termesc.h"
#include "common/timefmt.h"
#include "common/xalloc.h"
#include "local/local.h"
#include "store/store.h"

/* Parses flags, resolves the data dir and opens the store: the common head of every command
 * here. *pos gets the positional arguments. */
static int open_cmd(struct spok_cli *cli, int argc, char **argv, const struct spok_flag *flags,
		    const char *synopsis, size_t npos, struct spok_strv *pos, char **data_dir,
		    struct spok_store **st, struct spok_err *err)
{
	int result = spok_cli_parse(cli, argc, argv, flags, pos, err);
	*st = NULL;
	*data_dir = NULL;
	if (result != 0)
		return result;
	if (cli->help) {
		spok_cli_usage(synopsis, flags);
		return 1; /* handled */
	}
	if (pos->len != npos)
		return spok_err_set(err, SPOK_EINVAL, "%s: wrong number of arguments; usage: %s", argv[0], synopsis);
	result = spok_data_dir(cli->data_dir, data_dir, err);
	if (result == 0) /* read-only when this user may not write there: list/status still answer */
		result = spok_store_open_reader(*data_dir, st, err);
	return result;
}

static void human_duration(int64_t ms, char *buf, size_t len)
{
	int64_t s = ms / 1000;
	if (ms < 0)
		snprintf(buf, len, "-");
	else if (s < 120)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s < 7200)
		snprintf(buf, len, "%lldm%llds", (long long)(s / 60), (long long)(s % 60));
	else if (s < 172800)
		snprintf(buf, len, "%lldh%lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
	else
		snprintf(buf, len, "%lldd", (long long)(s / 86400));
}

static int64_t duration_of(const struct spok_execution *x, int64_t now)
{
	if (!x->started_ms)
		return -1;
	return (x->finished_ms ? x->finished_ms : now) - x->started_ms;
}

/* Human output shows text from job files and job output (names, reasons, app ids, paths):
 * every string of the row is made safe for a terminal first (common/termesc.h). JSON and
 * YAML output keep the raw values, escaped by their own rules. */
static void term_field(char **f)
{
	if (*f && !spok_term_clean(*f)) {
		char *safe = spok_term_line(*f);
		free(*f);
		*f = safe;
	}
}

static void term_exec(struct spok_execution *x)
{
	char **fields[] = {&x->id, &x->task_name, &x->project, &x->domain, &x->backend,
			   &x->namespace_, &x->resource_name, &x->reason, &x->error_message,
			   &x->spark_app_id, &x->ui_url, &x->history_url, &x->event_log_dir,
			   &x->log_path, &x->run_dir, &x->task_source, &x->outputs_json};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		term_field(fields[i]);
}

/* printf("%s") of a borrowed string that may come from a job: escaped, or "-" for NULL. */
static void put_safe(const char *s)
{
	char *safe = spok_term_line(s ? s : "-");
	fputs(safe, stdout);
	free(safe);
}

/* An unfinished run whose supervisor died is recorded as ended before it is shown (the
 * backend's settle: a local run's end), so no reader shows RUNNING forever. A failed write
 * is reported on stderr; the settled state is still shown. */
static void settle_rows(struct spok_store *st, struct spok_execution *v, size_t n)
{
	struct spok_backend_ctx ctx = {.store = st};

	for (size_t i = 0; i < n; i++) {
		struct spok_err e = {0};
		if (spok_backend_for(v[i].backend)->settle(&ctx, &v[i], &e) < 0)
			fprintf(stderr, "spok: %s\n", e.msg);
	}
}

/* ---- list ---- */

#define LIST_DEFAULT_LIMIT 100
#define LIST_PAGE 1000 /* --all reads pages of this many rows */

static void print_table_rows(struct spok_execution *v, size_t n, int64_t now)
{
	for (size_t i = 0; i < n; i++) {
		char age[32], dur[32], att[24];
		term_exec(&v[i]);
		human_duration(now - v[i].created_ms, age, sizeof(age));
		human_duration(duration_of(&v[i], now), dur, sizeof(dur));
		snprintf(att, sizeof(att), "%u/%u", v[i].attempt + 1, v[i].max_attempts);
		printf("%-14s %-24.24s %-20s %-8s %-8s %s\n", v[i].id, v[i].task_name ? v[i].task_name : "-",
		       spok_phase_name(v[i].phase), att, age, dur);
	}
}

struct list_opts {
	struct spok_store_filter f;
	size_t limit; /* 0 = --all */
};

static int list_parse(const char *limit, bool all, const char *phase, const char *project,
		      struct list_opts *o, struct spok_err *err)
{
	enum spok_phase ph;

	memset(o, 0, sizeof(*o));
	o->f.project = project;
	o->limit = all ? 0 : LIST_DEFAULT_LIMIT;
	if (limit && all)
		return spok_err_set(err, SPOK_EINVAL, "--limit: cannot be used with --all; pass one of them");
	if (limit) {
		char *end;
		unsigned long long l = strtoull(limit, &end, 10);
		if (*limit < '0' || *limit > '9' || *end || l == 0 || l > 1000000000ULL)
			return spok_err_set(err, SPOK_EINVAL, "--limit: '%.40s' is not a count of 1 or more; pass e.g. --limit 50, or --all", limit);
		o->limit = (size_t)l;
	}
	if (phase && strcasecmp(phase, "active") == 0)
		o->f.phases = SPOK_STORE_PHASES_ACTIVE;
	else if (phase && spok_phase_parse(phase, &ph))
		o->f.phases = SPOK_STORE_PHASE(ph);
	else if (phase)
		return spok_err_set(err, SPOK_EINVAL, "--phase: unknown phase '%.40s'; use e.g. RUNNING, SUCCEEDED or active", phase);
	return 0;
}

/* Newest first, a page at a time through the store's index: the default reads only the
 * rows it shows, and --all never holds more than one page of rows. */
static int list_run(struct spok_store *st, const struct list_opts *o, const char *output,
		    struct spok_err *err)
{
	json_t *a = output ? json_array() : NULL;
	char *cur = NULL;
	bool more = false;
	int64_t now = spok_now_ms();
	int result = 0;

	if (!output)
		printf("%-14s %-24s %-20s %-8s %-8s %s\n", "ID", "NAME", "PHASE", "ATTEMPT", "AGE", "DURATION");
	do {
		struct spok_execution *v = NULL;
		size_t n = 0;
		char *next = NULL;

		result = spok_store_list_page(st, &o->f, o->limit ? o->limit : LIST_PAGE, cur, &v, &n, &next, err);
		settle_rows(st, v, n);
		for (size_t i = 0; a && i < n; i++)
			json_array_append_new(a, cli_execution_json(&v[i]));
		if (!a)
			print_table_rows(v, n, now);
		spok_execution_list_free(v, n);
		free(cur);
		cur = next;
		more = next != NULL && o->limit != 0;
	} while (result == 0 && cur && o->limit == 0);
	free(cur);
	if (result == 0 && a)
		result = spok_cli_print(a, output, err);
	else if (result == 0 && more)
		fprintf(stderr, "(the newest %zu shown; --limit N or --all for more)\n", o->limit);
	json_decref(a);
	return result;
}

int cmd_list(struct spok_cli *cli, int argc, char **argv)
{
	const char *limit = NULL, *phase = NULL, *project = NULL;
	bool all = false;
	struct spok_flag flags[] = {
		{"limit", 0, &limit, NULL, NULL, "show the newest N executions (default 100)"},
		{"all", 0, NULL, &all, NULL, "show every execution"},
		{"phase", 0, &phase, NULL, NULL, "only this phase (e.g. RUNNING), or 'active' for unfinished"},
		{"project", 0, &project, NULL, NULL, "only this project"},
		{0},
	};
	struct spok_strv pos = {0};
	struct spok_store *st;
	struct spok_err err = {0};
	struct list_opts o;
	char *data_dir;
	int result = open_cmd(cli, argc, argv, flags,
			      "spok list [--limit N | --all] [--phase PHASE] [--project P] [-o json|yaml]",
			      0, &pos, &data_dir, &st, &err);

	if (result == 0)
		result = list_parse(limit, all, phase, project, &o, &err);
	if (result == 0)
		result = list_run(st, &o, cli->output, &err);
	spok_store_close(st);
	free(data_dir);
	spok_strv_free(&pos);
	if (result == 1)
		return 0;
	return result == 0 ? 0 : spok_cli_fail(&err);
}

/* ---- status ---- */

static void print_time(const char *label, int64_t ms)
{
	char buf[64];
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (!ms)
		return;
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%-11s %s\n", label, buf);
}

/* What one live read of a cluster execution found (all borrowed from the "live" JSON). */
struct live_view {
	bool asked;        /* a live read was tried */
	bool found;        /* the cluster has this execution's SparkApplication */
	const char *phase; /* live phase name, or NULL */
	bool recorded;     /* the store already holds the live phase */
	const char *reason;
	const char *spark_app_id;
	const char *ui_url;
	const json_t *links;
	const char *error; /* why the cluster could not be asked, or NULL */
};

static void live_view_of(const json_t *live, struct live_view *v)
{
	memset(v, 0, sizeof(*v));
	if (live == NULL)
		return;
	v->asked = true;
	v->error = json_string_value(json_object_get(live, "error"));
	v->found = json_is_true(json_object_get(live, "found"));
	v->phase = json_string_value(json_object_get(live, "phase"));
	v->recorded = json_is_true(json_object_get(live, "recorded"));
	v->reason = json_string_value(json_object_get(live, "reason"));
	v->spark_app_id = json_string_value(json_object_get(live, "spark_app_id"));
	v->ui_url = json_string_value(json_object_get(live, "ui_url"));
	v->links = json_object_get(live, "links");
}

/* Phase and reason: the live ones (marked as such) when the cluster answered, so a run that
 * nobody supervises is not shown stale; the stored ones otherwise. */
static void print_phase(const struct spok_execution *x, const struct live_view *v)
{
	if (v->found && v->phase && v->recorded) {
		printf("%-11s ", "Phase:");
		put_safe(v->phase);
		printf(" (live from the cluster)\n");
	} else if (v->found && v->phase) {
		printf("%-11s ", "Phase:");
		put_safe(v->phase);
		printf(" (live from the cluster; not yet recorded - run 'spok reconcile' to follow it)\n");
		printf("%-11s %s\n", "Recorded:", spok_phase_name(x->phase));
		if (v->reason) {
			printf("%-11s ", "Reason:");
			put_safe(v->reason);
			putchar('\n');
		}
		return;
	} else {
		printf("%-11s %s\n", "Phase:", spok_phase_name(x->phase));
	}
	if (x->reason)
		printf("%-11s %s\n", "Reason:", x->reason);
}

/* The line a user reads when the live read did not give a phase. */
static void print_live_warning(const struct spok_execution *x, const struct live_view *v)
{
	bool direct = spok_execution_direct(x); /* its object is the driver pod */
	const char *kind = direct ? "driver pod" : "SparkApplication";

	if (v->error) {
		printf("%-11s cannot read the %s from cluster %s: ", "Warning:", kind, x->backend);
		put_safe(v->error);
		printf("; showing the stored state\n");
	}
	else if (v->asked && !v->found)
		printf("%-11s cluster %s has no %s %s/%s%s (not created yet, or deleted); "
		       "'spok reconcile' records what happened\n", "Warning:", x->backend, kind,
		       x->namespace_ ? x->namespace_ : "-", x->resource_name ? x->resource_name : "-",
		       direct && x->resource_name ? "-driver" : "");
}

static void print_links(const struct spok_execution *x, const struct live_view *v)
{
	json_t *stored = NULL;
	const json_t *a = v->found ? v->links : NULL;
	size_t i;
	json_t *l;

	if (a == NULL)
		a = stored = spok_backend_for(x->backend)->links(x);
	if (json_array_size(a) > 0)
		printf("Links:%s\n", a == v->links ? " (live)" : "");
	json_array_foreach(a, i, l) {
		printf("  ");
		put_safe(json_string_value(json_object_get(l, "name")));
		printf(": ");
		put_safe(json_string_value(json_object_get(l, "uri")));
		putchar('\n');
	}
	json_decref(stored);
}

static void print_status(const struct spok_execution *x, const struct spok_attempt *a, size_t na,
			 const char *data_dir, const json_t *live)
{
	struct live_view v;
	const struct spok_backend_ops *b = spok_backend_for(x->backend);
	bool cluster = b->cluster;
	const char *app_id, *ui;
	char dur[32];

	live_view_of(live, &v);
	char *live_app = spok_term_line(v.spark_app_id), *live_ui = spok_term_line(v.ui_url);
	app_id = x->spark_app_id ? x->spark_app_id : live_app;
	ui = v.found ? live_ui : (spok_phase_terminal(x->phase) ? NULL : x->ui_url);
	printf("%-11s %s\n", "ID:", x->id);
	printf("%-11s %s (%s/%s)\n", "Task:", x->task_name ? x->task_name : "-", x->project ? x->project : "-",
	       x->domain ? x->domain : "-");
	printf("%-11s %s\n", "Backend:", x->backend ? x->backend : "local");
	print_phase(x, &v);
	printf("%-11s %u of %u\n", "Attempt:", x->attempt + 1, x->max_attempts);
	print_time("Created:", x->created_ms);
	print_time("Started:", x->started_ms);
	print_time("Finished:", x->finished_ms);
	human_duration(duration_of(x, spok_now_ms()), dur, sizeof(dur));
	printf("%-11s %s\n", "Duration:", dur);
	if (x->has_exit_code)
		printf("%-11s %d\n", "Exit code:", x->exit_code);
	if (app_id)
		printf("%-11s %s\n", "Spark app:", app_id);
	if (ui)
		printf("%-11s %s\n", "Spark UI:", ui);
	/* A local run's stored link assumes the default port; a running server's own port wins.
	 * A cluster run's link is the platform's history server (spark-history-server-url). */
	int hport = cluster ? 0 : spok_history_running(data_dir);
	if (x->spark_app_id && hport && spok_phase_terminal(x->phase)) {
		char *u = spok_history_url(hport, x->spark_app_id);
		printf("%-11s %s\n", "History:", u);
		free(u);
	} else if (x->history_url) {
		printf("%-11s %s%s\n", "History:", x->history_url,
		       cluster ? "" : " (start the server with 'spok history')");
	}
	if (x->log_path)
		printf("%-11s %s\n", "Log:", x->log_path);
	if (x->session)
		printf("%-11s %s (a Spark Connect client of it; 'spok session list')\n", "Session:", x->session);
	if (x->fallback) {
		printf("%-11s ", "Not warm:");
		put_safe(x->fallback);
		putchar('\n');
	}
	print_links(x, &v); /* local runs: what the row recorded beyond its UI (a warm run's page) */
	if (x->outputs_json)
		printf("%-11s %s\n", "Outputs:", x->outputs_json);
	print_live_warning(x, &v);
	if (!spok_phase_terminal(x->phase) && !cluster && !b->supervised(x))
		printf("%-11s the spok process supervising this run is gone and its end could not be "
		       "recorded; 'spok abort %s' records it\n", "Warning:", x->id);
	else if (!spok_phase_terminal(x->phase) && cluster && !b->supervised(x))
		printf("%-11s no spok process is following this run; 'spok reconcile' follows it\n", "Note:");
	if (na > 1) {
		printf("Attempts:\n");
		for (size_t i = 0; i < na; i++) {
			printf("  %u  %-20s ", a[i].attempt + 1, spok_phase_name(a[i].phase));
			put_safe(a[i].reason ? a[i].reason : "");
			putchar('\n');
		}
	}
	free(live_app);
	free(live_ui);
}

/* One live read for an unfinished execution (the backend's live op); the store is left
 * alone. NULL when there is nothing beyond the row (local or finished runs, nothing created
 * yet). An unreachable cluster gives {"error"}. */
static json_t *status_live(struct spok_cli *cli, struct spok_store *st, const struct spok_execution *x)
{
	struct spok_cli_session s;
	struct spok_err err = {0};
	json_t *live = NULL;
	int result;

	if (spok_phase_terminal(x->phase))
		return NULL;
	result = spok_cli_session_open(&s, cli, st, x->backend, true, &err);
	if (result == 0)
		result = s.ops->live(&s.ctx, x, &live, &err);
	spok_cli_session_close(&s);
	if (result != 0)
		return json_pack("{s:s}", "error", err.msg);
	return live;
}

static json_t *status_json(const struct spok_execution *x, const struct spok_attempt *a, size_t na,
			   json_t *live)
{
	json_t *j = cli_execution_json(x);
	json_t *arr = json_array();

	for (size_t i = 0; i < na; i++)
		json_array_append_new(arr, json_pack("{s:I,s:s,s:s?,s:s?}", "attempt", (json_int_t)a[i].attempt,
						     "phase", spok_phase_name(a[i].phase), "reason", a[i].reason,
						     "log_path", a[i].log_path));
	json_object_set_new(j, "attempts", arr);
	if (live)
		json_object_set(j, "live", live);
	return j;
}

/* ---- status --watch ---- */

struct status_watch {
	struct spok_store *st;
	struct spok_execution x;
	struct spok_cli_watch *w;
	uv_timer_t poll;
	uv_signal_t sig[3];
	bool done;
};

static void status_watch_end(struct status_watch *sw)
{
	if (sw->done)
		return;
	sw->done = true;
	spok_cli_watch_end(sw->w, &sw->x);
	uv_close((uv_handle_t *)&sw->poll, NULL);
	for (size_t i = 0; i < 3; i++)
		uv_close((uv_handle_t *)&sw->sig[i], NULL);
}

/* The row again (settled when its supervisor died); a read that fails (a busy store) keeps
 * the last one for this round. */
static void on_status_poll(uv_timer_t *t)
{
	struct status_watch *sw = t->data;
	struct spok_execution now = {0};

	if (spok_store_get(sw->st, sw->x.id, &now, NULL) == 0) {
		settle_rows(sw->st, &now, 1);
		spok_execution_free(&sw->x);
		sw->x = now;
	}
	spok_cli_watch_row(sw->w, &sw->x);
	if (spok_phase_terminal(sw->x.phase))
		status_watch_end(sw);
}

static void on_status_signal(uv_signal_t *h, int signum)
{
	(void)signum;
	status_watch_end(h->data); /* the line ends with a newline, not mid-way */
}

/* Follows x (taken over; freed here) until it finishes or a signal stops the watch: the same
 * output as `spok run` (watch.h) on stdout; a finished execution gives its final state at
 * once. A cluster run's progress comes through the API server with the user's kubeconfig; a
 * cluster that cannot be asked leaves only the phase (one warning line). */
static int status_watch(struct spok_cli *cli, struct spok_store *st, struct spok_execution *x)
{
	static const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
	struct status_watch sw = {.st = st, .x = *x};
	struct spok_cli_session s;
	struct spok_err err = {0};
	bool finished = spok_phase_terminal(x->phase);
	bool cluster = spok_backend_for(x->backend)->cluster;

	memset(x, 0, sizeof(*x));
	if (spok_cli_session_open(&s, cli, st, finished ? NULL : sw.x.backend, true, &err) != 0)
		fprintf(stderr, "spok: no progress from cluster %s (following the phase only): %s\n",
			sw.x.backend, err.msg);
	sw.w = spok_cli_watch_new(&s.loop, stdout, spok_cli_watch_mode_for(1, cli->output != NULL));
	if (cluster)
		spok_cli_watch_cluster(sw.w, s.client);
	uv_timer_init(&s.loop, &sw.poll);
	sw.poll.data = &sw;
	for (size_t i = 0; i < 3; i++) {
		uv_signal_init(&s.loop, &sw.sig[i]);
		sw.sig[i].data = &sw;
		uv_signal_start(&sw.sig[i], on_status_signal, sigs[i]);
	}
	if (finished) {
		status_watch_end(&sw);
	} else {
		spok_cli_watch_row(sw.w, &sw.x);
		uv_timer_start(&sw.poll, on_status_poll, SPOK_CLI_WATCH_POLL_MS, SPOK_CLI_WATCH_POLL_MS);
	}
	uv_run(&s.loop, UV_RUN_DEFAULT);
	spok_cli_session_close(&s);
	spok_execution_free(&sw.x);
	return 0;
}

int cmd_status(struct spok_cli *cli, int argc, char **argv)
{
	bool no_refresh = false, watch = false;
	struct spok_flag flags[] = {
		{"no-refresh", 0, NULL, &no_refresh, NULL,
		 "show only the stored state (no live read of a cluster execution)"},
		{"watch", 'w', NULL, &watch, NULL,
		 "follow it until it finishes: one live line on a terminal, phase lines otherwise, "
		 "JSON lines with -o json"},
		{0},
	};
	struct spok_strv pos = {0};
	struct spok_store *st;
	struct spok_execution x = {0};
	struct spok_attempt *a = NULL;
	struct spok_err err = {0};
	json_t *live = NULL;
	char *data_dir;
	size_t na = 0;
	int result = open_cmd(cli, argc, argv, flags,
			      "spok status ID [--no-refresh] [-o json|yaml] [--watch [-o json]]", 1,
			      &pos, &data_dir, &st, &err);

	if (result == 0 && watch && cli->output && strcmp(cli->output, "json") != 0)
		result = spok_err_set(&err, SPOK_EINVAL, "-o %s: not supported with --watch; use -o json "
				      "(one JSON object per line)", cli->output);
	if (result == 0)
		result = spok_store_get(st, pos.items[0], &x, &err);
	if (result == 0)
		settle_rows(st, &x, 1);
	if (result == 0 && watch)
		result = status_watch(cli, st, &x);
	if (watch)
		goto out;
	if (result == 0)
		result = spok_store_attempts(st, x.id, &a, &na, &err);
	if (result == 0 && !no_refresh)
		live = status_live(cli, st, &x);
	if (result == 0 && cli->output) {
		json_t *j = status_json(&x, a, na, live);

		result = spok_cli_print(j, cli->output, &err);
		json_decref(j);
	} else if (result == 0) {
		term_exec(&x);
		print_status(&x, a, na, data_dir, live);
	}
out:
	json_decref(live);
	spok_attempts_free(a, na);
	spok_execution_free(&x);
	spok_store_close(st);
	free(data_dir);
	spok_strv_free(&pos);
	if (result == 1)
		return 0;
	return result == 0 ? 0 : spok_cli_fail(&err);
}

/* ---- logs ---- */

/* Where log bytes go: stdout as they are, or escaped for a terminal (tty set). */
struct log_sink {
	struct spok_term_stream *tty; /* NULL: raw */
	bool broken;                  /* a write failed (EPIPE: the reader went away) */
	bool done;
	int code;
	uint64_t bytes;
	char msg[SPOK_ERR_MSG_MAX];
	char pod[256];
};

static bool sink_write(void *data, const char *p, size_t n)
{
	struct log_sink *s = data;

	if (s->broken)
		return false;
	if (s->tty) {
		struct spok_buf b;
		spok_buf_init(&b, 0);
		spok_term_stream_feed(s->tty, p, n, &b);
		if (b.len && fwrite(b.data, 1, b.len, stdout) != b.len)
			s->broken = true;
		spok_buf_free(&b);
	} else if (n && fwrite(p, 1, n, stdout) != n) {
		s->broken = true;
	}
	if (fflush(stdout) != 0)
		s->broken = true;
	return !s->broken;
}

static void sink_end(struct log_sink *s)
{
	if (s->tty && !s->broken) {
		struct spok_buf b;
		spok_buf_init(&b, 0);
		spok_term_stream_end(s->tty, &b);
		if (b.len)
			fwrite(b.data, 1, b.len, stdout);
		spok_buf_free(&b);
	}
	fflush(stdout);
}

static void sink_done(void *data, const struct spok_backend_log_result *r)
{
	struct log_sink *s = data;

	s->done = true;
	s->code = r->code;
	s->bytes = r->bytes;
	snprintf(s->msg, sizeof(s->msg), "%s", r->message);
	snprintf(s->pod, sizeof(s->pod), "%s", r->pod ? r->pod : "-");
}

/* The log through the execution's backend, on a loop of this command's own: a local run's
 * file (followed across retries until the run ends), a cluster run's driver or executor pod. */
static int print_log(struct spok_cli *cli, struct spok_store *st, const struct spok_execution *x,
		     const struct spok_backend_log_opts *o, struct log_sink *sink, struct spok_err *err)
{
	struct spok_cli_session s;
	int result = spok_cli_session_open(&s, cli, st, x->backend, false, err);

	if (result == 0)
		result = s.ops->logs(&s.ctx, x, o, NULL, err);
	while (result == 0 && !sink->done)
		uv_run(&s.loop, UV_RUN_ONCE);
	sink_end(sink);
	if (result == 0 && sink->code != 0)
		result = spok_err_set(err, sink->code, "%s", sink->msg);
	else if (result == 0 && s.ops->cluster && sink->bytes == 0) /* a pod on no node */
		result = spok_err_set(err, SPOK_ENOTFOUND, "pod %s/%s has no logs yet (not running on a "
				      "node, or no kubelet); retry later", x->namespace_, sink->pod);
	spok_cli_session_close(&s);
	return result;
}

int cmd_logs(struct spok_cli *cli, int argc, char **argv)
{
	bool f = false, raw = false;
	const char *attempt = NULL, *executor = NULL;
	struct spok_flag flags[] = {
		{"follow", 'f', NULL, &f, NULL, "keep printing until the execution finishes"},
		{"attempt", 0, &attempt, NULL, NULL, "1-based attempt (default: the current one)"},
		{"executor", 0, &executor, NULL, NULL, "cluster runs: executor N's log instead of the driver's"},
		{"raw", 0, NULL, &raw, NULL, "write the log bytes unchanged even to a terminal"},
		{0},
	};
	struct spok_term_stream tty = {.flags = SPOK_TERM_TEXT};
	struct log_sink sink = {0};
	struct spok_backend_log_opts o = {.tail_lines = -1, .chunk = sink_write, .done = sink_done,
					  .data = &sink};
	struct spok_strv pos = {0};
	struct spok_store *st;
	struct spok_execution x = {0};
	struct spok_err err = {0};
	char *data_dir;
	long long n = 0;
	int result = open_cmd(cli, argc, argv, flags, "spok logs ID [-f] [--attempt N] [--executor N] [--raw]", 1, &pos, &data_dir, &st, &err);

	/* The log is the job's own output: bytes unchanged into a file or pipe, but control
	 * sequences escaped on a terminal (a job must not drive the operator's terminal). */
	if (!raw && isatty(STDOUT_FILENO))
		sink.tty = &tty;
	if (result == 0)
		result = spok_store_get(st, pos.items[0], &x, &err);
	if (result == 0 && executor && (result = spok_cli_int("executor", executor, 1, 100000, &n, &err)) == 0)
		o.executor = (unsigned)n;
	bool local_attempt = attempt && result == 0 && !spok_backend_for(x.backend)->cluster;
	if (local_attempt) { /* a cluster keeps only the current attempt's pods */
		result = spok_cli_int("attempt", attempt, 1, x.max_attempts, &n, &err);
		if (result == 0) {
			free(x.log_path);
			x.log_path = xasprintf("%s/attempt-%lld.log", x.run_dir ? x.run_dir : ".", n - 1);
		}
	}
	o.follow = f && !local_attempt;
	if (result == 0)
		result = print_log(cli, st, &x, &o, &sink, &err);
	spok_execution_free(&x);
	spok_store_close(st);
	free(data_dir);
	spok_strv_free(&pos);
	if (result == 1)
		return 0;
	return result == 0 ? 0 : spok_cli_fail(&err);
}

/* ---- abort ---- */

int cmd_abort(struct spok_cli *cli, int argc, char **argv)
{
	const char *grace = NULL;
	struct spok_flag flags[] = {
		{"grace", 0, &grace, NULL, NULL, "wait this long after TERM before KILL (default 10s)"},
		{0},
	};
	struct spok_strv pos = {0};
	struct spok_store *st;
	struct spok_execution x = {0};
	struct spok_err err = {0};
	char *data_dir;
	uint64_t grace_ms = SPOK_LOCAL_GRACE_MS;
	int result = open_cmd(cli, argc, argv, flags, "spok abort ID [--grace 10s]", 1, &pos, &data_dir, &st, &err);

	if (result == 0 && grace)
		result = spok_parse_duration_ms("--grace", grace, &grace_ms, &err);
	if (result == 0)
		result = spok_store_get(st, pos.items[0], &x, &err);
	if (result == 0 && spok_phase_terminal(x.phase)) {
		printf("execution %s already finished: %s\n", x.id, spok_phase_name(x.phase));
	} else if (result == 0) {
		struct spok_cli_session s;

		/* local: TERM, KILL after the grace; cluster: the engine deletes the object */
		result = spok_cli_session_open(&s, cli, st, x.backend, false, &err);
		s.ctx.grace_ms = grace_ms;
		if (result == 0)
			result = s.ops->abort(&s.ctx, &x, &err);
		spok_cli_session_close(&s);
		spok_execution_free(&x);
		if (result == 0)
			result = spok_store_get(st, pos.items[0], &x, &err);
		if (result == 0)
			printf("execution %s: %s\n", x.id, spok_phase_name(x.phase));
	}
	spok_execution_free(&x);
	spok_store_close(st);
	free(data_dir);
	spok_strv_free(&pos);
	if (result == 1)
		return 0;
	return result == 0 ? 0 : spok_cli_fail(&err);
}
