-- 0001_core: audit_log (the platform's audit trail) and ops_event (this
-- product's operational event log).
--
-- Migration rules (see docs/database.md): `opsctl migrate` runs each file as
-- one multi-statement simple query inside its own BEGIN ... COMMIT and records
-- it in schema_migrations, which the migrator creates itself. So a file holds
-- no BEGIN/COMMIT, no psql meta-commands and nothing that refuses to run in a
-- transaction block (CREATE INDEX CONCURRENTLY, VACUUM, ...). An applied file
-- is never edited: changes go into a new file.
--
-- Errors raised by this schema's triggers use SQLSTATEs of the class "OP"
-- (unused by PostgreSQL and the SQL standard), so that code can map them
-- without parsing messages:
--   OPA01  audit_log is append-only (UPDATE, DELETE, TRUNCATE, MERGE)
--   OPE01  illegal export job state transition (also: insert not in PENDING,
--          any update of a FAILED or EXPIRED job)
--   OPE02  immutable export job column changed
--   OPE03  illegal attempt/lease change of an export job (attempt not kept or
--          bumped by exactly one, reclaim of a live lease, lease owner changed
--          within an attempt)
--   OPE04  export chunk write fenced off (job not RUNNING, or chunk attempt is
--          not the job's current attempt)
--   OPL01  scheduler lock fencing_token decreased, or a new holder without a
--          token bump
--   OPL02  delete of a held scheduler lock
--   OPJ01  update of a finished job_run row (or of its id, job, started_at)
-- Per-state CHECK constraints fail with the standard 23514 check_violation,
-- and the idempotency key with 23505 unique_violation.

-- ops_set_updated_at: BEFORE UPDATE trigger keeping updated_at current.
CREATE FUNCTION ops_set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	NEW.updated_at := now();
	RETURN NEW;
END;
$$;

------------------------------------------------------------------------------
-- audit_log
------------------------------------------------------------------------------

CREATE TABLE audit_log (
	id          bigserial PRIMARY KEY,
	tenant_id   text NOT NULL,
	occurred_at timestamptz NOT NULL,
	actor_id    text,
	action      text NOT NULL,
	target_type text,
	target_id   text,
	ip          inet,
	request_id  text,
	payload     jsonb NOT NULL DEFAULT '{}',
	CONSTRAINT audit_log_tenant_id_check CHECK (char_length(tenant_id) BETWEEN 1 AND 200),
	CONSTRAINT audit_log_action_check CHECK (char_length(action) BETWEEN 1 AND 200),
	CONSTRAINT audit_log_actor_id_check CHECK (char_length(actor_id) BETWEEN 1 AND 500),
	CONSTRAINT audit_log_target_type_check CHECK (char_length(target_type) BETWEEN 1 AND 200),
	CONSTRAINT audit_log_target_id_check CHECK (char_length(target_id) BETWEEN 1 AND 500),
	CONSTRAINT audit_log_request_id_check CHECK (char_length(request_id) BETWEEN 1 AND 200),
	CONSTRAINT audit_log_payload_check CHECK (jsonb_typeof(payload) = 'object')
);

COMMENT ON TABLE audit_log IS
	'The platform''s audit trail (append-only: UPDATE, DELETE and TRUNCATE fail with SQLSTATE OPA01). Exported by tb_audit_export_job.';

-- The export reads one tenant's rows in (occurred_at, id) order from a
-- checkpoint: WHERE tenant_id = $1 AND (occurred_at, id) > ($2, $3) AND
-- occurred_at < $4 ORDER BY occurred_at, id.
CREATE INDEX audit_log_tenant_occurred_idx ON audit_log (tenant_id, occurred_at, id);

-- Append-only. Statement-level BEFORE triggers fire even when no row matches,
-- so any UPDATE, DELETE, TRUNCATE or MERGE/INSERT ... ON CONFLICT DO UPDATE
-- on the table is an error: code that tries one is wrong even if it would
-- have touched nothing. ENABLE ALWAYS keeps the triggers active under
-- session_replication_role = replica too. A deliberate retention purge needs
-- a superuser to disable the trigger explicitly (and that is visible in the
-- server log and in the DDL history).
CREATE FUNCTION audit_log_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_log is append-only'
		USING ERRCODE = 'OPA01',
		      DETAIL = format('%s on audit_log is not allowed.', TG_OP),
		      HINT = 'Audit records are never changed or removed; write a new record instead.';
END;
$$;

CREATE TRIGGER audit_log_append_only
	BEFORE UPDATE OR DELETE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION audit_log_reject_change();
CREATE TRIGGER audit_log_no_truncate
	BEFORE TRUNCATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION audit_log_reject_change();
ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_append_only;
ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_no_truncate;

------------------------------------------------------------------------------
-- ops_event
------------------------------------------------------------------------------

CREATE TABLE ops_event (
	id           bigserial PRIMARY KEY,
	occurred_at  timestamptz NOT NULL DEFAULT now(),
	event_type   text NOT NULL,
	severity     text NOT NULL,
	source       text NOT NULL,
	tenant_id    text,
	subject_type text,
	subject_id   text,
	request_id   text,
	data         jsonb NOT NULL DEFAULT '{}',
	-- EXPORT_REQUESTED, SCHEDULER_LOCK_RECOVERED, JOB_RUN_SUCCEEDED, ...
	CONSTRAINT ops_event_event_type_check CHECK (event_type ~ '^[A-Z][A-Z0-9_]{0,99}$'),
	CONSTRAINT ops_event_severity_check
		CHECK (severity IN ('debug', 'info', 'warning', 'error', 'critical')),
	-- the writer: a binary name (ops-fcgi, ops-export-runner, ...)
	CONSTRAINT ops_event_source_check CHECK (char_length(source) BETWEEN 1 AND 200),
	CONSTRAINT ops_event_tenant_id_check CHECK (char_length(tenant_id) BETWEEN 1 AND 200),
	-- a subject is a (type, id) pair: export_job/<uuid>, scheduler_lock/<name>, job/<name>
	CONSTRAINT ops_event_subject_check CHECK ((subject_type IS NULL) = (subject_id IS NULL)),
	CONSTRAINT ops_event_subject_type_check CHECK (char_length(subject_type) BETWEEN 1 AND 200),
	CONSTRAINT ops_event_subject_id_check CHECK (char_length(subject_id) BETWEEN 1 AND 500),
	CONSTRAINT ops_event_request_id_check CHECK (char_length(request_id) BETWEEN 1 AND 200),
	CONSTRAINT ops_event_data_check CHECK (jsonb_typeof(data) = 'object')
);

COMMENT ON TABLE ops_event IS
	'Operational events of this product (exports, scheduler locks, job runs), read by the status API and /metrics.';

-- "events of type X since T" (metrics such as lock recoveries, status page)
CREATE INDEX ops_event_type_occurred_idx ON ops_event (event_type, occurred_at);
-- "history of this export job / lock"
CREATE INDEX ops_event_subject_idx ON ops_event (subject_type, subject_id, occurred_at)
	WHERE subject_type IS NOT NULL;
-- "latest events" and retention purges
CREATE INDEX ops_event_occurred_idx ON ops_event (occurred_at);
