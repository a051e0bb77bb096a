#!/usr/bin/env bash
# History and actions (contract section 15) through nginx, as each role:
# the job list's server-side filters, counts and unknown parameters; a
# job's timeline and the event feed; retry (of retried jobs too); bulk
# cancel, racing a real runner; the status history; the histograms of
# /metrics. Tenant rules everywhere: a tenant never learns that another
# tenant's job exists.
. "$(dirname "$0")/../lib.sh"

T0=$SECONDS
RUNNERS=()
suite_cleanup() {
	for p in "${RUNNERS[@]}"; do kill -CONT "$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; done
}

STACK_EXPORT_EXTRA="  chunk_bytes: 16KiB
  lease_seconds: 5
  heartbeat_seconds: 1
  max_active_per_tenant: 40" \
	test_stack_up history

seed_audit acme 2000 per=2 words=4 && seed_audit globex 300 per=2 words=4 ||
	setup_failed "seeding audit_log"
setup_done "audit rows: acme 2000, globex 300 ($((SECONDS - T0)) s)"

SUPER=$(mint root-1 "" '["SUPER_ADMIN"]')
OPS=$(mint ops-1 "" '["OPS_ADMIN"]')
AUD=$(mint auditor-1 "" '["AUDITOR"]')
ACME=$(mint alice acme '["TENANT_ADMIN"]')
ACME2=$(mint anna acme '["TENANT_ADMIN"]')
GLOBEX=$(mint gary globex '["TENANT_ADMIN"]')
RUNNER=("$BIN/ops-export-runner" --config "$STACK_CONFIG")
runner() { "${RUNNER[@]}" "$@" >>"$DIR/runner.out" 2>>"$DIR/runner.err"; }
JSON=(-H 'Content-Type: application/json')
create() {  # create TOKEN TENANT [jq edit]: sets JOB
	api POST /api/ops/audit-exports "$1" "${JSON[@]}" -d "$(jq -cn --arg t "$2" \
		'{tenant_id:$t, from:"2026-10-01T00:00:00Z", to:"2026-10-02T00:00:00Z", format:"jsonl"}' | jq -c "${3:-.}")"
	JOB=$(jq -r '.id // empty' <<<"$BODY")
	[ "$CODE" = 202 ] && [ -n "$JOB" ]
}
ids() { jq -r '[.items[].id] | sort | join(" ")' <<<"$BODY"; }
sorted() { tr ' ' '\n' <<<"$*" | sort | tr '\n' ' ' | sed 's/ $//'; }
field() { jq -r "$1" <<<"$BODY"; }

# --- jobs: alice x2 (acme), anna x1 (acme), gary x1 (globex), auditor x1 ---
create "$ACME" acme && A1=$JOB &&
	create "$ACME" acme '.format="csv"' && A2=$JOB &&
	create "$ACME2" acme && N1=$JOB &&
	create "$GLOBEX" globex && G1=$JOB &&
	create "$AUD" globex && U1=$JOB || setup_failed "creating jobs: $CODE $BODY"
api DELETE "/api/ops/audit-exports/$A2" "$ACME"
[ "$CODE" = 202 ] || setup_failed "cancel A2: $CODE $BODY"
runner || setup_failed "the runner: $(tail -n 3 "$DIR/runner.err")"
[ "$(sql "SELECT count(*) FROM tb_audit_export_job WHERE state = 'DONE'")" = 4 ] ||
	setup_failed "4 jobs DONE after one runner pass"
setup_done "jobs: A1 A2(cancelled) N1 (acme), G1 U1 (globex) ($((SECONDS - T0)) s)"

# --- 1. the list ------------------------------------------------------------
api GET "/api/ops/audit-exports?requested_by=me" "$ACME"
expect_eq "requested_by=me: alice's own jobs only" "$(sorted "$A1" "$A2")" "$(ids)"
api GET "/api/ops/audit-exports?requested_by=anna" "$ACME"
expect_eq "requested_by=anna as alice (same tenant)" "$N1" "$(ids)"
api GET "/api/ops/audit-exports?requested_by=gary" "$ACME"
expect_eq "requested_by=gary as alice: nothing of globex" "" "$(ids)"
api GET "/api/ops/audit-exports?requested_by=me" "$SUPER"
expect_eq "requested_by=me as root-1: none" "0" "$(field '.items|length')"
api GET "/api/ops/audit-exports?state=done" "$SUPER"
expect_eq "state=done (lower case) = DONE" "$(sorted "$A1" "$N1" "$G1" "$U1")" "$(ids)"
api GET "/api/ops/audit-exports?state=Failed&error_code=EXPORT_CANCELLED" "$OPS"
expect_eq "state=Failed&error_code=EXPORT_CANCELLED" "$A2" "$(ids)"
api GET "/api/ops/audit-exports?error_code=EXPORT_CANCELLED" "$AUD"
expect_eq "the list item carries error.code" "EXPORT_CANCELLED" "$(field '.items[0].error.code')"
api GET "/api/ops/audit-exports?error_code=EXPORT_LIMIT_ROWS" "$AUD"
expect_eq "error_code with no match" "0" "$(field '.items|length')"
api GET "/api/ops/audit-exports?id_prefix=${G1:0:8}" "$SUPER"
expect_eq "id_prefix (8 hex digits)" "$G1" "$(ids)"
up=$(tr a-f A-F <<<"${G1:0:13}")
api GET "/api/ops/audit-exports?id_prefix=$up" "$SUPER"
expect_eq "id_prefix in upper case with its dash" "$G1" "$(ids)"
api GET "/api/ops/audit-exports?id_prefix=${G1:0:8}" "$ACME"
expect_eq "id_prefix of another tenant's job as alice: nothing" "0" "$(field '.items|length')"
expect_eq "... and counts reveal nothing" "0" "$(field '[.counts[]]|add')"
api GET "/api/ops/audit-exports" "$ACME"
expect_eq "counts for acme: 2 DONE, 1 FAILED, no others" '{"DONE":2,"EXPIRED":0,"FAILED":1,"PENDING":0,"RUNNING":0}' \
	"$(jq -cS .counts <<<"$BODY")"
api GET "/api/ops/audit-exports?state=DONE&limit=1" "$SUPER"
expect_eq "counts ignore state and the page" '{"DONE":4,"EXPIRED":0,"FAILED":1,"PENDING":0,"RUNNING":0}' \
	"$(jq -cS .counts <<<"$BODY")"
expect_eq "... while the items follow them" "1 DONE" "$(field '"\(.items|length) \(.items[0].state)"')"
created=$(job_field "$N1" "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
api GET "/api/ops/audit-exports?created_from=$created&tenant_id=acme" "$SUPER"
expect_eq "created_from is inclusive" "$N1" "$(ids)"
api GET "/api/ops/audit-exports?created_to=$created&tenant_id=acme" "$SUPER"
expect_eq "created_to is exclusive" "$(sorted "$A1" "$A2")" "$(ids)"
api GET "/api/ops/audit-exports?tenant_id=globex" "$ACME"
expect_error "tenant_id of another tenant as a TENANT_ADMIN" 403 TENANT_FORBIDDEN
api GET "/api/ops/audit-exports?requested_by=me&retry_of=x" "$ACME"
expect_error "an unknown parameter" 400 VALIDATION_FAILED
expect_eq "details name it" "retry_of" "$(field '.error.details[0].field')"
api GET "/api/ops/audit-exports?requestedby=me" "$SUPER"
expect_error "a misspelt requested_by is refused, not ignored" 400 VALIDATION_FAILED
api GET "/api/ops/audit-exports?state=DONE&state=FAILED" "$SUPER"
expect_error "a parameter given twice" 400 VALIDATION_FAILED
for bad in "state=finished:state" "created_from=yesterday:created_from" "created_to=2026-13-01T00:00:00Z:created_to" \
	"created_from=2026-12-02T00:00:00Z&created_to=2026-12-01T00:00:00Z:created_to" "error_code=lower:error_code" \
	"id_prefix=xyz:id_prefix" "id_prefix=0123456789:id_prefix" "requested_by=:requested_by" "limit=0:limit" \
	"%ff=1:query"; do
	api GET "/api/ops/audit-exports?${bad%:*}" "$SUPER"
	expect_eq "400 names ${bad##*:} for ${bad%:*}" "400 ${bad##*:}" "$CODE $(field '.error.details[0].field')"
done

# --- 2. a job's timeline and the feed ---------------------------------------
curl -s -o /dev/null "$(api GET "/api/ops/audit-exports/$A1" "$ACME"; field .result.download_url | sed "s|^/|$STACK_URL/|")"
api GET "/api/ops/audit-exports/$A1/events" "$ACME"
expect_eq "timeline of A1 as alice: 200" 200 "$CODE"
expect_eq "oldest first: requested, started, ..., completed, downloaded" \
	"EXPORT_REQUESTED EXPORT_STARTED EXPORT_COMPLETED EXPORT_DOWNLOADED" \
	"$(jq -r '[.items[].kind] | join(" ")' <<<"$BODY")"
expect_eq "the request's actor is alice, the runner's is null" "alice null" \
	"$(jq -r '"\(.items[0].actor) \(.items[1].actor)"' <<<"$BODY")"
expect_eq "items have at, kind, actor, detail" "true" \
	"$(jq '[.items[] | has("at") and has("kind") and has("actor") and (.detail|type=="object")] | all' <<<"$BODY")"
expect_eq "times ascend" "true" "$(jq '[.items[].at] as $a | $a == ($a|sort)' <<<"$BODY")"
api GET "/api/ops/audit-exports/$A2/events" "$AUD"
expect_eq "a cancelled PENDING job: EXPORT_FAILED with code EXPORT_CANCELLED, actor alice" \
	"EXPORT_FAILED EXPORT_CANCELLED alice" "$(jq -r '.items[-1] | "\(.kind) \(.detail.code) \(.actor)"' <<<"$BODY")"
api GET "/api/ops/audit-exports/$G1/events" "$ACME"
expect_error "another tenant's timeline as alice" 404 EXPORT_NOT_FOUND
nf=$BODY
api GET "/api/ops/audit-exports/00000000-0000-4000-8000-000000000000/events" "$ACME"
expect_error "a job that does not exist" 404 EXPORT_NOT_FOUND
expect_eq "both 404s read the same (but the request id)" "$(jq -c 'del(.error.request_id)' <<<"$nf")" \
	"$(jq -c 'del(.error.request_id)' <<<"$BODY")"
api GET "/api/ops/audit-exports/not-a-uuid/events" "$SUPER"
expect_error "a malformed id" 404 EXPORT_NOT_FOUND
for t in "$SUPER:SUPER_ADMIN" "$OPS:OPS_ADMIN" "$AUD:AUDITOR" "$GLOBEX:TENANT_ADMIN of globex"; do
	api GET "/api/ops/audit-exports/$G1/events" "${t%%:*}"
	expect_eq "timeline of G1 as ${t#*:}: 200" 200 "$CODE"
done
api GET "/api/ops/audit-exports/$G1/events?verbose=1" "$SUPER"
expect_error "timeline with an unknown parameter" 400 VALIDATION_FAILED
expect_eq "details name it" verbose "$(field '.error.details[0].field')"
api GET "/api/ops/audit-exports/$G1/events" ""
expect_error "timeline without a token" 401 AUTH_REQUIRED

api GET "/api/ops/events?kind=EXPORT_REQUESTED&limit=2" "$SUPER"
expect_eq "feed: newest first, 2 per page" "$U1 $G1" "$(jq -r '[.items[].job_id] | join(" ")' <<<"$BODY")"
c=$(field .next_cursor)
api GET "/api/ops/events?kind=EXPORT_REQUESTED&limit=2&cursor=$c" "$SUPER"
expect_eq "feed: the next page" "$N1 $A2" "$(jq -r '[.items[].job_id] | join(" ")' <<<"$BODY")"
api GET "/api/ops/events?kind=EXPORT_REQUESTED" "$GLOBEX"
expect_eq "feed as gary: globex's events only" "$(sorted "$G1" "$U1")" "$(jq -r '[.items[].job_id] | sort | join(" ")' <<<"$BODY")"
sql "INSERT INTO ops_event (event_type, severity, source, subject_type, subject_id) VALUES ('SCHEDULER_LOCK_RECOVERED', 'warning', 'ops-lock-healer', 'scheduler_lock', 'x')" >/dev/null
api GET "/api/ops/events" "$ACME"
expect_eq "feed as alice: no event without a tenant, none of globex" "acme" \
	"$(jq -r '[.items[].tenant_id] | unique | join(" ")' <<<"$BODY")"
api GET "/api/ops/events?kind=SCHEDULER_LOCK_RECOVERED" "$OPS"
expect_eq "feed as OPS_ADMIN: lock events" "1 null" "$(jq -r '"\(.items|length) \(.items[0].tenant_id)"' <<<"$BODY")"
api GET "/api/ops/events?tenant_id=globex" "$ACME"
expect_error "feed: another tenant as alice" 403 TENANT_FORBIDDEN
since=$(sql "SELECT to_char(max(occurred_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM ops_event WHERE event_type = 'EXPORT_REQUESTED'")
api GET "/api/ops/events?kind=EXPORT_REQUESTED&since=$since" "$AUD"
expect_eq "feed: since is inclusive" "$U1" "$(jq -r '[.items[].job_id] | join(" ")' <<<"$BODY")"
api GET "/api/ops/events?kind=EXPORT_REQUESTED&until=$since&limit=200" "$AUD"
expect_eq "feed: until is exclusive" 4 "$(field '.items|length')"
for bad in "kind=export_failed:kind" "tenant_id=a%20b:tenant_id" "since=now:since" "until=2026-02-30T00:00:00Z:until" \
	"since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z:until" "cursor=abc:cursor" "cursor=999999999999999999.1:cursor" \
	"limit=201:limit" "state=DONE:state"; do
	api GET "/api/ops/events?${bad%:*}" "$SUPER"
	expect_eq "feed 400 names ${bad##*:} for ${bad%:*}" "400 ${bad##*:}" "$CODE $(field '.error.details[0].field')"
done

# --- 3. retry ---------------------------------------------------------------
retry() {  # retry TOKEN JOB [BODY] [curl args]: sets JOB to the new job
	local b=${3-}
	if [ -n "$b" ]; then
		api POST "/api/ops/audit-exports/$2/retry" "$1" "${JSON[@]}" -d "$b" "${@:4}"
	else
		api POST "/api/ops/audit-exports/$2/retry" "$1" "${@:4}"
	fi
	JOB=$(jq -r '.id // empty' <<<"$BODY")
}
retry "$ACME" "$A2"
expect_eq "retry of a cancelled job without a body: 202, PENDING, retry_of A2" "202 PENDING $A2 alice csv" \
	"$CODE $(field '"\(.state) \(.retry_of) \(.requested_by) \(.format)"')"
expect_eq "Location names the new job" "/api/ops/audit-exports/$JOB" "$(hdr Location)"
R1=$JOB
expect_eq "same parameters: range, filters, limits" \
	"$(job_field "$A2" "range_from, range_to, filters, max_rows, max_bytes, max_duration_seconds, compression")" \
	"$(job_field "$R1" "range_from, range_to, filters, max_rows, max_bytes, max_duration_seconds, compression")"
retry "$ACME" "$R1"
expect_error "retry of a PENDING job" 409 EXPORT_STATE_CONFLICT
runner
retry "$ACME2" "$R1" '{"to":"2026-10-01T12:00:00Z","compression":"gzip","max_rows":100}' -H 'Idempotency-Key: r-1'
R2=$JOB
expect_eq "retry of a retried job by anna, with changes" "202 $R1 anna gzip 2026-10-01T12:00:00Z 100" \
	"$CODE $(field '"\(.retry_of) \(.requested_by) \(.compression) \(.to) \(.limits.max_rows)"')"
retry "$ACME2" "$R1" '{"to":"2026-10-01T12:00:00Z","compression":"gzip","max_rows":100}' -H 'Idempotency-Key: r-1'
expect_eq "the same key and body: the same new job" "202 $R2" "$CODE $JOB"
retry "$ACME2" "$R1" '{"to":"2026-10-01T13:00:00Z"}' -H 'Idempotency-Key: r-1'
expect_error "the same key, another body" 409 IDEMPOTENCY_CONFLICT
retry "$ACME2" "$A1" '{"to":"2026-10-01T12:00:00Z","compression":"gzip","max_rows":100}' -H 'Idempotency-Key: r-1'
expect_error "the same key and body for another original" 409 IDEMPOTENCY_CONFLICT
api GET "/api/ops/audit-exports/$R2/events" "$ACME"
expect_eq "the retry's EXPORT_REQUESTED names the original" "$R1" "$(field '.items[0].detail.retry_of')"
retry "$ACME" "$G1"
expect_error "retry of another tenant's job as alice" 404 EXPORT_NOT_FOUND
retry "$OPS" "$G1"
expect_error "retry as OPS_ADMIN (no export.create)" 403 FORBIDDEN
retry "$AUD" "$G1"
expect_eq "retry as AUDITOR of gary's job" "202 auditor-1" "$CODE $(field .requested_by)"
retry "$SUPER" "$G1" '{"tenant_id":"acme","actions":["x"]}'
expect_error "retry changing the tenant" 400 VALIDATION_FAILED
expect_eq "details name both" "actions tenant_id" "$(jq -r '[.error.details[].field] | sort | join(" ")' <<<"$BODY")"
retry "$SUPER" "$G1" '{"from":"2026-10-03T00:00:00Z"}'
expect_eq "retry with from after the original's to: 400 names to" "400 to" "$CODE $(field '.error.details[0].field')"
retry "$SUPER" "$G1" '{"format":"xml","max_rows":0}'
expect_eq "retry with a bad format and limit" "400 format max_rows" "$CODE $(jq -r '[.error.details[].field] | sort | join(" ")' <<<"$BODY")"
retry "$SUPER" "$G1" '[1]'
expect_eq "retry with a body that is not an object" "400 body" "$CODE $(field '.error.details[0].field')"
retry "$SUPER" "$G1" '{"to":' 
expect_error "retry with broken JSON" 400 MALFORMED_JSON
retry "$SUPER" "$G1" '{}' -H 'Idempotency-Key: '"$(printf 'k%.0s' {1..300})"
expect_eq "retry with a bad Idempotency-Key" "400 Idempotency-Key" "$CODE $(field '.error.details[0].field')"
retry "$SUPER" 00000000-0000-4000-8000-000000000000
expect_error "retry of a job that does not exist" 404 EXPORT_NOT_FOUND
runner

# --- 3b. bulk cancel --------------------------------------------------------
cancel() { api POST /api/ops/audit-exports/cancel "$1" "${JSON[@]}" -d "$2"; }
create "$ACME" acme && P1=$JOB && create "$ACME2" acme && P2=$JOB && create "$GLOBEX" globex && P3=$JOB &&
	create "$AUD" acme && P4=$JOB || setup_failed "creating pending jobs: $CODE $BODY"
cancel "$ACME" "{\"ids\":[\"$P3\",\"$A1\",\"00000000-0000-4000-8000-000000000000\"]}"
expect_eq "bulk cancel by ids as alice: globex's job, a DONE job and a missing one are skipped" \
	'200 {"cancelled":0,"ids":[]}' "$CODE $(jq -c . <<<"$BODY")"
cancel "$AUD" '{"state":"pending"}'
expect_eq "AUDITOR: only their own requests" "1 $P4" "$(field '"\(.cancelled) \(.ids|join(" "))"')"
expect_eq "... ended FAILED EXPORT_CANCELLED" "FAILED EXPORT_CANCELLED" "$(job_field "$P4" "state || ' ' || error_code")"
api GET "/api/ops/audit-exports/$P4/events" "$AUD"
expect_eq "... with the events a single cancel writes" "EXPORT_FAILED auditor-1 PENDING" \
	"$(jq -r '.items[-1] | "\(.kind) \(.actor) \(.detail.state_before)"' <<<"$BODY")"
cancel "$GLOBEX" '{"tenant_id":"acme"}'
expect_error "bulk cancel of another tenant as gary" 403 TENANT_FORBIDDEN
cancel "$ACME" '{"requested_by":"me"}'
expect_eq "requested_by=me as alice" "1 $P1" "$(field '"\(.cancelled) \(.ids|join(" "))"')"
cancel "$OPS" '{"tenant_id":"acme","state":"PENDING"}'
expect_eq "OPS_ADMIN by tenant and state" "1 $P2" "$(field '"\(.cancelled) \(.ids|join(" "))"')"
cancel "$OPS" "{\"ids\":[\"$P3\"]}"
expect_eq "OPS_ADMIN by id" "1 $P3" "$(field '"\(.cancelled) \(.ids|join(" "))"')"
for bad in '{}:ids' '{"ids":[]}:ids' '{"ids":["x"]}:ids' "{\"ids\":[\"$P1\"],\"state\":\"PENDING\"}:ids" \
	'{"state":"DONE"}:state' '{"tenant_id":"a b"}:tenant_id' '{"requested_by":""}:requested_by' '{"colour":1,"state":"PENDING"}:colour'; do
	cancel "$SUPER" "${bad%:*}"
	expect_eq "bulk cancel 400 names ${bad##*:} for ${bad%:*}" "400 ${bad##*:}" "$CODE $(field '.error.details[0].field')"
done
cancel "$SUPER" '[]'
expect_eq "bulk cancel with an array body" "400 body" "$CODE $(field '.error.details[0].field')"
api POST /api/ops/audit-exports/cancel "$SUPER" -d '{}'
expect_error "bulk cancel without Content-Type" 415 UNSUPPORTED_MEDIA_TYPE

# racing the runner: 12 jobs, a runner working on them, one bulk cancel
seed_audit race 4000 per=1 words=6 || setup_failed "seeding race"
RACE=()
for i in $(seq 1 12); do
	api POST /api/ops/audit-exports "$SUPER" "${JSON[@]}" -d '{"tenant_id":"race","from":"2026-10-01T00:00:00Z","to":"2026-10-02T00:00:00Z","format":"jsonl"}'
	RACE+=("$(field .id)")
done
"${RUNNER[@]}" >>"$DIR/runner.out" 2>>"$DIR/runner.err" &
RUNNERS+=($!)
wait_sql 30 "SELECT count(*) >= 2 FROM tb_audit_export_job WHERE tenant_id = 'race' AND state = 'DONE'" ||
	not_ok "the runner finished two race jobs"
cancel "$SUPER" '{"tenant_id":"race"}'
got=$BODY
wait "${RUNNERS[-1]}"
cancelled=$(jq -r '.ids | sort | join(" ")' <<<"$got")
ended=$(sql "SELECT string_agg(id::text, ' ' ORDER BY id::text) FROM tb_audit_export_job WHERE tenant_id = 'race' AND error_code = 'EXPORT_CANCELLED'")
expect_eq "race: the answer's ids are exactly the jobs that ended cancelled" "$ended" "$cancelled"
expect_eq "race: cancelled + DONE = 12, nothing else" "12 0" \
	"$(sql "SELECT count(*) FILTER (WHERE state = 'DONE' OR error_code = 'EXPORT_CANCELLED') || ' ' || count(*) FILTER (WHERE state NOT IN ('DONE', 'FAILED')) FROM tb_audit_export_job WHERE tenant_id = 'race'")"
expect_eq "race: the jobs done first stay DONE and are not counted" "$(jq .cancelled <<<"$got")" \
	"$(( 12 - $(sql "SELECT count(*) FROM tb_audit_export_job WHERE tenant_id = 'race' AND state = 'DONE'") ))"
check "race: at least two jobs were DONE before the cancel, at least one cancelled" \
	test "$(jq .cancelled <<<"$got")" -ge 1 -a "$(jq .cancelled <<<"$got")" -le 10

# --- 4. status history ------------------------------------------------------
api GET /api/ops/status/history "$OPS"
expect_eq "history: 24 hourly buckets by default, oldest first" "200 24 true" \
	"$CODE $(field '"\(.buckets|length) \([.buckets[].start] as $s | $s == ($s|sort))"')"
now_hour=$(date -u +%Y-%m-%dT%H:00:00Z)
W="'$(field '.buckets[0].start')'::timestamptz"
expect_eq "the last bucket is the current hour" "$now_hour" "$(field '.buckets[-1].start')"
# the 24 buckets' sums against the table over the same 24 hours (not this
# hour alone: a suite that runs across the top of an hour has jobs in two)
expect_eq "history counts what the table holds in its 24 hours" \
	"$(sql "SELECT count(*) FILTER (WHERE created_at >= $W) || ' ' || count(*) FILTER (WHERE state IN ('DONE', 'EXPIRED') AND finished_at >= $W) || ' ' || count(*) FILTER (WHERE state = 'FAILED' AND finished_at >= $W) FROM tb_audit_export_job")" \
	"$(jq -r '.buckets | map(.created) as $c | map(.done) as $d | map(.failed) as $f | "\($c|add) \($d|add) \($f|add)"' <<<"$BODY")"
expect_eq "bytes are the DONE jobs' bytes" "$(sql "SELECT sum(total_bytes) FROM tb_audit_export_job WHERE state = 'DONE'")" \
	"$(field '[.buckets[].bytes]|add')"
expect_eq "percentiles: numbers where jobs ended, p50 <= p95" "true" \
	"$(field '[.buckets[] | select(.done > 0)] | all(.duration_p50_seconds <= .duration_p95_seconds and .queue_wait_p95_seconds >= 0)')"
expect_eq "an hour without jobs: zeros and nulls" '0 0 0 null null' \
	"$(field '.buckets[0] | "\(.created) \(.done) \(.bytes) \(.duration_p50_seconds) \(.queue_wait_p95_seconds)"')"
api GET "/api/ops/status/history?hours=168" "$SUPER"
expect_eq "hours=168" "200 168" "$CODE $(field '.buckets|length')"
for t in "$AUD:AUDITOR" "$ACME:TENANT_ADMIN"; do
	api GET /api/ops/status/history "${t%%:*}"
	expect_error "history as ${t#*:}" 403 FORBIDDEN
done
for bad in "hours=0:hours" "hours=169:hours" "hours=x:hours" "hours=:hours" "hours=1&hours=2:hours" "hour=2:hour"; do
	api GET "/api/ops/status/history?${bad%:*}" "$OPS"
	expect_eq "history 400 names ${bad##*:} for ${bad%:*}" "400 ${bad##*:}" "$CODE $(field '.error.details[0].field')"
done

# --- 5. /metrics histograms -------------------------------------------------
metric() { awk -v m="$1" '$1 == m { print $2 }' "$DIR/metrics.txt"; }
curl -s "$STACK_URL/metrics" >"$DIR/metrics.txt"
if out=$(promtool check metrics <"$DIR/metrics.txt" 2>&1); then ok "/metrics with the histograms passes promtool check metrics"
else not_ok "promtool check metrics: $out"; fi
done_n=$(sql "SELECT count(*) FROM tb_audit_export_job WHERE state IN ('DONE', 'EXPIRED')")
expect_eq "duration histogram: one count per DONE job" "$done_n" "$(metric ops_export_duration_seconds_count)"
expect_eq "... +Inf bucket = count" "$done_n" "$(metric 'ops_export_duration_seconds_bucket{le="+Inf"}')"
expect_eq "queue wait histogram: one count per started job" "$(sql "SELECT count(*) FROM tb_audit_export_job WHERE started_at IS NOT NULL")" \
	"$(metric ops_export_queue_wait_seconds_count)"
before=$(grep -E '^ops_export_(duration|queue_wait)_seconds' "$DIR/metrics.txt")
sql "DELETE FROM tb_audit_export_chunk; DELETE FROM tb_audit_export_job WHERE state IN ('DONE', 'FAILED')" >/dev/null
curl -s "$STACK_URL/metrics" >"$DIR/metrics.txt"
expect_eq "the histograms survive a purge of the job rows" "$before" \
	"$(grep -E '^ops_export_(duration|queue_wait)_seconds' "$DIR/metrics.txt")"
if out=$(promtool check rules "$ROOT/docs/ops/export_rules.yml" 2>&1); then ok "recording rules pass promtool check rules"
else not_ok "promtool check rules: $out"; fi
if out=$(cd "$ROOT/docs/ops" && promtool test rules export_rules_test.yml 2>&1); then ok "recording rule tests pass (promtool test rules)"
else not_ok "promtool test rules: $out"; fi
expect_eq "the Grafana dashboard is JSON whose queries use the recorded series" true \
	"$(jq '[.panels[].targets[].expr] | any(test("ops:export_duration_seconds:p95_1h"))' "$ROOT/docs/ops/grafana-exports.json")"

# --- 6. opsctl --------------------------------------------------------------
OPSCTL=("$BIN/opsctl" --config "$STACK_CONFIG")
create "$ACME" acme && O1=$JOB || not_ok "create O1: $CODE"
out=$("${OPSCTL[@]}" exports --state pending --json)
expect_eq "opsctl exports --state pending (lower case) --json: the API's shape" "true $O1" \
	"$(jq -r '"\(has("items") and has("counts") and has("next_cursor")) \(.items[0].id)"' <<<"$out")"
api GET "/api/ops/audit-exports?state=PENDING" "$OPS"
expect_eq "... the same items as the API gives an OPS_ADMIN" "$(jq -cS '.items|map(del(.result.download_url))' <<<"$BODY")" \
	"$(jq -cS '.items|map(del(.result.download_url))' <<<"$out")"
quiet() { "$@" >/dev/null; }
check "opsctl exports --state Done (the table)" quiet "${OPSCTL[@]}" exports --state Done
out=$("${OPSCTL[@]}" exports show "$O1")
expect_eq "opsctl exports show" "$O1 PENDING" "$(jq -r '"\(.id) \(.state)"' <<<"$out")"
out=$("${OPSCTL[@]}" exports cancel "$O1")
expect_eq "opsctl exports cancel" "FAILED EXPORT_CANCELLED" "$(jq -r '"\(.state) \(.error.code)"' <<<"$out")"
out=$("${OPSCTL[@]}" exports events "$O1")
expect_eq "opsctl exports events: the cancel, by the operator" "EXPORT_FAILED opsctl:" \
	"$(jq -r '.items[-1] | "\(.kind) \(.actor[0:7])"' <<<"$out")"
out=$("${OPSCTL[@]}" exports retry "$O1" --to 2026-10-01T06:00:00Z --compression gzip)
expect_eq "opsctl exports retry with changes" "PENDING $O1 gzip 2026-10-01T06:00:00Z" \
	"$(jq -r '"\(.state) \(.retry_of) \(.compression) \(.to)"' <<<"$out")"
RO=$(jq -r .id <<<"$out")
runner
"${OPSCTL[@]}" exports download "$RO" --output "$DIR/ro.jsonl.gz" 2>/dev/null
expect_eq "opsctl exports download: the file whose sha256 the job names" "DONE $(job_field "$RO" sha256)" \
	"$(job_field "$RO" state) $(sha256sum "$DIR/ro.jsonl.gz" | cut -d' ' -f1)"
check "the download is a gzip file" gzip -t "$DIR/ro.jsonl.gz"
expect_eq "... recorded as a download" 1 "$(sql "SELECT count(*) FROM ops_event WHERE subject_id = '$RO' AND event_type = 'EXPORT_DOWNLOADED'")"
out=$("${OPSCTL[@]}" exports show 00000000-0000-4000-8000-000000000000 2>&1); rc=$?
expect_eq "opsctl exports show of a missing job: exit 1, says so" "1 EXPORT_NOT_FOUND" "$rc $(grep -o EXPORT_NOT_FOUND <<<"$out")"
out=$("${OPSCTL[@]}" exports retry "$RO" --format xml 2>&1); rc=$?
expect_eq "opsctl exports retry --format xml: usage error naming format" "2 format" "$rc $(grep -o 'retry: format' <<<"$out" | cut -d' ' -f2)"
out=$("${OPSCTL[@]}" token --sub x --roles SUPERADMIN 2>&1); rc=$?
expect_eq "opsctl token for an unknown role: refused, with the valid roles" "2 yes" \
	"$rc $(grep -q 'SUPER_ADMIN OPS_ADMIN AUDITOR TENANT_ADMIN' <<<"$out" && echo yes)"

note "history.sh took $((SECONDS - T0)) s"
finish
