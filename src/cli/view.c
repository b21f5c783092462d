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
/* JSON columns are embedded as values; text that does not parse stays a string. */
static json_t *embedded(const char *v)
{
	json_t *j = v ? json_loads(v, JSON_DECODE_ANY, NULL) : NULL;

	return j ? j : spok_json_text(v);
}

static json_t *ms(int64_t v)
{
	return v == 0 ? json_null() : json_integer(v);
}

json_t *cli_execution_json(const struct spok_execution *e)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", spok_json_text(e->id));
	json_object_set_new(o, "task_name", spok_json_text(e->task_name));
	json_object_set_new(o, "project", spok_json_text(e->project));
	json_object_set_new(o, "domain", spok_json_text(e->domain));
	json_object_set_new(o, "backend", spok_json_text(e->backend));
	json_object_set_new(o, "namespace", spok_json_text(e->namespace_));
	json_object_set_new(o, "resource_name", spok_json_text(e->resource_name));
	json_object_set_new(o, "attempt", json_integer(e->attempt));
	json_object_set_new(o, "max_attempts", json_integer(e->max_attempts));
	json_object_set_new(o, "phase", json_string(spok_phase_name(e->phase)));
	json_object_set_new(o, "phase_version", json_integer(e->phase_version));
	json_object_set_new(o, "reason", spok_json_text(e->reason));
	json_object_set_new(o, "error_message", spok_json_text(e->error_message));
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
	json_object_set_new(o, "spark_app_id", spok_json_text(e->spark_app_id));
	json_object_set_new(o, "ui_url", spok_json_text(e->ui_url));
	json_object_set_new(o, "history_url", spok_json_text(e->history_url));
	json_object_set_new(o, "event_log_dir", spok_json_text(e->event_log_dir));
	json_object_set_new(o, "log_path", spok_json_text(e->log_path));
	json_object_set_new(o, "run_dir", spok_json_text(e->run_dir));
	json_object_set_new(o, "task_source", spok_json_text(e->task_source));
	json_object_set_new(o, "links", embedded(e->links_json));
	json_object_set_new(o, "outputs", embedded(e->outputs_json));
	json_object_set_new(o, "idempotency_key", spok_json_text(e->idempotency_key));
	if (e->submission != NULL) /* "direct"; absent for the operator's (older rows too) */
		json_object_set_new(o, "submission", spok_json_text(e->submission));
	json_object_set_new(o, "session", spok_json_text(e->session));
	json_object_set_new(o, "fallback", spok_json_text(e->fallback));
	return o;
}
