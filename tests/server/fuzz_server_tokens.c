/* fuzz_server_tokens.c - the tokens file parser and bearer-header matching on any bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct srv_config c;
	struct spok_err err = {0};
	char *s = malloc(size + 1);

	memset(&c, 0, sizeof(c));
	memcpy(s, data, size);
	s[size] = '\0';
	if (srv_tokens_parse(&c, s, size, "tokens.yaml", &err) == 0) {
		const struct srv_token *t = srv_auth(&c, "Bearer x");

		if (t)
			(void)srv_token_allows(t, "p");
	} else if (err.msg[0] == '\0' || strchr(err.msg, '\n')) {
		abort(); /* every error is exactly one line */
	}
	srv_config_free(&c);
	free(s);
	return 0;
}
