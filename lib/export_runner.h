/*
 * export_runner: the runner's side of export jobs.
 *
 * export_job_claim() takes the oldest PENDING job, or a RUNNING one whose
 * lease expired (attempt + 1), with FOR UPDATE SKIP LOCKED, so any number
 * of runners on any number of hosts share the queue. A reclaimed job past
 * max_attempts ends FAILED EXPORT_RUNNER_LOST; a reclaimed job whose cancel
 * was requested ends FAILED EXPORT_CANCELLED.
 *
 * export_job_run() streams the job's rows (COPY, one row in memory at a
 * time) through the sanitizer and the encoder into chunks of chunk_bytes.
 * Each chunk is committed together with the job's checkpoint and progress by
 * a statement fenced by the attempt number: a runner that lost its job (it
 * paused past its lease and another runner reclaimed it) finds its update
 * matching no row, writes nothing and reports RUN_LOST. A resumed attempt
 * continues after the last committed checkpoint and rebuilds the file's
 * SHA-256 from the chunks already kept, so the result is byte-identical to
 * an uninterrupted run.
 */
#ifndef OPS_EXPORT_RUNNER_H
#define OPS_EXPORT_RUNNER_H

#include <stdbool.h>

#include "compress.h"
#include "config.h"
#include "db.h"
#include "sanitize.h"
#include "storage.h"

struct runner {
	const struct ops_config		*cfg;
	const struct sanitize_rules	*rules;
	const struct export_storage	*storage;
	/*
	 * Claims. export_job_run() writes its chunks, heartbeats and the end
	 * of the job on a connection of its own with wdb's settings, from a
	 * writer thread that commits one chunk while the next one is read.
	 */
	struct db			*wdb;
	struct db			*rdb;	/* the COPY stream */
	const char			*owner;	/* lease owner: binary:host:pid */
	/*
	 * Called between chunks and every few thousand rows, from the
	 * reading thread, while a chunk may be committing on the run's own
	 * connection (so it must not use that one; it may use wdb). May be
	 * NULL. Return -1 to stop (the
	 * scheduler lock of the runner was lost). The job is then left
	 * RUNNING for another runner to reclaim.
	 */
	int				(*tick)(void *arg);
	void				*tick_arg;
	/*
	 * The runner's scheduler lock (may be NULL: unfenced). Every write
	 * transaction (claim, chunk, finish, fail) first locks that lock's
	 * row FOR SHARE at fence_token: once the healer or an operator has
	 * moved the token on, the runner writes nothing more, and a recovery
	 * waits for a chunk transaction in progress. fence_lost is set when
	 * that check failed (the call then returns RUN_LOST, or RUN_ERROR
	 * from a claim).
	 */
	const char			*fence_lock;
	long long			 fence_token;
	bool				 fence_lost;
};

enum run_result {
	RUN_NONE = 0,	/* claim: the queue is empty */
	RUN_CLAIMED,	/* claim: *job filled */
	RUN_DONE,	/* the job is DONE */
	RUN_FAILED,	/* the job ended FAILED with a code (limits, cancel) */
	RUN_LOST,	/* the job is no longer ours: stop, write nothing */
	RUN_ERROR	/* database or storage failure: the job stays RUNNING
			 * and is reclaimed after its lease */
};

/* A claimed job. */
struct runner_job {
	char		 id[40];
	char		 tenant_id[160];
	char		 format[8];
	enum compress_codec compression;
	int		 level;			/* of compression, fixed at the
						 * first claim */
	char		 from[40], to[40];
	char		*filters;		/* JSON text, owned */
	long long	 max_rows, max_bytes;
	int		 max_duration;		/* seconds */
	double		 seconds_left;		/* of max_duration */
	int		 attempt;
	long long	 rows, bytes;		/* committed progress */
	long long	 ubytes;		/* of it, the uncompressed
						 * content (= bytes for none) */
	int		 chunks;
	char		*cp_ts;			/* checkpoint, owned, or NULL */
	long long	 cp_id;
};

/* Claim the next job. RUN_CLAIMED, RUN_NONE or RUN_ERROR. */
enum run_result export_job_claim(struct runner *rn, struct runner_job *job);

/* Run a claimed job to its end. RUN_DONE, RUN_FAILED, RUN_LOST, RUN_ERROR. */
enum run_result export_job_run(struct runner *rn, struct runner_job *job);

void	runner_job_free(struct runner_job *job);

#endif
