/* routes: pattern matching of the route table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "routes.h"

struct match_case {
	const char	*pattern;
	const char	*path;
	bool		 match;
	size_t		 np;
	const char	*p0, *p1;
};

static const struct match_case cases[] = {
	{ "/healthz", "/healthz", true, 0, NULL, NULL },
	{ "/healthz", "/healthz/", false, 0, NULL, NULL },
	{ "/healthz", "/health", false, 0, NULL, NULL },
	{ "/healthz", "/healthzz", false, 0, NULL, NULL },
	{ "/healthz", "healthz", false, 0, NULL, NULL },
	{ "/a/{id}", "/a/123", true, 1, "123", NULL },
	{ "/a/{id}", "/a/", false, 0, NULL, NULL },
	{ "/a/{id}", "/a", false, 0, NULL, NULL },
	{ "/a/{id}", "/a/1/2", false, 0, NULL, NULL },
	{ "/a/{id}/download", "/a/x-y/download", true, 1, "x-y", NULL },
	{ "/a/{id}/download", "/a/x-y/downloads", false, 0, NULL, NULL },
	{ "/l/{name}/r/{x}", "/l/one/r/two", true, 2, "one", "two" },
	{ "/l/{name}/r/{x}", "/l/one/s/two", false, 0, NULL, NULL },
	{ "/", "/", true, 0, NULL, NULL },
	{ "/a//b", "/a//b", true, 0, NULL, NULL },
};

static void
test_match_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct match_case *c = &cases[i];
		char *params[4];
		size_t np = 99;
		bool m = route_match(c->pattern, c->path, params, 4, &np);

		if (m != c->match)
			fail_msg("case %zu: %s vs %s: expected %d", i,
			    c->pattern, c->path, c->match);
		assert_int_equal(np, c->match ? c->np : 0);
		if (c->np > 0 && m)
			assert_string_equal(params[0], c->p0);
		if (c->np > 1 && m)
			assert_string_equal(params[1], c->p1);
		for (size_t k = 0; k < np; k++)
			free(params[k]);
	}
}

static void
test_too_many_params(void **state)
{
	char *params[1];
	size_t np;

	(void)state;
	assert_false(route_match("/l/{a}/{b}", "/l/1/2", params, 1, &np));
	assert_int_equal(np, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_table),
		cmocka_unit_test(test_too_many_params),
	};

	return cmocka_run_group_tests_name("routes", tests, NULL, NULL);
}
