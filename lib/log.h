/*
 * log: one JSON object per line on stderr (journald reads it as is).
 *
 *   {"ts":"2026-11-26T02:13:00.123Z","level":"error","binary":"ops-fcgi",
 *    "request_id":"3f2a...","msg":"database query failed: ..."}
 *
 * log_init() is called once from main() before any thread starts; after that
 * the settings are read-only, so logging is thread-safe (each line is emitted
 * with a single write(2)). Before log_init() the defaults are binary "ops",
 * level info, JSON format.
 *
 * The text format ("TS BINARY LEVEL: [key=val] msg") writes control
 * characters of key, val and msg as \xHH and a backslash as \\, so one
 * call is always exactly one line, whatever bytes a caller passes on.
 *
 * Never pass a secret (token, password, database URL with a password) to a
 * log function: log a fingerprint, or the host and database name, instead.
 */
#ifndef OPS_LOG_H
#define OPS_LOG_H

enum log_level {
	LOG_DEBUG = 0,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR
};

enum log_format {
	LOG_FORMAT_JSON = 0,
	LOG_FORMAT_TEXT
};

void	log_init(const char *binary, enum log_level level, enum log_format fmt);
/* Parse "debug", "info", "warn", "error"; -1 when unknown. */
int	log_level_parse(const char *s);
/* Parse "json", "text"; -1 when unknown. */
int	log_format_parse(const char *s);

/*
 * Log a message. key/val add one context field (for example "request_id" or
 * "job_id"); pass NULL for none.
 */
void	log_kv(enum log_level lv, const char *key, const char *val,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define log_debug(...)	log_kv(LOG_DEBUG, NULL, NULL, __VA_ARGS__)
#define log_info(...)	log_kv(LOG_INFO, NULL, NULL, __VA_ARGS__)
#define log_warn(...)	log_kv(LOG_WARN, NULL, NULL, __VA_ARGS__)
#define log_error(...)	log_kv(LOG_ERROR, NULL, NULL, __VA_ARGS__)

#endif
