/*
 * locks: named leases in tb_scheduler_lock, with heartbeats and fencing
 * tokens (contract section 6).
 *
 * A timer-launched job acquires its lock on start (the fencing token goes
 * up by one), renews it by heartbeat while it works, and releases it on
 * exit. A heartbeat that finds the token moved on (the healer or an
 * operator recovered the lock) returns LOCK_LOST: the caller must stop at
 * once, write nothing more and exit non-zero. Writes that a lock protects
 * check the token in the same statement (LOCK_FENCE_SQL).
 *
 * States, as the API and the healer see them: FREE (no holder), HELD,
 * STALE (heartbeat older than stale_after, lease not over), EXPIRED (lease
 * over), and ORPHANED (holder on this host whose process is gone).
 */
#ifndef OPS_LOCKS_H
#define OPS_LOCKS_H

#include <stdbool.h>
#include <stddef.h>

#include "db.h"
#include "lockstate.h"

/* Who holds (or wants) a lock: this process. */
struct lock_owner {
	char		holder[192];	/* "binary:host:pid" */
	char		host[128];
	int		pid;
	long long	start_ticks;	/* /proc/self/stat field 22, or -1 */
	char		boot_id[40];	/* /proc/sys/kernel/random/boot_id */
};

/* A lease this process holds. */
struct lock_lease {
	char		name[128];
	long long	token;
	int		lease_seconds;
};

enum lock_status {
	LOCK_OK = 0,
	LOCK_BUSY,	/* acquire: somebody else holds it */
	LOCK_LOST,	/* heartbeat/release: the token moved on */
	LOCK_DBERR	/* the database failed: db->err says how */
};

/* Describe this process (never fails: unknown parts are left empty/-1). */
void	lock_owner_self(struct lock_owner *o, const char *binary);

/*
 * Take lock name when it is FREE. On LOCK_BUSY, busy (may be NULL) gets a
 * one-line description of the holder.
 */
enum lock_status lock_acquire(struct db *db, const char *name,
	    const struct lock_owner *me, int lease_seconds,
	    struct lock_lease *out, char *busy, size_t busysz);

/* Renew the lease; LOCK_LOST when the token is no longer ours. */
enum lock_status lock_heartbeat(struct db *db, const struct lock_lease *l);

/* Give the lock back; LOCK_LOST when it was already taken from us. */
enum lock_status lock_release(struct db *db, const struct lock_lease *l);

/*
 * The one definition of "the lease (name $N, token $M) is still current",
 * as a condition on a tb_scheduler_lock row. Every fenced statement here
 * and in LOCK_FENCE_SQL uses it.
 */
#define LOCK_CURRENT_SQL(n, m) \
	"name = $" #n " AND fencing_token = $" #m " AND holder IS NOT NULL"

/*
 * A SQL condition that holds only while the lease with the token in
 * parameters $N (name) and $M (token) is still current: put it in the
 * WHERE clause of every write the lock protects.
 */
#define LOCK_FENCE_SQL(n, m) \
	"EXISTS (SELECT 1 FROM tb_scheduler_lock WHERE " \
	LOCK_CURRENT_SQL(n, m) ")"

/*
 * The fence check, inside the caller's transaction, before writes that a
 * lock protects: LOCK_OK while (name, token) is current, LOCK_LOST when the
 * token moved on (stop, write nothing more), LOCK_DBERR. The row is locked
 * FOR SHARE, so a recovery of the lock waits for the caller's commit.
 */
enum lock_status lock_fence_check(struct db *db, const char *name,
	    long long token);

/*
 * Take lock name away from its holder (the healer's recovery, an operator's
 * force release), inside the caller's transaction: clear the holder, bump
 * the fencing token, record released_at = now(), release_reason = reason
 * and released_by (cut to 500 characters). Fenced on token, the token the
 * caller saw: LOCK_LOST when the row no longer has it (or no holder).
 * On LOCK_OK, *new_token is the bumped token and, when released_at is not
 * NULL, it gets the release time as RFC 3339 text.
 */
enum lock_status lock_revoke(struct db *db, const char *name,
	    long long token, const char *reason, const char *released_by,
	    long long *new_token, char *released_at, size_t released_atsz);

/* Process start time in clock ticks since boot, or -1 (no such pid). */
long long lock_proc_start_ticks(int pid);

/*
 * Look the holder's process up in this host's /proc: LOCK_PROC_GONE when
 * there is no such pid or it is a zombie (it can never heartbeat again),
 * LOCK_PROC_REUSED when the pid runs with another start time than
 * started_at, LOCK_PROC_ALIVE when it matches (or started_at is unknown, < 0:
 * then a running pid is given the benefit of the doubt), and
 * LOCK_PROC_NOT_PROBED when /proc could not be read for another reason
 * (permission), which is no evidence either way.
 */
enum lock_proc lock_probe_process(int pid, long long started_at);

/*
 * Does this process see every process of the host in /proc? False when
 * /proc is mounted with hidepid (systemd's ProtectProc=invisible), where a
 * live process of another user would look gone: the healer then does not
 * classify anything as ORPHANED.
 */
bool	lock_proc_all_visible(void);

#endif
