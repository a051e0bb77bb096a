/*
 * lock_race: N threads, each with its own database connection, race for
 * one scheduler lock with lib/locks.c, round after round. A test driver
 * (built into build/tools/, never installed), used by
 * tests/integration/locks.sh.
 *
 *   lock_race URL NAME THREADS ROUNDS
 *
 * Every round: all threads wait at a barrier, call lock_acquire() at once,
 * wait again; then exactly one must have won, its token must be larger
 * than every token seen before, and the table must show that token and
 * that holder; the winner heart-beats (LOCK_OK) and releases; a loser's
 * heartbeat with a stale token must answer LOCK_LOST. Prints one summary
 * line and exits 0 when every round held, 1 otherwise (with the first
 * failure on stderr).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "locks.h"

#define MAX_THREADS	64

struct shared {
	const char		*url, *name;
	int			 threads, rounds;
	pthread_barrier_t	 bar;
	/* per round, written by the threads between the barriers */
	enum lock_status	 st[MAX_THREADS];
	long long		 token[MAX_THREADS];
	int			 dberr;
};

struct worker {
	struct shared	*sh;
	int		 idx;
	pthread_t	 tid;
};

static int
parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

static void *
run(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	struct lock_owner me;
	struct lock_lease lease;
	struct db db;
	char appname[32];

	snprintf(appname, sizeof(appname), "lock_race/%d", w->idx);
	db_init(&db, sh->url, NULL, 5, appname);
	lock_owner_self(&me, "lock_race");
	/* one holder id per thread: they share the process */
	snprintf(me.holder, sizeof(me.holder), "lock_race:%s:%d:t%d", me.host,
	    me.pid, w->idx);
	for (int r = 0; r < sh->rounds; r++) {
		pthread_barrier_wait(&sh->bar);
		sh->st[w->idx] = lock_acquire(&db, sh->name, &me, 60, &lease,
		    NULL, 0);
		sh->token[w->idx] = sh->st[w->idx] == LOCK_OK ? lease.token : 0;
		pthread_barrier_wait(&sh->bar);
		/* main checks the round here */
		pthread_barrier_wait(&sh->bar);
		if (sh->st[w->idx] == LOCK_OK &&
		    (lock_heartbeat(&db, &lease) != LOCK_OK ||
		    lock_release(&db, &lease) != LOCK_OK))
			sh->dberr++;
		pthread_barrier_wait(&sh->bar);
	}
	db_close(&db);
	return NULL;
}

/* The token and holder the table shows for name. */
static int
table_state(struct db *db, const char *name, long long *token, char *holder,
    size_t hsz)
{
	const char *p[] = { name };
	PGresult *res = db_query(db, "SELECT fencing_token, coalesce(holder, "
	    "'') FROM tb_scheduler_lock WHERE name = $1", 1, p);

	if (res == NULL || PQntuples(res) != 1) {
		PQclear(res);
		return -1;
	}
	*token = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	snprintf(holder, hsz, "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	return 0;
}

int
main(int argc, char **argv)
{
	struct worker w[MAX_THREADS];
	struct shared sh;
	struct lock_lease stale;
	struct db db;
	long long last = -1, first = -1, tt = -1;
	char holder[256], want[256];
	int failed = 0, stale_ok = 0;

	memset(&sh, 0, sizeof(sh));
	if (argc != 5 || parse_int(argv[3], 2, MAX_THREADS, &sh.threads) != 0 ||
	    parse_int(argv[4], 1, 100000, &sh.rounds) != 0) {
		fprintf(stderr, "usage: lock_race URL NAME THREADS(2..%d) "
		    "ROUNDS\n", MAX_THREADS);
		return 2;
	}
	sh.url = argv[1];
	sh.name = argv[2];
	db_init(&db, sh.url, NULL, 5, "lock_race/main");
	pthread_barrier_init(&sh.bar, NULL, (unsigned)sh.threads + 1);
	for (int i = 0; i < sh.threads; i++) {
		w[i].sh = &sh;
		w[i].idx = i;
		if (pthread_create(&w[i].tid, NULL, run, &w[i]) != 0) {
			fprintf(stderr, "lock_race: pthread_create failed\n");
			return 1;
		}
	}
	for (int r = 0; r < sh.rounds; r++) {
		int winners = 0, winner = -1, busy = 0;

		pthread_barrier_wait(&sh.bar);	/* go */
		pthread_barrier_wait(&sh.bar);	/* all tried */
		for (int i = 0; i < sh.threads; i++) {
			if (sh.st[i] == LOCK_OK) {
				winners++;
				winner = i;
			} else if (sh.st[i] == LOCK_BUSY) {
				busy++;
			}
		}
		if (winners != 1 || busy != sh.threads - 1) {
			fprintf(stderr, "lock_race: round %d: %d winners, %d "
			    "busy, %d errors\n", r, winners, busy,
			    sh.threads - winners - busy);
			failed++;
		} else if (sh.token[winner] <= last) {
			fprintf(stderr, "lock_race: round %d: token %lld after "
			    "%lld\n", r, sh.token[winner], last);
			failed++;
		} else {
			snprintf(want, sizeof(want), "lock_race:");
			if (table_state(&db, sh.name, &tt, holder,
			    sizeof(holder)) != 0 || tt != sh.token[winner] ||
			    strstr(holder, want) != holder) {
				fprintf(stderr, "lock_race: round %d: table shows "
				    "token %lld holder '%s', winner has %lld\n",
				    r, tt, holder, sh.token[winner]);
				failed++;
			}
			if (first < 0)
				first = sh.token[winner];
			/* a loser holding an old token is fenced off */
			if (last >= 0) {
				snprintf(stale.name, sizeof(stale.name), "%s",
				    sh.name);
				stale.token = last;
				stale.lease_seconds = 60;
				if (lock_heartbeat(&db, &stale) == LOCK_LOST)
					stale_ok++;
				else {
					fprintf(stderr, "lock_race: round %d: a "
					    "heartbeat with old token %lld was "
					    "not refused\n", r, last);
					failed++;
				}
			}
			last = sh.token[winner];
		}
		pthread_barrier_wait(&sh.bar);	/* checked: release */
		pthread_barrier_wait(&sh.bar);	/* released */
	}
	for (int i = 0; i < sh.threads; i++)
		pthread_join(w[i].tid, NULL);
	if (sh.dberr) {
		fprintf(stderr, "lock_race: %d winner heartbeats or releases "
		    "failed\n", sh.dberr);
		failed++;
	}
	printf("lock_race: %d threads, %d rounds, %d failed rounds, tokens "
	    "%lld..%lld, %d stale-token heartbeats refused\n", sh.threads,
	    sh.rounds, failed, first, last, stale_ok);
	pthread_barrier_destroy(&sh.bar);
	db_close(&db);
	return failed ? 1 : 0;
}
