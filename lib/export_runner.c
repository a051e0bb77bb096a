#include "export_runner.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "digest.h"
#include "encode.h"
#include "events.h"
#include "export_request.h"
#include "log.h"
#include "locks.h"
#include "pgcopy.h"
#include "stop.h"
#include "xalloc.h"
#include "xjson.h"
#include "xpthread.h"
#include "xssl.h"

#define RUNNER_ACTOR	"system:ops-export-runner"
#define ROW_FIELDS	10
/* how often (in rows) the clock, the lease and the lock are looked at */
#define CHECK_EVERY	1024

/*
 * The rows of a job, written once over seven placeholders: the count binds
 * them as query parameters ($1..$7); the COPY, which cannot take
 * parameters, reads them from transaction-local settings that were set with
 * bound parameters (set_config). No value is ever spliced into SQL text.
 */
#define EXPORT_PRED_OF(tenant, from, to, actions, actor, after_ts, after_id) \
	"tenant_id = " tenant " AND occurred_at >= " from "::timestamptz " \
	"AND occurred_at < " to "::timestamptz " \
	"AND (" actions " = '' OR action IN " \
	"(SELECT jsonb_array_elements_text((" actions ")::jsonb))) " \
	"AND (" actor " = '' OR actor_id = " actor ") " \
	"AND (occurred_at, id) > (" after_ts "::timestamptz, " after_id "::bigint)"
#define EXPORT_PRED_PARAMS \
	EXPORT_PRED_OF("$1", "$2", "$3", "$4", "$5", "$6", "$7")
#define EXPORT_PRED \
	EXPORT_PRED_OF("current_setting('ops.x_tenant')", \
	"current_setting('ops.x_from')", "current_setting('ops.x_to')", \
	"current_setting('ops.x_actions')", "current_setting('ops.x_actor')", \
	"current_setting('ops.x_after_ts')", "current_setting('ops.x_after_id')")

#define EXPORT_COPY \
	"COPY (SELECT id, tenant_id, to_char(occurred_at AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), actor_id, action, target_type, " \
	"target_id, host(ip), request_id, payload::text FROM audit_log WHERE " \
	EXPORT_PRED " ORDER BY occurred_at, id) TO STDOUT"

/* Rows encoded into one chunk, and the checkpoint of its last row. */
struct chunk_buf {
	struct buf		 data;
	int			 rows;
	char			 last_ts[40];	/* "" for a header alone */
	char			 last_id[24];
};

/*
 * The writer thread: it commits the chunk in ru->out on rn->wdb while the
 * COPY stream fills ru->fill on rn->rdb, one chunk in flight at most.
 * While a chunk is posted the writer owns rn->wdb, ru->w, ru->sha,
 * ru->last_beat, ru->fail_code/fail_msg and the job's rows, bytes and
 * chunks; the reading thread touches them only after writer_wait().
 * started is false when the thread could not be created: chunks are then
 * committed in the reading thread, as before.
 */
struct writer {
	pthread_t		 tid;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	bool			 started;
	bool			 posted;	/* ru->out is being committed */
	bool			 quit;
	enum run_result		 result;	/* of the last commit */
};

/* What a run keeps between rows. */
struct run {
	struct runner		*rn;
	struct runner_job	*job;
	struct storage_writer	*w;
	struct chunk_buf	 fill;		/* rows being read */
	struct chunk_buf	 out;		/* rows being committed */
	long long		 bytes_taken;	/* committed + in flight */
	struct buf		 scratch;
	/* compression: NULL for none; zout is the writer's, like ru->out */
	struct compressor	*cz;
	struct buf		 zout;
	EVP_MD_CTX		*sha;		/* the whole file */
	struct writer		 wr;
	double			 deadline;	/* mono_now(): max_duration */
	double			 last_beat;	/* mono_now() */
	PGcancel		*cancel;	/* of the reading statement */
	/* a failure decided while running: code and message */
	const char		*fail_code;
	char			 fail_msg[256];
};

void
runner_job_free(struct runner_job *job)
{
	free(job->filters);
	free(job->cp_ts);
	memset(job, 0, sizeof(*job));
}

static int
job_events(struct db *db, const struct sanitize_rules *rules, const char *type,
    const char *severity, const char *tenant, const char *id, json_t *data,
    bool audit)
{
	struct ops_event ev = {
		.type = type, .severity = severity,
		.source = "ops-export-runner", .tenant_id = tenant,
		.subject_type = "audit_export", .subject_id = id, .data = data,
		.actor_id = audit ? RUNNER_ACTOR : NULL
	};

	return events_record(db, rules, &ev);
}

/* Delete every chunk of id, in batches, inside the caller's transaction. */
static int
delete_all_chunks(struct runner *rn, const char *id)
{
	long long n;

	do {
		n = rn->storage->delete_chunks(rn->wdb, id,
		    rn->cfg->export.cleaner_batch_size);
	} while (n > 0);
	return n < 0 ? -1 : 0;
}

/*
 * The scheduler lock fence, first thing in every write transaction:
 * RUN_CLAIMED while the runner's lock token is current, RUN_LOST (and
 * rn->fence_lost) when it moved on, RUN_ERROR when the database failed.
 */
static enum run_result
fence_check(struct runner *rn)
{
	enum lock_status ls;

	if (rn->fence_lock == NULL)
		return RUN_CLAIMED;
	ls = lock_fence_check(rn->wdb, rn->fence_lock, rn->fence_token);
	if (ls == LOCK_DBERR)
		return RUN_ERROR;
	if (ls == LOCK_OK)
		return RUN_CLAIMED;
	if (!rn->fence_lost)
		log_error("scheduler lock %s was taken over (our token %lld is "
		    "no longer current): stopping without writing anything "
		    "more", rn->fence_lock, rn->fence_token);
	rn->fence_lost = true;
	return RUN_LOST;
}

/*
 * End a job FAILED with code, inside the caller's transaction. attempt < 0
 * means "whatever the attempt" (claim time, under FOR UPDATE). Returns
 * RUN_FAILED, RUN_LOST (the fenced update matched nothing) or RUN_ERROR.
 */
static enum run_result
fail_job_tx(struct runner *rn, const char *id, const char *tenant, int attempt,
    const char *code, const char *msg)
{
	char att[16];
	const char *p[] = { id, attempt >= 0 ? att : NULL, code, msg };
	json_t *data;
	PGresult *res;
	int rc;

	snprintf(att, sizeof(att), "%d", attempt);
	res = db_query(rn->wdb, "UPDATE tb_audit_export_job SET state = "
	    "'FAILED', error_code = $3, error_message = $4, finished_at = now() "
	    "WHERE id = $1 AND state = 'RUNNING' AND "
	    "($2::int IS NULL OR attempt = $2) RETURNING attempt", 4, p);
	if (res == NULL)
		return RUN_ERROR;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return RUN_LOST;
	}
	PQclear(res);
	if (delete_all_chunks(rn, id) != 0)
		return RUN_ERROR;
	data = xjson_pack("{s:s, s:s}", "code", code, "message", msg);
	rc = job_events(rn->wdb, rn->rules, "EXPORT_FAILED", "warning", tenant,
	    id, data, true);
	json_decref(data);
	log_kv(LOG_WARN, "job_id", id, "export failed: %s: %s", code, msg);
	return rc == 0 ? RUN_FAILED : RUN_ERROR;
}

/* Fail a running job in its own transaction. */
static enum run_result
fail_job(struct runner *rn, struct runner_job *job, const char *code,
    const char *msg)
{
	enum run_result r;

	db_disconnect(rn->rdb);	/* it may be inside COPY */
	if (db_begin(rn->wdb) != 0)
		return RUN_ERROR;
	if ((r = fence_check(rn)) != RUN_CLAIMED) {
		db_rollback(rn->wdb);
		return r;
	}
	r = fail_job_tx(rn, job->id, job->tenant_id, job->attempt, code, msg);
	if (r != RUN_FAILED || db_commit(rn->wdb) != 0) {
		db_rollback(rn->wdb);
		return r == RUN_FAILED ? RUN_ERROR : r;
	}
	return RUN_FAILED;
}

/* ---- claim ------------------------------------------------------------------ */

/* The columns claim_take() reads, in this order. */
#define CLAIM_COLS \
	"id, tenant_id, format, " \
	"to_char(range_from AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), " \
	"to_char(range_to AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), " \
	"filters::text, max_rows, max_bytes, max_duration_seconds, " \
	"extract(epoch FROM started_at + max_duration_seconds * " \
	"interval '1 second' - now()), attempt, progress_rows, " \
	"progress_bytes, progress_chunks, checkpoint->>'occurred_at', " \
	"checkpoint->>'id', compression, coalesce(compression_level, 0), " \
	"CASE compression WHEN 'none' THEN progress_bytes " \
	"ELSE progress_uncompressed_bytes END, interrupted"

enum {
	K_ID, K_TENANT, K_FORMAT, K_FROM, K_TO, K_FILTERS, K_MAXROWS,
	K_MAXBYTES, K_MAXDUR, K_SECONDS_LEFT, K_ATTEMPT, K_ROWS, K_BYTES,
	K_CHUNKS, K_CP_TS, K_CP_ID, K_COMPRESSION, K_LEVEL, K_UBYTES,
	K_INTERRUPTED
};

static enum run_result
claim_take(struct runner *rn, const char *id, int attempt,
    struct runner_job *job)
{
	char lease[16], gz[16], zs[16];
	const char *p[] = { id, rn->owner, lease, gz, zs };
	json_t *data;
	PGresult *res;
	int rc;

	snprintf(lease, sizeof(lease), "%d", rn->cfg->export.lease_seconds);
	snprintf(gz, sizeof(gz), "%d", rn->cfg->export.gzip_level);
	snprintf(zs, sizeof(zs), "%d", rn->cfg->export.zstd_level);
	/* the first claim fixes the level: a resumed attempt compresses its
	 * chunks as the first one did, whatever the config says now */
	res = db_query(rn->wdb, "UPDATE tb_audit_export_job SET state = "
	    "'RUNNING', attempt = attempt + 1, lease_owner = $2, "
	    "lease_expires_at = now() + $3 * interval '1 second', "
	    "heartbeat_at = now(), started_at = coalesce(started_at, now()), "
	    "compression_level = coalesce(compression_level, CASE compression "
	    "WHEN 'gzip' THEN $4::int WHEN 'zstd' THEN $5::int END) "
	    "WHERE id = $1 RETURNING " CLAIM_COLS, 5, p);
	if (res == NULL)
		return RUN_ERROR;
	memset(job, 0, sizeof(*job));
	snprintf(job->id, sizeof(job->id), "%s", PQgetvalue(res, 0, K_ID));
	snprintf(job->tenant_id, sizeof(job->tenant_id), "%s",
	    PQgetvalue(res, 0, K_TENANT));
	snprintf(job->format, sizeof(job->format), "%s",
	    PQgetvalue(res, 0, K_FORMAT));
	snprintf(job->from, sizeof(job->from), "%s", PQgetvalue(res, 0, K_FROM));
	snprintf(job->to, sizeof(job->to), "%s", PQgetvalue(res, 0, K_TO));
	job->filters = xstrdup(PQgetvalue(res, 0, K_FILTERS));
	job->max_rows = strtoll(PQgetvalue(res, 0, K_MAXROWS), NULL, 10);
	job->max_bytes = strtoll(PQgetvalue(res, 0, K_MAXBYTES), NULL, 10);
	job->max_duration = (int)strtol(PQgetvalue(res, 0, K_MAXDUR), NULL, 10);
	job->seconds_left = strtod(PQgetvalue(res, 0, K_SECONDS_LEFT), NULL);
	job->attempt = (int)strtol(PQgetvalue(res, 0, K_ATTEMPT), NULL, 10);
	job->rows = strtoll(PQgetvalue(res, 0, K_ROWS), NULL, 10);
	job->bytes = strtoll(PQgetvalue(res, 0, K_BYTES), NULL, 10);
	job->chunks = (int)strtol(PQgetvalue(res, 0, K_CHUNKS), NULL, 10);
	job->interrupted = (int)strtol(PQgetvalue(res, 0, K_INTERRUPTED),
	    NULL, 10);
	if (compress_codec_parse(PQgetvalue(res, 0, K_COMPRESSION),
	    &job->compression) != 0)
		job->compression = COMPRESS_NONE;	/* the CHECK allows no other */
	job->level = (int)strtol(PQgetvalue(res, 0, K_LEVEL), NULL, 10);
	job->ubytes = strtoll(PQgetvalue(res, 0, K_UBYTES), NULL, 10);
	if (!PQgetisnull(res, 0, K_CP_TS)) {
		/* never NULL: a NULL checkpoint would restart from the start */
		job->cp_ts = xstrdup(PQgetvalue(res, 0, K_CP_TS));
		job->cp_id = strtoll(PQgetvalue(res, 0, K_CP_ID), NULL, 10);
	}
	PQclear(res);
	data = xjson_pack("{s:i, s:i, s:s, s:I, s:i}", "attempt", job->attempt,
	    "interrupted", job->interrupted, "runner", rn->owner,
	    "resume_after_rows", (json_int_t)job->rows,
	    "resume_after_chunks", job->chunks);
	rc = job_events(rn->wdb, rn->rules, attempt > 0 ? "EXPORT_RESUMED" :
	    "EXPORT_STARTED", "info", job->tenant_id, job->id, data, false);
	json_decref(data);
	if (rc != 0) {
		runner_job_free(job);
		return RUN_ERROR;
	}
	return RUN_CLAIMED;
}

enum run_result
export_job_claim(struct runner *rn, struct runner_job *job)
{
	for (;;) {
		char id[40], tenant[160], state[16];
		int attempt, max_attempts, interrupted;
		bool cancel;
		enum run_result r;
		PGresult *res;

		if (db_begin(rn->wdb) != 0)
			return RUN_ERROR;
		if (fence_check(rn) != RUN_CLAIMED) {
			db_rollback(rn->wdb);
			return RUN_ERROR;
		}
		res = db_query(rn->wdb, "SELECT id, tenant_id, state, attempt, "
		    "max_attempts, cancel_requested, interrupted FROM "
		    "tb_audit_export_job "
		    "WHERE state = 'PENDING' OR (state = 'RUNNING' AND "
		    "lease_expires_at < now()) ORDER BY created_at, id LIMIT 1 "
		    "FOR UPDATE SKIP LOCKED", 0, NULL);
		if (res == NULL) {
			db_rollback(rn->wdb);
			return RUN_ERROR;
		}
		if (PQntuples(res) == 0) {
			PQclear(res);
			db_rollback(rn->wdb);
			return RUN_NONE;
		}
		snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
		snprintf(tenant, sizeof(tenant), "%s", PQgetvalue(res, 0, 1));
		snprintf(state, sizeof(state), "%s", PQgetvalue(res, 0, 2));
		attempt = (int)strtol(PQgetvalue(res, 0, 3), NULL, 10);
		max_attempts = (int)strtol(PQgetvalue(res, 0, 4), NULL, 10);
		cancel = strcmp(PQgetvalue(res, 0, 5), "t") == 0;
		interrupted = (int)strtol(PQgetvalue(res, 0, 6), NULL, 10);
		PQclear(res);

		if (strcmp(state, "RUNNING") == 0 && cancel)
			r = fail_job_tx(rn, id, tenant, -1, "EXPORT_CANCELLED",
			    "cancelled while its runner was gone");
		else if (strcmp(state, "RUNNING") == 0 &&
		    attempt - interrupted >= max_attempts) {
			char msg[160];

			/* a runner stopped on purpose handed its attempt
			 * back (interrupted): only lost ones count */
			snprintf(msg, sizeof(msg), "the runner was lost %d "
			    "times (max_attempts %d)", attempt - interrupted,
			    max_attempts);
			r = fail_job_tx(rn, id, tenant, -1,
			    "EXPORT_RUNNER_LOST", msg);
		} else {
			r = claim_take(rn, id, attempt, job);
		}
		if ((r != RUN_FAILED && r != RUN_CLAIMED) ||
		    db_commit(rn->wdb) != 0) {
			db_rollback(rn->wdb);
			if (r == RUN_CLAIMED)
				runner_job_free(job);
			return RUN_ERROR;
		}
		if (r == RUN_CLAIMED) {
			log_kv(LOG_INFO, "job_id", job->id, "claimed (attempt "
			    "%d)", job->attempt);
			return RUN_CLAIMED;
		}
	}
}

/* ---- run ----------------------------------------------------------------------- */

/* Is the job still ours? RUN_CLAIMED yes, RUN_LOST no, RUN_FAILED cancelled. */
static enum run_result
job_lock_check(struct run *ru)
{
	char att[16];
	const char *p[] = { ru->job->id, att };
	enum run_result r;
	PGresult *res;

	if ((r = fence_check(ru->rn)) != RUN_CLAIMED)
		return r;
	snprintf(att, sizeof(att), "%d", ru->job->attempt);
	res = db_query(ru->rn->wdb, "SELECT cancel_requested FROM "
	    "tb_audit_export_job WHERE id = $1 AND attempt = $2 AND "
	    "state = 'RUNNING' FOR UPDATE", 2, p);
	if (res == NULL)
		return RUN_ERROR;
	if (PQntuples(res) == 0)
		r = RUN_LOST;
	else if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		r = RUN_FAILED;
	else
		r = RUN_CLAIMED;
	PQclear(res);
	return r;
}

/*
 * Begin a transaction that holds the job row while it is still ours:
 * RUN_CLAIMED with the transaction open, or the reason to stop (cancelled,
 * lost, error) with nothing open.
 */
static enum run_result
begin_fenced(struct run *ru)
{
	enum run_result r;

	if (db_begin(ru->rn->wdb) != 0)
		return RUN_ERROR;
	if ((r = job_lock_check(ru)) == RUN_CLAIMED)
		return r;
	db_rollback(ru->rn->wdb);
	if (r == RUN_FAILED) {
		ru->fail_code = "EXPORT_CANCELLED";
		snprintf(ru->fail_msg, sizeof(ru->fail_msg),
		    "cancelled while running");
	}
	return r;
}

/*
 * Commit the rows in cb as the next chunk, with the checkpoint and the
 * renewed lease, in one transaction fenced by the attempt. Runs in the
 * writer thread (or the reading thread when there is none).
 */
static enum run_result
flush_chunk(struct run *ru, struct chunk_buf *cb)
{
	struct runner *rn = ru->rn;
	struct runner_job *job = ru->job;
	struct export_chunk c;
	char att[16], rows[24], bytes[24], chunks[16], lease[16];
	char ubytes[24];
	json_t *cp;
	char *cps;
	enum run_result r;
	int rc;

	/*
	 * Only the last chunk can be empty. Compressed, an empty file is
	 * still one (empty) frame, so that every tool reads it.
	 */
	if (cb->data.len == 0 && (ru->cz == NULL || job->chunks > 0))
		return RUN_CLAIMED;
	memset(&c, 0, sizeof(c));
	c.seq = job->chunks;
	c.byte_offset = job->bytes;
	c.data = (const unsigned char *)cb->data.data;
	c.len = cb->data.len;
	c.rows = cb->rows;
	if (ru->cz) {
		/* one frame per chunk: a resumed attempt starts a frame
		 * exactly where this run would have */
		buf_reset(&ru->zout);
		if (compress_frame(ru->cz, cb->data.data, cb->data.len,
		    &ru->zout) != 0) {
			log_error("cannot compress chunk %d of export %s: "
			    "retried by the next run", job->chunks, job->id);
			return RUN_ERROR;
		}
		c.data = (const unsigned char *)ru->zout.data;
		c.len = ru->zout.len;
	}
	digest_sha256_hex(c.data, c.len, c.sha256);

	if ((r = begin_fenced(ru)) != RUN_CLAIMED)
		return r;
	snprintf(att, sizeof(att), "%d", job->attempt);
	snprintf(rows, sizeof(rows), "%lld", job->rows + cb->rows);
	snprintf(bytes, sizeof(bytes), "%lld", job->bytes + (long long)c.len);
	snprintf(chunks, sizeof(chunks), "%d", job->chunks + 1);
	snprintf(lease, sizeof(lease), "%d", rn->cfg->export.lease_seconds);
	snprintf(ubytes, sizeof(ubytes), "%lld",
	    job->ubytes + (long long)cb->data.len);
	/* a chunk without rows (a CSV header alone) moves no checkpoint */
	cps = NULL;
	if (cb->last_ts[0]) {
		cp = xjson_pack("{s:s, s:I}", "occurred_at", cb->last_ts, "id",
		    (json_int_t)strtoll(cb->last_id, NULL, 10));
		cps = xnonnull(json_dumps(cp, JSON_COMPACT));
		json_decref(cp);
	}
	{
		const char *p[] = { job->id, att, rows, bytes, chunks, cps,
		    lease, ubytes };

		rc = rn->storage->write_chunk(ru->w, &c);
		if (rc == 0)
			rc = db_exec(rn->wdb, "UPDATE tb_audit_export_job SET "
			    "progress_rows = $3, progress_bytes = $4, "
			    "progress_chunks = $5, "
			    "checkpoint = coalesce($6::jsonb, checkpoint), "
			    "heartbeat_at = now(), lease_expires_at = now() + "
			    "$7 * interval '1 second', "
			    "progress_uncompressed_bytes = $8 WHERE id = $1 AND "
			    "attempt = $2 AND state = 'RUNNING'", 8, p);
	}
	free(cps);
	if (rc != 0 || db_commit(rn->wdb) != 0) {
		db_rollback(rn->wdb);
		return RUN_ERROR;
	}
	/* committed: a digest failure now fails the run, and the next
	 * attempt re-hashes the kept chunks */
	if (EVP_DigestUpdate(ru->sha, c.data, c.len) != 1) {
		char sslerr[256];

		log_error("cannot hash chunk %d of export %s: %s; retried by "
		    "the next run", job->chunks, job->id,
		    ssl_error_text(sslerr, sizeof(sslerr)));
		return RUN_ERROR;
	}
	job->rows += cb->rows;
	job->bytes += (long long)c.len;
	job->ubytes += (long long)cb->data.len;
	job->chunks++;
	cb->rows = 0;
	cb->last_ts[0] = cb->last_id[0] = '\0';
	buf_reset(&cb->data);
	ru->last_beat = mono_now();
	return RUN_CLAIMED;
}

/* ---- the writer thread ------------------------------------------------------- */

static void *
writer_main(void *arg)
{
	struct run *ru = arg;
	struct writer *wr = &ru->wr;

	xpthread(pthread_mutex_lock(&wr->mu));
	for (;;) {
		enum run_result r;

		while (!wr->posted && !wr->quit)
			xpthread(pthread_cond_wait(&wr->cv, &wr->mu));
		if (!wr->posted)
			break;
		xpthread(pthread_mutex_unlock(&wr->mu));
		r = flush_chunk(ru, &ru->out);
		xpthread(pthread_mutex_lock(&wr->mu));
		wr->result = r;
		wr->posted = false;
		xpthread(pthread_cond_broadcast(&wr->cv));
	}
	xpthread(pthread_mutex_unlock(&wr->mu));
	return NULL;
}

/* Start the writer; without one, chunks are committed in this thread. */
static void
writer_start(struct run *ru)
{
	struct writer *wr = &ru->wr;
	sigset_t old;
	int rc;

	wr->result = RUN_CLAIMED;
	if ((rc = pthread_mutex_init(&wr->mu, NULL)) != 0)
		goto sync;
	if ((rc = pthread_cond_init(&wr->cv, NULL)) != 0) {
		xpthread(pthread_mutex_destroy(&wr->mu));
		goto sync;
	}
	/* signals are the reading thread's (stop.h) */
	stop_block(&old);
	rc = pthread_create(&wr->tid, NULL, writer_main, ru);
	stop_unblock(&old);
	if (rc != 0) {
		xpthread(pthread_cond_destroy(&wr->cv));
		xpthread(pthread_mutex_destroy(&wr->mu));
		goto sync;
	}
	wr->started = true;
	return;
sync:
	log_warn("cannot start the export writer thread (%s): chunks are "
	    "committed between reads (slower, same result)", strerror(rc));
}

/*
 * Wait until no chunk is in flight; the result of the last commit
 * (RUN_CLAIMED when it went well or there was none).
 */
static enum run_result
writer_wait(struct run *ru)
{
	struct writer *wr = &ru->wr;
	enum run_result r;

	if (!wr->started) {
		r = wr->result;
		wr->result = RUN_CLAIMED;
		return r;
	}
	xpthread(pthread_mutex_lock(&wr->mu));
	while (wr->posted)
		xpthread(pthread_cond_wait(&wr->cv, &wr->mu));
	r = wr->result;
	wr->result = RUN_CLAIMED;
	xpthread(pthread_mutex_unlock(&wr->mu));
	return r;
}

/* Is a chunk in flight now? (the writer owns rn->wdb while it is) */
static bool
writer_busy(struct run *ru)
{
	struct writer *wr = &ru->wr;
	bool busy;

	if (!wr->started)
		return false;
	xpthread(pthread_mutex_lock(&wr->mu));
	busy = wr->posted;
	xpthread(pthread_mutex_unlock(&wr->mu));
	return busy;
}

/*
 * Hand ru->fill to the writer after the previous chunk committed, and go
 * on reading into the emptied buffer. RUN_CLAIMED, or the previous
 * commit's failure (then nothing is handed over).
 */
static enum run_result
writer_post(struct run *ru)
{
	struct writer *wr = &ru->wr;
	struct chunk_buf t;
	enum run_result r;

	if ((r = writer_wait(ru)) != RUN_CLAIMED)
		return r;
	ru->bytes_taken += (long long)ru->fill.data.len;
	t = ru->out;
	ru->out = ru->fill;
	ru->fill = t;
	if (!wr->started) {
		wr->result = flush_chunk(ru, &ru->out);
		return writer_wait(ru);
	}
	xpthread(pthread_mutex_lock(&wr->mu));
	wr->posted = true;
	xpthread(pthread_cond_broadcast(&wr->cv));
	xpthread(pthread_mutex_unlock(&wr->mu));
	return RUN_CLAIMED;
}

/* Stop the writer (after writer_wait(): nothing in flight). */
static void
writer_stop(struct run *ru)
{
	struct writer *wr = &ru->wr;

	if (!wr->started)
		return;
	(void)writer_wait(ru);
	xpthread(pthread_mutex_lock(&wr->mu));
	wr->quit = true;
	xpthread(pthread_cond_broadcast(&wr->cv));
	xpthread(pthread_mutex_unlock(&wr->mu));
	xpthread(pthread_join(wr->tid, NULL));
	xpthread(pthread_cond_destroy(&wr->cv));
	xpthread(pthread_mutex_destroy(&wr->mu));
	wr->started = false;
}

/* Renew the lease between chunks when due; also the runner's own lock. */
static enum run_result
heartbeat(struct run *ru)
{
	struct runner *rn = ru->rn;
	char att[16], lease[16];
	const char *p[] = { ru->job->id, att, lease };
	PGresult *res;
	enum run_result r = RUN_CLAIMED;

	if (stop_requested() != 0)
		return RUN_STOPPED;
	if (rn->tick && rn->tick(rn->tick_arg) != 0)
		return RUN_LOST;
	/* a chunk in flight renews the lease and sees a cancel itself */
	if (writer_busy(ru))
		return RUN_CLAIMED;
	if (mono_now() - ru->last_beat <
	    rn->cfg->export.heartbeat_seconds)
		return RUN_CLAIMED;
	snprintf(att, sizeof(att), "%d", ru->job->attempt);
	snprintf(lease, sizeof(lease), "%d", rn->cfg->export.lease_seconds);
	res = db_query(rn->wdb, "UPDATE tb_audit_export_job SET heartbeat_at = "
	    "now(), lease_expires_at = now() + $3 * interval '1 second' "
	    "WHERE id = $1 AND attempt = $2 AND state = 'RUNNING' "
	    "RETURNING cancel_requested", 3, p);
	if (res == NULL)
		return RUN_ERROR;
	if (PQntuples(res) == 0) {
		r = RUN_LOST;
	} else if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		ru->fail_code = "EXPORT_CANCELLED";
		snprintf(ru->fail_msg, sizeof(ru->fail_msg),
		    "cancelled while running");
		r = RUN_FAILED;
	}
	PQclear(res);
	ru->last_beat = mono_now();
	return r;
}

static bool
past_deadline(struct run *ru)
{
	if (mono_now() < ru->deadline)
		return false;
	(void)writer_wait(ru);	/* fail_code is the writer's while it runs */
	ru->fail_code = "EXPORT_LIMIT_DURATION";
	snprintf(ru->fail_msg, sizeof(ru->fail_msg), "the export ran longer "
	    "than its limit of %d seconds: narrow the range or the filters",
	    ru->job->max_duration);
	return true;
}

/* Rebuild the file's SHA-256 from the chunks a previous attempt kept. */
static enum run_result
rehash_kept_chunks(struct run *ru)
{
	struct runner *rn = ru->rn;
	struct storage_reader *rd;
	struct export_chunk c;
	int n = 0, rc;

	if (ru->job->chunks == 0)
		return RUN_CLAIMED;
	if (rn->storage->open_reader(rn->rdb, ru->job->id, 0, &rd) != 0)
		return RUN_ERROR;
	while (n < ru->job->chunks && stop_requested() == 0 &&
	    (rc = rn->storage->read(rd, &c)) == 1) {
		/* the reader checked the digest (lib/storage.h) */
		if (c.seq != n || !c.intact)
			break;
		if (EVP_DigestUpdate(ru->sha, c.data, c.len) != 1) {
			char sslerr[256];

			rn->storage->close_reader(rd);
			log_error("cannot hash kept chunk %d of export %s: "
			    "%s; retried by the next run", n, ru->job->id,
			    ssl_error_text(sslerr, sizeof(sslerr)));
			return RUN_ERROR;
		}
		n++;
	}
	rn->storage->close_reader(rd);
	if (stop_requested() != 0)
		return RUN_STOPPED;
	if (n != ru->job->chunks) {
		ru->fail_code = "EXPORT_STORAGE_CORRUPT";
		snprintf(ru->fail_msg, sizeof(ru->fail_msg), "chunk %d kept by "
		    "an earlier attempt is missing or fails its digest", n);
		return RUN_FAILED;
	}
	return RUN_CLAIMED;
}

/*
 * A stop cancels the reading statements (the count, the COPY: the one
 * statement_timeout does not bound) on the reading connection.
 */
static int
watch_source(struct run *ru)
{
	if ((ru->cancel = PQgetCancel(ru->rn->rdb->conn)) == NULL) {
		log_error("cannot prepare the cancel request of the export "
		    "stream (libpq): retried by the next run");
		return -1;
	}
	stop_cancel_on(ru->cancel);
	return 0;
}

static void
unwatch_source(struct run *ru)
{
	if (ru->cancel == NULL)
		return;
	stop_cancel_on(NULL);
	PQfreeCancel(ru->cancel);
	ru->cancel = NULL;
}

/* Open the reading transaction, set the job's parameters, count rows. */
static enum run_result
open_source(struct run *ru)
{
	struct runner *rn = ru->rn;
	struct runner_job *job = ru->job;
	char *actions_s = NULL, actor[257], after_id[24];
	PGresult *res;
	long long count;

	if (runner_filter_params(job->filters, &actions_s, actor,
	    sizeof(actor), ru->fail_msg, sizeof(ru->fail_msg)) != 0) {
		ru->fail_code = "EXPORT_SOURCE_INVALID";
		return RUN_FAILED;
	}
	snprintf(after_id, sizeof(after_id), "%lld", job->cp_id);
	{
		const char *p[] = { job->tenant_id, job->from, job->to,
		    actions_s ? actions_s : "", actor, job->cp_ts ? job->cp_ts :
		    "-infinity", after_id };

		if (db_exec(rn->rdb, "BEGIN ISOLATION LEVEL REPEATABLE READ "
		    "READ ONLY", 0, NULL) != 0 || watch_source(ru) != 0 ||
		    db_exec(rn->rdb, "SELECT set_config('ops.x_tenant', $1, true), "
		    "set_config('ops.x_from', $2, true), "
		    "set_config('ops.x_to', $3, true), "
		    "set_config('ops.x_actions', $4, true), "
		    "set_config('ops.x_actor', $5, true), "
		    "set_config('ops.x_after_ts', $6, true), "
		    "set_config('ops.x_after_id', $7, true), "
		    /*
		     * The planner cannot see through current_setting() and
		     * guesses few rows: without these it sorts a whole
		     * tenant-range in temp files instead of walking the
		     * (tenant_id, occurred_at, id) index in order, and JITs.
		     */
		    "set_config('enable_sort', 'off', true), "
		    "set_config('jit', 'off', true), "
		    /*
		     * The one COPY is bounded by the job's max_duration
		     * instead of the role's statement_timeout.
		     */
		    "set_config('statement_timeout', '0', true)", 7, p) != 0)
			res = NULL;
		else
			res = db_query(rn->rdb, "SELECT count(*) FROM audit_log "
			    "WHERE " EXPORT_PRED_PARAMS, 7, p);
	}
	free(actions_s);
	if (res == NULL)
		return RUN_ERROR;
	count = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (job->rows + count > job->max_rows) {
		ru->fail_code = "EXPORT_LIMIT_ROWS";
		snprintf(ru->fail_msg, sizeof(ru->fail_msg), "the export matches "
		    "%lld rows, over its limit of %lld rows: narrow the range "
		    "or the filters", job->rows + count, job->max_rows);
		return RUN_FAILED;
	}
	if (db_copy_out_begin(rn->rdb, EXPORT_COPY) != 0) {
		log_error("cannot start the export stream: %s",
		    rn->rdb->errmsg);
		return RUN_ERROR;
	}
	return RUN_CLAIMED;
}

/*
 * A row the reading thread cannot take: code and message. The chunk in
 * flight ends first, and its own failure (lost, cancelled) wins.
 */
static enum run_result row_fails(struct run *, const char *, const char *,
    ...) __attribute__((format(printf, 3, 4)));

static enum run_result
row_fails(struct run *ru, const char *code, const char *fmt, ...)
{
	enum run_result r = writer_wait(ru);
	va_list ap;

	if (r != RUN_CLAIMED)
		return r;
	ru->fail_code = code;
	va_start(ap, fmt);
	vsnprintf(ru->fail_msg, sizeof(ru->fail_msg), fmt, ap);
	va_end(ap);
	return RUN_FAILED;
}

int
runner_row_parse(char *line, size_t len, struct export_row *row)
{
	char *f[ROW_FIELDS];
	size_t l[ROW_FIELDS];

	if (pgcopy_split(line, len, f, l, ROW_FIELDS) != ROW_FIELDS ||
	    f[0] == NULL)
		return -1;
	row->id = f[0]; row->tenant_id = f[1]; row->occurred_at = f[2];
	row->actor_id = f[3]; row->action = f[4]; row->target_type = f[5];
	row->target_id = f[6]; row->ip = f[7]; row->request_id = f[8];
	row->payload = f[9]; row->payload_len = l[9];
	return 0;
}

int
runner_filter_params(const char *filters, char **actions, char *actor,
    size_t actorsz, char *err, size_t errsz)
{
	json_t *o, *a, *who;

	*actions = NULL;
	actor[0] = '\0';
	if (export_filters_load(filters, &o, err, errsz) != 0)
		return -1;
	if ((a = json_object_get(o, "actions")) != NULL)
		*actions = xnonnull(json_dumps(a, JSON_COMPACT));
	if ((who = json_object_get(o, "actor_id")) != NULL &&
	    json_is_string(who) &&
	    (size_t)snprintf(actor, actorsz, "%s", json_string_value(who)) >=
	    actorsz) {
		/* cut, it would match other actors: never */
		snprintf(err, errsz, "the job's stored actor_id is longer than "
		    "%zu bytes", actorsz - 1);
		free(*actions);
		*actions = NULL;
		json_decref(o);
		return -1;
	}
	json_decref(o);
	return 0;
}

/*
 * The checkpoint's field of the latest row: src (NULL: "") cut to size, as
 * snprintf("%s") would, without its format parsing on every row.
 */
static void
keep_field(char *dst, size_t size, const char *src)
{
	size_t n = src ? strnlen(src, size - 1) : 0;

	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Encode one COPY line into the current chunk. */
static enum run_result
add_row(struct run *ru, char *line, int len)
{
	struct export_row row;
	int rc;

	if (runner_row_parse(line, (size_t)len, &row) != 0)
		return row_fails(ru, "EXPORT_SOURCE_INVALID", "an audit row "
		    "could not be read from the database stream");
	if (strcmp(ru->job->format, "csv") == 0)
		rc = encode_csv_row(ru->rn->rules, &row, &ru->fill.data,
		    &ru->scratch);
	else
		rc = encode_jsonl_row(ru->rn->rules, &row, &ru->fill.data);
	if (rc != 0)
		return row_fails(ru, "EXPORT_SOURCE_INVALID", "audit row %s "
		    "could not be encoded", row.id);
	if (ru->bytes_taken + (long long)ru->fill.data.len >
	    ru->job->max_bytes)
		return row_fails(ru, "EXPORT_LIMIT_BYTES", "the export grew "
		    "past its limit of %lld bytes: narrow the range or the "
		    "filters", ru->job->max_bytes);
	ru->fill.rows++;
	keep_field(ru->fill.last_ts, sizeof(ru->fill.last_ts), row.occurred_at);
	keep_field(ru->fill.last_id, sizeof(ru->fill.last_id), row.id);
	return RUN_CLAIMED;
}

/*
 * Pull the COPY stream through the encoder into chunks; each full chunk
 * goes to the writer, which commits it while the next one fills.
 */
static enum run_result
stream_rows(struct run *ru)
{
	size_t chunk_bytes = (size_t)ru->rn->cfg->export.chunk_bytes;
	long long seen = 0;
	enum run_result r = RUN_CLAIMED;
	char *line;
	int len;

	while ((len = db_copy_out_next(ru->rn->rdb, &line)) > 0) {
		r = add_row(ru, line, len);
		PQfreemem(line);
		if (r != RUN_CLAIMED)
			return r;
		if (ru->fill.data.len >= chunk_bytes) {
			if (past_deadline(ru))
				return RUN_FAILED;
			if ((r = writer_post(ru)) != RUN_CLAIMED)
				return r;
			/* between chunks, as rn->tick promises: small chunks
			 * on a slow database must not starve the heartbeats */
			if ((r = heartbeat(ru)) != RUN_CLAIMED)
				return r;
		}
		if (++seen % CHECK_EVERY == 0) {
			if (past_deadline(ru))
				return RUN_FAILED;
			if ((r = heartbeat(ru)) != RUN_CLAIMED)
				return r;
		}
	}
	if (len < 0) {
		if (stop_requested() != 0)
			return RUN_STOPPED;	/* the COPY was cancelled */
		log_error("export stream failed: %s", ru->rn->rdb->errmsg);
		return RUN_ERROR;
	}
	(void)db_exec(ru->rn->rdb, "COMMIT", 0, NULL);
	if (past_deadline(ru))
		return RUN_FAILED;
	if ((r = writer_wait(ru)) != RUN_CLAIMED)
		return r;
	return flush_chunk(ru, &ru->fill);
}

/* DONE: the file's digest and totals, fenced, with the events. */
static enum run_result
finish_job(struct run *ru)
{
	struct runner *rn = ru->rn;
	struct runner_job *job = ru->job;
	unsigned char md[32];
	unsigned int mdlen = 0;
	char sha[65], att[16], rows[24], bytes[24], ttl[16], ubytes[24];
	enum run_result r;
	json_t *data;
	int rc;

	if (EVP_DigestFinal_ex(ru->sha, md, &mdlen) != 1 || mdlen != 32) {
		char sslerr[256];

		log_error("cannot finish the digest of export %s: %s; retried "
		    "by the next run", job->id,
		    ssl_error_text(sslerr, sizeof(sslerr)));
		return RUN_ERROR;
	}
	digest_hex(md, mdlen, sha);
	if (rn->storage->commit(ru->w) != 0)
		return RUN_ERROR;
	if ((r = begin_fenced(ru)) != RUN_CLAIMED)
		return r;
	snprintf(att, sizeof(att), "%d", job->attempt);
	snprintf(rows, sizeof(rows), "%lld", job->rows);
	snprintf(bytes, sizeof(bytes), "%lld", job->bytes);
	snprintf(ttl, sizeof(ttl), "%d", rn->cfg->export.ttl_hours);
	snprintf(ubytes, sizeof(ubytes), "%lld", job->ubytes);
	{
		const char *p[] = { job->id, att, sha, rows, bytes, ttl,
		    ubytes };

		rc = db_exec(rn->wdb, "UPDATE tb_audit_export_job SET state = "
		    "'DONE', sha256 = $3, total_rows = $4, total_bytes = $5, "
		    "total_uncompressed_bytes = $7, "
		    "finished_at = now(), expires_at = now() + $6 * "
		    "interval '1 hour' WHERE id = $1 AND attempt = $2 AND "
		    "state = 'RUNNING'", 7, p);
	}
	data = xjson_pack("{s:I, s:I, s:I, s:s, s:s, s:i, s:i}", "rows",
	    (json_int_t)job->rows, "bytes", (json_int_t)job->bytes,
	    "uncompressed_bytes", (json_int_t)job->ubytes, "compression",
	    compress_codec_name(job->compression), "sha256", sha, "chunks",
	    job->chunks, "attempt", job->attempt);
	if (rc == 0)
		rc = job_events(rn->wdb, rn->rules, "EXPORT_COMPLETED", "info",
		    job->tenant_id, job->id, data, true);
	json_decref(data);
	if (rc != 0 || db_commit(rn->wdb) != 0) {
		db_rollback(rn->wdb);
		return RUN_ERROR;
	}
	log_kv(LOG_INFO, "job_id", job->id, "export done: %lld rows, %lld "
	    "bytes (%lld uncompressed, %s), %d chunks, sha256 %s", job->rows,
	    job->bytes, job->ubytes, compress_codec_name(job->compression),
	    job->chunks, sha);
	return RUN_DONE;
}

/*
 * A stop: hand the job back in one fenced transaction. interrupted + 1 and
 * the lease ends now, so the next runner reclaims it at once and this
 * attempt does not count towards max_attempts; the checkpoint is the last
 * committed chunk's. RUN_STOPPED, RUN_LOST (no longer ours) or RUN_ERROR
 * (then the lease runs out as after a crash, and the attempt counts).
 */
static enum run_result
hand_back(struct runner *rn, struct runner_job *job)
{
	char att[16];
	const char *p[] = { job->id, att };
	enum run_result r;
	json_t *data;
	PGresult *res;
	int rc;

	db_disconnect(rn->rdb);	/* it may be inside COPY */
	snprintf(att, sizeof(att), "%d", job->attempt);
	if (db_begin(rn->wdb) != 0)
		return RUN_ERROR;
	if ((r = fence_check(rn)) != RUN_CLAIMED) {
		db_rollback(rn->wdb);
		return r;
	}
	res = db_query(rn->wdb, "UPDATE tb_audit_export_job SET interrupted = "
	    "interrupted + 1, lease_expires_at = now(), heartbeat_at = now() "
	    "WHERE id = $1 AND attempt = $2 AND state = 'RUNNING' RETURNING "
	    "progress_rows, progress_chunks, interrupted", 2, p);
	if (res == NULL) {
		db_rollback(rn->wdb);
		return RUN_ERROR;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		db_rollback(rn->wdb);
		return RUN_LOST;
	}
	data = xjson_pack("{s:i, s:s, s:s, s:I, s:i, s:i}", "attempt",
	    job->attempt, "reason", "terminated", "signal", stop_signal_name(),
	    "kept_rows", (json_int_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10),
	    "kept_chunks", (int)strtol(PQgetvalue(res, 0, 1), NULL, 10),
	    "interrupted", (int)strtol(PQgetvalue(res, 0, 2), NULL, 10));
	PQclear(res);
	rc = job_events(rn->wdb, rn->rules, "EXPORT_INTERRUPTED", "info",
	    job->tenant_id, job->id, data, false);
	json_decref(data);
	if (rc != 0 || db_commit(rn->wdb) != 0) {
		db_rollback(rn->wdb);
		return RUN_ERROR;
	}
	log_kv(LOG_WARN, "job_id", job->id, "%s: export handed back after "
	    "%d committed chunks (attempt %d not counted); the next runner "
	    "resumes it", stop_signal_name(), job->chunks, job->attempt);
	return RUN_STOPPED;
}

/*
 * After a failure (for example the server ended a session that sat paused
 * inside a transaction): is the job still ours? If another runner has
 * reclaimed it, the honest report is RUN_LOST, not a database error.
 */
static bool
job_still_ours(struct runner *rn, const struct runner_job *job)
{
	char att[16];
	const char *p[] = { job->id, att };
	PGresult *res;
	bool ours;

	snprintf(att, sizeof(att), "%d", job->attempt);
	res = db_query(rn->wdb, "SELECT 1 FROM tb_audit_export_job WHERE "
	    "id = $1 AND attempt = $2 AND state = 'RUNNING'", 2, p);
	if (res == NULL)
		return true;	/* cannot tell: report the error itself */
	ours = PQntuples(res) == 1;
	PQclear(res);
	return ours;
}

enum run_result
export_job_run(struct runner *rn, struct runner_job *job)
{
	struct run ru;
	struct db wdb, *claim_db = rn->wdb;
	char appname[sizeof(wdb.appname)];
	enum run_result r;
	double now = mono_now(), end;

	/*
	 * The run writes on a connection of its own (same settings): its
	 * writer thread commits chunks there while this thread reads the
	 * COPY stream and rn->tick may use the claim connection.
	 */
	snprintf(appname, sizeof(appname), "%.50s/writer", claim_db->appname);
	db_init(&wdb, claim_db->url, claim_db->role, claim_db->connect_timeout,
	    appname);
	rn->wdb = &wdb;
	memset(&ru, 0, sizeof(ru));
	ru.rn = rn;
	ru.job = job;
	buf_init(&ru.fill.data);
	buf_init(&ru.out.data);
	buf_init(&ru.scratch);
	buf_init(&ru.zout);
	buf_grow(&ru.fill.data, (size_t)rn->cfg->export.chunk_bytes + 65536);
	buf_grow(&ru.out.data, (size_t)rn->cfg->export.chunk_bytes + 65536);
	ru.bytes_taken = job->ubytes;	/* max_bytes bounds the content */
	end = now + (job->seconds_left > 0 ? job->seconds_left : 0);
	ru.deadline = end;
	ru.last_beat = mono_now();
	ru.sha = xnonnull(EVP_MD_CTX_new());
	if (EVP_DigestInit_ex(ru.sha, EVP_sha256(), NULL) != 1) {
		char sslerr[256];

		log_error("cannot start a SHA-256 digest: %s",
		    ssl_error_text(sslerr, sizeof(sslerr)));
		r = RUN_ERROR;
		goto out;
	}
	if (job->compression != COMPRESS_NONE &&
	    (ru.cz = compress_new(job->compression, job->level)) == NULL) {
		r = RUN_ERROR;
		goto out;
	}
	if (rn->storage->open_writer(rn->wdb, job->id, job->attempt, &ru.w) != 0) {
		r = RUN_ERROR;
		goto out;
	}
	if (stop_requested() != 0)
		r = RUN_STOPPED;
	else if (job->seconds_left <= 0 && past_deadline(&ru))
		r = RUN_FAILED;
	else if ((r = rehash_kept_chunks(&ru)) == RUN_CLAIMED &&
	    (r = open_source(&ru)) == RUN_CLAIMED) {
		if (job->chunks == 0 && strcmp(job->format, "csv") == 0)
			encode_csv_header(&ru.fill.data);
		writer_start(&ru);
		r = stream_rows(&ru);
		/* whatever stopped the stream, nothing may stay in flight */
		if (r == RUN_CLAIMED)
			r = writer_wait(&ru);
		else
			(void)writer_wait(&ru);
		writer_stop(&ru);
		if (r == RUN_CLAIMED)
			r = finish_job(&ru);
	}
	unwatch_source(&ru);
	/* a statement the stop cancelled failed: that is the stop */
	if (r == RUN_ERROR && stop_requested() != 0)
		r = RUN_STOPPED;
	if (r == RUN_FAILED && ru.fail_code)
		r = fail_job(rn, job, ru.fail_code, ru.fail_msg);
	if (r == RUN_STOPPED)
		r = hand_back(rn, job);
	if (r == RUN_ERROR || r == RUN_LOST) {
		db_disconnect(rn->rdb);	/* it may be inside COPY */
		db_rollback(rn->wdb);
	}
	if (r == RUN_ERROR && !job_still_ours(rn, job))
		r = RUN_LOST;
	if (r == RUN_LOST && !rn->fence_lost)
		log_kv(LOG_ERROR, "job_id", job->id, "job was taken over by "
		    "another runner (our attempt %d is no longer current): "
		    "stopping without writing", job->attempt);
out:
	unwatch_source(&ru);
	if (ru.w)
		rn->storage->close_writer(ru.w);
	EVP_MD_CTX_free(ru.sha);
	compress_free(ru.cz);
	buf_free(&ru.zout);
	buf_free(&ru.fill.data);
	buf_free(&ru.out.data);
	buf_free(&ru.scratch);
	rn->wdb = claim_db;
	db_close(&wdb);
	return r;
}
