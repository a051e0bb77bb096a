// The operator console in a real headless Chromium (Debian's /usr/bin/chromium
// through playwright-core) against the real stack that
// tests/integration/console.sh starts: nginx, ops-fcgi, PostgreSQL and the
// timer loop (runner every 15 s, healer every minute). Run it through that
// script; it exports:
//   CONSOLE_URL, CONSOLE_DB_URL, CONSOLE_STACK_DIR, CONSOLE_SHOTS,
//   CONSOLE_CHROMIUM, CONSOLE_ROOT, TOK_SUPER, TOK_OPS, TOK_AUDITOR,
//   TOK_TENANT (alice, tenant acme), TOK_EXPIRED
// The tests run in order and build on each other (one stack, one browser).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';

const env = (k) => {
	const v = process.env[k];
	if (!v) throw new Error(`${k} is not set: run tests/integration/console.sh`);
	return v;
};
const URL_ = env('CONSOLE_URL');
const DB = env('CONSOLE_DB_URL');
const STACK = env('CONSOLE_STACK_DIR');
const SHOTS = env('CONSOLE_SHOTS');
const ROOT = env('CONSOLE_ROOT');
const TOK = {
	super: env('TOK_SUPER'), ops: env('TOK_OPS'), auditor: env('TOK_AUDITOR'),
	tenant: env('TOK_TENANT'), expired: env('TOK_EXPIRED'),
};
const CONSOLE = `${URL_}/console/`;

let context;
let profile;
const doneJob = {};     // the TENANT_ADMIN's DONE export (test 2)
const hook = {};        // an acme webhook endpoint with a delivery, kept for the sweeps (webhooks test)

before(async () => {
	profile = mkdtempSync(join(tmpdir(), 'ops-console-chromium-'));
	context = await chromium.launchPersistentContext(profile, {
		executablePath: env('CONSOLE_CHROMIUM'),
		headless: true,
		viewport: { width: 1280, height: 860 },
		acceptDownloads: true,
		args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync'],
	});
});

after(async () => {
	if (context) await context.close();
	rmSync(profile, { recursive: true, force: true });
});

// --- helpers -------------------------------------------------------------------

function sql(q) {
	return execFileSync('psql', ['-X', '-qAt', '-v', 'ON_ERROR_STOP=1', DB, '-c', q], { encoding: 'utf8' }).trim();
}

async function apiFetch(token, path, init = {}) {
	const res = await fetch(`${URL_}${path}`, {
		...init, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...(init.headers || {}) },
	});
	const text = await res.text();
	return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

async function createJob(token, body) {
	const r = await apiFetch(token, '/api/ops/audit-exports', { method: 'POST', body: JSON.stringify(body) });
	assert.equal(r.status, 202, JSON.stringify(r.body));
	return r.body;
}

// The runner's timer loop, paused like a stopped systemd timer (SIGSTOP of
// its process group) so that a job stays PENDING for as long as a test needs.
function runnerLoop(signal) {
	const pid = Number(readFileSync(join(STACK, 'timers', 'ops-export-runner.pid'), 'utf8'));
	process.kill(-pid, signal);
}

async function withRunnerPaused(fn) {
	runnerLoop('SIGSTOP');
	try { return await fn(); } finally { runnerLoop('SIGCONT'); }
}

async function newPage() {
	const page = await context.newPage();
	page.errors = [];
	page.on('pageerror', (e) => page.errors.push(e.message));
	return page;
}

async function signIn(page, token, { keep = false } = {}) {
	await page.goto(CONSOLE);
	await page.getByLabel('Bearer token').fill(token);
	if (keep) await page.getByLabel(/Keep for this tab/).check();
	await page.getByRole('button', { name: 'Sign in' }).click();
	await page.locator('#who .sub').waitFor();
}

async function shot(page, name) {
	await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function axe(page, what) {
	const r = await new AxeBuilder({ page }).analyze();
	const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
	assert.deepEqual(bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [],
		`axe: serious or critical violations on ${what}`);
}

async function navLinks(page) {
	return (await page.locator('#nav a').allTextContents()).sort();
}

const jobRow = (page, id) => page.locator(`tr[data-id="${id}"]`);

// --- the tests ---------------------------------------------------------------------

test('sign-in: the token stays in memory (or sessionStorage when kept), never in localStorage or the URL; axe clean', async () => {
	const page = await newPage();
	await page.goto(CONSOLE);
	await page.getByRole('heading', { name: 'Sign in' }).waitFor();
	await shot(page, '01-sign-in');
	await axe(page, 'sign-in');
	// keyboard only: Tab to the token field (past the skip link), type, Enter
	for (let i = 0; i < 5 && !(await page.evaluate(() => document.activeElement?.id === 'token')); i++) {
		await page.keyboard.press('Tab');
	}
	assert.equal(await page.evaluate(() => document.activeElement.id), 'token', 'Tab reaches the token field');
	assert.notEqual(await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle), 'none', 'focus is visible');
	await page.keyboard.type(TOK.tenant);
	await page.keyboard.press('Enter');
	await page.locator('#who .sub').waitFor();
	assert.equal(await page.locator('#who .sub').textContent(), 'alice');
	assert.equal(await page.locator('#who .roles').textContent(), 'TENANT_ADMIN');
	assert.equal(await page.locator('#who .tenant').textContent(), 'tenant acme');
	assert.match(await page.locator('#who .expiry').textContent(), /^expires in (1 h|119 min|11\d min)/);
	assert.equal(await page.evaluate(() => sessionStorage.length + localStorage.length), 0, 'not kept: no storage at all');
	await page.reload();
	await page.getByRole('heading', { name: 'Sign in' }).waitFor();

	await signIn(page, TOK.tenant, { keep: true });
	assert.equal(await page.evaluate(() => localStorage.length), 0);
	assert.equal(await page.evaluate(() => sessionStorage.getItem('ops-console.token')), TOK.tenant, 'kept in sessionStorage');
	await page.reload();
	await page.locator('#who .sub').waitFor();
	assert.ok(!page.url().includes(TOK.tenant.slice(0, 20)), 'no token in the URL');
	await page.getByRole('button', { name: 'Sign out' }).click();
	await page.getByRole('heading', { name: 'Sign in' }).waitFor();
	assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'sign out clears sessionStorage');
	assert.deepEqual(page.errors, []);
	await page.close();
});

test('TENANT_ADMIN creates an export in the form, watches it reach DONE without reloading, downloads it: SHA-256 and file name are the API\'s', async () => {
	const page = await newPage();
	await signIn(page, TOK.tenant);
	await page.getByRole('link', { name: 'New export' }).first().click();
	await page.getByRole('heading', { name: 'New export' }).waitFor();
	assert.equal(await page.getByLabel('Tenant').inputValue(), 'acme');
	assert.equal(await page.getByLabel('Tenant').getAttribute('readonly'), '', 'own tenant only: read-only');
	// the form shows and reads the console's one time format
	assert.match(await page.getByLabel('From (UTC, inclusive)').inputValue(), /^\d{4}-\d{2}-\d{2} 00:00:00Z$/);
	await page.getByLabel('From (UTC, inclusive)').fill('2026-10-01 00:00:00Z');
	await page.getByLabel('To (UTC, exclusive)').fill('2026-10-01 12:00:00Z');
	await page.getByLabel('Format').selectOption('csv');
	await page.getByLabel('Compression').selectOption('zstd');
	await shot(page, '02-create');
	await axe(page, 'create');
	let navigations = 0;
	page.on('framenavigated', (f) => { if (f === page.mainFrame() && !f.url().includes('#')) navigations += 1; });
	await page.getByRole('button', { name: 'Create export' }).click();
	await page.waitForURL(/#\/exports\/[0-9a-f-]{36}$/);
	const id = page.url().split('/').pop();
	await page.locator('.state-line .badge', { hasText: /PENDING|RUNNING|DONE/ }).waitFor();
	// the runner's timer (first run 30 s after start, then every 15 s) runs it
	await page.locator('.state-line .badge.state-done').waitFor({ timeout: 90_000 });
	assert.equal(navigations, 0, 'no reload while polling');
	const job = (await apiFetch(TOK.tenant, `/api/ops/audit-exports/${id}`)).body;
	assert.equal(job.state, 'DONE');
	assert.equal(job.requested_by, 'alice');
	assert.equal(job.compression, 'zstd', 'the form sent the compression');
	assert.equal(`${job.from} ${job.to}`, '2026-10-01T00:00:00Z 2026-10-01T12:00:00Z', 'the form sent the typed UTC times');
	assert.equal(await page.locator('#job-progress').getAttribute('value'), '1');
	assert.match(await page.locator('.counters').textContent(), new RegExp(`${job.result.rows.toLocaleString('en-US')} rows`));
	await shot(page, '03-job-done');
	await axe(page, 'job detail');

	const [download] = await Promise.all([
		page.waitForEvent('download'),
		page.getByRole('button', { name: 'Download' }).click(),
	]);
	const saved = join(profile, 'saved-export');
	await download.saveAs(saved);
	const sha = createHash('sha256').update(readFileSync(saved)).digest('hex');
	assert.equal(sha, job.result.sha256, 'the saved file is the export');
	// the API's own name: the bearer-token download's Content-Disposition
	const res = await fetch(`${URL_}/api/ops/audit-exports/${id}/download`, { headers: { Authorization: `Bearer ${TOK.tenant}` } });
	const cd = res.headers.get('content-disposition');
	await res.arrayBuffer();
	const apiName = /filename="([^"]+)"/.exec(cd)[1];
	assert.equal(download.suggestedFilename(), apiName);
	assert.match(apiName, /^audit-acme-.*\.csv\.zst$/);
	assert.equal(await page.locator('.download-info .sha256').textContent(), job.result.sha256, 'the page shows the SHA-256');
	assert.match(await page.locator('.download-info').textContent(), new RegExp(`${job.result.bytes.toLocaleString('en-US')} bytes`));
	Object.assign(doneJob, job);
	assert.deepEqual(page.errors, []);
	await page.close();
});

test('a double-clicked create makes one job (one Idempotency-Key per submit); a validation error appears next to its field', async () => {
	const page = await newPage();
	await signIn(page, TOK.tenant);
	await page.goto(`${CONSOLE}#/exports/new`);
	await page.getByRole('heading', { name: 'New export' }).waitFor();
	// from after to: the API's details name "to"
	await page.getByLabel('From (UTC, inclusive)').fill('2026-10-03T00:00');
	await page.getByLabel('To (UTC, exclusive)').fill('2026-10-02T00:00');
	await page.getByLabel('Row limit').fill('0');
	await page.getByRole('button', { name: 'Create export' }).click();
	const toErr = page.locator('[data-field="to"] .field-error');
	await toErr.waitFor();
	assert.equal(await toErr.textContent(), 'must be later than from');
	assert.equal(await page.getByLabel('To (UTC, exclusive)').getAttribute('aria-invalid'), 'true');
	assert.equal(await page.locator('[data-field="max_rows"] .field-error').textContent(), 'must be between 1 and 5000000');
	assert.ok(await page.locator('[data-field="from"] .field-error').isHidden(), 'no error next to a good field');
	assert.equal(await page.locator('.error .error-code').textContent(), 'VALIDATION_FAILED');
	assert.match(await page.locator('.error .request-id').textContent(), /^[0-9a-f]{32}$/);
	await shot(page, '04-create-validation');
	await axe(page, 'create with errors');

	await page.getByLabel('To (UTC, exclusive)').fill('2026-10-04T00:00');
	await page.getByLabel('Row limit').fill('');
	const posts = [];
	page.on('request', (r) => { if (r.method() === 'POST') posts.push(r.headers()['idempotency-key']); });
	await page.getByRole('button', { name: 'Create export' }).dblclick();
	await page.waitForURL(/#\/exports\/[0-9a-f-]{36}$/);
	const n = sql(`SELECT count(*) FROM tb_audit_export_job WHERE tenant_id = 'acme' AND requested_by = 'alice'
		AND range_from = '2026-10-03T00:00:00Z' AND range_to = '2026-10-04T00:00:00Z'`);
	assert.equal(n, '1', 'one job');
	assert.ok(posts.length >= 1 && new Set(posts).size === 1 && posts[0], `one key for the submit, got ${JSON.stringify(posts)}`);
	assert.deepEqual(page.errors, []);
	await page.close();
});

test('cancel of a PENDING job asks for confirmation first, then the job ends FAILED EXPORT_CANCELLED', async () => {
	await withRunnerPaused(async () => {
		const job = await createJob(TOK.tenant, { tenant_id: 'acme', from: '2026-10-05T00:00:00Z', to: '2026-10-06T00:00:00Z', format: 'jsonl' });
		assert.equal(job.state, 'PENDING');
		const page = await newPage();
		await signIn(page, TOK.tenant);
		await page.goto(`${CONSOLE}#/exports/${job.id}`);
		await page.locator('.state-line .badge.state-pending').waitFor();
		// keyboard only: focus the button, Enter opens the dialog, Escape keeps the job
		await page.locator('#cancel').focus();
		await page.keyboard.press('Enter');
		const dialog = page.getByRole('dialog');
		await dialog.waitFor();
		await shot(page, '05-cancel-confirm');
		await axe(page, 'cancel dialog');
		await page.keyboard.press('Escape');
		await dialog.waitFor({ state: 'hidden' });
		assert.equal(sql(`SELECT state FROM tb_audit_export_job WHERE id = '${job.id}'`), 'PENDING', 'not confirmed: still PENDING');
		await page.locator('#cancel').click();
		await dialog.getByRole('button', { name: 'Cancel export' }).click();
		await page.locator('.state-line .badge.state-failed').waitFor();
		assert.match(await page.locator('.msg .notice').textContent(), /Cancelled/);
		assert.equal(await page.locator('.facts .error-code').textContent(), 'EXPORT_CANCELLED');
		assert.equal(sql(`SELECT state || ' ' || error_code FROM tb_audit_export_job WHERE id = '${job.id}'`), 'FAILED EXPORT_CANCELLED');
		assert.equal(await page.locator('#cancel').count(), 0, 'no cancel button on a terminal job');
		assert.deepEqual(page.errors, []);
		await page.close();
	});
});

test('AUDITOR, OPS_ADMIN and TENANT_ADMIN each see exactly the controls rbac.md grants', async () => {
	assert.equal(doneJob.state, 'DONE', 'needs the DONE job of the create test');
	await withRunnerPaused(async () => {
		// a PENDING acme job that none of the three requested
		const pending = await createJob(TOK.super, { tenant_id: 'acme', from: '2026-10-07T00:00:00Z', to: '2026-10-08T00:00:00Z', format: 'jsonl' });
		const expect = {
			auditor: { nav: ['Exports', 'New export', 'Status', 'Webhooks'], newButton: 1, tenantFilter: 1, download: 1, cancelOther: 0 },
			ops: { nav: ['Exports', 'Locks', 'Status', 'Webhooks'], newButton: 0, tenantFilter: 1, download: 0, cancelOther: 1 },
			tenant: { nav: ['Exports', 'New export', 'Status', 'Webhooks'], newButton: 1, tenantFilter: 0, download: 1, cancelOther: 1 },
		};
		for (const [who, want] of Object.entries(expect)) {
			const page = await newPage();
			await signIn(page, TOK[who]);
			await jobRow(page, pending.id).waitFor();
			assert.deepEqual(await navLinks(page), want.nav.sort(), `${who}: navigation`);
			assert.equal(await page.locator('a.button', { hasText: 'New export' }).count(), want.newButton, `${who}: New export`);
			assert.equal(await page.getByLabel('Tenant').count(), want.tenantFilter, `${who}: tenant filter`);
			assert.equal(await jobRow(page, pending.id).getByRole('button', { name: /Cancel/ }).count(), want.cancelOther, `${who}: cancel in the list`);
			await shot(page, `06-exports-${who}`);
			await axe(page, `exports list (${who})`);
			await page.goto(`${CONSOLE}#/exports/${doneJob.id}`);
			await page.locator('.state-line .badge.state-done').waitFor();
			assert.equal(await page.locator('#download').count(), want.download, `${who}: download`);
			await page.goto(`${CONSOLE}#/exports/${pending.id}`);
			await page.locator('.state-line .badge.state-pending').waitFor();
			assert.equal(await page.locator('#cancel').count(), want.cancelOther, `${who}: cancel on the job`);
			await page.goto(`${CONSOLE}#/locks`);
			if (want.nav.includes('Locks')) {
				await page.locator('table.locks tbody tr').first().waitFor();
			}
			await page.goto(`${CONSOLE}#/status`);
			await page.locator('[data-probe="readiness"]').waitFor();
			assert.equal(await page.locator('table.runs').count(), want.nav.includes('Locks') ? 1 : 0, `${who}: ops status`);
			assert.deepEqual(page.errors, []);
			await page.close();
		}
		// the auditor's own request: cancellable (own requests)
		const mine = await createJob(TOK.auditor, { tenant_id: 'globex', from: '2026-10-07T00:00:00Z', to: '2026-10-08T00:00:00Z', format: 'jsonl' });
		const page = await newPage();
		await signIn(page, TOK.auditor);
		await page.goto(`${CONSOLE}#/exports/${mine.id}`);
		await page.locator('.state-line .badge.state-pending').waitFor();
		assert.equal(await page.locator('#cancel').count(), 1, 'auditor: cancel on own request');
		await page.close();
		for (const j of [pending, mine]) await apiFetch(TOK.super, `/api/ops/audit-exports/${j.id}`, { method: 'DELETE' });
	});
});

test('many jobs: 5,000 of one tenant list 50 a page, and Older follows the API\'s cursor (kept in the URL)', async () => {
	// inserted PENDING and cancelled in one transaction (the runner never sees them)
	sql(`INSERT INTO tb_audit_export_job (tenant_id, requested_by, range_from, range_to, max_rows, max_bytes, max_duration_seconds, created_at)
	     SELECT 'bulk', 'loader', '2026-10-01T00:00:00Z', '2026-10-02T00:00:00Z', 1000, 100000, 60, now() - interval '2 days' - g * interval '1 second'
	     FROM generate_series(1, 5000) g;
	     UPDATE tb_audit_export_job SET state = 'FAILED', error_code = 'EXPORT_CANCELLED', error_message = 'bulk test', finished_at = now()
	     WHERE tenant_id = 'bulk'`);
	const page = await newPage();
	await signIn(page, TOK.super);
	await page.goto(`${CONSOLE}#/exports?tenant_id=bulk`);
	await page.locator('tr[data-id]').first().waitFor();
	const first = await page.locator('tr[data-id]').evaluateAll((rows) => rows.map((r) => r.dataset.id));
	assert.equal(first.length, 50, 'one page of 50');
	await page.getByRole('link', { name: 'Older »' }).click();
	await page.waitForURL(/cursor=/);
	await page.locator(`tr[data-id]:not([data-id="${first[0]}"])`).first().waitFor();
	await page.waitForFunction((id) => !document.querySelector(`tr[data-id="${id}"]`), first[0]);
	const second = await page.locator('tr[data-id]').evaluateAll((rows) => rows.map((r) => r.dataset.id));
	assert.equal(second.length, 50, 'the next page of 50');
	assert.equal(second.filter((id) => first.includes(id)).length, 0, 'no job on both pages');
	const newest = await sql(`SELECT id FROM tb_audit_export_job WHERE tenant_id = 'bulk' ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET 50`);
	assert.equal(second[0], newest, 'page 2 starts at the 51st newest');
	await page.getByRole('link', { name: '« Newest' }).waitFor();
	await page.close();
});

test('filters live in the URL: state chip, tenant, mine; a shared link shows the same list; Refresh Pause stops polling', async () => {
	const page = await newPage();
	await signIn(page, TOK.super);
	await page.getByRole('button', { name: 'FAILED' }).click();
	await page.waitForURL(/state=FAILED/);
	await page.getByLabel('Tenant').fill('acme');
	await page.getByRole('button', { name: 'Apply' }).click();
	await page.waitForURL(/tenant_id=acme/);
	await page.locator('tr[data-state]').first().waitFor();
	const states = await page.locator('tr[data-state]').evaluateAll((rows) => rows.map((r) => r.dataset.state));
	assert.ok(states.length > 0 && states.every((s) => s === 'FAILED'), `only FAILED: ${states}`);
	const link = page.url();
	const other = await newPage();
	await signIn(other, TOK.super);
	await other.goto(link);
	await other.locator('tr[data-state]').first().waitFor();
	assert.equal(await other.getByRole('button', { name: 'FAILED' }).getAttribute('aria-pressed'), 'true');
	assert.equal(await other.getByLabel('Tenant').inputValue(), 'acme');
	await other.close();
	// Mine: root-1 requested the cancelled acme job of the roles test
	await page.getByRole('button', { name: 'Mine' }).click();
	await page.waitForURL(/requested_by=me/);
	await page.locator('tr[data-state]').first().waitFor();
	// Pause: no list request for 4 s; 2 s: requests again
	await page.getByRole('button', { name: 'Pause' }).click();
	let polls = 0;
	page.on('request', (r) => { if (r.url().includes('/api/ops/audit-exports?')) polls += 1; });
	await page.waitForTimeout(4000);
	assert.equal(polls, 0, 'paused: no polling');
	await page.getByRole('button', { name: '2 s' }).click();
	await page.waitForRequest((r) => r.url().includes('/api/ops/audit-exports?'), { timeout: 5000 });
	// a hidden tab does not poll; shown again, it polls at once
	await page.evaluate(() => {
		Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
		document.dispatchEvent(new Event('visibilitychange'));
	});
	polls = 0;
	await page.waitForTimeout(4500);
	assert.equal(polls, 0, 'hidden: no polling at 2 s');
	// at 30 s, a request within 10 s of being shown is the immediate one
	await page.getByRole('button', { name: '30 s' }).click();
	await Promise.all([
		page.waitForRequest((r) => r.url().includes('/api/ops/audit-exports?'), { timeout: 10_000 }),
		page.evaluate(() => {
			Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
			document.dispatchEvent(new Event('visibilitychange'));
		}),
	]);
	await page.close();
});

test('the poller honours Retry-After and backs off on 429 (js/poller.js in the page, a stub API call)', async () => {
	const page = await newPage();
	await signIn(page, TOK.super);
	const gaps = await page.evaluate(async () => {
		const { Poller, setInterval_ } = await import('./js/poller.js');
		setInterval_(2);
		const times = [];
		const answers = [
			() => ({ retryAfter: 3 }),                                     // a poll asking for 3 s
			() => { throw Object.assign(new Error('slow down'), { transient: true, code: 'RATE_LIMITED', retryAfter: 5 }); },
			() => ({}),
		];
		await new Promise((resolve) => {
			const p = new Poller(async () => {
				times.push(performance.now());
				const r = answers[times.length - 1]();
				if (times.length === answers.length) { p.stop(); resolve(); }
				return r;
			});
			p.kick();
		});
		setInterval_(5);
		return times.slice(1).map((t, i) => (t - times[i]) / 1000);
	});
	assert.ok(gaps[0] >= 2.9, `Retry-After 3 at a 2 s interval: waited ${gaps[0]} s`);
	assert.ok(gaps[1] >= 4.9, `429 with Retry-After 5: waited ${gaps[1]} s`);
	await page.close();
});

test('OPS_ADMIN force-releases a lock left by a killed holder, with a reason and the name typed; the lock shows FREE and the event appears', async () => {
	// a runner on host ops-2 was killed with its host: its lock is still HELD
	// (heartbeat fresh, lease long), which the healer leaves alone
	sql(`INSERT INTO tb_scheduler_lock (name, holder, holder_host, holder_pid, fencing_token, acquired_at, heartbeat_at, lease_until)
	     VALUES ('ops-export-runner:ops-2', 'ops-export-runner:ops-2:4711', 'ops-2', 4711, 41, now(), now(), now() + interval '20 minutes')
	     ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, holder_host = EXCLUDED.holder_host, holder_pid = EXCLUDED.holder_pid,
	       fencing_token = tb_scheduler_lock.fencing_token + 1, acquired_at = now(), heartbeat_at = now(), lease_until = EXCLUDED.lease_until`);
	const page = await newPage();
	await signIn(page, TOK.ops);
	await page.getByRole('link', { name: 'Locks' }).click();
	const row = page.locator('tr[data-lock="ops-export-runner:ops-2"]').first();
	await row.locator('.badge.state-held').waitFor();
	assert.match(await row.textContent(), /ops-export-runner:ops-2:4711/);
	await shot(page, '07-locks');
	await axe(page, 'locks');
	await row.getByRole('button', { name: 'Force-release ops-export-runner:ops-2' }).click();
	const dialog = page.getByRole('dialog');
	await dialog.waitFor();
	const confirm = dialog.getByRole('button', { name: 'Force-release' });
	await dialog.getByLabel(/Reason/).fill('host ops-2 was powered off; INC-42');
	assert.ok(await confirm.isDisabled(), 'disabled until the name is typed');
	await dialog.getByLabel(/Type the lock's name/).fill('ops-export-runner:ops-');
	assert.ok(await confirm.isDisabled(), 'disabled while the name differs');
	await dialog.getByLabel(/Type the lock's name/).fill('ops-export-runner:ops-2');
	await shot(page, '08-lock-release-confirm');
	await axe(page, 'force-release dialog');
	await confirm.click();
	await page.locator('.msg .notice', { hasText: 'Released ops-export-runner:ops-2' }).waitFor();
	await row.locator('.badge.state-free').waitFor();
	const ev = page.locator('table.events tr[data-lock="ops-export-runner:ops-2"]');
	await ev.waitFor();
	assert.match(await ev.textContent(), /host ops-2 was powered off; INC-42/);
	assert.match(await ev.textContent(), /ops-1/);
	assert.equal(sql(`SELECT count(*) FROM ops_event WHERE event_type = 'SCHEDULER_LOCK_FORCE_RELEASED' AND subject_id = 'ops-export-runner:ops-2'`), '1');
	assert.equal(sql(`SELECT holder IS NULL FROM tb_scheduler_lock WHERE name = 'ops-export-runner:ops-2'`), 't');
	await shot(page, '09-locks-released');
	assert.deepEqual(page.errors, []);
	await page.close();
});

test('status: health, readiness, queue, spool and the last run of each job binary; axe clean', async () => {
	const page = await newPage();
	await signIn(page, TOK.super);
	await page.getByRole('link', { name: 'Status' }).click();
	for (const j of ['ops-export-runner', 'ops-export-cleaner', 'ops-lock-healer']) {
		await page.locator(`tr[data-job="${j}"]`).waitFor();
	}
	// the timer loop has run the runner by now (its first run is 30 s after start)
	assert.match(await page.locator('tr[data-job="ops-export-runner"]').textContent(), /SUCCEEDED/);
	assert.match(await page.locator('[data-probe="readiness"]').textContent(), /OK/);
	assert.match(await page.locator('.ops').textContent(), /Queue depth/);
	await shot(page, '10-status');
	await axe(page, 'status');
	await page.close();
});

// --- history and actions (issue 21): search, timeline, retry, bulk cancel, charts ---

test('the list filters on the server: id prefix, requester (Mine = requested_by=me); state chips show counts; error code and duration columns', async () => {
	assert.equal(doneJob.state, 'DONE', 'needs the DONE job of the create test');
	const page = await newPage();
	await signIn(page, TOK.super);
	await page.getByLabel('Job id starts with').fill(doneJob.id.slice(0, 8));
	await page.getByRole('button', { name: 'Apply' }).click();
	await page.waitForURL(new RegExp(`id_prefix=${doneJob.id.slice(0, 8)}`));
	await page.waitForFunction((id) => {
		const rows = [...document.querySelectorAll('tr[data-id]')];
		return rows.length === 1 && rows[0].dataset.id === id;
	}, doneJob.id, { timeout: 10_000 });
	// the row's duration is finished - started
	const secs = (Date.parse(doneJob.finished_at) - Date.parse(doneJob.started_at)) / 1000;
	assert.ok(secs < 120, `the job ran ${secs} s`);
	assert.equal(await jobRow(page, doneJob.id).locator('td.duration').textContent(), secs < 10 ? `${secs.toFixed(1)} s` : `${Math.round(secs)} s`);
	assert.match(await page.locator('.chip[data-state="DONE"] .count').textContent(), /^ 1$/);
	// alice's own cancelled job (not left to the earlier tests)
	await withRunnerPaused(async () => {
		const j = await createJob(TOK.tenant, { tenant_id: 'acme', from: '2026-10-20T00:00:00Z', to: '2026-10-21T00:00:00Z', format: 'jsonl' });
		assert.equal((await apiFetch(TOK.tenant, `/api/ops/audit-exports/${j.id}`, { method: 'DELETE' })).status, 202);
	});
	// requester, then the chips' counts are the API's for that filter
	await page.getByLabel('Job id starts with').fill('');
	await page.getByLabel('Requested by').fill('alice');
	await page.getByRole('button', { name: 'Apply' }).click();
	await page.waitForURL(/requested_by=alice/);
	const api = (await apiFetch(TOK.super, '/api/ops/audit-exports?requested_by=alice&limit=50')).body;
	await page.waitForFunction((n) => document.querySelectorAll('tr[data-id]').length === n, api.items.length);
	const who = await page.locator('tr[data-id]').evaluateAll((rows) => rows.map((r) => r.querySelector('td[data-label="Requested by"]').textContent));
	assert.ok(who.length > 0 && who.every((w) => w === 'alice'), `only alice's: ${who}`);
	assert.equal(await page.locator('.chip[data-state="FAILED"] .count').textContent(), ` ${api.counts.FAILED}`);
	// the error code of a failed job is in its row
	const failed = api.items.find((j) => j.state === 'FAILED');
	assert.ok(failed, 'alice has a cancelled job');
	assert.equal(await jobRow(page, failed.id).locator('td.error-code').textContent(), failed.error.code);
	// Mine: requested_by=me, on the server
	await page.getByRole('button', { name: 'Mine' }).click();
	await page.waitForURL(/requested_by=me/);
	await page.waitForFunction(() => [...document.querySelectorAll('tr[data-id] td[data-label="Requested by"]')].every((td) => td.textContent === 'root-1'));
	await shot(page, '14-exports-search');
	await axe(page, 'exports search');
	assert.deepEqual(page.errors, []);
	await page.close();
});

test('a job\'s timeline: its events oldest first (requested, started, completed, downloaded), with who and what', async () => {
	const page = await newPage();
	await signIn(page, TOK.tenant);
	await page.goto(`${CONSOLE}#/exports/${doneJob.id}`);
	await page.locator('table.timeline tr[data-kind="EXPORT_COMPLETED"]').waitFor();
	const kinds = await page.locator('table.timeline tr[data-kind]').evaluateAll((rows) => rows.map((r) => r.dataset.kind));
	const api = (await apiFetch(TOK.tenant, `/api/ops/audit-exports/${doneJob.id}/events`)).body.items.map((e) => e.kind);
	assert.deepEqual(kinds, api, 'the API\'s events in its order');
	assert.equal(kinds[0], 'EXPORT_REQUESTED');
	for (const k of ['EXPORT_STARTED', 'EXPORT_COMPLETED', 'EXPORT_DOWNLOADED']) assert.ok(kinds.includes(k), `${k} in ${kinds}`);
	assert.ok(kinds.indexOf('EXPORT_STARTED') < kinds.indexOf('EXPORT_COMPLETED'));
	assert.equal(await page.locator('table.timeline tr[data-kind="EXPORT_REQUESTED"] td[data-label="By"]').textContent(), 'alice');
	await shot(page, '15-job-timeline');
	await axe(page, 'job timeline');
	assert.deepEqual(page.errors, []);
	await page.close();
});

test('retry: the form is the original\'s parameters, editable; the new job has retry_of and the changed range', async () => {
	const page = await newPage();
	await signIn(page, TOK.tenant);
	await page.goto(`${CONSOLE}#/exports/${doneJob.id}`);
	await page.getByRole('link', { name: 'Retry…' }).click();
	await page.waitForURL(/\/retry$/);
	await page.getByRole('heading', { name: /Retry export/ }).waitFor();
	assert.equal(await page.getByLabel('From (UTC, inclusive)').inputValue(), '2026-10-01 00:00:00Z');
	assert.equal(await page.getByLabel('To (UTC, exclusive)').inputValue(), '2026-10-01 12:00:00Z');
	assert.equal(await page.getByLabel('Format').inputValue(), 'csv');
	assert.equal(await page.getByLabel('Compression').inputValue(), 'zstd');
	assert.equal(await page.getByLabel('Row limit').inputValue(), String(doneJob.limits.max_rows));
	// a bad value: the API's detail next to the field
	await page.getByLabel('To (UTC, exclusive)').fill('2026-09-01 00:00:00Z');
	await page.getByRole('button', { name: 'Run again' }).click();
	await page.locator('[data-field="to"] .field-error:not([hidden])').waitFor();
	await shot(page, '16-retry-validation');
	await axe(page, 'retry with an error');
	await page.getByLabel('To (UTC, exclusive)').fill('2026-10-01 06:00:00Z');
	await page.getByLabel('Format').selectOption('jsonl');
	await page.getByRole('button', { name: 'Run again' }).click();
	await page.waitForURL(/#\/exports\/[0-9a-f-]{36}$/);
	const id = page.url().split('/').pop();
	assert.notEqual(id, doneJob.id);
	const job = (await apiFetch(TOK.tenant, `/api/ops/audit-exports/${id}`)).body;
	assert.equal(job.retry_of, doneJob.id);
	assert.equal(`${job.from} ${job.to} ${job.format} ${job.compression}`, '2026-10-01T00:00:00Z 2026-10-01T06:00:00Z jsonl zstd');
	await page.locator('.facts a.retry-of').waitFor();
	assert.equal(await page.locator('.facts a.retry-of').textContent(), doneJob.id);
	await page.locator('.state-line .badge.state-done').waitFor({ timeout: 90_000 });
	await shot(page, '17-retried-job');
	assert.deepEqual(page.errors, []);
	await page.close();
});

test('bulk cancel: the selected jobs, then "cancel all matching" with the count in the confirmation; only those jobs end cancelled', async () => {
	await withRunnerPaused(async () => {
		const mk = (d) => createJob(TOK.super, { tenant_id: 'globex', from: `2026-10-${d}T00:00:00Z`, to: `2026-10-${d}T06:00:00Z`, format: 'jsonl' });
		const jobs = [];
		for (const d of ['13', '14', '15', '16', '17']) jobs.push(await mk(d));
		const page = await newPage();
		await signIn(page, TOK.super);
		await page.goto(`${CONSOLE}#/exports?state=PENDING&tenant_id=globex`);
		for (const j of jobs) await jobRow(page, j.id).waitFor();
		// two selected
		await jobRow(page, jobs[0].id).getByRole('checkbox').check();
		await jobRow(page, jobs[1].id).getByRole('checkbox').check();
		await page.getByRole('button', { name: 'Cancel selected (2)' }).click();
		const dialog = page.getByRole('dialog');
		await dialog.getByRole('heading', { name: 'Cancel 2 exports?' }).waitFor();
		await dialog.getByRole('button', { name: 'Cancel 2 exports' }).click();
		await page.locator('.done .notice', { hasText: 'Cancelled 2 exports.' }).waitFor();
		const state = (j) => sql(`SELECT state || ' ' || coalesce(error_code, '-') FROM tb_audit_export_job WHERE id = '${j.id}'`);
		assert.deepEqual(jobs.map(state), ['FAILED EXPORT_CANCELLED', 'FAILED EXPORT_CANCELLED', 'PENDING -', 'PENDING -', 'PENDING -']);
		// all matching: the confirmation names the API's count for the filter
		const n = Number(sql(`SELECT count(*) FROM tb_audit_export_job WHERE tenant_id = 'globex' AND state = 'PENDING'`));
		assert.ok(n >= 3);
		await page.getByRole('button', { name: `Cancel all matching (${n})` }).click();
		await dialog.getByRole('heading', { name: `Cancel ${n} exports?` }).waitFor();
		await shot(page, '18-bulk-cancel-confirm');
		await axe(page, 'bulk cancel confirmation');
		await dialog.getByRole('button', { name: `Cancel ${n} exports` }).click();
		await page.locator('.done .notice', { hasText: `Cancelled ${n} exports.` }).waitFor();
		assert.deepEqual(jobs.map(state), Array(5).fill('FAILED EXPORT_CANCELLED'));
		assert.equal(sql(`SELECT count(*) FROM tb_audit_export_job WHERE tenant_id = 'globex' AND state = 'PENDING'`), '0');
		assert.ok(Number(sql(`SELECT count(*) FROM tb_audit_export_job WHERE tenant_id = 'acme' AND state = 'DONE'`)) > 0, 'other tenants untouched');
		await page.locator('tr.empty, td.empty').first().waitFor();
		assert.equal(await page.locator('#cancel-matching').count(), 0, 'nothing left to cancel: no button');
		await shot(page, '19-bulk-cancelled');
		assert.deepEqual(page.errors, []);
		await page.close();
	});
});

test('status charts: inline SVG drawn by the console (role img, title, description) and the same numbers in a table', async () => {
	const page = await newPage();
	await signIn(page, TOK.super);
	await page.goto(`${CONSOLE}#/status`);
	const counts = page.locator('svg#chart-counts');
	await counts.waitFor();
	assert.equal(await counts.getAttribute('role'), 'img');
	assert.match(await page.locator('#chart-counts-title').textContent(), /^Exports per hour, the 24 hours from \d{4}-\d{2}-\d{2} \d{2}:00:00Z to now$/);
	const api = (await apiFetch(TOK.super, '/api/ops/status/history')).body;
	const created = api.buckets.reduce((a, b) => a + b.created, 0);
	assert.ok(created > 0, 'jobs were created in the last 24 h');
	assert.match(await page.locator('#chart-counts-desc').textContent(), new RegExp(`^${created.toLocaleString('en-US')} created`));
	assert.equal(await counts.locator('rect.bar').count(),
		api.buckets.reduce((a, b) => a + ['created', 'done', 'failed'].filter((k) => b[k] > 0).length, 0), 'one bar per non-zero value');
	assert.ok(await page.locator('svg#chart-times polyline, svg#chart-times circle').count() > 0, 'run time drawn');
	// the table: 24 rows, the API's numbers
	await page.getByText('The numbers, hour by hour').click();
	const rows = page.locator('table.history tbody tr');
	assert.equal(await rows.count(), 24);
	const last = api.buckets.at(-1);
	assert.equal(await page.locator(`table.history tr[data-hour="${last.start}"] td[data-label="Created"]`).textContent(), String(last.created));
	await shot(page, '21-status-charts');
	await axe(page, 'status charts');
	// 7 days
	await page.getByRole('button', { name: 'Last 7 days' }).click();
	await page.waitForURL(/hours=168/);
	await page.waitForFunction(() => document.querySelectorAll('table.history tbody tr').length === 168);
	assert.deepEqual(page.errors, []);
	await page.close();
});

test('webhooks: TENANT_ADMIN creates an endpoint and sees its secret once (not after a reload), its delivery, redelivers, deletes it; AUDITOR reads only; axe clean light and dark at 360 px', async () => {
	const page = await newPage();
	await signIn(page, TOK.tenant, { keep: true }); // kept: a reload stays signed in
	assert.ok((await navLinks(page)).includes('Webhooks'), 'TENANT_ADMIN: Webhooks in the navigation');
	await page.getByRole('link', { name: 'Webhooks' }).click();
	await page.locator('table.webhooks tbody tr').first().waitFor();
	const url = 'https://127.0.0.1:9/console-hook-a';
	// a validation error appears next to the field
	await page.getByLabel('URL').fill('http://127.0.0.1:9/plain');
	await page.getByRole('button', { name: 'Create endpoint' }).click();
	await page.locator('#w-url-error:not([hidden])').waitFor();
	assert.equal(await page.getByLabel('URL').getAttribute('aria-invalid'), 'true');
	await page.getByLabel('URL').fill(url);
	await page.getByLabel('Description (optional)').fill('console test');
	await page.getByRole('button', { name: 'Create endpoint' }).click();
	const secretField = page.locator('#webhook-secret');
	await secretField.waitFor();
	const secret = await secretField.inputValue();
	assert.match(secret, /^whsec_[A-Za-z0-9+/=]{40,}$/);
	assert.match(await page.locator('.secret').textContent(), /Copy it now: it will not be shown again\./);
	const row = page.locator('tr[data-endpoint]', { hasText: url });
	await row.waitFor();
	const id = await row.getAttribute('data-endpoint');
	assert.match(await row.textContent(), /ENABLED/);
	await shot(page, '30-webhooks-secret-light-1280');
	await axe(page, 'webhooks with the secret shown');
	// not in any storage, and gone after a reload
	const stored = await page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }, location.href]));
	assert.ok(!stored.includes(secret.slice(6, 20)), 'the secret is in no storage and not in the URL');
	await page.reload();
	await row.waitFor();
	assert.equal(await page.locator('#webhook-secret').count(), 0, 'no secret after a reload');
	assert.ok(!(await page.locator('body').innerText()).includes(secret.slice(6, 20)), 'the secret text is gone after a reload');
	// a second endpoint (kept for the sweeps below), then an acme job that ends: one delivery each
	const b = await apiFetch(TOK.tenant, '/api/ops/webhooks', { method: 'POST', body: JSON.stringify({ url: 'https://127.0.0.1:9/console-hook-b' }) });
	assert.equal(b.status, 201, JSON.stringify(b.body));
	hook.id = b.body.id;
	await withRunnerPaused(async () => {
		const job = await createJob(TOK.tenant, { tenant_id: 'acme', from: '2026-10-13T00:00:00Z', to: '2026-10-14T00:00:00Z', format: 'jsonl' });
		const c = await apiFetch(TOK.tenant, `/api/ops/audit-exports/${job.id}`, { method: 'DELETE' });
		assert.ok(c.status < 300, JSON.stringify(c.body));
	});
	await row.getByRole('link', { name: `Deliveries of ${url}` }).click();
	const drow = page.locator('tr[data-delivery]').first();
	await drow.waitFor();
	assert.match(await page.locator('.endpoint-url').textContent(), /console-hook-a/);
	// the dispatcher's first attempt (port 9 refuses): attempts and the answer shown
	await page.locator('tr[data-delivery] td[data-label="Attempts"]', { hasText: /^[1-9]/ }).first().waitFor({ timeout: 60_000 });
	const did = await drow.getAttribute('data-delivery');
	await drow.getByRole('button', { name: /^Redeliver / }).click();
	await page.locator('.done .notice', { hasText: /Redelivery of export\.\w+ for job \w{8} queued: due \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z/ }).waitFor();
	const after = await apiFetch(TOK.tenant, `/api/ops/webhooks/${id}/deliveries`);
	assert.equal(after.body.items.find((d) => d.id === did).state, 'PENDING');
	await shot(page, '31-webhook-deliveries-light-1280');
	await axe(page, 'webhook deliveries');
	// light and dark at 360 px: fits the width, axe clean
	for (const scheme of ['light', 'dark']) {
		await page.emulateMedia({ colorScheme: scheme });
		await page.setViewportSize({ width: 360, height: 800 });
		await visit(page, `#/webhooks/${id}`, 'tr[data-delivery]');
		await fitsWidth(page, `webhook deliveries at 360 px, ${scheme}`);
		await axe(page, `webhook deliveries at 360 px, ${scheme}`);
		await shot(page, `32-webhook-deliveries-${scheme}-360`);
		await visit(page, '#/webhooks', 'tr[data-endpoint]');
		await fitsWidth(page, `webhooks at 360 px, ${scheme}`);
		await axe(page, `webhooks at 360 px, ${scheme}`);
		await shot(page, `33-webhooks-${scheme}-360`);
	}
	await page.emulateMedia({ colorScheme: 'light' });
	await page.setViewportSize({ width: 1280, height: 860 });
	// rotate: a new secret, shown once, and the old one's overlap in the list
	await visit(page, '#/webhooks', `tr[data-endpoint="${id}"]`);
	await page.locator(`tr[data-endpoint="${id}"]`).getByRole('button', { name: `Rotate the secret of ${url}` }).click();
	await page.getByRole('dialog').getByRole('button', { name: 'Rotate secret' }).click();
	await secretField.waitFor();
	const rotated = await secretField.inputValue();
	assert.match(rotated, /^whsec_[A-Za-z0-9+/=]{40,}$/);
	assert.notEqual(rotated, secret);
	assert.match(await page.locator('.secret').textContent(), /Copy it now: it will not be shown again\./);
	await page.locator(`tr[data-endpoint="${id}"] td[data-label="Secret overlap until (UTC)"]`, { hasText: /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$/ }).waitFor();
	// delete, after a confirmation
	await page.locator(`tr[data-endpoint="${id}"]`).getByRole('button', { name: `Delete ${url}` }).click();
	await page.getByRole('dialog').getByRole('button', { name: 'Delete endpoint' }).click();
	await page.locator('.done .notice', { hasText: `Deleted the endpoint ${url}.` }).waitFor();
	await page.locator(`tr[data-endpoint="${id}"]`).waitFor({ state: 'detached' });
	const list = await apiFetch(TOK.tenant, '/api/ops/webhooks');
	assert.ok(!list.body.items.some((w) => w.id === id), 'deleted in the API too');
	assert.deepEqual(page.errors, []);
	await page.close();

	// AUDITOR: the list and the deliveries, no create, rotate, delete or redeliver
	const ap = await newPage();
	await signIn(ap, TOK.auditor);
	assert.ok((await navLinks(ap)).includes('Webhooks'), 'AUDITOR: Webhooks in the navigation');
	await visit(ap, '#/webhooks', `tr[data-endpoint="${hook.id}"]`);
	assert.equal(await ap.locator('form.webhook-create').count(), 0, 'AUDITOR: no create form');
	assert.equal(await ap.getByRole('button', { name: /^(Delete|Rotate)/ }).count(), 0, 'AUDITOR: no delete or rotate');
	await axe(ap, 'webhooks (auditor)');
	await visit(ap, `#/webhooks/${hook.id}`, 'tr[data-delivery]');
	assert.equal(await ap.getByRole('button', { name: /^Redeliver/ }).count(), 0, 'AUDITOR: no redeliver');
	assert.deepEqual(ap.errors, []);
	await ap.close();
});

// --- one time format, 360 px, dark, bad addresses (issue 21's console defects) ---

const ONE_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$/;

// every date-time on the page (text and input values), and any time of day
// or locale date not in the one format
async function timesOnPage(page) {
	return page.evaluate(() => {
		const texts = [document.body.innerText, ...[...document.querySelectorAll('input')].map((i) => i.value)];
		const dates = [];
		const strays = [];
		for (const t of texts) {
			for (const m of t.matchAll(/\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?Z?)?/g)) dates.push(m[0]);
			const rest = t.replace(/\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?Z?/g, '');
			for (const m of rest.matchAll(/\b\d{1,2}:\d{2}(?::\d{2})?\b|\b\d{1,2}\/\d{1,2}\/\d{2,4}\b/g)) strays.push(m[0]);
		}
		return { dates, strays, datetimeLocal: document.querySelectorAll('input[type="datetime-local"]').length };
	});
}

// the page fits the viewport: no sideways scrolling; names the widest element
async function fitsWidth(page, what) {
	const r = await page.evaluate(() => {
		let worst = null;
		for (const el of document.querySelectorAll('body *')) {
			const b = el.getBoundingClientRect();
			if (b.width && (!worst || b.right > worst.right)) worst = { right: Math.round(b.right), el: `${el.tagName.toLowerCase()}.${el.className}` };
		}
		return { scroll: document.documentElement.scrollWidth, width: window.innerWidth, worst };
	});
	assert.ok(r.scroll <= r.width, `${what}: the page is ${r.scroll} px wide in a ${r.width} px viewport (widest: ${JSON.stringify(r.worst)})`);
}

// the views, each with what shows it is loaded
function views() {
	return [
		['exports', '#/exports', 'tr[data-id]'],
		['job', `#/exports/${doneJob.id}`, '.state-line .badge'],
		['create', '#/exports/new', 'form.create'],
		['retry', `#/exports/${doneJob.id}/retry`, 'form.retry'],
		['locks', '#/locks', 'table.locks tbody tr[data-lock]'],
		['status', '#/status', 'svg#chart-times'],
		['webhooks', '#/webhooks', 'tr[data-endpoint]'],
		['webhook-deliveries', `#/webhooks/${hook.id}`, 'tr[data-delivery]'],
		['bad-address', '#/exports/%E0%A4%A', '.error[data-code="BAD_ADDRESS"]'],
	];
}

async function visit(page, hash, ready) {
	await page.goto(`${CONSOLE}${hash}`);
	await page.locator(ready).first().waitFor();
}

test('one UTC time format on every page ("2026-10-01 00:00:00Z"): list, job, create, locks, status, header', async () => {
	assert.equal(doneJob.state, 'DONE', 'needs the DONE job of the create test');
	const page = await newPage();
	await signIn(page, TOK.super);
	for (const [name, hash, ready] of views()) {
		await visit(page, hash, ready);
		if (!['bad-address', 'create', 'retry'].includes(name)) await page.locator('#poll-state', { hasText: /^(updated|final state)/ }).waitFor();
		const t = await timesOnPage(page);
		assert.equal(t.datetimeLocal, 0, `${name}: no datetime-local input (it shows the browser's locale)`);
		assert.ok(name === 'bad-address' || t.dates.length > 0, `${name}: shows times`);
		assert.deepEqual(t.dates.filter((d) => !ONE_TIME.test(d)), [], `${name}: every time in the one format`);
		assert.deepEqual(t.strays, [], `${name}: no time of day or locale date outside the one format`);
	}
	assert.deepEqual(page.errors, []);
	await page.close();
});

test('cancelling from the list: the answer stays on screen after the list refreshes', async () => {
	await withRunnerPaused(async () => {
		const job = await createJob(TOK.tenant, { tenant_id: 'acme', from: '2026-10-09T00:00:00Z', to: '2026-10-10T00:00:00Z', format: 'jsonl' });
		const page = await newPage();
		await signIn(page, TOK.tenant);
		await page.getByRole('button', { name: '2 s' }).click();
		const row = jobRow(page, job.id);
		await row.waitFor();
		await row.getByRole('button', { name: `Cancel export ${job.id.slice(0, 8)}` }).click();
		await page.getByRole('dialog').getByRole('button', { name: 'Cancel export' }).click();
		await page.locator(`tr[data-id="${job.id}"][data-state="FAILED"]`).waitFor();
		// two more polls of the list after the one that showed FAILED
		for (let i = 0; i < 2; i++) {
			await page.waitForResponse((r) => r.url().includes('/api/ops/audit-exports?') && r.status() === 200, { timeout: 10_000 });
		}
		const notice = page.locator('.done .notice');
		assert.equal(await notice.count(), 1, 'the cancel\'s answer is still shown');
		assert.match(await notice.textContent(), /Cancelled: the export is FAILED/);
		assert.equal(sql(`SELECT state || ' ' || error_code FROM tb_audit_export_job WHERE id = '${job.id}'`), 'FAILED EXPORT_CANCELLED');
		await page.getByRole('button', { name: '5 s', exact: true }).click();
		assert.deepEqual(page.errors, []);
		await page.close();
	});
});

test('a malformed %-escape or an unknown page in the address shows an error view, not a blank page', async () => {
	const page = await newPage();
	await signIn(page, TOK.super);
	for (const [hash, why] of [['#/exports/%E0%A4%A', /not valid percent-encoding/], ['#/exports/%', /not valid percent-encoding/], ['#/nowhere', /no page "\/nowhere"/]]) {
		await page.goto(`${CONSOLE}${hash}`);
		await page.getByRole('heading', { name: 'Page not found' }).waitFor();
		assert.match(await page.locator('.error .error-message').textContent(), why, hash);
		await page.getByRole('link', { name: 'Go to the export list' }).waitFor();
	}
	assert.deepEqual(page.errors, [], 'no uncaught URIError');
	await axe(page, 'bad address');
	await page.getByRole('link', { name: 'Go to the export list' }).click();
	await page.locator('tr[data-id]').first().waitFor();
	await page.close();
});

test('the download link\'s validity comes from the API (download_url_ttl_seconds 120 here), not a fixed "5 min"', async () => {
	const page = await newPage();
	await signIn(page, TOK.tenant);
	await page.goto(`${CONSOLE}#/exports/${doneJob.id}`);
	const exp = page.locator('.facts .link-expiry');
	await exp.waitFor();
	const text = await exp.textContent();
	assert.match(text, /valid until \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z, 2 min 00 s from now/);
	assert.doesNotMatch(text, /5 min/);
	const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download' }).click()]);
	await download.cancel();
	assert.match(await page.locator('.download-info .link-expiry').textContent(), /2 min 00 s from now/);
	await page.close();
});

// (light at 1280 px: the tests above ran axe on every view; here the width)
for (const [scheme, widths] of [['light', [1280, 360]], ['dark', [1280, 360]]]) {
	test(`${scheme} colour scheme at ${widths.join(' px and ')} px: every view fits the width and is axe clean`, async () => {
		assert.equal(doneJob.state, 'DONE', 'needs the DONE job of the create test');
		const page = await newPage();
		await page.emulateMedia({ colorScheme: scheme });
		await signIn(page, TOK.super);
		const bg = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
		const lum = bg.match(/\d+/g).slice(0, 3).reduce((a, b) => a + Number(b), 0) / 3;
		assert.ok(scheme === 'dark' ? lum < 60 : lum > 200, `${scheme}: page background ${bg}`);
		for (const width of widths) {
			await page.setViewportSize({ width, height: 800 });
			for (const [name, hash, ready] of views()) {
				await visit(page, hash, ready);
				await fitsWidth(page, `${name} at ${width} px, ${scheme}`);
				if (scheme === 'light' && width !== 360) continue;
				await axe(page, `${name} at ${width} px, ${scheme}`);
				await shot(page, `20-${name}-${scheme}-${width}`);
			}
			// a confirmation dialog too
			await withRunnerPaused(async () => {
				const job = await createJob(TOK.super, { tenant_id: 'globex', from: '2026-10-11T00:00:00Z', to: '2026-10-12T00:00:00Z', format: 'jsonl' });
				await visit(page, `#/exports/${job.id}`, '#cancel');
				await page.locator('#cancel').click();
				await page.getByRole('dialog').waitFor();
				await axe(page, `cancel dialog at ${width} px, ${scheme}`);
				await fitsWidth(page, `cancel dialog at ${width} px, ${scheme}`);
				await page.keyboard.press('Escape');
				await apiFetch(TOK.super, `/api/ops/audit-exports/${job.id}`, { method: 'DELETE' });
			});
		}
		// at 360 px the job list is one card per job, each cell labelled
		await visit(page, '#/exports', 'tr[data-id]');
		const cell = page.locator('tr[data-id] td[data-label="Tenant"]').first();
		assert.equal(await cell.evaluate((td) => getComputedStyle(td, '::before').content), '"Tenant"');
		assert.deepEqual(page.errors, []);
		await page.close();
	});
}

test('an expired token stays on sign-in with AUTH_TOKEN_EXPIRED; a session whose token expires returns to sign-in', async () => {
	const page = await newPage();
	await page.goto(CONSOLE);
	await page.getByLabel('Bearer token').fill(TOK.expired);
	await page.getByRole('button', { name: 'Sign in' }).click();
	await page.locator('.error .error-code').waitFor();
	assert.equal(await page.locator('.error .error-code').textContent(), 'AUTH_TOKEN_EXPIRED');
	assert.match(await page.locator('.error .request-id').textContent(), /^[0-9a-f]{32}$/);
	await shot(page, '11-sign-in-expired');
	await axe(page, 'sign-in with an error');
	await page.close();

	// a token that expires in 3 s: the console signs out by itself
	const now = Math.floor(Date.now() / 1000);
	const secret = join(STACK, 'jwt.secret');
	const short = execFileSync(join(ROOT, 'scripts', 'jwt-openssl'), ['hs256', secret, '{"alg":"HS256","typ":"JWT"}',
		JSON.stringify({ sub: 'alice', tenant_id: 'acme', roles: ['TENANT_ADMIN'], iss: 'ops-dev', aud: 'ops-api', iat: now, exp: now + 3 })],
	{ encoding: 'utf8' }).trim();
	const p2 = await newPage();
	await signIn(p2, short);
	await p2.getByRole('heading', { name: 'Sign in' }).waitFor({ timeout: 10_000 });
	assert.match(await p2.locator('.notice').textContent(), /token expired/);
	await p2.close();
});

test('CSP: an injected inline script does not run and raises a violation; the console cannot be framed', async () => {
	const page = await newPage();
	await signIn(page, TOK.super);
	const result = await page.evaluate(async () => {
		const seen = [];
		document.addEventListener('securitypolicyviolation', (e) => seen.push(`${e.violatedDirective} ${e.blockedURI}`));
		const s = document.createElement('script');
		s.textContent = 'window.__injected = true;';
		document.body.append(s);
		const d = document.createElement('div');
		d.setAttribute('style', 'color: red');
		document.body.append(d);
		await new Promise((r) => setTimeout(r, 300));
		return { ran: window.__injected === true, seen, styled: getComputedStyle(d).color };
	});
	assert.equal(result.ran, false, 'the inline script did not run');
	assert.ok(result.seen.some((v) => v.startsWith('script-src') && v.endsWith('inline')), `a script-src violation: ${result.seen}`);
	assert.ok(result.seen.some((v) => v.startsWith('style-src')), `a style-src violation: ${result.seen}`);
	assert.notEqual(result.styled, 'rgb(255, 0, 0)', 'the inline style was not applied');

	const framer = await newPage();
	const blocked = [];
	framer.on('console', (m) => { if (/frame-ancestors/.test(m.text())) blocked.push(m.text()); });
	await framer.evaluate((src) => new Promise((resolve) => {
		const f = document.createElement('iframe');
		f.src = src;
		f.addEventListener('load', () => resolve());
		document.body.append(f);
	}), CONSOLE);
	const child = framer.frames().find((f) => f !== framer.mainFrame());
	assert.ok(child, 'the iframe exists');
	assert.equal(await child.locator('#view').count(), 0, 'the console did not load inside the frame');
	assert.ok(blocked.length > 0, 'Chromium reports the frame-ancestors refusal');
	await framer.close();
	await page.close();
});

// ops-fcgi restarted with another HS256 secret (a key rotation): every
// token signed with the old one is now refused
function restartFcgiWithSecret(secret) {
	writeFileSync(join(STACK, 'jwt.secret'), secret, { mode: 0o600 });
	execFileSync('bash', ['-c', '. "$1/scripts/stack-lib.sh"; stack_fcgi_stop "$2" && stack_fcgi_start "$2"', '_', ROOT, STACK]);
}

test('a 401 during a session (the signing key rotated) returns to sign-in with the API\'s code, message and request_id', async () => {
	const old = readFileSync(join(STACK, 'jwt.secret'));
	const page = await newPage();
	await signIn(page, TOK.super);
	await page.locator('tr[data-state]').first().waitFor();
	try {
		restartFcgiWithSecret(randomBytes(48).toString('base64url'));
		await page.getByRole('button', { name: '2 s' }).click();
		await page.getByRole('heading', { name: 'Sign in' }).waitFor({ timeout: 30_000 });
		const box = page.locator('.error');
		assert.match(await box.locator('.error-title').textContent(), /signed out/);
		assert.equal(await box.locator('.error-code').textContent(), 'AUTH_INVALID_TOKEN');
		assert.match(await box.locator('.request-id').textContent(), /^[0-9a-f]{32}$/);
		assert.equal(await page.locator('#who .sub').count(), 0, 'nobody is shown as signed in');
		await shot(page, '12-signed-out-401');
	} finally {
		restartFcgiWithSecret(old);
	}
	await page.close();
});

test('an API 500-class error (PostgreSQL stopped) shows its code, message and request_id with a copy button', async () => {
	const page = await newPage();
	await signIn(page, TOK.super, { keep: true });
	await page.locator('table.jobs').waitFor();
	execFileSync(join(ROOT, 'scripts', 'pgtemp'), ['stop', join(STACK, 'pg')]);
	const resp = page.waitForResponse((r) => r.url().includes('/api/ops/audit-exports?') && r.status() >= 500);
	await page.reload();
	const r = await resp;
	const tFirst = Date.now();
	const body = await r.json();
	const box = page.locator('.error').first();
	await box.waitFor();
	assert.equal(await box.locator('.error-code').textContent(), body.error.code);
	assert.match(body.error.code, /^(INTERNAL_ERROR|DB_UNAVAILABLE|SERVICE_UNAVAILABLE)$/);
	assert.equal(await box.locator('.error-message').textContent(), body.error.message);
	assert.equal(await box.locator('.request-id').textContent(), r.headers()['x-request-id']);
	await box.getByRole('button', { name: /Copy request id/ }).waitFor();
	await shot(page, '13-api-error');
	await axe(page, 'API error');
	// backs off: after a 5xx at the 5 s interval the next try waits 10 s (or
	// the Retry-After, when longer)
	await page.locator('#poll-state', { hasText: /: retrying in \d+ s$/ }).waitFor();
	await page.waitForRequest((x) => x.url().includes('/api/ops/audit-exports?'), { timeout: 60_000 });
	const gap = Date.now() - tFirst;
	assert.ok(gap >= 9500, `the retry came ${gap} ms after the failure, before the 10 s backoff`);
	await page.close();
});
