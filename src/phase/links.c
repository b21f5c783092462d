/* links.c - log links for one pod from one LogConfig (Flyte's InitializeLogPlugins +
 * TemplateLogPlugin.GetTaskLogs, shared/spec/flyte-spark-plugin.md §3.3). */
#include "phase/internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/flytetpl.h"
#include "common/xalloc.h"

#define FMT_JSON 2

const char *spok_link_kind_name(enum spok_link_kind k)
{
	switch (k) {
	case SPOK_LINK_DRIVER_UI:
		return "driver_ui";
	case SPOK_LINK_HISTORY_UI:
		return "history_ui";
	case SPOK_LINK_LOG:
	default:
		return "log";
	}
}

void spok_links_free(struct spok_link *links, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(links[i].name);
		free(links[i].uri);
	}
	free(links);
}

static void set_if(struct spok_strmap *vars, const char *key, const char *value)
{
	if (value != NULL && value[0] != '\0')
		spok_strmap_set(vars, key, value);
}

void spok_log_vars(const struct spok_log_pod *pod, struct spok_strmap *vars)
{
	const struct spok_task *t = pod->task;
	char buf[64];

	set_if(vars, "podName", pod->pod_name);
	set_if(vars, "namespace", pod->namespace_);
	set_if(vars, "nodeID", pod->node_id);
	set_if(vars, "generatedName", pod->generated_name);
	if (t != NULL) {
		set_if(vars, "taskID", t->name);
		set_if(vars, "taskVersion", t->version);
		set_if(vars, "taskProject", t->project);
		set_if(vars, "taskDomain", t->domain);
	}
	set_if(vars, "executionName", pod->execution_name);
	set_if(vars, "executionProject", pod->execution_project);
	set_if(vars, "executionDomain", pod->execution_domain);
	spok_format_rfc3339(pod->start_unix, buf, sizeof(buf));
	spok_strmap_set(vars, "podRFC3339StartTime", buf);
	spok_format_rfc3339(pod->finish_unix, buf, sizeof(buf));
	spok_strmap_set(vars, "podRFC3339FinishTime", buf);
	snprintf(buf, sizeof(buf), "%" PRId64, pod->start_unix);
	spok_strmap_set(vars, "podUnixStartTime", buf);
	snprintf(buf, sizeof(buf), "%" PRId64, pod->finish_unix);
	spok_strmap_set(vars, "podUnixFinishTime", buf);
}

/* A growable list of template variables; the first is always logName. */
struct tvlist {
	struct spok_tvar *v;
	size_t n;
};

static void tv_add(struct tvlist *l, const char *name, const char *value, bool task_config)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n].name = name;
	l->v[l->n].value = value;
	l->v[l->n].task_config = task_config;
	l->n++;
}

static void push_link(struct spok_link **out, size_t *nout, char *name, char *uri, int fmt,
		      bool pending, bool hide)
{
	struct spok_link *l;

	*out = xreallocarray(*out, *nout + 1, sizeof(**out));
	l = &(*out)[*nout];
	l->name = name;
	l->uri = uri;
	l->message_format = fmt;
	l->show_while_pending = pending;
	l->hide_once_finished = hide;
	l->kind = SPOK_LINK_LOG;
	(*nout)++;
}

/* A static plugin: every URI gives one link; the name is templated too, as in Flyte. */
static void static_links(const struct tvlist *tv, const char *display, const char *log_name,
			 char *const *uris, size_t nuris, int fmt, bool pending, bool hide,
			 struct spok_link **out, size_t *nout)
{
	for (size_t i = 0; i < nuris; i++) {
		char *d = spok_render_tvars(display ? display : "", tv->v, tv->n);
		char *ln = spok_render_tvars(log_name, tv->v, tv->n);
		char *name = xasprintf("%s%s", d, ln);
		free(d);
		free(ln);
		push_link(out, nout, name, spok_render_tvars(uris[i], tv->v, tv->n), fmt,
			  pending, hide);
	}
}

static void builtin_link(const struct tvlist *tv, const char *display, const char *tmpl,
			 char *fallback, const char *log_name, struct spok_link **out,
			 size_t *nout)
{
	char *uri = (tmpl != NULL && tmpl[0] != '\0') ? (char *)tmpl : fallback;

	static_links(tv, display, log_name, &uri, 1, FMT_JSON, false, false, out, nout);
	free(fallback);
}

/* link_type split on "," exactly like Go's strings.Split (no trimming). */
static void split_commas(const char *s, struct spok_strv *parts)
{
	const char *start = s;

	for (const char *p = s;; p++) {
		if (*p == ',' || *p == '\0') {
			spok_strv_push_own(parts, xstrndup(start, (size_t)(p - start)));
			if (*p == '\0')
				break;
			start = p + 1;
		}
	}
}

/* One dynamic plugin: for each requested type matching its name, each URI gives a link.
 * taskConfig variables accumulate in `tv` like Flyte's templateVars slice does. */
static void dynamic_links(struct tvlist *tv, const struct spok_log_template *d,
			  const struct spok_strv *types, const struct spok_task *t,
			  const char *log_name, struct spok_strv *keys, struct spok_link **out,
			  size_t *nout)
{
	const char *dname = d->name ? d->name : "";

	for (size_t k = 0; k < types->len; k++) {
		if (strcmp(dname, types->items[k]) != 0)
			continue;
		for (size_t u = 0; u < d->template_uris.len; u++) {
			const char *uri = d->template_uris.items[u];
			size_t first = keys->len;

			spok_flytetpl_task_config_keys(uri, keys);
			for (size_t i = first; i < keys->len; i++) {
				const char *val = spok_strmap_get(&t->config, keys->items[i]);
				if (val != NULL)
					tv_add(tv, keys->items[i], val, true);
			}
			push_link(out, nout,
				  xasprintf("%s%s", d->display_name ? d->display_name : "", log_name),
				  spok_render_tvars(uri, tv->v, tv->n), FMT_JSON,
				  d->show_while_pending, d->hide_once_finished);
		}
	}
}

static void all_dynamic(const struct spok_log_config *lc, const struct tvlist *base,
			const char *log_name, const struct spok_task *t,
			struct spok_link **out, size_t *nout)
{
	const char *link_type;
	struct spok_strv types = {0};

	if (t == NULL || lc->ndynamic_links == 0)
		return;
	link_type = spok_strmap_get(&t->config, "link_type");
	if (link_type == NULL || link_type[0] == '\0')
		return;
	split_commas(link_type, &types);
	for (size_t i = 0; i < lc->ndynamic_links; i++) {
		/* Each plugin starts from the standard variables (Flyte builds them per call). */
		struct tvlist tv = {0};
		struct spok_strv keys = {0};

		tv.v = xreallocarray(NULL, base->n, sizeof(*tv.v));
		memcpy(tv.v, base->v, base->n * sizeof(*tv.v));
		tv.n = base->n;
		dynamic_links(&tv, &lc->dynamic_links[i], &types, t, log_name, &keys, out, nout);
		free(tv.v);
		spok_strv_free(&keys);
	}
	spok_strv_free(&types);
}

void spok_log_links(const struct spok_log_config *lc, const struct spok_strmap *vars,
		    const char *log_name, const struct spok_task *t,
		    struct spok_link **out, size_t *nout)
{
	struct tvlist tv = {0};
	const char *ln = log_name ? log_name : "";

	tv_add(&tv, "logName", ln, false);
	for (size_t i = 0; vars != NULL && i < vars->len; i++)
		if (strcmp(vars->items[i].key, "logName") != 0)
			tv_add(&tv, vars->items[i].key, vars->items[i].value, false);

	if (lc->kubernetes_enabled)
		builtin_link(&tv, "Kubernetes Logs", lc->kubernetes_template_uri,
			     xasprintf("%s/#!/log/{{ .namespace }}/{{ .podName }}/pod?namespace={{ .namespace }}",
				       lc->kubernetes_url ? lc->kubernetes_url : ""),
			     ln, out, nout);
	if (lc->cloudwatch_enabled)
		builtin_link(&tv, "Cloudwatch Logs", lc->cloudwatch_template_uri,
			     xasprintf("https://console.aws.amazon.com/cloudwatch/home?region=%s#logEventViewer:group=%s;stream=var.log.containers.{{ .podName }}_{{ .namespace }}_{{ .containerName }}-{{ .containerId }}.log",
				       lc->cloudwatch_region ? lc->cloudwatch_region : "",
				       lc->cloudwatch_log_group ? lc->cloudwatch_log_group : ""),
			     ln, out, nout);
	if (lc->stackdriver_enabled) {
		const char *proj = lc->gcp_project ? lc->gcp_project : "";
		builtin_link(&tv, "Stackdriver Logs", lc->stackdriver_template_uri,
			     xasprintf("https://console.cloud.google.com/logs/viewer?project=%s&angularJsUrl=%%2Flogs%%2Fviewer%%3Fproject%%3D%s&resource=%s&advancedFilter=resource.labels.pod_name%%3D{{ .podName }}",
				       proj, proj,
				       lc->stackdriver_logresourcename ? lc->stackdriver_logresourcename : ""),
			     ln, out, nout);
	}
	for (size_t i = 0; i < lc->ntemplates; i++) {
		const struct spok_log_template *lt = &lc->templates[i];
		static_links(&tv, lt->display_name, ln, lt->template_uris.items,
			     lt->template_uris.len, lt->message_format, lt->show_while_pending,
			     lt->hide_once_finished, out, nout);
	}
	all_dynamic(lc, &tv, ln, t, out, nout);
	free(tv.v);
}
