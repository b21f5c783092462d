#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "flyteidl/flyteidl.h"
#include "jobfile/jobfile.h"
#include "yamljson/yamljson.h"

/* The name decides when it is one spok knows (spok_task_file_by_name); the content is
 * sniffed only for other names. */

/* Reads only the head of the file: enough for the protobuf/gzip sniff. */
static int read_head(const char *path, unsigned char *head, size_t cap, size_t *n,
		     struct spok_err *err)
{
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		return spok_err_set(err, SPOK_ENOTFOUND, "%s: cannot open task file; check the path",
				    path);
	*n = fread(head, 1, cap, f);
	fclose(f);
	return SPOK_OK;
}

/* Only for names whose extension says nothing: gzip data is a package, bytes that are not
 * UTF-8 text a protobuf, other text a job file. */
static enum spok_task_file sniff(unsigned char *head, size_t n, size_t cap)
{
	if (n == cap)
		n = spok_utf8_complete((const char *)head, n); /* the cut may split a character */
	if (!spok_flyte_sniff(head, n))
		return SPOK_TASK_FILE_JOB;
	return n >= 2 && head[0] == 0x1f && head[1] == 0x8b ? SPOK_TASK_FILE_PACKAGE : SPOK_TASK_FILE_PROTO;
}

static int load_flyte(const char *path, const char *task_name, enum spok_task_file fmt,
		      bool sniffed, struct spok_task *out, struct spok_err *err)
{
	int result = spok_flyte_load_task(path, task_name, out, err);
	char msg[SPOK_ERR_MSG_MAX];

	if (result == SPOK_OK || result == SPOK_ENOTFOUND || !sniffed)
		return result;
	/* The user may have meant a job file: say what the bytes were taken for and why. */
	snprintf(msg, sizeof(msg), "%s", err->msg);
	return spok_err_set(err, result, "%s (read as a %s: the name has no .yaml, .pb or .tgz "
			    "extension and the content is not UTF-8 text)", msg,
			    fmt == SPOK_TASK_FILE_PACKAGE ? "pyflyte package" : "Flyte TaskSpec/TaskTemplate protobuf");
}

int spok_cli_load_task(const char *path, const char *task_name, struct spok_task *out,
		       struct spok_err *err)
{
	unsigned char head[4096];
	size_t n = 0;
	enum spok_task_file fmt = spok_task_file_by_name(path);
	bool sniffed = fmt == SPOK_TASK_FILE_UNKNOWN;
	int result = read_head(path, head, sizeof(head), &n, err);

	if (result != SPOK_OK)
		return result;
	if (sniffed)
		fmt = sniff(head, n, sizeof(head));
	if (fmt == SPOK_TASK_FILE_PACKAGE && (n < 2 || head[0] != 0x1f || head[1] != 0x8b))
		return spok_err_set(err, SPOK_EINVAL, "%s: not a pyflyte package (a .tgz must be "
				    "gzip data); pass the file `pyflyte package` wrote", path);
	if (fmt != SPOK_TASK_FILE_JOB)
		return load_flyte(path, task_name, fmt, sniffed, out, err);
	if (task_name != NULL)
		return spok_err_set(err, SPOK_EINVAL,
				    "--task %s: only Flyte packages hold several tasks; %s is a job file",
				    task_name, path);
	return spok_jobfile_load_task(path, out, err);
}

static char *default_config_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	struct stat st;
	char *p;

	if (xdg && *xdg)
		p = xasprintf("%s/spok/config.yaml", xdg);
	else if (home && *home)
		p = xasprintf("%s/.config/spok/config.yaml", home);
	else
		return NULL;
	if (stat(p, &st) == 0)
		return p;
	free(p);
	return NULL;
}

int spok_cli_load_platform(const struct spok_cli *cli, struct spok_platform *out,
			   struct spok_err *err)
{
	const char *path = cli->config_path ? cli->config_path : getenv("SPOK_CONFIG");
	char *fallback = NULL;
	int result;

	if (path == NULL || *path == '\0')
		path = fallback = default_config_path();
	if (path == NULL) {
		spok_platform_init(out);
		return SPOK_OK;
	}
	result = spok_config_load(path, out, err);
	free(fallback);
	return result;
}

int spok_cli_print(const json_t *j, const char *format, struct spok_err *err)
{
	char *text;

	if (format == NULL || strcmp(format, "yaml") == 0) {
		text = spok_json_to_yaml(j);
		fputs(text, stdout);
	} else if (strcmp(format, "json") == 0) {
		/* On a terminal, C1 controls (which jansson writes raw) become \u0080-\u009f. */
		text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
					     (isatty(STDOUT_FILENO) ? JSON_ENSURE_ASCII : 0));
		if (text == NULL)
			return spok_err_set(err, SPOK_EINTERNAL, "cannot encode JSON output");
		fputs(text, stdout);
		fputc('\n', stdout);
	} else {
		return spok_err_set(err, SPOK_EINVAL, "-o %s: not supported here; use yaml or json",
				    format);
	}
	free(text);
	if (fflush(stdout) != 0)
		return spok_err_set(err, SPOK_EIO, "cannot write to standard output");
	return SPOK_OK;
}
