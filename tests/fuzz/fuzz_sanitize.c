/*
 * fuzz_sanitize: the streaming payload sanitizer (lib/sanitize.c).
 *
 * The input is the JSON text. Oracles, when it is accepted:
 *  - idempotence: sanitizing the output again gives the output, byte for
 *    byte;
 *  - no leak: in the output (read back with jansson when jansson can hold
 *    it), every member under a secret key is "[REDACTED]", no string value
 *    is still secret-looking (JWT, "Bearer ..."), and nothing nests deeper
 *    than SANITIZE_MAX_DEPTH;
 *  - agreement: the jansson variant (sanitize_json) gives the same
 *    document for inputs without duplicate keys.
 * One extra key ("ssn") is configured, so the extra-key path runs too.
 */
#include <jansson.h>
#include <string.h>

#include "fuzz.h"
#include "sanitize.h"

static struct sanitize_rules *rules;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const extra[] = { "ssn" };

	(void)argc;
	(void)argv;
	rules = sanitize_rules_new(extra, 1);
	return rules == NULL ? -1 : 0;
}

static void
check_no_leak(const json_t *v, int depth)
{
	const char *k;
	json_t *x;
	size_t i;

	FUZZ_CHECK(depth <= SANITIZE_MAX_DEPTH || !(json_is_object(v) ||
	    json_is_array(v)));
	if (json_is_string(v)) {
		FUZZ_CHECK(!sanitize_value_is_secret(json_string_value(v),
		    json_string_length(v)));
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			check_no_leak(x, depth + 1);
	} else if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, x) {
			if (sanitize_key_is_secret(rules, k, strlen(k))) {
				FUZZ_CHECK(json_is_string(x) && strcmp(
				    json_string_value(x), SANITIZE_REDACTED) == 0);
				continue;
			}
			check_no_leak(x, depth + 1);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out = BUF_INIT, again = BUF_INIT;
	json_t *doc, *in, *viaj;

	if (sanitize_json_text(rules, (const char *)data, size, &out) != 0) {
		FUZZ_CHECK(out.len == 0);
		buf_free(&out);
		return 0;
	}
	FUZZ_CHECK(sanitize_json_text(rules, out.data, out.len, &again) == 0);
	FUZZ_CHECK(again.len == out.len &&
	    memcmp(again.data, out.data, out.len) == 0);

	/* jansson refuses some valid JSON (huge numbers, \u0000 in keys) */
	doc = json_loadb(out.data, out.len, JSON_DECODE_ANY, NULL);
	if (doc != NULL) {
		check_no_leak(doc, 1);
		in = json_loadb((const char *)data, size, JSON_DECODE_ANY |
		    JSON_REJECT_DUPLICATES, NULL);
		if (in != NULL) {
			viaj = sanitize_json(rules, in);
			FUZZ_CHECK(json_equal(viaj, doc));
			json_decref(viaj);
			json_decref(in);
		}
		json_decref(doc);
	}
	buf_free(&out);
	buf_free(&again);
	return 0;
}
