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
	CONN_NMETHODS
};
extern const char *const conn_method_paths[CONN_NMETHODS];

/* gRPC status codes used (grpc/status.h values). */
enum {
	CONN_OK = 0, CONN_INVALID_ARGUMENT = 3, CONN_DEADLINE_EXCEEDED = 4, CONN_NOT_FOUND = 5,
	CONN_ALREADY_EXISTS = 6, CONN_PERMISSION_DENIED = 7, CONN_FAILED_PRECONDITION = 9,
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
};

/* service.c: answers one unary call. auth is the `authorization` metadata value or NULL. */
void conn_handle(struct conn_service *s, enum conn_method m, const char *auth,
		 const uint8_t *req, size_t len, struct conn_reply *out);
void conn_reply_free(struct conn_reply *r);
/* service.c: the token called name (tokens are reloaded on SIGHUP: look up per call). */
struct srv_config;
struct srv_token;
const struct srv_token *conn_token_named(const struct srv_config *c, const char *name);

/* service.c: spok phase -> flyteidl.core.TaskExecution.Phase (RETRYABLE_FAILED for failures
 * flytepropeller should retry, FAILED for permanent ones). */
int conn_flyte_phase(enum spok_phase p);

#endif
