#!/usr/bin/env bash
# devstack: the first run of a new user (CONTRACT §10, issue 19), through
# `make run` / `make stop` with PORT and OPS_VAR (a temp state directory
# instead of var/, so that a developer's own stack is never touched):
#   - a busy port stops make run before anything starts, saying which port
#     and what to do (PORT=NNNN make run), non-zero, nothing left running;
#   - make run on a free port: var/dev.env exports a ready TOKEN, and the
#     curl lines make run prints work as printed after `. var/dev.env`;
#   - make stop ends every process of the stack (found by the processes,
#     not the pid files) with an empty, a stale, a garbage and a missing
#     pid file, and again when nothing runs;
#   - opsctl without a config says what to do;
#   - scripts/bootstrap run installs what running needs and not the test
#     tools (the packages that own the commands and libraries the stack uses).
# Runtime: about 30 s.
. "$(dirname "$0")/../lib.sh"

need_tools make curl jq python3 pgrep dpkg-query "$BIN/opsctl"
W=$(mktemp -d /tmp/ops-devstack.XXXXXX)
VAR=$W/var
LISTENER=
suite_cleanup() {
	[ -n "$LISTENER" ] && kill "$LISTENER" 2>/dev/null
	OPS_VAR=$VAR "$ROOT/scripts/devstack" stop >/dev/null 2>&1
	rm -rf "$W"
}
trap suite_cleanup EXIT

# stack_procs: "pid comm" of every process whose command line names $VAR,
# and the children of those (nginx workers, PostgreSQL backends)
stack_procs() {
	local p pids=()
	for p in $(pgrep -f -- "$VAR/"); do
		[ "$p" = "$$" ] || [ "$p" = "$BASHPID" ] || pids+=("$p")
	done
	for p in "${pids[@]}"; do pids+=($(pgrep -P "$p")); done
	for p in $(printf '%s\n' "${pids[@]}" | sort -un); do
		kill -0 "$p" 2>/dev/null && echo "$p $(cat "/proc/$p/comm" 2>/dev/null)"
	done
}
alive() {  # alive <<< "pid comm" lines: those still running (same pid, same comm)
	local p c
	while read -r p c; do
		[ -n "$p" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$c" ] && printf '%s ' "$p ($c)"
	done
}

# --- opsctl without a config ------------------------------------------------------
out=$(OPS_CONFIG=$W/none.yaml "$BIN/opsctl" locks 2>&1); rc=$?
expect_eq "opsctl with a missing config exits 2" 2 "$rc"
expect_contains "... naming the file it tried" "$W/none.yaml: cannot open" "$out"
expect_contains "... and saying how to name one" "--config PATH or OPS_CONFIG=PATH" "$out"
expect_contains "... and where the example with every key is" "docs/ops.example.yaml" "$out"
if [ ! -e /etc/ops/ops.yaml ]; then
	out=$(env -u OPS_CONFIG "$BIN/opsctl" locks 2>&1)
	expect_contains "opsctl with no --config and no OPS_CONFIG: /etc/ops/ops.yaml and what to do" \
		"/etc/ops/ops.yaml: cannot open: No such file or directory"$'\n'"opsctl: hint: name the config with --config PATH" "$out"
else
	skip "opsctl with neither --config nor OPS_CONFIG (this machine has an /etc/ops/ops.yaml)"
fi
printf 'database: [\n' >"$W/broken.yaml"
out=$(OPS_CONFIG=$W/broken.yaml "$BIN/opsctl" locks 2>&1)
expect_not_contains "a config that is there but broken gets no hint about where configs come from" "hint:" "$out"

# --- scripts/bootstrap: run and test ------------------------------------------------
RUN_PKGS=" $("$ROOT/scripts/bootstrap" --list run | tr '\n' ' ')"
TEST_PKGS=" $("$ROOT/scripts/bootstrap" --list test | tr '\n' ' ')"
extra=""
for p in chromium clang mmdebstrap prometheus pgbouncer wrk nodejs npm systemd-container libcmocka-dev; do
	[[ "$RUN_PKGS" == *" $p "* ]] && extra+=" $p"
	[[ "$TEST_PKGS" == *" $p "* ]] || extra+=" (test lacks $p)"
done
expect_eq "bootstrap run has none of the test tools; bootstrap test has them all" "" "$extra"
lacking=""
for p in $RUN_PKGS; do [[ "$TEST_PKGS" == *" $p "* ]] || lacking+=" $p"; done
expect_eq "bootstrap test installs everything bootstrap run does" "" "$lacking"
# the packages that own what make run uses come with the run list: listed,
# or in its dependency closure (gcc-12 of gcc, postgresql-15 of postgresql)
CLOSURE=" $(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
	--no-replaces --no-enhances $RUN_PKGS 2>/dev/null | grep -v '^[ <]' | sort -u | tr '\n' ' ')"
owner() { dpkg-query -S "$(readlink -f "$1")" 2>/dev/null | head -n1 | cut -d: -f1; }
lacking=""
for f in cc pkg-config make psql nginx curl jq openssl runuser flock \
	/usr/lib/postgresql/*/bin/initdb; do
	[[ "$f" == /* ]] || f=$(command -v "$f") || { lacking+=" $f(not installed)"; continue; }
	pkg=$(owner "$f")
	[ -n "$pkg" ] && [[ "$CLOSURE" != *" $pkg "* ]] && lacking+=" $f($pkg)"
done
for pc in fcgi libpq jansson libcurl openssl yaml-0.1 zlib libzstd libcmark-gfm; do
	pkg=$(owner "$(pkg-config --variable=pcfiledir "$pc")/$pc.pc")
	[[ "$RUN_PKGS" == *" $pkg "* ]] || lacking+=" $pc.pc($pkg)"
done
expect_eq "bootstrap run lists the packages of every command and library make run uses" "" "$lacking"

# --- a busy port: make run stops before anything starts ----------------------------
BUSY=$(free_port)
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(600)' "$BUSY" &
LISTENER=$!
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$BUSY") 2>/dev/null && break; sleep 0.05; done
t0=$SECONDS
out=$(OPS_VAR=$VAR PORT=$BUSY make -C "$ROOT" run 2>&1); rc=$?
check "make run with port $BUSY taken fails" test "$rc" -ne 0
expect_contains "... saying which port is taken" "port $BUSY on 127.0.0.1 is already in use" "$out"
expect_contains "... and what to do" "PORT=$((BUSY + 1)) make run" "$out"
expect_contains "... naming the process that holds it" "by python3" "$out"
expect_not_contains "... before nginx was ever tried" "nginx" "$out"
expect_eq "... in $((SECONDS - t0)) s, with nothing started: no PostgreSQL cluster, no process of the stack" \
	"no pg:" "$([ -e "$VAR/pg" ] && echo "pg exists" || echo "no pg"):$(stack_procs | tr '\n' ' ')"
kill "$LISTENER" 2>/dev/null; wait "$LISTENER" 2>/dev/null; LISTENER=

# --- make run on a free port -------------------------------------------------------
PORT=$(free_port)
out=$(OPS_VAR=$VAR PORT=$PORT make -C "$ROOT" run 2>"$W/run.err"); rc=$?
if [ "$rc" -ne 0 ]; then
	cat "$W/run.err" >&2
	setup_failed "make run on port $PORT (exit $rc): $(tail -n 5 "$W/run.err" | tr '\n' ' ')"
fi
setup_done "make run on port $PORT, state in $VAR"
expect_eq "var/dev.env is mode 0600 (it holds a token)" 600 "$(stat -c %a "$VAR/dev.env")"
code=$( (. "$VAR/dev.env" && curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$OPS_BASE_URL/api/ops/status") )
expect_eq ". var/dev.env exports a ready TOKEN: /api/ops/status answers 200" 200 "$code"
code=$(env -i PATH="$PATH" bash -c ". '$VAR/dev.env' && bash -c 'curl -s -o /dev/null -w %{http_code} -H \"Authorization: Bearer \$TOKEN\" \$OPS_BASE_URL/readyz'")
expect_eq "... exported: a child process sees TOKEN and OPS_BASE_URL" 200 "$code"
src=$(grep -E '^  \. ' <<<"$out" | head -n1 | sed 's/^ *//')
expect_eq "make run prints how to source it" ". $VAR/dev.env" "$src"
line=$(grep -F '/api/ops/status' <<<"$out" | head -n1 | sed 's/^ *//')
expect_match "make run prints a curl line for /api/ops/status" '^curl .*\$TOKEN' "$line"
res=$(cd "$ROOT" && env -i PATH="$PATH" bash -c "$src && $line" 2>&1)
expect_eq "that line works as printed after the printed '. dev.env'" "true" \
	"$(jq -r 'type == "object" and (has("error") | not)' <<<"$res" 2>/dev/null || echo "$res")"
post=$(sed -n '/^  curl -s -X POST/,/audit-exports | jq \.$/p' <<<"$out")
res=$(cd "$ROOT" && env -i PATH="$PATH" bash -c "$src && ${post#  }" 2>&1)
expect_match "the printed export request works as printed (an export id comes back)" \
	'^[0-9a-f-]{36}$' "$(jq -r '.id // empty' <<<"$res" 2>/dev/null)"

# --- make stop, whatever the pid files say -------------------------------------------
before=$(stack_procs)
comms=$(cut -d' ' -f2 <<<"$before" | sort -u | tr '\n' ' ')
expect_match "the running stack has PostgreSQL, ops-fcgi, nginx and the timer loops" \
	'bash .*nginx .*ops-fcgi .*postgres' "$comms"
dead=$(sh -c 'echo $$')   # a pid that ran and is gone: stale
: >"$VAR/ops-fcgi.pid"
echo "$dead" >"$VAR/nginx/nginx.pid"
echo 'not a pid' >"$VAR/timers/ops-export-runner.pid"
rm -f "$VAR/timers/ops-lock-healer.pid"
out=$(OPS_VAR=$VAR make -C "$ROOT" stop 2>&1); rc=$?
expect_eq "make stop with an empty, a stale, a garbage and a missing pid file exits 0" 0 "$rc"
[ "$rc" -eq 0 ] || echo "$out" >&2
expect_eq "... and no process of the stack is left (of: $(tr '\n' ' ' <<<"$before"))" "" "$(alive <<<"$before")$(stack_procs)"
check "... PostgreSQL is stopped (pg_ctl status)" bash -c "! '$ROOT/scripts/pgtemp' status '$VAR/pg' >/dev/null"
out=$(OPS_VAR=$VAR make -C "$ROOT" stop 2>&1); rc=$?
expect_eq "make stop when nothing runs exits 0" 0 "$rc"
rm -rf "$VAR"
out=$(OPS_VAR=$VAR make -C "$ROOT" stop 2>&1); rc=$?
expect_eq "make stop without any state directory exits 0" 0 "$rc"
finish
