/* date: the one RFC 3339 parser and formatter (union of export and notion). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "date.h"

#define US	DATE_US_PER_SEC

static void
test_parse(void **state)
{
	static const struct {
		const char *s;
		int ok;
		int64_t us;
	} cases[] = {
		/* what export accepted */
		{ "2026-10-01T00:00:00Z", 0, 1790812800LL * US },
		{ "2026-10-01t00:00:00z", 0, 1790812800LL * US },
		{ "2026-10-01T02:00:00+02:00", 0, 1790812800LL * US },
		{ "2026-09-30T22:30:00-01:30", 0, 1790812800LL * US },
		{ "2026-10-01T00:00:00.5Z", 0, 1790812800LL * US + 500000 },
		{ "2026-10-01T00:00:00.1234567Z", 0, 1790812800LL * US + 123456 },
		{ "2024-02-29T00:00:00Z", 0, 1709164800LL * US },
		{ "1970-01-01T00:00:00Z", 0, 0 },
		{ "1969-12-31T23:59:59.999999Z", 0, -1 },
		/* leap second read as :59 (both old parsers) */
		{ "2016-12-31T23:59:60Z", 0, 1483228799LL * US },
		/* what notion accepted too: offsets up to 23:59 */
		{ "2026-10-01T23:59:00+23:59", 0, 1790812800LL * US },
		/* the year range, checked after the offset */
		{ "0001-01-01T00:00:00Z", 0, -62135596800LL * US },
		{ "9999-12-31T23:59:59.999999Z", 0, 253402300799LL * US + 999999 },
		{ "0001-01-01T00:00:00+23:59", -1, 0 },
		{ "0001-01-01T00:00:00+00:01", -1, 0 },
		{ "0001-01-01T00:00:00-00:01", 0, (-62135596800LL + 60) * US },
		{ "9999-12-31T23:59:59-23:59", -1, 0 },
		{ "9999-12-31T23:59:59-00:01", -1, 0 },
		{ "0000-12-31T23:00:00Z", -1, 0 },
		/* rejected */
		{ "2026-02-29T00:00:00Z", -1, 0 },
		{ "2026-04-31T00:00:00Z", -1, 0 },
		{ "2026-10-01", -1, 0 },
		{ "2026-10-01T00:00:00", -1, 0 },
		{ "2026-10-01 00:00:00Z", -1, 0 },
		{ "2026-13-01T00:00:00Z", -1, 0 },
		{ "2026-00-01T00:00:00Z", -1, 0 },
		{ "2026-10-00T00:00:00Z", -1, 0 },
		{ "2026-10-01T24:00:00Z", -1, 0 },
		{ "2026-10-01T00:60:00Z", -1, 0 },
		{ "2026-10-01T00:00:61Z", -1, 0 },
		{ "2026-10-01T00:00:00.Z", -1, 0 },
		{ "2026-10-01T00:00:00+0200", -1, 0 },
		{ "2026-10-01T00:00:00+24:00", -1, 0 },
		{ "2026-10-01T00:00:00+02:60", -1, 0 },
		{ "2026-10-01T00:00:00Zjunk", -1, 0 },
		{ "2026-10-01T00:00:00Z ", -1, 0 },
		{ " 2026-10-01T00:00:00Z", -1, 0 },
		{ "+2026-10-01T00:00:00Z", -1, 0 },
		{ "2026-1-01T00:00:00Z", -1, 0 },
		{ "2026-10-01T00:00", -1, 0 },
		{ "", -1, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t us = 42;
		int rc = date_parse_rfc3339(cases[i].s, &us);

		if (rc != cases[i].ok)
			fail_msg("\"%s\": rc %d, want %d", cases[i].s, rc,
			    cases[i].ok);
		if (rc == 0 && us != cases[i].us)
			fail_msg("\"%s\": %lld, want %lld", cases[i].s,
			    (long long)us, (long long)cases[i].us);
		if (rc != 0 && us != 42)
			fail_msg("\"%s\": output written on error", cases[i].s);
	}
}

static void
test_full_date(void **state)
{
	int64_t us;

	(void)state;
	assert_int_equal(date_parse_full_date("2026-10-01", &us), 0);
	assert_int_equal(us, 1790812800LL * US);
	assert_int_equal(date_parse_full_date("1970-01-01", &us), 0);
	assert_int_equal(us, 0);
	assert_int_equal(date_parse_full_date("0001-01-01", &us), 0);
	assert_int_equal(us, -62135596800LL * US);
	assert_int_equal(date_parse_full_date("2024-02-29", &us), 0);
	assert_int_equal(date_parse_full_date("2026-02-29", &us), -1);
	assert_int_equal(date_parse_full_date("2026-10-01T00:00:00Z", &us), -1);
	assert_int_equal(date_parse_full_date("2026-10-1", &us), -1);
	assert_int_equal(date_parse_full_date("0000-01-01", &us), -1);
	assert_int_equal(date_parse_full_date("", &us), -1);
}

static void
test_format(void **state)
{
	char out[DATE_RFC3339_MAX], small[20];
	int64_t back;

	(void)state;
	assert_int_equal(date_format_rfc3339(0, DATE_FRAC_MICRO, out, sizeof(out)), 27);
	assert_string_equal(out, "1970-01-01T00:00:00.000000Z");
	assert_int_equal(date_format_rfc3339(0, DATE_FRAC_NONE, out, sizeof(out)), 20);
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	date_format_rfc3339(1790812800LL * US + 123456, DATE_FRAC_MICRO, out, sizeof(out));
	assert_string_equal(out, "2026-10-01T00:00:00.123456Z");
	/* before the epoch: the fraction counts forward from the second */
	date_format_rfc3339(-1, DATE_FRAC_MICRO, out, sizeof(out));
	assert_string_equal(out, "1969-12-31T23:59:59.999999Z");
	date_format_rfc3339(-1, DATE_FRAC_NONE, out, sizeof(out));
	assert_string_equal(out, "1969-12-31T23:59:59Z");
	date_format_rfc3339(1709164800LL * US, DATE_FRAC_NONE, out, sizeof(out));
	assert_string_equal(out, "2024-02-29T00:00:00Z");
	date_format_rfc3339(-62135596800LL * US, DATE_FRAC_MICRO, out, sizeof(out));
	assert_string_equal(out, "0001-01-01T00:00:00.000000Z");
	date_format_rfc3339(253402300799LL * US + 999999, DATE_FRAC_MICRO, out,
	    sizeof(out));
	assert_string_equal(out, "9999-12-31T23:59:59.999999Z");
	/* short: the fraction only when not zero, without trailing zeros */
	assert_int_equal(date_format_rfc3339(1790812800LL * US + 510000,
	    DATE_FRAC_SHORT, out, sizeof(out)), 23);
	assert_string_equal(out, "2026-10-01T00:00:00.51Z");
	date_format_rfc3339(1790812800LL * US + 1, DATE_FRAC_SHORT, out,
	    sizeof(out));
	assert_string_equal(out, "2026-10-01T00:00:00.000001Z");
	date_format_rfc3339(1790812800LL * US, DATE_FRAC_SHORT, out,
	    sizeof(out));
	assert_string_equal(out, "2026-10-01T00:00:00Z");
	/* outside years 1..9999, or no room */
	assert_int_equal(date_format_rfc3339(-62135596800LL * US - 1, DATE_FRAC_MICRO,
	    out, sizeof(out)), -1);
	assert_string_equal(out, "");
	assert_int_equal(date_format_rfc3339(253402300800LL * US, DATE_FRAC_MICRO, out,
	    sizeof(out)), -1);
	assert_int_equal(date_format_rfc3339(0, DATE_FRAC_MICRO, small, sizeof(small)),
	    -1);
	assert_string_equal(small, "");
	/* round trip over a spread of instants, every day for 400 years */
	for (int64_t d = -200 * 366; d < 200 * 366; d += 1) {
		int64_t us = d * 86400LL * US + (d * 7919 % 86400) * US +
		    (d & 0xfffff);

		if (d * 7919 % 86400 < 0)
			us += 86400LL * US;
		assert_true(date_format_rfc3339(us, DATE_FRAC_MICRO, out, sizeof(out)) ==
		    27);
		assert_int_equal(date_parse_rfc3339(out, &back), 0);
		if (back != us)
			fail_msg("%lld -> %s -> %lld", (long long)us, out,
			    (long long)back);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_full_date),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
