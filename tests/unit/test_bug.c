/* bug: BUG() and the checked wrappers built on it say where and why. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bug.h"
#include "log.h"
#include "xjson.h"
#include "xpthread.h"

/*
 * Run fn in a child with stderr on a pipe; return what it wrote (static
 * buffer) and check that it died of SIGABRT.
 */
static const char *
run_dying(void (*fn)(void))
{
	static char out[4096];
	size_t len = 0;
	ssize_t n;
	int fd[2], status;
	pid_t pid;

	assert_int_equal(pipe(fd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fd[0]);
		if (dup2(fd[1], STDERR_FILENO) < 0)
			_exit(3);
		log_init("test_bug", LOG_INFO, LOG_FORMAT_TEXT);
		fn();
		_exit(0);	/* not reached when fn BUGs */
	}
	close(fd[1]);
	while (len < sizeof(out) - 1 &&
	    (n = read(fd[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(fd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	return out;
}

static const int bug_line = __LINE__ + 4;	/* the BUG() below */
static void
call_bug(void)
{
	BUG("the widget count is %d, never negative", -3);
}

static void
test_bug_says_where_and_why(void **state)
{
	char want[128];
	const char *out;

	(void)state;
	out = run_dying(call_bug);
	snprintf(want, sizeof(want), "BUG: %s:%d: the widget count is -3, "
	    "never negative", __FILE__, bug_line);
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(out, " error: "));	/* level error */
}

static void
pack_null(void)
{
	json_t *v = xjson_pack("{s:o}", "key", (json_t *)NULL);

	json_decref(v);
}

static void
test_failed_pack_says_why(void **state)
{
	const char *out;

	(void)state;
	out = run_dying(pack_null);
	assert_non_null(strstr(out, "BUG: " __FILE__ ":"));
	assert_non_null(strstr(out, "json_pack(\"{s:o}\") failed: NULL object"));
	assert_null(strstr(out, "out of memory"));
}

static void
set_not_utf8(void)
{
	json_t *o = json_object();

	xjson_set(o, "name", json_string("caf\xe9"));
	json_decref(o);
}

static void
test_failed_set_names_the_key(void **state)
{
	const char *out;

	(void)state;
	out = run_dying(set_not_utf8);
	assert_non_null(strstr(out, "the JSON value of \"name\" could not be "
	    "built"));
}

static void
unlock_unlocked(void)
{
	pthread_mutexattr_t at;
	pthread_mutex_t mu;

	pthread_mutexattr_init(&at);
	pthread_mutexattr_settype(&at, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&mu, &at);
	xpthread(pthread_mutex_unlock(&mu));
}

static void
test_pthread_failure_says_call_and_error(void **state)
{
	char want[160];
	const char *out;

	(void)state;
	out = run_dying(unlock_unlocked);
	snprintf(want, sizeof(want), "pthread_mutex_unlock(&mu) failed: %s",
	    strerror(EPERM));
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(out, "BUG: " __FILE__ ":"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bug_says_where_and_why),
		cmocka_unit_test(test_failed_pack_says_why),
		cmocka_unit_test(test_failed_set_names_the_key),
		cmocka_unit_test(test_pthread_failure_says_call_and_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
