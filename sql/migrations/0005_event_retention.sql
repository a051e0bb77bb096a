-- 0005_event_retention: ops_event gets a retention (events.retention_days,
-- purged by ops-export-cleaner in batches), and the counters /metrics
-- computes from events survive the purge.
--
-- A counter such as ops_scheduler_lock_recoveries_total is "events of this
-- kind ever"; once old events are deleted, counting the rows would make it
-- go down, which Prometheus reads as a counter reset (and increase() then
-- counts the whole remaining history again). So the purge deletes a batch
-- and, in the same statement (one transaction), adds what it deleted to
-- ops_event_rollup. /metrics reports rows + rollup: the sum never goes down,
-- and a scrape sees either both halves before the purge or both after.
--
-- Only the event kinds a counter is built from are rolled up, keyed by what
-- the metric's labels need, so the table stays small (locks x reasons, plus
-- one row per export event kind):
--   SCHEDULER_LOCK_RECOVERED       per lock, label = data->>'reason'
--   SCHEDULER_LOCK_FORCE_RELEASED  per lock, label = data->>'already_free'
--   EXPORT_COMPLETED, EXPORT_FAILED, EXPORT_CORRUPT   per kind
CREATE TABLE ops_event_rollup (
	event_type   text NOT NULL,
	subject_type text NOT NULL DEFAULT '',
	subject_id   text NOT NULL DEFAULT '',
	label        text NOT NULL DEFAULT '',
	n            bigint NOT NULL,
	-- the newest purged event counted here (purge lag, audits)
	last_purged_at timestamptz NOT NULL,
	PRIMARY KEY (event_type, subject_type, subject_id, label),
	CONSTRAINT ops_event_rollup_n_check CHECK (n > 0)
);

COMMENT ON TABLE ops_event_rollup IS
	'Counts of purged ops_event rows that /metrics counters are built from; written only by the ops_event purge (ops-export-cleaner), in the transaction that deletes the rows.';
