/*
 * fuzz_fcgi_rec: the FastCGI records the poll lane reads from nginx
 * (fcgi/fcgi_rec.c), and the records it writes back.
 *
 * The input is the bytes of a connection. Oracles: a request taken spans
 * no more than the input, has an id in 1..65535 and at most
 * FCGI_REC_MAX_PARAMS parameters, each "NAME=value" with a non-empty name;
 * the input as an answer's stdout comes back whole from its records.
 */
#include <string.h>

#include "buf.h"
#include "fcgi_rec.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fcgi_req r;
	struct buf out = BUF_INIT, back = BUF_INIT;
	size_t used, off = 0;
	int n;

	used = fcgi_req_parse(data, size, &r);
	FUZZ_CHECK(used <= size);
	if (used > 0) {
		FUZZ_CHECK(r.id >= 1 && r.id <= 65535);
		for (n = 0; r.envp[n]; n++) {
			const char *eq = strchr(r.envp[n], '=');

			FUZZ_CHECK(eq != NULL && eq != r.envp[n]);
		}
		FUZZ_CHECK(n <= FCGI_REC_MAX_PARAMS);
	} else {
		FUZZ_CHECK(r.envp[0] == NULL && r.strings == NULL);
	}
	fcgi_req_free(&r);
	fcgi_rec_stdout(&out, 1, data, size);
	fcgi_rec_end(&out, 1);
	while (off + 8 <= out.len) {
		const unsigned char *h = (const unsigned char *)out.data + off;
		size_t len = (size_t)(h[4] << 8 | h[5]);

		FUZZ_CHECK(off + 8 + len <= out.len);
		if (h[1] == 6)
			buf_append(&back, h + 8, len);
		off += 8 + len + h[6];
	}
	FUZZ_CHECK(off == out.len);
	FUZZ_CHECK(back.len == size && (size == 0 ||
	    memcmp(back.data, data, size) == 0));
	buf_free(&out);
	buf_free(&back);
	return 0;
}
