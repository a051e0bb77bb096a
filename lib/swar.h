/*
 * swar: internal helpers to test 8 bytes at once ("SIMD within a register")
 * on the hot byte-scanning loops of sanitize, encode and pgcopy. Portable C,
 * no alignment requirement, no state. Each predicate is exact for the word
 * as a whole (borrows can misplace which byte matched, never whether one
 * did), which is all the callers need: on a hit they rescan byte by byte.
 */
#ifndef OPS_SWAR_H
#define OPS_SWAR_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define SWAR_ONES	0x0101010101010101ULL
#define SWAR_HIGHS	0x8080808080808080ULL

/* The 8 bytes at s (unaligned, s must have 8 readable bytes). */
static inline uint64_t
swar_load(const void *s)
{
	uint64_t x;

	memcpy(&x, s, sizeof(x));
	return x;
}

/* High bit set in the result when some byte of x equals c. */
static inline uint64_t
swar_eq(uint64_t x, unsigned char c)
{
	uint64_t y = x ^ (SWAR_ONES * c);

	return (y - SWAR_ONES) & ~y & SWAR_HIGHS;
}

/* High bit set in the result when some byte of x is below n (n <= 128). */
static inline uint64_t
swar_lt(uint64_t x, unsigned char n)
{
	return (x - SWAR_ONES * n) & ~x & SWAR_HIGHS;
}

#endif
