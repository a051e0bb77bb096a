// The reference peer of scripts/bench-poll: Fastify + node-postgres doing
// the poll's lookup (the same columns of tb_audit_export_job by primary key,
// a named, i.e. prepared, statement), without nginx and without auth.
// Usage: node server.js PORT DATABASE_URL [POOL]
'use strict';
const fastify = require('fastify')({ logger: false });
const { Pool } = require('pg');

const [port, url, poolSize] = process.argv.slice(2);
const pool = new Pool({ connectionString: url, max: Number(poolSize || 8) });
const text = 'SELECT id, tenant_id, requested_by, state, format, range_from, ' +
  'range_to, filters, created_at, started_at, finished_at, expires_at, ' +
  'attempt, progress_rows, progress_bytes, progress_chunks, max_rows, ' +
  'max_bytes, max_duration_seconds, total_rows, total_bytes, sha256, ' +
  'error_code, error_message, cancel_requested ' +
  'FROM tb_audit_export_job WHERE id = $1';

fastify.get('/api/ops/audit-exports/:id', async (req, reply) => {
  const r = await pool.query({ name: 'poll', text, values: [req.params.id] });
  if (r.rows.length === 0) {
    reply.code(404);
    return { error: { code: 'EXPORT_NOT_FOUND' } };
  }
  return r.rows[0];
});

fastify.listen({ port: Number(port), host: '127.0.0.1' }).catch((e) => {
  console.error(e);
  process.exit(1);
});
