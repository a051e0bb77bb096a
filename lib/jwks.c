#include "jwks.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "log.h"
#include "xalloc.h"
#include "xpthread.h"

#define JWKS_MAX_BYTES		(1024 * 1024)
#define JWKS_TIMEOUT_MS		5000L
#define JWKS_MAX_AGE_CAP	86400

struct jwks {
	char			*file, *url, *ca_file, *hs_kid;
	unsigned char		*hs_secret;
	size_t			 hs_secret_len;
	int			 min_refresh, max_age;

	/* the keys and their expiry: read under rdlock, swapped under wrlock */
	pthread_rwlock_t	 lock;
	struct auth_keyset	*ks;
	time_t			 expires_at;

	/* one refresh at a time: guards the fields below */
	pthread_mutex_t		 fetch;
	time_t			 last_try;
};

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* The URL up to its query or fragment, for messages. */
static void
url_for_msg(const char *url, char *out, size_t outsz)
{
	snprintf(out, outsz, "%.*s", (int)strcspn(url, "?#"), url);
}

struct fetch {
	struct buf	 body;
	long		 max_age;	/* -1: no max-age */
	bool		 too_big;
};

static size_t
body_cb(char *p, size_t size, size_t n, void *arg)
{
	struct fetch *f = arg;

	if (f->body.len + size * n > JWKS_MAX_BYTES) {
		f->too_big = true;
		return 0;
	}
	buf_append(&f->body, p, size * n);
	return size * n;
}

/* Cache-Control: max-age=N (no-store / no-cache count as 0). */
static size_t
header_cb(char *p, size_t size, size_t n, void *arg)
{
	struct fetch *f = arg;
	size_t len = size * n;
	char line[512], *v;

	if (len < 14 || strncasecmp(p, "cache-control:", 14) != 0)
		return len;
	snprintf(line, sizeof(line), "%.*s", (int)len, p);
	for (v = line; *v; v++)
		if (*v >= 'A' && *v <= 'Z')
			*v = (char)(*v - 'A' + 'a');
	if (strstr(line, "no-store") || strstr(line, "no-cache"))
		f->max_age = 0;
	else if ((v = strstr(line, "max-age=")) != NULL) {
		char *end;
		long m = strtol(v + 8, &end, 10);

		if (end != v + 8 && m >= 0)
			f->max_age = m;
	}
	return len;
}

static CURLcode
https_only(CURL *h)
{
#if LIBCURL_VERSION_NUM >= 0x075500
	return curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
#else
	return curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
}

/* GET the URL into f. 0, or -1 with err filled. */
static int
fetch_url(const struct jwks *j, struct fetch *f, char *err, size_t errsz)
{
	char ebuf[CURL_ERROR_SIZE] = "", where[256];
	CURL *h;
	CURLcode rc;
	long status = 0;

	url_for_msg(j->url, where, sizeof(where));
	if ((h = curl_easy_init()) == NULL) {
		snprintf(err, errsz, "jwks %s: cannot start a request", where);
		return -1;
	}
	if (curl_easy_setopt(h, CURLOPT_URL, j->url) != CURLE_OK ||
	    https_only(h) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    (j->ca_file && curl_easy_setopt(h, CURLOPT_CAINFO, j->ca_file) !=
	    CURLE_OK) ||
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, JWKS_TIMEOUT_MS) !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_USERAGENT, "ops-jwks") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_cb) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, f) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb) !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HEADERDATA, f) != CURLE_OK) {
		snprintf(err, errsz, "jwks %s: cannot set up the request", where);
		curl_easy_cleanup(h);
		return -1;
	}
	rc = curl_easy_perform(h);
	(void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	if (f->too_big) {
		snprintf(err, errsz, "jwks %s: larger than %d bytes", where,
		    JWKS_MAX_BYTES);
		return -1;
	}
	if (rc != CURLE_OK) {
		snprintf(err, errsz, "jwks %s: %s", where,
		    ebuf[0] ? ebuf : curl_easy_strerror(rc));
		return -1;
	}
	if (status != 200) {
		snprintf(err, errsz, "jwks %s: HTTP %ld (expected 200)", where,
		    status);
		return -1;
	}
	return 0;
}

/*
 * Load a new keyset from the source. 0 with *ks and *max_age set, or -1
 * with err filled.
 */
static int
load(const struct jwks *j, struct auth_keyset **ks, int *max_age, char *err,
    size_t errsz)
{
	struct fetch f = { BUF_INIT, -1, false };
	char where[256];
	int rc;

	*max_age = j->max_age;
	if (j->url == NULL)
		return auth_keyset_load(ks, j->file, j->hs_secret,
		    j->hs_secret_len, j->hs_kid, err, errsz);
	if (fetch_url(j, &f, err, errsz) != 0) {
		buf_free(&f.body);
		return -1;
	}
	url_for_msg(j->url, where, sizeof(where));
	rc = auth_keyset_load_text(ks, where, f.body.data ? f.body.data : "",
	    f.body.len, j->hs_secret, j->hs_secret_len, j->hs_kid, err, errsz);
	buf_free(&f.body);
	if (f.max_age >= 0)
		*max_age = f.max_age < j->min_refresh ? j->min_refresh :
		    f.max_age > JWKS_MAX_AGE_CAP ? JWKS_MAX_AGE_CAP :
		    (int)f.max_age;
	return rc;
}

/* What jwks_open() needs, copied from the configuration. */
struct jwks_config {
	const char		*file;		/* a JWKS file, or NULL */
	const char		*url;		/* an https:// URL, or NULL */
	const char		*ca_file;	/* CA bundle for url; NULL: system's */
	const unsigned char	*hs_secret;	/* HS256 secret or NULL (copied) */
	size_t			 hs_secret_len;
	const char		*hs_kid;
	int			 min_refresh_seconds;
	int			 max_age_seconds;
};

static int
jwks_open(struct jwks **out, const struct jwks_config *cfg, char *err,
    size_t errsz)
{
	struct jwks *j;
	int max_age;

	*out = NULL;
	if (cfg->file && cfg->url) {
		snprintf(err, errsz, "auth.jwks_file and auth.jwks_url are both "
		    "set: keep one");
		return -1;
	}
	if (cfg->url && strncmp(cfg->url, "https://", 8) != 0) {
		snprintf(err, errsz, "auth.jwks_url must be an https:// URL");
		return -1;
	}
	j = xcalloc(1, sizeof(*j));
	j->file = dup_or_null(cfg->file);
	j->url = dup_or_null(cfg->url);
	j->ca_file = dup_or_null(cfg->ca_file);
	j->hs_kid = dup_or_null(cfg->hs_kid);
	if (cfg->hs_secret) {
		j->hs_secret = xmalloc(cfg->hs_secret_len + 1);
		memcpy(j->hs_secret, cfg->hs_secret, cfg->hs_secret_len);
		j->hs_secret_len = cfg->hs_secret_len;
	}
	j->min_refresh = cfg->min_refresh_seconds > 0 ?
	    cfg->min_refresh_seconds : 1;
	j->max_age = cfg->max_age_seconds > 0 ? cfg->max_age_seconds : 300;
	xpthread(pthread_rwlock_init(&j->lock, NULL));
	xpthread(pthread_mutex_init(&j->fetch, NULL));
	if (j->url && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errsz, "cannot initialise libcurl");
		jwks_close(j);
		return -1;
	}
	if (load(j, &j->ks, &max_age, err, errsz) != 0) {
		jwks_close(j);
		return -1;
	}
	j->last_try = time(NULL);
	j->expires_at = j->last_try + max_age;
	*out = j;
	return 0;
}

int
jwks_open_config(struct jwks **out, const struct ops_config *cfg, char *err,
    size_t errsz)
{
	const char *s = cfg->auth.hs256_secret;
	struct jwks_config c = {
		.file = cfg->auth.jwks_file,
		.url = cfg->auth.jwks_url,
		.ca_file = cfg->auth.jwks_ca_file,
		.hs_secret = (const unsigned char *)s,
		.hs_secret_len = s ? strlen(s) : 0,
		.hs_kid = cfg->auth.hs256_kid,
		.min_refresh_seconds = cfg->auth.jwks_min_refresh_seconds,
		.max_age_seconds = cfg->auth.jwks_max_age_seconds,
	};

	return jwks_open(out, &c, err, errsz);
}

void
jwks_close(struct jwks *j)
{
	if (j == NULL)
		return;
	auth_keyset_free(j->ks);
	(void)pthread_rwlock_destroy(&j->lock);
	(void)pthread_mutex_destroy(&j->fetch);
	if (j->url)
		curl_global_cleanup();
	if (j->hs_secret)
		OPENSSL_clear_free(j->hs_secret, j->hs_secret_len);
	free(j->file);
	free(j->url);
	free(j->ca_file);
	free(j->hs_kid);
	free(j);
}

/*
 * Refresh unless one is running or the last try is less than min_refresh
 * ago. Returns 1 when new keys are in place, 0 when nothing was tried, -1
 * when the try failed (old keys kept).
 */
static int
refresh(struct jwks *j, time_t now, const char *why)
{
	struct auth_keyset *ks = NULL, *old;
	char err[512];
	int max_age;

	if (pthread_mutex_trylock(&j->fetch) != 0)
		return 0;
	if (now < j->last_try + j->min_refresh) {
		xpthread(pthread_mutex_unlock(&j->fetch));
		return 0;
	}
	j->last_try = now;
	if (load(j, &ks, &max_age, err, sizeof(err)) != 0) {
		xpthread(pthread_mutex_unlock(&j->fetch));
		log_warn("cannot refresh the JWT keys (%s): %s; keeping the "
		    "current keys, next try in %d s", why, err,
		    j->min_refresh);
		return -1;
	}
	xpthread(pthread_rwlock_wrlock(&j->lock));
	old = j->ks;
	j->ks = ks;
	j->expires_at = now + max_age;
	xpthread(pthread_rwlock_unlock(&j->lock));
	xpthread(pthread_mutex_unlock(&j->fetch));
	auth_keyset_free(old);
	log_info("JWT keys refreshed (%s); next refresh in %d s", why,
	    max_age);
	return 1;
}

enum auth_result
jwks_verify(struct jwks *j, const struct auth_policy *pol, const char *token,
    time_t now, struct auth_principal *out)
{
	enum auth_result r;
	bool expired;

	if (j == NULL)
		return auth_verify(NULL, pol, token, now, out);
	if (j->file || j->url) {
		xpthread(pthread_rwlock_rdlock(&j->lock));
		expired = now >= j->expires_at;
		xpthread(pthread_rwlock_unlock(&j->lock));
		if (expired)
			(void)refresh(j, now, "cache expired");
	}
	xpthread(pthread_rwlock_rdlock(&j->lock));
	r = auth_verify(j->ks, pol, token, now, out);
	xpthread(pthread_rwlock_unlock(&j->lock));
	if (r == AUTH_ERR_KID && (j->file || j->url) &&
	    refresh(j, now, "unknown kid") == 1) {
		xpthread(pthread_rwlock_rdlock(&j->lock));
		r = auth_verify(j->ks, pol, token, now, out);
		xpthread(pthread_rwlock_unlock(&j->lock));
	}
	return r;
}
