/* export: request validation, ranges, signed URLs, file names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "export.h"

static struct ops_config cfg;

static int
setup(void **state)
{
	char err[256];

	(void)state;
	return config_load(&cfg, NULL, err, sizeof(err));
}

static int
teardown(void **state)
{
	(void)state;
	config_free(&cfg);
	return 0;
}

/* Parse body text; return the sorted, comma-joined bad fields ("" if ok). */
static char *
bad_fields(const char *text)
{
	struct export_request req;
	json_error_t jerr;
	json_t *body = json_loads(text, 0, &jerr), *details;
	struct buf out = BUF_INIT;

	assert_non_null(body);
	if (export_request_parse(body, &cfg, &req, &details) == 0) {
		export_request_free(&req);
	} else {
		size_t i;
		json_t *d;

		json_array_foreach(details, i, d) {
			if (out.len > 0)
				buf_appendc(&out, ',');
			buf_appends(&out, json_string_value(json_object_get(d,
			    "field")));
		}
		json_decref(details);
	}
	json_decref(body);
	return buf_detach(&out, NULL);
}

static void
test_request_validation(void **state)
{
	static const struct {
		const char *body;
		const char *bad;	/* fields named in details, in order */
	} cases[] = {
		{ "{\"tenant_id\":\"acme\",\"from\":\"2026-10-01T00:00:00Z\",\"to\":\"2026-10-02T00:00:00Z\",\"format\":\"jsonl\"}", "" },
		{ "{\"tenant_id\":\"acme\",\"from\":\"2026-10-01T00:00:00Z\",\"to\":\"2026-10-02T00:00:00Z\",\"format\":\"csv\",\"actions\":[\"a\"],\"actor_id\":\"u\",\"max_rows\":5000000,\"max_bytes\":1024,\"max_duration_seconds\":1}", "" },
		{ "{}", "tenant_id,from,to,format" },
		{ "{\"tenant_id\":\"acme\",\"from\":\"2026-10-01T00:00:00Z\",\"to\":\"2026-10-02T00:00:00Z\",\"format\":\"jsonl\",\"colour\":1}", "colour" },
		{ "{\"tenant_id\":\"a b\",\"from\":\"2026-10-01T00:00:00Z\",\"to\":\"2026-10-02T00:00:00Z\",\"format\":\"jsonl\"}", "tenant_id" },
		{ "{\"tenant_id\":\"acme\",\"from\":\"2026-10-02T00:00:00Z\",\"to\":\"2026-10-02T00:00:00Z\",\"format\":\"jsonl\"}", "to" },
		{ "{\"tenant_id\":\"acme\",\"from\":\"2026-10-01T00:00:00Z\",\"to\":\"2026-11-02T00:00:00Z\",\"format\":\"jsonl\"}", "to" },
		{ "{\"tenant_id\":\"acme\",\"from\":\"2026-10-01T00:00:00Z\",\"to\":\"2026-11-01T00:00:00Z\",\"format\":\"jsonl\"}", "" },
		{ "{\"tenant_id\":\"acme\",\"from\":1,\"to\":\"yesterday\",\"format\":\"xml\"}", "from,to,format" },
		{ "{\"tenant_id\":\"acme\",\"from\":\"2026-10-01T00:00:00Z\",\"to\":\"2026-10-02T00:00:00Z\",\"format\":\"jsonl\",\"max_rows\":5000001,\"max_bytes\":\"1\",\"max_duration_seconds\":901}", "max_rows,max_bytes,max_duration_seconds" },
		{ "{\"tenant_id\":\"acme\",\"from\":\"2026-10-01T00:00:00Z\",\"to\":\"2026-10-02T00:00:00Z\",\"format\":\"jsonl\",\"actions\":[],\"actor_id\":\"\"}", "actions,actor_id" },
		{ "{\"tenant_id\":\"acme\",\"from\":\"2026-10-01T00:00:00Z\",\"to\":\"2026-10-02T00:00:00Z\",\"format\":\"jsonl\",\"actions\":[\"ok\",2]}", "actions" },
		{ "[1]", "body" },
		{ "{\"tenant_id\":\"acme\",\"from\":\"2026-10-01T00:00:00Z\",\"to\":\"2026-10-02T00:00:00Z\",\"format\":\"csv\",\"compression\":\"zstd\"}", "" },
		{ "{\"tenant_id\":\"acme\",\"from\":\"2026-10-01T00:00:00Z\",\"to\":\"2026-10-02T00:00:00Z\",\"format\":\"jsonl\",\"compression\":\"none\"}", "" },
		{ "{\"tenant_id\":\"acme\",\"from\":\"2026-10-01T00:00:00Z\",\"to\":\"2026-10-02T00:00:00Z\",\"format\":\"jsonl\",\"compression\":\"lz4\"}", "compression" },
		{ "{\"tenant_id\":\"acme\",\"from\":\"2026-10-01T00:00:00Z\",\"to\":\"2026-10-02T00:00:00Z\",\"format\":\"jsonl\",\"compression\":true}", "compression" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = bad_fields(cases[i].body);

		if (strcmp(got, cases[i].bad) != 0)
			fail_msg("case %zu: bad fields \"%s\", want \"%s\"", i,
			    got, cases[i].bad);
		free(got);
	}
}

static void
test_request_defaults_and_hash(void **state)
{
	struct export_request a, b;
	json_t *details;
	json_t *x = json_loads("{\"tenant_id\":\"acme\",\"from\":\"2026-10-01T00:00:00Z\",\"to\":\"2026-10-02T00:00:00+00:00\",\"format\":\"jsonl\"}", 0, NULL);
	json_t *y = json_loads("{\"format\":\"jsonl\",\"to\":\"2026-10-02T00:00:00+00:00\",\"tenant_id\":\"acme\",\"from\":\"2026-10-01T00:00:00Z\"}", 0, NULL);

	(void)state;
	assert_int_equal(export_request_parse(x, &cfg, &a, &details), 0);
	assert_int_equal(export_request_parse(y, &cfg, &b, &details), 0);
	assert_int_equal(a.max_rows, 1000000);
	assert_int_equal(a.max_bytes, 512LL * 1024 * 1024);
	assert_int_equal(a.max_duration_seconds, 900);
	assert_int_equal(a.compression, COMPRESS_NONE);
	assert_string_equal(a.to, "2026-10-02T00:00:00.000000Z");
	/* key order does not change the hash: the same body, the same job */
	assert_string_equal(a.request_hash, b.request_hash);
	export_request_free(&b);
	json_object_set_new(y, "format", json_string("csv"));
	assert_int_equal(export_request_parse(y, &cfg, &b, &details), 0);
	assert_string_not_equal(a.request_hash, b.request_hash);
	export_request_free(&a);
	export_request_free(&b);
	json_decref(x);
	json_decref(y);
}

static void
test_range(void **state)
{
	static const struct {
		const char *hdr;
		long long total;
		int rc;
		long long first, last;
	} cases[] = {
		{ NULL, 100, 0, 0, 99 },
		{ "bytes=0-9", 100, 1, 0, 9 },
		{ "bytes=90-", 100, 1, 90, 99 },
		{ "bytes=90-500", 100, 1, 90, 99 },
		{ "bytes=-10", 100, 1, 90, 99 },
		{ "bytes=-500", 100, 1, 0, 99 },
		{ "bytes=100-", 100, -1, 0, 0 },
		{ "bytes=-0", 100, -1, 0, 0 },
		{ "bytes=5-4", 100, 0, 0, 99 },
		{ "bytes=0-1,5-6", 100, 0, 0, 99 },
		{ "items=0-1", 100, 0, 0, 99 },
		{ "bytes=x-1", 100, 0, 0, 99 },
		{ "bytes=0-0", 0, -1, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long long first, last;
		int rc = export_range_parse(cases[i].hdr, cases[i].total,
		    &first, &last);

		if (rc != cases[i].rc)
			fail_msg("case %zu (%s): rc %d, want %d", i,
			    cases[i].hdr ? cases[i].hdr : "none", rc,
			    cases[i].rc);
		if (rc >= 0) {
			assert_int_equal(first, cases[i].first);
			assert_int_equal(last, cases[i].last);
		}
	}
}

static void
test_signed_url(void **state)
{
	const char *secret = "0123456789abcdef0123456789abcdef";
	const char *id = "6745d054-bd4f-43e4-877f-b2805900fcaf";
	char sig[65], other[65];

	(void)state;
	export_url_sign(secret, id, "alice", 1000300, sig);
	assert_int_equal(strlen(sig), 64);
	assert_true(export_url_verify(secret, id, "alice", 1000300, sig,
	    1000000, 300));
	/* expired, too far ahead, another job, requester, secret, signature */
	assert_false(export_url_verify(secret, id, "alice", 1000300, sig,
	    1000301, 300));
	assert_false(export_url_verify(secret, id, "alice", 1000300, sig,
	    999999, 300));
	assert_false(export_url_verify(secret,
	    "6745d054-bd4f-43e4-877f-b2805900fcab", "alice", 1000300, sig,
	    1000000, 300));
	assert_false(export_url_verify(secret, id, "bob", 1000300, sig,
	    1000000, 300));
	assert_false(export_url_verify("another secret of 32 bytes......",
	    id, "alice", 1000300, sig, 1000000, 300));
	memcpy(other, sig, sizeof(other));
	other[10] = other[10] == 'a' ? 'b' : 'a';
	assert_false(export_url_verify(secret, id, "alice", 1000300, other,
	    1000000, 300));
	assert_false(export_url_verify(NULL, id, "alice", 1000300, sig,
	    1000000, 300));
	assert_false(export_url_verify(secret, id, "alice", 1000300, "abc",
	    1000000, 300));
}

/* Rotation: the previous secret is accepted until ..._until, then not. */
static void
test_signed_url_previous_secret(void **state)
{
	const char *id = "6745d054-bd4f-43e4-877f-b2805900fcaf";
	struct ops_config c;
	char old_sig[65], new_sig[65];
	/* 1000000 s after the epoch is 1970-01-12T13:46:40Z */
	time_t t = 1000000;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.export.download_url_ttl_seconds = 300;
	c.export.download_secret = (char *)"new secret of 32 bytes, at least.";
	export_url_sign("old secret of 32 bytes, at least.", id, "alice",
	    1000300, old_sig);
	export_url_sign(c.export.download_secret, id, "alice", 1000300,
	    new_sig);
	assert_true(export_download_url_verify(&c, id, "alice", 1000300,
	    new_sig, t));
	/* no previous secret configured */
	assert_false(export_download_url_verify(&c, id, "alice", 1000300,
	    old_sig, t));
	c.export.download_secret_previous =
	    (char *)"old secret of 32 bytes, at least.";
	c.export.download_secret_previous_until = (char *)"1970-01-12T13:46:41Z";
	assert_true(export_download_url_verify(&c, id, "alice", 1000300,
	    old_sig, t));
	assert_true(export_download_url_verify(&c, id, "alice", 1000300,
	    new_sig, t));
	/* at and after the end of the overlap: refused */
	assert_false(export_download_url_verify(&c, id, "alice", 1000300,
	    old_sig, t + 1));
	assert_false(export_download_url_verify(&c, id, "alice", 1000300,
	    old_sig, t + 2));
	/* the previous secret does not bypass the other checks */
	assert_false(export_download_url_verify(&c, id, "bob", 1000300,
	    old_sig, t));
	/* an unparsable end is no overlap */
	c.export.download_secret_previous_until = (char *)"tomorrow";
	assert_false(export_download_url_verify(&c, id, "alice", 1000300,
	    old_sig, t));
}

static void
test_names(void **state)
{
	struct export_file f;
	char name[256];

	(void)state;
	assert_true(export_id_valid("6745d054-bd4f-43e4-877f-b2805900fcaf"));
	assert_false(export_id_valid("6745d054bd4f43e4877fb2805900fcaf"));
	assert_false(export_id_valid("6745d054-bd4f-43e4-877f-b2805900fca"));
	assert_false(export_id_valid("6745d054-bd4f-43e4-877f-b2805900fcag"));
	assert_false(export_id_valid("../../etc/passwd"));
	memset(&f, 0, sizeof(f));
	snprintf(f.id, sizeof(f.id), "6745d054-bd4f-43e4-877f-b2805900fcaf");
	snprintf(f.tenant_id, sizeof(f.tenant_id), "ac\"me/x");
	snprintf(f.format, sizeof(f.format), "csv");
	snprintf(f.from, sizeof(f.from), "20261001T000000Z");
	snprintf(f.to, sizeof(f.to), "20261002T000000Z");
	export_filename(&f, name, sizeof(name));
	assert_string_equal(name,
	    "audit-ac_me_x-20261001T000000Z-20261002T000000Z-6745d054.csv");
	assert_string_equal(export_content_type(&f), "text/csv; charset=utf-8");
	f.compression = COMPRESS_ZSTD;
	export_filename(&f, name, sizeof(name));
	assert_string_equal(name,
	    "audit-ac_me_x-20261001T000000Z-20261002T000000Z-6745d054.csv.zst");
	assert_string_equal(export_content_type(&f), "application/zstd");
	snprintf(f.format, sizeof(f.format), "jsonl");
	f.compression = COMPRESS_GZIP;
	export_filename(&f, name, sizeof(name));
	assert_string_equal(name,
	    "audit-ac_me_x-20261001T000000Z-20261002T000000Z-6745d054.jsonl.gz");
	assert_string_equal(export_content_type(&f), "application/gzip");
	f.compression = COMPRESS_NONE;
	assert_string_equal(export_content_type(&f), "application/x-ndjson");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_validation),
		cmocka_unit_test(test_request_defaults_and_hash),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_signed_url),
		cmocka_unit_test(test_signed_url_previous_secret),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("export", tests, setup, teardown);
}
