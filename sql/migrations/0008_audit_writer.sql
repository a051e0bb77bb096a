-- 0008_audit_writer: the runtime roles no longer read or write audit_log
-- directly beyond what they serve (issue 20, M4; docs/database.md "Roles").
--
-- Before: ops_fcgi and ops_jobs both had SELECT and INSERT on audit_log. The
-- responder never serves audit_log rows, yet could read every tenant's, and
-- could insert a row for any tenant, dated any time, with any actor.
--
-- Now:
--   * audit rows written by this product go through ops_audit_record(), a
--     SECURITY DEFINER function owned by the migration role (the owner of
--     audit_log). It takes no time: occurred_at is now() (the start of the
--     caller's transaction, the same instant as the state change it
--     records). It takes the tenant from the row the record is about: an
--     export job's tenant_id (tb_audit_export_job), or "_system" for a
--     scheduler lock; a caller that names another tenant gets OPA02 and no
--     row. The target must exist, and the action must belong to the target
--     type (EXPORT_* for audit_export, SCHEDULER_LOCK_* for scheduler_lock).
--     The actor, ip, request id and payload remain the caller's word: the
--     database cannot check a JWT (docs/database.md says so).
--   * ops_fcgi: no privilege on audit_log at all (it reads no audit row);
--     EXECUTE on ops_audit_record().
--   * ops_jobs: SELECT on audit_log (the export runner reads the rows it
--     exports, any tenant), no INSERT; EXECUTE on ops_audit_record().
--   * nobody else may EXECUTE the function (REVOKE ... FROM PUBLIC).
--
-- search_path of the function is pinned to this schema, then pg_temp last:
-- a runtime role may create temporary tables (PUBLIC has TEMP), and pg_temp
-- is searched FIRST for tables unless it is named explicitly, so without the
-- pin a temp table called audit_log would receive the owner's insert.
--
-- Row-level security: not used. Decision (docs/database.md): the responder
-- serves every tenant to SUPER_ADMIN and AUDITOR callers, so a policy would
-- have to trust a tenant the responder itself sets per transaction, which
-- stops no compromised responder; ops_fcgi has no access to audit_log to
-- filter; the runner must read any tenant's rows. Grants and this function
-- are the boundary; tenant scoping of the API stays in the responder.
--
-- ops_apply_roles() is redefined with the new grants (same signature, so
-- `opsctl migrate` calls it as before and repairs drift on every run).

CREATE FUNCTION ops_audit_record(p_tenant_id text, p_actor_id text,
    p_action text, p_target_type text, p_target_id text, p_ip inet,
    p_request_id text, p_payload jsonb)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
	t text;
	new_id bigint;
BEGIN
	IF p_target_type = 'audit_export' THEN
		IF p_action !~ '^EXPORT_[A-Z0-9_]+$' THEN
			RAISE EXCEPTION 'audit action % does not belong to an export job', p_action
				USING ERRCODE = 'OPA02';
		END IF;
		IF p_target_id !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
			RAISE EXCEPTION 'audit record target "%" is not an export job id', p_target_id
				USING ERRCODE = 'OPA02';
		END IF;
		SELECT j.tenant_id INTO t FROM tb_audit_export_job j
		 WHERE j.id = p_target_id::uuid;
		IF t IS NULL THEN
			RAISE EXCEPTION 'audit record target export job % does not exist', p_target_id
				USING ERRCODE = 'OPA02';
		END IF;
	ELSIF p_target_type = 'scheduler_lock' THEN
		IF p_action !~ '^SCHEDULER_LOCK_[A-Z0-9_]+$' THEN
			RAISE EXCEPTION 'audit action % does not belong to a scheduler lock', p_action
				USING ERRCODE = 'OPA02';
		END IF;
		IF NOT EXISTS (SELECT 1 FROM tb_scheduler_lock l WHERE l.name = p_target_id) THEN
			RAISE EXCEPTION 'audit record target scheduler lock % does not exist', p_target_id
				USING ERRCODE = 'OPA02';
		END IF;
		t := '_system';
	ELSE
		RAISE EXCEPTION 'audit records about % are not written by this product', coalesce(p_target_type, 'nothing')
			USING ERRCODE = 'OPA02',
			      HINT = 'target_type must be audit_export or scheduler_lock.';
	END IF;
	IF p_tenant_id IS NOT NULL AND p_tenant_id IS DISTINCT FROM t THEN
		RAISE EXCEPTION 'audit record for % % names tenant %, but it belongs to tenant %',
			p_target_type, p_target_id, p_tenant_id, t
			USING ERRCODE = 'OPA02';
	END IF;
	INSERT INTO audit_log (tenant_id, occurred_at, actor_id, action,
	    target_type, target_id, ip, request_id, payload)
	VALUES (t, now(), p_actor_id, p_action, p_target_type, p_target_id,
	    p_ip, p_request_id, coalesce(p_payload, '{}'))
	RETURNING id INTO new_id;
	RETURN new_id;
END;
$fn$;

DO $pin$
BEGIN
	EXECUTE format('ALTER FUNCTION ops_audit_record(text, text, text, text, '
	    'text, inet, text, jsonb) SET search_path = %I, pg_temp', current_schema());
END;
$pin$;

REVOKE ALL ON FUNCTION ops_audit_record(text, text, text, text, text, inet, text, jsonb) FROM PUBLIC;

COMMENT ON FUNCTION ops_audit_record(text, text, text, text, text, inet, text, jsonb) IS
	'The one way the runtime roles write audit_log: time now(), tenant from the target row (export job, or _system for a scheduler lock); OPA02 otherwise.';

CREATE OR REPLACE FUNCTION ops_apply_roles(fcgi_role text, jobs_role text,
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
		EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA %I FROM %I', current_schema(), r);
		-- CONNECT on the database and USAGE on the schema: PUBLIC has
		-- both by default; grant USAGE too where the owner may.
		IF has_schema_privilege(current_schema(), 'USAGE WITH GRANT OPTION') THEN
			EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), r);
		END IF;

		EXECUTE format('ALTER ROLE %I SET statement_timeout = %L', r, statement_timeout_ms::text);
		EXECUTE format('ALTER ROLE %I SET idle_in_transaction_session_timeout = %L', r, idle_tx_timeout_ms::text);
		EXECUTE format('ALTER ROLE %I SET TimeZone = %L', r, 'UTC');

		-- Both: append events; append audit records (export requested,
		-- downloaded, completed, lock released, ...) only through
		-- ops_audit_record (0008); read the locks and job runs for
		-- status/metrics.
		EXECUTE format('GRANT SELECT, INSERT ON ops_event TO %I', r);
		EXECUTE format('GRANT USAGE ON SEQUENCE ops_event_id_seq TO %I', r);
		EXECUTE format('GRANT EXECUTE ON FUNCTION ops_audit_record(text, text, '
		    'text, text, text, inet, text, jsonb) TO %I', r);
		EXECUTE format('GRANT SELECT, UPDATE ON tb_scheduler_lock TO %I', r);
		EXECUTE format('GRANT SELECT ON job_run, ops_event_rollup TO %I', r);
	END LOOP;

	-- ops-fcgi: create, read and cancel export jobs, read their chunks.
	-- Nothing on audit_log: it serves no audit row.
	EXECUTE format('GRANT SELECT, INSERT, UPDATE ON tb_audit_export_job TO %I', fcgi_role);
	EXECUTE format('GRANT SELECT ON tb_audit_export_chunk TO %I', fcgi_role);

	-- Job binaries: read the audit rows an export streams; run, expire and
	-- purge exports; take scheduler locks; record and purge job runs.
	EXECUTE format('GRANT SELECT ON audit_log TO %I', jobs_role);
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
