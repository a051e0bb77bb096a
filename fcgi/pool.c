/*
 * pool: ops-fcgi's database sessions (pool.h).
 */
#include "pool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xalloc.h"
#include "xpthread.h"

void
pool_open(struct pool *p, const struct ops_config *cfg)
{
	pthread_condattr_t ca;
	char appname[64];

	memset(p, 0, sizeof(*p));
	/* a session more than threads would never be taken */
	p->size = cfg->database.pool_size < cfg->fcgi.threads ?
	    cfg->database.pool_size : cfg->fcgi.threads;
	p->dbs = xcalloc((size_t)p->size, sizeof(*p->dbs));
	p->idle = xcalloc((size_t)p->size, sizeof(*p->idle));
	for (int i = 0; i < p->size; i++) {
		snprintf(appname, sizeof(appname), "ops-fcgi/%d", i);
		db_init(&p->dbs[i], cfg->database.url, cfg->database.fcgi_role,
		    cfg->database.connect_timeout_seconds, appname);
		p->dbs[i].prepare = strcmp(cfg->database.prepared_statements,
		    "true") == 0;
	}
	xpthread(pthread_mutex_init(&p->mu, NULL));
	xpthread(pthread_condattr_init(&ca));
	xpthread(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC));
	xpthread(pthread_cond_init(&p->cv, &ca));
	xpthread(pthread_condattr_destroy(&ca));
}

void
pool_warm(struct pool *p, int i)
{
	(void)db_ensure(&p->dbs[i]);	/* failure is fine: retried */
	pool_put(p, &p->dbs[i]);
}

void
pool_close(struct pool *p)
{
	for (int i = 0; i < p->size; i++)
		db_close(&p->dbs[i]);
	free(p->dbs);
	free(p->idle);
	xpthread(pthread_cond_destroy(&p->cv));
	xpthread(pthread_mutex_destroy(&p->mu));
}

struct db *
pool_get(struct pool *p, int wait_ms)
{
	struct timespec until;
	struct db *db = NULL;
	int rc = 0;

	(void)clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	xpthread(pthread_mutex_lock(&p->mu));
	while (p->nidle == 0 && rc != ETIMEDOUT) {
		rc = pthread_cond_timedwait(&p->cv, &p->mu, &until);
		if (rc != 0 && rc != ETIMEDOUT)
			xpthread(rc);
	}
	if (p->nidle > 0)
		db = p->idle[--p->nidle];
	xpthread(pthread_mutex_unlock(&p->mu));
	return db;
}

void
pool_put(struct pool *p, struct db *db)
{
	xpthread(pthread_mutex_lock(&p->mu));
	p->idle[p->nidle++] = db;
	xpthread(pthread_cond_signal(&p->cv));
	xpthread(pthread_mutex_unlock(&p->mu));
}
