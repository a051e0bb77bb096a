/* lockstate: lock classification (table-driven), names, reasons; and the
 * /proc probe of lib/locks.c against real processes. */
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
#include "lockstate.h"

#define HOST	"node-a"
#define BOOT	"0f0e0d0c-0b0a-4909-8807-060504030201"
#define BOOT2	"11111111-2222-4333-8444-555555555555"
#define NOW	1000000.0
#define STALE	30

struct case_ {
	const char	*what;
	bool		 held;
	const char	*host;
	const char	*boot;
	long long	 started;	/* -1 unknown */
	double		 hb_age;	/* now - heartbeat_at */
	double		 lease_left;	/* lease_until - now */
	bool		 self;		/* healer view (else API view) */
	const char	*self_boot;
	enum lock_proc	 proc;
	enum lock_state	 want;
	const char	*why;
};

static const struct case_ cases[] = {
	{ "free", false, NULL, NULL, -1, 0, 0, true, BOOT, LOCK_PROC_NOT_PROBED,
	  LOCK_STATE_FREE, "" },
	{ "free, even with a probe saying gone", false, NULL, NULL, -1, 0, 0,
	  true, BOOT, LOCK_PROC_GONE, LOCK_STATE_FREE, "" },
	{ "held, fresh heartbeat", true, "node-b", BOOT2, 5, 1, 200, true,
	  BOOT, LOCK_PROC_NOT_PROBED, LOCK_STATE_HELD, "" },
	{ "heartbeat exactly stale_after old is not stale yet", true, "node-b",
	  BOOT2, 5, STALE, 200, true, BOOT, LOCK_PROC_NOT_PROBED,
	  LOCK_STATE_HELD, "" },
	{ "heartbeat just over stale_after", true, "node-b", BOOT2, 5,
	  STALE + 0.001, 200, true, BOOT, LOCK_PROC_NOT_PROBED,
	  LOCK_STATE_STALE, "heartbeat older than stale_after" },
	{ "heartbeat in the future (clock step) is held", true, "node-b",
	  BOOT2, 5, -20, 200, true, BOOT, LOCK_PROC_NOT_PROBED,
	  LOCK_STATE_HELD, "" },
	{ "lease over", true, "node-b", BOOT2, 5, 1, -0.5, true, BOOT,
	  LOCK_PROC_NOT_PROBED, LOCK_STATE_EXPIRED, "lease over" },
	{ "lease ends exactly now", true, "node-b", BOOT2, 5, 1, 0, true, BOOT,
	  LOCK_PROC_NOT_PROBED, LOCK_STATE_EXPIRED, "lease over" },
	{ "expired wins over stale", true, "node-b", BOOT2, 5, 999, -1, true,
	  BOOT, LOCK_PROC_NOT_PROBED, LOCK_STATE_EXPIRED, "lease over" },
	{ "local holder gone, fresh heartbeat: orphaned", true, HOST, BOOT, 77,
	  0.5, 200, true, BOOT, LOCK_PROC_GONE, LOCK_STATE_ORPHANED,
	  "process gone" },
	{ "local pid reused by another process: orphaned", true, HOST, BOOT,
	  77, 0.5, 200, true, BOOT, LOCK_PROC_REUSED, LOCK_STATE_ORPHANED,
	  "pid reused by another process" },
	{ "orphaned wins over expired", true, HOST, BOOT, 77, 999, -5, true,
	  BOOT, LOCK_PROC_GONE, LOCK_STATE_ORPHANED, "process gone" },
	{ "local holder alive and fresh", true, HOST, BOOT, 77, 0.5, 200, true,
	  BOOT, LOCK_PROC_ALIVE, LOCK_STATE_HELD, "" },
	{ "local holder alive but hung: stale, not orphaned", true, HOST, BOOT,
	  77, 45, 200, true, BOOT, LOCK_PROC_ALIVE, LOCK_STATE_STALE,
	  "heartbeat older than stale_after" },
	{ "local holder, probe could not look: no evidence", true, HOST, BOOT,
	  77, 0.5, 200, true, BOOT, LOCK_PROC_NOT_PROBED, LOCK_STATE_HELD, "" },
	{ "other host, probe says gone: never orphaned", true, "node-b", BOOT,
	  77, 0.5, 200, true, BOOT, LOCK_PROC_GONE, LOCK_STATE_HELD, "" },
	{ "other host, pid 'reused': never orphaned", true, "node-b", BOOT, 77,
	  0.5, 200, true, BOOT, LOCK_PROC_REUSED, LOCK_STATE_HELD, "" },
	{ "same host name, other boot id (reboot or twin): not orphaned", true,
	  HOST, BOOT2, 77, 0.5, 200, true, BOOT, LOCK_PROC_GONE,
	  LOCK_STATE_HELD, "" },
	{ "same host, holder without boot id: not orphaned", true, HOST, NULL,
	  -1, 0.5, 200, true, BOOT, LOCK_PROC_GONE, LOCK_STATE_HELD, "" },
	{ "same host and boot, holder start time unknown: not orphaned", true,
	  HOST, BOOT, -1, 0.5, 200, true, BOOT, LOCK_PROC_GONE,
	  LOCK_STATE_HELD, "" },
	{ "healer without a boot id: not orphaned", true, HOST, BOOT, 77, 0.5,
	  200, true, "", LOCK_PROC_GONE, LOCK_STATE_HELD, "" },
	{ "API view (no self) never says orphaned", true, HOST, BOOT, 77, 0.5,
	  200, false, NULL, LOCK_PROC_GONE, LOCK_STATE_HELD, "" },
	{ "API view still sees stale", true, HOST, BOOT, 77, 31, 200, false,
	  NULL, LOCK_PROC_GONE, LOCK_STATE_STALE,
	  "heartbeat older than stale_after" },
	{ "API view still sees expired", true, HOST, BOOT, 77, 31, -1, false,
	  NULL, LOCK_PROC_GONE, LOCK_STATE_EXPIRED, "lease over" },
	{ "other host stale", true, "node-c", NULL, -1, 100, 5, true, BOOT,
	  LOCK_PROC_NOT_PROBED, LOCK_STATE_STALE,
	  "heartbeat older than stale_after" },
};

static void
test_classify_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct case_ *c = &cases[i];
		struct lock_facts f = {
			.held = c->held, .host = c->host, .boot_id = c->boot,
			.pid = c->held ? 4242 : 0, .started_at = c->started,
			.heartbeat_at = NOW - c->hb_age,
			.lease_until = NOW + c->lease_left
		};
		struct lock_self self = { HOST, c->self_boot };
		const char *why = "unset";
		enum lock_state got = lock_classify(&f, NOW, STALE,
		    c->self ? &self : NULL, c->proc, &why);

		if (got != c->want || strcmp(why, c->why) != 0)
			fail_msg("case %zu (%s): got %s (%s), want %s (%s)", i,
			    c->what, lock_state_name(got), why,
			    lock_state_name(c->want), c->why);
		/* why may be NULL */
		assert_int_equal(lock_classify(&f, NOW, STALE, c->self ?
		    &self : NULL, c->proc, NULL), c->want);
	}
}

static void
test_is_local(void **state)
{
	struct lock_facts f = { .held = true, .host = HOST, .boot_id = BOOT,
	    .pid = 10, .started_at = 5 };
	struct lock_self self = { HOST, BOOT };

	(void)state;
	assert_true(lock_holder_is_local(&f, &self));
	f.pid = 0;
	assert_false(lock_holder_is_local(&f, &self));
	f.pid = 10;
	assert_false(lock_holder_is_local(&f, NULL));
	self.boot_id = NULL;
	assert_false(lock_holder_is_local(&f, &self));
	self.boot_id = BOOT;
	f.held = false;
	assert_false(lock_holder_is_local(&f, &self));
}

static void
test_names_and_reasons(void **state)
{
	(void)state;
	assert_string_equal(lock_state_name(LOCK_STATE_FREE), "FREE");
	assert_string_equal(lock_state_name(LOCK_STATE_ORPHANED), "ORPHANED");
	assert_string_equal(lock_state_name((enum lock_state)99), "?");
	assert_string_equal(lock_state_reason(LOCK_STATE_STALE), "stale");
	assert_string_equal(lock_state_reason(LOCK_STATE_EXPIRED), "expired");
	assert_string_equal(lock_state_reason(LOCK_STATE_ORPHANED), "orphaned");
	assert_string_equal(lock_state_reason(LOCK_STATE_HELD), "");
	assert_false(lock_state_recoverable(LOCK_STATE_FREE));
	assert_false(lock_state_recoverable(LOCK_STATE_HELD));
	assert_true(lock_state_recoverable(LOCK_STATE_STALE));
	assert_true(lock_state_recoverable(LOCK_STATE_EXPIRED));
	assert_true(lock_state_recoverable(LOCK_STATE_ORPHANED));
}

static void
test_lock_names(void **state)
{
	char n128[129], n129[130];

	(void)state;
	memset(n128, 'a', 128);
	n128[128] = '\0';
	memset(n129, 'a', 129);
	n129[129] = '\0';
	assert_true(lock_name_valid("ops-export-runner:host-1.example_x"));
	assert_true(lock_name_valid("0"));
	assert_true(lock_name_valid(n128));
	assert_false(lock_name_valid(n129));
	assert_false(lock_name_valid(""));
	assert_false(lock_name_valid(NULL));
	assert_false(lock_name_valid("-lead"));
	assert_false(lock_name_valid(":lead"));
	assert_false(lock_name_valid("Upper"));
	assert_false(lock_name_valid("a/b"));
	assert_false(lock_name_valid("a b"));
	assert_false(lock_name_valid("a%2f"));
	assert_false(lock_name_valid("caf\xc3\xa9"));
}

static void
test_reasons(void **state)
{
	static const struct { const char *s; bool ok; } rs[] = {
		{ "stuck since the 02:00 deploy", true },
		{ "x", true },
		{ "  padded  ", true },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92", true },
		{ "", false },
		{ "   ", false },
		{ "line\nbreak", false },
		{ "tab\there", false },
		{ "del\x7f", false },
		{ "c1 \xc2\x85", false },
		{ "bad \xff", false },
		{ "overlong \xc0\xaf", false },
		{ "surrogate \xed\xa0\x80", false },
		{ "truncated \xe2\x82", false },
		{ "too big \xf4\x90\x80\x80", false },
	};
	char buf[2100];
	const char *issue;

	(void)state;
	for (size_t i = 0; i < sizeof(rs) / sizeof(rs[0]); i++) {
		issue = NULL;
		if (lock_reason_valid(rs[i].s, &issue) != rs[i].ok)
			fail_msg("reason %zu: expected %d (%s)", i, rs[i].ok,
			    issue ? issue : "");
		if (!rs[i].ok)
			assert_non_null(issue);
	}
	assert_false(lock_reason_valid(NULL, &issue));
	/* 500 characters pass, 501 do not; counted in code points */
	memset(buf, 'r', 500);
	buf[500] = '\0';
	assert_true(lock_reason_valid(buf, &issue));
	buf[500] = 'r';
	buf[501] = '\0';
	assert_false(lock_reason_valid(buf, &issue));
	assert_string_equal(issue, "must be at most 500 characters");
	for (int i = 0; i < 500; i++)
		memcpy(buf + 2 * i, "\xc3\xa9", 2);
	buf[1000] = '\0';
	assert_true(lock_reason_valid(buf, &issue));
	memcpy(buf + 1000, "\xc3\xa9", 3);
	assert_false(lock_reason_valid(buf, &issue));
}

/* Field 22 of /proc/PID/stat read independently of lib/locks.c. */
static long long
reference_start_ticks(int pid)
{
	char path[64], line[1024], *p;
	unsigned long long v = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[n] = '\0';
	p = strrchr(line, ')');
	/* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime cutime cstime prio nice threads itreal
	 * starttime: the 20th value is field 22 */
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
	    "%*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &v) != 1)
		return -2;
	return (long long)v;
}

static void
test_start_ticks_is_field_22(void **state)
{
	long long t0 = lock_proc_start_ticks(getpid()), t1;
	size_t big = 64u << 20;
	char *mem;

	(void)state;
	assert_true(t0 >= 0);
	assert_int_equal(t0, reference_start_ticks(getpid()));
	/* grow the address space: field 23 (vsize) moves, 22 must not */
	mem = malloc(big);
	assert_non_null(mem);
	memset(mem, 1, big);
	t1 = lock_proc_start_ticks(getpid());
	free(mem);
	assert_int_equal(t0, t1);
	assert_int_equal(lock_proc_start_ticks(-1), -1);
}

static void
test_probe_real_processes(void **state)
{
	long long me = lock_proc_start_ticks(getpid()), ct;
	pid_t child;
	int st;

	(void)state;
	assert_int_equal(lock_probe_process(getpid(), me), LOCK_PROC_ALIVE);
	assert_int_equal(lock_probe_process(getpid(), -1), LOCK_PROC_ALIVE);
	assert_int_equal(lock_probe_process(getpid(), me + 1), LOCK_PROC_REUSED);
	assert_int_equal(lock_probe_process(0, 1), LOCK_PROC_GONE);
	assert_int_equal(lock_probe_process(-5, 1), LOCK_PROC_GONE);

	/* a stopped process is alive */
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	ct = -1;
	for (int i = 0; i < 200 && ct < 0; i++)
		ct = lock_proc_start_ticks(child);
	assert_true(ct >= 0);
	kill(child, SIGSTOP);
	assert_int_equal(lock_probe_process(child, ct), LOCK_PROC_ALIVE);
	/* a zombie (dead, not yet reaped) is gone */
	kill(child, SIGKILL);
	for (int i = 0; i < 1000; i++) {
		if (lock_probe_process(child, ct) == LOCK_PROC_GONE)
			break;
		usleep(1000);
	}
	assert_int_equal(lock_probe_process(child, ct), LOCK_PROC_GONE);
	/* reaped: no such pid */
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_int_equal(lock_probe_process(child, ct), LOCK_PROC_GONE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify_table),
		cmocka_unit_test(test_is_local),
		cmocka_unit_test(test_names_and_reasons),
		cmocka_unit_test(test_lock_names),
		cmocka_unit_test(test_reasons),
		cmocka_unit_test(test_start_ticks_is_field_22),
		cmocka_unit_test(test_probe_real_processes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
