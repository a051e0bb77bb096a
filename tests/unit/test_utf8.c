/* utf8: the one decoder and encoder (sanitize, lockstate, notion). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "utf8.h"

static void
test_decode(void **state)
{
	static const struct {
		const char *s;
		size_t n;	/* bytes available */
		size_t len;	/* want: 0 invalid */
		uint32_t cp;
	} cases[] = {
		{ "A", 1, 1, 0x41 },
		{ "\0", 1, 1, 0 },
		{ "\x7f", 1, 1, 0x7f },
		{ "\xc2\x80", 2, 2, 0x80 },
		{ "\xc3\xa9", 2, 2, 0xe9 },
		{ "\xdf\xbf", 2, 2, 0x7ff },
		{ "\xe0\xa0\x80", 3, 3, 0x800 },
		{ "\xe2\x82\xac", 3, 3, 0x20ac },
		{ "\xed\x9f\xbf", 3, 3, 0xd7ff },
		{ "\xee\x80\x80", 3, 3, 0xe000 },
		{ "\xef\xbf\xbf", 3, 3, 0xffff },
		{ "\xf0\x90\x80\x80", 4, 4, 0x10000 },
		{ "\xf0\x9f\x98\x80", 4, 4, 0x1f600 },
		{ "\xf4\x8f\xbf\xbf", 4, 4, 0x10ffff },
		/* stray continuation bytes, bytes never used */
		{ "\x80", 1, 0, 0 },
		{ "\xbf", 1, 0, 0 },
		{ "\xfe", 1, 0, 0 },
		{ "\xff", 1, 0, 0 },
		/* overlong */
		{ "\xc0\x80", 2, 0, 0 },
		{ "\xc1\xbf", 2, 0, 0 },
		{ "\xe0\x80\x80", 3, 0, 0 },
		{ "\xe0\x9f\xbf", 3, 0, 0 },
		{ "\xf0\x80\x80\x80", 4, 0, 0 },
		{ "\xf0\x8f\xbf\xbf", 4, 0, 0 },
		/* surrogates */
		{ "\xed\xa0\x80", 3, 0, 0 },
		{ "\xed\xbf\xbf", 3, 0, 0 },
		/* past U+10FFFF */
		{ "\xf4\x90\x80\x80", 4, 0, 0 },
		{ "\xf5\x80\x80\x80", 4, 0, 0 },
		{ "\xf7\xbf\xbf\xbf", 4, 0, 0 },
		/* bad continuation, including a NUL terminator */
		{ "\xc3\x41", 2, 0, 0 },
		{ "\xc3\xc3", 2, 0, 0 },
		{ "\xe2\x82\x41", 3, 0, 0 },
		{ "\xf0\x9f\x98\x41", 4, 0, 0 },
		{ "\xc3", 2, 0, 0 },
		{ "\xe2\x82", 3, 0, 0 },
		/* truncated: fewer bytes available than the sequence needs */
		{ "\xc3\xa9", 1, 0, 0 },
		{ "\xe2\x82\xac", 2, 0, 0 },
		{ "\xf0\x9f\x98\x80", 3, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t cp = 0xdeadbeef;
		size_t len = utf8_decode((const unsigned char *)cases[i].s,
		    cases[i].n, &cp);

		if (len != cases[i].len)
			fail_msg("case %zu: length %zu, want %zu", i, len,
			    cases[i].len);
		if (len > 0 && cp != cases[i].cp)
			fail_msg("case %zu: U+%04X, want U+%04X", i,
			    (unsigned)cp, (unsigned)cases[i].cp);
		if (len == 0 && cp != 0xdeadbeef)
			fail_msg("case %zu: cp written on error", i);
		/* cp may be NULL */
		assert_int_equal(utf8_decode((const unsigned char *)
		    cases[i].s, cases[i].n, NULL), cases[i].len);
	}
}

static void
test_round_trip(void **state)
{
	unsigned char d[UTF8_MAX_LEN];
	uint32_t cp, back;
	size_t n;

	(void)state;
	for (cp = 0; cp <= 0x10ffff; cp++) {
		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		n = utf8_encode(d, cp);
		assert_true(n == (cp < 0x80 ? 1u : cp < 0x800 ? 2u :
		    cp < 0x10000 ? 3u : 4u));
		assert_int_equal(utf8_decode(d, n, &back), n);
		if (back != cp)
			fail_msg("U+%04X decodes to U+%04X", (unsigned)cp,
			    (unsigned)back);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
