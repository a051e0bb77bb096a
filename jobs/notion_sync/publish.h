/*
 * publish: write documents to Notion, for ops-notion-sync only.
 *
 * Every call goes through the shared client (notion/notion.h: pacer, retries,
 * classification); a failed call has added its finding to the report, and
 * the functions here then return -1 so that the run stops at once.
 *
 * The metadata database must have these properties (checked before any
 * write): "Name" (title), "Source", "SHA-256", "Commit", "OpenAPI version"
 * (rich text) and "Synced at" (date). A row whose SHA-256 is S says: the
 * page holds exactly the rendering of a source with SHA-256 S. So a page is
 * replaced like this, and an interruption anywhere leaves a row that tells
 * the truth (an empty SHA-256 or no row: "being replaced"):
 *
 *   1. list the page's blocks (reads only)
 *   2. clear the row's SHA-256 (when the row exists)
 *   3. archive the old blocks (child pages and databases are left alone)
 *   4. append the new blocks: at most 100 per request, nested blocks in
 *      later requests to their parent, each request within Notion's size
 *      limits
 *   5. list the page again: it must hold exactly the blocks sent (else
 *      NOTION_AUTH_UNEXPECTED: another writer, or an append applied twice)
 *   6. write the row: name, source, SHA-256, commit, OpenAPI version, time
 *
 * The next run sees a row without the source's SHA-256 and replaces the
 * page again: it converges. An unchanged document costs no write at all.
 */
#ifndef NOTION_SYNC_PUBLISH_H
#define NOTION_SYNC_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "manifest.h"
#include "notion.h"

#define PUBLISH_BATCH_MAX	100	/* blocks per append (Notion) */
#define PUBLISH_REQUEST_BLOCKS	1000	/* blocks per request (Notion) */
#define PUBLISH_REQUEST_BYTES	(400 * 1024)	/* Notion allows 500 KB */

enum doc_state {
	DOC_UNCHANGED = 0,	/* the row has this SHA-256 */
	DOC_CHANGED,		/* would be replaced (dry run) */
	DOC_UPDATED,		/* replaced in this run */
	DOC_FAILED,		/* replacing it failed: see the findings */
	DOC_NOT_REACHED		/* the run stopped before it */
};

struct sync_doc {
	const struct manifest_doc	*m;
	char				 sha[65];	/* of the rendered source */
	json_t				*blocks;	/* owned */
	size_t				 nblocks;
	char				 row_id[NOTION_ID_LEN + 1]; /* "" */
	char				 row_sha[65];	/* "" */
	enum doc_state			 state;
	size_t				 archived;
	size_t				 appended;
};

struct publisher {
	struct notion_client	*c;
	struct notion_report	*r;
	const char		*database;	/* canonical id */
	const char		*commit;
	const char		*version;	/* OpenAPI info.version */
	char			 synced_at[32];
	unsigned long		 writes;	/* POST, PATCH, DELETE sent */
};

/* The database has the properties above. 0, or -1 (a finding). */
int	publish_check_database(struct publisher *p);

/* Read every row and fill row_id, row_sha of the docs. 0 or -1. */
int	publish_read_rows(struct publisher *p, struct sync_doc *docs,
	    size_t n);

/* Replace d's page and write its row (steps 1-6). 0 or -1. */
int	publish_doc(struct publisher *p, struct sync_doc *d);

const char *doc_state_name(enum doc_state s);

#endif
