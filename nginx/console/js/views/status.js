// views/status.js: liveness and readiness (no token needed, every role),
// and for ops.status the queue, the spool and the last run of every job.

import { h, mount, fmtTime, fmtDuration, fmtBytes, fmtInt, labelCells } from '../dom.js';
import { Poller, pollState } from '../poller.js';
import { errorBox } from '../ui.js';

function probeCard(title, r) {
	const ok = !r.error;
	return h('div.card.probe', { 'data-probe': title.toLowerCase() },
		h('h2', title),
		h('p', h(`span.badge.${ok ? 'state-done' : 'state-failed'}`, ok ? 'OK' : 'FAILING')),
		ok ? h('p.mono', JSON.stringify(r.data)) : errorBox(r.error, `${title} failed`));
}

export function renderStatus(ctx) {
	const { session } = ctx;
	const probes = h('div.cards');
	const ops = h('div.ops');
	mount(ctx.view, h('h1', 'Status'), probes, ops);

	const settle = (p) => p.then((r) => ({ data: r.data }), (error) => ({ error }));

	async function load() {
		const [health, ready, status] = await Promise.all([
			settle(ctx.api('health')), settle(ctx.api('ready')),
			session.can('ops.status') ? settle(ctx.api('status')) : Promise.resolve(null)]);
		mount(probes, probeCard('Health', health), probeCard('Readiness', ready));
		if (!status) {
			mount(ops, h('p.help', 'Queue, locks and job runs need the ops.status capability (SUPER_ADMIN, OPS_ADMIN).'));
		} else if (status.error) {
			mount(ops, errorBox(status.error, 'Cannot load the ops status'));
		} else {
			const s = status.data;
			const ex = s.exports || { by_state: {} };
			mount(ops,
				h('h2', 'Export queue'),
				h('dl.kv.wide',
					Object.entries(ex.by_state).map(([k, v]) => [h('dt', k), h('dd', fmtInt(v))]),
					h('dt', 'Queue depth (PENDING + RUNNING)'), h('dd', fmtInt((ex.by_state.PENDING || 0) + (ex.by_state.RUNNING || 0))),
					h('dt', 'Oldest pending'), h('dd', fmtDuration(ex.oldest_pending_age_seconds)),
					h('dt', 'Spool'), h('dd', `${fmtBytes(ex.spool_bytes)} (${fmtInt(ex.spool_bytes)} bytes)`),
					h('dt', 'Database'), h('dd', `${s.database.ok ? 'ok' : 'FAILING'}, PostgreSQL ${s.database.server_version}, ${s.database.latency_ms} ms`),
					h('dt', 'Checked at'), h('dd', fmtTime(s.checked_at))),
				h('h2', 'Timer jobs: last run'),
				h('table.runs.stack',
					h('thead', h('tr', ['Job', 'Last run', 'Status', 'Duration', 'Last success', 'Last failure'].map((c) => h('th', { scope: 'col' }, c)))),
					h('tbody', (s.jobs || []).map((j) => h('tr', { 'data-job': j.job },
						h('th', { scope: 'row' }, h('code', j.job)),
						h('td.nowrap', j.last_run ? `${fmtTime(j.last_run.started_at)} on ${j.last_run.host}` : 'never'),
						h('td', j.last_run ? h(`span.badge.${j.last_run.status === 'SUCCEEDED' ? 'state-done' : 'state-failed'}`, j.last_run.status) : '—'),
						h('td', fmtDuration(j.last_duration_seconds)),
						h('td.nowrap', j.last_success ? fmtTime(j.last_success.finished_at) : '—'),
						h('td', j.last_failure ? `${fmtTime(j.last_failure.finished_at)} ${j.last_failure.error ?? ''}` : '—'))))));
			labelCells(ops.querySelector('table.runs'));
		}
		const failed = [health, ready, status].find((r) => r && r.error && r.error.transient);
		if (failed) throw failed.error;
		return {};
	}
	const poller = new Poller(load, pollState);
	poller.kick();
	return () => poller.stop();
}
