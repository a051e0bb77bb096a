#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yaml.h>

#include "buf.h"
#include "bug.h"
#include "date.h"
#include "log.h"
#include "sanitize.h"
#include "secretfile.h"
#include "xalloc.h"

#define O(f)	offsetof(struct ops_config, f)
#define KIB	1024LL
#define MIB	(1024LL * 1024)
#define GIB	(1024LL * 1024 * 1024)

/* seconds an overlap may last beyond download_url_ttl_seconds */
#define CONFIG_OVERLAP_MARGIN	3600

/*
 * Every configuration key, once. Keep docs/config.md in step: the spec
 * consistency check compares it with `opsctl config-keys`.
 */
static const struct config_key config_keys[] = {
	{ "database", "url", T_SECRET, O(database.url), 0, 0, NULL, "OPS_DATABASE_URL", NULL },
	{ "database", "migrate_url", T_SECRET, O(database.migrate_url), 0, 0, NULL, "OPS_DATABASE_MIGRATE_URL", NULL },
	{ "database", "fcgi_role", T_STR, O(database.fcgi_role), 0, 0, "ops_fcgi", NULL, NULL },
	{ "database", "jobs_role", T_STR, O(database.jobs_role), 0, 0, "ops_jobs", NULL, NULL },
	{ "database", "connect_timeout_seconds", T_INT, O(database.connect_timeout_seconds), 1, 60, "5", NULL, NULL },
	{ "database", "statement_timeout_ms", T_INT, O(database.statement_timeout_ms), 0, 3600000, "30000", NULL, NULL },
	{ "database", "prepared_statements", T_STR, O(database.prepared_statements), 0, 0, "true", "OPS_DATABASE_PREPARED_STATEMENTS", "true|false" },
	{ "database", "pool_size", T_INT, O(database.pool_size), 1, 256, "8", NULL, NULL },
	{ "database", "pool_wait_ms", T_INT, O(database.pool_wait_ms), 0, 60000, "1000", NULL, NULL },

	{ "fcgi", "socket_path", T_STR, O(fcgi.socket_path), 0, 0, NULL, "OPS_FCGI_SOCKET", NULL },
	{ "fcgi", "listen_address", T_STR, O(fcgi.listen_address), 0, 0, NULL, "OPS_FCGI_LISTEN_ADDRESS", NULL },
	{ "fcgi", "allowed_peers", T_STR, O(fcgi.allowed_peers), 0, 0, NULL, NULL, NULL },
	{ "fcgi", "threads", T_INT, O(fcgi.threads), 1, 256, "16", NULL, NULL },
	{ "fcgi", "poll_lane", T_STR, O(fcgi.poll_lane), 0, 0, "true", NULL, "true|false" },
	{ "fcgi", "backlog", T_INT, O(fcgi.backlog), 1, 65535, "128", NULL, NULL },
	{ "fcgi", "public_base_url", T_STR, O(fcgi.public_base_url), 0, 0, "", "OPS_PUBLIC_BASE_URL", NULL },
	{ "fcgi", "max_body_bytes", T_BYTES, O(fcgi.max_body_bytes), 1024, 16 * MIB, "64KiB", NULL, NULL },

	{ "auth", "jwks_file", T_STR, O(auth.jwks_file), 0, 0, NULL, NULL, NULL },
	{ "auth", "jwks_url", T_STR, O(auth.jwks_url), 0, 0, NULL, NULL, NULL },
	{ "auth", "jwks_ca_file", T_STR, O(auth.jwks_ca_file), 0, 0, NULL, NULL, NULL },
	{ "auth", "jwks_min_refresh_seconds", T_INT, O(auth.jwks_min_refresh_seconds), 1, 3600, "30", NULL, NULL },
	{ "auth", "jwks_max_age_seconds", T_INT, O(auth.jwks_max_age_seconds), 10, 86400, "300", NULL, NULL },
	{ "auth", "jwks_max_stale_seconds", T_INT, O(auth.jwks_max_stale_seconds), 5, 2592000, "86400", NULL, NULL },
	{ "auth", "jwks_cache_path", T_STR, O(auth.jwks_cache_path), 0, 0, NULL, "OPS_JWKS_CACHE_PATH", NULL },
	{ "auth", "hs256_secret", T_SECRET, O(auth.hs256_secret), 0, 0, NULL, "OPS_JWT_HS256_SECRET", NULL },
	{ "auth", "hs256_kid", T_STR, O(auth.hs256_kid), 0, 0, NULL, NULL, NULL },
	{ "auth", "issuer", T_STR, O(auth.issuer), 0, 0, NULL, NULL, NULL },
	{ "auth", "audience", T_STR, O(auth.audience), 0, 0, NULL, NULL, NULL },
	{ "auth", "leeway_seconds", T_INT, O(auth.leeway_seconds), 0, 600, "60", NULL, NULL },
	{ "auth", "max_token_bytes", T_INT, O(auth.max_token_bytes), 256, 65536, "8192", NULL, NULL },
	{ "auth", "max_token_lifetime_seconds", T_INT, O(auth.max_token_lifetime_seconds), 60, 2592000, "86400", NULL, NULL },
	{ "auth", "required_typ", T_STR, O(auth.required_typ), 0, 0, NULL, NULL, NULL },

	{ "export", "max_range_days", T_INT, O(export.max_range_days), 1, 3660, "31", NULL, NULL },
	{ "export", "max_rows", T_LLONG, O(export.max_rows), 1, 1000000000LL, "1000000", NULL, NULL },
	{ "export", "max_rows_cap", T_LLONG, O(export.max_rows_cap), 1, 1000000000LL, "5000000", NULL, NULL },
	{ "export", "max_bytes", T_BYTES, O(export.max_bytes), 1 * KIB, 64 * GIB, "512MiB", NULL, NULL },
	{ "export", "max_bytes_cap", T_BYTES, O(export.max_bytes_cap), 1 * KIB, 64 * GIB, "2GiB", NULL, NULL },
	{ "export", "max_duration_seconds", T_INT, O(export.max_duration_seconds), 1, 86400, "900", NULL, NULL },
	{ "export", "chunk_bytes", T_BYTES, O(export.chunk_bytes), 1 * KIB, 64 * MIB, "1MiB", NULL, NULL },
	{ "export", "gzip_level", T_INT, O(export.gzip_level), 1, 9, "6", NULL, NULL },
	{ "export", "zstd_level", T_INT, O(export.zstd_level), 1, 19, "1", NULL, NULL },
	{ "export", "ttl_hours", T_INT, O(export.ttl_hours), 1, 720, "24", NULL, NULL },
	{ "export", "max_active_per_tenant", T_INT, O(export.max_active_per_tenant), 1, 1000, "2", NULL, NULL },
	{ "export", "max_attempts", T_INT, O(export.max_attempts), 1, 100, "3", NULL, NULL },
	{ "export", "lease_seconds", T_INT, O(export.lease_seconds), 5, 3600, "60", NULL, NULL },
	{ "export", "heartbeat_seconds", T_INT, O(export.heartbeat_seconds), 1, 600, "10", NULL, NULL },
	{ "export", "runner_budget_seconds", T_INT, O(export.runner_budget_seconds), 1, 86400, "840", NULL, NULL },
	{ "export", "retention_days", T_INT, O(export.retention_days), 1, 3650, "30", NULL, NULL },
	{ "export", "cleaner_batch_size", T_INT, O(export.cleaner_batch_size), 1, 100000, "500", NULL, NULL },
	{ "export", "download_secret", T_SECRET, O(export.download_secret), 0, 0, NULL, "OPS_DOWNLOAD_SECRET", NULL },
	{ "export", "download_secret_previous", T_SECRET, O(export.download_secret_previous), 0, 0, NULL, "OPS_DOWNLOAD_SECRET_PREVIOUS", NULL },
	{ "export", "download_secret_verify", T_SECRET, O(export.download_secret_verify), 0, 0, NULL, "OPS_DOWNLOAD_SECRET_VERIFY", NULL },
	{ "export", "download_secret_previous_until", T_STR, O(export.download_secret_previous_until), 0, 0, NULL, NULL, NULL },
	{ "export", "download_url_ttl_seconds", T_INT, O(export.download_url_ttl_seconds), 10, 3600, "300", NULL, NULL },
	{ "export", "poll_retry_after_seconds", T_INT, O(export.poll_retry_after_seconds), 1, 300, "2", NULL, NULL },
	{ "export", "max_downloads_per_identity", T_INT, O(export.max_downloads_per_identity), 1, 1000, "4", NULL, NULL },
	{ "export", "max_downloads_total", T_INT, O(export.max_downloads_total), 1, 100000, "64", NULL, NULL },
	{ "export", "download_spool_dir", T_STR, O(export.download_spool_dir), 0, 0, "/var/spool/ops-download", NULL, NULL },

	{ "locks", "heartbeat_seconds", T_INT, O(locks.heartbeat_seconds), 1, 600, "10", NULL, NULL },
	{ "locks", "stale_after_seconds", T_INT, O(locks.stale_after_seconds), 2, 3600, "30", NULL, NULL },
	{ "locks", "lease_seconds", T_INT, O(locks.lease_seconds), 5, 86400, "300", NULL, NULL },

	{ "events", "retention_days", T_INT, O(events.retention_days), 1, 3650, "90", NULL, NULL },

	{ "webhooks", "allow_private_networks", T_STR, O(webhooks.allow_private_networks), 0, 0, "false", NULL, "true|false" },
	{ "webhooks", "allow_http", T_STR, O(webhooks.allow_http), 0, 0, "false", NULL, "true|false" },
	{ "webhooks", "ca_file", T_STR, O(webhooks.ca_file), 0, 0, NULL, NULL, NULL },
	{ "webhooks", "timeout_seconds", T_INT, O(webhooks.timeout_seconds), 1, 60, "10", NULL, NULL },
	{ "webhooks", "retry_base_seconds", T_INT, O(webhooks.retry_base_seconds), 1, 3600, "30", NULL, NULL },
	{ "webhooks", "retry_max_seconds", T_INT, O(webhooks.retry_max_seconds), 1, 86400, "3600", NULL, NULL },
	{ "webhooks", "give_up_hours", T_INT, O(webhooks.give_up_hours), 1, 168, "24", NULL, NULL },
	{ "webhooks", "lease_seconds", T_INT, O(webhooks.lease_seconds), 15, 3600, "60", NULL, NULL },
	{ "webhooks", "dispatcher_budget_seconds", T_INT, O(webhooks.dispatcher_budget_seconds), 1, 3600, "50", NULL, NULL },
	{ "webhooks", "max_endpoints_per_tenant", T_INT, O(webhooks.max_endpoints_per_tenant), 1, 1000, "20", NULL, NULL },
	{ "webhooks", "retention_days", T_INT, O(webhooks.retention_days), 1, 3650, "30", NULL, NULL },

	{ "sanitizer", "extra_keys", T_STRLIST, O(sanitizer.extra_keys), 0, 0, NULL, NULL, NULL },

	{ "log", "level", T_STR, O(log.level), 0, 0, "info", "OPS_LOG_LEVEL", "debug|info|warn|error" },
	{ "log", "format", T_STR, O(log.format), 0, 0, "json", "OPS_LOG_FORMAT", "json|text" },
};

#define NKEYS	(sizeof(config_keys) / sizeof(config_keys[0]))

static const char *const config_sections[] = {
	"database", "fcgi", "auth", "export", "locks", "events", "webhooks",
	"sanitizer", "log"
};

/*
 * Top-level sections other components own and parse themselves
 * (config_section_load()): config_load() skips them without looking inside.
 */
static const char *const config_foreign_sections[] = { "notion" };

#define NSECTIONS	(sizeof(config_sections) / sizeof(config_sections[0]))
#define NFOREIGN	(sizeof(config_foreign_sections) / \
			    sizeof(config_foreign_sections[0]))
#define MAX_KEYS	128	/* of one table */

/* What one load parses: the core's table, or one component's section. */
struct schema {
	const char *const	*sections;	/* parsed */
	size_t			 nsections;
	const char *const	*skipped;	/* NULL: every other one */
	size_t			 nskipped;
	const struct config_key	*keys;
	size_t			 nkeys;
	int			(*check)(const struct config_key *k,
				    const char *val, char *err, size_t errsz);
	const char *const	*own_env;	/* not applied here */
};

static const struct schema core_schema = {
	config_sections, NSECTIONS, config_foreign_sections, NFOREIGN,
	config_keys, NKEYS, NULL, NULL
};

static bool
env_is_own(const struct schema *sc, const char *name)
{
	for (size_t i = 0; sc->own_env && sc->own_env[i]; i++)
		if (strcmp(sc->own_env[i], name) == 0)
			return true;
	return false;
}

const char *
config_resolve_path(const char *explicit_path)
{
	const char *env;

	if (explicit_path)
		return explicit_path;
	if ((env = getenv("OPS_CONFIG")) != NULL && *env)
		return env;
	return CONFIG_DEFAULT_PATH;
}

static const char *
type_name(enum config_key_type t)
{
	switch (t) {
	case T_STR:	return "string";
	case T_SECRET:	return "secret";
	case T_INT:
	case T_LLONG:	return "integer";
	case T_BYTES:	return "bytes";
	case T_STRLIST:	return "list of strings";
	}
	return "?";
}

int
config_parse_bytes(const char *s, long long *out)
{
	static const struct { const char *sfx; long long mul; } units[] = {
		{ "", 1 }, { "B", 1 }, { "KiB", KIB }, { "MiB", MIB },
		{ "GiB", GIB }
	};
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || errno != 0 || v < 0)
		return -1;
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].sfx) != 0)
			continue;
		if (v > LLONG_MAX / units[i].mul)
			return -1;
		*out = v * units[i].mul;
		return 0;
	}
	return -1;
}

static int
parse_integer(const char *s, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	return (end == s || *end != '\0' || errno != 0) ? -1 : 0;
}

static bool
choice_ok(const char *choices, const char *v)
{
	size_t n = strlen(v);
	const char *p = choices;

	while (*p) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);

		if (len == n && strncmp(p, v, n) == 0)
			return true;
		if (!bar)
			break;
		p = bar + 1;
	}
	return false;
}

/* Free a string value; a secret is overwritten first. */
static void
free_value(const struct config_key *k, char **p)
{
	if (k->type == T_SECRET)
		secret_free(*p);	/* wiped before its memory goes back */
	else
		free(*p);
	*p = NULL;
}

static void
free_strlist(char ***list, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*list)[i]);
	free(*list);
	*list = NULL;
	*n = 0;
}

/*
 * Set one scalar key from its text. quoted tells whether YAML quoted the
 * value (a quoted "5" is a string, not an integer). Returns -1 with a
 * message (without location) in err.
 */
static int
key_set(const struct schema *sc, void *cfg, const struct config_key *k,
    const char *val, bool quoted, char *err, size_t errsz)
{
	char *base = (char *)cfg + k->off;
	long long v;

	switch (k->type) {
	case T_STR:
	case T_SECRET: {
		char **dst = (char **)(void *)base;

		if (k->choices && !choice_ok(k->choices, val)) {
			snprintf(err, errsz, "%s.%s must be one of %s, got \"%s\"",
			    k->section, k->name, k->choices, val);
			return -1;
		}
		if (sc->check && *val && sc->check(k, val, err, errsz) != 0)
			return -1;
		free_value(k, dst);
		if (*val == '\0' && k->def == NULL)
			return 0;	/* empty: unset */
		*dst = xstrdup(val);
		return 0;
	}
	case T_INT:
	case T_LLONG:
	case T_BYTES:
		if (quoted && k->type != T_BYTES) {
			snprintf(err, errsz, "%s.%s must be an integer, got a "
			    "quoted string", k->section, k->name);
			return -1;
		}
		if ((k->type == T_BYTES ? config_parse_bytes(val, &v) :
		    parse_integer(val, &v)) != 0) {
			snprintf(err, errsz, "%s.%s must be %s, got \"%s\"",
			    k->section, k->name, k->type == T_BYTES ?
			    "a byte size such as 1048576 or 1MiB" :
			    "an integer", val);
			return -1;
		}
		if (v < k->min || v > k->max) {
			snprintf(err, errsz, "%s.%s must be between %lld and "
			    "%lld, got %lld", k->section, k->name, k->min,
			    k->max, v);
			return -1;
		}
		if (k->type == T_INT)
			*(int *)(void *)base = (int)v;
		else
			*(long long *)(void *)base = v;
		return 0;
	case T_STRLIST:
		snprintf(err, errsz, "%s.%s must be a list of strings",
		    k->section, k->name);
		return -1;
	}
	return -1;
}

static const struct config_key *
key_find(const struct schema *sc, const char *section, const char *name,
    bool *is_file)
{
	size_t nlen = strlen(name);

	*is_file = false;
	for (size_t i = 0; i < sc->nkeys; i++) {
		const struct config_key *k = &sc->keys[i];

		if (strcmp(k->section, section) != 0)
			continue;
		if (strcmp(k->name, name) == 0)
			return k;
		if (k->type == T_SECRET && nlen == strlen(k->name) + 5 &&
		    strncmp(name, k->name, strlen(k->name)) == 0 &&
		    strcmp(name + strlen(k->name), "_file") == 0) {
			*is_file = true;
			return k;
		}
	}
	return NULL;
}

/* The index of s in list, or -1. */
static int
section_index(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return (int)i;
	return -1;
}

/* The YAML walk: a small state carried through the event loop. */
struct yaml_walk {
	yaml_parser_t	 parser;
	const struct schema *sc;
	const char	*path;
	char		*err;
	size_t		 errsz;
	bool		 seen[MAX_KEYS];
	size_t		 line[MAX_KEYS]; /* where each seen key is, from 1 */
};

static int
walk_error(struct yaml_walk *w, const yaml_event_t *ev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
walk_error(struct yaml_walk *w, const yaml_event_t *ev, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(w->err, w->errsz, "%s:%zu: %s", w->path,
	    ev ? ev->start_mark.line + 1 : w->parser.problem_mark.line + 1, msg);
	return -1;
}

static int
walk_next(struct yaml_walk *w, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&w->parser, ev)) {
		snprintf(w->err, w->errsz, "%s:%zu: invalid YAML: %s", w->path,
		    w->parser.problem_mark.line + 1,
		    w->parser.problem ? w->parser.problem : "parse error");
		return -1;
	}
	if (ev->type == YAML_ALIAS_EVENT) {
		walk_error(w, ev, "anchors and aliases are not supported");
		yaml_event_delete(ev);
		return -1;
	}
	return 0;
}

static const char *
event_kind(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_MAPPING_START_EVENT:	return "a mapping";
	case YAML_SEQUENCE_START_EVENT:	return "a list";
	case YAML_SCALAR_EVENT:		return "a scalar";
	default:			return "something else";
	}
}

static bool
scalar_is_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;

	return ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || *v == '\0');
}

static int
walk_strlist(struct yaml_walk *w, void *cfg, const struct config_key *k)
{
	char ***list = (char ***)(void *)((char *)cfg + k->off);
	/* a T_STRLIST field is always followed by its size_t count */
	size_t *n = (size_t *)(void *)((char *)cfg + k->off + sizeof(char **));
	yaml_event_t ev;

	free_strlist(list, n);
	for (;;) {
		if (walk_next(w, &ev) != 0)
			return -1;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		if (ev.type != YAML_SCALAR_EVENT ||
		    ev.data.scalar.length == 0) {
			walk_error(w, &ev, "%s.%s must be a list of non-empty "
			    "strings", k->section, k->name);
			yaml_event_delete(&ev);
			return -1;
		}
		if (w->sc->keys == config_keys &&
		    k->off == O(sanitizer.extra_keys) &&
		    !sanitize_extra_key_valid((char *)ev.data.scalar.value)) {
			walk_error(w, &ev, "%s.%s: \"%s\" is empty once '_', "
			    "'-' and '.' are removed and would match every "
			    "key; remove it or give a word", k->section,
			    k->name, (char *)ev.data.scalar.value);
			yaml_event_delete(&ev);
			return -1;
		}
		*list = xreallocarray(*list, *n + 1, sizeof(char *));
		(*list)[*n] = xstrdup((char *)ev.data.scalar.value);
		(*n)++;
		yaml_event_delete(&ev);
	}
}

/* Parse one key: value inside a section mapping; ev is the key scalar. */
static int
walk_key(struct yaml_walk *w, void *cfg, const char *section,
    const yaml_event_t *kev)
{
	const char *name = (const char *)kev->data.scalar.value;
	const struct config_key *k;
	char msg[400];
	yaml_event_t ev;
	bool is_file;
	int rc = -1;

	if ((k = key_find(w->sc, section, name, &is_file)) == NULL)
		return walk_error(w, kev, "unknown key %s.%s", section, name);
	if (w->seen[k - w->sc->keys])
		return walk_error(w, kev, "duplicate key %s.%s", section, name);
	w->seen[k - w->sc->keys] = true;
	w->line[k - w->sc->keys] = kev->start_mark.line + 1;
	if (walk_next(w, &ev) != 0)
		return -1;
	if (k->type == T_STRLIST) {
		if (ev.type == YAML_SEQUENCE_START_EVENT)
			rc = walk_strlist(w, cfg, k);
		else
			rc = walk_error(w, &ev, "%s.%s must be a list of "
			    "strings, got %s", section, name, event_kind(&ev));
	} else if (ev.type != YAML_SCALAR_EVENT) {
		rc = walk_error(w, &ev, "%s.%s must be %s %s, got %s", section,
		    name, k->type == T_INT || k->type == T_LLONG ? "an" : "a",
		    type_name(k->type), event_kind(&ev));
	} else if (scalar_is_null(&ev) && (k->type == T_STR ||
	    k->type == T_SECRET)) {
		rc = 0;		/* explicit null: keep the default */
	} else if (is_file) {
		char *secret = secret_file_read(
		    (const char *)ev.data.scalar.value, msg, sizeof(msg));
		char **dst = (char **)(void *)((char *)cfg + k->off);

		if (secret == NULL) {
			rc = walk_error(w, &ev, "%s.%s_file: %s", section,
			    k->name, msg);
		} else {
			free_value(k, dst);
			*dst = secret;
			rc = 0;
		}
	} else if (key_set(w->sc, cfg, k, (const char *)ev.data.scalar.value,
	    ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE, msg,
	    sizeof(msg)) != 0) {
		rc = walk_error(w, &ev, "%s", msg);
	} else {
		rc = 0;
	}
	yaml_event_delete(&ev);
	return rc;
}

static int
walk_section(struct yaml_walk *w, void *cfg, const char *section)
{
	yaml_event_t ev;

	for (;;) {
		if (walk_next(w, &ev) != 0)
			return -1;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		if (ev.type != YAML_SCALAR_EVENT) {
			walk_error(w, &ev, "keys in section %s must be plain "
			    "names", section);
			yaml_event_delete(&ev);
			return -1;
		}
		if (walk_key(w, cfg, section, &ev) != 0) {
			yaml_event_delete(&ev);
			return -1;
		}
		yaml_event_delete(&ev);
	}
}

/* Skip the value of a section another component owns; ev is its first. */
static int
walk_skip(struct yaml_walk *w, yaml_event_t *ev)
{
	size_t depth = 0;

	for (;;) {
		if (ev->type == YAML_MAPPING_START_EVENT ||
		    ev->type == YAML_SEQUENCE_START_EVENT)
			depth++;
		else if (ev->type == YAML_MAPPING_END_EVENT ||
		    ev->type == YAML_SEQUENCE_END_EVENT)
			depth--;
		yaml_event_delete(ev);
		if (depth == 0)
			return 0;
		if (walk_next(w, ev) != 0)
			return -1;
	}
}

/* "database, fcgi, ..., log": the sections the schema parses. */
static void
section_list(const struct schema *sc, char *out, size_t outsz)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < sc->nsections; i++)
		buf_appendf(&b, "%s%s", i ? ", " : "", sc->sections[i]);
	for (size_t i = 0; i < sc->nskipped; i++)
		buf_appendf(&b, ", %s", sc->skipped[i]);
	snprintf(out, outsz, "%s", buf_str(&b));
	buf_free(&b);
}

static int
walk_root(struct yaml_walk *w, void *cfg)
{
	const struct schema *sc = w->sc;
	bool seen_section[NSECTIONS + NFOREIGN];
	yaml_event_t ev;
	int depth_ok = 0, rc = 0;

	memset(seen_section, 0, sizeof(seen_section));
	for (;;) {
		if (walk_next(w, &ev) != 0)
			return -1;
		switch (ev.type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			break;
		case YAML_STREAM_END_EVENT:
			yaml_event_delete(&ev);
			return 0;
		case YAML_MAPPING_START_EVENT:
			if (depth_ok) {
				rc = walk_error(w, &ev, "expected a section name");
				break;
			}
			depth_ok = 1;
			break;
		case YAML_MAPPING_END_EVENT:
			depth_ok = 0;
			break;
		case YAML_SCALAR_EVENT: {
			const char *name = (const char *)ev.data.scalar.value;
			char list[256];
			yaml_event_t sev;
			int si, ki, slot;

			if (!depth_ok) {
				if (scalar_is_null(&ev))
					break;	/* empty document */
				rc = walk_error(w, &ev, "the top level must be "
				    "a mapping of sections");
				break;
			}
			/* slot: ours first, then the ones we skip */
			si = section_index(sc->sections, sc->nsections, name);
			ki = sc->skipped == NULL ? -1 :
			    section_index(sc->skipped, sc->nskipped, name);
			if (si < 0 && sc->skipped != NULL && ki < 0) {
				section_list(sc, list, sizeof(list));
				rc = walk_error(w, &ev, "unknown section %s "
				    "(expected one of %s)", name, list);
				break;
			}
			slot = si >= 0 ? si : ki >= 0 ?
			    (int)sc->nsections + ki : -1;
			if (slot >= 0 && seen_section[slot]) {
				rc = walk_error(w, &ev, "duplicate section %s",
				    name);
				break;
			}
			if (slot >= 0)
				seen_section[slot] = true;
			if (walk_next(w, &sev) != 0) {
				rc = -1;
				break;
			}
			if (si < 0) {	/* another component's */
				rc = walk_skip(w, &sev);
				break;
			}
			if (sev.type == YAML_SCALAR_EVENT && scalar_is_null(&sev)) {
				yaml_event_delete(&sev);	/* empty section */
				break;
			}
			if (sev.type != YAML_MAPPING_START_EVENT) {
				rc = walk_error(w, &sev, "section %s must be a "
				    "mapping, got %s", name, event_kind(&sev));
				yaml_event_delete(&sev);
				break;
			}
			yaml_event_delete(&sev);
			rc = walk_section(w, cfg, name);
			break;
		}
		default:
			rc = walk_error(w, &ev, "the top level must be a "
			    "mapping of sections");
			break;
		}
		yaml_event_delete(&ev);
		if (rc != 0)
			return rc;
	}
}

/*
 * Relations between keys of the file that name the line of the key at fault
 * (no environment variable sets these keys). Public keys mean a real
 * identity provider, which mints tokens for other services too: without
 * issuer and audience checks we would accept those (RFC 8725 3.9).
 */
static int
check_file_relations(struct yaml_walk *w, const struct ops_config *cfg)
{
	const char *name = cfg->auth.jwks_file ? "jwks_file" : "jwks_url";
	size_t jwks = 0;

	while (strcmp(config_keys[jwks].name, name) != 0)
		jwks++;
	if ((cfg->auth.jwks_file != NULL || cfg->auth.jwks_url != NULL) &&
	    (cfg->auth.issuer == NULL || cfg->auth.audience == NULL)) {
		snprintf(w->err, w->errsz, "%s:%zu: auth.%s is set but "
		    "auth.%s is not: set auth.issuer and auth.audience to the "
		    "values the identity provider puts in iss and aud", w->path,
		    w->line[jwks], name, cfg->auth.issuer == NULL ? "issuer" :
		    "audience");
		return -1;
	}
	return 0;
}

static int
apply_env(const struct schema *sc, void *cfg, char *err, size_t errsz)
{
	char name[128], msg[400];

	for (size_t i = 0; i < sc->nkeys; i++) {
		const struct config_key *k = &sc->keys[i];
		const char *v;

		if (k->env == NULL || env_is_own(sc, k->env))
			continue;
		if ((v = getenv(k->env)) != NULL && *v) {
			if (key_set(sc, cfg, k, v, false, msg, sizeof(msg)) !=
			    0) {
				snprintf(err, errsz, "environment %s: %s",
				    k->env, msg);
				return -1;
			}
			continue;
		}
		snprintf(name, sizeof(name), "%s_FILE", k->env);
		if (k->type == T_SECRET && (v = getenv(name)) != NULL && *v) {
			char **dst = (char **)(void *)((char *)cfg + k->off);
			char *secret = secret_file_read(v, msg, sizeof(msg));

			if (secret == NULL) {
				snprintf(err, errsz, "environment %s: %s", name,
				    msg);
				return -1;
			}
			free_value(k, dst);
			*dst = secret;
		}
	}
	return 0;
}

static int	download_verify_check(const struct ops_config *,
		    const char *, char *, size_t);

static int
check_relations(const struct ops_config *cfg, const char *where, char *err,
    size_t errsz)
{
	if (cfg->export.max_rows > cfg->export.max_rows_cap) {
		snprintf(err, errsz, "%s: export.max_rows (%lld) must not exceed "
		    "export.max_rows_cap (%lld)", where, cfg->export.max_rows,
		    cfg->export.max_rows_cap);
		return -1;
	}
	if (cfg->export.max_bytes > cfg->export.max_bytes_cap) {
		snprintf(err, errsz, "%s: export.max_bytes (%lld) must not "
		    "exceed export.max_bytes_cap (%lld)", where,
		    cfg->export.max_bytes, cfg->export.max_bytes_cap);
		return -1;
	}
	if (cfg->export.heartbeat_seconds * 2 > cfg->export.lease_seconds) {
		snprintf(err, errsz, "%s: export.heartbeat_seconds (%d) must be "
		    "at most half of export.lease_seconds (%d)", where,
		    cfg->export.heartbeat_seconds, cfg->export.lease_seconds);
		return -1;
	}
	if (cfg->locks.heartbeat_seconds >= cfg->locks.stale_after_seconds ||
	    cfg->locks.stale_after_seconds > cfg->locks.lease_seconds) {
		snprintf(err, errsz, "%s: locks need heartbeat_seconds (%d) < "
		    "stale_after_seconds (%d) <= lease_seconds (%d)", where,
		    cfg->locks.heartbeat_seconds,
		    cfg->locks.stale_after_seconds, cfg->locks.lease_seconds);
		return -1;
	}
	return 0;
}

static void
apply_defaults(const struct schema *sc, void *cfg)
{
	char msg[256];

	for (size_t i = 0; i < sc->nkeys; i++)
		if (sc->keys[i].def != NULL &&
		    key_set(sc, cfg, &sc->keys[i], sc->keys[i].def, false,
		    msg, sizeof(msg)) != 0)
			BUG("the default of %s.%s is out of its own range: %s",
			    config_keys[i].section, config_keys[i].name, msg);
}

static void
schema_free(const struct schema *sc, void *cfg)
{
	for (size_t i = 0; i < sc->nkeys; i++) {
		const struct config_key *k = &sc->keys[i];

		if (k->type == T_STR || k->type == T_SECRET)
			free_value(k, (char **)(void *)((char *)cfg + k->off));
	}
}

/*
 * Defaults, then the file's sections of sc, then the environment. file
 * relations are checked with the walk (they name lines) when file_check is
 * given. 0, or -1 with err and cfg's strings freed.
 */
static int
schema_load(const struct schema *sc, void *cfg, const char *path,
    int (*file_check)(struct yaml_walk *, const void *), char *err,
    size_t errsz)
{
	struct yaml_walk w;
	FILE *f = NULL;
	int rc = 0;

	if (sc->nkeys > MAX_KEYS)
		abort();	/* raise MAX_KEYS */
	apply_defaults(sc, cfg);
	if (path != NULL) {
		if ((f = fopen(path, "re")) == NULL) {
			snprintf(err, errsz, "%s: cannot open: %s", path,
			    strerror(errno));
			schema_free(sc, cfg);
			return -1;
		}
		memset(&w, 0, sizeof(w));
		w.sc = sc;
		w.path = path;
		w.err = err;
		w.errsz = errsz;
		if (!yaml_parser_initialize(&w.parser))
			BUG("yaml_parser_initialize failed (out of memory)");
		yaml_parser_set_input_file(&w.parser, f);
		rc = walk_root(&w, cfg);
		if (rc == 0 && file_check != NULL)
			rc = file_check(&w, cfg);
		yaml_parser_delete(&w.parser);
		fclose(f);
	}
	if (rc == 0)
		rc = apply_env(sc, cfg, err, errsz);
	if (rc != 0)
		schema_free(sc, cfg);
	return rc;
}

static int
core_file_check(struct yaml_walk *w, const void *cfg)
{
	return check_file_relations(w, cfg);
}

int
config_load(struct ops_config *cfg, const char *path, char *err, size_t errsz)
{
	memset(cfg, 0, sizeof(*cfg));
	if (schema_load(&core_schema, cfg, path, core_file_check, err,
	    errsz) != 0) {
		config_free(cfg);
		return -1;
	}
	if (path != NULL)
		cfg->path = xstrdup(path);
	if (check_relations(cfg, path ? path : "config", err, errsz) != 0) {
		config_free(cfg);
		return -1;
	}
	return 0;
}

int
config_section_load(const struct config_section *s, void *base,
    const char *path, char *err, size_t errsz)
{
	const char *const names[] = { s->name };
	struct schema sc = {
		names, 1, NULL, 0, s->keys, s->nkeys, s->check, s->own_env
	};

	return schema_load(&sc, base, path, NULL, err, errsz);
}

void
config_section_free(const struct config_section *s, void *base)
{
	const char *const names[] = { s->name };
	struct schema sc = {
		names, 1, NULL, 0, s->keys, s->nkeys, s->check, s->own_env
	};

	schema_free(&sc, base);
}

int
config_require(const struct ops_config *cfg, int need, char *err, size_t errsz)
{
	const char *where = cfg->path ? cfg->path : "config";

	if ((need & CONFIG_NEED_DATABASE) && cfg->database.url == NULL) {
		snprintf(err, errsz, "%s: database.url is not set (set it, "
		    "database.url_file, or OPS_DATABASE_URL)", where);
		return -1;
	}
	if ((need & CONFIG_NEED_AUTH) && cfg->auth.jwks_file == NULL &&
	    cfg->auth.jwks_url == NULL && cfg->auth.hs256_secret == NULL) {
		snprintf(err, errsz, "%s: no token verification key: set "
		    "auth.jwks_file, auth.jwks_url or auth.hs256_secret", where);
		return -1;
	}
	if ((need & CONFIG_NEED_AUTH) && cfg->auth.hs256_secret != NULL &&
	    strlen(cfg->auth.hs256_secret) < 32) {
		snprintf(err, errsz, "%s: auth.hs256_secret must be at least 32 "
		    "bytes long", where);
		return -1;
	}
	if ((need & CONFIG_NEED_FCGI) && cfg->export.download_secret != NULL &&
	    strlen(cfg->export.download_secret) < 32) {
		snprintf(err, errsz, "%s: export.download_secret must be at "
		    "least 32 bytes long", where);
		return -1;
	}
	if ((need & CONFIG_NEED_FCGI) &&
	    cfg->export.download_secret_previous != NULL) {
		int64_t us;

		if (cfg->export.download_secret == NULL ||
		    strlen(cfg->export.download_secret_previous) < 32) {
			snprintf(err, errsz, "%s: export.download_secret_previous "
			    "needs export.download_secret and at least 32 bytes",
			    where);
			return -1;
		}
		if (cfg->export.download_secret_previous_until == NULL ||
		    date_parse_rfc3339(cfg->export.download_secret_previous_until,
		    &us) != 0) {
			snprintf(err, errsz, "%s: export.download_secret_previous "
			    "needs export.download_secret_previous_until, an RFC "
			    "3339 time (e.g. 2026-11-28T12:05:00Z): the end of the "
			    "overlap, at least download_url_ttl_seconds after the "
			    "rotation", where);
			return -1;
		}
		/*
		 * An overlap is the URL TTL plus the time to roll the new
		 * secret out to every host: more than CONFIG_OVERLAP_MARGIN
		 * beyond the TTL is a rotation nobody will finish (2099).
		 */
		if (us / DATE_US_PER_SEC > (int64_t)time(NULL) +
		    cfg->export.download_url_ttl_seconds +
		    CONFIG_OVERLAP_MARGIN) {
			snprintf(err, errsz, "%s: export.download_secret_previous"
			    "_until %s is more than download_url_ttl_seconds + "
			    "%d s from now: set it to the end of the overlap "
			    "(the last host's switch + download_url_ttl_seconds),"
			    " or keep the old secret in export."
			    "download_secret_verify until it is retired", where,
			    cfg->export.download_secret_previous_until,
			    CONFIG_OVERLAP_MARGIN);
			return -1;
		}
	}
	if ((need & CONFIG_NEED_FCGI) &&
	    download_verify_check(cfg, where, err, errsz) != 0)
		return -1;
	if ((need & CONFIG_NEED_FCGI) && cfg->fcgi.socket_path != NULL &&
	    cfg->fcgi.listen_address != NULL) {
		snprintf(err, errsz, "%s: fcgi.socket_path and "
		    "fcgi.listen_address are both set: set one", where);
		return -1;
	}
	if ((need & CONFIG_NEED_FCGI) && cfg->fcgi.allowed_peers != NULL &&
	    cfg->fcgi.listen_address == NULL) {
		snprintf(err, errsz, "%s: fcgi.allowed_peers is set but "
		    "fcgi.listen_address is not: it checks TCP peers only",
		    where);
		return -1;
	}
	return 0;
}

/*
 * export.download_secret_verify: verify-only secrets, one per line; blank
 * lines are skipped, so an empty credential file means none.
 */
static int
download_verify_check(const struct ops_config *cfg, const char *where,
    char *err, size_t errsz)
{
	const char *p = cfg->export.download_secret_verify;
	size_t n = 0;

	while (p != NULL && *p) {
		size_t len = strcspn(p, "\n");
		size_t klen = len > 0 && p[len - 1] == '\r' ? len - 1 : len;

		n++;
		if (klen > 0 && klen < 32) {
			snprintf(err, errsz, "%s: export.download_secret_verify:"
			    " line %zu is shorter than 32 bytes (one secret per "
			    "line)", where, n);
			return -1;
		}
		if (klen > 0 && cfg->export.download_secret == NULL) {
			snprintf(err, errsz, "%s: export.download_secret_verify"
			    " needs export.download_secret (the secret that "
			    "signs)", where);
			return -1;
		}
		p += len;
		if (*p == '\n')
			p++;
	}
	return 0;
}

void
config_free(struct ops_config *cfg)
{
	schema_free(&core_schema, cfg);
	free_strlist(&cfg->sanitizer.extra_keys, &cfg->sanitizer.n_extra_keys);
	free(cfg->path);
	cfg->path = NULL;
}

static void
print_keys(FILE *out, const struct config_key *keys, size_t nkeys)
{
	for (size_t i = 0; i < nkeys; i++) {
		const struct config_key *k = &keys[i];
		char range[64] = "-";

		if (k->type == T_INT || k->type == T_LLONG || k->type == T_BYTES)
			snprintf(range, sizeof(range), "%lld..%lld", k->min,
			    k->max);
		else if (k->choices)
			snprintf(range, sizeof(range), "%s", k->choices);
		fprintf(out, "%s.%s\t%s\t%s\t%s\t%s\n", k->section, k->name,
		    type_name(k->type), k->def ? (*k->def ? k->def : "\"\"") :
		    "-", range, k->env ? k->env : "-");
	}
}

void
config_print_keys(FILE *out)
{
	print_keys(out, config_keys, NKEYS);
}

void
config_section_print_keys(const struct config_section *s, FILE *out)
{
	print_keys(out, s->keys, s->nkeys);
}

struct sanitize_rules *
sanitize_rules_from_config(const struct ops_config *cfg)
{
	struct sanitize_rules *r;

	r = sanitize_rules_new((const char *const *)cfg->sanitizer.extra_keys,
	    cfg->sanitizer.n_extra_keys);
	if (r == NULL)
		log_error("cannot build the sanitizer rules: an entry of "
		    "sanitizer.extra_keys is empty once '_', '-' and '.' are "
		    "removed; fix the key in %s", cfg->path ? cfg->path :
		    "the configuration");
	return r;
}
