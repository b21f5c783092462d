/* timefmt.h - calendar time and durations, in one place.
 *
 * RFC 3339 timestamps (what the Kubernetes API writes, and what users give as datetime
 * inputs) and Go-style durations (what Flyte, Kubernetes and spok's flags use: "90s",
 * "1h30m", "500ms"). Proleptic Gregorian calendar, UTC, years 0001-9999.
 * Nothing here allocates.
 */
#ifndef SPOK_COMMON_TIMEFMT_H
#define SPOK_COMMON_TIMEFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Wall clock in ms since the epoch: the one place spok reads the time of day (the pure core
 * never does; its callers pass the result in). */
int64_t spok_now_ms(void);

/* Days since 1970-01-01 of a civil date, and back (m 1-12, d 1-31). */
int64_t spok_days_from_civil(int64_t y, unsigned m, unsigned d);
void spok_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

/* "2024-02-29T14:34:56.123+02:00": full date-time, 'T' (or 't'), optional fraction, 'Z' or
 * an offset. *secs is seconds since the epoch; *nanos (may be NULL) the fraction. */
bool spok_parse_rfc3339_ns(const char *s, int64_t *secs, int32_t *nanos);
bool spok_parse_rfc3339(const char *s, int64_t *secs);
/* "1970-01-01T00:00:00Z" form; buf needs at least 21 bytes. */
void spok_format_rfc3339(int64_t secs, char *buf, size_t len);

/* Go time.ParseDuration syntax: [-+]?([0-9]*(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+ or "0".
 * False on syntax errors and on overflow of int64 nanoseconds. */
bool spok_parse_duration_ns(const char *s, int64_t *ns);

/* A duration as spok's own inputs write it (job files, the config file, flags): whole
 * seconds ("90", as kubectl's --grace-period; at most 12 digits) or a Go-style duration
 * without a sign ("1h30m", "1.5m", "500ms"). *ms is rounded up to a whole millisecond: a
 * timeout never ends early. On error returns SPOK_EINVAL with err (may be NULL) saying
 * "<what> <s>: expected ...". Callers apply their own upper bound. */
struct spok_err;
int spok_parse_duration_ms(const char *what, const char *s, uint64_t *ms, struct spok_err *err);
/* ms as spok_parse_duration_ms reads it back, in its largest whole unit: "8h", "15m", "30s"
 * (below a second, or not whole seconds: rounded down to seconds). Heap (the caller's). */
char *spok_format_duration_ms(uint64_t ms);

#endif
