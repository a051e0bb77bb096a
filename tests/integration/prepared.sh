#!/usr/bin/env bash
# database.prepared_statements, both ways, against the real stack:
#  - true (default): the poll and the list run as named prepared statements
#    (the server log shows "execute ops_export_job_get"), and a session the
#    server ended is prepared again on the next connection;
#  - false: the same requests run as unnamed statements, also through
#    PgBouncer 1.18 in transaction mode (which cannot hold prepared
#    statements), with more ops-fcgi workers than server connections;
#  - timestamps, now formatted in C from epoch microseconds, are
#    byte-identical to the SQL formatting they replace (DB_SQL_RFC3339).
# Runtime: about 15 s.
. "$(dirname "$0")/../lib.sh"

PGB_PID=
suite_cleanup() { [ -n "$PGB_PID" ] && kill "$PGB_PID" 2>/dev/null; }

STACK_EXPORT_EXTRA="  max_active_per_tenant: 10" test_stack_up prepared
PGLOG=$DIR/pg/postgres.log
sql "ALTER SYSTEM SET log_statement = 'all'" >/dev/null
sql "SELECT pg_reload_conf()" >/dev/null
AUD=$(mint prep-auditor "" '["AUDITOR"]')

# restart_fcgi EXTRA_DATABASE_LINES: ops-fcgi with a new database section
restart_fcgi() {
	STACK_DATABASE_EXTRA=$1 stack_write_config "$DIR" "$PORT"
	stack_fcgi_stop "$DIR"
	stack_fcgi_start "$DIR"
}
# log_mark / log_since: the server log written after the mark
log_mark() { MARK=$(stat -c %s "$PGLOG"); }
log_since() { tail -c +"$((MARK + 1))" "$PGLOG"; }

# --- timestamps: C formatting == the SQL it replaces -------------------------
ids=()
for i in 1 2 3; do
	api POST /api/ops/audit-exports "$AUD" -H 'Content-Type: application/json' \
		-d "{\"tenant_id\":\"prep\",\"from\":\"2026-10-0${i}T00:00:00Z\",\"to\":\"2026-10-0${i}T12:00:00.5Z\",\"format\":\"jsonl\"}"
	ids+=("$(jq -r .id <<<"$BODY")")
done
check "three jobs created" test "${#ids[@]}" -eq 3 -a "$CODE" = 202
J=${ids[0]}
# a fraction with trailing zeros, none, one digit, the last microsecond
# (session_replication_role: past the guard trigger, for the test only)
sql "SET session_replication_role = replica; UPDATE tb_audit_export_job SET state = 'DONE', attempt = 1,
     sha256 = repeat('a', 64), total_rows = 0, total_bytes = 0, created_at = '2026-11-26T09:30:00.51Z', started_at = '2026-11-26T09:31:00Z',
     finished_at = '2026-11-26T09:32:00.000001Z', expires_at = '2026-12-31T23:59:59.999999Z' WHERE id = '$J'" >/dev/null
# f() is DB_SQL_RFC3339 (lib/db.h) as a function, for the comparison
sql "CREATE FUNCTION pg_temp.f(t timestamptz) RETURNS text LANGUAGE sql AS
     \$\$ SELECT regexp_replace(to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '\\.?0+Z\$', 'Z') \$\$;
     SELECT json_build_object('from', pg_temp.f(range_from), 'to', pg_temp.f(range_to), 'created_at', pg_temp.f(created_at),
            'started_at', pg_temp.f(started_at), 'finished_at', pg_temp.f(finished_at), 'expires_at', pg_temp.f(expires_at))
     FROM tb_audit_export_job WHERE id = '$J'" >"$DIR/want.json"
want=$(jq -cS . "$DIR/want.json")
expect_match "the SQL formatting gives fractions and none" '"created_at":"2026-11-26T09:30:00.51Z".*"finished_at":"2026-11-26T09:32:00.000001Z"' "$want"

log_mark
api GET "/api/ops/audit-exports/$J" "$AUD"
expect_eq "poll answers 200" 200 "$CODE"
got=$(jq -cS '{from, to, created_at, started_at, finished_at, expires_at}' <<<"$BODY")
expect_eq "poll: timestamps byte-identical to the SQL formatting" "$want" "$got"
api GET "/api/ops/audit-exports?tenant_id=prep" "$AUD"
expect_eq "list answers 200" 200 "$CODE"
got=$(jq -cS --arg j "$J" '.items[] | select(.id == $j) | {from, to, created_at, started_at, finished_at, expires_at}' <<<"$BODY")
expect_eq "list: timestamps byte-identical to the SQL formatting" "$want" "$got"
api GET "/api/ops/audit-exports?tenant_id=prep&limit=2" "$AUD"
cursor=$(jq -r .next_cursor <<<"$BODY")
api GET "/api/ops/audit-exports?tenant_id=prep&limit=2&cursor=$cursor" "$AUD"
expect_eq "list: the cursor (epoch microseconds) reaches the third job" "1" "$(jq '.items | length' <<<"$BODY")"

# --- prepared_statements: true (the default) ---------------------------------
for _ in 1 2 3; do api GET "/api/ops/audit-exports/$J" "$AUD"; done
since=$(log_since)
expect_contains "true: the poll runs as a named prepared statement" "execute ops_export_job_get:" "$since"
expect_contains "true: the list runs as a named prepared statement" "execute ops_export_job_list:" "$since"
expect_not_contains "true: the poll is never sent unnamed" "execute <unnamed>: SELECT id, tenant_id, requested_by" "$since"

# the server ends every ops-fcgi session: the next poll reconnects and
# prepares again (a 503 while the pool notices is allowed, then 200)
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'ops-fcgi/%'" >/dev/null
log_mark
ok_after=0
for _ in $(seq 1 40); do
	api GET "/api/ops/audit-exports/$J" "$AUD"
	[ "$CODE" = 200 ] && ok_after=$((ok_after + 1))
	[ "$ok_after" -ge 5 ] && break
	sleep 0.1
done
check "true: polls answer 200 again after the server ended the sessions" test "$ok_after" -ge 5
expect_contains "true: the new sessions prepared the poll again" "execute ops_export_job_get:" "$(log_since)"

# --- prepared_statements: false ------------------------------------------------
restart_fcgi "  prepared_statements: false" || not_ok "ops-fcgi restarts with prepared_statements: false"
log_mark
api GET "/api/ops/audit-exports/$J" "$AUD"
expect_eq "false: poll answers 200" 200 "$CODE"
got=$(jq -cS '{from, to, created_at, started_at, finished_at, expires_at}' <<<"$BODY")
expect_eq "false: the same timestamps" "$want" "$got"
api GET "/api/ops/audit-exports?tenant_id=prep" "$AUD"
expect_eq "false: list answers 200" 200 "$CODE"
since=$(log_since)
expect_contains "false: the poll is sent unnamed" "execute <unnamed>: SELECT id, tenant_id, requested_by" "$since"
expect_not_contains "false: nothing is prepared by name" "execute ops_export_job" "$since"

# --- false behind PgBouncer 1.18, transaction mode ------------------------------
if ! command -v pgbouncer >/dev/null; then
	not_ok "pgbouncer is installed (scripts/bootstrap installs it)"
	finish
fi
PGB_PORT=$(free_port)
mkdir -p "$DIR/pgb"
cat >"$DIR/pgb/pgbouncer.ini" <<INI
[databases]
ops = host=$DIR/pg port=5432 dbname=ops user=ops
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGB_PORT
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = 2
max_client_conn = 50
ignore_startup_parameters = options
logfile = $DIR/pgb/pgbouncer.log
pidfile = $DIR/pgb/pgbouncer.pid
INI
pgb_user=()
if [ "$(id -u)" -eq 0 ]; then
	chown -R "${PGTEMP_USER:-opspg}" "$DIR/pgb"
	pgb_user=(-u "${PGTEMP_USER:-opspg}")
fi
pgbouncer "${pgb_user[@]}" "$DIR/pgb/pgbouncer.ini" >"$DIR/pgb/stdout" 2>&1 &
PGB_PID=$!
for _ in $(seq 1 50); do
	psql -X -qAt "postgresql://ops@127.0.0.1:$PGB_PORT/ops" -c "SELECT 1" >/dev/null 2>&1 && break
	sleep 0.1
done
expect_eq "pgbouncer answers" 1 "$(psql -X -qAt "postgresql://ops@127.0.0.1:$PGB_PORT/ops" -c "SELECT 1" 2>&1)"
expect_match "it is PgBouncer 1.18 (no prepared statements in transaction mode)" "1\.18" "$(pgbouncer --version | head -n1)"
sed -i "s|^  url: .*|  url: \"postgresql://ops@127.0.0.1:$PGB_PORT/ops\"|" "$DIR/ops.yaml"
STACK_THREADS=6
sed -i "s|^  threads: .*|  threads: 6|" "$DIR/ops.yaml"
stack_fcgi_stop "$DIR"; stack_fcgi_start "$DIR" || not_ok "ops-fcgi starts behind pgbouncer"
seq 1 120 | xargs -P 8 -I{} curl -s -o /dev/null -w '%{http_code}\n' \
	-H "Authorization: Bearer $AUD" "$STACK_URL/api/ops/audit-exports/$J" >"$DIR/codes"
expect_eq "pgbouncer: 120 concurrent polls from 6 workers over 2 server connections all answer 200" \
	"120 200" "$(sort "$DIR/codes" | uniq -c | awk '{ print $1, $2 }' | paste -sd' ')"
api GET "/api/ops/audit-exports?tenant_id=prep&limit=2" "$AUD"
expect_eq "pgbouncer: list answers 200" 200 "$CODE"
api DELETE "/api/ops/audit-exports/${ids[2]}" "$AUD"
expect_eq "pgbouncer: cancel (a transaction with FOR UPDATE) answers 202" 202 "$CODE"
expect_eq "pgbouncer: the cancel is committed" "FAILED EXPORT_CANCELLED" "$(sql "SELECT state || ' ' || error_code FROM tb_audit_export_job WHERE id = '${ids[2]}'")"
finish
