// views/locks.js: scheduler locks as the server computes them, force-release
// (reason required, the lock's name typed to confirm), and the recent
// releases and recoveries. The API has no event route: the last release of
// every lock (released_at, release_reason, released_by: a holder, the
// healer, or an operator) comes with the lock list.

import { h, mount, fmtTime, fmtDuration, stateBadge, labelCells } from '../dom.js';
import { Poller, pollState } from '../poller.js';
import { errorBox, confirmDialog } from '../ui.js';

export function renderLocks(ctx) {
	const { session } = ctx;
	const canRelease = session.can('lock.release');
	const msg = h('div.msg');
	const body = h('tbody');
	const events = h('tbody');
	const locks = h('table.locks.stack',
		h('caption.visually-hidden', 'Scheduler locks'),
		h('thead', h('tr', ['Name', 'State', 'Holder', 'Heartbeat age', 'Lease left', 'Fencing token', ''].map((c) => h('th', { scope: 'col' }, c)))),
		body);
	const history = h('table.events.stack',
		h('thead', h('tr', ['When (UTC)', 'Lock', 'Reason', 'By'].map((c) => h('th', { scope: 'col' }, c)))),
		events);
	mount(ctx.view,
		h('h1', 'Scheduler locks'),
		msg,
		locks,
		h('h2', 'Recent releases and recoveries'),
		h('p.help', 'The last release of each lock: by its holder on exit, by the healer (healed: ...), or by an operator (forced).'),
		history);

	async function release(lock) {
		const v = await confirmDialog({
			title: `Force-release ${lock.name}?`,
			body: `It is ${lock.state}${lock.holder ? `, held by ${lock.holder}` : ''}. The holder's next heartbeat finds its fencing token moved on and stops; the next run takes the lock. Audited with your name and the reason.`,
			confirmLabel: 'Force-release',
			fields: [
				{ name: 'reason', label: 'Reason (for the audit trail)', kind: 'textarea', help: 'For example: host ops-2 was powered off; INC-1234' },
				{ name: 'confirm', label: `Type the lock's name to confirm: ${lock.name}`, kind: 'input', mustEqual: lock.name },
			],
		});
		if (!v) return;
		try {
			const r = await ctx.api('releaseLock', { params: { name: lock.name }, body: { reason: v.reason } });
			mount(msg, h('p.notice', { role: 'status' }, r.data.released
				? `Released ${r.data.name} (was ${r.data.state_before}); fencing token now ${r.data.fencing_token}.`
				: `${r.data.name} was already free.`));
		} catch (e) {
			mount(msg, errorBox(e, 'The force-release failed'));
		}
		poller.kick();
	}

	async function load() {
		try {
			const r = await ctx.api('locks');
			const items = r.data.items;
			if (!msg.querySelector('.notice')) mount(msg);
			mount(body, items.length ? items.map((l) => h('tr', { 'data-lock': l.name, 'data-state': l.state },
				h('th', { scope: 'row' }, h('code', l.name)),
				h('td', stateBadge(l.state)),
				h('td', l.holder ? [h('code', l.holder), h('br'), h('span.note', `${l.holder_host ?? '?'} pid ${l.holder_pid ?? '?'}`)] : '—'),
				h('td', fmtDuration(l.heartbeat_age_seconds)),
				h('td', fmtDuration(l.lease_remaining_seconds)),
				h('td.mono', String(l.fencing_token)),
				h('td', canRelease && l.state !== 'FREE' ? h('button.small.danger', {
					type: 'button', 'aria-label': `Force-release ${l.name}`, onclick: () => release(l),
				}, 'Force-release') : null)))
				: h('tr', h('td.empty', { colspan: 7 }, 'No lock has been taken yet.')));
			const rel = items.filter((l) => l.released_at).sort((a, b) => b.released_at.localeCompare(a.released_at));
			mount(events, rel.length ? rel.map((l) => h('tr', { 'data-lock': l.name },
				h('td.nowrap', fmtTime(l.released_at)), h('td', h('code', l.name)),
				h('td.reason', l.release_reason || '—'), h('td', l.released_by || '—')))
				: h('tr', h('td.empty', { colspan: 4 }, 'No release yet.')));
			labelCells(locks);
			labelCells(history);
			return { retryAfter: r.retryAfter };
		} catch (e) {
			mount(msg, errorBox(e, 'Cannot load the locks'));
			throw e;
		}
	}
	const poller = new Poller(load, pollState);
	poller.kick();
	return () => poller.stop();
}
