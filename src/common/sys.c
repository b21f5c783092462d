/* sys.c - see sys.h. */
#include "common/sys.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xalloc.h"

void spok_detach_stdio(void)
{
	int devnull;

	setsid();
	devnull = open("/dev/null", O_RDWR);
	if (devnull < 0)
		return;
	dup2(devnull, 0);
	dup2(devnull, 1);
	dup2(devnull, 2);
	if (devnull > 2)
		close(devnull);
}

int spok_free_loopback_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int port = 0;

	if (fd < 0)
		return 0;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int write_atomic(const char *path, const void *data, size_t n, mode_t mode, bool sync,
			const char *where, struct spok_err *err)
{
	char *tmp = xasprintf("%s.tmp", path);
	int fd = -1, result = SPOK_OK;

	if (unlink(tmp) != 0 && errno != ENOENT)
		result = spok_err_set(err, SPOK_EIO, "%s: cannot replace: %s; check %s", tmp,
				      strerror(errno), where);
	if (result == SPOK_OK &&
	    (fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode & 0777)) < 0)
		result = spok_err_set(err, SPOK_EIO, "%s: cannot create: %s; check %s", tmp,
				      strerror(errno), where);
	if (fd >= 0) {
		if (fchmod(fd, mode & 0777) != 0 || spok_write_all(fd, data, n) != 0 ||
		    (sync && fsync(fd) != 0))
			result = spok_err_set(err, SPOK_EIO, "%s: cannot write: %s; check %s", tmp,
					      strerror(errno), where);
		if (close(fd) != 0 && result == SPOK_OK)
			result = spok_err_set(err, SPOK_EIO, "%s: cannot write: %s; check %s", tmp,
					      strerror(errno), where);
	}
	if (result == SPOK_OK && rename(tmp, path) != 0)
		result = spok_err_set(err, SPOK_EIO, "%s: cannot rename it to %s: %s; check %s", tmp,
				      path, strerror(errno), where);
	if (result != SPOK_OK && fd >= 0)
		(void)unlink(tmp);
	free(tmp);
	return result;
}

int spok_write_file_atomic(const char *path, const void *data, size_t n, mode_t mode,
			   const char *where, struct spok_err *err)
{
	return write_atomic(path, data, n, mode, true, where, err);
}

int spok_write_file_renamed(const char *path, const void *data, size_t n, mode_t mode,
			    const char *where, struct spok_err *err)
{
	return write_atomic(path, data, n, mode, false, where, err);
}

int spok_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), result, saved;

	if (fd < 0)
		return -1;
	result = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return result;
}
