/*
 * ops-lock-healer: find stuck scheduler locks and recover them (contract
 * section 6; the logic is lib/lockheal.c, the rules docs/ops/locks.md).
 *
 * A run is a singleton under its own lock "ops-lock-healer" (jobrun):
 * exit 0 when every lock is fine or was recovered, 1 on failure, 2 usage or
 * configuration, 75 when another healer holds the lock. Before taking its
 * lock it recovers that lock if a previous healer died holding it (same
 * rules as for every other lock), so a dead healer never stops the next.
 *
 * After the locks it closes the job_run rows of runs that are gone
 * (lockheal_close_runs()).
 *
 * --dry-run prints the same one line per lock and changes nothing: it takes
 * no lock and writes no job_run row either.
 *
 * SIGTERM/SIGINT: the lock being recovered is finished (one transaction),
 * no next one is looked at; the run is recorded terminated and the lock
 * released (exit 143, 130 for SIGINT).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobcli.h"
#include "jobrun.h"
#include "lockheal.h"
#include "locks.h"
#include "log.h"
#include "sanitize.h"

#define BINARY		"ops-lock-healer"
#define OPT_DRY_RUN	1

struct opts {
	bool	dry_run;
};

static int
on_option(int opt, const char *arg, void *ctx)
{
	struct opts *o = ctx;

	(void)arg;
	if (opt != OPT_DRY_RUN)
		return -1;
	o->dry_run = true;
	return 0;
}

static void
heal_init(struct lockheal *h, struct db *db, const struct ops_config *cfg,
    const struct sanitize_rules *rules, const struct lock_owner *me)
{
	memset(h, 0, sizeof(*h));
	h->db = db;
	h->stale_after = cfg->locks.stale_after_seconds;
	h->rules = rules;
	h->me = me;
	h->self_lock = BINARY;
	h->probe = lock_proc_all_visible() && me->boot_id[0] != '\0';
	if (!h->probe)
		log_warn("this process cannot see every process of the host in "
		    "/proc (hidepid, or no boot id): ORPHANED detection is off; "
		    "STALE and EXPIRED locks are still recovered");
}

/* lockheal's tick: -1 lock lost, 1 stop (a signal), 0 go on */
static int
tick(void *arg)
{
	struct jobrun *jr = arg;

	if (jobrun_tick(jr) == 0)
		return 0;
	return jr->lost ? -1 : 1;
}

/* --dry-run: classify and report, no lock, no write. */
static int
dry_run(const struct ops_config *cfg, const struct sanitize_rules *rules)
{
	struct lock_owner me;
	struct lockheal h;
	struct db db;
	int rc;

	lock_owner_self(&me, BINARY);
	db_init(&db, cfg->database.url, cfg->database.jobs_role,
	    cfg->database.connect_timeout_seconds, BINARY);
	heal_init(&h, &db, cfg, rules, &me);
	h.dry_run = true;
	h.self_lock = NULL;	/* nothing is recovered: show it like any other */
	h.out = stdout;
	rc = lockheal_run(&h);
	if (rc == 0 && lockheal_close_runs(&h) < 0)
		rc = -1;
	if (rc != 0)
		fprintf(stderr, BINARY ": cannot read the locks: database %s: "
		    "%s\n", db.err == DB_ERR_UNAVAILABLE ? "unavailable" :
		    "error", db.errmsg);
	db_close(&db);
	return rc == 0 ? JOBRUN_EXIT_OK : JOBRUN_EXIT_FAIL;
}

/* A healer that died holding our lock: recover it before taking it. */
static void
recover_predecessor(const struct ops_config *cfg,
    const struct sanitize_rules *rules)
{
	struct lock_owner me;
	struct lockheal h;
	struct db db;

	lock_owner_self(&me, BINARY);
	db_init(&db, cfg->database.url, cfg->database.jobs_role,
	    cfg->database.connect_timeout_seconds, BINARY);
	heal_init(&h, &db, cfg, rules, &me);
	h.out = stdout;
	if (lockheal_one(&h, BINARY) < 0)
		log_warn("cannot check the healer's own lock: %s", db.errmsg);
	db_close(&db);
}

int
main(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ NULL, 0, NULL, 0 }
	};
	struct opts o = { false };
	struct jobcli cli = {
		.binary = BINARY,
		.summary = "Finds stuck scheduler locks (STALE, EXPIRED, ORPHANED) "
		    "and recovers them: clears the holder, bumps the fencing "
		    "token, records SCHEDULER_LOCK_STUCK_DETECTED and "
		    "SCHEDULER_LOCK_RECOVERED. Prints one line per lock.",
		.extra_usage = "  --dry-run            report only: no lock taken, "
		    "nothing written\n",
		.extra = extra, .on_option = on_option, .ctx = &o
	};
	struct sanitize_rules *rules;
	struct ops_config cfg;
	struct lockheal h;
	struct jobrun jr;
	const char *error = NULL;
	int status;

	jobcli_start(&cli, argc, argv, &cfg);
	if ((rules = sanitize_rules_from_config(&cfg)) == NULL) {
		config_free(&cfg);
		return 1;
	}
	if (o.dry_run) {
		status = dry_run(&cfg, rules);
		goto out;
	}
	recover_predecessor(&cfg, rules);
	if ((status = jobrun_begin(&jr, BINARY, BINARY, &cfg,
	    cli.textfile_dir)) != 0)
		goto out;
	heal_init(&h, &jr.db, &cfg, rules, &jr.me);
	h.fence_name = jr.lease.name;
	h.fence_token = jr.lease.token;
	h.out = stdout;
	h.tick = tick;
	h.tick_arg = &jr;
	if (lockheal_run(&h) != 0)
		error = h.lost || jr.lost ? "the healer's lock was taken over" :
		    jobrun_db_error(&jr, "recovering a lock failed", &jr.db);
	else if (!h.stopped && !jobrun_stopping(&jr) &&
	    lockheal_close_runs(&h) < 0)
		error = h.lost ? "the healer's lock was taken over" :
		    jobrun_db_error(&jr, "closing the runs of dead processes "
		    "failed", &jr.db);
	if (h.lost)
		jr.lost = true;
	jobrun_count(&jr, "runs_closed", h.runs_closed);
	jobrun_count(&jr, "locks", h.locks);
	jobrun_count(&jr, "held", h.held);
	jobrun_count(&jr, "stuck", h.stuck);
	jobrun_count(&jr, "recovered", h.recovered);
	jobrun_count(&jr, "stale", h.stale);
	jobrun_count(&jr, "expired", h.expired);
	jobrun_count(&jr, "orphaned", h.orphaned);
	jobrun_count(&jr, "skipped", h.skipped);
	status = jobrun_end(&jr, error);
out:
	sanitize_rules_free(rules);
	config_free(&cfg);
	return status;
}
