/*
 * Health, readiness, status and metrics handlers. They stay thin: the
 * numbers come from lib/metrics (read from the database, so that every
 * responder answers the same).
 */
#include <string.h>
#include <time.h>

#include "buf.h"
#include "errors.h"
#include "metrics.h"
#include "routes.h"
#include "xjson.h"

void
h_healthz(struct request *r)
{
	resp_json(r, 200, xjson_pack("{s:s}", "status", "ok"), NULL);
}

void
h_readyz(struct request *r)
{
	if (db_exec(r->db, "SELECT 1", 0, NULL) != 0) {
		resp_db_error(r);
		return;
	}
	resp_json(r, 200, xjson_pack("{s:s, s:s}", "status", "ready",
	    "database", "ok"), NULL);
}

void
h_status(struct request *r)
{
	json_t *status;

	if (request_auth(r, CAP_OPS_STATUS) != 0)
		return;
	if ((status = metrics_status_json(r->db, r->app->cfg)) == NULL) {
		resp_db_error(r);
		return;
	}
	resp_json(r, 200, status, NULL);
}

/* The JWT keys' state (issue 20: a JWKS outage must be visible). */
static void
jwks_metrics(struct request *r, struct buf *out)
{
	long long age;
	int usable = jwks_status(r->app->keys, time(NULL), &age);

	if (usable < 0)
		return;
	buf_appendf(out, "# HELP ops_jwt_keys_usable Whether the responder has "
	    "JWT verification keys it may trust (0: bearer tokens answer "
	    "503).\n# TYPE ops_jwt_keys_usable gauge\nops_jwt_keys_usable "
	    "%d\n", usable);
	buf_appendf(out, "# HELP ops_jwt_keys_age_seconds Seconds since the "
	    "JWT keys in use were fetched (-1: none).\n# TYPE "
	    "ops_jwt_keys_age_seconds gauge\nops_jwt_keys_age_seconds %lld\n",
	    age);
}

void
h_metrics(struct request *r)
{
	struct buf out = BUF_INIT;

	/* on a database failure the body says ops_database_up 0: still 200 */
	(void)metrics_prometheus(r->db, r->app->cfg, &out);
	jwks_metrics(r, &out);
	/* host-local, answered whatever the database's state */
	metrics_download_spool(r->app->cfg->export.download_spool_dir, &out);
	resp_text(r, 200, "text/plain; version=0.0.4; charset=utf-8",
	    buf_str(&out), out.len);
	buf_free(&out);
}
