#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xalloc.h"

void
db_init(struct db *db, const char *url, const char *role, int connect_timeout,
    const char *appname)
{
	memset(db, 0, sizeof(*db));
	if (url)
		db->url = xstrdup(url);
	snprintf(db->role, sizeof(db->role), "%s", role ? role : "");
	db->connect_timeout = connect_timeout;
	snprintf(db->appname, sizeof(db->appname), "%s", appname);
}

void
db_close(struct db *db)
{
	if (db->conn)
		PQfinish(db->conn);
	db->conn = NULL;
	free(db->url);
	db->url = NULL;
}

static void
copy_field(char *dst, size_t dstsz, const char *src)
{
	size_t n;

	snprintf(dst, dstsz, "%s", src ? src : "");
	n = strlen(dst);
	while (n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == ' '))
		dst[--n] = '\0';
}

static void
db_fail(struct db *db, enum db_err err, const char *sqlstate, const char *msg)
{
	db->err = err;
	copy_field(db->sqlstate, sizeof(db->sqlstate), sqlstate);
	copy_field(db->errmsg, sizeof(db->errmsg), msg);
	db->detail[0] = db->hint[0] = '\0';
}

enum db_err
db_classify(const char *sqlstate, bool connected)
{
	if (!connected || (sqlstate && (strncmp(sqlstate, "08", 2) == 0 ||
	    strncmp(sqlstate, "57P", 3) == 0)))
		return DB_ERR_UNAVAILABLE;
	return DB_ERR_QUERY;
}

const char *
db_error_text(const struct db *db, char *buf, size_t bufsz)
{
	if (db->err == DB_OK) {
		snprintf(buf, bufsz, "no database error recorded");
		return buf;
	}
	snprintf(buf, bufsz, "sqlstate %s: %s%s%s%s%s",
	    db->sqlstate[0] ? db->sqlstate : "?",
	    db->errmsg[0] ? db->errmsg : "no message",
	    db->detail[0] ? "; detail: " : "", db->detail,
	    db->hint[0] ? "; hint: " : "", db->hint);
	return buf;
}

/*
 * The one error classifier: a statement (res, which may be NULL) failed.
 * A broken connection or a server going away (SQLSTATE class 08, 57P) is
 * DB_ERR_UNAVAILABLE and the connection is dropped; anything else is
 * DB_ERR_QUERY. Keeps SQLSTATE, primary message, detail and hint, and
 * logs them at warn.
 */
void
db_fail_result(struct db *db, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) :
	    NULL;
	const char *primary = res ? PQresultErrorField(res,
	    PG_DIAG_MESSAGE_PRIMARY) : NULL;
	bool gone = db_classify(state, db->conn != NULL &&
	    PQstatus(db->conn) == CONNECTION_OK) == DB_ERR_UNAVAILABLE;
	char why[1024];

	db_fail(db, gone ? DB_ERR_UNAVAILABLE : DB_ERR_QUERY, state,
	    primary ? primary : db->conn ? PQerrorMessage(db->conn) :
	    "no connection");
	if (res) {
		copy_field(db->detail, sizeof(db->detail),
		    PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL));
		copy_field(db->hint, sizeof(db->hint),
		    PQresultErrorField(res, PG_DIAG_MESSAGE_HINT));
	}
	log_warn("%s: %s", gone ? "database connection lost" :
	    "statement failed", db_error_text(db, why, sizeof(why)));
	db->stream = DB_STREAM_NONE;
	if (gone)
		db_disconnect(db);
}

/* Server notices (warnings, the FATAL before a disconnect) go to the log. */
static void
db_notice(void *arg, const char *msg)
{
	size_t n = strlen(msg);

	(void)arg;
	while (n > 0 && msg[n - 1] == '\n')
		n--;
	log_warn("database notice: %.*s", (int)n, msg);
}

/*
 * Connect as db says: "dbname" with expand_dbname=1 takes the whole URL;
 * the keys after it override what the URL says. No "options": session
 * settings come from the role (ALTER ROLE ... SET, see docs/database.md),
 * the same direct and behind PgBouncer, which does not pass them on.
 */
static PGconn *
db_connect(const struct db *db, bool nonblocking)
{
	char timeout[16];
	const char *keys[] = { "dbname", "connect_timeout", "application_name",
	    "user", NULL };
	const char *vals[5];

	snprintf(timeout, sizeof(timeout), "%d", db->connect_timeout);
	vals[0] = db->url;
	vals[1] = timeout;
	vals[2] = db->appname;
	vals[3] = db->role[0] ? db->role : NULL;
	vals[4] = NULL;
	return nonblocking ? PQconnectStartParams(keys, vals, 1) :
	    PQconnectdbParams(keys, vals, 1);
}

PGconn *
db_connect_start(struct db *db)
{
	PGconn *conn;

	if (db->url == NULL) {
		db_fail(db, DB_ERR_UNAVAILABLE, NULL, "no database url");
		return NULL;
	}
	if ((conn = db_connect(db, true)) == NULL ||
	    PQstatus(conn) == CONNECTION_BAD) {
		db_fail(db, DB_ERR_UNAVAILABLE, NULL,
		    conn ? PQerrorMessage(conn) : "out of memory");
		log_warn("database connection failed: %s", db->errmsg);
		if (conn)
			PQfinish(conn);
		return NULL;
	}
	return conn;
}

void
db_connected(struct db *db, PGconn *conn)
{
	db->conn = conn;
	PQsetNoticeProcessor(db->conn, db_notice, NULL);
	db->nprepared = 0;	/* a new session knows no statement */
	db->err = DB_OK;
}

int
db_ensure(struct db *db)
{
	PGconn *conn;

	if (db->conn && PQstatus(db->conn) == CONNECTION_OK)
		return 0;
	if (db->conn) {
		PQfinish(db->conn);
		db->conn = NULL;
	}
	if (db->url == NULL) {
		db_fail(db, DB_ERR_UNAVAILABLE, NULL, "no database url");
		return -1;
	}
	conn = db_connect(db, false);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
		db_fail(db, DB_ERR_UNAVAILABLE, NULL,
		    conn ? PQerrorMessage(conn) : "out of memory");
		log_warn("database connection failed: %s", db->errmsg);
		if (conn)
			PQfinish(conn);
		return -1;
	}
	db_connected(db, conn);
	return 0;
}

PGresult *
db_query_bin(struct db *db, const char *sql, int nparams,
    const char *const *params, const int *lengths, const int *formats,
    int result_binary)
{
	ExecStatusType st;
	PGresult *res;

	if (db_ensure(db) != 0)
		return NULL;
	res = PQexecParams(db->conn, sql, nparams, NULL, params, lengths,
	    formats, result_binary);
	st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		db->err = DB_OK;
		return res;
	}
	db_fail_result(db, res);
	PQclear(res);
	return NULL;
}

PGresult *
db_query(struct db *db, const char *sql, int nparams, const char *const *params)
{
	return db_query_bin(db, sql, nparams, params, NULL, NULL, 0);
}

/* Is st prepared on this connection? */
static bool
stmt_prepared(const struct db *db, const struct db_stmt *st)
{
	for (int i = 0; i < db->nprepared; i++)
		if (db->prepared[i] == st)
			return true;
	return false;
}

/* Prepare st on this connection: 0, or -1 (classified and logged). */
static int
stmt_prepare(struct db *db, const struct db_stmt *st)
{
	PGresult *res = PQprepare(db->conn, st->name, st->sql, st->nparams,
	    NULL);

	if (res && PQresultStatus(res) == PGRES_COMMAND_OK) {
		PQclear(res);
		db->prepared[db->nprepared++] = st;
		return 0;
	}
	db_fail_result(db, res);
	PQclear(res);
	return -1;
}

PGresult *
db_query_stmt(struct db *db, const struct db_stmt *st,
    const char *const *params)
{
	ExecStatusType es;
	const char *state;
	PGresult *res;

	if (!db->prepare || (!stmt_prepared(db, st) &&
	    db->nprepared == DB_MAX_PREPARED))
		return db_query(db, st->sql, st->nparams, params);
	for (int attempt = 0; ; attempt++) {
		if (db_ensure(db) != 0)
			return NULL;
		if (!stmt_prepared(db, st) && stmt_prepare(db, st) != 0)
			return NULL;
		res = PQexecPrepared(db->conn, st->name, st->nparams, params,
		    NULL, NULL, 0);
		es = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
		if (es == PGRES_TUPLES_OK || es == PGRES_COMMAND_OK) {
			db->err = DB_OK;
			return res;
		}
		state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		if (attempt == 0 && state && strcmp(state, "26000") == 0 &&
		    PQtransactionStatus(db->conn) == PQTRANS_IDLE) {
			/* the session lost it: prepare again, once */
			PQclear(res);
			db->nprepared = 0;
			continue;
		}
		db_fail_result(db, res);
		PQclear(res);
		return NULL;
	}
}

int
db_exec(struct db *db, const char *sql, int nparams, const char *const *params)
{
	PGresult *res = db_query(db, sql, nparams, params);

	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

long long
db_exec_rows(struct db *db, const char *sql, int nparams,
    const char *const *params)
{
	PGresult *res = db_query(db, sql, nparams, params);
	const char *s;
	long long n;

	if (res == NULL)
		return -1;
	s = PQcmdTuples(res);
	n = *s ? strtoll(s, NULL, 10) : 0;
	PQclear(res);
	return n;
}

int
db_exec_script(struct db *db, const char *sql)
{
	PGresult *res;

	if (db_ensure(db) != 0)
		return -1;
	res = PQexec(db->conn, sql);
	if (res && (PQresultStatus(res) == PGRES_COMMAND_OK ||
	    PQresultStatus(res) == PGRES_TUPLES_OK)) {
		PQclear(res);
		return 0;
	}
	db_fail_result(db, res);
	PQclear(res);
	return -1;
}

/* Drain what is left of the current command's results. */
static void
drain(struct db *db)
{
	PGresult *res;

	while (db->conn && (res = PQgetResult(db->conn)) != NULL)
		PQclear(res);
}

int
db_stream_begin(struct db *db, const char *sql, int nparams,
    const char *const *params, int binary)
{
	if (db_ensure(db) != 0)
		return -1;
	if (!PQsendQueryParams(db->conn, sql, nparams, NULL, params, NULL, NULL,
	    binary) || !PQsetSingleRowMode(db->conn)) {
		db_fail_result(db, NULL);
		drain(db);
		return -1;
	}
	db->stream = DB_STREAM_ROWS;
	return 0;
}

int
db_stream_next(struct db *db, PGresult **row)
{
	ExecStatusType st;
	PGresult *res;

	*row = NULL;
	if (db->stream != DB_STREAM_ROWS)
		return 0;
	res = PQgetResult(db->conn);
	st = res ? PQresultStatus(res) : PGRES_TUPLES_OK;
	if (st == PGRES_SINGLE_TUPLE) {
		*row = res;
		return 1;
	}
	if (st == PGRES_TUPLES_OK) {
		/* the end: collect the final NULL result */
		PQclear(res);
		drain(db);
		db->stream = DB_STREAM_NONE;
		db->err = DB_OK;
		return 0;
	}
	db_fail_result(db, res);
	PQclear(res);
	drain(db);
	return -1;
}

int
db_copy_out_begin(struct db *db, const char *sql)
{
	PGresult *res;

	if (db_ensure(db) != 0)
		return -1;
	if (!PQsendQuery(db->conn, sql)) {
		db_fail_result(db, NULL);
		return -1;
	}
	res = PQgetResult(db->conn);
	if (res == NULL || PQresultStatus(res) != PGRES_COPY_OUT) {
		db_fail_result(db, res);
		PQclear(res);
		drain(db);
		return -1;
	}
	PQclear(res);
	db->stream = DB_STREAM_COPY;
	return 0;
}

int
db_copy_out_next(struct db *db, char **line)
{
	PGresult *res;
	int len;
	bool ok;

	*line = NULL;
	if (db->stream != DB_STREAM_COPY)
		return 0;
	if ((len = PQgetCopyData(db->conn, line, 0)) > 0)
		return len;
	if (len == -2) {
		db_fail_result(db, NULL);
		return -1;
	}
	/* -1: COPY done; its final result says whether it succeeded */
	res = PQgetResult(db->conn);
	ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		db_fail_result(db, res);
	PQclear(res);
	drain(db);
	db->stream = DB_STREAM_NONE;
	if (!ok)
		return -1;
	db->err = DB_OK;
	return 0;
}

void
db_stream_cancel(struct db *db)
{
	PGcancel *cancel;
	char err[256];
	bool rows = db->stream == DB_STREAM_ROWS;

	if (db->stream == DB_STREAM_NONE)
		return;
	db->stream = DB_STREAM_NONE;
	if (db->conn == NULL || !rows) {
		/* a connection left inside COPY cannot be reused: drop it */
		db_disconnect(db);
		return;
	}
	cancel = PQgetCancel(db->conn);
	if (cancel == NULL || !PQcancel(cancel, err, sizeof(err)))
		db_disconnect(db);
	else
		drain(db);
	PQfreeCancel(cancel);
}

void
db_disconnect(struct db *db)
{
	if (db->conn)
		PQfinish(db->conn);
	db->conn = NULL;
	db->stream = DB_STREAM_NONE;
}

int
db_begin(struct db *db)
{
	return db_exec(db, "BEGIN", 0, NULL);
}

int
db_commit(struct db *db)
{
	return db_exec(db, "COMMIT", 0, NULL);
}

void
db_rollback(struct db *db)
{
	PGresult *res;

	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK)
		return;
	if (PQtransactionStatus(db->conn) == PQTRANS_IDLE)
		return;
	res = PQexec(db->conn, "ROLLBACK");
	PQclear(res);
}

bool
db_failed_with(const struct db *db, const char *sqlstate)
{
	return strcmp(db->sqlstate, sqlstate) == 0;
}
