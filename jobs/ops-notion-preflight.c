/*
 * ops-notion-preflight: check the Notion CI token and its access before the
 * spec sync runs, and fail closed.
 *
 * A thin main: the job frame (lib/jobcli) and notion/cli read and validate
 * the flags, the optional config's notion: section and the environment (a
 * bad value is a usage error, exit 2, one line on stderr); notion/ does
 * the checks; the findings go to stdout in the chosen format; the exit status is
 * 0 or the NOTION_AUTH_* code's (10..19). Rotation is checked whatever the
 * API says; when a token or API check fails, its code decides the exit
 * status (see notion_report_code()).
 *
 * The settings own the token: wiped before exit (notioncli_free()), never
 * printed, never put into the environment.
 *
 * SIGTERM/SIGINT: no new request starts (one in flight ends within
 * --timeout); the findings so far are printed, the .prom says the run did
 * not succeed, exit 143 (130 for SIGINT).
 */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "jobrun.h"
#include "log.h"
#include "cli.h"
#include "notion.h"
#include "stop.h"

#define PROG		"ops-notion-preflight"
#define EXIT_USAGE	2

#define SUMMARY \
	"Checks that the Notion token is a valid integration (bot) token\n" \
	"that can read every sync target; fails closed otherwise."

#define USAGE \
	"  --format FMT         text (default), json or github (annotations)\n" \
	"  --cacert FILE        also trust the CA certificates in FILE (PEM)\n" \
	"  --timeout SECS       connect and total timeout per request " \
	"(default 10)\n" \
	"  --deadline SECS      overall deadline, retries included " \
	"(default 60)\n" \
	"  --check-config       check the settings (--config's notion:, the\n" \
	"                       environment), send nothing\n" \
	"  --list-codes         print CODE<TAB>EXIT<TAB>cause for every code\n" \
	"  --config-keys        print the notion: keys of the config file\n"

#define EPILOG \
	"environment: NOTION_TOKEN or NOTION_TOKEN_FILE, NOTION_API_BASE,\n" \
	"NOTION_VERSION, NOTION_PREFLIGHT_TARGETS (page:ID,database:ID),\n" \
	"NOTION_TOKEN_ISSUED_AT, NOTION_TOKEN_ROTATE_DAYS, " \
	"NOTION_TOKEN_WARN_DAYS;\n" \
	"they win over --config's notion: section\n" \
	"exit: 0 ok, 2 usage, 10..19 NOTION_AUTH_* (see --list-codes)\n" \
	"runbook: " NOTION_RUNBOOK

static void
check_api(const struct notioncli *cli, struct notion_report *r, time_t now)
{
	struct notion_options o;
	struct notion_transport curl, t;
	struct notioncli_stoppable stoppable;
	struct notion_curl *c;

	if ((c = notioncli_curl(cli, r, &curl)) == NULL)
		return;
	notioncli_stoppable(&stoppable, &curl, NULL, &t);
	notioncli_options(cli, &o);
	o.targets = cli->settings.targets;
	o.ntargets = cli->settings.ntargets;
	notion_check_api(&o, &t, now, r);
	notion_curl_free(c);
}

static void
emit(const struct notioncli *cli, const struct notion_report *r)
{
	struct buf out = BUF_INIT, md = BUF_INIT;

	if (cli->format == NOTIONCLI_JSON)
		notion_format_json(r, &out);
	else if (cli->format == NOTIONCLI_GITHUB)
		notion_format_github(r, &out);
	else
		notion_format_text(r, &out);
	if (notioncli_write(cli, &out, r) == -1)
		log_error("cannot write the findings to stdout");
	buf_free(&out);
	if (cli->format == NOTIONCLI_GITHUB) {
		notion_format_markdown(r, &md);
		notioncli_step_summary(cli, &md, r);
		buf_free(&md);
	}
}

int
main(int argc, char **argv)
{
	struct notioncli cli;
	struct notion_report r;
	time_t now = time(NULL);
	int rc;

	log_init(PROG, LOG_INFO, LOG_FORMAT_JSON);
	memset(&cli, 0, sizeof(cli));
	cli.prog = PROG;
	cli.summary = SUMMARY;
	cli.usage = USAGE;
	cli.epilog = EPILOG;
	cli.timeout_s = 10;
	cli.deadline_s = 60;
	cli.deadline_max = 3600;
	if ((rc = notioncli_parse(&cli, argc, argv)) != 0 ||
	    (rc = notioncli_settings(&cli, now, NULL)) != 0)
		return rc == 1 ? 0 : EXIT_USAGE;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fputs(PROG ": cannot initialize libcurl\n", stderr);
		notioncli_free(&cli);
		return 1;
	}
	if (stop_install() != 0) {
		curl_global_cleanup();
		notioncli_free(&cli);
		return 1;
	}

	notion_report_init(&r);
	if (notioncli_token(&cli, &r) == NOTION_OK)
		check_api(&cli, &r, now);
	if (cli.settings.rotation)
		notion_check_rotation(&r, cli.settings.issued,
		    cli.settings.rotate_days, cli.settings.warn_days, now);

	emit(&cli, &r);
	notioncli_free(&cli);
	curl_global_cleanup();
	rc = notion_report_exit(&r);
	if (stop_requested() != 0) {
		log_warn("%s received: stopped before every check was made",
		    stop_signal_name());
		rc = stop_exit_status();
	}
	/* the OpsNotionPreflightNotSucceeding alert reads this file */
	if (cli.job.textfile_dir != NULL && jobrun_write_textfile(
	    cli.job.textfile_dir, PROG, rc == 0, difftime(time(NULL), now),
	    time(NULL), NULL) != 0)
		log_warn("cannot write the textfile in %s",
		    cli.job.textfile_dir);
	return rc;
}
