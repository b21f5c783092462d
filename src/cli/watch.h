/* watch.h - showing a running execution as it goes: `spok run` (local) and `spok status ID
 * --watch`. Internal to src/cli.
 *
 * Three forms:
 *  - LIVE (the output is a terminal): one line, rewritten in place ("\r", erase to the end of
 *    the line) at most SPOK_CLI_WATCH_TICK_MS apart and only when its text changed: phase,
 *    elapsed time, the active job and stage, tasks done/total with a bar, failed tasks,
 *    executors. Cut to the terminal's width so it never wraps. Names from Spark are escaped.
 *  - PLAIN (not a terminal): one line per phase change, "<RFC 3339 time> execution <id>
 *    <PHASE>[: reason] (<tasks done>/<total> tasks, <n> failed, <n> executors)" (the part in
 *    parentheses once progress was read); no escape sequences at all.
 *  - JSON (-o json): one compact JSON object per line, per change of phase or progress:
 *    {"id", "time", "phase", "reason", "elapsed_ms", "progress": {...} | null}.
 *
 * Progress comes from the run's Spark UI (src/progress/reader.h), read only while a watcher
 * exists and the row names a UI; rows are fed in by the caller (spok_cli_watch_row), which
 * may call it as often as it likes: output is throttled here.
 *
 * Ownership: the watcher is the caller's; spok_cli_watch_end prints the final state and
 * closes its handles (run the loop afterwards so they finish closing); the memory is freed
 * then. The loop and out are borrowed; rows are copied as needed.
 */
#ifndef SPOK_CLI_WATCH_H
#define SPOK_CLI_WATCH_H

#include <stdio.h>
#include <uv.h>

#include "model/execution.h"

#define SPOK_CLI_WATCH_TICK_MS 250
#define SPOK_CLI_WATCH_POLL_MS 500 /* Spark UI reads: at most 2 a second */

enum spok_cli_watch_mode { SPOK_WATCH_LIVE, SPOK_WATCH_PLAIN, SPOK_WATCH_JSON };

struct spok_cli_watch;
struct kube_client;

/* LIVE when fd is a terminal and TERM is not "dumb", else PLAIN; JSON when json is set. */
enum spok_cli_watch_mode spok_cli_watch_mode_for(int fd, bool json);

struct spok_cli_watch *spok_cli_watch_new(uv_loop_t *loop, FILE *out, enum spok_cli_watch_mode m);
/* The execution as it is now (borrowed for the call). Starts or stops the UI reader as the
 * row's ui_url appears, changes or goes, and prints a phase change. */
void spok_cli_watch_row(struct spok_cli_watch *w, const struct spok_execution *x);
/* A cluster run: read progress through client (borrowed; outlives the watcher) at the UI's
 * proxy prefix (copied); NULL prefix stops reading. */
void spok_cli_watch_proxy(struct spok_cli_watch *w, struct kube_client *client, const char *prefix);
/* A cluster run whose UI the watcher finds itself: while a row says RUNNING it reads the
 * row's SparkApplication through client (every 5 s until the UI is found, then every 30 s)
 * and follows spok_backend_ui_prefix (backend.h). client is borrowed and must stay open until
 * the loop has run after spok_cli_watch_end (closing it answers a read still out). */
void spok_cli_watch_cluster(struct spok_cli_watch *w, struct kube_client *client);
/* Phase lines only: the watcher never reads the UI (and stops a reader it has). For `spok run`
 * to a file or pipe, where nobody watches the numbers live: a Spark UI's first status read
 * costs its driver seconds of CPU (the REST layer starts on first use), which a run pays in
 * wall time on a small machine (bench/README.md, "local"). */
void spok_cli_watch_no_progress(struct spok_cli_watch *w);
/* Erases a live line before someone else writes to the terminal (redrawn at the next tick). */
void spok_cli_watch_clear(struct spok_cli_watch *w);
/* The final state (x), then closes. NULL w is fine. */
void spok_cli_watch_end(struct spok_cli_watch *w, const struct spok_execution *x);

#endif
