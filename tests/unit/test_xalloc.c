/* xalloc: allocation that cannot fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static void
test_xalloc(void **state)
{
	char *s, *t;
	int *v;

	(void)state;
	/* zero sizes still give distinct, freeable pointers */
	s = xmalloc(0);
	t = xmalloc(0);
	assert_non_null(s);
	assert_non_null(t);
	assert_ptr_not_equal(s, t);
	free(s);
	free(t);
	v = xcalloc(4, sizeof(*v));
	assert_int_equal(v[0] | v[1] | v[2] | v[3], 0);
	v = xreallocarray(v, 1000, sizeof(*v));
	v[999] = 7;
	v = xrealloc(v, 0);
	assert_non_null(v);
	free(v);
	s = xstrdup("hello");
	assert_string_equal(s, "hello");
	free(s);
	s = xstrndup("hello", 3);
	assert_string_equal(s, "hel");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xalloc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
