# multihost-lib.sh: several "hosts" on this one machine, for the multi-host
# suite (tests/integration/multihost.sh) and bench (scripts/bench-multihost).
# Sourced after scripts/stack-lib.sh and a stack_up (normally with
# STACK_POOLER=pgbouncer). Bash, as root (unshare needs it).
#
# A host is a UTS + PID (+ mount, for its own /proc) namespace started with
# `unshare --uts --pid --fork --mount-proc`: its own hostname and process
# table, the machine's network (loopback and unix sockets only) and files.
# In it run what systemd runs on a real host: ops-fcgi (restarted when it
# exits, like Restart=always) and the timer-launched jobs in loops
# (ops-export-runner every MH_RUNNER_EVERY s, ops-export-cleaner every
# MH_CLEANER_EVERY s, ops-lock-healer every MH_HEALER_EVERY s).
#
# MH_DIR is the stack's DIR (set it before calling anything).
#
#   mh_host_up NAME          start host NAME (files in MH_DIR/h-NAME, its
#                            responder's socket MH_DIR/h-NAME/ops-fcgi.sock)
#   mh_host_kill NAME        SIGKILL the whole host (its PID namespace's init)
#   mh_pids NAME PROG        pids (as seen from here) of PROG on host NAME
#   mh_pause NAME PROG / mh_resume NAME PROG
#                            stop / start relaunching PROG on host NAME (a
#                            run in progress goes on; mh_wait_gone waits)
#   mh_wait_gone NAME PROG   until no PROG runs on host NAME (30 s at most)
#   mh_nginx PORT NAME...    (re)start the stack's nginx with one upstream
#                            over the responders of the hosts NAME...
#   mh_down                  kill every host
#
# Tunables: MH_RUNNER_EVERY (0.5), MH_CLEANER_EVERY (5), MH_HEALER_EVERY (1).

MH_RUNNER_EVERY=${MH_RUNNER_EVERY:-0.5}
MH_CLEANER_EVERY=${MH_CLEANER_EVERY:-5}
MH_HEALER_EVERY=${MH_HEALER_EVERY:-1}

# The program run as PID 1 of a host: $1 name, $2 dir, $3 config, $4 bin.
# shellcheck disable=SC2016
MH_HOST_MAIN='
host=$1 dir=$2 cfg=$3 bin=$4
hostname "$host" || exit 1
loop() {  # loop PROG EVERY ARGS...: run PROG again EVERY s after it ends
	local prog=$1 every=$2; shift 2
	while :; do
		if [ ! -e "$dir/$prog.off" ]; then
			"$bin/$prog" --config "$cfg" "$@" >>"$dir/$prog.log" 2>&1
		fi
		sleep "$every"
	done
}
loop ops-fcgi 0.2 &
loop ops-export-runner "$MH_RUNNER_EVERY" &
loop ops-export-cleaner "$MH_CLEANER_EVERY" &
loop ops-lock-healer "$MH_HEALER_EVERY" &
wait
'

mh_host_up() {
	local dir=$MH_DIR name=$1 hd=$MH_DIR/h-$1 upid init=''
	mkdir -p "$hd"
	chmod 755 "$hd"
	rm -f "$hd"/*.off
	sed -e "s|^  socket_path: .*|  socket_path: $hd/ops-fcgi.sock|" \
		"$dir/ops.yaml" >"$hd/ops.yaml"
	MH_RUNNER_EVERY=$MH_RUNNER_EVERY MH_CLEANER_EVERY=$MH_CLEANER_EVERY \
	MH_HEALER_EVERY=$MH_HEALER_EVERY \
		unshare --uts --pid --fork --mount-proc \
		bash -c "$MH_HOST_MAIN" mh-host "host-$name" "$hd" "$hd/ops.yaml" \
		"$STACK_ROOT/bin" </dev/null >>"$hd/host.log" 2>&1 &
	upid=$!
	echo "$upid" >"$hd/unshare.pid"
	for _ in $(seq 1 100); do
		init=$(pgrep -P "$upid" | head -n1)
		[ -n "$init" ] && break
		sleep 0.05
	done
	[ -n "$init" ] || { stack_log "host $name did not start"; return 1; }
	echo "$init" >"$hd/init.pid"
	for _ in $(seq 1 200); do
		[ -S "$hd/ops-fcgi.sock" ] && return 0
		sleep 0.05
	done
	stack_log "host $name: ops-fcgi did not start; its log:"
	tail -n 20 "$hd/ops-fcgi.log" >&2
	return 1
}

mh_host_kill() {
	local hd=$MH_DIR/h-$1 init upid
	[ -f "$hd/init.pid" ] || return 0
	init=$(cat "$hd/init.pid"); upid=$(cat "$hd/unshare.pid")
	# SIGKILL of a PID namespace's init kills every process in it
	kill -KILL "$init" 2>/dev/null || true
	for _ in $(seq 1 100); do
		kill -0 "$upid" 2>/dev/null || break
		sleep 0.05
	done
	wait "$upid" 2>/dev/null || true
	rm -f "$hd/init.pid" "$hd/unshare.pid" "$hd/ops-fcgi.sock"
}

mh_pids() {
	local init
	init=$(cat "$MH_DIR/h-$1/init.pid" 2>/dev/null) || return 0
	# -f: a process name is cut to 15 characters (ops-export-runn)
	pgrep --ns "$init" --nslist pid -f "^$STACK_ROOT/bin/$2 --config"
}

mh_pause() { : >"$MH_DIR/h-$1/$2.off"; }
mh_resume() { rm -f "$MH_DIR/h-$1/$2.off"; }

mh_wait_gone() {
	for _ in $(seq 1 300); do
		[ -z "$(mh_pids "$1" "$2")" ] && return 0
		sleep 0.1
	done
	return 1
}

mh_nginx() {
	local dir=$MH_DIR port=$1 servers='' n
	shift
	for n in "$@"; do
		# max_fails=0: a responder that is down (restart, crash) costs a
		# failed connect and the next upstream, and is never marked down
		# for fail_timeout (both down at once would answer 502 for 10 s)
		servers+="server unix:$dir/h-$n/ops-fcgi.sock max_fails=0; "
	done
	stack_nginx_stop "$dir"
	stack_nginx_start "$dir" "$port" || return 1
	sed -i "s|server unix:$dir/run/ops-fcgi.sock;|$servers|" "$dir/nginx/nginx.conf"
	stack_nginx_stop "$dir"
	nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" || return 1
	for _ in $(seq 1 50); do
		curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && return 0
		sleep 0.1
	done
	return 1
}

mh_down() {
	local hd
	for hd in "$MH_DIR"/h-*; do
		[ -d "$hd" ] && mh_host_kill "${hd##*/h-}"
	done
	return 0
}
