/* view.c - the CLI's view of an execution for `-o json|yaml`: every stored field, snake_case
 * as the store's columns, host paths and processes included (the CLI runs on the host that
 * owns them). The HTTP API has its own view (src/server/api.c). */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/utf8.h"

/* jansson refuses text that is not valid UTF-8 (json_string returns NULL, and
 * json_object_set_new then drops the key): reasons and messages come from driver logs and
 * error.pb files, so bad bytes become U+FFFD instead of the field disappearing. */
static json_t *text(const char *v)
{
	json_t *j;
	char *clean;

	if (v == NULL)
		return json_null();
	if ((j = json_string(v)) != NULL)
		return j;
	clean = spok_utf8_sanitize(v);
	j = json_string(clean);
	free(clean);
	return j ? j : json_null();
}

/* JSON columns are embedded as values; text that does not parse stays a string. */
static json_t *embedded(const char *v)
{
	json_t *j = v ? json_loads(v, JSON_DECODE_ANY, NULL) : NULL;

	return j ? j : text(v);
}

static json_t *ms(int64_t v)
{
	return v == 0 ? json_null() : json_integer(v);
}

json_t *cli_execution_json(const struct spok_execution *e)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", text(e->id));
	json_object_set_new(o, "task_name", text(e->task_name));
	json_object_set_new(o, "project", text(e->project));
	json_object_set_new(o, "domain", text(e->domain));
	json_object_set_new(o, "backend", text(e->backend));
	json_object_set_new(o, "namespace", text(e->namespace_));
	json_object_set_new(o, "resource_name", text(e->resource_name));
	json_object_set_new(o, "attempt", json_integer(e->attempt));
	json_object_set_new(o, "max_attempts", json_integer(e->max_attempts));
	json_object_set_new(o, "phase", json_string(spok_phase_name(e->phase)));
	json_object_set_new(o, "phase_version", json_integer(e->phase_version));
	json_object_set_new(o, "reason", text(e->reason));
	json_object_set_new(o, "error_message", text(e->error_message));
	json_object_set_new(o, "created_ms", ms(e->created_ms));
	json_object_set_new(o, "started_ms", ms(e->started_ms));
	json_object_set_new(o, "finished_ms", ms(e->finished_ms));
	json_object_set_new(o, "exit_code", e->has_exit_code ? json_integer(e->exit_code) : json_null());
	json_object_set_new(o, "pid", json_integer(e->pid));
	json_object_set_new(o, "pgid", json_integer(e->pgid));
	json_object_set_new(o, "proc_start", json_integer((json_int_t)e->proc_start));
	json_object_set_new(o, "supervisor_pid", json_integer(e->supervisor_pid));
	json_object_set_new(o, "supervisor_start", json_integer((json_int_t)e->supervisor_start));
	json_object_set_new(o, "abort_requested", json_boolean(e->abort_requested));
	json_object_set_new(o, "spark_app_id", text(e->spark_app_id));
	json_object_set_new(o, "ui_url", text(e->ui_url));
	json_object_set_new(o, "history_url", text(e->history_url));
	json_object_set_new(o, "event_log_dir", text(e->event_log_dir));
	json_object_set_new(o, "log_path", text(e->log_path));
	json_object_set_new(o, "run_dir", text(e->run_dir));
	json_object_set_new(o, "task_source", text(e->task_source));
	json_object_set_new(o, "links", embedded(e->links_json));
	json_object_set_new(o, "outputs", embedded(e->outputs_json));
	json_object_set_new(o, "idempotency_key", text(e->idempotency_key));
	return o;
}
