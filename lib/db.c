#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"

void
db_init(struct db *db, const char *url, const char *role, int connect_timeout,
    const char *appname)
{
	memset(db, 0, sizeof(*db));
	if (url && (db->url = strdup(url)) == NULL)
		abort();
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
db_fail(struct db *db, enum db_err err, const char *sqlstate, const char *msg)
{
	size_t n;

	db->err = err;
	snprintf(db->sqlstate, sizeof(db->sqlstate), "%s",
	    sqlstate ? sqlstate : "");
	snprintf(db->errmsg, sizeof(db->errmsg), "%s", msg ? msg : "");
	n = strlen(db->errmsg);
	while (n > 0 && (db->errmsg[n - 1] == '\n' || db->errmsg[n - 1] == ' '))
		db->errmsg[--n] = '\0';
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

int
db_ensure(struct db *db)
{
	char timeout[16];
	const char *keys[] = { "dbname", "connect_timeout", "application_name",
	    "user", NULL };
	const char *vals[5];

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
	/*
	 * "dbname" with expand_dbname=1 takes the whole URL; the keys after it
	 * override what the URL says. No "options": session settings come
	 * from the role (ALTER ROLE ... SET, see docs/database.md), the same
	 * direct and behind PgBouncer, which does not pass them on.
	 */
	snprintf(timeout, sizeof(timeout), "%d", db->connect_timeout);
	vals[0] = db->url;
	vals[1] = timeout;
	vals[2] = db->appname;
	vals[3] = db->role[0] ? db->role : NULL;
	vals[4] = NULL;
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		db_fail(db, DB_ERR_UNAVAILABLE, NULL,
		    db->conn ? PQerrorMessage(db->conn) : "out of memory");
		log_warn("database connection failed: %s", db->errmsg);
		if (db->conn)
			PQfinish(db->conn);
		db->conn = NULL;
		return -1;
	}
	PQsetNoticeProcessor(db->conn, db_notice, NULL);
	db->err = DB_OK;
	return 0;
}

PGresult *
db_query_bin(struct db *db, const char *sql, int nparams,
    const char *const *params, const int *lengths, const int *formats)
{
	ExecStatusType st;
	PGresult *res;
	const char *state;

	if (db_ensure(db) != 0)
		return NULL;
	res = PQexecParams(db->conn, sql, nparams, NULL, params, lengths,
	    formats, 0);
	st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		db->err = DB_OK;
		return res;
	}
	state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (PQstatus(db->conn) != CONNECTION_OK ||
	    (state && (strncmp(state, "08", 2) == 0 ||
	    strncmp(state, "57P", 3) == 0))) {
		db_fail(db, DB_ERR_UNAVAILABLE, state,
		    PQerrorMessage(db->conn));
		log_warn("database connection lost: %s", db->errmsg);
		PQfinish(db->conn);
		db->conn = NULL;
	} else {
		db_fail(db, DB_ERR_QUERY, state,
		    res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) :
		    PQerrorMessage(db->conn));
		/* expected refusals (constraint, trigger) are logged by callers */
		log_debug("statement failed: sqlstate %s: %s", db->sqlstate,
		    db->errmsg);
	}
	PQclear(res);
	return NULL;
}

PGresult *
db_query(struct db *db, const char *sql, int nparams, const char *const *params)
{
	return db_query_bin(db, sql, nparams, params, NULL, NULL);
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

int
db_exec_script(struct db *db, const char *sql)
{
	PGresult *res;

	if (db_ensure(db) != 0)
		return -1;
	res = PQexec(db->conn, sql);
	if (res && PQresultStatus(res) == PGRES_COMMAND_OK) {
		PQclear(res);
		return 0;
	}
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK) {
		PQclear(res);
		return 0;
	}
	db_fail(db, PQstatus(db->conn) == CONNECTION_OK ? DB_ERR_QUERY :
	    DB_ERR_UNAVAILABLE, res ? PQresultErrorField(res,
	    PG_DIAG_SQLSTATE) : NULL, res ? PQresultErrorField(res,
	    PG_DIAG_MESSAGE_PRIMARY) : PQerrorMessage(db->conn));
	PQclear(res);
	return -1;
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

char *
db_url_redacted(const char *url)
{
	struct buf b = BUF_INIT;
	const char *scheme, *at, *colon;

	/* postgresql://user:password@host/db -> postgresql://user:***@host/db */
	scheme = strstr(url, "://");
	at = scheme ? strchr(scheme + 3, '@') : NULL;
	colon = scheme ? strchr(scheme + 3, ':') : NULL;
	if (scheme && at && colon && colon < at) {
		buf_append(&b, url, (size_t)(colon - url) + 1);
		buf_appends(&b, "***");
		buf_appends(&b, at);
	} else {
		buf_appends(&b, url);
	}
	/* a password=... query parameter */
	{
		char *p = strstr(b.data, "password=");

		if (p) {
			char *end = strchr(p, '&');
			struct buf r = BUF_INIT;

			buf_append(&r, b.data, (size_t)(p - b.data));
			buf_appends(&r, "password=***");
			if (end)
				buf_appends(&r, end);
			buf_free(&b);
			b = r;
		}
	}
	return buf_detach(&b, NULL);
}
