/* cmd_gc.c - `spok gc --older-than DURATION`: retention for the execution store. Deletes
 * finished executions that ended longer ago than DURATION, with the run dirs and daemon task
 * files the data dir holds for them (spok_store_gc), in batches, so a daemon or another spok
 * reading the store meanwhile waits at most for one short transaction. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/timefmt.h"
#include "common/xalloc.h"
#include "store/store.h"

#define GC_SYNOPSIS "spok gc --older-than DURATION [-o json|yaml]"

/* Durations beyond ~300 years are a typo, and would overflow the cut-off. */
#define GC_MAX_MS (10000ULL * 365 * 24 * 3600 * 1000)

static int gc_args(struct spok_cli *cli, int argc, char **argv, int64_t *before_ms,
		   struct spok_err *err)
{
	const char *older = NULL;
	struct spok_flag flags[] = {
		{"older-than", 0, &older, NULL, NULL,
		 "delete executions that finished longer ago than this (e.g. 720h, 90s)"},
		{0},
	};
	struct spok_strv pos = {0};
	uint64_t ms = 0;
	int result = spok_cli_parse(cli, argc, argv, flags, &pos, err);

	if (result == 0 && cli->help) {
		spok_cli_usage(GC_SYNOPSIS, flags);
		result = 1;
	} else if (result == 0 && pos.len != 0) {
		result = spok_err_set(err, SPOK_EINVAL, "gc: takes no arguments; usage: %s", GC_SYNOPSIS);
	} else if (result == 0 && older == NULL) {
		result = spok_err_set(err, SPOK_EINVAL, "gc: --older-than is required; e.g. "
				      "--older-than 720h keeps the last 30 days");
	} else if (result == 0 && cli->output && strcmp(cli->output, "json") != 0 &&
		   strcmp(cli->output, "yaml") != 0) {
		result = spok_err_set(err, SPOK_EINVAL, "-o %s: gc prints json or yaml; use one of them",
				      cli->output);
	}
	if (result == 0)
		result = spok_parse_duration_ms("--older-than", older, &ms, err);
	if (result == 0 && ms > GC_MAX_MS)
		result = spok_err_set(err, SPOK_EINVAL, "--older-than %s: longer than 10000 years; "
				      "give e.g. 720h", older);
	*before_ms = spok_now_ms() - (int64_t)ms;
	spok_strv_free(&pos);
	return result;
}

static int gc_print(const struct spok_cli *cli, const struct spok_store_gc_result *total,
		    int64_t before_ms, struct spok_err *err)
{
	char when[32];
	json_t *j;
	int result;

	spok_format_rfc3339(before_ms / 1000, when, sizeof(when));
	if (cli->output == NULL) {
		printf("deleted %zu finished executions (ended before %s) and %zu files", total->rows,
		       when, total->files);
		if (total->skipped)
			printf("; kept %zu whose supervisor still runs or whose files would not go",
			       total->skipped);
		printf("\n");
		return 0;
	}
	j = json_pack("{s:I,s:I,s:I,s:s}", "deleted", (json_int_t)total->rows, "files",
		      (json_int_t)total->files, "kept", (json_int_t)total->skipped, "before", when);
	result = spok_cli_print(j, cli->output, err);
	json_decref(j);
	return result;
}

int cmd_gc(struct spok_cli *cli, int argc, char **argv)
{
	struct spok_store_gc_result r, total = {0};
	struct spok_store *st = NULL;
	struct spok_err err = {0};
	char *data_dir = NULL;
	int64_t before_ms = 0;
	int result = gc_args(cli, argc, argv, &before_ms, &err);

	if (result == 0)
		result = spok_data_dir(cli->data_dir, &data_dir, &err);
	if (result == 0)
		result = spok_store_open_reader(data_dir, &st, &err);
	/* one batch per transaction: others get the lock between batches */
	do {
		if (result != 0)
			break;
		result = spok_store_gc(st, before_ms, SPOK_STORE_GC_BATCH, &r, &err);
		total.rows += r.rows;
		total.files += r.files;
		/* kept rows are due again in the next batch: count them once */
		total.skipped = r.skipped > total.skipped ? r.skipped : total.skipped;
	} while (result == 0 && r.more);
	if (result == 0)
		result = gc_print(cli, &total, before_ms, &err);
	spok_store_close(st);
	free(data_dir);
	if (result == 1)
		return 0;
	return result == 0 ? 0 : spok_cli_fail(&err);
}
