-- 0009_export_compression: compressed exports (contract section 17).
--
-- A job asks for compression 'none' (the default, every job before this
-- migration), 'gzip' or 'zstd'; the runner writes one gzip member or zstd
-- frame per spool chunk (docs/export.md, "Compression"). The chunk table
-- does not change: its byte_offset, byte_count and sha256 describe the
-- stored (compressed) bytes, so Range reads and the digest check while
-- streaming work on the compressed file as on any other.
--
-- Columns:
--   compression                 the request, immutable like the other
--                               request columns (trigger below, OPE02)
--   compression_level           the codec level, fixed by the first claim
--                               from the runner's export.gzip_level /
--                               export.zstd_level, so that a resumed
--                               attempt compresses its chunks exactly as the
--                               first one did even if the config changed
--                               in between; NULL for 'none'
--   progress_uncompressed_bytes the content written so far, committed with
--                               each chunk like progress_bytes (which counts
--                               stored bytes); max_bytes bounds this one
--   total_uncompressed_bytes    the content of a DONE job; NULL for jobs
--                               finished before this migration (their
--                               content is total_bytes)
--
-- max_bytes bounds the uncompressed content. The stored bytes of a
-- compressed job may exceed it only in the degenerate case of a tiny
-- content (a gzip member alone is 20 bytes), so the totals check asks
-- total_bytes <= max_bytes of uncompressed jobs only.
ALTER TABLE tb_audit_export_job
	ADD COLUMN compression text NOT NULL DEFAULT 'none',
	ADD COLUMN compression_level integer,
	ADD COLUMN progress_uncompressed_bytes bigint NOT NULL DEFAULT 0,
	ADD COLUMN total_uncompressed_bytes bigint,
	ADD CONSTRAINT export_job_compression_check
		CHECK (compression IN ('none', 'gzip', 'zstd')),
	ADD CONSTRAINT export_job_compression_level_check
		CHECK (compression_level IS NULL OR (compression_level
		       BETWEEN 1 AND 22 AND compression <> 'none')),
	ADD CONSTRAINT export_job_uncompressed_check
		CHECK (progress_uncompressed_bytes >= 0
		       AND total_uncompressed_bytes BETWEEN 0 AND max_bytes),
	ADD CONSTRAINT export_job_pending_uncompressed_check
		CHECK (state <> 'PENDING' OR (progress_uncompressed_bytes = 0
		       AND total_uncompressed_bytes IS NULL
		       AND compression_level IS NULL));

ALTER TABLE tb_audit_export_job DROP CONSTRAINT export_job_totals_check;
ALTER TABLE tb_audit_export_job ADD CONSTRAINT export_job_totals_check
	CHECK (total_rows BETWEEN 0 AND max_rows AND total_bytes >= 0
	       AND (compression <> 'none' OR total_bytes <= max_bytes));

COMMENT ON COLUMN tb_audit_export_job.compression IS
	'none, gzip or zstd (contract section 17): one gzip member or zstd frame per chunk; chunk bytes, total_bytes and sha256 are of the compressed file.';
COMMENT ON COLUMN tb_audit_export_job.compression_level IS
	'Codec level fixed by the first claim (export.gzip_level / export.zstd_level), kept for resumed attempts.';

-- compression is part of the request; its level, once fixed, stays.
CREATE FUNCTION tb_audit_export_job_compression_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.compression IS DISTINCT FROM OLD.compression
	   OR (OLD.compression_level IS NOT NULL
	       AND NEW.compression_level IS DISTINCT FROM OLD.compression_level) THEN
		RAISE EXCEPTION 'export job column % cannot be changed',
			CASE WHEN NEW.compression IS DISTINCT FROM OLD.compression
			     THEN 'compression' ELSE 'compression_level' END
			USING ERRCODE = 'OPE02',
			      DETAIL = format('export job %s', OLD.id);
	END IF;
	RETURN NEW;
END;
$$;

CREATE TRIGGER tb_audit_export_job_compression_guard
	BEFORE UPDATE OF compression, compression_level ON tb_audit_export_job
	FOR EACH ROW EXECUTE FUNCTION tb_audit_export_job_compression_guard();
