/* fcgi_rec: FastCGI records in memory (fcgi/fcgi_rec.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fcgi_rec.h"

/* One record: type, request id, content, padding. */
static void
rec(struct buf *b, int type, int id, const void *c, size_t n, int pad)
{
	unsigned char h[8] = { 1, (unsigned char)type, (unsigned char)(id >> 8),
	    (unsigned char)id, (unsigned char)(n >> 8), (unsigned char)n,
	    (unsigned char)pad, 0 };
	static const char zeros[255];

	buf_append(b, h, 8);
	buf_append(b, c, n);
	buf_append(b, zeros, (size_t)pad);
}

/* A name-value pair; long_value: the value's length in 4 bytes. */
static void
pair(struct buf *b, const char *name, const char *value, int long_value)
{
	size_t vl = strlen(value);
	unsigned char l[5];

	buf_appendc(b, (char)strlen(name));
	if (long_value) {
		l[0] = (unsigned char)(0x80 | (vl >> 24));
		l[1] = (unsigned char)(vl >> 16);
		l[2] = (unsigned char)(vl >> 8);
		l[3] = (unsigned char)vl;
		buf_append(b, l, 4);
	} else {
		buf_appendc(b, (char)vl);
	}
	buf_appends(b, name);
	buf_appends(b, value);
}

static const unsigned char begin_keep[8] = { 0, 1, 1, 0, 0, 0, 0, 0 };

/* b = request 1 without a body whose params (n bytes) carry request id pid */
static void
bodyless(struct buf *b, int pid, const void *params, size_t n)
{
	buf_reset(b);
	rec(b, 1, 1, begin_keep, 8, 0);
	rec(b, 4, pid, params, n, 0);
	rec(b, 4, 1, "", 0, 0);
	rec(b, 5, 1, "", 0, 0);
}

/* What nginx sends for a GET: params split over two records. */
static void
get_request(struct buf *b, int id, const unsigned char *begin)
{
	struct buf p = BUF_INIT;

	pair(&p, "REQUEST_METHOD", "GET", 0);
	pair(&p, "REQUEST_URI", "/api/ops/audit-exports/x", 1);
	pair(&p, "HTTP_AUTHORIZATION", "Bearer a.b.c", 0);
	rec(b, 1, id, begin, 8, 0);
	rec(b, 4, id, p.data, 10, 3);
	rec(b, 4, id, p.data + 10, p.len - 10, 0);
	rec(b, 4, id, "", 0, 0);
	rec(b, 5, id, "", 0, 0);
	buf_free(&p);
}

static void
test_get(void **state)
{
	struct buf b = BUF_INIT;
	struct fcgi_req r;

	(void)state;
	get_request(&b, 7, begin_keep);
	assert_int_equal(fcgi_req_parse((unsigned char *)b.data, b.len, &r),
	    b.len);
	assert_int_equal(r.id, 7);
	assert_true(r.keep_conn);
	assert_string_equal(r.envp[0], "REQUEST_METHOD=GET");
	assert_string_equal(r.envp[1],
	    "REQUEST_URI=/api/ops/audit-exports/x");
	assert_string_equal(r.envp[2], "HTTP_AUTHORIZATION=Bearer a.b.c");
	assert_null(r.envp[3]);
	fcgi_req_free(&r);
	/* a second request after it: only the first is taken */
	get_request(&b, 8, begin_keep);
	assert_int_equal(fcgi_req_parse((unsigned char *)b.data, b.len, &r),
	    b.len / 2);
	assert_int_equal(r.id, 7);
	fcgi_req_free(&r);
	buf_free(&b);
}

static void
test_not_whole(void **state)
{
	struct buf b = BUF_INIT;
	struct fcgi_req r;

	(void)state;
	get_request(&b, 1, begin_keep);
	for (size_t n = 0; n < b.len; n++) {
		assert_int_equal(fcgi_req_parse((unsigned char *)b.data, n, &r),
		    0);
		assert_null(r.envp[0]);
		assert_null(r.strings);
	}
	buf_free(&b);
}

static void
test_not_mine(void **state)
{
	static const unsigned char authorizer[8] = { 0, 2, 1, 0, 0, 0, 0, 0 };
	struct buf b = BUF_INIT, p = BUF_INIT;
	struct fcgi_req r;

	(void)state;
	/* another role */
	get_request(&b, 1, authorizer);
	assert_int_equal(fcgi_req_parse((unsigned char *)b.data, b.len, &r), 0);
	/* a body */
	buf_reset(&b);
	pair(&p, "REQUEST_METHOD", "POST", 0);
	rec(&b, 1, 1, begin_keep, 8, 0);
	rec(&b, 4, 1, p.data, p.len, 0);
	rec(&b, 4, 1, "", 0, 0);
	rec(&b, 5, 1, "{}", 2, 0);
	rec(&b, 5, 1, "", 0, 0);
	assert_int_equal(fcgi_req_parse((unsigned char *)b.data, b.len, &r), 0);
	/* params of another request id */
	bodyless(&b, 2, p.data, p.len);
	assert_int_equal(fcgi_req_parse((unsigned char *)b.data, b.len, &r), 0);
	/* a NUL inside a name */
	bodyless(&b, 1, "\x03\x01" "A\0BC", 6);
	assert_int_equal(fcgi_req_parse((unsigned char *)b.data, b.len, &r), 0);
	/* an '=' inside a name: "A=B" "C" would read as A with "B=C" */
	bodyless(&b, 1, "\x03\x01" "A=BC", 6);
	assert_int_equal(fcgi_req_parse((unsigned char *)b.data, b.len, &r), 0);
	/* a length past the params */
	bodyless(&b, 1, "\x05\x01" "AB", 4);
	assert_int_equal(fcgi_req_parse((unsigned char *)b.data, b.len, &r), 0);
	/* not version 1 */
	buf_reset(&b);
	get_request(&b, 1, begin_keep);
	b.data[0] = 2;
	assert_int_equal(fcgi_req_parse((unsigned char *)b.data, b.len, &r), 0);
	buf_free(&b);
	buf_free(&p);
}

static void
test_too_many_params(void **state)
{
	struct buf b = BUF_INIT, p = BUF_INIT;
	struct fcgi_req r;

	(void)state;
	for (int i = 0; i <= FCGI_REC_MAX_PARAMS; i++)
		pair(&p, "N", "v", 0);
	bodyless(&b, 1, p.data, p.len);
	assert_int_equal(fcgi_req_parse((unsigned char *)b.data, b.len, &r), 0);
	buf_free(&b);
	buf_free(&p);
}

static void
test_answer(void **state)
{
	struct buf out = BUF_INIT;
	size_t n = 70000, off = 0, got = 0;
	char *body = malloc(n);
	const unsigned char *u;

	(void)state;
	for (size_t i = 0; i < n; i++)
		body[i] = (char)('a' + i % 26);
	fcgi_rec_stdout(&out, 300, body, n);
	fcgi_rec_stdout(&out, 300, body, 0);	/* nothing */
	fcgi_rec_end(&out, 300);
	u = (const unsigned char *)out.data;
	/* 65535 + 4465 bytes of stdout, an empty one, the end */
	for (int k = 0; k < 4; k++) {
		size_t len = (size_t)(u[off + 4] << 8 | u[off + 5]);

		assert_int_equal(u[off], 1);
		assert_int_equal(u[off + 2] << 8 | u[off + 3], 300);
		assert_int_equal(u[off + 1], k < 3 ? 6 : 3);
		assert_int_equal(len, k == 0 ? 65535 : k == 1 ? 4465 :
		    k == 2 ? 0 : 8);
		if (k < 2) {
			assert_memory_equal(u + off + 8, body + got, len);
			got += len;
		}
		off += 8 + len + u[off + 6];
	}
	assert_int_equal(off, out.len);
	assert_int_equal(got, n);
	free(body);
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_not_whole),
		cmocka_unit_test(test_not_mine),
		cmocka_unit_test(test_too_many_params),
		cmocka_unit_test(test_answer),
	};

	return cmocka_run_group_tests_name("fcgi_rec", tests, NULL, NULL);
}
