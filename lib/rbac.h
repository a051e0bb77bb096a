/*
 * rbac: the fixed role taxonomy and its capability matrix (CONTRACT.md 4).
 *
 *   capability       SUPER_ADMIN  OPS_ADMIN    AUDITOR       TENANT_ADMIN
 *   export.create    any tenant   no           any tenant    own tenant
 *   export.download  any tenant   no           any tenant    own tenant
 *   export.read      any tenant   any tenant*  any tenant    own tenant
 *   export.cancel    any tenant   any tenant   own requests  own tenant
 *   ops.status       any tenant   any tenant   no            no
 *   lock.release     any tenant   any tenant   no            no
 *   webhook.manage   any tenant   no           no            own tenant
 *   webhook.read     any tenant   any tenant   any tenant    own tenant
 *
 *   * metadata only: OPS_ADMIN may read jobs but not download them, see
 *     rbac_metadata_only(). "any tenant" means "yes" for the capabilities
 *     that have no tenant (ops.status, lock.release).
 *
 * Role names are matched exactly (case-sensitive); unknown role strings
 * grant nothing. All functions are pure (no state, no allocation) and
 * return static strings; they are safe from any thread.
 */
#ifndef OPS_RBAC_H
#define OPS_RBAC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum rbac_role {
	ROLE_SUPER_ADMIN,
	ROLE_OPS_ADMIN,
	ROLE_AUDITOR,
	ROLE_TENANT_ADMIN,
	ROLE_COUNT
};

enum rbac_cap {
	CAP_EXPORT_CREATE,
	CAP_EXPORT_DOWNLOAD,
	CAP_EXPORT_READ,	/* read one job, list jobs */
	CAP_EXPORT_CANCEL,
	CAP_OPS_STATUS,		/* ops status, scheduler locks */
	CAP_LOCK_RELEASE,	/* force-release a scheduler lock */
	CAP_WEBHOOK_MANAGE,	/* create, delete, rotate endpoints; redeliver */
	CAP_WEBHOOK_READ,	/* list endpoints and deliveries (no secret) */
	CAP_COUNT
};

/*
 * How far a grant reaches, ordered: a wider scope compares larger. Note that
 * SCOPE_OWN_REQUESTS and SCOPE_OWN_TENANT are not nested (a request of the
 * caller may belong to another tenant); rbac_allows() therefore checks each
 * role on its own instead of comparing scopes.
 */
enum rbac_scope {
	SCOPE_NONE = 0,
	SCOPE_OWN_REQUESTS,	/* objects whose requested_by is the caller */
	SCOPE_OWN_TENANT,	/* objects of the caller's tenant_id */
	SCOPE_ANY
};

/* "SUPER_ADMIN" -> ROLE_SUPER_ADMIN, ...; -1 for NULL or unknown. */
int		 rbac_role_parse(const char *s);

/* "SUPER_ADMIN", ...; "?" for a value out of range. */
const char	*rbac_role_name(enum rbac_role r);

/* "export.create", "export.download", "export.read", "export.cancel",
 * "ops.status", "lock.release", "webhook.manage", "webhook.read"; "?" out
 * of range. */
const char	*rbac_cap_name(enum rbac_cap c);

/* "no", "own requests", "own tenant", "any tenant"; "?" out of range. */
const char	*rbac_scope_name(enum rbac_scope s);

/* The raw matrix entry; SCOPE_NONE for out-of-range arguments. */
enum rbac_scope	 rbac_role_scope(enum rbac_role r, enum rbac_cap c);

/*
 * The widest scope any of roles[0..nroles) grants for c (unknown and NULL
 * entries ignored). Good for coarse decisions such as "may this caller list
 * jobs at all, and filtered how"; use rbac_allows() for one object.
 */
enum rbac_scope	 rbac_scope_for(const char *const *roles, size_t nroles,
		    enum rbac_cap c);

/*
 * May the caller (roles, sub, tenant_id; tenant_id NULL for a caller
 * without tenant) use c on an object of obj_tenant requested by
 * obj_requested_by (either may be NULL when unknown or not applicable)?
 * True when at least one known role grants it:
 *   SCOPE_ANY           always;
 *   SCOPE_OWN_TENANT    tenant_id and obj_tenant non-NULL and equal;
 *   SCOPE_OWN_REQUESTS  sub and obj_requested_by non-NULL and equal.
 * For ops.status and lock.release pass NULL objects.
 */
bool		 rbac_allows(const char *const *roles, size_t nroles,
		    const char *sub, const char *tenant_id, enum rbac_cap c,
		    const char *obj_tenant, const char *obj_requested_by);

/*
 * True when the caller may read the job (export.read) but not download it
 * (export.download): show metadata only. This is OPS_ADMIN without a role
 * that grants the download for this object.
 */
bool		 rbac_metadata_only(const char *const *roles, size_t nroles,
		    const char *sub, const char *tenant_id,
		    const char *obj_tenant, const char *obj_requested_by);

/*
 * Print the whole matrix to out, one line per role and capability in enum
 * order: "ROLE\tcapability\tscope\n" with rbac_scope_name() (for
 * `opsctl roles` and the docs consistency check). Write errors are left for
 * the caller to see with ferror(out).
 */
void		 rbac_print_matrix(FILE *out);

#endif
