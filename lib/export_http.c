/*
 * export_http: the HTTP-facing parts of exports: signed download URLs
 * (built on the route path EXPORT_ROUTE), Range headers and the download
 * file name. Declared in export.h.
 */
#include "export.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "date.h"
#include "digest.h"

/* ---- signed URLs ---------------------------------------------------------- */

void
export_url_sign(const char *secret, const char *id, const char *sub,
    long long expires, char sig_out[65])
{
	struct buf msg = BUF_INIT;
	unsigned char md[32];
	unsigned int mdlen = 0;

	buf_appendf(&msg, "%s\n%s\n%lld", id, sub, expires);
	if (HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    (const unsigned char *)msg.data, msg.len, md, &mdlen) == NULL ||
	    mdlen != 32)
		abort();
	digest_hex(md, 32, sig_out);
	buf_free(&msg);
}

bool
export_url_verify(const char *secret, const char *id, const char *sub,
    long long expires, const char *sig, time_t now, int max_ttl)
{
	char want[65];

	if (secret == NULL || sig == NULL || strlen(sig) != 64)
		return false;
	if (expires < (long long)now || expires > (long long)now + max_ttl)
		return false;
	export_url_sign(secret, id, sub, expires, want);
	return CRYPTO_memcmp(want, sig, 64) == 0;
}

bool
export_download_url_verify(const struct ops_config *cfg, const char *id,
    const char *sub, long long expires, const char *sig, time_t now)
{
	int ttl = cfg->export.download_url_ttl_seconds;
	const char *until = cfg->export.download_secret_previous_until;
	int64_t until_us;

	if (export_url_verify(cfg->export.download_secret, id, sub, expires, sig,
	    now, ttl))
		return true;
	/* config_require() checked the time; unparsable means no overlap */
	if (cfg->export.download_secret_previous == NULL || until == NULL ||
	    date_parse_rfc3339(until, &until_us) != 0 ||
	    (int64_t)now * DATE_US_PER_SEC >= until_us)
		return false;
	return export_url_verify(cfg->export.download_secret_previous, id, sub,
	    expires, sig, now, ttl);
}

/* Percent-encode s for a query string. */
static void
url_escape(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || strchr("-._~", c))
			buf_appendc(out, (char)c);
		else {
			buf_appendc(out, '%');
			buf_appendc(out, hex[c >> 4]);
			buf_appendc(out, hex[c & 15]);
		}
	}
}

json_t *
export_download_url(const struct export_view *view, const char *id,
    const char *sub)
{
	const struct ops_config *cfg = view->cfg;
	long long exp = (long long)view->now +
	    cfg->export.download_url_ttl_seconds;
	struct buf url = BUF_INIT;
	char sig[65];
	json_t *j;

	if (cfg->export.download_secret == NULL)
		return json_null();
	export_url_sign(cfg->export.download_secret, id, sub, exp, sig);
	buf_appendf(&url, "%s" EXPORT_ROUTE "/%s/download?by=",
	    cfg->fcgi.public_base_url ? cfg->fcgi.public_base_url : "", id);
	url_escape(&url, sub);
	buf_appendf(&url, "&expires=%lld&sig=%s", exp, sig);
	j = json_string(url.data);
	buf_free(&url);
	return j;
}

static int
parse_pos(const char *s, size_t len, long long *out)
{
	long long v = 0;

	if (len == 0 || len > 18)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int
export_range_parse(const char *hdr, long long total, long long *first,
    long long *last)
{
	const char *spec, *dash;
	long long a, b;

	*first = 0;
	*last = total - 1;
	if (hdr == NULL || strncmp(hdr, "bytes=", 6) != 0)
		return 0;
	spec = hdr + 6;
	if (strchr(spec, ',') != NULL)
		return 0;	/* several ranges: send the whole file */
	if ((dash = strchr(spec, '-')) == NULL)
		return 0;
	if (dash == spec) {
		/* suffix: the last N bytes */
		if (parse_pos(dash + 1, strlen(dash + 1), &b) != 0)
			return 0;
		if (b == 0 || total == 0)
			return -1;
		*first = b >= total ? 0 : total - b;
		*last = total - 1;
		return 1;
	}
	if (parse_pos(spec, (size_t)(dash - spec), &a) != 0)
		return 0;
	if (dash[1] == '\0')
		b = total - 1;
	else if (parse_pos(dash + 1, strlen(dash + 1), &b) != 0 || b < a)
		return 0;
	if (a >= total)
		return -1;
	*first = a;
	*last = b >= total ? total - 1 : b;
	return 1;
}

void
export_filename(const struct export_file *f, char *out, size_t outsz)
{
	char tenant[64];
	size_t i;

	for (i = 0; f->tenant_id[i] && i < sizeof(tenant) - 1; i++) {
		unsigned char c = (unsigned char)f->tenant_id[i];

		tenant[i] = (isalnum(c) || c == '-' || c == '_' || c == '.') ?
		    (char)c : '_';
	}
	tenant[i] = '\0';
	snprintf(out, outsz, "audit-%s-%s-%s-%.8s.%s%s", tenant, f->from,
	    f->to, f->id, strcmp(f->format, "csv") == 0 ? "csv" : "jsonl",
	    compress_suffix(f->compression));
}

const char *
export_content_type(const struct export_file *f)
{
	const char *t = compress_content_type(f->compression);

	if (t != NULL)
		return t;
	return strcmp(f->format, "csv") == 0 ? "text/csv; charset=utf-8" :
	    "application/x-ndjson";
}
