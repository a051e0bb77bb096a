/* db: the pure parts: the failure classifier's rule and the cause's text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "db.h"

static void
test_classify(void **state)
{
	static const struct {
		const char	*sqlstate;
		bool		 connected;
		enum db_err	 want;
	} cases[] = {
		/* class 08: connection exception */
		{ "08006", true, DB_ERR_UNAVAILABLE },
		{ "08001", true, DB_ERR_UNAVAILABLE },
		/* 57P: admin shutdown, crash shutdown, cannot connect now */
		{ "57P01", true, DB_ERR_UNAVAILABLE },
		{ "57P02", true, DB_ERR_UNAVAILABLE },
		{ "57P03", true, DB_ERR_UNAVAILABLE },
		/* 57014 (statement timeout) is the statement, not the server */
		{ "57014", true, DB_ERR_QUERY },
		{ "23505", true, DB_ERR_QUERY },
		{ "42501", true, DB_ERR_QUERY },
		{ "55P03", true, DB_ERR_QUERY },	/* lock_timeout */
		{ "40001", true, DB_ERR_QUERY },	/* serialization */
		/* no SQLSTATE came back */
		{ NULL, true, DB_ERR_QUERY },
		/* whatever the state, a connection that is down is down */
		{ NULL, false, DB_ERR_UNAVAILABLE },
		{ "23505", false, DB_ERR_UNAVAILABLE },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (db_classify(cases[i].sqlstate, cases[i].connected) !=
		    cases[i].want)
			fail_msg("db_classify(%s, %d) is wrong",
			    cases[i].sqlstate ? cases[i].sqlstate : "NULL",
			    cases[i].connected);
}

static void
test_error_text(void **state)
{
	struct db db;
	char buf[1024];

	(void)state;
	memset(&db, 0, sizeof(db));
	assert_string_equal(db_error_text(&db, buf, sizeof(buf)),
	    "no database error recorded");

	db.err = DB_ERR_QUERY;
	snprintf(db.sqlstate, sizeof(db.sqlstate), "23505");
	snprintf(db.errmsg, sizeof(db.errmsg), "duplicate key value violates "
	    "unique constraint \"k\"");
	snprintf(db.detail, sizeof(db.detail), "Key (id)=(1) already exists.");
	snprintf(db.hint, sizeof(db.hint), "retry");
	assert_string_equal(db_error_text(&db, buf, sizeof(buf)),
	    "sqlstate 23505: duplicate key value violates unique constraint "
	    "\"k\"; detail: Key (id)=(1) already exists.; hint: retry");
	assert_true(db_failed_with(&db, "23505"));
	assert_false(db_failed_with(&db, "23503"));

	/* no detail, no hint: nothing dangling */
	db.detail[0] = db.hint[0] = '\0';
	assert_string_equal(db_error_text(&db, buf, sizeof(buf)),
	    "sqlstate 23505: duplicate key value violates unique constraint "
	    "\"k\"");

	/* a broken connection has no SQLSTATE: "?", as the log has it */
	db.err = DB_ERR_UNAVAILABLE;
	db.sqlstate[0] = '\0';
	snprintf(db.errmsg, sizeof(db.errmsg), "server closed the connection "
	    "unexpectedly");
	assert_string_equal(db_error_text(&db, buf, sizeof(buf)),
	    "sqlstate ?: server closed the connection unexpectedly");

	/* a small buffer is cut, never overrun */
	assert_int_equal(strlen(db_error_text(&db, buf, 8)), 7);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_error_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
