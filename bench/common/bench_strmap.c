/* bench_strmap.c - spok_strmap at N keys vs the linear list it replaced (issue 8: 40k labels
 * froze the daemon for two minutes). Prints seconds per phase; compare as ratios. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/strmap.h"
#include "common/xalloc.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The old map: append after a linear search (set), linear search (get). */
struct linear {
	char **keys;
	size_t len;
};

static void linear_set(struct linear *l, const char *k)
{
	for (size_t i = 0; i < l->len; i++)
		if (strcmp(l->keys[i], k) == 0)
			return;
	l->keys = xreallocarray(l->keys, l->len + 1, sizeof(*l->keys));
	l->keys[l->len++] = xstrdup(k);
}

static void run(size_t n, bool with_linear)
{
	struct spok_strmap m = {0};
	struct linear l = {0};
	char k[48];
	double t0, set, get, del, lin = 0;
	size_t found = 0;

	t0 = now();
	for (size_t i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "example.com/label-%zu", i);
		spok_strmap_set(&m, k, "v");
	}
	set = now() - t0;
	t0 = now();
	for (size_t i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "example.com/label-%zu", i);
		found += spok_strmap_get(&m, k) != NULL;
	}
	get = now() - t0;
	t0 = now();
	for (size_t i = n; i-- > 0;) {
		snprintf(k, sizeof(k), "example.com/label-%zu", i);
		spok_strmap_del(&m, k);
	}
	del = now() - t0;
	if (with_linear) {
		t0 = now();
		for (size_t i = 0; i < n; i++) {
			snprintf(k, sizeof(k), "example.com/label-%zu", i);
			linear_set(&l, k);
		}
		lin = now() - t0;
		for (size_t i = 0; i < l.len; i++)
			free(l.keys[i]);
		free(l.keys);
	}
	printf("%8zu keys  set %8.4f s  get %8.4f s  delete(back) %8.4f s  linear set %s",
	       n, set, get, del, with_linear ? "" : "   (skipped)");
	if (with_linear)
		printf("%8.4f s  (x%.0f)", lin, lin / (set > 0 ? set : 1e-9));
	printf("\n");
	if (found != n)
		abort();
	spok_strmap_free(&m);
}

int main(int argc, char **argv)
{
	size_t max = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;

	for (size_t n = 1000; n <= max; n *= 10) {
		run(n, n <= 100000);
		if (n < 40000 && n * 10 > 40000 && max >= 40000)
			run(40000, true);
	}
	return 0;
}
