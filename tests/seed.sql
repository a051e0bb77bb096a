-- tests/seed.sql: audit_log rows for the integration tests, the benchmarks
-- and make run's demo data: one shape, every column filled, and secrets in
-- the payload that every export must redact. Run it with psql variables
-- (seed_audit in tests/lib.sh does):
--
--   tenant   tenant_id of every row                         (required)
--   rows     how many rows                                  (required)
--   from     occurred_at of row 0, timestamptz text  (default 2026-10-01T00:00:00Z)
--   step     interval between consecutive times      (default 1 second)
--   per      rows that share one time                (default 1)
--   words    'lorem ipsum ' x words in payload.text  (default 0: no text)
--
-- Row g (1..rows) occurs at from + (g / per) * step (integer division), by
-- actor user-(g % 97), action one of five, target user u-(g % 1000), ip
-- 10.x.y.7, request_id req-g; payload {seq, ok, password, detail: {note,
-- api_key: "k-secret-g", tags}, text}. password and api_key are what
-- sanitize must redact.
\if :{?from}
\else
\set from '2026-10-01T00:00:00Z'
\endif
\if :{?step}
\else
\set step '1 second'
\endif
\if :{?per}
\else
\set per 1
\endif
\if :{?words}
\else
\set words 0
\endif
INSERT INTO audit_log (tenant_id, occurred_at, actor_id, action, target_type,
                       target_id, ip, request_id, payload)
SELECT :'tenant',
       :'from'::timestamptz + (g / :per) * :'step'::interval,
       'user-' || (g % 97),
       (ARRAY['user.login','user.logout','role.grant','export.request','settings.update'])[1 + g % 5],
       'user', 'u-' || (g % 1000),
       ('10.' || (g % 250) || '.' || (g % 200) || '.7')::inet,
       'req-' || g,
       jsonb_build_object('seq', g, 'ok', g % 3 <> 0, 'password', 'p-' || g,
                          'detail', jsonb_build_object('note', 'line ' || g,
                                                       'api_key', 'k-secret-' || g,
                                                       'tags', jsonb_build_array('a', 'b', g)))
       || CASE WHEN :words > 0 THEN jsonb_build_object('text', repeat('lorem ipsum ', :words))
               ELSE '{}'::jsonb END
FROM generate_series(1, :rows) AS g;
