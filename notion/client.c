/*
 * client: any Notion call with pacing, bounded retries and an overall
 * deadline through a struct notion_transport (notion.h, "client").
 */
#include "notion_int.h"

#include <string.h>

#include "log.h"


/*
 * Running the checks.
 */

static void
notion_http_init(struct notion_http *h)
{
	memset(h, 0, sizeof(*h));
	buf_init(&h->body);
}

/* Empty it for the next attempt, keeping the body allocation. */
static void
notion_http_reset(struct notion_http *h)
{
	h->status = 0;
	buf_reset(&h->body);
	h->too_large = 0;
	h->request_id[0] = '\0';
	h->retry_after[0] = '\0';
	h->error[0] = '\0';
}

static void
notion_http_free(struct notion_http *h)
{
	buf_free(&h->body);
	notion_http_init(h);
}

void
notion_options_init(struct notion_options *o)
{
	memset(o, 0, sizeof(*o));
	o->timeout_ms = 10000;
	o->deadline_ms = 60000;
	o->max_retries = 3;
	o->backoff_base_ms = 500;
	o->backoff_cap_ms = 4000;
	o->retry_after_cap_ms = 10000;
}

/* How long to wait before retry number attempt (1-based). */
static long
retry_wait_ms(const struct notion_options *o, const struct notion_http *h,
    int attempt, time_t wall_now)
{
	long secs, ms;

	if (h->retry_after[0] &&
	    notion_retry_after_parse(h->retry_after, wall_now, &secs) == 0) {
		if (secs > o->retry_after_cap_ms / 1000)
			return o->retry_after_cap_ms;
		return secs * 1000;
	}
	ms = o->backoff_base_ms;
	for (int i = 1; i < attempt && ms < o->backoff_cap_ms; i++)
		ms *= 2;
	return ms < o->backoff_cap_ms ? ms : o->backoff_cap_ms;
}

void
notion_client_init(struct notion_client *c, const struct notion_options *o,
    const struct notion_transport *t, time_t wall_now)
{
	memset(c, 0, sizeof(*c));
	c->o = o;
	c->t = t;
	c->wall_now = wall_now;
	c->deadline = t->now_ms(t->ctx) + o->deadline_ms;
	c->next_ms = 0;
	notion_http_init(&c->http);
}

void
notion_client_free(struct notion_client *c)
{
	notion_http_free(&c->http);
}

/* Wait until the pacer allows the next request; then book the slot. */
static void
pace(struct notion_client *c)
{
	const struct notion_transport *t = c->t;
	long long now = t->now_ms(t->ctx);

	if (c->o->min_interval_ms > 0 && c->next_ms > now) {
		t->sleep_ms(t->ctx, (long)(c->next_ms - now));
		now = t->now_ms(t->ctx);
	}
	c->next_ms = now + c->o->min_interval_ms;
}

enum notion_code
notion_client_call(struct notion_client *c, const struct notion_call *call,
    struct notion_answer *ans, struct notion_report *r)
{
	const struct notion_options *o = c->o;
	const struct notion_transport *t = c->t;
	struct notion_http *h = &c->http;
	struct buf url = BUF_INIT;
	const char *label = call->label, *why = "";
	const char *method = call->method ? call->method : "GET";
	enum notion_code code = NOTION_AUTH_NETWORK;
	long long left;
	int attempt;

	memset(ans, 0, sizeof(*ans));
	buf_appendf(&url, "%s%s", o->api_base, call->path);
	for (attempt = 1;; attempt++) {
		long wait;

		pace(c);
		left = c->deadline - t->now_ms(t->ctx);
		if (left <= 0) {
			notion_report_add(r, NOTION_AUTH_NETWORK, 0, NULL, label,
			    "%s not done: the overall deadline of %ld s was "
			    "reached", label, o->deadline_ms / 1000);
			goto out;
		}
		notion_http_reset(h);
		c->requests++;
		if (t->request(t->ctx, method, buf_str(&url), o->token,
		    call->body, call->body_len,
		    left < o->timeout_ms ? (long)left : o->timeout_ms, h) != 0) {
			notion_report_add(r, NOTION_AUTH_NETWORK, 0, NULL, label,
			    "%s: no HTTP answer: %s", label, h->error);
			goto out;
		}
		if (h->too_large) {
			code = NOTION_AUTH_UNEXPECTED;
			notion_report_add(r, code, h->status, h->request_id,
			    label, "%s answered HTTP %ld with a body larger "
			    "than %d bytes", label, h->status, NOTION_BODY_MAX);
			goto out;
		}
		code = notion_classify_as(call->kind, call->want_id, label,
		    h->status, buf_str(&h->body), h->body.len, h->request_id,
		    ans);
		if (!notion_status_retryable(h->status))
			break;
		if (attempt > o->max_retries)
			break;
		if (call->not_idempotent && h->status != 429) {
			why = "; not retried: the request may have been applied";
			break;
		}
		wait = retry_wait_ms(o, h, attempt, c->wall_now);
		if (t->now_ms(t->ctx) + wait >= c->deadline) {
			why = "; the next retry would pass the overall deadline";
			break;
		}
		log_kv(LOG_INFO, "target", label, "notion answered HTTP %ld, "
		    "retry %d of %d in %ld ms", h->status, attempt,
		    o->max_retries, wait);
		t->sleep_ms(t->ctx, wait);
		/* the pacer counts from the end of a Retry-After wait */
		c->next_ms = t->now_ms(t->ctx);
	}
	if (code != NOTION_OK && (attempt > 1 || *why))
		notion_report_add(r, code, h->status, ans->request_id,
		    label, "%s (%d attempts%s)", ans->detail, attempt, why);
	else if (code != NOTION_OK)
		notion_report_add(r, code, h->status, ans->request_id,
		    label, "%s", ans->detail);
out:
	buf_free(&url);
	return code;
}

json_t *
notion_client_json(struct notion_client *c, const struct notion_call *call,
    struct notion_report *r)
{
	struct notion_answer ans;
	json_error_t jerr;
	json_t *answer;

	if (notion_client_call(c, call, &ans, r) != NOTION_OK)
		return NULL;
	answer = json_loadb(c->http.body.data ? c->http.body.data : "",
	    c->http.body.len, 0, &jerr);
	if (!json_is_object(answer)) {
		notion_report_add(r, NOTION_AUTH_UNEXPECTED, c->http.status,
		    c->http.request_id, call->label, "%s answered HTTP %ld "
		    "with a body that is not a JSON object", call->label,
		    c->http.status);
		json_decref(answer);
		return NULL;
	}
	return answer;
}
