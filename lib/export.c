#include "export.h"

#include <ctype.h>
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

/* The columns job_row_json() reads, in this order. */
#define JOB_COLS \
	"id, tenant_id, requested_by, state, format, " \
	DB_SQL_RFC3339("range_from") ", " DB_SQL_RFC3339("range_to") ", filters::text, " \
	DB_SQL_RFC3339("created_at") ", " DB_SQL_RFC3339("started_at") ", " \
	DB_SQL_RFC3339("finished_at") ", " DB_SQL_RFC3339("expires_at") ", attempt, " \
	"progress_rows, progress_bytes, progress_chunks, max_rows, max_bytes, " \
	"max_duration_seconds, total_rows, total_bytes, sha256, error_code, " \
	"error_message, cancel_requested, " \
	"(extract(epoch FROM created_at) * 1000000)::bigint"

enum {
	C_ID, C_TENANT, C_BY, C_STATE, C_FORMAT, C_FROM, C_TO, C_FILTERS,
	C_CREATED, C_STARTED, C_FINISHED, C_EXPIRES, C_ATTEMPT, C_PROWS,
	C_PBYTES, C_PCHUNKS, C_MAXROWS, C_MAXBYTES, C_MAXDUR, C_TROWS,
	C_TBYTES, C_SHA, C_ECODE, C_EMSG, C_CANCEL, C_CREATED_US
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
	default:			return NULL;
	}
}

bool
export_id_valid(const char *s)
{
	static const int dash[] = { 8, 13, 18, 23 };

	if (s == NULL || strlen(s) != EXPORT_ID_LEN)
		return false;
	for (int i = 0; i < EXPORT_ID_LEN; i++) {
		bool want_dash = false;

		for (size_t k = 0; k < 4; k++)
			want_dash |= (i == dash[k]);
		if (want_dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

/* ---- validation ------------------------------------------------------- */

static void
add_issue(json_t *details, const char *field, const char *issue)
{
	json_array_append_new(details, error_detail(field, issue));
}

/* Token-ish text: tenant ids and the like. */
static bool
safe_ident(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

static bool
get_limit(const json_t *body, const char *field, long long cap,
    long long dflt, long long *out, json_t *details)
{
	const json_t *v = json_object_get(body, field);
	char msg[128];

	*out = dflt;
	if (v == NULL)
		return true;
	if (!json_is_integer(v)) {
		add_issue(details, field, "must be an integer");
		return false;
	}
	if (json_integer_value(v) < 1 || json_integer_value(v) > cap) {
		snprintf(msg, sizeof(msg), "must be between 1 and %lld", cap);
		add_issue(details, field, msg);
		return false;
	}
	*out = json_integer_value(v);
	return true;
}

static void
parse_time_field(const json_t *body, const char *field, char **out,
    int64_t *us, json_t *details)
{
	const json_t *v = json_object_get(body, field);
	char text[DATE_RFC3339_MAX];

	if (v == NULL) {
		add_issue(details, field, "is required");
	} else if (!json_is_string(v) ||
	    date_parse_rfc3339(json_string_value(v), us) != 0 ||
	    date_format_rfc3339(*us, true, text, sizeof(text)) < 0) {
		add_issue(details, field, "must be an RFC 3339 timestamp such "
		    "as 2026-11-01T00:00:00Z");
	} else {
		*out = xstrdup(text);
	}
}

static void
parse_filters(const json_t *body, struct export_request *req, json_t *details)
{
	const json_t *actions = json_object_get(body, "actions");
	const json_t *actor = json_object_get(body, "actor_id");
	bool ok = true;

	req->filters = json_object();
	if (actions != NULL) {
		size_t i;
		const json_t *a;

		if (!json_is_array(actions) || json_array_size(actions) == 0 ||
		    json_array_size(actions) > 50) {
			add_issue(details, "actions", "must be an array of 1 to "
			    "50 action names");
			ok = false;
		} else {
			json_array_foreach(actions, i, a) {
				if (!json_is_string(a) ||
				    json_string_length(a) == 0 ||
				    json_string_length(a) > 128) {
					add_issue(details, "actions", "each "
					    "action must be a non-empty string "
					    "of at most 128 characters");
					ok = false;
					break;
				}
			}
		}
		if (ok)
			json_object_set_new(req->filters, "actions",
			    json_deep_copy(actions));
	}
	if (actor != NULL) {
		if (!json_is_string(actor) || json_string_length(actor) == 0 ||
		    json_string_length(actor) > 256)
			add_issue(details, "actor_id", "must be a non-empty "
			    "string of at most 256 characters");
		else
			json_object_set_new(req->filters, "actor_id",
			    json_string(json_string_value(actor)));
	}
}

int
export_request_parse(const json_t *body, const struct ops_config *cfg,
    struct export_request *req, json_t **details_out)
{
	static const char *const known[] = { "tenant_id", "from", "to",
	    "format", "actions", "actor_id", "max_rows", "max_bytes",
	    "max_duration_seconds" };
	json_t *details = json_array();
	const char *key;
	const json_t *v;
	int64_t from_us = 0, to_us = 0;
	long long dur;
	char *canon;

	memset(req, 0, sizeof(*req));
	*details_out = NULL;
	if (!json_is_object(body)) {
		add_issue(details, "body", "must be a JSON object");
		*details_out = details;
		return -1;
	}
	json_object_foreach((json_t *)body, key, v) {
		bool found = false;

		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			found |= strcmp(key, known[i]) == 0;
		if (!found)
			add_issue(details, key, "is not a known field");
	}
	v = json_object_get(body, "tenant_id");
	if (v == NULL)
		add_issue(details, "tenant_id", "is required");
	else if (!json_is_string(v) || !safe_ident(json_string_value(v), 128))
		add_issue(details, "tenant_id", "must be 1 to 128 letters, "
		    "digits, '.', '_' or '-'");
	else
		req->tenant_id = xstrdup(json_string_value(v));

	parse_time_field(body, "from", &req->from, &from_us, details);
	parse_time_field(body, "to", &req->to, &to_us, details);
	if (req->from && req->to) {
		int64_t span = to_us - from_us;
		char msg[96];

		if (span <= 0) {
			add_issue(details, "to", "must be later than from");
		} else if (span > cfg->export.max_range_days * 86400LL *
		    DATE_US_PER_SEC) {
			snprintf(msg, sizeof(msg), "the range must be at most "
			    "%d days", cfg->export.max_range_days);
			add_issue(details, "to", msg);
		}
	}

	v = json_object_get(body, "format");
	if (v == NULL)
		add_issue(details, "format", "is required");
	else if (!json_is_string(v) || (strcmp(json_string_value(v), "jsonl") &&
	    strcmp(json_string_value(v), "csv")))
		add_issue(details, "format", "must be \"jsonl\" or \"csv\"");
	else
		req->format = xstrdup(json_string_value(v));

	parse_filters(body, req, details);
	(void)get_limit(body, "max_rows", cfg->export.max_rows_cap,
	    cfg->export.max_rows, &req->max_rows, details);
	(void)get_limit(body, "max_bytes", cfg->export.max_bytes_cap,
	    cfg->export.max_bytes, &req->max_bytes, details);
	(void)get_limit(body, "max_duration_seconds",
	    cfg->export.max_duration_seconds, cfg->export.max_duration_seconds,
	    &dur, details);
	req->max_duration_seconds = (int)dur;

	if (json_array_size(details) > 0) {
		export_request_free(req);
		*details_out = details;
		return -1;
	}
	json_decref(details);
	canon = xnonnull(json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS));
	digest_sha256_hex(canon, strlen(canon), req->request_hash);
	free(canon);
	return 0;
}

void
export_request_free(struct export_request *req)
{
	free(req->tenant_id);
	free(req->from);
	free(req->to);
	free(req->format);
	json_decref(req->filters);
	memset(req, 0, sizeof(*req));
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
static enum export_outcome
job_access(const struct export_actor *a, enum rbac_cap cap, const char *tenant,
    const char *requested_by)
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

/* ---- signed URLs ---------------------------------------------------------- */

void
export_url_sign(const char *secret, const char *id, const char *sub,
    long long expires, char sig_out[65])
{
	struct buf msg = BUF_INIT;
	unsigned char md[32];
	unsigned int mdlen = 0;

	buf_appendf(&msg, "%s\n%s\n%lld", id, sub, expires);
	if (HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    (const unsigned char *)msg.data, msg.len, md, &mdlen) == NULL ||
	    mdlen != 32)
		abort();
	digest_hex(md, 32, sig_out);
	buf_free(&msg);
}

bool
export_url_verify(const char *secret, const char *id, const char *sub,
    long long expires, const char *sig, time_t now, int max_ttl)
{
	char want[65];

	if (secret == NULL || sig == NULL || strlen(sig) != 64)
		return false;
	if (expires < (long long)now || expires > (long long)now + max_ttl)
		return false;
	export_url_sign(secret, id, sub, expires, want);
	return CRYPTO_memcmp(want, sig, 64) == 0;
}

/* Percent-encode s for a query string. */
static void
url_escape(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || strchr("-._~", c))
			buf_appendc(out, (char)c);
		else {
			buf_appendc(out, '%');
			buf_appendc(out, hex[c >> 4]);
			buf_appendc(out, hex[c & 15]);
		}
	}
}

static json_t *
download_url(const struct export_view *view, const char *id, const char *sub)
{
	const struct ops_config *cfg = view->cfg;
	long long exp = (long long)view->now +
	    cfg->export.download_url_ttl_seconds;
	struct buf url = BUF_INIT;
	char sig[65];
	json_t *j;

	if (cfg->export.download_secret == NULL)
		return json_null();
	export_url_sign(cfg->export.download_secret, id, sub, exp, sig);
	buf_appendf(&url, "%s/api/ops/audit-exports/%s/download?by=",
	    cfg->fcgi.public_base_url ? cfg->fcgi.public_base_url : "", id);
	url_escape(&url, sub);
	buf_appendf(&url, "&expires=%lld&sig=%s", exp, sig);
	j = json_string(url.data);
	buf_free(&url);
	return j;
}

/* ---- rendering --------------------------------------------------------------- */

static json_t *
text_or_null(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return json_null();
	return json_string(PQgetvalue(res, row, col));
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
	json_error_t jerr;

	filters = json_loads(PQgetvalue(res, row, C_FILTERS), 0, &jerr);
	job = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:o, s:o, "
	    "s:o, s:o, s:o, s:{s:o, s:o, s:o}, s:{s:o, s:o, s:o}}",
	    "id", PQgetvalue(res, row, C_ID),
	    "tenant_id", PQgetvalue(res, row, C_TENANT),
	    "state", state,
	    "format", PQgetvalue(res, row, C_FORMAT),
	    "from", text_or_null(res, row, C_FROM),
	    "to", text_or_null(res, row, C_TO),
	    "filters", filters ? filters : json_object(),
	    "requested_by", PQgetvalue(res, row, C_BY),
	    "created_at", text_or_null(res, row, C_CREATED),
	    "started_at", text_or_null(res, row, C_STARTED),
	    "finished_at", text_or_null(res, row, C_FINISHED),
	    "expires_at", text_or_null(res, row, C_EXPIRES),
	    "attempt", int_or_null(res, row, C_ATTEMPT),
	    "progress",
	    "rows", int_or_null(res, row, C_PROWS),
	    "bytes", int_or_null(res, row, C_PBYTES),
	    "chunks", int_or_null(res, row, C_PCHUNKS),
	    "limits",
	    "max_rows", int_or_null(res, row, C_MAXROWS),
	    "max_bytes", int_or_null(res, row, C_MAXBYTES),
	    "max_duration_seconds", int_or_null(res, row, C_MAXDUR));
	xnonnull(job);
	if (strcmp(state, "DONE") == 0) {
		json_t *result = json_pack("{s:o, s:o, s:o}",
		    "rows", int_or_null(res, row, C_TROWS),
		    "bytes", int_or_null(res, row, C_TBYTES),
		    "sha256", text_or_null(res, row, C_SHA));
		bool may = job_access(a, CAP_EXPORT_DOWNLOAD,
		    PQgetvalue(res, row, C_TENANT),
		    PQgetvalue(res, row, C_BY)) == EXPORT_OK;

		json_object_set_new(result, "download_url", may ?
		    download_url(view, PQgetvalue(res, row, C_ID),
		    a->who->sub) : json_null());
		json_object_set_new(job, "result", result);
	}
	if (strcmp(state, "FAILED") == 0)
		json_object_set_new(job, "error", json_pack("{s:o, s:o}",
		    "code", text_or_null(res, row, C_ECODE),
		    "message", text_or_null(res, row, C_EMSG)));
	if (strcmp(state, "RUNNING") == 0 &&
	    strcmp(PQgetvalue(res, row, C_CANCEL), "t") == 0)
		json_object_set_new(job, "cancel_requested", json_true());
	return job;
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
		.subject_id = id, .request_id = a->request_id, .data = data
	};
	struct audit_entry ae = {
		.tenant_id = tenant, .actor_id = a->who->sub, .action = type,
		.target_type = "audit_export", .target_id = id, .ip = a->ip,
		.request_id = a->request_id, .payload = data
	};

	if (events_write(db, &ev) != 0 || audit_write(db, rules, &ae) != 0)
		return -1;
	return 0;
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
	filters = json_dumps(req->filters, JSON_COMPACT | JSON_SORT_KEYS);
	{
		const char *p[] = { req->tenant_id, a->who->sub, req->format,
		    req->from, req->to, filters, maxr, maxb, maxd, attempts,
		    idem_key, req->request_hash, a->request_id };

		res = db_query(db, "INSERT INTO tb_audit_export_job (tenant_id, "
		    "requested_by, state, format, range_from, range_to, "
		    "filters, max_rows, max_bytes, max_duration_seconds, "
		    "max_attempts, idempotency_key, request_hash, request_id) "
		    "VALUES ($1, $2, 'PENDING', $3, $4, $5, $6::jsonb, $7, $8, "
		    "$9, $10, $11, $12, $13) RETURNING id", 13, p);
	}
	if (res == NULL)
		goto dberr;
	snprintf(id_out, EXPORT_ID_LEN + 1, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	{
		json_t *data = json_pack("{s:s, s:s, s:s, s:O, s:I, s:I}",
		    "format", req->format, "from", req->from, "to", req->to,
		    "filters", req->filters, "max_rows",
		    (json_int_t)req->max_rows, "max_bytes",
		    (json_int_t)req->max_bytes);
		int rc = write_job_events(db, rules, a, "EXPORT_REQUESTED",
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

	return db_query(db, for_update ?
	    "SELECT " JOB_COLS " FROM tb_audit_export_job WHERE id = $1 "
	    "FOR UPDATE" :
	    "SELECT " JOB_COLS " FROM tb_audit_export_job WHERE id = $1",
	    1, p);
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
	if (PQntuples(res) == 0) {
		PQclear(res);
		return EXPORT_E_NOT_FOUND;
	}
	o = job_access(a, CAP_EXPORT_READ, PQgetvalue(res, 0, C_TENANT),
	    PQgetvalue(res, 0, C_BY));
	if (o == EXPORT_OK) {
		*job = job_row_json(res, 0, a, view);
		if (state_out)
			snprintf(state_out, 16, "%s", PQgetvalue(res, 0,
			    C_STATE));
	}
	PQclear(res);
	return o;
}

static bool
state_valid(const char *s)
{
	static const char *const states[] = { "PENDING", "RUNNING", "DONE",
	    "FAILED", "EXPIRED" };

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (strcmp(s, states[i]) == 0)
			return true;
	return false;
}

/* Cursor "<created_at microseconds>.<uuid>"; fills us and id. */
static bool
cursor_parse(const char *c, long long *us, char id[EXPORT_ID_LEN + 1])
{
	const char *dot = strchr(c, '.');
	char *end;

	if (dot == NULL || dot == c)
		return false;
	errno = 0;
	*us = strtoll(c, &end, 10);
	if (errno || end != dot || !export_id_valid(dot + 1))
		return false;
	snprintf(id, EXPORT_ID_LEN + 1, "%s", dot + 1);
	return true;
}

int
export_list_query_check(const struct export_list_query *q, json_t **details)
{
	long long us;
	char id[EXPORT_ID_LEN + 1];

	*details = json_array();
	if (q->state && !state_valid(q->state))
		add_issue(*details, "state", "must be one of PENDING, RUNNING, "
		    "DONE, FAILED, EXPIRED");
	if (q->tenant_id && !safe_ident(q->tenant_id, 128))
		add_issue(*details, "tenant_id", "is not a valid tenant id");
	if (q->cursor && !cursor_parse(q->cursor, &us, id))
		add_issue(*details, "cursor", "is not a cursor returned by "
		    "this API");
	if (q->limit < 1 || q->limit > 200)
		add_issue(*details, "limit", "must be between 1 and 200");
	if (json_array_size(*details) == 0) {
		json_decref(*details);
		*details = NULL;
		return 0;
	}
	return -1;
}

enum export_outcome
export_job_list(struct db *db, const struct export_actor *a,
    const struct export_list_query *q, const struct export_view *view,
    json_t **out)
{
	const char *tenant = q->tenant_id, *const *roles;
	char us_s[24] = "", id[EXPORT_ID_LEN + 1] = "", lim[16];
	json_t *items;
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
	if (q->cursor && cursor_parse(q->cursor, &us, id))
		snprintf(us_s, sizeof(us_s), "%lld", us);
	snprintf(lim, sizeof(lim), "%d", q->limit + 1);
	{
		const char *p[] = { q->state, tenant, us_s[0] ? us_s : NULL,
		    id[0] ? id : NULL, lim };

		res = db_query(db, "SELECT " JOB_COLS " FROM tb_audit_export_job "
		    "WHERE ($1::text IS NULL OR state = $1) "
		    "AND ($2::text IS NULL OR tenant_id = $2) "
		    "AND ($3::bigint IS NULL OR (created_at, id) < "
		    "(timestamptz 'epoch' + $3::bigint * interval '1 microsecond', "
		    "$4::uuid)) "
		    "ORDER BY created_at DESC, id DESC LIMIT $5", 5, p);
	}
	if (res == NULL)
		return EXPORT_E_DB;
	items = json_array();
	rows = PQntuples(res);
	for (int i = 0; i < rows && i < q->limit; i++)
		json_array_append_new(items, job_row_json(res, i, a, view));
	*out = json_pack("{s:o, s:n}", "items", items, "next_cursor");
	if (rows > q->limit) {
		struct buf c = BUF_INIT;

		buf_appendf(&c, "%s.%s", PQgetvalue(res, q->limit - 1,
		    C_CREATED_US), PQgetvalue(res, q->limit - 1, C_ID));
		json_object_set_new(*out, "next_cursor", json_string(c.data));
		buf_free(&c);
	}
	PQclear(res);
	return EXPORT_OK;
}

/* ---- cancel --------------------------------------------------------------------- */

enum export_outcome
export_job_cancel(struct db *db, const struct ops_config *cfg,
    const struct sanitize_rules *rules, const struct export_actor *a,
    const char *id, const struct export_view *view, json_t **job)
{
	enum export_outcome o;
	char tenant[160], state[16];
	PGresult *res;
	int rc;

	(void)cfg;
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
	o = job_access(a, CAP_EXPORT_CANCEL, PQgetvalue(res, 0, C_TENANT),
	    PQgetvalue(res, 0, C_BY));
	snprintf(tenant, sizeof(tenant), "%s", PQgetvalue(res, 0, C_TENANT));
	snprintf(state, sizeof(state), "%s", PQgetvalue(res, 0, C_STATE));
	PQclear(res);
	if (o != EXPORT_OK) {
		db_rollback(db);
		return o;
	}
	{
		const char *p[] = { id, a->who->sub };

		if (strcmp(state, "PENDING") == 0) {
			json_t *data = json_pack("{s:s, s:s, s:s}", "code",
			    "EXPORT_CANCELLED", "cancelled_by", a->who->sub,
			    "state_before", state);

			rc = db_exec(db, "UPDATE tb_audit_export_job SET state = "
			    "'FAILED', cancel_requested = true, error_code = "
			    "'EXPORT_CANCELLED', error_message = 'cancelled by ' "
			    "|| $2, finished_at = now() WHERE id = $1", 2, p);
			if (rc == 0)
				rc = write_job_events(db, rules, a,
				    "EXPORT_FAILED", "info", tenant, id, data);
			json_decref(data);
		} else if (strcmp(state, "RUNNING") == 0) {
			rc = db_exec(db, "UPDATE tb_audit_export_job SET "
			    "cancel_requested = true WHERE id = $1", 1, p);
		} else {
			db_rollback(db);
			return EXPORT_E_CONFLICT;
		}
	}
	/* answer with the job as the cancel left it, before a runner moves on */
	if (rc == 0) {
		rc = export_job_get(db, a, id, view, job, NULL) == EXPORT_OK ?
		    0 : -1;
	}
	if (rc != 0 || db_commit(db) != 0) {
		json_decref(*job);
		*job = NULL;
		goto dberr;
	}
	return EXPORT_OK;
dberr:
	db_rollback(db);
	return EXPORT_E_DB;
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
	res = db_query(db, "SELECT id, tenant_id, requested_by, state, format, "
	    "to_char(range_from AT TIME ZONE 'UTC', 'YYYYMMDD\"T\"HH24MISS\"Z\"'), "
	    "to_char(range_to AT TIME ZONE 'UTC', 'YYYYMMDD\"T\"HH24MISS\"Z\"'), "
	    "coalesce(sha256, ''), coalesce(total_bytes, 0), "
	    "coalesce(total_rows, 0), "
	    "(state = 'DONE' AND expires_at <= now()) "
	    "FROM tb_audit_export_job WHERE id = $1", 1, p);
	if (res == NULL)
		return EXPORT_E_DB;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return EXPORT_E_NOT_FOUND;
	}
	snprintf(f->id, sizeof(f->id), "%s", PQgetvalue(res, 0, 0));
	snprintf(f->tenant_id, sizeof(f->tenant_id), "%s", PQgetvalue(res, 0, 1));
	snprintf(f->requested_by, sizeof(f->requested_by), "%s",
	    PQgetvalue(res, 0, 2));
	snprintf(f->state, sizeof(f->state), "%s", PQgetvalue(res, 0, 3));
	snprintf(f->format, sizeof(f->format), "%s", PQgetvalue(res, 0, 4));
	snprintf(f->from, sizeof(f->from), "%s", PQgetvalue(res, 0, 5));
	snprintf(f->to, sizeof(f->to), "%s", PQgetvalue(res, 0, 6));
	snprintf(f->sha256, sizeof(f->sha256), "%s", PQgetvalue(res, 0, 7));
	f->total_bytes = strtoll(PQgetvalue(res, 0, 8), NULL, 10);
	f->total_rows = strtoll(PQgetvalue(res, 0, 9), NULL, 10);
	f->expired = strcmp(PQgetvalue(res, 0, 10), "t") == 0;
	PQclear(res);
	return EXPORT_OK;
}

int
export_record_download(struct db *db, const struct sanitize_rules *rules,
    const struct export_file *f, const char *actor_sub, const char *request_id,
    const char *ip, long long first, long long last, bool signed_url)
{
	json_t *data = json_pack("{s:I, s:I, s:I, s:s, s:b}", "first_byte",
	    (json_int_t)first, "last_byte", (json_int_t)last, "total_bytes",
	    (json_int_t)f->total_bytes, "sha256", f->sha256, "signed_url",
	    signed_url);
	struct ops_event ev = {
		.type = "EXPORT_DOWNLOADED", .severity = "info",
		.source = "ops-fcgi", .tenant_id = f->tenant_id,
		.subject_type = "audit_export", .subject_id = f->id,
		.request_id = request_id, .data = data
	};
	struct audit_entry ae = {
		.tenant_id = f->tenant_id, .actor_id = actor_sub,
		.action = "EXPORT_DOWNLOADED", .target_type = "audit_export",
		.target_id = f->id, .ip = ip, .request_id = request_id,
		.payload = data
	};
	int rc = -1;

	if (db_begin(db) == 0 && events_write(db, &ev) == 0 &&
	    audit_write(db, rules, &ae) == 0 && db_commit(db) == 0)
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
	json_t *data = json_pack("{s:i}", "seq", seq);
	struct ops_event ev = {
		.type = "EXPORT_CORRUPT", .severity = "critical",
		.source = "ops-fcgi", .tenant_id = f->tenant_id,
		.subject_type = "audit_export", .subject_id = f->id,
		.request_id = request_id, .data = data
	};
	int rc = events_write(db, &ev);

	json_decref(data);
	log_kv(LOG_ERROR, "job_id", f->id, "export chunk %d failed its "
	    "digest check: download aborted", seq);
	return rc;
}

enum export_outcome
export_access(const struct export_actor *actor, int cap, const char *tenant,
    const char *requested_by)
{
	return job_access(actor, (enum rbac_cap)cap, tenant, requested_by);
}

static int
parse_pos(const char *s, size_t len, long long *out)
{
	long long v = 0;

	if (len == 0 || len > 18)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int
export_range_parse(const char *hdr, long long total, long long *first,
    long long *last)
{
	const char *spec, *dash;
	long long a, b;

	*first = 0;
	*last = total - 1;
	if (hdr == NULL || strncmp(hdr, "bytes=", 6) != 0)
		return 0;
	spec = hdr + 6;
	if (strchr(spec, ',') != NULL)
		return 0;	/* several ranges: send the whole file */
	if ((dash = strchr(spec, '-')) == NULL)
		return 0;
	if (dash == spec) {
		/* suffix: the last N bytes */
		if (parse_pos(dash + 1, strlen(dash + 1), &b) != 0)
			return 0;
		if (b == 0 || total == 0)
			return -1;
		*first = b >= total ? 0 : total - b;
		*last = total - 1;
		return 1;
	}
	if (parse_pos(spec, (size_t)(dash - spec), &a) != 0)
		return 0;
	if (dash[1] == '\0')
		b = total - 1;
	else if (parse_pos(dash + 1, strlen(dash + 1), &b) != 0 || b < a)
		return 0;
	if (a >= total)
		return -1;
	*first = a;
	*last = b >= total ? total - 1 : b;
	return 1;
}

void
export_filename(const struct export_file *f, char *out, size_t outsz)
{
	char tenant[64];
	size_t i;

	for (i = 0; f->tenant_id[i] && i < sizeof(tenant) - 1; i++) {
		unsigned char c = (unsigned char)f->tenant_id[i];

		tenant[i] = (isalnum(c) || c == '-' || c == '_' || c == '.') ?
		    (char)c : '_';
	}
	tenant[i] = '\0';
	snprintf(out, outsz, "audit-%s-%s-%s-%.8s.%s", tenant, f->from, f->to,
	    f->id, strcmp(f->format, "csv") == 0 ? "csv" : "jsonl");
}
