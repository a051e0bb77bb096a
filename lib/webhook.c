#include "webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bug.h"
#include "errors.h"
#include "events.h"
#include "export_request.h"
#include "log.h"
#include "rbac.h"
#include "webhook_sign.h"
#include "webhook_url.h"
#include "xjson.h"

#define TS(col)	"to_char(" col " AT TIME ZONE 'UTC', " \
		"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* One endpoint as JSON text, from tb_webhook_endpoint e. */
#define ENDPOINT_JSON \
	"jsonb_build_object('id', e.id, 'tenant_id', e.tenant_id, " \
	"'url', e.url, 'description', e.description, " \
	"'event_types', to_jsonb(e.event_types), 'enabled', e.enabled, " \
	"'disabled_reason', e.disabled_reason, 'created_by', e.created_by, " \
	"'created_at', " TS("e.created_at") ", " \
	"'previous_secret_expires_at', " \
	TS("e.previous_secret_expires_at") ")::text"

/* One delivery as JSON text, from tb_webhook_delivery d. */
#define DELIVERY_JSON \
	"jsonb_build_object('id', d.id, 'webhook_id', 'msg_' || " \
	"replace(d.id::text, '-', ''), 'endpoint_id', d.endpoint_id, " \
	"'tenant_id', d.tenant_id, 'job_id', d.job_id, " \
	"'event_type', d.event_type, 'state', d.state, " \
	"'attempts', d.attempts, 'created_at', " TS("d.created_at") ", " \
	"'next_attempt_at', CASE WHEN d.state = 'PENDING' THEN " \
	TS("d.next_attempt_at") " END, 'give_up_at', " TS("d.give_up_at") \
	", 'last_attempt_at', " TS("d.last_attempt_at") ", " \
	"'last_status', d.last_status, 'last_latency_ms', " \
	"d.last_latency_ms, 'last_error', d.last_error, 'delivered_at', " \
	TS("d.delivered_at") ", 'history', d.history)::text"

static const char *const event_types[] = {
	"export.done", "export.failed", "export.expired", "export.cancelled"
};
#define NEVENTS	(sizeof(event_types) / sizeof(event_types[0]))

const char *
webhook_outcome_code(enum webhook_outcome o)
{
	switch (o) {
	case WEBHOOK_E_INVALID:		return "VALIDATION_FAILED";
	case WEBHOOK_E_NOT_FOUND:	return "WEBHOOK_NOT_FOUND";
	case WEBHOOK_E_FORBIDDEN:	return "FORBIDDEN";
	case WEBHOOK_E_TENANT:		return "TENANT_FORBIDDEN";
	case WEBHOOK_E_LIMIT:		return "WEBHOOK_LIMIT";
	case WEBHOOK_E_DB:		return "INTERNAL_ERROR";
	default:			return NULL;
	}
}

bool
webhook_allow_private(const struct ops_config *cfg)
{
	return cfg->webhooks.allow_private_networks &&
	    strcmp(cfg->webhooks.allow_private_networks, "true") == 0;
}

bool
webhook_allow_http(const struct ops_config *cfg)
{
	return cfg->webhooks.allow_http &&
	    strcmp(cfg->webhooks.allow_http, "true") == 0;
}

void
webhook_msg_id(const char *delivery_id, char out[40])
{
	size_t n = 0;

	memcpy(out, "msg_", 4);
	n = 4;
	for (const char *p = delivery_id; *p && n < 39; p++)
		if (*p != '-')
			out[n++] = *p;
	out[n] = '\0';
}

static bool
allows(const struct webhook_actor *a, enum rbac_cap cap, const char *tenant)
{
	return rbac_allows((const char *const *)a->who->roles,
	    a->who->nroles, a->who->sub, a->who->tenant_id, cap, tenant, NULL);
}

static json_t *
parse_text(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	if (j == NULL)
		BUG("the database built JSON that does not parse: %.80s", text);
	return j;
}

/* Characters of a valid UTF-8 string (jansson's strings are). */
static size_t
chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* The tenant of endpoint id (0), or not found (1), or -1. */
static int
endpoint_tenant(struct db *db, const char *id, char *tenant, size_t tsz)
{
	const char *p[] = { id };
	PGresult *res;
	int rc;

	if (!export_id_valid(id))
		return 1;
	res = db_query(db, "SELECT tenant_id FROM tb_webhook_endpoint "
	    "WHERE id = $1", 1, p);
	if (res == NULL)
		return -1;
	rc = PQntuples(res) == 1 ? 0 : 1;
	if (rc == 0)
		snprintf(tenant, tsz, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return rc;
}

/* Load the endpoint's tenant and check cap on it. */
static enum webhook_outcome
endpoint_access(struct db *db, const struct webhook_actor *a, const char *id,
    enum rbac_cap cap, char *tenant, size_t tsz)
{
	int rc = endpoint_tenant(db, id, tenant, tsz);

	if (rc < 0)
		return WEBHOOK_E_DB;
	if (rc > 0 || !allows(a, CAP_WEBHOOK_READ, tenant))
		return WEBHOOK_E_NOT_FOUND;
	if (cap != CAP_WEBHOOK_READ && !allows(a, cap, tenant))
		return WEBHOOK_E_FORBIDDEN;
	return WEBHOOK_OK;
}

static int
record_event(struct db *db, const struct webhook_actor *a, const char *type,
    const char *tenant, const char *id, json_t *data)
{
	struct ops_event ev = {
		.type = type, .severity = "info", .source = a->source,
		.tenant_id = tenant, .subject_type = "webhook_endpoint",
		.subject_id = id, .request_id = a->request_id, .data = data
	};

	return events_record(db, NULL, &ev);
}

/* ---- create ------------------------------------------------------------ */

struct create_req {
	const char	*url;
	const char	*tenant;
	const char	*description;
	const char	*types[NEVENTS];
	size_t		 ntypes;
};

static void
detail(json_t *details, const char *field, const char *issue)
{
	xjson_push(details, error_detail(field, issue));
}

static bool
known_event(const char *s)
{
	for (size_t i = 0; i < NEVENTS; i++)
		if (strcmp(s, event_types[i]) == 0)
			return true;
	return false;
}

static void
check_body(json_t *body, const struct webhook_actor *a, struct create_req *r,
    json_t *details)
{
	const char *key;
	json_t *v;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(body)) {
		detail(details, "body", "must be a JSON object");
		return;
	}
	json_object_foreach(body, key, v) {
		if (strcmp(key, "url") != 0 && strcmp(key, "event_types") != 0 &&
		    strcmp(key, "tenant_id") != 0 &&
		    strcmp(key, "description") != 0)
			detail(details, key, "is not a known field");
	}
	v = json_object_get(body, "url");
	if (!json_is_string(v))
		detail(details, "url", "is required: a https URL");
	else
		r->url = json_string_value(v);
	v = json_object_get(body, "tenant_id");
	if (v == NULL || json_is_null(v))
		r->tenant = a->who->tenant_id;
	else if (!json_is_string(v) || json_string_length(v) < 1 ||
	    json_string_length(v) > 200)
		detail(details, "tenant_id", "must be a string of 1 to 200 "
		    "characters");
	else
		r->tenant = json_string_value(v);
	if (r->tenant == NULL && json_object_get(body, "tenant_id") == NULL)
		detail(details, "tenant_id", "is required: the token has no "
		    "tenant_id");
	v = json_object_get(body, "description");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v) ||
		    chars(json_string_value(v)) > 500)
			detail(details, "description", "must be a string of at "
			    "most 500 characters");
		else
			r->description = json_string_value(v);
	}
	v = json_object_get(body, "event_types");
	if (v == NULL || json_is_null(v)) {
		for (size_t i = 0; i < NEVENTS; i++)
			r->types[i] = event_types[i];
		r->ntypes = NEVENTS;
	} else if (!json_is_array(v) || json_array_size(v) == 0 ||
	    json_array_size(v) > NEVENTS) {
		detail(details, "event_types", "must be a non-empty array of "
		    "export.done, export.failed, export.expired, "
		    "export.cancelled");
	} else {
		size_t i;
		json_t *t;

		json_array_foreach(v, i, t) {
			const char *s = json_string_value(t);
			bool dup = false;

			if (s == NULL || !known_event(s)) {
				detail(details, "event_types", "must contain "
				    "only export.done, export.failed, "
				    "export.expired, export.cancelled");
				break;
			}
			for (size_t k = 0; k < r->ntypes; k++)
				dup = dup || strcmp(r->types[k], s) == 0;
			if (dup) {
				detail(details, "event_types", "must not "
				    "repeat an event type");
				break;
			}
			r->types[r->ntypes++] = s;
		}
	}
}

enum webhook_outcome
webhook_endpoint_create(struct db *db, const struct ops_config *cfg,
    const struct webhook_actor *a, json_t *body, json_t **out,
    json_t **details)
{
	struct webhook_target t;
	struct create_req r;
	char why[512], secret[WEBHOOK_SECRET_MAX], max[16];
	json_t *types;
	char *types_text;
	PGresult *res;

	*out = NULL;
	*details = json_array();
	check_body(body, a, &r, *details);
	if (json_array_size(*details) > 0)
		return WEBHOOK_E_INVALID;
	if (rbac_scope_for((const char *const *)a->who->roles,
	    a->who->nroles, CAP_WEBHOOK_MANAGE) == SCOPE_NONE)
		return WEBHOOK_E_FORBIDDEN;
	if (!allows(a, CAP_WEBHOOK_MANAGE, r.tenant))
		return WEBHOOK_E_TENANT;
	if (webhook_url_check(r.url, webhook_allow_http(cfg), &t, why,
	    sizeof(why)) != 0 ||
	    webhook_resolve(&t, webhook_allow_private(cfg), why,
	    sizeof(why)) != 0) {
		detail(*details, "url", why);
		return WEBHOOK_E_INVALID;
	}
	json_decref(*details);
	*details = NULL;
	if (webhook_secret_new(secret) != 0) {
		log_kv(LOG_ERROR, NULL, NULL, "cannot draw a webhook secret: "
		    "the CSPRNG failed");
		return WEBHOOK_E_DB;
	}
	types = json_array();
	for (size_t i = 0; i < r.ntypes; i++)
		xjson_push(types, json_string(r.types[i]));
	types_text = json_dumps(types, JSON_COMPACT);
	json_decref(types);
	snprintf(max, sizeof(max), "%d", cfg->webhooks.max_endpoints_per_tenant);
	{
		const char *p[] = { r.tenant, r.url, r.description, types_text,
		    secret, a->who->sub ? a->who->sub : "unknown", max };

		if (db_begin(db) != 0) {
			free(types_text);
			return WEBHOOK_E_DB;
		}
		/* one creator at a time per tenant, so the limit holds */
		if (db_exec(db, "SELECT pg_advisory_xact_lock("
		    "hashtextextended('ops_webhook:' || $1, 0))", 1, p) != 0)
			goto fail;
		res = db_query(db, "WITH n AS (SELECT count(*) AS c FROM "
		    "tb_webhook_endpoint WHERE tenant_id = $1) "
		    "INSERT INTO tb_webhook_endpoint AS e (tenant_id, url, "
		    "description, event_types, secret, created_by) "
		    "SELECT $1, $2, $3, ARRAY(SELECT jsonb_array_elements_text("
		    "$4::jsonb)), $5, $6 FROM n WHERE n.c < $7::integer "
		    "RETURNING e.id, " ENDPOINT_JSON, 7, p);
		if (res == NULL)
			goto fail;
		if (PQntuples(res) == 0) {
			PQclear(res);
			db_rollback(db);
			free(types_text);
			return WEBHOOK_E_LIMIT;
		}
		*out = parse_text(PQgetvalue(res, 0, 1));
		{
			json_t *data = xjson_pack("{s:s, s:s}", "url", r.url,
			    "created_by", p[5]);
			int rc = record_event(db, a, "WEBHOOK_ENDPOINT_CREATED",
			    r.tenant, PQgetvalue(res, 0, 0), data);

			json_decref(data);
			PQclear(res);
			if (rc != 0 || db_commit(db) != 0)
				goto fail;
		}
	}
	free(types_text);
	xjson_set(*out, "secret", json_string(secret));
	return WEBHOOK_OK;
fail:
	db_rollback(db);
	free(types_text);
	json_decref(*out);
	*out = NULL;
	return WEBHOOK_E_DB;
}

/* ---- list, delete, rotate ------------------------------------------------ */

enum webhook_outcome
webhook_endpoint_list(struct db *db, const struct webhook_actor *a,
    const char *tenant, json_t **out)
{
	enum rbac_scope scope = rbac_scope_for((const char *const *)
	    a->who->roles, a->who->nroles, CAP_WEBHOOK_READ);
	const char *p[1];
	PGresult *res;

	if (scope == SCOPE_NONE)
		return WEBHOOK_E_FORBIDDEN;
	if (scope != SCOPE_ANY) {
		if (a->who->tenant_id == NULL || (tenant &&
		    strcmp(tenant, a->who->tenant_id) != 0))
			return WEBHOOK_E_TENANT;
		tenant = a->who->tenant_id;
	}
	p[0] = tenant;
	res = db_query(db, "SELECT " ENDPOINT_JSON " FROM tb_webhook_endpoint "
	    "e WHERE ($1::text IS NULL OR e.tenant_id = $1) "
	    "ORDER BY e.created_at, e.id LIMIT 1000", 1, p);
	if (res == NULL)
		return WEBHOOK_E_DB;
	*out = json_object();
	{
		json_t *items = json_array();

		for (int i = 0; i < PQntuples(res); i++)
			xjson_push(items, parse_text(PQgetvalue(res, i, 0)));
		xjson_set(*out, "items", items);
	}
	PQclear(res);
	return WEBHOOK_OK;
}

enum webhook_outcome
webhook_endpoint_delete(struct db *db, const struct webhook_actor *a,
    const char *id)
{
	char tenant[256];
	enum webhook_outcome o;
	const char *p[] = { id, tenant };
	json_t *data;
	int rc;

	if ((o = endpoint_access(db, a, id, CAP_WEBHOOK_MANAGE, tenant,
	    sizeof(tenant))) != WEBHOOK_OK)
		return o;
	if (db_begin(db) != 0)
		return WEBHOOK_E_DB;
	if (db_exec_rows(db, "DELETE FROM tb_webhook_endpoint WHERE id = $1 "
	    "AND tenant_id = $2", 2, p) != 1) {
		db_rollback(db);
		return db->err ? WEBHOOK_E_DB : WEBHOOK_E_NOT_FOUND;
	}
	data = xjson_pack("{s:s}", "deleted_by", a->who->sub ? a->who->sub :
	    "unknown");
	rc = record_event(db, a, "WEBHOOK_ENDPOINT_DELETED", tenant, id, data);
	json_decref(data);
	if (rc != 0 || db_commit(db) != 0) {
		db_rollback(db);
		return WEBHOOK_E_DB;
	}
	return WEBHOOK_OK;
}

enum webhook_outcome
webhook_secret_rotate(struct db *db, const struct webhook_actor *a,
    const char *id, int overlap_hours, json_t **out)
{
	char tenant[256], secret[WEBHOOK_SECRET_MAX], hours[16];
	const char *p[] = { id, tenant, secret, hours };
	enum webhook_outcome o;
	PGresult *res;
	json_t *data;
	int rc;

	if ((o = endpoint_access(db, a, id, CAP_WEBHOOK_MANAGE, tenant,
	    sizeof(tenant))) != WEBHOOK_OK)
		return o;
	if (webhook_secret_new(secret) != 0)
		return WEBHOOK_E_DB;
	snprintf(hours, sizeof(hours), "%d", overlap_hours);
	if (db_begin(db) != 0)
		return WEBHOOK_E_DB;
	res = db_query(db, "UPDATE tb_webhook_endpoint SET previous_secret = "
	    "secret, previous_secret_expires_at = now() + $4::integer * "
	    "interval '1 hour', secret = $3 WHERE id = $1 AND tenant_id = $2 "
	    "RETURNING " TS("previous_secret_expires_at"), 4, p);
	if (res == NULL || PQntuples(res) != 1) {
		if (res)
			PQclear(res);
		db_rollback(db);
		return res ? WEBHOOK_E_NOT_FOUND : WEBHOOK_E_DB;
	}
	*out = xjson_pack("{s:s, s:s, s:s}", "id", id, "secret", secret,
	    "previous_secret_expires_at", PQgetvalue(res, 0, 0));
	PQclear(res);
	data = xjson_pack("{s:s, s:i}", "rotated_by", a->who->sub ?
	    a->who->sub : "unknown", "overlap_hours", overlap_hours);
	rc = record_event(db, a, "WEBHOOK_SECRET_ROTATED", tenant, id, data);
	json_decref(data);
	if (rc != 0 || db_commit(db) != 0) {
		db_rollback(db);
		json_decref(*out);
		*out = NULL;
		return WEBHOOK_E_DB;
	}
	return WEBHOOK_OK;
}

/* ---- deliveries ---------------------------------------------------------- */

enum webhook_outcome
webhook_delivery_list(struct db *db, const struct webhook_actor *a,
    const char *id, const char *state, int limit, json_t **out)
{
	char tenant[256], lim[16];
	const char *p[] = { id, tenant, state, lim };
	enum webhook_outcome o;
	PGresult *res;
	json_t *items;

	if ((o = endpoint_access(db, a, id, CAP_WEBHOOK_READ, tenant,
	    sizeof(tenant))) != WEBHOOK_OK)
		return o;
	snprintf(lim, sizeof(lim), "%d", limit);
	res = db_query(db, "SELECT " DELIVERY_JSON " FROM tb_webhook_delivery "
	    "d WHERE d.endpoint_id = $1 AND d.tenant_id = $2 AND ($3::text IS "
	    "NULL OR d.state = $3) ORDER BY d.created_at DESC, d.id DESC "
	    "LIMIT $4::integer", 4, p);
	if (res == NULL)
		return WEBHOOK_E_DB;
	items = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		xjson_push(items, parse_text(PQgetvalue(res, i, 0)));
	PQclear(res);
	*out = xjson_pack("{s:o}", "items", items);
	return WEBHOOK_OK;
}

enum webhook_outcome
webhook_redeliver(struct db *db, const struct ops_config *cfg,
    const struct webhook_actor *a, const char *id, const char *delivery_id,
    json_t **out)
{
	char tenant[256], hours[16];
	const char *p[] = { id, tenant, delivery_id, hours };
	enum webhook_outcome o;
	PGresult *res;

	if ((o = endpoint_access(db, a, id, CAP_WEBHOOK_MANAGE, tenant,
	    sizeof(tenant))) != WEBHOOK_OK)
		return o;
	if (!export_id_valid(delivery_id))
		return WEBHOOK_E_NOT_FOUND;
	snprintf(hours, sizeof(hours), "%d", cfg->webhooks.give_up_hours);
	if (db_begin(db) != 0)
		return WEBHOOK_E_DB;
	res = db_query(db, "UPDATE tb_webhook_delivery d SET state = "
	    "'PENDING', next_attempt_at = now(), delivered_at = NULL, "
	    "give_up_at = now() + $4::integer * interval '1 hour' "
	    "WHERE d.id = $3 AND d.endpoint_id = $1 AND d.tenant_id = $2 "
	    "RETURNING " DELIVERY_JSON, 4, p);
	if (res == NULL || PQntuples(res) != 1) {
		if (res)
			PQclear(res);
		db_rollback(db);
		return res ? WEBHOOK_E_NOT_FOUND : WEBHOOK_E_DB;
	}
	*out = parse_text(PQgetvalue(res, 0, 0));
	PQclear(res);
	{
		json_t *data = xjson_pack("{s:s, s:s}", "delivery_id",
		    delivery_id, "redelivered_by", a->who->sub ? a->who->sub :
		    "unknown");
		int rc = record_event(db, a, "WEBHOOK_REDELIVERY_REQUESTED",
		    tenant, id, data);

		json_decref(data);
		if (rc != 0 || db_commit(db) != 0) {
			db_rollback(db);
			json_decref(*out);
			*out = NULL;
			return WEBHOOK_E_DB;
		}
	}
	return WEBHOOK_OK;
}
