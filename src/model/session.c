/* session.c - see session.h. */
#include "model/session.h"

#include <stdlib.h>
#include <string.h>

static const char *const names[] = {"STARTING", "RUNNING", "STOPPING", "STOPPED", "FAILED"};

const char *spok_session_phase_name(enum spok_session_phase p)
{
	return (size_t)p < sizeof(names) / sizeof(names[0]) ? names[p] : "FAILED";
}

int spok_session_phase_parse(const char *s)
{
	for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

bool spok_session_phase_terminal(enum spok_session_phase p)
{
	return p == SPOK_SESSION_STOPPED || p == SPOK_SESSION_FAILED;
}

void spok_session_free(struct spok_session *s)
{
	if (!s)
		return;
	free(s->name);
	free(s->pool);
	free(s->backend);
	free(s->host);
	free(s->reason);
	free(s->user_id);
	free(s->log_path);
	free(s->project);
	memset(s, 0, sizeof(*s));
}

void spok_session_list_free(struct spok_session *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		spok_session_free(&v[i]);
	free(v);
}
