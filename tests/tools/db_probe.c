/*
 * db_probe: drives lib/db.c against a real PostgreSQL for
 * tests/integration/db.sh (a test driver, built into build/tools/, never
 * installed).
 *
 *   db_probe URL CASE
 *
 * Cases (each prints one result line on stdout; lib/db.c logs on stderr):
 *   error       a statement failing with detail and hint: prints
 *               "err=<class> sqlstate=<s> msg=<m> detail=<d> hint=<h>"
 *   stream      streams 5 rows, stops after 2 (db_stream_cancel), then
 *               runs a query on the same struct db: "rows=2 after=ok"
 *   stream-all  streams every row of 1000: "rows=1000 end=0"
 *   copy        COPY of 3 lines: "lines=3 end=0 text=1|2|3|"
 *   copy-error  a COPY that fails mid-stream (division by zero on row 3):
 *               "lines=2 end=-1 sqlstate=22012"
 *   gone        the server ends the session (pg_terminate_backend of
 *               itself): "err=unavailable" then reconnects: "after=ok"
 * Exit 0, or 2 on bad usage.
 */
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "log.h"

static const char *
class_name(enum db_err e)
{
	return e == DB_OK ? "ok" : e == DB_ERR_UNAVAILABLE ? "unavailable" :
	    "query";
}

static const char *
after(struct db *db)
{
	PGresult *res = db_query(db, "SELECT 42", 0, NULL);
	const char *r = res && strcmp(PQgetvalue(res, 0, 0), "42") == 0 ?
	    "ok" : "failed";

	PQclear(res);
	return r;
}

int
main(int argc, char **argv)
{
	struct db db;
	PGresult *row;
	char *line;
	int n = 0, rc, len;

	if (argc != 3) {
		fprintf(stderr, "usage: db_probe URL CASE\n");
		return 2;
	}
	log_init("db_probe", LOG_INFO, LOG_FORMAT_JSON);
	db_init(&db, argv[1], NULL, 5, "db_probe");
	if (strcmp(argv[2], "error") == 0) {
		rc = db_exec(&db, "DO $$ BEGIN RAISE EXCEPTION 'boom' USING "
		    "DETAIL = 'the detail', HINT = 'the hint', ERRCODE = "
		    "'P0001'; END $$", 0, NULL);
		printf("rc=%d err=%s sqlstate=%s msg=%s detail=%s hint=%s\n",
		    rc, class_name(db.err), db.sqlstate, db.errmsg, db.detail,
		    db.hint);
	} else if (strcmp(argv[2], "stream") == 0 ||
	    strcmp(argv[2], "stream-all") == 0) {
		bool all = strcmp(argv[2], "stream-all") == 0;

		if (db_stream_begin(&db, "SELECT g FROM generate_series(1, "
		    "$1::int) g", 1, (const char *[]){ all ? "1000" : "5" },
		    0) != 0)
			return printf("begin failed\n"), 0;
		while ((rc = db_stream_next(&db, &row)) == 1) {
			n++;
			PQclear(row);
			if (!all && n == 2)
				break;
		}
		if (all) {
			printf("rows=%d end=%d\n", n, rc);
		} else {
			db_stream_cancel(&db);
			printf("rows=%d after=%s\n", n, after(&db));
		}
	} else if (strcmp(argv[2], "copy") == 0 ||
	    strcmp(argv[2], "copy-error") == 0) {
		bool bad = strcmp(argv[2], "copy-error") == 0;
		char text[64] = "";

		if (db_copy_out_begin(&db, bad ? "COPY (SELECT 1 / (3 - g) "
		    "FROM generate_series(1, 5) g) TO STDOUT" : "COPY (SELECT "
		    "g FROM generate_series(1, 3) g) TO STDOUT") != 0)
			return printf("begin failed\n"), 0;
		while ((len = db_copy_out_next(&db, &line)) > 0) {
			n++;
			if (strlen(text) + (size_t)len < sizeof(text) - 1)
				snprintf(text + strlen(text), sizeof(text) -
				    strlen(text), "%.*s|", len - 1, line);
			PQfreemem(line);
		}
		if (bad)
			printf("lines=%d end=%d sqlstate=%s after=%s\n", n, len,
			    db.sqlstate, after(&db));
		else
			printf("lines=%d end=%d text=%s\n", n, len, text);
	} else if (strcmp(argv[2], "gone") == 0) {
		rc = db_exec(&db, "SELECT pg_terminate_backend(pg_backend_pid())",
		    0, NULL);
		printf("rc=%d err=%s ", rc, class_name(db.err));
		printf("after=%s\n", after(&db));
	} else {
		fprintf(stderr, "db_probe: unknown case %s\n", argv[2]);
		return 2;
	}
	db_close(&db);
	return 0;
}
