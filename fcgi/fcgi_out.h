/*
 * fcgi_out: a large response body written as FastCGI records straight from
 * the caller's memory, past libfcgi's stream buffer.
 *
 * libfcgi copies every byte into its 8 KiB stream buffer and write()s one
 * FCGI_STDOUT record per 8 KiB: 128 writes per MB, each one waking nginx
 * (docs/bench.md, the download profile of issue 24). fcgi_out_write() flushes
 * what libfcgi holds (the headers), then sends the bytes as records of up
 * to 64 KiB with one writev() per FCGI_OUT_BATCH records, without copying
 * them. libfcgi still owns the connection and ends the request as before
 * (FCGX_Finish_r(): the empty FCGI_STDOUT record and FCGI_END_REQUEST).
 */
#ifndef OPS_FCGI_OUT_H
#define OPS_FCGI_OUT_H

#include <fcgiapp.h>
#include <stddef.h>

/*
 * Write len bytes of data as the next bytes of fx's stdout. 0, or -1 when
 * the connection failed (nginx went away): fx->out is then in error, as
 * libfcgi marks it, so FCGX_Finish_r() closes the connection instead of
 * keeping it for another request.
 */
int	fcgi_out_write(FCGX_Request *fx, const void *data, size_t len);

#endif
