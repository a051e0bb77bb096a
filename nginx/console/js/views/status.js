// views/status.js: liveness and readiness (no token needed, every role),
// and for ops.status the queue, the spool, the last run of every job, and
// the exports over time (GET /api/ops/status/history) as two charts drawn
// by js/chart.js, each with its numbers in a table.

import { h, mount, fmtTime, fmtDuration, fmtBytes, fmtInt, labelCells } from '../dom.js';
import { Poller, pollState } from '../poller.js';
import { errorBox } from '../ui.js';
import { barChart, lineChart, legend } from '../chart.js';

function probeCard(title, r) {
	const ok = !r.error;
	return h('div.card.probe', { 'data-probe': title.toLowerCase() },
		h('h2', title),
		h('p', h(`span.badge.${ok ? 'state-done' : 'state-failed'}`, ok ? 'OK' : 'FAILING')),
		ok ? h('p.mono', JSON.stringify(r.data)) : errorBox(r.error, `${title} failed`));
}

const COUNTS = [
	{ key: 'created', label: 'created', cls: 's1' },
	{ key: 'done', label: 'done', cls: 's2' },
	{ key: 'failed', label: 'failed', cls: 's3' },
];
const TIMES = [
	{ key: 'duration_p50_seconds', label: 'run time p50', cls: 's1' },
	{ key: 'duration_p95_seconds', label: 'run time p95', cls: 's2' },
	{ key: 'queue_wait_p95_seconds', label: 'queue wait p95', cls: 's3' },
];

// the history: two charts and, for screen readers and exact numbers, a table
function historyView(d, hours, go) {
	const b = d.buckets;
	const sum = (k) => b.reduce((a, x) => a + x[k], 0);
	const peak = (k) => b.reduce((m, x) => (x[k] > (m ? m[k] : -1) ? x : m), null);
	const pk = peak('created');
	const worst = b.filter((x) => x.duration_p95_seconds !== null).reduce((m, x) => (!m || x.duration_p95_seconds > m.duration_p95_seconds ? x : m), null);
	const range = `the ${b.length} hours from ${fmtTime(b[0]?.start)} to now`;
	const counts = barChart({ id: 'chart-counts', title: `Exports per hour, ${range}`, series: COUNTS, rows: b,
		desc: `${fmtInt(sum('created'))} created, ${fmtInt(sum('done'))} done, ${fmtInt(sum('failed'))} failed;`
			+ (pk && pk.created ? ` the busiest hour began ${fmtTime(pk.start)} with ${fmtInt(pk.created)} created.` : ' none created.') });
	const times = lineChart({ id: 'chart-times', title: `Run time and queue wait, ${range}`, series: TIMES, rows: b,
		fmt: (v) => (v < 120 ? `${Number(v.toFixed(1))} s` : `${Math.round(v / 60)} min`),
		desc: worst ? `The slowest hour began ${fmtTime(worst.start)}: run time p95 ${fmtDuration(worst.duration_p95_seconds)}.`
			: 'No export finished in these hours.' });
	const cell = (v, f) => h('td', v === null ? '—' : f(v));
	const table = h('table.history.stack',
		h('caption', `Exports per hour (UTC), oldest first`),
		h('thead', h('tr', ['Hour from (UTC)', 'Created', 'Done', 'Failed', 'Run p50', 'Run p95', 'Queue wait p95', 'Bytes'].map((c) => h('th', { scope: 'col' }, c)))),
		h('tbody', b.map((x) => h('tr', { 'data-hour': x.start },
			h('th', { scope: 'row' }, fmtTime(x.start)), cell(x.created, fmtInt), cell(x.done, fmtInt), cell(x.failed, fmtInt),
			cell(x.duration_p50_seconds, fmtDuration), cell(x.duration_p95_seconds, fmtDuration),
			cell(x.queue_wait_p95_seconds, fmtDuration), cell(x.bytes, fmtBytes)))));
	labelCells(table);
	return [
		h('div.title-row', h('h2#history-title', 'Exports over time'),
			h('div.chips', { role: 'group', 'aria-label': 'Period' }, [[24, 'Last 24 h'], [168, 'Last 7 days']].map(([n, label]) =>
				h('button.chip', { type: 'button', 'aria-pressed': String(hours === n), onclick: () => go(n) }, label)))),
		h('div.charts',
			h('figure.card', counts, h('figcaption', legend(COUNTS))),
			h('figure.card', times, h('figcaption', legend(TIMES)))),
		h('details.history-numbers', h('summary', 'The numbers, hour by hour'), table),
	];
}

export function renderStatus(ctx) {
	const { session } = ctx;
	const hours = ctx.route.query.get('hours') === '168' ? 168 : 24;
	const probes = h('div.cards');
	const ops = h('div.ops');
	const history = h('section.history-box', { 'aria-labelledby': 'history-title' });
	mount(ctx.view, h('h1', 'Status'), probes, ops, history);
	let open = false;  // keep the table open across polls

	const settle = (p) => p.then((r) => ({ data: r.data }), (error) => ({ error }));

	async function load() {
		const [health, ready, status, hist] = await Promise.all([
			settle(ctx.api('health')), settle(ctx.api('ready')),
			session.can('ops.status') ? settle(ctx.api('status')) : Promise.resolve(null),
			session.can('ops.status') ? settle(ctx.api('history', { query: { hours } })) : Promise.resolve(null)]);
		if (hist) {
			const d = history.querySelector('details');
			if (d) open = d.open;
			if (hist.error) mount(history, h('h2#history-title', 'Exports over time'), errorBox(hist.error, 'Cannot load the history'));
			else mount(history, historyView(hist.data, hours, (n) => ctx.navigate('/status', { hours: n === 24 ? '' : n })));
			const d2 = history.querySelector('details');
			if (d2) d2.open = open;
		}
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
		const failed = [health, ready, status, hist].find((r) => r && r.error && r.error.transient);
		if (failed) throw failed.error;
		return {};
	}
	const poller = new Poller(load, pollState);
	poller.kick();
	return () => poller.stop();
}
