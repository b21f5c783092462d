/* direct.h - the pure core of direct submission: what spark-submit would create.
 *
 * The Spark operator turns a SparkApplication into spark-submit arguments, and spark-submit in
 * cluster mode (Spark 4.0: KubernetesClientApplication and the driver feature steps) turns
 * those into three Kubernetes objects and exits. This module does both steps in C, from the
 * SparkApplication src/sparkapp builds: a ConfigMap holding spark.properties (and the
 * executors' pod template), the driver Pod, and the driver's headless Service. It also applies
 * what the operator's mutating webhook adds to pods (env lists, affinity, tolerations, node
 * selector, security contexts, ...): to the driver pod directly and to the executors through
 * their pod template. docs/ARCHITECTURE.md "Direct submission" lists the mapping.
 *
 * Pure: no I/O, no clock, no randomness. Names derive from the SparkApplication's name, so a
 * later create of the same attempt finds the same objects (adopt on 409).
 *
 * Ownership: spok_direct_build fills a caller-owned struct whose three json_t references the
 * caller releases with spok_direct_free; string functions return heap strings the caller
 * free()s; json_t results are new references.
 */
#ifndef SPOK_DIRECT_DIRECT_H
#define SPOK_DIRECT_DIRECT_H

#include <jansson.h>

#include "common/err.h"
#include "model/model.h"

/* Where Spark's entrypoint reads the conf (SPARK_CONF_DIR in the driver image). */
#define SPOK_DIRECT_CONF_DIR "/opt/spark/conf"
#define SPOK_DIRECT_CONF_FILE "spark.properties"
#define SPOK_DIRECT_CONF_VOLUME "spark-conf-volume-driver"
/* The executors' pod template: Spark's PodTemplateConfigMapStep names. */
#define SPOK_DIRECT_TEMPLATE_DIR "/opt/spark/pod-template"
#define SPOK_DIRECT_TEMPLATE_FILE "pod-spec-template.yml"
#define SPOK_DIRECT_TEMPLATE_KEY "podspec-configmap-key"
#define SPOK_DIRECT_TEMPLATE_VOLUME "pod-template-volume"
/* The API server as the driver sees it (Spark ignores spark.master there and uses this). */
#define SPOK_DIRECT_MASTER "k8s://https://kubernetes.default.svc"
/* The spark-version label when the caller names none: the project's image (deploy/spark-image). */
#define SPOK_DIRECT_SPARK_VERSION "4.0.5"

struct spok_direct_opts {
	const char *app_id;        /* spark.app.id / spark-app-selector; NULL: spok_direct_app_id */
	const char *spark_user;    /* SPARK_USER; NULL: "spark" (the operator image's user) */
	const char *spark_version; /* spark-version label; NULL: SPOK_DIRECT_SPARK_VERSION */
};

struct spok_direct {
	json_t *configmap; /* v1 ConfigMap <app>-conf, immutable */
	json_t *pod;       /* v1 Pod <app>-driver */
	json_t *service;   /* v1 Service spok_direct_service_name(<app>), headless */
};

/* Builds the three objects for app (a SparkApplication as spok_sparkapp_build returns it; o
 * may be NULL). On error out is left empty and err holds one line naming the field, e.g.
 * "spec.mainApplicationFile pi.py: direct submission does not upload local files; ...". */
int spok_direct_build(const json_t *app, const struct spok_direct_opts *o,
		      struct spok_direct *out, struct spok_err *err);
/* spok_sparkapp_build then spok_direct_build: the same inputs as the SparkApplication path. */
int spok_direct_build_task(const struct spok_task *t, const struct spok_platform *p,
			   const struct spok_exec *x, const struct spok_direct_opts *o,
			   struct spok_direct *out, struct spok_err *err);
void spok_direct_free(struct spok_direct *d);

/* A v1 List of the three objects in creation order (ConfigMap, Pod, Service); new reference,
 * the items are shared with d. */
json_t *spok_direct_list(const struct spok_direct *d);

/* "spark-" + 32 hex digits derived from namespace and name: Spark's app id shape, the same
 * for every build of one attempt. Caller frees. */
char *spok_direct_app_id(const char *namespace_, const char *name);
/* "<app>-driver-svc", or, when that is no DNS label (over 63 bytes), the app name cut and a
 * hash of the whole name kept in front of "-driver-svc". Caller frees. */
char *spok_direct_service_name(const char *app_name);
/* The headless Service of a driver pod that exists, from the pod alone (a re-adopted attempt
 * whose task cannot be loaded again): named svc_name in the pod's namespace, labels and
 * selector the pod's labels, ports those of its container spark-kubernetes-driver (ipFamilies
 * as Spark's defaults: the conf is not read). NULL when pod has no name, namespace or labels.
 * New reference. */
json_t *spok_direct_service_of_pod(const json_t *pod, const char *svc_name);
/* "<app>-conf". Caller frees. */
char *spok_direct_configmap_name(const char *app_name);
/* The metadata.ownerReferences array that makes the driver pod (name, uid) own an object, as
 * spark-submit sets on its ConfigMap and Service; for a merge patch. New reference. */
json_t *spok_direct_owner_refs(const char *pod_name, const char *pod_uid);

#endif
