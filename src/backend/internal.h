/* internal.h - what the backends of this module share; not for front ends. */
#ifndef SPOK_BACKEND_INTERNAL_H
#define SPOK_BACKEND_INTERNAL_H

#include "backend/backend.h"

/* Every log fetch starts with this, so spok_backend_log_cancel can reach its backend. */
struct spok_backend_log {
	void (*cancel)(struct spok_backend_log *l);
};

#endif
