/*
 * cli: what the two Notion binaries' mains share. See cli.h.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "stop.h"

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

/* One option (jobcli's on_option): 0, 1 (the run is over) or -1. */
static int
on_option(int opt, const char *arg, void *ctx)
{
	struct notioncli *c = ctx;

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
	case NOTIONCLI_O_LIST:
		list_codes();
		return 1;
	case NOTIONCLI_O_KEYS:
		notion_settings_print_keys(stdout);
		return 1;
	case NOTIONCLI_O_CHECK:
		c->check_config = 1;
		return 0;
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
		{ "list-codes", no_argument, NULL, NOTIONCLI_O_LIST },
		{ "config-keys", no_argument, NULL, NOTIONCLI_O_KEYS },
		{ "check-config", no_argument, NULL, NOTIONCLI_O_CHECK },
	};
	size_t n = 0;

	for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]); i++)
		c->opts[n++] = shared[i];
	for (size_t i = 0; c->own && c->own[i].name &&
	    n < NOTIONCLI_MAX_OPTIONS - 1; i++)
		c->opts[n++] = c->own[i];
	memset(&c->opts[n], 0, sizeof(c->opts[n]));

	memset(&c->job, 0, sizeof(c->job));
	c->job.binary = c->prog;
	c->job.summary = c->summary;
	c->job.extra_usage = c->usage;
	c->job.epilog = c->epilog;
	c->job.config_optional = 1;
	c->job.extra = c->opts;
	c->job.on_option = on_option;
	c->job.ctx = c;
	return jobcli_parse(&c->job, argc, argv);
}

int
notioncli_settings(struct notioncli *c, time_t now, struct ops_config *cfg)
{
	struct ops_config own;
	char err[512];

	/* the whole file: the core's sections as the core reads them */
	if (c->job.config_path != NULL) {
		if (config_load(&own, c->job.config_path, err,
		    sizeof(err)) != 0)
			return notioncli_error(c, "config %s", err);
		if (cfg != NULL && !c->check_config) {
			*cfg = own;
			c->have_config = 1;
		} else {
			config_free(&own);
		}
	}
	if (notion_settings_load(&c->settings, c->job.config_path, now, err,
	    sizeof(err)) == -1) {
		if (c->have_config)
			config_free(cfg);
		c->have_config = 0;
		return notioncli_error(c, "%s", err);
	}
	if (!c->check_config)
		return 0;
	printf("%s: the settings are valid (%s and the environment)\n",
	    c->prog, c->job.config_path ? c->job.config_path : "no file");
	notioncli_free(c);
	return 1;
}

void
notioncli_free(struct notioncli *c)
{
	notion_settings_free(&c->settings);
}

enum notion_code
notioncli_token(struct notioncli *c, struct notion_report *r)
{
	const struct notion_settings *s = &c->settings;

	if (s->token.len > 0)
		notion_fingerprint(s->token.data, s->token.len, r->fingerprint,
		    sizeof(r->fingerprint));
	if (s->token_code != NOTION_OK)
		notion_report_add(r, s->token_code, 0, NULL, NULL, "%s",
		    s->token_why);
	return s->token_code;
}

struct notion_curl *
notioncli_curl(const struct notioncli *c, struct notion_report *r,
    struct notion_transport *t)
{
	struct notion_curl *curl;
	char agent[128], err[256];

	snprintf(agent, sizeof(agent), "%s/%s", c->prog, OPS_VERSION);
	curl = notion_curl_new(c->cacert, c->settings.version, agent, err,
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
notioncli_options(const struct notioncli *c, struct notion_options *o)
{
	notion_options_init(o);
	o->token = buf_str(&c->settings.token);
	o->api_base = c->settings.api_base;
	o->timeout_ms = c->timeout_s * 1000;
	o->deadline_ms = c->deadline_s * 1000;
}

static void
redact(struct buf *b, const struct notioncli *c, const struct notion_report *r)
{
	const struct buf *tok = &c->settings.token;

	if (tok->len >= 8)
		notion_redact(b, tok->data, tok->len, r->fingerprint);
}

int
notioncli_write(const struct notioncli *c, struct buf *out,
    const struct notion_report *r)
{
	redact(out, c, r);
	if (fwrite(out->data, 1, out->len, stdout) != out->len ||
	    fflush(stdout) == EOF)
		return -1;
	return 0;
}

void
notioncli_step_summary(const struct notioncli *c, struct buf *md,
    const struct notion_report *r)
{
	const char *path = getenv("GITHUB_STEP_SUMMARY");
	FILE *f;

	if (path == NULL || *path == '\0')
		return;
	redact(md, c, r);
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
