/* session.c - a CLI command's handle on an execution's backend (see session.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/session.h"
#include "common/termesc.h"
#include "common/timefmt.h"
#include "common/xalloc.h"
#include "engine/engine.h"
#include "jobfile/jobfile.h"
#include "local/local.h"
#include "kube/kubeconfig.h"
#include "server/server.h"

#define LIVE_TIMEOUT_MS 10000

static int open_client(struct spok_cli_session *s, const struct spok_cli *cli, const char *cluster,
		       bool short_try, struct spok_err *err)
{
	/* One short try: `spok status` must answer even when the cluster does not. */
	struct kube_client_opts quick = {.max_retries = 1, .backoff_ms = 200, .timeout_ms = LIVE_TIMEOUT_MS};
	struct kube_config cfg = {0};
	int result;

	if (cluster == NULL) /* a cluster backend always has a name; keep a NULL from strcmp */
		return spok_err_set(err, SPOK_EINVAL, "no cluster named; pass --cluster CONTEXT");
	if (strcmp(cluster, "in-cluster") == 0)
		result = kube_config_in_cluster(&cfg, NULL, err);
	else
		result = kube_config_load(&cfg, cli->kubeconfig, cluster, err);
	if (result == 0)
		result = kube_client_new(&s->loop, &cfg, short_try ? &quick : NULL, &s->client, err);
	kube_config_free(&cfg);
	return result;
}

int spok_cli_session_open(struct spok_cli_session *s, const struct spok_cli *cli,
			  struct spok_store *st, const char *backend, bool short_try,
			  struct spok_err *err)
{
	int result = 0;

	memset(s, 0, sizeof(*s));
	spok_platform_init(&s->plat);
	uv_loop_init(&s->loop);
	s->loop_ok = true;
	s->ops = spok_backend_for(backend);
	s->backend = backend ? xstrdup(backend) : NULL;
	s->st = st;
	if (s->ops->cluster) { /* only a cluster needs the config and a client */
		spok_platform_free(&s->plat);
		result = spok_cli_load_platform(cli, &s->plat, err);
	}
	if (result == 0)
		result = spok_data_dir(cli->data_dir, &s->data_dir, err);
	if (result == 0 && st == NULL) {
		s->own_store = true;
		result = spok_store_open_reader(s->data_dir, &s->st, err);
	}
	if (result == 0 && s->ops->cluster)
		result = open_client(s, cli, backend, short_try, err);
	s->ctx.loop = &s->loop;
	s->ctx.store = s->st;
	s->ctx.platform = &s->plat;
	s->ctx.client = s->client;
	s->ctx.load_task = spok_cli_load_recorded;
	s->ctx.ship_local_files = true; /* the user's own files, read by the user's own spok */
	return result;
}

void spok_cli_session_close(struct spok_cli_session *s)
{
	spok_engine_close(s->e);
	kube_client_close(s->client);
	if (s->loop_ok) {
		uv_run(&s->loop, UV_RUN_DEFAULT);
		uv_loop_close(&s->loop);
	}
	if (s->own_store)
		spok_store_close(s->st);
	spok_platform_free(&s->plat);
	free(s->data_dir);
	free(s->backend);
}

int spok_cli_load_recorded(void *data, const struct spok_execution *x, struct spok_task *out,
			   struct spok_err *err)
{
	if (x->task_source == NULL)
		return spok_err_set(err, SPOK_ENOTFOUND, "execution %s: no task source recorded", x->id);
	/* Recorded by `spok serve` (its tasks dir): the daemon's own loader, which knows the
	 * connector's .ctr requests and parses a client's bytes in a child first. */
	if (spok_server_is_connector_source(x->task_source))
		return spok_server_load_task(x, out, err);
	(void)data;
	spok_task_free(out);
	return spok_cli_load_task(x->task_source, NULL, out, err);
}

/* ---- `run --cluster` and `reconcile` ---- */

void spok_cli_cluster_flag_table(struct spok_cli_cluster_flags *f, struct spok_flag *t, bool run)
{
	size_t i = 0;

	t[i++] = (struct spok_flag){"cluster", 0, &f->cluster, NULL, NULL,
				    "kubeconfig context to run on ('in-cluster': service account)"};
	t[i++] = (struct spok_flag){"keep", 0, NULL, &f->keep, NULL,
				    "keep the SparkApplication after success (spok.keep-on-success)"};
	t[i++] = (struct spok_flag){"submitted-timeout", 0, &f->submitted_timeout, NULL, NULL,
				    "fail an attempt stuck in SUBMITTED this long (default 10m)"};
	t[i++] = (struct spok_flag){"quiet", 'q', NULL, &f->quiet, NULL, "no progress lines"};
	if (run) {
		t[i++] = (struct spok_flag){"task", 0, &f->task_name, NULL, NULL, "task inside a pyflyte package"};
		t[i++] = (struct spok_flag){"detach", 'd', NULL, &f->detach, NULL,
					    "return once the SparkApplication exists; 'spok reconcile' follows it"};
		t[i++] = (struct spok_flag){"input", 'i', NULL, NULL, &f->inputs,
					    "typed task input name=value (flytekit tasks; repeatable)"};
		t[i++] = (struct spok_flag){"submit", 0, &f->submit, NULL, NULL,
					    "operator (a SparkApplication) or direct (spok creates the "
					    "driver pod); default: the cluster's submission in the config"};
		t[i++] = (struct spok_flag){"python-path", 0, &f->python_path, NULL, NULL,
					    "folder with the flytekit task's module, copied to the "
					    "cluster (default: current folder, if it is there)"};
	}
	t[i] = (struct spok_flag){0};
}

int spok_cli_parse_inputs(const struct spok_strv *in, struct spok_strmap *out,
			  struct spok_err *err)
{
	for (size_t i = 0; i < in->len; i++) {
		const char *eq = strchr(in->items[i], '=');
		char *name;

		if (!eq || eq == in->items[i])
			return spok_err_set(err, SPOK_EINVAL, "--input %s: expected name=value",
					    in->items[i]);
		name = xstrndup(in->items[i], (size_t)(eq - in->items[i]));
		spok_strmap_set(out, name, eq + 1);
		free(name);
	}
	return 0;
}

const char *spok_cli_cluster_of(const struct spok_cli *cli, const struct spok_cli_cluster_flags *f)
{
	return f->cluster ? f->cluster : cli->context;
}

void spok_cli_progress_free(struct spok_cli_progress *p)
{
	free(p->links);
	free(p->ns);
	free(p->app);
	free(p->failed);
}

static void stamp(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, len, "%H:%M:%S", &tm);
}

static void print_links(struct spok_cli_progress *p, const struct spok_execution *x)
{
	json_t *a;
	size_t i;
	json_t *l;

	if (!x->links_json || (p->links != NULL && strcmp(p->links, x->links_json) == 0))
		return;
	a = json_loads(x->links_json, 0, NULL);
	json_array_foreach(a, i, l) {
		char *name = spok_term_line(json_string_value(json_object_get(l, "name")));
		char *uri = spok_term_line(json_string_value(json_object_get(l, "uri")));
		fprintf(stderr, "         %s: %s\n", name ? name : "", uri ? uri : "");
		free(name);
		free(uri);
	}
	json_decref(a);
	free(p->links);
	p->links = xstrdup(x->links_json);
}

static void on_event(void *data, enum spok_engine_event ev, const struct spok_execution *x)
{
	struct spok_cli_progress *p = data;
	char now[16], line[256];

	if (ev == SPOK_ENGINE_FAILED && p->failed == NULL)
		p->failed = xstrdup(x->error_message ? x->error_message : "a store write failed");
	if (ev == SPOK_ENGINE_CHANGED && x->phase == SPOK_PHASE_RUNNING && x->namespace_ &&
	    x->resource_name && (!p->app || strcmp(p->app, x->resource_name) != 0)) {
		free(p->ns);
		free(p->app);
		p->ns = xstrdup(x->namespace_);
		p->app = xstrdup(x->resource_name);
		p->app_seq++;
	}
	if (p->quiet || ev != SPOK_ENGINE_CHANGED)
		return;
	if (p->live) {
		spok_cli_watch_clear(p->live); /* the lines below stay; the live line comes back */
		spok_cli_watch_row(p->live, x);
	}
	snprintf(line, sizeof(line), "%s %u %s", spok_phase_name(x->phase), x->attempt,
		 x->reason ? x->reason : "");
	if (strcmp(line, p->last) != 0) {
		/* The reason comes from the driver's output: escaped for the terminal. */
		char *reason = spok_term_line(x->reason);
		snprintf(p->last, sizeof(p->last), "%s", line);
		stamp(now, sizeof(now));
		fprintf(stderr, "%s %s %-20s attempt %u/%u %s\n", now, x->id,
			spok_phase_name(x->phase), x->attempt + 1, x->max_attempts,
			x->resource_name ? x->resource_name : "");
		if (reason)
			fprintf(stderr, "         %s\n", reason);
		free(reason);
	}
	print_links(p, x);
}

int spok_cli_engine_start(struct spok_cli_session *s, const struct spok_cli_cluster_flags *f,
			  const char *cluster, struct spok_cli_progress *p, struct spok_err *err)
{
	struct spok_engine_opts o = {0};
	uint64_t ms = 0;
	int result;

	if (f->submitted_timeout && spok_parse_duration_ms("--submitted-timeout", f->submitted_timeout, &ms, err) != 0)
		return err->code;
	o.cluster = cluster;
	o.client = s->client;
	o.store = s->st;
	o.platform = &s->plat;
	o.load_task = spok_cli_load_recorded;
	o.on_event = on_event;
	o.event_data = p;
	o.keep_on_success = f->keep || s->plat.spok.keep_on_success;
	o.submitted_timeout_ms = ms ? ms : s->plat.spok.submitted_timeout_ms;
	o.spark_version = s->plat.spok.spark_version;
	o.ship_local_files = true; /* the user's own files, read by the user's own spok */
	if (f->submit != NULL && strcmp(f->submit, SPOK_SUBMISSION_DIRECT) != 0 &&
	    strcmp(f->submit, SPOK_SUBMISSION_OPERATOR) != 0)
		return spok_err_set(err, SPOK_EINVAL, "--submit %s: expected operator or direct",
				    f->submit);
	/* New runs only: an adopted execution keeps the submission it was created with. */
	o.direct = f->submit ? strcmp(f->submit, SPOK_SUBMISSION_DIRECT) == 0
			     : spok_config_direct(&s->plat, cluster);
	result = spok_engine_new(&o, &s->e, err);
	s->ctx.engine = s->e;
	return result;
}

int spok_cli_reconcile_cluster(struct spok_cli *cli, const struct spok_cli_cluster_flags *f,
			       const char *cluster, const char *only_id, size_t *n,
			       struct spok_err *err)
{
	struct spok_cli_progress p = {.quiet = f->quiet};
	struct spok_cli_session s;
	int result = spok_cli_session_open(&s, cli, NULL, cluster, false, err);

	if (result == 0)
		result = spok_cli_engine_start(&s, f, cluster, &p, err);
	if (result == 0)
		result = only_id ? spok_engine_adopt(s.e, only_id, err) : spok_engine_adopt_all(s.e, n, err);
	if (result == 0)
		while (!spok_engine_idle(s.e))
			uv_run(&s.loop, UV_RUN_ONCE);
	if (result == 0 && p.failed)
		result = spok_err_set(err, SPOK_EIO, "%s", p.failed);
	spok_cli_session_close(&s);
	spok_cli_progress_free(&p);
	return result;
}
