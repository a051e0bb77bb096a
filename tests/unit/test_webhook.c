/* webhook_sign and webhook_url: signatures and the SSRF policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "webhook_sign.h"
#include "webhook_url.h"

/* The test vector published with the Standard Webhooks specification. */
static void
test_sign_vector(void **state)
{
	const char *body = "{\"test\": 2432232314}";
	char sig[WEBHOOK_SIG_MAX];

	(void)state;
	assert_int_equal(webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	    "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body),
	    sig), 0);
	assert_string_equal(sig,
	    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	/* one byte more in the body, another timestamp: another signature */
	assert_int_equal(webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	    "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body, strlen(body),
	    sig), 0);
	assert_string_not_equal(sig,
	    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

static void
test_sign_bad_secret(void **state)
{
	char sig[WEBHOOK_SIG_MAX];

	(void)state;
	assert_int_equal(webhook_sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "m",
	    1, "x", 1, sig), -1);
	assert_int_equal(webhook_sign("whsec_", "m", 1, "x", 1, sig), -1);
	assert_int_equal(webhook_sign("whsec_abc", "m", 1, "x", 1, sig), -1);
}

static void
test_secret_new(void **state)
{
	char a[WEBHOOK_SECRET_MAX], b[WEBHOOK_SECRET_MAX], sig[WEBHOOK_SIG_MAX];

	(void)state;
	assert_int_equal(webhook_secret_new(a), 0);
	assert_int_equal(webhook_secret_new(b), 0);
	assert_int_equal(strncmp(a, "whsec_", 6), 0);
	assert_int_equal(strlen(a), 6 + 44);	/* 32 bytes */
	assert_string_not_equal(a, b);
	assert_int_equal(webhook_sign(a, "msg_1", 1, "{}", 2, sig), 0);
}

static void
test_url_check(void **state)
{
	static const struct {
		const char *url;
		int allow_http, ok;
		const char *why;
	} cases[] = {
		{ "https://hooks.example.com/x", 0, 0, NULL },
		{ "https://hooks.example.com:8443/x?a=1", 0, 0, NULL },
		{ "https://[2001:4860::1]/x", 0, 0, NULL },
		{ "http://hooks.example.com/x", 0, -1, "https" },
		{ "http://hooks.example.com/x", 1, 0, NULL },
		{ "ftp://hooks.example.com/x", 1, -1, "https" },
		{ "https://user:pw@hooks.example.com/x", 0, -1, "credentials" },
		{ "https://user@hooks.example.com/x", 0, -1, "credentials" },
		{ "https://hooks.example.com/x#frag", 0, -1, "fragment" },
		{ "https://hooks.example.com/x#", 0, -1, "fragment" },
		{ "https:///x", 0, -1, NULL },
		{ "hooks.example.com/x", 0, -1, NULL },
		{ "https://hooks.example.com/a b", 0, -1, "spaces" },
		{ "", 0, -1, NULL },
	};
	struct webhook_target t;
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = webhook_url_check(cases[i].url, cases[i].allow_http,
		    &t, why, sizeof(why));

		if (rc != cases[i].ok)
			fail_msg("%s: got %d (%s)", cases[i].url, rc,
			    rc ? why : "");
		if (cases[i].why && strstr(why, cases[i].why) == NULL)
			fail_msg("%s: %s", cases[i].url, why);
	}
	assert_int_equal(webhook_url_check("https://[::1]:8443/x", 0, &t, why,
	    sizeof(why)), 0);
	assert_string_equal(t.host, "::1");
	assert_int_equal(t.port, 8443);
}

static int
public4(const char *a)
{
	struct sockaddr_in s;

	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, a, &s.sin_addr), 1);
	return webhook_addr_public((struct sockaddr *)&s);
}

static int
public6(const char *a)
{
	struct sockaddr_in6 s;

	memset(&s, 0, sizeof(s));
	s.sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, a, &s.sin6_addr), 1);
	return webhook_addr_public((struct sockaddr *)&s);
}

static void
test_addr_public(void **state)
{
	static const char *const private4[] = {
		"127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1",
		"172.31.255.255", "192.168.1.1", "169.254.169.254", "0.0.0.0",
		"100.64.0.1", "224.0.0.1", "255.255.255.255", "192.0.2.7",
		"198.18.0.1"
	};
	static const char *const private6[] = {
		"::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1",
		"::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a00:1",
		"2002:7f00:1::", "2001:db8::1"
	};

	(void)state;
	for (size_t i = 0; i < sizeof(private4) / sizeof(private4[0]); i++)
		if (public4(private4[i]))
			fail_msg("%s taken as public", private4[i]);
	for (size_t i = 0; i < sizeof(private6) / sizeof(private6[0]); i++)
		if (public6(private6[i]))
			fail_msg("%s taken as public", private6[i]);
	assert_true(public4("93.184.216.34"));
	assert_true(public4("172.32.0.1"));
	assert_true(public4("8.8.8.8"));
	assert_true(public6("2001:4860:4860::8888"));
	assert_true(public6("::ffff:8.8.8.8"));
}

static void
test_resolve_literal(void **state)
{
	struct webhook_target t;
	char why[256];

	(void)state;
	assert_int_equal(webhook_url_check("https://127.0.0.1:9/x", 0, &t, why,
	    sizeof(why)), 0);
	assert_int_equal(webhook_resolve(&t, false, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "127.0.0.1"));
	assert_int_equal(webhook_resolve(&t, true, why, sizeof(why)), 0);
	assert_string_equal(t.resolve, "127.0.0.1:9:127.0.0.1");
	assert_int_equal(webhook_url_check("https://[::1]:9/x", 0, &t, why,
	    sizeof(why)), 0);
	assert_int_equal(webhook_resolve(&t, true, why, sizeof(why)), 0);
	assert_string_equal(t.resolve, "::1:9:[::1]");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_vector),
		cmocka_unit_test(test_sign_bad_secret),
		cmocka_unit_test(test_secret_new),
		cmocka_unit_test(test_url_check),
		cmocka_unit_test(test_addr_public),
		cmocka_unit_test(test_resolve_literal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
