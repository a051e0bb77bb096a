#!/usr/bin/env bash
# tests/integration/netns.sh: hosts with their own network stacks (issue 25,
# CONTRACT §19): nginx reaches two responders over FastCGI on TCP, and every
# binary reaches PostgreSQL over TCP with TLS (sslmode=verify-full against a
# test CA) and SCRAM-SHA-256, each with its own credential file. Nothing
# crosses between hosts but TCP; the checks look from inside each namespace.
#
# Topology (scripts/netns-lib.sh): namespaces pg, h1, h2, web and cl (the
# operator and client) on a bridge of their own. First a reference export on
# the ordinary stack (unix sockets everywhere); then PostgreSQL moves to pg,
# TCP only, and the same export runs on a host's runner and downloads
# through nginx from cl, byte-compared with the reference. Last, the Notion
# binaries on h1 (preflight and spec sync, the sync with --config: its lock
# and job_run in the database over TLS + SCRAM) against a fake Notion API in
# ext over HTTPS verified against a CA of its own; a CA that did not sign the
# fake's certificate (or none, the system's) is refused with exit 17
# NOTION_AUTH_NETWORK naming the certificate problem. ~25 s.

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$ROOT/scripts/stack-lib.sh"
source "$ROOT/scripts/tls-lib.sh"
source "$ROOT/scripts/netns-lib.sh"

need_tools ip ss unshare nginx psql openssl jq curl
if [ "$(id -u)" -ne 0 ]; then
	not_ok "netns needs root (ip netns)"; finish
fi
T0=$SECONDS
suite_cleanup() { netns_down "$DIR"; }
STACK_EXPORT_EXTRA="  chunk_bytes: 16KiB" test_stack_up netns "unix sockets: the reference"

# --- the reference, on unix sockets ----------------------------------------------
seed_audit acme 600 words=5 || setup_failed "seeding audit_log"
AUD=$(mint auditor-1 "" '["AUDITOR"]')
BODY_JSON='{"tenant_id":"acme","from":"2026-10-01T00:00:00Z","to":"2026-10-02T00:00:00Z","format":"jsonl"}'
api POST /api/ops/audit-exports "$AUD" -H 'Content-Type: application/json' -d "$BODY_JSON"
REF=$(jq -r '.id // empty' <<<"$BODY")
"$BIN/ops-export-runner" --config "$STACK_CONFIG" >"$DIR/ref-runner.log" 2>&1
curl -s -o "$DIR/ref.jsonl" -H "Authorization: Bearer $AUD" "$STACK_URL/api/ops/audit-exports/$REF/download"
[ -n "$REF" ] && [ "$(job_field "$REF" state)" = DONE ] && [ -s "$DIR/ref.jsonl" ] ||
	setup_failed "the reference export on unix sockets ($(tail -n 3 "$DIR/ref-runner.log"))"
setup_done "reference export $REF on unix sockets: $(wc -c <"$DIR/ref.jsonl") bytes, $(job_field "$REF" progress_chunks) chunks"
UNIX_DB_URL=$STACK_DB_URL
stack_fcgi_stop "$DIR"; stack_nginx_stop "$DIR"

# --- hosts with their own network stacks ------------------------------------------
setup "namespaces $NETNS_PFX-{sw,pg,h1,h2,web,cl,ext} on 10.250.0.0/24" netns_up "$DIR"
setup "PostgreSQL in $NETNS_PFX-pg: TCP only, TLS, SCRAM" netns_pg "$DIR" 2>>"$DIR/netns.err"
# from here the tests' own SQL runs as the owner from cl, over TLS
STACK_DB_URL=$NETNS_OWNER_URL
sql() { netns_in cl psql -X -qAt -v ON_ERROR_STOP=1 "$STACK_DB_URL" -c "$1"; }
setup "hosts h1 and h2 (responder on TCP, runner, cleaner, healer)" \
	eval 'netns_host_up "$DIR" h1 && netns_host_up "$DIR" h2' 2>>"$DIR/netns.err"
setup "nginx in $NETNS_PFX-web over both responders" netns_nginx "$DIR" 80 h1 h2 2>>"$DIR/netns.err"
# the client is cl: api() and the curls below run there
curl() { netns_in cl curl "$@"; }
STACK_URL=$NETNS_URL

# --- PostgreSQL: TCP only, in its own namespace --------------------------------------
expect_eq "pg listens on TCP ${NETNS_ADDR[pg]}:$NETNS_PG_PORT and nothing else" \
	"${NETNS_ADDR[pg]}:$NETNS_PG_PORT" "$(netns_in pg ss -Hltn | awk '{ print $4 }' | sort -u | tr '\n' ' ' | sed 's/ $//')"
expect_eq "pg has no unix socket listening (unix_socket_directories '')" "" \
	"$(netns_in pg ss -Hlx | grep -i pgsql)"
expect_eq "no .s.PGSQL socket file in its directory" "" "$(find "$DIR/pg" -name '.s.PGSQL*')"
out=$(psql -X -qAt "$UNIX_DB_URL" -c 'SELECT 1' 2>&1)
expect_contains "the unix socket URL of before fails from this machine's namespace" "No such file or directory" "$out"
expect_eq "this machine's own namespace has no address on 10.250.0.0/24" "" "$(ip -4 -o addr | grep -F " $NETNS_NET.")"

# --- TLS verify-full and SCRAM, refused when they do not hold --------------------------
url_other_ca=$(netns_url ops "$NETNS_PW_OWNER" "$DIR/other-ca/ca.crt")
url_wrong_name=$(netns_url ops "$NETNS_PW_OWNER" "$DIR/cl/ca.crt" wrong.ops.test)
out=$(netns_in cl psql -X -qAt "$url_other_ca" -c 'SELECT 1' 2>&1)
expect_contains "a server certificate from another CA is refused (verify-full)" "certificate verify failed" "$out"
out=$(netns_in cl psql -X -qAt "$url_wrong_name" -c 'SELECT 1' 2>&1)
expect_contains "a server name that is not the certificate's is refused (verify-full)" \
	"does not match host name \"wrong.ops.test\"" "$out"
out=$(netns_in cl psql -X -qAt "postgresql://ops@$NETNS_DB_NAME:$NETNS_PG_PORT/ops?hostaddr=${NETNS_ADDR[pg]}&sslmode=disable&password=$NETNS_PW_OWNER" -c 'SELECT 1' 2>&1)
expect_contains "the server refuses a connection without TLS" "no encryption" "$out"
out=$(netns_in cl psql -X -qAt "$(netns_url ops wrong-password "$DIR/cl/ca.crt")" -c 'SELECT 1' 2>&1)
expect_contains "a wrong password is refused" "password authentication failed" "$out"
probe() {  # probe ROLE CHANNEL_BINDING
	netns_in cl psql -X -qAt "postgresql://$1@$NETNS_DB_NAME:$NETNS_PG_PORT/ops?hostaddr=${NETNS_ADDR[pg]}&sslmode=verify-full&sslrootcert=$DIR/cl/ca.crt&channel_binding=$2&password=$NETNS_PW_PROBE" \
		-c 'SELECT current_user' 2>&1
}
expect_eq "control: a server that asks for md5 lets a client without channel_binding in" md5_probe "$(probe md5_probe prefer)"
expect_contains "a client with channel_binding=require (the hosts' URL) refuses md5" "channel binding" "$(probe md5_probe require)"
expect_eq "control: a server that trusts lets a client without channel_binding in" trust_probe "$(probe trust_probe prefer)"
expect_contains "a client with channel_binding=require refuses trust" "channel binding" "$(probe trust_probe require)"
expect_eq "the runtime roles' passwords are SCRAM-SHA-256 verifiers" "ops_fcgi SCRAM-SHA-256 ops_jobs SCRAM-SHA-256" \
	"$(sql "SELECT string_agg(rolname || ' ' || split_part(rolpassword, '\$', 1), ' ' ORDER BY rolname) FROM pg_authid WHERE rolname IN ('ops_fcgi', 'ops_jobs')")"
for h in h1 h2; do
	for c in ops-fcgi ops-jobs; do
		u=$(cat "$DIR/$h/credentials/$c.database_url")
		expect_match "$h's $c credential: verify-full, its own CA copy, channel_binding=require" \
			"sslmode=verify-full&sslrootcert=$DIR/$h/ca.crt&channel_binding=require&password=" "$u"
	done
done

# --- what each binary does, seen from the server and from each host -------------------
# the runner, cleaner and healer run in loops: wait until each has logged in from both hosts
authorized() {  # authorized HOST APP: a TLS login of APP from HOST, as the server logged it
	grep -F " ${NETNS_ADDR[$1]} " "$DIR/pg/postgres.log" |
		grep -qE "connection authorized: user=[a-z_]+ database=ops application_name=$2(/[0-9]+)? SSL enabled \(protocol=TLSv1\.3"
}
for h in h1 h2; do
	for app in ops-fcgi ops-export-runner ops-export-cleaner ops-lock-healer; do
		wait_for 15 authorized "$h" "$app"
		check "$app on $h logged in over TCP from ${NETNS_ADDR[$h]} with TLSv1.3 (server log)" authorized "$h" "$app"
	done
done
expect_eq "every login of a runtime role authenticated with SCRAM-SHA-256 (none otherwise)" "" \
	"$(grep -E 'connection authenticated: identity="ops_(fcgi|jobs)"' "$DIR/pg/postgres.log" | grep -v 'method=scram-sha-256')"
check "and there were such logins" grep -qE 'connection authenticated: identity="ops_(fcgi|jobs)" method=scram-sha-256' "$DIR/pg/postgres.log"
expect_eq "no client backend is on a unix socket (client_addr NULL) or without TLS" 0 \
	"$(sql "SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.backend_type = 'client backend' AND (a.client_addr IS NULL OR NOT s.ssl)")"
expect_eq "the responders' sessions come from h1 and h2" "${NETNS_ADDR[h1]} ${NETNS_ADDR[h2]}" \
	"$(sql "SELECT string_agg(DISTINCT host(client_addr), ' ') FROM pg_stat_activity WHERE usename = 'ops_fcgi'")"
for h in h1 h2; do
	fp=$(pgrep -f "^$ROOT/bin/ops-fcgi --config $DIR/$h/ops.yaml" | head -n1)
	expect_match "inside $h: ops-fcgi (pid $fp) holds TCP connections to PostgreSQL" \
		"${NETNS_ADDR[pg]}:$NETNS_PG_PORT" "$(netns_in "$h" ss -Htnp state established | grep "pid=$fp,")"
	expect_eq "inside $h: no unix socket of any ops-* process (ss -xp)" "" "$(netns_in "$h" ss -Hxp | grep '"ops-')"
	expect_eq "inside $h: ops-fcgi listens on TCP ${NETNS_ADDR[$h]}:$NETNS_FCGI_PORT only" \
		"${NETNS_ADDR[$h]}:$NETNS_FCGI_PORT" "$(netns_in "$h" ss -Hltnp | grep "pid=$fp," | awk '{ print $4 }')"
done
expect_eq "inside web: nginx has no unix socket to a responder" "" "$(netns_in web ss -Hxp | grep -i 'fcgi')"

# --- FastCGI over TCP: nginx only --------------------------------------------------------
out=$(netns_in cl timeout 5 bash -c "exec 3<>/dev/tcp/${NETNS_ADDR[h1]}/$NETNS_FCGI_PORT && cat <&3 && echo closed" 2>&1)
expect_eq "a FastCGI connection from cl (not in fcgi.allowed_peers) is closed at once" closed "$out"
netns_in web timeout 2 bash -c "exec 3<>/dev/tcp/${NETNS_ADDR[h1]}/$NETNS_FCGI_PORT && cat <&3" >/dev/null 2>&1
expect_eq "one from web (nginx's address) is accepted and kept open (timeout 2 s ends it)" 124 "$?"

# --- an export on a host's runner, downloaded through nginx across the namespaces --------
api GET /readyz ""
expect_eq "readyz through nginx in web to a responder over TCP" 200 "$CODE"
api POST /api/ops/audit-exports "$AUD" -H 'Content-Type: application/json' -d "$BODY_JSON"
J=$(jq -r '.id // empty' <<<"$BODY")
expect_eq "the same export created from cl through nginx (202)" 202 "$CODE"
wait_sql 30 "SELECT state = 'DONE' FROM tb_audit_export_job WHERE id = '$J'"
expect_match "run to DONE by a runner on h1 or h2 (lease owner)" "^DONE ops-export-runner:h[12]:" \
	"$(job_field "$J" "state || ' ' || coalesce(lease_owner, '')")"
curl -s -o "$DIR/cl/netns.jsonl" -w '%{http_code}' -H "Authorization: Bearer $AUD" \
	"$STACK_URL/api/ops/audit-exports/$J/download" >"$DIR/cl/code"
expect_eq "downloaded from cl through nginx (200)" 200 "$(cat "$DIR/cl/code")"
check "byte-identical to the unix-socket export ($(wc -c <"$DIR/ref.jsonl") bytes)" cmp "$DIR/ref.jsonl" "$DIR/cl/netns.jsonl"
for _ in $(seq 1 10); do api GET "/api/ops/audit-exports/$J" "$AUD"; done
served=$(awk '{ print $1 }' "$DIR/web/nginx/upstream.log" | sort -u | tr '\n' ' ' | sed 's/ $//')
expect_eq "nginx's upstreams were both responders over TCP" \
	"${NETNS_ADDR[h1]}:$NETNS_FCGI_PORT ${NETNS_ADDR[h2]}:$NETNS_FCGI_PORT" "$served"

# --- operator commands over TLS too ---------------------------------------------------------
cp "$DIR/jwt.secret" "$DIR/download.secret" "$DIR/cl/"
sed "s|$DIR/|$DIR/cl/|g" "$DIR/ops.yaml" >"$DIR/cl/ops.yaml"
out=$(netns_in cl env OPS_DATABASE_MIGRATE_URL="$NETNS_OWNER_URL" "$BIN/opsctl" --config "$DIR/cl/ops.yaml" migrate 2>&1)
check "opsctl migrate from cl as the owner over TLS (${out##*$'\n'})" test $? -eq 0
out=$(netns_in h1 env OPS_DATABASE_URL_FILE="$DIR/h1/credentials/ops-jobs.database_url" \
	"$BIN/opsctl" --config "$DIR/h1/ops.yaml" locks 2>&1)
check "opsctl locks on h1 with h1's ops_jobs credential" test $? -eq 0

# --- the Notion binaries on h1: PostgreSQL over TLS + SCRAM, Notion over HTTPS --------
# The fake Notion API (tests/integration/notion_sync/fake_notion.py) runs in
# ext, "the internet", with a certificate from a CA of its own (not the
# database's); h1 holds a copy of that CA's certificate and nothing else of
# ext's. ops-notion-preflight and ops-notion-sync run on h1 as a timer
# would (clean environment, the ops-jobs credential file for the database).
NOTION_TOKEN_T=secret_TESTTOKENnetns$(openssl rand -hex 16)
N_PAGE=11111111111111111111111111111111; N_DB=99999999999999999999999999999999
mkdir -p "$DIR/ext"
setup "a CA for the Notion API and its certificate for ${NETNS_ADDR[ext]}" eval \
	'tls_ca "$DIR/notion-ca" && tls_server_cert "$DIR/ext" "$DIR/notion-ca" notion "IP:${NETNS_ADDR[ext]}"'
cp "$DIR/notion-ca/ca.crt" "$DIR/h1/notion-ca.crt"
jq -n --arg t "$NOTION_TOKEN_T" --arg db "$N_DB" --arg p "$N_PAGE" \
	'{token: $t, database: $db, pages: [$p], rps: 20}' >"$DIR/ext/fake.json"
netns_in ext python3 "$ROOT/tests/integration/notion_sync/fake_notion.py" --host "${NETNS_ADDR[ext]}" \
	--config "$DIR/ext/fake.json" --cert "$DIR/ext/notion.crt" --key "$DIR/ext/notion.key" \
	--port-file "$DIR/ext/port" --log "$DIR/ext/requests.log" >"$DIR/ext/fake.out" 2>&1 &
wait_for 20 test -s "$DIR/ext/port" || setup_failed "the fake Notion in ext ($(tail -n 3 "$DIR/ext/fake.out"))"
NOTION_BASE=https://${NETNS_ADDR[ext]}:$(cat "$DIR/ext/port")
setup_done "fake Notion API in $NETNS_PFX-ext at $NOTION_BASE (HTTPS, its own test CA)"
REPO=$DIR/h1/notion-repo
mkdir -p "$REPO/docs/api"
cp "$ROOT/docs/api/errors.md" "$ROOT/docs/api/openapi.yaml" "$REPO/docs/api/"
printf 'database: %s\ndocuments:\n  - name: Error catalog\n    source: docs/api/errors.md\n    page: %s\n' \
	"$N_DB" "$N_PAGE" >"$REPO/docs/notion-sync.yaml"
# on_h1 CMD...: CMD in h1 with a timer's clean environment, the Notion token
# and API base, and the ops-jobs credential; sets RC and OUT (stdout + stderr)
on_h1() {
	OUT=$(netns_in h1 env -i PATH="$PATH" HOME="$DIR/h1" NOTION_TOKEN="$NOTION_TOKEN_T" \
		NOTION_API_BASE="$NOTION_BASE" OPS_DATABASE_URL_FILE="$DIR/h1/credentials/ops-jobs.database_url" \
		"$@" 2>&1)
	RC=$?
	printf '%s\n' "$OUT" >>"$DIR/h1/notion.log"
}
on_h1 env NOTION_PREFLIGHT_TARGETS="page:$N_PAGE" "$BIN/ops-notion-preflight" \
	--cacert "$DIR/h1/notion-ca.crt" --timeout 5
expect_eq "ops-notion-preflight on h1: Notion in ext over HTTPS, verified against the Notion CA: exit 0" 0 "$RC"
on_h1 env NOTION_PREFLIGHT_TARGETS="page:$N_PAGE" "$BIN/ops-notion-preflight" \
	--cacert "$DIR/h1/ca.crt" --timeout 5
expect_eq "ops-notion-preflight with the database's CA instead (it did not sign the Notion certificate): exit 17" 17 "$RC"
expect_match "... NOTION_AUTH_NETWORK, saying the certificate failed verification" \
	"NOTION_AUTH_NETWORK.*SSL certificate problem: unable to get local issuer certificate" "$(tr '\n' ' ' <<<"$OUT")"
on_h1 env NOTION_PREFLIGHT_TARGETS="page:$N_PAGE" "$BIN/ops-notion-preflight" --timeout 5
expect_eq "ops-notion-preflight without --cacert (the system's CAs do not know the test CA): exit 17" 17 "$RC"
on_h1 "$BIN/ops-notion-sync" --root "$REPO" --cacert "$DIR/h1/notion-ca.crt" --max-rps 20 --timeout 5 \
	--commit 0123456789abcdef --config "$DIR/h1/ops.yaml"
expect_eq "ops-notion-sync on h1 with --config (the database over TLS, the Notion API over HTTPS): exit 0" 0 "$RC"
expect_eq "... its run recorded in the database (job_run SUCCEEDED, lock taken and released)" "SUCCEEDED 1" \
	"$(sql "SELECT (SELECT status FROM job_run WHERE job = 'ops-notion-sync' ORDER BY id DESC LIMIT 1) || ' ' ||
	        (SELECT count(*) FROM tb_scheduler_lock WHERE name = 'ops-notion-sync' AND holder IS NULL AND fencing_token > 0)")"
check "... the page written in the fake Notion (requests from h1)" grep -qE '^(PATCH|POST) ' "$DIR/ext/requests.log"
check "ops-notion-sync logged in to PostgreSQL from h1 over TLSv1.3 (server log)" \
	grep -qE " ${NETNS_ADDR[h1]//./\\.} .*connection authorized: user=ops_jobs database=ops application_name=ops-notion-sync(/[0-9a-z]+)? SSL enabled \(protocol=TLSv1\.3" "$DIR/pg/postgres.log"
on_h1 "$BIN/ops-notion-sync" --root "$REPO" --cacert "$DIR/other-ca/ca.crt" --max-rps 20 --timeout 5 \
	--commit 0123456789abcdef --config "$DIR/h1/ops.yaml"
expect_eq "ops-notion-sync with a CA that did not sign the Notion certificate: exit 17, nothing written" "17 FAILED" \
	"$RC $(sql "SELECT status FROM job_run WHERE job = 'ops-notion-sync' ORDER BY id DESC LIMIT 1")"
expect_match "... NOTION_AUTH_NETWORK, saying the certificate failed verification" \
	"NOTION_AUTH_NETWORK.*SSL certificate problem: unable to get local issuer certificate" "$(tr '\n' ' ' <<<"$OUT")"

# --- no secret in a log ----------------------------------------------------------------------
leaks=$(grep -rlF -e "$NETNS_PW_FCGI" -e "$NETNS_PW_JOBS" -e "$NETNS_PW_OWNER" -e "$NOTION_TOKEN_T" \
	"$DIR"/h1/*.log "$DIR"/h2/*.log "$DIR/pg/postgres.log" "$DIR/web/nginx/"*.log 2>/dev/null)
expect_eq "no password or Notion token in any host's log (the Notion runs' output too) or the server's" "" "$leaks"

note "netns suite: $((SECONDS - T0)) s"
finish
