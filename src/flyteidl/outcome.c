/* outcome.c - what a flytekit task left in its output prefix (a directory here): outputs.pb,
 * error.pb or nothing. One reading for local runs (src/local) and cluster runs whose output
 * prefix is on the platform's flyte-data storage (src/engine). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "flyteidl/flyteidl.h"

#define PB_MAX ((size_t)64 << 20)
#define REASON_MAX 400

/* The exception line of a traceback: its last non-empty line, cut at a character boundary. */
static char *last_line(const char *msg)
{
	const char *end = msg + strlen(msg), *start;
	size_t n;

	while (end > msg && (end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\r'))
		end--;
	start = end;
	while (start > msg && start[-1] != '\n')
		start--;
	n = (size_t)(end - start);
	return xstrndup(start, n > REASON_MAX ? spok_utf8_prefix(start, REASON_MAX) : n);
}

static void read_error(const char *path, struct spok_flyte_outcome *o)
{
	struct spok_buf b;
	struct spok_err err = {0};
	char *code = NULL, *message = NULL, *line;
	bool recoverable = false;

	spok_buf_init(&b, PB_MAX);
	if (spok_buf_read_file(&b, path, &err) == 0 &&
	    spok_flyte_decode_error((const uint8_t *)b.data, b.len, path, &code, &message,
				    &recoverable, &err) == 0) {
		o->kind = SPOK_FLYTE_FAILED;
		o->recoverable = recoverable;
		line = last_line(message ? message : "");
		o->reason = xasprintf("%s: %s", code ? code : "USER", line);
		free(line);
		o->error_message = message;
		message = NULL;
	} else {
		o->kind = SPOK_FLYTE_UNREADABLE;
		o->reason = xasprintf("task failed but its error file is unreadable: %s",
				      err.msg[0] ? err.msg : path);
	}
	free(code);
	free(message);
	spok_buf_free(&b);
}

static void read_outputs(const char *path, struct spok_flyte_outcome *o)
{
	struct spok_buf b;
	struct spok_err err = {0};
	json_t *j = NULL;

	spok_buf_init(&b, PB_MAX);
	if (spok_buf_read_file(&b, path, &err) == 0 &&
	    spok_flyte_decode_literal_map((const uint8_t *)b.data, b.len, path, &j, &err) == 0) {
		o->kind = SPOK_FLYTE_OUTPUTS;
		o->outputs_json = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER |
						     JSON_REAL_PRECISION(15));
		json_decref(j);
	} else {
		o->kind = SPOK_FLYTE_UNREADABLE;
		o->reason = xasprintf("outputs unreadable: %s", err.msg[0] ? err.msg : path);
	}
	spok_buf_free(&b);
}

void spok_flyte_read_outcome(const char *dir, const char *see, struct spok_flyte_outcome *o)
{
	char *errpb = xasprintf("%s/error.pb", dir), *outpb = xasprintf("%s/outputs.pb", dir);

	memset(o, 0, sizeof(*o));
	if (access(errpb, F_OK) == 0) {
		read_error(errpb, o);
	} else if (access(outpb, F_OK) == 0) {
		read_outputs(outpb, o);
	} else {
		o->kind = SPOK_FLYTE_NOTHING;
		o->reason = xasprintf("flytekit wrote neither outputs.pb nor error.pb to %s; see %s",
				      dir, see);
	}
	free(errpb);
	free(outpb);
}

void spok_flyte_outcome_free(struct spok_flyte_outcome *o)
{
	free(o->outputs_json);
	free(o->reason);
	free(o->error_message);
	memset(o, 0, sizeof(*o));
}
