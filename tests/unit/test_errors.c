/* errors: the catalog and the standard error body. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "errors.h"

static void
test_catalog(void **state)
{
	static const struct { const char *code; int status; } want[] = {
		{ "VALIDATION_FAILED", 400 }, { "MALFORMED_JSON", 400 },
		{ "AUTH_REQUIRED", 401 }, { "AUTH_INVALID_TOKEN", 401 },
		{ "AUTH_TOKEN_EXPIRED", 401 }, { "FORBIDDEN", 403 },
		{ "TENANT_FORBIDDEN", 403 }, { "NOT_FOUND", 404 },
		{ "EXPORT_NOT_FOUND", 404 }, { "LOCK_NOT_FOUND", 404 },
		{ "WEBHOOK_NOT_FOUND", 404 }, { "WEBHOOK_LIMIT", 409 },
		{ "METHOD_NOT_ALLOWED", 405 }, { "EXPORT_NOT_READY", 409 },
		{ "EXPORT_FAILED", 409 }, { "EXPORT_STATE_CONFLICT", 409 },
		{ "IDEMPOTENCY_CONFLICT", 409 }, { "EXPORT_EXPIRED", 410 },
		{ "PAYLOAD_TOO_LARGE", 413 }, { "UNSUPPORTED_MEDIA_TYPE", 415 },
		{ "RANGE_NOT_SATISFIABLE", 416 },
		{ "EXPORT_TOO_MANY_ACTIVE", 429 }, { "RATE_LIMITED", 429 },
		{ "INTERNAL_ERROR", 500 }, { "SERVICE_UNAVAILABLE", 503 },
		{ "DB_UNAVAILABLE", 503 }, { "EXPORT_LIMIT_ROWS", 0 },
		{ "EXPORT_CANCELLED", 0 }, { "EXPORT_RUNNER_LOST", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct error_def *d = error_find(want[i].code);

		if (d == NULL)
			fail_msg("%s missing from the catalog", want[i].code);
		assert_int_equal(d->status, want[i].status);
	}
	assert_null(error_find("NO_SUCH_CODE"));
}

static void
test_body(void **state)
{
	json_t *b, *e;

	(void)state;
	b = error_body("EXPORT_NOT_FOUND", NULL, "rid-1",
	    json_pack("[o]", error_detail("id", "unknown")));
	e = json_object_get(b, "error");
	assert_non_null(e);
	assert_string_equal(json_string_value(json_object_get(e, "code")),
	    "EXPORT_NOT_FOUND");
	assert_string_equal(json_string_value(json_object_get(e, "message")),
	    "no such export job");
	assert_string_equal(json_string_value(json_object_get(e,
	    "request_id")), "rid-1");
	assert_int_equal(json_array_size(json_object_get(e, "details")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(e, "details"), 0), "field")), "id");
	assert_int_equal(json_object_size(b), 1);
	json_decref(b);

	b = error_body("INTERNAL_ERROR", "custom", NULL, NULL);
	e = json_object_get(b, "error");
	assert_string_equal(json_string_value(json_object_get(e, "message")),
	    "custom");
	assert_string_equal(json_string_value(json_object_get(e,
	    "request_id")), "");
	assert_true(json_is_array(json_object_get(e, "details")));
	json_decref(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_catalog),
		cmocka_unit_test(test_body),
	};

	return cmocka_run_group_tests_name("errors", tests, NULL, NULL);
}
