/* pid.c - see pid.h. */
#include "common/pid.h"

#include <errno.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

bool spok_other_process_alive(int64_t pid)
{
	if (!spok_pid_ok(pid) || (pid_t)pid == getpid())
		return false;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}
