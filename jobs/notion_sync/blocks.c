/*
 * blocks: Markdown to Notion blocks. See blocks.h for the mapping.
 */
#include "blocks.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmark-gfm.h>
#include <cmark-gfm-core-extensions.h>

#include "buf.h"
#include "utf8.h"
#include "xalloc.h"
#include "xjson.h"

/* One run of text with one style, before the 2,000-unit split. */
struct seg {
	struct buf	 text;
	bool		 bold, italic, strike, code;
	char		*url;		/* NULL: no link */
};

struct segs {
	struct seg	*v;
	size_t		 n, cap;
};

struct style {
	bool		 bold, italic, strike, code;
	const char	*url;
};

/* The Markdown source, for literal fallbacks (by line numbers). */
struct src {
	const char	*md;
	size_t		 len;
};

static void	convert_one(const struct src *src, cmark_node *n, json_t *out,
		    int depth);

/* jansson fails only when out of memory: abort then (xalloc.h). */
static json_t *
jcheck(json_t *v)
{
	return xnonnull(v);
}

static const char *
node_type(cmark_node *n)
{
	const char *t = cmark_node_get_type_string(n);

	return t ? t : "";
}

/*
 * Rich text segments.
 */

static void
segs_free(struct segs *s)
{
	for (size_t i = 0; i < s->n; i++) {
		buf_free(&s->v[i].text);
		free(s->v[i].url);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static bool
same_style(const struct seg *a, const struct style *st)
{
	if (a->bold != st->bold || a->italic != st->italic ||
	    a->strike != st->strike || a->code != st->code)
		return false;
	if (a->url == NULL || st->url == NULL)
		return a->url == st->url;
	return strcmp(a->url, st->url) == 0;
}

static void
segs_add(struct segs *s, const char *text, size_t len, const struct style *st)
{
	struct seg *g;

	if (len == 0)
		return;
	if (s->n > 0 && same_style(&s->v[s->n - 1], st)) {
		buf_append(&s->v[s->n - 1].text, text, len);
		return;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
	}
	g = &s->v[s->n++];
	memset(g, 0, sizeof(*g));
	buf_init(&g->text);
	buf_append(&g->text, text, len);
	g->bold = st->bold;
	g->italic = st->italic;
	g->strike = st->strike;
	g->code = st->code;
	if (st->url)
		g->url = xstrdup(st->url);
}

static void
segs_adds(struct segs *s, const char *text, const struct style *st)
{
	if (text)
		segs_add(s, text, strlen(text), st);
}

/* Notion accepts absolute http(s) and mailto links only. */
static bool
url_usable(const char *url)
{
	size_t n;

	if (url == NULL)
		return false;
	n = strlen(url);
	if (n == 0 || n > 2000)
		return false;
	return strncmp(url, "https://", 8) == 0 ||
	    strncmp(url, "http://", 7) == 0 || strncmp(url, "mailto:", 7) == 0;
}

static void
inlines(cmark_node *parent, struct style st, struct segs *out)
{
	for (cmark_node *n = cmark_node_first_child(parent); n;
	    n = cmark_node_next(n)) {
		struct style sub = st;
		const char *t = node_type(n);

		switch (cmark_node_get_type(n)) {
		case CMARK_NODE_TEXT:
		case CMARK_NODE_HTML_INLINE:
			segs_adds(out, cmark_node_get_literal(n), &st);
			break;
		case CMARK_NODE_CODE:
			sub.code = true;
			segs_adds(out, cmark_node_get_literal(n), &sub);
			break;
		case CMARK_NODE_SOFTBREAK:
			segs_adds(out, " ", &st);
			break;
		case CMARK_NODE_LINEBREAK:
			segs_adds(out, "\n", &st);
			break;
		case CMARK_NODE_EMPH:
			sub.italic = true;
			inlines(n, sub, out);
			break;
		case CMARK_NODE_STRONG:
			sub.bold = true;
			inlines(n, sub, out);
			break;
		case CMARK_NODE_LINK:
		case CMARK_NODE_IMAGE:
			if (url_usable(cmark_node_get_url(n)))
				sub.url = cmark_node_get_url(n);
			inlines(n, sub, out);
			break;
		default:
			if (strcmp(t, "strikethrough") == 0) {
				sub.strike = true;
				inlines(n, sub, out);
			} else if (cmark_node_get_literal(n))
				segs_adds(out, cmark_node_get_literal(n), &st);
			else
				inlines(n, st, out);
			break;
		}
	}
}

/*
 * Length of the UTF-8 sequence at s (n > 0 bytes left) and its UTF-16
 * units (2 above U+FFFF). The text is valid UTF-8 (cmark-gfm replaces bad
 * input, literal text goes through valid_utf8()); a bad byte would count
 * as one unit of its own.
 */
static size_t
utf8_len(const unsigned char *s, size_t n, size_t *units)
{
	uint32_t cp = 0;
	size_t k = utf8_decode(s, n, &cp);

	*units = cp > 0xffff ? 2 : 1;
	return k ? k : 1;
}

static json_t *
rich_object(const struct seg *g, const char *p, size_t len)
{
	json_t *o = jcheck(json_object()), *text = jcheck(json_object());
	json_t *ann;

	xjson_set(o, "type", json_string("text"));
	xjson_set(text, "content", jcheck(json_stringn(p, len)));
	if (g->url) {
		json_t *link = jcheck(json_object());

		xjson_set(link, "url", json_string(g->url));
		xjson_set(text, "link", link);
	}
	xjson_set(o, "text", text);
	if (g->bold || g->italic || g->strike || g->code) {
		ann = jcheck(json_object());
		if (g->bold)
			xjson_set(ann, "bold", json_true());
		if (g->italic)
			xjson_set(ann, "italic", json_true());
		if (g->strike)
			xjson_set(ann, "strikethrough", json_true());
		if (g->code)
			xjson_set(ann, "code", json_true());
		xjson_set(o, "annotations", ann);
	}
	return o;
}

/*
 * The segments as rich text arrays: each object at most BLOCKS_TEXT_MAX
 * UTF-16 units, each array at most BLOCKS_ARRAY_MAX objects and about
 * BLOCKS_RICH_BYTES_MAX bytes. Returns an array of arrays (at least one,
 * possibly empty).
 */
static json_t *
rich_arrays(const struct segs *s)
{
	json_t *all = jcheck(json_array()), *cur = jcheck(json_array());
	size_t bytes = 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct seg *g = &s->v[i];
		const unsigned char *p = (const unsigned char *)g->text.data;
		size_t n = g->text.len, off = 0;

		while (off < n) {
			size_t start = off, units = 0, u, k;

			while (off < n) {
				k = utf8_len(p + off, n - off, &u);
				if (units + u > BLOCKS_TEXT_MAX)
					break;
				units += u;
				off += k;
			}
			if (json_array_size(cur) == BLOCKS_ARRAY_MAX ||
			    (json_array_size(cur) > 0 &&
			    bytes + (off - start) > BLOCKS_RICH_BYTES_MAX)) {
				xjson_push(all, cur);
				cur = jcheck(json_array());
				bytes = 0;
			}
			xjson_push(cur, rich_object(g, (const char *)p + start,
			    off - start));
			bytes += off - start;
		}
	}
	xjson_push(all, cur);
	return all;
}

/*
 * Blocks.
 */

static json_t *
block_new(const char *type, json_t **body)
{
	json_t *b = jcheck(json_object());

	*body = jcheck(json_object());
	xjson_set(b, "type", json_string(type));
	xjson_set(b, type, *body);
	return b;
}

json_t *
blocks_children(const json_t *block)
{
	const char *type = json_string_value(json_object_get(block, "type"));
	json_t *body = type ? json_object_get(block, type) : NULL;
	json_t *kids = body ? json_object_get(body, "children") : NULL;

	return json_is_array(kids) && json_array_size(kids) > 0 ? kids : NULL;
}

int
blocks_type_nests(const char *type)
{
	static const char *const nests[] = { "paragraph", "bulleted_list_item",
	    "numbered_list_item", "quote", "table", "toggle", "to_do",
	    "callout" };

	for (size_t i = 0; i < sizeof(nests) / sizeof(nests[0]); i++)
		if (strcmp(type, nests[i]) == 0)
			return 1;
	return 0;
}

size_t
blocks_count(const json_t *blocks)
{
	size_t n = 0, i;
	json_t *b;

	json_array_foreach(blocks, i, b) {
		json_t *kids = blocks_children(b);

		n += 1 + (kids ? blocks_count(kids) : 0);
	}
	return n;
}

/*
 * Emit blocks of type for segs: the first takes children (may be NULL, then
 * stolen); a text too long for one block continues in more blocks of the
 * same type (paragraph for headings, lists and quotes).
 */
static void
emit_text(json_t *out, const char *type, const struct segs *segs,
    json_t *children, const char *language)
{
	json_t *arrays = rich_arrays(segs), *arr;
	size_t i;

	json_array_foreach(arrays, i, arr) {
		const char *t = type;
		json_t *body, *b;

		if (i > 0 && strcmp(type, "code") != 0)
			t = "paragraph";
		b = block_new(t, &body);
		xjson_set(body, "rich_text", json_incref(arr));
		if (strcmp(t, "code") == 0)
			xjson_set(body, "language", json_string(language));
		if (i == 0 && children && json_array_size(children) > 0)
			xjson_set(body, "children", json_incref(children));
		xjson_push(out, b);
	}
	json_decref(arrays);
	json_decref(children);
}

/* Append text to b with every ill-formed UTF-8 sequence as U+FFFD. */
static void
valid_utf8(struct buf *b, const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t k;

	while (len > 0) {
		if ((k = utf8_decode(p, len, NULL)) == 0) {
			buf_appends(b, "\xef\xbf\xbd");
			k = 1;
		} else
			buf_append(b, p, k);
		p += k;
		len -= k;
	}
}

static void
emit_plain(json_t *out, const char *type, const char *text, size_t len,
    const char *language)
{
	struct segs s = { 0 };
	struct style st = { 0 };
	struct buf clean = BUF_INIT;

	valid_utf8(&clean, text, len);
	segs_add(&s, buf_str(&clean), clean.len, &st);
	buf_free(&clean);
	emit_text(out, type, &s, NULL, language);
	segs_free(&s);
}

/* The literal source lines of node n, as a paragraph. */
static void
emit_literal(const struct src *src, cmark_node *n, json_t *out)
{
	int first = cmark_node_get_start_line(n), last = cmark_node_get_end_line(n);
	const char *p = src->md, *end = src->md + src->len, *from = NULL;
	const char *to = end;
	int line = 1;

	for (; p <= end; p++) {
		if (line == first && from == NULL)
			from = p;
		if (p == end)
			break;
		if (*p == '\n') {
			if (line == last) {
				to = p;
				break;
			}
			line++;
		}
	}
	if (from == NULL || first < 1 || last < first)
		from = to = end;
	emit_plain(out, "paragraph", from, (size_t)(to - from), NULL);
}

/* Notion's code languages for the info strings the docs use. */
static const char *
code_language(const char *info)
{
	static const struct { const char *md, *notion; } map[] = {
		{ "c", "c" }, { "h", "c" }, { "cpp", "c++" }, { "c++", "c++" },
		{ "sh", "shell" }, { "shell", "shell" }, { "bash", "bash" },
		{ "console", "shell" }, { "json", "json" }, { "yaml", "yaml" },
		{ "yml", "yaml" }, { "sql", "sql" }, { "python", "python" },
		{ "py", "python" }, { "js", "javascript" },
		{ "javascript", "javascript" }, { "ts", "typescript" },
		{ "typescript", "typescript" }, { "go", "go" }, { "rust", "rust" },
		{ "diff", "diff" }, { "makefile", "makefile" },
		{ "make", "makefile" }, { "markdown", "markdown" },
		{ "md", "markdown" }, { "html", "html" }, { "xml", "xml" },
		{ "css", "css" }, { "ini", "plain text" }, { "toml", "toml" },
		{ "docker", "docker" }, { "dockerfile", "docker" },
		{ "text", "plain text" }, { "txt", "plain text" },
		{ "plaintext", "plain text" }, { "graphql", "graphql" },
		{ "perl", "perl" }, { "awk", "shell" }, { "nginx", "plain text" },
		{ "http", "plain text" }, { "promql", "plain text" },
	};
	char word[32];
	size_t n = 0;

	if (info == NULL)
		return "plain text";
	while (*info == ' ' || *info == '\t')
		info++;
	while (info[n] && info[n] != ' ' && info[n] != '\t' && info[n] != '{' &&
	    n + 1 < sizeof(word)) {
		char c = info[n];

		word[n++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	word[n] = '\0';
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(word, map[i].md) == 0)
			return map[i].notion;
	return "plain text";
}

static void
emit_code(cmark_node *n, json_t *out)
{
	const char *lit = cmark_node_get_literal(n);
	size_t len = lit ? strlen(lit) : 0;

	if (len > 0 && lit[len - 1] == '\n')
		len--;
	emit_plain(out, "code", lit ? lit : "", len,
	    code_language(cmark_node_get_fence_info(n)));
}

/*
 * A container whose first paragraph is its text (list item, quote) and
 * whose other blocks are its children.
 */
static void
emit_container(const struct src *src, cmark_node *n, const char *type,
    json_t *out, int depth)
{
	struct segs s = { 0 };
	struct style st = { 0 };
	json_t *kids = jcheck(json_array());
	cmark_node *first = cmark_node_first_child(n), *c;

	if (first && cmark_node_get_type(first) == CMARK_NODE_PARAGRAPH) {
		inlines(first, st, &s);
		first = cmark_node_next(first);
	}
	for (c = first; c; c = cmark_node_next(c))
		convert_one(src, c, kids, depth + 1);
	emit_text(out, type, &s, kids, NULL);
	segs_free(&s);
}

static json_t *
table_cell(cmark_node *cell)
{
	struct segs s = { 0 };
	struct style st = { 0 };
	json_t *arrays, *first;

	inlines(cell, st, &s);
	arrays = rich_arrays(&s);
	segs_free(&s);
	/* a cell is one rich text array: more than fits is cut, marked */
	first = json_incref(json_array_get(arrays, 0));
	if (json_array_size(arrays) > 1)
		xjson_push(first, rich_object(&(struct seg){ .text = BUF_INIT },
		    " [cut: the cell exceeds Notion's limits]", 40));
	json_decref(arrays);
	return first;
}

static void
emit_table(cmark_node *n, json_t *out)
{
	int width = (int)cmark_gfm_extensions_get_table_columns(n);
	json_t *body, *b = block_new("table", &body), *rows;
	bool header = false;

	rows = jcheck(json_array());
	for (cmark_node *r = cmark_node_first_child(n); r;
	    r = cmark_node_next(r)) {
		json_t *rb, *row = block_new("table_row", &rb);
		json_t *cells = jcheck(json_array());
		int k = 0;

		if (r == cmark_node_first_child(n) &&
		    cmark_gfm_extensions_get_table_row_is_header(r))
			header = true;
		for (cmark_node *c = cmark_node_first_child(r);
		    c && k < width; c = cmark_node_next(c), k++)
			xjson_push(cells, table_cell(c));
		for (; k < width; k++)
			xjson_push(cells, jcheck(json_array()));
		xjson_set(rb, "cells", cells);
		xjson_push(rows, row);
	}
	xjson_set(body, "table_width", json_integer(width));
	xjson_set(body, "has_column_header", json_boolean(header));
	xjson_set(body, "has_row_header", json_false());
	xjson_set(body, "children", rows);
	xjson_push(out, b);
}

static void
convert_one(const struct src *src, cmark_node *n, json_t *out,
    int depth)
{
	struct segs s = { 0 };
	struct style st = { 0 };
	const char *t = node_type(n);
	char heading[16];
	int level;

	if (depth > BLOCKS_MAX_DEPTH) {
		emit_literal(src, n, out);
		return;
	}
	switch (cmark_node_get_type(n)) {
	case CMARK_NODE_HEADING:
		level = cmark_node_get_heading_level(n);
		snprintf(heading, sizeof(heading), "heading_%d",
		    level < 1 ? 1 : level > 3 ? 3 : level);
		inlines(n, st, &s);
		emit_text(out, heading, &s, NULL, NULL);
		break;
	case CMARK_NODE_PARAGRAPH:
		inlines(n, st, &s);
		emit_text(out, "paragraph", &s, NULL, NULL);
		break;
	case CMARK_NODE_LIST:
		for (cmark_node *item = cmark_node_first_child(n); item;
		    item = cmark_node_next(item))
			emit_container(src, item,
			    cmark_node_get_list_type(n) == CMARK_ORDERED_LIST ?
			    "numbered_list_item" : "bulleted_list_item", out,
			    depth);
		break;
	case CMARK_NODE_BLOCK_QUOTE:
		emit_container(src, n, "quote", out, depth);
		break;
	case CMARK_NODE_CODE_BLOCK:
		emit_code(n, out);
		break;
	case CMARK_NODE_THEMATIC_BREAK: {
		json_t *body;

		xjson_push(out, block_new("divider", &body));
		break;
	}
	default:
		if (strcmp(t, "table") == 0)
			emit_table(n, out);
		else
			emit_literal(src, n, out);
		break;
	}
	segs_free(&s);
}


json_t *
blocks_from_markdown(const char *md, size_t len, char *err, size_t errsz)
{
	static const char *const exts[] = { "table", "strikethrough",
	    "autolink" };
	cmark_parser *p;
	cmark_node *doc;
	struct src src = { md, len };
	json_t *out;

	cmark_gfm_core_extensions_ensure_registered();
	if ((p = cmark_parser_new(CMARK_OPT_VALIDATE_UTF8)) == NULL) {
		snprintf(err, errsz, "cannot create the Markdown parser");
		return NULL;
	}
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		cmark_syntax_extension *e = cmark_find_syntax_extension(exts[i]);

		if (e == NULL || !cmark_parser_attach_syntax_extension(p, e)) {
			snprintf(err, errsz, "the cmark-gfm extension %s is "
			    "missing: install libcmark-gfm-extensions", exts[i]);
			cmark_parser_free(p);
			return NULL;
		}
	}
	cmark_parser_feed(p, md, len);
	if ((doc = cmark_parser_finish(p)) == NULL) {
		snprintf(err, errsz, "the Markdown parser failed");
		cmark_parser_free(p);
		return NULL;
	}
	out = jcheck(json_array());
	for (cmark_node *n = cmark_node_first_child(doc); n;
	    n = cmark_node_next(n))
		convert_one(&src, n, out, 0);
	cmark_node_free(doc);
	cmark_parser_free(p);
	return out;
}
