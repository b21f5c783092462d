/* fuzz_submit_body.c - the daemon's submission body parser (POST /api/v1/executions): JSON
 * -> fields -> task, on any bytes. Besides no crash and no leak, it checks properties:
 *  - a refusal is a 400 whose body is one JSON error object with a one-line message;
 *  - an accepted body gives a task within the caps (spok_task_check_limits), whose stored
 *    source (what a restart re-reads) parses again to the same identity. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flyteidl/flyteidl.h"
#include "server/daemon.h"
#include "jobfile/jobfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void check_refusal(const struct srv_reply *r)
{
	json_t *j, *e;
	const char *msg;

	if (r->status != 400 || r->body == NULL)
		abort();
	j = json_loads(r->body, 0, NULL);
	e = json_object_get(j, "error");
	msg = json_string_value(json_object_get(e, "message"));
	if (!json_is_string(json_object_get(e, "code")) || msg == NULL || msg[0] == '\0' ||
	    strchr(msg, '\n'))
		abort();
	json_decref(j);
}

/* The task source as the daemon stores it reloads to the same task identity. */
static void check_reload(const struct srv_submit *s, const struct spok_task *t)
{
	struct spok_task again;
	int result;

	spok_task_init(&again);
	if (strcmp(s->ext, "pb") == 0)
		result = spok_flyte_load_task_buf((const uint8_t *)s->text, s->len, "stored", NULL,
						  &again, NULL);
	else
		result = spok_jobfile_parse_task(s->text, s->len, "stored", &again, NULL);
	if (result != 0 || !same(again.name, t->name) || !same(again.project, t->project) ||
	    !same(again.domain, t->domain) || again.labels.len != t->labels.len)
		abort();
	spok_task_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct srv_submit s;
	struct srv_reply r = {0};
	struct spok_task t;

	spok_task_init(&t);
	if (!srv_submit_read((const char *)data, size, &s, &r)) {
		check_refusal(&r);
	} else if (!srv_submit_parse(&s, &t, &r)) {
		check_refusal(&r);
	} else {
		if (r.status != 0 || spok_task_check_limits(&t, "fuzz", NULL) != 0)
			abort();
		check_reload(&s, &t);
	}
	spok_task_free(&t);
	srv_submit_free(&s);
	free(r.body);
	return 0;
}
