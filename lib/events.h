/*
 * events: what this product records about itself.
 *
 * ops_event is the operational event stream (EXPORT_STARTED,
 * SCHEDULER_LOCK_RECOVERED, JOB_RUN_SUCCEEDED, ...); audit_log is the
 * platform's audit trail, where the events a person may be asked about
 * (EXPORT_REQUESTED, EXPORT_DOWNLOADED, SCHEDULER_LOCK_FORCE_RELEASED, ...)
 * are also written. events_record() runs on the caller's connection,
 * inside the caller's transaction, so an event commits or rolls back
 * together with the state change it describes.
 *
 * Every payload written to audit_log goes through the sanitizer first.
 */
#ifndef OPS_EVENTS_H
#define OPS_EVENTS_H

#include <jansson.h>

#include "db.h"
#include "sanitize.h"

/*
 * One thing that happened. actor_id set: it is also an audit_log entry
 * (action = type, target = subject, tenant = tenant_id or
 * EVENTS_SYSTEM_TENANT, payload = data).
 */
struct ops_event {
	const char	*type;		/* EXPORT_STARTED, ... */
	const char	*severity;	/* debug|info|warning|error|critical */
	const char	*source;	/* binary name: ops-fcgi, ... */
	const char	*tenant_id;	/* may be NULL */
	const char	*subject_type;	/* audit_export, scheduler_lock, job */
	const char	*subject_id;
	const char	*request_id;	/* may be NULL */
	json_t		*data;		/* borrowed; may be NULL */
	const char	*actor_id;	/* NULL: no audit_log entry */
	const char	*ip;		/* for audit_log; may be NULL */
};

/*
 * Record ev: its ops_event row and, when ev->actor_id is set, its
 * audit_log entry, on db inside the caller's transaction. data goes
 * through the sanitizer (rules; NULL only for an event without actor,
 * whose data the caller built from no input) for both rows. The one way
 * lib/ and jobs/ record events. 0 or -1 (db->err set).
 */
int	events_record(struct db *db, const struct sanitize_rules *rules,
	    const struct ops_event *ev);

/*
 * The tenant recorded for events that belong to no tenant (scheduler locks,
 * job runs): audit_log.tenant_id is NOT NULL.
 */
#define EVENTS_SYSTEM_TENANT	"_system"

#endif
