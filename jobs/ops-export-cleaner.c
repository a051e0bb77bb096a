/*
 * ops-export-cleaner: the export TTL (plan P21-L05).
 *
 *   1. DONE jobs past expires_at become EXPIRED (EXPORT_EXPIRED event, same
 *      transaction); downloads answer 410 from then on;
 *   2. the chunks of EXPIRED and FAILED jobs are deleted in batches of
 *      export.cleaner_batch_size, one short transaction per batch;
 *   3. job rows (and job_run rows) older than export.retention_days are
 *      purged;
 *   4. ops_event rows older than events.retention_days are purged, batch
 *      by batch, each batch adding what it deleted to ops_event_rollup in
 *      the same statement, so that the counters /metrics builds from
 *      events never go down (sql/migrations/0005_event_retention.sql).
 *
 * Every write is fenced by the cleaner's scheduler lock token: a cleaner
 * whose lock was recovered while it was paused changes nothing more.
 *
 * SIGTERM/SIGINT: the batch in progress commits (each is one short
 * transaction), no next batch starts; the run is recorded terminated and
 * the lock released (exit 143, 130 for SIGINT). What is left is the next
 * run's: every step is idempotent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "jobcli.h"
#include "jobrun.h"
#include "locks.h"
#include "log.h"
#include "storage.h"
#include "xjson.h"

#define BINARY	"ops-export-cleaner"

struct cleaner {
	struct jobrun		*jr;
	const struct ops_config	*cfg;
	char			 token[24];
	char			 batch[16];
};

/* Mark one batch of DONE jobs past expiry EXPIRED; returns count or -1. */
static long long
expire_batch(struct cleaner *c)
{
	struct db *db = &c->jr->db;
	const char *p[] = { c->jr->lease.name, c->token, c->batch };
	PGresult *res;
	long long n;

	if (db_begin(db) != 0)
		return -1;
	res = db_query(db, "UPDATE tb_audit_export_job SET state = 'EXPIRED' "
	    "WHERE id IN (SELECT id FROM tb_audit_export_job WHERE state = "
	    "'DONE' AND expires_at <= now() ORDER BY expires_at LIMIT $3 "
	    "FOR UPDATE SKIP LOCKED) AND " LOCK_FENCE_SQL(1, 2)
	    " RETURNING id, tenant_id, total_bytes", 3, p);
	if (res == NULL) {
		db_rollback(db);
		return -1;
	}
	n = PQntuples(res);
	for (int i = 0; i < n; i++) {
		json_t *data = xjson_pack("{s:I}", "total_bytes",
		    (json_int_t)strtoll(PQgetvalue(res, i, 2), NULL, 10));
		struct ops_event ev = {
			.type = "EXPORT_EXPIRED", .severity = "info",
			.source = BINARY, .tenant_id = PQgetvalue(res, i, 1),
			.subject_type = "audit_export",
			.subject_id = PQgetvalue(res, i, 0), .data = data
		};
		int rc = events_record(db, NULL, &ev);

		json_decref(data);
		if (rc != 0) {
			PQclear(res);
			db_rollback(db);
			return -1;
		}
	}
	PQclear(res);
	if (db_commit(db) != 0) {
		db_rollback(db);
		return -1;
	}
	return n;
}

/*
 * Delete the chunks of terminal jobs (EXPIRED, FAILED) still in the
 * retention window, batch by batch. Returns chunks deleted, or -1.
 */
static long long
sweep_chunks(struct cleaner *c)
{
	struct db *db = &c->jr->db;
	char days[16];
	long long total = 0;
	PGresult *jobs;

	snprintf(days, sizeof(days), "%d", c->cfg->export.retention_days);
	{
		const char *q[] = { days };

		jobs = db_query(db, "SELECT id FROM tb_audit_export_job WHERE "
		    "state IN ('EXPIRED', 'FAILED') AND finished_at > now() - "
		    "$1 * interval '1 day'", 1, q);
	}
	if (jobs == NULL)
		return -1;
	for (int i = 0; i < PQntuples(jobs); i++) {
		const char *id = PQgetvalue(jobs, i, 0);
		long long n;

		do {
			enum lock_status fence;

			if (jobrun_tick(c->jr) != 0) {
				PQclear(jobs);
				return -1;
			}
			/* fence: the batch commits only while the lock is ours */
			if (db_begin(db) != 0)
				goto fail;
			fence = lock_fence_check(db, c->jr->lease.name,
			    c->jr->lease.token);
			if (fence != LOCK_OK) {
				db_rollback(db);
				c->jr->lost = fence == LOCK_LOST;
				goto fail;
			}
			n = storage_db_spool.delete_chunks(db, id,
			    c->cfg->export.cleaner_batch_size);
			if (n < 0 || db_commit(db) != 0) {
				db_rollback(db);
				goto fail;
			}
			total += n;
		} while (n > 0);
	}
	PQclear(jobs);
	return total;
fail:
	PQclear(jobs);
	return -1;
}

/* Purge job rows (and their chunks, by cascade) past retention. */
static long long
purge_batch(struct cleaner *c, const char *sql)
{
	char days[16];
	const char *p[] = { c->jr->lease.name, c->token, c->batch, days };

	snprintf(days, sizeof(days), "%d", c->cfg->export.retention_days);
	return db_exec_rows(&c->jr->db, sql, 4, p);
}

/*
 * Delete one batch of ops_event rows older than events.retention_days and,
 * in the same statement, add the ones counters are built from to
 * ops_event_rollup. Returns the rows deleted, or -1.
 */
static long long
purge_events_batch(struct cleaner *c)
{
	struct db *db = &c->jr->db;
	char days[16];
	const char *p[] = { c->jr->lease.name, c->token, c->batch, days };
	PGresult *res;
	long long n;

	snprintf(days, sizeof(days), "%d", c->cfg->events.retention_days);
	res = db_query(db, "WITH gone AS (DELETE FROM ops_event WHERE id IN "
	    "(SELECT id FROM ops_event WHERE occurred_at < now() - $4 * "
	    "interval '1 day' ORDER BY occurred_at LIMIT $3) AND "
	    LOCK_FENCE_SQL(1, 2) " RETURNING event_type, subject_type, "
	    "subject_id, data, occurred_at), "
	    "rolled AS (INSERT INTO ops_event_rollup AS r (event_type, "
	    "subject_type, subject_id, label, n, last_purged_at) "
	    "SELECT event_type, "
	    "CASE WHEN subject_type = 'scheduler_lock' THEN "
	    "coalesce(subject_type, '') ELSE '' END, "
	    "CASE WHEN subject_type = 'scheduler_lock' THEN "
	    "coalesce(subject_id, '') ELSE '' END, "
	    "CASE event_type WHEN 'SCHEDULER_LOCK_RECOVERED' THEN "
	    "coalesce(data->>'reason', '') "
	    "WHEN 'SCHEDULER_LOCK_FORCE_RELEASED' THEN "
	    "coalesce(data->>'already_free', '') ELSE '' END, "
	    "count(*), max(occurred_at) FROM gone WHERE event_type IN "
	    "('SCHEDULER_LOCK_RECOVERED', 'SCHEDULER_LOCK_FORCE_RELEASED', "
	    "'EXPORT_COMPLETED', 'EXPORT_FAILED', 'EXPORT_CORRUPT') "
	    "GROUP BY 1, 2, 3, 4 "
	    "ON CONFLICT (event_type, subject_type, subject_id, label) DO "
	    "UPDATE SET n = r.n + EXCLUDED.n, last_purged_at = "
	    "greatest(r.last_purged_at, EXCLUDED.last_purged_at)) "
	    "SELECT count(*) FROM gone", 4, p);
	if (res == NULL)
		return -1;
	n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return n;
}

int
main(int argc, char **argv)
{
	struct jobcli cli = {
		.binary = BINARY,
		.summary = "Expires DONE audit exports past their TTL, deletes "
		    "their chunks in batches, and purges old job rows and "
		    "ops_event rows."
	};
	struct ops_config cfg;
	struct jobrun jr;
	struct cleaner c;
	const char *error = NULL;
	long long n = 0;
	int status;

	jobcli_start(&cli, argc, argv, &cfg);
	if ((status = jobrun_begin(&jr, BINARY, BINARY, &cfg,
	    cli.textfile_dir)) != 0) {
		config_free(&cfg);
		return status;
	}
	c.jr = &jr;
	c.cfg = &cfg;
	snprintf(c.token, sizeof(c.token), "%lld", jr.lease.token);
	snprintf(c.batch, sizeof(c.batch), "%d", cfg.export.cleaner_batch_size);

	while (!jobrun_stopping(&jr) && (n = expire_batch(&c)) > 0) {
		jobrun_count(&jr, "expired", n);
		if (jobrun_tick(&jr) != 0)
			break;
	}
	if (n < 0 || jr.lost)
		error = jr.lost ? "the cleaner's lock was taken over" :
		    jobrun_db_error(&jr, "expiring jobs failed", &jr.db);
	if (error == NULL && !jr.stopped) {
		if ((n = sweep_chunks(&c)) < 0)
			error = jr.lost ? "the cleaner's lock was taken over" :
			    jobrun_db_error(&jr, "deleting chunks failed",
			    &jr.db);
		else
			jobrun_count(&jr, "chunks_deleted", n);
	}
	while (error == NULL && !jobrun_stopping(&jr) && (n = purge_batch(&c,
	    "DELETE FROM tb_audit_export_job WHERE id IN (SELECT id FROM "
	    "tb_audit_export_job WHERE state IN ('EXPIRED', 'FAILED') AND "
	    "finished_at < now() - $4 * interval '1 day' LIMIT $3) AND "
	    LOCK_FENCE_SQL(1, 2))) > 0)
		jobrun_count(&jr, "jobs_purged", n);
	if (error == NULL && n < 0)
		error = jobrun_db_error(&jr, "purging old jobs failed",
		    &jr.db);
	while (error == NULL && !jobrun_stopping(&jr) && (n = purge_batch(&c,
	    "DELETE FROM job_run "
	    "WHERE id IN (SELECT id FROM job_run WHERE status <> 'RUNNING' "
	    "AND finished_at < now() - $4 * interval '1 day' LIMIT $3) AND "
	    LOCK_FENCE_SQL(1, 2))) > 0)
		jobrun_count(&jr, "job_runs_purged", n);
	if (error == NULL && n < 0)
		error = jobrun_db_error(&jr, "purging old job runs failed",
		    &jr.db);
	while (error == NULL && !jobrun_stopping(&jr) &&
	    (n = purge_events_batch(&c)) > 0) {
		jobrun_count(&jr, "events_purged", n);
		if (jobrun_tick(&jr) != 0)
			error = "the cleaner's lock was taken over";
	}
	if (error == NULL && n < 0)
		error = jobrun_db_error(&jr, "purging old events failed",
		    &jr.db);

	status = jobrun_end(&jr, error);
	config_free(&cfg);
	return status;
}
