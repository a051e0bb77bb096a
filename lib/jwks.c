#include "jwks.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "bug.h"
#include "clock.h"
#include "log.h"
#include "xalloc.h"
#include "xpthread.h"

#define JWKS_MAX_BYTES		(1024 * 1024)
#define JWKS_TIMEOUT_MS		5000L
#define JWKS_MAX_AGE_CAP	86400
#define JWKS_WAIT_MS		1000L	/* a worker waits for its refresh */
#define JWKS_BACKOFF_CAP	300	/* longest wait between failed tries */

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

struct jwks {
	char			*file, *url, *ca_file, *hs_kid, *cache_path;
	unsigned char		*hs_secret;
	size_t			 hs_secret_len;
	int			 min_refresh, max_age, max_stale;

	/* the keys: read under rdlock, swapped under wrlock */
	pthread_rwlock_t	 lock;
	struct auth_keyset	*ks;		/* NULL: none yet */
	time_t			 loaded_at;	/* when ks was fetched (0: never) */

	atomic_bool		 quit;		/* jwks_stop(): abort a fetch */

	/* the refresher's schedule, under m; cv wakes it and the waiters */
	pthread_mutex_t		 m;
	pthread_cond_t		 cv;
	bool			 stop, running, asked, busy, stale_logged;
	const char		*asked_why;
	double			 last_try;	/* mono_now() of the last fetch */
	time_t			 next_at;
	int			 failures;
	unsigned long		 done;		/* refreshes finished */
};

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

/* A fetch in flight ends at once on jwks_stop(): a stop waits for no URL. */
static int
progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	const struct jwks *j = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return atomic_load(&j->quit) ? 1 : 0;
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
	    curl_easy_setopt(h, CURLOPT_HEADERDATA, f) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb) !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)j) != CURLE_OK) {
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
 * Load a new keyset from the source. 0 with *ks and *max_age set (and, for a
 * URL, the body in *text for the cache), or -1 with err filled.
 */
static int
load(const struct jwks *j, struct auth_keyset **ks, int *max_age,
    struct buf *text, char *err, size_t errsz)
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
	if (f.max_age >= 0)
		*max_age = f.max_age < j->min_refresh ? j->min_refresh :
		    f.max_age > JWKS_MAX_AGE_CAP ? JWKS_MAX_AGE_CAP :
		    (int)f.max_age;
	if (rc == 0 && text != NULL) {
		buf_free(text);
		*text = f.body;
	} else
		buf_free(&f.body);
	return rc;
}

/*
 * Keep the JWKS text as the last good set: written to a temporary file in
 * the same directory, mode 0600, fsync'd, then renamed over the cache, so a
 * crash leaves the old cache or the new one, never half of one. A failure
 * is logged and changes nothing else.
 */
static void
cache_write(const struct jwks *j, const struct buf *text)
{
	struct buf tmp = BUF_INIT;
	size_t off = 0;
	int fd;

	if (j->cache_path == NULL || text->len == 0)
		return;
	buf_appendf(&tmp, "%s.tmp.%ld", j->cache_path, (long)getpid());
	fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd == -1)
		goto fail;
	while (off < text->len) {
		ssize_t n = write(fd, text->data + off, text->len - off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			(void)close(fd);
			goto fail;
		}
		off += (size_t)n;
	}
	if (fchmod(fd, 0600) != 0 || fsync(fd) != 0) {
		(void)close(fd);
		goto fail;
	}
	if (close(fd) != 0 || rename(tmp.data, j->cache_path) != 0)
		goto fail;
	buf_free(&tmp);
	return;
fail:
	log_warn("cannot write the JWKS cache %s: %s; the keys are in use, "
	    "but a restart while the identity provider is down will have none",
	    j->cache_path, strerror(errno));
	(void)unlink(tmp.data);
	buf_free(&tmp);
}

/* The cached JWKS and when it was fetched (its mtime). 0 or -1. */
static int
cache_read(const struct jwks *j, struct auth_keyset **ks, time_t *fetched,
    char *err, size_t errsz)
{
	struct stat st;

	if (stat(j->cache_path, &st) != 0) {
		snprintf(err, errsz, "jwks cache %s: %s", j->cache_path,
		    strerror(errno));
		return -1;
	}
	*fetched = st.st_mtime;
	return auth_keyset_load(ks, j->cache_path, j->hs_secret,
	    j->hs_secret_len, j->hs_kid, err, errsz);
}

static const char *
source(const struct jwks *j, char *out, size_t outsz)
{
	if (j->url)
		url_for_msg(j->url, out, outsz);
	else
		snprintf(out, outsz, "%s", j->file ? j->file : "hs256");
	return out;
}

/* Put ks in place (fetched at loaded_at) and free the old keys. */
static void
install(struct jwks *j, struct auth_keyset *ks, time_t loaded_at)
{
	struct auth_keyset *old;
	const char *skipped;
	char where[256];
	size_t n;

	if ((skipped = auth_keyset_skipped(ks, &n)) != NULL)
		log_warn("jwks %s: %zu key(s) of a kind this service does not "
		    "use skipped (%s); the other keys are in use",
		    source(j, where, sizeof(where)), n, skipped);
	xpthread(pthread_rwlock_wrlock(&j->lock));
	old = j->ks;
	j->ks = ks;
	j->loaded_at = loaded_at;
	xpthread(pthread_rwlock_unlock(&j->lock));
	auth_keyset_free(old);
}

/* What jwks_open() needs, copied from the configuration. */
struct jwks_config {
	const char		*file;		/* a JWKS file, or NULL */
	const char		*url;		/* an https:// URL, or NULL */
	const char		*ca_file;	/* CA bundle for url; NULL: system's */
	const char		*cache_path;	/* last good set of url, or NULL */
	const unsigned char	*hs_secret;	/* HS256 secret or NULL (copied) */
	size_t			 hs_secret_len;
	const char		*hs_kid;
	int			 min_refresh_seconds;
	int			 max_age_seconds;
	int			 max_stale_seconds;
};

/*
 * strict (check-config): the source must load now, no cache. Otherwise a
 * URL that fails leaves the responder without keys (503 on authenticated
 * routes) until the refresher fetches them.
 */
static int
jwks_open(struct jwks **out, const struct jwks_config *cfg, bool strict,
    char *err, size_t errsz)
{
	struct buf text = BUF_INIT;
	struct auth_keyset *ks = NULL;
	struct jwks *j;
	char msg[512];
	time_t now = time(NULL), fetched;
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
	atomic_init(&j->quit, false);
	j->file = dup_or_null(cfg->file);
	j->url = dup_or_null(cfg->url);
	j->ca_file = dup_or_null(cfg->ca_file);
	j->hs_kid = dup_or_null(cfg->hs_kid);
	j->cache_path = cfg->url && !strict ? dup_or_null(cfg->cache_path) :
	    NULL;
	if (cfg->hs_secret) {
		j->hs_secret = xmalloc(cfg->hs_secret_len + 1);
		memcpy(j->hs_secret, cfg->hs_secret, cfg->hs_secret_len);
		j->hs_secret_len = cfg->hs_secret_len;
	}
	j->min_refresh = cfg->min_refresh_seconds > 0 ?
	    cfg->min_refresh_seconds : 1;
	j->max_age = cfg->max_age_seconds > 0 ? cfg->max_age_seconds : 300;
	j->max_stale = cfg->max_stale_seconds > 0 ? cfg->max_stale_seconds :
	    86400;
	xpthread(pthread_rwlock_init(&j->lock, NULL));
	xpthread(pthread_mutex_init(&j->m, NULL));
	xpthread(pthread_cond_init(&j->cv, NULL));
	if (j->url && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errsz, "cannot initialise libcurl");
		jwks_close(j);
		return -1;
	}
	j->last_try = mono_now();
	j->next_at = now + j->max_age;
	/* a fresh enough cache first: the start does not wait for the URL */
	if (j->cache_path != NULL) {
		if (cache_read(j, &ks, &fetched, msg, sizeof(msg)) != 0)
			log_info("no usable JWKS cache (%s): fetching", msg);
		else if (now - fetched > j->max_stale) {
			log_warn("the JWKS cache %s is %lld s old, more than "
			    "auth.jwks_max_stale_seconds (%d): not used",
			    j->cache_path, (long long)(now - fetched),
			    j->max_stale);
			auth_keyset_free(ks);
			ks = NULL;
		} else {
			log_info("JWT keys from the cache %s (fetched %lld s "
			    "ago); refreshing from the URL in the background",
			    j->cache_path, (long long)(now - fetched));
			install(j, ks, fetched);
			j->next_at = now;	/* the refresher fetches at once */
			*out = j;
			return 0;
		}
	}
	if (load(j, &ks, &max_age, &text, msg, sizeof(msg)) == 0) {
		install(j, ks, now);
		cache_write(j, &text);
		buf_free(&text);
		j->next_at = now + max_age;
		*out = j;
		return 0;
	}
	buf_free(&text);
	if (strict || j->url == NULL) {
		/* a file or an HS256 secret: a configuration error */
		snprintf(err, errsz, "%s", msg);
		jwks_close(j);
		return -1;
	}
	log_warn("cannot fetch the JWT keys at start: %s; authenticated "
	    "requests answer 503 until a fetch succeeds (retried in the "
	    "background)", msg);
	j->failures = 1;
	j->next_at = now + j->min_refresh;
	*out = j;
	return 0;
}

static void
config_of(struct jwks_config *c, const struct ops_config *cfg,
    char *cache, size_t cachesz)
{
	const char *s = cfg->auth.hs256_secret;
	const char *state = getenv("STATE_DIRECTORY");

	memset(c, 0, sizeof(*c));
	c->file = cfg->auth.jwks_file;
	c->url = cfg->auth.jwks_url;
	c->ca_file = cfg->auth.jwks_ca_file;
	c->hs_secret = (const unsigned char *)s;
	c->hs_secret_len = s ? strlen(s) : 0;
	c->hs_kid = cfg->auth.hs256_kid;
	c->min_refresh_seconds = cfg->auth.jwks_min_refresh_seconds;
	c->max_age_seconds = cfg->auth.jwks_max_age_seconds;
	c->max_stale_seconds = cfg->auth.jwks_max_stale_seconds;
	c->cache_path = cfg->auth.jwks_cache_path;
	/* unset: systemd's StateDirectory= (its first entry), else none */
	if (c->cache_path == NULL && state != NULL && *state == '/') {
		snprintf(cache, cachesz, "%.*s/jwks-cache.json",
		    (int)strcspn(state, ":"), state);
		c->cache_path = cache;
	}
}

int
jwks_open_config(struct jwks **out, const struct ops_config *cfg, char *err,
    size_t errsz)
{
	struct jwks_config c;
	char cache[4096];

	config_of(&c, cfg, cache, sizeof(cache));
	return jwks_open(out, &c, false, err, errsz);
}

int
jwks_check_config(const struct ops_config *cfg, char *err, size_t errsz)
{
	struct jwks_config c;
	struct jwks *j;
	char cache[4096];

	config_of(&c, cfg, cache, sizeof(cache));
	if (jwks_open(&j, &c, true, err, errsz) != 0)
		return -1;
	jwks_close(j);
	return 0;
}

void
jwks_close(struct jwks *j)
{
	if (j == NULL)
		return;
	auth_keyset_free(j->ks);
	(void)pthread_rwlock_destroy(&j->lock);
	(void)pthread_mutex_destroy(&j->m);
	(void)pthread_cond_destroy(&j->cv);
	if (j->url)
		curl_global_cleanup();
	if (j->hs_secret)
		OPENSSL_clear_free(j->hs_secret, j->hs_secret_len);
	free(j->file);
	free(j->url);
	free(j->ca_file);
	free(j->hs_kid);
	free(j->cache_path);
	free(j);
}

/* Wait on cv until the wall-clock time until (or a signal). */
static int
wait_until(struct jwks *j, time_t until_s, long extra_ms)
{
	struct timespec ts = { until_s, 0 };

	if (extra_ms > 0) {
		(void)clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += extra_ms / 1000;
		ts.tv_nsec += (extra_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
	}
	return pthread_cond_timedwait(&j->cv, &j->m, &ts);
}

static bool
rotates(const struct jwks *j)
{
	return j->file != NULL || j->url != NULL;
}

void *
jwks_refresher(void *arg)
{
	struct jwks *j = arg;
	const char *why;
	char msg[512], where[256];

	if (!rotates(j))
		return NULL;
	xpthread(pthread_mutex_lock(&j->m));
	j->running = true;
	while (!j->stop) {
		struct buf text = BUF_INIT;
		struct auth_keyset *ks = NULL;
		time_t now = time(NULL);
		int max_age, rc, backoff;

		if (!j->asked && now < j->next_at) {
			int w = wait_until(j, j->next_at, 0);

			if (w != 0 && w != ETIMEDOUT && w != EINTR)
				BUG("pthread_cond_timedwait: %s", strerror(w));
			continue;
		}
		why = j->asked ? j->asked_why : j->failures > 0 ? "retry" :
		    "cache expired";
		j->asked = false;
		j->busy = true;
		j->last_try = mono_now();
		xpthread(pthread_mutex_unlock(&j->m));

		/* the fetch, bounded by JWKS_TIMEOUT_MS, holds no lock */
		rc = load(j, &ks, &max_age, &text, msg, sizeof(msg));
		if (rc == 0) {
			install(j, ks, now);
			cache_write(j, &text);
			log_info("JWT keys refreshed (%s); next refresh in %d s",
			    why, max_age);
		}
		buf_free(&text);

		xpthread(pthread_mutex_lock(&j->m));
		j->busy = false;
		j->done++;
		if (rc == 0) {
			j->failures = 0;
			j->stale_logged = false;
			j->next_at = now + max_age;
		} else {
			j->failures++;
			backoff = j->min_refresh;
			for (int i = 1; i < j->failures &&
			    backoff < JWKS_BACKOFF_CAP; i++)
				backoff *= 2;
			if (backoff > JWKS_BACKOFF_CAP)
				backoff = JWKS_BACKOFF_CAP > j->min_refresh ?
				    JWKS_BACKOFF_CAP : j->min_refresh;
			j->next_at = now + backoff;
			log_warn("cannot refresh the JWT keys from %s (%s): %s; "
			    "keeping the current keys, next try in %d s",
			    source(j, where, sizeof(where)), why, msg, backoff);
		}
		xpthread(pthread_cond_broadcast(&j->cv));
	}
	j->running = false;
	xpthread(pthread_mutex_unlock(&j->m));
	return NULL;
}

void
jwks_stop(struct jwks *j)
{
	if (j == NULL)
		return;
	atomic_store(&j->quit, true);
	xpthread(pthread_mutex_lock(&j->m));
	j->stop = true;
	xpthread(pthread_cond_broadcast(&j->cv));
	xpthread(pthread_mutex_unlock(&j->m));
}

/*
 * Ask the refresher for a refresh, unless one is running or the last try
 * is less than min_refresh ago on the monotonic clock (whole seconds of
 * time() let two fetches through 1.1 s apart), so that unknown kids cannot
 * make us hammer the identity provider; and wait for it at most
 * JWKS_WAIT_MS: a token signed with a key published a moment ago is
 * accepted on its first try when the identity provider answers quickly,
 * and a hung one holds this worker for JWKS_WAIT_MS, not for the fetch.
 * Only the asking request waits. Returns
 * true when a refresh finished meanwhile.
 */
static bool
ask(struct jwks *j, const char *why)
{
	unsigned long before;
	bool got = false;

	xpthread(pthread_mutex_lock(&j->m));
	if (!j->running || j->stop || j->busy || j->asked ||
	    mono_now() < j->last_try + j->min_refresh) {
		xpthread(pthread_mutex_unlock(&j->m));
		return false;
	}
	j->asked = true;
	j->asked_why = why;
	before = j->done;
	xpthread(pthread_cond_broadcast(&j->cv));
	while (j->done == before && !j->stop) {
		int w = wait_until(j, 0, JWKS_WAIT_MS);

		if (w == ETIMEDOUT)
			break;
		if (w != 0 && w != EINTR)
			BUG("pthread_cond_timedwait: %s", strerror(w));
	}
	got = j->done != before;
	xpthread(pthread_mutex_unlock(&j->m));
	return got;
}

/* Verify with the current keys; AUTH_ERR_UNAVAILABLE when none is trusted. */
static enum auth_result
verify_now(struct jwks *j, const struct auth_policy *pol, const char *token,
    time_t now, struct auth_principal *out, time_t *age)
{
	enum auth_result r;

	xpthread(pthread_rwlock_rdlock(&j->lock));
	*age = j->ks ? now - j->loaded_at : -1;
	if (j->ks == NULL || (rotates(j) && now - j->loaded_at > j->max_stale)) {
		memset(out, 0, sizeof(*out));
		r = AUTH_ERR_UNAVAILABLE;
	} else
		r = auth_verify(j->ks, pol, token, now, out);
	xpthread(pthread_rwlock_unlock(&j->lock));
	return r;
}

enum auth_result
jwks_verify(struct jwks *j, const struct auth_policy *pol, const char *token,
    time_t now, struct auth_principal *out)
{
	enum auth_result r;
	time_t age;

	if (j == NULL)
		return auth_verify(NULL, pol, token, now, out);
	r = verify_now(j, pol, token, now, out, &age);
	if (r == AUTH_ERR_UNAVAILABLE) {
		bool first;

		xpthread(pthread_mutex_lock(&j->m));
		first = !j->stale_logged;
		j->stale_logged = true;
		xpthread(pthread_mutex_unlock(&j->m));
		if (first && age >= 0)
			log_error("the JWT keys were fetched %lld s ago, more "
			    "than auth.jwks_max_stale_seconds (%d), and cannot "
			    "be refreshed: tokens are refused with 503 until a "
			    "fetch succeeds", (long long)age, j->max_stale);
		else if (first)
			log_error("no JWT keys: the JWKS could not be fetched; "
			    "tokens are refused with 503 until a fetch "
			    "succeeds");
		if (ask(j, "no usable keys"))
			r = verify_now(j, pol, token, now, out, &age);
	} else if (r == AUTH_ERR_KID && rotates(j) &&
	    ask(j, "unknown kid"))
		r = verify_now(j, pol, token, now, out, &age);
	return r;
}

int
jwks_retry_after(const struct jwks *j)
{
	return j ? j->min_refresh : 1;
}

int
jwks_status(struct jwks *j, time_t now, long long *age)
{
	int usable;

	*age = -1;
	if (j == NULL || !rotates(j))
		return -1;
	xpthread(pthread_rwlock_rdlock(&j->lock));
	if (j->ks != NULL)
		*age = (long long)(now - j->loaded_at);
	usable = j->ks != NULL && now - j->loaded_at <= j->max_stale;
	xpthread(pthread_rwlock_unlock(&j->lock));
	return usable;
}
