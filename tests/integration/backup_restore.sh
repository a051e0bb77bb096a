#!/usr/bin/env bash
# Backup and restore (runbooks/backup-restore.md): pg_dump a live stack that
# has a DONE, a RUNNING (runner paused mid-export, holding its lock) and a
# PENDING export, restore the dump into a fresh cluster, start the stack on
# it, and check that the API answers, the DONE file downloads byte-exact, the
# healer recovers the dead holder's lock, and the runner reclaims and resumes
# the RUNNING job and runs the PENDING one. Waits have deadlines.
# Runtime: about 40 s.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/scripts/stack-lib.sh"

D1=$(mktemp -d /tmp/ops-backup1.XXXXXX)
D2=$(mktemp -d /tmp/ops-backup2.XXXXXX)
T_TMP=$D1
RP=""
cleanup() {
	[ -n "$RP" ] && { kill -CONT "$RP" 2>/dev/null; kill -KILL "$RP" 2>/dev/null; }
	stack_down "$D1"; stack_down "$D2"; rm -rf "$D1" "$D2"
}
trap cleanup EXIT

EXTRA="  chunk_bytes: 4KiB
  lease_seconds: 5
  heartbeat_seconds: 2"
STACK_EXPORT_EXTRA=$EXTRA stack_up "$D1" "$(free_port)" || setup_failed "the first stack starts"
setup_done "the first stack starts"

{ seed_audit acme 2000 step='20 seconds' && seed_audit bulk 20000 per=3 words=10; } ||
	setup_failed "seeding audit_log (tests/seed.sql)"

AUD=$(mint auditor-1 "" '["AUDITOR"]')
create() {  # create TENANT FORMAT: sets JOB
	api POST /api/ops/audit-exports "$AUD" -H 'Content-Type: application/json' \
		-d "{\"tenant_id\":\"$1\",\"from\":\"2026-10-01T00:00:00Z\",\"to\":\"2026-10-02T00:00:00Z\",\"format\":\"$2\"}"
	JOB=$(jq -r '.id // empty' <<<"$BODY")
}
state() { sql "SELECT state FROM tb_audit_export_job WHERE id = '$1'"; }
# wait_for DESC SECONDS CMD...: until CMD succeeds, or not ok after SECONDS
wait_for() {
	local desc=$1 t=$2 end; shift 2
	end=$(( $(date +%s) + t ))
	while [ "$(date +%s)" -lt "$end" ]; do "$@" && { ok "$desc"; return 0; }; sleep 0.2; done
	not_ok "$desc (not within $t s)"; return 1
}

# DONE: a small export, run to the end
create acme jsonl; DONE_JOB=$JOB
"$BIN/ops-export-runner" --config "$STACK_CONFIG" --instance a >/dev/null 2>&1
expect_eq "the first export is DONE" DONE "$(state "$DONE_JOB")"
curl -s -o "$D1/done.before" -H "Authorization: Bearer $AUD" "$STACK_URL/api/ops/audit-exports/$DONE_JOB/download"
DONE_SHA=$(sql "SELECT sha256 FROM tb_audit_export_job WHERE id = '$DONE_JOB'")
expect_eq "its download matches its sha256" "$DONE_SHA" "$(sha256sum <"$D1/done.before" | cut -d' ' -f1)"

# RUNNING: a big export whose runner is paused mid-way, holding its lock
create bulk jsonl; RUN_JOB=$JOB
"$BIN/ops-export-runner" --config "$STACK_CONFIG" --instance b >/dev/null 2>&1 &
RP=$!
chunks() { [ "$(sql "SELECT progress_chunks FROM tb_audit_export_job WHERE id = '$RUN_JOB'")" -ge 5 ] 2>/dev/null; }
wait_for "the big export has committed 5 chunks" 30 chunks
kill -STOP "$RP"
# PENDING: created while no runner can claim it
create acme csv; PEND_JOB=$JOB
expect_eq "states before the dump" "DONE RUNNING PENDING" \
	"$(state "$DONE_JOB") $(state "$RUN_JOB") $(state "$PEND_JOB")"
expect_match "the paused runner holds its lock" "^ops-export-runner:.*:$RP$" \
	"$(sql "SELECT holder FROM tb_scheduler_lock WHERE name = 'ops-export-runner:b'")"

# the backup, as the runbook says (custom format, from the live database)
if pg_dump -Fc --no-owner -f "$D1/ops.dump" "$STACK_DB_URL" 2>"$D1/dump.err"; then
	ok "pg_dump of the live database"
else
	not_ok "pg_dump: $(cat "$D1/dump.err")"; finish
fi
# the old world ends: the runner dies with its lock held, the cluster goes
kill -KILL "$RP"; wait "$RP" 2>/dev/null; RP=""
cp "$D1/jwt.secret" "$D1/download.secret" "$D2/"
stack_down "$D1"

STACK_RESTORE_DUMP="$D1/ops.dump" STACK_EXPORT_EXTRA=$EXTRA stack_up "$D2" "$(free_port)" ||
	{ not_ok "the stack starts on the restored database (pg_restore, migrations, ops-fcgi)"; finish; }
ok "the stack starts on the restored database (pg_restore, migrations, ops-fcgi)"
T_TMP=$D2
expect_eq "opsctl migrate found nothing to apply on the restored database" 0 "$(grep -c '^applied ' "$D2/migrate.log")"
expect_eq "every migration is recorded once" \
	"$(ls "$ROOT"/sql/migrations/*.sql | wc -l)" "$(sql "SELECT count(DISTINCT version) FROM schema_migrations")"

api GET /readyz ""
expect_eq "/readyz answers 200" 200 "$CODE"
api GET "/api/ops/audit-exports?limit=10" "$AUD"
expect_eq "the API lists the three jobs" "DONE PENDING RUNNING" "$(jq -r '[.items[].state] | sort | join(" ")' <<<"$BODY")"
curl -s -o "$D2/done.after" -H "Authorization: Bearer $AUD" "$STACK_URL/api/ops/audit-exports/$DONE_JOB/download"
check "the DONE export downloads byte-exact after the restore" cmp -s "$D1/done.before" "$D2/done.after"

# the healer recovers the dead holder's lock
heal_once() {  # one healer run (its timer, sped up); true once the lock is free
	"$BIN/ops-lock-healer" --config "$STACK_CONFIG" >>"$D2/healer.log" 2>&1
	[ "$(sql "SELECT holder IS NULL FROM tb_scheduler_lock WHERE name = 'ops-export-runner:b'")" = t ]
}
wait_for "the dead runner's lock is recovered" 30 heal_once
expect_eq "the recovery is an event" 1 \
	"$(sql "SELECT count(*) FROM ops_event WHERE event_type = 'SCHEDULER_LOCK_RECOVERED' AND subject_id = 'ops-export-runner:b'")"

# the runner reclaims the RUNNING job (lease over) and runs the PENDING one
both_done() {
	"$BIN/ops-export-runner" --config "$STACK_CONFIG" --instance b >/dev/null 2>&1
	[ "$(state "$RUN_JOB") $(state "$PEND_JOB")" = "DONE DONE" ]
}
wait_for "the RUNNING job is resumed and the PENDING one run, both DONE" 90 both_done
expect_eq "the RUNNING job was resumed, not restarted" 1 \
	"$(sql "SELECT count(*) FROM ops_event WHERE event_type = 'EXPORT_RESUMED' AND subject_id = '$RUN_JOB'")"
for j in "$RUN_JOB" "$PEND_JOB"; do
	curl -s -o "$D2/$j" -H "Authorization: Bearer $AUD" "$STACK_URL/api/ops/audit-exports/$j/download"
	expect_eq "job $j downloads with its sha256" \
		"$(sql "SELECT sha256 FROM tb_audit_export_job WHERE id = '$j'")" "$(sha256sum <"$D2/$j" | cut -d' ' -f1)"
done
expect_eq "the resumed export has every bulk row, once" "20000 20000" \
	"$(wc -l <"$D2/$RUN_JOB") $(jq -r .payload.seq "$D2/$RUN_JOB" | sort -u | wc -l)"
finish
