/*
 * history: the pure parts of the history API (contract section 15): the
 * list query's new filters, the feed's query and cursor, the retry body,
 * the bulk cancel body, quantiles from the rollup's histograms.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "export.h"
#include "history.h"

static const char *
field0(json_t *details)
{
	return json_string_value(json_object_get(json_array_get(details, 0),
	    "field"));
}

static void
test_list_query(void **state)
{
	struct export_list_query q = { .limit = 50 };
	json_t *d = NULL;

	(void)state;
	q.state = "dOnE";
	q.requested_by = "me";
	q.created_from = "2026-11-01T00:00:00+01:00";
	q.created_to = "2026-11-02T00:00:00Z";
	q.error_code = "EXPORT_LIMIT_ROWS";
	q.id_prefix = "8C1E2F4A-0b";
	assert_int_equal(export_list_query_check(&q, &d), 0);
	assert_null(d);
	assert_string_equal(q.state_canon, "DONE");
	assert_string_equal(q.from_us, "1793487600000000");
	assert_string_equal(q.to_us, "1793577600000000");
	assert_string_equal(q.id_lo, "8c1e2f4a-0b00-0000-0000-000000000000");
	assert_string_equal(q.id_hi, "8c1e2f4a-0bff-ffff-ffff-ffffffffffff");

	q.created_from = "2026-11-02T00:00:00Z";	/* not before created_to */
	assert_int_equal(export_list_query_check(&q, &d), -1);
	assert_string_equal(field0(d), "created_to");
	json_decref(d);

	{
		static const struct {
			const char *state, *from, *code, *prefix, *by, *field;
		} bad[] = {
			{ "DONEX", NULL, NULL, NULL, NULL, "state" },
			{ "", NULL, NULL, NULL, NULL, "state" },
			{ NULL, "2026-11-01", NULL, NULL, NULL, "created_from" },
			{ NULL, "10000-01-01T00:00:00Z", NULL, NULL, NULL,
			    "created_from" },
			{ NULL, NULL, "export_x", NULL, NULL, "error_code" },
			{ NULL, NULL, "1ABC", NULL, NULL, "error_code" },
			{ NULL, NULL, NULL, "8c1e2f4a0", NULL, "id_prefix" },
			{ NULL, NULL, NULL, "-", NULL, "id_prefix" },
			{ NULL, NULL, NULL, "g", NULL, "id_prefix" },
			{ NULL, NULL, NULL, "8c1e2f4a-0b7d-4c55-9f0e-2a6b1d3c4e5f0",
			    NULL, "id_prefix" },
			{ NULL, NULL, NULL, NULL, "", "requested_by" },
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			struct export_list_query b = { .limit = 50 };

			b.state = bad[i].state;
			b.created_from = bad[i].from;
			b.error_code = bad[i].code;
			b.id_prefix = bad[i].prefix;
			b.requested_by = bad[i].by;
			assert_int_equal(export_list_query_check(&b, &d), -1);
			assert_string_equal(field0(d), bad[i].field);
			json_decref(d);
		}
	}
}

static void
test_id_prefix(void **state)
{
	char lo[EXPORT_ID_LEN + 1], hi[EXPORT_ID_LEN + 1];

	(void)state;
	assert_true(export_id_prefix_range("8c1e2f4a-0b7d-4c55-9f0e-2a6b1d3c4e5f",
	    lo, hi));
	assert_string_equal(lo, hi);
	assert_true(export_id_prefix_range("A", lo, hi));
	assert_string_equal(lo, "a0000000-0000-0000-0000-000000000000");
	assert_string_equal(hi, "afffffff-ffff-ffff-ffff-ffffffffffff");
	assert_true(export_id_prefix_range("abcdef01-", lo, hi));
	assert_string_equal(lo, "abcdef01-0000-0000-0000-000000000000");
	assert_false(export_id_prefix_range("", lo, hi));
	assert_false(export_id_prefix_range("abcdef01x", lo, hi));
	assert_false(export_id_prefix_range("abc%", lo, hi));
}

static void
test_events_query(void **state)
{
	struct history_events_query q = { .limit = 50 };
	char us[24], id[24];
	json_t *d = NULL;

	(void)state;
	q.kind = "EXPORT_FAILED";
	q.tenant_id = "acme";
	q.since = "2026-11-01T00:00:00Z";
	q.cursor = "1795771800123456.4702";
	assert_int_equal(history_events_query_check(&q, &d), 0);
	assert_string_equal(q.cur_us, "1795771800123456");
	assert_string_equal(q.cur_id, "4702");
	assert_string_equal(q.since_us, "1793491200000000");
	assert_true(history_cursor_parse("-1.1", us, id));
	assert_false(history_cursor_parse("1.", us, id));
	assert_false(history_cursor_parse(".1", us, id));
	assert_false(history_cursor_parse("1.-1", us, id));
	assert_false(history_cursor_parse("1.1x", us, id));
	assert_false(history_cursor_parse("253402300800000000.1", us, id));
	assert_false(history_cursor_parse("1.99999999999999999999", us, id));
	{
		static const struct {
			const char *kind, *tenant, *since, *until, *cursor;
			int limit;
			const char *field;
		} bad[] = {
			{ "export", NULL, NULL, NULL, NULL, 50, "kind" },
			{ NULL, "a/b", NULL, NULL, NULL, 50, "tenant_id" },
			{ NULL, NULL, "today", NULL, NULL, 50, "since" },
			{ NULL, NULL, NULL, "2026-02-29T00:00:00Z", NULL, 50,
			    "until" },
			{ NULL, NULL, "2026-11-02T00:00:00Z",
			    "2026-11-01T00:00:00Z", NULL, 50, "until" },
			{ NULL, NULL, NULL, NULL, "x", 50, "cursor" },
			{ NULL, NULL, NULL, NULL, NULL, 0, "limit" },
			{ NULL, NULL, NULL, NULL, NULL, 201, "limit" },
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			struct history_events_query b = { .limit = bad[i].limit };

			b.kind = bad[i].kind;
			b.tenant_id = bad[i].tenant;
			b.since = bad[i].since;
			b.until = bad[i].until;
			b.cursor = bad[i].cursor;
			assert_int_equal(history_events_query_check(&b, &d), -1);
			assert_string_equal(field0(d), bad[i].field);
			json_decref(d);
		}
	}
}

static void
test_retry_body(void **state)
{
	json_t *base = json_pack("{s:s, s:s, s:s, s:s, s:I}", "tenant_id",
	    "acme", "from", "2026-10-01T00:00:00Z", "to",
	    "2026-10-02T00:00:00Z", "format", "jsonl", "max_rows",
	    (json_int_t)10);
	json_t *over, *out, *d;

	(void)state;
	assert_int_equal(export_retry_body(base, NULL, &out, &d), 0);
	assert_true(json_equal(out, base));
	json_decref(out);
	over = json_pack("{s:s, s:s}", "to", "2026-10-01T12:00:00Z",
	    "compression", "zstd");
	assert_int_equal(export_retry_body(base, over, &out, &d), 0);
	assert_string_equal(json_string_value(json_object_get(out, "to")),
	    "2026-10-01T12:00:00Z");
	assert_string_equal(json_string_value(json_object_get(out,
	    "tenant_id")), "acme");
	json_decref(out);
	json_decref(over);
	over = json_pack("{s:s}", "tenant_id", "other");
	assert_int_equal(export_retry_body(base, over, &out, &d), -1);
	assert_null(out);
	assert_string_equal(field0(d), "tenant_id");
	json_decref(d);
	json_decref(over);
	over = json_array();
	assert_int_equal(export_retry_body(base, over, &out, &d), -1);
	assert_string_equal(field0(d), "body");
	json_decref(d);
	json_decref(over);
	json_decref(base);
}

static void
test_cancel_body(void **state)
{
	static const struct {
		const char *body, *field;
	} bad[] = {
		{ "{}", "ids" },
		{ "[]", "body" },
		{ "{\"ids\": []}", "ids" },
		{ "{\"ids\": [\"x\"]}", "ids" },
		{ "{\"ids\": [1]}", "ids" },
		{ "{\"ids\": [\"8c1e2f4a-0b7d-4c55-9f0e-2a6b1d3c4e5f\"], "
		    "\"tenant_id\": \"a\"}", "ids" },
		{ "{\"state\": \"DONE\"}", "state" },
		{ "{\"state\": \"x\"}", "state" },
		{ "{\"tenant_id\": \"\"}", "tenant_id" },
		{ "{\"requested_by\": 1}", "requested_by" },
		{ "{\"state\": \"PENDING\", \"all\": true}", "all" },
	};
	struct export_cancel_request req;
	json_t *b, *d, *ids;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = json_loads(bad[i].body, JSON_DECODE_ANY, NULL);
		assert_non_null(b);
		assert_int_equal(export_cancel_request_parse(b, &req, &d), -1);
		assert_string_equal(field0(d), bad[i].field);
		json_decref(d);
		json_decref(b);
	}
	b = json_pack("{s:s, s:s}", "state", "running", "requested_by", "me");
	assert_int_equal(export_cancel_request_parse(b, &req, &d), 0);
	assert_string_equal(req.state, "RUNNING");
	assert_string_equal(req.requested_by, "me");
	assert_int_equal(req.nids, 0);
	json_decref(b);
	ids = json_array();
	for (int i = 0; i < EXPORT_CANCEL_MAX_IDS + 1; i++)
		json_array_append_new(ids, json_string(
		    "8c1e2f4a-0b7d-4c55-9f0e-2a6b1d3c4e5f"));
	b = json_pack("{s:O}", "ids", ids);
	assert_int_equal(export_cancel_request_parse(b, &req, &d), -1);
	json_decref(d);
	json_decref(b);
	json_array_remove(ids, 0);
	b = json_pack("{s:O}", "ids", ids);
	assert_int_equal(export_cancel_request_parse(b, &req, &d), 0);
	assert_int_equal(req.nids, EXPORT_CANCEL_MAX_IDS);
	json_decref(b);
	json_decref(ids);
}

static void
test_quantile(void **state)
{
	long long h[HISTORY_NBUCKETS] = { 0 };

	(void)state;
	assert_true(history_quantile(0.5, h) < 0);
	h[2] = 10;			/* ten jobs in (0.5, 1] */
	assert_true(history_quantile(0.5, h) > 0.74 &&
	    history_quantile(0.5, h) < 0.76);
	assert_true(history_quantile(0.95, h) > 0.97 &&
	    history_quantile(0.95, h) <= 1.0);
	h[HISTORY_NBUCKETS - 1] = 90;	/* most past the last bound */
	assert_true(history_quantile(0.95, h) == 3600);
	memset(h, 0, sizeof(h));
	h[0] = 1;
	assert_true(history_quantile(0.5, h) == 0.05);
	assert_int_equal(history_hist_parse("{1,2,3,4,5,6,7,8,9,10,11,12,13,14,"
	    "15}", h), 0);
	assert_true(h[0] == 1 && h[14] == 15);
	assert_int_equal(history_hist_parse("{1,2}", h), -1);
	assert_int_equal(history_hist_parse("{1,2,3,4,5,6,7,8,9,10,11,12,13,14,"
	    "15,16}", h), -1);
	assert_int_equal(history_hist_parse("{1,2,3,4,5,6,7,8,9,10,11,12,13,14,"
	    "-1}", h), -1);
	assert_int_equal(history_hist_parse("", h), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_query),
		cmocka_unit_test(test_id_prefix),
		cmocka_unit_test(test_events_query),
		cmocka_unit_test(test_retry_body),
		cmocka_unit_test(test_cancel_body),
		cmocka_unit_test(test_quantile),
	};

	return cmocka_run_group_tests_name("history", tests, NULL, NULL);
}
