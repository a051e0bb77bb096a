#include "buf.h"
#include "xalloc.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char buf_slopbuf[1];

/*
 * BUG() for this file: lib/bug.c logs through log.c, which builds its line
 * in a buf, so buf.c reports in BUG()'s form on stderr itself, like
 * xalloc.c's out-of-memory path (no allocation, no log module).
 */
#define BUF_BUG(...)	buf_bug(__FILE__, __LINE__, __VA_ARGS__)

static _Noreturn void buf_bug(const char *file, int line, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
buf_bug(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "BUG: %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

void
buf_init(struct buf *b)
{
	b->data = buf_slopbuf;
	b->len = 0;
	b->cap = 0;
}

void
buf_grow(struct buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > SIZE_MAX - b->len - 1)
		BUF_BUG("buf_grow: %zu more bytes after %zu overflow size_t",
		    extra, b->len);
	need = b->len + extra + 1;
	if (need <= b->cap)
		return;
#ifdef OPS_FUZZING
	/* fuzz builds (tests/fuzz): no slack, so ASan sees any write past
	 * what a caller reserved */
	cap = need;
#else
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
#endif
	if (b->cap == 0) {
		p = xmalloc(cap);	/* not realloc: data is buf_slopbuf */
		p[0] = '\0';
	} else
		p = xrealloc(b->data, cap);
	b->data = p;
	b->cap = cap;
}

void
buf_append(struct buf *b, const void *data, size_t len)
{
	buf_grow(b, len);
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void
buf_appends(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void
buf_appendc(struct buf *b, char c)
{
	buf_append(b, &c, 1);
}

void
buf_vappendf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	buf_grow(b, 64);
	va_copy(cp, ap);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, cp);
	va_end(cp);
	if (n < 0)
		BUF_BUG("vsnprintf of \"%s\" failed: %s", fmt, strerror(errno));
	if ((size_t)n >= b->cap - b->len) {
		buf_grow(b, (size_t)n);
		n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		if (n < 0)
			BUF_BUG("vsnprintf of \"%s\" failed: %s", fmt,
			    strerror(errno));
	}
	b->len += (size_t)n;
}

void
buf_appendf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vappendf(b, fmt, ap);
	va_end(ap);
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->cap > 0)
		b->data[0] = '\0';
}

void
buf_free(struct buf *b)
{
	if (b->cap > 0)
		free(b->data);
	buf_init(b);
}

char *
buf_detach(struct buf *b, size_t *len)
{
	char *p;

	if (b->cap == 0)
		buf_grow(b, 1);
	p = b->data;
	if (len)
		*len = b->len;
	buf_init(b);
	return p;
}

const char *
buf_str(const struct buf *b)
{
	return b->cap > 0 ? b->data : buf_slopbuf;
}
