/* cmd_reconcile.c - `spok reconcile [--cluster NAME]`: an engine per cluster adopts every
 * execution there that still needs work and whose supervisor is gone, and follows them to
 * the end. See docs/ARCHITECTURE.md, "Cluster runs" (Re-adoption).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/session.h"
#include "store/store.h"

/* Every cluster that has executions needing work (the rows' backend columns). */
static int clusters_with_work(const struct spok_cli *cli, struct spok_strv *clusters,
			      struct spok_err *err)
{
	struct spok_store *st = NULL;
	struct spok_execution *v = NULL;
	char *data_dir = NULL;
	size_t nv = 0;
	int result = spok_data_dir(cli->data_dir, &data_dir, err);

	if (result == 0)
		result = spok_store_open(data_dir, &st, err);
	if (result == 0)
		result = spok_store_list_unfinished(st, NULL, &v, &nv, err);
	for (size_t i = 0; result == 0 && i < nv; i++) {
		const struct spok_backend_ops *b = spok_backend_for(v[i].backend);
		bool seen = false;

		if (!b->cluster || !b->needs_work(&v[i]))
			continue;
		for (size_t j = 0; j < clusters->len; j++)
			seen = seen || strcmp(clusters->items[j], v[i].backend) == 0;
		if (!seen)
			spok_strv_push(clusters, v[i].backend);
	}
	spok_store_close(st);
	spok_execution_list_free(v, nv);
	free(data_dir);
	return result;
}

int cmd_reconcile(struct spok_cli *cli, int argc, char **argv)
{
	struct spok_cli_cluster_flags f = {0};
	struct spok_flag flags[8];
	struct spok_strv pos = {0}, clusters = {0};
	struct spok_err err = {0};
	size_t total = 0;
	int result;

	spok_cli_cluster_flag_table(&f, flags, false);
	result = spok_cli_parse(cli, argc, argv, flags, &pos, &err);
	if (result == 0 && cli->help) {
		spok_cli_usage("spok reconcile [--cluster CONTEXT]", flags);
		goto out;
	}
	if (result == 0 && spok_cli_cluster_of(cli, &f))
		spok_strv_push(&clusters, spok_cli_cluster_of(cli, &f));
	else if (result == 0)
		result = clusters_with_work(cli, &clusters, &err);
	for (size_t i = 0; result == 0 && i < clusters.len; i++) {
		size_t n = 0;

		result = spok_cli_reconcile_cluster(cli, &f, clusters.items[i], NULL, &n, &err);
		total += n;
	}
	if (result == 0)
		printf("reconciled %zu execution(s) on %zu cluster(s)\n", total, clusters.len);
out:
	spok_strv_free(&clusters);
	spok_strv_free(&pos);
	return result == 0 ? 0 : spok_cli_fail(&err);
}
