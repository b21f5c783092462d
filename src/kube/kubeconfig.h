/* kubeconfig.h - where the Kubernetes API is and how to authenticate to it.
 *
 * Sources: a kubeconfig file (YAML or JSON), the $KUBECONFIG list of files (merged the
 * kubectl way: the first definition of a named cluster/user/context wins, and
 * current-context comes from the first file that sets it), ~/.kube/config, or the
 * in-cluster service account (KUBERNETES_SERVICE_HOST/PORT plus the token, ca.crt and
 * namespace files).
 *
 * Ownership: struct kube_config owns every pointer in it; kube_config_free wipes secret
 * bytes (token, client key) with explicit_bzero before freeing and leaves the struct
 * zeroed. A zeroed struct is an empty config. Errors name the file and the field
 * (e.g. "kc.yaml: users[admin].client-key: ...") and never include secret values.
 *
 * Certificate and key material always lives in memory (kube_blob): file paths given in
 * the kubeconfig are read at load time, *-data fields are base64-decoded, and the client
 * hands the bytes to curl as blobs, never through temporary files.
 *
 * users[].user.exec (credential plugins such as `aws eks get-token`) is parsed into
 * cfg->exec; the client runs the plugin when it needs a credential (see exec.h). A relative
 * exec.command is resolved against the kubeconfig's directory only when it contains a '/'
 * (kubectl's rule); a bare name is looked up in PATH when the plugin runs.
 */
#ifndef SPOK_KUBE_KUBECONFIG_H
#define SPOK_KUBE_KUBECONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct spok_err;
struct kube_exec;

#define KUBE_CONFIG_MAX_FILE ((size_t)4 << 20)  /* bytes per kubeconfig file */
#define KUBE_TOKEN_MAX ((size_t)64 << 10)       /* bytes of a token file */
#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct kube_blob {
	unsigned char *data; /* owned; NULL when unset */
	size_t len;
};

struct kube_config {
	char *source;          /* where it came from, for messages: file path(s) or "in-cluster" */
	char *context;         /* the chosen context name (NULL in-cluster) */
	char *server;          /* "https://host:port", no trailing slash */
	char *namespace;       /* the context's namespace, or "default" */
	char *tls_server_name; /* NULL: verify against the server's host name */
	bool insecure;         /* insecure-skip-tls-verify: no peer or host verification */
	struct kube_blob ca;          /* PEM; empty: the system trust store */
	struct kube_blob client_cert; /* PEM; set together with client_key */
	struct kube_blob client_key;  /* PEM (secret) */
	char *token;           /* static bearer token (secret), or NULL */
	char *token_file;      /* bearer token re-read from this file (tokenFile, in-cluster) */
	struct kube_exec *exec; /* users[].user.exec credential plugin (exec.h), or NULL */
};

/* Loads the kubeconfig the kubectl way: `path` (only that file) if non-NULL, else the
 * files of $KUBECONFIG merged, else ~/.kube/config. `context` NULL means current-context.
 * On error cfg is left empty. */
int kube_config_load(struct kube_config *cfg, const char *path, const char *context,
		     struct spok_err *err);

/* Parses one kubeconfig text (YAML or JSON); `path` names it in errors and is the base of
 * relative file paths inside it. */
int kube_config_parse(struct kube_config *cfg, const char *text, size_t len, const char *path,
		      const char *context, struct spok_err *err);

/* Resolves an already-merged kubeconfig document (borrowed). Relative paths in it must
 * already be absolute or relative to the working directory. `source` names it in errors. */
int kube_config_from_json(struct kube_config *cfg, const json_t *doc, const char *source,
			  const char *context, struct spok_err *err);

/* In-cluster config from KUBERNETES_SERVICE_HOST/PORT and the service account files in
 * `sa_dir` (NULL: KUBE_SA_DIR). The token is kept as token_file so it is re-read. */
int kube_config_in_cluster(struct kube_config *cfg, const char *sa_dir, struct spok_err *err);

/* Reads a bearer token file: trailing whitespace stripped, must be non-empty. The caller
 * frees the result with kube_secret_free. */
int kube_read_token_file(const char *path, char **out, struct spok_err *err);

/* Wipes and frees a secret string (NULL is fine). */
void kube_secret_free(char *s);

void kube_config_free(struct kube_config *cfg);

#endif
