/* session.h - a warm Spark Connect session as spok records it (the store's `sessions` table;
 * src/connect starts, supervises and stops them; `spok session`).
 *
 * A session is one long-lived Spark Connect server that short jobs (`spok run --warm`) and
 * interactive clients (`spok session url`) connect to. Locally it is a spark-submit process
 * in its own process group, watched by a supervising spok process; both are recorded as
 * (pid, start time) so a reused pid is never taken for them.
 *
 * Ownership: every string is owned by the struct (NULL = unset); spok_session_free releases
 * them and zeroes the struct; arrays are freed with spok_session_list_free.
 */
#ifndef SPOK_MODEL_SESSION_H
#define SPOK_MODEL_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum spok_session_phase {
	SPOK_SESSION_STARTING = 0, /* the server was spawned (or is about to be); not listening yet */
	SPOK_SESSION_RUNNING,      /* the server answers on its port */
	SPOK_SESSION_STOPPING,     /* TERM sent (stop, idle, lifetime); waiting for it to exit */
	SPOK_SESSION_STOPPED,      /* ended on purpose (terminal) */
	SPOK_SESSION_FAILED,       /* ended on its own, or its supervisor died (terminal) */
};

struct spok_session {
	char *name;
	char *pool;
	char *backend;             /* "local" or "kubernetes" (a Kubernetes pool's server pod) */
	enum spok_session_phase phase;
	char *reason;              /* one line: why this phase (STOPPED, FAILED, STOPPING) */
	char *user_id;             /* who started it (the user_id in its sc:// URL) */
	char *host;                /* where the server listens; NULL: 127.0.0.1 (a local server) */
	int port;                  /* Spark Connect gRPC port on host; 0 = not yet */
	int ui_port;               /* the server's Spark UI port; 0 = not yet */
	int64_t pid;               /* the server (spark-submit), leader of its own process group */
	uint64_t proc_start;
	int64_t supervisor_pid;    /* the spok process that supervises it */
	uint64_t supervisor_start;
	int64_t created_ms;        /* first start of this name */
	int64_t started_ms;        /* this server answered (0: not yet) */
	int64_t last_used_ms;      /* last warm run or `spok session url` (idle reaping) */
	int64_t finished_ms;
	bool stop_requested;       /* `spok session stop` asked its supervisor */
	int64_t generation;        /* bumped by every start (compare-and-set of who starts it) */
	int64_t starts;            /* how many servers this name has had */
	char *log_path;            /* the server's log */
	char *project;             /* who may see and stop it through `spok serve` (NULL: started
	                            * from the CLI; only all-projects tokens see it) */
};

const char *spok_session_phase_name(enum spok_session_phase p);
/* -1 when s names no phase. */
int spok_session_phase_parse(const char *s);
bool spok_session_phase_terminal(enum spok_session_phase p);
void spok_session_free(struct spok_session *s);
void spok_session_list_free(struct spok_session *v, size_t n);

#endif
