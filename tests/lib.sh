# tests/lib.sh: shared helpers for the integration tests (bash).
#
# Each tests/integration/*.sh sources this file and reports one line per
# assertion: "ok - what" or "not ok - what (detail)". scripts/run-tests counts
# those lines over all suites and prints "N passed, N failed". A suite that
# exits non-zero without printing "not ok" also counts as one failure.
#
#   check "description" command args...    passes when the command exits 0
#   expect_eq "description" expected actual
#   expect_match "description" regex actual
#   expect_contains "description" needle haystack
#   expect_not_contains "description" needle haystack

set -u
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BIN="$ROOT/bin"
T_FAILED=0

ok()     { printf 'ok - %s\n' "$*"; }
not_ok() { printf 'not ok - %s\n' "$*"; T_FAILED=$((T_FAILED + 1)); }

check() {
	local desc=$1; shift
	if "$@"; then ok "$desc"; else not_ok "$desc (command failed: $*)"; fi
}

expect_eq() {
	if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1 (expected '$2', got '$3')"; fi
}

expect_match() {
	if [[ "$3" =~ $2 ]]; then ok "$1"; else not_ok "$1 (expected match /$2/, got '$3')"; fi
}

expect_contains() {
	if [[ "$3" == *"$2"* ]]; then ok "$1"; else not_ok "$1 (expected to contain '$2', got '${3:0:400}')"; fi
}

expect_not_contains() {
	if [[ "$3" != *"$2"* ]]; then ok "$1"; else not_ok "$1 (must not contain '$2')"; fi
}

# finish: call at the end of a suite; exit status tells run-tests the outcome.
finish() { [ "$T_FAILED" -eq 0 ]; exit $?; }

# free_port: print a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$(( (RANDOM % 20000) + 20000 ))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"; return 0
		fi
	done
	return 1
}
