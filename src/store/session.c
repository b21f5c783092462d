/* session.c - the `sessions` table (warm Spark Connect servers). See store.h. */
#include <stdlib.h>
#include <string.h>

#include "common/timefmt.h"
#include "common/xalloc.h"
#include "store/internal.h"

#define SESSION_COLS                                                                              \
	"name, pool, backend, phase, reason, user_id, port, ui_port, pid, proc_start,"             \
	" supervisor_pid, supervisor_start, created_ms, started_ms, last_used_ms, finished_ms,"    \
	" stop_requested, generation, starts, log_path, project, host"

static char *text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? xstrdup((const char *)t) : NULL;
}

static void read_session(sqlite3_stmt *st, struct spok_session *x)
{
	memset(x, 0, sizeof(*x));
	x->name = text(st, 0);
	x->pool = text(st, 1);
	x->backend = text(st, 2);
	char *phase = text(st, 3);
	int p = spok_session_phase_parse(phase);
	free(phase);
	/* A phase this spok does not know ended in a way it cannot tell. */
	x->phase = p < 0 ? SPOK_SESSION_FAILED : (enum spok_session_phase)p;
	x->reason = text(st, 4);
	x->user_id = text(st, 5);
	x->port = sqlite3_column_int(st, 6);
	x->ui_port = sqlite3_column_int(st, 7);
	x->pid = sqlite3_column_int64(st, 8);
	x->proc_start = (uint64_t)sqlite3_column_int64(st, 9);
	x->supervisor_pid = sqlite3_column_int64(st, 10);
	x->supervisor_start = (uint64_t)sqlite3_column_int64(st, 11);
	x->created_ms = sqlite3_column_int64(st, 12);
	x->started_ms = sqlite3_column_int64(st, 13);
	x->last_used_ms = sqlite3_column_int64(st, 14);
	x->finished_ms = sqlite3_column_int64(st, 15);
	x->stop_requested = sqlite3_column_int(st, 16) != 0;
	x->generation = sqlite3_column_int64(st, 17);
	x->starts = sqlite3_column_int64(st, 18);
	x->log_path = text(st, 19);
	x->project = text(st, 20);
	x->host = text(st, 21);
}

int spok_store_session_get(struct spok_store *s, const char *name, struct spok_session *out,
			   struct spok_err *err)
{
	sqlite3_stmt *st = NULL;
	int result = spok_store_prepare(s, "SELECT " SESSION_COLS " FROM sessions WHERE name = ?1", &st, err);

	memset(out, 0, sizeof(*out));
	if (result != 0)
		return result;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		read_session(st, out);
	else if (r == SQLITE_DONE)
		result = spok_err_set(err, SPOK_ENOTFOUND, "session %s: not found; run 'spok session list'", name);
	else
		result = spok_store_db_fail(s, err, "reading a session");
	sqlite3_finalize(st);
	return result;
}

int spok_store_session_list(struct spok_store *s, struct spok_session **out, size_t *n,
			    struct spok_err *err)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int r, result = spok_store_prepare(s, "SELECT " SESSION_COLS " FROM sessions ORDER BY name", &st, err);

	*out = NULL;
	*n = 0;
	if (result != 0)
		return result;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			*out = xreallocarray(*out, cap, sizeof(**out));
		}
		read_session(st, &(*out)[(*n)++]);
	}
	if (r != SQLITE_DONE) {
		result = spok_store_db_fail(s, err, "listing sessions");
		spok_session_list_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	sqlite3_finalize(st);
	return result;
}

/* One write statement in its own IMMEDIATE transaction; *changes gets the rows it changed. */
static int write_one(struct spok_store *s, sqlite3_stmt *st, const char *what, int *changes,
		     struct spok_err *err)
{
	int result = spok_store_begin_write(s, "starting a write", err);

	if (result == 0)
		result = spok_store_step_done(s, st, what, err);
	if (result == 0 && changes)
		*changes = sqlite3_changes(s->db);
	return spok_store_end_write(s, result, err);
}

int spok_store_session_begin(struct spok_store *s, const char *name, const char *pool,
			     const char *project, const char *user_id, const char *log_path,
			     int64_t expect_gen, struct spok_proc_id sup, int64_t *gen_out,
			     struct spok_err *err)
{
	sqlite3_stmt *st = NULL;
	int changes = 0;
	const char *sql = expect_gen < 0
		? "INSERT OR IGNORE INTO sessions (name, pool, backend, phase, user_id, log_path,"
		  " supervisor_pid, supervisor_start, created_ms, generation, starts, project)"
		  " VALUES (?1, ?2, 'local', 'STARTING', ?3, ?4, ?5, ?6, ?7, 1, 1, ?9)"
		: "UPDATE sessions SET pool = ?2, phase = 'STARTING', reason = NULL, user_id = ?3,"
		  " log_path = ?4, supervisor_pid = ?5, supervisor_start = ?6, port = 0, ui_port = 0,"
		  " pid = 0, proc_start = 0, host = NULL, started_ms = 0, finished_ms = 0, stop_requested = 0,"
		  " last_used_ms = ?7, generation = generation + 1, starts = starts + 1,"
		  " project = COALESCE(?9, project)"
		  " WHERE name = ?1 AND generation = ?8";
	int result = spok_store_prepare(s, sql, &st, err);

	if (result != 0)
		return result;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, pool, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, user_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, log_path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, sup.pid);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)sup.start);
	sqlite3_bind_int64(st, 7, spok_now_ms());
	if (expect_gen >= 0)
		sqlite3_bind_int64(st, 8, expect_gen);
	if (project)
		sqlite3_bind_text(st, 9, project, -1, SQLITE_STATIC);
	result = write_one(s, st, "starting a session", &changes, err);
	sqlite3_finalize(st);
	if (result == 0 && changes == 0)
		return spok_err_set(err, SPOK_ECONFLICT, "session %s: another spok is starting or stopping it", name);
	if (result == 0)
		*gen_out = expect_gen < 0 ? 1 : expect_gen + 1;
	return result;
}

int spok_store_session_update(struct spok_store *s, const struct spok_session *x,
			      struct spok_err *err)
{
	sqlite3_stmt *st = NULL;
	int changes = 0;
	int result = spok_store_prepare(s,
		"UPDATE sessions SET phase = ?2, reason = ?3, port = ?4, ui_port = ?5, pid = ?6,"
		" proc_start = ?7, supervisor_pid = ?8, supervisor_start = ?9, started_ms = ?10,"
		" finished_ms = ?11, backend = COALESCE(?13, backend), host = ?14"
		" WHERE name = ?1 AND generation = ?12", &st, err);

	if (result != 0)
		return result;
	sqlite3_bind_text(st, 1, x->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, spok_session_phase_name(x->phase), -1, SQLITE_STATIC);
	if (x->reason)
		sqlite3_bind_text(st, 3, x->reason, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, x->port);
	sqlite3_bind_int(st, 5, x->ui_port);
	sqlite3_bind_int64(st, 6, x->pid);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)x->proc_start);
	sqlite3_bind_int64(st, 8, x->supervisor_pid);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)x->supervisor_start);
	sqlite3_bind_int64(st, 10, x->started_ms);
	sqlite3_bind_int64(st, 11, x->finished_ms);
	sqlite3_bind_int64(st, 12, x->generation);
	if (x->backend)
		sqlite3_bind_text(st, 13, x->backend, -1, SQLITE_STATIC);
	if (x->host)
		sqlite3_bind_text(st, 14, x->host, -1, SQLITE_STATIC);
	result = write_one(s, st, "recording a session", &changes, err);
	sqlite3_finalize(st);
	if (result == 0 && changes == 0)
		return spok_err_set(err, SPOK_ECONFLICT, "session %s: started again by another spok meanwhile", x->name);
	return result;
}

int spok_store_session_supervisor(struct spok_store *s, const char *name, int64_t gen,
				  struct spok_proc_id sup, struct spok_err *err)
{
	sqlite3_stmt *st = NULL;
	int result = spok_store_prepare(s,
		"UPDATE sessions SET supervisor_pid = ?2, supervisor_start = ?3"
		" WHERE name = ?1 AND generation = ?4", &st, err);

	if (result != 0)
		return result;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, sup.pid);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)sup.start);
	sqlite3_bind_int64(st, 4, gen);
	result = write_one(s, st, "recording a session's supervisor", NULL, err);
	sqlite3_finalize(st);
	return result;
}

static int set_one(struct spok_store *s, const char *sql, const char *name, int64_t v,
		   const char *what, struct spok_err *err)
{
	sqlite3_stmt *st = NULL;
	int changes = 0;
	int result = spok_store_prepare(s, sql, &st, err);

	if (result != 0)
		return result;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, v);
	result = write_one(s, st, what, &changes, err);
	sqlite3_finalize(st);
	if (result == 0 && changes == 0)
		return spok_err_set(err, SPOK_ENOTFOUND, "session %s: not found; run 'spok session list'", name);
	return result;
}

int spok_store_session_request_stop(struct spok_store *s, const char *name, struct spok_err *err)
{
	return set_one(s, "UPDATE sessions SET stop_requested = ?2 WHERE name = ?1", name, 1,
		       "requesting a session stop", err);
}

int spok_store_session_touch(struct spok_store *s, const char *name, int64_t now_ms,
			     struct spok_err *err)
{
	return set_one(s, "UPDATE sessions SET last_used_ms = max(last_used_ms, ?2) WHERE name = ?1",
		       name, now_ms, "recording a session's use", err);
}

/* The clients query of spok_store_session_clients, inside or outside a transaction. */
static int count_clients(struct spok_store *s, const char *name, size_t *n, struct spok_err *err)
{
	sqlite3_stmt *st = NULL;
	/* The phase list repeats the unfinished index's so SQLite reads only those rows. */
	int r, result = spok_store_prepare(s,
		"SELECT supervisor_pid, supervisor_start FROM executions WHERE backend = 'local' AND"
		" (phase IN ('UNDEFINED', 'QUEUED', 'WAITING_FOR_RESOURCES', 'INITIALIZING', 'RUNNING')"
		" OR (phase = 'RETRYABLE_FAILURE' AND attempt < max_attempts - 1 AND abort_requested = 0))"
		" AND session = ?1", &st, err);

	*n = 0;
	if (result != 0)
		return result;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct spok_proc_id p = {sqlite3_column_int64(st, 0), (uint64_t)sqlite3_column_int64(st, 1)};

		if (spok_proc_alive(p))
			(*n)++;
	}
	if (r != SQLITE_DONE)
		result = spok_store_db_fail(s, err, "counting a session's runs");
	sqlite3_finalize(st);
	return result;
}

int spok_store_session_clients(struct spok_store *s, const char *name, size_t *n,
			       struct spok_err *err)
{
	return count_clients(s, name, n, err);
}

/* Reads the row's generation, phase and last use inside the caller's transaction. */
static int read_use(struct spok_store *s, const char *name, int64_t *gen, char **phase,
		    int64_t *last_used, struct spok_err *err)
{
	sqlite3_stmt *st = NULL;
	int result = spok_store_prepare(s, "SELECT generation, phase, last_used_ms, stop_requested"
					" FROM sessions WHERE name = ?1", &st, err);

	*phase = NULL;
	if (result != 0)
		return result;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		*gen = sqlite3_column_int64(st, 0);
		*phase = sqlite3_column_int(st, 3) ? xstrdup("STOP_REQUESTED") : text(st, 1);
		*last_used = sqlite3_column_int64(st, 2);
	} else if (r == SQLITE_DONE) {
		result = spok_err_set(err, SPOK_ENOTFOUND, "session %s: not found; run 'spok session list'", name);
	} else {
		result = spok_store_db_fail(s, err, "reading a session");
	}
	sqlite3_finalize(st);
	return result;
}

int spok_store_session_stop_idle(struct spok_store *s, const struct spok_session *x,
				 int64_t last_seen, const char *reason, bool *stopped,
				 struct spok_err *err)
{
	int64_t gen = 0, last = 0;
	char *phase = NULL;
	size_t clients = 0;
	int changes = 0;
	sqlite3_stmt *st = NULL;
	/* One IMMEDIATE transaction: a run that records itself as the session's client does so
	 * either before it (and is counted here) or after (and then reads STOPPING). */
	int result = spok_store_begin_write(s, "starting a write", err);

	*stopped = false;
	if (result == 0)
		result = read_use(s, x->name, &gen, &phase, &last, err);
	if (result == 0)
		result = count_clients(s, x->name, &clients, err);
	bool idle = result == 0 && gen == x->generation && phase && strcmp(phase, "RUNNING") == 0 &&
		    last <= last_seen && clients == 0;
	if (idle)
		result = spok_store_prepare(s, "UPDATE sessions SET phase = 'STOPPING', reason = ?2"
					    " WHERE name = ?1 AND generation = ?3", &st, err);
	if (idle && result == 0) {
		sqlite3_bind_text(st, 1, x->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, x->generation);
		result = spok_store_step_done(s, st, "stopping an idle session", err);
		changes = result == 0 ? sqlite3_changes(s->db) : 0;
	}
	sqlite3_finalize(st);
	free(phase);
	result = spok_store_end_write(s, result, err);
	*stopped = result == 0 && changes == 1;
	return result;
}
