/* Unit tests for lib/encode: jsonl and csv export rows. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "encode.h"
#include "sanitize.h"

static const char *const row_keys[] = {
	"id", "tenant_id", "occurred_at", "actor_id", "action", "target_type",
	"target_id", "ip", "request_id", "payload",
};

static int
setup(void **state)
{
	*state = sanitize_rules_new(NULL, 0);
	return *state == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	sanitize_rules_free(*state);
	return 0;
}

static struct export_row
sample_row(void)
{
	static const char payload[] = "{\"user\":\"a\", \"password\":\"p\","
	    " \"h\":[\"Bearer x\", 1]}";
	struct export_row row = {
		.id = "42", .tenant_id = "t-1",
		.occurred_at = "2026-01-02T03:04:05.123456Z",
		.actor_id = "u-7", .action = "user.login",
		.target_type = "user", .target_id = "u-7", .ip = "192.0.2.1",
		.request_id = "req-1", .payload = payload,
		.payload_len = sizeof(payload) - 1,
	};

	return row;
}

static void
test_json_string(void **state)
{
	static const struct {
		const char	*in;
		size_t		 len;
		const char	*want;
	} t[] = {
		{ "", 0, "\"\"" },
		{ "plain", 5, "\"plain\"" },
		{ "a\"b\\c/d", 7, "\"a\\\"b\\\\c/d\"" },
		{ "\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\"" },
		{ "\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\"" },
		{ "a\0b", 3, "\"a\\u0000b\"" },
		{ "\xc3\xa9\xf0\x9f\x98\x80",
		  6, "\"\xc3\xa9\xf0\x9f\x98\x80\"" },
	};
	struct buf out = BUF_INIT;
	json_error_t err;
	json_t *j;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		buf_reset(&out);
		encode_json_string(&out, t[i].in, t[i].len);
		assert_string_equal(out.data, t[i].want);
		j = json_loadb(out.data, out.len, JSON_DECODE_ANY |
		    JSON_ALLOW_NUL, &err);
		assert_non_null(j);
		assert_int_equal(json_string_length(j), t[i].len);
		assert_memory_equal(json_string_value(j), t[i].in, t[i].len);
		json_decref(j);
	}
	buf_free(&out);
}

/* Random byte strings (ASCII, controls included) survive a round trip. */
static void
test_json_string_roundtrip(void **state)
{
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	struct buf out = BUF_INIT;
	char s[64];
	size_t i, j, len;
	json_t *js;

	(void)state;
	for (i = 0; i < 2000; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		len = seed % sizeof(s);
		for (j = 0; j < len; j++)
			s[j] = (char)((seed >> (j % 56)) + j * 37) & 0x7f;
		buf_reset(&out);
		encode_json_string(&out, s, len);
		js = json_loadb(out.data, out.len, JSON_DECODE_ANY |
		    JSON_ALLOW_NUL, NULL);
		assert_non_null(js);
		assert_int_equal(json_string_length(js), len);
		assert_memory_equal(json_string_value(js), s, len);
		json_decref(js);
	}
	buf_free(&out);
}

/*
 * A strict RFC 4180 reader for one cell at *pp: returns its value in val
 * and leaves *pp on the separator after it.
 */
static void
csv_read_cell(const char **pp, struct buf *val)
{
	const char *p = *pp;

	buf_reset(val);
	if (*p != '"') {
		while (*p != ',' && *p != '\r' && *p != '\0') {
			assert_true(*p != '"' && *p != '\n');
			buf_appendc(val, *p++);
		}
		*pp = p;
		return;
	}
	for (p++;; p++) {
		assert_true(*p != '\0');
		if (*p == '"') {
			if (p[1] != '"')
				break;
			p++;
		}
		buf_appendc(val, *p);
	}
	*pp = p + 1;
}

static void
test_csv_roundtrip(void **state)
{
	static const char *const cells[] = {
		"plain", "a,b", "say \"hi\"", "\"", "\"\"", "line\nbreak",
		"crlf\r\n",
		"long cell with a \"quote\" after eight bytes, and a comma",
		" lead", "trail ", "=1+1", "-2", "x", "\xc3\xa9",
	};
	struct buf out = BUF_INIT, val = BUF_INIT;
	const char *p, *want;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cells) / sizeof(cells[0]); i++) {
		buf_reset(&out);
		encode_csv_cell(&out, cells[i], strlen(cells[i]));
		p = out.data;
		csv_read_cell(&p, &val);
		assert_int_equal(*p, '\0');
		/* neutralized cells read back with the leading quote */
		want = cells[i];
		if (strchr("=+-@\t\r", cells[i][0]) != NULL) {
			assert_int_equal(val.data[0], '\'');
			assert_string_equal(val.data + 1, want);
		} else
			assert_string_equal(val.data, want);
	}
	buf_free(&out);
	buf_free(&val);
}

static void
test_csv_cell(void **state)
{
	static const struct {
		const char	*in;
		const char	*want;
	} t[] = {
		{ "plain", "plain" },
		{ "=1+2", "'=1+2" },
		{ "+1", "'+1" },
		{ "-1", "'-1" },
		{ "@SUM(A1)", "'@SUM(A1)" },
		{ "\tx", "'\tx" },
		{ "\rx", "\"'\rx\"" },
		{ "=HYPERLINK(\"http://x\",\"y\")",
		  "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"" },
		{ "a=b", "a=b" },
		{ "a\"b", "\"a\"\"b\"" },
		{ "\"", "\"\"\"\"" },
		{ "a,b", "\"a,b\"" },
		{ "a\rb", "\"a\rb\"" },
		{ "a\nb", "\"a\nb\"" },
		{ "a\r\nb", "\"a\r\nb\"" },
		{ " a", "\" a\"" },
		{ "a ", "\"a \"" },
		{ "a b", "a b" },
		{ "", "\"\"" },
		{ "\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9" },
		{ "{\"a\":[1,2]}", "\"{\"\"a\"\":[1,2]}\"" },
	};
	struct buf out = BUF_INIT;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		buf_reset(&out);
		buf_appendc(&out, '|');
		encode_csv_cell(&out, t[i].in, strlen(t[i].in));
		if (strcmp(out.data + 1, t[i].want) != 0)
			fail_msg("cell %s: want %s got %s", t[i].in, t[i].want,
			    out.data + 1);
	}
	buf_reset(&out);
	encode_csv_cell(&out, NULL, 0);
	assert_int_equal(out.len, 0);
	buf_free(&out);
}

static void
test_jsonl_row(void **state)
{
	struct export_row row = sample_row();
	struct buf out = BUF_INIT;
	json_error_t err;
	json_t *j, *p;
	void *it;
	size_t i;

	buf_appends(&out, "prev\n");
	assert_int_equal(encode_jsonl_row(*state, &row, &out), 0);
	assert_string_equal(out.data + 5,
	    "{\"id\":42,\"tenant_id\":\"t-1\","
	    "\"occurred_at\":\"2026-01-02T03:04:05.123456Z\","
	    "\"actor_id\":\"u-7\",\"action\":\"user.login\","
	    "\"target_type\":\"user\",\"target_id\":\"u-7\","
	    "\"ip\":\"192.0.2.1\",\"request_id\":\"req-1\","
	    "\"payload\":{\"user\":\"a\",\"password\":\"[REDACTED]\","
	    "\"h\":[\"[REDACTED]\",1]}}\n");

	/* parses, keys in order, right types */
	j = json_loadb(out.data + 5, out.len - 5, 0, &err);
	assert_non_null(j);
	for (i = 0, it = json_object_iter(j); it != NULL;
	    it = json_object_iter_next(j, it), i++)
		assert_string_equal(json_object_iter_key(it), row_keys[i]);
	assert_int_equal(i, 10);
	assert_true(json_is_integer(json_object_get(j, "id")));
	assert_int_equal(json_integer_value(json_object_get(j, "id")), 42);
	p = json_object_get(j, "payload");
	assert_true(json_is_object(p));
	assert_string_equal(json_string_value(json_object_get(p, "password")),
	    "[REDACTED]");
	json_decref(j);

	/* NULLs, escapes in text fields */
	row.actor_id = row.target_type = row.target_id = row.ip =
	    row.request_id = NULL;
	row.action = "say \"hi\"\n";
	row.payload = NULL;
	buf_reset(&out);
	assert_int_equal(encode_jsonl_row(*state, &row, &out), 0);
	j = json_loadb(out.data, out.len, 0, &err);
	assert_non_null(j);
	assert_true(json_is_null(json_object_get(j, "actor_id")));
	assert_true(json_is_null(json_object_get(j, "ip")));
	assert_true(json_is_null(json_object_get(j, "payload")));
	assert_string_equal(json_string_value(json_object_get(j, "action")),
	    "say \"hi\"\n");
	assert_int_equal(json_object_size(j), 10);
	json_decref(j);
	buf_free(&out);
}

/*
 * Issue 10 defect 1: a NULL text field is written as null (4 bytes); the
 * encoder must reserve that, not a string's 2. Every text field NULL, in a
 * buffer with exactly the room the row's head (everything before the
 * payload) takes without its NUL: the encoder has to grow it, and ASan
 * (make unit-asan) reports any write past it.
 */
static void
test_jsonl_all_null(void **state)
{
	static const char head[] = "{\"id\":1,\"tenant_id\":null,"
	    "\"occurred_at\":null,\"actor_id\":null,\"action\":null,"
	    "\"target_type\":null,\"target_id\":null,\"ip\":null,"
	    "\"request_id\":null,\"payload\":";
	struct export_row row = { .id = "1" };
	struct buf out;

	out.cap = sizeof(head) - 1;
	out.data = malloc(out.cap);
	assert_non_null(out.data);
	out.data[0] = '\0';
	out.len = 0;
	assert_int_equal(encode_jsonl_row(*state, &row, &out), 0);
	assert_int_equal(out.len, sizeof(head) - 1 + sizeof("null}\n") - 1);
	assert_memory_equal(out.data, head, sizeof(head) - 1);
	assert_string_equal(out.data + sizeof(head) - 1, "null}\n");
	buf_free(&out);
}

static void
test_jsonl_errors(void **state)
{
	static const char *const bad_ids[] = {
		NULL, "", "01", "1a", "x", "-", "1.5", " 1", "1e3",
	};
	struct export_row row = sample_row();
	struct buf out = BUF_INIT;
	size_t i;

	buf_appends(&out, "keep");
	row.payload = "{\"a\":1,}";
	row.payload_len = strlen(row.payload);
	assert_int_equal(encode_jsonl_row(*state, &row, &out), -1);
	assert_string_equal(out.data, "keep");
	row = sample_row();
	for (i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		row.id = bad_ids[i];
		assert_int_equal(encode_jsonl_row(*state, &row, &out), -1);
		assert_string_equal(out.data, "keep");
	}
	row.id = "-7";
	assert_int_equal(encode_jsonl_row(*state, &row, &out), 0);
	buf_free(&out);
}

static void
test_csv_row(void **state)
{
	struct export_row row = sample_row();
	struct buf out = BUF_INIT, scratch = BUF_INIT;

	encode_csv_header(&out);
	assert_int_equal(encode_csv_row(*state, &row, &out, &scratch), 0);
	assert_string_equal(out.data,
	    "id,tenant_id,occurred_at,actor_id,action,target_type,target_id,"
	    "ip,request_id,payload\r\n"
	    "42,t-1,2026-01-02T03:04:05.123456Z,u-7,user.login,user,u-7,"
	    "192.0.2.1,req-1,"
	    "\"{\"\"user\"\":\"\"a\"\",\"\"password\"\":\"\"[REDACTED]\"\","
	    "\"\"h\"\":[\"\"[REDACTED]\"\",1]}\"\r\n");

	/* the payload cell reads back as the sanitized compact JSON */
	{
		struct buf val = BUF_INIT;
		const char *p = strstr(out.data, "\r\n") + 2;
		json_t *j;
		int col;

		for (col = 0; col < 10; col++) {
			csv_read_cell(&p, &val);
			assert_true(*p == (col < 9 ? ',' : '\r'));
			p++;
		}
		j = json_loads(val.data, 0, NULL);
		assert_non_null(j);
		assert_string_equal(json_string_value(json_object_get(j,
		    "password")), "[REDACTED]");
		json_decref(j);
		buf_free(&val);
	}

	/* NULL cells empty, empty strings "", formula and quoting */
	row.actor_id = row.target_type = row.ip = row.request_id = NULL;
	row.target_id = "";
	row.action = "=cmd|' /C calc'!A0";
	row.tenant_id = "-t,1";
	row.payload = "[\"@x\"]";
	row.payload_len = 6;
	buf_reset(&out);
	assert_int_equal(encode_csv_row(*state, &row, &out, &scratch), 0);
	assert_string_equal(out.data,
	    "42,\"'-t,1\",2026-01-02T03:04:05.123456Z,,'=cmd|' /C calc'!A0,,"
	    "\"\",,,\"[\"\"@x\"\"]\"\r\n");

	/* a payload that is a bare string is neutralized like any cell */
	row.payload = "\"+1\"";
	row.payload_len = 4;
	buf_reset(&out);
	assert_int_equal(encode_csv_row(*state, &row, &out, &scratch), 0);
	assert_non_null(strstr(out.data, ",\"\"\"+1\"\"\"\r\n"));
	row.payload = "-1";
	row.payload_len = 2;
	buf_reset(&out);
	assert_int_equal(encode_csv_row(*state, &row, &out, &scratch), 0);
	assert_non_null(strstr(out.data, ",'-1\r\n"));
	row.payload = NULL;
	buf_reset(&out);
	assert_int_equal(encode_csv_row(*state, &row, &out, &scratch), 0);
	assert_int_equal(out.data[out.len - 3], ',');

	/* invalid payload or id: out untouched */
	buf_reset(&out);
	buf_appends(&out, "keep");
	row.payload = "{\"token\":";
	row.payload_len = strlen(row.payload);
	assert_int_equal(encode_csv_row(*state, &row, &out, &scratch), -1);
	row = sample_row();
	row.id = "abc";
	assert_int_equal(encode_csv_row(*state, &row, &out, &scratch), -1);
	assert_string_equal(out.data, "keep");
	buf_free(&out);
	buf_free(&scratch);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_string),
		cmocka_unit_test(test_json_string_roundtrip),
		cmocka_unit_test(test_csv_cell),
		cmocka_unit_test(test_csv_roundtrip),
		cmocka_unit_test(test_jsonl_row),
		cmocka_unit_test(test_jsonl_all_null),
		cmocka_unit_test(test_jsonl_errors),
		cmocka_unit_test(test_csv_row),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
