/*
 * manifest: what ops-notion-sync publishes (docs/notion-sync.yaml), and the
 * route table it generates from the OpenAPI file. For ops-notion-sync only.
 *
 *   database: ID or $VARIABLE      the Notion database of metadata rows
 *   documents:
 *     - name: Error catalog         unique; the row's title
 *       source: docs/api/errors.md  relative to --root
 *       page: ID or $VARIABLE       the Notion page whose content it becomes
 *       generate: routes            optional: source is an OpenAPI file and
 *                                   the page gets its route table
 *
 * An id is 32 hex digits, dashes allowed; "$NAME" takes it from the
 * environment variable NAME (CI keeps the ids in repository variables).
 *
 * Ownership: struct manifest owns its strings; manifest_free() releases.
 */
#ifndef NOTION_SYNC_MANIFEST_H
#define NOTION_SYNC_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "notion.h"

#define MANIFEST_MAX_DOCS	(NOTION_MAX_TARGETS - 1)
#define MANIFEST_SOURCE_MAX	(8 * 1024 * 1024)

struct manifest_doc {
	char	*name;
	char	*source;
	char	 page[NOTION_ID_LEN + 1];
	bool	 routes;
};

struct manifest {
	char			 database[NOTION_ID_LEN + 1];
	struct manifest_doc	 docs[MANIFEST_MAX_DOCS];
	size_t			 ndocs;
};

/*
 * Files are read with read_file_max() under dirfd: the repository root
 * (--root), or AT_FDCWD for a path the operator named (an absolute
 * --manifest, --render FILE).
 */

/* Load and check path. 0, or -1 with one line in err ("FILE:LINE: ..."). */
int	manifest_load(struct manifest *m, int dirfd, const char *path,
	    char *err, size_t errsz);
void	manifest_free(struct manifest *m);

/*
 * The OpenAPI file at path: its info.version into version (may be NULL),
 * and, when md is not NULL, a Markdown route table (method, path, summary,
 * operationId) appended to md. 0, or -1 with one line in err.
 */
int	openapi_read(int dirfd, const char *path, char *version,
	    size_t versionsz, struct buf *md, char *err, size_t errsz);

/*
 * Read a whole file of at most max bytes into out. 0 or -1 (err). With
 * dirfd the repository root (contract section 18: files read for
 * publishing stay inside the repository), path must stay beneath it: it
 * is refused, naming it, when it is absolute, climbs out with "..", is or
 * passes through a symbolic link (even one pointing inside), or is not a
 * regular file. AT_FDCWD reads path as given.
 */
int	read_file_max(int dirfd, const char *path, size_t max,
	    struct buf *out, char *err, size_t errsz);

#endif
