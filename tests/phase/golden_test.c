/* golden_test.c - runs every case under tests/phase/golden/<NN-name>/:
 *   app.json            the SparkApplication (with status) as the API server returns it
 *   config.yaml         optional platform config (spok_config_load; Flyte's plugins.spark shape)
 *   task.yaml           optional spok job file (spok_jobfile_load_task), for task vars/link_type
 *   prev.json           optional previous status {"phase", "phase_version", "reason"}
 *   expected.json       spok_status_to_json() of the result, or
 *   expected-error.txt  the one-line error
 * SPOK_UPDATE_GOLDEN=1 rewrites expected.json from the output (review the diff!).
 * Without module spec in the build, cases that need config.yaml/task.yaml are skipped. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "phase/phase.h"
#ifdef SPOK_HAVE_SPEC
#include "jobfile/jobfile.h"
#endif

static bool exists(const char *dir, const char *name)
{
	struct stat sb;
	char *p = xasprintf("%s/%s", dir, name);
	bool ok = stat(p, &sb) == 0;

	free(p);
	return ok;
}

static json_t *load_json(const char *dir, const char *name)
{
	json_error_t jerr;
	char *p = xasprintf("%s/%s", dir, name);
	json_t *j = json_load_file(p, JSON_DECODE_ANY, &jerr);

	if (j == NULL)
		fprintf(stderr, "%s:%d: %s\n", p, jerr.line, jerr.text);
	free(p);
	return j;
}

static char *load_text(const char *dir, const char *name)
{
	struct spok_buf b;
	struct spok_err err = {0};
	char *p = xasprintf("%s/%s", dir, name);
	char *s = NULL;

	spok_buf_init(&b, 1 << 20);
	if (spok_buf_read_file(&b, p, &err) == 0) {
		s = spok_buf_detach(&b);
		if (s == NULL)
			s = xstrdup("");
		s[strcspn(s, "\n")] = '\0';
	} else {
		fprintf(stderr, "%s\n", err.msg);
	}
	spok_buf_free(&b);
	free(p);
	return s;
}

static void load_prev(json_t *j, struct spok_status *prev)
{
	const char *phase = json_string_value(json_object_get(j, "phase"));

	memset(prev, 0, sizeof(*prev));
	if (phase == NULL || !spok_phase_parse(phase, &prev->phase))
		prev->phase = SPOK_PHASE_UNDEFINED;
	prev->phase_version = (uint32_t)json_integer_value(json_object_get(j, "phase_version"));
	prev->reason = xstrdup(json_string_value(json_object_get(j, "reason")));
}

/* 1 = passed, 0 = failed, -1 = skipped */
static int compare(const char *dir, int rc, const struct spok_status *st, const struct spok_err *err)
{
	bool update = getenv("SPOK_UPDATE_GOLDEN") && strcmp(getenv("SPOK_UPDATE_GOLDEN"), "1") == 0;
	int ok = 0;

	if (exists(dir, "expected-error.txt")) {
		char *want = load_text(dir, "expected-error.txt");
		ok = rc != 0 && want != NULL && strcmp(want, err->msg) == 0;
		if (!ok)
			fprintf(stderr, "%s: want error \"%s\", got rc=%d \"%s\"\n", dir,
				want ? want : "?", rc, rc ? err->msg : "");
		free(want);
		return ok;
	}
	if (rc != 0) {
		fprintf(stderr, "%s: unexpected error: %s\n", dir, err->msg);
		return 0;
	}
	json_t *got = spok_status_to_json(st);
	json_t *want = exists(dir, "expected.json") ? load_json(dir, "expected.json") : NULL;
	if (update) {
		char *p = xasprintf("%s/expected.json", dir);
		json_dump_file(got, p, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		free(p);
		ok = 1;
	} else if (want != NULL && json_equal(got, want)) {
		ok = 1;
	} else {
		char *g = json_dumps(got, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fprintf(stderr, "%s: mismatch; got:\n%s\n", dir, g);
		free(g);
	}
	json_decref(got);
	json_decref(want);
	return ok;
}

static int run_case(const char *dir)
{
	struct spok_platform p;
	struct spok_task t;
	struct spok_status prev, st;
	struct spok_err err = {0};
	bool have_task = false;
	json_t *app = load_json(dir, "app.json"), *pj = NULL;
	int rc, ok;

	if (app == NULL)
		return 0;
	spok_platform_init(&p);
	spok_task_init(&t);
#ifdef SPOK_HAVE_SPEC
	if (exists(dir, "config.yaml")) {
		char *path = xasprintf("%s/config.yaml", dir);
		spok_platform_free(&p);
		rc = spok_config_load(path, &p, &err);
		free(path);
		if (rc != 0) {
			fprintf(stderr, "%s: config: %s\n", dir, err.msg);
			spok_platform_init(&p);
			json_decref(app);
			spok_platform_free(&p);
			return 0;
		}
	}
	if (exists(dir, "task.yaml")) {
		char *path = xasprintf("%s/task.yaml", dir);
		rc = spok_jobfile_load_task(path, &t, &err);
		free(path);
		if (rc != 0) {
			fprintf(stderr, "%s: task: %s\n", dir, err.msg);
			json_decref(app);
			spok_platform_free(&p);
			spok_task_free(&t);
			return 0;
		}
		have_task = true;
	}
#else
	if (exists(dir, "config.yaml") || exists(dir, "task.yaml")) {
		json_decref(app);
		spok_platform_free(&p);
		return -1;
	}
#endif
	if (exists(dir, "prev.json") && (pj = load_json(dir, "prev.json")) != NULL)
		load_prev(pj, &prev);
	rc = spok_status_from_sparkapp(app, have_task ? &t : NULL, &p, pj ? &prev : NULL, &st, &err);
	ok = compare(dir, rc, &st, &err);
	if (rc == 0)
		spok_status_free(&st);
	if (pj != NULL) {
		spok_status_free(&prev);
		json_decref(pj);
	}
	spok_task_free(&t);
	spok_platform_free(&p);
	json_decref(app);
	return ok;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	DIR *d;
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;
	int passed = 0, failed = 0, skipped = 0;

	if (argc != 2 || (d = opendir(argv[1])) == NULL) {
		fprintf(stderr, "usage: golden_test <tests/phase/golden>\n");
		return 2;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		names = xreallocarray(names, n + 1, sizeof(*names));
		names[n++] = xasprintf("%s/%s", argv[1], e->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n; i++) {
		int r = run_case(names[i]);
		printf("%s %s\n", r > 0 ? "ok  " : r == 0 ? "FAIL" : "skip", names[i]);
		if (r > 0)
			passed++;
		else if (r == 0)
			failed++;
		else
			skipped++;
		free(names[i]);
	}
	free(names);
	printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
	return failed == 0 && passed > 0 ? 0 : 1;
}
