/* template.c - the driver's and executors' pod templates: volumes spok mounts into Spark's
 * container (shipped files, event logs, flytekit data) and PYTHONPATH for shipped pyFiles and
 * a flytekit task's module. Pod templates need no webhook: the operator (v2.1+) hands them to
 * spark-submit as files, and Spark keeps a template's volumes and its named container's
 * mounts. */
#include "common/xalloc.h"
#include "sparkapp/internal.h"
#include "sparkapp/sparkapp.h"

/* A platform volume (the source as the admin wrote it) named name, mounted read-write at path
 * in Spark's container. */
static void platform_volume(const char *name, const json_t *source, const char *path,
			    json_t *volumes, json_t *mounts)
{
	json_t *vol = json_object(), *mnt = json_object();
	json_t *src = json_deep_copy(source);

	spok__jset(vol, "name", spok__jstr(name));
	json_object_update(vol, src);
	json_decref(src);
	spok__jset(mnt, "name", spok__jstr(name));
	spok__jset(mnt, "mountPath", spok__jstr(path));
	json_array_append_new(volumes, vol);
	json_array_append_new(mounts, mnt);
}

json_t *spok__pod_template(const struct spok__ctx *c, bool is_driver)
{
	const struct spok_settings *s = &c->p->spok;
	json_t *volumes = json_array(), *mounts = json_array();
	json_t *ctr, *spec, *tpl;
	char *pythonpath = NULL;

	if (c->ship) {
		spok__ship_volume(c->app_name, volumes, mounts);
		pythonpath = spok__ship_pythonpath(c->t);
	}
	/* Only the driver writes event logs, so executors do not get that volume. */
	if (is_driver && s->event_log_volume != NULL && s->event_log_mount != NULL)
		platform_volume(SPOK_EVENT_LOG_VOLUME, s->event_log_volume, s->event_log_mount,
				volumes, mounts);
	if (c->x != NULL && c->x->flyte_data && s->flyte_data_volume != NULL &&
	    s->flyte_data_dir != NULL && c->x->input_prefix != NULL) {
		char *code = xasprintf("%s/code", c->x->input_prefix), *pp = pythonpath;

		/* The driver reads inputs.pb and writes outputs; executors write raw data. */
		platform_volume(SPOK_FLYTE_DATA_VOLUME, s->flyte_data_volume, s->flyte_data_dir,
				volumes, mounts);
		/* The task's module, copied there from --python-path (src/engine/flytedata.h). */
		pythonpath = pp ? xasprintf("%s:%s", pp, code) : xstrdup(code);
		free(pp);
		free(code);
	}
	if (json_array_size(volumes) == 0) {
		json_decref(volumes);
		json_decref(mounts);
		return NULL;
	}
	ctr = json_object();
	spec = json_object();
	tpl = json_object();
	spok__jset(ctr, "name", spok__jstr(is_driver ? "spark-kubernetes-driver"
						     : "spark-kubernetes-executor"));
	if (pythonpath != NULL) /* Container declares env before volumeMounts */
		spok__jset(ctr, "env", json_pack("[o]", spok__env_var("PYTHONPATH", pythonpath)));
	spok__jset(ctr, "volumeMounts", mounts);
	spok__jset(spec, "volumes", volumes);
	spok__jset(spec, "containers", json_pack("[o]", ctr));
	spok__jset(tpl, "spec", spec);
	free(pythonpath);
	return tpl;
}
