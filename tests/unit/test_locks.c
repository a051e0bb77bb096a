/* locks: the parts without a database (who this process is, /proc probes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "locks.h"

static void
test_owner_self(void **state)
{
	struct lock_owner o;
	char want[256];

	(void)state;
	lock_owner_self(&o, "ops-test");
	assert_int_equal(o.pid, (int)getpid());
	assert_true(o.host[0] != '\0');
	snprintf(want, sizeof(want), "ops-test:%s:%d", o.host, o.pid);
	assert_string_equal(o.holder, want);
	/* Linux: the start time and boot id are known */
	assert_true(o.start_ticks > 0);
	assert_int_equal(o.start_ticks, lock_proc_start_ticks(o.pid));
	assert_int_equal(strlen(o.boot_id), 36);
}

static void
test_probe(void **state)
{
	long long me = lock_proc_start_ticks(getpid());
	int status;
	pid_t child;

	(void)state;
	assert_true(me > 0);
	assert_int_equal(lock_probe_process(getpid(), me), LOCK_PROC_ALIVE);
	/* an unknown start time gives a running pid the benefit of the doubt */
	assert_int_equal(lock_probe_process(getpid(), -1), LOCK_PROC_ALIVE);
	/* the same pid with another start time is another process */
	assert_int_equal(lock_probe_process(getpid(), me + 1),
	    LOCK_PROC_REUSED);

	/* a pid that has exited (and been reaped) is gone */
	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_int_equal(lock_proc_start_ticks(child), -1);
	assert_int_equal(lock_probe_process(child, 1), LOCK_PROC_GONE);

	/* a zombie can never heartbeat again: gone too */
	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	for (int i = 0; i < 500; i++) {
		char path[64], buf[512];
		FILE *f;
		char *rp;

		snprintf(path, sizeof(path), "/proc/%d/stat", (int)child);
		if ((f = fopen(path, "r")) == NULL)
			break;
		buf[0] = '\0';
		if (fgets(buf, sizeof(buf), f) == NULL)
			buf[0] = '\0';
		fclose(f);
		if ((rp = strrchr(buf, ')')) != NULL && rp[1] == ' ' &&
		    rp[2] == 'Z')
			break;
		usleep(10000);
	}
	assert_int_equal(lock_probe_process(child, -1), LOCK_PROC_GONE);
	assert_int_equal(waitpid(child, &status, 0), child);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owner_self),
		cmocka_unit_test(test_probe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
