/*
 * pgcopy: split PostgreSQL COPY ... TO STDOUT text-format lines.
 *
 * Works in place on a line the caller owns (for example the buffer
 * PQgetCopyData() returned, freed by the caller with PQfreemem()); the
 * field pointers point into it and live as long as it does.
 */
#ifndef OPS_PGCOPY_H
#define OPS_PGCOPY_H

#include <stddef.h>

/*
 * Split one COPY TEXT line of len bytes, which must end with '\n', into at
 * most maxf tab-separated fields, undoing the backslash escapes as
 * PostgreSQL's COPY FROM does: \b \f \n \r \t \v, \\, \NNN (1 to 3 octal
 * digits), \xHH (1 or 2 hex digits; "\x" not followed by a hex digit is
 * "x"), and any other backslash-char is the char itself. A field that is
 * exactly "\N" before unescaping is SQL NULL: fields[i] = NULL, lens[i] = 0.
 * Other fields are NUL-terminated in place; lens[i] is their length.
 *
 * Returns the number of fields (an empty line "\n" is one empty field), or
 * -1 when the line is malformed: no final '\n', a raw CR or LF inside it
 * (escaped by a backslash or not), a backslash right before the final '\n',
 * a NUL byte (raw or escaped: a
 * field could not be used as a C string), or more than maxf fields. On -1
 * the line may have been partly rewritten. Bytes are not checked for UTF-8
 * validity (the server sends its encoding, UTF8 for this product).
 */
int	pgcopy_split(char *line, size_t len, char **fields, size_t *lens,
	    size_t maxf);

#endif
