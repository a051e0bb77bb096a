/* stop: SIGTERM/SIGINT only set a flag (the first signal wins, the process
 * lives on, the exit status is 128 + the signal), and the Notion transport
 * in front of libcurl sends nothing more once a stop came, unless the page
 * being replaced must be finished. The tests run in order: the first one
 * raises SIGTERM for the process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <string.h>

#include "notion.h"
#include "cli.h"
#include "stop.h"

static void
test_signals_set_a_flag(void **state)
{
	(void)state;
	assert_int_equal(stop_requested(), 0);
	assert_int_equal(stop_exit_status(), 0);
	assert_string_equal(stop_signal_name(), "");
	assert_int_equal(stop_install(), 0);
	stop_cancel_on(NULL);	/* nothing registered: a no-op */
	assert_int_equal(raise(SIGTERM), 0);	/* would kill without */
	assert_int_equal(stop_requested(), SIGTERM);
	assert_int_equal(stop_exit_status(), 143);
	assert_string_equal(stop_signal_name(), "SIGTERM");
	/* a second signal changes nothing: the first stop goes on */
	assert_int_equal(raise(SIGINT), 0);
	assert_int_equal(stop_requested(), SIGTERM);
	assert_int_equal(stop_exit_status(), 143);
}

struct inner {
	int	requests;
	long	slept;
};

static int
inner_request(void *ctx, const char *method, const char *url,
    const char *token, const char *body, size_t body_len, long timeout_ms,
    struct notion_http *resp)
{
	struct inner *in = ctx;

	(void)method; (void)url; (void)token; (void)body; (void)body_len;
	(void)timeout_ms;
	in->requests++;
	resp->status = 200;
	return 0;
}

static long long
inner_now(void *ctx)
{
	(void)ctx;
	return 42;
}

static void
inner_sleep(void *ctx, long ms)
{
	((struct inner *)ctx)->slept += ms;
}

static void
test_transport_stops_unless_finishing(void **state)
{
	struct inner in = { 0, 0 };
	struct notion_transport t0 = { inner_request, inner_now, inner_sleep,
	    &in }, t;
	struct notioncli_stoppable s;
	struct notion_http h;
	bool finishing = false;

	(void)state;
	assert_int_equal(stop_requested(), SIGTERM);	/* from the test above */
	notioncli_stoppable(&s, &t0, &finishing, &t);
	memset(&h, 0, sizeof(h));
	assert_int_equal(t.request(t.ctx, "GET", "https://x/v1/users/me", "tok",
	    NULL, 0, 1000, &h), -1);
	assert_int_equal(in.requests, 0);
	assert_int_equal(h.status, 0);
	assert_non_null(strstr(h.error, "stopping on SIGTERM"));
	t.sleep_ms(t.ctx, 5000);
	assert_int_equal(in.slept, 0);	/* a wait is cut short */
	assert_int_equal(t.now_ms(t.ctx), 42);

	/* a page being replaced is finished: requests and waits go through */
	finishing = true;
	assert_int_equal(t.request(t.ctx, "PATCH", "https://x/v1/blocks/b/"
	    "children", "tok", "{}", 2, 1000, &h), 0);
	assert_int_equal(in.requests, 1);
	assert_int_equal(h.status, 200);
	t.sleep_ms(t.ctx, 250);
	assert_int_equal(in.slept, 250);

	/* the preflight has no page to finish (NULL) */
	notioncli_stoppable(&s, &t0, NULL, &t);
	assert_int_equal(t.request(t.ctx, "GET", "https://x/v1/users/me", "tok",
	    NULL, 0, 1000, &h), -1);
	assert_int_equal(in.requests, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signals_set_a_flag),
		cmocka_unit_test(test_transport_stops_unless_finishing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
