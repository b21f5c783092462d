/* token.h - a warm session's Spark Connect token (Spark 4's pre-shared bearer token,
 * spark.connect.authenticate.token): every server of a session gets its own random token,
 * and a client without it is refused (gRPC UNAUTHENTICATED).
 *
 * Where it is kept: in a file next to the session's server log, <data dir>/sessions/<name>/
 * token (0600, in the 0700 session directory), as "<generation> <token>\n". The session's
 * supervisor owns it: it writes a fresh token before it starts (or adopts) a server and
 * removes it when that server is gone; readers (`spok session url`, warm runs, the daemon's
 * url endpoint, a settling reader's interrupt) read it for the generation of the row they
 * hold, so a token of an earlier or later server of the same name is never handed out. It is
 * kept out of the store on purpose: rows go to `session list -o json`, the API and logs.
 *
 * Secrets: tokens never go into an error message, a log, argv or the store. Strings handed
 * out are heap; release them with spok_token_free (which wipes them).
 */
#ifndef SPOK_LOCAL_TOKEN_H
#define SPOK_LOCAL_TOKEN_H

#include <stdbool.h>

#include "common/err.h"
#include "model/session.h"

#define SPOK_TOKEN_LEN 64 /* hex digits: 256 bits from getrandom */

/* A new random token (lowercase hex, NUL-terminated) in out. */
int spok_token_new(char out[SPOK_TOKEN_LEN + 1], struct spok_err *err);
/* Whether t looks like a token spok made (SPOK_TOKEN_LEN lowercase hex digits). */
bool spok_token_ok(const char *t);
/* <data dir>/sessions/<name> (heap): the directory of a session's server log, token,
 * properties and resident client's socket. */
char *spok_session_dir(const char *data_dir, const char *name);
/* <the session's directory: that of s's server log>/name (heap), or NULL when the row has no
 * log path: where the token and the server's other files are. */
char *spok_session_file(const struct spok_session *s, const char *name);

/* Writes token as the one of s's generation (s->log_path's directory; atomically, 0600). */
int spok_token_write(const struct spok_session *s, const char *token, struct spok_err *err);
/* The token of s's generation in *out (heap; spok_token_free). SPOK_ENOTFOUND: no token file
 * (a server started before tokens existed, or already ended); SPOK_ECONFLICT: the file is
 * another generation's (the session was restarted meanwhile). */
int spok_token_read(const struct spok_session *s, char **out, struct spok_err *err);
/* Removes the token file if it is s's generation's. */
void spok_token_remove(const struct spok_session *s);
/* Wipes and frees (NULL is fine). */
void spok_token_free(char *token);

#endif
