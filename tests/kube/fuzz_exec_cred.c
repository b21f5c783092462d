/* fuzz_exec_cred - bytes -> ExecCredential parse (the stdout of an exec plugin), for both
 * API versions. Besides no crash and no leak, it checks properties of what is accepted:
 *  - the credential is usable: a token without control characters, or a certificate and a
 *    key together;
 *  - round trip: the credential written back as an ExecCredential parses to the same
 *    token, certificate, key and expiry;
 *  - expiry: without one it never expires; with one it expires exactly
 *    KUBE_EXEC_EXPIRY_SLACK_S before it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "common/timefmt.h"
#include "kube/exec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_blob(const struct kube_blob *a, const struct kube_blob *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0) &&
	       (a->data == NULL) == (b->data == NULL);
}

static void check_usable(const struct kube_exec_cred *c)
{
	if (c->token == NULL && c->client_cert.data == NULL)
		abort();
	if ((c->client_cert.data == NULL) != (c->client_key.data == NULL))
		abort();
	for (const char *p = c->token; p != NULL && *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
}

static void check_expiry(const struct kube_exec_cred *c)
{
	if (c->expiry == 0) {
		if (kube_exec_cred_expired(c, INT64_MAX / 2))
			abort();
		return;
	}
	if (c->expiry > INT64_MIN / 2 && c->expiry < INT64_MAX / 2 &&
	    (!kube_exec_cred_expired(c, c->expiry - KUBE_EXEC_EXPIRY_SLACK_S) ||
	     kube_exec_cred_expired(c, c->expiry - KUBE_EXEC_EXPIRY_SLACK_S - 1)))
		abort();
}

/* The credential as a plugin would print it. */
static char *write_back(const struct kube_exec_cred *c, const char *version)
{
	json_t *st = json_object(), *doc;
	char ts[64], *text;

	if (c->token != NULL)
		json_object_set_new(st, "token", json_string(c->token));
	if (c->client_cert.data != NULL) {
		json_object_set_new(st, "clientCertificateData",
				    json_stringn((const char *)c->client_cert.data, c->client_cert.len));
		json_object_set_new(st, "clientKeyData",
				    json_stringn((const char *)c->client_key.data, c->client_key.len));
	}
	if (c->expiry != 0) {
		spok_format_rfc3339(c->expiry, ts, sizeof(ts));
		json_object_set_new(st, "expirationTimestamp", json_string(ts));
	}
	doc = json_pack("{s:s, s:s, s:o}", "apiVersion", version, "kind", "ExecCredential",
			"status", st);
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return text;
}

static void check_round_trip(const struct kube_exec_cred *c, const char *version)
{
	struct kube_exec_cred again;
	struct spok_err err;
	char *text = write_back(c, version);

	if (text == NULL || kube_exec_parse(text, strlen(text), version, "again", &again, &err) != 0)
		abort();
	if ((c->token == NULL) != (again.token == NULL) ||
	    (c->token != NULL && strcmp(c->token, again.token) != 0) ||
	    !same_blob(&c->client_cert, &again.client_cert) ||
	    !same_blob(&c->client_key, &again.client_key) || c->expiry != again.expiry)
		abort();
	kube_exec_cred_free(&again);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const versions[] = {KUBE_EXEC_V1, KUBE_EXEC_V1BETA1};
	struct kube_exec_cred c;
	struct spok_err err;

	for (size_t i = 0; i < 2; i++) {
		if (kube_exec_parse((const char *)data, size, versions[i], "fuzz", &c, &err) == 0) {
			check_usable(&c);
			check_expiry(&c);
			check_round_trip(&c, versions[i]);
			kube_exec_cred_free(&c);
		}
	}
	return 0;
}
