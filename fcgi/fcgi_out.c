/*
 * fcgi_out: FCGI_STDOUT records by writev() (fcgi_out.h).
 */
#include "fcgi_out.h"

#include <errno.h>
#include <stdint.h>
#include <sys/uio.h>

/* FastCGI 1.0: an 8-byte header, then at most 65535 bytes of content */
#define REC_MAX		65535
#define TYPE_STDOUT	6
/* records per writev(): 17 x 64 KiB, a whole chunk of the spool (1 MiB) */
#define FCGI_OUT_BATCH	17

static void
header(unsigned char h[8], int request_id, size_t len)
{
	h[0] = 1;				/* FCGI_VERSION_1 */
	h[1] = TYPE_STDOUT;
	h[2] = (unsigned char)((request_id >> 8) & 0xff);
	h[3] = (unsigned char)(request_id & 0xff);
	h[4] = (unsigned char)((len >> 8) & 0xff);
	h[5] = (unsigned char)(len & 0xff);
	h[6] = 0;				/* no padding */
	h[7] = 0;
}

/* writev() all of iov[0..n), through short writes and EINTR. 0 or -1. */
static int
writev_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

int
fcgi_out_write(FCGX_Request *fx, const void *data, size_t len)
{
	const unsigned char *p = data;
	unsigned char hdr[FCGI_OUT_BATCH][8];
	struct iovec iov[2 * FCGI_OUT_BATCH];

	/* libfcgi's buffer (the headers, anything put before) goes first;
	 * FCGX_FFlush() says 0 for a stream already in error */
	if (fx->out->isClosed || FCGX_FFlush(fx->out) != 0)
		return -1;
	while (len > 0) {
		int n = 0;

		while (len > 0 && n < FCGI_OUT_BATCH) {
			size_t c = len < REC_MAX ? len : REC_MAX;

			header(hdr[n], fx->requestId, c);
			iov[2 * n].iov_base = hdr[n];
			iov[2 * n].iov_len = 8;
			iov[2 * n + 1].iov_base = (void *)(uintptr_t)p;
			iov[2 * n + 1].iov_len = c;
			p += c;
			len -= c;
			n++;
		}
		if (writev_all(fx->ipcFd, iov, 2 * n) != 0) {
			/* what libfcgi does with a failed write (SetError) */
			if (fx->out->FCGI_errno == 0)
				fx->out->FCGI_errno = errno;
			fx->out->isClosed = 1;
			return -1;
		}
	}
	return 0;
}
