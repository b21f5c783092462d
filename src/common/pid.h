/* pid.h - process ids read back from the store or a pidfile (another process wrote them).
 *
 * Such a number is only used after spok_pid_ok: 0 would address our own process group and a
 * value past INT_MAX truncates when cast to pid_t, possibly to -1 (every process we may
 * signal). Nothing here allocates.
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

/* A process other than this one exists with that pid. kill(pid, 0) failing with EPERM means
 * it exists but belongs to another user: alive, not gone. An invalid pid (spok_pid_ok) or
 * our own is false. (The pid may have been reused; callers that care compare start times.) */
bool spok_other_process_alive(int64_t pid);

#endif
