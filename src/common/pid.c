/* pid.c - see pid.h. */
#include "common/pid.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* What /proc/<pid>/stat says: state (field 3), starttime (field 22) and, when pgrp is not
 * NULL, the process group (field 5). false when it
 * cannot be read (no such process, no /proc, hidden by hidepid) or does not parse. */
static bool proc_stat(int64_t pid, char *state, uint64_t *start, int64_t *pgrp)
{
	char path[64], buf[1024];
	char *p, *end;
	ssize_t n;
	int fd;

	if (!spok_pid_ok(pid))
		return false;
	snprintf(path, sizeof(path), "/proc/%lld/stat", (long long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* Field 2 (comm) may hold spaces and ')': the fields after it start past the last ')'. */
	p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ' || p[2] == '\0')
		return false;
	*state = p[2];
	if (pgrp != NULL) {
		/* fields 4 (ppid) and 5 (pgrp) follow the state */
		char *f5 = strchr(p + 3, ' ');

		f5 = f5 ? strchr(f5 + 1, ' ') : NULL;
		if (f5 == NULL)
			return false;
		errno = 0;
		long long g = strtoll(f5 + 1, &end, 10);
		if (end == f5 + 1 || errno != 0)
			return false;
		*pgrp = (int64_t)g;
	}
	p += 1; /* at the space before field 3 */
	for (int field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL)
		return false;
	errno = 0;
	unsigned long long v = strtoull(p + 1, &end, 10);
	if (end == p + 1 || errno != 0)
		return false;
	*start = (uint64_t)v;
	return true;
}

uint64_t spok_pid_start_time(int64_t pid)
{
	char state;
	uint64_t start;

	return proc_stat(pid, &state, &start, NULL) ? start : 0;
}

struct spok_proc_id spok_proc_self(void)
{
	struct spok_proc_id me = {.pid = (int64_t)getpid()};

	me.start = spok_pid_start_time(me.pid);
	return me;
}

bool spok_proc_alive(struct spok_proc_id p)
{
	char state;
	uint64_t start;

	if (!spok_pid_ok(p.pid))
		return false;
	if (proc_stat(p.pid, &state, &start, NULL))
		return state != 'Z' && state != 'X' && (p.start == 0 || start == p.start);
	/* No /proc answer: the pid is all there is to go on. */
	return kill((pid_t)p.pid, 0) == 0 || errno == EPERM;
}

bool spok_other_process_alive(int64_t pid)
{
	return spok_pid_ok(pid) && (pid_t)pid != getpid() &&
	       spok_proc_alive((struct spok_proc_id){.pid = pid});
}

/* Whether fn is true for a live (not zombie) member of group pgid; -1 without /proc. */
static int any_member(int64_t pgid, bool (*fn)(int64_t pid, void *arg), void *arg)
{
	DIR *d;
	struct dirent *de;
	bool found = false;

	if (!spok_pid_ok(pgid))
		return 0;
	d = opendir("/proc");
	if (d == NULL)
		return -1;
	while (!found && (de = readdir(d)) != NULL) {
		char *end, state;
		uint64_t start;
		int64_t g;
		long long pid = strtoll(de->d_name, &end, 10);

		if (end == de->d_name || *end != '\0' || !proc_stat(pid, &state, &start, &g))
			continue;
		found = g == pgid && state != 'Z' && state != 'X' && (!fn || fn(pid, arg));
	}
	closedir(d);
	return found;
}

bool spok_pgrp_running(int64_t pgid)
{
	int r = any_member(pgid, NULL, NULL);

	if (r < 0) /* cannot tell members apart: any member counts, zombies too */
		return kill((pid_t)-pgid, 0) == 0 || errno == EPERM;
	return r == 1;
}

bool spok_pgrp_any(int64_t pgid, bool (*fn)(int64_t pid, void *arg), void *arg)
{
	return any_member(pgid, fn, arg) == 1;
}
