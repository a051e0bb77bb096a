/*
 * webhook: completion webhook endpoints and their deliveries as the API
 * sees them (contract section 16, docs/webhooks.md).
 *
 * An endpoint belongs to one tenant. Creating one checks the URL
 * (webhook_url.h: syntax, then every resolved address), draws its secret
 * (webhook_sign.h) and answers it once; no other call ever returns a
 * secret. Deliveries are written by the database itself, in the
 * transaction that ends a job (sql/migrations/0011_webhooks.sql), and sent
 * by ops-webhook-dispatcher; here they are listed and redelivered.
 *
 * Access (lib/rbac.h): webhook.read to list, webhook.manage to change. An
 * endpoint the caller may not read does not exist for them (not found); one
 * they may read but not manage is forbidden. Every query is scoped by the
 * endpoint's tenant.
 */
#ifndef OPS_WEBHOOK_H
#define OPS_WEBHOOK_H

#include <jansson.h>
#include <stdbool.h>

#include "auth.h"
#include "config.h"
#include "db.h"

#define WEBHOOK_ROUTE	"/api/ops/webhooks"

enum webhook_outcome {
	WEBHOOK_OK = 0,
	WEBHOOK_E_INVALID,	/* 400: *details says which field */
	WEBHOOK_E_NOT_FOUND,	/* 404 WEBHOOK_NOT_FOUND */
	WEBHOOK_E_FORBIDDEN,	/* 403 FORBIDDEN */
	WEBHOOK_E_TENANT,	/* 403 TENANT_FORBIDDEN */
	WEBHOOK_E_LIMIT,	/* 409 WEBHOOK_LIMIT */
	WEBHOOK_E_DB		/* see db->err */
};

/* The API error code of an outcome (NULL for WEBHOOK_OK). */
const char *webhook_outcome_code(enum webhook_outcome o);

struct webhook_actor {
	const struct auth_principal	*who;
	const char			*request_id;
	const char			*source;	/* "ops-fcgi" */
};

/* "true" config strings of the webhooks: section */
bool	webhook_allow_private(const struct ops_config *cfg);
bool	webhook_allow_http(const struct ops_config *cfg);

/*
 * Create from the request body {"url", "event_types"?, "tenant_id"?,
 * "description"?}: *out is the endpoint with its "secret" (the only
 * time it is shown). WEBHOOK_E_INVALID with *details (an array of
 * {"field", "issue"}) for a bad body or URL.
 */
enum webhook_outcome webhook_endpoint_create(struct db *db,
	    const struct ops_config *cfg, const struct webhook_actor *a,
	    json_t *body, json_t **out, json_t **details);

/* {"items": [...]}: the endpoints the caller may read, of tenant (NULL:
 * all of them). */
enum webhook_outcome webhook_endpoint_list(struct db *db,
	    const struct webhook_actor *a, const char *tenant, json_t **out);

enum webhook_outcome webhook_endpoint_delete(struct db *db,
	    const struct webhook_actor *a, const char *id);

/*
 * New secret; the old one still signs (a second signature) for
 * overlap_hours. *out is {"id", "secret", "previous_secret_expires_at"}.
 */
enum webhook_outcome webhook_secret_rotate(struct db *db,
	    const struct webhook_actor *a, const char *id, int overlap_hours,
	    json_t **out);

/* {"items": [...]}: an endpoint's deliveries, newest first. state may be
 * NULL (all). */
enum webhook_outcome webhook_delivery_list(struct db *db,
	    const struct webhook_actor *a, const char *id, const char *state,
	    int limit, json_t **out);

/* Make one delivery due now again, with a new give-up time. */
enum webhook_outcome webhook_redeliver(struct db *db,
	    const struct ops_config *cfg, const struct webhook_actor *a,
	    const char *id, const char *delivery_id, json_t **out);

/* The webhook-id of a delivery: "msg_" + its uuid without dashes. */
void	webhook_msg_id(const char *delivery_id, char out[40]);

#endif
