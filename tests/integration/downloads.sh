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
#     for a signed URL's subject and for a bearer token's subject, whatever
#     tokens or links it uses; the next download succeeds once one
#     finishes; the global cap (export.max_downloads_total);
#   - issue 20: a download is counted only once verified: forged links for
#     a subject, sending a body slowly, hold none of its slots (413 at
#     once); slow headers are dropped after client_header_timeout;
#   - nginx spools into export.download_spool_dir, whose free space is on
#     /metrics; a full spool cuts a download visibly (client error, access
#     log "complete":"");
#   - a client abort releases nginx's temp file and everything else;
#   - a corrupt chunk still cuts the response and raises EXPORT_CORRUPT;
#   - without spooling (nginx keeps no temp file), the one-chunk statements
#     alone still deliver a slow download whole, under a 1 s
#     idle_in_transaction_session_timeout and a 2 s fastcgi_read_timeout;
#   - no signature or token in any log of the stack, malformed requests
#     (a 70,000-byte body, chunked, a bad Content-Length) included.
# Runtime: about 40 s (about 75 s with both cores busy, stress-ng --cpu 2).
. "$(dirname "$0")/../lib.sh"

test_dir downloads
C=$DIR/clients   # what the slow clients write
mkdir -p "$C"
suite_cleanup() {
	for f in "$C"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
}

need_tools curl jq psql nginx sha256sum python3 openssl

CAP=2
TOTAL=40   # more than the 33 downloads of section 2
STACK_THREADS=4
# a small send buffer: a 2 MB file meets a slow client the way a 60 MB one
# meets the default (auto-tuned, up to 4 MB) buffer
STACK_NGINX_LISTEN="sndbuf=64k" \
STACK_DATABASE_EXTRA="  statement_timeout_ms: 2000" \
STACK_EXPORT_EXTRA="  chunk_bytes: 256KiB
  download_url_ttl_seconds: 10
  max_active_per_tenant: 10
  max_downloads_per_identity: $CAP
  max_downloads_total: $TOTAL" \
	test_stack_up downloads "statement_timeout 2 s, download_url_ttl 10 s, cap $CAP"

# --- nginx's limits come from the config ------------------------------------
default_cap=$("$BIN/opsctl" config-keys | awk -F'\t' '$1 == "export.max_downloads_per_identity" { print $3 }')
default_bytes=$("$BIN/opsctl" config-keys | awk -F'\t' '$1 == "export.max_bytes_cap" { print $3 }')
default_total=$("$BIN/opsctl" config-keys | awk -F'\t' '$1 == "export.max_downloads_total" { print $3 }')
default_spool=$("$BIN/opsctl" config-keys | awk -F'\t' '$1 == "export.download_spool_dir" { print $3 }')
shipped=$(grep -E '^limit_conn ops_download_subject ' "$ROOT/nginx/ops-download.conf" | awk '{ print $3 }' | tr -d ';')
expect_eq "shipped nginx limit_conn equals the default of export.max_downloads_per_identity" "$default_cap" "$shipped"
expect_eq "shipped global limit_conn equals the default of export.max_downloads_total" "$default_total" \
	"$(grep -E '^limit_conn ops_download_all ' "$ROOT/nginx/ops-download.conf" | awk '{ print $3 }' | tr -d ';')"
expect_eq "shipped fastcgi_temp_path equals the default export.download_spool_dir" "$default_spool" \
	"$(sed -n 's/^fastcgi_temp_path \(.*\);/\1/p' "$ROOT/nginx/ops-download.conf")"
expect_eq "shipped fastcgi_max_temp_file_size equals the default export.max_bytes_cap" \
	"$(sed 's/GiB$/g/; s/MiB$/m/; s/KiB$/k/' <<<"$default_bytes")" \
	"$(sed -n 's/^fastcgi_max_temp_file_size \(.*\);/\1/p' "$ROOT/nginx/ops-download.conf" | sed 's/^2048m$/2g/')"
expect_eq "the stack's nginx enforces the configured caps (per subject, total)" "$CAP $TOTAL" \
	"$(grep -E '^limit_conn ops_download_(subject|all) ' "$DIR/nginx/ops-download.conf" | awk '{ printf "%s%s", s, $3; s=" " }' | tr -d ';')"
SPOOL=$DIR/download-spool
expect_eq "and spools into the configured export.download_spool_dir" "$SPOOL" \
	"$(sed -n 's/^fastcgi_temp_path \(.*\);/\1/p' "$DIR/nginx/ops-download.conf")"

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
fcgi_busy() { sql "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'ops-fcgi/%' AND state <> 'idle'"; }
# the workers' sessions (ops-fcgi/N; the poll lane's is ops-fcgi/lane)
fcgi_conns() { sql "SELECT count(*) FROM pg_stat_activity WHERE application_name ~ '^ops-fcgi/[0-9]+$'"; }
fcgi_threads() { awk '/^Threads:/ { print $2 }' "/proc/$(cat "$DIR/ops-fcgi.pid")/status"; }
# temp files nginx's workers hold open (spooled downloads; already unlinked)
nginx_temp_files() {
	local n=0 w
	for w in $(pgrep -P "$(cat "$DIR/nginx/nginx.pid")"); do
		n=$((n + $(ls -l "/proc/$w/fd" 2>/dev/null | grep -c "$SPOOL/")))
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
# send OUT INTERVAL MODE [args...]: a slow sender (tests/tools/slow-send) in
# the background; OUT.meta gets "status seconds sent" when the server
# answered or closed; sets PID
send() {
	local out=$1; shift
	( "$ROOT/tests/tools/slow-send" "${SEND_URL}" "$out" "$@" >"$out.meta" 2>&1 ) 2>/dev/null &
	PID=$!
}
answered() { [ -s "$1.meta" ]; }
# nginx_reload: reload the stack's nginx and wait until the old workers are gone
nginx_reload() {
	local before
	before=$(pgrep -P "$(cat "$DIR/nginx/nginx.pid")" | sort | tr '\n' ' ')
	nginx -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" -s reload 2>>"$DIR/nginx/reload.log"
	reloaded() { [ "$(pgrep -P "$(cat "$DIR/nginx/nginx.pid")" | sort | tr '\n' ' ')" != "$before" ] &&
		! pgrep -P "$(cat "$DIR/nginx/nginx.pid")" | grep -qxF -e "${before%% *}"; }
	wait_for 10 reloaded
}

# the idle picture before any download
wait_for 5 all_conns
IDLE_CONNS=$(fcgi_conns)
THREADS=$(fcgi_threads)
expect_eq "one idle connection per database session (threads = pool_size here) before the downloads" "$STACK_THREADS" "$IDLE_CONNS"

# --- 1. a slow signed download outlives every timeout of this config ---------------
URL=$(signed_url "$AUD" "$BIG")
SIGS=("${URL##*sig=}")
fetch "$C/big" 1000000 "$URL"
BIG_PID=$PID

# --- 2. 32 slow downloads in flight: the API keeps answering -----------------------
# meanwhile a client sends its headers one byte a second (issue 20): it
# holds nothing, and nginx drops it after client_header_timeout (10 s)
SEND_URL="$STACK_URL/api/ops/audit-exports/$SMALL/download" send "$C/slowloris" 1 headers
SLOWLORIS_PID=$PID
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
spooled_32() { [ "$(nginx_temp_files)" -ge 32 ]; }
check "and nginx holds their bytes in temp files" wait_for 10 spooled_32
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

# the slow-header client of section 2: dropped at client_header_timeout
check "a client sending its headers slowly is dropped" wait_for 30 answered "$C/slowloris"
read -r code t _ <"$C/slowloris.meta"
check "within 15 s (${t}s, status $code): client_header_timeout 10 s" awk -v t="$t" 'BEGIN { exit !(t < 15) }'

# the spool: the temp files above were in export.download_spool_dir, and
# /metrics reports that filesystem's free space
curl -s "$STACK_URL/metrics" >"$DIR/metrics.txt"
expect_eq "/metrics: ops_download_spool_up 1" 1 "$(awk '$1 == "ops_download_spool_up" { print $2 }' "$DIR/metrics.txt")"
free_m=$(awk '$1 == "ops_download_spool_free_bytes" { printf "%.0f", $2 }' "$DIR/metrics.txt")
free_df=$(( $(stat -f -c '%a * %S' "$SPOOL") ))
check "ops_download_spool_free_bytes ($free_m) is the spool filesystem's free space ($free_df, within 2%)" \
	awk -v a="${free_m:-0}" -v b="$free_df" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0 && d <= b * 0.02) }'
if out=$(promtool check metrics <"$DIR/metrics.txt" 2>&1); then ok "/metrics with the spool passes promtool check metrics"
else not_ok "promtool check metrics: $out"; fi

# --- 2b. forged links hold none of a subject's slots (issue 20 M1) ----------------
# The subject's name is public (requested_by). Links with its "by" and a
# forged signature, each sending a body one byte every 2 s: before, nginx
# counted them by "by" before anything was verified and the subject got
# 429 until they closed. Now a download takes no body (413 at once) and is
# counted only once ops-fcgi verified it.
VICTIM=$(mint "dl-victim" "" '["AUDITOR"]')
VURL=$(signed_url "$VICTIM" "$SMALL"); SIGS+=("${VURL##*sig=}")
SEND_URL="${VURL%%&sig=*}&sig=$(printf '0%.0s' $(seq 1 64))"
for i in $(seq 1 $((CAP + 2))); do
	send "$C/forged-$i" 2 body 1000
	FORGED[i]=$PID
done
all_forged_answered() { local i; for i in $(seq 1 $((CAP + 2))); do answered "$C/forged-$i" || return 1; done; }
check "$((CAP + 2)) forged links sending a slow body are answered at once" wait_for 30 all_forged_answered
refused=0
for i in $(seq 1 $((CAP + 2))); do
	read -r code t sent <"$C/forged-$i.meta"
	[ "$code" = 413 ] && [ "$sent" -lt 1000 ] && refused=$((refused + 1))
done
expect_eq "each with 413 before its body was sent" $((CAP + 2)) "$refused"
SEND_URL="${VURL%%&sig=*}&sig=$(printf '0%.0s' $(seq 1 64))"
for i in $(seq 1 $((CAP + 2))); do
	send "$C/forged-nobody-$i" 2 body 0
done
all_nobody_answered() { local i; for i in $(seq 1 $((CAP + 2))); do answered "$C/forged-nobody-$i" || return 1; done; }
check "and without a body, forged links are answered at once" wait_for 30 all_nobody_answered
expect_eq "with 401" "$(printf '401 %.0s' $(seq 1 $((CAP + 2))))" \
	"$(for i in $(seq 1 $((CAP + 2))); do printf '%s ' "$(cut -d' ' -f1 "$C/forged-nobody-$i.meta")"; done)"
for i in $(seq 1 $((CAP + 2))); do kill "${FORGED[i]}" 2>/dev/null; reap "${FORGED[i]}"; done
VURL=$(signed_url "$VICTIM" "$SMALL"); SIGS+=("${VURL##*sig=}")   # the link lives 10 s
fetch "$C/victim-1" 500000 "$VURL"; V1=$PID
fetch "$C/victim-2" 500000 "$VURL"; V2=$PID
reap "$V1"; reap "$V2"
expect_eq "the subject's own link then serves its $CAP downloads whole" "0 0 $SMALL_SHA $SMALL_SHA" \
	"$(cat "$C/victim-1.rc") $(cat "$C/victim-2.rc") $(sha256sum <"$C/victim-1" | cut -d' ' -f1) $(sha256sum <"$C/victim-2" | cut -d' ' -f1)"

# --- 3. the per-identity cap --------------------------------------------------------
# a subject the URL must percent-encode (space, @, |)
CAPPER=$(mint "dl capper@example.com|x" "" '["AUDITOR"]')
OTHER=$(mint dl-other "" '["AUDITOR"]')
URL=$(signed_url "$CAPPER" "$SMALL"); SIGS+=("${URL##*sig=}")
fetch "$C/cap-short" 500000 "$URL"         # ~4 s
SHORT_PID=$PID
fetch "$C/cap-long" 50000 "$URL"           # aborted below
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
# issue 20 M2: the cap is the subject's, whatever token or link it uses
OTHER2=$(mint dl-other "" '["AUDITOR"]' 7200)
check "a second token of the same subject (another token)" test "$OTHER2" != "$OTHER"
api GET "/api/ops/audit-exports/$SMALL/download" "$OTHER2" -r 0-0
expect_error "the subject's second token, download cap + 1: per subject, not per token" 429 RATE_LIMITED
OURL=$(signed_url "$OTHER2" "$SMALL"); SIGS+=("${OURL##*sig=}")
api GET "${OURL#"$STACK_URL"}" "" -r 0-0
expect_error "the subject's signed URL counts with its bearer downloads" 429 RATE_LIMITED
abort "$C/tok-1"; abort "$C/tok-2"
# once one finishes, the next one is served
check "the short download of the capped subject finishes" wait_for 15 gone "$SHORT_PID"
reap "$SHORT_PID"
expect_eq "and it was whole" "$SMALL_SHA" "$(sha256sum <"$C/cap-short" | cut -d' ' -f1)"
URL=$(signed_url "$CAPPER" "$SMALL"); SIGS+=("${URL##*sig=}")   # the link lives 10 s
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

# --- 4b. the global cap (export.max_downloads_total) ---------------------------------
sed -i 's/^limit_conn ops_download_all [0-9]*;/limit_conn ops_download_all 2;/' "$DIR/nginx/ops-download.conf"
check "nginx reloaded with a global cap of 2" nginx_reload
G1=$(mint dl-g1 "" '["AUDITOR"]'); G2=$(mint dl-g2 "" '["AUDITOR"]'); G3=$(mint dl-g3 "" '["AUDITOR"]')
fetch "$C/g-1" 100000 "$STACK_URL/api/ops/audit-exports/$SMALL/download" "Authorization: Bearer $G1"; GP1=$PID
fetch "$C/g-2" 100000 "$STACK_URL/api/ops/audit-exports/$SMALL/download" "Authorization: Bearer $G2"; GP2=$PID
wait_for 30 both_started "$C/g-1" "$C/g-2" || not_ok "two downloads of two subjects started"
api GET "/api/ops/audit-exports/$SMALL/download" "$G3" -r 0-0
expect_error "a third subject, past the global cap" 429 RATE_LIMITED
abort "$C/g-1"; reap "$GP1"
check "once one ends, the third subject is served" wait_for 5 answers 206 "$STACK_URL/api/ops/audit-exports/$SMALL/download" /dev/null \
	-r 0-0 -H "Authorization: Bearer $G3"
abort "$C/g-2"; reap "$GP2"
sed -i "s/^limit_conn ops_download_all [0-9]*;/limit_conn ops_download_all $TOTAL;/" "$DIR/nginx/ops-download.conf"
check "nginx reloaded with the configured global cap" nginx_reload

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
# the first chunk corrupt: the fetching thread's check (lib/storage_db.c) is
# seen before any header goes out, so the answer is a clean error
sql "SET session_replication_role = replica; UPDATE tb_audit_export_chunk SET data = overlay(data placing 'X'::bytea from 10) WHERE job_id = '$BAD' AND seq = 0" >/dev/null
api GET "/api/ops/audit-exports/$BAD/download" "$AUD"
expect_error "the first chunk corrupt: an error before any byte of the file" 500 INTERNAL_ERROR
expect_eq "EXPORT_CORRUPT raised for it" 3 "$(sql "SELECT count(*) FROM ops_event WHERE event_type='EXPORT_CORRUPT' AND subject_id='$BAD'")"

# --- 6. signed-URL refusals ----------------------------------------------------------
URL=$(signed_url "$AUD" "$SMALL"); SIGS+=("${URL##*sig=}")
bad="${URL%?}$( [ "${URL: -1}" = 0 ] && echo 1 || echo 0 )"
api GET "${bad#"$STACK_URL"}" ""
expect_error "a tampered signature" 401 AUTH_INVALID_TOKEN
api GET "$(sed 's/by=dl-auditor/by=%64l-auditor/' <<<"${URL#"$STACK_URL"}")" ""
expect_error "a subject spelled another way (would dodge the cap)" 401 AUTH_INVALID_TOKEN
api GET "$(sed 's/&expires=/\&BY=x\&expires=/' <<<"${URL#"$STACK_URL"}")" ""
expect_error "an extra parameter" 401 AUTH_INVALID_TOKEN
# what held in issue 20's review, kept as a test: a link's expiry. Signed
# here with the stack's secret (the format of key_rotation.sh's sign()).
sig_for() { printf '%s\n%s\n%s' "$1" "$2" "$3" | openssl dgst -sha256 -hmac "$(cat "$DIR/download.secret")" -r | cut -d' ' -f1; }
exp_ok=$(( $(date +%s) + 8 )); exp_old=$(( $(date +%s) - 60 ))
SIGS+=("$(sig_for "$SMALL" dl-auditor "$exp_ok")" "$(sig_for "$SMALL" dl-auditor "$exp_old")")
api GET "/api/ops/audit-exports/$SMALL/download?by=dl-auditor&expires=$exp_ok&sig=$(sig_for "$SMALL" dl-auditor "$exp_ok")" "" -r 0-0
expect_eq "a link signed by the test works (the signing is right)" 206 "$CODE"
api GET "/api/ops/audit-exports/$SMALL/download?by=dl-auditor&expires=$exp_old&sig=$(sig_for "$SMALL" dl-auditor "$exp_old")" ""
expect_error "a correctly signed link that expired a minute ago" 401 AUTH_INVALID_TOKEN

# --- 6b. malformed signed downloads: refused, and quiet (issue 20 L1) ----------------
# nginx checks client_max_body_size before a location's own rewrites: a
# signed link with a 70,000-byte body logged its signature in the error log.
URL=$(signed_url "$AUD" "$SMALL"); SIGS+=("${URL##*sig=}")
code=$(head -c 70000 /dev/zero | curl -s -o /dev/null -w '%{http_code}' -X GET --data-binary @- "$URL")
expect_eq "a signed link with a 70,000-byte body: 413" 413 "$code"
expect_eq "with a 1-byte body: 413" 413 "$(curl -s -o /dev/null -w '%{http_code}' -X GET -d x "$URL")"
expect_eq "with a chunked body: 413" 413 "$(curl -s -o /dev/null -w '%{http_code}' -X GET -H 'Transfer-Encoding: chunked' -d x "$URL")"
expect_eq "a bearer download with a body: 413" 413 "$(curl -s -o /dev/null -w '%{http_code}' -X GET -d x \
	-H "Authorization: Bearer $AUD" "$STACK_URL/api/ops/audit-exports/$SMALL/download")"
expect_eq "with a bad Content-Length: 400" 400 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Length: x1' "$URL")"
expect_eq "with a 20,000-byte header: 400" 400 "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)" "$URL")"
expect_eq "POST to a signed link: 405" 405 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL")"
# (section 8 greps every log for these signatures)

# --- 6c. a full spool cuts a download visibly --------------------------------------
# A small filesystem over the spool directory (root only: mount). nginx
# cannot write its temp file and ends the download: the client sees a cut
# (Content-Length not met), and the access log says "complete":"", not a
# 200 that looks whole.
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=1m,mode=0700 tmpfs "$SPOOL" 2>/dev/null; then
	chown nobody "$SPOOL"
	curl -s "$STACK_URL/metrics" >"$DIR/metrics-full.txt"
	expect_eq "/metrics: the spool's size is the small filesystem's" 1048576 \
		"$(awk '$1 == "ops_download_spool_size_bytes" { printf "%.0f", $2 }' "$DIR/metrics-full.txt")"
	fetch "$C/full" 100000 "$STACK_URL/api/ops/audit-exports/$SMALL/download" "Authorization: Bearer $AUD"
	reap "$PID"
	read -r code _ got <"$C/full.meta"
	expect_eq "the download the spool cannot hold: 200, then cut (client exit 18)" "200 18" "$code $(cat "$C/full.rc")"
	check "the client got less than the file ($got of $SMALL_BYTES bytes)" test "$got" -lt "$SMALL_BYTES"
	sleep 0.5   # nginx writes the access log as the request ends
	expect_eq "the access log marks it incomplete (\"complete\":\"\")" "" \
		"$(jq -r --arg u "/api/ops/audit-exports/$SMALL/download" \
			'select(.uri == $u and .status == 200 and .bytes < '"$SMALL_BYTES"') | .complete' "$DIR/nginx/access.log" | tail -n1)"
	check "nginx logged why (critical, the temp file write)" grep -q "crit.*$SPOOL" "$DIR/nginx/error.log"
	unmounted() { umount "$SPOOL" 2>/dev/null; }
	check "the spool filesystem is released" wait_for 10 unmounted
else
	skip "a full spool (needs root to mount a small tmpfs)"
fi

# --- 7. without spooling, the short statements alone keep a download whole -----------
# nginx told to keep no temp file: it passes the file through, and ops-fcgi
# waits for the slow client; the old single streaming query was cut at the
# 2 s statement_timeout here.
# issue 20 L3: ops-fcgi holds no transaction between two chunks, so
# idle_in_transaction_session_timeout (30 s in production, 1 s here) cannot
# cut it, and nginx's fastcgi_read_timeout (2 s here) does not run while
# nginx itself does not read. Before, the chunks were read in one
# transaction, and the server ended it mid-file while the client was slow.
sql "ALTER ROLE ops_fcgi SET idle_in_transaction_session_timeout = 1000" >/dev/null
stack_fcgi_stop "$DIR"
check "ops-fcgi restarted with a 1 s idle_in_transaction_session_timeout" stack_fcgi_start "$DIR"
sed -i 's/^fastcgi_max_temp_file_size .*;/fastcgi_max_temp_file_size 0;/' "$DIR/nginx/ops-download.conf"
sed -i 's/^fastcgi_read_timeout .*;/fastcgi_read_timeout 2s;/' "$DIR/nginx/ops-locations.conf"
check "nginx reloaded without spooling, fastcgi_read_timeout 2 s" nginx_reload
# 200 KB/s: each 256 KiB chunk waits about 1.3 s for the client
fetch "$C/unspooled" 200000 "$STACK_URL/api/ops/audit-exports/$SMALL/download" "Authorization: Bearer $AUD"
UNSPOOLED_PID=$PID
started() { [ "$(size_of "$1")" -gt 0 ]; }
check "the unspooled download started" wait_for 10 started "$C/unspooled"
expect_eq "while it runs nginx keeps no temp file (not spooled: ops-fcgi waits for the client)" "0 yes" \
	"$(nginx_temp_files) $(running "$UNSPOOLED_PID" && echo yes)"
reap "$UNSPOOLED_PID"
read -r code t _ <"$C/unspooled.meta"
expect_eq "the unspooled slow download: client exit 0, 200" "0 200" "$(cat "$C/unspooled.rc") $code"
check "it took 5 s or more (${t}s), past the 2 s statement_timeout, the 1 s idle transaction timeout and the 2 s read timeout" \
	awk -v t="$t" 'BEGIN { exit !(t >= 5) }'
expect_eq "its SHA-256 equals result.sha256" "$SMALL_SHA" "$(sha256sum <"$C/unspooled" | cut -d' ' -f1)"
expect_eq "no timeout or cut in ops-fcgi's log" 0 "$(grep -ciE 'idle-in-transaction|statement timeout|cut short' "$DIR/ops-fcgi.log")"
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
