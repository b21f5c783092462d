/* cmd_render.c - `spok render` and `spok validate`: the pure core on the command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/timefmt.h"
#include "common/xalloc.h"
#include "direct/direct.h"
#include "sparkapp/sparkapp.h"

struct render_opts {
	const char *task_name;
	const char *execution;
	const char *node_id;
	const char *attempt;
	const char *now_ms;
	const char *service_account;
	const char *input_prefix, *output_prefix, *raw_output_prefix, *prev_checkpoint;
	const char *submit;   /* "operator" (default) or "direct" */
	bool interruptible;
	bool no_ship;
};

/* Fills x from flags and the task; *ns_out is the namespace string to free. */
static int make_exec(const struct spok_cli *cli, const struct render_opts *o,
		     const struct spok_task *t, const struct spok_platform *p,
		     struct spok_exec *x, char **ns_out, struct spok_err *err)
{
	long long attempt = 0, now = spok_now_ms();
	int result;

	if (o->attempt && (result = spok_cli_int("attempt", o->attempt, 0, 1000, &attempt, err)))
		return result;
	if (o->now_ms && (result = spok_cli_int("now-ms", o->now_ms, 0, 1LL << 52, &now, err)))
		return result;
	*ns_out = cli->namespace_ ? xstrdup(cli->namespace_)
				  : spok_namespace_for(p, t->project, t->domain);
	memset(x, 0, sizeof(*x));
	x->execution_name = o->execution ? o->execution : t->name;
	x->node_id = o->node_id ? o->node_id : "n0";
	x->attempt = (uint32_t)attempt;
	x->namespace_ = *ns_out;
	x->now_ms = now;
	x->service_account = o->service_account;
	x->interruptible = o->interruptible || t->interruptible;
	x->input_prefix = o->input_prefix;
	x->output_prefix = o->output_prefix;
	x->raw_output_prefix = o->raw_output_prefix;
	x->prev_checkpoint = o->prev_checkpoint;
	x->ship_local_files = !o->no_ship; /* as `spok run --cluster` creates it */
	return SPOK_OK;
}

/* Loads, builds and hands back the SparkApplication; shared by render and validate. */
static int build(struct spok_cli *cli, const char *path, const struct render_opts *o,
		 json_t **app, struct spok_task *task, struct spok_err *err)
{
	struct spok_platform platform;
	struct spok_exec x;
	char *ns = NULL;
	int result;

	spok_task_init(task);
	result = spok_cli_load_platform(cli, &platform, err);
	if (result != SPOK_OK)
		return result;
	result = spok_cli_load_task(path, o->task_name, task, err);
	if (result == SPOK_OK)
		result = make_exec(cli, o, task, &platform, &x, &ns, err);
	if (result == SPOK_OK)
		result = spok_sparkapp_build(task, &platform, &x, app, err);
	free(ns);
	spok_platform_free(&platform);
	return result;
}

static const char *const render_synopsis =
	"spok render TASK [--task NAME] [--execution NAME] [--attempt N] [-n NS] [--no-ship] "
	"[--submit operator|direct] [-o yaml|json]";

static void render_flags(struct render_opts *o, struct spok_flag *f)
{
	f[0] = (struct spok_flag){"task", 0, &o->task_name, NULL, NULL,
				  "task to pick from a pyflyte package"};
	f[1] = (struct spok_flag){"execution", 0, &o->execution, NULL, NULL,
				  "execution name (default: the task name)"};
	f[2] = (struct spok_flag){"node-id", 0, &o->node_id, NULL, NULL, "node id (default n0)"};
	f[3] = (struct spok_flag){"attempt", 0, &o->attempt, NULL, NULL, "0-based attempt"};
	f[4] = (struct spok_flag){"now-ms", 0, &o->now_ms, NULL, NULL,
				  "build time in ms since epoch (default: now)"};
	f[5] = (struct spok_flag){"service-account", 0, &o->service_account, NULL, NULL,
				  "run-as service account override"};
	f[6] = (struct spok_flag){"interruptible", 0, NULL, &o->interruptible, NULL,
				  "render as an interruptible node"};
	/* Flyte I/O paths for {{.Input}} etc.; without them the placeholders stay as written. */
	f[7] = (struct spok_flag){"input-prefix", 0, &o->input_prefix, NULL, NULL,
				  "node data dir ({{.InputPrefix}}; inputs.pb under it)"};
	f[8] = (struct spok_flag){"output-prefix", 0, &o->output_prefix, NULL, NULL,
				  "output prefix ({{.OutputPrefix}})"};
	f[9] = (struct spok_flag){"raw-output-prefix", 0, &o->raw_output_prefix, NULL, NULL,
				  "raw output data prefix ({{.RawOutputDataPrefix}})"};
	f[10] = (struct spok_flag){"prev-checkpoint", 0, &o->prev_checkpoint, NULL, NULL,
				   "previous checkpoint prefix ({{.PrevCheckpointPrefix}})"};
	f[11] = (struct spok_flag){"no-ship", 0, NULL, &o->no_ship, NULL,
				   "keep local paths as written (as Flyte's plugin would; default: "
				   "rewritten to the shipped-files ConfigMap)"};
	f[12] = (struct spok_flag){"submit", 0, &o->submit, NULL, NULL,
				   "operator (the SparkApplication, default) or direct (a v1 List: "
				   "the ConfigMap, driver Pod and Service spark-submit would create)"};
	f[13] = (struct spok_flag){0};
}

/* --submit direct: the SparkApplication becomes what spark-submit would create from it. */
static int to_direct(const char *submit, json_t **app, struct spok_err *err)
{
	struct spok_direct d;
	int result;

	if (submit == NULL || strcmp(submit, "operator") == 0)
		return SPOK_OK;
	if (strcmp(submit, "direct") != 0)
		return spok_err_set(err, SPOK_EINVAL, "--submit %s: want operator or direct", submit);
	result = spok_direct_build(*app, NULL, &d, err);
	json_decref(*app);
	*app = NULL;
	if (result == SPOK_OK) {
		*app = spok_direct_list(&d);
		spok_direct_free(&d);
	}
	return result;
}

static int run(struct spok_cli *cli, int argc, char **argv, bool print)
{
	struct render_opts o = {0};
	struct spok_flag flags[14];
	struct spok_strv pos = {0};
	struct spok_err err = {0};
	struct spok_task task;
	json_t *app = NULL;
	int result;

	spok_task_init(&task);
	render_flags(&o, flags);
	result = spok_cli_parse(cli, argc, argv, flags, &pos, &err);
	if (result == SPOK_OK && cli->help) {
		spok_cli_usage(print ? render_synopsis : "spok validate TASK [--task NAME]", flags);
		spok_strv_free(&pos);
		return 0;
	}
	if (result == SPOK_OK && pos.len != 1)
		result = spok_err_set(&err, SPOK_EINVAL, "%s: expected exactly one TASK file; usage: %s",
				      argv[0], print ? render_synopsis : "spok validate TASK");
	if (result == SPOK_OK)
		result = build(cli, pos.items[0], &o, &app, &task, &err);
	if (result == SPOK_OK)
		result = to_direct(o.submit, &app, &err);
	if (result == SPOK_OK && print)
		result = spok_cli_print(app, cli->output, &err);
	if (result == SPOK_OK && !print)
		printf("%s: ok (task %s, type %s)\n", pos.items[0], task.name ? task.name : "?",
		       spok_app_type_name(task.type));
	json_decref(app);
	spok_task_free(&task);
	spok_strv_free(&pos);
	return result == SPOK_OK ? 0 : spok_cli_fail(&err);
}

int cmd_render(struct spok_cli *cli, int argc, char **argv)
{
	return run(cli, argc, argv, true);
}

int cmd_validate(struct spok_cli *cli, int argc, char **argv)
{
	return run(cli, argc, argv, false);
}
