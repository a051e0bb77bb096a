#include "metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/statvfs.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "history.h"
#include "lockadmin.h"
#include "lockstate.h"
#include "storage.h"
#include "xjson.h"

/* The five export states, zeros included in every answer. */
static const char *const export_states[] = {
	"PENDING", "RUNNING", "DONE", "FAILED", "EXPIRED"
};
#define NSTATES	(sizeof(export_states) / sizeof(export_states[0]))

/* Jobs reported even before their first run (then with nulls / zeros). */
#define KNOWN_JOBS \
	"{ops-export-runner,ops-export-cleaner,ops-lock-healer}"

/* The recovery reasons, zeros included so that increase() sees the first. */
static const char *const heal_reasons[] = { "expired", "orphaned", "stale" };

static double
round3(double v)
{
	return round(v * 1000.0) / 1000.0;
}

static const char *
col(PGresult *res, int row, int c)
{
	return PQgetisnull(res, row, c) ? NULL : PQgetvalue(res, row, c);
}

static json_t *
col_json_str(PGresult *res, int row, int c)
{
	return PQgetisnull(res, row, c) ? json_null() :
	    json_string(PQgetvalue(res, row, c));
}

static json_t *
col_json_real(PGresult *res, int row, int c)
{
	return PQgetisnull(res, row, c) ? json_null() :
	    json_real(round3(strtod(PQgetvalue(res, row, c), NULL)));
}

/* ---- what both answers read, in one snapshot ------------------------------ */

struct snapshot {
	double		 latency_ms;
	PGresult	*health;	/* server_version, checked_at */
	PGresult	*exports;	/* counts in export_states order, oldest age */
	long long	 spool_bytes;
	struct lock_rows locks;
	PGresult	*jobs;		/* see JOBS_SQL */
	PGresult	*hosts;		/* see HOSTS_SQL (status only) */
	PGresult	*heals;		/* see HEALS_SQL (metrics only) */
	PGresult	*events;	/* see EVENTS_SQL (metrics only) */
	PGresult	*hist;		/* see HIST_SQL (metrics only) */
	PGresult	*webhooks;	/* see WEBHOOKS_SQL (metrics only) */
};

/*
 * Webhook deliveries by state, the age of the oldest due one (dispatch
 * lag), endpoints enabled and disabled (migration 0011).
 */
#define WEBHOOKS_SQL \
	"SELECT count(*) FILTER (WHERE state = 'PENDING'), " \
	"count(*) FILTER (WHERE state = 'DELIVERED'), " \
	"count(*) FILTER (WHERE state = 'FAILED'), " \
	"coalesce(extract(epoch FROM statement_timestamp() - " \
	"min(next_attempt_at) FILTER (WHERE state = 'PENDING' AND " \
	"next_attempt_at <= statement_timestamp())), 0), " \
	"(SELECT count(*) FROM tb_webhook_endpoint WHERE enabled), " \
	"(SELECT count(*) FROM tb_webhook_endpoint WHERE NOT enabled) " \
	"FROM tb_webhook_delivery"

#define EXPORTS_SQL \
	"SELECT count(*) FILTER (WHERE state = 'PENDING'), " \
	"count(*) FILTER (WHERE state = 'RUNNING'), " \
	"count(*) FILTER (WHERE state = 'DONE'), " \
	"count(*) FILTER (WHERE state = 'FAILED'), " \
	"count(*) FILTER (WHERE state = 'EXPIRED'), " \
	"extract(epoch FROM statement_timestamp() - min(created_at) " \
	"FILTER (WHERE state = 'PENDING')) FROM tb_audit_export_job"

/*
 * Per job: the last run (whatever its status), the last success, the last
 * failure and the last finished run; each one index entry of job_run.
 */
#define JOBS_SQL \
	"WITH j AS (SELECT unnest($1::text[]) AS job UNION " \
	"SELECT DISTINCT job FROM job_run) " \
	"SELECT j.job, lr.status, " DB_SQL_RFC3339("lr.started_at") ", " \
	DB_SQL_RFC3339("lr.finished_at") ", lr.host, lr.pid, lr.duration_seconds, " \
	"lr.error, " DB_SQL_RFC3339("ls.finished_at") ", " \
	"extract(epoch FROM ls.finished_at), ls.host, ls.duration_seconds, " \
	DB_SQL_RFC3339("lf.finished_at") ", extract(epoch FROM lf.finished_at), " \
	"lf.host, lf.error, ld.duration_seconds, " \
	"extract(epoch FROM lr.started_at) " \
	"FROM j " \
	"LEFT JOIN LATERAL (SELECT * FROM job_run r WHERE r.job = j.job " \
	"ORDER BY started_at DESC LIMIT 1) lr ON true " \
	"LEFT JOIN LATERAL (SELECT * FROM job_run r WHERE r.job = j.job AND " \
	"status = 'SUCCEEDED' ORDER BY finished_at DESC LIMIT 1) ls ON true " \
	"LEFT JOIN LATERAL (SELECT * FROM job_run r WHERE r.job = j.job AND " \
	"status = 'FAILED' ORDER BY finished_at DESC LIMIT 1) lf ON true " \
	"LEFT JOIN LATERAL (SELECT * FROM job_run r WHERE r.job = j.job AND " \
	"finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT 1) ld ON true " \
	"ORDER BY j.job"

/* Per job and host, over the last day (runner instances run per host). */
#define HOSTS_SQL \
	"SELECT job, host, (array_agg(status ORDER BY started_at DESC))[1], " \
	DB_SQL_RFC3339("max(started_at)") ", " \
	DB_SQL_RFC3339("max(finished_at) FILTER (WHERE status = 'SUCCEEDED')") \
	" FROM job_run WHERE started_at > statement_timestamp() - " \
	"interval '1 day' GROUP BY job, host ORDER BY job, host"

/*
 * Recoveries by lock and reason, force-releases by lock: the ops_event rows
 * plus what the purge rolled up into ops_event_rollup (migration 0005), so
 * the counters never go down when old events are deleted.
 */
#define HEALS_SQL \
	"SELECT l.name, " \
	"coalesce(sum(e.n) FILTER (WHERE e.event_type = " \
	"'SCHEDULER_LOCK_RECOVERED' AND e.label = 'expired'), 0), " \
	"coalesce(sum(e.n) FILTER (WHERE e.event_type = " \
	"'SCHEDULER_LOCK_RECOVERED' AND e.label = 'orphaned'), 0), " \
	"coalesce(sum(e.n) FILTER (WHERE e.event_type = " \
	"'SCHEDULER_LOCK_RECOVERED' AND e.label = 'stale'), 0), " \
	"coalesce(sum(e.n) FILTER (WHERE e.event_type = " \
	"'SCHEDULER_LOCK_FORCE_RELEASED' AND e.label = 'false'), 0) " \
	"FROM tb_scheduler_lock l LEFT JOIN (" \
	"SELECT subject_id, event_type, CASE event_type WHEN " \
	"'SCHEDULER_LOCK_RECOVERED' THEN data->>'reason' ELSE " \
	"data->>'already_free' END AS label, 1::bigint AS n FROM ops_event " \
	"WHERE subject_type = 'scheduler_lock' AND event_type IN " \
	"('SCHEDULER_LOCK_RECOVERED', 'SCHEDULER_LOCK_FORCE_RELEASED') " \
	"UNION ALL SELECT subject_id, event_type, label, n FROM " \
	"ops_event_rollup WHERE subject_type = 'scheduler_lock') e " \
	"ON e.subject_id = l.name GROUP BY l.name ORDER BY l.name"

/*
 * Export outcomes counted from events (rows + rolled up), and the age of
 * the oldest ops_event row (purge lag).
 */
#define EVENT_KINDS	"{EXPORT_COMPLETED,EXPORT_FAILED,EXPORT_CORRUPT}"
#define EVENTS_SQL \
	"SELECT t.kind, (SELECT count(*) FROM ops_event e WHERE " \
	"e.event_type = t.kind) + coalesce((SELECT sum(n) FROM " \
	"ops_event_rollup r WHERE r.event_type = t.kind), 0), " \
	"(SELECT extract(epoch FROM statement_timestamp() - min(occurred_at)) " \
	"FROM ops_event) FROM unnest($1::text[]) WITH ORDINALITY AS t(kind, i) " \
	"ORDER BY t.i"

/*
 * The histograms of export duration and queue wait: per bucket (1..15) the
 * count over every hour of the rollup (migration 0010; never purged, so
 * they survive the cleaner), with the sums on every row.
 */
#define HIST_SQL \
	"SELECT coalesce(sum(h.duration_hist[b.i]), 0), " \
	"coalesce(sum(h.wait_hist[b.i]), 0), " \
	"(SELECT coalesce(sum(duration_sum), 0) FROM export_job_hourly), " \
	"(SELECT coalesce(sum(wait_sum), 0) FROM export_job_hourly) " \
	"FROM generate_series(1, 15) AS b(i) LEFT JOIN export_job_hourly h " \
	"ON true GROUP BY b.i ORDER BY b.i"

static void
snapshot_free(struct snapshot *s)
{
	PQclear(s->health);
	PQclear(s->exports);
	lock_rows_free(&s->locks);
	PQclear(s->jobs);
	PQclear(s->hosts);
	PQclear(s->heals);
	PQclear(s->events);
	PQclear(s->hist);
	PQclear(s->webhooks);
	memset(s, 0, sizeof(*s));
}

/*
 * Read everything in one REPEATABLE READ READ ONLY transaction, so that the
 * numbers of one answer agree with each other. 0 or -1 (db->err set).
 */
static int
snapshot_take(struct db *db, struct snapshot *s, bool for_status)
{
	const char *jobs_p[] = { KNOWN_JOBS }, *events_p[] = { EVENT_KINDS };
	double t0 = mono_now();

	memset(s, 0, sizeof(*s));
	s->health = db_query(db, "SELECT current_setting('server_version'), "
	    DB_SQL_RFC3339("statement_timestamp()"), 0, NULL);
	if (s->health == NULL)
		return -1;
	s->latency_ms = (mono_now() - t0) * 1000.0;
	if (db_exec(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0,
	    NULL) != 0)
		goto fail;
	if ((s->exports = db_query(db, EXPORTS_SQL, 0, NULL)) == NULL ||
	    (s->spool_bytes = storage_db_spool.bytes_held(db)) < 0 ||
	    lockadmin_load(db, NULL, NULL, &s->locks) != 0 ||
	    (s->jobs = db_query(db, JOBS_SQL, 1, jobs_p)) == NULL)
		goto fail;
	if (for_status && (s->hosts = db_query(db, HOSTS_SQL, 0, NULL)) == NULL)
		goto fail;
	if (!for_status && (s->heals = db_query(db, HEALS_SQL, 0, NULL)) == NULL)
		goto fail;
	if (!for_status && (s->events = db_query(db, EVENTS_SQL, 1,
	    events_p)) == NULL)
		goto fail;
	if (!for_status && (s->hist = db_query(db, HIST_SQL, 0, NULL)) == NULL)
		goto fail;
	if (!for_status && (s->webhooks = db_query(db, WEBHOOKS_SQL, 0,
	    NULL)) == NULL)
		goto fail;
	if (db_commit(db) != 0)
		goto fail;
	return 0;
fail:
	db_rollback(db);
	snapshot_free(s);
	return -1;
}

static enum lock_state
api_state(const struct lock_row *r, int stale_after)
{
	struct lock_facts f;

	lock_row_facts(r, &f);
	return lock_classify(&f, r->now, stale_after, NULL,
	    LOCK_PROC_NOT_PROBED, NULL);
}

/* ---- GET /api/ops/status ----------------------------------------------------- */

static json_t *
status_exports(const struct snapshot *s)
{
	json_t *by = json_object();

	for (size_t i = 0; i < NSTATES; i++)
		xjson_set(by, export_states[i], json_integer(
		    strtoll(PQgetvalue(s->exports, 0, (int)i), NULL, 10)));
	return xjson_pack("{s:o, s:o, s:I}", "by_state", by,
	    "oldest_pending_age_seconds", col_json_real(s->exports, 0, 5),
	    "spool_bytes", (json_int_t)s->spool_bytes);
}

static json_t *
status_hosts(const struct snapshot *s, const char *job)
{
	json_t *a = json_array();

	for (int i = 0; i < PQntuples(s->hosts); i++) {
		if (strcmp(PQgetvalue(s->hosts, i, 0), job) != 0)
			continue;
		xjson_push(a, xjson_pack("{s:o, s:o, s:o, s:o}",
		    "host", col_json_str(s->hosts, i, 1),
		    "last_status", col_json_str(s->hosts, i, 2),
		    "last_run_at", col_json_str(s->hosts, i, 3),
		    "last_success_at", col_json_str(s->hosts, i, 4)));
	}
	return a;
}

static json_t *
status_jobs(const struct snapshot *s)
{
	PGresult *res = s->jobs;
	json_t *a = json_array();

	for (int i = 0; i < PQntuples(res); i++) {
		json_t *last_run = json_null(), *ok = json_null(),
		    *failed = json_null();

		if (!PQgetisnull(res, i, 1))
			last_run = xjson_pack("{s:o, s:o, s:o, s:o, s:o, s:o, "
			    "s:o}", "status", col_json_str(res, i, 1),
			    "started_at", col_json_str(res, i, 2),
			    "finished_at", col_json_str(res, i, 3),
			    "host", col_json_str(res, i, 4),
			    "pid", PQgetisnull(res, i, 5) ? json_null() :
			    json_integer(strtol(PQgetvalue(res, i, 5), NULL, 10)),
			    "duration_seconds", col_json_real(res, i, 6),
			    "error", col_json_str(res, i, 7));
		if (!PQgetisnull(res, i, 8))
			ok = xjson_pack("{s:o, s:o, s:o}",
			    "finished_at", col_json_str(res, i, 8),
			    "host", col_json_str(res, i, 10),
			    "duration_seconds", col_json_real(res, i, 11));
		if (!PQgetisnull(res, i, 12))
			failed = xjson_pack("{s:o, s:o, s:o}",
			    "finished_at", col_json_str(res, i, 12),
			    "host", col_json_str(res, i, 14),
			    "error", col_json_str(res, i, 15));
		xjson_push(a, xjson_pack("{s:s, s:o, s:o, s:o, s:o, "
		    "s:o}", "job", PQgetvalue(res, i, 0), "last_run", last_run,
		    "last_success", ok, "last_failure", failed,
		    "last_duration_seconds", col_json_real(res, i, 16),
		    "hosts", status_hosts(s, PQgetvalue(res, i, 0))));
	}
	return a;
}

json_t *
metrics_status_json(struct db *db, const struct ops_config *cfg)
{
	struct snapshot s;
	json_t *locks, *out;

	if (snapshot_take(db, &s, true) != 0)
		return NULL;
	locks = json_array();
	for (int i = 0; i < s.locks.n; i++)
		xjson_push(locks, lock_row_json(&s.locks.rows[i],
		    api_state(&s.locks.rows[i], cfg->locks.stale_after_seconds)));
	out = xjson_pack("{s:s, s:{s:b, s:f, s:s}, s:o, s:{s:i, s:i, s:i, s:o}, "
	    "s:o}",
	    "checked_at", PQgetvalue(s.health, 0, 1),
	    "database", "ok", 1, "latency_ms", round3(s.latency_ms),
	    "server_version", PQgetvalue(s.health, 0, 0),
	    "exports", status_exports(&s),
	    "scheduler", "heartbeat_seconds", cfg->locks.heartbeat_seconds,
	    "stale_after_seconds", cfg->locks.stale_after_seconds,
	    "lease_seconds", cfg->locks.lease_seconds, "locks", locks,
	    "jobs", status_jobs(&s));
	snapshot_free(&s);
	return out;
}

/* ---- GET /metrics ------------------------------------------------------------ */

void
metrics_label_value(struct buf *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			buf_appends(out, "\\\\");
		else if (*v == '"')
			buf_appends(out, "\\\"");
		else if (*v == '\n')
			buf_appends(out, "\\n");
		else
			buf_appendc(out, *v);
	}
}

static void
family(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{key="value"} value */
static void
sample1(struct buf *out, const char *name, const char *key, const char *val,
    double v)
{
	buf_appendf(out, "%s{%s=\"", name, key);
	metrics_label_value(out, val);
	buf_appendf(out, "\"} %.17g\n", v);
}

static void
prom_exports(struct buf *out, const struct snapshot *s)
{
	family(out, "ops_export_jobs", "gauge", "Audit export jobs by state.");
	for (size_t i = 0; i < NSTATES; i++)
		sample1(out, "ops_export_jobs", "state", export_states[i],
		    strtod(PQgetvalue(s->exports, 0, (int)i), NULL));
	family(out, "ops_export_oldest_pending_age_seconds", "gauge",
	    "Age of the oldest PENDING export job (0 when none is pending).");
	buf_appendf(out, "ops_export_oldest_pending_age_seconds %.3f\n",
	    PQgetisnull(s->exports, 0, 5) ? 0.0 :
	    strtod(PQgetvalue(s->exports, 0, 5), NULL));
	family(out, "ops_export_spool_bytes", "gauge",
	    "Bytes held by the export spool (all chunks of all jobs).");
	buf_appendf(out, "ops_export_spool_bytes %lld\n", s->spool_bytes);
}

static void
prom_locks(struct buf *out, const struct snapshot *s, int stale_after)
{
	const struct lock_rows *l = &s->locks;

	family(out, "ops_scheduler_lock_held", "gauge",
	    "Whether the scheduler lock has a holder.");
	for (int i = 0; i < l->n; i++)
		sample1(out, "ops_scheduler_lock_held", "name",
		    l->rows[i].name, l->rows[i].holder ? 1 : 0);
	family(out, "ops_scheduler_lock_heartbeat_age_seconds", "gauge",
	    "Seconds since the holder's last heartbeat (held locks only).");
	for (int i = 0; i < l->n; i++)
		if (l->rows[i].holder)
			sample1(out, "ops_scheduler_lock_heartbeat_age_seconds",
			    "name", l->rows[i].name,
			    round3(lock_row_heartbeat_age(&l->rows[i])));
	family(out, "ops_scheduler_lock_stale", "gauge",
	    "1 when the lock is STALE or EXPIRED (a holder that stopped "
	    "heart-beating), else 0.");
	for (int i = 0; i < l->n; i++) {
		enum lock_state st = api_state(&l->rows[i], stale_after);

		sample1(out, "ops_scheduler_lock_stale", "name",
		    l->rows[i].name, st == LOCK_STATE_STALE ||
		    st == LOCK_STATE_EXPIRED ? 1 : 0);
	}
	family(out, "ops_scheduler_lock_fencing_token", "gauge",
	    "Current fencing token of the lock (grows on every acquisition "
	    "and recovery).");
	for (int i = 0; i < l->n; i++)
		sample1(out, "ops_scheduler_lock_fencing_token", "name",
		    l->rows[i].name, (double)l->rows[i].token);
}

static void
prom_heals(struct buf *out, const struct snapshot *s)
{
	PGresult *res = s->heals;

	family(out, "ops_scheduler_lock_recoveries_total", "counter",
	    "Stuck locks recovered by ops-lock-healer, by reason (counted "
	    "from SCHEDULER_LOCK_RECOVERED events).");
	for (int i = 0; i < PQntuples(res); i++)
		for (int k = 0; k < 3; k++) {
			buf_appends(out, "ops_scheduler_lock_recoveries_total"
			    "{name=\"");
			metrics_label_value(out, PQgetvalue(res, i, 0));
			buf_appendf(out, "\",reason=\"%s\"} %s\n",
			    heal_reasons[k], PQgetvalue(res, i, 1 + k));
		}
	family(out, "ops_scheduler_lock_force_releases_total", "counter",
	    "Held locks force-released by an operator (API or opsctl).");
	for (int i = 0; i < PQntuples(res); i++)
		sample1(out, "ops_scheduler_lock_force_releases_total", "name",
		    PQgetvalue(res, i, 0), strtod(PQgetvalue(res, i, 4), NULL));
}

static void
prom_events(struct buf *out, const struct snapshot *s,
    const struct ops_config *cfg)
{
	PGresult *res = s->events;

	family(out, "ops_export_events_total", "counter",
	    "Export outcome events ever written, by type: EXPORT_COMPLETED, "
	    "EXPORT_FAILED, EXPORT_CORRUPT (a chunk failed its digest).");
	for (int i = 0; i < PQntuples(res); i++)
		sample1(out, "ops_export_events_total", "type",
		    PQgetvalue(res, i, 0), strtod(PQgetvalue(res, i, 1), NULL));
	family(out, "ops_event_oldest_age_seconds", "gauge",
	    "Age of the oldest ops_event row (0 when there is none); above "
	    "ops_event_retention_seconds, the purge lags.");
	buf_appendf(out, "ops_event_oldest_age_seconds %.3f\n",
	    PQntuples(res) == 0 || PQgetisnull(res, 0, 2) ? 0.0 :
	    strtod(PQgetvalue(res, 0, 2), NULL));
	family(out, "ops_event_retention_seconds", "gauge",
	    "events.retention_days in seconds, as this responder is "
	    "configured.");
	buf_appendf(out, "ops_event_retention_seconds %lld\n",
	    (long long)cfg->events.retention_days * 86400);
}

/* One histogram family from column c (counts) and sc (sum) of HIST_SQL. */
static void
prom_histogram(struct buf *out, PGresult *res, const char *name,
    const char *help, int c, int sc)
{
	long long cum = 0;
	int n = PQntuples(res);

	family(out, name, "histogram", help);
	for (int i = 0; i < n && i < HISTORY_NBUCKETS; i++) {
		cum += strtoll(PQgetvalue(res, i, c), NULL, 10);
		if (i < HISTORY_NBUCKETS - 1)
			buf_appendf(out, "%s_bucket{le=\"%g\"} %lld\n", name,
			    history_bucket_le[i], cum);
		else
			buf_appendf(out, "%s_bucket{le=\"+Inf\"} %lld\n", name,
			    cum);
	}
	buf_appendf(out, "%s_sum %.3f\n", name, n > 0 ?
	    strtod(PQgetvalue(res, 0, sc), NULL) : 0.0);
	buf_appendf(out, "%s_count %lld\n", name, cum);
}

/* The per-job families: which column of the jobs query each one reads. */
static const struct {
	const char	*name;
	const char	*help;
	int		 col;
	bool		 zero_when_null;	/* else: no sample */
} job_families[] = {
	{ "ops_job_last_success_timestamp_seconds",
	    "When the job last finished successfully (0: never).", 9, true },
	{ "ops_job_last_failure_timestamp_seconds",
	    "When the job last failed (0: never).", 13, true },
	{ "ops_job_last_start_timestamp_seconds",
	    "When the job's last run started (0: never).", 17, true },
	{ "ops_job_last_duration_seconds",
	    "How long the job's last finished run took.", 16, false },
};

static void
prom_webhooks(struct buf *out, const struct snapshot *s)
{
	static const char *const states[] = { "PENDING", "DELIVERED",
	    "FAILED" };
	PGresult *res = s->webhooks;

	family(out, "ops_webhook_deliveries", "gauge",
	    "Webhook deliveries kept, by state (DELIVERED and FAILED rows are "
	    "purged after webhooks.retention_days).");
	for (int i = 0; i < 3; i++)
		sample1(out, "ops_webhook_deliveries", "state", states[i],
		    strtod(PQgetvalue(res, 0, i), NULL));
	family(out, "ops_webhook_dispatch_lag_seconds", "gauge",
	    "How long the oldest due webhook delivery has been waiting (0 "
	    "when none is due).");
	buf_appendf(out, "ops_webhook_dispatch_lag_seconds %.3f\n",
	    strtod(PQgetvalue(res, 0, 3), NULL));
	family(out, "ops_webhook_endpoints", "gauge",
	    "Webhook endpoints, enabled or disabled (a 410 disables one).");
	sample1(out, "ops_webhook_endpoints", "enabled", "true",
	    strtod(PQgetvalue(res, 0, 4), NULL));
	sample1(out, "ops_webhook_endpoints", "enabled", "false",
	    strtod(PQgetvalue(res, 0, 5), NULL));
}

static void
prom_jobs(struct buf *out, const struct snapshot *s)
{
	PGresult *res = s->jobs;
	int n = PQntuples(res);

	for (size_t f = 0; f < sizeof(job_families) / sizeof(job_families[0]);
	    f++) {
		int c = job_families[f].col;

		family(out, job_families[f].name, "gauge", job_families[f].help);
		for (int i = 0; i < n; i++) {
			if (!col(res, i, c) && !job_families[f].zero_when_null)
				continue;
			sample1(out, job_families[f].name, "job",
			    PQgetvalue(res, i, 0), col(res, i, c) ?
			    strtod(PQgetvalue(res, i, c), NULL) : 0.0);
		}
	}
}

int
metrics_prometheus(struct db *db, const struct ops_config *cfg,
    struct buf *out)
{
	struct snapshot s;

	family(out, "ops_database_up", "gauge",
	    "Whether the responder could read its numbers from the database.");
	if (snapshot_take(db, &s, false) != 0) {
		buf_appends(out, "ops_database_up 0\n");
		return -1;
	}
	buf_appends(out, "ops_database_up 1\n");
	family(out, "ops_database_latency_seconds", "gauge",
	    "Round trip of the responder's first query to the database.");
	buf_appendf(out, "ops_database_latency_seconds %.6f\n",
	    s.latency_ms / 1000.0);
	prom_exports(out, &s);
	prom_locks(out, &s, cfg->locks.stale_after_seconds);
	prom_heals(out, &s);
	prom_events(out, &s, cfg);
	prom_histogram(out, s.hist, "ops_export_duration_seconds",
	    "Run time of the exports that ended DONE (finished_at - "
	    "started_at), over every job ever (purges do not lower it).", 0, 2);
	prom_histogram(out, s.hist, "ops_export_queue_wait_seconds",
	    "Time from creation to the first claim by a runner (started_at - "
	    "created_at), over every job ever (purges do not lower it).", 1, 3);
	prom_webhooks(out, &s);
	prom_jobs(out, &s);
	snapshot_free(&s);
	return 0;
}

void
metrics_download_spool(const char *dir, struct buf *out)
{
	struct statvfs sv;
	bool up = dir != NULL && *dir != '\0' && statvfs(dir, &sv) == 0;

	family(out, "ops_download_spool_up", "gauge",
	    "Whether the responder could read the filesystem of nginx's "
	    "download spool (export.download_spool_dir).");
	buf_appendf(out, "ops_download_spool_up %d\n", up ? 1 : 0);
	if (!up)
		return;
	family(out, "ops_download_spool_free_bytes", "gauge",
	    "Bytes free for nginx's download temp files (statvfs f_bavail).");
	buf_appendf(out, "ops_download_spool_free_bytes %.17g\n",
	    (double)sv.f_bavail * (double)sv.f_frsize);
	family(out, "ops_download_spool_size_bytes", "gauge",
	    "Size of the filesystem of nginx's download spool.");
	buf_appendf(out, "ops_download_spool_size_bytes %.17g\n",
	    (double)sv.f_blocks * (double)sv.f_frsize);
}
