/* internal.h - pieces of src/connector shared by its files and tests.
 *
 * Ownership: struct conn_config owns its strings (conn_config_free). struct conn_reply owns
 * data and details (heap) until the transport sends them.
 */
#ifndef SPOK_CONNECTOR_INTERNAL_H
#define SPOK_CONNECTOR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "model/model.h"

struct srv_daemon;

struct conn_config {
	char *listen;             /* HOST:PORT as given to the gRPC core */
	char *tls_cert;           /* PEM contents (not paths), or NULL */
	char *tls_key;
	bool insecure;
	size_t max_message;
	char *unauthenticated_as; /* token name, or NULL */
};

int conn_config_build(const struct spok_platform *p, const char *base_dir, const char *listen,
		      struct conn_config *out, struct spok_err *err);
void conn_config_free(struct conn_config *c);

/* The methods served; everything else answers UNIMPLEMENTED. */
enum conn_method {
	CONN_CREATE, CONN_GET, CONN_DELETE, CONN_LIST_AGENTS, CONN_GET_AGENT, CONN_HEALTH,
	CONN_LOGS, CONN_NMETHODS
};
extern const char *const conn_method_paths[CONN_NMETHODS];

/* gRPC status codes used (grpc/status.h values). */
enum {
	CONN_OK = 0, CONN_INVALID_ARGUMENT = 3, CONN_DEADLINE_EXCEEDED = 4, CONN_NOT_FOUND = 5,
	CONN_ALREADY_EXISTS = 6, CONN_PERMISSION_DENIED = 7, CONN_RESOURCE_EXHAUSTED = 8,
	CONN_FAILED_PRECONDITION = 9,
	CONN_UNIMPLEMENTED = 12, CONN_INTERNAL = 13, CONN_UNAVAILABLE = 14,
	CONN_UNAUTHENTICATED = 16
};

struct conn_reply {
	int status;
	char *details;            /* status message (one line), or NULL */
	uint8_t *data;            /* packed response message (status OK only) */
	size_t len;
};

struct conn_service {
	struct srv_daemon *d;
	const struct conn_config *cfg;
	bool stopping;
	size_t log_streams;       /* GetTaskLogs streams alive (logs.c) */
};

/* service.c: answers one unary call. auth is the `authorization` metadata value or NULL. */
void conn_handle(struct conn_service *s, enum conn_method m, const char *auth,
		 const uint8_t *req, size_t len, struct conn_reply *out);
void conn_reply_free(struct conn_reply *r);
/* service.c: CreateTask answered after the loop turn's group commit (docs/SERVER.md, "Group
 * commit"). Either answers r now and returns NULL, or returns the pending create: done(data,
 * r) then fires once from the loop when the commit holding its row is known (never from
 * inside this call); r is the callee's (freed after done returns). conn_create_cancel: done
 * never fires (the create still settles when its commit is known, then frees itself). */
typedef void (*conn_done_cb)(void *data, struct conn_reply *r);
struct conn_create;
struct conn_create *conn_create_start(struct conn_service *s, const char *auth,
				      const uint8_t *req, size_t len, conn_done_cb done,
				      void *data, struct conn_reply *r);
void conn_create_cancel(struct conn_create *cc);
/* service.c: the token called name (tokens are reloaded on SIGHUP: look up per call). */
struct srv_config;
struct srv_token;
const struct srv_token *conn_token_named(const struct srv_config *c, const char *name);

/* service.c, for logs.c: the token of a call (NULL: r holds UNAUTHENTICATED); the execution
 * named by resource_meta that tok may see (false: r holds the error; else free x). */
struct spok_execution;
const struct srv_token *conn_authenticate(struct conn_service *s, const char *auth,
					  struct conn_reply *r);
bool conn_load_exec(struct conn_service *s, const struct srv_token *tok, const uint8_t *meta,
		    size_t len, struct spok_execution *x, struct conn_reply *r);
void conn_fail(struct conn_reply *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define CONN_RESOURCE_META_MAX 64
bool conn_meta_ok(const uint8_t *meta, size_t len);

/* logs.c: GetTaskLogs, a server-streaming call: one header message (empty token: no
 * pagination), then the driver log's lines in body messages, then the status.
 *
 * conn_logs_start validates the call (token, request, execution, the stream cap) and starts
 * getting the log: false when it cannot (r holds the status to send at once); true with
 * *out the stream, which the caller owns and must release with conn_logs_free (which also
 * cancels the fetch). ready(arg) fires once from the loop when the log (or its error) is
 * there, never from inside conn_logs_start; when the log is there at once (a local run's
 * file), conn_logs_ready is already true and ready never fires. conn_logs_next then gives
 * the messages in order (r: status OK, data) and, when none is left, false with r holding
 * the final status. */
#define CONN_LOGS_MAX_STREAMS 16
#define CONN_LOGS_MSG_LINES 256        /* lines per body message */
#define CONN_LOGS_MSG_BYTES 65536      /* log bytes per body message */
struct conn_stream;
bool conn_logs_start(struct conn_service *s, const char *auth, const uint8_t *req,
		     size_t len, void (*ready)(void *arg), void *arg, struct conn_stream **out,
		     struct conn_reply *r);
bool conn_logs_ready(const struct conn_stream *st);
bool conn_logs_next(struct conn_stream *st, struct conn_reply *r);
void conn_logs_free(struct conn_stream *st);

/* logs.c, pure (fuzzed): a GetTaskLogsRequest's execution id (resource_meta) and the lines
 * to fetch (its `lines`, at most SRV_LOG_TAIL_MAX; 0: the HTTP API's default). */
struct conn_logs_req {
	char id[CONN_RESOURCE_META_MAX + 1];
	unsigned long tail;
};
int conn_logs_parse(const uint8_t *req, size_t len, struct conn_logs_req *out,
		    struct spok_err *err);
/* The next body message of log[*off, len) into r (status OK, packed GetTaskLogsResponse):
 * whole lines split on '\n', at most CONN_LOGS_MSG_LINES lines or CONN_LOGS_MSG_BYTES log
 * bytes (a longer line is cut at a character boundary), each made valid UTF-8 without NUL
 * (U+FFFD). Advances *off; false when *off == len (r untouched). */
bool conn_logs_body(const char *log, size_t len, size_t *off, struct conn_reply *r);

/* service.c: spok phase -> flyteidl.core.TaskExecution.Phase (RETRYABLE_FAILED for failures
 * flytepropeller should retry, FAILED for permanent ones). */
int conn_flyte_phase(enum spok_phase p);

#endif
