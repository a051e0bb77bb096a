/* request: the parsers of fcgi/request.c (path, request id, query string). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "request.h"

/* A request built from CGI parameters only (no streams are touched). */
static void
init(struct request *r, FCGX_Request *fx, char **envp)
{
	static const struct app app;

	memset(fx, 0, sizeof(*fx));
	fx->envp = envp;
	request_init(r, fx, &app, NULL);
}

static void
test_path(void **state)
{
	static const struct {
		const char *uri, *path, *query;
	} cases[] = {
		{ "/healthz", "/healthz", "" },
		{ "/a%20b/c?x=1", "/a b/c", "x=1" },
		{ "/a+b", "/a+b", "" },			/* '+' is literal */
		{ "/%41%62", "/Ab", "" },
		{ "/x?", "/x", "" },
		{ "/x?a=1?b", "/x", "a=1?b" },
		/* undecodable: matches no route */
		{ "/%zz", "/\x01invalid", "" },
		{ "/%4", "/\x01invalid", "" },
		{ "/%00", "/\x01invalid", "" },
		{ "/a%", "/\x01invalid", "" },
	};
	struct request r;
	FCGX_Request fx;
	char uri[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *envp[] = { uri, NULL };

		snprintf(uri, sizeof(uri), "REQUEST_URI=%s", cases[i].uri);
		init(&r, &fx, envp);
		if (strcmp(r.path, cases[i].path) != 0)
			fail_msg("%s: path \"%s\", want \"%s\"", cases[i].uri,
			    r.path, cases[i].path);
		assert_string_equal(r.query, cases[i].query);
		assert_string_equal(r.method, "GET");	/* the default */
		request_finish(&r);
	}
	{
		/* no REQUEST_URI: "/"; a path longer than the buffer: invalid */
		char *none[] = { "REQUEST_METHOD=POST", NULL };
		static char longuri[sizeof(r.path) + 32];
		char *envp[] = { longuri, NULL };

		init(&r, &fx, none);
		assert_string_equal(r.path, "/");
		assert_string_equal(r.method, "POST");
		memset(longuri, 'a', sizeof(longuri) - 1);
		memcpy(longuri, "REQUEST_URI=/", 13);
		init(&r, &fx, envp);
		assert_string_equal(r.path, "/\x01invalid");
	}
}

static void
test_request_id(void **state)
{
	struct request r;
	FCGX_Request fx;

	(void)state;
	{
		char *envp[] = { "REQUEST_ID=0123456789abcdef0123456789abcdef",
		    NULL };

		init(&r, &fx, envp);
		assert_string_equal(r.request_id,
		    "0123456789abcdef0123456789abcdef");
	}
	{
		/* unsafe or missing ids are replaced by 32 fresh hex digits */
		static const char *bad[] = { "REQUEST_ID=a b", "REQUEST_ID=",
		    "REQUEST_ID=x\"y", "REQUEST_ID=<script>", NULL };
		char prev[64] = "";

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			char *envp[] = { (char *)bad[i], NULL };

			init(&r, &fx, envp);
			assert_int_equal(strlen(r.request_id), 32);
			assert_int_equal(strspn(r.request_id,
			    "0123456789abcdef"), 32);
			assert_string_not_equal(r.request_id, prev);
			snprintf(prev, sizeof(prev), "%s", r.request_id);
		}
	}
	{
		char id[80] = "REQUEST_ID=";
		char *envp[] = { id, NULL };

		/* 63 characters are kept, 64 are not */
		memset(id + 11, 'a', 63);
		init(&r, &fx, envp);
		assert_int_equal(strlen(r.request_id), 63);
		id[11 + 63] = 'a';
		init(&r, &fx, envp);
		assert_int_equal(strlen(r.request_id), 32);
	}
}

static void
test_query(void **state)
{
	char *envp[] = {
	    "REQUEST_URI=/x?state=DONE&tenant=a%2Fb&q=a+b&empty&e2=&n=%00&"
	    "bad=%4&long=0123456789", NULL };
	struct request r;
	FCGX_Request fx;
	char out[8];

	(void)state;
	init(&r, &fx, envp);
	assert_int_equal(request_query(&r, "state", out, sizeof(out)), 1);
	assert_string_equal(out, "DONE");
	assert_int_equal(request_query(&r, "tenant", out, sizeof(out)), 1);
	assert_string_equal(out, "a/b");
	assert_int_equal(request_query(&r, "q", out, sizeof(out)), 1);
	assert_string_equal(out, "a b");		/* '+' is a space here */
	assert_int_equal(request_query(&r, "empty", out, sizeof(out)), 1);
	assert_string_equal(out, "");
	assert_int_equal(request_query(&r, "e2", out, sizeof(out)), 1);
	assert_string_equal(out, "");
	assert_int_equal(request_query(&r, "n", out, sizeof(out)), -1);
	assert_int_equal(request_query(&r, "bad", out, sizeof(out)), -1);
	/* longer than outsz - 1 */
	assert_int_equal(request_query(&r, "long", out, sizeof(out)), -1);
	/* absent; a prefix of a name is not the name */
	assert_int_equal(request_query(&r, "missing", out, sizeof(out)), 0);
	assert_int_equal(request_query(&r, "stat", out, sizeof(out)), 0);
	assert_int_equal(request_query(&r, "tenantx", out, sizeof(out)), 0);
}

static void
test_query_check(void **state)
{
	static const char *const known[] = { "state", "limit", NULL };
	char *envp[] = {
	    "REQUEST_URI=/x?state=DONE&&limit=1&requestedby=me&limit=2&%ff=1&"
	    "%20=1&=3", NULL };
	char *ok[] = { "REQUEST_URI=/x?state=DONE&limit=2&", NULL };
	struct request r;
	FCGX_Request fx;
	json_t *d = json_array();

	(void)state;
	init(&r, &fx, envp);
	assert_int_equal(request_query_check(&r, known, d), 5);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(d, 0), "field")), "requestedby");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(d, 1), "field")), "limit");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(d, 2), "field")), "query");
	json_decref(d);
	d = json_array();
	init(&r, &fx, ok);
	assert_int_equal(request_query_check(&r, known, d), 0);
	assert_int_equal(json_array_size(d), 0);
	json_decref(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_request_id),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_query_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
