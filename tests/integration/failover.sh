#!/usr/bin/env bash
# tests/integration/failover.sh: the stack on a PostgreSQL that fails over
# (CONTRACT §19, issue 25).
#
# Topology (scripts/ha-lib.sh): etcd and two Patroni nodes, a primary and a
# synchronous standby (synchronous_mode), each PostgreSQL on its own
# loopback TCP port; ops-fcgi, the runner and the migrations reach them
# through one libpq multi-host URL with target_session_attrs=read-write
# (STACK_PG_URL). TLS and SCRAM on every connection: each node is named by
# its certificate (test CA, sslmode=verify-full, TLSv1.3), pg_hba.conf is
# hostssl + scram-sha-256 only (replication and Patroni's own users too), no
# unix socket; ops-fcgi and the jobs read their own credential file
# (OPS_DATABASE_URL_FILE, channel_binding=require). Checked from the server
# (pg_stat_activity joined with pg_stat_ssl, pg_stat_replication, the
# connection log), and a connection without TLS, with a wrong password, a
# certificate of another CA or another node's name is refused. All on
# 127.0.0.1 in this machine's network namespace: the namespaces of netns.sh
# are not combined with Patroni here.
#
# 1. The primary's postmaster is SIGKILLed (a crash; Patroni with
#    primary_start_timeout 0 fails over to the synchronous standby instead
#    of restarting it) while, at the same time,
#    (a) an export is running: it ends DONE, byte-identical to a reference
#        export, every chunk once, written by the job's attempts only;
#    (b) a slow download (tests/tools/slow-get; nginx not spooling, so the
#        responder reads chunk by chunk as the client takes them) is
#        running: it is cut visibly
#        (client exit 18, fewer bytes than Content-Length) or whole, never
#        short and whole-looking; a Range retry completes it byte-exact;
#    (c) wrk polls a job through nginx (4 connections, tests/tools/
#        poll-record.lua recording every answer): every answer is 200 or 503
#        DB_UNAVAILABLE with Retry-After, no connection is reset or cut
#        short, 200 again after the failover, and the responder is the same
#        process throughout. The counts and the window of failed polls are
#        printed.
# 2. A planned switchover through Patroni's REST API under the same polling:
#    the failed polls are counted and printed (the old primary's fast
#    shutdown ends every session; the responder has no retry of its own).
# 3. A whole database host lost: the leader's Patroni and PostgreSQL
#    SIGKILLed together, so the leader key stays in etcd until its ttl runs
#    out; under an export and wrk polls: the synchronous standby is promoted,
#    the chunks committed before the kill are all there (synchronous_mode),
#    the export ends byte-identical, polls fail only as 503 and recover.
# Each scenario prints what was lost and how long the API was unavailable.

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$ROOT/scripts/tls-lib.sh"
source "$ROOT/scripts/ha-lib.sh"

need_tools patroni etcd psql jq curl nginx setpriv wrk openssl
T0=$SECONDS
test_dir failover
POLL_PID=""; RUNNER_PID=""
suite_cleanup() {
	rm -f "$DIR/running"
	[ -n "$POLL_PID" ] && { kill -INT "$POLL_PID" 2>/dev/null; wait "$POLL_PID" 2>/dev/null; }
	for p in $RUNNER_PID; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	if [ "$T_FAILED" -gt 0 ]; then
		for f in "$DIR"/timers/*.log; do echo "--- last lines of $f:"; tail -n 15 "$f"; done >&2
	fi
	ha_down "$DIR/ha"
}

chmod 755 "$DIR"   # Patroni runs as the cluster's user, below DIR
setup "etcd and two Patroni nodes (primary + synchronous standby, TLS, SCRAM) in $DIR/ha" ha_up "$DIR/ha"
# one credential per service, as systemd's LoadCredential= hands them
# (OPS_DATABASE_URL_FILE beats the config's database.url, which is the
# owner's URL with its passfile, for opsctl migrate)
mkdir -p "$DIR/credentials"
ha_credential ops_fcgi "$DIR/credentials/ops-fcgi.database_url" &&
	ha_credential ops_jobs "$DIR/credentials/ops-jobs.database_url" || setup_failed "the credentials"
OPS_DATABASE_URL_FILE=$DIR/credentials/ops-fcgi.database_url \
STACK_PG_URL=$HA_URL STACK_EXPORT_EXTRA="  chunk_bytes: 32KiB
  lease_seconds: 5
  heartbeat_seconds: 1" STACK_LOCKS_EXTRA="  heartbeat_seconds: 1
  stale_after_seconds: 3
  lease_seconds: 5" STACK_NGINX_LISTEN="sndbuf=64k" test_stack_up failover "on the Patroni cluster"

FIRST=$(ha_leader)
expect_eq "Patroni: a leader and a synchronous standby" "2 $(ha_sync)" "$(ha_cluster | jq -r '.members | length') $(ha_sync)"
expect_eq "the primary names the standby synchronous (synchronous_standby_names)" "$(ha_sync)" \
	"$(sql "SELECT current_setting('synchronous_standby_names')" | tr -d '"')"
for c in ops-fcgi ops-jobs; do
	expect_match "the $c credential: both nodes by name, read-write, verify-full against the test CA, channel binding, a password" \
		"^postgresql://ops_[a-z]+@n1\.ops\.test:[0-9]+,n2\.ops\.test:[0-9]+/ops\?hostaddr=127\.0\.0\.1,127\.0\.0\.1&target_session_attrs=read-write&sslmode=verify-full&sslrootcert=$DIR/ha/ca/ca\.crt&channel_binding=require&password=[0-9a-f]{36}$" \
		"$(cat "$DIR/credentials/$c.database_url")"
done

# the runner and the lock healer as their timers would run them, every 0.5 s
# and 1 s (a timer-launched job is a new process each time by design;
# ops-fcgi is the long-lived one)
touch "$DIR/running"
mkdir -p "$DIR/timers"
for jb in ops-export-runner:0.5 ops-lock-healer:1; do
	( while [ -e "$DIR/running" ]; do
		OPS_DATABASE_URL_FILE=$DIR/credentials/ops-jobs.database_url \
			"$BIN/${jb%:*}" --config "$STACK_CONFIG" >>"$DIR/timers/${jb%:*}.log" 2>&1
		sleep "${jb#*:}"
	done ) &
	RUNNER_PID+=" $!"
done

# nginx passes downloads through (no temp file): the responder reads the
# file chunk by chunk at the client's pace, so a download is still reading
# from the database when the primary goes
sed -i 's/^fastcgi_max_temp_file_size .*;/fastcgi_max_temp_file_size 0;/' "$DIR/nginx/ops-download.conf"
setup "nginx without download spooling" nginx -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" -s reload

seed_audit bulk 9000 words=8 || setup_failed "seeding audit_log"
AUD=$(mint auditor-1 "" '["AUDITOR"]')
create() {  # create TENANT: sets JOB
	api POST /api/ops/audit-exports "$AUD" -H 'Content-Type: application/json' \
		-d "$(jq -cn --arg t "$1" '{tenant_id:$t, from:"2026-10-01T00:00:00Z", to:"2026-10-02T00:00:00Z", format:"jsonl"}')"
	JOB=$(jq -r '.id // empty' <<<"$BODY")
}
state_is() { [ "$(job_field "$1" state)" = "$2" ]; }
now_s() { date +%s.%N; }
since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

create bulk; REF=$JOB
wait_for 90 state_is "$REF" DONE
REF_SHA=$(job_field "$REF" sha256); REF_CHUNKS=$(job_field "$REF" progress_chunks)
REF_BYTES=$(job_field "$REF" "(SELECT sum(byte_count) FROM tb_audit_export_chunk WHERE job_id = '$REF')")
check "the reference export is DONE ($REF_CHUNKS chunks, $REF_BYTES bytes)" test -n "$REF_SHA" -a -n "$REF_BYTES"

# --- TLS and SCRAM, seen from the server --------------------------------------------
for n in n1 n2; do
	expect_eq "$n's pg_hba.conf: hostssl with scram-sha-256 only (clients and replication)" "" \
		"$(grep -vE '^[[:space:]]*(#|$)' "$DIR/ha/$n/data/pg_hba.conf" | grep -vE '^hostssl[[:space:]].*[[:space:]]scram-sha-256$')"
done
expect_eq "no unix socket of either node (unix_socket_directories '')" "" "$(find "$DIR/ha" -name '.s.PGSQL*')"
expect_eq "the roles' passwords are SCRAM-SHA-256 verifiers (owner and Patroni's superuser, replication, runtime)" \
	"ops SCRAM-SHA-256 ops_fcgi SCRAM-SHA-256 ops_jobs SCRAM-SHA-256 replicator SCRAM-SHA-256" \
	"$(sql "SELECT string_agg(rolname || ' ' || split_part(rolpassword, '\$', 1), ' ' ORDER BY rolname) FROM pg_authid WHERE rolname IN ('ops', 'ops_fcgi', 'ops_jobs', 'replicator')")"
# tls_sessions WHAT: on the primary now, every client session is TCP with
# TLSv1.3, the binaries' among them, and the standby streams over TLS
tls_sessions() {
	expect_eq "$1: no client session on the primary without TLSv1.3 (pg_stat_activity joined with pg_stat_ssl)" 0 \
		"$(sql "SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
		        WHERE a.backend_type = 'client backend' AND (a.client_addr IS NULL OR NOT s.ssl OR s.version IS DISTINCT FROM 'TLSv1.3')")"
	expect_eq "$1: ops-fcgi's sessions are among them, as ops_fcgi over TLS" "ops_fcgi true" \
		"$(sql "SELECT DISTINCT a.usename || ' ' || s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.application_name LIKE 'ops-fcgi%'")"
	expect_eq "$1: the synchronous standby streams over TLS (pg_stat_replication, pg_stat_ssl)" "replicator sync true" \
		"$(sql "SELECT r.usename || ' ' || r.sync_state || ' ' || s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)")"
}
tls_sessions "TLS"
# every binary's logins, as the primary's log has them: TLSv1.3, SCRAM
PGLOG="$DIR/ha/$FIRST/log/postgresql.log"
for app in ops-fcgi ops-export-runner ops-lock-healer opsctl; do  # opsctl: the migration, as the owner
	check "$app logged in to the primary over TLSv1.3 (server log)" \
		grep -qE "connection authorized: user=[a-z_]+ database=ops application_name=$app(/[0-9a-z]+)? SSL enabled \(protocol=TLSv1\.3" "$PGLOG"
done
expect_eq "every login authenticated with SCRAM-SHA-256 (none otherwise)" "" \
	"$(grep 'connection authenticated:' "$DIR"/ha/n[12]/log/postgresql.log | grep -v 'method=scram-sha-256')"
check "and the runtime roles were among them" grep -qE 'connection authenticated: identity="ops_(fcgi|jobs)" method=scram-sha-256' "$PGLOG"
# refused: what a client must not get
LPORT=$(ha_port "$FIRST-pg")
out=$(psql -X -qAt "postgresql://ops_fcgi@127.0.0.1:$LPORT/ops?sslmode=disable&password=$HA_PW_FCGI" -c 'SELECT 1' 2>&1)
expect_contains "the server refuses a connection without TLS (right password)" "no encryption" "$out"
out=$(psql -X -qAt "$(ha_url_base ops_fcgi)&password=wrong-password" -c 'SELECT 1' 2>&1)
expect_contains "a wrong password is refused" "password authentication failed" "$out"
out=$(psql -X -qAt "$(ha_url_base ops_fcgi "$DIR/ha/other-ca/ca.crt")&password=$HA_PW_FCGI" -c 'SELECT 1' 2>&1)
expect_contains "a server certificate the client's CA did not sign is refused (verify-full)" "certificate verify failed" "$out"
other=n1; [ "$FIRST" = n1 ] && other=n2
out=$(psql -X -qAt "postgresql://ops_fcgi@$other.ops.test:$LPORT/ops?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert=$DIR/ha/ca/ca.crt&password=$HA_PW_FCGI" -c 'SELECT 1' 2>&1)
expect_contains "a node answering for another node's name is refused (verify-full checks the name)" "does not match host name \"$other.ops.test\"" "$out"

# From here on every chunk insert takes 100 ms more (a slow disk, in this
# test database only): an export stays under way for seconds, whatever the
# load of the machine, so the kill below lands inside it
sql "CREATE FUNCTION test_slow_chunk() RETURNS trigger LANGUAGE plpgsql AS \$\$
     BEGIN PERFORM pg_sleep(0.1); RETURN NEW; END \$\$;
     CREATE TRIGGER test_slow_chunk BEFORE INSERT ON tb_audit_export_chunk
     FOR EACH ROW EXECUTE FUNCTION test_slow_chunk()" >/dev/null || setup_failed "the slow-disk trigger"

# --- the poller: wrk through nginx, a few connections -----------------------------
# tests/tools/poll-record.lua classifies every answer (200 naming the job,
# 503 DB_UNAVAILABLE with Retry-After, or anything else) and prints the
# counts, the first and last failed answer's time and wrk's socket errors in
# one line. 4 connections, each pausing 20 ms after an answer (at most ~200
# polls/s: bounded, so that the machine's two cores still run the export);
# wrk runs until poll_stop (SIGINT: wrk stops and reports), not for a
# guessed duration.
POLL="$STACK_URL/api/ops/audit-exports/$REF"
poll_start() {  # poll_start FILE: returns when wrk has its first answer
	rm -f "$1.started"
	POLL_EXPECT=$REF POLL_DELAY_MS=20 POLL_MARK=$1.started wrk -t2 -c4 -d600s --timeout 10s \
		-s "$ROOT/tests/tools/poll-record.lua" -H "Authorization: Bearer $AUD" "$POLL" >"$1" 2>&1 &
	POLL_PID=$!
	wait_for 20 test -e "$1.started"
}
# poll_more N: nginx logged N more requests (wrk's, after the moment of call)
poll_more() {
	local n0
	n0=$(wc -l <"$DIR/nginx/access.log")
	wait_for 30 sh -c "[ \$(wc -l <'$DIR/nginx/access.log') -ge $((n0 + $1)) ]"
}
poll_stop() { kill -INT "$POLL_PID"; wait "$POLL_PID"; POLL_PID=""; }
# poll_ok: a poll of the job answers 200 now (curl, beside wrk)
poll_ok() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $AUD" "$POLL")" = 200 ]; }
pr() { sed -n 's/^poll-record: //p' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
# poll_report FILE WHAT T0: checks and prints the polls of FILE (T0: the
# kill or the switchover request, for the times)
poll_report() {
	local f=$1 what=$2 t0=$3 n un bad errs
	n=$(pr "$f" polls); un=$(pr "$f" unavail); bad=$(pr "$f" bad)
	check "$what: wrk reported ($(tail -n 1 "$f"))" test -n "$n" -a "${n:-0}" -gt 0
	errs="$(pr "$f" err_connect) $(pr "$f" err_read) $(pr "$f" err_write) $(pr "$f" err_timeout)"
	POLL_FAILS=$((un + bad))
	expect_eq "$what: every failed poll is 503 DB_UNAVAILABLE with Retry-After ($POLL_FAILS of $n polls failed: $(pr "$f" by_status))" \
		"0 -" "$bad $(pr "$f" bad_sample)"
	expect_eq "$what: no connection refused, reset, cut short or timed out (wrk: connect read write timeout)" "0 0 0 0" "$errs"
	expect_eq "$what: the last poll answers 200 and 200s came after the last failure" "200 yes" \
		"$(pr "$f" last_status) $(awk -v o="$(pr "$f" last_ok)" -v l="$(pr "$f" last_fail)" 'BEGIN { print (o > l ? "yes" : "no") }')"
	if [ "$POLL_FAILS" -gt 0 ]; then
		POLL_DOWN=$(since "$(pr "$f" first_fail)" "$(pr "$f" last_fail)")
		POLL_WINDOW="$(since "$t0" "$(pr "$f" first_fail)") s to $(since "$t0" "$(pr "$f" last_fail)") s after"
	else
		POLL_DOWN=0; POLL_WINDOW="none"
	fi
	POLL_N=$n
}

# export_intact TAG JOB: JOB's file is the reference's, every chunk once,
# and no chunk from an attempt later than the job's (fencing)
export_intact() {
	expect_eq "($1) byte-identical to the reference (sha256)" "$REF_SHA" "$(job_field "$2" sha256)"
	expect_eq "($1) every chunk once: seq 0..n-1 contiguous, offsets end to end, as many as the reference" \
		"$REF_CHUNKS $REF_CHUNKS $REF_BYTES" \
		"$(sql "SELECT count(*) || ' ' || (max(seq) + 1) || ' ' || sum(byte_count) FROM tb_audit_export_chunk c
		        WHERE job_id = '$2' AND byte_offset = coalesce((SELECT p.byte_offset + p.byte_count FROM tb_audit_export_chunk p
		                                                        WHERE p.job_id = c.job_id AND p.seq = c.seq - 1), 0)")"
	expect_eq "($1) fencing: no chunk from an attempt later than the job's" 0 \
		"$(sql "SELECT count(*) FROM tb_audit_export_chunk c JOIN tb_audit_export_job j ON j.id = c.job_id
		        WHERE c.job_id = '$2' AND c.attempt > j.attempt")"
}

# --- 1. the primary crashes under an export, a download and polls --------------
FCGI_PID=$(cat "$DIR/ops-fcgi.pid")
CL=$(curl -s -o /dev/null -D - -r 0-0 -H "Authorization: Bearer $AUD" "$STACK_URL/api/ops/audit-exports/$REF/download" |
	tr -d '\r' | sed -n 's|^[Cc]ontent-[Rr]ange: bytes 0-0/||p')
expect_eq "the reference download's length is its bytes" "$REF_BYTES" "$CL"
poll_start "$DIR/polls-crash"
# the export first (each chunk at least 100 ms, above), then a slow download
# (300 KB/s: about 13 s for the file; nginx's send buffer is small, so most
# of it is still to be read from the database), then the kill as soon as
# both are under way
create bulk; K=$JOB
wait_chunks "$K" 3 60 || setup_failed "an export under way ($(job_field "$K" progress_chunks) chunks)"
# tests/tools/slow-get, not curl --limit-rate (which lets bursts through):
# it prints "STATUS SECONDS BYTES" and exits 18 when the body is cut short
( "$ROOT/tests/tools/slow-get" "$STACK_URL/api/ops/audit-exports/$REF/download" "$DIR/dl" 300000 \
	"Authorization: Bearer $AUD" >"$DIR/dl.meta" 2>&1
  echo $? >"$DIR/dl.rc" ) &
DL_PID=$!
dl_started() { [ "$(stat -c %s "$DIR/dl" 2>/dev/null || echo 0)" -gt 0 ]; }
wait_for 20 dl_started || setup_failed "a download under way"
LEADER=$(ha_leader); PM=$(ha_postmaster "$LEADER")
KILL_STATE=$(job_field "$K" state); KILL_CHUNKS=$(job_field "$K" progress_chunks); KILL_DL=$(stat -c %s "$DIR/dl")
T_KILL=$(now_s)
kill -KILL "$PM"
expect_eq "the kill lands mid-export (RUNNING, $KILL_CHUNKS of $REF_CHUNKS chunks) and mid-download ($KILL_DL of $CL bytes)" "RUNNING yes yes" \
	"$KILL_STATE $([ "$KILL_CHUNKS" -lt "$REF_CHUNKS" ] && echo yes) $([ "$KILL_DL" -lt "$CL" ] && echo yes)"
note "SIGKILL to $LEADER's postmaster (pid $PM): export at chunk $KILL_CHUNKS, download at $KILL_DL of $CL bytes"
new_leader() { local l; l=$(ha_leader); [ -n "$l" ] && [ "$l" != "$LEADER" ]; }
rw_up() { psql -X -qAt "$HA_URL&connect_timeout=1" -c "SELECT NOT pg_is_in_recovery()" 2>/dev/null | grep -qx t; }
check "Patroni promoted the standby" wait_for 30 new_leader
wait_for 30 rw_up; T_RW=$(now_s)
note "a read-write primary is reachable $(since "$T_KILL" "$T_RW") s after the kill (now $(ha_leader))"
check "polls answer 200 again" wait_for 30 poll_ok

# (a) the export
wait_for 90 state_is "$K" DONE
expect_eq "(a) the export finished on the new primary" DONE "$(job_field "$K" state)"
export_intact a "$K"
curl -s -o "$DIR/k.dl" -H "Authorization: Bearer $AUD" "$STACK_URL/api/ops/audit-exports/$K/download"
expect_eq "(a) its download hashes to the reference" "$REF_SHA" "$(sha256sum <"$DIR/k.dl" | cut -d' ' -f1)"
note "(a) lost: $((REF_CHUNKS - $(job_field "$K" progress_chunks))) chunks; attempt $(job_field "$K" attempt), finished $(since "$T_KILL" "$(sql "SELECT extract(epoch FROM finished_at) FROM tb_audit_export_job WHERE id = '$K'")") s after the kill"

# (b) the download
wait "$DL_PID"
read -r dcode _ dsize <"$DIR/dl.meta"; drc=$(cat "$DIR/dl.rc")
if [ "$drc" = 0 ]; then
	expect_eq "(b) the download ran through the failover whole: 200, $dsize of $CL bytes" "200 $CL" "$dcode $dsize"
	expect_eq "(b) and byte-exact" "$REF_SHA" "$(sha256sum <"$DIR/dl" | cut -d' ' -f1)"
	# the retry a cut client would make, from where this one was at the kill
	mv "$DIR/dl" "$DIR/dl.whole"; head -c "$KILL_DL" "$DIR/dl.whole" >"$DIR/dl"; dsize=$KILL_DL
else
	expect_eq "(b) the download was cut visibly: 200, then the client exits 18 (fewer bytes than Content-Length)" "200 18" "$dcode $drc"
	check "(b) it holds fewer bytes than the file ($dsize of $CL)" test "$dsize" -lt "$CL"
fi
expect_eq "(b) what the client holds is a prefix of the file" \
	"$(curl -s -r "0-$((dsize - 1))" -H "Authorization: Bearer $AUD" "$STACK_URL/api/ops/audit-exports/$REF/download" | sha256sum | cut -d' ' -f1)" \
	"$(sha256sum <"$DIR/dl" | cut -d' ' -f1)"
rcode=$(curl -s -o "$DIR/dl.rest" -w '%{http_code}' -H "Range: bytes=$dsize-" \
	-H "Authorization: Bearer $AUD" "$STACK_URL/api/ops/audit-exports/$REF/download")
expect_eq "(b) a retry with Range: bytes=$dsize- answers 206" 206 "$rcode"
cat "$DIR/dl.rest" >>"$DIR/dl"
expect_eq "(b) and completes it byte-exact" "$REF_SHA" "$(sha256sum <"$DIR/dl" | cut -d' ' -f1)"
note "(b) lost: $(( CL - $(stat -c %s "$DIR/dl") )) bytes after the retry"

# (c) the polls
poll_more 40
poll_stop
poll_report "$DIR/polls-crash" "(c) crash" "$T_KILL"
check "(c) the polls saw the outage (some answered 503)" test "$POLL_FAILS" -gt 0
tls_sessions "(c) after the failover"
expect_eq "(c) no binary restarted: ops-fcgi is the same process" "$FCGI_PID alive" "$(cat "$DIR/ops-fcgi.pid") $(kill -0 "$FCGI_PID" && echo alive)"
note "(c) crash: $POLL_FAILS of $POLL_N polls failed ($(pr "$DIR/polls-crash" by_status)), API unavailable ${POLL_DOWN} s (first to last failed poll, $POLL_WINDOW the kill); lost: nothing (polls are reads)"

# --- 2. a planned switchover ------------------------------------------------------
check "the old primary rejoined as synchronous standby" wait_for 60 ha_ready
FROM=$(ha_leader); TO=$(ha_sync)
create bulk; S=$JOB
wait_chunks "$S" 5 60
poll_start "$DIR/polls-switch"
T_SW=$(now_s)
sw=$(curl -s -w ' %{http_code}' --max-time 60 -X POST -H 'Content-Type: application/json' \
	-d "{\"leader\":\"$FROM\",\"candidate\":\"$TO\"}" "http://127.0.0.1:$(ha_port "$FROM-rest")/switchover")
expect_match "switchover $FROM -> $TO through Patroni's REST API ($sw)" " 200$" "$sw"
wait_for 30 rw_up; T_SW_RW=$(now_s)
new_is_to() { [ "$(ha_leader)" = "$TO" ]; }
check "$TO leads" wait_for 30 new_is_to
check "(d) polls answer 200 again" wait_for 30 poll_ok
poll_more 40
poll_stop
poll_report "$DIR/polls-switch" "(d) switchover" "$T_SW"
wait_for 90 state_is "$S" DONE
expect_eq "(d) the export across the switchover is byte-identical" "$REF_SHA" "$(job_field "$S" sha256)"
note "(d) switchover: $POLL_FAILS of $POLL_N polls failed ($(pr "$DIR/polls-switch" by_status)), API unavailable ${POLL_DOWN} s ($POLL_WINDOW the request); read-write primary back $(since "$T_SW" "$T_SW_RW") s after the request; lost: nothing"
note "(d) not 0 failed polls: Patroni stops the old primary before it promotes the standby, and every binary talks to the read-write primary only (docs/architecture.md)"

# --- 3. a whole database host lost: Patroni and PostgreSQL SIGKILLed together -------
# Nothing is left to give up the leader key: the standby waits out its ttl
# (20 s here) before it may promote itself. The kernel still closes the
# killed processes' sockets (the clients see resets, not a host that went
# silent: that needs keepalives/tcp_user_timeout, docs/config.md).
check "the old primary rejoined as synchronous standby" wait_for 60 ha_ready
LEADER=$(ha_leader); SURV=$(ha_sync)
create bulk; H=$JOB
wait_chunks "$H" 5 60 || setup_failed "an export under way ($(job_field "$H" progress_chunks) chunks)"
poll_start "$DIR/polls-host"
# acked: the chunks committed (acknowledged by the primary, so flushed by the
# synchronous standby) before the kill, with their digests and attempt
acked() { sql "SELECT count(*) || ' ' || md5(string_agg(seq || ':' || sha256 || ':' || attempt, ',' ORDER BY seq))
               FROM tb_audit_export_chunk WHERE job_id = '$H' AND seq < $1"; }
ACK_N=$(job_field "$H" progress_chunks); ACK=$(acked "$ACK_N")
HOST_PIDS="$(cat "$DIR/ha/$LEADER.pid") $(ha_postmaster "$LEADER")"
HOST_PIDS+=" $(ps -o pid= --ppid "$(ha_postmaster "$LEADER")" | tr '\n' ' ')"
T_HOST=$(now_s)
kill -KILL $HOST_PIDS
note "SIGKILL to every process of $LEADER (Patroni and PostgreSQL: $(wc -w <<<"$HOST_PIDS") pids), export $H at chunk $ACK_N"
check "the kill lands mid-export ($ACK_N of $REF_CHUNKS chunks)" test "$ACK_N" -lt "$REF_CHUNKS"
survivor_leads() { [ "$(ha_rest "$SURV" /cluster | jq -r '.members[] | select(.role == "leader" and .state == "running") | .name' 2>/dev/null)" = "$SURV" ]; }
check "Patroni promoted $SURV after the leader key's ttl" wait_for 90 survivor_leads
T_HOST_PROMO=$(now_s)
wait_for 30 rw_up; T_HOST_RW=$(now_s)
note "host loss: $SURV leads $(since "$T_HOST" "$T_HOST_PROMO") s after the kill (ttl 20, loop_wait 1, retry_timeout 5), read-write $(since "$T_HOST" "$T_HOST_RW") s after"
expect_eq "(e) no acknowledged chunk lost: the $ACK_N chunks committed before the kill are on $SURV, same digests and attempt" \
	"$ACK" "$(acked "$ACK_N")"
check "(e) polls answer 200 again" wait_for 30 poll_ok
poll_more 40
poll_stop
poll_report "$DIR/polls-host" "(e) host loss" "$T_HOST"
check "(e) the polls saw the outage (some answered 503)" test "$POLL_FAILS" -gt 0
expect_eq "(e) on $SURV too, no client session without TLSv1.3" 0 \
	"$(sql "SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
	        WHERE a.backend_type = 'client backend' AND (a.client_addr IS NULL OR NOT s.ssl OR s.version IS DISTINCT FROM 'TLSv1.3')")"
wait_for 120 state_is "$H" DONE
expect_eq "(e) the export finished on $SURV" DONE "$(job_field "$H" state)"
export_intact e "$H"
note "(e) host loss: $POLL_FAILS of $POLL_N polls failed ($(pr "$DIR/polls-host" by_status)), API unavailable ${POLL_DOWN} s ($POLL_WINDOW the kill); export attempt $(job_field "$H" attempt), finished $(since "$T_HOST" "$(sql "SELECT extract(epoch FROM finished_at) FROM tb_audit_export_job WHERE id = '$H'")") s after the kill; lost: nothing"
expect_eq "no binary restarted: ops-fcgi is the same process" "$FCGI_PID alive" "$(cat "$DIR/ops-fcgi.pid") $(kill -0 "$FCGI_PID" && echo alive)"
note "failover suite: $((SECONDS - T0)) s"

finish
