/*
 * paging: the one loop over a paginated Notion list (notion.h, "Paging"):
 * a database query's rows, a block's children.
 */
#include "notion_int.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xalloc.h"
#include "xjson.h"

#define CURSOR_MAX	128

/*
 * The next page of an answer: 1 with cursor set, 0 when there is none, -1
 * (a finding) when Notion's cursor does not fit, which would otherwise page
 * on from a cut cursor or stop early, silently.
 */
static int
next_cursor(const json_t *ans, const char *label, char *cursor,
    size_t cursorsz, struct notion_report *r)
{
	const char *next = json_string_value(json_object_get(ans,
	    "next_cursor"));

	if (!json_is_true(json_object_get(ans, "has_more")) || next == NULL)
		return 0;
	if (strlen(next) >= cursorsz) {
		notion_report_add(r, NOTION_AUTH_UNEXPECTED, 0, NULL, label,
		    "%s answered a next_cursor of %zu bytes, longer than the "
		    "%zu this client keeps", label, strlen(next), cursorsz - 1);
		return -1;
	}
	memcpy(cursor, next, strlen(next) + 1);
	return 1;
}

int
notion_client_each(struct notion_client *c, const struct notion_call *call,
    const json_t *query, struct notion_report *r,
    int (*each)(json_t *item, void *ctx), void *ctx)
{
	char cursor[CURSOR_MAX] = "";
	int more = 1;

	while (more) {
		struct notion_call pc = *call;
		struct buf path = BUF_INIT;
		char *text = NULL;
		json_t *ans, *item;
		size_t i;
		int rc = 0;

		if (query != NULL) {
			json_t *q = xnonnull(json_deep_copy(query));

			xjson_set(q, "page_size", json_integer(100));
			if (cursor[0])
				xjson_set(q, "start_cursor",
				    json_string(cursor));
			text = xnonnull(json_dumps(q, JSON_COMPACT));
			json_decref(q);
			pc.body = text;
			pc.body_len = strlen(text);
		} else {
			buf_appendf(&path, "%s%s%s", call->path, cursor[0] ?
			    "&start_cursor=" : "", cursor);
			pc.path = buf_str(&path);
		}
		ans = notion_client_json(c, &pc, r);
		free(text);
		buf_free(&path);
		if (ans == NULL)
			return -1;
		json_array_foreach(json_object_get(ans, "results"), i, item)
			if ((rc = each(item, ctx)) != 0)
				break;
		if (rc == 0)
			rc = more = next_cursor(ans, call->label, cursor,
			    sizeof(cursor), r);
		json_decref(ans);
		if (rc < 0)
			return -1;
	}
	return 0;
}
