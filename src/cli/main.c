/* main.c - the `spok` command: global set-up and the command table. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "local/local.h"

typedef int (*spok_cmd_fn)(struct spok_cli *cli, int argc, char **argv);

static int cmd_version(struct spok_cli *cli, int argc, char **argv);
static int cmd_help(struct spok_cli *cli, int argc, char **argv);

static const struct {
	const char *name;
	spok_cmd_fn fn;
	const char *summary;
} commands[] = {
	{"render", cmd_render, "print the SparkApplication for a task"},
	{"validate", cmd_validate, "check a task (and config) without rendering"},
	{"run", cmd_run, "run a job locally with real Spark"},
	{"list", cmd_list, "list recorded executions"},
	{"status", cmd_status, "phase, reason and links of an execution"},
	{"logs", cmd_logs, "print (or follow) an execution's driver log"},
	{"abort", cmd_abort, "stop a running execution"},
	{"gc", cmd_gc, "delete finished executions older than a duration"},
	{"ui", cmd_ui, "open a running execution's live Spark UI (cluster: via the API server)"},
	{"history", cmd_history, "start (or stop) the Spark history server"},
	{"cluster", cmd_cluster, "per-namespace cluster resources (spok cluster sync)"},
	{"reconcile", cmd_reconcile, "follow unfinished cluster executions to their end"},
	{"session", cmd_session, "warm Spark Connect sessions: start, list, stop, url"},
	{"serve", cmd_serve, "run the daemon: HTTP/JSON API, metrics, dashboard"},
	/* local and cluster execution commands register here */
	{"version", cmd_version, "print the spok version"},
	{"help", cmd_help, "list commands"},
};

static int cmd_version(struct spok_cli *cli, int argc, char **argv)
{
	(void)cli;
	(void)argc;
	(void)argv;
	printf("spok %s\n", SPOK_VERSION);
	return 0;
}

static int cmd_help(struct spok_cli *cli, int argc, char **argv)
{
	(void)cli;
	(void)argc;
	(void)argv;
	printf("spok runs Apache Spark jobs locally or as SparkApplications on Kubernetes.\n\n"
	       "Usage: spok COMMAND [flags]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		printf("  %-10s %s\n", commands[i].name, commands[i].summary);
	printf("\nRun 'spok COMMAND --help' for a command's flags.\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct spok_cli cli = {0};

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cmd_help(&cli, argc, argv) == 0 && argc >= 2 ? 0 : SPOK_EXIT_USAGE;
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(&cli, argc, argv);
	/* hidden: a warm attempt's process, handing the job to the session's resident client */
	if (strcmp(argv[1], "_warm-client") == 0)
		return spok_local_resident_client(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(&cli, argc - 1, argv + 1);
	fprintf(stderr, "spok: unknown command '%s'; run 'spok help' for the list\n", argv[1]);
	return SPOK_EXIT_USAGE;
}
