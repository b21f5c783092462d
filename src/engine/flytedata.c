/* flytedata.c - inputs.pb in and outputs out for flytekit tasks on a cluster (flytedata.h). */
#include "engine/flytedata.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/sys.h"
#include "common/xalloc.h"
#include "engine/engine.h"

bool spok_fd_applies(const struct spok_platform *p, const struct spok_task *t)
{
	return p != NULL && p->spok.flyte_data_dir != NULL && p->spok.flyte_data_local_dir != NULL &&
	       t->origin == SPOK_ORIGIN_FLYTE &&
	       (t->flyte_execution_name == NULL || t->flyte_execution_name[0] == '\0');
}

void spok_fd_paths(const struct spok_platform *p, const char *id, uint32_t attempt,
		   struct spok_fd_paths *out)
{
	const char *dir = p->spok.flyte_data_dir;

	out->input = xasprintf("%s/%s", dir, id);
	out->output = xasprintf("%s/%s/outputs/%u", dir, id, attempt);
	out->raw = xasprintf("%s/%s/raw", dir, id);
	/* As flytepropeller: the previous attempt's checkpoints, none for the first. */
	out->prev_checkpoint = attempt > 0 ? xasprintf("%s/%s/raw/_flytecheckpoints", dir, id)
					   : xstrdup("");
}

void spok_fd_paths_free(struct spok_fd_paths *f)
{
	free(f->input);
	free(f->output);
	free(f->raw);
	free(f->prev_checkpoint);
	memset(f, 0, sizeof(*f));
}

/* mkdir with exactly `mode` (the umask would take the pods' write bit away). */
static int make_dir(const char *path, mode_t mode, struct spok_err *err)
{
	struct stat st;

	if (mkdir(path, mode) != 0 && errno != EEXIST)
		return spok_err_set(err, SPOK_EIO, "%s: cannot create: %s; check spok.flyte-data."
				    "local-dir and that this machine sees the volume there",
				    path, strerror(errno));
	/* One that was there must be a folder, not a link placed to redirect spok's writes. */
	if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return spok_err_set(err, SPOK_EIO, "%s: exists and is not a folder; remove it",
				    path);
	if (chmod(path, mode) != 0)
		return spok_err_set(err, SPOK_EIO, "%s: cannot set mode %o: %s", path,
				    (unsigned)mode, strerror(errno));
	return SPOK_OK;
}

int spok_fd_prepare(const struct spok_platform *p, const struct spok_task *t, const char *id,
		    struct spok_err *err)
{
	char *dir = xasprintf("%s/%s", p->spok.flyte_data_local_dir, id);
	char *path = xasprintf("%s/inputs.pb", dir);
	uint8_t *pb = NULL;
	size_t n = 0;
	int result = spok_flyte_encode_inputs(&t->inputs, &t->input_values, &pb, &n, err);

	/* The pods only read this folder; outputs/ and raw/ are theirs to write. */
	if (result == SPOK_OK)
		result = make_dir(dir, 0755, err);
	if (result == SPOK_OK)
		result = spok_write_file_atomic(path, pb, n, 0644, "the flyte-data volume", err);
	if (result == SPOK_OK)
		result = spok_fd_copy_code(p, t, id, err);
	free(pb);
	free(path);
	free(dir);
	return result;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	(void)(flag == FTW_DP ? rmdir(path) : unlink(path));
	return 0;
}

void spok_fd_discard(const struct spok_platform *p, const char *id)
{
	char *dir = xasprintf("%s/%s", p->spok.flyte_data_local_dir, id);

	(void)nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

int spok_fd_attempt(const struct spok_platform *p, const char *id, uint32_t attempt,
		    struct spok_err *err)
{
	const char *local = p->spok.flyte_data_local_dir;
	char *dir = xasprintf("%s/%s", local, id);
	char *outs = xasprintf("%s/outputs", dir);
	char *out = xasprintf("%s/%u", outs, attempt);
	char *raw = xasprintf("%s/raw", dir);
	int result = make_dir(dir, 0755, err);

	/* The pods run as another user (Spark's image: uid 185) than spok. */
	if (result == SPOK_OK)
		result = make_dir(outs, 0755, err);

	if (result == SPOK_OK)
		result = make_dir(out, 0777, err);
	if (result == SPOK_OK)
		result = make_dir(raw, 0777, err);
	free(dir);
	free(outs);
	free(out);
	free(raw);
	return result;
}

void spok_fd_outcome(const struct spok_platform *p, const char *id, uint32_t attempt,
		     struct spok_flyte_outcome *o)
{
	char *dir = xasprintf("%s/%s/outputs/%u", p->spok.flyte_data_local_dir, id, attempt);
	char *see = xasprintf("the driver's log ('spok logs %s')", id);

	spok_flyte_read_outcome(dir, see, o);
	free(see);
	free(dir);
}

/* ---- the task's module: copied to <id>/code (on the pods' PYTHONPATH) ---- */

#define CODE_MAX_FILES 1000
#define CODE_MAX_BYTES ((off_t)16 << 20)

struct code_copy {
	size_t files;
	off_t bytes;
	struct spok_err *err;
};

static int copy_file(const char *from, const char *to, struct code_copy *c)
{
	int in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), out = -1, result = SPOK_OK;
	struct stat st;
	char buf[65536];
	ssize_t n;

	if (in < 0 || fstat(in, &st) != 0 || !S_ISREG(st.st_mode))
		result = spok_err_set(c->err, SPOK_EINVAL, "%s: not a readable regular file; the "
				      "task's module is copied from --python-path", from);
	else if (++c->files > CODE_MAX_FILES || (c->bytes += st.st_size) > CODE_MAX_BYTES)
		result = spok_err_set(c->err, SPOK_EINVAL, "%s: the task's module is over %d files "
				      "or %lld MiB; put the code in the image instead", from,
				      CODE_MAX_FILES, (long long)(CODE_MAX_BYTES >> 20));
	else if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
		result = spok_err_set(c->err, SPOK_EIO, "%s: cannot create: %s", to, strerror(errno));
	while (result == SPOK_OK && (n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || spok_write_all(out, buf, (size_t)n) != 0)
			result = spok_err_set(c->err, SPOK_EIO, "copying %s to %s: %s", from, to,
					      strerror(errno));
	}
	if (out >= 0 && close(out) != 0 && result == SPOK_OK)
		result = spok_err_set(c->err, SPOK_EIO, "%s: %s", to, strerror(errno));
	if (in >= 0)
		close(in);
	return result;
}

static bool wanted(const char *name, bool is_dir)
{
	size_t n = strlen(name);

	if (name[0] == '.' || strcmp(name, "__pycache__") == 0)
		return false;
	return is_dir || (n > 3 && strcmp(name + n - 3, ".py") == 0);
}

/* A package: its .py files and sub-packages, no symlinks, no hidden entries. */
static int copy_tree(const char *from, const char *to, int depth, struct code_copy *c)
{
	DIR *d;
	struct dirent *de;
	int result;

	if (depth > 16)
		return spok_err_set(c->err, SPOK_EINVAL, "%s: nested too deep", from);
	if ((result = make_dir(to, 0755, c->err)) != SPOK_OK)
		return result;
	if ((d = opendir(from)) == NULL)
		return spok_err_set(c->err, SPOK_EIO, "%s: %s", from, strerror(errno));
	while (result == SPOK_OK && (de = readdir(d)) != NULL) {
		char *src = xasprintf("%s/%s", from, de->d_name);
		char *dst = xasprintf("%s/%s", to, de->d_name);
		struct stat st;

		if (lstat(src, &st) == 0 && wanted(de->d_name, S_ISDIR(st.st_mode))) {
			if (S_ISDIR(st.st_mode))
				result = copy_tree(src, dst, depth + 1, c);
			else if (S_ISREG(st.st_mode))
				result = copy_file(src, dst, c);
		}
		free(src);
		free(dst);
	}
	closedir(d);
	return result;
}

/* The top-level package or module of `a.b.c` under dir: dir/a (a package) or dir/a.py;
 * NULL when neither is there. *is_dir says which. */
static char *module_source(const char *dir, const char *module, bool *is_dir)
{
	size_t n = strcspn(module, ".");
	char *top = xstrndup(module, n), *pkg = xasprintf("%s/%s", dir, top);
	char *file = xasprintf("%s/%s.py", dir, top);
	struct stat st;
	char *found = NULL;

	if (stat(pkg, &st) == 0 && S_ISDIR(st.st_mode)) {
		*is_dir = true;
		found = pkg;
		pkg = NULL;
	} else if (stat(file, &st) == 0 && S_ISREG(st.st_mode)) {
		*is_dir = false;
		found = file;
		file = NULL;
	}
	free(top);
	free(pkg);
	free(file);
	return found;
}

const char *spok_fd_task_module(const struct spok_task *t)
{
	for (size_t i = 0; i + 1 < t->args.len; i++)
		if (strcmp(t->args.items[i], "task-module") == 0)
			return t->args.items[i + 1];
	return NULL;
}

bool spok_fd_module_here(const char *dir, const char *module)
{
	bool is_dir;
	char *src = module_source(dir, module, &is_dir);

	free(src);
	return src != NULL;
}

/* A valid Python dotted name: no path can hide in it. */
static bool dotted_name(const char *m)
{
	bool start = true;

	if (*m == '\0')
		return false;
	for (; *m; m++) {
		bool alpha = (*m >= 'a' && *m <= 'z') || (*m >= 'A' && *m <= 'Z') || *m == '_';

		if (*m == '.' && !start) {
			start = true;
			continue;
		}
		if (!alpha && !(!start && *m >= '0' && *m <= '9'))
			return false;
		start = false;
	}
	return !start;
}

static int no_module(const char *dir, const char *module, struct spok_err *err)
{
	return spok_err_set(err, SPOK_EINVAL, "--python-path %s: no module '%.*s' there (the "
			    "task-module %s); give the folder that holds it", dir,
			    module ? (int)strcspn(module, ".") : 0, module ? module : "",
			    module ? module : "(none in the task's args)");
}

int spok_fd_copy_code(const struct spok_platform *p, const struct spok_task *t, const char *id,
		      struct spok_err *err)
{
	const char *module = spok_fd_task_module(t);
	struct code_copy c = {.err = err};
	char *src, *top, *dst, *code;
	bool is_dir = false;
	int result;

	if (t->python_path == NULL)
		return SPOK_OK;
	if (module == NULL || !dotted_name(module))
		return spok_err_set(err, SPOK_EINVAL, "%s: the task's args name no task-module (a "
				    "Python module name) to copy from --python-path",
				    t->source_path ? t->source_path : "task");
	if ((src = module_source(t->python_path, module, &is_dir)) == NULL)
		return no_module(t->python_path, module, err);
	code = xasprintf("%s/%s/code", p->spok.flyte_data_local_dir, id);
	top = xstrndup(module, strcspn(module, "."));
	dst = is_dir ? xasprintf("%s/%s", code, top) : xasprintf("%s/%s.py", code, top);
	result = make_dir(code, 0755, err);
	if (result == SPOK_OK)
		result = is_dir ? copy_tree(src, dst, 0, &c) : copy_file(src, dst, &c);
	free(src);
	free(top);
	free(dst);
	free(code);
	return result;
}

int spok_engine_flyte_task(const struct spok_platform *p, struct spok_task *t,
			   const struct spok_strmap *values, const char *python_path, char **note,
			   struct spok_err *err)
{
	const char *src = t->source_path ? t->source_path : "task";
	const char *module = spok_fd_task_module(t);
	char cwd[4096];
	const char *dir = python_path;

	*note = NULL;
	if (spok_flyte_check_inputs(t, values, err) != SPOK_OK)
		return SPOK_EINVAL;
	if (t->origin != SPOK_ORIGIN_FLYTE) {
		if (python_path != NULL)
			return spok_err_set(err, SPOK_EINVAL, "--python-path: only for flytekit "
					    "tasks; ship a job's modules with pyFiles");
		return SPOK_OK;
	}
	if (p->spok.flyte_data_dir == NULL)
		return spok_err_set(err, SPOK_EINVAL, "%s: a flytekit task on a cluster reads "
				    "inputs.pb and writes its outputs where spok can reach them: "
				    "configure spok.flyte-data (docs/CONFIG.md)", src);
	for (size_t i = 0; i < values->len; i++)
		spok_strmap_set(&t->input_values, values->items[i].key, values->items[i].value);
	if (dir == NULL)
		dir = getcwd(cwd, sizeof(cwd)) ? cwd : ".";
	if (module != NULL && spok_fd_module_here(dir, module)) {
		free(t->python_path);
		t->python_path = realpath(dir, NULL);
		if (t->python_path == NULL)
			return spok_err_set(err, SPOK_EIO, "--python-path %s: %s", dir,
					    strerror(errno));
		return SPOK_OK;
	}
	if (python_path != NULL)
		return no_module(dir, module, err);
	*note = xasprintf("task module %s is not in the current folder: the image must have it "
			  "(--python-path DIR copies it from DIR)", module ? module : "(none)");
	return SPOK_OK;
}
