/* test_golden.c - one test per folder of tests/direct/golden: load task.yaml (+ config.yaml),
 * read exec.json (the SparkApplication builder's inputs, as tests/direct/golden) and
 * direct.json (spok_direct_opts, optional), build the direct-submission objects, compare their
 * v1 List with expected.json (canonical JSON equality) or the error with the one line of
 * expected-error.txt. SPOK_UPDATE_GOLDEN=1 rewrites the expected files; every such file must
 * then be checked by hand against docs/ARCHITECTURE.md "Direct submission" and Spark's
 * submission code. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/xalloc.h"
#include "direct/direct.h"
#include "sparkapp/sparkapp.h"
#include "jobfile/jobfile.h"

struct exec_file {
	json_t *root;
	struct spok_exec x;
	struct spok_strmap labels, annotations;
	json_t *opts_root;
	struct spok_direct_opts opts;
};

static const char *opt_str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static void read_map(json_t *o, struct spok_strmap *m)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v)
		spok_strmap_set(m, k, json_string_value(v));
}

static void load_exec(const char *path, struct exec_file *e)
{
	json_error_t jerr;

	memset(e, 0, sizeof(*e));
	e->root = json_load_file(path, 0, &jerr);
	if (e->root == NULL)
		fail_msg("%s: %s", path, jerr.text);
	e->x.execution_name = opt_str(e->root, "execution_name");
	e->x.node_id = opt_str(e->root, "node_id");
	e->x.attempt = (uint32_t)json_integer_value(json_object_get(e->root, "attempt"));
	e->x.namespace_ = opt_str(e->root, "namespace");
	e->x.now_ms = json_integer_value(json_object_get(e->root, "now_ms"));
	e->x.service_account = opt_str(e->root, "service_account");
	e->x.interruptible = json_is_true(json_object_get(e->root, "interruptible"));
	e->x.ship_local_files = json_is_true(json_object_get(e->root, "ship_local_files"));
	e->x.flyte_data = json_is_true(json_object_get(e->root, "flyte_data"));
	e->x.input_prefix = opt_str(e->root, "input_prefix");
	e->x.output_prefix = opt_str(e->root, "output_prefix");
	e->x.raw_output_prefix = opt_str(e->root, "raw_output_prefix");
	e->x.prev_checkpoint = opt_str(e->root, "prev_checkpoint");
	if (json_object_get(e->root, "labels")) {
		read_map(json_object_get(e->root, "labels"), &e->labels);
		e->x.labels = &e->labels;
	}
	if (json_object_get(e->root, "annotations")) {
		read_map(json_object_get(e->root, "annotations"), &e->annotations);
		e->x.annotations = &e->annotations;
	}
}

static void load_opts(const char *path, struct exec_file *e)
{
	json_error_t jerr;

	e->opts_root = json_load_file(path, 0, &jerr);
	if (e->opts_root == NULL)
		return; /* optional: the defaults */
	e->opts.app_id = opt_str(e->opts_root, "app_id");
	e->opts.spark_user = opt_str(e->opts_root, "spark_user");
	e->opts.spark_version = opt_str(e->opts_root, "spark_version");
}

static void free_exec(struct exec_file *e)
{
	json_decref(e->opts_root);
	spok_strmap_free(&e->labels);
	spok_strmap_free(&e->annotations);
	json_decref(e->root);
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static char *read_line(const char *path)
{
	char buf[2048] = {0};
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		fail_msg("%s: cannot open", path);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return xstrdup(buf);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		fail_msg("%s: cannot write", path);
	fputs(text, f);
	fputc('\n', f);
	fclose(f);
}

static void compare_ok(const char *dir, json_t *app, bool update)
{
	char *exp_path = xasprintf("%s/expected.json", dir);
	char *err_path = xasprintf("%s/expected-error.txt", dir);
	char *got = json_dumps(app, JSON_INDENT(2));
	json_error_t jerr;
	json_t *want;

	if (update) {
		write_text(exp_path, got);
		remove(err_path);
	} else {
		if (exists(err_path))
			fail_msg("%s: expected an error, got:\n%s", dir, got);
		want = json_load_file(exp_path, 0, &jerr);
		if (want == NULL)
			fail_msg("%s: %s", exp_path, jerr.text);
		if (!json_equal(want, app)) {
			char *w = json_dumps(want, JSON_INDENT(2));
			print_error("%s: mismatch\n--- expected\n%s\n--- got\n%s\n", dir, w, got);
			free(w);
			json_decref(want);
			free(got);
			fail();
		}
		json_decref(want);
	}
	free(got);
	free(exp_path);
	free(err_path);
}

static void compare_err(const char *dir, const char *msg, bool update)
{
	char *err_path = xasprintf("%s/expected-error.txt", dir);
	char *exp_path = xasprintf("%s/expected.json", dir);
	char *want;

	if (update) {
		write_text(err_path, msg);
		remove(exp_path);
	} else {
		if (!exists(err_path))
			fail_msg("%s: unexpected error: %s", dir, msg);
		want = read_line(err_path);
		if (strcmp(want, msg) != 0)
			print_error("%s: error mismatch\n--- expected\n%s\n--- got\n%s\n", dir, want,
				    msg);
		assert_string_equal(want, msg);
		free(want);
	}
	free(err_path);
	free(exp_path);
}

static void run_case(void **state)
{
	const char *dir = *state;
	bool update = getenv("SPOK_UPDATE_GOLDEN") && strcmp(getenv("SPOK_UPDATE_GOLDEN"), "1") == 0;
	char *task_path = xasprintf("%s/task.yaml", dir);
	char *cfg_path = xasprintf("%s/config.yaml", dir);
	char *exec_path = xasprintf("%s/exec.json", dir);
	char *opts_path = xasprintf("%s/direct.json", dir);
	struct spok_direct dx = {0};
	struct spok_err err = {0};
	struct spok_platform p;
	struct exec_file e;
	struct spok_task t;
	json_t *app = NULL;
	int rc;

	if (spok_jobfile_load_task(task_path, &t, &err) != SPOK_OK)
		fail_msg("%s", err.msg);
	if (exists(cfg_path)) {
		if (spok_config_load(cfg_path, &p, &err) != SPOK_OK)
			fail_msg("%s", err.msg);
	} else {
		spok_platform_init(&p);
	}
	load_exec(exec_path, &e);
	load_opts(opts_path, &e);
	rc = spok_direct_build_task(&t, &p, &e.x, &e.opts, &dx, &err);
	if (rc == SPOK_OK) {
		app = spok_direct_list(&dx);
		compare_ok(dir, app, update);
	}
	else
		compare_err(dir, err.msg, update);
	json_decref(app);
	spok_direct_free(&dx);
	free_exec(&e);
	spok_task_free(&t);
	spok_platform_free(&p);
	free(task_path);
	free(cfg_path);
	free(exec_path);
	free(opts_path);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
	const char *src = getenv("SPOK_SOURCE_DIR");
	char *root = xasprintf("%s/tests/direct/golden", src ? src : ".");
	struct CMUnitTest *tests;
	char **dirs = NULL;
	size_t n = 0;
	struct dirent *de;
	DIR *d = opendir(root);
	int rc;

	if (d == NULL) {
		fprintf(stderr, "%s: cannot open (set SPOK_SOURCE_DIR)\n", root);
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		dirs = xreallocarray(dirs, n + 1, sizeof(*dirs));
		dirs[n++] = xasprintf("%s/%s", root, de->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(dirs, n, sizeof(*dirs), by_name);
	tests = xcalloc(n ? n : 1, sizeof(*tests));
	for (size_t i = 0; i < n; i++) {
		tests[i].name = strrchr(dirs[i], '/') + 1;
		tests[i].test_func = run_case;
		tests[i].initial_state = dirs[i];
	}
	rc = _cmocka_run_group_tests("direct_golden", tests, n, NULL, NULL);
	for (size_t i = 0; i < n; i++)
		free(dirs[i]);
	free(dirs);
	free(tests);
	free(root);
	return rc;
}
