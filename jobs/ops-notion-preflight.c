/*
 * ops-notion-preflight: check the Notion CI token and its access before the
 * spec sync runs, and fail closed.
 *
 * A thin main: flags and environment are read and validated here (a bad
 * value is a usage error, exit 2, one line on stderr); lib/notion does the
 * checks; the findings go to stdout in the chosen format; the exit status is
 * 0 or the NOTION_AUTH_* code's (10..19). Rotation is checked whatever the
 * API says; when a token or API check fails, its code decides the exit
 * status (see notion_report_code()).
 *
 * main owns the token buffer: it is wiped before exit and never printed.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "jobrun.h"
#include "log.h"
#include "notion.h"

#define PROG		"ops-notion-preflight"
#define EXIT_USAGE	2

enum out_format {
	FORMAT_TEXT,
	FORMAT_JSON,
	FORMAT_GITHUB
};

struct settings {
	const char		*config_path;	/* --config, optional */
	const char		*textfile_dir;	/* --textfile-dir, optional */
	const char		*cacert;
	long			 timeout_s;
	long			 deadline_s;
	enum out_format		 format;
	struct notion_env	 env;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: " PROG " [--format text|json|github] [--cacert FILE]\n"
	    "       [--timeout SECONDS] [--deadline SECONDS] [--config PATH]\n"
	    "       [--textfile-dir DIR]\n"
	    "       " PROG " --list-codes | --help | --version\n"
	    "\n"
	    "Checks that the Notion token is a valid integration (bot) token\n"
	    "that can read every sync target; fails closed otherwise.\n"
	    "\n"
	    "  --format FMT      text (default), json or github (annotations)\n"
	    "  --cacert FILE     also trust the CA certificates in FILE (PEM)\n"
	    "  --timeout SECS    connect and total timeout per request "
	    "(default 10)\n"
	    "  --deadline SECS   overall deadline, retries included "
	    "(default 60)\n"
	    "  --config PATH     ops config file (optional)\n"
	    "  --textfile-dir D  write D/" PROG ".prom (node_exporter textfile:\n"
	    "                    last run, its success) after the run\n"
	    "  --list-codes      print CODE<TAB>EXIT<TAB>cause for every code\n"
	    "\n"
	    "environment: NOTION_TOKEN or NOTION_TOKEN_FILE, NOTION_API_BASE,\n"
	    "NOTION_VERSION, NOTION_PREFLIGHT_TARGETS (page:ID,database:ID),\n"
	    "NOTION_TOKEN_ISSUED_AT, NOTION_TOKEN_ROTATE_DAYS, "
	    "NOTION_TOKEN_WARN_DAYS\n"
	    "exit: 0 ok, 2 usage, 10..19 NOTION_AUTH_* (see --list-codes)\n"
	    "runbook: " NOTION_RUNBOOK "\n");
}

static int
usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

/* An environment variable, NULL when unset or empty. */
static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static void
list_codes(void)
{
	const struct notion_code_info *c;
	size_t n;

	c = notion_catalog(&n);
	for (size_t i = 0; i < n; i++)
		printf("%s\t%d\t%s\n", c[i].name, c[i].exit_status, c[i].cause);
}

/*
 * Parse the flags. Returns -1 on a usage error (reported), 1 when the run is
 * over (--help, --version, --list-codes), 0 to go on.
 */
static int
parse_flags(int argc, char **argv, struct settings *s)
{
	enum { O_CACERT = 1, O_TIMEOUT, O_DEADLINE, O_FORMAT, O_CONFIG,
	    O_TEXTFILE, O_HELP, O_VERSION, O_LIST };
	static const struct option opts[] = {
		{ "cacert", required_argument, NULL, O_CACERT },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "deadline", required_argument, NULL, O_DEADLINE },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "config", required_argument, NULL, O_CONFIG },
		{ "textfile-dir", required_argument, NULL, O_TEXTFILE },
		{ "help", no_argument, NULL, O_HELP },
		{ "version", no_argument, NULL, O_VERSION },
		{ "list-codes", no_argument, NULL, O_LIST },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case O_CACERT:
			if (access(optarg, R_OK) == -1)
				return usage_error("--cacert %s: cannot read "
				    "the file: %s", optarg, strerror(errno));
			s->cacert = optarg;
			break;
		case O_TIMEOUT:
			if (notion_parse_long(optarg, 1, 300, &s->timeout_s))
				return usage_error("--timeout must be whole "
				    "seconds between 1 and 300, got \"%.32s\"",
				    optarg);
			break;
		case O_DEADLINE:
			if (notion_parse_long(optarg, 1, 3600, &s->deadline_s))
				return usage_error("--deadline must be whole "
				    "seconds between 1 and 3600, got \"%.32s\"",
				    optarg);
			break;
		case O_FORMAT:
			if (strcmp(optarg, "text") == 0)
				s->format = FORMAT_TEXT;
			else if (strcmp(optarg, "json") == 0)
				s->format = FORMAT_JSON;
			else if (strcmp(optarg, "github") == 0)
				s->format = FORMAT_GITHUB;
			else
				return usage_error("--format must be text, json "
				    "or github, got \"%.32s\"", optarg);
			break;
		case O_CONFIG:
			s->config_path = optarg;
			break;
		case O_TEXTFILE:
			s->textfile_dir = optarg;
			break;
		case O_HELP:
			usage(stdout);
			return 1;
		case O_VERSION:
			printf(PROG " " OPS_VERSION "\n");
			return 1;
		case O_LIST:
			list_codes();
			return 1;
		case ':':
			return usage_error("%s needs a value (see --help)",
			    argv[optind - 1]);
		default:
			/* optopt: a long option's value, a short one's char */
			if (optopt >= O_CACERT && optopt <= O_LIST)
				return usage_error("%s takes no value (see "
				    "--help)", argv[optind - 1]);
			if (optopt > 0)
				return usage_error("unknown option -%c (see "
				    "--help)", optopt);
			return usage_error("unknown option %s (see --help)",
			    argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument \"%.64s\" (see --help)",
		    argv[optind]);
	return 0;
}

static void
check_api(const struct settings *s, const char *token,
    struct notion_report *r, time_t now)
{
	struct notion_options o;
	struct notion_transport t;
	struct notion_curl *c;
	char err[256];

	c = notion_curl_new(s->cacert, s->env.version, PROG "/" OPS_VERSION, err,
	    sizeof(err));
	if (c == NULL) {
		notion_report_add(r, NOTION_AUTH_NETWORK, 0, NULL, NULL, "%s",
		    err);
		return;
	}
	notion_curl_transport(c, &t);
	notion_options_init(&o);
	o.token = token;
	o.api_base = s->env.api_base;
	o.targets = s->env.targets;
	o.ntargets = s->env.ntargets;
	o.timeout_ms = s->timeout_s * 1000;
	o.deadline_ms = s->deadline_s * 1000;
	notion_check_api(&o, &t, now, r);
	notion_curl_free(c);
}

static void
write_step_summary(const struct notion_report *r)
{
	const char *path = env("GITHUB_STEP_SUMMARY");
	struct buf md = BUF_INIT;
	FILE *f;

	if (path == NULL)
		return;
	notion_format_markdown(r, &md);
	if ((f = fopen(path, "a")) == NULL) {
		log_warn("cannot open GITHUB_STEP_SUMMARY %s: %s", path,
		    strerror(errno));
	} else {
		if (fwrite(md.data, 1, md.len, f) != md.len)
			log_warn("cannot write GITHUB_STEP_SUMMARY %s", path);
		if (fclose(f) == EOF)
			log_warn("cannot write GITHUB_STEP_SUMMARY %s: %s",
			    path, strerror(errno));
	}
	buf_free(&md);
}

static void
emit(const struct settings *s, const struct notion_report *r,
    const struct buf *tok)
{
	struct buf out = BUF_INIT;

	if (s->format == FORMAT_JSON)
		notion_format_json(r, &out);
	else if (s->format == FORMAT_GITHUB)
		notion_format_github(r, &out);
	else
		notion_format_text(r, &out);
	/* safety net: nothing above quotes the token */
	if (tok->len >= 8)
		notion_redact(&out, tok->data, tok->len, r->fingerprint);
	if (fwrite(out.data, 1, out.len, stdout) != out.len ||
	    fflush(stdout) == EOF)
		log_error("cannot write the findings to stdout");
	buf_free(&out);
	if (s->format == FORMAT_GITHUB)
		write_step_summary(r);
}

/* --config: the notion: section fills what the environment leaves unset. */
static int
read_config(const struct settings *s)
{
	struct ops_config cfg;
	char err[512];

	if (s->config_path == NULL)
		return 0;
	if (config_load(&cfg, s->config_path, err, sizeof(err)) != 0)
		return usage_error("config %s", err);
	notion_env_from_config(&cfg);
	config_free(&cfg);
	return 0;
}

static int
read_env(struct settings *s, time_t now)
{
	char err[256];

	if (notion_env_read(&s->env, now, err, sizeof(err)) == -1)
		return usage_error("%s", err);
	return 0;
}

int
main(int argc, char **argv)
{
	struct settings s;
	struct notion_report r;
	struct buf tok = BUF_INIT;
	enum notion_code code;
	char why[256];
	time_t now = time(NULL);
	int rc;

	log_init(PROG, LOG_INFO, LOG_FORMAT_JSON);
	memset(&s, 0, sizeof(s));
	s.timeout_s = 10;
	s.deadline_s = 60;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fputs(PROG ": cannot initialize libcurl\n", stderr);
		return 1;
	}
	if ((rc = parse_flags(argc, argv, &s)) != 0 ||
	    read_config(&s) == -1 || read_env(&s, now) == -1) {
		curl_global_cleanup();
		return rc == 1 ? 0 : EXIT_USAGE;
	}

	notion_report_init(&r);
	code = notion_token_load(getenv("NOTION_TOKEN"),
	    env("NOTION_TOKEN_FILE"), &tok, why, sizeof(why));
	if (tok.len > 0)
		notion_fingerprint(tok.data, tok.len, r.fingerprint,
		    sizeof(r.fingerprint));
	if (code != NOTION_OK)
		notion_report_add(&r, code, 0, NULL, NULL, "%s", why);
	else
		check_api(&s, buf_str(&tok), &r, now);
	if (s.env.rotation)
		notion_check_rotation(&r, s.env.issued, s.env.rotate_days,
		    s.env.warn_days, now);

	emit(&s, &r, &tok);
	if (tok.data)
		explicit_bzero(tok.data, tok.cap);
	buf_free(&tok);
	curl_global_cleanup();
	rc = notion_report_exit(&r);
	/* the OpsNotionPreflightNotSucceeding alert reads this file */
	if (s.textfile_dir != NULL && jobrun_write_textfile(s.textfile_dir,
	    PROG, rc == 0, difftime(time(NULL), now), time(NULL), NULL) != 0)
		log_warn("cannot write the textfile in %s", s.textfile_dir);
	return rc;
}
