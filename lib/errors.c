#include "errors.h"
#include "xjson.h"

#include <string.h>

/* Keep in step with docs/api/errors.md (checked by spec_consistency_check). */
static const struct error_def error_catalog[] = {
	{ "VALIDATION_FAILED", 400, "the request is not valid" },
	{ "MALFORMED_JSON", 400, "the request body is not valid JSON" },
	{ "AUTH_REQUIRED", 401, "a bearer token is required" },
	{ "AUTH_INVALID_TOKEN", 401, "the bearer token is not valid" },
	{ "AUTH_TOKEN_EXPIRED", 401, "the bearer token has expired" },
	{ "FORBIDDEN", 403, "your roles do not allow this operation" },
	{ "TENANT_FORBIDDEN", 403, "this tenant is outside your scope" },
	{ "NOT_FOUND", 404, "no such resource" },
	{ "EXPORT_NOT_FOUND", 404, "no such export job" },
	{ "LOCK_NOT_FOUND", 404, "no such scheduler lock" },
	{ "WEBHOOK_NOT_FOUND", 404, "no such webhook endpoint or delivery" },
	{ "METHOD_NOT_ALLOWED", 405, "this method is not allowed here" },
	{ "EXPORT_NOT_READY", 409, "the export is not finished yet" },
	{ "EXPORT_FAILED", 409, "the export failed and has no file" },
	{ "EXPORT_STATE_CONFLICT", 409, "the export is in a state that does not allow this" },
	{ "IDEMPOTENCY_CONFLICT", 409, "this Idempotency-Key was used with a different request" },
	{ "WEBHOOK_LIMIT", 409, "the tenant has as many webhook endpoints as it may have" },
	{ "EXPORT_EXPIRED", 410, "the export file has expired" },
	{ "PAYLOAD_TOO_LARGE", 413, "the request body is too large" },
	{ "UNSUPPORTED_MEDIA_TYPE", 415, "the request body must be application/json" },
	{ "RANGE_NOT_SATISFIABLE", 416, "the requested range is not satisfiable" },
	{ "EXPORT_TOO_MANY_ACTIVE", 429, "too many active exports for this tenant" },
	{ "RATE_LIMITED", 429, "too many requests" },
	{ "INTERNAL_ERROR", 500, "internal error" },
	{ "SERVICE_UNAVAILABLE", 503, "the service is unavailable" },
	{ "DB_UNAVAILABLE", 503, "the database is unavailable" },
	/* job failure codes: a job's error.code, never an HTTP answer */
	{ "EXPORT_CANCELLED", 0, "the export was cancelled" },
	{ "EXPORT_LIMIT_ROWS", 0, "the export has more rows than its limit" },
	{ "EXPORT_LIMIT_BYTES", 0, "the export is larger than its byte limit" },
	{ "EXPORT_LIMIT_DURATION", 0, "the export took longer than its duration limit" },
	{ "EXPORT_RUNNER_LOST", 0, "the export runner was lost too many times" },
	{ "EXPORT_SOURCE_INVALID", 0, "an audit row could not be encoded" },
	{ "EXPORT_STORAGE_CORRUPT", 0, "a chunk kept by an earlier attempt is missing or corrupt" },
};

const struct error_def *
error_find(const char *code)
{
	for (size_t i = 0; i < sizeof(error_catalog) / sizeof(error_catalog[0]); i++)
		if (strcmp(error_catalog[i].code, code) == 0)
			return &error_catalog[i];
	return NULL;
}

json_t *
error_body(const char *code, const char *message, const char *request_id,
    json_t *details)
{
	const struct error_def *def = error_find(code);
	json_t *err;

	if (message == NULL)
		message = def ? def->message : "error";
	err = xjson_pack("{s:s, s:s, s:s, s:o}", "code", code, "message",
	    message, "request_id", request_id ? request_id : "", "details",
	    details ? details : json_array());
	return xjson_pack("{s:o}", "error", err);
}

json_t *
error_detail(const char *field, const char *issue)
{
	return xjson_pack("{s:s, s:s}", "field", field, "issue", issue);
}

void
error_print_catalog(FILE *out)
{
	for (size_t i = 0; i < sizeof(error_catalog) / sizeof(error_catalog[0]); i++)
		fprintf(out, "%s\t%d\t%s\n", error_catalog[i].code,
		    error_catalog[i].status, error_catalog[i].message);
}
