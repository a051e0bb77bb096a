/*
 * jobrun: the frame every timer-launched job binary runs in.
 *
 *   jobrun_begin()  connect, take the job's scheduler lock (exit 75 with
 *                   the holder named when it is busy), record a job_run row
 *   jobrun_tick()   call often: heartbeats the lock when due; returns -1
 *                   when the lock was taken away (stop now, write nothing)
 *   jobrun_stopping() call between units of work: true once SIGTERM or
 *                   SIGINT came (lib/stop.h; jobrun_begin() installs the
 *                   handler): end or abandon the unit, then jobrun_end()
 *   jobrun_end()    record JOB_RUN_SUCCEEDED or JOB_RUN_FAILED (ops_event
 *                   and job_run, one transaction), release the lock, write
 *                   the node_exporter textfile, and give the exit status;
 *                   a run whose lock was lost says so in one line on
 *                   stderr and exits 1; a stopped run records
 *                   JOB_RUN_FAILED with reason "terminated", releases its
 *                   lock at once and exits 143 (SIGTERM) or 130 (SIGINT)
 *
 * Exit statuses: 0 success (also "nothing to do"), 1 failure, 2 usage or
 * configuration, 75 (EX_TEMPFAIL) another instance holds the lock, 143 /
 * 130 stopped by SIGTERM / SIGINT (the run recorded, the lock released).
 */
#ifndef OPS_JOBRUN_H
#define OPS_JOBRUN_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "locks.h"

#define JOBRUN_EXIT_OK		0
#define JOBRUN_EXIT_FAIL	1
#define JOBRUN_EXIT_USAGE	2
#define JOBRUN_EXIT_BUSY	75
/* JOB_RUN_FAILED data.reason of a run stopped by a signal */
#define JOBRUN_REASON_TERMINATED "terminated"

struct jobrun {
	const char		*job;		/* binary name */
	const struct ops_config	*cfg;
	struct db		 db;		/* the job's own connection */
	struct lock_owner	 me;
	struct lock_lease	 lease;
	bool			 locked;
	bool			 lost;
	bool			 stopped;	/* by a signal (jobrun_stopping) */
	long long		 run_id;	/* job_run.id, or 0 */
	double			 started;	/* mono_now() */
	double			 last_beat;
	json_t			*counts;	/* {"done": 3, ...} */
	const char		*textfile_dir;	/* may be NULL */
	char			 error[1024];	/* jobrun_db_error()'s text */
};

/*
 * Start a run of job holding lock lock_name. Returns 0, or the exit status
 * to leave with (75 busy, 1 database failure) after printing one line on
 * stderr.
 */
int	jobrun_begin(struct jobrun *jr, const char *job, const char *lock_name,
	    const struct ops_config *cfg, const char *textfile_dir);

/*
 * Heartbeat when due. 0, or -1 when the run must stop now: the lock is lost
 * (jr->lost) or a signal asked it to stop (jr->stopped).
 */
int	jobrun_tick(struct jobrun *jr);

/* Has SIGTERM or SIGINT come? Sets jr->stopped. */
bool	jobrun_stopping(struct jobrun *jr);

/* Heartbeat now, due or not (after a failure: was the lock lost?). */
int	jobrun_check(struct jobrun *jr);

/* Add n to counter key. */
void	jobrun_count(struct jobrun *jr, const char *key, long long n);

/*
 * "what: <db_error_text(db)>" for jobrun_end(), so that the job_run row
 * and the log keep the database's SQLSTATE and message. Owned by jr.
 */
const char *jobrun_db_error(struct jobrun *jr, const char *what,
	    const struct db *db);

/*
 * Finish: error NULL means success. Returns the exit status (0 or 1; 143
 * or 130 when jr->stopped, whatever error says: a failure the stop caused,
 * a cancelled statement, is part of the stop). Frees what jr holds and
 * closes its connection.
 */
int	jobrun_end(struct jobrun *jr, const char *error);

/*
 * Write "<dir>/<job>.prom" atomically (temp file + rename) with the run's
 * metrics for node_exporter's textfile collector. 0 or -1.
 */
int	jobrun_write_textfile(const char *dir, const char *job, bool ok,
	    double duration, time_t finished, const json_t *counts);

#endif
