#!/usr/bin/env bash
# tests/integration/db_roles.sh: the least-privilege database roles
# (sql/migrations/0006_roles.sql, `opsctl migrate`, docs/database.md "Roles").
#
# One stack (scripts/stack-lib.sh): migrate as the owner creates ops_fcgi and
# ops_jobs; ops-fcgi and the job binaries connect as them. As each runtime
# role: UPDATE, DELETE, TRUNCATE on audit_log, DISABLE TRIGGER, DDL and
# switching triggers off per session all fail with SQLSTATE 42501
# (insufficient_privilege); the roles own nothing; their session settings
# come from the role, not from connection options. Runtime: ~10 s.

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
	expect_eq "$role may append to audit_log" "" \
		"$(as "$role" "BEGIN; INSERT INTO audit_log (tenant_id, occurred_at, action) VALUES ('t-roles', now(), 'x'); ROLLBACK")"
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
