/*
 * Unit tests for notion/ (the Notion component): catalog, validation,
 * settings, classification, rotation, Retry-After, the retry loop and the
 * paging loop (through fake transports) and the formats.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "notion.h"

#define TOKEN	"secret_UNITTOKEN0123456789abcdefghijklmnopqrstuvwxyzAB"
#define ID1	"0123456789abcdef0123456789abcdef"
#define ID1D	"01234567-89ab-cdef-0123-456789abcdef"
#define ID2D	"fedcba98-7654-3210-fedc-ba9876543210"

#define ME_BOT	"{\"object\":\"user\",\"id\":\"u1\",\"name\":\"Spec Sync\"," \
	"\"type\":\"bot\",\"bot\":{\"owner\":{\"type\":\"workspace\"," \
	"\"workspace\":true},\"workspace_name\":\"Acme\"}," \
	"\"request_id\":\"body-req\"}"
#define ME_PERSON "{\"object\":\"user\",\"id\":\"u2\",\"name\":\"Ann\"," \
	"\"type\":\"person\",\"person\":{\"email\":\"a@example.com\"}}"
#define PAGE1	"{\"object\":\"page\",\"id\":\"" ID1D "\",\"archived\":false}"
#define DB1	"{\"object\":\"database\",\"id\":\"" ID1D "\"}"
#define ERR(st, code, msg) "{\"object\":\"error\",\"status\":" #st \
	",\"code\":\"" code "\",\"message\":\"" msg "\",\"request_id\":\"rq\"}"
#define HTML	"<html><body>Notion is down for maintenance</body></html>"

/* catalog */

static void
test_catalog(void **state)
{
	const struct notion_code_info *c;
	size_t n;
	char lower[64];

	(void)state;
	c = notion_catalog(&n);
	assert_int_equal(n, NOTION_CODE_COUNT - 1);
	for (size_t i = 0; i < n; i++) {
		size_t k;

		assert_ptr_equal(notion_code_lookup(c[i].code), &c[i]);
		assert_non_null(strstr(c[i].name, "NOTION_AUTH_"));
		assert_null(strchr(c[i].cause, '\t'));
		assert_null(strchr(c[i].cause, '\n'));
		for (k = 0; c[i].name[k] && k + 1 < sizeof(lower); k++)
			lower[k] = (char)tolower((unsigned char)c[i].name[k]);
		lower[k] = '\0';
		assert_string_equal(c[i].anchor, lower);
		if (c[i].code == NOTION_AUTH_ROTATION_DUE) {
			assert_int_equal(c[i].exit_status, 0);
			assert_int_equal(c[i].severity, NOTION_SEV_WARNING);
		} else {
			assert_int_equal(c[i].exit_status, 10 + (int)i);
			assert_int_equal(c[i].severity, NOTION_SEV_ERROR);
		}
	}
	assert_null(notion_code_lookup(NOTION_OK));
	assert_string_equal(notion_code_name(NOTION_AUTH_INVALID),
	    "NOTION_AUTH_INVALID");
}

/* token */

static void
test_token_check(void **state)
{
	static const struct {
		const char	*tok;
		size_t		 len;
		int		 code;
	} cases[] = {
		{ "", 0, NOTION_AUTH_MALFORMED },
		{ " ", 1, NOTION_AUTH_MALFORMED },
		{ "   \t", 4, NOTION_AUTH_MALFORMED },
		{ " secret_abc", 11, NOTION_AUTH_MALFORMED },
		{ "secret_abc ", 11, NOTION_AUTH_MALFORMED },
		{ "secret_abc\n", 11, NOTION_AUTH_MALFORMED },
		{ "secret abc", 10, NOTION_AUTH_MALFORMED },
		{ "secret\tabc", 10, NOTION_AUTH_MALFORMED },
		{ "secret\x01" "abc", 10, NOTION_AUTH_MALFORMED },
		{ "secret\x7f" "abc", 10, NOTION_AUTH_MALFORMED },
		{ "secret\0abc", 10, NOTION_AUTH_MALFORMED },
		{ "secret_\xc3\xa9", 9, NOTION_AUTH_MALFORMED },
		{ "secret_abc", 10, NOTION_OK },
		{ "ntn_123456789012345678901234567890", 34, NOTION_OK },
	};
	char why[128];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(notion_token_check(cases[i].tok, cases[i].len,
		    why, sizeof(why)), cases[i].code);
		if (cases[i].code != NOTION_OK) {
			assert_true(strlen(why) > 0);
			assert_null(strstr(why, "abc"));
		}
	}
	assert_non_null(strstr((notion_token_check(" x", 2, why,
	    sizeof(why)), why), "leading or trailing"));
	assert_int_equal(notion_token_check("x", NOTION_TOKEN_MAX + 1, NULL, 0),
	    NOTION_AUTH_MALFORMED);
}

static void
test_fingerprint(void **state)
{
	char fp[NOTION_FINGERPRINT_MAX], win[6];
	const char *t = TOKEN;
	size_t tl = strlen(t);

	(void)state;
	notion_fingerprint(t, tl, fp, sizeof(fp));
	assert_int_equal(strncmp(fp, "secr\xe2\x80\xa6sha256:", 14), 0);
	assert_int_equal(strlen(fp), 14 + 8);
	for (size_t i = 14; i < 22; i++)
		assert_true(isxdigit((unsigned char)fp[i]));
	/* nothing of the token past its first 4 characters */
	for (size_t i = 1; i + 5 <= tl; i++) {
		memcpy(win, t + i, 5);
		win[5] = '\0';
		assert_null(strstr(fp, win));
	}
	assert_null(strstr(fp, "secre"));
	/* known vector, short token: no prefix */
	notion_fingerprint("abc", 3, fp, sizeof(fp));
	assert_string_equal(fp, "sha256:ba7816bf");
	notion_fingerprint("abcdefghijklmno", 15, fp, sizeof(fp));
	assert_int_equal(strncmp(fp, "sha256:", 7), 0);
	/* non-printable start: no prefix */
	notion_fingerprint(" bcdefghijklmnopq", 17, fp, sizeof(fp));
	assert_int_equal(strncmp(fp, "sha256:", 7), 0);
	/* too small a buffer: empty, never partial */
	notion_fingerprint(t, tl, fp, 10);
	assert_string_equal(fp, "");
}

static void
test_token_load(void **state)
{
	char path[] = "/tmp/test_notion_tokXXXXXX", why[256];
	struct buf b = BUF_INIT;
	int fd;

	(void)state;
	assert_int_equal(notion_token_load(NULL, NULL, &b, why, sizeof(why)),
	    NOTION_AUTH_MISSING);
	assert_int_equal(notion_token_load(NULL, "", &b, why, sizeof(why)),
	    NOTION_AUTH_MISSING);
	assert_int_equal(notion_token_load("", NULL, &b, why, sizeof(why)),
	    NOTION_AUTH_MALFORMED);
	assert_int_equal(notion_token_load(NULL, "/nonexistent/notion_token",
	    &b, why, sizeof(why)), NOTION_AUTH_MISSING);
	assert_non_null(strstr(why, "cannot read"));
	assert_int_equal(notion_token_load("secret_abc", NULL, &b, why,
	    sizeof(why)), NOTION_OK);
	assert_string_equal(buf_str(&b), "secret_abc");

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "secret_file\n", 12), 12);
	assert_int_equal(notion_token_load(NULL, path, &b, why, sizeof(why)),
	    NOTION_OK);
	assert_string_equal(buf_str(&b), "secret_file");
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(pwrite(fd, "secret_file\r\n", 13, 0), 13);
	assert_int_equal(notion_token_load(NULL, path, &b, why, sizeof(why)),
	    NOTION_OK);
	assert_string_equal(buf_str(&b), "secret_file");
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(pwrite(fd, "secret_file\n\n", 13, 0), 13);
	assert_int_equal(notion_token_load(NULL, path, &b, why, sizeof(why)),
	    NOTION_AUTH_MALFORMED);
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(notion_token_load(NULL, path, &b, why, sizeof(why)),
	    NOTION_AUTH_MALFORMED);
	close(fd);
	unlink(path);
	buf_free(&b);
}

/* ids and targets */

static void
test_id_normalize(void **state)
{
	char out[NOTION_ID_LEN + 1];

	(void)state;
	assert_int_equal(notion_id_normalize(ID1, out), 0);
	assert_string_equal(out, ID1D);
	assert_int_equal(notion_id_normalize(ID1D, out), 0);
	assert_string_equal(out, ID1D);
	assert_int_equal(notion_id_normalize(
	    "0123456789ABCDEF0123456789ABCDEF", out), 0);
	assert_string_equal(out, ID1D);
	assert_int_equal(notion_id_normalize(
	    "--0123456789abcdef-0123456789abcdef--", out), 0);
	assert_string_equal(out, ID1D);
	assert_int_equal(notion_id_normalize("", out), -1);
	assert_string_equal(out, "");
	assert_int_equal(notion_id_normalize(
	    "0123456789abcdef0123456789abcde", out), -1);
	assert_int_equal(notion_id_normalize(
	    "0123456789abcdef0123456789abcdef0", out), -1);
	assert_int_equal(notion_id_normalize(
	    "0123456789abcdef0123456789abcdeg", out), -1);
	assert_int_equal(notion_id_normalize(
	    "0123456789abcdef 0123456789abcdef", out), -1);
	assert_int_equal(notion_id_normalize("../../v1/users", out), -1);
}

static void
test_targets_parse(void **state)
{
	struct notion_target t[3];
	char err[256];
	size_t n;

	(void)state;
	assert_int_equal(notion_targets_parse(NULL, t, 3, &n, err,
	    sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_int_equal(notion_targets_parse(" page:" ID1 " , ,database:"
	    ID2D ",", t, 3, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(t[0].kind, NOTION_KIND_PAGE);
	assert_string_equal(t[0].id, ID1D);
	assert_int_equal(t[1].kind, NOTION_KIND_DATABASE);
	assert_string_equal(t[1].id, ID2D);
	assert_int_equal(notion_targets_parse("block:" ID1, t, 3, &n, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "page:ID or database:ID"));
	assert_int_equal(notion_targets_parse("page:1234", t, 3, &n, err,
	    sizeof(err)), -1);
	assert_int_equal(notion_targets_parse(ID1, t, 3, &n, err,
	    sizeof(err)), -1);
	assert_int_equal(notion_targets_parse("page:" ID1 ",page:" ID1
	    ",page:" ID1 ",page:" ID1, t, 3, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 3"));
}

/* URLs */

static void
test_api_base(void **state)
{
	static const struct {
		const char	*in;
		const char	*out;	/* NULL: refused */
	} cases[] = {
		{ "https://api.notion.com", "https://api.notion.com" },
		{ "https://api.notion.com/", "https://api.notion.com" },
		{ "https://proxy.example:8443/notion//",
		    "https://proxy.example:8443/notion" },
		{ "http://127.0.0.1:8080", "http://127.0.0.1:8080" },
		{ "http://127.9.8.7", "http://127.9.8.7" },
		{ "http://localhost:1/", "http://localhost:1" },
		{ "http://[::1]:9", "http://[::1]:9" },
		{ "http://api.notion.com", NULL },
		{ "http://128.0.0.1", NULL },
		{ "http://127.0.0.1@evil.example", NULL },
		{ "https://user:pw@api.notion.com", NULL },
		{ "https://api.notion.com/?x=1", NULL },
		{ "https://api.notion.com/#f", NULL },
		{ "ftp://api.notion.com", NULL },
		{ "file:///etc/passwd", NULL },
		{ "api.notion.com", NULL },
		{ "", NULL },
	};
	char out[256], err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = notion_api_base_check(cases[i].in, out, sizeof(out),
		    err, sizeof(err));

		if (cases[i].out == NULL) {
			assert_int_equal(rc, -1);
			assert_true(strlen(err) > 0);
			assert_null(strstr(err, "pw"));
		} else {
			assert_int_equal(rc, 0);
			assert_string_equal(out, cases[i].out);
		}
	}
	assert_true(notion_host_is_loopback("LOCALHOST"));
	assert_true(notion_host_is_loopback("[::1]"));
	assert_true(notion_host_is_loopback("::1"));
	assert_true(notion_host_is_loopback("127.255.255.255"));
	assert_false(notion_host_is_loopback("127.0.0.1.example"));
	assert_false(notion_host_is_loopback("::2"));
	assert_false(notion_host_is_loopback(""));
	assert_int_equal(notion_version_check("2022-06-28"), 0);
	assert_int_equal(notion_version_check("2022-6-28"), -1);
	assert_int_equal(notion_version_check("latest"), -1);
}

/* numbers and dates */

static void
test_parse_long(void **state)
{
	long v = 0;

	(void)state;
	assert_int_equal(notion_parse_long("90", 1, 3650, &v), 0);
	assert_int_equal(v, 90);
	assert_int_equal(notion_parse_long("0", 1, 3650, &v), -1);
	assert_int_equal(notion_parse_long("3651", 1, 3650, &v), -1);
	assert_int_equal(notion_parse_long("-1", -5, 5, &v), -1);
	assert_int_equal(notion_parse_long("+1", 0, 5, &v), -1);
	assert_int_equal(notion_parse_long(" 1", 0, 5, &v), -1);
	assert_int_equal(notion_parse_long("1d", 0, 5, &v), -1);
	assert_int_equal(notion_parse_long("", 0, 5, &v), -1);
	assert_int_equal(notion_parse_long("99999999999999999999", 0,
	    LONG_MAX, &v), -1);
}

static void
test_parse_time(void **state)
{
	time_t t;
	char s[32];

	(void)state;
	assert_int_equal(notion_parse_time("2026-01-01", &t), 0);
	assert_int_equal((long long)t, 1767225600LL);
	assert_int_equal(notion_parse_time("2026-01-01T00:00:00Z", &t), 0);
	assert_int_equal((long long)t, 1767225600LL);
	assert_int_equal(notion_parse_time("2026-01-01t09:00:00.123+09:00",
	    &t), 0);
	assert_int_equal((long long)t, 1767225600LL);
	assert_int_equal(notion_parse_time("2025-12-31T19:00:00-05:00", &t), 0);
	assert_int_equal((long long)t, 1767225600LL);
	assert_int_equal(notion_parse_time("2024-02-29", &t), 0);
	assert_int_equal(notion_parse_time("1970-01-01", &t), 0);
	assert_int_equal((long long)t, 0);
	notion_format_time(1767225600, s, sizeof(s));
	assert_string_equal(s, "2026-01-01T00:00:00Z");

	assert_int_equal(notion_parse_time("2025-02-29", &t), -1);
	assert_int_equal(notion_parse_time("2026-02-30", &t), -1);
	assert_int_equal(notion_parse_time("2026-13-01", &t), -1);
	assert_int_equal(notion_parse_time("2026-00-10", &t), -1);
	assert_int_equal(notion_parse_time("2026-1-01", &t), -1);
	assert_int_equal(notion_parse_time("2026-01-01T24:00:00Z", &t), -1);
	assert_int_equal(notion_parse_time("2026-01-01T10:00:00", &t), -1);
	assert_int_equal(notion_parse_time("2026-01-01T10:00Z", &t), -1);
	assert_int_equal(notion_parse_time("2026-01-01T10:00:00Zx", &t), -1);
	assert_int_equal(notion_parse_time("2026-01-01T10:00:00.Z", &t), -1);
	assert_int_equal(notion_parse_time("2026-01-01 ", &t), -1);
	assert_int_equal(notion_parse_time("01/02/2026", &t), -1);
	assert_int_equal(notion_parse_time("", &t), -1);
}

static void
test_rotation_edges(void **state)
{
	const time_t issued = 1767225600;	/* 2026-01-01 */
	const long day = 86400;
	const time_t deadline = issued + 90 * day;
	struct notion_rotation r;

	(void)state;
	notion_rotation_check(issued, 90, 14, issued, &r);
	assert_int_equal(r.code, NOTION_OK);
	assert_int_equal((long long)r.deadline, (long long)deadline);
	assert_int_equal(r.days, 90);

	notion_rotation_check(issued, 90, 14, deadline - 14 * day - 1, &r);
	assert_int_equal(r.code, NOTION_OK);
	assert_int_equal(r.days, 15);

	notion_rotation_check(issued, 90, 14, deadline - 14 * day, &r);
	assert_int_equal(r.code, NOTION_AUTH_ROTATION_DUE);
	assert_int_equal(r.days, 14);

	notion_rotation_check(issued, 90, 14, deadline - 1, &r);
	assert_int_equal(r.code, NOTION_AUTH_ROTATION_DUE);
	assert_int_equal(r.days, 1);

	notion_rotation_check(issued, 90, 14, deadline, &r);
	assert_int_equal(r.code, NOTION_AUTH_ROTATION_OVERDUE);
	assert_int_equal(r.days, 0);

	notion_rotation_check(issued, 90, 14, deadline + day - 1, &r);
	assert_int_equal(r.code, NOTION_AUTH_ROTATION_OVERDUE);
	assert_int_equal(r.days, 0);

	notion_rotation_check(issued, 90, 14, deadline + day, &r);
	assert_int_equal(r.code, NOTION_AUTH_ROTATION_OVERDUE);
	assert_int_equal(r.days, 1);

	/* no warning window */
	notion_rotation_check(issued, 90, 0, deadline - 1, &r);
	assert_int_equal(r.code, NOTION_OK);
	/* window longer than the period: always due */
	notion_rotation_check(issued, 7, 14, issued, &r);
	assert_int_equal(r.code, NOTION_AUTH_ROTATION_DUE);
}

static void
test_retry_after(void **state)
{
	const time_t now = 1445412480;	/* Wed, 21 Oct 2015 07:28:00 GMT */
	long s = -1;

	(void)state;
	assert_int_equal(notion_retry_after_parse("1", now, &s), 0);
	assert_int_equal(s, 1);
	assert_int_equal(notion_retry_after_parse(" 30 ", now, &s), 0);
	assert_int_equal(s, 30);
	assert_int_equal(notion_retry_after_parse("0", now, &s), 0);
	assert_int_equal(s, 0);
	assert_int_equal(notion_retry_after_parse("99999999999999999999", now,
	    &s), 0);
	assert_true(s >= 100000000);
	assert_int_equal(notion_retry_after_parse(
	    "Wed, 21 Oct 2015 07:28:10 GMT", now, &s), 0);
	assert_int_equal(s, 10);
	assert_int_equal(notion_retry_after_parse(
	    "Wed, 21 Oct 2015 07:27:00 GMT", now, &s), 0);
	assert_int_equal(s, 0);
	assert_int_equal(notion_retry_after_parse("", now, &s), -1);
	assert_int_equal(notion_retry_after_parse("soon", now, &s), -1);
	assert_int_equal(notion_retry_after_parse("1.5", now, &s), -1);
	assert_int_equal(notion_retry_after_parse("-1", now, &s), -1);
	assert_int_equal(notion_retry_after_parse("1s", now, &s), -1);
	assert_int_equal(notion_retry_after_parse(NULL, now, &s), -1);
	assert_int_equal(notion_retry_after_parse(
	    "Wed, 21 Oct 2015 07:28:10 UTC", now, &s), -1);

	assert_true(notion_status_retryable(429));
	assert_true(notion_status_retryable(500));
	assert_true(notion_status_retryable(502));
	assert_true(notion_status_retryable(503));
	assert_true(notion_status_retryable(504));
	assert_true(notion_status_retryable(529));
	assert_false(notion_status_retryable(501));
	assert_false(notion_status_retryable(401));
	assert_false(notion_status_retryable(403));
	assert_false(notion_status_retryable(404));
	assert_false(notion_status_retryable(200));
}

/* classification */

static void
test_classify_table(void **state)
{
	static const struct {
		enum notion_kind	 kind;
		long			 status;
		const char		*body;
		enum notion_code	 want;
	} cases[] = {
		{ NOTION_KIND_ME, 200, ME_BOT, NOTION_OK },
		{ NOTION_KIND_ME, 200, ME_PERSON, NOTION_AUTH_UNEXPECTED },
		{ NOTION_KIND_ME, 200, "{\"object\":\"user\"}",
		    NOTION_AUTH_UNEXPECTED },
		{ NOTION_KIND_ME, 200, PAGE1, NOTION_AUTH_UNEXPECTED },
		{ NOTION_KIND_ME, 200, HTML, NOTION_AUTH_UNEXPECTED },
		{ NOTION_KIND_ME, 200, "", NOTION_AUTH_UNEXPECTED },
		{ NOTION_KIND_ME, 200, "[1,2]", NOTION_AUTH_UNEXPECTED },
		{ NOTION_KIND_ME, 200, "{\"object\":", NOTION_AUTH_UNEXPECTED },
		{ NOTION_KIND_ME, 200, ERR(401, "unauthorized", "x"),
		    NOTION_AUTH_UNEXPECTED },
		{ NOTION_KIND_PAGE, 200, PAGE1, NOTION_OK },
		{ NOTION_KIND_PAGE, 200, DB1, NOTION_AUTH_UNEXPECTED },
		{ NOTION_KIND_PAGE, 200, "{\"object\":\"page\",\"id\":\""
		    ID2D "\"}", NOTION_AUTH_UNEXPECTED },
		{ NOTION_KIND_PAGE, 200, "{\"object\":\"page\"}",
		    NOTION_AUTH_UNEXPECTED },
		{ NOTION_KIND_PAGE, 200, "{\"object\":\"page\",\"id\":\""
		    ID1 "\"}", NOTION_OK },
		{ NOTION_KIND_DATABASE, 200, DB1, NOTION_OK },
		{ NOTION_KIND_DATABASE, 200, PAGE1, NOTION_AUTH_UNEXPECTED },
		{ NOTION_KIND_ME, 401, ERR(401, "unauthorized",
		    "API token is invalid."), NOTION_AUTH_INVALID },
		{ NOTION_KIND_PAGE, 401, ERR(401, "unauthorized",
		    "API token is invalid."), NOTION_AUTH_INVALID },
		{ NOTION_KIND_ME, 401, HTML, NOTION_AUTH_UNEXPECTED },
		{ NOTION_KIND_ME, 401, "", NOTION_AUTH_UNEXPECTED },
		{ NOTION_KIND_ME, 401, ERR(401, "restricted_resource", "x"),
		    NOTION_AUTH_UNEXPECTED },
		{ NOTION_KIND_PAGE, 403, ERR(403, "restricted_resource",
		    "Insufficient permissions."), NOTION_AUTH_FORBIDDEN },
		{ NOTION_KIND_ME, 403, ERR(403, "restricted_resource", "x"),
		    NOTION_AUTH_FORBIDDEN },
		{ NOTION_KIND_PAGE, 403, HTML, NOTION_AUTH_UNEXPECTED },
		{ NOTION_KIND_PAGE, 404, ERR(404, "object_not_found",
		    "Could not find page."), NOTION_AUTH_TARGET_UNSHARED },
		{ NOTION_KIND_DATABASE, 404, ERR(404, "object_not_found", "x"),
		    NOTION_AUTH_TARGET_UNSHARED },
		{ NOTION_KIND_ME, 404, ERR(404, "object_not_found", "x"),
		    NOTION_AUTH_UNEXPECTED },
		{ NOTION_KIND_PAGE, 404, HTML, NOTION_AUTH_UNEXPECTED },
		{ NOTION_KIND_ME, 429, ERR(429, "rate_limited", "slow down"),
		    NOTION_AUTH_RATE_LIMITED },
		{ NOTION_KIND_ME, 429, HTML, NOTION_AUTH_RATE_LIMITED },
		{ NOTION_KIND_ME, 500, ERR(500, "internal_server_error", "x"),
		    NOTION_AUTH_UPSTREAM },
		{ NOTION_KIND_ME, 502, HTML, NOTION_AUTH_UPSTREAM },
		{ NOTION_KIND_ME, 503, ERR(503, "service_unavailable", "x"),
		    NOTION_AUTH_UPSTREAM },
		{ NOTION_KIND_PAGE, 504, "", NOTION_AUTH_UPSTREAM },
		{ NOTION_KIND_ME, 529, "", NOTION_AUTH_UPSTREAM },
		{ NOTION_KIND_ME, 501, "", NOTION_AUTH_UPSTREAM },
		{ NOTION_KIND_ME, 400, ERR(400, "validation_error", "bad"),
		    NOTION_AUTH_UNEXPECTED },
		{ NOTION_KIND_ME, 400, ERR(400, "missing_version", "x"),
		    NOTION_AUTH_UNEXPECTED },
		{ NOTION_KIND_ME, 409, ERR(409, "conflict_error", "x"),
		    NOTION_AUTH_UNEXPECTED },
		{ NOTION_KIND_ME, 301, HTML, NOTION_AUTH_UNEXPECTED },
		{ NOTION_KIND_ME, 418, "", NOTION_AUTH_UNEXPECTED },
	};
	struct notion_answer a;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *id = cases[i].kind == NOTION_KIND_ME ? NULL : ID1D;
		enum notion_code got;

		got = notion_classify(cases[i].kind, id, cases[i].status,
		    cases[i].body, strlen(cases[i].body), NULL, &a);
		if (got != cases[i].want)
			fail_msg("case %zu (HTTP %ld %.40s): got %s, want %s",
			    i, cases[i].status, cases[i].body,
			    notion_code_name(got),
			    notion_code_name(cases[i].want));
		assert_true(strlen(a.detail) > 0);
	}
}

static void
test_classify_details(void **state)
{
	struct notion_answer a;

	(void)state;
	assert_int_equal(notion_classify(NOTION_KIND_ME, NULL, 200, ME_BOT,
	    strlen(ME_BOT), "hdr-req", &a), NOTION_OK);
	assert_string_equal(a.bot_name, "Spec Sync");
	assert_string_equal(a.workspace_name, "Acme");
	assert_string_equal(a.request_id, "hdr-req");
	assert_int_equal(notion_classify(NOTION_KIND_ME, NULL, 200, ME_BOT,
	    strlen(ME_BOT), NULL, &a), NOTION_OK);
	assert_string_equal(a.request_id, "body-req");

	assert_int_equal(notion_classify(NOTION_KIND_PAGE, ID1D, 404,
	    ERR(404, "object_not_found", "Could not find page."),
	    strlen(ERR(404, "object_not_found", "Could not find page.")),
	    "", &a), NOTION_AUTH_TARGET_UNSHARED);
	assert_string_equal(a.error_code, "object_not_found");
	assert_string_equal(a.request_id, "rq");
	assert_non_null(strstr(a.detail, "page:" ID1D));
	assert_non_null(strstr(a.detail, "Could not find page."));

	assert_int_equal(notion_classify(NOTION_KIND_ME, NULL, 200, ME_PERSON,
	    strlen(ME_PERSON), NULL, &a), NOTION_AUTH_UNEXPECTED);
	assert_non_null(strstr(a.detail, "person"));
	assert_int_equal(notion_classify(NOTION_KIND_ME, NULL, 200, HTML,
	    strlen(HTML), NULL, &a), NOTION_AUTH_UNEXPECTED);
	assert_non_null(strstr(a.detail, "not JSON"));
	/* hostile header: kept to printable ASCII */
	assert_int_equal(notion_classify(NOTION_KIND_ME, NULL, 401,
	    ERR(401, "unauthorized", "x"),
	    strlen(ERR(401, "unauthorized", "x")), "a b\nc::d", &a),
	    NOTION_AUTH_INVALID);
	assert_string_equal(a.request_id, "abc::d");
}

/* report */

static void
test_report_code(void **state)
{
	struct notion_report r;

	(void)state;
	notion_report_init(&r);
	assert_int_equal(notion_report_exit(&r), 0);
	notion_report_add(&r, NOTION_AUTH_ROTATION_DUE, 0, NULL, NULL, "w");
	assert_int_equal(notion_report_code(&r), NOTION_OK);
	assert_int_equal(notion_report_exit(&r), 0);
	notion_report_add(&r, NOTION_AUTH_ROTATION_OVERDUE, 0, NULL, NULL, "o");
	assert_int_equal(notion_report_exit(&r), 19);
	notion_report_add(&r, NOTION_AUTH_TARGET_UNSHARED, 404, "r", "page:x",
	    "t");
	notion_report_add(&r, NOTION_AUTH_FORBIDDEN, 403, "r", "page:y", "f");
	assert_int_equal(notion_report_code(&r), NOTION_AUTH_TARGET_UNSHARED);
	assert_int_equal(notion_report_exit(&r), 14);

	notion_report_init(&r);
	for (int i = 0; i < NOTION_MAX_FINDINGS + 3; i++)
		notion_report_add(&r, NOTION_AUTH_NETWORK, 0, NULL, NULL, "n");
	assert_int_equal(r.nfindings, NOTION_MAX_FINDINGS);
	assert_int_equal(r.dropped, 3);
}

static void
test_report_text_safety(void **state)
{
	struct notion_report r;
	char big[2000];
	json_t *j;
	size_t n;

	(void)state;
	/* 2-byte characters cut at a character boundary, control chars out */
	for (n = 0; n + 2 < sizeof(big); n += 2)
		memcpy(big + n, "\xc3\xa9", 2);
	big[n] = '\0';
	notion_report_init(&r);
	notion_report_add(&r, NOTION_AUTH_NETWORK, 0, "id\x01x", "t\n", "%s",
	    big);
	notion_report_add(&r, NOTION_AUTH_NETWORK, 0, NULL, NULL, "a\nb\x1b"
	    "c\xff");
	assert_true(strlen(r.findings[0].message) < NOTION_MSG_MAX);
	j = json_string(r.findings[0].message);
	assert_non_null(j);
	json_decref(j);
	assert_string_equal(r.findings[0].request_id, "idx");
	assert_string_equal(r.findings[0].target, "t?");
	assert_string_equal(r.findings[1].message, "a?b?c?");
}

static void
test_rotation_finding(void **state)
{
	struct notion_report r;
	const time_t issued = 1767225600;

	(void)state;
	notion_report_init(&r);
	notion_check_rotation(&r, issued, 90, 14, issued + 86400);
	assert_int_equal(r.nfindings, 0);
	notion_check_rotation(&r, issued, 90, 14, issued + 80 * 86400);
	assert_int_equal(r.nfindings, 1);
	assert_int_equal(r.findings[0].code, NOTION_AUTH_ROTATION_DUE);
	assert_non_null(strstr(r.findings[0].message, "2026-04-01T00:00:00Z"));
	assert_non_null(strstr(r.findings[0].message, "10 day(s) left"));
	notion_check_rotation(&r, issued, 90, 14, issued + 95 * 86400);
	assert_int_equal(r.findings[1].code, NOTION_AUTH_ROTATION_OVERDUE);
	assert_non_null(strstr(r.findings[1].message, "5 day(s) ago"));
}

/* the retry loop, through a fake transport */

struct fake_answer {
	long		 status;	/* -1: transport failure */
	const char	*body;
	const char	*retry_after;
};

struct fake {
	const struct fake_answer *answers;	/* by URL suffix, see fake_get */
	const char	*fail_suffix;	/* URL suffix answered by fail_answer */
	struct fake_answer fail_answer;
	int		 calls;
	long long	 clock;
	long		 slept[16];
	int		 nslept;
	char		 urls[16][160];
};

static int
fake_get(void *ctx, const char *method, const char *url, const char *token,
    const char *body, size_t body_len, long timeout_ms,
    struct notion_http *resp)
{
	assert_string_equal(method, "GET");
	assert_null(body);
	assert_int_equal(body_len, 0);
	struct fake *f = ctx;
	const struct fake_answer *a = &f->answers[0];
	size_t ul = strlen(url), sl;

	assert_string_equal(token, TOKEN);
	assert_true(timeout_ms > 0);
	if (f->calls < 16)
		snprintf(f->urls[f->calls], sizeof(f->urls[0]), "%s", url);
	f->calls++;
	f->clock += 10;
	if (strstr(url, "/v1/pages/") || strstr(url, "/v1/databases/"))
		a = &f->answers[1];
	if (f->fail_suffix && ul >= (sl = strlen(f->fail_suffix)) &&
	    strcmp(url + ul - sl, f->fail_suffix) == 0)
		a = &f->fail_answer;
	if (a->status == -1) {
		snprintf(resp->error, sizeof(resp->error), "Timeout was "
		    "reached");
		return -1;
	}
	resp->status = a->status;
	buf_appends(&resp->body, a->body);
	snprintf(resp->request_id, sizeof(resp->request_id), "req-%d",
	    f->calls);
	if (a->retry_after)
		snprintf(resp->retry_after, sizeof(resp->retry_after), "%s",
		    a->retry_after);
	return 0;
}

static long long
fake_now(void *ctx)
{
	return ((struct fake *)ctx)->clock;
}

static void
fake_sleep(void *ctx, long ms)
{
	struct fake *f = ctx;

	if (f->nslept < 16)
		f->slept[f->nslept++] = ms;
	f->clock += ms;
}

static void
run_fake(struct fake *f, const struct notion_target *t, size_t nt,
    long deadline_ms, struct notion_report *r)
{
	struct notion_options o;
	struct notion_transport tr = { fake_get, fake_now, fake_sleep, f };

	notion_options_init(&o);
	o.token = TOKEN;
	o.api_base = "https://api.example";
	o.targets = t;
	o.ntargets = nt;
	o.timeout_ms = 2000;
	if (deadline_ms)
		o.deadline_ms = deadline_ms;
	notion_report_init(r);
	notion_check_api(&o, &tr, 1445412480, r);
}

static const struct notion_target two_targets[] = {
	{ NOTION_KIND_PAGE, ID1D },
	{ NOTION_KIND_DATABASE, ID2D },
};

static void
assert_no_token(const struct notion_report *r)
{
	struct buf b = BUF_INIT;

	notion_format_text(r, &b);
	notion_format_json(r, &b);
	notion_format_github(r, &b);
	notion_format_markdown(r, &b);
	assert_null(strstr(buf_str(&b), "UNITTOKEN"));
	buf_free(&b);
}

static void
test_run_ok_and_unshared(void **state)
{
	const struct fake_answer ans[] = {
		{ 200, ME_BOT, NULL }, { 200, PAGE1, NULL },
	};
	struct fake f = { .answers = ans, .fail_suffix = ID2D,
	    .fail_answer = { 404, ERR(404, "object_not_found", "nope"),
	    NULL } };
	struct notion_report r;

	(void)state;
	run_fake(&f, two_targets, 2, 0, &r);
	assert_int_equal(f.calls, 3);
	assert_string_equal(f.urls[0], "https://api.example/v1/users/me");
	assert_string_equal(f.urls[1], "https://api.example/v1/pages/" ID1D);
	assert_string_equal(f.urls[2], "https://api.example/v1/databases/"
	    ID2D);
	assert_int_equal(f.nslept, 0);
	assert_true(r.bot_known);
	assert_string_equal(r.bot_name, "Spec Sync");
	assert_int_equal(r.nchecked, 1);
	assert_string_equal(r.checked[0], "page:" ID1D);
	assert_int_equal(r.nfindings, 1);
	assert_int_equal(r.findings[0].code, NOTION_AUTH_TARGET_UNSHARED);
	assert_int_equal(r.findings[0].http_status, 404);
	assert_string_equal(r.findings[0].target, "database:" ID2D);
	assert_string_equal(r.findings[0].request_id, "req-3");
	assert_int_equal(notion_report_exit(&r), 14);
	assert_no_token(&r);
}

static void
test_run_invalid_not_retried(void **state)
{
	const struct fake_answer ans[] = {
		{ 401, ERR(401, "unauthorized", "API token is invalid."), "1" },
		{ 200, PAGE1, NULL },
	};
	struct fake f = { .answers = ans };
	struct notion_report r;

	(void)state;
	run_fake(&f, two_targets, 2, 0, &r);
	assert_int_equal(f.calls, 1);	/* no retry, no targets */
	assert_int_equal(f.nslept, 0);
	assert_false(r.bot_known);
	assert_int_equal(notion_report_exit(&r), 12);
	assert_no_token(&r);
}

static void
test_run_429_retried(void **state)
{
	const struct fake_answer ans[] = {
		{ 429, ERR(429, "rate_limited", "slow down"), "1" },
		{ 200, PAGE1, NULL },
	};
	struct fake f = { .answers = ans };
	struct notion_report r;

	(void)state;
	run_fake(&f, NULL, 0, 0, &r);
	assert_int_equal(f.calls, 4);	/* 1 + 3 retries */
	assert_int_equal(f.nslept, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(f.slept[i], 1000);
	assert_int_equal(notion_report_exit(&r), 15);
	assert_non_null(strstr(r.findings[0].message, "4 attempts"));
}

static void
test_run_5xx_backoff_and_cap(void **state)
{
	const struct fake_answer backoff[] = {
		{ 503, HTML, NULL }, { 200, PAGE1, NULL },
	};
	const struct fake_answer capped[] = {
		{ 529, "", "3600" }, { 200, PAGE1, NULL },
	};
	const struct fake_answer bad_ra[] = {
		{ 500, "", "later" }, { 200, PAGE1, NULL },
	};
	struct fake f = { .answers = backoff };
	struct fake g = { .answers = capped };
	struct fake h = { .answers = bad_ra };
	struct notion_report r;

	(void)state;
	run_fake(&f, NULL, 0, 0, &r);
	assert_int_equal(f.calls, 4);
	assert_int_equal(f.slept[0], 500);
	assert_int_equal(f.slept[1], 1000);
	assert_int_equal(f.slept[2], 2000);
	assert_int_equal(notion_report_exit(&r), 16);

	run_fake(&g, NULL, 0, 0, &r);
	assert_int_equal(g.calls, 4);
	assert_int_equal(g.slept[0], 10000);	/* Retry-After capped */
	assert_int_equal(notion_report_exit(&r), 16);

	run_fake(&h, NULL, 0, 0, &r);
	assert_int_equal(h.slept[0], 500);	/* bad Retry-After: backoff */
}

static void
test_run_deadline(void **state)
{
	const struct fake_answer ans[] = {
		{ 429, "", "1" }, { 200, PAGE1, NULL },
	};
	struct fake f = { .answers = ans };
	struct notion_report r;

	(void)state;
	run_fake(&f, NULL, 0, 2500, &r);
	/* t=10 call, sleep to 1010, call, sleep to 2020, call at 2030:
	 * another second would pass 2500 */
	assert_int_equal(f.calls, 3);
	assert_int_equal(f.nslept, 2);
	assert_int_equal(notion_report_exit(&r), 15);
	assert_non_null(strstr(r.findings[0].message, "overall deadline"));
}

static void
test_run_network_and_recovery(void **state)
{
	const struct fake_answer down[] = {
		{ -1, NULL, NULL }, { 200, PAGE1, NULL },
	};
	const struct fake_answer ok[] = {
		{ 200, ME_BOT, NULL }, { 200, PAGE1, NULL },
	};
	struct fake f = { .answers = down };
	struct fake g = { .answers = ok, .fail_suffix = ID1D,
	    .fail_answer = { -1, NULL, NULL } };
	struct notion_report r;
	const struct notion_target one = { NOTION_KIND_PAGE, ID1D };

	(void)state;
	run_fake(&f, NULL, 0, 0, &r);
	assert_int_equal(f.calls, 1);	/* transport failures: no retry */
	assert_int_equal(notion_report_exit(&r), 17);
	assert_non_null(strstr(r.findings[0].message, "Timeout"));

	run_fake(&g, &one, 1, 0, &r);
	assert_int_equal(g.calls, 2);
	assert_int_equal(notion_report_exit(&r), 17);
	assert_string_equal(r.findings[0].target, "page:" ID1D);
}

/* formats */

static void
test_formats(void **state)
{
	struct notion_report r;
	struct buf b = BUF_INIT;
	json_t *j, *f0;
	json_error_t jerr;

	(void)state;
	notion_report_init(&r);
	snprintf(r.fingerprint, sizeof(r.fingerprint), "secr\xe2\x80\xa6"
	    "sha256:1a2b3c4d");
	notion_report_add(&r, NOTION_AUTH_INVALID, 401, "rq-1", "users/me",
	    "users/me answered HTTP 401 unauthorized: 100%% | bad");
	notion_report_add(&r, NOTION_AUTH_ROTATION_DUE, 0, NULL, NULL, "soon");

	notion_format_text(&r, &b);
	assert_non_null(strstr(buf_str(&b), "error NOTION_AUTH_INVALID: "));
	assert_non_null(strstr(buf_str(&b), "http 401, request id rq-1"));
	assert_non_null(strstr(buf_str(&b),
	    "runbooks/notion-ci-token.md#notion_auth_invalid"));
	assert_non_null(strstr(buf_str(&b), "warning NOTION_AUTH_ROTATION_DUE"));
	assert_non_null(strstr(buf_str(&b), "FAILED: NOTION_AUTH_INVALID "
	    "(exit 12)"));

	buf_reset(&b);
	notion_format_github(&r, &b);
	assert_non_null(strstr(buf_str(&b),
	    "::error title=NOTION_AUTH_INVALID::"));
	assert_non_null(strstr(buf_str(&b), "100%25 | bad"));
	assert_non_null(strstr(buf_str(&b),
	    "::warning title=NOTION_AUTH_ROTATION_DUE::"));

	buf_reset(&b);
	notion_format_markdown(&r, &b);
	assert_non_null(strstr(buf_str(&b), "100% \\| bad"));
	assert_non_null(strstr(buf_str(&b), "FAILED `NOTION_AUTH_INVALID`"));

	buf_reset(&b);
	notion_format_json(&r, &b);
	j = json_loads(buf_str(&b), 0, &jerr);
	assert_non_null(j);
	assert_true(json_is_false(json_object_get(j, "ok")));
	assert_string_equal(json_string_value(json_object_get(j, "code")),
	    "NOTION_AUTH_INVALID");
	assert_int_equal(json_integer_value(json_object_get(j, "exit")), 12);
	assert_true(json_is_null(json_object_get(j, "bot")));
	f0 = json_array_get(json_object_get(j, "findings"), 0);
	assert_int_equal(json_integer_value(json_object_get(f0,
	    "http_status")), 401);
	assert_string_equal(json_string_value(json_object_get(f0,
	    "request_id")), "rq-1");
	assert_string_equal(json_string_value(json_object_get(f0, "severity")),
	    "error");
	assert_true(json_is_null(json_object_get(json_array_get(
	    json_object_get(j, "findings"), 1), "http_status")));
	json_decref(j);

	/* success */
	notion_report_init(&r);
	r.bot_known = 1;
	snprintf(r.bot_name, sizeof(r.bot_name), "Spec Sync");
	snprintf(r.workspace_name, sizeof(r.workspace_name), "Acme");
	snprintf(r.checked[0], sizeof(r.checked[0]), "page:" ID1D);
	r.nchecked = r.ntargets = 1;
	buf_reset(&b);
	notion_format_text(&r, &b);
	assert_non_null(strstr(buf_str(&b), "ok: token (none) belongs to bot "
	    "\"Spec Sync\" in workspace \"Acme\"; targets checked (1): page:"));
	buf_reset(&b);
	notion_format_json(&r, &b);
	j = json_loads(buf_str(&b), 0, &jerr);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "ok")));
	assert_true(json_is_null(json_object_get(j, "code")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    j, "bot"), "workspace_name")), "Acme");
	json_decref(j);
	buf_free(&b);
}

static void
test_redact(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	buf_appends(&b, "a SECRETTOKEN b SECRETTOKENSECRETTOKEN c");
	notion_redact(&b, "SECRETTOKEN", 11, "[fp]");
	assert_string_equal(buf_str(&b), "a [fp] b [fp][fp] c");
	notion_redact(&b, "absent", 6, "[fp]");
	assert_string_equal(buf_str(&b), "a [fp] b [fp][fp] c");
	buf_free(&b);
}

/* the client: pacer, method and body, the retry rule for writes */
struct wfake {
	long		 statuses[8];	/* answered in turn, the last repeats */
	int		 nstatuses;
	int		 calls;
	long long	 clock;
	long long	 sent_at[8];
	char		 method[8][8];
	char		 body[8][64];
};

static int
wfake_request(void *ctx, const char *method, const char *url,
    const char *token, const char *body, size_t body_len, long timeout_ms,
    struct notion_http *resp)
{
	struct wfake *f = ctx;
	int i = f->calls < f->nstatuses ? f->calls : f->nstatuses - 1;

	(void)url;
	(void)token;
	(void)timeout_ms;
	if (f->calls < 8) {
		f->sent_at[f->calls] = f->clock;
		snprintf(f->method[f->calls], sizeof(f->method[0]), "%s", method);
		snprintf(f->body[f->calls], sizeof(f->body[0]), "%.*s",
		    (int)body_len, body ? body : "");
	}
	f->calls++;
	f->clock += 5;
	resp->status = f->statuses[i];
	if (resp->status == 200)
		buf_appends(&resp->body, "{\"object\":\"list\",\"results\":[]}");
	else if (resp->status == 404)
		buf_appends(&resp->body, ERR(404, "object_not_found", "gone"));
	else if (resp->status == 400)
		buf_appends(&resp->body, ERR(400, "validation_error",
		    "body.children.length should be <= 100"));
	else
		buf_appends(&resp->body, "{}");
	return 0;
}

static long long
wfake_now(void *ctx)
{
	return ((struct wfake *)ctx)->clock;
}

static void
wfake_sleep(void *ctx, long ms)
{
	((struct wfake *)ctx)->clock += ms;
}

static enum notion_code
wcall(struct wfake *f, long interval, int not_idempotent, int n,
    struct notion_report *r)
{
	struct notion_transport tr = { wfake_request, wfake_now, wfake_sleep,
	    f };
	struct notion_options o;
	struct notion_client c;
	struct notion_call call = { "PATCH", "/v1/blocks/x/children",
	    "{\"children\":[]}", 15, NOTION_KIND_CALL, NULL, "append", 0 };
	struct notion_answer ans;
	enum notion_code code = NOTION_OK;

	notion_options_init(&o);
	o.token = TOKEN;
	o.api_base = "https://api.example";
	o.min_interval_ms = interval;
	o.backoff_base_ms = 100;
	call.not_idempotent = not_idempotent;
	notion_report_init(r);
	notion_client_init(&c, &o, &tr, 1445412480);
	for (int i = 0; i < n; i++)
		code = notion_client_call(&c, &call, &ans, r);
	notion_client_free(&c);
	return code;
}

static void
test_client_pacer(void **state)
{
	struct wfake f = { { 200 }, 1, 0, 0, { 0 }, { "" }, { "" } };
	struct notion_report r;

	(void)state;
	assert_int_equal(wcall(&f, 334, 0, 4, &r), NOTION_OK);
	assert_int_equal(f.calls, 4);
	for (int i = 1; i < 4; i++)
		assert_true(f.sent_at[i] - f.sent_at[i - 1] >= 334);
	assert_string_equal(f.method[0], "PATCH");
	assert_string_equal(f.body[0], "{\"children\":[]}");
	assert_int_equal(r.nfindings, 0);
}

static void
test_client_write_retries(void **state)
{
	struct wfake f5 = { { 500, 200 }, 2, 0, 0, { 0 }, { "" }, { "" } };
	struct wfake f429 = { { 429, 429, 200 }, 3, 0, 0, { 0 }, { "" },
	    { "" } };
	struct wfake fi = { { 503, 200 }, 2, 0, 0, { 0 }, { "" }, { "" } };
	struct notion_report r;

	(void)state;
	/* an append that got a 5xx may have been applied: no retry */
	assert_int_equal(wcall(&f5, 0, 1, 1, &r), NOTION_AUTH_UPSTREAM);
	assert_int_equal(f5.calls, 1);
	assert_int_equal(r.nfindings, 1);
	assert_non_null(strstr(r.findings[0].message, "not retried"));
	/* a 429 was not processed: retried */
	assert_int_equal(wcall(&f429, 0, 1, 1, &r), NOTION_OK);
	assert_int_equal(f429.calls, 3);
	/* an idempotent call is retried on 5xx */
	assert_int_equal(wcall(&fi, 0, 0, 1, &r), NOTION_OK);
	assert_int_equal(fi.calls, 2);
}

static void
test_client_errors(void **state)
{
	struct wfake f404 = { { 404 }, 1, 0, 0, { 0 }, { "" }, { "" } };
	struct wfake f400 = { { 400 }, 1, 0, 0, { 0 }, { "" }, { "" } };
	struct notion_report r;

	(void)state;
	assert_int_equal(wcall(&f404, 0, 1, 1, &r),
	    NOTION_AUTH_TARGET_UNSHARED);
	assert_string_equal(r.findings[0].target, "append");
	assert_int_equal(wcall(&f400, 0, 1, 1, &r), NOTION_AUTH_UNEXPECTED);
	assert_non_null(strstr(r.findings[0].message, "validation_error"));
	assert_non_null(strstr(r.findings[0].message, "<= 100"));
}

static void
test_classify_archived(void **state)
{
	struct notion_answer ans;
	const char *body = "{\"object\":\"page\",\"id\":\"" ID1D
	    "\",\"archived\":true}";

	(void)state;
	assert_int_equal(notion_classify(NOTION_KIND_PAGE, ID1D, 200, body,
	    strlen(body), NULL, &ans), NOTION_AUTH_UNEXPECTED);
	assert_non_null(strstr(ans.detail, "archived"));
}

/* paging: pages answered in turn by URL / body, see pfake_request */
struct pfake {
	int		 calls;
	char		 seen[8][160];	/* url + " " + body */
	const char	*pages[4];	/* the answers, in turn */
};

static int
pfake_request(void *ctx, const char *method, const char *url,
    const char *token, const char *body, size_t body_len, long timeout_ms,
    struct notion_http *resp)
{
	struct pfake *f = ctx;

	(void)method;
	(void)token;
	(void)timeout_ms;
	if (f->calls < 8)
		snprintf(f->seen[f->calls], sizeof(f->seen[0]), "%s %.*s", url,
		    (int)body_len, body ? body : "");
	resp->status = 200;
	buf_appends(&resp->body, f->pages[f->calls < 4 ? f->calls : 3]);
	f->calls++;
	return 0;
}

static long long
pfake_now(void *ctx)
{
	(void)ctx;
	return 0;
}

static void
pfake_sleep(void *ctx, long ms)
{
	(void)ctx;
	(void)ms;
}

static int
count_item(json_t *item, void *ctx)
{
	int *n = ctx;

	if (json_integer_value(json_object_get(item, "n")) == *n + 1)
		(*n)++;
	return 0;
}

static int
pfake_each(struct pfake *f, const json_t *query, int *n,
    struct notion_report *r)
{
	struct notion_transport tr = { pfake_request, pfake_now, pfake_sleep,
	    f };
	struct notion_options o;
	struct notion_client c;
	struct notion_call call = { query ? "POST" : "GET", query ?
	    "/v1/databases/d/query" : "/v1/blocks/b/children?page_size=100",
	    NULL, 0, NOTION_KIND_CALL, NULL, "list", 0 };
	int rc;

	notion_options_init(&o);
	o.token = TOKEN;
	o.api_base = "https://api.example";
	notion_report_init(r);
	notion_client_init(&c, &o, &tr, 1445412480);
	*n = 0;
	rc = notion_client_each(&c, &call, query, r, count_item, n);
	notion_client_free(&c);
	return rc;
}

static void
test_paging(void **state)
{
	struct pfake f = { 0, { "" }, {
	    "{\"results\":[{\"n\":1},{\"n\":2}],\"has_more\":true,"
	    "\"next_cursor\":\"c-2\"}",
	    "{\"results\":[{\"n\":3}],\"has_more\":true,\"next_cursor\":\"c-3\"}",
	    "{\"results\":[{\"n\":4}],\"has_more\":false,\"next_cursor\":null}",
	    "{}" } };
	struct notion_report r;
	json_t *q = json_object();
	int n;

	(void)state;
	/* GET: the cursor goes into the URL, every page's items are seen */
	if (pfake_each(&f, NULL, &n, &r) != 0)
		fail_msg("%s", r.findings[0].message);
	assert_int_equal(n, 4);
	assert_int_equal(f.calls, 3);
	assert_string_equal(f.seen[0], "https://api.example/v1/blocks/b/"
	    "children?page_size=100 ");
	assert_string_equal(f.seen[2], "https://api.example/v1/blocks/b/"
	    "children?page_size=100&start_cursor=c-3 ");
	/* POST: the cursor goes into a copy of the query */
	memset(&f.seen, 0, sizeof(f.seen));
	f.calls = 0;
	assert_int_equal(pfake_each(&f, q, &n, &r), 0);
	assert_int_equal(n, 4);
	assert_string_equal(f.seen[1], "https://api.example/v1/databases/d/"
	    "query {\"page_size\":100,\"start_cursor\":\"c-2\"}");
	assert_int_equal(json_object_size(q), 0);
	/* a cursor too long to keep is a finding, not a silent stop */
	f.calls = 0;
	f.pages[0] = "{\"results\":[{\"n\":1}],\"has_more\":true,"
	    "\"next_cursor\":\"" "0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789"
	    "0123456789\"}";
	assert_int_equal(pfake_each(&f, NULL, &n, &r), -1);
	assert_int_equal(notion_report_code(&r), NOTION_AUTH_UNEXPECTED);
	assert_int_equal(f.calls, 1);
	/* an answer that is not a JSON object */
	f.calls = 0;
	f.pages[0] = "[1]";
	assert_int_equal(pfake_each(&f, NULL, &n, &r), -1);
	assert_int_equal(notion_report_code(&r), NOTION_AUTH_UNEXPECTED);
	json_decref(q);
}

/* settings: the notion: section under the environment, read once */

static const char *const notion_vars[] = {
	"NOTION_TOKEN", "NOTION_TOKEN_FILE", "NOTION_API_BASE",
	"NOTION_VERSION", "NOTION_PREFLIGHT_TARGETS", "NOTION_TOKEN_ISSUED_AT",
	"NOTION_TOKEN_ROTATE_DAYS", "NOTION_TOKEN_WARN_DAYS", NULL
};

static void
clear_notion_env(void)
{
	for (size_t i = 0; notion_vars[i]; i++)
		unsetenv(notion_vars[i]);
}

static char *
write_file(const char *text)
{
	char *path = strdup("/tmp/test_notion_setXXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void
test_settings_file(void **state)
{
	struct notion_settings s;
	char err[512], text[512], *tok, *path;

	(void)state;
	clear_notion_env();
	tok = write_file(TOKEN "\n");
	snprintf(text, sizeof(text),
	    "database:\n  url: postgresql:///ops\n"
	    "notion:\n"
	    "  api_base: https://api.example/\n"
	    "  targets: page:" ID1 "\n"
	    "  token_file: %s\n"
	    "  token_issued_at: 2026-01-01\n"
	    "  token_rotate_days: 90\n", tok);
	path = write_file(text);
	assert_int_equal(notion_settings_load(&s, path, 1767225600 + 86400,
	    err, sizeof(err)), 0);
	assert_string_equal(s.api_base, "https://api.example");
	assert_string_equal(s.version, NOTION_DEFAULT_VERSION);
	assert_int_equal(s.ntargets, 1);
	assert_string_equal(s.targets[0].id, ID1D);
	assert_int_equal(s.rotation, 1);
	assert_int_equal(s.rotate_days, 90);
	assert_int_equal(s.warn_days, 14);
	assert_int_equal(s.token_code, NOTION_OK);
	assert_string_equal(buf_str(&s.token), TOKEN);
	/* nothing went into the environment (no setenv round trip) */
	for (size_t i = 0; notion_vars[i]; i++)
		assert_null(getenv(notion_vars[i]));
	notion_settings_free(&s);
	assert_int_equal(s.token.cap, 0);
	assert_int_equal(s.token.len, 0);

	/* the environment wins, the file fills the rest */
	setenv("NOTION_API_BASE", "https://env.example", 1);
	setenv("NOTION_TOKEN_FILE", tok, 1);
	setenv("NOTION_TOKEN_WARN_DAYS", "3", 1);
	assert_int_equal(notion_settings_load(&s, path, 1767225600, err,
	    sizeof(err)), 0);
	assert_string_equal(s.api_base, "https://env.example");
	assert_int_equal(s.warn_days, 3);
	assert_int_equal(s.ntargets, 1);
	assert_string_equal(buf_str(&s.token), TOKEN);
	notion_settings_free(&s);
	clear_notion_env();
	unlink(path);
	free(path);
	unlink(tok);
	free(tok);
}

static void
test_settings_errors(void **state)
{
	struct notion_settings s;
	char err[512], *path;

	(void)state;
	clear_notion_env();
	/* no file: the environment alone, defaults */
	assert_int_equal(notion_settings_load(&s, NULL, 0, err, sizeof(err)),
	    0);
	assert_string_equal(s.api_base, NOTION_DEFAULT_API_BASE);
	assert_int_equal(s.token_code, NOTION_AUTH_MISSING);
	assert_int_equal(s.rotation, 0);
	notion_settings_free(&s);

	/* a bad value in the file names file:line and the key */
	path = write_file("log:\n  level: info\nnotion:\n"
	    "  api_base: http://api.notion.com\n");
	assert_int_equal(notion_settings_load(&s, path, 0, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, ":4: notion.api_base: uses http://"));
	unlink(path);
	free(path);
	path = write_file("notion:\n  tokn: x\n");
	assert_int_equal(notion_settings_load(&s, path, 0, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, ":2: unknown key notion.tokn"));
	unlink(path);
	free(path);
	path = write_file("notion:\n  token_file: /nonexistent/t\n");
	assert_int_equal(notion_settings_load(&s, path, 0, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, ":2: notion.token_file: cannot read"));
	unlink(path);
	free(path);

	/* the environment: named */
	setenv("NOTION_TOKEN_WARN_DAYS", "-3", 1);
	assert_int_equal(notion_settings_load(&s, NULL, 0, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "environment NOTION_TOKEN_WARN_DAYS"));
	unsetenv("NOTION_TOKEN_WARN_DAYS");
	setenv("NOTION_VERSION", "2022-6-28", 1);
	assert_int_equal(notion_settings_load(&s, NULL, 0, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "environment NOTION_VERSION"));
	unsetenv("NOTION_VERSION");
	setenv("NOTION_TOKEN_ISSUED_AT", "2020-01-01", 1);
	assert_int_equal(notion_settings_load(&s, NULL, 0, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "or neither"));
	unsetenv("NOTION_TOKEN_ISSUED_AT");

	/* the token: findings, not load errors; both variables: refused */
	setenv("NOTION_TOKEN", "", 1);
	assert_int_equal(notion_settings_load(&s, NULL, 0, err, sizeof(err)),
	    0);
	assert_int_equal(s.token_code, NOTION_AUTH_MALFORMED);
	notion_settings_free(&s);
	setenv("NOTION_TOKEN_FILE", "/nonexistent/t", 1);
	assert_int_equal(notion_settings_load(&s, NULL, 0, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "not both"));
	unsetenv("NOTION_TOKEN");
	assert_int_equal(notion_settings_load(&s, NULL, 0, err, sizeof(err)),
	    0);
	assert_int_equal(s.token_code, NOTION_AUTH_MISSING);
	assert_non_null(strstr(s.token_why, "NOTION_TOKEN_FILE"));
	notion_settings_free(&s);
	clear_notion_env();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_catalog),
		cmocka_unit_test(test_token_check),
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_token_load),
		cmocka_unit_test(test_id_normalize),
		cmocka_unit_test(test_targets_parse),
		cmocka_unit_test(test_api_base),
		cmocka_unit_test(test_parse_long),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_rotation_edges),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_classify_table),
		cmocka_unit_test(test_classify_details),
		cmocka_unit_test(test_report_code),
		cmocka_unit_test(test_report_text_safety),
		cmocka_unit_test(test_rotation_finding),
		cmocka_unit_test(test_run_ok_and_unshared),
		cmocka_unit_test(test_run_invalid_not_retried),
		cmocka_unit_test(test_run_429_retried),
		cmocka_unit_test(test_run_5xx_backoff_and_cap),
		cmocka_unit_test(test_run_deadline),
		cmocka_unit_test(test_run_network_and_recovery),
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_client_pacer),
		cmocka_unit_test(test_client_write_retries),
		cmocka_unit_test(test_client_errors),
		cmocka_unit_test(test_classify_archived),
		cmocka_unit_test(test_paging),
		cmocka_unit_test(test_settings_file),
		cmocka_unit_test(test_settings_errors),
	};

	log_init("test_notion", LOG_WARN, LOG_FORMAT_TEXT);	/* no retry chatter */
	return cmocka_run_group_tests_name("notion", tests, NULL, NULL);
}
