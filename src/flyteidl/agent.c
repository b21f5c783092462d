/* agent.c - flyteidl.admin.CreateTaskRequest -> task with Flyte's task-execution identity. */
#include "flyteidl/agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "flyteidl/admin/agent.pb-c.h"
#include "flyteidl/internal.h"

static bool name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

static int bad(struct spok_err *err, const char *path, const char *field, const char *what)
{
	return spok_err_set(err, SPOK_EINVAL, "%s: CreateTaskRequest.%s %s", path, field, what);
}

/* The protobuf map entries of TaskExecutionMetadata share one layout: key, value. */
struct kv {
	ProtobufCMessage base;
	char *key;
	char *value;
};

static int merge_map(void *const *entries, size_t n, const char *path, const char *field,
		     struct spok_strmap *into, struct spok_err *err)
{
	if (n > SPOK_FLYTE_AGENT_MAX_ENTRIES)
		return spok_err_set(err, SPOK_EINVAL, "%s: CreateTaskRequest.task_execution_metadata"
				    ".%s has %zu entries; at most %d are accepted", path, field, n,
				    SPOK_FLYTE_AGENT_MAX_ENTRIES);
	for (size_t i = 0; i < n; i++) {
		const struct kv *e = entries[i];

		if (e->key[0] == '\0')
			return spok_err_set(err, SPOK_EINVAL, "%s: CreateTaskRequest.task_execution_"
					    "metadata.%s: an entry has an empty key", path, field);
		spok_strmap_set(into, e->key, e->value);
	}
	return SPOK_OK;
}

static int take_identity(const Flyteidl__Admin__TaskExecutionMetadata *md, const char *path,
			 struct spok_flyte_create *out, struct spok_err *err)
{
	const Flyteidl__Core__TaskExecutionIdentifier *te = md->task_execution_id;
	const Flyteidl__Core__NodeExecutionIdentifier *ne = te ? te->node_execution_id : NULL;
	const Flyteidl__Core__WorkflowExecutionIdentifier *we = ne ? ne->execution_id : NULL;
	struct spok_task *t = &out->task;

	if (we == NULL)
		return bad(err, path, "task_execution_metadata.task_execution_id.node_execution_id."
			   "execution_id", "is missing; flytepropeller always sends it");
	if (!name_ok(we->name, SPOK_FLYTE_AGENT_MAX_NAME))
		return bad(err, path, "task_execution_metadata.task_execution_id.node_execution_id."
			   "execution_id.name", "must be 1-63 characters [A-Za-z0-9._-]");
	if (!name_ok(ne->node_id, SPOK_FLYTE_AGENT_MAX_NODE))
		return bad(err, path, "task_execution_metadata.task_execution_id.node_execution_id."
			   "node_id", "must be 1-255 characters [A-Za-z0-9._-]");
	if (!name_ok(we->project, SPOK_FLYTE_AGENT_MAX_NAME) ||
	    !name_ok(we->domain, SPOK_FLYTE_AGENT_MAX_NAME))
		return bad(err, path, "task_execution_metadata.task_execution_id.node_execution_id."
			   "execution_id.project/domain", "must be 1-63 characters [A-Za-z0-9._-]");
	t->flyte_execution_name = xstrdup(we->name);
	t->flyte_node_id = xstrdup(ne->node_id);
	t->flyte_attempt = te->retry_attempt;
	out->exec_project = xstrdup(we->project);
	out->exec_domain = xstrdup(we->domain);
	/* The execution's project and domain, not the template's: a task registered in
	 * another project or domain (a reference task, a launch in another domain) runs in the
	 * execution's, which is what the caller's rights, the namespace, the routing rules and
	 * the stored row are about. The template's id still names the task. */
	if (out->template_project)
		t->flyte_task_project = t->project;
	else
		free(t->project);
	t->project = xstrdup(we->project);
	if (out->template_domain)
		t->flyte_task_domain = t->domain;
	else
		free(t->domain);
	t->domain = xstrdup(we->domain);
	out->identity = xasprintf("%s\n%s\n%s\n%s\n%u", we->project, we->domain, we->name,
				  ne->node_id, te->retry_attempt);
	return SPOK_OK;
}

static int take_metadata(const Flyteidl__Admin__TaskExecutionMetadata *md, const char *path,
			 struct spok_flyte_create *out, struct spok_err *err)
{
	struct spok_task *t = &out->task;
	int result;

	if ((result = take_identity(md, path, out, err)) != SPOK_OK)
		return result;
	if (md->namespace_[0] != '\0') {
		if (!name_ok(md->namespace_, 63))
			return bad(err, path, "task_execution_metadata.namespace",
				   "must be a Kubernetes namespace name (1-63 characters)");
		out->namespace_ = xstrdup(md->namespace_);
	}
	/* Task-execution metadata wins over the template's own, as in flytepropeller. */
	if ((result = merge_map((void *const *)md->labels, md->n_labels, path, "labels",
				&t->labels, err)) != SPOK_OK ||
	    (result = merge_map((void *const *)md->annotations, md->n_annotations, path,
				"annotations", &t->annotations, err)) != SPOK_OK ||
	    (result = merge_map((void *const *)md->environment_variables,
				md->n_environment_variables, path, "environment_variables",
				&t->env, err)) != SPOK_OK)
		return result;
	if (md->k8s_service_account[0] != '\0') {
		free(t->service_account);
		t->service_account = xstrdup(md->k8s_service_account);
	}
	return SPOK_OK;
}

static int from_request(const Flyteidl__Admin__CreateTaskRequest *rq, const char *path,
			struct spok_flyte_create *out, struct spok_err *err)
{
	char where[256];
	int result;

	if (rq->template_ == NULL)
		return bad(err, path, "template", "is missing; send the task's TaskTemplate");
	if (rq->task_execution_metadata == NULL)
		return bad(err, path, "task_execution_metadata", "is missing; it names the "
			   "execution (flytepropeller always sends it)");
	snprintf(where, sizeof(where), "%s: CreateTaskRequest.template", path);
	if ((result = spok_task_from_template(rq->template_, where, path, &out->task, err)) != 0)
		return result;
	out->task.retries = 0;
	out->template_project = rq->template_->id && rq->template_->id->project[0];
	out->template_domain = rq->template_->id && rq->template_->id->domain[0];
	if (rq->output_prefix[0] != '\0')
		out->output_prefix = xstrdup(rq->output_prefix);
	return take_metadata(rq->task_execution_metadata, path, out, err);
}

int spok_flyte_parse_create_task(const uint8_t *buf, size_t len, const char *path,
				 struct spok_flyte_create *out, struct spok_err *err)
{
	ProtobufCMessage *m;
	int result;

	memset(out, 0, sizeof(*out));
	spok_task_init(&out->task);
	m = spok_pb_unpack(&flyteidl__admin__create_task_request__descriptor, buf, len, path,
			   "CreateTaskRequest", err);
	if (m == NULL)
		return SPOK_EINVAL;
	result = from_request((const Flyteidl__Admin__CreateTaskRequest *)m, path, out, err);
	protobuf_c_message_free_unpacked(m, NULL);
	/* Again after the metadata's labels, annotations and env were merged in. */
	if (result == SPOK_OK)
		result = spok_task_check_limits(&out->task, path, err);
	if (result != SPOK_OK)
		spok_flyte_create_free(out);
	return result;
}

void spok_flyte_create_free(struct spok_flyte_create *c)
{
	spok_task_free(&c->task);
	free(c->namespace_);
	free(c->exec_project);
	free(c->exec_domain);
	free(c->output_prefix);
	free(c->identity);
	memset(c, 0, sizeof(*c));
	spok_task_init(&c->task);
}
