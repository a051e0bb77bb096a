/*
 * date: RFC 3339 timestamps, parsed and formatted in one place (export and
 * notion used to have two parsers with different rules).
 *
 * Time is an int64_t count of microseconds since 1970-01-01T00:00:00Z
 * (negative before), proleptic Gregorian calendar, no time zone database.
 *
 * Decided parsing rules (the union of what export and notion accepted):
 *  - "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)"; 'T' and 'Z' may be
 *    lower case; nothing before or after (no spaces).
 *  - the date must exist (2026-02-29 is rejected), hour 0..23, minute
 *    0..59, second 0..60; a leap second 60 is read as 59.
 *  - frac is one or more digits; digits past the sixth are dropped
 *    (truncated, not rounded).
 *  - an offset is at most 23:59.
 *  - the instant, AFTER the offset is applied, must lie in years 1..9999
 *    (0001-01-01T00:00:00Z ..  9999-12-31T23:59:59.999999Z):
 *    "0001-01-01T00:00:00+23:59" is rejected, so is
 *    "9999-12-31T23:59:59-23:59".
 * Callers with a narrower range (notion: nothing before 1970) check it
 * themselves on the result.
 */
#ifndef OPS_DATE_H
#define OPS_DATE_H

#include <stddef.h>
#include <stdint.h>

#define DATE_US_PER_SEC	1000000LL
/* "YYYY-MM-DDTHH:MM:SS.ffffffZ" plus the NUL */
#define DATE_RFC3339_MAX	28

/* Parse an RFC 3339 date-time (rules above) into *us. Returns 0 or -1. */
int	date_parse_rfc3339(const char *s, int64_t *us);

/*
 * Parse an RFC 3339 full-date "YYYY-MM-DD" (nothing after it) as midnight
 * UTC into *us. Returns 0 or -1.
 */
int	date_parse_full_date(const char *s, int64_t *us);

/* How date_format_rfc3339() writes the fraction of a second. */
enum date_frac {
	DATE_FRAC_NONE,		/* never: the seconds are truncated toward the past */
	DATE_FRAC_MICRO,	/* always six digits: ".000000" */
	DATE_FRAC_SHORT,	/* only when not zero, without trailing zeros:
				 * "...:00Z", "...:00.51Z" (PostgreSQL's style) */
};

/*
 * Format us as "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" into out (outsz >=
 * DATE_RFC3339_MAX is always enough), the fraction as frac says. Returns
 * the length, or -1 when us is outside years 1..9999 or out is too small
 * (out is then "" when outsz > 0).
 */
int	date_format_rfc3339(int64_t us, enum date_frac frac, char *out,
	    size_t outsz);

#endif
