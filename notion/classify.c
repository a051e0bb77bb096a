/*
 * classify: one HTTP answer to a code (notion.h, "Classification").
 */
#include "notion_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>


static const char *
json_str(const json_t *o, const char *key)
{
	const json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/*
 * Classification.
 */

static void
set_detail(struct notion_answer *ans, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
set_detail(struct notion_answer *ans, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vappendf(&b, fmt, ap);
	va_end(ap);
	notion_copy_text(ans->detail, sizeof(ans->detail), buf_str(&b));
	buf_free(&b);
}

static enum notion_code
classify_me(long status, const json_t *root, struct notion_answer *ans)
{
	const char *obj = json_str(root, "object"), *type, *ws;
	const json_t *bot;

	if (obj == NULL || strcmp(obj, "user") != 0) {
		set_detail(ans, "users/me answered HTTP %ld with object "
		    "\"%.40s\", not a user", status, obj ? obj : "(none)");
		return NOTION_AUTH_UNEXPECTED;
	}
	type = json_str(root, "type");
	if (type && strcmp(type, "person") == 0) {
		set_detail(ans, "the token belongs to a person, not to an "
		    "integration (bot): use the internal integration's token");
		return NOTION_AUTH_UNEXPECTED;
	}
	if (type == NULL || strcmp(type, "bot") != 0) {
		set_detail(ans, "users/me answered a user of type \"%.40s\", "
		    "not a bot", type ? type : "(none)");
		return NOTION_AUTH_UNEXPECTED;
	}
	bot = json_object_get(root, "bot");
	ws = json_str(bot, "workspace_name");
	notion_copy_text(ans->bot_name, sizeof(ans->bot_name),
	    json_str(root, "name") ? json_str(root, "name") : "(unnamed)");
	notion_copy_text(ans->workspace_name, sizeof(ans->workspace_name),
	    ws ? ws : "(unknown workspace)");
	set_detail(ans, "bot \"%s\" in workspace \"%s\"", ans->bot_name,
	    ans->workspace_name);
	return NOTION_OK;
}

static enum notion_code
classify_object(enum notion_kind kind, const char *want_id, long status,
    const json_t *root, const char *where, struct notion_answer *ans)
{
	const char *want = notion_kind_name(kind), *obj = json_str(root, "object");
	const char *id = json_str(root, "id");
	char got[NOTION_ID_LEN + 1];

	if (obj == NULL || strcmp(obj, want) != 0) {
		set_detail(ans, "%s answered HTTP %ld with object \"%.40s\", "
		    "expected \"%s\"", where, status, obj ? obj : "(none)",
		    want);
		return NOTION_AUTH_UNEXPECTED;
	}
	if (id == NULL || notion_id_normalize(id, got) == -1 ||
	    want_id == NULL || strcmp(got, want_id) != 0) {
		set_detail(ans, "%s answered HTTP %ld with a %s whose id is "
		    "not the one asked for", where, status, want);
		return NOTION_AUTH_UNEXPECTED;
	}
	if (json_is_true(json_object_get(root, "archived")) ||
	    json_is_true(json_object_get(root, "in_trash"))) {
		set_detail(ans, "%s is archived (in Notion's trash): restore it "
		    "in Notion or change the target", where);
		return NOTION_AUTH_UNEXPECTED;
	}
	set_detail(ans, "%s is readable", where);
	return NOTION_OK;
}

static enum notion_code
classify_success(enum notion_kind kind, const char *want_id, long status,
    const json_t *root, const char *where, struct notion_answer *ans)
{
	if (root == NULL) {
		set_detail(ans, "%s answered HTTP %ld with a body that is not "
		    "JSON (a maintenance or proxy page?)", where, status);
		return NOTION_AUTH_UNEXPECTED;
	}
	if (!json_is_object(root)) {
		set_detail(ans, "%s answered HTTP %ld with JSON that is not an "
		    "object", where, status);
		return NOTION_AUTH_UNEXPECTED;
	}
	if (kind == NOTION_KIND_ME)
		return classify_me(status, root, ans);
	if (kind == NOTION_KIND_CALL) {
		set_detail(ans, "%s answered HTTP %ld", where, status);
		return NOTION_OK;
	}
	return classify_object(kind, want_id, status, root, where, ans);
}

static enum notion_code
classify_error(enum notion_kind kind, long status, const json_t *root,
    const char *where, struct notion_answer *ans)
{
	const char *obj = json_str(root, "object");
	int is_err = obj && strcmp(obj, "error") == 0;
	const char *ecode = is_err ? json_str(root, "code") : NULL;
	const char *msg = is_err ? json_str(root, "message") : NULL;
	enum notion_code code = NOTION_AUTH_UNEXPECTED;

	notion_copy_word(ans->error_code, sizeof(ans->error_code), ecode);
	if (status == 429)
		code = NOTION_AUTH_RATE_LIMITED;
	else if (status >= 500 && status <= 599)
		code = NOTION_AUTH_UPSTREAM;
	else if (ecode && status == 401 && strcmp(ecode, "unauthorized") == 0)
		code = NOTION_AUTH_INVALID;
	else if (ecode && status == 403 &&
	    strcmp(ecode, "restricted_resource") == 0)
		code = NOTION_AUTH_FORBIDDEN;
	else if (ecode && status == 404 &&
	    strcmp(ecode, "object_not_found") == 0 && kind != NOTION_KIND_ME)
		code = NOTION_AUTH_TARGET_UNSHARED;

	if (ecode)
		set_detail(ans, "%s answered HTTP %ld %s%s%.300s%s", where,
		    status, ans->error_code, msg ? ": " : "", msg ? msg : "",
		    code == NOTION_AUTH_UNEXPECTED && status == 404 ?
		    " (users/me cannot be missing: is NOTION_API_BASE right?)" :
		    "");
	else
		set_detail(ans, "%s answered HTTP %ld with %s", where, status,
		    root == NULL ? "a body that is not JSON" :
		    "JSON that is not a Notion error object");
	return code;
}

enum notion_code
notion_classify(enum notion_kind kind, const char *want_id, long status,
    const char *body, size_t len, const char *hdr_request_id,
    struct notion_answer *ans)
{
	char where[NOTION_LABEL_MAX];

	notion_target_label(kind, want_id, where, sizeof(where));
	return notion_classify_as(kind, want_id, where, status, body, len,
	    hdr_request_id, ans);
}

enum notion_code
notion_classify_as(enum notion_kind kind, const char *want_id,
    const char *where, long status, const char *body, size_t len,
    const char *hdr_request_id, struct notion_answer *ans)
{
	json_t *root = NULL;
	json_error_t jerr;
	enum notion_code code;

	memset(ans, 0, sizeof(*ans));
	if (body != NULL && len > 0)
		root = json_loadb(body, len, 0, &jerr);
	if (hdr_request_id != NULL && *hdr_request_id)
		notion_copy_word(ans->request_id, sizeof(ans->request_id),
		    hdr_request_id);
	else
		notion_copy_word(ans->request_id, sizeof(ans->request_id),
		    json_str(root, "request_id"));
	if (status >= 200 && status <= 299)
		code = classify_success(kind, want_id, status, root, where,
		    ans);
	else
		code = classify_error(kind, status, root, where, ans);
	json_decref(root);
	return code;
}
