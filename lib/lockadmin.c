#include "lockadmin.h"

#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "events.h"
#include "locks.h"
#include "log.h"
#include "xalloc.h"
#include "xjson.h"

#define LOCK_COLS \
	"name, holder, holder_host, holder_pid, holder_started_at, " \
	"holder_boot_id, fencing_token, " DB_SQL_RFC3339("acquired_at") ", " \
	DB_SQL_RFC3339("heartbeat_at") ", " DB_SQL_RFC3339("lease_until") ", " \
	DB_SQL_RFC3339("released_at") ", release_reason, released_by, " \
	"extract(epoch FROM acquired_at), extract(epoch FROM heartbeat_at), " \
	"extract(epoch FROM lease_until), " \
	"extract(epoch FROM statement_timestamp())"

static const char *
col(PGresult *res, int row, int c)
{
	return PQgetisnull(res, row, c) ? NULL : PQgetvalue(res, row, c);
}

static double
col_double(PGresult *res, int row, int c)
{
	return PQgetisnull(res, row, c) ? 0.0 :
	    strtod(PQgetvalue(res, row, c), NULL);
}

static long long
col_ll(PGresult *res, int row, int c, long long dflt)
{
	return PQgetisnull(res, row, c) ? dflt :
	    strtoll(PQgetvalue(res, row, c), NULL, 10);
}

int
lockadmin_load(struct db *db, const char *name, const char *lock_mode,
    struct lock_rows *out)
{
	char sql[1024];
	const char *p[] = { name };
	PGresult *res;
	int n;

	memset(out, 0, sizeof(*out));
	/* lock_mode is one of two constants (never input) */
	if (lock_mode && strcmp(lock_mode, "FOR UPDATE") != 0 &&
	    strcmp(lock_mode, "FOR UPDATE SKIP LOCKED") != 0)
		return -1;
	snprintf(sql, sizeof(sql), "SELECT " LOCK_COLS " FROM "
	    "tb_scheduler_lock%s ORDER BY name%s%s",
	    name ? " WHERE name = $1" : "", lock_mode ? " " : "",
	    lock_mode ? lock_mode : "");
	res = db_query(db, sql, name ? 1 : 0, name ? p : NULL);
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	out->res = res;
	out->n = n;
	out->rows = xcalloc((size_t)n, sizeof(*out->rows));
	for (int i = 0; i < n; i++) {
		struct lock_row *r = &out->rows[i];

		r->name = PQgetvalue(res, i, 0);
		r->holder = col(res, i, 1);
		r->host = col(res, i, 2);
		r->pid = (int)col_ll(res, i, 3, 0);
		r->started_at = col_ll(res, i, 4, -1);
		r->boot_id = col(res, i, 5);
		r->token = col_ll(res, i, 6, 0);
		r->acquired_at = col(res, i, 7);
		r->heartbeat_at = col(res, i, 8);
		r->lease_until = col(res, i, 9);
		r->released_at = col(res, i, 10);
		r->release_reason = col(res, i, 11);
		r->released_by = col(res, i, 12);
		r->acquired_epoch = col_double(res, i, 13);
		r->heartbeat_epoch = col_double(res, i, 14);
		r->lease_epoch = col_double(res, i, 15);
		r->now = col_double(res, i, 16);
	}
	return 0;
}

void
lock_rows_free(struct lock_rows *rows)
{
	PQclear(rows->res);
	free(rows->rows);
	memset(rows, 0, sizeof(*rows));
}

void
lock_row_facts(const struct lock_row *r, struct lock_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->held = r->holder != NULL;
	f->host = r->host;
	f->boot_id = r->boot_id;
	f->pid = r->pid;
	f->started_at = r->started_at;
	f->heartbeat_at = r->heartbeat_epoch;
	f->lease_until = r->lease_epoch;
}

/* Round to milliseconds, for JSON. */
static double
ms(double s)
{
	return round(s * 1000.0) / 1000.0;
}

double
lock_row_heartbeat_age(const struct lock_row *r)
{
	return r->holder ? r->now - r->heartbeat_epoch : 0.0;
}

double
lock_row_lease_left(const struct lock_row *r)
{
	return r->holder ? r->lease_epoch - r->now : 0.0;
}

static json_t *
str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *
lock_row_json(const struct lock_row *r, enum lock_state st)
{
	json_t *o = json_object();

	xjson_set(o, "name", json_string(r->name));
	xjson_set(o, "state", json_string(lock_state_name(st)));
	xjson_set(o, "holder", str_or_null(r->holder));
	xjson_set(o, "holder_host", str_or_null(r->host));
	xjson_set(o, "holder_pid", r->holder ?
	    json_integer(r->pid) : json_null());
	xjson_set(o, "fencing_token", json_integer(r->token));
	xjson_set(o, "acquired_at", str_or_null(r->acquired_at));
	xjson_set(o, "heartbeat_at", str_or_null(r->heartbeat_at));
	xjson_set(o, "lease_until", str_or_null(r->lease_until));
	xjson_set(o, "heartbeat_age_seconds", r->holder ?
	    json_real(ms(lock_row_heartbeat_age(r))) : json_null());
	xjson_set(o, "lease_remaining_seconds", r->holder ?
	    json_real(ms(lock_row_lease_left(r))) : json_null());
	xjson_set(o, "released_at", str_or_null(r->released_at));
	xjson_set(o, "release_reason",
	    str_or_null(r->release_reason));
	xjson_set(o, "released_by", str_or_null(r->released_by));
	return o;
}

json_t *
lockadmin_list_json(struct db *db, int stale_after)
{
	struct lock_rows rows;
	json_t *items;

	if (lockadmin_load(db, NULL, NULL, &rows) != 0)
		return NULL;
	items = json_array();
	for (int i = 0; i < rows.n; i++) {
		struct lock_facts f;
		enum lock_state st;

		lock_row_facts(&rows.rows[i], &f);
		st = lock_classify(&f, rows.rows[i].now, stale_after, NULL,
		    LOCK_PROC_NOT_PROBED, NULL);
		xjson_push(items, lock_row_json(&rows.rows[i], st));
	}
	lock_rows_free(&rows);
	return xjson_pack("{s:o}", "items", items);
}

/* The event's data: what was released, by whom and why. New reference. */
static json_t *
release_data(const struct lock_row *r, enum lock_state st, const char *reason,
    const struct lock_actor *who, long long new_token)
{
	json_t *d = xjson_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:I}",
	    "name", r->name, "reason", reason, "actor", who->actor_id,
	    "state_before", lock_state_name(st), "already_free",
	    r->holder == NULL, "fencing_before", (json_int_t)r->token,
	    "fencing_after", (json_int_t)new_token);

	if (r->holder) {
		xjson_set(d, "old_holder", json_string(r->holder));
		xjson_set(d, "old_host", str_or_null(r->host));
		xjson_set(d, "old_pid", json_integer(r->pid));
		xjson_set(d, "heartbeat_age_seconds",
		    json_real(ms(lock_row_heartbeat_age(r))));
		xjson_set(d, "lease_remaining_seconds",
		    json_real(ms(lock_row_lease_left(r))));
		xjson_set(d, "held_for_seconds",
		    json_real(ms(r->now - r->acquired_epoch)));
	}
	return d;
}

/* Both records of a force-release, on db inside its transaction. */
static int
release_record(struct db *db, const struct sanitize_rules *rules,
    const struct lock_actor *who, const char *name, json_t *data)
{
	struct ops_event ev = {
		.type = "SCHEDULER_LOCK_FORCE_RELEASED", .severity = "warning",
		.source = who->source, .subject_type = "scheduler_lock",
		.subject_id = name, .request_id = who->request_id,
		.data = data, .actor_id = who->actor_id, .ip = who->ip
	};

	return events_record(db, rules, &ev);
}

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void
lock_release_free(struct lock_release *rel)
{
	free(rel->name);
	free(rel->prev_holder);
	free(rel->prev_host);
	free(rel->released_at);
	free(rel->release_reason);
	free(rel->released_by);
	memset(rel, 0, sizeof(*rel));
}

void
lock_release_fill(struct lock_release *out, const struct lock_row *r,
    enum lock_state st, const char *reason, const char *actor,
    long long new_token, const char *released_at)
{
	memset(out, 0, sizeof(*out));
	out->name = xstrdup(r->name);
	out->released = r->holder != NULL;
	out->state_before = st;
	out->prev_holder = dup_or_null(r->holder);
	out->prev_host = dup_or_null(r->host);
	out->prev_pid = r->holder ? r->pid : 0;
	out->prev_token = r->token;
	out->prev_heartbeat_age = ms(lock_row_heartbeat_age(r));
	out->token = new_token;
	if (r->holder) {
		struct buf why = BUF_INIT;

		buf_appendf(&why, "force: %s", reason);
		out->released_at = xstrdup(released_at);
		out->release_reason = buf_detach(&why, NULL);
		out->released_by = xstrdup(actor);
	} else {
		out->released_at = dup_or_null(r->released_at);
		out->release_reason = dup_or_null(r->release_reason);
		out->released_by = dup_or_null(r->released_by);
	}
}

/* ---- the one take-over of a lock -------------------------------------------- */

enum lock_take_result
lockadmin_take(struct db *db, const char *name, const char *lock_mode,
    const char *by, const struct lock_take_ops *ops, void *arg)
{
	struct lock_rows rows;
	const struct lock_row *r;
	enum lock_take_result res = LOCKTAKE_FAILED;
	long long new_token;
	char reason[8 + 4 * LOCK_REASON_MAX_CHARS + 1] = "";
	char released_at[64] = "";
	int judged;

	if (db_begin(db) != 0)
		return LOCKTAKE_FAILED;
	if (ops->prepare && ops->prepare(arg, db) != 0) {
		db_rollback(db);
		return LOCKTAKE_FAILED;
	}
	if (lockadmin_load(db, name, lock_mode, &rows) != 0) {
		res = db_failed_with(db, "55P03") ? LOCKTAKE_BUSY :
		    LOCKTAKE_FAILED;
		db_rollback(db);
		return res;
	}
	if (rows.n == 0) {
		res = LOCKTAKE_NO_ROW;
		goto out;
	}
	r = &rows.rows[0];
	new_token = r->token;
	if ((judged = ops->judge(arg, r, reason, sizeof(reason))) <= 0) {
		res = judged == 0 ? LOCKTAKE_LEFT : LOCKTAKE_FAILED;
		goto out;
	}
	/* FOR UPDATE makes LOCK_LOST impossible: any failure is a failure */
	if (r->holder && lock_revoke(db, name, r->token, reason, by,
	    &new_token, released_at, sizeof(released_at)) != LOCK_OK)
		goto out;
	if (ops->record(arg, db, r, new_token, released_at) != 0 ||
	    db_commit(db) != 0)
		goto out;
	if (ops->done)
		ops->done(arg, r, new_token, released_at);
	lock_rows_free(&rows);
	return LOCKTAKE_TAKEN;
out:
	lock_rows_free(&rows);
	db_rollback(db);
	return res;
}

/* ---- force-release ----------------------------------------------------------- */

struct force {
	int				 stale_after;
	const struct sanitize_rules	*rules;
	const char			*reason;
	const struct lock_actor		*who;
	enum lock_state			 st;
	struct lock_release		*out;
};

/*
 * A holder paused inside a fenced write holds the row FOR SHARE until the
 * server ends its idle transaction: do not wait that long.
 */
static int
force_prepare(void *arg, struct db *db)
{
	(void)arg;
	return db_exec(db, "SET LOCAL lock_timeout = '5s'", 0, NULL);
}

static int
force_judge(void *arg, const struct lock_row *r, char *reason, size_t sz)
{
	struct force *fo = arg;
	struct lock_facts f;

	lock_row_facts(r, &f);
	fo->st = lock_classify(&f, r->now, fo->stale_after, NULL,
	    LOCK_PROC_NOT_PROBED, NULL);
	snprintf(reason, sz, "force: %s", fo->reason);
	return 1;	/* a free lock too: the request is recorded anyway */
}

static int
force_record(void *arg, struct db *db, const struct lock_row *r,
    long long new_token, const char *released_at)
{
	struct force *fo = arg;
	json_t *data = release_data(r, fo->st, fo->reason, fo->who, new_token);
	int rc;

	(void)released_at;
	rc = release_record(db, fo->rules, fo->who, r->name, data);
	json_decref(data);
	return rc;
}

static void
force_done(void *arg, const struct lock_row *r, long long new_token,
    const char *released_at)
{
	struct force *fo = arg;

	if (r->holder)
		log_warn("lock %s force-released by %s (was held by %s on %s, "
		    "pid %d, token %lld -> %lld)", r->name, fo->who->actor_id,
		    r->holder, r->host ? r->host : "?", r->pid, r->token,
		    new_token);
	else
		log_info("lock %s force-release by %s: it was already free "
		    "(token %lld); recorded", r->name, fo->who->actor_id,
		    r->token);
	if (fo->out)
		lock_release_fill(fo->out, r, fo->st, fo->reason,
		    fo->who->actor_id, new_token, released_at);
}

enum lock_release_result
lockadmin_force_release(struct db *db, int stale_after,
    const struct sanitize_rules *rules, const char *name, const char *reason,
    const struct lock_actor *who, struct lock_release *out)
{
	static const struct lock_take_ops ops = {
		force_prepare, force_judge, force_record, force_done
	};
	struct force fo = { stale_after, rules, reason, who,
	    LOCK_STATE_FREE, out };

	if (out)
		memset(out, 0, sizeof(*out));
	if (!lock_name_valid(name))
		return LOCKREL_NOT_FOUND;
	switch (lockadmin_take(db, name, "FOR UPDATE", who->actor_id, &ops,
	    &fo)) {
	case LOCKTAKE_TAKEN:
		return fo.st == LOCK_STATE_FREE ? LOCKREL_ALREADY_FREE :
		    LOCKREL_RELEASED;
	case LOCKTAKE_NO_ROW:
		return LOCKREL_NOT_FOUND;
	case LOCKTAKE_BUSY:
		return LOCKREL_BUSY;
	default:
		return LOCKREL_DB;
	}
}
