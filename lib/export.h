/*
 * export: asynchronous audit-log export jobs (contract section 5).
 *
 * A request becomes a row in tb_audit_export_job (PENDING). A runner claims
 * it (RUNNING, with a lease), streams the matching audit_log rows in
 * (occurred_at, id) order through the sanitizer and an encoder into chunks
 * kept by ExportStorage, and finishes it (DONE, with rows, bytes and the
 * SHA-256 of the whole file) or fails it (FAILED, with a code). The cleaner
 * expires DONE jobs past their TTL (EXPIRED) and deletes their chunks.
 *
 * This header is the API side, implemented in three files by concern:
 *   export_request.c  validating what a client sends (create body, list
 *                     query, cursor);
 *   export_http.c     the HTTP-facing parts: signed download URLs on the
 *                     route path EXPORT_ROUTE, Range headers, file names;
 *   export.c          the jobs: creating, reading, listing, cancelling,
 *                     access checks, the job's JSON, recording downloads.
 * The runner's side is export_runner.h. Every function that changes a job
 * writes its events (ops_event and audit_log) in the same transaction.
 */
#ifndef OPS_EXPORT_H
#define OPS_EXPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

#include "auth.h"
#include "compress.h"
#include "config.h"
#include "db.h"
#include "rbac.h"
#include "sanitize.h"

#define EXPORT_ID_LEN	36	/* canonical UUID text */

/*
 * The route path of the export API, the one place it is written: the
 * route table (fcgi/routes.c), the Location of a created job and signed
 * download URLs are built on it.
 */
#define EXPORT_ROUTE	"/api/ops/audit-exports"

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

/* Who is asking: the authenticated principal plus the request context. */
struct export_actor {
	const struct auth_principal	*who;
	const char			*request_id;
	const char			*ip;		/* may be NULL */
	const char			*source;	/* "ops-fcgi", "opsctl" */
};

enum export_outcome {
	EXPORT_OK = 0,
	EXPORT_CREATED,		/* a new job */
	EXPORT_REPLAYED,	/* Idempotency-Key replay: the same job */
	EXPORT_E_NOT_FOUND,	/* no such job, or not visible to the caller */
	EXPORT_E_FORBIDDEN,	/* visible, but the role does not allow it */
	EXPORT_E_TENANT,	/* tenant outside the caller's scope */
	EXPORT_E_CONFLICT,	/* state does not allow it */
	EXPORT_E_IDEMPOTENCY,	/* same key, different body */
	EXPORT_E_TOO_MANY,	/* tenant has max_active_per_tenant jobs */
	EXPORT_E_DB		/* database failure: see db->err */
};

/* The API error code for an outcome (NULL for successes). */
const char *export_outcome_code(enum export_outcome o);

/*
 * Create a job (or replay one for the same Idempotency-Key and body).
 * idem_key may be NULL. On EXPORT_CREATED/EXPORT_REPLAYED, id_out gets the
 * job id.
 */
enum export_outcome export_job_create(struct db *db,
	    const struct ops_config *cfg, const struct sanitize_rules *rules,
	    const struct export_actor *actor, const struct export_request *req,
	    const char *idem_key, char id_out[EXPORT_ID_LEN + 1]);

/*
 * Options for rendering a job as JSON. A DONE job gets a fresh signed
 * download_url when the actor may download it.
 */
struct export_view {
	const struct ops_config	*cfg;
	time_t			 now;
};

/*
 * Read one job as the API's JSON, checking that actor may see it (cap
 * EXPORT_READ). *job is a new reference on EXPORT_OK. *state_out (may be
 * NULL) gets the job's state for Retry-After.
 */
enum export_outcome export_job_get(struct db *db,
	    const struct export_actor *actor, const char *id,
	    const struct export_view *view, json_t **job, char state_out[16]);

/* List filters (NULL = any); cursor is the opaque next_cursor value. */
struct export_list_query {
	const char	*state;
	const char	*tenant_id;
	const char	*cursor;
	int		 limit;
};

/*
 * List jobs newest first, limited to what actor may see. *out is
 * {"items":[...],"next_cursor":...}. Returns EXPORT_OK, EXPORT_E_TENANT
 * (asked for a tenant outside the scope) or EXPORT_E_DB. Validate q with
 * export_list_query_check() first.
 */
enum export_outcome export_job_list(struct db *db,
	    const struct export_actor *actor, const struct export_list_query *q,
	    const struct export_view *view, json_t **out);

/* Validate list parameters; -1 with *details (new array) when bad. */
int	export_list_query_check(const struct export_list_query *q,
	    json_t **details);
/*
 * Decode a next_cursor value (as export_job_list() made it) into the
 * created_at microseconds and id of the last job seen. False when it is
 * not one.
 */
bool	export_cursor_parse(const char *c, long long *us,
	    char id[EXPORT_ID_LEN + 1]);

/*
 * Cancel: PENDING ends as FAILED EXPORT_CANCELLED at once; RUNNING gets
 * cancel_requested and the runner stops between chunks. Terminal states
 * give EXPORT_E_CONFLICT. On EXPORT_OK *job is the job's JSON.
 */
enum export_outcome export_job_cancel(struct db *db,
	    const struct sanitize_rules *rules,
	    const struct export_actor *actor, const char *id,
	    const struct export_view *view, json_t **job);

/* Signed download URLs: HMAC-SHA256 over "id\nsub\nexpires". */
void	export_url_sign(const char *secret, const char *id, const char *sub,
	    long long expires, char sig_out[65]);
/* True when sig is right and expires is in [now, now + max_ttl]. */
bool	export_url_verify(const char *secret, const char *id, const char *sub,
	    long long expires, const char *sig, time_t now, int max_ttl);
/*
 * export_url_verify() with export.download_secret, and, until
 * export.download_secret_previous_until, with the previous secret too (the
 * overlap of a rotation: URLs signed before it keep working for their life).
 */
bool	export_download_url_verify(const struct ops_config *cfg,
	    const char *id, const char *sub, long long expires, const char *sig,
	    time_t now);
/*
 * The signed download URL of job id for principal sub, valid for
 * export.download_url_ttl_seconds from view->now, as a new JSON string
 * (JSON null when no export.download_secret is configured).
 */
json_t	*export_download_url(const struct export_view *view, const char *id,
	    const char *sub);

/* A job's file, as the download needs it. */
struct export_file {
	char		 id[EXPORT_ID_LEN + 1];
	char		 tenant_id[128];
	char		 requested_by[256];
	char		 state[16];
	char		 format[8];
	enum compress_codec compression;
	char		 from[40], to[40];	/* compact, for the filename */
	char		 sha256[65];
	long long	 total_bytes;
	long long	 total_rows;
	bool		 expired;		/* DONE but past expires_at */
};

/*
 * Look up the file of job id (no access check: the caller checks the
 * principal with rbac, or a signed URL). EXPORT_OK, EXPORT_E_NOT_FOUND or
 * EXPORT_E_DB.
 */
enum export_outcome export_file_get(struct db *db, const char *id,
	    struct export_file *f);

/*
 * Record a download (EXPORT_DOWNLOADED in ops_event and audit_log, one
 * transaction). 0 or -1.
 */
int	export_record_download(struct db *db, const struct sanitize_rules *rules,
	    const struct export_file *f, const char *actor_sub,
	    const char *request_id, const char *ip, long long first,
	    long long last, bool signed_url);

/* Record a chunk whose digest did not match (EXPORT_CORRUPT ops_event). */
int	export_record_corrupt(struct db *db, const struct export_file *f,
	    int seq, const char *request_id);

/*
 * May actor do cap on a job of (tenant, requested_by)? EXPORT_OK,
 * EXPORT_E_NOT_FOUND (may not even read it: never reveal it exists) or
 * EXPORT_E_FORBIDDEN (may read it, but not this).
 */
enum export_outcome export_access(const struct export_actor *actor,
	    enum rbac_cap cap, const char *tenant, const char *requested_by);

/*
 * Parse a Range header against a file of total bytes. Returns 0 when the
 * whole file is to be sent (no header, or one this server ignores: several
 * ranges, another unit), 1 with [*first, *last] for one satisfiable range,
 * -1 when it is unsatisfiable (416).
 */
int	export_range_parse(const char *hdr, long long total, long long *first,
	    long long *last);

/*
 * "audit-<tenant>-<from>-<to>-<id8>.<ext>[.gz|.zst]", safe for a header.
 */
void	export_filename(const struct export_file *f, char *out, size_t outsz);
/* The download's Content-Type: the codec's, else the format's. */
const char *export_content_type(const struct export_file *f);

/* True when s is a canonical UUID (8-4-4-4-12 hex). */
bool	export_id_valid(const char *s);

#endif
