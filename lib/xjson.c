#include "xjson.h"

#include "xalloc.h"

void
xjson_set(json_t *o, const char *key, json_t *v)
{
	if (json_object_set_new(o, key, xnonnull(v)) == -1)
		xnonnull(NULL);
}

void
xjson_push(json_t *a, json_t *v)
{
	if (json_array_append_new(a, xnonnull(v)) == -1)
		xnonnull(NULL);
}
