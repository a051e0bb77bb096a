/*
 * curl: the libcurl transport (TLS verification always on).
 */
#include "notion_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "xalloc.h"


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
	notion_copy_word(dst, dstsz, tmp);
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
	(void)ctx;
	return (long long)(mono_now() * 1000.0);
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
			notion_copy_text(resp->error, sizeof(resp->error), buf_str(&e));
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
