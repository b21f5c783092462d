/* flyte.c - flytekit's execution contract for local runs (inputs.pb in, outputs.pb or
 * error.pb out), and program arguments for plain jobs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "local/internal.h"
#include "flyteidl/flyteidl.h"
#include "sparkapp/sparkapp.h"

static int write_file(const char *path, const uint8_t *p, size_t n, struct spok_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool ok = fd >= 0 && spok_write_all(fd, p, n) == 0;

	if (fd >= 0 && close(fd) != 0)
		ok = false;
	if (!ok)
		return spok_err_set(err, SPOK_EIO, "%s: cannot write: %s; check the data dir", path, strerror(errno));
	return 0;
}

static int mkdir_ok(const char *path, struct spok_err *err)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return spok_err_set(err, SPOK_EIO, "%s: cannot create directory: %s", path, strerror(errno));
	return 0;
}

static int flyte_prepare(const struct spok_task *t, const struct spok_local_opts *o,
			 const struct spok_execution *x, struct spok_strv *argv, struct spok_err *err)
{
	struct spok_strmap none = {0};
	uint8_t *pb = NULL;
	size_t n = 0;
	char *inputs = xasprintf("%s/inputs.pb", x->run_dir);
	char *outs = xasprintf("%s/outputs", x->run_dir);
	char *out = xasprintf("%s/outputs/%u", x->run_dir, x->attempt);
	char *raw = xasprintf("%s/raw", x->run_dir);
	char *prev = x->attempt > 0 ? xasprintf("%s/raw/_flytecheckpoints", x->run_dir) : xstrdup("");
	int result = spok_flyte_encode_inputs(&t->inputs, o->inputs ? o->inputs : &none, &pb, &n, err);

	if (result == 0)
		result = write_file(inputs, pb, n, err);
	if (result == 0)
		result = mkdir_ok(outs, err);
	if (result == 0)
		result = mkdir_ok(out, err);
	if (result == 0)
		result = mkdir_ok(raw, err);
	if (result == 0) {
		struct spok_exec ex = {
			.execution_name = x->id, .node_id = "n0", .attempt = x->attempt,
			.namespace_ = "local", .now_ms = x->started_ms, .input_prefix = x->run_dir,
			.output_prefix = out, .raw_output_prefix = raw, .prev_checkpoint = prev,
		};
		for (size_t i = 0; i < t->args.len; i++)
			spok_strv_push_own(argv, spok_render_arg(t->args.items[i], &ex, x->id));
	}
	free(pb);
	free(inputs);
	free(outs);
	free(out);
	free(raw);
	free(prev);
	return result;
}

/* The task's outputs (stored as JSON) or its error document decide how the run ended. */
static void flyte_outputs(struct spok_execution *x)
{
	char *dir = xasprintf("%s/outputs/%u", x->run_dir, x->attempt);
	struct spok_flyte_outcome o;

	spok_flyte_read_outcome(dir, x->log_path ? x->log_path : "the run's log", &o);
	switch (o.kind) {
	case SPOK_FLYTE_OUTPUTS:
		free(x->outputs_json);
		x->outputs_json = o.outputs_json;
		o.outputs_json = NULL;
		break;
	case SPOK_FLYTE_FAILED:
		x->phase = o.recoverable ? SPOK_PHASE_RETRYABLE_FAILURE : SPOK_PHASE_PERMANENT_FAILURE;
		free(x->error_message);
		x->error_message = o.error_message;
		o.error_message = NULL;
		break;
	default:
		x->phase = SPOK_PHASE_RETRYABLE_FAILURE;
		break;
	}
	if (o.kind != SPOK_FLYTE_OUTPUTS) {
		free(x->reason);
		x->reason = o.reason;
		o.reason = NULL;
	}
	spok_flyte_outcome_free(&o);
	free(dir);
}

int spok_local_flyte_prepare(const struct spok_task *t, const struct spok_local_opts *o,
			     const struct spok_execution *x, struct spok_strv *argv,
			     struct spok_err *err)
{
	if (t->origin == SPOK_ORIGIN_FLYTE) {
		return flyte_prepare(t, o, x, argv, err);
	}
	(void)o;
	(void)x;
	(void)err;
	for (size_t i = 0; i < t->args.len; i++)
		spok_strv_push(argv, t->args.items[i]);
	return 0;
}

void spok_local_flyte_outputs(const struct spok_task *t, struct spok_execution *x)
{
	if (t->origin == SPOK_ORIGIN_FLYTE)
		flyte_outputs(x);
}
