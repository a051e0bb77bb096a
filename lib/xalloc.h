/*
 * xalloc: allocation that cannot fail, in the style of git's wrapper.c.
 *
 * The project's rule: running out of memory aborts the process (systemd
 * restarts a service, a job's next timer run retries). Every malloc,
 * calloc, realloc, reallocarray, strdup and strndup in lib/, fcgi/ and jobs/
 * goes through these instead of an inline "if (p == NULL) abort();". On
 * failure they write one line to stderr ("fatal: out of memory ...") and
 * call abort(); the line gives the size asked, as "N x SIZE bytes" for
 * calloc and reallocarray (whose product may overflow). Size computations
 * that overflow count as failure.
 *
 * A zero size still returns a unique pointer (never NULL), so callers need
 * no special case. Free the results with free().
 */
#ifndef OPS_XALLOC_H
#define OPS_XALLOC_H

#include <stddef.h>

void	*xmalloc(size_t size);
void	*xcalloc(size_t n, size_t size);
void	*xrealloc(void *p, size_t size);
/* realloc to n * size bytes, n * size checked for overflow */
void	*xreallocarray(void *p, size_t n, size_t size);
char	*xstrdup(const char *s);
char	*xstrndup(const char *s, size_t n);
/*
 * For allocators outside libc that return NULL only when out of memory
 * (jansson's json_object(), json_dumps(), OpenSSL's EVP_MD_CTX_new(),
 * BN_bin2bn()): return p, or abort as above when it is NULL.
 */
void	*xnonnull(void *p);

#endif
