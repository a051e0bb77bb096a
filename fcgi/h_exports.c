/*
 * Export handlers: create, get, list, cancel, download. Validation, access
 * and state changes live in lib/export.c; this file maps outcomes to HTTP.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "digest.h"
#include "errors.h"
#include "export.h"
#include "fcgi_out.h"
#include "log.h"
#include "routes.h"
#include "storage.h"
#include "xjson.h"

static void
actor_init(struct export_actor *a, struct request *r)
{
	a->who = &r->who;
	a->request_id = r->request_id;
	a->ip = request_param(r, "REMOTE_ADDR");
	a->source = "ops-fcgi";
}

/* The signed download URL of a job: built here, in the HTTP layer. */
static json_t *
download_url(const void *cfg, const char *id, const char *sub)
{
	return export_download_url(cfg, time(NULL), id, sub);
}

static void
view_init(struct export_view *v, struct request *r)
{
	v->download_url = download_url;
	v->arg = r->app->cfg;
}

static void
resp_outcome(struct request *r, enum export_outcome o)
{
	if (o == EXPORT_E_DB) {
		resp_db_error(r);
		return;
	}
	if (o == EXPORT_E_TENANT) {
		resp_error(r, "TENANT_FORBIDDEN", NULL, xjson_pack("[o]",
		    error_detail("tenant_id", "is outside your scope")));
		return;
	}
	resp_error(r, export_outcome_code(o), NULL, NULL);
}

/* Retry-After for jobs still in progress. */
static void
resp_job(struct request *r, int status, json_t *job, const char *state,
    const char *location)
{
	struct buf h = BUF_INIT;

	if (location)
		buf_appendf(&h, "Location: " EXPORT_ROUTE "/%s\r\n",
		    location);
	if (state && (strcmp(state, "PENDING") == 0 ||
	    strcmp(state, "RUNNING") == 0))
		buf_appendf(&h, "Retry-After: %d\r\n",
		    r->app->cfg->export.poll_retry_after_seconds);
	resp_json(r, status, job, h.len ? h.data : NULL);
	buf_free(&h);
}

/* Idempotency-Key: 1 to 255 visible ASCII characters. */
static bool
idem_key_valid(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		if (k[i] < 0x21 || k[i] > 0x7e)
			return false;
	return true;
}

/* The Idempotency-Key header, or NULL; -1 once a bad one is answered. */
static int
idem_key_get(struct request *r, const char **key)
{
	*key = request_param(r, "HTTP_IDEMPOTENCY_KEY");
	if (*key == NULL || idem_key_valid(*key))
		return 0;
	resp_error(r, "VALIDATION_FAILED", NULL, xjson_pack("[o]",
	    error_detail("Idempotency-Key", "must be 1 to 255 visible ASCII "
	    "characters")));
	return -1;
}

/*
 * The answer to a create or a retry: 202 with the job, 429
 * EXPORT_TOO_MANY_ACTIVE with its Retry-After, or the outcome.
 */
static void
resp_created(struct request *r, enum export_outcome o,
    const struct export_actor *a, const struct export_view *v, const char *id)
{
	char state[16];
	json_t *job;

	if (o == EXPORT_E_TOO_MANY) {
		struct buf h = BUF_INIT;

		buf_appendf(&h, "Retry-After: %d\r\n", 30);
		resp_error_h(r, "EXPORT_TOO_MANY_ACTIVE", NULL, NULL, h.data);
		buf_free(&h);
		return;
	}
	if (o != EXPORT_CREATED && o != EXPORT_REPLAYED) {
		resp_outcome(r, o);
		return;
	}
	if ((o = export_job_get(r->db, a, id, v, &job, state)) != EXPORT_OK) {
		resp_outcome(r, o);
		return;
	}
	resp_job(r, 202, job, state, id);
}

void
h_export_create(struct request *r)
{
	struct export_request req;
	struct export_actor a;
	struct export_view v;
	enum export_outcome o;
	char id[EXPORT_ID_LEN + 1];
	const char *key;
	json_t *body, *details;

	if (request_auth(r, CAP_EXPORT_CREATE) != 0 ||
	    request_read_json(r, &body) != 0)
		return;
	if (idem_key_get(r, &key) != 0) {
		json_decref(body);
		return;
	}
	if (export_request_parse(body, r->app->cfg, &req, &details) != 0) {
		json_decref(body);
		resp_error(r, "VALIDATION_FAILED", NULL, details);
		return;
	}
	json_decref(body);
	actor_init(&a, r);
	view_init(&v, r);
	o = export_job_create(r->db, r->app->cfg, r->app->rules, &a, &req, key,
	    id);
	export_request_free(&req);
	resp_created(r, o, &a, &v, id);
}

int
h_export_get_begin(struct request *r, struct export_actor *a,
    struct export_view *v)
{
	if (request_auth(r, CAP_EXPORT_READ) != 0)
		return -1;
	actor_init(a, r);
	view_init(v, r);
	return 0;
}

void
h_export_get_end(struct request *r, enum export_outcome o, json_t *job,
    const char *state)
{
	if (o != EXPORT_OK) {
		resp_outcome(r, o);
		return;
	}
	resp_job(r, 200, job, state, NULL);
}

void
h_export_get(struct request *r)
{
	struct export_actor a;
	struct export_view v;
	enum export_outcome o;
	char state[16];
	json_t *job;

	if (h_export_get_begin(r, &a, &v) != 0)
		return;
	o = export_job_get(r->db, &a, r->params[0], &v, &job, state);
	h_export_get_end(r, o, job, state);
}

void
h_export_list(struct request *r)
{
	struct export_list_query q = { .limit = 50 };
	char state[16], tenant[160], cursor[128], by[AUTH_MAX_SUB + 1];
	char from[64], to[64], code[72], prefix[40];
	struct export_actor a;
	struct export_view v;
	enum export_outcome o;
	json_t *details, *out;

	if (request_auth(r, CAP_EXPORT_READ) != 0)
		return;
	details = json_array();
	(void)request_query_check(r, export_list_params, details);
	request_query_str(r, "state", state, sizeof(state), &q.state, details);
	request_query_str(r, "tenant_id", tenant,
	    sizeof(tenant), &q.tenant_id, details);
	request_query_str(r, "requested_by", by,
	    sizeof(by), &q.requested_by, details);
	request_query_str(r, "created_from", from,
	    sizeof(from), &q.created_from, details);
	request_query_str(r, "created_to", to,
	    sizeof(to), &q.created_to, details);
	request_query_str(r, "error_code", code,
	    sizeof(code), &q.error_code, details);
	request_query_str(r, "id_prefix", prefix,
	    sizeof(prefix), &q.id_prefix, details);
	request_query_str(r, "cursor", cursor,
	    sizeof(cursor), &q.cursor, details);
	request_query_limit(r, &q.limit);
	if (json_array_size(details) > 0) {
		resp_error(r, "VALIDATION_FAILED", NULL, details);
		return;
	}
	json_decref(details);
	if (export_list_query_check(&q, &details) != 0) {
		resp_error(r, "VALIDATION_FAILED", NULL, details);
		return;
	}
	actor_init(&a, r);
	view_init(&v, r);
	if ((o = export_job_list(r->db, &a, &q, &v, &out)) != EXPORT_OK) {
		resp_outcome(r, o);
		return;
	}
	resp_json(r, 200, out, NULL);
}

void
h_export_cancel(struct request *r)
{
	struct export_actor a;
	struct export_view v;
	enum export_outcome o;
	json_t *job;

	if (request_auth(r, CAP_EXPORT_CANCEL) != 0)
		return;
	actor_init(&a, r);
	view_init(&v, r);
	o = export_job_cancel(r->db, r->app->rules, &a,
	    r->params[0], &v, &job);
	if (o != EXPORT_OK) {
		resp_outcome(r, o);
		return;
	}
	resp_job(r, 202, job, NULL, NULL);
}

void
h_export_retry(struct request *r)
{
	const char *key, *cl = request_param(r, "CONTENT_LENGTH");
	struct export_actor a;
	struct export_view v;
	enum export_outcome o;
	char id[EXPORT_ID_LEN + 1];
	json_t *body = NULL, *details;

	if (request_auth(r, CAP_EXPORT_CREATE) != 0)
		return;
	/* the body is optional: none (or {}) runs the same job again */
	if (cl != NULL && *cl != '\0' && strcmp(cl, "0") != 0 &&
	    request_read_json(r, &body) != 0)
		return;
	if (idem_key_get(r, &key) != 0) {
		json_decref(body);
		return;
	}
	actor_init(&a, r);
	view_init(&v, r);
	o = export_job_retry(r->db, r->app->cfg, r->app->rules, &a,
	    r->params[0], body, key, id, &details);
	json_decref(body);
	if (o == EXPORT_E_INVALID) {
		resp_error(r, "VALIDATION_FAILED", NULL, details);
		return;
	}
	json_decref(details);
	resp_created(r, o, &a, &v, id);
}

void
h_export_cancel_many(struct request *r)
{
	struct export_cancel_request req;
	struct export_actor a;
	enum export_outcome o;
	json_t *body, *details, *out;

	if (request_auth(r, CAP_EXPORT_CANCEL) != 0 ||
	    request_read_json(r, &body) != 0)
		return;
	if (export_cancel_request_parse(body, &req, &details) != 0) {
		json_decref(body);
		resp_error(r, "VALIDATION_FAILED", NULL, details);
		return;
	}
	json_decref(body);
	actor_init(&a, r);
	if ((o = export_jobs_cancel(r->db, r->app->rules, &a, &req, &out)) !=
	    EXPORT_OK) {
		resp_outcome(r, o);
		return;
	}
	resp_json(r, 200, out, NULL);
}

/*
 * The query of a signed URL exactly as the API mints it:
 * "by=<subject>&expires=<digits>&sig=<64 hex>", the subject percent-encoded
 * in one way only (unreserved characters as they are, every other byte as
 * %XX in upper case). nginx counts downloads per identity by the raw "by"
 * (nginx/ops-http.conf), so one subject must have one spelling.
 */
static bool
signed_query_canonical(const char *q)
{
	static const char hexu[] = "0123456789ABCDEF";
	size_t n;

	if (strncmp(q, "by=", 3) != 0)
		return false;
	for (q += 3; *q && *q != '&'; q++) {
		const char *h1, *h2;
		int c;

		if (isalnum((unsigned char)*q) || strchr("-._~", *q))
			continue;
		if (*q != '%' || q[1] == '\0' || (h1 = strchr(hexu, q[1])) ==
		    NULL || q[2] == '\0' || (h2 = strchr(hexu, q[2])) == NULL)
			return false;
		c = (int)((h1 - hexu) * 16 + (h2 - hexu));
		if (isalnum(c) || (c != 0 && strchr("-._~", c)))
			return false;
		q += 2;
	}
	if (strncmp(q, "&expires=", 9) != 0)
		return false;
	q += 9;
	if ((n = strspn(q, "0123456789")) == 0 || n > 18)
		return false;
	q += n;
	if (strncmp(q, "&sig=", 5) != 0)
		return false;
	q += 5;
	return strspn(q, "0123456789abcdef") == 64 && q[64] == '\0';
}

/*
 * A signed download URL (by, expires, sig in the query) stands in for the
 * bearer token: the signature covers job id, requester and expiry, so it
 * is checked before anything is looked up. True and sub_out filled when
 * the query is a valid signed URL for job id.
 */
static bool
download_signed_valid(struct request *r, const char *id, char *sub_out,
    size_t subsz)
{
	char by[AUTH_MAX_SUB + 1], sig[80];
	long long exp = 0;

	if (signed_query_canonical(r->query) &&
	    request_query(r, "by", by, sizeof(by)) == 1 &&
	    request_query_int(r, "expires", 0, LLONG_MAX, &exp) == 1 &&
	    request_query(r, "sig", sig, sizeof(sig)) == 1 &&
	    export_download_url_verify(r->app->cfg, id, by, exp, sig,
	    time(NULL))) {
		snprintf(sub_out, subsz, "%s", by);
		return true;
	}
	return false;
}

/* download_signed_valid(), or -1 after answering 401 */
static int
download_signed_check(struct request *r, const char *id, char *sub_out,
    size_t subsz)
{
	if (download_signed_valid(r, id, sub_out, subsz))
		return 0;
	resp_error(r, "AUTH_INVALID_TOKEN", "the download link is invalid or "
	    "has expired: poll the job for a fresh download_url", NULL);
	return -1;
}

/*
 * nginx's check before it counts a download (nginx/ops-locations.conf: an
 * auth_request subrequest with the FastCGI parameter OPS_DOWNLOAD_CHECK,
 * which no client can set). Always 204, so that nginx goes on to the
 * download itself either way; with a verified identity (a valid signed URL
 * for this job, or a valid bearer token) the answer carries
 * X-Ops-Download-Key: the SHA-256 of that subject, the key nginx's
 * limit_conn counts by (fixed length, no name in nginx's memory). Without
 * it nginx counts nothing, and the download request itself gets its 401
 * from h_export_download() at once. Nothing is looked up in the database.
 */
static void
download_check(struct request *r)
{
	const char *h = request_param(r, "HTTP_AUTHORIZATION");
	char sub[AUTH_MAX_SUB + 1], probe[8], key[65];
	const char *who = NULL;
	struct buf hd = BUF_INIT;

	if (request_query(r, "sig", probe, sizeof(probe)) != 0) {
		if (download_signed_valid(r, r->params[0], sub, sizeof(sub)))
			who = sub;
	} else if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0 &&
	    jwks_verify(r->app->keys, &r->app->policy, h + 7, time(NULL),
	    &r->who) == AUTH_OK) {
		who = r->who.sub;
	}
	if (who != NULL) {
		digest_sha256_hex(who, strlen(who), key);
		buf_appendf(&hd, "X-Ops-Download-Key: %s\r\n", key);
	}
	(void)resp_begin(r, 204, hd.len ? hd.data : NULL);
	buf_free(&hd);
}

static int
download_state_check(struct request *r, const struct export_file *f)
{
	if (strcmp(f->state, "PENDING") == 0 || strcmp(f->state, "RUNNING") == 0) {
		struct buf h = BUF_INIT;

		buf_appendf(&h, "Retry-After: %d\r\n",
		    r->app->cfg->export.poll_retry_after_seconds);
		resp_error_h(r, "EXPORT_NOT_READY", NULL, NULL, h.data);
		buf_free(&h);
		return -1;
	}
	if (strcmp(f->state, "FAILED") == 0) {
		resp_error(r, "EXPORT_FAILED", NULL, NULL);
		return -1;
	}
	if (strcmp(f->state, "EXPIRED") == 0 || f->expired) {
		resp_error(r, "EXPORT_EXPIRED", NULL, NULL);
		return -1;
	}
	return 0;
}

/*
 * Stream bytes [first, last] chunk by chunk, checking each chunk's digest.
 * The first chunk is read and checked before any header goes out, so that a
 * corrupt start still gets a clean error; a later mismatch can only cut the
 * response short (nginx then closes the client connection).
 */
static void
download_stream(struct request *r, const struct export_file *f,
    long long first, long long last, bool partial, bool head_only)
{
	const struct export_storage *st = &storage_db_spool;
	struct storage_reader *rd = NULL;
	struct export_chunk c;
	struct buf h = BUF_INIT;
	FCGX_Stream *out = NULL;
	char fname[256];
	int rc, corrupt_seq = -1;
	bool whole = false;

	export_filename(f, fname, sizeof(fname));
	buf_appendf(&h, "Content-Type: %s\r\n", export_content_type(f));
	buf_appendf(&h, "Content-Length: %lld\r\n", f->total_bytes ?
	    last - first + 1 : 0);
	buf_appendf(&h, "Content-Disposition: attachment; filename=\"%s\"\r\n"
	    "ETag: \"%s\"\r\nCache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\nAccept-Ranges: bytes\r\n",
	    fname, f->sha256);
	if (partial)
		buf_appendf(&h, "Content-Range: bytes %lld-%lld/%lld\r\n",
		    first, last, f->total_bytes);
	if (head_only) {
		(void)resp_begin(r, partial ? 206 : 200, h.data);
		buf_free(&h);
		return;
	}
	if (st->open_reader(r->db, f->id, first, &rd) != 0) {
		resp_db_error(r);
		buf_free(&h);
		return;
	}
	while ((rc = st->read(rd, &c)) == 1) {
		long long cstart = c.byte_offset, cend = c.byte_offset +
		    (long long)c.len - 1, from, to;

		/* checked by the reader (lib/storage.h) */
		if (!c.intact) {
			corrupt_seq = c.seq;
			break;
		}
		if (out == NULL && (out = resp_begin(r, partial ? 206 : 200,
		    h.data)) == NULL)
			break;
		from = first > cstart ? first : cstart;
		to = last < cend ? last : cend;
		if (from <= to && fcgi_out_write(r->fx, c.data + (from -
		    cstart), (size_t)(to - from + 1)) != 0)
			break;	/* nginx went away */
		if (cend >= last) {
			whole = true;
			break;
		}
	}
	/* the reader holds the current chunk's result: free it before
	 * anything else (no transaction is open: lib/storage_db.c) */
	st->close_reader(rd);
	if (corrupt_seq >= 0)
		export_record_corrupt(r->db, f, corrupt_seq, r->request_id);
	if (out == NULL) {
		if (corrupt_seq >= 0)
			resp_error(r, "INTERNAL_ERROR", "the export file failed "
			    "its integrity check", NULL);
		else if (rc < 0)
			resp_db_error(r);
		else if (f->total_bytes == 0)
			(void)resp_begin(r, 200, h.data);
		else
			resp_error(r, "INTERNAL_ERROR", "the export file is "
			    "missing chunks", NULL);
	} else if (rc < 0) {
		log_kv(LOG_ERROR, "job_id", f->id, "download cut short: the "
		    "database failed while streaming");
	} else if (rc == 0 && !whole) {
		/* each chunk is read on its own (lib/storage_db.c): the
		 * cleaner purged this export since the download started */
		log_kv(LOG_ERROR, "job_id", f->id, "download cut short: the "
		    "export's chunks were purged while it streamed (it expired)");
	}
	buf_free(&h);
}

void
h_export_download(struct request *r)
{
	struct export_file f;
	struct export_actor a;
	enum export_outcome o;
	long long first, last;
	char sub[AUTH_MAX_SUB + 1], probe[8];
	bool signed_url;
	int rng;

	if (request_param(r, "OPS_DOWNLOAD_CHECK") != NULL) {
		download_check(r);
		return;
	}
	signed_url = request_query(r, "sig", probe, sizeof(probe)) != 0;
	if (signed_url) {
		if (download_signed_check(r, r->params[0], sub, sizeof(sub)) != 0)
			return;
	} else {
		if (request_auth(r, CAP_EXPORT_DOWNLOAD) != 0)
			return;
		snprintf(sub, sizeof(sub), "%s", r->who.sub);
	}
	if ((o = export_file_get(r->db, r->params[0], &f)) != EXPORT_OK) {
		resp_outcome(r, o);
		return;
	}
	if (!signed_url) {
		actor_init(&a, r);
		o = export_access(&a, CAP_EXPORT_DOWNLOAD, f.tenant_id,
		    f.requested_by);
		if (o != EXPORT_OK) {
			resp_outcome(r, o);
			return;
		}
	}
	if (download_state_check(r, &f) != 0)
		return;
	rng = export_range_parse(request_param(r, "HTTP_RANGE"), f.total_bytes,
	    &first, &last);
	if (rng < 0) {
		struct buf h = BUF_INIT;

		buf_appendf(&h, "Content-Range: bytes */%lld\r\n", f.total_bytes);
		resp_error_h(r, "RANGE_NOT_SATISFIABLE", NULL, NULL, h.data);
		buf_free(&h);
		return;
	}
	if (strcmp(r->method, "HEAD") == 0) {
		/* the headers of the file, without reading or recording it */
		download_stream(r, &f, first, last, rng == 1, true);
		return;
	}
	if (export_record_download(r->db, r->app->rules, &f, sub,
	    r->request_id, request_param(r, "REMOTE_ADDR"), first, last,
	    signed_url) != 0) {
		resp_db_error(r);
		return;
	}
	download_stream(r, &f, first, last, rng == 1, false);
}
