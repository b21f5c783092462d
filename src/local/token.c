/* token.c - a session's Spark Connect token and its file. See token.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/sys.h"
#include "common/xalloc.h"
#include "local/token.h"

int spok_token_new(char out[SPOK_TOKEN_LEN + 1], struct spok_err *err)
{
	unsigned char raw[SPOK_TOKEN_LEN / 2];
	size_t got = 0;

	while (got < sizeof(raw)) {
		/* blocking until the kernel's pool is seeded: a token must not be guessable */
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return spok_err_set(err, SPOK_EIO, "cannot make a session token: getrandom: %s",
					    strerror(errno));
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

bool spok_token_ok(const char *t)
{
	return t && strlen(t) == SPOK_TOKEN_LEN && strspn(t, "0123456789abcdef") == SPOK_TOKEN_LEN;
}

char *spok_session_dir(const char *data_dir, const char *name)
{
	return xasprintf("%s/sessions/%s", data_dir, name);
}

char *spok_session_file(const struct spok_session *s, const char *name)
{
	const char *slash = s->log_path ? strrchr(s->log_path, '/') : NULL;

	return slash ? xasprintf("%.*s/%s", (int)(slash - s->log_path), s->log_path, name) : NULL;
}

static char *token_path(const struct spok_session *s)
{
	return spok_session_file(s, "token");
}

int spok_token_write(const struct spok_session *s, const char *token, struct spok_err *err)
{
	char *path = token_path(s);
	char line[SPOK_TOKEN_LEN + 32];

	if (!path)
		return spok_err_set(err, SPOK_EINTERNAL, "session %s: no session directory for its token", s->name);
	int n = snprintf(line, sizeof(line), "%lld %s\n", (long long)s->generation, token);
	int result = spok_write_file_atomic(path, line, (size_t)n, 0600, "the data dir", err);
	explicit_bzero(line, sizeof(line));
	free(path);
	return result;
}

int spok_token_read(const struct spok_session *s, char **out, struct spok_err *err)
{
	char *path = token_path(s);
	char line[SPOK_TOKEN_LEN + 64];
	int result = 0;

	*out = NULL;
	if (!path)
		return spok_err_set(err, SPOK_ENOTFOUND, "session %s has no token; restart it ('spok session stop %s', then start it)", s->name, s->name);
	/* a FIFO or device put there must not block a reader (the daemon's loop) */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct stat st;
	if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		fd = -1;
		errno = EINVAL;
	}
	ssize_t n = fd >= 0 ? read(fd, line, sizeof(line) - 1) : -1;
	int e = errno;
	if (fd >= 0)
		close(fd);
	if (n < 0) {
		result = spok_err_set(err, e == ENOENT ? SPOK_ENOTFOUND : SPOK_EIO,
				      "session %s: %s: %s; restart the session ('spok session stop %s', then start it)",
				      s->name, path, strerror(e), s->name);
		free(path);
		return result;
	}
	line[n] = '\0';
	char *sp = strchr(line, ' '), *end = NULL;
	long long g = strtoll(line, &end, 10);
	char *tok = sp ? sp + 1 : NULL;
	if (tok)
		tok[strcspn(tok, "\n")] = '\0';
	if (!sp || end != sp || !spok_token_ok(tok))
		result = spok_err_set(err, SPOK_EIO, "session %s: %s is damaged; restart the session ('spok session stop %s', then start it)",
				      s->name, path, s->name);
	else if (g != s->generation)
		/* started again between the caller's read of the row and this one */
		result = spok_err_set(err, SPOK_ECONFLICT, "session %s was restarted meanwhile; ask again", s->name);
	else
		*out = xstrdup(tok);
	explicit_bzero(line, sizeof(line));
	free(path);
	return result;
}

void spok_token_remove(const struct spok_session *s)
{
	char *tok = NULL;

	/* only this generation's: a newer server's token stays */
	if (spok_token_read(s, &tok, NULL) == 0) {
		char *path = token_path(s);
		unlink(path);
		free(path);
	}
	spok_token_free(tok);
}

void spok_token_free(char *token)
{
	if (token) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
}
