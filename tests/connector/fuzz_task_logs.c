/* fuzz_task_logs.c - arbitrary bytes -> conn_logs_parse (the connector's GetTaskLogsRequest),
 * and the same bytes as a driver log -> every GetTaskLogs body message. Each message must
 * decode, hold 1..CONN_LOGS_MSG_LINES lines of valid UTF-8 without NUL or newline in
 * `results`, and the structured lines must give the log back whenever it was valid UTF-8
 * without NUL. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/utf8.h"
#include "connector/internal.h"
#include "flyteidl/admin/agent.pb-c.h"
#include "server/daemon.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_request(const uint8_t *data, size_t size)
{
	struct conn_logs_req q;

	if (conn_logs_parse(data, size, &q, NULL) != SPOK_OK)
		return;
	if (!conn_meta_ok((const uint8_t *)q.id, strlen(q.id)) || q.tail == 0 ||
	    q.tail > SRV_LOG_TAIL_MAX)
		abort();
}

/* One body message; its structured lines are appended to all. */
static void check_message(const struct conn_reply *r, struct spok_buf *all)
{
	Flyteidl__Admin__GetTaskLogsResponse *m =
		flyteidl__admin__get_task_logs_response__unpack(NULL, r->len, r->data);
	const Flyteidl__Admin__GetTaskLogsResponseBody *b;

	if (m == NULL || m->part_case != FLYTEIDL__ADMIN__GET_TASK_LOGS_RESPONSE__PART_BODY)
		abort();
	b = m->body;
	if (b->n_results == 0 || b->n_results > CONN_LOGS_MSG_LINES ||
	    b->n_structured_lines != b->n_results)
		abort();
	for (size_t i = 0; i < b->n_results; i++) {
		const char *res = b->results[i], *msg = b->structured_lines[i]->message;

		if (!spok_utf8_validn(res, strlen(res)) || !spok_utf8_validn(msg, strlen(msg)) ||
		    strchr(res, '\n') != NULL)
			abort();
		spok_buf_appends(all, msg);
	}
	flyteidl__admin__get_task_logs_response__free_unpacked(m, NULL);
}

static void check_body(const char *log, size_t size)
{
	struct conn_reply r = {0};
	struct spok_buf all;
	size_t off = 0, prev = 0;

	spok_buf_init(&all, 0);
	while (conn_logs_body(log, size, &off, &r)) {
		if (off <= prev && size > 0)
			abort(); /* no progress */
		prev = off;
		check_message(&r, &all);
		conn_reply_free(&r);
	}
	if (off != size)
		abort();
	if (spok_utf8_validn(log, size) && memchr(log, '\0', size) == NULL &&
	    (all.len != size || (size && memcmp(all.data, log, size) != 0)))
		abort();
	spok_buf_free(&all);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_request(data, size);
	check_body((const char *)data, size);
	return 0;
}
