// dom.js: a tiny element builder and formatters. The console never uses
// innerHTML: every text goes through textContent, so API data cannot
// inject markup (and the CSP forbids inline code anyway).

// h('tag#id.class1.class2', {attr: value, onclick: fn}, child, ...)
// Children: nodes, strings, numbers, arrays; null/false are skipped.
export function h(spec, attrs, ...children) {
	const [head, ...classes] = spec.split('.');
	const [tag, id] = head.split('#');
	const el = document.createElement(tag || 'div');
	if (id) el.id = id;
	if (classes.length) el.className = classes.join(' ');
	if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
		children.unshift(attrs);
		attrs = null;
	}
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === null || v === undefined || v === false) continue;
		if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
		else if (k === 'class') el.className = v;
		else if (k in el && typeof v !== 'string') el[k] = v;
		else el.setAttribute(k, v === true ? '' : String(v));
	}
	append(el, children);
	return el;
}

function append(el, children) {
	for (const c of children) {
		if (c === null || c === undefined || c === false) continue;
		if (Array.isArray(c)) append(el, c);
		else el.append(c instanceof Node ? c : String(c));
	}
}

// replace the children of el
export function mount(el, ...children) {
	el.replaceChildren();
	append(el, children);
}

// The console's one time format, on every page: UTC, to the second, with
// the Z ("2026-10-01 00:00:00Z"). The create form reads the same format.
export function fmtTime(iso) {
	if (iso === null || iso === undefined || iso === '') return '—';
	const d = new Date(iso);
	if (Number.isNaN(d.getTime())) return String(iso);
	return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

// seconds -> "1 h 02 min", "42 s", "3.5 s"
export function fmtDuration(s) {
	if (s === null || s === undefined || Number.isNaN(s)) return '—';
	const neg = s < 0;
	let v = Math.abs(s);
	if (v >= 10) v = Math.round(v); // whole seconds: never "4 min 60 s"
	let out;
	if (v < 10) out = `${v.toFixed(1)} s`;
	else if (v < 120) out = `${Math.round(v)} s`;
	else if (v < 7200) out = `${Math.floor(v / 60)} min ${String(v % 60).padStart(2, '0')} s`;
	else if (v < 172800) out = `${Math.floor(v / 3600)} h ${String(Math.floor((v % 3600) / 60)).padStart(2, '0')} min`;
	else out = `${Math.floor(v / 86400)} d ${Math.floor((v % 86400) / 3600)} h`;
	return neg ? `-${out}` : out;
}

export function fmtBytes(n) {
	if (n === null || n === undefined) return '—';
	const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
	let v = n, i = 0;
	while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
	return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

export function fmtInt(n) {
	return n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US');
}

export function stateBadge(state) {
	return h(`span.badge.state-${String(state).toLowerCase()}`, state);
}

// hashFor('/exports', {state: 'DONE'}) -> '#/exports?state=DONE' (empty
// values left out)
export function hashFor(path, query) {
	const q = new URLSearchParams(Object.entries(query || {})
		.filter(([, v]) => v !== '' && v !== null && v !== undefined && v !== false));
	return `#${path}${[...q].length ? `?${q}` : ''}`;
}

// label every body cell of a table with its column's header (data-label):
// under 40rem the stylesheet stacks each row as a card and shows the label
export function labelCells(table) {
	const heads = [...table.querySelectorAll('thead th')].map((th) => th.dataset.label ?? th.textContent);
	for (const tr of table.querySelectorAll('tbody tr')) {
		[...tr.children].forEach((cell, i) => { if (heads[i]) cell.dataset.label = heads[i]; });
	}
}

let ids = 0;
export function uid(prefix) { ids += 1; return `${prefix}-${ids}`; }
