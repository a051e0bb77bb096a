#include "xjson.h"

#include <stdarg.h>

#include "bug.h"

void
xjson_set_at(const char *file, int line, json_t *o, const char *key,
    json_t *v)
{
	if (v == NULL)
		bug_at(file, line, "the JSON value of \"%s\" could not be built "
		    "(out of memory, or a string that is not UTF-8)", key);
	if (json_object_set_new(o, key, v) == -1)
		bug_at(file, line, "setting \"%s\" failed (not an object, a key "
		    "that is not UTF-8, or out of memory)", key);
}

void
xjson_push_at(const char *file, int line, json_t *a, json_t *v)
{
	if (v == NULL)
		bug_at(file, line, "a JSON array element could not be built "
		    "(out of memory, or a string that is not UTF-8)");
	if (json_array_append_new(a, v) == -1)
		bug_at(file, line, "appending to a JSON array failed (not an "
		    "array, or out of memory)");
}

json_t *
xjson_pack_at(const char *file, int line, const char *fmt, ...)
{
	json_error_t err;
	json_t *v;
	va_list ap;

	va_start(ap, fmt);
	v = json_vpack_ex(&err, 0, fmt, ap);
	va_end(ap);
	if (v == NULL)
		bug_at(file, line, "json_pack(\"%s\") failed: %s (at %s)", fmt,
		    err.text, err.source);
	return v;
}
