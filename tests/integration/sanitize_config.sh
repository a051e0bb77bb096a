#!/usr/bin/env bash
# sanitize_config: a sanitizer.extra_keys entry that normalizes to the empty
# string ("_-") used to pass the config and crash every binary on its first
# audit write (issue 9). Each binary that builds sanitizer rules must now
# refuse such a config at load time with file:line, exit 2, and not crash.
# No database is needed: the config is rejected before any connection.
# Runtime: under a second.
. "$(dirname "$0")/../lib.sh"

DIR=$(mktemp -d /tmp/ops-sanitize-config.XXXXXX)
trap 'rm -rf "$DIR"' EXIT

printf 'sanitizer:\n  extra_keys: [ssn, "_-"]\n' >"$DIR/bad.yaml"
printf 'sanitizer:\n  extra_keys: [ssn, "pin-code"]\n' >"$DIR/good.yaml"

# run_bad NAME CMD...: CMD must exit 2 naming bad.yaml:2 and the key.
run_bad() {
	local name=$1 out rc; shift
	out=$("$@" 2>&1); rc=$?
	expect_eq "$name exits 2 on an extra key that normalizes to empty" 2 "$rc"
	expect_contains "$name names file:line of the bad key" "bad.yaml:2: sanitizer.extra_keys" "$out"
}

for b in ops-fcgi ops-export-runner ops-lock-healer opsctl; do
	[ -x "$BIN/$b" ] || { not_ok "$b is built (run make all)"; finish; }
done
run_bad ops-fcgi "$BIN/ops-fcgi" --config "$DIR/bad.yaml"
run_bad ops-export-runner "$BIN/ops-export-runner" --config "$DIR/bad.yaml"
run_bad ops-lock-healer "$BIN/ops-lock-healer" --config "$DIR/bad.yaml"
run_bad "opsctl lock-release" "$BIN/opsctl" --config "$DIR/bad.yaml" lock-release some-lock --reason "test of a bad config"
run_bad "opsctl check-config" "$BIN/opsctl" --config "$DIR/bad.yaml" check-config

# the control: the same file with a real word passes the syntax check
out=$("$BIN/opsctl" --config "$DIR/good.yaml" check-config 2>&1)
expect_not_contains "a valid extra key is accepted by the config" "sanitizer.extra_keys" "$out"
finish
