/*
 * config: the one YAML configuration file, parsed into a typed struct.
 *
 * The file has fixed sections (database, fcgi, auth, export, locks, events,
 * sanitizer, log). Every key is described once, in the table in config.c;
 * that table drives parsing, defaults, range checks, environment overrides,
 * `opsctl config-keys` and the documentation check.
 *
 * Another component may keep its settings in the same file under a
 * top-level section of its own (notion: is the Notion component's,
 * notion/settings.c): config_load() skips such a section without looking
 * inside, and the component parses it with config_section_load() and a key
 * table of its own, with the same rules and file:line errors.
 *
 * Errors name file:line and what was expected:
 *   ops.yaml:14: export.ttl_hours must be between 1 and 720, got 0
 *
 * Secrets (database.url, database.migrate_url, auth.hs256_secret,
 * export.download_secret, ...) may also be given as KEY_file: a path whose
 * content is the secret (one trailing newline stripped). Environment
 * variables override the file (see config_key.env); ENV_FILE works the same
 * way for secrets. A secret's memory is overwritten when it is freed.
 *
 * Ownership: config_load() fills a struct ops_config whose strings are owned
 * by it; config_free() releases them. A loaded config is immutable and may be
 * shared by threads.
 */
#ifndef OPS_CONFIG_H
#define OPS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CONFIG_DEFAULT_PATH "/etc/ops/ops.yaml"

struct ops_config {
	char	*path;			/* the file loaded, or NULL */

	struct {
		char	*url;		/* secret: libpq URL */
		char	*migrate_url;	/* secret: direct, owner; NULL = url */
		char	*fcgi_role;	/* role of ops-fcgi */
		char	*jobs_role;	/* role of the job binaries, opsctl */
		int	 connect_timeout_seconds;
		int	 statement_timeout_ms;
		char	*prepared_statements;	/* "true" | "false" */
		int	 pool_size;	/* ops-fcgi's sessions */
		int	 pool_wait_ms;	/* for a session, then 503 */
	} database;

	struct {
		char	*socket_path;	/* NULL: inherit fd 0 */
		char	*listen_address;	/* TCP "ADDR:PORT" instead */
		char	*allowed_peers;	/* IPv4 "A,B": FCGI_WEB_SERVER_ADDRS */
		int	 threads;
		char	*poll_lane;	/* "true" | "false": fcgi/lane.h */
		int	 backlog;
		char	*public_base_url;	/* for download_url */
		long long max_body_bytes;
	} fcgi;

	struct {
		char	*jwks_file;
		char	*jwks_url;	/* https:// */
		char	*jwks_ca_file;
		int	 jwks_min_refresh_seconds;
		int	 jwks_max_age_seconds;
		int	 jwks_max_stale_seconds;	/* trust fetched keys this long */
		char	*jwks_cache_path;	/* last good JWKS; NULL: see jwks.h */
		char	*hs256_secret;	/* secret */
		char	*hs256_kid;
		char	*issuer;
		char	*audience;
		int	 leeway_seconds;
		int	 max_token_bytes;
		int	 max_token_lifetime_seconds;
		char	*required_typ;
	} auth;

	struct {
		int	 max_range_days;
		long long max_rows;
		long long max_rows_cap;
		long long max_bytes;
		long long max_bytes_cap;
		int	 max_duration_seconds;
		long long chunk_bytes;
		int	 gzip_level;	/* compression "gzip" (1..9) */
		int	 zstd_level;	/* compression "zstd" (1..19) */
		int	 ttl_hours;
		int	 max_active_per_tenant;
		int	 max_attempts;
		int	 lease_seconds;
		int	 heartbeat_seconds;
		int	 runner_budget_seconds;
		int	 retention_days;
		int	 cleaner_batch_size;
		char	*download_secret;	/* secret: HMAC key for download_url */
		char	*download_secret_previous;	/* secret: also accepted */
		char	*download_secret_previous_until;	/* RFC 3339 */
		/* secret: verify-only secrets, one per line ("" = none) */
		char	*download_secret_verify;
		int	 download_url_ttl_seconds;
		int	 poll_retry_after_seconds;
		/* enforced by nginx (limit_conn), see docs/export.md */
		int	 max_downloads_per_identity;
		int	 max_downloads_total;
		/* nginx's fastcgi_temp_path for downloads: /metrics reports
		 * its free space */
		char	*download_spool_dir;
	} export;

	struct {
		int	 heartbeat_seconds;
		int	 stale_after_seconds;
		int	 lease_seconds;
	} locks;

	struct {
		int	 retention_days;	/* ops_event rows older are purged */
	} events;

	struct {				/* docs/webhooks.md */
		char	*allow_private_networks;	/* "true" | "false" */
		char	*allow_http;			/* "true" | "false" */
		char	*ca_file;	/* NULL: the system's CAs */
		int	 timeout_seconds;
		int	 retry_base_seconds;
		int	 retry_max_seconds;
		int	 give_up_hours;
		int	 lease_seconds;
		int	 dispatcher_budget_seconds;
		int	 max_endpoints_per_tenant;
		int	 retention_days;	/* DELIVERED rows older: purged */
	} webhooks;

	struct {
		char	**extra_keys;
		size_t	  n_extra_keys;
	} sanitizer;

	struct {
		char	*level;
		char	*format;
	} log;
};

/*
 * Resolve the config path: explicit (from --config) if not NULL, else
 * $OPS_CONFIG, else CONFIG_DEFAULT_PATH. Returns a pointer to one of those;
 * not allocated.
 */
const char *config_resolve_path(const char *explicit_path);

/*
 * Load path (may be NULL: defaults and environment only). On error returns
 * -1 with one line in err ("ops.yaml:14: ...") and cfg freed. On success
 * returns 0; free with config_free().
 */
int	config_load(struct ops_config *cfg, const char *path, char *err,
	    size_t errsz);
void	config_free(struct ops_config *cfg);

/*
 * Check what a binary needs beyond syntax (for example database.url set).
 * need is a bitmask of CONFIG_NEED_*. Returns 0 or -1 with err filled.
 */
#define CONFIG_NEED_DATABASE	0x1
#define CONFIG_NEED_AUTH	0x2
#define CONFIG_NEED_FCGI	0x4
int	config_require(const struct ops_config *cfg, int need, char *err,
	    size_t errsz);

/*
 * Print every key as "section.key<TAB>type<TAB>default<TAB>range<TAB>env"
 * (used by `opsctl config-keys` and the spec consistency check).
 */
void	config_print_keys(FILE *out);

/*
 * A key table: how config_load() describes its own keys, and how a
 * component describes the keys of its section (config_section_load()).
 */
enum config_key_type {
	T_STR,		/* plain string */
	T_SECRET,	/* string; also KEY_file; never printed; wiped */
	T_INT,		/* int within [min, max] */
	T_LLONG,	/* long long within [min, max] */
	T_BYTES,	/* long long, accepts KiB/MiB/GiB suffixes */
	T_STRLIST	/* sequence of strings */
};

struct config_key {
	const char		*section;
	const char		*name;
	enum config_key_type	 type;
	size_t			 off;	/* of the field in the struct */
	long long		 min, max;
	const char		*def;	/* default, parsed like a file value */
	const char		*env;	/* environment override, or NULL */
	const char		*choices;	/* "a|b|c" for enumerated strings */
};

/*
 * One top-level section another component owns (notion:). check, if not
 * NULL, is called for every non-empty string value (default, file,
 * environment) and returns -1 with a message without location, which the
 * loader then prefixes with file:line or the environment variable.
 * own_env (NULL-terminated, or NULL) names environment variables the
 * component reads itself, with rules of its own: config_section_load()
 * leaves them (and their _FILE forms) alone; they are still printed.
 */
struct config_section {
	const char		*name;
	const struct config_key	*keys;
	size_t			 nkeys;
	int			(*check)(const struct config_key *k,
				    const char *val, char *err, size_t errsz);
	const char *const	*own_env;
};

/*
 * Load section s of the file at path (NULL: defaults and environment only)
 * into the struct at base, which the caller has zeroed: defaults, then the
 * file's s->name: section (every other section is skipped: config_load()
 * checks those), then each key's environment variable (and ENV_FILE for a
 * secret). The rules and errors are config_load()'s. Returns 0, or -1 with
 * one line in err and base's strings freed. Free with config_section_free().
 */
int	config_section_load(const struct config_section *s, void *base,
	    const char *path, char *err, size_t errsz);
void	config_section_free(const struct config_section *s, void *base);
/* config_print_keys() for the keys of s. */
void	config_section_print_keys(const struct config_section *s, FILE *out);

/* Parse "512", "512KiB", "512 MiB", "2GiB" into bytes; -1 on error. */
int	config_parse_bytes(const char *s, long long *out);

/*
 * The one place a binary builds its sanitizer rules: sanitize_rules_new()
 * over cfg->sanitizer.extra_keys. Returns NULL after logging an error when
 * the keys are invalid; every caller must check and stop. (Here, not in
 * sanitize.c: the config sits above the sanitizer, never the reverse.)
 */
struct sanitize_rules;
struct sanitize_rules *sanitize_rules_from_config(const struct ops_config *cfg);

#endif
