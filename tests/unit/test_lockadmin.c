/* lockadmin: a lock row's facts and ages, and what a force-release says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "lockadmin.h"

static struct lock_row
held_row(void)
{
	struct lock_row r;

	memset(&r, 0, sizeof(r));
	r.name = "report-job";
	r.holder = "report-job:other.example:99";
	r.host = "other.example";
	r.boot_id = "0f0e0d0c-0b0a-0908-0706-050403020100";
	r.pid = 99;
	r.started_at = 4242;
	r.token = 7;
	r.acquired_epoch = 1000.0;
	r.heartbeat_epoch = 1010.0;
	r.lease_epoch = 1030.0;
	r.now = 1012.5;
	return r;
}

static void
test_facts_and_ages(void **state)
{
	struct lock_row r = held_row();
	struct lock_facts f;

	(void)state;
	lock_row_facts(&r, &f);
	assert_true(f.held);
	assert_string_equal(f.host, "other.example");
	assert_string_equal(f.boot_id, r.boot_id);
	assert_int_equal(f.pid, 99);
	assert_int_equal(f.started_at, 4242);
	assert_true(f.heartbeat_at == 1010.0 && f.lease_until == 1030.0);
	assert_true(lock_row_heartbeat_age(&r) == 2.5);
	assert_true(lock_row_lease_left(&r) == 17.5);
	/* a lease that ended is negative: how long ago */
	r.now = 1031.0;
	assert_true(lock_row_lease_left(&r) == -1.0);

	/* a free lock has no ages, whatever its stale times say */
	r.holder = r.host = r.boot_id = NULL;
	lock_row_facts(&r, &f);
	assert_false(f.held);
	assert_true(lock_row_heartbeat_age(&r) == 0.0);
	assert_true(lock_row_lease_left(&r) == 0.0);
}

static void
test_release_of_a_held_lock(void **state)
{
	struct lock_row r = held_row();
	struct lock_release rel;

	(void)state;
	r.heartbeat_epoch = 1010.0004;	/* age 2.4996 -> 2.5 (ms) */
	lock_release_fill(&rel, &r, LOCK_STATE_STALE, "host is gone",
	    "opsctl:root", 8, "2026-12-06T20:00:00.1Z");
	assert_string_equal(rel.name, "report-job");
	assert_true(rel.released);
	assert_int_equal(rel.state_before, LOCK_STATE_STALE);
	assert_string_equal(rel.prev_holder, r.holder);
	assert_string_equal(rel.prev_host, "other.example");
	assert_int_equal(rel.prev_pid, 99);
	assert_int_equal(rel.prev_token, 7);
	assert_true(rel.prev_heartbeat_age == 2.5);
	assert_int_equal(rel.token, 8);
	assert_string_equal(rel.released_at, "2026-12-06T20:00:00.1Z");
	assert_string_equal(rel.release_reason, "force: host is gone");
	assert_string_equal(rel.released_by, "opsctl:root");
	lock_release_free(&rel);
	assert_null(rel.name);
}

/* A held row without a host (the opsctl NULL-%s report): NULL, not "" */
static void
test_release_without_host(void **state)
{
	struct lock_row r = held_row();
	struct lock_release rel;

	(void)state;
	r.host = NULL;
	lock_release_fill(&rel, &r, LOCK_STATE_STALE, "x", "ops-1", 8, "t");
	assert_true(rel.released);
	assert_null(rel.prev_host);
	assert_string_equal(rel.prev_holder, r.holder);
	lock_release_free(&rel);
}

static void
test_release_of_a_free_lock(void **state)
{
	struct lock_row r;
	struct lock_release rel;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.name = "ops-export-cleaner";
	r.token = 43;
	r.released_at = "2026-12-06T19:00:00Z";
	r.release_reason = "released";
	r.released_by = "ops-export-cleaner:h:1";
	lock_release_fill(&rel, &r, LOCK_STATE_FREE, "why", "ops-1", 43, "");
	assert_false(rel.released);
	assert_null(rel.prev_holder);
	assert_null(rel.prev_host);
	assert_int_equal(rel.prev_pid, 0);
	assert_true(rel.prev_heartbeat_age == 0.0);
	assert_int_equal(rel.token, 43);
	/* the last release stays what it was */
	assert_string_equal(rel.released_at, "2026-12-06T19:00:00Z");
	assert_string_equal(rel.release_reason, "released");
	assert_string_equal(rel.released_by, "ops-export-cleaner:h:1");
	lock_release_free(&rel);

	/* never released at all: all NULL */
	memset(&r, 0, sizeof(r));
	r.name = "new-job";
	lock_release_fill(&rel, &r, LOCK_STATE_FREE, "why", "ops-1", 0, "");
	assert_null(rel.released_at);
	assert_null(rel.release_reason);
	assert_null(rel.released_by);
	lock_release_free(&rel);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_facts_and_ages),
		cmocka_unit_test(test_release_of_a_held_lock),
		cmocka_unit_test(test_release_without_host),
		cmocka_unit_test(test_release_of_a_free_lock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
