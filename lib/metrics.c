#include "metrics.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

json_t *
metrics_status_json(struct db *db, const struct ops_config *cfg)
{
	double t0 = now_seconds();
	PGresult *res;
	json_t *out;

	(void)cfg;
	res = db_query(db, "SELECT current_setting('server_version'), "
	    "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
	    0, NULL);
	if (res == NULL)
		return NULL;
	out = json_pack("{s:{s:b, s:s, s:f}, s:s}",
	    "database", "ok", 1, "server_version", PQgetvalue(res, 0, 0),
	    "latency_ms", (now_seconds() - t0) * 1000.0,
	    "checked_at", PQgetvalue(res, 0, 1));
	PQclear(res);
	return out;
}

int
metrics_prometheus(struct db *db, const struct ops_config *cfg,
    struct buf *out)
{
	(void)cfg;
	if (db_exec(db, "SELECT 1", 0, NULL) != 0)
		return -1;
	buf_appends(out, "# HELP ops_database_up Whether the responder reached "
	    "the database.\n# TYPE ops_database_up gauge\nops_database_up 1\n");
	return 0;
}
