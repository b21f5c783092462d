/* agent.h - the Flyte connector's request (flyteidl.admin.CreateTaskRequest, what
 * flytepropeller sends to an AsyncAgentService) -> a spok task that carries Flyte's
 * task-execution identity, so the SparkApplication is named and labelled as Flyte's own
 * Spark plugin would (docs/FLYTE.md).
 *
 * The request is hostile input: size and nesting are capped like every other flyteidl
 * message (SPOK_FLYTE_PB_MAX), maps are capped at SPOK_FLYTE_AGENT_MAX_ENTRIES entries, and
 * every refusal is one line naming the field.
 *
 * Ownership: struct spok_flyte_create owns everything in it (spok_flyte_create_free);
 * on failure it is left freed and zeroed. buf is borrowed for the call.
 */
#ifndef SPOK_FLYTEIDL_AGENT_H
#define SPOK_FLYTEIDL_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "model/model.h"

#define SPOK_FLYTE_AGENT_MAX_ENTRIES 256 /* labels, annotations, env of one request */
#define SPOK_FLYTE_AGENT_MAX_NAME 63     /* execution name: it becomes a label value */
#define SPOK_FLYTE_AGENT_MAX_NODE 255

struct spok_flyte_create {
	/* The task, run once (retries 0: flytepropeller retries by sending a new request),
	 * with the request's labels, annotations, environment and service account merged in
	 * and flyte_execution_name/flyte_node_id/flyte_attempt set. */
	struct spok_task task;
	char *namespace_;     /* TaskExecutionMetadata.namespace, or NULL when empty */
	char *exec_project;   /* the workflow execution's project and domain */
	char *exec_domain;
	char *output_prefix;  /* or NULL */
	/* What identifies the task execution for idempotency: project, domain, execution
	 * name, node id and retry attempt, newline-separated. */
	char *identity;
	bool template_project;  /* the template's id named a project / a domain */
	bool template_domain;
};

/* Decodes and validates a CreateTaskRequest. `path` names the source in errors. */
int spok_flyte_parse_create_task(const uint8_t *buf, size_t len, const char *path,
				 struct spok_flyte_create *out, struct spok_err *err);
void spok_flyte_create_free(struct spok_flyte_create *c);

#endif
