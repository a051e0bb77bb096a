/*
 * compress: the codecs of compressed exports (contract section 17), on
 * zlib (gzip) and libzstd. Nothing here is a hand-written codec.
 *
 * The output is a sequence of frames: a gzip member or a zstd frame each.
 * Concatenated frames are one valid .gz / .zst file (RFC 1952 section 2.2;
 * the zstd format allows consecutive frames), which gzip -t, zstd -t, zcat
 * and Python's gzip read as the concatenation of their contents. The export
 * runner ends one frame per spool chunk, so that a resumed job starts a new
 * frame exactly where the interrupted one would have.
 *
 * Deterministic: the same input fed in the same frames with the same codec,
 * level and library version gives the same bytes. gzip members have mtime 0,
 * no file name or comment, OS byte 3 (Unix) and no header CRC; zstd frames
 * are single-threaded (nbWorkers 0), without a dictionary, with the content
 * checksum and without the content size (unknown while streaming).
 *
 * Usage: compress_new(), then for each frame any number of compress_feed()
 * calls and one compress_end(), each appending what it produced to out;
 * compress_free(). A frame with no input is a valid empty frame. Errors
 * (a library failure) return -1 and log; out may then hold a partial frame
 * that the caller must drop.
 */
#ifndef OPS_COMPRESS_H
#define OPS_COMPRESS_H

#include <stddef.h>

#include "buf.h"

enum compress_codec {
	COMPRESS_NONE = 0,
	COMPRESS_GZIP,
	COMPRESS_ZSTD
};

/* Levels accepted by compress_new() (export.gzip_level, export.zstd_level). */
#define COMPRESS_GZIP_LEVEL_MIN	1
#define COMPRESS_GZIP_LEVEL_MAX	9
#define COMPRESS_ZSTD_LEVEL_MIN	1
#define COMPRESS_ZSTD_LEVEL_MAX	19

/* "none", "gzip", "zstd" to the codec: 0, or -1 for anything else. */
int	compress_codec_parse(const char *name, enum compress_codec *out);
/* The API name of a codec ("none", "gzip", "zstd"). */
const char *compress_codec_name(enum compress_codec c);
/* The file name suffix: "" , ".gz", ".zst". */
const char *compress_suffix(enum compress_codec c);
/* The download's Content-Type, or NULL for none (the format's own). */
const char *compress_content_type(enum compress_codec c);

struct compressor;

/*
 * A compressor of codec (not COMPRESS_NONE) at level (within the codec's
 * range above), or NULL (logged) when the library cannot start one.
 */
struct compressor *compress_new(enum compress_codec codec, int level);
/* Compress len bytes of in into the current frame (opened if none is). */
int	compress_feed(struct compressor *c, const void *in, size_t len,
	    struct buf *out);
/* End the current frame (an empty one if nothing was fed). */
int	compress_end(struct compressor *c, struct buf *out);
/* One whole frame of in: compress_feed() + compress_end(). */
int	compress_frame(struct compressor *c, const void *in, size_t len,
	    struct buf *out);
void	compress_free(struct compressor *c);

#endif
