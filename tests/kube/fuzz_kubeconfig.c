/* fuzz_kubeconfig - bytes -> kubeconfig parse + resolve (current-context, then "tok").
 * Besides no crash and no leak, it checks properties of what is accepted:
 *  - the result is usable: an http(s) server without a trailing slash, a context name, a
 *    namespace, a client certificate only together with its key;
 *  - naming the chosen context explicitly resolves to the same config as leaving it to
 *    current-context (and as the first resolution, for "tok"). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "kube/exec.h"
#include "kube/kubeconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool same_blob(const struct kube_blob *a, const struct kube_blob *b)
{
	return a->len == b->len && (a->data == NULL) == (b->data == NULL) &&
	       (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static bool same_strv(const struct spok_strv *a, const struct spok_strv *b)
{
	if (a->len != b->len)
		return false;
	for (size_t i = 0; i < a->len; i++)
		if (strcmp(a->items[i], b->items[i]) != 0)
			return false;
	return true;
}

static bool same_exec(const struct kube_exec *a, const struct kube_exec *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return same_str(a->api_version, b->api_version) && same_str(a->command, b->command) &&
	       same_strv(&a->args, &b->args) && same_strv(&a->env, &b->env) &&
	       a->provide_cluster_info == b->provide_cluster_info;
}

static bool same_config(const struct kube_config *a, const struct kube_config *b)
{
	return same_str(a->context, b->context) && same_str(a->server, b->server) &&
	       same_str(a->namespace, b->namespace) &&
	       same_str(a->tls_server_name, b->tls_server_name) && a->insecure == b->insecure &&
	       same_blob(&a->ca, &b->ca) && same_blob(&a->client_cert, &b->client_cert) &&
	       same_blob(&a->client_key, &b->client_key) && same_str(a->token, b->token) &&
	       same_str(a->token_file, b->token_file) && same_exec(a->exec, b->exec);
}

static void check_usable(const struct kube_config *c)
{
	size_t n;

	if (c->server == NULL || c->context == NULL || c->namespace == NULL ||
	    c->namespace[0] == '\0')
		abort();
	if (strncmp(c->server, "https://", 8) != 0 && strncmp(c->server, "http://", 7) != 0)
		abort();
	n = strlen(c->server);
	if (c->server[n - 1] == '/')
		abort();
	if ((c->client_cert.data == NULL) != (c->client_key.data == NULL))
		abort();
}

static void check(const uint8_t *data, size_t size, const char *context)
{
	struct kube_config cfg, again;
	struct spok_err err;

	if (kube_config_parse(&cfg, (const char *)data, size, "fuzz.yaml", context, &err) != 0)
		return;
	check_usable(&cfg);
	if (kube_config_parse(&again, (const char *)data, size, "fuzz.yaml", cfg.context, &err) != 0)
		abort();
	if (!same_config(&cfg, &again))
		abort();
	kube_config_free(&again);
	kube_config_free(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size, NULL);
	check(data, size, "tok");
	return 0;
}
