/*
 * export_request: validation of what a client sends to the export API:
 * the create body, the list query and its cursor. Declared in export.h.
 */
#include "export.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "digest.h"
#include "errors.h"
#include "xalloc.h"

/* ---- validation ------------------------------------------------------- */

static void
add_issue(json_t *details, const char *field, const char *issue)
{
	json_array_append_new(details, error_detail(field, issue));
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
			json_object_set_new(req->filters, "actions",
			    json_deep_copy(actions));
	}
	if (actor != NULL) {
		if (!json_is_string(actor) || json_string_length(actor) == 0 ||
		    json_string_length(actor) > 256)
			add_issue(details, "actor_id", "must be a non-empty "
			    "string of at most 256 characters");
		else
			json_object_set_new(req->filters, "actor_id",
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
	const char *key;
	const json_t *v;
	int64_t from_us = 0, to_us = 0;
	long long dur;
	char *canon;

	memset(req, 0, sizeof(*req));
	*details_out = NULL;
	if (!json_is_object(body)) {
		add_issue(details, "body", "must be a JSON object");
		*details_out = details;
		return -1;
	}
	json_object_foreach((json_t *)body, key, v) {
		bool found = false;

		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			found |= strcmp(key, known[i]) == 0;
		if (!found)
			add_issue(details, key, "is not a known field");
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

static bool
state_valid(const char *s)
{
	static const char *const states[] = { "PENDING", "RUNNING", "DONE",
	    "FAILED", "EXPIRED" };

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (strcmp(s, states[i]) == 0)
			return true;
	return false;
}

/* Cursor "<created_at microseconds>.<uuid>"; fills us and id. */
bool
export_cursor_parse(const char *c, long long *us,
    char id[EXPORT_ID_LEN + 1])
{
	const char *dot = strchr(c, '.');
	char *end;

	if (dot == NULL || dot == c)
		return false;
	errno = 0;
	*us = strtoll(c, &end, 10);
	if (errno || end != dot || !export_id_valid(dot + 1))
		return false;
	snprintf(id, EXPORT_ID_LEN + 1, "%s", dot + 1);
	return true;
}

int
export_list_query_check(const struct export_list_query *q, json_t **details)
{
	long long us;
	char id[EXPORT_ID_LEN + 1];

	*details = json_array();
	if (q->state && !state_valid(q->state))
		add_issue(*details, "state", "must be one of PENDING, RUNNING, "
		    "DONE, FAILED, EXPIRED");
	if (q->tenant_id && !safe_ident(q->tenant_id, 128))
		add_issue(*details, "tenant_id", "is not a valid tenant id");
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
