/*
 * xjson: building jansson values through one set of checked calls, in the
 * style of xalloc.h. Every json_object_set_new(), json_array_append_new()
 * and json_pack() in lib/, fcgi/ and jobs/ goes through these; none is a
 * bare statement whose result is dropped.
 *
 * A failure here is a BUG() (lib/bug.h) at the caller's file:line that
 * says what failed: jansson fails only when out of memory, on a NULL value
 * (a constructor that failed: json_string() of bytes that are not UTF-8),
 * a key that is not UTF-8, or a json_pack() format that does not match its
 * arguments, so a caller must hand over valid UTF-8 (lib/utf8.h) and
 * matching arguments. The message of a failed pack is jansson's own
 * ("NULL object", "Invalid UTF-8 string", "Out of memory") with the format.
 *
 * xjson_set() and xjson_push() steal the reference to v, as
 * json_object_set_new() and json_array_append_new() do; json_pack()'s "o"
 * steals as jansson's does.
 */
#ifndef OPS_XJSON_H
#define OPS_XJSON_H

#include <jansson.h>

/* o[key] = v */
#define xjson_set(o, key, v)	xjson_set_at(__FILE__, __LINE__, (o), (key), (v))
/* append v to the array a */
#define xjson_push(a, v)	xjson_push_at(__FILE__, __LINE__, (a), (v))
/* json_pack(fmt, ...), never NULL */
#define xjson_pack(...)		xjson_pack_at(__FILE__, __LINE__, __VA_ARGS__)

void	xjson_set_at(const char *file, int line, json_t *o, const char *key,
	    json_t *v);
void	xjson_push_at(const char *file, int line, json_t *a, json_t *v);
json_t	*xjson_pack_at(const char *file, int line, const char *fmt, ...);

#endif
