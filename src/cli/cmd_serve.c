/* cmd_serve.c - `spok serve [--config FILE] [--listen ADDR] [--check-config]`: the daemon
 * (src/server, docs/SERVER.md). Order: parse flags -> load and validate the config (exit
 * here with --check-config) -> run on one loop until SIGTERM/SIGINT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "server/server.h"
#include "jobfile/jobfile.h"
#include "connector/connector.h"

static const char serve_synopsis[] = "spok serve [--config FILE] [--listen HOST:PORT] "
				     "[--health-listen HOST:PORT] [--grpc HOST:PORT] [--check-config]";

static void on_listening(void *data, const char *host, unsigned port)
{
	(void)data;
	/* One line on stdout, so scripts (and tests using port 0) learn the address. */
	printf("listening on http://%s:%u\n", host, port);
	fflush(stdout);
}

static void on_grpc_listening(void *data, const char *addr, unsigned port)
{
	(void)data;
	printf("grpc listening on %s port %u\n", addr, port);
	fflush(stdout);
}

/* `--grpc`: the Flyte connector (src/connector) on the same daemon. */
static int grpc_start(void *data, struct srv_daemon *d, void **ext, struct spok_err *err)
{
	return spok_connector_start(d, data, (struct spok_connector **)ext, err);
}

static void grpc_stop(void *ext)
{
	spok_connector_stop(ext);
}

static void on_health_listening(void *data, const char *host, unsigned port)
{
	(void)data;
	printf("health on http://%s:%u\n", host, port);
	fflush(stdout);
}

int cmd_serve(struct spok_cli *cli, int argc, char **argv)
{
	const char *listen = NULL, *health_listen = NULL, *grpc = NULL;
	bool check = false;
	struct spok_flag flags[] = {
		{"listen", 0, &listen, NULL, NULL, "HOST:PORT to listen on (overrides spok.server.listen)"},
		{"health-listen", 0, &health_listen, NULL, NULL, "HOST:PORT of a listener serving only "
		 "/healthz, with its own connections (overrides spok.server.health-listen)"},
		{"grpc", 0, &grpc, NULL, NULL, "also serve the Flyte connector (gRPC) on HOST:PORT (docs/FLYTE.md)"},
		{"check-config", 0, NULL, &check, NULL, "validate the config, tokens and kubeconfigs, then exit"},
		{0},
	};
	struct spok_strv pos = {0};
	struct spok_err err = {0};
	struct spok_platform plat;
	struct spok_server_opts o = {0};
	char *dir = NULL;
	int result = spok_cli_parse(cli, argc, argv, flags, &pos, &err);

	memset(&plat, 0, sizeof(plat));
	if (result == 0 && cli->help) {
		spok_cli_usage(serve_synopsis, flags);
		goto done;
	}
	if (result == 0 && pos.len > 0)
		result = spok_err_set(&err, SPOK_EINVAL, "serve: unexpected argument '%s'; usage: %s",
				      pos.items[0], serve_synopsis);
	if (result == 0)
		result = spok_cli_load_platform(cli, &plat, &err);
	if (result == 0 && plat.source_path) {
		const char *slash = strrchr(plat.source_path, '/');

		dir = slash ? xstrndup(plat.source_path, (size_t)(slash - plat.source_path)) : NULL;
	}
	o.platform = &plat;
	o.config_dir = dir;
	o.listen = listen;
	o.health_listen = health_listen;
	o.data_dir = cli->data_dir;
	o.kubeconfig = cli->kubeconfig;
	o.context = cli->context;
	o.on_listening = on_listening;
	o.on_health_listening = on_health_listening;
	struct spok_conn_opts co = {&plat, dir, grpc, on_grpc_listening, NULL};

	if (grpc) {
		o.ext_start = grpc_start;
		o.ext_stop = grpc_stop;
		o.ext_data = &co;
	}
	if (result == 0 && check && grpc)
		result = spok_connector_check(&co, &err);
	if (result == 0 && check) {
		result = spok_server_check(&o, &err);
		if (result == 0)
			printf("%s: configuration ok\n", plat.source_path ? plat.source_path : "built-in config");
		goto done;
	}
	if (result == 0) {
		if (spok_log_get_level() < SPOK_LOG_INFO && getenv("SPOK_LOG") == NULL)
			spok_log_set_level(SPOK_LOG_INFO);
		result = spok_server_run(&o, &err);
	}
done:
	free(dir);
	spok_platform_free(&plat);
	spok_strv_free(&pos);
	return result == 0 ? 0 : spok_cli_fail(&err);
}
