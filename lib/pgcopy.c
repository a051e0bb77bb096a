#include "pgcopy.h"

#include <limits.h>
#include <stdint.h>

#include "digest.h"
#include "swar.h"

static int
octval(char c)
{
	return c >= '0' && c <= '7' ? c - '0' : -1;
}

/*
 * Decode the escape after a backslash at *rp (end: the final '\n'); return
 * the byte it stands for (0 only for an escaped NUL) and advance *rp.
 */
static unsigned char
unescape(char **rp, const char *end)
{
	char *r = *rp;
	unsigned int val;
	int d, i;
	char c = *r++;

	switch (c) {
	case 'b':
		c = '\b';
		break;
	case 'f':
		c = '\f';
		break;
	case 'n':
		c = '\n';
		break;
	case 'r':
		c = '\r';
		break;
	case 't':
		c = '\t';
		break;
	case 'v':
		c = '\v';
		break;
	case 'x':
		if (r == end || (d = digest_hexval((unsigned char)*r)) < 0)
			break;		/* a plain 'x' */
		val = (unsigned int)d;
		if (++r < end && (d = digest_hexval((unsigned char)*r)) >= 0) {
			val = val * 16 + (unsigned int)d;
			r++;
		}
		*rp = r;
		return (unsigned char)val;
	default:
		if ((d = octval(c)) < 0)
			break;		/* the char itself */
		val = (unsigned int)d;
		for (i = 1; i < 3 && r < end && (d = octval(*r)) >= 0; i++) {
			val = val * 8 + (unsigned int)d;
			r++;
		}
		*rp = r;
		return (unsigned char)(val & 0377);
	}
	*rp = r;
	return (unsigned char)c;
}

/*
 * Decode in place the field starting at start, up to the next tab or end;
 * NUL-terminate it, store its length in *lenp and return where it stopped
 * (the tab or end), or NULL when malformed.
 */
static char *
decode_field(char *start, char *end, size_t *lenp)
{
	char *w, *r = start;
	unsigned char c;
	uint64_t x;

	/*
	 * Fast path: skip the bytes that need no work (most fields have no
	 * escape at all, so nothing moves), 8 at a time while no byte is a
	 * backslash or below 0x0e (NUL, TAB, LF and CR are all below).
	 */
	for (;;) {
		while (end - r >= 8) {
			x = swar_load(r);
			if ((swar_eq(x, '\\') | swar_lt(x, 0x0e)) != 0)
				break;
			r += 8;
		}
		while (r < end && *r != '\\' && (unsigned char)*r >= 0x0e)
			r++;
		if (r == end || *r == '\t' || *r == '\\' || *r == '\0' ||
		    *r == '\n' || *r == '\r')
			break;
		r++;		/* another control byte: plain data */
	}
	w = r;
	while (r < end && *r != '\t') {
		c = (unsigned char)*r++;
		if (c == '\\') {
			/* "\\" before the end or before a raw CR or LF is cut */
			if (r == end || *r == '\n' || *r == '\r')
				return NULL;
			c = unescape(&r, end);
		} else if (c == '\r' || c == '\n')
			return NULL;
		if (c == '\0')
			return NULL;
		*w++ = (char)c;
	}
	*w = '\0';
	*lenp = (size_t)(w - start);
	return r;
}

int
pgcopy_split(char *line, size_t len, char **fields, size_t *lens, size_t maxf)
{
	char *r = line, *end;
	size_t n = 0;

	if (len == 0 || line[len - 1] != '\n')
		return -1;
	end = line + len - 1;
	for (;;) {
		if (n == maxf || n == INT_MAX)
			return -1;
		if (end - r >= 2 && r[0] == '\\' && r[1] == 'N' &&
		    (r + 2 == end || r[2] == '\t')) {
			fields[n] = NULL;
			lens[n] = 0;
			r += 2;
		} else {
			fields[n] = r;
			if ((r = decode_field(r, end, &lens[n])) == NULL)
				return -1;
		}
		n++;
		if (r == end)
			break;
		r++;		/* the tab */
	}
	*end = '\0';
	return (int)n;
}
