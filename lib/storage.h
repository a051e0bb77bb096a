/*
 * storage: where an export's file lives (ExportStorage, plan P21-L07).
 *
 * The file is a sequence of chunks (seq 0, 1, ...), each with its byte
 * offset, row count and SHA-256. The interface is a table of function
 * pointers so that object storage can replace the database spool in the
 * next phase without touching the runner, the API or the cleaner. The
 * database spool (tb_audit_export_chunk) is the one implementation today,
 * and nothing outside storage_db.c touches the chunk table.
 *
 * Transactions: the DB spool works on the connection it is given and never
 * begins or commits by itself, so that the runner can commit a chunk and its
 * job checkpoint together (an implementation without transactions, such as
 * object storage, writes the object first and lets the checkpoint commit
 * make it visible).
 */
#ifndef OPS_STORAGE_H
#define OPS_STORAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "db.h"

struct export_chunk {
	int			 seq;
	long long		 byte_offset;
	const unsigned char	*data;	/* borrowed: valid until the next read */
	size_t			 len;
	int			 rows;
	char			 sha256[65];	/* lower-case hex */
	bool			 intact;	/* read: data's SHA-256 is sha256 */
};

struct storage_writer;
struct storage_reader;

struct export_storage {
	const char *name;

	/* Start writing job_id's chunks for one attempt, on db. */
	int	(*open_writer)(struct db *db, const char *job_id, int attempt,
		    struct storage_writer **out);
	/* Add one chunk (inside the caller's transaction). 0 or -1. */
	int	(*write_chunk)(struct storage_writer *w,
		    const struct export_chunk *c);
	/* Every chunk is written: make the whole file readable. 0 or -1. */
	int	(*commit)(struct storage_writer *w);
	void	(*close_writer)(struct storage_writer *w);

	/* Read from the chunk that holds byte from_offset onwards. */
	int	(*open_reader)(struct db *db, const char *job_id,
		    long long from_offset, struct storage_reader **out);
	/*
	 * Next chunk: 1 and *c filled, 0 at the end, -1 on error. The reader
	 * checks each chunk's data against its recorded SHA-256 (c->intact);
	 * what to do with a chunk that fails is the caller's.
	 */
	int	(*read)(struct storage_reader *r, struct export_chunk *c);
	void	(*close_reader)(struct storage_reader *r);

	/* Delete at most batch chunks of job_id: count deleted, or -1. */
	long long (*delete_chunks)(struct db *db, const char *job_id, int batch);
	/* Bytes held for all jobs (the spool size), or -1. */
	long long (*bytes_held)(struct db *db);
};

/* The database spool (tb_audit_export_chunk). */
extern const struct export_storage storage_db_spool;

#endif
