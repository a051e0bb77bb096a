// ui.js: pieces every view uses: the API error box (code, message,
// request_id with a copy button) and the modal confirmation dialog.

import { h, mount, uid } from './dom.js';

// errorBox(err): an alert with the code, message, request id and details
export function errorBox(err, title = 'The request failed') {
	const rid = err.requestId;
	const copy = rid ? h('button.small', {
		type: 'button',
		'aria-label': `Copy request id ${rid}`,
		onclick: async (ev) => {
			const b = ev.currentTarget;
			try { await navigator.clipboard.writeText(rid); b.textContent = 'Copied'; } catch {
				// no clipboard permission: select the id so Ctrl+C works
				const sel = window.getSelection();
				const range = document.createRange();
				range.selectNodeContents(b.previousElementSibling);
				sel.removeAllRanges(); sel.addRange(range);
				b.textContent = 'Selected: press Ctrl+C';
			}
		},
	}, 'Copy id') : null;
	return h('div.error', { role: 'alert', 'data-code': err.code },
		h('p.error-title', title),
		h('p', h('code.error-code', err.code), ' ', h('span.error-message', err.message)),
		rid ? h('p.rid', 'request_id ', h('code.request-id', rid), ' ', copy)
			: h('p.rid', 'no request_id (the answer did not come from the ops API)'),
		err.details && err.details.length
			? h('ul.details', err.details.map((d) => h('li', h('code', d.field || '?'), ': ', d.issue || ''))) : null);
}

// confirmDialog({title, body, confirmLabel, danger, fields}) -> Promise<values|null>
// fields: [{name, label, kind: 'textarea'|'input', mustEqual, help}]
// The confirm button stays disabled until every field is filled and every
// mustEqual field equals its text.
export function confirmDialog({ title, body, confirmLabel, fields = [] }) {
	const dlg = document.getElementById('dialog');
	const opener = document.activeElement;
	return new Promise((resolve) => {
		const inputs = fields.map((f) => {
			const id = uid('dlg');
			const input = f.kind === 'textarea'
				? h('textarea', { id, name: f.name, rows: 3, maxlength: 500, required: true, autocomplete: 'off' })
				: h('input', { id, name: f.name, type: 'text', required: true, autocomplete: 'off', spellcheck: 'false' });
			const help = f.help ? h('p.help', { id: `${id}-help` }, f.help) : null;
			if (help) input.setAttribute('aria-describedby', help.id);
			return { f, input, row: h('div.field', h('label', { for: id }, f.label), input, help) };
		});
		const ok = h('button.danger', { type: 'submit', disabled: fields.length > 0 }, confirmLabel);
		const cancel = h('button', { type: 'button', onclick: () => finish(null) }, 'Keep it');
		const check = () => {
			ok.disabled = !inputs.every(({ f, input }) =>
				input.value.trim() !== '' && (f.mustEqual === undefined || input.value === f.mustEqual));
		};
		for (const { input } of inputs) input.addEventListener('input', check);
		const form = h('form', { method: 'dialog', novalidate: true },
			h('h2#dialog-title', title),
			body ? h('p', body) : null,
			inputs.map((i) => i.row),
			h('div.actions', cancel, ok));
		form.addEventListener('submit', (ev) => {
			ev.preventDefault();
			if (ok.disabled) return;
			finish(Object.fromEntries(inputs.map(({ f, input }) => [f.name, input.value.trim()])));
		});
		function finish(v) {
			dlg.removeEventListener('cancel', onCancel);
			dlg.close();
			if (opener && opener.isConnected) opener.focus();
			resolve(v);
		}
		function onCancel(ev) { ev.preventDefault(); finish(null); }
		dlg.addEventListener('cancel', onCancel);
		mount(dlg, form);
		dlg.showModal();
		(inputs[0]?.input || cancel).focus();
	});
}
