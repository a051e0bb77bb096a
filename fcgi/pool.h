/*
 * pool: ops-fcgi's database sessions, fewer than its worker threads.
 *
 * A worker thread serves one request at a time (fcgi/main.c) and takes a
 * session for that request only: idle kept-alive connections cost neither
 * a thread nor a session, and database.pool_size bounds what PostgreSQL
 * sees from the workers whatever fcgi.threads is (the poll lane,
 * fcgi/lane.h, has one session of its own). Sessions keep their prepared
 * statements (lib/db.h) from request to request; a session that lost its
 * server reconnects on its next statement, as every struct db does.
 */
#ifndef OPS_POOL_H
#define OPS_POOL_H

#include <pthread.h>

#include "config.h"
#include "db.h"

struct pool {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;		/* CLOCK_MONOTONIC */
	struct db	*dbs;		/* size sessions */
	struct db	**idle;		/* a stack: the last put is the next got */
	int		 size, nidle;
};

/*
 * Prepare cfg's database.pool_size sessions (at most fcgi.threads), none
 * connected and none available yet: pool_warm(p, i) connects session i
 * (failure is fine: its first statement retries) and makes it available.
 * Called once for each i in 0..size-1, by the worker threads as they
 * start, so that the sessions connect in parallel and a dead database
 * does not hold up the start.
 */
void	pool_open(struct pool *p, const struct ops_config *cfg);
void	pool_warm(struct pool *p, int i);
void	pool_close(struct pool *p);
/*
 * A session for one request, waiting at most wait_ms for one to be put
 * back; NULL when every session stayed busy that long.
 */
struct db *pool_get(struct pool *p, int wait_ms);
/* Give the session back (no transaction may be left open on it). */
void	pool_put(struct pool *p, struct db *db);

#endif
