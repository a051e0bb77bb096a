#!/usr/bin/env bash
# Foundation: the real stack (PostgreSQL, ops-fcgi, nginx), driven with curl.
# JWTs come from the openssl command line (scripts/jwt-openssl), never from
# the project's own signer.
. "$(dirname "$0")/../lib.sh"

test_dir foundation

# --- keys and JWKS made with openssl --------------------------------------
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$DIR/rsa.pem" 2>/dev/null
openssl pkey -in "$DIR/rsa.pem" -pubout -out "$DIR/rsa.pub" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$DIR/ec.pem" 2>/dev/null
openssl pkey -in "$DIR/ec.pem" -pubout -out "$DIR/ec.pub" 2>/dev/null
mkdir -p "$DIR"
"$ROOT/scripts/jwt-openssl" jwks "$DIR/rsa.pub" rsa-1 "$DIR/ec.pub" ec-1 >"$DIR/jwks.json"
STACK_AUTH_EXTRA="  jwks_file: $DIR/jwks.json" test_stack_up foundation "with a JWKS file"

NOW=$(date +%s)
claims() {  # claims [jq-args...]: a valid payload, edited by jq
	jq -cn --arg iss ops-dev --arg aud ops-api --argjson now "$NOW" \
		'{sub:"alice", tenant_id:"acme", roles:["SUPER_ADMIN"], iss:$iss, aud:$aud, iat:$now, exp:($now+600)}' | jq -c "${1:-.}"
}
HS_HDR='{"alg":"HS256","typ":"JWT"}'
hs() { "$ROOT/scripts/jwt-openssl" hs256 "$STACK_SECRET_FILE" "${2:-$HS_HDR}" "$1"; }
rs() { "$ROOT/scripts/jwt-openssl" rs256 "$DIR/rsa.pem" '{"alg":"RS256","kid":"rsa-1"}' "$1"; }
es() { "$ROOT/scripts/jwt-openssl" es256 "$DIR/ec.pem" '{"alg":"ES256","kid":"ec-1"}' "$1"; }

req() { api "$1" "$2" "" "${@:3}"; }
assert_error() { expect_error "$@"; }

# --- health -----------------------------------------------------------------
req GET /healthz
expect_eq "healthz answers 200" 200 "$CODE"
expect_match "healthz carries X-Request-Id" '^[0-9a-f]{32}$' "$(hdr X-Request-Id)"
expect_eq "security header Referrer-Policy" "no-referrer" "$(hdr Referrer-Policy)"
req GET /readyz
expect_eq "readyz answers 200 with the database up" 200 "$CODE"

# --- routing ------------------------------------------------------------------
req GET /api/ops/nothing-here
assert_error "unknown path" 404 NOT_FOUND
req POST /healthz
assert_error "wrong method" 405 METHOD_NOT_ALLOWED
expect_eq "405 carries Allow" "GET" "$(hdr Allow)"

# --- authentication -------------------------------------------------------------
req GET /api/ops/status
assert_error "no token" 401 AUTH_REQUIRED
expect_match "401 carries WWW-Authenticate: Bearer" '^Bearer' "$(hdr WWW-Authenticate)"

for alg in hs rs es; do
	tok=$($alg "$(claims)")
	req GET /api/ops/status -H "Authorization: Bearer $tok"
	expect_eq "valid ${alg^^}256 token from openssl is accepted" 200 "$CODE"
done
expect_eq "status reports the database" true "$(jq -r '.database.ok' <<<"$BODY")"

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
good=$(hs "$(claims)")
IFS=. read -r gh gp gs <<<"$good"
none_tok="$(printf '{"alg":"none","typ":"JWT"}' | b64url).$(claims | tr -d '\n' | b64url)."
tampered_payload="$gh.$(claims '.roles=["SUPER_ADMIN","OPS_ADMIN"]' | tr -d '\n' | b64url).$gs"
tampered_sig="$gh.$gp.${gs:0:10}$( [ "${gs:10:1}" = A ] && echo B || echo A )${gs:11}"
# the RSA public key used as an HMAC secret: the classic confusion attack
openssl pkey -pubin -in "$DIR/rsa.pub" -outform PEM >"$DIR/rsa-pub-as-secret"
confused=$("$ROOT/scripts/jwt-openssl" hs256 "$DIR/rsa-pub-as-secret" '{"alg":"HS256","kid":"rsa-1"}' "$(claims)")
big=$(hs "$(claims ".pad=\"$(head -c 9000 /dev/zero | tr '\0' x)\"")")

declare -A neg=(
	["alg none"]="$none_tok|AUTH_INVALID_TOKEN"
	["algorithm/key mismatch (HS256 with the RSA key's kid)"]="$confused|AUTH_INVALID_TOKEN"
	["tampered payload"]="$tampered_payload|AUTH_INVALID_TOKEN"
	["tampered signature"]="$tampered_sig|AUTH_INVALID_TOKEN"
	["expired"]="$(hs "$(claims ".exp=$((NOW - 3600))")")|AUTH_TOKEN_EXPIRED"
	["nbf in the future"]="$(hs "$(claims ".nbf=$((NOW + 3600))")")|AUTH_INVALID_TOKEN"
	["wrong iss"]="$(hs "$(claims '.iss="evil"')")|AUTH_INVALID_TOKEN"
	["wrong aud"]="$(hs "$(claims '.aud="other-api"')")|AUTH_INVALID_TOKEN"
	["unknown kid"]="$("$ROOT/scripts/jwt-openssl" rs256 "$DIR/rsa.pem" '{"alg":"RS256","kid":"nope"}' "$(claims)")|AUTH_INVALID_TOKEN"
	["oversized token"]="$big|AUTH_INVALID_TOKEN"
	["non-base64url characters"]="${gh}+.$gp.$gs|AUTH_INVALID_TOKEN"
	["two segments"]="$gh.$gp|AUTH_INVALID_TOKEN"
	["four segments"]="$gh.$gp.$gs.$gs|AUTH_INVALID_TOKEN"
)
for what in "${!neg[@]}"; do
	tok=${neg[$what]%|*}; code=${neg[$what]##*|}
	req GET /api/ops/status -H "Authorization: Bearer $tok"
	assert_error "token refused: $what" 401 "$code"
	expect_match "token refused ($what) has WWW-Authenticate" '^Bearer' "$(hdr WWW-Authenticate)"
done

# --- roles --------------------------------------------------------------------
for role in TENANT_ADMIN AUDITOR WIZARD; do
	req GET /api/ops/status -H "Authorization: Bearer $(hs "$(claims ".roles=[\"$role\"]")")"
	assert_error "ops status refused to $role" 403 FORBIDDEN
done
req GET /api/ops/status -H "Authorization: Bearer $(hs "$(claims '.roles=["OPS_ADMIN"]')")"
expect_eq "ops status allowed to OPS_ADMIN" 200 "$CODE"

# --- nginx's own errors ---------------------------------------------------------
head -c 70000 /dev/zero | tr '\0' a >"$DIR/big.json"
req POST /api/ops/status -H 'Content-Type: application/json' --data-binary @"$DIR/big.json"
assert_error "nginx 413 on a large body" 413 PAYLOAD_TOO_LARGE

req GET /metrics
expect_eq "metrics from loopback" 200 "$CODE"
expect_match "metrics in Prometheus text format" 'text/plain; version=0.0.4' "$(hdr Content-Type)"
CODE=$(curl -s -o "$DIR/body" -D "$DIR/hdrs" -w '%{http_code}' --interface 127.0.0.2 "$STACK_URL/metrics")
BODY=$(cat "$DIR/body"); HDRS=$(tr -d '\r' <"$DIR/hdrs")
assert_error "metrics refused from a non-loopback-1 address" 403 FORBIDDEN

# --- ops-fcgi down: nginx answers 502 in the standard format --------------------
stack_fcgi_stop "$DIR"
req GET /api/ops/status
assert_error "ops-fcgi stopped: nginx 502" 502 SERVICE_UNAVAILABLE
stack_fcgi_start "$DIR"

# --- PostgreSQL down and back: no restart of ops-fcgi ---------------------------
fcgi_pid=$(cat "$DIR/ops-fcgi.pid")
"$ROOT/scripts/pgtemp" stop "$DIR/pg" >/dev/null
t0=$(date +%s%N)
req GET /readyz
t1=$(date +%s%N)
assert_error "readyz with PostgreSQL stopped" 503 DB_UNAVAILABLE
ms=$(( (t1 - t0) / 1000000 ))
# Behind PgBouncer (STACK_POOLER=pgbouncer, run so by multihost.sh) the
# responder's connection to the pooler stays up and the query waits in the
# pooler's queue until its query_wait_timeout (2 s, scripts/stack-lib.sh).
bound=1000; [ "${STACK_POOLER:-}" = pgbouncer ] && bound=3000
check "readyz answered 503 within $bound ms (${ms} ms)" test "$ms" -lt "$bound"
for _ in 1 2 3 4 5 6 7 8; do req GET /readyz; done
expect_eq "repeated requests while the database is down still answer 503" 503 "$CODE"
"$ROOT/scripts/pgtemp" start "$DIR/pg" >/dev/null
req GET /readyz
# PgBouncer fails clients fast until its next server login (server_login_retry, 1 s)
if [ "${STACK_POOLER:-}" = pgbouncer ]; then
	deadline=$((SECONDS + 3))
	while [ "$CODE" != 200 ] && [ $SECONDS -lt $deadline ]; do sleep 0.2; req GET /readyz; done
fi
expect_eq "readyz back to 200 after PostgreSQL restarts" 200 "$CODE"
check "ops-fcgi was not restarted" kill -0 "$fcgi_pid"
expect_eq "ops-fcgi is the same process" "$fcgi_pid" "$(cat "$DIR/ops-fcgi.pid")"

# --- SIGTERM: exits 0 ------------------------------------------------------------
kill -TERM "$fcgi_pid"
rc=0; for _ in $(seq 1 60); do kill -0 "$fcgi_pid" 2>/dev/null || break; sleep 0.05; done
wait "$fcgi_pid" 2>/dev/null; rc=$?
expect_eq "ops-fcgi exits 0 on SIGTERM" 0 "$rc"
rm -f "$DIR/ops-fcgi.pid"
stack_fcgi_start "$DIR"

# --- a worker thread that cannot start: the cause is said, the started ones stop ---
# 64 MiB thread stacks under a 1.5 GiB address-space limit: a few of the 256
# workers start, then pthread_create fails with EAGAIN.
sed -e 's|socket_path: .*|socket_path: '"$DIR"'/run/threads.sock|' -e 's|threads: .*|threads: 256|' \
	"$STACK_CONFIG" >"$DIR/threads.yaml"
out=$( (ulimit -s 65536; ulimit -v 1572864; timeout 30 "$BIN/ops-fcgi" --config "$DIR/threads.yaml") 2>&1)
rc=$?
expect_eq "ops-fcgi exits 1 when a worker thread cannot start (not killed by the timeout)" 1 "$rc"
expect_match "it says which worker, why (the errno text) and what to do" \
	"cannot start worker thread [0-9]+ of 256: Resource temporarily unavailable; stopping the [0-9]+ started and exiting: lower fcgi.threads" "$out"
expect_contains "it stops the started workers before exiting" "stopped: not every worker started" "$out"
check "and removes its socket" test ! -e "$DIR/run/threads.sock"

# --- inherited sockets: spawn-fcgi (fd 0) and systemd socket activation ----------
grep -v 'socket_path:' "$STACK_CONFIG" >"$DIR/inherit.yaml"
stack_fcgi_stop "$DIR"
spawn-fcgi -s "$DIR/run/ops-fcgi.sock" -M 0666 -P "$DIR/spawn.pid" -- \
	"$BIN/ops-fcgi" --config "$DIR/inherit.yaml" >/dev/null 2>>"$DIR/ops-fcgi.log"
# until it answers (deadline 10 s), not a fixed pause
for _ in $(seq 1 200); do req GET /readyz; [ "$CODE" = 200 ] && break; sleep 0.05; done
expect_eq "ops-fcgi serves on the socket spawn-fcgi passes as fd 0" 200 "$CODE"
kill -TERM "$(cat "$DIR/spawn.pid")" 2>/dev/null
for _ in $(seq 1 50); do kill -0 "$(cat "$DIR/spawn.pid")" 2>/dev/null || break; sleep 0.1; done
rm -f "$DIR/run/ops-fcgi.sock"
if command -v systemd-socket-activate >/dev/null; then
	systemd-socket-activate -l "$DIR/run/ops-fcgi.sock" \
		"$BIN/ops-fcgi" --config "$DIR/inherit.yaml" 2>>"$DIR/ops-fcgi.log" &
	sa=$!
	for _ in $(seq 1 50); do [ -S "$DIR/run/ops-fcgi.sock" ] && break; sleep 0.05; done
	chmod 666 "$DIR/run/ops-fcgi.sock"
	req GET /readyz
	expect_eq "ops-fcgi serves on a systemd-activated socket (LISTEN_FDS)" 200 "$CODE"
	kill -TERM "$sa"; wait "$sa" 2>/dev/null
	rm -f "$DIR/run/ops-fcgi.sock"
else
	skip "systemd socket activation (systemd-socket-activate is not installed)"
fi
stack_fcgi_start "$DIR"

# --- opsctl migrate ----------------------------------------------------------------
out=$("$BIN/opsctl" --config "$STACK_CONFIG" migrate 2>&1)
expect_contains "migrate twice applies nothing the second time" "0 applied" "$out"
cp -r "$ROOT/sql/migrations" "$DIR/mig"
first=$(ls "$DIR/mig" | head -n1)
echo "-- edited" >>"$DIR/mig/$first"
out=$("$BIN/opsctl" --config "$STACK_CONFIG" migrate --dir "$DIR/mig" 2>&1); rc=$?
expect_eq "an edited applied migration is refused" 1 "$rc"
expect_contains "the refusal names the migration" "$first was edited" "$out"

# --- broken configs: every binary exits 2 with file:line ------------------------------
printf 'database:\n  url: "postgresql:///x"\nexport:\n  ttl_hours: 0\n' >"$DIR/range.yaml"
printf 'database:\n  url: "postgresql:///x"\nfcgi:\n  threads: many\n' >"$DIR/type.yaml"
printf 'database:\n  url: "postgresql:///x"\nexport:\n  colour: blue\n' >"$DIR/unknown.yaml"
for b in "$BIN"/*; do
	name=$(basename "$b")
	case "$name" in opsctl) args=(check-config) ;; *) args=() ;; esac
	for kind in range type unknown; do
		out=$("$b" --config "$DIR/$kind.yaml" "${args[@]}" 2>&1 </dev/null); rc=$?
		expect_eq "$name exits 2 on a $kind error in the config" 2 "$rc"
		expect_match "$name names file:line for the $kind error" "$kind\\.yaml:[0-9]+: " "$out"
	done
	"$b" --help >/dev/null 2>&1; expect_eq "$name --help exits 0" 0 "$?"
	expect_match "$name --version" "^$name " "$("$b" --version 2>&1)"
done
out=$("$BIN/opsctl" --config "$DIR/range.yaml" check-config 2>&1)
expect_contains "the range error says what was expected" "export.ttl_hours must be between 1 and 720, got 0" "$out"

finish
