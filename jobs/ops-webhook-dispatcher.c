/*
 * ops-webhook-dispatcher: send the completion webhooks of the outbox
 * (tb_webhook_delivery, sql/migrations/0011_webhooks.sql; contract section
 * 16; docs/webhooks.md).
 *
 * Each run purges deliveries past webhooks.retention_days, ends the
 * pending deliveries of disabled endpoints (FAILED), then claims due
 * deliveries one at a time (FOR UPDATE SKIP LOCKED, a lease of
 * webhooks.lease_seconds, the attempt counted at the claim) and sends each:
 * the host resolved here, every address checked (lib/webhook_url.h), the
 * connection pinned to the checked address (CURLOPT_RESOLVE) and checked
 * again when curl opens the socket; https only (unless
 * webhooks.allow_http), TLS verified, no redirect, no proxy,
 * webhooks.timeout_seconds for the whole exchange, at most 4 KiB of the
 * answer read. 2xx: DELIVERED. 410: FAILED and the endpoint disabled.
 * Anything else: retried after an exponential backoff with jitter
 * (retry_base_seconds * 2^(attempt-1), capped at retry_max_seconds, the
 * wait drawn from its upper half) until give_up_at (give_up_hours after
 * the event), then FAILED with a WEBHOOK_DELIVERY_FAILED event.
 *
 * At least once: a dispatcher that dies between the send and the record
 * leaves the lease to expire; the delivery is sent again with the same
 * webhook-id. Several dispatchers (hosts) share the work: the lock is per
 * instance ("ops-webhook-dispatcher:<instance>"), the claim is the
 * exclusion, and the record is fenced by the lease owner.
 *
 * The run ends when nothing is due (it waits for a delivery due within
 * 5 s) or after webhooks.dispatcher_budget_seconds. SIGTERM/SIGINT: the
 * attempt in flight ends (bounded by the timeout) and is recorded; no new
 * claim; exit 143 (130).
 */
#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "bug.h"
#include "clock.h"
#include "events.h"
#include "export.h"
#include "jobcli.h"
#include "jobrun.h"
#include "log.h"
#include "webhook.h"
#include "webhook_sign.h"
#include "webhook_url.h"
#include "xalloc.h"
#include "xjson.h"

#define OPT_INSTANCE	1
#define BINARY		"ops-webhook-dispatcher"
#define ANSWER_MAX	4096	/* bytes of a receiver's answer read */
#define ERROR_MAX	600	/* bytes of an error kept */
#define HISTORY_MAX	20	/* attempts kept in a delivery's history */
#define PURGE_BATCH	"1000"

struct opts {
	char	instance[100];
};

struct dispatcher {
	struct jobrun		*jr;
	const struct ops_config	*cfg;
	char			 owner[200];	/* the lease owner */
	bool			 allow_private;
	bool			 allow_http;
};

/* One claimed delivery. */
struct delivery {
	char	*id, *endpoint_id, *tenant, *job_id, *event_type, *event_at;
	char	*snapshot, *url, *secret, *previous;	/* previous may be NULL */
	int	 attempt;
};

/* What one attempt gave. */
struct attempt {
	long	 status;	/* HTTP status, 0 for none */
	double	 latency_ms;
	char	 error[ERROR_MAX];	/* "" on success */
	bool	 refused;	/* the URL or address was refused: no send */
};

static int
on_option(int opt, const char *arg, void *ctx)
{
	struct opts *o = ctx;

	if (opt != OPT_INSTANCE)
		return -1;
	return jobcli_instance(BINARY, arg, o->instance, sizeof(o->instance));
}

static char *
dup_or_null(const PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? NULL :
	    xstrdup(PQgetvalue(res, 0, col));
}

static void
delivery_free(struct delivery *d)
{
	free(d->id);
	free(d->endpoint_id);
	free(d->tenant);
	free(d->job_id);
	free(d->event_type);
	free(d->event_at);
	free(d->snapshot);
	free(d->url);
	if (d->secret)
		explicit_bzero(d->secret, strlen(d->secret));
	if (d->previous)
		explicit_bzero(d->previous, strlen(d->previous));
	free(d->secret);
	free(d->previous);
	memset(d, 0, sizeof(*d));
}

/* Claim the most overdue delivery: 1 claimed, 0 none due, -1 database. */
static int
claim(struct dispatcher *ds, struct delivery *d)
{
	struct db *db = &ds->jr->db;
	char lease[16];
	const char *p[] = { ds->owner, lease };
	PGresult *res;

	snprintf(lease, sizeof(lease), "%d", ds->cfg->webhooks.lease_seconds);
	res = db_query(db, "UPDATE tb_webhook_delivery d SET "
	    "lease_owner = $1, lease_expires_at = now() + $2::integer * "
	    "interval '1 second', attempts = d.attempts + 1, "
	    "last_attempt_at = now() "
	    "FROM tb_webhook_endpoint e WHERE e.id = d.endpoint_id AND d.id = "
	    "(SELECT q.id FROM tb_webhook_delivery q WHERE q.state = 'PENDING' "
	    "AND q.next_attempt_at <= now() AND (q.lease_expires_at IS NULL OR "
	    "q.lease_expires_at <= now()) AND EXISTS (SELECT 1 FROM "
	    "tb_webhook_endpoint x WHERE x.id = q.endpoint_id AND x.enabled) "
	    "ORDER BY q.next_attempt_at LIMIT 1 FOR UPDATE OF q SKIP LOCKED) "
	    "RETURNING d.id, d.endpoint_id, d.tenant_id, d.job_id, "
	    "d.event_type, to_char(d.event_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), d.job_snapshot::text, "
	    "e.url, e.secret, CASE WHEN e.previous_secret_expires_at > now() "
	    "THEN e.previous_secret END, d.attempts", 2, p);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;
	}
	d->id = dup_or_null(res, 0);
	d->endpoint_id = dup_or_null(res, 1);
	d->tenant = dup_or_null(res, 2);
	d->job_id = dup_or_null(res, 3);
	d->event_type = dup_or_null(res, 4);
	d->event_at = dup_or_null(res, 5);
	d->snapshot = dup_or_null(res, 6);
	d->url = dup_or_null(res, 7);
	d->secret = dup_or_null(res, 8);
	d->previous = dup_or_null(res, 9);
	d->attempt = (int)strtol(PQgetvalue(res, 0, 10), NULL, 10);
	explicit_bzero(PQgetvalue(res, 0, 8), strlen(PQgetvalue(res, 0, 8)));
	PQclear(res);
	return 1;
}

/* The body: {"type", "timestamp", "data"}; NULL when the job cannot be
 * shown (logged). */
static char *
event_body(struct dispatcher *ds, const struct delivery *d, size_t *len)
{
	json_t *job, *ev;
	char *text;

	if (export_job_snapshot_json(&ds->jr->db, d->snapshot, &job) !=
	    EXPORT_OK)
		return NULL;
	ev = xjson_pack("{s:s, s:s, s:o}", "type", d->event_type,
	    "timestamp", d->event_at, "data", job);
	text = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);
	if (text == NULL)
		BUG("cannot serialise a webhook body");
	*len = strlen(text);
	return text;
}

struct answer {
	size_t	n;
	char	head[ANSWER_MAX + 1];
};

/* Keep the first ANSWER_MAX bytes; stop the transfer past them. */
static size_t
on_answer(char *p, size_t size, size_t nmemb, void *arg)
{
	struct answer *a = arg;
	size_t n = size * nmemb;

	if (a->n + n > ANSWER_MAX) {
		memcpy(a->head + a->n, p, ANSWER_MAX - a->n);
		a->n = ANSWER_MAX;
		return 0;	/* CURLE_WRITE_ERROR: enough */
	}
	memcpy(a->head + a->n, p, n);
	a->n += n;
	return n;
}

/* The last guard: curl opens a socket only to an allowed address. */
static curl_socket_t
on_open(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
	const struct dispatcher *ds = arg;

	(void)purpose;
	if (!ds->allow_private && !webhook_addr_public(&addr->addr))
		return CURL_SOCKET_BAD;
	return socket(addr->family, addr->socktype, addr->protocol);
}

/* Send d once; fills at. */
static void
send_once(struct dispatcher *ds, const struct delivery *d, const char *body,
    size_t bodylen, struct attempt *at)
{
	struct webhook_target t;
	struct curl_slist *hdrs = NULL, *resolve = NULL;
	struct answer ans = { 0, "" };
	char why[512], msg_id[40], sig[WEBHOOK_SIG_MAX],
	    sig2[WEBHOOK_SIG_MAX], line[300];
	long long ts = (long long)time(NULL);
	char errbuf[CURL_ERROR_SIZE] = "";
	double t0;
	CURLcode rc;
	CURL *c;

	memset(at, 0, sizeof(*at));
	if (webhook_url_check(d->url, ds->allow_http, &t, why,
	    sizeof(why)) != 0 ||
	    webhook_resolve(&t, ds->allow_private, why, sizeof(why)) != 0) {
		snprintf(at->error, sizeof(at->error), "url refused: %s", why);
		at->refused = true;
		return;
	}
	webhook_msg_id(d->id, msg_id);
	if (webhook_sign(d->secret, msg_id, ts, body, bodylen, sig) != 0 ||
	    (d->previous && webhook_sign(d->previous, msg_id, ts, body,
	    bodylen, sig2) != 0)) {
		snprintf(at->error, sizeof(at->error), "the endpoint's secret "
		    "is not a whsec_ secret");
		return;
	}
	if ((c = curl_easy_init()) == NULL) {
		snprintf(at->error, sizeof(at->error), "curl_easy_init failed");
		return;
	}
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	snprintf(line, sizeof(line), "webhook-id: %s", msg_id);
	hdrs = curl_slist_append(hdrs, line);
	snprintf(line, sizeof(line), "webhook-timestamp: %lld", ts);
	hdrs = curl_slist_append(hdrs, line);
	snprintf(line, sizeof(line), "webhook-signature: %s%s%s", sig,
	    d->previous ? " " : "", d->previous ? sig2 : "");
	hdrs = curl_slist_append(hdrs, line);
	hdrs = curl_slist_append(hdrs, "Expect:");
	resolve = curl_slist_append(resolve, t.resolve);
	curl_easy_setopt(c, CURLOPT_URL, d->url);
	curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, ds->allow_http ?
	    "https,http" : "https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)ds->cfg->webhooks.
	    timeout_seconds);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ds->cfg->webhooks.ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, ds->cfg->webhooks.ca_file);
	curl_easy_setopt(c, CURLOPT_USERAGENT, BINARY "/" OPS_VERSION);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)bodylen);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_answer);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &ans);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, on_open);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, ds);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	t0 = mono_now();
	rc = curl_easy_perform(c);
	at->latency_ms = (mono_now() - t0) * 1000.0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &at->status);
	if (rc == CURLE_WRITE_ERROR && ans.n == ANSWER_MAX)
		rc = CURLE_OK;	/* we stopped reading: the status stands */
	if (rc != CURLE_OK)
		snprintf(at->error, sizeof(at->error), "%s%s%s",
		    curl_easy_strerror(rc), errbuf[0] ? ": " : "", errbuf);
	else if (at->status < 200 || at->status > 299) {
		size_t n = ans.n > 100 ? 100 : ans.n;

		/* a short, printable head of the answer only */
		for (size_t i = 0; i < n; i++)
			if (!isprint((unsigned char)ans.head[i]))
				ans.head[i] = '.';
		ans.head[n] = '\0';
		snprintf(at->error, sizeof(at->error), "HTTP %ld: %s",
		    at->status, ans.head);
	}
	curl_slist_free_all(hdrs);
	curl_slist_free_all(resolve);
	curl_easy_cleanup(c);
}

/* The wait before attempt n + 1, in seconds. */
static long long
backoff(const struct dispatcher *ds, int attempt)
{
	long long d = ds->cfg->webhooks.retry_base_seconds;
	unsigned int r = 0;

	for (int i = 1; i < attempt && d < ds->cfg->webhooks.retry_max_seconds;
	    i++)
		d *= 2;
	if (d > ds->cfg->webhooks.retry_max_seconds)
		d = ds->cfg->webhooks.retry_max_seconds;
	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (unsigned int)getpid();
	/* the upper half: [d/2, d], in milliseconds */
	return d * 500 + (long long)(r % (unsigned int)(d * 500 + 1));
}

/*
 * Record the attempt, fenced by the lease: 0, 1 when the lease was lost
 * (another dispatcher owns the delivery now), -1 database.
 */
static int
record(struct dispatcher *ds, const struct delivery *d,
    const struct attempt *at, const char **outcome)
{
	struct db *db = &ds->jr->db;
	bool ok = at->error[0] == '\0' && at->status >= 200 &&
	    at->status <= 299;
	bool gone = at->status == 410;
	char status[16], latency[16], wait_ms[24], hist[8];
	const char *p[] = { d->id, ds->owner, ok ? "DELIVERED" : "RETRY",
	    at->status ? status : NULL, latency, ok ? NULL : at->error,
	    wait_ms, gone ? "t" : "f", hist };
	PGresult *res;
	const char *state;

	snprintf(status, sizeof(status), "%ld", at->status);
	snprintf(latency, sizeof(latency), "%.0f", at->latency_ms);
	snprintf(wait_ms, sizeof(wait_ms), "%lld", backoff(ds, d->attempt));
	snprintf(hist, sizeof(hist), "%d", HISTORY_MAX);
	if (db_begin(db) != 0)
		return -1;
	res = db_query(db, "UPDATE tb_webhook_delivery d SET "
	    "state = CASE WHEN $3::text = 'DELIVERED' THEN 'DELIVERED' "
	    "WHEN $8::boolean OR now() + $7::bigint * interval '1 "
	    "millisecond' > d.give_up_at THEN 'FAILED' ELSE 'PENDING' END, "
	    "delivered_at = CASE WHEN $3::text = 'DELIVERED' THEN now() END, "
	    "next_attempt_at = now() + $7::bigint * interval '1 millisecond', "
	    "lease_owner = NULL, lease_expires_at = NULL, "
	    "last_status = $4::integer, last_latency_ms = $5::integer, "
	    "last_error = $6::text, "
	    "history = (SELECT coalesce(jsonb_agg(h ORDER BY n), '[]') FROM "
	    "jsonb_array_elements(d.history || jsonb_build_array("
	    "jsonb_build_object('at', to_char(d.last_attempt_at AT TIME ZONE "
	    "'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), 'attempt', "
	    "d.attempts, 'status', $4::integer, 'latency_ms', $5::integer, "
	    "'error', $6::text))) WITH ORDINALITY AS x(h, n) WHERE n > "
	    "jsonb_array_length(d.history) + 1 - $9::integer) "
	    "WHERE d.id = $1 AND d.lease_owner = $2 AND d.state = 'PENDING' "
	    "RETURNING d.state", 9, p);
	if (res == NULL) {
		db_rollback(db);
		return -1;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		db_rollback(db);
		return 1;
	}
	state = PQgetvalue(res, 0, 0);
	*outcome = strcmp(state, "DELIVERED") == 0 ? "delivered" :
	    strcmp(state, "FAILED") == 0 ? "failed" : "retried";
	if (strcmp(state, "FAILED") == 0) {
		json_t *data = xjson_pack("{s:s, s:s, s:s, s:i, s:o, s:s}",
		    "endpoint_id", d->endpoint_id, "job_id", d->job_id,
		    "event_type", d->event_type, "attempts", d->attempt,
		    "last_status", at->status ? json_integer(at->status) :
		    json_null(), "last_error", at->error);
		struct ops_event ev = {
			.type = "WEBHOOK_DELIVERY_FAILED", .severity = "warning",
			.source = BINARY, .tenant_id = d->tenant,
			.subject_type = "webhook_delivery", .subject_id = d->id,
			.data = data
		};
		int rc = events_record(db, NULL, &ev);

		json_decref(data);
		if (rc != 0)
			goto fail;
	}
	if (gone) {
		const char *q[] = { d->endpoint_id };
		json_t *data = xjson_pack("{s:s}", "delivery_id", d->id);
		struct ops_event ev = {
			.type = "WEBHOOK_ENDPOINT_DISABLED",
			.severity = "warning", .source = BINARY,
			.tenant_id = d->tenant,
			.subject_type = "webhook_endpoint",
			.subject_id = d->endpoint_id, .data = data
		};
		int rc = db_exec(db, "UPDATE tb_webhook_endpoint SET enabled = "
		    "false, disabled_reason = 'the receiver answered 410 Gone' "
		    "WHERE id = $1 AND enabled", 1, q);

		rc = rc == 0 ? events_record(db, NULL, &ev) : rc;
		json_decref(data);
		if (rc != 0)
			goto fail;
		*outcome = "disabled";
	}
	PQclear(res);
	if (db_commit(db) != 0) {
		db_rollback(db);
		return -1;
	}
	return 0;
fail:
	PQclear(res);
	db_rollback(db);
	return -1;
}

/* Pending deliveries of disabled endpoints end FAILED; rows, or -1. */
static long long
sweep_disabled(struct dispatcher *ds)
{
	return db_exec_rows(&ds->jr->db, "UPDATE tb_webhook_delivery d SET "
	    "state = 'FAILED', last_error = 'the endpoint is disabled: ' || "
	    "coalesce(e.disabled_reason, '') FROM tb_webhook_endpoint e "
	    "WHERE e.id = d.endpoint_id AND NOT e.enabled AND d.state = "
	    "'PENDING' AND (d.lease_expires_at IS NULL OR "
	    "d.lease_expires_at <= now())", 0, NULL);
}

/* Purge finished deliveries past retention; rows purged, or -1. */
static long long
purge(struct dispatcher *ds)
{
	char days[16];
	const char *p[] = { days, PURGE_BATCH };
	long long n, total = 0;

	snprintf(days, sizeof(days), "%d", ds->cfg->webhooks.retention_days);
	do {
		n = db_exec_rows(&ds->jr->db, "DELETE FROM tb_webhook_delivery "
		    "WHERE id IN (SELECT id FROM tb_webhook_delivery WHERE "
		    "state IN ('DELIVERED', 'FAILED') AND created_at < now() - "
		    "$1::integer * interval '1 day' LIMIT $2::integer)", 2, p);
		if (n < 0)
			return -1;
		total += n;
	} while (n > 0 && !jobrun_stopping(ds->jr));
	return total;
}

/* Seconds until the next PENDING delivery is due (-1: none, or later
 * than within). */
static double
next_due(struct dispatcher *ds, int within)
{
	char w[16];
	const char *p[] = { w };
	PGresult *res;
	double s = -1;

	snprintf(w, sizeof(w), "%d", within);
	res = db_query(&ds->jr->db, "SELECT extract(epoch FROM "
	    "greatest(min(greatest(next_attempt_at, coalesce("
	    "lease_expires_at, next_attempt_at))) - now(), '0')) FROM "
	    "tb_webhook_delivery WHERE state = 'PENDING' HAVING "
	    "min(greatest(next_attempt_at, coalesce(lease_expires_at, "
	    "next_attempt_at))) <= now() + $1::integer * interval '1 second'",
	    1, p);
	if (res == NULL)
		return -2;
	if (PQntuples(res) == 1)
		s = strtod(PQgetvalue(res, 0, 0), NULL);
	PQclear(res);
	return s;
}

/* One delivery: send, record. 0 go on, -1 stop with error set. */
static int
dispatch_one(struct dispatcher *ds, struct delivery *d, const char **error)
{
	struct attempt at;
	const char *outcome = "retried";
	size_t len = 0;
	char *body;
	int rc;

	if ((body = event_body(ds, d, &len)) == NULL) {
		memset(&at, 0, sizeof(at));
		snprintf(at.error, sizeof(at.error), "the job's copy in the "
		    "outbox cannot be shown: see the dispatcher's log");
	} else {
		send_once(ds, d, body, len, &at);
		free(body);
	}
	rc = record(ds, d, &at, &outcome);
	if (rc < 0) {
		*error = jobrun_db_error(ds->jr, "cannot record a webhook "
		    "attempt (the delivery is sent again after its lease)",
		    &ds->jr->db);
		return -1;
	}
	if (rc > 0) {
		log_kv(LOG_WARN, "delivery_id", d->id, "lease lost while "
		    "sending: another dispatcher owns the delivery now; "
		    "raise webhooks.lease_seconds above timeout_seconds");
		jobrun_count(ds->jr, "lease_lost", 1);
		return 0;
	}
	jobrun_count(ds->jr, outcome, 1);
	log_kv(at.error[0] ? LOG_WARN : LOG_INFO, "delivery_id", d->id,
	    "webhook %s attempt %d: %s (%ld, %.0f ms)%s%s", d->event_type,
	    d->attempt, outcome, at.status, at.latency_ms,
	    at.error[0] ? ": " : "", at.error);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "instance", required_argument, NULL, OPT_INSTANCE },
		{ NULL, 0, NULL, 0 }
	};
	struct opts o = { "" };
	struct jobcli cli = {
		.binary = BINARY,
		.summary = "Sends due completion webhooks (signed, at least "
		    "once) until none is due or the time budget ends.",
		.extra_usage = "  --instance NAME      lock instance (default: "
		    "the host name)\n",
		.extra = extra, .on_option = on_option, .ctx = &o
	};
	struct ops_config cfg;
	struct jobrun jr;
	struct dispatcher ds;
	struct delivery d;
	const char *error = NULL;
	char lock[160];
	double budget_end;
	long long n;
	int status;

	jobcli_start(&cli, argc, argv, &cfg);
	if (cfg.webhooks.lease_seconds < cfg.webhooks.timeout_seconds + 10) {
		fprintf(stderr, BINARY ": webhooks.lease_seconds (%d) must be "
		    "at least webhooks.timeout_seconds + 10 (%d), or an attempt "
		    "in flight could be claimed again\n",
		    cfg.webhooks.lease_seconds, cfg.webhooks.timeout_seconds +
		    10);
		config_free(&cfg);
		return JOBRUN_EXIT_USAGE;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, BINARY ": curl_global_init failed\n");
		config_free(&cfg);
		return JOBRUN_EXIT_FAIL;
	}
	if (o.instance[0] == '\0')
		jobcli_default_instance(o.instance, sizeof(o.instance));
	snprintf(lock, sizeof(lock), BINARY ":%s", o.instance);
	if ((status = jobrun_begin(&jr, BINARY, lock, &cfg,
	    cli.textfile_dir)) != 0) {
		curl_global_cleanup();
		config_free(&cfg);
		return status;
	}
	memset(&ds, 0, sizeof(ds));
	ds.jr = &jr;
	ds.cfg = &cfg;
	ds.allow_private = webhook_allow_private(&cfg);
	ds.allow_http = webhook_allow_http(&cfg);
	snprintf(ds.owner, sizeof(ds.owner), "%s", jr.me.holder);

	if ((n = purge(&ds)) < 0)
		error = jobrun_db_error(&jr, "purging old deliveries failed",
		    &jr.db);
	else
		jobrun_count(&jr, "purged", n);
	if (error == NULL && (n = sweep_disabled(&ds)) < 0)
		error = jobrun_db_error(&jr, "ending the deliveries of disabled "
		    "endpoints failed", &jr.db);
	else if (error == NULL)
		jobrun_count(&jr, "disabled_endpoint", n);
	budget_end = mono_now() + cfg.webhooks.dispatcher_budget_seconds;
	while (error == NULL && mono_now() < budget_end &&
	    !jobrun_stopping(&jr)) {
		int c;

		if (jobrun_tick(&jr) != 0)
			break;
		memset(&d, 0, sizeof(d));
		if ((c = claim(&ds, &d)) < 0) {
			error = jobrun_db_error(&jr, "cannot claim a delivery",
			    &jr.db);
			break;
		}
		if (c == 0) {
			double s = next_due(&ds, 5);

			if (s < -1.5) {
				error = jobrun_db_error(&jr, "cannot read the "
				    "next due delivery", &jr.db);
				break;
			}
			if (s < 0 || mono_now() + s >= budget_end)
				break;
			/* a delivery is due within 5 s: wait for it */
			for (double end = mono_now() + s; mono_now() < end &&
			    !jobrun_stopping(&jr);)
				usleep(50000);
			continue;
		}
		if (dispatch_one(&ds, &d, &error) != 0) {
			delivery_free(&d);
			break;
		}
		delivery_free(&d);
	}
	if (error != NULL && !jr.lost && jobrun_check(&jr) != 0)
		error = "the dispatcher's scheduler lock was taken over";
	if (jr.lost && error == NULL)
		error = "the dispatcher's scheduler lock was taken over";
	status = jobrun_end(&jr, error);
	curl_global_cleanup();
	config_free(&cfg);
	return status;
}
