#!/usr/bin/env bash
# Every unit in jobs/systemd passes `systemd-analyze verify` with no output.
# verify wants ExecStart= to exist, so each unit is verified as a copy whose
# /usr/local/bin/<binary> points at the binary under test (bin/<binary>).
# Also checks what the units promise: hardening on every service, the
# socket nginx reaches, timers, the healer's /proc visibility.
. "$(dirname "$0")/../lib.sh"

UNITS="$ROOT/jobs/systemd"
TMP=$(mktemp -d /tmp/ops-units.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

mapfile -t files < <(find "$UNITS" -maxdepth 1 -type f \( -name '*.service' -o -name '*.socket' -o -name '*.timer' \) | sort)
check "jobs/systemd holds units" test "${#files[@]}" -gt 0

for f in "${files[@]}"; do
	sed "s|/usr/local/bin/\([a-z0-9-]*\)|$ROOT/bin/\1|g" "$f" >"$TMP/$(basename "$f")"
done

if command -v systemd-analyze >/dev/null 2>&1; then
	for f in "${files[@]}"; do
		u=$(basename "$f")
		# a socket or timer is verified together with its service
		extra=()
		case $u in
		*.socket|*.timer) extra=("$TMP/${u%.*}.service") ;;
		esac
		if out=$(systemd-analyze verify --man=no "$TMP/$u" "${extra[@]}" 2>&1) && [ -z "$out" ]; then
			ok "systemd-analyze verify $u"
		else
			not_ok "systemd-analyze verify $u: ${out:-failed}"
		fi
	done
else
	skip "systemd-analyze verify of every unit (systemd-analyze is not installed)"
fi

# the binary each service starts exists in bin/
for f in "$UNITS"/*.service; do
	b=$(sed -n 's|^ExecStart=/usr/local/bin/\([a-z0-9-]*\).*|\1|p' "$f")
	check "$(basename "$f"): ExecStart binary $b is built" test -x "$ROOT/bin/$b"
done

# hardening on every service
HARDENING=(NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes
	PrivateDevices=yes ProtectKernelTunables=yes ProtectKernelModules=yes
	ProtectKernelLogs=yes ProtectControlGroups=yes
	"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" RestrictNamespaces=yes
	LockPersonality=yes MemoryDenyWriteExecute=yes RestrictRealtime=yes
	SystemCallFilter=@system-service SystemCallArchitectures=native
	CapabilityBoundingSet=)
for f in "$UNITS"/ops-fcgi.service "$UNITS"/ops-export-runner.service \
    "$UNITS"/ops-export-cleaner.service "$UNITS"/ops-lock-healer.service \
    "$UNITS"/ops-webhook-dispatcher.service; do
	missing=""
	for h in "${HARDENING[@]}"; do
		grep -qxF "$h" "$f" || missing+=" [$h]"
	done
	expect_eq "$(basename "$f") has every hardening setting" "" "$missing"
	check "$(basename "$f") reads the database URL from a credential" \
		grep -qxF 'Environment=OPS_DATABASE_URL_FILE=%d/database_url' "$f"
	check "$(basename "$f") has OPS_CONFIG" grep -qxF 'Environment=OPS_CONFIG=/etc/ops/ops.yaml' "$f"
	expect_eq "$(basename "$f") puts no secret in the environment" "" \
		"$(grep -E '^Environment=.*(URL|SECRET|TOKEN|PASSWORD)=' "$f" | grep -v '_FILE=%d/' || true)"
done
for j in ops-export-runner ops-export-cleaner ops-lock-healer ops-webhook-dispatcher; do
	f="$UNITS/$j.service"
	check "$j writes its textfile" grep -qxF "ExecStart=/usr/local/bin/$j --textfile-dir /var/lib/node_exporter/textfile" "$f"
	check "$j may write the textfile dir" grep -qxF 'ReadWritePaths=/var/lib/node_exporter/textfile' "$f"
	check "$j: exit 75 (lock busy) is not a failure" grep -qxF 'SuccessExitStatus=75' "$f"
	check "$j: no ProcSubset=pid (holders need the boot id)" bash -c "! grep -q '^ProcSubset=pid' '$f'"
	check "$j.timer starts $j.service" grep -qxF "Unit=$j.service" "$UNITS/$j.timer"
done
# one Unix user and one database credential per service (issue 20, M4;
# docs/install.md "Users and credentials")
declare -A WANT_USER=([ops-fcgi]=ops-fcgi [ops-export-runner]=ops-runner [ops-export-cleaner]=ops-cleaner
	[ops-lock-healer]=ops-healer [ops-notion-sync]=ops-notion [ops-webhook-dispatcher]=ops-webhook)
SYSUSERS="$UNITS/ops.sysusers"
for unit in "${!WANT_USER[@]}"; do
	f="$UNITS/$unit.service"; u=${WANT_USER[$unit]}
	expect_eq "$unit runs as its own user $u, group ops" "User=$u Group=ops" \
		"$(grep -E '^(User|Group)=' "$f" | tr '\n' ' ' | sed 's/ $//')"
	check "sysusers.d creates $u, a member of ops" bash -c \
		"grep -qE '^u +$u +- ' '$SYSUSERS' && grep -qE '^m +$u +ops\$' '$SYSUSERS'"
	expect_eq "$unit loads its own database credential" "LoadCredential=database_url:/etc/ops/credentials/$unit.database_url" \
		"$(grep '^LoadCredential=database_url:' "$f")"
done
# the files themselves: systemd-sysusers and systemd-tmpfiles accept them
# without a warning, on an empty root, and make what the units need
if command -v systemd-sysusers >/dev/null 2>&1 && command -v systemd-tmpfiles >/dev/null 2>&1; then
	SR="$TMP/sysroot"; mkdir -p "$SR/etc/ops/credentials"; : >"$SR/etc/passwd"; : >"$SR/etc/group"
	install -m 0644 /dev/null "$SR/etc/ops/credentials/migrate.database_url"
	out=$(systemd-sysusers --root="$SR" "$SYSUSERS" 2>&1 >/dev/null | grep -v '^Creating ')
	expect_eq "systemd-sysusers accepts ops.sysusers (no warning)" "" "$out"
	expect_eq "... and makes the six users, members of ops" "ops:ops-cleaner,ops-fcgi,ops-healer,ops-notion,ops-runner,ops-webhook" \
		"$(grep '^ops:' "$SR/etc/group" | cut -d: -f1,4)"
	out=$(systemd-tmpfiles --root="$SR" --create "$UNITS/ops.tmpfiles" 2>&1)
	expect_eq "systemd-tmpfiles accepts ops.tmpfiles (no warning)" "" "$out"
	expect_eq "... and makes a credential installed 0644 root-only 0600" 600 "$(stat -c %a "$SR/etc/ops/credentials/migrate.database_url")"
else
	skip "systemd-sysusers / systemd-tmpfiles on ops.sysusers and ops.tmpfiles (not installed)"
fi
expect_eq "no two services share a Unix user" "" \
	"$(grep -h '^User=' "$UNITS"/*.service | sort | uniq -d)"
expect_eq "no two services share a database credential file" "" \
	"$(grep -h '^LoadCredential=database_url:' "$UNITS"/*.service | sort | uniq -d)"
expect_eq "no unit loads the migration (owner) credential" "" \
	"$(grep -l 'migrate' "$UNITS"/*.service || true)"
expect_eq "every service runs as a user, never root" "" \
	"$(for f in "$UNITS"/*.service; do grep -qE '^(User=ops-[a-z]+|DynamicUser=yes)$' "$f" || basename "$f"; done)"
check "tmpfiles.d makes every credential file root:root 0600 at boot" \
	grep -qE '^z /etc/ops/credentials/\* +0600 root root -$' "$UNITS/ops.tmpfiles"
check "the socket belongs to ops-fcgi" grep -qxF 'SocketUser=ops-fcgi' "$UNITS/ops-fcgi.socket"
# a stop: SIGTERM, time to end the unit of work, exit 143 is clean (issue 20 M5)
for j in ops-export-runner ops-export-cleaner ops-lock-healer ops-notion-preflight ops-notion-sync ops-webhook-dispatcher; do
	f="$UNITS/$j.service"
	check "$j: exit 143 (stopped by SIGTERM, run recorded) is not a failure" grep -qxF 'SuccessExitStatus=143' "$f"
	check "$j: stopped with SIGTERM" grep -qxF 'KillSignal=SIGTERM' "$f"
	check "$j: TimeoutStopSec gives the unit of work time to end" grep -qE '^TimeoutStopSec=[0-9]+(s|min)$' "$f"
done
# the healer sees every process of the host
f="$UNITS/ops-lock-healer.service"
check "the healer has no ProtectProc=invisible" bash -c "! grep -q '^ProtectProc=' '$f'"
check "the healer has no PrivatePIDs" bash -c "! grep -q '^PrivatePIDs=' '$f'"
# timers
expect_eq "runner every 15 s" "OnUnitActiveSec=15s AccuracySec=1s" \
	"$(grep -E '^(OnUnitActiveSec|AccuracySec)=' "$UNITS/ops-export-runner.timer" | tr '\n' ' ' | sed 's/ $//')"
check "runner timer has OnBootSec" grep -q '^OnBootSec=' "$UNITS/ops-export-runner.timer"
check "cleaner every 15 min" grep -qxF 'OnUnitActiveSec=15min' "$UNITS/ops-export-cleaner.timer"
check "healer every minute" grep -qxF 'OnUnitActiveSec=1min' "$UNITS/ops-lock-healer.timer"
check "webhook dispatcher every 10 s" grep -qxF 'OnUnitActiveSec=10s' "$UNITS/ops-webhook-dispatcher.timer"
# the socket nginx connects to
s="$UNITS/ops-fcgi.socket"
check "socket at /run/ops/ops-fcgi.sock" grep -qxF 'ListenStream=/run/ops/ops-fcgi.sock' "$s"
check "socket group www-data (nginx)" grep -qxF 'SocketGroup=www-data' "$s"
check "socket mode 0660" grep -qxF 'SocketMode=0660' "$s"
check "ops-fcgi.service requires its socket" grep -qxF 'Requires=ops-fcgi.socket' "$UNITS/ops-fcgi.service"
finish
