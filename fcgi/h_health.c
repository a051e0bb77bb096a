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

void
h_healthz(struct request *r)
{
	resp_json(r, 200, json_pack("{s:s}", "status", "ok"), NULL);
}

void
h_readyz(struct request *r)
{
	if (db_exec(r->db, "SELECT 1", 0, NULL) != 0) {
		resp_db_error(r);
		return;
	}
	resp_json(r, 200, json_pack("{s:s, s:s}", "status", "ready",
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

void
h_metrics(struct request *r)
{
	struct buf out = BUF_INIT;

	/* on a database failure the body says ops_database_up 0: still 200 */
	(void)metrics_prometheus(r->db, r->app->cfg, &out);
	/* host-local, answered whatever the database's state */
	metrics_download_spool(r->app->cfg->export.download_spool_dir, &out);
	resp_text(r, 200, "text/plain; version=0.0.4; charset=utf-8",
	    buf_str(&out), out.len);
	buf_free(&out);
}
