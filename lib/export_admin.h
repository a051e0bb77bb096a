/*
 * export_admin: the operator's read-only view of export jobs (`opsctl
 * exports`), across every tenant. Metadata only: no payload, no download
 * link, nothing of the exported rows.
 */
#ifndef OPS_EXPORT_ADMIN_H
#define OPS_EXPORT_ADMIN_H

#include <jansson.h>

#include "db.h"

#define EXPORT_ADMIN_LIMIT_MAX	1000

/*
 * Check the filters: state NULL or one of PENDING, RUNNING, DONE, FAILED,
 * EXPIRED; tenant NULL or 1..128 characters; limit 1..EXPORT_ADMIN_LIMIT_MAX.
 * Returns 0, or -1 with *why (static text) set.
 */
int	export_admin_check(const char *state, const char *tenant, long limit,
	    const char **why);

/*
 * The newest jobs first, as an array of {id, tenant_id, state, format,
 * compression, created_at, finished_at, rows, bytes, uncompressed_bytes,
 * attempt, error_code}; rows and bytes (stored, compressed when the job
 * is) are the result when finished, else the progress so far. New
 * reference, or NULL when the database failed.
 */
json_t	*export_admin_list(struct db *db, const char *state, const char *tenant,
	    long limit);

#endif
