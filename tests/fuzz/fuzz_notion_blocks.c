/*
 * fuzz_notion_blocks: Markdown to Notion blocks (jobs/notion_sync/blocks.c,
 * on cmark-gfm). Build: besides the library, link
 * jobs/notion_sync/blocks.c (built with -Ijobs/notion_sync and
 * `pkg-config --cflags libcmark-gfm`) and `pkg-config --libs libcmark-gfm`
 * -lcmark-gfm-extensions.
 *
 * Oracles: the conversion never fails; every block has a type whose body
 * is an object; only block types that may nest have children; every rich
 * text array holds at most 100 objects, each at most 2,000 UTF-16 units
 * (jansson keeps only valid UTF-8); a table's rows all have table_width
 * cells; blocks_count() agrees with a walk of the tree.
 */
#include <string.h>

#include <jansson.h>

#include "blocks.h"
#include "fuzz.h"

static size_t
units(const char *s)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p & 0xc0) != 0x80)
			n++;
		if (*p >= 0xf0)
			n++;	/* a surrogate pair in UTF-16 */
	}
	return n;
}

static void
check_rich(const json_t *arr)
{
	size_t i;
	json_t *rt;

	FUZZ_CHECK(json_is_array(arr));
	FUZZ_CHECK(json_array_size(arr) <= 100);
	json_array_foreach(arr, i, rt) {
		const char *c = json_string_value(json_object_get(
		    json_object_get(rt, "text"), "content"));

		FUZZ_CHECK(c != NULL);
		FUZZ_CHECK(units(c) <= 2000);
	}
}

static size_t
walk(const json_t *blocks, const char *parent)
{
	size_t i, n = 0;
	json_t *b;

	json_array_foreach(blocks, i, b) {
		const char *type = json_string_value(json_object_get(b, "type"));
		json_t *body, *kids, *cells;

		FUZZ_CHECK(type != NULL);
		body = json_object_get(b, type);
		FUZZ_CHECK(json_is_object(body));
		if (json_object_get(body, "rich_text"))
			check_rich(json_object_get(body, "rich_text"));
		if (strcmp(type, "table_row") == 0) {
			size_t k;
			json_t *c;

			FUZZ_CHECK(parent && strcmp(parent, "table") == 0);
			cells = json_object_get(body, "cells");
			json_array_foreach(cells, k, c)
				check_rich(c);
		}
		if (strcmp(type, "table") == 0) {
			json_int_t w = json_integer_value(json_object_get(body,
			    "table_width"));
			size_t k;
			json_t *row;

			json_array_foreach(json_object_get(body, "children"), k,
			    row)
				FUZZ_CHECK((json_int_t)json_array_size(
				    json_object_get(json_object_get(row,
				    "table_row"), "cells")) == w);
		}
		n++;
		if ((kids = blocks_children(b)) != NULL) {
			FUZZ_CHECK(blocks_type_nests(type));
			n += walk(kids, type);
		}
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	json_t *blocks;

	if (size > 64 * 1024)
		return 0;
	blocks = blocks_from_markdown((const char *)data, size, err,
	    sizeof(err));
	FUZZ_CHECK(blocks != NULL);
	FUZZ_CHECK(walk(blocks, NULL) == blocks_count(blocks));
	json_decref(blocks);
	return 0;
}
