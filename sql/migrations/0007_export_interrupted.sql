-- 0007_export_interrupted: an export whose runner was stopped on purpose
-- (SIGTERM, SIGINT: a deploy, `systemctl stop`) hands its job back without
-- consuming an attempt (CONTRACT section 18; docs/export.md, "Attempts").
--
-- The runner ends the chunk in flight, then in one fenced transaction adds
-- one to interrupted and ends its lease (lease_expires_at = now()): the next
-- runner reclaims the job at once (attempt + 1, a new fence as always) and
-- resumes from the checkpoint. EXPORT_RUNNER_LOST counts only the attempts
-- that were lost, attempt - interrupted, against max_attempts; a job can be
-- interrupted any number of times (its max_duration_seconds still bounds
-- it). attempt itself goes on growing by one per claim, so that every
-- runner still writes under an attempt number of its own.
--
-- Expand only: the previous release's binaries never write the column
-- (default 0) and keep working while this migration runs.
ALTER TABLE tb_audit_export_job
	ADD COLUMN interrupted integer NOT NULL DEFAULT 0;

ALTER TABLE tb_audit_export_job
	DROP CONSTRAINT export_job_attempt_check,
	ADD CONSTRAINT export_job_attempt_check CHECK (
		max_attempts BETWEEN 1 AND 100
		AND interrupted BETWEEN 0 AND attempt
		AND attempt - interrupted BETWEEN 0 AND max_attempts);

COMMENT ON COLUMN tb_audit_export_job.interrupted IS
	'Attempts a runner ended on purpose (SIGTERM/SIGINT) and handed back; they do not count towards max_attempts.';

-- interrupted grows by one, only while the job is RUNNING, only by the
-- current attempt (the runner that hands the job back), never otherwise.
CREATE FUNCTION tb_audit_export_job_interrupt_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.interrupted IS DISTINCT FROM OLD.interrupted AND NOT (
	   OLD.state = 'RUNNING' AND NEW.state = 'RUNNING'
	   AND NEW.attempt = OLD.attempt
	   AND NEW.interrupted = OLD.interrupted + 1) THEN
		RAISE EXCEPTION 'export job interrupted can only grow by one, by the current attempt of a RUNNING job (% -> %)',
			OLD.interrupted, NEW.interrupted
			USING ERRCODE = 'OPE03', DETAIL = format('export job %s (%s attempt %s)', OLD.id, OLD.state, OLD.attempt);
	END IF;
	RETURN NEW;
END;
$$;

CREATE TRIGGER tb_audit_export_job_interrupt_guard
	BEFORE UPDATE ON tb_audit_export_job
	FOR EACH ROW EXECUTE FUNCTION tb_audit_export_job_interrupt_guard();
