#include "locks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

long long
lock_proc_start_ticks(int pid)
{
	char path[64], line[1024], *p;
	long long ticks = -1;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[n] = '\0';
	/* the command may contain spaces and parens: count from the last ')' */
	if ((p = strrchr(line, ')')) == NULL)
		return -1;
	p++;
	/* after ')' come fields 3..; starttime is field 22 */
	for (int field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (p)
		ticks = strtoll(p + 1, NULL, 10);
	return ticks;
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

/* Rows a command touched (PQcmdTuples is "" for some commands). */
static int
atoi_safe_tuples(PGresult *res)
{
	const char *s = PQcmdTuples(res);

	return *s ? (int)strtol(s, NULL, 10) : 0;
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
	PGresult *res;
	int n;

	snprintf(tok, sizeof(tok), "%lld", l->token);
	snprintf(lease, sizeof(lease), "%d", l->lease_seconds);
	res = db_query(db, "UPDATE tb_scheduler_lock SET heartbeat_at = now(), "
	    "lease_until = now() + $3 * interval '1 second' WHERE name = $1 "
	    "AND fencing_token = $2 AND holder IS NOT NULL", 3, p);
	if (res == NULL)
		return LOCK_DBERR;
	n = atoi_safe_tuples(res);
	PQclear(res);
	return n == 1 ? LOCK_OK : LOCK_LOST;
}

enum lock_status
lock_release(struct db *db, const struct lock_lease *l)
{
	char tok[24];
	const char *p[] = { l->name, tok };
	PGresult *res;
	int n;

	snprintf(tok, sizeof(tok), "%lld", l->token);
	res = db_query(db, "UPDATE tb_scheduler_lock SET holder = NULL, "
	    "holder_host = NULL, holder_pid = NULL, holder_started_at = NULL, "
	    "holder_boot_id = NULL, acquired_at = NULL, heartbeat_at = NULL, "
	    "lease_until = NULL, released_at = now(), release_reason = "
	    "'released', released_by = holder WHERE name = $1 AND "
	    "fencing_token = $2 AND holder IS NOT NULL", 2, p);
	if (res == NULL)
		return LOCK_DBERR;
	n = atoi_safe_tuples(res);
	PQclear(res);
	return n == 1 ? LOCK_OK : LOCK_LOST;
}
