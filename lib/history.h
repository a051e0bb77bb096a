/*
 * history: what happened, as operators and tenants read it (contract
 * section 15), over ops_event and the hourly rollup of export jobs
 * (export_job_hourly, migration 0010).
 *
 *   history_job_events()   GET /api/ops/audit-exports/{id}/events: one
 *                          job's timeline, oldest first, under the access
 *                          rules of polling the job
 *   history_events()       GET /api/ops/events: the feed, newest first,
 *                          cursor paging, tenant-scoped for a caller whose
 *                          export.read is own-tenant
 *   history_status()       GET /api/ops/status/history: hourly buckets
 *   history_quantile()     a quantile from histogram buckets (pure), as
 *                          Prometheus' histogram_quantile() estimates it
 *
 * history_events_query_check() is pure and validates what the client
 * sent; the reads take it checked.
 */
#ifndef OPS_HISTORY_H
#define OPS_HISTORY_H

#include <jansson.h>
#include <stdbool.h>

#include "db.h"
#include "export.h"

/* The histogram buckets of export_job_hourly: upper bounds in seconds,
 * the last bucket (+Inf) has none. Keep in step with migration 0010's
 * export_job_bucket(). */
#define HISTORY_NBUCKETS	15
extern const double history_bucket_le[HISTORY_NBUCKETS - 1];

#define HISTORY_TIMELINE_MAX	1000	/* events of one job's timeline */
#define HISTORY_HOURS_DEFAULT	24
#define HISTORY_HOURS_MAX	168

/* The feed's parameters as given (NULL = any). */
struct history_events_query {
	const char	*kind;
	const char	*tenant_id;
	const char	*since, *until;		/* RFC 3339 */
	const char	*cursor;
	int		 limit;
	/* filled by history_events_query_check() */
	char		 since_us[24], until_us[24];	/* "" = unbounded */
	char		 cur_us[24], cur_id[24];	/* "" = first page */
};

/* The query parameters of the feed (NULL-terminated). */
extern const char *const history_events_params[];

/* Validate the feed's parameters; -1 with *details (new array) when bad. */
int	history_events_query_check(struct history_events_query *q,
	    json_t **details);

/*
 * A feed cursor "<occurred_at microseconds>.<event id>" into its parts
 * (decimal text). False when it is not one this API made.
 */
bool	history_cursor_parse(const char *c, char us[24], char id[24]);

/*
 * One job's timeline as {"items":[...]}. EXPORT_OK, EXPORT_E_NOT_FOUND (no
 * such job, or one the actor may not read), EXPORT_E_DB.
 */
enum export_outcome history_job_events(struct db *db,
	    const struct export_actor *actor, const char *id, json_t **out);

/*
 * The feed as {"items":[...],"next_cursor":...}. EXPORT_OK,
 * EXPORT_E_TENANT (a tenant outside the actor's scope), EXPORT_E_DB.
 */
enum export_outcome history_events(struct db *db,
	    const struct export_actor *actor,
	    const struct history_events_query *q, json_t **out);

/* The hourly buckets of the last hours hours (1..168) as the API's JSON;
 * NULL on a database error (db->err). */
json_t	*history_status(struct db *db, int hours);

/*
 * The q-quantile (0 < q < 1) of a histogram of per-bucket counts (not
 * cumulative) over history_bucket_le: linear within the bucket the rank
 * falls in, the last finite bound for the +Inf bucket. -1 when the
 * histogram is empty.
 */
double	history_quantile(double q, const long long counts[HISTORY_NBUCKETS]);

/*
 * Parse PostgreSQL's text of a bigint[] of HISTORY_NBUCKETS elements
 * ("{1,0,...}") into counts. -1 when it is not one.
 */
int	history_hist_parse(const char *text, long long counts[HISTORY_NBUCKETS]);

#endif
