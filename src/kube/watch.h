/* watch.h - a self-healing watch stream over one collection (list, then watch, then
 * relist when the server says the resourceVersion is too old).
 *
 * One watch = one (client, namespace or all, resource, label selector); the engine
 * multiplexes its consumers over it. The stream is
 * GET ...?watch=1&allowWatchBookmarks=true&resourceVersion=RV&timeoutSeconds=T, read as
 * newline-delimited JSON events with a capped line buffer. The watch remembers the newest
 * resourceVersion (from every event, bookmarks included), reconnects from it when the
 * server ends the stream, backs off (0.8 s doubling to 30 s, jittered) after failures, and
 * on 410 Gone (HTTP status or an ERROR event with code 410) lists everything again and
 * delivers it as one KUBE_EVENT_RELIST (or, with paged_relist, one per page). Without a
 * starting resourceVersion it starts with that same list.
 *
 * Ownership and callbacks: struct kube_watch is owned by the module; kube_watch_stop ends
 * it. After kube_watch_stop returns, the callback never fires again; calling it from
 * inside the callback is fine, and the memory is released from the loop. Stop every
 * watch before closing the client. Event objects are borrowed for the callback.
 */
#ifndef SPOK_KUBE_WATCH_H
#define SPOK_KUBE_WATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "kube/client.h"
#include "kube/skim.h"

#define KUBE_WATCH_LINE_MAX ((size_t)16 << 20)

enum kube_event_type {
	KUBE_EVENT_ADDED,
	KUBE_EVENT_MODIFIED,
	KUBE_EVENT_DELETED,
	KUBE_EVENT_BOOKMARK,
	KUBE_EVENT_ERROR,  /* the stream failed; it is retried. object: a Status or NULL */
	KUBE_EVENT_RELIST  /* object: the full List; replace everything you knew (paged_relist:
	                    * one page of it, see `page` and `more`) */
};

struct kube_event {
	enum kube_event_type type;
	json_t *object;               /* borrowed */
	const char *resource_version; /* the object's (borrowed), or NULL */
	long status_code;             /* ERROR: Status.code (410 = too old), else 0 */
	const char *message;          /* ERROR: one line, else "" */
	/* RELIST with paged_relist: the page's index (0: a list starts, or starts over after
	 * an expired continue token: forget the earlier pages) and whether pages follow. The
	 * last event (more false) has no items; resource_version is set on it only. */
	int page;
	bool more;
};

typedef void (*kube_watch_cb)(void *data, const struct kube_event *ev);


struct kube_watch_opts {
	const char *label_selector;   /* NULL: everything */
	const char *resource_version; /* NULL: list first (RELIST), then watch from there */
	long timeout_s;               /* server-side timeoutSeconds; <= 0: random 300-600 */
	size_t max_line;              /* one event's cap; 0: KUBE_WATCH_LINE_MAX */
	long list_limit;              /* page size of relists; <= 0: 500 */
	bool paged_relist;            /* deliver a relist page by page (memory: one page) */
	unsigned skip;                /* KUBE_SKIP_* (kube/skim.h): fields the objects of events
	                               * and of relists leave out (never built, not checked) */
};

struct kube_watch_stats {
	uint64_t connects;  /* watch requests made */
	uint64_t relists;   /* lists made (the first one included) */
	uint64_t events;    /* ADDED/MODIFIED/DELETED delivered */
	uint64_t bookmarks;
	uint64_t gone;      /* 410s seen */
};

struct kube_watch;

/* ns NULL or "": all namespaces. Fails (no callback) on bad arguments or a closed client. */
int kube_watch_start(struct kube_client *c, const struct kube_gvr *gvr, const char *ns,
		     const struct kube_watch_opts *opts, kube_watch_cb cb, void *data,
		     struct kube_watch **out, struct spok_err *err);
void kube_watch_stop(struct kube_watch *w);
/* The newest resourceVersion seen (borrowed; NULL before the first). */
const char *kube_watch_resource_version(const struct kube_watch *w);
void kube_watch_stats(const struct kube_watch *w, struct kube_watch_stats *out);

/* ---- the pure parts, exposed for tests and fuzzing ---- */

/* Reassembles newline-delimited lines from arbitrary chunks. A zeroed struct is not ready:
 * call kube_lines_init. */
struct kube_lines {
	struct spok_buf buf;
};
typedef int (*kube_line_cb)(void *data, const char *line, size_t len);
void kube_lines_init(struct kube_lines *l, size_t max_line);
/* Calls cb for each complete non-empty line (without '\n' or a trailing '\r'); stops at
 * the first non-zero return and returns it. Returns SPOK_EINVAL if a line passes the cap. */
int kube_lines_feed(struct kube_lines *l, const char *p, size_t n, kube_line_cb cb, void *data);
void kube_lines_free(struct kube_lines *l);

/* Decodes one watch event line. On success *object_out holds a new reference (caller
 * decrefs) and ev->object points at it; ev->message is "". */
int kube_event_decode(const char *line, size_t len, struct kube_event *ev, json_t **object_out,
		      struct spok_err *err);
/* The same, leaving out the object's fields named by skip (KUBE_SKIP_*): the result is what
 * kube_event_decode gives with those members deleted (every one, if a key repeats; a key
 * written with escapes is not recognised and stays). A line that is valid JSON only once
 * they are cut decodes too. */
int kube_event_decode_skip(const char *line, size_t len, unsigned skip, struct kube_event *ev,
			   json_t **object_out, struct spok_err *err);

#endif
