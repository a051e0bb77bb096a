/*
 * fuzz_notion: how notion/ reads what Notion (or anything in its place)
 * answers, and the strings it reads from the environment.
 *
 * Input: byte 0 picks the kind of request (users/me, page, database, any
 * other call), bytes 1-2 the HTTP status (100..599), the rest is the body.
 * Oracles: the classification is a code of the catalog (never a rotation
 * code); 429 is always RATE_LIMITED and 5xx always UPSTREAM; NOTION_OK on a
 * 2xx means the body is a JSON object; the texts meant for humans are
 * NUL-terminated within their arrays and hold no control character. The
 * body as a C string also goes through the Retry-After, id and target
 * parsers: a normalized id normalizes to itself.
 */
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "notion.h"

static void
check_text(const char *s, size_t sz)
{
	size_t n = strnlen(s, sz);

	FUZZ_CHECK(n < sz);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum notion_kind kinds[] = { NOTION_KIND_ME,
	    NOTION_KIND_PAGE, NOTION_KIND_DATABASE, NOTION_KIND_CALL };
	const char *want = "01234567-89ab-cdef-0123-456789abcdef";
	struct notion_answer ans;
	struct notion_target t[4];
	enum notion_code code;
	char id[NOTION_ID_LEN + 1], again[NOTION_ID_LEN + 1], err[256];
	char *str;
	long status, secs;
	size_t n;

	if (size < 3)
		return 0;
	status = 100 + (((long)data[1] << 8 | data[2]) % 500);
	code = notion_classify(kinds[data[0] % 4], data[0] % 4 == 0 ? NULL :
	    want, status, (const char *)data + 3, size - 3, NULL, &ans);
	FUZZ_CHECK(code >= NOTION_OK && code < NOTION_AUTH_ROTATION_OVERDUE);
	if (status == 429)
		FUZZ_CHECK(code == NOTION_AUTH_RATE_LIMITED);
	if (status >= 500)
		FUZZ_CHECK(code == NOTION_AUTH_UPSTREAM);
	if (code == NOTION_OK) {
		json_error_t jerr;
		json_t *root = json_loadb((const char *)data + 3, size - 3, 0,
		    &jerr);

		FUZZ_CHECK(status >= 200 && status <= 299);
		FUZZ_CHECK(json_is_object(root));
		json_decref(root);
	}
	check_text(ans.detail, sizeof(ans.detail));
	check_text(ans.request_id, sizeof(ans.request_id));
	check_text(ans.error_code, sizeof(ans.error_code));

	str = strndup((const char *)data + 3, size - 3);
	FUZZ_CHECK(str != NULL);
	(void)notion_retry_after_parse(str, 1445412480, &secs);
	if (notion_id_normalize(str, id) == 0) {
		FUZZ_CHECK(strlen(id) == NOTION_ID_LEN);
		FUZZ_CHECK(notion_id_normalize(id, again) == 0);
		FUZZ_CHECK(strcmp(id, again) == 0);
	}
	if (notion_targets_parse(str, t, 4, &n, err, sizeof(err)) == 0)
		FUZZ_CHECK(n <= 4);
	else
		check_text(err, sizeof(err));
	free(str);
	return 0;
}
