/*
 * encode: export row encoders (contract section 5, formats jsonl and csv).
 *
 * Every function appends to a caller-owned struct buf and keeps no state, so
 * one output buffer can be reused across rows (no per-row allocation once it
 * has grown). Input pointers are borrowed; nothing is retained.
 *
 * Both formats are UTF-8; the text fields are assumed to be valid UTF-8 (the
 * database encoding is UTF8), the payload is validated by the sanitizer.
 */
#ifndef OPS_ENCODE_H
#define OPS_ENCODE_H

#include <stddef.h>

#include "buf.h"
#include "sanitize.h"

/*
 * One audit_log row as split from a COPY line (see pgcopy.h): borrowed,
 * NUL-terminated fields; NULL means SQL NULL. payload is payload_len bytes
 * of JSON text (need not be NUL-terminated).
 */
struct export_row {
	const char	*id;
	const char	*tenant_id;
	const char	*occurred_at;
	const char	*actor_id;
	const char	*action;
	const char	*target_type;
	const char	*target_id;
	const char	*ip;
	const char	*request_id;
	const char	*payload;
	size_t		 payload_len;
};

/*
 * Append one JSON line, keys in this order:
 *   {"id":<number>,"tenant_id":..,"occurred_at":..,"actor_id":..,
 *    "action":..,"target_type":..,"target_id":..,"ip":..,"request_id":..,
 *    "payload":<sanitized compact JSON>}\n
 * Text fields are JSON strings, or null when NULL (any of them, although the
 * schema only allows it for actor_id, target_*, ip and request_id); a NULL
 * payload is null. Returns -1, leaving out as it was, when id is not a
 * decimal integer (-?[0-9]+ without leading zeros; NULL included) or the
 * payload is not valid JSON.
 */
int	 encode_jsonl_row(const struct sanitize_rules *r,
	    const struct export_row *row, struct buf *out);

/*
 * CSV, RFC 4180: append the header row
 *   id,tenant_id,occurred_at,actor_id,action,target_type,target_id,ip,
 *   request_id,payload CRLF
 * once per file, then one record per row (columns in the jsonl key order,
 * CRLF line ends). id is written as is (validated as in jsonl; the schema's
 * bigserial ids are positive, so it is never neutralized); every other cell,
 * including the payload (its sanitized compact JSON text), goes through
 * encode_csv_cell(). NULL is an empty cell, an empty string is "".
 * scratch is a caller-owned buffer reused for the sanitized payload (its
 * contents afterwards are unspecified). Returns -1, leaving out as it was,
 * when id or the payload is invalid.
 */
void	 encode_csv_header(struct buf *out);
int	 encode_csv_row(const struct sanitize_rules *r,
	    const struct export_row *row, struct buf *out, struct buf *scratch);

/*
 * Append s (len bytes, valid UTF-8 assumed) as a quoted JSON string: '"' and
 * '\\' escaped, control characters as \b \f \n \r \t or \u00XX, everything
 * else (including non-ASCII and '/') verbatim.
 */
void	 encode_json_string(struct buf *out, const char *s, size_t len);

/*
 * Append one CSV cell holding s (len bytes):
 *  - formula neutralization: a cell whose first byte is '=', '+', '-', '@',
 *    TAB or CR gets a leading '\'' (so spreadsheets show it as text);
 *  - quoting: the cell is enclosed in '"' (inner '"' doubled) when it holds
 *    '"', ',', CR or LF, or when it starts or ends with a space (so readers
 *    that trim unquoted cells keep it), or when it is empty (so "" is told
 *    apart from NULL);
 *  - s == NULL (SQL NULL) appends nothing: an empty unquoted cell.
 */
void	 encode_csv_cell(struct buf *out, const char *s, size_t len);

#endif
