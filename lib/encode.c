#include "encode.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bug.h"
#include "swar.h"

#define APPEND_LIT(b, lit)	buf_append((b), (lit), sizeof(lit) - 1)

static const char hexdigits[] = "0123456789abcdef";

/* Whether s is a JSON integer: -?(0|[1-9][0-9]*). */
static bool
valid_id(const char *s)
{
	if (s == NULL)
		return false;
	if (*s == '-')
		s++;
	if (*s == '0')
		return s[1] == '\0';
	if (*s < '1' || *s > '9')
		return false;
	while (*++s >= '0' && *s <= '9')
		;
	return *s == '\0';
}

/* Bytes that need a JSON escape: '"', '\\' and control characters. */
static inline bool
json_needs_escape(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\';
}

/*
 * Write s (len bytes) as a quoted JSON string at d, which has room for
 * json_string_room(len) bytes; return the end of what was written.
 */
static char *
put_json_string(char *d, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	unsigned char c;
	uint64_t x;

	*d++ = '"';
	while (p < end) {
		if (end - p >= 8) {
			x = swar_load(p);
			if ((swar_eq(x, '"') | swar_eq(x, '\\') |
			    swar_lt(x, 0x20)) == 0) {
				memcpy(d, p, 8);
				d += 8;
				p += 8;
				continue;
			}
		}
		c = *p++;
		if (!json_needs_escape(c)) {
			*d++ = (char)c;
			continue;
		}
		*d++ = '\\';
		switch (c) {
		case '"':
		case '\\':
			*d++ = (char)c;
			break;
		case '\b':
			*d++ = 'b';
			break;
		case '\f':
			*d++ = 'f';
			break;
		case '\n':
			*d++ = 'n';
			break;
		case '\r':
			*d++ = 'r';
			break;
		case '\t':
			*d++ = 't';
			break;
		default:
			*d++ = 'u';
			*d++ = '0';
			*d++ = '0';
			*d++ = hexdigits[c >> 4];
			*d++ = hexdigits[c & 0xf];
			break;
		}
	}
	*d++ = '"';
	return d;
}

/* Worst case: every byte becomes \u00XX, plus the quotes. */
static size_t
json_string_room(size_t len)
{
	if (len > (SIZE_MAX - 2) / 6)
		BUG("a JSON string of %zu bytes overflows size_t", len);
	return len * 6 + 2;
}

void
encode_json_string(struct buf *out, const char *s, size_t len)
{
	char *d;

	buf_grow(out, json_string_room(len));
	d = put_json_string(out->data + out->len, s, len);
	*d = '\0';
	out->len = (size_t)(d - out->data);
}

/* The text columns after id, in order, with their jsonl key prefixes. */
#define NTEXT	8
#define LIT(s)	{ s, sizeof(s) - 1 }
static const struct {
	const char	*s;
	size_t		 len;
} jsonl_keys[NTEXT] = {
	LIT(",\"tenant_id\":"), LIT(",\"occurred_at\":"), LIT(",\"actor_id\":"),
	LIT(",\"action\":"), LIT(",\"target_type\":"), LIT(",\"target_id\":"),
	LIT(",\"ip\":"), LIT(",\"request_id\":"),
};

static void
row_texts(const struct export_row *row, const char *v[NTEXT])
{
	v[0] = row->tenant_id;
	v[1] = row->occurred_at;
	v[2] = row->actor_id;
	v[3] = row->action;
	v[4] = row->target_type;
	v[5] = row->target_id;
	v[6] = row->ip;
	v[7] = row->request_id;
}

int
encode_jsonl_row(const struct sanitize_rules *r, const struct export_row *row,
    struct buf *out)
{
	static const char head[] = "{\"id\":", pkey[] = ",\"payload\":";
	const char *v[NTEXT];
	size_t olen = out->len, idlen, len[NTEXT], room, i;
	char *d;

	if (!valid_id(row->id))
		return -1;
	row_texts(row, v);
	/* reserve once, then write without further checks */
	idlen = strlen(row->id);
	room = sizeof(head) + idlen + sizeof(pkey);
	for (i = 0; i < NTEXT; i++) {
		len[i] = v[i] ? strlen(v[i]) : 0;
		/* a NULL field is written as null: 4 bytes, not a string's 2 */
		room += jsonl_keys[i].len + (v[i] ? json_string_room(len[i]) :
		    sizeof("null") - 1);
	}
	buf_grow(out, room);
	d = out->data + out->len;
	memcpy(d, head, sizeof(head) - 1);
	d += sizeof(head) - 1;
	memcpy(d, row->id, idlen);
	d += idlen;
	for (i = 0; i < NTEXT; i++) {
		memcpy(d, jsonl_keys[i].s, jsonl_keys[i].len);
		d += jsonl_keys[i].len;
		if (v[i] == NULL) {
			memcpy(d, "null", 4);
			d += 4;
		} else
			d = put_json_string(d, v[i], len[i]);
	}
	memcpy(d, pkey, sizeof(pkey) - 1);
	d += sizeof(pkey) - 1;
	*d = '\0';
	out->len = (size_t)(d - out->data);
	if (row->payload == NULL)
		APPEND_LIT(out, "null");
	else if (sanitize_json_text(r, row->payload, row->payload_len,
	    out) == -1) {
		out->len = olen;
		out->data[olen] = '\0';
		return -1;
	}
	APPEND_LIT(out, "}\n");
	return 0;
}

void
encode_csv_header(struct buf *out)
{
	APPEND_LIT(out, "id,tenant_id,occurred_at,actor_id,action,target_type,"
	    "target_id,ip,request_id,payload\r\n");
}

static bool
csv_needs_quotes(const char *s, size_t len)
{
	const char *p = s, *end = s + len;
	uint64_t x;

	if (len == 0 || s[0] == ' ' || s[len - 1] == ' ')
		return true;
	for (; end - p >= 8; p += 8) {
		x = swar_load(p);
		if ((swar_eq(x, '"') | swar_eq(x, ',') | swar_eq(x, '\r') |
		    swar_eq(x, '\n')) != 0)
			break;
	}
	for (; p < end; p++)
		if (*p == '"' || *p == ',' || *p == '\r' || *p == '\n')
			return true;
	return false;
}

/* Whether a cell starting with c could be read as a formula. */
static bool
formula_start(char c)
{
	return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' ||
	    c == '\r';
}

/* Worst case of a cell: every byte a doubled '"', the quotes, a '\''. */
static size_t
csv_cell_room(size_t len)
{
	if (len > (SIZE_MAX - 3) / 2)
		BUG("a CSV cell of %zu bytes overflows size_t", len);
	return len * 2 + 3;
}

/* Write the cell at d (room: csv_cell_room(len)); return its end. */
static char *
put_csv_cell(char *d, const char *s, size_t len)
{
	const char *end = s + len;
	bool quote = csv_needs_quotes(s, len);

	if (quote)
		*d++ = '"';
	if (len > 0 && formula_start(s[0]))
		*d++ = '\'';
	if (!quote) {
		memcpy(d, s, len);
		return d + len;
	}
	/* double every '"'; a JSON payload has many, so no memchr() per run */
	while (s < end) {
		if (end - s >= 8 && swar_eq(swar_load(s), '"') == 0) {
			memcpy(d, s, 8);
			d += 8;
			s += 8;
			continue;
		}
		if ((*d++ = *s++) == '"')
			*d++ = '"';
	}
	*d++ = '"';
	return d;
}

void
encode_csv_cell(struct buf *out, const char *s, size_t len)
{
	char *d;

	if (s == NULL)
		return;
	buf_grow(out, csv_cell_room(len));
	d = put_csv_cell(out->data + out->len, s, len);
	*d = '\0';
	out->len = (size_t)(d - out->data);
}

int
encode_csv_row(const struct sanitize_rules *r, const struct export_row *row,
    struct buf *out, struct buf *scratch)
{
	const char *v[NTEXT];
	size_t idlen, len[NTEXT], room, i;
	char *d;

	if (!valid_id(row->id))
		return -1;
	buf_reset(scratch);
	if (row->payload != NULL && sanitize_json_text(r, row->payload,
	    row->payload_len, scratch) == -1)
		return -1;
	row_texts(row, v);
	/* reserve once: id, the cells, their commas, the payload, CRLF */
	idlen = strlen(row->id);
	room = idlen + NTEXT + 1 + csv_cell_room(scratch->len) + 2;
	for (i = 0; i < NTEXT; i++) {
		len[i] = v[i] ? strlen(v[i]) : 0;
		room += csv_cell_room(len[i]);
	}
	buf_grow(out, room);
	d = out->data + out->len;
	memcpy(d, row->id, idlen);
	d += idlen;
	for (i = 0; i < NTEXT; i++) {
		*d++ = ',';
		if (v[i] != NULL)
			d = put_csv_cell(d, v[i], len[i]);
	}
	*d++ = ',';
	if (row->payload != NULL)
		d = put_csv_cell(d, scratch->data, scratch->len);
	memcpy(d, "\r\n", 2);
	d += 2;
	*d = '\0';
	out->len = (size_t)(d - out->data);
	return 0;
}
