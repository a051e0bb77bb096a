/*
 * validate: tokens, ids, targets, the API base URL, dates, day counts,
 * Retry-After and the rotation arithmetic (notion.h, "Validation").
 */
#include "notion_int.h"

#include <curl/curl.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "date.h"


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

const char *
notion_kind_name(enum notion_kind kind)
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
		snprintf(out, outsz, "%s:%s", notion_kind_name(kind), id);
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
			snprintf(err, errsz, "item %zu "
			    "is too long", itemno);
			return -1;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		if (count == max) {
			snprintf(err, errsz, "more "
			    "than %zu targets", max);
			return -1;
		}
		if (parse_target(item, &t[count]) == -1) {
			char shown[64];

			notion_copy_text(shown, sizeof(shown), item);
			snprintf(err, errsz, "item "
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
		snprintf(err, errsz, "is not a valid URL");
		goto out;
	}
	https = strcmp(scheme, "https") == 0;
	if (!https && strcmp(scheme, "http") != 0) {
		snprintf(err, errsz, "must start with https://");
		goto out;
	}
	if (user || query || frag) {
		snprintf(err, errsz, "must not carry "
		    "credentials, a query or a fragment");
		goto out;
	}
	if (!https && !notion_host_is_loopback(host)) {
		snprintf(err, errsz, "uses http:// for host "
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
		snprintf(err, errsz, "is too long");
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
		snprintf(err, errsz, "cannot parse it: out of "
		    "memory");
		return -1;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		snprintf(err, errsz, "is not a valid URL: use "
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
