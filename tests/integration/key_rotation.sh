#!/usr/bin/env bash
# tests/integration/key_rotation.sh: JWT keys rotate without a restart
# (lib/jwks.c, auth.jwks_url). A local HTTPS server (python3, a certificate
# from a throwaway CA) publishes the JWKS; ops-fcgi fetches it with TLS
# verified against that CA. A new key is accepted without a restart, a
# removed key stops working when the cache's max-age ends, a burst of
# unknown kids costs at most one fetch per jwks_min_refresh_seconds, and
# an unverifiable certificate or an http:// URL is refused. Runtime: ~20 s.

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$ROOT/scripts/stack-lib.sh"

need_tools python3 openssl jq curl
T_TMP=$(mktemp -d /tmp/ops-jwks.XXXXXX)
DIR=$T_TMP/stack
W=$T_TMP/www
mkdir -p "$W"
SRV_PID=''
DIRB=$T_TMP/hostb
trap '[ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null; stack_nginx_stop "$DIRB"; stack_fcgi_stop "$DIRB"; stack_down "$DIR"; rm -rf "$T_TMP"' EXIT
J="$ROOT/scripts/jwt-openssl"

# --- a CA, a server certificate for 127.0.0.1, two RSA signing keys -------------
(
	cd "$T_TMP" &&
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=ops-test-ca &&
	openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 &&
	printf 'subjectAltName=IP:127.0.0.1\n' >srv.ext &&
	openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile srv.ext &&
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa1.pem &&
	openssl pkey -in rsa1.pem -pubout -out rsa1.pub &&
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa2.pem &&
	openssl pkey -in rsa2.pem -pubout -out rsa2.pub
) >"$T_TMP/openssl.log" 2>&1 || { not_ok "make keys and certificates ($(tail -n 3 "$T_TMP/openssl.log"))"; finish; }
publish() {  # publish KID...: the JWKS served from now on (rsa1, rsa2)
	local keys=() k
	for k in "$@"; do keys+=("$("$J" jwks "$T_TMP/$k.pub" "$k" - - | jq -c '.keys[0]')"); done
	jq -cn --argjson k "[$(IFS=,; echo "${keys[*]}")]" '{keys: $k}' >"$W/jwks.json.tmp"
	mv "$W/jwks.json.tmp" "$W/jwks.json"
}
publish rsa1
printf 'max-age=6' >"$W/cache-control"

# --- the HTTPS server: serves jwks.json with the Cache-Control of the file, ---
# --- one line per GET in hits ---------------------------------------------------
SPORT=$(free_port)
cat >"$T_TMP/srv.py" <<'PY'
import http.server, ssl, sys, os, time
w, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(os.path.join(w, "hits"), "a") as f:
            f.write(self.path + "\n")
        mode = open(os.path.join(w, "mode")).read().strip() if os.path.exists(os.path.join(w, "mode")) else "ok"
        if mode == "hang":      # the identity provider hangs (L4)
            time.sleep(30)
            return
        if mode == "500":       # the identity provider fails (M3)
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = open(os.path.join(w, "jwks.json"), "rb").read()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", open(os.path.join(w, "cache-control")).read().strip())
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
s.socket = ctx.wrap_socket(s.socket, server_side=True)
s.serve_forever()
PY
python3 "$T_TMP/srv.py" "$W" "$SPORT" "$T_TMP/srv.pem" "$T_TMP/srv.key" 2>"$T_TMP/srv.err" &
SRV_PID=$!
for _ in $(seq 1 50); do
	curl -s --cacert "$T_TMP/ca.pem" -o /dev/null "https://127.0.0.1:$SPORT/ready" && break
	sleep 0.1
done
: >"$W/hits"
URL="https://127.0.0.1:$SPORT/jwks.json"
hits() { wc -l <"$W/hits" | tr -d ' '; }

MINREF=2
STACK_AUTH_EXTRA="  jwks_url: \"$URL\"
  jwks_ca_file: $T_TMP/ca.pem
  jwks_min_refresh_seconds: $MINREF" \
	stack_up "$DIR" "$(free_port)" 2>"$T_TMP/stack.err" || { not_ok "ops-fcgi starts with auth.jwks_url ($(tail -n 5 "$T_TMP/stack.err" | tr '\n' ' '))"; finish; }
T_START=$SECONDS
ok "ops-fcgi starts with auth.jwks_url (TLS verified against auth.jwks_ca_file)"
expect_eq "it fetched the JWKS once at start" 1 "$(hits)"
PID=$(cat "$DIR/ops-fcgi.pid")

rs() {  # rs KEY KID: an RS256 token signed by KEY with header kid KID
	local now; now=$(date +%s)
	"$J" rs256 "$T_TMP/$1.pem" "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"$2\"}" \
		"{\"sub\":\"ops-1\",\"roles\":[\"OPS_ADMIN\"],\"iss\":\"ops-dev\",\"aud\":\"ops-api\",\"iat\":$now,\"exp\":$((now + 600))}"
}
status_with() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" "$STACK_URL/api/ops/status"; }

expect_eq "a token signed with the published key rsa1: 200" 200 "$(status_with "$(rs rsa1 rsa1)")"
expect_eq "a token signed with the not yet published rsa2: 401" 401 "$(status_with "$(rs rsa2 rsa2)")"

# --- rotation: rsa2 published, rsa1 withdrawn; no restart ----------------------------
while [ $((SECONDS - T_START)) -le "$MINREF" ]; do sleep 0.2; done
publish rsa2
before=$(hits)
expect_eq "after rsa2 is published, a token with kid rsa2: 200" 200 "$(status_with "$(rs rsa2 rsa2)")"
T_FETCH=$SECONDS
expect_eq "that took one fetch (unknown kid)" $((before + 1)) "$(hits)"
expect_eq "ops-fcgi was not restarted" "$PID" "$(cat "$DIR/ops-fcgi.pid")"
check "and is still running" kill -0 "$PID"
expect_eq "rsa1, withdrawn from the JWKS, is refused now: 401" 401 "$(status_with "$(rs rsa1 rsa1)")"

# --- Cache-Control max-age: a known key is served from the cache until it ends -------
publish rsa1
before=$(hits)
expect_eq "rsa2 withdrawn, but the cache (max-age=6) still has it: 200" 200 "$(status_with "$(rs rsa2 rsa2)")"
expect_eq "without a fetch" "$before" "$(hits)"
# the refresher (lib/jwks.h) fetches when max-age ends, before any request asks;
# what it fetches then lasts (no periodic fetch inside the burst below)
printf 'max-age=600' >"$W/cache-control"
end=$((SECONDS + 15))
while [ "$(hits)" -le "$before" ] && [ $SECONDS -le $end ]; do sleep 0.2; done
check "once max-age has passed, the refresher fetches without a request ($((SECONDS - T_FETCH)) s)" \
	test "$(hits)" -eq $((before + 1)) -a $((SECONDS - T_FETCH)) -ge 5
expect_eq "rsa2 refused from then on" 401 "$(status_with "$(rs rsa2 rsa2)")"
expect_eq "and rsa1 accepted again" 200 "$(status_with "$(rs rsa1 rsa1)")"

# --- a burst of unknown kids: at most one fetch per jwks_min_refresh_seconds ---------
sleep $((MINREF + 1))
before=$(hits)
for i in $(seq 1 40); do rs rsa1 "nope-$i" >"$T_TMP/nope-$i"; done
t0=$(date +%s.%N)
pids=()
for i in $(seq 1 40); do
	curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $(cat "$T_TMP/nope-$i")" "$STACK_URL/api/ops/status" >>"$T_TMP/burst" &
	pids+=($!)
done
wait "${pids[@]}"
t1=$(date +%s.%N)
fetched=$(( $(hits) - before ))
allowed=$(awk -v a="$t0" -v b="$t1" -v m="$MINREF" 'BEGIN { printf "%d", 1 + int((b - a) / m) }')
expect_eq "40 tokens with unknown kids: all 401" 40 "$(grep -c '^401$' "$T_TMP/burst")"
check "they caused $fetched fetch(es) (allowed: one per ${MINREF} s, $allowed over the burst)" \
	test "$fetched" -ge 1 -a "$fetched" -le "$allowed"
log=$(cat "$DIR/ops-fcgi.log")
expect_contains "the refreshes are logged" "JWT keys refreshed (unknown kid)" "$log"

# --- a JWKS file is re-read the same way, without a restart ---------------------------
stack_fcgi_stop "$DIR"
publish rsa1
cp "$W/jwks.json" "$T_TMP/jwks-file.json"
sed -e "s|jwks_url: .*|jwks_file: $T_TMP/jwks-file.json|" -e "/jwks_ca_file:/d" "$STACK_CONFIG" >"$T_TMP/file.yaml"
cp "$STACK_CONFIG" "$T_TMP/url.yaml"; cp "$T_TMP/file.yaml" "$STACK_CONFIG"
stack_fcgi_start "$DIR" 2>>"$T_TMP/stack.err"
T_FILE=$SECONDS; PID=$(cat "$DIR/ops-fcgi.pid")
expect_eq "jwks_file: rsa1 accepted" 200 "$(status_with "$(rs rsa1 rsa1)")"
while [ $((SECONDS - T_FILE)) -le "$MINREF" ]; do sleep 0.2; done
publish rsa2; cp "$W/jwks.json" "$T_TMP/jwks-file.tmp"; mv "$T_TMP/jwks-file.tmp" "$T_TMP/jwks-file.json"
expect_eq "jwks_file replaced with rsa2: a token with kid rsa2 is accepted without a restart" 200 "$(status_with "$(rs rsa2 rsa2)")"
expect_eq "same ops-fcgi process" "$PID" "$(cat "$DIR/ops-fcgi.pid")"
cp "$T_TMP/url.yaml" "$STACK_CONFIG"

# --- the download-URL secret: the previous one works during the overlap only -------
seed_audit acme 50 step='1 minute' || setup_failed "seeding audit_log"
ACME=$(mint alice acme '["TENANT_ADMIN"]')
api POST /api/ops/audit-exports "$ACME" -H 'Content-Type: application/json' \
	-d '{"tenant_id":"acme","from":"2026-10-01T00:00:00Z","to":"2026-10-02T00:00:00Z","format":"jsonl"}'
JOB=$(jq -r '.id // empty' <<<"$BODY")
"$BIN/ops-export-runner" --config "$STACK_CONFIG" >/dev/null 2>&1
expect_eq "an export to download is DONE" DONE "$(sql "SELECT state FROM tb_audit_export_job WHERE id = '$JOB'")"
sign() {  # sign SECRET_FILE EXPIRES: the download URL path signed with that secret
	local sig
	sig=$(printf '%s\n%s\n%s' "$JOB" alice "$2" | openssl dgst -sha256 -hmac "$(cat "$1")" -r | cut -d' ' -f1)
	printf '/api/ops/audit-exports/%s/download?by=alice&expires=%s&sig=%s' "$JOB" "$2" "$sig"
}
get_code() { curl -s -o /dev/null -w '%{http_code}' "$STACK_URL$1"; }
EXP=$(( $(date +%s) + 250 ))
OLD_URL=$(sign "$DIR/download.secret" "$EXP")
expect_eq "a URL signed with the current secret works (the signing in this test is right)" 200 "$(get_code "$OLD_URL")"
stack_random_secret "$T_TMP/download.new"
UNTIL_S=$(( $(date +%s) + 6 ))
UNTIL=$(date -u -d "@$UNTIL_S" +%Y-%m-%dT%H:%M:%SZ)
stack_fcgi_stop "$DIR"
sed -i -e "s|^  download_secret_file: .*|  download_secret_file: $T_TMP/download.new\n  download_secret_previous_file: $DIR/download.secret\n  download_secret_previous_until: \"$UNTIL\"|" "$STACK_CONFIG"
stack_fcgi_start "$DIR" 2>>"$T_TMP/stack.err"
expect_eq "after the rotation, a URL signed with the previous secret still works (overlap until $UNTIL)" 200 "$(get_code "$OLD_URL")"
api GET "/api/ops/audit-exports/$JOB" "$ACME"
NEW_URL=$(jq -r '.result.download_url // empty' <<<"$BODY")
expect_match "the handed-out URL is signed with the new secret" "sig=$(sign "$T_TMP/download.new" "$(sed 's/.*expires=\([0-9]*\).*/\1/' <<<"$NEW_URL")" | sed 's/.*sig=//')\$" "$NEW_URL"
expect_eq "and it works" 200 "$(get_code "/api/ops/audit-exports/${NEW_URL#*/api/ops/audit-exports/}")"
while [ "$(date +%s)" -le "$UNTIL_S" ]; do sleep 0.2; done
expect_eq "after the overlap, the previous secret's URL is refused" 401 "$(get_code "$OLD_URL")"
expect_eq "the new secret's URL still works" 200 "$(get_code "/api/ops/audit-exports/${NEW_URL#*/api/ops/audit-exports/}")"
sed "/download_secret_previous_until:/d" "$STACK_CONFIG" >"$T_TMP/nountil.yaml"
out=$("$BIN/opsctl" --config "$T_TMP/nountil.yaml" check-config 2>&1); rc=$?
expect_eq "a previous secret without the end of its overlap is a config error" 2 "$rc"
expect_contains "that says what to set" "needs export.download_secret_previous_until" "$out"

# --- TLS is verified; only https ---------------------------------------------------
sed -e "/jwks_ca_file:/d" "$STACK_CONFIG" >"$T_TMP/noca.yaml"
out=$("$BIN/opsctl" --config "$T_TMP/noca.yaml" check-config 2>&1); rc=$?
expect_eq "a JWKS URL whose certificate does not verify (no CA): check-config fails" 2 "$rc"
expect_match "and says why" "jwks https://127.0.0.1:$SPORT/jwks.json: .*(certificate|SSL)" "$out"
sed -e "s|jwks_url: .*|jwks_url: \"http://127.0.0.1:$SPORT/jwks.json\"|" "$STACK_CONFIG" >"$T_TMP/http.yaml"
out=$("$BIN/opsctl" --config "$T_TMP/http.yaml" check-config 2>&1); rc=$?
expect_eq "an http:// JWKS URL is refused" "2 opsctl: config auth.jwks_url must be an https:// URL" "$rc $out"

# === issue 20, M3 and L4: an identity provider that is down, hangs or publishes ===
# === keys we do not use never takes the API down ===================================
restart() { stack_fcgi_stop "$DIR"; stack_fcgi_start "$DIR" 2>>"$T_TMP/stack.err"; PID=$(cat "$DIR/ops-fcgi.pid" 2>/dev/null); }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }
CACHE=$T_TMP/state/jwks-cache.json
mkdir -p "$T_TMP/state"
publish rsa1
sed -i -e "s|^  jwks_min_refresh_seconds: .*|  jwks_min_refresh_seconds: 1|" \
	-e "/^auth:/a\\  jwks_cache_path: $CACHE" "$STACK_CONFIG"
echo 500 >"$W/mode"
: >"$DIR/ops-fcgi.log"
restart
check "the JWKS URL answers 500 and there is no cache: ops-fcgi starts and keeps running" kill -0 "$PID"
api GET /healthz ""
expect_eq "/healthz: 200" 200 "$CODE"
api GET /api/ops/status "$(rs rsa1 rsa1)"
expect_error "an authenticated route without keys" 503 SERVICE_UNAVAILABLE
check "with Retry-After ($(hdr Retry-After))" test -n "$(hdr Retry-After)"
expect_contains "the message says why" "identity provider" "$(jq -r .error.message <<<"$BODY")"
api GET /api/ops/status ""
expect_error "no token at all is still the client's fault" 401 AUTH_REQUIRED
EXP=$(( $(date +%s) + 250 ))
expect_eq "a signed download works without keys" 200 "$(get_code "$(sign "$T_TMP/download.new" "$EXP")")"
expect_contains "the log says why" "cannot fetch the JWT keys at start" "$(cat "$DIR/ops-fcgi.log")"
expect_contains "/metrics says so" "ops_jwt_keys_usable 0" "$(curl -s "$STACK_URL/metrics")"
rm -f "$W/mode"
code=''; end=$((SECONDS + 20))
while [ $SECONDS -le $end ]; do
	code=$(status_with "$(rs rsa1 rsa1)"); [ "$code" = 200 ] && break; sleep 0.3
done
expect_eq "the URL recovers: the token is accepted without a restart" 200 "$code"
expect_eq "same ops-fcgi process" "$PID" "$(cat "$DIR/ops-fcgi.pid")"
expect_eq "the last good JWKS is cached, mode 0600" 600 "$(stat -c %a "$CACHE" 2>/dev/null)"
expect_eq "the cache holds the published key" rsa1 "$(jq -r '.keys[0].kid' "$CACHE" 2>/dev/null)"
expect_contains "/metrics: usable again" "ops_jwt_keys_usable 1" "$(curl -s "$STACK_URL/metrics")"

# --- a JWKS with keys of kinds we do not use next to a good one ----------------------
publish rsa1 rsa2
jq -c '.keys += [
	{kty:"OKP", crv:"Ed25519", kid:"ed1", x:"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
	{kty:"EC", crv:"P-384", kid:"p384", x:"AAAA", y:"AAAA"},
	{kty:"RSA", kid:"ps1", alg:"PS256", n:"AQAB", e:"AQAB"}]' "$W/jwks.json" >"$W/jwks.json.tmp"
mv "$W/jwks.json.tmp" "$W/jwks.json"
code=''; end=$((SECONDS + 15))
while [ $SECONDS -le $end ]; do
	code=$(status_with "$(rs rsa2 rsa2)"); [ "$code" = 200 ] && break; sleep 0.3
done
expect_eq "Ed25519, P-384 and PS256 keys next to RS256 ones: the newly published rsa2 is accepted" 200 "$code"
expect_eq "rsa1 too" 200 "$(status_with "$(rs rsa1 rsa1)")"
expect_contains "the skipped keys are logged" 'key(s) of a kind this service does not use skipped' "$(cat "$DIR/ops-fcgi.log")"

# --- a hung URL: no request waits for it (L4) ----------------------------------------
echo hang >"$W/mode"
T_HANG=$(date +%s.%N)
while [ "$(awk -v a="$T_HANG" -v b="$(date +%s.%N)" 'BEGIN { print (b - a > 1.2) }')" = 0 ]; do sleep 0.1; done
# timed by curl itself (time_total), tokens minted beforehand
timed() { curl -s -o /dev/null -w '%{http_code} %{time_total}' -H "Authorization: Bearer $1" "$STACK_URL/api/ops/status"; }
TOK_H1=$(rs rsa1 hung-1); TOK_R1=$(rs rsa1 rsa1); TOK_H2=$(rs rsa1 hung-2)
read -r code t_unknown <<<"$(timed "$TOK_H1")"
expect_eq "the URL hangs: a token with an unknown kid is refused" 401 "$code"
check "within ${t_unknown} s, not the fetch's 5 s (the asking request waits at most 1 s)" \
	awk -v t="$t_unknown" 'BEGIN { exit !(t < 3) }'
read -r code t_known <<<"$(timed "$TOK_R1")"
expect_eq "while the fetch hangs, a known key is accepted" 200 "$code"
check "without waiting for it (${t_known} s)" awk -v t="$t_known" 'BEGIN { exit !(t < 2) }'
read -r code t_unknown <<<"$(timed "$TOK_H2")"
check "another unknown kid meanwhile: $code in ${t_unknown} s, not the fetch's 5 s" \
	awk -v t="$t_unknown" -v c="$code" 'BEGIN { exit !(c == 401 && t < 3) }'
api GET /healthz ""
expect_eq "/healthz: 200" 200 "$CODE"

# --- a restart while the URL is down: the cache serves -------------------------------
echo 500 >"$W/mode"
restart
expect_eq "restarted with the URL answering 500: rsa2 accepted from the cache" 200 "$(status_with "$(rs rsa2 rsa2)")"
expect_contains "the log says so" "JWT keys from the cache $CACHE" "$(cat "$DIR/ops-fcgi.log")"

# --- stale keys are trusted for auth.jwks_max_stale_seconds, not for ever ------------
stack_fcgi_stop "$DIR"
touch -d '-2 hours' "$CACHE"
sed -i "/^auth:/a\\  jwks_max_stale_seconds: 3600" "$STACK_CONFIG"
restart
api GET /api/ops/status "$(rs rsa1 rsa1)"
expect_error "a cache older than jwks_max_stale_seconds (2 h > 1 h) is not used" 503 SERVICE_UNAVAILABLE
expect_contains "the log says why" "more than auth.jwks_max_stale_seconds (3600): not used" "$(cat "$DIR/ops-fcgi.log")"
stack_fcgi_stop "$DIR"
touch "$CACHE"
sed -i "s|^  jwks_max_stale_seconds: .*|  jwks_max_stale_seconds: 5|" "$STACK_CONFIG"
restart
T_STALE=$SECONDS
expect_eq "a fresh cache: rsa1 accepted" 200 "$(status_with "$(rs rsa1 rsa1)")"
code=''; end=$((SECONDS + 20))
while [ $SECONDS -le $end ]; do
	code=$(status_with "$(rs rsa1 rsa1)"); [ "$code" = 503 ] && break; sleep 0.3
done
check "the URL stays down: once the keys are older than 5 s, 503 (after $((SECONDS - T_STALE)) s)" \
	test "$code" = 503 -a $((SECONDS - T_STALE)) -ge 4
expect_contains "logged as an error" "more than auth.jwks_max_stale_seconds (5), and cannot be refreshed" "$(cat "$DIR/ops-fcgi.log")"
rm -f "$W/mode"
code=''; end=$((SECONDS + 20))
while [ $SECONDS -le $end ]; do
	code=$(status_with "$(rs rsa1 rsa1)"); [ "$code" = 200 ] && break; sleep 0.3
done
expect_eq "the URL recovers: accepted again" 200 "$code"
sed -i "/^  jwks_max_stale_seconds: /d" "$STACK_CONFIG"
restart

# === issue 20, M6: the download secret rotates host by host ========================
# Two hosts (two ops-fcgi behind two nginx, one database). The runbook's order
# (runbooks/key-rotation.md): (a) the new secret N goes into
# export.download_secret_verify on every host, (b) signing switches to N host by
# host, the old secret O moving to the verify list, (c) O leaves the list one URL
# TTL after the last host switched. Mid-(b): host A still signs with O, host B
# already with N; a link from either works on both.
O=$T_TMP/download.new
N=$T_TMP/download.n2
stack_random_secret "$N"
sed -i -e "/^  download_secret_previous/d" "$STACK_CONFIG"
sed -i -e "s|^  download_secret_file: .*|  download_secret_file: $O\n  download_secret_verify_file: $N|" "$STACK_CONFIG"
restart
mkdir -p "$DIRB"
PORTB=$(free_port)
sed -e "s|^  socket_path: .*|  socket_path: $DIRB/run/ops-fcgi.sock|" \
	-e "s|^  public_base_url: .*|  public_base_url: \"http://127.0.0.1:$PORTB\"|" \
	-e "s|^  jwks_cache_path: .*|  jwks_cache_path: $DIRB/jwks-cache.json|" \
	-e "s|^  download_secret_file: .*|  download_secret_file: $N|" \
	-e "s|^  download_secret_verify_file: .*|  download_secret_verify_file: $O|" \
	"$STACK_CONFIG" >"$DIRB/ops.yaml"
{ stack_fcgi_start "$DIRB" && stack_nginx_start "$DIRB" "$PORTB"; } 2>>"$T_TMP/stack.err" ||
	not_ok "host B starts ($(tail -n 3 "$T_TMP/stack.err" | tr '\n' ' '))"
URL_B="http://127.0.0.1:$PORTB"
path_of() { printf '/api/ops/audit-exports/%s' "${1#*/api/ops/audit-exports/}"; }
code_on() { curl -s -o /dev/null -w '%{http_code}' "$1$2"; }
api GET "/api/ops/audit-exports/$JOB" "$ACME"
LINK_A=$(path_of "$(jq -r '.result.download_url // empty' <<<"$BODY")")
BODY=$(curl -s -H "Authorization: Bearer $ACME" "$URL_B/api/ops/audit-exports/$JOB")
LINK_B=$(path_of "$(jq -r '.result.download_url // empty' <<<"$BODY")")
expect_eq "host A (not rotated yet) signs with the old secret" "$(sign "$O" "$(sed 's/.*expires=\([0-9]*\).*/\1/' <<<"$LINK_A")")" "$LINK_A"
expect_eq "host B (rotated) signs with the new one" "$(sign "$N" "$(sed 's/.*expires=\([0-9]*\).*/\1/' <<<"$LINK_B")")" "$LINK_B"
expect_eq "host A's link on host A" 200 "$(code_on "$STACK_URL" "$LINK_A")"
expect_eq "host A's link on host B" 200 "$(code_on "$URL_B" "$LINK_A")"
expect_eq "host B's link on host A (N is in A's verify list)" 200 "$(code_on "$STACK_URL" "$LINK_B")"
expect_eq "host B's link on host B" 200 "$(code_on "$URL_B" "$LINK_B")"
# what the finding saw: a host without N in its verify list refuses B's links
sed -i "/^  download_secret_verify_file: /d" "$STACK_CONFIG"
restart
expect_eq "without the verify list (the order skipped), host A refuses host B's link" 401 "$(code_on "$STACK_URL" "$LINK_B")"
out=$(printf '%s\n' "short" >"$T_TMP/short.secret"; sed "s|^  download_secret_file: .*|  download_secret_file: $O\n  download_secret_verify_file: $T_TMP/short.secret|" "$STACK_CONFIG" >"$T_TMP/short.yaml"; "$BIN/opsctl" --config "$T_TMP/short.yaml" check-config 2>&1); rc=$?
expect_eq "a verify-only secret shorter than 32 bytes is a config error" 2 "$rc"
expect_contains "that says which line" "download_secret_verify: line 1 is shorter than 32 bytes" "$out"
sed "s|^  download_secret_file: .*|  download_secret_file: $O\n  download_secret_previous_file: $N\n  download_secret_previous_until: \"2099-01-01T00:00:00Z\"|" "$STACK_CONFIG" >"$T_TMP/2099.yaml"
out=$("$BIN/opsctl" --config "$T_TMP/2099.yaml" check-config 2>&1); rc=$?
expect_eq "download_secret_previous_until in 2099 is a config error" 2 "$rc"
expect_contains "that says the bound" "is more than download_url_ttl_seconds + 3600 s from now" "$out"
UNTIL=$(date -u -d "@$(( $(date +%s) + 300 ))" +%Y-%m-%dT%H:%M:%SZ)
sed "s|^  download_secret_file: .*|  download_secret_file: $O\n  download_secret_previous_file: $N\n  download_secret_previous_until: \"$UNTIL\"|" "$STACK_CONFIG" >"$T_TMP/ttl.yaml"
out=$("$BIN/opsctl" --config "$T_TMP/ttl.yaml" check-config 2>&1); rc=$?
expect_eq "an overlap of one URL TTL is fine" "0" "$rc"

finish
