#!/usr/bin/env bash
# tests/integration/sigterm.sh: every job binary stops cleanly on SIGTERM
# and SIGINT (CONTRACT section 18, issue 20 M5; docs/ops/locks.md,
# "Stopping a job"): it ends or abandons its unit of work, records the run
# (JOB_RUN_FAILED, reason terminated, job_run closed), releases its lock at
# once, writes its .prom and exits 143 (130 for SIGINT). An interrupted
# export resumes with the next runner at once, byte-identical, without
# consuming an attempt; the healer closes the job_run row of a run whose
# process is gone; ops-notion-sync never leaves a page half-appended.
#
# Real processes and real signals. Every wait has a deadline (wait_sql,
# wait_chunks, wait_for): the suite runs on a busy 2-core machine.
. "$(dirname "$0")/../lib.sh"

need_tools psql jq curl python3 openssl sha256sum

PIDS=()
FAKE_PID=
suite_cleanup() {
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	[ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null
}

# small chunks (an export of 20,000 rows is ~1,000 of them), a lease far
# longer than the test needs (an export only comes back early if it was
# handed back), two attempts (three interruptions would use them up), small
# cleaner batches (a purge of 30,000 events is ~3,000 of them)
STACK_EXPORT_EXTRA="  chunk_bytes: 4KiB
  lease_seconds: 60
  heartbeat_seconds: 2
  max_attempts: 2
  cleaner_batch_size: 10" \
	test_stack_up sigterm "4 KiB chunks, 60 s leases, 2 attempts"

PROM=$DIR/prom
mkdir -p "$PROM"
# stopped_within SECONDS PID: wait for PID (a child) to exit; sets RC
# (124 when it did not exit in time: then it is killed)
exited() { [ ! -e "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
stopped_within() {
	if wait_for "$1" exited "$2"; then
		wait "$2"; RC=$?
	else
		kill -KILL "$2" 2>/dev/null; wait "$2" 2>/dev/null; RC=124
	fi
}
# expect_clean_stop WHAT JOB LOCK-LIKE RC WANT-RC: the last run of JOB (a
# binary) exited WANT-RC, was recorded as stopped, released its lock
# without the healer and wrote its .prom
expect_clean_stop() {
	local what=$1 job=$2 lock=$3 rc=$4 want=$5
	expect_eq "$what: exit $want" "$want" "$rc"
	expect_eq "$what: its lock is free at once (no healer)" 0 \
		"$(sql "SELECT count(*) FROM tb_scheduler_lock WHERE name LIKE '$lock' AND holder IS NOT NULL")"
	expect_eq "$what: no job_run row left RUNNING" 0 \
		"$(sql "SELECT count(*) FROM job_run WHERE job = '$job' AND status = 'RUNNING'")"
	expect_match "$what: the last run is FAILED, terminated" "^FAILED\|terminated by SIG(TERM|INT)" \
		"$(sql "SELECT status || '|' || error FROM job_run WHERE job = '$job' ORDER BY id DESC LIMIT 1")"
	expect_eq "$what: JOB_RUN_FAILED with reason terminated" terminated \
		"$(sql "SELECT data->>'reason' FROM ops_event WHERE event_type = 'JOB_RUN_FAILED' AND source = '$job' ORDER BY id DESC LIMIT 1")"
	expect_contains "$what: its .prom says the run did not succeed" \
		"ops_job_last_run_success{job=\"$job\"} 0" "$(cat "$PROM/$job.prom" 2>/dev/null)"
}

# --- data: 20,000 rows of one tenant --------------------------------------------
sql "INSERT INTO audit_log (tenant_id, occurred_at, actor_id, action, target_type, target_id, payload)
SELECT 'bulk', timestamptz '2026-10-01T00:00:00Z' + (g / 3) * interval '1 second', 'bot', 'sync.run', 'item', 'i' || g,
       jsonb_build_object('seq', g, 'text', repeat('lorem ipsum ', 10), 'secret_key', 'x')
FROM generate_series(1, 20000) g" >/dev/null || not_ok "seeding audit_log"
AUD=$(mint auditor-1 "" '["AUDITOR"]')
RUNNER=("$BIN/ops-export-runner" --config "$STACK_CONFIG" --textfile-dir "$PROM")
create() {
	api POST /api/ops/audit-exports "$AUD" -H 'Content-Type: application/json' \
		-d '{"tenant_id":"bulk","from":"2026-10-01T00:00:00Z","to":"2026-10-02T00:00:00Z","format":"jsonl"}'
	JOB=$(jq -r '.id // empty' <<<"$BODY")
}

# the reference: the same export, never interrupted
create; REF=$JOB
"${RUNNER[@]}" >/dev/null 2>"$DIR/ref.err"
expect_eq "reference export runs to DONE" DONE "$(job_field "$REF" state)"
REF_SHA=$(job_field "$REF" sha256)

# --- the runner: SIGTERM, SIGTERM, SIGINT mid-export, then a runner finishes ----
create; JOB_B=$JOB
prev=0 n=0
for sig in TERM TERM INT; do
	want=143; [ $sig = INT ] && want=130
	rm -f "$PROM/ops-export-runner.prom"
	"${RUNNER[@]}" >/dev/null 2>>"$DIR/runner-b.err" & pid=$!; PIDS+=("$pid")
	# a later runner picks the job up at once (it was handed back: the
	# lease of 60 s would otherwise hold it) and goes on from its checkpoint
	if wait_chunks "$JOB_B" $((prev + 5)) 30; then
		ok "SIG$sig #$((n + 1)): a runner is mid-export (chunks past $((prev + 5)))"
	else
		not_ok "SIG$sig #$((n + 1)): the runner did not get going (chunks $(job_field "$JOB_B" progress_chunks), state $(job_field "$JOB_B" state))"
	fi
	kill -$sig "$pid"; n=$((n + 1))
	stopped_within 30 "$pid"
	expect_clean_stop "runner SIG$sig #$n" ops-export-runner 'ops-export-runner:%' "$RC" "$want"
	expect_eq "runner SIG$sig #$n: the job is still RUNNING, unfinished" RUNNING "$(job_field "$JOB_B" state)"
	expect_eq "runner SIG$sig #$n: it was handed back (lease over, interrupted $n)" "t $n" \
		"$(job_field "$JOB_B" "(lease_expires_at <= now())::text::char || ' ' || interrupted")"
	expect_eq "runner SIG$sig #$n: its checkpoint is the last committed chunk's" t \
		"$(sql "SELECT j.progress_chunks = (SELECT count(*) FROM tb_audit_export_chunk c WHERE c.job_id = j.id)
		        AND j.progress_bytes = (SELECT coalesce(sum(byte_count), 0) FROM tb_audit_export_chunk c WHERE c.job_id = j.id)
		        FROM tb_audit_export_job j WHERE j.id = '$JOB_B'")"
	prev=$(job_field "$JOB_B" progress_chunks)
done
expect_eq "three EXPORT_INTERRUPTED events, reason terminated" 3 \
	"$(sql "SELECT count(*) FROM ops_event WHERE event_type = 'EXPORT_INTERRUPTED' AND subject_id = '$JOB_B' AND data->>'reason' = 'terminated'")"
"${RUNNER[@]}" >/dev/null 2>>"$DIR/runner-b.err"
expect_eq "after 3 interruptions with max_attempts 2 a runner finishes the job: DONE (no EXPORT_RUNNER_LOST)" \
	"DONE " "$(job_field "$JOB_B" "state || ' ' || coalesce(error_code, '')")"
expect_eq "attempts: 4 claims, 3 interrupted, 1 counted" "4 3" "$(job_field "$JOB_B" "attempt || ' ' || interrupted")"
expect_eq "the resumed export is byte-identical to the uninterrupted one (sha256)" "$REF_SHA" "$(job_field "$JOB_B" sha256)"
CODE=$(curl -s -o "$DIR/b.jsonl" -w '%{http_code}' -H "Authorization: Bearer $AUD" \
	"$STACK_URL/api/ops/audit-exports/$JOB_B/download")
expect_eq "its download answers 200" 200 "$CODE"
expect_eq "the downloaded bytes hash to the reference's sha256" "$REF_SHA" "$(sha256sum "$DIR/b.jsonl" | cut -d' ' -f1)"
expect_eq "every run of the runner is closed" 0 "$(sql "SELECT count(*) FROM job_run WHERE status = 'RUNNING'")"

# --- the cleaner: SIGTERM in the middle of a large purge -------------------------
sql "INSERT INTO ops_event (occurred_at, event_type, severity, source, data)
SELECT now() - interval '100 days' - g * interval '1 second', 'TEST_OLD_EVENT', 'info', 'sigterm-test', '{}'
FROM generate_series(1, 30000) g" >/dev/null
rm -f "$PROM/ops-export-cleaner.prom"
"$BIN/ops-export-cleaner" --config "$STACK_CONFIG" --textfile-dir "$PROM" >/dev/null 2>"$DIR/cleaner.err" & pid=$!; PIDS+=("$pid")
if wait_sql 30 "SELECT count(*) <= 29800 FROM ops_event WHERE event_type = 'TEST_OLD_EVENT'"; then
	ok "cleaner: busy purging 30,000 old events in batches of 10"
else
	not_ok "cleaner: the purge did not start ($(tail -n 2 "$DIR/cleaner.err"))"
fi
kill -TERM "$pid"
stopped_within 30 "$pid"
expect_clean_stop "cleaner SIGTERM" ops-export-cleaner ops-export-cleaner "$RC" 143
check "cleaner SIGTERM: it stopped between batches, the rest is left for the next run" \
	test "$(sql "SELECT count(*) FROM ops_event WHERE event_type = 'TEST_OLD_EVENT'")" -gt 0

# --- the healer: SIGTERM while recovering 1,000 expired locks --------------------
sql "INSERT INTO tb_scheduler_lock (name, holder, holder_host, holder_pid, fencing_token, acquired_at, heartbeat_at, lease_until)
SELECT 'busy-' || g, 'gone:' || g, 'elsewhere', 4242, 1, now() - interval '2 hours', now() - interval '2 hours', now() - interval '1 hour'
FROM generate_series(1, 1000) g" >/dev/null
rm -f "$PROM/ops-lock-healer.prom"
"$BIN/ops-lock-healer" --config "$STACK_CONFIG" --textfile-dir "$PROM" >/dev/null 2>"$DIR/healer.err" & pid=$!; PIDS+=("$pid")
if wait_sql 30 "SELECT count(*) >= 20 FROM tb_scheduler_lock WHERE name LIKE 'busy-%' AND holder IS NULL"; then
	ok "healer: busy recovering 1,000 expired locks"
else
	not_ok "healer: no recovery started ($(tail -n 2 "$DIR/healer.err"))"
fi
kill -TERM "$pid"
stopped_within 30 "$pid"
expect_clean_stop "healer SIGTERM" ops-lock-healer ops-lock-healer "$RC" 143
check "healer SIGTERM: it stopped between locks (some are still to recover)" \
	test "$(sql "SELECT count(*) FROM tb_scheduler_lock WHERE name LIKE 'busy-%' AND holder IS NOT NULL")" -gt 0
expect_eq "healer SIGTERM: every lock it touched was recovered whole (holder cleared, token bumped, events)" 0 \
	"$(sql "SELECT count(*) FROM tb_scheduler_lock l WHERE name LIKE 'busy-%' AND ((holder IS NULL) <> (fencing_token = 2)
	        OR (holder IS NULL AND NOT EXISTS (SELECT 1 FROM ops_event e WHERE e.event_type = 'SCHEDULER_LOCK_RECOVERED' AND e.subject_id = l.name)))")"

# --- the healer closes the job_run row of a run whose process is gone -------------
# (the test's own busy locks out of the way: freed by hand)
sql "UPDATE tb_scheduler_lock SET holder = NULL, holder_host = NULL, holder_pid = NULL, acquired_at = NULL,
     heartbeat_at = NULL, lease_until = NULL, fencing_token = fencing_token + 1 WHERE name LIKE 'busy-%' AND holder IS NOT NULL" >/dev/null
create; JOB_C=$JOB
"${RUNNER[@]}" >/dev/null 2>"$DIR/runner-c.err" & pid=$!; PIDS+=("$pid")
wait_chunks "$JOB_C" 3 30 || not_ok "runner C did not get going"
KILLED_RUN=$(sql "SELECT id FROM job_run WHERE job = 'ops-export-runner' AND pid = $pid")
kill -KILL "$pid"; wait "$pid" 2>/dev/null
expect_eq "SIGKILL: the run's row is left RUNNING (nothing can record a SIGKILL)" RUNNING \
	"$(sql "SELECT status FROM job_run WHERE id = ${KILLED_RUN:-0}")"
# a run of another host: its process cannot be looked at, only its lock
sql "INSERT INTO job_run (job, host, pid, fencing_token, started_at) VALUES ('ops-export-cleaner', 'other-host', 4242, 99, now() - interval '1 hour')" >/dev/null
"$BIN/ops-lock-healer" --config "$STACK_CONFIG" >"$DIR/healer2.out" 2>"$DIR/healer2.err"
expect_eq "healer after SIGKILL: exit 0" 0 "$?"
expect_match "healer: the SIGKILLed run's row is closed FAILED" "^FAILED\|the run ended without recording its outcome" \
	"$(sql "SELECT status || '|' || error FROM job_run WHERE id = ${KILLED_RUN:-0}")"
expect_eq "healer: ... with JOB_RUN_FAILED reason process_gone" process_gone \
	"$(sql "SELECT data->>'reason' FROM ops_event WHERE event_type = 'JOB_RUN_FAILED' AND (data->>'run_id')::bigint = ${KILLED_RUN:-0}")"
expect_eq "healer: the row of a gone run of another host is closed too" FAILED \
	"$(sql "SELECT status FROM job_run WHERE host = 'other-host'")"
expect_contains "healer: it says so on stdout" "action=closed" "$(cat "$DIR/healer2.out")"
expect_eq "healer: no job_run row is left RUNNING" 0 "$(sql "SELECT count(*) FROM job_run WHERE status = 'RUNNING'")"

# --- Notion: the preflight and the sync against the fake Notion -------------------
HERE="$ROOT/tests/integration/notion_sync"
TOKEN=secret_TESTTOKENsync4b1d9e2c7a5f3b8d6e0a2c4f6b8d0e2a4c6f8b0d2e4a
P_ERR=11111111111111111111111111111111 P_RBAC=22222222222222222222222222222222
P_CFG=33333333333333333333333333333333 P_REPORT=44444444444444444444444444444444
P_ROUTES=55555555555555555555555555555555 NDB=99999999999999999999999999999999
dashed() { local h=$1; echo "${h:0:8}-${h:8:4}-${h:12:4}-${h:16:4}-${h:20:12}"; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$DIR/ca.key" -out "$DIR/ca.crt" -days 2 -subj "/CN=ops sigterm test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>>"$DIR/openssl.log"
printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$DIR/srv.ext"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$DIR/srv.key" -out "$DIR/srv.csr" -subj "/CN=localhost" 2>>"$DIR/openssl.log" &&
openssl x509 -req -in "$DIR/srv.csr" -CA "$DIR/ca.crt" -CAkey "$DIR/ca.key" \
    -set_serial "0x$(openssl rand -hex 8)" -days 2 -extfile "$DIR/srv.ext" -out "$DIR/srv.crt" 2>>"$DIR/openssl.log"
jq -n --arg t "$TOKEN" --arg db "$NDB" \
    --argjson pages "[\"$P_ERR\",\"$P_RBAC\",\"$P_CFG\",\"$P_REPORT\",\"$P_ROUTES\"]" \
    '{token: $t, database: $db, pages: $pages, rps: 50}' >"$DIR/fake.json"
python3 "$HERE/fake_notion.py" --config "$DIR/fake.json" --cert "$DIR/srv.crt" --key "$DIR/srv.key" \
    --port-file "$DIR/port" --log "$DIR/requests.log" >"$DIR/fake.out" 2>&1 &
FAKE_PID=$!
wait_for 20 test -s "$DIR/port" || { not_ok "the fake Notion starts ($(tail -n 3 "$DIR/fake.out"))"; finish; }
FAKE=https://127.0.0.1:$(cat "$DIR/port")
: >>"$DIR/requests.log"
fakectl() { curl -sS --cacert "$DIR/ca.crt" -X POST -d "$1" "$FAKE/_control" >/dev/null; }
state() { curl -sS --cacert "$DIR/ca.crt" "$FAKE/_state"; }
requests() { grep -vc ' control$' "$DIR/requests.log"; }

# the preflight, busy in retries: the fake answers 429 (Retry-After 1) past
# one request per second
fakectl '{"rps": 1}'
rm -f "$PROM/ops-notion-preflight.prom"
env -i PATH="$PATH" HOME="$DIR" NOTION_API_BASE="$FAKE" NOTION_TOKEN="$TOKEN" \
    NOTION_PREFLIGHT_TARGETS="page:$P_ERR,page:$P_RBAC,page:$P_CFG,page:$P_REPORT,page:$P_ROUTES,database:$NDB" \
    "$BIN/ops-notion-preflight" --cacert "$DIR/ca.crt" --textfile-dir "$PROM" \
    >"$DIR/preflight.out" 2>"$DIR/preflight.err" & pid=$!; PIDS+=("$pid")
if wait_for 20 bash -c "[ \$(grep -c ' 429 rate' '$DIR/requests.log') -ge 1 ]"; then
	ok "preflight: busy (waiting out a 429)"
else
	not_ok "preflight: never got a 429 ($(tail -n 3 "$DIR/requests.log"))"
fi
m=$(requests)
kill -TERM "$pid"
stopped_within 15 "$pid"
expect_eq "preflight SIGTERM: exit 143" 143 "$RC"
check "preflight SIGTERM: at most the request in flight was sent after it ($m -> $(requests))" \
	test "$(requests)" -le $((m + 1))
expect_contains "preflight SIGTERM: its .prom says the run did not succeed" \
	'ops_job_last_run_success{job="ops-notion-preflight"} 0' "$(cat "$PROM/ops-notion-preflight.prom" 2>/dev/null)"
fakectl '{"rps": 50}'

# the sync, stopped while it appends the blocks of the Configuration page
REPO=$DIR/repo
mkdir -p "$REPO/docs/api" "$REPO/docs/security"
cp "$ROOT/docs/api/errors.md" "$ROOT/docs/api/openapi.yaml" "$REPO/docs/api/"
cp "$ROOT/docs/security/rbac.md" "$REPO/docs/security/"
cp "$ROOT/docs/config.md" "$ROOT/docs/spec_sync_report.md" "$REPO/docs/"
cat >"$REPO/docs/notion-sync.yaml" <<EOF
database: $NDB
documents:
  - name: Error catalog
    source: docs/api/errors.md
    page: $P_ERR
  - name: Roles
    source: docs/security/rbac.md
    page: $P_RBAC
  - name: Configuration
    source: docs/config.md
    page: $P_CFG
  - name: Spec sync report
    source: docs/spec_sync_report.md
    page: $P_REPORT
  - name: Routes
    source: docs/api/openapi.yaml
    generate: routes
    page: $P_ROUTES
EOF
# a command, not a function: $! must be the binary's pid (env execs it)
SYNC=(env -i PATH="$PATH" HOME="$DIR" NOTION_API_BASE="$FAKE" NOTION_TOKEN="$TOKEN"
    "$BIN/ops-notion-sync" --root "$REPO" --cacert "$DIR/ca.crt" --timeout 5
    --commit 0123456789abcdef --config "$STACK_CONFIG" --textfile-dir "$PROM")
# page_state PAGE SOURCE: "complete" (exactly its rendering, and its row
# holds the source's SHA-256), "untouched" (no block, no row) or "HALF"
page_state() {
	local page=$1 src=$2 name=$3 got want row
	"$BIN/ops-notion-sync" --render "$REPO/$src" | jq -cS . >"$DIR/want.json"
	state >"$DIR/state.json"
	got=$(jq -cS --arg p "$(dashed "$page")" '.pages[$p]' "$DIR/state.json")
	row=$(jq -r --arg n "$name" '[.rows[] | select(.Name == $n)][0]["SHA-256"] // "none"' "$DIR/state.json")
	if [ "$got" = "$(cat "$DIR/want.json")" ] && [ "$row" = "$(sha256sum "$REPO/$src" | cut -c1-64)" ]; then
		echo complete
	elif [ "$got" = "[]" ] && [ "$row" = none ]; then
		echo untouched
	else
		echo HALF
	fi
}
rm -f "$PROM/ops-notion-sync.prom"
# at Notion's own pace (3 requests/s) the Configuration page takes seconds
"${SYNC[@]}" --max-rps 3 >"$DIR/sync.out" 2>"$DIR/sync.err" & pid=$!; PIDS+=("$pid")
if wait_for 60 grep -q "^PATCH /v1/blocks/\(${P_CFG}\|$(dashed $P_CFG)\)/children 200" "$DIR/requests.log"; then
	ok "sync: appending the blocks of the Configuration page"
else
	not_ok "sync: never appended to the Configuration page ($(tail -n 3 "$DIR/requests.log"))"
fi
kill -TERM "$pid"
stopped_within 60 "$pid"
expect_clean_stop "sync SIGTERM mid-publish" ops-notion-sync ops-notion-sync "$RC" 143
states=""
for d in "$P_ERR:docs/api/errors.md:Error catalog" "$P_RBAC:docs/security/rbac.md:Roles" \
    "$P_CFG:docs/config.md:Configuration" "$P_REPORT:docs/spec_sync_report.md:Spec sync report"; do
	IFS=: read -r page src name <<<"$d"
	states+="$name=$(page_state "$page" "$src" "$name") "
done
# the page being appended when SIGTERM came (Configuration) is finished; a
# page is either complete or untouched, never half-written; the run did not
# go on to the end (a slow test shell may see the signal land one page later)
expect_match "sync SIGTERM: the page being appended was finished, no page is half-written ($states)" \
	"^Error catalog=complete Roles=complete Configuration=complete Spec sync report=(complete|untouched) $" "$states"
check "sync SIGTERM: it stopped before the last page ($(state | jq '.rows | length') of 5 rows written)" \
	test "$(state | jq '.rows | length')" -lt 5
"${SYNC[@]}" >"$DIR/sync2.out" 2>"$DIR/sync2.err"
expect_eq "sync: the next run exits 0" 0 "$?"
expect_eq "sync: ... and publishes the rest" "Spec sync report=complete" \
	"Spec sync report=$(page_state "$P_REPORT" docs/spec_sync_report.md "Spec sync report")"

finish
