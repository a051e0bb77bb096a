// views/create.js: request an export. The API validates; its
// VALIDATION_FAILED details are shown next to the fields they name. One
// Idempotency-Key per submit: the key is kept while the body stays the same,
// so a double click, or a retry after a lost answer, makes one job.

import { h, mount, fmtTime } from '../dom.js';
import { errorBox } from '../ui.js';

// Times are typed in the console's one format, "2026-10-01 00:00:00Z"
// (also accepted: a "T" for the space, no seconds, no Z: UTC anyway), and
// sent as RFC 3339. Anything else goes as typed: the API names the field.
// (No datetime-local input: Chromium shows it in the browser's locale and
// time zone conventions, under a "UTC" label.)
export function toRfc3339(v) {
	const t = v.trim();
	const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2})(:\d{2})?Z?$/i.exec(t);
	return m ? `${m[1]}T${m[2]}${m[3] || ':00'}Z` : t;
}

export function renderCreate(ctx) {
	const { session } = ctx;
	const ownTenantOnly = !session.canAnyTenant('export.create');
	const now = new Date();
	const dayStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
	const fields = {};
	const errs = {};

	function field(name, label, input, help) {
		const id = `f-${name}`;
		input.id = id;
		input.name = name;
		const helpEl = help ? h('p.help', { id: `${id}-help` }, help) : null;
		const err = h('p.field-error', { id: `${id}-error`, hidden: true });
		input.setAttribute('aria-describedby', [helpEl ? helpEl.id : null, err.id].filter(Boolean).join(' '));
		fields[name] = input;
		errs[name] = err;
		return h('div.field', { 'data-field': name }, h('label', { for: id }, label), input, helpEl, err);
	}

	const tenant = h('input', { type: 'text', autocomplete: 'off', value: ownTenantOnly ? (session.claims.tenant || '') : '', readOnly: ownTenantOnly });
	const timeInput = (d) => h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', inputMode: 'numeric', value: fmtTime(d) });
	const from = timeInput(new Date(dayStart.getTime() - 7 * 86400000));
	const to = timeInput(new Date(dayStart.getTime() + 86400000));
	const format = h('select', h('option', { value: 'jsonl' }, 'JSON Lines (.jsonl)'), h('option', { value: 'csv' }, 'CSV (.csv)'));
	const compression = h('select',
		h('option', { value: 'none' }, 'None'),
		h('option', { value: 'zstd' }, 'zstd (.zst, fast, smallest)'),
		h('option', { value: 'gzip' }, 'gzip (.gz, opens anywhere)'));
	const actions = h('input', { type: 'text', autocomplete: 'off', placeholder: 'user.login, role.grant' });
	const actor = h('input', { type: 'text', autocomplete: 'off' });
	const maxRows = h('input', { type: 'text', inputMode: 'numeric', autocomplete: 'off' });
	const maxBytes = h('input', { type: 'text', inputMode: 'numeric', autocomplete: 'off' });
	const submit = h('button.primary', { type: 'submit' }, 'Create export');
	const msg = h('div.msg');

	const form = h('form.card.create', { novalidate: true },
		field('tenant_id', 'Tenant', tenant, ownTenantOnly ? 'Your token\'s tenant.' : 'The tenant whose audit log to export.'),
		h('div.row',
			field('from', 'From (UTC, inclusive)', from, 'YYYY-MM-DD HH:MM:SSZ'),
			field('to', 'To (UTC, exclusive)', to, 'YYYY-MM-DD HH:MM:SSZ, at most 31 days after From.')),
		h('div.row',
			field('format', 'Format', format),
			field('compression', 'Compression', compression, 'The file is compressed; decompressed it is the same export.')),
		h('fieldset',
			h('legend', 'Optional'),
			field('actions', 'Actions', actions, 'Comma-separated; only rows with one of these actions.'),
			field('actor_id', 'Actor id', actor, 'Only rows of this actor.'),
			h('div.row',
				field('max_rows', 'Row limit', maxRows, 'Default 1,000,000.'),
				field('max_bytes', 'Byte limit', maxBytes, 'Default 512 MiB.'))),
		h('div.actions', submit),
		msg);

	let lastBody = null;
	let lastKey = null;
	let inFlight = false;

	function body() {
		const b = { tenant_id: tenant.value.trim(), from: toRfc3339(from.value), to: toRfc3339(to.value), format: format.value };
		const acts = actions.value.split(',').map((s) => s.trim()).filter(Boolean);
		if (compression.value !== 'none') b.compression = compression.value;
		if (acts.length) b.actions = acts;
		if (actor.value.trim()) b.actor_id = actor.value.trim();
		// numbers go as typed when they are not plain integers: the API names the field
		for (const [k, el] of [['max_rows', maxRows], ['max_bytes', maxBytes]]) {
			const v = el.value.trim().replace(/[,_ ]/g, '');
			if (v) b[k] = /^-?\d+$/.test(v) ? Number(v) : v;
		}
		return b;
	}

	function clearErrors() {
		for (const [name, el] of Object.entries(errs)) {
			el.hidden = true; el.textContent = '';
			fields[name].removeAttribute('aria-invalid');
		}
		mount(msg);
	}

	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		const b = body();
		const json = JSON.stringify(b);
		// the same body again (a double click, a retry): the same key
		if (json !== lastBody) { lastBody = json; lastKey = crypto.randomUUID(); }
		if (inFlight) return;
		inFlight = true;
		submit.disabled = true;
		clearErrors();
		try {
			const r = await ctx.api('createExport', { body: b, headers: { 'Idempotency-Key': lastKey } });
			ctx.navigate(`/exports/${r.data.id}`);
		} catch (e) {
			const unplaced = [];
			let first = null;
			for (const d of e.details || []) {
				const name = String(d.field || '').replace(/[[.].*$/, '');
				if (errs[name]) {
					errs[name].textContent = errs[name].textContent ? `${errs[name].textContent}; ${d.issue}` : d.issue;
					errs[name].hidden = false;
					fields[name].setAttribute('aria-invalid', 'true');
					first = first || fields[name];
				} else unplaced.push(d);
			}
			mount(msg, errorBox(e, e.code === 'VALIDATION_FAILED' ? 'Please correct the marked fields' : 'The export was not created'));
			if (first) first.focus();
		} finally {
			inFlight = false;
			submit.disabled = false;
		}
	});

	mount(ctx.view,
		h('p.crumbs', h('a', { href: '#/exports' }, '« Exports')),
		h('h1', 'New export'),
		form);
	return () => {};
}
