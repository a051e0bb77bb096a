/*
 * fuzz_encode: the jsonl and CSV row encoders (lib/encode.c).
 *
 * The input is split at NUL bytes into the nine text fields and the
 * payload of one audit row (a field that is exactly "\N" is SQL NULL;
 * invalid UTF-8 is cut out, the encoders assume UTF-8). Oracles:
 *  - CSV: the record parses back under RFC 4180 (a reader written here)
 *    into exactly the cells written, each equal to its field with the
 *    formula guard, and no cell starts with = + - @ TAB or CR;
 *  - jsonl: the line is one JSON object (one line) whose text fields
 *    equal the input;
 *  - both into a buffer sized exactly to what was written before (the
 *    defect-1 shape), so ASan sees any write past a reservation.
 */
#include <jansson.h>
#include <string.h>

#include "encode.h"
#include "fuzz.h"

#define NF	10	/* id, 8 text fields, payload */

static struct sanitize_rules *rules;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	rules = sanitize_rules_new(NULL, 0);
	return rules == NULL ? -1 : 0;
}

/* Keep only valid UTF-8 of s (in place, NUL-terminated); return its length. */
static size_t
utf8_keep(char *s, size_t len)
{
	size_t i = 0, o = 0;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 :
		    (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		unsigned int cp;
		size_t k;

		if (c == 0 || n == 0 || i + n > len) {
			i++;
			continue;
		}
		cp = n == 1 ? c : c & (0x7f >> n);
		for (k = 1; k < n && ((unsigned char)s[i + k] & 0xc0) == 0x80;
		    k++)
			cp = cp << 6 | ((unsigned char)s[i + k] & 0x3f);
		if (k < n || (n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
		    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff)) {
			i++;
			continue;
		}
		memmove(s + o, s + i, n);
		o += n;
		i += n;
	}
	s[o] = '\0';
	return o;
}

/*
 * RFC 4180 reader: one record ending in CRLF at *p; cells into cells[]
 * (malloc'd copies), quoted[] says whether the cell was quoted. Returns the
 * cell count, or -1 when the text is not one well-formed record.
 */
static int
csv_read(const char *p, const char *end, char **cells, int *quoted, int max)
{
	int n = 0;

	for (;;) {
		struct { char *d; size_t len; } c = { malloc(end - p + 1), 0 };

		FUZZ_CHECK(c.d != NULL);
		if (n == max) {
			free(c.d);
			return -1;
		}
		quoted[n] = p < end && *p == '"';
		if (quoted[n]) {
			for (p++;; p++) {
				if (p >= end) {
					free(c.d);
					return -1;
				}
				if (*p == '"') {
					if (p + 1 < end && p[1] == '"')
						p++;
					else
						break;
				}
				c.d[c.len++] = *p;
			}
			p++;
		} else {
			while (p < end && *p != ',' && *p != '\r' &&
			    *p != '\n' && *p != '"')
				c.d[c.len++] = *p++;
			if (p < end && *p == '"') {
				free(c.d);
				return -1;
			}
		}
		c.d[c.len] = '\0';
		cells[n++] = c.d;
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		return end - p == 2 && p[0] == '\r' && p[1] == '\n' ? n : -1;
	}
}

static bool
formula(char c)
{
	return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' ||
	    c == '\r';
}

/* A buffer whose capacity is exactly its current length plus the NUL. */
static void
tight(struct buf *b)
{
	char *d = malloc(b->len + 1);

	FUZZ_CHECK(d != NULL);
	memcpy(d, b->data ? b->data : "", b->len);
	d[b->len] = '\0';
	free(b->data);
	b->data = d;
	b->cap = b->len + 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *f[NF] = { 0 }, *cells[NF + 1];
	const char *v[NF];
	size_t flen[NF] = { 0 };
	struct buf csv = BUF_INIT, jl = BUF_INIT, scratch = BUF_INIT;
	struct export_row row;
	int quoted[NF + 1], n, i, rc_csv, rc_jl;
	char *s, *e;
	json_t *j;

	FUZZ_CHECK(copy != NULL);
	memcpy(copy, data, size);
	copy[size] = '\0';
	/* split at NUL; fields past the input's end are "" */
	for (i = 0, s = copy; i < NF; i++) {
		e = s ? memchr(s, '\0', size - (size_t)(s - copy)) : NULL;
		if (e)
			*e = '\0';
		f[i] = s ? s : (char *)"";
		flen[i] = s ? (e ? (size_t)(e - s) : size - (size_t)(s - copy)) : 0;
		s = e ? e + 1 : NULL;
	}
	for (i = 0; i < NF; i++) {
		flen[i] = f[i] == copy + size || *f[i] == '\0' ? 0 :
		    utf8_keep(f[i], flen[i]);
		v[i] = strcmp(f[i], "\\N") == 0 ? NULL : f[i];
	}
	/* a positive id, as the schema's bigserial gives */
	v[0] = "42";
	row = (struct export_row){ v[0], v[1], v[2], v[3], v[4], v[5], v[6],
	    v[7], v[8], v[9], v[9] ? flen[9] : 0 };

	/* defect-1 shape: no slack in the buffers */
	buf_appends(&csv, "x");
	tight(&csv);
	buf_appends(&jl, "x");
	tight(&jl);
	rc_csv = encode_csv_row(rules, &row, &csv, &scratch);
	rc_jl = encode_jsonl_row(rules, &row, &jl);
	/* both fail exactly when the payload is not JSON */
	FUZZ_CHECK(rc_csv == rc_jl);
	if (rc_csv != 0) {
		FUZZ_CHECK(csv.len == 1 && jl.len == 1);
		goto out;
	}

	n = csv_read(csv.data + 1, csv.data + csv.len, cells, quoted, NF + 1);
	FUZZ_CHECK(n == NF);
	FUZZ_CHECK(strcmp(cells[0], "42") == 0);
	for (i = 1; i < NF; i++) {
		const char *want = i == 9 && v[9] ? scratch.data : v[i];
		size_t wlen = want ? strlen(want) : 0;

		FUZZ_CHECK(!formula(cells[i][0]));
		if (want == NULL) {
			FUZZ_CHECK(cells[i][0] == '\0' && !quoted[i]);
		} else if (wlen > 0 && formula(want[0])) {
			FUZZ_CHECK(cells[i][0] == '\'' &&
			    strcmp(cells[i] + 1, want) == 0);
		} else {
			FUZZ_CHECK(strcmp(cells[i], want) == 0);
			FUZZ_CHECK(wlen > 0 || quoted[i]);
		}
	}

	FUZZ_CHECK(jl.data[jl.len - 1] == '\n');
	FUZZ_CHECK(memchr(jl.data + 1, '\n', jl.len - 2) == NULL);
	/* jansson refuses numbers beyond its range; the payload is ours */
	if (v[9] != NULL && (j = json_loadb(scratch.data, scratch.len,
	    JSON_DECODE_ANY, NULL)) == NULL)
		goto cells;
	json_decref(v[9] != NULL ? j : NULL);
	j = json_loadb(jl.data + 1, jl.len - 1, 0, NULL);
	FUZZ_CHECK(json_is_object(j) && json_object_size(j) == NF);
	for (i = 1; i < 9; i++) {
		static const char *const keys[] = { "id", "tenant_id",
		    "occurred_at", "actor_id", "action", "target_type",
		    "target_id", "ip", "request_id" };
		json_t *x = json_object_get(j, keys[i]);

		if (v[i] == NULL)
			FUZZ_CHECK(json_is_null(x));
		else
			FUZZ_CHECK(json_is_string(x) &&
			    strcmp(json_string_value(x), v[i]) == 0);
	}
	json_decref(j);
cells:
	for (i = 0; i < n; i++)
		free(cells[i]);
out:
	buf_free(&csv);
	buf_free(&jl);
	buf_free(&scratch);
	free(copy);
	return 0;
}
