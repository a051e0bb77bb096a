/*
 * format: a report as text, json, GitHub workflow commands or Markdown,
 * and the redaction safety net (notion.h, "Output").
 */
#include "notion_int.h"

#include <stdlib.h>
#include <string.h>

#include "xalloc.h"
#include "xjson.h"


/*
 * Output.
 */

static const char *
severity_name(enum notion_severity s)
{
	return s == NOTION_SEV_WARNING ? "warning" : "error";
}

/* "cause -- message (http 401, request id X); runbook: path#anchor" */
static void
finding_body(const struct notion_finding *f,
    const struct notion_code_info *ci, struct buf *out)
{
	buf_appendf(out, "%s -- %s", ci->cause, f->message);
	if (f->http_status || f->request_id[0]) {
		buf_appends(out, " (");
		if (f->http_status)
			buf_appendf(out, "http %ld", f->http_status);
		if (f->request_id[0])
			buf_appendf(out, "%srequest id %s",
			    f->http_status ? ", " : "", f->request_id);
		buf_appendc(out, ')');
	}
	buf_appendf(out, "; runbook: %s#%s", NOTION_RUNBOOK, ci->anchor);
}

static size_t
count_warnings(const struct notion_report *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->nfindings; i++) {
		const struct notion_code_info *ci =
		    notion_code_lookup(r->findings[i].code);

		if (ci && ci->severity == NOTION_SEV_WARNING)
			n++;
	}
	return n;
}

static void
summary_line(const struct notion_report *r, struct buf *out)
{
	enum notion_code code = notion_report_code(r);
	const struct notion_code_info *ci = notion_code_lookup(code);
	const char *fp = r->fingerprint[0] ? r->fingerprint : "(none)";
	size_t nwarn = count_warnings(r);

	if (ci != NULL) {
		buf_appendf(out, "FAILED: %s (exit %d), token %s: the spec sync "
		    "must not run; follow %s#%s\n", ci->name, ci->exit_status,
		    fp, NOTION_RUNBOOK, ci->anchor);
		return;
	}
	buf_appendf(out, "ok: token %s belongs to bot \"%s\" in workspace "
	    "\"%s\"", fp, r->bot_name, r->workspace_name);
	if (r->nchecked == 0)
		buf_appends(out, "; no targets configured "
		    "(NOTION_PREFLIGHT_TARGETS), only the token was checked");
	else {
		buf_appendf(out, "; targets checked (%zu):", r->nchecked);
		for (size_t i = 0; i < r->nchecked; i++)
			buf_appendf(out, "%s %s", i ? "," : "", r->checked[i]);
	}
	if (nwarn)
		buf_appendf(out, "; %zu warning(s)", nwarn);
	buf_appendc(out, '\n');
}

void
notion_format_text(const struct notion_report *r, struct buf *out)
{
	notion_format_findings_text(r, out);
	summary_line(r, out);
}

void
notion_format_findings_text(const struct notion_report *r, struct buf *out)
{
	for (size_t i = 0; i < r->nfindings; i++) {
		const struct notion_finding *f = &r->findings[i];
		const struct notion_code_info *ci = notion_code_lookup(f->code);

		if (ci == NULL)
			continue;
		buf_appendf(out, "%s %s: ", severity_name(ci->severity),
		    ci->name);
		finding_body(f, ci, out);
		buf_appendc(out, '\n');
	}
	if (r->dropped)
		buf_appendf(out, "error: %zu more finding(s) not shown\n",
		    r->dropped);
}

/* Workflow command data: '%', CR and LF are escaped. */
static void
github_escape(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '%')
			buf_appends(out, "%25");
		else if (*s == '\r')
			buf_appends(out, "%0D");
		else if (*s == '\n')
			buf_appends(out, "%0A");
		else
			buf_appendc(out, *s);
	}
}

void
notion_format_github(const struct notion_report *r, struct buf *out)
{
	notion_format_findings_github(r, out);
	summary_line(r, out);
}

void
notion_format_findings_github(const struct notion_report *r, struct buf *out)
{
	struct buf body = BUF_INIT;

	for (size_t i = 0; i < r->nfindings; i++) {
		const struct notion_finding *f = &r->findings[i];
		const struct notion_code_info *ci = notion_code_lookup(f->code);

		if (ci == NULL)
			continue;
		buf_reset(&body);
		finding_body(f, ci, &body);
		buf_appendf(out, "::%s title=%s::", severity_name(ci->severity),
		    ci->name);
		github_escape(out, buf_str(&body));
		buf_appendc(out, '\n');
	}
	buf_free(&body);
}

static json_t *
jstr_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static json_t *
finding_json(const struct notion_finding *f, const struct notion_code_info *ci)
{
	json_t *o = xnonnull(json_object());
	struct buf rb = BUF_INIT;

	buf_appendf(&rb, "%s#%s", NOTION_RUNBOOK, ci->anchor);
	xjson_set(o, "code", json_string(ci->name));
	xjson_set(o, "severity", json_string(severity_name(ci->severity)));
	xjson_set(o, "message", json_string(f->message));
	xjson_set(o, "http_status", f->http_status ?
	    json_integer(f->http_status) : json_null());
	xjson_set(o, "request_id", jstr_or_null(f->request_id));
	xjson_set(o, "target", jstr_or_null(f->target));
	xjson_set(o, "runbook", json_string(buf_str(&rb)));
	buf_free(&rb);
	return o;
}

json_t *
notion_findings_json(const struct notion_report *r)
{
	json_t *fa = xnonnull(json_array());

	for (size_t i = 0; i < r->nfindings; i++) {
		const struct notion_code_info *ci =
		    notion_code_lookup(r->findings[i].code);

		if (ci)
			xjson_push(fa, finding_json(&r->findings[i], ci));
	}
	return fa;
}

void
notion_format_json(const struct notion_report *r, struct buf *out)
{
	enum notion_code code = notion_report_code(r);
	json_t *o = xnonnull(json_object()), *fa = notion_findings_json(r);
	json_t *ca = xnonnull(json_array()), *bot = json_null();
	char *s;

	for (size_t i = 0; i < r->nchecked; i++)
		xjson_push(ca, json_string(r->checked[i]));
	if (r->bot_known) {
		json_decref(bot);
		bot = xnonnull(json_object());
		xjson_set(bot, "name", json_string(r->bot_name));
		xjson_set(bot, "workspace_name",
		    json_string(r->workspace_name));
	}
	xjson_set(o, "ok", json_boolean(code == NOTION_OK));
	xjson_set(o, "code", code == NOTION_OK ? json_null() :
	    json_string(notion_code_name(code)));
	xjson_set(o, "exit", json_integer(notion_report_exit(r)));
	xjson_set(o, "token_fingerprint", jstr_or_null(r->fingerprint));
	xjson_set(o, "findings", fa);
	xjson_set(o, "bot", bot);
	xjson_set(o, "targets_configured",
	    json_integer((json_int_t)r->ntargets));
	xjson_set(o, "targets_checked", ca);
	s = xnonnull(json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER));
	buf_appends(out, s);
	buf_appendc(out, '\n');
	free(s);
	json_decref(o);
}

/* Markdown table cell: no pipes, backticks or angle brackets. */
static void
md_escape(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			buf_appends(out, "\\|");
		else if (*s == '`')
			buf_appendc(out, '\'');
		else if (*s == '<')
			buf_appends(out, "&lt;");
		else if (*s == '>')
			buf_appends(out, "&gt;");
		else
			buf_appendc(out, *s);
	}
}

void
notion_format_markdown(const struct notion_report *r, struct buf *out)
{
	enum notion_code code = notion_report_code(r);
	char status[16];

	if (code == NOTION_OK)
		buf_appends(out, "### Notion preflight: ok\n\n");
	else
		buf_appendf(out, "### Notion preflight: FAILED `%s` (exit %d)"
		    "\n\n", notion_code_name(code), notion_report_exit(r));
	md_escape(out, r->fingerprint[0] ? r->fingerprint : "(none)");
	buf_appends(out, " is the token fingerprint.");
	if (r->bot_known) {
		buf_appends(out, " Bot **");
		md_escape(out, r->bot_name);
		buf_appends(out, "** in workspace **");
		md_escape(out, r->workspace_name);
		buf_appendf(out, "**; %zu of %zu target(s) confirmed.",
		    r->nchecked, r->ntargets);
	}
	buf_appends(out, "\n\n");
	if (r->nfindings == 0)
		return;
	buf_appends(out, "| severity | code | target | HTTP | request id | "
	    "what happened | runbook |\n|---|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < r->nfindings; i++) {
		const struct notion_finding *f = &r->findings[i];
		const struct notion_code_info *ci = notion_code_lookup(f->code);

		if (ci == NULL)
			continue;
		snprintf(status, sizeof(status), "%ld", f->http_status);
		buf_appendf(out, "| %s | `%s` | ", severity_name(ci->severity),
		    ci->name);
		md_escape(out, f->target[0] ? f->target : "-");
		buf_appendf(out, " | %s | ", f->http_status ? status : "-");
		md_escape(out, f->request_id[0] ? f->request_id : "-");
		buf_appends(out, " | ");
		md_escape(out, f->message);
		buf_appendf(out, " | `%s#%s` |\n", NOTION_RUNBOOK, ci->anchor);
	}
	buf_appendc(out, '\n');
}

void
notion_redact(struct buf *b, const char *secret, size_t len,
    const char *repl)
{
	struct buf o = BUF_INIT;
	const char *p, *end, *hit;

	if (len == 0 || b->data == NULL || b->len < len ||
	    memmem(b->data, b->len, secret, len) == NULL)
		return;
	p = b->data;
	end = b->data + b->len;
	while ((hit = memmem(p, (size_t)(end - p), secret, len)) != NULL) {
		buf_append(&o, p, (size_t)(hit - p));
		buf_appends(&o, repl);
		p = hit + len;
	}
	buf_append(&o, p, (size_t)(end - p));
	explicit_bzero(b->data, b->len);
	buf_free(b);
	*b = o;
}
