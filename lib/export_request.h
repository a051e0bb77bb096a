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
	char		 retry_of[EXPORT_ID_LEN + 1];	/* "" = not a retry */
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

/*
 * The create body of a retry: base (the original job's parameters as a
 * create body) with the members of over (the retry's body; may be NULL)
 * laid over it. Only from, to, format, compression, max_rows, max_bytes
 * and max_duration_seconds may be given; -1 with *details (a new array
 * naming each other member, or "body" when over is not an object)
 * otherwise. On 0, *out is a new object to pass to export_request_parse().
 */
int	export_retry_body(const json_t *base, const json_t *over, json_t **out,
	    json_t **details);

/* A bulk cancel after validation: ids, or a filter (NULL = any). */
#define EXPORT_CANCEL_MAX_IDS	200
struct export_cancel_request {
	char		 ids[EXPORT_CANCEL_MAX_IDS][EXPORT_ID_LEN + 1];
	size_t		 nids;
	char		 state[16];		/* "" = PENDING and RUNNING */
	char		 tenant_id[129];	/* "" = any */
	char		 requested_by[256];	/* "" = any; "me" kept */
};

/*
 * Validate a bulk cancel body: {"ids": [uuid, ...]} (1 to 200) or at least
 * one of "state" (PENDING or RUNNING, any case), "tenant_id",
 * "requested_by"; not both. 0, or -1 with *details (new array) naming
 * each bad field.
 */
int	export_cancel_request_parse(const json_t *body,
	    struct export_cancel_request *req, json_t **details);

/*
 * List filters as the client gave them (NULL = any); cursor is the opaque
 * next_cursor value. requested_by "me" is the caller (resolved by
 * export_job_list()). export_list_query_check() fills the canonical
 * members below the line from them.
 */
struct export_list_query {
	const char	*state;		/* case-insensitive */
	const char	*tenant_id;
	const char	*requested_by;
	const char	*created_from;	/* RFC 3339 */
	const char	*created_to;
	const char	*error_code;
	const char	*id_prefix;
	const char	*cursor;
	int		 limit;
	/* filled by export_list_query_check() */
	char		 state_canon[16];	/* "" = any */
	char		 from_us[24], to_us[24];	/* "" = unbounded */
	char		 id_lo[EXPORT_ID_LEN + 1], id_hi[EXPORT_ID_LEN + 1];
};

/* The query parameters of the job list (NULL-terminated). */
extern const char *const export_list_params[];

/*
 * Validate list parameters and fill the canonical members; -1 with
 * *details (new array, one entry per bad parameter) when bad.
 */
int	export_list_query_check(struct export_list_query *q, json_t **details);

/* "done", "Done", "DONE" -> "DONE"; false for anything not a state. */
bool	export_state_parse(const char *s, char out[16]);

/*
 * The id range of a job id prefix: 1 to 36 characters of a canonical
 * UUID's text (hex digits in either case, '-' exactly where a UUID has
 * them). lo and hi are the smallest and largest ids with that prefix, in
 * lower case. False when s is not such a prefix.
 */
bool	export_id_prefix_range(const char *s, char lo[EXPORT_ID_LEN + 1],
	    char hi[EXPORT_ID_LEN + 1]);

/*
 * An RFC 3339 time as epoch microseconds in decimal (for a bigint
 * parameter), within years 1..9999. False when it is not one.
 */
bool	export_time_param(const char *s, char out[24]);

/* A tenant id: 1 to 128 of [A-Za-z0-9._-]. */
bool	export_tenant_valid(const char *s);

/* An error or event code: [A-Z][A-Z0-9_]{0,max-1}. */
bool	export_code_valid(const char *s, size_t max);
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
