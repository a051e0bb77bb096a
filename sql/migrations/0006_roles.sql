-- 0006_roles: least-privilege runtime roles (see docs/database.md, "Roles").
--
-- The role that runs `opsctl migrate` (database.migrate_url: a direct
-- connection, never through PgBouncer) owns every table, sequence and
-- function. The runtime binaries connect as roles that own nothing and hold
-- only the grants below:
--
--   fcgi role (database.fcgi_role, default ops_fcgi): ops-fcgi
--   jobs role (database.jobs_role, default ops_jobs): ops-export-runner,
--             ops-export-cleaner, ops-lock-healer, ops-notion-preflight and
--             the operator commands of opsctl
--
-- Correction of 0001_core.sql (an applied file is never edited): its comment
-- says that switching off audit_log's append-only triggers "needs a
-- superuser". Any owner of audit_log can ALTER TABLE ... DISABLE TRIGGER,
-- and before this migration the application connected as that owner. Since
-- 0006 only the migration role (the owner) and superusers can; the runtime
-- roles are not owners, hold no TRIGGER privilege, no UPDATE, DELETE or
-- TRUNCATE on audit_log, and cannot create objects in the schema.
--
-- `opsctl migrate` calls ops_apply_roles() after the files, with values from
-- its config, on every run: it creates missing roles and resets their grants
-- and session settings (ALTER ROLE ... SET), so that the settings hold behind
-- PgBouncer, which does not pass the libpq "options" startup parameter. A
-- later migration that adds a table redefines this function with the new
-- grants (CREATE OR REPLACE).

CREATE FUNCTION ops_apply_roles(fcgi_role text, jobs_role text,
    statement_timeout_ms integer, idle_tx_timeout_ms integer)
RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
	r text;
	bad text;
BEGIN
	IF fcgi_role = jobs_role THEN
		RAISE EXCEPTION 'database.fcgi_role and database.jobs_role are both %: give the responder and the job binaries their own roles', fcgi_role;
	END IF;
	FOREACH r IN ARRAY ARRAY[fcgi_role, jobs_role] LOOP
		IF r !~ '^[a-z_][a-z0-9_]{0,62}$' THEN
			RAISE EXCEPTION 'runtime role name "%" is not a lower-case SQL identifier: set database.fcgi_role and database.jobs_role to names like ops_fcgi', r;
		END IF;
		IF r = current_user OR r = session_user THEN
			RAISE EXCEPTION 'runtime role % is the migration role: run opsctl migrate as the owner (database.migrate_url) and give the runtime binaries other roles', r;
		END IF;
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
			IF NOT (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
				RAISE EXCEPTION 'role % does not exist and the migration role % may not create roles: CREATE ROLE % LOGIN as a superuser, or ALTER ROLE % CREATEROLE', r, current_user, r, current_user;
			END IF;
			EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB '
			    'NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS', r);
		END IF;
		IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r AND
		    (rolsuper OR rolbypassrls OR rolcreaterole OR rolcreatedb)) THEN
			RAISE EXCEPTION 'runtime role % is a superuser or may create roles or databases: ALTER ROLE % NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB as a superuser', r, r;
		END IF;
		SELECT string_agg(c.relname, ', ') INTO bad FROM pg_class c
		  JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE n.nspname = current_schema() AND pg_get_userbyid(c.relowner) = r;
		IF bad IS NOT NULL THEN
			RAISE EXCEPTION 'runtime role % owns %: ALTER TABLE ... OWNER TO % for each, as a superuser', r, bad, current_user;
		END IF;
		IF pg_has_role(r, current_user, 'USAGE') THEN
			RAISE EXCEPTION 'runtime role % is a member of the migration role %: REVOKE % FROM %', r, current_user, current_user, r;
		END IF;

		-- Start from nothing, then grant what each binary needs.
		EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %I', current_schema(), r);
		EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM %I', current_schema(), r);
		-- CONNECT on the database and USAGE on the schema: PUBLIC has
		-- both by default; grant USAGE too where the owner may.
		IF has_schema_privilege(current_schema(), 'USAGE WITH GRANT OPTION') THEN
			EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), r);
		END IF;

		EXECUTE format('ALTER ROLE %I SET statement_timeout = %L', r, statement_timeout_ms::text);
		EXECUTE format('ALTER ROLE %I SET idle_in_transaction_session_timeout = %L', r, idle_tx_timeout_ms::text);
		EXECUTE format('ALTER ROLE %I SET TimeZone = %L', r, 'UTC');

		-- Both: append events, append audit records (export requested,
		-- downloaded, ...), read the locks and job runs for status/metrics.
		EXECUTE format('GRANT SELECT, INSERT ON audit_log, ops_event TO %I', r);
		EXECUTE format('GRANT USAGE ON SEQUENCE audit_log_id_seq, ops_event_id_seq TO %I', r);
		EXECUTE format('GRANT SELECT, UPDATE ON tb_scheduler_lock TO %I', r);
		EXECUTE format('GRANT SELECT ON job_run, ops_event_rollup TO %I', r);
	END LOOP;

	-- ops-fcgi: create, read and cancel export jobs, read their chunks.
	EXECUTE format('GRANT SELECT, INSERT, UPDATE ON tb_audit_export_job TO %I', fcgi_role);
	EXECUTE format('GRANT SELECT ON tb_audit_export_chunk TO %I', fcgi_role);

	-- Job binaries: run, expire and purge exports; take scheduler locks;
	-- record and purge job runs.
	EXECUTE format('GRANT SELECT, UPDATE, DELETE ON tb_audit_export_job TO %I', jobs_role);
	EXECUTE format('GRANT SELECT, INSERT, DELETE ON tb_audit_export_chunk TO %I', jobs_role);
	EXECUTE format('GRANT INSERT ON tb_scheduler_lock TO %I', jobs_role);
	EXECUTE format('GRANT INSERT, UPDATE, DELETE ON job_run TO %I', jobs_role);
	EXECUTE format('GRANT USAGE ON SEQUENCE job_run_id_seq TO %I', jobs_role);
	-- the ops_event retention (0005): delete a batch, roll it up
	EXECUTE format('GRANT DELETE ON ops_event TO %I', jobs_role);
	EXECUTE format('GRANT INSERT, UPDATE ON ops_event_rollup TO %I', jobs_role);
END;
$fn$;

REVOKE ALL ON FUNCTION ops_apply_roles(text, text, integer, integer) FROM PUBLIC;

COMMENT ON FUNCTION ops_apply_roles(text, text, integer, integer) IS
	'Create or update the runtime roles (grants, ALTER ROLE ... SET); called by opsctl migrate after the migration files.';
