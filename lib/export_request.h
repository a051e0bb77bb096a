/*
 * export_request: validating what a client sends to the export API (the
 * create body, the list query and its cursor, a job id), implemented in
 * export_request.c. The lowest export module: it calls nothing of export.c
 * or export_http.c; export.h includes it.
 */
#ifndef OPS_EXPORT_REQUEST_H
#define OPS_EXPORT_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "compress.h"
#include "config.h"

#define EXPORT_ID_LEN	36	/* canonical UUID text */

/* A create request after validation; strings owned by the struct. */
struct export_request {
	char		*tenant_id;
	char		*from;		/* canonical RFC 3339 UTC, microseconds */
	char		*to;
	char		*format;	/* "jsonl" or "csv" */
	enum compress_codec compression;	/* default COMPRESS_NONE */
	json_t		*filters;	/* {"actions":[...],"actor_id":"..."} */
	long long	 max_rows;
	long long	 max_bytes;
	int		 max_duration_seconds;
	char		 request_hash[65];	/* SHA-256 of the canonical body */
};

/*
 * Validate a create body against the config's limits. On success returns 0
 * and fills req (free with export_request_free). On failure returns -1 and
 * *details is a new JSON array naming each bad field
 * ({"field": "...", "issue": "..."}).
 */
int	export_request_parse(const json_t *body, const struct ops_config *cfg,
	    struct export_request *req, json_t **details);
void	export_request_free(struct export_request *req);

/* List filters (NULL = any); cursor is the opaque next_cursor value. */
struct export_list_query {
	const char	*state;
	const char	*tenant_id;
	const char	*cursor;
	int		 limit;
};

/* Validate list parameters; -1 with *details (new array) when bad. */
int	export_list_query_check(const struct export_list_query *q,
	    json_t **details);
/*
 * Decode a next_cursor value (as export_job_list() made it) into the
 * created_at microseconds and id of the last job seen. False when it is
 * not one, including a time outside years 1..9999 (lib/date.h's range:
 * the list query must never reach PostgreSQL with a time it cannot hold).
 */
bool	export_cursor_parse(const char *c, long long *us,
	    char id[EXPORT_ID_LEN + 1]);

/*
 * Read a job's stored filters (tb_audit_export_job.filters as text) into
 * *out (a new JSON object). -1 with the cause in err when they are not a
 * JSON object this server can read (jansson refuses what PostgreSQL's jsonb
 * keeps, such as 1e400): never read as "no filters", which would export
 * rows the job did not ask for.
 */
int	export_filters_load(const char *text, json_t **out, char *err,
	    size_t errsz);

/* True when s is a canonical UUID (8-4-4-4-12 hex). */
bool	export_id_valid(const char *s);

#endif
