/*
 * blocks: Markdown to Notion blocks, for ops-notion-sync only.
 *
 * The Markdown is parsed by cmark-gfm (CommonMark plus the GFM table,
 * strikethrough and autolink extensions); this module only maps its tree to
 * Notion's block JSON (API version 2022-06-28), as a jansson array of block
 * objects with nested blocks under "<type>.children":
 *
 *   heading 1..6        heading_1, heading_2, heading_3 (4..6 map to 3)
 *   paragraph           paragraph
 *   list / item         bulleted_list_item, numbered_list_item; the item's
 *                       first paragraph is its text, the rest its children
 *   code block          code, with the info string's first word mapped to a
 *                       Notion language ("plain text" when Notion has none)
 *   block quote         quote (first paragraph as text, the rest children)
 *   thematic break      divider
 *   GFM table           table (has_column_header) with table_row children
 *   anything else       a paragraph holding the literal source text
 *
 * Inline: bold, italic, strikethrough, code and links become rich text
 * annotations; soft breaks a space, hard breaks "\n". Links other than
 * http(s): and mailto: (relative links, anchors) keep their text without
 * the link, because Notion refuses them. Images become their alt text,
 * linked to the image. Raw HTML stays literal text.
 *
 * Notion's limits are applied here: a rich text object holds at most 2,000
 * UTF-16 code units (split at a character boundary), a rich text array at
 * most 100 objects and about 100 KB (a longer text continues in further
 * blocks of the same kind), nesting deeper than BLOCKS_MAX_DEPTH becomes
 * literal text. How many blocks go into one request is the publisher's job.
 *
 * Ownership: the returned array belongs to the caller (json_decref()).
 */
#ifndef NOTION_SYNC_BLOCKS_H
#define NOTION_SYNC_BLOCKS_H

#include <stddef.h>
#include <jansson.h>

#define BLOCKS_TEXT_MAX		2000	/* UTF-16 units per rich text */
#define BLOCKS_ARRAY_MAX	100	/* objects per rich text array */
#define BLOCKS_RICH_BYTES_MAX	(100 * 1024)	/* content bytes per block */
#define BLOCKS_MAX_DEPTH	12

/*
 * Render Markdown (len bytes, UTF-8) to a JSON array of blocks. Invalid
 * UTF-8 is replaced by U+FFFD by the parser. Returns NULL and one line in
 * err on failure (out of memory).
 */
json_t	*blocks_from_markdown(const char *md, size_t len, char *err,
	    size_t errsz);

/* How many blocks the tree holds, nested ones included. */
size_t	 blocks_count(const json_t *blocks);

/* The children array of a block (NULL when it has none). Borrowed. */
json_t	*blocks_children(const json_t *block);

/* 1 when a block of this type may have children in Notion. */
int	 blocks_type_nests(const char *type);

#endif
