#include "date.h"

#include <stdbool.h>
#include <stdio.h>

#define SECS_PER_DAY	86400LL
/* 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z in seconds */
#define MIN_SEC		(-62135596800LL)
#define END_SEC		253402300800LL

/* n decimal digits at s into *v; -1 at the first non-digit (or NUL). */
static int
digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

static bool
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
	    31 };

	return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static long long
days_from_civil(long long y, int m, int d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil (H. Hinnant). */
static void
civil_from_days(long long z, int *y, int *m, int *d)
{
	long long era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/* "YYYY-MM-DD" at s into days since the epoch; -1 when not a real date. */
static int
parse_date(const char *s, long long *days)
{
	int y, m, d;

	if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &m) ||
	    s[7] != '-' || digits(s + 8, 2, &d))
		return -1;
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		return -1;
	*days = days_from_civil(y, m, d);
	return 0;
}

int
date_parse_full_date(const char *s, int64_t *us)
{
	long long days;

	if (parse_date(s, &days) != 0 || s[10] != '\0')
		return -1;
	*us = days * SECS_PER_DAY * DATE_US_PER_SEC;
	return 0;
}

int
date_parse_rfc3339(const char *s, int64_t *us)
{
	int hh, mm, ss, oh = 0, om = 0, sign = 0, n;
	long long days, sec, frac = 0;
	const char *p;

	if (parse_date(s, &days) != 0 || (s[10] != 'T' && s[10] != 't') ||
	    digits(s + 11, 2, &hh) || s[13] != ':' || digits(s + 14, 2, &mm) ||
	    s[16] != ':' || digits(s + 17, 2, &ss))
		return -1;
	if (hh > 23 || mm > 59 || ss > 60)
		return -1;
	if (ss == 60)
		ss = 59;
	p = s + 19;
	if (*p == '.') {
		for (p++, n = 0; *p >= '0' && *p <= '9'; p++, n++)
			if (n < 6)
				frac = frac * 10 + (*p - '0');
		if (n == 0)
			return -1;
		for (; n < 6; n++)
			frac *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		if (digits(p + 1, 2, &oh) || p[3] != ':' ||
		    digits(p + 4, 2, &om) || oh > 23 || om > 59)
			return -1;
		p += 6;
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	sec = days * SECS_PER_DAY + hh * 3600LL + mm * 60LL + ss -
	    sign * (oh * 3600LL + om * 60LL);
	if (sec < MIN_SEC || sec >= END_SEC)
		return -1;
	*us = sec * DATE_US_PER_SEC + frac;
	return 0;
}

int
date_format_rfc3339(int64_t us, enum date_frac frac, char *out, size_t outsz)
{
	long long sec, rem, days, sod;
	int y, m, d, len;

	if (outsz > 0)
		out[0] = '\0';
	sec = us / DATE_US_PER_SEC;
	rem = us % DATE_US_PER_SEC;
	if (rem < 0) {
		rem += DATE_US_PER_SEC;
		sec--;
	}
	if (sec < MIN_SEC || sec >= END_SEC)
		return -1;
	days = sec / SECS_PER_DAY;
	sod = sec % SECS_PER_DAY;
	if (sod < 0) {
		sod += SECS_PER_DAY;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	if (frac == DATE_FRAC_MICRO || (frac == DATE_FRAC_SHORT && rem != 0))
		len = snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ",
		    y, m, d, (int)(sod / 3600), (int)(sod / 60 % 60),
		    (int)(sod % 60), rem);
	else
		len = snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02dZ",
		    y, m, d, (int)(sod / 3600), (int)(sod / 60 % 60),
		    (int)(sod % 60));
	if (len < 0 || (size_t)len >= outsz) {
		if (outsz > 0)
			out[0] = '\0';
		return -1;
	}
	if (frac == DATE_FRAC_SHORT && rem != 0) {
		/* "...SS.510000Z" -> "...SS.51Z" */
		while (out[len - 2] == '0')
			len--;
		out[len - 1] = 'Z';
		out[len] = '\0';
	}
	return len;
}
