/* server.h - `spok serve`: a long-running daemon running cluster executions on the engine
 * and store, with an HTTP/JSON API, Prometheus metrics and a dashboard page (docs/SERVER.md).
 *
 * One libuv loop carries everything: libmicrohttpd in external-epoll mode, one kube_client
 * and one engine per configured cluster, health probes, signals. SIGTERM/SIGINT drain: stop
 * accepting, cancel driver-log fetches in flight (answered 503), finish in-flight requests, close the engines (executions keep running in their
 * clusters and are re-adopted on the next start), close the store. SIGHUP re-reads the
 * tokens file.
 *
 * Ownership: everything in struct spok_server_opts is borrowed for the call.
 */
#ifndef SPOK_SERVER_SERVER_H
#define SPOK_SERVER_SERVER_H

#include <stdbool.h>

#include "common/err.h"
#include "model/model.h"
#include "store/store.h"

struct srv_daemon;

struct spok_server_opts {
	const struct spok_platform *platform; /* with the spok.clusters/routes/server sections */
	const char *config_dir;  /* base of relative paths in the config; NULL: working dir */
	const char *listen;      /* overrides spok.server.listen; NULL: keep */
	const char *health_listen; /* overrides spok.server.health-listen; NULL: keep */
	const char *data_dir;    /* --data-dir or NULL (resolved with spok_data_dir) */
	const char *kubeconfig;  /* the "default" cluster when none is configured; NULL: kubectl way */
	const char *context;
	/* Called once the daemon listens, with the bound port (useful with port 0). */
	void (*on_listening)(void *data, const char *host, unsigned port);
	/* Then, when a health listener is configured, once with its bound port. */
	void (*on_health_listening)(void *data, const char *host, unsigned port);
	void *listening_data;
	/* An extra front end on the same daemon (src/connector's gRPC service, wired by
	 * `spok serve --grpc`): started on the loop once HTTP listens, *ext its state;
	 * ext_stop(*ext) runs when draining starts and at the latest before the engines close. */
	int (*ext_start)(void *data, struct srv_daemon *d, void **ext, struct spok_err *err);
	void (*ext_stop)(void *ext);
	void *ext_data;
};

/* Validates the configuration (clusters, routes, server, the tokens file and every
 * cluster's kubeconfig) without opening the store or listening. */
int spok_server_check(const struct spok_server_opts *o, struct spok_err *err);
/* True when a recorded task source is the connector's CreateTaskRequest (<key>.ctr), which
 * only spok_server_load_task reads. */
bool spok_server_is_connector_source(const char *path);
/* Loads the task of an execution `spok serve` recorded (x->task_source: its stored .yaml,
 * .pb or connector .ctr file), parsing it in a child process first exactly as the daemon
 * does: for `spok reconcile`, which may have to create such an execution again. */
int spok_server_load_task(const struct spok_execution *x, struct spok_task *out,
			  struct spok_err *err);
/* Runs the daemon until SIGTERM/SIGINT. Returns 0 after a clean shutdown. */
int spok_server_run(const struct spok_server_opts *o, struct spok_err *err);

#endif
