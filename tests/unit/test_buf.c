/* buf: the growable byte buffer (lib/buf.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "buf.h"

static void
test_empty(void **state)
{
	struct buf a = BUF_INIT, b;
	char *p;
	size_t len = 99;

	(void)state;
	buf_init(&b);
	/* NUL-terminated from the start, data never NULL, nothing owned */
	assert_non_null(a.data);
	assert_string_equal(a.data, "");
	assert_ptr_equal(a.data, buf_slopbuf);
	assert_ptr_equal(b.data, buf_slopbuf);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_str(&b), "");
	buf_reset(&b);
	assert_int_equal(buf_slopbuf[0], '\0');
	buf_free(&b);		/* nothing to free */
	assert_ptr_equal(b.data, buf_slopbuf);
	/* detach of an empty buffer: an owned "" */
	p = buf_detach(&a, &len);
	assert_ptr_not_equal(p, buf_slopbuf);
	assert_string_equal(p, "");
	assert_int_equal(len, 0);
	free(p);
	assert_ptr_equal(a.data, buf_slopbuf);
	/* appending nothing still leaves a valid string */
	buf_append(&a, "", 0);
	assert_string_equal(a.data, "");
	buf_free(&a);
}

static void
test_append(void **state)
{
	struct buf b = BUF_INIT;
	char big[5000];
	size_t len;
	char *p;

	(void)state;
	buf_appends(&b, "abc");
	buf_appendc(&b, '-');
	buf_append(&b, "x\0y", 3);		/* NUL bytes are data */
	assert_int_equal(b.len, 7);
	assert_memory_equal(b.data, "abc-x\0y", 8);
	assert_int_equal(b.data[b.len], '\0');
	buf_appendf(&b, "%d:%s", 42, "z");
	assert_int_equal(b.len, 11);
	assert_memory_equal(b.data + 7, "42:z", 5);
	/* an appendf longer than the first guess, and growth past 4 KiB */
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_appendf(&b, "[%s]", big);
	assert_int_equal(b.len, 11 + sizeof(big) + 1);
	assert_int_equal(b.data[b.len - 1], ']');
	assert_int_equal(b.data[b.len], '\0');
	assert_true(b.cap > b.len);
	/* reset keeps the allocation */
	p = b.data;
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_ptr_equal(b.data, p);
	assert_string_equal(b.data, "");
	buf_appends(&b, "again");
	p = buf_detach(&b, &len);
	assert_string_equal(p, "again");
	assert_int_equal(len, 5);
	assert_ptr_equal(b.data, buf_slopbuf);
	assert_int_equal(b.len, 0);
	free(p);
	/* grow reserves without changing the contents */
	buf_grow(&b, 100);
	assert_true(b.cap >= 101);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	buf_free(&b);
	assert_ptr_equal(b.data, buf_slopbuf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_append),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
