/*
 * lockadmin: scheduler locks as operators see and handle them, shared by
 * the API (fcgi/h_locks.c), opsctl, the status page and the healer.
 *
 *   lockadmin_load()           read lock rows with their times and the
 *                              database's clock
 *   lockadmin_list_json()      GET /api/ops/scheduler/locks body (API view:
 *                              FREE, HELD, STALE or EXPIRED; never ORPHANED,
 *                              which needs the holder host's /proc)
 *   lockadmin_force_release()  POST .../locks/{name}/release and
 *                              `opsctl lock-release`: clear the holder, bump
 *                              the token, SCHEDULER_LOCK_FORCE_RELEASED in
 *                              ops_event and audit_log, one transaction
 *
 * Event and audit payloads name the token "fencing_before" /
 * "fencing_after": a key containing "token" would be redacted by the
 * sanitizer that every audit payload goes through.
 */
#ifndef OPS_LOCKADMIN_H
#define OPS_LOCKADMIN_H

#include <jansson.h>
#include <stdbool.h>

#include "db.h"
#include "lockstate.h"
#include "sanitize.h"

/* One row of tb_scheduler_lock; strings point into the result (NULL for
 * SQL NULL) and live as long as the struct lock_rows. */
struct lock_row {
	const char	*name;
	const char	*holder, *host, *boot_id;
	int		 pid;		/* 0 when free */
	long long	 started_at;	/* -1 unknown */
	long long	 token;
	const char	*acquired_at, *heartbeat_at, *lease_until;	/* RFC 3339 */
	const char	*released_at, *release_reason, *released_by;
	double		 acquired_epoch, heartbeat_epoch, lease_epoch;
	double		 now;		/* the database's clock at the read */
};

struct lock_rows {
	void		*res;		/* PGresult */
	int		 n;
	struct lock_row	*rows;
};

/*
 * Read every lock (name NULL) or one. lock_mode: NULL, or "FOR UPDATE",
 * "FOR UPDATE SKIP LOCKED" (inside the caller's transaction). 0 or -1
 * (db->err set); free with lock_rows_free().
 */
int	lockadmin_load(struct db *db, const char *name, const char *lock_mode,
	    struct lock_rows *out);
void	lock_rows_free(struct lock_rows *rows);

/* The row's facts for lock_classify(). */
void	lock_row_facts(const struct lock_row *r, struct lock_facts *f);

/* Seconds since the last heartbeat / until the lease ends (negative: ended
 * that long ago); 0 for a free lock. */
double	lock_row_heartbeat_age(const struct lock_row *r);
double	lock_row_lease_left(const struct lock_row *r);

/* The API's JSON of one lock in state st. New reference. */
json_t	*lock_row_json(const struct lock_row *r, enum lock_state st);

/* {"items":[...]} for every lock, API view. NULL when the database failed. */
json_t	*lockadmin_list_json(struct db *db, int stale_after);

/* Who acts. */
struct lock_actor {
	const char	*actor_id;	/* JWT sub, "opsctl:<user>", ... */
	const char	*source;	/* ops-fcgi, opsctl */
	const char	*request_id;	/* may be NULL */
	const char	*ip;		/* may be NULL */
};

enum lock_release_result {
	LOCKREL_RELEASED = 0,	/* holder cleared, token bumped */
	LOCKREL_ALREADY_FREE,	/* nothing held: no change, recorded anyway */
	LOCKREL_NOT_FOUND,	/* no lock of that name (or a malformed name) */
	LOCKREL_BUSY,		/* the row stayed locked by a transaction in
				 * progress for lock_timeout: retry */
	LOCKREL_DB		/* the database failed: db->err */
};

/*
 * What a force-release did and found. The strings are owned by the struct
 * (free with lock_release_free()); any of them may be NULL. Callers
 * serialise it: fcgi/h_locks.c to the API's JSON, opsctl to a sentence.
 */
struct lock_release {
	char		*name;
	bool		 released;	/* false: it was already free */
	enum lock_state	 state_before;
	/* the holder before the release (all NULL / 0 when it was free) */
	char		*prev_holder;
	char		*prev_host;	/* NULL when the row had none */
	int		 prev_pid;
	long long	 prev_token;
	double		 prev_heartbeat_age;	/* seconds, ms precision */
	/* the lock after it */
	long long	 token;
	char		*released_at;		/* RFC 3339 */
	char		*release_reason;
	char		*released_by;
};

void	lock_release_free(struct lock_release *rel);

/*
 * What force-releasing row r (in state st) did: a held row was revoked to
 * new_token at released_at, with release_reason "force: <reason>" by
 * actor; a free row keeps its last release. Pure (no database).
 */
void	lock_release_fill(struct lock_release *out, const struct lock_row *r,
	    enum lock_state st, const char *reason, const char *actor,
	    long long new_token, const char *released_at);

/*
 * Force-release lock name with the operator's reason (check it with
 * lock_reason_valid() first). On RELEASED and ALREADY_FREE *out (may be
 * NULL) says what was done; free it with lock_release_free().
 */
enum lock_release_result lockadmin_force_release(struct db *db,
	    int stale_after, const struct sanitize_rules *rules,
	    const char *name, const char *reason, const struct lock_actor *who,
	    struct lock_release *out);

/*
 * The one take-over of a lock (the operator's force-release, the healer's
 * recovery), in one transaction on db (none open): begin, ops->prepare
 * (may be NULL), read the row with lock_mode ("FOR UPDATE" or "FOR UPDATE
 * SKIP LOCKED"), ops->judge (1 take it, 0 leave it, -1 fail; it writes the
 * release reason), lock_revoke() to by when the row is held, ops->record
 * (the events, with the new token) and commit; then ops->done (may be
 * NULL) while the row can still be read. Anything else rolls back.
 */
struct lock_take_ops {
	int	(*prepare)(void *arg, struct db *db);
	int	(*judge)(void *arg, const struct lock_row *r, char *reason,
		    size_t reasonsz);
	int	(*record)(void *arg, struct db *db, const struct lock_row *r,
		    long long new_token, const char *released_at);
	void	(*done)(void *arg, const struct lock_row *r,
		    long long new_token, const char *released_at);
};

enum lock_take_result {
	LOCKTAKE_TAKEN,		/* revoked (when held), recorded, committed */
	LOCKTAKE_NO_ROW,	/* no such lock; with SKIP LOCKED also: the
				 * row is locked by a transaction in progress */
	LOCKTAKE_LEFT,		/* judge left it */
	LOCKTAKE_BUSY,		/* lock_timeout ran out (55P03) */
	LOCKTAKE_FAILED		/* the database (db->err), prepare or record */
};

enum lock_take_result lockadmin_take(struct db *db, const char *name,
	    const char *lock_mode, const char *by,
	    const struct lock_take_ops *ops, void *arg);

#endif
