/* cmd_sync.c - `spok cluster sync`: per project-domain namespace resources from templates
 * (src/provision, docs/PROVISIONING.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/xalloc.h"
#include "kube/kubeconfig.h"
#include "provision/provision.h"

static const char sync_synopsis[] =
	"spok cluster sync [--templates DIR] [--project P]... [--domain D]... [--set KEY=VALUE]...\n"
	"                  [--dry-run] [--no-prune] [--cluster CONTEXT] [-o json]";

struct sync_flags {
	const char *templates, *cluster;
	struct spok_strv projects, domains, sets;
	bool dry_run, prune, no_prune;
};

/* Flags replace the config's lists (a flag given once replaces the whole list). */
static int apply_flags(const struct sync_flags *f, struct spok_cluster_resources *cr,
		       struct spok_err *err)
{
	if (f->templates != NULL) {
		free(cr->templates_dir);
		cr->templates_dir = xstrdup(f->templates);
	}
	if (f->projects.len > 0) {
		spok_strv_free(&cr->projects);
		spok_strv_copy(&cr->projects, &f->projects);
	}
	if (f->domains.len > 0) {
		spok_strv_free(&cr->domains);
		spok_strv_copy(&cr->domains, &f->domains);
	}
	for (size_t i = 0; i < f->sets.len; i++) {
		char *kv = xstrdup(f->sets.items[i]);
		char *eq = strchr(kv, '=');

		if (eq == NULL || eq == kv) {
			free(kv);
			return spok_err_set(err, SPOK_EINVAL, "--set '%.80s': write KEY=VALUE",
					    f->sets.items[i]);
		}
		*eq = '\0';
		spok_strmap_set(&cr->values, kv, eq + 1);
		free(kv);
	}
	if (f->prune && f->no_prune)
		return spok_err_set(err, SPOK_EINVAL, "--prune and --no-prune: give one of them");
	return SPOK_OK;
}

static int open_client(const struct spok_cli *cli, const char *cluster, uv_loop_t *loop,
		       struct kube_client **out, struct spok_err *err)
{
	struct kube_config cfg = {0};
	int result;

	if (cluster != NULL && strcmp(cluster, "in-cluster") == 0)
		result = kube_config_in_cluster(&cfg, NULL, err);
	else
		result = kube_config_load(&cfg, cli->kubeconfig, cluster, err);
	if (result == 0)
		result = kube_client_new(loop, &cfg, NULL, out, err);
	kube_config_free(&cfg);
	return result;
}

static void print_text(const json_t *report)
{
	const json_t *nss = json_object_get(report, "namespaces");
	bool dry = json_is_true(json_object_get(report, "dryRun"));

	for (size_t i = 0; i < json_array_size(nss); i++) {
		const json_t *objs = json_object_get(json_array_get(nss, i), "objects");

		for (size_t j = 0; j < json_array_size(objs); j++) {
			const json_t *o = json_array_get(objs, j);

			printf("%s %s%s\n", json_string_value(json_object_get(o, "ref")),
			       json_string_value(json_object_get(o, "action")),
			       dry ? " (server dry run)" : "");
		}
	}
}

static int run_sync(struct spok_cli *cli, const struct sync_flags *f, struct spok_err *err)
{
	struct spok_platform plat;
	struct kube_client *c = NULL;
	struct prov_opts o = {.platform = &plat, .dry_run = f->dry_run, .prune = !f->no_prune};
	json_t *report = NULL;
	uv_loop_t loop;
	int result;

	uv_loop_init(&loop);
	result = spok_cli_load_platform(cli, &plat, err);
	if (result != 0) {
		uv_loop_close(&loop);
		return result;
	}
	o.cr = &plat.spok.cluster_resources;
	result = apply_flags(f, &plat.spok.cluster_resources, err);
	if (result == 0)
		result = open_client(cli, f->cluster ? f->cluster : cli->context, &loop, &c, err);
	if (result == 0) {
		struct spok_err perr = {0};
		int pr;

		result = prov_sync(c, &o, &report, err);
		/* What was done before an error is still worth showing. */
		if (cli->output != NULL && strcmp(cli->output, "json") == 0)
			pr = spok_cli_print(report, "json", &perr);
		else if (cli->output != NULL && strcmp(cli->output, "yaml") == 0)
			pr = spok_cli_print(report, "yaml", &perr);
		else
			pr = (print_text(report), 0);
		if (result == 0 && pr != 0) {
			*err = perr;
			result = pr;
		}
	}
	json_decref(report);
	kube_client_close(c);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	spok_platform_free(&plat);
	return result;
}

static int cluster_sync(struct spok_cli *cli, int argc, char **argv)
{
	struct sync_flags f = {0};
	const struct spok_flag flags[] = {
		{"templates", 0, &f.templates, NULL, NULL,
		 "template directory (default spok.cluster-resources.templates-dir)"},
		{"project", 'p', NULL, NULL, &f.projects, "project to provision (repeatable)"},
		{"domain", 'D', NULL, NULL, &f.domains,
		 "domain (repeatable; default development, staging, production)"},
		{"set", 0, NULL, NULL, &f.sets, "template value KEY=VALUE (repeatable)"},
		{"dry-run", 0, NULL, &f.dry_run, NULL, "server-side dry run: nothing is written"},
		{"prune", 0, NULL, &f.prune, NULL, "delete managed objects no template lists (default)"},
		{"no-prune", 0, NULL, &f.no_prune, NULL, "keep them"},
		{"cluster", 0, &f.cluster, NULL, NULL,
		 "kubeconfig context ('in-cluster': service account; default --context/current)"},
		{0},
	};
	struct spok_strv pos = {0};
	struct spok_err err = {0};
	int result = spok_cli_parse(cli, argc, argv, flags, &pos, &err);

	if (result == 0 && cli->help) {
		spok_cli_usage(sync_synopsis, flags);
		goto out;
	}
	if (result == 0 && pos.len != 0)
		result = spok_err_set(&err, SPOK_EINVAL, "unexpected argument '%.80s'; usage: %s",
				      pos.items[0], sync_synopsis);
	if (result == 0)
		result = run_sync(cli, &f, &err);
out:
	spok_strv_free(&pos);
	spok_strv_free(&f.projects);
	spok_strv_free(&f.domains);
	spok_strv_free(&f.sets);
	return result == 0 ? 0 : spok_cli_fail(&err);
}

int cmd_cluster(struct spok_cli *cli, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "sync") == 0)
		return cluster_sync(cli, argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
			  strcmp(argv[1], "help") == 0)) {
		printf("Usage: %s\n\nApplies per project-domain namespace resources (ServiceAccount "
		       "spark, Role, RoleBinding, ResourceQuota, ...) from templates; see "
		       "docs/PROVISIONING.md.\n", sync_synopsis);
		return 0;
	}
	fprintf(stderr, "spok: cluster: expected a subcommand: sync; usage: %s\n", sync_synopsis);
	return SPOK_EXIT_USAGE;
}
