/*
 * xalloc: allocation that cannot fail. The normal paths keep what they
 * promise (zero sizes, contents across a realloc); the out-of-memory path
 * is run for real in a child process (fork): a size no allocator can give
 * makes each wrapper write its one line to stderr and abort(), and the
 * parent checks the signal and the exact line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xalloc.h"

/*
 * Under AddressSanitizer (make unit-asan) a huge malloc() is a sanitizer
 * report by default; let it return NULL as libc's does, so that the
 * wrappers' own path is what runs. Unused without ASan.
 */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

static void
test_xalloc(void **state)
{
	char *s, *t;
	int *v;
	int i;

	(void)state;
	/* zero sizes still give distinct, freeable pointers */
	s = xmalloc(0);
	t = xmalloc(0);
	assert_non_null(s);
	assert_non_null(t);
	assert_ptr_not_equal(s, t);
	free(s);
	free(t);
	v = xcalloc(4, sizeof(*v));
	assert_int_equal(v[0] | v[1] | v[2] | v[3], 0);
	for (i = 0; i < 4; i++)
		v[i] = 10 + i;
	/* growing keeps the contents, and all of the new size is usable */
	v = xreallocarray(v, 1000, sizeof(*v));
	for (i = 0; i < 4; i++)
		assert_int_equal(v[i], 10 + i);
	for (i = 4; i < 1000; i++)
		v[i] = i;
	assert_int_equal(v[999], 999);
	v = xrealloc(v, 2 * sizeof(*v));
	assert_int_equal(v[0], 10);
	assert_int_equal(v[1], 11);
	v = xrealloc(v, 0);
	assert_non_null(v);
	free(v);
	s = xcalloc(0, 0);
	assert_non_null(s);
	free(s);
	s = xstrdup("hello");
	assert_string_equal(s, "hello");
	free(s);
	s = xstrndup("hello", 3);
	assert_string_equal(s, "hel");
	free(s);
	s = xstrndup("hi", 10);
	assert_string_equal(s, "hi");
	free(s);
	s = strdup("x");
	assert_ptr_equal(xnonnull(s), s);
	free(s);
}

enum oom_case { OOM_MALLOC, OOM_CALLOC, OOM_REALLOC, OOM_REALLOCARRAY,
    OOM_NONNULL };

/* in the child: the call that must not return */
static void
oom_call(enum oom_case c)
{
	void *p = NULL;

	switch (c) {
	case OOM_MALLOC:	p = xmalloc(SIZE_MAX / 2); break;
	case OOM_CALLOC:	p = xcalloc(SIZE_MAX / 4, 8); break;
	case OOM_REALLOC:	p = xrealloc(NULL, SIZE_MAX / 2); break;
	case OOM_REALLOCARRAY:	p = xreallocarray(NULL, SIZE_MAX / 2, 4); break;
	case OOM_NONNULL:	p = xnonnull(NULL); break;
	}
	free(p);
}

/*
 * Run oom_call(c) in a child with stderr on a pipe; expect it to die of
 * SIGABRT with `want` as the last line on its stderr.
 */
static void
expect_oom(enum oom_case c, const char *want)
{
	int fd[2], status;
	char got[512], *last;
	size_t n = 0;
	ssize_t r;
	pid_t pid;

	assert_int_equal(pipe(fd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };

		(void)setrlimit(RLIMIT_CORE, &no_core);
		if (dup2(fd[1], STDERR_FILENO) < 0)
			_exit(3);
		close(fd[0]);
		close(fd[1]);
		oom_call(c);
		_exit(0);	/* returned: the test fails below */
	}
	close(fd[1]);
	while (n < sizeof(got) - 1 &&
	    (r = read(fd[0], got + n, sizeof(got) - 1 - n)) > 0)
		n += (size_t)r;
	got[n] = '\0';
	close(fd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status))
		fail_msg("case %d: the child exited %d instead of aborting; "
		    "stderr: %s", (int)c, WEXITSTATUS(status), got);
	assert_int_equal(WTERMSIG(status), SIGABRT);
	/* the wrapper's line is the last; ASan warns on its own line before it */
	last = got + n;
	if (last > got)
		last--;		/* the final newline */
	while (last > got && last[-1] != '\n')
		last--;
	assert_string_equal(last, want);
}

static void
test_xalloc_oom(void **state)
{
	char want[160];

	(void)state;
	snprintf(want, sizeof(want),
	    "fatal: out of memory: malloc of %zu bytes failed\n", SIZE_MAX / 2);
	expect_oom(OOM_MALLOC, want);
	snprintf(want, sizeof(want),
	    "fatal: out of memory: realloc of %zu bytes failed\n", SIZE_MAX / 2);
	expect_oom(OOM_REALLOC, want);
	/* n x size overflows: the line says the two factors, not a wrapped product */
	snprintf(want, sizeof(want),
	    "fatal: out of memory: calloc of %zu x 8 bytes failed\n",
	    SIZE_MAX / 4);
	expect_oom(OOM_CALLOC, want);
	snprintf(want, sizeof(want),
	    "fatal: out of memory: reallocarray of %zu x 4 bytes failed\n",
	    SIZE_MAX / 2);
	expect_oom(OOM_REALLOCARRAY, want);
	expect_oom(OOM_NONNULL, "fatal: out of memory: allocation failed\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xalloc),
		cmocka_unit_test(test_xalloc_oom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
