#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/termesc.h"

static const struct spok_flag *global_flags(struct spok_cli *cli)
{
	static struct spok_flag g[9];

	g[0] = (struct spok_flag){"config", 0, &cli->config_path, NULL, NULL,
				  "platform config file (default $SPOK_CONFIG)"};
	g[1] = (struct spok_flag){"context", 0, &cli->context, NULL, NULL,
				  "kubeconfig context or configured cluster"};
	g[2] = (struct spok_flag){"namespace", 'n', &cli->namespace_, NULL, NULL,
				  "Kubernetes namespace"};
	g[3] = (struct spok_flag){"output", 'o', &cli->output, NULL, NULL, "yaml|json"};
	g[4] = (struct spok_flag){"data-dir", 0, &cli->data_dir, NULL, NULL,
				  "where executions are recorded (default $SPOK_DATA_DIR)"};
	g[5] = (struct spok_flag){"kubeconfig", 0, &cli->kubeconfig, NULL, NULL,
				  "kubeconfig file (default $KUBECONFIG)"};
	g[6] = (struct spok_flag){"verbose", 'v', NULL, &cli->verbose, NULL, "more logging"};
	g[7] = (struct spok_flag){"help", 'h', NULL, &cli->help, NULL, "show help"};
	g[8] = (struct spok_flag){0};
	return g;
}

static const struct spok_flag *find_long(const struct spok_flag *f, const char *name, size_t n)
{
	for (; f && f->name; f++)
		if (strlen(f->name) == n && strncmp(f->name, name, n) == 0)
			return f;
	return NULL;
}

static const struct spok_flag *find_short(const struct spok_flag *f, char c)
{
	for (; f && f->name; f++)
		if (f->short_name == c)
			return f;
	return NULL;
}

static bool takes_value(const struct spok_flag *f)
{
	return f->value != NULL || f->list != NULL;
}

static void store(const struct spok_flag *f, char *v)
{
	if (f->value)
		*f->value = v;
	else if (f->list)
		spok_strv_push(f->list, v);
	else if (f->flag)
		*f->flag = true;
}

/* Resolves one flag token; *i advances past a separate value. */
static int parse_one(struct spok_cli *cli, const struct spok_flag *flags, int argc, char **argv,
		     int *i, struct spok_err *err)
{
	char *arg = argv[*i];
	const struct spok_flag *f;
	char *inline_val = NULL;

	if (arg[1] == '-') {
		char *name = arg + 2, *eq = strchr(name, '=');
		size_t n = eq ? (size_t)(eq - name) : strlen(name);

		f = find_long(flags, name, n);
		if (f == NULL)
			f = find_long(global_flags(cli), name, n);
		if (f == NULL)
			return spok_err_set(err, SPOK_EINVAL, "unknown flag --%.*s; see --help",
					    (int)n, name);
		inline_val = eq ? eq + 1 : NULL;
	} else {
		f = find_short(flags, arg[1]);
		if (f == NULL)
			f = find_short(global_flags(cli), arg[1]);
		if (f == NULL)
			return spok_err_set(err, SPOK_EINVAL, "unknown flag -%c; see --help", arg[1]);
		inline_val = arg[2] ? arg + 2 : NULL;
	}
	if (!takes_value(f)) {
		if (inline_val)
			return spok_err_set(err, SPOK_EINVAL, "flag --%s takes no value", f->name);
		store(f, NULL);
		return SPOK_OK;
	}
	if (inline_val == NULL) {
		if (*i + 1 >= argc)
			return spok_err_set(err, SPOK_EINVAL, "flag --%s needs a value", f->name);
		inline_val = argv[++*i];
	}
	store(f, inline_val);
	return SPOK_OK;
}

int spok_cli_parse(struct spok_cli *cli, int argc, char **argv, const struct spok_flag *flags,
		   struct spok_strv *pos, struct spok_err *err)
{
	bool rest = false;

	for (int i = 1; i < argc; i++) {
		int result;

		if (rest || argv[i][0] != '-' || argv[i][1] == '\0') {
			spok_strv_push(pos, argv[i]);
			continue;
		}
		if (strcmp(argv[i], "--") == 0) {
			rest = true;
			continue;
		}
		result = parse_one(cli, flags, argc, argv, &i, err);
		if (result != SPOK_OK)
			return result;
	}
	if (cli->output && strcmp(cli->output, "yaml") != 0 && strcmp(cli->output, "json") != 0 &&
	    strcmp(cli->output, "wide") != 0 && strcmp(cli->output, "name") != 0)
		return spok_err_set(err, SPOK_EINVAL,
				    "-o %s: unknown output format; use yaml, json, wide or name",
				    cli->output);
	return SPOK_OK;
}

static void print_flags(const struct spok_flag *f)
{
	for (; f && f->name; f++) {
		char left[64];

		if (f->short_name)
			snprintf(left, sizeof(left), "-%c, --%s%s", f->short_name, f->name,
				 takes_value(f) ? " VALUE" : "");
		else
			snprintf(left, sizeof(left), "    --%s%s", f->name,
				 takes_value(f) ? " VALUE" : "");
		printf("  %-28s %s\n", left, f->help ? f->help : "");
	}
}

void spok_cli_usage(const char *synopsis, const struct spok_flag *flags)
{
	struct spok_cli dummy = {0};

	printf("Usage: %s\n", synopsis);
	if (flags && flags->name) {
		printf("\nFlags:\n");
		print_flags(flags);
	}
	printf("\nGlobal flags:\n");
	print_flags(global_flags(&dummy));
}

int spok_cli_fail(const struct spok_err *err)
{
	/* Messages quote file names, keys and values from job files: escaped for the terminal. */
	char *msg = spok_term_line(err->msg[0] ? err->msg : spok_code_name(err->code));
	fprintf(stderr, "spok: %s\n", msg);
	free(msg);
	return spok_code_exit(err->code);
}

int spok_cli_phase_exit(enum spok_phase p)
{
	switch (p) {
	case SPOK_PHASE_SUCCEEDED: return 0;
	case SPOK_PHASE_ABORTED: return SPOK_EXIT_ABORTED;
	case SPOK_PHASE_TIMED_OUT: return spok_code_exit(SPOK_ETIMEOUT);
	default: return SPOK_EXIT_JOB_FAILED;
	}
}

int spok_cli_int(const char *flag, const char *s, long long lo, long long hi, long long *out,
		 struct spok_err *err)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return spok_err_set(err, SPOK_EINVAL, "--%s %s: expected an integer in [%lld, %lld]",
				    flag, s, lo, hi);
	*out = v;
	return SPOK_OK;
}
