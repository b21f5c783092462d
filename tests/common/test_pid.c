/* test_pid.c - pids read back from the store (common/pid.h): range checks, a process of
 * another user counts as alive (kill -> EPERM), so its executions are not taken over, and a
 * zombie or a reused pid (another start time) counts as gone, so they are. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/pid.h"

static void test_range(void **state)
{
	(void)state;
	assert_false(spok_pid_ok(0));
	assert_false(spok_pid_ok(-1));
	assert_false(spok_pid_ok(INT64_MIN));
	assert_true(spok_pid_ok(1));
	assert_true(spok_pid_ok(INT_MAX));
	assert_false(spok_pid_ok((int64_t)INT_MAX + 1));
	assert_false(spok_pid_ok(INT64_C(4294967297))); /* would truncate to 1 */
	assert_false(spok_pid_ok(INT64_C(4294967295))); /* would truncate to -1 */
	assert_false(spok_other_process_alive(0));
	assert_false(spok_other_process_alive(INT64_C(4294967297)));
	assert_false(spok_other_process_alive(getpid())); /* ourselves: not "another" */
}

static void test_gone(void **state)
{
	(void)state;
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	int status;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_false(spok_other_process_alive(child));
}

/* As root, a child that drops to "nobody" cannot signal us: kill fails with EPERM, and we
 * must still count as alive. Without root, pid 1 (another user's) gives EPERM directly. */
static void test_other_user_alive(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		if (access("/proc/1", F_OK) == 0)
			assert_true(spok_other_process_alive(1));
		return;
	}
	pid_t parent = getpid();
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(2);
		_exit(spok_other_process_alive(parent) ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A child that has exited but was not waited for: kill(pid, 0) still succeeds on it, yet it
 * follows nothing any more (a daemon killed with -9 whose parent has not reaped it). */
static void test_zombie_is_gone(void **state)
{
	(void)state;
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	uint64_t start = 0;
	/* until the kernel has made it a zombie, it may still be running */
	for (int i = 0; i < 100000 && spok_proc_alive((struct spok_proc_id){child, 0}); i++)
		usleep(1000);
	assert_int_equal(kill(child, 0), 0); /* still there for kill ... */
	start = spok_pid_start_time(child);
	assert_true(start != 0);             /* ... and for /proc, with its start time */
	assert_false(spok_proc_alive((struct spok_proc_id){child, start}));
	assert_false(spok_other_process_alive(child));
	int status;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_int_equal(spok_pid_start_time(child), 0);
}

/* A process group whose only member is a zombie runs nothing, though kill(-pgid, 0) still
 * succeeds; with a live member it runs. */
static void test_pgrp_of_zombies(void **state)
{
	(void)state;
	pid_t lead = fork();
	assert_true(lead >= 0);
	if (lead == 0) {
		setpgid(0, 0);
		pause();
		_exit(0);
	}
	setpgid(lead, lead); /* whichever of the two runs first */
	for (int i = 0; i < 100000 && getpgid(lead) != lead; i++)
		usleep(1000);
	assert_true(spok_pgrp_running(lead));
	assert_int_equal(kill(lead, SIGKILL), 0);
	for (int i = 0; i < 100000 && spok_proc_alive((struct spok_proc_id){lead, 0}); i++)
		usleep(1000);
	assert_int_equal(kill(-lead, 0), 0); /* the zombie is still a member ... */
	assert_false(spok_pgrp_running(lead)); /* ... that runs nothing */
	int status;
	assert_int_equal(waitpid(lead, &status, 0), lead);
	assert_false(spok_pgrp_running(lead));
	assert_false(spok_pgrp_running(0));
}

/* The same pid with another start time is another process: the recorded one is gone. */
static void test_start_time_names_the_process(void **state)
{
	(void)state;
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	uint64_t start = spok_pid_start_time(child);
	assert_true(start != 0);
	assert_true(spok_proc_alive((struct spok_proc_id){child, start}));
	assert_true(spok_proc_alive((struct spok_proc_id){child, 0})); /* start unknown: pid only */
	assert_false(spok_proc_alive((struct spok_proc_id){child, start + 1}));
	assert_false(spok_proc_alive((struct spok_proc_id){child, start - 1}));
	kill(child, SIGKILL);
	int status;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_false(spok_proc_alive((struct spok_proc_id){child, start}));
}

static void test_self(void **state)
{
	(void)state;
	struct spok_proc_id me = spok_proc_self();
	assert_int_equal(me.pid, getpid());
	assert_true(me.start != 0);
	assert_true(spok_proc_alive(me));
	assert_false(spok_proc_alive((struct spok_proc_id){0, 0}));
	assert_false(spok_proc_alive((struct spok_proc_id){INT64_C(4294967297), 0}));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_gone),
		cmocka_unit_test(test_other_user_alive),
		cmocka_unit_test(test_zombie_is_gone),
		cmocka_unit_test(test_pgrp_of_zombies),
		cmocka_unit_test(test_start_time_names_the_process),
		cmocka_unit_test(test_self),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
