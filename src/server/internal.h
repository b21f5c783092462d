/* internal.h - pieces of src/server shared between its files and its tests.
 *
 * Ownership: struct srv_config owns everything in it (srv_config_free). Lookups return
 * borrowed pointers into it. Nothing here keeps pointers to its inputs.
 */
#ifndef SPOK_SERVER_INTERNAL_H
#define SPOK_SERVER_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/strmap.h"
#include "common/strv.h"
#include "model/model.h"

#define SRV_DEFAULT_LISTEN "127.0.0.1:8080"
#define SRV_DEFAULT_MAX_BODY ((size_t)1 << 20)
#define SRV_MAX_BODY_LIMIT ((size_t)64 << 20)
#define SRV_TOKENS_MAX_FILE ((size_t)1 << 20)
/* Connection limits (docs/SERVER.md, "Limits"); all can be set in spok.server. */
#define SRV_DEFAULT_MAX_CONNECTIONS 512u
#define SRV_DEFAULT_MAX_PER_IP 64u
#define SRV_DEFAULT_IDLE_TIMEOUT_S 30u     /* no bytes either way: closed */
#define SRV_DEFAULT_HEADER_TIMEOUT_S 10u   /* request line + headers must arrive within */
#define SRV_DEFAULT_BODY_TIMEOUT_S 60u     /* the whole body must arrive within (after headers) */
#define SRV_DEFAULT_SESSIONS_PER_PROJECT 4u /* warm sessions a project runs at once (one JVM each) */
#define SRV_HEALTH_MAX_CONNECTIONS 16u     /* the health listener's own budget */
#define SRV_HEALTH_MAX_PER_IP 8u
#define SRV_HEALTH_TIMEOUT_S 5u
#define SRV_TOKEN_LIST_MAX 1000            /* projects / namespaces per token */

struct srv_cluster_cfg {
	char *name;
	char *kubeconfig;      /* absolute or relative to the config file; NULL: $KUBECONFIG... */
	char *context;         /* NULL: current-context */
	bool in_cluster;
	struct spok_strmap labels;
	double qps;            /* 0: client default */
	int burst;
	long exec_timeout_ms;  /* exec credential plugin timeout; 0: KUBE_EXEC_TIMEOUT_MS */
	bool direct;           /* submission: direct (spok creates the driver pod itself) */
};

#define SRV_RETENTION_MIN_MS (60ULL * 1000)                 /* spok.server.retention bounds */
#define SRV_RETENTION_MAX_MS (87600ULL * 3600 * 1000)       /* 10 years */
#define SRV_EXEC_TIMEOUT_MAX_S 300 /* exec-timeout: seconds, 1 .. this */

struct srv_route {
	char *project;         /* "*" matches any */
	char *domain;
	char *cluster;         /* a cluster name, or NULL */
	struct spok_strmap labels; /* cluster-labels: every pair must be on the cluster */
};

struct srv_token {
	char *name;
	uint8_t hash[32];      /* sha256 of the token; the token itself is never kept */
	struct spok_strv projects;
	bool all_projects;     /* projects: ["*"] */
	bool admin;            /* every project; may name any namespace but kube-* */
	struct spok_strv namespaces; /* namespaces it may name besides its projects' own */
};

struct srv_config {
	struct srv_cluster_cfg *clusters;
	size_t nclusters;
	struct srv_route *routes;
	size_t nroutes;
	char *listen_host;     /* numeric IPv4 address */
	uint16_t listen_port;  /* 0: any free port */
	char *tokens_file;
	size_t max_body;
	char *health_host;     /* the health listener (only /healthz), or NULL: none */
	uint16_t health_port;
	unsigned max_connections, max_per_ip;
	unsigned idle_timeout_s, header_timeout_s, body_timeout_s;
	bool local_runs;       /* spok.server.local-runs: host local executions (user code) */
	unsigned sessions_per_project; /* spok.server.sessions-per-project: live sessions cap */
	uint64_t retention_ms; /* spok.server.retention: finished executions older than this
	                        * are deleted on the loop (spok_store_gc); 0 = kept forever */
	struct srv_token *tokens;
	size_t ntokens;
};

/* Builds the server config from the platform's `spok:` sections. base_dir (may be NULL)
 * resolves relative paths. listen overrides server.listen; health_listen (may be NULL)
 * overrides server.health-listen. Without clusters, one cluster
 * "default" from `kubeconfig`/`context` (NULL: the kubectl defaults). Reads the tokens file.
 * On error out is left empty. */
int srv_config_build(const struct spok_platform *p, const char *base_dir, const char *listen,
		     const char *health_listen, const char *kubeconfig, const char *context,
		     struct srv_config *out, struct spok_err *err);
void srv_config_free(struct srv_config *c);
/* Parses a tokens file's text (YAML list); replaces c->tokens on success only. */
int srv_tokens_parse(struct srv_config *c, const char *text, size_t len, const char *path,
		     struct spok_err *err);
int srv_tokens_load(struct srv_config *c, struct spok_err *err);
/* "host:port" -> numeric IPv4 + port ("localhost" is 127.0.0.1). */
int srv_parse_listen(const char *s, char **host, uint16_t *port, struct spok_err *err);

/* The token for an Authorization header value ("Bearer <t>"), or NULL. Compares hashes in
 * constant time and checks every token so timing does not reveal which one matched. */
const struct srv_token *srv_auth(const struct srv_config *c, const char *authorization);
bool srv_token_allows(const struct srv_token *t, const char *project);
/* Whether t may create in namespace ns, given the namespace spok.namespace-template gives
 * the task's project/domain (own). ns must already be a valid DNS-1123 label. The reserved
 * kube-* namespaces need an explicit entry in the token's namespaces, admin or not. */
bool srv_token_allows_namespace(const struct srv_token *t, const char *ns, const char *own);

/* Routing. Per-cluster state indexed like c->clusters. Picks the first route matching
 * project/domain, then among its clusters the healthy one with fewest active executions
 * (if none is healthy, the one with fewest active: the submission waits there). */
struct srv_cluster_state {
	bool healthy;
	size_t active;
};
int srv_route_pick(const struct srv_config *c, const char *project, const char *domain,
		   const struct srv_cluster_state *st, size_t *idx, struct spok_err *err);
/* Index of the cluster named name, or -1. */
long srv_cluster_index(const struct srv_config *c, const char *name);

/* sessions.c: the API's view of warm sessions (model/session.h) and who may see them. */
struct spok_session;
/* Whether t may see, use and stop s: t allows s's project (a session without one, started
 * from the CLI: only all-projects tokens). */
bool srv_session_allowed(const struct srv_token *t, const struct spok_session *s);
/* camelCase allow-list of s: phase, idle time (idleMs, RUNNING only: now - last use), the
 * sc:// URL with user_id=user and the UI URL (RUNNING only); never pids or host paths. */
json_t *srv_session_view(const struct spok_session *s, const char *user, int64_t now_ms);
/* {"items": [...]}: the views of the sessions of v that t may see. */
json_t *srv_sessions_view(const struct srv_token *t, const struct spok_session *v, size_t n,
			  const char *user, int64_t now_ms);
/* Whether s may go into an sc:// URL as user_id (a token's name): 1-63 of [A-Za-z0-9._-]. */
bool srv_session_user_ok(const char *s);
/* How many sessions of project run or are on their way, name left out (the cap of
 * spok.server.sessions-per-project): rows of dead supervisors are settled first. */
struct spok_store;
int srv_sessions_live(struct spok_store *st, const char *project, const char *name, size_t *n,
		      struct spok_err *err);

/* sha256.c */
void srv_sha256(const void *data, size_t len, uint8_t out[32]);
void srv_hex(const uint8_t *in, size_t n, char *out); /* out: 2n + 1 bytes */
bool srv_unhex32(const char *s, uint8_t out[32]);
bool srv_ct_equal(const uint8_t *a, const uint8_t *b, size_t n);

/* dashboard.c: the page served at GET / (static, NUL-terminated). */
extern const char srv_dashboard_html[];

#endif
