/*
 * fcgi_rec: FastCGI records read from and written to memory, for the poll
 * lane (fcgi/lane.h), which answers without libfcgi's blocking streams.
 *
 * Only the simplest request is read: FCGI_BEGIN_REQUEST for the responder
 * role, its FCGI_PARAMS records up to the empty one, and an FCGI_STDIN that
 * is empty at once (no body), all in the bytes given. Anything else (a
 * body, a management record, a request not yet wholly arrived, bytes that
 * are not FastCGI) is "not mine": the caller leaves it unread for libfcgi,
 * which handles every case as before (so is a parameter whose name holds
 * '=' or a NUL, which "NAME=value" cannot carry). See the FastCGI specification,
 * sections 3 (records) and 5 (application roles).
 */
#ifndef OPS_FCGI_REC_H
#define OPS_FCGI_REC_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define FCGI_REC_MAX_PARAMS	128

struct fcgi_req {
	int	 id;		/* the request id, 1..65535 */
	bool	 keep_conn;	/* FCGI_KEEP_CONN: the web server keeps it */
	/* "NAME=value" strings, NULL-terminated, as libfcgi's envp */
	char	*envp[FCGI_REC_MAX_PARAMS + 1];
	char	*strings;	/* owns what envp points to */
};

/*
 * Read one whole request without a body from b[0..n). Returns the number
 * of bytes it spans and fills req (free it with fcgi_req_free()), or 0 when
 * b does not start with such a request (req is then empty).
 */
size_t	fcgi_req_parse(const unsigned char *b, size_t n, struct fcgi_req *req);
void	fcgi_req_free(struct fcgi_req *req);

/*
 * Append FCGI_STDOUT records carrying p[0..n) for request id to out (as
 * many as it takes, 65535 bytes at most each); n == 0 appends nothing.
 */
void	fcgi_rec_stdout(struct buf *out, int id, const void *p, size_t n);
/* Append the end of request id: an empty FCGI_STDOUT, FCGI_END_REQUEST. */
void	fcgi_rec_end(struct buf *out, int id);

#endif
