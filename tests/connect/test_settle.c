/* test_settle.c - a reader settles a session whose supervisor died before it recorded its
 * server's pid: the server, found by the environment entry every server carries, is ended
 * (a real process in a session of its own, a real store). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "connect/connect.h"
#include "local/local.h"

static void nap(void)
{
	struct timespec ts = {0, 50 * 1000000L};
	nanosleep(&ts, NULL);
}

/* A stand-in server: sleep in a process group of its own, marked as generation gen's. */
static pid_t spawn_marked(const char *marker)
{
	pid_t pid = fork();

	if (pid == 0) {
		char *envp[] = {(char *)marker, NULL};
		setsid();
		execle("/bin/sleep", "sleep", "300", (char *)NULL, envp);
		_exit(127);
	}
	return pid;
}

static void test_unrecorded_server(void **state)
{
	(void)state;
	char dir[64];
	struct spok_store *st = NULL;
	struct spok_proc_id self = spok_proc_self(), dead = {self.pid, self.start + 1};
	struct spok_session x;
	int64_t gen = 0, g[4];
	int status = 0;

	snprintf(dir, sizeof(dir), "/tmp/spok-settle-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(spok_store_open(dir, &st, NULL), 0);
	/* a start whose supervisor is gone and never recorded the server's pid */
	assert_int_equal(spok_store_session_begin(st, "s1", "default", NULL, "me", "/l", -1, dead, &gen, NULL), 0);
	pid_t other = spawn_marked("SPOK_SESSION_SERVER=s1/7"); /* another generation's */
	pid_t server = spawn_marked("SPOK_SESSION_SERVER=s1/1");
	assert_true(server > 0 && other > 0);
	size_t n = 0;
	for (int i = 0; i < 200 && n == 0; i++, nap())
		n = spok_local_marked_groups("SPOK_SESSION_SERVER=s1/1", g, 4);
	assert_int_equal(n, 1);
	assert_int_equal(g[0], server);

	assert_int_equal(spok_store_session_get(st, "s1", &x, NULL), 0);
	assert_int_equal(x.pid, 0);
	assert_int_equal(spok_connect_settle(st, &x, NULL), 1);
	assert_int_equal(x.phase, SPOK_SESSION_FAILED);
	assert_non_null(strstr(x.reason, "spok ended its Spark Connect server"));
	spok_session_free(&x);
	assert_int_equal(waitpid(server, &status, 0), server);
	assert_true(WIFSIGNALED(status));
	/* the other generation's server is not this row's */
	assert_int_equal(waitpid(other, &status, WNOHANG), 0);
	kill(-other, SIGKILL);
	waitpid(other, &status, 0);

	spok_store_close(st);
	const char *files[] = {"spok.db", "spok.db-wal", "spok.db-shm"};
	for (size_t i = 0; i < 3; i++) {
		char *p = xasprintf("%s/%s", dir, files[i]);
		unlink(p);
		free(p);
	}
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unrecorded_server),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
