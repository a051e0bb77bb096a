/*
 * xssl: the one home for OpenSSL's errors.
 *
 *   ssl_error_text()  the oldest error in this thread's OpenSSL error
 *                     queue as text ("error:...:bad decrypt"), clearing
 *                     the queue, for a message that says why a key or a
 *                     signature was refused; "no OpenSSL error queued" when
 *                     empty;
 *   xssl(ok, what)    for a call that cannot fail with valid arguments
 *                     (EVP_Digest, HMAC over a buffer): when ok is false,
 *                     BUG() with what and the queue's text.
 */
#ifndef OPS_XSSL_H
#define OPS_XSSL_H

#include <stdbool.h>
#include <stddef.h>

const char *ssl_error_text(char *buf, size_t bufsz);

#define xssl(ok, what)	xssl_at(__FILE__, __LINE__, (ok), (what))

void	xssl_at(const char *file, int line, bool ok, const char *what);

#endif
