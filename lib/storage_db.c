/*
 * The database spool: ExportStorage on tb_audit_export_chunk.
 *
 * Chunk data travels as binary bytea parameters and results (no hex
 * encoding on the wire). A reader holds one chunk's result at a time, so a
 * download uses one chunk of memory whatever the file's size.
 */
#include "storage.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct storage_writer {
	struct db	*db;
	char		 job_id[64];
	char		 attempt[16];
};

struct storage_reader {
	struct db	*db;
	char		 job_id[64];
	long long	 from_offset;
	int		 next_seq;	/* -1 before the first read */
	PGresult	*res;
};

void
storage_sha256_hex(const void *data, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned int i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

static int
spool_open_writer(struct db *db, const char *job_id, int attempt,
    struct storage_writer **out)
{
	struct storage_writer *w = calloc(1, sizeof(*w));

	if (w == NULL)
		abort();
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
	res = db_query_bin(w->db, "INSERT INTO tb_audit_export_chunk (job_id, "
	    "seq, byte_offset, data, byte_count, row_count, sha256, attempt) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", 8, p, lengths, formats);
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

static int
spool_open_reader(struct db *db, const char *job_id, long long from_offset,
    struct storage_reader **out)
{
	struct storage_reader *r = calloc(1, sizeof(*r));

	if (r == NULL)
		abort();
	r->db = db;
	snprintf(r->job_id, sizeof(r->job_id), "%s", job_id);
	r->from_offset = from_offset;
	r->next_seq = -1;
	*out = r;
	return 0;
}

static int
spool_read(struct storage_reader *r, struct export_chunk *c)
{
	static const char *cols = "SELECT seq, byte_offset, data, byte_count, "
	    "row_count, sha256 FROM tb_audit_export_chunk WHERE job_id = $1 ";
	char sql[256], arg[24];
	const char *p[2];
	int formats[2] = { 0, 0 };

	PQclear(r->res);
	r->res = NULL;
	p[0] = r->job_id;
	p[1] = arg;
	if (r->next_seq < 0) {
		snprintf(sql, sizeof(sql), "%sAND byte_offset + byte_count > $2 "
		    "ORDER BY seq LIMIT 1", cols);
		snprintf(arg, sizeof(arg), "%lld", r->from_offset);
	} else {
		snprintf(sql, sizeof(sql), "%sAND seq = $2", cols);
		snprintf(arg, sizeof(arg), "%d", r->next_seq);
	}
	if (db_ensure(r->db) != 0)
		return -1;
	/* binary results: data arrives as raw bytes */
	r->res = PQexecParams(r->db->conn, sql, 2, NULL, p, NULL, formats, 1);
	if (r->res == NULL || PQresultStatus(r->res) != PGRES_TUPLES_OK) {
		log_error("reading export chunk of job %s: %s", r->job_id,
		    PQerrorMessage(r->db->conn));
		r->db->err = PQstatus(r->db->conn) == CONNECTION_OK ?
		    DB_ERR_QUERY : DB_ERR_UNAVAILABLE;
		return -1;
	}
	if (PQntuples(r->res) == 0)
		return 0;
	/* binary int4/int8 are big-endian */
	{
		const unsigned char *s = (const unsigned char *)PQgetvalue(r->res, 0, 0);
		const unsigned char *o = (const unsigned char *)PQgetvalue(r->res, 0, 1);
		const unsigned char *rc = (const unsigned char *)PQgetvalue(r->res, 0, 4);
		unsigned long long off = 0;

		c->seq = (int)((unsigned)s[0] << 24 | (unsigned)s[1] << 16 |
		    (unsigned)s[2] << 8 | s[3]);
		for (int i = 0; i < 8; i++)
			off = off << 8 | o[i];
		c->byte_offset = (long long)off;
		c->rows = (int)((unsigned)rc[0] << 24 | (unsigned)rc[1] << 16 |
		    (unsigned)rc[2] << 8 | rc[3]);
	}
	c->data = (const unsigned char *)PQgetvalue(r->res, 0, 2);
	c->len = (size_t)PQgetlength(r->res, 0, 2);
	snprintf(c->sha256, sizeof(c->sha256), "%.*s",
	    PQgetlength(r->res, 0, 5), PQgetvalue(r->res, 0, 5));
	r->next_seq = c->seq + 1;
	return 1;
}

static void
spool_close_reader(struct storage_reader *r)
{
	if (r == NULL)
		return;
	PQclear(r->res);
	free(r);
}

static long long
spool_delete_chunks(struct db *db, const char *job_id, int batch)
{
	char b[16];
	const char *p[] = { job_id, b };
	PGresult *res;
	long long n;

	snprintf(b, sizeof(b), "%d", batch);
	res = db_query(db, "DELETE FROM tb_audit_export_chunk WHERE job_id = $1 "
	    "AND seq IN (SELECT seq FROM tb_audit_export_chunk WHERE job_id = $1 "
	    "ORDER BY seq LIMIT $2)", 2, p);
	if (res == NULL)
		return -1;
	n = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return n;
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
