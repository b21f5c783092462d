/* render.c - Flyte's container-argument templating (pluginmachinery/core/template). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/flytetpl.h"
#include "common/xalloc.h"
#include "sparkapp/sparkapp.h"

/* Whether s holds a placeholder for key (what a replace would change). */
static bool has_placeholder(const char *s, const char *key)
{
	for (const char *p = strstr(s, "{{"); p != NULL; p = strstr(p + 1, "{{"))
		if (spok_flytetpl_match(p, key, false) != 0)
			return true;
	return false;
}

/* Replaces every placeholder KEY in *s by val (literally); val NULL leaves *s alone. */
static void replace_all(char **s, const char *key, const char *val)
{
	char *next;

	if (val == NULL || !has_placeholder(*s, key))
		return;
	next = spok_flytetpl_replace(*s, key, false, val, 0);
	free(*s);
	*s = next;
}

/* dir + "/" + leaf, without doubling a trailing '/' of dir (like a storage reference join). */
static char *join_path(const char *dir, const char *leaf)
{
	size_t n = strlen(dir);

	while (n > 0 && dir[n - 1] == '/')
		n--;
	return xasprintf("%.*s/%s", (int)n, dir, leaf);
}

static bool alpha_(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* Flyte's PerRetryUniqueKey: a leading run outside [A-Za-z_] becomes "a", then every run
 * outside [A-Za-z0-9_] becomes "_". */
static char *per_retry_key(const char *gen)
{
	size_t n = strlen(gen), i = 0, len = 0;
	char *out = xmalloc(n + 2);
	bool in_run = false;

	if (n > 0 && !alpha_(gen[0])) {
		while (i < n && !alpha_(gen[i]))
			i++;
		out[len++] = 'a';
	}
	for (; i < n; i++) {
		char c = gen[i];
		if (alpha_(c) || (c >= '0' && c <= '9')) {
			out[len++] = c;
			in_run = false;
		} else if (!in_run) {
			out[len++] = '_';
			in_run = true;
		}
	}
	out[len] = '\0';
	return out;
}

char *spok_render_arg(const char *arg, const struct spok_exec *x, const char *generated_name)
{
	char *s = xstrdup(arg ? arg : "");
	char *input = NULL, *ckpt = NULL, *key = NULL;
	const char *prev = NULL;

	if (strstr(s, "{{") == NULL)
		return s;
	/* The derived values are worked out only for a placeholder that asks for them, at the
	 * step that replaces it (an earlier value may bring a placeholder in). */
	if (x && x->input_prefix && has_placeholder(s, "Input"))
		input = join_path(x->input_prefix, "inputs.pb");
	/* Flyte's substitution order; Namespace last. */
	replace_all(&s, "Input", input);
	replace_all(&s, "OutputPrefix", x ? x->output_prefix : NULL);
	replace_all(&s, "InputPrefix", x ? x->input_prefix : NULL);
	replace_all(&s, "RawOutputDataPrefix", x ? x->raw_output_prefix : NULL);
	if (x && x->prev_checkpoint)
		prev = x->prev_checkpoint[0] ? x->prev_checkpoint : "\"\"";
	replace_all(&s, "PrevCheckpointPrefix", prev);
	if (x && x->raw_output_prefix && has_placeholder(s, "CheckpointOutputPrefix"))
		ckpt = join_path(x->raw_output_prefix, "_flytecheckpoints");
	replace_all(&s, "CheckpointOutputPrefix", ckpt);
	if (generated_name && has_placeholder(s, "PerRetryUniqueKey"))
		key = per_retry_key(generated_name);
	replace_all(&s, "PerRetryUniqueKey", key);
	replace_all(&s, "Namespace", x ? x->namespace_ : NULL);
	free(input);
	free(ckpt);
	free(key);
	return s;
}
