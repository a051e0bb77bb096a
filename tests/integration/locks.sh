#!/usr/bin/env bash
# Scheduler locks end to end: leases, fencing, the healer, the lock API,
# opsctl, status and metrics, alert rules, textfiles. Real processes and
# real signals: a long export keeps an ops-export-runner holding its lock
# while it is SIGKILLed, SIGSTOPped and SIGCONTed.
#
# Locks are fast here: heartbeat 1 s, stale_after 3 s, lease 6 s.
. "$(dirname "$0")/../lib.sh"

PIDS=()
suite_cleanup() {
	rm -f "$DIR/healer-loop.on"
	for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
}

STALE=3
STACK_LOCKS_EXTRA="  heartbeat_seconds: 1
  stale_after_seconds: $STALE
  lease_seconds: 6" \
STACK_EXPORT_EXTRA="  chunk_bytes: 1KiB
  lease_seconds: 5
  heartbeat_seconds: 2
  max_active_per_tenant: 50" \
	test_stack_up locks "locks: heartbeat 1 s, stale_after $STALE s, lease 6 s"

[ -x "$ROOT/build/tools/lock_race" ] || make -s -C "$ROOT" build/tools/lock_race >/dev/null
HOST=$(hostname)
BOOT=$(cat /proc/sys/kernel/random/boot_id)
OPS=$(mint ops-1 "" '["OPS_ADMIN"]')
SUPER=$(mint root-1 "" '["SUPER_ADMIN"]')
AUD=$(mint auditor-1 "" '["AUDITOR"]')
TEN=$(mint alice bulk '["TENANT_ADMIN"]')
CFG=(--config "$STACK_CONFIG")
HEALER=("$BIN/ops-lock-healer" "${CFG[@]}")

# audit rows for exports that run for a while (1 KiB chunks)
seed_audit bulk 30000 per=2 words=10 || setup_failed "seeding audit_log"

lock() { sql "SELECT $2 FROM tb_scheduler_lock WHERE name = '$1'"; }
now_s() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
new_export() {  # new_export: a PENDING job of the whole bulk day; sets JOB
	api POST /api/ops/audit-exports "$SUPER" -H 'Content-Type: application/json' \
		-d '{"tenant_id":"bulk","from":"2026-10-01T00:00:00Z","to":"2026-10-02T00:00:00Z","format":"jsonl"}'
	JOB=$(jq -r '.id // empty' <<<"$BODY")
}
cancel_export() { api DELETE "/api/ops/audit-exports/$1" "$SUPER"; }
# start_runner INSTANCE: a runner holding ops-export-runner:INSTANCE and
# writing chunks of JOB; sets RPID
start_runner() {
	"$BIN/ops-export-runner" "${CFG[@]}" --instance "$1" >"$DIR/runner-$1.out" 2>"$DIR/runner-$1.err" &
	RPID=$!
	PIDS+=("$RPID")
	wait_sql 15 "SELECT coalesce((SELECT holder_pid = $RPID FROM tb_scheduler_lock WHERE name = 'ops-export-runner:$1'), false)
		AND coalesce((SELECT progress_chunks >= 3 FROM tb_audit_export_job WHERE lease_owner = 'ops-export-runner:$HOST:$RPID' AND state = 'RUNNING'), false)"
}
# healer_loop: ops-lock-healer every second (the timer, sped up); sets HLOOP
# (stop_healer_loop lets the run in progress finish)
healer_loop() {
	touch "$DIR/healer-loop.on"
	( while [ -e "$DIR/healer-loop.on" ]; do
		"${HEALER[@]}" >>"$DIR/healer-loop.out" 2>>"$DIR/healer-loop.err"; sleep 1
	  done ) &
	HLOOP=$!
}
stop_healer_loop() { rm -f "$DIR/healer-loop.on"; wait "$HLOOP" 2>/dev/null; }
# wait_exit PID SECONDS: until the process is gone; sets RC to its status
wait_exit() {
	local end=$(( $(date +%s) + $2 ))
	while kill -0 "$1" 2>/dev/null && [ "$(date +%s)" -le "$end" ]; do sleep 0.05; done
	if kill -0 "$1" 2>/dev/null; then RC=timeout; return 1; fi
	wait "$1"; RC=$?
}
api_state() {  # api_state NAME: the state the API shows
	api GET /api/ops/scheduler/locks "$OPS"
	jq -r --arg n "$1" '.items[] | select(.name == $n) | .state' <<<"$BODY"
}
# wait_api_state NAME STATE SECONDS: until the API shows STATE; prints the
# last state seen (a live holder may look STALE for a moment on a loaded
# machine; it must come back to HELD by itself)
wait_api_state() {
	local end=$(( $(date +%s) + $3 )) st
	while :; do
		st=$(api_state "$1")
		[ "$st" = "$2" ] || [ "$(date +%s)" -gt "$end" ] && break
		sleep 0.1
	done
	echo "$st"
}
# beat NAME: the heartbeat of a holder this test plays (on another host)
beat() { sql "UPDATE tb_scheduler_lock SET heartbeat_at = now(), lease_until = now() + interval '1 hour' WHERE name = '$1'" >/dev/null; }
table_snapshot() { sql "SELECT t::text FROM tb_scheduler_lock t ORDER BY name"; }
# a pid that existed a moment ago and is gone now
dead_pid() { sleep 0 & local p=$!; wait "$p"; echo "$p"; }
starttime() { awk '{ sub(/^.*\) /, ""); print $20 }' "/proc/$1/stat"; }

# --- access and validation ---------------------------------------------------------
api GET /api/ops/scheduler/locks ""
expect_error "locks without a token" 401 AUTH_REQUIRED
for who in TEN AUD; do
	api GET /api/ops/scheduler/locks "${!who}"
	expect_error "locks refused to ${who/TEN/TENANT_ADMIN}" 403 FORBIDDEN
	api GET /api/ops/status "${!who}"
	expect_error "status refused to ${who/TEN/TENANT_ADMIN}" 403 FORBIDDEN
	api POST /api/ops/scheduler/locks/ops-export-cleaner/release "${!who}" -H 'Content-Type: application/json' -d '{"reason":"x"}'
	expect_error "force-release refused to ${who/TEN/TENANT_ADMIN}" 403 FORBIDDEN
done
api GET /api/ops/scheduler/locks "$OPS"
expect_eq "OPS_ADMIN lists the locks" 200 "$CODE"
expect_eq "the list is {items: []}" array "$(jq -r '.items|type' <<<"$BODY")"
api GET /api/ops/scheduler/locks "$SUPER"
expect_eq "SUPER_ADMIN lists the locks" 200 "$CODE"

sql "INSERT INTO tb_scheduler_lock (name, holder, holder_host, holder_pid, fencing_token, acquired_at, heartbeat_at, lease_until)
     VALUES ('ops-export-cleaner', 'ops-export-cleaner:other.example:4711', 'other.example', 4711, 41, now(), now(), now() + interval '1 hour')" >/dev/null
rel() { api POST "/api/ops/scheduler/locks/$1/release" "${3:-$OPS}" -H 'Content-Type: application/json' -d "$2"; }
rel ops-export-cleaner '{}'
expect_error "release without a reason" 400 VALIDATION_FAILED
expect_eq "details name reason" reason "$(jq -r '.error.details[0].field' <<<"$BODY")"
rel ops-export-cleaner '{"reason":""}'
expect_error "release with an empty reason" 400 VALIDATION_FAILED
expect_eq "details name reason (empty)" reason "$(jq -r '.error.details[0].field' <<<"$BODY")"
rel ops-export-cleaner '{"reason":"   "}'
expect_error "release with a blank reason" 400 VALIDATION_FAILED
rel ops-export-cleaner "{\"reason\":\"$(head -c 501 /dev/zero | tr '\0' r)\"}"
expect_error "release with a 501-character reason" 400 VALIDATION_FAILED
rel ops-export-cleaner '{"reason":42}'
expect_error "release with a non-string reason" 400 VALIDATION_FAILED
rel ops-export-cleaner '{"reason":"ok","force":true}'
expect_error "release with an unknown field" 400 VALIDATION_FAILED
expect_eq "details name the unknown field" force "$(jq -r '.error.details[0].field' <<<"$BODY")"
rel ops-export-cleaner '{"reason":'
expect_error "release with malformed JSON" 400 MALFORMED_JSON
rel no-such-lock '{"reason":"x"}'
expect_error "release of an unknown lock" 404 LOCK_NOT_FOUND
rel Not_A_Lock_Name '{"reason":"x"}'
expect_error "release of a malformed lock name" 404 LOCK_NOT_FOUND
api GET /api/ops/scheduler/locks/ops-export-cleaner/release "$OPS"
expect_error "GET on the release path" 405 METHOD_NOT_ALLOWED
expect_eq "nothing was released by refused requests" "41 ops-export-cleaner:other.example:4711" \
	"$(lock ops-export-cleaner "fencing_token || ' ' || holder")"

# --- a held lock: a second instance exits 75 and names the holder ------------------------
# the holder on other.example is alive: it heartbeats (the validation above
# may take longer than stale_after on a loaded machine)
beat ops-export-cleaner
"$BIN/ops-export-cleaner" "${CFG[@]}" >/dev/null 2>"$DIR/cleaner.err"
expect_eq "cleaner exits 75 while its lock is held" 75 "$?"
expect_contains "it says who holds the lock" "held by ops-export-cleaner:other.example:4711 (pid 4711 on other.example, token 41" "$(cat "$DIR/cleaner.err")"
expect_eq "the lock is HELD in the API" HELD "$(api_state ops-export-cleaner)"

# --- force-release through the API -------------------------------------------------------
beat ops-export-cleaner
rel ops-export-cleaner '{"reason":"holder host other.example was decommissioned"}'
expect_eq "OPS_ADMIN force-releases a held lock" 200 "$CODE"
expect_eq "the answer says released, the old holder and the new token" "true false HELD ops-export-cleaner:other.example:4711 41 42" \
	"$(jq -r '[.released, .already_free, .state_before, .previous.holder, .previous.fencing_token, .fencing_token] | join(" ")' <<<"$BODY")"
expect_eq "the row is free with the token bumped and the reason" "42|f|force: holder host other.example was decommissioned|ops-1" \
	"$(lock ops-export-cleaner "fencing_token, holder IS NOT NULL, release_reason, released_by")"
expect_eq "SCHEDULER_LOCK_FORCE_RELEASED in ops_event" "1|warning|ops-fcgi|ops-1|ops-export-cleaner:other.example:4711|41|42" \
	"$(sql "SELECT count(*), max(severity), max(source), max(data->>'actor'), max(data->>'old_holder'), max(data->>'fencing_before'), max(data->>'fencing_after')
	        FROM ops_event WHERE event_type = 'SCHEDULER_LOCK_FORCE_RELEASED' AND subject_type = 'scheduler_lock' AND subject_id = 'ops-export-cleaner'")"
expect_eq "and one audit_log entry (tenant _system, actor = JWT sub, reason, old holder, token)" \
	"1|_system|ops-1|scheduler_lock|holder host other.example was decommissioned|ops-export-cleaner:other.example:4711|41" \
	"$(sql "SELECT count(*), max(tenant_id), max(actor_id), max(target_type), max(payload->>'reason'), max(payload->>'old_holder'), max(payload->>'fencing_before')
	        FROM audit_log WHERE action = 'SCHEDULER_LOCK_FORCE_RELEASED' AND target_id = 'ops-export-cleaner'")"
check "the audit entry carries the request id" test -n "$(sql "SELECT request_id FROM audit_log WHERE action = 'SCHEDULER_LOCK_FORCE_RELEASED' AND target_id = 'ops-export-cleaner'")"
rel ops-export-cleaner '{"reason":"double check"}' "$SUPER"
expect_eq "releasing a FREE lock answers 200" 200 "$CODE"
expect_eq "... says already_free and keeps the token" "false true 42" "$(jq -r '[.released, .already_free, .fencing_token] | join(" ")' <<<"$BODY")"
expect_eq "... and is recorded anyway" 2 "$(sql "SELECT count(*) FROM ops_event WHERE event_type = 'SCHEDULER_LOCK_FORCE_RELEASED' AND subject_id = 'ops-export-cleaner'")"
"$BIN/ops-export-cleaner" "${CFG[@]}" >/dev/null 2>"$DIR/cleaner2.err"
expect_eq "the cleaner runs again after the release" 0 "$?"
expect_eq "it took the lock with the next token and gave it back" "43|released" "$(lock ops-export-cleaner "fencing_token, release_reason")"
expect_eq "its run is recorded: JOB_RUN_SUCCEEDED with job, host, duration, counts" "1|$HOST|t|object" \
	"$(sql "SELECT count(*), max(data->>'host'), bool_and(data ? 'duration_seconds'), max(jsonb_typeof(data->'counts')) FROM ops_event
	        WHERE event_type = 'JOB_RUN_SUCCEEDED' AND data->>'job' = 'ops-export-cleaner'")"

# --- opsctl locks / lock-release / exports --------------------------------------------------
sql "INSERT INTO tb_scheduler_lock (name, holder, holder_host, holder_pid, fencing_token, acquired_at, heartbeat_at, lease_until)
     VALUES ('report-job', 'report-job:other.example:99', 'other.example', 99, 7, now() - interval '20 seconds', now() - interval '10 seconds', now() + interval '1 hour')" >/dev/null
OUT=$("$BIN/opsctl" "${CFG[@]}" locks)
expect_eq "opsctl locks exits 0" 0 "$?"
expect_match "opsctl locks shows a STALE lock with its holder" "report-job +STALE +7 +1[0-9]\.[0-9]s .* report-job:other\.example:99" "$(grep '^report-job ' <<<"$OUT")"
expect_match "opsctl locks shows the last release of a free lock" "ops-export-cleaner +FREE +43 .*\(released at .* by ops-export-cleaner:$HOST:[0-9]+\)" "$(grep '^ops-export-cleaner ' <<<"$OUT")"
OUT=$("$BIN/opsctl" "${CFG[@]}" locks --json)
expect_eq "opsctl locks --json is the API's list" "STALE report-job:other.example:99" \
	"$(jq -r '.items[] | select(.name == "report-job") | "\(.state) \(.holder)"' <<<"$OUT")"
"$BIN/opsctl" "${CFG[@]}" lock-release report-job >/dev/null 2>&1
expect_eq "opsctl lock-release without --reason is a usage error" 2 "$?"
"$BIN/opsctl" "${CFG[@]}" lock-release no-such-lock --reason "x" >/dev/null 2>&1
expect_eq "opsctl lock-release of an unknown lock fails" 1 "$?"
OUT=$("$BIN/opsctl" "${CFG[@]}" lock-release report-job --reason "report host is gone for good" 2>/dev/null)
expect_eq "opsctl lock-release exits 0" 0 "$?"
expect_contains "it says what it released" "released lock report-job (it was STALE, held by report-job:other.example:99 on other.example, pid 99); fencing token 7 -> 8" "$OUT"
ACTOR="opsctl:$(id -un)"
expect_eq "same effect and events as the API, actor opsctl:<user>" "8|f|force: report host is gone for good|1|1" \
	"$(sql "SELECT fencing_token, holder IS NOT NULL, release_reason,
	        (SELECT count(*) FROM ops_event WHERE event_type = 'SCHEDULER_LOCK_FORCE_RELEASED' AND subject_id = 'report-job' AND source = 'opsctl' AND data->>'actor' LIKE '$ACTOR%'),
	        (SELECT count(*) FROM audit_log WHERE action = 'SCHEDULER_LOCK_FORCE_RELEASED' AND target_id = 'report-job' AND actor_id LIKE '$ACTOR%')
	        FROM tb_scheduler_lock WHERE name = 'report-job'")"

# A held row without a holder host (written before the held-check constraint,
# or by hand): opsctl says so instead of passing a NULL to printf ("(null)").
sql "ALTER TABLE tb_scheduler_lock DROP CONSTRAINT scheduler_lock_held_check" >/dev/null
sql "INSERT INTO tb_scheduler_lock (name, holder, holder_host, holder_pid, fencing_token, acquired_at, heartbeat_at, lease_until)
     VALUES ('hostless-job', 'hostless-job:x:98', NULL, 98, 3, now() - interval '20 seconds', now() - interval '10 seconds', now() + interval '1 hour')" >/dev/null
OUT=$("$BIN/opsctl" "${CFG[@]}" lock-release hostless-job --reason "holder host was never recorded" 2>&1)
expect_eq "opsctl lock-release of a lock without a holder host exits 0" 0 "$?"
expect_contains "it names the unknown host, never (null)" "held by hostless-job:x:98 on an unknown host, pid 98); fencing token 3 -> 4" "$OUT"
sql "DELETE FROM tb_scheduler_lock WHERE name = 'hostless-job'" >/dev/null
sql "ALTER TABLE tb_scheduler_lock ADD CONSTRAINT scheduler_lock_held_check CHECK (
	(holder IS NULL) = (holder_host IS NULL) AND (holder IS NULL) = (holder_pid IS NULL)
	AND (holder IS NULL) = (acquired_at IS NULL) AND (holder IS NULL) = (heartbeat_at IS NULL)
	AND (holder IS NULL) = (lease_until IS NULL))" >/dev/null

# --- SIGKILL: the holder dies; the healer recovers it as ORPHANED ---------------------------
new_export; JOB_KILL=$JOB
check "an export job for the runner" test -n "$JOB_KILL"
start_runner kill || not_ok "the runner holds ops-export-runner:kill and writes chunks"
KPID=$RPID
TOKEN_KILL=$(lock ops-export-runner:kill fencing_token)
"$BIN/ops-export-runner" "${CFG[@]}" --instance kill >/dev/null 2>"$DIR/second.err"
expect_eq "a second runner of the same instance exits 75" 75 "$?"
expect_contains "and names the holder" "lock ops-export-runner:kill is held by ops-export-runner:$HOST:$KPID (pid $KPID on $HOST" "$(cat "$DIR/second.err")"
expect_eq "the API shows the live holder HELD" HELD "$(wait_api_state ops-export-runner:kill HELD 10)"
"${HEALER[@]}" >"$DIR/heal-live.out" 2>/dev/null
expect_eq "a healer run next to a live holder exits 0" 0 "$?"
expect_match "and leaves it alone" "^ops-export-runner:kill HELD .*action=none$" "$(grep '^ops-export-runner:kill ' "$DIR/heal-live.out")"
expect_eq "... its token unchanged" "$TOKEN_KILL" "$(lock ops-export-runner:kill fencing_token)"

healer_loop
sleep 0.5   # the timer's phase: kill between two healer runs
T_KILL=$(now_s)
kill -KILL "$KPID"
if wait_sql 10 "SELECT release_reason = 'healed: orphaned' FROM tb_scheduler_lock WHERE name = 'ops-export-runner:kill'"; then
	REC_KILL=$(elapsed "$T_KILL" "$(lock ops-export-runner:kill "extract(epoch FROM released_at)")")
	ok "recovered ORPHANED lock $REC_KILL s after SIGKILL (target: healer interval + stale_after = $((1 + STALE)) s; ORPHANED needs no stale_after)"
else
	REC_KILL=never
	not_ok "the healer recovers the lock of a SIGKILLed holder within 10 s"
fi
stop_healer_loop
check "recovered before stale_after passed (ORPHANED, not STALE)" awk -v t="$REC_KILL" -v s="$STALE" 'BEGIN { exit !(t < s) }'
expect_eq "the lock is FREE with the token bumped by one" "FREE $((TOKEN_KILL + 1))" \
	"$(api_state ops-export-runner:kill) $(lock ops-export-runner:kill fencing_token)"
expect_match "released_by is the healer" "^ops-lock-healer:$HOST:[0-9]+$" "$(lock ops-export-runner:kill released_by)"
expect_eq "all holder columns are cleared" "t" \
	"$(lock ops-export-runner:kill "holder IS NULL AND holder_host IS NULL AND holder_pid IS NULL AND holder_started_at IS NULL AND holder_boot_id IS NULL AND acquired_at IS NULL AND heartbeat_at IS NULL AND lease_until IS NULL")"
expect_eq "SCHEDULER_LOCK_STUCK_DETECTED and SCHEDULER_LOCK_RECOVERED in ops_event" \
	"SCHEDULER_LOCK_RECOVERED:orphaned:$KPID:$TOKEN_KILL:$((TOKEN_KILL + 1)) SCHEDULER_LOCK_STUCK_DETECTED:orphaned:$KPID:$TOKEN_KILL:$((TOKEN_KILL + 1))" \
	"$(sql "SELECT string_agg(event_type || ':' || (data->>'reason') || ':' || (data->>'old_pid') || ':' || (data->>'fencing_before') || ':' || (data->>'fencing_after'), ' ' ORDER BY event_type)
	        FROM ops_event WHERE subject_type = 'scheduler_lock' AND subject_id = 'ops-export-runner:kill' AND event_type LIKE 'SCHEDULER_LOCK_%'")"
expect_eq "one audit_log entry with the old holder, host, pid, token, ages and reason" \
	"1|_system|system:ops-lock-healer|scheduler_lock|ops-export-runner:$HOST:$KPID|$HOST|$KPID|$TOKEN_KILL|orphaned|process gone|t" \
	"$(sql "SELECT count(*), max(tenant_id), max(actor_id), max(target_type), max(payload->>'old_holder'), max(payload->>'old_host'), max(payload->>'old_pid'),
	               max(payload->>'fencing_before'), max(payload->>'reason'), max(payload->>'why'),
	               bool_and(payload ? 'heartbeat_age_seconds' AND payload ? 'lease_overdue_seconds' AND payload ? 'held_for_seconds')
	        FROM audit_log WHERE action = 'SCHEDULER_LOCK_RECOVERED' AND target_id = 'ops-export-runner:kill'")"
cancel_export "$JOB_KILL"
# its export job is reclaimed once the dead runner's export lease is over
wait_sql 10 "SELECT lease_expires_at < now() FROM tb_audit_export_job WHERE id = '$JOB_KILL'" || not_ok "the export lease of the dead runner ends"
"$BIN/ops-export-runner" "${CFG[@]}" --instance kill >/dev/null 2>"$DIR/next.err"
expect_eq "the next run of the job takes the lock and succeeds" 0 "$?"
expect_eq "... and ends the cancelled job the dead runner left" "FAILED EXPORT_CANCELLED" \
	"$(sql "SELECT state || ' ' || error_code FROM tb_audit_export_job WHERE id = '$JOB_KILL'")"
expect_eq "... with the next token, recorded as JOB_RUN_SUCCEEDED" "$((TOKEN_KILL + 2))|SUCCEEDED" \
	"$(sql "SELECT fencing_token, status FROM job_run WHERE job = 'ops-export-runner' ORDER BY id DESC LIMIT 1")"

# --- SIGSTOP: STALE, recovered; SIGCONT: the zombie stops without writing ---------------------
new_export; JOB_STOP=$JOB
start_runner stop || not_ok "the runner holds ops-export-runner:stop and writes chunks"
SPID=$RPID
TOKEN_STOP=$(lock ops-export-runner:stop fencing_token)
T_STOP=$(now_s)
kill -STOP "$SPID"
seen=""
for _ in $(seq 1 60); do
	seen=$(api_state ops-export-runner:stop)
	[ "$seen" = STALE ] && break
	sleep 0.1
done
expect_eq "once stale_after has passed the API shows the paused holder STALE" STALE "$seen"
api GET /api/ops/scheduler/locks "$OPS"
expect_eq "... with a heartbeat age past stale_after" true "$(jq --arg n ops-export-runner:stop --argjson s "$STALE" \
	'.items[] | select(.name == $n) | .heartbeat_age_seconds > $s' <<<"$BODY")"
curl -s "$STACK_URL/metrics" >"$DIR/metrics-stale.txt"
expect_eq "/metrics: ops_scheduler_lock_stale is 1" 1 "$(sed -n 's/^ops_scheduler_lock_stale{name="ops-export-runner:stop"} //p' "$DIR/metrics-stale.txt")"
check "/metrics: its heartbeat age is past stale_after" awk -v s="$STALE" '/^ops_scheduler_lock_heartbeat_age_seconds\{name="ops-export-runner:stop"\}/ { f = 1; exit !($2 > s) } END { if (!f) exit 1 }' "$DIR/metrics-stale.txt"
api GET /api/ops/status "$OPS"
expect_eq "the status page shows it STALE too" STALE "$(jq -r '.scheduler.locks[] | select(.name == "ops-export-runner:stop") | .state' <<<"$BODY")"
DRY=$("${HEALER[@]}" --dry-run 2>/dev/null)
expect_match "--dry-run reports it STALE, would recover" "^ops-export-runner:stop STALE holder=ops-export-runner:$HOST:$SPID host=$HOST pid=$SPID token=$TOKEN_STOP heartbeat_age=[0-9.]+s lease_left=-?[0-9.]+s action=would-recover$" \
	"$(grep '^ops-export-runner:stop ' <<<"$DRY")"
healer_loop
if wait_sql 10 "SELECT release_reason LIKE 'healed: %' FROM tb_scheduler_lock WHERE name = 'ops-export-runner:stop'"; then
	REC_STOP=$(elapsed "$T_STOP" "$(lock ops-export-runner:stop "extract(epoch FROM released_at)")")
	HOW=$(lock ops-export-runner:stop release_reason)
	ok "recovered STALE lock $REC_STOP s after SIGSTOP ($HOW; target: healer interval + stale_after = $((1 + STALE)) s)"
else
	REC_STOP=never
	not_ok "the healer recovers the lock of a SIGSTOPped holder within 10 s"
fi
stop_healer_loop
expect_match "recovered as stale (or expired, had the lease run out)" "^healed: (stale|expired)$" "$(lock ops-export-runner:stop release_reason)"
expect_eq "token bumped" "$((TOKEN_STOP + 1))" "$(lock ops-export-runner:stop fencing_token)"
ATT=$(sql "SELECT attempt FROM tb_audit_export_job WHERE id = '$JOB_STOP'")
CHUNKS=$(sql "SELECT count(*) FROM tb_audit_export_chunk WHERE job_id = '$JOB_STOP' AND attempt = $ATT")
PROG=$(sql "SELECT progress_chunks FROM tb_audit_export_job WHERE id = '$JOB_STOP'")
kill -CONT "$SPID"
wait_exit "$SPID" 20
expect_eq "SIGCONT: the old holder exits 1" 1 "$RC"
expect_contains "its stderr says the lock was taken over" "ops-export-runner: lock ops-export-runner:stop was taken over (our fencing token $TOKEN_STOP is no longer current" "$(cat "$DIR/runner-stop.err")"
expect_eq "it wrote no chunk after the recovery" "$CHUNKS $PROG" \
	"$(sql "SELECT count(*) FROM tb_audit_export_chunk WHERE job_id = '$JOB_STOP' AND attempt = $ATT") $(sql "SELECT progress_chunks FROM tb_audit_export_job WHERE id = '$JOB_STOP'")"
expect_eq "its job is not finished by it" RUNNING "$(sql "SELECT state FROM tb_audit_export_job WHERE id = '$JOB_STOP'")"
expect_eq "it did not heartbeat the lock back: still free at the healer's token" "$((TOKEN_STOP + 1))|t" \
	"$(lock ops-export-runner:stop "fencing_token, holder IS NULL")"
expect_match "its job_run is FAILED (lock taken over), never SUCCEEDED" "^FAILED\|.*taken over" \
	"$(sql "SELECT status, error FROM job_run WHERE pid = $SPID AND job = 'ops-export-runner'")"
cancel_export "$JOB_STOP"

# --- EXPIRED, STALE and ORPHANED rows; healthy ones left alone; --dry-run writes nothing ------
sleep 300 & LIVE=$!; PIDS+=("$LIVE")
LIVE_ST=$(starttime "$LIVE")
DEAD=$(dead_pid)
OTHER_BOOT=$(cat /proc/sys/kernel/random/uuid)
sql "INSERT INTO tb_scheduler_lock (name, holder, holder_host, holder_pid, holder_started_at, holder_boot_id, fencing_token, acquired_at, heartbeat_at, lease_until) VALUES
 ('t-expired',  'j:far.example:10', 'far.example', 10, NULL, NULL, 5, now() - interval '1 hour', now() - interval '2 seconds', now() - interval '1 second'),
 ('t-stale',    'j:far.example:11', 'far.example', 11, NULL, NULL, 5, now() - interval '1 hour', now() - interval '20 seconds', now() + interval '1 hour'),
 ('t-reused',   'j:$HOST:$LIVE', '$HOST', $LIVE, $((LIVE_ST + 1)), '$BOOT', 5, now(), now(), now() + interval '1 hour'),
 ('t-dead',     'j:$HOST:$DEAD', '$HOST', $DEAD, 12345, '$BOOT', 5, now(), now(), now() + interval '1 hour'),
 ('t-live',     'j:$HOST:$LIVE', '$HOST', $LIVE, $LIVE_ST, '$BOOT', 5, now(), now(), now() + interval '1 hour'),
 ('t-otherboot','j:$HOST:$DEAD', '$HOST', $DEAD, 12345, '$OTHER_BOOT', 5, now(), now(), now() + interval '1 hour'),
 ('t-far',      'j:far.example:$DEAD', 'far.example', $DEAD, 12345, '$BOOT', 5, now(), now(), now() + interval '1 hour')" >/dev/null
api GET /api/ops/scheduler/locks "$OPS"
expect_eq "API states (it cannot see processes: a dead local holder is just HELD)" \
	"t-dead:HELD t-expired:EXPIRED t-far:HELD t-live:HELD t-otherboot:HELD t-reused:HELD t-stale:STALE" \
	"$(jq -r '[.items[] | select(.name | startswith("t-")) | "\(.name):\(.state)"] | sort | join(" ")' <<<"$BODY")"
BEFORE=$(table_snapshot)
COUNTS="SELECT (SELECT count(*) FROM ops_event), (SELECT count(*) FROM audit_log), (SELECT count(*) FROM job_run)"
CB=$(sql "$COUNTS")
DRY=$("${HEALER[@]}" --dry-run 2>/dev/null)
expect_eq "--dry-run exits 0" 0 "$?"
expect_eq "--dry-run: the healer's view, one line per lock" \
	"t-dead:ORPHANED:would-recover t-expired:EXPIRED:would-recover t-far:HELD:none t-live:HELD:none t-otherboot:HELD:none t-reused:ORPHANED:would-recover t-stale:STALE:would-recover" \
	"$(grep '^t-' <<<"$DRY" | sed -E 's/^([^ ]+) ([A-Z]+) .*action=([a-z-]+)$/\1:\2:\3/' | sort | tr '\n' ' ' | sed 's/ $//')"
expect_eq "--dry-run changed nothing in tb_scheduler_lock" "$BEFORE" "$(table_snapshot)"
expect_eq "--dry-run wrote no event, audit entry or job run" "$CB" "$(sql "$COUNTS")"
"${HEALER[@]}" >"$DIR/heal-rows.out" 2>/dev/null
expect_eq "the healer exits 0 after recovering them" 0 "$?"
expect_eq "recovered: EXPIRED, STALE, ORPHANED (dead pid, reused pid); untouched: the rest" \
	"t-dead:6:healed: orphaned t-expired:6:healed: expired t-far:5: t-live:5: t-otherboot:5: t-reused:6:healed: orphaned t-stale:6:healed: stale" \
	"$(sql "SELECT string_agg(name || ':' || fencing_token || ':' || coalesce(release_reason, ''), ' ' ORDER BY name) FROM tb_scheduler_lock WHERE name LIKE 't-%'")"
expect_eq "why: pid reused / process gone" "process gone|pid reused by another process" \
	"$(sql "SELECT max(data->>'why') FILTER (WHERE subject_id = 't-dead'), max(data->>'why') FILTER (WHERE subject_id = 't-reused') FROM ops_event WHERE event_type = 'SCHEDULER_LOCK_RECOVERED'")"
expect_eq "one audit entry per recovery" 4 "$(sql "SELECT count(*) FROM audit_log WHERE action = 'SCHEDULER_LOCK_RECOVERED' AND target_id LIKE 't-%'")"
sql "UPDATE tb_scheduler_lock SET holder = NULL, holder_host = NULL, holder_pid = NULL, holder_started_at = NULL, holder_boot_id = NULL,
     acquired_at = NULL, heartbeat_at = NULL, lease_until = NULL WHERE name LIKE 't-%'" >/dev/null

# --- the healer and its own lock ----------------------------------------------------------------
sql "UPDATE tb_scheduler_lock SET holder = 'ops-lock-healer:far.example:1', holder_host = 'far.example', holder_pid = 1,
     fencing_token = fencing_token + 1, acquired_at = now(), heartbeat_at = now(), lease_until = now() + interval '1 hour' WHERE name = 'ops-lock-healer'" >/dev/null
"${HEALER[@]}" >/dev/null 2>"$DIR/heal-busy.err"
expect_eq "a healer whose lock a live healer holds exits 75" 75 "$?"
expect_contains "and names it" "held by ops-lock-healer:far.example:1" "$(cat "$DIR/heal-busy.err")"
DEAD=$(dead_pid)
sql "UPDATE tb_scheduler_lock SET holder = 'ops-lock-healer:$HOST:$DEAD', holder_host = '$HOST', holder_pid = $DEAD, holder_started_at = 1,
     holder_boot_id = '$BOOT', fencing_token = fencing_token + 1, acquired_at = now(), heartbeat_at = now() WHERE name = 'ops-lock-healer'" >/dev/null
"${HEALER[@]}" >"$DIR/heal-pred.out" 2>/dev/null
expect_eq "a healer that died holding the healer lock does not stop the next one" 0 "$?"
expect_eq "the dead predecessor's lock was recovered first, then taken and released" "orphaned|released" \
	"$(sql "SELECT (SELECT data->>'reason' FROM ops_event WHERE event_type = 'SCHEDULER_LOCK_RECOVERED' AND subject_id = 'ops-lock-healer'), release_reason FROM tb_scheduler_lock WHERE name = 'ops-lock-healer'")"
expect_eq "the healer never recovered a live healer's lock (only the dead one)" "1|ops-lock-healer:$HOST:$DEAD" \
	"$(sql "SELECT count(*), max(data->>'old_holder') FROM ops_event WHERE event_type = 'SCHEDULER_LOCK_RECOVERED' AND subject_id = 'ops-lock-healer'")"
expect_match "in a sweep it reports its own lock and leaves it" "^ops-lock-healer HELD holder=ops-lock-healer:$HOST:[0-9]+ .*action=none-own-lock$" \
	"$(grep '^ops-lock-healer HELD' "$DIR/heal-pred.out")"

# --- safety: 100 randomized trials, healthy holders are never touched ------------------------------
LIVES=(); LIVE_STS=()
for i in 0 1 2 3 4; do
	sleep 300 & LIVES+=("$!"); PIDS+=("$!")
done
for p in "${LIVES[@]}"; do LIVE_STS+=("$(starttime "$p")"); done
GONE=2147483000   # never a pid on this host
# The trials' healer reads stale_after 30 s (lease 60 s), and each healthy
# heartbeat is 0-15 s old when written: the same proportions as 0-1.5 s
# against 3 s, but a healer that takes seconds to start on a loaded
# machine does not find a heartbeat gone stale while it started. Held for
# 16-35 s, so that every heartbeat is after the acquisition (a CHECK).
sed -e 's/^  stale_after_seconds: .*/  stale_after_seconds: 30/' -e 's/^  lease_seconds: 6$/  lease_seconds: 60/' \
	"$STACK_CONFIG" >"$DIR/ops-trials.yaml"
TRIAL_HEALER=("$BIN/ops-lock-healer" --config "$DIR/ops-trials.yaml")
touched=0; trials=0; rows=0
for trial in $(seq 1 100); do
	values=""
	for i in 0 1 2 3 4 5; do
		kind=$((RANDOM % 4)); hb=$((RANDOM % 15000)); lease=$((3 + RANDOM % 60)); held=$((RANDOM % 20 + 16))
		case $kind in
		0) k=$((RANDOM % 5)); h="'$HOST'"; pid=${LIVES[$k]}; st=${LIVE_STS[$k]}; b="'$BOOT'" ;;     # live local process
		1) h="'far-$((RANDOM % 3)).example'"; pid=$((RANDOM + 2)); st=$RANDOM; b="'$(cat /proc/sys/kernel/random/uuid)'" ;;  # other host
		2) h="'$HOST'"; pid=$GONE; st=1; b="'$OTHER_BOOT'" ;;                                          # same name, other boot
		3) h="'$HOST'"; pid=$GONE; st=NULL; b=NULL ;;                                                  # no process identity
		esac
		values+="${values:+,}('safe-$i', 'safe:$trial:$i', $h, $pid, $st, $b, 1, now() - interval '$held seconds', now() - interval '$hb milliseconds', now() + interval '$lease seconds')"
	done
	sql "INSERT INTO tb_scheduler_lock AS l (name, holder, holder_host, holder_pid, holder_started_at, holder_boot_id, fencing_token, acquired_at, heartbeat_at, lease_until)
	     VALUES $values ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, holder_host = excluded.holder_host, holder_pid = excluded.holder_pid,
	     holder_started_at = excluded.holder_started_at, holder_boot_id = excluded.holder_boot_id, fencing_token = l.fencing_token + 1,
	     acquired_at = excluded.acquired_at, heartbeat_at = excluded.heartbeat_at, lease_until = excluded.lease_until" >/dev/null
	want=$(sql "SELECT string_agg(name || '=' || fencing_token, ' ' ORDER BY name) FROM tb_scheduler_lock WHERE name LIKE 'safe-%'")
	"${TRIAL_HEALER[@]}" >/dev/null 2>&1 || touched=$((touched + 1000))
	got=$(sql "SELECT string_agg(name || '=' || fencing_token, ' ' ORDER BY name) FROM tb_scheduler_lock WHERE name LIKE 'safe-%' AND holder LIKE 'safe:$trial:%'")
	[ "$want" = "$got" ] || touched=$((touched + 1))
	trials=$((trials + 1)); rows=$((rows + 6))
done
expect_eq "$trials randomized trials ($rows healthy holders: live local pids, other hosts, other boots, no identity): none touched" 0 "$touched"
expect_eq "no recovery event for any of them" 0 "$(sql "SELECT count(*) FROM ops_event WHERE event_type LIKE 'SCHEDULER_LOCK_%' AND subject_id LIKE 'safe-%'")"
sql "UPDATE tb_scheduler_lock SET holder = NULL, holder_host = NULL, holder_pid = NULL, holder_started_at = NULL, holder_boot_id = NULL,
     acquired_at = NULL, heartbeat_at = NULL, lease_until = NULL WHERE name LIKE 'safe-%'" >/dev/null

# --- 20 concurrent acquirers: one winner per round, tokens only grow -----------------------------
OUT=$("$ROOT/build/tools/lock_race" "$STACK_DB_URL" race-lock 20 50 2>&1)
expect_eq "lock_race exits 0" 0 "$?"
expect_match "50 rounds of 20 threads: exactly one winner each, increasing tokens, stale tokens fenced" \
	"20 threads, 50 rounds, 0 failed rounds, tokens 1\.\.50, 49 stale-token heartbeats refused" "$OUT"

# --- observability ---------------------------------------------------------------------------------
curl -s "$STACK_URL/metrics" >"$DIR/metrics.txt"
if out=$(promtool check metrics <"$DIR/metrics.txt" 2>&1); then ok "/metrics (through nginx) passes promtool check metrics"
else not_ok "promtool check metrics: $out"; fi
missing=""
for m in ops_database_up 'ops_export_jobs{state="PENDING"}' 'ops_export_jobs{state="EXPIRED"}' ops_export_oldest_pending_age_seconds \
    ops_export_spool_bytes 'ops_scheduler_lock_stale{name="ops-export-runner:kill"}' \
    'ops_scheduler_lock_recoveries_total{name="ops-export-runner:kill",reason="orphaned"} 1' \
    'ops_scheduler_lock_recoveries_total{name="t-expired",reason="expired"} 1' \
    'ops_job_last_success_timestamp_seconds{job="ops-lock-healer"}' 'ops_job_last_duration_seconds{job="ops-export-runner"}' \
    'ops_job_last_success_timestamp_seconds{job="ops-export-cleaner"}'; do
	grep -qF "$m" "$DIR/metrics.txt" || missing+=" $m"
done
expect_eq "/metrics has every family of the contract" "" "$missing"
check "every family has HELP and TYPE" awk '/^# HELP /{h[$3]=1} /^# TYPE /{t[$3]=1} /^[a-z]/{split($1, a, "{"); n[a[1]]=1} END { for (k in n) { b = k; if (!(b in h)) sub(/_(bucket|sum|count)$/, "", b); if (!h[b] || !t[b]) exit 1 } }' "$DIR/metrics.txt"

api GET /api/ops/status "$OPS"
expect_eq "status: database health" "true true true" "$(jq -r '[.database.ok, (.database.latency_ms|type == "number"), (.database.server_version|length > 0)] | join(" ")' <<<"$BODY")"
expect_eq "status: export jobs in all five states" "DONE EXPIRED FAILED PENDING RUNNING" "$(jq -r '.exports.by_state | keys | join(" ")' <<<"$BODY")"
expect_eq "status: spool bytes and oldest pending age" "number true" "$(jq -r '[(.exports.spool_bytes|type), (.exports | has("oldest_pending_age_seconds"))] | join(" ")' <<<"$BODY")"
expect_eq "status: every lock with state and ages" "$(sql "SELECT count(*) FROM tb_scheduler_lock")" \
	"$(jq '[.scheduler.locks[] | select(has("state") and has("heartbeat_age_seconds") and has("fencing_token"))] | length' <<<"$BODY")"
expect_eq "status: the healer's last run and last success" "SUCCEEDED true" \
	"$(jq -r '.jobs[] | select(.job == "ops-lock-healer") | "\(.last_run.status) \(.last_success.finished_at != null)"' <<<"$BODY")"
expect_match "status: the runner's last failure with its reason" "taken over" \
	"$(jq -r '.jobs[] | select(.job == "ops-export-runner") | .last_failure.error' <<<"$BODY")"
expect_eq "status: every job with last duration" "ops-export-cleaner ops-export-runner ops-lock-healer" \
	"$(jq -r '[.jobs[] | select(.last_duration_seconds != null) | .job] | join(" ")' <<<"$BODY")"

if out=$(promtool check rules "$ROOT/docs/ops/alerts.yml" 2>&1); then ok "alert rules pass promtool check rules"
else not_ok "promtool check rules: $out"; fi
if out=$(cd "$ROOT/docs/ops" && promtool test rules alerts_test.yml 2>&1); then ok "alert rule unit tests pass (promtool test rules)"
else not_ok "promtool test rules: $out"; fi
bad=""
while read -r url; do
	f=${url%%#*}; a=${url#*#}
	[ -f "$ROOT/$f" ] || { bad+=" $url(no file)"; continue; }
	# a heading whose GitHub anchor is a
	awk -v a="$a" '/^#+ / { h = tolower($0); sub(/^#+ +/, "", h); gsub(/[^a-z0-9 _-]/, "", h); gsub(/ /, "-", h); if (h == a) f = 1 }
		END { exit !f }' "$ROOT/$f" || bad+=" $url(no section)"
done < <(sed -n 's/^ *runbook_url: "\(.*\)"/\1/p' "$ROOT/docs/ops/alerts.yml")
expect_eq "every runbook_url names an existing runbook section" "" "$bad"

mkdir -p "$DIR/textfile"
( for _ in $(seq 1 300); do
	[ -f "$DIR/textfile/ops-lock-healer.prom" ] && { tail -n 1 "$DIR/textfile/ops-lock-healer.prom" | grep -q '^ops_job_last_run_items{' || echo torn; }
	sleep 0.005
  done >"$DIR/textfile-reader.out" ) &
READER=$!
for _ in 1 2 3 4 5; do "${HEALER[@]}" --textfile-dir "$DIR/textfile" >/dev/null 2>&1; done
wait "$READER"
check "--textfile-dir writes DIR/ops-lock-healer.prom" test -s "$DIR/textfile/ops-lock-healer.prom"
expect_eq "the textfile appears atomically (a reader never saw a partial file, no temp left)" "" \
	"$(cat "$DIR/textfile-reader.out"; ls -A "$DIR/textfile" | grep -v '^ops-lock-healer.prom$')"
if out=$(promtool check metrics <"$DIR/textfile/ops-lock-healer.prom" 2>&1); then ok "the textfile passes promtool check metrics"
else not_ok "textfile: promtool check metrics: $out"; fi
expect_match "the textfile says the run succeeded" 'ops_job_last_run_success\{job="ops-lock-healer"\} 1' "$(cat "$DIR/textfile/ops-lock-healer.prom")"

"$BIN/opsctl" "${CFG[@]}" exports --state FAILED --tenant bulk --limit 5 >"$DIR/exports.txt"
expect_eq "opsctl exports exits 0" 0 "$?"
expect_match "opsctl exports lists the cancelled jobs" "$JOB_KILL +FAILED +bulk +jsonl .* EXPORT_CANCELLED" "$(grep "$JOB_KILL" "$DIR/exports.txt")"
expect_eq "opsctl exports --json" "$JOB_KILL" "$("$BIN/opsctl" "${CFG[@]}" exports --json --limit 100 | jq -r --arg j "$JOB_KILL" '.items[] | select(.id == $j) | .id')"
"$BIN/opsctl" "${CFG[@]}" exports --state BOGUS >/dev/null 2>&1
expect_eq "opsctl exports --state BOGUS is a usage error" 2 "$?"
"$BIN/opsctl" --help | grep -q 'lock-release NAME --reason TEXT'
expect_eq "opsctl --help lists locks, lock-release and exports" "0 3" "$? $("$BIN/opsctl" --help | grep -oE '^  (locks|lock-release|exports) ' | sort -u | wc -l)"

printf '# figures: SIGKILL -> ORPHANED recovered in %s s; SIGSTOP -> STALE recovered in %s s (healer every 1 s, stale_after %s s)\n' \
	"$REC_KILL" "$REC_STOP" "$STALE"
finish
