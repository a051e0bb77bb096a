#!/usr/bin/env bash
# tests/integration/sql_schema.sh: scripts/pgtemp and sql/migrations/*.sql.
#
# Starts a throwaway cluster with scripts/pgtemp, applies every migration the
# way psql would (one --single-transaction run per file, standing in for
# `opsctl migrate`), and checks the rules the schema enforces by itself:
# append-only audit_log, the export job state machine, attempt fencing of
# chunks, scheduler lock fencing tokens, job_run. Then applies the migrations
# again, the way the C migrator does (BEGIN; whole file as one simple query;
# COMMIT), to a second empty database and compares the two schemas.

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

PGTEMP=$ROOT/scripts/pgtemp
MIGRATIONS=("$ROOT"/sql/migrations/[0-9][0-9][0-9][0-9]_*.sql)

TMP=$(mktemp -d /tmp/ops-sql-test.XXXXXX)
PGDIR=$TMP/pg
cleanup() {
	[ -n "${BG_PID:-}" ] && kill "$BG_PID" 2>/dev/null
	[ -n "${PSQL_PID:-}" ] && { exec 7>&- 8<&-; kill "$PSQL_PID" 2>/dev/null; }
	"$PGTEMP" stop "$PGDIR" >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT

# --- scripts/pgtemp -----------------------------------------------------------

if ! URL=$("$PGTEMP" start "$PGDIR" 2>"$TMP/pgtemp.err"); then
	not_ok "pgtemp start ($(tail -n 5 "$TMP/pgtemp.err" | tr '\n' ' '))"
	finish
fi
ok "pgtemp start"
expect_eq "pgtemp start prints the URL" \
	"postgresql:///ops?host=$PGDIR&port=5432&user=ops" "$URL"
expect_eq "pgtemp start again is idempotent" "$URL" "$("$PGTEMP" start "$PGDIR" 2>&1)"
expect_eq "pgtemp url" "$URL" "$("$PGTEMP" url "$PGDIR")"
status=$("$PGTEMP" status "$PGDIR"); rc=$?
expect_match "pgtemp status: running" "^running pid=[0-9]+ url=" "$status"
expect_eq "pgtemp status exit code when running" 0 "$rc"

# q SQL: run SQL (no trailing semicolon needed) in one long-lived psql session
# and print its output and errors. A coprocess instead of one psql per query:
# a connection costs ~100 ms on a busy machine, a query ~2 ms. Its fds are
# copied to 7 and 8 so that $(q ...) subshells can use them.
coproc PSQL { psql "$URL" -X -q -At -v ON_ERROR_STOP=0 2>&1; }
exec 7>&"${PSQL[1]}" 8<&"${PSQL[0]}"
q() {
	local line out=''
	printf '%s\n;\n\\echo __END_OF_QUERY__\n' "$1" >&7
	while :; do
		if ! IFS= read -r -t 30 line <&8; then out+=" [no answer from psql]"; break; fi
		[ "$line" = __END_OF_QUERY__ ] && break
		out+=${out:+$'\n'}$line
	done
	printf '%s\n' "$out"
}

expect_eq "server settings: no TCP, fsync off, UTF8, UTC" "|off|off|UTF8|UTC" \
	"$(q "SELECT current_setting('listen_addresses') || '|' || current_setting('fsync') || '|' ||
	           current_setting('full_page_writes') || '|' || current_setting('server_encoding') || '|' ||
	           current_setting('TimeZone')")"
expect_eq "connected as superuser ops to database ops" "ops|ops|on" \
	"$(q "SELECT current_user || '|' || current_database() || '|' || current_setting('is_superuser')")"
pm_pid=$(head -n 1 "$PGDIR/data/postmaster.pid")
if [ "$(id -u)" -eq 0 ]; then
	expect_eq "as root, the server runs as opspg" opspg "$(ps -o user= -p "$pm_pid" | tr -d ' ')"
	expect_eq "as root, DIR is owned by opspg" opspg "$(stat -c %U "$PGDIR")"
fi

# --- migrations ---------------------------------------------------------------

lint=''
prev=0
for f in "${MIGRATIONS[@]}"; do
	b=$(basename "$f")
	n=$((10#${b%%_*}))
	[ "$n" -eq $((prev + 1)) ] || lint+="$b: number not consecutive; "
	prev=$n
	[[ "$b" =~ ^[0-9]{4}_[a-z0-9_]+\.sql$ ]] || lint+="$b: name not NNNN_name.sql; "
	# (a PL/pgSQL block's BEGIN has no semicolon; its END; is not matched)
	sql=$(sed 's/--.*$//' "$f")  # without comments
	grep -Eiq '^[[:space:]]*(begin|commit|rollback|abort|start[[:space:]]+transaction)([[:space:]]+(transaction|work))?[[:space:]]*;' <<<"$sql" &&
		lint+="$b: transaction control; "
	grep -q '^[[:space:]]*\\' <<<"$sql" && lint+="$b: psql meta-command; "
	grep -Eiq 'concurrently|schema_migrations|^[[:space:]]*vacuum' <<<"$sql" && lint+="$b: not runnable in a transaction / migrator-owned; "
done
expect_eq "migration files: numbered, no BEGIN/COMMIT, no meta-commands (${#MIGRATIONS[@]} files)" "" "$lint"

applied=0
for f in "${MIGRATIONS[@]}"; do
	if out=$(psql "$URL" -X -q -v ON_ERROR_STOP=1 --single-transaction -f "$f" 2>&1); then
		applied=$((applied + 1))
	else
		not_ok "apply $(basename "$f") ($out)"
	fi
done
expect_eq "every migration applies to an empty database" "${#MIGRATIONS[@]}" "$applied"
[ "$applied" -eq "${#MIGRATIONS[@]}" ] || finish

expect_eq "every table of the contract (and ops_event_rollup 0005, export_job_hourly 0010, the webhook tables 0011) exists" \
	"audit_log export_job_hourly job_run ops_event ops_event_rollup tb_audit_export_chunk tb_audit_export_job tb_scheduler_lock tb_webhook_delivery tb_webhook_endpoint" \
	"$(q "SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'")"

# Test helpers, in schema t (excluded from the schema comparison below).
q "$(cat <<'SQL'
CREATE SCHEMA t;
-- t.try(sql): 'ok', or 'SQLSTATE message' of the error (effects rolled back)
CREATE FUNCTION t.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE sql;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ' ' || SQLERRM;
END $$;
-- t.job(state): a new job brought to state along the legal path
CREATE FUNCTION t.job(st text, attempts int DEFAULT 3) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE jid uuid;
BEGIN
	INSERT INTO tb_audit_export_job (tenant_id, requested_by, format, range_from, range_to,
		max_rows, max_bytes, max_duration_seconds, max_attempts)
	VALUES ('acme', 'user-1', 'jsonl', '2026-01-01Z', '2026-01-02Z', 1000, 1048576, 900, attempts)
	RETURNING id INTO jid;
	IF st = 'FAILED' THEN
		UPDATE tb_audit_export_job SET state = 'FAILED', error_code = 'EXPORT_CANCELLED',
			finished_at = now() WHERE id = jid;
	END IF;
	IF st IN ('PENDING', 'FAILED') THEN RETURN jid; END IF;
	UPDATE tb_audit_export_job SET state = 'RUNNING', attempt = attempt + 1,
		lease_owner = 'runner-a', lease_expires_at = now() + interval '1 minute',
		heartbeat_at = now(), started_at = now() WHERE id = jid;
	IF st = 'RUNNING' THEN RETURN jid; END IF;
	UPDATE tb_audit_export_job SET state = 'DONE', sha256 = repeat('a', 64), total_rows = 0,
		total_bytes = 0, finished_at = now(), expires_at = now() + interval '24 hours' WHERE id = jid;
	IF st = 'DONE' THEN RETURN jid; END IF;
	UPDATE tb_audit_export_job SET state = 'EXPIRED' WHERE id = jid;
	RETURN jid;
END $$;
-- t.move(id, state): the UPDATE a legal caller would run to reach state
CREATE FUNCTION t.move(jid uuid, st text) RETURNS text LANGUAGE sql AS $$
	SELECT format('UPDATE tb_audit_export_job SET state = %L%s WHERE id = %L', st,
		CASE st
		WHEN 'RUNNING' THEN ', attempt = attempt + CASE state WHEN ''PENDING'' THEN 1 ELSE 0 END,'
			' lease_owner = coalesce(lease_owner, ''runner-a''),'
			' lease_expires_at = now() + interval ''1 minute'', heartbeat_at = now(),'
			' started_at = coalesce(started_at, now())'
		WHEN 'DONE' THEN ', sha256 = repeat(''b'', 64), total_rows = 0, total_bytes = 0,'
			' finished_at = now(), expires_at = now() + interval ''24 hours'''
		WHEN 'FAILED' THEN ', error_code = ''EXPORT_CANCELLED'', error_message = ''cancelled'','
			' finished_at = now()'
		WHEN 'PENDING' THEN ', cancel_requested = true'
		ELSE '' END, jid)
$$;
CREATE FUNCTION t.state(jid uuid) RETURNS text LANGUAGE sql VOLATILE AS $$
	SELECT state FROM tb_audit_export_job WHERE id = jid
$$;
-- every from-state x to-state pair: "FROM TO result-sqlstate state-after"
CREATE FUNCTION t.matrix() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE f text; tt text; jid uuid; r text;
BEGIN
	FOREACH f IN ARRAY ARRAY['PENDING', 'RUNNING', 'DONE', 'FAILED', 'EXPIRED'] LOOP
		FOREACH tt IN ARRAY ARRAY['PENDING', 'RUNNING', 'DONE', 'FAILED', 'EXPIRED'] LOOP
			jid := t.job(f);
			r := t.try(t.move(jid, tt));
			RETURN NEXT f || ' ' || tt || ' ' || split_part(r, ' ', 1) || ' ' || t.state(jid);
		END LOOP;
	END LOOP;
END $$;
SQL
)" >/dev/null

# expect_sql DESC SQLSTATE|ok SQL: run SQL in t.try, compare the outcome
expect_sql() {
	local r
	r=$(q "SELECT t.try(\$try\$$3\$try\$)")
	if [ "${r%% *}" = "$2" ]; then ok "$1"; else not_ok "$1 (expected $2, got '$r')"; fi
}

# --- audit_log ----------------------------------------------------------------

AID=$(q "INSERT INTO audit_log (tenant_id, occurred_at, actor_id, action, ip, payload)
         VALUES ('acme', now(), 'user-1', 'LOGIN', '10.0.0.1', '{\"k\": 1}') RETURNING id")
expect_match "audit_log insert" '^[0-9]+$' "$AID"
r=$(q "SELECT t.try('UPDATE audit_log SET action = ''X'' WHERE id = $AID')")
expect_eq "audit_log UPDATE rejected with OPA01 'audit_log is append-only'" "OPA01 audit_log is append-only" "$r"
expect_sql "audit_log DELETE rejected" OPA01 "DELETE FROM audit_log WHERE id = $AID"
expect_sql "audit_log DELETE matching no row rejected too" OPA01 "DELETE FROM audit_log WHERE false"
expect_sql "audit_log TRUNCATE rejected" OPA01 "TRUNCATE audit_log"
expect_sql "audit_log upsert (ON CONFLICT DO UPDATE) rejected" OPA01 \
	"INSERT INTO audit_log (id, tenant_id, occurred_at, action) VALUES ($AID, 'acme', now(), 'X')
	 ON CONFLICT (id) DO UPDATE SET action = 'X'"
r=$(psql "$URL" -X -q -At -c "SET session_replication_role = replica" \
	-c "SELECT t.try('DELETE FROM audit_log')" 2>&1)
expect_eq "audit_log DELETE rejected under session_replication_role = replica" OPA01 "${r%% *}"
expect_eq "audit_log row unchanged" "1|LOGIN|{\"k\": 1}|10.0.0.1" \
	"$(q "SELECT count(*) OVER () || '|' || action || '|' || payload::text || '|' || host(ip) FROM audit_log")"
expect_sql "audit_log payload must be an object" 23514 \
	"INSERT INTO audit_log (tenant_id, occurred_at, action, payload) VALUES ('acme', now(), 'X', '[]')"
expect_sql "audit_log empty tenant_id rejected" 23514 \
	"INSERT INTO audit_log (tenant_id, occurred_at, action) VALUES ('', now(), 'X')"
expect_sql "audit_log insert still works" ok \
	"INSERT INTO audit_log (tenant_id, occurred_at, action) VALUES ('acme', now(), 'LOGOUT')"
expect_match "audit_log index (tenant_id, occurred_at, id)" 'audit_log_tenant_occurred_idx' \
	"$(q "SELECT indexname || ' ' || indexdef FROM pg_indexes WHERE tablename = 'audit_log'")"

# --- ops_event ----------------------------------------------------------------

expect_sql "ops_event insert" ok \
	"INSERT INTO ops_event (event_type, severity, source, subject_type, subject_id, data)
	 VALUES ('EXPORT_REQUESTED', 'info', 'ops-fcgi', 'export_job', 'x', '{\"a\": 1}')"
expect_sql "ops_event unknown severity rejected" 23514 \
	"INSERT INTO ops_event (event_type, severity, source) VALUES ('X', 'fatal', 'ops-fcgi')"
expect_sql "ops_event lower-case event_type rejected" 23514 \
	"INSERT INTO ops_event (event_type, severity, source) VALUES ('export_requested', 'info', 'ops-fcgi')"
expect_sql "ops_event subject_type without subject_id rejected" 23514 \
	"INSERT INTO ops_event (event_type, severity, source, subject_type) VALUES ('X', 'info', 's', 'export_job')"

# --- tb_audit_export_job: state machine -----------------------------------------

JOB_INS="INSERT INTO tb_audit_export_job (tenant_id, requested_by, range_from, range_to, max_rows, max_bytes, max_duration_seconds"
JOB_VAL="VALUES ('acme', 'user-1', '2026-01-01Z', '2026-01-02Z', 1000, 1048576, 900"
for st in RUNNING DONE FAILED EXPIRED; do
	expect_sql "export job insert in state $st rejected" OPE01 "$JOB_INS, state) $JOB_VAL, '$st')"
done
expect_sql "export job insert in PENDING" ok "$JOB_INS, state) $JOB_VAL, 'PENDING')"
expect_sql "export job insert with range_from >= range_to rejected" 23514 \
	"INSERT INTO tb_audit_export_job (tenant_id, requested_by, range_from, range_to, max_rows, max_bytes, max_duration_seconds)
	 VALUES ('acme', 'u', '2026-01-02Z', '2026-01-01Z', 1, 1, 1)"
expect_sql "export job insert without limits rejected" 23502 \
	"INSERT INTO tb_audit_export_job (tenant_id, requested_by, range_from, range_to) VALUES ('acme', 'u', '2026-01-01Z', '2026-01-02Z')"
expect_sql "export job insert with unknown format rejected" 23514 "$JOB_INS, format) $JOB_VAL, 'xml')"
expect_sql "export job insert with attempt 1 rejected" 23514 "$JOB_INS, attempt) $JOB_VAL, 1)"

declare -A LEGAL=(
	[PENDING_PENDING]=1 [PENDING_RUNNING]=1 [PENDING_FAILED]=1
	[RUNNING_RUNNING]=1 [RUNNING_DONE]=1 [RUNNING_FAILED]=1
	[DONE_EXPIRED]=1
)
n=0
while read -r from to res after; do
	n=$((n + 1))
	if [ -n "${LEGAL[${from}_${to}]:-}" ]; then
		expect_eq "transition $from -> $to allowed" "ok $to" "$res $after"
	else
		expect_eq "transition $from -> $to rejected (OPE01, state stays $from)" "OPE01 $from" "$res $after"
	fi
done < <(q "SELECT * FROM t.matrix()")
expect_eq "transition matrix covers 25 pairs" 25 "$n"
r=$(q "SELECT t.try(t.move(t.job('DONE'), 'RUNNING'))")
expect_eq "illegal transition message" "OPE01 illegal export job state transition DONE -> RUNNING" "$r"

# immutable columns, on a PENDING and on a RUNNING job
for st in PENDING RUNNING; do
	J=$(q "SELECT t.job('$st')")
	for set in "tenant_id = 'other'" "requested_by = 'user-2'" "format = 'csv'" \
		"range_from = range_from - interval '1 day'" "range_to = range_to + interval '1 day'" \
		"filters = '{\"actions\": [\"LOGIN\"]}'" "created_at = created_at - interval '1 hour'" \
		"idempotency_key = 'k', request_hash = repeat('c', 64)" "max_rows = 5" "max_bytes = 5" \
		"max_duration_seconds = 5" "max_attempts = 2" "request_id = 'r-2'" "id = gen_random_uuid()"; do
		expect_sql "$st job: $set rejected" OPE02 "UPDATE tb_audit_export_job SET $set WHERE id = '$J'"
	done
done
J=$(q "SELECT t.job('RUNNING')")
expect_sql "started_at cannot change once set" OPE02 \
	"UPDATE tb_audit_export_job SET started_at = now() - interval '1 hour' WHERE id = '$J'"
expect_sql "RUNNING progress update (same attempt, same owner)" ok \
	"UPDATE tb_audit_export_job SET progress_rows = 10, progress_bytes = 100, progress_chunks = 1,
	 checkpoint = '{\"occurred_at\": \"2026-01-01T00:00:01Z\", \"id\": 7}', heartbeat_at = now(),
	 lease_expires_at = now() + interval '1 minute' WHERE id = '$J' AND attempt = 1"
expect_sql "checkpoint without id rejected" 23514 \
	"UPDATE tb_audit_export_job SET checkpoint = '{\"occurred_at\": \"2026-01-01T00:00:01Z\"}' WHERE id = '$J'"
expect_sql "cancel_requested on RUNNING" ok "UPDATE tb_audit_export_job SET cancel_requested = true WHERE id = '$J'"
expect_sql "cancel_requested cannot be withdrawn" OPE02 \
	"UPDATE tb_audit_export_job SET cancel_requested = false WHERE id = '$J'"

# --- attempt and lease fencing --------------------------------------------------

J=$(q "SELECT t.job('PENDING')")
expect_sql "claim keeping attempt 0 rejected" OPE03 \
	"UPDATE tb_audit_export_job SET state = 'RUNNING', lease_owner = 'a', lease_expires_at = now(), started_at = now() WHERE id = '$J'"
expect_sql "claim with attempt + 2 rejected" OPE03 \
	"UPDATE tb_audit_export_job SET state = 'RUNNING', attempt = 2, lease_owner = 'a', lease_expires_at = now(), started_at = now() WHERE id = '$J'"
expect_sql "PENDING -> FAILED changing attempt rejected" OPE03 \
	"UPDATE tb_audit_export_job SET state = 'FAILED', attempt = 1, error_code = 'EXPORT_CANCELLED', finished_at = now() WHERE id = '$J'"
expect_sql "claim with attempt + 1" ok \
	"UPDATE tb_audit_export_job SET state = 'RUNNING', attempt = attempt + 1, lease_owner = 'runner-a',
	 lease_expires_at = now() + interval '1 minute', heartbeat_at = now(), started_at = now() WHERE id = '$J'"
expect_sql "reclaim while the lease is valid rejected" OPE03 \
	"UPDATE tb_audit_export_job SET attempt = attempt + 1, lease_owner = 'runner-b' WHERE id = '$J'"
expect_sql "lease owner change within an attempt rejected" OPE03 \
	"UPDATE tb_audit_export_job SET lease_owner = 'runner-b' WHERE id = '$J'"
expect_sql "lease runs out (owner's update, same attempt)" ok \
	"UPDATE tb_audit_export_job SET lease_expires_at = now() - interval '1 second' WHERE id = '$J'"
expect_sql "reclaim with attempt + 2 rejected" OPE03 \
	"UPDATE tb_audit_export_job SET attempt = attempt + 2, lease_owner = 'runner-b' WHERE id = '$J'"
expect_sql "reclaim with attempt - 1 rejected" OPE03 \
	"UPDATE tb_audit_export_job SET attempt = attempt - 1, lease_owner = 'runner-b' WHERE id = '$J'"
expect_sql "reclaim of an expired lease with attempt + 1" ok \
	"UPDATE tb_audit_export_job SET attempt = attempt + 1, lease_owner = 'runner-b',
	 lease_expires_at = now() + interval '1 minute', heartbeat_at = now() WHERE id = '$J'"
expect_eq "reclaimed job: attempt 2, owner runner-b" "2|runner-b" \
	"$(q "SELECT attempt || '|' || lease_owner FROM tb_audit_export_job WHERE id = '$J'")"
expect_sql "attempt decrease after reclaim rejected" OPE03 \
	"UPDATE tb_audit_export_job SET attempt = 1, lease_owner = 'runner-a' WHERE id = '$J'"
expect_sql "old runner's fenced progress update matches no row" ok \
	"DO \$\$ BEGIN UPDATE tb_audit_export_job SET progress_rows = 99 WHERE id = '$J' AND attempt = 1;
	 IF FOUND THEN RAISE 'fenced update matched'; END IF; END \$\$"
expect_sql "RUNNING -> DONE changing attempt rejected" OPE03 \
	"UPDATE tb_audit_export_job SET state = 'DONE', attempt = 3, sha256 = repeat('a', 64), total_rows = 0,
	 total_bytes = 0, finished_at = now(), expires_at = now() + interval '1 day' WHERE id = '$J'"
expect_sql "RUNNING -> FAILED handing the lease to another owner rejected" OPE03 \
	"UPDATE tb_audit_export_job SET state = 'FAILED', lease_owner = 'runner-c', error_code = 'EXPORT_RUNNER_LOST',
	 finished_at = now() WHERE id = '$J'"
expect_sql "RUNNING -> FAILED clearing the lease" ok \
	"UPDATE tb_audit_export_job SET state = 'FAILED', lease_owner = NULL, lease_expires_at = NULL,
	 error_code = 'EXPORT_RUNNER_LOST', finished_at = now() WHERE id = '$J'"
expect_sql "FAILED job: no update at all, even a no-op" OPE01 \
	"UPDATE tb_audit_export_job SET state = state WHERE id = '$J'"

J=$(q "SELECT t.job('RUNNING', 1)")
q "UPDATE tb_audit_export_job SET lease_expires_at = now() - interval '1 second' WHERE id = '$J'" >/dev/null
expect_sql "reclaim past max_attempts rejected" 23514 \
	"UPDATE tb_audit_export_job SET attempt = attempt + 1, lease_owner = 'b' WHERE id = '$J'"

# --- 0007: a runner stopped by SIGTERM hands its attempt back (interrupted) ---------
J=$(q "SELECT t.job('RUNNING', 1)")
expect_sql "interrupted + 1 by the current attempt of a RUNNING job, lease ended" ok \
	"UPDATE tb_audit_export_job SET interrupted = interrupted + 1, lease_expires_at = now() WHERE id = '$J'"
expect_sql "a handed-back attempt does not count: reclaim at max_attempts 1 accepted" ok \
	"UPDATE tb_audit_export_job SET attempt = attempt + 1, lease_owner = 'b' WHERE id = '$J'"
expect_sql "interrupted cannot grow by two" OPE03 \
	"UPDATE tb_audit_export_job SET interrupted = interrupted + 2 WHERE id = '$J'"
expect_sql "interrupted cannot go down" OPE03 \
	"UPDATE tb_audit_export_job SET interrupted = 0 WHERE id = '$J'"
q "UPDATE tb_audit_export_job SET lease_expires_at = now() - interval '1 second' WHERE id = '$J'" >/dev/null
expect_sql "... and a lost attempt still counts: the next reclaim past max_attempts rejected" 23514 \
	"UPDATE tb_audit_export_job SET attempt = attempt + 1, lease_owner = 'c' WHERE id = '$J'"
J=$(q "SELECT t.job('PENDING')")
expect_sql "no interrupted on a PENDING job" OPE03 \
	"UPDATE tb_audit_export_job SET interrupted = 1 WHERE id = '$J'"

# --- per-state requirements ---------------------------------------------------------

J=$(q "SELECT t.job('RUNNING')")
# done_set [COL VALUE]: the SET list of RUNNING -> DONE, with COL = VALUE instead
done_set() {
	local col val out="state = 'DONE'"
	for col in sha256 total_rows total_bytes finished_at expires_at; do
		case $col in
			sha256) val="repeat('a', 64)" ;; total_rows) val=5 ;; total_bytes) val=50 ;;
			finished_at) val="now()" ;; expires_at) val="now() + interval '1 day'" ;;
		esac
		[ "$col" = "${1:-}" ] && val=$2
		out+=", $col = $val"
	done
	printf '%s' "$out"
}
DONE_SET=$(done_set)
for col in sha256 total_rows total_bytes finished_at expires_at; do
	expect_sql "DONE without $col rejected" 23514 \
		"UPDATE tb_audit_export_job SET $(done_set $col NULL) WHERE id = '$J'"
done
expect_sql "DONE with a malformed sha256 rejected" 23514 \
	"UPDATE tb_audit_export_job SET $(done_set sha256 "'ABC'") WHERE id = '$J'"
expect_sql "DONE with total_rows above max_rows rejected" 23514 \
	"UPDATE tb_audit_export_job SET $(done_set total_rows 1001) WHERE id = '$J'"
expect_sql "DONE with expires_at before finished_at rejected" 23514 \
	"UPDATE tb_audit_export_job SET $(done_set expires_at "now() - interval '1 day'") WHERE id = '$J'"
expect_sql "FAILED without error_code rejected" 23514 \
	"UPDATE tb_audit_export_job SET state = 'FAILED', finished_at = now() WHERE id = '$J'"
expect_sql "FAILED without finished_at rejected" 23514 \
	"UPDATE tb_audit_export_job SET state = 'FAILED', error_code = 'EXPORT_CANCELLED' WHERE id = '$J'"
expect_sql "RUNNING -> DONE with every result column" ok \
	"UPDATE tb_audit_export_job SET $DONE_SET WHERE id = '$J'"
expect_sql "DONE -> DONE rejected (the result is final)" OPE01 \
	"UPDATE tb_audit_export_job SET expires_at = expires_at + interval '1 day' WHERE id = '$J'"
expect_sql "DONE -> EXPIRED changing sha256 rejected" OPE02 \
	"UPDATE tb_audit_export_job SET state = 'EXPIRED', sha256 = repeat('f', 64) WHERE id = '$J'"
expect_sql "DONE -> EXPIRED" ok "UPDATE tb_audit_export_job SET state = 'EXPIRED' WHERE id = '$J'"
expect_eq "EXPIRED keeps the result" "aaaaaaaa|5|50" \
	"$(q "SELECT left(sha256, 8) || '|' || total_rows || '|' || total_bytes FROM tb_audit_export_job WHERE id = '$J'")"
r=$(q "SELECT updated_at > created_at FROM tb_audit_export_job WHERE id = '$J'")
expect_eq "updated_at is maintained" t "$r"

# --- idempotency key ------------------------------------------------------------------

IK="INSERT INTO tb_audit_export_job (tenant_id, range_from, range_to, max_rows, max_bytes, max_duration_seconds,
    requested_by, idempotency_key, request_hash) VALUES ('acme', '2026-01-01Z', '2026-01-02Z', 1000, 1048576, 900"
expect_sql "idempotency key: first use" ok "$IK, 'alice', 'key-1', repeat('1', 64))"
expect_sql "idempotency key: same tenant and requester again rejected" 23505 "$IK, 'alice', 'key-1', repeat('2', 64))"
expect_sql "idempotency key: another requester may use the same key" ok "$IK, 'bob', 'key-1', repeat('1', 64))"
expect_sql "idempotency key without request_hash rejected" 23514 \
	"$JOB_INS, idempotency_key) $JOB_VAL, 'key-2')"

# --- tb_audit_export_chunk --------------------------------------------------------------

# chunk J SEQ OFFSET ATTEMPT [DATA]: an INSERT of a well-formed chunk
chunk() {
	local data=${5:-hello}
	printf "INSERT INTO tb_audit_export_chunk (job_id, seq, byte_offset, data, byte_count, row_count, sha256, attempt)
	        SELECT '%s', %s, %s, d, octet_length(d), 1, encode(sha256(d), 'hex'), %s FROM convert_to('%s', 'UTF8') AS d" \
		"$1" "$2" "$3" "$4" "$data"
}
J=$(q "SELECT t.job('RUNNING')")
expect_sql "chunk of the current attempt" ok "$(chunk "$J" 0 0 1)"
expect_sql "chunk with byte_count <> octet_length(data) rejected" 23514 \
	"INSERT INTO tb_audit_export_chunk (job_id, seq, byte_offset, data, byte_count, row_count, sha256, attempt)
	 VALUES ('$J', 1, 5, 'abc', 4, 1, repeat('a', 64), 1)"
expect_sql "empty chunk rejected" 23514 \
	"INSERT INTO tb_audit_export_chunk (job_id, seq, byte_offset, data, byte_count, row_count, sha256, attempt)
	 VALUES ('$J', 1, 5, '', 0, 0, repeat('a', 64), 1)"
expect_sql "chunk with a second start at the same byte_offset rejected" 23505 "$(chunk "$J" 1 0 1)"
expect_sql "chunk of a future attempt rejected" OPE04 "$(chunk "$J" 1 5 2)"
expect_sql "chunk of an unknown job rejected" 23503 "$(chunk 00000000-0000-0000-0000-000000000000 0 0 1)"
q "UPDATE tb_audit_export_job SET lease_expires_at = now() - interval '1 second' WHERE id = '$J'" >/dev/null
expect_sql "reclaim (attempt 2)" ok \
	"UPDATE tb_audit_export_job SET attempt = 2, lease_owner = 'runner-b', lease_expires_at = now() + interval '1 minute' WHERE id = '$J'"
expect_sql "chunk of the old attempt is fenced off" OPE04 "$(chunk "$J" 1 5 1)"
expect_sql "chunk of the new attempt" ok "$(chunk "$J" 1 5 2)"

# A chunk transaction in progress holds the job row FOR SHARE: a reclaim waits.
q "UPDATE tb_audit_export_job SET lease_expires_at = now() - interval '1 second' WHERE id = '$J'" >/dev/null
PGAPPNAME=fence_holder psql "$URL" -X -q -c "BEGIN" -c "$(chunk "$J" 2 10 2)" \
	-c "SELECT pg_sleep(20)" -c "COMMIT" >/dev/null 2>&1 &
BG_PID=$!
for _ in $(seq 1 100); do
	[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'fence_holder' AND wait_event = 'PgSleep'")" = 1 ] && break
	sleep 0.05
done
r=$(psql "$URL" -X -q -At -c "SET lock_timeout = '300ms'" \
	-c "SELECT t.try('UPDATE tb_audit_export_job SET attempt = 3, lease_owner = ''runner-c'' WHERE id = ''$J''')" 2>&1)
expect_eq "reclaim waits for a chunk transaction of the current attempt (lock timeout)" 55P03 "${r%% *}"
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'fence_holder'" >/dev/null
wait "$BG_PID" 2>/dev/null
BG_PID=

q "UPDATE tb_audit_export_job SET $DONE_SET WHERE id = '$J'" >/dev/null
expect_sql "chunk of a DONE job rejected" OPE04 "$(chunk "$J" 2 10 2)"
expect_eq "job has 2 chunks before delete" 2 "$(q "SELECT count(*) FROM tb_audit_export_chunk WHERE job_id = '$J'")"
expect_sql "delete DONE job" ok "DELETE FROM tb_audit_export_job WHERE id = '$J'"
expect_eq "chunks deleted with their job (cascade)" 0 "$(q "SELECT count(*) FROM tb_audit_export_chunk WHERE job_id = '$J'")"
expect_match "chunk data is stored lz4-compressed or uncompressed out of line" '^(l.|.e)$' \
	"$(q "SELECT attcompression::text || attstorage::text FROM pg_attribute WHERE attrelid = 'tb_audit_export_chunk'::regclass AND attname = 'data'")"

# --- tb_scheduler_lock ------------------------------------------------------------------

BOOT=$(cat /proc/sys/kernel/random/boot_id)
ACQ="holder = 'h1:100:ab', holder_host = 'h1', holder_pid = 100, holder_started_at = 12345, holder_boot_id = '$BOOT',
     acquired_at = now(), heartbeat_at = now(), lease_until = now() + interval '1 minute'"
expect_sql "lock row created free with token 0" ok "INSERT INTO tb_scheduler_lock (name) VALUES ('ops-export-runner')"
expect_sql "held lock inserted with token 0 rejected" 23514 \
	"INSERT INTO tb_scheduler_lock (name, holder, holder_host, holder_pid, acquired_at, heartbeat_at, lease_until)
	 VALUES ('x', 'h', 'h', 1, now(), now(), now())"
expect_sql "acquire without a token bump rejected" OPL01 \
	"UPDATE tb_scheduler_lock SET $ACQ WHERE name = 'ops-export-runner'"
expect_sql "acquire with a token bump" ok \
	"UPDATE tb_scheduler_lock SET $ACQ, fencing_token = fencing_token + 1 WHERE name = 'ops-export-runner'"
expect_sql "heartbeat (same holder and token)" ok \
	"UPDATE tb_scheduler_lock SET heartbeat_at = now(), lease_until = now() + interval '1 minute' WHERE name = 'ops-export-runner' AND fencing_token = 1"
expect_sql "fencing_token decrease rejected" OPL01 \
	"UPDATE tb_scheduler_lock SET fencing_token = 0 WHERE name = 'ops-export-runner'"
expect_sql "takeover by another holder without a bump rejected" OPL01 \
	"UPDATE tb_scheduler_lock SET holder = 'h2:200:cd', acquired_at = now() WHERE name = 'ops-export-runner'"
expect_sql "holder without pid rejected" 23514 \
	"UPDATE tb_scheduler_lock SET holder_pid = NULL WHERE name = 'ops-export-runner'"
expect_sql "start time without boot id rejected" 23514 \
	"UPDATE tb_scheduler_lock SET holder_boot_id = NULL WHERE name = 'ops-export-runner'"
expect_sql "held lock delete rejected" OPL02 "DELETE FROM tb_scheduler_lock WHERE name = 'ops-export-runner'"
expect_sql "heal: clear holder, bump token" ok \
	"UPDATE tb_scheduler_lock SET holder = NULL, holder_host = NULL, holder_pid = NULL, holder_started_at = NULL,
	 holder_boot_id = NULL, acquired_at = NULL, heartbeat_at = NULL, lease_until = NULL,
	 fencing_token = fencing_token + 1, released_at = now(), release_reason = 'healed: expired', released_by = 'ops-lock-healer'
	 WHERE name = 'ops-export-runner'"
expect_sql "release fields on a lock never released rejected" 23514 \
	"INSERT INTO tb_scheduler_lock (name, release_reason) VALUES ('y', 'why')"
expect_sql "free lock delete" ok "DELETE FROM tb_scheduler_lock WHERE name = 'ops-export-runner'"

# --- job_run ----------------------------------------------------------------------------

RID=$(q "INSERT INTO job_run (job, host, pid) VALUES ('ops-export-cleaner', 'h1', 42) RETURNING id")
expect_match "job_run insert (RUNNING)" '^[0-9]+$' "$RID"
expect_sql "job_run FAILED without error rejected" 23514 \
	"UPDATE job_run SET status = 'FAILED', finished_at = now(), duration_seconds = 1 WHERE id = $RID"
expect_sql "job_run finished without duration rejected" 23514 \
	"UPDATE job_run SET status = 'SUCCEEDED', finished_at = now() WHERE id = $RID"
expect_sql "job_run RUNNING -> SUCCEEDED" ok \
	"UPDATE job_run SET status = 'SUCCEEDED', finished_at = now(), duration_seconds = 0.5, counts = '{\"expired\": 3}' WHERE id = $RID"
expect_sql "finished job_run cannot be updated" OPJ01 "UPDATE job_run SET status = 'FAILED', error = 'x' WHERE id = $RID"
expect_sql "job_run unknown status rejected" 23514 "INSERT INTO job_run (job, status) VALUES ('x', 'DONE')"

# --- the migrator's way, on a second empty database -------------------------------------

q "CREATE DATABASE ops_again" >/dev/null
URL2=${URL/\/ops\?/\/ops_again\?}
applied=0
for f in "${MIGRATIONS[@]}"; do
	# BEGIN; the whole file as one simple query; COMMIT -- as opsctl migrate does
	if out=$(psql "$URL2" -X -q -v ON_ERROR_STOP=1 -c "BEGIN" -c "$(cat "$f")" -c "COMMIT" 2>&1); then
		applied=$((applied + 1))
	else
		not_ok "apply $(basename "$f") as one simple query ($out)"
	fi
done
expect_eq "every migration applies again to a fresh database, each as one simple query" "${#MIGRATIONS[@]}" "$applied"
PG_DUMP=$(dirname "$(readlink -f "$(command -v pg_dump)")")/pg_dump
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/pg_dump" ] && PG_DUMP=$d/pg_dump; done
# (comments and pg_dump's random \restrict keys left out)
s1=$("$PG_DUMP" -s -N t "$URL" 2>&1 | grep -v -e '^--' -e '^\\')
s2=$("$PG_DUMP" -s -N t "$URL2" 2>&1 | grep -v -e '^--' -e '^\\')
if [ "$s1" = "$s2" ] && [ -n "$s1" ]; then ok "both databases have the same schema"
else not_ok "both databases have the same schema ($(diff <(echo "$s1") <(echo "$s2") | head -n 10 | tr '\n' ' '))"; fi

# --- pgtemp stop ------------------------------------------------------------------------

check "pgtemp stop" "$PGTEMP" stop "$PGDIR"
status=$("$PGTEMP" status "$PGDIR"); rc=$?
expect_eq "pgtemp status after stop" "stopped 3" "$status $rc"
check "pgtemp stop when stopped is no error" "$PGTEMP" stop "$PGDIR"

finish
