/* config.c - spok.server.grpc: listen address, TLS or explicit insecure mode, caps. */
#include "connector/connector.h"
#include "connector/internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xalloc.h"

#define PEM_MAX ((size_t)1 << 20)

static int bad(struct spok_err *err, const struct spok_platform *p, const char *key,
	       const char *what)
{
	return spok_err_set(err, SPOK_EINVAL, "%s: spok.server.grpc.%s %s",
			    p->source_path ? p->source_path : "config", key, what);
}

static int read_pem(const struct spok_platform *p, const char *base, const char *key,
		    const char *file, char **out, struct spok_err *err)
{
	struct spok_buf b;
	char *path = file[0] == '/' || base == NULL ? xstrdup(file)
						    : xasprintf("%s/%s", base, file);
	int result;

	spok_buf_init(&b, PEM_MAX);
	result = spok_buf_read_file(&b, path, err);
	if (result == SPOK_OK && (b.len == 0 || memchr(b.data, '\0', b.len) != NULL))
		result = bad(err, p, key, "is not a PEM file");
	else if (result != SPOK_OK)
		spok_err_prefix(err, "spok.server.grpc.%s", key);
	if (result == SPOK_OK) {
		spok_buf_append(&b, "", 1);
		*out = spok_buf_detach(&b);
	}
	spok_buf_free(&b);
	free(path);
	return result;
}

static int get_str(const struct spok_platform *p, const json_t *g, const char *key,
		   const char **out, struct spok_err *err)
{
	const json_t *v = json_object_get(g, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return SPOK_OK;
	if (!json_is_string(v) || json_string_length(v) == 0)
		return bad(err, p, key, "must be a non-empty string");
	*out = json_string_value(v);
	return SPOK_OK;
}

static int check_keys(const struct spok_platform *p, const json_t *g, struct spok_err *err)
{
	static const char *const keys[] = {"listen", "tls-cert", "tls-key", "insecure",
					   "max-message", "unauthenticated-as", NULL};
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)g, k, v) {
		bool known = false;

		for (size_t i = 0; keys[i] && !known; i++)
			known = strcmp(keys[i], k) == 0;
		if (!known)
			return bad(err, p, k, "is not a known key; use listen, tls-cert, tls-key, "
				   "insecure, max-message, unauthenticated-as");
	}
	return SPOK_OK;
}

static int read_section(const struct spok_platform *p, const char *base, const json_t *g,
			struct conn_config *out, struct spok_err *err)
{
	const char *listen, *cert, *key, *anon;
	const json_t *ins = json_object_get(g, "insecure"), *mm = json_object_get(g, "max-message");
	int result;

	if (!json_is_object(g))
		return bad(err, p, "", "must be a mapping");
	if ((result = check_keys(p, g, err)) != SPOK_OK ||
	    (result = get_str(p, g, "listen", &listen, err)) != SPOK_OK ||
	    (result = get_str(p, g, "tls-cert", &cert, err)) != SPOK_OK ||
	    (result = get_str(p, g, "tls-key", &key, err)) != SPOK_OK ||
	    (result = get_str(p, g, "unauthenticated-as", &anon, err)) != SPOK_OK)
		return result;
	if (ins && !json_is_boolean(ins))
		return bad(err, p, "insecure", "must be true or false");
	out->insecure = json_is_true(ins);
	if (mm) {
		if (!json_is_integer(mm) || json_integer_value(mm) < 1024 ||
		    (size_t)json_integer_value(mm) > SPOK_CONN_MAX_MESSAGE_LIMIT)
			return bad(err, p, "max-message", "must be a byte count 1024-16777216");
		out->max_message = (size_t)json_integer_value(mm);
	}
	if ((cert == NULL) != (key == NULL))
		return bad(err, p, cert ? "tls-key" : "tls-cert", "is missing; TLS needs both "
			   "tls-cert and tls-key");
	if (cert && out->insecure)
		return bad(err, p, "insecure", "contradicts tls-cert/tls-key; choose one");
	if (listen && out->listen == NULL)
		out->listen = xstrdup(listen);
	out->unauthenticated_as = xstrdup(anon);
	if (cert && ((result = read_pem(p, base, "tls-cert", cert, &out->tls_cert, err)) != 0 ||
		     (result = read_pem(p, base, "tls-key", key, &out->tls_key, err)) != 0))
		return result;
	return SPOK_OK;
}

int conn_config_build(const struct spok_platform *p, const char *base_dir, const char *listen,
		      struct conn_config *out, struct spok_err *err)
{
	const json_t *g = p->spok.server ? json_object_get(p->spok.server, "grpc") : NULL;
	int result = SPOK_OK;

	memset(out, 0, sizeof(*out));
	out->max_message = SPOK_CONN_DEFAULT_MAX_MESSAGE;
	out->listen = xstrdup(listen);
	if (g)
		result = read_section(p, base_dir, g, out, err);
	if (result == SPOK_OK && out->tls_cert == NULL && !out->insecure)
		result = bad(err, p, "insecure", "is not set and there is no tls-cert/tls-key: "
			     "configure TLS, or set insecure: true to serve plaintext gRPC");
	if (result == SPOK_OK && out->listen == NULL)
		out->listen = xstrdup(SPOK_CONN_DEFAULT_LISTEN);
	if (result != SPOK_OK)
		conn_config_free(out);
	return result;
}

void conn_config_free(struct conn_config *c)
{
	free(c->listen);
	if (c->tls_key)
		memset(c->tls_key, 0, strlen(c->tls_key)); /* a private key: do not leave it in the heap */
	free(c->tls_key);
	free(c->tls_cert);
	free(c->unauthenticated_as);
	memset(c, 0, sizeof(*c));
}
