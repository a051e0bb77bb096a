/*
 * settings: what the preflight and the sync are told, read once into one
 * struct notion_settings: the notion: section of the ops config file (when
 * there is one; the core's config_load() skips that section) under the
 * NOTION_* environment of contract section 7, with the core's key-table
 * loader (lib/config.h, config_section_load()) and its file:line errors.
 * Nothing is written back into the environment. See notion.h.
 */
#include "notion_int.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "secretfile.h"

/* The section as the loader fills it; turned into notion_settings. */
struct raw {
	char	*api_base;
	char	*version;
	char	*targets;
	char	*token;		/* secret: wiped when freed */
	char	*token_issued_at;
	int	 token_rotate_days;
	int	 token_warn_days;
};

#define R(f)	offsetof(struct raw, f)

/* Every key of the notion: section, once (docs/config.md, "notion"). */
static const struct config_key keys[] = {
	{ "notion", "api_base", T_STR, R(api_base), 0, 0, NOTION_DEFAULT_API_BASE, "NOTION_API_BASE", NULL },
	{ "notion", "version", T_STR, R(version), 0, 0, NOTION_DEFAULT_VERSION, "NOTION_VERSION", NULL },
	{ "notion", "targets", T_STR, R(targets), 0, 0, NULL, "NOTION_PREFLIGHT_TARGETS", NULL },
	{ "notion", "token", T_SECRET, R(token), 0, 0, NULL, "NOTION_TOKEN", NULL },
	{ "notion", "token_issued_at", T_STR, R(token_issued_at), 0, 0, NULL, "NOTION_TOKEN_ISSUED_AT", NULL },
	{ "notion", "token_rotate_days", T_INT, R(token_rotate_days), 0, 3650, "0", "NOTION_TOKEN_ROTATE_DAYS", NULL },
	{ "notion", "token_warn_days", T_INT, R(token_warn_days), 0, 3650, "14", "NOTION_TOKEN_WARN_DAYS", NULL },
};

/*
 * NOTION_TOKEN and NOTION_TOKEN_FILE are read by load_token(): an empty
 * NOTION_TOKEN is a malformed token and an unreadable NOTION_TOKEN_FILE a
 * missing one (findings, exit 11 / 10), not configuration errors.
 */
static const char *const own_env[] = { "NOTION_TOKEN", NULL };

/* The values a file or the environment gives, checked where they are. */
static int
check_value(const struct config_key *k, const char *val, char *err,
    size_t errsz)
{
	struct notion_target t[NOTION_MAX_TARGETS];
	char msg[300], out[512];
	size_t n;
	time_t when;

	msg[0] = '\0';
	if (k->off == R(api_base)) {
		if (notion_api_base_check(val, out, sizeof(out), msg,
		    sizeof(msg)) == 0)
			return 0;
	} else if (k->off == R(version)) {
		if (notion_version_check(val) == 0)
			return 0;
		snprintf(msg, sizeof(msg), "must look like 2022-06-28, got "
		    "\"%.32s\"", val);
	} else if (k->off == R(targets)) {
		if (notion_targets_parse(val, t, NOTION_MAX_TARGETS, &n, msg,
		    sizeof(msg)) == 0)
			return 0;
	} else if (k->off == R(token_issued_at)) {
		if (notion_parse_time(val, &when) == 0)
			return 0;
		snprintf(msg, sizeof(msg), "must be YYYY-MM-DD or RFC 3339, "
		    "got \"%.40s\"", val);
	} else {
		return 0;
	}
	snprintf(err, errsz, "%s.%s: %s", k->section, k->name, msg);
	return -1;
}

static const struct config_section section = {
	"notion", keys, sizeof(keys) / sizeof(keys[0]), check_value, own_env
};

/* An environment variable, NULL when unset or empty. */
static const char *
env_get(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

enum notion_code
notion_token_load(const char *env_token, const char *file, struct buf *out,
    char *why, size_t whysz)
{
	buf_reset(out);
	if (env_token != NULL) {
		buf_appends(out, env_token);
	} else if (file != NULL && *file) {
		char err[300], *tok = secret_file_read(file, err, sizeof(err));

		if (tok == NULL) {
			snprintf(why, whysz, "NOTION_TOKEN_FILE: %s", err);
			return NOTION_AUTH_MISSING;
		}
		buf_appends(out, tok);
		explicit_bzero(tok, strlen(tok));
		free(tok);
	} else {
		snprintf(why, whysz, "neither NOTION_TOKEN nor "
		    "NOTION_TOKEN_FILE is set in the job's environment");
		return NOTION_AUTH_MISSING;
	}
	return notion_token_check(buf_str(out), out->len, why, whysz);
}

/*
 * The token: NOTION_TOKEN (as is, even empty), else NOTION_TOKEN_FILE,
 * else the file's notion.token / notion.token_file. A problem with it is
 * kept for the run's report (token_code, token_why). -1: both variables.
 */
static int
load_token(struct notion_settings *s, const struct raw *r, char *err,
    size_t errsz)
{
	const char *tok = getenv("NOTION_TOKEN");
	const char *file = env_get("NOTION_TOKEN_FILE");

	if (tok != NULL && file != NULL) {
		snprintf(err, errsz, "set NOTION_TOKEN or NOTION_TOKEN_FILE, "
		    "not both");
		return -1;
	}
	if (tok == NULL && file == NULL && r->token == NULL) {
		s->token_code = NOTION_AUTH_MISSING;
		snprintf(s->token_why, sizeof(s->token_why), "no token: set "
		    "NOTION_TOKEN or NOTION_TOKEN_FILE in the job's environment, "
		    "or notion.token_file in the config file");
		return 0;
	}
	s->token_code = notion_token_load(tok != NULL || file != NULL ? tok :
	    r->token, file, &s->token, s->token_why, sizeof(s->token_why));
	return 0;
}

/* Relations between keys, and the raw values into s. */
static int
settle(struct notion_settings *s, const struct raw *r, const char *where,
    time_t now, char *err, size_t errsz)
{
	char msg[256];

	/* each value passed check_value() already */
	if (notion_api_base_check(r->api_base, s->api_base,
	    sizeof(s->api_base), msg, sizeof(msg)) == -1 ||
	    notion_targets_parse(r->targets, s->targets, NOTION_MAX_TARGETS,
	    &s->ntargets, msg, sizeof(msg)) == -1) {
		snprintf(err, errsz, "%s: notion: %s", where, msg);
		return -1;
	}
	snprintf(s->version, sizeof(s->version), "%s", r->version);
	s->warn_days = r->token_warn_days;
	if ((r->token_issued_at == NULL) != (r->token_rotate_days == 0)) {
		snprintf(err, errsz, "%s: set both notion.token_issued_at "
		    "(NOTION_TOKEN_ISSUED_AT) and notion.token_rotate_days "
		    "(NOTION_TOKEN_ROTATE_DAYS), or neither", where);
		return -1;
	}
	if (r->token_issued_at == NULL)
		return 0;
	if (notion_parse_time(r->token_issued_at, &s->issued) == -1 ||
	    s->issued > now + DAY) {
		snprintf(err, errsz, "%s: notion.token_issued_at "
		    "(NOTION_TOKEN_ISSUED_AT) %.40s is in the future: fix the "
		    "date", where, r->token_issued_at);
		return -1;
	}
	s->rotation = 1;
	s->rotate_days = r->token_rotate_days;
	return 0;
}

int
notion_settings_load(struct notion_settings *s, const char *path,
    time_t now, char *err, size_t errsz)
{
	struct raw r;
	int rc;

	memset(s, 0, sizeof(*s));
	buf_init(&s->token);
	memset(&r, 0, sizeof(r));
	if (config_section_load(&section, &r, path, err, errsz) == -1)
		return -1;
	rc = settle(s, &r, path ? path : "environment", now, err, errsz);
	if (rc == 0)
		rc = load_token(s, &r, err, errsz);
	config_section_free(&section, &r);
	if (rc != 0)
		notion_settings_free(s);
	return rc;
}

void
notion_settings_free(struct notion_settings *s)
{
	if (s->token.data)
		explicit_bzero(s->token.data, s->token.cap);
	buf_free(&s->token);
}

void
notion_settings_print_keys(FILE *out)
{
	config_section_print_keys(&section, out);
}
