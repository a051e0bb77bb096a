// main.js: the console's shell. Hash routes (no server code: nginx serves
// only files), the header (navigation by role, who is signed in, the
// refresh control) and the sign-in gate.
//
//   #/exports?state=&tenant_id=&mine=1&cursor=   the job list (filters in the URL)
//   #/exports/new                                create
//   #/exports/ID                                 one job
//   #/locks                                      scheduler locks (ops.status)
//   #/status                                     health, readiness, status

import { h, mount, fmtDuration } from './dom.js';
import { Session, loadSession, saveSession, clearSession } from './session.js';
import { renderRefreshControl } from './poller.js';
import { call } from './api.js';
import { renderSignIn } from './views/signin.js';
import { renderExports } from './views/exports.js';
import { renderCreate } from './views/create.js';
import { renderJob } from './views/job.js';
import { renderLocks } from './views/locks.js';
import { renderStatus } from './views/status.js';

const app = {
	session: loadSession(),
	cleanup: null,
	whoTimer: null,
	signOutReason: null,
};

export function parseRoute() {
	const raw = location.hash.replace(/^#/, '') || '/exports';
	const [path, qs] = raw.split('?');
	return { path, query: new URLSearchParams(qs || '') };
}

export function navigate(path, query) {
	const q = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== '' && v !== null && v !== undefined)) : null;
	const target = `#${path}${q && [...q].length ? `?${q}` : ''}`;
	if (location.hash === target) render();
	else location.hash = target;
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

const NAV = [
	{ path: '/exports', label: 'Exports', show: (s) => s.can('export.read') },
	{ path: '/exports/new', label: 'New export', show: (s) => s.can('export.create') },
	{ path: '/locks', label: 'Locks', show: (s) => s.can('ops.status') },
	{ path: '/status', label: 'Status', show: () => true },
];

function renderHeader(route) {
	const s = app.session;
	const nav = document.getElementById('nav');
	const who = document.getElementById('who');
	const refresh = document.getElementById('refresh');
	clearInterval(app.whoTimer);
	if (!s) { mount(nav); mount(who); mount(refresh); return; }
	const current = NAV.filter((n) => route.path === n.path || (n.path === '/exports' && /^\/exports\/(?!new$)/.test(route.path)));
	mount(nav, h('ul', NAV.filter((n) => n.show(s)).map((n) => h('li', h('a', {
		href: `#${n.path}`, 'aria-current': current.includes(n) ? 'page' : null }, n.label)))));
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
	if (!app.session) {
		app.cleanup = renderSignIn(ctx, { reason: app.signOutReason, onSignIn: signIn });
	} else if (route.path === '/exports/new') {
		app.cleanup = renderCreate(ctx);
	} else if (route.path.startsWith('/exports/')) {
		app.cleanup = renderJob(ctx, decodeURIComponent(route.path.slice('/exports/'.length)));
	} else if (route.path === '/locks') {
		app.cleanup = renderLocks(ctx);
	} else if (route.path === '/status') {
		app.cleanup = renderStatus(ctx);
	} else {
		app.cleanup = renderExports(ctx);
	}
	const h1 = view.querySelector('h1');
	if (h1) { h1.tabIndex = -1; h1.focus({ preventScroll: true }); }
}

window.addEventListener('hashchange', render);
render();
