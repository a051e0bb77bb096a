#!/usr/bin/env bash
# tests/integration/notion_sync.sh: bin/ops-notion-sync against a stateful
# fake Notion (tests/integration/notion_sync/fake_notion.py: HTTPS with a CA
# made for the test, pages, block trees and database rows in memory,
# Notion's limits enforced, a request log, knobs for failures).
#
# The sync runs with --max-rps 20 and the fake limits to 20 requests per
# second the same way (token bucket, 429 beyond), so the pacing is tested as
# it is at Notion's 3 per second, only faster.
#
# Needs: python3, openssl, jq, sha256sum. Runs in about 60 s.
# SYNC=path overrides the binary (for example an ASan build).

. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

SYNC=${SYNC:-$BIN/ops-notion-sync}
HERE="$ROOT/tests/integration/notion_sync"
RPS=20

need_tools python3 openssl jq sha256sum "$SYNC"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/notion-sync.XXXXXX")
FAKE_PID=
cleanup() {
	[ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null && wait "$FAKE_PID" 2>/dev/null
	[ -d "$TMP/pg" ] && "$ROOT/scripts/pgtemp" stop "$TMP/pg" >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT

TOKEN=secret_TESTTOKENsync4b1d9e2c7a5f3b8d6e0a2c4f6b8d0e2a4c6f8b0d2e4a
P_ERR=11111111111111111111111111111111
P_RBAC=22222222222222222222222222222222
P_CFG=33333333333333333333333333333333
P_REPORT=44444444444444444444444444444444
P_ROUTES=55555555555555555555555555555555
P_BIG=66666666666666666666666666666666
DB=99999999999999999999999999999999
dashed() { local h=$1; echo "${h:0:8}-${h:8:4}-${h:12:4}-${h:16:4}-${h:20:12}"; }

# --- the test CA and the fake's certificate (as notion_preflight.sh does) ---
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$TMP/ca.key" -out "$TMP/ca.crt" -days 2 -subj "/CN=ops notion sync test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>>"$TMP/openssl.log"
printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$TMP/srv.ext"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$TMP/srv.key" -out "$TMP/srv.csr" -subj "/CN=localhost" 2>>"$TMP/openssl.log" &&
openssl x509 -req -in "$TMP/srv.csr" -CA "$TMP/ca.crt" -CAkey "$TMP/ca.key" \
    -set_serial "0x$(openssl rand -hex 8)" -days 2 -extfile "$TMP/srv.ext" \
    -out "$TMP/srv.crt" 2>>"$TMP/openssl.log"

jq -n --arg t "$TOKEN" --arg db "$DB" --argjson rps "$RPS" \
    --argjson pages "[\"$P_ERR\",\"$P_RBAC\",\"$P_CFG\",\"$P_REPORT\",\"$P_ROUTES\",\"$P_BIG\"]" \
    '{token: $t, database: $db, pages: $pages, rps: $rps}' >"$TMP/fake.json"
python3 "$HERE/fake_notion.py" --config "$TMP/fake.json" --cert "$TMP/srv.crt" \
    --key "$TMP/srv.key" --port-file "$TMP/port" --log "$TMP/requests.log" \
    >"$TMP/fake.out" 2>&1 &
FAKE_PID=$!
for _ in $(seq 1 100); do [ -s "$TMP/port" ] && break; sleep 0.1; done
if [ ! -s "$TMP/port" ]; then
	setup_failed "start the fake Notion ($(tail -n 3 "$TMP/fake.out"))"
fi
PORT=$(cat "$TMP/port")
: >>"$TMP/requests.log"
FAKE=https://127.0.0.1:$PORT
setup_done "fake Notion up on 127.0.0.1:$PORT (TLS, test CA)"
fakectl() { curl -sS --cacert "$TMP/ca.crt" -X POST -d "$1" "$FAKE/_control" >/dev/null; }
state() { curl -sS --cacert "$TMP/ca.crt" "$FAKE/_state"; }

# --- a copy of the repository's spec documents, and a manifest for them ---
REPO=$TMP/repo
mkdir -p "$REPO/docs/api" "$REPO/docs/security"
cp "$ROOT/docs/api/errors.md" "$ROOT/docs/api/openapi.yaml" "$REPO/docs/api/"
cp "$ROOT/docs/security/rbac.md" "$REPO/docs/security/"
cp "$ROOT/docs/config.md" "$ROOT/docs/spec_sync_report.md" "$REPO/docs/"
cat >"$REPO/docs/notion-sync.yaml" <<EOF
database: \$TEST_DB
documents:
  - name: Error catalog
    source: docs/api/errors.md
    page: $P_ERR
  - name: Roles
    source: docs/security/rbac.md
    page: $(dashed $P_RBAC)
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

# run [VAR=value ...] [-- flags ...]: clean environment; sets RC, OUT, ERR.
run() {
	local envs=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	env -i PATH="$PATH" HOME="$TMP" NOTION_API_BASE="$FAKE" TEST_DB="$DB" \
	    "${envs[@]}" "$SYNC" --root "$REPO" --cacert "$TMP/ca.crt" \
	    --max-rps "$RPS" --timeout 5 --commit 0123456789abcdef "$@" \
	    >"$TMP/out" 2>"$TMP/err"
	RC=$?
	OUT=$(cat "$TMP/out")
	ERR=$(cat "$TMP/err")
	cat "$TMP/out" "$TMP/err" >>"$TMP/all-output"
}
mark() { wc -l <"$TMP/requests.log" 2>/dev/null || echo 0; }
# writes since line N of the request log: PATCH, DELETE, POST but the query
writes_since() { tail -n +"$(( $1 + 1 ))" "$TMP/requests.log" | awk '$4 != "control" && $3 < 300 && ($1 == "PATCH" || $1 == "DELETE" || ($1 == "POST" && $2 !~ /\/query$/))' | wc -l; }
attempts_since() { tail -n +"$(( $1 + 1 ))" "$TMP/requests.log" | awk '$4 != "control" && ($1 == "PATCH" || $1 == "DELETE" || ($1 == "POST" && $2 !~ /\/query$/))' | wc -l; }
# page_matches PAGE SOURCE: the fake's tree of PAGE equals --render SOURCE
page_matches() {
	local page=$1 src=$2
	"$SYNC" --render "$src" | jq -S . >"$TMP/want.json"
	state | jq -S --arg p "$(dashed "$page")" '.pages[$p]' >"$TMP/got.json"
	cmp -s "$TMP/want.json" "$TMP/got.json"
}
row() { state | jq -r --arg n "$1" --arg k "$2" '[.rows[] | select(.Name == $n)][0][$k] // "none"'; }

# --- rendering: the golden file, whole tree ---
"$SYNC" --render "$HERE/golden.md" >"$TMP/golden.out" 2>"$TMP/golden.err"
expect_eq "golden Markdown renders to exactly the expected blocks" \
    "$(jq -S . "$HERE/golden.json")" "$(jq -S . "$TMP/golden.out" 2>&1)"

printf '<div>\xff\xfe</div>\n\nok \xc3\n' >"$TMP/bad-utf8.md"
"$SYNC" --render "$TMP/bad-utf8.md" >"$TMP/bad.out" 2>"$TMP/bad.err"
expect_eq "ill-formed UTF-8 renders as U+FFFD (literal HTML and text)" \
    '["<div>\ufffd\ufffd</div>","ok \ufffd"]' \
    "$(jq -c '[.[].paragraph.rich_text[0].text.content]' "$TMP/bad.out" 2>&1 |
       python3 -c 'import sys; print(sys.stdin.read().strip().encode("ascii", "backslashreplace").decode())')"

# --- usage ---
run TEST_DB=
expect_eq "an unset \$VARIABLE in the manifest: exit 2" 2 "$RC"
expect_contains "it names the variable" "TEST_DB" "$ERR"
run NOTION_TOKEN="$TOKEN" -- --insecure
expect_eq "unknown flag: exit 2" 2 "$RC"
run -- --list-codes
expect_eq "--list-codes: the preflight's codes" "$("$BIN/ops-notion-preflight" --list-codes)" "$OUT"

# --- token problems: exit 10 / 11, no request at all ---
m=$(mark)
run
expect_eq "no token: exit 10 (NOTION_AUTH_MISSING)" 10 "$RC"
run NOTION_TOKEN=" $TOKEN"
expect_eq "token with a space: exit 11 (NOTION_AUTH_MALFORMED)" 11 "$RC"
expect_eq "no request for a missing or malformed token" "$m" "$(mark)"

# --- dry run on an empty Notion ---
m=$(mark)
run NOTION_TOKEN="$TOKEN" -- --dry-run
expect_eq "dry run: exit 0" 0 "$RC"
expect_eq "dry run: every document would change" 5 "$(grep -c '^would update: ' <<<"$OUT")"
expect_match "dry run: block counts are shown" "would update: Error catalog .*, [0-9]+ blocks" "$OUT"
expect_eq "dry run: no write" 0 "$(attempts_since "$m")"

# --- first run ---
m=$(mark)
t0=$(date +%s%N)
run NOTION_TOKEN="$TOKEN" -- --format json
FIRST_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
FIRST_REQ=$(tail -n +"$((m + 1))" "$TMP/requests.log" | grep -vc ' control$')
expect_eq "first run: exit 0" 0 "$RC"
expect_eq "first run: five documents updated" "updated updated updated updated updated" \
    "$(jq -r '[.documents[].state] | join(" ")' <<<"$OUT" 2>&1)"
for pair in "$P_ERR:docs/api/errors.md" "$P_RBAC:docs/security/rbac.md" \
    "$P_CFG:docs/config.md" "$P_REPORT:docs/spec_sync_report.md"; do
	page=${pair%%:*} src=${pair#*:}
	check "first run: page of $src holds exactly its rendering" page_matches "$page" "$REPO/$src"
done
expect_match "first run: the route table is on its page" '"GET"' \
    "$(state | jq -c --arg p "$(dashed $P_ROUTES)" '[.pages[$p][] | select(.type == "table")][0].table.children[1].table_row.cells[0][0].text.content')"
expect_eq "first run: one row per document" 5 "$(state | jq '.rows | length')"
expect_eq "first run: the row holds the source's SHA-256" \
    "$(sha256sum "$REPO/docs/api/errors.md" | cut -c1-64)" "$(row "Error catalog" SHA-256)"
expect_eq "first run: the row holds the source path" docs/api/errors.md "$(row "Error catalog" Source)"
expect_eq "first run: the row holds the commit" 0123456789abcdef "$(row "Error catalog" Commit)"
expect_eq "first run: the row holds the OpenAPI version" \
    "$(sed -n 's/^  version: *//p' "$REPO/docs/api/openapi.yaml" | head -n1 | tr -d "\"'")" \
    "$(row "Error catalog" "OpenAPI version")"
expect_match "first run: the row holds the sync time" '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T' "$(row "Error catalog" "Synced at")"
check "first run: the pacer kept under $RPS requests/s (the fake limited none of $FIRST_REQ)" \
    test "$(tail -n +"$((m + 1))" "$TMP/requests.log" | grep -c ' rate$')" -eq 0

# --- second run: nothing to write (at Notion's own 3 requests/s: the fake
# limits to 3 per second now, the sync runs with its default pacing) ---
fakectl '{"rps": 3}'
m=$(mark)
env -i PATH="$PATH" HOME="$TMP" NOTION_API_BASE="$FAKE" TEST_DB="$DB" NOTION_TOKEN="$TOKEN" \
    "$SYNC" --root "$REPO" --cacert "$TMP/ca.crt" >"$TMP/out" 2>"$TMP/err"
RC=$?
OUT=$(cat "$TMP/out"); cat "$TMP/out" "$TMP/err" >>"$TMP/all-output"
fakectl "{\"rps\": $RPS}"
expect_eq "second run: exit 0" 0 "$RC"
expect_eq "second run: the default pacer kept under Notion's 3/s (no 429)" 0 \
    "$(tail -n +"$((m + 1))" "$TMP/requests.log" | grep -c ' 429 ')"
expect_eq "second run: zero PATCH, DELETE or POST (but the database query)" 0 "$(attempts_since "$m")"
expect_eq "second run: every document unchanged" 5 "$(grep -c '^unchanged: ' <<<"$OUT")"

# --- a change rewrites only that page and its row ---
printf '\n## A new section\n\nAdded by the test.\n' >>"$REPO/docs/security/rbac.md"
before_cfg=$(state | jq -c --arg p "$(dashed $P_CFG)" '.pages[$p]')
m=$(mark)
run NOTION_TOKEN="$TOKEN" -- --dry-run
expect_eq "dry run after a change: only that document" "would update: Roles" "$(grep '^would update' <<<"$OUT" | cut -d' ' -f1-3)"
run NOTION_TOKEN="$TOKEN"
expect_eq "change: exit 0" 0 "$RC"
check "change: the page holds the new rendering" page_matches "$P_RBAC" "$REPO/docs/security/rbac.md"
expect_eq "change: its row has the new SHA-256" "$(sha256sum "$REPO/docs/security/rbac.md" | cut -c1-64)" "$(row Roles SHA-256)"
others=$(tail -n +"$((m + 1))" "$TMP/requests.log" | awk '$4 != "control" && $1 != "GET" && $2 !~ /\/query$/' |
    grep -v -e "$(dashed $P_RBAC)" -e '^DELETE /v1/blocks/' -e '^PATCH /v1/pages/' -e '^PATCH /v1/blocks/' | wc -l)
expect_eq "change: no write addressed to another page" 0 "$others"
expect_eq "change: another page is untouched" "$before_cfg" "$(state | jq -c --arg p "$(dashed $P_CFG)" '.pages[$p]')"
expect_eq "change: still one row per document" 5 "$(state | jq '.rows | length')"

# --- a 500 on the 3rd append: the run fails, the rerun converges ---
# four appends at least: the top level, then each nested list's children
for i in 1 2 3; do
	printf '\n- nested %s\n  - deeper\n    - deepest\n' "$i" >>"$REPO/docs/config.md"
done
fakectl '{"fail_append": 3}'
run NOTION_TOKEN="$TOKEN"
expect_eq "500 on the 3rd append (not retried: it may have been applied): exit 16" 16 "$RC"
expect_eq "500: the row says the page is being replaced (no SHA-256)" "" "$(row Configuration SHA-256)"
run NOTION_TOKEN="$TOKEN"
expect_eq "500: the rerun succeeds" 0 "$RC"
check "500: the rerun converged to the new rendering" page_matches "$P_CFG" "$REPO/docs/config.md"
expect_eq "500: the row has the new SHA-256" "$(sha256sum "$REPO/docs/config.md" | cut -c1-64)" "$(row Configuration SHA-256)"

# --- a 429 storm in the middle of the appends ---
printf '\nStorm paragraph.\n' >>"$REPO/docs/config.md"
m=$(mark)
fakectl '{"storm_after_appends": 1, "storm_len": 3}'
run NOTION_TOKEN="$TOKEN"
expect_eq "429 storm mid-append: exit 0 (Retry-After honoured)" 0 "$RC"
expect_eq "429 storm: three 429s were answered" 3 "$(tail -n +"$((m + 1))" "$TMP/requests.log" | grep -c ' 429 storm$')"
check "429 storm: the page holds the new rendering" page_matches "$P_CFG" "$REPO/docs/config.md"

# --- an append applied twice (another writer): caught before the row ---
printf '\nDouble paragraph.\n' >>"$REPO/docs/config.md"
fakectl '{"double_append": true}'
run NOTION_TOKEN="$TOKEN"
expect_eq "an append applied twice: exit 18, the page is not declared complete" 18 "$RC"
expect_contains "double: the finding says how many blocks the page holds" "blocks after the append" "$OUT"
expect_eq "double: the row says the page is being replaced" "" "$(row Configuration SHA-256)"
run NOTION_TOKEN="$TOKEN"
expect_eq "double: the rerun succeeds" 0 "$RC"
check "double: the rerun converged" page_matches "$P_CFG" "$REPO/docs/config.md"

# --- a page unshared between the preflight and the write: 14, no partial row ---
printf '\nUnshare paragraph.\n' >>"$REPO/docs/api/errors.md"
old_sha=$(row "Error catalog" SHA-256)
m=$(mark)
fakectl "{\"unshare_after_get\": \"$P_ERR\"}"
run NOTION_TOKEN="$TOKEN"
expect_eq "page unshared after the preflight: exit 14" 14 "$RC"
expect_contains "unshared: NOTION_AUTH_TARGET_UNSHARED named" NOTION_AUTH_TARGET_UNSHARED "$OUT"
expect_eq "unshared: no write was sent" 0 "$(attempts_since "$m")"
expect_eq "unshared: the row is unchanged" "$old_sha" "$(row "Error catalog" SHA-256)"
fakectl '{"reshare": true}'

# --- the token revoked midway: 12, then the rerun converges ---
m=$(mark)
fakectl '{"revoke_after_writes": 2}'
run NOTION_TOKEN="$TOKEN"
expect_eq "token revoked midway: exit 12" 12 "$RC"
expect_contains "revoked: NOTION_AUTH_INVALID named" NOTION_AUTH_INVALID "$OUT"
expect_eq "revoked: the row says the page is being replaced" "" "$(row "Error catalog" SHA-256)"
fakectl '{"restore": true}'
run NOTION_TOKEN="$TOKEN"
expect_eq "revoked: the rerun with a valid token succeeds" 0 "$RC"
check "revoked: the rerun converged" page_matches "$P_ERR" "$REPO/docs/api/errors.md"

# --- an archived target page: fails before any write ---
printf '\nArchived paragraph.\n' >>"$REPO/docs/spec_sync_report.md"
fakectl "{\"archive\": \"$P_REPORT\"}"
m=$(mark)
run NOTION_TOKEN="$TOKEN" GITHUB_STEP_SUMMARY="$TMP/summary.md" -- --format github
expect_eq "archived target page: exit 18" 18 "$RC"
expect_contains "archived: the job summary names the code" 'FAILED `NOTION_AUTH_UNEXPECTED` (exit 18)' "$(cat "$TMP/summary.md" 2>&1)"
cat "$TMP/summary.md" >>"$TMP/all-output" 2>/dev/null
expect_eq "archived: a GitHub annotation says so" 1 "$(grep -c '^::error title=NOTION_AUTH_UNEXPECTED::.*archived' <<<"$OUT")"
expect_eq "archived: no write" 0 "$(attempts_since "$m")"
fakectl "{\"unarchive\": \"$P_REPORT\"}"
run NOTION_TOKEN="$TOKEN"
expect_eq "archived: after restoring the page the run succeeds" 0 "$RC"

# --- a large document: 5,000 lines, long paragraphs, a 300-row table ---
python3 - "$REPO/docs/big.md" <<'PY'
import sys
words = "the quick brown fox jumps over the lazy dog é 世界 𝄞".split()
out = ["# A large document", ""]
n = 0
while len(out) < 4300:
    n += 1
    para = " ".join(words[(n + i) % len(words)] for i in range(900 + n % 300))
    out += ["## Section %d" % n, "", para, "", "- item %d" % n, "  - nested %d" % n, ""]
out += ["| id | name | note |", "|---|---|---|"]
out += ["| %d | row %d | %s |" % (i, i, "x" * (i % 50)) for i in range(300)]
out.append("")
while len(out) < 5000:
    out.append("Line %d of the tail." % len(out))
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY
cat >>"$REPO/docs/notion-sync.yaml" <<EOF
  - name: Large
    source: docs/big.md
    page: $P_BIG
EOF
m=$(mark)
t0=$(date +%s%N)
run NOTION_TOKEN="$TOKEN" -- --format json
BIG_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq "large document: $(wc -l <"$REPO/docs/big.md") lines published, exit 0" 0 "$RC"
expect_eq "large document: Notion refused no request (no 400/413)" 0 \
    "$(tail -n +"$((m + 1))" "$TMP/requests.log" | awk '$3 == 400 || $3 == 413' | wc -l)"
check "large document: the page holds exactly its rendering" page_matches "$P_BIG" "$REPO/docs/big.md"
expect_eq "large document: the 300-row table (and its header) arrived" 301 \
    "$(state | jq --arg p "$(dashed $P_BIG)" '[.pages[$p][] | select(.type == "table")][0].table.children | length')"
expect_eq "large document: only it was written" "unchanged unchanged unchanged unchanged unchanged updated" \
    "$(jq -r '[.documents[].state] | join(" ")' <<<"$OUT" 2>&1)"
check "large document: no 429 from the fake's rate limit (pacer)" \
    test "$(tail -n +"$((m + 1))" "$TMP/requests.log" | grep -c ' rate$')" -eq 0

# --- with a database config: the scheduler lock and JOB_RUN_* events ---
if ! URL=$("$ROOT/scripts/pgtemp" start "$TMP/pg" 2>"$TMP/pg.err"); then
	not_ok "PostgreSQL starts (scripts/pgtemp): $(tail -n 2 "$TMP/pg.err")"
else
	printf 'database:\n  url: "%s"\n' "$URL" >"$TMP/ops.yaml"
	"$BIN/opsctl" --config "$TMP/ops.yaml" migrate >"$TMP/migrate.out" 2>&1 ||
	    not_ok "opsctl migrate: $(tail -n 2 "$TMP/migrate.out")"
	sql() { psql "$URL" -XAtq -c "$1"; }
	events() { sql "SELECT count(*) FROM ops_event WHERE event_type = '$1' AND data->>'job' = 'ops-notion-sync'"; }
	run NOTION_TOKEN="$TOKEN" -- --config "$TMP/ops.yaml"
	expect_eq "with a database: exit 0" 0 "$RC"
	expect_eq "with a database: JOB_RUN_SUCCEEDED recorded" 1 "$(events JOB_RUN_SUCCEEDED)"
	expect_eq "with a database: the job_run row" "SUCCEEDED" \
	    "$(sql "SELECT status FROM job_run WHERE job = 'ops-notion-sync' ORDER BY id DESC LIMIT 1")"
	expect_eq "with a database: the scheduler lock ops-notion-sync was taken and released" 1 \
	    "$(sql "SELECT count(*) FROM tb_scheduler_lock WHERE name = 'ops-notion-sync' AND holder IS NULL AND fencing_token > 0")"
	printf '\nRevoked with a database.\n' >>"$REPO/docs/security/rbac.md"
	fakectl '{"revoke": true}'
	run NOTION_TOKEN="$TOKEN" -- --config "$TMP/ops.yaml"
	fakectl '{"restore": true}'
	expect_eq "with a database, token revoked: exit 12" 12 "$RC"
	expect_eq "... JOB_RUN_FAILED recorded, naming the code" "1|NOTION_AUTH_INVALID" \
	    "$(sql "SELECT count(*), max(error) FROM job_run WHERE job = 'ops-notion-sync' AND status = 'FAILED'")"
	sql "UPDATE tb_scheduler_lock SET holder = 'other.example:4711:x', holder_host = 'other.example',
	     holder_pid = 4711, fencing_token = fencing_token + 1, acquired_at = now(), heartbeat_at = now(),
	     lease_until = now() + interval '1 hour' WHERE name = 'ops-notion-sync'" >/dev/null
	m=$(mark)
	run NOTION_TOKEN="$TOKEN" -- --config "$TMP/ops.yaml"
	expect_eq "with a database, the lock held elsewhere: exit 75" 75 "$RC"
	expect_contains "... naming the holder" "other.example" "$ERR"
	expect_eq "... and not a request to Notion" 0 "$(tail -n +"$((m + 1))" "$TMP/requests.log" | grep -vc ' control$')"
	sql "UPDATE tb_scheduler_lock SET holder = NULL, holder_host = NULL, holder_pid = NULL, holder_started_at = NULL,
	     holder_boot_id = NULL, acquired_at = NULL, heartbeat_at = NULL, lease_until = NULL, released_at = now(),
	     release_reason = 'test' WHERE name = 'ops-notion-sync'" >/dev/null
	run NOTION_TOKEN="$TOKEN" -- --config "$TMP/ops.yaml"
	expect_eq "with a database, the lock free again: exit 0" 0 "$RC"
	before=$(sql "SELECT count(*) FROM ops_event")
	run NOTION_TOKEN="$TOKEN"
	expect_eq "without a config (CI): exit 0 and no event" "0 $before" "$RC $(sql "SELECT count(*) FROM ops_event")"
fi

# --- every file read for publishing stays inside --root (issue 20 L2) ---
# A source that is (or passes through) a symbolic link is refused before
# any request, naming it: here one to /proc/self/environ (which held
# NOTION_TOKEN) and one through a linked directory.
ln -s /proc/self/environ "$REPO/docs/environ.md"
mkdir -p "$TMP/outside"
printf '# Outside\n\nOUTSIDE-MARKER\n' >"$TMP/outside/doc.md"
ln -s "$TMP/outside" "$REPO/docs/linked"
for src in docs/environ.md docs/linked/doc.md; do
	cat >"$REPO/docs/leak-sync.yaml" <<EOF
database: \$TEST_DB
documents:
  - name: Leak
    source: $src
    page: $P_BIG
EOF
	m=$(mark)
	run NOTION_TOKEN="$TOKEN" -- --manifest docs/leak-sync.yaml
	expect_eq "a source linked out of --root ($src): refused, exit 2" 2 "$RC"
	expect_contains "... the error names the file and says why" \
	    "$src is or passes through a symbolic link: refused" "$ERR"
	expect_eq "... and not a request to Notion" 0 \
	    "$(tail -n +"$((m + 1))" "$TMP/requests.log" | grep -vc ' control$')"
done
expect_eq "nothing from outside --root reached Notion" 0 \
    "$(state | grep -c -e TESTTOKEN -e OUTSIDE-MARKER)"

# --- the token never travels through the environment (issue 20 L6) ---
# The token comes from notion.token_file in --config; git rev-parse (the
# commit, no --commit given) is a child of the sync: its environment must
# not hold the token (it did when the config was exported with setenv).
mkdir -p "$TMP/fakebin"
cat >"$TMP/fakebin/git" <<EOF
#!/bin/sh
env >"$TMP/git.env"
echo fedcba9876543210fedcba9876543210fedcba98
EOF
chmod +x "$TMP/fakebin/git"
printf '%s\n' "$TOKEN" >"$TMP/notion.token"
printf 'notion:\n  api_base: "%s"\n  token_file: %s\n' "$FAKE" "$TMP/notion.token" >"$TMP/notion.yaml"
env -i PATH="$TMP/fakebin:$PATH" HOME="$TMP" TEST_DB="$DB" "$SYNC" --root "$REPO" \
    --cacert "$TMP/ca.crt" --max-rps "$RPS" --timeout 5 --config "$TMP/notion.yaml" \
    --dry-run >"$TMP/out" 2>"$TMP/err"
RC=$?
cat "$TMP/out" "$TMP/err" >>"$TMP/all-output"
expect_eq "the token and API base from --config's notion: section: exit 0" 0 "$RC"
expect_contains "... git rev-parse ran as a child (its commit is recorded)" "commit fedcba987654" "$(cat "$TMP/out")"
expect_eq "... and its environment holds no token" "0" "$(grep -c TESTTOKEN "$TMP/git.env" 2>&1)"

# --- the token never shows ---
check "the token appears in no output" bash -c "! grep -q TESTTOKEN '$TMP/all-output'"

# --- the systemd units ---
verify_units ops-notion-sync "$SYNC" "$TMP"

printf '# timings: first run %s requests in %s ms, large document %s ms (at %s requests/s)\n' "$FIRST_REQ" "$FIRST_MS" "$BIG_MS" "$RPS"
finish
