/*
 * codes: the catalog of NOTION_AUTH_* codes and the report of one run's
 * findings (notion.h, "Codes" and "Report").
 */
#include "notion_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>


/*
 * The code catalog: the one place that names, numbers and explains the
 * codes. runbooks/notion-ci-token.md has a "## NAME" section for each entry
 * (anchor = lower-case name) and a table with the same causes; the
 * integration test compares them with --list-codes.
 */
static const struct notion_code_info catalog[] = {
	{ NOTION_AUTH_MISSING, "NOTION_AUTH_MISSING", 10, NOTION_SEV_ERROR,
	    "no token: NOTION_TOKEN and NOTION_TOKEN_FILE are unset, or the "
	    "token file cannot be read", "notion_auth_missing" },
	{ NOTION_AUTH_MALFORMED, "NOTION_AUTH_MALFORMED", 11, NOTION_SEV_ERROR,
	    "the token is empty or contains whitespace or control characters",
	    "notion_auth_malformed" },
	{ NOTION_AUTH_INVALID, "NOTION_AUTH_INVALID", 12, NOTION_SEV_ERROR,
	    "401 unauthorized: the token is expired, revoked or wrong",
	    "notion_auth_invalid" },
	{ NOTION_AUTH_FORBIDDEN, "NOTION_AUTH_FORBIDDEN", 13, NOTION_SEV_ERROR,
	    "403 restricted_resource: the integration lacks a capability or "
	    "access", "notion_auth_forbidden" },
	{ NOTION_AUTH_TARGET_UNSHARED, "NOTION_AUTH_TARGET_UNSHARED", 14,
	    NOTION_SEV_ERROR, "404 object_not_found: a sync target is not "
	    "shared with the integration (or does not exist)",
	    "notion_auth_target_unshared" },
	{ NOTION_AUTH_RATE_LIMITED, "NOTION_AUTH_RATE_LIMITED", 15,
	    NOTION_SEV_ERROR, "429 rate_limited: still rate limited after "
	    "retries", "notion_auth_rate_limited" },
	{ NOTION_AUTH_UPSTREAM, "NOTION_AUTH_UPSTREAM", 16, NOTION_SEV_ERROR,
	    "Notion answered 5xx or 529 after retries",
	    "notion_auth_upstream" },
	{ NOTION_AUTH_NETWORK, "NOTION_AUTH_NETWORK", 17, NOTION_SEV_ERROR,
	    "no HTTP answer: DNS, connect, TLS or timeout failure",
	    "notion_auth_network" },
	{ NOTION_AUTH_UNEXPECTED, "NOTION_AUTH_UNEXPECTED", 18, NOTION_SEV_ERROR,
	    "unparseable or unexpected answer (not JSON, wrong object, person "
	    "token, unexpected status)", "notion_auth_unexpected" },
	{ NOTION_AUTH_ROTATION_OVERDUE, "NOTION_AUTH_ROTATION_OVERDUE", 19,
	    NOTION_SEV_ERROR, "the token is past its rotation deadline",
	    "notion_auth_rotation_overdue" },
	{ NOTION_AUTH_ROTATION_DUE, "NOTION_AUTH_ROTATION_DUE", 0,
	    NOTION_SEV_WARNING, "the token's rotation deadline is inside the "
	    "warning window", "notion_auth_rotation_due" },
};

#define CATALOG_LEN	(sizeof(catalog) / sizeof(catalog[0]))

_Static_assert(CATALOG_LEN == NOTION_CODE_COUNT - 1,
    "every notion_code but NOTION_OK has one catalog entry");

const struct notion_code_info *
notion_catalog(size_t *n)
{
	*n = CATALOG_LEN;
	return catalog;
}

const struct notion_code_info *
notion_code_lookup(enum notion_code code)
{
	for (size_t i = 0; i < CATALOG_LEN; i++)
		if (catalog[i].code == code)
			return &catalog[i];
	return NULL;
}

const char *
notion_code_name(enum notion_code code)
{
	const struct notion_code_info *ci = notion_code_lookup(code);

	return ci ? ci->name : "NOTION_OK";
}

/*
 * Report.
 */

void
notion_report_init(struct notion_report *r)
{
	memset(r, 0, sizeof(*r));
}

void
notion_report_add(struct notion_report *r, enum notion_code code,
    long http_status, const char *request_id, const char *target,
    const char *fmt, ...)
{
	struct notion_finding *f;
	struct buf b = BUF_INIT;
	va_list ap;

	if (r->nfindings == NOTION_MAX_FINDINGS) {
		r->dropped++;
		return;
	}
	f = &r->findings[r->nfindings++];
	memset(f, 0, sizeof(*f));
	f->code = code;
	f->http_status = http_status;
	notion_copy_word(f->request_id, sizeof(f->request_id), request_id);
	notion_copy_text(f->target, sizeof(f->target), target);
	va_start(ap, fmt);
	buf_vappendf(&b, fmt, ap);
	va_end(ap);
	notion_copy_text(f->message, sizeof(f->message), buf_str(&b));
	buf_free(&b);
}

enum notion_code
notion_report_code(const struct notion_report *r)
{
	enum notion_code rotation = NOTION_OK;

	for (size_t i = 0; i < r->nfindings; i++) {
		const struct notion_code_info *ci =
		    notion_code_lookup(r->findings[i].code);

		if (ci == NULL || ci->severity != NOTION_SEV_ERROR)
			continue;
		if (ci->code != NOTION_AUTH_ROTATION_OVERDUE)
			return ci->code;
		rotation = ci->code;
	}
	return rotation;
}

int
notion_report_exit(const struct notion_report *r)
{
	const struct notion_code_info *ci =
	    notion_code_lookup(notion_report_code(r));

	return ci ? ci->exit_status : 0;
}
