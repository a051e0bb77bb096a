/*
 * cli: what the mains of ops-notion-preflight and ops-notion-sync share on
 * top of the command-line frame every job binary uses (lib/jobcli.h).
 *
 *   options     the Notion options both binaries take, parsed through
 *               jobcli_parse() together with the binary's own:
 *               --cacert, --timeout, --deadline, --format, --list-codes,
 *               --config-keys, --check-config (jobcli adds --config,
 *               --textfile-dir, --help, --version); a bad value is a usage
 *               error: one line "PROG: ..." on stderr (exit 2 is main's).
 *   settings    --config's notion: section under NOTION_* into
 *               c->settings, read once (notion_settings_load()); the
 *               file's core sections are checked too (config_load()).
 *   token       its fingerprint into the report, or its finding
 *               (notioncli_token()).
 *   client      the libcurl transport and the client options every run
 *               shares (notioncli_curl(), notioncli_options()).
 *   output      the findings to stdout with the token redacted as a safety
 *               net (notioncli_write()), and Markdown to the GitHub job
 *               summary (notioncli_step_summary()).
 *
 * Each binary keeps its usage text, its own options and its run.
 * struct notioncli points into argv and owns its settings (free them with
 * notioncli_free()).
 */
#ifndef OPS_NOTION_CLI_H
#define OPS_NOTION_CLI_H

#include <getopt.h>
#include <stdio.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "jobcli.h"
#include "notion.h"

#define NOTIONCLI_MAX_OPTIONS	24

enum notioncli_format {
	NOTIONCLI_TEXT,		/* default */
	NOTIONCLI_JSON,
	NOTIONCLI_GITHUB	/* annotations and the job summary */
};

/* The shared options' values; a binary numbers its own from _OWN on. */
enum {
	NOTIONCLI_O_CACERT = 1, NOTIONCLI_O_TIMEOUT, NOTIONCLI_O_DEADLINE,
	NOTIONCLI_O_FORMAT, NOTIONCLI_O_LIST, NOTIONCLI_O_KEYS,
	NOTIONCLI_O_CHECK, NOTIONCLI_O_OWN
};

struct notioncli {
	/* set by main before notioncli_parse() */
	const char		*prog;
	const char		*summary;	/* --help's paragraph */
	const char		*usage;		/* its own options' lines */
	const char		*epilog;	/* environment, exit codes */
	long			 timeout_s;	/* the defaults */
	long			 deadline_s;
	long			 deadline_max;	/* --deadline's upper bound */
	/* the binary's own options ({NULL} ends them) and their handler:
	 * return -1 after notioncli_error() on a bad value */
	const struct option	*own;
	int			(*on_own)(int opt, const char *arg, void *ctx);
	void			*ctx;
	/* results */
	struct jobcli		 job;		/* config_path, textfile_dir */
	const char		*cacert;
	enum notioncli_format	 format;
	int			 check_config;
	int			 have_config;	/* *cfg of notioncli_settings() */
	struct notion_settings	 settings;	/* by notioncli_settings() */
	/* the merged option table */
	struct option		 opts[NOTIONCLI_MAX_OPTIONS];
};

/* "PROG: <message>\n" on stderr; returns -1. */
int	notioncli_error(const struct notioncli *c, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * Parse argv (jobcli_parse()). Returns 0 to go on, 1 when the run is over
 * (--help, --version, --list-codes, --config-keys printed to stdout), -1
 * on a usage error (reported).
 */
int	notioncli_parse(struct notioncli *c, int argc, char **argv);

/*
 * Read the settings into c->settings: with --config the whole file is
 * checked, its core sections by config_load() (into *cfg when cfg is not
 * NULL: c->have_config is then set and the caller config_free()s it) and
 * its notion: section by notion_settings_load(); then NOTION_*. 0, or -1
 * (reported). With --check-config, say so on stdout and return 1: the run
 * is over.
 */
int	notioncli_settings(struct notioncli *c, time_t now,
	    struct ops_config *cfg);

/* Free c->settings (the token is wiped). */
void	notioncli_free(struct notioncli *c);

/*
 * The token of c->settings: its fingerprint into r, or, when it is missing
 * or malformed, its finding. Returns the code (NOTION_OK: use it).
 */
enum notion_code notioncli_token(struct notioncli *c,
	    struct notion_report *r);

/*
 * The libcurl transport for c (--cacert, the Notion-Version, the user
 * agent PROG/OPS_VERSION) into t. NULL after adding a NOTION_AUTH_NETWORK
 * finding to r; else free it with notion_curl_free().
 */
struct notion_curl *notioncli_curl(const struct notioncli *c,
	    struct notion_report *r, struct notion_transport *t);

/*
 * SIGTERM/SIGINT (lib/stop.h): a transport in front of another that sends
 * no new request and waits no more once a stop was asked for, unless
 * *finishing (may be NULL) is true: the sync sets it while a page is being
 * replaced, so that the page is finished rather than left half-appended. A
 * request in flight is never cut (an append may have been applied): it
 * ends within --timeout. A refused request fails like a network failure
 * whose message says the run is stopping. inner must outlive out.
 */
struct notioncli_stoppable {
	const struct notion_transport	*inner;
	const bool			*finishing;
};

void	notioncli_stoppable(struct notioncli_stoppable *s,
	    const struct notion_transport *inner, const bool *finishing,
	    struct notion_transport *out);

/* notion_options_init() plus the token, API base and c's timeouts. */
void	notioncli_options(const struct notioncli *c,
	    struct notion_options *o);

/*
 * Redact the token from out (nothing should quote it: a safety net) and
 * write out to stdout. 0, or -1 when stdout failed (the caller logs).
 */
int	notioncli_write(const struct notioncli *c, struct buf *out,
	    const struct notion_report *r);

/*
 * Append md, the token redacted, to $GITHUB_STEP_SUMMARY when it is set;
 * a failure is logged (a warning: the findings are on stdout).
 */
void	notioncli_step_summary(const struct notioncli *c, struct buf *md,
	    const struct notion_report *r);

#endif
