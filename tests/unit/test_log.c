/* Unit tests for lib/log: one call is one line, in both formats. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/*
 * Run one log_kv() with stderr sent to a temporary file; return what was
 * written (caller frees).
 */
static char *
capture(enum log_format fmt, const char *key, const char *val,
    const char *msg)
{
	char path[] = "/tmp/ops-test-log-XXXXXX", *out;
	int fd, saved;
	FILE *f;
	long n;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	log_init("test", LOG_DEBUG, fmt);
	log_kv(LOG_WARN, key, val, "%s", msg);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	f = fdopen(fd, "r");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	out = calloc(1, (size_t)n + 1);
	assert_non_null(out);
	assert_int_equal(fread(out, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	unlink(path);
	return out;
}

static size_t
count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/*
 * Issue 10, defect 3: a value holding a newline (a token's sub, a decoded
 * request path) must not forge a second line in text format.
 */
static void
test_text_forgery(void **state)
{
	static const char forged[] = "alice\n2026-01-01T00:00:00.000Z ops-fcgi "
	    "error: forged\r\x1b[2J\x7f";
	char *out;

	(void)state;
	out = capture(LOG_FORMAT_TEXT, "sub", forged, forged);
	assert_int_equal(count_lines(out), 1);
	assert_int_equal(out[strlen(out) - 1], '\n');
	assert_null(strchr(out, '\r'));
	assert_null(strchr(out, '\x1b'));
	assert_null(strchr(out, '\x7f'));
	assert_non_null(strstr(out, "[sub=alice\\x0a2026-01-01T00:00:00.000Z "
	    "ops-fcgi error: forged\\x0d\\x1b[2J\\x7f] alice\\x0a"));
	free(out);

	/* a backslash is doubled, so \x0a in the input stays tell-apart */
	out = capture(LOG_FORMAT_TEXT, NULL, NULL, "a\\x0ab");
	assert_non_null(strstr(out, ": a\\\\x0ab\n"));
	free(out);
}

static void
test_json_one_line(void **state)
{
	char *out;
	json_t *j;

	(void)state;
	out = capture(LOG_FORMAT_JSON, "sub", "a\nb", "m\nn");
	assert_int_equal(count_lines(out), 1);
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "sub")),
	    "a\nb");
	assert_string_equal(json_string_value(json_object_get(j, "msg")),
	    "m\nn");
	json_decref(j);
	free(out);
}

/*
 * Invalid UTF-8 (a byte from a client, a truncated sequence) must not cost
 * the JSON line its "msg" (jansson refuses such a string): each byte that
 * does not start a well-formed sequence is written as \xHH, the valid
 * characters around it are kept.
 */
static void
test_json_invalid_utf8(void **state)
{
	json_error_t jerr;
	json_t *o;
	char *out;

	(void)state;
	out = capture(LOG_FORMAT_JSON, "sub", "bob\xff", "caf\xe9 and \xc3\xa9 "
	    "and a cut \xe2\x82");
	o = json_loads(out, 0, &jerr);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "msg")),
	    "caf\\xe9 and \xc3\xa9 and a cut \\xe2\\x82");
	assert_string_equal(json_string_value(json_object_get(o, "sub")),
	    "bob\\xff");
	json_decref(o);
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_forgery),
		cmocka_unit_test(test_json_one_line),
		cmocka_unit_test(test_json_invalid_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
