/* fuzz_kube_status - an API error response (first 2 bytes: HTTP status) -> one-line error. */
#include <stdint.h>
#include <string.h>

#include "kube/client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char msg[SPOK_ERR_MSG_MAX];
	long http;
	json_t *body;

	if (size < 2)
		return 0;
	http = 100 + (long)(((unsigned)data[0] << 8 | data[1]) % 500);
	data += 2;
	size -= 2;
	body = json_loadb((const char *)data, size, 0, NULL);
	kube_status_error("GET", "/api/v1/pods", http, body, (const char *)data, size, msg, sizeof(msg));
	if (strchr(msg, '\n') != NULL)
		__builtin_trap(); /* the message must stay one line */
	json_decref(body);
	return 0;
}
