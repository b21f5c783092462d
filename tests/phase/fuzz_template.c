/* fuzz_template.c - log-template rendering: bytes = template NUL value NUL link_type.
 * The template is used as a static template (URI and display name) and as a dynamic
 * link URI; value feeds podName, namespace and the taskConfig keys "port" and "x". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "phase/phase.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *next_part(const char **p, const char *end)
{
	const char *start = *p;
	const char *nul = memchr(start, '\0', (size_t)(end - start));

	*p = nul ? nul + 1 : end;
	return start;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = xmalloc(size + 1);
	const char *p = buf, *end = buf + size;
	const char *tmpl, *value, *link_type;
	struct spok_log_config lc = {0};
	struct spok_strmap vars = {0};
	struct spok_task t;
	struct spok_link *links = NULL;
	size_t n = 0;

	memcpy(buf, data, size);
	buf[size] = '\0';
	tmpl = next_part(&p, end);
	value = p < end ? next_part(&p, end) : "";
	link_type = p < end ? p : "d";

	spok_task_init(&t);
	spok_strmap_set(&t.config, "link_type", link_type);
	spok_strmap_set(&t.config, "port", value);
	spok_strmap_set(&t.config, "x", value);
	spok_strmap_set(&vars, "podName", value);
	spok_strmap_set(&vars, "namespace", value);
	lc.kubernetes_enabled = true;
	lc.kubernetes_template_uri = xstrdup(tmpl);
	lc.ntemplates = 1;
	lc.templates = xcalloc(1, sizeof(*lc.templates));
	lc.templates[0].display_name = xstrdup(tmpl);
	spok_strv_push(&lc.templates[0].template_uris, tmpl);
	lc.ndynamic_links = 1;
	lc.dynamic_links = xcalloc(1, sizeof(*lc.dynamic_links));
	lc.dynamic_links[0].name = xstrdup("d");
	spok_strv_push(&lc.dynamic_links[0].template_uris, tmpl);
	spok_log_links(&lc, &vars, tmpl, &t, &links, &n);
	if (n < 2)
		abort(); /* kubernetes + the static template always produce links */
	free(spok_render_log_template(tmpl, &vars));
	spok_links_free(links, n);
	spok_log_config_free(&lc);
	spok_strmap_free(&vars);
	spok_task_free(&t);
	free(buf);
	return 0;
}
