#!/usr/bin/env bash
# tests/integration/fcgi_pool.sh: ops-fcgi's connections, threads and
# database sessions (issue 24; fcgi/main.c, fcgi/pool.h):
#  - nginx keeps its FastCGI connections (fastcgi_keep_conn): polls reuse
#    them instead of connecting per request;
#  - three times more idle kept-alive connections than worker threads hold
#    nothing: a poll through nginx still answers at once, and each idle
#    connection still answers its next request;
#  - database.pool_size sessions for more threads: when every session
#    stays busy past database.pool_wait_ms the request gets 503
#    DB_UNAVAILABLE with Retry-After, and the waiting ones complete once
#    the sessions free up; /healthz, which needs no session, answers 200;
#  - the poll lane (fcgi/lane.h) answers polls on its own session: a poll
#    stuck there (on the same lock) does not hold the next one, which the
#    lane passes to the workers once the stuck one is older than
#    pool_wait_ms (here: 503, their sessions being busy too), and the stuck
#    poll completes when the lock goes.
# Runtime: about 10 s on a quiet machine.
. "$(dirname "$0")/../lib.sh"

need_tools curl jq psql python3 ss

LOCKER=
IDLE_PID=
suite_cleanup() {
	[ -n "$IDLE_PID" ] && kill "$IDLE_PID" 2>/dev/null
	[ -n "$LOCKER" ] && kill "$LOCKER" 2>/dev/null
}
T0=$(date +%s)
THREADS=4
STACK_THREADS=$THREADS STACK_KEEPALIVE=1 \
STACK_DATABASE_EXTRA="  pool_size: 2
  pool_wait_ms: 300" test_stack_up fcgi_pool "4 threads, 2 sessions, 1 idle connection kept per nginx worker"
SOCK=$DIR/run/ops-fcgi.sock
AUD=$(mint pool-auditor "" '["AUDITOR"]')
api POST /api/ops/audit-exports "$AUD" -H 'Content-Type: application/json' \
	-d '{"tenant_id":"pool","from":"2026-10-01T00:00:00Z","to":"2026-10-02T00:00:00Z","format":"jsonl"}'
[ "$CODE" = 202 ] || setup_failed "an export job ($CODE $BODY)"
JOB=$(jq -r .id <<<"$BODY")
POLL="$STACK_URL/api/ops/audit-exports/$JOB"

# the FastCGI connections ops-fcgi holds: unix stream sockets connected to
# its listening socket (ss shows the server end with the socket's path)
fcgi_conns() { ss -xHn state connected src "$SOCK" 2>/dev/null | wc -l; }
sessions() { sql "SELECT count(*) FILTER (WHERE application_name ~ '^ops-fcgi/[0-9]+$') || ' ' || count(*) FILTER (WHERE application_name = 'ops-fcgi/lane') FROM pg_stat_activity"; }

# --- keep-alive ----------------------------------------------------------------------
codes=""
for _ in $(seq 1 40); do
	codes+=$(curl -s -o /dev/null -w '%{http_code} ' -H "Authorization: Bearer $AUD" "$POLL")
done
expect_eq "40 polls one after the other answer 200" "$(printf '200 %.0s' $(seq 1 40))" "$codes"
n=$(fcgi_conns)
check "nginx kept its FastCGI connections open after them ($n, at most 2: keepalive 1 x 2 workers)" \
	test "$n" -ge 1 -a "$n" -le 2
expect_eq "two worker sessions for four threads, and the poll lane's" "2 1" "$(sessions)"

# --- idle kept-alive connections hold no thread ----------------------------------------
IDLE=$((THREADS * 3))
"$ROOT/tests/tools/fcgi-idle" "$SOCK" "$IDLE" "$DIR/idle.out" 2>"$DIR/idle.err" &
IDLE_PID=$!
idle_answered() { grep -qx "answered $IDLE" "$DIR/idle.out" 2>/dev/null; }
check "$IDLE FastCGI connections each got an answer with FCGI_KEEP_CONN" wait_for 20 idle_answered
check "and stay open, idle ($IDLE more connections than before)" \
	wait_for 5 test "$(fcgi_conns)" -ge "$IDLE"
read -r code t < <(curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 10 \
	-H "Authorization: Bearer $AUD" "$POLL")
expect_eq "with $IDLE idle connections and $THREADS threads a poll through nginx answers 200" 200 "$code"
check "within 1 s (${t}s)" awk -v t="$t" 'BEGIN { exit !(t < 1.0) }'
kill -USR1 "$IDLE_PID"
idle_again() { grep -qx "again $IDLE" "$DIR/idle.out" 2>/dev/null; }
check "each idle connection answers its next request" wait_for 20 idle_again
kill "$IDLE_PID" 2>/dev/null; wait "$IDLE_PID" 2>/dev/null; IDLE_PID=

# --- every session busy: a bounded wait, then 503 --------------------------------------
# a lock holds the requests in PostgreSQL: two job lists in the workers'
# two sessions, one poll in the lane's
LIST="$STACK_URL/api/ops/audit-exports?tenant_id=pool"
psql -X -q "$STACK_DB_URL" -v ON_ERROR_STOP=1 \
	-c "SET application_name = 'pool-locker'" \
	-c "BEGIN" -c "LOCK TABLE tb_audit_export_job IN ACCESS EXCLUSIVE MODE" \
	-c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
LOCKER=$!
wait_sql 10 "SELECT count(*) = 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'pool-locker' AND l.mode = 'AccessExclusiveLock' AND l.granted" ||
	setup_failed "a lock on tb_audit_export_job"
for i in 1 2; do
	curl -s -o "$DIR/held-$i.json" -w '%{http_code}' --max-time 30 \
		-H "Authorization: Bearer $AUD" "$LIST" >"$DIR/held-$i.code" &
done
check "two job lists wait on the lock, one in each worker session" \
	wait_sql 10 "SELECT count(*) = 2 FROM pg_stat_activity WHERE application_name ~ '^ops-fcgi/[0-9]+$' AND wait_event_type = 'Lock'"
curl -s -o "$DIR/held-3.json" -w '%{http_code}' --max-time 30 \
	-H "Authorization: Bearer $AUD" "$POLL" >"$DIR/held-3.code" &
check "a poll waits on the lock in the poll lane's session" \
	wait_sql 10 "SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'ops-fcgi/lane' AND wait_event_type = 'Lock'"
curl -s -D "$DIR/busy.h" -o "$DIR/busy.json" -w '%{http_code} %{time_total}\n' --max-time 10 \
	-H "Authorization: Bearer $AUD" "$LIST" >"$DIR/busy.code"
read -r code t <"$DIR/busy.code"
expect_eq "a third job list gets 503" 503 "$code"
expect_eq "with code DB_UNAVAILABLE" DB_UNAVAILABLE "$(jq -r .error.code "$DIR/busy.json" 2>/dev/null)"
expect_match "and Retry-After" '[Rr]etry-[Aa]fter: [0-9]+' "$(cat "$DIR/busy.h")"
check "after the bounded wait (0.3 s <= ${t}s < 5 s)" awk -v t="$t" 'BEGIN { exit !(t >= 0.3 && t < 5) }'
check "ops-fcgi logged why" grep -q "database sessions stayed busy" "$DIR/ops-fcgi.log"
curl -s -D "$DIR/busy2.h" -o "$DIR/busy2.json" -w '%{http_code} %{time_total}\n' --max-time 10 \
	-H "Authorization: Bearer $AUD" "$POLL" >"$DIR/busy2.code"
read -r code t <"$DIR/busy2.code"
expect_eq "a second poll is not held behind the stuck one: the lane passes it to the workers, whose sessions are busy: 503" 503 "$code"
expect_eq "with code DB_UNAVAILABLE" DB_UNAVAILABLE "$(jq -r .error.code "$DIR/busy2.json" 2>/dev/null)"
check "after the workers' bounded wait (0.3 s <= ${t}s < 5 s)" awk -v t="$t" 'BEGIN { exit !(t >= 0.3 && t < 5) }'
expect_eq "/healthz (liveness: no session) still answers 200 within 1 s" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$STACK_URL/healthz")"
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pool-locker'" >/dev/null
wait "$LOCKER" 2>/dev/null; LOCKER=
held_done() { [ -s "$DIR/held-1.code" ] && [ -s "$DIR/held-2.code" ] && [ -s "$DIR/held-3.code" ]; }
check "the two held lists and the held poll complete once the lock is gone" wait_for 20 held_done
expect_eq "with 200" "200 200 200" "$(cat "$DIR/held-1.code") $(cat "$DIR/held-2.code") $(cat "$DIR/held-3.code")"
expect_eq "the held poll's answer is the job" "$JOB" "$(jq -r .id "$DIR/held-3.json" 2>/dev/null)"
api GET "/api/ops/audit-exports/$JOB" "$AUD"
expect_eq "and the next poll answers 200" 200 "$CODE"
note "runtime $(( $(date +%s) - T0 )) s"
finish
