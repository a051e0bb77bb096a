/*
 * buf: a growable byte buffer, in the spirit of git's strbuf.
 *
 * A struct buf is always NUL-terminated after buf_init() or BUF_INIT
 * (data[len] == 0), so data can be used as a C string when it holds text.
 * Before the first allocation (cap == 0) data points at buf_slopbuf, a
 * static empty string shared by all buffers and never written (git's
 * strbuf_slopbuf): data is never NULL and needs no check. Write into data
 * only after buf_grow(). The buffer owns data once cap > 0; buf_free()
 * releases it and leaves an empty, reusable buffer. buf_detach() hands
 * ownership of data to the caller (free() it).
 *
 * Allocation failure aborts the process: every caller would otherwise have to
 * handle it, and an out-of-memory responder is better restarted by systemd.
 */
#ifndef OPS_BUF_H
#define OPS_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

/* "" for every buffer without an allocation; never written. */
extern char buf_slopbuf[1];

#define BUF_INIT { buf_slopbuf, 0, 0 }

void	 buf_init(struct buf *b);
/* Make room for at least extra more bytes (plus the terminating NUL). */
void	 buf_grow(struct buf *b, size_t extra);
void	 buf_append(struct buf *b, const void *data, size_t len);
void	 buf_appends(struct buf *b, const char *s);
void	 buf_appendc(struct buf *b, char c);
/* printf-style append; bounded (vsnprintf), grows as needed. */
void	 buf_appendf(struct buf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 buf_vappendf(struct buf *b, const char *fmt, va_list ap)
	    __attribute__((format(printf, 2, 0)));
/* Keep the allocation, drop the contents. */
void	 buf_reset(struct buf *b);
void	 buf_free(struct buf *b);
/* Return data (never NULL, caller frees) and reset b to empty. */
char	*buf_detach(struct buf *b, size_t *len);
/* The contents as a C string ("" when empty); owned by b. */
const char *buf_str(const struct buf *b);

#endif
