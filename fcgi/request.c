#include "request.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "buf.h"
#include "digest.h"
#include "errors.h"
#include "log.h"
#include "xalloc.h"
#include "xjson.h"

/*
 * URL-decode len bytes of in into out (outsz incl. NUL). plus_space turns
 * '+' into ' ' (query strings). Returns -1 on a bad escape, an encoded NUL,
 * or overflow.
 */
static int
url_decode(const char *in, size_t len, char *out, size_t outsz, bool plus_space)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)in[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return -1;
			hi = digest_hexval((unsigned char)in[i + 1]);
			lo = digest_hexval((unsigned char)in[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			c = hi * 16 + lo;
			i += 2;
		} else if (c == '+' && plus_space) {
			c = ' ';
		}
		if (o + 1 >= outsz)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

/* A fresh request id: 16 random bytes as 32 hex digits into out[33]. */
static void
request_id_make(char out[33])
{
	unsigned char raw[16];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		memset(raw, 0, sizeof(raw));
	digest_hex(raw, sizeof(raw), out);
}

/* nginx's $request_id is 32 hex digits; accept only a safe alphabet. */
static bool
request_id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

void
request_init(struct request *r, FCGX_Request *fx, const struct app *app,
    struct db *db)
{
	const char *uri, *rid, *q;
	size_t plen;

	memset(r, 0, sizeof(*r));
	r->fx = fx;
	r->app = app;
	r->db = db;
	r->method = request_param(r, "REQUEST_METHOD");
	if (r->method == NULL)
		r->method = "GET";
	rid = request_param(r, "REQUEST_ID");
	if (rid && request_id_ok(rid))
		snprintf(r->request_id, sizeof(r->request_id), "%s", rid);
	else
		request_id_make(r->request_id);

	uri = request_param(r, "REQUEST_URI");
	if (uri == NULL)
		uri = "/";
	q = strchr(uri, '?');
	r->query = q ? q + 1 : "";
	plen = q ? (size_t)(q - uri) : strlen(uri);
	/* an undecodable path matches no route: answered 404 */
	if (url_decode(uri, plen, r->path, sizeof(r->path), false) != 0)
		snprintf(r->path, sizeof(r->path), "/\x01invalid");
}

void
request_finish(struct request *r)
{
	for (size_t i = 0; i < r->nparams; i++)
		free(r->params[i]);
	r->nparams = 0;
	if (r->authenticated)
		auth_principal_free(&r->who);
	r->authenticated = false;
}

const char *
request_param(const struct request *r, const char *name)
{
	return FCGX_GetParam(name, r->fx->envp);
}

int
request_query(const struct request *r, const char *name, char *out,
    size_t outsz)
{
	size_t nlen = strlen(name);
	const char *p = r->query;

	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);

		if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=')
			return url_decode(p + nlen + 1, len - nlen - 1, out,
			    outsz, true) == 0 ? 1 : -1;
		if (len == nlen && strncmp(p, name, nlen) == 0) {
			out[0] = '\0';
			return 1;
		}
		p = amp ? amp + 1 : NULL;
	}
	return 0;
}

int
request_query_check(const struct request *r, const char *const *known,
    json_t *details)
{
	const char *p = r->query;
	unsigned long long seen = 0;
	int bad = 0;

	while (p && *p) {
		const char *amp = strchr(p, '&'), *eq;
		size_t len = amp ? (size_t)(amp - p) : strlen(p), klen, k;
		char name[65];
		bool printable = true;

		eq = memchr(p, '=', len);
		klen = eq ? (size_t)(eq - p) : len;
		if (len == 0)
			goto next;
		if (url_decode(p, klen, name, sizeof(name), true) != 0)
			printable = false;
		for (size_t i = 0; printable && name[i]; i++)
			if (name[i] < 0x21 || name[i] > 0x7e)
				printable = false;
		if (!printable || name[0] == '\0') {
			xjson_push(details, error_detail("query", "has a parameter "
			    "name that is empty, too long or not printable "
			    "ASCII"));
			bad++;
			goto next;
		}
		for (k = 0; known[k] && strcmp(known[k], name) != 0; k++)
			;
		if (known[k] == NULL) {
			xjson_push(details, error_detail(name,
			    "is not a known parameter"));
			bad++;
		} else if (k < 64 && (seen & (1ULL << k))) {
			xjson_push(details, error_detail(name,
			    "is given more than once"));
			bad++;
		} else if (k < 64) {
			seen |= 1ULL << k;
		}
next:
		p = amp ? amp + 1 : NULL;
	}
	return bad;
}

void
request_query_str(const struct request *r, const char *name, char *buf,
    size_t bufsz, const char **out, json_t *details)
{
	int rc = request_query(r, name, buf, bufsz);

	if (rc == 1)
		*out = buf;
	else if (rc < 0)
		xjson_push(details, error_detail(name, "is malformed or too "
		    "long"));
}

void
request_query_limit(const struct request *r, int *limit)
{
	long long v;
	int rc;

	/* range-checked before the narrowing */
	if ((rc = request_query_int(r, "limit", INT_MIN, INT_MAX, &v)) == 1)
		*limit = (int)v;
	else if (rc < 0)
		*limit = -1;
}

int
request_query_int(const struct request *r, const char *name, long long min,
    long long max, long long *out)
{
	char s[24], *end;
	const char *d;
	long long v;
	int rc;

	if ((rc = request_query(r, name, s, sizeof(s))) != 1)
		return rc;
	d = s[0] == '-' ? s + 1 : s;
	if (*d < '0' || *d > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 1;
}

static bool
content_type_is_json(const char *ct)
{
	size_t n = strlen("application/json");

	if (ct == NULL || strncasecmp(ct, "application/json", n) != 0)
		return false;
	ct += n;
	while (*ct == ' ')
		ct++;
	return *ct == '\0' || *ct == ';';
}

int
request_read_json(struct request *r, json_t **out)
{
	const char *cl = request_param(r, "CONTENT_LENGTH");
	long long max = r->app->cfg->fcgi.max_body_bytes, len = 0;
	json_error_t jerr;
	char *body, *end;
	int n;

	*out = NULL;
	if (!content_type_is_json(request_param(r, "CONTENT_TYPE"))) {
		resp_error(r, "UNSUPPORTED_MEDIA_TYPE", NULL,
		    xjson_pack("[o]", error_detail("Content-Type",
		    "must be application/json")));
		return -1;
	}
	if (cl && *cl) {
		errno = 0;
		len = strtoll(cl, &end, 10);
		if (errno || *end || len < 0)
			len = -1;
	}
	if (len < 0 || len > max) {
		resp_error(r, "PAYLOAD_TOO_LARGE", NULL, NULL);
		return -1;
	}
	body = xmalloc((size_t)len + 1);
	n = len ? FCGX_GetStr(body, (int)len, r->fx->in) : 0;
	body[n < 0 ? 0 : n] = '\0';
	if (n != len) {
		free(body);
		resp_error(r, "MALFORMED_JSON", "the request body was cut short",
		    NULL);
		return -1;
	}
	*out = json_loadb(body, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
	free(body);
	if (*out == NULL) {
		char msg[256];

		snprintf(msg, sizeof(msg), "the request body is not valid JSON: "
		    "%s at line %d column %d", jerr.text, jerr.line,
		    jerr.column);
		resp_error(r, "MALFORMED_JSON", msg, NULL);
		return -1;
	}
	return 0;
}

int
request_auth(struct request *r, enum rbac_cap cap)
{
	const char *h = request_param(r, "HTTP_AUTHORIZATION");
	enum auth_result res;

	if (h == NULL || *h == '\0') {
		resp_error(r, "AUTH_REQUIRED", NULL, NULL);
		return -1;
	}
	if (strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
		resp_error(r, "AUTH_INVALID_TOKEN",
		    "the Authorization header must be \"Bearer <token>\"", NULL);
		return -1;
	}
	res = jwks_verify(r->app->keys, &r->app->policy, h + 7, time(NULL),
	    &r->who);
	if (res == AUTH_ERR_UNAVAILABLE) {
		/* our keys are missing, not the client's token wrong: 503 */
		char ra[64];

		snprintf(ra, sizeof(ra), "Retry-After: %d\r\n",
		    jwks_retry_after(r->app->keys));
		resp_error_h(r, auth_result_error_code(res),
		    auth_result_reason(res), NULL, ra);
		return -1;
	}
	if (res != AUTH_OK) {
		log_kv(LOG_INFO, "request_id", r->request_id,
		    "token refused: %s", auth_result_reason(res));
		resp_error(r, auth_result_error_code(res),
		    auth_result_reason(res), NULL);
		return -1;
	}
	r->authenticated = true;
	if (rbac_scope_for((const char *const *)r->who.roles, r->who.nroles,
	    cap) == SCOPE_NONE) {
		resp_error(r, "FORBIDDEN", NULL, NULL);
		return -1;
	}
	return 0;
}

static bool
answered(struct request *r)
{
	if (r->status == 0)
		return false;
	log_kv(LOG_ERROR, "request_id", r->request_id,
	    "second answer to one request dropped (first was %d)", r->status);
	return true;
}

static const char *
status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default:  return "";
	}
}

FCGX_Stream *
resp_begin(struct request *r, int status, const char *headers)
{
	if (answered(r))
		return NULL;
	r->status = status;
	FCGX_FPrintF(r->fx->out, "Status: %d %s\r\n%s\r\n", status,
	    status_text(status), headers ? headers : "");
	return r->fx->out;
}

void
resp_text(struct request *r, int status, const char *content_type,
    const char *body, size_t len)
{
	struct buf h = BUF_INIT;
	FCGX_Stream *out;

	buf_appendf(&h, "Content-Type: %s\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n", content_type, len);
	if ((out = resp_begin(r, status, h.data)) != NULL && len > 0)
		FCGX_PutStr(body, (int)len, out);
	buf_free(&h);
}

void
resp_json(struct request *r, int status, json_t *body, const char *extra)
{
	struct buf h = BUF_INIT;
	FCGX_Stream *out;
	char *s;

	s = xnonnull(json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER));
	json_decref(body);
	buf_appendf(&h, "Content-Type: application/json\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n%s",
	    strlen(s), extra ? extra : "");
	if ((out = resp_begin(r, status, h.data)) != NULL)
		FCGX_PutStr(s, (int)strlen(s), out);
	buf_free(&h);
	free(s);
}

void
resp_error_h(struct request *r, const char *code, const char *message,
    json_t *details, const char *extra)
{
	const struct error_def *def = error_find(code);
	struct buf h = BUF_INIT;
	int status = def && def->status ? def->status : 500;

	if (status == 401)
		buf_appends(&h, "WWW-Authenticate: Bearer realm=\"ops\"\r\n");
	if (extra)
		buf_appends(&h, extra);
	if (status >= 500)
		log_kv(LOG_WARN, "request_id", r->request_id, "%s %s -> %d %s",
		    r->method, r->path, status, code);
	resp_json(r, status, error_body(code, message, r->request_id, details),
	    h.len ? h.data : NULL);
	buf_free(&h);
}

void
resp_error(struct request *r, const char *code, const char *message,
    json_t *details)
{
	resp_error_h(r, code, message, details, NULL);
}

void
resp_db_error(struct request *r)
{
	if (r->db->err == DB_ERR_UNAVAILABLE)
		resp_error_h(r, "DB_UNAVAILABLE", NULL, NULL,
		    "Retry-After: 5\r\n");
	else
		resp_error(r, "INTERNAL_ERROR", NULL, NULL);
}
