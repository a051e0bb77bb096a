#!/usr/bin/env bash
# Downloads that every real client finishes (issue 11), through nginx, with
# real PostgreSQL, real slow HTTP clients (tests/tools/slow-get) and real
# aborts:
#   - a slow download (10 s or more) outlives the 2 s statement_timeout and
#     the signed URL's own 10 s lifetime (the other timeouts of this config:
#     connect 2 s, and nginx's 60 s read/send timeouts, which only a client
#     or upstream idle that long would meet), and is byte-exact;
#   - 32 slow downloads in flight: polls, /readyz and /healthz answer 200
#     within 1 s,
#     no responder connection is busy while the clients are still reading
#     (nginx spools), and afterwards no connection or thread is leaked;
#   - the per-identity cap: 429 RATE_LIMITED with Retry-After at cap + 1,
#     for a signed URL's subject and for a bearer token; the next download
#     succeeds once one finishes;
#   - a client abort releases nginx's temp file and everything else;
#   - a corrupt chunk still cuts the response and raises EXPORT_CORRUPT;
#   - without spooling (nginx keeps no temp file), the one-chunk statements
#     alone still deliver a slow download whole;
#   - no signature or token in any log of the stack.
# Runtime: about 40 s (about 75 s with both cores busy, stress-ng --cpu 2).
. "$(dirname "$0")/../lib.sh"

test_dir downloads
C=$DIR/clients   # what the slow clients write
mkdir -p "$C"
suite_cleanup() {
	for f in "$C"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
}

need_tools curl jq psql nginx sha256sum python3

CAP=2
STACK_THREADS=4
# a small send buffer: a 2 MB file meets a slow client the way a 60 MB one
# meets the default (auto-tuned, up to 4 MB) buffer
STACK_NGINX_LISTEN="sndbuf=64k" \
STACK_DATABASE_EXTRA="  statement_timeout_ms: 2000" \
STACK_EXPORT_EXTRA="  chunk_bytes: 256KiB
  download_url_ttl_seconds: 10
  max_active_per_tenant: 10
  max_downloads_per_identity: $CAP" \
	test_stack_up downloads "statement_timeout 2 s, download_url_ttl 10 s, cap $CAP"

# --- nginx's limits come from the config ------------------------------------
default_cap=$("$BIN/opsctl" config-keys | awk -F'\t' '$1 == "export.max_downloads_per_identity" { print $3 }')
default_bytes=$("$BIN/opsctl" config-keys | awk -F'\t' '$1 == "export.max_bytes_cap" { print $3 }')
shipped=$(grep -E '^limit_conn ops_download_(subject|token) ' "$ROOT/nginx/ops-download.conf" | awk '{ print $3 }' | sort -u | tr -d ';')
expect_eq "shipped nginx limit_conn equals the default of export.max_downloads_per_identity" "$default_cap" "$shipped"
expect_eq "shipped fastcgi_max_temp_file_size equals the default export.max_bytes_cap" \
	"$(sed 's/GiB$/g/; s/MiB$/m/; s/KiB$/k/' <<<"$default_bytes")" \
	"$(sed -n 's/^fastcgi_max_temp_file_size \(.*\);/\1/p' "$ROOT/nginx/ops-download.conf" | sed 's/^2048m$/2g/')"
expect_eq "the stack's nginx enforces the configured cap" "$CAP $CAP" \
	"$(grep -E '^limit_conn ops_download_' "$DIR/nginx/ops-download.conf" | awk '{ printf "%s%s", s, $3; s=" " }' | tr -d ';')"

# --- data and exports ---------------------------------------------------------
# rows of about 1.2 KB: BIG ~ 12 MB, SMALL ~ 2 MB, CORRUPT ~ 0.6 MB
seed_audit dl 10000 words=80 || setup_failed "seeding audit_log"
# the runner keeps the default statement timeout: the 2 s one is the API's
sed '/statement_timeout_ms/d' "$STACK_CONFIG" >"$DIR/runner.yaml"

AUD=$(mint dl-auditor "" '["AUDITOR"]')
create() {  # create TO: a jsonl export of tenant dl from the first row to TO; sets JOB, SHA, BYTES
	api POST /api/ops/audit-exports "$AUD" -H 'Content-Type: application/json' \
		-d "{\"tenant_id\":\"dl\",\"from\":\"2026-10-01T00:00:00Z\",\"to\":\"$1\",\"format\":\"jsonl\"}"
	JOB=$(jq -r '.id // empty' <<<"$BODY")
	"$BIN/ops-export-runner" --config "$DIR/runner.yaml" >>"$DIR/runner.log" 2>&1 ||
		not_ok "the runner exits 0 (see runner.log)"
	api GET "/api/ops/audit-exports/$JOB" "$AUD"
	SHA=$(jq -r '.result.sha256 // empty' <<<"$BODY")
	BYTES=$(jq -r '.result.bytes // 0' <<<"$BODY")
}
create 2026-10-01T03:00:00Z; BIG=$JOB BIG_SHA=$SHA BIG_BYTES=$BYTES
create 2026-10-01T00:28:00Z; SMALL=$JOB SMALL_SHA=$SHA SMALL_BYTES=$BYTES
create 2026-10-01T00:08:00Z; BAD=$JOB BAD_BYTES=$BYTES
check "three DONE exports (big $BIG_BYTES, small $SMALL_BYTES, bad $BAD_BYTES bytes)" \
	test "$BIG_BYTES" -gt 11000000 -a "$SMALL_BYTES" -gt 1800000 -a "$BAD_BYTES" -gt 300000

# signed_url TOKEN JOB: a fresh download_url for that caller
signed_url() { api GET "/api/ops/audit-exports/$2" "$1"; jq -r .result.download_url <<<"$BODY"; }
# fetch OUT RATE URL [Header: value ...]: a slow client (tests/tools/slow-get)
# in the background; OUT.meta gets "status seconds bytes", OUT.rc its exit
# status (0 whole, 18 cut); sets PID. abort OUT kills it: the client leaves.
fetch() {
	local out=$1 rate=$2 url=$3; shift 3
	( "$ROOT/tests/tools/slow-get" "$url" "$out" "$rate" "$@" >"$out.meta" 2>&1
	  echo $? >"$out.rc" ) 2>/dev/null &
	PID=$!
}
reap() { wait "$1" 2>/dev/null; }  # reap PID
abort() { kill "$(cat "$1.pid")"; }
# wait_for SECONDS COMMAND...: until the command succeeds (it is run again
# each time: pass a function, not a $(...) value), or fail after SECONDS
wait_for() {
	local deadline=$(( $(date +%s) + $1 )); shift
	until "$@"; do
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}
fcgi_busy() { sql "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'ops-fcgi/%' AND state <> 'idle'"; }
fcgi_conns() { sql "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'ops-fcgi/%'"; }
fcgi_threads() { awk '/^Threads:/ { print $2 }' "/proc/$(cat "$DIR/ops-fcgi.pid")/status"; }
# temp files nginx's workers hold open (spooled downloads; already unlinked)
nginx_temp_files() {
	local n=0 w
	for w in $(pgrep -P "$(cat "$DIR/nginx/nginx.pid")"); do
		n=$((n + $(ls -l "/proc/$w/fd" 2>/dev/null | grep -c "$DIR/nginx/fastcgi/")))
	done
	echo "$n"
}
running() { kill -0 "$1" 2>/dev/null; }
size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }
# predicates for wait_for
all_idle() { [ "$(fcgi_busy)" -eq 0 ]; }
no_temp_files() { [ "$(nginx_temp_files)" -eq 0 ]; }
all_conns() { [ "$(fcgi_conns)" -eq "$STACK_THREADS" ]; }
both_started() { [ "$(size_of "$1")" -gt 0 ] && [ "$(size_of "$2")" -gt 0 ]; }
gone() { ! running "$1"; }
answers() { [ "$(curl -s -o "$3" -w '%{http_code}' "${@:4}" "$2")" = "$1" ]; }  # answers STATUS URL OUT [curl args]

# the idle picture before any download
wait_for 5 all_conns
IDLE_CONNS=$(fcgi_conns)
THREADS=$(fcgi_threads)
expect_eq "one idle connection per responder thread before the downloads" "$STACK_THREADS" "$IDLE_CONNS"

# --- 1. a slow signed download outlives every timeout of this config ---------------
URL=$(signed_url "$AUD" "$BIG")
SIGS=("${URL##*sig=}")
fetch "$C/big" 1000000 "$URL"
BIG_PID=$PID

# --- 2. 32 slow downloads in flight: the API keeps answering -----------------------
for i in $(seq 1 32); do
	TOKS[i]=$(mint "dl-user-$i" "" '["AUDITOR"]')
done
for i in $(seq 1 32); do
	# 100 KB/s: ~20 s each, so that they outlast the polls below even
	# when both cores are busy (at 200 KB/s one finished first under load)
	fetch "$C/many-$i" 100000 "$STACK_URL/api/ops/audit-exports/$SMALL/download" \
		"Authorization: Bearer ${TOKS[i]}"
	MANY[i]=$PID
done
slow=0 bad=0 rounds=0
for r in $(seq 1 12); do
	for p in "/api/ops/audit-exports/$SMALL" /readyz /healthz; do
		read -r code t < <(curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 10 \
			-H "Authorization: Bearer $AUD" "$STACK_URL$p")
		[ "$code" = 200 ] || bad=$((bad + 1))
		awk -v t="$t" 'BEGIN { exit !(t < 1.0) }' || { slow=$((slow + 1)); echo "# slow answer: $p $code ${t}s"; }
		rounds=$((rounds + 1))
	done
	sleep 0.25
done
inflight=0
for i in $(seq 1 32); do
	if running "${MANY[i]}"; then inflight=$((inflight + 1))
	else echo "# download $i no longer running: $(cat "$C/many-$i.meta" 2>/dev/null) rc $(cat "$C/many-$i.rc" 2>/dev/null)"; fi
done
expect_eq "all 32 slow downloads were still in flight after the polls" 32 "$inflight"
expect_eq "polls, /readyz and /healthz answered 200 during them ($rounds answers)" 0 "$bad"
expect_eq "each poll, /readyz and /healthz answered within 1 s" 0 "$slow"
check "while 32 clients are still reading, no responder connection is busy (nginx spools)" \
	wait_for 5 all_idle
check "and nginx holds their bytes in temp files ($(nginx_temp_files))" test "$(nginx_temp_files)" -ge 32
for i in $(seq 1 32); do reap "${MANY[i]}"; done
good=0
for i in $(seq 1 32); do
	[ "$(cat "$C/many-$i.rc")" = 0 ] && [ "$(sha256sum <"$C/many-$i" | cut -d' ' -f1)" = "$SMALL_SHA" ] &&
		good=$((good + 1))
done
expect_eq "all 32 slow downloads completed byte-exact" 32 "$good"

reap "$BIG_PID"
read -r code t _ <"$C/big.meta"
expect_eq "the slow signed download: client exit 0" 0 "$(cat "$C/big.rc")"
expect_eq "the slow signed download: 200" 200 "$code"
check "it took 10 s or more (${t}s), past the 2 s statement_timeout and the 10 s URL lifetime" \
	awk -v t="$t" 'BEGIN { exit !(t >= 10) }'
expect_eq "its SHA-256 equals result.sha256" "$BIG_SHA" "$(sha256sum <"$C/big" | cut -d' ' -f1)"
expect_eq "no statement timeout in ops-fcgi's log" 0 "$(grep -c 'statement timeout' "$DIR/ops-fcgi.log")"

check "afterwards every responder connection is idle" wait_for 5 all_idle
expect_eq "and there are as many as before (no connection leaked)" "$IDLE_CONNS" "$(fcgi_conns)"
expect_eq "ops-fcgi has as many threads as before" "$THREADS" "$(fcgi_threads)"
check "nginx holds no temp file any more" wait_for 5 no_temp_files

# --- 3. the per-identity cap --------------------------------------------------------
# a subject the URL must percent-encode (space, @, |)
CAPPER=$(mint "dl capper@example.com|x" "" '["AUDITOR"]')
OTHER=$(mint dl-other "" '["AUDITOR"]')
URL=$(signed_url "$CAPPER" "$SMALL"); SIGS+=("${URL##*sig=}")
fetch "$C/cap-short" 500000 "$URL"         # ~4 s
SHORT_PID=$PID
fetch "$C/cap-long" 100000 "$URL"          # aborted below
LONG_PID=$PID
wait_for 10 both_started "$C/cap-short" "$C/cap-long" ||
	not_ok "the first $CAP downloads of one subject started"
api GET "${URL#"$STACK_URL"}" ""
expect_error "signed URL, download cap + 1 of one subject" 429 RATE_LIMITED
expect_match "it carries Retry-After" '^[0-9]+$' "$(hdr Retry-After)"
URL2=$(signed_url "$CAPPER" "$BIG"); SIGS+=("${URL2##*sig=}")
api GET "${URL2#"$STACK_URL"}" "" -r 0-0
expect_error "the cap is per subject, not per file: a fresh URL for another export" 429 RATE_LIMITED
api GET "/api/ops/audit-exports/$SMALL/download" "$OTHER" -r 0-0
expect_eq "another identity downloads meanwhile" 206 "$CODE"
# the same with one bearer token
fetch "$C/tok-1" 100000 "$STACK_URL/api/ops/audit-exports/$SMALL/download" "Authorization: Bearer $OTHER"
T1=$PID
fetch "$C/tok-2" 100000 "$STACK_URL/api/ops/audit-exports/$SMALL/download" "Authorization: Bearer $OTHER"
T2=$PID
wait_for 10 both_started "$C/tok-1" "$C/tok-2" ||
	not_ok "the first $CAP downloads of one token started"
api GET "/api/ops/audit-exports/$SMALL/download" "$OTHER"
expect_error "bearer token, download cap + 1" 429 RATE_LIMITED
expect_match "it carries Retry-After" '^[0-9]+$' "$(hdr Retry-After)"
abort "$C/tok-1"; abort "$C/tok-2"
# once one finishes, the next one is served
check "the short download of the capped subject finishes" wait_for 15 gone "$SHORT_PID"
reap "$SHORT_PID"
expect_eq "and it was whole" "$SMALL_SHA" "$(sha256sum <"$C/cap-short" | cut -d' ' -f1)"
check "then the next download of that subject succeeds" wait_for 5 answers 200 "$URL" "$C/cap-next"
expect_eq "with the whole file" "$SMALL_SHA" "$(sha256sum <"$C/cap-next" | cut -d' ' -f1)"

# --- 4. a client abort releases everything at once ----------------------------------
check "the slow capped download is spooled by nginx" test "$(nginx_temp_files)" -ge 1
check "the client aborts mid-file" running "$LONG_PID"
abort "$C/cap-long"; reap "$LONG_PID"
check "the client saw the abort (exit $(cat "$C/cap-long.rc"))" test "$(cat "$C/cap-long.rc")" -ne 0
check "nginx closes the download and drops its temp file" wait_for 5 no_temp_files
check "and the subject's slot is free again" wait_for 5 answers 206 "$URL" /dev/null -r 0-0
expect_eq "no responder connection is busy" 0 "$(fcgi_busy)"

# --- 5. a corrupt chunk still cuts the response -------------------------------------
sql "SET session_replication_role = replica; UPDATE tb_audit_export_chunk SET data = overlay(data placing 'X'::bytea from 10) WHERE job_id = '$BAD' AND seq = 1" >/dev/null
URL=$(signed_url "$AUD" "$BAD"); SIGS+=("${URL##*sig=}")
curl -s -o "$C/bad-signed" "$URL"; rc=$?
check "signed: a corrupt chunk cuts the response (curl exit $rc)" test "$rc" -ne 0
check "signed: the client got less than the whole file" test "$(size_of "$C/bad-signed")" -lt "$BAD_BYTES"
curl -s -o "$C/bad-bearer" -H "Authorization: Bearer $AUD" "$STACK_URL/api/ops/audit-exports/$BAD/download"; rc=$?
check "bearer: a corrupt chunk cuts the response (curl exit $rc)" test "$rc" -ne 0
expect_eq "EXPORT_CORRUPT raised for each" 2 "$(sql "SELECT count(*) FROM ops_event WHERE event_type='EXPORT_CORRUPT' AND subject_id='$BAD'")"
check "nginx's error log records the bearer cut (the log works)" grep -q "audit-exports/$BAD/download" "$DIR/nginx/error.log"

# --- 6. signed-URL refusals ----------------------------------------------------------
URL=$(signed_url "$AUD" "$SMALL"); SIGS+=("${URL##*sig=}")
bad="${URL%?}$( [ "${URL: -1}" = 0 ] && echo 1 || echo 0 )"
api GET "${bad#"$STACK_URL"}" ""
expect_error "a tampered signature" 401 AUTH_INVALID_TOKEN
api GET "$(sed 's/by=dl-auditor/by=%64l-auditor/' <<<"${URL#"$STACK_URL"}")" ""
expect_error "a subject spelled another way (would dodge the cap)" 401 AUTH_INVALID_TOKEN
api GET "$(sed 's/&expires=/\&BY=x\&expires=/' <<<"${URL#"$STACK_URL"}")" ""
expect_error "an extra parameter" 401 AUTH_INVALID_TOKEN

# --- 7. without spooling, the short statements alone keep a download whole -----------
# nginx told to keep no temp file: it passes the file through, and ops-fcgi
# waits for the slow client; the old single streaming query was cut at the
# 2 s statement_timeout here.
workers_before=$(pgrep -P "$(cat "$DIR/nginx/nginx.pid")" | sort | tr '\n' ' ')
sed -i 's/^fastcgi_max_temp_file_size .*;/fastcgi_max_temp_file_size 0;/' "$DIR/nginx/ops-download.conf"
nginx -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" -s reload 2>>"$DIR/nginx/reload.log"
new_workers() { [ "$(pgrep -P "$(cat "$DIR/nginx/nginx.pid")" | sort | tr '\n' ' ')" != "$workers_before" ] &&
	! pgrep -P "$(cat "$DIR/nginx/nginx.pid")" | grep -qxF -e "${workers_before%% *}"; }
check "nginx reloaded without spooling" wait_for 10 new_workers
# (the big file: more than the socket buffers between PostgreSQL and ops-fcgi)
fetch "$C/unspooled" 2000000 "$STACK_URL/api/ops/audit-exports/$BIG/download" "Authorization: Bearer $AUD"
UNSPOOLED_PID=$PID
waiting() { [ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'ops-fcgi/%' AND state = 'idle in transaction'")" -ge 1 ]; }
check "ops-fcgi now waits for the client (its transaction idle between chunks)" wait_for 5 waiting
reap "$UNSPOOLED_PID"
read -r code t _ <"$C/unspooled.meta"
expect_eq "the unspooled slow download: client exit 0, 200" "0 200" "$(cat "$C/unspooled.rc") $code"
check "it took 5 s or more (${t}s), past the 2 s statement_timeout" awk -v t="$t" 'BEGIN { exit !(t >= 5) }'
expect_eq "its SHA-256 equals result.sha256" "$BIG_SHA" "$(sha256sum <"$C/unspooled" | cut -d' ' -f1)"
check "and the connection is idle once it ends" wait_for 5 all_idle

# --- 8. no credential in any log -------------------------------------------------------
sleep 0.5   # nginx writes its logs as requests end
LOGS=("$DIR/nginx/access.log" "$DIR/nginx/error.log" "$DIR/ops-fcgi.log" "$DIR/runner.log")
for f in "${LOGS[@]}"; do check "log $(basename "$f") exists" test -f "$f"; done
found=0
for s in "${SIGS[@]}"; do
	[ ${#s} -eq 64 ] || { not_ok "a signature was collected"; continue; }
	grep -qF -e "${s:0:16}" "${LOGS[@]}"; [ $? -eq 1 ] || found=$((found + 1))  # an error counts too
done
expect_eq "none of the ${#SIGS[@]} signatures used (download, cap, abort, corrupt, tampered) is in any log" 0 "$found"
expect_eq "no 'sig=' in any log" 0 "$(cat "${LOGS[@]}" | grep -c 'sig=')"
tok_found=0
for t in "$AUD" "$CAPPER" "$OTHER" "${TOKS[1]}"; do
	grep -qF -e "${t##*.}" "${LOGS[@]}"; [ $? -eq 1 ] || tok_found=$((tok_found + 1))
done
expect_eq "no bearer token signature in any log" 0 "$tok_found"

finish
