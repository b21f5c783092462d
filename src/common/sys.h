/* sys.h - two small operating-system steps that several modules take the same way: a
 * process detaching itself from the terminal that started it, and a free loopback port.
 * Nothing here allocates or keeps state.
 */
#ifndef SPOK_COMMON_SYS_H
#define SPOK_COMMON_SYS_H

/* In a forked child that goes on alone (a supervisor behind --detach or a session): a new
 * session, and stdin/stdout/stderr on /dev/null so a closed terminal or pipe neither stops
 * it nor receives its output. */
void spok_detach_stdio(void);

/* A TCP port on 127.0.0.1 that was free a moment ago, or 0. Another process may take it
 * before the caller's program binds it: callers must cope with that (Spark moves on to
 * the next port; a server that cannot bind fails its start). */
int spok_free_loopback_port(void);

#endif
