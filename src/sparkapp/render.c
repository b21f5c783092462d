/* render.c - Flyte's container-argument templating (pluginmachinery/core/template). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "sparkapp/sparkapp.h"

/* RE2's \s: [\t\n\f\r ] */
static bool re_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

/* Length of a match of (?i){{\s*[.$]KEY\s*}} at s, or 0. */
static size_t match_placeholder(const char *s, const char *key)
{
	size_t i = 2, k = strlen(key);

	if (s[0] != '{' || s[1] != '{')
		return 0;
	while (re_space(s[i]))
		i++;
	if (s[i] != '.' && s[i] != '$')
		return 0;
	i++;
	if (strncasecmp(s + i, key, k) != 0)
		return 0;
	i += k;
	while (re_space(s[i]))
		i++;
	if (s[i] != '}' || s[i + 1] != '}')
		return 0;
	return i + 2;
}

/* Replaces every placeholder KEY in *s by val (literally); val NULL leaves *s alone. */
static void replace_all(char **s, const char *key, const char *val)
{
	struct spok_buf b;
	const char *p = *s;
	bool hit = false;

	if (val == NULL || strstr(p, "{{") == NULL)
		return;
	spok_buf_init(&b, 0);
	spok_buf_appends(&b, "");
	while (*p) {
		size_t m = match_placeholder(p, key);
		if (m > 0) {
			spok_buf_appends(&b, val);
			p += m;
			hit = true;
		} else {
			spok_buf_append(&b, p, 1);
			p++;
		}
	}
	if (!hit) {
		spok_buf_free(&b);
		return;
	}
	free(*s);
	*s = spok_buf_detach(&b);
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
	if (x && x->input_prefix)
		input = join_path(x->input_prefix, "inputs.pb");
	if (x && x->raw_output_prefix)
		ckpt = join_path(x->raw_output_prefix, "_flytecheckpoints");
	if (x && x->prev_checkpoint)
		prev = x->prev_checkpoint[0] ? x->prev_checkpoint : "\"\"";
	if (generated_name)
		key = per_retry_key(generated_name);
	/* Flyte's substitution order; Namespace last. */
	replace_all(&s, "Input", input);
	replace_all(&s, "OutputPrefix", x ? x->output_prefix : NULL);
	replace_all(&s, "InputPrefix", x ? x->input_prefix : NULL);
	replace_all(&s, "RawOutputDataPrefix", x ? x->raw_output_prefix : NULL);
	replace_all(&s, "PrevCheckpointPrefix", prev);
	replace_all(&s, "CheckpointOutputPrefix", ckpt);
	replace_all(&s, "PerRetryUniqueKey", key);
	replace_all(&s, "Namespace", x ? x->namespace_ : NULL);
	free(input);
	free(ckpt);
	free(key);
	return s;
}
