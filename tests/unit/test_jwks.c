/*
 * jwks: keys from a JWKS file (auth.jwks_file) parsed into verification
 * keys: supported RSA (RS256) and EC P-256 (ES256) keys verify tokens
 * signed by their private halves, by kid; what the source settings refuse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jwks.h"

#define NOW	((long long)time(NULL))

/* base64url without padding, a new string */
static char *
b64url(const unsigned char *p, size_t n)
{
	char *s = calloc(1, 4 * ((n + 2) / 3) + 1);
	size_t len;

	assert_non_null(s);
	EVP_EncodeBlock((unsigned char *)s, p, (int)n);
	for (char *c = s; *c; c++)
		*c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
	len = strlen(s);
	while (len > 0 && s[len - 1] == '=')
		s[--len] = '\0';
	return s;
}

/* A key's number in base64url, left-padded to pad bytes (0: minimal). */
static char *
b64url_bn(EVP_PKEY *pk, const char *param, int pad)
{
	unsigned char raw[512];
	BIGNUM *bn = NULL;
	char *s;
	int n;

	assert_int_equal(EVP_PKEY_get_bn_param(pk, param, &bn), 1);
	n = pad ? BN_bn2binpad(bn, raw, pad) : BN_bn2bin(bn, raw);
	assert_true(n > 0);
	s = b64url(raw, (size_t)n);
	BN_free(bn);
	return s;
}

static json_t *
rsa_jwk(EVP_PKEY *pk, const char *kid)
{
	char *n = b64url_bn(pk, OSSL_PKEY_PARAM_RSA_N, 0);
	char *e = b64url_bn(pk, OSSL_PKEY_PARAM_RSA_E, 0);
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "kty", "RSA",
	    "kid", kid, "use", "sig", "n", n, "e", e);

	assert_non_null(j);
	free(n);
	free(e);
	return j;
}

static json_t *
ec_jwk(EVP_PKEY *pk, const char *kid)
{
	char *x = b64url_bn(pk, OSSL_PKEY_PARAM_EC_PUB_X, 32);
	char *y = b64url_bn(pk, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "kty", "EC",
	    "crv", "P-256", "kid", kid, "x", x, "y", y);

	assert_non_null(j);
	assert_int_equal(strlen(x), 43);	/* 32 bytes (RFC 7518 6.2.1.2) */
	free(x);
	free(y);
	return j;
}

/* A compact JWS of {"sub": sub, ...} signed by pk (RS256 or ES256). */
static char *
token(EVP_PKEY *pk, const char *alg, const char *kid, const char *sub)
{
	char head[128], body[256], *h, *b, *sig64, *out;
	unsigned char *sig;
	size_t siglen = 0, outlen;
	EVP_MD_CTX *md;
	char *input;

	snprintf(head, sizeof(head), "{\"alg\":\"%s\",\"typ\":\"JWT\","
	    "\"kid\":\"%s\"}", alg, kid);
	snprintf(body, sizeof(body), "{\"sub\":\"%s\",\"iat\":%lld,"
	    "\"exp\":%lld,\"roles\":[\"AUDITOR\"]}", sub, NOW - 10, NOW + 300);
	h = b64url((unsigned char *)head, strlen(head));
	b = b64url((unsigned char *)body, strlen(body));
	input = calloc(1, strlen(h) + strlen(b) + 2);
	assert_non_null(input);
	memcpy(input, h, strlen(h));
	input[strlen(h)] = '.';
	memcpy(input + strlen(h) + 1, b, strlen(b));
	assert_non_null(md = EVP_MD_CTX_new());
	assert_int_equal(EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL,
	    pk, NULL), 1);
	assert_int_equal(EVP_DigestSign(md, NULL, &siglen,
	    (unsigned char *)input, strlen(input)), 1);
	assert_non_null(sig = malloc(siglen));
	assert_int_equal(EVP_DigestSign(md, sig, &siglen,
	    (unsigned char *)input, strlen(input)), 1);
	EVP_MD_CTX_free(md);
	if (strcmp(alg, "ES256") == 0) {
		/* DER ECDSA-Sig-Value -> r || s (RFC 7518 3.4) */
		const unsigned char *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)siglen);
		const BIGNUM *r, *s;
		unsigned char raw[64];

		assert_non_null(es);
		ECDSA_SIG_get0(es, &r, &s);
		assert_int_equal(BN_bn2binpad(r, raw, 32), 32);
		assert_int_equal(BN_bn2binpad(s, raw + 32, 32), 32);
		ECDSA_SIG_free(es);
		sig64 = b64url(raw, 64);
	} else {
		sig64 = b64url(sig, siglen);
	}
	outlen = strlen(input) + strlen(sig64) + 2;
	assert_non_null(out = malloc(outlen));
	snprintf(out, outlen, "%s.%s", input, sig64);
	free(sig);
	free(sig64);
	free(input);
	free(h);
	free(b);
	return out;
}

struct fixture {
	EVP_PKEY	*rsa, *rsa_other, *ec;
	char		 path[64];
	struct jwks	*j;
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct ops_config cfg;
	json_t *keys, *root;
	char err[256];
	int fd;

	assert_non_null(fx);
	assert_non_null(fx->rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
	    (size_t)2048));
	assert_non_null(fx->rsa_other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
	    (size_t)2048));
	assert_non_null(fx->ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC",
	    "P-256"));
	keys = json_pack("[o, o]", rsa_jwk(fx->rsa, "rsa-1"),
	    ec_jwk(fx->ec, "ec-1"));
	assert_non_null(root = json_pack("{s:o}", "keys", keys));
	snprintf(fx->path, sizeof(fx->path), "/tmp/ops-test-jwks-XXXXXX");
	assert_true((fd = mkstemp(fx->path)) >= 0);
	close(fd);
	assert_int_equal(json_dump_file(root, fx->path, 0), 0);
	json_decref(root);

	memset(&cfg, 0, sizeof(cfg));
	cfg.auth.jwks_file = fx->path;
	cfg.auth.jwks_min_refresh_seconds = 1;
	cfg.auth.jwks_max_age_seconds = 3600;
	if (jwks_open_config(&fx->j, &cfg, err, sizeof(err)) != 0)
		fail_msg("jwks_open_config: %s", err);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	jwks_close(fx->j);
	unlink(fx->path);
	EVP_PKEY_free(fx->rsa);
	EVP_PKEY_free(fx->rsa_other);
	EVP_PKEY_free(fx->ec);
	free(fx);
	return 0;
}

static enum auth_result
verify(struct fixture *fx, char *tok, const char *want_sub)
{
	struct auth_policy pol;
	struct auth_principal who;
	enum auth_result r;

	memset(&pol, 0, sizeof(pol));
	r = jwks_verify(fx->j, &pol, tok, (time_t)NOW, &who);
	if (r == AUTH_OK) {
		assert_string_equal(who.sub, want_sub);
		auth_principal_free(&who);
	}
	free(tok);
	return r;
}

static void
test_rsa_and_ec_keys_verify(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(verify(fx, token(fx->rsa, "RS256", "rsa-1", "alice"),
	    "alice"), AUTH_OK);
	assert_int_equal(verify(fx, token(fx->ec, "ES256", "ec-1", "bob"),
	    "bob"), AUTH_OK);
}

static void
test_keys_are_bound_to_their_kid_and_alg(void **state)
{
	struct fixture *fx = *state;

	/* another RSA key under the published kid */
	assert_int_equal(verify(fx, token(fx->rsa_other, "RS256", "rsa-1",
	    "mallory"), NULL), AUTH_ERR_SIGNATURE);
	/* a kid the file does not have (a refresh finds none either) */
	assert_int_equal(verify(fx, token(fx->rsa, "RS256", "rsa-2", "carol"),
	    NULL), AUTH_ERR_KID);
	/* the EC key's kid with an RSA signature */
	assert_int_equal(verify(fx, token(fx->rsa, "RS256", "ec-1", "dave"),
	    NULL), AUTH_ERR_ALG);
}

static void
test_source_settings_refused(void **state)
{
	struct ops_config cfg;
	struct jwks *j = (struct jwks *)1;
	char err[256];

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.auth.jwks_file = "/nonexistent/jwks.json";
	cfg.auth.jwks_url = "https://idp.example/jwks";
	assert_int_equal(jwks_open_config(&j, &cfg, err, sizeof(err)), -1);
	assert_null(j);
	assert_non_null(strstr(err, "auth.jwks_file and auth.jwks_url are "
	    "both set"));

	cfg.auth.jwks_file = NULL;
	cfg.auth.jwks_url = "http://idp.example/jwks";
	assert_int_equal(jwks_open_config(&j, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "must be an https:// URL"));

	cfg.auth.jwks_url = NULL;
	cfg.auth.jwks_file = "/nonexistent/jwks.json";
	assert_int_equal(jwks_open_config(&j, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/jwks.json"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rsa_and_ec_keys_verify),
		cmocka_unit_test(test_keys_are_bound_to_their_kid_and_alg),
		cmocka_unit_test(test_source_settings_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
