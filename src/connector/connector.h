/* connector.h - spok as a Flyte connector: flyteidl.service.AsyncAgentService and
 * AgentMetadataService, plus grpc.health.v1.Health, over gRPC on the `spok serve` daemon
 * (docs/FLYTE.md). `spok serve --grpc ADDR` starts it next to the HTTP API; both share the
 * daemon's store, engines, routing and tokens.
 *
 * Threads: the gRPC C core (Debian's libgrpc) runs its completion queue on one thread of
 * ours; every completed event is queued under a mutex and handed to the daemon's libuv loop
 * (uv_async_send), where all requests are answered: daemon state is only ever touched from
 * the loop. Replies are posted from the loop (grpc_call_start_batch is thread-safe).
 *
 * Config (section spok.server.grpc of the config file; --grpc overrides listen):
 *   listen: HOST:PORT           default 0.0.0.0:8000
 *   tls-cert, tls-key: FILE     PEM server certificate chain and key (relative to the config)
 *   insecure: true              plaintext; required explicitly when there is no TLS
 *   max-message: BYTES          largest request accepted (default 4 MiB, at most 16 MiB)
 *   unauthenticated-as: NAME    calls without `authorization` metadata get the rights of
 *                               token NAME (flytepropeller sends no token); default: refused
 *
 * Ownership: spok_connector_start borrows d (it must outlive the connector) and o for the
 * call; spok_connector_stop stops and frees the connector (safe once, from the loop).
 */
#ifndef SPOK_CONNECTOR_CONNECTOR_H
#define SPOK_CONNECTOR_CONNECTOR_H

#include <stddef.h>

#include "common/err.h"
#include "model/model.h"

#define SPOK_CONN_DEFAULT_LISTEN "0.0.0.0:8000"
#define SPOK_CONN_DEFAULT_MAX_MESSAGE ((size_t)4 << 20)
#define SPOK_CONN_MAX_MESSAGE_LIMIT ((size_t)16 << 20)

struct srv_daemon;
struct spok_connector;

struct spok_conn_opts {
	const struct spok_platform *platform; /* spok.server.grpc is read from it */
	const char *config_dir;               /* base of relative paths; NULL: working dir */
	const char *listen;                   /* --grpc; NULL: spok.server.grpc.listen */
	/* Called once listening, with the bound port (useful with port 0). */
	void (*on_listening)(void *data, const char *addr, unsigned port);
	void *listening_data;
};

/* Validates spok.server.grpc (and reads the TLS files) without listening. */
int spok_connector_check(const struct spok_conn_opts *o, struct spok_err *err);
int spok_connector_start(struct srv_daemon *d, const struct spok_conn_opts *o,
			 struct spok_connector **out, struct spok_err *err);
void spok_connector_stop(struct spok_connector *c);

#endif
