#include "notioncli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "stop.h"

#define MAX_OPTIONS	32

int
notioncli_error(const struct notioncli *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", c->prog);
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
	const struct notion_code_info *ci;
	size_t n;

	ci = notion_catalog(&n);
	for (size_t i = 0; i < n; i++)
		printf("%s\t%d\t%s\n", ci[i].name, ci[i].exit_status,
		    ci[i].cause);
}

/* One of the shared options: 0, 1 (the run is over) or -1. */
static int
shared_option(struct notioncli *c, int opt, const char *arg)
{
	switch (opt) {
	case NOTIONCLI_O_CACERT:
		if (access(arg, R_OK) == -1)
			return notioncli_error(c, "--cacert %s: cannot read "
			    "the file: %s", arg, strerror(errno));
		c->cacert = arg;
		return 0;
	case NOTIONCLI_O_TIMEOUT:
		if (notion_parse_long(arg, 1, 300, &c->timeout_s))
			return notioncli_error(c, "--timeout must be whole "
			    "seconds between 1 and 300, got \"%.32s\"", arg);
		return 0;
	case NOTIONCLI_O_DEADLINE:
		if (notion_parse_long(arg, 1, c->deadline_max, &c->deadline_s))
			return notioncli_error(c, "--deadline must be whole "
			    "seconds between 1 and %ld, got \"%.32s\"",
			    c->deadline_max, arg);
		return 0;
	case NOTIONCLI_O_FORMAT:
		if (strcmp(arg, "text") == 0)
			c->format = NOTIONCLI_TEXT;
		else if (strcmp(arg, "json") == 0)
			c->format = NOTIONCLI_JSON;
		else if (strcmp(arg, "github") == 0)
			c->format = NOTIONCLI_GITHUB;
		else
			return notioncli_error(c, "--format must be text, json "
			    "or github, got \"%.32s\"", arg);
		return 0;
	case NOTIONCLI_O_CONFIG:
		c->config_path = arg;
		return 0;
	case NOTIONCLI_O_TEXTFILE:
		c->textfile_dir = arg;
		return 0;
	case NOTIONCLI_O_HELP:
		c->usage(stdout);
		return 1;
	case NOTIONCLI_O_VERSION:
		printf("%s %s\n", c->prog, OPS_VERSION);
		return 1;
	case NOTIONCLI_O_LIST:
		list_codes();
		return 1;
	}
	return c->on_own(opt, arg, c->ctx);
}

int
notioncli_parse(struct notioncli *c, int argc, char **argv)
{
	static const struct option shared[] = {
		{ "cacert", required_argument, NULL, NOTIONCLI_O_CACERT },
		{ "timeout", required_argument, NULL, NOTIONCLI_O_TIMEOUT },
		{ "deadline", required_argument, NULL, NOTIONCLI_O_DEADLINE },
		{ "format", required_argument, NULL, NOTIONCLI_O_FORMAT },
		{ "config", required_argument, NULL, NOTIONCLI_O_CONFIG },
		{ "textfile-dir", required_argument, NULL,
		    NOTIONCLI_O_TEXTFILE },
		{ "help", no_argument, NULL, NOTIONCLI_O_HELP },
		{ "version", no_argument, NULL, NOTIONCLI_O_VERSION },
		{ "list-codes", no_argument, NULL, NOTIONCLI_O_LIST },
	};
	struct option opts[MAX_OPTIONS];
	size_t n = 0;
	int ch, rc;

	for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]); i++)
		opts[n++] = shared[i];
	for (size_t i = 0; c->own && c->own[i].name &&
	    n < MAX_OPTIONS - 1; i++)
		opts[n++] = c->own[i];
	memset(&opts[n], 0, sizeof(opts[n]));

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (ch == ':')
			return notioncli_error(c, "%s needs a value (see "
			    "--help)", argv[optind - 1]);
		if (ch != '?') {
			if ((rc = shared_option(c, ch, optarg)) != 0)
				return rc;
			continue;
		}
		/* optopt: a long option's value, a short one's char */
		for (size_t i = 0; optopt > 0 && i < n; i++)
			if (opts[i].val == optopt)
				return notioncli_error(c, "%s takes no value "
				    "(see --help)", argv[optind - 1]);
		if (optopt > 0)
			return notioncli_error(c, "unknown option -%c (see "
			    "--help)", optopt);
		return notioncli_error(c, "unknown option %s (see --help)",
		    argv[optind - 1]);
	}
	if (optind < argc)
		return notioncli_error(c, "unexpected argument \"%.64s\" (see "
		    "--help)", argv[optind]);
	return 0;
}

int
notioncli_config(const struct notioncli *c, struct ops_config *cfg)
{
	char err[512];

	if (c->config_path == NULL)
		return 0;
	if (config_load(cfg, c->config_path, err, sizeof(err)) != 0)
		return notioncli_error(c, "config %s", err);
	notion_env_from_config(cfg);
	return 1;
}

int
notioncli_env(struct notioncli *c, time_t now)
{
	char err[256];

	if (notion_env_read(&c->env, now, err, sizeof(err)) == -1)
		return notioncli_error(c, "%s", err);
	return 0;
}

enum notion_code
notioncli_token(struct buf *tok, struct notion_report *r)
{
	enum notion_code code;
	char why[256];

	code = notion_token_load(getenv("NOTION_TOKEN"),
	    env("NOTION_TOKEN_FILE"), tok, why, sizeof(why));
	if (tok->len > 0)
		notion_fingerprint(tok->data, tok->len, r->fingerprint,
		    sizeof(r->fingerprint));
	if (code != NOTION_OK)
		notion_report_add(r, code, 0, NULL, NULL, "%s", why);
	return code;
}

void
notioncli_token_wipe(struct buf *tok)
{
	if (tok->data)
		explicit_bzero(tok->data, tok->cap);
	buf_free(tok);
}

struct notion_curl *
notioncli_curl(const struct notioncli *c, struct notion_report *r,
    struct notion_transport *t)
{
	struct notion_curl *curl;
	char agent[128], err[256];

	snprintf(agent, sizeof(agent), "%s/%s", c->prog, OPS_VERSION);
	curl = notion_curl_new(c->cacert, c->env.version, agent, err,
	    sizeof(err));
	if (curl == NULL) {
		notion_report_add(r, NOTION_AUTH_NETWORK, 0, NULL, NULL, "%s",
		    err);
		return NULL;
	}
	notion_curl_transport(curl, t);
	return curl;
}

static bool
stopping(const struct notioncli_stoppable *s)
{
	return stop_requested() != 0 && !(s->finishing && *s->finishing);
}

static int
stoppable_request(void *ctx, const char *method, const char *url,
    const char *token, const char *body, size_t body_len, long timeout_ms,
    struct notion_http *resp)
{
	const struct notioncli_stoppable *s = ctx;

	if (stopping(s)) {
		resp->status = 0;
		snprintf(resp->error, sizeof(resp->error), "not sent: "
		    "stopping on %s", stop_signal_name());
		return -1;
	}
	return s->inner->request(s->inner->ctx, method, url, token, body,
	    body_len, timeout_ms, resp);
}

static long long
stoppable_now_ms(void *ctx)
{
	const struct notioncli_stoppable *s = ctx;

	return s->inner->now_ms(s->inner->ctx);
}

/* A pacer or retry wait, in slices, so that a stop cuts it short. */
static void
stoppable_sleep_ms(void *ctx, long ms)
{
	const struct notioncli_stoppable *s = ctx;

	while (ms > 0 && !stopping(s)) {
		long slice = ms < 100 ? ms : 100;

		s->inner->sleep_ms(s->inner->ctx, slice);
		ms -= slice;
	}
}

void
notioncli_stoppable(struct notioncli_stoppable *s,
    const struct notion_transport *inner, const bool *finishing,
    struct notion_transport *out)
{
	s->inner = inner;
	s->finishing = finishing;
	out->request = stoppable_request;
	out->now_ms = stoppable_now_ms;
	out->sleep_ms = stoppable_sleep_ms;
	out->ctx = s;
}

void
notioncli_options(const struct notioncli *c, const char *token,
    struct notion_options *o)
{
	notion_options_init(o);
	o->token = token;
	o->api_base = c->env.api_base;
	o->timeout_ms = c->timeout_s * 1000;
	o->deadline_ms = c->deadline_s * 1000;
}

static void
redact(struct buf *b, const struct buf *tok, const struct notion_report *r)
{
	if (tok->len >= 8)
		notion_redact(b, tok->data, tok->len, r->fingerprint);
}

int
notioncli_write(struct buf *out, const struct buf *tok,
    const struct notion_report *r)
{
	redact(out, tok, r);
	if (fwrite(out->data, 1, out->len, stdout) != out->len ||
	    fflush(stdout) == EOF)
		return -1;
	return 0;
}

void
notioncli_step_summary(struct buf *md, const struct buf *tok,
    const struct notion_report *r)
{
	const char *path = env("GITHUB_STEP_SUMMARY");
	FILE *f;

	if (path == NULL)
		return;
	redact(md, tok, r);
	if ((f = fopen(path, "a")) == NULL) {
		log_warn("cannot open GITHUB_STEP_SUMMARY %s: %s", path,
		    strerror(errno));
		return;
	}
	if (fwrite(md->data, 1, md->len, f) != md->len)
		log_warn("cannot write GITHUB_STEP_SUMMARY %s", path);
	if (fclose(f) == EOF)
		log_warn("cannot write GITHUB_STEP_SUMMARY %s: %s", path,
		    strerror(errno));
}
