#!/usr/bin/env bash
# tests/integration/db_roles.sh: the least-privilege database roles
# (sql/migrations/0006_roles.sql, `opsctl migrate`, docs/database.md "Roles").
#
# One stack (scripts/stack-lib.sh): migrate as the owner creates ops_fcgi and
# ops_jobs; ops-fcgi and the job binaries connect as them. As each runtime
# role: UPDATE, DELETE, TRUNCATE on audit_log, DISABLE TRIGGER, DDL and
# switching triggers off per session all fail with SQLSTATE 42501
# (insufficient_privilege); the roles own nothing; their session settings
# come from the role, not from connection options.
# Issue 20 (M4): every line of the privilege table in docs/database.md is
# compared with the catalog and probed with a real statement as the role;
# ops_fcgi reads no audit_log row and inserts none directly; audit rows go
# through ops_audit_record(), which takes the time (now()) and the tenant
# (the export job's, or _system for a lock) from the server, whatever the
# caller says; the binaries' audit writes work through it. Runtime: ~15 s.

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$ROOT/scripts/stack-lib.sh"

T_TMP=$(mktemp -d /tmp/ops-roles.XXXXXX)
DIR=$T_TMP/stack
PORT=$(free_port)
trap 'stack_down "$DIR"; rm -rf "$T_TMP"' EXIT

if ! stack_up "$DIR" "$PORT" 2>"$T_TMP/stack.err"; then
	setup_failed "stack up ($(tail -n 5 "$T_TMP/stack.err" | tr '\n' ' '))"
fi
setup_done "stack up (migrations as the owner, ops-fcgi as its role)"
expect_contains "migrate says it set the runtime roles" "runtime roles ops_fcgi and ops_jobs set" \
	"$(cat "$DIR/migrate.log")"

# as ROLE SQL: run SQL as ROLE with verbose errors (SQLSTATE in the message),
# without any PGOPTIONS, so that settings can only come from the role.
as() {
	local role=$1; shift
	env -u PGOPTIONS psql -X -qAt -v VERBOSITY=verbose \
		"${STACK_DB_URL/user=ops/user=$role}" -c '\set VERBOSITY verbose' -c "$1" 2>&1
}

for role in ops_fcgi ops_jobs; do
	expect_eq "$role: a login role, not superuser, no CREATEROLE/CREATEDB/BYPASSRLS" "true|false|false|false|false" \
		"$(sql "SELECT rolcanlogin::text || '|' || rolsuper || '|' || rolcreaterole || '|' || rolcreatedb || '|' || rolbypassrls FROM pg_roles WHERE rolname = '$role'")"
	expect_eq "$role owns no table, sequence, function or schema" "0" \
		"$(sql "SELECT (SELECT count(*) FROM pg_class WHERE relowner = '$role'::regrole)
		            + (SELECT count(*) FROM pg_proc WHERE proowner = '$role'::regrole)
		            + (SELECT count(*) FROM pg_namespace WHERE nspowner = '$role'::regrole)")"
	expect_eq "$role: session settings come from the role (no connection options)" \
		"$role|30s|UTC|30s" \
		"$(as "$role" "SELECT current_user || '|' || current_setting('statement_timeout') || '|' ||
		               current_setting('TimeZone') || '|' || current_setting('idle_in_transaction_session_timeout')")"
	expect_match "$role: a direct INSERT into audit_log (other tenant, 3 days back, actor forged-ceo) fails with 42501" \
		"ERROR:  42501: permission denied" \
		"$(as "$role" "INSERT INTO audit_log (tenant_id, occurred_at, actor_id, action) VALUES ('t-victim', now() - interval '3 days', 'forged-ceo', 'EXPORT_DOWNLOADED')")"
	for stmt in \
		"UPDATE audit_log SET action = 'x'" \
		"DELETE FROM audit_log" \
		"TRUNCATE audit_log" \
		"ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only" \
		"ALTER TABLE audit_log DISABLE TRIGGER ALL" \
		"ALTER TABLE tb_audit_export_job ADD COLUMN x int" \
		"DROP TABLE ops_event" \
		"CREATE TABLE roles_probe (x int)" \
		"CREATE FUNCTION roles_probe() RETURNS int LANGUAGE sql AS 'SELECT 1'" \
		"CREATE INDEX roles_probe ON audit_log (action)" \
		"SET session_replication_role = replica" \
		"SELECT ops_apply_roles('a', 'b', 1, 1)" \
		"UPDATE schema_migrations SET checksum = 'x'"; do
		out=$(as "$role" "$stmt")
		expect_match "$role: '$stmt' fails with permission denied (42501)" \
			"ERROR:  42501: (permission denied|must be owner)" "$out"
	done
done
expect_match "ops_fcgi cannot write chunks" "ERROR:  42501: permission denied" \
	"$(as ops_fcgi "INSERT INTO tb_audit_export_chunk (job_id) VALUES (NULL)")"
expect_match "ops_fcgi cannot delete jobs" "ERROR:  42501: permission denied" \
	"$(as ops_fcgi "DELETE FROM tb_audit_export_job")"
# --- the privilege table of docs/database.md, line by line (issue 20, M4) -------------------
# Each row "| `object` | privileges of ops_fcgi | privileges of ops_jobs |"
# between the markers is compared with the catalog (every table privilege,
# so nothing more and nothing less) and each DML privilege is also probed
# with a real statement as the role, rolled back: allowed = anything but
# 42501, refused = 42501.
DOC="$ROOT/docs/database.md"
table=$(sed -n '/<!-- privileges: begin -->/,/<!-- privileges: end -->/p' "$DOC" | grep -E '^\| `')
check "docs/database.md has the privilege table" test -n "$table"
# a table of the schema missing from the doc is an undocumented grant surface
expect_eq "the privilege table names every table of the schema" \
	"$(sql "SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_tables WHERE schemaname = current_schema()")" \
	"$(sed -n 's/^| `\([a-z_]*\)` |.*/\1/p' <<<"$table" | sort | tr '\n' ' ' | sed 's/ $//')"
norm() { tr -d ' ' <<<"$1" | tr ',' '\n' | grep -v '^none$' | sort | tr '\n' ',' | sed 's/,$//'; }
# probes ROLE TABLE...: "TABLE PRIV allowed|refused" for SELECT, INSERT,
# UPDATE, DELETE of each TABLE, each a real statement run as ROLE in one
# session (one DO block, each statement in its own subtransaction, all
# rolled back): refused = SQLSTATE 42501, allowed = anything else
probes() {
	local role=$1 t col body=""; shift
	for t in "$@"; do
		col=$(sql "SELECT attname FROM pg_attribute WHERE attrelid = '$t'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum LIMIT 1")
		for st in "SELECT|SELECT 1 FROM $t LIMIT 0" "INSERT|INSERT INTO $t DEFAULT VALUES" \
		    "UPDATE|UPDATE $t SET $col = NULL WHERE false" "DELETE|DELETE FROM $t WHERE false"; do
			body+="BEGIN EXECUTE \$q\$${st#*|}\$q\$; RAISE NOTICE 'probe $t ${st%%|*} allowed';
			       EXCEPTION WHEN insufficient_privilege THEN RAISE NOTICE 'probe $t ${st%%|*} refused';
			       WHEN OTHERS THEN RAISE NOTICE 'probe $t ${st%%|*} allowed'; END;"
		done
	done
	as "$role" "BEGIN; DO \$do\$ BEGIN $body END \$do\$; ROLLBACK" | sed -n 's/.*NOTICE:  00000: probe //p'
}
TABLES=$(sed -n 's/^| `\([a-z_]*\)` |.*/\1/p' <<<"$table")
declare -A PROBE
for role in ops_fcgi ops_jobs; do
	while read -r t p r; do PROBE[$role.$t.$p]=$r; done < <(probes "$role" $TABLES)
done
while IFS='|' read -r _ obj fcgi jobs _; do
	obj=$(tr -d ' `' <<<"$obj")
	for pair in "ops_fcgi:$fcgi" "ops_jobs:$jobs"; do
		role=${pair%%:*}; want=$(norm "${pair#*:}")
		case $obj in
		*'()')
			fn=${obj%()}
			got=$(sql "SELECT CASE WHEN bool_or(has_function_privilege('$role', p.oid, 'EXECUTE')) THEN 'EXECUTE' ELSE '' END
			           FROM pg_proc p WHERE p.proname = '$fn' AND p.pronamespace = current_schema()::regnamespace")
			expect_eq "$role on $obj: exactly '${want:-none}' (docs/database.md)" "$want" "$got"
			;;
		*)
			got=$(sql "SELECT coalesce(string_agg(p, ',' ORDER BY p), '') FROM unnest(ARRAY['DELETE','INSERT','REFERENCES','SELECT','TRIGGER','TRUNCATE','UPDATE']) p
			           WHERE has_table_privilege('$role', '$obj', p)")
			bad=""
			for priv in SELECT INSERT UPDATE DELETE; do
				exp=refused; [[ ",$want," == *",$priv,"* ]] && exp=allowed
				res=${PROBE[$role.$obj.$priv]:-missing}
				[ "$res" = "$exp" ] || bad+=" $priv $res (want $exp)"
			done
			if [ "$got" = "$want" ] && [ -z "$bad" ]; then
				ok "$role on $obj: exactly '${want:-none}', as a real statement too (docs/database.md)"
			else
				not_ok "$role on $obj: docs/database.md says '${want:-none}', the catalog says '${got:-none}'${bad:+; as a statement:$bad}"
			fi
			;;
		esac
	done
done <<<"$table"

# --- ops_fcgi writes audit rows only through ops_audit_record (issue 20, M4) -----------------
expect_match "ops_fcgi cannot read audit_log (it serves no audit row)" "ERROR:  42501: permission denied" \
	"$(as ops_fcgi "SELECT count(*) FROM audit_log")"
expect_eq "ops_audit_record: SECURITY DEFINER, owned by the migration role, search_path pinned (pg_temp last)" \
	"true|ops|search_path=public, pg_temp" \
	"$(sql "SELECT prosecdef::text || '|' || pg_get_userbyid(proowner) || '|' || array_to_string(proconfig, ',') FROM pg_proc WHERE proname = 'ops_audit_record'")"
# two export jobs of two tenants, made by the owner
new_job() {
	sql "INSERT INTO tb_audit_export_job (id, tenant_id, requested_by, format, range_from, range_to, max_rows, max_bytes, max_duration_seconds, max_attempts)
	     VALUES (gen_random_uuid(), '$1', 'roles-test', 'jsonl', '2026-01-01', '2026-01-02', 10, 1000, 60, 3) RETURNING id" | head -n1
}
JOB_ACME=$(new_job acme)
JOB_GLOBEX=$(new_job globex)
check "two export jobs (acme, globex) to write audit records about" test -n "$JOB_ACME" -a -n "$JOB_GLOBEX"
out=$(as ops_fcgi "SELECT ops_audit_record('acme', 'forged-ceo', 'EXPORT_DOWNLOADED', 'audit_export', '$JOB_GLOBEX', NULL, NULL, '{}')")
expect_match "ops_fcgi: a record about globex's job that names tenant acme is refused (OPA02)" \
	"ERROR:  OPA02: audit record for audit_export $JOB_GLOBEX names tenant acme, but it belongs to tenant globex" "$out"
AID=$(as ops_fcgi "SELECT ops_audit_record(NULL, 'forged-ceo', 'EXPORT_DOWNLOADED', 'audit_export', '$JOB_GLOBEX', NULL, 'rid-roles', '{}')")
expect_match "ops_fcgi: a record about globex's job without a tenant is written" '^[0-9]+$' "$AID"
expect_eq "... with the job's tenant and the server's time (now())" "globex|true" \
	"$(sql "SELECT tenant_id || '|' || (occurred_at > now() - interval '1 minute' AND occurred_at <= now())::text FROM audit_log WHERE id = ${AID:-0}")"
out=$(as ops_fcgi "SELECT ops_audit_record(NULL, 'forged-ceo', 'EXPORT_DOWNLOADED', 'audit_export', '$JOB_ACME', NULL, NULL, '{}', now() - interval '3 days')")
expect_match "ops_fcgi: there is no way to pass a time (no such function)" "ERROR:  42883" "$out"
for forged in \
	"EXPORT_DOWNLOADED|audit_export|00000000-0000-0000-0000-000000000000|a job that does not exist" \
	"EXPORT_DOWNLOADED|tenant|globex|a target type the product does not write" \
	"EXPORT_DOWNLOADED|audit_export|not-a-uuid|a target that is no job id" \
	"SCHEDULER_LOCK_RECOVERED|scheduler_lock|no-such-lock|a lock that does not exist" \
	"SCHEDULER_LOCK_RECOVERED|audit_export|$JOB_ACME|an export job with a lock action"; do
	IFS='|' read -r action ttype tid what <<<"$forged"
	out=$(as ops_fcgi "SELECT ops_audit_record(NULL, 'forged-ceo', '$action', '$ttype', '$tid', NULL, NULL, '{}')")
	expect_match "ops_fcgi: a record about $what is refused (OPA02)" "ERROR:  OPA02:" "$out"
done
# the pinned search_path: a temporary table named audit_log (any role may
# create one) does not receive the owner's insert
out=$(as ops_fcgi "CREATE TEMP TABLE audit_log (id bigserial, tenant_id text, occurred_at timestamptz, actor_id text, action text, target_type text, target_id text, ip inet, request_id text, payload jsonb);
	SELECT ops_audit_record(NULL, 'temp-probe', 'EXPORT_DOWNLOADED', 'audit_export', '$JOB_ACME', NULL, NULL, '{}');
	SELECT 'temp rows: ' || count(*) FROM pg_temp.audit_log")
expect_contains "a temp table audit_log of the caller stays empty" "temp rows: 0" "$out"
expect_eq "... the record is in the real audit_log" 1 "$(sql "SELECT count(*) FROM audit_log WHERE actor_id = 'temp-probe' AND tenant_id = 'acme'")"
sql "SET client_min_messages = warning; DROP ROLE IF EXISTS roles_probe; CREATE ROLE roles_probe LOGIN" >/dev/null
expect_match "a role without the grant cannot EXECUTE ops_audit_record (not granted to PUBLIC)" "ERROR:  42501: permission denied for function ops_audit_record" \
	"$(as roles_probe "SELECT ops_audit_record(NULL, 'x', 'EXPORT_DOWNLOADED', 'audit_export', '$JOB_ACME', NULL, NULL, '{}')")"
sql "DROP ROLE roles_probe" >/dev/null
expect_eq "no row dated back, and no forged-ceo row for a tenant other than its job's" "0" \
	"$(sql "SELECT count(*) FROM audit_log a WHERE a.occurred_at < now() - interval '1 hour'
	          OR (a.actor_id = 'forged-ceo' AND a.tenant_id IS DISTINCT FROM (SELECT tenant_id FROM tb_audit_export_job j WHERE j.id::text = a.target_id))")"
expect_match "ops_jobs reads audit_log (the runner exports it)" '^[0-9]+$' "$(as ops_jobs "SELECT count(*) FROM audit_log")"

# the trigger is still on and the rows are still there
expect_eq "audit_log append-only triggers still enabled (ALWAYS)" "A|A" \
	"$(sql "SELECT string_agg(tgenabled::text, '|' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass AND NOT tgisinternal")"

# The binaries really connect as their roles.
deadline=$((SECONDS + 10)); users=''
while [ $SECONDS -lt $deadline ]; do
	users=$(sql "SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity WHERE application_name LIKE 'ops-fcgi/%'")
	[ -n "$users" ] && break
	sleep 0.2
done
expect_eq "ops-fcgi workers connect as ops_fcgi" "ops_fcgi" "$users"
out=$("$BIN/opsctl" --config "$STACK_CONFIG" locks 2>&1); rc=$?
expect_eq "opsctl locks works as ops_jobs (exit 0)" "0" "$rc"
"$BIN/ops-lock-healer" --config "$STACK_CONFIG" >"$T_TMP/healer.out" 2>&1; rc=$?
expect_eq "ops-lock-healer runs as ops_jobs (exit 0)" "0" "$rc"
expect_eq "the healer's job_run row was written by ops_jobs' session (one SUCCEEDED run)" "1" \
	"$(sql "SELECT count(*) FROM job_run WHERE job = 'ops-lock-healer' AND status = 'SUCCEEDED'")"

# The binaries' audit writes work through ops_audit_record, as each role:
# ops-fcgi (EXPORT_REQUESTED, EXPORT_DOWNLOADED, SCHEDULER_LOCK_FORCE_RELEASED),
# ops-export-runner (EXPORT_COMPLETED), and each record has the job's tenant.
sql "INSERT INTO audit_log (tenant_id, occurred_at, actor_id, action, payload)
     SELECT 'acme', timestamptz '2026-03-01T00:00:00Z' + g * interval '1 minute', 'u', 'doc.read', '{}' FROM generate_series(1, 50) g" >/dev/null
SUPER=$(mint root-1 "" '["SUPER_ADMIN"]')
api POST /api/ops/audit-exports "$SUPER" -H 'Content-Type: application/json' \
	-d '{"tenant_id":"acme","from":"2026-03-01T00:00:00Z","to":"2026-03-02T00:00:00Z","format":"jsonl"}'
JOB=$(jq -r '.id // empty' <<<"$BODY")
expect_eq "ops-fcgi (ops_fcgi) creates an export: 202" 202 "$CODE"
"$BIN/ops-export-runner" --config "$STACK_CONFIG" >"$T_TMP/runner.out" 2>&1; rc=$?
expect_eq "ops-export-runner (ops_jobs) runs it: exit 0, job DONE" "0 DONE" "$rc $(sql "SELECT state FROM tb_audit_export_job WHERE id = '$JOB'")"
api GET "/api/ops/audit-exports/$JOB/download" "$SUPER"
expect_eq "ops-fcgi serves the download: 200" 200 "$CODE"
api POST /api/ops/scheduler/locks/ops-lock-healer/release "$SUPER" -H 'Content-Type: application/json' -d '{"reason":"db_roles"}'
expect_eq "ops-fcgi force-releases a lock: 200" 200 "$CODE"
expect_eq "audit rows written through ops_audit_record: tenant from the job (or _system), time now()" \
	"EXPORT_COMPLETED acme true
EXPORT_DOWNLOADED acme true
EXPORT_REQUESTED acme true
SCHEDULER_LOCK_FORCE_RELEASED _system true" \
	"$(sql "SELECT action || ' ' || tenant_id || ' ' || bool_and(occurred_at > now() - interval '5 minutes') FROM audit_log
	        WHERE target_id IN ('$JOB', 'ops-lock-healer') AND action <> 'SCHEDULER_LOCK_RECOVERED' GROUP BY action, tenant_id ORDER BY action")"

# migrate is idempotent and repairs grants and settings.
sql "ALTER ROLE ops_jobs SET statement_timeout = 0; GRANT UPDATE ON audit_log TO ops_jobs" >/dev/null
out=$("$BIN/opsctl" --config "$STACK_CONFIG" migrate 2>&1); rc=$?
expect_eq "migrate again: exit 0" "0" "$rc"
expect_contains "migrate again: nothing applied" "0 applied" "$out"
expect_eq "migrate again resets the role's settings" "30s" \
	"$(as ops_jobs "SELECT current_setting('statement_timeout')")"
expect_match "migrate again revokes a stray grant" "ERROR:  42501: permission denied" \
	"$(as ops_jobs "UPDATE audit_log SET action = 'x'")"

# migrate refuses unsafe role setups, saying what to do.
sed 's/^database:$/database:\n  jobs_role: ops_fcgi/' "$STACK_CONFIG" >"$T_TMP/same.yaml"
out=$("$BIN/opsctl" --config "$T_TMP/same.yaml" migrate 2>&1); rc=$?
expect_eq "migrate with fcgi_role = jobs_role fails" "1" "$rc"
expect_contains "and says so" "database.fcgi_role and database.jobs_role are both ops_fcgi" "$out"
sed 's/^database:$/database:\n  jobs_role: ops/' "$STACK_CONFIG" >"$T_TMP/owner.yaml"
out=$("$BIN/opsctl" --config "$T_TMP/owner.yaml" migrate 2>&1); rc=$?
expect_eq "migrate with the owner as runtime role fails" "1" "$rc"
expect_contains "and says so" "runtime role ops is the migration role" "$out"
sql "ALTER ROLE ops_jobs CREATEDB" >/dev/null
out=$("$BIN/opsctl" --config "$STACK_CONFIG" migrate 2>&1); rc=$?
expect_eq "migrate with a runtime role that may create databases fails" "1" "$rc"
expect_contains "and names the fix" "ALTER ROLE ops_jobs NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB" "$out"
sql "ALTER ROLE ops_jobs NOCREATEDB" >/dev/null

finish
