/*
 * lane: the poll lane of ops-fcgi.
 *
 * One dispatcher thread (fcgi/main.c) waits for every FastCGI connection
 * and offers each request to the lane first. The lane takes a poll, GET
 * /api/ops/audit-exports/{id} that arrived whole and without a body
 * (fcgi/fcgi_rec.h), while its own PostgreSQL session is up, and answers
 * it without blocking: the token is checked at once, the statement goes
 * out on the session in pipeline mode (many polls in flight, a Sync after
 * each, so a failure fails one poll), and the answer is written when its
 * result comes back. Anything else is left unread for the worker threads,
 * which serve it with libfcgi as before. Why: a worker sleeps twice per
 * poll (for nginx, then for PostgreSQL) and PostgreSQL once more per
 * statement; on this project's machines those sleeps and wake-ups, not
 * the work, were most of a poll's CPU (docs/architecture.md,
 * "Performance").
 *
 * The lane passes polls to the workers too while its session is down or
 * connecting (it reconnects at most once a second, without blocking), when
 * LANE_MAX_INFLIGHT polls are in flight, and when the oldest has waited
 * longer than database.pool_wait_ms (a statement stuck on a lock holds the
 * ones behind it; new polls then get the workers' bounded wait and 503).
 *
 * Every function runs on the dispatcher thread; nothing here is shared.
 */
#ifndef OPS_LANE_H
#define OPS_LANE_H

#include <stdbool.h>
#include <stdint.h>

#include "request.h"

#define LANE_MAX_INFLIGHT	256

/* What an event of the dispatcher's epoll set is about (epoll_data.u64). */
enum ev_kind { EV_LISTEN = 1, EV_WAKE, EV_CONN, EV_LANE_DB };
#define EV_DATA(kind, fd)	((uint64_t)(kind) << 32 | (uint32_t)(fd))
#define EV_KIND(u64)		((enum ev_kind)((u64) >> 32))
#define EV_FD(u64)		((int)(uint32_t)(u64))

/*
 * (Re-)arm fd in epoll set ep for one event (EPOLLONESHOT) of events.
 * 0, or -1 (logged).
 */
int	ev_arm(int ep, int op, enum ev_kind kind, int fd, uint32_t events);

struct lane;

enum lane_offer { LANE_TAKEN, LANE_PASS };

/* A lane on epoll set ep; it connects on its first lane_tick(). */
struct lane *lane_open(const struct app *app, int ep);
/* Close the session; polls still in flight are dropped unanswered. */
void	lane_close(struct lane *l);

/*
 * Connection fd is readable. LANE_TAKEN: the lane read a poll (or found
 * the connection closed or nothing to read) and owns fd until it re-arms
 * or closes it; LANE_PASS: nothing was read, fd is the caller's.
 */
enum lane_offer lane_offer(struct lane *l, int fd);
/* The session's socket (EV_LANE_DB) reported events. */
void	lane_db_event(struct lane *l, uint32_t events);
/* A connection the lane armed for EPOLLOUT can take the rest of an answer. */
void	lane_conn_writable(struct lane *l, int fd);
/*
 * Start a reconnect when one is due; returns how long the dispatcher may
 * wait for events before calling again (ms; -1: no limit).
 */
int	lane_tick(struct lane *l);
/* Polls in flight or answers not yet written. */
bool	lane_busy(const struct lane *l);

#endif
