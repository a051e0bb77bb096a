#!/usr/bin/env bash
# tests/integration/upgrade.sh: a rolling upgrade (CONTRACT §19, issue 25;
# docs/database.md "Rolling upgrades").
#
# 1. The rule, statically: scripts/migration_check on every migration after
#    0006 (and on a bad migration, which it must refuse).
# 2. The previous release (the commit in sql/previous-release, reachable in
#    a plain `git clone` of this repository) is built from `git archive`
#    (cached in build/prev-release/COMMIT), its stack started at its own
#    schema: its ops-fcgi serves polls through nginx, its runner and healer
#    run jobs. While they do, this tree's `opsctl migrate` applies the new
#    migrations. The old binaries keep working: every poll 200, the export
#    running across the migration and one created after it DONE and
#    byte-identical to the reference. Then this tree's ops-fcgi replaces
#    the old one (the next step of a host-by-host upgrade) and serves what
#    the old binaries wrote.

source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

need_tools git make psql jq curl nginx perl
T0=$SECONDS

# --- 1. the rule, statically -------------------------------------------------------
out=$("$ROOT/scripts/migration_check" 2>&1); rc=$?
printf '%s\n' "$out" | grep -v '^FAIL=' | sed 's/^/# /'
expect_eq "scripts/migration_check: every migration after 0006 keeps the previous release working or is a listed contract step" "0 FAIL=0" "$rc $(tail -n1 <<<"$out")"
test_dir upgrade
mkdir -p "$DIR/bad"
cp "$ROOT"/sql/migrations/*.sql "$DIR/bad/"
printf 'ALTER TABLE tb_audit_export_job DROP COLUMN interrupted;\n' >"$DIR/bad/0099_drop.sql"
printf 'ALTER TABLE audit_log ADD COLUMN x text NOT NULL;\n' >"$DIR/bad/0098_notnull.sql"
printf 'ALTER TABLE audit_log RENAME COLUMN actor_id TO actor;\n' >"$DIR/bad/0097_rename.sql"
out=$("$ROOT/scripts/migration_check" "$DIR/bad" 2>&1)
expect_eq "it refuses DROP COLUMN, ADD COLUMN NOT NULL without DEFAULT and RENAME in new migrations" "FAIL=3" "$(tail -n1 <<<"$out")"
cp "$ROOT/sql/contract-steps" "$DIR/bad.steps"
echo "0099 contract test" >>"$DIR/bad.steps"
expect_contains "a contract step listed but not in the previous release fails too" \
	"FAIL 0099_drop.sql: a contract step that is not in the previous release" \
	"$("$ROOT/scripts/migration_check" "$DIR/bad" "$DIR/bad.steps" 2>&1)"

PREV=$(grep -v '^#' "$ROOT/sql/previous-release" | awk 'NF { print $1; exit }')
git clone -q --no-local "$ROOT" "$DIR/clone" 2>"$DIR/clone.err" || setup_failed "git clone of $ROOT ($(head -c 300 "$DIR/clone.err"))"
check "a plain git clone holds the previous release ($PREV)" git -C "$DIR/clone" cat-file -e "$PREV^{commit}"
expect_eq "and migration_check passes there" "FAIL=0" "$("$DIR/clone/scripts/migration_check" 2>&1 | tail -n1)"
rm -rf "$DIR/clone"

# --- 2. the previous release's binaries across the new migrations -------------------
CACHE=$ROOT/build/prev-release/$PREV
build_prev() {
	(
		flock -w 600 9 || exit 1
		[ -x "$CACHE/src/bin/ops-fcgi" ] && [ -x "$CACHE/src/bin/ops-lock-healer" ] && exit 0
		rm -rf "$CACHE/src"; mkdir -p "$CACHE/src"
		git -C "$ROOT" archive "$PREV" | tar -x -C "$CACHE/src" || exit 1
		# no .git in the archive: its version is "unknown", not this tree's
		GIT_DIR=/nonexistent make -s -C "$CACHE/src" -j2 bin/ops-fcgi bin/opsctl \
			bin/ops-export-runner bin/ops-lock-healer >"$CACHE/build.log" 2>&1
	) 9>>"$ROOT/build/prev-release.lock"
}
mkdir -p "$ROOT/build"
T_BUILD=$SECONDS
setup "the previous release ($PREV) built" build_prev
note "building it took $((SECONDS - T_BUILD)) s (cached in build/prev-release/)"
OLD=$CACHE/src
OLD_MIGRATIONS=$(ls "$OLD/sql/migrations" | wc -l)

# its own stack-lib, pgtemp, nginx config and binaries: the old release as it ran
STACK_ROOT=$OLD
source "$OLD/scripts/stack-lib.sh"
STACK_EXPORT_EXTRA="  chunk_bytes: 32KiB
  lease_seconds: 5
  heartbeat_seconds: 1" STACK_LOCKS_EXTRA="  heartbeat_seconds: 1
  stale_after_seconds: 3
  lease_seconds: 5" test_stack_up upgrade "the previous release's binaries and schema"
expect_eq "the database is at the previous release's schema ($OLD_MIGRATIONS migrations)" "$OLD_MIGRATIONS" \
	"$(sql "SELECT count(*) FROM schema_migrations")"

LOOP_PIDS=""
suite_cleanup() {
	rm -f "$DIR/running" "$DIR/polling"
	for p in $LOOP_PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	if [ "$T_FAILED" -gt 0 ]; then
		for f in "$DIR"/timers/*.log "$DIR/migrate-new.log"; do
			[ -f "$f" ] && { echo "--- last lines of $f:"; tail -n 15 "$f"; }
		done >&2
	fi
}
touch "$DIR/running"; mkdir -p "$DIR/timers"
for jb in ops-export-runner:0.5 ops-lock-healer:1; do
	( while [ -e "$DIR/running" ]; do
		"$OLD/bin/${jb%:*}" --config "$STACK_CONFIG" >>"$DIR/timers/${jb%:*}.log" 2>&1
		sleep "${jb#*:}"
	done ) &
	LOOP_PIDS+=" $!"
done

seed_audit bulk 12000 words=8 || setup_failed "seeding audit_log"
AUD=$(mint auditor-1 "" '["AUDITOR"]')
create() {
	api POST /api/ops/audit-exports "$AUD" -H 'Content-Type: application/json' \
		-d "$(jq -cn --arg t "$1" '{tenant_id:$t, from:"2026-10-01T00:00:00Z", to:"2026-10-02T00:00:00Z", format:"jsonl"}')"
	JOB=$(jq -r '.id // empty' <<<"$BODY")
}
state_is() { [ "$(job_field "$1" state)" = "$2" ]; }
create bulk; REF=$JOB
wait_for 90 state_is "$REF" DONE
REF_SHA=$(job_field "$REF" sha256)
check "the old runner made the reference export ($(job_field "$REF" progress_chunks) chunks)" test -n "$REF_SHA"

POLL="$STACK_URL/api/ops/audit-exports/$REF"
touch "$DIR/polling"
( while [ -e "$DIR/polling" ]; do
	echo "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H "Authorization: Bearer $AUD" "$POLL")" >>"$DIR/polls"
done ) &
POLLER=$!; LOOP_PIDS+=" $POLLER"

# From here on every chunk insert takes 30 ms more (a slow disk, in this
# test database only, as in failover.sh): the export below stays under way
# for seconds, so the migration runs inside it whatever the machine's speed
sql "CREATE FUNCTION test_slow_chunk() RETURNS trigger LANGUAGE plpgsql AS \$\$
     BEGIN PERFORM pg_sleep(0.03); RETURN NEW; END \$\$;
     CREATE TRIGGER test_slow_chunk BEFORE INSERT ON tb_audit_export_chunk
     FOR EACH ROW EXECUTE FUNCTION test_slow_chunk()" >/dev/null || setup_failed "the slow-disk trigger"

create bulk; K=$JOB
wait_chunks "$K" 5 60 || setup_failed "an export under way with the old runner"
T_MIG=$SECONDS
"$ROOT/bin/opsctl" --config "$STACK_CONFIG" migrate >"$DIR/migrate-new.log" 2>&1
mrc=$?
KS=$(job_field "$K" state)
expect_eq "this tree's opsctl migrate ran while the old binaries worked (exit 0, export $KS)" "0 RUNNING" "$mrc $KS"
NEW=$(comm -13 <(ls "$OLD/sql/migrations" | sed 's/_.*//' | sort) \
	<(sql "SELECT version FROM schema_migrations" | awk '{ printf "%04d\n", $1 }' | sort) | paste -sd' ')
expect_eq "it applied the migrations new since the previous release ($NEW)" "$(comm -13 <(ls "$OLD/sql/migrations" | sed 's/_.*//' | sort) <(ls "$ROOT/sql/migrations" | sed 's/_.*//' | sort) | paste -sd' ')" "$NEW"
note "migrate took $((SECONDS - T_MIG)) s"

create bulk; A=$JOB
expect_eq "the old ops-fcgi creates an export on the new schema" 202 "$CODE"
wait_for 90 state_is "$K" DONE
wait_for 90 state_is "$A" DONE
expect_eq "the export running across the migration: DONE, byte-identical" "DONE $REF_SHA" "$(job_field "$K" "state || ' ' || sha256")"
expect_eq "the export created after it: DONE by the old runner, byte-identical" "DONE $REF_SHA" "$(job_field "$A" "state || ' ' || sha256")"
expect_eq "the old runner recorded no failed run" 0 "$(sql "SELECT count(*) FROM job_run WHERE status = 'FAILED' AND job LIKE 'ops-export-runner%'")"
rm -f "$DIR/polling"; wait "$POLLER"
n=$(wc -l <"$DIR/polls"); bad=$(grep -cvx 200 "$DIR/polls")
expect_eq "polls through nginx to the old ops-fcgi during all of it: 0 failed of $n" 0 "$bad"
[ "$bad" -gt 0 ] && sort "$DIR/polls" | uniq -c | sed 's/^/# /'

# the next step of the host-by-host upgrade: this tree's responder
stack_fcgi_stop "$DIR"
STACK_ROOT=$ROOT
setup "this tree's ops-fcgi in place of the old one" stack_fcgi_start "$DIR"
api GET "/api/ops/audit-exports/$A" "$AUD"
expect_eq "the new ops-fcgi serves what the old binaries wrote" "200 DONE" "$CODE $(jq -r .state <<<"$BODY")"
note "upgrade suite: $((SECONDS - T0)) s"

finish
