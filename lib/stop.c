#include "stop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "log.h"

/* The documented exception to "no global mutable state" (stop.h). */
static volatile sig_atomic_t stop_signo;
static _Atomic(PGcancel *) stop_cancel;

_Static_assert(ATOMIC_POINTER_LOCK_FREE == 2,
    "stop.c needs lock-free atomic pointers to use one in a signal handler");

static void
cancel_now(PGcancel *c)
{
	char err[256];	/* local: PQcancel() is then async-signal-safe */

	if (c != NULL)
		(void)PQcancel(c, err, sizeof(err));
}

static void
on_signal(int sig)
{
	int saved = errno;

	if (stop_signo == 0) {
		stop_signo = sig;
		cancel_now(atomic_load(&stop_cancel));
	}
	errno = saved;
}

int
stop_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaddset(&sa.sa_mask, SIGINT);
	/* SA_RESTART: libpq and libcurl retry on EINTR anyway; a sleep of
	 * ours returns early and looks at stop_requested() */
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGTERM, &sa, NULL) != 0 ||
	    sigaction(SIGINT, &sa, NULL) != 0) {
		log_error("cannot install the SIGTERM/SIGINT handler: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
stop_requested(void)
{
	return stop_signo;
}

int
stop_exit_status(void)
{
	return stop_signo ? 128 + stop_signo : 0;
}

const char *
stop_signal_name(void)
{
	switch (stop_signo) {
	case SIGTERM:
		return "SIGTERM";
	case SIGINT:
		return "SIGINT";
	case 0:
		return "";
	}
	return "signal";
}

void
stop_cancel_on(PGcancel *c)
{
	sigset_t old;

	/* no handler between the store and the look at stop_signo */
	stop_block(&old);
	atomic_store(&stop_cancel, c);
	if (c != NULL && stop_signo != 0)
		cancel_now(c);
	stop_unblock(&old);
}

void
stop_block(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	(void)pthread_sigmask(SIG_BLOCK, &set, old);
}

void
stop_unblock(const sigset_t *old)
{
	(void)pthread_sigmask(SIG_SETMASK, old, NULL);
}
