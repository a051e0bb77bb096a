#include "lockheal.h"

#include <libpq-fe.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "log.h"
#include "xjson.h"

/* Classify a row as the healer sees it (with a look at /proc). */
static enum lock_state
classify(const struct lockheal *h, const struct lock_row *r, const char **why)
{
	struct lock_self self = { h->me->host, h->me->boot_id };
	enum lock_proc proc = LOCK_PROC_NOT_PROBED;
	struct lock_facts f;

	lock_row_facts(r, &f);
	if (h->probe && lock_holder_is_local(&f, &self))
		proc = lock_probe_process(f.pid, f.started_at);
	return lock_classify(&f, r->now, h->stale_after, h->probe ? &self :
	    NULL, proc, why);
}

static void
report(const struct lockheal *h, const struct lock_row *r, enum lock_state st,
    const char *action)
{
	if (h->out == NULL)
		return;
	if (r->holder == NULL)
		fprintf(h->out, "%s %s token=%lld action=%s\n", r->name,
		    lock_state_name(st), r->token, action);
	else
		fprintf(h->out, "%s %s holder=%s host=%s pid=%d token=%lld "
		    "heartbeat_age=%.1fs lease_left=%.1fs action=%s\n", r->name,
		    lock_state_name(st), r->holder, r->host ? r->host : "-",
		    r->pid, r->token, lock_row_heartbeat_age(r),
		    lock_row_lease_left(r), action);
	fflush(h->out);
}

static double
ms(double s)
{
	return round(s * 1000.0) / 1000.0;
}

/* The events' data: the old holder and why it was taken. New reference. */
static json_t *
heal_data(const struct lockheal *h, const struct lock_row *r,
    enum lock_state st, const char *why, long long new_token)
{
	json_t *d = xjson_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:I, "
	    "s:f, s:f, s:f, s:s, s:s}",
	    "name", r->name, "state", lock_state_name(st),
	    "reason", lock_state_reason(st), "why", why,
	    "old_holder", r->holder, "old_host", r->host ? r->host : "",
	    "old_pid", r->pid, "fencing_before", (json_int_t)r->token,
	    "fencing_after", (json_int_t)new_token,
	    "heartbeat_age_seconds", ms(lock_row_heartbeat_age(r)),
	    "lease_overdue_seconds", ms(-lock_row_lease_left(r)),
	    "held_for_seconds", ms(r->now - r->acquired_epoch),
	    "healer", h->me->holder, "healer_host", h->me->host);

	xjson_set(d, "old_boot_id", r->boot_id ?
	    json_string(r->boot_id) : json_null());
	xjson_set(d, "old_started_at", r->started_at >= 0 ?
	    json_integer(r->started_at) : json_null());
	return d;
}

static int
heal_record(struct lockheal *h, const char *name, json_t *data)
{
	struct ops_event detected = {
		.type = "SCHEDULER_LOCK_STUCK_DETECTED", .severity = "warning",
		.source = LOCKHEAL_SOURCE, .subject_type = "scheduler_lock",
		.subject_id = name, .data = data
	};
	struct ops_event recovered = {
		.type = "SCHEDULER_LOCK_RECOVERED", .severity = "info",
		.source = LOCKHEAL_SOURCE, .subject_type = "scheduler_lock",
		.subject_id = name, .data = data, .actor_id = LOCKHEAL_ACTOR
	};

	if (events_record(h->db, h->rules, &detected) != 0 ||
	    events_record(h->db, h->rules, &recovered) != 0)
		return -1;
	return 0;
}

/* The fence: is the healer's own lock still ours? 1 yes, 0 no, -1 error. */
static int
fence_check(struct lockheal *h)
{
	enum lock_status ls;

	if (h->fence_name == NULL)
		return 1;
	ls = lock_fence_check(h->db, h->fence_name, h->fence_token);
	return ls == LOCK_DBERR ? -1 : ls == LOCK_OK;
}

/* One recovery in progress: what the take-over's steps share. */
struct heal {
	struct lockheal	*h;
	enum lock_state	 st;
	const char	*why;
};

/* The fence first: is the healer's own lock still ours? */
static int
heal_prepare(void *arg, struct db *db)
{
	struct heal *he = arg;
	int fc;

	(void)db;
	if ((fc = fence_check(he->h)) == 1)
		return 0;
	if (fc == 0) {
		he->h->lost = true;
		log_error("the healer's lock %s was taken over (our token %lld "
		    "is no longer current): stopping without writing anything "
		    "more", he->h->fence_name, he->h->fence_token);
	}
	return -1;
}

/* Still stuck now that the row is locked? */
static int
heal_judge(void *arg, const struct lock_row *r, char *reason, size_t sz)
{
	struct heal *he = arg;

	he->why = "";
	he->st = classify(he->h, r, &he->why);
	if (!lock_state_recoverable(he->st)) {
		log_info("lock %s is %s now: left alone", r->name,
		    lock_state_name(he->st));
		return 0;
	}
	snprintf(reason, sz, "healed: %s", lock_state_reason(he->st));
	return 1;
}

static int
heal_take_record(void *arg, struct db *db, const struct lock_row *r,
    long long new_token, const char *released_at)
{
	struct heal *he = arg;
	json_t *data = heal_data(he->h, r, he->st, he->why, new_token);
	int rc;

	(void)db;
	(void)released_at;
	rc = heal_record(he->h, r->name, data);
	json_decref(data);
	return rc;
}

static void
heal_done(void *arg, const struct lock_row *r, long long new_token,
    const char *released_at)
{
	struct heal *he = arg;
	struct lockheal *h = he->h;

	(void)released_at;
	log_warn("recovered lock %s: %s (%s); it was held by %s on %s, pid %d, "
	    "last heartbeat %.1f s ago; token %lld -> %lld", r->name,
	    lock_state_name(he->st), he->why, r->holder,
	    r->host ? r->host : "?", r->pid, lock_row_heartbeat_age(r),
	    r->token, new_token);
	switch (he->st) {
	case LOCK_STATE_STALE:		h->stale++; break;
	case LOCK_STATE_EXPIRED:	h->expired++; break;
	default:			h->orphaned++; break;
	}
	h->recovered++;
}

/*
 * Recover name in one transaction after re-checking it under FOR UPDATE
 * (lockadmin_take()). 1 recovered, 0 skipped (busy row, or no longer
 * stuck), -1 failure.
 */
static int
recover(struct lockheal *h, const char *name)
{
	static const struct lock_take_ops ops = {
		heal_prepare, heal_judge, heal_take_record, heal_done
	};
	struct heal he = { h, LOCK_STATE_FREE, "" };

	switch (lockadmin_take(h->db, name, "FOR UPDATE SKIP LOCKED",
	    h->me->holder, &ops, &he)) {
	case LOCKTAKE_TAKEN:
		return 1;
	case LOCKTAKE_NO_ROW:
		log_warn("lock %s is locked by a transaction in progress (a "
		    "fenced write of its holder, or an operator): skipped, "
		    "retried on the next run", name);
		return 0;
	case LOCKTAKE_LEFT:
		return 0;
	default:
		return -1;
	}
}

int
lockheal_one(struct lockheal *h, const char *name)
{
	struct lock_rows rows;
	enum lock_state st;
	int rc = 0;

	if (lockadmin_load(h->db, name, NULL, &rows) != 0)
		return -1;
	st = rows.n == 1 ? classify(h, &rows.rows[0], NULL) : LOCK_STATE_FREE;
	if (lock_state_recoverable(st)) {
		if (h->dry_run)
			report(h, &rows.rows[0], st, "would-recover");
		else
			rc = recover(h, name);
		if (rc >= 0 && !h->dry_run)
			report(h, &rows.rows[0], st, rc == 1 ? "recovered" :
			    "skipped");
	}
	lock_rows_free(&rows);
	return rc;
}

int
lockheal_run(struct lockheal *h)
{
	struct lock_rows rows;
	int failures = 0;

	if (lockadmin_load(h->db, NULL, NULL, &rows) != 0)
		return -1;
	for (int i = 0; i < rows.n && !h->lost; i++) {
		const struct lock_row *r = &rows.rows[i];
		enum lock_state st;
		const char *action = "none";
		int rc;

		if (h->tick && (rc = h->tick(h->tick_arg)) != 0) {
			if (rc < 0)
				h->lost = true;
			else
				h->stopped = true;
			break;
		}
		h->locks++;
		if (h->self_lock && strcmp(r->name, h->self_lock) == 0) {
			h->held += r->holder != NULL;
			h->free_ += r->holder == NULL;
			report(h, r, r->holder ? LOCK_STATE_HELD :
			    LOCK_STATE_FREE, "none-own-lock");
			continue;
		}
		st = classify(h, r, NULL);
		if (st == LOCK_STATE_FREE)
			h->free_++;
		else if (st == LOCK_STATE_HELD)
			h->held++;
		else
			h->stuck++;
		if (lock_state_recoverable(st)) {
			if (h->dry_run) {
				action = "would-recover";
			} else if ((rc = recover(h, r->name)) == 1) {
				action = "recovered";
			} else if (rc == 0) {
				action = "skipped";
				h->skipped++;
			} else {
				action = "failed";
				failures++;
			}
		}
		report(h, r, st, action);
	}
	lock_rows_free(&rows);
	return failures > 0 || h->lost ? -1 : 0;
}

/*
 * RUNNING job_run rows whose process holds no scheduler lock at the run's
 * token: the lock a job takes is its own name, or name:instance (the
 * export runner's).
 */
#define RUN_GONE_SQL \
	"r.status = 'RUNNING' AND NOT EXISTS (SELECT 1 FROM " \
	"tb_scheduler_lock l WHERE l.holder IS NOT NULL AND " \
	"l.fencing_token = r.fencing_token AND l.holder_host = r.host AND " \
	"l.holder_pid = r.pid AND (l.name = r.job OR " \
	"left(l.name, length(r.job) + 1) = r.job || ':'))"

#define RUN_GONE_ERROR "the run ended without recording its outcome: its " \
	"process is gone or its lock was taken over; closed by the healer"

static int
close_runs_dry(struct lockheal *h)
{
	PGresult *res = db_query(h->db, "SELECT r.id, r.job, r.host, r.pid "
	    "FROM job_run r WHERE " RUN_GONE_SQL " ORDER BY r.id", 0, NULL);
	int n;

	if (res == NULL)
		return -1;
	n = PQntuples(res);
	for (int i = 0; i < n && h->out; i++)
		fprintf(h->out, "job_run %s of %s host=%s pid=%s RUNNING "
		    "(process gone) action=would-close\n", PQgetvalue(res, i, 0),
		    PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
		    PQgetvalue(res, i, 3));
	PQclear(res);
	return n;
}

int
lockheal_close_runs(struct lockheal *h)
{
	const char *p[] = { RUN_GONE_ERROR };
	PGresult *res;
	int n, fc;

	if (h->dry_run)
		return close_runs_dry(h);
	if (db_begin(h->db) != 0)
		return -1;
	if ((fc = fence_check(h)) != 1) {
		db_rollback(h->db);
		h->lost = fc == 0;
		return -1;
	}
	res = db_query(h->db, "UPDATE job_run r SET status = 'FAILED', "
	    "finished_at = greatest(now(), r.started_at), duration_seconds = "
	    "extract(epoch FROM greatest(now(), r.started_at) - r.started_at), "
	    "error = $1 WHERE " RUN_GONE_SQL " RETURNING r.id, r.job, r.host, "
	    "r.pid, r.fencing_token, r.duration_seconds", 1, p);
	if (res == NULL) {
		db_rollback(h->db);
		return -1;
	}
	n = PQntuples(res);
	for (int i = 0; i < n; i++) {
		json_t *data = xjson_pack("{s:s, s:s, s:i, s:I, s:I, s:f, s:s, "
		    "s:s, s:s, s:o}", "job", PQgetvalue(res, i, 1), "host",
		    PQgetvalue(res, i, 2), "pid",
		    (int)strtol(PQgetvalue(res, i, 3), NULL, 10), "run_id",
		    (json_int_t)strtoll(PQgetvalue(res, i, 0), NULL, 10),
		    "fencing_token",
		    (json_int_t)strtoll(PQgetvalue(res, i, 4), NULL, 10),
		    "duration_seconds", strtod(PQgetvalue(res, i, 5), NULL),
		    "error", RUN_GONE_ERROR, "reason", "process_gone",
		    "closed_by", h->me->holder, "counts", json_object());
		struct ops_event ev = {
			.type = "JOB_RUN_FAILED", .severity = "error",
			.source = LOCKHEAL_SOURCE, .subject_type = "job",
			.subject_id = PQgetvalue(res, i, 1), .data = data
		};
		int rc = events_record(h->db, NULL, &ev);

		json_decref(data);
		if (rc != 0) {
			PQclear(res);
			db_rollback(h->db);
			return -1;
		}
		log_warn("closed job_run %s of %s (host %s, pid %s): %s",
		    PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
		    PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
		    RUN_GONE_ERROR);
		if (h->out)
			fprintf(h->out, "job_run %s of %s host=%s pid=%s "
			    "RUNNING (process gone) action=closed\n",
			    PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
			    PQgetvalue(res, i, 2), PQgetvalue(res, i, 3));
	}
	PQclear(res);
	if (db_commit(h->db) != 0) {
		db_rollback(h->db);
		return -1;
	}
	h->runs_closed += n;
	return n;
}
