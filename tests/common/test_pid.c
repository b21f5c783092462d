/* test_pid.c - pids read back from the store (common/pid.h): range checks, and a process of
 * another user counts as alive (kill -> EPERM), so its executions are not taken over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_gone),
		cmocka_unit_test(test_other_user_alive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
