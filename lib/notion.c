/*
 * notion: the Notion API client of the preflight and the sync. See notion.h
 * for the API, the classification rules and who owns what.
 */
#include "notion.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "date.h"
#include "log.h"
#include "secretfile.h"
#include "utf8.h"
#include "xalloc.h"
#include "xjson.h"

#define DAY	86400L

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
 * Text helpers.
 */

/*
 * Copy src into dst for display: control characters and invalid UTF-8
 * become '?', the copy stops before a character that would not fit.
 */
static void
copy_text(char *dst, size_t dstsz, const char *src)
{
	const unsigned char *s = (const unsigned char *)(src ? src : "");
	size_t n = strlen((const char *)s), o = 0, k;

	if (dstsz == 0)
		return;
	while (*s) {
		k = utf8_decode(s, n, NULL);
		if (k == 0 || (k == 1 && (*s < 0x20 || *s == 0x7f))) {
			if (o + 1 >= dstsz)
				break;
			dst[o++] = '?';
			s++;
			n--;
			continue;
		}
		if (o + k >= dstsz)
			break;
		memcpy(dst + o, s, k);
		o += k;
		s += k;
		n -= k;
	}
	dst[o] = '\0';
}

/* Copy only printable ASCII without spaces (ids from headers and bodies). */
static void
copy_word(char *dst, size_t dstsz, const char *src)
{
	size_t o = 0;

	if (dstsz == 0)
		return;
	for (; src && *src && o + 1 < dstsz; src++)
		if (*src > 0x20 && *src < 0x7f)
			dst[o++] = *src;
	dst[o] = '\0';
}

static const char *
json_str(const json_t *o, const char *key)
{
	const json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/*
 * Validation.
 */

enum notion_code
notion_token_check(const char *tok, size_t len, char *why, size_t whysz)
{
	char dummy[1];

	if (why == NULL) {
		why = dummy;
		whysz = sizeof(dummy);
	}
	if (len == 0) {
		snprintf(why, whysz, "the token is empty (an undefined CI "
		    "secret expands to an empty string)");
		return NOTION_AUTH_MALFORMED;
	}
	if (len > NOTION_TOKEN_MAX) {
		snprintf(why, whysz, "the token is longer than %d bytes",
		    NOTION_TOKEN_MAX);
		return NOTION_AUTH_MALFORMED;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)tok[i];
		const char *what;

		if (c > 0x20 && c < 0x7f)
			continue;
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		    c == '\v' || c == '\f')
			what = (i == 0 || i == len - 1) ?
			    "leading or trailing whitespace" : "whitespace";
		else if (c >= 0x80)
			what = "a non-ASCII byte";
		else
			what = "a control character";
		snprintf(why, whysz, "the token contains %s (byte %zu of %zu)",
		    what, i + 1, len);
		return NOTION_AUTH_MALFORMED;
	}
	why[0] = '\0';
	return NOTION_OK;
}

void
notion_fingerprint(const char *tok, size_t len, char *out, size_t outsz)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char prefix[8] = "";
	int n;

	if (outsz == 0)
		return;
	out[0] = '\0';
	if (EVP_Digest(tok, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen < 4)
		return;
	if (len >= 16) {
		int printable = 1;

		for (size_t i = 0; i < 4; i++)
			if (tok[i] <= 0x20 || tok[i] >= 0x7f)
				printable = 0;
		if (printable)
			snprintf(prefix, sizeof(prefix), "%.4s\xe2\x80\xa6", tok);
	}
	n = snprintf(out, outsz, "%ssha256:%02x%02x%02x%02x", prefix,
	    md[0], md[1], md[2], md[3]);
	if (n < 0 || (size_t)n >= outsz)
		out[0] = '\0';
}

int
notion_id_normalize(const char *in, char out[NOTION_ID_LEN + 1])
{
	char digits[32];
	size_t nd = 0, o = 0;

	out[0] = '\0';
	for (const char *p = in; *p; p++) {
		if (*p == '-')
			continue;
		if (nd == sizeof(digits))
			return -1;
		if (*p >= 'A' && *p <= 'F')
			digits[nd++] = (char)(*p - 'A' + 'a');
		else if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))
			digits[nd++] = *p;
		else
			return -1;
	}
	if (nd != sizeof(digits))
		return -1;
	for (size_t i = 0; i < nd; i++) {
		if (i == 8 || i == 12 || i == 16 || i == 20)
			out[o++] = '-';
		out[o++] = digits[i];
	}
	out[o] = '\0';
	return 0;
}

static const char *
kind_name(enum notion_kind kind)
{
	switch (kind) {
	case NOTION_KIND_PAGE:
		return "page";
	case NOTION_KIND_DATABASE:
		return "database";
	case NOTION_KIND_ME:
	case NOTION_KIND_CALL:
		break;
	}
	return "users/me";
}

void
notion_target_label(enum notion_kind kind, const char *id, char *out,
    size_t outsz)
{
	if (kind == NOTION_KIND_CALL)
		snprintf(out, outsz, "%s", id ? id : "request");
	else if (kind == NOTION_KIND_ME || id == NULL)
		snprintf(out, outsz, "users/me");
	else
		snprintf(out, outsz, "%s:%s", kind_name(kind), id);
}

static int
parse_target(const char *item, struct notion_target *t)
{
	const char *id;

	if (strncmp(item, "page:", 5) == 0) {
		t->kind = NOTION_KIND_PAGE;
		id = item + 5;
	} else if (strncmp(item, "database:", 9) == 0) {
		t->kind = NOTION_KIND_DATABASE;
		id = item + 9;
	} else
		return -1;
	return notion_id_normalize(id, t->id);
}

int
notion_targets_parse(const char *list, struct notion_target *t, size_t max,
    size_t *n, char *err, size_t errsz)
{
	const char *p = list ? list : "";
	size_t count = 0, itemno = 0;

	*n = 0;
	while (*p) {
		const char *end = strchr(p, ','), *next;
		char item[128];
		size_t len;

		if (end == NULL)
			end = p + strlen(p);
		next = *end ? end + 1 : end;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		len = (size_t)(end - p);
		itemno++;
		if (len == 0) {
			p = next;
			continue;
		}
		if (len >= sizeof(item)) {
			snprintf(err, errsz, "NOTION_PREFLIGHT_TARGETS: item %zu "
			    "is too long", itemno);
			return -1;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		if (count == max) {
			snprintf(err, errsz, "NOTION_PREFLIGHT_TARGETS: more "
			    "than %zu targets", max);
			return -1;
		}
		if (parse_target(item, &t[count]) == -1) {
			char shown[64];

			copy_text(shown, sizeof(shown), item);
			snprintf(err, errsz, "NOTION_PREFLIGHT_TARGETS: item "
			    "%zu \"%s\" must be page:ID or database:ID with a "
			    "32-hex-digit id (dashes allowed)", itemno, shown);
			return -1;
		}
		count++;
		p = next;
	}
	*n = count;
	return 0;
}

int
notion_host_is_loopback(const char *host)
{
	char h[64];
	size_t len = strlen(host);
	struct in_addr a4;
	struct in6_addr a6;

	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		host++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(h))
		return 0;
	memcpy(h, host, len);
	h[len] = '\0';
	if (strcasecmp(h, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, h, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, h, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

/* Fetch one part of u; NULL when it is absent. Caller curl_free()s. */
static char *
url_part(CURLU *u, CURLUPart part)
{
	char *v = NULL;

	if (curl_url_get(u, part, &v, 0) != CURLUE_OK)
		return NULL;
	return v;
}

static int
api_base_parts(CURLU *u, char *out, size_t outsz, char *err, size_t errsz)
{
	char *scheme = url_part(u, CURLUPART_SCHEME);
	char *host = url_part(u, CURLUPART_HOST);
	char *port = url_part(u, CURLUPART_PORT);
	char *path = url_part(u, CURLUPART_PATH);
	char *user = url_part(u, CURLUPART_USER);
	char *query = url_part(u, CURLUPART_QUERY);
	char *frag = url_part(u, CURLUPART_FRAGMENT);
	int rc = -1, https;
	size_t plen;
	int n;

	if (scheme == NULL || host == NULL || path == NULL) {
		snprintf(err, errsz, "NOTION_API_BASE is not a valid URL");
		goto out;
	}
	https = strcmp(scheme, "https") == 0;
	if (!https && strcmp(scheme, "http") != 0) {
		snprintf(err, errsz, "NOTION_API_BASE must start with https://");
		goto out;
	}
	if (user || query || frag) {
		snprintf(err, errsz, "NOTION_API_BASE must not carry "
		    "credentials, a query or a fragment");
		goto out;
	}
	if (!https && !notion_host_is_loopback(host)) {
		snprintf(err, errsz, "NOTION_API_BASE uses http:// for host "
		    "%.64s: plain http is allowed for loopback only, use "
		    "https://", host);
		goto out;
	}
	plen = strlen(path);
	while (plen > 0 && path[plen - 1] == '/')
		plen--;
	n = snprintf(out, outsz, "%s://%s%s%s%.*s", scheme, host,
	    port ? ":" : "", port ? port : "", (int)plen, path);
	if (n < 0 || (size_t)n >= outsz) {
		snprintf(err, errsz, "NOTION_API_BASE is too long");
		goto out;
	}
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(user);
	curl_free(query);
	curl_free(frag);
	return rc;
}

int
notion_api_base_check(const char *url, char *out, size_t outsz, char *err,
    size_t errsz)
{
	CURLU *u;
	int rc = -1;

	if (outsz)
		out[0] = '\0';
	if ((u = curl_url()) == NULL) {
		snprintf(err, errsz, "cannot parse NOTION_API_BASE: out of "
		    "memory");
		return -1;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		snprintf(err, errsz, "NOTION_API_BASE is not a valid URL: use "
		    "https://host[:port][/path]");
	else
		rc = api_base_parts(u, out, outsz, err, errsz);
	curl_url_cleanup(u);
	return rc;
}

int
notion_version_check(const char *v)
{
	if (strlen(v) != 10)
		return -1;
	for (size_t i = 0; i < 10; i++) {
		if (i == 4 || i == 7) {
			if (v[i] != '-')
				return -1;
		} else if (v[i] < '0' || v[i] > '9')
			return -1;
	}
	return 0;
}

int
notion_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
notion_parse_time(const char *s, time_t *out)
{
	int64_t us;

	if (s == NULL)
		return -1;
	if (date_parse_full_date(s, &us) == -1 &&
	    date_parse_rfc3339(s, &us) == -1)
		return -1;
	if (us < 0)	/* nothing before 1970 */
		return -1;
	*out = (time_t)(us / DATE_US_PER_SEC);
	return 0;
}

void
notion_format_time(time_t t, char *out, size_t outsz)
{
	if (date_format_rfc3339((int64_t)t * DATE_US_PER_SEC, DATE_FRAC_NONE, out,
	    outsz) == -1 && outsz > 0)
		out[0] = '\0';
}

void
notion_rotation_check(time_t issued, long rotate_days, long warn_days,
    time_t now, struct notion_rotation *out)
{
	long long left;

	out->deadline = issued + (time_t)rotate_days * DAY;
	left = (long long)out->deadline - (long long)now;
	if (left <= 0) {
		out->code = NOTION_AUTH_ROTATION_OVERDUE;
		out->days = (long)(-left / DAY);
		return;
	}
	out->days = (long)((left + DAY - 1) / DAY);
	out->code = left <= (long long)warn_days * DAY ?
	    NOTION_AUTH_ROTATION_DUE : NOTION_OK;
}

int
notion_retry_after_parse(const char *v, time_t now, long *seconds)
{
	struct tm tm;
	const char *p;
	time_t t;

	if (v == NULL)
		return -1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v >= '0' && *v <= '9') {
		long long s = 0;

		for (p = v; *p >= '0' && *p <= '9'; p++)
			if (s < 100000000)
				s = s * 10 + (*p - '0');
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '\0')
			return -1;
		*seconds = (long)s;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	p = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (p == NULL)
		return -1;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0' || (t = timegm(&tm)) == (time_t)-1)
		return -1;
	*seconds = t > now ? (long)(t - now) : 0;
	return 0;
}

int
notion_status_retryable(long status)
{
	switch (status) {
	case 429:
	case 500:
	case 502:
	case 503:
	case 504:
	case 529:
		return 1;
	}
	return 0;
}

/*
 * Classification.
 */

static void
set_detail(struct notion_answer *ans, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
set_detail(struct notion_answer *ans, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vappendf(&b, fmt, ap);
	va_end(ap);
	copy_text(ans->detail, sizeof(ans->detail), buf_str(&b));
	buf_free(&b);
}

static enum notion_code
classify_me(long status, const json_t *root, struct notion_answer *ans)
{
	const char *obj = json_str(root, "object"), *type, *ws;
	const json_t *bot;

	if (obj == NULL || strcmp(obj, "user") != 0) {
		set_detail(ans, "users/me answered HTTP %ld with object "
		    "\"%.40s\", not a user", status, obj ? obj : "(none)");
		return NOTION_AUTH_UNEXPECTED;
	}
	type = json_str(root, "type");
	if (type && strcmp(type, "person") == 0) {
		set_detail(ans, "the token belongs to a person, not to an "
		    "integration (bot): use the internal integration's token");
		return NOTION_AUTH_UNEXPECTED;
	}
	if (type == NULL || strcmp(type, "bot") != 0) {
		set_detail(ans, "users/me answered a user of type \"%.40s\", "
		    "not a bot", type ? type : "(none)");
		return NOTION_AUTH_UNEXPECTED;
	}
	bot = json_object_get(root, "bot");
	ws = json_str(bot, "workspace_name");
	copy_text(ans->bot_name, sizeof(ans->bot_name),
	    json_str(root, "name") ? json_str(root, "name") : "(unnamed)");
	copy_text(ans->workspace_name, sizeof(ans->workspace_name),
	    ws ? ws : "(unknown workspace)");
	set_detail(ans, "bot \"%s\" in workspace \"%s\"", ans->bot_name,
	    ans->workspace_name);
	return NOTION_OK;
}

static enum notion_code
classify_object(enum notion_kind kind, const char *want_id, long status,
    const json_t *root, const char *where, struct notion_answer *ans)
{
	const char *want = kind_name(kind), *obj = json_str(root, "object");
	const char *id = json_str(root, "id");
	char got[NOTION_ID_LEN + 1];

	if (obj == NULL || strcmp(obj, want) != 0) {
		set_detail(ans, "%s answered HTTP %ld with object \"%.40s\", "
		    "expected \"%s\"", where, status, obj ? obj : "(none)",
		    want);
		return NOTION_AUTH_UNEXPECTED;
	}
	if (id == NULL || notion_id_normalize(id, got) == -1 ||
	    want_id == NULL || strcmp(got, want_id) != 0) {
		set_detail(ans, "%s answered HTTP %ld with a %s whose id is "
		    "not the one asked for", where, status, want);
		return NOTION_AUTH_UNEXPECTED;
	}
	if (json_is_true(json_object_get(root, "archived")) ||
	    json_is_true(json_object_get(root, "in_trash"))) {
		set_detail(ans, "%s is archived (in Notion's trash): restore it "
		    "in Notion or change the target", where);
		return NOTION_AUTH_UNEXPECTED;
	}
	set_detail(ans, "%s is readable", where);
	return NOTION_OK;
}

static enum notion_code
classify_success(enum notion_kind kind, const char *want_id, long status,
    const json_t *root, const char *where, struct notion_answer *ans)
{
	if (root == NULL) {
		set_detail(ans, "%s answered HTTP %ld with a body that is not "
		    "JSON (a maintenance or proxy page?)", where, status);
		return NOTION_AUTH_UNEXPECTED;
	}
	if (!json_is_object(root)) {
		set_detail(ans, "%s answered HTTP %ld with JSON that is not an "
		    "object", where, status);
		return NOTION_AUTH_UNEXPECTED;
	}
	if (kind == NOTION_KIND_ME)
		return classify_me(status, root, ans);
	if (kind == NOTION_KIND_CALL) {
		set_detail(ans, "%s answered HTTP %ld", where, status);
		return NOTION_OK;
	}
	return classify_object(kind, want_id, status, root, where, ans);
}

static enum notion_code
classify_error(enum notion_kind kind, long status, const json_t *root,
    const char *where, struct notion_answer *ans)
{
	const char *obj = json_str(root, "object");
	int is_err = obj && strcmp(obj, "error") == 0;
	const char *ecode = is_err ? json_str(root, "code") : NULL;
	const char *msg = is_err ? json_str(root, "message") : NULL;
	enum notion_code code = NOTION_AUTH_UNEXPECTED;

	copy_word(ans->error_code, sizeof(ans->error_code), ecode);
	if (status == 429)
		code = NOTION_AUTH_RATE_LIMITED;
	else if (status >= 500 && status <= 599)
		code = NOTION_AUTH_UPSTREAM;
	else if (ecode && status == 401 && strcmp(ecode, "unauthorized") == 0)
		code = NOTION_AUTH_INVALID;
	else if (ecode && status == 403 &&
	    strcmp(ecode, "restricted_resource") == 0)
		code = NOTION_AUTH_FORBIDDEN;
	else if (ecode && status == 404 &&
	    strcmp(ecode, "object_not_found") == 0 && kind != NOTION_KIND_ME)
		code = NOTION_AUTH_TARGET_UNSHARED;

	if (ecode)
		set_detail(ans, "%s answered HTTP %ld %s%s%.300s%s", where,
		    status, ans->error_code, msg ? ": " : "", msg ? msg : "",
		    code == NOTION_AUTH_UNEXPECTED && status == 404 ?
		    " (users/me cannot be missing: is NOTION_API_BASE right?)" :
		    "");
	else
		set_detail(ans, "%s answered HTTP %ld with %s", where, status,
		    root == NULL ? "a body that is not JSON" :
		    "JSON that is not a Notion error object");
	return code;
}

/*
 * notion_classify() with the request named by where ("page:<id>", "append
 * to block <id>") instead of the target label. NOTION_KIND_CALL: a 2xx
 * answer is NOTION_OK when its body is a JSON object; the error statuses
 * are classified as for the checks (404 object_not_found is
 * TARGET_UNSHARED, a 400 validation_error UNEXPECTED with Notion's message
 * in the detail).
 */
static enum notion_code notion_classify_as(enum notion_kind kind,
	    const char *want_id, const char *where, long status,
	    const char *body, size_t len, const char *hdr_request_id,
	    struct notion_answer *ans);

enum notion_code
notion_classify(enum notion_kind kind, const char *want_id, long status,
    const char *body, size_t len, const char *hdr_request_id,
    struct notion_answer *ans)
{
	char where[NOTION_LABEL_MAX];

	notion_target_label(kind, want_id, where, sizeof(where));
	return notion_classify_as(kind, want_id, where, status, body, len,
	    hdr_request_id, ans);
}

static enum notion_code
notion_classify_as(enum notion_kind kind, const char *want_id,
    const char *where, long status, const char *body, size_t len,
    const char *hdr_request_id, struct notion_answer *ans)
{
	json_t *root = NULL;
	json_error_t jerr;
	enum notion_code code;

	memset(ans, 0, sizeof(*ans));
	if (body != NULL && len > 0)
		root = json_loadb(body, len, 0, &jerr);
	if (hdr_request_id != NULL && *hdr_request_id)
		copy_word(ans->request_id, sizeof(ans->request_id),
		    hdr_request_id);
	else
		copy_word(ans->request_id, sizeof(ans->request_id),
		    json_str(root, "request_id"));
	if (status >= 200 && status <= 299)
		code = classify_success(kind, want_id, status, root, where,
		    ans);
	else
		code = classify_error(kind, status, root, where, ans);
	json_decref(root);
	return code;
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
	copy_word(f->request_id, sizeof(f->request_id), request_id);
	copy_text(f->target, sizeof(f->target), target);
	va_start(ap, fmt);
	buf_vappendf(&b, fmt, ap);
	va_end(ap);
	copy_text(f->message, sizeof(f->message), buf_str(&b));
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

/*
 * Token loading.
 */

enum notion_code
notion_token_load(const char *env_token, const char *file, struct buf *out,
    char *why, size_t whysz)
{
	buf_reset(out);
	if (env_token != NULL) {
		buf_appends(out, env_token);
	} else if (file != NULL && *file) {
		char err[300], *tok = secret_file_read(file, err, sizeof(err));

		if (tok == NULL) {
			snprintf(why, whysz, "NOTION_TOKEN_FILE: %s", err);
			return NOTION_AUTH_MISSING;
		}
		buf_appends(out, tok);
		explicit_bzero(tok, strlen(tok));
		free(tok);
	} else {
		snprintf(why, whysz, "neither NOTION_TOKEN nor "
		    "NOTION_TOKEN_FILE is set in the job's environment");
		return NOTION_AUTH_MISSING;
	}
	return notion_token_check(buf_str(out), out->len, why, whysz);
}

void
notion_check_rotation(struct notion_report *r, time_t issued,
    long rotate_days, long warn_days, time_t now)
{
	struct notion_rotation rot;
	char is[32], dl[32];

	notion_rotation_check(issued, rotate_days, warn_days, now, &rot);
	notion_format_time(issued, is, sizeof(is));
	notion_format_time(rot.deadline, dl, sizeof(dl));
	if (rot.code == NOTION_AUTH_ROTATION_OVERDUE)
		notion_report_add(r, rot.code, 0, NULL, NULL, "the token issued "
		    "%s had to be rotated by %s (NOTION_TOKEN_ROTATE_DAYS=%ld), "
		    "%ld day(s) ago: rotate it now", is, dl, rotate_days,
		    rot.days);
	else if (rot.code == NOTION_AUTH_ROTATION_DUE)
		notion_report_add(r, rot.code, 0, NULL, NULL, "the token issued "
		    "%s must be rotated by %s (NOTION_TOKEN_ROTATE_DAYS=%ld): "
		    "%ld day(s) left, inside the %ld-day warning window", is,
		    dl, rotate_days, rot.days, warn_days);
}

/*
 * Running the checks.
 */

static void
notion_http_init(struct notion_http *h)
{
	memset(h, 0, sizeof(*h));
	buf_init(&h->body);
}

/* Empty it for the next attempt, keeping the body allocation. */
static void
notion_http_reset(struct notion_http *h)
{
	h->status = 0;
	buf_reset(&h->body);
	h->too_large = 0;
	h->request_id[0] = '\0';
	h->retry_after[0] = '\0';
	h->error[0] = '\0';
}

static void
notion_http_free(struct notion_http *h)
{
	buf_free(&h->body);
	notion_http_init(h);
}

void
notion_options_init(struct notion_options *o)
{
	memset(o, 0, sizeof(*o));
	o->timeout_ms = 10000;
	o->deadline_ms = 60000;
	o->max_retries = 3;
	o->backoff_base_ms = 500;
	o->backoff_cap_ms = 4000;
	o->retry_after_cap_ms = 10000;
}

/* How long to wait before retry number attempt (1-based). */
static long
retry_wait_ms(const struct notion_options *o, const struct notion_http *h,
    int attempt, time_t wall_now)
{
	long secs, ms;

	if (h->retry_after[0] &&
	    notion_retry_after_parse(h->retry_after, wall_now, &secs) == 0) {
		if (secs > o->retry_after_cap_ms / 1000)
			return o->retry_after_cap_ms;
		return secs * 1000;
	}
	ms = o->backoff_base_ms;
	for (int i = 1; i < attempt && ms < o->backoff_cap_ms; i++)
		ms *= 2;
	return ms < o->backoff_cap_ms ? ms : o->backoff_cap_ms;
}

void
notion_client_init(struct notion_client *c, const struct notion_options *o,
    const struct notion_transport *t, time_t wall_now)
{
	memset(c, 0, sizeof(*c));
	c->o = o;
	c->t = t;
	c->wall_now = wall_now;
	c->deadline = t->now_ms(t->ctx) + o->deadline_ms;
	c->next_ms = 0;
	notion_http_init(&c->http);
}

void
notion_client_free(struct notion_client *c)
{
	notion_http_free(&c->http);
}

/* Wait until the pacer allows the next request; then book the slot. */
static void
pace(struct notion_client *c)
{
	const struct notion_transport *t = c->t;
	long long now = t->now_ms(t->ctx);

	if (c->o->min_interval_ms > 0 && c->next_ms > now) {
		t->sleep_ms(t->ctx, (long)(c->next_ms - now));
		now = t->now_ms(t->ctx);
	}
	c->next_ms = now + c->o->min_interval_ms;
}

enum notion_code
notion_client_call(struct notion_client *c, const struct notion_call *call,
    struct notion_answer *ans, struct notion_report *r)
{
	const struct notion_options *o = c->o;
	const struct notion_transport *t = c->t;
	struct notion_http *h = &c->http;
	struct buf url = BUF_INIT;
	const char *label = call->label, *why = "";
	const char *method = call->method ? call->method : "GET";
	enum notion_code code = NOTION_AUTH_NETWORK;
	long long left;
	int attempt;

	memset(ans, 0, sizeof(*ans));
	buf_appendf(&url, "%s%s", o->api_base, call->path);
	for (attempt = 1;; attempt++) {
		long wait;

		pace(c);
		left = c->deadline - t->now_ms(t->ctx);
		if (left <= 0) {
			notion_report_add(r, NOTION_AUTH_NETWORK, 0, NULL, label,
			    "%s not done: the overall deadline of %ld s was "
			    "reached", label, o->deadline_ms / 1000);
			goto out;
		}
		notion_http_reset(h);
		c->requests++;
		if (t->request(t->ctx, method, buf_str(&url), o->token,
		    call->body, call->body_len,
		    left < o->timeout_ms ? (long)left : o->timeout_ms, h) != 0) {
			notion_report_add(r, NOTION_AUTH_NETWORK, 0, NULL, label,
			    "%s: no HTTP answer: %s", label, h->error);
			goto out;
		}
		if (h->too_large) {
			code = NOTION_AUTH_UNEXPECTED;
			notion_report_add(r, code, h->status, h->request_id,
			    label, "%s answered HTTP %ld with a body larger "
			    "than %d bytes", label, h->status, NOTION_BODY_MAX);
			goto out;
		}
		code = notion_classify_as(call->kind, call->want_id, label,
		    h->status, buf_str(&h->body), h->body.len, h->request_id,
		    ans);
		if (!notion_status_retryable(h->status))
			break;
		if (attempt > o->max_retries)
			break;
		if (call->not_idempotent && h->status != 429) {
			why = "; not retried: the request may have been applied";
			break;
		}
		wait = retry_wait_ms(o, h, attempt, c->wall_now);
		if (t->now_ms(t->ctx) + wait >= c->deadline) {
			why = "; the next retry would pass the overall deadline";
			break;
		}
		log_kv(LOG_INFO, "target", label, "notion answered HTTP %ld, "
		    "retry %d of %d in %ld ms", h->status, attempt,
		    o->max_retries, wait);
		t->sleep_ms(t->ctx, wait);
		/* the pacer counts from the end of a Retry-After wait */
		c->next_ms = t->now_ms(t->ctx);
	}
	if (code != NOTION_OK && (attempt > 1 || *why))
		notion_report_add(r, code, h->status, ans->request_id,
		    label, "%s (%d attempts%s)", ans->detail, attempt, why);
	else if (code != NOTION_OK)
		notion_report_add(r, code, h->status, ans->request_id,
		    label, "%s", ans->detail);
out:
	buf_free(&url);
	return code;
}

/* GET one object (users/me, a page, a database) through the client. */
/* GET users/me (id NULL), a page or a database through notion_client_call(). */
static enum notion_code
notion_client_check(struct notion_client *c, enum notion_kind kind,
    const char *id, struct notion_answer *ans, struct notion_report *r)
{
	struct notion_call call;
	char label[NOTION_LABEL_MAX], path[96];

	notion_target_label(kind, id, label, sizeof(label));
	if (kind == NOTION_KIND_ME)
		snprintf(path, sizeof(path), "/v1/users/me");
	else
		snprintf(path, sizeof(path), "/v1/%s/%s",
		    kind == NOTION_KIND_PAGE ? "pages" : "databases", id);
	memset(&call, 0, sizeof(call));
	call.path = path;
	call.kind = kind;
	call.want_id = id;
	call.label = label;
	return notion_client_call(c, &call, ans, r);
}

void
notion_check_api_client(struct notion_client *c, struct notion_report *r)
{
	const struct notion_options *o = c->o;
	struct notion_answer ans;

	r->ntargets = o->ntargets;
	if (notion_client_check(c, NOTION_KIND_ME, NULL, &ans, r) != NOTION_OK)
		return;
	r->bot_known = 1;
	memcpy(r->bot_name, ans.bot_name, sizeof(r->bot_name));
	memcpy(r->workspace_name, ans.workspace_name,
	    sizeof(r->workspace_name));
	for (size_t i = 0; i < o->ntargets; i++) {
		const struct notion_target *tg = &o->targets[i];

		if (notion_client_check(c, tg->kind, tg->id, &ans, r) !=
		    NOTION_OK || r->nchecked == NOTION_MAX_TARGETS)
			continue;
		notion_target_label(tg->kind, tg->id, r->checked[r->nchecked],
		    sizeof(r->checked[0]));
		r->nchecked++;
	}
}

void
notion_check_api(const struct notion_options *o,
    const struct notion_transport *t, time_t wall_now,
    struct notion_report *r)
{
	struct notion_client c;

	notion_client_init(&c, o, t, wall_now);
	notion_check_api_client(&c, r);
	notion_client_free(&c);
}

/*
 * Output.
 */

static const char *
severity_name(enum notion_severity s)
{
	return s == NOTION_SEV_WARNING ? "warning" : "error";
}

/* "cause -- message (http 401, request id X); runbook: path#anchor" */
static void
finding_body(const struct notion_finding *f,
    const struct notion_code_info *ci, struct buf *out)
{
	buf_appendf(out, "%s -- %s", ci->cause, f->message);
	if (f->http_status || f->request_id[0]) {
		buf_appends(out, " (");
		if (f->http_status)
			buf_appendf(out, "http %ld", f->http_status);
		if (f->request_id[0])
			buf_appendf(out, "%srequest id %s",
			    f->http_status ? ", " : "", f->request_id);
		buf_appendc(out, ')');
	}
	buf_appendf(out, "; runbook: %s#%s", NOTION_RUNBOOK, ci->anchor);
}

static size_t
count_warnings(const struct notion_report *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->nfindings; i++) {
		const struct notion_code_info *ci =
		    notion_code_lookup(r->findings[i].code);

		if (ci && ci->severity == NOTION_SEV_WARNING)
			n++;
	}
	return n;
}

static void
summary_line(const struct notion_report *r, struct buf *out)
{
	enum notion_code code = notion_report_code(r);
	const struct notion_code_info *ci = notion_code_lookup(code);
	const char *fp = r->fingerprint[0] ? r->fingerprint : "(none)";
	size_t nwarn = count_warnings(r);

	if (ci != NULL) {
		buf_appendf(out, "FAILED: %s (exit %d), token %s: the spec sync "
		    "must not run; follow %s#%s\n", ci->name, ci->exit_status,
		    fp, NOTION_RUNBOOK, ci->anchor);
		return;
	}
	buf_appendf(out, "ok: token %s belongs to bot \"%s\" in workspace "
	    "\"%s\"", fp, r->bot_name, r->workspace_name);
	if (r->nchecked == 0)
		buf_appends(out, "; no targets configured "
		    "(NOTION_PREFLIGHT_TARGETS), only the token was checked");
	else {
		buf_appendf(out, "; targets checked (%zu):", r->nchecked);
		for (size_t i = 0; i < r->nchecked; i++)
			buf_appendf(out, "%s %s", i ? "," : "", r->checked[i]);
	}
	if (nwarn)
		buf_appendf(out, "; %zu warning(s)", nwarn);
	buf_appendc(out, '\n');
}

void
notion_format_text(const struct notion_report *r, struct buf *out)
{
	notion_format_findings_text(r, out);
	summary_line(r, out);
}

void
notion_format_findings_text(const struct notion_report *r, struct buf *out)
{
	for (size_t i = 0; i < r->nfindings; i++) {
		const struct notion_finding *f = &r->findings[i];
		const struct notion_code_info *ci = notion_code_lookup(f->code);

		if (ci == NULL)
			continue;
		buf_appendf(out, "%s %s: ", severity_name(ci->severity),
		    ci->name);
		finding_body(f, ci, out);
		buf_appendc(out, '\n');
	}
	if (r->dropped)
		buf_appendf(out, "error: %zu more finding(s) not shown\n",
		    r->dropped);
}

/* Workflow command data: '%', CR and LF are escaped. */
static void
github_escape(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '%')
			buf_appends(out, "%25");
		else if (*s == '\r')
			buf_appends(out, "%0D");
		else if (*s == '\n')
			buf_appends(out, "%0A");
		else
			buf_appendc(out, *s);
	}
}

void
notion_format_github(const struct notion_report *r, struct buf *out)
{
	notion_format_findings_github(r, out);
	summary_line(r, out);
}

void
notion_format_findings_github(const struct notion_report *r, struct buf *out)
{
	struct buf body = BUF_INIT;

	for (size_t i = 0; i < r->nfindings; i++) {
		const struct notion_finding *f = &r->findings[i];
		const struct notion_code_info *ci = notion_code_lookup(f->code);

		if (ci == NULL)
			continue;
		buf_reset(&body);
		finding_body(f, ci, &body);
		buf_appendf(out, "::%s title=%s::", severity_name(ci->severity),
		    ci->name);
		github_escape(out, buf_str(&body));
		buf_appendc(out, '\n');
	}
	buf_free(&body);
}

static json_t *
jstr_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static json_t *
finding_json(const struct notion_finding *f, const struct notion_code_info *ci)
{
	json_t *o = xnonnull(json_object());
	struct buf rb = BUF_INIT;

	buf_appendf(&rb, "%s#%s", NOTION_RUNBOOK, ci->anchor);
	xjson_set(o, "code", json_string(ci->name));
	xjson_set(o, "severity", json_string(severity_name(ci->severity)));
	xjson_set(o, "message", json_string(f->message));
	xjson_set(o, "http_status", f->http_status ?
	    json_integer(f->http_status) : json_null());
	xjson_set(o, "request_id", jstr_or_null(f->request_id));
	xjson_set(o, "target", jstr_or_null(f->target));
	xjson_set(o, "runbook", json_string(buf_str(&rb)));
	buf_free(&rb);
	return o;
}

json_t *
notion_findings_json(const struct notion_report *r)
{
	json_t *fa = xnonnull(json_array());

	for (size_t i = 0; i < r->nfindings; i++) {
		const struct notion_code_info *ci =
		    notion_code_lookup(r->findings[i].code);

		if (ci)
			xjson_push(fa, finding_json(&r->findings[i], ci));
	}
	return fa;
}

void
notion_format_json(const struct notion_report *r, struct buf *out)
{
	enum notion_code code = notion_report_code(r);
	json_t *o = xnonnull(json_object()), *fa = notion_findings_json(r);
	json_t *ca = xnonnull(json_array()), *bot = json_null();
	char *s;

	for (size_t i = 0; i < r->nchecked; i++)
		xjson_push(ca, json_string(r->checked[i]));
	if (r->bot_known) {
		json_decref(bot);
		bot = xnonnull(json_object());
		xjson_set(bot, "name", json_string(r->bot_name));
		xjson_set(bot, "workspace_name",
		    json_string(r->workspace_name));
	}
	xjson_set(o, "ok", json_boolean(code == NOTION_OK));
	xjson_set(o, "code", code == NOTION_OK ? json_null() :
	    json_string(notion_code_name(code)));
	xjson_set(o, "exit", json_integer(notion_report_exit(r)));
	xjson_set(o, "token_fingerprint", jstr_or_null(r->fingerprint));
	xjson_set(o, "findings", fa);
	xjson_set(o, "bot", bot);
	xjson_set(o, "targets_configured",
	    json_integer((json_int_t)r->ntargets));
	xjson_set(o, "targets_checked", ca);
	s = xnonnull(json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER));
	buf_appends(out, s);
	buf_appendc(out, '\n');
	free(s);
	json_decref(o);
}

/* Markdown table cell: no pipes, backticks or angle brackets. */
static void
md_escape(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			buf_appends(out, "\\|");
		else if (*s == '`')
			buf_appendc(out, '\'');
		else if (*s == '<')
			buf_appends(out, "&lt;");
		else if (*s == '>')
			buf_appends(out, "&gt;");
		else
			buf_appendc(out, *s);
	}
}

void
notion_format_markdown(const struct notion_report *r, struct buf *out)
{
	enum notion_code code = notion_report_code(r);
	char status[16];

	if (code == NOTION_OK)
		buf_appends(out, "### Notion preflight: ok\n\n");
	else
		buf_appendf(out, "### Notion preflight: FAILED `%s` (exit %d)"
		    "\n\n", notion_code_name(code), notion_report_exit(r));
	md_escape(out, r->fingerprint[0] ? r->fingerprint : "(none)");
	buf_appends(out, " is the token fingerprint.");
	if (r->bot_known) {
		buf_appends(out, " Bot **");
		md_escape(out, r->bot_name);
		buf_appends(out, "** in workspace **");
		md_escape(out, r->workspace_name);
		buf_appendf(out, "**; %zu of %zu target(s) confirmed.",
		    r->nchecked, r->ntargets);
	}
	buf_appends(out, "\n\n");
	if (r->nfindings == 0)
		return;
	buf_appends(out, "| severity | code | target | HTTP | request id | "
	    "what happened | runbook |\n|---|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < r->nfindings; i++) {
		const struct notion_finding *f = &r->findings[i];
		const struct notion_code_info *ci = notion_code_lookup(f->code);

		if (ci == NULL)
			continue;
		snprintf(status, sizeof(status), "%ld", f->http_status);
		buf_appendf(out, "| %s | `%s` | ", severity_name(ci->severity),
		    ci->name);
		md_escape(out, f->target[0] ? f->target : "-");
		buf_appendf(out, " | %s | ", f->http_status ? status : "-");
		md_escape(out, f->request_id[0] ? f->request_id : "-");
		buf_appends(out, " | ");
		md_escape(out, f->message);
		buf_appendf(out, " | `%s#%s` |\n", NOTION_RUNBOOK, ci->anchor);
	}
	buf_appendc(out, '\n');
}

void
notion_redact(struct buf *b, const char *secret, size_t len,
    const char *repl)
{
	struct buf o = BUF_INIT;
	const char *p, *end, *hit;

	if (len == 0 || b->data == NULL || b->len < len ||
	    memmem(b->data, b->len, secret, len) == NULL)
		return;
	p = b->data;
	end = b->data + b->len;
	while ((hit = memmem(p, (size_t)(end - p), secret, len)) != NULL) {
		buf_append(&o, p, (size_t)(hit - p));
		buf_appends(&o, repl);
		p = hit + len;
	}
	buf_append(&o, p, (size_t)(end - p));
	explicit_bzero(b->data, b->len);
	buf_free(b);
	*b = o;
}

/*
 * The libcurl transport.
 */

struct notion_curl {
	CURL	*h;
	char	 version_hdr[64];
	char	 errbuf[CURL_ERROR_SIZE];
};

static size_t
curl_body_cb(char *p, size_t size, size_t nmemb, void *ud)
{
	struct notion_http *h = ud;
	size_t n = size * nmemb;

	if (h->body.len + n > NOTION_BODY_MAX) {
		h->too_large = 1;
		return 0;	/* aborts the transfer: CURLE_WRITE_ERROR */
	}
	buf_append(&h->body, p, n);
	return n;
}

/* Value of header line "Name: value\r\n" if its name is name, else NULL. */
static const char *
header_value(const char *line, size_t len, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);

	if (len <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
		return NULL;
	line += nl + 1;
	len -= nl + 1;
	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n' ||
	    line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	*vlen = len;
	return line;
}

static void
copy_header(char *dst, size_t dstsz, const char *v, size_t vlen)
{
	char tmp[256];

	if (vlen >= sizeof(tmp))
		vlen = sizeof(tmp) - 1;
	memcpy(tmp, v, vlen);
	tmp[vlen] = '\0';
	copy_word(dst, dstsz, tmp);
}

static size_t
curl_header_cb(char *p, size_t size, size_t nmemb, void *ud)
{
	struct notion_http *h = ud;
	size_t n = size * nmemb, vlen;
	const char *v;

	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* a new response (after 100 Continue or a proxy CONNECT) */
		h->request_id[0] = '\0';
		h->retry_after[0] = '\0';
	} else if ((v = header_value(p, n, "x-notion-request-id", &vlen)))
		copy_header(h->request_id, sizeof(h->request_id), v, vlen);
	else if ((v = header_value(p, n, "retry-after", &vlen)))
		copy_header(h->retry_after, sizeof(h->retry_after), v, vlen);
	return n;
}

static long long
curl_now_ms(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		abort();
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
curl_sleep_ms(void *ctx, long ms)
{
	struct timespec ts, rem;

	(void)ctx;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &rem) == -1 && errno == EINTR)
		ts = rem;
}

/* Method and body of the next transfer on h (the handle is reused). */
static int
curl_set_method(CURL *h, const char *method, const char *body, size_t len)
{
	if (strcmp(method, "GET") == 0)
		return curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) == CURLE_OK &&
		    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL) ==
		    CURLE_OK ? 0 : -1;
	if (body == NULL) {
		body = "";
		len = 0;
	}
	if (curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)len) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) != CURLE_OK)
		return -1;
	return curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST,
	    strcmp(method, "POST") == 0 ? NULL : method) == CURLE_OK ? 0 : -1;
}

static int
curl_request(void *ctx, const char *method, const char *url,
    const char *token, const char *body, size_t body_len, long timeout_ms,
    struct notion_http *resp)
{
	struct notion_curl *c = ctx;
	struct curl_slist *hl = NULL, *tmp;
	struct buf auth = BUF_INIT;
	int is_get = strcmp(method, "GET") == 0;
	const char *extra[] = { c->version_hdr, "Accept: application/json",
	    is_get ? NULL : "Content-Type: application/json" };
	CURLcode rc;
	int ok = 1;

	/* token was checked: printable ASCII only, no header injection */
	buf_appendf(&auth, "Authorization: Bearer %s", token);
	if ((tmp = curl_slist_append(hl, buf_str(&auth))) == NULL)
		ok = 0;
	else
		hl = tmp;
	for (size_t i = 0; ok && i < sizeof(extra) / sizeof(extra[0]); i++) {
		if (extra[i] == NULL)
			continue;
		if ((tmp = curl_slist_append(hl, extra[i])) == NULL)
			ok = 0;
		else
			hl = tmp;
	}
	explicit_bzero(auth.data, auth.len);
	buf_free(&auth);
	c->errbuf[0] = '\0';
	if (!ok || curl_set_method(c->h, method, body, body_len) == -1 ||
	    curl_easy_setopt(c->h, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hl) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms) !=
	    CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, resp) != CURLE_OK ||
	    curl_easy_setopt(c->h, CURLOPT_HEADERDATA, resp) != CURLE_OK) {
		snprintf(resp->error, sizeof(resp->error), "cannot set up the "
		    "request (libcurl)");
		rc = CURLE_FAILED_INIT;
	} else
		rc = curl_easy_perform(c->h);
	(void)curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hl);
	if (rc == CURLE_WRITE_ERROR && resp->too_large) {
		if (curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE,
		    &resp->status) != CURLE_OK)
			resp->status = 0;
		return 0;
	}
	if (rc != CURLE_OK) {
		if (resp->error[0] == '\0') {
			struct buf e = BUF_INIT;

			buf_appends(&e, curl_easy_strerror(rc));
			if (c->errbuf[0])
				buf_appendf(&e, ": %s", c->errbuf);
			copy_text(resp->error, sizeof(resp->error), buf_str(&e));
			buf_free(&e);
		}
		resp->status = 0;
		return -1;
	}
	if (curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &resp->status) !=
	    CURLE_OK || resp->status == 0) {
		snprintf(resp->error, sizeof(resp->error), "no HTTP status");
		resp->status = 0;
		return -1;
	}
	return 0;
}

static CURLcode
curl_allow_http_only(CURL *h)
{
#if LIBCURL_VERSION_NUM >= 0x075500
	return curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	return curl_easy_setopt(h, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
}

struct notion_curl *
notion_curl_new(const char *cacert, const char *notion_version,
    const char *user_agent, char *err, size_t errsz)
{
	struct notion_curl *c;
	CURL *h;

	c = xcalloc(1, sizeof(*c));
	if ((h = curl_easy_init()) == NULL) {
		free(c);
		snprintf(err, errsz, "cannot initialize libcurl");
		return NULL;
	}
	c->h = h;
	snprintf(c->version_hdr, sizeof(c->version_hdr), "Notion-Version: %s",
	    notion_version);
	if (curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSLVERSION,
	    (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK ||
	    (cacert && curl_easy_setopt(h, CURLOPT_CAINFO, cacert) !=
	    CURLE_OK) ||
	    curl_allow_http_only(h) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_USERAGENT, user_agent) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, curl_body_cb) !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, curl_header_cb) !=
	    CURLE_OK) {
		snprintf(err, errsz, "cannot configure libcurl (TLS "
		    "verification or protocol restriction unsupported)");
		notion_curl_free(c);
		return NULL;
	}
	return c;
}

void
notion_curl_transport(struct notion_curl *c, struct notion_transport *t)
{
	t->request = curl_request;
	t->now_ms = curl_now_ms;
	t->sleep_ms = curl_sleep_ms;
	t->ctx = c;
}

void
notion_curl_free(struct notion_curl *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->h);
	free(c);
}

/*
 * The environment (contract section 7), shared by the preflight and the
 * sync.
 */

/* An environment variable, NULL when unset or empty. */
static const char *
env_get(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static int
env_rotation(struct notion_env *e, time_t now, char *err, size_t errsz)
{
	const char *issued = env_get("NOTION_TOKEN_ISSUED_AT");
	const char *rotate = env_get("NOTION_TOKEN_ROTATE_DAYS");
	const char *warn = env_get("NOTION_TOKEN_WARN_DAYS");

	e->warn_days = 14;
	if (warn && notion_parse_long(warn, 0, 3650, &e->warn_days)) {
		snprintf(err, errsz, "NOTION_TOKEN_WARN_DAYS must be a whole "
		    "number of days between 0 and 3650, got \"%.32s\"", warn);
		return -1;
	}
	if (issued == NULL && rotate == NULL)
		return 0;
	if (issued == NULL || rotate == NULL) {
		snprintf(err, errsz, "set both NOTION_TOKEN_ISSUED_AT and "
		    "NOTION_TOKEN_ROTATE_DAYS, or neither");
		return -1;
	}
	if (notion_parse_time(issued, &e->issued)) {
		snprintf(err, errsz, "NOTION_TOKEN_ISSUED_AT must be YYYY-MM-DD "
		    "or RFC 3339, got \"%.40s\"", issued);
		return -1;
	}
	if (e->issued > now + DAY) {
		snprintf(err, errsz, "NOTION_TOKEN_ISSUED_AT %.40s is in the "
		    "future: fix the date", issued);
		return -1;
	}
	if (notion_parse_long(rotate, 1, 3650, &e->rotate_days)) {
		snprintf(err, errsz, "NOTION_TOKEN_ROTATE_DAYS must be a whole "
		    "number of days between 1 and 3650, got \"%.32s\"", rotate);
		return -1;
	}
	e->rotation = 1;
	return 0;
}

int
notion_env_read(struct notion_env *e, time_t now, char *err, size_t errsz)
{
	const char *base = env_get("NOTION_API_BASE");
	const char *version = env_get("NOTION_VERSION");

	memset(e, 0, sizeof(*e));
	if (notion_api_base_check(base ? base : NOTION_DEFAULT_API_BASE,
	    e->api_base, sizeof(e->api_base), err, errsz) == -1)
		return -1;
	if (version == NULL)
		version = NOTION_DEFAULT_VERSION;
	if (notion_version_check(version) == -1) {
		snprintf(err, errsz, "NOTION_VERSION must look like 2022-06-28, "
		    "got \"%.32s\"", version);
		return -1;
	}
	snprintf(e->version, sizeof(e->version), "%s", version);
	if (notion_targets_parse(env_get("NOTION_PREFLIGHT_TARGETS"),
	    e->targets, NOTION_MAX_TARGETS, &e->ntargets, err, errsz) == -1)
		return -1;
	if (getenv("NOTION_TOKEN") && env_get("NOTION_TOKEN_FILE")) {
		snprintf(err, errsz, "set NOTION_TOKEN or NOTION_TOKEN_FILE, not "
		    "both");
		return -1;
	}
	return env_rotation(e, now, err, errsz);
}

/* Export one config value as a variable unless the environment has it. */
static void
export_default(const char *name, const char *value)
{
	if (value != NULL && *value != '\0' && getenv(name) == NULL)
		setenv(name, value, 0);
}

void
notion_env_from_config(const struct ops_config *cfg)
{
	char num[16];

	export_default("NOTION_API_BASE", cfg->notion.api_base);
	export_default("NOTION_VERSION", cfg->notion.version);
	export_default("NOTION_PREFLIGHT_TARGETS", cfg->notion.targets);
	export_default("NOTION_TOKEN_ISSUED_AT", cfg->notion.token_issued_at);
	if (cfg->notion.token_rotate_days > 0) {
		snprintf(num, sizeof(num), "%d", cfg->notion.token_rotate_days);
		export_default("NOTION_TOKEN_ROTATE_DAYS", num);
	}
	snprintf(num, sizeof(num), "%d", cfg->notion.token_warn_days);
	export_default("NOTION_TOKEN_WARN_DAYS", num);
	if (getenv("NOTION_TOKEN_FILE") == NULL)
		export_default("NOTION_TOKEN", cfg->notion.token);
}
