/*
 * fuzz_signed_url: the signed download link, read back the way the
 * download handler reads it (request_query for by and sig,
 * request_query_int for expires, export_url_verify).
 *
 * Two parts per input:
 *  - the raw input as the query string of a download URL: whatever it
 *    says, a link verifies only with the signature export_url_sign gives
 *    for its (id, by, expires);
 *  - a round trip: byte 0 picks expires around now, the rest (up to 255
 *    bytes, NUL-free) is the requester; the link signed for them,
 *    percent-encoded, must verify exactly when expires is in
 *    [now, now + ttl], and must not verify with one signature character
 *    changed or another requester.
 */
#include <limits.h>
#include <string.h>

#include "auth.h"
#include "export.h"
#include "fuzz.h"
#include "request.h"

#define SECRET	"fuzz-download-secret-0123456789abcdef"
#define JOB	"0123abcd-0000-4000-8000-000000000000"
#define NOW	1764288000
#define TTL	300

/* Parse query as the download handler does; true when the link verifies. */
static bool
link_ok(const char *query, char *by, size_t bysz)
{
	char *env[2], sig[80];
	struct buf uri = BUF_INIT;
	FCGX_Request fx;
	struct app app;
	struct request r;
	long long exp = 0;
	bool ok;

	buf_appendf(&uri, "REQUEST_URI=/api/ops/audit-exports/%s/download?%s",
	    JOB, query);
	env[0] = uri.data;
	env[1] = NULL;
	memset(&fx, 0, sizeof(fx));
	fx.envp = env;
	memset(&app, 0, sizeof(app));
	request_init(&r, &fx, &app, NULL);
	ok = request_query(&r, "by", by, bysz) == 1 &&
	    request_query_int(&r, "expires", 0, LLONG_MAX, &exp) == 1 &&
	    request_query(&r, "sig", sig, sizeof(sig)) == 1 &&
	    export_url_verify(SECRET, JOB, by, exp, sig, NOW, TTL);
	if (ok) {
		char want[65];

		export_url_sign(SECRET, JOB, by, exp, want);
		FUZZ_CHECK(strcmp(want, sig) == 0);
		FUZZ_CHECK(exp >= NOW && exp <= NOW + TTL);
	}
	request_finish(&r);
	buf_free(&uri);
	return ok;
}

static void
pct(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')
			buf_appendc(b, (char)c);
		else
			buf_appendf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char by[AUTH_MAX_SUB + 1], got[AUTH_MAX_SUB + 1], sig[65];
	struct buf q = BUF_INIT;
	long long exp;
	size_t n;
	bool in_window;

	q.len = 0;
	buf_append(&q, data, size);
	(void)link_ok(buf_str(&q), got, sizeof(got));
	buf_reset(&q);

	if (size < 2)
		goto out;
	n = strnlen((const char *)data + 1, size - 1);
	if (n > AUTH_MAX_SUB)
		n = AUTH_MAX_SUB;
	memcpy(by, data + 1, n);
	by[n] = '\0';
	exp = NOW - 100 + data[0] * 2;
	in_window = exp >= NOW && exp <= NOW + TTL;
	export_url_sign(SECRET, JOB, by, exp, sig);

	buf_appends(&q, "by=");
	pct(&q, by);
	buf_appendf(&q, "&expires=%lld&sig=%s", exp, sig);
	FUZZ_CHECK(link_ok(q.data, got, sizeof(got)) == in_window);
	if (in_window)
		FUZZ_CHECK(strcmp(got, by) == 0);

	/* one signature character changed */
	buf_reset(&q);
	sig[data[0] % 64] = sig[data[0] % 64] == '0' ? '1' : '0';
	buf_appends(&q, "by=");
	pct(&q, by);
	buf_appendf(&q, "&expires=%lld&sig=%s", exp, sig);
	FUZZ_CHECK(!link_ok(q.data, got, sizeof(got)));
	sig[data[0] % 64] = sig[data[0] % 64] == '0' ? '1' : '0';

	/* another requester, same signature */
	buf_reset(&q);
	buf_appends(&q, "by=");
	pct(&q, by);
	buf_appendf(&q, "x&expires=%lld&sig=%s", exp, sig);
	FUZZ_CHECK(!link_ok(q.data, got, sizeof(got)));
out:
	buf_free(&q);
	return 0;
}
