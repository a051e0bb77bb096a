/*
 * Scheduler lock handlers: list and force-release. The logic is in
 * lib/lockadmin.c; this file maps outcomes to HTTP.
 *
 *   GET  /api/ops/scheduler/locks                 200 {"items":[...]}
 *   POST /api/ops/scheduler/locks/{name}/release  200 release result
 *
 * Both need ops.status / lock.release (SUPER_ADMIN, OPS_ADMIN). A name that
 * is not a valid lock name is answered like an unknown lock (404
 * LOCK_NOT_FOUND). Releasing a FREE lock answers 200 with
 * "already_free": true, changes nothing and is recorded anyway.
 */
#include <string.h>

#include "errors.h"
#include "lockadmin.h"
#include "lockstate.h"
#include "routes.h"
#include "xjson.h"

static json_t *
str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* The API's answer to a force-release (docs/api/openapi.yaml). */
static json_t *
release_json(const struct lock_release *rel)
{
	bool held = rel->prev_holder != NULL;
	json_t *prev = json_object(), *o = json_object();

	xjson_set(prev, "holder", str_or_null(rel->prev_holder));
	xjson_set(prev, "holder_host", str_or_null(rel->prev_host));
	xjson_set(prev, "holder_pid", held ? json_integer(rel->prev_pid) :
	    json_null());
	xjson_set(prev, "fencing_token", json_integer(rel->prev_token));
	xjson_set(prev, "heartbeat_age_seconds", held ?
	    json_real(rel->prev_heartbeat_age) : json_null());
	xjson_set(o, "name", json_string(rel->name));
	xjson_set(o, "released", json_boolean(rel->released));
	xjson_set(o, "already_free", json_boolean(!rel->released));
	xjson_set(o, "state_before",
	    json_string(lock_state_name(rel->state_before)));
	xjson_set(o, "previous", prev);
	xjson_set(o, "fencing_token", json_integer(rel->token));
	xjson_set(o, "released_at", str_or_null(rel->released_at));
	xjson_set(o, "release_reason", str_or_null(rel->release_reason));
	xjson_set(o, "released_by", str_or_null(rel->released_by));
	return o;
}

void
h_locks_list(struct request *r)
{
	json_t *out;

	if (request_auth(r, CAP_OPS_STATUS) != 0)
		return;
	if ((out = lockadmin_list_json(r->db,
	    r->app->cfg->locks.stale_after_seconds)) == NULL) {
		resp_db_error(r);
		return;
	}
	resp_json(r, 200, out, NULL);
}

/* The body: exactly {"reason": "..."}. 0, or -1 with *details set. */
static int
release_body_check(json_t *body, const char **reason, json_t **details)
{
	const char *key, *issue;
	json_t *v;

	*details = json_array();
	*reason = NULL;
	if (!json_is_object(body)) {
		xjson_push(*details, error_detail("body",
		    "must be a JSON object"));
		return -1;
	}
	json_object_foreach(body, key, v) {
		if (strcmp(key, "reason") != 0)
			xjson_push(*details, error_detail(key,
			    "is not a known field"));
	}
	v = json_object_get(body, "reason");
	if (v == NULL || json_is_null(v))
		xjson_push(*details, error_detail("reason",
		    "is required: say why the lock is released"));
	else if (!json_is_string(v))
		xjson_push(*details, error_detail("reason",
		    "must be a string"));
	else if (!lock_reason_valid(json_string_value(v), &issue))
		xjson_push(*details, error_detail("reason", issue));
	else
		*reason = json_string_value(v);
	if (json_array_size(*details) > 0)
		return -1;
	json_decref(*details);
	*details = NULL;
	return 0;
}

void
h_lock_release(struct request *r)
{
	struct lock_actor who = {
		.actor_id = NULL, .source = "ops-fcgi",
		.request_id = r->request_id,
		.ip = request_param(r, "REMOTE_ADDR")
	};
	const char *name = r->params[0], *reason;
	struct lock_release rel;
	json_t *body, *details;
	enum lock_release_result rr;

	if (request_auth(r, CAP_LOCK_RELEASE) != 0)
		return;
	if (!lock_name_valid(name)) {
		resp_error(r, "LOCK_NOT_FOUND", NULL, NULL);
		return;
	}
	if (request_read_json(r, &body) != 0)
		return;
	if (release_body_check(body, &reason, &details) != 0) {
		json_decref(body);
		resp_error(r, "VALIDATION_FAILED", NULL, details);
		return;
	}
	who.actor_id = r->who.sub ? r->who.sub : "unknown";
	rr = lockadmin_force_release(r->db,
	    r->app->cfg->locks.stale_after_seconds, r->app->rules, name, reason,
	    &who, &rel);
	json_decref(body);
	switch (rr) {
	case LOCKREL_RELEASED:
	case LOCKREL_ALREADY_FREE:
		resp_json(r, 200, release_json(&rel), NULL);
		lock_release_free(&rel);
		break;
	case LOCKREL_NOT_FOUND:
		resp_error(r, "LOCK_NOT_FOUND", NULL, NULL);
		break;
	case LOCKREL_BUSY:
		resp_error_h(r, "SERVICE_UNAVAILABLE", "the lock row is locked "
		    "by a write in progress: retry in a few seconds", NULL,
		    "Retry-After: 5\r\n");
		break;
	default:
		resp_db_error(r);
		break;
	}
}
