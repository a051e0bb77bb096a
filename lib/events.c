#include "events.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

int
events_write(struct db *db, const struct ops_event *ev)
{
	char *data = ev->data ? xnonnull(json_dumps(ev->data, JSON_COMPACT)) :
	    xstrdup("{}");
	const char *p[] = { ev->type, ev->severity, ev->source, ev->tenant_id,
	    ev->subject_type, ev->subject_id, ev->request_id, data };
	int rc;

	rc = db_exec(db, "INSERT INTO ops_event (event_type, severity, source, "
	    "tenant_id, subject_type, subject_id, request_id, data) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)", 8, p);
	free(data);
	return rc;
}

int
audit_write(struct db *db, const struct sanitize_rules *rules,
    const struct audit_entry *e)
{
	json_t *clean;
	char *payload;
	int rc;

	clean = xnonnull(e->payload ? sanitize_json(rules, e->payload) :
	    json_object());
	payload = xnonnull(json_dumps(clean, JSON_COMPACT));
	json_decref(clean);
	{
		const char *p[] = { e->tenant_id, e->actor_id, e->action,
		    e->target_type, e->target_id, e->ip, e->request_id,
		    payload };

		/* time and tenant are the server's (0008_audit_writer) */
		rc = db_exec(db, "SELECT ops_audit_record($1, $2, $3, $4, "
		    "$5, $6::inet, $7, $8::jsonb)", 8, p);
	}
	free(payload);
	return rc;
}
