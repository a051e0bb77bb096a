/*
 * routes: the one table that maps method and path pattern to a handler.
 *
 * Patterns are literal segments and "{name}" segments that capture one
 * non-empty path segment into request.params, in order. A path that matches
 * no pattern is 404 NOT_FOUND; a path that matches with another method is
 * 405 METHOD_NOT_ALLOWED with an Allow header listing the methods it has.
 */
#ifndef OPS_ROUTES_H
#define OPS_ROUTES_H

#include <stdio.h>

#include "export.h"
#include "request.h"

typedef void (*route_handler)(struct request *r);

struct route {
	const char	*method;
	const char	*pattern;
	route_handler	 handler;
};

/*
 * Match path against pattern. On a match returns true and stores up to
 * maxp captured segments (malloc'd, caller frees) in params, their count in
 * *np. On no match returns false and captures nothing.
 */
bool	route_match(const char *pattern, const char *path, char **params,
	    size_t maxp, size_t *np);

/* Find the handler for r and run it (or answer 404/405). */
void	route_dispatch(struct request *r);
/*
 * The handler route_dispatch() would run for r, with r->params filled, or
 * NULL (404 or 405; nothing filled).
 */
route_handler route_find(struct request *r);

/* Print the table as "METHOD<TAB>PATTERN" lines (ops-fcgi --routes). */
void	route_print(FILE *out);

/* Handlers, one file per concern. */
void	h_healthz(struct request *r);
void	h_readyz(struct request *r);
void	h_status(struct request *r);
void	h_metrics(struct request *r);
void	h_export_create(struct request *r);
void	h_export_list(struct request *r);
void	h_export_get(struct request *r);
/*
 * The poll (h_export_get) in two halves, for the lane (fcgi/lane.h), which
 * runs the statement between them on its own session: begin authenticates
 * and fills a and v (-1: answered already); end answers the outcome of
 * export_job_get() or export_job_from_result() (job stolen).
 */
int	h_export_get_begin(struct request *r, struct export_actor *a,
	    struct export_view *v);
void	h_export_get_end(struct request *r, enum export_outcome o,
	    json_t *job, const char *state);
void	h_export_cancel(struct request *r);
void	h_export_download(struct request *r);
void	h_export_events(struct request *r);
void	h_export_retry(struct request *r);
void	h_export_cancel_many(struct request *r);
void	h_events_list(struct request *r);
void	h_status_history(struct request *r);
void	h_locks_list(struct request *r);
void	h_lock_release(struct request *r);
void	h_webhook_create(struct request *r);
void	h_webhook_list(struct request *r);
void	h_webhook_delete(struct request *r);
void	h_webhook_rotate(struct request *r);
void	h_webhook_deliveries(struct request *r);
void	h_webhook_redeliver(struct request *r);

#endif
