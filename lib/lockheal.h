/*
 * lockheal: the lock healer's logic (bin/ops-lock-healer is its thin main).
 *
 * One sweep reads every lock, classifies it (lock_classify() with a look at
 * /proc for holders on this host) and recovers the STALE, EXPIRED and
 * ORPHANED ones, each in its own short transaction:
 *
 *   1. fence: the healer's own lock row FOR SHARE at the healer's token (a
 *      healer whose lock was taken over writes nothing);
 *   2. the target row FOR UPDATE SKIP LOCKED (a row locked by a fenced write
 *      in progress is skipped this run and retried the next);
 *   3. re-classify with the fresh row and a fresh probe (a holder that
 *      heart-beat in between is left alone);
 *   4. clear the holder columns, fencing_token + 1, released_at = now(),
 *      release_reason 'healed: stale|expired|orphaned', released_by = the
 *      healer's holder id;
 *   5. SCHEDULER_LOCK_STUCK_DETECTED and SCHEDULER_LOCK_RECOVERED in
 *      ops_event, SCHEDULER_LOCK_RECOVERED in audit_log (tenant "_system",
 *      actor "system:ops-lock-healer").
 *
 * The healer never recovers its own lock row (self_lock) during a sweep.
 * lockheal_one() recovers one named lock with the same steps, unfenced: the
 * healer uses it before taking its lock, so that a healer that died
 * holding "ops-lock-healer" does not stop every later healer.
 *
 * lockheal_close_runs() then closes the job_run rows of runs that are gone
 * (docs/ops/locks.md, "Runs whose process is gone"): a RUNNING row is
 * closed when no scheduler lock is held by its process at its fencing
 * token. A job holds its lock from before its row is inserted until after
 * the row is closed, so a RUNNING row without that lock is a run that died
 * (its lock was then recovered as ORPHANED, STALE or EXPIRED) or lost its
 * lock. The rule reads only the database: it works for runs of every host,
 * not only the healer's. Each closed row gets status FAILED and a
 * JOB_RUN_FAILED event with reason "process_gone" in the same transaction,
 * fenced like a recovery.
 *
 * Dry run: the same classification and report lines, no transaction, no
 * write at all.
 */
#ifndef OPS_LOCKHEAL_H
#define OPS_LOCKHEAL_H

#include <stdbool.h>
#include <stdio.h>

#include "db.h"
#include "lockadmin.h"
#include "locks.h"
#include "sanitize.h"

#define LOCKHEAL_ACTOR	"system:ops-lock-healer"
#define LOCKHEAL_SOURCE	"ops-lock-healer"

struct lockheal {
	/* inputs */
	struct db			*db;
	int				 stale_after;	/* seconds */
	const struct sanitize_rules	*rules;
	const struct lock_owner		*me;	/* host, boot id, holder id */
	bool				 probe;	/* may look at /proc */
	bool				 dry_run;
	const char			*self_lock;	/* never recovered in a sweep */
	const char			*fence_name;	/* NULL: unfenced */
	long long			 fence_token;
	FILE				*out;	/* one line per lock, or NULL */
	/* between locks; may be NULL. 0 go on, -1 the healer's lock was
	 * lost (h->lost), 1 stop now (SIGTERM: h->stopped) */
	int				(*tick)(void *arg);
	void				*tick_arg;

	/* results */
	int				 locks, free_, held, stuck;
	int				 recovered, stale, expired, orphaned;
	int				 skipped;	/* busy or changed */
	int				 runs_closed;	/* job_run rows */
	bool				 lost;		/* fence failed */
	bool				 stopped;	/* tick said stop */
};

/*
 * Sweep every lock. 0 when every stuck lock was recovered or skipped for a
 * good reason, -1 when the database failed or the fence was lost (h->lost).
 */
int	lockheal_run(struct lockheal *h);

/*
 * Recover lock name if it is STALE, EXPIRED or ORPHANED. 1 recovered, 0
 * nothing to do (or skipped), -1 failure.
 */
int	lockheal_one(struct lockheal *h, const char *name);

/*
 * Close the job_run rows of runs that are gone (above). Returns how many
 * were closed (dry run: would be), or -1 (database failure, or the fence:
 * h->lost).
 */
int	lockheal_close_runs(struct lockheal *h);

#endif
