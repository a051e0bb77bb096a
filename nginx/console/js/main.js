// main.js: the console's shell. Hash routes (no server code: nginx serves
// only files) from the one route table VIEWS below, the header (navigation
// by role, who is signed in, the refresh control) and the sign-in gate.

import { h, mount, fmtDuration, hashFor } from './dom.js';
import { Session, loadSession, saveSession, clearSession } from './session.js';
import { renderRefreshControl } from './poller.js';
import { call } from './api.js';
import { renderSignIn } from './views/signin.js';
import { renderExports } from './views/exports.js';
import { renderCreate } from './views/create.js';
import { renderJob } from './views/job.js';
import { renderRetry } from './views/retry.js';
import { renderLocks } from './views/locks.js';
import { renderStatus } from './views/status.js';
import { renderWebhooks, renderDeliveries } from './views/webhooks.js';

const app = {
	session: loadSession(),
	cleanup: null,
	whoTimer: null,
	signOutReason: null,
};

// The one route table: every view, its path in the URL fragment (":name"
// is a path parameter), and the navigation entries (label, and the
// capability that shows it; the API stays the enforcer). A path no entry
// matches, or one with a malformed %-escape, shows an error view.
const VIEWS = [
	// ?state=&tenant_id=&requested_by=&id_prefix=&error_code=&cursor=
	{ path: '/exports', render: renderExports, nav: 'Exports', cap: 'export.read' },
	{ path: '/exports/new', render: renderCreate, nav: 'New export', cap: 'export.create' },
	{ path: '/exports/:id', render: renderJob, section: '/exports' },
	{ path: '/exports/:id/retry', render: renderRetry, section: '/exports' },
	{ path: '/locks', render: renderLocks, nav: 'Locks', cap: 'ops.status' },
	{ path: '/webhooks', render: renderWebhooks, nav: 'Webhooks', cap: 'webhook.read' },
	{ path: '/webhooks/:id', render: renderDeliveries, section: '/webhooks' },
	{ path: '/status', render: renderStatus, nav: 'Status' },
];
const HOME = '/exports';

export function parseRoute() {
	const raw = location.hash.replace(/^#/, '') || HOME;
	const i = raw.indexOf('?');
	const path = i < 0 ? raw : raw.slice(0, i);
	return { path, query: new URLSearchParams(i < 0 ? '' : raw.slice(i + 1)) };
}

// match(path) -> {view, params} | {error}: the first VIEWS entry whose
// segments match; a parameter is percent-decoded (URIError: an error)
function match(path) {
	const segs = path.split('/');
	for (const v of VIEWS) {
		const want = v.path.split('/');
		if (want.length !== segs.length) continue;
		const params = {};
		let ok = true;
		for (let k = 0; k < want.length && ok; k++) {
			if (want[k].startsWith(':')) {
				if (segs[k] === '') { ok = false; break; }
				try { params[want[k].slice(1)] = decodeURIComponent(segs[k]); } catch (e) {
					return { error: `the part "${segs[k]}" of this address is not valid percent-encoding (${e.message})` };
				}
			} else ok = want[k] === segs[k];
		}
		if (ok) return { view: v, params };
	}
	return { error: `the console has no page "${path}"` };
}

export function navigate(path, query) {
	const target = hashFor(path, query);
	if (location.hash === target) render();
	else location.hash = target;
}

function renderBadAddress(ctx, why) {
	mount(ctx.view,
		h('h1', 'Page not found'),
		h('div.error', { role: 'alert', 'data-code': 'BAD_ADDRESS' },
			h('p.error-title', 'This address does not lead to a console page'),
			h('p.error-message', why)),
		h('p', h('a', { href: hashFor(HOME) }, 'Go to the export list')));
	return () => {};
}

// any 401 from the API, or the token's exp passing, ends the session;
// reason: a text or the ApiError, shown on the sign-in page
export function signOut(reason) {
	app.session = null;
	app.signOutReason = reason || null;
	clearSession();
	render();
}

// api(route, opts): call() with the session's token; a 401 signs out
// with the API's reason (code, message, request_id)
function api(route, opts = {}) {
	const s = app.session;
	return call(route, { ...opts, token: s ? s.token : undefined }).catch((e) => {
		if (e.status === 401 && app.session === s) signOut(e);
		throw e;
	});
}

function signIn(token, keep) {
	app.session = new Session(token, keep);
	saveSession(app.session);
	app.signOutReason = null;
	render();
}

function renderHeader(route) {
	const s = app.session;
	const nav = document.getElementById('nav');
	const who = document.getElementById('who');
	const refresh = document.getElementById('refresh');
	clearInterval(app.whoTimer);
	if (!s) { mount(nav); mount(who); mount(refresh); return; }
	const m = match(route.path);
	const current = m.view ? (m.view.section || m.view.path) : null;
	mount(nav, h('ul', VIEWS.filter((v) => v.nav && (!v.cap || s.can(v.cap))).map((v) => h('li', h('a', {
		href: hashFor(v.path), 'aria-current': v.path === current ? 'page' : null }, v.nav)))));
	renderRefreshControl(refresh);
	const left = h('span.expiry', '');
	const tick = () => {
		const secs = s.secondsLeft();
		if (secs === null) { left.textContent = 'no expiry'; return; }
		if (secs <= 0) { signOut('your token expired: paste a new one'); return; }
		left.textContent = `expires in ${fmtDuration(secs)}`;
		left.classList.toggle('soon', secs < 300);
	};
	tick();
	app.whoTimer = setInterval(tick, 1000);
	mount(who, h('div.who', { 'aria-label': 'Signed in as' },
		h('span.sub', s.claims.sub || '(no sub)'),
		h('span.roles', s.claims.roles.length ? s.claims.roles.join(', ') : 'no roles'),
		h('span.tenant', s.claims.tenant ? `tenant ${s.claims.tenant}` : 'all tenants'),
		left,
		h('button.small', { type: 'button', onclick: () => signOut('you signed out') }, 'Sign out')));
}

function render() {
	if (app.cleanup) { app.cleanup(); app.cleanup = null; }
	const route = parseRoute();
	const view = document.getElementById('view');
	renderHeader(route);
	const ctx = { session: app.session, route, navigate, signOut, view, api };
	const m = match(route.path);
	if (!app.session) app.cleanup = renderSignIn(ctx, { reason: app.signOutReason, onSignIn: signIn });
	else if (m.error) app.cleanup = renderBadAddress(ctx, m.error);
	else app.cleanup = m.view.render(ctx, m.params);
	const h1 = view.querySelector('h1');
	if (h1) { h1.tabIndex = -1; h1.focus({ preventScroll: true }); }
}

window.addEventListener('hashchange', render);
render();
