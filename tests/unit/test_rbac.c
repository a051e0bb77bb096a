/*
 * test_rbac: the role matrix of CONTRACT.md section 4, written out again
 * here independently of lib/rbac.c's table, plus object-level decisions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbac.h"

#define N	SCOPE_NONE
#define REQ	SCOPE_OWN_REQUESTS
#define TEN	SCOPE_OWN_TENANT
#define ANY	SCOPE_ANY

/* Rows: capabilities; columns: SUPER_ADMIN, OPS_ADMIN, AUDITOR, TENANT_ADMIN. */
static const enum rbac_scope contract[CAP_COUNT][ROLE_COUNT] = {
	[CAP_EXPORT_CREATE] =	{ ANY, N,   ANY, TEN },
	[CAP_EXPORT_DOWNLOAD] =	{ ANY, N,   ANY, TEN },
	[CAP_EXPORT_READ] =	{ ANY, ANY, ANY, TEN },
	[CAP_EXPORT_CANCEL] =	{ ANY, ANY, REQ, TEN },
	[CAP_OPS_STATUS] =	{ ANY, ANY, N,   N },
	[CAP_LOCK_RELEASE] =	{ ANY, ANY, N,   N },
	[CAP_WEBHOOK_MANAGE] =	{ ANY, N,   N,   TEN },
	[CAP_WEBHOOK_READ] =	{ ANY, ANY, ANY, TEN },
};

static void
test_matrix(void **state)
{
	int r, c;

	(void)state;
	for (r = 0; r < ROLE_COUNT; r++) {
		for (c = 0; c < CAP_COUNT; c++) {
			enum rbac_scope got = rbac_role_scope(
			    (enum rbac_role)r, (enum rbac_cap)c);
			if (got != contract[c][r])
				fail_msg("%s %s: got %s, contract says %s",
				    rbac_role_name((enum rbac_role)r),
				    rbac_cap_name((enum rbac_cap)c),
				    rbac_scope_name(got),
				    rbac_scope_name(contract[c][r]));
		}
	}
	assert_int_equal(rbac_role_scope(ROLE_COUNT, CAP_EXPORT_READ), N);
	assert_int_equal(rbac_role_scope(ROLE_SUPER_ADMIN, CAP_COUNT), N);
}

static void
test_names(void **state)
{
	static const char *const unknown[] = {
		"super_admin", "SUPER_ADMIN ", " SUPER_ADMIN", "ADMIN", "",
		"TENANT", "ROLE_SUPER_ADMIN", "Auditor",
	};
	size_t i;
	int r;

	(void)state;
	for (r = 0; r < ROLE_COUNT; r++)
		assert_int_equal(rbac_role_parse(
		    rbac_role_name((enum rbac_role)r)), r);
	assert_int_equal(rbac_role_parse("SUPER_ADMIN"), ROLE_SUPER_ADMIN);
	assert_int_equal(rbac_role_parse("OPS_ADMIN"), ROLE_OPS_ADMIN);
	assert_int_equal(rbac_role_parse("AUDITOR"), ROLE_AUDITOR);
	assert_int_equal(rbac_role_parse("TENANT_ADMIN"), ROLE_TENANT_ADMIN);
	for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		assert_int_equal(rbac_role_parse(unknown[i]), -1);
	assert_int_equal(rbac_role_parse(NULL), -1);
	assert_string_equal(rbac_role_name(ROLE_COUNT), "?");

	assert_string_equal(rbac_cap_name(CAP_EXPORT_CREATE), "export.create");
	assert_string_equal(rbac_cap_name(CAP_EXPORT_DOWNLOAD),
	    "export.download");
	assert_string_equal(rbac_cap_name(CAP_EXPORT_READ), "export.read");
	assert_string_equal(rbac_cap_name(CAP_EXPORT_CANCEL), "export.cancel");
	assert_string_equal(rbac_cap_name(CAP_OPS_STATUS), "ops.status");
	assert_string_equal(rbac_cap_name(CAP_LOCK_RELEASE), "lock.release");
	assert_string_equal(rbac_cap_name(CAP_COUNT), "?");

	assert_string_equal(rbac_scope_name(SCOPE_NONE), "no");
	assert_string_equal(rbac_scope_name(SCOPE_OWN_REQUESTS),
	    "own requests");
	assert_string_equal(rbac_scope_name(SCOPE_OWN_TENANT), "own tenant");
	assert_string_equal(rbac_scope_name(SCOPE_ANY), "any tenant");
	assert_string_equal(rbac_scope_name((enum rbac_scope)99), "?");

	/* The header promises "wider is larger". */
	assert_true(SCOPE_NONE < SCOPE_OWN_REQUESTS);
	assert_true(SCOPE_OWN_REQUESTS < SCOPE_OWN_TENANT);
	assert_true(SCOPE_OWN_TENANT < SCOPE_ANY);
}

static void
test_scope_for(void **state)
{
	const char *const ta_aud[] = { "TENANT_ADMIN", "AUDITOR" };
	const char *const junk[] = { "ROOT", "super_admin", "", NULL };
	const char *const junk_ta[] = { "ROOT", NULL, "TENANT_ADMIN" };
	const char *const ops[] = { "OPS_ADMIN" };
	int c;

	(void)state;
	for (c = 0; c < CAP_COUNT; c++) {
		assert_int_equal(rbac_scope_for(junk, 4, (enum rbac_cap)c), N);
		assert_int_equal(rbac_scope_for(NULL, 0, (enum rbac_cap)c), N);
		assert_int_equal(rbac_scope_for(NULL, 3, (enum rbac_cap)c), N);
		assert_int_equal(rbac_scope_for(junk_ta, 3, (enum rbac_cap)c),
		    contract[c][ROLE_TENANT_ADMIN]);
	}
	assert_int_equal(rbac_scope_for(ta_aud, 2, CAP_EXPORT_CANCEL), TEN);
	assert_int_equal(rbac_scope_for(ta_aud, 2, CAP_EXPORT_CREATE), ANY);
	assert_int_equal(rbac_scope_for(ta_aud, 1, CAP_EXPORT_CREATE), TEN);
	assert_int_equal(rbac_scope_for(ta_aud, 2, CAP_OPS_STATUS), N);
	assert_int_equal(rbac_scope_for(ops, 1, CAP_EXPORT_DOWNLOAD), N);
	assert_int_equal(rbac_scope_for(ops, 0, CAP_OPS_STATUS), N);
}

#define MAXR	4

struct allow_case {
	const char	*name;
	const char	*roles[MAXR];
	const char	*sub;
	const char	*tenant;
	enum rbac_cap	 cap;
	const char	*obj_tenant;
	const char	*obj_by;
	bool		 want;
};

static size_t
nroles_of(const char *const *roles)
{
	size_t n = 0;

	while (n < MAXR && roles[n] != NULL)
		n++;
	return n;
}

static const struct allow_case allow_cases[] = {
	/* SUPER_ADMIN: everything, any tenant, even without a tenant. */
	{ "super create other tenant", { "SUPER_ADMIN" }, "u1", NULL,
	    CAP_EXPORT_CREATE, "t2", NULL, true },
	{ "super download", { "SUPER_ADMIN" }, "u1", "t1",
	    CAP_EXPORT_DOWNLOAD, "t2", "u9", true },
	{ "super lock release", { "SUPER_ADMIN" }, "u1", NULL,
	    CAP_LOCK_RELEASE, NULL, NULL, true },
	/* OPS_ADMIN: read and cancel anywhere, never create or download. */
	{ "ops read", { "OPS_ADMIN" }, "u1", NULL, CAP_EXPORT_READ, "t2",
	    "u9", true },
	{ "ops cancel", { "OPS_ADMIN" }, "u1", NULL, CAP_EXPORT_CANCEL, "t2",
	    "u9", true },
	{ "ops create", { "OPS_ADMIN" }, "u1", "t2", CAP_EXPORT_CREATE, "t2",
	    NULL, false },
	{ "ops download own request", { "OPS_ADMIN" }, "u1", "t2",
	    CAP_EXPORT_DOWNLOAD, "t2", "u1", false },
	{ "ops status", { "OPS_ADMIN" }, "u1", NULL, CAP_OPS_STATUS, NULL,
	    NULL, true },
	{ "ops lock release", { "OPS_ADMIN" }, "u1", NULL, CAP_LOCK_RELEASE,
	    NULL, NULL, true },
	/* AUDITOR: exports anywhere, cancel only own requests, no ops. */
	{ "auditor create", { "AUDITOR" }, "a1", NULL, CAP_EXPORT_CREATE,
	    "t2", NULL, true },
	{ "auditor download", { "AUDITOR" }, "a1", NULL, CAP_EXPORT_DOWNLOAD,
	    "t2", "u9", true },
	{ "auditor cancel own request", { "AUDITOR" }, "a1", NULL,
	    CAP_EXPORT_CANCEL, "t2", "a1", true },
	{ "auditor cancel other's request", { "AUDITOR" }, "a1", "t2",
	    CAP_EXPORT_CANCEL, "t2", "u9", false },
	{ "auditor cancel unknown requester", { "AUDITOR" }, "a1", NULL,
	    CAP_EXPORT_CANCEL, "t2", NULL, false },
	{ "auditor cancel without sub", { "AUDITOR" }, NULL, NULL,
	    CAP_EXPORT_CANCEL, "t2", NULL, false },
	{ "auditor ops status", { "AUDITOR" }, "a1", NULL, CAP_OPS_STATUS,
	    NULL, NULL, false },
	{ "auditor lock release", { "AUDITOR" }, "a1", NULL,
	    CAP_LOCK_RELEASE, NULL, NULL, false },
	/* TENANT_ADMIN: own tenant only. */
	{ "tenant create own", { "TENANT_ADMIN" }, "u1", "t1",
	    CAP_EXPORT_CREATE, "t1", NULL, true },
	{ "tenant create other", { "TENANT_ADMIN" }, "u1", "t1",
	    CAP_EXPORT_CREATE, "t2", NULL, false },
	{ "tenant download own", { "TENANT_ADMIN" }, "u1", "t1",
	    CAP_EXPORT_DOWNLOAD, "t1", "u9", true },
	{ "tenant download other", { "TENANT_ADMIN" }, "u1", "t1",
	    CAP_EXPORT_DOWNLOAD, "t2", "u1", false },
	{ "tenant read own", { "TENANT_ADMIN" }, "u1", "t1", CAP_EXPORT_READ,
	    "t1", NULL, true },
	{ "tenant read other", { "TENANT_ADMIN" }, "u1", "t1",
	    CAP_EXPORT_READ, "t2", NULL, false },
	{ "tenant read prefix tenant", { "TENANT_ADMIN" }, "u1", "t1",
	    CAP_EXPORT_READ, "t10", NULL, false },
	{ "tenant cancel own tenant", { "TENANT_ADMIN" }, "u1", "t1",
	    CAP_EXPORT_CANCEL, "t1", "u9", true },
	{ "tenant cancel other tenant", { "TENANT_ADMIN" }, "u1", "t1",
	    CAP_EXPORT_CANCEL, "t2", "u1", false },
	{ "tenant without tenant_id", { "TENANT_ADMIN" }, "u1", NULL,
	    CAP_EXPORT_READ, "t1", NULL, false },
	{ "tenant object without tenant", { "TENANT_ADMIN" }, "u1", "t1",
	    CAP_EXPORT_READ, NULL, NULL, false },
	{ "tenant ops status", { "TENANT_ADMIN" }, "u1", "t1",
	    CAP_OPS_STATUS, NULL, NULL, false },
	{ "tenant lock release", { "TENANT_ADMIN" }, "u1", "t1",
	    CAP_LOCK_RELEASE, NULL, NULL, false },
	/* Unknown roles grant nothing, and do not spoil known ones. */
	{ "unknown only", { "ROOT", "admin" }, "u1", "t1", CAP_EXPORT_READ,
	    "t1", "u1", false },
	{ "lower-case role", { "super_admin" }, "u1", "t1", CAP_OPS_STATUS,
	    NULL, NULL, false },
	{ "no roles", { NULL }, "u1", "t1", CAP_EXPORT_READ, "t1", "u1",
	    false },
	{ "unknown then known", { "ROOT", "TENANT_ADMIN" }, "u1", "t1",
	    CAP_EXPORT_READ, "t1", NULL, true },
	/*
	 * Roles combine per object: TENANT_ADMIN of t1 who is also AUDITOR
	 * may cancel their own request in t2 although "own tenant" is the
	 * wider scope.
	 */
	{ "tenant+auditor cancel own request elsewhere",
	    { "TENANT_ADMIN", "AUDITOR" }, "u1", "t1", CAP_EXPORT_CANCEL,
	    "t2", "u1", true },
	{ "tenant+auditor cancel other's request elsewhere",
	    { "TENANT_ADMIN", "AUDITOR" }, "u1", "t1", CAP_EXPORT_CANCEL,
	    "t2", "u9", false },
	{ "auditor+tenant cancel in own tenant",
	    { "AUDITOR", "TENANT_ADMIN" }, "u1", "t1", CAP_EXPORT_CANCEL,
	    "t1", "u9", true },
};

static void
test_allows(void **state)
{
	const struct allow_case *tc;
	size_t i;
	bool got;

	(void)state;
	for (i = 0; i < sizeof(allow_cases) / sizeof(allow_cases[0]); i++) {
		tc = &allow_cases[i];
		got = rbac_allows(tc->roles, nroles_of(tc->roles), tc->sub,
		    tc->tenant, tc->cap, tc->obj_tenant, tc->obj_by);
		if (got != tc->want)
			fail_msg("%s: got %d, want %d", tc->name, got,
			    tc->want);
	}
	assert_false(rbac_allows(NULL, 2, "u1", "t1", CAP_EXPORT_READ, "t1",
	    NULL));
}

struct meta_case {
	const char	*name;
	const char	*roles[MAXR];
	const char	*tenant;
	const char	*obj_tenant;
	bool		 want;
};

static const struct meta_case meta_cases[] = {
	{ "ops admin", { "OPS_ADMIN" }, NULL, "t1", true },
	{ "ops admin with own tenant", { "OPS_ADMIN" }, "t1", "t1", true },
	{ "ops + auditor", { "OPS_ADMIN", "AUDITOR" }, NULL, "t1", false },
	{ "ops + super", { "OPS_ADMIN", "SUPER_ADMIN" }, NULL, "t1", false },
	{ "ops + tenant admin, own tenant", { "OPS_ADMIN", "TENANT_ADMIN" },
	    "t1", "t1", false },
	{ "ops + tenant admin, other tenant", { "OPS_ADMIN", "TENANT_ADMIN" },
	    "t1", "t2", true },
	{ "super", { "SUPER_ADMIN" }, NULL, "t1", false },
	{ "auditor", { "AUDITOR" }, NULL, "t1", false },
	{ "tenant admin own", { "TENANT_ADMIN" }, "t1", "t1", false },
	/* No read right at all: not "metadata only", simply no access. */
	{ "tenant admin other", { "TENANT_ADMIN" }, "t1", "t2", false },
	{ "unknown", { "ROOT" }, "t1", "t1", false },
};

static void
test_metadata_only(void **state)
{
	const struct meta_case *tc;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(meta_cases) / sizeof(meta_cases[0]); i++) {
		tc = &meta_cases[i];
		if (rbac_metadata_only(tc->roles, nroles_of(tc->roles), "u1",
		    tc->tenant, tc->obj_tenant, "u9") != tc->want)
			fail_msg("%s: want %d", tc->name, tc->want);
	}
}

static void
test_print_matrix(void **state)
{
	char *text = NULL, line[128];
	size_t size = 0, nlines = 0;
	FILE *f;
	int r, c;

	(void)state;
	assert_non_null(f = open_memstream(&text, &size));
	rbac_print_matrix(f);
	assert_int_equal(fclose(f), 0);
	for (const char *p = text; *p; p++)
		nlines += *p == '\n';
	assert_int_equal(nlines, ROLE_COUNT * CAP_COUNT);
	for (r = 0; r < ROLE_COUNT; r++) {
		for (c = 0; c < CAP_COUNT; c++) {
			snprintf(line, sizeof(line), "%s\t%s\t%s\n",
			    rbac_role_name((enum rbac_role)r),
			    rbac_cap_name((enum rbac_cap)c),
			    rbac_scope_name(contract[c][r]));
			if (strstr(text, line) == NULL)
				fail_msg("missing line %s", line);
		}
	}
	assert_non_null(strstr(text, "AUDITOR\texport.cancel\town requests\n"));
	assert_non_null(strstr(text, "OPS_ADMIN\texport.download\tno\n"));
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matrix),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_scope_for),
		cmocka_unit_test(test_allows),
		cmocka_unit_test(test_metadata_only),
		cmocka_unit_test(test_print_matrix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
