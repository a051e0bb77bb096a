/* Unit tests for lib/sanitize: the payload sanitizer (contract P21-L04). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "sanitize.h"

#define JFLAGS	(JSON_DECODE_ANY | JSON_ALLOW_NUL)

struct tcase {
	const char	*in;
	const char	*want;	/* NULL: invalid JSON */
};

static const char *const extras[] = { "ssn", "Internal-Ref" };

static int
setup(void **state)
{
	*state = sanitize_rules_new(extras, 2);
	return *state == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	sanitize_rules_free(*state);
	return 0;
}

/*
 * The jansson variant must agree with the streaming one: sanitize the
 * jansson tree of in and compare it with the parsed streaming output.
 */
static void
check_agrees(const struct sanitize_rules *r, const char *in, size_t len,
    const char *out, size_t outlen)
{
	json_error_t err;
	json_t *src, *viaj, *vias;

	src = json_loadb(in, len, JFLAGS, &err);
	if (src == NULL)
		fail_msg("jansson rejects %s: %s", in, err.text);
	vias = json_loadb(out, outlen, JFLAGS, &err);
	if (vias == NULL)
		fail_msg("output is not JSON: %s: %s", out, err.text);
	viaj = sanitize_json(r, src);
	assert_non_null(viaj);
	if (!json_equal(viaj, vias)) {
		char *d = json_dumps(viaj, JSON_COMPACT | JSON_ENCODE_ANY);

		print_error("variants disagree on %s: stream %s, jansson %s\n",
		    in, out, d);
		free(d);
		fail();
	}
	json_decref(src);
	json_decref(vias);
	json_decref(viaj);
}

/*
 * Run one case on a buffer that already holds a prefix (the output must be
 * appended, and the prefix restored on error).
 */
static void
run_len(const struct sanitize_rules *r, const char *in, size_t len,
    const char *want, bool agree)
{
	struct buf out = BUF_INIT;
	int rc;

	buf_appends(&out, "prefix");
	rc = sanitize_json_text(r, in, len, &out);
	if (want == NULL) {
		if (rc != -1)
			fail_msg("accepted invalid %s -> %s", in, out.data);
		assert_int_equal(out.len, 6);
		assert_string_equal(out.data, "prefix");
	} else {
		if (rc != 0)
			fail_msg("rejected valid %s", in);
		assert_memory_equal(out.data, "prefix", 6);
		if (strcmp(out.data + 6, want) != 0)
			fail_msg("%s: want %s, got %s", in, want, out.data + 6);
		if (agree)
			check_agrees(r, in, len, out.data + 6, out.len - 6);
	}
	buf_free(&out);
}

/* run_len() for a C string, with the cross-check. */
static void
run1(const struct sanitize_rules *r, const char *in, const char *want)
{
	run_len(r, in, strlen(in), want, true);
}

/* Sanitize a valid document in and check that both variants agree. */
static void
run_agree(const struct sanitize_rules *r, const char *in)
{
	struct buf out = BUF_INIT;

	if (sanitize_json_text(r, in, strlen(in), &out) != 0)
		fail_msg("rejected valid %s", in);
	check_agrees(r, in, strlen(in), out.data, out.len);
	buf_free(&out);
}

static void
run_table(void **state, const struct tcase *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		run_len(*state, t[i].in, strlen(t[i].in), t[i].want, true);
}

#define RUN(state, t)	run_table((state), (t), sizeof(t) / sizeof((t)[0]))

static void
test_structure_kept(void **state)
{
	static const struct tcase t[] = {
		{ "{\"a\":1,\"b\":{\"c\":[1,2,{\"d\":\"x\"}]}}",
		  "{\"a\":1,\"b\":{\"c\":[1,2,{\"d\":\"x\"}]}}" },
		{ " {\n\t\"a\" : [ 1 , 2 ] ,\r\n \"b\" : null } ",
		  "{\"a\":[1,2],\"b\":null}" },
		{ "{\"user\":\"alice\",\"count\":3,\"ok\":true,\"no\":false}",
		  "{\"user\":\"alice\",\"count\":3,\"ok\":true,\"no\":false}" },
		{ "[[],{},[{}],{\"a\":[]}]", "[[],{},[{}],{\"a\":[]}]" },
		{ "{}", "{}" },
		{ "[]", "[]" },
		{ " [ ] ", "[]" },
		{ "1", "1" },
		{ "-0.5E+10", "-0.5E+10" },
		{ "0", "0" },
		{ "-0", "-0" },
		{ "1e5", "1e5" },
		{ "12.25e-3", "12.25e-3" },
		{ "\"x\"", "\"x\"" },
		{ "null", "null" },
		{ "true", "true" },
		{ "false", "false" },
		{ "\"\"", "\"\"" },
		{ "{\"\":\"\"}", "{\"\":\"\"}" },
	};

	RUN(state, t);
}

static void
test_secret_keys(void **state)
{
	static const struct tcase t[] = {
		{ "{\"password\":\"hunter2\"}",
		  "{\"password\":\"[REDACTED]\"}" },
		{ "{\"PASSWORD\":\"x\"}", "{\"PASSWORD\":\"[REDACTED]\"}" },
		{ "{\"pass_word\":\"x\"}", "{\"pass_word\":\"[REDACTED]\"}" },
		{ "{\"Pass.Word\":\"x\"}", "{\"Pass.Word\":\"[REDACTED]\"}" },
		{ "{\"pass-word\":\"x\"}", "{\"pass-word\":\"[REDACTED]\"}" },
		{ "{\"X-Api-Key\":\"k\"}", "{\"X-Api-Key\":\"[REDACTED]\"}" },
		{ "{\"api_key\":\"k\"}", "{\"api_key\":\"[REDACTED]\"}" },
		{ "{\"apiKey\":\"k\"}", "{\"apiKey\":\"[REDACTED]\"}" },
		{ "{\"client_secret\":\"s\"}",
		  "{\"client_secret\":\"[REDACTED]\"}" },
		{ "{\"Set-Cookie\":\"a=b\"}",
		  "{\"Set-Cookie\":\"[REDACTED]\"}" },
		{ "{\"refresh_token\":\"t\"}",
		  "{\"refresh_token\":\"[REDACTED]\"}" },
		{ "{\"Authorization\":\"Basic x\"}",
		  "{\"Authorization\":\"[REDACTED]\"}" },
		{ "{\"sessionId\":\"s\"}", "{\"sessionId\":\"[REDACTED]\"}" },
		{ "{\"PRIVATE_KEY\":\"k\"}",
		  "{\"PRIVATE_KEY\":\"[REDACTED]\"}" },
		{ "{\"db.credentials\":\"c\"}",
		  "{\"db.credentials\":\"[REDACTED]\"}" },
		{ "{\"otp_code\":\"123456\"}",
		  "{\"otp_code\":\"[REDACTED]\"}" },
		{ "{\"X-Hub-Signature\":\"s\"}",
		  "{\"X-Hub-Signature\":\"[REDACTED]\"}" },
		{ "{\"passwd\":\"x\",\"PWD\":\"y\"}",
		  "{\"passwd\":\"[REDACTED]\",\"PWD\":\"[REDACTED]\"}" },
		{ "{\"_T_o_K_e_N_\":\"x\"}",
		  "{\"_T_o_K_e_N_\":\"[REDACTED]\"}" },
		/* harmless keys */
		{ "{\"username\":\"a\",\"email\":\"b\",\"key\":\"c\",\"api\":1,"
		  "\"pass\":2,\"word\":3,\"sign\":4,\"cook\":5,\"tok\":6}",
		  "{\"username\":\"a\",\"email\":\"b\",\"key\":\"c\",\"api\":1,"
		  "\"pass\":2,\"word\":3,\"sign\":4,\"cook\":5,\"tok\":6}" },
		/* nested and in arrays; siblings after a redaction survive */
		{ "{\"a\":[{\"password\":\"x\",\"ok\":1}],\"b\":{\"c\":"
		  "{\"token\":\"t\"}}}",
		  "{\"a\":[{\"password\":\"[REDACTED]\",\"ok\":1}],"
		  "\"b\":{\"c\":{\"token\":\"[REDACTED]\"}}}" },
		{ "{\"secret\":{\"x\":[1,{\"y\":2}],\"z\":\"]}\"},"
		  "\"after\":\"ok\"}",
		  "{\"secret\":\"[REDACTED]\",\"after\":\"ok\"}" },
		/* only the secret key's own value is replaced */
		{ "{\"token\":1,\"next\":\"plain\"}",
		  "{\"token\":\"[REDACTED]\",\"next\":\"plain\"}" },
	};

	RUN(state, t);
}

static void
test_secret_value_types(void **state)
{
	static const struct tcase t[] = {
		{ "{\"token\":{\"a\":1}}", "{\"token\":\"[REDACTED]\"}" },
		{ "{\"token\":{}}", "{\"token\":\"[REDACTED]\"}" },
		{ "{\"token\":[1,[2],{\"b\":3}]}",
		  "{\"token\":\"[REDACTED]\"}" },
		{ "{\"token\":[]}", "{\"token\":\"[REDACTED]\"}" },
		{ "{\"token\":42}", "{\"token\":\"[REDACTED]\"}" },
		{ "{\"token\":-1.5e3}", "{\"token\":\"[REDACTED]\"}" },
		{ "{\"token\":null}", "{\"token\":\"[REDACTED]\"}" },
		{ "{\"token\":true}", "{\"token\":\"[REDACTED]\"}" },
		{ "{\"token\":false}", "{\"token\":\"[REDACTED]\"}" },
		{ "{\"token\":\"\"}", "{\"token\":\"[REDACTED]\"}" },
		{ "[{\"token\" : { \"k\" : [ 1 , 2 ] } , \"a\" : 1 }]",
		  "[{\"token\":\"[REDACTED]\",\"a\":1}]" },
	};

	RUN(state, t);
}

static void
test_secret_values(void **state)
{
	static const struct tcase t[] = {
		/* JWTs under harmless keys, in arrays, at top level */
		{ "{\"note\":"
		  "\"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_-123\"}",
		  "{\"note\":\"[REDACTED]\"}" },
		{ "[\"a\",\"eyJa.b.c\",3]", "[\"a\",\"[REDACTED]\",3]" },
		{ "\"eyJa.b.c\"", "\"[REDACTED]\"" },
		/* unsecured JWT: empty third segment is redacted */
		{ "{\"t\":\"eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.\"}",
		  "{\"t\":\"[REDACTED]\"}" },
		/* JWT-like after unescaping */
		{ "[\"\\u0065yJa.b.c\"]", "[\"[REDACTED]\"]" },
		{ "[\"eyJa\\u002eb.c\"]", "[\"[REDACTED]\"]" },
		/* not JWTs */
		{ "[\"eyJ.b.c\"]", "[\"eyJ.b.c\"]" },
		{ "[\"eyJa.b\"]", "[\"eyJa.b\"]" },
		{ "[\"eyJa.b.c.d\"]", "[\"eyJa.b.c.d\"]" },
		{ "[\"eyJa..c\"]", "[\"eyJa..c\"]" },
		{ "[\"xeyJa.b.c\"]", "[\"xeyJa.b.c\"]" },
		{ "[\"eyJa.b.c \"]", "[\"eyJa.b.c \"]" },
		{ "[\"eyJa.b+c.d\"]", "[\"eyJa.b+c.d\"]" },
		{ "[\"eyJa.b.c=\"]", "[\"eyJa.b.c=\"]" },
		{ "[\"eyj.a.b.c\"]", "[\"eyj.a.b.c\"]" },
		{ "[\"eyJ\"]", "[\"eyJ\"]" },
		/* bearer credentials, any case */
		{ "{\"h\":\"Bearer abc\"}", "{\"h\":\"[REDACTED]\"}" },
		{ "{\"h\":\"bearer abc\"}", "{\"h\":\"[REDACTED]\"}" },
		{ "{\"h\":\"BEARER abc\"}", "{\"h\":\"[REDACTED]\"}" },
		{ "{\"h\":\"Bearer \"}", "{\"h\":\"[REDACTED]\"}" },
		{ "[\"ok\",\"Bearer x\"]", "[\"ok\",\"[REDACTED]\"]" },
		{ "[\"B\\u0065arer x\"]", "[\"[REDACTED]\"]" },
		{ "[\"Bearer\\u0020x\"]", "[\"[REDACTED]\"]" },
		{ "\"Bearer x\"", "\"[REDACTED]\"" },
		/* not bearer */
		{ "[\"Bearer\"]", "[\"Bearer\"]" },
		{ "[\"Bearerabc\"]", "[\"Bearerabc\"]" },
		{ "[\" Bearer x\"]", "[\" Bearer x\"]" },
		{ "[\"Bearer\\tx\"]", "[\"Bearer\\tx\"]" },
		{ "[\"the Bearer x\"]", "[\"the Bearer x\"]" },
		/* keys are not values: a JWT-shaped key is kept */
		{ "{\"eyJa.b.c\":1}", "{\"eyJa.b.c\":1}" },
	};

	RUN(state, t);
}

static void
test_text_kept(void **state)
{
	static const struct tcase t[] = {
		{ "{\"k\":\"h\\u00e9llo \\ud83d\\ude00 \xc3\xbc \xe6\x97\xa5"
		  "\xe6\x9c\xac \xf0\x9f\x98\x80\"}",
		  "{\"k\":\"h\\u00e9llo \\ud83d\\ude00 \xc3\xbc \xe6\x97\xa5"
		  "\xe6\x9c\xac \xf0\x9f\x98\x80\"}" },
		{ "{\"k\":\"a\\\"b\\\\c\\nd\\/e\\t\\r\\b\\f\"}",
		  "{\"k\":\"a\\\"b\\\\c\\nd\\/e\\t\\r\\b\\f\"}" },
		{ "[\"\\u0000\",\"\\u001F\"]", "[\"\\u0000\",\"\\u001F\"]" },
		{ "{\"\xe5\xaf\x86\xe7\xa0\x81\":\"\xef\xbf\xbf\"}",
		  "{\"\xe5\xaf\x86\xe7\xa0\x81\":\"\xef\xbf\xbf\"}" },
		{ "[\"\xf4\x8f\xbf\xbf\",\"\xed\x9f\xbf\"]",
		  "[\"\xf4\x8f\xbf\xbf\",\"\xed\x9f\xbf\"]" },
		{ "{\"a b\":\"x, y\"}", "{\"a b\":\"x, y\"}" },
	};

	RUN(state, t);
}

static void
test_escaped_keys(void **state)
{
	static const struct tcase t[] = {
		{ "{\"pass\\u0077ord\":\"x\"}",
		  "{\"pass\\u0077ord\":\"[REDACTED]\"}" },
		{ "{\"\\u0054OKEN\":1}", "{\"\\u0054OKEN\":\"[REDACTED]\"}" },
		{ "{\"pass\\u005fword\":1}",
		  "{\"pass\\u005fword\":\"[REDACTED]\"}" },
		{ "{\"pass\\u002Dword\":1}",
		  "{\"pass\\u002Dword\":\"[REDACTED]\"}" },
		{ "{\"\\ud83d\\ude00secret\":1}",
		  "{\"\\ud83d\\ude00secret\":\"[REDACTED]\"}" },
		{ "{\"\xc3\xa9token\":1}",
		  "{\"\xc3\xa9token\":\"[REDACTED]\"}" },
		/* a quote or other byte inside breaks the word */
		{ "{\"to\\\"ken\":1}", "{\"to\\\"ken\":1}" },
		{ "{\"to\\/ken\":1}", "{\"to\\/ken\":1}" },
	};

	RUN(state, t);
	/* jansson cannot load a NUL in a key: streaming only */
	run_len(*state, "{\"to\\u0000ken\":1}", 17, "{\"to\\u0000ken\":1}",
	    false);
	run_len(*state, "{\"\\u0000token\":1}", 17,
	    "{\"\\u0000token\":\"[REDACTED]\"}", false);
}

static void
test_extra_keys(void **state)
{
	static const struct tcase t[] = {
		{ "{\"SSN\":\"1\"}", "{\"SSN\":\"[REDACTED]\"}" },
		{ "{\"user_ssn\":{\"a\":1}}", "{\"user_ssn\":\"[REDACTED]\"}" },
		{ "{\"internal_ref_id\":\"x\"}",
		  "{\"internal_ref_id\":\"[REDACTED]\"}" },
		{ "{\"INTERNALREF\":\"x\"}",
		  "{\"INTERNALREF\":\"[REDACTED]\"}" },
		{ "{\"ssh\":1,\"internal\":2}", "{\"ssh\":1,\"internal\":2}" },
	};
	static const char *const korean[] = { "\xeb\xb9\x84\xeb\xb0\x80" };
	static const char *const single[] = { "Q" };
	struct sanitize_rules *other;

	RUN(state, t);
	/* without extras the same keys are harmless */
	assert_non_null(other = sanitize_rules_new(NULL, 0));
	run1(other, "{\"SSN\":\"1\"}", "{\"SSN\":\"1\"}");
	sanitize_rules_free(other);
	/* non-ASCII extras match byte for byte, escaped or not */
	assert_non_null(other = sanitize_rules_new(korean, 1));
	run1(other,
	    "{\"user_\xeb\xb9\x84\xeb\xb0\x80\":1,\"\\ube44\\ubc00\":2}",
	    "{\"user_\xeb\xb9\x84\xeb\xb0\x80\":\"[REDACTED]\","
	    "\"\\ube44\\ubc00\":\"[REDACTED]\"}");
	sanitize_rules_free(other);
	/* a one-byte extra word (matched at every position) */
	assert_non_null(other = sanitize_rules_new(single, 1));
	run1(other, "{\"aqb\":1,\"abc\":2,\"q\":3,\"token\":4}",
	    "{\"aqb\":\"[REDACTED]\",\"abc\":2,\"q\":\"[REDACTED]\","
	    "\"token\":\"[REDACTED]\"}");
	assert_true(sanitize_key_is_secret(other, "Q", 1));
	assert_false(sanitize_key_is_secret(other, "x", 1));
	sanitize_rules_free(other);
}

static void
test_rules(void **state)
{
	static const struct {
		const char	*key;
		bool		 secret;
	} t[] = {
		{ "X-Api-Key", true }, { "client_secret", true },
		{ "Set-Cookie", true }, { "refresh_token", true },
		{ "pass_word", true }, { "my.Private-Key", true },
		{ "ssn", true }, { "user-SSN", true },
		{ "internal.ref", true },
		{ "user", false }, { "", false }, { "api", false },
		{ "passw0rd", false }, { "tokne", false },
	};
	const char *bad1[] = { "" }, *bad2[] = { "_-." }, *bad3[] = { NULL };
	char key[1200];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (sanitize_key_is_secret(*state, t[i].key,
		    strlen(t[i].key)) != t[i].secret)
			fail_msg("key %s", t[i].key);
	/* length-delimited, may hold NUL bytes */
	assert_true(sanitize_key_is_secret(*state, "a\0token", 7));
	assert_false(sanitize_key_is_secret(*state, "tok\0en", 6));
	assert_false(sanitize_key_is_secret(*state, "tokenxx", 3));
	/* long keys: no fixed buffer */
	memset(key, 'x', sizeof(key));
	memcpy(key + sizeof(key) - 8, "Pass_Wd!", 8);
	assert_true(sanitize_key_is_secret(*state, key, sizeof(key)));
	assert_false(sanitize_key_is_secret(*state, key, sizeof(key) - 8));

	errno = 0;
	assert_null(sanitize_rules_new(bad1, 1));
	assert_int_equal(errno, EINVAL);
	assert_null(sanitize_rules_new(bad2, 1));
	assert_null(sanitize_rules_new(bad3, 1));

	/* the config's check and the builder agree */
	assert_false(sanitize_extra_key_valid(NULL));
	assert_false(sanitize_extra_key_valid(""));
	assert_false(sanitize_extra_key_valid("_-"));
	assert_false(sanitize_extra_key_valid("._-."));
	assert_true(sanitize_extra_key_valid("_a-"));
	assert_true(sanitize_extra_key_valid("ssn"));
	{
		char *keys[] = { "ssn", "_-" };
		struct ops_config cfg = { 0 };
		struct sanitize_rules *r;

		cfg.sanitizer.extra_keys = keys;
		cfg.sanitizer.n_extra_keys = 2;
		assert_null(sanitize_rules_from_config(&cfg));
		cfg.sanitizer.n_extra_keys = 1;
		assert_non_null(r = sanitize_rules_from_config(&cfg));
		assert_true(sanitize_key_is_secret(r, "user_ssn", 8));
		sanitize_rules_free(r);
	}

	assert_true(sanitize_value_is_secret("Bearer x", 8));
	assert_true(sanitize_value_is_secret("eyJa.b.", 7));
	assert_false(sanitize_value_is_secret("eyJa.b.c", 6));
	assert_false(sanitize_value_is_secret("Bearer x", 6));
	assert_false(sanitize_value_is_secret("", 0));
}

/* n containers (arrays, or objects with key "k") around leaf. */
static char *
nest(size_t n, bool objects, const char *leaf)
{
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < n; i++)
		buf_appends(&b, objects ? "{\"k\":" : "[");
	buf_appends(&b, leaf);
	for (i = 0; i < n; i++)
		buf_appendc(&b, objects ? '}' : ']');
	return buf_detach(&b, NULL);
}

static void
test_depth(void **state)
{
	static const struct {
		size_t		 n;	/* containers in the input */
		bool		 objects;
		const char	*leaf;
		size_t		 keep;	/* containers in the output */
		const char	*wleaf;
	} t[] = {
		{ 31, false, "1", 31, "1" },
		{ 32, false, "1", 32, "1" },
		{ 32, false, "[]", 32, "\"[TRUNCATED]\"" },
		{ 32, false, "{}", 32, "\"[TRUNCATED]\"" },
		{ 33, false, "1", 32, "\"[TRUNCATED]\"" },
		{ 32, true, "\"x\"", 32, "\"x\"" },
		{ 33, true, "\"x\"", 32, "\"[TRUNCATED]\"" },
		{ 40, true, "[1,{\"a\":2}]", 32, "\"[TRUNCATED]\"" },
		/* a secret key's value is redacted even past the limit */
		{ 32, true, "{\"token\":[1]}", 32, "\"[TRUNCATED]\"" },
		{ 31, true, "{\"token\":[1]}", 31,
		  "{\"token\":\"[REDACTED]\"}" },
		/* siblings of a truncated container survive */
		{ 31, false, "[[1],2,\"eyJa.b.c\"]", 31,
		  "[\"[TRUNCATED]\",2,\"[REDACTED]\"]" },
		{ 32, false, "[1],[2],3", 32,
		  "\"[TRUNCATED]\",\"[TRUNCATED]\",3" },
	};
	char *in, *want;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		in = nest(t[i].n, t[i].objects, t[i].leaf);
		want = nest(t[i].keep, t[i].objects, t[i].wleaf);
		run_len(*state, in, strlen(in), want, true);
		free(in);
		free(want);
	}
}

static void
test_very_deep(void **state)
{
	char *in, *want, *bad;
	size_t n;

	/* 10,000 and 200,000 levels: no recursion, heap level stack */
	for (n = 10000; n <= 200000; n += 190000) {
		in = nest(n, false, "1");
		want = nest(32, false, "\"[TRUNCATED]\"");
		run_len(*state, in, strlen(in), want, false);
		free(in);
		in = nest(n, true, "{\"token\":\"x\"}");
		free(want);
		want = nest(32, true, "\"[TRUNCATED]\"");
		run_len(*state, in, strlen(in), want, false);
		/* a wrong bracket deep inside the truncated part */
		bad = strdup(in);
		assert_non_null(bad);
		bad[strlen(bad) - n / 2] = ']';
		run_len(*state, bad, strlen(bad), NULL, false);
		/* unbalanced */
		run_len(*state, in, strlen(in) - 1, NULL, false);
		free(bad);
		free(in);
		free(want);
	}
}

static void
test_long_keys(void **state)
{
	struct buf in = BUF_INIT, want = BUF_INIT;
	size_t i;

	for (i = 0; i < 3; i++) {
		buf_reset(&in);
		buf_reset(&want);
		buf_appends(&in, "{\"");
		for (size_t j = 0; j < 700; j++)
			buf_appends(&in, i == 2 ? "\\u0078" : "x");
		buf_appends(&in, i == 0 ? "\":1}" : "Pass_Word\":1}");
		buf_append(&want, in.data, in.len - 2);
		buf_appends(&want, i == 0 ? "1}" : "\"[REDACTED]\"}");
		run_len(*state, in.data, in.len, want.data, true);
	}
	buf_free(&in);
	buf_free(&want);
}

static void
test_invalid(void **state)
{
	static const struct tcase t[] = {
		{ "", NULL }, { " ", NULL }, { "{", NULL }, { "}", NULL },
		{ "[", NULL }, { "]", NULL }, { "[1,]", NULL },
		{ "{\"a\":1,}", NULL }, { "[,1]", NULL }, { "{,}", NULL },
		{ "[1 2]", NULL }, { "{\"a\" 1}", NULL }, { "{a:1}", NULL },
		{ "{\"a\":}", NULL }, { "{\"a\"}", NULL }, { "{1:2}", NULL },
		{ "[}", NULL }, { "{]", NULL }, { "[\"a\":1]", NULL },
		{ "{\"a\":1 \"b\":2}", NULL }, { "[1,,2]", NULL },
		/* strings */
		{ "\"abc", NULL }, { "\"abc\\\"", NULL }, { "\"a\\x\"", NULL },
		{ "\"a\\'\"", NULL }, { "\"a\\u12\"", NULL },
		{ "\"a\\u12G4\"", NULL }, { "\"\t\"", NULL },
		{ "\"\x01\"", NULL }, { "\"a\nb\"", NULL }, { "'a'", NULL },
		{ "\"\\ud800\"", NULL }, { "\"\\udc00\"", NULL },
		{ "\"\\ud800\\u0041\"", NULL }, { "\"\\ud800x\"", NULL },
		{ "\"\\udbff\\udbff\"", NULL },
		{ "{\"\\ud800\":1}", NULL },
		/* UTF-8: invalid byte, overlong, encoded surrogate, truncated,
		   past U+10FFFF, stray continuation */
		{ "\"\xff\"", NULL }, { "\"\xc0\xaf\"", NULL },
		{ "\"\xe0\x80\xaf\"", NULL }, { "\"\xed\xa0\x80\"", NULL },
		{ "\"\xe6\x97\"", NULL }, { "\"\xf4\x90\x80\x80\"", NULL },
		{ "\"\x80\"", NULL }, { "\"\xc3\"", NULL },
		/* numbers */
		{ "01", NULL }, { "-01", NULL }, { "-", NULL }, { "-a", NULL },
		{ "1.", NULL }, { ".5", NULL }, { "1e", NULL }, { "1e+", NULL },
		{ "+1", NULL }, { "0x10", NULL }, { "1.e5", NULL },
		{ "[01]", NULL }, { "NaN", NULL }, { "Infinity", NULL },
		{ "--1", NULL },
		/* literals */
		{ "tru", NULL }, { "nul", NULL }, { "True", NULL },
		{ "nulll", NULL }, { "[truefalse]", NULL },
		/* garbage after the value */
		{ "[1]x", NULL }, { "{} {}", NULL }, { "1 2", NULL },
		{ "\"a\"\"b\"", NULL }, { "{}}", NULL }, { "[]]", NULL },
		/* even when a secret or truncated part is skipped */
		{ "{\"token\":[1,]}", NULL }, { "{\"token\":\"\\q\"}", NULL },
		{ "{\"token\":{\"a\"}}", NULL }, { "{\"token\":01}", NULL },
	};
	json_error_t err;
	json_t *j;
	size_t i;

	RUN(state, t);
	/* cross-check: jansson rejects them too */
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		j = json_loadb(t[i].in, strlen(t[i].in), JFLAGS, &err);
		if (j != NULL)
			fail_msg("jansson accepts %s", t[i].in);
	}
	/* NUL bytes and length handling */
	run_len(*state, "\"a\0b\"", 5, NULL, false);
	run_len(*state, "1\0", 2, NULL, false);
	run_len(*state, "[1]garbage", 3, "[1]", true);
	run_len(*state, "\"abc\"", 4, NULL, false);
	run_len(*state, "{\"token\":[[[[[[1]]]]]]}", 20, NULL, false);
	{
		char *deep = nest(40, false, "[1,]");

		run_len(*state, deep, strlen(deep), NULL, false);
		free(deep);
	}
}

static void
test_jansson_variant(void **state)
{
	json_t *in, *out, *want, *deep, *leaf;
	json_error_t err;
	size_t i;

	assert_null(sanitize_json(*state, NULL));
	in = json_pack("{s:s, s:i, s:[s, s, {s:o}], s:n}",
	    "user", "a", "Api-Key", 5, "list", "Bearer t", "x", "sessionId",
	    json_pack("{s:i}", "a", 1), "z");
	assert_non_null(in);
	want = json_loads("{\"user\":\"a\",\"Api-Key\":\"[REDACTED]\","
	    "\"list\":[\"[REDACTED]\",\"x\",{\"sessionId\":\"[REDACTED]\"}],"
	    "\"z\":null}", 0, &err);
	assert_non_null(want);
	out = sanitize_json(*state, in);
	assert_non_null(out);
	assert_true(json_equal(out, want));
	assert_true(out != in);
	/* in is untouched */
	assert_int_equal(json_integer_value(json_object_get(in, "Api-Key")), 5);
	json_decref(in);
	json_decref(out);
	json_decref(want);

	/* a key holding a NUL byte is compared by its full length */
	in = json_object();
	assert_int_equal(json_object_setn_new(in, "x\0token", 7,
	    json_integer(1)), 0);
	out = sanitize_json(*state, in);
	assert_string_equal(json_string_value(json_object_iter_value(
	    json_object_iter(out))), "[REDACTED]");
	json_decref(in);
	json_decref(out);

	/* a tree built deeper than the parser allows: truncated at 33 */
	leaf = deep = json_array();
	for (i = 1; i < 5000; i++) {
		json_t *a = json_array();

		assert_int_equal(json_array_append_new(leaf, a), 0);
		leaf = a;
	}
	out = sanitize_json(*state, deep);
	for (i = 1, leaf = out; i < 32; i++)
		leaf = json_array_get(leaf, 0);
	assert_true(json_is_array(leaf));
	assert_string_equal(json_string_value(json_array_get(leaf, 0)),
	    "[TRUNCATED]");
	json_decref(deep);
	json_decref(out);
}

/* Deterministic xorshift64 (no global state: the caller holds it). */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static const char *const corpus_words[] = {
	"a", "token", "Pass_Word", "x-api-key", "user", "eyJa.b.c", "Bearer q",
	"bearer", "n\xc3\xa9", "\xf0\x9f\x98\x80", "q\"\\/\n\t", "eyJhb.c.", "",
	"otp", "Session", "SSN", "footprint", "cookies", "api", "key",
};
#define NWORDS	(sizeof(corpus_words) / sizeof(corpus_words[0]))

/* A random document, containers up to about 40 deep. */
static json_t *
gen(uint64_t *seed, int depth)
{
	json_t *j;
	int i;

	switch (rnd(seed) % (depth > 40 ? 6 : 8)) {
	case 0:
		return json_integer((json_int_t)(rnd(seed) % 2000) - 1000);
	case 1:
		return json_real((double)(rnd(seed) % 100000) / 7.0);
	case 2:
	case 3:
		return json_string(corpus_words[rnd(seed) % NWORDS]);
	case 4:
		return rnd(seed) % 2 ? json_true() : json_false();
	case 5:
		return json_null();
	case 6:
		j = json_array();
		for (i = (int)(rnd(seed) % 4); i > 0; i--)
			json_array_append_new(j, gen(seed, depth + 1));
		return j;
	default:
		j = json_object();
		for (i = (int)(rnd(seed) % 4); i > 0; i--)
			json_object_set_new(j,
			    corpus_words[rnd(seed) % NWORDS],
			    gen(seed, depth + 1));
		return j;
	}
}

/*
 * Random documents, dumped by jansson in several styles (indented, ASCII
 * escapes, escaped slashes): both variants must agree on every one.
 */
static void
test_random_corpus(void **state)
{
	static const size_t styles[] = {
		JSON_COMPACT, JSON_INDENT(2), JSON_ENSURE_ASCII,
		JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ESCAPE_SLASH, 0,
	};
	uint64_t seed = 88172645463325252ULL;
	json_t *doc;
	char *text;
	int i;

	for (i = 0; i < 3000; i++) {
		doc = gen(&seed, 0);
		text = json_dumps(doc, styles[i % 5] | JSON_ENCODE_ANY);
		assert_non_null(text);
		run_agree(*state, text);
		free(text);
		json_decref(doc);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_structure_kept),
		cmocka_unit_test(test_secret_keys),
		cmocka_unit_test(test_secret_value_types),
		cmocka_unit_test(test_secret_values),
		cmocka_unit_test(test_text_kept),
		cmocka_unit_test(test_escaped_keys),
		cmocka_unit_test(test_extra_keys),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_very_deep),
		cmocka_unit_test(test_long_keys),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_jansson_variant),
		cmocka_unit_test(test_random_corpus),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
