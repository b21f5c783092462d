/* fuzz_watch_stream - bytes -> line splitter (chunked at a data-chosen size) -> event decode. */
#include <stdint.h>
#include <string.h>

#include "common/err.h"
#include "kube/watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_line(void *arg, const char *line, size_t len)
{
	struct kube_event ev;
	json_t *obj;

	(void)arg;
	if (kube_event_decode(line, len, &ev, &obj, NULL) == 0) {
		/* Touch what a consumer reads. */
		if (ev.resource_version != NULL && strlen(ev.resource_version) > (size_t)1 << 30)
			return 1;
		json_decref(obj);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kube_lines l;
	size_t chunk;

	if (size == 0)
		return 0;
	chunk = (size_t)data[0] % 64 + 1;
	data++;
	size--;
	kube_lines_init(&l, 4096);
	while (size > 0) {
		size_t n = size < chunk ? size : chunk;

		if (kube_lines_feed(&l, (const char *)data, n, on_line, NULL) != 0)
			break;
		data += n;
		size -= n;
	}
	kube_lines_free(&l);
	return 0;
}
