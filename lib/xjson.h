/*
 * xjson: building jansson values that cannot fail, in the style of
 * xalloc.h. jansson's constructors and setters fail only when out of
 * memory; these abort then ("fatal: out of memory", xnonnull()), so that
 * code building a JSON document needs no error path.
 *
 * Both steal the reference to v, as json_object_set_new() and
 * json_array_append_new() do; v may be a constructor's NULL result.
 */
#ifndef OPS_XJSON_H
#define OPS_XJSON_H

#include <jansson.h>

/* o[key] = v */
void	xjson_set(json_t *o, const char *key, json_t *v);
/* append v to the array a */
void	xjson_push(json_t *a, json_t *v);

#endif
