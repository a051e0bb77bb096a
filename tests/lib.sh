# tests/lib.sh: shared helpers for the integration tests (bash).
#
# Each tests/integration/*.sh sources this file and reports one line per
# assertion: "ok - what" or "not ok - what (detail)". scripts/run-tests counts
# those lines over all suites and prints "N passed, N failed, N skipped". A
# suite that exits non-zero without printing "not ok" also counts as one
# failure. A check that cannot run because a tool is missing calls
# skip "what (why)": it prints "skip - ...", never "ok - ...".
#
#   check "description" command args...    passes when the command exits 0
#   expect_eq "description" expected actual
#   expect_match "description" regex actual
#   expect_contains "description" needle haystack
#   expect_not_contains "description" needle haystack
#   need_tools tool...    a missing tool (a name on PATH, or a path such as
#                         $BIN/ops-x) fails the suite: "not ok", then exit
#   setup "what" command args...   a step that prepares the checks (a stack,
#                         a build, a fixture) is not a check: it prints
#                         "# setup: what" (not counted); when it fails,
#                         "not ok - setup: what (...)" and the suite ends.
#                         setup_done "what" / setup_failed "what" are the
#                         two halves for a step written inline.
#   note "text"           prints "# text": what the suite did (an action such
#                         as a kill), not counted; the checks that follow
#                         assert its effect
#   test_stack_up NAME    the integration prologue: a temp dir, a free port,
#                         cleanup on exit, and a whole stack started in it
#                         (scripts/stack-lib.sh) as a setup step

set -u
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BIN="$ROOT/bin"
T_FAILED=0

ok()     { printf 'ok - %s\n' "$*"; }
not_ok() { printf 'not ok - %s\n' "$*"; T_FAILED=$((T_FAILED + 1)); }
skip()   { printf 'skip - %s\n' "$*"; }

note()         { printf '# %s\n' "$*"; }
setup_done()   { printf '# setup: %s\n' "$*"; }
setup_failed() { not_ok "setup: $*"; finish; }
setup() {
	local desc=$1; shift
	if "$@"; then setup_done "$desc"; else setup_failed "$desc (command failed: $*)"; fi
}

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

need_tools() {
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null 2>&1 ||
			{ not_ok "$tool is installed (make builds bin/, scripts/bootstrap the rest)"; finish; }
	done
}

# verify_units NAME BIN DIR: systemd-analyze verify jobs/systemd/NAME.service
# and NAME.timer, the copies in DIR/units with ExecStart pointing at BIN (the
# binary under test: verify wants ExecStart= to exist). One ok or not ok
# line; skip without systemd-analyze.
verify_units() {
	local name=$1 bin=$2 dir=$3/units out
	if ! command -v systemd-analyze >/dev/null 2>&1; then
		skip "systemd-analyze verify (systemd-analyze is not installed)"
		return
	fi
	mkdir -p "$dir"
	sed "s|/usr/local/bin/$name|$bin|" "$ROOT/jobs/systemd/$name.service" >"$dir/$name.service"
	cp "$ROOT/jobs/systemd/$name.timer" "$dir/"
	if out=$(systemd-analyze verify --man=no "$dir/$name.service" "$dir/$name.timer" 2>&1) &&
	   [ -z "$out" ]; then
		ok "systemd-analyze verify: service and timer are clean"
	else
		not_ok "systemd-analyze verify: ${out:-failed}"
	fi
}

# free_port: print a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
	local p lo
	# below the kernel's ephemeral range: a port in it can be taken, between
	# this check and the bind, by any outgoing connection of another suite
	# (nginx then fails with "Address already in use")
	lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
	[ "$lo" -gt 20000 ] 2>/dev/null || lo=32768
	for _ in $(seq 1 50); do
		p=$(( RANDOM % (lo - 15000) + 15000 ))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"; return 0
		fi
	done
	return 1
}

# --- HTTP helpers for suites that run a stack (scripts/stack-lib.sh) --------

# mint SUB TENANT ROLES_JSON [TTL]: an HS256 token made with the openssl CLI
# (scripts/jwt-openssl), never with the project's own signer. TENANT may be
# "" for none.
mint() {
	local now payload
	now=$(date +%s)
	payload=$(jq -cn --arg sub "$1" --arg t "$2" --argjson roles "$3" \
		--argjson now "$now" --argjson ttl "${4:-3600}" \
		'{sub:$sub, roles:$roles, iss:"ops-dev", aud:"ops-api", iat:$now, exp:($now+$ttl)}
		 + (if $t == "" then {} else {tenant_id:$t} end)')
	"$ROOT/scripts/jwt-openssl" hs256 "$STACK_SECRET_FILE" '{"alg":"HS256","typ":"JWT"}' "$payload"
}

# api METHOD PATH TOKEN [curl args...]: sets CODE, BODY, HDRS (headers,
# CR stripped). TOKEN may be "" for none. Uses $T_TMP for scratch files.
api() {
	local m=$1 p=$2 tok=$3; shift 3
	local auth=()
	[ -n "$tok" ] && auth=(-H "Authorization: Bearer $tok")
	CODE=$(curl -s -o "$T_TMP/body" -D "$T_TMP/hdrs" -w '%{http_code}' \
		-X "$m" "${auth[@]}" "$@" "$STACK_URL$p")
	BODY=$(cat "$T_TMP/body"); HDRS=$(tr -d '\r' <"$T_TMP/hdrs")
}

# hdr NAME: a header of the last api answer (first one)
hdr() { printf '%s\n' "$HDRS" | grep -i "^$1:" | head -n1 | cut -d' ' -f2- ; }

# expect_error WHAT STATUS CODE: the last answer is that error in the
# standard format with request_id equal to the X-Request-Id header
expect_error() {
	local what=$1 status=$2 code=$3 rid hrid
	rid=$(jq -r '.error.request_id // empty' <<<"$BODY" 2>/dev/null)
	hrid=$(hdr X-Request-Id)
	if [ "$CODE" = "$status" ] && [ "$(jq -r '.error.code' <<<"$BODY" 2>/dev/null)" = "$code" ] &&
	   [ -n "$rid" ] && [ "$rid" = "$hrid" ] && [[ "$(hdr Content-Type)" == application/json* ]] &&
	   jq -e '(.error.message|type=="string") and (.error.details|type=="array")' <<<"$BODY" >/dev/null 2>&1; then
		ok "$what: $status $code"
	else
		not_ok "$what: expected $status $code, got $CODE ${BODY:0:300}"
	fi
}

# sql QUERY: run a query on the stack's database, unaligned output
sql() { psql -X -qAt -v ON_ERROR_STOP=1 "$STACK_DB_URL" -c "$1"; }
# seed_audit TENANT ROWS [VAR=VALUE...]: ROWS audit_log rows of TENANT from
# tests/seed.sql, the one seed of the tests, benchmarks and make run (its
# header lists the variables: from, step, per, words). Into $STACK_DB_URL,
# or $SEED_DB_URL when set. 1 when psql fails (its error on stderr).
seed_audit() {
	local args=(-v "tenant=$1" -v "rows=$2") v
	shift 2
	for v in "$@"; do args+=(-v "$v"); done
	psql -X -q -v ON_ERROR_STOP=1 "${args[@]}" -f "$ROOT/tests/seed.sql" \
		"${SEED_DB_URL:-$STACK_DB_URL}" >/dev/null
}
# wait_for SECONDS CMD...: run CMD (its stdout discarded) until it succeeds;
# 1 when SECONDS pass first. The one poll-with-a-deadline for a condition
# that is not SQL (wait_sql for one that is).
wait_for() {
	local end=$(( $(date +%s) + $1 )); shift
	while :; do
		"$@" >/dev/null && return 0
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.1
	done
}

# wait_sql SECONDS QUERY: until QUERY prints "t"; 1 when the deadline
# passes. Wait for a condition like this, never for a fixed time.
wait_sql() {
	local end=$(( $(date +%s) + $1 ))
	while [ "$(date +%s)" -le "$end" ]; do
		[ "$(sql "$2")" = t ] && return 0
		sleep 0.02
	done
	return 1
}

# job_field JOB EXPR: EXPR (a column, or an expression over them) of the
# export job JOB
job_field() { sql "SELECT $2 FROM tb_audit_export_job WHERE id = '$1'"; }
# wait_chunks JOB N [SECONDS]: until the job has committed N chunks; 1 when
# SECONDS (default 20) pass first
wait_chunks() {
	wait_sql "${3:-20}" "SELECT progress_chunks >= $2 FROM tb_audit_export_job WHERE id = '$1'"
}

# --- the prologue of a suite that runs a stack (scripts/stack-lib.sh) --------

# test_dir NAME: DIR (a new /tmp/ops-NAME.XXXXXX), T_TMP (the same), PORT (a
# free one), scripts/stack-lib.sh sourced, and on exit: suite_cleanup (when
# the suite defines one: its own processes), stack_down DIR, rm -rf DIR.
# Does nothing when DIR is set. A suite that writes files the config names
# (keys, a JWKS) calls it before test_stack_up.
test_dir() {
	[ -n "${DIR:-}" ] && return 0
	declare -F stack_up >/dev/null || . "$ROOT/scripts/stack-lib.sh"
	DIR=$(mktemp -d "/tmp/ops-$1.XXXXXX") || setup_failed "a temp dir (mktemp)"
	T_TMP=$DIR
	PORT=$(free_port) || setup_failed "a free port on 127.0.0.1"
	trap test_cleanup EXIT
}
test_cleanup() {
	if declare -F suite_cleanup >/dev/null; then suite_cleanup; fi
	declare -F stack_down >/dev/null && stack_down "$DIR"
	rm -rf "$DIR"
}

# test_stack_up NAME [WHAT]: test_dir NAME, then the whole stack (stack_up
# DIR PORT; the STACK_* inputs of stack-lib.sh as prefixes of this call) as
# a setup step. Its stderr goes to the suite's stderr; when it fails, the
# suite ends with "not ok - setup: ..." and its last lines.
test_stack_up() {
	local err
	test_dir "$1"
	err=$(mktemp "/tmp/ops-$1-up.XXXXXX")
	if stack_up "$DIR" "$PORT" 2>"$err"; then
		cat "$err" >&2; rm -f "$err"
		setup_done "stack up on 127.0.0.1:$PORT in $DIR${2:+ ($2)}"
		return 0
	fi
	cat "$err" >&2
	set -- "$1" "$(tail -n 5 "$err" | tr '\n' ' ')"
	rm -f "$err"
	setup_failed "stack up on 127.0.0.1:$PORT in $DIR: $2"
}
