#include "export.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "date.h"
#include "digest.h"
#include "errors.h"
#include "events.h"
#include "log.h"
#include "rbac.h"
#include "storage.h"
#include "xalloc.h"
#include "xjson.h"

/*
 * The columns job_row_json() reads, in this order. Timestamps come as epoch
 * microseconds and are formatted in C (date.h): to_char() and
 * regexp_replace() per column cost the database more than the lookup.
 */
#define US(col) "(extract(epoch FROM " col ") * 1000000)::bigint"
#define JOB_COLS \
	"id, tenant_id, requested_by, state, format, " \
	US("range_from") ", " US("range_to") ", filters::text, " \
	US("created_at") ", " US("started_at") ", " US("finished_at") ", " \
	US("expires_at") ", attempt, " \
	"progress_rows, progress_bytes, progress_chunks, max_rows, max_bytes, " \
	"max_duration_seconds, total_rows, total_bytes, sha256, error_code, " \
	"error_message, cancel_requested, compression, " \
	"CASE compression WHEN 'none' THEN progress_bytes " \
	"ELSE progress_uncompressed_bytes END, " \
	"coalesce(total_uncompressed_bytes, total_bytes), retry_of"

enum {
	C_ID, C_TENANT, C_BY, C_STATE, C_FORMAT, C_FROM, C_TO, C_FILTERS,
	C_CREATED, C_STARTED, C_FINISHED, C_EXPIRES, C_ATTEMPT, C_PROWS,
	C_PBYTES, C_PCHUNKS, C_MAXROWS, C_MAXBYTES, C_MAXDUR, C_TROWS,
	C_TBYTES, C_SHA, C_ECODE, C_EMSG, C_CANCEL, C_COMPRESSION, C_PUBYTES,
	C_TUBYTES, C_RETRY_OF
};

/* The hot statements: prepared once per connection (db_query_stmt). */
static const struct db_stmt job_get_stmt = {
	"ops_export_job_get",
	"SELECT " JOB_COLS " FROM tb_audit_export_job WHERE id = $1", 1
};
static const struct db_stmt job_get_locked_stmt = {
	"ops_export_job_get_locked",
	"SELECT " JOB_COLS " FROM tb_audit_export_job WHERE id = $1 "
	"FOR UPDATE", 1
};
/*
 * The list's filters but state and the cursor, from parameter N on:
 * tenant, requested_by, created_from and created_to (epoch microseconds),
 * error_code, and the id range of an id prefix.
 */
#define TS(n)	"(timestamptz 'epoch' + $" n "::bigint * interval '1 microsecond')"
#define LIST_FILTERS(a, b, c, d, e, f, g) \
	"($" a "::text IS NULL OR tenant_id = $" a ") " \
	"AND ($" b "::text IS NULL OR requested_by = $" b ") " \
	"AND ($" c "::bigint IS NULL OR created_at >= " TS(c) ") " \
	"AND ($" d "::bigint IS NULL OR created_at < " TS(d) ") " \
	"AND ($" e "::text IS NULL OR (state = 'FAILED' AND error_code = $" e \
	")) AND ($" f "::uuid IS NULL OR id BETWEEN $" f "::uuid AND $" g \
	"::uuid) "
static const struct db_stmt job_list_stmt = {
	"ops_export_job_list",
	"SELECT " JOB_COLS " FROM tb_audit_export_job "
	"WHERE ($1::text IS NULL OR state = $1) "
	"AND ($2::bigint IS NULL OR (created_at, id) < (" TS("2") ", $3::uuid)) "
	"AND " LIST_FILTERS("5", "6", "7", "8", "9", "10", "11")
	"ORDER BY created_at DESC, id DESC LIMIT $4", 11
};
static const struct db_stmt job_counts_stmt = {
	"ops_export_job_counts",
	"SELECT state, count(*) FROM tb_audit_export_job WHERE "
	LIST_FILTERS("1", "2", "3", "4", "5", "6", "7") "GROUP BY state", 7
};

/* The columns export_file_get() reads, in this order. */
#define FILE_COLS \
	"id, tenant_id, requested_by, state, format, " \
	"to_char(range_from AT TIME ZONE 'UTC', 'YYYYMMDD\"T\"HH24MISS\"Z\"'), " \
	"to_char(range_to AT TIME ZONE 'UTC', 'YYYYMMDD\"T\"HH24MISS\"Z\"'), " \
	"coalesce(sha256, ''), coalesce(total_bytes, 0), " \
	"coalesce(total_rows, 0), (state = 'DONE' AND expires_at <= now()), " \
	"compression"

enum {
	F_ID, F_TENANT, F_BY, F_STATE, F_FORMAT, F_FROM, F_TO, F_SHA, F_BYTES,
	F_ROWS, F_EXPIRED, F_COMPRESSION
};

const char *
export_outcome_code(enum export_outcome o)
{
	switch (o) {
	case EXPORT_E_NOT_FOUND:	return "EXPORT_NOT_FOUND";
	case EXPORT_E_FORBIDDEN:	return "FORBIDDEN";
	case EXPORT_E_TENANT:		return "TENANT_FORBIDDEN";
	case EXPORT_E_CONFLICT:		return "EXPORT_STATE_CONFLICT";
	case EXPORT_E_IDEMPOTENCY:	return "IDEMPOTENCY_CONFLICT";
	case EXPORT_E_TOO_MANY:		return "EXPORT_TOO_MANY_ACTIVE";
	case EXPORT_E_DB:		return "INTERNAL_ERROR";
	case EXPORT_E_STORED:		return "INTERNAL_ERROR";
	case EXPORT_E_INVALID:		return "VALIDATION_FAILED";
	default:			return NULL;
	}
}

/* ---- access ------------------------------------------------------------ */

static const char *const *
roles_of(const struct export_actor *a, size_t *n)
{
	*n = a->who->nroles;
	return (const char *const *)a->who->roles;
}

/*
 * Can the actor do cap on a job of (tenant, requested_by)? A job the actor
 * may not even read does not exist for them (404); one they may read but
 * not act on is 403.
 */
enum export_outcome
export_access(const struct export_actor *a, enum rbac_cap cap,
    const char *tenant, const char *requested_by)
{
	const char *const *roles;
	size_t n;

	roles = roles_of(a, &n);
	if (!rbac_allows(roles, n, a->who->sub, a->who->tenant_id,
	    CAP_EXPORT_READ, tenant, requested_by))
		return EXPORT_E_NOT_FOUND;
	if (cap != CAP_EXPORT_READ && !rbac_allows(roles, n, a->who->sub,
	    a->who->tenant_id, cap, tenant, requested_by))
		return EXPORT_E_FORBIDDEN;
	return EXPORT_OK;
}

/* ---- rendering --------------------------------------------------------------- */

static json_t *
text_or_null(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return json_null();
	return json_string(PQgetvalue(res, row, col));
}

/*
 * An epoch-microseconds column as RFC 3339 UTC text, the fraction only when
 * it is not zero and without trailing zeros ("2026-11-26T09:30:00Z",
 * "...:00.51Z"), or null.
 */
static json_t *
time_or_null(const PGresult *res, int row, int col)
{
	char out[DATE_RFC3339_MAX];
	long long us;
	int n;

	if (PQgetisnull(res, row, col))
		return json_null();
	us = strtoll(PQgetvalue(res, row, col), NULL, 10);
	n = date_format_rfc3339(us, DATE_FRAC_SHORT, out, sizeof(out));
	if (n < 0)
		return json_null();	/* outside years 1..9999: never stored */
	return json_stringn(out, (size_t)n);
}

static json_t *
int_or_null(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return json_null();
	return json_integer(strtoll(PQgetvalue(res, row, col), NULL, 10));
}

static json_t *
job_row_json(const PGresult *res, int row, const struct export_actor *a,
    const struct export_view *view)
{
	const char *state = PQgetvalue(res, row, C_STATE);
	json_t *filters, *job;
	char why[256];

	if (export_filters_load(PQgetvalue(res, row, C_FILTERS), &filters, why,
	    sizeof(why)) != 0) {
		log_kv(LOG_ERROR, "job_id", PQgetvalue(res, row, C_ID),
		    "cannot show export job: %s; fix or delete the job's row",
		    why);
		return NULL;
	}
	job = xjson_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:o, "
	    "s:o, s:o, s:o, s:o, s:{s:o, s:o, s:o, s:o}, s:{s:o, s:o, s:o}}",
	    "id", PQgetvalue(res, row, C_ID),
	    "tenant_id", PQgetvalue(res, row, C_TENANT),
	    "state", state,
	    "format", PQgetvalue(res, row, C_FORMAT),
	    "compression", PQgetvalue(res, row, C_COMPRESSION),
	    "from", time_or_null(res, row, C_FROM),
	    "to", time_or_null(res, row, C_TO),
	    "filters", filters,
	    "requested_by", PQgetvalue(res, row, C_BY),
	    "created_at", time_or_null(res, row, C_CREATED),
	    "started_at", time_or_null(res, row, C_STARTED),
	    "finished_at", time_or_null(res, row, C_FINISHED),
	    "expires_at", time_or_null(res, row, C_EXPIRES),
	    "attempt", int_or_null(res, row, C_ATTEMPT),
	    "progress",
	    "rows", int_or_null(res, row, C_PROWS),
	    "bytes", int_or_null(res, row, C_PBYTES),
	    "chunks", int_or_null(res, row, C_PCHUNKS),
	    "uncompressed_bytes", int_or_null(res, row, C_PUBYTES),
	    "limits",
	    "max_rows", int_or_null(res, row, C_MAXROWS),
	    "max_bytes", int_or_null(res, row, C_MAXBYTES),
	    "max_duration_seconds", int_or_null(res, row, C_MAXDUR));
	if (strcmp(state, "DONE") == 0) {
		json_t *result = xjson_pack("{s:o, s:o, s:o, s:o}",
		    "rows", int_or_null(res, row, C_TROWS),
		    "bytes", int_or_null(res, row, C_TBYTES),
		    "uncompressed_bytes", int_or_null(res, row, C_TUBYTES),
		    "sha256", text_or_null(res, row, C_SHA));
		/* no view (a webhook's copy): no download_url at all */
		if (view != NULL) {
			bool may = export_access(a, CAP_EXPORT_DOWNLOAD,
			    PQgetvalue(res, row, C_TENANT),
			    PQgetvalue(res, row, C_BY)) == EXPORT_OK;

			xjson_set(result, "download_url",
			    may && view->download_url ?
			    view->download_url(view->arg,
			    PQgetvalue(res, row, C_ID), a->who->sub) :
			    json_null());
		}
		xjson_set(job, "result", result);
	}
	if (strcmp(state, "FAILED") == 0)
		xjson_set(job, "error", xjson_pack("{s:o, s:o}",
		    "code", text_or_null(res, row, C_ECODE),
		    "message", text_or_null(res, row, C_EMSG)));
	if (strcmp(state, "RUNNING") == 0 &&
	    strcmp(PQgetvalue(res, row, C_CANCEL), "t") == 0)
		xjson_set(job, "cancel_requested", json_true());
	xjson_set(job, "retry_of", text_or_null(res, row, C_RETRY_OF));
	return job;
}

enum export_outcome
export_job_snapshot_json(struct db *db, const char *row_json, json_t **job)
{
	const char *p[] = { row_json };
	PGresult *res;

	*job = NULL;
	res = db_query(db, "SELECT " JOB_COLS " FROM jsonb_populate_record("
	    "NULL::tb_audit_export_job, $1::jsonb)", 1, p);
	if (res == NULL)
		return EXPORT_E_DB;
	if (PQntuples(res) == 1)
		*job = job_row_json(res, 0, NULL, NULL);
	PQclear(res);
	return *job ? EXPORT_OK : EXPORT_E_STORED;
}

/* ---- create ------------------------------------------------------------------ */

static int
write_job_events(struct db *db, const struct sanitize_rules *rules,
    const struct export_actor *a, const char *type, const char *severity,
    const char *tenant, const char *id, json_t *data)
{
	struct ops_event ev = {
		.type = type, .severity = severity, .source = a->source,
		.tenant_id = tenant, .subject_type = "audit_export",
		.subject_id = id, .request_id = a->request_id, .data = data,
		.actor_id = a->who->sub, .ip = a->ip
	};

	return events_record(db, rules, &ev);
}

/* Inside the create transaction: an existing job for the key, if any. */
static enum export_outcome
idempotent_lookup(struct db *db, const struct export_actor *a,
    const struct export_request *req, const char *key, char id_out[])
{
	const char *p[] = { req->tenant_id, a->who->sub, key };
	enum export_outcome o = EXPORT_OK;
	PGresult *res;

	res = db_query(db, "SELECT id, request_hash FROM tb_audit_export_job "
	    "WHERE tenant_id = $1 AND requested_by = $2 AND "
	    "idempotency_key = $3", 3, p);
	if (res == NULL)
		return EXPORT_E_DB;
	if (PQntuples(res) == 1) {
		if (strcmp(PQgetvalue(res, 0, 1), req->request_hash) == 0) {
			snprintf(id_out, EXPORT_ID_LEN + 1, "%s",
			    PQgetvalue(res, 0, 0));
			o = EXPORT_REPLAYED;
		} else {
			o = EXPORT_E_IDEMPOTENCY;
		}
	}
	PQclear(res);
	return o;
}

static enum export_outcome
active_count_check(struct db *db, const struct ops_config *cfg,
    const char *tenant)
{
	const char *p[] = { tenant };
	PGresult *res;
	long long n;

	res = db_query(db, "SELECT count(*) FROM tb_audit_export_job WHERE "
	    "tenant_id = $1 AND state IN ('PENDING', 'RUNNING')", 1, p);
	if (res == NULL)
		return EXPORT_E_DB;
	n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return n >= cfg->export.max_active_per_tenant ? EXPORT_E_TOO_MANY :
	    EXPORT_OK;
}

enum export_outcome
export_job_create(struct db *db, const struct ops_config *cfg,
    const struct sanitize_rules *rules, const struct export_actor *a,
    const struct export_request *req, const char *idem_key,
    char id_out[EXPORT_ID_LEN + 1])
{
	const char *const *roles;
	enum export_outcome o;
	char maxr[24], maxb[24], maxd[16], attempts[16];
	char *filters = NULL;
	PGresult *res;
	size_t n;

	roles = roles_of(a, &n);
	if (!rbac_allows(roles, n, a->who->sub, a->who->tenant_id,
	    CAP_EXPORT_CREATE, req->tenant_id, a->who->sub))
		return EXPORT_E_TENANT;
	if (db_begin(db) != 0)
		return EXPORT_E_DB;
	/* one creator per tenant at a time: the cap and the key are exact */
	{
		const char *p[] = { req->tenant_id };

		if (db_exec(db, "SELECT pg_advisory_xact_lock(hashtextextended("
		    "'ops-export:' || $1, 0))", 1, p) != 0)
			goto dberr;
	}
	if (idem_key && (o = idempotent_lookup(db, a, req, idem_key,
	    id_out)) != EXPORT_OK) {
		if (o == EXPORT_E_DB)
			goto dberr;
		db_rollback(db);
		return o;
	}
	if ((o = active_count_check(db, cfg, req->tenant_id)) != EXPORT_OK) {
		if (o == EXPORT_E_DB)
			goto dberr;
		db_rollback(db);
		return o;
	}
	snprintf(maxr, sizeof(maxr), "%lld", req->max_rows);
	snprintf(maxb, sizeof(maxb), "%lld", req->max_bytes);
	snprintf(maxd, sizeof(maxd), "%d", req->max_duration_seconds);
	snprintf(attempts, sizeof(attempts), "%d", cfg->export.max_attempts);
	filters = xnonnull(json_dumps(req->filters, JSON_COMPACT |
	    JSON_SORT_KEYS));
	{
		const char *p[] = { req->tenant_id, a->who->sub, req->format,
		    req->from, req->to, filters, maxr, maxb, maxd, attempts,
		    idem_key, req->request_hash, a->request_id,
		    compress_codec_name(req->compression),
		    req->retry_of[0] ? req->retry_of : NULL };

		res = db_query(db, "INSERT INTO tb_audit_export_job (tenant_id, "
		    "requested_by, state, format, range_from, range_to, "
		    "filters, max_rows, max_bytes, max_duration_seconds, "
		    "max_attempts, idempotency_key, request_hash, request_id, "
		    "compression, retry_of) VALUES ($1, $2, 'PENDING', $3, $4, "
		    "$5, $6::jsonb, $7, $8, $9, $10, $11, $12, $13, $14, "
		    "$15::uuid) RETURNING id", 15, p);
	}
	if (res == NULL)
		goto dberr;
	snprintf(id_out, EXPORT_ID_LEN + 1, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	{
		json_t *data = xjson_pack("{s:s, s:s, s:s, s:s, s:O, s:I, s:I}",
		    "format", req->format, "compression",
		    compress_codec_name(req->compression), "from", req->from,
		    "to", req->to,
		    "filters", req->filters, "max_rows",
		    (json_int_t)req->max_rows, "max_bytes",
		    (json_int_t)req->max_bytes);
		int rc;

		if (req->retry_of[0])
			xjson_set(data, "retry_of", json_string(req->retry_of));
		rc = write_job_events(db, rules, a, "EXPORT_REQUESTED",
		    "info", req->tenant_id, id_out, data);

		json_decref(data);
		if (rc != 0 || db_commit(db) != 0)
			goto dberr;
	}
	free(filters);
	log_kv(LOG_INFO, "job_id", id_out, "export requested by %s for "
	    "tenant %s", a->who->sub, req->tenant_id);
	return EXPORT_CREATED;
dberr:
	free(filters);
	db_rollback(db);
	return EXPORT_E_DB;
}

/* ---- read, list ------------------------------------------------------------- */

static PGresult *
job_select(struct db *db, const char *id, bool for_update)
{
	const char *p[] = { id };

	return db_query_stmt(db, for_update ? &job_get_locked_stmt :
	    &job_get_stmt, p);
}

/* May the actor read the job row res holds (none: EXPORT_E_NOT_FOUND)? */
static enum export_outcome
row_readable(const PGresult *res, const struct export_actor *a)
{
	if (PQntuples(res) == 0)
		return EXPORT_E_NOT_FOUND;
	return export_access(a, CAP_EXPORT_READ, PQgetvalue(res, 0, C_TENANT),
	    PQgetvalue(res, 0, C_BY));
}

/*
 * Job id's row, when the actor may read it: EXPORT_OK and *res (the caller
 * clears it), or the outcome that says why not, and *res NULL.
 */
static enum export_outcome
job_readable(struct db *db, const struct export_actor *a, const char *id,
    PGresult **res)
{
	enum export_outcome o;

	*res = NULL;
	if (!export_id_valid(id))
		return EXPORT_E_NOT_FOUND;
	if ((*res = job_select(db, id, false)) == NULL)
		return EXPORT_E_DB;
	if ((o = row_readable(*res, a)) != EXPORT_OK) {
		PQclear(*res);
		*res = NULL;
	}
	return o;
}

const struct db_stmt *
export_job_get_stmt(void)
{
	return &job_get_stmt;
}

enum export_outcome
export_job_from_result(const PGresult *res, const struct export_actor *a,
    const struct export_view *view, json_t **job, char state_out[16])
{
	enum export_outcome o;

	*job = NULL;
	if ((o = row_readable(res, a)) != EXPORT_OK)
		return o;
	if ((*job = job_row_json(res, 0, a, view)) == NULL)
		return EXPORT_E_STORED;
	if (state_out)
		snprintf(state_out, 16, "%s", PQgetvalue(res, 0, C_STATE));
	return EXPORT_OK;
}

enum export_outcome
export_job_get(struct db *db, const struct export_actor *a, const char *id,
    const struct export_view *view, json_t **job, char state_out[16])
{
	enum export_outcome o;
	PGresult *res;

	*job = NULL;
	if (!export_id_valid(id))
		return EXPORT_E_NOT_FOUND;
	if ((res = job_select(db, id, false)) == NULL)
		return EXPORT_E_DB;
	o = export_job_from_result(res, a, view, job, state_out);
	PQclear(res);
	return o;
}

/* {"PENDING": n, ...} for the list's filters without state and cursor. */
static json_t *
job_counts(struct db *db, const char *const p[7])
{
	json_t *counts;
	PGresult *res;

	if ((res = db_query_stmt(db, &job_counts_stmt, p)) == NULL)
		return NULL;
	counts = xjson_pack("{s:i, s:i, s:i, s:i, s:i}", "PENDING", 0,
	    "RUNNING", 0, "DONE", 0, "FAILED", 0, "EXPIRED", 0);
	for (int i = 0; i < PQntuples(res); i++)
		xjson_set(counts, PQgetvalue(res, i, 0), json_integer(
		    strtoll(PQgetvalue(res, i, 1), NULL, 10)));
	PQclear(res);
	return counts;
}

enum export_outcome
export_job_list(struct db *db, const struct export_actor *a,
    const struct export_list_query *q, const struct export_view *view,
    json_t **out)
{
	const char *tenant = q->tenant_id, *by = q->requested_by;
	const char *const *roles;
	char us_s[24] = "", id[EXPORT_ID_LEN + 1] = "", lim[16];
	json_t *items, *counts;
	PGresult *res;
	long long us;
	size_t n;
	int rows;

	*out = NULL;
	roles = roles_of(a, &n);
	if (rbac_scope_for(roles, n, CAP_EXPORT_READ) < SCOPE_ANY) {
		/* own tenant only */
		if (a->who->tenant_id == NULL)
			return EXPORT_E_TENANT;
		if (tenant && strcmp(tenant, a->who->tenant_id) != 0)
			return EXPORT_E_TENANT;
		tenant = a->who->tenant_id;
	}
	if (by && strcmp(by, "me") == 0)
		by = a->who->sub;
	if (q->cursor && export_cursor_parse(q->cursor, &us, id))
		snprintf(us_s, sizeof(us_s), "%lld", us);
	snprintf(lim, sizeof(lim), "%d", q->limit + 1);
#define NZ(s)	((s)[0] ? (s) : NULL)
	{
		const char *p[] = { NZ(q->state_canon), NZ(us_s), NZ(id), lim,
		    tenant, by, NZ(q->from_us), NZ(q->to_us), q->error_code,
		    NZ(q->id_lo), NZ(q->id_hi) };

		if ((counts = job_counts(db, p + 4)) == NULL)
			return EXPORT_E_DB;
		res = db_query_stmt(db, &job_list_stmt, p);
	}
#undef NZ
	if (res == NULL) {
		json_decref(counts);
		return EXPORT_E_DB;
	}
	items = json_array();
	rows = PQntuples(res);
	for (int i = 0; i < rows && i < q->limit; i++) {
		json_t *job = job_row_json(res, i, a, view);

		if (job == NULL) {
			json_decref(items);
			json_decref(counts);
			PQclear(res);
			return EXPORT_E_STORED;
		}
		xjson_push(items, job);
	}
	*out = xjson_pack("{s:o, s:o, s:n}", "items", items, "counts", counts,
	    "next_cursor");
	if (rows > q->limit) {
		struct buf c = BUF_INIT;

		buf_appendf(&c, "%s.%s", PQgetvalue(res, q->limit - 1,
		    C_CREATED), PQgetvalue(res, q->limit - 1, C_ID));
		xjson_set(*out, "next_cursor", json_string(c.data));
		buf_free(&c);
	}
	PQclear(res);
	return EXPORT_OK;
}

/* ---- cancel --------------------------------------------------------------------- */

/*
 * Cancel job id (locked FOR UPDATE by the caller, in state) inside the
 * caller's transaction, writing what a cancel writes: a PENDING job ends
 * FAILED EXPORT_CANCELLED with its EXPORT_FAILED event; a RUNNING one gets
 * cancel_requested (its runner ends it and writes the event).
 * EXPORT_OK, EXPORT_E_CONFLICT (any other state), EXPORT_E_DB.
 */
static enum export_outcome
cancel_locked(struct db *db, const struct sanitize_rules *rules,
    const struct export_actor *a, const char *id, const char *tenant,
    const char *state)
{
	const char *p[] = { id, a->who->sub };
	int rc;

	if (strcmp(state, "PENDING") == 0) {
		json_t *data = xjson_pack("{s:s, s:s, s:s}", "code",
		    "EXPORT_CANCELLED", "cancelled_by", a->who->sub,
		    "state_before", state);

		rc = db_exec(db, "UPDATE tb_audit_export_job SET state = "
		    "'FAILED', cancel_requested = true, error_code = "
		    "'EXPORT_CANCELLED', error_message = 'cancelled by ' "
		    "|| $2, finished_at = now() WHERE id = $1", 2, p);
		if (rc == 0)
			rc = write_job_events(db, rules, a, "EXPORT_FAILED",
			    "info", tenant, id, data);
		json_decref(data);
	} else if (strcmp(state, "RUNNING") == 0) {
		rc = db_exec(db, "UPDATE tb_audit_export_job SET "
		    "cancel_requested = true WHERE id = $1", 1, p);
	} else {
		return EXPORT_E_CONFLICT;
	}
	return rc == 0 ? EXPORT_OK : EXPORT_E_DB;
}

enum export_outcome
export_job_cancel(struct db *db, const struct sanitize_rules *rules, const struct export_actor *a,
    const char *id, const struct export_view *view, json_t **job)
{
	enum export_outcome o;
	char tenant[160], state[16];
	PGresult *res;

	*job = NULL;
	if (!export_id_valid(id))
		return EXPORT_E_NOT_FOUND;
	if (db_begin(db) != 0)
		return EXPORT_E_DB;
	if ((res = job_select(db, id, true)) == NULL)
		goto dberr;
	if (PQntuples(res) == 0) {
		PQclear(res);
		db_rollback(db);
		return EXPORT_E_NOT_FOUND;
	}
	o = export_access(a, CAP_EXPORT_CANCEL, PQgetvalue(res, 0, C_TENANT),
	    PQgetvalue(res, 0, C_BY));
	snprintf(tenant, sizeof(tenant), "%s", PQgetvalue(res, 0, C_TENANT));
	snprintf(state, sizeof(state), "%s", PQgetvalue(res, 0, C_STATE));
	PQclear(res);
	if (o != EXPORT_OK) {
		db_rollback(db);
		return o;
	}
	if ((o = cancel_locked(db, rules, a, id, tenant, state)) != EXPORT_OK) {
		db_rollback(db);
		return o;
	}
	/* answer with the job as the cancel left it, before a runner moves on */
	if ((o = export_job_get(db, a, id, view, job, NULL)) != EXPORT_OK) {
		db_rollback(db);
		return o == EXPORT_E_STORED ? o : EXPORT_E_DB;
	}
	if (db_commit(db) != 0) {
		json_decref(*job);
		*job = NULL;
		goto dberr;
	}
	return EXPORT_OK;
dberr:
	db_rollback(db);
	return EXPORT_E_DB;
}

enum export_outcome
export_jobs_cancel(struct db *db, const struct sanitize_rules *rules,
    const struct export_actor *a, const struct export_cancel_request *req,
    json_t **out)
{
	const char *const *roles;
	const char *tenant = req->tenant_id[0] ? req->tenant_id : NULL;
	const char *by = req->requested_by[0] ? req->requested_by : NULL;
	const char *own_tenant = NULL, *own_sub = NULL;
	struct buf idlist = BUF_INIT;
	bool any = false;
	json_t *ids;
	PGresult *res;
	size_t n;

	*out = NULL;
	roles = roles_of(a, &n);
	if (tenant && rbac_scope_for(roles, n, CAP_EXPORT_READ) < SCOPE_ANY &&
	    (a->who->tenant_id == NULL || strcmp(tenant,
	    a->who->tenant_id) != 0))
		return EXPORT_E_TENANT;
	if (by && strcmp(by, "me") == 0)
		by = a->who->sub;
	/* the jobs this caller may cancel: each role on its own (rbac.h) */
	for (size_t i = 0; i < n; i++) {
		int r = rbac_role_parse(roles[i]);
		enum rbac_scope sc;

		if (r < 0)
			continue;
		sc = rbac_role_scope((enum rbac_role)r, CAP_EXPORT_CANCEL);
		if (sc == SCOPE_ANY)
			any = true;
		else if (sc == SCOPE_OWN_TENANT)
			own_tenant = a->who->tenant_id;
		else if (sc == SCOPE_OWN_REQUESTS)
			own_sub = a->who->sub;
	}
	if (req->nids > 0) {
		buf_appendf(&idlist, "{");
		for (size_t i = 0; i < req->nids; i++)
			buf_appendf(&idlist, "%s%s", i ? "," : "", req->ids[i]);
		buf_appendf(&idlist, "}");
	}
	if (db_begin(db) != 0) {
		buf_free(&idlist);
		return EXPORT_E_DB;
	}
	{
		const char *p[] = { req->nids ? idlist.data : NULL,
		    req->state[0] ? req->state : NULL, tenant, by,
		    any ? "t" : "f", own_tenant, own_sub };

		/*
		 * FOR UPDATE re-reads a row another transaction changed
		 * meanwhile and drops it when it no longer matches: a job a
		 * runner finished first stays DONE and is not counted.
		 */
		res = db_query(db, "SELECT id, tenant_id, state FROM "
		    "tb_audit_export_job WHERE (state = 'PENDING' OR "
		    "(state = 'RUNNING' AND NOT cancel_requested)) "
		    "AND ($1::uuid[] IS NULL OR id = ANY ($1::uuid[])) "
		    "AND ($2::text IS NULL OR state = $2) "
		    "AND ($3::text IS NULL OR tenant_id = $3) "
		    "AND ($4::text IS NULL OR requested_by = $4) "
		    "AND ($5::boolean OR tenant_id = $6 OR requested_by = $7) "
		    "ORDER BY created_at DESC, id DESC FOR UPDATE", 7, p);
	}
	buf_free(&idlist);
	if (res == NULL)
		goto dberr;
	ids = json_array();
	for (int i = 0; i < PQntuples(res); i++) {
		if (cancel_locked(db, rules, a, PQgetvalue(res, i, 0),
		    PQgetvalue(res, i, 1), PQgetvalue(res, i, 2)) != EXPORT_OK) {
			json_decref(ids);
			PQclear(res);
			goto dberr;
		}
		xjson_push(ids, json_string(PQgetvalue(res, i, 0)));
	}
	PQclear(res);
	if (db_commit(db) != 0) {
		json_decref(ids);
		goto dberr;
	}
	if (json_array_size(ids) > 0)
		log_kv(LOG_INFO, NULL, NULL, "%zu exports cancelled by %s in "
		    "one request", json_array_size(ids), a->who->sub);
	*out = xjson_pack("{s:I, s:o}", "cancelled",
	    (json_int_t)json_array_size(ids), "ids", ids);
	return EXPORT_OK;
dberr:
	db_rollback(db);
	return EXPORT_E_DB;
}

/* ---- retry ------------------------------------------------------------------------ */

/* The original job (row 0 of res) as a create body. NULL when its stored
 * filters cannot be read (logged). */
static json_t *
job_create_body(const PGresult *res)
{
	char from[DATE_RFC3339_MAX], to[DATE_RFC3339_MAX], why[160];
	json_t *body, *filters;
	const char *key;
	json_t *v;

	if (export_filters_load(PQgetvalue(res, 0, C_FILTERS), &filters, why,
	    sizeof(why)) != 0) {
		log_kv(LOG_ERROR, "job_id", PQgetvalue(res, 0, C_ID),
		    "cannot retry export job: %s", why);
		return NULL;
	}
	(void)date_format_rfc3339(strtoll(PQgetvalue(res, 0, C_FROM), NULL,
	    10), DATE_FRAC_MICRO, from, sizeof(from));
	(void)date_format_rfc3339(strtoll(PQgetvalue(res, 0, C_TO), NULL, 10),
	    DATE_FRAC_MICRO, to, sizeof(to));
	body = xjson_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}",
	    "tenant_id", PQgetvalue(res, 0, C_TENANT), "from", from, "to", to,
	    "format", PQgetvalue(res, 0, C_FORMAT),
	    "compression", PQgetvalue(res, 0, C_COMPRESSION),
	    "max_rows", (json_int_t)strtoll(PQgetvalue(res, 0, C_MAXROWS),
	    NULL, 10),
	    "max_bytes", (json_int_t)strtoll(PQgetvalue(res, 0, C_MAXBYTES),
	    NULL, 10),
	    "max_duration_seconds", (json_int_t)strtoll(PQgetvalue(res, 0,
	    C_MAXDUR), NULL, 10));
	json_object_foreach(filters, key, v)
		xjson_set(body, key, json_incref(v));
	json_decref(filters);
	return body;
}

enum export_outcome
export_job_retry(struct db *db, const struct ops_config *cfg,
    const struct sanitize_rules *rules, const struct export_actor *a,
    const char *orig, const json_t *over, const char *idem_key,
    char id_out[EXPORT_ID_LEN + 1], json_t **details)
{
	struct export_request req;
	enum export_outcome o;
	json_t *base, *body;
	PGresult *res;
	char state[16], hash[65];
	struct buf h = BUF_INIT;

	*details = NULL;
	if ((o = job_readable(db, a, orig, &res)) != EXPORT_OK)
		return o;
	snprintf(state, sizeof(state), "%s", PQgetvalue(res, 0, C_STATE));
	base = job_create_body(res);
	PQclear(res);
	if (base == NULL)
		return EXPORT_E_STORED;
	if (strcmp(state, "PENDING") == 0 || strcmp(state, "RUNNING") == 0) {
		json_decref(base);
		return EXPORT_E_CONFLICT;
	}
	if (export_retry_body(base, over, &body, details) != 0) {
		json_decref(base);
		return EXPORT_E_INVALID;
	}
	json_decref(base);
	if (export_request_parse(body, cfg, &req, details) != 0) {
		json_decref(body);
		return EXPORT_E_INVALID;
	}
	json_decref(body);
	/* one key, one (original, body): another original is a conflict */
	buf_appendf(&h, "retry\n%s\n%s", orig, req.request_hash);
	digest_sha256_hex(h.data, h.len, hash);
	buf_free(&h);
	memcpy(req.request_hash, hash, sizeof(hash));
	snprintf(req.retry_of, sizeof(req.retry_of), "%s", orig);
	o = export_job_create(db, cfg, rules, a, &req, idem_key, id_out);
	export_request_free(&req);
	return o;
}

/* ---- download -------------------------------------------------------------------- */

enum export_outcome
export_file_get(struct db *db, const char *id, struct export_file *f)
{
	const char *p[] = { id };
	PGresult *res;

	memset(f, 0, sizeof(*f));
	if (!export_id_valid(id))
		return EXPORT_E_NOT_FOUND;
	res = db_query(db, "SELECT " FILE_COLS " FROM tb_audit_export_job "
	    "WHERE id = $1", 1, p);
	if (res == NULL)
		return EXPORT_E_DB;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return EXPORT_E_NOT_FOUND;
	}
	snprintf(f->id, sizeof(f->id), "%s", PQgetvalue(res, 0, F_ID));
	snprintf(f->tenant_id, sizeof(f->tenant_id), "%s",
	    PQgetvalue(res, 0, F_TENANT));
	snprintf(f->requested_by, sizeof(f->requested_by), "%s",
	    PQgetvalue(res, 0, F_BY));
	snprintf(f->state, sizeof(f->state), "%s", PQgetvalue(res, 0, F_STATE));
	snprintf(f->format, sizeof(f->format), "%s",
	    PQgetvalue(res, 0, F_FORMAT));
	snprintf(f->from, sizeof(f->from), "%s", PQgetvalue(res, 0, F_FROM));
	snprintf(f->to, sizeof(f->to), "%s", PQgetvalue(res, 0, F_TO));
	snprintf(f->sha256, sizeof(f->sha256), "%s", PQgetvalue(res, 0, F_SHA));
	f->total_bytes = strtoll(PQgetvalue(res, 0, F_BYTES), NULL, 10);
	f->total_rows = strtoll(PQgetvalue(res, 0, F_ROWS), NULL, 10);
	f->expired = strcmp(PQgetvalue(res, 0, F_EXPIRED), "t") == 0;
	if (compress_codec_parse(PQgetvalue(res, 0, F_COMPRESSION),
	    &f->compression) != 0)
		f->compression = COMPRESS_NONE;	/* the CHECK allows no other */
	PQclear(res);
	return EXPORT_OK;
}

int
export_record_download(struct db *db, const struct sanitize_rules *rules,
    const struct export_file *f, const char *actor_sub, const char *request_id,
    const char *ip, long long first, long long last, bool signed_url)
{
	json_t *data = xjson_pack("{s:I, s:I, s:I, s:s, s:b}", "first_byte",
	    (json_int_t)first, "last_byte", (json_int_t)last, "total_bytes",
	    (json_int_t)f->total_bytes, "sha256", f->sha256, "signed_url",
	    signed_url);
	struct ops_event ev = {
		.type = "EXPORT_DOWNLOADED", .severity = "info",
		.source = "ops-fcgi", .tenant_id = f->tenant_id,
		.subject_type = "audit_export", .subject_id = f->id,
		.request_id = request_id, .data = data, .actor_id = actor_sub,
		.ip = ip
	};
	int rc = -1;

	if (db_begin(db) == 0 && events_record(db, rules, &ev) == 0 &&
	    db_commit(db) == 0)
		rc = 0;
	else
		db_rollback(db);
	json_decref(data);
	return rc;
}

int
export_record_corrupt(struct db *db, const struct export_file *f, int seq,
    const char *request_id)
{
	json_t *data = xjson_pack("{s:i}", "seq", seq);
	struct ops_event ev = {
		.type = "EXPORT_CORRUPT", .severity = "critical",
		.source = "ops-fcgi", .tenant_id = f->tenant_id,
		.subject_type = "audit_export", .subject_id = f->id,
		.request_id = request_id, .data = data
	};
	int rc = events_record(db, NULL, &ev);

	json_decref(data);
	log_kv(LOG_ERROR, "job_id", f->id, "export chunk %d failed its "
	    "digest check: download aborted", seq);
	return rc;
}
