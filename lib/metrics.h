/*
 * metrics: the operator's numbers, read from the database so that every
 * responder (and every job binary's textfile) answers the same.
 *
 * metrics_status_json() is the body of GET /api/ops/status;
 * metrics_prometheus() appends the Prometheus text exposition (format
 * 0.0.4) of GET /metrics.
 */
#ifndef OPS_METRICS_H
#define OPS_METRICS_H

#include <jansson.h>

#include "buf.h"
#include "config.h"
#include "db.h"

/*
 * The body of GET /api/ops/status: checked_at, database {ok, latency_ms,
 * server_version}, exports {by_state (all five states), oldest_pending_age_
 * seconds, spool_bytes}, scheduler {heartbeat_seconds, stale_after_seconds,
 * lease_seconds, locks [API view, as GET /api/ops/scheduler/locks]}, jobs
 * [{job, last_run, last_success, last_failure, last_duration_seconds,
 * hosts}] read from job_run. Everything is read in one REPEATABLE READ
 * snapshot. New reference, or NULL when the database failed (db->err).
 */
json_t	*metrics_status_json(struct db *db, const struct ops_config *cfg);

/*
 * Append the exposition to out: ops_database_up, ops_export_*,
 * ops_scheduler_lock_*, ops_job_* (docs/ops/locks.md lists them). When the
 * database failed, out holds only "ops_database_up 0" and -1 is returned;
 * the caller still answers 200 with it, so that Prometheus sees the outage
 * as a value rather than a failed scrape.
 */
int	 metrics_prometheus(struct db *db, const struct ops_config *cfg,
	    struct buf *out);

/*
 * Append the download spool's numbers, read on this host (not from the
 * database): ops_download_spool_up (1 when statvfs(dir) worked), and then
 * ops_download_spool_free_bytes (available to unprivileged users, as nginx's
 * workers are) and ops_download_spool_size_bytes. dir is
 * export.download_spool_dir, nginx's fastcgi_temp_path for downloads.
 */
void	 metrics_download_spool(const char *dir, struct buf *out);

/*
 * Append v as a label value of the text format: backslash, double quote and
 * line feed escaped as \\, \" and \n; everything else (UTF-8) as is.
 */
void	 metrics_label_value(struct buf *out, const char *v);

#endif
