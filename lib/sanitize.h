/*
 * sanitize: the one payload sanitizer (contract section 5, P21-L04).
 *
 * Used on export (streaming, sanitize_json_text) and when this product writes
 * audit_log entries (jansson, sanitize_json). Both apply the same rules and
 * give the same document for the same input.
 *
 * Rules
 *
 *  - Secret keys. A key is normalized by JSON-unescaping it, lower-casing
 *    ASCII A-Z and removing every '_', '-' and '.'. It is secret when the
 *    normalized key CONTAINS one of: password, passwd, pwd, secret, token,
 *    apikey, authorization, cookie, session, privatekey, credential, otp,
 *    signature, or one of the configured extra keys (normalized the same
 *    way). So "X-Api-Key", "client_secret", "Set-Cookie", "refresh_token",
 *    "pass_word" and "pass\u0077ord" are all secret. Only ASCII is case
 *    folded; other bytes are compared as they are.
 *    The value of a secret key, whatever its type (object, array, string,
 *    number, true, false, null), becomes the string "[REDACTED]".
 *
 *  - Secret-looking strings. Any string value (not keys), wherever it is
 *    (under a harmless key, in an array, at top level), becomes "[REDACTED]"
 *    when, after JSON-unescaping, it
 *      * is a JWT: matches ^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$
 *        The third (signature) segment MAY be empty: an unsecured JWT
 *        ("alg":"none", "header.claims.") still carries claims and is
 *        accepted by broken verifiers, so it is redacted too. No padding,
 *        no surrounding whitespace; JWE (five segments) is not matched.
 *      * or starts with "bearer " compared case-insensitively ("Bearer ",
 *        "BEARER ", "bearer "): the seven bytes b-e-a-r-e-r-space, nothing
 *        before them. "Bearer" alone or "Bearer\t..." is not matched.
 *
 *  - Depth. Only objects and arrays nest. The top-level value is at depth 1;
 *    a value directly inside a container at depth d is at depth d + 1. An
 *    object or array at depth 33 or deeper (SANITIZE_MAX_DEPTH + 1) is
 *    replaced, as a whole, by the string "[TRUNCATED]", so the output never
 *    nests more than 32 containers. Scalars are never truncated: a string or
 *    number inside a depth-32 container is kept. When a secret key's value
 *    would also be truncated, "[REDACTED]" wins.
 *
 * Everything else is kept: strings, keys and numbers are re-emitted as their
 * original (valid) JSON bytes, so Unicode, escapes, quotes, backslashes and
 * newlines survive intact. Duplicate keys are kept by the streaming variant
 * (jansson keeps the last one).
 *
 * Every function taking rules needs a non-NULL r. The rules are read-only
 * once built and the functions keep no state, so any number of threads may
 * sanitize with one struct sanitize_rules at once. Allocation failure aborts
 * the process (as in buf.h).
 */
#ifndef OPS_SANITIZE_H
#define OPS_SANITIZE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "buf.h"

#define SANITIZE_MAX_DEPTH	32
#define SANITIZE_REDACTED	"[REDACTED]"
#define SANITIZE_TRUNCATED	"[TRUNCATED]"

/* Built once from the configured extras; immutable, shareable by threads. */
struct sanitize_rules;

/*
 * Build the rules: the built-in secret words plus n extra keys (C strings,
 * normalized like keys; copied, the caller keeps ownership of extra_keys).
 * extra_keys may be NULL when n is 0. Returns NULL (errno EINVAL) when an
 * extra key is NULL or normalizes to the empty string (it would match every
 * key): a configuration error the caller reports. Free with
 * sanitize_rules_free().
 */
struct sanitize_rules *sanitize_rules_new(const char *const *extra_keys,
	    size_t n);

/*
 * Whether key may be a configured extra key: not NULL and something is left
 * after normalization (an empty word would match every key). The config
 * checks every sanitizer.extra_keys entry with this, so a bad key is
 * reported with file:line before any binary builds its rules.
 */
bool	 sanitize_extra_key_valid(const char *key);

/* A binary builds its rules from its config with
 * sanitize_rules_from_config() (config.h): config sits above sanitize. */
void	 sanitize_rules_free(struct sanitize_rules *r);

/*
 * Whether an already unescaped key (len bytes, may hold NUL bytes) is secret.
 */
bool	 sanitize_key_is_secret(const struct sanitize_rules *r,
	    const char *key, size_t len);

/*
 * Whether an already unescaped string value (len bytes) looks like a JWT or
 * a bearer credential (see above).
 */
bool	 sanitize_value_is_secret(const char *s, size_t len);

/*
 * Streaming sanitizer: parse the JSON text in (len bytes, need not be NUL
 * terminated), a strict RFC 8259 recognizer (any value at top level, UTF-8
 * only, surrogate escapes must pair up, no control characters in strings,
 * no trailing commas or garbage), and append the sanitized compact JSON (no
 * insignificant whitespace) to out. Returns 0, or -1 when in is not valid
 * JSON; on error out->len is restored to its length on entry.
 *
 * Single pass, no recursion: input nesting depth is unbounded (a bit per
 * level, on the stack up to 512 levels, on the heap beyond), and a
 * truncated or redacted subtree is still fully validated. Kept input is
 * copied in runs, not token by token. Memory apart from out is allocated
 * only for keys longer than 256 bytes or input deeper than 512 levels, and
 * released before returning; out's NUL terminator is maintained.
 */
int	 sanitize_json_text(const struct sanitize_rules *r, const char *in,
	    size_t len, struct buf *out);

/*
 * For jansson callers (audit_log writers): return a NEW reference to a
 * sanitized deep copy of in (in is not modified), or NULL when in is NULL.
 * Recursion is bounded by the depth limit.
 */
json_t	*sanitize_json(const struct sanitize_rules *r, const json_t *in);

#endif
