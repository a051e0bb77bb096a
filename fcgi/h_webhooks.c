/*
 * Completion webhook handlers (contract section 16). The logic is in
 * lib/webhook.c; this file maps requests and outcomes to HTTP.
 *
 *   POST   /api/ops/webhooks                          201 endpoint + secret
 *   GET    /api/ops/webhooks[?tenant_id=]             200 {"items":[...]}
 *   DELETE /api/ops/webhooks/{id}                     200 {"id","deleted"}
 *   POST   /api/ops/webhooks/{id}/rotate-secret       200 new secret
 *   GET    /api/ops/webhooks/{id}/deliveries[?state=&limit=]  200 items
 *   POST   /api/ops/webhooks/{id}/deliveries/{delivery_id}/redeliver 200
 *
 * webhook.manage for the writes, webhook.read for the lists (lib/rbac.h).
 */
#include <string.h>

#include "errors.h"
#include "routes.h"
#include "webhook.h"
#include "xjson.h"

static void
actor_init(struct request *r, struct webhook_actor *a)
{
	a->who = &r->who;
	a->request_id = r->request_id;
	a->source = "ops-fcgi";
}

static void
answer(struct request *r, enum webhook_outcome o, int status, json_t *out,
    json_t *details)
{
	if (o == WEBHOOK_OK) {
		resp_json(r, status, out, NULL);
		return;
	}
	json_decref(out);
	if (o == WEBHOOK_E_DB) {
		json_decref(details);
		resp_db_error(r);
		return;
	}
	resp_error(r, webhook_outcome_code(o), NULL, details);
}

void
h_webhook_create(struct request *r)
{
	struct webhook_actor a;
	json_t *body, *out = NULL, *details = NULL;
	enum webhook_outcome o;

	if (request_auth(r, CAP_WEBHOOK_MANAGE) != 0)
		return;
	if (request_read_json(r, &body) != 0)
		return;
	actor_init(r, &a);
	o = webhook_endpoint_create(r->db, r->app->cfg, &a, body, &out,
	    &details);
	json_decref(body);
	if (o != WEBHOOK_E_INVALID) {
		json_decref(details);
		details = NULL;
	}
	answer(r, o, 201, out, details);
}

void
h_webhook_list(struct request *r)
{
	enum webhook_outcome o;
	struct webhook_actor a;
	char tenant[256];
	json_t *out = NULL;
	int q;

	if (request_auth(r, CAP_WEBHOOK_READ) != 0)
		return;
	if ((q = request_query(r, "tenant_id", tenant, sizeof(tenant))) < 0) {
		resp_error(r, "VALIDATION_FAILED", NULL, xjson_pack("[o]",
		    error_detail("tenant_id", "must be at most 200 bytes")));
		return;
	}
	actor_init(r, &a);
	o = webhook_endpoint_list(r->db, &a, q ? tenant : NULL, &out);
	answer(r, o, 200, out, NULL);
}

void
h_webhook_delete(struct request *r)
{
	struct webhook_actor a;
	enum webhook_outcome o;

	if (request_auth(r, CAP_WEBHOOK_MANAGE) != 0)
		return;
	actor_init(r, &a);
	o = webhook_endpoint_delete(r->db, &a, r->params[0]);
	answer(r, o, 200, o == WEBHOOK_OK ? xjson_pack("{s:s, s:b}", "id",
	    r->params[0], "deleted", 1) : NULL, NULL);
}

void
h_webhook_rotate(struct request *r)
{
	enum webhook_outcome o;
	struct webhook_actor a;
	json_t *body, *v, *out = NULL;
	const char *key;
	json_int_t hours = 24;

	if (request_auth(r, CAP_WEBHOOK_MANAGE) != 0)
		return;
	if (request_read_json(r, &body) != 0)
		return;
	if (!json_is_object(body)) {
		json_decref(body);
		resp_error(r, "VALIDATION_FAILED", NULL, xjson_pack("[o]",
		    error_detail("body", "must be a JSON object")));
		return;
	}
	json_object_foreach(body, key, v) {
		if (strcmp(key, "overlap_hours") != 0) {
			resp_error(r, "VALIDATION_FAILED", NULL,
			    xjson_pack("[o]", error_detail(key,
			    "is not a known field")));
			json_decref(body);
			return;
		}
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 168) {
			resp_error(r, "VALIDATION_FAILED", NULL,
			    xjson_pack("[o]", error_detail("overlap_hours",
			    "must be an integer from 0 to 168")));
			json_decref(body);
			return;
		}
		hours = json_integer_value(v);
	}
	json_decref(body);
	actor_init(r, &a);
	o = webhook_secret_rotate(r->db, &a, r->params[0], (int)hours, &out);
	answer(r, o, 200, out, NULL);
}

void
h_webhook_deliveries(struct request *r)
{
	enum webhook_outcome o;
	struct webhook_actor a;
	char state[16];
	long long limit = 50;
	json_t *out = NULL;
	int q;

	if (request_auth(r, CAP_WEBHOOK_READ) != 0)
		return;
	q = request_query(r, "state", state, sizeof(state));
	if (q < 0 || (q == 1 && strcmp(state, "PENDING") != 0 &&
	    strcmp(state, "DELIVERED") != 0 && strcmp(state, "FAILED") != 0)) {
		resp_error(r, "VALIDATION_FAILED", NULL, xjson_pack("[o]",
		    error_detail("state", "must be PENDING, DELIVERED or "
		    "FAILED")));
		return;
	}
	if (request_query_int(r, "limit", 1, 500, &limit) < 0) {
		resp_error(r, "VALIDATION_FAILED", NULL, xjson_pack("[o]",
		    error_detail("limit", "must be an integer from 1 to 500")));
		return;
	}
	actor_init(r, &a);
	o = webhook_delivery_list(r->db, &a, r->params[0], q == 1 ? state :
	    NULL, (int)limit, &out);
	answer(r, o, 200, out, NULL);
}

void
h_webhook_redeliver(struct request *r)
{
	enum webhook_outcome o;
	struct webhook_actor a;
	json_t *out = NULL;

	if (request_auth(r, CAP_WEBHOOK_MANAGE) != 0)
		return;
	actor_init(r, &a);
	o = webhook_redeliver(r->db, r->app->cfg, &a, r->params[0],
	    r->params[1], &out);
	answer(r, o, 200, out, NULL);
}
