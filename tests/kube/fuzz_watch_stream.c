/* fuzz_watch_stream - bytes -> line splitter (chunked at a data-chosen size) -> event decode.
 * Besides no crash and no leak, it checks properties:
 *  - the lines do not depend on the chunking: they are exactly the input's complete,
 *    non-empty lines (one trailing '\r' dropped, none holding '\n'), up to the first one longer
 *    than the cap, where the splitter stops with an error;
 *  - a decoded event has a known type and an object; written back as a watch line
 *    ({"type", "object"}) it decodes to the same type, object and resourceVersion;
 *  - decoded with every KUBE_SKIP_* field left out, it decodes too, to the same event, and
 *    with those fields deleted from both (a key written with escapes stays) the same object;
 *  - read as a List (kube_skim_load, KUBE_SKIM_LIST), a line that is valid JSON loads to the
 *    same document once those fields are deleted from every object of items on both sides. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "kube/skim.h"
#include "kube/watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LINE_MAX_BYTES 4096

static const char *type_name(enum kube_event_type t)
{
	switch (t) {
	case KUBE_EVENT_ADDED: return "ADDED";
	case KUBE_EVENT_MODIFIED: return "MODIFIED";
	case KUBE_EVENT_DELETED: return "DELETED";
	case KUBE_EVENT_BOOKMARK: return "BOOKMARK";
	case KUBE_EVENT_ERROR: return "ERROR";
	case KUBE_EVENT_RELIST: break; /* made by the watch, never decoded from a line */
	}
	abort();
}

static bool same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void strip(json_t *obj)
{
	json_object_del(obj, "spec");
	json_object_del(json_object_get(obj, "metadata"), "managedFields");
}

static void check_skip(const char *line, size_t len, const struct kube_event *ev, json_t *obj)
{
	struct kube_event lean;
	json_t *obj2, *full = json_deep_copy(obj);

	if (kube_event_decode_skip(line, len, KUBE_SKIP_MANAGED_FIELDS | KUBE_SKIP_SPEC, &lean,
				   &obj2, NULL) != 0)
		abort();
	strip(full);
	strip(obj2);
	if (lean.type != ev->type || !json_equal(full, obj2) ||
	    !same_str(lean.resource_version, ev->resource_version) ||
	    lean.status_code != ev->status_code || strcmp(lean.message, ev->message) != 0)
		abort();
	json_decref(obj2);
	json_decref(full);
}

static void strip_items(json_t *doc)
{
	size_t i;
	json_t *item;

	json_array_foreach(json_object_get(doc, "items"), i, item)
		strip(item);
}

static void check_list(const char *line, size_t len)
{
	json_t *full = json_loadb(line, len, 0, NULL), *lean;

	lean = kube_skim_load(line, len, KUBE_SKIM_LIST, KUBE_SKIP_MANAGED_FIELDS | KUBE_SKIP_SPEC,
			      NULL);
	if (full != NULL && lean == NULL)
		abort();
	if (full != NULL) {
		strip_items(full);
		strip_items(lean);
		if (!json_equal(full, lean))
			abort();
	}
	json_decref(full);
	json_decref(lean);
}

static void check_event(const char *line, size_t len)
{
	struct kube_event ev, again;
	json_t *obj, *obj2, *doc;
	char *text;

	if (kube_event_decode(line, len, &ev, &obj, NULL) != 0)
		return;
	if (!json_is_object(obj) || ev.object != obj || ev.message == NULL)
		abort();
	check_skip(line, len, &ev, obj);
	doc = json_pack("{s:s, s:O}", "type", type_name(ev.type), "object", obj);
	text = json_dumps(doc, JSON_COMPACT);
	if (text == NULL || kube_event_decode(text, strlen(text), &again, &obj2, NULL) != 0)
		abort();
	if (again.type != ev.type || !json_equal(obj, obj2) ||
	    !same_str(again.resource_version, ev.resource_version) ||
	    again.status_code != ev.status_code || strcmp(again.message, ev.message) != 0)
		abort();
	json_decref(obj2);
	free(text);
	json_decref(doc);
	json_decref(obj);
}

/* Each line as <length><bytes>, so lines holding NUL compare too. */
static int record(void *arg, const char *line, size_t len)
{
	struct spok_buf *b = arg;

	if (len == 0 || memchr(line, '\n', len) != NULL)
		abort();
	check_event(line, len);
	check_list(line, len);
	if (spok_buf_append(b, &len, sizeof(len)) != 0 || spok_buf_append(b, line, len) != 0)
		abort();
	return 0;
}

/* What the splitter must produce, computed directly. Returns the splitter's result. */
static int expected(const uint8_t *data, size_t size, struct spok_buf *out)
{
	size_t start = 0;

	for (size_t i = 0; i < size; i++) {
		size_t n = i - start;

		if (n > LINE_MAX_BYTES)
			return SPOK_EINVAL;
		if (data[i] != '\n')
			continue;
		if (n > 0 && data[i - 1] == '\r')
			n--;
		if (n > 0 && (spok_buf_append(out, &n, sizeof(n)) != 0 ||
			      spok_buf_append(out, data + start, n) != 0))
			abort();
		start = i + 1;
	}
	return size - start > LINE_MAX_BYTES ? SPOK_EINVAL : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kube_lines l;
	struct spok_buf got, want;
	size_t chunk;
	int result = 0, want_result;

	if (size == 0)
		return 0;
	chunk = (size_t)data[0] % 64 + 1;
	data++;
	size--;
	spok_buf_init(&got, 0);
	spok_buf_init(&want, 0);
	kube_lines_init(&l, LINE_MAX_BYTES);
	for (size_t at = 0; at < size && result == 0; at += chunk) {
		size_t n = size - at < chunk ? size - at : chunk;

		result = kube_lines_feed(&l, (const char *)data + at, n, record, &got);
	}
	want_result = expected(data, size, &want);
	if (result != want_result || got.len != want.len ||
	    (got.len > 0 && memcmp(got.data, want.data, got.len) != 0))
		abort();
	kube_lines_free(&l);
	spok_buf_free(&got);
	spok_buf_free(&want);
	return 0;
}
