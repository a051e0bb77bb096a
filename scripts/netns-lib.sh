# netns-lib.sh: hosts with their own network stacks on this one machine, for
# tests/integration/netns.sh and scripts/bench-multihost (issue 25, CONTRACT
# §19). Sourced after scripts/stack-lib.sh, scripts/tls-lib.sh and a
# stack_up DIR (whose own ops-fcgi and nginx the caller stops). Bash, as
# root (ip netns).
#
# Topology: one network 10.250.0.0/24 on a bridge in a namespace of its own
# (the switch), and one network namespace per host, each with a veth into
# the bridge. The network lives in namespaces only, the machine's own
# namespace has no address in it, so two runs side by side never meet and
# the addresses can be fixed. Namespace names carry NETNS_ID ($$ unless
# set): ops<ID>-sw, -pg, -h1, -h2, -web, -cl, -ext.
#
#   pg   10.250.0.10  PostgreSQL on TCP 5432 only (no unix socket at all),
#                     TLS (a test CA; the certificate's name is
#                     NETNS_DB_NAME, db.ops.test) and SCRAM-SHA-256
#   h1   10.250.0.11  ops-fcgi on TCP 9000, the runner, cleaner and healer
#   h2   10.250.0.12  the same
#   web  10.250.0.2   nginx on port 80, upstream over the hosts' port 9000
#   cl   10.250.0.3   the operator / client: curl, wrk, psql as the owner
#   ext  10.250.0.20  "the internet": the fake Notion API over HTTPS
#                     (netns.sh)
#
# Every host has its own directory DIR/<name> with its own copy of what it
# reads (config, secrets, CA certificate, its database credential): no host
# reads another's file, and nothing crosses between hosts but TCP.
#
#   netns_up DIR            namespaces and the network
#   netns_pg DIR            move the stack's PostgreSQL (DIR/pg, running on
#                           its unix socket) to the pg namespace: passwords
#                           (SCRAM), certificates, pg_hba, restart on TCP;
#                           sets NETNS_OWNER_URL (the owner, from cl) and
#                           NETNS_DB_URL (the runtime URL without a password)
#   netns_host_up DIR NAME  start host NAME (h1, h2): ops-fcgi and the jobs in
#                           loops (as multihost-lib.sh), in a UTS namespace
#                           of its own (hostname NAME: the runner's instance)
#   netns_nginx DIR PORT HOST...  nginx in web on PORT over HOST...'s responders
#   netns_in NAME CMD...    run CMD in namespace NAME (pg, h1, ..., cl)
#   netns_pause DIR NAME PROG / netns_resume DIR NAME PROG
#   netns_down DIR          end every process in the namespaces (by ip netns
#                           pids), stop PostgreSQL, delete the namespaces
#
# Tunables: NETNS_PG_PLAIN=1 also lets the runtime roles in without TLS
# (host, still SCRAM; the bench's "TCP without TLS" figure; URL with
# sslmode=disable: NETNS_DB_URL_PLAIN, used by netns_host_up when
# NETNS_PLAIN_HOSTS=1). NETNS_RUNNER_EVERY (0.5),
# NETNS_CLEANER_EVERY (1), NETNS_HEALER_EVERY (1).

NETNS_ID=${NETNS_ID:-$$}
NETNS_PFX=ops$NETNS_ID
NETNS_NET=10.250.0
NETNS_DB_NAME=${NETNS_DB_NAME:-db.ops.test}
NETNS_FCGI_PORT=9000
NETNS_PG_PORT=5432
declare -A NETNS_ADDR=([pg]=$NETNS_NET.10 [h1]=$NETNS_NET.11 [h2]=$NETNS_NET.12
	[web]=$NETNS_NET.2 [cl]=$NETNS_NET.3 [ext]=$NETNS_NET.20)
NETNS_HOSTS="pg h1 h2 web cl ext"

netns_log() { printf 'netns: %s\n' "$*" >&2; }
netns_in() { local n=$1; shift; ip netns exec "$NETNS_PFX-$n" "$@"; }

netns_up() {
	local n
	ip netns add "$NETNS_PFX-sw" || return 1
	ip -n "$NETNS_PFX-sw" link add br0 type bridge || return 1
	ip -n "$NETNS_PFX-sw" link set br0 up
	for n in $NETNS_HOSTS; do
		ip netns add "$NETNS_PFX-$n" || return 1
		ip -n "$NETNS_PFX-$n" link set lo up
		ip -n "$NETNS_PFX-$n" link add eth0 type veth peer name "$n" netns "$NETNS_PFX-sw" || return 1
		ip -n "$NETNS_PFX-sw" link set "$n" master br0 up
		ip -n "$NETNS_PFX-$n" addr add "${NETNS_ADDR[$n]}/24" dev eth0
		ip -n "$NETNS_PFX-$n" link set eth0 up
	done
	# until the bridge forwards: a connect from cl to a closed port of pg
	# is refused (an answer) rather than unanswered
	local out
	for _ in $(seq 1 50); do
		out=$(netns_in cl timeout 1 bash -c "exec 3<>/dev/tcp/${NETNS_ADDR[pg]}/1" 2>&1) || true
		[[ "$out" == *refused* ]] && return 0
		sleep 0.1
	done
	netns_log "the bridge does not forward"
	return 1
}

netns_pg_bindir() {
	if [ -n "${PGTEMP_BINDIR:-}" ]; then echo "$PGTEMP_BINDIR"; return; fi
	dirname "$(printf '%s\n' /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -n1)"
}

netns_pw() { openssl rand -hex 18; }

# netns_url USER PASSWORD CAFILE [NAME]: the URL of the database over TLS,
# verified against CAFILE for the name NAME (default NETNS_DB_NAME)
netns_url() {
	printf 'postgresql://%s@%s:%s/ops?hostaddr=%s&sslmode=verify-full&sslrootcert=%s&channel_binding=require&password=%s' \
		"$1" "${4:-$NETNS_DB_NAME}" "$NETNS_PG_PORT" "${NETNS_ADDR[pg]}" "$3" "$2"
}

netns_pg() {
	local dir=$1 pg=$1/pg user=${PGTEMP_USER:-opspg} bin
	bin=$(netns_pg_bindir)
	tls_ca "$dir/ca" && tls_server_cert "$pg/tls" "$dir/ca" server "DNS:$NETNS_DB_NAME" || return 1
	tls_ca "$dir/other-ca" || return 1	# for the tests: a CA that signed nothing
	chown -R "$user:" "$pg/tls"
	NETNS_PW_OWNER=$(netns_pw); NETNS_PW_FCGI=$(netns_pw); NETNS_PW_JOBS=$(netns_pw)
	NETNS_PW_PROBE=$(netns_pw)
	# while the unix socket is still there: SCRAM verifiers for the roles,
	# and two probe roles for the tests (one with an md5 hash, one that
	# pg_hba trusts) that own nothing and are granted nothing
	psql -X -q -v ON_ERROR_STOP=1 "$STACK_DB_URL" >/dev/null <<-SQL || return 1
	SET password_encryption = 'scram-sha-256';
	ALTER ROLE ops PASSWORD '$NETNS_PW_OWNER';
	ALTER ROLE ops_fcgi PASSWORD '$NETNS_PW_FCGI';
	ALTER ROLE ops_jobs PASSWORD '$NETNS_PW_JOBS';
	SET password_encryption = 'md5';
	CREATE ROLE md5_probe LOGIN PASSWORD '$NETNS_PW_PROBE';
	CREATE ROLE trust_probe LOGIN;
	SQL
	"$STACK_ROOT/scripts/pgtemp" stop "$pg" || return 1
	{
		printf '\n# scripts/netns-lib.sh: TCP in the pg namespace only, TLS, SCRAM\n'
		printf "listen_addresses = '%s'\nport = %s\nunix_socket_directories = ''\n" \
			"${NETNS_ADDR[pg]}" "$NETNS_PG_PORT"
		printf "ssl = on\nssl_cert_file = '%s'\nssl_key_file = '%s'\n" "$pg/tls/server.crt" "$pg/tls/server.key"
		printf "ssl_min_protocol_version = 'TLSv1.3'\npassword_encryption = 'scram-sha-256'\n"
		printf "log_connections = on\nlog_line_prefix = '%%m [%%p] %%h %%q%%u@%%d '\n"
	} >>"$pg/data/postgresql.conf"
	{
		printf '# scripts/netns-lib.sh: no local line (there is no unix socket)\n'
		printf 'hostssl ops ops %s/32 scram-sha-256\n' "${NETNS_ADDR[cl]}"
		printf 'hostssl ops ops_fcgi,ops_jobs %s.0/24 scram-sha-256\n' "$NETNS_NET"
		[ "${NETNS_PG_PLAIN:-}" = 1 ] &&
			printf 'hostnossl ops ops_fcgi,ops_jobs %s.0/24 scram-sha-256\n' "$NETNS_NET"
		printf '# probes for the tests: what a client with channel_binding=require refuses\n'
		printf 'hostssl ops md5_probe %s/32 md5\n' "${NETNS_ADDR[cl]}"
		printf 'hostssl ops trust_probe %s/32 trust\n' "${NETNS_ADDR[cl]}"
	} >"$pg/data/pg_hba.conf"
	chown "$user:" "$pg/data/postgresql.conf" "$pg/data/pg_hba.conf"
	(cd "$pg" && netns_in pg runuser -u "$user" -- "$bin/pg_ctl" start -D "$pg/data" \
		-l "$pg/postgres.log" -w -t 30 >/dev/null 2>"$pg/pg_ctl.err") || {
		cat "$pg/pg_ctl.err" >&2; tail -n 20 "$pg/postgres.log" >&2; return 1; }
	mkdir -p "$dir/cl"
	cp "$dir/ca/ca.crt" "$dir/cl/ca.crt"
	NETNS_OWNER_URL=$(netns_url ops "$NETNS_PW_OWNER" "$dir/cl/ca.crt")
	# the hosts' URL: no user (the binaries set their role), no password
	# (each credential file adds its own), the CA file of the host
	NETNS_DB_URL="postgresql://$NETNS_DB_NAME:$NETNS_PG_PORT/ops?hostaddr=${NETNS_ADDR[pg]}&sslmode=verify-full&sslrootcert=@CAFILE@&channel_binding=require"
	NETNS_DB_URL_PLAIN="postgresql://$NETNS_DB_NAME:$NETNS_PG_PORT/ops?hostaddr=${NETNS_ADDR[pg]}&sslmode=disable"
	export NETNS_OWNER_URL
	netns_in cl psql -X -qAt "$NETNS_OWNER_URL" -c 'SELECT 1' >/dev/null || {
		netns_log "the owner cannot log in over TLS from cl"; tail -n 5 "$pg/postgres.log" >&2; return 1; }
}

# The program a host runs (as multihost-lib.sh's MH_HOST_MAIN): $1 name,
# $2 its dir, $3 bin. Each binary reads its own credential file as systemd's
# LoadCredential= would hand it (OPS_DATABASE_URL_FILE).
# shellcheck disable=SC2016
NETNS_HOST_MAIN='
host=$1 dir=$2 bin=$3
hostname "$host" || exit 1
loop() {  # loop PROG EVERY CREDENTIAL
	local prog=$1 every=$2 cred=$3
	while :; do
		if [ ! -e "$dir/$prog.off" ]; then
			OPS_DATABASE_URL_FILE=$dir/credentials/$cred \
				"$bin/$prog" --config "$dir/ops.yaml" >>"$dir/$prog.log" 2>&1
		fi
		sleep "$every"
	done
}
loop ops-fcgi 0.2 ops-fcgi.database_url &
loop ops-export-runner "$NETNS_RUNNER_EVERY" ops-jobs.database_url &
loop ops-export-cleaner "$NETNS_CLEANER_EVERY" ops-jobs.database_url &
loop ops-lock-healer "$NETNS_HEALER_EVERY" ops-jobs.database_url &
wait
'

netns_fcgi_listening() {
	[ -n "$(netns_in "$1" ss -Hltn "sport = :$NETNS_FCGI_PORT")" ]
}

netns_host_up() {
	local dir=$1 n=$2 hd=$1/$2 url=$NETNS_DB_URL
	mkdir -p "$hd/credentials" "$hd/download-spool"
	cp "$dir/ca/ca.crt" "$dir/jwt.secret" "$dir/download.secret" "$hd/"
	# the stack's config, every path of DIR moved to the host's own dir, no
	# database URL (the credentials say it), TCP instead of the socket
	sed -e "s|$dir/|$hd/|g" -e '/^  url: /d' -e '/^  migrate_url: /d' \
		-e "s|^  socket_path: .*|  listen_address: \"${NETNS_ADDR[$n]}:$NETNS_FCGI_PORT\"\n  allowed_peers: \"${NETNS_ADDR[web]}\"|" \
		"$dir/ops.yaml" >"$hd/ops.yaml"
	[ "${NETNS_PLAIN_HOSTS:-}" = 1 ] && url=$NETNS_DB_URL_PLAIN
	url=${url//@CAFILE@/$hd/ca.crt}
	(umask 077
	 printf '%s&password=%s' "$url" "$NETNS_PW_FCGI" >"$hd/credentials/ops-fcgi.database_url"
	 printf '%s&password=%s' "$url" "$NETNS_PW_JOBS" >"$hd/credentials/ops-jobs.database_url")
	NETNS_RUNNER_EVERY=${NETNS_RUNNER_EVERY:-0.5} NETNS_CLEANER_EVERY=${NETNS_CLEANER_EVERY:-1} \
	NETNS_HEALER_EVERY=${NETNS_HEALER_EVERY:-1} \
		netns_in "$n" unshare --uts bash -c "$NETNS_HOST_MAIN" netns-host "$n" "$hd" \
		"$STACK_ROOT/bin" </dev/null >>"$hd/host.log" 2>&1 &
	for _ in $(seq 1 200); do
		netns_fcgi_listening "$n" && return 0
		sleep 0.05
	done
	netns_log "host $n: ops-fcgi does not listen; its log:"
	tail -n 20 "$hd/ops-fcgi.log" >&2
	return 1
}

netns_pause() { : >"$1/$2/$3.off"; }
netns_resume() { rm -f "$1/$2/$3.off"; }

netns_nginx() {
	local dir=$1 port=$2 nd=$1/web/nginx servers='' n
	shift 2
	for n in "$@"; do
		servers+="server ${NETNS_ADDR[$n]}:$NETNS_FCGI_PORT max_fails=0; "
	done
	mkdir -p "$nd/static" "$dir/web/download-spool"
	cp "$STACK_ROOT"/nginx/ops-*.conf "$nd/"
	stack_console "$nd"
	sed "s|$dir/|$dir/web/|g" "$dir/ops.yaml" >"$dir/web/ops.yaml"
	stack_nginx_limits "$dir/web" "$nd/ops-download.conf"
	# which responder served a request: upstream.log
	sed -e "s|@PREFIX@|$nd|g" -e "s|@USER@|user nobody nogroup;|" \
		-e "s|server unix:@SOCKET@;|$servers|" \
		-e "s|@KEEPALIVE@|${STACK_KEEPALIVE:-32}|g" \
		-e "s|listen 127.0.0.1:@PORT@@LISTEN@;|listen ${NETNS_ADDR[web]}:$port;|" \
		-e "s|^\(\t*\)access_log $nd/access.log ops_json;|&\n\1access_log $nd/upstream.log ops_upstream;|" \
		-e "s|^\tinclude ops-http.conf;|&\n\tlog_format ops_upstream '\$upstream_addr \$status \$request_method \$uri';|" \
		"$STACK_ROOT/nginx/dev.conf.template" >"$nd/nginx.conf"
	netns_in web nginx -q -p "$nd" -c "$nd/nginx.conf" -t 2>"$nd/configtest.log" || {
		cat "$nd/configtest.log" >&2; return 1; }
	netns_in web nginx -p "$nd" -c "$nd/nginx.conf" || return 1
	NETNS_URL=http://${NETNS_ADDR[web]}:$port
	for _ in $(seq 1 50); do
		netns_in cl curl -s -o /dev/null "$NETNS_URL/healthz" && return 0
		sleep 0.1
	done
	netns_log "nginx does not answer at $NETNS_URL from cl"
	return 1
}

# netns_kill NAME: every process in namespace NAME, TERM then KILL
netns_kill() {
	local pids
	pids=$(ip netns pids "$NETNS_PFX-$1" 2>/dev/null) || return 0
	[ -n "$pids" ] || return 0
	kill -TERM $pids 2>/dev/null || true
	for _ in $(seq 1 50); do
		pids=$(ip netns pids "$NETNS_PFX-$1" 2>/dev/null) || return 0
		[ -n "$pids" ] || return 0
		sleep 0.1
	done
	kill -KILL $pids 2>/dev/null || true
}

netns_down() {
	local dir=$1 n
	for n in h1 h2 web cl ext; do netns_kill "$n"; done
	if [ -d "$dir/pg/data" ]; then
		"$STACK_ROOT/scripts/pgtemp" stop "$dir/pg" >/dev/null 2>&1 || true
	fi
	netns_kill pg
	for n in $NETNS_HOSTS sw; do
		ip netns del "$NETNS_PFX-$n" 2>/dev/null || true
	done
	return 0
}
