/*
 * webhook_sign: Standard Webhooks signatures (standardwebhooks.com) for the
 * completion webhooks (docs/webhooks.md).
 *
 * A secret is "whsec_" followed by the standard base64 of its key bytes;
 * webhook_secret_new() draws 32 bytes from the CSPRNG (RAND_bytes). A
 * signature is "v1," followed by the base64 of HMAC-SHA256(key,
 * "<id>.<timestamp>.<body>"); during a rotation the header carries one
 * signature per secret, separated by a space, as the specification allows.
 * Pure functions: no state, safe from any thread.
 */
#ifndef OPS_WEBHOOK_SIGN_H
#define OPS_WEBHOOK_SIGN_H

#include <stddef.h>

#define WEBHOOK_SECRET_PREFIX	"whsec_"
/* "whsec_" + base64 of up to 64 key bytes + NUL */
#define WEBHOOK_SECRET_MAX	(6 + 88 + 1)
/* "v1," + base64 of 32 bytes + NUL */
#define WEBHOOK_SIG_MAX		(3 + 44 + 1)

/* A new secret (32 random bytes). 0, or -1 when the CSPRNG fails. */
int	webhook_secret_new(char out[WEBHOOK_SECRET_MAX]);

/*
 * Sign: out gets "v1,<base64>". Returns 0, or -1 when secret is not
 * "whsec_<base64>" of 1 to 64 bytes.
 */
int	webhook_sign(const char *secret, const char *msg_id, long long ts,
	    const char *body, size_t bodylen, char out[WEBHOOK_SIG_MAX]);

#endif
