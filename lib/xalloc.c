#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Never returns. No allocation, no log module: only stderr and abort().
 * The size is n x size as asked (the product may overflow: never print it
 * wrapped); n == 0 and size == 0: the size is not known.
 */
static void
oom(const char *what, size_t n, size_t size)
{
	if (n == 0 && size == 0)
		fprintf(stderr, "fatal: out of memory: %s failed\n", what);
	else if (n == 1)
		fprintf(stderr, "fatal: out of memory: %s of %zu bytes failed\n",
		    what, size);
	else
		fprintf(stderr, "fatal: out of memory: %s of %zu x %zu bytes "
		    "failed\n", what, n, size);
	abort();
}

void *
xmalloc(size_t size)
{
	void *p;

	if ((p = malloc(size ? size : 1)) == NULL)
		oom("malloc", 1, size);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p;

	if ((p = calloc(n ? n : 1, size ? size : 1)) == NULL)
		oom("calloc", n, size);
	return p;
}

void *
xrealloc(void *p, size_t size)
{
	void *q;

	if ((q = realloc(p, size ? size : 1)) == NULL)
		oom("realloc", 1, size);
	return q;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	void *q;

	if ((q = reallocarray(p, n ? n : 1, size ? size : 1)) == NULL)
		oom("reallocarray", n, size);
	return q;
}

char *
xstrdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		oom("strdup", 1, strlen(s) + 1);
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char *p;

	if ((p = strndup(s, n)) == NULL)
		oom("strndup", 1, n + 1);
	return p;
}

void *
xnonnull(void *p)
{
	if (p == NULL)
		oom("allocation", 0, 0);
	return p;
}
