#!/usr/bin/env bash
# Async audit export end to end, through nginx, with real runner processes
# and real signals (SIGKILL, SIGSTOP/SIGCONT).
. "$(dirname "$0")/../lib.sh"

RUNNERS=()
suite_cleanup() {
	for p in "${RUNNERS[@]}"; do kill -CONT "$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; done
}

# small chunks and short leases so that faults happen mid-export in seconds
STACK_EXPORT_EXTRA="  chunk_bytes: 4KiB
  lease_seconds: 5
  heartbeat_seconds: 2
  max_active_per_tenant: 30" \
	test_stack_up export

# --- data: acme (mixed rows, tricky values), globex, bulk (20k rows) -------
sql "INSERT INTO audit_log (tenant_id, occurred_at, actor_id, action, target_type, target_id, ip, request_id, payload)
SELECT 'acme', timestamptz '2026-10-01T00:00:00Z' + g * interval '37 seconds', 'user-' || (g % 5),
       (ARRAY['user.login','=cmd()','role.grant','+sum','-neg','@at'])[1 + g % 6], 'user', 'u,\"' || g, ('192.0.2.' || (g % 250))::inet, 'r' || g,
       jsonb_build_object('n', g, 'password', 'p' || g, 'Note', E'line1\nline2 \"q\" é', 'auth', jsonb_build_object('X-Api-Key', 'k'),
                          'tok', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln', 'arr', jsonb_build_array('Bearer abc', 1, null))
FROM generate_series(1, 3000) g;
INSERT INTO audit_log (tenant_id, occurred_at, actor_id, action, payload)
SELECT 'globex', timestamptz '2026-10-01T00:00:00Z' + g * interval '1 minute', 'g', 'user.login', '{}' FROM generate_series(1, 500) g;" >/dev/null &&
	seed_audit bulk 20000 per=3 words=10 || setup_failed "seeding audit_log"
n=$(sql "SELECT string_agg(n::text, ' ' ORDER BY t) FROM (SELECT tenant_id AS t, count(*) AS n FROM audit_log GROUP BY 1) s")
[ "$n" = "3000 20000 500" ] || setup_failed "seeded rows (acme bulk globex): expected 3000 20000 500, got $n"

# two rows at the same instant: the order must fall back to id
sql "INSERT INTO audit_log (tenant_id, occurred_at, action, payload) VALUES
 ('acme', '2026-10-01T00:00:37Z', 'tie.b', '{}'), ('acme', '2026-10-01T00:00:37Z', 'tie.a', '{}')" >/dev/null

AUD=$(mint auditor-1 "" '["AUDITOR"]')
SUPER=$(mint root-1 "" '["SUPER_ADMIN"]')
OPS=$(mint ops-1 "" '["OPS_ADMIN"]')
ACME=$(mint alice acme '["TENANT_ADMIN"]')
GLOBEX=$(mint gary globex '["TENANT_ADMIN"]')
RANGE_FROM=2026-10-01T00:00:00Z
RANGE_TO=2026-10-02T00:00:00Z

# the runner binary itself (not a function: $! must be its pid for signals)
RUNNER=("$BIN/ops-export-runner" --config "$STACK_CONFIG")
runner() { "${RUNNER[@]}" "$@"; }
create() {  # create TOKEN BODY [curl args]: sets JOB
	api POST /api/ops/audit-exports "$1" -H 'Content-Type: application/json' -d "$2" "${@:3}"
	JOB=$(jq -r '.id // empty' <<<"$BODY")
}
body() { jq -cn --arg t "$1" --arg f "$2" --arg from "${3:-$RANGE_FROM}" --arg to "${4:-$RANGE_TO}" \
	'{tenant_id:$t, from:$from, to:$to, format:$f}' | jq -c "${5:-.}"; }
# download JOB TOKEN OUT [curl args]: sets CODE, HDRS
download() {
	local auth=()
	[ -n "$2" ] && auth=(-H "Authorization: Bearer $2")
	CODE=$(curl -s -o "$3" -D "$T_TMP/dh" -w '%{http_code}' "${auth[@]}" "${@:4}" \
		"$STACK_URL/api/ops/audit-exports/$1/download")
	HDRS=$(tr -d '\r' <"$T_TMP/dh")
}

# --- validation: standard errors, and no job created -------------------------
jobs_before=$(sql "SELECT count(*) FROM tb_audit_export_job")
api POST /api/ops/audit-exports "$AUD" -H 'Content-Type: application/json' -d '{"tenant_id":'
expect_error "malformed JSON" 400 MALFORMED_JSON
api POST /api/ops/audit-exports "$AUD" -H 'Content-Type: text/plain' -d "$(body acme jsonl)"
expect_error "wrong content type" 415 UNSUPPORTED_MEDIA_TYPE
create "$AUD" "$(body acme jsonl "" "" '.colour="red"')"
expect_error "unknown field" 400 VALIDATION_FAILED
expect_eq "details name the unknown field" colour "$(jq -r '.error.details[0].field' <<<"$BODY")"
create "$AUD" "$(body acme jsonl 2026-10-01 "" )"
expect_error "a date that is not RFC 3339" 400 VALIDATION_FAILED
expect_eq "details name from" from "$(jq -r '.error.details[0].field' <<<"$BODY")"
create "$AUD" "$(body acme jsonl 2026-10-02T00:00:00Z 2026-10-01T00:00:00Z)"
expect_error "from not before to" 400 VALIDATION_FAILED
# year 1..9999 is checked after the offset (issue 10, defect 2: was a 500)
create "$AUD" "$(body acme jsonl 0001-01-01T00:00:00+23:59 2026-10-01T00:00:00Z)"
expect_error "from before year 1 once the offset is applied" 400 VALIDATION_FAILED
expect_eq "details name from (year 0 after the offset)" from "$(jq -r '.error.details[0].field' <<<"$BODY")"
create "$AUD" "$(body acme jsonl 2026-10-01T00:00:00Z 9999-12-31T23:59:59-23:59)"
expect_error "to after year 9999 once the offset is applied" 400 VALIDATION_FAILED
expect_eq "details name to (year 10000 after the offset)" to "$(jq -r '[.error.details[].field]|join(",")' <<<"$BODY")"
create "$AUD" "$(body acme jsonl 2026-01-01T00:00:00Z 2026-03-01T00:00:00Z)"
expect_error "range over max_range_days" 400 VALIDATION_FAILED
create "$AUD" "$(body acme jsonl "" "" '.max_rows=6000000')"
expect_error "max_rows over its cap" 400 VALIDATION_FAILED
create "$AUD" "$(body acme xml "" "" '.max_bytes=99999999999')"
expect_error "bad format and bytes over cap" 400 VALIDATION_FAILED
expect_eq "details name each bad field" "format,max_bytes" "$(jq -r '[.error.details[].field]|sort|join(",")' <<<"$BODY")"
create "$GLOBEX" "$(body acme jsonl)"
expect_error "tenant outside the caller's scope" 403 TENANT_FORBIDDEN
create "$OPS" "$(body acme jsonl)"
expect_error "OPS_ADMIN may not create exports" 403 FORBIDDEN
expect_eq "no job was created by refused requests" "$jobs_before" "$(sql "SELECT count(*) FROM tb_audit_export_job")"

# --- stored filters this server cannot read: an error with its cause, never "{}" ---
# (jsonb keeps a 30-digit integer; jansson refuses it. Read as no filters, the runner
# would export rows the job did not ask for.)
BAD=$(sql "INSERT INTO tb_audit_export_job (tenant_id, requested_by, format, range_from, range_to, filters,
	max_rows, max_bytes, max_duration_seconds)
	VALUES ('badfilters', 'root-1', 'jsonl', '$RANGE_FROM', '$RANGE_TO', '{\"actor_id\": \"x\", \"n\": 100000000000000000000000000000}',
	10, 1000000, 60) RETURNING id")
api GET "/api/ops/audit-exports/$BAD" "$SUPER"
expect_error "a job whose stored filters cannot be read is not shown with empty filters" 500 INTERNAL_ERROR
expect_contains "ops-fcgi logs the cause with the job id" "cannot show export job: the job's stored filters cannot be read: too big integer" \
	"$(grep -F "$BAD" "$DIR/ops-fcgi.log")"
runner >/dev/null 2>"$DIR/runner-badfilters.err"
expect_eq "the runner fails that job with the cause instead of exporting unfiltered" \
	"FAILED|EXPORT_SOURCE_INVALID|the job's stored filters cannot be read: too big integer" \
	"$(sql "SELECT state, error_code, split_part(error_message, ' (', 1) FROM tb_audit_export_job WHERE id = '$BAD'")"
sql "DELETE FROM tb_audit_export_job WHERE id = '$BAD'" >/dev/null

# --- the whole flow, jsonl and csv ------------------------------------------------
flow() {  # flow FORMAT
	local fmt=$1 id state out sha etag len rows dbrows
	create "$ACME" "$(body acme "$fmt")" -H "Idempotency-Key: flow-$fmt"
	expect_eq "$fmt: create answers 202" 202 "$CODE"
	id=$JOB
	expect_eq "$fmt: Location names the job" "/api/ops/audit-exports/$id" "$(hdr Location)"
	api GET "/api/ops/audit-exports/$id" "$ACME"
	expect_eq "$fmt: a PENDING poll says PENDING" PENDING "$(jq -r .state <<<"$BODY")"
	expect_match "$fmt: a PENDING poll carries Retry-After" '^[0-9]+$' "$(hdr Retry-After)"
	runner >/dev/null 2>"$DIR/runner-$fmt.err"
	expect_eq "$fmt: the runner exits 0" 0 "$?"
	api GET "/api/ops/audit-exports/$id" "$ACME"
	expect_eq "$fmt: the job is DONE" DONE "$(jq -r .state <<<"$BODY")"
	check "$fmt: a DONE poll has no Retry-After" test -z "$(hdr Retry-After)"
	sha=$(jq -r .result.sha256 <<<"$BODY")
	rows=$(jq -r .result.rows <<<"$BODY")
	out="$DIR/flow.$fmt"
	download "$id" "$ACME" "$out"
	expect_eq "$fmt: download answers 200" 200 "$CODE"
	expect_eq "$fmt: downloaded bytes match result.sha256" "$sha" "$(sha256sum "$out" | cut -d' ' -f1)"
	expect_eq "$fmt: ETag is the sha256" "\"$sha\"" "$(hdr ETag)"
	expect_eq "$fmt: Content-Length is right" "$(stat -c %s "$out")" "$(hdr Content-Length)"
	expect_eq "$fmt: Content-Length = result.bytes" "$(jq -r .result.bytes <<<"$BODY")" "$(hdr Content-Length)"
	expect_match "$fmt: Content-Disposition" "^attachment; filename=\"audit-acme-20261001T000000Z-20261002T000000Z-${id:0:8}\\.$fmt\"$" "$(hdr Content-Disposition)"
	expect_eq "$fmt: Cache-Control" no-store "$(hdr Cache-Control)"
	expect_eq "$fmt: Accept-Ranges" bytes "$(hdr Accept-Ranges)"
	expect_eq "$fmt: nosniff" nosniff "$(hdr X-Content-Type-Options)"
	expect_eq "$fmt: Referrer-Policy" no-referrer "$(hdr Referrer-Policy)"
	dbrows=$(sql "SELECT count(*) FROM audit_log WHERE tenant_id='acme' AND occurred_at >= '$RANGE_FROM' AND occurred_at < '$RANGE_TO'")
	expect_eq "$fmt: row count equals the database's count" "$dbrows" "$rows"
	check "$fmt: the range holds rows ($rows)" test "$rows" -gt 2000
	sql "SELECT id FROM audit_log WHERE tenant_id='acme' AND occurred_at >= '$RANGE_FROM' AND occurred_at < '$RANGE_TO' ORDER BY occurred_at, id" >"$DIR/ids.db"
	if [ "$fmt" = jsonl ]; then
		expect_eq "jsonl: every line parses with jq" "$dbrows" "$(jq -c . "$out" | wc -l)"
		jq -r .id "$out" >"$DIR/ids.out"
		expect_eq "jsonl: Content-Type" application/x-ndjson "$(hdr Content-Type)"
		expect_eq "jsonl: keys in contract order" "id,tenant_id,occurred_at,actor_id,action,target_type,target_id,ip,request_id,payload" "$(head -n1 "$out" | jq -r 'keys_unsorted|join(",")')"
		line=$(sed -n 5p "$out")
		expect_eq "jsonl: sanitized payload (password, X-Api-Key, JWT, Bearer)" \
			'["[REDACTED]","[REDACTED]","[REDACTED]","[REDACTED]",1,null]' \
			"$(jq -c '[.payload.password, .payload.auth["X-Api-Key"], .payload.tok, .payload.arr[0], .payload.arr[1], .payload.arr[2]]' <<<"$line")"
		expect_eq "jsonl: harmless text kept intact" '"line1\nline2 \"q\" é"' "$(jq -c '.payload.Note' <<<"$line")"
	else
		python3 - "$out" >"$DIR/ids.out" <<'PY'
import csv, sys
with open(sys.argv[1], newline='', encoding='utf-8') as f:
    rows = list(csv.reader(f, strict=True))
assert rows[0] == ['id','tenant_id','occurred_at','actor_id','action','target_type','target_id','ip','request_id','payload'], rows[0]
for r in rows[1:]:
    assert len(r) == 10, r
    print(r[0])
PY
		expect_eq "csv: parses as RFC 4180 (python csv, strict)" 0 "$?"
		expect_eq "csv: Content-Type" "text/csv; charset=utf-8" "$(hdr Content-Type)"
		check "csv: lines end with CRLF" grep -q $'\r$' "$out"
		check "csv: formula cells neutralized" grep -q "'=cmd()" "$out"
		check "csv: no raw formula cell" bash -c "! grep -qE '(^|,)[=+@-][a-z(]' '$out'"
	fi
	expect_eq "$fmt: rows in (occurred_at, id) order, same as the database" "$(sha256sum <"$DIR/ids.db")" "$(sha256sum <"$DIR/ids.out")"
	FLOW_JOB=$id
}
flow jsonl
JSONL_JOB=$FLOW_JOB
flow csv
CSV_JOB=$FLOW_JOB

# --- events of a completed job, in both tables -------------------------------------
for ev in EXPORT_REQUESTED EXPORT_COMPLETED EXPORT_DOWNLOADED; do
	expect_eq "$ev in ops_event" 1 "$(sql "SELECT count(*) FROM ops_event WHERE event_type='$ev' AND subject_id='$JSONL_JOB'")"
	expect_eq "$ev in audit_log (target audit_export)" 1 "$(sql "SELECT count(*) FROM audit_log WHERE action='$ev' AND target_type='audit_export' AND target_id='$JSONL_JOB'")"
done
expect_eq "EXPORT_STARTED in ops_event" 1 "$(sql "SELECT count(*) FROM ops_event WHERE event_type='EXPORT_STARTED' AND subject_id='$JSONL_JOB'")"

# --- ranges -------------------------------------------------------------------------------
download "$JSONL_JOB" "$ACME" "$DIR/part" -H 'Range: bytes=100-199'
expect_eq "Range: 206" 206 "$CODE"
expect_eq "Range: the right bytes" "$(head -c 200 "$DIR/flow.jsonl" | tail -c 100 | sha256sum)" "$(sha256sum <"$DIR/part")"
total=$(stat -c %s "$DIR/flow.jsonl")
expect_eq "Range: Content-Range" "bytes 100-199/$total" "$(hdr Content-Range)"
download "$JSONL_JOB" "$ACME" "$DIR/part" -H 'Range: bytes=-50'
expect_eq "suffix Range: the last 50 bytes" "$(tail -c 50 "$DIR/flow.jsonl" | sha256sum)" "$(sha256sum <"$DIR/part")"
download "$JSONL_JOB" "$ACME" "$DIR/part" -H "Range: bytes=$((total - 10))-"
expect_eq "open Range across the last chunk" "$(tail -c 10 "$DIR/flow.jsonl" | sha256sum)" "$(sha256sum <"$DIR/part")"
download "$JSONL_JOB" "$ACME" "$DIR/part" -H "Range: bytes=$total-"
expect_eq "unsatisfiable Range: 416" 416 "$CODE"
expect_eq "416 says the size" "bytes */$total" "$(hdr Content-Range)"

# --- HEAD: the headers, no body read, no download recorded -------------------------
before=$(sql "SELECT count(*) FROM ops_event WHERE event_type='EXPORT_DOWNLOADED' AND subject_id='$JSONL_JOB'")
CODE=$(curl -s -I -o "$DIR/head" -w '%{http_code}' -H "Authorization: Bearer $ACME" "$STACK_URL/api/ops/audit-exports/$JSONL_JOB/download")
expect_eq "HEAD on a download: 200" 200 "$CODE"
expect_eq "HEAD carries the file's Content-Length" "$total" "$(tr -d '\r' <"$DIR/head" | awk -F': ' 'tolower($1)=="content-length" {print $2}')"
expect_eq "HEAD records no download" "$before" "$(sql "SELECT count(*) FROM ops_event WHERE event_type='EXPORT_DOWNLOADED' AND subject_id='$JSONL_JOB'")"

# --- the signed download_url --------------------------------------------------------------
api GET "/api/ops/audit-exports/$JSONL_JOB" "$AUD"
url=$(jq -r .result.download_url <<<"$BODY")
expect_match "an auditor's poll carries a signed download_url" "^http://127.0.0.1:$PORT/api/ops/audit-exports/$JSONL_JOB/download\\?by=auditor-1&expires=[0-9]+&sig=[0-9a-f]{64}$" "$url"
code=$(curl -s -o "$DIR/signed" -w '%{http_code}' "$url")
expect_eq "the signed URL works without Authorization" 200 "$code"
expect_eq "the signed URL serves the same bytes" "$(sha256sum <"$DIR/flow.jsonl")" "$(sha256sum <"$DIR/signed")"
bad="${url%?}$( [ "${url: -1}" = 0 ] && echo 1 || echo 0 )"
api GET "${bad#http://127.0.0.1:$PORT}" ""
expect_error "a tampered signature is refused" 401 AUTH_INVALID_TOKEN
api GET "$(sed 's/by=auditor-1/by=root-1/' <<<"${url#http://127.0.0.1:$PORT}")" ""
expect_error "a signature for another requester is refused" 401 AUTH_INVALID_TOKEN
api GET "/api/ops/audit-exports/$JSONL_JOB" "$OPS"
expect_eq "OPS_ADMIN reads metadata only: no download_url" null "$(jq -r .result.download_url <<<"$BODY")"
download "$JSONL_JOB" "$OPS" "$DIR/x"
expect_eq "OPS_ADMIN may not download" 403 "$CODE"
check "nginx's access log never records the signature" bash -c "! grep -q 'sig=' '$DIR/nginx/access.log'"
check "nginx's access log recorded the download" grep -q "/api/ops/audit-exports/$JSONL_JOB/download" "$DIR/nginx/access.log"

# --- isolation: another tenant's job does not exist --------------------------------------
api GET "/api/ops/audit-exports/$JSONL_JOB" "$GLOBEX"
expect_error "get another tenant's job" 404 EXPORT_NOT_FOUND
download "$JSONL_JOB" "$GLOBEX" "$DIR/x"
expect_eq "download another tenant's job: 404" 404 "$CODE"
check "the 404 body reveals nothing" bash -c "! grep -q acme '$DIR/x'"
api DELETE "/api/ops/audit-exports/$JSONL_JOB" "$GLOBEX"
expect_error "cancel another tenant's job" 404 EXPORT_NOT_FOUND
api GET "/api/ops/audit-exports/00000000-0000-0000-0000-000000000000" "$GLOBEX"
expect_error "an unknown job looks the same" 404 EXPORT_NOT_FOUND
api GET "/api/ops/audit-exports?tenant_id=acme" "$GLOBEX"
expect_error "list another tenant" 403 TENANT_FORBIDDEN
api GET "/api/ops/audit-exports" "$GLOBEX"
expect_eq "a tenant admin's list shows only their tenant" 0 "$(jq '[.items[]|select(.tenant_id!="globex")]|length' <<<"$BODY")"
api GET "/api/ops/audit-exports?limit=1" "$AUD"
expect_eq "list pages: one item" 1 "$(jq '.items|length' <<<"$BODY")"
cursor=$(jq -r .next_cursor <<<"$BODY")
api GET "/api/ops/audit-exports?limit=1&cursor=$cursor" "$AUD"
expect_eq "list pages: the next page is the older job" "$JSONL_JOB" "$(jq -r '.items[0].id' <<<"$BODY")"
api GET "/api/ops/audit-exports?state=BOGUS" "$AUD"
expect_error "list with a bad state" 400 VALIDATION_FAILED
# issue 20, L5: a cursor time PostgreSQL cannot hold was a 500 (SQLSTATE 22008)
api GET "/api/ops/audit-exports?limit=1&cursor=9223372036854775807.${cursor#*.}" "$AUD"
expect_error "list with a cursor time past year 9999" 400 VALIDATION_FAILED
expect_eq "details name cursor" cursor "$(jq -r '.error.details[0].field' <<<"$BODY")"
api GET "/api/ops/audit-exports?limit=1&cursor=-9223372036854775808.${cursor#*.}" "$AUD"
expect_error "list with a cursor time before year 1" 400 VALIDATION_FAILED

# --- idempotency ------------------------------------------------------------------------------
create "$ACME" "$(body acme jsonl)" -H "Idempotency-Key: flow-jsonl"
expect_eq "same key, same body: the same job" "$JSONL_JOB" "$JOB"
create "$ACME" "$(body acme csv)" -H "Idempotency-Key: flow-jsonl"
expect_error "same key, different body" 409 IDEMPOTENCY_CONFLICT

# --- cancel --------------------------------------------------------------------------------------
create "$ACME" "$(body acme jsonl)"
api DELETE "/api/ops/audit-exports/$JOB" "$ACME"
expect_eq "cancel a PENDING job: 202" 202 "$CODE"
expect_eq "a cancelled PENDING job is FAILED EXPORT_CANCELLED" "FAILED EXPORT_CANCELLED" "$(jq -r '.state + " " + .error.code' <<<"$BODY")"
api DELETE "/api/ops/audit-exports/$JOB" "$ACME"
expect_error "cancel a terminal job" 409 EXPORT_STATE_CONFLICT
api DELETE "/api/ops/audit-exports/$JSONL_JOB" "$ACME"
expect_error "cancel a DONE job" 409 EXPORT_STATE_CONFLICT
download "$JOB" "$ACME" "$DIR/x"
expect_eq "download of a FAILED job: 409" 409 "$CODE"
expect_eq "download of a FAILED job says EXPORT_FAILED" EXPORT_FAILED "$(jq -r .error.code "$DIR/x")"

create "$AUD" "$(body bulk jsonl)"
BIGJOB=$JOB
"${RUNNER[@]}" --instance cancel >/dev/null 2>"$DIR/cancel.err" &
rp=$!; RUNNERS+=("$rp")
wait_chunks "$BIGJOB" 3
# paused inside a chunk transaction, the runner holds the job's row lock: the
# cancel waits for it (less than the idle-in-transaction timeout)
kill -STOP "$rp"
curl -s -o "$DIR/cancel.json" -w '%{http_code}' -X DELETE -H "Authorization: Bearer $AUD" \
	"$STACK_URL/api/ops/audit-exports/$BIGJOB" >"$DIR/cancel.code" &
cp=$!
sleep 1
kill -CONT "$rp"
wait "$cp"
expect_eq "cancel a RUNNING job: 202" 202 "$(cat "$DIR/cancel.code")"
expect_eq "a RUNNING job shows cancel_requested" true "$(jq -r .cancel_requested "$DIR/cancel.json")"
wait "$rp"
expect_eq "the cancelled job ends FAILED EXPORT_CANCELLED" "FAILED EXPORT_CANCELLED" "$(job_field "$BIGJOB" "state || ' ' || error_code")"
expect_eq "the cancelled job keeps no chunks" 0 "$(sql "SELECT count(*) FROM tb_audit_export_chunk WHERE job_id='$BIGJOB'")"
download "$BIGJOB" "$AUD" "$DIR/x"
expect_eq "download while not DONE: 409" 409 "$CODE"

# --- an uninterrupted bulk export, the reference for the crash tests ---------------------------
create "$AUD" "$(body bulk jsonl)"
REF=$JOB
runner >/dev/null 2>&1
REF_SHA=$(job_field "$REF" sha256)
check "the reference bulk export is DONE" test -n "$REF_SHA"
REF_CHUNKS=$(job_field "$REF" progress_chunks)
check "the bulk export spans many chunks ($REF_CHUNKS)" test "$REF_CHUNKS" -gt 100

# --- SIGTERM while a download is in flight: it completes, then ops-fcgi exits 0 ----
fcgi_pid=$(cat "$DIR/ops-fcgi.pid")
curl -s --limit-rate 3M -o "$DIR/inflight" -H "Authorization: Bearer $AUD" \
	"$STACK_URL/api/ops/audit-exports/$REF/download" &
cpid=$!
# in flight: the first bytes have arrived (deadline 10 s), then SIGTERM
for _ in $(seq 1 200); do [ -s "$DIR/inflight" ] && break; sleep 0.05; done
kill -TERM "$fcgi_pid"
wait "$cpid"; crc=$?
for _ in $(seq 1 100); do kill -0 "$fcgi_pid" 2>/dev/null || break; sleep 0.1; done
wait "$fcgi_pid" 2>/dev/null; frc=$?
expect_eq "a download in flight at SIGTERM completes (curl exit)" 0 "$crc"
expect_eq "and its bytes are whole" "$REF_SHA" "$(sha256sum "$DIR/inflight" | cut -d' ' -f1)"
expect_eq "ops-fcgi then exits 0" 0 "$frc"
rm -f "$DIR/ops-fcgi.pid"
stack_fcgi_start "$DIR"

# --- SIGKILL mid-export: the next runner resumes with attempt 2, same bytes -----------------------
create "$AUD" "$(body bulk jsonl)"
K=$JOB
"${RUNNER[@]}" --instance killed >/dev/null 2>&1 &
rp=$!; RUNNERS+=("$rp")
wait_chunks "$K" 20
kill -KILL "$rp"; wait "$rp" 2>/dev/null
kept=$(job_field "$K" progress_chunks)
check "the killed runner had committed chunks ($kept)" test "$kept" -ge 20
expect_eq "the killed job is still RUNNING" RUNNING "$(job_field "$K" state)"
runner --instance early >/dev/null 2>&1
expect_eq "before the lease ends nobody reclaims it" 1 "$(job_field "$K" attempt)"
wait_sql 15 "SELECT lease_expires_at <= now() FROM tb_audit_export_job WHERE id = '$K'" ||
	not_ok "the killed runner's lease runs out within 15 s"
runner --instance second >/dev/null 2>"$DIR/second.err"
expect_eq "after the lease the next runner finishes it" DONE "$(job_field "$K" state)"
expect_eq "it ran as attempt 2" 2 "$(job_field "$K" attempt)"
expect_eq "the resumed export is byte-identical to an uninterrupted one" "$REF_SHA" "$(job_field "$K" sha256)"
download "$K" "$AUD" "$DIR/resumed"
expect_eq "the resumed file's bytes hash to the reference" "$REF_SHA" "$(sha256sum "$DIR/resumed" | cut -d' ' -f1)"
expect_eq "an EXPORT_RESUMED event was written" 1 "$(sql "SELECT count(*) FROM ops_event WHERE event_type='EXPORT_RESUMED' AND subject_id='$K'")"

# --- SIGSTOP until reclaimed, then SIGCONT: the old runner writes nothing ---------------------------
create "$AUD" "$(body bulk jsonl)"
S=$JOB
"${RUNNER[@]}" --instance paused >/dev/null 2>"$DIR/paused.err" &
rp=$!; RUNNERS+=("$rp")
wait_chunks "$S" 10
kill -STOP "$rp"
# the lease (5 s) runs out, and the server ends the paused session's open
# transaction (idle_in_transaction_session_timeout = lease): then it is free
wait_sql 20 "SELECT (SELECT lease_expires_at <= now() FROM tb_audit_export_job WHERE id = '$S')
	AND NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'ops-export-runner'
	                AND state LIKE 'idle in transaction%')" ||
	not_ok "the paused runner's lease and open transaction end within 20 s"
runner --instance rescuer >/dev/null 2>&1
expect_eq "the paused runner's job was reclaimed and finished" "DONE 2" "$(job_field "$S" "state || ' ' || attempt")"
chunks_before=$(sql "SELECT count(*) || ':' || max(created_at) FROM tb_audit_export_chunk WHERE job_id='$S'")
kill -CONT "$rp"; wait "$rp"; rc=$?
check "the resumed old runner exits non-zero ($rc)" test "$rc" -ne 0
expect_contains "and says why" "was taken over by another runner" "$(cat "$DIR/paused.err")"
expect_eq "the old runner wrote no chunk after SIGCONT" "$chunks_before" "$(sql "SELECT count(*) || ':' || max(created_at) FROM tb_audit_export_chunk WHERE job_id='$S'")"
expect_eq "the reclaimed export is still byte-identical" "$REF_SHA" "$(job_field "$S" sha256)"

# --- limits: rows (before any chunk), bytes, duration -------------------------------------------------
ins_before=$(sql "SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname='tb_audit_export_chunk'")
create "$AUD" "$(body bulk jsonl "" "" '.max_rows=1000')"
L1=$JOB
runner >/dev/null 2>&1
expect_eq "row limit: FAILED EXPORT_LIMIT_ROWS" "FAILED EXPORT_LIMIT_ROWS" "$(job_field "$L1" "state || ' ' || error_code")"
expect_contains "row limit: the message has the count and the limit" "20000 rows, over its limit of 1000" "$(job_field "$L1" error_message)"
sleep 0.7   # statistics are flushed asynchronously
expect_eq "row limit: no chunk was ever written" "$ins_before" "$(sql "SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname='tb_audit_export_chunk'")"
create "$AUD" "$(body bulk jsonl "" "" '.max_bytes=50000')"
L2=$JOB
runner >/dev/null 2>&1
expect_eq "byte limit: FAILED EXPORT_LIMIT_BYTES" "FAILED EXPORT_LIMIT_BYTES" "$(job_field "$L2" "state || ' ' || error_code")"
expect_eq "byte limit: no chunks left" 0 "$(sql "SELECT count(*) FROM tb_audit_export_chunk WHERE job_id='$L2'")"
create "$AUD" "$(body bulk jsonl "" "" '.max_duration_seconds=1')"
L3=$JOB
"${RUNNER[@]}" --instance slow >/dev/null 2>&1 &
rp=$!; RUNNERS+=("$rp")
wait_chunks "$L3" 2
kill -STOP "$rp"; sleep 1.5; kill -CONT "$rp"; wait "$rp"
expect_eq "duration limit: FAILED EXPORT_LIMIT_DURATION" "FAILED EXPORT_LIMIT_DURATION" "$(job_field "$L3" "state || ' ' || error_code")"
expect_eq "duration limit: no chunks left" 0 "$(sql "SELECT count(*) FROM tb_audit_export_chunk WHERE job_id='$L3'")"
for j in "$L1" "$L2" "$L3"; do
	expect_eq "EXPORT_FAILED in both tables for $j" "1 1" "$(sql "SELECT (SELECT count(*) FROM ops_event WHERE event_type='EXPORT_FAILED' AND subject_id='$j') || ' ' || (SELECT count(*) FROM audit_log WHERE action='EXPORT_FAILED' AND target_id='$j')")"
done

# --- two runners, 20 jobs: each runs exactly once ------------------------------------------------------
ids=()
for i in $(seq 1 20); do
	create "$AUD" "$(body globex csv 2026-10-01T00:00:00Z "2026-10-01T0$((i % 8 + 1)):00:00Z")"
	ids+=("$JOB")
done
check "20 jobs created" test "${#ids[@]}" -eq 20
runner --instance a >/dev/null 2>&1 & ra=$!
runner --instance b >/dev/null 2>&1 & rb=$!
wait "$ra"; wa=$?; wait "$rb"; wb=$?
expect_eq "both runners exit 0" "0 0" "$wa $wb"
list=$(printf "'%s'," "${ids[@]}"); list=${list%,}
expect_eq "all 20 jobs DONE on attempt 1" "20" "$(sql "SELECT count(*) FROM tb_audit_export_job WHERE id IN ($list) AND state='DONE' AND attempt=1")"
expect_eq "each job started exactly once" "20 20" "$(sql "SELECT count(*) || ' ' || count(DISTINCT subject_id) FROM ops_event WHERE event_type='EXPORT_STARTED' AND subject_id IN ($list)")"
expect_eq "no job was resumed" 0 "$(sql "SELECT count(*) FROM ops_event WHERE event_type='EXPORT_RESUMED' AND subject_id IN ($list)")"
expect_eq "both runners took work" 2 "$(sql "SELECT count(DISTINCT lease_owner) FROM tb_audit_export_job WHERE id IN ($list)")"

# --- a corrupt chunk: the download is cut short and EXPORT_CORRUPT raised -----------------------------
sql "SET session_replication_role = replica; UPDATE tb_audit_export_chunk SET data = overlay(data placing 'X'::bytea from 10) WHERE job_id='$REF' AND seq = 50" >/dev/null
curl -s -o "$DIR/corrupt" -H "Authorization: Bearer $AUD" "$STACK_URL/api/ops/audit-exports/$REF/download"; rc=$?
check "a corrupt chunk aborts the response (curl exit $rc)" test "$rc" -ne 0
check "the client did not get the whole file" test "$(stat -c %s "$DIR/corrupt")" -lt "$(job_field "$REF" total_bytes)"
expect_eq "EXPORT_CORRUPT raised" 1 "$(sql "SELECT count(*) FROM ops_event WHERE event_type='EXPORT_CORRUPT' AND subject_id='$REF'")"

# --- TTL: the cleaner expires a job -----------------------------------------------------------------------
# (time is moved, not waited for: expires_at is set into the past with triggers off)
sql "SET session_replication_role = replica; UPDATE tb_audit_export_job SET expires_at = now() - interval '1 second' WHERE id = '$CSV_JOB'" >/dev/null
"$BIN/ops-export-cleaner" --config "$STACK_CONFIG" >/dev/null 2>&1
expect_eq "the cleaner exits 0" 0 "$?"
expect_eq "the expired job is EXPIRED" EXPIRED "$(job_field "$CSV_JOB" state)"
expect_eq "its chunks are gone" 0 "$(sql "SELECT count(*) FROM tb_audit_export_chunk WHERE job_id='$CSV_JOB'")"
download "$CSV_JOB" "$ACME" "$DIR/x"
expect_eq "download of an expired job: 410" 410 "$CODE"
expect_eq "410 says EXPORT_EXPIRED" EXPORT_EXPIRED "$(jq -r .error.code "$DIR/x")"
expect_eq "EXPORT_EXPIRED event" 1 "$(sql "SELECT count(*) FROM ops_event WHERE event_type='EXPORT_EXPIRED' AND subject_id='$CSV_JOB'")"
expect_eq "the DONE job that has not expired is untouched" DONE "$(job_field "$JSONL_JOB" state)"

# --- at most max_active_per_tenant (30) PENDING+RUNNING jobs per tenant: 429 ------------------------------
QUOTA=$(mint quinn quota '["TENANT_ADMIN"]')
n=0
for _ in $(seq 1 30); do
	create "$QUOTA" "$(body quota jsonl)"
	[ "$CODE" = 202 ] && n=$((n + 1)) && LAST=$JOB
done
expect_eq "30 active jobs of one tenant are accepted" 30 "$n"
create "$QUOTA" "$(body quota jsonl)"
expect_eq "the 31st: 429 EXPORT_TOO_MANY_ACTIVE with Retry-After" "429 EXPORT_TOO_MANY_ACTIVE 30" \
	"$CODE $(jq -r .error.code <<<"$BODY") $(hdr Retry-After)"
api DELETE "/api/ops/audit-exports/$LAST" "$QUOTA"
create "$QUOTA" "$(body quota jsonl)"
expect_eq "one cancelled: the next is accepted" 202 "$CODE"
api POST "/api/ops/audit-exports/$LAST/retry" "$QUOTA"
expect_eq "a retry over the limit: 429 EXPORT_TOO_MANY_ACTIVE with Retry-After" "429 EXPORT_TOO_MANY_ACTIVE 30" \
	"$CODE $(jq -r .error.code <<<"$BODY") $(hdr Retry-After)"
expect_eq "the refused create and retry wrote no job" "30 1" \
	"$(sql "SELECT count(*) FILTER (WHERE state = 'PENDING') || ' ' || count(*) FILTER (WHERE state = 'FAILED') FROM tb_audit_export_job WHERE tenant_id = 'quota'")"
create "$GLOBEX" "$(body globex jsonl)"
expect_eq "another tenant is not limited by it" 202 "$CODE"

# --- the database refuses illegal state changes ----------------------------------------------------------
for change in "state='RUNNING'" "state='PENDING'" "state='FAILED', error_code='X'"; do
	out=$(sql "UPDATE tb_audit_export_job SET $change WHERE id='$JSONL_JOB'" 2>&1)
	expect_contains "DONE -> ($change) refused by the database" "ERROR" "$out"
done
out=$(sql "UPDATE tb_audit_export_job SET state='DONE' WHERE id='$CSV_JOB'" 2>&1)
expect_contains "EXPIRED -> DONE refused by the database" "ERROR" "$out"
out=$(sql "UPDATE audit_log SET action='x' WHERE id=1" 2>&1)
expect_contains "audit_log UPDATE refused" "append-only" "$out"
out=$(sql "DELETE FROM audit_log WHERE id=1" 2>&1)
expect_contains "audit_log DELETE refused" "append-only" "$out"

finish
