/* compress: frames that round-trip, are deterministic, and end where asked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#define ZLIB_CONST
#include <zlib.h>
#include <zstd.h>

#include "buf.h"
#include "compress.h"

/* n bytes of audit-like text, with an incompressible tail when noisy */
static void
make_input(struct buf *b, size_t n, unsigned seed, int noisy)
{
	unsigned x = seed * 2654435761u + 1;

	buf_reset(b);
	while (b->len < n) {
		x = x * 1103515245u + 12345u;
		if (noisy && b->len > n / 2)
			buf_appendc(b, (char)(x >> 16));
		else
			buf_appendf(b, "{\"id\":%u,\"action\":\"user.login\","
			    "\"n\":%u}\n", x % 100000, (x >> 8) % 977);
	}
	b->len = n;
}

/* Decompress one gzip member at in; returns the bytes it used, 0 on error. */
static size_t
gunzip_member(const unsigned char *in, size_t len, struct buf *out)
{
	z_stream z;
	unsigned char tmp[16384];
	int rc;
	size_t used;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return 0;
	z.next_in = in;
	z.avail_in = (uInt)len;
	do {
		z.next_out = tmp;
		z.avail_out = sizeof(tmp);
		rc = inflate(&z, Z_NO_FLUSH);
		if (rc != Z_OK && rc != Z_STREAM_END) {
			inflateEnd(&z);
			return 0;
		}
		buf_append(out, tmp, sizeof(tmp) - z.avail_out);
	} while (rc != Z_STREAM_END);
	used = len - z.avail_in;
	inflateEnd(&z);
	return used;
}

/* Decompress a whole file of members or frames; 0 when every byte is used. */
static int
unpack(enum compress_codec codec, const struct buf *in, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)in->data;
	size_t left = in->len;

	buf_reset(out);
	while (left > 0) {
		size_t used;

		if (codec == COMPRESS_GZIP) {
			used = gunzip_member(p, left, out);
		} else {
			unsigned long long sz;

			used = ZSTD_findFrameCompressedSize(p, left);
			if (ZSTD_isError(used))
				return -1;
			sz = ZSTD_getFrameContentSize(p, used);
			/* streaming frames leave the size out */
			if (sz != ZSTD_CONTENTSIZE_UNKNOWN)
				return -1;
			{
				ZSTD_DCtx *d = ZSTD_createDCtx();
				ZSTD_inBuffer ib = { p, used, 0 };
				unsigned char tmp[16384];
				size_t rc;

				do {
					ZSTD_outBuffer ob = { tmp, sizeof(tmp), 0 };

					rc = ZSTD_decompressStream(d, &ob, &ib);
					if (ZSTD_isError(rc)) {
						ZSTD_freeDCtx(d);
						return -1;
					}
					buf_append(out, tmp, ob.pos);
				} while (rc != 0);
				ZSTD_freeDCtx(d);
			}
		}
		if (used == 0)
			return -1;
		p += used;
		left -= used;
	}
	return 0;
}

static void
test_names(void **state)
{
	enum compress_codec c;

	(void)state;
	assert_int_equal(compress_codec_parse("gzip", &c), 0);
	assert_int_equal(c, COMPRESS_GZIP);
	assert_int_equal(compress_codec_parse("zstd", &c), 0);
	assert_int_equal(c, COMPRESS_ZSTD);
	assert_int_equal(compress_codec_parse("none", &c), 0);
	assert_int_equal(c, COMPRESS_NONE);
	assert_int_equal(compress_codec_parse("GZIP", &c), -1);
	assert_int_equal(compress_codec_parse("", &c), -1);
	assert_int_equal(compress_codec_parse(NULL, &c), -1);
	assert_string_equal(compress_suffix(COMPRESS_GZIP), ".gz");
	assert_string_equal(compress_suffix(COMPRESS_ZSTD), ".zst");
	assert_string_equal(compress_suffix(COMPRESS_NONE), "");
	assert_string_equal(compress_content_type(COMPRESS_GZIP),
	    "application/gzip");
	assert_string_equal(compress_content_type(COMPRESS_ZSTD),
	    "application/zstd");
	assert_null(compress_content_type(COMPRESS_NONE));
	assert_string_equal(compress_codec_name(COMPRESS_ZSTD), "zstd");
	/* levels outside the documented ranges, and no codec, are refused */
	assert_null(compress_new(COMPRESS_GZIP, 0));
	assert_null(compress_new(COMPRESS_GZIP, 10));
	assert_null(compress_new(COMPRESS_ZSTD, 0));
	assert_null(compress_new(COMPRESS_ZSTD, 20));
	assert_null(compress_new(COMPRESS_NONE, 1));
}

/*
 * Frames of several inputs (one empty, one larger than the output step,
 * one partly incompressible): the file decompresses to the inputs joined,
 * and each frame on its own to its input.
 */
static void
round_trip(enum compress_codec codec, int level)
{
	static const size_t sizes[] = { 1000, 0, 300000, 5, 200000 };
	struct compressor *c = compress_new(codec, level);
	struct buf in = BUF_INIT, all = BUF_INIT, file = BUF_INIT,
	    frame = BUF_INIT, back = BUF_INIT;

	assert_non_null(c);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		make_input(&in, sizes[i], (unsigned)i, i == 4);
		buf_append(&all, in.data, in.len);
		buf_reset(&frame);
		assert_int_equal(compress_frame(c, in.data, in.len, &frame), 0);
		assert_true(frame.len > 0);	/* even an empty frame */
		if (codec == COMPRESS_GZIP) {
			/* member header: magic, deflate, no flags (no name,
			 * comment or header CRC), mtime 0, OS 3 (Unix) */
			static const unsigned char hd[] = { 0x1f, 0x8b, 8, 0,
			    0, 0, 0, 0 };

			assert_memory_equal(frame.data, hd, sizeof(hd));
			assert_int_equal((unsigned char)frame.data[9], 3);
		} else {
			/* the frame ends exactly where the output does */
			assert_int_equal(ZSTD_findFrameCompressedSize(
			    frame.data, frame.len), frame.len);
		}
		assert_int_equal(unpack(codec, &frame, &back), 0);
		assert_int_equal(back.len, in.len);
		if (in.len > 0)
			assert_memory_equal(back.data, in.data, in.len);
		buf_append(&file, frame.data, frame.len);
	}
	assert_int_equal(unpack(codec, &file, &back), 0);
	assert_int_equal(back.len, all.len);
	assert_memory_equal(back.data, all.data, all.len);
	/* text compresses */
	make_input(&in, 300000, 9, 0);
	buf_reset(&frame);
	assert_int_equal(compress_frame(c, in.data, in.len, &frame), 0);
	assert_true(frame.len < in.len / 4);
	compress_free(c);
	buf_free(&in);
	buf_free(&all);
	buf_free(&file);
	buf_free(&frame);
	buf_free(&back);
}

static void
test_round_trip_gzip(void **state)
{
	(void)state;
	round_trip(COMPRESS_GZIP, 6);
	round_trip(COMPRESS_GZIP, 1);
}

static void
test_round_trip_zstd(void **state)
{
	(void)state;
	round_trip(COMPRESS_ZSTD, 3);
	round_trip(COMPRESS_ZSTD, 19);
}

/*
 * The same input gives the same bytes: from a fresh compressor, from one
 * that compressed other frames before (what a resumed runner is to an
 * uninterrupted one), and fed in pieces or at once.
 */
static void
determinism(enum compress_codec codec, int level)
{
	struct compressor *a = compress_new(codec, level);
	struct compressor *b = compress_new(codec, level);
	struct buf in = BUF_INIT, other = BUF_INIT, x = BUF_INIT,
	    y = BUF_INIT, z = BUF_INIT;

	assert_non_null(a);
	assert_non_null(b);
	make_input(&in, 250000, 42, 0);
	make_input(&other, 90000, 7, 1);
	assert_int_equal(compress_frame(a, in.data, in.len, &x), 0);
	/* b has a history: a frame of other input, one left empty */
	assert_int_equal(compress_frame(b, other.data, other.len, &z), 0);
	assert_int_equal(compress_end(b, &z), 0);
	buf_reset(&z);
	assert_int_equal(compress_frame(b, in.data, in.len, &y), 0);
	assert_int_equal(x.len, y.len);
	assert_memory_equal(x.data, y.data, x.len);
	/* fed in uneven pieces */
	for (size_t off = 0, step = 1; off < in.len; off += step, step *= 3) {
		size_t n = in.len - off < step ? in.len - off : step;

		assert_int_equal(compress_feed(b, in.data + off, n, &z), 0);
	}
	assert_int_equal(compress_end(b, &z), 0);
	assert_int_equal(x.len, z.len);
	assert_memory_equal(x.data, z.data, x.len);
	compress_free(a);
	compress_free(b);
	buf_free(&in);
	buf_free(&other);
	buf_free(&x);
	buf_free(&y);
	buf_free(&z);
}

static void
test_determinism_gzip(void **state)
{
	(void)state;
	determinism(COMPRESS_GZIP, 6);
}

static void
test_determinism_zstd(void **state)
{
	(void)state;
	determinism(COMPRESS_ZSTD, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_round_trip_gzip),
		cmocka_unit_test(test_round_trip_zstd),
		cmocka_unit_test(test_determinism_gzip),
		cmocka_unit_test(test_determinism_zstd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
