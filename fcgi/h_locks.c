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
		json_array_append_new(*details, error_detail("body",
		    "must be a JSON object"));
		return -1;
	}
	json_object_foreach(body, key, v) {
		if (strcmp(key, "reason") != 0)
			json_array_append_new(*details, error_detail(key,
			    "is not a known field"));
	}
	v = json_object_get(body, "reason");
	if (v == NULL || json_is_null(v))
		json_array_append_new(*details, error_detail("reason",
		    "is required: say why the lock is released"));
	else if (!json_is_string(v))
		json_array_append_new(*details, error_detail("reason",
		    "must be a string"));
	else if (!lock_reason_valid(json_string_value(v), &issue))
		json_array_append_new(*details, error_detail("reason", issue));
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
	json_t *body, *details, *result = NULL;
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
	    &who, &result);
	json_decref(body);
	switch (rr) {
	case LOCKREL_RELEASED:
	case LOCKREL_ALREADY_FREE:
		resp_json(r, 200, result, NULL);
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
