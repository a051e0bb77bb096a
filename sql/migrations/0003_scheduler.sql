-- 0003_scheduler: named leases of timer-launched jobs (tb_scheduler_lock) and
-- the record of every job run (job_run).

------------------------------------------------------------------------------
-- tb_scheduler_lock
------------------------------------------------------------------------------
--
-- One row per lock name. A job acquires with one statement, e.g.
--   INSERT INTO tb_scheduler_lock AS l (name, holder, ..., fencing_token,
--          acquired_at, heartbeat_at, lease_until)
--   VALUES ($1, $2, ..., 1, now(), now(), now() + $lease)
--   ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, ...,
--          fencing_token = l.fencing_token + 1, acquired_at = now(), ...
--   WHERE l.holder IS NULL
--   RETURNING fencing_token;
-- renews with UPDATE ... SET heartbeat_at = now(), lease_until = ...
-- WHERE name = $1 AND fencing_token = $token (0 rows: the lock moved on, stop
-- working), and releases by clearing the holder columns.
--
-- Rules enforced here: the holder columns are all set or all NULL; a held
-- lock has a token >= 1; fencing_token never decreases and every new holder
-- (other holder, or a new acquired_at) comes with a larger token (OPL01); a
-- held lock cannot be deleted (OPL02), since re-creating the row would
-- restart its tokens at 0 under a live holder.
--
-- Lock states (computed by the code, not stored): FREE holder IS NULL; HELD;
-- STALE heartbeat_at older than locks.stale_after and lease_until not over;
-- EXPIRED lease_until <= now(). ORPHANED (holder on the healer's host whose
-- process is gone) compares holder_pid, holder_started_at and holder_boot_id
-- with /proc: same boot id and a live pid with the same start time means the
-- holder still runs; a pid reused by another process has another start time.

CREATE TABLE tb_scheduler_lock (
	name              text PRIMARY KEY,  -- the job name: ops-export-runner, ...
	holder            text,              -- holder instance id, e.g. host:pid:random
	holder_host       text,              -- hostname of the holder
	holder_pid        integer,
	-- start time of holder_pid in clock ticks since boot (/proc/PID/stat
	-- field 22, "starttime"): with the boot id it tells a live holder from a
	-- reused pid. NULL when unknown (not Linux).
	holder_started_at bigint,
	holder_boot_id    text,              -- /proc/sys/kernel/random/boot_id
	fencing_token     bigint NOT NULL DEFAULT 0,
	acquired_at       timestamptz,
	heartbeat_at      timestamptz,
	lease_until       timestamptz,
	released_at       timestamptz,       -- last release (kept while held again)
	release_reason    text,              -- released, healed: stale, force: <operator reason>, ...
	released_by       text,              -- the holder itself, the healer, or the operator (sub)
	created_at        timestamptz NOT NULL DEFAULT now(),
	updated_at        timestamptz NOT NULL DEFAULT now(),

	CONSTRAINT scheduler_lock_name_check CHECK (name ~ '^[a-z0-9][a-z0-9_.:-]{0,127}$'),
	CONSTRAINT scheduler_lock_holder_check CHECK (char_length(holder) BETWEEN 1 AND 500),
	CONSTRAINT scheduler_lock_holder_host_check CHECK (char_length(holder_host) BETWEEN 1 AND 255),
	CONSTRAINT scheduler_lock_holder_pid_check CHECK (holder_pid > 0),
	CONSTRAINT scheduler_lock_holder_started_check CHECK (holder_started_at >= 0),
	CONSTRAINT scheduler_lock_boot_id_check
		CHECK (holder_boot_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
	-- held: holder, host, pid and the three times are all set; free: all NULL
	CONSTRAINT scheduler_lock_held_check CHECK (
		(holder IS NULL) = (holder_host IS NULL)
		AND (holder IS NULL) = (holder_pid IS NULL)
		AND (holder IS NULL) = (acquired_at IS NULL)
		AND (holder IS NULL) = (heartbeat_at IS NULL)
		AND (holder IS NULL) = (lease_until IS NULL)),
	-- process identity: start time and boot id come together, and only with a holder
	CONSTRAINT scheduler_lock_process_check CHECK (
		(holder_started_at IS NULL) = (holder_boot_id IS NULL)
		AND (holder IS NOT NULL OR holder_started_at IS NULL)),
	CONSTRAINT scheduler_lock_token_check
		CHECK (fencing_token >= 0 AND (holder IS NULL OR fencing_token >= 1)),
	CONSTRAINT scheduler_lock_times_check
		CHECK (heartbeat_at >= acquired_at AND lease_until >= acquired_at),
	CONSTRAINT scheduler_lock_release_check
		CHECK ((release_reason IS NULL AND released_by IS NULL) OR released_at IS NOT NULL),
	CONSTRAINT scheduler_lock_release_reason_check CHECK (char_length(release_reason) BETWEEN 1 AND 1000),
	CONSTRAINT scheduler_lock_released_by_check CHECK (char_length(released_by) BETWEEN 1 AND 500)
);

COMMENT ON TABLE tb_scheduler_lock IS
	'Named leases of timer-launched jobs with fencing tokens (never decrease: SQLSTATE OPL01).';

CREATE FUNCTION tb_scheduler_lock_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		IF OLD.holder IS NOT NULL THEN
			RAISE EXCEPTION 'scheduler lock % is held by % (token %): release it before deleting it',
				OLD.name, OLD.holder, OLD.fencing_token
				USING ERRCODE = 'OPL02';
		END IF;
		RETURN OLD;
	END IF;

	IF NEW.fencing_token < OLD.fencing_token THEN
		RAISE EXCEPTION 'scheduler lock % fencing_token cannot decrease (% -> %)',
			OLD.name, OLD.fencing_token, NEW.fencing_token
			USING ERRCODE = 'OPL01';
	END IF;
	IF NEW.holder IS NOT NULL
	   AND (NEW.holder IS DISTINCT FROM OLD.holder OR NEW.acquired_at IS DISTINCT FROM OLD.acquired_at)
	   AND NEW.fencing_token <= OLD.fencing_token THEN
		RAISE EXCEPTION 'scheduler lock % acquired by % without a new fencing token (still %)',
			OLD.name, NEW.holder, NEW.fencing_token
			USING ERRCODE = 'OPL01',
			      HINT = 'Acquire with fencing_token = fencing_token + 1.';
	END IF;
	NEW.updated_at := now();
	RETURN NEW;
END;
$$;

CREATE TRIGGER tb_scheduler_lock_guard
	BEFORE UPDATE OR DELETE ON tb_scheduler_lock
	FOR EACH ROW EXECUTE FUNCTION tb_scheduler_lock_guard();

------------------------------------------------------------------------------
-- job_run
------------------------------------------------------------------------------
--
-- One row per run of a job binary: inserted RUNNING when the run starts (after
-- its lock is acquired), finished SUCCEEDED or FAILED in the same transaction
-- as its JOB_RUN_SUCCEEDED / JOB_RUN_FAILED ops_event. Why a table when
-- ops_event has the events: "last run, last success, last failure and last
-- duration of every job" (status API, ops_job_last_* metrics) then reads one
-- index entry per job and question, whatever the size of ops_event; and a
-- RUNNING row whose process is gone shows a run that died without a word.
-- ops_event stays the event log. A FAILED or SUCCEEDED row is final (OPJ01).
-- Old rows are for the cleaner's retention to purge.

CREATE TABLE job_run (
	id               bigserial PRIMARY KEY,
	job              text NOT NULL,     -- binary name, = its scheduler lock name
	host             text,
	pid              integer,
	fencing_token    bigint,            -- of the job's lock during this run
	started_at       timestamptz NOT NULL DEFAULT now(),
	finished_at      timestamptz,
	status           text NOT NULL DEFAULT 'RUNNING',
	duration_seconds double precision,
	counts           jsonb NOT NULL DEFAULT '{}',  -- {"claimed": 2, "done": 1, ...}
	error            text,

	CONSTRAINT job_run_job_check CHECK (job ~ '^[a-z0-9][a-z0-9_.:-]{0,127}$'),
	CONSTRAINT job_run_status_check CHECK (status IN ('RUNNING', 'SUCCEEDED', 'FAILED')),
	CONSTRAINT job_run_host_check CHECK (char_length(host) BETWEEN 1 AND 255),
	CONSTRAINT job_run_pid_check CHECK (pid > 0),
	CONSTRAINT job_run_token_check CHECK (fencing_token >= 0),
	CONSTRAINT job_run_finished_check CHECK (
		(status = 'RUNNING') = (finished_at IS NULL)
		AND (status = 'RUNNING' OR duration_seconds IS NOT NULL)
		AND finished_at >= started_at),
	CONSTRAINT job_run_duration_check CHECK (duration_seconds >= 0),
	CONSTRAINT job_run_error_check CHECK (
		(status <> 'FAILED' OR error IS NOT NULL) AND char_length(error) BETWEEN 1 AND 4000),
	CONSTRAINT job_run_counts_check CHECK (jsonb_typeof(counts) = 'object')
);

COMMENT ON TABLE job_run IS
	'One row per run of a job binary (RUNNING, then SUCCEEDED or FAILED); last run/success/failure per job for status and metrics.';

-- last run (running or not) of a job
CREATE INDEX job_run_job_started_idx ON job_run (job, started_at DESC);
-- last finished run, last success, last failure
CREATE INDEX job_run_job_finished_idx ON job_run (job, finished_at DESC);
CREATE INDEX job_run_job_succeeded_idx ON job_run (job, finished_at DESC)
	WHERE status = 'SUCCEEDED';
CREATE INDEX job_run_job_failed_idx ON job_run (job, finished_at DESC)
	WHERE status = 'FAILED';

CREATE FUNCTION job_run_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.status <> 'RUNNING' THEN
		RAISE EXCEPTION 'job_run % of % is already % and cannot be updated',
			OLD.id, OLD.job, OLD.status
			USING ERRCODE = 'OPJ01';
	END IF;
	IF NEW.id <> OLD.id OR NEW.job <> OLD.job OR NEW.started_at <> OLD.started_at THEN
		RAISE EXCEPTION 'job_run % id, job and started_at cannot be changed', OLD.id
			USING ERRCODE = 'OPJ01';
	END IF;
	RETURN NEW;
END;
$$;

CREATE TRIGGER job_run_guard
	BEFORE UPDATE ON job_run
	FOR EACH ROW EXECUTE FUNCTION job_run_guard();
