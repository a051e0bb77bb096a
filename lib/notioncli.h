/*
 * notioncli: the command line ops-notion-preflight and ops-notion-sync
 * share (lib/notion.h is their shared client; this is their shared main).
 *
 *   options     --cacert, --timeout, --deadline, --format, --config,
 *               --textfile-dir, --help, --version, --list-codes, plus the
 *               binary's own, parsed by notioncli_parse(); a bad value is a
 *               usage error: one line "PROG: ..." on stderr (exit 2 is
 *               main's).
 *   config      --config's notion: section under the environment
 *               (notioncli_config()), then NOTION_* (notioncli_env()).
 *   token       NOTION_TOKEN or NOTION_TOKEN_FILE into a caller's buffer,
 *               its fingerprint into the report (notioncli_token()), wiped
 *               by notioncli_token_wipe().
 *   client      the libcurl transport and the client options every run
 *               shares (notioncli_curl(), notioncli_options()).
 *   output      the findings to stdout with the token redacted as a safety
 *               net (notioncli_write()), and Markdown to the GitHub job
 *               summary (notioncli_step_summary()).
 *
 * Each binary keeps its usage text, its own options and its run.
 * struct notioncli points into argv and owns nothing but its notion_env.
 */
#ifndef OPS_NOTIONCLI_H
#define OPS_NOTIONCLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "notion.h"

enum notioncli_format {
	NOTIONCLI_TEXT,		/* default */
	NOTIONCLI_JSON,
	NOTIONCLI_GITHUB	/* annotations and the job summary */
};

/* The shared options' values; a binary numbers its own from _OWN on. */
enum {
	NOTIONCLI_O_CACERT = 1, NOTIONCLI_O_TIMEOUT, NOTIONCLI_O_DEADLINE,
	NOTIONCLI_O_FORMAT, NOTIONCLI_O_CONFIG, NOTIONCLI_O_TEXTFILE,
	NOTIONCLI_O_HELP, NOTIONCLI_O_VERSION, NOTIONCLI_O_LIST,
	NOTIONCLI_O_OWN
};

struct notioncli {
	/* set by main before notioncli_parse() */
	const char		*prog;
	long			 timeout_s;	/* the defaults */
	long			 deadline_s;
	long			 deadline_max;	/* --deadline's upper bound */
	void			(*usage)(FILE *f);
	/* the binary's own options ({NULL} ends them) and their handler:
	 * return -1 after notioncli_error() on a bad value */
	const struct option	*own;
	int			(*on_own)(int opt, const char *arg, void *ctx);
	void			*ctx;
	/* results */
	const char		*config_path;
	const char		*textfile_dir;
	const char		*cacert;
	enum notioncli_format	 format;
	struct notion_env	 env;		/* by notioncli_env() */
};

/* "PROG: <message>\n" on stderr; returns -1. */
int	notioncli_error(const struct notioncli *c, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * Parse argv. Returns 0 to go on, 1 when the run is over (--help,
 * --version, --list-codes printed to stdout), -1 on a usage error
 * (reported).
 */
int	notioncli_parse(struct notioncli *c, int argc, char **argv);

/*
 * --config: load it and let its notion: section fill what the environment
 * leaves unset. Returns 1 with *cfg loaded (the caller config_free()s it),
 * 0 without --config, -1 on an error (reported).
 */
int	notioncli_config(const struct notioncli *c, struct ops_config *cfg);

/* Read the NOTION_* environment into c->env. 0, or -1 (reported). */
int	notioncli_env(struct notioncli *c, time_t now);

/*
 * Load the token into tok (NOTION_TOKEN or NOTION_TOKEN_FILE) and its
 * fingerprint into r; a failure is added to r as a finding. Returns the
 * code (NOTION_OK: tok holds the token).
 */
enum notion_code notioncli_token(struct buf *tok, struct notion_report *r);

/* Overwrite the token's memory and free it. */
void	notioncli_token_wipe(struct buf *tok);

/*
 * The libcurl transport for c (--cacert, NOTION_VERSION, the user agent
 * PROG/OPS_VERSION) into t. NULL after adding a NOTION_AUTH_NETWORK
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
void	notioncli_options(const struct notioncli *c, const char *token,
	    struct notion_options *o);

/*
 * Redact the token from out (nothing should quote it: a safety net) and
 * write out to stdout. 0, or -1 when stdout failed (the caller logs).
 */
int	notioncli_write(struct buf *out, const struct buf *tok,
	    const struct notion_report *r);

/*
 * Append md, the token redacted, to $GITHUB_STEP_SUMMARY when it is set;
 * a failure is logged (a warning: the findings are on stdout).
 */
void	notioncli_step_summary(struct buf *md, const struct buf *tok,
	    const struct notion_report *r);

#endif
