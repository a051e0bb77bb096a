/*
 * notion_int: what the files of notion/ share and nothing outside notion/
 * uses (the public API is notion.h).
 */
#ifndef OPS_NOTION_INT_H
#define OPS_NOTION_INT_H

#include "notion.h"

#define DAY	86400L

/*
 * Copy src into dst for display: control characters and invalid UTF-8
 * become '?', the copy stops before a character that would not fit.
 */
void	notion_copy_text(char *dst, size_t dstsz, const char *src);
/* Copy only printable ASCII without spaces (ids from headers and bodies). */
void	notion_copy_word(char *dst, size_t dstsz, const char *src);

/* "page", "database", or "users/me" for the others. */
const char *notion_kind_name(enum notion_kind kind);

/*
 * notion_classify() with the request named by where ("page:<id>", "append
 * to block <id>") instead of the target label. NOTION_KIND_CALL: a 2xx
 * answer is NOTION_OK when its body is a JSON object; the error statuses
 * are classified as for the checks (404 object_not_found is
 * TARGET_UNSHARED, a 400 validation_error UNEXPECTED with Notion's message
 * in the detail).
 */
enum notion_code notion_classify_as(enum notion_kind kind,
	    const char *want_id, const char *where, long status,
	    const char *body, size_t len, const char *hdr_request_id,
	    struct notion_answer *ans);

#endif
