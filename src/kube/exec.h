/* exec.h - kubeconfig exec credential plugins (users[].user.exec: aws eks get-token,
 * gke-gcloud-auth-plugin, kubelogin, ...).
 *
 * The plugin runs with an argv (uv_spawn, never through a shell), our environment plus
 * exec.env plus KUBERNETES_EXEC_INFO, stdin from /dev/null, stdout captured up to a hard
 * cap, stderr passed through. It runs asynchronously on the caller's libuv loop, in a
 * session (and so a process group) of its own: past timeout_ms, or past the output cap, the
 * whole group is killed and the run fails. Nothing waits for it on the loop thread, so a
 * plugin that hangs holds back only the requests that need its credential (client.c queues
 * them meanwhile).
 *
 * Ownership: struct kube_exec owns every pointer in it (kube_exec_free wipes env values,
 * which may be secrets); struct kube_exec_cred owns its token and blobs (kube_exec_cred_free
 * wipes them). Errors name the kubeconfig user entry and the plugin, never a token.
 */
#ifndef SPOK_KUBE_EXEC_H
#define SPOK_KUBE_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "common/strv.h"
#include "kube/kubeconfig.h"

#define KUBE_EXEC_V1 "client.authentication.k8s.io/v1"
#define KUBE_EXEC_V1BETA1 "client.authentication.k8s.io/v1beta1"
#define KUBE_EXEC_TIMEOUT_MS 30000L               /* then the plugin is killed */
#define KUBE_EXEC_MAX_OUTPUT ((size_t)1 << 20)    /* bytes of stdout */
#define KUBE_EXEC_EXPIRY_SLACK_S 10               /* refresh this long before expiry */

struct kube_exec {
	char *where;           /* "<source>: users[<name>].user.exec", prefix of every error */
	char *api_version;     /* KUBE_EXEC_V1 or KUBE_EXEC_V1BETA1 */
	char *command;         /* a bare name (looked up in PATH) or a path */
	struct spok_strv args; /* argv[1..] */
	struct spok_strv env;  /* "NAME=value" added to our environment (wiped on free) */
	char *install_hint;    /* shown when the command is not found; or NULL */
	bool provide_cluster_info;
	long timeout_ms;       /* 0: KUBE_EXEC_TIMEOUT_MS (the daemon's exec-timeout; tests lower it) */
	size_t max_output;     /* 0: KUBE_EXEC_MAX_OUTPUT */
};

struct kube_exec_cred {
	char *token;                  /* bearer token (secret), or NULL */
	struct kube_blob client_cert; /* PEM, set together with client_key */
	struct kube_blob client_key;  /* PEM (secret) */
	int64_t expiry;               /* seconds since the epoch; 0: no expiry given */
};

struct kube_exec_job;

/* The end of a run: code 0 with cred (the callback may take its contents, leaving it
 * zeroed; what it leaves is wiped after it returns), or a SPOK_E* code with a one-line msg
 * naming the kubeconfig user entry and the plugin (never a token). */
typedef void (*kube_exec_done_cb)(void *data, int code, struct kube_exec_cred *cred,
				  const char *msg);

/* Starts the plugin of cfg->exec for cfg's cluster (cfg is copied). cb fires exactly once,
 * from the loop (never from inside this call), even when the plugin cannot be started,
 * unless kube_exec_cancel comes first. The job frees itself once its handles are closed
 * (run the loop). */
struct kube_exec_job *kube_exec_start(uv_loop_t *loop, const struct kube_config *cfg,
				      kube_exec_done_cb cb, void *data);
/* Kills the plugin's process group; cb does not fire. Only before cb has fired. */
void kube_exec_cancel(struct kube_exec_job *job);

/* Synchronous run on a private loop (tests, one-shot tools). On error *out is zeroed. */
int kube_exec_run(const struct kube_config *cfg, struct kube_exec_cred *out, struct spok_err *err);

/* Parses an ExecCredential (the plugin's stdout, not NUL-terminated) that must carry
 * `api_version`; `where` prefixes errors. The parsed JSON is wiped before it is freed. */
int kube_exec_parse(const char *text, size_t len, const char *api_version, const char *where,
		    struct kube_exec_cred *out, struct spok_err *err);

/* True when cred must be fetched again at wall-clock time `now` (seconds). */
bool kube_exec_cred_expired(const struct kube_exec_cred *cred, int64_t now);

struct kube_exec *kube_exec_copy(const struct kube_exec *src);
void kube_exec_free(struct kube_exec *x); /* NULL is fine; frees x itself */
void kube_exec_cred_free(struct kube_exec_cred *cred); /* wipes, leaves it zeroed */

#endif
