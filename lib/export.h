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
 *                     query, cursor, job id);
 *   export_http.c     the HTTP-facing parts: signed download URLs on the
 *                     route path EXPORT_ROUTE, Range headers, file names;
 *   export.c          the jobs: creating, reading, listing, cancelling,
 *                     access checks, the job's JSON, recording downloads.
 * Calls run one way: export.c uses export_request.c; neither calls
 * export_http.c, which ops-fcgi calls (docs/development.md, "Layers").
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
#include "export_request.h"
#include "rbac.h"
#include "sanitize.h"

/*
 * The route path of the export API, the one place it is written: the
 * route table (fcgi/routes.c), the Location of a created job and signed
 * download URLs are built on it.
 */
#define EXPORT_ROUTE	"/api/ops/audit-exports"

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
	EXPORT_E_DB,		/* database failure: see db->err */
	EXPORT_E_STORED,	/* a stored job cannot be read (its filters):
				 * logged with the cause, answered as 500 */
	EXPORT_E_INVALID	/* the request is invalid: see its details */
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
 * How a job is rendered. The core builds no URL: for a DONE job the actor
 * may download, "result.download_url" is download_url(arg, id, sub) (a new
 * JSON string, or JSON null), and JSON null when download_url is NULL.
 * ops-fcgi passes its signer (fcgi/h_exports.c over export_download_url()).
 */
struct export_view {
	json_t		*(*download_url)(const void *arg, const char *id,
			    const char *sub);
	const void	*arg;
};

/*
 * Read one job as the API's JSON, checking that actor may see it (cap
 * EXPORT_READ). *job is a new reference on EXPORT_OK. *state_out (may be
 * NULL) gets the job's state for Retry-After.
 */
enum export_outcome export_job_get(struct db *db,
	    const struct export_actor *actor, const char *id,
	    const struct export_view *view, json_t **job, char state_out[16]);
/*
 * The same in two halves, for a caller that runs the statement itself (the
 * poll lane's pipelined session, fcgi/lane.h): export_job_get_stmt() with
 * the id as its one parameter (an id that fails export_id_valid() names no
 * job: EXPORT_E_NOT_FOUND without asking), then export_job_from_result()
 * on its successful result.
 */
const struct db_stmt *export_job_get_stmt(void);
enum export_outcome export_job_from_result(const PGresult *res,
	    const struct export_actor *actor, const struct export_view *view,
	    json_t **job, char state_out[16]);

/*
 * The job as a poll shows it but without result.download_url, from a copy
 * of its tb_audit_export_job row as JSON (to_jsonb(row): the webhook
 * outbox's job_snapshot, sql/migrations/0011_webhooks.sql). *job is a new
 * reference on EXPORT_OK; EXPORT_E_STORED when the copy cannot be shown.
 */
enum export_outcome export_job_snapshot_json(struct db *db,
	    const char *row_json, json_t **job);

/*
 * List jobs newest first, limited to what actor may see. *out is
 * {"items":[...],"next_cursor":...}. Returns EXPORT_OK, EXPORT_E_TENANT
 * (asked for a tenant outside the scope) or EXPORT_E_DB. Validate q with
 * export_list_query_check() first.
 */
enum export_outcome export_job_list(struct db *db,
	    const struct export_actor *actor, const struct export_list_query *q,
	    const struct export_view *view, json_t **out);

/*
 * Cancel: PENDING ends as FAILED EXPORT_CANCELLED at once; RUNNING gets
 * cancel_requested and the runner stops between chunks. Terminal states
 * give EXPORT_E_CONFLICT. On EXPORT_OK *job is the job's JSON.
 */
enum export_outcome export_job_cancel(struct db *db,
	    const struct sanitize_rules *rules,
	    const struct export_actor *actor, const char *id,
	    const struct export_view *view, json_t **job);

/*
 * Bulk cancel (POST EXPORT_ROUTE/cancel): every PENDING job, and every
 * RUNNING one not yet asked to stop, that matches req and that actor may
 * cancel, in one transaction, each as export_job_cancel() does it.
 * requested_by "me" is the actor. *out is {"cancelled": N, "ids": [...]}.
 * EXPORT_OK, EXPORT_E_TENANT (req->tenant_id outside the actor's read
 * scope), EXPORT_E_DB.
 */
enum export_outcome export_jobs_cancel(struct db *db,
	    const struct sanitize_rules *rules,
	    const struct export_actor *actor,
	    const struct export_cancel_request *req, json_t **out);

/*
 * Retry job orig: a new job with its parameters, over (the request body,
 * may be NULL) laid over them (export_retry_body()), retry_of = orig,
 * requested by actor. EXPORT_CREATED or EXPORT_REPLAYED with id_out;
 * EXPORT_E_NOT_FOUND (no such job, or not readable by actor),
 * EXPORT_E_CONFLICT (orig is PENDING or RUNNING), EXPORT_E_INVALID with
 * *details (a new array), and export_job_create()'s outcomes.
 */
enum export_outcome export_job_retry(struct db *db,
	    const struct ops_config *cfg, const struct sanitize_rules *rules,
	    const struct export_actor *actor, const char *orig,
	    const json_t *over, const char *idem_key,
	    char id_out[EXPORT_ID_LEN + 1], json_t **details);

/* Signed download URLs: HMAC-SHA256 over "id\nsub\nexpires". */
void	export_url_sign(const char *secret, const char *id, const char *sub,
	    long long expires, char sig_out[65]);
/* True when sig is right and expires is in [now, now + max_ttl]. */
bool	export_url_verify(const char *secret, const char *id, const char *sub,
	    long long expires, const char *sig, time_t now, int max_ttl);
/*
 * export_url_verify() with export.download_secret, then with each secret of
 * export.download_secret_verify (verify-only: a rotation rolls the new
 * secret out to every host there before any host signs with it, and keeps
 * the old one there until the last URL it signed has expired; see
 * runbooks/key-rotation.md), and, until export.download_secret_previous_until,
 * with the previous secret too (the overlap of a single-host rotation).
 */
bool	export_download_url_verify(const struct ops_config *cfg,
	    const char *id, const char *sub, long long expires, const char *sig,
	    time_t now);
/*
 * The signed download URL of job id for principal sub, valid for
 * export.download_url_ttl_seconds from now, as a new JSON string (JSON
 * null when no export.download_secret is configured). Called by ops-fcgi
 * (through struct export_view), never by export.c.
 */
json_t	*export_download_url(const struct ops_config *cfg, time_t now,
	    const char *id, const char *sub);

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

#endif
