-- 0010_export_history: history and actions (contract section 15).
--
-- tb_audit_export_job.retry_of   the job a retry was made from
--                                (POST /api/ops/audit-exports/{id}/retry);
--                                NULL for a job created directly. No foreign
--                                key: the cleaner purges old jobs, and the
--                                name of a purged original is still worth
--                                keeping.
-- ops_event.actor_id             the sub of the person who caused the event
--                                (it was only in audit_log, which ops-fcgi
--                                may not read back); NULL for what a binary
--                                did on its own and for events written
--                                before this migration.
-- export_job_hourly              one row per UTC hour: jobs created, first
--                                started, ended DONE / FAILED in that hour,
--                                the bytes of the DONE ones, and histograms
--                                of the run duration (finished_at -
--                                started_at of DONE jobs) and the queue wait
--                                (started_at - created_at at the first
--                                claim). GET /api/ops/status/history reads
--                                at most 168 rows of it instead of
--                                aggregating up to every job of a week, and
--                                /metrics sums it for its histograms, which
--                                so survive the cleaner's purges of job rows
--                                (nothing deletes from this table).
--
-- The rollup is kept by an AFTER trigger on tb_audit_export_job, in the
-- transaction of the change it counts. The trigger function is SECURITY
-- DEFINER (owned by the migration role), so the runtime roles need no
-- write grant on the rollup; they only read it (ops_apply_roles below).
-- Contention: every create and every end of a job updates the row of the
-- current hour, so two such transactions in the same hour queue on that
-- row's lock for the rest of the shorter one's transaction (both are short:
-- a create, a runner's final commit).
--
-- Histogram buckets (seconds, upper bounds, the last one +Inf), the same
-- for both histograms and for /metrics (lib/history.h keeps them in step
-- with export_job_bucket()):
--   0.1 0.5 1 2.5 5 10 30 60 120 300 600 900 1800 3600 +Inf
-- Each array holds the count of its bucket alone (not cumulative).

ALTER TABLE tb_audit_export_job ADD COLUMN retry_of uuid;
ALTER TABLE ops_event ADD COLUMN actor_id text,
	ADD CONSTRAINT ops_event_actor_id_check
		CHECK (char_length(actor_id) BETWEEN 1 AND 256);

CREATE TABLE export_job_hourly (
	hour           timestamptz PRIMARY KEY,
	created        bigint NOT NULL DEFAULT 0,
	started        bigint NOT NULL DEFAULT 0,
	done           bigint NOT NULL DEFAULT 0,
	failed         bigint NOT NULL DEFAULT 0,
	bytes          bigint NOT NULL DEFAULT 0,
	duration_sum   double precision NOT NULL DEFAULT 0,
	duration_hist  bigint[] NOT NULL DEFAULT array_fill(0::bigint, ARRAY[15]),
	wait_sum       double precision NOT NULL DEFAULT 0,
	wait_hist      bigint[] NOT NULL DEFAULT array_fill(0::bigint, ARRAY[15]),
	CONSTRAINT export_job_hourly_hour_check
		CHECK (hour = date_trunc('hour', hour, 'UTC')),
	CONSTRAINT export_job_hourly_hist_check
		CHECK (cardinality(duration_hist) = 15 AND cardinality(wait_hist) = 15)
);

COMMENT ON TABLE export_job_hourly IS
	'Export jobs per UTC hour (created, started, done, failed, bytes, duration and queue-wait histograms), kept by a trigger; never purged.';

-- The 1-based histogram bucket of a duration in seconds.
CREATE FUNCTION export_job_bucket(seconds double precision) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN seconds <= 0.1 THEN 1 WHEN seconds <= 0.5 THEN 2
	    WHEN seconds <= 1 THEN 3 WHEN seconds <= 2.5 THEN 4
	    WHEN seconds <= 5 THEN 5 WHEN seconds <= 10 THEN 6
	    WHEN seconds <= 30 THEN 7 WHEN seconds <= 60 THEN 8
	    WHEN seconds <= 120 THEN 9 WHEN seconds <= 300 THEN 10
	    WHEN seconds <= 600 THEN 11 WHEN seconds <= 900 THEN 12
	    WHEN seconds <= 1800 THEN 13 WHEN seconds <= 3600 THEN 14
	    ELSE 15 END
$$;

REVOKE ALL ON FUNCTION export_job_bucket(double precision) FROM PUBLIC;

CREATE FUNCTION export_job_hourly_count() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
	s double precision;
	hr timestamptz;
BEGIN
	IF TG_OP = 'INSERT' THEN
		INSERT INTO export_job_hourly AS h (hour, created)
		VALUES (date_trunc('hour', NEW.created_at, 'UTC'), 1)
		ON CONFLICT (hour) DO UPDATE SET created = h.created + 1;
		RETURN NULL;
	END IF;
	IF OLD.started_at IS NULL AND NEW.started_at IS NOT NULL THEN
		s := greatest(extract(epoch FROM NEW.started_at - NEW.created_at), 0);
		hr := date_trunc('hour', NEW.started_at, 'UTC');
		INSERT INTO export_job_hourly (hour) VALUES (hr)
		ON CONFLICT (hour) DO NOTHING;
		UPDATE export_job_hourly SET started = started + 1,
		       wait_sum = wait_sum + s,
		       wait_hist[export_job_bucket(s)] = wait_hist[export_job_bucket(s)] + 1
		 WHERE hour = hr;
	END IF;
	IF OLD.state IS DISTINCT FROM NEW.state AND NEW.state IN ('DONE', 'FAILED') THEN
		hr := date_trunc('hour', coalesce(NEW.finished_at, now()), 'UTC');
		INSERT INTO export_job_hourly (hour) VALUES (hr)
		ON CONFLICT (hour) DO NOTHING;
		IF NEW.state = 'FAILED' THEN
			UPDATE export_job_hourly SET failed = failed + 1 WHERE hour = hr;
		ELSE
			s := greatest(extract(epoch FROM coalesce(NEW.finished_at, now()) -
			    coalesce(NEW.started_at, NEW.created_at)), 0);
			UPDATE export_job_hourly SET done = done + 1,
			       bytes = bytes + coalesce(NEW.total_bytes, 0),
			       duration_sum = duration_sum + s,
			       duration_hist[export_job_bucket(s)] =
			           duration_hist[export_job_bucket(s)] + 1
			 WHERE hour = hr;
		END IF;
	END IF;
	RETURN NULL;
END;
$$;

REVOKE ALL ON FUNCTION export_job_hourly_count() FROM PUBLIC;

CREATE TRIGGER export_job_hourly_insert
	AFTER INSERT ON tb_audit_export_job
	FOR EACH ROW EXECUTE FUNCTION export_job_hourly_count();
-- only the updates that count: not the progress of every chunk
CREATE TRIGGER export_job_hourly_update
	AFTER UPDATE ON tb_audit_export_job
	FOR EACH ROW
	WHEN (OLD.state IS DISTINCT FROM NEW.state OR
	      (OLD.started_at IS NULL AND NEW.started_at IS NOT NULL))
	EXECUTE FUNCTION export_job_hourly_count();

-- Recount the rollup from the job rows: for the jobs already in the table
-- here, and to repair (or to seed a benchmark) later, as the migration
-- owner. Jobs the cleaner has purged are lost to a recount.
CREATE FUNCTION export_job_hourly_rebuild() RETURNS bigint
LANGUAGE sql AS $$
	DELETE FROM export_job_hourly;
	WITH ev AS (
		SELECT date_trunc('hour', created_at, 'UTC') AS hr, 'c' AS k,
		       0::double precision AS s, 0::bigint AS b
		  FROM tb_audit_export_job
		UNION ALL
		SELECT date_trunc('hour', started_at, 'UTC'), 'w',
		       greatest(extract(epoch FROM started_at - created_at), 0), 0
		  FROM tb_audit_export_job WHERE started_at IS NOT NULL
		UNION ALL
		SELECT date_trunc('hour', finished_at, 'UTC'),
		       CASE WHEN state = 'FAILED' THEN 'f' ELSE 'd' END,
		       greatest(extract(epoch FROM finished_at -
		           coalesce(started_at, created_at)), 0),
		       coalesce(total_bytes, 0)
		  FROM tb_audit_export_job
		 WHERE finished_at IS NOT NULL AND state IN ('DONE', 'EXPIRED', 'FAILED')
	), per AS (
		SELECT hr, k, export_job_bucket(s) AS bk, count(*) AS n,
		       sum(s) AS ss, sum(b) AS bb
		  FROM ev GROUP BY 1, 2, 3
	), grid AS (
		SELECT h.hr, i FROM (SELECT DISTINCT hr FROM per) h
		CROSS JOIN generate_series(1, 15) AS i
	), hist AS (
		SELECT g.hr,
		       array_agg(coalesce(d.n, 0)::bigint ORDER BY g.i) AS dh,
		       array_agg(coalesce(w.n, 0)::bigint ORDER BY g.i) AS wh
		  FROM grid g
		  LEFT JOIN per d ON d.hr = g.hr AND d.k = 'd' AND d.bk = g.i
		  LEFT JOIN per w ON w.hr = g.hr AND w.k = 'w' AND w.bk = g.i
		 GROUP BY g.hr
	)
	INSERT INTO export_job_hourly (hour, created, started, done, failed,
	    bytes, duration_sum, duration_hist, wait_sum, wait_hist)
	SELECT t.hr, t.c, t.w, t.d, t.f, t.bb, t.ds, hist.dh, t.ws, hist.wh
	  FROM (SELECT hr,
	               coalesce(sum(n) FILTER (WHERE k = 'c'), 0) AS c,
	               coalesce(sum(n) FILTER (WHERE k = 'w'), 0) AS w,
	               coalesce(sum(n) FILTER (WHERE k = 'd'), 0) AS d,
	               coalesce(sum(n) FILTER (WHERE k = 'f'), 0) AS f,
	               coalesce(sum(bb) FILTER (WHERE k = 'd'), 0) AS bb,
	               coalesce(sum(ss) FILTER (WHERE k = 'd'), 0) AS ds,
	               coalesce(sum(ss) FILTER (WHERE k = 'w'), 0) AS ws
	          FROM per GROUP BY hr) t
	  JOIN hist USING (hr);
	SELECT count(*) FROM export_job_hourly;
$$;

REVOKE ALL ON FUNCTION export_job_hourly_rebuild() FROM PUBLIC;

SELECT export_job_hourly_rebuild();

-- The runtime roles read the rollup, and opsctl (the jobs role) may create
-- a job for `opsctl exports retry`: ops_apply_roles() of 0008, then that.
ALTER FUNCTION ops_apply_roles(text, text, integer, integer)
	RENAME TO ops_apply_roles_0008;

CREATE FUNCTION ops_apply_roles(fcgi_role text, jobs_role text,
    statement_timeout_ms integer, idle_tx_timeout_ms integer)
RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
	PERFORM ops_apply_roles_0008(fcgi_role, jobs_role,
	    statement_timeout_ms, idle_tx_timeout_ms);
	EXECUTE format('GRANT SELECT ON export_job_hourly TO %I, %I',
	    fcgi_role, jobs_role);
	-- opsctl exports retry (opsctl runs as the jobs role) creates a job;
	-- the jobs role reads audit_log already, so this opens no data
	EXECUTE format('GRANT INSERT ON tb_audit_export_job TO %I', jobs_role);
END;
$fn$;

REVOKE ALL ON FUNCTION ops_apply_roles(text, text, integer, integer) FROM PUBLIC;

COMMENT ON FUNCTION ops_apply_roles(text, text, integer, integer) IS
	'Create or update the runtime roles: ops_apply_roles_0008(), then the grants of 0010 (export_job_hourly).';
