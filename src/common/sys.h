/* sys.h - small operating-system steps that several modules take the same way: a process
 * detaching itself from the terminal that started it, a free loopback port, and a file
 * replaced whole. Nothing here keeps state; what is allocated is freed before return.
 */
#ifndef SPOK_COMMON_SYS_H
#define SPOK_COMMON_SYS_H

#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"

/* In a forked child that goes on alone (a supervisor behind --detach or a session): a new
 * session, and stdin/stdout/stderr on /dev/null so a closed terminal or pipe neither stops
 * it nor receives its output. */
void spok_detach_stdio(void);

/* A TCP port on 127.0.0.1 that was free a moment ago, or 0. Another process may take it
 * before the caller's program binds it: callers must cope with that (Spark moves on to
 * the next port; a server that cannot bind fails its start). */
int spok_free_loopback_port(void);

/* path's contents become exactly data[0..n) or stay as they were: the bytes go to a new file
 * path + ".tmp" (one a crash left there, or a link someone placed there, is removed first; the
 * new one is created with O_EXCL | O_NOFOLLOW, so a write never follows a link), with `mode`
 * (set with fchmod: the umask does not narrow or widen it), synced, then renamed over path.
 * On failure the temporary file is removed and err (SPOK_EIO) names the file, the error and
 * says to check `where` (e.g. "the data dir"). */
int spok_write_file_atomic(const char *path, const void *data, size_t n, mode_t mode,
			   const char *where, struct spok_err *err);
/* The same without the sync: the contents are whole or absent after a process crash, not
 * after a power loss until the caller fsyncs path (the daemon syncs a batch's task sources
 * together, right before the commit of the rows that name them). */
int spok_write_file_renamed(const char *path, const void *data, size_t n, mode_t mode,
			    const char *where, struct spok_err *err);
/* fsync of directory dir (the entries renamed into it): 0, or -1 with errno set. */
int spok_fsync_dir(const char *dir);

#endif
