/*
 * utf8: decoding and encoding UTF-8, the one copy (sanitize, lockstate and
 * notion used to have three).
 *
 * Decided behaviour: a sequence is well-formed per RFC 3629 / Unicode
 * table 3-7: no overlong forms (C0, C1, E0 80..9F, F0 80..8F), no
 * surrogates (ED A0..BF), nothing past U+10FFFF (F4 90.., F5..FF), no stray
 * continuation bytes, and never read past the n bytes given (a truncated
 * sequence is invalid). NUL is an ordinary one-byte character: callers that
 * work on C strings stop at it themselves.
 */
#ifndef OPS_UTF8_H
#define OPS_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define UTF8_MAX_LEN	4

/*
 * Decode the sequence at s, of which n >= 1 bytes may be read. Returns its
 * length (1..4) and stores the code point in *cp (cp may be NULL), or 0 when
 * it is not well-formed (*cp then untouched).
 */
size_t	utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/*
 * Encode code point cp (at most U+10FFFF, not a surrogate: the caller
 * checks) into d, which has room for UTF8_MAX_LEN bytes. Returns the length.
 */
size_t	utf8_encode(unsigned char *d, uint32_t cp);

#endif
