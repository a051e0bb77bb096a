/*
 * publish: write documents to Notion. See publish.h for the order of the
 * writes and why an interrupted run converges.
 */
#include "publish.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blocks.h"
#include "buf.h"
#include "xalloc.h"
#include "xjson.h"

/* The metadata database's properties and their Notion types. */
static const struct { const char *name, *type; } row_props[] = {
	{ "Name", "title" },
	{ "Source", "rich_text" },
	{ "SHA-256", "rich_text" },
	{ "Commit", "rich_text" },
	{ "OpenAPI version", "rich_text" },
	{ "Synced at", "date" },
};

const char *
doc_state_name(enum doc_state s)
{
	switch (s) {
	case DOC_UNCHANGED:
		return "unchanged";
	case DOC_CHANGED:
		return "changed";
	case DOC_UPDATED:
		return "updated";
	case DOC_FAILED:
		return "failed";
	case DOC_NOT_REACHED:
		break;
	}
	return "not reached";
}

static void
oom_check(void *p)
{
	xnonnull(p);
}

static void
jappend(json_t *a, json_t *v)
{
	xjson_push(a, json_incref(v));
}

/*
 * One call; body (may be NULL) is serialized here. On success the parsed
 * answer is returned (caller decrefs), else NULL (a finding was added).
 */
static json_t *
call(struct publisher *p, const char *method, const char *path,
    const json_t *body, int not_idempotent, const char *label)
{
	struct notion_call nc;
	char *text = NULL;
	json_t *answer;

	memset(&nc, 0, sizeof(nc));
	nc.method = method;
	nc.path = path;
	nc.kind = NOTION_KIND_CALL;
	nc.label = label;
	nc.not_idempotent = not_idempotent;
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		oom_check(text);
		nc.body = text;
		nc.body_len = strlen(text);
	}
	if (method && strcmp(method, "GET") != 0 &&
	    !(strcmp(method, "POST") == 0 && strstr(path, "/query")))
		p->writes++;
	answer = notion_client_json(p->c, &nc, p->r);
	free(text);
	return answer;
}

/* A paginated read (notion_client_each()) through p's client. */
static int
each_page(struct publisher *p, const char *method, const char *path,
    const json_t *query, const char *label,
    int (*each)(json_t *item, void *ctx), void *ctx)
{
	struct notion_call nc;

	memset(&nc, 0, sizeof(nc));
	nc.method = method;
	nc.path = path;
	nc.kind = NOTION_KIND_CALL;
	nc.label = label;
	return notion_client_each(p->c, &nc, query, p->r, each, ctx);
}

int
publish_check_database(struct publisher *p)
{
	char path[96], label[NOTION_LABEL_MAX];
	json_t *db, *props;
	int rc = 0;

	snprintf(path, sizeof(path), "/v1/databases/%s", p->database);
	notion_target_label(NOTION_KIND_DATABASE, p->database, label,
	    sizeof(label));
	if ((db = call(p, "GET", path, NULL, 0, label)) == NULL)
		return -1;
	props = json_object_get(db, "properties");
	for (size_t i = 0; i < sizeof(row_props) / sizeof(row_props[0]); i++) {
		const char *type = json_string_value(json_object_get(
		    json_object_get(props, row_props[i].name), "type"));

		if (type == NULL || strcmp(type, row_props[i].type) != 0) {
			notion_report_add(p->r, NOTION_AUTH_UNEXPECTED, 0, NULL,
			    label, "the metadata database has no %s property "
			    "\"%s\": add it in Notion (see docs/notion-sync.md)",
			    row_props[i].type, row_props[i].name);
			rc = -1;
		}
	}
	json_decref(db);
	return rc;
}

/* Concatenated plain text of a title or rich_text property. */
static void
prop_text(const json_t *row, const char *name, char *out, size_t outsz)
{
	const json_t *prop = json_object_get(json_object_get(row,
	    "properties"), name);
	const char *type = json_string_value(json_object_get(prop, "type"));
	const json_t *arr = type ? json_object_get(prop, type) : NULL;
	struct buf b = BUF_INIT;
	size_t i;
	json_t *rt;

	json_array_foreach(arr, i, rt) {
		const char *t = json_string_value(json_object_get(rt,
		    "plain_text"));

		if (t == NULL)
			t = json_string_value(json_object_get(json_object_get(
			    rt, "text"), "content"));
		if (t)
			buf_appends(&b, t);
	}
	snprintf(out, outsz, "%s", buf_str(&b));
	buf_free(&b);
}

struct rows_ctx {
	struct sync_doc	*docs;
	size_t		 n;
};

/* One row of the database: fill the doc it names (the first row wins). */
static int
take_row(json_t *row, void *ctx)
{
	struct rows_ctx *rc = ctx;
	char name[256], id[NOTION_ID_LEN + 1];
	const char *rid = json_string_value(json_object_get(row, "id"));

	if (rid == NULL || notion_id_normalize(rid, id) == -1)
		return 0;
	prop_text(row, "Name", name, sizeof(name));
	for (size_t k = 0; k < rc->n; k++) {
		struct sync_doc *d = &rc->docs[k];

		if (d->row_id[0] || strcmp(d->m->name, name) != 0)
			continue;
		memcpy(d->row_id, id, sizeof(id));
		prop_text(row, "SHA-256", d->row_sha, sizeof(d->row_sha));
	}
	return 0;
}

int
publish_read_rows(struct publisher *p, struct sync_doc *docs, size_t n)
{
	struct rows_ctx ctx = { docs, n };
	char path[128], label[NOTION_LABEL_MAX];
	json_t *q = xnonnull(json_object());
	int rc;

	snprintf(path, sizeof(path), "/v1/databases/%s/query", p->database);
	snprintf(label, sizeof(label), "database:%s query", p->database);
	rc = each_page(p, "POST", path, q, label, take_row, &ctx);
	json_decref(q);
	return rc;
}

static json_t *
rich(const char *text)
{
	json_t *a = json_array(), *o = json_object(), *t = json_object();

	oom_check(a);
	oom_check(o);
	oom_check(t);
	xjson_set(t, "content", json_string(text));
	xjson_set(o, "type", json_string("text"));
	xjson_set(o, "text", t);
	if (*text)
		xjson_push(a, o);
	else
		json_decref(o);
	return a;
}

static json_t *
text_prop(const char *key, const char *text)
{
	json_t *o = json_object();

	oom_check(o);
	xjson_set(o, key, rich(text));
	return o;
}

static json_t *
row_properties(const struct publisher *p, const struct sync_doc *d)
{
	json_t *props = json_object(), *date = json_object();
	json_t *when = json_object();

	oom_check(props);
	oom_check(date);
	oom_check(when);
	xjson_set(props, "Name", text_prop("title", d->m->name));
	xjson_set(props, "Source", text_prop("rich_text",
	    d->m->source));
	xjson_set(props, "SHA-256", text_prop("rich_text", d->sha));
	xjson_set(props, "Commit", text_prop("rich_text",
	    p->commit));
	xjson_set(props, "OpenAPI version", text_prop("rich_text",
	    p->version));
	xjson_set(when, "start", json_string(p->synced_at));
	xjson_set(date, "date", when);
	xjson_set(props, "Synced at", date);
	return props;
}

/* PATCH the row's properties, or create the row. */
static int
write_row(struct publisher *p, struct sync_doc *d, json_t *props)
{
	json_t *body = json_object(), *ans;
	char path[96], label[NOTION_LABEL_MAX + 32];

	oom_check(body);
	xjson_set(body, "properties", props);
	if (d->row_id[0]) {
		snprintf(path, sizeof(path), "/v1/pages/%s", d->row_id);
		snprintf(label, sizeof(label), "row:%s", d->row_id);
		ans = call(p, "PATCH", path, body, 0, label);
	} else {
		json_t *parent = json_object();

		oom_check(parent);
		xjson_set(parent, "database_id",
		    json_string(p->database));
		xjson_set(body, "parent", parent);
		snprintf(label, sizeof(label), "new row in database:%s",
		    p->database);
		ans = call(p, "POST", "/v1/pages", body, 1, label);
	}
	json_decref(body);
	json_decref(ans);
	return ans ? 0 : -1;
}

/* One block of the page: its id, unless it is a child page or database. */
static int
take_block(json_t *b, void *ctx)
{
	json_t *ids = ctx;
	const char *type = json_string_value(json_object_get(b, "type"));
	const char *id = json_string_value(json_object_get(b, "id"));

	if (id != NULL && !(type && (strcmp(type, "child_page") == 0 ||
	    strcmp(type, "child_database") == 0)))
		xjson_push(ids, json_string(id));
	return 0;
}

/* Step 1: the ids of the page's blocks, child pages and databases left out. */
static int
list_blocks(struct publisher *p, const char *page, json_t *ids)
{
	char path[256], label[NOTION_LABEL_MAX];

	notion_target_label(NOTION_KIND_PAGE, page, label, sizeof(label));
	snprintf(path, sizeof(path), "/v1/blocks/%s/children?page_size=100",
	    page);
	return each_page(p, "GET", path, NULL, label, take_block, ids);
}

/* Step 3. */
static int
archive_blocks(struct publisher *p, struct sync_doc *d, const json_t *ids)
{
	size_t i;
	json_t *id;

	json_array_foreach(ids, i, id) {
		char path[128], label[96], nid[NOTION_ID_LEN + 1];
		json_t *ans;

		if (notion_id_normalize(json_string_value(id), nid) == -1)
			continue;
		snprintf(path, sizeof(path), "/v1/blocks/%s", nid);
		snprintf(label, sizeof(label), "archive block:%s", nid);
		if ((ans = call(p, "DELETE", path, NULL, 0, label)) == NULL)
			return -1;
		json_decref(ans);
		d->archived++;
	}
	return 0;
}

/* A shallow copy of block b without its children. */
static json_t *
without_children(const json_t *b)
{
	const char *type = json_string_value(json_object_get(b, "type"));
	json_t *copy = json_deep_copy(b), *body;

	oom_check(copy);
	body = type ? json_object_get(copy, type) : NULL;
	if (body)
		(void)json_object_del(body, "children");	/* absent: fine */
	return copy;
}

static bool
all_leaves(const json_t *kids)
{
	size_t i;
	json_t *k;

	json_array_foreach(kids, i, k)
		if (blocks_children(k))
			return false;
	return true;
}

static size_t
json_size(const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT);
	size_t n;

	oom_check(s);
	n = strlen(s);
	free(s);
	return n;
}

/* Children still to send to the block created at position pos. */
struct later {
	size_t	 pos;
	json_t	*kids;		/* new reference: an array */
};

/*
 * Step 4: append blocks under parent. A request carries at most 100
 * blocks at its top level; a block's children ride along when they are
 * all leaves and fit (a table takes up to 100 rows with it, as Notion
 * requires at least one), otherwise they follow in requests of their own to
 * the block's new id, depth first, so the page reads in order.
 */
static int
append_tree(struct publisher *p, struct sync_doc *d, const char *parent,
    const json_t *blocks)
{
	size_t n = json_array_size(blocks), i = 0;
	char path[128], label[96];

	snprintf(path, sizeof(path), "/v1/blocks/%s/children", parent);
	snprintf(label, sizeof(label), "append to block:%s", parent);
	while (i < n) {
		json_t *batch = json_array(), *body = json_object(), *ans;
		struct later later[PUBLISH_BATCH_MAX];
		size_t nlater = 0, count = 0, bytes = 0;
		int rc = 0;

		oom_check(batch);
		oom_check(body);
		while (i < n && json_array_size(batch) < PUBLISH_BATCH_MAX) {
			const json_t *b = json_array_get(blocks, i);
			json_t *kids = blocks_children(b), *copy, *inl = NULL;
			const char *type = json_string_value(json_object_get(b,
			    "type"));
			size_t nk = kids ? json_array_size(kids) : 0, take = 0;
			size_t sz;

			copy = without_children(b);
			if (nk && type && strcmp(type, "table") == 0)
				take = nk < PUBLISH_BATCH_MAX ? nk :
				    PUBLISH_BATCH_MAX;
			else if (nk && nk <= PUBLISH_BATCH_MAX &&
			    all_leaves(kids) &&
			    count + 1 + nk <= PUBLISH_REQUEST_BLOCKS)
				take = nk;
			if (take) {
				inl = json_array();
				oom_check(inl);
				for (size_t k = 0; k < take; k++) {
					json_t *row = json_array_get(kids, k);

					/* a big table row set goes in slices */
					if (k > 0 && json_size(inl) +
					    json_size(row) > PUBLISH_REQUEST_BYTES / 2)
						break;
					jappend(inl, row);
				}
				take = json_array_size(inl);
				xjson_set(json_object_get(copy, type),
				    "children", inl);
			}
			sz = json_size(copy);
			if (json_array_size(batch) > 0 &&
			    (bytes + sz > PUBLISH_REQUEST_BYTES ||
			    count + 1 + take > PUBLISH_REQUEST_BLOCKS)) {
				json_decref(copy);
				break;
			}
			if (take < nk) {
				json_t *rest = json_array();

				oom_check(rest);
				for (size_t k = take; k < nk; k++)
					jappend(rest,
					    json_array_get(kids, k));
				later[nlater].pos = json_array_size(batch);
				later[nlater++].kids = rest;
			}
			xjson_push(batch, copy);
			count += 1 + take;
			bytes += sz;
			i++;
		}
		xjson_set(body, "children", batch);
		ans = call(p, "PATCH", path, body, 1, label);
		json_decref(body);
		if (ans == NULL)
			rc = -1;
		else {
			json_t *res = json_object_get(ans, "results");

			d->appended += count;
			for (size_t k = 0; rc == 0 && k < nlater; k++) {
				const char *id = json_string_value(json_object_get(
				    json_array_get(res, later[k].pos), "id"));
				char nid[NOTION_ID_LEN + 1];

				if (id == NULL || notion_id_normalize(id, nid)) {
					notion_report_add(p->r,
					    NOTION_AUTH_UNEXPECTED, 0, NULL,
					    label, "%s: the answer does not "
					    "name the new blocks", label);
					rc = -1;
				} else
					rc = append_tree(p, d, nid,
					    later[k].kids);
			}
			json_decref(ans);
		}
		for (size_t k = 0; k < nlater; k++)
			json_decref(later[k].kids);
		if (rc == -1)
			return -1;
	}
	return 0;
}

/*
 * Before the row says "complete": the page holds as many blocks as were
 * sent, no more (another writer at the same time, an append that Notion
 * applied twice) and no fewer.
 */
static int
verify_page(struct publisher *p, struct sync_doc *d)
{
	json_t *now = json_array();
	size_t have, want = json_array_size(d->blocks);
	char label[NOTION_LABEL_MAX];
	int rc = 0;

	oom_check(now);
	if (list_blocks(p, d->m->page, now) == -1) {
		json_decref(now);
		return -1;
	}
	have = json_array_size(now);
	if (have != want) {
		notion_target_label(NOTION_KIND_PAGE, d->m->page, label,
		    sizeof(label));
		notion_report_add(p->r, NOTION_AUTH_UNEXPECTED, 0, NULL, label,
		    "%s holds %zu blocks after the append, %zu were sent: "
		    "another writer at the same time? Its row stays without "
		    "SHA-256 and the next run replaces the page", label, have,
		    want);
		rc = -1;
	}
	json_decref(now);
	return rc;
}

int
publish_doc(struct publisher *p, struct sync_doc *d)
{
	json_t *ids = json_array(), *props;
	int rc = -1;

	oom_check(ids);
	d->state = DOC_FAILED;
	if (list_blocks(p, d->m->page, ids) == -1)
		goto out;
	if (d->row_id[0] && d->row_sha[0]) {
		props = json_object();
		oom_check(props);
		xjson_set(props, "SHA-256", text_prop("rich_text",
		    ""));
		if (write_row(p, d, props) == -1)
			goto out;
		d->row_sha[0] = '\0';
	}
	if (archive_blocks(p, d, ids) == -1 ||
	    append_tree(p, d, d->m->page, d->blocks) == -1 ||
	    verify_page(p, d) == -1 ||
	    write_row(p, d, row_properties(p, d)) == -1)
		goto out;
	d->state = DOC_UPDATED;
	rc = 0;
out:
	json_decref(ids);
	return rc;
}
