// views/webhooks.js: a tenant's completion webhook endpoints (issue 22,
// docs/webhooks.md) and, per endpoint, its deliveries. The signing secret
// comes only in the answer to a create or a rotation: it is shown once, in
// this page's memory (never stored, never in the URL), and gone with the
// next reload or page change. webhook.read lists (AUDITOR and OPS_ADMIN
// included); webhook.manage creates, rotates, deletes and redelivers.

import { h, mount, fmtTime, stateBadge, hashFor, labelCells } from '../dom.js';
import { Poller, pollState } from '../poller.js';
import { errorBox, confirmDialog } from '../ui.js';

const EVENTS = ['export.done', 'export.failed', 'export.expired', 'export.cancelled'];

// the secret, once: a read-only field to select, a copy button, the warning
function secretBox(title, secret) {
	const field = h('input#webhook-secret.mono', { type: 'text', readonly: true, value: secret, 'aria-describedby': 'webhook-secret-help', spellcheck: 'false' });
	const copy = h('button.small', {
		type: 'button',
		onclick: async (ev) => {
			const b = ev.currentTarget;
			try { await navigator.clipboard.writeText(secret); b.textContent = 'Copied'; } catch {
				field.select();
				b.textContent = 'Selected: press Ctrl+C';
			}
		},
	}, 'Copy secret');
	return h('div.card.secret', { role: 'status' },
		h('p.error-title', title),
		h('div.field', h('label', { for: 'webhook-secret' }, 'Signing secret'), h('div.inline', field, copy)),
		h('p#webhook-secret-help.secret-warning', h('strong', 'Copy it now: it will not be shown again.'),
			' The console does not keep it; a reload or another page removes it. Lost it? Rotate the secret.'));
}

export function renderWebhooks(ctx) {
	const { session } = ctx;
	const canManage = session.can('webhook.manage');
	const anyTenant = session.canAnyTenant('webhook.manage');
	const msg = h('div.msg');
	const done = h('div.done', { 'aria-live': 'polite' });
	const body = h('tbody');
	const table = h('table.webhooks.stack',
		h('caption.visually-hidden', 'Webhook endpoints, oldest first'),
		h('thead', h('tr', ['Endpoint', 'Tenant', 'Events', 'State', 'Created (UTC)', 'Created by', 'Secret overlap until (UTC)', ''].map((c) => h('th', { scope: 'col' }, c)))),
		body);

	let form = null;
	if (canManage) {
		const url = h('input#w-url', { type: 'url', name: 'url', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'https://erp.example.com/hooks/ops', 'aria-describedby': 'w-url-help w-url-error' });
		const desc = h('input#w-description', { type: 'text', name: 'description', maxlength: 500, autocomplete: 'off' });
		const tenant = anyTenant ? h('input#w-tenant_id', { type: 'text', name: 'tenant_id', autocomplete: 'off', spellcheck: 'false', placeholder: session.claims.tenant || 'required' }) : null;
		const boxes = EVENTS.map((e) => h('input', { type: 'checkbox', id: `w-ev-${e}`, value: e, checked: true }));
		const errs = { url: h('p#w-url-error.field-error', { hidden: true }), event_types: h('p.field-error', { hidden: true }),
			description: h('p.field-error', { hidden: true }), tenant_id: h('p.field-error', { hidden: true }) };
		const fields = { url, description: desc, tenant_id: tenant, event_types: boxes[0] };
		const submit = h('button.primary', { type: 'submit' }, 'Create endpoint');
		const out = h('div.msg');
		form = h('form.card.create.webhook-create', { novalidate: true, 'aria-labelledby': 'w-create-title' },
			h('h2#w-create-title', 'New endpoint'),
			h('div.field', { 'data-field': 'url' }, h('label', { for: 'w-url' }, 'URL'), url,
				h('p#w-url-help.help', 'https, without user, password or fragment; its host must resolve to public addresses only.'), errs.url),
			h('fieldset', { 'data-field': 'event_types' }, h('legend', 'Events'),
				h('div.inline', boxes.map((b) => h('span.field.check', b, h('label', { for: b.id }, b.value)))), errs.event_types),
			h('div.row',
				h('div.field', { 'data-field': 'description' }, h('label', { for: 'w-description' }, 'Description (optional)'), desc, errs.description),
				tenant ? h('div.field', { 'data-field': 'tenant_id' }, h('label', { for: 'w-tenant_id' }, 'Tenant'), tenant, errs.tenant_id) : null),
			h('div.actions', submit), out);
		let inFlight = false;
		form.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			if (inFlight) return;
			const b = { url: url.value.trim(), event_types: boxes.filter((x) => x.checked).map((x) => x.value) };
			if (desc.value.trim()) b.description = desc.value.trim();
			if (tenant && tenant.value.trim()) b.tenant_id = tenant.value.trim();
			inFlight = true;
			submit.disabled = true;
			for (const [name, el] of Object.entries(errs)) { el.hidden = true; el.textContent = ''; fields[name]?.removeAttribute('aria-invalid'); }
			mount(out);
			try {
				const r = await ctx.api('createWebhook', { body: b });
				form.reset();
				for (const x of boxes) x.checked = true;
				mount(done, h('p.notice.webhook-notice', `Created the endpoint ${r.data.url} for tenant ${r.data.tenant_id}.`),
					secretBox('The new endpoint\'s signing secret', r.data.secret));
				done.querySelector('#webhook-secret').focus();
				poller.kick();
			} catch (e) {
				let first = null;
				for (const d of e.details || []) {
					const name = String(d.field || '').replace(/[[.].*$/, '');
					if (!errs[name]) continue;
					errs[name].textContent = errs[name].textContent ? `${errs[name].textContent}; ${d.issue}` : d.issue;
					errs[name].hidden = false;
					fields[name]?.setAttribute('aria-invalid', 'true');
					first = first || fields[name];
				}
				mount(out, errorBox(e, e.code === 'VALIDATION_FAILED' ? 'Please correct the marked fields' : 'The endpoint was not created'));
				if (first) first.focus();
			} finally {
				inFlight = false;
				submit.disabled = false;
			}
		});
	}

	mount(ctx.view, h('h1', 'Webhooks'),
		h('p.help', 'Endpoints that receive the export events of their tenant, signed as Standard Webhooks says (docs/webhooks.md).'),
		done, msg, table, form);

	async function remove(w) {
		const ok = await confirmDialog({
			title: 'Delete this endpoint?',
			body: `${w.url} (tenant ${w.tenant_id}) and its deliveries are deleted; pending ones are never sent. This cannot be undone.`,
			confirmLabel: 'Delete endpoint',
		});
		if (!ok) return;
		try {
			await ctx.api('deleteWebhook', { params: { id: w.id } });
			mount(done, h('p.notice.webhook-notice', { role: 'status' }, `Deleted the endpoint ${w.url}.`));
		} catch (e) {
			mount(done, errorBox(e, 'The endpoint was not deleted'));
		}
		poller.kick();
	}

	async function rotate(w) {
		const ok = await confirmDialog({
			title: 'Rotate the signing secret?',
			body: `${w.url} gets a new secret. For 24 hours every delivery carries two signatures (new and old secret), so the receiver can switch without losing one.`,
			confirmLabel: 'Rotate secret',
		});
		if (!ok) return;
		try {
			const r = await ctx.api('rotateWebhookSecret', { params: { id: w.id }, body: { overlap_hours: 24 } });
			mount(done, h('p.notice.webhook-notice', `Rotated the secret of ${w.url}; the old one also signs until ${fmtTime(r.data.previous_secret_expires_at)}.`),
				secretBox('The endpoint\'s new signing secret', r.data.secret));
			done.querySelector('#webhook-secret').focus();
		} catch (e) {
			mount(done, errorBox(e, 'The secret was not rotated'));
		}
		poller.kick();
	}

	function row(w) {
		return h('tr', { 'data-endpoint': w.id },
			h('th', { scope: 'row' }, h('span', h('code.url', w.url), w.description ? [h('br'), h('span.note', w.description)] : null)),
			h('td', w.tenant_id),
			h('td', w.event_types.join(', ')),
			h('td', w.enabled ? h('span.badge.state-enabled', 'ENABLED')
				: h('span', h('span.badge.state-disabled', 'DISABLED'), w.disabled_reason ? [h('br'), h('span.note', w.disabled_reason)] : null)),
			h('td.nowrap', fmtTime(w.created_at)),
			h('td', w.created_by),
			h('td.nowrap', w.previous_secret_expires_at ? fmtTime(w.previous_secret_expires_at) : '—'),
			h('td', h('div.inline',
				h('a.button.small', { href: hashFor(`/webhooks/${w.id}`), 'aria-label': `Deliveries of ${w.url}` }, 'Deliveries'),
				canManage ? h('button.small', { type: 'button', 'aria-label': `Rotate the secret of ${w.url}`, onclick: () => rotate(w) }, 'Rotate secret') : null,
				canManage ? h('button.small.danger', { type: 'button', 'aria-label': `Delete ${w.url}`, onclick: () => remove(w) }, 'Delete') : null)));
	}

	async function load() {
		try {
			const r = await ctx.api('listWebhooks');
			mount(msg);
			mount(body, r.data.items.length ? r.data.items.map(row)
				: h('tr', h('td.empty', { colspan: 8 }, canManage ? 'No endpoint yet: create one below.' : 'No endpoint yet.')));
			labelCells(table);
			return { retryAfter: r.retryAfter };
		} catch (e) {
			mount(msg, errorBox(e, 'Cannot load the webhook endpoints'));
			throw e;
		}
	}
	const poller = new Poller(load, pollState);
	poller.kick();
	return () => poller.stop();
}

// /webhooks/:id: the endpoint's deliveries, newest first, with their
// attempts; Redeliver makes one PENDING and due now (same webhook-id)
export function renderDeliveries(ctx, { id }) {
	const canManage = ctx.session.can('webhook.manage');
	const msg = h('div.msg');
	const done = h('div.done', { 'aria-live': 'polite' });
	const head = h('p.endpoint-url', 'Loading the endpoint…');
	const body = h('tbody');
	const table = h('table.deliveries.stack',
		h('caption.visually-hidden', 'Deliveries, newest first'),
		h('thead', h('tr', ['Event', 'Job', 'State', 'Attempts', 'Last answer', 'Next retry (UTC)', 'Created (UTC)', 'Delivered (UTC)', 'Attempt history', ''].map((c) => h('th', { scope: 'col' }, c)))),
		body);
	mount(ctx.view,
		h('p.crumbs', h('a', { href: hashFor('/webhooks') }, '« Webhooks')),
		h('h1', 'Deliveries'), head, done, msg, table);

	async function redeliver(d) {
		try {
			const r = await ctx.api('redeliverWebhook', { params: { id, delivery_id: d.id } });
			mount(done, h('p.notice.webhook-notice', { role: 'status' }, `Redelivery of ${d.event_type} for job ${d.job_id.slice(0, 8)} queued: due ${fmtTime(r.data.next_attempt_at)}, same webhook-id ${r.data.webhook_id}.`));
		} catch (e) {
			mount(done, errorBox(e, 'The redelivery failed'));
		}
		poller.kick();
	}

	const answer = (d) => (d.last_attempt_at === null ? '—' : h('span',
		d.last_status === null ? 'no HTTP answer' : `HTTP ${d.last_status}`,
		d.last_latency_ms === null ? '' : `, ${d.last_latency_ms} ms`,
		d.last_error ? [h('br'), h('span.note.reason', d.last_error)] : null));
	const history = (d) => (d.history.length ? h('details', h('summary', `${d.history.length} attempt${d.history.length === 1 ? '' : 's'}`),
		h('ol.attempts', d.history.map((a) => h('li', `#${a.attempt} ${fmtTime(a.at)}: `,
			a.status === null ? 'no HTTP answer' : `HTTP ${a.status}`, a.latency_ms === null ? '' : `, ${a.latency_ms} ms`,
			a.error ? [' ', h('span.note.reason', a.error)] : null)))) : '—');

	async function load() {
		try {
			const [list, r] = await Promise.all([ctx.api('listWebhooks'), ctx.api('webhookDeliveries', { params: { id }, query: { limit: 100 } })]);
			const w = list.data.items.find((x) => x.id === id);
			mount(head, w ? [h('code.url', w.url), ` (tenant ${w.tenant_id}; ${w.event_types.join(', ')})`] : h('code', id));
			mount(msg);
			mount(body, r.data.items.length ? r.data.items.map((d) => h('tr', { 'data-delivery': d.id, 'data-state': d.state },
				h('th', { scope: 'row' }, h('code', d.event_type)),
				h('td', h('a.mono', { href: hashFor(`/exports/${d.job_id}`) }, d.job_id.slice(0, 8))),
				h('td', stateBadge(d.state)),
				h('td', String(d.attempts)),
				h('td', answer(d)),
				h('td.nowrap', d.state === 'PENDING' ? fmtTime(d.next_attempt_at) : '—'),
				h('td.nowrap', fmtTime(d.created_at)),
				h('td.nowrap', fmtTime(d.delivered_at)),
				h('td', history(d)),
				h('td', canManage ? h('button.small', { type: 'button', 'aria-label': `Redeliver ${d.event_type} for job ${d.job_id.slice(0, 8)}`, onclick: () => redeliver(d) }, 'Redeliver') : null)))
				: h('tr', h('td.empty', { colspan: 10 }, 'No delivery yet: one is made when one of the tenant\'s exports ends.')));
			labelCells(table);
			return { retryAfter: r.retryAfter };
		} catch (e) {
			mount(msg, errorBox(e, 'Cannot load the deliveries'));
			throw e;
		}
	}
	const poller = new Poller(load, pollState);
	poller.kick();
	return () => poller.stop();
}
