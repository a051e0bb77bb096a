// views/exports.js: the job list. Every filter lives in the URL (state,
// tenant_id, mine, cursor), so a link can be shared and Back works. "Mine"
// filters the page on requested_by = the token's sub (the API has no
// requested_by filter); paging follows the API's opaque next_cursor.

import { h, mount, fmtTime, fmtBytes, fmtInt, stateBadge, hashFor, labelCells } from '../dom.js';
import { Poller, pollState } from '../poller.js';
import { errorBox } from '../ui.js';
import { cancelJob } from './job.js';

const STATES = ['PENDING', 'RUNNING', 'DONE', 'FAILED', 'EXPIRED'];
const PAGE = 50;

export function renderExports(ctx) {
	const { session, route } = ctx;
	const f = {
		state: STATES.includes(route.query.get('state')) ? route.query.get('state') : '',
		tenant_id: route.query.get('tenant_id') || '',
		mine: route.query.get('mine') === '1' ? '1' : '',
		cursor: route.query.get('cursor') || '',
	};
	const go = (change) => ctx.navigate('/exports', { ...f, cursor: '', ...change });
	const globalReader = session.canAnyTenant('export.read');

	const chips = h('div.chips', { role: 'group', 'aria-label': 'State' },
		['', ...STATES].map((s) => h('button.chip', {
			type: 'button', 'aria-pressed': String(f.state === s), onclick: () => go({ state: s }),
		}, s || 'All states')));
	const mine = h('div.chips', { role: 'group', 'aria-label': 'Requested by' },
		h('button.chip', { type: 'button', 'aria-pressed': String(!f.mine), onclick: () => go({ mine: '' }) }, 'All'),
		h('button.chip', { type: 'button', 'aria-pressed': String(Boolean(f.mine)), onclick: () => go({ mine: '1' }) }, 'Mine'));
	let tenantForm = null;
	if (globalReader) {
		const input = h('input#tenant-filter', { type: 'text', name: 'tenant_id', value: f.tenant_id, placeholder: 'all tenants', autocomplete: 'off' });
		tenantForm = h('form.inline', { role: 'search', novalidate: true },
			h('label', { for: 'tenant-filter' }, 'Tenant'), input,
			h('button', { type: 'submit' }, 'Apply'),
			f.tenant_id ? h('button', { type: 'button', onclick: () => go({ tenant_id: '' }) }, 'Clear') : null);
		tenantForm.addEventListener('submit', (ev) => { ev.preventDefault(); go({ tenant_id: input.value.trim() }); });
	}

	// two boxes: msg for the list's own load errors (a poll replaces it),
	// done for the result of an action (kept until the next action, so the
	// refresh that follows a cancel does not wipe its answer)
	const msg = h('div.msg');
	const done = h('div.done', { 'aria-live': 'polite' });
	const body = h('tbody');
	const table = h('table.jobs.stack',
		h('caption.visually-hidden', 'Export jobs, newest first'),
		h('thead', h('tr', ['Job', 'Tenant', 'State', 'Format', 'Range (UTC)', 'Requested by', 'Created (UTC)', 'Progress', ''].map((c) => h('th', { scope: 'col' }, c)))),
		body);
	const pager = h('div.pager');

	mount(ctx.view,
		h('div.title-row', h('h1', 'Exports'),
			session.can('export.create') ? h('a.button.primary', { href: '#/exports/new' }, 'New export') : null),
		h('div.filters', chips, mine, tenantForm),
		done, msg, table, pager);

	function row(job) {
		const canCancel = (job.state === 'PENDING' || job.state === 'RUNNING') && session.canOnJob('export.cancel', job);
		return h('tr', { 'data-id': job.id, 'data-state': job.state },
			h('td', h('a.mono', { href: `#/exports/${job.id}` }, job.id.slice(0, 8))),
			h('td', job.tenant_id),
			h('td', stateBadge(job.state), job.cancel_requested ? h('span.note', ' cancel requested') : null),
			h('td', job.compression && job.compression !== 'none' ? `${job.format}.${job.compression === 'gzip' ? 'gz' : 'zst'}` : job.format),
			h('td.nowrap', `${fmtTime(job.from)} → ${fmtTime(job.to)}`),
			h('td.nowrap', job.requested_by),
			h('td.nowrap', fmtTime(job.created_at)),
			h('td.nowrap', `${fmtInt(job.progress.rows)} rows, ${fmtBytes(job.progress.bytes)}`),
			h('td', canCancel ? h('button.small.danger', {
				type: 'button', 'aria-label': `Cancel export ${job.id.slice(0, 8)}`,
				onclick: () => cancelJob(ctx, job, (r) => { mount(done, r); poller.kick(); }),
			}, 'Cancel') : null));
	}

	async function load() {
		try {
			const r = await ctx.api('listExports', { query: { state: f.state, tenant_id: f.tenant_id, limit: PAGE, cursor: f.cursor } });
			let items = r.data.items;
			if (f.mine) items = items.filter((j) => j.requested_by === session.claims.sub);
			mount(msg);
			mount(body, items.length ? items.map(row)
				: h('tr', h('td.empty', { colspan: 9 }, 'No export jobs match these filters.')));
			labelCells(table);
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
