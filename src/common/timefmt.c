#include "common/timefmt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/xalloc.h"

int64_t spok_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Howard Hinnant's days_from_civil / civil_from_days (public-domain algorithms). */
int64_t spok_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? (int64_t)m - 3 : (int64_t)m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void spok_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static unsigned days_in_month(int64_t y, unsigned m)
{
	static const unsigned dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dm[m - 1];
}

/* Reads exactly n digits and advances. */
static bool digits(const char **s, unsigned n, unsigned *out)
{
	unsigned v = 0;

	for (unsigned i = 0; i < n; i++) {
		if ((*s)[i] < '0' || (*s)[i] > '9')
			return false;
		v = v * 10 + (unsigned)((*s)[i] - '0');
	}
	*s += n;
	*out = v;
	return true;
}

static bool expect(const char **s, const char *chars)
{
	if (**s == '\0' || strchr(chars, **s) == NULL)
		return false;
	(*s)++;
	return true;
}

static bool parse_fraction(const char **s, int32_t *nanos)
{
	int32_t scale = 100000000, v = 0;

	if (**s != '.')
		return true;
	(*s)++;
	if (**s < '0' || **s > '9')
		return false;
	for (; **s >= '0' && **s <= '9'; (*s)++) {
		v += (int32_t)(**s - '0') * scale;
		scale /= 10;
	}
	*nanos = v;
	return true;
}

static bool parse_offset(const char **s, int64_t *off)
{
	unsigned oh, om;
	int sign;

	if (expect(s, "Zz")) {
		*off = 0;
		return true;
	}
	sign = **s == '-' ? -1 : 1;
	if (!expect(s, "+-") || !digits(s, 2, &oh) || !expect(s, ":") || !digits(s, 2, &om) ||
	    oh > 23 || om > 59)
		return false;
	*off = sign * (int64_t)(oh * 3600 + om * 60);
	return true;
}

bool spok_parse_rfc3339_ns(const char *s, int64_t *secs, int32_t *nanos)
{
	unsigned y, mo, d, h, mi, sec;
	int32_t frac = 0;
	int64_t off;

	if (!digits(&s, 4, &y) || !expect(&s, "-") || !digits(&s, 2, &mo) || !expect(&s, "-") ||
	    !digits(&s, 2, &d) || y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return false;
	if (!expect(&s, "Tt") || !digits(&s, 2, &h) || !expect(&s, ":") || !digits(&s, 2, &mi) ||
	    !expect(&s, ":") || !digits(&s, 2, &sec) || h > 23 || mi > 59 || sec > 59 ||
	    !parse_fraction(&s, &frac) || !parse_offset(&s, &off) || *s != '\0')
		return false;
	*secs = spok_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
	if (nanos)
		*nanos = frac;
	return true;
}

bool spok_parse_rfc3339(const char *s, int64_t *secs)
{
	return spok_parse_rfc3339_ns(s, secs, NULL);
}

void spok_format_rfc3339(int64_t t, char *buf, size_t len)
{
	int64_t days = t / 86400, rem = t % 86400, y;
	unsigned m, d;

	if (rem < 0) {
		rem += 86400;
		days--;
	}
	spok_civil_from_days(days, &y, &m, &d);
	snprintf(buf, len, "%04" PRId64 "-%02u-%02uT%02d:%02d:%02dZ", y, m, d, (int)(rem / 3600),
		 (int)(rem / 60 % 60), (int)(rem % 60));
}

static uint64_t duration_unit(const char **s)
{
	static const struct { const char *name; uint64_t ns; } units[] = {
		{"ns", 1}, {"us", 1000}, {"\xc2\xb5s", 1000}, {"ms", 1000000},
		{"s", 1000000000}, {"m", UINT64_C(60000000000)}, {"h", UINT64_C(3600000000000)},
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		size_t n = strlen(units[i].name);

		if (strncmp(*s, units[i].name, n) == 0) {
			*s += n;
			return units[i].ns;
		}
	}
	return 0;
}

bool spok_parse_duration_ns(const char *s, int64_t *ns_out)
{
	bool neg = *s == '-';
	uint64_t total = 0;

	if (*s == '-' || *s == '+')
		s++;
	if (strcmp(s, "0") == 0) {
		*ns_out = 0;
		return true;
	}
	if (*s == '\0')
		return false;
	while (*s != '\0') {
		uint64_t whole = 0, frac = 0, scale = 1, unit, v;
		bool any = false;

		for (; *s >= '0' && *s <= '9'; s++, any = true) {
			if (whole > (UINT64_MAX - 9) / 10)
				return false;
			whole = whole * 10 + (uint64_t)(*s - '0');
		}
		if (*s == '.')
			for (s++; *s >= '0' && *s <= '9'; s++, any = true)
				if (scale < UINT64_C(1000000000000000000)) {
					frac = frac * 10 + (uint64_t)(*s - '0');
					scale *= 10;
				}
		unit = duration_unit(&s);
		if (!any || unit == 0 || whole > (uint64_t)INT64_MAX / unit)
			return false;
		v = whole * unit + (uint64_t)((double)frac * (double)unit / (double)scale);
		if (v > (uint64_t)INT64_MAX - total)
			return false;
		total += v;
	}
	*ns_out = neg ? -(int64_t)total : (int64_t)total;
	return true;
}

int spok_parse_duration_ms(const char *what, const char *s, uint64_t *ms, struct spok_err *err)
{
	size_t digits = strspn(s, "0123456789");
	int64_t ns;

	if (*s != '\0' && s[digits] == '\0' && digits <= 12) {
		*ms = strtoull(s, NULL, 10) * 1000;
		return SPOK_OK;
	}
	if (*s == '-' || *s == '+' || !spok_parse_duration_ns(s, &ns))
		return spok_err_set(err, SPOK_EINVAL,
				    "%s %s: expected a duration like 10s, 500ms, 2m or 1h30m", what, s);
	*ms = (uint64_t)(ns / 1000000) + (ns % 1000000 != 0);
	return SPOK_OK;
}

char *spok_format_duration_ms(uint64_t ms)
{
	if (ms > 0 && ms % 3600000 == 0)
		return xasprintf("%lluh", (unsigned long long)(ms / 3600000));
	if (ms > 0 && ms % 60000 == 0)
		return xasprintf("%llum", (unsigned long long)(ms / 60000));
	return xasprintf("%llus", (unsigned long long)(ms / 1000));
}
