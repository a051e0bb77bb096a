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
 * SQL built from input. Every call of this module, one-shot, streaming or
 * COPY, reports failure the same way (one classifier): it returns NULL/-1,
 * records in db->err which class of failure it was (so that HTTP handlers
 * map it to DB_UNAVAILABLE (503) or INTERNAL_ERROR (500), and job binaries
 * to their exit status), keeps PostgreSQL's SQLSTATE, primary message,
 * detail and hint in db, and logs them at warn level (never the URL):
 *
 *   statement failed: sqlstate 23505: duplicate key value violates ...;
 *   detail: Key (id)=(...) already exists.; hint: ...
 */
#ifndef OPS_DB_H
#define OPS_DB_H

#include <libpq-fe.h>
#include <stdbool.h>

/* how many different statements one connection keeps prepared */
#define DB_MAX_PREPARED	16

/*
 * A hot statement (a poll, a list): define it once, static const, and run
 * it with db_query_stmt(). name must be unique in the program; it is the
 * server-side name of the prepared statement.
 */
struct db_stmt {
	const char	*name;
	const char	*sql;
	int		 nparams;
};

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
	char		 detail[256];	/* server's DETAIL, or "" */
	char		 hint[256];	/* server's HINT, or "" */
	/* inside db_stream_next() or db_copy_out_next() calls, or not */
	enum { DB_STREAM_NONE = 0, DB_STREAM_ROWS, DB_STREAM_COPY } stream;
	/*
	 * database.prepared_statements: db_query_stmt() prepares each
	 * statement once per connection (true), or sends it unnamed every
	 * time (false: for a pooler in transaction mode that cannot hold
	 * prepared statements, PgBouncer before 1.21). db_init() sets false;
	 * the binary sets it from its config.
	 */
	bool		 prepare;
	/* the statements prepared on this connection (reset on reconnect) */
	const struct db_stmt *prepared[DB_MAX_PREPARED];
	int		 nprepared;
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
 * The same, returning the rows the command touched (PQcmdTuples; 0 for a
 * command that reports none), or -1 with db->err set. The one reading of
 * "rows affected".
 */
long long db_exec_rows(struct db *db, const char *sql, int nparams,
	    const char *const *params);
/*
 * Variant with explicit lengths and formats, for binary parameters (bytea),
 * and binary results when result_binary is 1 (integers in network byte
 * order, bytea as its bytes). lengths/formats may be NULL (all text).
 */
PGresult *db_query_bin(struct db *db, const char *sql, int nparams,
	    const char *const *params, const int *lengths, const int *formats,
	    int result_binary);

/*
 * Run st like db_query(). With db->prepare it is prepared on the first use
 * on each connection and then only executed (no parse, no plan per call);
 * a statement the server no longer knows (SQLSTATE 26000: a pooler moved
 * the session, DISCARD ALL) is prepared again once. Without db->prepare,
 * or when DB_MAX_PREPARED statements are prepared already, it is sent as
 * an unnamed statement, exactly as db_query() does.
 */
PGresult *db_query_stmt(struct db *db, const struct db_stmt *st,
	    const char *const *params);

/*
 * Run a trusted multi-statement SQL script (a migration file shipped with
 * the product) with the simple query protocol. Never pass input here.
 * 0 or -1 with db->err set.
 */
int	db_exec_script(struct db *db, const char *sql);

/*
 * Streaming: run one statement in single-row mode, so the server sends the
 * next row while the caller still works on the current one, and the client
 * holds one row at a time. binary: results in binary format (1) or text
 * (0). Returns 0, or -1 (classified and logged as above).
 */
int	db_stream_begin(struct db *db, const char *sql, int nparams,
	    const char *const *params, int binary);
/*
 * The next row: 1 with *row (one tuple; PQclear() it), 0 at the end (the
 * connection is ready for the next statement), -1 on failure.
 */
int	db_stream_next(struct db *db, PGresult **row);

/*
 * COPY ... TO STDOUT of a trusted statement (no input in sql: COPY takes
 * no parameters; filter through session settings or a temporary table).
 * Returns 0 or -1.
 */
int	db_copy_out_begin(struct db *db, const char *sql);
/*
 * The next COPY line: its length (> 0) with *line (not NUL-terminated;
 * PQfreemem() it), 0 at the end (COPY finished and succeeded), -1 on
 * failure.
 */
int	db_copy_out_next(struct db *db, char **line);

/*
 * Stop a stream or COPY early (a client gone, a Range served, a limit hit)
 * so that the connection is usable again: cancel the rest on the server,
 * or, when that fails, drop the connection (the next call reconnects).
 * Safe to call when nothing is streaming.
 */
void	db_stream_cancel(struct db *db);

/* Drop the connection (the next call reconnects); db keeps its settings. */
void	db_disconnect(struct db *db);

/*
 * For a caller that drives its own connection without blocking (the poll
 * lane in ops-fcgi): db_connect_start() begins connecting as db_ensure()
 * would (PQconnectStartParams; the caller polls it with PQconnectPoll()
 * and owns it), NULL with db->err set when it cannot even start;
 * db_connected() hands db the connection once PQconnectPoll() said
 * PGRES_POLLING_OK; db_fail_result() is the classifier every call of this
 * module uses, for a result (NULL: none came) of a statement that failed:
 * it records and logs the failure, and drops the connection when it is
 * gone (DB_ERR_UNAVAILABLE).
 */
PGconn	*db_connect_start(struct db *db);
void	db_connected(struct db *db, PGconn *conn);
void	db_fail_result(struct db *db, const PGresult *res);

/* Transactions. db_rollback() is safe to call in any state. */
int	db_begin(struct db *db);
int	db_commit(struct db *db);
void	db_rollback(struct db *db);

/* The last failure was this SQLSTATE (e.g. "23505"). */
bool	db_failed_with(const struct db *db, const char *sqlstate);

/*
 * The classifier's rule: a failed statement is DB_ERR_UNAVAILABLE when the
 * connection is not up or its SQLSTATE is of class 08 (connection
 * exception) or 57P (operator intervention: shutdown, crash), else
 * DB_ERR_QUERY. sqlstate may be NULL (none came back).
 */
enum db_err db_classify(const char *sqlstate, bool connected);

/*
 * The cause of db's last failure in one line, as the log says it:
 * "sqlstate 42501: permission denied for table ops_event; detail: ...;
 * hint: ..." ("sqlstate ?" when the server sent none: a broken
 * connection; "no database error recorded" after a success). Into buf;
 * returns buf. For job_run rows and messages that must keep the cause.
 */
const char *db_error_text(const struct db *db, char *buf, size_t bufsz);

/*
 * SQL for a timestamptz column as RFC 3339 UTC text, with the fraction only
 * when it is not zero ("2026-11-26T09:30:00Z", "...:00.51Z"). The session
 * time zone does not matter.
 */
#define DB_SQL_RFC3339(col) \
	"regexp_replace(to_char((" col ") AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '\\.?0+Z$', 'Z')"

#endif
