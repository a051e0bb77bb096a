#!/usr/bin/env bash
# ops_event retention (issue 10): ops-export-cleaner purges events older
# than events.retention_days in batches of export.cleaner_batch_size, and
# the counters /metrics builds from events never go down: not after the
# purge, and not in any scrape taken while it runs.
# Runtime: about 10 s.
. "$(dirname "$0")/../lib.sh"

STACK_EXPORT_EXTRA="  cleaner_batch_size: 37" test_stack_up retention
# the cleaner purges at 30 days; ops-fcgi keeps the default it started with
printf 'events:\n  retention_days: 30\n' >>"$STACK_CONFIG"

# 3000 old events (40 days) of every kind the counters read, plus noise,
# and 10 recent ones; the lock rows the recoveries belong to.
sql "INSERT INTO tb_scheduler_lock (name) VALUES ('ops-lock-healer'), ('ops-export-runner:a') ON CONFLICT DO NOTHING;
INSERT INTO ops_event (occurred_at, event_type, severity, source, subject_type, subject_id, data)
SELECT now() - interval '40 days' + g * interval '1 second',
       (ARRAY['SCHEDULER_LOCK_RECOVERED','SCHEDULER_LOCK_FORCE_RELEASED','EXPORT_COMPLETED','EXPORT_FAILED','EXPORT_CORRUPT','JOB_RUN_SUCCEEDED'])[1 + g % 6],
       'info', 'test',
       CASE WHEN g % 6 < 2 THEN 'scheduler_lock' ELSE 'audit_export' END,
       CASE WHEN g % 6 < 2 THEN (ARRAY['ops-lock-healer','ops-export-runner:a'])[1 + g % 4 / 2] ELSE 'job-' || g END,
       CASE g % 6 WHEN 0 THEN jsonb_build_object('reason', (ARRAY['expired','orphaned','stale'])[1 + g % 3])
                  WHEN 1 THEN jsonb_build_object('already_free', (g % 5 = 0)::text)
                  ELSE '{}' END
FROM generate_series(1, 3000) g;
INSERT INTO ops_event (event_type, severity, source, subject_type, subject_id, data)
SELECT 'SCHEDULER_LOCK_RECOVERED', 'warning', 'test', 'scheduler_lock', 'ops-lock-healer', '{\"reason\":\"stale\"}'
FROM generate_series(1, 10);" >/dev/null || not_ok "seeding ops_event"

# the counter samples of one scrape, "name value" sorted (the cleaner's own
# lock row appears with its first run: its zero series are left out)
counters() {
	curl -s "$STACK_URL/metrics" | grep -E '^(ops_scheduler_lock_recoveries_total|ops_scheduler_lock_force_releases_total|ops_export_events_total)\{' |
		grep -v 'name="ops-export-cleaner"' | sort
}
before=$(counters)
expect_match "metrics show the recoveries before the purge" 'ops_scheduler_lock_recoveries_total\{name="ops-lock-healer",reason="stale"\} [1-9]' "$before"
expect_contains "metrics count EXPORT_CORRUPT events" 'ops_export_events_total{type="EXPORT_CORRUPT"} 500' "$before"

# scrape continuously while the cleaner purges
: >"$DIR/scrapes"
( while [ ! -e "$DIR/stop" ]; do counters | tr '\n' ' ' >>"$DIR/scrapes"; echo >>"$DIR/scrapes"; done ) &
scraper=$!
for _ in $(seq 1 100); do [ -s "$DIR/scrapes" ] && break; sleep 0.05; done
"$BIN/ops-export-cleaner" --config "$STACK_CONFIG" --textfile-dir "$DIR" >"$DIR/cleaner.log" 2>&1
rc=$?
for _ in $(seq 1 3); do n=$(wc -l <"$DIR/scrapes"); while [ "$(wc -l <"$DIR/scrapes")" -le "$n" ]; do sleep 0.05; done; done
touch "$DIR/stop"; wait "$scraper"
expect_eq "the cleaner succeeds" 0 "$rc"

expect_eq "old events are purged, recent ones kept" "0 10" \
	"$(sql "SELECT count(*) FILTER (WHERE occurred_at < now() - interval '30 days') || ' ' || count(*) FILTER (WHERE source = 'test') FROM ops_event")"
expect_contains "the cleaner reports 3000 events purged" 'what="events_purged"} 3000' "$(cat "$DIR/ops-export-cleaner.prom")"
expect_eq "the rollup holds what the counters need, nothing else" \
	"EXPORT_COMPLETED|500 EXPORT_CORRUPT|500 EXPORT_FAILED|500 SCHEDULER_LOCK_FORCE_RELEASED|500 SCHEDULER_LOCK_RECOVERED|500" \
	"$(sql "SELECT string_agg(event_type || '|' || s, ' ' ORDER BY event_type) FROM (SELECT event_type, sum(n) AS s FROM ops_event_rollup GROUP BY 1) x")"
after=$(counters)
expect_eq "every counter is the same after the purge" "$before" "$after"

# no scrape ever saw a counter lower than an earlier scrape
bad=$(awk '{ for (i = 1; i < NF; i += 2) { k = $i; v = $(i + 1) + 0; if (k in last && v < last[k]) print k, last[k], "->", v; last[k] = v } }' "$DIR/scrapes")
expect_eq "no counter went down in $(wc -l <"$DIR/scrapes") scrapes during the purge" "" "$bad"

# a second purge with nothing old changes nothing
"$BIN/ops-export-cleaner" --config "$STACK_CONFIG" >/dev/null 2>&1
expect_eq "a purge with nothing to do keeps the counters" "$before" "$(counters)"
age=$(curl -s "$STACK_URL/metrics" | awk '$1 == "ops_event_oldest_age_seconds" {print int($2)}')
ret=$(curl -s "$STACK_URL/metrics" | awk '$1 == "ops_event_retention_seconds" {print $2}')
expect_eq "ops_event_retention_seconds is 90 days in ops-fcgi's config" 7776000 "$ret"
check "ops_event_oldest_age_seconds is below the retention after the purge" [ "${age:-999999999}" -lt 2592000 ]
# a purge the database refuses: the job_run row keeps the SQLSTATE and message
sql "INSERT INTO ops_event (occurred_at, event_type, severity, source) VALUES (now() - interval '40 days', 'EXPORT_FAILED', 'info', 'test');
     REVOKE DELETE ON ops_event FROM ops_jobs" >/dev/null
"$BIN/ops-export-cleaner" --config "$STACK_CONFIG" >/dev/null 2>&1
rc=$?
sql "GRANT DELETE ON ops_event TO ops_jobs" >/dev/null
expect_eq "the cleaner fails when it may not delete events" 1 "$rc"
expect_eq "its job_run row says why: the SQLSTATE and the server's message" \
	"FAILED|purging old events failed: sqlstate 42501: permission denied for table ops_event" \
	"$(sql "SELECT status, error FROM job_run WHERE job = 'ops-export-cleaner' ORDER BY id DESC LIMIT 1")"
finish
