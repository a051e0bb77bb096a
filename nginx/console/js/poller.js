// poller.js: the refresh loop every view shares.
//
// The interval comes from the Refresh control (Pause, 2, 5, 15, 30 s).
// A poll's next run is never sooner than the API's Retry-After; a 429, 5xx
// or network failure backs off (doubling, at most 60 s); the loop sleeps
// while the tab is hidden and polls at once when it is shown again; a view
// stops it for good (a terminal job) by returning {done: true}.

import { h, mount, fmtTime } from './dom.js';

export const INTERVALS = [0, 2, 5, 15, 30]; // seconds; 0 = paused
const MAX_BACKOFF = 60;
const listeners = new Set();
let interval = 5;

export function getInterval() { return interval; }
export function setInterval_(s) {
	interval = s;
	for (const fn of listeners) fn();
}

export class Poller {
	// fn() -> Promise<{retryAfter?, done?}>; it throws ApiError on failure.
	// onState(text) reports "updated 2026-10-01 12:00:01Z", "paused", "retrying in 8 s".
	constructor(fn, onState) {
		this.fn = fn;
		this.onState = onState || (() => {});
		this.timer = null;
		this.backoff = 0;
		this.done = false;
		this.stopped = false;
		this.running = false;
		this.wait = null;         // seconds the last answer asked us to wait
		this.onVisibility = () => { if (!document.hidden) this.kick(); else this.clear(); };
		this.onInterval = () => this.schedule();
		document.addEventListener('visibilitychange', this.onVisibility);
		listeners.add(this.onInterval);
	}

	clear() { clearTimeout(this.timer); this.timer = null; }

	// run now (first load, tab shown again, after an action)
	async kick() {
		this.clear();
		if (this.stopped || this.running) return;
		this.running = true;
		try {
			const r = (await this.fn()) || {};
			this.backoff = 0;
			this.wait = r.retryAfter ?? null;
			this.done = Boolean(r.done);
			this.onState(this.done ? 'final state: no more polling'
				: `updated ${fmtTime(new Date())}`);
		} catch (e) {
			if (!e.transient) { this.running = false; this.onState('stopped after an error'); return; }
			const base = this.backoff || Math.max(interval, 1);
			this.backoff = Math.min(MAX_BACKOFF, base * 2);
			this.wait = Math.max(this.backoff, e.retryAfter ?? 0);
			this.onState(`${e.code}: retrying in ${Math.round(this.wait)} s`);
		}
		this.running = false;
		this.schedule();
	}

	schedule() {
		this.clear();
		if (this.stopped || this.done || document.hidden) return;
		if (interval === 0) { this.onState('paused'); return; }
		const delay = Math.max(interval, this.wait ?? 0);
		this.timer = setTimeout(() => this.kick(), delay * 1000);
	}

	stop() {
		this.stopped = true;
		this.clear();
		document.removeEventListener('visibilitychange', this.onVisibility);
		listeners.delete(this.onInterval);
	}
}

// the Refresh control in the header: a group of toggle buttons
export function renderRefreshControl(el) {
	const buttons = INTERVALS.map((s) => h('button.seg', {
		type: 'button',
		'aria-pressed': String(s === interval),
		'data-interval': String(s),
		onclick: () => {
			setInterval_(s);
			for (const b of buttons) b.setAttribute('aria-pressed', String(b.dataset.interval === String(s)));
		},
	}, s === 0 ? 'Pause' : `${s} s`));
	mount(el, h('div.refresh', { role: 'group', 'aria-label': 'Refresh interval' },
		h('span.label', 'Refresh'), buttons),
	h('span#poll-state.poll-state', { role: 'status', 'aria-live': 'polite' }, ''));
}

export function pollState(text) {
	const el = document.getElementById('poll-state');
	if (el) el.textContent = text;
}
