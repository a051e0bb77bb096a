// views/job.js: one export job. Polls until the job is terminal (the API's
// Retry-After sets the pace while it is PENDING or RUNNING), cancels with
// confirmation, downloads through a fresh signed URL, offers Retry (the
// retry view) once it has ended, and shows its timeline (the job's events,
// oldest first).

import { h, mount, fmtTime, fmtBytes, fmtInt, fmtDuration, stateBadge, hashFor, labelCells } from '../dom.js';
import { Poller, pollState } from '../poller.js';
import { errorBox, confirmDialog } from '../ui.js';

const TERMINAL = new Set(['DONE', 'FAILED', 'EXPIRED']);

// cancelJob(ctx, job, show): confirm, DELETE, and show(result node)
export async function cancelJob(ctx, job, show) {
	const ok = await confirmDialog({
		title: `Cancel export ${job.id.slice(0, 8)}?`,
		body: `The ${job.state} export of tenant ${job.tenant_id} (${fmtTime(job.from)} → ${fmtTime(job.to)}) will end FAILED with EXPORT_CANCELLED. This cannot be undone.`,
		confirmLabel: 'Cancel export',
	});
	if (!ok) return null;
	try {
		const r = await ctx.api('cancelExport', { params: { id: job.id } });
		show(h('p.notice', { role: 'status' }, r.data.state === 'RUNNING'
			? 'Cancel requested: the runner stops at its next chunk.' : `Cancelled: the export is ${r.data.state}.`));
		return r.data;
	} catch (e) {
		show(errorBox(e, 'The cancel failed'));
		return null;
	}
}

// the signed link's own expiry (its "expires" parameter, seconds since
// the epoch): how long it is valid comes from the API, never from here
function linkExpiry(url) {
	let exp = null;
	try { exp = Number(new URL(url, location.href).searchParams.get('expires')); } catch { exp = null; }
	if (!exp) return 'expiry not stated';
	const left = exp - Date.now() / 1000;
	return left > 0 ? `valid until ${fmtTime(exp * 1000)}, ${fmtDuration(left >= 60 ? Math.round(left / 60) * 60 : left)} from now`
		: `expired at ${fmtTime(exp * 1000)}: this clock or the server's is off`;
}

// an event's detail in a line: "attempt 1", "rows 20,000, bytes 6.5 MiB"
function detailText(d) {
	if (!d || typeof d !== 'object') return '';
	return Object.entries(d).filter(([, v]) => v !== null && v !== undefined && !(typeof v === 'object' && !Object.keys(v).length))
		.map(([k, v]) => {
			if (typeof v === 'number' && /bytes$/.test(k)) return `${k.replace(/_/g, ' ')} ${fmtBytes(v)}`;
			if (typeof v === 'number') return `${k.replace(/_/g, ' ')} ${fmtInt(v)}`;
			if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v)) return `${k} ${fmtTime(v)}`;
			return `${k.replace(/_/g, ' ')} ${typeof v === 'object' ? JSON.stringify(v) : v}`;
		}).join(', ');
}

function dl(pairs) {
	return h('dl.kv', pairs.filter(Boolean).map(([k, v]) => [h('dt', k), h('dd', v)]));
}

export function renderJob(ctx, { id }) {
	const { session } = ctx;
	const msg = h('div.msg');
	const head = h('div.job-head');
	const progress = h('div.progress-box');
	const facts = h('div.facts');
	const actions = h('div.actions.job-actions');
	const dlInfo = h('div.download-info', { 'aria-live': 'polite' });
	const events = h('tbody');
	const timeline = h('table.timeline.stack',
		h('caption.visually-hidden', 'What happened to this job, oldest first'),
		h('thead', h('tr', ['When (UTC)', 'Event', 'By', 'Detail'].map((c) => h('th', { scope: 'col' }, c)))),
		events);
	const timelineBox = h('section.timeline-box', { 'aria-labelledby': 'timeline-title' },
		h('h2#timeline-title', 'Timeline'), h('div.timeline-msg'), timeline);
	let job = null;
	let cancelAsked = false;

	mount(ctx.view,
		h('p.crumbs', h('a', { href: '#/exports' }, '« Exports')),
		h('h1', 'Export ', h('span.mono', id.slice(0, 8))),
		msg, head, progress, actions, dlInfo, facts, timelineBox);

	async function download() {
		mount(dlInfo, h('p', 'Asking for a fresh download link…'));
		try {
			const r = await ctx.api('getExport', { params: { id } });
			const res = r.data.result;
			if (!res || !res.download_url) throw Object.assign(new Error('the API gave no download link'), { code: 'NO_DOWNLOAD_URL', details: [] });
			// a plain link: the browser streams the file to disk and names it
			// from the API's Content-Disposition (no download attribute value)
			const a = h('a', { href: res.download_url, download: '', hidden: true });
			document.body.append(a);
			a.click();
			a.remove();
			mount(dlInfo, h('p.notice', { role: 'status' }, 'Download started: ',
				h('strong', `${fmtBytes(res.bytes)} (${fmtInt(res.bytes)} bytes)`), ', SHA-256 ',
				h('code.sha256', res.sha256), '. Compare it with the saved file: sha256sum FILE. ',
				h('span.link-expiry', `The link is ${linkExpiry(res.download_url)}.`)));
		} catch (e) {
			mount(dlInfo, errorBox(e, 'The download link failed'));
		}
	}

	function show(j) {
		job = j;
		const active = j.state === 'PENDING' || j.state === 'RUNNING';
		if (!active) cancelAsked = false;
		mount(head, h('p.state-line', stateBadge(j.state),
			j.cancel_requested || (cancelAsked && active) ? h('span.badge.cancel', 'cancel requested') : null,
			h('span', ` tenant ${j.tenant_id}, ${j.format}${j.compression && j.compression !== 'none' ? ` (${j.compression})` : ''}, requested by ${j.requested_by}`)));
		const p = h('progress#job-progress', { 'aria-label': 'Export progress' });
		if (j.state === 'DONE') { p.max = 1; p.value = 1; } else if (!active) { p.max = 1; p.value = 0; }
		// while running the total is unknown until the end: indeterminate
		mount(progress, p, h('p.counters',
			h('span', h('strong', fmtInt(j.progress.rows)), ' rows'),
			h('span', h('strong', fmtBytes(j.progress.bytes)), ` (${fmtInt(j.progress.bytes)} bytes)`),
			h('span', h('strong', fmtInt(j.progress.chunks)), ' chunks')));
		const canCancel = active && session.canOnJob('export.cancel', j) && !j.cancel_requested && !cancelAsked;
		const canDownload = j.state === 'DONE' && session.canOnJob('export.download', j);
		const canRetry = !active && session.canOnJob('export.create', j);
		mount(actions,
			canRetry ? h('a#retry.button', { href: hashFor(`/exports/${j.id}/retry`) }, 'Retry…') : null,
			canDownload ? h('button#download.primary', { type: 'button', onclick: download }, 'Download') : null,
			canCancel ? h('button#cancel.danger', {
				type: 'button',
				onclick: async () => {
					const after = await cancelJob(ctx, j, (node) => mount(msg, node));
					if (after) { cancelAsked = true; show(after); poller.kick(); }
				},
			}, 'Cancel export') : null);
		mount(facts,
			h('h2', 'Job'),
			dl([
				['Id', h('code', j.id)],
				j.retry_of ? ['Retry of', h('a.mono.retry-of', { href: hashFor(`/exports/${j.retry_of}`) }, j.retry_of)] : null,
				['Range (UTC)', `${fmtTime(j.from)} → ${fmtTime(j.to)}`],
				['Filters', j.filters && Object.keys(j.filters).length ? JSON.stringify(j.filters) : 'none'],
				['Attempt', String(j.attempt)],
				['Created', fmtTime(j.created_at)],
				['Started', fmtTime(j.started_at)],
				['Finished', fmtTime(j.finished_at)],
				['Expires', fmtTime(j.expires_at)],
			]),
			h('h2', 'Limits'),
			dl([
				['Rows', fmtInt(j.limits.max_rows)],
				['Bytes', `${fmtBytes(j.limits.max_bytes)} (${fmtInt(j.limits.max_bytes)})`],
				['Duration', fmtDuration(j.limits.max_duration_seconds)],
			]),
			j.result ? [h('h2', 'Result'), dl([
				['Rows', fmtInt(j.result.rows)],
				['Size', `${fmtBytes(j.result.bytes)} (${fmtInt(j.result.bytes)} bytes)`],
				['SHA-256', h('code.sha256', j.result.sha256)],
				['Download', j.result.download_url
					? h('span.link-expiry', `a fresh signed link on every click; the last one is ${linkExpiry(j.result.download_url)}`)
					: 'not for your role (metadata only)'],
			])] : null,
			j.error ? [h('h2', 'Error'), h('div.error', { role: 'note' },
				h('p', h('code.error-code', j.error.code), ' ', j.error.message || ''))] : null);
	}

	async function loadTimeline() {
		const tmsg = timelineBox.querySelector('.timeline-msg');
		try {
			const r = await ctx.api('jobEvents', { params: { id } });
			mount(tmsg);
			mount(events, r.data.items.length ? r.data.items.map((e) => h('tr', { 'data-kind': e.kind },
				h('td.nowrap', fmtTime(e.at)),
				h('td', h('code', e.kind)),
				h('td', e.actor || e.source || '—'),
				h('td.detail', detailText(e.detail))))
				: h('tr', h('td.empty', { colspan: 4 }, 'No events (they are kept events.retention_days).')));
			labelCells(timeline);
		} catch (e) {
			mount(tmsg, errorBox(e, 'Cannot load the timeline'));
		}
	}

	async function load() {
		try {
			const r = await ctx.api('getExport', { params: { id } });
			if (!msg.querySelector('.notice')) mount(msg);
			show(r.data);
			await loadTimeline();
			return { retryAfter: r.retryAfter, done: TERMINAL.has(r.data.state) };
		} catch (e) {
			mount(msg, errorBox(e, 'Cannot load this export'));
			throw e;
		}
	}
	const poller = new Poller(load, pollState);
	poller.kick();
	return () => poller.stop();
}
