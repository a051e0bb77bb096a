/*
 * fuzz_request: the request line as ops-fcgi reads it (fcgi/request.c,
 * fcgi/routes.c, the list cursor in lib/export.c).
 *
 * The input is REQUEST_URI, up to its first NUL. request_init() decodes
 * the path; every pattern of the route table (from route_print) is
 * matched against it; the query parameters the handlers read are looked
 * up, the integers through request_query_int(), and the list query is
 * validated (every filter of the job list: state, tenant, requested_by,
 * created_from/to, error_code, id_prefix, cursor, limit), as are the event
 * feed's query (lib/history.c) and the names of the parameters
 * (request_query_check()). Oracles: the decoded path and every captured
 * segment are NUL-free C strings of bounded size; a capture never holds
 * '/'; a query integer is in the range asked for; a value request_query()
 * reports present fits its buffer; an accepted list or feed query has
 * canonical times and id ranges (lo <= hi, both UUID-shaped) and a cursor
 * that parses again; a refused one names at least one field.
 */
#include <limits.h>
#include <string.h>

#include "date.h"
#include "export.h"
#include "fuzz.h"
#include "history.h"
#include "request.h"
#include "routes.h"

#define MAXPAT	32

static char *patterns[MAXPAT];
static size_t npatterns;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *text = NULL, *line, *nl;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)argc;
	(void)argv;
	if (f == NULL)
		return -1;
	route_print(f);
	fclose(f);
	/* "METHOD<TAB>PATTERN" lines */
	for (line = text; line && *line && npatterns < MAXPAT; line = nl) {
		char *tab = strchr(line, '\t');

		if ((nl = strchr(line, '\n')) != NULL)
			*nl++ = '\0';
		if (tab != NULL)
			patterns[npatterns++] = strdup(tab + 1);
	}
	free(text);
	return npatterns > 0 ? 0 : -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "state", "tenant_id", "cursor",
	    "by", "sig", "limit", "expires", "requested_by", "created_from",
	    "created_to", "error_code", "id_prefix", "kind", "since", "until",
	    "hours" };
	char *env[3], *uri, *params[REQUEST_MAX_PARAMS], v[160];
	FCGX_Request fx;
	struct app app;
	struct request r;
	struct export_list_query q = { .limit = 50 };
	struct history_events_query eq = { .limit = 50 };
	char state[16], tenant[160], cursor[128], by[256], from[64], to[64];
	char code[72], prefix[40], kind[112], since[64], until[64];
	long long n = -1;
	json_t *details = NULL;
	size_t np, i, k;
	int rc;

	uri = malloc(size + sizeof("REQUEST_URI="));
	FUZZ_CHECK(uri != NULL);
	memcpy(uri, "REQUEST_URI=", 12);
	memcpy(uri + 12, data, size);
	uri[12 + size] = '\0';
	env[0] = (char *)"REQUEST_METHOD=GET";
	env[1] = uri;
	env[2] = NULL;
	memset(&fx, 0, sizeof(fx));
	fx.envp = env;
	memset(&app, 0, sizeof(app));
	request_init(&r, &fx, &app, NULL);

	FUZZ_CHECK(strlen(r.path) < sizeof(r.path));
	for (i = 0; i < npatterns; i++) {
		if (!route_match(patterns[i], r.path, params,
		    REQUEST_MAX_PARAMS, &np))
			continue;
		FUZZ_CHECK(np <= REQUEST_MAX_PARAMS);
		for (k = 0; k < np; k++) {
			FUZZ_CHECK(params[k][0] != '\0');
			FUZZ_CHECK(strchr(params[k], '/') == NULL);
			free(params[k]);
		}
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		rc = request_query(&r, names[i], v, sizeof(v));
		FUZZ_CHECK(rc >= -1 && rc <= 1);
		if (rc == 1)
			FUZZ_CHECK(strlen(v) < sizeof(v));
	}
	rc = request_query_int(&r, "limit", INT_MIN, INT_MAX, &n);
	FUZZ_CHECK(rc != 1 || (n >= INT_MIN && n <= INT_MAX));
	rc = request_query_int(&r, "expires", 0, 1000, &n);
	FUZZ_CHECK(rc != 1 || (n >= 0 && n <= 1000));

	/* the list handler's reading of its query */
	if (request_query(&r, "state", state, sizeof(state)) == 1)
		q.state = state;
	if (request_query(&r, "tenant_id", tenant, sizeof(tenant)) == 1)
		q.tenant_id = tenant;
	if (request_query(&r, "cursor", cursor, sizeof(cursor)) == 1)
		q.cursor = cursor;
	if (request_query(&r, "requested_by", by, sizeof(by)) == 1)
		q.requested_by = by;
	if (request_query(&r, "created_from", from, sizeof(from)) == 1)
		q.created_from = from;
	if (request_query(&r, "created_to", to, sizeof(to)) == 1)
		q.created_to = to;
	if (request_query(&r, "error_code", code, sizeof(code)) == 1)
		q.error_code = code;
	if (request_query(&r, "id_prefix", prefix, sizeof(prefix)) == 1)
		q.id_prefix = prefix;
	if (request_query_int(&r, "limit", INT_MIN, INT_MAX, &n) == 1)
		q.limit = (int)n;
	/* the names: every detail names a field */
	details = json_array();
	rc = request_query_check(&r, export_list_params, details);
	FUZZ_CHECK(rc >= 0 && (size_t)rc == json_array_size(details));
	for (i = 0; i < json_array_size(details); i++)
		FUZZ_CHECK(json_is_string(json_object_get(json_array_get(
		    details, i), "field")));
	json_decref(details);
	details = NULL;
	rc = export_list_query_check(&q, &details);
	FUZZ_CHECK(rc == 0 || json_array_size(details) > 0);
	if (rc == 0 && q.id_prefix != NULL) {
		FUZZ_CHECK(export_id_valid(q.id_lo) && export_id_valid(q.id_hi));
		FUZZ_CHECK(strcmp(q.id_lo, q.id_hi) <= 0);
	}
	if (rc == 0 && q.from_us[0] && q.to_us[0])
		FUZZ_CHECK(strtoll(q.from_us, NULL, 10) <
		    strtoll(q.to_us, NULL, 10));
	json_decref(details);
	details = NULL;

	/* the feed's reading of its query */
	eq.tenant_id = q.tenant_id;
	eq.cursor = q.cursor;
	eq.limit = q.limit;
	if (request_query(&r, "kind", kind, sizeof(kind)) == 1)
		eq.kind = kind;
	if (request_query(&r, "since", since, sizeof(since)) == 1)
		eq.since = since;
	if (request_query(&r, "until", until, sizeof(until)) == 1)
		eq.until = until;
	rc = history_events_query_check(&eq, &details);
	FUZZ_CHECK(rc == 0 || json_array_size(details) > 0);
	if (rc == 0 && eq.cursor != NULL) {
		char us2[24], id2[24], when[DATE_RFC3339_MAX];

		FUZZ_CHECK(history_cursor_parse(eq.cursor, us2, id2));
		FUZZ_CHECK(strcmp(us2, eq.cur_us) == 0 &&
		    strcmp(id2, eq.cur_id) == 0);
		FUZZ_CHECK(date_format_rfc3339(strtoll(us2, NULL, 10),
		    DATE_FRAC_MICRO, when, sizeof(when)) > 0);
	}
	json_decref(details);
	details = NULL;
	rc = request_query_int(&r, "hours", 1, HISTORY_HOURS_MAX, &n);
	FUZZ_CHECK(rc != 1 || (n >= 1 && n <= HISTORY_HOURS_MAX));

	rc = export_list_query_check(&q, &details);
	FUZZ_CHECK((rc == 0) == (json_array_size(details) == 0));
	/* an accepted cursor holds a time PostgreSQL can hold (issue 20 L5) */
	if (rc == 0 && q.cursor != NULL) {
		long long us;
		char id[EXPORT_ID_LEN + 1], when[DATE_RFC3339_MAX];

		FUZZ_CHECK(export_cursor_parse(q.cursor, &us, id));
		FUZZ_CHECK(date_format_rfc3339(us, DATE_FRAC_MICRO, when,
		    sizeof(when)) > 0);
	}
	json_decref(details);
	request_finish(&r);
	free(uri);
	return 0;
}
