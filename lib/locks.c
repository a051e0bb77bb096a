#include "locks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/*
 * Read /proc/PID/stat: the state letter (field 3) and starttime (field 22).
 * 0 on success, -1 when there is no such process, -2 when it could not be
 * read for another reason.
 */
static int
proc_stat(int pid, char *state, long long *ticks)
{
	char path[64], line[1024], *p, *end;
	size_t n;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "re")) == NULL)
		return (errno == ENOENT || errno == ESRCH) ? -1 : -2;
	n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[n] = '\0';
	/* the command may contain spaces and parens: count from the last ')' */
	if ((p = strrchr(line, ')')) == NULL || p[1] != ' ' || p[2] == '\0')
		return n == 0 ? -1 : -2;	/* it exited while we read */
	*state = p[2];
	/* p + 1 is the blank before field 3; step to the blank before 22
	 * (starttime; 23 would be vsize, which changes as the process runs) */
	p++;
	for (int field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL)
		return -2;
	errno = 0;
	*ticks = strtoll(p + 1, &end, 10);
	if (errno || end == p + 1 || *ticks < 0)
		return -2;
	return 0;
}

long long
lock_proc_start_ticks(int pid)
{
	long long ticks;
	char state;

	return proc_stat(pid, &state, &ticks) == 0 ? ticks : -1;
}

enum lock_proc
lock_probe_process(int pid, long long started_at)
{
	long long ticks = -1;
	char state = '?';
	int rc = proc_stat(pid, &state, &ticks);

	if (rc == -1)
		return LOCK_PROC_GONE;
	if (rc != 0)
		return LOCK_PROC_NOT_PROBED;
	if (state == 'Z' || state == 'X')
		return LOCK_PROC_GONE;
	if (started_at >= 0 && ticks != started_at)
		return LOCK_PROC_REUSED;
	return LOCK_PROC_ALIVE;
}

bool
lock_proc_all_visible(void)
{
	char line[4096];
	bool visible = true, found = false;
	FILE *f;

	if ((f = fopen("/proc/self/mountinfo", "re")) == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		/* id parent dev root MOUNTPOINT opts [tags] - FSTYPE src SUPEROPTS */
		char *mp, *sep, *hp;
		int sp = 0;

		for (mp = line; *mp && sp < 4; mp++)
			if (*mp == ' ')
				sp++;
		if (strncmp(mp, "/proc ", 6) != 0 ||
		    (sep = strstr(mp, " - proc ")) == NULL)
			continue;
		found = true;
		if ((hp = strstr(sep, "hidepid=")) != NULL) {
			hp += 8;
			visible = strncmp(hp, "0", 1) == 0 && (hp[1] == ',' ||
			    hp[1] == '\n' || hp[1] == ' ' || hp[1] == '\0');
			visible = visible || strncmp(hp, "off", 3) == 0;
		}
	}
	fclose(f);
	return found && visible;
}

void
lock_owner_self(struct lock_owner *o, const char *binary)
{
	FILE *f;

	memset(o, 0, sizeof(*o));
	if (gethostname(o->host, sizeof(o->host)) != 0 || o->host[0] == '\0')
		snprintf(o->host, sizeof(o->host), "unknown");
	o->pid = (int)getpid();
	o->start_ticks = lock_proc_start_ticks(o->pid);
	if ((f = fopen("/proc/sys/kernel/random/boot_id", "re")) != NULL) {
		if (fgets(o->boot_id, sizeof(o->boot_id), f) != NULL)
			o->boot_id[strcspn(o->boot_id, "\n")] = '\0';
		fclose(f);
	}
	snprintf(o->holder, sizeof(o->holder), "%s:%s:%d", binary, o->host,
	    o->pid);
}

static void
describe_holder(struct db *db, const char *name, char *busy, size_t busysz)
{
	const char *p[] = { name };
	PGresult *res;

	if (busy == NULL)
		return;
	snprintf(busy, busysz, "lock %s is held by another process", name);
	res = db_query(db, "SELECT holder, holder_host, holder_pid, "
	    "round(extract(epoch FROM now() - heartbeat_at)), "
	    "round(extract(epoch FROM lease_until - now())), fencing_token "
	    "FROM tb_scheduler_lock WHERE name = $1 AND holder IS NOT NULL",
	    1, p);
	if (res && PQntuples(res) == 1)
		snprintf(busy, busysz, "lock %s is held by %s (pid %s on %s, "
		    "token %s, last heartbeat %s s ago, lease ends in %s s)",
		    name, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 2),
		    PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 5),
		    PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4));
	PQclear(res);
}

enum lock_status
lock_acquire(struct db *db, const char *name, const struct lock_owner *me,
    int lease_seconds, struct lock_lease *out, char *busy, size_t busysz)
{
	char pid[16], ticks[24], lease[16];
	PGresult *res;

	memset(out, 0, sizeof(*out));
	snprintf(pid, sizeof(pid), "%d", me->pid);
	snprintf(ticks, sizeof(ticks), "%lld", me->start_ticks);
	snprintf(lease, sizeof(lease), "%d", lease_seconds);
	{
		const char *p[] = { name };

		if (db_exec(db, "INSERT INTO tb_scheduler_lock (name) VALUES ($1) "
		    "ON CONFLICT (name) DO NOTHING", 1, p) != 0)
			return LOCK_DBERR;
	}
	{
		bool ident = me->start_ticks >= 0 && me->boot_id[0];
		const char *p[] = { name, me->holder, me->host, pid,
		    ident ? ticks : NULL, ident ? me->boot_id : NULL, lease };

		res = db_query(db, "UPDATE tb_scheduler_lock SET holder = $2, "
		    "holder_host = $3, holder_pid = $4, holder_started_at = $5, "
		    "holder_boot_id = $6, fencing_token = fencing_token + 1, "
		    "acquired_at = now(), heartbeat_at = now(), "
		    "lease_until = now() + $7 * interval '1 second' "
		    "WHERE name = $1 AND holder IS NULL RETURNING fencing_token",
		    7, p);
	}
	if (res == NULL)
		return LOCK_DBERR;
	if (PQntuples(res) == 0) {
		PQclear(res);
		describe_holder(db, name, busy, busysz);
		return LOCK_BUSY;
	}
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->token = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	out->lease_seconds = lease_seconds;
	PQclear(res);
	return LOCK_OK;
}

enum lock_status
lock_heartbeat(struct db *db, const struct lock_lease *l)
{
	char tok[24], lease[16];
	const char *p[] = { l->name, tok, lease };
	long long n;

	snprintf(tok, sizeof(tok), "%lld", l->token);
	snprintf(lease, sizeof(lease), "%d", l->lease_seconds);
	n = db_exec_rows(db, "UPDATE tb_scheduler_lock SET heartbeat_at = "
	    "now(), lease_until = now() + $3 * interval '1 second' WHERE "
	    LOCK_CURRENT_SQL(1, 2), 3, p);
	return n < 0 ? LOCK_DBERR : n == 1 ? LOCK_OK : LOCK_LOST;
}

enum lock_status
lock_release(struct db *db, const struct lock_lease *l)
{
	char tok[24];
	const char *p[] = { l->name, tok };
	long long n;

	snprintf(tok, sizeof(tok), "%lld", l->token);
	n = db_exec_rows(db, "UPDATE tb_scheduler_lock SET holder = NULL, "
	    "holder_host = NULL, holder_pid = NULL, holder_started_at = NULL, "
	    "holder_boot_id = NULL, acquired_at = NULL, heartbeat_at = NULL, "
	    "lease_until = NULL, released_at = now(), release_reason = "
	    "'released', released_by = holder WHERE " LOCK_CURRENT_SQL(1, 2),
	    2, p);
	return n < 0 ? LOCK_DBERR : n == 1 ? LOCK_OK : LOCK_LOST;
}

enum lock_status
lock_fence_check(struct db *db, const char *name, long long token)
{
	char tok[24];
	const char *p[] = { name, tok };
	PGresult *res;
	int n;

	snprintf(tok, sizeof(tok), "%lld", token);
	res = db_query(db, "SELECT 1 FROM tb_scheduler_lock WHERE "
	    LOCK_CURRENT_SQL(1, 2) " FOR SHARE", 2, p);
	if (res == NULL)
		return LOCK_DBERR;
	n = PQntuples(res);
	PQclear(res);
	return n == 1 ? LOCK_OK : LOCK_LOST;
}

enum lock_status
lock_revoke(struct db *db, const char *name, long long token,
    const char *reason, const char *released_by, long long *new_token,
    char *released_at, size_t released_atsz)
{
	char tok[24];
	const char *p[] = { name, tok, reason, released_by };
	PGresult *res;

	snprintf(tok, sizeof(tok), "%lld", token);
	res = db_query(db, "UPDATE tb_scheduler_lock SET holder = NULL, "
	    "holder_host = NULL, holder_pid = NULL, holder_started_at = NULL, "
	    "holder_boot_id = NULL, acquired_at = NULL, heartbeat_at = NULL, "
	    "lease_until = NULL, fencing_token = fencing_token + 1, "
	    "released_at = now(), release_reason = $3, released_by = "
	    "left($4, 500) WHERE " LOCK_CURRENT_SQL(1, 2) " RETURNING "
	    "fencing_token, " DB_SQL_RFC3339("released_at"), 4, p);
	if (res == NULL)
		return LOCK_DBERR;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return LOCK_LOST;
	}
	*new_token = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	if (released_at != NULL)
		snprintf(released_at, released_atsz, "%s",
		    PQgetvalue(res, 0, 1));
	PQclear(res);
	return LOCK_OK;
}
