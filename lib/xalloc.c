#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Never returns. No allocation, no log module: only stderr and abort(). */
static void
oom(const char *what, size_t size)
{
	fprintf(stderr, "fatal: out of memory: %s of %zu bytes failed\n", what,
	    size);
	abort();
}

void *
xmalloc(size_t size)
{
	void *p;

	if ((p = malloc(size ? size : 1)) == NULL)
		oom("malloc", size);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p;

	if ((p = calloc(n ? n : 1, size ? size : 1)) == NULL)
		oom("calloc", n * size);
	return p;
}

void *
xrealloc(void *p, size_t size)
{
	void *q;

	if ((q = realloc(p, size ? size : 1)) == NULL)
		oom("realloc", size);
	return q;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	void *q;

	if ((q = reallocarray(p, n ? n : 1, size ? size : 1)) == NULL)
		oom("reallocarray", n * size);
	return q;
}

char *
xstrdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		oom("strdup", strlen(s) + 1);
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char *p;

	if ((p = strndup(s, n)) == NULL)
		oom("strndup", n + 1);
	return p;
}

void *
xnonnull(void *p)
{
	if (p == NULL)
		oom("allocation", 0);
	return p;
}
