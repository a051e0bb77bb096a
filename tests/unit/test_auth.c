/*
 * test_auth: JWT verification against keys generated here with OpenSSL, and
 * tokens signed here with OpenSSL directly (not with auth_sign_hs256, which
 * has its own round-trip test). The openssl command line is exercised by
 * test_auth_interop.
 *
 * Most of the suite is table-driven: verify_cases[] (header, payload,
 * signer, mutation, expected result) and shape_cases[] (segment templates).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "auth.h"
#include "buf.h"

#define NOW		1700000000
#define ISSUER		"https://issuer.test"
#define AUDIENCE	"ops-api"
#define LEEWAY		60

static const unsigned char hs_secret[] =
    "unit-test-secret-0123456789abcdef-not-for-production";
#define HS_SECRET_LEN	(sizeof(hs_secret) - 1)

struct fixture {
	char		 dir[64];
	char		 jwks[128];
	EVP_PKEY	*rsa1, *rsa2, *rsa_small, *ec1, *ec2;
	char		*rsa1_pem;	/* public PEM, for the key confusion case */
	json_t		*jwk_rsa1, *jwk_rsa2, *jwk_rsa_small, *jwk_ec1;
	struct auth_keyset *ks;
	struct auth_policy pol;
};

/* --- helpers: encoding, keys, signing ------------------------------------ */

/* base64url via OpenSSL's standard base64, then translated (independent of
 * lib/auth.c's encoder). */
static void
b64url(struct buf *b, const void *data, size_t len)
{
	unsigned char *tmp;
	int n, i;

	tmp = malloc(4 * ((len + 2) / 3) + 1);
	assert_non_null(tmp);
	n = EVP_EncodeBlock(tmp, data, (int)len);
	assert_true(n >= 0);
	for (i = 0; i < n; i++) {
		if (tmp[i] == '=')
			break;
		buf_appendc(b, tmp[i] == '+' ? '-' : tmp[i] == '/' ? '_' :
		    (char)tmp[i]);
	}
	free(tmp);
}

static char *
b64url_str(const void *data, size_t len)
{
	struct buf b = BUF_INIT;

	b64url(&b, data, len);
	return buf_detach(&b, NULL);
}

static json_t *
jwk_of_rsa(EVP_PKEY *pk, const char *kid)
{
	BIGNUM *n = NULL, *e = NULL;
	unsigned char raw[1024];
	char *sn, *se;
	json_t *j;
	int len;

	assert_int_equal(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n),
	    1);
	assert_int_equal(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e),
	    1);
	len = BN_bn2bin(n, raw);
	sn = b64url_str(raw, (size_t)len);
	len = BN_bn2bin(e, raw);
	se = b64url_str(raw, (size_t)len);
	j = json_pack("{s:s, s:s, s:s, s:s}", "kty", "RSA", "kid", kid,
	    "n", sn, "e", se);
	assert_non_null(j);
	free(sn);
	free(se);
	BN_free(n);
	BN_free(e);
	return j;
}

static json_t *
jwk_of_ec(EVP_PKEY *pk, const char *kid)
{
	unsigned char pub[65];
	size_t len = 0;
	char *x, *y;
	json_t *j;

	assert_int_equal(EVP_PKEY_get_octet_string_param(pk,
	    OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub), &len), 1);
	assert_int_equal(len, 65);
	assert_int_equal(pub[0], 0x04);
	x = b64url_str(pub + 1, 32);
	y = b64url_str(pub + 33, 32);
	j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256",
	    "kid", kid, "x", x, "y", y);
	assert_non_null(j);
	free(x);
	free(y);
	return j;
}

static char *
public_pem(EVP_PKEY *pk)
{
	BIO *bio;
	char *data, *s;
	long n;

	assert_non_null(bio = BIO_new(BIO_s_mem()));
	assert_int_equal(PEM_write_bio_PUBKEY(bio, pk), 1);
	n = BIO_get_mem_data(bio, &data);
	assert_true(n > 0);
	assert_non_null(s = strndup(data, (size_t)n));
	BIO_free(bio);
	return s;
}

/* Write keys (a JSON array, reference stolen) as {"keys":...} to path. */
static void
write_jwks(const char *path, json_t *keys)
{
	json_t *root;

	assert_non_null(root = json_pack("{s:o}", "keys", keys));
	assert_int_equal(json_dump_file(root, path, JSON_INDENT(1)), 0);
	json_decref(root);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f;

	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

enum signer {
	SIGN_HS,	/* hs_secret */
	SIGN_RS,	/* rsa1 (in the keyset) */
	SIGN_ES,	/* ec1 (in the keyset) */
	SIGN_RS2,	/* rsa2 (not in the main keyset) */
	SIGN_ES2,	/* ec2 (not in any keyset) */
	SIGN_HS_PEM,	/* HMAC keyed with rsa1's public PEM: key confusion */
	SIGN_ES_DER,	/* ec1, but the DER signature instead of r || s */
	SIGN_EMPTY	/* empty signature segment */
};

static void
digest_sign(EVP_PKEY *pk, const char *data, unsigned char **sig,
    size_t *siglen)
{
	EVP_MD_CTX *md;

	assert_non_null(md = EVP_MD_CTX_new());
	assert_int_equal(EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL,
	    pk, NULL), 1);
	assert_int_equal(EVP_DigestSign(md, NULL, siglen,
	    (const unsigned char *)data, strlen(data)), 1);
	assert_non_null(*sig = malloc(*siglen));
	assert_int_equal(EVP_DigestSign(md, *sig, siglen,
	    (const unsigned char *)data, strlen(data)), 1);
	EVP_MD_CTX_free(md);
}

/* DER ECDSA-Sig-Value -> JWS raw r || s (RFC 7518 3.4). */
static void
der_to_raw(unsigned char **sig, size_t *siglen)
{
	const unsigned char *p = *sig;
	const BIGNUM *r, *s;
	ECDSA_SIG *es;
	unsigned char *raw;

	assert_non_null(es = d2i_ECDSA_SIG(NULL, &p, (long)*siglen));
	ECDSA_SIG_get0(es, &r, &s);
	assert_non_null(raw = malloc(64));
	assert_int_equal(BN_bn2binpad(r, raw, 32), 32);
	assert_int_equal(BN_bn2binpad(s, raw + 32, 32), 32);
	ECDSA_SIG_free(es);
	free(*sig);
	*sig = raw;
	*siglen = 64;
}

static void
hmac_sign(const void *key, size_t keylen, const char *data,
    unsigned char **sig, size_t *siglen)
{
	unsigned int n = 0;

	assert_non_null(*sig = malloc(EVP_MAX_MD_SIZE));
	assert_non_null(HMAC(EVP_sha256(), key, (int)keylen,
	    (const unsigned char *)data, strlen(data), *sig, &n));
	*siglen = n;
}

static void
sign_input(const struct fixture *fx, enum signer how, const char *input,
    unsigned char **sig, size_t *siglen)
{
	*sig = NULL;
	*siglen = 0;
	switch (how) {
	case SIGN_HS:
		hmac_sign(hs_secret, HS_SECRET_LEN, input, sig, siglen);
		break;
	case SIGN_HS_PEM:
		hmac_sign(fx->rsa1_pem, strlen(fx->rsa1_pem), input, sig,
		    siglen);
		break;
	case SIGN_RS:
		digest_sign(fx->rsa1, input, sig, siglen);
		break;
	case SIGN_RS2:
		digest_sign(fx->rsa2, input, sig, siglen);
		break;
	case SIGN_ES:
		digest_sign(fx->ec1, input, sig, siglen);
		der_to_raw(sig, siglen);
		break;
	case SIGN_ES2:
		digest_sign(fx->ec2, input, sig, siglen);
		der_to_raw(sig, siglen);
		break;
	case SIGN_ES_DER:
		digest_sign(fx->ec1, input, sig, siglen);
		break;
	case SIGN_EMPTY:
		break;
	}
}

/* Build header.payload.signature from the JSON texts as given. */
static char *
make_token(const struct fixture *fx, enum signer how, const char *header,
    const char *payload)
{
	struct buf b = BUF_INIT;
	unsigned char *sig;
	size_t siglen;

	b64url(&b, header, strlen(header));
	buf_appendc(&b, '.');
	b64url(&b, payload, strlen(payload));
	sign_input(fx, how, buf_str(&b), &sig, &siglen);
	buf_appendc(&b, '.');
	b64url(&b, sig, siglen);
	free(sig);
	return buf_detach(&b, NULL);
}

static const char *
result_name(enum auth_result r)
{
	static const char *const names[] = {
		"OK", "MALFORMED", "TOO_LARGE", "ALG", "KID", "SIGNATURE",
		"EXPIRED", "NOT_YET_VALID", "ISSUED_IN_FUTURE", "ISSUER",
		"AUDIENCE", "CLAIMS", "LIFETIME", "TYP",
	};

	if ((size_t)r < sizeof(names) / sizeof(names[0]))
		return names[r];
	return "?";
}

/* Verify and compare; print and count a mismatch instead of stopping. */
static int
expect_result(const struct auth_keyset *ks, const struct auth_policy *pol,
    const char *token, enum auth_result want, const char *what)
{
	struct auth_principal p;
	enum auth_result got;

	got = auth_verify(ks, pol, token, NOW, &p);
	if (got == AUTH_OK)
		assert_non_null(p.sub);
	else
		assert_null(p.sub);
	auth_principal_free(&p);
	if (got != want) {
		print_error("%s: got %s, want %s\n", what, result_name(got),
		    result_name(want));
		return 1;
	}
	return 0;
}

/* --- fixture -------------------------------------------------------------- */

static int
setup(void **state)
{
	struct fixture *fx;
	char err[256];
	json_t *keys;
	const char *tmp;

	fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	tmp = getenv("TMPDIR");
	snprintf(fx->dir, sizeof(fx->dir), "%s/test_auth.XXXXXX",
	    tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->jwks, sizeof(fx->jwks), "%s/jwks.json", fx->dir);

	assert_non_null(fx->rsa1 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
	    (size_t)2048));
	assert_non_null(fx->rsa2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
	    (size_t)2048));
	assert_non_null(fx->rsa_small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
	    (size_t)1024));
	assert_non_null(fx->ec1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC",
	    "P-256"));
	assert_non_null(fx->ec2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC",
	    "P-256"));
	fx->rsa1_pem = public_pem(fx->rsa1);
	fx->jwk_rsa1 = jwk_of_rsa(fx->rsa1, "rsa1");
	fx->jwk_rsa2 = jwk_of_rsa(fx->rsa2, "rsa2");
	fx->jwk_rsa_small = jwk_of_rsa(fx->rsa_small, "small");
	fx->jwk_ec1 = jwk_of_ec(fx->ec1, "ec1");

	/* rsa1 declares alg and use; ec1 does not; enc1 must be skipped. */
	keys = json_pack("[o, O, {s:s, s:s, s:s, s:s, s:s}]",
	    json_deep_copy(fx->jwk_rsa1), fx->jwk_ec1, "kty", "RSA", "kid", "enc1",
	    "use", "enc", "n", "AQAB", "e", "AQAB");
	assert_non_null(keys);
	assert_int_equal(json_object_set_new(json_array_get(keys, 0), "alg",
	    json_string("RS256")), 0);
	assert_int_equal(json_object_set_new(json_array_get(keys, 0), "use",
	    json_string("sig")), 0);
	write_jwks(fx->jwks, keys);
	if (auth_keyset_load(&fx->ks, fx->jwks, hs_secret, HS_SECRET_LEN,
	    "hs1", err, sizeof(err)) != 0)
		fail_msg("keyset: %s", err);

	fx->pol.issuer = ISSUER;
	fx->pol.audience = AUDIENCE;
	fx->pol.leeway_seconds = LEEWAY;
	fx->pol.max_token_bytes = 8192;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];

	auth_keyset_free(fx->ks);
	EVP_PKEY_free(fx->rsa1);
	EVP_PKEY_free(fx->rsa2);
	EVP_PKEY_free(fx->rsa_small);
	EVP_PKEY_free(fx->ec1);
	EVP_PKEY_free(fx->ec2);
	free(fx->rsa1_pem);
	json_decref(fx->jwk_rsa1);
	json_decref(fx->jwk_rsa2);
	json_decref(fx->jwk_rsa_small);
	json_decref(fx->jwk_ec1);
	/* Only files this suite created live in dir. */
	snprintf(cmd, sizeof(cmd), "%s/jwks.json", fx->dir);
	(void)unlink(cmd);
	snprintf(cmd, sizeof(cmd), "%s/other.json", fx->dir);
	(void)unlink(cmd);
	(void)rmdir(fx->dir);
	free(fx);
	return 0;
}

/* --- the verification matrix --------------------------------------------- */

#define H_HS	"{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"hs1\"}"
#define H_RS	"{\"alg\":\"RS256\",\"kid\":\"rsa1\"}"
#define H_ES	"{\"alg\":\"ES256\",\"kid\":\"ec1\"}"
#define IA	"\"iss\":\"" ISSUER "\",\"aud\":\"" AUDIENCE "\""
#define WHO	"\"sub\":\"alice\",\"tenant_id\":\"t1\",\"roles\":[\"TENANT_ADMIN\"]"
#define EXP	"\"exp\":1700003600"
#define P_OK	"{" IA "," WHO ",\"iat\":1699999990,\"nbf\":1699999990," EXP "}"

enum mutation {
	MUT_NONE,
	MUT_PAYLOAD,	/* swap in another payload, keep the signature */
	MUT_SIG_BIT,	/* flip one bit of the decoded signature */
	MUT_SIG_SHORT	/* drop the last signature byte */
};

struct verify_case {
	const char	*name;
	enum signer	 signer;
	const char	*header;
	const char	*payload;	/* NULL: P_OK */
	enum mutation	 mut;
	enum auth_result want;
};

static const struct verify_case verify_cases[] = {
	/* Valid tokens, all three algorithms, kid or single key. */
	{ "hs256 ok", SIGN_HS, H_HS, NULL, MUT_NONE, AUTH_OK },
	{ "rs256 ok", SIGN_RS, H_RS, NULL, MUT_NONE, AUTH_OK },
	{ "es256 ok", SIGN_ES, H_ES, NULL, MUT_NONE, AUTH_OK },
	{ "hs256 without kid, single hs key", SIGN_HS, "{\"alg\":\"HS256\"}",
	    NULL, MUT_NONE, AUTH_OK },
	{ "rs256 without kid, single rsa key", SIGN_RS, "{\"alg\":\"RS256\"}",
	    NULL, MUT_NONE, AUTH_OK },
	{ "es256 without kid, single ec key", SIGN_ES, "{\"alg\":\"ES256\"}",
	    NULL, MUT_NONE, AUTH_OK },
	{ "typ jwt lower case", SIGN_HS,
	    "{\"alg\":\"HS256\",\"typ\":\"jwt\"}", NULL, MUT_NONE, AUTH_OK },
	{ "typ at+jwt", SIGN_RS, "{\"alg\":\"RS256\",\"typ\":\"at+jwt\"}",
	    NULL, MUT_NONE, AUTH_OK },
	{ "typ application/jwt", SIGN_RS,
	    "{\"alg\":\"RS256\",\"typ\":\"application/JWT\"}", NULL, MUT_NONE,
	    AUTH_OK },
	{ "unknown header params ignored", SIGN_ES,
	    "{\"alg\":\"ES256\",\"kid\":\"ec1\",\"x5t\":\"abc\"}", NULL,
	    MUT_NONE, AUTH_OK },

	/* alg none in every spelling, other algorithms. */
	{ "alg none", SIGN_HS, "{\"alg\":\"none\"}", NULL, MUT_NONE,
	    AUTH_ERR_ALG },
	{ "alg None", SIGN_HS, "{\"alg\":\"None\"}", NULL, MUT_NONE,
	    AUTH_ERR_ALG },
	{ "alg NONE with kid", SIGN_HS, "{\"alg\":\"NONE\",\"kid\":\"hs1\"}",
	    NULL, MUT_NONE, AUTH_ERR_ALG },
	{ "alg none, empty signature", SIGN_EMPTY, "{\"alg\":\"none\"}", NULL,
	    MUT_NONE, AUTH_ERR_MALFORMED },
	{ "alg HS512", SIGN_HS, "{\"alg\":\"HS512\",\"kid\":\"hs1\"}", NULL,
	    MUT_NONE, AUTH_ERR_ALG },
	{ "alg hs256 wrong case", SIGN_HS, "{\"alg\":\"hs256\",\"kid\":\"hs1\"}",
	    NULL, MUT_NONE, AUTH_ERR_ALG },
	{ "alg PS256", SIGN_RS, "{\"alg\":\"PS256\",\"kid\":\"rsa1\"}", NULL,
	    MUT_NONE, AUTH_ERR_ALG },

	/* Algorithm / key mismatch (RFC 8725 2.1, 3.1). */
	{ "hs256 with rsa kid, keyed with the rsa pem", SIGN_HS_PEM,
	    "{\"alg\":\"HS256\",\"kid\":\"rsa1\"}", NULL, MUT_NONE,
	    AUTH_ERR_ALG },
	{ "hs256 with ec kid", SIGN_HS, "{\"alg\":\"HS256\",\"kid\":\"ec1\"}",
	    NULL, MUT_NONE, AUTH_ERR_ALG },
	{ "rs256 with hs kid", SIGN_RS, "{\"alg\":\"RS256\",\"kid\":\"hs1\"}",
	    NULL, MUT_NONE, AUTH_ERR_ALG },
	{ "es256 with rsa kid", SIGN_ES, "{\"alg\":\"ES256\",\"kid\":\"rsa1\"}",
	    NULL, MUT_NONE, AUTH_ERR_ALG },
	{ "rs256 with ec kid", SIGN_RS, "{\"alg\":\"RS256\",\"kid\":\"ec1\"}",
	    NULL, MUT_NONE, AUTH_ERR_ALG },

	/* kid. */
	{ "unknown kid", SIGN_HS, "{\"alg\":\"HS256\",\"kid\":\"nope\"}", NULL,
	    MUT_NONE, AUTH_ERR_KID },
	{ "kid of a skipped use=enc key", SIGN_RS,
	    "{\"alg\":\"RS256\",\"kid\":\"enc1\"}", NULL, MUT_NONE,
	    AUTH_ERR_KID },
	{ "kid of a key not in the set", SIGN_RS2,
	    "{\"alg\":\"RS256\",\"kid\":\"rsa2\"}", NULL, MUT_NONE,
	    AUTH_ERR_KID },
	{ "kid differs in case", SIGN_RS, "{\"alg\":\"RS256\",\"kid\":\"RSA1\"}",
	    NULL, MUT_NONE, AUTH_ERR_KID },
	{ "kid not a string", SIGN_RS, "{\"alg\":\"RS256\",\"kid\":1}", NULL,
	    MUT_NONE, AUTH_ERR_MALFORMED },

	/* Header shape. */
	{ "header array", SIGN_HS, "[\"HS256\"]", NULL, MUT_NONE,
	    AUTH_ERR_MALFORMED },
	{ "header string", SIGN_HS, "\"HS256\"", NULL, MUT_NONE,
	    AUTH_ERR_MALFORMED },
	{ "header null", SIGN_HS, "null", NULL, MUT_NONE, AUTH_ERR_MALFORMED },
	{ "header not json", SIGN_HS, "{alg:HS256}", NULL, MUT_NONE,
	    AUTH_ERR_MALFORMED },
	{ "header trailing garbage", SIGN_HS, H_HS "x", NULL, MUT_NONE,
	    AUTH_ERR_MALFORMED },
	{ "header without alg", SIGN_HS, "{\"kid\":\"hs1\"}", NULL, MUT_NONE,
	    AUTH_ERR_MALFORMED },
	{ "alg not a string", SIGN_HS, "{\"alg\":256}", NULL, MUT_NONE,
	    AUTH_ERR_MALFORMED },
	{ "duplicate alg", SIGN_HS,
	    "{\"alg\":\"HS256\",\"alg\":\"none\",\"kid\":\"hs1\"}", NULL,
	    MUT_NONE, AUTH_ERR_MALFORMED },
	{ "crit present", SIGN_HS,
	    "{\"alg\":\"HS256\",\"kid\":\"hs1\",\"crit\":[\"exp\"],"
	    "\"exp\":1}", NULL, MUT_NONE, AUTH_ERR_MALFORMED },
	{ "crit empty", SIGN_HS, "{\"alg\":\"HS256\",\"crit\":[]}", NULL,
	    MUT_NONE, AUTH_ERR_MALFORMED },
	{ "typ JWS", SIGN_HS, "{\"alg\":\"HS256\",\"typ\":\"JWS\"}", NULL,
	    MUT_NONE, AUTH_ERR_MALFORMED },
	{ "typ not a string", SIGN_HS, "{\"alg\":\"HS256\",\"typ\":1}", NULL,
	    MUT_NONE, AUTH_ERR_MALFORMED },

	/* Signature. */
	{ "hs256 tampered payload", SIGN_HS, H_HS, NULL, MUT_PAYLOAD,
	    AUTH_ERR_SIGNATURE },
	{ "rs256 tampered payload", SIGN_RS, H_RS, NULL, MUT_PAYLOAD,
	    AUTH_ERR_SIGNATURE },
	{ "es256 tampered payload", SIGN_ES, H_ES, NULL, MUT_PAYLOAD,
	    AUTH_ERR_SIGNATURE },
	{ "hs256 tampered signature", SIGN_HS, H_HS, NULL, MUT_SIG_BIT,
	    AUTH_ERR_SIGNATURE },
	{ "rs256 tampered signature", SIGN_RS, H_RS, NULL, MUT_SIG_BIT,
	    AUTH_ERR_SIGNATURE },
	{ "es256 tampered signature", SIGN_ES, H_ES, NULL, MUT_SIG_BIT,
	    AUTH_ERR_SIGNATURE },
	{ "hs256 short signature", SIGN_HS, H_HS, NULL, MUT_SIG_SHORT,
	    AUTH_ERR_SIGNATURE },
	{ "rs256 short signature", SIGN_RS, H_RS, NULL, MUT_SIG_SHORT,
	    AUTH_ERR_SIGNATURE },
	{ "es256 short signature", SIGN_ES, H_ES, NULL, MUT_SIG_SHORT,
	    AUTH_ERR_SIGNATURE },
	{ "es256 DER signature", SIGN_ES_DER, H_ES, NULL, MUT_NONE,
	    AUTH_ERR_SIGNATURE },
	{ "rs256 signed by another key", SIGN_RS2, H_RS, NULL, MUT_NONE,
	    AUTH_ERR_SIGNATURE },
	{ "es256 signed by another key", SIGN_ES2, H_ES, NULL, MUT_NONE,
	    AUTH_ERR_SIGNATURE },
	{ "hs256 signed with the rsa pem", SIGN_HS_PEM, H_HS, NULL, MUT_NONE,
	    AUTH_ERR_SIGNATURE },
	/* The signature is checked before any claim. */
	{ "expired and bad signature", SIGN_RS2, H_RS,
	    "{" IA "," WHO ",\"exp\":1}", MUT_NONE, AUTH_ERR_SIGNATURE },
	{ "payload not json and bad signature", SIGN_RS2, H_RS, "garbage",
	    MUT_NONE, AUTH_ERR_SIGNATURE },

	/* Payload shape. */
	{ "payload not json", SIGN_HS, H_HS, "garbage", MUT_NONE,
	    AUTH_ERR_MALFORMED },
	{ "payload array", SIGN_HS, H_HS, "[1]", MUT_NONE,
	    AUTH_ERR_MALFORMED },
	{ "payload duplicate exp", SIGN_HS, H_HS,
	    "{" IA "," WHO "," EXP ",\"exp\":1}", MUT_NONE,
	    AUTH_ERR_MALFORMED },

	/* Time claims, leeway 60 at both edges. */
	{ "exp missing", SIGN_HS, H_HS, "{" IA "," WHO "}", MUT_NONE,
	    AUTH_ERR_CLAIMS },
	{ "exp string", SIGN_HS, H_HS, "{" IA "," WHO ",\"exp\":\"1700003600\"}",
	    MUT_NONE, AUTH_ERR_CLAIMS },
	{ "exp null", SIGN_HS, H_HS, "{" IA "," WHO ",\"exp\":null}", MUT_NONE,
	    AUTH_ERR_CLAIMS },
	{ "exp huge", SIGN_HS, H_HS, "{" IA "," WHO ",\"exp\":1e300}",
	    MUT_NONE, AUTH_ERR_CLAIMS },
	{ "exp fractional ok", SIGN_HS, H_HS,
	    "{" IA "," WHO ",\"exp\":1700003600.5}", MUT_NONE, AUTH_OK },
	{ "exp long past", SIGN_HS, H_HS, "{" IA "," WHO ",\"exp\":1600000000}",
	    MUT_NONE, AUTH_ERR_EXPIRED },
	{ "exp negative", SIGN_HS, H_HS, "{" IA "," WHO ",\"exp\":-5}",
	    MUT_NONE, AUTH_ERR_EXPIRED },
	{ "exp = now - leeway", SIGN_HS, H_HS,
	    "{" IA "," WHO ",\"exp\":1699999940}", MUT_NONE, AUTH_ERR_EXPIRED },
	{ "exp = now - leeway + 0.9", SIGN_HS, H_HS,
	    "{" IA "," WHO ",\"exp\":1699999940.9}", MUT_NONE,
	    AUTH_ERR_EXPIRED },
	{ "exp = now - leeway + 1", SIGN_HS, H_HS,
	    "{" IA "," WHO ",\"exp\":1699999941}", MUT_NONE, AUTH_OK },
	{ "nbf = now + leeway", SIGN_HS, H_HS,
	    "{" IA "," WHO "," EXP ",\"nbf\":1700000060}", MUT_NONE, AUTH_OK },
	{ "nbf = now + leeway + 1", SIGN_HS, H_HS,
	    "{" IA "," WHO "," EXP ",\"nbf\":1700000061}", MUT_NONE,
	    AUTH_ERR_NOT_YET_VALID },
	{ "nbf = now + leeway + 0.1", SIGN_HS, H_HS,
	    "{" IA "," WHO "," EXP ",\"nbf\":1700000060.1}", MUT_NONE,
	    AUTH_ERR_NOT_YET_VALID },
	{ "nbf far future", SIGN_ES, H_ES,
	    "{" IA "," WHO "," EXP ",\"nbf\":1800000000}", MUT_NONE,
	    AUTH_ERR_NOT_YET_VALID },
	{ "nbf string", SIGN_HS, H_HS,
	    "{" IA "," WHO "," EXP ",\"nbf\":\"0\"}", MUT_NONE,
	    AUTH_ERR_CLAIMS },
	{ "iat = now + leeway", SIGN_HS, H_HS,
	    "{" IA "," WHO "," EXP ",\"iat\":1700000060}", MUT_NONE, AUTH_OK },
	{ "iat = now + leeway + 1", SIGN_HS, H_HS,
	    "{" IA "," WHO "," EXP ",\"iat\":1700000061}", MUT_NONE,
	    AUTH_ERR_ISSUED_IN_FUTURE },
	{ "iat far future", SIGN_RS, H_RS,
	    "{" IA "," WHO "," EXP ",\"iat\":1800000000}", MUT_NONE,
	    AUTH_ERR_ISSUED_IN_FUTURE },
	{ "iat bool", SIGN_HS, H_HS, "{" IA "," WHO "," EXP ",\"iat\":true}",
	    MUT_NONE, AUTH_ERR_CLAIMS },
	{ "nbf and iat absent", SIGN_HS, H_HS, "{" IA "," WHO "," EXP "}",
	    MUT_NONE, AUTH_OK },

	/* iss, aud. */
	{ "wrong iss", SIGN_HS, H_HS, "{\"iss\":\"https://evil.test\","
	    "\"aud\":\"" AUDIENCE "\"," WHO "," EXP "}", MUT_NONE,
	    AUTH_ERR_ISSUER },
	{ "iss missing", SIGN_HS, H_HS, "{\"aud\":\"" AUDIENCE "\"," WHO
	    "," EXP "}", MUT_NONE, AUTH_ERR_ISSUER },
	{ "iss array", SIGN_HS, H_HS, "{\"iss\":[\"" ISSUER "\"],\"aud\":\""
	    AUDIENCE "\"," WHO "," EXP "}", MUT_NONE, AUTH_ERR_ISSUER },
	{ "iss with suffix", SIGN_HS, H_HS, "{\"iss\":\"" ISSUER "/\","
	    "\"aud\":\"" AUDIENCE "\"," WHO "," EXP "}", MUT_NONE,
	    AUTH_ERR_ISSUER },
	{ "wrong aud", SIGN_HS, H_HS, "{\"iss\":\"" ISSUER "\","
	    "\"aud\":\"other-api\"," WHO "," EXP "}", MUT_NONE,
	    AUTH_ERR_AUDIENCE },
	{ "aud missing", SIGN_HS, H_HS, "{\"iss\":\"" ISSUER "\"," WHO ","
	    EXP "}", MUT_NONE, AUTH_ERR_AUDIENCE },
	{ "aud array with audience", SIGN_ES, H_ES, "{\"iss\":\"" ISSUER "\","
	    "\"aud\":[\"other-api\",\"" AUDIENCE "\"]," WHO "," EXP "}",
	    MUT_NONE, AUTH_OK },
	{ "aud array without audience", SIGN_HS, H_HS, "{\"iss\":\"" ISSUER
	    "\",\"aud\":[\"other-api\",\"x\"]," WHO "," EXP "}", MUT_NONE,
	    AUTH_ERR_AUDIENCE },
	{ "aud empty array", SIGN_HS, H_HS, "{\"iss\":\"" ISSUER
	    "\",\"aud\":[]," WHO "," EXP "}", MUT_NONE, AUTH_ERR_AUDIENCE },
	{ "aud array with a number", SIGN_HS, H_HS, "{\"iss\":\"" ISSUER
	    "\",\"aud\":[\"" AUDIENCE "\",1]," WHO "," EXP "}", MUT_NONE,
	    AUTH_ERR_CLAIMS },
	{ "aud number", SIGN_HS, H_HS, "{\"iss\":\"" ISSUER "\",\"aud\":1,"
	    WHO "," EXP "}", MUT_NONE, AUTH_ERR_CLAIMS },

	/* sub, tenant_id, roles. */
	{ "sub missing", SIGN_HS, H_HS, "{" IA ",\"tenant_id\":\"t1\","
	    "\"roles\":[]," EXP "}", MUT_NONE, AUTH_ERR_CLAIMS },
	{ "sub empty", SIGN_HS, H_HS, "{" IA ",\"sub\":\"\",\"roles\":[],"
	    EXP "}", MUT_NONE, AUTH_ERR_CLAIMS },
	{ "sub number", SIGN_HS, H_HS, "{" IA ",\"sub\":42,\"roles\":[],"
	    EXP "}", MUT_NONE, AUTH_ERR_CLAIMS },
	{ "tenant_id absent", SIGN_HS, H_HS, "{" IA ",\"sub\":\"ops\","
	    "\"roles\":[\"OPS_ADMIN\"]," EXP "}", MUT_NONE, AUTH_OK },
	{ "tenant_id null", SIGN_HS, H_HS, "{" IA ",\"sub\":\"ops\","
	    "\"tenant_id\":null,\"roles\":[\"OPS_ADMIN\"]," EXP "}", MUT_NONE,
	    AUTH_OK },
	{ "tenant_id number", SIGN_HS, H_HS, "{" IA ",\"sub\":\"ops\","
	    "\"tenant_id\":7,\"roles\":[]," EXP "}", MUT_NONE,
	    AUTH_ERR_CLAIMS },
	{ "tenant_id empty", SIGN_HS, H_HS, "{" IA ",\"sub\":\"ops\","
	    "\"tenant_id\":\"\",\"roles\":[]," EXP "}", MUT_NONE,
	    AUTH_ERR_CLAIMS },
	{ "roles missing", SIGN_HS, H_HS, "{" IA ",\"sub\":\"a\"," EXP "}",
	    MUT_NONE, AUTH_ERR_CLAIMS },
	{ "roles string", SIGN_HS, H_HS, "{" IA ",\"sub\":\"a\","
	    "\"roles\":\"SUPER_ADMIN\"," EXP "}", MUT_NONE, AUTH_ERR_CLAIMS },
	{ "roles object", SIGN_HS, H_HS, "{" IA ",\"sub\":\"a\","
	    "\"roles\":{\"SUPER_ADMIN\":true}," EXP "}", MUT_NONE,
	    AUTH_ERR_CLAIMS },
	{ "roles with a number", SIGN_HS, H_HS, "{" IA ",\"sub\":\"a\","
	    "\"roles\":[\"AUDITOR\",1]," EXP "}", MUT_NONE, AUTH_ERR_CLAIMS },
	{ "roles with null", SIGN_HS, H_HS, "{" IA ",\"sub\":\"a\","
	    "\"roles\":[null]," EXP "}", MUT_NONE, AUTH_ERR_CLAIMS },
	{ "roles empty", SIGN_HS, H_HS, "{" IA ",\"sub\":\"a\",\"roles\":[],"
	    EXP "}", MUT_NONE, AUTH_OK },
	{ "roles unknown names kept", SIGN_HS, H_HS, "{" IA ",\"sub\":\"a\","
	    "\"roles\":[\"ROOT\"]," EXP "}", MUT_NONE, AUTH_OK },
};

/* Apply a mutation to a signed token in place (returns a new string). */
static char *
mutate(const struct fixture *fx, char *tok, enum mutation mut)
{
	char *d1, *d2, *seg;
	unsigned char sig[1024];
	struct buf b = BUF_INIT;
	size_t n;

	if (mut == MUT_NONE)
		return tok;
	d1 = strchr(tok, '.');
	d2 = strrchr(tok, '.');
	assert_true(d1 != NULL && d2 != NULL && d1 != d2);
	if (mut == MUT_PAYLOAD) {
		/* Same token, but claiming SUPER_ADMIN. */
		static const char evil[] = "{" IA ",\"sub\":\"alice\","
		    "\"roles\":[\"SUPER_ADMIN\"]," EXP "}";
		buf_append(&b, tok, (size_t)(d1 - tok) + 1);
		b64url(&b, evil, strlen(evil));
		buf_appends(&b, d2);
	} else {
		/* Decode the signature with OpenSSL's standard decoder. */
		struct buf std = BUF_INIT;

		assert_true(strlen(d2 + 1) <= 4 * sizeof(sig) / 3);
		for (seg = d2 + 1; *seg; seg++)
			buf_appendc(&std, *seg == '-' ? '+' : *seg == '_' ?
			    '/' : *seg);
		while (std.len % 4)
			buf_appendc(&std, '=');
		n = (size_t)EVP_DecodeBlock(sig, (unsigned char *)std.data,
		    (int)std.len);
		n -= std.len - strcspn(std.data, "=");	/* padding bytes */
		buf_free(&std);
		if (mut == MUT_SIG_BIT)
			sig[0] ^= 0x01;
		else
			n--;
		buf_append(&b, tok, (size_t)(d2 - tok) + 1);
		b64url(&b, sig, n);
	}
	(void)fx;
	free(tok);
	return buf_detach(&b, NULL);
}

static void
test_verify_matrix(void **state)
{
	struct fixture *fx = *state;
	const struct verify_case *tc;
	size_t i, failed = 0;
	char *tok;

	for (i = 0; i < sizeof(verify_cases) / sizeof(verify_cases[0]); i++) {
		tc = &verify_cases[i];
		tok = make_token(fx, tc->signer, tc->header,
		    tc->payload ? tc->payload : P_OK);
		tok = mutate(fx, tok, tc->mut);
		failed += (size_t)expect_result(fx->ks, &fx->pol, tok, tc->want,
		    tc->name);
		free(tok);
	}
	if (failed)
		fail_msg("%zu of %zu verification cases failed", failed,
		    sizeof(verify_cases) / sizeof(verify_cases[0]));
}

/* --- token shape: segments and base64url ---------------------------------- */

struct shape_case {
	const char	*tmpl;	/* {h} {p} {s}: the segments of a valid token */
	enum auth_result want;
};

static const struct shape_case shape_cases[] = {
	{ "{h}.{p}.{s}", AUTH_OK },
	{ "{h}.{p}", AUTH_ERR_MALFORMED },
	{ "{h}.{p}.{s}.{s}", AUTH_ERR_MALFORMED },
	{ "{h}.{p}.{s}.", AUTH_ERR_MALFORMED },
	{ "{h}.{p}.", AUTH_ERR_MALFORMED },
	{ ".{p}.{s}", AUTH_ERR_MALFORMED },
	{ "{h}..{s}", AUTH_ERR_MALFORMED },
	{ "", AUTH_ERR_MALFORMED },
	{ ".", AUTH_ERR_MALFORMED },
	{ "..", AUTH_ERR_MALFORMED },
	{ "...", AUTH_ERR_MALFORMED },
	{ "{h}", AUTH_ERR_MALFORMED },
	{ "{h}.{p}.{s}=", AUTH_ERR_MALFORMED },
	{ "{h}.{p}.{s}==", AUTH_ERR_MALFORMED },
	{ "{h}=.{p}.{s}", AUTH_ERR_MALFORMED },
	{ "{h}.+{p}.{s}", AUTH_ERR_MALFORMED },
	{ "{h}./{p}.{s}", AUTH_ERR_MALFORMED },
	{ "{h}.{p}.{s}+", AUTH_ERR_MALFORMED },
	{ "{h}.{p}.{s}/", AUTH_ERR_MALFORMED },
	{ "{h}.{p} .{s}", AUTH_ERR_MALFORMED },
	{ " {h}.{p}.{s}", AUTH_ERR_MALFORMED },
	{ "{h}.{p}.{s} ", AUTH_ERR_MALFORMED },
	{ "{h}.{p}.{s}\n", AUTH_ERR_MALFORMED },
	{ "{h}.{p}\t.{s}", AUTH_ERR_MALFORMED },
	{ "Bearer {h}.{p}.{s}", AUTH_ERR_MALFORMED },
	{ "{h}.{p}.{s}*", AUTH_ERR_MALFORMED },
	{ "{h}.{p}.AAAAA", AUTH_ERR_MALFORMED },	/* len % 4 == 1 */
	{ "{h}.{p}.{s}AA", AUTH_ERR_MALFORMED },	/* 43 + 2 = 45 */
	{ "{h}.{p}.{s}AAAA", AUTH_ERR_SIGNATURE },	/* decodes, too long */
	{ "{h}.{p}.AAAA", AUTH_ERR_SIGNATURE },
	{ "{h}.{p}.{s}\xc3\xa9", AUTH_ERR_MALFORMED },
};

static char *
expand(const char *tmpl, const char *h, const char *p, const char *s)
{
	struct buf b = BUF_INIT;

	while (*tmpl) {
		if (strncmp(tmpl, "{h}", 3) == 0)
			buf_appends(&b, h);
		else if (strncmp(tmpl, "{p}", 3) == 0)
			buf_appends(&b, p);
		else if (strncmp(tmpl, "{s}", 3) == 0)
			buf_appends(&b, s);
		else {
			buf_appendc(&b, *tmpl++);
			continue;
		}
		tmpl += 3;
	}
	return buf_detach(&b, NULL);
}

static void
test_token_shape(void **state)
{
	struct fixture *fx = *state;
	char *tok, *h, *p, *s, *t;
	size_t i, failed = 0;

	tok = make_token(fx, SIGN_HS, H_HS, P_OK);
	h = tok;
	p = strchr(h, '.');
	*p++ = '\0';
	s = strchr(p, '.');
	*s++ = '\0';
	assert_int_equal(strlen(s), 43);	/* 32 bytes, 2 spare bits */
	for (i = 0; i < sizeof(shape_cases) / sizeof(shape_cases[0]); i++) {
		t = expand(shape_cases[i].tmpl, h, p, s);
		failed += (size_t)expect_result(fx->ks, &fx->pol, t,
		    shape_cases[i].want, shape_cases[i].tmpl);
		free(t);
	}
	free(tok);
	if (failed)
		fail_msg("%zu shape cases failed", failed);
}

/* The unused low bits of the last character must be zero. */
static void
test_noncanonical_base64(void **state)
{
	struct fixture *fx = *state;
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	enum signer signers[] = { SIGN_HS, SIGN_ES };
	const char *headers[] = { H_HS, H_ES };
	size_t i, len, v;
	char *tok;

	for (i = 0; i < 2; i++) {
		tok = make_token(fx, signers[i], headers[i], P_OK);
		expect_result(fx->ks, &fx->pol, tok, AUTH_OK, "canonical");
		len = strlen(tok);
		v = (size_t)(strchr(alphabet, tok[len - 1]) - alphabet);
		/* HS256: 43 chars, 2 spare bits; ES256: 86 chars, 4. */
		tok[len - 1] = alphabet[v | 1];
		assert_int_equal(expect_result(fx->ks, &fx->pol, tok,
		    AUTH_ERR_MALFORMED, "non-canonical last char"), 0);
		free(tok);
	}
}

static void
test_size_limit(void **state)
{
	struct fixture *fx = *state;
	struct auth_policy pol = fx->pol;
	struct buf big = BUF_INIT;
	char *tok;
	size_t len;

	/* A valid token exactly at the limit passes, one byte over fails. */
	tok = make_token(fx, SIGN_RS, H_RS, P_OK);
	len = strlen(tok);
	pol.max_token_bytes = len;
	assert_int_equal(expect_result(fx->ks, &pol, tok, AUTH_OK, "at max"),
	    0);
	pol.max_token_bytes = len - 1;
	assert_int_equal(expect_result(fx->ks, &pol, tok, AUTH_ERR_TOO_LARGE,
	    "over max"), 0);
	free(tok);

	/* 0 means the default of 8192; size is checked before format. */
	pol.max_token_bytes = 0;
	while (big.len <= AUTH_DEFAULT_MAX_TOKEN)
		buf_appends(&big, "!!!!....");
	assert_int_equal(expect_result(fx->ks, &pol, big.data,
	    AUTH_ERR_TOO_LARGE, "garbage over default"), 0);
	buf_reset(&big);

	/* A correctly signed token with a padded payload. */
	buf_appends(&big, "{" IA "," WHO "," EXP ",\"pad\":\"");
	while (big.len < 9000)
		buf_appends(&big, "xxxxxxxxxxxxxxxx");
	buf_appends(&big, "\"}");
	tok = make_token(fx, SIGN_HS, H_HS, big.data);
	assert_int_equal(expect_result(fx->ks, &fx->pol, tok,
	    AUTH_ERR_TOO_LARGE, "oversized signed token"), 0);
	pol.max_token_bytes = 64 * 1024;
	assert_int_equal(expect_result(fx->ks, &pol, tok, AUTH_OK,
	    "same token under a larger limit"), 0);
	free(tok);
	buf_free(&big);
}

static void
test_principal(void **state)
{
	struct fixture *fx = *state;
	struct auth_principal p;
	char *tok;

	tok = make_token(fx, SIGN_ES, H_ES, "{" IA ",\"sub\":\"alice\","
	    "\"tenant_id\":\"t1\",\"roles\":[\"TENANT_ADMIN\",\"AUDITOR\"],"
	    "\"iat\":1699999990,\"nbf\":1699999991," EXP "}");
	assert_int_equal(auth_verify(fx->ks, &fx->pol, tok, NOW, &p), AUTH_OK);
	assert_string_equal(p.sub, "alice");
	assert_string_equal(p.tenant_id, "t1");
	assert_int_equal(p.nroles, 2);
	assert_string_equal(p.roles[0], "TENANT_ADMIN");
	assert_string_equal(p.roles[1], "AUDITOR");
	assert_int_equal(p.exp, 1700003600);
	assert_int_equal(p.nbf, 1699999991);
	assert_int_equal(p.iat, 1699999990);
	auth_principal_free(&p);
	assert_null(p.sub);
	assert_null(p.roles);
	auth_principal_free(&p);	/* twice is harmless */
	free(tok);

	tok = make_token(fx, SIGN_HS, H_HS, "{" IA ",\"sub\":\"ops\","
	    "\"roles\":[]," EXP "}");
	assert_int_equal(auth_verify(fx->ks, &fx->pol, tok, NOW, &p), AUTH_OK);
	assert_null(p.tenant_id);
	assert_int_equal(p.nroles, 0);
	assert_int_equal(p.nbf, 0);
	assert_int_equal(p.iat, 0);
	auth_principal_free(&p);

	/* Bad arguments never crash and leave the principal zeroed. */
	assert_int_equal(auth_verify(NULL, &fx->pol, tok, NOW, &p),
	    AUTH_ERR_MALFORMED);
	assert_null(p.sub);
	assert_int_equal(auth_verify(fx->ks, NULL, tok, NOW, &p),
	    AUTH_ERR_MALFORMED);
	assert_int_equal(auth_verify(fx->ks, &fx->pol, NULL, NOW, &p),
	    AUTH_ERR_MALFORMED);
	assert_int_equal(auth_verify(fx->ks, &fx->pol, tok, NOW, NULL),
	    AUTH_ERR_MALFORMED);
	free(tok);
}

static void
test_policy_unchecked(void **state)
{
	struct fixture *fx = *state;
	struct auth_policy pol = { NULL, NULL, 0, 0, 0, NULL };
	char *tok;

	/* Without issuer/audience configured, iss and aud are not needed. */
	tok = make_token(fx, SIGN_RS, H_RS, "{" WHO "," EXP "}");
	assert_int_equal(expect_result(fx->ks, &pol, tok, AUTH_OK, "no iss"),
	    0);
	assert_int_equal(expect_result(fx->ks, &fx->pol, tok,
	    AUTH_ERR_ISSUER, "iss required"), 0);
	free(tok);
	/* ...but a malformed aud is still refused. */
	tok = make_token(fx, SIGN_RS, H_RS, "{" WHO "," EXP ",\"aud\":{}}");
	assert_int_equal(expect_result(fx->ks, &pol, tok, AUTH_ERR_CLAIMS,
	    "bad aud"), 0);
	free(tok);

	/* Leeway 0: exp == now is expired, exp == now + 1 is not. */
	tok = make_token(fx, SIGN_HS, H_HS, "{" WHO ",\"exp\":1700000000}");
	assert_int_equal(expect_result(fx->ks, &pol, tok, AUTH_ERR_EXPIRED,
	    "exp now"), 0);
	free(tok);
	tok = make_token(fx, SIGN_HS, H_HS, "{" WHO ",\"exp\":1700000001}");
	assert_int_equal(expect_result(fx->ks, &pol, tok, AUTH_OK,
	    "exp now+1"), 0);
	free(tok);
	/* A negative leeway counts as 0. */
	pol.leeway_seconds = -100;
	tok = make_token(fx, SIGN_HS, H_HS, "{" WHO ",\"exp\":1700000001,"
	    "\"nbf\":1700000000}");
	assert_int_equal(expect_result(fx->ks, &pol, tok, AUTH_OK,
	    "negative leeway"), 0);
	free(tok);
}

/*
 * Issue 10, defects 3, 4 and 7: identities that would forge log lines or be
 * truncated are refused, and so are tokens living too long or of the wrong
 * type when the policy asks.
 */
static void
test_policy_hardening(void **state)
{
	struct fixture *fx = *state;
	struct auth_policy pol = fx->pol;
	char sub[AUTH_MAX_SUB + 2], payload[512];
	size_t i;
	struct {
		const char	*header;
		const char	*payload;
		long long	 max_lifetime;
		const char	*typ;
		enum auth_result want;
		const char	*what;
	} t[] = {
		{ H_HS, "{" IA ",\"sub\":\"a\\nb\",\"roles\":[]," EXP "}", 0,
		  NULL, AUTH_ERR_CLAIMS, "sub with LF" },
		{ H_HS, "{" IA ",\"sub\":\"a\\rb\",\"roles\":[]," EXP "}", 0,
		  NULL, AUTH_ERR_CLAIMS, "sub with CR" },
		{ H_HS, "{" IA ",\"sub\":\"a\\u007fb\",\"roles\":[]," EXP "}",
		  0, NULL, AUTH_ERR_CLAIMS, "sub with DEL" },
		{ H_HS, "{" IA ",\"sub\":\"a\",\"tenant_id\":\"t\\n1\","
		  "\"roles\":[]," EXP "}", 0, NULL, AUTH_ERR_CLAIMS,
		  "tenant_id with LF" },
		{ H_HS, "{" IA ",\"sub\":\"a\\u00e9\",\"roles\":[]," EXP "}",
		  0, NULL, AUTH_OK, "sub with non-ASCII" },
		/* lifetime: exp - iat, or exp - now without iat */
		{ H_HS, "{" IA "," WHO ",\"iat\":1699999000,"
		  "\"exp\":1700003600}", 4600, NULL, AUTH_OK, "lifetime = max" },
		{ H_HS, "{" IA "," WHO ",\"iat\":1699999000,"
		  "\"exp\":1700003601}", 4600, NULL, AUTH_ERR_LIFETIME,
		  "lifetime = max + 1" },
		{ H_HS, "{" IA "," WHO ",\"exp\":1700003600}", 3600, NULL,
		  AUTH_OK, "no iat: exp - now = max" },
		{ H_HS, "{" IA "," WHO ",\"exp\":1700003601}", 3600, NULL,
		  AUTH_ERR_LIFETIME, "no iat: exp - now = max + 1" },
		{ H_HS, "{" IA "," WHO ",\"iat\":-4611686018427387904,"
		  "\"exp\":4611686018427387904}", 86400, NULL,
		  AUTH_ERR_LIFETIME, "lifetime 2^63" },
		{ H_HS, "{" IA "," WHO ",\"iat\":1699999000,"
		  "\"exp\":4611686018427387904}", 0, NULL, AUTH_OK,
		  "lifetime unchecked" },
		/* typ */
		{ H_HS, P_OK, 0, "JWT", AUTH_OK, "typ JWT wanted JWT" },
		{ H_HS, P_OK, 0, "at+jwt", AUTH_ERR_TYP, "typ JWT wanted at+jwt" },
		{ H_RS, P_OK, 0, "at+jwt", AUTH_ERR_TYP, "typ absent" },
		{ "{\"alg\":\"RS256\",\"kid\":\"rsa1\","
		  "\"typ\":\"application/AT+JWT\"}", P_OK, 0, "at+jwt", AUTH_OK,
		  "typ application/AT+JWT wanted at+jwt" },
		{ H_RS, P_OK, 0, NULL, AUTH_OK, "typ absent, not wanted" },
	};
	char *tok;
	int bad = 0;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		pol.max_lifetime_seconds = t[i].max_lifetime;
		pol.typ = t[i].typ;
		tok = make_token(fx, strstr(t[i].header, "HS256") ? SIGN_HS : SIGN_RS,
		    t[i].header, t[i].payload);
		bad += expect_result(fx->ks, &pol, tok, t[i].want, t[i].what);
		free(tok);
	}
	/* sub: AUTH_MAX_SUB bytes pass, one more is refused (not cut) */
	pol = fx->pol;
	memset(sub, 'x', sizeof(sub));
	for (i = AUTH_MAX_SUB; i <= AUTH_MAX_SUB + 1; i++) {
		sub[i] = '\0';
		snprintf(payload, sizeof(payload), "{" IA ",\"sub\":\"%s\","
		    "\"roles\":[]," EXP "}", sub);
		tok = make_token(fx, SIGN_HS, H_HS, payload);
		bad += expect_result(fx->ks, &pol, tok, i == AUTH_MAX_SUB ?
		    AUTH_OK : AUTH_ERR_CLAIMS, "sub length limit");
		free(tok);
		sub[i] = 'x';
	}
	assert_int_equal(bad, 0);
}

/* --- keyless selection in other keysets ---------------------------------- */

static void
test_key_selection(void **state)
{
	struct fixture *fx = *state;
	struct auth_keyset *ks;
	char path[128], err[256], *tok;
	json_t *keys;

	snprintf(path, sizeof(path), "%s/other.json", fx->dir);

	/* Two RSA keys: without kid the choice is ambiguous. */
	keys = json_pack("[O, O]", fx->jwk_rsa1, fx->jwk_rsa2);
	write_jwks(path, keys);
	assert_int_equal(auth_keyset_load(&ks, path, NULL, 0, NULL, err,
	    sizeof(err)), 0);
	tok = make_token(fx, SIGN_RS2, "{\"alg\":\"RS256\"}", P_OK);
	assert_int_equal(expect_result(ks, &fx->pol, tok, AUTH_ERR_KID,
	    "two rsa keys, no kid"), 0);
	free(tok);
	tok = make_token(fx, SIGN_RS2, "{\"alg\":\"RS256\",\"kid\":\"rsa2\"}",
	    P_OK);
	assert_int_equal(expect_result(ks, &fx->pol, tok, AUTH_OK,
	    "two rsa keys, kid"), 0);
	free(tok);
	/* No HS secret in this set: HS256 has no key. */
	tok = make_token(fx, SIGN_HS, "{\"alg\":\"HS256\"}", P_OK);
	assert_int_equal(expect_result(ks, &fx->pol, tok, AUTH_ERR_ALG,
	    "hs256 without hs key"), 0);
	free(tok);
	tok = make_token(fx, SIGN_ES, "{\"alg\":\"ES256\"}", P_OK);
	assert_int_equal(expect_result(ks, &fx->pol, tok, AUTH_ERR_ALG,
	    "es256 without ec key"), 0);
	free(tok);
	auth_keyset_free(ks);

	/* HS secret only, no kid: RS256 against the HS secret. */
	assert_int_equal(auth_keyset_load(&ks, NULL, hs_secret, HS_SECRET_LEN,
	    NULL, err, sizeof(err)), 0);
	tok = make_token(fx, SIGN_RS, "{\"alg\":\"RS256\"}", P_OK);
	assert_int_equal(expect_result(ks, &fx->pol, tok, AUTH_ERR_ALG,
	    "rs256 against hs secret"), 0);
	free(tok);
	tok = make_token(fx, SIGN_HS_PEM, "{\"alg\":\"HS256\"}", P_OK);
	assert_int_equal(expect_result(ks, &fx->pol, tok, AUTH_ERR_SIGNATURE,
	    "hs256 keyed with pem"), 0);
	free(tok);
	tok = make_token(fx, SIGN_HS, "{\"alg\":\"HS256\"}", P_OK);
	assert_int_equal(expect_result(ks, &fx->pol, tok, AUTH_OK,
	    "hs only, no kid"), 0);
	free(tok);
	tok = make_token(fx, SIGN_HS, "{\"alg\":\"HS256\",\"kid\":\"hs1\"}",
	    P_OK);
	assert_int_equal(expect_result(ks, &fx->pol, tok, AUTH_ERR_KID,
	    "hs only, key has no kid"), 0);
	free(tok);
	auth_keyset_free(ks);
}

/* --- keyset loading ------------------------------------------------------- */

struct load_case {
	const char	*name;
	const char	*jwks;		/* file content; "@..." see below */
	const char	*err;		/* expected message after "jwks PATH: " */
};

static const struct load_case load_cases[] = {
	{ "not json", "{", NULL },
	{ "no keys member", "{}", "expected an object with a \"keys\" array" },
	{ "keys not array", "{\"keys\":{}}",
	    "expected an object with a \"keys\" array" },
	{ "top-level array", "[]", "expected an object with a \"keys\" array" },
	{ "empty keys", "{\"keys\":[]}", "no signing keys" },
	{ "only enc keys", "{\"keys\":[{\"kty\":\"RSA\",\"use\":\"enc\"}]}",
	    "no signing keys" },
	{ "only an oct key", "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}",
	    "no signing keys (skipped: key 1: unsupported kty \"oct\")" },
	{ "key not object", "{\"keys\":[1]}", "key 1: not a json object" },
	{ "kty missing", "{\"keys\":[{\"kid\":\"a\"}]}",
	    "key 1: missing or non-string \"kty\"" },
	{ "OKP", "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
	    "\"x\":\"AAAA\"}]}",
	    "no signing keys (skipped: key 1: unsupported kty \"OKP\")" },
	{ "use not string", "{\"keys\":[{\"kty\":\"RSA\",\"use\":1}]}",
	    "key 1: \"use\" must be a string" },
	{ "rsa alg ES256", "{\"keys\":[@RSA1+\"alg\":\"ES256\"}]}",
	    "key 1: alg \"ES256\" does not agree with kty \"RSA\" "
	    "(expected RS256)" },
	{ "rsa alg RS512 only", "{\"keys\":[@RSA1+\"alg\":\"RS512\"}]}",
	    "no signing keys (skipped: key 1: unsupported alg \"RS512\")" },
	{ "rsa alg HS256", "{\"keys\":[@RSA1+\"alg\":\"HS256\"}]}",
	    "key 1: alg \"HS256\" does not agree with kty \"RSA\" "
	    "(expected RS256)" },
	{ "ec alg RS256", "{\"keys\":[@EC1+\"alg\":\"RS256\"}]}",
	    "key 1: alg \"RS256\" does not agree with kty \"EC\" "
	    "(expected ES256)" },
	{ "duplicate kid", "{\"keys\":[@RSA1,@RSA1]}",
	    "key 2: duplicate kid \"rsa1\"" },
	{ "empty kid", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"\","
	    "\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
	    "key 1: \"kid\" must be a non-empty string" },
	{ "private d", "{\"keys\":[@EC1+\"d\":\"AAAA\"}]}",
	    "key 1: contains private key material (\"d\"), publish public "
	    "keys only" },
	{ "rsa 1024", "{\"keys\":[@SMALL]}",
	    "key 1: rsa modulus of 1024 bits, at least 2048 required" },
	{ "rsa n missing", "{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\"}]}",
	    "key 1: missing or non-string \"n\"" },
	{ "rsa n padded", "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB==\","
	    "\"e\":\"AQAB\"}]}", "key 1: \"n\" is not base64url" },
	{ "ec P-384", "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-384\","
	    "\"x\":\"AAAA\",\"y\":\"AAAA\"}]}",
	    "no signing keys (skipped: key 1: unsupported crv \"P-384\" "
	    "(only P-256))" },
	{ "ec crv missing", "{\"keys\":[{\"kty\":\"EC\","
	    "\"x\":\"AAAA\",\"y\":\"AAAA\"}]}",
	    "key 1: missing or non-string \"crv\"" },
	{ "ec short x", "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
	    "\"x\":\"AAAA\",\"y\":\"AAAA\"}]}", "key 1: \"x\" must be 32 bytes" },
	{ "ec point off curve", "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
	    "\"x\":\"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
	    "\"y\":\"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}",
	    "key 1: ec key is not a valid P-256 point" },
	{ "duplicate member", "{\"keys\":[@RSA1],\"keys\":[]}", NULL },
};

/*
 * Expand @RSA1 / @EC1 / @SMALL to the compact JWK text; "@RSA1+" leaves the
 * object open so that the case can add members.
 */
static char *
expand_jwks(const struct fixture *fx, const char *tmpl)
{
	struct { const char *tag; json_t *jwk; } tags[] = {
		{ "@RSA1", fx->jwk_rsa1 }, { "@EC1", fx->jwk_ec1 },
		{ "@SMALL", fx->jwk_rsa_small },
	};
	struct buf b = BUF_INIT;
	size_t i, n;
	char *s;

	while (*tmpl) {
		for (i = 0; i < 3; i++) {
			n = strlen(tags[i].tag);
			if (strncmp(tmpl, tags[i].tag, n) == 0)
				break;
		}
		if (i == 3) {
			buf_appendc(&b, *tmpl++);
			continue;
		}
		tmpl += n;
		assert_non_null(s = json_dumps(tags[i].jwk, JSON_COMPACT));
		if (*tmpl == '+') {
			/* Drop "}" and add ",": members follow. */
			buf_append(&b, s, strlen(s) - 1);
			buf_appendc(&b, ',');
			tmpl++;
		} else
			buf_appends(&b, s);
		free(s);
	}
	return buf_detach(&b, NULL);
}

/*
 * Issue 20, M3: an identity provider that publishes a key of a kind we do
 * not use (Ed25519, P-384, PS256) next to our RS256 key: the set loads, the
 * RS256 key verifies, and the skipped keys are listed for the log.
 */
static void
test_keyset_skips_unsupported(void **state)
{
	struct fixture *fx = *state;
	struct auth_keyset *ks = NULL;
	char path[128], err[256], *tok, *text;
	const char *skipped;
	size_t n = 99;

	snprintf(path, sizeof(path), "%s/mixed.json", fx->dir);
	text = expand_jwks(fx, "{\"keys\":["
	    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed\","
	    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"},"
	    "{\"kty\":\"EC\",\"crv\":\"P-384\",\"kid\":\"p384\","
	    "\"x\":\"AAAA\",\"y\":\"AAAA\"},"
	    "@RSA1,"
	    "{\"kty\":\"RSA\",\"kid\":\"ps\",\"alg\":\"PS256\","
	    "\"n\":\"AQAB\",\"e\":\"AQAB\"}]}");
	write_file(path, text);
	free(text);
	err[0] = '\0';
	assert_int_equal(auth_keyset_load(&ks, path, NULL, 0, NULL, err,
	    sizeof(err)), 0);
	assert_string_equal(err, "");
	skipped = auth_keyset_skipped(ks, &n);
	assert_int_equal(n, 3);
	assert_non_null(skipped);
	assert_string_equal(skipped, "key 1: unsupported kty \"OKP\"; key 2: "
	    "unsupported crv \"P-384\" (only P-256); key 4: unsupported alg "
	    "\"PS256\"");
	tok = make_token(fx, SIGN_RS, "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}",
	    P_OK);
	assert_int_equal(expect_result(ks, &fx->pol, tok, AUTH_OK,
	    "rs256 key next to unsupported ones"), 0);
	free(tok);
	tok = make_token(fx, SIGN_RS, "{\"alg\":\"RS256\",\"kid\":\"ps\"}",
	    P_OK);
	assert_int_equal(expect_result(ks, &fx->pol, tok, AUTH_ERR_KID,
	    "the skipped key's kid selects nothing"), 0);
	free(tok);
	auth_keyset_free(ks);
	/* a set with nothing skipped says so */
	assert_int_equal(auth_keyset_load(&ks, fx->jwks, NULL, 0, NULL, err,
	    sizeof(err)), 0);
	assert_null(auth_keyset_skipped(ks, &n));
	assert_int_equal(n, 0);
	auth_keyset_free(ks);
}

static void
test_keyset_load(void **state)
{
	struct fixture *fx = *state;
	const struct load_case *tc;
	struct auth_keyset *ks;
	char path[128], err[512], want[512], *text;
	size_t i, failed = 0;

	snprintf(path, sizeof(path), "%s/other.json", fx->dir);
	for (i = 0; i < sizeof(load_cases) / sizeof(load_cases[0]); i++) {
		tc = &load_cases[i];
		text = expand_jwks(fx, tc->jwks);
		write_file(path, text);
		free(text);
		ks = (struct auth_keyset *)1;
		err[0] = '\0';
		if (auth_keyset_load(&ks, path, NULL, 0, NULL, err,
		    sizeof(err)) != -1 || ks != NULL) {
			print_error("%s: loaded\n", tc->name);
			auth_keyset_free(ks);
			failed++;
			continue;
		}
		snprintf(want, sizeof(want), "jwks %s: %s", path,
		    tc->err ? tc->err : "");
		if ((tc->err && strcmp(err, want) != 0) ||
		    strncmp(err, want, strlen(path) + 7) != 0) {
			print_error("%s: got '%s', want '%s'\n", tc->name, err,
			    want);
			failed++;
		}
	}
	if (failed)
		fail_msg("%zu load cases failed", failed);

	/* Missing file: the message names it. */
	snprintf(path, sizeof(path), "%s/missing.json", fx->dir);
	assert_int_equal(auth_keyset_load(&ks, path, NULL, 0, NULL, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, path));

	/* HS secret rules. */
	assert_int_equal(auth_keyset_load(&ks, NULL, NULL, 0, NULL, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "no verification keys: configure a jwks file "
	    "or an hs256 secret");
	assert_int_equal(auth_keyset_load(&ks, NULL, hs_secret, 31, NULL, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "hs256 secret: 31 bytes, use at least 32 "
	    "random bytes");
	assert_null(strstr(err, (const char *)hs_secret));
	assert_int_equal(auth_keyset_load(&ks, NULL, hs_secret, 32, "", err,
	    sizeof(err)), -1);
	assert_int_equal(auth_keyset_load(&ks, fx->jwks, hs_secret, 32, "ec1",
	    err, sizeof(err)), -1);
	assert_string_equal(err, "hs256 secret: kid \"ec1\" is also a jwks "
	    "key's kid");
	assert_int_equal(auth_keyset_load(&ks, NULL, hs_secret, 32, NULL, NULL,
	    0), 0);
	auth_keyset_free(ks);
	auth_keyset_free(NULL);
	/* Tiny error buffers truncate, never overflow. */
	assert_int_equal(auth_keyset_load(&ks, NULL, NULL, 0, NULL, err, 4),
	    -1);
	assert_string_equal(err, "no ");
}

/* --- reasons, error codes ------------------------------------------------- */

static void
test_reasons(void **state)
{
	int r, q;
	const char *s;

	(void)state;
	for (r = AUTH_OK; r <= AUTH_ERR_TYP; r++) {
		s = auth_result_reason((enum auth_result)r);
		assert_non_null(s);
		assert_true(strlen(s) > 0);
		for (const char *c = s; *c; c++)
			assert_false(*c >= 'A' && *c <= 'Z');
		assert_int_not_equal(s[strlen(s) - 1], '.');
		for (q = AUTH_OK; q < r; q++)
			assert_string_not_equal(s,
			    auth_result_reason((enum auth_result)q));
		assert_string_equal(auth_result_error_code((enum auth_result)r),
		    r == AUTH_ERR_EXPIRED ? "AUTH_TOKEN_EXPIRED" :
		    "AUTH_INVALID_TOKEN");
	}
	assert_string_equal(auth_result_reason(AUTH_ERR_EXPIRED),
	    "token expired");
	assert_non_null(auth_result_reason((enum auth_result)99));
}

/* --- the development signer ---------------------------------------------- */

static void
test_sign_hs256(void **state)
{
	struct fixture *fx = *state;
	const char *roles[] = { "SUPER_ADMIN", "AUDITOR" };
	struct auth_principal p;
	char *tok;

	tok = auth_sign_hs256(hs_secret, HS_SECRET_LEN, "hs1", ISSUER,
	    AUDIENCE, "dev", "t9", roles, 2, NOW, 600);
	assert_non_null(tok);
	assert_int_equal(auth_verify(fx->ks, &fx->pol, tok, NOW, &p), AUTH_OK);
	assert_string_equal(p.sub, "dev");
	assert_string_equal(p.tenant_id, "t9");
	assert_int_equal(p.nroles, 2);
	assert_string_equal(p.roles[1], "AUDITOR");
	assert_int_equal(p.iat, NOW);
	assert_int_equal(p.exp, NOW + 600);
	auth_principal_free(&p);
	/* Expired once ttl + leeway has passed. */
	assert_int_equal(auth_verify(fx->ks, &fx->pol, tok,
	    NOW + 600 + LEEWAY - 1, &p), AUTH_OK);
	auth_principal_free(&p);
	assert_int_equal(auth_verify(fx->ks, &fx->pol, tok,
	    NOW + 600 + LEEWAY, &p), AUTH_ERR_EXPIRED);
	free(tok);

	/* No kid, no tenant, no iss/aud. */
	tok = auth_sign_hs256(hs_secret, HS_SECRET_LEN, NULL, NULL, NULL,
	    "ops", NULL, NULL, 0, NOW, 60);
	assert_non_null(tok);
	assert_int_equal(expect_result(fx->ks, &fx->pol, tok,
	    AUTH_ERR_ISSUER, "no iss"), 0);
	free(tok);

	/* Signed with another secret: signature error. */
	tok = auth_sign_hs256((const unsigned char *)
	    "another-secret-another-secret-another", 37, "hs1", ISSUER,
	    AUDIENCE, "dev", NULL, roles, 1, NOW, 600);
	assert_int_equal(expect_result(fx->ks, &fx->pol, tok,
	    AUTH_ERR_SIGNATURE, "other secret"), 0);
	free(tok);

	/* Bad arguments. */
	assert_null(auth_sign_hs256(hs_secret, 31, NULL, NULL, NULL, "a",
	    NULL, NULL, 0, NOW, 60));
	assert_null(auth_sign_hs256(NULL, 32, NULL, NULL, NULL, "a", NULL,
	    NULL, 0, NOW, 60));
	assert_null(auth_sign_hs256(hs_secret, 32, NULL, NULL, NULL, NULL,
	    NULL, NULL, 0, NOW, 60));
	assert_null(auth_sign_hs256(hs_secret, 32, NULL, NULL, NULL, "a",
	    NULL, NULL, 0, NOW, 0));
	assert_null(auth_sign_hs256(hs_secret, 32, NULL, NULL, NULL, "a",
	    NULL, NULL, 2, NOW, 60));
	assert_null(auth_sign_hs256(hs_secret, 32, NULL, NULL, NULL, "a",
	    NULL, NULL, 0, NOW, LONG_MAX));
	assert_null(auth_sign_hs256(hs_secret, 32, NULL, NULL, NULL,
	    "bad \xff utf-8", NULL, NULL, 0, NOW, 60));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verify_matrix),
		cmocka_unit_test(test_token_shape),
		cmocka_unit_test(test_noncanonical_base64),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_principal),
		cmocka_unit_test(test_policy_unchecked),
		cmocka_unit_test(test_policy_hardening),
		cmocka_unit_test(test_key_selection),
		cmocka_unit_test(test_keyset_load),
		cmocka_unit_test(test_keyset_skips_unsupported),
		cmocka_unit_test(test_reasons),
		cmocka_unit_test(test_sign_hs256),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
