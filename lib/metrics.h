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

/* New reference, or NULL when the database failed (db->err says how). */
json_t	*metrics_status_json(struct db *db, const struct ops_config *cfg);

/* Append the exposition to out. 0, or -1 when the database failed. */
int	 metrics_prometheus(struct db *db, const struct ops_config *cfg,
	    struct buf *out);

#endif
