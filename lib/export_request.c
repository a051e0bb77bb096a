/*
 * export_request: validation of what a client sends to the export API:
 * the create body, the list query and its cursor, a job id. Declared in
 * export.h.
 */
#include "export_request.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "date.h"
#include "digest.h"
#include "errors.h"
#include "xalloc.h"
#include "xjson.h"

/* ---- validation ------------------------------------------------------- */

static void
add_issue(json_t *details, const char *field, const char *issue)
{
	xjson_push(details, error_detail(field, issue));
}

/*
 * A body must be a JSON object; each key it has that is not in known[] is
 * an issue. -1 (and an issue) when it is not an object at all.
 */
static int
body_fields_check(const json_t *body, const char *const known[], size_t n,
    json_t *details)
{
	const char *key;
	json_t *v;

	if (!json_is_object(body)) {
		add_issue(details, "body", "must be a JSON object");
		return -1;
	}
	json_object_foreach((json_t *)body, key, v) {
		bool found = false;

		for (size_t i = 0; i < n; i++)
			found |= strcmp(key, known[i]) == 0;
		if (!found)
			add_issue(details, key, "is not a known field");
	}
	return 0;
}

/* Token-ish text: tenant ids and the like. */
static bool
safe_ident(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

static bool
get_limit(const json_t *body, const char *field, long long cap,
    long long dflt, long long *out, json_t *details)
{
	const json_t *v = json_object_get(body, field);
	char msg[128];

	*out = dflt;
	if (v == NULL)
		return true;
	if (!json_is_integer(v)) {
		add_issue(details, field, "must be an integer");
		return false;
	}
	if (json_integer_value(v) < 1 || json_integer_value(v) > cap) {
		snprintf(msg, sizeof(msg), "must be between 1 and %lld", cap);
		add_issue(details, field, msg);
		return false;
	}
	*out = json_integer_value(v);
	return true;
}

static void
parse_time_field(const json_t *body, const char *field, char **out,
    int64_t *us, json_t *details)
{
	const json_t *v = json_object_get(body, field);
	char text[DATE_RFC3339_MAX];

	if (v == NULL) {
		add_issue(details, field, "is required");
	} else if (!json_is_string(v) ||
	    date_parse_rfc3339(json_string_value(v), us) != 0 ||
	    date_format_rfc3339(*us, DATE_FRAC_MICRO, text, sizeof(text)) < 0) {
		add_issue(details, field, "must be an RFC 3339 timestamp such "
		    "as 2026-11-01T00:00:00Z");
	} else {
		*out = xstrdup(text);
	}
}

static void
parse_filters(const json_t *body, struct export_request *req, json_t *details)
{
	const json_t *actions = json_object_get(body, "actions");
	const json_t *actor = json_object_get(body, "actor_id");
	bool ok = true;

	req->filters = json_object();
	if (actions != NULL) {
		size_t i;
		const json_t *a;

		if (!json_is_array(actions) || json_array_size(actions) == 0 ||
		    json_array_size(actions) > 50) {
			add_issue(details, "actions", "must be an array of 1 to "
			    "50 action names");
			ok = false;
		} else {
			json_array_foreach(actions, i, a) {
				if (!json_is_string(a) ||
				    json_string_length(a) == 0 ||
				    json_string_length(a) > 128) {
					add_issue(details, "actions", "each "
					    "action must be a non-empty string "
					    "of at most 128 characters");
					ok = false;
					break;
				}
			}
		}
		if (ok)
			xjson_set(req->filters, "actions",
			    json_deep_copy(actions));
	}
	if (actor != NULL) {
		if (!json_is_string(actor) || json_string_length(actor) == 0 ||
		    json_string_length(actor) > 256)
			add_issue(details, "actor_id", "must be a non-empty "
			    "string of at most 256 characters");
		else
			xjson_set(req->filters, "actor_id",
			    json_string(json_string_value(actor)));
	}
}

int
export_request_parse(const json_t *body, const struct ops_config *cfg,
    struct export_request *req, json_t **details_out)
{
	static const char *const known[] = { "tenant_id", "from", "to",
	    "format", "compression", "actions", "actor_id", "max_rows",
	    "max_bytes", "max_duration_seconds" };
	json_t *details = json_array();
	const json_t *v;
	int64_t from_us = 0, to_us = 0;
	long long dur;
	char *canon;

	memset(req, 0, sizeof(*req));
	*details_out = NULL;
	if (body_fields_check(body, known, sizeof(known) / sizeof(known[0]),
	    details) != 0) {
		*details_out = details;
		return -1;
	}
	v = json_object_get(body, "tenant_id");
	if (v == NULL)
		add_issue(details, "tenant_id", "is required");
	else if (!json_is_string(v) || !safe_ident(json_string_value(v), 128))
		add_issue(details, "tenant_id", "must be 1 to 128 letters, "
		    "digits, '.', '_' or '-'");
	else
		req->tenant_id = xstrdup(json_string_value(v));

	parse_time_field(body, "from", &req->from, &from_us, details);
	parse_time_field(body, "to", &req->to, &to_us, details);
	if (req->from && req->to) {
		int64_t span = to_us - from_us;
		char msg[96];

		if (span <= 0) {
			add_issue(details, "to", "must be later than from");
		} else if (span > cfg->export.max_range_days * 86400LL *
		    DATE_US_PER_SEC) {
			snprintf(msg, sizeof(msg), "the range must be at most "
			    "%d days", cfg->export.max_range_days);
			add_issue(details, "to", msg);
		}
	}

	v = json_object_get(body, "format");
	if (v == NULL)
		add_issue(details, "format", "is required");
	else if (!json_is_string(v) || (strcmp(json_string_value(v), "jsonl") &&
	    strcmp(json_string_value(v), "csv")))
		add_issue(details, "format", "must be \"jsonl\" or \"csv\"");
	else
		req->format = xstrdup(json_string_value(v));

	v = json_object_get(body, "compression");
	if (v == NULL)
		req->compression = COMPRESS_NONE;
	else if (!json_is_string(v) ||
	    compress_codec_parse(json_string_value(v), &req->compression) != 0)
		add_issue(details, "compression", "must be \"none\", \"gzip\" "
		    "or \"zstd\"");

	parse_filters(body, req, details);
	(void)get_limit(body, "max_rows", cfg->export.max_rows_cap,
	    cfg->export.max_rows, &req->max_rows, details);
	(void)get_limit(body, "max_bytes", cfg->export.max_bytes_cap,
	    cfg->export.max_bytes, &req->max_bytes, details);
	(void)get_limit(body, "max_duration_seconds",
	    cfg->export.max_duration_seconds, cfg->export.max_duration_seconds,
	    &dur, details);
	req->max_duration_seconds = (int)dur;

	if (json_array_size(details) > 0) {
		export_request_free(req);
		*details_out = details;
		return -1;
	}
	json_decref(details);
	canon = xnonnull(json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS));
	digest_sha256_hex(canon, strlen(canon), req->request_hash);
	free(canon);
	return 0;
}

int
export_retry_body(const json_t *base, const json_t *over, json_t **out,
    json_t **details)
{
	static const char *const allowed[] = { "from", "to", "format",
	    "compression", "max_rows", "max_bytes", "max_duration_seconds" };
	const char *key;
	json_t *v;

	*out = NULL;
	*details = json_array();
	if (over != NULL && !json_is_object(over)) {
		add_issue(*details, "body", "must be a JSON object");
		return -1;
	}
	*out = json_deep_copy(base);
	if (over != NULL) {
		json_object_foreach((json_t *)over, key, v) {
			bool found = false;

			for (size_t i = 0; i < sizeof(allowed) /
			    sizeof(allowed[0]); i++)
				found |= strcmp(key, allowed[i]) == 0;
			if (!found)
				add_issue(*details, key, "cannot be changed "
				    "by a retry (from, to, format, "
				    "compression and the limits can)");
			else
				xjson_set(*out, key, json_deep_copy(v));
		}
	}
	if (json_array_size(*details) > 0) {
		json_decref(*out);
		*out = NULL;
		return -1;
	}
	json_decref(*details);
	*details = NULL;
	return 0;
}

int
export_cancel_request_parse(const json_t *body,
    struct export_cancel_request *req, json_t **details_out)
{
	static const char *const known[] = { "ids", "state", "tenant_id",
	    "requested_by" };
	json_t *details = json_array();
	const json_t *v;
	bool filter = false;

	memset(req, 0, sizeof(*req));
	*details_out = NULL;
	if (body_fields_check(body, known, sizeof(known) / sizeof(known[0]),
	    details) != 0) {
		*details_out = details;
		return -1;
	}
	if ((v = json_object_get(body, "ids")) != NULL) {
		size_t i;
		const json_t *e;

		if (!json_is_array(v) || json_array_size(v) == 0 ||
		    json_array_size(v) > EXPORT_CANCEL_MAX_IDS)
			add_issue(details, "ids", "must be an array of 1 to 200 "
			    "job ids");
		else
			json_array_foreach(v, i, e) {
				if (!json_is_string(e) ||
				    !export_id_valid(json_string_value(e))) {
					add_issue(details, "ids", "each must be "
					    "a job id (a UUID)");
					break;
				}
				snprintf(req->ids[req->nids++], EXPORT_ID_LEN +
				    1, "%s", json_string_value(e));
			}
	}
	if ((v = json_object_get(body, "state")) != NULL) {
		filter = true;
		if (!json_is_string(v) || !export_state_parse(
		    json_string_value(v), req->state) ||
		    (strcmp(req->state, "PENDING") != 0 &&
		    strcmp(req->state, "RUNNING") != 0))
			add_issue(details, "state", "must be PENDING or RUNNING "
			    "(any case): jobs in other states cannot be "
			    "cancelled");
	}
	if ((v = json_object_get(body, "tenant_id")) != NULL) {
		filter = true;
		if (!json_is_string(v) || !safe_ident(json_string_value(v),
		    128))
			add_issue(details, "tenant_id", "must be 1 to 128 "
			    "letters, digits, '.', '_' or '-'");
		else
			snprintf(req->tenant_id, sizeof(req->tenant_id), "%s",
			    json_string_value(v));
	}
	if ((v = json_object_get(body, "requested_by")) != NULL) {
		filter = true;
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > 255)
			add_issue(details, "requested_by", "must be 1 to 255 "
			    "characters, or me");
		else
			snprintf(req->requested_by, sizeof(req->requested_by),
			    "%s", json_string_value(v));
	}
	if (json_object_get(body, "ids") != NULL && filter)
		add_issue(details, "ids", "cannot be combined with state, "
		    "tenant_id or requested_by");
	else if (json_object_get(body, "ids") == NULL && !filter)
		add_issue(details, "ids", "is required unless state, tenant_id "
		    "or requested_by is given");
	if (json_array_size(details) > 0) {
		*details_out = details;
		return -1;
	}
	json_decref(details);
	return 0;
}

void
export_request_free(struct export_request *req)
{
	free(req->tenant_id);
	free(req->from);
	free(req->to);
	free(req->format);
	json_decref(req->filters);
	memset(req, 0, sizeof(*req));
}

bool
export_state_parse(const char *s, char out[16])
{
	static const char *const states[] = { "PENDING", "RUNNING", "DONE",
	    "FAILED", "EXPIRED" };

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (strcasecmp(s, states[i]) == 0) {
			snprintf(out, 16, "%s", states[i]);
			return true;
		}
	return false;
}

bool
export_id_prefix_range(const char *s, char lo[EXPORT_ID_LEN + 1],
    char hi[EXPORT_ID_LEN + 1])
{
	static const char zero[] = "00000000-0000-0000-0000-000000000000";
	static const char ones[] = "ffffffff-ffff-ffff-ffff-ffffffffffff";
	size_t n = strlen(s);

	if (n == 0 || n > EXPORT_ID_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (zero[i] == '-' ? s[i] != '-' :
		    !isxdigit((unsigned char)s[i]))
			return false;
		lo[i] = hi[i] = (char)tolower((unsigned char)s[i]);
	}
	memcpy(lo + n, zero + n, EXPORT_ID_LEN - n + 1);
	memcpy(hi + n, ones + n, EXPORT_ID_LEN - n + 1);
	return true;
}

bool
export_time_param(const char *s, char out[24])
{
	char text[DATE_RFC3339_MAX];
	int64_t us;

	if (date_parse_rfc3339(s, &us) != 0 ||
	    date_format_rfc3339(us, DATE_FRAC_MICRO, text, sizeof(text)) < 0)
		return false;
	snprintf(out, 24, "%lld", (long long)us);
	return true;
}

bool
export_tenant_valid(const char *s)
{
	return safe_ident(s, 128);
}

bool
export_code_valid(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max || !isupper((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isupper((unsigned char)s[i]) &&
		    !isdigit((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

/* Cursor "<created_at microseconds>.<uuid>"; fills us and id. */
bool
export_cursor_parse(const char *c, long long *us,
    char id[EXPORT_ID_LEN + 1])
{
	const char *dot = strchr(c, '.');
	char *end, when[DATE_RFC3339_MAX];

	if (dot == NULL || dot == c)
		return false;
	errno = 0;
	*us = strtoll(c, &end, 10);
	if (errno || end != dot || !export_id_valid(dot + 1))
		return false;
	/* a time PostgreSQL can hold, as every created_at is (issue 20, L5) */
	if (date_format_rfc3339(*us, DATE_FRAC_MICRO, when, sizeof(when)) < 0)
		return false;
	snprintf(id, EXPORT_ID_LEN + 1, "%s", dot + 1);
	return true;
}

const char *const export_list_params[] = { "state", "tenant_id",
    "requested_by", "created_from", "created_to", "error_code", "id_prefix",
    "cursor", "limit", NULL };

int
export_list_query_check(struct export_list_query *q, json_t **details)
{
	long long us;
	char id[EXPORT_ID_LEN + 1];

	*details = json_array();
	q->state_canon[0] = q->from_us[0] = q->to_us[0] = '\0';
	q->id_lo[0] = q->id_hi[0] = '\0';
	if (q->state && !export_state_parse(q->state, q->state_canon))
		add_issue(*details, "state", "must be one of PENDING, RUNNING, "
		    "DONE, FAILED, EXPIRED (any case)");
	if (q->tenant_id && !safe_ident(q->tenant_id, 128))
		add_issue(*details, "tenant_id", "is not a valid tenant id");
	if (q->requested_by && (q->requested_by[0] == '\0' ||
	    strlen(q->requested_by) > 255))
		add_issue(*details, "requested_by", "must be 1 to 255 "
		    "characters, or me");
	if (q->created_from && !export_time_param(q->created_from,
	    q->from_us))
		add_issue(*details, "created_from", "must be an RFC 3339 time "
		    "such as 2026-11-01T00:00:00Z");
	if (q->created_to && !export_time_param(q->created_to, q->to_us))
		add_issue(*details, "created_to", "must be an RFC 3339 time "
		    "such as 2026-11-01T00:00:00Z");
	if (q->from_us[0] && q->to_us[0] && strtoll(q->from_us, NULL, 10) >=
	    strtoll(q->to_us, NULL, 10))
		add_issue(*details, "created_to", "must be later than "
		    "created_from");
	if (q->error_code && !export_code_valid(q->error_code, 64))
		add_issue(*details, "error_code", "must be an error code such "
		    "as EXPORT_LIMIT_ROWS");
	if (q->id_prefix && !export_id_prefix_range(q->id_prefix, q->id_lo,
	    q->id_hi))
		add_issue(*details, "id_prefix", "must be the start of a job id "
		    "(hex digits, dashes where the id has them)");
	if (q->cursor && !export_cursor_parse(q->cursor, &us, id))
		add_issue(*details, "cursor", "is not a cursor returned by "
		    "this API");
	if (q->limit < 1 || q->limit > 200)
		add_issue(*details, "limit", "must be between 1 and 200");
	if (json_array_size(*details) == 0) {
		json_decref(*details);
		*details = NULL;
		return 0;
	}
	return -1;
}

bool
export_id_valid(const char *s)
{
	static const int dash[] = { 8, 13, 18, 23 };

	if (s == NULL || strlen(s) != EXPORT_ID_LEN)
		return false;
	for (int i = 0; i < EXPORT_ID_LEN; i++) {
		bool want_dash = false;

		for (size_t k = 0; k < 4; k++)
			want_dash |= (i == dash[k]);
		if (want_dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

int
export_filters_load(const char *text, json_t **out, char *err, size_t errsz)
{
	json_error_t jerr;

	*out = json_loads(text, 0, &jerr);
	if (*out == NULL) {
		snprintf(err, errsz, "the job's stored filters cannot be read: "
		    "%s (column %d)", jerr.text, jerr.column);
		return -1;
	}
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		snprintf(err, errsz, "the job's stored filters are not a JSON "
		    "object");
		return -1;
	}
	return 0;
}
