#include "events.h"

#include <stdlib.h>
#include <string.h>

#include "bug.h"
#include "xalloc.h"

/* Insert one ops_event row with data (already sanitized). */
static int
event_write(struct db *db, const struct ops_event *ev, const json_t *data)
{
	char *text = data ? xnonnull(json_dumps(data, JSON_COMPACT)) :
	    xstrdup("{}");
	const char *p[] = { ev->type, ev->severity, ev->source, ev->tenant_id,
	    ev->subject_type, ev->subject_id, ev->request_id, text,
	    ev->actor_id };
	int rc;

	rc = db_exec(db, "INSERT INTO ops_event (event_type, severity, source, "
	    "tenant_id, subject_type, subject_id, request_id, data, actor_id) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)", 9, p);
	free(text);
	return rc;
}

/* Insert the audit_log twin of ev with data (already sanitized). */
static int
audit_write(struct db *db, const struct ops_event *ev, const json_t *data)
{
	char *payload = data ? xnonnull(json_dumps(data, JSON_COMPACT)) :
	    xstrdup("{}");
	const char *p[] = { ev->tenant_id ? ev->tenant_id :
	    EVENTS_SYSTEM_TENANT, ev->actor_id, ev->type, ev->subject_type,
	    ev->subject_id, ev->ip, ev->request_id, payload };
	int rc;

	/* time and tenant are the server's (0008_audit_writer) */
	rc = db_exec(db, "SELECT ops_audit_record($1, $2, $3, $4, $5, "
	    "$6::inet, $7, $8::jsonb)", 8, p);
	free(payload);
	return rc;
}

int
events_record(struct db *db, const struct sanitize_rules *rules,
    const struct ops_event *ev)
{
	json_t *clean = NULL;
	int rc;

	if (ev->actor_id && rules == NULL)
		BUG("%s: an audit entry needs the sanitizer rules", ev->type);
	if (ev->data && rules)
		clean = xnonnull(sanitize_json(rules, ev->data));
	rc = event_write(db, ev, clean ? clean : ev->data);
	if (rc == 0 && ev->actor_id)
		rc = audit_write(db, ev, clean ? clean : ev->data);
	json_decref(clean);
	return rc;
}
