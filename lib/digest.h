/*
 * digest: SHA-256 and hex, the two things several modules need (chunk and
 * file digests, migration checksums, signed URLs).
 */
#ifndef OPS_DIGEST_H
#define OPS_DIGEST_H

#include <stddef.h>

/* n bytes as lower-case hex into out (2n + 1 bytes, NUL-terminated). */
void	digest_hex(const unsigned char *bytes, size_t n, char *out);

/* The value of one hex digit (either case), or -1. */
static inline int
digest_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* SHA-256 of data as lower-case hex into out[65]. */
void	digest_sha256_hex(const void *data, size_t len, char out[65]);

#endif
