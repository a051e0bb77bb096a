#!/usr/bin/env bash
# tests/integration/notion_preflight.sh: bin/ops-notion-preflight against a
# fake Notion API: nginx over TLS on 127.0.0.1 with a CA made for the test,
# answering like api.notion.com does (error objects, x-notion-request-id,
# users/me bot object, page and database objects). The behaviour is chosen
# by the token (nginx map on Authorization) and by the target id (path).
#
# Needs: nginx (with ssl), openssl, perl, jq, curl. Runs in about 20 s.
# PREFLIGHT=path overrides the binary (for example an ASan build).

. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

PREFLIGHT=${PREFLIGHT:-$BIN/ops-notion-preflight}
RUNBOOK="$ROOT/runbooks/notion-ci-token.md"

need_tools nginx openssl perl jq "$PREFLIGHT"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/notion-preflight.XXXXXX")
NGINX_PID=
HANG_PID=
cleanup() {
	[ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
	[ -n "$HANG_PID" ] && kill "$HANG_PID" 2>/dev/null && wait "$HANG_PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

# Distinctive tokens: "TESTTOKEN" must never show up in any output.
TOK_VALID=secret_TESTTOKENvalid7c1e0b9a8f6d4c2e0b9a8f6d4c2e0b9a8f6d4c2e0b
TOK_INVALID=secret_TESTTOKENrevoked3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1
TOK_FORBIDDEN=secret_TESTTOKENnocap8e6c4a2f0d8b6e4c2a0f8d6b4e2c0a8f6d4b2e0
TOK_RATE=secret_TESTTOKENratelimited1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a
TOK_UPSTREAM=secret_TESTTOKENupstream9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a
TOK_MAINT=secret_TESTTOKENmaintenance0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3
TOK_PERSON=secret_TESTTOKENperson5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6

PAGE_OK=0123456789abcdef0123456789abcdef
PAGE_OK_D=01234567-89ab-cdef-0123-456789abcdef
DB_OK_D=fedcba98-7654-3210-fedc-ba9876543210
UNSHARED=aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee

# --- certificates: the test CA, a server cert it signs, a rogue CA's cert ---
mkca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout "$TMP/$1.key" -out "$TMP/$1.crt" -days 2 \
	    -subj "/CN=ops notion preflight test $1" \
	    -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>>"$TMP/openssl.log"
}
mkserver() { # CA NAME
	printf '%s\n' "basicConstraints=CA:FALSE" \
	    "keyUsage=critical,digitalSignature" \
	    "extendedKeyUsage=serverAuth" \
	    "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$TMP/$2.ext"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout "$TMP/$2.key" -out "$TMP/$2.csr" \
	    -subj "/CN=localhost" 2>>"$TMP/openssl.log" &&
	openssl x509 -req -in "$TMP/$2.csr" -CA "$TMP/$1.crt" \
	    -CAkey "$TMP/$1.key" -set_serial "0x$(openssl rand -hex 8)" \
	    -days 2 -extfile "$TMP/$2.ext" -out "$TMP/$2.crt" 2>>"$TMP/openssl.log"
}
if ! { mkca ca && mkserver ca server && mkca rogueca && mkserver rogueca rogue; }; then
	not_ok "make the test certificates ($(tail -n 3 "$TMP/openssl.log"))"
	finish
fi

# --- ports ---
PORTS=()
for _ in $(seq 1 20); do
	[ "${#PORTS[@]}" -eq 5 ] && break
	p=$(free_port) || break
	[[ " ${PORTS[*]:-} " == *" $p "* ]] || PORTS+=("$p")
done
if [ "${#PORTS[@]}" -ne 5 ]; then
	not_ok "find 5 free ports on 127.0.0.1"
	finish
fi
PORT_TLS=${PORTS[0]} PORT_ROGUE=${PORTS[1]} PORT_HTTP=${PORTS[2]}
PORT_HANG=${PORTS[3]} PORT_CLOSED=${PORTS[4]}

# --- the fake Notion API ---
error_body() { # STATUS CODE MESSAGE
	printf "'{\"object\":\"error\",\"status\":%s,\"code\":\"%s\",\"message\":\"%s\",\"request_id\":\"\$request_id\"}'" "$1" "$2" "$3"
}
E401=$(error_body 401 unauthorized "API token is invalid.")
E403=$(error_body 403 restricted_resource "Insufficient permissions for this endpoint.")
E404=$(error_body 404 object_not_found "Could not find \$kind with ID: \$oid. Make sure the relevant pages and databases are shared with your integration.")
E429=$(error_body 429 rate_limited "You have been rate limited. Please try again in a few minutes.")
E500=$(error_body 500 internal_server_error "Unexpected error occurred.")
EURL=$(error_body 400 invalid_request_url "Invalid request URL.")

cat >"$TMP/notion-api.conf" <<EOF
add_header x-notion-request-id \$request_id always;
add_header Retry-After \$retry_after always;

location = /v1/users/me {
	if (\$mode = invalid)     { return 401 $E401; }
	if (\$mode = ratelimited) { return 429 $E429; }
	if (\$mode = upstream)    { return 500 $E500; }
	if (\$mode = maintenance) { rewrite ^ /maintenance last; }
	if (\$mode = person) {
		return 200 '{"object":"user","id":"6d3c0a3e-7b9b-4a57-9d0e-2f3b2b1f6a10","name":"Ann Operator","avatar_url":null,"type":"person","person":{"email":"ann@example.com"},"request_id":"\$request_id"}';
	}
	return 200 '{"object":"user","id":"9a1f0c52-4d2e-4f6b-8c1a-3e5d7f9b1c2d","name":"Spec Sync","avatar_url":null,"type":"bot","bot":{"owner":{"type":"workspace","workspace":true},"workspace_name":"Acme"},"request_id":"\$request_id"}';
}
location ~ ^/v1/(?<kind>page|database)s/(?<oid>[0-9a-f-]+)\$ {
	if (\$mode = invalid)   { return 401 $E401; }
	if (\$mode = forbidden) { return 403 $E403; }
	if (\$oid = $UNSHARED)  { return 404 $E404; }
	return 200 '{"object":"\$kind","id":"\$oid","created_time":"2026-01-01T00:00:00.000Z","last_edited_time":"2026-01-02T00:00:00.000Z","archived":false,"in_trash":false,"properties":{},"url":"https://www.notion.so/\$oid","request_id":"\$request_id"}';
}
location = /maintenance {
	internal;
	default_type text/html;
	return 200 '<!DOCTYPE html><html><head><title>Notion is down for maintenance</title></head><body><h1>We will be right back</h1></body></html>';
}
location / { return 400 $EURL; }
EOF

USER_LINE=
[ "$(id -u)" -eq 0 ] && USER_LINE="user root;"
cat >"$TMP/nginx.conf" <<EOF
$USER_LINE
worker_processes 1;
pid $TMP/nginx.pid;
error_log $TMP/error.log warn;
events { worker_connections 64; }
http {
	client_body_temp_path $TMP/client_body;
	proxy_temp_path $TMP/proxy;
	fastcgi_temp_path $TMP/fastcgi;
	uwsgi_temp_path $TMP/uwsgi;
	scgi_temp_path $TMP/scgi;
	server_tokens off;
	map_hash_bucket_size 128;
	default_type application/json;
	# the token selects the behaviour; the log records the mode, never it
	map \$http_authorization \$mode {
		default				invalid;
		"Bearer $TOK_VALID"		valid;
		"Bearer $TOK_FORBIDDEN"		forbidden;
		"Bearer $TOK_RATE"		ratelimited;
		"Bearer $TOK_UPSTREAM"		upstream;
		"Bearer $TOK_MAINT"		maintenance;
		"Bearer $TOK_PERSON"		person;
	}
	map \$status \$retry_after {
		429	1;
		default	"";
	}
	log_format fake '\$mode \$request_method \$uri \$status "\$http_notion_version" "\$http_user_agent"';
	access_log $TMP/access.log fake;

	server {
		listen 127.0.0.1:$PORT_TLS ssl;
		listen 127.0.0.1:$PORT_HTTP;
		ssl_certificate $TMP/server.crt;
		ssl_certificate_key $TMP/server.key;
		include $TMP/notion-api.conf;
	}
	server {
		listen 127.0.0.1:$PORT_ROGUE ssl;
		ssl_certificate $TMP/rogue.crt;
		ssl_certificate_key $TMP/rogue.key;
		include $TMP/notion-api.conf;
	}
}
EOF

NGINX_E=()
nginx -h 2>&1 | grep -q -- '-e filename' && NGINX_E=(-e "$TMP/error.log")
nginx -p "$TMP" -c "$TMP/nginx.conf" "${NGINX_E[@]}" -g 'daemon off;' \
    >"$TMP/nginx.out" 2>&1 &
NGINX_PID=$!

# A listener that accepts and never answers (perl ships with Debian).
perl -MIO::Socket::INET -e '
	my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1",
	    LocalPort => $ARGV[0], Listen => 16, ReuseAddr => 1)
	    or die "listen: $!\n";
	my @held;
	while (my $c = $s->accept) { push @held, $c; }' "$PORT_HANG" \
    >"$TMP/hang.out" 2>&1 &
HANG_PID=$!

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 1 50); do
	port_open "$PORT_TLS" && port_open "$PORT_ROGUE" && port_open "$PORT_HANG" && break
	sleep 0.1
done
if ! port_open "$PORT_TLS" || ! port_open "$PORT_HANG"; then
	setup_failed "start the fake Notion API ($(cat "$TMP/nginx.out" "$TMP/error.log" 2>/dev/null | tail -n 5))"
fi
setup_done "fake Notion API up on 127.0.0.1:$PORT_TLS (TLS, test CA)"

# --- running the preflight ---
# run [VAR=value ...] [-- flags ...]: clean environment; sets RC, OUT, ERR, MS.
BASE=NOTION_API_BASE=https://127.0.0.1:$PORT_TLS
TARGETS=NOTION_PREFLIGHT_TARGETS="page:$PAGE_OK, database:$DB_OK_D"
CA=(--cacert "$TMP/ca.crt" --timeout 2)
run() {
	local envs=() t0
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	t0=$(date +%s%N)
	env -i PATH="$PATH" HOME="$TMP" "${envs[@]}" "$PREFLIGHT" "$@" \
	    >"$TMP/out" 2>"$TMP/err"
	RC=$?
	MS=$(( ($(date +%s%N) - t0) / 1000000 ))
	OUT=$(cat "$TMP/out")
	ERR=$(cat "$TMP/err")
	cat "$TMP/out" "$TMP/err" >>"$TMP/all-output"
}
requests() { # MODE URI STATUS: how many such requests nginx logged
	grep -c "^$1 GET $2 $3 " "$TMP/access.log" 2>/dev/null || true
}

# valid bot token, every target shared
run "$BASE" "$TARGETS" NOTION_TOKEN="$TOK_VALID" -- "${CA[@]}"
expect_eq "valid token and shared targets: exit 0" 0 "$RC"
expect_contains "success names the bot" 'bot "Spec Sync"' "$OUT"
expect_contains "success names the workspace" 'workspace "Acme"' "$OUT"
expect_contains "success lists the page (dashed id)" "page:$PAGE_OK_D" "$OUT"
expect_contains "success lists the database" "database:$DB_OK_D" "$OUT"
expect_contains "output carries the token fingerprint" "secr…sha256:" "$OUT"
expect_eq "request for the page used the canonical id" 1 "$(requests valid "/v1/pages/$PAGE_OK_D" 200)"
expect_contains "Notion-Version sent" '"2022-06-28"' "$(tail -n 1 "$TMP/access.log")"
expect_contains "User-Agent names the binary" '"ops-notion-preflight/' "$(tail -n 1 "$TMP/access.log")"

run "$BASE" NOTION_TOKEN="$TOK_VALID" -- "${CA[@]}" --format json
expect_eq "json success: exit 0" 0 "$RC"
expect_eq "json success: ok, bot and workspace" "true Spec Sync Acme" \
    "$(jq -r '"\(.ok) \(.bot.name) \(.bot.workspace_name)"' <<<"$OUT" 2>&1)"

printf '%s\n' "$TOK_VALID" >"$TMP/token"
run "$BASE" NOTION_TOKEN_FILE="$TMP/token" -- "${CA[@]}"
expect_eq "NOTION_TOKEN_FILE (trailing newline stripped): exit 0" 0 "$RC"

run "$BASE" "NOTION_API_BASE=http://127.0.0.1:$PORT_HTTP" NOTION_TOKEN="$TOK_VALID" -- --timeout 2
expect_eq "plain http to a loopback base is allowed: exit 0" 0 "$RC"

# token problems: no request may be sent
before=$(wc -l <"$TMP/access.log")
run "$BASE" -- "${CA[@]}"
expect_eq "missing token: exit 10" 10 "$RC"
expect_contains "missing token: code in output" "NOTION_AUTH_MISSING" "$OUT"
run "$BASE" NOTION_TOKEN= -- "${CA[@]}"
expect_eq "empty token: exit 11" 11 "$RC"
run "$BASE" "NOTION_TOKEN=    " -- "${CA[@]}"
expect_eq "whitespace token: exit 11" 11 "$RC"
run "$BASE" "NOTION_TOKEN= $TOK_VALID" -- "${CA[@]}"
expect_eq "token with leading space: exit 11" 11 "$RC"
run "$BASE" "NOTION_TOKEN=$TOK_VALID " -- "${CA[@]}"
expect_eq "token with trailing space: exit 11" 11 "$RC"
run "$BASE" "NOTION_TOKEN=secret_TESTTOKEN$(printf '\001')ctl0123456789" -- "${CA[@]}"
expect_eq "token with a control character: exit 11" 11 "$RC"
run "$BASE" NOTION_TOKEN_FILE="$TMP/no-such-token" -- "${CA[@]}"
expect_eq "unreadable NOTION_TOKEN_FILE: exit 10" 10 "$RC"
expect_eq "no request sent for a missing or malformed token" "$before" "$(wc -l <"$TMP/access.log")"

# what Notion says
run "$BASE" "$TARGETS" NOTION_TOKEN="$TOK_INVALID" -- "${CA[@]}"
expect_eq "401 unauthorized: exit 12" 12 "$RC"
expect_contains "401: code in output" "NOTION_AUTH_INVALID" "$OUT"
expect_contains "401: HTTP status in output" "http 401" "$OUT"
expect_match "401: Notion request id in output" "request id [0-9a-f]{32}" "$OUT"
expect_contains "401: runbook anchor in output" "runbooks/notion-ci-token.md#notion_auth_invalid" "$OUT"
expect_eq "401 is not retried" 1 "$(requests invalid /v1/users/me 401)"

run "$BASE" "$TARGETS" NOTION_TOKEN="$TOK_FORBIDDEN" -- "${CA[@]}"
expect_eq "403 restricted_resource: exit 13" 13 "$RC"
expect_eq "403 is not retried (one request per target)" 1 "$(requests forbidden "/v1/pages/$PAGE_OK_D" 403)"

run "$BASE" NOTION_TOKEN="$TOK_VALID" \
    NOTION_PREFLIGHT_TARGETS="page:$PAGE_OK,database:${UNSHARED//-/},database:$DB_OK_D" -- "${CA[@]}"
expect_eq "404 object_not_found on one of three targets: exit 14" 14 "$RC"
expect_contains "404: the unshared target is named" "NOTION_AUTH_TARGET_UNSHARED" "$(grep "database:$UNSHARED" <<<"$OUT")"
expect_eq "404: exactly one finding" 1 "$(grep -c '^error ' <<<"$OUT")"
expect_eq "404 is not retried" 1 "$(requests valid "/v1/databases/$UNSHARED" 404)"

run "$BASE" NOTION_TOKEN="$TOK_RATE" -- "${CA[@]}"
RATE_MS=$MS
expect_eq "429 after retries: exit 15" 15 "$RC"
expect_eq "429 retried 3 times (4 requests)" 4 "$(requests ratelimited /v1/users/me 429)"
check "429 honours Retry-After: 1 (>= 3 s, took ${RATE_MS} ms)" test "$RATE_MS" -ge 3000
check "429 is bounded in time (< 6 s, took ${RATE_MS} ms)" test "$RATE_MS" -lt 6000
expect_contains "429: retries logged on stderr" "retry 3 of 3" "$ERR"

run "$BASE" NOTION_TOKEN="$TOK_UPSTREAM" -- "${CA[@]}"
UPSTREAM_MS=$MS
expect_eq "500 after retries: exit 16" 16 "$RC"
expect_eq "500 retried 3 times (4 requests)" 4 "$(requests upstream /v1/users/me 500)"
check "500 backoff is bounded (< 6 s, took ${UPSTREAM_MS} ms)" test "$UPSTREAM_MS" -lt 6000

run "$BASE" NOTION_TOKEN="$TOK_RATE" -- "${CA[@]}" --deadline 2
expect_eq "429 with a 2 s overall deadline: exit 15" 15 "$RC"
check "overall deadline cuts the retries (< 2.5 s, took ${MS} ms)" test "$MS" -lt 2500

run "$BASE" NOTION_TOKEN="$TOK_MAINT" -- "${CA[@]}"
expect_eq "HTML maintenance page with 200: exit 18" 18 "$RC"
expect_contains "HTML: says it is not JSON" "not JSON" "$OUT"

run "$BASE" NOTION_TOKEN="$TOK_PERSON" -- "${CA[@]}"
expect_eq "person (not bot) token: exit 18" 18 "$RC"

# rotation
run "$BASE" NOTION_TOKEN="$TOK_VALID" NOTION_TOKEN_ISSUED_AT=2020-01-01 NOTION_TOKEN_ROTATE_DAYS=90 -- "${CA[@]}"
expect_eq "rotation past the deadline: exit 19" 19 "$RC"
expect_contains "rotation overdue: code in output" "NOTION_AUTH_ROTATION_OVERDUE" "$OUT"
run "$BASE" NOTION_TOKEN="$TOK_VALID" NOTION_TOKEN_ISSUED_AT=2020-01-01 NOTION_TOKEN_ROTATE_DAYS=90 -- "${CA[@]}" --format json
expect_eq "rotation overdue: the API was still checked" "NOTION_AUTH_ROTATION_OVERDUE Spec Sync" \
    "$(jq -r '"\(.code) \(.bot.name)"' <<<"$OUT" 2>&1)"
issued=$(date -u -d '80 days ago' +%Y-%m-%dT%H:%M:%SZ)
run "$BASE" NOTION_TOKEN="$TOK_VALID" NOTION_TOKEN_ISSUED_AT="$issued" NOTION_TOKEN_ROTATE_DAYS=90 -- "${CA[@]}"
expect_eq "rotation inside the warning window: exit 0" 0 "$RC"
expect_match "rotation due: warning line" "^warning NOTION_AUTH_ROTATION_DUE: " "$OUT"
expect_contains "rotation due: success line still printed" "ok: token" "$OUT"
run "$BASE" NOTION_TOKEN="$TOK_INVALID" NOTION_TOKEN_ISSUED_AT=2020-01-01 NOTION_TOKEN_ROTATE_DAYS=90 -- "${CA[@]}"
expect_eq "API failure wins over rotation overdue: exit 12" 12 "$RC"
expect_contains "both findings reported" "NOTION_AUTH_ROTATION_OVERDUE" "$OUT"
run "$BASE" NOTION_TOKEN="$TOK_VALID" NOTION_TOKEN_ISSUED_AT=2020-01-01 -- "${CA[@]}"
expect_eq "half a rotation policy is a usage error: exit 2" 2 "$RC"

# network: each gives 17 within the timeout, never 0
run "NOTION_API_BASE=https://127.0.0.1:$PORT_ROGUE" NOTION_TOKEN="$TOK_VALID" -- "${CA[@]}"
expect_eq "certificate from another CA: exit 17" 17 "$RC"
run "$BASE" NOTION_TOKEN="$TOK_VALID" -- --timeout 2
expect_eq "private CA without --cacert: exit 17" 17 "$RC"
run "NOTION_API_BASE=https://localhost:$PORT_TLS" NOTION_TOKEN="$TOK_VALID" -- "${CA[@]}"
expect_eq "host name in the certificate (localhost): exit 0" 0 "$RC"
run "NOTION_API_BASE=https://127.0.0.1:$PORT_CLOSED" NOTION_TOKEN="$TOK_VALID" -- "${CA[@]}"
expect_eq "connection refused: exit 17" 17 "$RC"
run "NOTION_API_BASE=https://127.0.0.1:$PORT_HANG" NOTION_TOKEN="$TOK_VALID" -- "${CA[@]}"
HANG_MS=$MS
expect_eq "server that never answers: exit 17" 17 "$RC"
check "never-answering server: bounded by --timeout 2 (took ${HANG_MS} ms)" test "$HANG_MS" -lt 3500
run "NOTION_API_BASE=https://notion-preflight.invalid" NOTION_TOKEN="$TOK_VALID" -- "${CA[@]}"
expect_eq "unresolvable host: exit 17" 17 "$RC"

# usage errors
run "NOTION_API_BASE=http://api.notion.com" NOTION_TOKEN="$TOK_VALID" -- "${CA[@]}"
expect_eq "http:// to a non-loopback host is refused: exit 2" 2 "$RC"
expect_eq "usage error: one line on stderr" 1 "$(grep -c . <<<"$ERR")"
run "$BASE" NOTION_TOKEN="$TOK_VALID" NOTION_PREFLIGHT_TARGETS=page:1234 -- "${CA[@]}"
expect_eq "bad target id: exit 2" 2 "$RC"
run "$BASE" NOTION_TOKEN="$TOK_VALID" -- --insecure
expect_eq "unknown flag (there is no --insecure): exit 2" 2 "$RC"
run "$BASE" NOTION_TOKEN="$TOK_VALID" -- --cacert "$TMP/missing.pem"
expect_eq "unreadable --cacert: exit 2" 2 "$RC"
run "$BASE" NOTION_TOKEN="$TOK_VALID" NOTION_TOKEN_FILE="$TMP/token" -- "${CA[@]}"
expect_eq "NOTION_TOKEN and NOTION_TOKEN_FILE together: exit 2" 2 "$RC"
run -- --help
expect_eq "--help: exit 0" 0 "$RC"
expect_contains "--help shows usage" "usage: ops-notion-preflight" "$OUT"
run -- --version
expect_match "--version" "^ops-notion-preflight [^ ]+$" "$OUT"
run -- --config /nonexistent/ops.yaml --list-codes
expect_eq "--list-codes reads no config" 0 "$RC"

# --config: the notion: section of the ops config (the core skips it),
# read once; the environment wins over it
printf '%s\n' "$TOK_VALID" >"$TMP/token"
cat >"$TMP/ops.yaml" <<EOF
database:
  url: "postgresql:///unused"
notion:
  api_base: "https://127.0.0.1:$PORT_TLS"
  targets: "page:$PAGE_OK"
  token_file: $TMP/token
EOF
before=$(wc -l <"$TMP/access.log")
run -- "${CA[@]}" --config "$TMP/ops.yaml"
expect_eq "--config: API base, targets and token_file from notion:, exit 0" 0 "$RC"
expect_eq "... users/me and the page were checked" 2 "$(( $(wc -l <"$TMP/access.log") - before ))"
run "NOTION_API_BASE=https://127.0.0.1:$PORT_CLOSED" -- "${CA[@]}" --config "$TMP/ops.yaml"
expect_eq "--config: NOTION_API_BASE wins over notion.api_base (closed port: exit 17)" 17 "$RC"
run NOTION_TOKEN="$TOK_INVALID" -- "${CA[@]}" --config "$TMP/ops.yaml"
expect_eq "--config: NOTION_TOKEN wins over notion.token_file (exit 12)" 12 "$RC"
before=$(wc -l <"$TMP/access.log")
run -- --config "$TMP/ops.yaml" --check-config
expect_eq "--check-config: valid settings, exit 0" 0 "$RC"
expect_eq "... and not a request" "$before" "$(wc -l <"$TMP/access.log")"
printf 'notion:\n  targets: "page:1234"\n' >"$TMP/bad.yaml"
run -- --config "$TMP/bad.yaml" --check-config
expect_eq "--check-config: a bad notion: value, exit 2" 2 "$RC"
expect_contains "... named with file:line and key" "$TMP/bad.yaml:2: notion.targets: item 1" "$ERR"
expect_eq "... on one line" 1 "$(grep -c . <<<"$ERR")"

# formats
run "$BASE" NOTION_TOKEN="$TOK_INVALID" GITHUB_STEP_SUMMARY="$TMP/summary.md" -- "${CA[@]}" --format github
expect_eq "github format: exit 12" 12 "$RC"
expect_match "github format: ::error annotation" "^::error title=NOTION_AUTH_INVALID::" "$OUT"
expect_contains "github format: summary line" "FAILED: NOTION_AUTH_INVALID (exit 12)" "$OUT"
expect_contains "github format: job summary written" '### Notion preflight: FAILED `NOTION_AUTH_INVALID`' "$(cat "$TMP/summary.md" 2>/dev/null)"
run "$BASE" NOTION_TOKEN="$TOK_VALID" NOTION_TOKEN_ISSUED_AT="$issued" NOTION_TOKEN_ROTATE_DAYS=90 -- "${CA[@]}" --format github
expect_match "github format: ::warning annotation" "^::warning title=NOTION_AUTH_ROTATION_DUE::" "$OUT"
run "$BASE" NOTION_TOKEN="$TOK_INVALID" -- "${CA[@]}" --format json
expect_eq "json format: exit 12" 12 "$RC"
expect_eq "json format: code, ok and finding" "NOTION_AUTH_INVALID false 401 error" \
    "$(jq -r '"\(.code) \(.ok) \(.findings[0].http_status) \(.findings[0].severity)"' <<<"$OUT" 2>&1)"
expect_match "json format: request id" '^[0-9a-f]{32}$' "$(jq -r '.findings[0].request_id' <<<"$OUT" 2>&1)"
expect_match "json format: token fingerprint" '^secr…sha256:[0-9a-f]{8}$' "$(jq -r '.token_fingerprint' <<<"$OUT" 2>&1)"

# the code catalog and the runbook agree
run -- --list-codes
missing=
while IFS=$'\t' read -r code status cause; do
	grep -qx "## $code" "$RUNBOOK" 2>/dev/null || missing+=" $code(section)"
	grep -qF "| \`$code\` | $status | $cause |" "$RUNBOOK" 2>/dev/null || missing+=" $code(table)"
done <<<"$OUT"
expect_eq "--list-codes has 11 codes" 11 "$(grep -c . <<<"$OUT")"
expect_eq "runbook has a section and a table row for every code" "" "$missing"

# the systemd units: systemd-analyze verify wants ExecStart= to exist, so a
# copy whose ExecStart points at the binary under test is verified
verify_units ops-notion-preflight "$PREFLIGHT" "$TMP"

# no leak, in any case above
check "the token text appears in no output" bash -c "! grep -q TESTTOKEN '$TMP/all-output'"
check "the fake API's access log never saw an unexpected path" bash -c "! grep -q ' 400 ' '$TMP/access.log'"

printf '# timings: 429 case %s ms, 500 case %s ms, never-answering case %s ms\n' \
    "$RATE_MS" "$UPSTREAM_MS" "$HANG_MS"
finish
