/* fuzz_task_same.h - for the flyteidl fuzz targets: whether two tasks are the same task, told
 * by what spok makes of them. Both are rendered into a SparkApplication with one fixed
 * platform and execution (the failure message when the builder refuses), and the identity
 * fields are compared too. The model has no equality of its own; the rendered object covers
 * every field the builder reads. */
#ifndef SPOK_TESTS_FUZZ_TASK_SAME_H
#define SPOK_TESTS_FUZZ_TASK_SAME_H

#include <stdbool.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "common/xalloc.h"
#include "model/model.h"
#include "sparkapp/sparkapp.h"

/* New reference: the SparkApplication, or {"refused": message}. */
static json_t *fuzz_render(const struct spok_task *t)
{
	struct spok_platform p;
	struct spok_exec x;
	struct spok_err err = {0};
	json_t *app = NULL;

	spok_platform_init(&p);
	p.spok.default_image = xstrdup("img");
	memset(&x, 0, sizeof(x));
	x.execution_name = "fuzz-exec";
	x.node_id = "n0";
	x.namespace_ = "ns";
	x.now_ms = 1;
	x.input_prefix = "s3://in";
	x.output_prefix = "s3://out";
	x.raw_output_prefix = "s3://raw";
	x.prev_checkpoint = "";
	if (spok_sparkapp_build(t, &p, &x, &app, &err) != 0)
		app = json_pack("{s:s}", "refused", err.msg);
	spok_platform_free(&p);
	return app;
}

static bool fuzz_same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool fuzz_same_task(const struct spok_task *a, const struct spok_task *b)
{
	json_t *ja, *jb;
	bool same;

	if (a->origin != b->origin || a->type != b->type || !fuzz_same_str(a->name, b->name) ||
	    !fuzz_same_str(a->project, b->project) || !fuzz_same_str(a->domain, b->domain) ||
	    !fuzz_same_str(a->version, b->version))
		return false;
	ja = fuzz_render(a);
	jb = fuzz_render(b);
	same = ja != NULL && jb != NULL && json_equal(ja, jb);
	json_decref(ja);
	json_decref(jb);
	return same;
}

#endif
