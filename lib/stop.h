/*
 * stop: SIGTERM and SIGINT in the job binaries (CONTRACT section 18;
 * docs/ops/locks.md, "Stopping a job").
 *
 * stop_install() sets a handler for both signals that only records which
 * one came (a volatile sig_atomic_t: a signal handler has no other place
 * to put it, so this is, with lib/log.c's settings, the one piece of
 * process-wide mutable state) and, while a long statement is registered
 * with stop_cancel_on(), sends that statement's cancel request (PQcancel()
 * is async-signal-safe). Nothing else happens in the handler: the work
 * loops call stop_requested() between units of work (a chunk, a batch, a
 * lock, a page), end the unit or abandon it, and leave through
 * jobrun_end(), which records the run as terminated, releases the lock,
 * writes the .prom and gives stop_exit_status() (143 for SIGTERM, 130 for
 * SIGINT: 128 + the signal, the shell's convention).
 *
 * Every other statement of a job is short by design (one chunk, one batch)
 * and bounded by the role's statement_timeout; an HTTP request by its
 * timeout. A second signal changes nothing: the first stop goes on (systemd
 * sends SIGKILL after TimeoutStopSec).
 *
 * Threads: the handler may only run on the thread that registers
 * statements, so a thread the binary starts must be created with the two
 * signals blocked (stop_block(), then stop_unblock() in the creator after
 * pthread_create()).
 */
#ifndef OPS_STOP_H
#define OPS_STOP_H

#include <libpq-fe.h>
#include <signal.h>
#include <stdbool.h>

/* Install the handler for SIGTERM and SIGINT. 0, or -1 (logged). */
int	stop_install(void);

/* 0 while no stop was asked for, else the signal (SIGTERM or SIGINT). */
int	stop_requested(void);

/* 128 + the signal (143, 130); 0 when none came. */
int	stop_exit_status(void);

/* "SIGTERM", "SIGINT", or "" */
const char *stop_signal_name(void);

/*
 * Cancel c's statement when a signal comes (NULL: cancel nothing). c stays
 * the caller's: set NULL before PQfreeCancel(c). When a stop was already
 * asked for, c is cancelled at once.
 */
void	stop_cancel_on(PGcancel *c);

/* Block SIGTERM and SIGINT in this thread (old gets the previous mask). */
void	stop_block(sigset_t *old);
void	stop_unblock(const sigset_t *old);

#endif
