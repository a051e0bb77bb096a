#include "routes.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "export.h"
#include "webhook.h"
#include "xalloc.h"

/* Keep in step with docs/api/openapi.yaml (spec_consistency_check). */
static const struct route route_table[] = {
	{ "GET",	"/healthz",			h_healthz },
	{ "GET",	"/readyz",			h_readyz },
	{ "GET",	"/metrics",			h_metrics },
	{ "GET",	"/api/ops/status",		h_status },
	{ "GET",	"/api/ops/status/history",	h_status_history },
	{ "GET",	"/api/ops/events",		h_events_list },
	{ "POST",	EXPORT_ROUTE,			h_export_create },
	{ "POST",	EXPORT_ROUTE "/cancel",		h_export_cancel_many },
	{ "GET",	EXPORT_ROUTE,			h_export_list },
	{ "GET",	EXPORT_ROUTE "/{id}",		h_export_get },
	{ "DELETE",	EXPORT_ROUTE "/{id}",		h_export_cancel },
	{ "GET",	EXPORT_ROUTE "/{id}/download",	h_export_download },
	{ "GET",	EXPORT_ROUTE "/{id}/events",	h_export_events },
	{ "POST",	EXPORT_ROUTE "/{id}/retry",	h_export_retry },
	{ "GET",	"/api/ops/scheduler/locks",	h_locks_list },
	{ "POST",	"/api/ops/scheduler/locks/{name}/release", h_lock_release },
	{ "POST",	WEBHOOK_ROUTE,			h_webhook_create },
	{ "GET",	WEBHOOK_ROUTE,			h_webhook_list },
	{ "DELETE",	WEBHOOK_ROUTE "/{id}",		h_webhook_delete },
	{ "POST",	WEBHOOK_ROUTE "/{id}/rotate-secret", h_webhook_rotate },
	{ "GET",	WEBHOOK_ROUTE "/{id}/deliveries", h_webhook_deliveries },
	{ "POST",	WEBHOOK_ROUTE "/{id}/deliveries/{delivery_id}/redeliver",
	    h_webhook_redeliver },
};

#define NROUTES	(sizeof(route_table) / sizeof(route_table[0]))

/* Length of the segment at s (up to '/' or end). */
static size_t
seglen(const char *s)
{
	const char *slash = strchr(s, '/');

	return slash ? (size_t)(slash - s) : strlen(s);
}

bool
route_match(const char *pattern, const char *path, char **params, size_t maxp,
    size_t *np)
{
	size_t n = 0;

	*np = 0;
	if (*pattern != '/' || *path != '/')
		return false;
	while (*pattern == '/' && *path == '/') {
		size_t pl, sl;

		pattern++;
		path++;
		pl = seglen(pattern);
		sl = seglen(path);
		if (pl > 2 && pattern[0] == '{' && pattern[pl - 1] == '}') {
			if (sl == 0 || n == maxp)
				goto nomatch;
			params[n] = xstrndup(path, sl);
			n++;
		} else if (pl != sl || strncmp(pattern, path, pl) != 0) {
			goto nomatch;
		}
		pattern += pl;
		path += sl;
	}
	if (*pattern != '\0' || *path != '\0')
		goto nomatch;
	*np = n;
	return true;
nomatch:
	while (n > 0)
		free(params[--n]);
	return false;
}

route_handler
route_find(struct request *r)
{
	char *params[REQUEST_MAX_PARAMS];
	size_t np;

	for (size_t i = 0; i < NROUTES; i++) {
		const struct route *rt = &route_table[i];

		if (!route_match(rt->pattern, r->path, params,
		    REQUEST_MAX_PARAMS, &np))
			continue;
		if (strcmp(rt->method, r->method) == 0 ||
		    (strcmp(r->method, "HEAD") == 0 &&
		    strcmp(rt->method, "GET") == 0)) {
			memcpy(r->params, params, np * sizeof(char *));
			r->nparams = np;
			return rt->handler;
		}
		while (np > 0)
			free(params[--np]);
	}
	return NULL;
}

void
route_dispatch(struct request *r)
{
	struct buf allow = BUF_INIT;
	route_handler h;
	char *params[REQUEST_MAX_PARAMS];
	size_t np;

	if ((h = route_find(r)) != NULL) {
		h(r);
		return;
	}
	/* 404, or 405 with the methods the path has */
	for (size_t i = 0; i < NROUTES; i++) {
		if (!route_match(route_table[i].pattern, r->path, params,
		    REQUEST_MAX_PARAMS, &np))
			continue;
		while (np > 0)
			free(params[--np]);
		buf_appendf(&allow, "%s%s", allow.len ? ", " : "",
		    route_table[i].method);
	}
	if (allow.len) {
		struct buf hdr = BUF_INIT;

		buf_appendf(&hdr, "Allow: %s\r\n", allow.data);
		resp_error_h(r, "METHOD_NOT_ALLOWED", NULL, NULL, hdr.data);
		buf_free(&hdr);
	} else {
		resp_error(r, "NOT_FOUND", NULL, NULL);
	}
	buf_free(&allow);
}

void
route_print(FILE *out)
{
	for (size_t i = 0; i < NROUTES; i++)
		fprintf(out, "%s\t%s\n", route_table[i].method,
		    route_table[i].pattern);
}
