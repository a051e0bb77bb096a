/*
 * db: one PostgreSQL connection, owned by one thread.
 *
 * ops-fcgi keeps one struct db per worker thread; job binaries keep one (or
 * two: the export runner heartbeats on its own connection). The connection is
 * opened lazily and re-opened after the server went away: db_ensure() is
 * cheap when the connection is healthy and tries one reconnect when it is
 * not, bounded by connect_timeout.
 *
 * Queries are parameterized only (PQexecParams); there is no call that takes
 * SQL built from input. A failed call returns NULL/-1, logs the server's
 * message (never the URL) and records in db->err which class of failure it
 * was, so that HTTP handlers map it to DB_UNAVAILABLE (503) or INTERNAL_ERROR
 * (500), and job binaries to their exit status.
 */
#ifndef OPS_DB_H
#define OPS_DB_H

#include <libpq-fe.h>
#include <stdbool.h>

enum db_err {
	DB_OK = 0,
	DB_ERR_UNAVAILABLE,	/* cannot connect, or the connection broke */
	DB_ERR_QUERY		/* the server refused the statement */
};

struct db {
	PGconn		*conn;
	char		*url;		/* owned; secret: never log */
	/*
	 * The database role to connect as (libpq "user", overriding the
	 * URL's), or "" for the URL's. Its statement_timeout,
	 * idle_in_transaction_session_timeout and TimeZone come from the role
	 * (ALTER ROLE ... SET by `opsctl migrate`), never from the startup
	 * packet, so they hold behind PgBouncer too.
	 */
	char		 role[64];
	int		 connect_timeout;
	char		 appname[64];
	enum db_err	 err;		/* class of the last failure */
	char		 sqlstate[6];	/* of the last failure, or "" */
	char		 errmsg[256];	/* server's primary message, or "" */
};

/*
 * Prepare db (no connection yet). url and role are copied; role may be NULL
 * or "" (connect as the URL's user). appname is reported to the server as
 * application_name. Never fails.
 */
void	db_init(struct db *db, const char *url, const char *role,
	    int connect_timeout, const char *appname);
/* Close the connection and free what db owns. */
void	db_close(struct db *db);

/*
 * Make sure a healthy connection exists, reconnecting if needed. Returns 0,
 * or -1 with db->err = DB_ERR_UNAVAILABLE.
 */
int	db_ensure(struct db *db);

/*
 * Run one statement with text parameters (NULL entries are SQL NULL).
 * Returns the result (caller PQclear()s it) when the statement succeeded
 * (PGRES_TUPLES_OK or PGRES_COMMAND_OK), otherwise NULL with db->err set.
 */
PGresult *db_query(struct db *db, const char *sql, int nparams,
	    const char *const *params);
/* The same for statements whose result is not needed. 0 or -1. */
int	db_exec(struct db *db, const char *sql, int nparams,
	    const char *const *params);
/*
 * Variant with explicit lengths and formats, for binary parameters (bytea).
 * lengths/formats may be NULL (all text).
 */
PGresult *db_query_bin(struct db *db, const char *sql, int nparams,
	    const char *const *params, const int *lengths, const int *formats);

/*
 * Run a trusted multi-statement SQL script (a migration file shipped with
 * the product) with the simple query protocol. Never pass input here.
 * 0 or -1 with db->err set.
 */
int	db_exec_script(struct db *db, const char *sql);

/* Transactions. db_rollback() is safe to call in any state. */
int	db_begin(struct db *db);
int	db_commit(struct db *db);
void	db_rollback(struct db *db);

/* The last failure was this SQLSTATE (e.g. "23505"). */
bool	db_failed_with(const struct db *db, const char *sqlstate);

/*
 * SQL for a timestamptz column as RFC 3339 UTC text, with the fraction only
 * when it is not zero ("2026-11-26T09:30:00Z", "...:00.51Z"). The session
 * time zone does not matter.
 */
#define DB_SQL_RFC3339(col) \
	"regexp_replace(to_char((" col ") AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '\\.?0+Z$', 'Z')"

/*
 * The URL with any password replaced by "***", for messages. Returns a
 * malloc'd string (caller frees).
 */
char	*db_url_redacted(const char *url);

#endif
