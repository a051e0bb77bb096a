// views/exports.js: the job list. Every filter lives in the URL (state,
// tenant_id, requested_by, id_prefix, error_code, cursor) and is applied by
// the API, so a link can be shared, Back works and "Mine" (requested_by=me)
// pages through the server's answer. The state chips show the API's
// counts for the other filters. Rows the operator may cancel have a
// checkbox: "Cancel selected" sends their ids, "Cancel all matching" the
// filter itself (POST /api/ops/audit-exports/cancel), after a confirmation
// that says how many jobs the API counts for it.

import { h, mount, fmtTime, fmtBytes, fmtInt, fmtDuration, stateBadge, hashFor, labelCells } from '../dom.js';
import { Poller, pollState } from '../poller.js';
import { errorBox, confirmDialog } from '../ui.js';
import { cancelJob } from './job.js';

const STATES = ['PENDING', 'RUNNING', 'DONE', 'FAILED', 'EXPIRED'];
const PAGE = 50;
const ACTIVE = (j) => j.state === 'PENDING' || j.state === 'RUNNING';

// seconds a job ran (finished or still running); null before it started
function runSeconds(j) {
	if (!j.started_at) return null;
	const end = j.finished_at ? Date.parse(j.finished_at) : Date.now();
	return (end - Date.parse(j.started_at)) / 1000;
}

export function renderExports(ctx) {
	const { session, route } = ctx;
	const q = route.query;
	const f = {
		state: STATES.includes(q.get('state')) ? q.get('state') : '',
		tenant_id: q.get('tenant_id') || '',
		requested_by: q.get('requested_by') || (q.get('mine') === '1' ? 'me' : ''),
		id_prefix: q.get('id_prefix') || '',
		error_code: q.get('error_code') || '',
		cursor: q.get('cursor') || '',
	};
	const go = (change) => ctx.navigate('/exports', { ...f, cursor: '', ...change });
	const globalReader = session.canAnyTenant('export.read');
	const selected = new Set();
	let counts = null;
	let last = [];

	const chipCount = {};
	const chips = h('div.chips', { role: 'group', 'aria-label': 'State' },
		['', ...STATES].map((s) => h('button.chip', {
			type: 'button', 'aria-pressed': String(f.state === s), 'data-state': s || 'ALL', onclick: () => go({ state: s }),
		}, s || 'All states', chipCount[s] = h('span.count', ''))));
	const mine = h('div.chips', { role: 'group', 'aria-label': 'Whose jobs' },
		h('button.chip', { type: 'button', 'aria-pressed': String(f.requested_by !== 'me'), onclick: () => go({ requested_by: '' }) }, 'All'),
		h('button.chip', { type: 'button', 'aria-pressed': String(f.requested_by === 'me'), onclick: () => go({ requested_by: 'me' }) }, 'Mine'));

	// the search form: id prefix, requester, tenant (for any-tenant readers), error code
	const inputs = {};
	const box = (name, label, placeholder, extra = {}) => {
		inputs[name] = h(`input#q-${name}`, { type: 'text', name, value: f[name], placeholder, autocomplete: 'off', spellcheck: 'false', ...extra });
		return h('div.field', h('label', { for: `q-${name}` }, label), inputs[name]);
	};
	const search = h('form.search', { role: 'search', 'aria-label': 'Filter jobs', novalidate: true },
		box('id_prefix', 'Job id starts with', 'e.g. 8c1e2f4a', { maxlength: 36 }),
		box('requested_by', 'Requested by', 'anyone; me = you'),
		globalReader ? box('tenant_id', 'Tenant', 'all tenants') : null,
		box('error_code', 'Error code', 'e.g. EXPORT_CANCELLED'),
		h('div.actions', h('button', { type: 'submit' }, 'Apply'),
			Object.keys(inputs).some((k) => f[k]) ? h('button', { type: 'button', onclick: () => go(Object.fromEntries(Object.keys(inputs).map((k) => [k, '']))) }, 'Clear') : null));
	search.addEventListener('submit', (ev) => {
		ev.preventDefault();
		go(Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value.trim()])));
	});

	// two boxes: msg for the list's own load errors (a poll replaces it),
	// done for the result of an action (kept until the next action, so the
	// refresh that follows a cancel does not wipe its answer)
	const msg = h('div.msg');
	const done = h('div.done', { 'aria-live': 'polite' });
	const bulk = h('div.actions.bulk');
	const body = h('tbody');
	const all = h('input#select-all', { type: 'checkbox', 'aria-label': 'Select every cancellable job on this page' });
	all.addEventListener('change', () => {
		for (const j of last) if (cancellable(j)) { if (all.checked) selected.add(j.id); else selected.delete(j.id); }
		for (const c of body.querySelectorAll('input.pick')) c.checked = all.checked;
		showBulk();
	});
	const headTh = (c) => h('th', { scope: 'col' }, c);
	const table = h('table.jobs.stack.stack-wide',
		h('caption.visually-hidden', 'Export jobs, newest first'),
		h('thead', h('tr', h('th', { scope: 'col', 'data-label': 'Select' }, all),
			['Job', 'Tenant', 'State', 'Error', 'Format', 'Range (UTC)', 'Requested by', 'Created (UTC)', 'Duration', 'Progress', ''].map(headTh))),
		body);
	const pager = h('div.pager');

	mount(ctx.view,
		h('div.title-row', h('h1', 'Exports'),
			session.can('export.create') ? h('a.button.primary', { href: hashFor('/exports/new') }, 'New export') : null),
		h('div.filters', chips, mine),
		search,
		done, msg, bulk, table, pager);

	function cancellable(j) { return ACTIVE(j) && session.canOnJob('export.cancel', j); }

	// the bulk filter can say state (PENDING/RUNNING), tenant and requester,
	// nothing else: "all matching" only when the list's filter is that
	function bulkFilter() {
		if (f.id_prefix || f.error_code) return null;
		if (f.state && !ACTIVE({ state: f.state })) return null;
		const b = {};
		if (f.state) b.state = f.state;
		if (f.tenant_id) b.tenant_id = f.tenant_id;
		if (f.requested_by) b.requested_by = f.requested_by;
		return Object.keys(b).length ? b : null;
	}
	function matchingCount() {
		if (!counts) return 0;
		return f.state ? counts[f.state] : counts.PENDING + counts.RUNNING;
	}

	async function bulkCancel(body_, n, what) {
		const ok = await confirmDialog({
			title: `Cancel ${fmtInt(n)} export${n === 1 ? '' : 's'}?`,
			body: `${what}: ${fmtInt(n)} PENDING or RUNNING job${n === 1 ? '' : 's'} will end FAILED with EXPORT_CANCELLED (a RUNNING one at its next chunk). A job that finishes first stays DONE. This cannot be undone.`,
			confirmLabel: `Cancel ${fmtInt(n)} export${n === 1 ? '' : 's'}`,
		});
		if (!ok) return;
		try {
			const r = await ctx.api('bulkCancel', { body: body_ });
			selected.clear();
			mount(done, h('p.notice', { role: 'status' }, `Cancelled ${fmtInt(r.data.cancelled)} export${r.data.cancelled === 1 ? '' : 's'}`,
				r.data.cancelled < n ? ` (${fmtInt(n - r.data.cancelled)} had ended, or were not yours to cancel).` : '.'));
		} catch (e) {
			mount(done, errorBox(e, 'The bulk cancel failed'));
		}
		poller.kick();
	}

	function showBulk() {
		const filter = bulkFilter();
		const n = matchingCount();
		mount(bulk,
			h('button#cancel-selected.danger', {
				type: 'button', disabled: selected.size === 0,
				onclick: () => bulkCancel({ ids: [...selected] }, selected.size, 'The selected jobs'),
			}, `Cancel selected (${selected.size})`),
			filter && n > 0 && session.can('export.cancel') ? h('button#cancel-matching.danger', {
				type: 'button', onclick: () => bulkCancel(filter, matchingCount(), 'Every job matching this filter'),
			}, `Cancel all matching (${fmtInt(n)})`) : null);
	}

	function row(job) {
		const canCancel = cancellable(job);
		const pick = canCancel ? h('input.pick', {
			type: 'checkbox', checked: selected.has(job.id), 'aria-label': `Select export ${job.id.slice(0, 8)}`,
			onchange: (ev) => { if (ev.currentTarget.checked) selected.add(job.id); else selected.delete(job.id); showBulk(); },
		}) : null;
		return h('tr', { 'data-id': job.id, 'data-state': job.state },
			h('td', pick),
			h('td', h('a.mono', { href: hashFor(`/exports/${job.id}`) }, job.id.slice(0, 8))),
			h('td', job.tenant_id),
			h('td', h('span', stateBadge(job.state), job.cancel_requested ? h('span.note', ' cancel requested') : null)),
			h('td.error-code', job.error ? h('code', job.error.code) : ''),
			h('td', job.compression && job.compression !== 'none' ? `${job.format}.${job.compression === 'gzip' ? 'gz' : 'zst'}` : job.format),
			h('td.range', h('span', fmtTime(job.from), h('br'), `→ ${fmtTime(job.to)}`)),
			h('td.nowrap', job.requested_by),
			h('td.nowrap', fmtTime(job.created_at)),
			h('td.nowrap.duration', job.started_at ? fmtDuration(runSeconds(job)) : ''),
			h('td.nowrap', `${fmtInt(job.progress.rows)} rows, ${fmtBytes(job.progress.bytes)}`),
			h('td', canCancel ? h('button.small.danger', {
				type: 'button', 'aria-label': `Cancel export ${job.id.slice(0, 8)}`,
				onclick: () => cancelJob(ctx, job, (r) => { mount(done, r); poller.kick(); }),
			}, 'Cancel') : null));
	}

	async function load() {
		try {
			const { cursor, ...filters } = f;
			const r = await ctx.api('listExports', { query: { ...filters, limit: PAGE, cursor } });
			const items = r.data.items;
			last = items;
			counts = r.data.counts || null;
			if (counts) {
				for (const s of STATES) chipCount[s].textContent = ` ${fmtInt(counts[s])}`;
				chipCount[''].textContent = ` ${fmtInt(STATES.reduce((a, s) => a + counts[s], 0))}`;
			}
			// a selected job that has ended is no longer selectable
			for (const id of [...selected]) if (!items.some((j) => j.id === id && cancellable(j))) selected.delete(id);
			all.checked = false;
			mount(msg);
			mount(body, items.length ? items.map(row)
				: h('tr', h('td.empty', { colspan: 12 }, 'No export jobs match these filters.')));
			labelCells(table);
			showBulk();
			mount(pager,
				f.cursor ? h('a.button', { href: hashFor('/exports', { ...f, cursor: '' }) }, '« Newest') : null,
				r.data.next_cursor ? h('a.button', { href: hashFor('/exports', { ...f, cursor: r.data.next_cursor }) }, 'Older »') : null);
			return { retryAfter: r.retryAfter };
		} catch (e) {
			mount(msg, errorBox(e));
			throw e;
		}
	}
	const poller = new Poller(load, pollState);
	poller.kick();
	return () => poller.stop();
}
