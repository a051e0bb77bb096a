/*
 * request: one FastCGI request as the handlers see it, and the ways to
 * answer it.
 *
 * A worker thread owns one struct request at a time; everything it points to
 * lives until request_finish(). Handlers answer exactly once with one of the
 * resp_* functions (the first answer wins; later ones are dropped and logged),
 * so a handler can "return resp_error(...)" from any depth.
 */
#ifndef OPS_REQUEST_H
#define OPS_REQUEST_H

#include <fcgiapp.h>
#include <jansson.h>
#include <stdbool.h>

#include "auth.h"
#include "jwks.h"
#include "config.h"
#include "db.h"
#include "rbac.h"
#include "sanitize.h"

/* What every worker shares: read-only after start-up. */
struct app {
	const struct ops_config		*cfg;
	struct jwks			*keys;	/* rotate: lib/jwks.h */
	struct auth_policy		 policy;
	const struct sanitize_rules	*rules;
	char				 host[128];
};

#define REQUEST_MAX_PARAMS	4

struct request {
	FCGX_Request		*fx;
	const struct app	*app;
	struct db		*db;		/* the worker's connection */

	const char		*method;
	char			 path[1024];	/* decoded, without query */
	const char		*query;		/* raw, may be "" */
	char			 request_id[64];
	/* path parameters captured by the route pattern ({id}, {name}) */
	char			*params[REQUEST_MAX_PARAMS];
	size_t			 nparams;

	struct auth_principal	 who;		/* valid after request_auth() */
	bool			 authenticated;

	int			 status;	/* answered with, 0 = not yet */
};

void	request_init(struct request *r, FCGX_Request *fx, const struct app *app,
	    struct db *db);
/* Free what the request owns (principal, params). */
void	request_finish(struct request *r);

/* A request header by its CGI name ("HTTP_IDEMPOTENCY_KEY"), or NULL. */
const char *request_param(const struct request *r, const char *name);

/*
 * Look up a query-string parameter (URL-decoded into out). Returns 1 when
 * present, 0 when absent, -1 when malformed or longer than outsz - 1.
 */
int	request_query(const struct request *r, const char *name, char *out,
	    size_t outsz);

/*
 * Check the names of the query parameters against known (NULL-terminated):
 * each unknown name, each name given twice and each name that is not 1 to
 * 64 printable ASCII characters adds a detail ({"field": name, "issue"})
 * to details. Returns the number of details added.
 */
int	request_query_check(const struct request *r, const char *const *known,
	    json_t *details);

/*
 * A query-string integer: an optional '-' and 1 to 19 decimal digits (no
 * space, no '+'), range-checked against [min, max] before the caller
 * narrows it. Returns 1 with *out set when present and in range, 0 when
 * absent (*out untouched), -1 when malformed or out of range.
 */
int	request_query_int(const struct request *r, const char *name,
	    long long min, long long max, long long *out);

/*
 * A list's "limit": *limit set when present and an int, -1 when malformed
 * or out of int's range (the list's own check says 1..200 in its message),
 * untouched when absent.
 */
void	request_query_limit(const struct request *r, int *limit);

/*
 * A query-string string into buf (bufsz bytes): *out = buf when present;
 * untouched when absent; a detail naming it in details when malformed or
 * too long.
 */
void	request_query_str(const struct request *r, const char *name,
	    char *buf, size_t bufsz, const char **out, json_t *details);

/*
 * Read the JSON body: checks Content-Type (415), size (413) and syntax
 * (400 MALFORMED_JSON); an empty body is MALFORMED_JSON. On failure the
 * answer is sent and -1 returned; on success *out is a new reference.
 */
int	request_read_json(struct request *r, json_t **out);

/*
 * Authenticate the bearer token (401 AUTH_* on failure) and check that the
 * caller's roles grant cap at some scope (403 FORBIDDEN otherwise). Returns
 * 0, or -1 after answering.
 */
int	request_auth(struct request *r, enum rbac_cap cap);

/* Send body with status; body is stolen. extra is more header lines
 * ("Name: value\r\n...") or NULL. */
void	resp_json(struct request *r, int status, json_t *body,
	    const char *extra);
/* Send the standard error for code; message may be NULL; details stolen. */
void	resp_error(struct request *r, const char *code, const char *message,
	    json_t *details);
void	resp_error_h(struct request *r, const char *code, const char *message,
	    json_t *details, const char *extra);
/* Answer after a failed db call: DB_UNAVAILABLE (503) or INTERNAL_ERROR. */
void	resp_db_error(struct request *r);
/* Send a text body (for /metrics). */
void	resp_text(struct request *r, int status, const char *content_type,
	    const char *body, size_t len);
/*
 * Start a streamed answer: writes status and headers (which must include
 * Content-Type) and returns the stream to write the body to.
 */
FCGX_Stream *resp_begin(struct request *r, int status, const char *headers);

#endif
