#include "export_admin.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lockadmin.h"

static const char *const states[] = {
	"PENDING", "RUNNING", "DONE", "FAILED", "EXPIRED"
};

int
export_admin_check(const char *state, const char *tenant, long limit,
    const char **why)
{
	if (state) {
		size_t i;

		for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
			if (strcmp(state, states[i]) == 0)
				break;
		if (i == sizeof(states) / sizeof(states[0])) {
			*why = "--state must be PENDING, RUNNING, DONE, FAILED "
			    "or EXPIRED";
			return -1;
		}
	}
	if (tenant && (tenant[0] == '\0' || strlen(tenant) > 128)) {
		*why = "--tenant must be 1 to 128 characters";
		return -1;
	}
	if (limit < 1 || limit > EXPORT_ADMIN_LIMIT_MAX) {
		*why = "--limit must be between 1 and 1000";
		return -1;
	}
	return 0;
}

static json_t *
num_or_null(PGresult *res, int row, int c)
{
	return PQgetisnull(res, row, c) ? json_null() :
	    json_integer(strtoll(PQgetvalue(res, row, c), NULL, 10));
}

static json_t *
str_or_null(PGresult *res, int row, int c)
{
	return PQgetisnull(res, row, c) ? json_null() :
	    json_string(PQgetvalue(res, row, c));
}

json_t *
export_admin_list(struct db *db, const char *state, const char *tenant,
    long limit)
{
	char lim[24];
	const char *p[] = { state, tenant, lim };
	PGresult *res;
	json_t *items;

	snprintf(lim, sizeof(lim), "%ld", limit);
	res = db_query(db, "SELECT id, tenant_id, state, format, "
	    DB_SQL_RFC3339("created_at") ", " DB_SQL_RFC3339("finished_at") ", "
	    "coalesce(total_rows, progress_rows), "
	    "coalesce(total_bytes, progress_bytes), attempt, error_code, "
	    "compression, CASE WHEN compression = 'none' THEN "
	    "coalesce(total_bytes, progress_bytes) ELSE coalesce("
	    "total_uncompressed_bytes, progress_uncompressed_bytes) END "
	    "FROM tb_audit_export_job WHERE ($1::text IS NULL OR state = $1) "
	    "AND ($2::text IS NULL OR tenant_id = $2) "
	    "ORDER BY created_at DESC, id DESC LIMIT $3", 3, p);
	if (res == NULL)
		return NULL;
	items = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:s, "
		    "s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
		    "id", PQgetvalue(res, i, 0),
		    "tenant_id", PQgetvalue(res, i, 1),
		    "state", PQgetvalue(res, i, 2),
		    "format", PQgetvalue(res, i, 3),
		    "compression", PQgetvalue(res, i, 10),
		    "uncompressed_bytes", num_or_null(res, i, 11),
		    "created_at", str_or_null(res, i, 4),
		    "finished_at", str_or_null(res, i, 5),
		    "rows", num_or_null(res, i, 6),
		    "bytes", num_or_null(res, i, 7),
		    "attempt", num_or_null(res, i, 8),
		    "error_code", str_or_null(res, i, 9)));
	PQclear(res);
	return items;
}
