/* cli.h - shared pieces of the `spok` command line: global flags, flag parsing, loaders.
 *
 * Every command is `int cmd_x(struct spok_cli *cli, int argc, char **argv)` where argv[0] is
 * the command name; it returns the process exit status (see spok_code_exit in common/err.h:
 * 0 ok, 1 job failed, 2 usage/bad input, 3 cluster/API, 4 not found, 5 timeout, 6 forbidden,
 * 74 local I/O, 70 internal, 130 aborted by the user).
 * Strings in struct spok_cli point into argv or the environment (borrowed, never freed).
 */
#ifndef SPOK_CLI_CLI_H
#define SPOK_CLI_CLI_H

#include <stdbool.h>

#include "common/err.h"
#include "common/strv.h"
#include "model/execution.h"
#include "model/model.h"

#define SPOK_EXIT_JOB_FAILED 1
#define SPOK_EXIT_USAGE 2
#define SPOK_EXIT_ABORTED 130

struct spok_cli {
	const char *config_path; /* --config, else $SPOK_CONFIG */
	const char *context;     /* --context: kubeconfig context / configured cluster */
	const char *namespace_;  /* --namespace / -n */
	const char *output;      /* -o yaml|json|wide|name (NULL: command default) */
	const char *data_dir;    /* --data-dir, else $SPOK_DATA_DIR, else XDG data dir */
	const char *kubeconfig;  /* --kubeconfig, else $KUBECONFIG */
	bool verbose;
	bool help;
};

/* One flag a command accepts. Exactly one of value/flag/list is set. */
struct spok_flag {
	const char *name;        /* long name without dashes */
	char short_name;         /* 0 if none */
	const char **value;      /* takes a value: stored here (borrowed from argv) */
	bool *flag;              /* boolean: set to true */
	struct spok_strv *list;  /* repeatable value: each occurrence appended (copied) */
	const char *help;
};

/* Parses argv[1..] against flags plus the global flags; positional args go to pos.
 * Accepts --name=value, --name value, -x value, -xvalue and "--". */
int spok_cli_parse(struct spok_cli *cli, int argc, char **argv, const struct spok_flag *flags,
		   struct spok_strv *pos, struct spok_err *err);
void spok_cli_usage(const char *synopsis, const struct spok_flag *flags);

/* Loads a task from a spok job file (YAML) or Flyte protobuf / pyflyte package, chosen by
 * content. task_name picks a task inside a package (may be NULL). */
int spok_cli_load_task(const char *path, const char *task_name, struct spok_task *out,
		       struct spok_err *err);
/* Loads the platform config: --config, $SPOK_CONFIG, then $XDG_CONFIG_HOME/spok/config.yaml
 * (or ~/.config/spok/config.yaml) if it exists; otherwise built-in defaults. */
int spok_cli_load_platform(const struct spok_cli *cli, struct spok_platform *out,
			   struct spok_err *err);
/* Parses the value of --flag as a base-10 integer in [lo, hi]; the error names the flag. */
int spok_cli_int(const char *flag, const char *s, long long lo, long long hi, long long *out,
		 struct spok_err *err);
/* Exit status for an execution's final phase: 0 succeeded, 130 aborted, 5 timed out,
 * 1 any failure. */
int spok_cli_phase_exit(enum spok_phase p);
/* Prints one error line "spok: <msg>" to stderr and returns the exit status for its code. */
int spok_cli_fail(const struct spok_err *err);
/* Writes a JSON value as YAML or JSON (format "yaml" or "json") to stdout. */
int spok_cli_print(const json_t *j, const char *format, struct spok_err *err);

int cmd_render(struct spok_cli *cli, int argc, char **argv);
/* local execution and the execution store (cmd_run.c, cmd_exec.c, cmd_history.c); abort,
 * logs and live status of any backend go through src/backend (cli/session.h). */
int cmd_run(struct spok_cli *cli, int argc, char **argv);
int cmd_list(struct spok_cli *cli, int argc, char **argv);
int cmd_status(struct spok_cli *cli, int argc, char **argv);
int cmd_logs(struct spok_cli *cli, int argc, char **argv);
int cmd_abort(struct spok_cli *cli, int argc, char **argv);
/* `spok session start|list|stop|url` (cmd_session.c, src/connect) */
int cmd_session(struct spok_cli *cli, int argc, char **argv);
/* `spok gc` (cmd_gc.c): retention for the store */
int cmd_gc(struct spok_cli *cli, int argc, char **argv);
int cmd_history(struct spok_cli *cli, int argc, char **argv);
int cmd_validate(struct spok_cli *cli, int argc, char **argv);
/* `spok serve` (cmd_serve.c, src/server) */
int cmd_serve(struct spok_cli *cli, int argc, char **argv);
/* `spok cluster sync` (cmd_sync.c, src/provision) */
int cmd_cluster(struct spok_cli *cli, int argc, char **argv);
/* cluster runs (cmd_run_cluster.c, cmd_reconcile.c; src/backend, src/engine):
 * `spok run JOB --cluster CONTEXT` and `spok reconcile`. */
bool spok_cli_wants_cluster(int argc, char **argv);
int cmd_run_cluster(struct spok_cli *cli, int argc, char **argv);
int cmd_reconcile(struct spok_cli *cli, int argc, char **argv);
/* `spok ui ID`: a running cluster execution's Spark UI through the API server (cmd_ui.c). */
int cmd_ui(struct spok_cli *cli, int argc, char **argv);

/* The CLI's view of an execution for -o json|yaml (view.c): every stored field, snake_case,
 * host paths included; unset strings and times are null. New reference. */
json_t *cli_execution_json(const struct spok_execution *e);

#endif
