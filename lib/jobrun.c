#include "jobrun.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "events.h"
#include "log.h"
#include "metrics.h"
#include "stop.h"
#include "xalloc.h"
#include "xjson.h"


int
jobrun_begin(struct jobrun *jr, const char *job, const char *lock_name,
    const struct ops_config *cfg, const char *textfile_dir)
{
	char busy[512], pid[16], tok[24];
	enum lock_status st;
	PGresult *res;

	memset(jr, 0, sizeof(*jr));
	jr->job = job;
	jr->cfg = cfg;
	jr->textfile_dir = textfile_dir;
	jr->counts = json_object();
	jr->started = mono_now();
	jr->last_beat = jr->started;
	lock_owner_self(&jr->me, job);
	/* before the lock: from here on a stop releases what it took */
	if (stop_install() != 0) {
		json_decref(jr->counts);
		return JOBRUN_EXIT_FAIL;
	}
	/*
	 * Write transactions are one chunk or one batch long and never wait
	 * for the client in between: a process paused inside one must not
	 * keep its row locks past an export lease, nor past stale_after, since
	 * a fenced write holds its scheduler lock row FOR SHARE and the healer
	 * cannot recover the lock before the server ends that session. The
	 * role's idle_in_transaction_session_timeout (set by `opsctl migrate`
	 * to min(export.lease_seconds, locks.stale_after_seconds)) does that.
	 */
	db_init(&jr->db, cfg->database.url, cfg->database.jobs_role,
	    cfg->database.connect_timeout_seconds, job);
	st = lock_acquire(&jr->db, lock_name, &jr->me, cfg->locks.lease_seconds,
	    &jr->lease, busy, sizeof(busy));
	if (st == LOCK_BUSY) {
		fprintf(stderr, "%s: %s; not running (exit 75)\n", job, busy);
		log_info("%s", busy);
		json_decref(jr->counts);
		db_close(&jr->db);
		return JOBRUN_EXIT_BUSY;
	}
	if (st != LOCK_OK) {
		fprintf(stderr, "%s: cannot take lock %s: database %s: %s\n",
		    job, lock_name, jr->db.err == DB_ERR_UNAVAILABLE ?
		    "unavailable" : "error", jr->db.errmsg);
		json_decref(jr->counts);
		db_close(&jr->db);
		return JOBRUN_EXIT_FAIL;
	}
	jr->locked = true;
	snprintf(pid, sizeof(pid), "%d", jr->me.pid);
	snprintf(tok, sizeof(tok), "%lld", jr->lease.token);
	{
		const char *p[] = { job, jr->me.host, pid, tok };

		res = db_query(&jr->db, "INSERT INTO job_run (job, host, pid, "
		    "fencing_token) VALUES ($1, $2, $3, $4) RETURNING id", 4, p);
	}
	if (res != NULL) {
		jr->run_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
	}
	log_info("lock %s acquired (token %lld)", lock_name, jr->lease.token);
	return 0;
}

static int
beat(struct jobrun *jr)
{
	enum lock_status st;

	st = lock_heartbeat(&jr->db, &jr->lease);
	if (st == LOCK_LOST) {
		jr->lost = true;
		log_error("lock %s was taken over (our token %lld is no longer "
		    "current): stopping without writing anything more",
		    jr->lease.name, jr->lease.token);
		return -1;
	}
	if (st == LOCK_OK)
		jr->last_beat = mono_now();
	else
		log_warn("lock %s heartbeat failed: %s", jr->lease.name,
		    jr->db.errmsg);
	return 0;
}

bool
jobrun_stopping(struct jobrun *jr)
{
	if (!jr->stopped && stop_requested() != 0) {
		jr->stopped = true;
		log_warn("%s received, stopping: ending the unit of work in "
		    "progress, then recording the run and releasing lock %s",
		    stop_signal_name(), jr->lease.name);
	}
	return jr->stopped;
}

int
jobrun_tick(struct jobrun *jr)
{
	if (jr->lost || jobrun_stopping(jr))
		return -1;
	if (mono_now() - jr->last_beat < jr->cfg->locks.heartbeat_seconds)
		return 0;
	return beat(jr);
}

int
jobrun_check(struct jobrun *jr)
{
	if (jr->lost)
		return -1;
	if (!jr->locked)
		return 0;
	return beat(jr);
}

void
jobrun_count(struct jobrun *jr, const char *key, long long n)
{
	json_t *v = json_object_get(jr->counts, key);
	json_int_t cur = v ? json_integer_value(v) : 0;

	xjson_set(jr->counts, key, json_integer(cur + n));
}

/* The run's outcome, in one transaction: job_run row and ops_event. */
static int
record_run(struct jobrun *jr, const char *error, double duration)
{
	char id[24], dur[32];
	char *counts = xnonnull(json_dumps(jr->counts, JSON_COMPACT |
	    JSON_SORT_KEYS));
	json_t *data = xjson_pack("{s:s, s:s, s:i, s:f, s:O, s:I}", "job",
	    jr->job, "host", jr->me.host, "pid", jr->me.pid,
	    "duration_seconds", duration, "counts", jr->counts,
	    "fencing_token", (json_int_t)jr->lease.token);
	struct ops_event ev = {
		.type = error ? "JOB_RUN_FAILED" : "JOB_RUN_SUCCEEDED",
		.severity = error ? "error" : "info", .source = jr->job,
		.subject_type = "job", .subject_id = jr->job, .data = data
	};
	int rc = -1;

	if (error) {
		xjson_set(data, "error", json_string(error));
		xjson_set(data, "reason", json_string(jr->stopped ?
		    JOBRUN_REASON_TERMINATED : jr->lost ? "lock_lost" :
		    "error"));
		if (jr->stopped)
			xjson_set(data, "signal",
			    json_string(stop_signal_name()));
	}
	snprintf(id, sizeof(id), "%lld", jr->run_id);
	snprintf(dur, sizeof(dur), "%.6f", duration);
	if (db_begin(&jr->db) == 0 && events_record(&jr->db, NULL, &ev) == 0) {
		const char *p[] = { id, error ? "FAILED" : "SUCCEEDED", dur,
		    counts, error };

		if ((jr->run_id == 0 || db_exec(&jr->db, "UPDATE job_run SET "
		    "status = $2, finished_at = greatest(now(), started_at), "
		    "duration_seconds = $3, counts = $4::jsonb, error = $5 "
		    "WHERE id = $1", 5, p) == 0) && db_commit(&jr->db) == 0)
			rc = 0;
	}
	if (rc != 0)
		db_rollback(&jr->db);
	json_decref(data);
	free(counts);
	return rc;
}

const char *
jobrun_db_error(struct jobrun *jr, const char *what, const struct db *db)
{
	char why[1024];

	snprintf(jr->error, sizeof(jr->error), "%s: %s", what,
	    db_error_text(db, why, sizeof(why)));
	return jr->error;
}

int
jobrun_end(struct jobrun *jr, const char *error)
{
	double duration = mono_now() - jr->started;
	char stopped[160];
	int status;

	if (jr->lost && error == NULL)
		error = "the job's scheduler lock was taken over";
	status = error ? JOBRUN_EXIT_FAIL : JOBRUN_EXIT_OK;
	if (jr->stopped) {
		/* what failed after the signal (a cancelled statement) is the
		 * stop itself */
		snprintf(stopped, sizeof(stopped), "terminated by %s: stopped "
		    "between units of work%s", stop_signal_name(),
		    jr->lost ? " (the lock had been taken over)" : "");
		error = stopped;
		status = stop_exit_status();
	}

	if (record_run(jr, error, duration) != 0)
		log_error("cannot record the run of %s: %s", jr->job,
		    jr->db.errmsg);
	if (jr->locked && !jr->lost &&
	    lock_release(&jr->db, &jr->lease) == LOCK_LOST)
		log_warn("lock %s had already been taken over at release",
		    jr->lease.name);
	if (jr->textfile_dir && jobrun_write_textfile(jr->textfile_dir,
	    jr->job, error == NULL, duration, time(NULL), jr->counts) != 0)
		log_warn("cannot write the textfile in %s", jr->textfile_dir);
	if (jr->lost)
		fprintf(stderr, "%s: lock %s was taken over (our fencing token "
		    "%lld is no longer current: the healer or an operator "
		    "recovered it); stopped without writing anything more\n",
		    jr->job, jr->lease.name, jr->lease.token);
	if (jr->stopped)
		log_warn("%s stopped after %.1f s: %s; lock %s %s, exit %d",
		    jr->job, duration, error, jr->lease.name, jr->lost ?
		    "was not ours any more" : "released", status);
	else if (error)
		log_error("%s failed after %.1f s: %s", jr->job, duration, error);
	else
		log_info("%s succeeded in %.1f s", jr->job, duration);
	json_decref(jr->counts);
	db_close(&jr->db);
	return status;
}

int
jobrun_write_textfile(const char *dir, const char *job, bool ok,
    double duration, time_t finished, const json_t *counts)
{
	struct buf path = BUF_INIT, tmp = BUF_INIT, body = BUF_INIT;
	struct buf lj = BUF_INIT;	/* the job label, escaped */
	const char *key;
	json_t *v;
	FILE *f;
	int rc = -1;

	metrics_label_value(&lj, job);
	buf_appendf(&body, "# HELP ops_job_last_run_success Whether the last "
	    "run of the job succeeded.\n# TYPE ops_job_last_run_success gauge\n"
	    "ops_job_last_run_success{job=\"%s\"} %d\n", lj.data, ok ? 1 : 0);
	buf_appendf(&body, "# HELP ops_job_last_run_timestamp_seconds When the "
	    "last run of the job finished.\n# TYPE "
	    "ops_job_last_run_timestamp_seconds gauge\n"
	    "ops_job_last_run_timestamp_seconds{job=\"%s\"} %lld\n", lj.data,
	    (long long)finished);
	buf_appendf(&body, "# HELP ops_job_last_run_duration_seconds How long "
	    "the last run of the job took.\n# TYPE "
	    "ops_job_last_run_duration_seconds gauge\n"
	    "ops_job_last_run_duration_seconds{job=\"%s\"} %.3f\n", lj.data,
	    duration);
	/* not "_count": that suffix belongs to histograms and summaries */
	buf_appends(&body, "# HELP ops_job_last_run_items What the last run of "
	    "the job handled, by kind (claimed, done, expired, recovered, "
	    "...).\n# TYPE ops_job_last_run_items gauge\n");
	json_object_foreach((json_t *)counts, key, v) {
		buf_appendf(&body, "ops_job_last_run_items{job=\"%s\",what=\"",
		    lj.data);
		metrics_label_value(&body, key);
		buf_appendf(&body, "\"} %lld\n", (long long)json_integer_value(v));
	}
	buf_free(&lj);
	buf_appendf(&path, "%s/%s.prom", dir, job);
	buf_appendf(&tmp, "%s/.%s.prom.%d", dir, job, (int)getpid());
	if ((f = fopen(tmp.data, "we")) != NULL) {
		if (fwrite(body.data, 1, body.len, f) == body.len &&
		    fflush(f) == 0 && fsync(fileno(f)) == 0)
			rc = 0;
		if (fclose(f) != 0)
			rc = -1;
		if (rc == 0 && rename(tmp.data, path.data) != 0)
			rc = -1;
		if (rc != 0)
			unlink(tmp.data);
	}
	buf_free(&path);
	buf_free(&tmp);
	buf_free(&body);
	return rc;
}
