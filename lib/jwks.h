/*
 * jwks: the JWT verification keys of a running responder, which rotate
 * without a restart, and whose source being down never takes the API down.
 *
 * Keys come from a JWKS file (auth.jwks_file) or an HTTPS URL
 * (auth.jwks_url, TLS verified against the system CAs or auth.jwks_ca_file),
 * plus the optional HS256 secret. jwks_open_config() loads them once; then
 * they are an immutable lib/auth.h keyset, replaced as a whole by the
 * refresher, a thread that main() runs (jwks_refresher()) so that no fetch
 * ever happens on a request's thread:
 *
 *   - when the cache expires: a URL's Cache-Control max-age (clamped to
 *     [min_refresh_seconds, 86400]), else max_age_seconds; a file every
 *     max_age_seconds;
 *   - when a request asks (a token names a kid the keyset does not have, or
 *     there are no usable keys): at most once per min_refresh_seconds, so
 *     tokens with made-up kids cannot turn the responder into a request
 *     amplifier against the identity provider. The asking request waits for
 *     that refresh at most 1 s (a key published a moment ago is accepted on
 *     its first use); every other request answers with the keys in hand.
 *   - after a failed try: min_refresh_seconds, doubling up to 300 s. A
 *     failure keeps the current keys and logs a warning. The fetch itself is
 *     bounded by 5 s.
 *
 * Keys of a kind we do not use (Ed25519, P-384, PS256) are skipped with a
 * warning (lib/auth.h). A URL's last good JWKS is kept in auth.jwks_cache_path
 * (default: jwks-cache.json in systemd's $STATE_DIRECTORY, else no cache),
 * written atomically, mode 0600. At start a cache younger than
 * auth.jwks_max_stale_seconds is used at once (the refresher fetches right
 * after); without one the URL is fetched; if that fails too, the responder
 * starts anyway without keys: jwks_verify() answers AUTH_ERR_UNAVAILABLE
 * (503) until a fetch succeeds, and routes without a token (/healthz, signed
 * downloads) work as always. Keys fetched longer than
 * auth.jwks_max_stale_seconds ago are not trusted either (AUTH_ERR_UNAVAILABLE,
 * logged once as an error): a key the identity provider withdrew while we
 * could not see it must not be trusted for ever.
 *
 * Thread safety: jwks_open_config(), jwks_check_config() and jwks_close()
 * run in main() before threads start and after they stopped (they
 * initialise libcurl). jwks_refresher() runs in one thread, until
 * jwks_stop(). jwks_verify() may be called by any number of threads at once.
 * Without a running refresher (opsctl, tests) the keys loaded at open stay.
 */
#ifndef OPS_JWKS_H
#define OPS_JWKS_H

#include <stddef.h>
#include <time.h>

#include "auth.h"
#include "config.h"

struct jwks;

/*
 * Load the keys the auth section of a loaded configuration names (the cache,
 * else the source, see above) into a new struct jwks stored in *out; what
 * it needs of cfg is copied. A URL that cannot be fetched is not an error
 * (logged; no keys until the refresher gets them). Returns 0, or -1 with
 * *out NULL and a lower-case message in err for a configuration error: both
 * a file and a URL, an http:// URL, a JWKS file or HS256 secret that does
 * not load (file, URL without its query, or what failed; never a secret).
 */
int	jwks_open_config(struct jwks **out, const struct ops_config *cfg,
	    char *err, size_t errsz);

/*
 * opsctl check-config: the same, but the source itself must load now (the
 * URL answers with a usable JWKS, its certificate verifies); no cache.
 * Returns 0 or -1 with err filled.
 */
int	jwks_check_config(const struct ops_config *cfg, char *err,
	    size_t errsz);

/*
 * The refresher: pthread_create() body, arg a struct jwks. Returns when
 * jwks_stop() is called (at once when the keys do not rotate).
 */
void	*jwks_refresher(void *arg);

/* Tell the refresher to return (join it, then jwks_close()); NULL: no-op. */
void	 jwks_stop(struct jwks *j);

/*
 * For /metrics: 1 when there are keys that may be trusted, 0 when not
 * (bearer tokens answer 503), -1 when the keys do not rotate (HS256 only);
 * *age is the seconds since they were fetched, -1 without keys.
 */
int	 jwks_status(struct jwks *j, time_t now, long long *age);

/* Seconds for the Retry-After of a 503 AUTH_ERR_UNAVAILABLE answer. */
int	 jwks_retry_after(const struct jwks *j);

/* Free everything; NULL is a no-op. */
void	jwks_close(struct jwks *j);

/*
 * auth_verify() with the current keys; after AUTH_ERR_KID (or without
 * usable keys) once more if a refresh it asked for finished within 1 s.
 * AUTH_ERR_UNAVAILABLE when there are no keys that may be trusted.
 */
enum auth_result jwks_verify(struct jwks *j, const struct auth_policy *pol,
	    const char *token, time_t now, struct auth_principal *out);

#endif
