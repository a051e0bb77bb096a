#!/usr/bin/env bash
# The operator console (nginx/console/) in a real headless Chromium against
# the real stack: nginx, ops-fcgi, PostgreSQL and the timer loop that runs
# the runner, cleaner and healer at their systemd cadence
# (scripts/stack-lib.sh stack_timers_start, the same loop as make run).
#
# Here: the console's HTTP headers (curl) and its files (no inline code);
# then tests/console/console.test.mjs under node --test (playwright-core
# driving Debian's /usr/bin/chromium, axe-core), each of its tests turned
# into one ok / not ok line. Screenshots: build/test-logs/console/.
# CONSOLE_TESTS=REGEX runs only the browser tests whose names match (while
# working on one; later tests build on earlier ones).
# Runtime: 2 min 44 s before issue 21's tests (nearly idle machine); with the
# colour-scheme and 360 px sweeps (axe on every view) not yet timed idle.
. "$(dirname "$0")/../lib.sh"

test_dir console
SHOTS="$ROOT/build/test-logs/console"

# --- tools: a missing one is a failure, never a pass ---------------------------
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
need_tools node npm "$CHROMIUM"
setup_done "node $(node --version), npm and chromium are installed"

# playwright-core and axe from the committed lockfile, into the git-ignored
# tests/console/node_modules; again only when the lockfile changed
NM="$ROOT/tests/console/node_modules"
LOCK_SUM=$(sha256sum <"$ROOT/tests/console/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$NM/.lock-sha256" 2>/dev/null)" != "$LOCK_SUM" ]; then
	if (cd "$ROOT/tests/console" && npm ci --no-audit --no-fund --loglevel=error) >"$DIR/npm.log" 2>&1; then
		echo "$LOCK_SUM" >"$NM/.lock-sha256"
	else
		setup_failed "npm ci in tests/console ($(tail -n 3 "$DIR/npm.log" | tr '\n' ' '))"
	fi
fi
setup_done "npm ci: playwright-core and @axe-core/playwright as locked in tests/console/package-lock.json"

# --- the console's files: no inline script or style anywhere --------------------
CON="$ROOT/nginx/console"
expect_eq "no inline <script> (every script has src)" "" \
	"$(grep -rhoiE '<script[^>]*>' "$CON" --include='*.html' | grep -vi 'src=' || true)"
expect_eq "no <style> element and no style= attribute in the HTML" "" \
	"$(grep -rnoiE '<style|[[:space:]]style=' "$CON" --include='*.html' || true)"
expect_eq "no inline event handler attribute (onclick=...) in the HTML" "" \
	"$(grep -rnoiE '[[:space:]]on[a-z]+=' "$CON" --include='*.html' || true)"
expect_eq "the JavaScript never writes HTML strings or style attributes" "" \
	"$(grep -rnE 'innerHTML|outerHTML|insertAdjacentHTML|document\.write|setAttribute\(.style|\beval\(|new Function' "$CON" --include='*.js' | grep -vE '^[^:]+:[0-9]+:[[:space:]]*//' || true)"
expect_eq "only js/api.js calls fetch()" "js/api.js" \
	"$(cd "$CON" && grep -rlE '\bfetch\(' --include='*.js' . | sed 's|^\./||' | sort | tr '\n' ' ' | sed 's/ $//')"
expect_eq "the token never goes to localStorage" "" "$(grep -rn 'localStorage\.' "$CON" --include='*.js' || true)"

# --- the stack, with audit data and the timer loop --------------------------------
# stale_after 10 min: the lock planted for the force-release test stays HELD
# (the healer at its 1 min cadence would otherwise recover it first)
STACK_LOCKS_EXTRA="  stale_after_seconds: 600
  lease_seconds: 1200" \
STACK_EXPORT_EXTRA="  max_active_per_tenant: 20
  download_url_ttl_seconds: 120" \
	test_stack_up console
{ seed_audit acme 2000 step='30 seconds' && seed_audit globex 2000 step='30 seconds'; } ||
	setup_failed "seeding audit_log"
setup "the timer loop runs ops-export-runner, ops-export-cleaner and ops-lock-healer (cadence from jobs/systemd/*.timer)" \
	stack_timers_start "$DIR"

# --- headers of every console response (curl) --------------------------------------
CSP="default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
files=$(cd "$CON" && find . -type f | sed 's|^\./||' | sort)
bad=""
for f in "" $files; do
	api GET "/console/$f" ""
	[ "$CODE" = 200 ] || { bad+=" $f:status=$CODE"; continue; }
	[ "$(hdr Content-Security-Policy)" = "$CSP" ] || bad+=" $f:csp"
	[ "$(hdr X-Content-Type-Options)" = nosniff ] || bad+=" $f:nosniff"
	[ "$(hdr Referrer-Policy)" = no-referrer ] || bad+=" $f:referrer"
	[ "$(hdr X-Frame-Options)" = DENY ] || bad+=" $f:xfo"
	[ "$(hdr Cache-Control)" = no-cache ] || bad+=" $f:cache"
	[ -n "$(hdr ETag)" ] || bad+=" $f:etag"
	[ -n "$(hdr X-Request-Id)" ] || bad+=" $f:request-id"
	case $f in
	*.js) [[ "$(hdr Content-Type)" == text/javascript* ]] || bad+=" $f:type" ;;
	*.css) [[ "$(hdr Content-Type)" == text/css* ]] || bad+=" $f:type" ;;
	""|*.html) [[ "$(hdr Content-Type)" == "text/html; charset=utf-8" ]] || bad+=" $f:type" ;;
	esac
done
expect_eq "every console file ($(wc -w <<<"$files") and /console/) answers 200 with the exact CSP, nosniff, no-referrer, DENY, no-cache, ETag, X-Request-Id, its type" "" "$bad"
api GET /console/index.html ""
etag=$(hdr ETag)
api GET /console/index.html "" -H "If-None-Match: $etag"
expect_eq "a revalidation with the ETag is 304" 304 "$CODE"
expect_eq "... and keeps the CSP" "$CSP" "$(hdr Content-Security-Policy)"
api GET /console/nothing-here.js ""
expect_error "a missing console file" 404 NOT_FOUND
api GET /console ""
expect_eq "/console redirects to /console/" "301 /console/" "$CODE $(hdr Location)"

# --- the browser ------------------------------------------------------------------------
rm -rf "$SHOTS"; mkdir -p "$SHOTS"
export CONSOLE_URL="$STACK_URL" CONSOLE_DB_URL="$STACK_DB_URL" CONSOLE_STACK_DIR="$DIR" \
	CONSOLE_SHOTS="$SHOTS" CONSOLE_CHROMIUM="$CHROMIUM" CONSOLE_ROOT="$ROOT"
export TOK_SUPER=$(mint root-1 "" '["SUPER_ADMIN"]' 7200)
export TOK_OPS=$(mint ops-1 "" '["OPS_ADMIN"]' 7200)
export TOK_AUDITOR=$(mint auditor-1 "" '["AUDITOR"]' 7200)
export TOK_TENANT=$(mint alice acme '["TENANT_ADMIN"]' 7200)
export TOK_EXPIRED=$(mint alice acme '["TENANT_ADMIN"]' -3600)
(cd "$ROOT/tests/console" && timeout 900 node --test --test-reporter=tap --test-concurrency=1 \
	${CONSOLE_TESTS:+--test-name-pattern="$CONSOLE_TESTS"} console.test.mjs) \
	>"$DIR/node.tap" 2>"$DIR/node.err"
rc=$?
cp "$DIR/node.tap" "$SHOTS/node.tap"
# top-level tests only ("ok N - name", not the indented subtests)
sed -nE 's/^ok [0-9]+ - (.*)$/ok - browser: \1/p; s/^not ok [0-9]+ - (.*)$/not ok - browser: \1/p' "$DIR/node.tap" |
	sed -E 's/ # SKIP.*$/ (skipped: counted as a failure)/; s/^ok - (.*skipped: counted as a failure)$/not ok - \1/'
T_FAILED=$((T_FAILED + $(grep -cE '^not ok [0-9]+ - |# SKIP' "$DIR/node.tap")))
n=$(grep -cE '^(not )?ok [0-9]+ - ' "$DIR/node.tap")
if [ "$n" -eq 0 ] || { [ "$rc" -ne 0 ] && ! grep -qE '^not ok [0-9]+ - ' "$DIR/node.tap"; }; then
	not_ok "node --test ran (exit $rc, $n tests): $(tail -n 20 "$DIR/node.err" "$DIR/node.tap" | tr '\n' ' ' | cut -c1-600)"
fi
# the failures' details, for the log
grep -vE '^(ok|not ok) [0-9]+ - ' "$DIR/node.tap" | grep -E 'not ok|error:|expected|actual|message' | head -n 60 >&2 || true
cat "$DIR/node.err" >&2
finish
