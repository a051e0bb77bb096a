/*
 * ops-export-runner: claim and run export jobs until the queue is empty or
 * the time budget (export.runner_budget_seconds) is spent; a job already
 * started runs to its end (its own max_duration bounds it).
 *
 * Many runners may run at once, on one host or many: jobs are claimed with
 * FOR UPDATE SKIP LOCKED. The scheduler lock is per instance
 * ("ops-export-runner:<instance>", default the host name), so that a timer
 * never starts a second runner on a host whose first is still busy.
 *
 * SIGTERM/SIGINT: the job in progress commits its chunk in flight and is
 * handed back without consuming an attempt (lib/export_runner.h); no new
 * job is claimed; the run is recorded terminated, the lock released, exit
 * 143 (130 for SIGINT).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "export_runner.h"
#include "jobcli.h"
#include "jobrun.h"
#include "log.h"
#include "sanitize.h"

#define OPT_INSTANCE	1
#define BINARY		"ops-export-runner"

struct opts {
	char	instance[100];
};

static int
on_option(int opt, const char *arg, void *ctx)
{
	struct opts *o = ctx;

	if (opt != OPT_INSTANCE)
		return -1;
	return jobcli_instance(BINARY, arg, o->instance, sizeof(o->instance));
}

/* Only a lost lock stops the run here: a stop is export_job_run()'s. */
static int
tick(void *arg)
{
	struct jobrun *jr = arg;

	return jobrun_tick(jr) != 0 && jr->lost ? -1 : 0;
}

/* The runner's connection that failed last (the writer's by default). */
static const struct db *
failed_db(const struct runner *rn)
{
	return rn->wdb->err == DB_OK && rn->rdb->err != DB_OK ? rn->rdb :
	    rn->wdb;
}

int
main(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "instance", required_argument, NULL, OPT_INSTANCE },
		{ NULL, 0, NULL, 0 }
	};
	struct opts o = { "" };
	struct jobcli cli = {
		.binary = BINARY,
		.summary = "Claims and runs audit export jobs until the queue "
		    "is empty or the time budget ends.",
		.extra_usage = "  --instance NAME      lock instance (default: "
		    "the host name)\n",
		.extra = extra, .on_option = on_option, .ctx = &o
	};
	struct ops_config cfg;
	struct jobrun jr;
	struct runner rn;
	struct runner_job job;
	struct sanitize_rules *rules;
	struct db rdb;
	char lock[160];
	const char *error = NULL;
	time_t budget_end;
	int status;

	jobcli_start(&cli, argc, argv, &cfg);
	if ((rules = sanitize_rules_from_config(&cfg)) == NULL) {
		config_free(&cfg);
		return 1;
	}
	if (o.instance[0] == '\0')
		jobcli_default_instance(o.instance, sizeof(o.instance));
	snprintf(lock, sizeof(lock), BINARY ":%s", o.instance);
	if ((status = jobrun_begin(&jr, BINARY, lock, &cfg,
	    cli.textfile_dir)) != 0) {
		sanitize_rules_free(rules);
		config_free(&cfg);
		return status;
	}
	db_init(&rdb, cfg.database.url, cfg.database.jobs_role,
	    cfg.database.connect_timeout_seconds, BINARY "/stream");
	memset(&rn, 0, sizeof(rn));
	rn.cfg = &cfg;
	rn.rules = rules;
	rn.storage = &storage_db_spool;
	rn.wdb = &jr.db;
	rn.rdb = &rdb;
	rn.owner = jr.me.holder;
	rn.tick = tick;
	rn.tick_arg = &jr;
	rn.fence_lock = jr.lease.name;
	rn.fence_token = jr.lease.token;

	budget_end = time(NULL) + cfg.export.runner_budget_seconds;
	while (error == NULL && time(NULL) < budget_end &&
	    !jobrun_stopping(&jr)) {
		enum run_result r = export_job_claim(&rn, &job);

		if (r == RUN_NONE)
			break;
		if (r != RUN_CLAIMED) {
			error = rn.fence_lost ? "the runner's scheduler lock "
			    "was taken over" : jobrun_db_error(&jr,
			    "cannot claim a job", failed_db(&rn));
			break;
		}
		jobrun_count(&jr, "claimed", 1);
		r = export_job_run(&rn, &job);
		switch (r) {
		case RUN_DONE:
			jobrun_count(&jr, "done", 1);
			break;
		case RUN_FAILED:
			jobrun_count(&jr, "failed", 1);
			break;
		case RUN_STOPPED:
			jobrun_count(&jr, "interrupted", 1);
			break;
		case RUN_LOST:
			jobrun_count(&jr, "lost", 1);
			if (rn.fence_lost)
				break;
			fprintf(stderr, BINARY ": job %s (attempt %d) was taken "
			    "over by another runner: stopped without writing "
			    "anything more\n", job.id, job.attempt);
			error = "lost a job to another runner";
			break;
		default:
			error = jobrun_db_error(&jr, "a job failed on a "
			    "database or storage error (it will be reclaimed "
			    "after its lease)", failed_db(&rn));
			break;
		}
		runner_job_free(&job);
		if (r == RUN_ERROR && jobrun_stopping(&jr))
			error = NULL;	/* jobrun_end() says "terminated" */
		if (rn.fence_lost)
			jr.lost = true;
		if (jr.lost)
			error = "the runner's scheduler lock was taken over";
	}
	/* after a failure, say so when the cause was a lost lock */
	if (error != NULL && !jr.lost && jobrun_check(&jr) != 0)
		error = "the runner's scheduler lock was taken over";
	status = jobrun_end(&jr, error);
	db_close(&rdb);
	sanitize_rules_free(rules);
	config_free(&cfg);
	return status;
}
