/*
 * jwks: the JWT verification keys of a running responder, which rotate
 * without a restart.
 *
 * Keys come from a JWKS file (auth.jwks_file) or an HTTPS URL
 * (auth.jwks_url, TLS verified against the system CAs or auth.jwks_ca_file),
 * plus the optional HS256 secret. They are loaded once by jwks_open_config()
 * and then kept as an immutable lib/auth.h keyset, replaced as a whole:
 *
 *   - when the cache expires: a URL's Cache-Control max-age (clamped to
 *     [min_refresh_seconds, 86400]), else max_age_seconds; a file every
 *     max_age_seconds;
 *   - when a token names a kid the keyset does not have (a key published
 *     since the last fetch).
 *
 * A refresh happens at most once per min_refresh_seconds, whatever causes it,
 * and never two at once: a burst of tokens with unknown kids costs at most
 * one fetch per interval, so they cannot turn the responder into a request
 * amplifier against the identity provider. A failed refresh keeps the old
 * keys (and logs a warning); the next try waits min_refresh_seconds too.
 *
 * Thread safety: jwks_open_config() and jwks_close() run in main() before worker
 * threads start and after they stopped (it initialises libcurl).
 * jwks_verify() may be called by any number of threads at once; the thread
 * whose token triggers a refresh waits for it (bounded by 5 s), the others
 * keep verifying with the current keys meanwhile.
 */
#ifndef OPS_JWKS_H
#define OPS_JWKS_H

#include <stddef.h>
#include <time.h>

#include "auth.h"
#include "config.h"

struct jwks;

/*
 * Load the keys the auth section of a loaded configuration names, once
 * (fetching the URL), into a new struct jwks stored in *out; what it needs
 * of cfg is copied. Returns 0, or -1 with *out NULL and a lower-case
 * message in err (file, URL without its query, or what failed; never a
 * secret).
 */
int	jwks_open_config(struct jwks **out, const struct ops_config *cfg,
	    char *err, size_t errsz);

/* Free everything; NULL is a no-op. */
void	jwks_close(struct jwks *j);

/*
 * auth_verify() with the current keys, refreshing them first when the cache
 * expired, and once more after AUTH_ERR_KID when the rate limit allows.
 */
enum auth_result jwks_verify(struct jwks *j, const struct auth_policy *pol,
	    const char *token, time_t now, struct auth_principal *out);

#endif
