/* template.c - the driver's and executors' pod templates: volumes spok mounts into Spark's
 * container (shipped files, event logs, flytekit data) and PYTHONPATH for shipped pyFiles. Pod templates need no webhook: the operator (v2.1+) hands them to spark-submit
 * as files, and Spark keeps a template's volumes and its named container's mounts. */
#include "common/xalloc.h"
#include "sparkapp/internal.h"
#include "sparkapp/sparkapp.h"

/* The platform's event-log volume (spok.event-log.volume), read-write at the dir's path.
 * Only the driver writes event logs, so executors do not get it. */
static void event_log_volume(const struct spok_platform *p, json_t *volumes, json_t *mounts)
{
	json_t *vol = json_object(), *mnt = json_object();
	json_t *src = json_deep_copy(p->spok.event_log_volume); /* as the admin wrote it */

	spok__jset(vol, "name", spok__jstr(SPOK_EVENT_LOG_VOLUME));
	json_object_update(vol, src);
	json_decref(src);
	spok__jset(mnt, "name", spok__jstr(SPOK_EVENT_LOG_VOLUME));
	spok__jset(mnt, "mountPath", spok__jstr(p->spok.event_log_mount));
	json_array_append_new(volumes, vol);
	json_array_append_new(mounts, mnt);
}

/* The platform's flyte-data volume (spok.flyte-data.volume) at its dir, on the driver (where
 * flytekit reads inputs.pb and writes outputs) and the executors (raw output data). */
static void flyte_data_volume(const struct spok_platform *p, json_t *volumes, json_t *mounts)
{
	json_t *vol = json_object(), *mnt = json_object();
	json_t *src = json_deep_copy(p->spok.flyte_data_volume);

	spok__jset(vol, "name", spok__jstr(SPOK_FLYTE_DATA_VOLUME));
	json_object_update(vol, src);
	json_decref(src);
	spok__jset(mnt, "name", spok__jstr(SPOK_FLYTE_DATA_VOLUME));
	spok__jset(mnt, "mountPath", spok__jstr(p->spok.flyte_data_dir));
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
	if (is_driver && s->event_log_volume != NULL && s->event_log_mount != NULL)
		event_log_volume(c->p, volumes, mounts);
	if (c->x != NULL && c->x->flyte_data && s->flyte_data_volume != NULL &&
	    s->flyte_data_dir != NULL && c->x->input_prefix != NULL) {
		char *code = xasprintf("%s/code", c->x->input_prefix), *pp = pythonpath;

		flyte_data_volume(c->p, volumes, mounts);
		/* The task's module, copied there from --python-path (flytedata.h). */
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
