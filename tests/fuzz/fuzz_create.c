/*
 * fuzz_create: the export create body and RFC 3339 parsing (lib/export.c:
 * export_request_parse; lib/date.c: date_parse_rfc3339), with the default limits.
 *
 * The input is the request body as ops-fcgi reads it (jansson, duplicate
 * keys refused), and, up to its first NUL, a timestamp string. Oracles:
 * a body is accepted (0, no details) or refused (-1, at least one
 * {"field","issue"} detail), never both; an accepted request has from
 * before to, canonical timestamps that parse again to the same instant,
 * a known format and limits within the caps, the compression the body
 * named ("none" when it named none); parsing a timestamp twice
 * gives the same answer.
 *
 * The same body is also read as the two other bodies of the export API
 * (contract section 15): a bulk cancel (export_cancel_request_parse:
 * accepted with ids xor a filter, a state PENDING or RUNNING, or refused
 * naming a field) and a retry's changes laid over a fixed original
 * (export_retry_body, then export_request_parse as the retry does: an
 * accepted retry keeps the original's tenant).
 */
#include <jansson.h>
#include <string.h>

#include "config.h"
#include "date.h"
#include "export.h"
#include "fuzz.h"

static struct ops_config cfg;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	return config_load(&cfg, NULL, err, sizeof(err));
}

static void
details_check(int rc, json_t *details)
{
	size_t i;
	json_t *d;

	FUZZ_CHECK(rc == 0 || (rc == -1 && json_array_size(details) > 0));
	json_array_foreach(details, i, d)
		FUZZ_CHECK(json_is_string(json_object_get(d, "field")) &&
		    json_is_string(json_object_get(d, "issue")));
}

static void
other_bodies(const json_t *body)
{
	struct export_cancel_request cr;
	struct export_request req;
	json_t *details = NULL, *base, *merged = NULL;
	int rc;

	rc = export_cancel_request_parse(body, &cr, &details);
	details_check(rc, details);
	json_decref(details);
	details = NULL;
	if (rc == 0) {
		FUZZ_CHECK((cr.nids > 0) != (cr.state[0] || cr.tenant_id[0] ||
		    cr.requested_by[0]));
		FUZZ_CHECK(cr.nids <= EXPORT_CANCEL_MAX_IDS);
		for (size_t i = 0; i < cr.nids; i++)
			FUZZ_CHECK(export_id_valid(cr.ids[i]));
		FUZZ_CHECK(cr.state[0] == '\0' || strcmp(cr.state,
		    "PENDING") == 0 || strcmp(cr.state, "RUNNING") == 0);
	}
	base = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[s]}", "tenant_id",
	    "acme", "from", "2026-10-01T00:00:00Z", "to",
	    "2026-10-02T00:00:00Z", "format", "jsonl", "compression", "none",
	    "actions", "user.login");
	FUZZ_CHECK(base != NULL);
	rc = export_retry_body(base, body, &merged, &details);
	details_check(rc, details);
	json_decref(details);
	details = NULL;
	if (rc == 0) {
		rc = export_request_parse(merged, &cfg, &req, &details);
		details_check(rc, details);
		if (rc == 0) {
			FUZZ_CHECK(strcmp(req.tenant_id, "acme") == 0);
			export_request_free(&req);
		}
		json_decref(details);
		json_decref(merged);
	}
	json_decref(base);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct export_request req;
	json_t *body, *details = NULL, *d;
	int64_t u1, u2, f_u, t_u;
	char *ts;
	size_t i;
	int rc, r1, r2;

	ts = strndup((const char *)data, size);
	FUZZ_CHECK(ts != NULL);
	r1 = date_parse_rfc3339(ts, &u1);
	r2 = date_parse_rfc3339(ts, &u2);
	FUZZ_CHECK(r1 == r2 && (r1 != 0 || u1 == u2));
	free(ts);

	body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES,
	    NULL);
	if (body == NULL)
		return 0;
	other_bodies(body);
	memset(&req, 0, sizeof(req));
	rc = export_request_parse(body, &cfg, &req, &details);
	if (rc != 0) {
		FUZZ_CHECK(rc == -1 && json_array_size(details) > 0);
		json_array_foreach(details, i, d)
			FUZZ_CHECK(json_is_string(json_object_get(d, "field")) &&
			    json_is_string(json_object_get(d, "issue")));
		json_decref(details);
		json_decref(body);
		return 0;
	}
	FUZZ_CHECK(details == NULL || json_array_size(details) == 0);
	json_decref(details);
	FUZZ_CHECK(strcmp(req.format, "jsonl") == 0 ||
	    strcmp(req.format, "csv") == 0);
	{
		const json_t *c = json_object_get(body, "compression");

		FUZZ_CHECK(c == NULL ? req.compression == COMPRESS_NONE :
		    json_is_string(c) && strcmp(json_string_value(c),
		    compress_codec_name(req.compression)) == 0);
	}
	FUZZ_CHECK(date_parse_rfc3339(req.from, &f_u) == 0);
	FUZZ_CHECK(date_parse_rfc3339(req.to, &t_u) == 0);
	FUZZ_CHECK(f_u < t_u);
	FUZZ_CHECK(req.max_rows >= 1 && req.max_rows <= cfg.export.max_rows_cap);
	FUZZ_CHECK(req.max_bytes >= 1 &&
	    req.max_bytes <= cfg.export.max_bytes_cap);
	FUZZ_CHECK(strlen(req.request_hash) == 64);
	export_request_free(&req);
	json_decref(body);
	return 0;
}
