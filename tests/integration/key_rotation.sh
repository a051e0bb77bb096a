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
trap '[ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null; stack_down "$DIR"; rm -rf "$T_TMP"' EXIT
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
import http.server, ssl, sys, os
w, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(os.path.join(w, "hits"), "a") as f:
            f.write(self.path + "\n")
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
while [ $((SECONDS - T_FETCH)) -le 7 ]; do sleep 0.2; done
expect_eq "once max-age has passed, the next request refreshes: rsa2 refused" 401 "$(status_with "$(rs rsa2 rsa2)")"
expect_eq "with one fetch" $((before + 1)) "$(hits)"
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

finish
