#!/usr/bin/env bash
# docs/api/openapi.yaml passes the Redocly CLI lint (recommended ruleset,
# redocly.yaml) with no error and no warning. The CLI is the pinned version
# of scripts/redocly, installed into build/npm on first use (npm registry).
. "$(dirname "$0")/../lib.sh"

DIR=$(mktemp -d /tmp/ops-lint.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
pinned=$(sed -n 's/^REDOCLY_VERSION=//p' "$ROOT/scripts/redocly")

v=$("$ROOT/scripts/redocly" --version 2>"$DIR/install.err"); rc=$?
[ "$rc" -eq 0 ] || cat "$DIR/install.err" >&2
[ "$(tail -n1 <<<"$v")" = "$pinned" ] ||
	setup_failed "the pinned @redocly/cli $pinned is installed in build/npm and runs (got '$(tail -n1 <<<"$v")')"
setup_done "@redocly/cli $pinned in build/npm"
check "the CLI is not installed globally" test ! -e "$(npm root -g 2>/dev/null)/@redocly/cli"

# lint LABEL FILE: sets ERRS, WARNS from the JSON report
lint() {
	local t0=$SECONDS
	(cd "$ROOT" && "$ROOT/scripts/redocly" lint "$1" --format=json) >"$DIR/report.json" 2>"$DIR/lint.err"
	LINT_RC=$?
	LINT_SECONDS=$((SECONDS - t0))
	ERRS=$(jq -r '.totals.errors // "?"' "$DIR/report.json" 2>/dev/null || echo "?")
	WARNS=$(jq -r '.totals.warnings // "?"' "$DIR/report.json" 2>/dev/null || echo "?")
}

lint "$ROOT/docs/api/openapi.yaml"
if [ "$LINT_RC" -eq 0 ] && [ "$ERRS" = 0 ] && [ "$WARNS" = 0 ]; then
	ok "redocly lint: $ERRS errors, $WARNS warnings (@redocly/cli $pinned, recommended ruleset, ${LINT_SECONDS} s)"
else
	not_ok "redocly lint: $ERRS errors, $WARNS warnings (exit $LINT_RC)"
	jq -r '.problems[]? | "  \(.severity) \(.ruleId): \(.message) at \(.location[0].pointer)"' "$DIR/report.json" | head -n 30
	tail -n 20 "$DIR/lint.err" >&2
fi
check "lint takes under 60 s once installed (${LINT_SECONDS} s)" test "$LINT_SECONDS" -lt 60

# the linter really looks: a response without a description and a dangling
# $ref are reported as errors
sed -e '0,/description: The responder is alive\./s//x-nothing: 1/' \
    -e 's|#/components/schemas/ExportJobList|#/components/schemas/NoSuchSchema|' \
	"$ROOT/docs/api/openapi.yaml" >"$DIR/broken.yaml"
lint "$DIR/broken.yaml"
check "a broken copy fails the lint ($ERRS errors)" test "$LINT_RC" -ne 0 -a "$ERRS" != 0 -a "$ERRS" != "?"
expect_contains "the dangling \$ref is reported" "no-unresolved-refs" "$(jq -r '[.problems[].ruleId] | join(" ")' "$DIR/report.json" 2>/dev/null)"

finish
