/* reader.h - polls a running Spark application's status REST API on a libuv loop.
 *
 * A reader exists only while someone watches (a `spok run` on a terminal, `spok status
 * --watch`, a daemon request): creating it is what starts the polling, freeing it stops it,
 * so an application nobody looks at is never asked. Each round GETs (over the project's
 * HTTP client, src/kube, curl multi on the loop; never blocking) /api/v1/applications once
 * to learn the id, then jobs, stages?status=active and executors in parallel, each answer
 * capped at SPOK_PROGRESS_BODY_MAX bytes and SPOK_PROGRESS_READ_TIMEOUT_MS; rounds start at
 * most every interval (never more often than SPOK_PROGRESS_MIN_INTERVAL_MS) and never
 * overlap. The answers are parsed by progress.h.
 *
 * Where the UI is: a URL ("http://127.0.0.1:PORT", a local run: the reader makes its own
 * client, no credentials) or a client of a cluster plus a path prefix (the API server's
 * service or pod proxy, kube_service_proxy_prefix: the caller's credentials).
 *
 * Callback: after every round, from the loop: code 0 and the progress, or a SPOK_E* code and
 * a one-line message (the UI does not answer yet or any more, an answer was refused); p then
 * holds what the last good round read (or nothing: app_id ""). p and msg are borrowed for the
 * call. The callback may free the reader.
 *
 * Ownership: the reader is the caller's (spok_progress_reader_free, from anywhere on the
 * loop's thread, in-flight reads are cancelled; its memory is released once the loop ran the
 * close callbacks). A client passed in is borrowed and must outlive the reader; the URL and
 * prefix are copied.
 */
#ifndef SPOK_PROGRESS_READER_H
#define SPOK_PROGRESS_READER_H

#include <stdint.h>
#include <uv.h>

#include "common/err.h"
#include "progress/progress.h"

struct kube_client;
struct spok_progress_reader;

#define SPOK_PROGRESS_MIN_INTERVAL_MS 500
#define SPOK_PROGRESS_READ_TIMEOUT_MS 5000

typedef void (*spok_progress_cb)(void *data, const struct spok_progress *p, int code,
				 const char *msg);

/* A reader of the UI at url (http(s)://host:port, no path). Starts its first round at once. */
int spok_progress_reader_url(uv_loop_t *loop, const char *url, uint64_t interval_ms,
			     spok_progress_cb cb, void *data, struct spok_progress_reader **out,
			     struct spok_err *err);
/* A reader through client at prefix (the UI's root, without the trailing '/'). */
int spok_progress_reader_proxy(struct kube_client *client, const char *prefix,
			       uint64_t interval_ms, spok_progress_cb cb, void *data,
			       struct spok_progress_reader **out, struct spok_err *err);
/* Stops polling; no callback fires afterwards. NULL is fine. */
void spok_progress_reader_free(struct spok_progress_reader *r);

#endif
