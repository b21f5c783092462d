/* pause - the pod sandbox ("pause") process of the test node's own sandbox image.
 *
 * A pod sandbox only has to hold the pod's namespaces open until the runtime stops it, and
 * reap zombies if it is PID 1 of a shared PID namespace. Built static by scripts/build-image,
 * so the image needs no libc; no registry image is involved. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig)
{
	(void)sig;
	_exit(0);
}

static void on_child(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0) {
	}
}

int main(void)
{
	struct sigaction stop = { .sa_handler = on_stop };
	struct sigaction child = { .sa_handler = on_child, .sa_flags = SA_NOCLDSTOP | SA_RESTART };

	sigemptyset(&stop.sa_mask);
	sigemptyset(&child.sa_mask);
	if (sigaction(SIGTERM, &stop, NULL) != 0 || sigaction(SIGINT, &stop, NULL) != 0 ||
	    sigaction(SIGCHLD, &child, NULL) != 0)
		return 1;
	for (;;)
		pause();
}
