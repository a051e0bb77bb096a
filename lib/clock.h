/*
 * clock: the one monotonic clock, for durations, deadlines and "is a
 * heartbeat due" (never for a time that is stored or shown: that is the
 * database's now() or lib/date.h).
 *
 *   mono_now()  seconds on CLOCK_MONOTONIC as a double (nanosecond
 *               precision for about 100 days of uptime, enough for any
 *               interval measured here); subtract two readings.
 *
 * CLOCK_MONOTONIC cannot fail on Linux with a valid pointer; a failure is
 * a BUG().
 */
#ifndef OPS_CLOCK_H
#define OPS_CLOCK_H

double	mono_now(void);

#endif
