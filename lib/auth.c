/*
 * auth: JWT verification (RFC 7519, RFC 7515 compact JWS) held to RFC 8725.
 *
 * The flow of auth_verify() is deliberately linear: size, format, header,
 * key selection, signature, and only then the claims. Nothing read from the
 * payload influences anything before the signature has been verified.
 */
#include "auth.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "buf.h"
#include "xalloc.h"
#include "xjson.h"
#include "xssl.h"

#define HS256_MIN_SECRET	32	/* RFC 7518 3.2: at least the hash size */
#define RSA_MIN_BITS		2048
#define P256_COORD_BYTES	32
#define SHA256_BYTES		32
#define JWK_MAX_INT_BYTES	2048	/* 16384-bit modulus, OpenSSL's limit */

/*
 * Numeric dates outside +-2^62 are refused, and leeway and now are clamped
 * to that range too, so that the additions below cannot overflow.
 */
#define NUMDATE_LIMIT		((long long)1 << 62)
#define LEEWAY_LIMIT		((long long)1 << 31)

enum auth_alg {
	ALG_HS256,
	ALG_RS256,
	ALG_ES256,
	ALG_COUNT
};

static const char *const alg_names[ALG_COUNT] = { "HS256", "RS256", "ES256" };

struct auth_key {
	char		*kid;		/* NULL when the key has none */
	enum auth_alg	 alg;		/* the one algorithm this key verifies */
	EVP_PKEY	*pkey;		/* RS256, ES256 */
	EVP_MAC_CTX	*hmac;		/* HS256: keyed once, duplicated per
					 * verification (read-only, so shared
					 * by the worker threads) */
};

struct auth_keyset {
	struct auth_key	*keys;
	size_t		 nkeys;
	char		*skipped;	/* "key 2: ...; key 3: ..." or NULL */
	size_t		 nskipped;
};

/* The three decoded parts of a compact JWS. */
struct jws {
	size_t		 signing_len;	/* bytes of "header.payload" */
	unsigned char	*header;
	size_t		 header_len;
	unsigned char	*payload;
	size_t		 payload_len;
	unsigned char	*sig;
	size_t		 sig_len;
};

/* --- small helpers ------------------------------------------------------- */

static void
set_err(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_err(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errsz == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

/* --- base64url (RFC 4648 section 5, no padding) -------------------------- */

static int
b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * Strict decode: only the url-safe alphabet, no padding or whitespace, no
 * impossible length (len % 4 == 1), and the unused low bits of the last
 * character must be zero, so every byte string has exactly one encoding.
 * On success *out is malloc'd with a NUL after the *outlen bytes.
 */
static int
b64url_decode(const char *s, size_t len, unsigned char **out, size_t *outlen)
{
	unsigned char *p;
	unsigned int acc = 0, bits = 0;
	size_t i, o = 0, n;
	int v;

	if (len % 4 == 1)
		return -1;
	n = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
	p = xcalloc(n + 1, 1);
	for (i = 0; i < len; i++) {
		if ((v = b64url_value((unsigned char)s[i])) < 0)
			goto bad;
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			p[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)		/* non-canonical trailing bits */
		goto bad;
	*out = p;
	*outlen = o;
	return 0;
bad:
	free(p);
	return -1;
}

static void
b64url_encode(struct buf *b, const unsigned char *in, size_t len)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned int acc = 0, bits = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			buf_appendc(b, alphabet[(acc >> bits) & 63]);
		}
		acc &= (1u << bits) - 1;
	}
	if (bits > 0)
		buf_appendc(b, alphabet[(acc << (6 - bits)) & 63]);
}

/* --- keyset -------------------------------------------------------------- */

static struct auth_key *
keyset_add(struct auth_keyset *ks)
{
	struct auth_key *k;

	k = xreallocarray(ks->keys, ks->nkeys + 1, sizeof(*ks->keys));
	ks->keys = k;
	k = &ks->keys[ks->nkeys++];
	memset(k, 0, sizeof(*k));
	return k;
}

static const struct auth_key *
keyset_find_kid(const struct auth_keyset *ks, const char *kid)
{
	size_t i;

	for (i = 0; i < ks->nkeys; i++)
		if (ks->keys[i].kid != NULL && strcmp(ks->keys[i].kid, kid) == 0)
			return &ks->keys[i];
	return NULL;
}

void
auth_keyset_free(struct auth_keyset *ks)
{
	size_t i;

	if (ks == NULL)
		return;
	for (i = 0; i < ks->nkeys; i++) {
		free(ks->keys[i].kid);
		EVP_PKEY_free(ks->keys[i].pkey);
		EVP_MAC_CTX_free(ks->keys[i].hmac);	/* cleanses the key */
	}
	free(ks->keys);
	free(ks->skipped);
	free(ks);
}

const char *
auth_keyset_skipped(const struct auth_keyset *ks, size_t *n)
{
	if (n != NULL)
		*n = ks ? ks->nskipped : 0;
	return ks ? ks->skipped : NULL;
}

/* Decode JWK member name (a base64url string) into a BIGNUM. */
static BIGNUM *
jwk_bn(json_t *jwk, const char *name, char *msg, size_t msgsz)
{
	const char *s;
	unsigned char *raw;
	size_t len;
	BIGNUM *bn;

	if ((s = json_string_value(json_object_get(jwk, name))) == NULL) {
		set_err(msg, msgsz, "missing or non-string \"%s\"", name);
		return NULL;
	}
	if (*s == '\0' || b64url_decode(s, strlen(s), &raw, &len) == -1) {
		set_err(msg, msgsz, "\"%s\" is not base64url", name);
		return NULL;
	}
	if (len > JWK_MAX_INT_BYTES) {
		free(raw);
		set_err(msg, msgsz, "\"%s\" is too long", name);
		return NULL;
	}
	bn = xnonnull(BN_bin2bn(raw, (int)len, NULL));
	free(raw);
	return bn;
}

/* Build a public EVP_PKEY of type ("RSA", "EC") from provider parameters. */
static EVP_PKEY *
pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params;
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *pk = NULL;

	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		return NULL;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pk = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pk;
}

/* OpenSSL's own sanity check of a public key (point on curve, odd e...). */
static bool
pkey_public_ok(EVP_PKEY *pk)
{
	EVP_PKEY_CTX *ctx;
	bool ok;

	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	ok = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static EVP_PKEY *
jwk_rsa(json_t *jwk, char *msg, size_t msgsz)
{
	OSSL_PARAM_BLD *bld = NULL;
	BIGNUM *n = NULL, *e = NULL;
	EVP_PKEY *pk = NULL;
	int bits;

	if ((n = jwk_bn(jwk, "n", msg, msgsz)) == NULL ||
	    (e = jwk_bn(jwk, "e", msg, msgsz)) == NULL)
		goto out;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
	    (pk = pkey_fromdata("RSA", bld)) == NULL) {
		char sslerr[256];

		set_err(msg, msgsz, "cannot build the rsa key: %s",
		    ssl_error_text(sslerr, sizeof(sslerr)));
		goto out;
	}
	if ((bits = EVP_PKEY_get_bits(pk)) < RSA_MIN_BITS) {
		set_err(msg, msgsz, "rsa modulus of %d bits, at least %d "
		    "required", bits, RSA_MIN_BITS);
		EVP_PKEY_free(pk);
		pk = NULL;
		goto out;
	}
	if (!pkey_public_ok(pk)) {
		set_err(msg, msgsz, "rsa public key fails validation");
		EVP_PKEY_free(pk);
		pk = NULL;
	}
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return pk;
}

/* Decode a P-256 coordinate: exactly 32 bytes (RFC 7518 6.2.1.2). */
static int
jwk_coord(json_t *jwk, const char *name, unsigned char *dst, char *msg,
    size_t msgsz)
{
	const char *s;
	unsigned char *raw;
	size_t len;

	if ((s = json_string_value(json_object_get(jwk, name))) == NULL) {
		set_err(msg, msgsz, "missing or non-string \"%s\"", name);
		return -1;
	}
	if (b64url_decode(s, strlen(s), &raw, &len) == -1) {
		set_err(msg, msgsz, "\"%s\" is not base64url", name);
		return -1;
	}
	if (len != P256_COORD_BYTES) {
		free(raw);
		set_err(msg, msgsz, "\"%s\" must be %d bytes", name,
		    P256_COORD_BYTES);
		return -1;
	}
	memcpy(dst, raw, len);
	free(raw);
	return 0;
}

static EVP_PKEY *
jwk_ec(json_t *jwk, char *msg, size_t msgsz)
{
	unsigned char pub[1 + 2 * P256_COORD_BYTES];
	OSSL_PARAM_BLD *bld;
	const char *crv;
	EVP_PKEY *pk = NULL;

	crv = json_string_value(json_object_get(jwk, "crv"));
	if (crv == NULL) {
		set_err(msg, msgsz, "missing or non-string \"crv\"");
		return NULL;
	}
	pub[0] = 0x04;		/* uncompressed point: 04 || x || y */
	if (jwk_coord(jwk, "x", pub + 1, msg, msgsz) == -1 ||
	    jwk_coord(jwk, "y", pub + 1 + P256_COORD_BYTES, msg, msgsz) == -1)
		return NULL;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    "P-256", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
	    pub, sizeof(pub)) ||
	    (pk = pkey_fromdata("EC", bld)) == NULL || !pkey_public_ok(pk)) {
		set_err(msg, msgsz, "ec key is not a valid P-256 point");
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	OSSL_PARAM_BLD_free(bld);
	return pk;
}

/*
 * Add one JWK to ks. Returns 0 when added, 1 when skipped silently (not a
 * signing key), 2 when skipped as a key of a kind the product does not use
 * (why in msg), -1 with a message in msg.
 */
static int
jwk_load(struct auth_keyset *ks, json_t *jwk, char *msg, size_t msgsz)
{
	json_t *use, *jkid, *jalg;
	const char *kty, *kid = NULL, *alg = NULL;
	enum auth_alg want;
	struct auth_key *k;
	EVP_PKEY *pk;

	if (!json_is_object(jwk)) {
		set_err(msg, msgsz, "not a json object");
		return -1;
	}
	if ((kty = json_string_value(json_object_get(jwk, "kty"))) == NULL) {
		set_err(msg, msgsz, "missing or non-string \"kty\"");
		return -1;
	}
	if ((use = json_object_get(jwk, "use")) != NULL) {
		if (!json_is_string(use)) {
			set_err(msg, msgsz, "\"use\" must be a string");
			return -1;
		}
		if (strcmp(json_string_value(use), "sig") != 0)
			return 1;
	}
	if (strcmp(kty, "RSA") == 0)
		want = ALG_RS256;
	else if (strcmp(kty, "EC") == 0)
		want = ALG_ES256;
	else {
		set_err(msg, msgsz, "unsupported kty \"%.32s\"", kty);
		return 2;
	}
	if (want == ALG_ES256 && json_is_string(json_object_get(jwk, "crv")) &&
	    strcmp(json_string_value(json_object_get(jwk, "crv")),
	    "P-256") != 0) {
		set_err(msg, msgsz, "unsupported crv \"%.32s\" (only P-256)",
		    json_string_value(json_object_get(jwk, "crv")));
		return 2;
	}
	/* an algorithm we do not implement (PS256, RS512, EdDSA...) */
	if ((jalg = json_object_get(jwk, "alg")) != NULL &&
	    (alg = json_string_value(jalg)) != NULL &&
	    strcmp(alg, alg_names[ALG_HS256]) != 0 &&
	    strcmp(alg, alg_names[ALG_RS256]) != 0 &&
	    strcmp(alg, alg_names[ALG_ES256]) != 0) {
		set_err(msg, msgsz, "unsupported alg \"%.32s\"", alg);
		return 2;
	}
	if (jalg != NULL && (alg == NULL ||
	    strcmp(alg, alg_names[want]) != 0)) {
		set_err(msg, msgsz, "alg \"%.32s\" does not agree with kty "
		    "\"%s\" (expected %s)", alg ? alg : "", kty,
		    alg_names[want]);
		return -1;
	}
	if ((jkid = json_object_get(jwk, "kid")) != NULL) {
		if ((kid = json_string_value(jkid)) == NULL || *kid == '\0') {
			set_err(msg, msgsz, "\"kid\" must be a non-empty "
			    "string");
			return -1;
		}
		if (keyset_find_kid(ks, kid) != NULL) {
			set_err(msg, msgsz, "duplicate kid \"%.64s\"", kid);
			return -1;
		}
	}
	/* A public JWKS with private parts is a leak, not a config to use. */
	if (json_object_get(jwk, "d") != NULL) {
		set_err(msg, msgsz, "contains private key material (\"d\"), "
		    "publish public keys only");
		return -1;
	}
	pk = want == ALG_RS256 ? jwk_rsa(jwk, msg, msgsz) :
	    jwk_ec(jwk, msg, msgsz);
	if (pk == NULL)
		return -1;
	k = keyset_add(ks);
	k->alg = want;
	k->pkey = pk;
	k->kid = kid ? xstrdup(kid) : NULL;
	return 0;
}

/* path names the source in messages; text (len bytes) when not NULL, else the file path */
static int
jwks_load(struct auth_keyset *ks, const char *path, const char *text,
    size_t len, char *err, size_t errsz)
{
	json_error_t je;
	json_t *root, *keys, *jwk;
	char msg[256];
	size_t i, added = 0;
	int r, rc = -1;

	root = text ? json_loadb(text, len, JSON_REJECT_DUPLICATES, &je) :
	    json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		set_err(err, errsz, "jwks %s: %s (line %d)", path, je.text,
		    je.line);
		return -1;
	}
	keys = json_object_get(root, "keys");
	if (!json_is_object(root) || !json_is_array(keys)) {
		set_err(err, errsz, "jwks %s: expected an object with a "
		    "\"keys\" array", path);
		goto out;
	}
	json_array_foreach(keys, i, jwk) {
		if ((r = jwk_load(ks, jwk, msg, sizeof(msg))) == -1) {
			set_err(err, errsz, "jwks %s: key %zu: %s", path,
			    i + 1, msg);
			goto out;
		}
		if (r == 0)
			added++;
		else if (r == 2) {
			struct buf b = BUF_INIT;

			if (ks->skipped != NULL)
				buf_appendf(&b, "%s; ", ks->skipped);
			buf_appendf(&b, "key %zu: %s", i + 1, msg);
			free(ks->skipped);
			ks->skipped = buf_detach(&b, NULL);
			ks->nskipped++;
		}
	}
	if (added == 0) {
		set_err(err, errsz, "jwks %s: no signing keys%s%s%s", path,
		    ks->skipped ? " (skipped: " : "",
		    ks->skipped ? ks->skipped : "", ks->skipped ? ")" : "");
		goto out;
	}
	rc = 0;
out:
	json_decref(root);
	ERR_clear_error();
	return rc;
}

static int
hs_secret_add(struct auth_keyset *ks, const unsigned char *secret,
    size_t len, const char *kid, char *err, size_t errsz)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
		    (char *)"SHA256", 0),
		OSSL_PARAM_construct_end()
	};
	struct auth_key *k;
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx = NULL;

	if (len < HS256_MIN_SECRET || len > INT_MAX) {
		set_err(err, errsz, "hs256 secret: %zu bytes, use at least %d "
		    "random bytes", len, HS256_MIN_SECRET);
		return -1;
	}
	if (kid != NULL && *kid == '\0') {
		set_err(err, errsz, "hs256 secret: empty kid, give a kid or "
		    "none");
		return -1;
	}
	if (kid != NULL && keyset_find_kid(ks, kid) != NULL) {
		set_err(err, errsz, "hs256 secret: kid \"%.64s\" is also a "
		    "jwks key's kid", kid);
		return -1;
	}
	/*
	 * HMAC() fetches the algorithm and hashes the key padding on every
	 * call; a context keyed here once is duplicated per verification.
	 */
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) != NULL)
		ctx = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	if (ctx == NULL || EVP_MAC_init(ctx, secret, len, params) != 1) {
		EVP_MAC_CTX_free(ctx);
		ERR_clear_error();
		set_err(err, errsz, "hs256 secret: openssl cannot key hmac-sha256");
		return -1;
	}
	k = keyset_add(ks);
	k->alg = ALG_HS256;
	k->kid = kid ? xstrdup(kid) : NULL;
	k->hmac = ctx;
	return 0;
}

int
auth_keyset_load(struct auth_keyset **out, const char *jwks_path,
    const unsigned char *hs_secret, size_t hs_secret_len, const char *hs_kid,
    char *err, size_t errsz)
{
	return auth_keyset_load_text(out, jwks_path, NULL, 0, hs_secret,
	    hs_secret_len, hs_kid, err, errsz);
}

int
auth_keyset_load_text(struct auth_keyset **out, const char *jwks_path,
    const char *jwks_text, size_t jwks_len, const unsigned char *hs_secret,
    size_t hs_secret_len, const char *hs_kid, char *err, size_t errsz)
{
	struct auth_keyset *ks;

	set_err(err, errsz, "%s", "");
	if (out == NULL)
		return -1;
	*out = NULL;
	if (jwks_path == NULL && hs_secret == NULL) {
		set_err(err, errsz, "no verification keys: configure a jwks "
		    "file or an hs256 secret");
		return -1;
	}
	ks = xcalloc(1, sizeof(*ks));
	if ((jwks_path != NULL && jwks_load(ks, jwks_path, jwks_text, jwks_len,
	    err, errsz) == -1) ||
	    (hs_secret != NULL && hs_secret_add(ks, hs_secret, hs_secret_len,
	    hs_kid, err, errsz) == -1)) {
		auth_keyset_free(ks);
		return -1;
	}
	*out = ks;
	return 0;
}

/* --- verification -------------------------------------------------------- */

static void
jws_free(struct jws *j)
{
	free(j->header);
	free(j->payload);
	free(j->sig);
	memset(j, 0, sizeof(*j));
}

/* Split "h.p.s" (exactly three non-empty segments) and decode each. */
static enum auth_result
jws_split(const char *tok, size_t len, struct jws *j)
{
	const char *d1, *d2;
	size_t hl, pl, sl;

	memset(j, 0, sizeof(*j));
	if ((d1 = memchr(tok, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok))) == NULL ||
	    memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)) != NULL)
		return AUTH_ERR_MALFORMED;
	hl = (size_t)(d1 - tok);
	pl = (size_t)(d2 - d1 - 1);
	sl = len - (size_t)(d2 + 1 - tok);
	if (hl == 0 || pl == 0 || sl == 0)
		return AUTH_ERR_MALFORMED;
	if (b64url_decode(tok, hl, &j->header, &j->header_len) == -1 ||
	    b64url_decode(d1 + 1, pl, &j->payload, &j->payload_len) == -1 ||
	    b64url_decode(d2 + 1, sl, &j->sig, &j->sig_len) == -1) {
		jws_free(j);
		return AUTH_ERR_MALFORMED;
	}
	j->signing_len = (size_t)(d2 - tok);
	return AUTH_OK;
}

/* RFC 7515 4.1.9: the "application/" prefix may be left out. */
static const char *
typ_base(const char *typ)
{
	return strncasecmp(typ, "application/", 12) == 0 ? typ + 12 : typ;
}

static bool
typ_ok(const char *typ)
{
	typ = typ_base(typ);
	return strcasecmp(typ, "JWT") == 0 || strcasecmp(typ, "at+jwt") == 0;
}

/*
 * Parse the header: *alg and *kid (NULL when absent) are set; the strings
 * live in *hdr, which the caller json_decref()s in every case.
 */
static enum auth_result
header_parse(const struct jws *j, const char *want_typ, json_t **hdr,
    enum auth_alg *alg, const char **kid)
{
	json_t *v;
	const char *name;
	int i;

	*kid = NULL;
	*hdr = json_loadb((const char *)j->header, j->header_len,
	    JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(*hdr))
		return AUTH_ERR_MALFORMED;
	if ((name = json_string_value(json_object_get(*hdr, "alg"))) == NULL)
		return AUTH_ERR_MALFORMED;
	if (strcasecmp(name, "none") == 0)
		return AUTH_ERR_ALG;	/* unsecured JWS, never accepted */
	if (json_object_get(*hdr, "crit") != NULL)
		return AUTH_ERR_MALFORMED;	/* we understand no extension */
	if ((v = json_object_get(*hdr, "typ")) != NULL &&
	    (!json_is_string(v) || !typ_ok(json_string_value(v))))
		return AUTH_ERR_MALFORMED;
	if (want_typ != NULL && (v == NULL ||
	    strcasecmp(typ_base(json_string_value(v)), typ_base(want_typ)) != 0))
		return AUTH_ERR_TYP;
	if ((v = json_object_get(*hdr, "kid")) != NULL &&
	    (*kid = json_string_value(v)) == NULL)
		return AUTH_ERR_MALFORMED;
	for (i = 0; i < ALG_COUNT; i++) {
		if (strcmp(name, alg_names[i]) == 0) {
			*alg = (enum auth_alg)i;
			return AUTH_OK;
		}
	}
	return AUTH_ERR_ALG;
}

static enum auth_result
key_select(const struct auth_keyset *ks, enum auth_alg alg, const char *kid,
    const struct auth_key **key)
{
	size_t i, n = 0;

	if (kid != NULL) {
		if ((*key = keyset_find_kid(ks, kid)) == NULL)
			return AUTH_ERR_KID;
		return (*key)->alg == alg ? AUTH_OK : AUTH_ERR_ALG;
	}
	for (i = 0; i < ks->nkeys; i++) {
		if (ks->keys[i].alg == alg) {
			*key = &ks->keys[i];
			n++;
		}
	}
	if (n == 0)
		return AUTH_ERR_ALG;	/* no key accepts this algorithm */
	return n == 1 ? AUTH_OK : AUTH_ERR_KID;
}

static bool
verify_hs256(const struct auth_key *k, const unsigned char *data, size_t len,
    const unsigned char *sig, size_t siglen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t maclen = 0;
	EVP_MAC_CTX *ctx;
	bool ok;

	if (siglen != SHA256_BYTES)
		return false;
	if ((ctx = EVP_MAC_CTX_dup(k->hmac)) == NULL)
		return false;
	ok = EVP_MAC_update(ctx, data, len) == 1 &&
	    EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)) == 1 &&
	    maclen == SHA256_BYTES;
	EVP_MAC_CTX_free(ctx);
	ok = ok && CRYPTO_memcmp(mac, sig, SHA256_BYTES) == 0;
	OPENSSL_cleanse(mac, sizeof(mac));
	return ok;
}

static bool
digest_verify(EVP_PKEY *pk, bool rsa, const unsigned char *data, size_t len,
    const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *md;
	EVP_PKEY_CTX *pctx = NULL;
	bool ok;

	if ((md = EVP_MD_CTX_new()) == NULL)
		return false;
	ok = EVP_DigestVerifyInit_ex(md, &pctx, "SHA256", NULL, NULL, pk,
	    NULL) == 1 &&
	    (!rsa || EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0) &&
	    EVP_DigestVerify(md, sig, siglen, data, len) == 1;
	EVP_MD_CTX_free(md);
	return ok;
}

/* JWS ES256 signatures are raw r || s; OpenSSL wants DER ECDSA-Sig-Value. */
static bool
verify_es256(const struct auth_key *k, const unsigned char *data, size_t len,
    const unsigned char *sig, size_t siglen)
{
	ECDSA_SIG *es;
	BIGNUM *r, *s;
	unsigned char *der = NULL;
	int derlen;
	bool ok;

	if (siglen != 2 * P256_COORD_BYTES)
		return false;
	if ((es = ECDSA_SIG_new()) == NULL)
		return false;
	r = BN_bin2bn(sig, P256_COORD_BYTES, NULL);
	s = BN_bin2bn(sig + P256_COORD_BYTES, P256_COORD_BYTES, NULL);
	if (r == NULL || s == NULL || !ECDSA_SIG_set0(es, r, s)) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return false;
	}
	derlen = i2d_ECDSA_SIG(es, &der);
	ECDSA_SIG_free(es);
	if (derlen <= 0)
		return false;
	ok = digest_verify(k->pkey, false, data, len, der, (size_t)derlen);
	OPENSSL_free(der);
	return ok;
}

static enum auth_result
signature_verify(const struct auth_key *k, const char *token,
    const struct jws *j)
{
	const unsigned char *data = (const unsigned char *)token;
	bool ok = false;

	switch (k->alg) {
	case ALG_HS256:
		ok = verify_hs256(k, data, j->signing_len, j->sig, j->sig_len);
		break;
	case ALG_RS256:
		ok = j->sig_len == (size_t)EVP_PKEY_get_size(k->pkey) &&
		    digest_verify(k->pkey, true, data, j->signing_len, j->sig,
		    j->sig_len);
		break;
	case ALG_ES256:
		ok = verify_es256(k, data, j->signing_len, j->sig, j->sig_len);
		break;
	case ALG_COUNT:
		break;
	}
	/* A failed verification leaves errors queued; do not leak them. */
	ERR_clear_error();
	return ok ? AUTH_OK : AUTH_ERR_SIGNATURE;
}

/*
 * Read a NumericDate claim. Returns 1 when present (value in *out), 0 when
 * absent, -1 when not a number or out of range. Fractions are rounded
 * towards rejection: down for exp, up for nbf and iat.
 */
static int
numeric_date(json_t *claims, const char *name, bool round_up, long long *out)
{
	json_t *v;
	double d;

	if ((v = json_object_get(claims, name)) == NULL)
		return 0;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		if (*out < -NUMDATE_LIMIT || *out > NUMDATE_LIMIT)
			return -1;
		return 1;
	}
	if (!json_is_real(v))
		return -1;
	d = json_real_value(v);
	d = round_up ? ceil(d) : floor(d);
	if (!(d >= (double)-NUMDATE_LIMIT && d <= (double)NUMDATE_LIMIT))
		return -1;
	*out = (long long)d;
	return 1;
}

static long long
clamp(long long v, long long lo, long long hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static enum auth_result
check_times(json_t *claims, const struct auth_policy *pol, time_t now,
    struct auth_principal *p)
{
	long long t, leeway;
	int r;

	t = clamp((long long)now, -NUMDATE_LIMIT, NUMDATE_LIMIT);
	leeway = clamp(pol->leeway_seconds, 0, LEEWAY_LIMIT);
	if (numeric_date(claims, "exp", false, &p->exp) != 1)
		return AUTH_ERR_CLAIMS;		/* exp is required */
	if (p->exp + leeway <= t)
		return AUTH_ERR_EXPIRED;
	if ((r = numeric_date(claims, "nbf", true, &p->nbf)) == -1)
		return AUTH_ERR_CLAIMS;
	if (r == 1 && p->nbf - leeway > t)
		return AUTH_ERR_NOT_YET_VALID;
	if ((r = numeric_date(claims, "iat", true, &p->iat)) == -1)
		return AUTH_ERR_CLAIMS;
	if (r == 1 && p->iat - leeway > t)
		return AUTH_ERR_ISSUED_IN_FUTURE;
	/* exp - start > max, written so that it cannot overflow */
	if (pol->max_lifetime_seconds > 0 && p->exp - clamp(
	    pol->max_lifetime_seconds, 0, NUMDATE_LIMIT) > (r == 1 ? p->iat : t))
		return AUTH_ERR_LIFETIME;
	return AUTH_OK;
}

/* aud is a string or an array of strings (RFC 7519 4.1.3). */
static enum auth_result
check_audience(json_t *claims, const char *want)
{
	json_t *aud, *v;
	const char *s;
	size_t i;
	bool found = false;

	if ((aud = json_object_get(claims, "aud")) == NULL)
		return want ? AUTH_ERR_AUDIENCE : AUTH_OK;
	if (json_is_string(aud))
		found = want && strcmp(json_string_value(aud), want) == 0;
	else if (json_is_array(aud)) {
		json_array_foreach(aud, i, v) {
			if ((s = json_string_value(v)) == NULL)
				return AUTH_ERR_CLAIMS;
			if (want && strcmp(s, want) == 0)
				found = true;
		}
	} else
		return AUTH_ERR_CLAIMS;
	return want == NULL || found ? AUTH_OK : AUTH_ERR_AUDIENCE;
}

/* Whether s (len bytes) holds a C0 control character or DEL (NUL too). */
static bool
has_control(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

static enum auth_result
check_identity(json_t *claims, struct auth_principal *p)
{
	json_t *roles, *tenant, *v;
	const char *sub;
	size_t i;

	v = json_object_get(claims, "sub");
	sub = json_string_value(v);
	if (sub == NULL || *sub == '\0' ||
	    json_string_length(v) > AUTH_MAX_SUB ||
	    has_control(sub, json_string_length(v)))
		return AUTH_ERR_CLAIMS;
	/* tenant_id: absent or null for global roles, else non-empty. */
	tenant = json_object_get(claims, "tenant_id");
	if (tenant != NULL && !json_is_null(tenant) &&
	    (!json_is_string(tenant) || *json_string_value(tenant) == '\0' ||
	    has_control(json_string_value(tenant),
	    json_string_length(tenant))))
		return AUTH_ERR_CLAIMS;
	roles = json_object_get(claims, "roles");
	if (!json_is_array(roles))
		return AUTH_ERR_CLAIMS;
	json_array_foreach(roles, i, v)
		if (!json_is_string(v))
			return AUTH_ERR_CLAIMS;

	p->sub = xstrdup(sub);
	if (json_is_string(tenant))
		p->tenant_id = xstrdup(json_string_value(tenant));
	p->nroles = json_array_size(roles);
	p->roles = xcalloc(p->nroles, sizeof(*p->roles));
	json_array_foreach(roles, i, v)
		p->roles[i] = xstrdup(json_string_value(v));
	return AUTH_OK;
}

static enum auth_result
claims_check(const struct jws *j, const struct auth_policy *pol, time_t now,
    struct auth_principal *p)
{
	json_t *claims, *iss;
	enum auth_result r;

	claims = json_loadb((const char *)j->payload, j->payload_len,
	    JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(claims)) {
		r = AUTH_ERR_MALFORMED;
		goto out;
	}
	if ((r = check_times(claims, pol, now, p)) != AUTH_OK)
		goto out;
	iss = json_object_get(claims, "iss");
	if (pol->issuer != NULL && (!json_is_string(iss) ||
	    strcmp(json_string_value(iss), pol->issuer) != 0)) {
		r = AUTH_ERR_ISSUER;
		goto out;
	}
	if ((r = check_audience(claims, pol->audience)) != AUTH_OK)
		goto out;
	r = check_identity(claims, p);
out:
	json_decref(claims);
	return r;
}

enum auth_result
auth_verify(const struct auth_keyset *ks, const struct auth_policy *pol,
    const char *token, time_t now, struct auth_principal *out)
{
	const struct auth_key *key = NULL;
	enum auth_alg alg = ALG_COUNT;
	const char *kid;
	struct jws j;
	json_t *hdr = NULL;
	enum auth_result r;
	size_t max, len;

	if (out == NULL)
		return AUTH_ERR_MALFORMED;
	memset(out, 0, sizeof(*out));
	if (ks == NULL || pol == NULL || token == NULL)
		return AUTH_ERR_MALFORMED;
	max = pol->max_token_bytes ? pol->max_token_bytes :
	    AUTH_DEFAULT_MAX_TOKEN;
	if (max == SIZE_MAX)
		max--;
	if ((len = strnlen(token, max + 1)) > max)
		return AUTH_ERR_TOO_LARGE;
	if ((r = jws_split(token, len, &j)) != AUTH_OK)
		return r;
	if ((r = header_parse(&j, pol->typ, &hdr, &alg, &kid)) == AUTH_OK &&
	    (r = key_select(ks, alg, kid, &key)) == AUTH_OK &&
	    (r = signature_verify(key, token, &j)) == AUTH_OK)
		r = claims_check(&j, pol, now, out);
	json_decref(hdr);
	jws_free(&j);
	if (r != AUTH_OK)
		auth_principal_free(out);
	return r;
}

void
auth_principal_free(struct auth_principal *p)
{
	size_t i;

	if (p == NULL)
		return;
	free(p->sub);
	free(p->tenant_id);
	for (i = 0; i < p->nroles; i++)
		free(p->roles[i]);
	free(p->roles);
	memset(p, 0, sizeof(*p));
}

const char *
auth_result_reason(enum auth_result r)
{
	switch (r) {
	case AUTH_OK:
		return "ok";
	case AUTH_ERR_MALFORMED:
		return "malformed token";
	case AUTH_ERR_TOO_LARGE:
		return "token too large";
	case AUTH_ERR_ALG:
		return "token algorithm not accepted";
	case AUTH_ERR_KID:
		return "unknown token signing key";
	case AUTH_ERR_SIGNATURE:
		return "invalid token signature";
	case AUTH_ERR_EXPIRED:
		return "token expired";
	case AUTH_ERR_NOT_YET_VALID:
		return "token not yet valid";
	case AUTH_ERR_ISSUED_IN_FUTURE:
		return "token issued in the future";
	case AUTH_ERR_ISSUER:
		return "token issuer not accepted";
	case AUTH_ERR_AUDIENCE:
		return "token audience not accepted";
	case AUTH_ERR_CLAIMS:
		return "token claims invalid";
	case AUTH_ERR_LIFETIME:
		return "token lifetime too long";
	case AUTH_ERR_TYP:
		return "token type not accepted";
	case AUTH_ERR_UNAVAILABLE:
		return "the token verification keys are unavailable (the "
		    "identity provider's JWKS cannot be fetched); retry later";
	}
	return "invalid token";
}

const char *
auth_result_error_code(enum auth_result r)
{
	return r == AUTH_ERR_EXPIRED ? "AUTH_TOKEN_EXPIRED" :
	    r == AUTH_ERR_UNAVAILABLE ? "SERVICE_UNAVAILABLE" :
	    "AUTH_INVALID_TOKEN";
}

/* --- signing (development tokens) ---------------------------------------- */

/* Set key to a new JSON string; -1 when s is not valid UTF-8. */
static int
set_string(json_t *obj, const char *key, const char *s)
{
	json_t *v;

	if ((v = json_string(s)) == NULL)
		return -1;
	xjson_set(obj, key, v);
	return 0;
}

static json_t *
sign_header(const char *kid)
{
	json_t *h;

	h = xnonnull(json_object());
	xjson_set(h, "alg", json_string("HS256"));
	xjson_set(h, "typ", json_string("JWT"));
	if (kid != NULL && set_string(h, "kid", kid) == -1) {
		json_decref(h);
		return NULL;
	}
	return h;
}

static json_t *
sign_roles(const char *const *roles, size_t nroles)
{
	json_t *ra, *v;
	size_t i;

	ra = xnonnull(json_array());
	for (i = 0; i < nroles; i++) {
		if (roles[i] == NULL || (v = json_string(roles[i])) == NULL) {
			json_decref(ra);
			return NULL;
		}
		xjson_push(ra, v);
	}
	return ra;
}

static json_t *
sign_claims(const char *issuer, const char *audience, const char *sub,
    const char *tenant_id, const char *const *roles, size_t nroles,
    long long now, long long exp)
{
	json_t *c, *ra;

	c = xnonnull(json_object());
	if ((issuer && set_string(c, "iss", issuer) == -1) ||
	    (audience && set_string(c, "aud", audience) == -1) ||
	    set_string(c, "sub", sub) == -1 ||
	    (tenant_id && set_string(c, "tenant_id", tenant_id) == -1) ||
	    (ra = sign_roles(roles, nroles)) == NULL) {
		json_decref(c);
		return NULL;
	}
	xjson_set(c, "roles", ra);
	xjson_set(c, "iat", json_integer(now));
	xjson_set(c, "nbf", json_integer(now));
	xjson_set(c, "exp", json_integer(exp));
	return c;
}

/* Append base64url(compact JSON of v) to b. */
static void
append_json_b64(struct buf *b, json_t *v)
{
	char *s;

	s = xnonnull(json_dumps(v, JSON_COMPACT));
	b64url_encode(b, (const unsigned char *)s, strlen(s));
	free(s);
}

char *
auth_sign_hs256(const unsigned char *secret, size_t secret_len,
    const char *kid, const char *issuer, const char *audience,
    const char *sub, const char *tenant_id, const char *const *roles,
    size_t nroles, time_t now, long ttl_seconds)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	struct buf b = BUF_INIT;
	json_t *h, *c;
	long long t = (long long)now;

	if (secret == NULL || secret_len < HS256_MIN_SECRET ||
	    secret_len > INT_MAX || sub == NULL || *sub == '\0' ||
	    (roles == NULL && nroles > 0) || ttl_seconds <= 0 ||
	    t < 0 || t > NUMDATE_LIMIT - ttl_seconds)
		return NULL;
	if ((h = sign_header(kid)) == NULL)
		return NULL;
	if ((c = sign_claims(issuer, audience, sub, tenant_id, roles, nroles,
	    t, t + ttl_seconds)) == NULL) {
		json_decref(h);
		return NULL;
	}
	append_json_b64(&b, h);
	buf_appendc(&b, '.');
	append_json_b64(&b, c);
	json_decref(h);
	json_decref(c);
	if (HMAC(EVP_sha256(), secret, (int)secret_len,
	    (const unsigned char *)b.data, b.len, mac, &maclen) == NULL) {
		buf_free(&b);
		return NULL;
	}
	buf_appendc(&b, '.');
	b64url_encode(&b, mac, maclen);
	OPENSSL_cleanse(mac, sizeof(mac));
	return buf_detach(&b, NULL);
}
