#!/usr/bin/env bash
# scripts/spec_consistency_check: the docs agree with the code, and every kind
# of drift is caught and named. Each negative case changes one thing in a
# copy of one document (or feeds one fake output of the code) and expects
# exactly that check, and only it, to fail.
. "$(dirname "$0")/../lib.sh"

DIR=$(mktemp -d /tmp/ops-spec.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
CHECK="$ROOT/scripts/spec_consistency_check"

# run_check ARGS...: sets OUT, RC
run_check() { OUT=$("$CHECK" "$@" 2>&1); RC=$?; }
# fails_with WHAT CHECK-NAME NEEDLE ARGS...: exactly one check fails, that one,
# and its line contains NEEDLE
fails_with() {
	local what=$1 name=$2 needle=$3; shift 3
	run_check "$@"
	local line
	line=$(grep "^FAIL $name:" <<<"$OUT")
	if [ "$RC" -eq 1 ] && [ "$(tail -n1 <<<"$OUT")" = "FAIL=1" ] && [[ "$line" == *"$needle"* ]]; then
		ok "$what: FAIL $name names it"
	else
		not_ok "$what: expected only 'FAIL $name: ...$needle...', exit 1; got exit $RC: $(grep '^FAIL' <<<"$OUT" | head -n 5)"
	fi
}

# --- the repository as it is ---------------------------------------------------
# The OpenAPI documents the scheduler lock routes of the contract, which are
# being added to ops-fcgi on another branch: until they are merged, this
# assertion fails, naming the two routes.
run_check
expect_eq "the docs agree with the code (scripts/spec_consistency_check on the repo)" "0 FAIL=0" "$RC $(tail -n1 <<<"$OUT")"
grep '^FAIL ' <<<"$OUT" | sed 's/^/# /'
expect_eq "one line per check, then the total" 14 "$(grep -cE '^(PASS|FAIL) |^FAIL=[0-9]+$' <<<"$OUT")"

# Every other check on its own, and the baseline for the cases below: the
# code's route list plus the two lock routes of the contract.
{ "$BIN/ops-fcgi" --routes
  printf 'GET\t/api/ops/scheduler/locks\nPOST\t/api/ops/scheduler/locks/{name}/release\n'; } >"$DIR/routes"
R=(--routes-from "$DIR/routes")
run_check "${R[@]}"
expect_eq "with the contract's lock routes, every check passes" "0 FAIL=0" "$RC $(tail -n1 <<<"$OUT")"
grep '^FAIL ' <<<"$OUT" | sed 's/^/# /'

# --- spec_sync_report.md ------------------------------------------------------------
sed '0,/^- \*\*Version\*\*: OpenAPI `info.version` [0-9.]*/s//- **Version**: OpenAPI `info.version` 9.9.9/' \
	"$ROOT/docs/spec_sync_report.md" >"$DIR/report-version.md"
fails_with "the latest report entry names another version than the OpenAPI" report-version \
	"the latest entry names version 9.9.9" "${R[@]}" --report "$DIR/report-version.md"
first=$(git -C "$ROOT" rev-parse --short "$(git -C "$ROOT" log --format=%h --reverse -- docs/api/errors.md | head -n1)^")
# (and the latest entry no longer names errors.md, whatever it says today)
sed -e "0,/^- \*\*Since\*\*: commit \`[0-9a-f]*\`/s//- **Since**: commit \`$first\`/" \
	-e 's|`docs/api/errors.md`|the error catalog|g' \
	"$ROOT/docs/spec_sync_report.md" >"$DIR/report-since.md"
fails_with "a spec file changed since the entry's commit and not in the entry" report-files \
	"docs/api/errors.md changed since $first and is not in the latest entry" \
	"${R[@]}" --report "$DIR/report-since.md"

# --- routes ---------------------------------------------------------------------
awk '/^  \/api\/ops\/status:$/ { skip = 1; next }
     skip && (/^  \// || /^[^ #]/) { skip = 0 }
     !skip' "$ROOT/docs/api/openapi.yaml" >"$DIR/no-status.yaml"
run_check "${R[@]}" --openapi "$DIR/no-status.yaml"
expect_contains "a route missing from the OpenAPI fails routes" \
	"FAIL routes: in code, not in the OpenAPI: GET /api/ops/status" "$OUT"
expect_contains "and console-routes, since the console's status page calls it" \
	"FAIL console-routes: the console calls a route the OpenAPI lacks: GET /api/ops/status" "$OUT"
expect_eq "and nothing else" "1 FAIL=2" "$RC $(tail -n1 <<<"$OUT")"
grep -v 'scheduler/locks/{name}/release' "$DIR/routes" >"$DIR/routes-less"
fails_with "a documented route the code does not have" routes \
	"in the OpenAPI, not in code: POST /api/ops/scheduler/locks/{name}/release" \
	--routes-from "$DIR/routes-less"

# --- the console's routes ---------------------------------------------------------
mkdir -p "$DIR/console/js/views"
cp "$ROOT/nginx/console/js/session.js" "$DIR/console/js/session.js"
sed "s|locks:        'GET /api/ops/scheduler/locks',|locks:        'GET /api/ops/scheduler/lock-list',|" \
	"$ROOT/nginx/console/js/api.js" >"$DIR/console/js/api.js"
fails_with "the console calling a route the OpenAPI lacks" console-routes \
	"the console calls a route the OpenAPI lacks: GET /api/ops/scheduler/lock-list" \
	"${R[@]}" --console "$DIR/console"
cp "$ROOT/nginx/console/js/api.js" "$DIR/console/js/api.js"
printf 'export const x = () => fetch("/api/ops/everything");\n' >"$DIR/console/js/views/rogue.js"
fails_with "a console file calling fetch() itself" console-routes \
	"calls fetch() outside js/api.js: js/views/rogue.js" \
	"${R[@]}" --console "$DIR/console"
rm "$DIR/console/js/views/rogue.js"

# --- the console's copy of the role matrix (js/session.js) against lib/rbac.c -----------
run_check "${R[@]}" --console "$DIR/console"
expect_eq "the console's copy (js/session.js) as it is: every check passes" "0 FAIL=0" "$RC $(tail -n1 <<<"$OUT")"
sed "s/AUDITOR: 'own requests'/AUDITOR: 'own tenant'/" "$ROOT/nginx/console/js/session.js" >"$DIR/console/js/session.js"
fails_with "a scope changed in the console's matrix" console-rbac \
	'AUDITOR export.cancel: code says "own requests", the console says "own tenant"' \
	"${R[@]}" --console "$DIR/console"
sed "/^	'lock.release':/s/, OPS_ADMIN: 'any tenant'//" "$ROOT/nginx/console/js/session.js" >"$DIR/console/js/session.js"
fails_with "a grant missing from the console's matrix" console-rbac \
	"not in the console: OPS_ADMIN lock.release (code: any tenant)" \
	"${R[@]}" --console "$DIR/console"
sed "/^	'ops.status':/s/{ /{ AUDITOR: 'any tenant', /" "$ROOT/nginx/console/js/session.js" >"$DIR/console/js/session.js"
fails_with "a grant the code does not make, in the console's matrix" console-rbac \
	"the console grants what the code does not: AUDITOR ops.status (any tenant)" \
	"${R[@]}" --console "$DIR/console"
cp "$ROOT/nginx/console/js/session.js" "$DIR/console/js/session.js"
# lib/rbac.c changed and the console not: AUDITOR may cancel any tenant's job
sed 's/^AUDITOR\texport.cancel\town requests$/AUDITOR\texport.cancel\tany tenant/' <("$BIN/opsctl" roles) >"$DIR/roles-changed"
run_check "${R[@]}" --console "$DIR/console" --roles-from "$DIR/roles-changed"
expect_contains "lib/rbac.c changed, the console's copy not: console-rbac fails" \
	'FAIL console-rbac: AUDITOR export.cancel: code says "any tenant", the console says "own requests"' "$OUT"
expect_eq "and rbac-doc (rbac.md was not changed either), nothing else" "1 FAIL=2" "$RC $(tail -n1 <<<"$OUT")"

# --- error codes ----------------------------------------------------------------
grep -v '^| `IDEMPOTENCY_CONFLICT`' "$ROOT/docs/api/errors.md" >"$DIR/errors-less.md"
fails_with "a catalog code missing from errors.md" errors-doc \
	"in the catalog, not in errors.md: IDEMPOTENCY_CONFLICT (409)" \
	"${R[@]}" --errors "$DIR/errors-less.md"
sed 's/^| `EXPORT_EXPIRED` | 410 |/| `EXPORT_EXPIRED` | 404 |/' "$ROOT/docs/api/errors.md" >"$DIR/errors-status.md"
fails_with "a wrong status in errors.md" errors-doc \
	"EXPORT_EXPIRED: catalog status 410, errors.md says 404" \
	"${R[@]}" --errors "$DIR/errors-status.md"
"$BIN/opsctl" error-codes >"$DIR/codes"
printf 'EXPORT_QUOTA_EXCEEDED\t429\ta fake new code\n' >>"$DIR/codes"
run_check "${R[@]}" --error-codes-from "$DIR/codes"
expect_contains "an undocumented catalog code fails errors-doc" \
	"FAIL errors-doc: in the catalog, not in errors.md: EXPORT_QUOTA_EXCEEDED (429)" "$OUT"
expect_contains "and the OpenAPI check, which no response uses it in" \
	"FAIL openapi-error-codes: in the catalog, used by no OpenAPI response: EXPORT_QUOTA_EXCEEDED" "$OUT"
expect_eq "and nothing else" "1 FAIL=2" "$RC $(tail -n1 <<<"$OUT")"
sed 's/x-error-codes: \[EXPORT_STATE_CONFLICT\]/x-error-codes: [EXPORT_STATE_CONFLICT, EXPORT_GONE]/' \
	"$ROOT/docs/api/openapi.yaml" >"$DIR/unknown-code.yaml"
fails_with "an OpenAPI response with a code the catalog does not have" openapi-error-codes \
	"DELETE /api/ops/audit-exports/{id} 409: EXPORT_GONE is not in the catalog" \
	"${R[@]}" --openapi "$DIR/unknown-code.yaml"
sed 's/x-error-codes: \[LOCK_NOT_FOUND\]/x-error-codes: [EXPORT_EXPIRED]/' \
	"$ROOT/docs/api/openapi.yaml" >"$DIR/wrong-status.yaml"
run_check "${R[@]}" --openapi "$DIR/wrong-status.yaml"
expect_contains "an OpenAPI code under another status than the catalog's" \
	"POST /api/ops/scheduler/locks/{name}/release 404: EXPORT_EXPIRED has status 410 in the catalog" "$OUT"
# (the shared 401 response, components/responses/Unauthorized, loses the header)
grep -v '^        WWW-Authenticate: {\$ref' "$ROOT/docs/api/openapi.yaml" >"$DIR/no-challenge.yaml"
run_check "${R[@]}" --openapi "$DIR/no-challenge.yaml"
expect_contains "a 401 without WWW-Authenticate breaks the conventions" \
	"FAIL openapi-conventions: GET /api/ops/status 401: no WWW-Authenticate header" "$OUT"
sed "s/\"code\":\"SERVICE_UNAVAILABLE\",\"message\":\"the ops service is not answering\"/\"code\":\"INTERNAL_ERROR\",\"message\":\"x\"/" \
	"$ROOT/nginx/ops-errors.conf" >"$DIR/ops-errors.conf"
fails_with "nginx's 502 page answering another code than errors.md says" nginx-errors \
	"nginx answers, errors.md does not list: 502 INTERNAL_ERROR" \
	"${R[@]}" --nginx-errors "$DIR/ops-errors.conf"

# --- configuration ------------------------------------------------------------------
sed 's/^| `export.ttl_hours` | integer | `24` |/| `export.ttl_hours` | integer | `48` |/' "$ROOT/docs/config.md" >"$DIR/config-default.md"
fails_with "a default changed in config.md" config-doc \
	'export.ttl_hours default: code says "24", config.md says "48"' \
	"${R[@]}" --config-doc "$DIR/config-default.md"
grep -v '^| `locks.stale_after_seconds`' "$ROOT/docs/config.md" >"$DIR/config-less.md"
fails_with "a key missing from config.md" config-doc "in code, not in config.md: locks.stale_after_seconds" \
	"${R[@]}" --config-doc "$DIR/config-less.md"
sed 's/^  # chunk_bytes: 1MiB$/  # chunk_bytes: 4MiB/' "$ROOT/docs/ops.example.yaml" >"$DIR/example-default.yaml"
fails_with "a wrong commented default in the example config" config-example \
	'export.chunk_bytes: commented default "4MiB", code default "1MiB"' \
	"${R[@]}" --config-example "$DIR/example-default.yaml"

# the example config is valid, with the secrets from the environment or from files
url="postgresql:///ops?host=/nonexistent"
secret=$(openssl rand -hex 32)
out=$(env -u OPS_CONFIG OPS_DATABASE_URL="$url" OPS_JWT_HS256_SECRET="$secret" OPS_DOWNLOAD_SECRET="$secret" \
	"$BIN/opsctl" --config "$ROOT/docs/ops.example.yaml" check-config 2>&1); rc=$?
expect_eq "docs/ops.example.yaml passes opsctl check-config (secrets in the environment)" \
	"0 config $ROOT/docs/ops.example.yaml is valid" "$rc $out"
printf '%s\n' "$url" >"$DIR/database_url"; printf '%s\n' "$secret" >"$DIR/jwt"
out=$(env -u OPS_CONFIG -u OPS_DATABASE_URL -u OPS_JWT_HS256_SECRET OPS_DATABASE_URL_FILE="$DIR/database_url" \
	OPS_JWT_HS256_SECRET_FILE="$DIR/jwt" "$BIN/opsctl" --config "$ROOT/docs/ops.example.yaml" check-config 2>&1); rc=$?
expect_eq "and with the secrets in files (*_FILE)" "0 config $ROOT/docs/ops.example.yaml is valid" "$rc $out"
# every commented-out key turned on, secret files pointing at real files: still valid
sed -E -e 's/^(  )# ([a-z][a-z0-9_]*: )/\1\2/' \
	-e "s|^  url_file: .*|  url_file: $DIR/database_url|" -e "s|^  migrate_url_file: .*|  migrate_url_file: $DIR/database_url|" \
	-e "s|^  hs256_secret_file: .*|  hs256_secret_file: $DIR/jwt|" \
	-e "s|^  download_secret_file: .*|  download_secret_file: $DIR/jwt|" \
	-e "s|^  download_secret_previous_file: .*|  download_secret_previous_file: $DIR/jwt|" -e "s|^  token_file: .*|  token_file: $DIR/jwt|" \
	-e "s|^  download_secret_verify_file: .*|  download_secret_verify_file: $DIR/jwt|" \
	-e 's|^  jwks_file: .*|  # jwks_file: (needs a real JWKS)|' \
	-e 's|^  jwks_url: .*|  # jwks_url: (needs a reachable JWKS)|' -e 's|^  jwks_ca_file: .*|  # jwks_ca_file: (with jwks_url)|' \
	-e 's|^  socket_path: .*|  # socket_path: (exclusive with listen_address)|' \
	"$ROOT/docs/ops.example.yaml" >"$DIR/all-keys.yaml"
out=$(env -u OPS_CONFIG -u OPS_DATABASE_URL -u OPS_JWT_HS256_SECRET "$BIN/opsctl" --config "$DIR/all-keys.yaml" check-config 2>&1); rc=$?
expect_eq "the example with every commented key enabled is valid too" "0 config $DIR/all-keys.yaml is valid" "$rc $out"

# --- roles --------------------------------------------------------------------------
sed 's/^| `AUDITOR` | any tenant | any tenant | any tenant | own requests |/| `AUDITOR` | any tenant | any tenant | any tenant | own tenant |/' \
	"$ROOT/docs/security/rbac.md" >"$DIR/rbac-cell.md"
fails_with "an rbac.md cell changed" rbac-doc \
	'AUDITOR export.cancel: code says "own requests", rbac.md says "own tenant"' \
	"${R[@]}" --rbac "$DIR/rbac-cell.md"
grep -v '^| `TENANT_ADMIN`' "$ROOT/docs/security/rbac.md" >"$DIR/rbac-row.md"
fails_with "a role missing from rbac.md" rbac-doc "not in rbac.md: TENANT_ADMIN export.cancel (code: own tenant)" \
	"${R[@]}" --rbac "$DIR/rbac-row.md"

# --- the Notion runbook ----------------------------------------------------------------
grep -v '^| `NOTION_AUTH_TARGET_UNSHARED`' "$ROOT/runbooks/notion-ci-token.md" >"$DIR/runbook-less.md"
fails_with "a NOTION_AUTH code removed from the runbook's table" notion-runbook \
	"not in the runbook table: NOTION_AUTH_TARGET_UNSHARED (exit 14)" \
	"${R[@]}" --runbook "$DIR/runbook-less.md"
sed 's/^## NOTION_AUTH_UPSTREAM$/## Upstream trouble/' "$ROOT/runbooks/notion-ci-token.md" >"$DIR/runbook-section.md"
fails_with "a NOTION_AUTH code without its runbook section" notion-runbook \
	'no section "## NOTION_AUTH_UPSTREAM" in the runbook' \
	"${R[@]}" --runbook "$DIR/runbook-section.md"

# --- usage -------------------------------------------------------------------------------
out=$("$CHECK" --bin "$DIR/nothing" 2>&1); rc=$?
expect_eq "missing binaries: exit 2, saying to build" "2 yes" "$rc $([[ $out == *"run make first"* ]] && echo yes)"
out=$("$CHECK" --bogus 2>&1); rc=$?
expect_eq "an unknown option: exit 2" 2 "$rc"

finish
