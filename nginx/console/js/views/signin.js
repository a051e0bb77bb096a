// views/signin.js: paste a bearer token. It is checked with one API call
// (GET /api/ops/audit-exports?limit=1, which every role may make) so that
// an expired or foreign token stays here with the API's reason.

import { h, mount } from '../dom.js';
import { call, ApiError } from '../api.js';
import { decodeClaims } from '../session.js';
import { errorBox } from '../ui.js';

export function renderSignIn(ctx, { reason, onSignIn }) {
	const status = h('div#signin-status', { 'aria-live': 'polite' });
	const tokenErr = h('p#token-error.field-error', { hidden: true });
	// masked like a password: a token on screen leaks through screen shares
	const token = h('input#token', {
		type: 'password', name: 'token', required: true, autocomplete: 'off', spellcheck: 'false',
		'aria-describedby': 'token-help token-error',
	});
	const keep = h('input#keep', { type: 'checkbox', name: 'keep' });
	const submit = h('button.primary', { type: 'submit' }, 'Sign in');
	const form = h('form.card.signin', { novalidate: true },
		h('div.field',
			h('label', { for: 'token' }, 'Bearer token'),
			token,
			h('p#token-help.help', 'A JWT from your identity provider (or from make run). It stays in this tab\'s memory and is never put in a URL.'),
			tokenErr),
		h('div.field.check', keep, h('label', { for: 'keep' }, 'Keep for this tab (sessionStorage; gone when the tab closes)')),
		h('div.actions', submit),
		status);

	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		const t = token.value.trim();
		tokenErr.hidden = true;
		token.removeAttribute('aria-invalid');
		mount(status);
		try {
			if (!t) throw new Error('paste a token first');
			decodeClaims(t);
		} catch (e) {
			tokenErr.textContent = e.message;
			tokenErr.hidden = false;
			token.setAttribute('aria-invalid', 'true');
			token.focus();
			return;
		}
		submit.disabled = true;
		mount(status, h('p', 'Checking the token with the API…'));
		try {
			await call('listExports', { token: t, query: { limit: 1 } });
		} catch (e) {
			if (e instanceof ApiError && e.status === 401) {
				mount(status, errorBox(e, 'The API refused this token'));
				submit.disabled = false;
				token.focus();
				return;
			}
			// 403, 5xx: the token itself was accepted; the views show the rest
		}
		onSignIn(t, keep.checked);
	});

	let why = null;
	if (reason instanceof ApiError) why = errorBox(reason, 'You were signed out');
	else if (reason) why = h('p.notice', { role: 'status' }, `Signed out: ${reason}.`);
	mount(ctx.view,
		h('h1', 'Sign in'),
		why,
		form);
	return () => {};
}
