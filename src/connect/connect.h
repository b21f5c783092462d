/* connect.h - warm Spark Connect sessions on this machine (`spok session`, `spok run --warm`).
 *
 * A session is one Spark Connect server (spark-submit --class ...SparkConnectServer of the
 * same pinned Spark as local runs: Spark 4's jars hold the server) in
 * its own process group, bound for clients to a free port and recorded in the store's
 * `sessions` table (model/session.h). A supervising spok process (forked by the start, in
 * its own session) spawns the server, marks it RUNNING once its port answers, stops it when
 * asked (`spok session stop`), when it has been idle for the pool's idle-timeout (no warm run
 * in progress and no use recorded) or when it reached the pool's max-lifetime with no warm
 * run in progress, and records how it ended: STOPPED (on purpose) or FAILED (it exited on
 * its own). Whoever reads a session whose supervisor is gone (pid + start time,
 * spok_proc_alive) settles it: ends what is left of the server's process group and records
 * FAILED, so no row stays RUNNING without a server. The next use of a session that is not
 * running starts a new server (spok_connect_ensure): a dead server is restarted on next use.
 *
 * Authentication (Spark 4's pre-shared bearer token): every server gets a random token of its
 * own (local/token.h: generated, kept and removed by the session's supervisor), passed to the
 * server in its environment (SPARK_CONNECT_AUTHENTICATE_TOKEN; never argv, never the
 * properties file); Spark's interceptor refuses a call without "authorization: Bearer
 * <token>" with gRPC UNAUTHENTICATED ("No authentication token provided" / "Invalid
 * authentication token"). A local server listens on 127.0.0.1 only
 * (spark.connect.grpc.binding.address) and its URLs name "localhost": pyspark 4 sends a token
 * without TLS only to that host name (local channel credentials), to any other host it
 * insists on TLS. A Kubernetes server has no TLS either: its URL carries the token as a plain
 * gRPC metadata parameter (;authorization=Bearer%20<token>), which pyspark sends on every call
 * over a plaintext channel (docs/SECURITY.md).
 *
 * Ownership: pools are owned by struct spok_pools (spok_pools_free); everything passed in is
 * borrowed for the call; struct spok_session out-params are the caller's (spok_session_free).
 */
#ifndef SPOK_CONNECT_CONNECT_H
#define SPOK_CONNECT_CONNECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/err.h"
#include "common/strmap.h"
#include "model/model.h"
#include "model/session.h"
#include "store/store.h"

struct spok_spark_env; /* local/local.h */

#define SPOK_POOL_DEFAULT "default"
#define SPOK_POOL_IDLE_MS ((uint64_t)15 * 60 * 1000)          /* idle-timeout default */
#define SPOK_POOL_LIFETIME_MS ((uint64_t)8 * 3600 * 1000)     /* max-lifetime default */
#define SPOK_CONNECT_START_MS ((uint64_t)180 * 1000)          /* a server must answer by then */
#define SPOK_CONNECT_GRACE_MS ((uint64_t)10 * 1000)           /* stop: TERM -> KILL */
#define SPOK_CONNECT_SERVER_CLASS "org.apache.spark.sql.connect.service.SparkConnectServer"

/* A Kubernetes pool's placement (spok.pools[].kubernetes): its sessions' servers are Pods +
 * Services spok creates in namespace (see kube.c). */
struct spok_pool_kube {
	char *namespace_;          /* NULL: a local pool */
	char *context;             /* kubeconfig context; NULL: the current one */
	char *image;               /* the Spark image (the pool's image, else spok.default-image) */
	char *service_account;     /* the server's ServiceAccount; NULL: SPOK_POOL_KUBE_SA */
};

#define SPOK_POOL_KUBE_SA "spark"                   /* deploy/cluster-resources provisions it */
#define SPOK_CONNECT_GRPC_PORT 15002                 /* Spark Connect's default port */
#define SPOK_CONNECT_UI_PORT 4040
#define SPOK_CONNECT_KUBE_NAME_MAX 40                /* a Kubernetes pool's session name */

/* A pool (spok.pools[] in the config, docs/CONFIG.md): how its sessions' servers run. */
struct spok_pool {
	char *name;
	struct spok_strmap conf;   /* spark-conf: Spark conf of the server (resources, SQL defaults) */
	char *master;              /* master: local[N] (local[*] when unset) */
	uint64_t idle_ms;          /* idle-timeout */
	uint64_t lifetime_ms;      /* max-lifetime */
	long min_executors;        /* min-executors / max-executors: Kubernetes pools' dynamic */
	long max_executors;        /* allocation; a local server has no executors (-1: unset) */
	struct spok_pool_kube kube; /* kube.namespace_ set: a Kubernetes pool */
};

struct spok_pools {
	struct spok_pool *v;
	size_t n;
};

/* Reads and checks p->spok.pools (errors name file:line:col and the field). A config without
 * pools has none; spok_pools_find still answers "default" with the defaults above. */
int spok_pools_load(const struct spok_platform *p, struct spok_pools *out, struct spok_err *err);
/* The pool called name (NULL: "default"), or NULL when the config declares none of that name
 * (the built-in "default" pool is always found). */
const struct spok_pool *spok_pools_find(const struct spok_pools *ps, const char *name);
void spok_pools_free(struct spok_pools *ps);

/* A rule of spok.warm-rules (docs/CONFIG.md): `spok run JOB` without --warm runs the job warm
 * on pool's session when the task's name matches name (an fnmatch glob; NULL: any) and it
 * carries every label of labels. The first matching rule wins. */
struct spok_warm_rule {
	char *name;
	struct spok_strmap labels;
	char *pool;                /* declared in spok.pools, or "default" */
};

struct spok_warm_rules {
	struct spok_warm_rule *v;
	size_t n;
};

/* Reads and checks p->spok.warm-rules against pools (errors name file:line:col and the
 * field; a rule needs name or labels, and its pool must exist). */
int spok_warm_rules_load(const struct spok_platform *p, const struct spok_pools *pools,
			 struct spok_warm_rules *out, struct spok_err *err);
/* The first rule matching task t, or NULL; *index (may be NULL) gets its position. */
const struct spok_warm_rule *spok_warm_rules_match(const struct spok_warm_rules *rs,
						   const struct spok_task *t, size_t *index);
void spok_warm_rules_free(struct spok_warm_rules *rs);

/* A task's own switch, in its sparkConf (a flytekit task's Spark(spark_conf=...)): spok.warm:
 * POOL runs it warm on POOL ("true": "default"), spok.cold: "true" runs it as a transient run
 * even when a rule of spok.warm-rules matches ("false": no switch). Neither key reaches Spark
 * (spok_sparkapp_spok_key). `spok run` and `spok serve` read it here. */
enum spok_warm_switch { SPOK_WARM_UNSET, SPOK_WARM_ON, SPOK_WARM_OFF };
/* *out the task's switch, *pool (SPOK_WARM_ON only; borrowed from t or static) the pool it
 * names. A value that is neither: SPOK_EINVAL naming the task file and key. */
int spok_warm_by_task(const struct spok_task *t, enum spok_warm_switch *out, const char **pool,
		      struct spok_err *err);

/* A pool or session name: 1-63 of [a-z0-9_-], starting with a letter or digit (it names a
 * directory under the data dir). */
bool spok_connect_name_ok(const char *s);

/* A Kubernetes pool's session name must also be a DNS label of at most
 * SPOK_CONNECT_KUBE_NAME_MAX bytes (it names the server's Pod and Service); NULL when it is,
 * else what is wrong (a literal). */
const char *spok_connect_kube_name_problem(const char *name);

/* The user this process runs as (user_id of its sessions). Heap. */
char *spok_connect_user(void);
/* What `spok session url` prints (heap): a local session's "sc://localhost:<port>/;token=
 * <token>;user_id=<user>", a Kubernetes one's "sc://<pod IP>:<port>/;user_id=<user>;
 * authorization=Bearer%20<token>". token NULL: the same without it (what may be shown). */
char *spok_connect_url(const struct spok_session *s, const char *user, const char *token);
/* What a client process of spok (a warm run, its interrupt) gets: *remote for SPARK_REMOTE
 * and *env_token (NULL: none) for SPARK_CONNECT_AUTHENTICATE_TOKEN, so that a local URL never
 * holds the token (a Kubernetes one must: see above). Both heap; *env_token is a secret
 * (spok_token_free), and so is a Kubernetes *remote. */
void spok_connect_client(const struct spok_session *s, const char *user, const char *token,
			 char **remote, char **env_token);
/* The token of session s's server (local/token.h's file), for the URLs above. Heap
 * (spok_token_free). Errors say what to do (a server started before tokens existed must be
 * restarted). */
int spok_connect_token(const struct spok_session *s, char **out, struct spok_err *err);
/* "http://<host>:<ui_port>" (heap), or NULL when the UI port is not known. */
char *spok_connect_ui_url(const struct spok_session *s);
/* Points a warm run's client at running session s (before each warm attempt): reads the
 * server's token (spok_connect_token's errors; nothing changes then), replaces the caller's
 * *remote, *env_token (secrets) and *ui with s's (spok_connect_client, spok_connect_ui_url;
 * the old ones freed) and sets w's remote, token, ui_url (borrowing them), server and
 * generation. */
struct spok_local_warm;
int spok_connect_warm_client(const struct spok_session *s, const char *user, struct spok_local_warm *w,
			     char **remote, char **env_token, char **ui, struct spok_err *err);
/* SPOK_ENOTFOUND naming the setup step when env's Spark has no Connect server (its jars lack
 * spark-connect_*.jar: a Spark before 4); 0 when it has, or when env names no SPARK_HOME. */
int spok_connect_server_check(const struct spok_spark_env *env, struct spok_err *err);

/* What every command that starts a session says about its access (stderr), after its own
 * words. */
#define SPOK_CONNECT_AUTH_NOTE \
	"clients need its URL's token; the server listens on 127.0.0.1 only"
/* The same for a Kubernetes pool's session, whose server listens on the pod network. */
#define SPOK_CONNECT_AUTH_NOTE_KUBE \
	"clients need its URL's token, which crosses the pod network in the clear (docs/SECURITY.md)"
#define SPOK_CONNECT_AUTH_NOTE_FOR(pl) ((pl)->kube.namespace_ ? SPOK_CONNECT_AUTH_NOTE_KUBE : SPOK_CONNECT_AUTH_NOTE)

/* Makes session name run and returns its RUNNING row in *out: a running session is used as
 * it is (its pool must be pool's: else SPOK_ECONFLICT); one that never ran, was stopped,
 * failed or whose supervisor died is started: its supervisor is this spok binary run as
 * `spok session _supervise NAME --generation G --pool P --data-dir D [--config C]` in a
 * session of its own (config_path: the config the pool came from, NULL for the default
 * lookup); this call waits until the server answers, at most SPOK_CONNECT_START_MS.
 * *started (may be NULL) tells whether this call started it. Errors: the server failed to
 * start (its reason and log). Blocks (sleeps while it polls the row): for the CLI, not for a
 * daemon's loop. */
int spok_connect_ensure(struct spok_store *st, const char *data_dir, const char *config_path,
			const char *name, const struct spok_pool *pool, struct spok_session *out,
			bool *started, struct spok_err *err);
/* Asks the supervisor of session name to stop its server and waits (up to the grace and a
 * few seconds) until the row is STOPPED; a session without a live supervisor is settled
 * here. *out (may be NULL) gets the final row. */
int spok_connect_stop(struct spok_store *st, const char *name, struct spok_session *out,
		      struct spok_err *err);
/* A reader's fix-up: when x is not terminal and its supervisor is gone, ends what is left of
 * its server (pid + start time must match; TERM, KILL after 3 s) and records FAILED with
 * "supervisor (pid N) died; ...". *x is replaced by the settled row. 1 settled, 0 nothing to
 * do, or an error. */
int spok_connect_settle(struct spok_store *st, struct spok_session *x, struct spok_err *err);

/* spok_connect_settle without waiting: the server's group is KILLed, not given a grace
 * (spok serve's loop must not sleep). */
int spok_connect_settle_nowait(struct spok_store *st, struct spok_session *x, struct spok_err *err);

/* spok_connect_ensure without waiting (spok serve's loop): a session that is not terminal is
 * returned as it is (RUNNING, or STARTING/STOPPING on its way), one that never ran or ended
 * gets a supervisor started for it (*started; *out is then STARTING) and recorded for
 * project (may be NULL). A session of another project (or of none, when project is set) or
 * another pool: SPOK_ECONFLICT. */
int spok_connect_begin(struct spok_store *st, const char *data_dir, const char *config_path,
		       const char *name, const struct spok_pool *pool, const char *project,
		       struct spok_session *out, bool *started, struct spok_err *err);
/* One step of spok_connect_ensure without waiting (ready.c; spok serve's warm runs ask again
 * on their loop's timer while it is pending). 0: the session runs, *out is its RUNNING row
 * (the caller's). SPOK_CONNECT_PENDING (*out empty): it is on its way; a session that never
 * ran or ended got a supervisor started here (spok_connect_begin, for project; *started),
 * one that is STARTING or STOPPING, or RUNNING while its server is already gone, is waited
 * for. *began (0 before the first step) is the generation this caller started: a row that
 * ended in it is an error naming the server's reason (so a failed start is not retried
 * here). Errors: another project's or another pool's session (SPOK_ECONFLICT), the store,
 * a supervisor that cannot be run. */
#define SPOK_CONNECT_PENDING 1
int spok_connect_ensure_step(struct spok_store *st, const char *data_dir, const char *config_path,
			     const char *name, const struct spok_pool *pool, const char *project,
			     int64_t *began, struct spok_session *out, bool *started,
			     struct spok_err *err);
/* Asks session name's supervisor to stop its server and returns at once with the row in
 * *out (the caller's; stop_requested set, or already terminal). A dead supervisor's row is
 * settled first (nowait). SPOK_ENOTFOUND when there is no such session. */
int spok_connect_request_stop(struct spok_store *st, const char *name, struct spok_session *out,
			      struct spok_err *err);

/* Whether a RUNNING row's server is there: a local server's process (pid + start time), or
 * (no local process) a Kubernetes server pod's live supervisor, which records the pod's end. */
bool spok_connect_server_up(const struct spok_session *x);
/* Whether session x belongs to another project than project (NULL on either side: the
 * CLI's, no project). */
bool spok_connect_project_clash(const struct spok_session *x, const char *project);
/* x runs (or starts) in another pool than pool: SPOK_ECONFLICT with a one-line reason (x is
 * the caller's, not freed); else 0. */
int spok_connect_pool_clash(const struct spok_session *x, const struct spok_pool *pool,
			    struct spok_err *err);
/* Whether terminal session x may have left server objects behind: a Kubernetes session that
 * FAILED (its supervisor died and left the pod for adoption, or the pod ended and is kept for
 * its log). */
bool spok_connect_leftovers(const struct spok_session *x);
/* A stop of such a session without waiting (spok serve's loop): starts a generation of x's
 * row whose supervisor only deletes the session's server pods and Service in pool's
 * namespace and records STOPPED (pool: x's, from the config); *x is replaced by the new
 * STARTING row with stop_requested. Nothing to do (not spok_connect_leftovers): 0, x as it
 * is. SPOK_ECONFLICT: another start won the row. */
int spok_connect_cleanup_begin(struct spok_store *st, const char *data_dir, const char *config_path,
			       const struct spok_pool *pool, struct spok_session *x,
			       struct spok_err *err);

/* The supervisor (`spok session _supervise`, started by spok_connect_ensure): takes over
 * generation gen of session name from the process that began it, spawns and watches the
 * server until it ends, and records that end. Returns when the server is gone. A Kubernetes
 * generation begun with its stop already requested (spok_connect_cleanup_begin) deletes what
 * is left of the session in the namespace and records STOPPED instead. */
int spok_connect_supervise(const char *data_dir, const char *name, int64_t gen,
			   const struct spok_pool *pool, struct spok_err *err);

/* Why a RUNNING session of pool should stop at now_ms: idle since last_used_ms for the
 * pool's idle-timeout, or started at started_ms longer ago than its max-lifetime (heap), or
 * NULL. The supervisors stop it only through spok_store_session_stop_idle, which re-checks,
 * in the transaction that writes STOPPING, that no run claimed the session meanwhile. */
char *spok_connect_why_idle(const struct spok_pool *pool, int64_t now_ms, int64_t last_used_ms,
			    int64_t started_ms);

/* A supervisor's start (local and Kubernetes): opens the store in data_dir (*st, the
 * caller's to close), reads session name into *x (the caller's) and, when the row is still
 * generation gen, makes this process its supervisor in *x (not yet written: the caller
 * writes the row once its own fields are set). SPOK_ECONFLICT when another start took it. */
int spok_connect_claim(const char *data_dir, const char *name, int64_t gen, struct spok_store **st,
		       struct spok_session *x, struct spok_err *err);

/* ---- Kubernetes pools (kube.c) ----
 * The server of a Kubernetes pool's session is a Pod (the Spark Connect server as a
 * client-mode driver against the in-cluster API, executors by dynamic allocation) and a
 * Service, both labelled spok.dev/session=NAME, created by the same supervisor process as a
 * local server (`spok session _supervise`); the row records backend "kubernetes", the pod's
 * IP as host and the ports. A supervisor that finds a live server pod of its session adopts
 * it instead of creating another; a supervisor that died leaves its pod for the next start
 * to adopt (settle records FAILED saying so). */

/* GET http://host:port<path> (host: an IPv4 address; HTTP/1.0, bounded to 1 s and 1 MiB): a
 * server's Spark UI REST API answer as JSON (new reference), or NULL. */
json_t *spok_connect_ui_get(const char *host, int port, const char *path);
/* The tasks a server has run on all its executors (*total) and runs now (*active), from its
 * Spark UI's REST API at host:port; *app_id (the caller's, heap) caches the application id
 * after the first answer. false when the UI did not answer. */
bool spok_connect_ui_tasks(const char *host, int port, char **app_id, int64_t *total,
			   int64_t *active);

/* The supervisor of a Kubernetes pool's session (spok_connect_supervise calls it). */
int spok_connect_kube_supervise(const char *data_dir, const char *name, int64_t gen,
				const struct spok_pool *pool, struct spok_err *err);
/* The name of the Service of session name of the store of data_dir (heap). */
char *spok_connect_kube_service_name(const char *data_dir, const char *name);
/* Deletes every server Pod, token Secret and Service of session name in pool's namespace
 * that belongs to the store of data_dir (what a dead supervisor left; another store's
 * session of the same name is left alone); *deleted (may be NULL) gets how many objects.
 * Blocks (its own loop). */
int spok_connect_kube_delete(const char *data_dir, const struct spok_pool *pool, const char *name,
			     size_t *deleted, struct spok_err *err);

/* A supervisor that could not begin (its config or pool cannot be loaded): records generation
 * gen of session name FAILED with why, if it is still that generation and not ended. */
void spok_connect_supervise_failed(const char *data_dir, const char *name, int64_t gen,
				   const char *why);

#endif
