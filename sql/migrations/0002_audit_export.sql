-- 0002_audit_export: the asynchronous audit-log export spooled into the
-- database (P21-L01): tb_audit_export_job and tb_audit_export_chunk.
--
-- State machine (P21-L02), enforced by the trigger tb_audit_export_job_guard:
--
--   from \ to  PENDING  RUNNING       DONE  FAILED  EXPIRED
--   (insert)   yes      -             -     -       -
--   PENDING    yes (1)  yes (2)       -     yes     -
--   RUNNING    -        yes (3)       yes   yes     -
--   DONE       -        -             -     -       yes (4)
--   FAILED     -        -             -     -       -        (terminal)
--   EXPIRED    -        -             -     -       -        (terminal)
--
--   (1) same-state update, e.g. cancel_requested = true
--   (2) the claim: attempt must become attempt + 1 (so the first run is
--       attempt 1)
--   (3) either a progress/heartbeat update by the lease owner (attempt and
--       lease_owner unchanged), or a reclaim of an expired lease (attempt + 1,
--       only once lease_expires_at <= now(); lease_owner may change)
--   (4) the cleaner: nothing but state may change
--   Every other transition, and any update at all of a FAILED or EXPIRED job,
--   fails with SQLSTATE OPE01. Outside (2) and (3) attempt never changes; a
--   wrong attempt change fails with OPE03. Immutable columns (the request:
--   tenant, requester, format, range, filters, limits, max_attempts,
--   idempotency key and hash, request id, created_at; started_at once set;
--   cancel_requested once true) fail with OPE02. Columns that must be set in a
--   state (DONE: sha256, totals, finished_at, expires_at; FAILED: error_code,
--   finished_at; ...) are CHECK constraints (23514).
--
-- Fencing: a runner writes chunks and checkpoints of attempt N only. The chunk
-- trigger (OPE04) refuses a chunk whose attempt is not the job's current
-- attempt or whose job is not RUNNING; it locks the job row FOR SHARE, so a
-- concurrent reclaim waits for the chunk's transaction and the next chunk of
-- the old attempt is refused. Progress updates should say
-- WHERE id = $1 AND state = 'RUNNING' AND attempt = $n (0 rows: lease lost).

CREATE TABLE tb_audit_export_job (
	id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	tenant_id            text NOT NULL,
	requested_by         text NOT NULL,   -- JWT sub of the requester
	state                text NOT NULL DEFAULT 'PENDING',
	format               text NOT NULL DEFAULT 'jsonl',
	range_from           timestamptz NOT NULL,  -- inclusive
	range_to             timestamptz NOT NULL,  -- exclusive
	filters              jsonb NOT NULL DEFAULT '{}',  -- {"actions": [...], "actor_id": "..."}
	-- limits (P21-L03: every job has all of them, resolved from the request
	-- and the configured defaults and caps at creation)
	max_rows             bigint NOT NULL,
	max_bytes            bigint NOT NULL,
	max_duration_seconds integer NOT NULL,
	-- progress, committed together with each chunk
	progress_rows        bigint NOT NULL DEFAULT 0,
	progress_bytes       bigint NOT NULL DEFAULT 0,
	progress_chunks      integer NOT NULL DEFAULT 0,
	-- last written audit_log position: {"occurred_at": "<RFC 3339>", "id": N};
	-- a resumed attempt continues with rows after (occurred_at, id)
	checkpoint           jsonb,
	attempt              integer NOT NULL DEFAULT 0,
	max_attempts         integer NOT NULL DEFAULT 3,
	lease_owner          text,            -- runner instance, e.g. host:pid:random
	lease_expires_at     timestamptz,
	heartbeat_at         timestamptz,
	cancel_requested     boolean NOT NULL DEFAULT false,
	-- result
	sha256               text,            -- hex SHA-256 of the whole file
	total_bytes          bigint,
	total_rows           bigint,
	error_code           text,            -- EXPORT_CANCELLED, EXPORT_LIMIT_ROWS, ...
	error_message        text,
	-- Idempotency-Key: scoped per (tenant_id, requested_by), see the unique
	-- index below; request_hash is the hex SHA-256 of the canonical request
	-- body, to tell a replay (same hash: answer with this job) from a
	-- conflict (other hash: 409 IDEMPOTENCY_CONFLICT).
	idempotency_key      text,
	request_hash         text,
	request_id           text,            -- X-Request-Id of the creating request
	created_at           timestamptz NOT NULL DEFAULT now(),
	started_at           timestamptz,     -- first claim (kept on reclaim)
	finished_at          timestamptz,     -- DONE or FAILED
	expires_at           timestamptz,     -- finished_at + TTL, for DONE
	updated_at           timestamptz NOT NULL DEFAULT now(),

	CONSTRAINT export_job_state_check
		CHECK (state IN ('PENDING', 'RUNNING', 'DONE', 'FAILED', 'EXPIRED')),
	CONSTRAINT export_job_format_check CHECK (format IN ('jsonl', 'csv')),
	CONSTRAINT export_job_tenant_id_check CHECK (char_length(tenant_id) BETWEEN 1 AND 200),
	CONSTRAINT export_job_requested_by_check CHECK (char_length(requested_by) BETWEEN 1 AND 500),
	CONSTRAINT export_job_range_check CHECK (range_from < range_to),
	CONSTRAINT export_job_filters_check CHECK (jsonb_typeof(filters) = 'object'),
	CONSTRAINT export_job_limits_check
		CHECK (max_rows > 0 AND max_bytes > 0 AND max_duration_seconds > 0),
	CONSTRAINT export_job_progress_check
		CHECK (progress_rows >= 0 AND progress_bytes >= 0 AND progress_chunks >= 0),
	CONSTRAINT export_job_checkpoint_check
		CHECK (checkpoint IS NULL OR (jsonb_typeof(checkpoint) = 'object'
		       AND checkpoint ? 'occurred_at' AND checkpoint ? 'id')),
	CONSTRAINT export_job_attempt_check
		CHECK (max_attempts BETWEEN 1 AND 100 AND attempt BETWEEN 0 AND max_attempts),
	CONSTRAINT export_job_lease_check
		CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL)),
	CONSTRAINT export_job_lease_owner_check CHECK (char_length(lease_owner) BETWEEN 1 AND 500),
	CONSTRAINT export_job_sha256_check CHECK (sha256 ~ '^[0-9a-f]{64}$'),
	CONSTRAINT export_job_totals_check
		CHECK (total_rows BETWEEN 0 AND max_rows AND total_bytes BETWEEN 0 AND max_bytes),
	CONSTRAINT export_job_error_code_check CHECK (error_code ~ '^[A-Z][A-Z0-9_]{0,99}$'),
	CONSTRAINT export_job_error_message_check CHECK (char_length(error_message) <= 4000),
	CONSTRAINT export_job_idempotency_key_check
		CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
	CONSTRAINT export_job_request_hash_check CHECK (request_hash ~ '^[0-9a-f]{64}$'),
	CONSTRAINT export_job_idempotency_hash_check
		CHECK (idempotency_key IS NULL OR request_hash IS NOT NULL),
	CONSTRAINT export_job_request_id_check CHECK (char_length(request_id) BETWEEN 1 AND 200),
	CONSTRAINT export_job_finished_check CHECK (finished_at >= started_at),
	CONSTRAINT export_job_expires_check CHECK (expires_at >= finished_at),

	-- what each state requires
	CONSTRAINT export_job_pending_check CHECK (state <> 'PENDING' OR (
		attempt = 0 AND lease_owner IS NULL AND heartbeat_at IS NULL
		AND started_at IS NULL AND finished_at IS NULL AND expires_at IS NULL
		AND checkpoint IS NULL AND progress_rows = 0 AND progress_bytes = 0
		AND progress_chunks = 0 AND sha256 IS NULL AND total_rows IS NULL
		AND total_bytes IS NULL AND error_code IS NULL)),
	CONSTRAINT export_job_running_check CHECK (state <> 'RUNNING' OR (
		attempt >= 1 AND lease_owner IS NOT NULL AND started_at IS NOT NULL
		AND finished_at IS NULL AND expires_at IS NULL AND sha256 IS NULL
		AND total_rows IS NULL AND total_bytes IS NULL AND error_code IS NULL)),
	CONSTRAINT export_job_done_check CHECK (state NOT IN ('DONE', 'EXPIRED') OR (
		sha256 IS NOT NULL AND total_rows IS NOT NULL AND total_bytes IS NOT NULL
		AND started_at IS NOT NULL AND finished_at IS NOT NULL
		AND expires_at IS NOT NULL AND error_code IS NULL)),
	CONSTRAINT export_job_failed_check CHECK (state <> 'FAILED' OR (
		error_code IS NOT NULL AND finished_at IS NOT NULL AND sha256 IS NULL))
);

COMMENT ON TABLE tb_audit_export_job IS
	'Audit-log export jobs (P21-L01/L02). State changes are checked by trigger tb_audit_export_job_guard (SQLSTATE OPE01-OPE03).';
COMMENT ON COLUMN tb_audit_export_job.idempotency_key IS
	'Idempotency-Key header, unique per (tenant_id, requested_by) while the job row exists (until purged by the cleaner).';
COMMENT ON COLUMN tb_audit_export_job.checkpoint IS
	'Last written audit_log position {"occurred_at": "...", "id": N}, committed with the chunk that ends there.';

-- Idempotency keys are scoped per requester and tenant: the same key sent by
-- two different callers, or by one caller for two tenants, names two
-- different requests. Two concurrent first requests with one key: the loser
-- gets 23505 and re-reads the winner's row (compare request_hash).
CREATE UNIQUE INDEX export_job_idempotency_idx
	ON tb_audit_export_job (tenant_id, requested_by, idempotency_key)
	WHERE idempotency_key IS NOT NULL;
-- runner claim (oldest PENDING first, FOR UPDATE SKIP LOCKED); queue by state
-- and oldest pending age for status and metrics
CREATE INDEX export_job_state_created_idx ON tb_audit_export_job (state, created_at);
-- runner reclaim: RUNNING jobs whose lease is over
CREATE INDEX export_job_running_lease_idx ON tb_audit_export_job (lease_expires_at)
	WHERE state = 'RUNNING';
-- listing, newest first, cursor (created_at, id); per tenant and across tenants
CREATE INDEX export_job_tenant_list_idx
	ON tb_audit_export_job (tenant_id, created_at DESC, id DESC);
CREATE INDEX export_job_list_idx ON tb_audit_export_job (created_at DESC, id DESC);
-- max_active_per_tenant (PENDING + RUNNING per tenant)
CREATE INDEX export_job_active_tenant_idx ON tb_audit_export_job (tenant_id)
	WHERE state IN ('PENDING', 'RUNNING');
-- cleaner: DONE past expires_at; purge of old terminal rows
CREATE INDEX export_job_state_expires_idx ON tb_audit_export_job (state, expires_at);
CREATE INDEX export_job_state_finished_idx ON tb_audit_export_job (state, finished_at)
	WHERE state IN ('FAILED', 'EXPIRED');

CREATE FUNCTION tb_audit_export_job_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	immutable_cols constant text[] := ARRAY[
		'id', 'tenant_id', 'requested_by', 'format', 'range_from', 'range_to',
		'filters', 'max_rows', 'max_bytes', 'max_duration_seconds',
		'max_attempts', 'idempotency_key', 'request_hash', 'request_id',
		'created_at'];
	changed text[];
	bad text[];
	legal boolean;
BEGIN
	IF TG_OP = 'INSERT' THEN
		IF NEW.state IS DISTINCT FROM 'PENDING' THEN
			RAISE EXCEPTION 'illegal export job state transition (insert) -> %', NEW.state
				USING ERRCODE = 'OPE01',
				      HINT = 'Export jobs are created in state PENDING.';
		END IF;
		NEW.updated_at := now();
		RETURN NEW;
	END IF;

	-- 1. the transition itself
	legal := CASE OLD.state
		WHEN 'PENDING' THEN NEW.state IN ('PENDING', 'RUNNING', 'FAILED')
		WHEN 'RUNNING' THEN NEW.state IN ('RUNNING', 'DONE', 'FAILED')
		WHEN 'DONE'    THEN NEW.state = 'EXPIRED'
		ELSE false
	END;
	IF legal IS NOT TRUE THEN
		RAISE EXCEPTION 'illegal export job state transition % -> %', OLD.state, NEW.state
			USING ERRCODE = 'OPE01',
			      DETAIL = format('export job %s', OLD.id),
			      HINT = CASE WHEN OLD.state IN ('FAILED', 'EXPIRED')
			                  THEN format('%s is terminal: the job can no longer be updated.', OLD.state)
			                  ELSE 'Allowed: PENDING->RUNNING|FAILED, RUNNING->RUNNING|DONE|FAILED, DONE->EXPIRED.'
			             END;
	END IF;

	-- 2. columns that never change (updated_at is ours to set)
	SELECT coalesce(array_agg(o.key ORDER BY o.key), '{}') INTO changed
	FROM jsonb_each(to_jsonb(OLD)) AS o
	JOIN jsonb_each(to_jsonb(NEW)) AS n USING (key)
	WHERE o.value IS DISTINCT FROM n.value AND o.key <> 'updated_at';

	bad := ARRAY(SELECT unnest(changed) INTERSECT SELECT unnest(immutable_cols) ORDER BY 1);
	IF OLD.started_at IS NOT NULL AND 'started_at' = ANY (changed) THEN
		bad := bad || 'started_at'::text;
	END IF;
	IF OLD.cancel_requested AND NOT NEW.cancel_requested THEN
		bad := bad || 'cancel_requested'::text;
	END IF;
	IF cardinality(bad) > 0 THEN
		RAISE EXCEPTION 'export job column % cannot be changed', array_to_string(bad, ', ')
			USING ERRCODE = 'OPE02',
			      DETAIL = format('export job %s (%s -> %s)', OLD.id, OLD.state, NEW.state);
	END IF;
	IF OLD.state = 'DONE' AND changed <> ARRAY['state'] THEN
		RAISE EXCEPTION 'export job column % cannot be changed by DONE -> EXPIRED',
			array_to_string(array_remove(changed, 'state'), ', ')
			USING ERRCODE = 'OPE02',
			      DETAIL = format('export job %s', OLD.id),
			      HINT = 'Expiry changes the state only; the result stays as it was.';
	END IF;

	-- 3. attempt and lease: the fencing of runners
	IF OLD.state = 'PENDING' AND NEW.state = 'RUNNING' THEN
		IF NEW.attempt <> OLD.attempt + 1 THEN
			RAISE EXCEPTION 'export job claim must set attempt to % (attempt + 1), got %',
				OLD.attempt + 1, NEW.attempt
				USING ERRCODE = 'OPE03', DETAIL = format('export job %s', OLD.id);
		END IF;
	ELSIF OLD.state = 'RUNNING' AND NEW.state = 'RUNNING' THEN
		IF NEW.attempt = OLD.attempt + 1 THEN
			IF OLD.lease_expires_at > now() THEN
				RAISE EXCEPTION 'export job lease of % is valid until %: it cannot be reclaimed yet',
					OLD.lease_owner, OLD.lease_expires_at
					USING ERRCODE = 'OPE03', DETAIL = format('export job %s attempt %s', OLD.id, OLD.attempt);
			END IF;
		ELSIF NEW.attempt = OLD.attempt THEN
			IF NEW.lease_owner IS DISTINCT FROM OLD.lease_owner THEN
				RAISE EXCEPTION 'export job lease owner cannot change within attempt % (% -> %)',
					OLD.attempt, OLD.lease_owner, NEW.lease_owner
					USING ERRCODE = 'OPE03', DETAIL = format('export job %s', OLD.id),
					      HINT = 'Take over a job by reclaiming it: attempt + 1 once the lease has expired.';
			END IF;
		ELSE
			RAISE EXCEPTION 'export job attempt can only stay or grow by one, got % -> %',
				OLD.attempt, NEW.attempt
				USING ERRCODE = 'OPE03', DETAIL = format('export job %s', OLD.id);
		END IF;
	ELSIF NEW.attempt <> OLD.attempt THEN
		RAISE EXCEPTION 'export job attempt cannot change on % -> % (% -> %)',
			OLD.state, NEW.state, OLD.attempt, NEW.attempt
			USING ERRCODE = 'OPE03', DETAIL = format('export job %s', OLD.id);
	ELSIF OLD.state = 'RUNNING' AND NEW.lease_owner IS NOT NULL
	      AND NEW.lease_owner IS DISTINCT FROM OLD.lease_owner THEN
		RAISE EXCEPTION 'export job lease owner cannot change on RUNNING -> % (% -> %)',
			NEW.state, OLD.lease_owner, NEW.lease_owner
			USING ERRCODE = 'OPE03', DETAIL = format('export job %s', OLD.id),
			      HINT = 'Keep lease_owner or clear it (lease_owner and lease_expires_at NULL).';
	END IF;

	NEW.updated_at := now();
	RETURN NEW;
END;
$$;

CREATE TRIGGER tb_audit_export_job_guard
	BEFORE INSERT OR UPDATE ON tb_audit_export_job
	FOR EACH ROW EXECUTE FUNCTION tb_audit_export_job_guard();

------------------------------------------------------------------------------
-- tb_audit_export_chunk
------------------------------------------------------------------------------

CREATE TABLE tb_audit_export_chunk (
	job_id      uuid NOT NULL REFERENCES tb_audit_export_job (id) ON DELETE CASCADE,
	seq         integer NOT NULL,        -- 0, 1, 2, ... in file order
	byte_offset bigint NOT NULL,         -- offset of data[0] in the file
	data        bytea NOT NULL,
	byte_count  integer NOT NULL,        -- octet_length(data)
	row_count   integer NOT NULL,        -- rows that end in this chunk
	sha256      text NOT NULL,           -- hex SHA-256 of data
	attempt     integer NOT NULL,        -- the job attempt that wrote it
	created_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (job_id, seq),
	CONSTRAINT export_chunk_seq_check CHECK (seq >= 0),
	CONSTRAINT export_chunk_byte_offset_check CHECK (byte_offset >= 0),
	CONSTRAINT export_chunk_byte_count_check CHECK (byte_count > 0 AND byte_count = octet_length(data)),
	CONSTRAINT export_chunk_row_count_check CHECK (row_count >= 0),
	CONSTRAINT export_chunk_sha256_check CHECK (sha256 ~ '^[0-9a-f]{64}$'),
	CONSTRAINT export_chunk_attempt_check CHECK (attempt >= 1)
);

COMMENT ON TABLE tb_audit_export_chunk IS
	'The export spool (P21-L01): the file of a job in chunks of export.chunk_bytes. Inserts are fenced by the job''s attempt (SQLSTATE OPE04).';

-- Range requests: the chunk holding byte N is the last one with
-- byte_offset <= N. Unique: two chunks never start at the same byte.
CREATE UNIQUE INDEX export_chunk_offset_idx ON tb_audit_export_chunk (job_id, byte_offset);

-- Storage of data. Chunks are ~1 MiB of JSON lines or CSV, written once,
-- read once or a few times in full. Measured on PostgreSQL 15 (200 chunks of
-- 1.2 MB JSONL): pglz (the default) makes inserts ~3x slower than
-- uncompressed storage and is the slowest to read; lz4 stores ~2.5x less
-- (less disk, less WAL) and inserts as fast as uncompressed (the saved I/O
-- pays for the compression), reading at about the speed of uncompressed
-- data. So: lz4 when the server has it, else EXTERNAL (out of line,
-- uncompressed) rather than pglz. The chunk's byte_count and sha256 are of
-- the uncompressed data either way; a Range read with substring() works on
-- both. Check with: SELECT pg_column_compression(data) FROM tb_audit_export_chunk.
DO $$
BEGIN
	ALTER TABLE tb_audit_export_chunk ALTER COLUMN data SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
	ALTER TABLE tb_audit_export_chunk ALTER COLUMN data SET STORAGE EXTERNAL;
END;
$$;

-- Fencing of chunk writes: only the current attempt of a RUNNING job may add
-- chunks. FOR SHARE on the job row makes a concurrent reclaim (an UPDATE of
-- that row) wait until this transaction ends, and makes this insert wait for
-- a reclaim in progress and then see its new attempt.
CREATE FUNCTION tb_audit_export_chunk_fence() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	j_state text;
	j_attempt integer;
BEGIN
	SELECT j.state, j.attempt INTO j_state, j_attempt
	FROM tb_audit_export_job AS j
	WHERE j.id = NEW.job_id
	FOR SHARE;
	IF NOT FOUND THEN
		RETURN NEW;  -- the foreign key reports it
	END IF;
	IF j_state <> 'RUNNING' OR j_attempt <> NEW.attempt THEN
		RAISE EXCEPTION 'export chunk write fenced off: job is % at attempt %, chunk is from attempt %',
			j_state, j_attempt, NEW.attempt
			USING ERRCODE = 'OPE04',
			      DETAIL = format('export job %s chunk %s', NEW.job_id, NEW.seq),
			      HINT = 'This runner lost the job (reclaimed, cancelled or finished): stop writing.';
	END IF;
	RETURN NEW;
END;
$$;

CREATE TRIGGER tb_audit_export_chunk_fence
	BEFORE INSERT ON tb_audit_export_chunk
	FOR EACH ROW EXECUTE FUNCTION tb_audit_export_chunk_fence();
