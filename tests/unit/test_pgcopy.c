/* Unit tests for lib/pgcopy: COPY TEXT line splitting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pgcopy.h"

#define MAXF	12

struct tcase {
	const char	*line;
	size_t		 len;		/* 0: strlen(line) */
	int		 n;		/* expected count, -1: malformed */
	const char	*f[MAXF];	/* expected fields; NULL is SQL NULL */
	size_t		 flen[MAXF];	/* 0: strlen(f[i]) */
};

static void
run(const struct tcase *t, size_t maxf)
{
	char *line, *fields[MAXF];
	size_t len, lens[MAXF], want;
	int n, i;

	len = t->len ? t->len : strlen(t->line);
	/* no terminating NUL past len: ASan catches reads past the line */
	line = malloc(len);
	assert_non_null(line);
	memcpy(line, t->line, len);
	n = pgcopy_split(line, len, fields, lens, maxf);
	if (n != t->n)
		fail_msg("%s: want %d fields, got %d", t->line, t->n, n);
	for (i = 0; i < n; i++) {
		if (t->f[i] == NULL) {
			assert_null(fields[i]);
			assert_int_equal(lens[i], 0);
			continue;
		}
		want = t->flen[i] ? t->flen[i] : strlen(t->f[i]);
		if (fields[i] == NULL)
			fail_msg("%s: field %d is NULL", t->line, i);
		assert_int_equal(lens[i], want);
		assert_memory_equal(fields[i], t->f[i], want);
		assert_int_equal(fields[i][want], '\0');
	}
	free(line);
}

static void
test_split(void **state)
{
	static const struct tcase t[] = {
		{ "a\tb\tc\n", 0, 3, { "a", "b", "c" }, { 0 } },
		{ "\n", 0, 1, { "" }, { 0 } },
		{ "\t\n", 0, 2, { "", "" }, { 0 } },
		{ "a\t\t\tb\n", 0, 4, { "a", "", "", "b" }, { 0 } },
		/* NULL only when the raw field is exactly \N */
		{ "\\N\tx\t\\N\n", 0, 3, { NULL, "x", NULL }, { 0 } },
		{ "\\N\n", 0, 1, { NULL }, { 0 } },
		{ "\\Nx\t\\\\N\t\\n\n", 0, 3, { "Nx", "\\N", "\n" }, { 0 } },
		/* the escapes */
		{ "\\b\\f\\n\\r\\t\\v\\\\\n", 0, 1, { "\b\f\n\r\t\v\\" },
		  { 0 } },
		{ "a\\tb\tc\\\\td\n", 0, 2, { "a\tb", "c\\td" }, { 0 } },
		{ "\\101\\60\\7x\\1010\n", 0, 1, { "A0\axA0" }, { 0 } },
		{ "\\377\\1411\n", 0, 1, { "\xff" "a1" }, { 0 } },
		{ "\\x41\\x4a\\x4\\xg\\x\n", 0, 1, { "AJ\x04xgx" }, { 0 } },
		{ "\\q\\\"\\'\\.\\ \n", 0, 1, { "q\"'. " }, { 0 } },
		/* escaped tab and backslash inside JSON payload */
		{ "7\t{\"a\": \"x\\\\ty\\\\\\\\z\"}\n", 0, 2,
		  { "7", "{\"a\": \"x\\ty\\\\z\"}" }, { 0 } },
		/* long fields: escapes and separators past the 8-byte steps */
		{ "abcdefghijklmnop\\tqrstuvwxyz0123\tABCDEFGHIJKLMNOPQRS\n", 0,
		  2, { "abcdefghijklmnop\tqrstuvwxyz0123",
		  "ABCDEFGHIJKLMNOPQRS" }, { 0 } },
		{ "0123456789abcdef\\\\0123456789abcdef\\n\n", 0, 1,
		  { "0123456789abcdef\\0123456789abcdef\n" }, { 0 } },
		/* other control bytes are data (COPY does not escape them) */
		{ "abcdefghijklmnop\x01qrstuvwxyz\x1f\x0b\x0c\n", 0, 1,
		  { "abcdefghijklmnop\x01qrstuvwxyz\x1f\x0b\x0c" }, { 0 } },
		{ "\x01\t\x7f\n", 0, 2, { "\x01", "\x7f" }, { 0 } },
		/* UTF-8 passes through */
		{ "\xc3\xa9\t\xf0\x9f\x98\x80\n", 0, 2,
		  { "\xc3\xa9", "\xf0\x9f\x98\x80" }, { 0 } },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		run(&t[i], MAXF);
}

static void
test_malformed(void **state)
{
	static const struct tcase t[] = {
		{ "a\tb", 0, -1, { 0 }, { 0 } },		/* no \n */
		{ "", 0, -1, { 0 }, { 0 } },
		{ "a\\\n", 0, -1, { 0 }, { 0 } },	/* \ at end */
		{ "a\\\nb\n", 0, -1, { 0 }, { 0 } },	/* \ + raw LF */
		{ "a\\\rb\n", 0, -1, { 0 }, { 0 } },	/* \ + raw CR */
		{ "abcdefghijklmnopq\\\nrs\n", 0, -1, { 0 }, { 0 } },
		{ "a\nb\n", 0, -1, { 0 }, { 0 } },	/* raw LF */
		{ "a\rb\n", 0, -1, { 0 }, { 0 } },	/* raw CR */
		{ "a\0b\n", 4, -1, { 0 }, { 0 } },	/* raw NUL */
		{ "a\\0b\n", 0, -1, { 0 }, { 0 } },	/* \0 */
		{ "a\\000\n", 0, -1, { 0 }, { 0 } },
		{ "a\\x00\n", 0, -1, { 0 }, { 0 } },
		{ "a\\400\n", 0, -1, { 0 }, { 0 } },	/* 0400 & 0377 */
		{ "abcdefghijklmnop\rqrst\n", 0, -1, { 0 }, { 0 } },
		{ "abcdefghijklmnopqrst\0uvw\n", 24, -1, { 0 }, { 0 } },
		{ "abcdefghijklmnopq\\\n", 0, -1, { 0 }, { 0 } },
		{ "abcdefghijklmnopq\\x00rst\n", 0, -1, { 0 }, { 0 } },
		{ "1\t2\t3\t4\t5\t6\t7\t8\t9\t10\t11\t12\t13\n", 0, -1,
		  { 0 }, { 0 } },
	};
	static const struct tcase three = { "a\tb\tc\n", 0, 3,
	    { "a", "b", "c" }, { 0 } };
	static const struct tcase four = { "a\tb\tc\td\n", 0, -1, { 0 },
	    { 0 } };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		run(&t[i], MAXF);
	run(&three, 3);
	run(&four, 3);
	run(&three, MAXF);
}

static void
test_audit_row(void **state)
{
	/* a line as the export query produces it */
	static const struct tcase t = {
		"123\tacme\t2026-01-02T03:04:05.123456Z\t\\N\tuser.login\t"
		"user\t\\N\t10.0.0.1\treq\\tx\t{\"k\": \"a\\\\nb\"}\n",
		0, 10,
		{ "123", "acme", "2026-01-02T03:04:05.123456Z", NULL,
		  "user.login", "user", NULL, "10.0.0.1", "req\tx",
		  "{\"k\": \"a\\nb\"}" },
		{ 0 },
	};
	char line[256], *fields[10];
	size_t lens[10];

	(void)state;
	run(&t, 10);
	run(&t, MAXF);
	assert_true(strlen(t.line) < sizeof(line));
	memcpy(line, t.line, strlen(t.line) + 1);
	assert_int_equal(pgcopy_split(line, strlen(line), fields, lens, 10),
	    10);
	assert_string_equal(fields[8], "req\tx");
	assert_string_equal(fields[9], "{\"k\": \"a\\nb\"}");
	assert_int_equal(lens[9], strlen(fields[9]));
	assert_int_equal(pgcopy_split(line, 0, fields, lens, 10), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_audit_row),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
