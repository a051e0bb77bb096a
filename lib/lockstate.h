/*
 * lockstate: what state a scheduler lock is in, decided by a pure function.
 *
 *   FREE      no holder
 *   HELD      holder set, heartbeat fresh, lease not over
 *   STALE     holder set, heartbeat older than locks.stale_after_seconds,
 *             lease not over yet
 *   EXPIRED   holder set, lease over (lease_until <= now)
 *   ORPHANED  holder on THIS host (same host name AND same boot id) whose
 *             process is gone, or whose pid now belongs to another process
 *             (its start time differs from holder_started_at)
 *
 * ORPHANED is the healer's view only: it needs a look at /proc on the
 * holder's host, which the API (ops-fcgi, any host) cannot take. Callers
 * without a process probe pass self = NULL and never get ORPHANED.
 *
 * Safety rules built in (docs/ops/locks.md):
 *   - a holder is "on this host" only when both the host name and the boot
 *     id match; a holder row without a boot id / start time (not Linux), or
 *     one with the same host name but another boot id (a reboot, or another
 *     machine with the same name) is judged by its heartbeat and lease only;
 *   - a live process with the holder's pid and start time is never ORPHANED
 *     (it may still be STALE or EXPIRED when it stopped heart-beating);
 *   - a probe that could not look (permission, hidden /proc) is no evidence.
 *
 * Everything here is pure: no I/O, no clock, no allocation; safe from any
 * thread. The process probe itself (lock_probe_process) is in locks.h.
 */
#ifndef OPS_LOCKSTATE_H
#define OPS_LOCKSTATE_H

#include <stdbool.h>
#include <stddef.h>

enum lock_state {
	LOCK_STATE_FREE = 0,
	LOCK_STATE_HELD,
	LOCK_STATE_STALE,
	LOCK_STATE_EXPIRED,
	LOCK_STATE_ORPHANED
};

/* What a look at /proc/PID on this host found. */
enum lock_proc {
	LOCK_PROC_NOT_PROBED = 0,	/* not looked at, or could not look */
	LOCK_PROC_ALIVE,		/* pid runs, same start time */
	LOCK_PROC_GONE,			/* no such pid (or a zombie) */
	LOCK_PROC_REUSED		/* pid runs with another start time */
};

/* The facts of one lock row (times in seconds since the epoch). */
struct lock_facts {
	bool		 held;		/* holder IS NOT NULL */
	const char	*host;		/* holder_host, NULL when free */
	const char	*boot_id;	/* holder_boot_id, may be NULL */
	int		 pid;		/* holder_pid */
	long long	 started_at;	/* holder_started_at, -1 unknown */
	double		 heartbeat_at;
	double		 lease_until;
};

/* The host the classification runs on (the healer's). */
struct lock_self {
	const char	*host;		/* gethostname() */
	const char	*boot_id;	/* /proc/sys/kernel/random/boot_id, or
					 * "" / NULL when unreadable */
};

/*
 * Is the holder a process of this very host and boot, i.e. may its pid be
 * looked up in our /proc? False for a free lock, an unknown boot id on
 * either side, or a holder without a start time.
 */
bool		 lock_holder_is_local(const struct lock_facts *f,
		    const struct lock_self *self);

/*
 * Classify. now is the database's clock (the same clock that wrote
 * heartbeat_at, so hosts' clocks do not matter); stale_after in seconds.
 * self may be NULL (API view: never ORPHANED); proc is the probe result for
 * the holder's pid, looked at only when lock_holder_is_local(). why (may be
 * NULL) gets a short static phrase for logs and events ("process gone",
 * "pid reused by another process", "heartbeat older than stale_after",
 * "lease over", "" for FREE and HELD).
 */
enum lock_state	 lock_classify(const struct lock_facts *f, double now,
		    int stale_after, const struct lock_self *self,
		    enum lock_proc proc, const char **why);

/* "FREE", "HELD", "STALE", "EXPIRED", "ORPHANED"; "?" out of range. */
const char	*lock_state_name(enum lock_state s);

/* "stale", "expired", "orphaned" (release_reason "healed: <this>",
 * metric label reason); "" for FREE and HELD. */
const char	*lock_state_reason(enum lock_state s);

/* Should the healer recover a lock in state s? (STALE, EXPIRED, ORPHANED) */
bool		 lock_state_recoverable(enum lock_state s);

/* A lock name as the table allows it: ^[a-z0-9][a-z0-9_.:-]{0,127}$ */
bool		 lock_name_valid(const char *name);

/*
 * An operator's reason for a force-release: 1 to 500 characters (UTF-8
 * code points) of valid UTF-8, not only white space, no control
 * characters. Returns true, or false with *issue (static text for the
 * VALIDATION_FAILED detail) set.
 */
bool		 lock_reason_valid(const char *reason, const char **issue);

#define LOCK_REASON_MAX_CHARS	500

#endif
