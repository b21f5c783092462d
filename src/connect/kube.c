/* kube.c - a Kubernetes pool's session: its server Pod + Service, created or adopted, watched
 * and deleted by the session's supervisor (`spok session _supervise`). See connect.h.
 *
 * Why a spok-managed Pod and not the Spark operator's SparkConnect resource: that resource is
 * v1alpha1, needs operator >= 2.3, and has no idle timeout or TTL, which is what a pool is
 * about; a Pod spok creates needs no operator at all, and its lifecycle is the local
 * supervisor's (idle reaping, max-lifetime, FAILED when the server ends, restart on next use).
 *
 * The pod runs the Spark Connect server as a client-mode driver against the in-cluster API
 * (the image's entrypoint `driver`): spark.kubernetes.driver.pod.name is the pod itself, so
 * the executor pods the driver creates are owned by it and garbage-collected with it; the
 * driver host is the pod's IP (Kubernetes expands $(SPOK_POD_IP) in args); executors come
 * and go by dynamic allocation with shuffle tracking between the pool's min and max.
 *
 * The server's Spark Connect token (local/token.h) is in a Secret of its own, <pod>-token,
 * labelled like the pod and owned by it (garbage-collected with it; stop deletes it too); the
 * server reads it from its environment (secretKeyRef), so it is in neither the pod spec nor
 * argv. An adopted pod's token is read back from its Secret; a pod without one (made by an
 * older spok) is not adopted but replaced. spok's own credentials need to create, read,
 * patch and delete Secrets in the pool's namespace.
 *
 * The supervisor is synchronous: one tick a second, each Kubernetes call waited for on the
 * supervisor's own loop (kube_sync); a signal sets a flag the next tick acts on. */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "common/base64.h"
#include "common/strmap.h"
#include "common/timefmt.h"
#include "common/xalloc.h"
#include "connect/connect.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "kube/stream.h"
#include "local/local.h"
#include "local/token.h"

#define TICK_MS 1000
#define STOP_WAIT_MS ((uint64_t)60 * 1000)     /* a deleted pod must be gone by then */
#define POD_GRACE_S 15                         /* terminationGracePeriodSeconds */
#define DEADLINE_MARGIN_S 3600                 /* activeDeadlineSeconds = max-lifetime + this */
#define EXEC_IDLE_DEFAULT "60s"                /* executors go after this long without tasks */
#define MAX_EXECUTORS_DEFAULT 4                /* max-executors unset */
#define ACTIVITY_EVERY_MS 5000                 /* how often the UI is asked for tasks */
#define L_SESSION "spok.dev/session"
#define L_COMPONENT "spok.dev/component"
#define L_GENERATION "spok.dev/generation"
#define L_STORE "spok.dev/store"               /* which spok store's session (store_id) */
#define A_IDLE "spok.dev/idle-timeout-ms"      /* the pool's idle-timeout, for orphan reaping */
#define REAP_EVERY_MS ((uint64_t)60 * 1000)    /* how often a supervisor looks for orphans */
#define COMPONENT "connect-server"
#define TOKEN_COMPONENT "connect-token"           /* the server's token Secret */
#define TOKEN_KEY "token"
#define TOKEN_ENV "SPARK_CONNECT_AUTHENTICATE_TOKEN"
#define CONTAINER "spark-connect-server"
#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

static const struct kube_gvr PODS = {"", "v1", "pods"};
static const struct kube_gvr SERVICES = {"", "v1", "services"};
static const struct kube_gvr SECRETS = {"", "v1", "secrets"};

static volatile sig_atomic_t got_signal;
/* This supervisor's store (host and data dir) as 16 hex digits: its pods carry it, so a
 * supervisor reaps orphans of its own store only, never another user's or data dir's. */
static char store_id[17];

static void set_store_id(const char *data_dir)
{
	char host[256] = "";
	char *real = realpath(data_dir, NULL);
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	gethostname(host, sizeof(host) - 1);
	char *key = xasprintf("%s:%s", host, real ? real : data_dir);
	for (const char *p = key; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	snprintf(store_id, sizeof(store_id), "%016llx", (unsigned long long)h);
	free(key);
	free(real);
}

static void on_signal(int sig)
{
	got_signal = sig;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL); /* a signal cuts it short: the tick acts on it */
}

static void set_str(char **dst, char *v)
{
	free(*dst);
	*dst = v;
}

struct ksup {
	uv_loop_t loop;
	struct kube_client *kc;
	struct spok_store *st;
	struct spok_session x;
	const struct spok_pool *pool;
	const char *ns;
	char *pod;                 /* the server pod's name (NULL: none yet) */
	char *svc;
	FILE *log;                 /* the session's server.log: what the supervisor did */
	char *app_id;
	int64_t tasks_seen;
	uint64_t look_at;
	char token[SPOK_TOKEN_LEN + 1]; /* the server's (wiped at the end) */
	struct spok_local_resident resident; /* the warm runs' resident Python client (local) */
	bool replaced;             /* a newer generation owns the name (and its files) */
};

static void note(struct ksup *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct ksup *k, const char *fmt, ...)
{
	char ts[40];
	va_list ap;

	if (!k->log)
		return;
	spok_format_rfc3339(spok_now_ms() / 1000, ts, sizeof(ts));
	fprintf(k->log, "%s spok: ", ts);
	va_start(ap, fmt);
	vfprintf(k->log, fmt, ap);
	va_end(ap);
	fputc('\n', k->log);
	fflush(k->log);
}

/* ---- one Kubernetes call, waited for ---- */

/* started: what the kube_* call returned. *out (may be NULL) gets the body (new reference). */
static int wait_call(struct kube_client *kc, int started, struct kube_sync *s, json_t **out,
		     struct spok_err *err)
{
	int r = started == 0 ? kube_sync_wait(kc, s, err) : started;

	if (out)
		*out = r == 0 && s->body ? json_incref(s->body) : NULL;
	kube_sync_free(s);
	return r;
}

static int k_get(struct kube_client *kc, const struct kube_gvr *g, const char *ns, const char *name,
		 json_t **out, struct spok_err *err)
{
	struct kube_sync s = {0};
	return wait_call(kc, kube_get(kc, g, ns, name, kube_sync_cb, &s, err), &s, out, err);
}

static int k_create(struct kube_client *kc, const struct kube_gvr *g, const char *ns,
		    const json_t *obj, json_t **out, struct spok_err *err)
{
	struct kube_sync s = {0};
	return wait_call(kc, kube_create(kc, g, ns, obj, kube_sync_cb, &s, err), &s, out, err);
}

/* Deleting what is already gone is success. */
static int k_delete(struct kube_client *kc, const struct kube_gvr *g, const char *ns,
		    const char *name, struct spok_err *err)
{
	struct kube_sync s = {0};
	int r = wait_call(kc, kube_delete(kc, g, ns, name, "Background", NULL, kube_sync_cb, &s, err),
			  &s, NULL, err);
	return r == SPOK_ENOTFOUND ? 0 : r;
}

static int k_patch(struct kube_client *kc, const struct kube_gvr *g, const char *ns,
		   const char *name, const json_t *patch, struct spok_err *err)
{
	struct kube_sync s = {0};
	return wait_call(kc, kube_patch_merge(kc, g, ns, name, NULL, patch, kube_sync_cb, &s, err),
			 &s, NULL, err);
}

/* The session's objects of component (any generation), as a List. */
static int k_list_component(struct kube_client *kc, const struct kube_gvr *g, const char *ns,
			    const char *session, const char *component, json_t **out,
			    struct spok_err *err)
{
	struct kube_sync s = {0};
	char *sel = xasprintf(L_SESSION "=%s," L_COMPONENT "=%s", session, component);
	struct kube_list_opts o = {.label_selector = sel};
	int r = wait_call(kc, kube_list(kc, g, ns, &o, kube_sync_cb, &s, err), &s, out, err);

	free(sel);
	return r;
}

/* The session's server pods (any generation), as a List. */
static int k_list_servers(struct kube_client *kc, const char *ns, const char *session,
			  json_t **out, struct spok_err *err)
{
	return k_list_component(kc, &PODS, ns, session, COMPONENT, out, err);
}

static int open_client(uv_loop_t *loop, const struct spok_pool *pool, struct kube_client **out,
		       struct spok_err *err)
{
	struct kube_config cfg = {0};
	/* the kubeconfig the kubectl way ($KUBECONFIG, ~/.kube/config), the pool's context */
	int r = kube_config_load(&cfg, NULL, pool->kube.context, err);

	if (r == 0)
		r = kube_client_new(loop, &cfg, NULL, out, err);
	kube_config_free(&cfg);
	return r;
}

/* ---- the objects ---- */

/* Names carry the store's id (its first 8 digits): two stores (users, data dirs) may both
 * have a session "x" in one namespace, and neither may take the other's pod or Service.
 * Both are DNS labels: 5 + 8 + 1 + 40 (a session name at most) + 1 + the generation's digits
 * stay within 63 characters up to generation 99999999. */
static char *pod_name(const char *session, int64_t gen)
{
	return xasprintf("spok-%.8s-%s-%lld", store_id, session, (long long)gen);
}

static char *service_name(const char *session)
{
	return xasprintf("spok-%.8s-%s", store_id, session);
}

static char *secret_name(const char *pod)
{
	return xasprintf("%s-token", pod);
}

static json_t *labels(const char *session, int64_t gen)
{
	json_t *l = json_pack("{s:s, s:s, s:s}", L_SESSION, session, L_COMPONENT, COMPONENT,
			      "app.kubernetes.io/managed-by", "spok");
	if (store_id[0])
		json_object_set_new(l, L_STORE, json_string(store_id));
	if (gen > 0) {
		char g[24];
		snprintf(g, sizeof(g), "%lld", (long long)gen);
		json_object_set_new(l, L_GENERATION, json_string(g));
	}
	return l;
}

/* Spark's memory strings ("1g", "512m", "2048": MiB) in MiB; -1 when not one. */
static long long mib(const char *s)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);

	if (errno || end == s || v < 0 || v > (1LL << 40))
		return -1;
	switch (*end) {
	case 'k': case 'K': v /= 1024; end++; break;
	case 'm': case 'M': end++; break;
	case 'g': case 'G': v *= 1024; end++; break;
	case 't': case 'T': v *= 1024 * 1024; end++; break;
	case '\0': break;
	default: return -1;
	}
	if (*end == 'b' || *end == 'B')
		end++;
	return *end ? -1 : v;
}

/* s with every "$(" written "$$(", which Kubernetes turns back into "$(" instead of
 * expanding a variable reference (heap). */
static char *no_expansion(const char *s)
{
	char *out = xmalloc(2 * strlen(s) + 1), *o = out;

	for (const char *p = s; *p; p++) {
		if (p[0] == '$' && p[1] == '(')
			*o++ = '$';
		*o++ = *p;
	}
	*o = '\0';
	return out;
}

/* The server's Spark conf: pool conf first, then what spok sets (the pool cannot move the
 * server off its pod or turn dynamic allocation off). */
static void server_conf(const struct spok_pool *pl, const char *session, const char *pod,
			struct spok_strmap *conf)
{
	char n[24];
	const char *idle = spok_strmap_get(&pl->conf, "spark.dynamicAllocation.executorIdleTimeout");

	spok_strmap_set(conf, "spark.dynamicAllocation.executorIdleTimeout", idle ? idle : EXEC_IDLE_DEFAULT);
	/* executors holding shuffle data would otherwise stay for good (an idle pool: one driver) */
	spok_strmap_set(conf, "spark.dynamicAllocation.shuffleTracking.timeout", idle ? idle : EXEC_IDLE_DEFAULT);
	for (size_t i = 0; i < pl->conf.len; i++) {
		/* Kubernetes expands $(VAR) in a container's args: the pool's values are literal */
		char *v = no_expansion(pl->conf.items[i].value);
		spok_strmap_set(conf, pl->conf.items[i].key, v);
		free(v);
	}
	spok_strmap_set(conf, "spark.dynamicAllocation.enabled", "true");
	spok_strmap_set(conf, "spark.dynamicAllocation.shuffleTracking.enabled", "true");
	snprintf(n, sizeof(n), "%ld", pl->min_executors >= 0 ? pl->min_executors : 0);
	spok_strmap_set(conf, "spark.dynamicAllocation.minExecutors", n);
	spok_strmap_set(conf, "spark.dynamicAllocation.initialExecutors", n);
	snprintf(n, sizeof(n), "%ld", pl->max_executors >= 0 ? pl->max_executors : MAX_EXECUTORS_DEFAULT);
	spok_strmap_set(conf, "spark.dynamicAllocation.maxExecutors", n);
	spok_strmap_set(conf, "spark.kubernetes.namespace", pl->kube.namespace_);
	spok_strmap_set(conf, "spark.kubernetes.container.image", pl->kube.image);
	spok_strmap_set(conf, "spark.kubernetes.driver.pod.name", pod);
	/* client mode inside a pod: the API server with the pod's service account */
	spok_strmap_set(conf, "spark.kubernetes.authenticate.caCertFile", SA_DIR "/ca.crt");
	spok_strmap_set(conf, "spark.kubernetes.authenticate.oauthTokenFile", SA_DIR "/token");
	spok_strmap_set(conf, "spark.kubernetes.executor.label." L_SESSION, session);
	spok_strmap_set(conf, "spark.driver.host", "$(SPOK_POD_IP)");
	spok_strmap_set(conf, "spark.driver.port", "7078");
	spok_strmap_set(conf, "spark.driver.blockManager.port", "7079");
	snprintf(n, sizeof(n), "%d", SPOK_CONNECT_GRPC_PORT);
	spok_strmap_set(conf, "spark.connect.grpc.binding.port", n);
	snprintf(n, sizeof(n), "%d", SPOK_CONNECT_UI_PORT);
	spok_strmap_set(conf, "spark.ui.port", n);
}

/* requests (and limits) as Spark sizes a driver pod: memory + overhead, the driver's cores. */
static int resources(const struct spok_pool *pl, json_t **out, struct spok_err *err)
{
	const char *mem = spok_strmap_get(&pl->conf, "spark.driver.memory");
	const char *over = spok_strmap_get(&pl->conf, "spark.driver.memoryOverhead");
	const char *cpu = spok_strmap_get(&pl->conf, "spark.kubernetes.driver.request.cores");
	const char *lim = spok_strmap_get(&pl->conf, "spark.kubernetes.driver.limit.cores");
	long long m = mib(mem ? mem : "1g"), o = over ? mib(over) : 0;

	if (m <= 0 || o < 0)
		return spok_err_set(err, SPOK_EINVAL, "pool %s: spark.driver.memory%s is not a size such as 1g or 512m",
				    pl->name, o < 0 ? "Overhead" : "");
	if (!over)
		o = m / 10 > 384 ? m / 10 : 384;
	if (!cpu)
		cpu = spok_strmap_get(&pl->conf, "spark.driver.cores");
	char *memq = xasprintf("%lldMi", m + o);
	json_t *req = json_pack("{s:s, s:s}", "cpu", cpu ? cpu : "1", "memory", memq);
	json_t *limits = json_pack("{s:s}", "memory", memq);
	if (lim)
		json_object_set_new(limits, "cpu", json_string(lim));
	free(memq);
	*out = json_pack("{s:o, s:o}", "requests", req, "limits", limits);
	return 0;
}

static int build_pod(const struct spok_pool *pl, const char *session, const char *pod, int64_t gen,
		     json_t **out, struct spok_err *err)
{
	struct spok_strmap conf = {0};
	json_t *res = NULL;
	int r = resources(pl, &res, err);

	*out = NULL;
	if (r != 0)
		return r;
	server_conf(pl, session, pod, &conf);
	char *app = xasprintf("spok-session-%s", session);
	/* the image's Spark 4 has the server on its classpath (deploy/spark-image) */
	json_t *args = json_pack("[s, s, s, s, s, s, s]", "driver", "--master",
				 "k8s://https://kubernetes.default.svc", "--name", app, "--class",
				 SPOK_CONNECT_SERVER_CLASS);
	for (size_t i = 0; i < conf.len; i++) {
		char *kv = xasprintf("%s=%s", conf.items[i].key, conf.items[i].value);
		json_array_append_new(args, json_string("--conf"));
		json_array_append_new(args, json_string(kv));
		free(kv);
	}
	spok_strmap_free(&conf);
	free(app);
	json_t *ports = json_pack("[{s:s, s:i}, {s:s, s:i}, {s:s, s:i}, {s:s, s:i}]",
				  "name", "grpc", "containerPort", SPOK_CONNECT_GRPC_PORT,
				  "name", "spark-ui", "containerPort", SPOK_CONNECT_UI_PORT,
				  "name", "driver-rpc", "containerPort", 7078,
				  "name", "blockmanager", "containerPort", 7079);
	char *secret = secret_name(pod);
	/* the token from its Secret: not in the pod spec, not in argv */
	json_t *env = json_pack("[{s:s, s:{s:{s:s}}}, {s:s, s:s}, {s:s, s:{s:{s:s, s:s}}}]",
				"name", "SPOK_POD_IP", "valueFrom", "fieldRef", "fieldPath", "status.podIP",
				"name", "SPARK_USER", "value", "spark",
				"name", TOKEN_ENV, "valueFrom", "secretKeyRef", "name", secret, "key", TOKEN_KEY);
	free(secret);
	json_t *probe = json_pack("{s:{s:i}, s:i, s:i}", "tcpSocket", "port", SPOK_CONNECT_GRPC_PORT,
				  "initialDelaySeconds", 2, "periodSeconds", 2);
	json_t *container = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o}",
				      "name", CONTAINER, "image", pl->kube.image,
				      "imagePullPolicy", "IfNotPresent", "args", args, "env", env,
				      "ports", ports, "readinessProbe", probe, "resources", res);
	json_int_t deadline = (json_int_t)(pl->lifetime_ms / 1000) + DEADLINE_MARGIN_S;
	char idle[24];
	snprintf(idle, sizeof(idle), "%llu", (unsigned long long)pl->idle_ms);
	*out = json_pack("{s:s, s:s, s:{s:s, s:s, s:o, s:{s:s}}, s:{s:s, s:s, s:b, s:I, s:I, s:[o]}}",
			 "apiVersion", "v1", "kind", "Pod",
			 "metadata", "name", pod, "namespace", pl->kube.namespace_, "labels", labels(session, gen),
			 "annotations", A_IDLE, idle,
			 "spec", "serviceAccountName", pl->kube.service_account ? pl->kube.service_account : SPOK_POOL_KUBE_SA,
			 "restartPolicy", "Never", "enableServiceLinks", 0,
			 "terminationGracePeriodSeconds", (json_int_t)POD_GRACE_S,
			 /* an orphaned server (no supervisor, nobody adopting it) ends by itself */
			 "activeDeadlineSeconds", deadline, "containers", container);
	return 0;
}

static json_t *build_service(const struct spok_pool *pl, const char *session, const char *svc)
{
	json_t *s = json_pack("{s:s, s:s, s:{s:s, s:s, s:o}, s:{s:s, s:{s:s, s:s}, s:[{s:s, s:i}, {s:s, s:i}]}}",
			 "apiVersion", "v1", "kind", "Service",
			 "metadata", "name", svc, "namespace", pl->kube.namespace_, "labels", labels(session, 0),
			 "spec", "type", "ClusterIP",
			 "selector", L_SESSION, session, L_COMPONENT, COMPONENT,
			 "ports", "name", "grpc", "port", SPOK_CONNECT_GRPC_PORT,
			 "name", "spark-ui", "port", SPOK_CONNECT_UI_PORT);
	/* this store's server only, never another store's session of the same name */
	json_object_set_new(json_object_get(json_object_get(s, "spec"), "selector"), L_STORE,
			    json_string(store_id));
	return s;
}

/* ---- pod state ---- */

enum pod_state { POD_PENDING, POD_READY, POD_ENDED };

static const char *jstr(const json_t *o, const char *path)
{
	char buf[128];
	const json_t *v = o;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *save = NULL, *t = strtok_r(buf, ".", &save); t && v; t = strtok_r(NULL, ".", &save))
		v = json_object_get(v, t);
	return json_string_value(v);
}

static bool str_is(const json_t *v, const char *want)
{
	const char *s = json_string_value(v);
	return s && strcmp(s, want) == 0;
}

/* The pod's IP when it is one (it reaches URLs, terminals and the UI probe), else NULL. */
static const char *pod_ip(const json_t *pod)
{
	const char *ip = jstr(pod, "status.podIP");
	unsigned char a[16];

	return ip && (inet_pton(AF_INET, ip, a) == 1 || inet_pton(AF_INET6, ip, a) == 1) ? ip : NULL;
}

/* A server pod's name from a list, when it is one spok could have made (a DNS label: it
 * reaches API paths and the session's log), else NULL. */
static const char *pod_name_of(const json_t *pod)
{
	const char *n = jstr(pod, "metadata.name");

	return n && kube_dns_label(n) ? n : NULL;
}

/* Whether a server pod of the session is this store's (or older than the store label): a
 * pod another spok store made under the same session name is neither adopted nor deleted. */
static bool ours(const json_t *pod)
{
	const char *v = json_string_value(json_object_get(json_object_get(json_object_get(pod, "metadata"), "labels"), L_STORE));

	return !v || !store_id[0] || strcmp(v, store_id) == 0;
}

static enum pod_state pod_state(const json_t *pod)
{
	const char *phase = jstr(pod, "status.phase");
	const json_t *conds = json_object_get(json_object_get(pod, "status"), "conditions");
	size_t i;
	json_t *c;

	if (phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0))
		return POD_ENDED;
	if (!phase || strcmp(phase, "Running") != 0 || !pod_ip(pod))
		return POD_PENDING;
	json_array_foreach(conds, i, c)
		if (str_is(json_object_get(c, "type"), "Ready"))
			return str_is(json_object_get(c, "status"), "True") ? POD_READY : POD_PENDING;
	return POD_PENDING;
}

/* Why an ended pod ended: its container's terminated state, else the pod's reason. Heap. */
static char *pod_end(const json_t *pod)
{
	const json_t *cs = json_object_get(json_object_get(pod, "status"), "containerStatuses");
	const json_t *term = json_object_get(json_object_get(json_array_get(cs, 0), "state"), "terminated");
	const char *reason = term ? jstr(term, "reason") : jstr(pod, "status.reason");
	char *r;

	if (term)
		r = xasprintf("%s, exit code %lld", reason ? reason : "terminated",
			      (long long)json_integer_value(json_object_get(term, "exitCode")));
	else
		r = xstrdup(reason ? reason : "ended");
	for (char *p = r; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	return r;
}

/* The token Secret of pod pod: labelled as the session's (spok_connect_kube_delete finds it
 * by that), owned by the pod once it exists (create). */
static json_t *build_secret(const struct ksup *k, const char *name)
{
	json_t *l = labels(k->x.name, 0);

	json_object_set_new(l, L_COMPONENT, json_string(TOKEN_COMPONENT));
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:o}, s:s, s:{s:s}}", "apiVersion", "v1",
			 "kind", "Secret", "metadata", "name", name, "namespace", k->ns, "labels", l,
			 "type", "Opaque", "stringData", TOKEN_KEY, k->token);
}

/* Whether obj's ownerReferences name the object of uid. */
static bool owned_by(const json_t *obj, const char *uid)
{
	size_t i;
	json_t *o;

	json_array_foreach(json_object_get(json_object_get(obj, "metadata"), "ownerReferences"), i, o)
		if (uid && str_is(json_object_get(o, "uid"), uid))
			return true;
	return false;
}

/* The token of pod's Secret into k->token. An error when there is none, or not one spok made
 * (the message names the Secret, never its content). */
static int read_token(struct ksup *k, const char *pod, const char *uid, struct spok_err *err)
{
	char *name = secret_name(pod);
	json_t *sec = NULL;
	unsigned char *raw = NULL;
	size_t len = 0;
	int r = k_get(k->kc, &SECRETS, k->ns, name, &sec, err);
	const char *b64 = r == 0 ? jstr(sec, "data." TOKEN_KEY) : NULL;

	if (r == 0 && (!b64 || !spok_base64_decode(b64, 0, &raw, &len) || len != SPOK_TOKEN_LEN ||
		       !spok_token_ok((const char *)raw)))
		r = spok_err_set(err, SPOK_EINVAL, "secret %s/%s holds no token spok made", k->ns, name);
	if (r == 0 && !owned_by(sec, uid))
		r = spok_err_set(err, SPOK_EINVAL, "secret %s/%s is not its pod's (no owner reference to it)", k->ns, name);
	if (r == 0)
		memcpy(k->token, raw, SPOK_TOKEN_LEN + 1);
	if (raw) {
		explicit_bzero(raw, len);
		free(raw);
	}
	json_decref(sec);
	free(name);
	return r;
}

/* ---- adopt or create ---- */

/* A pod this supervisor may adopt: labelled with this store and named as this store names
 * the session's pods. Anyone who may create pods in the namespace can label one; a pod
 * spok did not make for this session is replaced, never handed to clients. */
static bool adoptable(const struct ksup *k, const json_t *pod)
{
	const char *v = json_string_value(json_object_get(json_object_get(json_object_get(pod, "metadata"), "labels"), L_STORE));
	const char *n = pod_name_of(pod);
	char *prefix = pod_name(k->x.name, 0);
	size_t len = strlen(prefix) - 1; /* "spok-STORE-NAME-" */
	bool ok = v && store_id[0] && strcmp(v, store_id) == 0 && n && strncmp(n, prefix, len) == 0 &&
		  n[len] >= '1' && n[len] <= '9' && strspn(n + len, "0123456789") == strlen(n + len);

	free(prefix);
	return ok;
}

/* The oldest live server pod of the session is adopted (relabelled with this generation);
 * ended or surplus ones are deleted. *adopted: whether one was. */
static int adopt(struct ksup *k, bool *adopted, struct spok_err *err)
{
	json_t *list = NULL;
	int r = k_list_servers(k->kc, k->ns, k->x.name, &list, err);
	const json_t *best = NULL;
	size_t i;
	json_t *p;

	*adopted = false;
	if (r != 0)
		return r;
	json_array_foreach(json_object_get(list, "items"), i, p) {
		if (!adoptable(k, p) || json_object_get(json_object_get(p, "metadata"), "deletionTimestamp") ||
		    pod_state(p) == POD_ENDED)
			continue;
		const char *ts = jstr(p, "metadata.creationTimestamp"), *bts = best ? jstr(best, "metadata.creationTimestamp") : NULL;
		if (!best || (ts && bts && strcmp(ts, bts) < 0))
			best = p;
	}
	json_array_foreach(json_object_get(list, "items"), i, p) {
		const char *n = pod_name_of(p);
		if (p == best || !n || !ours(p) || json_object_get(json_object_get(p, "metadata"), "deletionTimestamp"))
			continue;
		note(k, "deleting pod %s/%s (%s)", k->ns, n, pod_state(p) == POD_ENDED ? "ended" : "a second server of the session");
		k_delete(k->kc, &PODS, k->ns, n, NULL);
	}
	struct spok_err te = {0};
	int tr = best ? read_token(k, jstr(best, "metadata.name"), jstr(best, "metadata.uid"), &te) : 0;
	if (tr == SPOK_ENOTFOUND || tr == SPOK_EINVAL) {
		/* a server whose token spok cannot tell its clients: of no use to them */
		note(k, "deleting pod %s/%s: %s", k->ns, jstr(best, "metadata.name"), te.msg);
		k_delete(k->kc, &PODS, k->ns, jstr(best, "metadata.name"), NULL);
		best = NULL;
	} else if (tr != 0) { /* the API server is away: this start fails, the pod stays */
		spok_err_set(err, tr, "%s", te.msg);
		json_decref(list);
		return tr;
	}
	if (best) {
		k->pod = xstrdup(pod_name_of(best));
		json_t *patch = json_pack("{s:{s:o}}", "metadata", "labels", labels(k->x.name, k->x.generation));
		r = k_patch(k->kc, &PODS, k->ns, k->pod, patch, err);
		json_decref(patch);
		if (r == 0) {
			*adopted = true;
			note(k, "adopted server pod %s/%s (generation %lld)", k->ns, k->pod, (long long)k->x.generation);
		}
	}
	json_decref(list);
	return r;
}

static int create(struct ksup *k, struct spok_err *err)
{
	json_t *svc = build_service(k->pool, k->x.name, k->svc), *pod = NULL;
	int r = k_create(k->kc, &SERVICES, k->ns, svc, NULL, err);

	json_decref(svc);
	if (r == SPOK_ECONFLICT) /* kept from an earlier generation */
		r = 0;
	free(k->pod);
	k->pod = pod_name(k->x.name, k->x.generation);
	char *secret = secret_name(k->pod);
	json_t *created = NULL;
	if (r == 0)
		r = spok_token_new(k->token, err);
	if (r == 0) { /* a leftover of this name (a start that failed half-way) is replaced */
		json_t *sec = build_secret(k, secret);
		r = k_delete(k->kc, &SECRETS, k->ns, secret, err);
		if (r == 0)
			r = k_create(k->kc, &SECRETS, k->ns, sec, NULL, err);
		json_decref(sec);
	}
	if (r == 0)
		r = build_pod(k->pool, k->x.name, k->pod, k->x.generation, &pod, err);
	if (r == 0)
		r = k_create(k->kc, &PODS, k->ns, pod, &created, err);
	json_decref(pod);
	const char *uid = jstr(created, "metadata.uid");
	if (r == 0 && uid) {
		/* garbage-collected with its pod, whoever deletes that */
		json_t *patch = json_pack("{s:{s:[{s:s, s:s, s:s, s:s}]}}", "metadata", "ownerReferences",
					  "apiVersion", "v1", "kind", "Pod", "name", k->pod, "uid", uid);
		struct spok_err pe = {0};
		if (k_patch(k->kc, &SECRETS, k->ns, secret, patch, &pe) != 0)
			note(k, "secret %s/%s: cannot make pod %s its owner: %s", k->ns, secret, k->pod, pe.msg);
		json_decref(patch);
	} else if (r != 0) {
		k_delete(k->kc, &SECRETS, k->ns, secret, NULL);
	}
	json_decref(created);
	if (r == 0)
		note(k, "created server pod %s/%s, its token secret and service %s", k->ns, k->pod, k->svc);
	free(secret);
	return r;
}

/* The service (made if an adopted pod's was deleted) and the pod, adopted or created. */
static int adopt_or_create(struct ksup *k, struct spok_err *err)
{
	bool adopted = false;
	int r = adopt(k, &adopted, err);

	if (r != 0 || !adopted)
		return r != 0 ? r : create(k, err);
	json_t *svc = build_service(k->pool, k->x.name, k->svc);
	r = k_create(k->kc, &SERVICES, k->ns, svc, NULL, err);
	json_decref(svc);
	return r == SPOK_ECONFLICT ? 0 : r;
}

/* ---- orphans: server pods of this store nobody supervises ---- */

/* The idle-timeout a pod was created with (its annotation), else the default. */
static uint64_t pod_idle_ms(const json_t *pod)
{
	const char *v = json_string_value(json_object_get(json_object_get(json_object_get(pod, "metadata"), "annotations"), A_IDLE));
	char *end = NULL;
	unsigned long long ms = v ? strtoull(v, &end, 10) : 0;

	return v && end && !*end && ms > 0 && ms < ((uint64_t)1 << 40) ? (uint64_t)ms : SPOK_POOL_IDLE_MS;
}

/* Why session's pod is an orphan to delete now (heap), or NULL: the store has no row of the
 * session, or its row ended (a dead supervisor's is settled here) and nothing used the
 * session for the pod's idle-timeout, so a live supervisor would have reaped it by now (an
 * ended pod, kept for its log, counts from the session's end). */
static char *orphan(struct ksup *k, const char *session, const json_t *pod, struct spok_session *row,
		    bool *has_row)
{
	int r = spok_store_session_get(k->st, session, row, NULL);

	*has_row = r == 0;
	if (r == SPOK_ENOTFOUND)
		return xstrdup("no session of that name in the store");
	if (r != 0)
		return NULL;
	spok_connect_settle(k->st, row, NULL);
	if (!spok_session_phase_terminal(row->phase))
		return NULL;
	int64_t last = row->last_used_ms > row->started_ms ? row->last_used_ms : row->started_ms;
	/* an ended pod is kept for its log: an idle-timeout from the session's end */
	if (pod_state(pod) == POD_ENDED && row->finished_ms > last)
		last = row->finished_ms;
	uint64_t idle = pod_idle_ms(pod);
	if (spok_now_ms() - last < (int64_t)idle)
		return NULL;
	char *d = spok_format_duration_ms(idle);
	char *why = xasprintf("unused for %s with no supervisor", d);
	free(d);
	return why;
}

/* Deletes the server pods (and Services) of other sessions of this store that no supervisor
 * follows and that are past their idle-timeout (see orphan). Best effort: errors are noted. */
static void reap_orphans(struct ksup *k)
{
	json_t *list = NULL;
	char *sel = xasprintf(L_COMPONENT "=" COMPONENT "," L_STORE "=%s", store_id);
	struct kube_sync sy = {0};
	struct kube_list_opts o = {.label_selector = sel};
	struct spok_err e = {0};
	size_t i;
	json_t *p;

	if (wait_call(k->kc, kube_list(k->kc, &PODS, k->ns, &o, kube_sync_cb, &sy, &e), &sy, &list, &e) != 0)
		note(k, "looking for orphaned server pods: %s", e.msg);
	json_array_foreach(json_object_get(list, "items"), i, p) {
		const char *pn = pod_name_of(p);
		const char *sn = json_string_value(json_object_get(json_object_get(json_object_get(p, "metadata"), "labels"), L_SESSION));
		struct spok_session row;
		bool has_row = false;
		if (!pn || !sn || !spok_connect_name_ok(sn) || strcmp(sn, k->x.name) == 0 ||
		    json_object_get(json_object_get(p, "metadata"), "deletionTimestamp"))
			continue;
		char *why = orphan(k, sn, p, &row, &has_row);
		if (why && k_delete(k->kc, &PODS, k->ns, pn, &e) == 0) {
			char *svc = service_name(sn);
			k_delete(k->kc, &SERVICES, k->ns, svc, NULL);
			note(k, "deleted orphaned server pod %s/%s of session %s (%s)", k->ns, pn, sn, why);
			if (has_row) { /* its row said the pod was left for adoption: no more */
				row.phase = SPOK_SESSION_STOPPED;
				set_str(&row.reason, xasprintf("its server pod %s was %s; session %s's supervisor deleted it",
							       pn, why, k->x.name));
				spok_store_session_update(k->st, &row, NULL);
			}
			free(svc);
		}
		free(why);
		if (has_row)
			spok_session_free(&row);
	}
	json_decref(list);
	free(sel);
}

/* ---- ending ---- */

static void record(struct ksup *k, enum spok_session_phase phase, char *reason)
{
	k->x.phase = phase;
	set_str(&k->x.reason, reason);
	if (spok_session_phase_terminal(phase))
		k->x.finished_ms = spok_now_ms();
	note(k, "%s%s%s", spok_session_phase_name(phase), k->x.reason ? ": " : "", k->x.reason ? k->x.reason : "");
	/* A newer start owns the row when this fails with a conflict: nothing to record. */
	for (int i = 0; i < 30; i++) {
		int r = spok_store_session_update(k->st, &k->x, NULL);
		if (r == 0 || r == SPOK_ECONFLICT || !spok_session_phase_terminal(phase))
			break;
		sleep_ms(500);
	}
}

/* Deletes pod and Service and waits (bounded) until the pod is gone; its executors follow
 * (the driver deletes them as it stops, the garbage collector through their owner). */
static void stop_server(struct ksup *k, const char *why, bool failed)
{
	struct spok_err e = {0};

	record(k, SPOK_SESSION_STOPPING, xstrdup(why));
	if (k->pod && k_delete(k->kc, &PODS, k->ns, k->pod, &e) != 0)
		note(k, "deleting pod %s: %s", k->pod, e.msg);
	if (k_delete(k->kc, &SERVICES, k->ns, k->svc, &e) != 0)
		note(k, "deleting service %s: %s", k->svc, e.msg);
	if (k->pod) { /* its owner reference would take it too, once the pod is gone */
		char *secret = secret_name(k->pod);
		if (k_delete(k->kc, &SECRETS, k->ns, secret, &e) != 0)
			note(k, "deleting secret %s: %s", secret, e.msg);
		free(secret);
	}
	for (uint64_t w = 0; k->pod && w < STOP_WAIT_MS; w += TICK_MS) {
		json_t *p = NULL;
		int r = k_get(k->kc, &PODS, k->ns, k->pod, &p, NULL);
		json_decref(p);
		if (r == SPOK_ENOTFOUND)
			break;
		sleep_ms(TICK_MS);
	}
	/* before the row ends: a start that follows at once binds its own socket, which this
	 * generation's end must not unlink */
	spok_local_resident_end(&k->resident, !k->replaced);
	if (failed)
		record(k, SPOK_SESSION_FAILED, xasprintf("%s; see %s", why, k->x.log_path));
	else
		record(k, SPOK_SESSION_STOPPED, xstrdup(why));
}

/* Tasks seen on the server's UI since the last look (interactive statements). */
static bool ui_activity(struct ksup *k)
{
	int64_t total = 0, active = 0;

	if (!k->x.host || !spok_connect_ui_tasks(k->x.host, k->x.ui_port, &k->app_id, &total, &active))
		return false;
	bool busy = active > 0 || (k->tasks_seen >= 0 && total != k->tasks_seen);
	k->tasks_seen = total;
	return busy;
}

/* Idle for the pool's idle-timeout, or past its max-lifetime: the reason to stop, or NULL. */
static char *why_stop(struct ksup *k, const struct spok_session *now)
{
	size_t clients = 0;
	int64_t t = spok_now_ms();

	if (spok_store_session_clients(k->st, k->x.name, &clients, NULL) != 0 || clients > 0)
		return NULL;
	int64_t last = now->last_used_ms > k->x.started_ms ? now->last_used_ms : k->x.started_ms;
	uv_update_time(&k->loop);
	uint64_t tick = uv_now(&k->loop);
	if (tick >= k->look_at) {
		k->look_at = tick + ACTIVITY_EVERY_MS;
		if (ui_activity(k)) {
			spok_store_session_touch(k->st, k->x.name, t, NULL);
			last = t;
		}
	}
	char *why = spok_connect_why_idle(k->pool, t, last, k->x.started_ms);
	bool stopped = false;
	/* atomic with a starting run's claim (spok_store_session_stop_idle): a run that claimed
	 * the session meanwhile keeps it */
	if (why && (spok_store_session_stop_idle(k->st, &k->x, now->last_used_ms > last ? now->last_used_ms : last,
						 why, &stopped, NULL) != 0 || !stopped)) {
		free(why);
		why = NULL;
	}
	return why;
}

/* One look at the pod: RUNNING once it is ready, FAILED when it ended or vanished. false
 * when the supervisor is done. */
static bool watch_pod(struct ksup *k, uint64_t start_deadline)
{
	json_t *pod = NULL;
	struct spok_err e = {0};
	int r = k_get(k->kc, &PODS, k->ns, k->pod, &pod, &e);

	if (r == SPOK_ENOTFOUND) {
		record(k, SPOK_SESSION_FAILED, xasprintf("server pod %s/%s was deleted by someone else", k->ns, k->pod));
		k_delete(k->kc, &SERVICES, k->ns, k->svc, NULL);
		return false;
	}
	if (r != 0) { /* the API server is away: the kube client retried already; look again */
		note(k, "reading pod %s: %s", k->pod, e.msg);
		return true;
	}
	enum pod_state s = pod_state(pod);
	bool go_on = true;
	if (json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp")) {
		/* spok deletes its pods only in stop_server, which does not come back here */
		record(k, SPOK_SESSION_FAILED, xasprintf("server pod %s/%s was deleted by someone else", k->ns, k->pod));
		k_delete(k->kc, &SERVICES, k->ns, k->svc, NULL);
		go_on = false;
	} else if (s == POD_ENDED) {
		char *why = pod_end(pod);
		/* the ended pod is kept for its log; the next start deletes it */
		record(k, SPOK_SESSION_FAILED, xasprintf("server pod %s/%s ended (%s); see its log: kubectl logs -n %s %s",
							 k->ns, k->pod, why, k->ns, k->pod));
		free(why);
		go_on = false;
	} else if (s == POD_READY && k->x.phase == SPOK_SESSION_STARTING) {
		set_str(&k->x.host, xstrdup(pod_ip(pod)));
		k->x.started_ms = spok_now_ms();
		int64_t created = 0;
		/* an adopted server's max-lifetime counts from its pod's creation */
		const char *ct = jstr(pod, "metadata.creationTimestamp");
		if (ct && spok_parse_rfc3339(ct, &created) && created > 0 &&
		    created * 1000 < k->x.started_ms)
			k->x.started_ms = created * 1000;
		record(k, SPOK_SESSION_RUNNING, NULL);
		spok_store_session_touch(k->st, k->x.name, spok_now_ms(), NULL);
		ui_activity(k); /* the task count to compare with from now on */
	} else if (k->x.phase == SPOK_SESSION_STARTING && uv_now(&k->loop) >= start_deadline) {
		char *d = spok_format_duration_ms(SPOK_CONNECT_START_MS);
		char *why = xasprintf("the Spark Connect server pod %s/%s was not ready within %s", k->ns, k->pod, d);
		stop_server(k, why, true);
		free(why);
		free(d);
		go_on = false;
	}
	json_decref(pod);
	return go_on;
}

static int run(struct ksup *k)
{
	uint64_t start_deadline = uv_now(&k->loop) + SPOK_CONNECT_START_MS;
	uint64_t reap_at = uv_now(&k->loop);

	for (;;) {
		struct spok_session now;
		char *why = NULL;

		spok_local_resident_tick(&k->resident);
		uv_update_time(&k->loop);
		if (uv_now(&k->loop) >= reap_at) {
			reap_orphans(k);
			uv_update_time(&k->loop);
			reap_at = uv_now(&k->loop) + REAP_EVERY_MS;
		}
		if (got_signal) {
			why = xasprintf("its supervisor received %s", strsignal(got_signal));
			stop_server(k, why, false);
			free(why);
			return 0;
		}
		if (spok_store_session_get(k->st, k->x.name, &now, NULL) == 0) {
			if (now.generation != k->x.generation) {
				/* a newer start owns the name (this one was settled as dead): it adopts
				 * the pod, which stays */
				note(k, "generation %lld took over; leaving pod %s", (long long)now.generation, k->pod);
				k->replaced = true;
				spok_session_free(&now);
				return 0;
			}
			if (now.stop_requested)
				why = xstrdup("stopped by spok session stop");
			else if (k->x.phase == SPOK_SESSION_RUNNING)
				why = why_stop(k, &now);
			spok_session_free(&now);
		}
		if (why) {
			stop_server(k, why, false);
			free(why);
			return 0;
		}
		if (!watch_pod(k, start_deadline))
			return 0;
		sleep_ms(TICK_MS);
	}
}

/* The warm runs' clients run on this machine for a Kubernetes pool too: the same resident
 * client as a local session's (without a server marker: it ends with this supervisor). */
static void resident_begin(struct ksup *k, const char *data_dir)
{
	struct spok_spark_env env;

	if (spok_spark_env_find(&env, NULL) != 0)
		return; /* the runs exec python as before */
	char *dir = spok_session_dir(data_dir, k->x.name);
	spok_local_resident_init(&k->resident, dir, env.python, NULL);
	spok_local_resident_tick(&k->resident);
	free(dir);
	spok_spark_env_free(&env);
}

static int prepare(struct ksup *k, const char *data_dir, const char *name, int64_t gen,
		   struct spok_err *err)
{
	int r = spok_connect_claim(data_dir, name, gen, &k->st, &k->x, err);

	if (r != 0)
		return r;
	set_store_id(data_dir);
	set_str(&k->x.backend, xstrdup("kubernetes"));
	k->x.port = SPOK_CONNECT_GRPC_PORT;
	k->x.ui_port = SPOK_CONNECT_UI_PORT;
	k->svc = service_name(name);
	if (k->x.log_path)
		k->log = fopen(k->x.log_path, "ae");
	/* the supervisor's identity is the row's from here: a reader sees a live one */
	return spok_store_session_update(k->st, &k->x, err);
}

char *spok_connect_kube_service_name(const char *data_dir, const char *name)
{
	set_store_id(data_dir);
	return service_name(name);
}

/* An object name from an API answer that may go into a request path (a Secret's name is
 * a DNS subdomain, longer than a label). */
static bool name_ok(const char *n)
{
	size_t len = n ? strlen(n) : 0;

	return len > 0 && len <= 253 && strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789.-") == len &&
	       n[0] != '.' && n[0] != '-';
}

/* Deletes the items of list (kind g) that are this store's; counts them into *n. */
static int delete_ours(struct kube_client *kc, const struct kube_gvr *g, const char *ns,
		       const json_t *list, size_t *n, struct spok_err *err)
{
	size_t i;
	json_t *p;
	int r = 0;

	json_array_foreach(json_object_get(list, "items"), i, p) {
		const char *name = jstr(p, "metadata.name");
		if (r == 0 && name_ok(name) && ours(p) &&
		    (r = k_delete(kc, g, ns, name, err)) == 0)
			(*n)++;
	}
	return r;
}

/* A generation begun to stop (spok_connect_cleanup_begin): its earlier supervisor died and
 * left the server pod, or the pod ended and was kept for its log; delete every server pod of
 * the session and its Service, and record STOPPED (FAILED when the API refused). */
static int clean_up(struct ksup *k, struct spok_err *err)
{
	json_t *list = NULL;
	size_t n = 0, i;
	json_t *p;

	record(k, SPOK_SESSION_STOPPING, xstrdup("stopped by spok session stop; deleting what is left of its server"));
	int r = k_list_servers(k->kc, k->ns, k->x.name, &list, err);
	json_array_foreach(json_object_get(list, "items"), i, p) {
		const char *pn = ours(p) ? pod_name_of(p) : NULL;
		if (r == 0 && pn && (r = k_delete(k->kc, &PODS, k->ns, pn, err)) == 0) {
			note(k, "deleted pod %s/%s", k->ns, pn);
			n++;
		}
	}
	json_decref(list);
	list = NULL;
	/* their token Secrets (the garbage collector takes them with the pods anyway) */
	if (r == 0)
		r = k_list_component(k->kc, &SECRETS, k->ns, k->x.name, TOKEN_COMPONENT, &list, err);
	size_t secrets = 0;
	if (r == 0)
		r = delete_ours(k->kc, &SECRETS, k->ns, list, &secrets, err);
	json_decref(list);
	if (r == 0)
		r = k_delete(k->kc, &SERVICES, k->ns, k->svc, err);
	if (r == 0)
		record(k, SPOK_SESSION_STOPPED, xasprintf("stopped by spok session stop (deleted %zu server pod%s and service %s its earlier supervisor left)",
							  n, n == 1 ? "" : "s", k->svc));
	else
		record(k, SPOK_SESSION_FAILED, xasprintf("stopped by spok session stop, but deleting its server failed: %s; delete pods labelled " L_SESSION "=%s in namespace %s by hand",
							 err->msg, k->x.name, k->ns));
	return r;
}

int spok_connect_kube_supervise(const char *data_dir, const char *name, int64_t gen,
				const struct spok_pool *pool, struct spok_err *err)
{
	struct ksup k;
	struct sigaction sa;

	memset(&k, 0, sizeof(k));
	k.pool = pool;
	k.ns = pool->kube.namespace_;
	k.tasks_seen = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: a sleep ends at once */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	uv_loop_init(&k.loop);
	int r = prepare(&k, data_dir, name, gen, err);
	if (r == 0)
		r = open_client(&k.loop, pool, &k.kc, err);
	if (r == 0 && k.x.stop_requested) {
		r = clean_up(&k, err);
		goto done;
	}
	if (r == 0)
		r = adopt_or_create(&k, err);
	if (r == 0) /* before the row can say RUNNING: `spok session url` reads it then */
		r = spok_token_write(&k.x, k.token, err);
	if (r != 0 && k.st && k.x.name && k.x.generation == gen)
		record(&k, SPOK_SESSION_FAILED, xasprintf("pool %s (namespace %s): %s", pool->name, k.ns, err->msg));
	if (r == 0) {
		resident_begin(&k, data_dir);
		r = run(&k);
	}
done:
	spok_local_resident_end(&k.resident, !k.replaced);
	kube_client_close(k.kc);
	uv_run(&k.loop, UV_RUN_DEFAULT);
	uv_loop_close(&k.loop);
	/* its server is gone (a newer generation that took the pod over keeps the file) */
	if (k.x.name && k.x.generation == gen && spok_session_phase_terminal(k.x.phase))
		spok_token_remove(&k.x);
	explicit_bzero(k.token, sizeof(k.token));
	if (k.log)
		fclose(k.log);
	free(k.pod);
	free(k.svc);
	free(k.app_id);
	spok_session_free(&k.x);
	spok_store_close(k.st);
	return r;
}

/* ---- cleanup of what a dead supervisor left ---- */

int spok_connect_kube_delete(const char *data_dir, const struct spok_pool *pool, const char *name,
			     size_t *deleted, struct spok_err *err)
{
	uv_loop_t loop;
	struct kube_client *kc = NULL;
	const char *ns = pool->kube.namespace_;
	json_t *pods = NULL, *secrets = NULL, *services = NULL;
	size_t n = 0;

	set_store_id(data_dir);
	uv_loop_init(&loop);
	int r = open_client(&loop, pool, &kc, err);
	if (r == 0)
		r = k_list_servers(kc, ns, name, &pods, err);
	if (r == 0)
		r = delete_ours(kc, &PODS, ns, pods, &n, err);
	if (r == 0)
		r = k_list_component(kc, &SECRETS, ns, name, TOKEN_COMPONENT, &secrets, err);
	if (r == 0)
		r = delete_ours(kc, &SECRETS, ns, secrets, &n, err);
	/* by label, not by name: one an older spok named without the store id goes too */
	if (r == 0)
		r = k_list_component(kc, &SERVICES, ns, name, COMPONENT, &services, err);
	if (r == 0)
		r = delete_ours(kc, &SERVICES, ns, services, &n, err);
	json_decref(pods);
	json_decref(secrets);
	json_decref(services);
	kube_client_close(kc);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	if (deleted)
		*deleted = n;
	return r;
}
