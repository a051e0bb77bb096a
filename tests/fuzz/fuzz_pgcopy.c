/*
 * fuzz_pgcopy: the COPY TEXT line splitter (lib/pgcopy.c), differential
 * against ref_split() below: a plain byte-at-a-time reading of the rules
 * in pgcopy.h, without the fast paths. Both must agree on the field count
 * (or on "malformed") and on every field's bytes.
 */
#include <string.h>

#include "fuzz.h"
#include "pgcopy.h"

#define MAXF	12

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * The reference: decode line (len bytes) into out (len bytes at least),
 * fields as offsets/lengths into out, isnull[i] for \N. Returns the count
 * or -1.
 */
static int
ref_split(const unsigned char *line, size_t len, unsigned char *out,
    size_t *off, size_t *flen, int *isnull, size_t maxf)
{
	size_t i = 0, o = 0, end, n = 0;

	if (len == 0 || line[len - 1] != '\n')
		return -1;
	end = len - 1;
	for (;;) {
		if (n == maxf)
			return -1;
		off[n] = o;
		isnull[n] = 0;
		if (end - i >= 2 && line[i] == '\\' && line[i + 1] == 'N' &&
		    (i + 2 == end || line[i + 2] == '\t')) {
			isnull[n] = 1;
			i += 2;
		} else {
			while (i < end && line[i] != '\t') {
				unsigned int c = line[i++];

				if (c == '\n' || c == '\r' || c == 0)
					return -1;
				if (c == '\\') {
					if (i == end || line[i] == '\n' ||
					    line[i] == '\r')
						return -1;
					c = line[i++];
					if (c == 'b') c = '\b';
					else if (c == 'f') c = '\f';
					else if (c == 'n') c = '\n';
					else if (c == 'r') c = '\r';
					else if (c == 't') c = '\t';
					else if (c == 'v') c = '\v';
					else if (c == 'x' && i < end &&
					    hexval(line[i]) >= 0) {
						c = (unsigned int)hexval(line[i++]);
						if (i < end && hexval(line[i]) >= 0)
							c = c * 16 + (unsigned int)hexval(line[i++]);
					} else if (c >= '0' && c <= '7') {
						c -= '0';
						for (int k = 1; k < 3 && i < end &&
						    line[i] >= '0' && line[i] <= '7'; k++)
							c = c * 8 + (line[i++] - '0');
						c &= 0377;
					}
					if (c == 0)
						return -1;
				}
				out[o++] = (unsigned char)c;
			}
		}
		flen[n] = o - off[n];
		n++;
		if (i == end)
			break;
		i++;	/* the tab */
	}
	return (int)n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size ? size : 1), *fields[MAXF];
	unsigned char *ref = malloc(size ? size : 1);
	size_t lens[MAXF], off[MAXF], flen[MAXF], maxf;
	int isnull[MAXF], n, rn;

	FUZZ_CHECK(line != NULL && ref != NULL);
	/* the first byte picks maxf, so the "too many fields" edge is hit */
	maxf = size ? 1 + data[0] % MAXF : MAXF;
	memcpy(line, data, size);
	n = pgcopy_split(line, size, fields, lens, maxf);
	rn = ref_split(data, size, ref, off, flen, isnull, maxf);
	FUZZ_CHECK(n == rn);
	for (int i = 0; i < n; i++) {
		FUZZ_CHECK((fields[i] == NULL) == (isnull[i] != 0));
		if (fields[i] == NULL)
			continue;
		FUZZ_CHECK(lens[i] == flen[i]);
		FUZZ_CHECK(memcmp(fields[i], ref + off[i], lens[i]) == 0);
		FUZZ_CHECK(fields[i][lens[i]] == '\0');
		FUZZ_CHECK(strlen(fields[i]) == lens[i]);
	}
	free(line);
	free(ref);
	return 0;
}
