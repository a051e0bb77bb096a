/*
 * fcgi_rec: FastCGI records in memory (fcgi_rec.h).
 */
#include "fcgi_rec.h"

#include <stdint.h>
#include <string.h>

#include "xalloc.h"

#define FCGI_HEADER_LEN		8
#define FCGI_VERSION_1		1
#define FCGI_BEGIN_REQUEST	1
#define FCGI_END_REQUEST	3
#define FCGI_PARAMS		4
#define FCGI_STDIN		5
#define FCGI_STDOUT		6
#define FCGI_RESPONDER		1
#define FCGI_KEEP_CONN		1
#define FCGI_REQUEST_COMPLETE	0
#define FCGI_MAX_CONTENT	65535

struct rec {
	int		 type, id;
	const unsigned char *content;
	size_t		 len;
};

/* The record at b[*off..n), advancing *off past it; -1 if not all there. */
static int
rec_next(const unsigned char *b, size_t n, size_t *off, struct rec *r)
{
	size_t len, pad;

	if (n - *off < FCGI_HEADER_LEN)
		return -1;
	b += *off;
	if (b[0] != FCGI_VERSION_1)
		return -1;
	r->type = b[1];
	r->id = b[2] << 8 | b[3];
	len = (size_t)(b[4] << 8 | b[5]);
	pad = b[6];
	if (n - *off - FCGI_HEADER_LEN < len + pad)
		return -1;
	r->content = b + FCGI_HEADER_LEN;
	r->len = len;
	*off += FCGI_HEADER_LEN + len + pad;
	return 0;
}

/* A name or value length: 1 byte below 128, else 4 (top bit set). */
static int
nv_len(const unsigned char *p, size_t n, size_t *off, size_t *len)
{
	if (*off >= n)
		return -1;
	if (p[*off] < 0x80) {
		*len = p[(*off)++];
		return 0;
	}
	if (n - *off < 4)
		return -1;
	*len = (size_t)(p[*off] & 0x7f) << 24 | (size_t)p[*off + 1] << 16 |
	    (size_t)p[*off + 2] << 8 | p[*off + 3];
	*off += 4;
	return 0;
}

/* The name-value pairs of p[0..n) into req's envp. 0 or -1. */
static int
params_decode(const unsigned char *p, size_t n, struct fcgi_req *req)
{
	size_t off = 0, out = 0, count = 0;

	/* each "NAME=value\0" is at most its pair's bytes plus 2 */
	req->strings = xmalloc(n + 2 * FCGI_REC_MAX_PARAMS + 1);
	while (off < n) {
		size_t nl, vl;

		if (nv_len(p, n, &off, &nl) != 0 || nv_len(p, n, &off, &vl)
		    != 0 || nl == 0 || nl > n - off || vl > n - off - nl ||
		    count == FCGI_REC_MAX_PARAMS ||
		    memchr(p + off, '\0', nl + vl) != NULL ||
		    memchr(p + off, '=', nl) != NULL)
			return -1;	/* "NAME=value" must split at its first '=' */
		req->envp[count++] = req->strings + out;
		memcpy(req->strings + out, p + off, nl);
		out += nl;
		req->strings[out++] = '=';
		memcpy(req->strings + out, p + off + nl, vl);
		out += vl;
		req->strings[out++] = '\0';
		off += nl + vl;
	}
	req->envp[count] = NULL;
	return 0;
}

size_t
fcgi_req_parse(const unsigned char *b, size_t n, struct fcgi_req *req)
{
	unsigned char *params = NULL;
	size_t off = 0, plen = 0;
	struct rec r;
	int id;

	memset(req, 0, sizeof(*req));
	if (rec_next(b, n, &off, &r) != 0 || r.type != FCGI_BEGIN_REQUEST ||
	    r.len != 8 || r.id == 0 ||
	    (r.content[0] << 8 | r.content[1]) != FCGI_RESPONDER)
		return 0;
	id = r.id;
	req->keep_conn = (r.content[2] & FCGI_KEEP_CONN) != 0;
	/* the params stream, up to its empty record */
	for (;;) {
		if (rec_next(b, n, &off, &r) != 0 || r.type != FCGI_PARAMS ||
		    r.id != id)
			goto mine_not;
		if (r.len == 0)
			break;
		params = xrealloc(params, plen + r.len);
		memcpy(params + plen, r.content, r.len);
		plen += r.len;
	}
	/* no body: the stdin stream ends at once */
	if (rec_next(b, n, &off, &r) != 0 || r.type != FCGI_STDIN ||
	    r.id != id || r.len != 0 || params_decode(params, plen, req) != 0)
		goto mine_not;
	free(params);
	req->id = id;
	return off;
mine_not:
	free(params);
	fcgi_req_free(req);
	return 0;
}

void
fcgi_req_free(struct fcgi_req *req)
{
	free(req->strings);
	memset(req, 0, sizeof(*req));
}

static void
rec_header(struct buf *out, int type, int id, size_t len)
{
	unsigned char h[FCGI_HEADER_LEN] = { FCGI_VERSION_1, (unsigned char)type,
	    (unsigned char)(id >> 8), (unsigned char)id,
	    (unsigned char)(len >> 8), (unsigned char)len, 0, 0 };

	buf_append(out, h, sizeof(h));
}

void
fcgi_rec_stdout(struct buf *out, int id, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n > 0) {
		size_t m = n < FCGI_MAX_CONTENT ? n : FCGI_MAX_CONTENT;

		rec_header(out, FCGI_STDOUT, id, m);
		buf_append(out, c, m);
		c += m;
		n -= m;
	}
}

void
fcgi_rec_end(struct buf *out, int id)
{
	/* appStatus 0 (4 bytes), protocolStatus, 3 reserved */
	static const unsigned char body[8] = { 0, 0, 0, 0,
	    FCGI_REQUEST_COMPLETE, 0, 0, 0 };

	rec_header(out, FCGI_STDOUT, id, 0);
	rec_header(out, FCGI_END_REQUEST, id, sizeof(body));
	buf_append(out, body, sizeof(body));
}
