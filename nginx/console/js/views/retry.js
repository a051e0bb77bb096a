// views/retry.js: run an ended job again (POST .../{id}/retry). The form is
// the original's parameters, prefilled and editable (range, format,
// compression, limits); tenant and filters stay the original's. As in
// create: the API validates and its details go next to the fields, and one
// Idempotency-Key per body makes a double click one job.

import { h, mount, fmtTime } from '../dom.js';
import { errorBox } from '../ui.js';
import { toRfc3339 } from './create.js';

const TERMINAL = new Set(['DONE', 'FAILED', 'EXPIRED']);

export function renderRetry(ctx, { id }) {
	const msg = h('div.msg');
	const slot = h('div.retry-slot', h('p', 'Loading the original job…'));
	mount(ctx.view,
		h('p.crumbs', h('a', { href: `#/exports/${encodeURIComponent(id)}` }, `« Export ${id.slice(0, 8)}`)),
		h('h1', 'Retry export ', h('span.mono', id.slice(0, 8))),
		msg, slot);
	let alive = true;

	ctx.api('getExport', { params: { id } }).then((r) => { if (alive) form(r.data); },
		(e) => { if (alive) mount(slot, errorBox(e, 'Cannot load the original job')); });

	function form(j) {
		const fields = {};
		const errs = {};
		const field = (name, label, input, help) => {
			input.id = `r-${name}`;
			input.name = name;
			const helpEl = help ? h('p.help', { id: `r-${name}-help` }, help) : null;
			const err = h('p.field-error', { id: `r-${name}-error`, hidden: true });
			input.setAttribute('aria-describedby', [helpEl ? helpEl.id : null, err.id].filter(Boolean).join(' '));
			fields[name] = input;
			errs[name] = err;
			return h('div.field', { 'data-field': name }, h('label', { for: input.id }, label), input, helpEl, err);
		};
		const text = (v, extra = {}) => h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', value: v, ...extra });
		const select = (v, opts) => {
			const el = h('select', opts.map(([val, label]) => h('option', { value: val }, label)));
			el.value = v;
			return el;
		};
		const from = text(fmtTime(j.from));
		const to = text(fmtTime(j.to));
		const format = select(j.format, [['jsonl', 'JSON Lines (.jsonl)'], ['csv', 'CSV (.csv)']]);
		const compression = select(j.compression || 'none', [['none', 'None'], ['zstd', 'zstd (.zst)'], ['gzip', 'gzip (.gz)']]);
		const maxRows = text(String(j.limits.max_rows), { inputMode: 'numeric' });
		const maxBytes = text(String(j.limits.max_bytes), { inputMode: 'numeric' });
		const maxDur = text(String(j.limits.max_duration_seconds), { inputMode: 'numeric' });
		const submit = h('button.primary', { type: 'submit' }, 'Run again');
		const out = h('div.msg');
		const ended = TERMINAL.has(j.state);
		const f = h('form.card.create.retry', { novalidate: true },
			h('p', 'A new job for tenant ', h('strong', j.tenant_id), ' with these parameters; its filters stay ',
				j.filters && Object.keys(j.filters).length ? h('code', JSON.stringify(j.filters)) : 'none',
				'. The original ', j.error ? ['ended ', h('code', j.error.code)] : `is ${j.state}`, '.'),
			ended ? null : h('p.note', 'It has not ended yet: the API refuses a retry until it has (409).'),
			h('div.row',
				field('from', 'From (UTC, inclusive)', from, 'YYYY-MM-DD HH:MM:SSZ'),
				field('to', 'To (UTC, exclusive)', to, 'YYYY-MM-DD HH:MM:SSZ, at most 31 days after From.')),
			h('div.row', field('format', 'Format', format), field('compression', 'Compression', compression)),
			h('div.row', field('max_rows', 'Row limit', maxRows), field('max_bytes', 'Byte limit', maxBytes)),
			field('max_duration_seconds', 'Time limit (seconds)', maxDur),
			h('div.actions', submit), out);

		let lastBody = null;
		let lastKey = null;
		let inFlight = false;
		const num = (el) => {
			const v = el.value.trim().replace(/[,_ ]/g, '');
			return /^-?\d+$/.test(v) ? Number(v) : v;
		};
		f.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			const b = {
				from: toRfc3339(from.value), to: toRfc3339(to.value), format: format.value, compression: compression.value,
				max_rows: num(maxRows), max_bytes: num(maxBytes), max_duration_seconds: num(maxDur),
			};
			const json = JSON.stringify(b);
			if (json !== lastBody) { lastBody = json; lastKey = crypto.randomUUID(); }
			if (inFlight) return;
			inFlight = true;
			submit.disabled = true;
			for (const [name, el] of Object.entries(errs)) { el.hidden = true; el.textContent = ''; fields[name].removeAttribute('aria-invalid'); }
			mount(out);
			try {
				const r = await ctx.api('retryExport', { params: { id: j.id }, body: b, headers: { 'Idempotency-Key': lastKey } });
				ctx.navigate(`/exports/${r.data.id}`);
			} catch (e) {
				let first = null;
				for (const d of e.details || []) {
					const name = String(d.field || '').replace(/[[.].*$/, '');
					if (!errs[name]) continue;
					errs[name].textContent = errs[name].textContent ? `${errs[name].textContent}; ${d.issue}` : d.issue;
					errs[name].hidden = false;
					fields[name].setAttribute('aria-invalid', 'true');
					first = first || fields[name];
				}
				mount(out, errorBox(e, e.code === 'VALIDATION_FAILED' ? 'Please correct the marked fields' : 'The retry was not created'));
				if (first) first.focus();
			} finally {
				inFlight = false;
				submit.disabled = false;
			}
		});
		mount(slot, f);
	}
	return () => { alive = false; };
}
