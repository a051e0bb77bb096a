/* export_runner: the pure parts of a run (a COPY row, the filter parameters). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "export_runner.h"

static void
test_row_parse(void **state)
{
	char line[] = "42\tacme\t2026-10-01T00:00:37.000000Z\talice\tuser.login"
	    "\tuser\tu-1\t10.0.0.1\t\\N\t{\"k\": \"a\\\\tb\"}\n";
	struct export_row row;

	(void)state;
	assert_int_equal(runner_row_parse(line, strlen(line), &row), 0);
	assert_string_equal(row.id, "42");
	assert_string_equal(row.tenant_id, "acme");
	assert_string_equal(row.occurred_at, "2026-10-01T00:00:37.000000Z");
	assert_string_equal(row.actor_id, "alice");
	assert_string_equal(row.action, "user.login");
	assert_string_equal(row.target_type, "user");
	assert_string_equal(row.target_id, "u-1");
	assert_string_equal(row.ip, "10.0.0.1");
	assert_null(row.request_id);			/* \N */
	assert_string_equal(row.payload, "{\"k\": \"a\\tb\"}");
	assert_int_equal(row.payload_len, strlen("{\"k\": \"a\\tb\"}"));
}

static void
test_row_parse_refuses(void **state)
{
	char nine[] = "1\t2\t3\t4\t5\t6\t7\t8\t9\n";
	char eleven[] = "1\t2\t3\t4\t5\t6\t7\t8\t9\t10\t11\n";
	char no_lf[] = "1\t2\t3\t4\t5\t6\t7\t8\t9\t10";
	char null_id[] = "\\N\t2\t3\t4\t5\t6\t7\t8\t9\t10\n";
	struct export_row row;

	(void)state;
	assert_int_equal(runner_row_parse(nine, strlen(nine), &row), -1);
	assert_int_equal(runner_row_parse(eleven, strlen(eleven), &row), -1);
	assert_int_equal(runner_row_parse(no_lf, strlen(no_lf), &row), -1);
	assert_int_equal(runner_row_parse(null_id, strlen(null_id), &row), -1);
}

static void
test_filter_params(void **state)
{
	char actor[257], err[256], *actions;
	char long_actor[400];

	(void)state;
	assert_int_equal(runner_filter_params("{}", &actions, actor,
	    sizeof(actor), err, sizeof(err)), 0);
	assert_null(actions);
	assert_string_equal(actor, "");

	assert_int_equal(runner_filter_params("{\"actions\": [\"a.b\", \"c\"], "
	    "\"actor_id\": \"alice\"}", &actions, actor, sizeof(actor), err,
	    sizeof(err)), 0);
	assert_string_equal(actions, "[\"a.b\",\"c\"]");
	assert_string_equal(actor, "alice");
	free(actions);

	/* unreadable filters are an error with the cause, never "any" */
	assert_int_equal(runner_filter_params("{\"actor_id\": \"x\", \"n\": "
	    "100000000000000000000000000000}", &actions, actor, sizeof(actor),
	    err, sizeof(err)), -1);
	assert_null(actions);
	assert_non_null(strstr(err, "the job's stored filters cannot be read: "
	    "too big integer"));
	assert_int_equal(runner_filter_params("[1]", &actions, actor,
	    sizeof(actor), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a JSON object"));

	/* an actor that does not fit is refused, not cut to another actor */
	memset(long_actor, 'a', sizeof(long_actor));
	memcpy(long_actor, "{\"actor_id\": \"", 14);
	memcpy(long_actor + 14 + 300, "\"}", 3);
	assert_int_equal(runner_filter_params(long_actor, &actions, actor,
	    sizeof(actor), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "actor_id is longer than 256 bytes"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_row_parse),
		cmocka_unit_test(test_row_parse_refuses),
		cmocka_unit_test(test_filter_params),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
