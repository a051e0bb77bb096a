/*
 * History handlers: a job's timeline, the event feed, the status history
 * (contract section 15). Reading and access live in lib/history.c; this
 * file maps query parameters and outcomes to HTTP.
 */
#include <stdio.h>

#include "errors.h"
#include "history.h"
#include "routes.h"
#include "xjson.h"

static void
actor_init(struct export_actor *a, struct request *r)
{
	a->who = &r->who;
	a->request_id = r->request_id;
	a->ip = request_param(r, "REMOTE_ADDR");
	a->source = "ops-fcgi";
}

static void
resp_outcome(struct request *r, enum export_outcome o)
{
	if (o == EXPORT_E_DB)
		resp_db_error(r);
	else if (o == EXPORT_E_TENANT)
		resp_error(r, "TENANT_FORBIDDEN", NULL, xjson_pack("[o]",
		    error_detail("tenant_id", "is outside your scope")));
	else
		resp_error(r, export_outcome_code(o), NULL, NULL);
}

/* 400 naming each unknown query parameter; -1 after answering. */
static int
params_check(struct request *r, const char *const *known)
{
	json_t *details = json_array();

	if (request_query_check(r, known, details) > 0) {
		resp_error(r, "VALIDATION_FAILED", NULL, details);
		return -1;
	}
	json_decref(details);
	return 0;
}

void
h_export_events(struct request *r)
{
	static const char *const none[] = { NULL };
	struct export_actor a;
	enum export_outcome o;
	json_t *out;

	if (request_auth(r, CAP_EXPORT_READ) != 0 || params_check(r, none) != 0)
		return;
	actor_init(&a, r);
	if ((o = history_job_events(r->db, &a, r->params[0], &out)) !=
	    EXPORT_OK) {
		resp_outcome(r, o);
		return;
	}
	resp_json(r, 200, out, NULL);
}

void
h_events_list(struct request *r)
{
	struct history_events_query q = { .limit = 50 };
	char kind[112], tenant[160], since[64], until[64], cursor[128];
	struct export_actor a;
	enum export_outcome o;
	json_t *details, *out;

	if (request_auth(r, CAP_EXPORT_READ) != 0)
		return;
	details = json_array();
	(void)request_query_check(r, history_events_params, details);
	request_query_str(r, "kind", kind, sizeof(kind), &q.kind, details);
	request_query_str(r, "tenant_id", tenant,
	    sizeof(tenant), &q.tenant_id, details);
	request_query_str(r, "since", since, sizeof(since), &q.since, details);
	request_query_str(r, "until", until, sizeof(until), &q.until, details);
	request_query_str(r, "cursor", cursor,
	    sizeof(cursor), &q.cursor, details);
	request_query_limit(r, &q.limit);
	if (json_array_size(details) > 0) {
		resp_error(r, "VALIDATION_FAILED", NULL, details);
		return;
	}
	json_decref(details);
	if (history_events_query_check(&q, &details) != 0) {
		resp_error(r, "VALIDATION_FAILED", NULL, details);
		return;
	}
	actor_init(&a, r);
	if ((o = history_events(r->db, &a, &q, &out)) != EXPORT_OK) {
		resp_outcome(r, o);
		return;
	}
	resp_json(r, 200, out, NULL);
}

void
h_status_history(struct request *r)
{
	static const char *const known[] = { "hours", NULL };
	long long hours = HISTORY_HOURS_DEFAULT;
	json_t *out;

	if (request_auth(r, CAP_OPS_STATUS) != 0 || params_check(r, known) != 0)
		return;
	if (request_query_int(r, "hours", 1, HISTORY_HOURS_MAX, &hours) < 0) {
		resp_error(r, "VALIDATION_FAILED", NULL, xjson_pack("[o]",
		    error_detail("hours", "must be an integer from 1 to 168")));
		return;
	}
	if ((out = history_status(r->db, (int)hours)) == NULL) {
		resp_db_error(r);
		return;
	}
	resp_json(r, 200, out, NULL);
}
