/*
 * The database spool: ExportStorage on tb_audit_export_chunk.
 *
 * Chunk data travels as binary bytea parameters and results (no hex
 * encoding on the wire). A reader holds one chunk's result at a time, so a
 * download uses one chunk of memory whatever the file's size.
 */
#include "storage.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "log.h"
#include "stop.h"
#include "xalloc.h"
#include "xpthread.h"

struct storage_writer {
	struct db	*db;
	char		 job_id[64];
	char		 attempt[16];
};

/* chunks fetched ahead of the caller, at most */
#define READ_AHEAD	2

struct storage_reader {
	struct db	*db;
	char		 job_id[64];
	int		 next_seq;	/* the chunk the next fetch reads */
	PGresult	*res;		/* the caller's current chunk */
	bool		 intact;	/* res's data matches its SHA-256 */
	/* the fetching thread and what it hands over (mu guards the rest) */
	pthread_t	 tid;
	bool		 threaded;	/* else read() fetches by itself */
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	PGresult	*ahead[READ_AHEAD];	/* a ring of fetched chunks */
	bool		 ahead_intact[READ_AHEAD];
	int		 head, count;
	int		 end;		/* 1 while more may come, then 0 or -1 */
	bool		 stop;		/* the caller is closing */
};

static int
spool_open_writer(struct db *db, const char *job_id, int attempt,
    struct storage_writer **out)
{
	struct storage_writer *w = xcalloc(1, sizeof(*w));

	w->db = db;
	snprintf(w->job_id, sizeof(w->job_id), "%s", job_id);
	snprintf(w->attempt, sizeof(w->attempt), "%d", attempt);
	*out = w;
	return 0;
}

static int
spool_write_chunk(struct storage_writer *w, const struct export_chunk *c)
{
	char seq[16], off[24], len[16], rows[16];
	const char *p[8];
	int lengths[8] = { 0 }, formats[8] = { 0 };
	PGresult *res;

	snprintf(seq, sizeof(seq), "%d", c->seq);
	snprintf(off, sizeof(off), "%lld", c->byte_offset);
	snprintf(len, sizeof(len), "%zu", c->len);
	snprintf(rows, sizeof(rows), "%d", c->rows);
	p[0] = w->job_id; p[1] = seq; p[2] = off;
	p[3] = (const char *)c->data; lengths[3] = (int)c->len; formats[3] = 1;
	p[4] = len; p[5] = rows; p[6] = c->sha256; p[7] = w->attempt;
	/*
	 * A custom plan folds the chunk ($4, up to export.chunk_bytes) into a
	 * constant: the planner copies it twice more (eval_const_expressions,
	 * then the plan's copy), each copy into fresh memory that faults in
	 * page by page. The generic plan reads the bound value where the
	 * server received it. LOCAL: for this transaction only, the same
	 * behind PgBouncer.
	 */
	if (db_exec(w->db, "SELECT set_config('plan_cache_mode', "
	    "'force_generic_plan', true)", 0, NULL) != 0)
		return -1;
	res = db_query_bin(w->db, "INSERT INTO tb_audit_export_chunk (job_id, "
	    "seq, byte_offset, data, byte_count, row_count, sha256, attempt) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", 8, p, lengths, formats, 0);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

static int
spool_commit(struct storage_writer *w)
{
	(void)w;	/* every chunk committed with its checkpoint already */
	return 0;
}

static void
spool_close_writer(struct storage_writer *w)
{
	free(w);
}

/*
 * A reader fetches one chunk per statement, each statement its own
 * transaction: the reader holds no transaction and no snapshot between two
 * chunks. So neither statement_timeout nor idle_in_transaction_session_timeout
 * can cut a download whatever the file's size or the client's speed (when
 * nginx cannot spool, ops-fcgi waits for the client between two chunks for
 * as long as the client takes), no slow client holds back VACUUM's horizon
 * or pins a pooled server connection, and the connection is idle again the
 * moment a download stops. The chunks of a DONE job never change; the one
 * thing that can happen between two chunks is the cleaner purging an export
 * that expired meanwhile: the next read then finds no chunk, which the caller
 * treats as a cut (docs/export.md, "Downloads").
 */
/*
 * Read chunk r->next_seq: 1 with *out (the caller PQclear()s it) and
 * *intact (its data's SHA-256 is the recorded one), 0 when there is no such
 * chunk (the end, or a purge), -1 on failure (logged). Checking the digest
 * here puts it on the fetching thread, beside the caller's writing.
 */
static int
chunk_fetch(struct storage_reader *r, PGresult **out, bool *intact)
{
	char digest[65];
	char seq[16];
	const char *p[] = { r->job_id, seq };
	PGresult *res;

	*out = NULL;
	snprintf(seq, sizeof(seq), "%d", r->next_seq);
	/* binary results: the chunk's bytes travel as they are */
	res = db_query_bin(r->db, "SELECT seq, byte_offset, data, row_count, "
	    "sha256 FROM tb_audit_export_chunk WHERE job_id = $1 AND seq = $2",
	    2, p, NULL, NULL, 1);
	if (res == NULL) {
		log_error("reading chunk %s of export job %s: %s", seq,
		    r->job_id, r->db->errmsg);
		return -1;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;
	}
	r->next_seq++;
	digest_sha256_hex(PQgetvalue(res, 0, 2), (size_t)PQgetlength(res, 0, 2),
	    digest);
	*intact = PQgetlength(res, 0, 4) == 64 &&
	    memcmp(digest, PQgetvalue(res, 0, 4), 64) == 0;
	*out = res;
	return 1;
}

/*
 * The fetching thread: it reads chunks into the ring while the caller
 * checks and writes the previous ones, so that the database and the
 * responder work at the same time. It waits, with no statement running,
 * while the ring is full: a slow client holds no more than today (one
 * connection between two statements, no transaction), READ_AHEAD + 1
 * chunks of memory. The connection is the thread's from open to close.
 */
static void *
reader_main(void *arg)
{
	struct storage_reader *r = arg;
	PGresult *res;
	bool intact = false;
	int rc;

	for (;;) {
		xpthread(pthread_mutex_lock(&r->mu));
		while (!r->stop && r->count == READ_AHEAD)
			xpthread(pthread_cond_wait(&r->cv, &r->mu));
		if (r->stop) {
			xpthread(pthread_mutex_unlock(&r->mu));
			return NULL;
		}
		xpthread(pthread_mutex_unlock(&r->mu));
		rc = chunk_fetch(r, &res, &intact);
		xpthread(pthread_mutex_lock(&r->mu));
		if (rc == 1) {
			int i = (r->head + r->count) % READ_AHEAD;

			r->ahead[i] = res;
			r->ahead_intact[i] = intact;
			r->count++;
		} else {
			r->end = rc;
		}
		xpthread(pthread_cond_broadcast(&r->cv));
		xpthread(pthread_mutex_unlock(&r->mu));
		if (rc != 1)
			return NULL;
	}
}

/* Start the fetching thread; without one, read() fetches by itself. */
static void
reader_start(struct storage_reader *r)
{
	sigset_t old;
	int rc;

	xpthread(pthread_mutex_init(&r->mu, NULL));
	xpthread(pthread_cond_init(&r->cv, NULL));
	/* signals are the worker's (stop.h) */
	stop_block(&old);
	rc = pthread_create(&r->tid, NULL, reader_main, r);
	stop_unblock(&old);
	if (rc != 0) {
		log_warn("download of export job %s reads without read-ahead: "
		    "cannot start a thread: %s", r->job_id, strerror(rc));
		xpthread(pthread_cond_destroy(&r->cv));
		xpthread(pthread_mutex_destroy(&r->mu));
		return;
	}
	r->threaded = true;
}

static int
spool_open_reader(struct db *db, const char *job_id, long long from_offset,
    struct storage_reader **out)
{
	struct storage_reader *r;
	char off[24];
	const char *p[] = { job_id, off };
	PGresult *res;
	long seq;

	*out = NULL;
	snprintf(off, sizeof(off), "%lld", from_offset);
	res = db_query(db, "SELECT coalesce(max(seq), 0) FROM "
	    "tb_audit_export_chunk WHERE job_id = $1 AND byte_offset <= $2",
	    2, p);
	if (res == NULL) {
		log_error("reading export chunks of job %s: %s", job_id,
		    db->errmsg);
		return -1;
	}
	seq = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	r = xcalloc(1, sizeof(*r));
	r->db = db;
	snprintf(r->job_id, sizeof(r->job_id), "%s", job_id);
	r->next_seq = (int)seq;
	r->end = 1;
	reader_start(r);
	*out = r;
	return 0;
}

static uint32_t
be32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 |
	    (uint32_t)u[2] << 8 | u[3];
}

static int
spool_read(struct storage_reader *r, struct export_chunk *c)
{
	const char *o;
	uint64_t off = 0;
	int rc;

	PQclear(r->res);
	r->res = NULL;
	if (r->threaded) {
		xpthread(pthread_mutex_lock(&r->mu));
		while (r->count == 0 && r->end == 1)
			xpthread(pthread_cond_wait(&r->cv, &r->mu));
		if (r->count > 0) {
			r->res = r->ahead[r->head];
			r->intact = r->ahead_intact[r->head];
			r->ahead[r->head] = NULL;
			r->head = (r->head + 1) % READ_AHEAD;
			r->count--;
			xpthread(pthread_cond_broadcast(&r->cv));
		}
		rc = r->end;
		xpthread(pthread_mutex_unlock(&r->mu));
		if (r->res == NULL)
			return rc;
	} else if ((rc = chunk_fetch(r, &r->res, &r->intact)) != 1) {
		return rc;
	}
	/* int4 and int8 in network byte order */
	c->seq = (int)be32(PQgetvalue(r->res, 0, 0));
	o = PQgetvalue(r->res, 0, 1);
	for (int i = 0; i < 8; i++)
		off = off << 8 | (unsigned char)o[i];
	c->byte_offset = (long long)off;
	c->data = (const unsigned char *)PQgetvalue(r->res, 0, 2);
	c->len = (size_t)PQgetlength(r->res, 0, 2);
	c->rows = (int)be32(PQgetvalue(r->res, 0, 3));
	snprintf(c->sha256, sizeof(c->sha256), "%.*s",
	    PQgetlength(r->res, 0, 4), PQgetvalue(r->res, 0, 4));
	c->intact = r->intact;
	return 1;
}

static void
spool_close_reader(struct storage_reader *r)
{
	if (r == NULL)
		return;
	if (r->threaded) {
		/* a fetch under way finishes (one short statement), then the
		 * thread sees stop; the connection is the caller's again */
		xpthread(pthread_mutex_lock(&r->mu));
		r->stop = true;
		xpthread(pthread_cond_broadcast(&r->cv));
		xpthread(pthread_mutex_unlock(&r->mu));
		xpthread(pthread_join(r->tid, NULL));
		for (; r->count > 0; r->count--) {
			PQclear(r->ahead[r->head]);
			r->head = (r->head + 1) % READ_AHEAD;
		}
		xpthread(pthread_cond_destroy(&r->cv));
		xpthread(pthread_mutex_destroy(&r->mu));
	}
	PQclear(r->res);
	free(r);
}

static long long
spool_delete_chunks(struct db *db, const char *job_id, int batch)
{
	char b[16];
	const char *p[] = { job_id, b };

	snprintf(b, sizeof(b), "%d", batch);
	return db_exec_rows(db, "DELETE FROM tb_audit_export_chunk WHERE "
	    "job_id = $1 AND seq IN (SELECT seq FROM tb_audit_export_chunk "
	    "WHERE job_id = $1 ORDER BY seq LIMIT $2)", 2, p);
}

static long long
spool_bytes_held(struct db *db)
{
	PGresult *res = db_query(db, "SELECT coalesce(sum(byte_count), 0) "
	    "FROM tb_audit_export_chunk", 0, NULL);
	long long n;

	if (res == NULL)
		return -1;
	n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return n;
}

const struct export_storage storage_db_spool = {
	.name = "db-spool",
	.open_writer = spool_open_writer,
	.write_chunk = spool_write_chunk,
	.commit = spool_commit,
	.close_writer = spool_close_writer,
	.open_reader = spool_open_reader,
	.read = spool_read,
	.close_reader = spool_close_reader,
	.delete_chunks = spool_delete_chunks,
	.bytes_held = spool_bytes_held,
};
