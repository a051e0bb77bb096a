/*
 * fuzz_range: the download's Range header parser and file name
 * (lib/export.c: export_range_parse, export_filename).
 *
 * Input: 8 bytes of file size (any value; negative sizes are the caller's
 * bug, so they are folded into 0..2^62), then the Range header text; the
 * same text is the tenant id of the file name. Oracles: a satisfiable
 * range lies inside the file (0 <= first <= last < total), a whole-file
 * answer is [0, total - 1], an unsatisfiable one only when the start is at
 * or past the end (or the file is empty); the file name is made of
 * [A-Za-z0-9._-] only (it goes into a quoted header) and fits its buffer.
 */
#include <ctype.h>
#include <string.h>

#include "export.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct export_file f;
	long long total = 0, first, last;
	char *hdr, name[256];
	int rc;

	if (size < 8)
		return 0;
	memcpy(&total, data, 8);
	total = (long long)((unsigned long long)total % (1ULL << 62));
	hdr = strndup((const char *)data + 8, size - 8);
	FUZZ_CHECK(hdr != NULL);

	rc = export_range_parse(hdr, total, &first, &last);
	FUZZ_CHECK(rc >= -1 && rc <= 1);
	if (rc == 1) {
		FUZZ_CHECK(first >= 0 && first <= last && last < total);
	} else if (rc == 0) {
		FUZZ_CHECK(first == 0 && last == total - 1);
	} else {
		FUZZ_CHECK(strncmp(hdr, "bytes=", 6) == 0);
	}
	FUZZ_CHECK(export_range_parse(NULL, total, &first, &last) == 0);

	memset(&f, 0, sizeof(f));
	snprintf(f.tenant_id, sizeof(f.tenant_id), "%s", hdr);
	snprintf(f.id, sizeof(f.id), "0123abcd-0000-4000-8000-000000000000");
	snprintf(f.from, sizeof(f.from), "20261101T000000Z");
	snprintf(f.to, sizeof(f.to), "20261102T000000Z");
	snprintf(f.format, sizeof(f.format), "%s", size % 2 ? "csv" : "jsonl");
	export_filename(&f, name, sizeof(name));
	FUZZ_CHECK(strncmp(name, "audit-", 6) == 0);
	for (const char *p = name; *p; p++)
		FUZZ_CHECK(isalnum((unsigned char)*p) || *p == '.' ||
		    *p == '_' || *p == '-');
	free(hdr);
	return 0;
}
