#include "history.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "date.h"
#include "errors.h"
#include "log.h"
#include "rbac.h"
#include "xjson.h"

const double history_bucket_le[HISTORY_NBUCKETS - 1] = {
	0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600
};

const char *const history_events_params[] = { "kind", "tenant_id",
    "since", "until", "cursor", "limit", NULL };

#define US(col) "(extract(epoch FROM " col ") * 1000000)::bigint"
#define TS(n)	"(timestamptz 'epoch' + $" n "::bigint * interval '1 microsecond')"
#define EVENT_COLS \
	"id, " US("occurred_at") ", event_type, severity, source, actor_id, " \
	"tenant_id, subject_type, subject_id, data::text"

enum { E_ID, E_AT, E_KIND, E_SEV, E_SOURCE, E_ACTOR, E_TENANT, E_STYPE,
	E_SID, E_DATA };

static const struct db_stmt job_events_stmt = {
	"ops_history_job_events",
	"SELECT " EVENT_COLS " FROM ops_event WHERE subject_type = "
	"'audit_export' AND subject_id = $1 ORDER BY occurred_at, id LIMIT $2",
	2
};
static const struct db_stmt events_stmt = {
	"ops_history_events",
	"SELECT " EVENT_COLS " FROM ops_event "
	"WHERE ($1::text IS NULL OR event_type = $1) "
	"AND ($2::text IS NULL OR tenant_id = $2) "
	"AND ($3::bigint IS NULL OR occurred_at >= " TS("3") ") "
	"AND ($4::bigint IS NULL OR occurred_at < " TS("4") ") "
	"AND ($5::bigint IS NULL OR (occurred_at, id) < (" TS("5") ", "
	"$6::bigint)) ORDER BY occurred_at DESC, id DESC LIMIT $7", 7
};
static const struct db_stmt status_history_stmt = {
	"ops_history_status",
	"SELECT " US("g.hour") ", coalesce(h.created, 0), "
	"coalesce(h.done, 0), coalesce(h.failed, 0), coalesce(h.bytes, 0), "
	"coalesce(h.duration_hist::text, ''), coalesce(h.wait_hist::text, '') "
	"FROM generate_series(date_trunc('hour', now(), 'UTC') - "
	"($1::integer - 1) * interval '1 hour', date_trunc('hour', now(), "
	"'UTC'), interval '1 hour') AS g(hour) "
	"LEFT JOIN export_job_hourly h ON h.hour = g.hour ORDER BY g.hour", 1
};

/* ---- pure ---------------------------------------------------------------- */

static bool
decimal(const char *s, size_t n)
{
	if (n == 0 || n > 19)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

bool
history_cursor_parse(const char *c, char us[24], char id[24])
{
	const char *dot = strchr(c, '.');
	const char *t = c[0] == '-' ? c + 1 : c;
	char when[DATE_RFC3339_MAX];
	long long v;

	if (dot == NULL || dot < t || !decimal(t, (size_t)(dot - t)) ||
	    !decimal(dot + 1, strlen(dot + 1)))
		return false;
	errno = 0;
	v = strtoll(c, NULL, 10);
	if (errno != 0 || date_format_rfc3339(v, DATE_FRAC_MICRO, when,
	    sizeof(when)) < 0)
		return false;
	errno = 0;
	(void)strtoll(dot + 1, NULL, 10);
	if (errno != 0)
		return false;
	snprintf(us, 24, "%lld", v);
	snprintf(id, 24, "%s", dot + 1);
	return true;
}

int
history_events_query_check(struct history_events_query *q, json_t **details)
{
	*details = json_array();
	q->since_us[0] = q->until_us[0] = q->cur_us[0] = q->cur_id[0] = '\0';
	if (q->kind && !export_code_valid(q->kind, 100))
		xjson_push(*details, error_detail("kind", "must be an event kind "
		    "such as EXPORT_FAILED"));
	if (q->tenant_id && !export_tenant_valid(q->tenant_id))
		xjson_push(*details, error_detail("tenant_id",
		    "is not a valid tenant id"));
	if (q->since && !export_time_param(q->since, q->since_us))
		xjson_push(*details, error_detail("since", "must be an RFC 3339 "
		    "time such as 2026-11-01T00:00:00Z"));
	if (q->until && !export_time_param(q->until, q->until_us))
		xjson_push(*details, error_detail("until", "must be an RFC 3339 "
		    "time such as 2026-11-01T00:00:00Z"));
	if (q->since_us[0] && q->until_us[0] && strtoll(q->since_us, NULL,
	    10) >= strtoll(q->until_us, NULL, 10))
		xjson_push(*details, error_detail("until", "must be later than "
		    "since"));
	if (q->cursor && !history_cursor_parse(q->cursor, q->cur_us,
	    q->cur_id))
		xjson_push(*details, error_detail("cursor", "is not a cursor "
		    "returned by this API"));
	if (q->limit < 1 || q->limit > 200)
		xjson_push(*details, error_detail("limit",
		    "must be between 1 and 200"));
	if (json_array_size(*details) == 0) {
		json_decref(*details);
		*details = NULL;
		return 0;
	}
	return -1;
}

double
history_quantile(double q, const long long counts[HISTORY_NBUCKETS])
{
	long long total = 0, cum = 0;
	double rank, lo;

	for (int i = 0; i < HISTORY_NBUCKETS; i++)
		total += counts[i];
	if (total == 0)
		return -1;
	rank = q * (double)total;
	for (int i = 0; i < HISTORY_NBUCKETS; i++) {
		if (counts[i] == 0 || (double)(cum + counts[i]) < rank) {
			cum += counts[i];
			continue;
		}
		if (i == HISTORY_NBUCKETS - 1)
			return history_bucket_le[HISTORY_NBUCKETS - 2];
		lo = i == 0 ? 0 : history_bucket_le[i - 1];
		return lo + (history_bucket_le[i] - lo) *
		    ((rank - (double)cum) / (double)counts[i]);
	}
	return history_bucket_le[HISTORY_NBUCKETS - 2];
}

int
history_hist_parse(const char *text, long long counts[HISTORY_NBUCKETS])
{
	const char *p = text;
	char *end;

	if (*p++ != '{')
		return -1;
	for (int i = 0; i < HISTORY_NBUCKETS; i++) {
		if (*p < '0' || *p > '9')
			return -1;
		errno = 0;
		counts[i] = strtoll(p, &end, 10);
		if (errno != 0)
			return -1;
		p = end;
		if (*p != (i == HISTORY_NBUCKETS - 1 ? '}' : ','))
			return -1;
		p++;
	}
	return *p == '\0' ? 0 : -1;
}

/* ---- reads --------------------------------------------------------------- */

static json_t *
time_json(const char *us_text)
{
	char out[DATE_RFC3339_MAX];
	int n = date_format_rfc3339(strtoll(us_text, NULL, 10),
	    DATE_FRAC_SHORT, out, sizeof(out));

	return n < 0 ? json_null() : json_stringn(out, (size_t)n);
}

static json_t *
text_or_null(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? json_null() :
	    json_string(PQgetvalue(res, row, col));
}

/* One ops_event row as the API's JSON. */
static json_t *
event_json(const PGresult *res, int row)
{
	json_error_t jerr;
	json_t *detail = json_loads(PQgetvalue(res, row, E_DATA), 0, &jerr);
	bool job = !PQgetisnull(res, row, E_STYPE) && strcmp(PQgetvalue(res,
	    row, E_STYPE), "audit_export") == 0;

	if (!json_is_object(detail)) {
		/* jsonb keeps what jansson refuses (1e400): say so, show {} */
		log_kv(LOG_WARN, "event_id", PQgetvalue(res, row, E_ID),
		    "cannot show an event's data: %s", jerr.text);
		json_decref(detail);
		detail = json_object();
	}
	return xjson_pack("{s:I, s:o, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, "
	    "s:o}",
	    "id", (json_int_t)strtoll(PQgetvalue(res, row, E_ID), NULL, 10),
	    "at", time_json(PQgetvalue(res, row, E_AT)),
	    "kind", PQgetvalue(res, row, E_KIND),
	    "severity", PQgetvalue(res, row, E_SEV),
	    "source", PQgetvalue(res, row, E_SOURCE),
	    "actor", text_or_null(res, row, E_ACTOR),
	    "tenant_id", text_or_null(res, row, E_TENANT),
	    "job_id", job ? json_string(PQgetvalue(res, row, E_SID)) :
	    json_null(),
	    "subject_type", text_or_null(res, row, E_STYPE),
	    "subject_id", text_or_null(res, row, E_SID),
	    "detail", detail);
}

enum export_outcome
history_job_events(struct db *db, const struct export_actor *a,
    const char *id, json_t **out)
{
	struct export_file f;
	enum export_outcome o;
	char lim[16];
	json_t *items;
	PGresult *res;

	*out = NULL;
	if ((o = export_file_get(db, id, &f)) != EXPORT_OK)
		return o;
	if ((o = export_access(a, CAP_EXPORT_READ, f.tenant_id,
	    f.requested_by)) != EXPORT_OK)
		return o;
	snprintf(lim, sizeof(lim), "%d", HISTORY_TIMELINE_MAX);
	{
		const char *p[] = { f.id, lim };

		if ((res = db_query_stmt(db, &job_events_stmt, p)) == NULL)
			return EXPORT_E_DB;
	}
	items = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		xjson_push(items, event_json(res, i));
	PQclear(res);
	*out = xjson_pack("{s:o}", "items", items);
	return EXPORT_OK;
}

enum export_outcome
history_events(struct db *db, const struct export_actor *a,
    const struct history_events_query *q, json_t **out)
{
	const char *tenant = q->tenant_id;
	const char *const *roles = (const char *const *)a->who->roles;
	char lim[16];
	json_t *items;
	PGresult *res;
	int rows;

	*out = NULL;
	if (rbac_scope_for(roles, a->who->nroles, CAP_EXPORT_READ) <
	    SCOPE_ANY) {
		/* own tenant only; never the events without a tenant */
		if (a->who->tenant_id == NULL)
			return EXPORT_E_TENANT;
		if (tenant && strcmp(tenant, a->who->tenant_id) != 0)
			return EXPORT_E_TENANT;
		tenant = a->who->tenant_id;
	}
	snprintf(lim, sizeof(lim), "%d", q->limit + 1);
#define NZ(s)	((s)[0] ? (s) : NULL)
	{
		const char *p[] = { q->kind, tenant, NZ(q->since_us),
		    NZ(q->until_us), NZ(q->cur_us), NZ(q->cur_id), lim };

		res = db_query_stmt(db, &events_stmt, p);
	}
#undef NZ
	if (res == NULL)
		return EXPORT_E_DB;
	items = json_array();
	rows = PQntuples(res);
	for (int i = 0; i < rows && i < q->limit; i++)
		xjson_push(items, event_json(res, i));
	*out = xjson_pack("{s:o, s:n}", "items", items, "next_cursor");
	if (rows > q->limit) {
		char c[64];

		snprintf(c, sizeof(c), "%s.%s", PQgetvalue(res, q->limit - 1,
		    E_AT), PQgetvalue(res, q->limit - 1, E_ID));
		xjson_set(*out, "next_cursor", json_string(c));
	}
	PQclear(res);
	return EXPORT_OK;
}

static json_t *
seconds_or_null(double s)
{
	return s < 0 ? json_null() : json_real(s);
}

json_t *
history_status(struct db *db, int hours)
{
	long long dur[HISTORY_NBUCKETS], wait[HISTORY_NBUCKETS];
	char h[16], now[DATE_RFC3339_MAX];
	json_t *buckets;
	PGresult *res;

	snprintf(h, sizeof(h), "%d", hours);
	{
		const char *p[] = { h };

		if ((res = db_query_stmt(db, &status_history_stmt, p)) == NULL)
			return NULL;
	}
	buckets = json_array();
	for (int i = 0; i < PQntuples(res); i++) {
		const char *dt = PQgetvalue(res, i, 5), *wt = PQgetvalue(res,
		    i, 6);

		if (*dt == '\0' || history_hist_parse(dt, dur) != 0)
			memset(dur, 0, sizeof(dur));
		if (*wt == '\0' || history_hist_parse(wt, wait) != 0)
			memset(wait, 0, sizeof(wait));
		xjson_push(buckets, xjson_pack("{s:o, s:I, s:I, s:I, s:o, s:o, "
		    "s:o, s:I}",
		    "start", time_json(PQgetvalue(res, i, 0)),
		    "created", (json_int_t)strtoll(PQgetvalue(res, i, 1),
		    NULL, 10),
		    "done", (json_int_t)strtoll(PQgetvalue(res, i, 2), NULL, 10),
		    "failed", (json_int_t)strtoll(PQgetvalue(res, i, 3), NULL,
		    10),
		    "duration_p50_seconds", seconds_or_null(history_quantile(0.5,
		    dur)),
		    "duration_p95_seconds", seconds_or_null(
		    history_quantile(0.95, dur)),
		    "queue_wait_p95_seconds", seconds_or_null(
		    history_quantile(0.95, wait)),
		    "bytes", (json_int_t)strtoll(PQgetvalue(res, i, 4), NULL,
		    10)));
	}
	PQclear(res);
	date_format_rfc3339((int64_t)time(NULL) * DATE_US_PER_SEC,
	    DATE_FRAC_NONE, now, sizeof(now));
	return xjson_pack("{s:i, s:s, s:o}", "hours", hours, "generated_at",
	    now, "buckets", buckets);
}
