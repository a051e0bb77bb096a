/*
 * events: what this product records about itself.
 *
 * ops_event is the operational event stream (EXPORT_STARTED,
 * SCHEDULER_LOCK_RECOVERED, JOB_RUN_SUCCEEDED, ...); audit_log is the
 * platform's audit trail, where the events a person may be asked about
 * (EXPORT_REQUESTED, EXPORT_DOWNLOADED, SCHEDULER_LOCK_FORCE_RELEASED, ...)
 * are also written. Both functions run on the caller's connection, inside
 * the caller's transaction, so an event commits or rolls back together with
 * the state change it describes.
 *
 * Every payload written to audit_log goes through the sanitizer first.
 */
#ifndef OPS_EVENTS_H
#define OPS_EVENTS_H

#include <jansson.h>

#include "db.h"
#include "sanitize.h"

struct ops_event {
	const char	*type;		/* EXPORT_STARTED, ... */
	const char	*severity;	/* debug|info|warning|error|critical */
	const char	*source;	/* binary name: ops-fcgi, ... */
	const char	*tenant_id;	/* may be NULL */
	const char	*subject_type;	/* audit_export, scheduler_lock, job */
	const char	*subject_id;
	const char	*request_id;	/* may be NULL */
	json_t		*data;		/* borrowed; may be NULL */
};

/* Insert one ops_event row. 0 or -1 (db->err set). */
int	events_write(struct db *db, const struct ops_event *ev);

struct audit_entry {
	const char	*tenant_id;	/* required; "_system" for global */
	const char	*actor_id;
	const char	*action;	/* EXPORT_REQUESTED, ... */
	const char	*target_type;
	const char	*target_id;
	const char	*ip;		/* may be NULL */
	const char	*request_id;	/* may be NULL */
	const json_t	*payload;	/* borrowed; sanitized before insert */
};

/* Insert one sanitized audit_log row. 0 or -1 (db->err set). */
int	audit_write(struct db *db, const struct sanitize_rules *rules,
	    const struct audit_entry *e);

/*
 * The tenant recorded for events that belong to no tenant (scheduler locks,
 * job runs): audit_log.tenant_id is NOT NULL.
 */
#define EVENTS_SYSTEM_TENANT	"_system"

#endif
