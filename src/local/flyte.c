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
#include "common/utf8.h"
#include "common/xalloc.h"
#include "local/internal.h"
#include "flyteidl/flyteidl.h"
#include "sparkapp/sparkapp.h"

#define PB_MAX ((size_t)64 << 20)
#define REASON_MAX 400

static int write_file(const char *path, const uint8_t *p, size_t n, struct spok_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool ok = fd >= 0;
	while (ok && n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		ok = w > 0;
		if (ok) {
			p += w;
			n -= (size_t)w;
		}
	}
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

static int read_pb(const char *path, struct spok_buf *b)
{
	spok_buf_init(b, PB_MAX);
	return spok_buf_read_file(b, path, NULL);
}

/* The exception line of a traceback: its last non-empty line. */
static char *last_line(const char *msg)
{
	const char *end = msg + strlen(msg);
	while (end > msg && (end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\r'))
		end--;
	const char *start = end;
	while (start > msg && start[-1] != '\n')
		start--;
	size_t n = (size_t)(end - start);
	/* Cut at a character boundary, as reason.c does. */
	return xstrndup(start, n > REASON_MAX ? spok_utf8_prefix(start, REASON_MAX) : n);
}

static void flyte_outputs(struct spok_execution *x)
{
	char *dir = xasprintf("%s/outputs/%u", x->run_dir, x->attempt);
	char *errpb = xasprintf("%s/error.pb", dir), *outpb = xasprintf("%s/outputs.pb", dir);
	struct spok_buf b;
	struct spok_err err = {0};

	if (access(errpb, F_OK) == 0) {
		char *code = NULL, *message = NULL;
		bool recoverable = false;
		if (read_pb(errpb, &b) == 0 &&
		    spok_flyte_decode_error((const uint8_t *)b.data, b.len, errpb, &code, &message, &recoverable, &err) == 0) {
			x->phase = recoverable ? SPOK_PHASE_RETRYABLE_FAILURE : SPOK_PHASE_PERMANENT_FAILURE;
			free(x->reason);
			char *line = last_line(message ? message : "");
			x->reason = xasprintf("%s: %s", code ? code : "USER", line);
			free(line);
			free(x->error_message);
			x->error_message = message;
			message = NULL;
		} else {
			x->phase = SPOK_PHASE_RETRYABLE_FAILURE;
			free(x->reason);
			x->reason = xasprintf("task failed but its error file is unreadable: %s", err.msg[0] ? err.msg : errpb);
		}
		free(code);
		free(message);
		spok_buf_free(&b);
	} else if (access(outpb, F_OK) == 0) {
		json_t *j = NULL;
		if (read_pb(outpb, &b) == 0 &&
		    spok_flyte_decode_literal_map((const uint8_t *)b.data, b.len, outpb, &j, &err) == 0) {
			free(x->outputs_json);
			x->outputs_json = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
			json_decref(j);
		} else {
			x->phase = SPOK_PHASE_RETRYABLE_FAILURE;
			free(x->reason);
			x->reason = xasprintf("outputs unreadable: %s", err.msg[0] ? err.msg : outpb);
		}
		spok_buf_free(&b);
	} else {
		x->phase = SPOK_PHASE_RETRYABLE_FAILURE;
		free(x->reason);
		x->reason = xasprintf("flytekit wrote neither outputs.pb nor error.pb to %s; see %s", dir, x->log_path);
	}
	free(dir);
	free(errpb);
	free(outpb);
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
