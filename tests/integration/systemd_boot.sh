#!/usr/bin/env bash
# The units booted under a real systemd: `make install DESTDIR=` into an
# overlay of a cached Debian 12 rootfs (scripts/container-rootfs), booted
# with systemd-nspawn; PostgreSQL stays on this host, its socket directory
# bind-mounted into the container at /run/postgresql. Proves (issue 16):
# socket activation, the timers (shortened by drop-ins, never by editing the
# units) running an export to DONE with no manual step, a runner killed with
# `systemctl kill -s KILL` recovered by the healer timer and resumed, the
# `systemd-analyze security` scores (bound asserted, recorded in
# docs/ops/systemd-security.md), the hardening under a real boot, JSON logs
# in the journal with no secret, a download surviving
# `systemctl stop ops-fcgi.service`, and the socket going away on stop.
#
# Needs root, systemd-nspawn, mmdebstrap (first run only: ~20-40 s to build
# the rootfs), nsenter. About 20-50 s with the rootfs cached (measured 18 s
# idle, 46 s with both cores busy).
. "$(dirname "$0")/../lib.sh"

# --- tools ---------------------------------------------------------------------
need_tools systemd-nspawn nsenter mmdebstrap psql jq curl openssl
[ "$(id -u)" -eq 0 ] || { not_ok "runs as root (systemd-nspawn, overlay mounts)"; finish; }

DIR=$(mktemp -d /tmp/ops-sdboot.XXXXXX)
T_TMP=$DIR
M="$DIR/root"          # the container's root: overlay of the cached rootfs
NSPID=""               # systemd-nspawn (this host's pid)
CPID=""                # the container's systemd (this host's pid)
PG="$DIR/pg"

cleanup() {
	if [ -n "$NSPID" ] && kill -0 "$NSPID" 2>/dev/null; then
		kill -TERM "$NSPID" 2>/dev/null   # nspawn: orderly poweroff of the container
		for _ in $(seq 1 100); do kill -0 "$NSPID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$NSPID" 2>/dev/null
		wait "$NSPID" 2>/dev/null
	fi
	mountpoint -q "$M" && umount "$M"
	"$ROOT/scripts/pgtemp" stop "$PG" >/dev/null 2>&1
	rm -rf "$DIR"
}
trap cleanup EXIT

# c CMD...: run CMD in the container (all its namespaces)
c() { nsenter -t "$CPID" -a "$@"; }
prop() { c systemctl show -P "$2" "$1"; }   # prop UNIT PROPERTY
metric() {  # metric JOB: ops_job_last_success_timestamp_seconds of JOB, or ""
	curl -s "$STACK_URL/metrics" | sed -n "s/^ops_job_last_success_timestamp_seconds{job=\"$1\"} //p"
}
has_metric() { [ -n "$(metric "$1")" ]; }  # read again on every try of wait_for
sql() { psql -X -qAt -v ON_ERROR_STOP=1 "$DB_HOST_URL" -c "$1"; }
job() { sql "SELECT $2 FROM tb_audit_export_job WHERE id = '$1'"; }
sql_true() { [ "$(sql "$1")" = t ]; }

# --- the rootfs, and make install into an overlay of it ---------------------------------
t0=$(date +%s)
ROOTFS=$("$ROOT/scripts/container-rootfs" 2>"$DIR/rootfs.err") ||
	setup_failed "the rootfs builds: $(tail -n 5 "$DIR/rootfs.err")"
setup_done "cached rootfs $(basename "$(dirname "$ROOTFS")") ready in $(( $(date +%s) - t0 )) s"
mkdir -p "$DIR/upper" "$DIR/work" "$M"
mount -t overlay overlay -o "lowerdir=$ROOTFS,upperdir=$DIR/upper,workdir=$DIR/work" "$M" ||
	setup_failed "overlay mount of the rootfs"

check "make install DESTDIR=<container root>" \
	make -s -C "$ROOT" install DESTDIR="$M" >"$DIR/install.log" 2>&1
expect_eq "/etc/ops/ops.yaml is installed with mode 0640" 640 "$(stat -c %a "$M/etc/ops/ops.yaml")"
missing=""
for b in ops-fcgi ops-export-runner ops-export-cleaner ops-lock-healer ops-webhook-dispatcher ops-notion-preflight opsctl; do
	[ -x "$M/usr/local/bin/$b" ] || missing+=" $b"
done
expect_eq "the seven binaries in /usr/local/bin" "" "$missing"
check "units in /usr/local/lib/systemd/system" test -f "$M/usr/local/lib/systemd/system/ops-fcgi.socket"
check "migrations in /usr/local/share/ops/migrations" test -f "$M/usr/local/share/ops/migrations/0001_core.sql"
check "nginx include in /etc/nginx" test -f "$M/etc/nginx/ops-locations.conf" -a -f "$M/etc/nginx/conf.d/ops-http.conf"
check "the ops user does not exist before boot (sysusers.d makes it)" bash -c "! grep -q '^ops:' '$M/etc/passwd'"

# make uninstall removes every file make install put there
check "make install + uninstall into an empty DESTDIR" bash -c \
	"make -s -C '$ROOT' install DESTDIR='$DIR/staging' && make -s -C '$ROOT' uninstall DESTDIR='$DIR/staging'" \
	>>"$DIR/install.log" 2>&1
expect_eq "make uninstall leaves no file behind" "" "$(find "$DIR/staging" ! -type d 2>/dev/null)"
PREFIX_TEST=$(make -s -C "$ROOT" install DESTDIR="$DIR/opt" PREFIX=/opt/ops >/dev/null 2>&1;
	grep -h '^ExecStart=' "$DIR/opt/opt/ops/lib/systemd/system/ops-export-runner.service")
expect_eq "PREFIX=/opt/ops: the units start /opt/ops/bin" \
	"ExecStart=/opt/ops/bin/ops-export-runner --textfile-dir /var/lib/node_exporter/textfile" "$PREFIX_TEST"

# --- PostgreSQL on this host, its socket shared with the container -------------------------
DB_HOST_URL=$("$ROOT/scripts/pgtemp" start "$PG" 2>"$DIR/pg.err") || setup_failed "PostgreSQL starts: $(cat "$DIR/pg.err")"
PGP=$("$ROOT/scripts/pgtemp" url "$PG" | sed 's/.*port=\([0-9]*\).*/\1/')
# a second socket directory that the container's ops user may use (trust
# authentication: test only), then restart to apply it
mkdir -p "$PG/pub"
chown --reference="$PG" "$PG/pub"; chmod 0755 "$PG/pub"
printf "unix_socket_directories = '%s, %s/pub'\nunix_socket_permissions = 0777\n" "$PG" "$PG" >>"$PG/data/postgresql.conf"
"$ROOT/scripts/pgtemp" stop "$PG" >/dev/null 2>&1
DB_HOST_URL=$("$ROOT/scripts/pgtemp" start "$PG" 2>>"$DIR/pg.err") || setup_failed "PostgreSQL restarts"
setup_done "PostgreSQL on the host, socket for the container in $PG/pub"

# --- configure the container as an operator would ---------------------------------------
PORT=$(free_port)
STACK_URL="http://127.0.0.1:$PORT"
DB_PASSWORD="pw-$(openssl rand -hex 12)"          # trust auth ignores it: it must never be logged
STACK_SECRET_FILE="$DIR/jwt.secret"
(umask 077; openssl rand -base64 48 | tr -d '\n=' | tr '+/' '-_' >"$STACK_SECRET_FILE"
 openssl rand -base64 48 | tr -d '\n=' | tr '+/' '-_' >"$DIR/download.secret")
cred="$M/etc/ops/credentials"
# one database credential per service (each with its own password: trust
# authentication ignores them, the test tells them apart), and the owner's
# for opsctl migrate, deliberately installed too open: tmpfiles.d must make
# it root:root 0600 at boot
for u in ops-fcgi ops-export-runner ops-export-cleaner ops-lock-healer ops-notion-sync ops-webhook-dispatcher; do
	printf 'postgresql:///ops?host=/run/postgresql&port=%s&user=ops&password=%s-%s' "$PGP" "$DB_PASSWORD" "$u" |
		install -m 0600 /dev/stdin "$cred/$u.database_url"
done
printf 'postgresql:///ops?host=/run/postgresql&port=%s&user=ops&password=%s-owner' "$PGP" "$DB_PASSWORD" |
	install -m 0644 /dev/stdin "$cred/migrate.database_url"
install -m 0600 "$DIR/download.secret" "$cred/download_secret"
install -m 0600 "$STACK_SECRET_FILE" "$cred/jwt_hs256"
# the Notion preflight: a token credential and an API base that refuses
# connections (its run must get as far as the network: exit 17)
NOTION_TOKEN="ntn_$(openssl rand -hex 20)"
printf '%s' "$NOTION_TOKEN" | install -m 0600 /dev/stdin "$cred/notion_token"
printf 'NOTION_API_BASE=https://127.0.0.1:9\n' >"$M/etc/ops/notion.env"
# the configuration: socket_path unset (the socket is systemd's); a killed
# runner's job lease runs out after 6 s; a live holder is never taken for
# stale on a busy machine (stale_after 10 s), and a dead one is ORPHANED at
# once whatever stale_after is
cat >"$M/etc/ops/ops.yaml" <<YAML
# written by tests/integration/systemd_boot.sh
database:
  connect_timeout_seconds: 2
fcgi:
  threads: 2
  public_base_url: "$STACK_URL"
auth:
  issuer: ops-dev
  audience: ops-api
export:
  chunk_bytes: 4KiB
  lease_seconds: 6
  heartbeat_seconds: 1
  max_active_per_tenant: 10
locks:
  heartbeat_seconds: 1
  stale_after_seconds: 10
  lease_seconds: 20
log:
  level: debug
YAML
chmod 0640 "$M/etc/ops/ops.yaml"
# drop-ins: the timers fast, ops-fcgi gets the dev HS256 key (production
# would use auth.jwks_file); the units themselves stay as installed
dropin() { mkdir -p "$M/etc/systemd/system/$1.d"; cat >"$M/etc/systemd/system/$1.d/test.conf"; }
for j in ops-export-runner ops-export-cleaner ops-lock-healer ops-webhook-dispatcher; do
	printf '[Timer]\nOnBootSec=2s\nOnUnitActiveSec=2s\nAccuracySec=100ms\n' | dropin "$j.timer"
done
printf '[Service]\nLoadCredential=jwt_hs256:/etc/ops/credentials/jwt_hs256\nEnvironment=OPS_JWT_HS256_SECRET_FILE=%%d/jwt_hs256\n' |
	dropin ops-fcgi.service
# nginx: the installed include behind a plain-HTTP loopback site (the
# network namespace is this host's, so the port must be free here)
rm -f "$M/etc/nginx/sites-enabled/default"
cat >"$M/etc/nginx/sites-enabled/ops-test" <<NGINX
upstream ops_fcgi { server unix:/run/ops/ops-fcgi.sock; }
server {
	listen 127.0.0.1:$PORT;
	server_name localhost;
	access_log /var/log/nginx/ops-access.log ops_json;
	include ops-locations.conf;
}
NGINX
check "systemctl --root enable the socket and the timers" \
	systemctl --root="$M" enable ops-fcgi.socket ops-export-runner.timer ops-export-cleaner.timer ops-lock-healer.timer \
	ops-webhook-dispatcher.timer >>"$DIR/install.log" 2>&1

# the installed opsctl finds the installed migrations (no OPS_MIGRATIONS_DIR):
# run once in the container before it boots, as an operator does before
# enabling the timers
NSPAWN=(systemd-nspawn -q -D "$M" --register=no --keep-unit --bind="$PG/pub:/run/postgresql" --bind-ro="$ROOT:/src")
out=$(SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0 "${NSPAWN[@]}" --pipe \
	-E OPS_DATABASE_MIGRATE_URL_FILE=/etc/ops/credentials/migrate.database_url /usr/local/bin/opsctl migrate 2>&1)
expect_match "installed opsctl migrate applies the installed migrations" "migrations: [1-9][0-9]* applied" "$out"

# --- boot ------------------------------------------------------------------------------
t0=$(date +%s)
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0 "${NSPAWN[@]}" -b >"$DIR/console.log" 2>&1 &
NSPID=$!
# the container's PID 1: a child of nspawn that is pid 1 in its namespace
for _ in $(seq 1 100); do
	for p in $(ps -o pid= --ppid "$NSPID"); do
		[ "$(awk '/^NSpid:/ {print $NF}' "/proc/$p/status" 2>/dev/null)" = 1 ] && CPID=$p
	done
	[ -n "$CPID" ] && break
	sleep 0.1
done
[ -n "$CPID" ] || { not_ok "systemd-nspawn starts the container: $(tail -n 20 "$DIR/console.log")"; finish; }
# (until its manager answers on the bus, systemctl prints "offline" or
# nothing; --wait then waits through "initializing" and "starting")
state=""
end=$(( $(date +%s) + 90 ))
while [[ "$state" =~ ^(|offline|initializing|starting)$ ]] && [ "$(date +%s)" -le "$end" ]; do
	sleep 0.2
	state=$(timeout 90 nsenter -t "$CPID" -a systemctl is-system-running --wait 2>/dev/null)
done
expect_eq "the container boots to 'running' ($(( $(date +%s) - t0 )) s)" running "$state"
[ "$state" = running ] || { c systemctl --failed --no-pager; tail -n 30 "$DIR/console.log"; } >&2
expect_eq "sysusers.d made the ops-fcgi user (a member of ops) at boot" "ops-fcgi ops" "$(c id -nG ops-fcgi 2>&1)"
expect_eq "tmpfiles.d: /etc/ops/ops.yaml is 0640 root:ops" "640 root ops" "$(c stat -c '%a %U %G' /etc/ops/ops.yaml)"
expect_eq "tmpfiles.d: the textfile directory is group ops" "2775 ops" "$(c stat -c '%a %G' /var/lib/node_exporter/textfile)"

# --- socket activation ------------------------------------------------------------------
expect_eq "ops-fcgi.socket is listening" active "$(c systemctl is-active ops-fcgi.socket)"
expect_eq "... while ops-fcgi.service has not run" inactive "$(c systemctl is-active ops-fcgi.service)"
expect_eq "... and never ran" 0 "$(prop ops-fcgi.service ExecMainStartTimestampMonotonic)"
expect_eq "/run/ops/ops-fcgi.sock is a socket, ops-fcgi:www-data 0660" "socket ops-fcgi www-data 660" \
	"$(c stat -c '%F %U %G %a' /run/ops/ops-fcgi.sock)"
# (nginx is asked nothing yet: any request would reach the socket)
check "nginx is up in the container" wait_for 20 bash -c "[ \"\$(nsenter -t $CPID -a systemctl is-active nginx.service)\" = active ]"
CODE=$(curl -s -o "$DIR/healthz" -w '%{http_code}' --max-time 20 "$STACK_URL/healthz")
expect_eq "the first request through the socket is answered" 200 "$CODE"
expect_eq "... by ops-fcgi.service, started by it" active "$(c systemctl is-active ops-fcgi.service)"
expect_eq "... triggered by the socket" ops-fcgi.socket "$(prop ops-fcgi.service TriggeredBy)"
CODE=$(curl -s -o /dev/null -w '%{http_code}' "$STACK_URL/readyz")
expect_eq "/readyz: the database is reachable from the hardened service" 200 "$CODE"

# --- the hardening holds in the running processes -----------------------------------------
FPID=$(prop ops-fcgi.service MainPID)
st=$(c cat "/proc/$FPID/status")
expect_eq "ops-fcgi runs as ops-fcgi" "$(c id -u ops-fcgi)" "$(awk '/^Uid:/ {print $2}' <<<"$st")"
expect_eq "ops-fcgi: no_new_privs" 1 "$(awk '/^NoNewPrivs:/ {print $2}' <<<"$st")"
expect_eq "ops-fcgi: seccomp filter on" 2 "$(awk '/^Seccomp:/ {print $2}' <<<"$st")"
expect_eq "ops-fcgi: empty capability bounding set" 0000000000000000 "$(awk '/^CapBnd:/ {print $2}' <<<"$st")"
out=$(c nsenter -t "$FPID" -m sh -c 'touch /etc/ops/probe 2>&1; touch /usr/local/bin/probe 2>&1; ls /home 2>&1' 2>&1)
expect_eq "ProtectSystem=strict, ProtectHome: /etc, /usr read-only and /home empty in its namespace" \
	"touch: cannot touch '/etc/ops/probe': Read-only file system
touch: cannot touch '/usr/local/bin/probe': Read-only file system" "$out"

# --- one Unix user and one credential per service (issue 20, M4) ----------------------------
# each service's user (the unit says it, the running process is it: ops-fcgi's
# /proc status above, the jobs' textfiles below); each user reads only its own
# credential; the migration (owner) credential is root:root 0600 whatever mode
# it was installed with, and no service user reads it
declare -A SVC_USER=([ops-fcgi]=ops-fcgi [ops-export-runner]=ops-runner [ops-export-cleaner]=ops-cleaner
	[ops-lock-healer]=ops-healer [ops-notion-sync]=ops-notion [ops-webhook-dispatcher]=ops-webhook)
for unit in ops-fcgi ops-export-runner ops-export-cleaner ops-lock-healer ops-notion-sync ops-webhook-dispatcher; do
	expect_eq "systemctl show -p User $unit.service: ${SVC_USER[$unit]} (group ops)" "${SVC_USER[$unit]} ops" \
		"$(prop "$unit.service" User) $(prop "$unit.service" Group)"
done
expect_eq "six distinct uids, none shared with another account" 6 \
	"$(for u in "${SVC_USER[@]}"; do c id -u "$u"; done | sort -u | wc -l)"
expect_eq "tmpfiles.d: the migration credential is root:root 0600 (installed 0644)" "600 root root" \
	"$(c stat -c '%a %U %G' /etc/ops/credentials/migrate.database_url)"
# as_user USER CMD...: CMD as USER with its groups (util-linux setpriv)
as_user() { c setpriv --reuid="$1" --regid=ops --init-groups -- "${@:2}"; }
FCRED=/run/credentials/ops-fcgi.service/database_url
expect_contains "ops-fcgi reads its own credential in \$CREDENTIALS_DIRECTORY" "password=$DB_PASSWORD-ops-fcgi" \
	"$(as_user ops-fcgi cat "$FCRED" 2>&1)"
for u in "${SVC_USER[@]}"; do
	[ "$u" = ops-fcgi ] || check "$u cannot read ops-fcgi's credential" bash -c "! nsenter -t $CPID -a setpriv --reuid=$u --regid=ops --init-groups -- cat $FCRED"
	check "$u cannot read /etc/ops/credentials (migration and every other credential)" bash -c \
		"! nsenter -t $CPID -a setpriv --reuid=$u --regid=ops --init-groups -- cat /etc/ops/credentials/migrate.database_url /etc/ops/credentials/ops-export-runner.database_url"
	check "$u reads /etc/ops/ops.yaml (group ops)" as_user "$u" test -r /etc/ops/ops.yaml
done
for j in ops-export-runner ops-export-cleaner ops-lock-healer ops-webhook-dispatcher; do
	check "$j ran as ${SVC_USER[$j]}: its textfile is theirs" wait_for 30 \
		bash -c "[ \"\$(nsenter -t $CPID -a stat -c %U /var/lib/node_exporter/textfile/$j.prom 2>/dev/null)\" = ${SVC_USER[$j]} ]"
done

# --- the timers run an export to DONE by themselves -----------------------------------------
SEED_DB_URL=$DB_HOST_URL seed_audit acme 20000 words=12 || setup_failed "seeding audit_log"
SUPER=$(mint root-1 "" '["SUPER_ADMIN"]')
OPS=$(mint ops-1 "" '["OPS_ADMIN"]')
for j in ops-export-runner ops-export-cleaner ops-lock-healer ops-webhook-dispatcher; do
	check "the $j timer fires: a success metric appears" wait_for 30 has_metric "$j"
	[ -n "$(metric "$j")" ] || { c systemctl status --no-pager "$j.service"; c journalctl -u "$j.service" --no-pager | tail -n 20; } >&2
done
declare -A M0
for j in ops-export-runner ops-export-cleaner ops-lock-healer; do M0[$j]=$(metric "$j"); done
api POST /api/ops/audit-exports "$SUPER" -H 'Content-Type: application/json' \
	-d '{"tenant_id":"acme","from":"2026-10-01T00:00:00Z","to":"2026-10-01T00:10:00Z","format":"jsonl"}'
expect_eq "an export is created through the API" 202 "$CODE"
JOB_A=$(jq -r '.id // empty' <<<"$BODY")
check "it reaches DONE with no manual step (runner timer)" wait_for 30 sql_true "SELECT state = 'DONE' FROM tb_audit_export_job WHERE id = '$JOB_A'"
moved() { awk -v a="$(metric "$1")" -v b="$2" 'BEGIN { exit !(a > b) }'; }
for j in ops-export-runner ops-export-cleaner ops-lock-healer; do
	check "ops_job_last_success_timestamp_seconds{job=\"$j\"} moves" wait_for 20 moved "$j" "${M0[$j]}"
	expect_eq "$j.service ends in success under its hardening" success "$(prop "$j.service" Result)"
	check "$j writes its textfile (ReadWritePaths)" c test -s "/var/lib/node_exporter/textfile/$j.prom"
done

# --- SIGKILL of a runner: the healer timer recovers its lock, the next runner resumes ---------
api POST /api/ops/audit-exports "$SUPER" -H 'Content-Type: application/json' \
	-d '{"tenant_id":"acme","from":"2026-10-01T00:00:00Z","to":"2026-10-02T00:00:00Z","format":"jsonl"}'
JOB_B=$(jq -r '.id // empty' <<<"$BODY")
LOCK="ops-export-runner:ops-box"
if wait_for 30 sql_true "SELECT state = 'RUNNING' AND progress_chunks >= 3 FROM tb_audit_export_job WHERE id = '$JOB_B'"; then
	RPID=$(prop ops-export-runner.service MainPID)
	if c systemctl kill -s KILL ops-export-runner.service; then
		note "killed ops-export-runner.service with SIGKILL (pid $RPID, job at chunk $(job "$JOB_B" progress_chunks))"
	else
		not_ok "systemctl kill -s KILL ops-export-runner.service failed"
	fi
	# (from the journal, not from Result=: the 2 s timer starts the next run
	# ~0.1 s after the kill, and a new run resets Result to success)
	check "... the runner is gone: killed by SIGKILL (journal)" wait_for 10 bash -c \
		"nsenter -t $CPID -a journalctl -u ops-export-runner.service -o cat | grep -qF 'Main process exited, code=killed, status=9/KILL'"
	check "the healer timer recovers the runner's lock: journalctl -u ops-lock-healer says ORPHANED" wait_for 30 \
		bash -c "nsenter -t $CPID -a journalctl -u ops-lock-healer.service -o cat | grep -qF 'recovered lock $LOCK: ORPHANED'"
	check "the next runner resumes the job to DONE" wait_for 60 sql_true "SELECT state = 'DONE' FROM tb_audit_export_job WHERE id = '$JOB_B'"
	expect_eq "... as attempt 2" 2 "$(job "$JOB_B" attempt)"
	expect_eq "... from its checkpoint (EXPORT_RESUMED)" 1 \
		"$(sql "SELECT count(*) FROM ops_event WHERE event_type = 'EXPORT_RESUMED' AND subject_id = '$JOB_B'")"
	expect_eq "SCHEDULER_LOCK_RECOVERED was written for $LOCK" t \
		"$(sql "SELECT count(*) > 0 FROM ops_event WHERE event_type = 'SCHEDULER_LOCK_RECOVERED' AND data::text LIKE '%$LOCK%'")"
else
	not_ok "a runner started by the timer works on a long job (state $(job "$JOB_B" state), chunks $(job "$JOB_B" progress_chunks))"
fi

# --- systemctl stop mid-export: no lock left, no open run, the job resumes (issue 20 M5) ------
api POST /api/ops/audit-exports "$SUPER" -H 'Content-Type: application/json' \
	-d '{"tenant_id":"acme","from":"2026-10-01T00:00:00Z","to":"2026-10-02T00:00:00Z","format":"jsonl"}'
JOB_S=$(jq -r '.id // empty' <<<"$BODY")
if wait_for 30 sql_true "SELECT state = 'RUNNING' AND progress_chunks >= 3 FROM tb_audit_export_job WHERE id = '$JOB_S'"; then
	# as a deploy does: the timer first (else it starts the next run at
	# once, and that run holds the lock), then the run in progress
	c systemctl stop ops-export-runner.timer
	check "systemctl stop ops-export-runner.service mid-export (job at chunk $(job "$JOB_S" progress_chunks)) returns 0" \
		c systemctl stop ops-export-runner.service
	expect_eq "... the runner exited 143, a clean stop for systemd (Result=success)" "143 success" \
		"$(prop ops-export-runner.service ExecMainStatus) $(prop ops-export-runner.service Result)"
	expect_eq "... no lock is left held: $LOCK is free at once" 0 \
		"$(sql "SELECT count(*) FROM tb_scheduler_lock WHERE name = '$LOCK' AND holder IS NOT NULL")"
	expect_eq "... no run is left open (job_run RUNNING)" 0 \
		"$(sql "SELECT count(*) FROM job_run WHERE job = 'ops-export-runner' AND status = 'RUNNING'")"
	expect_eq "... the run is recorded JOB_RUN_FAILED, reason terminated" terminated \
		"$(sql "SELECT data->>'reason' FROM ops_event WHERE event_type = 'JOB_RUN_FAILED' AND source = 'ops-export-runner' ORDER BY id DESC LIMIT 1")"
	expect_eq "... the job was handed back (interrupted 1)" 1 "$(job "$JOB_S" interrupted)"
	c systemctl start ops-export-runner.timer
	check "the timer's next runner resumes the job to DONE" wait_for 60 sql_true "SELECT state = 'DONE' FROM tb_audit_export_job WHERE id = '$JOB_S'"
else
	not_ok "a runner started by the timer works on a job to stop (state $(job "$JOB_S" state), chunks $(job "$JOB_S" progress_chunks))"
fi

# --- a download survives systemctl stop ops-fcgi.service -------------------------------------
api GET "/api/ops/audit-exports/$JOB_B" "$SUPER"
URL=$(jq -r '.result.download_url // empty' <<<"$BODY")
SHA=$(jq -r '.result.sha256 // empty' <<<"$BODY")
SIZE=$(jq -r '.result.bytes // 0' <<<"$BODY")
SIG=$(sed -n 's/.*[?&]sig=\([^&]*\).*/\1/p' <<<"$URL")
check "the job has a signed download URL" test -n "$SIG"
# a slow client with a small receive buffer (curl cannot set one; the
# kernel would buffer most of the file): ops-fcgi is still streaming when
# SIGTERM comes, and must finish before it exits
python3 - "$URL" "$DIR/download" >"$DIR/download.code" 2>"$DIR/download.err" <<'PY' &
import socket, sys, time, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
s.connect((u.hostname, u.port))
s.sendall(f"GET {u.path}?{u.query} HTTP/1.0\r\nHost: {u.netloc}\r\n\r\n".encode())
data, t0 = bytearray(), time.monotonic()
while True:
    b = s.recv(16384)
    if not b:
        break
    data += b
    time.sleep(max(0, len(data) / 2e6 - (time.monotonic() - t0)))   # 2 MB/s
data = bytes(data)
head, _, body = data.partition(b"\r\n\r\n")
open(sys.argv[2], "wb").write(body)
print(head.split(b" ")[1].decode())
PY
DL_PID=$!
check "the download has started (EXPORT_DOWNLOADED is written before the first byte)" wait_for 10 sql_true \
	"SELECT count(*) = 1 FROM ops_event WHERE event_type = 'EXPORT_DOWNLOADED' AND subject_id = '$JOB_B'"
t0=$(date +%s.%N)
c systemctl stop ops-fcgi.service 2>/dev/null
STOP_S=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
wait "$DL_PID"; rc=$?
expect_eq "the download finished (exit 0, 200)" "0 200" "$rc $(cat "$DIR/download.code")"
expect_eq "... byte-exact: $SIZE bytes, SHA-256 = result.sha256 (systemctl stop took $STOP_S s)" "$SIZE $SHA" \
	"$(stat -c %s "$DIR/download") $(sha256sum "$DIR/download" | cut -d' ' -f1)"
# in the journal: the download's request line (logged when its handler
# returns) and SIGTERM, then "stopped". nginx spools downloads (issue 11),
# so ops-fcgi may have handed the whole file to nginx before the signal
# came: either order is right, as long as ops-fcgi stopped after both and
# the client got every byte (asserted above)
order=$(c journalctl -u ops-fcgi.service -o cat | jq -R -r 'fromjson? | .msg // empty' |
	grep -E '^signal 15|^GET /api/ops/audit-exports/[^ ]*/download -> 200|^stopped' | head -n 3 | cut -c1-9 | tr '\n' ' ')
expect_match "... ops-fcgi stopped only after the download's handler returned: journal order (signal, download | download, signal), stopped" \
	'^(signal 15 GET /api/|GET /api/ signal 15) stopped $' "$order"
expect_eq "ops-fcgi.service stopped cleanly" "inactive success" \
	"$(c systemctl is-active ops-fcgi.service) $(prop ops-fcgi.service Result)"
expect_eq "the socket still listens" active "$(c systemctl is-active ops-fcgi.socket)"
CODE=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$STACK_URL/healthz")
expect_eq "the next request starts ops-fcgi again" "200 active" "$CODE $(c systemctl is-active ops-fcgi.service)"

# --- the journal: JSON lines, no secret ------------------------------------------------
api GET /api/ops/scheduler/locks "$OPS"
curl -s -o /dev/null -H "Authorization: Bearer not.a.valid-token" "$STACK_URL/api/ops/status"
c journalctl -u ops-fcgi.service -o json --no-pager >"$DIR/fcgi.journal.json"
jq -r 'select(._COMM == "ops-fcgi") | .MESSAGE' "$DIR/fcgi.journal.json" >"$DIR/fcgi.messages"
n=$(wc -l <"$DIR/fcgi.messages")
check "journalctl -u ops-fcgi -o json has the binary's lines ($n)" test "$n" -gt 5
bad=$(jq -R -c 'fromjson? // "NOT JSON: \(.)" | select(type == "string" or (.level|type) != "string" or .binary != "ops-fcgi")' "$DIR/fcgi.messages" | head -n 3)
expect_eq "... every MESSAGE is a JSON object with level and binary=ops-fcgi" "" "$bad"
check "... request lines carry request_id" bash -c "jq -R 'fromjson? | select(.request_id != null)' '$DIR/fcgi.messages' | grep -q request_id"
expect_eq "... with SYSLOG_IDENTIFIER and _SYSTEMD_UNIT" "ops-fcgi ops-fcgi.service" \
	"$(jq -r 'select(._COMM == "ops-fcgi") | "\(.SYSLOG_IDENTIFIER) \(._SYSTEMD_UNIT)"' "$DIR/fcgi.journal.json" | sort -u | head -n 1)"
# the DynamicUser preflight runs under its hardening and fails closed
c systemctl start ops-notion-preflight.service 2>/dev/null
expect_eq "ops-notion-preflight.service runs (DynamicUser, credential) and fails closed: exit 17" "exit-code 17" \
	"$(prop ops-notion-preflight.service Result) $(prop ops-notion-preflight.service ExecMainStatus)"
expect_contains "... with NOTION_AUTH_NETWORK in its journal" NOTION_AUTH_NETWORK \
	"$(c journalctl -u ops-notion-preflight.service -o cat --no-pager)"
c systemctl reset-failed ops-notion-preflight.service
c journalctl -o json --no-pager >"$DIR/all.journal.json"
c cat /var/log/nginx/ops-access.log /var/log/nginx/error.log >"$DIR/nginx.logs" 2>/dev/null
leaked=0
for s in "$(cat "$STACK_SECRET_FILE")" "$(cat "$DIR/download.secret")" "$DB_PASSWORD" "$SUPER" "$OPS" "$SIG" "k-secret-1" "$NOTION_TOKEN"; do
	if grep -qF -- "$s" "$DIR/all.journal.json" "$DIR/nginx.logs"; then
		not_ok "a secret (${s:0:4}...) is in the container's journal or nginx logs"
		leaked=$((leaked + 1))
	fi
done
[ "$leaked" -eq 0 ] && ok "no secret (JWT key, download key, database password, bearer tokens, URL signature, payload secret, Notion token) in the journal or nginx logs ($(wc -l <"$DIR/all.journal.json") journal entries)"

# --- systemd-analyze security: every service under a bound ---------------------------------
# the bounds are the table in docs/ops/systemd-security.md
SECDOC="$ROOT/docs/ops/systemd-security.md"
for s in ops-fcgi ops-export-runner ops-export-cleaner ops-lock-healer ops-notion-preflight; do
	BOUND=$(sed -n "s/^| \`$s.service\` | \([0-9.]*\) |.*/\1/p" "$SECDOC")
	[ -n "$BOUND" ] || { not_ok "$SECDOC has a bound for $s.service"; continue; }
	c systemd-analyze security --no-pager "$s.service" >"$DIR/security-$s.txt" 2>&1
	score=$(sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p' "$DIR/security-$s.txt")
	# SYSTEMD_BOOT_SECURITY_OUT=DIR keeps the full reports (docs/ops/systemd-security.md)
	[ -n "${SYSTEMD_BOOT_SECURITY_OUT:-}" ] && cp "$DIR/security-$s.txt" "$SYSTEMD_BOOT_SECURITY_OUT/"
	if [ -n "$score" ] && awk -v s="$score" -v b="$BOUND" 'BEGIN { exit !(s <= b) }'; then
		ok "systemd-analyze security $s.service: $score (bound $BOUND)"
	else
		not_ok "systemd-analyze security $s.service: '${score:-no score}' over the bound $BOUND"
	fi
done
failed=$(c systemctl --failed --no-legend --plain | awk '{print $1}' | tr '\n' ' ')
expect_eq "no unit is failed at the end" "" "$failed"
for u in $failed; do echo "--- journal of $u:"; c journalctl -u "$u" -n 15 -o cat --no-pager; done >&2

# --- stopping the socket removes it -------------------------------------------------------
c systemctl stop ops-fcgi.socket
expect_eq "systemctl stop ops-fcgi.socket: socket and service inactive" "inactive inactive" \
	"$(c systemctl is-active ops-fcgi.socket) $(c systemctl is-active ops-fcgi.service)"
check "/run/ops/ops-fcgi.sock is gone" c test ! -e /run/ops/ops-fcgi.sock
api GET /healthz ""
expect_error "nginx answers without a responder" 502 SERVICE_UNAVAILABLE

# --- make install / uninstall on the running system (what `make` runs: scripts/install) -----
out=$(c /src/scripts/install install 2>&1); rc=$?
expect_eq "scripts/install on the live system (sysusers, tmpfiles, daemon-reload)" 0 "$rc"
expect_contains "... keeps the edited /etc/ops/ops.yaml" "kept the existing /etc/ops/ops.yaml" "$out"
c systemctl disable --now ops-fcgi.socket ops-export-runner.timer ops-export-cleaner.timer ops-lock-healer.timer >/dev/null 2>&1
c systemctl stop ops-export-runner.service ops-export-cleaner.service ops-lock-healer.service
out=$(c /src/scripts/install uninstall 2>&1); rc=$?
expect_eq "uninstall after systemctl disable --now" 0 "$rc"
expect_eq "... the binaries, units and migrations are gone" "" \
	"$(c sh -c 'ls /usr/local/bin/ops* /usr/local/bin/opsctl /usr/local/lib/systemd/system/ops-* /usr/local/share/ops 2>/dev/null')"
expect_eq "... systemd no longer knows the units" not-found "$(prop ops-fcgi.socket LoadState)"
check "... the edited configuration and credentials stay" c test -f /etc/ops/ops.yaml -a -f /etc/ops/credentials/ops-fcgi.database_url
finish
