/*
 * rbac: one static table is the matrix; everything else reads it.
 */
#include "rbac.h"

#include <string.h>

static const char *const role_names[ROLE_COUNT] = {
	[ROLE_SUPER_ADMIN] = "SUPER_ADMIN",
	[ROLE_OPS_ADMIN] = "OPS_ADMIN",
	[ROLE_AUDITOR] = "AUDITOR",
	[ROLE_TENANT_ADMIN] = "TENANT_ADMIN",
};

static const char *const cap_names[CAP_COUNT] = {
	[CAP_EXPORT_CREATE] = "export.create",
	[CAP_EXPORT_DOWNLOAD] = "export.download",
	[CAP_EXPORT_READ] = "export.read",
	[CAP_EXPORT_CANCEL] = "export.cancel",
	[CAP_OPS_STATUS] = "ops.status",
	[CAP_LOCK_RELEASE] = "lock.release",
	[CAP_WEBHOOK_MANAGE] = "webhook.manage",
	[CAP_WEBHOOK_READ] = "webhook.read",
};

static const char *const scope_names[] = {
	[SCOPE_NONE] = "no",
	[SCOPE_OWN_REQUESTS] = "own requests",
	[SCOPE_OWN_TENANT] = "own tenant",
	[SCOPE_ANY] = "any tenant",
};

/* The matrix of CONTRACT.md section 4. Keep in step with rbac.h's comment. */
static const enum rbac_scope matrix[ROLE_COUNT][CAP_COUNT] = {
	[ROLE_SUPER_ADMIN] = {
		[CAP_EXPORT_CREATE] = SCOPE_ANY,
		[CAP_EXPORT_DOWNLOAD] = SCOPE_ANY,
		[CAP_EXPORT_READ] = SCOPE_ANY,
		[CAP_EXPORT_CANCEL] = SCOPE_ANY,
		[CAP_OPS_STATUS] = SCOPE_ANY,
		[CAP_LOCK_RELEASE] = SCOPE_ANY,
		[CAP_WEBHOOK_MANAGE] = SCOPE_ANY,
		[CAP_WEBHOOK_READ] = SCOPE_ANY,
	},
	[ROLE_OPS_ADMIN] = {
		[CAP_EXPORT_CREATE] = SCOPE_NONE,
		[CAP_EXPORT_DOWNLOAD] = SCOPE_NONE,
		[CAP_EXPORT_READ] = SCOPE_ANY,	/* metadata only */
		[CAP_EXPORT_CANCEL] = SCOPE_ANY,
		[CAP_OPS_STATUS] = SCOPE_ANY,
		[CAP_LOCK_RELEASE] = SCOPE_ANY,
		[CAP_WEBHOOK_MANAGE] = SCOPE_NONE,
		[CAP_WEBHOOK_READ] = SCOPE_ANY,
	},
	[ROLE_AUDITOR] = {
		[CAP_EXPORT_CREATE] = SCOPE_ANY,
		[CAP_EXPORT_DOWNLOAD] = SCOPE_ANY,
		[CAP_EXPORT_READ] = SCOPE_ANY,
		[CAP_EXPORT_CANCEL] = SCOPE_OWN_REQUESTS,
		[CAP_OPS_STATUS] = SCOPE_NONE,
		[CAP_LOCK_RELEASE] = SCOPE_NONE,
		[CAP_WEBHOOK_MANAGE] = SCOPE_NONE,
		[CAP_WEBHOOK_READ] = SCOPE_ANY,
	},
	[ROLE_TENANT_ADMIN] = {
		[CAP_EXPORT_CREATE] = SCOPE_OWN_TENANT,
		[CAP_EXPORT_DOWNLOAD] = SCOPE_OWN_TENANT,
		[CAP_EXPORT_READ] = SCOPE_OWN_TENANT,
		[CAP_EXPORT_CANCEL] = SCOPE_OWN_TENANT,
		[CAP_OPS_STATUS] = SCOPE_NONE,
		[CAP_LOCK_RELEASE] = SCOPE_NONE,
		[CAP_WEBHOOK_MANAGE] = SCOPE_OWN_TENANT,
		[CAP_WEBHOOK_READ] = SCOPE_OWN_TENANT,
	},
};

int
rbac_role_parse(const char *s)
{
	int i;

	if (s == NULL)
		return -1;
	for (i = 0; i < ROLE_COUNT; i++)
		if (strcmp(s, role_names[i]) == 0)
			return i;
	return -1;
}

const char *
rbac_role_name(enum rbac_role r)
{
	return (unsigned)r < ROLE_COUNT ? role_names[r] : "?";
}

const char *
rbac_cap_name(enum rbac_cap c)
{
	return (unsigned)c < CAP_COUNT ? cap_names[c] : "?";
}

const char *
rbac_scope_name(enum rbac_scope s)
{
	return (unsigned)s <= SCOPE_ANY ? scope_names[s] : "?";
}

enum rbac_scope
rbac_role_scope(enum rbac_role r, enum rbac_cap c)
{
	if ((unsigned)r >= ROLE_COUNT || (unsigned)c >= CAP_COUNT)
		return SCOPE_NONE;
	return matrix[r][c];
}

enum rbac_scope
rbac_scope_for(const char *const *roles, size_t nroles, enum rbac_cap c)
{
	enum rbac_scope best = SCOPE_NONE, s;
	size_t i;
	int r;

	for (i = 0; roles != NULL && i < nroles; i++) {
		if ((r = rbac_role_parse(roles[i])) < 0)
			continue;
		if ((s = rbac_role_scope((enum rbac_role)r, c)) > best)
			best = s;
	}
	return best;
}

static bool
same(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static bool
scope_covers(enum rbac_scope s, const char *sub, const char *tenant_id,
    const char *obj_tenant, const char *obj_requested_by)
{
	switch (s) {
	case SCOPE_ANY:
		return true;
	case SCOPE_OWN_TENANT:
		return same(tenant_id, obj_tenant);
	case SCOPE_OWN_REQUESTS:
		return same(sub, obj_requested_by);
	case SCOPE_NONE:
		break;
	}
	return false;
}

bool
rbac_allows(const char *const *roles, size_t nroles, const char *sub,
    const char *tenant_id, enum rbac_cap c, const char *obj_tenant,
    const char *obj_requested_by)
{
	size_t i;
	int r;

	for (i = 0; roles != NULL && i < nroles; i++) {
		if ((r = rbac_role_parse(roles[i])) < 0)
			continue;
		if (scope_covers(rbac_role_scope((enum rbac_role)r, c), sub,
		    tenant_id, obj_tenant, obj_requested_by))
			return true;
	}
	return false;
}

bool
rbac_metadata_only(const char *const *roles, size_t nroles, const char *sub,
    const char *tenant_id, const char *obj_tenant,
    const char *obj_requested_by)
{
	return rbac_allows(roles, nroles, sub, tenant_id, CAP_EXPORT_READ,
	    obj_tenant, obj_requested_by) &&
	    !rbac_allows(roles, nroles, sub, tenant_id, CAP_EXPORT_DOWNLOAD,
	    obj_tenant, obj_requested_by);
}

void
rbac_print_matrix(FILE *out)
{
	int r, c;

	for (r = 0; r < ROLE_COUNT; r++)
		for (c = 0; c < CAP_COUNT; c++)
			fprintf(out, "%s\t%s\t%s\n", role_names[r],
			    cap_names[c], scope_names[matrix[r][c]]);
}
