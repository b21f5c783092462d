/* execution.c - see execution.h. */
#include "model/execution.h"

#include <stdlib.h>
#include <string.h>

void spok_execution_free(struct spok_execution *e)
{
	char **strs[] = {&e->id, &e->task_name, &e->project, &e->domain, &e->backend,
			 &e->namespace_, &e->resource_name, &e->reason, &e->error_message,
			 &e->spark_app_id, &e->ui_url, &e->history_url, &e->event_log_dir,
			 &e->log_path, &e->run_dir, &e->task_source, &e->links_json,
			 &e->outputs_json, &e->idempotency_key, &e->submission, &e->session,
			 &e->fallback};

	if (!e)
		return;
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		free(*strs[i]);
	memset(e, 0, sizeof(*e));
}

bool spok_execution_direct(const struct spok_execution *x)
{
	return x->submission != NULL && strcmp(x->submission, SPOK_SUBMISSION_DIRECT) == 0;
}

void spok_execution_list_free(struct spok_execution *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		spok_execution_free(&v[i]);
	free(v);
}

void spok_attempts_free(struct spok_attempt *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].reason);
		free(v[i].log_path);
	}
	free(v);
}
