/* ready.c - spok_connect_ensure's one step without waiting (spok serve's warm runs): start
 * the session when it does not run, else say whether it runs yet. See connect.h. */
#include <string.h>

#include "connect/connect.h"

/* Starts a new server for the session (spok_connect_begin: a compare-and-set on the row's
 * generation, the supervisor forked without waiting); *began gets its generation. 0 with
 * *out when the row it found runs, else *out is left empty. */
static int begin(struct spok_store *st, const char *data_dir, const char *config_path,
		 const char *name, const struct spok_pool *pool, const char *project,
		 int64_t *began, struct spok_session *out, bool *started, struct spok_err *err)
{
	bool mine = false;
	int result = spok_connect_begin(st, data_dir, config_path, name, pool, project, out, &mine, err);

	if (result == 0 && mine) {
		*began = out->generation;
		if (started)
			*started = true;
	}
	if (result == 0 && !(out->phase == SPOK_SESSION_RUNNING && spok_connect_server_up(out)))
		result = SPOK_CONNECT_PENDING;
	if (result != 0)
		spok_session_free(out);
	return result;
}

int spok_connect_ensure_step(struct spok_store *st, const char *data_dir, const char *config_path,
			     const char *name, const struct spok_pool *pool, const char *project,
			     int64_t *began, struct spok_session *out, bool *started,
			     struct spok_err *err)
{
	struct spok_session x;
	int result;

	memset(out, 0, sizeof(*out));
	if (started)
		*started = false;
	result = spok_store_session_get(st, name, &x, err);
	if (result == SPOK_ENOTFOUND)
		return begin(st, data_dir, config_path, name, pool, project, began, out, started, err);
	if (result != 0)
		return result;
	spok_connect_settle_nowait(st, &x, NULL); /* a dead supervisor's row: FAILED */
	/* Asked again for every attempt: another project's run may have started the session
	 * since this run was submitted (an ended one is begin's to take over, or refuse). */
	if (!spok_session_phase_terminal(x.phase) && spok_connect_project_clash(&x, project)) {
		result = spok_err_set(err, SPOK_ECONFLICT, "session %s belongs to %s now; try again once it ends",
				      name, x.project ? "another project" : "no project (started from the CLI)");
		spok_session_free(&x);
		return result;
	}
	if (x.phase == SPOK_SESSION_RUNNING && spok_connect_server_up(&x)) {
		if ((result = spok_connect_pool_clash(&x, pool, err)) != 0) {
			spok_session_free(&x);
			return result;
		}
		*out = x;
		return 0;
	}
	if (spok_session_phase_terminal(x.phase) && *began > 0 && x.generation == *began) {
		/* the server this caller started ended before it answered */
		result = spok_err_set(err, SPOK_EIO, "session %s: the Spark Connect server did not start: %s",
				      name, x.reason ? x.reason : "unknown reason");
		spok_session_free(&x);
		return result;
	}
	bool ended = spok_session_phase_terminal(x.phase);

	spok_session_free(&x);
	if (ended)
		return begin(st, data_dir, config_path, name, pool, project, began, out, started, err);
	/* STARTING, STOPPING (a new start follows its end), or RUNNING without its server (its
	 * supervisor records that shortly) */
	return SPOK_CONNECT_PENDING;
}
