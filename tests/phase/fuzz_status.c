/* fuzz_status.c - bytes -> JSON -> spok_status_from_sparkapp with every log kind on. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "phase/phase.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void enable_all(struct spok_log_config *lc, bool dynamic)
{
	lc->kubernetes_enabled = true;
	lc->cloudwatch_enabled = true;
	lc->stackdriver_enabled = true;
	lc->ntemplates = 1;
	lc->templates = xcalloc(1, sizeof(*lc->templates));
	lc->templates[0].display_name = xstrdup("T {{ .podName }}");
	spok_strv_push(&lc->templates[0].template_uris,
		       "t/{{ .namespace }}/{{ $podName }}/{{.podUnixStartTime}}/{{ .podRFC3339FinishTime }}");
	spok_strv_push(&lc->templates[0].template_uris, "u/{{ .generatedName }}/{{ .logName }}");
	if (dynamic) {
		lc->ndynamic_links = 1;
		lc->dynamic_links = xcalloc(1, sizeof(*lc->dynamic_links));
		lc->dynamic_links[0].name = xstrdup("ide");
		lc->dynamic_links[0].display_name = xstrdup("IDE");
		spok_strv_push(&lc->dynamic_links[0].template_uris,
			       "ide/{{ .podName }}:{{ .taskConfig.port }}/{{ .taskConfig$x }}");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spok_platform p;
	struct spok_task t;
	struct spok_status prev = {0}, st;
	struct spok_err err;
	json_error_t jerr;
	json_t *app = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);

	if (app == NULL)
		return 0;
	spok_platform_init(&p);
	p.spark.history_server_url = xstrdup("https://history");
	enable_all(&p.spark.logs_mixed, true);
	enable_all(&p.spark.logs_user, false);
	enable_all(&p.spark.logs_system, false);
	enable_all(&p.spark.logs_all_user, false);
	spok_task_init(&t);
	t.name = xstrdup("task");
	spok_strmap_set(&t.config, "link_type", "ide,,x");
	spok_strmap_set(&t.config, "port", "8080");
	prev.phase = SPOK_PHASE_INITIALIZING;
	prev.reason = (char *)"task submitted to K8s";
	if (spok_status_from_sparkapp(app, &t, &p, &prev, &st, &err) == 0) {
		json_t *j = spok_status_to_json(&st);
		char *s;
		if (j == NULL)
			abort();
		s = json_dumps(j, 0);
		if (s == NULL)
			abort();
		free(s);
		json_decref(j);
		spok_status_free(&st);
	} else if (memchr(err.msg, '\n', strlen(err.msg)) != NULL || err.msg[0] == '\0') {
		abort(); /* errors are one non-empty line */
	}
	spok_task_free(&t);
	spok_platform_free(&p);
	json_decref(app);
	return 0;
}
