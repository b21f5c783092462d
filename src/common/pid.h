/* pid.h - process ids read back from the store or a pidfile (another process wrote them),
 * and the one test of whether such a recorded process still runs.
 *
 * Such a number is only used after spok_pid_ok: 0 would address our own process group and a
 * value past INT_MAX truncates when cast to pid_t, possibly to -1 (every process we may
 * signal). A pid alone does not name a process for long: once it exits (and is reaped) the
 * kernel hands the number to the next process, so a recorded process is (pid, start time)
 * (struct spok_proc_id) and spok_proc_alive compares both. Nothing here allocates.
 */
#ifndef SPOK_COMMON_PID_H
#define SPOK_COMMON_PID_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

/* Fits pid_t and is positive. */
static inline bool spok_pid_ok(int64_t pid)
{
	return pid > 0 && pid <= INT_MAX;
}

/* One process, as recorded: its pid and its start time (field 22 of /proc/<pid>/stat, clock
 * ticks after boot). start 0 means "not known" (rows written before it was recorded, or no
 * /proc): then only the pid can be checked. */
struct spok_proc_id {
	int64_t pid;
	uint64_t start;
};

/* The start time of process pid, or 0 when it does not exist (or /proc cannot tell).
 * A zombie keeps its start time: spok_proc_alive is the liveness test, not this. */
uint64_t spok_pid_start_time(int64_t pid);

/* This process: getpid() and its start time (read again on each call; a forked child is
 * another process). */
struct spok_proc_id spok_proc_self(void);

/* Every "does the process recorded there still run?" goes through here. True when a
 * process with p.pid exists, is not a zombie (/proc state Z or X: it has exited and only
 * waits to be reaped, e.g. a daemon killed with -9 whose parent has not waited), and, when
 * p.start != 0, started at p.start (otherwise the pid was reused by an unrelated process).
 * When /proc cannot be read (no /proc, hidepid), kill(pid, 0) decides, and EPERM (a process
 * of another user) counts as alive. An invalid pid (spok_pid_ok) is false. This process
 * is alive by this test; callers that must not count themselves compare with
 * spok_proc_self(). */
bool spok_proc_alive(struct spok_proc_id p);

/* A process other than this one runs with that pid: spok_proc_alive({pid, 0}) && pid is not
 * ours. For callers that recorded no start time. */
bool spok_other_process_alive(int64_t pid);

/* Whether process group pgid still has a member that is not a zombie. A zombie whose parent
 * died waits for PID 1 to reap it (on some machines only every second or so) and keeps
 * kill(-pgid, 0) succeeding, though nothing of it runs. Without /proc every member counts. */
bool spok_pgrp_running(int64_t pgid);

/* Whether fn(pid, arg) is true for a member of process group pgid that is not a zombie
 * (from /proc; without it: false). */
bool spok_pgrp_any(int64_t pgid, bool (*fn)(int64_t pid, void *arg), void *arg);

#endif
