/*
 * auth: bearer-token (JWT, RFC 7519) verification held to RFC 8725.
 *
 * Accepted: JWS compact serialization with exactly one of HS256 (shared
 * secret, meant for development), RS256 and ES256 (public keys from a JWKS
 * file). Every key is bound to exactly one algorithm: the token's "alg" must
 * match the algorithm of the key it selects, so a token can never make us
 * use an RSA public key as an HMAC secret or the like. "alg":"none" is
 * refused in any spelling, "crit" is refused (we understand no extensions),
 * and the key-carrying header parameters ("jwk", "jku", "x5u", "x5c") are
 * never used: keys come only from the keyset.
 *
 * The module does not log. auth_verify() returns a result code; the caller
 * maps it to an HTTP answer with auth_result_reason() and
 * auth_result_error_code(), neither of which ever contains token content.
 *
 * Thread safety: a loaded keyset is immutable and may be shared by any
 * number of threads calling auth_verify() at once. Keys that rotate (a
 * JWKS re-read or re-fetched) are lib/jwks.h's: it swaps whole keysets.
 *
 * Memory: allocation failure aborts the process (as in lib/buf.h).
 */
#ifndef OPS_AUTH_H
#define OPS_AUTH_H

#include <stddef.h>
#include <time.h>

/* Opaque set of verification keys, each bound to one algorithm. */
struct auth_keyset;

/*
 * Load verification keys into a new keyset stored in *out (free it with
 * auth_keyset_free()).
 *
 * jwks_path: a JWKS file ({"keys":[...]}) with RSA keys (-> RS256, modulus
 *   at least 2048 bits) and EC P-256 keys (-> ES256); NULL for none. Keys
 *   whose "use" is present and not "sig" are skipped. Keys of a kind the
 *   product does not use are skipped too, and listed by
 *   auth_keyset_skipped() for the caller to log: a kty other than RSA and
 *   EC (OKP/Ed25519, oct), a curve other than P-256 (P-384, P-521), an
 *   "alg" other than HS256/RS256/ES256 (PS256, RS512, EdDSA): an identity
 *   provider that publishes such a key next to ours must not take our
 *   keys away (issue 20, M3). A key's "alg" among those three must agree
 *   with its kty. Any other problem (bad base64url, private key material,
 *   duplicate kid, an RSA modulus under 2048 bits, a key that fails
 *   OpenSSL's public key check) fails the whole load: that is a broken or
 *   leaking set, not one with a key we do not use.
 * hs_secret, hs_secret_len: the HS256 secret (at least 32 bytes, RFC 7518
 *   3.2), copied; NULL for none.
 * hs_kid: the kid of the HS256 secret, copied; may be NULL (then only tokens
 *   without "kid" can select it).
 *
 * At least one key must result. Returns 0, or -1 with *out set to NULL and a
 * lower-case message without final period in err (errsz bytes, may be 0),
 * for example: jwks /etc/ops/jwks.json: key 2: unsupported kty "oct".
 * Keys are numbered from 1 in messages. Secrets never appear in err.
 */
int	 auth_keyset_load(struct auth_keyset **out, const char *jwks_path,
	    const unsigned char *hs_secret, size_t hs_secret_len,
	    const char *hs_kid, char *err, size_t errsz);

/*
 * The same with the JWKS as JSON text (jwks_len bytes, fetched from a URL by
 * lib/jwks.c) when jwks_text is not NULL; jwks_path then only names the
 * source in messages.
 */
int	 auth_keyset_load_text(struct auth_keyset **out, const char *jwks_path,
	    const char *jwks_text, size_t jwks_len,
	    const unsigned char *hs_secret, size_t hs_secret_len,
	    const char *hs_kid, char *err, size_t errsz);

/*
 * The keys the load skipped as unsupported: NULL when none, else
 * "key 2: unsupported kty \"OKP\"; key 3: unsupported alg \"PS256\"" (owned
 * by ks), with their number in *n when n is not NULL.
 */
const char	*auth_keyset_skipped(const struct auth_keyset *ks, size_t *n);

/* Free a keyset (wiping the HS256 secret); NULL is a no-op. */
void	 auth_keyset_free(struct auth_keyset *ks);

/*
 * What a token must satisfy besides its signature. The strings are borrowed
 * for the duration of each auth_verify() call.
 */
struct auth_policy {
	const char	*issuer;	/* "iss" must equal it; NULL = not checked */
	const char	*audience;	/* "aud" must contain it; NULL = not checked */
	long		 leeway_seconds;  /* clock skew allowed on exp/nbf/iat; <0 = 0 */
	size_t		 max_token_bytes; /* e.g. 8192; 0 = AUTH_DEFAULT_MAX_TOKEN */
	/*
	 * Longest lifetime accepted: exp - iat, or exp - now when the token has
	 * no iat (RFC 8725 3.10: a token valid for centuries is a stolen token
	 * valid for centuries). 0 = not checked.
	 */
	long long	 max_lifetime_seconds;
	/*
	 * Explicit typing (RFC 8725 3.11): the header's "typ" must be present
	 * and equal this (case-insensitive, "application/" prefix allowed on
	 * either side), for example "at+jwt". NULL = "typ" may be absent.
	 */
	const char	*typ;
};

#define AUTH_DEFAULT_MAX_TOKEN	8192
/*
 * Longest "sub" accepted, in bytes: it is stored (export jobs' requested_by,
 * download audit rows) and signed into download URLs, whose fields are
 * bounded. A longer one is AUTH_ERR_CLAIMS, never truncated.
 */
#define AUTH_MAX_SUB		255

/*
 * The verified identity. Every pointer is malloc'd and owned by the
 * principal; release them with auth_principal_free(). tenant_id is NULL when
 * the token has no tenant (global roles). roles holds nroles strings, as
 * given in the token (unknown role names included; lib/rbac.h ignores them).
 * nbf and iat are 0 when the token does not carry them.
 */
struct auth_principal {
	char		*sub;
	char		*tenant_id;
	char		**roles;
	size_t		 nroles;
	long long	 exp, nbf, iat;
};

enum auth_result {
	AUTH_OK = 0,
	AUTH_ERR_MALFORMED,		/* not a well-formed compact JWS/JWT */
	AUTH_ERR_TOO_LARGE,		/* longer than max_token_bytes */
	AUTH_ERR_ALG,			/* alg refused or not that of the key */
	AUTH_ERR_KID,			/* no key, or no single key, selected */
	AUTH_ERR_SIGNATURE,		/* signature does not verify */
	AUTH_ERR_EXPIRED,		/* exp + leeway <= now */
	AUTH_ERR_NOT_YET_VALID,		/* nbf - leeway > now */
	AUTH_ERR_ISSUED_IN_FUTURE,	/* iat - leeway > now */
	AUTH_ERR_ISSUER,		/* iss missing or not the policy's */
	AUTH_ERR_AUDIENCE,		/* aud missing or without the policy's */
	AUTH_ERR_CLAIMS,		/* required claim missing or mistyped */
	AUTH_ERR_LIFETIME,		/* exp too far after iat (or now) */
	AUTH_ERR_TYP,			/* "typ" missing or not the policy's */
	/*
	 * Never from auth_verify(): lib/jwks.h's when it has no keys it may
	 * trust (none fetched yet, or older than auth.jwks_max_stale_seconds).
	 * Not the client's fault: 503 SERVICE_UNAVAILABLE, not 401.
	 */
	AUTH_ERR_UNAVAILABLE
};

/*
 * Verify token (a NUL-terminated string, without "Bearer ") against the
 * keyset and policy at time now. Checks run in this order, and nothing from
 * the payload is trusted before the signature verified: size, format
 * (3 segments of strict base64url), header, key selection, signature,
 * claims (exp, nbf, iat, lifetime, iss, aud, then sub/tenant_id/roles).
 *
 * Header: a JSON object (duplicate members refused, as everywhere) with a
 * string "alg"; "none" in any case is AUTH_ERR_ALG, as is any algorithm
 * other than HS256/RS256/ES256 (exact spelling). "crit" present, "typ" other
 * than JWT or at+jwt (case-insensitive, "application/" prefix allowed), or a
 * non-string "kid" are AUTH_ERR_MALFORMED. With pol->typ set, a "typ"
 * that is absent or not that one is AUTH_ERR_TYP. Other members are
 * ignored.
 *
 * Key selection: with a "kid", the key with that kid (none: AUTH_ERR_KID;
 * its algorithm differs from "alg": AUTH_ERR_ALG). Without a "kid", the only
 * key of the header's algorithm (none such: AUTH_ERR_ALG; several:
 * AUTH_ERR_KID).
 *
 * Claims: the payload must be a JSON object (else AUTH_ERR_MALFORMED).
 * exp is required; exp, nbf and iat are numbers (fractions rounded towards
 * rejection). aud is a string or an array of strings; sub a non-empty
 * string of at most AUTH_MAX_SUB bytes; tenant_id absent, null or a
 * non-empty string; roles an array of strings. sub and tenant_id must not
 * hold control characters (U+0000..U+001F, U+007F): they end up in logs
 * and audit rows. Anything else is AUTH_ERR_CLAIMS.
 *
 * *out is always initialised: filled on AUTH_OK (the caller then owns it and
 * must call auth_principal_free()), zeroed otherwise. Returns
 * AUTH_ERR_MALFORMED when ks, pol, token or out is NULL.
 */
enum auth_result auth_verify(const struct auth_keyset *ks,
	    const struct auth_policy *pol, const char *token, time_t now,
	    struct auth_principal *out);

/*
 * Short lower-case text for r, safe to send to a client ("token expired");
 * never contains token content. Static storage.
 */
const char	*auth_result_reason(enum auth_result r);

/*
 * API error code for r: "AUTH_TOKEN_EXPIRED" for AUTH_ERR_EXPIRED,
 * "SERVICE_UNAVAILABLE" for AUTH_ERR_UNAVAILABLE,
 * "AUTH_INVALID_TOKEN" for every other failure (and for AUTH_OK, which
 * callers should not ask about). Static storage.
 */
const char	*auth_result_error_code(enum auth_result r);

/* Free what a principal owns and zero it; safe on a zeroed principal. */
void	 auth_principal_free(struct auth_principal *p);

/*
 * Mint an HS256 token (for `opsctl token` in development): header
 * {"alg":"HS256","typ":"JWT","kid"?}, payload {"iss"?,"aud"?,"sub",
 * "tenant_id"?,"roles","iat","nbf","exp"} with iat = nbf = now and
 * exp = now + ttl_seconds. kid, issuer, audience and tenant_id may be NULL
 * (claim omitted); sub must not be. secret must be at least 32 bytes and
 * ttl_seconds positive. Returns a malloc'd NUL-terminated token the caller
 * frees, or NULL on bad arguments.
 */
char	*auth_sign_hs256(const unsigned char *secret, size_t secret_len,
	    const char *kid, const char *issuer, const char *audience,
	    const char *sub, const char *tenant_id, const char *const *roles,
	    size_t nroles, time_t now, long ttl_seconds);

#endif
