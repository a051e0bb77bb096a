/*
 * notion: the one Notion API client, shared by ops-notion-preflight (the CI
 * token check) and ops-notion-sync (the spec sync, jobs/notion_sync/).
 *
 * The preflight answers one question before the spec sync runs: does this
 * token belong to a live Notion integration (a bot) that can read every sync
 * target? Anything other than a confirmed "yes" is a finding with a
 * NOTION_AUTH_* code, and every code but NOTION_AUTH_ROTATION_DUE fails the
 * run (fail closed). The sync runs the same checks first and reports every
 * failure of its own calls with the same codes.
 *
 * The module is split so that almost all of it is pure and unit-testable:
 *
 *   catalog        the one table of codes: name, exit status, severity,
 *                  one-line cause, runbook anchor (notion_catalog()).
 * The component lives in notion/, beside the core (lib/), in its own
 * archive (libnotion.a) that only these two binaries and their tests link;
 * one file per concern:
 *
 *   codes.c        the catalog (name, exit status, severity, one-line
 *                  cause, runbook anchor) and the report of a run's
 *                  findings (notion_catalog(), notion_report_*()).
 *   validate.c     token, target ids, API base URL, dates, day counts,
 *                  Retry-After and the rotation arithmetic given "now".
 *   settings.c     the notion: section of the config file and NOTION_*,
 *                  read once (notion_settings_load()).
 *   classify.c     one HTTP answer (status, body, request id header) to a
 *                  code (notion_classify()).
 *   client.c       any call with pacing and bounded retries through a
 *                  struct notion_transport (notion_client_call()); unit
 *                  tests pass a fake transport, main the libcurl one.
 *   paging.c       the one loop over a paginated list
 *                  (notion_client_each()).
 *   preflight.c    the preflight's checks on top of the client
 *                  (notion_check_api(), notion_check_rotation()).
 *   format.c       findings as text, json, github and markdown.
 *   curl.c         the libcurl transport (TLS verification always on).
 *   cli.c          what the two binaries' mains share (cli.h).
 *   text.c         copying untrusted text for display (notion_int.h).
 *
 * Ownership: every function that fills a caller's buffer truncates safely
 * (at a UTF-8 character boundary) and NUL-terminates. struct notion_report
 * holds fixed-size arrays and owns nothing on the heap. struct notion_http
 * owns its body buffer (notion_http_free()). A struct notion_curl is owned by
 * whoever called notion_curl_new() and released with notion_curl_free();
 * curl_global_init() is the caller's (main's) job.
 *
 * Secrets: the token is passed to the transport and to notion_fingerprint()
 * only. No function here puts it into a finding, a log line or an error
 * buffer; notion_redact() is a last safety net main applies to its output.
 */
#ifndef OPS_NOTION_H
#define OPS_NOTION_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "buf.h"

#define NOTION_DEFAULT_API_BASE	"https://api.notion.com"
#define NOTION_DEFAULT_VERSION	"2022-06-28"
#define NOTION_RUNBOOK		"runbooks/notion-ci-token.md"

#define NOTION_MAX_TARGETS	32
#define NOTION_MAX_FINDINGS	(NOTION_MAX_TARGETS + 4)
#define NOTION_TOKEN_MAX	4096	/* longer is NOTION_AUTH_MALFORMED */
#define NOTION_BODY_MAX		(1024 * 1024)	/* larger answer: UNEXPECTED */
#define NOTION_ID_LEN		36	/* 8-4-4-4-12, lower-case hex */
#define NOTION_FINGERPRINT_MAX	48
#define NOTION_REQID_MAX	80
#define NOTION_TEXT_MAX		128	/* bot and workspace names */
#define NOTION_MSG_MAX		512
#define NOTION_LABEL_MAX	64	/* "users/me", "database:<id>" */

/*
 * Codes. NOTION_OK is "no finding". The order of the NOTION_AUTH_* values
 * is the order of the catalog table and of --list-codes.
 */
enum notion_code {
	NOTION_OK = 0,
	NOTION_AUTH_MISSING,
	NOTION_AUTH_MALFORMED,
	NOTION_AUTH_INVALID,
	NOTION_AUTH_FORBIDDEN,
	NOTION_AUTH_TARGET_UNSHARED,
	NOTION_AUTH_RATE_LIMITED,
	NOTION_AUTH_UPSTREAM,
	NOTION_AUTH_NETWORK,
	NOTION_AUTH_UNEXPECTED,
	NOTION_AUTH_ROTATION_OVERDUE,
	NOTION_AUTH_ROTATION_DUE,
	NOTION_CODE_COUNT
};

enum notion_severity {
	NOTION_SEV_ERROR = 0,
	NOTION_SEV_WARNING
};

struct notion_code_info {
	enum notion_code	 code;
	const char		*name;		/* "NOTION_AUTH_INVALID" */
	int			 exit_status;	/* 0 for warnings */
	enum notion_severity	 severity;
	const char		*cause;		/* one line, no tab */
	const char		*anchor;	/* runbook anchor, no '#' */
};

/* The catalog: *n entries, NOTION_AUTH_MISSING first. Static storage. */
const struct notion_code_info *notion_catalog(size_t *n);
/* The entry of one code; NULL for NOTION_OK or an out-of-range value. */
const struct notion_code_info *notion_code_lookup(enum notion_code code);
/* Code name, or "NOTION_OK" for NOTION_OK. Never NULL. */
const char *notion_code_name(enum notion_code code);

/*
 * Validation.
 */

/*
 * Check a token: NOTION_OK, or NOTION_AUTH_MALFORMED when it is empty,
 * longer than NOTION_TOKEN_MAX or holds any byte outside printable ASCII
 * 0x21..0x7e (whitespace anywhere, including leading and trailing; control
 * characters; NUL; non-ASCII). This also rules out header injection. On
 * MALFORMED, why (if not NULL) says what is wrong without quoting the token.
 */
enum notion_code notion_token_check(const char *tok, size_t len,
	    char *why, size_t whysz);

/*
 * Load the token: env_token (NOTION_TOKEN, used as is, even when empty) if
 * not NULL, else the content of file (NOTION_TOKEN_FILE) if not NULL or "",
 * with one trailing "\n" or "\r\n" stripped. Returns NOTION_AUTH_MISSING
 * (neither given, or the file cannot be read), NOTION_AUTH_MALFORMED (see
 * notion_token_check()) or NOTION_OK; out holds the token (the caller wipes
 * and frees it), why one line without the token. Both given is the caller's
 * usage error.
 */
enum notion_code notion_token_load(const char *env_token, const char *file,
	    struct buf *out, char *why, size_t whysz);

/*
 * Fingerprint of a token for humans: "secr…sha256:1a2b3c4d", the first 4
 * characters and the first 8 hex digits of SHA-256(token). The prefix is
 * left out ("sha256:1a2b3c4d") when the token is shorter than 16 bytes or
 * its first 4 bytes are not printable ASCII, so that a fingerprint never
 * shows a real share of a short secret. out gets "" when outsz is too small
 * (NOTION_FINGERPRINT_MAX is enough).
 */
void	notion_fingerprint(const char *tok, size_t len, char *out, size_t outsz);

/*
 * Normalize a page or database id: dashes are dropped wherever they are, the
 * rest must be exactly 32 hex digits. out gets the canonical lower-case
 * 8-4-4-4-12 form. Returns 0, or -1 (out is then "").
 */
int	notion_id_normalize(const char *in, char out[NOTION_ID_LEN + 1]);

enum notion_kind {
	NOTION_KIND_ME = 0,	/* GET /v1/users/me */
	NOTION_KIND_PAGE,	/* GET /v1/pages/{id} */
	NOTION_KIND_DATABASE,	/* GET /v1/databases/{id} */
	NOTION_KIND_CALL	/* any other call: a 2xx JSON object is OK */
};

struct notion_target {
	enum notion_kind	kind;		/* PAGE or DATABASE */
	char			id[NOTION_ID_LEN + 1];
};

/*
 * Parse NOTION_PREFLIGHT_TARGETS: "page:ID,database:ID". Spaces around items
 * are ignored, empty items are skipped. Returns 0 and sets *n, or -1 with
 * one lower-case line in err (unknown kind, bad id, more than max).
 */
int	notion_targets_parse(const char *list, struct notion_target *t,
	    size_t max, size_t *n, char *err, size_t errsz);
/* "users/me", "page:<id>" or "database:<id>". */
void	notion_target_label(enum notion_kind kind, const char *id, char *out,
	    size_t outsz);

/* 1 when host is localhost, 127.0.0.0/8 or ::1 (with or without []). */
int	notion_host_is_loopback(const char *host);

/*
 * Check NOTION_API_BASE and write it to out without trailing slashes.
 * Accepted: https://host[:port][/path], and http:// only for a loopback
 * host. Refused: other schemes, user:password@, query, fragment.
 * Returns 0, or -1 with one line in err.
 */
int	notion_api_base_check(const char *url, char *out, size_t outsz,
	    char *err, size_t errsz);

/* Notion-Version must look like YYYY-MM-DD. Returns 0 or -1. */
int	notion_version_check(const char *v);

/*
 * Parse a whole decimal number in [min, max] ("90"; no sign, no spaces,
 * no suffix). Returns 0 or -1.
 */
int	notion_parse_long(const char *s, long min, long max, long *out);

/*
 * Parse NOTION_TOKEN_ISSUED_AT: "YYYY-MM-DD" (midnight UTC) or RFC 3339
 * "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" ('t'/'z' lower-case too).
 * Calendar fields are checked (no February 30). Returns 0 or -1.
 */
int	notion_parse_time(const char *s, time_t *out);

/* Format t as "YYYY-MM-DDTHH:MM:SSZ". */
void	notion_format_time(time_t t, char *out, size_t outsz);

/*
 * Rotation policy. deadline = issued + rotate_days days.
 *   now >= deadline                     NOTION_AUTH_ROTATION_OVERDUE
 *   now >= deadline - warn_days days    NOTION_AUTH_ROTATION_DUE
 *   otherwise                           NOTION_OK
 * days: for OVERDUE, whole days since the deadline (0 on the first day); for
 * DUE and OK, days left rounded up.
 */
struct notion_rotation {
	enum notion_code	code;
	time_t			deadline;
	long			days;
};

void	notion_rotation_check(time_t issued, long rotate_days, long warn_days,
	    time_t now, struct notion_rotation *out);

/* notion_rotation_check() and, for DUE or OVERDUE, a finding in r. */
struct notion_report;
void	notion_check_rotation(struct notion_report *r, time_t issued,
	    long rotate_days, long warn_days, time_t now);

/*
 * Retry-After: delta-seconds ("1", "120") or an IMF-fixdate HTTP-date
 * ("Wed, 21 Oct 2015 07:28:00 GMT", converted against now; a past date is 0).
 * Surrounding spaces are ignored. Returns 0 and *seconds, or -1 when the
 * value is neither.
 */
int	notion_retry_after_parse(const char *v, time_t now, long *seconds);

/* 1 for the statuses that are retried: 429, 500, 502, 503, 504, 529. */
int	notion_status_retryable(long status);

/*
 * Classification of one HTTP answer.
 */

struct notion_answer {
	char	request_id[NOTION_REQID_MAX];	/* header, else body; "" */
	char	error_code[64];		/* Notion's "code", "" if none */
	char	detail[NOTION_MSG_MAX];	/* what was seen, for humans */
	char	bot_name[NOTION_TEXT_MAX];	/* users/me success only */
	char	workspace_name[NOTION_TEXT_MAX];
};

/*
 * Classify status + body of a GET on kind (want_id: the canonical id asked
 * for, NULL for users/me; a page/database answer must carry the same id).
 * hdr_request_id is the x-notion-request-id header or NULL.
 *
 *   2xx  users/me: {"object":"user","type":"bot"} -> NOTION_OK (a "person"
 *        user is UNEXPECTED); page/database: the matching object with the
 *        asked id -> NOTION_OK, UNEXPECTED when it is archived or in the
 *        trash (nothing can be written to it); anything else, non-JSON included
 *        (an HTML maintenance page), UNEXPECTED.
 *   401 + error object code "unauthorized"          INVALID
 *   403 + error object code "restricted_resource"   FORBIDDEN
 *   404 + error object code "object_not_found"      TARGET_UNSHARED on a
 *        target; on users/me UNEXPECTED (wrong API base?)
 *   429 (any body)                                  RATE_LIMITED
 *   500..599 (529 included, any body)               UPSTREAM
 *   everything else, including 401/403/404 whose body is not a Notion
 *   error object with the expected code (e.g. a proxy's page)  UNEXPECTED
 *
 * ans (required) is filled: request id, Notion's error code and a detail line
 * that names the request ("users/me answered HTTP 401 unauthorized: ...").
 */
enum notion_code notion_classify(enum notion_kind kind, const char *want_id,
	    long status, const char *body, size_t len,
	    const char *hdr_request_id, struct notion_answer *ans);

/*
 * Report: what one run found.
 */

struct notion_finding {
	enum notion_code	code;
	long			http_status;	/* 0: no HTTP answer */
	char			request_id[NOTION_REQID_MAX];	/* "" */
	char			target[NOTION_LABEL_MAX];	/* "" */
	char			message[NOTION_MSG_MAX];
};

struct notion_report {
	struct notion_finding	findings[NOTION_MAX_FINDINGS];
	size_t			nfindings;
	size_t			dropped;	/* findings past the array */
	char			fingerprint[NOTION_FINGERPRINT_MAX]; /* "" */
	int			bot_known;
	char			bot_name[NOTION_TEXT_MAX];
	char			workspace_name[NOTION_TEXT_MAX];
	char			checked[NOTION_MAX_TARGETS][NOTION_LABEL_MAX];
	size_t			nchecked;	/* targets confirmed */
	size_t			ntargets;	/* targets configured */
};

void	notion_report_init(struct notion_report *r);
/* Add a finding; message is printf-style. Control characters become '?'. */
void	notion_report_add(struct notion_report *r, enum notion_code code,
	    long http_status, const char *request_id, const char *target,
	    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/*
 * The code that decides the run: the first error finding that is not
 * ROTATION_OVERDUE (the API and token checks win), else ROTATION_OVERDUE,
 * else NOTION_OK (warnings do not fail the run).
 */
enum notion_code notion_report_code(const struct notion_report *r);
/* Exit status of notion_report_code(): 0 or 10..19. */
int	notion_report_exit(const struct notion_report *r);

/*
 * Output. Each appends to out.
 *   text      one line per finding: severity, code, cause, detail, target,
 *             HTTP status and request id when known, runbook path; then one
 *             summary line ("ok: ..." or "FAILED: ...").
 *   json      one object: ok, code (null when ok), exit, token_fingerprint,
 *             findings[{code, severity, message, http_status, request_id,
 *             target, runbook}], bot {name, workspace_name} or null,
 *             targets_configured,
 *             targets_checked; then a newline.
 *   github    "::error title=CODE::..." / "::warning title=CODE::..."
 *             workflow commands, then the summary line.
 *   markdown  a job summary for $GITHUB_STEP_SUMMARY.
 */
void	notion_format_text(const struct notion_report *r, struct buf *out);
void	notion_format_json(const struct notion_report *r, struct buf *out);
void	notion_format_github(const struct notion_report *r, struct buf *out);
void	notion_format_markdown(const struct notion_report *r, struct buf *out);
/* The finding lines of text / github alone (no summary line). */
void	notion_format_findings_text(const struct notion_report *r,
	    struct buf *out);
void	notion_format_findings_github(const struct notion_report *r,
	    struct buf *out);
/* The findings as the json format's array (new reference). */
json_t	*notion_findings_json(const struct notion_report *r);

/* Replace every occurrence of secret (len > 0) in b by repl. */
void	notion_redact(struct buf *b, const char *secret, size_t len,
	    const char *repl);

/*
 * Running the checks.
 */

/* One HTTP answer, filled by a transport. Owns body. */
struct notion_http {
	long		status;		/* 0 when there was no HTTP answer */
	struct buf	body;
	int		too_large;	/* body passed NOTION_BODY_MAX */
	char		request_id[NOTION_REQID_MAX];	/* x-notion-request-id */
	char		retry_after[64];		/* Retry-After */
	char		error[256];	/* transport failure, when status 0 */
};


/*
 * A transport. request() sends "METHOD url" with the bearer token and, for
 * anything but GET, body (JSON, body_len bytes; NULL for none) and must give
 * up after timeout_ms; it returns 0 when an HTTP answer arrived (status set,
 * even for 4xx/5xx) and -1 on a DNS, connect, TLS or timeout failure (error
 * set; it never contains the token). now_ms() is a monotonic clock and
 * sleep_ms() waits; unit tests replace both.
 */
struct notion_transport {
	int		(*request)(void *ctx, const char *method,
			    const char *url, const char *token,
			    const char *body, size_t body_len,
			    long timeout_ms, struct notion_http *resp);
	long long	(*now_ms)(void *ctx);
	void		(*sleep_ms)(void *ctx, long ms);
	void		*ctx;
};

struct notion_options {
	const char			*token;		/* checked already */
	const char			*api_base;	/* checked already */
	const struct notion_target	*targets;
	size_t				 ntargets;
	long				 timeout_ms;	/* per request */
	long				 deadline_ms;	/* whole run */
	int				 max_retries;	/* 3 */
	long				 backoff_base_ms;	/* 500 */
	long				 backoff_cap_ms;	/* 4000 */
	long				 retry_after_cap_ms;	/* 10000 */
	long				 min_interval_ms;	/* pacer, 0 */
};

/*
 * Defaults: 10 s per request, 60 s in all, 3 retries, 0.5 s .. 4 s backoff,
 * no pacing (min_interval_ms 0: the preflight's few GETs are a burst Notion
 * allows; the sync sets 1000 / requests-per-second).
 */
void	notion_options_init(struct notion_options *o);

/*
 * A client: one session of calls sharing the options, the transport, the
 * overall deadline (from notion_client_init()), the pacer and one answer
 * buffer. Owns http (the last answer; valid until the next call).
 */
struct notion_client {
	const struct notion_options	*o;
	const struct notion_transport	*t;
	time_t				 wall_now;
	long long			 deadline;	/* monotonic ms */
	long long			 next_ms;	/* pacer */
	unsigned long			 requests;	/* sent, retries too */
	struct notion_http		 http;
};

void	notion_client_init(struct notion_client *c,
	    const struct notion_options *o, const struct notion_transport *t,
	    time_t wall_now);
void	notion_client_free(struct notion_client *c);

/* One API call. */
struct notion_call {
	const char		*method;	/* NULL: GET */
	const char		*path;		/* "/v1/blocks/<id>/children" */
	const char		*body;		/* JSON or NULL */
	size_t			 body_len;
	enum notion_kind	 kind;		/* how to classify the answer */
	const char		*want_id;	/* for PAGE and DATABASE */
	const char		*label;		/* names it in findings, logs */
	int			 not_idempotent; /* POST that creates */
};

/*
 * Make one call: wait for the pacer (requests start at least
 * min_interval_ms apart, a Retry-After wait included), send, classify
 * (notion_classify_as()), retry as notion_check_api() does. A call marked
 * not_idempotent (an append, a page creation) is retried on 429 only: a
 * 5xx or a timeout may have been applied, and the caller must start over
 * from what Notion has. Any failure adds one finding to r. On NOTION_OK
 * the answer's body is in c->http.body.
 */
enum notion_code notion_client_call(struct notion_client *c,
	    const struct notion_call *call, struct notion_answer *ans,
	    struct notion_report *r);


/* notion_check_api() on a client the caller made (the preflight's checks). */
void	notion_check_api_client(struct notion_client *c,
	    struct notion_report *r);

/*
 * Check users/me, then (only if it passed) every target in order, adding a
 * finding for each failure to r and filling r->bot_* and r->checked.
 * Retryable statuses (429, 500, 502, 503, 504, 529) are retried at most
 * max_retries times: the wait is Retry-After (capped at retry_after_cap_ms)
 * when the answer has a valid one, else backoff_base_ms doubling up to
 * backoff_cap_ms; a retry that cannot start before the overall deadline is
 * not made. 401, 403, 404 and transport failures are never retried.
 * wall_now is the wall-clock time used for an HTTP-date Retry-After.
 */
void	notion_check_api(const struct notion_options *o,
	    const struct notion_transport *t, time_t wall_now,
	    struct notion_report *r);

/*
 * The libcurl transport. Verification of the peer certificate and host name
 * is always on; cacert (or NULL) is a PEM file of CA certificates to trust
 * (CURLOPT_CAINFO); only http and https are allowed; redirects are not
 * followed; connect and total timeouts are the get() timeout. Sends
 * Notion-Version, Accept: application/json and user_agent. Returns NULL with
 * err filled when libcurl cannot be set up.
 */
struct notion_curl;

struct notion_curl *notion_curl_new(const char *cacert,
	    const char *notion_version, const char *user_agent,
	    char *err, size_t errsz);
void	notion_curl_transport(struct notion_curl *c,
	    struct notion_transport *t);
void	notion_curl_free(struct notion_curl *c);

/*
 * notion_client_call() whose answer must be a JSON object: returned (the
 * caller decrefs), or NULL after a finding was added to r.
 */
json_t	*notion_client_json(struct notion_client *c,
	    const struct notion_call *call, struct notion_report *r);

/*
 * Paging: the one loop over a paginated Notion list ("results", "has_more",
 * "next_cursor"). call is made once per page. A GET (query NULL) gets the
 * cursor appended to call->path as "&start_cursor=" (call->path holds the
 * '?' and page_size); a POST (a database query) sends a copy of query
 * with "page_size": 100 and "start_cursor" (call->body is ignored).
 * each() is called for every element of "results" and returns 0 to go
 * on, non-zero to stop (it reported why). Returns 0, or -1 when a call
 * failed (its finding is in r), each() stopped, or Notion answered a
 * cursor longer than this client keeps (NOTION_AUTH_UNEXPECTED).
 */
int	notion_client_each(struct notion_client *c,
	    const struct notion_call *call, const json_t *query,
	    struct notion_report *r, int (*each)(json_t *item, void *ctx),
	    void *ctx);

/*
 * Settings: the notion: section of the ops config file (optional; the
 * core's config_load() skips it) under the environment of contract section
 * 7, read once, the same way by the preflight and the sync:
 *
 *   notion.api_base          NOTION_API_BASE (checked, trailing / dropped)
 *   notion.version           NOTION_VERSION
 *   notion.targets           NOTION_PREFLIGHT_TARGETS
 *   notion.token[_file]      NOTION_TOKEN or NOTION_TOKEN_FILE (both
 *                            variables at once are refused)
 *   notion.token_issued_at   NOTION_TOKEN_ISSUED_AT   (both or neither:
 *   notion.token_rotate_days NOTION_TOKEN_ROTATE_DAYS  the rotation policy)
 *   notion.token_warn_days   NOTION_TOKEN_WARN_DAYS
 *
 * A variable that is set and not empty wins over the file (NOTION_TOKEN
 * wins even when empty: that is a malformed token). Nothing is exported
 * into the environment.
 *
 * Ownership: the struct owns the token (a secret) and wipes it in
 * notion_settings_free(). A token problem is not a load error: token_code
 * (NOTION_AUTH_MISSING or _MALFORMED) and token_why go into the run's
 * report as a finding.
 */
struct notion_settings {
	char			api_base[512];
	char			version[16];
	struct notion_target	targets[NOTION_MAX_TARGETS];
	size_t			ntargets;
	int			rotation;	/* a policy is configured */
	time_t			issued;
	long			rotate_days;
	long			warn_days;
	struct buf		token;		/* secret */
	enum notion_code	token_code;	/* NOTION_OK: token holds it */
	char			token_why[256];
};

/*
 * Load path's notion: section (path NULL: the environment alone) and the
 * environment into s. Returns 0 (free s with notion_settings_free()), or -1
 * with one line in err ("ops.yaml:12: notion.api_base: ...", "environment
 * NOTION_VERSION: ...": a usage error) and nothing to free.
 */
int	notion_settings_load(struct notion_settings *s, const char *path,
	    time_t now, char *err, size_t errsz);
/* Wipe the token and free it. */
void	notion_settings_free(struct notion_settings *s);

/* Every key of the notion: section as config_print_keys() prints them. */
void	notion_settings_print_keys(FILE *out);

#endif
