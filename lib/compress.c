#include "compress.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define ZLIB_CONST	/* next_in is const */
#include <zlib.h>
#include <zstd.h>

#include "log.h"
#include "xalloc.h"

/* RFC 1952 OS byte: Unix, written explicitly rather than zlib's OS_CODE */
#define GZIP_OS_UNIX	3
/* room asked of out before each library call */
#define OUT_STEP	65536

struct compressor {
	enum compress_codec	 codec;
	int			 level;
	bool			 open;		/* a frame has begun */
	z_stream		 z;
	gz_header		 gzh;
	ZSTD_CCtx		*zc;
};

int
compress_codec_parse(const char *name, enum compress_codec *out)
{
	if (name == NULL)
		return -1;
	if (strcmp(name, "none") == 0)
		*out = COMPRESS_NONE;
	else if (strcmp(name, "gzip") == 0)
		*out = COMPRESS_GZIP;
	else if (strcmp(name, "zstd") == 0)
		*out = COMPRESS_ZSTD;
	else
		return -1;
	return 0;
}

const char *
compress_codec_name(enum compress_codec c)
{
	switch (c) {
	case COMPRESS_GZIP:	return "gzip";
	case COMPRESS_ZSTD:	return "zstd";
	default:		return "none";
	}
}

const char *
compress_suffix(enum compress_codec c)
{
	switch (c) {
	case COMPRESS_GZIP:	return ".gz";
	case COMPRESS_ZSTD:	return ".zst";
	default:		return "";
	}
}

const char *
compress_content_type(enum compress_codec c)
{
	switch (c) {
	case COMPRESS_GZIP:	return "application/gzip";
	case COMPRESS_ZSTD:	return "application/zstd";
	default:		return NULL;
	}
}

static int
zstd_ok(size_t rc, const char *what)
{
	if (!ZSTD_isError(rc))
		return 0;
	log_error("zstd %s failed: %s", what, ZSTD_getErrorName(rc));
	return -1;
}

struct compressor *
compress_new(enum compress_codec codec, int level)
{
	struct compressor *c;

	if (codec == COMPRESS_GZIP && (level < COMPRESS_GZIP_LEVEL_MIN ||
	    level > COMPRESS_GZIP_LEVEL_MAX)) {
		log_error("gzip level %d is outside %d..%d", level,
		    COMPRESS_GZIP_LEVEL_MIN, COMPRESS_GZIP_LEVEL_MAX);
		return NULL;
	}
	if (codec == COMPRESS_ZSTD && (level < COMPRESS_ZSTD_LEVEL_MIN ||
	    level > COMPRESS_ZSTD_LEVEL_MAX)) {
		log_error("zstd level %d is outside %d..%d", level,
		    COMPRESS_ZSTD_LEVEL_MIN, COMPRESS_ZSTD_LEVEL_MAX);
		return NULL;
	}
	if (codec != COMPRESS_GZIP && codec != COMPRESS_ZSTD) {
		log_error("compress_new: no codec to start");
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->codec = codec;
	c->level = level;
	if (codec == COMPRESS_GZIP) {
		/* windowBits 15 + 16: a gzip wrapper; memLevel 8 is zlib's
		 * default (deflateInit's) */
		if (deflateInit2(&c->z, level, Z_DEFLATED, 15 + 16, 8,
		    Z_DEFAULT_STRATEGY) != Z_OK) {
			log_error("cannot start a gzip compressor (zlib %s): %s",
			    zlibVersion(), c->z.msg ? c->z.msg : "out of memory");
			free(c);
			return NULL;
		}
		return c;
	}
	if ((c->zc = ZSTD_createCCtx()) == NULL) {
		log_error("cannot start a zstd compressor: out of memory");
		free(c);
		return NULL;
	}
	if (zstd_ok(ZSTD_CCtx_setParameter(c->zc, ZSTD_c_compressionLevel,
	    level), "level") != 0 ||
	    zstd_ok(ZSTD_CCtx_setParameter(c->zc, ZSTD_c_checksumFlag, 1),
	    "checksum flag") != 0 ||
	    zstd_ok(ZSTD_CCtx_setParameter(c->zc, ZSTD_c_contentSizeFlag, 0),
	    "content size flag") != 0 ||
	    zstd_ok(ZSTD_CCtx_setParameter(c->zc, ZSTD_c_nbWorkers, 0),
	    "workers") != 0) {
		compress_free(c);
		return NULL;
	}
	return c;
}

/* Start a gzip member: a fresh deflate state and the fixed header. */
static int
gzip_open(struct compressor *c)
{
	if (deflateReset(&c->z) != Z_OK) {
		log_error("cannot start a gzip member (zlib)");
		return -1;
	}
	memset(&c->gzh, 0, sizeof(c->gzh));
	c->gzh.time = 0;
	c->gzh.os = GZIP_OS_UNIX;
	if (deflateSetHeader(&c->z, &c->gzh) != Z_OK) {
		log_error("cannot set the gzip member header (zlib)");
		return -1;
	}
	return 0;
}

/* Run deflate over the pending input with flush, appending to out. */
static int
gzip_run(struct compressor *c, int flush, struct buf *out)
{
	int rc;

	do {
		buf_grow(out, OUT_STEP);
		c->z.next_out = (Bytef *)out->data + out->len;
		c->z.avail_out = (uInt)(out->cap - out->len - 1);
		rc = deflate(&c->z, flush);
		out->len = (size_t)((char *)c->z.next_out - out->data);
		out->data[out->len] = '\0';
		if (rc == Z_STREAM_ERROR) {
			log_error("gzip compression failed (zlib): %s",
			    c->z.msg ? c->z.msg : "stream error");
			return -1;
		}
	} while (flush == Z_FINISH ? rc != Z_STREAM_END :
	    (c->z.avail_in > 0 || c->z.avail_out == 0));
	return 0;
}

/* Run zstd over [in, len) with op, appending to out. */
static int
zstd_run(struct compressor *c, const void *in, size_t len,
    ZSTD_EndDirective op, struct buf *out)
{
	ZSTD_inBuffer ib = { in, len, 0 };
	size_t left;

	do {
		ZSTD_outBuffer ob;

		buf_grow(out, OUT_STEP);
		ob.dst = out->data + out->len;
		ob.size = out->cap - out->len - 1;
		ob.pos = 0;
		left = ZSTD_compressStream2(c->zc, &ob, &ib, op);
		out->len += ob.pos;
		out->data[out->len] = '\0';
		if (zstd_ok(left, "compression") != 0)
			return -1;
	} while (op == ZSTD_e_end ? left != 0 : ib.pos < ib.size);
	return 0;
}

int
compress_feed(struct compressor *c, const void *in, size_t len,
    struct buf *out)
{
	if (!c->open) {
		if (c->codec == COMPRESS_GZIP && gzip_open(c) != 0)
			return -1;
		if (c->codec == COMPRESS_ZSTD && zstd_ok(ZSTD_CCtx_reset(c->zc,
		    ZSTD_reset_session_only), "frame reset") != 0)
			return -1;
		c->open = true;
	}
	if (len == 0)
		return 0;
	if (c->codec == COMPRESS_ZSTD)
		return zstd_run(c, in, len, ZSTD_e_continue, out);
	/* avail_in is a uInt: feed more than 4 GiB in slices */
	while (len > 0) {
		size_t n = len > (size_t)1 << 30 ? (size_t)1 << 30 : len;

		c->z.next_in = in;
		c->z.avail_in = (uInt)n;
		if (gzip_run(c, Z_NO_FLUSH, out) != 0)
			return -1;
		in = (const char *)in + n;
		len -= n;
	}
	return 0;
}

int
compress_end(struct compressor *c, struct buf *out)
{
	int rc;

	if (compress_feed(c, NULL, 0, out) != 0)
		return -1;
	if (c->codec == COMPRESS_ZSTD)
		rc = zstd_run(c, NULL, 0, ZSTD_e_end, out);
	else {
		c->z.next_in = NULL;
		c->z.avail_in = 0;
		rc = gzip_run(c, Z_FINISH, out);
	}
	c->open = false;
	return rc;
}

int
compress_frame(struct compressor *c, const void *in, size_t len,
    struct buf *out)
{
	if (compress_feed(c, in, len, out) != 0)
		return -1;
	return compress_end(c, out);
}

void
compress_free(struct compressor *c)
{
	if (c == NULL)
		return;
	if (c->codec == COMPRESS_GZIP)
		(void)deflateEnd(&c->z);
	ZSTD_freeCCtx(c->zc);
	free(c);
}
