/* cmd_history.c - `spok history [--port N] [--log-dir DIR] [stop]`: the Spark history server
 * from the pyspark distribution over the event logs of local runs, or over another directory
 * (the host side of cluster runs' event-log volume, docs/CONFIG.md spok.event-log). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "local/local.h"
#include "store/store.h"

static const char history_synopsis[] = "spok history [--port N] [--log-dir DIR|URI] [stop]";

int cmd_history(struct spok_cli *cli, int argc, char **argv)
{
	const char *port_s = NULL, *log_dir = NULL;
	struct spok_flag flags[] = {
		{"port", 0, &port_s, NULL, NULL, "port of the history server (default 18080)"},
		{"log-dir", 0, &log_dir, NULL, NULL,
		 "event logs to serve (default: DATA_DIR/spark-events, local runs)"},
		{0},
	};
	struct spok_strv pos = {0};
	struct spok_err err = {0};
	char *data_dir = NULL, *uri = NULL;
	int port = SPOK_HISTORY_PORT;
	int result = spok_cli_parse(cli, argc, argv, flags, &pos, &err);

	if (result == 0 && cli->help) {
		spok_cli_usage(history_synopsis, flags);
		goto done;
	}
	if (result == 0 && (pos.len > 1 || (pos.len == 1 && strcmp(pos.items[0], "stop") != 0)))
		result = spok_err_set(&err, SPOK_EINVAL, "history: unexpected argument; usage: %s", history_synopsis);
	if (result == 0 && port_s) {
		long long v = 0;

		result = spok_cli_int("port", port_s, 1, 65535, &v, &err);
		port = (int)v;
	}
	if (result == 0)
		result = spok_data_dir(cli->data_dir, &data_dir, &err);
	if (result == 0 && pos.len == 1) {
		result = spok_history_stop(data_dir, &err);
		if (result == 0)
			printf("history server stopped\n");
	} else if (result == 0) {
		int got = 0;
		result = spok_history_start(data_dir, log_dir, port, &got, &uri, &err);
		if (result == 0)
			printf("Spark history server: http://127.0.0.1:%d (event logs in %s)\n", got, uri);
	}
done:
	free(uri);
	free(data_dir);
	spok_strv_free(&pos);
	return result == 0 ? 0 : spok_cli_fail(&err);
}
