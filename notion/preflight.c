/*
 * preflight: the checks of contract section 7 on top of the client:
 * users/me, every target, the rotation policy (notion.h).
 */
#include "notion_int.h"

#include <stdio.h>
#include <string.h>


void
notion_check_rotation(struct notion_report *r, time_t issued,
    long rotate_days, long warn_days, time_t now)
{
	struct notion_rotation rot;
	char is[32], dl[32];

	notion_rotation_check(issued, rotate_days, warn_days, now, &rot);
	notion_format_time(issued, is, sizeof(is));
	notion_format_time(rot.deadline, dl, sizeof(dl));
	if (rot.code == NOTION_AUTH_ROTATION_OVERDUE)
		notion_report_add(r, rot.code, 0, NULL, NULL, "the token issued "
		    "%s had to be rotated by %s (NOTION_TOKEN_ROTATE_DAYS=%ld), "
		    "%ld day(s) ago: rotate it now", is, dl, rotate_days,
		    rot.days);
	else if (rot.code == NOTION_AUTH_ROTATION_DUE)
		notion_report_add(r, rot.code, 0, NULL, NULL, "the token issued "
		    "%s must be rotated by %s (NOTION_TOKEN_ROTATE_DAYS=%ld): "
		    "%ld day(s) left, inside the %ld-day warning window", is,
		    dl, rotate_days, rot.days, warn_days);
}

/* GET one object (users/me, a page, a database) through the client. */
/* GET users/me (id NULL), a page or a database through notion_client_call(). */
static enum notion_code
notion_client_check(struct notion_client *c, enum notion_kind kind,
    const char *id, struct notion_answer *ans, struct notion_report *r)
{
	struct notion_call call;
	char label[NOTION_LABEL_MAX], path[96];

	notion_target_label(kind, id, label, sizeof(label));
	if (kind == NOTION_KIND_ME)
		snprintf(path, sizeof(path), "/v1/users/me");
	else
		snprintf(path, sizeof(path), "/v1/%s/%s",
		    kind == NOTION_KIND_PAGE ? "pages" : "databases", id);
	memset(&call, 0, sizeof(call));
	call.path = path;
	call.kind = kind;
	call.want_id = id;
	call.label = label;
	return notion_client_call(c, &call, ans, r);
}

void
notion_check_api_client(struct notion_client *c, struct notion_report *r)
{
	const struct notion_options *o = c->o;
	struct notion_answer ans;

	r->ntargets = o->ntargets;
	if (notion_client_check(c, NOTION_KIND_ME, NULL, &ans, r) != NOTION_OK)
		return;
	r->bot_known = 1;
	memcpy(r->bot_name, ans.bot_name, sizeof(r->bot_name));
	memcpy(r->workspace_name, ans.workspace_name,
	    sizeof(r->workspace_name));
	for (size_t i = 0; i < o->ntargets; i++) {
		const struct notion_target *tg = &o->targets[i];

		if (notion_client_check(c, tg->kind, tg->id, &ans, r) !=
		    NOTION_OK || r->nchecked == NOTION_MAX_TARGETS)
			continue;
		notion_target_label(tg->kind, tg->id, r->checked[r->nchecked],
		    sizeof(r->checked[0]));
		r->nchecked++;
	}
}

void
notion_check_api(const struct notion_options *o,
    const struct notion_transport *t, time_t wall_now,
    struct notion_report *r)
{
	struct notion_client c;

	notion_client_init(&c, o, t, wall_now);
	notion_check_api_client(&c, r);
	notion_client_free(&c);
}
