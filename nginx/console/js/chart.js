// chart.js: the console's own small charts, inline SVG built with
// createElementNS (no chart library; no inline style: colours come from
// console.css classes, positions are SVG attributes, which the CSP allows).
// Each chart is an <svg role="img"> with a <title> and a <desc> that says
// what it shows in words; the view puts the numbers in a table next to it.

const NS = 'http://www.w3.org/2000/svg';
const W = 720, H = 220, L = 48, R = 8, T = 12, B = 28; // viewBox and margins

function s(tag, attrs, ...children) {
	const el = document.createElementNS(NS, tag);
	for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
	for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
	return el;
}

// a "nice" top of the axis: 1, 2, 5 times a power of ten, at least max
function niceMax(max) {
	if (!(max > 0)) return 1;
	const p = 10 ** Math.floor(Math.log10(max));
	return [1, 2, 5, 10].map((m) => m * p).find((v) => v >= max);
}

// frame(n, top, fmt): the y axis (0, half, top) and the x axis labelled in
// hours before now ("-24 h" ... "now"), for n hourly buckets
function frame(n, top, fmt) {
	const y = (v) => T + (H - T - B) * (1 - v / top);
	const step = (W - L - R) / n;
	const out = [];
	for (const v of [0, top / 2, top]) {
		out.push(s('line', { class: 'grid', x1: L, x2: W - R, y1: y(v), y2: y(v) }));
		out.push(s('text', { class: 'tick', x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, fmt(v)));
	}
	const every = n <= 24 ? 6 : n <= 72 ? 12 : 24;
	for (let i = 0; i <= n; i += every) {
		const ago = n - i;
		out.push(s('text', { class: 'tick', x: L + i * step, y: H - 8, 'text-anchor': i === 0 ? 'start' : i === n ? 'end' : 'middle' },
			ago === 0 ? 'now' : `-${ago} h`));
	}
	return { y, step, nodes: out };
}

// barChart({id, title, desc, series: [{key, label, cls}], rows}): grouped
// bars, one group per row (bucket)
export function barChart({ id, title, desc, series, rows, fmt = (v) => String(Math.round(v)) }) {
	const max = niceMax(Math.max(0, ...rows.flatMap((r) => series.map((x) => r[x.key] || 0))));
	const f = frame(rows.length, max, fmt);
	const bw = Math.max(1, (f.step - 2) / series.length);
	const bars = rows.flatMap((r, i) => series.map((x, k) => {
		const v = r[x.key] || 0;
		return v > 0 ? s('rect', { class: `bar ${x.cls}`, x: (L + i * f.step + 1 + k * bw).toFixed(1), y: f.y(v).toFixed(1),
			width: bw.toFixed(1), height: (f.y(0) - f.y(v)).toFixed(1) }) : null;
	}));
	return s('svg', { class: 'chart', id, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': `${id}-title`, 'aria-describedby': `${id}-desc`,
		preserveAspectRatio: 'xMidYMid meet' },
	s('title', { id: `${id}-title` }, title), s('desc', { id: `${id}-desc` }, desc), f.nodes, bars);
}

// lineChart({id, title, desc, series, rows, fmt}): one line per series;
// a null value breaks the line (a dot marks a lone point)
export function lineChart({ id, title, desc, series, rows, fmt }) {
	const max = niceMax(Math.max(0, ...rows.flatMap((r) => series.map((x) => r[x.key] ?? 0))));
	const f = frame(rows.length, max, fmt);
	const x = (i) => L + (i + 0.5) * f.step;
	const paths = series.flatMap((ser) => {
		const parts = [];
		let cur = [];
		rows.forEach((r, i) => {
			const v = r[ser.key];
			if (v === null || v === undefined) { if (cur.length) parts.push(cur); cur = []; } else cur.push([x(i), f.y(v)]);
		});
		if (cur.length) parts.push(cur);
		return parts.map((p) => p.length === 1
			? s('circle', { class: `dot ${ser.cls}`, cx: p[0][0].toFixed(1), cy: p[0][1].toFixed(1), r: 3 })
			: s('polyline', { class: `line ${ser.cls}`, points: p.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ') }));
	});
	return s('svg', { class: 'chart', id, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': `${id}-title`, 'aria-describedby': `${id}-desc`,
		preserveAspectRatio: 'xMidYMid meet' },
	s('title', { id: `${id}-title` }, title), s('desc', { id: `${id}-desc` }, desc), f.nodes, paths);
}

// legend([{label, cls}]): the series' colours, as text with a swatch
export function legend(series) {
	const ul = document.createElement('ul');
	ul.className = 'legend';
	for (const x of series) {
		const li = document.createElement('li');
		const sw = document.createElement('span');
		sw.className = `swatch ${x.cls}`;
		sw.setAttribute('aria-hidden', 'true');
		li.append(sw, x.label);
		ul.append(li);
	}
	return ul;
}
