#!/usr/bin/env bash
# tests/integration/multihost.sh: the product on two hosts (CONTRACT §14).
#
# Topology (scripts/multihost-lib.sh): hosts a and b, each its own UTS and
# PID namespace (hostname host-a / host-b, own process table), each running
# ops-fcgi and the runner, cleaner and healer in timer loops; one nginx with
# an upstream over both responders; one PostgreSQL that the binaries reach
# through PgBouncer in transaction pooling mode (migrations direct). Then:
# draining 100 jobs, host b killed mid-export, a responder killed under wrk
# load, a rolling restart under load, the foundation suite through PgBouncer,
# a runner frozen inside a transaction behind the pooler. Runtime: ~2-3 min.

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$ROOT/scripts/stack-lib.sh"
source "$ROOT/scripts/multihost-lib.sh"

need_tools unshare pgrep pgbouncer wrk nginx psql jq
if [ "$(id -u)" -ne 0 ]; then
	not_ok "multihost needs root (unshare of PID and UTS namespaces)"; finish
fi

T_TMP=$(mktemp -d /tmp/ops-mh.XXXXXX)
MH_DIR=$T_TMP/s
PORT=$(free_port)
WRK_PIDS=()
cleanup() {
	for p in "${WRK_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	mh_down; stack_down "$MH_DIR"; rm -rf "$T_TMP"
}
trap cleanup EXIT

# Short leases and heartbeats so that failures resolve in seconds.
LEASE=5 STALE=3 HEAL_EVERY=1 RUN_EVERY=0.5
MH_HEALER_EVERY=$HEAL_EVERY MH_RUNNER_EVERY=$RUN_EVERY
STACK_POOLER=pgbouncer STACK_EXPORT_EXTRA="  chunk_bytes: 4KiB
  lease_seconds: $LEASE
  heartbeat_seconds: 1
  max_active_per_tenant: 200" STACK_LOCKS_EXTRA="  heartbeat_seconds: 1
  stale_after_seconds: $STALE
  lease_seconds: 5" \
	stack_up "$MH_DIR" "$PORT" 2>"$T_TMP/stack.err" || setup_failed "stack up ($(tail -n 5 "$T_TMP/stack.err" | tr '\n' ' '))"
stack_fcgi_stop "$MH_DIR"   # the stack's own responder: the hosts bring theirs
grep -q "url: \"$STACK_POOL_URL\"" "$STACK_CONFIG" && grep -q "migrate_url: \"$STACK_DB_URL\"" "$STACK_CONFIG"
check "the binaries use PgBouncer, migrations the direct URL" test $? -eq 0

mh_host_up a 2>>"$T_TMP/stack.err" && mh_host_up b 2>>"$T_TMP/stack.err" &&
	mh_nginx "$PORT" a b 2>>"$T_TMP/stack.err" || setup_failed "hosts up ($(tail -n 5 "$T_TMP/stack.err" | tr '\n' ' '))"
setup_done "two hosts up, nginx upstream over both responders"

# each host has its own hostname and process table
expect_eq "host a's processes see hostname host-a" host-a "$(nsenter -t "$(cat "$MH_DIR/h-a/init.pid")" --uts hostname)"
pa=$(mh_pids a ops-fcgi); pb=$(mh_pids b ops-fcgi)
check "each host runs its own ops-fcgi (pids $pa, $pb)" test -n "$pa" -a -n "$pb" -a "$pa" != "$pb"
expect_eq "host a's process table holds one ops-fcgi, its own" 1 \
	"$(nsenter -t "$(cat "$MH_DIR/h-a/init.pid")" --pid --mount sh -c 'cat /proc/[0-9]*/comm' 2>/dev/null | grep -cx ops-fcgi)"
runner_locks() { sql "SELECT count(*) FROM tb_scheduler_lock WHERE name IN ('ops-export-runner:host-a', 'ops-export-runner:host-b')"; }
deadline=$((SECONDS + 20))
while [ $SECONDS -lt $deadline ] && [ "$(runner_locks)" != 2 ]; do sleep 0.2; done
expect_eq "each host's runner takes its own lock (instance = hostname)" 2 "$(runner_locks)"
expect_contains "responders log in to PgBouncer as ops_fcgi" "user=ops_fcgi" "$(cat "$MH_DIR/pgb/pgbouncer.log")"
expect_contains "job binaries log in to PgBouncer as ops_jobs" "user=ops_jobs" "$(cat "$MH_DIR/pgb/pgbouncer.log")"

# --- data ---------------------------------------------------------------------
# not tests/seed.sql yet: its rows are about 100 bytes larger, and the bulk
# export's chunk count and timing below were measured with these
sql "INSERT INTO audit_log (tenant_id, occurred_at, actor_id, action, payload)
SELECT 't' || (g % 10), timestamptz '2026-10-01T00:00:00Z' + g * interval '1 minute', 'u' || (g % 7), 'user.login', jsonb_build_object('n', g)
FROM generate_series(1, 2000) g;
INSERT INTO audit_log (tenant_id, occurred_at, actor_id, action, target_type, target_id, payload)
SELECT 'bulk', timestamptz '2026-10-01T00:00:00Z' + (g / 3) * interval '1 second', 'bot', 'sync.run', 'item', 'i' || g,
       jsonb_build_object('seq', g, 'text', repeat('lorem ipsum ', 10))
FROM generate_series(1, 20000) g" >/dev/null || setup_failed "seeding audit_log"
AUD=$(mint auditor-1 "" '["AUDITOR"]')
body() { jq -cn --arg t "$1" '{tenant_id:$t, from:"2026-10-01T00:00:00Z", to:"2026-10-02T00:00:00Z", format:"jsonl"}'; }
create() {  # create TENANT [curl args]: sets JOB
	api POST /api/ops/audit-exports "$AUD" -H 'Content-Type: application/json' -d "$(body "$1")" "${@:2}"
	JOB=$(jq -r '.id // empty' <<<"$BODY")
}
wait_state() {  # wait_state JOB STATE SECONDS
	local deadline=$((SECONDS + $3))
	while [ $SECONDS -lt $deadline ]; do
		[ "$(job_field "$1" state)" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
now_s() { date +%s.%N; }
since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# --- draining: 100 jobs through nginx, both hosts' runners ----------------------
# five client addresses: the create rate limit is per address (burst 20)
ids=(); created=0
for i in $(seq 0 99); do
	create "t$((i % 10))" --interface "127.0.0.$((i % 5 + 1))"
	[ "$CODE" = 202 ] && [ -n "$JOB" ] && { ids+=("$JOB"); created=$((created + 1)); }
done
expect_eq "100 jobs created through nginx (202)" 100 "$created"
deadline=$((SECONDS + 90))
while [ $SECONDS -lt $deadline ]; do
	[ "$(sql "SELECT count(*) FROM tb_audit_export_job WHERE state = 'DONE'")" -ge 100 ] && break
	sleep 0.3
done
expect_eq "all 100 jobs DONE" 100 "$(sql "SELECT count(*) FROM tb_audit_export_job WHERE state = 'DONE'")"
expect_eq "each ran exactly once: attempt 1" "100" "$(sql "SELECT count(*) FROM tb_audit_export_job WHERE state = 'DONE' AND attempt = 1")"
expect_eq "each has exactly one EXPORT_STARTED and one EXPORT_COMPLETED event" "100 100" \
	"$(sql "SELECT count(*) FILTER (WHERE s = 1) || ' ' || count(*) FILTER (WHERE c = 1) FROM (
	          SELECT j.id, (SELECT count(*) FROM ops_event e WHERE e.subject_id = j.id::text AND e.event_type = 'EXPORT_STARTED') s,
	                       (SELECT count(*) FROM ops_event e WHERE e.subject_id = j.id::text AND e.event_type = 'EXPORT_COMPLETED') c
	          FROM tb_audit_export_job j) x")"
by_host=$(sql "SELECT string_agg(h || '=' || n, ' ' ORDER BY h) FROM (SELECT split_part(lease_owner, ':', 2) h, count(*) n
               FROM tb_audit_export_job WHERE state = 'DONE' GROUP BY 1) x")
expect_match "both hosts ran some of them ($by_host)" "^host-a=[0-9]+ host-b=[0-9]+$" "$by_host"

# --- reference: an uninterrupted bulk export -------------------------------------
create bulk
REF=$JOB
wait_state "$REF" DONE 60
REF_SHA=$(job_field "$REF" sha256)
check "the reference bulk export is DONE ($(job_field "$REF" progress_chunks) chunks)" test -n "$REF_SHA"

# --- host b dies mid-export --------------------------------------------------------
mh_pause a ops-export-runner; mh_wait_gone a ops-export-runner
create bulk
K=$JOB
wait_chunks "$K" 20 30
owner=$(job_field "$K" lease_owner)
expect_match "host b's runner is exporting it" "^ops-export-runner:host-b:" "$owner"
held_b=$(sql "SELECT string_agg(name, ',' ORDER BY name) FROM tb_scheduler_lock WHERE holder_host = 'host-b'")
T_KILL=$(now_s)
mh_host_kill b
expect_eq "killed mid-export: still RUNNING, attempt 1" "RUNNING 1" "$(job_field "$K" "state || ' ' || attempt")"
check "host b held locks when it died ($held_b)" test -n "$held_b"
mh_resume a ops-export-runner
BOUND=$((HEAL_EVERY + STALE + LEASE))
wait_state "$K" DONE 40
expect_eq "host a's runner resumed and finished it as attempt 2" "DONE 2" "$(job_field "$K" "state || ' ' || attempt")"
expect_match "the lease moved to host a" "^ops-export-runner:host-a:" "$(job_field "$K" lease_owner)"
expect_eq "the resumed export is byte-identical to the uninterrupted one" "$REF_SHA" "$(job_field "$K" sha256)"
curl -s -o "$T_TMP/resumed" -H "Authorization: Bearer $AUD" "$STACK_URL/api/ops/audit-exports/$K/download"
expect_eq "and its download hashes to the reference" "$REF_SHA" "$(sha256sum "$T_TMP/resumed" | cut -d' ' -f1)"
T_RESUMED=$(sql "SELECT extract(epoch FROM min(occurred_at)) FROM ops_event WHERE event_type = 'EXPORT_RESUMED' AND subject_id = '$K'")
check "resumed $(since "$T_KILL" "$T_RESUMED") s after the kill (bound: healer ${HEAL_EVERY} + stale_after ${STALE} + lease ${LEASE} = ${BOUND} s)" \
	awk -v a="$T_KILL" -v b="$T_RESUMED" -v m="$BOUND" 'BEGIN { exit !(b != "" && b - a <= m) }'
deadline=$((SECONDS + BOUND + 5))
while [ $SECONDS -lt $deadline ]; do
	[ "$(sql "SELECT count(*) FROM tb_scheduler_lock WHERE holder_host = 'host-b'")" = 0 ] && break
	sleep 0.2
done
expect_eq "nothing host b held is still held (locks)" 0 "$(sql "SELECT count(*) FROM tb_scheduler_lock WHERE holder_host = 'host-b'")"
expect_eq "nothing host b held is still held (jobs)" 0 "$(sql "SELECT count(*) FROM tb_audit_export_job WHERE state = 'RUNNING' AND lease_owner LIKE '%:host-b:%'")"
rec=$(sql "SELECT string_agg(release_reason || ' by ' || split_part(released_by, ':', 2) || ' after ' ||
                  round(extract(epoch FROM released_at) - $T_KILL, 1), '; ' ORDER BY name)
           FROM tb_scheduler_lock WHERE name = 'ops-export-runner:host-b'")
expect_match "host a's healer recovered b's runner lock as STALE or EXPIRED ($rec)" "^healed: (stale|expired)[^;]* by host-a after " "$rec"
T_REC=$(sql "SELECT extract(epoch FROM released_at) FROM tb_scheduler_lock WHERE name = 'ops-export-runner:host-b'")
check "within healer interval + stale_after + lease = $BOUND s" \
	awk -v a="$T_KILL" -v b="$T_REC" -v m="$BOUND" 'BEGIN { exit !(b != "" && b - a <= m) }'
mh_host_up b 2>>"$T_TMP/stack.err"
check "host b back up" test -S "$MH_DIR/h-b/ops-fcgi.sock"

# --- a responder dies under load --------------------------------------------------
POLL="$STACK_URL/api/ops/audit-exports/$REF"
WRK_C=8
wrk_run() {  # wrk_run SECONDS OUT: polls in the background; sets WRK_PID
	wrk -t 2 -c "$WRK_C" -d "${1}s" -H "Authorization: Bearer $AUD" "$POLL" >"$2" 2>&1 &
	WRK_PID=$!; WRK_PIDS+=("$WRK_PID")
}
wrk_failures() {  # non-2xx/3xx answers + socket errors of a wrk output
	awk '/Non-2xx or 3xx responses:/ { n += $NF }
	     /Socket errors:/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 }
	     END { print n + 0 }' "$1"
}
wrk_requests() { awk '/requests in/ { print $1 }' "$1"; }
mh_pause a ops-fcgi   # killed, it stays down
wrk_run 6 "$T_TMP/wrk-kill"
sleep 2
kill -KILL $(mh_pids a ops-fcgi)
wait "$WRK_PID"
fails=$(wrk_failures "$T_TMP/wrk-kill"); reqs=$(wrk_requests "$T_TMP/wrk-kill")
threads=$(sed -n 's/^  threads: //p' "$STACK_CONFIG")
check "responder a killed under load: $fails of $reqs polls failed (allowed: its in-flight requests, at most $threads threads)" \
	test -n "$reqs" -a "$reqs" -gt 0 -a "$fails" -le "$threads"
codes=''
for _ in $(seq 1 20); do api GET "/api/ops/audit-exports/$REF" "$AUD"; codes+="$CODE "; done
expect_eq "with a down, polls keep succeeding through b" "$(printf '200 %.0s' $(seq 1 20))" "$codes"
mh_resume a ops-fcgi
for _ in $(seq 1 100); do [ -n "$(mh_pids a ops-fcgi)" ] && [ -S "$MH_DIR/h-a/ops-fcgi.sock" ] && break; sleep 0.05; done

# --- rolling restart under load: zero 5xx -------------------------------------------
restart_responder() {  # SIGTERM host $1's responder; its loop starts a new one
	local old new
	old=$(mh_pids "$1" ops-fcgi)
	kill -TERM $old
	for _ in $(seq 1 200); do
		new=$(mh_pids "$1" ops-fcgi)
		[ -n "$new" ] && [ "$new" != "$old" ] && [ -S "$MH_DIR/h-$1/ops-fcgi.sock" ] && { echo "$new"; return 0; }
		sleep 0.05
	done
	return 1
}
log_before=$(wc -l <"$MH_DIR/nginx/access.log")
wrk_run 8 "$T_TMP/wrk-roll"
sleep 1.5
na=$(restart_responder a); sleep 1.5
nb=$(restart_responder b); sleep 1
wait "$WRK_PID"
check "both responders restarted one after the other (new pids $na, $nb)" test -n "$na" -a -n "$nb"
expect_eq "rolling restart under load: 0 failed polls of $(wrk_requests "$T_TMP/wrk-roll")" 0 "$(wrk_failures "$T_TMP/wrk-roll")"
expect_eq "and no 5xx in nginx's access log meanwhile" 0 "$(tail -n +"$((log_before + 1))" "$MH_DIR/nginx/access.log" | grep -c '"status":5[0-9][0-9],')"

# --- a runner frozen inside a transaction, behind the pooler -----------------------
mh_pause a ops-export-runner; mh_wait_gone a ops-export-runner
create bulk
S=$JOB
wait_chunks "$S" 10 30
rp=$(mh_pids b ops-export-runner)
idle_tx() { sql "SELECT pid FROM pg_stat_activity WHERE usename = 'ops_jobs' AND state = 'idle in transaction' AND xact_start IS NOT NULL" | head -n1; }
caught=''
for _ in $(seq 1 100); do
	kill -STOP "$rp"; sleep 0.2
	caught=$(idle_tx)
	[ -n "$caught" ] && break
	kill -CONT "$rp"; sleep 0.0$((RANDOM % 9 + 1))
done
check "runner b frozen (SIGSTOP) inside a transaction (backend $caught idle in transaction)" test -n "$caught"
T_STOP=$(now_s)
mh_resume a ops-export-runner
IDLE=$(( (LEASE < STALE ? LEASE : STALE) ))
deadline=$((SECONDS + IDLE + 5))
while [ $SECONDS -lt $deadline ]; do
	[ -z "$(sql "SELECT 1 FROM pg_stat_activity WHERE pid = '${caught:-0}'")" ] && break
	sleep 0.1
done
T_GONE=$(now_s)
expect_eq "the server ended the frozen session (idle_in_transaction_session_timeout from the role)" "" \
	"$(sql "SELECT pid FROM pg_stat_activity WHERE pid = '${caught:-0}'")"
check "after $(since "$T_STOP" "$T_GONE") s (role setting: ${IDLE} s)" \
	awk -v a="$T_STOP" -v b="$T_GONE" -v m="$((IDLE + 2))" 'BEGIN { exit !(b - a <= m) }'
expect_contains "the server log says why" "idle-in-transaction timeout" "$(cat "$MH_DIR/pg/postgres.log")"
wait_state "$S" DONE 40
expect_eq "host a reclaimed the frozen runner's job and finished it" "DONE 2" "$(job_field "$S" "state || ' ' || attempt")"
expect_eq "byte-identical" "$REF_SHA" "$(job_field "$S" sha256)"
kill -CONT "$rp"

# --- the foundation suite through PgBouncer -------------------------------------------
STACK_POOLER=pgbouncer bash "$ROOT/tests/integration/foundation.sh" >"$T_TMP/foundation.out" 2>"$T_TMP/foundation.err"
rc=$?
fp=$(grep -c '^ok - ' "$T_TMP/foundation.out"); ff=$(grep -c '^not ok - ' "$T_TMP/foundation.out")
grep '^not ok - ' "$T_TMP/foundation.out" | sed 's/^not ok - /not ok - through PgBouncer: /'
T_FAILED=$((T_FAILED + ff))
check "the foundation suite passes through PgBouncer ($fp ok, $ff not ok)" test "$rc" -eq 0 -a "$fp" -gt 50

finish
